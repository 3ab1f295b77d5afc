/*
 * snapshot: named snapshots of a VM, a tree of them, restore and delete.
 *
 * Disks: an internal qcow2 snapshot in every writable disk, tagged with
 * the snapshot's id. qcow2 counts references to its clusters, so deleting
 * any snapshot (first, middle, last) drops its references and frees what
 * nothing else uses; nothing is ever merged into anything else. A running
 * VM's disks are tagged in one QMP transaction; a stopped VM's with
 * qemu-img, disk after disk, undoing the tags made when one fails.
 *
 * Memory: for a running (or paused) VM, QEMU's migration stream written to
 * snap-<id>.state.tmp while the guest is paused, renamed to snap-<id>.state
 * when QEMU reports completion. Restoring such a snapshot reverts the
 * disks and starts QEMU loading that file (the suspend path, through a
 * hard link named memory.state), so the guest continues where it was.
 *
 * The store row is the commit point of a new snapshot (data first, row
 * last) and the first thing to go when one is deleted (row first, data
 * after): a crash between leaves unreferenced data, swept at start-up,
 * never a row that names missing data.
 */
#include <dirent.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

#include "daemon/internal.h"

struct snap_job {
	struct daemon *d;
	struct vm_rt *vm;
	struct op *op;
	struct store_snap snap;
	char parent_name[64]; /* of snap.parent, for the answer */
	char why[160];        /* a failure being rolled back */
	struct reply *reply; /* delete: answered when the data is gone */
	bool was_running;
	unsigned pending; /* QMP replies still due */
	bool qmp_failed;
	int uid;
};

static void job_free(struct snap_job *j)
{
	free(j->snap.spec_json);
	free(j);
}

/* The operation is over; the VM is free again. */
static void job_end(struct snap_job *j, const struct werr *err, const char *message)
{
	if (j->vm->busy_op == j->op)
		j->vm->busy_op = NULL;
	if (j->op)
		op_finish(j->op, err, message);
	job_free(j);
}

static int snap_file(const struct vm_rt *vm, const char *id, bool tmp, char *buf, size_t len)
{
	char file[64];

	snprintf(file, sizeof(file), "snap-%s.state%s", id, tmp ? ".tmp" : "");
	return vm_rt_data(vm, file, buf, len);
}

/* qemu-img snapshot <flag> <tag> <disk> for every writable disk. */
static size_t tag_argvs(const struct vm_rt *vm, const char *flag, const char *tag, char ****ret)
{
	char ***argvs = calloc(VM_MAX_DISKS, sizeof(*argvs));
	char path[PATH_MAX];
	size_t n = 0;

	for (size_t i = 0; argvs && i < vm->spec->n_disks; i++) {
		if (vm->spec->disks[i].readonly || vm_rt_disk_path(vm, i, path, sizeof(path)) < 0)
			continue;
		if (strv_push(&argvs[n], "qemu-img") < 0 || strv_push(&argvs[n], "snapshot") < 0 ||
		    strv_push(&argvs[n], flag) < 0 || strv_push(&argvs[n], tag) < 0 ||
		    strv_push(&argvs[n], path) < 0) {
			n++;
			break;
		}
		n++;
	}
	*ret = argvs;
	return n;
}

static size_t writable_disks(const struct vm_rt *vm)
{
	size_t n = 0;

	for (size_t i = 0; i < vm->spec->n_disks; i++)
		n += !vm->spec->disks[i].readonly;
	return n;
}

/* Run qemu-img over every writable disk's tag; done as imgjob's. */
static int run_tags(struct snap_job *j, const char *flag, imgjob_done_fn done)
{
	char ***argvs, log[PATH_MAX];
	size_t n = tag_argvs(j->vm, flag, j->snap.id, &argvs);

	if (!argvs)
		return -ENOMEM;
	if (vm_rt_dir(j->vm, "snapshot.log", log, sizeof(log)) < 0) {
		for (size_t i = 0; i < n; i++)
			strv_free(argvs[i]);
		free(argvs);
		return -ENAMETOOLONG;
	}
	return imgjob_run(j->d, argvs, n, NULL, NULL, log, done, j, NULL);
}

