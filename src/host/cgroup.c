/*
 * cgroup: one group per VM, in every hierarchy the host has.
 *
 * The group's name (e.g. "warren/<vm id>") is the same under each mount:
 * v1 has a hierarchy per controller (cpu, cpuacct, cpuset, memory, blkio),
 * v2 one unified tree. Limits are written in the kernel's own files, so
 * the state lives in the kernel and survives a restart of the daemon,
 * which finds its groups again with cg_vm_create() and cg_vm_contains().
 *
 * Files are opened with O_CREAT so that tests can run the same code on a
 * plain directory tree; on a cgroup file system every interface file
 * exists already and O_CREAT changes nothing.
 */
#include <ctype.h>
#include <string.h>
#include <sys/stat.h>

#include "host/host.h"
#include "host/host-private.h"
#include "util/util.h"

#define PATH_BUF (CG_PATH_MAX + 256)

/* v1 reports "no limit" as the largest page-aligned long, not as -1. */
#define V1_UNLIMITED (UINT64_C(1) << 62)

#define SHARES_MIN    2
#define SHARES_MAX    262144
#define WEIGHT_MAX    10000
#define PERIOD_MIN_US 1000
#define PERIOD_MAX_US 1000000
#define QUOTA_MIN_US  1000

/* One mount a VM's group lives under. controller names its line in
 * /proc/<pid>/cgroup: a v1 controller, or NULL for the v2 "0::" line. */
struct hier {
	const char *mount;
	const char *controller;
};

#define HIER_MAX 5

/* The hierarchies used, each mount once (cpu and cpuacct are often one). */
static size_t hierarchies(const struct cg_root *root, struct hier out[HIER_MAX])
{
	const struct hier v1[] = {
		{root->cpu, "cpu"},	  {root->cpuacct, "cpuacct"}, {root->cpuset, "cpuset"},
		{root->memory, "memory"}, {root->blkio, "blkio"},
	};
	size_t n = 0;

	if (root->version == CG_V2) {
		out[n++] = (struct hier){root->unified, NULL};
		return n;
	}
	if (root->version != CG_V1)
		return 0;
	for (size_t i = 0; i < ARRAY_SIZE(v1); i++) {
		bool dup = false;
		if (!v1[i].mount[0])
			continue;
		for (size_t j = 0; j < n; j++)
			dup = dup || strcmp(out[j].mount, v1[i].mount) == 0;
		if (!dup)
			out[n++] = v1[i];
	}
	return n;
}

static int group_file(char *buf, const char *mount, const char *name, const char *file)
{
	/* An empty mount would make a path from /: never write there. */
	if (!mount[0])
		return -EOPNOTSUPP;
	return host_path(buf, PATH_BUF, "%s/%s/%s", mount, name, file);
}

static int write_file(const char *mount, const char *name, const char *file, const char *value)
{
	char path[PATH_BUF];
	int r = group_file(path, mount, name, file);

	return r < 0 ? r : host_write_text(path, value);
}

static int write_u64(const char *mount, const char *name, const char *file, uint64_t v)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%llu", (unsigned long long)v);
	return write_file(mount, name, file, buf);
}

/* A group name component: not empty, not "." or "..", no '/'. */
static bool component_ok(const char *s, size_t n)
{
	return n > 0 && !(n == 1 && s[0] == '.') && !(n == 2 && s[0] == '.' && s[1] == '.');
}

static bool name_ok(const char *parent, const char *vm_id)
{
	const char *p = parent;

	if (!parent || !vm_id || strchr(vm_id, '/') || !component_ok(vm_id, strlen(vm_id)))
		return false;
	for (;;) {
		size_t n = strcspn(p, "/");
		if (!component_ok(p, n))
			return false;
		if (!p[n])
			return true;
		p += n + 1;
	}
}

/* A file that may be absent: then it reads as "". Absent files are
 * normal in a fresh test tree, and cgroup files are never empty but for
 * "not set" (cpuset.cpus of a new v1 group). */
static int read_optional(const char *path, char *buf, size_t len)
{
	int r = host_read_text(path, buf, len);

	if (r == -ENOENT) {
		buf[0] = '\0';
		return 0;
	}
	return r < 0 ? r : 0;
}

