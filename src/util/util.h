/*
 * util: the small shared toolbox of the daemon and the CLI.
 *
 * Everything here is free of policy: logging, cleanup helpers, size
 * parsing, monotonic time. Functions that can fail return 0 (or a
 * non-negative value) on success and -errno on failure; output parameters
 * named ret_* are written only on success.
 */
#ifndef WARREN_UTIL_H
#define WARREN_UTIL_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* ---- cleanup helpers ------------------------------------------------ */

static inline void freep(void *p)
{
	free(*(void **)p);
}

static inline void closep(int *fd)
{
	if (*fd >= 0) {
		int saved = errno;
		close(*fd);
		errno = saved;
	}
}

static inline void fclosep(FILE **f)
{
	if (*f)
		fclose(*f);
}

#define _cleanup_(f)    __attribute__((cleanup(f)))
#define _cleanup_free_  _cleanup_(freep)
#define _cleanup_close_ _cleanup_(closep)
#define _cleanup_fclose_ _cleanup_(fclosep)

/* Hand ownership out of a cleanup variable. */
#define TAKE_PTR(p)                                                                                \
	({                                                                                         \
		__typeof__(p) _t = (p);                                                            \
		(p) = NULL;                                                                        \
		_t;                                                                                \
	})
#define TAKE_FD(fd)                                                                                \
	({                                                                                         \
		int _t = (fd);                                                                     \
		(fd) = -1;                                                                         \
		_t;                                                                                \
	})

/*
 * fd (or -1 from a failed open(), with errno set) moved above 0-2, keeping
 * it CLOEXEC: a child's dup2()s onto 0-2 must not overwrite a descriptor
 * still to be dup'ed, and a daemon started with closed standard fds gets
 * them back from open() and pipe2(). The new fd, or -errno (fd is closed).
 */
int fd_above_stdio(int fd);

/* ---- logging -------------------------------------------------------- */

enum log_level { LOG_ERR, LOG_WARN, LOG_INFO, LOG_DEBUG };

void log_set_level(enum log_level level);
/* Accepts "error", "warn", "info", "debug". */
int log_level_from_string(const char *s, enum log_level *ret_level);
const char *log_level_to_string(enum log_level level);
void log_set_ident(const char *ident);

void log_emit(enum log_level level, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#define log_error(...) log_emit(LOG_ERR, 0, __VA_ARGS__)
#define log_warn(...)  log_emit(LOG_WARN, 0, __VA_ARGS__)
#define log_info(...)  log_emit(LOG_INFO, 0, __VA_ARGS__)
#define log_debug(...) log_emit(LOG_DEBUG, 0, __VA_ARGS__)
/* The *_errno variants append ": strerror(-err)" and return err (negative). */
#define log_error_errno(err, ...)                                                                  \
	({                                                                                         \
		int _e = (err);                                                                    \
		log_emit(LOG_ERR, _e, __VA_ARGS__);                                                \
		_e;                                                                                \
	})
#define log_warn_errno(err, ...)                                                                   \
	({                                                                                         \
		int _e = (err);                                                                    \
		log_emit(LOG_WARN, _e, __VA_ARGS__);                                               \
		_e;                                                                                \
	})

/* fatal(): start-up failures and broken invariants only; never on a request path. */
void fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/* ---- sizes ---------------------------------------------------------- */

/*
 * Parse a byte size: plain bytes ("1048576") or a number with a binary
 * suffix K, M, G, T (optionally followed by "iB" or "B"), e.g. "512M",
 * "2G", "1.5G". Rejects negatives, empty strings, unknown suffixes,
 * exponents and anything that overflows 64 bits (-ERANGE).
 */
int size_parse(const char *s, uint64_t *ret_bytes);
/* Human form with one decimal, e.g. "512.0 MiB"; returns buf. */
char *size_format(uint64_t bytes, char *buf, size_t len);

/* ---- client-facing errors ------------------------------------------ */

/*
 * The one struct in which a message meant for a client travels. code is a
 * short machine word; api/ is the only place that maps it to an HTTP status:
 *   "invalid" 400, "not_found" 404, "conflict" 409, "too_large" 413,
 *   "timeout" 504, "unavailable" 503, "no_capacity" 507, "internal" 500.
 * field names the offending input (JSON path like "disks[1].size"), or "".
 */
struct werr {
	char code[24];
	char field[64];
	char message[512];
};

/* Fill *e (if e is non-NULL) and return ret (a negative errno) for chaining:
 *   return werr_set(err, -EINVAL, "invalid", "cpus", "must be ... (got %d)", n); */
int werr_set(struct werr *e, int ret, const char *code, const char *field, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

/* ---- strings -------------------------------------------------------- */

/* NULL-terminated string vectors. */
void strv_free(char **v);
size_t strv_length(char *const *v);
/* Append a copy of s; returns -ENOMEM on failure (v unchanged). */
int strv_push(char ***v, const char *s);
int strv_pushf(char ***v, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static inline void strv_freep(char ***v)
{
	strv_free(*v);
}
#define _cleanup_strv_free_ _cleanup_(strv_freep)

/* len (at most 256) random bytes from the kernel. */
int getrandom_full(void *buf, size_t len);
/* Random lower-case hex id of 2*bytes characters (getrandom). */
int id_random_hex(char *buf, size_t bytes);

/* ---- time ----------------------------------------------------------- */

uint64_t now_monotonic_ns(void);
uint64_t now_realtime_ms(void);
uint64_t now_realtime_ns(void);

#endif
