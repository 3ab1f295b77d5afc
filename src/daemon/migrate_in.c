/*
 * migrate_in: the destination side of a migration (see migrate.c for the
 * protocol). The VM exists here from the prepare on, in state "incoming",
 * so that its name and id are taken; until the confirm is recorded,
 * rolling back (QEMU stopped, VM row, directories and, unless the storage
 * is shared, disks removed) is always safe, because the guest has not run
 * here.
 */
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

#include "daemon/mig-private.h"

#define MIG_DONE_KEEP_MS (24LL * 3600 * 1000)

static void in_rollback(struct mig *m);
static void prepare_failed(struct mig *m, const struct werr *err);

static bool hex_id(const char *s, size_t len)
{
	if (!s || strlen(s) != len)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

static json_t *answer_json(const struct mig *m)
{
	json_t *j = mig_to_json(m);
	char path[PATH_MAX];
	struct vm_rt *vm = mig_vm(m);

	json_object_set_new(j, "received", json_boolean(m->received));
	if (m->live && vm && vm_rt_dir(vm, "migrate.sock", path, sizeof(path)) == 0)
		json_object_set_new(j, "memory_uri", json_sprintf("unix:%s", path));
	if (m->live && !m->shared && vm && vm_rt_dir(vm, "nbd.sock", path, sizeof(path)) == 0)
		json_object_set_new(j, "nbd_socket", json_string(path));
	return json_pack("{s:o}", "migration", j);
}

/* ---- prepare ------------------------------------------------------------ */

static bool probe_seen(struct daemon *d, const char *vm_id, const char *mig_id,
		       const char *nonce)
{
	char path[PATH_MAX], buf[64] = "";
	_cleanup_close_ int fd = -1;
	ssize_t n;

	snprintf(path, sizeof(path), "%s/%s/migrate-%.32s.probe", d->cfg.storage_dir, vm_id, mig_id);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || (n = read(fd, buf, sizeof(buf) - 1)) <= 0)
		return false;
	buf[n] = '\0';
	return nonce && *nonce && strcmp(buf, nonce) == 0;
}

/* The spec as it will be here: a live copy's disks become standalone
 * files of the same size (the mirror fills them). */
static json_t *spec_here(json_t *vmj, json_t *sizes, bool flatten, struct werr *err)
{
	json_t *spec = json_deep_copy(json_object_get(vmj, "spec"));
	json_t *disk;
	size_t i;

	if (!json_is_object(spec)) {
		json_decref(spec);
		werr_set(err, -EINVAL, "invalid", "vm.spec", "the VM's spec is missing");
		return NULL;
	}
	json_array_foreach(json_object_get(spec, "disks"), i, disk) {
		json_t *size = json_object_get(sizes, json_string_value(json_object_get(disk, "name")) ?: "");
		if (!flatten)
			continue;
		if (!json_is_integer(size)) {
			json_decref(spec);
			werr_set(err, -EINVAL, "invalid", "disk_sizes", "the size of a disk is missing");
			return NULL;
		}
		json_object_set_new(disk, "image", json_null());
		json_object_set(disk, "size", size);
	}
	return spec;
}

static int import_snapshots(struct mig *m, json_t *list)
{
	json_t *s;
	size_t i;
	int k = 0;

	json_array_foreach(list, i, s) {
		struct store_snap row = {
			.created_ms = json_integer_value(json_object_get(s, "created_ms")),
			.memory = json_is_true(json_object_get(s, "memory")),
			.memory_size = (uint64_t)json_integer_value(json_object_get(s, "memory_size")),
			.disk_size = (uint64_t)json_integer_value(json_object_get(s, "disk_size")),
		};
		const char *spec = json_string_value(json_object_get(s, "spec"));
		snprintf(row.id, sizeof(row.id), "%s", json_string_value(json_object_get(s, "id")) ?: "");
		snprintf(row.vm_id, sizeof(row.vm_id), "%s", m->vm_id);
		snprintf(row.name, sizeof(row.name), "%s",
			 json_string_value(json_object_get(s, "name")) ?: "");
		snprintf(row.parent, sizeof(row.parent), "%s",
			 json_string_value(json_object_get(s, "parent")) ?: "");
		snprintf(row.vm_state, sizeof(row.vm_state), "%s",
			 json_string_value(json_object_get(s, "vm_state")) ?: "stopped");
		if (!hex_id(row.id, 16) || !spec)
			return -EINVAL;
		if (!(row.spec_json = strdup(spec)))
			return -ENOMEM;
		k = store_snap_insert(m->d->store, &row);
		free(row.spec_json);
		if (k < 0)
			return k;
	}
	return 0;
}

