/*
 * stats: sampling each running VM on a timer, and serving what was seen.
 *
 * A tick sends QMP queries to every running VM without waiting for any of
 * them (query-cpus-fast once per QEMU run for the vCPU thread ids, then
 * query-blockstats each time; QMP answers in order, so the blockstats
 * reply closes the sample). CPU times come from /proc for the QEMU
 * process and each vCPU thread, RSS from /proc/<pid>/statm. The loop
 * never waits: a VM whose previous sample is still in flight is skipped.
 *
 * History is a mon_ring per VM covering at least an hour; the counters
 * restart with each QEMU process, so the ring is cleared on start.
 */
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/sysinfo.h>

#include "daemon/internal.h"
#include "monitor/monitor.h"

#define HISTORY_SECONDS 3600
#define RING_MIN 360
#define RING_MAX 7200

struct vm_stats {
	struct mon_ring *ring;
	pid_t tids_of; /* QEMU pid the thread ids belong to */
	unsigned n_vcpus;
	pid_t vcpu_tids[MON_MAX_VCPUS];
	bool in_flight;
	struct stats_waiter *waiters;
};

/* A request waiting for a fresh sample (or for the sample in flight). */
struct stats_waiter {
	struct stats_waiter *next;
	void (*fn)(struct daemon *d, void *ud);
	void *ud;
	struct daemon *d;
	unsigned *pending; /* shared countdown across VMs */
};

static unsigned ring_capacity(const struct daemon *d)
{
	unsigned n = HISTORY_SECONDS * 1000 / (d->cfg.stats_interval_ms ? d->cfg.stats_interval_ms : 10000);

	return n < RING_MIN ? RING_MIN : n > RING_MAX ? RING_MAX : n;
}

static struct vm_stats *stats_of(struct vm_rt *vm)
{
	if (!vm->stats)
		vm->stats = calloc(1, sizeof(struct vm_stats));
	return vm->stats;
}

static void finish_waiters(struct vm_stats *st)
{
	struct stats_waiter *list = st->waiters;

	st->waiters = NULL;
	while (list) {
		struct stats_waiter *w = list;
		list = w->next;
		if (--*w->pending == 0) {
			w->fn(w->d, w->ud);
			free(w->pending);
		}
		free(w);
	}
}

void stats_vm_free(struct vm_rt *vm)
{
	struct vm_stats *st = vm->stats;

	if (!st)
		return;
	finish_waiters(st); /* no sample will come: answer with what there is */
	mon_ring_free(st->ring);
	free(st);
	vm->stats = NULL;
}

void stats_vm_started(struct vm_rt *vm)
{
	struct vm_stats *st = stats_of(vm);

	if (!st)
		return;
	st->tids_of = 0;
	if (st->ring)
		mon_ring_clear(st->ring);
}

/* ---- /proc ----------------------------------------------------------- */

/* utime + stime of /proc/<path>/stat, in ns. */
static int proc_cpu_ns(const char *path, uint64_t *ret)
{
	char buf[1024];
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	if (n <= 0)
		return -EIO;
	buf[n] = '\0';
	/* The command name may contain spaces and parentheses: skip to the
	 * last ')'. Fields then start at 3 (state). */
	char *p = strrchr(buf, ')');
	unsigned long long utime, stime;
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &utime,
			 &stime) != 2)
		return -EIO;
	long hz = sysconf(_SC_CLK_TCK);
	*ret = (utime + stime) * (1000000000ULL / (uint64_t)(hz > 0 ? hz : 100));
	return 0;
}

static uint64_t proc_rss_bytes(pid_t pid)
{
	char path[64], buf[128];
	unsigned long long size, rss;

	snprintf(path, sizeof(path), "/proc/%d/statm", (int)pid);
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	if (sscanf(buf, "%llu %llu", &size, &rss) != 2)
		return 0;
	return rss * (uint64_t)sysconf(_SC_PAGESIZE);
}

/* ---- one sample ------------------------------------------------------- */

struct sample_ctx {
	struct daemon *d;
	char name[VM_NAME_MAX + 1];
};


