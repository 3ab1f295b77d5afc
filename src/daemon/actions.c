/*
 * actions: the daemon's answers to API calls about VMs: create, list,
 * show, delete, lifecycle actions and exec.
 *
 * Each call checks what vm/ allows first and answers 4xx without changing
 * anything when the request is wrong; work that takes time (qemu-img,
 * QMP round trips, the guest agent) answers later from the event loop.
 */
#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "daemon/internal.h"

#define EXEC_DEFAULT_TIMEOUT_S 30
#define EXEC_MAX_TIMEOUT_S 3600
#define EXEC_MAX_ARGS 256

struct vm_rt *vm_find_or_reply(struct daemon *d, const char *name, struct reply *r)
{
	struct vm_rt *vm = vm_rt_find(d, name);
	struct werr err;

	if (!vm) {
		werr_set(&err, -ENOENT, "not_found", "name", "no VM named '%s'", name);
		reply_error(r, &err);
	}
	return vm;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path) < 0 && errno != ENOENT ? -1 : 0;
}

int rm_rf(const char *path)
{
	if (nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS) < 0 && errno != ENOENT)
		return -errno;
	return 0;
}

int vm_rt_check_idle(const struct vm_rt *vm, const char *what, struct werr *err)
{
	if (vm->deleting)
		return werr_set(err, -EBUSY, "conflict", "", "cannot %s %s: it is being deleted",
				what, vm->spec->name);
	if (vm->busy_op)
		return werr_set(err, -EBUSY, "conflict", "",
				"cannot %s %s: operation %s is in progress on it", what,
				vm->spec->name, op_id(vm->busy_op));
	if (vm->mig)
		return werr_set(err, -EBUSY, "conflict", "",
				"cannot %s %s: it is being migrated (%s)", what, vm->spec->name,
				mig_describe(vm->mig));
	return 0;
}

/* ---- list / get ---------------------------------------------------------- */

void daemon_vm_get(struct daemon *d, const char *name, struct reply *r)
{
	struct vm_rt *vm = vm_find_or_reply(d, name, r);

	if (vm)
		nics_get_vm(vm, r);
}

/* Insert in name order so that listing needs no sort. */
void vm_rt_link(struct daemon *d, struct vm_rt *vm)
{
	struct vm_rt **p = &d->vms;

	while (*p && strcmp((*p)->spec->name, vm->spec->name) < 0)
		p = &(*p)->next;
	vm->next = *p;
	*p = vm;
}

void vm_rt_unlink(struct daemon *d, struct vm_rt *vm)
{
	for (struct vm_rt **p = &d->vms; *p; p = &(*p)->next)
		if (*p == vm) {
			*p = vm->next;
			return;
		}
}

/* ---- create ---------------------------------------------------------------- */

struct create_ctx {
	struct daemon *d;
	struct vm_rt *vm; /* not linked until the store has it */
	struct reply *reply;
	int uid;
	size_t next_disk;
	char log_path[PATH_MAX];
};

bool name_in_creation(struct daemon *d, const char *name)
{
	for (size_t i = 0; d->creating && d->creating[i]; i++)
		if (strcmp(d->creating[i], name) == 0)
			return true;
	return false;
}

void creation_done(struct daemon *d, const char *name)
{
	size_t n = strv_length(d->creating), i;

	for (i = 0; i < n; i++)
		if (strcmp(d->creating[i], name) == 0)
			break;
	if (i == n)
		return;
	free(d->creating[i]);
	memmove(&d->creating[i], &d->creating[i + 1], (n - i) * sizeof(char *));
}

static void create_fail(struct create_ctx *c, const struct werr *err)
{
	/* Nothing of a failed create may remain. */
	vm_rt_rmdirs(c->vm, true);
	events_emit_action(c->d, c->vm->spec->name, "create", err->code, c->uid);
	reply_error(c->reply, err);
	nics_release(c->d, c->vm->spec);
	creation_done(c->d, c->vm->spec->name);
	vm_rt_free(c->vm);
	free(c);
}

