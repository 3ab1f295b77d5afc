/*
 * migrate: moving a VM to another warrend. This file is the source side
 * and what both sides share; migrate_in.c is the destination side.
 *
 * The protocol (HTTP between the daemons, peer.c):
 *   prepare   POST /v1/migrations on the destination: it checks the spec,
 *             the name, capacity, networks and storage, records the
 *             migration, makes the VM (state "incoming") and its disks and,
 *             for a live migration, starts QEMU waiting for the guest (and
 *             exporting its new disks over NBD when they are copied).
 *   transfer  live: QEMU mirrors the disks into those exports (copied
 *             storage), then migrates memory; offline: the files go over
 *             in PUTs of MIG_CHUNK bytes (nothing goes over on shared
 *             storage). The source asks the destination how it is every
 *             second (a heartbeat both ways).
 *   confirm   POST /v1/migrations/{id}/confirm: the destination records
 *             that the VM is its own, then runs it.
 *   clean up  the source stops its QEMU and forgets the VM.
 *
 * Each side writes the phase to its store before acting on it. The
 * destination never runs the guest before it has recorded the confirm, and
 * until then it may roll back at any time (an abort, a restart, or
 * MIG_LEASE_MS without a word from the source). The source may resume the
 * guest itself at any time before it sends the confirm; once it has sent
 * it, only a destination that answers that it does not know the migration
 * lets it do so. So whichever daemon or QEMU dies, one copy remains: the
 * source's, or the destination's once confirmed.
 */
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

#include "daemon/mig-private.h"

#define MIG_TICK_MS 500
#define MIG_CONFIRM_RETRY_MS 2000
#define MIG_HEARTBEAT_FAILS 3
/* QEMU paces migrations to 128 MiB/s unless told; between daemons that
 * asked for no limit, this is none to speak of. */
#define MIG_UNLIMITED (16LL << 30)

static void src_fail(struct mig *m, const struct werr *err);
static void src_confirm(struct mig *m);
static void src_transfer(struct mig *m);
static void upload_next(struct mig *m);

/* ---- shared ------------------------------------------------------------ */

int64_t mig_now_ms(void)
{
	return (int64_t)(now_monotonic_ns() / 1000000);
}

struct mig *mig_new(struct daemon *d, const char *id, bool source, const struct vm_rt *vm)
{
	struct mig *m = calloc(1, sizeof(*m));

	if (!m)
		return NULL;
	m->d = d;
	m->source = source;
	m->fd = -1;
	m->auto_converge = true;
	m->created_ms = (int64_t)now_realtime_ms();
	m->t0_ms = m->heard_ms = mig_now_ms();
	snprintf(m->id, sizeof(m->id), "%s", id);
	if (vm) {
		snprintf(m->vm_id, sizeof(m->vm_id), "%s", vm->id);
		snprintf(m->vm_name, sizeof(m->vm_name), "%s", vm->spec->name);
	}
	m->next = d->migs;
	d->migs = m;
	return m;
}

struct mig *mig_find(struct daemon *d, const char *id)
{
	for (struct mig *m = d->migs; m; m = m->next)
		if (strcmp(m->id, id) == 0)
			return m;
	return NULL;
}

struct vm_rt *mig_vm(const struct mig *m)
{
	return vm_rt_find_id(m->d, m->vm_id);
}

json_t *mig_info_json(const struct mig *m)
{
	return json_pack("{s:s, s:s, s:b, s:s, s:I, s:s, s:s, s:s}", "mode",
			 m->live ? "live" : "offline", "storage", m->shared ? "shared" : "copy",
			 "was_running", m->was_running, "end_state", m->end_state, "started_ms",
			 (json_int_t)m->started_ms, "nonce", m->nonce, "mem_uri", m->mem_uri,
			 "nbd_path", m->nbd_path);
}

void mig_info_read(struct mig *m, const char *info_json)
{
	json_t *j = json_loads(info_json, 0, NULL);
	const char *s;

	m->live = strcmp(json_string_value(json_object_get(j, "mode")) ?: "", "live") == 0;
	m->shared = strcmp(json_string_value(json_object_get(j, "storage")) ?: "", "shared") == 0;
	m->was_running = json_is_true(json_object_get(j, "was_running"));
	m->started_ms = json_integer_value(json_object_get(j, "started_ms"));
	if ((s = json_string_value(json_object_get(j, "end_state"))))
		snprintf(m->end_state, sizeof(m->end_state), "%s", s);
	if ((s = json_string_value(json_object_get(j, "nonce"))))
		snprintf(m->nonce, sizeof(m->nonce), "%s", s);
	if ((s = json_string_value(json_object_get(j, "mem_uri"))))
		snprintf(m->mem_uri, sizeof(m->mem_uri), "%s", s);
	if ((s = json_string_value(json_object_get(j, "nbd_path"))))
		snprintf(m->nbd_path, sizeof(m->nbd_path), "%s", s);
	json_decref(j);
}

int mig_persist(struct mig *m, const char *phase)
{
	struct store_mig row = {.created_ms = m->created_ms};
	json_t *info = mig_info_json(m);
	int k;

	snprintf(m->phase, sizeof(m->phase), "%s", phase);
	snprintf(row.id, sizeof(row.id), "%s", m->id);
	snprintf(row.vm_id, sizeof(row.vm_id), "%s", m->vm_id);
	snprintf(row.vm_name, sizeof(row.vm_name), "%s", m->vm_name);
	snprintf(row.role, sizeof(row.role), "%s", m->source ? MIG_ROLE_SOURCE : MIG_ROLE_DEST);
	snprintf(row.peer, sizeof(row.peer), "%s", m->peer.display);
	snprintf(row.phase, sizeof(row.phase), "%s", phase);
	row.info_json = info ? json_dumps(info, JSON_COMPACT) : NULL;
	json_decref(info);
	k = row.info_json ? store_mig_put(m->d->store, &row) : -ENOMEM;
	free(row.info_json);
	if (k < 0)
		log_error_errno(k, "%s: cannot record migration %s as %s", m->vm_name, m->id, phase);
	else
		log_info("%s: migration %.8s %s", m->vm_name, m->id, phase);
	return k;
}

/* m is out of the list already. */
static void mig_free(struct mig *m, struct vm_rt *vm)
{
	struct werr err;

	if (vm && vm->mig == m)
		vm->mig = NULL;
	if (m->reply) {
		werr_set(&err, -ESHUTDOWN, "unavailable", "", "warrend is stopping");
		reply_error(m->reply, &err);
	}
	if (m->abort_reply)
		reply_json(m->abort_reply, 200, json_pack("{s:s}", "id", m->id));
	peer_cancel(m->req);
	if (m->timer)
		event_free(m->timer);
	if (m->fd >= 0)
		close(m->fd);
	strv_free(m->files);
	free(m->chunk);
	json_decref(m->disk_sizes);
	free(m);
}

