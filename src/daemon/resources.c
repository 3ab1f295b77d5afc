/*
 * resources: what a VM may take from the host, and holding it to that.
 *
 * Admission control counts the vCPUs and memory of every VM that holds
 * (or, suspended, will take back) host resources and refuses a start that
 * would go past the capacity (host/, with the ratios and reserve from the
 * config file). A running VM's QEMU sits in its own cgroup under one
 * parent: cpu weight and limit, memory soft and hard limits. Disk limits
 * are QEMU's own I/O throttling and vCPU pinning the affinity of QEMU's
 * vCPU threads, whose thread ids QMP reports. Everything can change while
 * the VM runs (PATCH /v1/vms/{name}); a restarted daemon re-adopts the
 * groups of the QEMUs it finds.
 */
#include <sched.h>
#include <string.h>

#include "daemon/internal.h"

#define MEM_HARD_MARGIN_MIN (128ULL << 20)
#define DENSITY_OVERHEAD    (64ULL << 20)

/* ---- admission ---------------------------------------------------------- */

static bool holds_resources(enum vm_state s)
{
	return vm_state_is_active(s) || s == VM_STARTING || s == VM_SUSPENDED;
}

static void vm_need(const struct daemon *d, const struct vm_spec *spec, struct host_alloc *ret)
{
	/* A latency VM gets its CPUs to itself: no overcommit for it. */
	double per_vcpu = spec->performance == VM_PERF_LATENCY ? d->capacity.cpu_ratio : 1.0;

	ret->vcpus = spec->cpus * per_vcpu;
	ret->memory = spec->res.memory_reservation ? spec->res.memory_reservation : spec->memory;
}

static void allocated(const struct daemon *d, const struct vm_rt *except, struct host_alloc *ret,
		      unsigned *ret_vms)
{
	struct host_alloc one;

	*ret = (struct host_alloc){0};
	*ret_vms = 0;
	for (const struct vm_rt *vm = d->vms; vm; vm = vm->next) {
		if (vm == except || !holds_resources(vm->state))
			continue;
		vm_need(d, vm->spec, &one);
		ret->vcpus += one.vcpus;
		ret->memory += one.memory;
		(*ret_vms)++;
	}
}

int admission_check(struct vm_rt *vm, struct werr *err)
{
	struct host_alloc used, need;
	char msg[256];
	unsigned n;

	allocated(vm->d, vm, &used, &n);
	vm_need(vm->d, vm->spec, &need);
	if (host_admit(&vm->d->inventory, &vm->d->capacity, &used, &need, msg, sizeof(msg)) == 0)
		return 0;
	log_info("%s: refused to start: %s", vm->spec->name, msg);
	return werr_set(err, -ENOSPC, "no_capacity", "", "cannot start %s: %s", vm->spec->name,
			msg);
}

json_t *resources_host_json(struct daemon *d)
{
	struct host_alloc cap, used;
	const struct host_inventory *inv = &d->inventory;
	unsigned n;

	host_inventory_read("/", d->cfg.state_dir, &d->inventory);
	host_capacity(inv, &d->capacity, &cap);
	allocated(d, NULL, &used, &n);
	return json_pack(
		"{s:{s:{s:i, s:i, s:i, s:i, s:s}, s:{s:I, s:I}, s:{s:s, s:I, s:I}},"
		" s:{s:f, s:I, s:f, s:f, s:I}, s:{s:f, s:I, s:i}, s:s, s:s?}",
		"inventory", "cpu", "online", (int)inv->cpu.online, "sockets", (int)inv->cpu.sockets,
		"cores", (int)inv->cpu.cores, "threads_per_core", (int)inv->cpu.threads_per_core,
		"model", inv->cpu.model, "memory", "total", (json_int_t)inv->mem_total, "available",
		(json_int_t)inv->mem_available, "disk", "path", d->cfg.state_dir, "total",
		(json_int_t)inv->disk_total, "free", (json_int_t)inv->disk_free, "capacity", "vcpus",
		cap.vcpus, "memory", (json_int_t)cap.memory, "cpu_ratio", d->capacity.cpu_ratio,
		"memory_ratio", d->capacity.memory_ratio, "memory_reserved",
		(json_int_t)d->capacity.memory_reserved, "allocated", "vcpus", used.vcpus, "memory",
		(json_int_t)used.memory, "vms", (int)n, "cgroups",
		d->cgroups.version == CG_V2   ? "v2"
		: d->cgroups.version == CG_V1 ? "v1"
					      : "none",
		"config", d->cfg.config_path);
}

