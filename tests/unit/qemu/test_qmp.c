/*
 * Unit tests of the QMP framer and of the QMP client against a scripted
 * peer (fakepeer.c) on a real event loop.
 *
 * The client's callbacks append to one log line per test ("ready; event
 * STOP; reply stop {}"), which the tests compare whole: order matters as
 * much as content.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <signal.h>
#include <fcntl.h>
#include <string.h>
#include <cmocka.h>
#include <event2/event.h>

#include "fakepeer.h"
#include "qemu/qemu.h"
#include "util/util.h"

/* ---- framer -------------------------------------------------------------- */

static void feed(struct qmp_framer *f, const char *s)
{
	assert_int_equal(qmp_framer_feed(f, s, strlen(s)), 0);
}

/* The next message, expected to be an object with "n": want. */
static void expect_n(struct qmp_framer *f, json_int_t want)
{
	json_t *m = NULL;

	assert_int_equal(qmp_framer_next(f, &m), 1);
	assert_true(json_is_object(m));
	assert_int_equal(json_integer_value(json_object_get(m, "n")), want);
	json_decref(m);
}

static void expect_next(struct qmp_framer *f, int want)
{
	json_t *m = NULL;

	assert_int_equal(qmp_framer_next(f, &m), want);
	assert_null(m);
}

static void test_framer_split_across_feeds(void **state)
{
	struct qmp_framer *f = qmp_framer_new(1024);

	feed(f, "{\"n\"");
	expect_next(f, 0);
	feed(f, ": 1");
	expect_next(f, 0);
	feed(f, "}\n{\"n\":");
	expect_n(f, 1);
	expect_next(f, 0);
	feed(f, "2}\n");
	expect_n(f, 2);
	expect_next(f, 0);
	qmp_framer_free(f);
}

static void test_framer_crlf_and_blank_lines(void **state)
{
	struct qmp_framer *f = qmp_framer_new(1024);

	feed(f, "{\"n\": 1}\r\n\r\n  \n{\"n\": 2}\r");
	expect_n(f, 1);
	expect_next(f, 0);
	feed(f, "\n");
	expect_n(f, 2);
	qmp_framer_free(f);
}

static void test_framer_many_per_feed(void **state)
{
	struct qmp_framer *f = qmp_framer_new(1024);

	feed(f, "{\"n\":1}\n{\"n\":2}\n{\"n\":3}\n{\"n\":");
	expect_n(f, 1);
	expect_n(f, 2);
	expect_n(f, 3);
	expect_next(f, 0);
	feed(f, "4}\n");
	expect_n(f, 4);
	qmp_framer_free(f);
}

static void test_framer_oversized_line(void **state)
{
	struct qmp_framer *f = qmp_framer_new(16);

	/* Complete but too long. */
	feed(f, "{\"n\": 1, \"pad\": \"xxxxxxxx\"}\n{\"n\": 2}\n");
	expect_next(f, -EMSGSIZE);
	expect_n(f, 2);
	/* Incomplete and already too long: dropped up to its end. */
	feed(f, "{\"pad\": \"xxxxxxxxxxxxxxxx");
	expect_next(f, -EMSGSIZE);
	feed(f, "xxxxxxxxxxxxxxxxxxxxxxxxx");
	expect_next(f, 0);
	feed(f, "\"}\n{\"n\": 3}\n");
	expect_n(f, 3);
	expect_next(f, 0);
	qmp_framer_free(f);
}

static void test_framer_not_an_object(void **state)
{
	struct qmp_framer *f = qmp_framer_new(1024);

	feed(f, "[1, 2]\n42\n\"s\"\n{\"n\": \n{\"n\": 1} trailing\n{\"n\": 5}\n");
	for (int i = 0; i < 5; i++)
		expect_next(f, -EBADMSG);
	expect_n(f, 5);
	qmp_framer_free(f);
}

static void test_framer_huge_integer(void **state)
{
	/* QEMU prints uint64 values beyond int64; they arrive as reals. */
	struct qmp_framer *f = qmp_framer_new(1024);
	json_t *m = NULL;

	feed(f, "{\"return\": 18446744073709551615, \"id\": 7}\n");
	assert_int_equal(qmp_framer_next(f, &m), 1);
	assert_true(json_is_real(json_object_get(m, "return")));
	json_decref(m);
	qmp_framer_free(f);
}

/* ---- client ---------------------------------------------------------------- */

#define GREETING                                                                                   \
	{                                                                                          \
		FP_SEND, "{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 0, \"minor\": 2, "        \
			 "\"major\": 7}}, "                                                        \
			 "\"capabilities\": [\"oob\"]}}\r\n"                                       \
	}