void mig_end(struct mig *m, bool keep_row)
{
	struct vm_rt *vm = mig_vm(m);

	if (!keep_row) {
		int k = store_mig_delete(m->d->store, m->id);
		if (k < 0 && k != -ENOENT)
			log_error_errno(k, "cannot forget migration %s", m->id);
	}
	for (struct mig **p = &m->d->migs; *p; p = &(*p)->next)
		if (*p == m) {
			*p = m->next;
			break;
		}
	mig_free(m, vm);
}

int mig_auth(struct daemon *d, const struct caller *c, struct reply *r)
{
	struct werr err;

	if (!d->cfg.peer_token || daemon_peer_auth(d, c->authorization) == 0)
		return 0;
	werr_set(&err, -EACCES, "unauthorized", "",
		 "this daemon takes migrations only from peers that present its peer token");
	reply_error(r, &err);
	return -EACCES;
}

const char *mig_describe(const struct mig *m)
{
	static char buf[384];

	snprintf(buf, sizeof(buf), "migration %.8s %s %s, %s", m->id, m->source ? "to" : "from",
		 m->peer.display[0] ? m->peer.display : "a peer", m->phase);
	return buf;
}

json_t *mig_to_json(const struct mig *m)
{
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:o}", "id", m->id, "vm",
			 m->vm_name, "role", m->source ? MIG_ROLE_SOURCE : MIG_ROLE_DEST, "peer",
			 m->peer.display, "phase", m->phase, "mode", m->live ? "live" : "offline",
			 "storage", m->shared ? "shared" : "copy", "started_at",
			 json_time_ms(m->created_ms));
}

void daemon_mig_list(struct daemon *d, struct reply *r)
{
	json_t *arr = json_array();

	for (struct mig *m = d->migs; m; m = m->next)
		json_array_append_new(arr, mig_to_json(m));
	reply_json(r, 200, json_pack("{s:o}", "migrations", arr));
}

bool mig_on_event(struct vm_rt *vm, const char *event, json_t *data);
static bool src_on_event(struct mig *m, struct vm_rt *vm, const char *event, json_t *data);

bool mig_on_event(struct vm_rt *vm, const char *event, json_t *data)
{
	struct mig *m = vm->mig;

	return m->source ? src_on_event(m, vm, event, data) : mig_in_on_event(m, vm, event, data);
}

void mig_qemu_ready(struct vm_rt *vm)
{
	if (vm->mig && !vm->mig->source)
		mig_in_qemu_ready(vm->mig, vm);
}

static void src_exited(struct mig *m, struct vm_rt *vm);

void mig_vm_exited(struct vm_rt *vm)
{
	if (vm->mig->source)
		src_exited(vm->mig, vm);
	else
		mig_in_exited(vm->mig, vm);
}

/* The destination's error as ours: its code, its words. */
static void peer_error(struct mig *m, int status, json_t *body, const char *error,
		       const char *doing, struct werr *err)
{
	json_t *e = json_object_get(body, "error");
	const char *code = json_string_value(json_object_get(e, "code"));
	const char *msg = json_string_value(json_object_get(e, "message"));

	if (status == 0)
		werr_set(err, -EHOSTUNREACH, "unavailable", "to", "cannot reach %s (%s): %s",
			 m->peer.display, doing, error ? error : "no answer");
	else if (status == 401)
		werr_set(err, -EACCES, "unavailable", "to",
			 "%s refused the credentials (peer token) of this daemon", m->peer.display);
	else
		werr_set(err, -EREMOTEIO, code ? code : "unavailable", "", "%s refused %s: %s",
			 m->peer.display, doing, msg ? msg : "no reason given");
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct mig *m = arg;

	m->timer_fn(m);
}

void mig_timer(struct mig *m, unsigned ms, void (*fn)(struct mig *m))
{
	struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};

	m->timer_fn = fn;
	if (!m->timer)
		m->timer = evtimer_new(m->d->base, on_timer, m);
	if (m->timer)
		evtimer_add(m->timer, &tv);
}

static int probe_path(const struct mig *m, const struct vm_rt *vm, char *buf, size_t len)
{
	char file[64];

	snprintf(file, sizeof(file), "migrate-%.32s.probe", m->id);
	return vm_rt_data(vm, file, buf, len);
}

/* ---- source: QMP steps ------------------------------------------------- */

struct mig_ref *ref_new(const struct mig *m, size_t i)
{
	struct mig_ref *r = calloc(1, sizeof(*r));

	if (r) {
		r->d = m->d;
		r->i = i;
		snprintf(r->id, sizeof(r->id), "%s", m->id);
	}
	return r;
}

struct mig *ref_take(struct mig_ref *r, size_t *i)
{
	struct mig *m = r ? mig_find(r->d, r->id) : NULL;

	if (i && r)
		*i = r->i;
	free(r);
	return m;
}

int mig_qmp(struct mig *m, const char *cmd, json_t *args, qmp_reply_fn fn, size_t i)
{
	struct vm_rt *vm = mig_vm(m);
	struct mig_ref *r = fn ? ref_new(m, i) : NULL;
	int k;

	if (!vm || !vm->qmp || (fn && !r)) {
		json_decref(args);
		free(r);
		return -ENOTCONN;
	}
	k = qmp_execute(vm->qmp, cmd, args, fn, r);
	if (k < 0)
		free(r);
	return k;
}

/* ---- source: the request --------------------------------------------- */

static int body_int(json_t *body, const char *key, int64_t min, int64_t max, int64_t *ret,
		    struct werr *err)
{
	json_t *v = json_object_get(body, key);

	if (!v || json_is_null(v))
		return 0;
	if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max)
		return werr_set(err, -EINVAL, "invalid", key,
				"%s must be an integer from %lld to %lld", key, (long long)min,
				(long long)max);
	*ret = json_integer_value(v);
	return 0;
}

static int parse_request(struct mig *m, struct vm_rt *vm, json_t *body, const char **storage,
			 struct werr *err)
{
	static const char *const keys[] = {"to",	"mode",	     "storage",
					   "max_downtime_ms", "bandwidth", "auto_converge"};
	const char *key, *mode;
	json_t *v;

