/*
 * store_event: the event log, an append-only record of who did what to
 * which VM and how it ended. seq is the order of record; time_ms is wall
 * clock and may step backwards, so "most recent" means highest seq.
 */
#include <string.h>

#include "store/store-private.h"

#define EVENT_COLUMNS "seq, time_ms, vm, action, result, uid"

/* clang-format off */
static const char *const sql[_STMT_MAX] = {
	[STMT_EVENT_APPEND] = "INSERT INTO events (time_ms, vm, action, result, uid) "
			      "VALUES (?1, ?2, ?3, ?4, ?5)",
	/* Newest first so that LIMIT keeps the most recent; reversed in C. */
	[STMT_EVENT_LIST] = "SELECT " EVENT_COLUMNS " FROM events WHERE time_ms >= ?1 "
			    "ORDER BY seq DESC LIMIT ?2",
	/* A separate statement rather than "?3 IS NULL OR vm = ?3", which would
	 * keep SQLite from using the (vm, time_ms) index. */
	[STMT_EVENT_LIST_VM] = "SELECT " EVENT_COLUMNS " FROM events WHERE vm = ?3 AND "
			       "time_ms >= ?1 ORDER BY seq DESC LIMIT ?2",
	[STMT_EVENT_PRUNE] = "DELETE FROM events WHERE time_ms < ?1",
};
/* clang-format on */

static int prepare(struct store *s, enum store_stmt id, sqlite3_stmt **ret)
{
	return store_stmt(s, id, sql[id], ret);
}

int store_event_append(struct store *s, struct store_event *ev)
{
	_cleanup_stmt_reset_ sqlite3_stmt *st = NULL;
	int64_t time_ms = ev->time_ms ? ev->time_ms : (int64_t)now_realtime_ms();
	int r;

	r = prepare(s, STMT_EVENT_APPEND, &st);
	if (r < 0)
		return r;
	if (sqlite3_bind_int64(st, 1, time_ms) != SQLITE_OK ||
	    sqlite3_bind_int(st, 5, ev->uid) != SQLITE_OK)
		return store_fail(s, sqlite3_errcode(s->db), "binding an event");
	r = store_bind_text(s, st, 2, ev->vm);
	if (r >= 0)
		r = store_bind_text(s, st, 3, ev->action);
	if (r >= 0)
		r = store_bind_text(s, st, 4, ev->result);
	if (r >= 0)
		r = store_step_done(s, st, "appending an event");
	if (r < 0)
		return r;
	ev->seq = sqlite3_last_insert_rowid(s->db);
	ev->time_ms = time_ms;
	return 0;
}

static int event_from_row(sqlite3_stmt *st, struct store_event *ev)
{
	int r;

	ev->seq = sqlite3_column_int64(st, 0);
	ev->time_ms = sqlite3_column_int64(st, 1);
	ev->uid = sqlite3_column_int(st, 5);
	r = store_column_copy(st, 2, ev->vm, sizeof(ev->vm), "reading an event's VM");
	if (r >= 0)
		r = store_column_copy(st, 3, ev->action, sizeof(ev->action), "reading an event");
	if (r >= 0)
		r = store_column_copy(st, 4, ev->result, sizeof(ev->result), "reading an event");
	return r;
}

int store_event_list(struct store *s, const char *vm, int64_t since_ms, size_t limit,
		     struct store_event **ret, size_t *ret_n)
{
	_cleanup_stmt_reset_ sqlite3_stmt *st = NULL;
	_cleanup_free_ struct store_event *list = NULL;
	size_t n = 0, cap = 0;
	int rc, r;

	if (limit == 0 || limit > STORE_EVENT_LIST_MAX)
		limit = STORE_EVENT_LIST_MAX;
	r = prepare(s, vm ? STMT_EVENT_LIST_VM : STMT_EVENT_LIST, &st);
	if (r < 0)
		return r;
	if (sqlite3_bind_int64(st, 1, since_ms) != SQLITE_OK ||
	    sqlite3_bind_int64(st, 2, (int64_t)limit) != SQLITE_OK)
		return store_fail(s, sqlite3_errcode(s->db), "binding an event query");
	if (vm) {
		r = store_bind_text(s, st, 3, vm);
		if (r < 0)
			return r;
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		r = store_grow((void **)&list, &cap, n, sizeof(*list));
		if (r >= 0)
			r = event_from_row(st, &list[n]);
		if (r < 0)
			return r;
		n++;
	}
	if (rc != SQLITE_DONE)
		return store_fail(s, rc, "listing events");
	/* Rows came newest first; callers want the order they happened in. */
	for (size_t i = 0; i < n / 2; i++) {
		struct store_event t = list[i];
		list[i] = list[n - 1 - i];
		list[n - 1 - i] = t;
	}
	*ret = TAKE_PTR(list);
	*ret_n = n;
	return 0;
}

int store_event_prune(struct store *s, int64_t before_ms)
{
	_cleanup_stmt_reset_ sqlite3_stmt *st = NULL;
	int r;

	r = prepare(s, STMT_EVENT_PRUNE, &st);
	if (r < 0)
		return r;
	if (sqlite3_bind_int64(st, 1, before_ms) != SQLITE_OK)
		return store_fail(s, sqlite3_errcode(s->db), "binding an event query");
	r = store_step_done(s, st, "pruning events");
	if (r < 0)
		return r;
	return sqlite3_changes(s->db);
}