static int disk_index(const struct vm_rt *vm, json_t *entry)
{
	const char *node = json_string_value(json_object_get(entry, "node-name"));
	const char *qdev = json_string_value(json_object_get(entry, "qdev"));
	char want[64];

	for (size_t i = 0; i < vm->spec->n_disks; i++) {
		snprintf(want, sizeof(want), "fmt-%s", vm->spec->disks[i].name);
		if (node && strcmp(node, want) == 0)
			return (int)i;
		snprintf(want, sizeof(want), "/disk-%s/", vm->spec->disks[i].name);
		if (qdev && strstr(qdev, want))
			return (int)i;
	}
	return -1;
}

static void on_blockstats(struct qmp *q, json_t *result, const struct qmp_error *e, void *ud)
{
	struct sample_ctx *c = ud;
	struct vm_rt *vm = vm_rt_find(c->d, c->name);
	struct mon_sample s = {.balloon_bytes = -1};
	char path[96];
	size_t i;
	json_t *entry;

	free(c);
	if (!vm || !vm->stats)
		return;
	struct vm_stats *st = vm->stats;
	st->in_flight = false;
	if (e || vm->pid <= 0) {
		finish_waiters(st);
		return;
	}
	s.time_ms = (int64_t)now_realtime_ms();
	s.mono_ns = now_monotonic_ns();
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)vm->pid);
	proc_cpu_ns(path, &s.cpu_ns);
	s.rss_bytes = proc_rss_bytes(vm->pid);
	s.n_vcpus = st->n_vcpus;
	for (unsigned k = 0; k < st->n_vcpus; k++) {
		snprintf(path, sizeof(path), "/proc/%d/task/%d/stat", (int)vm->pid,
			 (int)st->vcpu_tids[k]);
		proc_cpu_ns(path, &s.vcpu_ns[k]);
	}
	s.n_disks = (unsigned)(vm->spec->n_disks < MON_MAX_DISKS ? vm->spec->n_disks
								  : MON_MAX_DISKS);
	json_array_foreach(result, i, entry) {
		int k = disk_index(vm, entry);
		json_t *bs = json_object_get(entry, "stats");
		if (k < 0 || k >= MON_MAX_DISKS || !bs)
			continue;
		struct mon_disk *dk = &s.disks[k];
		dk->rd_bytes = (uint64_t)json_integer_value(json_object_get(bs, "rd_bytes"));
		dk->wr_bytes = (uint64_t)json_integer_value(json_object_get(bs, "wr_bytes"));
		dk->rd_ops = (uint64_t)json_integer_value(json_object_get(bs, "rd_operations"));
		dk->wr_ops = (uint64_t)json_integer_value(json_object_get(bs, "wr_operations"));
		dk->rd_time_ns = (uint64_t)json_integer_value(json_object_get(bs, "rd_total_time_ns"));
		dk->wr_time_ns = (uint64_t)json_integer_value(json_object_get(bs, "wr_total_time_ns"));
	}
	if (!st->ring)
		st->ring = mon_ring_new(ring_capacity(vm->d), vm->spec->cpus,
					(unsigned)vm->spec->n_disks);
	if (st->ring)
		mon_ring_push(st->ring, &s);
	finish_waiters(st);
}

static void on_cpus(struct qmp *q, json_t *result, const struct qmp_error *e, void *ud)
{
	struct sample_ctx *c = ud;
	struct vm_rt *vm = vm_rt_find(c->d, c->name);
	size_t i;
	json_t *cpu;

	free(c);
	if (e || !vm || !vm->stats)
		return;
	vm->stats->n_vcpus = 0;
	json_array_foreach(result, i, cpu) {
		json_int_t idx = json_integer_value(json_object_get(cpu, "cpu-index"));
		json_int_t tid = json_integer_value(json_object_get(cpu, "thread-id"));
		if (idx < 0 || idx >= MON_MAX_VCPUS || tid <= 0)
			continue;
		vm->stats->vcpu_tids[idx] = (pid_t)tid;
		if ((unsigned)idx + 1 > vm->stats->n_vcpus)
			vm->stats->n_vcpus = (unsigned)idx + 1;
	}
	vm->stats->tids_of = vm->pid;
}

static struct sample_ctx *ctx_new(struct vm_rt *vm)
{
	struct sample_ctx *c = calloc(1, sizeof(*c));

	if (c) {
		c->d = vm->d;
		snprintf(c->name, sizeof(c->name), "%s", vm->spec->name);
	}
	return c;
}

/* Start a sample of vm unless one is in flight. Returns true if a sample
 * is (now) in flight, so a waiter can be parked on it. */