	json_object_foreach(body, key, v) {
		bool known = false;
		for (size_t i = 0; i < ARRAY_SIZE(keys) && !known; i++)
			known = strcmp(key, keys[i]) == 0;
		if (!known)
			return werr_set(err, -EINVAL, "invalid", key,
					"unknown key '%s' (to, mode, storage, max_downtime_ms, "
					"bandwidth, auto_converge)",
					key);
	}
	if (peer_addr_resolve(m->d, json_string_value(json_object_get(body, "to")), &m->peer, err) < 0)
		return -EINVAL;
	mode = json_string_value(json_object_get(body, "mode"));
	*storage = json_string_value(json_object_get(body, "storage"));
	if (mode && strcmp(mode, "live") != 0 && strcmp(mode, "offline") != 0)
		return werr_set(err, -EINVAL, "invalid", "mode", "mode must be live or offline");
	if (*storage && strcmp(*storage, "shared") != 0 && strcmp(*storage, "copy") != 0)
		return werr_set(err, -EINVAL, "invalid", "storage",
				"storage must be shared or copy");
	if ((v = json_object_get(body, "auto_converge")) && !json_is_boolean(v))
		return werr_set(err, -EINVAL, "invalid", "auto_converge",
				"auto_converge must be true or false");
	m->auto_converge = !json_is_false(v);
	if (body_int(body, "max_downtime_ms", 1, 2000000, &m->max_downtime_ms, err) < 0 ||
	    body_int(body, "bandwidth", 1 << 20, INT64_MAX / 2, &m->bandwidth, err) < 0)
		return -EINVAL;
	m->live = mode ? strcmp(mode, "live") == 0 : vm_state_is_active(vm->state);
	if (m->live && vm->state != VM_RUNNING && vm->state != VM_PAUSED)
		return werr_set(err, -EBUSY, "conflict", "",
				"cannot migrate %s live: it is %s%s", vm->spec->name,
				vm_state_to_string(vm->state),
				vm_state_is_active(vm->state) ? "" : " (migrate it offline)");
	if (!m->live && vm->state != VM_STOPPED && vm->state != VM_SUSPENDED &&
	    vm->state != VM_CRASHED)
		return werr_set(err, -EBUSY, "conflict", "",
				"cannot migrate %s offline: it is %s (migrate it live, or stop "
				"or suspend it first)",
				vm->spec->name, vm_state_to_string(vm->state));
	if (vm->unplug)
		return werr_set(err, -EBUSY, "conflict", "",
				"cannot migrate %s: a NIC is being unplugged", vm->spec->name);
	return 0;
}

static json_t *snapshots_json(struct mig *m)
{
	struct store_snap *list = NULL;
	size_t n = 0;
	json_t *arr = json_array();

	if (store_snap_list(m->d->store, m->vm_id, &list, &n) < 0)
		return arr;
	for (size_t i = 0; i < n; i++)
		json_array_append_new(
			arr, json_pack("{s:s, s:s, s:s, s:I, s:b, s:s, s:s, s:I, s:I}", "id",
				       list[i].id, "name", list[i].name, "parent", list[i].parent,
				       "created_ms", (json_int_t)list[i].created_ms, "memory",
				       list[i].memory, "vm_state", list[i].vm_state, "spec",
				       list[i].spec_json ? list[i].spec_json : "{}", "memory_size",
				       (json_int_t)list[i].memory_size, "disk_size",
				       (json_int_t)list[i].disk_size));
	store_snap_list_free(list, n);
	return arr;
}

static json_t *prepare_body(struct mig *m, struct vm_rt *vm, const char *storage)
{
	return json_pack("{s:s, s:s, s:s, s:s?, s:{s:s, s:s, s:o, s:s, s:I, s:I, s:s, s:b}, s:o, "
			 "s:O?, s:s}",
			 "id", m->id, "from", m->d->cfg.socket_path, "mode", m->live ? "live" : "offline", "storage", storage,
			 "vm", "id", vm->id, "name", vm->spec->name, "spec",
			 vm_spec_to_json(vm->spec), "state", vm_state_to_string(vm->state),
			 "created_ms", (json_int_t)vm->created_ms, "started_ms",
			 (json_int_t)vm->started_ms, "current_snap", vm->current_snap,
			 "fork_pending", vm->fork_pending, "snapshots", snapshots_json(m),
			 "disk_sizes", m->disk_sizes, "nonce", m->nonce);
}

/* Where the disks may go: a linked clone's base lies in this daemon's
 * state directory, which no other daemon sees; a live copy flattens the
 * disks and would lose the snapshots. */
static int storage_check(struct mig *m, struct vm_rt *vm, struct werr *err)
{
	char bases[PATH_MAX];
	size_t n = (size_t)snprintf(bases, sizeof(bases), "%s/bases/", m->d->cfg.state_dir);
	int snaps = snapshot_count(m->d, vm->id);

	for (size_t i = 0; i < vm->spec->n_disks; i++) {
		const char *img = vm->spec->disks[i].image;
		if (img && strncmp(img, bases, n) == 0 && (m->shared || !m->live))
			return werr_set(err, -EXDEV, "conflict", "storage",
					"disk %s of %s is a linked clone whose base %s stays in "
					"this daemon's state directory, which the destination "
					"cannot use; migrate it live with copied storage",
					vm->spec->disks[i].name, vm->spec->name, img);
	}
	if (m->live && !m->shared && snaps > 0)
		return werr_set(err, -EXDEV, "conflict", "storage",
				"%s has %d snapshot%s, which a live migration without shared "
				"storage cannot carry; delete them, migrate it offline, or use "
				"shared storage",
				vm->spec->name, snaps, snaps == 1 ? "" : "s");
	return 0;
}

static void start_fail(struct mig *m, const struct werr *err, bool abort_peer);

static void on_abort_sent_orphan(void *ud, int status, json_t *body, const char *error)
{
	if (status != 200 && status != 404)
		log_warn("a destination did not take back a migration (%s); it rolls back on "
			 "its own",
			 error ? error : "refused");
}

static void on_prepared(void *ud, int status, json_t *body, const char *error)
{
	struct mig *m = ud;
	struct vm_rt *vm = mig_vm(m);
	json_t *mj = json_object_get(body, "migration");
	const char *st = json_string_value(json_object_get(mj, "storage"));
	struct werr err;

	m->req = NULL;
	if (status != 201 || !vm) {
		if (status == 201)
			werr_set(&err, -ENOENT, "not_found", "", "the VM went away");
		else
			peer_error(m, status, body, error, "the migration", &err);
		start_fail(m, &err, status == 201);
		return;
	}
	m->shared = st && strcmp(st, "shared") == 0;
	snprintf(m->mem_uri, sizeof(m->mem_uri), "%s",
		 json_string_value(json_object_get(mj, "memory_uri")) ?: "");
	snprintf(m->nbd_path, sizeof(m->nbd_path), "%s",
		 json_string_value(json_object_get(mj, "nbd_socket")) ?: "");
	if (storage_check(m, vm, &err) < 0) {
		start_fail(m, &err, true);
		return;
	}
	m->op = op_new(m->d, m->vm_name, "migrate");
	if (!m->op || mig_persist(m, MIG_TRANSFERRING) < 0) {
		werr_internal(&err, -ENOMEM, "starting the migration");
		start_fail(m, &err, true);
		return;
	}
	events_emit_action(m->d, m->vm_name, "migrate", "started", -1);
	reply_json(TAKE_PTR(m->reply), 202, json_pack("{s:o}", "operation", op_to_json(m->op)));
	src_transfer(m);
}

