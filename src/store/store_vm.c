/*
 * store_vm: the vms table, one row per defined VM. The row is what the
 * daemon needs to find a VM again after a restart: its spec, its state and
 * which QEMU process (pid plus start time, since pids are reused) is its.
 *
 * Each function is one statement and so one transaction of its own.
 */
#include <string.h>

#include "store/store-private.h"

#define VM_COLUMNS                                                                            \
	"id, name, spec, state, pid, pid_start, created_ms, started_ms, crash_log, current_snap, " \
	"origin, fork_pending"

/* clang-format off */
static const char *const sql[_STMT_MAX] = {
	[STMT_VM_INSERT] = "INSERT INTO vms (" VM_COLUMNS ") VALUES (:id, :name, :spec, :state, "
			   ":pid, :pid_start, :created_ms, :started_ms, :crash_log, "
			   ":current_snap, :origin, :fork_pending)",
	/* id and created_ms never change. */
	[STMT_VM_UPDATE] = "UPDATE vms SET name = :name, spec = :spec, state = :state, pid = :pid, "
			   "pid_start = :pid_start, started_ms = :started_ms, "
			   "crash_log = :crash_log, current_snap = :current_snap, "
			   "origin = :origin, fork_pending = :fork_pending WHERE id = :id",
	[STMT_VM_DELETE] = "DELETE FROM vms WHERE id = ?1",
	[STMT_VM_GET] = "SELECT " VM_COLUMNS " FROM vms WHERE name = ?1",
	[STMT_VM_LIST] = "SELECT " VM_COLUMNS " FROM vms ORDER BY name",
	[STMT_VM_COUNT] = "SELECT count(*) FROM vms",
	[STMT_SNAP_DELETE_VM] = "DELETE FROM snapshots WHERE vm_id = ?1",
};
/* clang-format on */

static int prepare(struct store *s, enum store_stmt id, sqlite3_stmt **ret)
{
	return store_stmt(s, id, sql[id], ret);
}

void store_vm_free(struct store_vm *vm)
{
	if (!vm)
		return;
	free(vm->spec_json);
	free(vm->crash_log);
	free(vm);
}

static inline void store_vm_freep(struct store_vm **vm)
{
	store_vm_free(*vm);
}

void store_vm_list_free(struct store_vm **list, size_t n)
{
	if (!list)
		return;
	for (size_t i = 0; i < n; i++)
		store_vm_free(list[i]);
	free(list);
}

/* Bind every column the statement names; INSERT and UPDATE share this. */
static int vm_bind(struct store *s, sqlite3_stmt *st, const struct store_vm *vm)
{
	const struct {
		const char *param;
		const char *value;
	} texts[] = {
		{":id", vm->id},
		{":name", vm->name},
		{":spec", vm->spec_json},
		{":state", vm->state},
		{":crash_log", vm->crash_log},
		{":current_snap", vm->current_snap[0] ? vm->current_snap : NULL},
		{":origin", vm->origin[0] ? vm->origin : NULL},
	};
	const struct {
		const char *param;
		int64_t value;
	} ints[] = {
		{":pid", vm->pid},
		/* starttime counts clock ticks since boot: far below 2^63. */
		{":pid_start", (int64_t)vm->pid_start},
		{":created_ms", vm->created_ms},
		{":started_ms", vm->started_ms},
		{":fork_pending", vm->fork_pending},
	};
	int idx, r;

	for (size_t i = 0; i < ARRAY_SIZE(texts); i++) {
		idx = sqlite3_bind_parameter_index(st, texts[i].param);
		if (idx == 0)
			continue;
		r = store_bind_text(s, st, idx, texts[i].value);
		if (r < 0)
			return r;
	}
	for (size_t i = 0; i < ARRAY_SIZE(ints); i++) {
		idx = sqlite3_bind_parameter_index(st, ints[i].param);
		if (idx == 0)
			continue;
		int rc = sqlite3_bind_int64(st, idx, ints[i].value);
		if (rc != SQLITE_OK)
			return store_fail(s, rc, "binding a value");
	}
	return 0;
}

/* Run INSERT or UPDATE for vm; -ENOENT when an UPDATE matched no row. */
static int vm_write(struct store *s, enum store_stmt id, const struct store_vm *vm,
		    const char *what)
{
	_cleanup_stmt_reset_ sqlite3_stmt *st = NULL;
	int r;

	if (!vm->spec_json)
		return -EINVAL;
	r = prepare(s, id, &st);
	if (r < 0)
		return r;
	r = vm_bind(s, st, vm);
	if (r < 0)
		return r;
	r = store_step_done(s, st, what);
	if (r < 0)
		return r;
	return sqlite3_changes(s->db) > 0 ? 0 : -ENOENT;
}

int store_vm_insert(struct store *s, const struct store_vm *vm)
{
	return vm_write(s, STMT_VM_INSERT, vm, "inserting a VM");
}