/* ---- listing -------------------------------------------------------------- */

static int snaps_load(struct daemon *d, const struct vm_rt *vm, struct store_snap **ret,
		      size_t *ret_n)
{
	return store_snap_list(d->store, vm->id, ret, ret_n);
}

/* The snapshot of that id (by_id) or name in list, or NULL. */
static const struct store_snap *snap_lookup(const struct store_snap *list, size_t n,
					    const char *key, bool by_id)
{
	for (size_t i = 0; key && *key && i < n; i++)
		if (strcmp(by_id ? list[i].id : list[i].name, key) == 0)
			return &list[i];
	return NULL;
}

static const char *parent_name(const struct store_snap *list, size_t n,
			       const struct store_snap *s)
{
	const struct store_snap *p = snap_lookup(list, n, s->parent, true);

	return p ? p->name : "";
}

/* parent: the parent's name, "" for none. */
static json_t *snap_to_json(const struct vm_rt *vm, const struct store_snap *s, const char *parent)
{
	return json_pack("{s:s, s:s, s:o, s:o, s:b, s:s, s:I, s:I, s:I, s:b}", "id", s->id,
			 "name", s->name, "parent", *parent ? json_string(parent) : json_null(),
			 "created_at", json_time_ms(s->created_ms), "memory", s->memory,
			 "vm_state", s->vm_state, "size",
			 (json_int_t)(s->memory_size + s->disk_size), "memory_size",
			 (json_int_t)s->memory_size, "disk_size", (json_int_t)s->disk_size,
			 "current", strcmp(vm->current_snap, s->id) == 0);
}

int snapshot_count(struct daemon *d, const char *vm_id)
{
	struct store_snap *list = NULL;
	size_t n = 0;
	int r = store_snap_list(d->store, vm_id, &list, &n);

	store_snap_list_free(list, n);
	return r < 0 ? r : (int)n;
}

int snapshot_find(struct daemon *d, const struct vm_rt *vm, const char *name,
		  struct store_snap *ret, char *ret_parent, struct werr *err)
{
	struct store_snap *list = NULL;
	const struct store_snap *s;
	size_t n = 0;
	int k = store_snap_list(d->store, vm->id, &list, &n);

	if (k < 0)
		return werr_internal(err, k, "reading snapshots"), k;
	s = snap_lookup(list, n, name, false);
	if (!s) {
		store_snap_list_free(list, n);
		return werr_set(err, -ENOENT, "not_found", "snapshot",
				"%s has no snapshot named '%s'", vm->spec->name, name);
	}
	if (ret_parent)
		snprintf(ret_parent, 64, "%s", parent_name(list, n, s));
	*ret = *s;
	list[s - list].spec_json = NULL;
	store_snap_list_free(list, n);
	return 0;
}

static int snap_find_or_reply(struct daemon *d, struct vm_rt *vm, const char *name,
			      struct store_snap *ret, char *ret_parent, struct reply *r)
{
	struct werr err;
	int k = snapshot_find(d, vm, name, ret, ret_parent, &err);

	if (k < 0)
		reply_error(r, &err);
	return k;
}

void daemon_snapshot_list(struct daemon *d, const char *name, struct reply *r)
{
	struct vm_rt *vm = vm_find_or_reply(d, name, r);
	struct store_snap *list = NULL;
	size_t n = 0;
	struct werr err;
	json_t *arr;
	int k;

	if (!vm)
		return;
	k = snaps_load(d, vm, &list, &n);
	if (k < 0) {
		werr_internal(&err, k, "reading snapshots");
		reply_error(r, &err);
		return;
	}
	arr = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(arr, snap_to_json(vm, &list[i], parent_name(list, n, &list[i])));
	store_snap_list_free(list, n);
	reply_json(r, 200, json_pack("{s:o}", "snapshots", arr));
}

void daemon_snapshot_get(struct daemon *d, const char *name, const char *snap, struct reply *r)
{
	struct vm_rt *vm = vm_find_or_reply(d, name, r);
	char parent[64];
	struct store_snap s;

	if (!vm || snap_find_or_reply(d, vm, snap, &s, parent, r) < 0)
		return;
	free(s.spec_json);
	reply_json(r, 200, snap_to_json(vm, &s, parent));
}

