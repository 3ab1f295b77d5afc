/*
 * events: what happened, for the record and for followers.
 *
 * Every state change and every request that changed something becomes one
 * row in the store's event log and one JSON line to each live follower of
 * GET /v1/events. Subscriptions (events here, consoles in console.c) share
 * one small list type: a follower that cannot keep up is ended rather than
 * buffered without bound.
 */
#include <string.h>
#include <time.h>

#include "daemon/internal.h"

json_t *json_time_ms(int64_t ms)
{
	char buf[96];
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	gmtime_r(&t, &tm);
	snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
		 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ms % 1000));
	return json_string(buf);
}

void werr_internal(struct werr *e, int r, const char *what)
{
	werr_set(e, r, "internal", "", "%s failed: %s", what, strerror(r < 0 ? -r : r));
}

static void sub_unlink_from(struct daemon_sub **head, struct daemon_sub *sub)
{
	for (struct daemon_sub **p = head; *p; p = &(*p)->next)
		if (*p == sub) {
			*p = sub->next;
			return;
		}
}

void sub_list_end_all(struct daemon_sub **head)
{
	while (*head) {
		struct daemon_sub *sub = *head;
		*head = sub->next;
		sub->stream->end(sub->stream);
		free(sub);
	}
}

void sub_list_write(struct daemon_sub **head, const char *vm, const void *buf, size_t len)
{
	struct daemon_sub **p = head;

	while (*p) {
		struct daemon_sub *sub = *p;
		if (vm && sub->vm[0] && strcmp(sub->vm, vm) != 0) {
			p = &sub->next;
			continue;
		}
		if (sub->stream->write(sub->stream, buf, len) < 0) {
			log_warn("a follower could not keep up; ending its stream");
			*p = sub->next;
			sub->stream->end(sub->stream);
			free(sub);
			continue;
		}
		p = &sub->next;
	}
}

void daemon_sub_cancel(struct daemon_sub *sub)
{
	if (!sub)
		return;
	sub->unlink(sub);
	free(sub);
}

static void events_unlink(struct daemon_sub *sub)
{
	struct daemon *d = sub->owner;

	sub_unlink_from(&d->subs, sub);
}

static json_t *event_to_json(const struct store_event *ev, const char *previous)
{
	bool state = strcmp(ev->action, "state") == 0;
	json_t *j = json_pack("{s:I, s:o, s:s, s:s}", "seq", (json_int_t)ev->seq, "time",
			      json_time_ms(ev->time_ms), "vm", ev->vm, "type",
			      state ? "state" : "action");

	if (!j)
		return NULL;
	if (state) {
		json_object_set_new(j, "state", json_string(ev->result));
		if (previous)
			json_object_set_new(j, "previous", json_string(previous));
	} else {
		json_object_set_new(j, "action", json_string(ev->action));
		json_object_set_new(j, "result", json_string(ev->result));
		json_object_set_new(j, "uid", json_integer(ev->uid));
	}
	return j;
}

static void events_publish(struct daemon *d, struct store_event *ev, const char *previous)
{
	int r = store_event_append(d->store, ev);

	if (r < 0)
		log_warn_errno(r, "could not record event %s %s", ev->vm, ev->action);
	if (!d->subs)
		return;
	json_t *j = event_to_json(ev, previous);
	char *line = j ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	if (!line)
		return;
	size_t n = strlen(line);
	char *buf = malloc(n + 2);
	if (buf) {
		memcpy(buf, line, n);
		buf[n] = '\n';
		sub_list_write(&d->subs, ev->vm, buf, n + 1);
		free(buf);
	}
	free(line);
}

void events_emit_state(struct daemon *d, const char *vm, enum vm_state from, enum vm_state to)
{
	struct store_event ev = {.time_ms = (int64_t)now_realtime_ms(), .uid = -1};

	snprintf(ev.vm, sizeof(ev.vm), "%s", vm);
	snprintf(ev.action, sizeof(ev.action), "state");
	snprintf(ev.result, sizeof(ev.result), "%s", vm_state_to_string(to));
	events_publish(d, &ev, vm_state_to_string(from));
}

void events_emit_action(struct daemon *d, const char *vm, const char *action, const char *result,
			int uid)
{
	struct store_event ev = {.time_ms = (int64_t)now_realtime_ms(), .uid = uid};

	snprintf(ev.vm, sizeof(ev.vm), "%s", vm);
	snprintf(ev.action, sizeof(ev.action), "%s", action);
	snprintf(ev.result, sizeof(ev.result), "%s", result);
	events_publish(d, &ev, NULL);
}

int daemon_events_subscribe(struct daemon *d, const char *vm, struct stream *s,
			    struct daemon_sub **ret, struct werr *err)
{
	struct daemon_sub *sub;

	if (vm && vm[0] && !vm_rt_find(d, vm))
		return werr_set(err, -ENOENT, "not_found", "vm", "no VM named '%s'", vm);
	sub = calloc(1, sizeof(*sub));
	if (!sub)
		return werr_set(err, -ENOMEM, "internal", "", "out of memory");
	sub->stream = s;
	sub->owner = d;
	sub->unlink = events_unlink;
	snprintf(sub->vm, sizeof(sub->vm), "%s", vm ? vm : "");
	sub->next = d->subs;
	d->subs = sub;
	*ret = sub;
	return 0;
}

void daemon_events_list(struct daemon *d, const char *vm, int64_t since_ms, size_t limit,
			struct reply *r)
{
	struct store_event *evs = NULL;
	struct werr err;
	size_t n = 0;
	int k;

	k = store_event_list(d->store, vm && vm[0] ? vm : NULL, since_ms, limit ? limit : 100, &evs,
			     &n);
	if (k < 0) {
		werr_internal(&err, k, "reading the event log");
		reply_error(r, &err);
		return;
	}
	json_t *arr = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(arr, event_to_json(&evs[i], NULL));
	free(evs);
	reply_json(r, 200, json_pack("{s:o}", "events", arr));
}

void events_fini(struct daemon *d)
{
	sub_list_end_all(&d->subs);
}