int store_vm_update(struct store *s, const struct store_vm *vm)
{
	return vm_write(s, STMT_VM_UPDATE, vm, "updating a VM");
}

static int delete_by_id(struct store *s, enum store_stmt id, const char *vm_id)
{
	_cleanup_stmt_reset_ sqlite3_stmt *st = NULL;
	int r;

	r = prepare(s, id, &st);
	if (r >= 0)
		r = store_bind_text(s, st, 1, vm_id);
	if (r >= 0)
		r = store_step_done(s, st, "deleting a VM");
	if (r < 0)
		return r;
	return sqlite3_changes(s->db) > 0 ? 0 : -ENOENT;
}

int store_vm_delete(struct store *s, const char *id)
{
	int r = store_begin(s, "deleting a VM");

	if (r < 0)
		return r;
	r = delete_by_id(s, STMT_SNAP_DELETE_VM, id);
	if (r == 0 || r == -ENOENT)
		r = delete_by_id(s, STMT_VM_DELETE, id);
	return store_commit(s, r, "deleting a VM");
}

/* The current row of st (VM_COLUMNS order) as a new struct store_vm. */
static int vm_from_row(sqlite3_stmt *st, struct store_vm **ret)
{
	_cleanup_(store_vm_freep) struct store_vm *vm = calloc(1, sizeof(*vm));
	const char *spec = (const char *)sqlite3_column_text(st, 2);
	const char *crash_log = (const char *)sqlite3_column_text(st, 8);
	int r;

	if (!vm)
		return -ENOMEM;
	r = store_column_copy(st, 0, vm->id, sizeof(vm->id), "reading a VM's id");
	if (r >= 0)
		r = store_column_copy(st, 1, vm->name, sizeof(vm->name), "reading a VM's name");
	if (r >= 0)
		r = store_column_copy(st, 3, vm->state, sizeof(vm->state), "reading a VM's state");
	if (r < 0)
		return r;
	vm->spec_json = strdup(spec ? spec : "");
	if (!vm->spec_json)
		return -ENOMEM;
	if (crash_log) {
		vm->crash_log = strdup(crash_log);
		if (!vm->crash_log)
			return -ENOMEM;
	}
	vm->pid = sqlite3_column_int(st, 4);
	vm->pid_start = (uint64_t)sqlite3_column_int64(st, 5);
	vm->created_ms = sqlite3_column_int64(st, 6);
	vm->started_ms = sqlite3_column_int64(st, 7);
	if (store_column_copy(st, 9, vm->current_snap, sizeof(vm->current_snap),
			      "reading a VM's snapshot") < 0 ||
	    store_column_copy(st, 10, vm->origin, sizeof(vm->origin), "reading a VM's origin") < 0)
		return -EIO;
	vm->fork_pending = sqlite3_column_int(st, 11);
	*ret = TAKE_PTR(vm);
	return 0;
}

int store_vm_get(struct store *s, const char *name, struct store_vm **ret)
{
	_cleanup_stmt_reset_ sqlite3_stmt *st = NULL;
	int rc, r;

	r = prepare(s, STMT_VM_GET, &st);
	if (r >= 0)
		r = store_bind_text(s, st, 1, name);
	if (r < 0)
		return r;
	rc = sqlite3_step(st);
	if (rc == SQLITE_DONE)
		return -ENOENT;
	if (rc != SQLITE_ROW)
		return store_fail(s, rc, "reading a VM");
	return vm_from_row(st, ret);
}

int store_vm_list(struct store *s, struct store_vm ***ret, size_t *ret_n)
{
	_cleanup_stmt_reset_ sqlite3_stmt *st = NULL;
	struct store_vm **list = NULL;
	size_t n = 0, cap = 0;
	int rc, r;

	r = prepare(s, STMT_VM_LIST, &st);
	if (r < 0)
		return r;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		r = store_grow((void **)&list, &cap, n, sizeof(*list));
		if (r >= 0)
			r = vm_from_row(st, &list[n]);
		if (r < 0)
			break;
		n++;
	}
	if (r >= 0 && rc != SQLITE_DONE)
		r = store_fail(s, rc, "listing VMs");
	if (r < 0) {
		store_vm_list_free(list, n);
		return r;
	}
	*ret = list;
	*ret_n = n;
	return 0;
}

int store_vm_count(struct store *s, size_t *ret_n)
{
	_cleanup_stmt_reset_ sqlite3_stmt *st = NULL;
	int rc, r;

	r = prepare(s, STMT_VM_COUNT, &st);
	if (r < 0)
		return r;
	rc = sqlite3_step(st);
	if (rc != SQLITE_ROW)
		return store_fail(s, rc, "counting VMs");
	*ret_n = (size_t)sqlite3_column_int64(st, 0);
	return 0;
}