static void start_fail(struct mig *m, const struct werr *err, bool abort_peer)
{
	struct vm_rt *vm = mig_vm(m);
	char path[PATH_MAX], url[128];

	if (vm && probe_path(m, vm, path, sizeof(path)) == 0)
		unlink(path);
	if (abort_peer) {
		snprintf(url, sizeof(url), "/v1/migrations/%s", m->id);
		/* Best effort; the destination rolls back on its own too. The
		 * request outlives m: it must not call back into it. */
		peer_request(m->d, &m->peer, "DELETE", url, NULL, NULL, 0, MIG_PEER_TIMEOUT_MS,
			     on_abort_sent_orphan, NULL, NULL);
	}
	log_info("%s: not migrated: %s", m->vm_name, err->message);
	reply_error(TAKE_PTR(m->reply), err);
	mig_end(m, false);
}

static void on_sizes(struct qmp *q, json_t *result, const struct qmp_error *e, void *ud);

static void send_prepare(struct mig *m)
{
	struct vm_rt *vm = mig_vm(m);
	struct werr err;

	if (!vm || peer_request(m->d, &m->peer, "POST", "/v1/migrations",
				prepare_body(m, vm, m->storage_req[0] ? m->storage_req : NULL),
				NULL, 0, MIG_PEER_TIMEOUT_MS, on_prepared, m, &m->req) < 0) {
		werr_internal(&err, -ENOMEM, "asking the destination");
		start_fail(m, &err, false);
	}
}

static void on_sizes(struct qmp *q, json_t *result, const struct qmp_error *e, void *ud)
{
	struct mig *m = ref_take(ud, NULL);
	size_t i;
	json_t *dev;
	struct werr err;

	if (!m)
		return;
	if (e) {
		werr_set(&err, -EIO, "unavailable", "", "cannot read %s's disk sizes from QEMU: %s",
			 m->vm_name, e->desc);
		start_fail(m, &err, false);
		return;
	}
	m->disk_sizes = json_object();
	json_array_foreach(result, i, dev) {
		json_t *ins = json_object_get(dev, "inserted");
		const char *node = json_string_value(json_object_get(ins, "node-name"));
		json_t *size = json_object_get(json_object_get(ins, "image"), "virtual-size");
		if (node && strncmp(node, "fmt-", 4) == 0 && json_is_integer(size))
			json_object_set(m->disk_sizes, node + 4, size);
	}
	send_prepare(m);
}

static bool same_daemon(struct daemon *d, const struct peer_addr *a)
{
	char mine[PATH_MAX], theirs[PATH_MAX];

	if (a->url[0])
		return d->cfg.listen && strcmp(a->url + 7, d->cfg.listen) == 0;
	return realpath(d->cfg.socket_path, mine) && realpath(a->unix_path, theirs) &&
	       strcmp(mine, theirs) == 0;
}

static int write_probe(struct mig *m, struct vm_rt *vm)
{
	char path[PATH_MAX];
	_cleanup_close_ int fd = -1;
	int k;

	if ((k = probe_path(m, vm, path, sizeof(path))) < 0)
		return k;
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	if (write(fd, m->nonce, strlen(m->nonce)) != (ssize_t)strlen(m->nonce))
		return -EIO;
	return 0;
}

void daemon_vm_migrate(struct daemon *d, const struct caller *c, const char *name, json_t *body,
		       struct reply *r)
{
	struct vm_rt *vm = vm_find_or_reply(d, name, r);
	const char *storage = NULL;
	struct mig *m;
	struct werr err;
	char id[33];
	int k;

	if (!vm)
		return;
	if (vm_rt_check_idle(vm, "migrate", &err) < 0 || id_random_hex(id, 16) < 0) {
		reply_error(r, &err);
		return;
	}
	m = mig_new(d, id, true, vm);
	if (!m) {
		werr_internal(&err, -ENOMEM, "starting a migration");
		reply_error(r, &err);
		return;
	}
	m->reply = r;
	k = parse_request(m, vm, body, &storage, &err);
	if (k == 0 && same_daemon(d, &m->peer))
		k = werr_set(&err, -EINVAL, "invalid", "to",
			     "%s is this daemon's own socket; give another warrend's",
			     m->peer.display);
	if (k == 0) {
		snprintf(m->storage_req, sizeof(m->storage_req), "%s", storage ? storage : "");
		m->shared = storage && strcmp(storage, "shared") == 0;
		m->was_running = vm->state == VM_RUNNING;
		m->started_ms = vm->started_ms;
		snprintf(m->end_state, sizeof(m->end_state), "%s",
			 vm->state == VM_SUSPENDED ? "suspended" : "stopped");
		if ((k = id_random_hex(m->nonce, 16)) < 0)
			werr_internal(&err, k, "making the storage probe");
	}
	/* Recorded before the probe is written: a restart finds the row and
	 * removes the probe with the rest. */
	if (k == 0 && (k = mig_persist(m, MIG_PREPARING)) < 0)
		werr_internal(&err, k, "recording the migration");
	if (k == 0 && (k = write_probe(m, vm)) < 0)
		werr_internal(&err, k, "writing the storage probe");
	if (k < 0) {
		start_fail(m, &err, false);
		return;
	}
	vm->mig = m;
	log_info("%s: migrating %s to %s", name, m->live ? "live" : "offline", m->peer.display);
	if (m->live) {
		if (mig_qmp(m, "query-block", NULL, on_sizes, 0) < 0) {
			werr_set(&err, -ENOTCONN, "unavailable", "", "%s's QEMU does not answer", name);
			start_fail(m, &err, false);
		}
		return;
	}
	send_prepare(m);
}

static void job_id(const struct mig *m, size_t i, char *buf, size_t len)
{
	snprintf(buf, len, "j%.8s%zu", m->id, i);
}

static void node_id(const struct mig *m, size_t i, char *buf, size_t len)
{
	snprintf(buf, len, "n%.8s%zu", m->id, i);
}

static void fail_qemu(struct mig *m, const char *doing, const char *why)
{
	struct werr err;

	werr_set(&err, -EIO, "unavailable", "", "%s could not be migrated: %s failed: %s",
		 m->vm_name, doing, why);
	src_fail(m, &err);
}

/* A step whose failure ends the migration. */
static void on_step(struct qmp *q, json_t *result, const struct qmp_error *e, void *ud)
{
	struct mig *m = ref_take(ud, NULL);

	if (m && e && !m->cancelling)
		fail_qemu(m, "a QEMU command", e->desc);
}

static void send_migrate(struct mig *m)
{
	m->migrate_sent = true;
	op_progress(m->op, m->jobs ? 50 : 0, "copying memory", 0, -1);
	mig_qmp(m, "migrate", json_pack("{s:s}", "uri", m->mem_uri), on_step, 0);
}