/* ---- cgroups ------------------------------------------------------------ */

static void cg_limits_of(const struct vm_rt *vm, struct cg_limits *lim)
{
	const struct vm_spec *spec = vm->spec;
	const struct vm_resources *r = &spec->res;
	unsigned online = vm->d->inventory.cpu.online ? vm->d->inventory.cpu.online : 1;
	size_t o = 0;

	*lim = (struct cg_limits){.cpu_weight = r->cpu_weight};
	/* A pinned VM's QEMU as a whole stays on its vCPUs' host CPUs, so
	 * that its other threads do not take another VM's CPU; otherwise it
	 * may use every CPU. */
	if (r->n_pin) {
		for (unsigned c = 0; c < online && c < VM_MAX_CPUS; c++)
			for (size_t i = 0; i < r->n_pin; i++)
				if ((unsigned)r->pin[i] == c && o + 8 < sizeof(lim->cpus)) {
					o += (size_t)snprintf(lim->cpus + o, sizeof(lim->cpus) - o,
							      "%s%u", o ? "," : "", c);
					break;
				}
	} else if (vm->d->cgroups.version == CG_V1 && vm->d->cgroups.cpuset[0]) {
		/* Unpinned again: every CPU. (Under v2 an unpinned group
		 * writes no cpuset at all, which hosts without a delegated
		 * cpuset controller need; a group unpinned while it runs
		 * keeps its old CPUs until QEMU restarts.) */
		snprintf(lim->cpus, sizeof(lim->cpus), "0-%u", online - 1);
	}
	if (r->cpu_limit > 0) {
		lim->cpu_period_us = CG_DEFAULT_PERIOD_US;
		lim->cpu_quota_us = (uint64_t)(r->cpu_limit * CG_DEFAULT_PERIOD_US + 0.5);
	}
	/* A soft limit first: page cache counted against a hard limit at the
	 * VM's own size gets VMs killed. The hard limit stays well above. */
	if (r->memory_limit) {
		uint64_t margin = r->memory_limit / 4;
		lim->mem_high = r->memory_limit;
		lim->mem_max = r->memory_limit + (margin > MEM_HARD_MARGIN_MIN ? margin
								   : MEM_HARD_MARGIN_MIN);
	} else if (spec->performance == VM_PERF_DENSITY) {
		lim->mem_high = spec->memory + spec->memory / 16 + DENSITY_OVERHEAD;
	}
}

static int cg_setup(struct vm_rt *vm)
{
	struct cg_limits lim;
	int r;

	if (vm->d->cgroups.version == CG_NONE)
		return 0;
	r = cg_vm_create(&vm->d->cgroups, vm->d->cfg.cgroup_parent, vm->id, &vm->cg);
	if (r < 0)
		return r;
	vm->in_cg = true;
	cg_limits_of(vm, &lim);
	return cg_vm_apply(&vm->cg, &lim);
}

void resources_enter(struct vm_rt *vm)
{
	int r = cg_setup(vm);

	if (r == 0 && vm->in_cg)
		r = cg_vm_attach(&vm->cg, vm->pid);
	if (r < 0)
		log_warn_errno(r, "%s: cannot place QEMU in its cgroup; it runs without limits",
			       vm->spec->name);
}