static bool stats_sample_vm(struct vm_rt *vm)
{
	struct vm_stats *st = stats_of(vm);
	struct sample_ctx *c;

	if (!st || !vm->qmp || !qmp_is_ready(vm->qmp) ||
	    (vm->state != VM_RUNNING && vm->state != VM_PAUSED))
		return false;
	if (st->in_flight)
		return true;
	if (st->tids_of != vm->pid && (c = ctx_new(vm)) &&
	    qmp_execute(vm->qmp, "query-cpus-fast", NULL, on_cpus, c) < 0)
		free(c); /* no callback comes for a command that was not queued */
	c = ctx_new(vm);
	if (!c)
		return false;
	if (qmp_execute(vm->qmp, "query-blockstats", NULL, on_blockstats, c) < 0) {
		free(c);
		return false;
	}
	st->in_flight = true;
	return true;
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	struct daemon *d = arg;

	for (struct vm_rt *vm = d->vms; vm; vm = vm->next)
		stats_sample_vm(vm);
}

/* Sample every running VM now (or only `only`), then call fn. */
static void stats_refresh(struct daemon *d, struct vm_rt *only,
			  void (*fn)(struct daemon *d, void *ud), void *ud)
{
	unsigned *pending = calloc(1, sizeof(*pending));

	if (!pending) {
		fn(d, ud);
		return;
	}
	*pending = 1; /* held until every VM is asked */
	for (struct vm_rt *vm = d->vms; vm; vm = vm->next) {
		if (only && vm != only)
			continue;
		if (!stats_sample_vm(vm))
			continue;
		struct stats_waiter *w = calloc(1, sizeof(*w));
		if (!w)
			continue;
		*w = (struct stats_waiter){.fn = fn, .ud = ud, .d = d, .pending = pending};
		(*pending)++;
		w->next = vm->stats->waiters;
		vm->stats->waiters = w;
	}
	if (--*pending == 0) {
		free(pending);
		fn(d, ud);
	}
}

int stats_init(struct daemon *d)
{
	struct timeval tv = {.tv_sec = d->cfg.stats_interval_ms / 1000,
			     .tv_usec = (d->cfg.stats_interval_ms % 1000) * 1000};

	d->stats_ev = event_new(d->base, -1, EV_PERSIST, on_tick, d);
	if (!d->stats_ev || event_add(d->stats_ev, &tv) < 0)
		return -ENOMEM;
	return 0;
}

void stats_fini(struct daemon *d)
{
	if (d->stats_ev)
		event_free(d->stats_ev);
	if (d->prune_ev)
		event_free(d->prune_ev);
	d->stats_ev = NULL;
	d->prune_ev = NULL;
}

/* ---- API: per-VM history ------------------------------------------------- */

struct stats_req {
	char name[VM_NAME_MAX + 1];
	int64_t since_ms;
	struct reply *reply;
};

static json_t *vm_history_json(struct vm_rt *vm, int64_t since_ms)
{
	const char *names[MON_MAX_DISKS];
	struct vm_stats *st = vm->stats;
	json_t *samples = json_array();
	struct mon_sample prev, cur;
	bool have_prev = false;

	for (size_t i = 0; i < vm->spec->n_disks && i < MON_MAX_DISKS; i++)
		names[i] = vm->spec->disks[i].name;
	for (size_t i = 0; st && st->ring && mon_ring_get(st->ring, i, &cur) == 0; i++) {
		if (cur.time_ms >= since_ms)
			json_array_append_new(samples,
					      mon_sample_to_json(&cur, have_prev ? &prev : NULL, names));
		prev = cur;
		have_prev = true;
	}
	return json_pack("{s:s, s:s, s:f, s:i, s:I, s:o}", "name", vm->spec->name, "state",
			 vm_state_to_string(vm->state), "interval_seconds",
			 vm->d->cfg.stats_interval_ms / 1000.0, "history_capacity",
			 (int)ring_capacity(vm->d), "history_bytes",
			 (json_int_t)(st && st->ring ? mon_ring_bytes(st->ring) : 0), "samples",
			 samples);
}

static void stats_req_answer(struct daemon *d, void *ud)
{
	struct stats_req *q = ud;
	struct vm_rt *vm = vm_rt_find(d, q->name);
	struct werr err;

	if (!vm) {
		werr_set(&err, -ENOENT, "not_found", "name", "no VM named '%s'", q->name);
		reply_error(q->reply, &err);
	} else {
		reply_json(q->reply, 200, vm_history_json(vm, q->since_ms));
	}
	free(q);
}