static void start_live(struct mig *m)
{
	struct vm_rt *vm = mig_vm(m);
	json_t *params = json_pack("{s:I}", "max-bandwidth",
				   (json_int_t)(m->bandwidth ? m->bandwidth : MIG_UNLIMITED));
	char node[40], job[40];

	if (m->max_downtime_ms)
		json_object_set_new(params, "downtime-limit", json_integer(m->max_downtime_ms));
	mig_qmp(m, "migrate-set-capabilities",
		json_pack("{s:[{s:s, s:b}, {s:s, s:b}, {s:s, s:b}]}", "capabilities", "capability",
			  "events", "state", 1, "capability", "auto-converge", "state",
			  m->auto_converge, "capability", "pause-before-switchover", "state",
			  !m->shared),
		on_step, 0);
	mig_qmp(m, "migrate-set-parameters", params, on_step, 0);
	if (m->shared) {
		send_migrate(m);
		return;
	}
	op_progress(m->op, 0, "copying disks", 0, -1);
	for (size_t i = 0; vm && i < vm->spec->n_disks; i++) {
		char dev[48];
		node_id(m, i, node, sizeof(node));
		job_id(m, i, job, sizeof(job));
		snprintf(dev, sizeof(dev), "fmt-%s", vm->spec->disks[i].name);
		mig_qmp(m, "blockdev-add",
			json_pack("{s:s, s:s, s:{s:s, s:s}, s:s}", "driver", "nbd", "node-name",
				  node, "server", "type", "unix", "path", m->nbd_path, "export",
				  vm->spec->disks[i].name),
			on_step, i);
		json_t *args = json_pack("{s:s, s:s, s:s, s:s}", "job-id", job, "device", dev,
					 "target", node, "sync", "full");
		if (m->bandwidth)
			json_object_set_new(args, "speed", json_integer(m->bandwidth));
		mig_qmp(m, "blockdev-mirror", args, on_step, i);
		m->jobs++;
	}
	if (!m->jobs)
		send_migrate(m); /* no disks to copy */
}

static void upload_start(struct mig *m);

static void on_cancel(struct op *op, void *ud);
static void on_tick(struct mig *m);

static void src_transfer(struct mig *m)
{
	if (m->op)
		op_set_cancel(m->op, on_cancel, m);
	if (m->live) {
		mig_timer(m, MIG_TICK_MS, on_tick);
		start_live(m);
	} else if (m->shared) {
		src_confirm(m);
	} else {
		upload_start(m);
	}
}

/* ---- source: progress and heartbeat ------------------------------------ */

static void on_jobs(struct qmp *q, json_t *result, const struct qmp_error *e, void *ud)
{
	struct mig *m = ref_take(ud, NULL);
	int64_t len = 0, off = 0;
	size_t i;
	json_t *job;

	if (!m || e || m->migrate_sent)
		return;
	json_array_foreach(result, i, job) {
		len += json_integer_value(json_object_get(job, "len"));
		off += json_integer_value(json_object_get(job, "offset"));
	}
	op_progress(m->op, len > 0 ? 50.0 * (double)off / (double)len : 0, "copying disks", off,
		    len);
	op_set_details(m->op, json_pack("{s:I, s:I}", "transferred_bytes", (json_int_t)off,
					"disk_remaining_bytes", (json_int_t)(len - off)));
}

static void on_query_migrate(struct qmp *q, json_t *result, const struct qmp_error *e, void *ud)
{
	struct mig *m = ref_take(ud, NULL);
	json_t *ram = json_object_get(result, "ram");
	int64_t total = json_integer_value(json_object_get(ram, "total"));
	int64_t remaining = json_integer_value(json_object_get(ram, "remaining"));
	int64_t sent = json_integer_value(json_object_get(ram, "transferred"));
	int64_t page = json_integer_value(json_object_get(ram, "page-size")) ?: 4096;
	int64_t dirty = json_integer_value(json_object_get(ram, "dirty-pages-rate"));
	json_t *expected = json_object_get(result, "expected-downtime");
	double base = m && m->jobs ? 50 : 0;

	if (!m || e || !ram)
		return;
	m->transferred = sent;
	if (m->completed)
		return;
	op_progress(m->op, total > 0 ? base + (100 - base) * (double)(total - remaining) / (double)total
				     : base,
		    "copying memory", sent, total);
	op_set_details(m->op, json_pack("{s:I, s:I, s:I, s:O?}", "transferred_bytes",
					(json_int_t)sent, "remaining_bytes", (json_int_t)remaining,
					"dirty_rate", (json_int_t)(dirty * page),
					"expected_downtime_ms", expected));
}

static void on_heartbeat(void *ud, int status, json_t *body, const char *error)
{
	struct mig *m = ud;
	struct werr err;

	m->req = NULL;
	if (status == 200) {
		m->heartbeat_fails = 0;
		return;
	}
	if (status == 404 || ++m->heartbeat_fails >= MIG_HEARTBEAT_FAILS) {
		peer_error(m, status, body, error, "the migration", &err);
		if (status == 404)
			werr_set(&err, -ENOENT, "unavailable", "",
				 "%s no longer knows the migration; %s stays here", m->peer.display,
				 m->vm_name);
		src_fail(m, &err);
	}
}

static void on_tick(struct mig *m)
{
	char url[128];

	if (strcmp(m->phase, MIG_TRANSFERRING) != 0 || m->cancelling)
		return;
	if (m->live && !m->migrate_sent && m->jobs)
		mig_qmp(m, "query-block-jobs", NULL, on_jobs, 0);
	else if (m->live && !m->completed)
		mig_qmp(m, "query-migrate", NULL, on_query_migrate, 0);
	if (!m->req && m->live) {
		snprintf(url, sizeof(url), "/v1/migrations/%s", m->id);
		peer_request(m->d, &m->peer, "GET", url, NULL, NULL, 0, MIG_PEER_TIMEOUT_MS / 3,
			     on_heartbeat, m, &m->req);
	}
	mig_timer(m, MIG_TICK_MS, on_tick);
}

/* ---- source: events ---------------------------------------------------- */

static void jobs_finished(struct mig *m)
{
	char node[40];

	for (size_t i = 0; i < m->jobs; i++) {
		node_id(m, i, node, sizeof(node));
		mig_qmp(m, "blockdev-del", json_pack("{s:s}", "node-name", node), NULL, 0);
	}
	mig_qmp(m, "migrate-continue", json_pack("{s:s}", "state", "pre-switchover"), on_step, 0);
}

/* What QEMU sent in all: asked alongside the confirm, never before it,
 * since the guest is stopped until the destination runs it. */
static void on_final_stats(struct qmp *q, json_t *result, const struct qmp_error *e, void *ud)
{
	struct mig *m = ref_take(ud, NULL);

	if (m && !e)
		m->transferred =
			json_integer_value(json_object_get(json_object_get(result, "ram"), "transferred"));
}

static bool is_our_job(const struct mig *m, const char *dev)
{
	char prefix[16];

	snprintf(prefix, sizeof(prefix), "j%.8s", m->id);
	return dev && strncmp(dev, prefix, strlen(prefix)) == 0;
}

