/*
 * store_mig: the migrations table. Each side writes a migration's next
 * phase before it takes the step, so that a daemon that starts again knows
 * whether to finish a migration or roll it back.
 */
#include <string.h>

#include "store/store-private.h"

/* clang-format off */
static const char *const sql[_STMT_MAX] = {
	[STMT_MIG_PUT] = "INSERT OR REPLACE INTO migrations "
			 "(id, vm_id, vm_name, role, peer, phase, info, created_ms) "
			 "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
	[STMT_MIG_DELETE] = "DELETE FROM migrations WHERE id = ?1",
	[STMT_MIG_LIST] = "SELECT id, vm_id, vm_name, role, peer, phase, info, created_ms "
			  "FROM migrations ORDER BY created_ms, id",
};
/* clang-format on */

int store_mig_put(struct store *s, const struct store_mig *m)
{
	_cleanup_stmt_reset_ sqlite3_stmt *st = NULL;
	int r = store_stmt(s, STMT_MIG_PUT, sql[STMT_MIG_PUT], &st);

	if (r >= 0)
		r = store_bind_text(s, st, 1, m->id) ?: store_bind_text(s, st, 2, m->vm_id) ?:
		    store_bind_text(s, st, 3, m->vm_name) ?: store_bind_text(s, st, 4, m->role) ?:
		    store_bind_text(s, st, 5, m->peer) ?: store_bind_text(s, st, 6, m->phase) ?:
		    store_bind_text(s, st, 7, m->info_json ? m->info_json : "{}");
	if (r >= 0 && sqlite3_bind_int64(st, 8, m->created_ms) != SQLITE_OK)
		r = -ENOMEM;
	if (r >= 0)
		r = store_step_done(s, st, "recording a migration");
	return r;
}

int store_mig_delete(struct store *s, const char *id)
{
	_cleanup_stmt_reset_ sqlite3_stmt *st = NULL;
	int r = store_stmt(s, STMT_MIG_DELETE, sql[STMT_MIG_DELETE], &st);

	if (r >= 0)
		r = store_bind_text(s, st, 1, id);
	if (r >= 0)
		r = store_step_done(s, st, "deleting a migration");
	if (r >= 0 && sqlite3_changes(s->db) == 0)
		r = -ENOENT;
	return r;
}

void store_mig_list_free(struct store_mig *list, size_t n)
{
	for (size_t i = 0; list && i < n; i++)
		free(list[i].info_json);
	free(list);
}

static int mig_from_row(sqlite3_stmt *st, struct store_mig *m)
{
	static const char what[] = "reading a migration";
	const char *info = (const char *)sqlite3_column_text(st, 6);
	int r;

	*m = (struct store_mig){0};
	r = store_column_copy(st, 0, m->id, sizeof(m->id), what) ?:
	    store_column_copy(st, 1, m->vm_id, sizeof(m->vm_id), what) ?:
	    store_column_copy(st, 2, m->vm_name, sizeof(m->vm_name), what) ?:
	    store_column_copy(st, 3, m->role, sizeof(m->role), what) ?:
	    store_column_copy(st, 4, m->peer, sizeof(m->peer), what) ?:
	    store_column_copy(st, 5, m->phase, sizeof(m->phase), what);
	if (r < 0)
		return r;
	m->created_ms = sqlite3_column_int64(st, 7);
	m->info_json = strdup(info ? info : "{}");
	return m->info_json ? 0 : -ENOMEM;
}

int store_mig_list(struct store *s, struct store_mig **ret, size_t *ret_n)
{
	_cleanup_stmt_reset_ sqlite3_stmt *st = NULL;
	struct store_mig *list = NULL;
	size_t n = 0, cap = 0;
	int rc = SQLITE_DONE, r;

	r = store_stmt(s, STMT_MIG_LIST, sql[STMT_MIG_LIST], &st);
	while (r >= 0 && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		r = store_grow((void **)&list, &cap, n, sizeof(*list));
		if (r >= 0)
			r = mig_from_row(st, &list[n]);
		if (r < 0)
			break;
		n++;
	}
	if (r >= 0 && rc != SQLITE_DONE)
		r = store_fail(s, rc, "listing migrations");
	if (r < 0) {
		store_mig_list_free(list, n);
		return r;
	}
	*ret = list;
	*ret_n = n;
	return 0;
}
