/*
 * vmrt: the life of one VM's QEMU process, as the daemon runs it.
 *
 * vm/ decides what is allowed; this file acts: it launches QEMU paused,
 * attaches QMP and the console, lets the guest run, turns QMP events into
 * states, notices QEMU's exit (SIGCHLD for our children, a pidfd for a
 * QEMU adopted after a restart) and tells a clean stop from a crash.
 *
 * Invariant: the store holds the new state before the action it records is
 * taken (vm_rt_set_state persists first), so a daemon killed at any point
 * finds on restart either the old or the new state, and a QEMU that it
 * may have started is recorded (pid, or at worst the pid file).
 */
#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "daemon/internal.h"

#define QMP_RETRY_MS 10
#define QMP_RETRY_MAX 500 /* 5 s of QEMU start-up */

struct waiter {
	struct waiter *next;
	struct reply *reply;
	void (*fn)(struct vm_rt *vm, void *ud);
	void *ud;
};

int vm_rt_dir(const struct vm_rt *vm, const char *file, char *buf, size_t len)
{
	int n = snprintf(buf, len, "%s/vms/%s%s%s", vm->d->cfg.state_dir, vm->id, file ? "/" : "",
			 file ? file : "");

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

int vm_rt_data(const struct vm_rt *vm, const char *file, char *buf, size_t len)
{
	int n = snprintf(buf, len, "%s/%s%s%s", vm->d->cfg.storage_dir, vm->id, file ? "/" : "",
			 file ? file : "");

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

static bool data_apart(const struct vm_rt *vm)
{
	char run[PATH_MAX], data[PATH_MAX];

	return vm_rt_dir(vm, NULL, run, sizeof(run)) == 0 &&
	       vm_rt_data(vm, NULL, data, sizeof(data)) == 0 && strcmp(run, data) != 0;
}

int vm_rt_mkdirs(const struct vm_rt *vm)
{
	char dir[PATH_MAX];
	int k;

	if ((k = vm_rt_dir(vm, NULL, dir, sizeof(dir))) < 0)
		return k;
	if (mkdir(dir, 0750) < 0)
		return -errno;
	if (!data_apart(vm))
		return 0;
	if ((k = vm_rt_data(vm, NULL, dir, sizeof(dir))) == 0 && mkdir(dir, 0750) < 0)
		k = -errno;
	if (k < 0)
		vm_rt_rmdirs(vm, true);
	return k;
}

static void unlink_runtime_files(const struct vm_rt *vm);

int vm_rt_rmdirs(const struct vm_rt *vm, bool with_data)
{
	char dir[PATH_MAX];
	int k = 0, k2 = 0;

	if (!with_data && !data_apart(vm)) {
		/* The data shares the directory: only the runtime files go. */
		unlink_runtime_files(vm);
		return 0;
	}
	if (with_data && data_apart(vm) && (k = vm_rt_data(vm, NULL, dir, sizeof(dir))) == 0)
		k = rm_rf(dir);
	if ((k2 = vm_rt_dir(vm, NULL, dir, sizeof(dir))) == 0)
		k2 = rm_rf(dir);
	return k ?: k2;
}

int vm_rt_disk_path(const struct vm_rt *vm, size_t i, char *buf, size_t len)
{
	char file[64];

	snprintf(file, sizeof(file), "disk-%s.qcow2", vm->spec->disks[i].name);
	return vm_rt_data(vm, file, buf, len);
}

struct vm_rt *vm_rt_find(struct daemon *d, const char *name)
{
	for (struct vm_rt *vm = d->vms; vm; vm = vm->next)
		if (strcmp(vm->spec->name, name) == 0)
			return vm;
	return NULL;
}

struct vm_rt *vm_rt_find_id(struct daemon *d, const char *id)
{
	for (struct vm_rt *vm = d->vms; vm; vm = vm->next)
		if (strcmp(vm->id, id) == 0)
			return vm;
	return NULL;
}

static int persist(struct vm_rt *vm, bool insert)
{
	json_t *spec = vm_spec_to_json(vm->spec);
	struct store_vm row = {
		.pid = vm->pid,
		.pid_start = vm->pid_start,
		.created_ms = vm->created_ms,
		.started_ms = vm->started_ms,
		.crash_log = vm->crash_log,
		.fork_pending = vm->fork_pending,
	};
	int r;

	if (!spec)
		return -ENOMEM;
	row.spec_json = json_dumps(spec, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(spec);
	if (!row.spec_json)
		return -ENOMEM;
	snprintf(row.id, sizeof(row.id), "%s", vm->id);
	snprintf(row.name, sizeof(row.name), "%s", vm->spec->name);
	snprintf(row.state, sizeof(row.state), "%s", vm_state_to_string(vm->state));
	snprintf(row.current_snap, sizeof(row.current_snap), "%s", vm->current_snap);
	snprintf(row.origin, sizeof(row.origin), "%s", vm->origin);
	r = insert ? store_vm_insert(vm->d->store, &row) : store_vm_update(vm->d->store, &row);
	free(row.spec_json);
	if (r < 0 && r != -EEXIST)
		log_error_errno(r, "%s: cannot record state %s", vm->spec->name, row.state);
	return r;
}

int vm_rt_persist(struct vm_rt *vm)
{
	return persist(vm, false);
}

int vm_rt_insert(struct vm_rt *vm)
{
	return persist(vm, true);
}

void vm_rt_set_state(struct vm_rt *vm, enum vm_state s)
{
	enum vm_state prev = vm->state;

	if (prev == s)
		return;
	vm->state = s;
	vm_rt_persist(vm);
	log_info("%s: %s -> %s", vm->spec->name, vm_state_to_string(prev), vm_state_to_string(s));
	events_emit_state(vm->d, vm->spec->name, prev, s);
}

struct vm_rt *vm_rt_new(struct daemon *d, struct vm_spec *spec, enum vm_state state,
			const char *id, int64_t created_ms)
{
	struct vm_rt *vm = calloc(1, sizeof(*vm));

	if (!vm) {
		vm_spec_free(spec);
		return NULL;
	}
	vm->d = d;
	vm->pidfd = -1;
	vm->spec = spec;
	vm->state = state;
	snprintf(vm->id, sizeof(vm->id), "%s", id ? id : "");
	vm->created_ms = created_ms;
	return vm;
}

json_t *vm_rt_to_json_full(const struct vm_rt *vm, bool with_spec)
{
	bool active = vm_state_is_active(vm->state);
	int64_t now = (int64_t)now_realtime_ms();
	json_t *j = json_pack("{s:s, s:s, s:s, s:i, s:I, s:o}", "id", vm->id, "name",
			      vm->spec->name, "state", vm_state_to_string(vm->state), "cpus",
			      (int)vm->spec->cpus, "memory", (json_int_t)vm->spec->memory,
			      "created_at", json_time_ms(vm->created_ms));

	if (!j)
		return NULL;
	if (with_spec)
		json_object_set_new(j, "spec", vm_spec_to_json(vm->spec));
	cluster_vm_json(vm->d, vm, j);
	json_object_set_new(j, "pid", active && vm->pid > 0 ? json_integer(vm->pid) : json_null());
	json_object_set_new(j, "started_at",
			    vm->started_ms ? json_time_ms(vm->started_ms) : json_null());
	json_object_set_new(j, "uptime_seconds",
			    active && vm->started_ms && vm->state != VM_STARTING
				    ? json_integer((now - vm->started_ms) / 1000)
				    : json_null());
	json_object_set_new(j, "crash",
			    vm->crash_log ? json_pack("{s:s}", "log", vm->crash_log) : json_null());
	json_object_set_new(j, "nics", nics_to_json(vm));
	json_object_set_new(j, "migration", vm->mig ? mig_to_json(vm->mig) : json_null());
	if (with_spec) {
		const struct vm_rt *o = vm->origin[0] ? vm_rt_find_id(vm->d, vm->origin) : NULL;

		json_object_set_new(j, "linked_to",
				    vm->origin[0] && o ? json_string(o->spec->name) : json_null());
	}
	return j;
}

static void unlink_runtime_files(const struct vm_rt *vm)
{
	/* memory.state.tmp: a save that QEMU did not finish is worthless once
	 * QEMU is gone (e.g. warrend and QEMU both died mid-suspend). */
	static const char *const files[] = {"qmp.sock", "console.sock", "qga.sock", "qemu.pid",
					    "nbd.sock", "migrate.sock"};
	static const char *const data[] = {"memory.state.tmp", "memory.state.spent"};
	char path[PATH_MAX];

	for (size_t i = 0; i < ARRAY_SIZE(files); i++)
		if (vm_rt_dir(vm, files[i], path, sizeof(path)) == 0)
			unlink(path);
	for (size_t i = 0; i < ARRAY_SIZE(data); i++)
		if (vm_rt_data(vm, data[i], path, sizeof(path)) == 0)
			unlink(path);
}

static void vm_rt_drop_watchers(struct vm_rt *vm)
{
	migration_watch(vm, NULL);
	if (vm->retry_ev) {
		event_free(vm->retry_ev);
		vm->retry_ev = NULL;
	}
	if (vm->kill_ev) {
		event_free(vm->kill_ev);
		vm->kill_ev = NULL;
	}
	if (vm->pidfd_ev) {
		event_free(vm->pidfd_ev);
		vm->pidfd_ev = NULL;
	}
	if (vm->pidfd >= 0) {
		close(vm->pidfd);
		vm->pidfd = -1;
	}
	if (vm->qmp) {
		qmp_free(vm->qmp);
		vm->qmp = NULL;
	}
	console_close(vm);
}

void vm_rt_free(struct vm_rt *vm)
{
	if (!vm)
		return;
	vm_rt_drop_watchers(vm);
	vm_rt_told(vm); /* waiting commands fail on their own without the VM */
	stats_vm_free(vm); /* after the QMP client: its callbacks may still land */
	nics_vm_free(vm);
	vm_spec_free(vm->spec);
	free(vm->crash_log);
	free(vm);
}

/* ---- waiting for QEMU to be gone -------------------------------------- */

void vm_rt_wait_gone(struct vm_rt *vm, struct reply *r, void (*fn)(struct vm_rt *vm, void *ud),
		     void *ud)
{
	struct waiter *w = calloc(1, sizeof(*w));

	if (!w) {
		struct werr err;
		werr_internal(&err, -ENOMEM, "waiting for QEMU");
		if (r)
			reply_error(r, &err);
		return;
	}
	w->reply = r;
	w->fn = fn;
	w->ud = ud;
	/* Replies first, callbacks (which may free the VM) last: append. */
	struct waiter **p = &vm->waiters;
	while (*p)
		p = &(*p)->next;
	*p = w;
}

static void run_waiters(struct vm_rt *vm)
{
	struct waiter *list = vm->waiters, *fns = NULL;

	vm->waiters = NULL;
	while (list) {
		struct waiter *w = list;
		list = w->next;
		if (w->fn) {
			w->next = fns;
			fns = w;
			continue;
		}
		reply_json(w->reply, 200, vm_rt_to_json(vm));
		free(w);
	}
	/* At most one callback can free the VM (delete); it runs last. */
	while (fns) {
		struct waiter *w = fns;
		fns = w->next;
		w->fn(vm, w->ud);
		free(w);
	}
}

/* ---- exit ------------------------------------------------------------- */

static char *describe_exit(struct vm_rt *vm, int wstatus, bool known)
{
	char path[PATH_MAX], *out = NULL;
	_cleanup_free_ char *tail = NULL;
	char head[128];

	if (!known)
		snprintf(head, sizeof(head), "QEMU (pid %d) exited", (int)vm->pid);
	else if (WIFSIGNALED(wstatus))
		snprintf(head, sizeof(head), "QEMU (pid %d) was killed by signal %d (%s)",
			 (int)vm->pid, WTERMSIG(wstatus), strsignal(WTERMSIG(wstatus)));
	else
		snprintf(head, sizeof(head), "QEMU (pid %d) exited with status %d", (int)vm->pid,
			 WEXITSTATUS(wstatus));
	if (vm_rt_dir(vm, "qemu.log", path, sizeof(path)) == 0)
		tail = file_tail_lines(path, CRASH_LOG_LINES);
	if (asprintf(&out, "%s%s%s", head, tail && *tail ? "; last lines of its log:\n" : "",
		     tail ? tail : "") < 0)
		return NULL;
	return out;
}

void vm_rt_on_exit(struct vm_rt *vm, int wstatus, bool status_known)
{
	bool clean = vm->stop_requested || vm->guest_shutdown;
	bool was_starting = vm->state == VM_STARTING;
	bool resume_failed = was_starting && vm->resuming;
	char *why = describe_exit(vm, wstatus, status_known);

	log_info("%s: %s", vm->spec->name, why ? why : "QEMU exited");
	if (vm->snap_saving)
		snapshot_on_migration(vm, "failed"); /* QEMU died writing a snapshot */
	vm_rt_drop_watchers(vm);
	unlink_runtime_files(vm);
	resources_leave(vm);
	nics_leave(vm);
	vm->pid = 0;
	vm->pid_start = 0;
	vm->is_child = false;
	if (!clean || was_starting) {
		free(vm->crash_log);
		vm->crash_log = why;
		why = NULL;
	}
	/* A start that never ran the guest is a failed start, not a crash;
	 * a failed resume keeps the saved guest for another try. */
	if (vm->suspend_saved || resume_failed)
		vm_rt_set_state(vm, VM_SUSPENDED);
	else
		vm_rt_set_state(vm, clean || was_starting ? VM_STOPPED : VM_CRASHED);
	if (vm->suspend_op) {
		struct werr err;
		werr_set(&err, -EIO, "unavailable", "", "%s was not suspended: %s", vm->spec->name,
			 vm->crash_log ? vm->crash_log : "QEMU exited");
		op_finish(vm->suspend_op, vm->suspend_saved ? NULL : &err,
			  vm->suspend_saved ? "suspended" : NULL);
		vm->suspend_op = NULL;
	}
	vm->suspend_saved = false;
	vm->resuming = false;
	if (vm_rt_start_pending(vm)) {
		struct werr err;
		werr_set(&err, -EIO, "unavailable", "", "%s did not start: %s", vm->spec->name,
			 vm->crash_log ? vm->crash_log : "QEMU exited");
		if (vm->start_reply)
			reply_error(TAKE_PTR(vm->start_reply), &err);
		if (vm->start_op && op_cancel_asked(vm->start_op))
			werr_set(&err, -ECANCELED, "cancelled", "",
				 "loading the memory of %s was cancelled; it stays suspended",
				 vm->spec->name);
		if (vm->start_op)
			op_finish(TAKE_PTR(vm->start_op), &err, NULL);
	}
	if (vm->stop_op) {
		op_finish(vm->stop_op, NULL, NULL);
		vm->stop_op = NULL;
	}
	vm->stop_requested = false;
	vm->guest_shutdown = false;
	free(why);
	if (vm->mig)
		mig_vm_exited(vm);
	run_waiters(vm);
}

static void on_pidfd(evutil_socket_t fd, short what, void *arg)
{
	vm_rt_on_exit(arg, 0, false);
}

/* ---- QMP -------------------------------------------------------------- */

static void qmp_attach(struct vm_rt *vm);
static void on_kill_timer(evutil_socket_t fd, short what, void *arg);
static void on_cont(struct qmp *q, json_t *result, const struct qmp_error *e, void *ud);

static void on_qmp_event(struct qmp *q, const char *event, json_t *data, void *ud)
{
	struct vm_rt *vm = ud;

	log_debug("%s: QMP event %s", vm->spec->name, event);
	if (vm->mig && mig_on_event(vm, event, data))
		return;
	if (strcmp(event, "STOP") == 0) {
		if (vm->state == VM_RUNNING)
			vm_rt_set_state(vm, VM_PAUSED);
	} else if (strcmp(event, "RESUME") == 0) {
		if (vm->state == VM_PAUSED)
			vm_rt_set_state(vm, VM_RUNNING);
	} else if (strcmp(event, "SHUTDOWN") == 0) {
		vm->guest_shutdown = true;
		if (vm->state == VM_RUNNING || vm->state == VM_PAUSED)
			vm_rt_set_state(vm, VM_STOPPING);
	} else if (strcmp(event, "RESET") == 0) {
		events_emit_action(vm->d, vm->spec->name, "reset", "guest reset", -1);
	} else if (strcmp(event, "MIGRATION") == 0) {
		const char *status = json_string_value(json_object_get(data, "status"));
		if (!snapshot_on_migration(vm, status))
			suspend_on_migration(vm, status);
	} else if (strcmp(event, "DEVICE_DELETED") == 0) {
		nics_on_device_deleted(vm, json_string_value(json_object_get(data, "device")));
	} else if (strcmp(event, "GUEST_PANICKED") == 0) {
		free(vm->crash_log);
		vm->crash_log = strdup("the guest kernel panicked");
		events_emit_action(vm->d, vm->spec->name, "panic", "guest panicked", -1);
	}
}

static void on_cont(struct qmp *q, json_t *result, const struct qmp_error *e, void *ud)
{
	struct vm_rt *vm = ud;

	if (e && strcmp(e->klass, "Disconnected") == 0)
		return; /* QEMU is gone; the exit path answers the start request */
	if (e) {
		log_warn("%s: cont failed: %s", vm->spec->name, e->desc);
		/* QEMU is up but will not run the guest; take it down. The exit
		 * path answers the start request with the reason. */
		vm_rt_poweroff(vm, NULL);
		return;
	}
	vm->started_ms = (int64_t)now_realtime_ms();
	vm_rt_set_state(vm, VM_RUNNING);
	if (vm->resuming)
		suspend_resumed(vm); /* answers once the guest has been told */
	else
		vm_rt_start_answer(vm);
}

void vm_rt_start_answer(struct vm_rt *vm)
{
	if (vm->start_reply)
		reply_json(TAKE_PTR(vm->start_reply), 200, vm_rt_to_json(vm));
	if (vm->start_op) {
		op_set_result(vm->start_op, json_pack("{s:o}", "vm", vm_rt_to_json(vm)));
		op_finish(TAKE_PTR(vm->start_op), NULL, NULL);
	}
}

static void on_query_status(struct qmp *q, json_t *result, const struct qmp_error *e, void *ud)
{
	struct vm_rt *vm = ud;
	const char *status = e ? NULL : json_string_value(json_object_get(result, "status"));

	if (!status)
		return;
	log_info("%s: re-attached, QEMU reports %s", vm->spec->name, status);
	if (vm->state == VM_SUSPENDING) {
		suspend_reattach(vm);
	} else if (vm->state == VM_INCOMING) {
		/* migrate.c's recovery decides */
	} else if (strcmp(status, "inmigrate") == 0) {
		/* The daemon died while QEMU loaded saved memory: nobody is
		 * left to finish that start. Stop it; the exit leaves the VM
		 * suspended with its state for another start. */
		vm->resuming = suspend_state_exists(vm);
		vm_rt_poweroff(vm, NULL);
	} else if (strcmp(status, "prelaunch") == 0) {
		/* The daemon died between launch and cont: finish the start. */
		vm_rt_cont(vm);
	} else if (vm->state == VM_STOPPING) {
		/* A shutdown was in progress; its timer died with the old
		 * daemon, so escalate again after the default timeout. */
		vm_rt_shutdown_op(vm, NULL, vm->d->cfg.shutdown_timeout_s, NULL);
	} else if (strcmp(status, "running") == 0) {
		vm_rt_set_state(vm, VM_RUNNING);
	} else if (strcmp(status, "paused") == 0 || strcmp(status, "suspended") == 0) {
		vm_rt_set_state(vm, VM_PAUSED);
	} else if (strcmp(status, "shutdown") == 0) {
		vm->guest_shutdown = true;
		vm_rt_set_state(vm, VM_STOPPING);
	}
}

/*
 * cont, sent again while QEMU refuses it because a migration (a memory
 * save, an outgoing migration) it has just reported completed is not
 * finalized yet: QEMU sends that event a moment before it leaves the
 * finish-migrate state. A VM that goes away meanwhile ends the retries
 * with a "Disconnected" error.
 */
#define CONT_RETRY_MS 20
#define CONT_TRIES 100

struct cont_req {
	struct daemon *d;
	char id[33];
	unsigned tries;
	qmp_reply_fn fn;
	void *ud;
};

static void cont_send(struct cont_req *c);

static void on_cont_retry(evutil_socket_t fd, short what, void *ud)
{
	cont_send(ud);
}

static void on_cont_reply(struct qmp *q, json_t *result, const struct qmp_error *e, void *ud)
{
	struct cont_req *c = ud;
	struct timeval tv = {.tv_usec = CONT_RETRY_MS * 1000};

	if (e && e->desc && strstr(e->desc, "not finalized") && ++c->tries < CONT_TRIES &&
	    event_base_once(c->d->base, -1, EV_TIMEOUT, on_cont_retry, c, &tv) == 0)
		return;
	if (c->fn)
		c->fn(q, result, e, c->ud);
	free(c);
}

static void cont_send(struct cont_req *c)
{
	static const struct qmp_error gone = {.klass = "Disconnected", .desc = "QEMU is gone"};
	struct vm_rt *vm = vm_rt_find_id(c->d, c->id);

	if (!vm || !vm->qmp || qmp_execute(vm->qmp, "cont", NULL, on_cont_reply, c) < 0) {
		if (c->fn)
			c->fn(NULL, NULL, &gone, c->ud);
		free(c);
	}
}

void vm_rt_cont_then(struct vm_rt *vm, qmp_reply_fn fn, void *ud)
{
	struct cont_req *c = calloc(1, sizeof(*c));
	static const struct qmp_error nomem = {.klass = "GenericError", .desc = "out of memory"};

	if (!c) {
		if (fn)
			fn(NULL, NULL, &nomem, ud);
		return;
	}
	*c = (struct cont_req){.d = vm->d, .fn = fn, .ud = ud};
	snprintf(c->id, sizeof(c->id), "%s", vm->id);
	cont_send(c);
}

void vm_rt_cont(struct vm_rt *vm)
{
	vm_rt_cont_then(vm, on_cont, vm);
}

static void on_qmp_ready(struct qmp *q, void *ud)
{
	struct vm_rt *vm = ud;
	int r = console_open(vm);

	if (r < 0)
		log_warn_errno(r, "%s: cannot attach the serial console", vm->spec->name);
	if (vm->state == VM_INCOMING) {
		mig_qemu_ready(vm); /* or a restart's recovery decides */
		return;
	}
	if (vm->state == VM_STARTING && vm_rt_start_pending(vm)) {
		resources_apply_qemu(vm, false); /* before the guest runs */
		nics_apply_qemu(vm);
	}
	if (vm->state == VM_STARTING && vm_rt_start_pending(vm) && vm->resuming)
		suspend_begin_incoming(vm);
	else if (vm->state == VM_STARTING && vm_rt_start_pending(vm))
		vm_rt_cont(vm);
	else
		qmp_execute(q, "query-status", NULL, on_query_status, vm);
}

static void on_qmp_retry(evutil_socket_t fd, short what, void *arg)
{
	qmp_attach(arg);
}

static void schedule_qmp_retry(struct vm_rt *vm)
{
	struct timeval tv = {.tv_usec = QMP_RETRY_MS * 1000};

	if (vm->pid <= 0)
		return;
	if (++vm->retries > QMP_RETRY_MAX) {
		log_error("%s: QEMU (pid %d) does not answer on its QMP socket; powering it off",
			  vm->spec->name, (int)vm->pid);
		kill(vm->pid, SIGKILL);
		return;
	}
	if (!vm->retry_ev)
		vm->retry_ev = evtimer_new(vm->d->base, on_qmp_retry, vm);
	evtimer_add(vm->retry_ev, &tv);
}

static void on_qmp_closed(struct qmp *q, void *ud)
{
	struct vm_rt *vm = ud;
	bool was_ready = qmp_was_ready(q);

	qmp_free(q);
	vm->qmp = NULL;
	/* Before QEMU listens, connecting fails; keep trying while it starts.
	 * After it was ready, a close means QEMU is exiting: the process
	 * watch reports that. */
	if (!was_ready)
		schedule_qmp_retry(vm);
}

static void qmp_attach(struct vm_rt *vm)
{
	static const struct qmp_callbacks cbs = {
		.on_ready = on_qmp_ready,
		.on_event = on_qmp_event,
		.on_closed = on_qmp_closed,
	};
	char path[PATH_MAX];
	int r;

	if (vm->qmp || vm->pid <= 0)
		return;
	r = vm_rt_dir(vm, "qmp.sock", path, sizeof(path));
	if (r == 0)
		r = qmp_connect(vm->d->base, path, &cbs, vm, &vm->qmp);
	if (r < 0)
		schedule_qmp_retry(vm);
}

/* ---- start ------------------------------------------------------------ */

/* TCG translation cache by performance preset; balanced keeps QEMU's. */
#define TB_SIZE_LATENCY_MIB 2048
#define TB_SIZE_DENSITY_MIB 64

static int build_argv(struct vm_rt *vm, char ***ret)
{
	char qmp[PATH_MAX], con[PATH_MAX], qga[PATH_MAX], pid[PATH_MAX];
	char disk_paths[VM_MAX_DISKS][PATH_MAX];
	struct qemu_disk disks[VM_MAX_DISKS];
	struct qemu_nic nics[VM_MAX_NICS];
	char taps[VM_MAX_NICS][NET_IFNAME_MAX + 1], macs[VM_MAX_NICS][18];
	int r;

	if ((r = vm_rt_dir(vm, "qmp.sock", qmp, sizeof(qmp))) < 0 ||
	    (r = vm_rt_dir(vm, "console.sock", con, sizeof(con))) < 0 ||
	    (r = vm_rt_dir(vm, "qga.sock", qga, sizeof(qga))) < 0 ||
	    (r = vm_rt_dir(vm, "qemu.pid", pid, sizeof(pid))) < 0)
		return r;
	for (size_t i = 0; i < vm->spec->n_disks; i++) {
		if ((r = vm_rt_disk_path(vm, i, disk_paths[i], sizeof(disk_paths[i]))) < 0)
			return r;
		disks[i] = (struct qemu_disk){
			.id = vm->spec->disks[i].name,
			.path = disk_paths[i],
			.readonly = vm->spec->disks[i].readonly,
		};
	}
	struct qemu_machine m = {
		.vm_id = vm->id,
		.name = vm->spec->name,
		.cpus = vm->spec->cpus,
		.memory = vm->spec->memory,
		.accel = vm->d->accel.kind,
		.kernel = vm->spec->kernel,
		.initrd = vm->spec->initrd,
		.cmdline = vm->spec->cmdline,
		.disks = disks,
		.n_disks = vm->spec->n_disks,
		.nics = nics,
		.n_nics = (size_t)nics_qemu_list(vm, nics, taps, macs),
		.qmp_path = qmp,
		.console_path = vm->spec->serial ? con : NULL,
		.qga_path = qga,
		.pid_path = pid,
		.start_paused = true,
		.sandbox = vm->spec->security == VM_SECURITY_STRICT,
		.tb_size_mib = vm->spec->performance == VM_PERF_LATENCY   ? TB_SIZE_LATENCY_MIB
			       : vm->spec->performance == VM_PERF_DENSITY ? TB_SIZE_DENSITY_MIB
									: 0,
	};
	if (vm->resuming || vm->state == VM_INCOMING)
		m.incoming = "defer"; /* see suspend.c and migrate.c */
	return qemu_argv_build(vm->d->cfg.qemu_binary, &m, ret);
}

/* A start that failed before QEMU ran: answer the request or the
 * operation that asked. */
static void start_fail(struct vm_rt *vm, struct reply *r, const struct werr *err)
{
	if (r)
		reply_error(r, err);
	else if (vm->start_op)
		op_finish(TAKE_PTR(vm->start_op), err, NULL);
}

/*
 * A strict VM's QEMU runs as the unprivileged QEMU user, which owns the
 * VM's directory and disks and nothing else; the daemon (root) still
 * reaches everything. -ENOENT when the user does not exist.
 */
static int qemu_identity(struct vm_rt *vm, uid_t *uid, gid_t *gid, struct werr *err)
{
	char dir[PATH_MAX], path[PATH_MAX];
	struct passwd *pw;

	*uid = (uid_t)-1;
	*gid = (gid_t)-1;
	if (vm->spec->security != VM_SECURITY_STRICT)
		return 0;
	pw = getpwnam(vm->d->cfg.qemu_user);
	if (!pw)
		return werr_set(err, -ENOENT, "unavailable", "",
				"cannot start %s: the user '%s' that runs QEMU for strict VMs does "
				"not exist (tools/setup makes it; or start warrend with "
				"--qemu-user)",
				vm->spec->name, vm->d->cfg.qemu_user);
	*uid = pw->pw_uid;
	*gid = pw->pw_gid;
	if (vm_rt_dir(vm, NULL, dir, sizeof(dir)) < 0 || chown(dir, *uid, *gid) < 0 ||
	    vm_rt_data(vm, NULL, dir, sizeof(dir)) < 0 || chown(dir, *uid, *gid) < 0)
		return werr_set(err, -errno, "internal", "", "cannot hand %s's directory to %s: %s",
				vm->spec->name, vm->d->cfg.qemu_user, strerror(errno));
	for (size_t i = 0; i < vm->spec->n_disks; i++) {
		if (vm_rt_disk_path(vm, i, path, sizeof(path)) == 0 && chown(path, *uid, *gid) < 0)
			return werr_set(err, -errno, "internal", "", "cannot hand %s to %s: %s", path,
					vm->d->cfg.qemu_user, strerror(errno));
	}
	return 0;
}

/* Launch QEMU (a VM migrated in keeps its state "incoming"). */
static int start_qemu(struct vm_rt *vm, struct werr *err)
{
	bool incoming = vm->state == VM_INCOMING;
	uid_t uid;
	gid_t gid;
	_cleanup_strv_free_ char **argv = NULL;
	char log_path[PATH_MAX];
	pid_t pid;
	int k;

	unlink_runtime_files(vm);
	vm->resuming = vm->state == VM_SUSPENDED;
	if ((k = build_argv(vm, &argv)) < 0 ||
	    (k = vm_rt_dir(vm, "qemu.log", log_path, sizeof(log_path))) < 0) {
		vm->resuming = false;
		return werr_internal(err, k, "building the QEMU command line"), k;
	}
	if ((k = admission_check(vm, err)) < 0 || (k = qemu_identity(vm, &uid, &gid, err)) < 0 ||
	    (k = nics_enter(vm, uid, err)) < 0) {
		vm->resuming = false;
		return k;
	}
	vm->stop_requested = false;
	vm->guest_shutdown = false;
	vm->retries = 0;
	free(vm->crash_log);
	vm->crash_log = NULL;
	if (!incoming)
		vm_rt_set_state(vm, VM_STARTING);
	stats_vm_started(vm);
	k = qemu_spawn_as(argv, log_path, uid, gid, &pid);
	if (k < 0) {
		nics_leave(vm);
		if (!incoming)
			vm_rt_set_state(vm, vm->resuming ? VM_SUSPENDED : VM_STOPPED);
		vm->resuming = false;
		return werr_set(err, k, "unavailable", "", "cannot run %s: %s", argv[0],
				strerror(-k));
	}
	vm->pid = pid;
	vm->is_child = true;
	resources_enter(vm);
	if (proc_start_time(pid, &vm->pid_start) < 0)
		vm->pid_start = 0; /* already gone: SIGCHLD will tell */
	vm_rt_persist(vm);
	log_info("%s: QEMU started as pid %d (%s)%s", vm->spec->name, (int)pid,
		 accel_kind_to_string(vm->d->accel.kind),
		 incoming ? ", waiting for a migration" : "");
	return 0;
}

int vm_rt_start(struct vm_rt *vm, struct reply *r)
{
	struct werr err;
	int k = start_qemu(vm, &err);

	if (k < 0) {
		start_fail(vm, r, &err);
		return k;
	}
	vm->start_reply = r;
	qmp_attach(vm);
	return 0;
}

int vm_rt_start_incoming(struct vm_rt *vm, struct werr *err)
{
	int k = start_qemu(vm, err);

	if (k == 0)
		qmp_attach(vm);
	return k;
}

/* ---- stopping --------------------------------------------------------- */

/*
 * Stopping escalates in phases on one timer: a shutdown waits for the
 * guest (KILL_PHASE_SHUTDOWN), then QMP quit gets POWEROFF_GRACE_MS
 * (KILL_PHASE_QUIT), then SIGKILL.
 */
enum { KILL_PHASE_SHUTDOWN, KILL_PHASE_QUIT };

static void arm_kill_timer(struct vm_rt *vm, unsigned ms, int phase)
{
	struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};

	vm->kill_phase = phase;
	if (!vm->kill_ev)
		vm->kill_ev = evtimer_new(vm->d->base, on_kill_timer, vm);
	evtimer_add(vm->kill_ev, &tv);
}

void vm_rt_force_quit(struct vm_rt *vm)
{
	if (vm->qmp)
		qmp_execute(vm->qmp, "quit", NULL, NULL, NULL);
	else if (vm->pid > 0)
		kill(vm->pid, SIGTERM);
	arm_kill_timer(vm, POWEROFF_GRACE_MS, KILL_PHASE_QUIT);
}

static void on_kill_timer(evutil_socket_t fd, short what, void *arg)
{
	struct vm_rt *vm = arg;

	if (vm->pid <= 0)
		return;
	if (vm->kill_phase == KILL_PHASE_QUIT) {
		log_warn("%s: QEMU did not exit after quit; killing pid %d", vm->spec->name,
			 (int)vm->pid);
		kill(vm->pid, SIGKILL);
		return;
	}
	log_info("%s: the guest did not shut down in time; powering off", vm->spec->name);
	events_emit_action(vm->d, vm->spec->name, "shutdown", "timeout, powered off", -1);
	vm_rt_force_quit(vm);
}

void vm_rt_poweroff(struct vm_rt *vm, struct reply *r_when_gone)
{
	vm->stop_requested = true;
	if (r_when_gone)
		vm_rt_wait_gone(vm, r_when_gone, NULL, NULL);
	if (vm->state != VM_STARTING)
		vm_rt_set_state(vm, VM_STOPPING);
	vm_rt_force_quit(vm);
}

static void on_agent_shutdown(void *ud, int err, const char *message, json_t *result)
{
	char *name = ud;
	/* The VM may be gone by now; look it up again. */
	(void)result;
	if (err < 0)
		log_warn("%s: guest agent shutdown failed: %s", name, message);
	free(name);
}

void vm_rt_shutdown_op(struct vm_rt *vm, const char *mode, unsigned timeout_s, struct reply *r)
{
	struct op *op = op_new(vm->d, vm->spec->name, "shutdown");
	char qga[PATH_MAX];

	if (!op) {
		struct werr err;
		werr_internal(&err, -ENOMEM, "creating the operation");
		if (r)
			reply_error(r, &err);
		return;
	}
	vm->stop_requested = true;
	vm->stop_op = op;
	vm_rt_set_state(vm, VM_STOPPING);
	if (mode && strcmp(mode, "agent") == 0 && vm_rt_dir(vm, "qga.sock", qga, sizeof(qga)) == 0) {
		char *argv_name = strdup(vm->spec->name);
		qga_command(vm->d->base, qga, "guest-shutdown", json_pack("{s:s}", "mode", "powerdown"),
			    true, AGENT_PING_MS, on_agent_shutdown, argv_name);
	} else if (vm->qmp) {
		qmp_execute(vm->qmp, "system_powerdown", NULL, NULL, NULL);
	}
	arm_kill_timer(vm, timeout_s * 1000, KILL_PHASE_SHUTDOWN);
	if (r)
		reply_json(r, 202, json_pack("{s:o}", "operation", op_to_json(op)));
}

/* ---- re-attach after a daemon restart ---------------------------------- */

static bool same_process(struct vm_rt *vm)
{
	char uuid[40];
	uint64_t st;

	if (vm->pid <= 0 || proc_start_time(vm->pid, &st) < 0)
		return false;
	if (vm->pid_start && st != vm->pid_start)
		return false;
	/* The uuid QEMU was given is derived from the VM id. */
	snprintf(uuid, sizeof(uuid), "%.8s-%.4s-%.4s-%.4s-%.12s", vm->id, vm->id + 8, vm->id + 12,
		 vm->id + 16, vm->id + 20);
	if (proc_cmdline_has_arg(vm->pid, uuid) != 1)
		return false;
	vm->pid_start = st;
	return true;
}

static pid_t read_pid_file(struct vm_rt *vm)
{
	char path[PATH_MAX], buf[32] = "";
	_cleanup_close_ int fd = -1;

	if (vm_rt_dir(vm, "qemu.pid", path, sizeof(path)) < 0)
		return 0;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || read(fd, buf, sizeof(buf) - 1) <= 0)
		return 0;
	return (pid_t)atoi(buf);
}

int vm_rt_reattach(struct vm_rt *vm)
{
	if (!vm_state_is_active(vm->state) && vm->state != VM_STARTING)
		return 0;
	if (vm->pid <= 0)
		vm->pid = read_pid_file(vm);
	if (!same_process(vm)) {
		log_warn("%s: QEMU (pid %d) is gone", vm->spec->name, (int)vm->pid);
		vm->stop_requested = vm->state == VM_STOPPING;
		/* A suspend whose state file was completed did its job. */
		vm->suspend_saved = vm->state == VM_SUSPENDING && suspend_state_exists(vm);
		vm->resuming = vm->state == VM_STARTING && suspend_state_exists(vm);
		vm_rt_on_exit(vm, 0, false);
		if (vm->state == VM_CRASHED) {
			free(vm->crash_log);
			vm->crash_log = strdup("QEMU exited while warrend was not running");
			vm_rt_persist(vm);
		}
		return 0;
	}
	vm->is_child = false;
	vm->pidfd = proc_pidfd_open(vm->pid);
	if (vm->pidfd >= 0) {
		vm->pidfd_ev = event_new(vm->d->base, vm->pidfd, EV_READ, on_pidfd, vm);
		event_add(vm->pidfd_ev, NULL);
	} else {
		log_warn("%s: cannot watch pid %d (%s); relying on its QMP socket", vm->spec->name,
			 (int)vm->pid, strerror(-vm->pidfd));
	}
	if (vm->state == VM_STOPPING)
		vm->stop_requested = true;
	resources_readopt(vm);
	vm_rt_persist(vm);
	vm->retries = 0;
	qmp_attach(vm);
	log_info("%s: re-attached to QEMU pid %d", vm->spec->name, (int)vm->pid);
	return 0;
}