static bool src_on_event(struct mig *m, struct vm_rt *vm, const char *event, json_t *data)
{
	const char *dev = json_string_value(json_object_get(data, "device"));
	const char *status = json_string_value(json_object_get(data, "status"));
	char job[40];

	if (strncmp(event, "BLOCK_JOB_", 10) == 0) {
		if (!is_our_job(m, dev) || m->cancelling)
			return true;
		if (strcmp(event, "BLOCK_JOB_READY") == 0) {
			if (++m->jobs_ready == m->jobs && !m->migrate_sent)
				send_migrate(m);
		} else if (strcmp(event, "BLOCK_JOB_COMPLETED") == 0 &&
			   !json_object_get(data, "error") && m->jobs_ready == m->jobs &&
			   m->migrate_sent) {
			if (++m->jobs_done == m->jobs)
				jobs_finished(m);
		} else if (strcmp(event, "BLOCK_JOB_PENDING") != 0) {
			fail_qemu(m, "copying the disks",
				  json_string_value(json_object_get(data, "error")) ?: event);
		}
		return true;
	}
	/* The guest stops for the switch-over: its downtime starts. The
	 * state change itself is vmrt.c's. */
	if (strcmp(event, "STOP") == 0 && m->migrate_sent && !m->t_stop_ms && m->was_running)
		m->t_stop_ms = mig_now_ms();
	if (strcmp(event, "MIGRATION") != 0 || !status)
		return false;
	log_debug("%s: outgoing migration %s", m->vm_name, status);
	if (m->cancelling)
		return true;
	if (strcmp(status, "pre-switchover") == 0) {
		/* The guest is stopped: the mirrors finish (a cancel of a
		 * ready mirror completes it) before the last of memory goes. */
		op_progress(m->op, 99, "switching over", -1, -1);
		if (!m->jobs)
			jobs_finished(m);
		for (size_t i = 0; i < m->jobs; i++) {
			job_id(m, i, job, sizeof(job));
			mig_qmp(m, "block-job-cancel", json_pack("{s:s}", "device", job), on_step, 0);
		}
	} else if (strcmp(status, "completed") == 0) {
		m->completed = true;
		mig_qmp(m, "query-migrate", NULL, on_final_stats, 0);
		src_confirm(m);
	} else if (strcmp(status, "failed") == 0 || strcmp(status, "cancelled") == 0) {
		fail_qemu(m, "QEMU's migration", status);
	}
	return true;
}

static void src_exited(struct mig *m, struct vm_rt *vm)
{
	struct werr err;

	if (strcmp(m->phase, MIG_SWITCHING) == 0 || m->cancelling)
		return;
	if (m->completed) {
		src_confirm(m); /* the destination has the whole guest */
		return;
	}
	werr_set(&err, -EIO, "unavailable", "", "%s's QEMU exited during the migration",
		 m->vm_name);
	src_fail(m, &err);
}

/* ---- source: offline transfer ----------------------------------------- */

static void on_chunk(void *ud, int status, json_t *body, const char *error)
{
	struct mig *m = ud;
	struct werr err;

	m->req = NULL;
	if (status != 204 && status != 200) {
		peer_error(m, status, body, error, "the files", &err);
		src_fail(m, &err);
		return;
	}
	upload_next(m);
}

static void upload_next(struct mig *m)
{
	struct vm_rt *vm = mig_vm(m);
	char path[PATH_MAX], url[256];
	struct werr err;
	struct stat st;
	ssize_t n;

	if (m->fd >= 0 && m->offset >= m->file_size) {
		close(m->fd);
		m->fd = -1;
		m->file_i++;
	}
	if (!m->files || !m->files[m->file_i]) {
		src_confirm(m);
		return;
	}
	if (m->fd < 0) {
		if (!vm || vm_rt_data(vm, m->files[m->file_i], path, sizeof(path)) < 0 ||
		    (m->fd = open(path, O_RDONLY | O_CLOEXEC)) < 0 || fstat(m->fd, &st) < 0) {
			werr_set(&err, -errno, "unavailable", "", "cannot read %s of %s: %s",
				 m->files[m->file_i], m->vm_name, strerror(errno));
			src_fail(m, &err);
			return;
		}
		m->offset = 0;
		m->file_size = (uint64_t)st.st_size;
	}
	n = pread(m->fd, m->chunk, MIG_CHUNK, (off_t)m->offset);
	if (n < 0) {
		werr_set(&err, -errno, "unavailable", "", "cannot read %s of %s: %s",
			 m->files[m->file_i], m->vm_name, strerror(errno));
		src_fail(m, &err);
		return;
	}
	snprintf(url, sizeof(url), "/v1/migrations/%s/files/%s?offset=%llu", m->id,
		 m->files[m->file_i], (unsigned long long)m->offset);
	/* An empty file still gets one request, which makes it. */
	m->offset += (uint64_t)n;
	if (n == 0)
		m->offset = m->file_size + 1;
	m->sent += (uint64_t)n;
	op_progress(m->op, m->total ? 100.0 * (double)m->sent / (double)m->total : 0,
		    "copying files", (int64_t)m->sent, (int64_t)m->total);
	if (peer_request(m->d, &m->peer, "PUT", url, NULL, m->chunk, (size_t)n,
			 MIG_PEER_TIMEOUT_MS, on_chunk, m, &m->req) < 0) {
		werr_internal(&err, -ENOMEM, "sending files");
		src_fail(m, &err);
	}
}

static void upload_start(struct mig *m)
{
	struct vm_rt *vm = mig_vm(m);
	struct store_snap *list = NULL;
	char file[64], path[PATH_MAX];
	size_t n = 0;
	struct stat st;
	int k = 0;

	m->chunk = malloc(MIG_CHUNK);
	for (size_t i = 0; vm && i < vm->spec->n_disks && k == 0; i++) {
		snprintf(file, sizeof(file), "disk-%s.qcow2", vm->spec->disks[i].name);
		k = strv_push(&m->files, file);
	}
	if (vm && k == 0 && vm->state == VM_SUSPENDED)
		k = strv_push(&m->files, "memory.state");
	if (vm && k == 0 && store_snap_list(m->d->store, vm->id, &list, &n) == 0) {
		for (size_t i = 0; i < n && k == 0; i++) {
			snprintf(file, sizeof(file), "snap-%s.state", list[i].id);
			if (list[i].memory)
				k = strv_push(&m->files, file);
		}
		store_snap_list_free(list, n);
	}
	for (size_t i = 0; vm && m->files && m->files[i]; i++)
		if (vm_rt_data(vm, m->files[i], path, sizeof(path)) == 0 && stat(path, &st) == 0)
			m->total += (uint64_t)st.st_size;
	if (!vm || k < 0 || !m->chunk) {
		struct werr err;
		werr_internal(&err, -ENOMEM, "listing the files");
		src_fail(m, &err);
		return;
	}
	upload_next(m);
}

/* ---- source: confirm and clean up -------------------------------------- */