void daemon_vm_stats(struct daemon *d, const char *name, int64_t since_ms, bool fresh,
		     struct reply *r)
{
	struct vm_rt *vm = vm_rt_find(d, name);
	struct stats_req *q;
	struct werr err;

	if (!vm) {
		werr_set(&err, -ENOENT, "not_found", "name", "no VM named '%s'", name);
		reply_error(r, &err);
		return;
	}
	q = calloc(1, sizeof(*q));
	if (!q) {
		werr_internal(&err, -ENOMEM, "stats");
		reply_error(r, &err);
		return;
	}
	snprintf(q->name, sizeof(q->name), "%s", name);
	q->since_ms = since_ms;
	q->reply = r;
	if (fresh)
		stats_refresh(d, vm, stats_req_answer, q);
	else
		stats_req_answer(d, q);
}

/* ---- API: every VM's latest sample (warren top) ---------------------------- */

static json_t *vm_latest_json(struct vm_rt *vm)
{
	const char *names[MON_MAX_DISKS];
	struct vm_stats *st = vm->stats;
	struct mon_sample cur, prev;
	size_t n = st && st->ring ? mon_ring_count(st->ring) : 0;
	json_t *j = json_pack("{s:s, s:s, s:i, s:I}", "name", vm->spec->name, "state",
			      vm_state_to_string(vm->state), "cpus", (int)vm->spec->cpus, "memory",
			      (json_int_t)vm->spec->memory);

	for (size_t i = 0; i < vm->spec->n_disks && i < MON_MAX_DISKS; i++)
		names[i] = vm->spec->disks[i].name;
	if (n && vm_state_is_active(vm->state) && mon_ring_get(st->ring, n - 1, &cur) == 0) {
		bool p = n > 1 && mon_ring_get(st->ring, n - 2, &prev) == 0;
		json_object_set_new(j, "sample", mon_sample_to_json(&cur, p ? &prev : NULL, names));
	} else {
		json_object_set_new(j, "sample", json_null());
	}
	return j;
}

static void stats_all_answer(struct daemon *d, void *ud)
{
	struct reply *r = ud;
	json_t *arr = json_array();

	for (struct vm_rt *vm = d->vms; vm; vm = vm->next)
		json_array_append_new(arr, vm_latest_json(vm));
	reply_json(r, 200, json_pack("{s:f, s:o}", "interval_seconds",
				     d->cfg.stats_interval_ms / 1000.0, "vms", arr));
}

void daemon_stats_all(struct daemon *d, bool fresh, struct reply *r)
{
	if (fresh)
		stats_refresh(d, NULL, stats_all_answer, r);
	else
		stats_all_answer(d, r);
}

/* ---- API: Prometheus metrics ---------------------------------------------- */

struct host_counters {
	double cpu_seconds[2]; /* user+nice+system..., idle+iowait */
};

static void read_host_cpu(struct host_counters *h)
{
	unsigned long long v[8] = {0};
	_cleanup_fclose_ FILE *f = fopen("/proc/stat", "re");
	long hz = sysconf(_SC_CLK_TCK);

	if (!f || fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2],
			 &v[3], &v[4], &v[5], &v[6], &v[7]) != 8)
		return;
	hz = hz > 0 ? hz : 100;
	h->cpu_seconds[0] = (double)(v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) / (double)hz;
	h->cpu_seconds[1] = (double)(v[3] + v[4]) / (double)hz;
}

static uint64_t meminfo(const char *key)
{
	_cleanup_fclose_ FILE *f = fopen("/proc/meminfo", "re");
	char line[256];
	size_t n = strlen(key);
	unsigned long long kb;

	while (f && fgets(line, sizeof(line), f))
		if (strncmp(line, key, n) == 0 && line[n] == ':' &&
		    sscanf(line + n + 1, "%llu", &kb) == 1)
			return kb * 1024;
	return 0;
}

#define FAMILY(name, type, help) mon_prom_family(p, name, type, help)

