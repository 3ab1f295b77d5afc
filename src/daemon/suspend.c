/*
 * suspend: save a running guest's memory and device state to disk, stop
 * QEMU, and later resume the guest where it was.
 *
 * Saving is a QMP migration into a file: the guest is paused, QEMU writes
 * its state to memory.state.tmp, and only when QEMU reports the migration
 * completed is the file renamed to memory.state and QEMU told to quit.
 * So memory.state exists only when complete; a failed save is rolled back
 * (the partial file removed, the guest resumed) and changes nothing.
 * Starting a suspended VM runs QEMU with -incoming from that file; once
 * the guest runs again the file is removed, because the disks have moved
 * on and the saved memory no longer matches them. A resume that fails
 * leaves the VM suspended with its file, to be tried again.
 *
 * QEMU 7.2 has no file: migration target; the daemon opens the file and
 * hands QEMU the descriptor (getfd, then an "fd:" migration), so nothing
 * is spawned and QEMU's sandbox may forbid spawning.
 * QEMU reports progress with MIGRATION events only when the "events"
 * capability is on, so both sides turn it on first; the resuming QEMU is
 * started with "-incoming defer" so that this happens before it loads.
 */
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

#include "daemon/internal.h"

static void on_incoming(struct qmp *q, json_t *result, const struct qmp_error *e, void *ud);

static int state_path(struct vm_rt *vm, bool tmp, char *buf, size_t len)
{
	return vm_rt_data(vm, tmp ? "memory.state.tmp" : "memory.state", buf, len);
}

bool suspend_state_exists(struct vm_rt *vm)
{
	char path[PATH_MAX];
	struct stat st;

	return state_path(vm, false, path, sizeof(path)) == 0 && stat(path, &st) == 0 &&
	       S_ISREG(st.st_mode);
}

/* ---- progress of a save ------------------------------------------------ */

#define MIGRATION_POLL_MS 250

static void on_query_migrate(struct qmp *q, json_t *result, const struct qmp_error *e, void *ud)
{
	struct vm_rt *vm = ud;
	json_t *ram = json_object_get(result, "ram");
	json_int_t total = json_integer_value(json_object_get(ram, "total"));
	json_int_t remaining = json_integer_value(json_object_get(ram, "remaining"));
	json_int_t sent = json_integer_value(json_object_get(ram, "transferred"));

	if (e || !ram || total <= 0 || !vm->mig_op)
		return;
	op_progress(vm->mig_op, 100.0 * (double)(total - remaining) / (double)total,
		    "saving memory", sent, -1);
}

static void on_migration_poll(evutil_socket_t fd, short what, void *arg)
{
	struct vm_rt *vm = arg;

	if (vm->mig_op && vm->qmp)
		qmp_execute(vm->qmp, "query-migrate", NULL, on_query_migrate, vm);
}

void migration_watch(struct vm_rt *vm, struct op *op)
{
	struct timeval tv = {.tv_usec = MIGRATION_POLL_MS * 1000};

	vm->mig_op = op;
	if (!op) {
		if (vm->mig_poll_ev)
			event_free(vm->mig_poll_ev);
		vm->mig_poll_ev = NULL;
		return;
	}
	op_progress(op, 0, "saving memory", 0, -1);
	if (!vm->mig_poll_ev)
		vm->mig_poll_ev = event_new(vm->d->base, -1, EV_PERSIST, on_migration_poll, vm);
	if (vm->mig_poll_ev)
		event_add(vm->mig_poll_ev, &tv);
}

#define MIGRATION_FD_NAME "warren-migration"
#define MIGRATION_FILE_BANDWIDTH (16LL << 30) /* bytes/s: no pacing to speak of */