/* The prepare is answered: 201 with where to send the guest. */
static void prepared(struct mig *m)
{
	struct werr err;

	if (mig_persist(m, MIG_PREPARED) < 0) {
		werr_internal(&err, -EIO, "recording the migration");
		prepare_failed(m, &err);
		return;
	}
	reply_json(TAKE_PTR(m->reply), 201, answer_json(m));
}

static void prepare_failed(struct mig *m, const struct werr *err)
{
	log_warn("%s: incoming migration %.8s refused: %s", m->vm_name, m->id, err->message);
	if (m->reply)
		reply_error(TAKE_PTR(m->reply), err);
	in_rollback(m);
}

static void start_incoming(struct mig *m)
{
	struct vm_rt *vm = mig_vm(m);
	struct werr err;

	m->qemu_started = true;
	if (!vm) {
		werr_set(&err, -ENOENT, "internal", "", "the VM went away");
		prepare_failed(m, &err);
		return;
	}
	if (vm_rt_start_incoming(vm, &err) < 0)
		prepare_failed(m, &err);
}

static void on_disks_made(void *ud, int failed, const char *message)
{
	struct mig *m = ref_take(ud, NULL);
	struct werr err;

	if (!m)
		return;
	if (failed >= 0) {
		werr_set(&err, -EIO, "unavailable", "", "cannot make the disks: %s",
			 message ? message : "qemu-img failed");
		prepare_failed(m, &err);
		return;
	}
	start_incoming(m);
}

static int make_disks(struct mig *m, struct vm_rt *vm)
{
	char ***argvs = calloc(VM_MAX_DISKS, sizeof(*argvs));
	char path[PATH_MAX], size[32], log[PATH_MAX];
	struct mig_ref *r = ref_new(m, 0);
	size_t n = 0;
	int k = argvs && r ? 0 : -ENOMEM;

	for (size_t i = 0; k == 0 && i < vm->spec->n_disks; i++, n++) {
		snprintf(size, sizeof(size), "%llu", (unsigned long long)vm->spec->disks[i].size);
		k = vm_rt_disk_path(vm, i, path, sizeof(path)) ?: strv_push(&argvs[n], "qemu-img") ?:
		    strv_push(&argvs[n], "create") ?: strv_push(&argvs[n], "-q") ?:
		    strv_push(&argvs[n], "-f") ?: strv_push(&argvs[n], "qcow2") ?:
		    strv_push(&argvs[n], path) ?: strv_push(&argvs[n], size);
	}
	if (k == 0)
		k = vm_rt_dir(vm, "migrate.log", log, sizeof(log));
	if (k == 0)
		k = imgjob_run(m->d, argvs, n, NULL, NULL, log, on_disks_made, r, NULL);
	else {
		for (size_t i = 0; argvs && i < n; i++)
			strv_free(argvs[i]);
		free(argvs);
	}
	if (k < 0)
		free(r);
	return k;
}

int vm_rt_mkdir_runtime(struct vm_rt *vm, bool shared)
{
	char dir[PATH_MAX];
	int k;

	if (!shared)
		return vm_rt_mkdirs(vm);
	if ((k = vm_rt_dir(vm, NULL, dir, sizeof(dir))) < 0)
		return k;
	return mkdir(dir, 0750) < 0 ? -errno : 0;
}

/* Everything about the request that can be refused before anything is
 * made here. */