void resources_readopt(struct vm_rt *vm)
{
	int r = cg_setup(vm);

	if (r == 0 && vm->in_cg && cg_vm_contains(&vm->cg, vm->pid) != 1)
		r = cg_vm_attach(&vm->cg, vm->pid);
	if (r < 0)
		log_warn_errno(r, "%s: cannot re-adopt QEMU's cgroup", vm->spec->name);
	else if (vm->in_cg)
		log_info("%s: re-adopted cgroup %s", vm->spec->name, vm->cg.name);
}

void resources_leave(struct vm_rt *vm)
{
	int r;

	if (!vm->in_cg)
		return;
	r = cg_vm_remove(&vm->cg);
	if (r < 0)
		log_warn_errno(r, "%s: cannot remove cgroup %s", vm->spec->name, vm->cg.name);
	vm->in_cg = false;
}

/* ---- QEMU: disk throttling and vCPU affinity ------------------------------ */

static void on_throttle(struct qmp *q, json_t *result, const struct qmp_error *e, void *ud)
{
	if (e && strcmp(e->klass, "Disconnected") != 0)
		log_warn("disk throttling not applied: %s", e->desc);
}

static void throttle(struct vm_rt *vm, bool all)
{
	for (size_t i = 0; vm->qmp && i < vm->spec->n_disks; i++) {
		const struct vm_disk *disk = &vm->spec->disks[i];
		char id[64];
		if (!all && !disk->iops && !disk->bps)
			continue;
		/* The backend of virtio-blk-pci is its virtio-backend child. */
		snprintf(id, sizeof(id), "disk-%s/virtio-backend", disk->name);
		qmp_execute(vm->qmp, "block_set_io_throttle",
			    json_pack("{s:s, s:I, s:i, s:i, s:I, s:i, s:i}", "id", id, "bps",
				      (json_int_t)disk->bps, "bps_rd", 0, "bps_wr", 0, "iops",
				      (json_int_t)disk->iops, "iops_rd", 0, "iops_wr", 0),
			    on_throttle, NULL);
	}
}

struct apply_ctx {
	struct vm_rt *vm;
	struct reply *reply; /* a change waiting to be answered, or NULL */
};

static void apply_done(struct apply_ctx *c)
{
	if (c->reply)
		reply_json(c->reply, 200, vm_rt_to_json(c->vm));
	free(c);
}

static void pin_vcpus(struct vm_rt *vm, json_t *result)
{
	unsigned online = vm->d->inventory.cpu.online ? vm->d->inventory.cpu.online : 1;
	json_t *cpu;
	size_t i;

	json_array_foreach(result, i, cpu)
	{
		json_int_t idx = json_integer_value(json_object_get(cpu, "cpu-index"));
		pid_t tid = (pid_t)json_integer_value(json_object_get(cpu, "thread-id"));
		cpu_set_t set;
		CPU_ZERO(&set);
		if (vm->spec->res.n_pin && (size_t)idx < vm->spec->res.n_pin)
			CPU_SET(vm->spec->res.pin[idx], &set);
		else if (vm->spec->performance == VM_PERF_LATENCY)
			CPU_SET((unsigned)idx % online, &set); /* pinned, one CPU each */
		else
			for (unsigned c = 0; c < online; c++)
				CPU_SET(c, &set);
		if (tid > 0 && sched_setaffinity(tid, sizeof(set), &set) < 0)
			log_warn("%s: cannot pin vCPU %lld (thread %d): %s", vm->spec->name,
				 (long long)idx, (int)tid, strerror(errno));
	}
}

static void on_vcpus(struct qmp *q, json_t *result, const struct qmp_error *e, void *ud)
{
	struct apply_ctx *c = ud;

	if (!e && json_is_array(result))
		pin_vcpus(c->vm, result);
	apply_done(c);
}