int migration_fd_start(struct vm_rt *vm, const char *path, bool save, qmp_reply_fn fn, void *ud)
{
	_cleanup_close_ int fd = -1;
	int r;

	if (!vm->qmp)
		return -ENOTCONN;
	fd = save ? open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)
		  : open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	r = qmp_execute_fd(vm->qmp, "getfd", json_pack("{s:s}", "fdname", MIGRATION_FD_NAME), fd,
			   NULL, NULL);
	if (r < 0)
		return r;
	/* Progress comes as MIGRATION events only with this capability. */
	qmp_execute(vm->qmp, "migrate-set-capabilities",
		    json_pack("{s:[{s:s, s:b}]}", "capabilities", "capability", "events", "state", 1),
		    NULL, NULL);
	/* QEMU paces a migration to 128 MiB/s, meant for a network; into a
	 * local file the guest would stay paused for that pacing alone. */
	if (save)
		qmp_execute(vm->qmp, "migrate-set-parameters",
			    json_pack("{s:I}", "max-bandwidth", (json_int_t)MIGRATION_FILE_BANDWIDTH),
			    NULL, NULL);
	return qmp_execute(vm->qmp, save ? "migrate" : "migrate-incoming",
			   json_pack("{s:s}", "uri", "fd:" MIGRATION_FD_NAME), fn, ud);
}

void suspend_begin_incoming(struct vm_rt *vm)
{
	char path[PATH_MAX];

	if (state_path(vm, false, path, sizeof(path)) < 0 ||
	    migration_fd_start(vm, path, false, on_incoming, vm) < 0)
		vm_rt_poweroff(vm, NULL);
}

static void fsync_path(const char *path)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd >= 0)
		fsync(fd);
}

/* The save is over: keep the file and let QEMU go, or roll back. */
static void save_finished(struct vm_rt *vm, const char *status)
{
	char tmp[PATH_MAX], final[PATH_MAX];

	migration_watch(vm, NULL);
	if (state_path(vm, true, tmp, sizeof(tmp)) < 0 ||
	    state_path(vm, false, final, sizeof(final)) < 0)
		return;
	if (strcmp(status, "completed") == 0) {
		fsync_path(tmp);
		if (rename(tmp, final) == 0) {
			log_info("%s: state saved; stopping QEMU", vm->spec->name);
			vm->suspend_saved = true;
			vm->stop_requested = true;
			vm_rt_force_quit(vm);
			return;
		}
		log_error("%s: cannot keep the saved state: %s", vm->spec->name, strerror(errno));
		status = "failed";
	}
	/* failed or cancelled: nothing of the attempt may remain. */
	unlink(tmp);
	struct werr err;
	if (strcmp(status, "cancelled") == 0)
		werr_set(&err, -ECANCELED, "cancelled", "", "suspending %s was cancelled; it keeps "
							    "running", vm->spec->name);
	else
		werr_set(&err, -EIO, "unavailable", "", "%s could not be suspended (migration %s); "
							"it keeps running", vm->spec->name, status);
	if (vm->suspend_op) {
		op_finish(vm->suspend_op, &err, NULL);
		vm->suspend_op = NULL;
	}
	events_emit_action(vm->d, vm->spec->name, "suspend", status, -1);
	vm_rt_set_state(vm, VM_PAUSED);
	if (vm->suspend_was_running)
		vm_rt_cont(vm);
}

void suspend_on_migration(struct vm_rt *vm, const char *status)
{
	if (!status)
		return;
	log_debug("%s: migration %s", vm->spec->name, status);
	if (vm->state == VM_SUSPENDING && !vm->suspend_saved &&
	    (strcmp(status, "completed") == 0 || strcmp(status, "failed") == 0 ||
	     strcmp(status, "cancelled") == 0)) {
		save_finished(vm, status);
		return;
	}
	if (vm->state == VM_STARTING && vm->resuming && vm_rt_start_pending(vm)) {
		if (strcmp(status, "completed") == 0) {
			vm_rt_cont(vm);
		} else if (strcmp(status, "failed") == 0) {
			log_error("%s: the saved state could not be loaded", vm->spec->name);
			vm_rt_poweroff(vm, NULL); /* the exit path answers, VM stays suspended */
		}
	}
}