/* ---- taking a snapshot ---------------------------------------------------- */

static uint64_t file_bytes(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 ? (uint64_t)st.st_blocks * 512 : 0;
}

static void untag_after_failure(struct snap_job *j, const char *why);

static void create_commit(struct snap_job *j)
{
	struct vm_rt *vm = j->vm;
	char path[PATH_MAX], mem[PATH_MAX] = "", msg[128];
	int k;

	for (size_t i = 0; i < vm->spec->n_disks; i++)
		if (!vm->spec->disks[i].readonly && vm_rt_disk_path(vm, i, path, sizeof(path)) == 0)
			j->snap.disk_size += file_bytes(path);
	if (j->snap.memory && snap_file(vm, j->snap.id, false, mem, sizeof(mem)) == 0)
		j->snap.memory_size = file_bytes(mem);
	k = store_snap_insert(j->d->store, &j->snap);
	if (k < 0) {
		/* Nothing of an unrecorded snapshot may remain. */
		log_error_errno(k, "%s: cannot record snapshot %s", vm->spec->name, j->snap.name);
		if (*mem)
			unlink(mem);
		untag_after_failure(j, "the snapshot could not be recorded");
		return;
	}
	snprintf(vm->current_snap, sizeof(vm->current_snap), "%s", j->snap.id);
	op_set_result(j->op,
		      json_pack("{s:o}", "snapshot", snap_to_json(vm, &j->snap, j->parent_name)));
	log_info("%s: snapshot %s taken (%s)", vm->spec->name, j->snap.name,
		 j->snap.memory ? "disks and memory" : "disks");
	events_emit_action(j->d, vm->spec->name, "snapshot", "ok", j->uid);
	snprintf(msg, sizeof(msg), "snapshot %s taken", j->snap.name);
	job_end(j, NULL, msg);
}

static void create_failed(struct snap_job *j, const char *code, const char *why)
{
	struct werr err;

	werr_set(&err, -EIO, code, "", "snapshot %s of %s %s: %s", j->snap.name,
		 j->vm->spec->name, strcmp(code, "cancelled") == 0 ? "cancelled" : "failed", why);
	log_warn("%s", err.message);
	events_emit_action(j->d, j->vm->spec->name, "snapshot", code, j->uid);
	if (j->was_running && j->vm->qmp)
		vm_rt_cont(j->vm);
	job_end(j, &err, NULL);
}

/* Stopped VM: tags made with qemu-img; a failure removes those made. */
static void on_untagged_after_failure(void *ud, int failed, const char *message)
{
	struct snap_job *j = ud;

	create_failed(j, "unavailable", j->why);
}

static void on_tagged(void *ud, int failed, const char *message)
{
	struct snap_job *j = ud;

	if (failed < 0) {
		create_commit(j);
		return;
	}
	log_warn("%s: snapshot tag failed on a disk: %s", j->vm->spec->name, message);
	/* Tags were made in disk order up to the failure; untagging in the
	 * same order stops at the first disk without one. */
	untag_after_failure(j, message);
}

/* Running VM: QMP. */
static void delete_tags_qmp(struct snap_job *j, qmp_reply_fn fn)
{
	struct vm_rt *vm = j->vm;

	j->pending = 0;
	j->qmp_failed = false;
	for (size_t i = 0; vm->qmp && i < vm->spec->n_disks; i++) {
		char node[48];
		if (vm->spec->disks[i].readonly)
			continue;
		snprintf(node, sizeof(node), "fmt-%s", vm->spec->disks[i].name);
		if (qmp_execute(vm->qmp, "blockdev-snapshot-delete-internal-sync",
				json_pack("{s:s, s:s}", "device", node, "name", j->snap.id),
				fn, j) == 0)
			j->pending++;
	}
}

/* Remove the tags a failed snapshot made on every writable disk, then
 * report the failure. */