static void src_forget_vm(struct vm_rt *vm, void *ud)
{
	struct mig *m = ref_take(ud, NULL);
	struct daemon *d = vm->d;
	char path[PATH_MAX];
	bool nics = vm->spec->n_nics > 0;
	int k;

	if (!m)
		return;
	if (probe_path(m, vm, path, sizeof(path)) == 0)
		unlink(path);
	k = store_vm_delete(d->store, vm->id);
	if (k < 0 && k != -ENOENT)
		log_error_errno(k, "%s: cannot remove the migrated VM from the store", m->vm_name);
	if ((k = vm_rt_rmdirs(vm, !m->shared)) < 0)
		log_warn_errno(k, "%s: cannot remove its directories", m->vm_name);
	vm->mig = NULL;
	vm_rt_unlink(d, vm);
	vm_rt_free(vm);
	if (nics)
		networks_sync(d, NULL);
	bases_sweep(d);
	log_info("%s: migrated to %s (%s, %s storage) in %lld ms, downtime %lld ms", m->vm_name,
		 m->peer.display, m->live ? "live" : "offline", m->shared ? "shared" : "copied",
		 (long long)(mig_now_ms() - m->t0_ms), (long long)m->downtime_ms);
	events_emit_action(d, m->vm_name, "migrate", "ok", -1);
	if (m->op) {
		op_set_result(m->op,
			      json_pack("{s:{s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:I}}", "migration",
					"id", m->id, "vm", m->vm_name, "to", m->peer.display, "mode",
					m->live ? "live" : "offline", "storage",
					m->shared ? "shared" : "copy", "total_ms",
					(json_int_t)(mig_now_ms() - m->t0_ms), "downtime_ms",
					(json_int_t)m->downtime_ms, "transferred_bytes",
					(json_int_t)(m->live ? m->transferred : (int64_t)m->sent)));
		op_finish(m->op, NULL, "migrated");
	}
	mig_end(m, false);
}

static void src_finish(struct mig *m)
{
	struct vm_rt *vm = mig_vm(m);
	struct mig_ref *r = ref_new(m, 0);

	/* Until the destination answered the confirm, by when it has told
	 * its QEMU to run the guest. */
	if (m->t_stop_ms)
		m->downtime_ms = mig_now_ms() - m->t_stop_ms;
	op_progress(m->op, 100, "cleaning up", -1, -1);
	if (!vm) { /* gone already: a restart between confirm and clean-up */
		free(r);
		mig_end(m, false);
		return;
	}
	if (vm->pid > 0 && vm_state_is_active(vm->state)) {
		vm->stop_requested = true;
		vm_rt_wait_gone(vm, NULL, src_forget_vm, r);
		vm_rt_force_quit(vm);
		return;
	}
	src_forget_vm(vm, r);
}

static void on_confirmed(void *ud, int status, json_t *body, const char *error)
{
	struct mig *m = ud;
	struct werr err;

	m->req = NULL;
	if (status == 200) {
		src_finish(m);
		return;
	}
	if (status == 404 || status == 409) {
		/* The destination never ran it and has let it go. */
		peer_error(m, status, body, error, "the confirmation", &err);
		m->confirm_refused = true; /* src_fail may resume the guest now */
		src_fail(m, &err);
		return;
	}
	/* Not known whether the destination took it: ask again, never
	 * resume here meanwhile. */
	log_warn("%s: confirming migration %.8s to %s: %s; trying again", m->vm_name, m->id,
		 m->peer.display, error ? error : "no clear answer");
	op_progress(m->op, 100, "switching over (waiting for the destination)", -1, -1);
	mig_timer(m, MIG_CONFIRM_RETRY_MS, src_confirm);
}

static void src_confirm(struct mig *m)
{
	char url[128];

	if (strcmp(m->phase, MIG_SWITCHING) != 0 && mig_persist(m, MIG_SWITCHING) < 0) {
		mig_timer(m, MIG_CONFIRM_RETRY_MS, src_confirm);
		return;
	}
	if (m->op)
		op_set_cancel(m->op, NULL, NULL); /* too late for that */
	op_progress(m->op, 100, "switching over", -1, -1);
	peer_cancel(m->req); /* a heartbeat: the confirm says more */
	m->req = NULL;
	snprintf(url, sizeof(url), "/v1/migrations/%s/confirm", m->id);
	if (peer_request(m->d, &m->peer, "POST", url, NULL, NULL, 0, MIG_PEER_TIMEOUT_MS,
			 on_confirmed, m, &m->req) < 0)
		mig_timer(m, MIG_CONFIRM_RETRY_MS, src_confirm);
}

/* ---- source: roll back -------------------------------------------------- */

static void rolled_back(struct mig *m)
{
	struct vm_rt *vm = mig_vm(m);
	char path[PATH_MAX];
	bool cancelled = strcmp(m->fail.code, "cancelled") == 0;

	if (vm && probe_path(m, vm, path, sizeof(path)) == 0)
		unlink(path);
	log_info("%s: migration %.8s rolled back: %s", m->vm_name, m->id, m->fail.message);
	events_emit_action(m->d, m->vm_name, "migrate", cancelled ? "cancelled" : m->fail.code, -1);
	if (m->op)
		op_finish(m->op, &m->fail, NULL);
	mig_end(m, false);
}

static void settle(struct mig *m);

static void on_status_settled(struct qmp *q, json_t *result, const struct qmp_error *e, void *ud)
{
	struct mig *m = ref_take(ud, NULL);
	const char *st = e ? NULL : json_string_value(json_object_get(result, "status"));

	if (!m)
		return;
	/* The VM stays with this QEMU: its later saves (suspend, snapshots)
	 * are migrations too and must not stop before the switch-over. */
	mig_qmp(m, "migrate-set-capabilities",
		json_pack("{s:[{s:s, s:b}, {s:s, s:b}]}", "capabilities", "capability",
			  "pause-before-switchover", "state", 0, "capability", "auto-converge",
			  "state", 0),
		NULL, 0);
	if (m->was_running && st && strcmp(st, "running") != 0 && mig_vm(m))
		vm_rt_cont_then(mig_vm(m), NULL, NULL);
	rolled_back(m);
}

static void on_settled(struct qmp *q, json_t *result, const struct qmp_error *e, void *ud)
{
	static const char *const busy[] = {"setup",  "active",	  "pre-switchover",
					   "device", "cancelling", "wait-unplug"};
	struct mig *m = ref_take(ud, NULL);
	const char *st = e ? NULL : json_string_value(json_object_get(result, "status"));
	char node[40];

	if (!m)
		return;
	for (size_t i = 0; st && i < ARRAY_SIZE(busy); i++)
		if (strcmp(st, busy[i]) == 0) {
			mig_timer(m, 200, settle);
			return;
		}
	for (size_t i = 0; i < m->jobs; i++) {
		node_id(m, i, node, sizeof(node));
		mig_qmp(m, "blockdev-del", json_pack("{s:s}", "node-name", node), NULL, 0);
	}
	if (mig_qmp(m, "query-status", NULL, on_status_settled, 0) < 0)
		rolled_back(m);
}

