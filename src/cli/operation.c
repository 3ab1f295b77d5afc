/*
 * operation: waiting on warrend's long actions, and the operation commands.
 *
 * A long action (shutdown, suspend, snapshot, restore, clone, migrate)
 * answers 202 with an operation; every command that starts one finishes
 * here: it prints the operation (--no-wait) or polls it until it ends,
 * drawing its progress on stderr (progress.c decides the text), and prints
 * what it produced. Ctrl-C during the wait asks warrend to cancel the operation
 * rather than leaving it to run unseen.
 */
#include <signal.h>
#include <stdarg.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>

#include "cli/cli.h"

/* How long one poll may be held open by warrend when nothing is drawn
 * that moves: the answer comes at once when the operation ends, and a
 * second is often enough for a line per phase or tenth. */
#define OP_WAIT_SECONDS 1
/* Between polls while a bar or spinner is on a terminal. warrend holds a
 * poll until the operation ends, not until its progress changes, so a bar
 * that moves smoothly needs quick polls without a wait (cheap on the local
 * socket, and only while someone watches). */
#define OP_REDRAW_MS 250

/* Set by SIGINT during a wait. Global because the handler can reach
 * nothing else; the wait loop reads and resets it. */
static volatile sig_atomic_t interrupted;

static void on_sigint(int sig)
{
	(void)sig;
	interrupted = 1;
}

/* GET /v1/operations/ID answers the operation itself; the 202 of an action
 * wraps it as {"operation": op}. */
static json_t *op_unwrap(json_t *reply)
{
	json_t *op = json_object_get(reply, "operation");

	return json_incref(json_is_object(op) ? op : reply);
}

static const char *op_str(json_t *op, const char *key)
{
	return json_string_value(json_object_get(op, key));
}

/* "/v1/operations/<id escaped><suffix>". The id of an operation that a
 * cluster member forwarded reads "<id>@<member>": escaped, the '@' stays
 * inside the one path segment. */
static int op_path(json_t *op, const char *suffix, char **ret, struct werr *err)
{
	const char *id = op_str(op, "id");

	if (!id)
		return werr_set(err, -EBADMSG, "internal", "",
				"warrend sent an operation without an id");
	*ret = api_path("/v1/operations/", id, suffix);
	if (!*ret)
		return werr_set(err, -ENOMEM, "internal", "", "out of memory");
	return 0;
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000};

	/* No retry on EINTR: Ctrl-C is to be acted on at once. */
	nanosleep(&ts, NULL);
}

struct op_waiter {
	const struct cli *c;
	json_t *op; /* the latest answer */
	struct progress progress;
	bool cancel_sent;
};

