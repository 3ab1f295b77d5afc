/*
 * schema: the database layout as an ordered list of migrations. Entry i
 * takes a database from PRAGMA user_version i to i + 1; a new release adds
 * entries and never edits old ones, since databases in the field have
 * already run them.
 *
 * Each migration runs in its own IMMEDIATE transaction that also re-reads
 * and bumps user_version, so a crash half-way leaves the previous version
 * intact and two processes opening the same database cannot both apply it.
 */
#include <string.h>

#include "store/store-private.h"

/* clang-format off */
static const char *const migrations[] = {
	/* 1: VMs and the event log. Events name VMs by name, not by a foreign
	 * key: the log outlives the VMs it mentions. */
	"CREATE TABLE vms ("
	"  id TEXT PRIMARY KEY,"
	"  name TEXT UNIQUE NOT NULL,"
	"  spec TEXT NOT NULL,"
	"  state TEXT NOT NULL,"
	"  pid INTEGER,"
	"  pid_start INTEGER,"
	"  created_ms INTEGER,"
	"  started_ms INTEGER,"
	"  crash_log TEXT"
	");"
	"CREATE TABLE events ("
	"  seq INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  time_ms INTEGER NOT NULL,"
	"  vm TEXT NOT NULL,"
	"  action TEXT NOT NULL,"
	"  result TEXT NOT NULL,"
	"  uid INTEGER NOT NULL"
	");"
	"CREATE INDEX events_vm_time ON events (vm, time_ms);",
	/* 2: snapshots, and what a VM descends from. current_snap is the
	 * snapshot the VM's present state grew from (the parent of the next
	 * one); origin the VM a linked clone was made from; fork_pending that
	 * the guest has yet to be told it is a new machine. */
	"CREATE TABLE snapshots ("
	"  id TEXT PRIMARY KEY,"
	"  vm_id TEXT NOT NULL,"
	"  name TEXT NOT NULL,"
	"  parent TEXT,"
	"  created_ms INTEGER NOT NULL,"
	"  memory INTEGER NOT NULL,"
	"  vm_state TEXT NOT NULL,"
	"  spec TEXT NOT NULL,"
	"  memory_size INTEGER NOT NULL,"
	"  disk_size INTEGER NOT NULL,"
	"  UNIQUE (vm_id, name)"
	");"
	"ALTER TABLE vms ADD COLUMN current_snap TEXT;"
	"ALTER TABLE vms ADD COLUMN origin TEXT;"
	"ALTER TABLE vms ADD COLUMN fork_pending INTEGER NOT NULL DEFAULT 0;",
	/* 3: networks. idx numbers the network's bridges (wn<idx>), so it
	 * stays with the network for its life; config is the network's JSON. */
	"CREATE TABLE networks ("
	"  name TEXT PRIMARY KEY,"
	"  idx INTEGER UNIQUE NOT NULL,"
	"  config TEXT NOT NULL,"
	"  created_ms INTEGER NOT NULL"
	");",
	/* 4: migrations in progress, on either side. phase is written before
	 * the step it names is taken, so a restart knows what to finish or
	 * undo; info is the migration's JSON (mode, storage, what the VM was). */
	"CREATE TABLE migrations ("
	"  id TEXT PRIMARY KEY,"
	"  vm_id TEXT NOT NULL,"
	"  vm_name TEXT NOT NULL,"
	"  role TEXT NOT NULL,"
	"  peer TEXT NOT NULL,"
	"  phase TEXT NOT NULL,"
	"  info TEXT NOT NULL,"
	"  created_ms INTEGER NOT NULL"
	");",
	/* 5: settings of this daemon that outlive a restart, one JSON value
	 * per key (the cluster it is a member of). */
	"CREATE TABLE settings ("
	"  key TEXT PRIMARY KEY,"
	"  value TEXT NOT NULL"
	");",
};
/* clang-format on */

static int version_get(struct store *s, int *ret)
{
	_cleanup_stmt_finalize_ sqlite3_stmt *st = NULL;
	int rc;

	rc = sqlite3_prepare_v2(s->db, "PRAGMA user_version", -1, &st, NULL);
	if (rc != SQLITE_OK)
		return store_fail(s, rc, "reading the schema version");
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW)
		return store_fail(s, rc, "reading the schema version");
	*ret = sqlite3_column_int(st, 0);
	return 0;
}

static int exec_sql(struct store *s, const char *sql, const char *what)
{
	int rc = sqlite3_exec(s->db, sql, NULL, NULL, NULL);

	return rc == SQLITE_OK ? 0 : store_fail(s, rc, what);
}

/* Apply migration number `to` - 1 unless another process already did. */
static int migrate_one(struct store *s, int to)
{
	char bump[48], what[64];
	int v, r;

	snprintf(what, sizeof(what), "migrating the schema to version %d", to);
	r = exec_sql(s, "BEGIN IMMEDIATE", what);
	if (r < 0)
		return r;
	r = version_get(s, &v);
	if (r >= 0 && v < to) {
		/* PRAGMA takes no bound parameters; to is our own integer. */
		snprintf(bump, sizeof(bump), "PRAGMA user_version = %d", to);
		r = exec_sql(s, migrations[to - 1], what);
		if (r >= 0)
			r = exec_sql(s, bump, what);
	}
	if (r >= 0)
		r = exec_sql(s, "COMMIT", what);
	if (r < 0)
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
	return r;
}

int store_migrate(struct store *s)
{
	const int newest = (int)ARRAY_SIZE(migrations);
	int v, r;

	r = version_get(s, &v);
	if (r < 0)
		return r;
	if (v > newest) {
		log_error("store: the database has schema version %d, newer than the %d this "
			  "Warren knows; refusing to touch it",
			  v, newest);
		return -EPROTO;
	}
	for (int to = v + 1; to <= newest; to++) {
		r = migrate_one(s, to);
		if (r < 0)
			return r;
		log_info("store: schema now at version %d", to);
	}
	return 0;
}
