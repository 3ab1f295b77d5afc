/*
 * inventory: what the host has, from /proc, /sys and statvfs.
 *
 * Everything is read below a root directory so that tests can lay out a
 * fake / in a temporary directory. Topology counts only the online CPUs:
 * an offline CPU runs no vCPU.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>

#include "host/host.h"
#include "host/host-private.h"
#include "util/util.h"

/* Above any CPU number Linux supports (CONFIG_NR_CPUS tops out at 8192);
 * a larger one means the file is not what we think it is. */
#define CPU_NUMBER_MAX 65535

#define CPU_DIR "sys/devices/system/cpu"

static int parse_unsigned(const char **p, unsigned *ret)
{
	unsigned long v;
	char *end;

	if (!isdigit((unsigned char)**p))
		return -EBADMSG;
	errno = 0;
	v = strtoul(*p, &end, 10);
	if (errno || v > CPU_NUMBER_MAX)
		return -EBADMSG;
	*p = end;
	*ret = (unsigned)v;
	return 0;
}

/* "0-3,8,10-11" -> a malloc'd array of the CPU numbers, in file order. */
static int cpulist_parse(const char *s, unsigned **ret, size_t *ret_n)
{
	_cleanup_free_ unsigned *cpus = NULL;
	size_t n = 0, cap = 0;
	const char *p = s;

	while (*p) {
		unsigned lo, hi;
		int r = parse_unsigned(&p, &lo);
		if (r < 0)
			return r;
		hi = lo;
		if (*p == '-') {
			p++;
			r = parse_unsigned(&p, &hi);
			if (r < 0)
				return r;
			if (hi < lo)
				return -EBADMSG;
		}
		if (*p == ',')
			p++;
		else if (*p)
			return -EBADMSG;
		for (unsigned c = lo; c <= hi; c++) {
			if (n == cap) {
				size_t ncap = cap ? cap * 2 : 64;
				unsigned *t;
				if (ncap > CPU_NUMBER_MAX + 1)
					return -EBADMSG; /* repeated ranges */
				t = realloc(cpus, ncap * sizeof(*cpus));
				if (!t)
					return -ENOMEM;
				cpus = t;
				cap = ncap;
			}
			cpus[n++] = c;
		}
	}
	if (n == 0)
		return -EBADMSG;
	*ret = TAKE_PTR(cpus);
	*ret_n = n;
	return 0;
}

static int online_cpus(const char *root, unsigned **ret, size_t *ret_n)
{
	char path[4096], buf[4096];
	int r;

	r = host_path(path, sizeof(path), "%s/" CPU_DIR "/online", root);
	if (r < 0)
		return r;
	r = host_read_text(path, buf, sizeof(buf));
	if (r == -ENOENT) {
		/* No sysfs (some containers): count, and assume 0..n-1. */
		long n = sysconf(_SC_NPROCESSORS_ONLN);
		unsigned *cpus;
		if (n < 1 || n > CPU_NUMBER_MAX)
			return -EBADMSG;
		cpus = calloc((size_t)n, sizeof(*cpus));
		if (!cpus)
			return -ENOMEM;
		for (long i = 0; i < n; i++)
			cpus[i] = (unsigned)i;
		*ret = cpus;
		*ret_n = (size_t)n;
		return 0;
	}
	if (r < 0)
		return r;
	return cpulist_parse(buf, ret, ret_n);
}

struct core_id {
	long package, core;
};

static int core_id_cmp(const void *a, const void *b)
{
	const struct core_id *x = a, *y = b;

	if (x->package != y->package)
		return x->package < y->package ? -1 : 1;
	if (x->core != y->core)
		return x->core < y->core ? -1 : 1;
	return 0;
}

static int read_long(const char *path, long *ret)
{
	char buf[32], *end;
	long v;
	int r;

	r = host_read_text(path, buf, sizeof(buf));
	if (r < 0)
		return r;
	errno = 0;
	v = strtol(buf, &end, 10);
	if (errno || end == buf || *end)
		return -EBADMSG;
	*ret = v;
	return 0;
}

