/*
 * ops: long-running operations (a shutdown that may take a minute, a
 * memory save, a full clone).
 *
 * An operation lives in memory until it has finished and OPS_KEEP_DONE
 * newer ones have finished too; clients poll it or wait on it with a
 * bound. Waiters are replies parked with a timer: the first of
 * "operation finished" and "time is up" answers.
 * The owner reports progress as it goes, may leave a result, and may offer
 * a cancel hook; a cancel only asks, the owner finishes the operation
 * (with code "cancelled") once it has undone its work.
 */
#include <string.h>

#include "daemon/internal.h"

#define OPS_KEEP_DONE 1000

struct op_waiter {
	struct op_waiter *next;
	struct op *op;
	struct reply *reply;
	struct event *timer;
};

struct op {
	struct op *next;
	struct daemon *d;
	char id[40];
	char vm[VM_NAME_MAX + 1];
	char action[32];
	bool done;
	bool failed;
	struct werr err;
	char message[sizeof(((struct werr *)0)->message)];
	int64_t created_ms;
	int64_t finished_ms;
	struct op_waiter *waiters;
	double percent; /* < 0: unknown */
	char phase[96];
	int64_t done_bytes, total_bytes; /* < 0: unknown */
	json_t *result;
	json_t *details; /* more about the progress (a migration's rates) */
	op_cancel_fn cancel;
	void *cancel_ud;
	bool cancel_asked;
};

static json_t *int_or_null(int64_t v)
{
	return v < 0 ? json_null() : json_integer(v);
}

static const char *op_status(const struct op *op)
{
	if (!op->done)
		return "running";
	if (!op->failed)
		return "succeeded";
	return strcmp(op->err.code, "cancelled") == 0 ? "cancelled" : "failed";
}

json_t *op_to_json(const struct op *op)
{
	json_t *j = json_pack(
		"{s:s, s:s, s:s, s:s, s:s, s:o, s:o, s:{s:o, s:s, s:o, s:o}, s:b, s:O?}", "id",
		op->id, "vm", op->vm, "action", op->action, "status", op_status(op), "message",
		op->message, "created_at", json_time_ms(op->created_ms), "finished_at",
		op->done ? json_time_ms(op->finished_ms) : json_null(), "progress", "percent",
		op->percent < 0 ? json_null() : json_real(op->percent), "phase", op->phase,
		"done_bytes", int_or_null(op->done_bytes), "total_bytes", int_or_null(op->total_bytes),
		"cancellable", !op->done && op->cancel && !op->cancel_asked, "result", op->result);
	if (j && op->failed)
		json_object_set_new(j, "error",
				    json_pack("{s:s, s:s, s:s}", "code", op->err.code, "message",
					      op->err.message, "field", op->err.field));
	else if (j)
		json_object_set_new(j, "error", json_null());
	if (j && op->details)
		json_object_set(json_object_get(j, "progress"), "details", op->details);
	return j;
}

struct op *op_new(struct daemon *d, const char *vm, const char *action)
{
	struct op *op = calloc(1, sizeof(*op));
	char hex[17];

	if (!op)
		return NULL;
	if (id_random_hex(hex, 8) < 0) {
		free(op);
		return NULL;
	}
	op->d = d;
	snprintf(op->id, sizeof(op->id), "op-%s", hex);
	snprintf(op->vm, sizeof(op->vm), "%s", vm);
	snprintf(op->action, sizeof(op->action), "%s", action);
	snprintf(op->message, sizeof(op->message), "in progress");
	op->percent = -1;
	op->done_bytes = op->total_bytes = -1;
	op->created_ms = (int64_t)now_realtime_ms();
	op->next = d->ops;
	d->ops = op;
	return op;
}

static void waiter_answer(struct op_waiter *w)
{
	struct op *op = w->op;

	for (struct op_waiter **p = &op->waiters; *p; p = &(*p)->next)
		if (*p == w) {
			*p = w->next;
			break;
		}
	event_free(w->timer);
	reply_json(w->reply, 200, op_to_json(op));
	free(w);
}

static void on_wait_timeout(evutil_socket_t fd, short what, void *arg)
{
	waiter_answer(arg);
}

/* Finished operations stay to be read, but only the newest OPS_KEEP_DONE:
 * a long-running daemon must not keep every one it ever ran. Their owners
 * have let go of them once finished. */