static void create_commit(struct create_ctx *c)
{
	json_t *spec = vm_spec_to_json(c->vm->spec);
	struct store_vm row = {.created_ms = c->vm->created_ms};
	struct werr err;
	int r;

	snprintf(row.id, sizeof(row.id), "%s", c->vm->id);
	snprintf(row.name, sizeof(row.name), "%s", c->vm->spec->name);
	snprintf(row.state, sizeof(row.state), "%s", vm_state_to_string(VM_STOPPED));
	row.spec_json = spec ? json_dumps(spec, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	json_decref(spec);
	/* The row is the commit point: before it, a crash leaves only a
	 * directory that start-up sweeps away. */
	r = row.spec_json ? store_vm_insert(c->d->store, &row) : -ENOMEM;
	free(row.spec_json);
	if (r == -EEXIST) {
		werr_set(&err, r, "conflict", "name", "a VM named '%s' already exists",
			 c->vm->spec->name);
		create_fail(c, &err);
		return;
	}
	if (r < 0) {
		werr_internal(&err, r, "recording the VM");
		create_fail(c, &err);
		return;
	}
	vm_rt_link(c->d, c->vm);
	nics_release(c->d, c->vm->spec);
	creation_done(c->d, c->vm->spec->name);
	if (c->vm->spec->n_nics)
		networks_sync(c->d, NULL);
	log_info("%s: created (id %s)", c->vm->spec->name, c->vm->id);
	events_emit_action(c->d, c->vm->spec->name, "create", "ok", c->uid);
	reply_json(c->reply, 201, vm_rt_to_json(c->vm));
	free(c);
}

static void create_next_disk(struct create_ctx *c);

static void on_disk_created(void *ud, int wstatus)
{
	struct create_ctx *c = ud;

	if (!WIFEXITED(wstatus) || WEXITSTATUS(wstatus) != 0) {
		const struct vm_disk *disk = &c->vm->spec->disks[c->next_disk];
		_cleanup_free_ char *tail = file_tail_lines(c->log_path, 3);
		struct werr err;
		char field[64];

		snprintf(field, sizeof(field), "disks[%zu]%s", c->next_disk,
			 disk->image ? ".image" : "");
		werr_set(&err, -EIO, "invalid", field, "cannot create disk '%s': %s", disk->name,
			 tail && *tail ? tail : "qemu-img failed");
		/* qemu-img's message ends with a newline; keep the JSON tidy. */
		size_t n = strlen(err.message);
		while (n && err.message[n - 1] == '\n')
			err.message[--n] = '\0';
		create_fail(c, &err);
		return;
	}
	c->next_disk++;
	create_next_disk(c);
}

static const char *image_format(const char *path)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	uint8_t magic[4];

	if (fd >= 0 && read(fd, magic, 4) == 4 && memcmp(magic, "QFI\xfb", 4) == 0)
		return "qcow2";
	return "raw";
}

static void create_next_disk(struct create_ctx *c)
{
	_cleanup_strv_free_ char **argv = NULL;
	char path[PATH_MAX];
	struct werr err;
	int r;

	if (c->next_disk == c->vm->spec->n_disks) {
		unlink(c->log_path);
		create_commit(c);
		return;
	}
	const struct vm_disk *disk = &c->vm->spec->disks[c->next_disk];
	r = vm_rt_disk_path(c->vm, c->next_disk, path, sizeof(path));
	if (r == 0)
		r = strv_push(&argv, c->d->cfg.qemu_img);
	if (r == 0)
		r = strv_push(&argv, "create") ?: strv_push(&argv, "-q") ?: strv_push(&argv, "-f") ?:
		    strv_push(&argv, "qcow2");
	if (r == 0 && disk->image)
		r = strv_push(&argv, "-b") ?: strv_push(&argv, disk->image) ?:
		    strv_push(&argv, "-F") ?: strv_push(&argv, image_format(disk->image));
	if (r == 0)
		r = strv_push(&argv, path);
	if (r == 0 && disk->size)
		r = strv_pushf(&argv, "%llu", (unsigned long long)disk->size);
	if (r == 0)
		r = child_run(c->d, argv, c->log_path, on_disk_created, c, NULL);
	if (r < 0) {
		werr_set(&err, r, "unavailable", "", "cannot run %s: %s", c->d->cfg.qemu_img,
			 strerror(-r));
		create_fail(c, &err);
	}
}