static int read_topology(const char *root, struct host_cpu_info *cpu)
{
	_cleanup_free_ unsigned *cpus = NULL;
	_cleanup_free_ struct core_id *ids = NULL;
	size_t n, cores = 0, sockets = 0;
	char path[4096];
	int r;

	r = online_cpus(root, &cpus, &n);
	if (r < 0)
		return r;
	cpu->online = (unsigned)n;
	ids = calloc(n, sizeof(*ids));
	if (!ids)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		r = host_path(path, sizeof(path),
			      "%s/" CPU_DIR "/cpu%u/topology/physical_package_id", root, cpus[i]);
		if (r >= 0)
			r = read_long(path, &ids[i].package);
		if (r >= 0)
			r = host_path(path, sizeof(path), "%s/" CPU_DIR "/cpu%u/topology/core_id",
				      root, cpus[i]);
		if (r >= 0)
			r = read_long(path, &ids[i].core);
		if (r == -ENOENT) {
			/* No topology (some virtual machines and containers). */
			cpu->sockets = 1;
			cpu->cores = cpu->online;
			cpu->threads_per_core = 1;
			return 0;
		}
		if (r < 0)
			return r;
	}
	qsort(ids, n, sizeof(*ids), core_id_cmp);
	for (size_t i = 0; i < n; i++) {
		if (i == 0 || ids[i].package != ids[i - 1].package)
			sockets++;
		if (i == 0 || core_id_cmp(&ids[i], &ids[i - 1]) != 0)
			cores++;
	}
	cpu->sockets = (unsigned)sockets;
	cpu->cores = (unsigned)cores;
	cpu->threads_per_core = (unsigned)(n / cores);
	return 0;
}

/* The first "model name" line; x86 and some others have one, arm64 not. */
static int model_line(char *line, void *userdata)
{
	struct host_cpu_info *cpu = userdata;
	char *v = strchr(line, ':');
	size_t n;

	if (strncmp(line, "model name", 10) != 0 || !v)
		return 0;
	for (v++; *v == ' ' || *v == '\t'; v++)
		;
	n = strlen(v);
	while (n > 0 && isspace((unsigned char)v[n - 1]))
		n--;
	if (n >= sizeof(cpu->model))
		n = sizeof(cpu->model) - 1;
	memcpy(cpu->model, v, n);
	cpu->model[n] = '\0';
	return 1;
}

static int read_model(const char *root, struct host_cpu_info *cpu)
{
	char path[4096];
	int r;

	cpu->model[0] = '\0';
	r = host_path(path, sizeof(path), "%s/proc/cpuinfo", root);
	if (r < 0)
		return r;
	r = host_each_line(path, model_line, cpu);
	return r == -ENOENT ? 0 : r;
}

struct meminfo {
	uint64_t total_kb, available_kb, free_kb;
	bool have_total, have_available;
};

static int meminfo_line(char *line, void *userdata)
{
	struct meminfo *m = userdata;
	unsigned long long kb;
	char key[64];

	if (sscanf(line, "%63[^:]: %llu", key, &kb) != 2)
		return 0;
	if (kb > UINT64_MAX / 1024)
		return -EBADMSG;
	if (strcmp(key, "MemTotal") == 0) {
		m->total_kb = kb;
		m->have_total = true;
	} else if (strcmp(key, "MemAvailable") == 0) {
		m->available_kb = kb;
		m->have_available = true;
	} else if (strcmp(key, "MemFree") == 0) {
		m->free_kb = kb;
	}
	return 0;
}

static int read_meminfo(const char *root, struct host_inventory *inv)
{
	struct meminfo m = {0};
	char path[4096];
	int r;

	r = host_path(path, sizeof(path), "%s/proc/meminfo", root);
	if (r >= 0)
		r = host_each_line(path, meminfo_line, &m);
	if (r < 0)
		return r;
	if (!m.have_total)
		return -EBADMSG;
	inv->mem_total = m.total_kb * 1024;
	/* Kernels before 3.14 have no MemAvailable; MemFree undercounts but
	 * errs on the safe side. */
	inv->mem_available = (m.have_available ? m.available_kb : m.free_kb) * 1024;
	return 0;
}

int host_inventory_read(const char *root, const char *state_dir, struct host_inventory *ret)
{
	struct host_inventory inv = {0};
	int r;

	if (!root || !*root)
		return -EINVAL;
	if (strcmp(root, "/") == 0)
		root = ""; /* paths are built as ROOT/proc/... */
	r = read_topology(root, &inv.cpu);
	if (r < 0)
		return r;
	r = read_model(root, &inv.cpu);
	if (r < 0)
		return r;
	r = read_meminfo(root, &inv);
	if (r < 0)
		return r;
	if (state_dir) {
		struct statvfs st;
		if (statvfs(state_dir, &st) < 0)
			return -errno;
		inv.disk_total = (uint64_t)st.f_blocks * st.f_frsize;
		inv.disk_free = (uint64_t)st.f_bavail * st.f_frsize;
	}
	*ret = inv;
	return 0;
}