/*
 * Telling a resumed guest: its clock stopped when its memory was saved,
 * its random generator state is a copy of the saved one (forks of one
 * snapshot would draw the same numbers), and a clone carries its origin's
 * hostname and MACs (the saved device state of its NICs holds the
 * origin's, which QEMU reports through query-rx-filter). Through the
 * agent: guest-set-time, then one guest-exec that sets a clone's hostname
 * and MACs (each interface then starts DHCP afresh, as the new MAC has
 * its own lease) and feeds host entropy to the kernel with a forced
 * reseed (warren-reseed in the reference guest; elsewhere the bytes are
 * at least mixed in). A guest without an agent is resumed all the
 * same; the log says what it was not told.
 */
struct tell_ctx {
	struct daemon *d;
	char name[VM_NAME_MAX + 1];
	char qga[PATH_MAX];
	bool fork;
	char **macs; /* "OLD=NEW" for a fork's NICs */
};

#define TELL_ENTROPY_BYTES 64
/* $1: the new hostname or ""; then OLD=NEW MAC pairs. */
#define TELL_SCRIPT                                                                            \
	"[ -z \"$1\" ] || hostname \"$1\" || exit 1; shift; "                                    \
	"for p; do for i in /sys/class/net/*; do "                                              \
	"[ \"$(cat $i/address)\" = \"${p%=*}\" ] || continue; f=${i##*/}; "                       \
	"[ ! -x /sbin/warren-netif ] || /sbin/warren-netif remove $f; "                          \
	"ip addr flush dev $f; ip link set dev $f address ${p#*=} || exit 1; "                    \
	"[ ! -x /sbin/warren-netif ] || /sbin/warren-netif add $f; done; done; "                 \
	"if [ -x /sbin/warren-reseed ]; then exec /sbin/warren-reseed; fi; cat > /dev/urandom"

struct deferred {
	struct deferred *next;
	void (*fn)(void *ud);
	void *ud;
};

bool vm_rt_after_told(struct vm_rt *vm, void (*fn)(void *ud), void *ud)
{
	struct deferred *w, **p;

	if (!vm->telling || !(w = calloc(1, sizeof(*w))))
		return false;
	*w = (struct deferred){.fn = fn, .ud = ud};
	for (p = &vm->after_told; *p; p = &(*p)->next)
		;
	*p = w; /* in the order they came */
	return true;
}

void vm_rt_told(struct vm_rt *vm)
{
	vm->telling = false;
	while (vm->after_told) {
		struct deferred *w = vm->after_told;
		vm->after_told = w->next;
		w->fn(w->ud);
		free(w);
	}
}

static void tell_done(struct tell_ctx *c, int err, const char *message)
{
	struct vm_rt *vm = vm_rt_find(c->d, c->name);

	if (vm && err == 0 && c->fork) {
		vm->fork_pending = false;
		vm_rt_persist(vm);
	}
	if (err < 0)
		log_warn("%s: the resumed guest was not told it moved on: %s", c->name, message);
	else
		log_info("%s: guest clock set and entropy fed%s", c->name,
			 c->fork ? "; hostname set" : "");
	if (vm)
		vm_rt_told(vm);
	strv_free(c->macs);
	free(c);
}

static void on_told(void *ud, int err, const char *message, const struct qga_exec_result *res)
{
	char why[160];

	if (err == 0 && res->exit_code != 0) {
		snprintf(why, sizeof(why), "guest command exited with %d: %.100s", res->exit_code,
			 res->err ? res->err : "");
		tell_done(ud, -EREMOTEIO, why);
		return;
	}
	tell_done(ud, err, message);
}

