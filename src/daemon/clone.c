/*
 * clone: a new VM from a stopped VM or from one of its snapshots.
 *
 * Full: every disk copied by qemu-img convert into an independent qcow2
 * (flattened; from a snapshot with -l), as an operation with progress
 * that can be cancelled.
 *
 * Linked: every disk a qcow2 overlay over a read-only base in the state
 * directory's bases/ folder. From a stopped VM without snapshots, the
 * VM's own disk becomes the base (a rename: instant) and the VM goes on
 * on an overlay of its own. From a snapshot, or a VM whose disks hold
 * snapshots (they would be stranded in a base nobody may write), the
 * state is exported once into a base; a snapshot's base is kept and
 * reused by every later linked clone of it.
 *
 * Bases are counted by the specs that name them: a base no VM names any
 * more is removed (after a delete, and at start-up). A VM that linked
 * clones came from cannot be deleted while they exist.
 *
 * A clone from a memory snapshot gets the snapshot's memory file as its
 * memory.state (a hard link: no copy), so it starts "suspended" and its
 * first start resumes the saved guest, which is then told it is a new
 * machine (suspend.c). The new VM's row is the commit point; a failure
 * or cancel before it removes everything the clone made.
 */
#include <dirent.h>
#include <endian.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

#include "daemon/internal.h"

struct clone_job {
	struct daemon *d;
	struct vm_rt *src;
	struct vm_rt *vm; /* the new VM, linked when committed */
	struct op *op;
	struct store_snap snap;
	bool from_snap;
	bool linked;
	bool adopt; /* the source's disks become the bases */
	/* bases made by this clone (removed again on failure) */
	char bases[VM_MAX_DISKS][PATH_MAX];
	bool base_new[VM_MAX_DISKS];
	bool adopted[VM_MAX_DISKS];
	bool swapped[VM_MAX_DISKS]; /* the source runs on its overlay of the base */
	struct imgjob *img;
	int uid;
};

static int bases_dir(struct daemon *d, char *buf, size_t len)
{
	int n = snprintf(buf, len, "%s/bases", d->cfg.state_dir);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

/* The backing file a qcow2 image names in its header (offset 8: where,
 * offset 16: how long), or "" for none. */
static void qcow2_backing(const char *path, char *buf, size_t len)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	uint64_t off_be;
	uint32_t n_be, n;

	buf[0] = '\0';
	if (fd < 0 || pread(fd, &off_be, 8, 8) != 8 || pread(fd, &n_be, 4, 16) != 4)
		return;
	n = be32toh(n_be);
	if (off_be == 0 || n == 0 || n >= len ||
	    pread(fd, buf, n, (off_t)be64toh(off_be)) != (ssize_t)n)
		n = 0;
	buf[n] = '\0';
}

/* Named by a VM's spec, or the file a VM's disk really is built on (a
 * clone that adopted the disk may have died before the spec said so). */
static bool base_in_use(struct daemon *d, const char *path)
{
	char disk[PATH_MAX], backing[PATH_MAX];

	for (struct vm_rt *vm = d->vms; vm; vm = vm->next)
		for (size_t i = 0; i < vm->spec->n_disks; i++) {
			if (vm->spec->disks[i].image && strcmp(vm->spec->disks[i].image, path) == 0)
				return true;
			if (vm_rt_disk_path(vm, i, disk, sizeof(disk)) == 0) {
				qcow2_backing(disk, backing, sizeof(backing));
				if (strcmp(backing, path) == 0)
					return true;
			}
		}
	return false;
}


/*
 * A base is in use while a VM's spec names it or a base in use is built
 * on it: a VM that gave its disk for linked clones twice runs on a chain
 * of two bases, and only the newer one is in its spec.
 */
void bases_sweep(struct daemon *d)
{
	char dir[PATH_MAX], backing[PATH_MAX];
	char **names = NULL;
	bool *used = NULL, grew = true;
	struct dirent *de;
	size_t n = 0;
	DIR *dh;

	if (d->clone_jobs || bases_dir(d, dir, sizeof(dir)) < 0 || !(dh = opendir(dir)))
		return;
	while ((de = readdir(dh)))
		if (de->d_name[0] != '.' && strv_pushf(&names, "%s/%s", dir, de->d_name) < 0)
			break;
	closedir(dh);
	n = strv_length(names);
	used = calloc(n ? n : 1, sizeof(*used));
	for (size_t i = 0; used && i < n; i++)
		used[i] = base_in_use(d, names[i]);
	while (used && grew) {
		grew = false;
		for (size_t i = 0; i < n; i++) {
			if (!used[i])
				continue;
			qcow2_backing(names[i], backing, sizeof(backing));
			for (size_t k = 0; k < n; k++)
				if (!used[k] && strcmp(names[k], backing) == 0)
					used[k] = grew = true;
		}
	}
	for (size_t i = 0; used && i < n; i++) {
		if (used[i])
			continue;
		log_info("removing base %s: no VM uses it any more", names[i]);
		unlink(names[i]);
	}
	free(used);
	strv_free(names);
}