void vm_create_local(struct daemon *d, const struct caller *caller, json_t *body,
		     struct reply *r)
{
	_cleanup_vm_spec_ struct vm_spec *spec = NULL;
	struct werr err;
	char dir[PATH_MAX];
	int k;

	if (!body || !json_is_object(body)) {
		werr_set(&err, -EINVAL, "invalid", "", "the request body must be a JSON object "
						       "describing the VM");
		reply_error(r, &err);
		return;
	}
	if (vm_spec_from_json(body, &d->limits, &spec, &err) < 0 ||
	    policy_check_paths(d, spec, &err) < 0) {
		reply_error(r, &err);
		return;
	}
	if (vm_rt_find(d, spec->name) || name_in_creation(d, spec->name)) {
		werr_set(&err, -EEXIST, "conflict", "name", "a VM named '%s' already exists",
			 spec->name);
		reply_error(r, &err);
		return;
	}
	if (nics_prepare(d, spec, NULL, false, &err) < 0) {
		reply_error(r, &err);
		return;
	}
	struct create_ctx *c = calloc(1, sizeof(*c));
	struct vm_rt *vm = calloc(1, sizeof(*vm));
	if (!c || !vm || strv_push(&d->creating, spec->name) < 0) {
		free(c);
		free(vm);
		werr_internal(&err, -ENOMEM, "creating the VM");
		reply_error(r, &err);
		return;
	}
	vm->d = d;
	vm->pidfd = -1;
	vm->spec = TAKE_PTR(spec);
	vm->state = VM_STOPPED;
	vm->created_ms = (int64_t)now_realtime_ms();
	*c = (struct create_ctx){.d = d, .vm = vm, .reply = r, .uid = (int)caller->uid};
	nics_hold(d, vm->spec);
	k = id_random_hex(vm->id, 16);
	if (k == 0)
		k = vm_rt_dir(vm, "console.sock", dir, sizeof(dir));
	if (k == 0 && strlen(dir) >= sizeof(((struct sockaddr_un *)0)->sun_path))
		k = -ENAMETOOLONG;
	if (k == 0)
		k = vm_rt_dir(vm, "create.log", c->log_path, sizeof(c->log_path));
	if (k == 0)
		k = vm_rt_mkdirs(vm);
	if (k < 0) {
		if (k == -ENAMETOOLONG)
			werr_set(&err, k, "unavailable", "",
				 "the state directory %s is too deep for QEMU's Unix sockets",
				 d->cfg.state_dir);
		else
			werr_internal(&err, k, "making the VM's directory");
		reply_error(r, &err);
		nics_release(d, vm->spec);
		creation_done(d, vm->spec->name);
		vm_rt_free(vm);
		free(c);
		return;
	}
	create_next_disk(c);
}

/* ---- delete ---------------------------------------------------------------- */

struct delete_ctx {
	struct reply *reply;
	int uid;
};