static int prepare_check(struct daemon *d, json_t *body, struct werr *err)
{
	json_t *vmj = json_object_get(body, "vm");
	const char *id = json_string_value(json_object_get(body, "id"));
	const char *name = json_string_value(json_object_get(vmj, "name"));
	const char *vm_id = json_string_value(json_object_get(vmj, "id"));
	const char *mode = json_string_value(json_object_get(body, "mode"));

	if (!hex_id(id, 32) || !hex_id(vm_id, 32) || !name || !mode)
		return werr_set(err, -EINVAL, "invalid", "", "not a migration request");
	if (mig_find(d, id))
		return werr_set(err, -EEXIST, "conflict", "id", "migration %s is already known here",
				id);
	if (vm_rt_find(d, name) || name_in_creation(d, name))
		return werr_set(err, -EEXIST, "conflict", "name",
				"a VM named %s already exists on the destination", name);
	if (vm_rt_find_id(d, vm_id))
		return werr_set(err, -EEXIST, "conflict", "id",
				"the destination already has a VM with the id of %s", name);
	return 0;
}

/* Shared storage is usable only when this daemon sees the probe the
 * source left beside the disks. */
static int storage_decide(struct daemon *d, json_t *body, bool *shared, struct werr *err)
{
	json_t *vmj = json_object_get(body, "vm");
	const char *want = json_string_value(json_object_get(body, "storage"));
	const char *name = json_string_value(json_object_get(vmj, "name"));
	bool seen = probe_seen(d, json_string_value(json_object_get(vmj, "id")),
			       json_string_value(json_object_get(body, "id")),
			       json_string_value(json_object_get(body, "nonce")));

	if (want && strcmp(want, "shared") == 0 && !seen)
		return werr_set(err, -EXDEV, "conflict", "storage",
				"the destination does not see the disks of %s in its storage "
				"directory %s; migrate with copied storage",
				name, d->cfg.storage_dir);
	if (want && strcmp(want, "copy") == 0 && seen)
		return werr_set(err, -EXDEV, "conflict", "storage",
				"the destination shares the storage of %s; copying would write "
				"its disks over themselves; migrate with shared storage",
				name);
	*shared = seen;
	return 0;
}

static int shared_disks_check(struct vm_rt *vm, struct werr *err)
{
	char path[PATH_MAX];

	for (size_t i = 0; i < vm->spec->n_disks; i++)
		if (vm_rt_disk_path(vm, i, path, sizeof(path)) < 0 ||
		    access(path, vm->spec->disks[i].readonly ? R_OK : R_OK | W_OK) < 0)
			return werr_set(err, -errno, "conflict", "storage",
					"the destination cannot use disk %s of %s at %s: %s",
					vm->spec->disks[i].name, vm->spec->name, path,
					strerror(errno));
	return 0;
}

void daemon_mig_prepare(struct daemon *d, const struct caller *c, json_t *body,
			struct reply *r)
{
	json_t *vmj = json_object_get(body, "vm"), *specj = NULL;
	const char *from = json_string_value(json_object_get(body, "from"));
	struct vm_spec *spec = NULL;
	struct vm_rt *vm = NULL;
	struct mig *m;
	struct werr err;
	bool shared = false, live;
	int k;