/*
 * v1 cpuset: a new group's cpuset.cpus and cpuset.mems are empty, and no
 * task may join an empty cpuset. Copy the parent's into level (a prefix
 * of the name) if its own is empty. A parent without the file (a test tree
 * that does not model cpusets) leaves nothing to copy.
 */
static int cpuset_inherit(const char *mount, const char *level, size_t level_len, const char *file)
{
	char path[PATH_BUF], parent[PATH_BUF], buf[4096];
	const char *slash = memrchr(level, '/', level_len);
	int r;

	r = host_path(path, sizeof(path), "%s/%.*s/%s", mount, (int)level_len, level, file);
	if (r < 0)
		return r;
	r = read_optional(path, buf, sizeof(buf));
	if (r < 0 || buf[0])
		return r;
	if (slash)
		r = host_path(parent, sizeof(parent), "%s/%.*s/%s", mount, (int)(slash - level),
			      level, file);
	else
		r = host_path(parent, sizeof(parent), "%s/%s", mount, file);
	if (r < 0)
		return r;
	r = read_optional(parent, buf, sizeof(buf));
	if (r < 0 || !buf[0])
		return r;
	return host_write_text(path, buf);
}

/*
 * v2: a group's controllers are those its parent enables in
 * cgroup.subtree_control. Enable ours at the mount and at every level
 * above the leaf, each as far as that level's cgroup.controllers offers
 * it. A level without cgroup.controllers (only in a test tree) is taken
 * to offer what its parent enabled.
 */
static const char *const v2_wanted[] = {"cpu", "memory", "cpuset", "io"};

static int subtree_enable(const char *mount, const char *level, size_t level_len, char *offered,
			  size_t offered_len)
{
	char path[PATH_BUF], buf[512], enable[64] = "";
	int r;

	r = host_path(path, sizeof(path), "%s/%.*s%scgroup.controllers", mount, (int)level_len,
		      level, level_len ? "/" : "");
	if (r < 0)
		return r;
	r = host_read_text(path, buf, sizeof(buf));
	if (r >= 0)
		snprintf(offered, offered_len, "%s", buf);
	else if (r != -ENOENT || !offered[0])
		return r == -ENOENT ? -EOPNOTSUPP : r;
	if (!host_has_token(offered, " \n", "cpu") || !host_has_token(offered, " \n", "memory"))
		return -EOPNOTSUPP;

	for (size_t i = 0; i < ARRAY_SIZE(v2_wanted); i++) {
		if (!host_has_token(offered, " \n", v2_wanted[i]))
			continue;
		size_t n = strlen(enable);
		snprintf(enable + n, sizeof(enable) - n, "%s+%s", n ? " " : "", v2_wanted[i]);
	}
	/* What the next level down is offered. */
	snprintf(offered, offered_len, "%s", enable);
	for (char *p = offered; (p = strchr(p, '+'));)
		memmove(p, p + 1, strlen(p));

	r = host_path(path, sizeof(path), "%s/%.*s%scgroup.subtree_control", mount, (int)level_len,
		      level, level_len ? "/" : "");
	if (r < 0)
		return r;
	return host_write_text(path, enable);
}

static int create_in(const struct cg_root *root, const struct hier *h, const char *name)
{
	bool is_cpuset = root->version == CG_V1 && h->mount == root->cpuset;
	char path[PATH_BUF], offered[512] = "";
	size_t len = 0; /* of the level made so far: 0 is the mount itself */
	int r;

	for (;;) {
		if (root->version == CG_V2) {
			r = subtree_enable(h->mount, name, len, offered, sizeof(offered));
			if (r < 0)
				return r;
		}
		/* Step one component down: name[0..len) is the next level. */
		size_t next = len ? len + 1 : 0;
		len = next + strcspn(name + next, "/");
		r = host_path(path, sizeof(path), "%s/%.*s", h->mount, (int)len, name);
		if (r < 0)
			return r;
		if (mkdir(path, 0755) < 0 && errno != EEXIST)
			return -errno;
		if (is_cpuset) {
			r = cpuset_inherit(h->mount, name, len, "cpuset.cpus");
			if (r >= 0)
				r = cpuset_inherit(h->mount, name, len, "cpuset.mems");
			if (r < 0)
				return r;
		}
		if (!name[len])
			return 0;
	}
}

int cg_vm_create(const struct cg_root *root, const char *parent, const char *vm_id,
		 struct cg_vm *ret)
{
	struct cg_vm g = {.root = root};
	struct hier h[HIER_MAX];
	size_t n = hierarchies(root, h);
	int r;