static void delete_finish(struct vm_rt *vm, void *ud)
{
	struct delete_ctx *c = ud;
	struct daemon *d = vm->d;
	char name[VM_NAME_MAX + 1];
	struct werr err;
	int k;

	snprintf(name, sizeof(name), "%s", vm->spec->name);
	k = store_vm_delete(d->store, vm->id);
	if (k < 0 && k != -ENOENT) {
		vm->deleting = false;
		werr_internal(&err, k, "removing the VM from the store");
		reply_error(c->reply, &err);
		free(c);
		return;
	}
	if ((k = vm_rt_rmdirs(vm, true)) < 0)
		log_warn_errno(k, "%s: cannot remove its directories", name);
	vm_rt_unlink(d, vm);
	if (vm->spec->n_nics)
		networks_sync(d, NULL);
	vm_rt_free(vm);
	bases_sweep(d); /* bases only this VM used */
	log_info("%s: deleted", name);
	events_emit_action(d, name, "delete", "ok", c->uid);
	reply_json(c->reply, 200, json_pack("{s:s, s:b}", "name", name, "deleted", 1));
	free(c);
}

void vm_delete_local(struct daemon *d, const struct caller *caller, const char *name,
		     bool force, struct reply *r)
{
	struct vm_rt *vm = vm_find_or_reply(d, name, r);
	struct delete_ctx *c;
	struct werr err;

	if (!vm)
		return;
	if (vm->deleting) {
		werr_set(&err, -EBUSY, "conflict", "", "%s is already being deleted", name);
		reply_error(r, &err);
		return;
	}
	if (vm_rt_check_idle(vm, "delete", &err) < 0 || clone_check_delete(vm, &err) < 0) {
		reply_error(r, &err);
		return;
	}
	if (vm_action_check(name, vm->state, VM_ACTION_DELETE, force, &err) < 0) {
		reply_error(r, &err);
		return;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		werr_internal(&err, -ENOMEM, "deleting");
		reply_error(r, &err);
		return;
	}
	c->reply = r;
	c->uid = (int)caller->uid;
	vm->deleting = true;
	if (vm->pid > 0) {
		vm_rt_wait_gone(vm, NULL, delete_finish, c);
		vm_rt_poweroff(vm, NULL);
		return;
	}
	delete_finish(vm, c);
}

/* ---- lifecycle actions ----------------------------------------------------- */

struct qmp_call {
	struct daemon *d;
	char name[VM_NAME_MAX + 1];
	enum vm_action action;
	struct reply *reply;
	int uid;
};

static void on_qmp_action(struct qmp *q, json_t *result, const struct qmp_error *e, void *ud)
{
	struct qmp_call *c = ud;
	struct vm_rt *vm = vm_rt_find(c->d, c->name);
	const char *action = vm_action_to_string(c->action);
	struct werr err;

	if (e || !vm) {
		werr_set(&err, -EIO, "conflict", "", "cannot %s %s: %s", action, c->name,
			 e ? e->desc : "it is gone");
		events_emit_action(c->d, c->name, action, err.code, c->uid);
		reply_error(c->reply, &err);
		free(c);
		return;
	}
	/* Do not wait for the STOP/RESUME events to say what we know. */
	if (c->action == VM_ACTION_PAUSE)
		vm_rt_set_state(vm, VM_PAUSED);
	else if (c->action == VM_ACTION_RESUME)
		vm_rt_set_state(vm, VM_RUNNING);
	events_emit_action(c->d, c->name, action, "ok", c->uid);
	reply_json(c->reply, 200, vm_rt_to_json(vm));
	free(c);
}

static void qmp_action(struct vm_rt *vm, enum vm_action action, const char *command,
		       const struct caller *caller, struct reply *r)
{
	struct qmp_call *c = calloc(1, sizeof(*c));
	struct werr err;

	if (!c || !vm->qmp) {
		free(c);
		werr_set(&err, -ENOTCONN, "unavailable", "",
			 "cannot %s %s: its QEMU monitor is not connected yet",
			 vm_action_to_string(action), vm->spec->name);
		reply_error(r, &err);
		return;
	}
	*c = (struct qmp_call){.d = vm->d, .action = action, .reply = r, .uid = (int)caller->uid};
	snprintf(c->name, sizeof(c->name), "%s", vm->spec->name);
	qmp_execute(vm->qmp, command, NULL, on_qmp_action, c);
}