static void tell_exec(struct tell_ctx *c)
{
	unsigned char entropy[TELL_ENTROPY_BYTES];
	_cleanup_strv_free_ char **argv = NULL;
	int k;

	k = strv_push(&argv, "/bin/sh") ?: strv_push(&argv, "-c") ?:
	    strv_push(&argv, TELL_SCRIPT) ?: strv_push(&argv, "sh") ?:
	    strv_push(&argv, c->fork ? c->name : "");
	for (size_t i = 0; k == 0 && c->macs && c->macs[i]; i++)
		k = strv_push(&argv, c->macs[i]);
	if (k == 0)
		k = getrandom_full(entropy, sizeof(entropy));
	if (k == 0)
		k = qga_exec_input(c->d->base, c->qga, argv, entropy, sizeof(entropy),
				   AGENT_PING_MS, on_told, c);
	explicit_bzero(entropy, sizeof(entropy));
	if (k < 0)
		tell_done(c, k, "cannot run the guest command");
}

/* The MACs QEMU's NICs use now (the origin's, from the saved state),
 * paired with those the fork's spec gave them. */
static void on_rx_filter(struct qmp *q, json_t *result, const struct qmp_error *e, void *ud)
{
	struct tell_ctx *c = ud;
	struct vm_rt *vm = vm_rt_find(c->d, c->name);
	json_t *f;
	size_t i;

	json_array_foreach(e || !vm ? NULL : result, i, f) {
		const char *dev = json_string_value(json_object_get(f, "name"));
		const char *now = json_string_value(json_object_get(f, "main-mac"));

		for (size_t k = 0; dev && now && k < vm->spec->n_nics; k++) {
			char want[18];

			net_mac_format(&vm->spec->nics[k].mac, want);
			if (strncmp(dev, "nic-", 4) == 0 && strcmp(dev + 4, vm->spec->nics[k].name) == 0 &&
			    strcasecmp(now, want) != 0)
				strv_pushf(&c->macs, "%s=%s", now, want);
		}
	}
	if (e)
		log_warn("%s: query-rx-filter: %s", c->name, e->desc);
	tell_exec(c);
}

static void on_time_set(void *ud, int err, const char *message, json_t *result)
{
	struct tell_ctx *c = ud;
	struct vm_rt *vm = vm_rt_find(c->d, c->name);

	if (err < 0 && err != -EREMOTEIO) {
		tell_done(c, err, message); /* no agent: do not wait twice */
		return;
	}
	if (err < 0)
		log_warn("%s: guest-set-time: %s", c->name, message);
	if (c->fork && vm && vm->spec->n_nics && vm->qmp &&
	    qmp_execute(vm->qmp, "query-rx-filter", NULL, on_rx_filter, c) == 0)
		return;
	tell_exec(c);
}

static void unlink_later(evutil_socket_t fd, short what, void *arg)
{
	if (arg)
		unlink(arg);
	free(arg);
}

void suspend_resumed(struct vm_rt *vm)
{
	char path[PATH_MAX], spent[PATH_MAX];
	struct tell_ctx *c;
	int k = -ENOMEM;

	vm->resuming = false;
	log_info("%s: resumed from its saved state", vm->spec->name);
	c = calloc(1, sizeof(*c));
	if (c) {
		c->d = vm->d;
		c->fork = vm->fork_pending;
		snprintf(c->name, sizeof(c->name), "%s", vm->spec->name);
		k = vm_rt_dir(vm, "qga.sock", c->qga, sizeof(c->qga));
	}
	if (k == 0)
		k = qga_command(vm->d->base, c->qga, "guest-set-time",
				json_pack("{s:I}", "time", (json_int_t)now_realtime_ns()), false,
				AGENT_PING_MS, on_time_set, c);
	if (k < 0) {
		free(c);
		log_warn_errno(k, "%s: cannot reach the guest agent after resume", vm->spec->name);
	}
	vm->telling = k == 0;
	/* The guest runs: that is what the start waited for. Commands sent
	 * through us wait for the telling (vm_rt_after_told). */
	vm_rt_start_answer(vm);
	/* The saved state is spent (the disks move on). Freeing a large file
	 * takes tens of milliseconds, so it is set aside under another name
	 * now and removed once the answer is on its way. */
	if (state_path(vm, false, path, sizeof(path)) == 0 &&
	    vm_rt_data(vm, "memory.state.spent", spent, sizeof(spent)) == 0 &&
	    rename(path, spent) == 0) {
		struct timeval now = {0};
		char *copy = strdup(spent);
		if (!copy || event_base_once(vm->d->base, -1, EV_TIMEOUT, unlink_later, copy, &now) < 0)
			unlink_later(-1, 0, copy ? copy : NULL);
	}
}