static void ops_prune(struct daemon *d)
{
	size_t kept = 0;

	for (struct op **p = &d->ops; *p;) {
		struct op *op = *p;
		if (!op->done || op->waiters || ++kept <= OPS_KEEP_DONE) {
			p = &op->next;
			continue;
		}
		*p = op->next;
		json_decref(op->result);
		json_decref(op->details);
		free(op);
	}
}

void op_progress(struct op *op, double percent, const char *phase, int64_t done,
		 int64_t total)
{
	if (!op || op->done)
		return;
	op->percent = percent > 100 ? 100 : percent;
	if (phase)
		snprintf(op->phase, sizeof(op->phase), "%s", phase);
	op->done_bytes = done;
	op->total_bytes = total;
}

void op_set_details(struct op *op, json_t *details)
{
	if (!op || op->done) {
		json_decref(details);
		return;
	}
	json_decref(op->details);
	op->details = details;
}

void op_set_cancel(struct op *op, op_cancel_fn fn, void *ud)
{
	op->cancel = fn;
	op->cancel_ud = ud;
}

void op_set_result(struct op *op, json_t *result)
{
	json_decref(op->result);
	op->result = result;
}

bool op_cancel_asked(const struct op *op)
{
	return op->cancel_asked;
}

const char *op_id(const struct op *op)
{
	return op->id;
}

void op_finish(struct op *op, const struct werr *err, const char *message)
{
	if (op->done)
		return;
	op->done = true;
	op->cancel = NULL;
	if (!err)
		op->percent = 100;
	op->finished_ms = (int64_t)now_realtime_ms();
	if (err) {
		op->failed = true;
		op->err = *err;
	}
	snprintf(op->message, sizeof(op->message), "%s",
		 message ? message : err ? err->message : "done");
	while (op->waiters)
		waiter_answer(op->waiters);
	ops_prune(op->d);
}

static struct op *op_find_or_reply(struct daemon *d, const char *id, struct reply *r)
{
	struct werr err;
	struct op *op;

	for (op = d->ops; op; op = op->next)
		if (strcmp(op->id, id) == 0)
			return op;
	werr_set(&err, -ENOENT, "not_found", "id", "no operation '%s'", id);
	reply_error(r, &err);
	return NULL;
}

void daemon_operation_cancel(struct daemon *d, const char *id, struct reply *r)
{
	struct op *op = op_find_or_reply(d, id, r);
	struct werr err;

	if (!op)
		return;
	if (op->done || !op->cancel) {
		werr_set(&err, -EBUSY, "conflict", "id", "operation %s %s", id,
			 op->done ? "has already finished" : "cannot be cancelled");
		reply_error(r, &err);
		return;
	}
	if (!op->cancel_asked) {
		op->cancel_asked = true;
		snprintf(op->phase, sizeof(op->phase), "cancelling");
		log_info("%s: cancelling operation %s (%s)", op->vm, op->id, op->action);
		op->cancel(op, op->cancel_ud);
	}
	reply_json(r, 200, op_to_json(op));
}

void daemon_operation_get(struct daemon *d, const char *id, unsigned wait_ms, struct reply *r)
{
	struct werr err;
	struct op *op = op_find_or_reply(d, id, r);

	if (!op)
		return;
	if (op->done || wait_ms == 0) {
		reply_json(r, 200, op_to_json(op));
		return;
	}
	struct op_waiter *w = calloc(1, sizeof(*w));
	if (!w) {
		werr_internal(&err, -ENOMEM, "waiting for an operation");
		reply_error(r, &err);
		return;
	}
	w->op = op;
	w->reply = r;
	w->timer = evtimer_new(d->base, on_wait_timeout, w);
	struct timeval tv = {.tv_sec = wait_ms / 1000, .tv_usec = (wait_ms % 1000) * 1000};
	evtimer_add(w->timer, &tv);
	w->next = op->waiters;
	op->waiters = w;
}

void ops_fini(struct daemon *d)
{
	while (d->ops) {
		struct op *op = d->ops;
		d->ops = op->next;
		while (op->waiters)
			waiter_answer(op->waiters);
		json_decref(op->result);
		json_decref(op->details);
		free(op);
	}
}