static void on_agent_reboot(void *ud, int err, const char *message, json_t *result)
{
	struct qmp_call *c = ud;
	struct vm_rt *vm = vm_rt_find(c->d, c->name);

	if (err == 0 && vm) {
		events_emit_action(c->d, c->name, "reboot", "ok", c->uid);
		reply_json(c->reply, 200, vm_rt_to_json(vm));
		free(c);
		return;
	}
	if (!vm) {
		struct werr e;
		werr_set(&e, -ENOENT, "not_found", "name", "no VM named '%s'", c->name);
		reply_error(c->reply, &e);
		free(c);
		return;
	}
	/* Without an agent a clean reboot cannot be asked for; reset instead
	 * and say so in the log and the event. */
	log_warn("%s: guest agent reboot failed (%s); resetting", c->name, message);
	if (!vm->qmp) {
		struct werr e;
		werr_set(&e, -ENOTCONN, "unavailable", "", "cannot reboot %s: %s", c->name, message);
		reply_error(c->reply, &e);
		free(c);
		return;
	}
	c->action = VM_ACTION_RESET;
	qmp_execute(vm->qmp, "system_reset", NULL, on_qmp_action, c);
}

static int args_check(json_t *args, const char *const *allowed, struct werr *err)
{
	const char *key;
	json_t *v;

	if (!args || json_is_null(args))
		return 0;
	if (!json_is_object(args))
		return werr_set(err, -EINVAL, "invalid", "", "the request body must be a JSON object");
	json_object_foreach(args, key, v) {
		bool ok = false;
		for (size_t i = 0; allowed[i]; i++)
			ok = ok || strcmp(key, allowed[i]) == 0;
		if (!ok)
			return werr_set(err, -EINVAL, "invalid", key, "unknown key '%s' for this action",
					key);
	}
	return 0;
}

static int shutdown_args(struct daemon *d, json_t *args, const char **ret_mode,
			 unsigned *ret_timeout, struct werr *err)
{
	static const char *const allowed[] = {"timeout", "mode", NULL};
	json_t *t = json_object_get(args, "timeout"), *m = json_object_get(args, "mode");
	int r = args_check(args, allowed, err);

	if (r < 0)
		return r;
	*ret_timeout = d->cfg.shutdown_timeout_s;
	*ret_mode = "acpi";
	if (t && (!json_is_integer(t) || json_integer_value(t) < 1 ||
		  json_integer_value(t) > 3600))
		return werr_set(err, -EINVAL, "invalid", "timeout",
				"timeout must be a whole number of seconds from 1 to 3600");
	if (t)
		*ret_timeout = (unsigned)json_integer_value(t);
	if (m && (!json_is_string(m) || (strcmp(json_string_value(m), "acpi") != 0 &&
					 strcmp(json_string_value(m), "agent") != 0)))
		return werr_set(err, -EINVAL, "invalid", "mode", "mode must be \"acpi\" or \"agent\"");
	if (m)
		*ret_mode = json_string_value(m);
	return 0;
}