/* reply, if given, is answered with the VM once QEMU has done it all. */
static void apply_qemu(struct vm_rt *vm, bool all, struct reply *reply)
{
	struct apply_ctx *c = calloc(1, sizeof(*c));

	if (c)
		*c = (struct apply_ctx){.vm = vm, .reply = reply};
	if (!vm->qmp || !c) {
		if (c)
			apply_done(c);
		else if (reply)
			reply_json(reply, 200, vm_rt_to_json(vm));
		return;
	}
	throttle(vm, all);
	if (all || vm->spec->res.n_pin || vm->spec->performance == VM_PERF_LATENCY)
		qmp_execute(vm->qmp, "query-cpus-fast", NULL, on_vcpus, c);
	else
		apply_done(c);
}

void resources_apply_qemu(struct vm_rt *vm, bool all)
{
	apply_qemu(vm, all, NULL);
}

/* ---- security policy ---------------------------------------------------------- */

static int path_inside(const char *dir, const char *path, const char *field, struct werr *err)
{
	char real[PATH_MAX];
	size_t n = strlen(dir);

	if (!path)
		return 0;
	if (!realpath(path, real))
		return werr_set(err, -EINVAL, "invalid", field, "%s '%s' cannot be resolved: %s",
				field, path, strerror(errno));
	if (strncmp(real, dir, n) == 0 && real[n] == '/')
		return 0;
	return werr_set(err, -EINVAL, "invalid", field,
			"%s '%s' lies outside the state directory %s (and its image store %s/images); "
			"a strict VM may only use files there: copy it in, or create the VM with "
			"security 'trusted'",
			field, path, dir, dir);
}

int policy_check_paths(struct daemon *d, const struct vm_spec *spec, struct werr *err)
{
	char field[48];
	int r;

	if (spec->security != VM_SECURITY_STRICT)
		return 0;
	if ((r = path_inside(d->cfg.state_dir, spec->kernel, "kernel", err)) < 0 ||
	    (r = path_inside(d->cfg.state_dir, spec->initrd, "initrd", err)) < 0)
		return r;
	for (size_t i = 0; i < spec->n_disks; i++) {
		snprintf(field, sizeof(field), "disks[%zu].image", i);
		if ((r = path_inside(d->cfg.state_dir, spec->disks[i].image, field, err)) < 0)
			return r;
	}
	return 0;
}

/* ---- PATCH /v1/vms/{name} ------------------------------------------------- */

void daemon_vm_patch(struct daemon *d, const struct caller *c, const char *name, json_t *body,
		     struct reply *r)
{
	struct vm_rt *vm = vm_find_or_reply(d, name, r);
	struct vm_spec *next = NULL, *swap;
	struct cg_limits lim;
	struct werr err;
	int k;

	if (!vm)
		return;
	if (vm_rt_check_idle(vm, "change", &err) < 0 ||
	    vm_spec_patch(vm->spec, body, &d->limits, &next, &err) < 0) {
		reply_error(r, &err);
		return;
	}
	/* Recorded first; a change the store did not take is not made. */
	swap = vm->spec;
	vm->spec = next;
	k = vm_rt_persist(vm);
	if (k < 0) {
		vm->spec = swap;
		vm_spec_free(next);
		werr_internal(&err, k, "recording the change");
		reply_error(r, &err);
		return;
	}
	k = vm->pid > 0 ? nics_apply_change(vm, swap, &err) : 0;
	vm_spec_free(swap);
	if (k < 0)
		log_warn("%s: NIC change not applied: %s", name, err.message);
	if (vm->in_cg && vm->pid > 0) {
		cg_limits_of(vm, &lim);
		k = cg_vm_apply(&vm->cg, &lim);
		if (k < 0)
			log_warn_errno(k, "%s: cgroup limits not applied", name);
	}
	log_info("%s: resources changed", name);
	events_emit_action(d, name, "set", "ok", (int)c->uid);
	if (vm->pid > 0)
		apply_qemu(vm, true, r);
	else
		reply_json(r, 200, vm_rt_to_json(vm));
}
