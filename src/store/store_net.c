/*
 * store_net: the networks table. A network's row is written before its
 * bridge is made and removed after everything it set up is gone, so that a
 * restart finds every network that may have left something on the host.
 */
#include <string.h>

#include "store/store-private.h"

/* clang-format off */
static const char *const sql[_STMT_MAX] = {
	[STMT_NET_INSERT] = "INSERT INTO networks (name, idx, config, created_ms) "
			    "VALUES (?1, ?2, ?3, ?4)",
	[STMT_NET_DELETE] = "DELETE FROM networks WHERE name = ?1",
	[STMT_NET_LIST] = "SELECT name, idx, config, created_ms FROM networks ORDER BY name",
};
/* clang-format on */

int store_net_insert(struct store *s, const struct store_net *net)
{
	_cleanup_stmt_reset_ sqlite3_stmt *st = NULL;
	int r = store_stmt(s, STMT_NET_INSERT, sql[STMT_NET_INSERT], &st);

	if (r >= 0)
		r = store_bind_text(s, st, 1, net->name) ?: store_bind_text(s, st, 3, net->config_json);
	if (r >= 0 && (sqlite3_bind_int(st, 2, (int)net->idx) != SQLITE_OK ||
		       sqlite3_bind_int64(st, 4, net->created_ms) != SQLITE_OK))
		r = -ENOMEM;
	if (r >= 0)
		r = store_step_done(s, st, "recording a network");
	return r;
}

int store_net_delete(struct store *s, const char *name)
{
	_cleanup_stmt_reset_ sqlite3_stmt *st = NULL;
	int r = store_stmt(s, STMT_NET_DELETE, sql[STMT_NET_DELETE], &st);

	if (r >= 0)
		r = store_bind_text(s, st, 1, name);
	if (r >= 0)
		r = store_step_done(s, st, "deleting a network");
	if (r >= 0 && sqlite3_changes(s->db) == 0)
		r = -ENOENT;
	return r;
}

void store_net_list_free(struct store_net *list, size_t n)
{
	for (size_t i = 0; list && i < n; i++)
		free(list[i].config_json);
	free(list);
}

int store_net_list(struct store *s, struct store_net **ret, size_t *ret_n)
{
	_cleanup_stmt_reset_ sqlite3_stmt *st = NULL;
	struct store_net *list = NULL;
	size_t n = 0, cap = 0;
	int rc = SQLITE_DONE, r;

	r = store_stmt(s, STMT_NET_LIST, sql[STMT_NET_LIST], &st);
	while (r >= 0 && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *config = (const char *)sqlite3_column_text(st, 2);

		r = store_grow((void **)&list, &cap, n, sizeof(*list));
		if (r < 0)
			break;
		list[n] = (struct store_net){0};
		r = store_column_copy(st, 0, list[n].name, sizeof(list[n].name), "reading a network");
		if (r < 0)
			break;
		list[n].idx = (unsigned)sqlite3_column_int(st, 1);
		list[n].created_ms = sqlite3_column_int64(st, 3);
		list[n].config_json = strdup(config ? config : "{}");
		if (!list[n].config_json) {
			r = -ENOMEM;
			break;
		}
		n++;
	}
	if (r >= 0 && rc != SQLITE_DONE)
		r = store_fail(s, rc, "listing networks");
	if (r < 0) {
		store_net_list_free(list, n);
		return r;
	}
	*ret = list;
	*ret_n = n;
	return 0;
}
