/*
 * fakepeer: a scripted stand-in for QEMU's QMP server or the guest agent,
 * listening on a Unix socket in a temporary directory and driven by the
 * same event loop as the client under test.
 *
 * A script is a list of steps run in order for the first connection:
 * FP_SEND writes text, in which "@N" (N = 1..9) stands for the id of the
 * N-th message received (its "id" member, or else its "arguments"."id",
 * which is where guest-sync-delimited carries it); FP_RECV waits for one
 * message and checks its "execute"; FP_CLOSE hangs up; FP_END (or the end
 * of the array) leaves the connection open and silent. Received 0xFF bytes
 * are dropped, as the guest agent does.
 */
#ifndef WARREN_TEST_FAKEPEER_H
#define WARREN_TEST_FAKEPEER_H

#include <jansson.h>
#include <stdbool.h>

struct event_base;

enum fp_op { FP_END, FP_SEND, FP_RECV, FP_CLOSE };

struct fp_step {
	enum fp_op op;
	const char *arg;
};

struct fakepeer;

/* A fresh temporary directory with a socket path in it, a listening peer
 * on that path running script (borrowed; must outlive the peer). */
struct fakepeer *fakepeer_new(struct event_base *base, const struct fp_step *script);
void fakepeer_free(struct fakepeer *p);
const char *fakepeer_path(const struct fakepeer *p);
/* Every step has run. */
bool fakepeer_done(const struct fakepeer *p);
/* The n-th message received (1-based), borrowed, or NULL. */
json_t *fakepeer_received(const struct fakepeer *p, unsigned n);
/* How many 0xFF bytes arrived. */
unsigned fakepeer_ff_count(const struct fakepeer *p);
/* A mismatch between script and traffic, or NULL. */
const char *fakepeer_error(const struct fakepeer *p);

/* Runs base until *flag is true or max_ms pass; returns *flag. */
bool loop_until(struct event_base *base, const bool *flag, unsigned max_ms);

#endif