	if (n == 0)
		return -EOPNOTSUPP;
	if (!name_ok(parent, vm_id))
		return -EINVAL;
	r = host_path(g.name, sizeof(g.name), "%s/%s", parent, vm_id);
	if (r < 0)
		return r;
	for (size_t i = 0; i < n; i++) {
		r = create_in(root, &h[i], g.name);
		if (r < 0)
			return r;
	}
	*ret = g;
	return 0;
}

static bool cpus_ok(const char *s)
{
	for (; *s; s++)
		if (!isdigit((unsigned char)*s) && *s != ',' && *s != '-')
			return false;
	return true;
}

/* The v1 parts each go to their own hierarchy; apply_v1() has checked
 * that those asked for a limit exist. */
static int apply_v1_cpu(const struct cg_vm *g, const struct cg_limits *lim, uint64_t period)
{
	const char *mount = g->root->cpu;
	int r;

	if (!mount[0])
		return 0;
	if (lim->cpu_weight) {
		uint64_t shares = (uint64_t)lim->cpu_weight * 1024 / 100;
		if (shares < SHARES_MIN)
			shares = SHARES_MIN;
		if (shares > SHARES_MAX)
			shares = SHARES_MAX;
		r = write_u64(mount, g->name, "cpu.shares", shares);
		if (r < 0)
			return r;
	}
	r = write_u64(mount, g->name, "cpu.cfs_period_us", period);
	if (r < 0)
		return r;
	if (lim->cpu_quota_us)
		return write_u64(mount, g->name, "cpu.cfs_quota_us", lim->cpu_quota_us);
	return write_file(mount, g->name, "cpu.cfs_quota_us", "-1");
}

/* A v1 memory limit: bytes, or -1 for none. */
static int write_v1_limit(const char *mount, const char *name, const char *file, uint64_t v)
{
	return v ? write_u64(mount, name, file, v) : write_file(mount, name, file, "-1");
}

static int apply_v1(const struct cg_vm *g, const struct cg_limits *lim, uint64_t period)
{
	const struct cg_root *root = g->root;
	int r;

	/*
	 * cg_detect() finds cpu and memory on every v1 host it accepts, but a
	 * root built by hand may lack one, and cpuset is optional. A part that
	 * asks nothing of a missing hierarchy is skipped; one that asks for a
	 * limit fails before anything is written.
	 */
	if ((!root->cpu[0] && (lim->cpu_weight || lim->cpu_quota_us)) ||
	    (!root->memory[0] && (lim->mem_high || lim->mem_max)) ||
	    (!root->cpuset[0] && lim->cpus[0]))
		return -EOPNOTSUPP;
	r = apply_v1_cpu(g, lim, period);
	if (r < 0)
		return r;
	if (root->memory[0]) {
		r = write_v1_limit(root->memory, g->name, "memory.soft_limit_in_bytes",
				   lim->mem_high);
		if (r >= 0)
			r = write_v1_limit(root->memory, g->name, "memory.limit_in_bytes",
					   lim->mem_max);
		if (r < 0)
			return r;
	}
	if (!lim->cpus[0])
		return 0;
	r = cpuset_inherit(root->cpuset, g->name, strlen(g->name), "cpuset.mems");
	if (r < 0)
		return r;
	return write_file(root->cpuset, g->name, "cpuset.cpus", lim->cpus);
}

static int apply_v2(const struct cg_vm *g, const struct cg_limits *lim, uint64_t period)
{
	const char *mount = g->root->unified;
	char buf[64];
	int r = 0;

	if (lim->cpu_weight)
		r = write_u64(mount, g->name, "cpu.weight", lim->cpu_weight);
	if (r < 0)
		return r;
	if (lim->cpu_quota_us)
		snprintf(buf, sizeof(buf), "%llu %llu", (unsigned long long)lim->cpu_quota_us,
			 (unsigned long long)period);
	else
		snprintf(buf, sizeof(buf), "max %llu", (unsigned long long)period);
	r = write_file(mount, g->name, "cpu.max", buf);
	if (r >= 0)
		r = lim->mem_high ? write_u64(mount, g->name, "memory.high", lim->mem_high)
				  : write_file(mount, g->name, "memory.high", "max");
	if (r >= 0)
		r = lim->mem_max ? write_u64(mount, g->name, "memory.max", lim->mem_max)
				 : write_file(mount, g->name, "memory.max", "max");
	if (r >= 0 && lim->cpus[0])
		r = write_file(mount, g->name, "cpuset.cpus", lim->cpus);
	return r;
}