/* QEMU's side of the rollback is over once its migration is. */
static void settle(struct mig *m)
{
	struct vm_rt *vm = mig_vm(m);

	if (!m->live || !vm || !vm_state_is_active(vm->state) ||
	    mig_qmp(m, "query-migrate", NULL, on_settled, 0) < 0)
		rolled_back(m);
}

static void on_aborted(void *ud, int status, json_t *body, const char *error)
{
	struct mig *m = ud;

	m->req = NULL;
	if (status != 200 && status != 404)
		log_warn("%s: %s did not take back migration %.8s (%s); it rolls back on its own",
			 m->vm_name, m->peer.display, m->id, error ? error : "refused");
	settle(m);
}

static void src_fail(struct mig *m, const struct werr *err)
{
	char job[40], url[128];

	if (m->cancelling)
		return;
	/* Once the confirm may have been taken, only the destination's
	 * answer to it decides (on_confirmed). */
	if (strcmp(m->phase, MIG_SWITCHING) == 0 && !m->confirm_refused) {
		log_warn("%s: %s; the confirmation decides", m->vm_name, err->message);
		return;
	}
	m->cancelling = true;
	m->fail = *err;
	op_progress(m->op, -1, "rolling back", -1, -1);
	if (m->timer)
		evtimer_del(m->timer);
	peer_cancel(m->req);
	m->req = NULL;
	if (m->live && m->migrate_sent && !m->completed)
		mig_qmp(m, "migrate_cancel", NULL, NULL, 0);
	for (size_t i = 0; m->live && i < m->jobs; i++) {
		job_id(m, i, job, sizeof(job));
		mig_qmp(m, "block-job-cancel", json_pack("{s:s, s:b}", "device", job, "force", 1),
			NULL, 0);
	}
	snprintf(url, sizeof(url), "/v1/migrations/%s", m->id);
	if (peer_request(m->d, &m->peer, "DELETE", url, NULL, NULL, 0, MIG_PEER_TIMEOUT_MS,
			 on_aborted, m, &m->req) < 0)
		settle(m);
}

static void on_cancel(struct op *op, void *ud)
{
	struct mig *m = ud;
	struct werr err;

	if (m->completed || strcmp(m->phase, MIG_TRANSFERRING) != 0)
		return;
	werr_set(&err, -ECANCELED, "cancelled", "", "migrating %s was cancelled; it stays here",
		 m->vm_name);
	src_fail(m, &err);
}

/* ---- start-up ---------------------------------------------------------- */

static void recover_wait_qmp(struct mig *m);

static void on_recovered_status(struct qmp *q, json_t *result, const struct qmp_error *e,
				void *ud)
{
	struct mig *m = ref_take(ud, NULL);
	const char *st = e ? NULL : json_string_value(json_object_get(result, "status"));
	struct werr err;

	if (!m)
		return;
	if (st && strcmp(st, "completed") == 0) {
		/* QEMU finished sending while we were away: the destination
		 * holds the whole guest. */
		m->completed = true;
		src_confirm(m);
		return;
	}
	werr_set(&err, -EINTR, "unavailable", "",
		 "warrend restarted during the migration of %s; it stays here", m->vm_name);
	src_fail(m, &err);
}

static void recover_wait_qmp(struct mig *m)
{
	struct vm_rt *vm = mig_vm(m);
	struct werr err;

	if (vm && vm->qmp && qmp_is_ready(vm->qmp)) {
		mig_qmp(m, "query-migrate", NULL, on_recovered_status, 0);
		return;
	}
	if (vm && vm_state_is_active(vm->state) && mig_now_ms() - m->t0_ms < 10000) {
		mig_timer(m, 100, recover_wait_qmp);
		return;
	}
	werr_set(&err, -EINTR, "unavailable", "", "the migration of %s was interrupted",
		 m->vm_name);
	src_fail(m, &err);
}

static void src_recover(struct daemon *d, const struct store_mig *row)
{
	struct mig *m = mig_new(d, row->id, true, NULL);
	struct vm_rt *vm;
	struct werr err;

	if (!m)
		return;
	snprintf(m->vm_id, sizeof(m->vm_id), "%s", row->vm_id);
	snprintf(m->vm_name, sizeof(m->vm_name), "%s", row->vm_name);
	snprintf(m->phase, sizeof(m->phase), "%s", row->phase);
	m->created_ms = row->created_ms;
	mig_info_read(m, row->info_json);
	if (peer_addr_parse(row->peer, &m->peer, &err) < 0) {
		log_error("%s: migration %.8s names a destination that cannot be used (%s); "
			  "forgetting it",
			  row->vm_name, row->id, err.message);
		mig_end(m, false);
		return;
	}
	vm = mig_vm(m);
	if (vm)
		vm->mig = m;
	log_info("%s: migration %.8s to %s was %s when warrend stopped", m->vm_name, m->id,
		 m->peer.display, row->phase);
	if (strcmp(row->phase, MIG_SWITCHING) == 0) {
		src_confirm(m);
		return;
	}
	if (m->live && vm && strcmp(row->phase, MIG_TRANSFERRING) == 0) {
		/* What the QEMU of that migration may still be doing. */
		m->migrate_sent = true;
		m->jobs = m->shared ? 0 : (unsigned)vm->spec->n_disks;
		recover_wait_qmp(m);
		return;
	}
	werr_set(&err, -EINTR, "unavailable", "", "the migration of %s was interrupted",
		 m->vm_name);
	src_fail(m, &err);
}

static void on_lease_timer(evutil_socket_t fd, short what, void *arg)
{
	mig_in_lease_check(arg);
}

void migrations_recover(struct daemon *d)
{
	struct timeval tv = {.tv_sec = 5};
	struct store_mig *rows = NULL;
	size_t n = 0;

	d->mig_lease_ev = event_new(d->base, -1, EV_PERSIST, on_lease_timer, d);
	if (d->mig_lease_ev)
		event_add(d->mig_lease_ev, &tv);
	if (store_mig_list(d->store, &rows, &n) < 0)
		return;
	for (size_t i = 0; i < n; i++) {
		if (strcmp(rows[i].role, MIG_ROLE_SOURCE) == 0)
			src_recover(d, &rows[i]);
		else
			mig_in_recover(d, &rows[i]);
	}
	store_mig_list_free(rows, n);
}

void migrations_fini(struct daemon *d)
{
	/* Rows stay: the next start finishes or rolls back. */
	while (d->migs) {
		struct mig *m = d->migs;
		if (m->op)
			op_set_cancel(m->op, NULL, NULL);
		d->migs = m->next;
		mig_free(m, mig_vm(m));
	}
	if (d->mig_lease_ev)
		event_free(d->mig_lease_ev);
	d->mig_lease_ev = NULL;
}