/* The newest sample of a VM that has a QEMU now; false if there is none. */
static bool latest_sample(struct vm_rt *vm, struct mon_sample *ret)
{
	size_t n = vm->stats && vm->stats->ring ? mon_ring_count(vm->stats->ring) : 0;

	return n && vm_state_is_active(vm->state) && mon_ring_get(vm->stats->ring, n - 1, ret) == 0;
}

static void metrics_vm_counters(struct mon_prom *p, struct daemon *d)
{
	struct mon_sample s;
	char idx[16];

	FAMILY("warren_vm_cpu_seconds_total", "counter", "CPU time used by each vCPU thread.");
	for (struct vm_rt *vm = d->vms; vm; vm = vm->next) {
		if (!latest_sample(vm, &s))
			continue;
		for (unsigned k = 0; k < s.n_vcpus; k++) {
			snprintf(idx, sizeof(idx), "%u", k);
			const char *l[] = {"vm", vm->spec->name, "vcpu", idx, NULL};
			mon_prom_sample(p, l, (double)s.vcpu_ns[k] / 1e9);
		}
	}
	FAMILY("warren_vm_qemu_cpu_seconds_total", "counter",
	       "CPU time used by the whole QEMU process of the VM (user and system).");
	for (struct vm_rt *vm = d->vms; vm; vm = vm->next) {
		if (!latest_sample(vm, &s))
			continue;
		const char *l[] = {"vm", vm->spec->name, NULL};
		mon_prom_sample(p, l, (double)s.cpu_ns / 1e9);
	}
	FAMILY("warren_vm_resident_memory_bytes", "gauge", "Resident memory of the QEMU process.");
	for (struct vm_rt *vm = d->vms; vm; vm = vm->next) {
		if (!latest_sample(vm, &s))
			continue;
		const char *l[] = {"vm", vm->spec->name, NULL};
		mon_prom_sample(p, l, (double)s.rss_bytes);
	}
	static const struct {
		const char *name, *help;
		size_t off;
	} disk_counters[] = {
		{"warren_vm_disk_read_bytes_total", "Bytes read from each disk.",
		 offsetof(struct mon_disk, rd_bytes)},
		{"warren_vm_disk_written_bytes_total", "Bytes written to each disk.",
		 offsetof(struct mon_disk, wr_bytes)},
		{"warren_vm_disk_reads_total", "Read operations on each disk.",
		 offsetof(struct mon_disk, rd_ops)},
		{"warren_vm_disk_writes_total", "Write operations on each disk.",
		 offsetof(struct mon_disk, wr_ops)},
	};
	for (size_t c = 0; c < ARRAY_SIZE(disk_counters); c++) {
		FAMILY(disk_counters[c].name, "counter", disk_counters[c].help);
		for (struct vm_rt *vm = d->vms; vm; vm = vm->next) {
			if (!latest_sample(vm, &s))
				continue;
			for (unsigned k = 0; k < s.n_disks; k++) {
				uint64_t v;
				memcpy(&v, (const char *)&s.disks[k] + disk_counters[c].off, sizeof(v));
				const char *l[] = {"vm", vm->spec->name, "disk", vm->spec->disks[k].name,
						   NULL};
				mon_prom_sample(p, l, (double)v);
			}
		}
	}
}