int cg_vm_apply(const struct cg_vm *g, const struct cg_limits *lim)
{
	uint64_t period = lim->cpu_period_us ? lim->cpu_period_us : CG_DEFAULT_PERIOD_US;

	if (lim->cpu_weight > WEIGHT_MAX || period < PERIOD_MIN_US || period > PERIOD_MAX_US ||
	    (lim->cpu_quota_us && lim->cpu_quota_us < QUOTA_MIN_US) ||
	    !memchr(lim->cpus, '\0', sizeof(lim->cpus)) || !cpus_ok(lim->cpus))
		return -EINVAL;
	switch (g->root->version) {
	case CG_V1:
		return apply_v1(g, lim, period);
	case CG_V2:
		return apply_v2(g, lim, period);
	default:
		return -EOPNOTSUPP;
	}
}

int cg_vm_attach(const struct cg_vm *g, pid_t pid)
{
	struct hier h[HIER_MAX];
	size_t n = hierarchies(g->root, h);
	char buf[32];

	if (n == 0)
		return -EOPNOTSUPP;
	if (pid <= 0)
		return -EINVAL;
	snprintf(buf, sizeof(buf), "%d", (int)pid);
	for (size_t i = 0; i < n; i++) {
		int r = write_file(h[i].mount, g->name, "cgroup.procs", buf);
		if (r < 0)
			return r;
	}
	return 0;
}

/* "/warren/x" matches name "warren/x"; so does "/lxc/c1/warren/x". */
static bool path_matches(const char *path, const char *name)
{
	size_t plen = strlen(path), nlen = strlen(name);

	return plen > nlen && path[plen - nlen - 1] == '/' && strcmp(path + plen - nlen, name) == 0;
}

struct membership {
	const struct cg_vm *g;
	struct hier h[HIER_MAX];
	size_t n, found;
	bool in[HIER_MAX];
};

/* Lines are "ID:CONTROLLERS:PATH"; v2's is "0::PATH". */
static int membership_line(char *line, void *userdata)
{
	struct membership *m = userdata;
	char *controllers = strchr(line, ':'), *cgpath;

	if (!controllers)
		return 0;
	controllers++;
	cgpath = strchr(controllers, ':');
	if (!cgpath)
		return 0;
	*cgpath++ = '\0'; /* line is now "ID:CONTROLLERS" */
	for (size_t i = 0; i < m->n; i++) {
		bool mine = m->h[i].controller
				    ? host_has_token(controllers, ",", m->h[i].controller)
				    : strcmp(line, "0:") == 0;
		if (mine && !m->in[i] && path_matches(cgpath, m->g->name)) {
			m->in[i] = true;
			m->found++;
		}
	}
	return 0;
}

int cg_vm_contains_at(const struct cg_vm *g, const char *proc, pid_t pid)
{
	struct membership m = {.g = g};
	char path[PATH_BUF];
	int r;

	m.n = hierarchies(g->root, m.h);
	if (m.n == 0)
		return -EOPNOTSUPP;
	r = host_path(path, sizeof(path), "%s/%d/cgroup", proc, (int)pid);
	if (r < 0)
		return r;
	r = host_each_line(path, membership_line, &m);
	if (r < 0)
		return r == -ENOENT ? -ESRCH : r;
	return m.found == m.n;
}

int cg_vm_contains(const struct cg_vm *g, pid_t pid)
{
	return cg_vm_contains_at(g, "/proc", pid);
}

int cg_vm_remove(const struct cg_vm *g)
{
	struct hier h[HIER_MAX];
	size_t n = hierarchies(g->root, h);
	int ret = 0;

	if (n == 0)
		return -EOPNOTSUPP;
	for (size_t i = 0; i < n; i++) {
		char path[PATH_BUF];
		int r = host_path(path, sizeof(path), "%s/%s", h[i].mount, g->name);
		if (r >= 0 && rmdir(path) < 0 && errno != ENOENT)
			r = -errno;
		if (r < 0 && ret == 0)
			ret = r;
	}
	return ret;
}

/* ---- reading back ---------------------------------------------------------- */