	if (mig_auth(d, c, r) < 0)
		return;
	live = strcmp(json_string_value(json_object_get(body, "mode")) ?: "", "live") == 0;
	k = prepare_check(d, body, &err) ?: storage_decide(d, body, &shared, &err);
	if (k == 0 && !(specj = spec_here(vmj, json_object_get(body, "disk_sizes"), live && !shared,
					  &err)))
		k = -EINVAL;
	if (k == 0 && (k = vm_spec_from_json(specj, &d->limits, &spec, &err)) < 0)
		snprintf(err.message + strlen(err.message),
			 sizeof(err.message) - strlen(err.message), " (on the destination)");
	json_decref(specj);
	if (k == 0 && !(vm = vm_rt_new(d, TAKE_PTR(spec), VM_INCOMING,
				       json_string_value(json_object_get(vmj, "id")),
				       json_integer_value(json_object_get(vmj, "created_ms"))))) {
		werr_internal(&err, -ENOMEM, "preparing");
		k = -ENOMEM;
	}
	if (k < 0) {
		vm_spec_free(spec);
		reply_error(r, &err);
		return;
	}
	spec = vm->spec;
	snprintf(vm->current_snap, sizeof(vm->current_snap), "%s",
		 json_string_value(json_object_get(vmj, "current_snap")) ?: "");
	vm->fork_pending = json_is_true(json_object_get(vmj, "fork_pending"));
	k = nics_prepare(d, spec, NULL, false, &err);
	if (k == 0 && live)
		k = admission_check(vm, &err);
	if (k == 0 && shared)
		k = shared_disks_check(vm, &err);
	if (k < 0) {
		vm_rt_free(vm);
		reply_error(r, &err);
		return;
	}

	m = mig_new(d, json_string_value(json_object_get(body, "id")), false, vm);
	if (!m) {
		vm_rt_free(vm);
		werr_internal(&err, -ENOMEM, "preparing");
		reply_error(r, &err);
		return;
	}
	m->live = live;
	m->shared = shared;
	m->was_running = strcmp(json_string_value(json_object_get(vmj, "state")) ?: "", "running") == 0;
	m->started_ms = json_integer_value(json_object_get(vmj, "started_ms"));
	snprintf(m->end_state, sizeof(m->end_state), "%s",
		 strcmp(json_string_value(json_object_get(vmj, "state")) ?: "", "suspended") == 0
			 ? "suspended"
			 : "stopped");
	snprintf(m->peer.display, sizeof(m->peer.display), "%s", from ? from : "a peer");
	m->reply = r;
	/* Recorded first: whatever is made from here on, a restart finds
	 * and removes. */
	if ((k = mig_persist(m, MIG_PREPARING)) < 0)
		werr_internal(&err, k, "recording the migration");
	else if ((k = vm_rt_mkdir_runtime(vm, shared)) < 0)
		werr_set(&err, k, k == -EEXIST ? "conflict" : "internal", "",
			 "cannot make the directories of %s here: %s", spec->name, strerror(-k));
	else if ((k = vm_rt_insert(vm)) < 0) {
		werr_set(&err, k, k == -EEXIST ? "conflict" : "internal", "",
			 "cannot record %s here: %s", spec->name, strerror(-k));
		vm_rt_rmdirs(vm, !shared);
	}
	if (k < 0) { /* the VM is not in the list yet: nothing else to undo */
		reply_error(TAKE_PTR(m->reply), &err);
		mig_end(m, false);
		vm_rt_free(vm);
		return;
	}
	vm_rt_link(d, vm);
	vm->mig = m;
	if ((shared || !live) &&
	    import_snapshots(m, json_object_get(body, "snapshots")) < 0) {
		werr_set(&err, -EINVAL, "invalid", "snapshots", "the snapshots of %s cannot be "
								"recorded here",
			 spec->name);
		prepare_failed(m, &err);
		return;
	}
	vm_rt_persist(vm); /* the current snapshot, which the imports moved */
	m->heard_ms = mig_now_ms();
	log_info("%s: incoming %s migration %.8s from %s (%s storage)", spec->name,
		 live ? "live" : "offline", m->id, m->peer.display, shared ? "shared" : "copied");
	if (!live) {
		prepared(m);
		return;
	}
	if (!shared && (k = make_disks(m, vm)) < 0) {
		werr_internal(&err, k, "making the disks");
		prepare_failed(m, &err);
		return;
	}
	if (shared)
		start_incoming(m);
}

/* QEMU is up, waiting: take the disks (NBD) and the guest (migration). */
static void on_incoming_step(struct qmp *q, json_t *result, const struct qmp_error *e, void *ud)
{
	size_t last;
	struct mig *m = ref_take(ud, &last);
	struct werr err;

	if (!m || !m->reply)
		return;
	if (e) {
		werr_set(&err, -EIO, "unavailable", "", "the destination's QEMU refused: %s",
			 e->desc);
		prepare_failed(m, &err);
		return;
	}
	if (last)
		prepared(m);
}

