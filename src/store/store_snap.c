/*
 * store_snap: the snapshots table. A snapshot row is the commit point of
 * taking a snapshot: the disk tags and the memory file are made first and
 * the row last, so a row always names complete data. Deleting goes the
 * other way round (row first, data after), so a crash in between leaves
 * unreferenced data, never a row that names missing data.
 */
#include <string.h>

#include "store/store-private.h"

#define SNAP_COLUMNS                                                                           \
	"id, vm_id, name, parent, created_ms, memory, vm_state, spec, memory_size, disk_size"

/* clang-format off */
static const char *const sql[_STMT_MAX] = {
	[STMT_SNAP_INSERT] = "INSERT INTO snapshots (" SNAP_COLUMNS ") VALUES (?1, ?2, ?3, ?4, "
			     "?5, ?6, ?7, ?8, ?9, ?10)",
	[STMT_SNAP_CURRENT] = "UPDATE vms SET current_snap = ?2 WHERE id = ?1 AND "
			      "(?3 IS NULL OR current_snap = ?3)",
	[STMT_SNAP_REPARENT] = "UPDATE snapshots SET parent = ?2 WHERE parent = ?1",
	[STMT_SNAP_DELETE] = "DELETE FROM snapshots WHERE id = ?1",
	[STMT_SNAP_LIST] = "SELECT " SNAP_COLUMNS " FROM snapshots WHERE vm_id = ?1 "
			   "ORDER BY created_ms, rowid",
};
/* clang-format on */

static const char *or_null(const char *s)
{
	return s && *s ? s : NULL;
}

/* Run one cached statement with up to three text parameters. */
static int run3(struct store *s, enum store_stmt id, const char *a, const char *b, const char *c,
		const char *what)
{
	_cleanup_stmt_reset_ sqlite3_stmt *st = NULL;
	int r = store_stmt(s, id, sql[id], &st);

	if (r >= 0)
		r = store_bind_text(s, st, 1, a);
	if (r >= 0 && sqlite3_bind_parameter_count(st) >= 2)
		r = store_bind_text(s, st, 2, b);
	if (r >= 0 && sqlite3_bind_parameter_count(st) >= 3)
		r = store_bind_text(s, st, 3, c);
	if (r >= 0)
		r = store_step_done(s, st, what);
	return r;
}

static int snap_insert_row(struct store *s, const struct store_snap *snap)
{
	_cleanup_stmt_reset_ sqlite3_stmt *st = NULL;
	const char *texts[] = {snap->id, snap->vm_id, snap->name, or_null(snap->parent)};
	int r = store_stmt(s, STMT_SNAP_INSERT, sql[STMT_SNAP_INSERT], &st);

	for (int i = 0; r >= 0 && i < 4; i++)
		r = store_bind_text(s, st, i + 1, texts[i]);
	if (r >= 0)
		r = store_bind_text(s, st, 7, snap->vm_state) ?: store_bind_text(s, st, 8, snap->spec_json);
	if (r >= 0 && (sqlite3_bind_int64(st, 5, snap->created_ms) != SQLITE_OK ||
		       sqlite3_bind_int(st, 6, snap->memory) != SQLITE_OK ||
		       sqlite3_bind_int64(st, 9, (int64_t)snap->memory_size) != SQLITE_OK ||
		       sqlite3_bind_int64(st, 10, (int64_t)snap->disk_size) != SQLITE_OK))
		r = -ENOMEM;
	if (r >= 0)
		r = store_step_done(s, st, "recording a snapshot");
	return r;
}

int store_snap_insert(struct store *s, const struct store_snap *snap)
{
	int r;

	if (!snap->spec_json)
		return -EINVAL;
	r = store_begin(s, "recording a snapshot");
	if (r < 0)
		return r;
	r = snap_insert_row(s, snap);
	if (r >= 0)
		r = run3(s, STMT_SNAP_CURRENT, snap->vm_id, snap->id, NULL, "recording a snapshot");
	return store_commit(s, r, "recording a snapshot");
}

int store_snap_delete(struct store *s, const struct store_snap *snap)
{
	const char *parent = or_null(snap->parent);
	int r = store_begin(s, "deleting a snapshot");

	if (r < 0)
		return r;
	r = run3(s, STMT_SNAP_REPARENT, snap->id, parent, NULL, "deleting a snapshot");
	if (r >= 0)
		r = run3(s, STMT_SNAP_CURRENT, snap->vm_id, parent, snap->id, "deleting a snapshot");
	if (r >= 0)
		r = run3(s, STMT_SNAP_DELETE, snap->id, NULL, NULL, "deleting a snapshot");
	if (r >= 0 && sqlite3_changes(s->db) == 0)
		r = -ENOENT;
	return store_commit(s, r, "deleting a snapshot");
}

void store_snap_list_free(struct store_snap *list, size_t n)
{
	for (size_t i = 0; list && i < n; i++)
		free(list[i].spec_json);
	free(list);
}

static int snap_from_row(sqlite3_stmt *st, struct store_snap *snap)
{
	const char *spec = (const char *)sqlite3_column_text(st, 7);
	const char *what = "reading a snapshot";

	*snap = (struct store_snap){0};
	if (store_column_copy(st, 0, snap->id, sizeof(snap->id), what) < 0 ||
	    store_column_copy(st, 1, snap->vm_id, sizeof(snap->vm_id), what) < 0 ||
	    store_column_copy(st, 2, snap->name, sizeof(snap->name), what) < 0 ||
	    store_column_copy(st, 3, snap->parent, sizeof(snap->parent), what) < 0 ||
	    store_column_copy(st, 6, snap->vm_state, sizeof(snap->vm_state), what) < 0)
		return -EIO;
	snap->created_ms = sqlite3_column_int64(st, 4);
	snap->memory = sqlite3_column_int(st, 5);
	snap->memory_size = (uint64_t)sqlite3_column_int64(st, 8);
	snap->disk_size = (uint64_t)sqlite3_column_int64(st, 9);
	snap->spec_json = strdup(spec ? spec : "");
	return snap->spec_json ? 0 : -ENOMEM;
}

int store_snap_list(struct store *s, const char *vm_id, struct store_snap **ret, size_t *ret_n)
{
	_cleanup_stmt_reset_ sqlite3_stmt *st = NULL;
	struct store_snap *list = NULL;
	size_t n = 0, cap = 0;
	int rc = SQLITE_DONE, r;

	r = store_stmt(s, STMT_SNAP_LIST, sql[STMT_SNAP_LIST], &st);
	if (r >= 0)
		r = store_bind_text(s, st, 1, vm_id);
	while (r >= 0 && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		r = store_grow((void **)&list, &cap, n, sizeof(*list));
		if (r >= 0)
			r = snap_from_row(st, &list[n]);
		if (r >= 0)
			n++;
	}
	if (r >= 0 && rc != SQLITE_DONE)
		r = store_fail(s, rc, "listing snapshots");
	if (r < 0) {
		store_snap_list_free(list, n);
		return r;
	}
	*ret = list;
	*ret_n = n;
	return 0;
}