#define NEGOTIATE                                                                                  \
	{FP_RECV, "qmp_capabilities"},                                                             \
	{                                                                                          \
		FP_SEND, "{\"return\": {}, \"id\": @1}\r\n"                                        \
	}

struct ctx {
	struct event_base *base;
	struct fakepeer *peer;
	struct qmp *q;
	char log[2048];
	const char *until; /* the log entry (prefix) that ends the test's wait */
	bool done;
	bool free_in_reply; /* qmp_free from inside the next reply callback */
};

static struct ctx *cur;

static void note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void note(const char *fmt, ...)
{
	char entry[512];
	size_t len = strlen(cur->log);
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(entry, sizeof(entry), fmt, ap);
	va_end(ap);
	snprintf(cur->log + len, sizeof(cur->log) - len, "%s%s", len ? "; " : "", entry);
	if (cur->until && strncmp(entry, cur->until, strlen(cur->until)) == 0)
		cur->done = true;
}

static void on_ready(struct qmp *q, void *userdata)
{
	assert_true(qmp_is_ready(q));
	note("ready");
}

static void on_event(struct qmp *q, const char *event, json_t *data, void *userdata)
{
	note("event %s", event);
}

static void on_closed(struct qmp *q, void *userdata)
{
	note("closed");
}

static const struct qmp_callbacks callbacks = {
    .on_ready = on_ready,
    .on_event = on_event,
    .on_closed = on_closed,
};