void mig_in_qemu_ready(struct mig *m, struct vm_rt *vm)
{
	char nbd[PATH_MAX], uri[PATH_MAX + 8];

	if (!m->qemu_started || !m->reply || strcmp(m->phase, MIG_PREPARING) != 0)
		return; /* a restart's recovery decides about this one */
	resources_apply_qemu(vm, false);
	nics_apply_qemu(vm);
	mig_qmp(m, "migrate-set-capabilities",
		json_pack("{s:[{s:s, s:b}]}", "capabilities", "capability", "events", "state", 1),
		on_incoming_step, 0);
	if (!m->shared && vm_rt_dir(vm, "nbd.sock", nbd, sizeof(nbd)) == 0) {
		mig_qmp(m, "nbd-server-start",
			json_pack("{s:{s:s, s:{s:s}}}", "addr", "type", "unix", "data", "path", nbd),
			on_incoming_step, 0);
		for (size_t i = 0; i < vm->spec->n_disks; i++) {
			char node[48], id[48];
			snprintf(node, sizeof(node), "fmt-%s", vm->spec->disks[i].name);
			snprintf(id, sizeof(id), "mig-%s", vm->spec->disks[i].name);
			mig_qmp(m, "block-export-add",
				json_pack("{s:s, s:s, s:s, s:s, s:b}", "type", "nbd", "id", id,
					  "node-name", node, "name", vm->spec->disks[i].name,
					  "writable", 1),
				on_incoming_step, 0);
		}
	}
	snprintf(uri, sizeof(uri), "unix:");
	if (vm_rt_dir(vm, "migrate.sock", uri + 5, sizeof(uri) - 5) == 0)
		mig_qmp(m, "migrate-incoming", json_pack("{s:s}", "uri", uri), on_incoming_step, 1);
}

/* ---- while the guest comes ------------------------------------------------ */

static void do_confirm(struct mig *m);

static void confirm_refused(struct mig *m, const char *why)
{
	struct werr err;

	werr_set(&err, -EIO, "conflict", "", "the destination did not receive %s: %s", m->vm_name,
		 why);
	if (m->reply)
		reply_error(TAKE_PTR(m->reply), &err);
	in_rollback(m);
}

bool mig_in_on_event(struct mig *m, struct vm_rt *vm, const char *event, json_t *data)
{
	const char *status = json_string_value(json_object_get(data, "status"));

	if (strcmp(event, "MIGRATION") != 0 || !status)
		return false;
	log_debug("%s: incoming migration %s", m->vm_name, status);
	if (strcmp(status, "completed") == 0) {
		m->received = true;
		if (m->reply && strcmp(m->phase, MIG_PREPARED) == 0)
			do_confirm(m);
	} else if (strcmp(status, "failed") == 0) {
		m->incoming_failed = true;
		if (m->reply && strcmp(m->phase, MIG_PREPARED) == 0)
			confirm_refused(m, "QEMU could not load it");
	}
	return true;
}

static void in_forget(struct vm_rt *vm, void *ud);

void mig_in_exited(struct mig *m, struct vm_rt *vm)
{
	if (strcmp(m->phase, MIG_PREPARED) != 0 && strcmp(m->phase, MIG_PREPARING) != 0)
		return;
	log_warn("%s: QEMU exited before the incoming migration was confirmed", m->vm_name);
	m->incoming_failed = true;
	m->exiting = true; /* the VM goes once the exit has been handled */
	if (m->reply && strcmp(m->phase, MIG_PREPARED) == 0)
		confirm_refused(m, "its QEMU exited");
	else if (m->reply)
		prepare_failed(m, &(struct werr){.code = "unavailable",
						 .message = "the destination's QEMU exited"});
	else
		in_rollback(m);
}

/* ---- roll back ------------------------------------------------------------- */