static void on_incoming(struct qmp *q, json_t *result, const struct qmp_error *e, void *ud)
{
	struct vm_rt *vm = ud;

	if (e && strcmp(e->klass, "Disconnected") != 0 && vm->state == VM_STARTING) {
		log_error("%s: cannot load the saved state: %s", vm->spec->name, e->desc);
		vm_rt_poweroff(vm, NULL);
	}
}

static void on_migrate(struct qmp *q, json_t *result, const struct qmp_error *e, void *ud)
{
	struct vm_rt *vm = ud;

	if (e && strcmp(e->klass, "Disconnected") != 0 && vm->state == VM_SUSPENDING) {
		log_warn("%s: migrate refused: %s", vm->spec->name, e->desc);
		save_finished(vm, "failed");
	}
}

static void on_suspend_cancel(struct op *op, void *ud)
{
	struct vm_rt *vm = ud;

	/* Once the file is complete QEMU is already on its way out. */
	if (vm->suspend_op == op && !vm->suspend_saved && vm->qmp)
		qmp_execute(vm->qmp, "migrate_cancel", NULL, NULL, NULL);
}

void vm_rt_suspend_op(struct vm_rt *vm, const struct caller *c, struct reply *r)
{
	struct op *op;
	struct werr err;
	char tmp[PATH_MAX];

	if (state_path(vm, true, tmp, sizeof(tmp)) < 0 || !vm->qmp) {
		werr_set(&err, -EINVAL, "unavailable", "", "%s cannot be suspended: %s",
			 vm->spec->name,
			 !vm->qmp ? "its QEMU monitor is not connected" : "unusable state path");
		reply_error(r, &err);
		return;
	}
	op = op_new(vm->d, vm->spec->name, "suspend");
	if (!op) {
		werr_internal(&err, -ENOMEM, "creating the operation");
		reply_error(r, &err);
		return;
	}
	vm->suspend_op = op;
	op_set_cancel(op, on_suspend_cancel, vm);
	migration_watch(vm, op);
	vm->suspend_saved = false;
	vm->suspend_was_running = vm->state == VM_RUNNING;
	vm_rt_set_state(vm, VM_SUSPENDING);
	events_emit_action(vm->d, vm->spec->name, "suspend", "accepted", (int)c->uid);
	/* Pause first: the state is then saved in one pass and the disks
	 * stay consistent with it. */
	qmp_execute(vm->qmp, "stop", NULL, NULL, NULL);
	reply_json(r, 202, json_pack("{s:o}", "operation", op_to_json(op)));
	int k = migration_fd_start(vm, tmp, true, on_migrate, vm);
	if (k < 0) {
		log_warn_errno(k, "%s: cannot start saving the memory", vm->spec->name);
		save_finished(vm, "failed");
	}
}

/* The daemon died while saving. If the file was completed, finish the
 * job; otherwise abandon the attempt and let the guest run on. */
void suspend_reattach(struct vm_rt *vm)
{
	char tmp[PATH_MAX];

	if (suspend_state_exists(vm)) {
		vm->suspend_saved = true;
		vm->stop_requested = true;
		vm_rt_force_quit(vm);
		return;
	}
	if (vm->qmp)
		qmp_execute(vm->qmp, "migrate_cancel", NULL, NULL, NULL);
	if (state_path(vm, true, tmp, sizeof(tmp)) == 0)
		unlink(tmp);
	vm_rt_set_state(vm, VM_PAUSED);
	vm_rt_cont(vm);
}