static void on_reply(struct qmp *q, json_t *result, const struct qmp_error *err, void *userdata)
{
	const char *tag = userdata;

	if (err) {
		note("error %s %s: %s", tag, err->klass, err->desc);
	} else {
		char *s = json_dumps(result, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
		note("reply %s %s", tag, s);
		free(s);
	}
	if (cur->free_in_reply) {
		qmp_free(q);
		cur->q = NULL;
		cur->done = true;
	}
}

static struct ctx *ctx_start(const struct fp_step *script, const char *until)
{
	static struct ctx c;

	memset(&c, 0, sizeof(c));
	cur = &c;
	c.until = until;
	c.base = event_base_new();
	assert_non_null(c.base);
	c.peer = fakepeer_new(c.base, script);
	assert_non_null(c.peer);
	assert_int_equal(qmp_connect(c.base, fakepeer_path(c.peer), &callbacks, NULL, &c.q), 0);
	assert_false(qmp_is_ready(c.q));
	return &c;
}

static void exec(struct ctx *c, const char *command, const char *args_json)
{
	json_t *args = args_json ? json_loads(args_json, 0, NULL) : NULL;

	assert_int_equal(qmp_execute(c->q, command, args, on_reply, (void *)(uintptr_t)command), 0);
}

/* Runs until the awaited entry, then compares the whole log. */
static void ctx_finish(struct ctx *c, const char *want_log)
{
	if (!loop_until(c->base, &c->done, 10000))
		fail_msg("timed out; log so far: %s", c->log);
	if (fakepeer_error(c->peer))
		fail_msg("peer: %s", fakepeer_error(c->peer));
	if (strcmp(c->log, want_log) != 0)
		fail_msg("\nwant: %s\ngot:  %s", want_log, c->log);
	qmp_free(c->q);
	fakepeer_free(c->peer);
	event_base_free(c->base);
	cur = NULL;
}

static void test_greeting_capabilities_reply(void **state)
{
	static const struct fp_step script[] = {
	    GREETING,
	    NEGOTIATE,
	    {FP_RECV, "query-status"},
	    {FP_SEND, "{\"return\": {\"status\": \"prelaunch\", \"running\": false}, "
		      "\"id\": @2}\r\n"},
	    {FP_END, NULL},
	};
	struct ctx *c = ctx_start(script, "reply");

	/* Sent before the greeting: it waits for capabilities. */
	exec(c, "query-status", NULL);
	ctx_finish(c, "ready; reply query-status {\"running\":false,\"status\":\"prelaunch\"}");
}

/* A command carrying an fd goes out after everything queued before it,
 * and its reply comes back like any other; before negotiation it is
 * refused rather than queued (the fd must travel with its own bytes). */
static void test_command_with_fd(void **state)
{
	static const struct fp_step script[] = {
	    GREETING,
	    NEGOTIATE,
	    {FP_RECV, "stop"},
	    {FP_RECV, "getfd"},
	    {FP_RECV, "migrate"},
	    {FP_SEND, "{\"return\": {}, \"id\": @2}\n{\"return\": {}, \"id\": @3}\n"
		      "{\"return\": {}, \"id\": @4}\n"},
	    {FP_END, NULL},
	};
	struct ctx *c = ctx_start(script, "reply migrate");
	int fds[2];

	assert_int_equal(pipe2(fds, O_CLOEXEC), 0);
	assert_int_equal(qmp_execute_fd(c->q, "getfd", json_pack("{s:s}", "fdname", "m"), fds[1],
					on_reply, "getfd"),
			 -EAGAIN);
	c->until = "ready";
	assert_true(loop_until(c->base, &c->done, 10000));
	c->done = false;
	c->until = "reply migrate";
	exec(c, "stop", NULL);
	assert_int_equal(qmp_execute_fd(c->q, "getfd", json_pack("{s:s}", "fdname", "m"), fds[1],
					on_reply, "getfd"),
			 0);
	exec(c, "migrate", "{\"uri\": \"fd:m\"}");
	assert_true(loop_until(c->base, &c->done, 10000));
	assert_string_equal(json_string_value(json_object_get(
				json_object_get(fakepeer_received(c->peer, 3), "arguments"), "fdname")),
			    "m");
	assert_int_equal(qmp_execute_fd(c->q, "getfd", NULL, -1, NULL, NULL), -EINVAL);
	close(fds[0]);
	close(fds[1]);
	ctx_finish(c, "ready; reply stop {}; reply getfd {}; reply migrate {}");
}

static void test_command_arguments_and_id(void **state)
{
	static const struct fp_step script[] = {
	    GREETING,
	    NEGOTIATE,
	    {FP_RECV, "human-monitor-command"},
	    {FP_SEND, "{\"return\": \"ok\", \"id\": @2}\n"},
	    {FP_END, NULL},
	};
	struct ctx *c = ctx_start(script, "reply");
	json_t *sent;

	exec(c, "human-monitor-command", "{\"command-line\": \"info version\"}");
	assert_true(loop_until(c->base, &c->done, 10000));
	sent = fakepeer_received(c->peer, 2);
	assert_string_equal(
	    json_string_value(json_object_get(json_object_get(sent, "arguments"), "command-line")),
	    "info version");
	assert_true(json_is_integer(json_object_get(sent, "id")));
	ctx_finish(c, "ready; reply human-monitor-command \"ok\"");
}

static void test_error_reply(void **state)
{
	static const struct fp_step script[] = {
	    GREETING,
	    NEGOTIATE,
	    {FP_RECV, "cont"},
	    {FP_SEND, "{\"id\": @2, \"error\": {\"class\": \"GenericError\", "
		      "\"desc\": \"Resetting the Virtual Machine is required\"}}\n"},
	    {FP_END, NULL},
	};
	struct ctx *c = ctx_start(script, "error");

	exec(c, "cont", NULL);
	ctx_finish(c, "ready; error cont GenericError: Resetting the Virtual Machine is required");
}

static void test_event_before_reply(void **state)
{
	static const struct fp_step script[] = {
	    GREETING,
	    NEGOTIATE,
	    {FP_RECV, "stop"},
	    {FP_SEND, "{\"timestamp\": {\"seconds\": 1, \"microseconds\": 2}, "
		      "\"event\": \"STOP\"}\n{\"return\": {}, \"id\": @2}\n"},
	    {FP_END, NULL},
	};
	struct ctx *c = ctx_start(script, "reply");

	exec(c, "stop", NULL);
	ctx_finish(c, "ready; event STOP; reply stop {}");
}

static void test_replies_out_of_order(void **state)
{
	static const struct fp_step script[] = {
	    GREETING,
	    NEGOTIATE,
	    {FP_RECV, "query-a"},
	    {FP_RECV, "query-b"},
	    {FP_SEND, "{\"return\": \"b\", \"id\": @3}\n"},
	    {FP_SEND, "{\"return\": \"a\", \"id\": @2}\n"},
	    {FP_END, NULL},
	};
	struct ctx *c = ctx_start(script, "reply query-a");

	exec(c, "query-a", NULL);
	exec(c, "query-b", NULL);
	ctx_finish(c, "ready; reply query-b \"b\"; reply query-a \"a\"");
}

static void test_disconnect_with_pending(void **state)
{
	static const struct fp_step script[] = {
	    GREETING, NEGOTIATE, {FP_RECV, "query-a"}, {FP_RECV, "query-b"}, {FP_CLOSE, NULL},
	};
	struct ctx *c = ctx_start(script, "closed");

	exec(c, "query-a", NULL);
	exec(c, "query-b", NULL);
	ctx_finish(c, "ready; error query-a Disconnected: QEMU closed the connection; "
		      "error query-b Disconnected: QEMU closed the connection; closed");
}

static void test_execute_after_close(void **state)
{
	static const struct fp_step script[] = {GREETING, NEGOTIATE, {FP_CLOSE, NULL}};
	struct ctx *c = ctx_start(script, "closed");

	assert_true(loop_until(c->base, &c->done, 10000));
	assert_int_equal(qmp_execute(c->q, "cont", json_object(), on_reply, NULL), -ENOTCONN);
	assert_false(qmp_is_ready(c->q));
	ctx_finish(c, "ready; closed");
}

static void test_free_inside_reply(void **state)
{
	/* When the owner frees the client from a reply callback, the pending
	 * command is told at once that it will never be answered; after that
	 * nothing more is called: not the event, not on_closed. */
	static const struct fp_step script[] = {
	    GREETING,
	    NEGOTIATE,
	    {FP_RECV, "query-a"},
	    {FP_RECV, "query-b"},
	    {FP_SEND, "{\"return\": 1, \"id\": @2}\n{\"event\": \"RESUME\"}\n"},
	    {FP_CLOSE, NULL},
	};
	struct ctx *c = ctx_start(script, NULL);
	bool never = false;

	exec(c, "query-a", NULL);
	exec(c, "query-b", NULL);
	c->free_in_reply = true;
	assert_true(loop_until(c->base, &c->done, 10000));
	loop_until(c->base, &never, 100);
	ctx_finish(c, "ready; reply query-a 1; error query-b Disconnected: the monitor connection "
		      "was closed");
}

static void test_free_inside_disconnect(void **state)
{
	static const struct fp_step script[] = {
	    GREETING, NEGOTIATE, {FP_RECV, "query-a"}, {FP_RECV, "query-b"}, {FP_CLOSE, NULL},
	};
	struct ctx *c = ctx_start(script, NULL);

	exec(c, "query-a", NULL);
	exec(c, "query-b", NULL);
	c->free_in_reply = true;
	ctx_finish(c, "ready; error query-a Disconnected: QEMU closed the connection");
}

static void test_bad_greeting(void **state)
{
	static const struct fp_step script[] = {
	    {FP_SEND, "{\"hello\": \"world\"}\n"},
	    {FP_END, NULL},
	};
	struct ctx *c = ctx_start(script, "closed");

	exec(c, "query-status", NULL);
	ctx_finish(c, "error query-status Disconnected: the peer did not greet with QMP; closed");
}

static void test_malformed_message_closes(void **state)
{
	static const struct fp_step script[] = {
	    GREETING,
	    NEGOTIATE,
	    {FP_SEND, "[\"not\", \"an\", \"object\"]\n"},
	    {FP_END, NULL},
	};
	struct ctx *c = ctx_start(script, "closed");

	ctx_finish(c, "ready; closed");
}

static void test_oversized_line_closes(void **state)
{
	size_t n = QMP_MAX_LINE + 4096;
	char *big = malloc(n + 1);
	struct fp_step script[] = {GREETING, NEGOTIATE, {FP_SEND, big}, {FP_END, NULL}};
	struct ctx *c;

	memset(big, 'x', n);
	big[n] = '\0';
	c = ctx_start(script, "closed");
	exec(c, "query-a", NULL);
	ctx_finish(c, "ready; error query-a Disconnected: a message is longer than 4194304 bytes; "
		      "closed");
	free(big);
}

static void test_connect_missing_socket(void **state)
{
	struct event_base *base = event_base_new();
	struct qmp *q = NULL;

	assert_int_equal(qmp_connect(base, "/nonexistent/qmp.sock", &callbacks, NULL, &q), -ENOENT);
	assert_null(q);
	qmp_free(NULL);
	event_base_free(base);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_framer_split_across_feeds),
	    cmocka_unit_test(test_framer_crlf_and_blank_lines),
	    cmocka_unit_test(test_framer_many_per_feed),
	    cmocka_unit_test(test_framer_oversized_line),
	    cmocka_unit_test(test_framer_not_an_object),
	    cmocka_unit_test(test_framer_huge_integer),
	    cmocka_unit_test(test_greeting_capabilities_reply),
	    cmocka_unit_test(test_command_arguments_and_id),
	    cmocka_unit_test(test_command_with_fd),
	    cmocka_unit_test(test_error_reply),
	    cmocka_unit_test(test_event_before_reply),
	    cmocka_unit_test(test_replies_out_of_order),
	    cmocka_unit_test(test_disconnect_with_pending),
	    cmocka_unit_test(test_execute_after_close),
	    cmocka_unit_test(test_free_inside_reply),
	    cmocka_unit_test(test_free_inside_disconnect),
	    cmocka_unit_test(test_bad_greeting),
	    cmocka_unit_test(test_malformed_message_closes),
	    cmocka_unit_test(test_oversized_line_closes),
	    cmocka_unit_test(test_connect_missing_socket),
	};

	/* As in the daemon: a write to a closed socket is an error, not death. */
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