void daemon_vm_action(struct daemon *d, const struct caller *caller, const char *name,
		      const char *action, json_t *args, struct reply *r)
{
	static const char *const no_args[] = {NULL};
	struct vm_rt *vm = vm_find_or_reply(d, name, r);
	const char *mode = "acpi";
	unsigned timeout = d->cfg.shutdown_timeout_s;
	enum vm_action act;
	struct werr err;

	if (!vm)
		return;
	if (vm_action_from_string(action, &act, &err) < 0) {
		reply_error(r, &err);
		return;
	}
	if (act != VM_ACTION_SHUTDOWN && args_check(args, no_args, &err) < 0) {
		reply_error(r, &err);
		return;
	}
	if (act == VM_ACTION_SHUTDOWN && shutdown_args(d, args, &mode, &timeout, &err) < 0) {
		reply_error(r, &err);
		return;
	}
	if (vm_rt_check_idle(vm, action, &err) < 0) {
		reply_error(r, &err);
		return;
	}
	if (vm_action_check(name, vm->state, act, false, &err) < 0) {
		reply_error(r, &err);
		return;
	}
	switch (act) {
	case VM_ACTION_START:
		events_emit_action(d, name, "start", "accepted", (int)caller->uid);
		vm_rt_start(vm, r);
		break;
	case VM_ACTION_SHUTDOWN:
		events_emit_action(d, name, "shutdown", mode, (int)caller->uid);
		vm_rt_shutdown_op(vm, mode, timeout, r);
		break;
	case VM_ACTION_POWEROFF:
		events_emit_action(d, name, "poweroff", "accepted", (int)caller->uid);
		if (vm->start_reply) {
			werr_set(&err, -ECANCELED, "conflict", "", "start of %s cancelled by poweroff",
				 name);
			reply_error(TAKE_PTR(vm->start_reply), &err);
		}
		vm_rt_poweroff(vm, r);
		break;
	case VM_ACTION_PAUSE:
		qmp_action(vm, act, "stop", caller, r);
		break;
	case VM_ACTION_RESUME:
		qmp_action(vm, act, "cont", caller, r);
		break;
	case VM_ACTION_RESET:
		qmp_action(vm, act, "system_reset", caller, r);
		break;
	case VM_ACTION_SUSPEND:
		vm_rt_suspend_op(vm, caller, r);
		break;
	case VM_ACTION_REBOOT: {
		struct qmp_call *c = calloc(1, sizeof(*c));
		char qga[PATH_MAX];
		if (!c || vm_rt_dir(vm, "qga.sock", qga, sizeof(qga)) < 0) {
			free(c);
			werr_internal(&err, -ENOMEM, "rebooting");
			reply_error(r, &err);
			break;
		}
		*c = (struct qmp_call){.d = d, .action = act, .reply = r, .uid = (int)caller->uid};
		snprintf(c->name, sizeof(c->name), "%s", name);
		qga_command(d->base, qga, "guest-shutdown", json_pack("{s:s}", "mode", "reboot"), true,
			    AGENT_PING_MS, on_agent_reboot, c);
		break;
	}
	default:
		werr_set(&err, -EINVAL, "invalid", "action", "'%s' is not an action", action);
		reply_error(r, &err);
	}
}

/* ---- exec ------------------------------------------------------------------ */

struct exec_ctx {
	struct daemon *d;
	char name[VM_NAME_MAX + 1];
	char qga[PATH_MAX];
	char **argv;
	unsigned timeout_ms;
	bool paused;
	struct reply *reply;
	int uid;
};

static void exec_ctx_free(struct exec_ctx *c)
{
	strv_free(c->argv);
	free(c);
}

/* JSON strings must be UTF-8; guest output need not be. */
static json_t *json_bytes(const char *buf, size_t len)
{
	json_t *s = json_stringn(buf ? buf : "", buf ? len : 0);
	_cleanup_free_ char *copy = NULL;

	if (s)
		return s;
	copy = malloc(len + 1);
	if (!copy)
		return json_string("");
	for (size_t i = 0; i < len; i++)
		copy[i] = (unsigned char)buf[i] < 0x80 && buf[i] != '\0' ? buf[i] : '?';
	return json_stringn(copy, len);
}

static void exec_fail(struct exec_ctx *c, int err, const char *message)
{
	struct werr e;

	werr_set(&e, err, err == -ETIMEDOUT ? "timeout" : "unavailable", "", "%s: %s%s", c->name,
		 message, c->paused ? " (the VM is paused)" : "");
	reply_error(c->reply, &e);
	exec_ctx_free(c);
}

static void on_exec_done(void *ud, int err, const char *message, const struct qga_exec_result *res)
{
	struct exec_ctx *c = ud;

	if (err < 0) {
		exec_fail(c, err, message);
		return;
	}
	json_t *j = json_pack("{s:i, s:i, s:o, s:o, s:b, s:b}", "exit_code", res->exit_code,
			      "signal", res->signal, "stdout", json_bytes(res->out, res->out_len),
			      "stderr", json_bytes(res->err, res->err_len), "stdout_truncated",
			      res->out_truncated, "stderr_truncated", res->err_truncated);
	events_emit_action(c->d, c->name, "exec", "ok", c->uid);
	reply_json(c->reply, 200, j);
	exec_ctx_free(c);
}

