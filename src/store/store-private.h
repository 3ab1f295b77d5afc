/*
 * store-private: what the files of store/ share: the handle, the statement
 * cache and the mapping of SQLite results to -errno. Not part of the
 * folder's interface; include store/store.h from elsewhere.
 */
#ifndef WARREN_STORE_PRIVATE_H
#define WARREN_STORE_PRIVATE_H

#include <sqlite3.h>

#include "store/store.h"
#include "util/util.h"

/* Every cached statement, whichever file owns its SQL. */
enum store_stmt {
	STMT_VM_INSERT,
	STMT_VM_UPDATE,
	STMT_VM_DELETE,
	STMT_VM_GET,
	STMT_VM_LIST,
	STMT_VM_COUNT,
	STMT_EVENT_APPEND,
	STMT_EVENT_LIST,
	STMT_EVENT_LIST_VM,
	STMT_EVENT_PRUNE,
	STMT_SNAP_INSERT,
	STMT_SNAP_CURRENT,
	STMT_SNAP_REPARENT,
	STMT_SNAP_DELETE,
	STMT_SNAP_DELETE_VM,
	STMT_SNAP_LIST,
	STMT_NET_INSERT,
	STMT_NET_DELETE,
	STMT_NET_LIST,
	STMT_MIG_PUT,
	STMT_MIG_DELETE,
	STMT_MIG_LIST,
	STMT_SETTING_GET,
	STMT_SETTING_PUT,
	STMT_SETTING_DELETE,
	_STMT_MAX,
};

struct store {
	sqlite3 *db;
	/* Prepared on first use and kept until store_close: the daemon runs the
	 * same few statements for its whole life. */
	sqlite3_stmt *stmts[_STMT_MAX];
};

/*
 * The cached statement id, preparing it from sql on first use. The caller
 * holds it in a _cleanup_stmt_reset_ variable so that it is reset and its
 * bindings cleared however the caller leaves.
 */
int store_stmt(struct store *s, enum store_stmt id, const char *sql, sqlite3_stmt **ret);

static inline void stmt_resetp(sqlite3_stmt **st)
{
	if (*st) {
		sqlite3_reset(*st);
		sqlite3_clear_bindings(*st);
	}
}
#define _cleanup_stmt_reset_ _cleanup_(stmt_resetp)

/* For statements used once (set-up, migrations): finalized on scope exit. */
static inline void stmt_finalizep(sqlite3_stmt **st)
{
	sqlite3_finalize(*st);
}
#define _cleanup_stmt_finalize_ _cleanup_(stmt_finalizep)

/*
 * Turn a failed SQLite result into -errno: a unique or primary key
 * violation is -EEXIST and out of memory -ENOMEM, both left to the caller
 * to report; anything else is logged here, with SQLite's own message and
 * what was being done, and becomes -EIO.
 */
int store_fail(struct store *s, int rc, const char *what);

/* Step a statement that returns no rows; 0 or store_fail(). */
int store_step_done(struct store *s, sqlite3_stmt *st, const char *what);

/* Bind s, or NULL as SQL NULL. 0 or store_fail(). */
int store_bind_text(struct store *s, sqlite3_stmt *st, int idx, const char *text);

/* Copy a text column into a fixed buffer; a NULL column gives "". A value
 * that does not fit can only come from a damaged or foreign database:
 * logged, -EIO. */
int store_column_copy(sqlite3_stmt *st, int col, char *buf, size_t size, const char *what);

/* Make room for element n of a growing array of elem-sized items
 * (doubling). 0 or -ENOMEM, the array untouched on failure. */
int store_grow(void **array, size_t *cap, size_t n, size_t elem);

/* BEGIN IMMEDIATE / COMMIT / ROLLBACK around several statements. */
int store_begin(struct store *s, const char *what);
int store_commit(struct store *s, int r, const char *what);

/* Bring the schema to the newest version (schema.c). */
int store_migrate(struct store *s);

#endif