static void untag_after_failure(struct snap_job *j, const char *why)
{
	snprintf(j->why, sizeof(j->why), "%s", why);
	if (j->vm->qmp) {
		delete_tags_qmp(j, NULL);
		create_failed(j, "unavailable", why);
	} else if (run_tags(j, "-d", on_untagged_after_failure) < 0) {
		create_failed(j, "unavailable", why);
	}
}

static void save_rollback(struct snap_job *j, const char *code, const char *why)
{
	char tmp[PATH_MAX];

	if (snap_file(j->vm, j->snap.id, true, tmp, sizeof(tmp)) == 0)
		unlink(tmp);
	delete_tags_qmp(j, NULL);
	create_failed(j, code, why);
}

static void saving_end(struct snap_job *j)
{
	j->vm->snap_saving = NULL;
	migration_watch(j->vm, NULL);
}

static void on_save_cancel(struct op *op, void *ud)
{
	struct snap_job *j = ud;

	if (j->vm->snap_saving == j && j->vm->qmp)
		qmp_execute(j->vm->qmp, "migrate_cancel", NULL, NULL, NULL);
}

static void on_migrate(struct qmp *q, json_t *result, const struct qmp_error *e, void *ud)
{
	struct snap_job *j = ud;

	if (e && j->vm->snap_saving == j) {
		saving_end(j);
		save_rollback(j, "unavailable", e->desc);
	}
}

static void on_saved_cont(struct qmp *q, json_t *result, const struct qmp_error *e, void *ud)
{
	struct snap_job *j = ud;

	if (e)
		log_warn("%s: the guest did not run on after its snapshot: %s", j->vm->spec->name,
			 e->desc);
	else if (j->vm->state == VM_PAUSED)
		vm_rt_set_state(j->vm, VM_RUNNING);
	create_commit(j);
}

bool snapshot_on_migration(struct vm_rt *vm, const char *status)
{
	struct snap_job *j = vm->snap_saving;
	char tmp[PATH_MAX], final[PATH_MAX];

	if (!j || !status)
		return false;
	if (strcmp(status, "completed") != 0 && strcmp(status, "failed") != 0 &&
	    strcmp(status, "cancelled") != 0)
		return true;
	saving_end(j);
	if (strcmp(status, "completed") == 0 &&
	    snap_file(vm, j->snap.id, true, tmp, sizeof(tmp)) == 0 &&
	    snap_file(vm, j->snap.id, false, final, sizeof(final)) == 0 && rename(tmp, final) == 0) {
		/* Finished when the guest runs again, so that whoever waits on
		 * the operation finds it running. */
		if (j->was_running && vm->qmp) {
			vm_rt_cont_then(vm, on_saved_cont, j);
			return true;
		}
		create_commit(j);
		return true;
	}
	save_rollback(j, strcmp(status, "cancelled") == 0 ? "cancelled" : "unavailable",
		      strcmp(status, "completed") == 0 ? "the memory file could not be kept"
						       : "QEMU could not save the memory");
	return true;
}

static void on_transaction(struct qmp *q, json_t *result, const struct qmp_error *e, void *ud)
{
	struct snap_job *j = ud;
	struct vm_rt *vm = j->vm;
	char tmp[PATH_MAX];

	if (e) {
		create_failed(j, "unavailable", e->desc);
		return;
	}
	if (!j->snap.memory) {
		create_commit(j);
		return;
	}
	if (op_cancel_asked(j->op)) {
		save_rollback(j, "cancelled", "cancelled before the memory was saved");
		return;
	}
	if (snap_file(vm, j->snap.id, true, tmp, sizeof(tmp)) < 0 ||
	    migration_fd_start(vm, tmp, true, on_migrate, j) < 0) {
		save_rollback(j, "unavailable", "cannot hand QEMU the memory file");
		return;
	}
	vm->snap_saving = j; /* QEMU is writing the memory file */
	migration_watch(vm, j->op);
}