/*
 * A limit file: a number, or "-1" / "max" / v1's huge "unlimited" for
 * none (0). An absent or empty file is unset (0 too). tail, if given, receives
 * the rest of the line after the first word (cpu.max's period).
 */
static int read_limit(const char *mount, const char *name, const char *file, uint64_t *ret,
		      uint64_t *tail)
{
	char path[PATH_BUF], buf[128], *end;
	unsigned long long v;
	int r;

	*ret = 0;
	if (tail)
		*tail = 0;
	if (!mount[0])
		return 0; /* no such hierarchy: nothing set */
	r = group_file(path, mount, name, file);
	if (r < 0)
		return r;
	r = read_optional(path, buf, sizeof(buf));
	if (r < 0 || !buf[0])
		return r;
	if (strncmp(buf, "max", 3) == 0) {
		end = buf + 3;
	} else if (strncmp(buf, "-1", 2) == 0) {
		end = buf + 2;
	} else {
		if (!isdigit((unsigned char)buf[0]))
			return -EBADMSG;
		errno = 0;
		v = strtoull(buf, &end, 10);
		if (errno)
			return -EBADMSG;
		*ret = v >= V1_UNLIMITED ? 0 : (uint64_t)v;
	}
	if (!tail)
		return *end ? -EBADMSG : 0;
	if (*end != ' ' || !isdigit((unsigned char)end[1]))
		return -EBADMSG;
	errno = 0;
	v = strtoull(end + 1, &end, 10);
	if (errno || *end)
		return -EBADMSG;
	*tail = v;
	return 0;
}

static int read_cpus(const char *mount, const char *name, char *cpus, size_t len)
{
	char path[PATH_BUF];
	int r = group_file(path, mount, name, "cpuset.cpus");

	return r < 0 ? r : read_optional(path, cpus, len);
}

static int read_v1(const struct cg_vm *g, struct cg_limits *lim)
{
	const struct cg_root *root = g->root;
	uint64_t shares;
	int r;

	r = read_limit(root->cpu, g->name, "cpu.shares", &shares, NULL);
	if (r < 0)
		return r;
	/* Rounds back to the weight that was written: shares lose under one
	 * weight unit to the integer division in apply_v1(). */
	lim->cpu_weight = shares ? (unsigned)((shares * 100 + 512) / 1024) : 0;
	r = read_limit(root->cpu, g->name, "cpu.cfs_quota_us", &lim->cpu_quota_us, NULL);
	if (r >= 0 && lim->cpu_quota_us)
		r = read_limit(root->cpu, g->name, "cpu.cfs_period_us", &lim->cpu_period_us, NULL);
	if (r >= 0)
		r = read_limit(root->memory, g->name, "memory.soft_limit_in_bytes", &lim->mem_high,
			       NULL);
	if (r >= 0)
		r = read_limit(root->memory, g->name, "memory.limit_in_bytes", &lim->mem_max, NULL);
	if (r >= 0 && root->cpuset[0])
		r = read_cpus(root->cpuset, g->name, lim->cpus, sizeof(lim->cpus));
	return r;
}

static int read_v2(const struct cg_vm *g, struct cg_limits *lim)
{
	const char *mount = g->root->unified;
	uint64_t weight, period;
	int r;

	r = read_limit(mount, g->name, "cpu.weight", &weight, NULL);
	if (r < 0)
		return r;
	lim->cpu_weight = (unsigned)weight;
	r = read_limit(mount, g->name, "cpu.max", &lim->cpu_quota_us, &period);
	if (r < 0)
		return r;
	if (lim->cpu_quota_us)
		lim->cpu_period_us = period;
	r = read_limit(mount, g->name, "memory.high", &lim->mem_high, NULL);
	if (r >= 0)
		r = read_limit(mount, g->name, "memory.max", &lim->mem_max, NULL);
	if (r >= 0)
		r = read_cpus(mount, g->name, lim->cpus, sizeof(lim->cpus));
	return r;
}

int cg_vm_read(const struct cg_vm *g, struct cg_limits *ret)
{
	struct cg_limits lim = {0};
	int r;

	switch (g->root->version) {
	case CG_V1:
		r = read_v1(g, &lim);
		break;
	case CG_V2:
		r = read_v2(g, &lim);
		break;
	default:
		return -EOPNOTSUPP;
	}
	if (r < 0)
		return r;
	*ret = lim;
	return 0;
}