static void exec_run(void *ud)
{
	struct exec_ctx *c = ud;
	/* The agent client bounds its resync by seconds, so a guest without an
	 * agent fails fast although the command may have minutes. */
	int k = qga_exec(c->d->base, c->qga, c->argv, c->timeout_ms, on_exec_done, c);

	if (k < 0)
		exec_fail(c, k, "cannot reach the guest agent");
}

void daemon_vm_exec(struct daemon *d, const struct caller *caller, const char *name,
		    json_t *body, struct reply *r)
{
	static const char *const allowed[] = {"command", "timeout", NULL};
	struct vm_rt *vm = vm_find_or_reply(d, name, r);
	json_t *cmd, *t, *v;
	struct exec_ctx *c;
	struct werr err;
	size_t i;

	if (!vm)
		return;
	if (!body || args_check(body, allowed, &err) < 0) {
		if (!body)
			werr_set(&err, -EINVAL, "invalid", "command",
				 "a JSON body with \"command\" (an array of strings) is required");
		reply_error(r, &err);
		return;
	}
	cmd = json_object_get(body, "command");
	t = json_object_get(body, "timeout");
	if (!json_is_array(cmd) || json_array_size(cmd) == 0 ||
	    json_array_size(cmd) > EXEC_MAX_ARGS) {
		werr_set(&err, -EINVAL, "invalid", "command",
			 "command must be a non-empty array of at most %d strings", EXEC_MAX_ARGS);
		reply_error(r, &err);
		return;
	}
	if (t && (!json_is_integer(t) || json_integer_value(t) < 1 ||
		  json_integer_value(t) > EXEC_MAX_TIMEOUT_S)) {
		werr_set(&err, -EINVAL, "invalid", "timeout",
			 "timeout must be a whole number of seconds from 1 to %d", EXEC_MAX_TIMEOUT_S);
		reply_error(r, &err);
		return;
	}
	/* A paused guest cannot answer; exec is still tried (and times out
	 * quickly with a message that says why) so scripts see one behaviour. */
	if (vm->state != VM_PAUSED && vm_action_check(name, vm->state, VM_ACTION_EXEC, false, &err) < 0) {
		reply_error(r, &err);
		return;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		werr_internal(&err, -ENOMEM, "exec");
		reply_error(r, &err);
		return;
	}
	json_array_foreach(cmd, i, v) {
		if (!json_is_string(v) || strv_push(&c->argv, json_string_value(v)) < 0) {
			exec_ctx_free(c);
			werr_set(&err, -EINVAL, "invalid", "command",
				 "command[%zu] must be a string", i);
			reply_error(r, &err);
			return;
		}
	}
	c->d = d;
	c->reply = r;
	c->uid = (int)caller->uid;
	c->paused = vm->state == VM_PAUSED;
	c->timeout_ms = (unsigned)(t ? json_integer_value(t) : EXEC_DEFAULT_TIMEOUT_S) * 1000;
	snprintf(c->name, sizeof(c->name), "%s", name);
	if (vm_rt_dir(vm, "qga.sock", c->qga, sizeof(c->qga)) < 0) {
		exec_fail(c, -ENAMETOOLONG, "agent socket path too long");
		return;
	}
	/* A guest just resumed from saved memory is told about its new
	 * situation first; commands run after that. */
	if (!vm_rt_after_told(vm, exec_run, c))
		exec_run(c);
}

/* ---- host ------------------------------------------------------------------ */