int clone_check_delete(struct vm_rt *vm, struct werr *err)
{
	for (struct vm_rt *o = vm->d->vms; o; o = o->next)
		if (o != vm && strcmp(o->origin, vm->id) == 0)
			return werr_set(err, -EBUSY, "conflict", "",
					"cannot delete %s: linked clone %s depends on it; delete %s "
					"first",
					vm->spec->name, o->spec->name, o->spec->name);
	return 0;
}

/* The virtual size from a qcow2 header (bytes 24..31, big-endian). */
static uint64_t qcow2_size(const char *path)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	uint64_t be;

	if (fd < 0 || pread(fd, &be, sizeof(be), 24) != (ssize_t)sizeof(be))
		return 0;
	return be64toh(be);
}

static void job_free(struct clone_job *j)
{
	j->d->clone_jobs--;
	if (j->src->busy_op == j->op)
		j->src->busy_op = NULL;
	if (j->vm) {
		nics_release(j->d, j->vm->spec);
		creation_done(j->d, j->vm->spec->name);
		vm_rt_free(j->vm);
	}
	free(j->snap.spec_json);
	free(j);
}

/* Undo everything the clone made, then report. */
static void clone_fail(struct clone_job *j, const char *code, const char *why)
{
	char path[PATH_MAX];
	struct werr err;

	for (size_t i = 0; i < j->vm->spec->n_disks; i++) {
		if (j->adopted[i] && !j->swapped[i] &&
		    vm_rt_disk_path(j->src, i, path, sizeof(path)) == 0) {
			/* The source still runs on its own disk; the base is
			 * only a second name for it. Once swapped, the source's
			 * overlay needs the base, which then stays. */
			strncat(path, ".tmp", sizeof(path) - strlen(path) - 1);
			unlink(path);
			unlink(j->bases[i]);
		} else if (j->base_new[i]) {
			unlink(j->bases[i]);
			snprintf(path, sizeof(path), "%s.tmp", j->bases[i]);
			unlink(path);
		}
	}
	vm_rt_rmdirs(j->vm, true);
	werr_set(&err, -EIO, code, "", "clone %s of %s %s: %s", j->vm->spec->name,
		 j->src->spec->name, strcmp(code, "cancelled") == 0 ? "cancelled" : "failed", why);
	log_warn("%s", err.message);
	events_emit_action(j->d, j->vm->spec->name, "clone", code, j->uid);
	if (j->op)
		op_finish(j->op, &err, NULL);
	job_free(j);
}

