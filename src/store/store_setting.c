/*
 * store_setting: small settings of the daemon that must outlive a restart,
 * each a JSON text under a key (the cluster this daemon is a member of).
 */
#include <string.h>

#include "store/store-private.h"

/* clang-format off */
static const char *const sql[_STMT_MAX] = {
	[STMT_SETTING_GET] = "SELECT value FROM settings WHERE key = ?1",
	[STMT_SETTING_PUT] = "INSERT OR REPLACE INTO settings (key, value) VALUES (?1, ?2)",
	[STMT_SETTING_DELETE] = "DELETE FROM settings WHERE key = ?1",
};
/* clang-format on */

int store_setting_get(struct store *s, const char *key, char **ret)
{
	_cleanup_stmt_reset_ sqlite3_stmt *st = NULL;
	int r = store_stmt(s, STMT_SETTING_GET, sql[STMT_SETTING_GET], &st), rc;
	const char *text;

	if (r >= 0)
		r = store_bind_text(s, st, 1, key);
	if (r < 0)
		return r;
	rc = sqlite3_step(st);
	if (rc == SQLITE_DONE)
		return -ENOENT;
	if (rc != SQLITE_ROW)
		return store_fail(s, rc, "reading a setting");
	text = (const char *)sqlite3_column_text(st, 0);
	*ret = strdup(text ? text : "");
	return *ret ? 0 : -ENOMEM;
}

int store_setting_put(struct store *s, const char *key, const char *value)
{
	_cleanup_stmt_reset_ sqlite3_stmt *st = NULL;
	int r = store_stmt(s, STMT_SETTING_PUT, sql[STMT_SETTING_PUT], &st);

	if (r >= 0)
		r = store_bind_text(s, st, 1, key) ?: store_bind_text(s, st, 2, value);
	if (r >= 0)
		r = store_step_done(s, st, "recording a setting");
	return r;
}

int store_setting_delete(struct store *s, const char *key)
{
	_cleanup_stmt_reset_ sqlite3_stmt *st = NULL;
	int r = store_stmt(s, STMT_SETTING_DELETE, sql[STMT_SETTING_DELETE], &st);

	if (r >= 0)
		r = store_bind_text(s, st, 1, key);
	if (r >= 0)
		r = store_step_done(s, st, "removing a setting");
	if (r >= 0 && sqlite3_changes(s->db) == 0)
		r = -ENOENT;
	return r;
}