static void in_forget(struct vm_rt *vm, void *ud)
{
	struct mig *m = ref_take(ud, NULL);
	struct daemon *d = vm->d;
	bool nics = vm->spec->n_nics > 0;
	int k;

	if (!m)
		return;
	k = store_vm_delete(d->store, vm->id);
	if (k < 0 && k != -ENOENT)
		log_error_errno(k, "%s: cannot remove the incoming VM from the store", m->vm_name);
	vm_rt_rmdirs(vm, !m->shared);
	vm->mig = NULL;
	vm_rt_unlink(d, vm);
	vm_rt_free(vm);
	if (nics)
		networks_sync(d, NULL);
	log_info("%s: incoming migration %.8s rolled back; nothing of it is left here", m->vm_name,
		 m->id);
	events_emit_action(d, m->vm_name, "migrate-in", "rolled back", -1);
	mig_end(m, false);
}

static void in_rollback(struct mig *m)
{
	struct vm_rt *vm = mig_vm(m);
	struct mig_ref *r;

	if (m->timer)
		evtimer_del(m->timer);
	snprintf(m->phase, sizeof(m->phase), "%s", "rolling back");
	if (!vm) {
		mig_end(m, false);
		return;
	}
	r = ref_new(m, 0);
	if (vm->pid > 0 || m->exiting) {
		vm->stop_requested = true;
		vm_rt_wait_gone(vm, NULL, in_forget, r);
		if (vm->pid > 0)
			vm_rt_force_quit(vm);
		return;
	}
	in_forget(vm, r);
}

void mig_in_lease_check(struct daemon *d)
{
	for (struct mig *m = d->migs, *next; m; m = next) {
		next = m->next;
		if (!m->source && !m->reply &&
		    (strcmp(m->phase, MIG_PREPARED) == 0 || strcmp(m->phase, MIG_PREPARING) == 0) &&
		    mig_now_ms() - m->heard_ms > MIG_LEASE_MS) {
			log_warn("%s: nothing heard from %s for %d s; rolling back the incoming "
				 "migration",
				 m->vm_name, m->peer.display, MIG_LEASE_MS / 1000);
			in_rollback(m);
		}
	}
}

/* ---- the source's requests ------------------------------------------------ */

static struct mig *find_dest(struct daemon *d, const char *id)
{
	struct mig *m = mig_find(d, id);

	if (!m || m->source)
		return NULL;
	m->heard_ms = mig_now_ms();
	return m;
}

static bool done_here(struct daemon *d, const char *id)
{
	struct store_mig *rows = NULL;
	size_t n = 0;
	bool done = false;

	if (store_mig_list(d->store, &rows, &n) < 0)
		return false;
	for (size_t i = 0; i < n && !done; i++)
		done = strcmp(rows[i].id, id) == 0 && strcmp(rows[i].phase, MIG_DONE) == 0;
	store_mig_list_free(rows, n);
	return done;
}

static void reply_unknown(struct reply *r, const char *id)
{
	struct werr err;

	werr_set(&err, -ENOENT, "not_found", "", "no migration %s here", id);
	reply_error(r, &err);
}

void daemon_mig_get(struct daemon *d, const struct caller *c, const char *id, struct reply *r)
{
	struct mig *m;

	if (mig_auth(d, c, r) < 0)
		return;
	if ((m = find_dest(d, id)))
		reply_json(r, 200, answer_json(m));
	else
		reply_unknown(r, id);
}