void daemon_host_get(struct daemon *d, struct reply *r)
{
	char host[256] = "";
	size_t defined = 0, active = 0;

	gethostname(host, sizeof(host) - 1);
	for (struct vm_rt *vm = d->vms; vm; vm = vm->next) {
		defined++;
		active += vm_state_is_active(vm->state);
	}
	json_t *j = json_pack("{s:s, s:s, s:i, s:I, s:{s:s, s:s}, s:{s:I, s:I}, s:s}", "version",
			      WARREN_VERSION, "hostname", host, "cpus", (int)d->limits.max_cpus,
			      "memory", (json_int_t)d->limits.max_memory, "accel", "kind",
			      accel_kind_to_string(d->accel.kind), "reason", d->accel.reason, "vms",
			      "defined", (json_int_t)defined, "active", (json_int_t)active,
			      "state_dir", d->cfg.state_dir);
	json_t *res = resources_host_json(d);

	if (j && res)
		json_object_update(j, res);
	json_decref(res);
	reply_json(r, 200, j);
}

/* ---- start-up ---------------------------------------------------------------- */

/* Load every VM from the store, re-attach to running QEMUs, and remove
 * directories that no VM owns (left by a create that died half-way). */
int daemon_load_vms(struct daemon *d)
{
	struct store_vm **rows = NULL;
	size_t n = 0;
	char dir[PATH_MAX];
	int k = store_vm_list(d->store, &rows, &n);

	if (k < 0)
		return k;
	for (size_t i = 0; i < n; i++) {
		json_error_t jerr;
		json_t *j = json_loads(rows[i]->spec_json, 0, &jerr);
		struct werr err;
		struct vm_spec *spec = NULL;
		/* Files a stored spec names may have gone since; that must not
		 * make the VM disappear, so no file checks here. */
		if (!j || vm_spec_load(j, &spec, &err) < 0) {
			log_error("%s: stored spec is unreadable (%s); skipping", rows[i]->name,
				  j ? err.message : jerr.text);
			json_decref(j);
			continue;
		}
		json_decref(j);
		struct vm_rt *vm = calloc(1, sizeof(*vm));
		if (!vm) {
			vm_spec_free(spec);
			k = -ENOMEM;
			break;
		}
		vm->d = d;
		vm->pidfd = -1;
		vm->spec = spec;
		snprintf(vm->id, sizeof(vm->id), "%s", rows[i]->id);
		if (vm_state_from_string(rows[i]->state, &vm->state) < 0)
			vm->state = VM_CRASHED;
		vm->pid = rows[i]->pid;
		vm->pid_start = rows[i]->pid_start;
		vm->created_ms = rows[i]->created_ms;
		vm->started_ms = rows[i]->started_ms;
		vm->crash_log = rows[i]->crash_log ? strdup(rows[i]->crash_log) : NULL;
		snprintf(vm->current_snap, sizeof(vm->current_snap), "%s", rows[i]->current_snap);
		snprintf(vm->origin, sizeof(vm->origin), "%s", rows[i]->origin);
		vm->fork_pending = rows[i]->fork_pending != 0;
		vm_rt_link(d, vm);
	}
	store_vm_list_free(rows, n);
	for (struct vm_rt *vm = d->vms; vm; vm = vm->next) {
		snapshot_sweep(vm);
		vm_rt_reattach(vm);
	}
	bases_sweep(d);

	snprintf(dir, sizeof(dir), "%s/vms", d->cfg.state_dir);
	DIR *dh = opendir(dir);
	struct dirent *de;
	while (dh && (de = readdir(dh))) {
		if (de->d_name[0] == '.')
			continue;
		bool owned = false;
		for (struct vm_rt *vm = d->vms; vm && !owned; vm = vm->next)
			owned = strcmp(vm->id, de->d_name) == 0;
		if (!owned) {
			char path[PATH_MAX];
			int len = snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
			if (len < 0 || (size_t)len >= sizeof(path))
				continue;
			log_info("removing %s: no VM owns it (an interrupted create)", path);
			rm_rf(path);
		}
	}
	if (dh)
		closedir(dh);
	return k < 0 ? k : 0;
}