static void clone_commit(struct clone_job *j)
{
	struct vm_rt *vm = j->vm;
	struct store_vm row = {.created_ms = vm->created_ms};
	char path[PATH_MAX], from[PATH_MAX];
	json_t *spec;
	int k;

	for (size_t i = 0; i < vm->spec->n_disks; i++) {
		char disk[PATH_MAX];
		snprintf(path, sizeof(path), "%s.tmp", j->bases[i]);
		if (j->base_new[i] && rename(path, j->bases[i]) < 0) {
			clone_fail(j, "unavailable", "cannot keep an exported base");
			return;
		}
		/* The source moves onto its overlay in one step. */
		if (j->adopted[i] && vm_rt_disk_path(j->src, i, disk, sizeof(disk)) == 0) {
			snprintf(path, sizeof(path), "%.4000s.tmp", disk);
			if (rename(path, disk) < 0) {
				clone_fail(j, "unavailable", "cannot put the source on its overlay");
				return;
			}
			j->swapped[i] = true;
		}
		if (j->linked)
			chmod(j->bases[i], 0444); /* read-only, also for QEMU's own user */
	}
	if (j->from_snap && j->snap.memory) {
		char file[64];
		snprintf(file, sizeof(file), "snap-%s.state", j->snap.id);
		if (vm_rt_data(j->src, file, from, sizeof(from)) < 0 ||
		    vm_rt_data(vm, "memory.state", path, sizeof(path)) < 0 || link(from, path) < 0) {
			clone_fail(j, "unavailable", "cannot take over the snapshot's memory file");
			return;
		}
		vm->state = VM_SUSPENDED;
		vm->fork_pending = true;
	}
	spec = vm_spec_to_json(vm->spec);
	row.spec_json = spec ? json_dumps(spec, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	json_decref(spec);
	snprintf(row.id, sizeof(row.id), "%s", vm->id);
	snprintf(row.name, sizeof(row.name), "%s", vm->spec->name);
	snprintf(row.state, sizeof(row.state), "%s", vm_state_to_string(vm->state));
	snprintf(row.origin, sizeof(row.origin), "%s", vm->origin);
	row.fork_pending = vm->fork_pending;
	k = row.spec_json ? store_vm_insert(j->d->store, &row) : -ENOMEM;
	free(row.spec_json);
	if (k < 0) {
		clone_fail(j, k == -EEXIST ? "conflict" : "internal",
			   k == -EEXIST ? "the name is taken" : "cannot record the VM");
		return;
	}
	/* The source now runs on an overlay of its former disk. */
	for (size_t i = 0; j->adopt && i < j->src->spec->n_disks; i++) {
		free(j->src->spec->disks[i].image);
		j->src->spec->disks[i].image = strdup(j->bases[i]);
		j->src->spec->disks[i].size = 0;
	}
	if (j->adopt)
		vm_rt_persist(j->src);
	vm_rt_link(j->d, vm);
	j->vm = NULL;
	nics_release(j->d, vm->spec);
	creation_done(j->d, vm->spec->name);
	if (vm->spec->n_nics)
		networks_sync(j->d, NULL);
	log_info("%s: cloned from %s (%s%s%s)", vm->spec->name, j->src->spec->name,
		 j->linked ? "linked" : "full", j->from_snap ? ", snapshot " : "",
		 j->from_snap ? j->snap.name : "");
	events_emit_action(j->d, vm->spec->name, "clone", "ok", j->uid);
	op_set_result(j->op, json_pack("{s:o}", "vm", vm_rt_to_json(vm)));
	op_finish(j->op, NULL, "cloned");
	job_free(j);
}

static void on_copied(void *ud, int failed, const char *message)
{
	struct clone_job *j = ud;

	j->img = NULL;
	if (failed >= 0) {
		clone_fail(j, op_cancel_asked(j->op) ? "cancelled" : "unavailable", message);
		return;
	}
	clone_commit(j);
}

static void on_cancel(struct op *op, void *ud)
{
	struct clone_job *j = ud;

	if (j->img)
		imgjob_cancel(j->img);
}

static int push_all(char ***argv, const char *const *words)
{
	for (size_t i = 0; words[i]; i++)
		if (strv_push(argv, words[i]) < 0)
			return -ENOMEM;
	return 0;
}

/* convert [-l snapshot.name=ID] src dst: a full copy or an exported base. */
static int convert_argv(struct clone_job *j, const char *src, const char *dst, char ***ret)
{
	const char *const head[] = {"qemu-img", "convert", "-p", "-U", "-O", "qcow2", NULL};
	int r = push_all(ret, head);

	if (r == 0 && j->from_snap)
		r = strv_push(ret, "-l") ?: strv_pushf(ret, "snapshot.name=%s", j->snap.id);
	return r ?: strv_push(ret, src) ?: strv_push(ret, dst);
}

/* size 0: take it from the base; otherwise the base need not exist yet
 * (-u), which lets an export and its overlay be laid out together. */
static int overlay_argv(const char *base, const char *dst, uint64_t size, char ***ret)
{
	const char *const words[] = {"qemu-img", "create", "-q", "-f", "qcow2", NULL};
	int r = push_all(ret, words);

	if (r == 0 && size)
		r = strv_push(ret, "-u");
	r = r ?: strv_push(ret, "-b") ?: strv_push(ret, base) ?: strv_push(ret, "-F") ?:
		 strv_push(ret, "qcow2") ?: strv_push(ret, dst);
	if (r == 0 && size)
		r = strv_pushf(ret, "%llu", (unsigned long long)size);
	return r;
}

/* Lay out every step; for a linked clone, decide each disk's base. */
static int plan(struct clone_job *j, char ****ret_argvs, uint64_t **ret_w, size_t *ret_n)
{
	size_t nd = j->vm->spec->n_disks, n = 0;
	char ***argvs = calloc(3 * nd + 1, sizeof(*argvs));
	uint64_t *w = calloc(3 * nd + 1, sizeof(*w));
	char src[PATH_MAX], dst[PATH_MAX], dir[PATH_MAX], tmp[PATH_MAX];
	int r = argvs && w ? 0 : -ENOMEM;

	if (r == 0 && j->linked && (r = bases_dir(j->d, dir, sizeof(dir))) == 0 &&
	    mkdir(dir, 0711) < 0 && errno != EEXIST)
		r = -errno;
	for (size_t i = 0; r == 0 && i < nd; i++) {
		const char *disk = j->vm->spec->disks[i].name;
		uint64_t size;
		if ((r = vm_rt_disk_path(j->src, i, src, sizeof(src))) < 0 ||
		    (r = vm_rt_disk_path(j->vm, i, dst, sizeof(dst))) < 0)
			break;
		size = qcow2_size(src);
		if (!j->linked) {
			r = convert_argv(j, src, dst, &argvs[n]);
			w[n++] = size ? size : 1;
			j->vm->spec->disks[i].size = size;
			free(j->vm->spec->disks[i].image);
			j->vm->spec->disks[i].image = NULL;
			continue;
		}
		if ((size_t)snprintf(j->bases[i], sizeof(j->bases[i]), "%.3900s/%s-%.32s.qcow2", dir,
				     j->from_snap ? j->snap.id : j->vm->id,
				     disk) >= sizeof(j->bases[i])) {
			r = -ENAMETOOLONG;
			break;
		}
		if (j->adopt) {
			/* The source's disk becomes the base: a second name for
			 * it now, and the source's overlay made beside it, which
			 * the commit renames over the disk. Until then the
			 * source's disk is untouched, whenever the daemon dies. */
			if (link(src, j->bases[i]) < 0) {
				r = -errno;
				break;
			}
			j->adopted[i] = true;
			snprintf(tmp, sizeof(tmp), "%.4000s.tmp", src);
			r = overlay_argv(j->bases[i], tmp, 0, &argvs[n]);
			w[n++] = 1;
		} else if (access(j->bases[i], F_OK) < 0) {
			j->base_new[i] = true;
			snprintf(tmp, sizeof(tmp), "%s.tmp", j->bases[i]);
			r = convert_argv(j, src, tmp, &argvs[n]);
			w[n++] = size ? size : 1;
			/* The overlay is made over the final name, which the
			 * commit gives the export. */
			if (r == 0)
				r = overlay_argv(j->bases[i], dst, size ? size : 1, &argvs[n]);
			w[n++] = 1;
			free(j->vm->spec->disks[i].image);
			j->vm->spec->disks[i].image = strdup(j->bases[i]);
			j->vm->spec->disks[i].size = 0;
			continue;
		}
		if (r == 0)
			r = overlay_argv(j->bases[i], dst, 0, &argvs[n]);
		w[n++] = 1;
		free(j->vm->spec->disks[i].image);
		j->vm->spec->disks[i].image = strdup(j->bases[i]);
		j->vm->spec->disks[i].size = 0;
	}
	*ret_argvs = argvs;
	*ret_w = w;
	*ret_n = n;
	return r;
}

static int clone_args(json_t *body, const char **ret_name, bool *ret_linked,
		      const char **ret_snap, struct werr *err)
{
	json_t *n = json_object_get(body, "name"), *l = json_object_get(body, "linked");
	json_t *s = json_object_get(body, "snapshot");
	const char *key;
	json_t *v;

	json_object_foreach(body, key, v)
		if (strcmp(key, "name") != 0 && strcmp(key, "linked") != 0 &&
		    strcmp(key, "snapshot") != 0)
			return werr_set(err, -EINVAL, "invalid", key, "unknown key '%s'", key);
	if (!json_is_string(n))
		return werr_set(err, -EINVAL, "invalid", "name",
				"name (a string: the new VM's name) is required");
	if (vm_name_validate(json_string_value(n), err) < 0)
		return -EINVAL;
	if (l && !json_is_boolean(l))
		return werr_set(err, -EINVAL, "invalid", "linked", "linked must be true or false");
	if (s && !json_is_null(s) && !json_is_string(s))
		return werr_set(err, -EINVAL, "invalid", "snapshot",
				"snapshot must be a snapshot's name or null");
	*ret_name = json_string_value(n);
	*ret_linked = json_is_true(l);
	*ret_snap = json_is_string(s) ? json_string_value(s) : NULL;
	return 0;
}

/* The new VM in memory: the source's hardware (or the snapshot's). */
static int new_vm(struct clone_job *j, const char *name, struct werr *err)
{
	struct vm_rt *vm = calloc(1, sizeof(*vm));
	json_t *spec_json = j->from_snap ? json_loads(j->snap.spec_json, 0, NULL)
					 : vm_spec_to_json(j->src->spec);
	int k;

	if (!vm || !spec_json) {
		json_decref(spec_json);
		free(vm);
		return werr_internal(err, -ENOMEM, "copying the spec"), -ENOMEM;
	}
	/* A snapshot's spec may no longer fit this host: its own error. */
	if ((k = vm_spec_load(spec_json, &vm->spec, err)) < 0) {
		json_decref(spec_json);
		free(vm);
		return k;
	}
	json_decref(spec_json);
	snprintf(vm->spec->name, sizeof(vm->spec->name), "%s", name);
	/* A clone never shares a MAC or an address with its source. */
	if ((k = nics_prepare(j->d, vm->spec, NULL, true, err)) < 0) {
		vm_rt_free(vm);
		return k;
	}
	vm->d = j->d;
	vm->pidfd = -1;
	vm->state = VM_STOPPED;
	vm->created_ms = (int64_t)now_realtime_ms();
	if (j->linked)
		snprintf(vm->origin, sizeof(vm->origin), "%s", j->src->id);
	k = id_random_hex(vm->id, 16);
	if (k == 0)
		k = vm_rt_mkdirs(vm);
	if (k < 0) {
		vm_rt_free(vm);
		return werr_internal(err, k, "making the clone's directory"), k;
	}
	j->vm = vm;
	nics_hold(j->d, vm->spec);
	return 0;
}

void daemon_vm_clone(struct daemon *d, const struct caller *c, const char *name, json_t *body,
		     struct reply *r)
{
	struct vm_rt *src = vm_find_or_reply(d, name, r);
	const char *new_name = NULL, *snap_name = NULL;
	char ***argvs = NULL, log[PATH_MAX];
	uint64_t *w = NULL;
	struct clone_job *j;
	struct werr err = {0};
	size_t n = 0;
	bool linked = false;
	int k;

	if (!src)
		return;
	if (clone_args(body, &new_name, &linked, &snap_name, &err) < 0 ||
	    vm_rt_check_idle(src, "clone", &err) < 0) {
		reply_error(r, &err);
		return;
	}
	if (vm_rt_find(d, new_name) || name_in_creation(d, new_name)) {
		werr_set(&err, -EEXIST, "conflict", "name", "a VM named '%s' already exists",
			 new_name);
		reply_error(r, &err);
		return;
	}
	if (!snap_name && src->state != VM_STOPPED && src->state != VM_CRASHED) {
		werr_set(&err, -EBUSY, "conflict", "",
			 "cannot clone %s: it is %s; stop it first, or clone one of its snapshots",
			 name, vm_state_to_string(src->state));
		reply_error(r, &err);
		return;
	}
	j = calloc(1, sizeof(*j));
	if (!j) {
		werr_internal(&err, -ENOMEM, "cloning");
		reply_error(r, &err);
		return;
	}
	j->d = d;
	j->src = src;
	j->linked = linked;
	j->uid = (int)c->uid;
	d->clone_jobs++;
	j->from_snap = snap_name != NULL;
	k = j->from_snap ? snapshot_find(d, src, snap_name, &j->snap, NULL, &err) : 0;
	if (k == 0)
		k = new_vm(j, new_name, &err);
	if (k == 0 && (k = strv_push(&d->creating, new_name)) < 0)
		werr_internal(&err, k, "cloning");
	if (k < 0) {
		reply_error(r, &err);
		if (j->vm)
			vm_rt_rmdirs(j->vm, true);
		job_free(j);
		return;
	}
	k = linked && !snap_name ? snapshot_count(d, src->id) : 0;
	j->adopt = linked && !snap_name && k == 0;
	j->op = k < 0 ? NULL : op_new(d, name, "clone");
	if (!j->op) {
		werr_internal(&err, k < 0 ? k : -ENOMEM, k < 0 ? "reading snapshots" : "cloning");
		reply_error(r, &err);
		clone_fail(j, "internal", err.message);
		return;
	}
	src->busy_op = j->op;
	op_set_cancel(j->op, on_cancel, j);
	op_progress(j->op, 0, linked ? "making overlays" : "copying disks", 0, -1);
	events_emit_action(d, new_name, "clone", "accepted", (int)c->uid);
	reply_json(r, 202, json_pack("{s:o}", "operation", op_to_json(j->op)));
	k = plan(j, &argvs, &w, &n);
	if (k == 0)
		k = vm_rt_dir(j->vm, "clone.log", log, sizeof(log));
	if (k == 0)
		k = imgjob_run(d, argvs, n, w, j->op, log, on_copied, j, &j->img);
	else {
		for (size_t i = 0; argvs && i < n; i++)
			strv_free(argvs[i]);
		free(argvs);
	}
	free(w);
	if (k < 0)
		clone_fail(j, "unavailable", strerror(-k));
}