static void do_confirm(struct mig *m)
{
	struct vm_rt *vm = mig_vm(m);
	struct werr err;

	if (!vm) {
		confirm_refused(m, "the VM went away");
		return;
	}
	/* The commit point: from here on the VM is this daemon's. */
	if (mig_persist(m, MIG_CONFIRMED) < 0) {
		werr_internal(&err, -EIO, "recording the confirmation");
		reply_error(TAKE_PTR(m->reply), &err);
		return;
	}
	if (m->live && !m->shared)
		mig_qmp(m, "nbd-server-stop", NULL, NULL, 0);
	vm->started_ms = m->started_ms;
	if (m->live) {
		vm_rt_set_state(vm, VM_PAUSED);
		if (m->was_running)
			vm_rt_cont(vm);
	} else {
		enum vm_state s = VM_STOPPED;
		vm_state_from_string(m->end_state, &s);
		vm_rt_set_state(vm, s);
	}
	vm_rt_persist(vm);
	if (vm->spec->n_nics)
		networks_sync(m->d, NULL);
	log_info("%s: migrated here from %s", m->vm_name, m->peer.display);
	events_emit_action(m->d, m->vm_name, "migrate-in", "ok", -1);
	reply_json(TAKE_PTR(m->reply), 200, json_pack("{s:o}", "vm", vm_rt_to_json(vm)));
	struct daemon *d = m->d;
	mig_persist(m, MIG_DONE);
	mig_end(m, true);
	cluster_vm_arrived(d, vm);
}

static bool files_complete(struct mig *m, struct vm_rt *vm)
{
	char path[PATH_MAX];

	for (size_t i = 0; i < vm->spec->n_disks; i++)
		if (vm_rt_disk_path(vm, i, path, sizeof(path)) < 0 || access(path, R_OK) < 0)
			return false;
	return strcmp(m->end_state, "suspended") != 0 ||
	       (vm_rt_data(vm, "memory.state", path, sizeof(path)) == 0 && access(path, R_OK) == 0);
}

void daemon_mig_confirm(struct daemon *d, const struct caller *c, const char *id,
			struct reply *r)
{
	struct mig *m;
	struct vm_rt *vm;
	struct werr err;

	if (mig_auth(d, c, r) < 0)
		return;
	if (!(m = find_dest(d, id))) {
		if (done_here(d, id))
			reply_json(r, 200, json_pack("{s:s}", "id", id));
		else
			reply_unknown(r, id);
		return;
	}
	if (strcmp(m->phase, MIG_PREPARED) != 0 || m->reply) {
		werr_set(&err, -EBUSY, "conflict", "", "migration %.8s is %s here", id, m->phase);
		reply_error(r, &err);
		return;
	}
	m->reply = r;
	vm = mig_vm(m);
	if (!m->live) {
		if (vm && files_complete(m, vm))
			do_confirm(m);
		else
			confirm_refused(m, "files are missing");
	} else if (m->incoming_failed) {
		confirm_refused(m, "QEMU could not load it");
	} else if (m->received) {
		do_confirm(m);
	}
	/* else: the MIGRATION event answers */
}

void daemon_mig_abort(struct daemon *d, const struct caller *c, const char *id, struct reply *r)
{
	struct mig *m;
	struct werr err;

	if (mig_auth(d, c, r) < 0)
		return;
	if (!(m = find_dest(d, id))) {
		reply_unknown(r, id);
		return;
	}
	if (strcmp(m->phase, MIG_PREPARED) != 0 && strcmp(m->phase, MIG_PREPARING) != 0) {
		werr_set(&err, -EBUSY, "conflict", "", "migration %.8s is %s here", id, m->phase);
		reply_error(r, &err);
		return;
	}
	if (m->reply) {
		werr_set(&err, -ECANCELED, "cancelled", "", "the source took the migration back");
		reply_error(TAKE_PTR(m->reply), &err);
	}
	m->abort_reply = r; /* answered once nothing is left (mig_end) */
	in_rollback(m);
}

/* disk-NAME.qcow2 of a disk of the VM, memory.state, snap-ID.state. */
static bool file_allowed(const struct vm_rt *vm, const char *file)
{
	char want[64];

	for (size_t i = 0; i < vm->spec->n_disks; i++) {
		snprintf(want, sizeof(want), "disk-%s.qcow2", vm->spec->disks[i].name);
		if (strcmp(file, want) == 0)
			return true;
	}
	if (strcmp(file, "memory.state") == 0)
		return true;
	if (strncmp(file, "snap-", 5) != 0 || strlen(file) != 5 + 16 + 6 ||
	    strcmp(file + 21, ".state") != 0)
		return false;
	snprintf(want, sizeof(want), "%.16s", file + 5);
	return hex_id(want, 16);
}