static void metrics_answer(struct daemon *d, void *ud)
{
	struct reply *r = ud;
	struct mon_prom *p = mon_prom_new();
	struct host_counters h = {{0, 0}};
	double load[3] = {0, 0, 0};
	uint64_t alloc_cpus = 0, alloc_mem = 0;
	int64_t now = (int64_t)now_realtime_ms();
	size_t len;

	if (!p) {
		struct werr err;
		werr_internal(&err, -ENOMEM, "metrics");
		reply_error(r, &err);
		return;
	}
	FAMILY("warren_vm_info", "gauge", "One series per VM with its state as a label; value 1.");
	for (struct vm_rt *vm = d->vms; vm; vm = vm->next) {
		const char *l[] = {"vm", vm->spec->name, "state", vm_state_to_string(vm->state), NULL};
		mon_prom_sample(p, l, 1);
		if (vm_state_is_active(vm->state)) {
			alloc_cpus += vm->spec->cpus;
			alloc_mem += vm->spec->memory;
		}
	}
	FAMILY("warren_vm_vcpus", "gauge", "vCPUs configured for each VM.");
	for (struct vm_rt *vm = d->vms; vm; vm = vm->next) {
		const char *l[] = {"vm", vm->spec->name, NULL};
		mon_prom_sample(p, l, vm->spec->cpus);
	}
	FAMILY("warren_vm_memory_bytes", "gauge", "Guest memory configured for each VM.");
	for (struct vm_rt *vm = d->vms; vm; vm = vm->next) {
		const char *l[] = {"vm", vm->spec->name, NULL};
		mon_prom_sample(p, l, (double)vm->spec->memory);
	}
	FAMILY("warren_vm_uptime_seconds", "gauge", "Seconds since each active VM started.");
	for (struct vm_rt *vm = d->vms; vm; vm = vm->next) {
		if (!vm_state_is_active(vm->state) || !vm->started_ms)
			continue;
		const char *l[] = {"vm", vm->spec->name, NULL};
		mon_prom_sample(p, l, (double)(now - vm->started_ms) / 1000.0);
	}
	metrics_vm_counters(p, d);

	read_host_cpu(&h);
	FAMILY("warren_host_cpu_seconds_total", "counter", "Host CPU time by mode (all CPUs).");
	const char *busy[] = {"mode", "busy", NULL}, *idle[] = {"mode", "idle", NULL};
	mon_prom_sample(p, busy, h.cpu_seconds[0]);
	mon_prom_sample(p, idle, h.cpu_seconds[1]);
	FAMILY("warren_host_cpus", "gauge", "Online host CPUs.");
	mon_prom_sample(p, NULL, d->limits.max_cpus);
	FAMILY("warren_host_memory_bytes", "gauge", "Host memory.");
	mon_prom_sample(p, NULL, (double)meminfo("MemTotal"));
	FAMILY("warren_host_memory_available_bytes", "gauge", "Host memory available.");
	mon_prom_sample(p, NULL, (double)meminfo("MemAvailable"));
	getloadavg(load, 3);
	FAMILY("warren_host_load1", "gauge", "Host load average over one minute.");
	mon_prom_sample(p, NULL, load[0]);
	FAMILY("warren_host_allocated_vcpus", "gauge", "vCPUs of VMs that are active.");
	mon_prom_sample(p, NULL, (double)alloc_cpus);
	FAMILY("warren_host_allocated_memory_bytes", "gauge", "Guest memory of VMs that are active.");
	mon_prom_sample(p, NULL, (double)alloc_mem);

	const char *text = mon_prom_text(p, &len);
	r->send_raw(r, "text/plain; version=0.0.4; charset=utf-8", text, len);
	mon_prom_free(p);
}

void daemon_metrics(struct daemon *d, struct reply *r)
{
	metrics_answer(d, r);
}

/* ---- event log retention and the log level -------------------------------- */

static void on_prune(evutil_socket_t fd, short what, void *arg)
{
	struct daemon *d = arg;
	int64_t cutoff = (int64_t)now_realtime_ms() - (int64_t)d->cfg.events_retention_days * 86400000;
	int r = store_event_prune(d->store, cutoff);

	if (r < 0)
		log_warn_errno(r, "cannot prune the event log");
	else if (r > 0)
		log_info("pruned %d events older than %u days", r, d->cfg.events_retention_days);
}

int events_retention_init(struct daemon *d)
{
	struct timeval hour = {.tv_sec = 3600};

	on_prune(-1, 0, d);
	d->prune_ev = event_new(d->base, -1, EV_PERSIST, on_prune, d);
	if (!d->prune_ev || event_add(d->prune_ev, &hour) < 0)
		return -ENOMEM;
	return 0;
}

void daemon_log_level(struct daemon *d, const struct caller *c, json_t *body, struct reply *r)
{
	json_t *lv = json_object_get(body, "level");
	enum log_level level;
	struct werr err;

	if (!json_is_object(body) || json_object_size(body) != 1 || !json_is_string(lv) ||
	    log_level_from_string(json_string_value(lv), &level) < 0) {
		werr_set(&err, -EINVAL, "invalid", "level",
			 "the body must be {\"level\": L} with L one of error, warn, info, debug");
		reply_error(r, &err);
		return;
	}
	log_set_level(level);
	log_warn("log level set to %s by uid %d", log_level_to_string(level), (int)c->uid);
	events_emit_action(d, "", "log-level", log_level_to_string(level), (int)c->uid);
	reply_json(r, 200, json_pack("{s:s}", "level", log_level_to_string(level)));
}