static void create_running(struct snap_job *j)
{
	struct vm_rt *vm = j->vm;
	json_t *actions = json_array();

	for (size_t i = 0; i < vm->spec->n_disks; i++) {
		char node[48];
		if (vm->spec->disks[i].readonly)
			continue;
		snprintf(node, sizeof(node), "fmt-%s", vm->spec->disks[i].name);
		json_array_append_new(actions,
				      json_pack("{s:s, s:{s:s, s:s}}", "type",
						"blockdev-snapshot-internal-sync", "data", "device",
						node, "name", j->snap.id));
	}
	/* Paused first when memory is saved: disks and memory then belong to
	 * one instant. */
	if (j->snap.memory && j->was_running)
		qmp_execute(vm->qmp, "stop", NULL, NULL, NULL);
	op_progress(j->op, -1, "tagging disks", -1, -1);
	qmp_execute(vm->qmp, "transaction", json_pack("{s:o}", "actions", actions), on_transaction,
		    j);
}

static int snap_name_check(const char *name, struct werr *err)
{
	/* The same rule as VM names: it shows up in paths of exported bases. */
	return vm_name_validate(name, err);
}

static int create_args(struct vm_rt *vm, json_t *body, const char **ret_name, bool *ret_memory,
		       struct werr *err)
{
	json_t *n = json_object_get(body, "name"), *m = json_object_get(body, "memory");
	bool active = vm->state == VM_RUNNING || vm->state == VM_PAUSED;
	const char *key;
	json_t *v;

	json_object_foreach(body, key, v)
		if (strcmp(key, "name") != 0 && strcmp(key, "memory") != 0)
			return werr_set(err, -EINVAL, "invalid", key, "unknown key '%s'", key);
	if (!json_is_string(n))
		return werr_set(err, -EINVAL, "invalid", "name", "name (a string) is required");
	if (snap_name_check(json_string_value(n), err) < 0)
		return -EINVAL;
	if (m && !json_is_boolean(m))
		return werr_set(err, -EINVAL, "invalid", "memory", "memory must be true or false");
	*ret_name = json_string_value(n);
	*ret_memory = m ? json_is_true(m) : active;
	if (*ret_memory && !active)
		return werr_set(err, -EBUSY, "conflict", "memory",
				"cannot save the memory of %s: it is %s (only a running or paused "
				"VM has memory to save)",
				vm->spec->name, vm_state_to_string(vm->state));
	if (!*ret_memory && writable_disks(vm) == 0)
		return werr_set(err, -EBUSY, "conflict", "", "%s has no writable disk to snapshot",
				vm->spec->name);
	if (vm->state != VM_RUNNING && vm->state != VM_PAUSED && vm->state != VM_STOPPED &&
	    vm->state != VM_CRASHED)
		return werr_set(err, -EBUSY, "conflict", "", "cannot snapshot %s: it is %s",
				vm->spec->name, vm_state_to_string(vm->state));
	if (active && !vm->qmp)
		return werr_set(err, -EBUSY, "unavailable", "",
				"cannot snapshot %s: its QEMU monitor is not connected",
				vm->spec->name);
	return 0;
}

static struct snap_job *job_new(struct daemon *d, struct vm_rt *vm, const char *action,
				const struct caller *c, struct werr *err)
{
	struct snap_job *j = calloc(1, sizeof(*j));

	if (j)
		j->op = op_new(d, vm->spec->name, action);
	if (!j || !j->op) {
		free(j);
		werr_internal(err, -ENOMEM, "starting the operation");
		return NULL;
	}
	j->d = d;
	j->vm = vm;
	j->uid = (int)c->uid;
	vm->busy_op = j->op;
	return j;
}