static void waiter_say(struct op_waiter *w, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void waiter_say(struct op_waiter *w, const char *fmt, ...)
{
	va_list ap;

	fputs(progress_clear(&w->progress), stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
}

/*
 * Ctrl-C was pressed: the first asks warrend to cancel a cancellable
 * operation (0: keep waiting for its end); otherwise the wait ends here,
 * with the operation going on in warrend.
 */
static int waiter_interrupt(struct op_waiter *w, struct werr *err)
{
	const char *id = op_str(w->op, "id") ?: "?";
	_cleanup_free_ char *path = NULL;
	_cleanup_json_ json_t *reply = NULL;
	struct werr cerr = {0};

	interrupted = 0;
	if (w->cancel_sent || !json_is_true(json_object_get(w->op, "cancellable")))
		return werr_set(err, -EINTR, "interrupted", "",
				"no longer waiting; operation %s goes on (see 'warren operation "
				"show %s')",
				id, id);
	w->cancel_sent = true;
	if (op_path(w->op, "/cancel", &path, err) < 0)
		return -EIO;
	waiter_say(w, "%s: cancelling…\n", op_str(w->op, "action") ?: "operation");
	/* A conflict means it ended meanwhile; the next poll tells how. */
	if (api_call(w->c, "POST", path, NULL, NULL, &reply, &cerr) < 0) {
		if (strcmp(cerr.code, "conflict") != 0)
			waiter_say(w, "warren: cannot cancel: %s\n", cerr.message);
		return 0;
	}
	json_decref(w->op);
	w->op = op_unwrap(reply);
	return 0;
}

/* One poll; a bar that moves on a terminal polls quickly without a wait. */
static int waiter_poll(struct op_waiter *w, struct werr *err)
{
	bool redraw = w->progress.tty && json_is_object(json_object_get(w->op, "progress"));
	_cleanup_free_ char *path = NULL;
	_cleanup_json_ json_t *reply = NULL;
	char suffix[32];

	snprintf(suffix, sizeof(suffix), "?wait=%d", redraw ? 0 : OP_WAIT_SECONDS);
	if (redraw)
		sleep_ms(OP_REDRAW_MS);
	if (interrupted)
		return 0; /* seen by the loop before the next request */
	if (op_path(w->op, suffix, &path, err) < 0)
		return -EIO;
	if (api_call(w->c, "GET", path, NULL, NULL, &reply, err) < 0)
		return -EIO;
	json_decref(w->op);
	w->op = op_unwrap(reply);
	return 0;
}

static unsigned term_columns(void)
{
	struct winsize ws;

	return ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 ? ws.ws_col : 0;
}

int cli_op_wait(const struct cli *c, json_t *reply, json_t **ret_op, struct werr *err)
{
	struct op_waiter w = {.c = c, .op = op_unwrap(reply)};
	struct sigaction sa = {.sa_handler = on_sigint}, old;
	bool tty = isatty(STDERR_FILENO);
	int r = 0;

	progress_init(&w.progress, tty, tty ? term_columns() : 0);
	/* No SA_RESTART: a pause between polls ends at once. libcurl retries
	 * its own interrupted polls, so a request in flight ends by itself,
	 * within OP_WAIT_SECONDS. */
	sigemptyset(&sa.sa_mask);
	interrupted = 0;
	sigaction(SIGINT, &sa, &old);
	for (;;) {
		char line[512];

		fputs(progress_render(&w.progress, w.op, line, sizeof(line)), stderr);
		if (strcmp(op_str(w.op, "status") ?: "", "running") != 0)
			break;
		if (interrupted)
			r = waiter_interrupt(&w, err);
		else
			r = waiter_poll(&w, err);
		if (r < 0)
			break;
	}
	fputs(progress_clear(&w.progress), stderr);
	sigaction(SIGINT, &old, NULL);
	if (r < 0) {
		json_decref(w.op);
		return r;
	}
	*ret_op = w.op;
	return 0;
}

/* The error of an operation that failed or was cancelled. */
static int op_error(json_t *op, struct werr *err)
{
	json_t *e = json_object_get(op, "error");
	const char *message = op_str(e, "message");
	const char *code = op_str(e, "code");
	bool cancelled = strcmp(op_str(op, "status") ?: "", "cancelled") == 0;

	if (!message || !*message)
		message = op_str(op, "message");
	if (!message || !*message)
		message = cancelled ? "the operation was cancelled" : "the operation failed";
	return werr_set(err, -EIO, code ? code : "internal", op_str(e, "field"), "%s", message);
}

int cli_op_print(const struct cli *c, json_t *reply, const char *result_key,
		 void (*table_fn)(FILE *f, json_t *data))
{
	_cleanup_json_ json_t *op = NULL;
	struct werr err = {0};
	json_t *result;

	if (cli_opt_has(&c->args, "no-wait")) {
		op = op_unwrap(reply);
		return cli_print(c, op, view_operation_line);
	}
	if (cli_op_wait(c, reply, &op, &err) < 0)
		return cli_fail(&err);
	result = json_object_get(op, "result");
	if (!result_key)
		result = NULL;
	else if (*result_key)
		result = json_object_get(result, result_key);
	/* An operation of many steps (an evacuation) that failed part way
	 * may still say what it did before its error. */
	if (strcmp(op_str(op, "status") ?: "", "succeeded") != 0) {
		if (json_is_object(result))
			cli_print(c, result, table_fn);
		op_error(op, &err);
		return cli_fail(&err);
	}
	if (json_is_object(result))
		return cli_print(c, result, table_fn);
	return cli_print(c, op, view_operation_line);
}

int cli_op_request(const struct cli *c, const char *path, json_t *body, const char *result_key,
		   void (*table_fn)(FILE *f, json_t *data))
{
	_cleanup_json_ json_t *reply = NULL;
	struct werr err = {0};

	if (api_call(c, "POST", path, body, NULL, &reply, &err) < 0)
		return cli_fail(&err);
	if (!json_is_object(json_object_get(reply, "operation")))
		return cli_print(c, reply, table_fn);
	return cli_op_print(c, reply, result_key, table_fn);
}

/* ---- warren operation show|cancel ID ------------------------------------- */

static int operation_request(struct cli *c, const char *method, const char *suffix)
{
	_cleanup_json_ json_t *id = json_pack("{s:s}", "id", c->args.pos[0]);
	_cleanup_free_ char *path = NULL;
	struct werr err = {0};

	if (!id)
		return cli_fail(&err);
	if (op_path(id, suffix, &path, &err) < 0)
		return cli_fail(&err);
	return cli_request_print(c, method, path, view_operation_show);
}

int cmd_operation_show(struct cli *c)
{
	return operation_request(c, "GET", "");
}

int cmd_operation_cancel(struct cli *c)
{
	return operation_request(c, "POST", "/cancel");
}