void daemon_mig_put_file(struct daemon *d, const struct caller *c, const char *id,
			 const char *file, uint64_t offset, const void *buf, size_t len,
			 struct reply *r)
{
	struct mig *m;
	struct vm_rt *vm;
	char path[PATH_MAX];
	_cleanup_close_ int fd = -1;
	struct werr err;

	if (mig_auth(d, c, r) < 0)
		return;
	if (!(m = find_dest(d, id)) || !(vm = mig_vm(m))) {
		reply_unknown(r, id);
		return;
	}
	if (m->live || m->shared || strcmp(m->phase, MIG_PREPARED) != 0 || !file_allowed(vm, file)) {
		werr_set(&err, -EINVAL, "invalid", "file", "%s is not a file of migration %.8s",
			 file, id);
		reply_error(r, &err);
		return;
	}
	if (vm_rt_data(vm, file, path, sizeof(path)) < 0 ||
	    (fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0640)) < 0 ||
	    (len && pwrite(fd, buf, len, (off_t)offset) != (ssize_t)len)) {
		werr_set(&err, -errno, "unavailable", "", "cannot write %s here: %s", file,
			 strerror(errno));
		reply_error(r, &err);
		return;
	}
	reply_json(r, 200, json_pack("{s:s, s:I, s:I}", "file", file, "offset", (json_int_t)offset,
				     "length", (json_int_t)len));
}

/* ---- start-up ---------------------------------------------------------------- */

static void finish_confirmed(struct mig *m, struct vm_rt *vm)
{
	if (m->live && vm->pid > 0) {
		vm_rt_set_state(vm, VM_PAUSED);
		if (m->was_running)
			vm_rt_cont(vm);
	} else if (m->live) {
		vm_rt_set_state(vm, VM_CRASHED);
	} else {
		enum vm_state s = VM_STOPPED;
		vm_state_from_string(m->end_state, &s);
		vm_rt_set_state(vm, s);
	}
	vm_rt_persist(vm);
	struct daemon *d = m->d;
	mig_persist(m, MIG_DONE);
	mig_end(m, true);
	cluster_vm_arrived(d, vm);
}

void mig_in_recover(struct daemon *d, const struct store_mig *row)
{
	struct mig *m;
	struct vm_rt *vm = vm_rt_find_id(d, row->vm_id);
	char dir[PATH_MAX];

	if (strcmp(row->phase, MIG_DONE) == 0) {
		if ((int64_t)now_realtime_ms() - row->created_ms > MIG_DONE_KEEP_MS)
			store_mig_delete(d->store, row->id);
		return;
	}
	m = mig_new(d, row->id, false, NULL);
	if (!m)
		return;
	snprintf(m->vm_id, sizeof(m->vm_id), "%s", row->vm_id);
	snprintf(m->vm_name, sizeof(m->vm_name), "%s", row->vm_name);
	snprintf(m->phase, sizeof(m->phase), "%s", row->phase);
	snprintf(m->peer.display, sizeof(m->peer.display), "%s", row->peer);
	m->created_ms = row->created_ms;
	mig_info_read(m, row->info_json);
	if (vm)
		vm->mig = m;
	if (strcmp(row->phase, MIG_CONFIRMED) == 0 && vm) {
		log_info("%s: finishing the incoming migration %.8s (confirmed)", m->vm_name, m->id);
		finish_confirmed(m, vm);
		return;
	}
	log_info("%s: rolling back the incoming migration %.8s (%s when warrend stopped)",
		 m->vm_name, m->id, row->phase);
	if (!vm) {
		/* Stopped between the row and the VM: only directories. */
		snprintf(dir, sizeof(dir), "%s/vms/%s", d->cfg.state_dir, row->vm_id);
		rm_rf(dir);
		if (!m->shared) {
			snprintf(dir, sizeof(dir), "%s/%s", d->cfg.storage_dir, row->vm_id);
			rm_rf(dir);
		}
	}
	in_rollback(m);
}