void daemon_snapshot_create(struct daemon *d, const struct caller *c, const char *name,
			    json_t *body, struct reply *r)
{
	struct vm_rt *vm = vm_find_or_reply(d, name, r);
	const char *snap_name = NULL;
	struct store_snap *list = NULL;
	struct snap_job *j = NULL;
	struct werr err;
	bool memory = false;
	size_t n = 0;
	json_t *spec;
	int k;

	if (!vm)
		return;
	if (vm_rt_check_idle(vm, "snapshot", &err) < 0 ||
	    create_args(vm, body, &snap_name, &memory, &err) < 0) {
		reply_error(r, &err);
		return;
	}
	k = snaps_load(d, vm, &list, &n);
	if (k < 0) {
		werr_internal(&err, k, "reading snapshots");
	} else if (snap_lookup(list, n, snap_name, false)) {
		werr_set(&err, -EEXIST, "conflict", "name", "%s already has a snapshot named '%s'",
			 name, snap_name);
	} else if ((j = job_new(d, vm, "snapshot", c, &err))) {
		const struct store_snap *cur = snap_lookup(list, n, vm->current_snap, true);
		snprintf(j->parent_name, sizeof(j->parent_name), "%s", cur ? cur->name : "");
	}
	store_snap_list_free(list, n);
	if (!j) {
		reply_error(r, &err);
		return;
	}
	spec = vm_spec_to_json(vm->spec);
	j->snap.spec_json = spec ? json_dumps(spec, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	json_decref(spec);
	if (!j->snap.spec_json || id_random_hex(j->snap.id, 8) < 0) {
		werr_internal(&err, -ENOMEM, "starting the snapshot");
		reply_error(r, &err);
		job_end(j, &err, NULL);
		return;
	}
	snprintf(j->snap.vm_id, sizeof(j->snap.vm_id), "%s", vm->id);
	snprintf(j->snap.name, sizeof(j->snap.name), "%s", snap_name);
	snprintf(j->snap.parent, sizeof(j->snap.parent), "%s", vm->current_snap);
	snprintf(j->snap.vm_state, sizeof(j->snap.vm_state), "%s", vm_state_to_string(vm->state));
	j->snap.created_ms = (int64_t)now_realtime_ms();
	j->snap.memory = memory;
	j->was_running = vm->state == VM_RUNNING;
	if (vm->qmp && memory)
		op_set_cancel(j->op, on_save_cancel, j);
	events_emit_action(d, name, "snapshot", "accepted", (int)c->uid);
	reply_json(r, 202, json_pack("{s:o}", "operation", op_to_json(j->op)));
	if (vm->qmp)
		create_running(j);
	else if (run_tags(j, "-c", on_tagged) < 0)
		create_failed(j, "unavailable", "cannot run qemu-img");
}

/* No other work on the VM and no state change under way; else 409. */
static bool settled_or_reply(struct vm_rt *vm, const char *what, struct reply *r)
{
	struct werr err;

	if (vm_rt_check_idle(vm, what, &err) < 0) {
		reply_error(r, &err);
		return false;
	}
	if (vm->state != VM_STARTING && vm->state != VM_STOPPING && vm->state != VM_SUSPENDING)
		return true;
	werr_set(&err, -EBUSY, "conflict", "", "cannot %s %s: it is %s", what, vm->spec->name,
		 vm_state_to_string(vm->state));
	reply_error(r, &err);
	return false;
}

/* ---- deleting ------------------------------------------------------------- */

static void delete_answer(struct snap_job *j)
{
	if (j->reply)
		reply_json(j->reply, 200,
			   json_pack("{s:s, s:b}", "name", j->snap.name, "deleted", 1));
	j->reply = NULL;
	log_info("%s: snapshot %s deleted", j->vm->spec->name, j->snap.name);
	events_emit_action(j->d, j->vm->spec->name, "snapshot-delete", "ok", j->uid);
	job_end(j, NULL, "deleted");
}

static void on_untag_qmp(struct qmp *q, json_t *result, const struct qmp_error *e, void *ud)
{
	struct snap_job *j = ud;

	if (e)
		log_warn("%s: snapshot %s: a disk kept its tag: %s", j->vm->spec->name,
			 j->snap.name, e->desc);
	if (--j->pending == 0)
		delete_answer(j);
}

static void on_untagged(void *ud, int failed, const char *message)
{
	struct snap_job *j = ud;

	if (failed >= 0)
		log_warn("%s: snapshot %s: a disk kept its tag: %s", j->vm->spec->name,
			 j->snap.name, message);
	delete_answer(j);
}

void daemon_snapshot_delete(struct daemon *d, const struct caller *c, const char *name,
			    const char *snap, struct reply *r)
{
	struct vm_rt *vm = vm_find_or_reply(d, name, r);
	char path[PATH_MAX];
	struct store_snap s;
	struct snap_job *j;
	struct werr err;
	int k;

	if (!vm || !settled_or_reply(vm, "delete a snapshot of", r))
		return;
	if (snap_find_or_reply(d, vm, snap, &s, NULL, r) < 0)
		return;
	j = job_new(d, vm, "snapshot-delete", c, &err);
	if (!j) {
		free(s.spec_json);
		reply_error(r, &err);
		return;
	}
	j->snap = s;
	j->reply = r;
	k = store_snap_delete(d->store, &j->snap);
	if (k < 0) {
		werr_internal(&err, k, "removing the snapshot from the store");
		reply_error(TAKE_PTR(j->reply), &err);
		job_end(j, &err, NULL);
		return;
	}
	if (strcmp(vm->current_snap, j->snap.id) == 0)
		snprintf(vm->current_snap, sizeof(vm->current_snap), "%s", j->snap.parent);
	if (snap_file(vm, j->snap.id, false, path, sizeof(path)) == 0)
		unlink(path);
	if (vm->qmp) {
		delete_tags_qmp(j, on_untag_qmp);
		if (j->pending == 0)
			delete_answer(j);
	} else if (run_tags(j, "-d", on_untagged) < 0) {
		delete_answer(j);
	}
}

/* ---- restoring ------------------------------------------------------------ */

static void restore_failed(struct snap_job *j, const char *why)
{
	struct werr err;

	werr_set(&err, -EIO, "unavailable", "", "restoring %s of %s failed: %s", j->snap.name,
		 j->vm->spec->name, why);
	events_emit_action(j->d, j->vm->spec->name, "restore", err.code, j->uid);
	job_end(j, &err, NULL);
}

static void on_restore_cancel(struct op *op, void *ud)
{
	struct vm_rt *vm = ud;

	/* Only while the memory loads: the exit path finishes the operation
	 * and leaves the VM suspended at the snapshot. */
	if (vm->start_op == op && vm->pid > 0)
		vm_rt_poweroff(vm, NULL);
}

static void on_reverted(void *ud, int failed, const char *message)
{
	struct snap_job *j = ud;
	struct vm_rt *vm = j->vm;
	char from[PATH_MAX], to[PATH_MAX];

	/* Once any disk has moved, a suspended VM's saved memory belongs to
	 * disks that are gone; before that, a failure changed nothing. */
	if (failed != 0) {
		if (vm_rt_data(vm, "memory.state", to, sizeof(to)) == 0)
			unlink(to);
		if (vm->state == VM_SUSPENDED || vm->state == VM_CRASHED)
			vm_rt_set_state(vm, VM_STOPPED);
	}
	if (failed >= 0) {
		restore_failed(j, failed ? "a disk could not be reverted; the disks before it "
					   "were (restore again to finish)"
					 : message);
		return;
	}
	snprintf(vm->current_snap, sizeof(vm->current_snap), "%s", j->snap.id);
	vm_rt_persist(vm);
	events_emit_action(j->d, vm->spec->name, "restore", "ok", j->uid);
	if (!j->snap.memory) {
		log_info("%s: disks restored to snapshot %s", vm->spec->name, j->snap.name);
		op_set_result(j->op, json_pack("{s:o}", "vm", vm_rt_to_json(vm)));
		job_end(j, NULL, "restored");
		return;
	}
	/* The memory file stays the snapshot's; the VM gets a second name
	 * for it, which the resume removes as it does after a suspend. */
	if (snap_file(vm, j->snap.id, false, from, sizeof(from)) < 0 ||
	    vm_rt_data(vm, "memory.state", to, sizeof(to)) < 0 || link(from, to) < 0) {
		restore_failed(j, "the snapshot's memory file cannot be used");
		return;
	}
	vm_rt_set_state(vm, VM_SUSPENDED);
	vm->start_op = j->op;
	vm->busy_op = NULL;
	op_progress(j->op, -1, "loading memory", -1, -1);
	op_set_cancel(j->op, on_restore_cancel, vm);
	j->op = NULL; /* the start finishes it */
	log_info("%s: disks restored to snapshot %s; resuming its memory", vm->spec->name,
		 j->snap.name);
	job_free(j);
	vm_rt_start(vm, NULL);
}

static void restore_disks(struct vm_rt *vm, void *ud)
{
	struct snap_job *j = ud;

	op_progress(j->op, -1, "reverting disks", -1, -1);
	if (run_tags(j, "-a", on_reverted) < 0)
		restore_failed(j, "cannot run qemu-img");
}

/* Saved device state loads only into the same NICs (ports, models, MACs). */
static bool nics_match(const char *snap_spec_json, const struct vm_spec *now)
{
	_cleanup_(json_decrefp) json_t *j = json_loads(snap_spec_json, 0, NULL);
	_cleanup_vm_spec_ struct vm_spec *then = NULL;
	struct werr err;

	if (!j || vm_spec_load(j, &then, &err) < 0 || then->n_nics != now->n_nics)
		return false;
	for (size_t i = 0; i < now->n_nics; i++)
		if (strcmp(then->nics[i].name, now->nics[i].name) != 0 ||
		    then->nics[i].model != now->nics[i].model ||
		    !net_mac_equal(&then->nics[i].mac, &now->nics[i].mac))
			return false;
	return true;
}

void daemon_snapshot_restore(struct daemon *d, const struct caller *c, const char *name,
			     const char *snap, struct reply *r)
{
	struct vm_rt *vm = vm_find_or_reply(d, name, r);
	struct store_snap s;
	struct snap_job *j;
	struct werr err;
	bool active;

	if (!vm || !settled_or_reply(vm, "restore", r))
		return;
	if (snap_find_or_reply(d, vm, snap, &s, NULL, r) < 0)
		return;
	active = vm->state == VM_RUNNING || vm->state == VM_PAUSED;
	if (!s.memory && active) {
		werr_set(&err, -EBUSY, "conflict", "snapshot",
			 "snapshot %s of %s holds no memory; stop %s first to restore its disks",
			 s.name, name, name);
		free(s.spec_json);
		reply_error(r, &err);
		return;
	}
	if (s.memory && !nics_match(s.spec_json, vm->spec)) {
		werr_set(&err, -EBUSY, "conflict", "snapshot",
			 "snapshot %s of %s saved a guest with other NICs than %s has now; its "
			 "memory cannot be loaded (add or remove NICs back to how they were)",
			 s.name, name, name);
		free(s.spec_json);
		reply_error(r, &err);
		return;
	}
	j = job_new(d, vm, "restore", c, &err);
	if (!j) {
		free(s.spec_json);
		reply_error(r, &err);
		return;
	}
	j->snap = s;
	events_emit_action(d, name, "restore", "accepted", (int)c->uid);
	reply_json(r, 202, json_pack("{s:o}", "operation", op_to_json(j->op)));
	if (active) {
		/* The guest's present state is given up for the snapshot's. */
		op_progress(j->op, -1, "stopping the present guest", -1, -1);
		vm_rt_wait_gone(vm, NULL, restore_disks, j);
		vm_rt_poweroff(vm, NULL);
		return;
	}
	restore_disks(vm, j);
}

/* ---- start-up --------------------------------------------------------------- */

void snapshot_sweep(struct vm_rt *vm)
{
	struct store_snap *list = NULL;
	size_t n = 0;
	char dir[PATH_MAX], id[17];
	struct dirent *de;
	DIR *dh;

	if (vm_rt_data(vm, NULL, dir, sizeof(dir)) < 0 || snaps_load(vm->d, vm, &list, &n) < 0)
		return;
	dh = opendir(dir);
	while (dh && (de = readdir(dh))) {
		bool known = false;
		size_t len = strlen(de->d_name);
		if (strncmp(de->d_name, "snap-", 5) != 0 || len < 5 + 16 + 6)
			continue;
		snprintf(id, sizeof(id), "%.16s", de->d_name + 5);
		for (size_t i = 0; i < n && !known; i++)
			known = strcmp(list[i].id, id) == 0;
		if (known && strcmp(de->d_name + 5 + 16, ".state") == 0)
			continue;
		log_info("%s: removing %s (no snapshot owns it)", vm->spec->name, de->d_name);
		unlinkat(dirfd(dh), de->d_name, 0);
	}
	if (dh)
		closedir(dh);
	store_snap_list_free(list, n);
}
