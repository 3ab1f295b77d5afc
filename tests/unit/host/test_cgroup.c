/*
 * Unit tests for host/cgdetect.c and host/cgroup.c on temporary trees laid
 * out like cgroup mounts. A real cgroupfs makes a group's interface files
 * itself; here nothing is made inside a leaf, so every file read back is
 * one the code wrote.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <sys/stat.h>
#include <cmocka.h>

#include "host/host.h"
#include "support.h"
#include "util/util.h"

#define GiB (UINT64_C(1) << 30)
#define MiB (UINT64_C(1) << 20)

static const char *const v1_dirs[] = {"cpu", "cpuacct", "cpuset", "memory", "blkio"};

static int setup(void **state)
{
	*state = support_tmpdir();
	return 0;
}

static int teardown(void **state)
{
	support_rmtree(*state);
	return 0;
}

/* Write a mountinfo file whose "@" stand for the temp dir. */
static char *write_mountinfo(const char *dir, const char *text)
{
	_cleanup_free_ char *expanded = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&expanded, &len);

	assert_non_null(f);
	for (const char *p = text; *p; p++) {
		if (*p == '@')
			fputs(dir, f);
		else
			fputc(*p, f);
	}
	fclose(f);
	support_write(dir, "mountinfo", expanded);
	return support_path(dir, "mountinfo");
}

/* This build machine as it is: one v1 hierarchy per controller, and a
 * cgroup2 mount beside them that carries no controllers. */
#define HYBRID_MOUNTINFO                                                                           \
	"22 1 0:21 / /sys rw,nosuid,nodev,noexec,relatime - sysfs sysfs rw\n"                      \
	"30 22 0:27 / @/sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"                     \
	"31 30 0:28 / @/sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n"                    \
	"32 30 0:29 / @/sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct\n"            \
	"33 30 0:30 / @/sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset\n"              \
	"34 30 0:31 / @/sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n"              \
	"35 30 0:32 / @/sys/fs/cgroup/devices rw,relatime - cgroup cgroup rw,devices\n"            \
	"36 30 0:33 / @/sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer\n"            \
	"37 30 0:34 / @/sys/fs/cgroup/blkio rw,relatime - cgroup cgroup rw,blkio\n"                \
	"38 30 0:35 / @/sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids\n"                  \
	"39 30 0:36 / @/sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd\n"       \
	"40 30 0:37 / @/sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n"

static void assert_under(const char *dir, const char *mount, const char *rel)
{
	char want[512];

	snprintf(want, sizeof(want), "%s/%s", dir, rel);
	assert_string_equal(mount, want);
}

static void test_detect_hybrid_is_v1(void **state)
{
	const char *dir = *state;
	struct cg_root root;

	/* Empty, and as this machine has it: controllers, but not cpu and memory. */
	static const char *const unified[] = {"", "hugetlb\n"};
	for (size_t i = 0; i < ARRAY_SIZE(unified); i++) {
		_cleanup_free_ char *mi = write_mountinfo(dir, HYBRID_MOUNTINFO);
		support_write(dir, "sys/fs/cgroup/unified/cgroup.controllers", unified[i]);
		assert_int_equal(cg_detect(mi, &root), 0);
		assert_int_equal(root.version, CG_V1);
		assert_under(dir, root.cpu, "sys/fs/cgroup/cpu");
		assert_under(dir, root.cpuacct, "sys/fs/cgroup/cpuacct");
		assert_under(dir, root.cpuset, "sys/fs/cgroup/cpuset");
		assert_under(dir, root.memory, "sys/fs/cgroup/memory");
		assert_under(dir, root.blkio, "sys/fs/cgroup/blkio");
		assert_string_equal(root.unified, "");
	}
}

static void test_detect_v1_comounted_and_escaped(void **state)
{
	const char *dir = *state;
	_cleanup_free_ char *mi = write_mountinfo(
		dir, "25 1 0:22 / @/cg/cpu,cpuacct rw shared:9 - cgroup cgroup rw,cpu,cpuacct\n"
		     "26 1 0:23 / @/cg/my\\040memory rw - cgroup cgroup rw,memory\n");
	struct cg_root root;

	assert_int_equal(cg_detect(mi, &root), 0);
	assert_int_equal(root.version, CG_V1);
	assert_under(dir, root.cpu, "cg/cpu,cpuacct");
	assert_string_equal(root.cpuacct, root.cpu);
	assert_under(dir, root.memory, "cg/my memory");
	assert_string_equal(root.cpuset, "");
	assert_string_equal(root.blkio, "");
}

static void test_detect_pure_v2(void **state)
{
	const char *dir = *state;
	_cleanup_free_ char *mi = write_mountinfo(
		dir, "22 1 0:21 / /sys rw,nosuid - sysfs sysfs rw\n"
		     "27 22 0:26 / @/sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - "
		     "cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot\n");
	struct cg_root root;

	support_write(dir, "sys/fs/cgroup/cgroup.controllers",
		      "cpuset cpu io memory hugetlb pids rdma misc\n");
	assert_int_equal(cg_detect(mi, &root), 0);
	assert_int_equal(root.version, CG_V2);
	assert_under(dir, root.unified, "sys/fs/cgroup");
	assert_string_equal(root.cpu, "");
	assert_string_equal(root.memory, "");
}

static void test_detect_nothing(void **state)
{
	const char *dir = *state;
	struct cg_root root = {.version = CG_V2};

	_cleanup_free_ char *none =
		write_mountinfo(dir, "22 1 0:21 / /sys rw,nosuid - sysfs sysfs rw\n"
				     "23 1 0:5 / /proc rw - proc proc rw\n"
				     "garbage without the separator\n");
	assert_int_equal(cg_detect(none, &root), 0);
	assert_int_equal(root.version, CG_NONE);
	assert_string_equal(root.cpu, "");

	/* cpu without memory is not enough. */
	_cleanup_free_ char *cpu_only =
		write_mountinfo(dir, "31 30 0:28 / @/cpu rw - cgroup cgroup rw,cpu\n");
	assert_int_equal(cg_detect(cpu_only, &root), 0);
	assert_int_equal(root.version, CG_NONE);

	_cleanup_free_ char *absent = support_path(dir, "no-mountinfo");
	assert_int_equal(cg_detect(absent, &root), -ENOENT);
}

static void test_detect_this_host(void **state)
{
	struct cg_root root;

	/* Whatever the machine has must at least parse. */
	assert_int_equal(cg_detect("/proc/self/mountinfo", &root), 0);
	if (root.version == CG_V1)
		assert_true(root.cpu[0] && root.memory[0]);
	if (root.version == CG_V2)
		assert_true(root.unified[0] != '\0');
}

/* ---- v1 ---------------------------------------------------------------- */

static struct cg_root v1_tree(const char *dir)
{
	struct cg_root root = {.version = CG_V1};
	char *fields[] = {root.cpu, root.cpuacct, root.cpuset, root.memory, root.blkio};

	for (size_t i = 0; i < ARRAY_SIZE(v1_dirs); i++) {
		snprintf(fields[i], CG_PATH_MAX, "%s/%s", dir, v1_dirs[i]);
		assert_int_equal(mkdir(fields[i], 0755), 0);
	}
	support_write(dir, "cpuset/cpuset.cpus", "0-7\n");
	support_write(dir, "cpuset/cpuset.mems", "0\n");
	return root;
}

static void assert_file(const char *dir, const char *rel, const char *want)
{
	_cleanup_free_ char *got = support_read(dir, rel);

	assert_non_null(got);
	assert_string_equal(got, want);
}

/* Files of one group: NULL-terminated pairs of name below dir/group, content. */
static void assert_files(const char *dir, const char *group, const char *const *pairs)
{
	char rel[256];

	for (; pairs[0]; pairs += 2) {
		snprintf(rel, sizeof(rel), "%s/%s", group, pairs[0]);
		assert_file(dir, rel, pairs[1]);
	}
}

/* Compared as text: the struct has padding that a copy need not keep, and
 * a failure shows every field at once. */
static void limits_text(const struct cg_limits *l, char *buf, size_t len)
{
	snprintf(buf, len, "weight=%u quota=%llu period=%llu high=%llu max=%llu cpus=%s",
		 l->cpu_weight, (unsigned long long)l->cpu_quota_us,
		 (unsigned long long)l->cpu_period_us, (unsigned long long)l->mem_high,
		 (unsigned long long)l->mem_max, l->cpus);
}

static void assert_limits_equal(const struct cg_limits *a, const struct cg_limits *b)
{
	char ta[256], tb[256];

	limits_text(a, ta, sizeof(ta));
	limits_text(b, tb, sizeof(tb));
	assert_string_equal(ta, tb);
}

/* The group warren/vm1 under root, with lim applied when given. */
static struct cg_vm group_vm1(const struct cg_root *root, const struct cg_limits *lim)
{
	struct cg_vm g;

	assert_int_equal(cg_vm_create(root, "warren", "vm1", &g), 0);
	if (lim)
		assert_int_equal(cg_vm_apply(&g, lim), 0);
	return g;
}

static void test_v1_create(void **state)
{
	const char *dir = *state;
	struct cg_root root = v1_tree(dir);
	struct cg_vm g;
	char rel[128];

	assert_int_equal(cg_vm_create(&root, "warren", "abc123", &g), 0);
	assert_ptr_equal(g.root, &root);
	assert_string_equal(g.name, "warren/abc123");
	for (size_t i = 0; i < ARRAY_SIZE(v1_dirs); i++) {
		snprintf(rel, sizeof(rel), "%s/warren/abc123", v1_dirs[i]);
		assert_true(support_exists(dir, rel));
	}
	/* Tasks cannot join an empty cpuset: each level has its parent's. */
	assert_file(dir, "cpuset/warren/cpuset.cpus", "0-7");
	assert_file(dir, "cpuset/warren/abc123/cpuset.cpus", "0-7");
	assert_file(dir, "cpuset/warren/abc123/cpuset.mems", "0");
	/* Other hierarchies get no cpuset files. */
	assert_false(support_exists(dir, "cpu/warren/abc123/cpuset.cpus"));

	/* Again, as after a restart: fine, and a pinned cpuset is kept. */
	support_write(dir, "cpuset/warren/abc123/cpuset.cpus", "3");
	assert_int_equal(cg_vm_create(&root, "warren", "abc123", &g), 0);
	assert_file(dir, "cpuset/warren/abc123/cpuset.cpus", "3");
}

static void test_create_rejects_bad_names(void **state)
{
	const char *dir = *state;
	struct cg_root root = v1_tree(dir), none = {.version = CG_NONE};
	struct cg_vm g = {.name = "untouched"};

	static const char *const bad[][2] = {
		{"warren", ""},	 {"warren", ".."},   {"warren", "a/b"},
		{"", "abc"},	 {"/warren", "abc"}, {"warren/", "abc"},
		{"a//b", "abc"}, {"../x", "abc"},    {"a/./b", "abc"},
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
		assert_int_equal(cg_vm_create(&root, bad[i][0], bad[i][1], &g), -EINVAL);
	assert_string_equal(g.name, "untouched");
	assert_false(support_exists(dir, "cpu/warren"));

	char long_id[200];
	memset(long_id, 'a', sizeof(long_id) - 1);
	long_id[sizeof(long_id) - 1] = '\0';
	assert_int_equal(cg_vm_create(&root, "warren", long_id, &g), -ENAMETOOLONG);

	/* A nested parent is fine. */
	assert_int_equal(cg_vm_create(&root, "machine/warren", "vm1", &g), 0);
	assert_true(support_exists(dir, "memory/machine/warren/vm1"));
	assert_file(dir, "cpuset/machine/warren/vm1/cpuset.mems", "0");

	assert_int_equal(cg_vm_create(&none, "warren", "abc", &g), -EOPNOTSUPP);
}

static void test_v1_apply_and_read(void **state)
{
	const char *dir = *state;
	struct cg_root root = v1_tree(dir);
	struct cg_limits lim = {
		.cpu_weight = 400,
		.cpu_quota_us = 50000, /* half a CPU */
		.mem_high = 1 * GiB,
		.mem_max = 0,
		.cpus = "1",
	};
	struct cg_vm g = group_vm1(&root, &lim);
	struct cg_limits back;

	assert_files(dir, "cpu/warren/vm1",
		     (const char *const[]){"cpu.shares", "4096", "cpu.cfs_period_us", "100000",
					   "cpu.cfs_quota_us", "50000", NULL});
	assert_files(dir, "memory/warren/vm1",
		     (const char *const[]){"memory.soft_limit_in_bytes", "1073741824",
					   "memory.limit_in_bytes", "-1", NULL});
	assert_files(dir, "cpuset/warren/vm1",
		     (const char *const[]){"cpuset.cpus", "1", "cpuset.mems", "0", NULL});

	assert_int_equal(cg_vm_read(&g, &back), 0);
	lim.cpu_period_us = 100000; /* the default, reported with the quota */
	assert_limits_equal(&back, &lim);

	/* Limits off again; weight and cpus left as they are. */
	struct cg_limits off = {.mem_max = 2 * GiB};
	assert_int_equal(cg_vm_apply(&g, &off), 0);
	assert_files(dir, "cpu/warren/vm1",
		     (const char *const[]){"cpu.shares", "4096", "cpu.cfs_quota_us", "-1", NULL});
	assert_files(dir, "memory/warren/vm1",
		     (const char *const[]){"memory.soft_limit_in_bytes", "-1",
					   "memory.limit_in_bytes", "2147483648", NULL});
	assert_int_equal(cg_vm_read(&g, &back), 0);
	assert_int_equal(back.cpu_weight, 400);
	assert_int_equal(back.cpu_quota_us, 0);
	assert_int_equal(back.cpu_period_us, 0);
	assert_int_equal(back.mem_high, 0);
	assert_int_equal(back.mem_max, 2 * GiB);
	assert_string_equal(back.cpus, "1");

	/* What a v1 kernel shows for "no limit" reads as none. */
	support_write(dir, "memory/warren/vm1/memory.limit_in_bytes", "9223372036854771712\n");
	assert_int_equal(cg_vm_read(&g, &back), 0);
	assert_int_equal(back.mem_max, 0);
}

static void test_v1_shares_translation(void **state)
{
	const char *dir = *state;
	struct cg_root root = v1_tree(dir);
	static const struct {
		unsigned weight;
		const char *shares;
	} cases[] = {{1, "10"}, {3, "30"}, {100, "1024"}, {250, "2560"}, {10000, "102400"}};
	struct cg_vm g = group_vm1(&root, NULL);

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct cg_limits lim = {.cpu_weight = cases[i].weight}, back;
		assert_int_equal(cg_vm_apply(&g, &lim), 0);
		assert_file(dir, "cpu/warren/vm1/cpu.shares", cases[i].shares);
		assert_int_equal(cg_vm_read(&g, &back), 0);
		assert_int_equal(back.cpu_weight, cases[i].weight);
	}
	/* Every weight survives the round trip through shares. */
	for (unsigned w = 1; w <= 10000; w += 37) {
		struct cg_limits lim = {.cpu_weight = w}, back;
		assert_int_equal(cg_vm_apply(&g, &lim), 0);
		assert_int_equal(cg_vm_read(&g, &back), 0);
		assert_int_equal(back.cpu_weight, w);
	}
}

static void test_apply_rejects_bad_limits(void **state)
{
	const char *dir = *state;
	struct cg_root root = v1_tree(dir);
	struct cg_vm g = group_vm1(&root, NULL);

	struct cg_limits bad[] = {
		{.cpu_weight = 10001},
		{.cpu_quota_us = 999},
		{.cpu_quota_us = 50000, .cpu_period_us = 999},
		{.cpu_period_us = 1000001},
		{.cpus = "0-1\n"},
		{.cpus = "0 1"},
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
		assert_int_equal(cg_vm_apply(&g, &bad[i]), -EINVAL);
	assert_false(support_exists(dir, "cpu/warren/vm1/cpu.cfs_period_us"));

	/* A v1 host without a cpuset hierarchy cannot pin CPUs, nor one
	 * without memory limit memory; what asks nothing of them still works. */
	root.cpuset[0] = '\0';
	struct cg_limits pin = {.cpus = "0"};
	assert_int_equal(cg_vm_apply(&g, &pin), -EOPNOTSUPP);
	assert_false(support_exists(dir, "cpu/warren/vm1/cpu.cfs_period_us"));
	root.memory[0] = '\0';
	struct cg_limits mem = {.mem_max = GiB}, weight = {.cpu_weight = 50};
	assert_int_equal(cg_vm_apply(&g, &mem), -EOPNOTSUPP);
	assert_int_equal(cg_vm_apply(&g, &weight), 0);
	assert_file(dir, "cpu/warren/vm1/cpu.shares", "512");
	assert_false(support_exists(dir, "memory/warren/vm1/memory.limit_in_bytes"));
	struct cg_limits back;
	assert_int_equal(cg_vm_read(&g, &back), 0);
	assert_limits_equal(&back, &weight);
}

/* ---- v2 ---------------------------------------------------------------- */

static struct cg_root v2_tree(const char *dir, const char *controllers)
{
	struct cg_root root = {.version = CG_V2};

	snprintf(root.unified, sizeof(root.unified), "%s/unified", dir);
	support_write(dir, "unified/cgroup.controllers", controllers);
	support_write(dir, "unified/cgroup.subtree_control", "");
	return root;
}

static void test_v2_create_enables_controllers(void **state)
{
	const char *dir = *state;
	struct cg_root root = v2_tree(dir, "cpuset cpu io memory pids\n");

	group_vm1(&root, NULL);
	assert_true(support_exists(dir, "unified/warren/vm1"));
	assert_file(dir, "unified/cgroup.subtree_control", "+cpu +memory +cpuset +io");
	assert_file(dir, "unified/warren/cgroup.subtree_control", "+cpu +memory +cpuset +io");
	/* The leaf has no children to hand controllers to. */
	assert_false(support_exists(dir, "unified/warren/vm1/cgroup.subtree_control"));
}

static void test_v2_enables_only_what_is_offered(void **state)
{
	const char *dir = *state;
	struct cg_root root = v2_tree(dir, "cpu memory pids");
	struct cg_vm g;

	assert_int_equal(cg_vm_create(&root, "a/b", "vm1", &g), 0);
	assert_file(dir, "unified/cgroup.subtree_control", "+cpu +memory");
	/* A level's own cgroup.controllers, where there is one, is what counts. */
	support_write(dir, "unified/a/cgroup.controllers", "cpu io memory");
	assert_int_equal(cg_vm_create(&root, "a/b", "vm1", &g), 0);
	assert_file(dir, "unified/a/cgroup.subtree_control", "+cpu +memory +io");
	assert_file(dir, "unified/a/b/cgroup.subtree_control", "+cpu +memory +io");

	/* Without memory on offer there is nothing to limit a VM with. */
	support_write(dir, "unified/a/cgroup.controllers", "cpu io");
	assert_int_equal(cg_vm_create(&root, "a/b", "vm2", &g), -EOPNOTSUPP);
}

static void test_v2_apply_and_read(void **state)
{
	const char *dir = *state;
	struct cg_root root = v2_tree(dir, "cpuset cpu io memory pids");
	struct cg_limits lim = {
		.cpu_weight = 400,
		.cpu_quota_us = 50000,
		.cpu_period_us = 100000,
		.mem_high = 512 * MiB,
		.mem_max = 1 * GiB,
		.cpus = "0-1",
	};
	struct cg_vm g = group_vm1(&root, &lim);
	struct cg_limits back;

	assert_files(dir, "unified/warren/vm1",
		     (const char *const[]){"cpu.weight", "400", "cpu.max", "50000 100000",
					   "memory.high", "536870912", "memory.max", "1073741824",
					   "cpuset.cpus", "0-1", NULL});
	assert_int_equal(cg_vm_read(&g, &back), 0);
	assert_limits_equal(&back, &lim);

	struct cg_limits off = {0};
	assert_int_equal(cg_vm_apply(&g, &off), 0);
	assert_files(dir, "unified/warren/vm1",
		     (const char *const[]){"cpu.weight", "400", "cpu.max", "max 100000",
					   "memory.high", "max", "memory.max", "max", NULL});
	assert_int_equal(cg_vm_read(&g, &back), 0);
	struct cg_limits want = {.cpu_weight = 400, .cpus = "0-1"};
	assert_limits_equal(&back, &want);

	/* A cpu.max with no period is not what a kernel writes. */
	support_write(dir, "unified/warren/vm1/cpu.max", "50000\n");
	assert_int_equal(cg_vm_read(&g, &back), -EBADMSG);
}

static void test_read_fresh_group(void **state)
{
	const char *dir = *state;
	struct cg_root root = v2_tree(dir, "cpu memory");
	struct cg_limits back = {.cpu_weight = 7};
	struct cg_vm g = group_vm1(&root, NULL);

	/* No files yet: everything unset. */
	assert_int_equal(cg_vm_read(&g, &back), 0);
	struct cg_limits zero = {0};
	assert_limits_equal(&back, &zero);
}

/* ---- attach, contains, remove, usage ------------------------------------- */

static void test_attach_writes_every_hierarchy(void **state)
{
	const char *dir = *state;
	struct cg_root root = v1_tree(dir);
	struct cg_vm g = group_vm1(&root, NULL);
	char rel[128];

	assert_int_equal(cg_vm_attach(&g, 4242), 0);
	for (size_t i = 0; i < ARRAY_SIZE(v1_dirs); i++) {
		snprintf(rel, sizeof(rel), "%s/warren/vm1/cgroup.procs", v1_dirs[i]);
		assert_file(dir, rel, "4242");
	}
	assert_int_equal(cg_vm_attach(&g, 0), -EINVAL);

	/* cpu and cpuacct mounted together: that one mount is written. */
	struct cg_root co = root;
	struct cg_vm gco = {.root = &co};
	strcpy(co.cpuacct, co.cpu);
	strcpy(gco.name, g.name);
	assert_int_equal(cg_vm_attach(&gco, 77), 0);
	assert_file(dir, "cpu/warren/vm1/cgroup.procs", "77");
	assert_file(dir, "cpuacct/warren/vm1/cgroup.procs", "4242");
}

static void test_contains(void **state)
{
	const char *dir = *state;
	struct cg_root v1 = v1_tree(dir), v2 = {.version = CG_V2, .unified = "/unused"};
	_cleanup_free_ char *proc = support_path(dir, "proc");
	struct cg_vm g1 = {.root = &v1, .name = "warren/vm1"};
	struct cg_vm g2 = {.root = &v2, .name = "warren/vm1"};

	/* As on this machine, after cg_vm_attach(). */
	support_write(dir, "proc/100/cgroup",
		      "9:name=systemd:/\n8:pids:/\n7:blkio:/warren/vm1\n6:freezer:/\n"
		      "5:devices:/\n4:memory:/warren/vm1\n3:cpuset:/warren/vm1\n"
		      "2:cpuacct:/warren/vm1\n1:cpu:/warren/vm1\n0::/\n");
	assert_int_equal(cg_vm_contains_at(&g1, proc, 100), 1);
	assert_int_equal(cg_vm_contains_at(&g2, proc, 100), 0);

	/* Only partly moved (an attach cut short): not contained. */
	support_write(dir, "proc/101/cgroup",
		      "7:blkio:/\n4:memory:/warren/vm1\n3:cpuset:/warren/vm1\n"
		      "2:cpuacct:/warren/vm1\n1:cpu:/warren/vm1\n");
	assert_int_equal(cg_vm_contains_at(&g1, proc, 101), 0);

	/* Co-mounted controllers share one line. */
	struct cg_root co = v1;
	strcpy(co.cpuacct, co.cpu);
	co.cpuset[0] = co.blkio[0] = '\0';
	struct cg_vm gco = {.root = &co, .name = "warren/vm1"};
	support_write(dir, "proc/102/cgroup", "3:memory:/warren/vm1\n2:cpu,cpuacct:/warren/vm1\n");
	assert_int_equal(cg_vm_contains_at(&gco, proc, 102), 1);

	/* v2, also seen from inside a container's sub-group; a longer name
	 * that merely starts the same is another group. */
	support_write(dir, "proc/200/cgroup", "0::/warren/vm1\n");
	support_write(dir, "proc/201/cgroup", "0::/lxc/c1/warren/vm1\n");
	support_write(dir, "proc/202/cgroup", "0::/warren/vm12\n");
	support_write(dir, "proc/203/cgroup", "0::/xwarren/vm1\n");
	assert_int_equal(cg_vm_contains_at(&g2, proc, 200), 1);
	assert_int_equal(cg_vm_contains_at(&g2, proc, 201), 1);
	assert_int_equal(cg_vm_contains_at(&g2, proc, 202), 0);
	assert_int_equal(cg_vm_contains_at(&g2, proc, 203), 0);

	assert_int_equal(cg_vm_contains_at(&g2, proc, 999), -ESRCH);
}

static void test_contains_this_process(void **state)
{
	struct cg_root root;
	struct cg_vm g;

	/* The test does not run inside a group of that name. */
	assert_int_equal(cg_detect("/proc/self/mountinfo", &root), 0);
	if (root.version == CG_NONE)
		skip();
	g = (struct cg_vm){.root = &root, .name = "warren/no-such-vm"};
	assert_int_equal(cg_vm_contains(&g, getpid()), 0);
}

static void test_remove(void **state)
{
	const char *dir = *state;
	struct cg_root root = v1_tree(dir);
	struct cg_vm g = group_vm1(&root, NULL);
	char rel[128];

	/* A real cgroupfs removes a leaf with its interface files; a plain
	 * directory must be empty. */
	support_unlink(dir, "cpuset/warren/vm1/cpuset.cpus");
	support_unlink(dir, "cpuset/warren/vm1/cpuset.mems");
	assert_int_equal(cg_vm_remove(&g), 0);
	for (size_t i = 0; i < ARRAY_SIZE(v1_dirs); i++) {
		snprintf(rel, sizeof(rel), "%s/warren/vm1", v1_dirs[i]);
		assert_false(support_exists(dir, rel));
		snprintf(rel, sizeof(rel), "%s/warren", v1_dirs[i]);
		assert_true(support_exists(dir, rel)); /* the parent stays */
	}
	/* Gone already: fine. */
	assert_int_equal(cg_vm_remove(&g), 0);

	/* One hierarchy cannot let go: its error comes back, the rest go. */
	assert_int_equal(cg_vm_create(&root, "warren", "vm2", &g), 0);
	support_write(dir, "memory/warren/vm2/child/x", "");
	support_unlink(dir, "cpuset/warren/vm2/cpuset.cpus");
	support_unlink(dir, "cpuset/warren/vm2/cpuset.mems");
	assert_int_equal(cg_vm_remove(&g), -ENOTEMPTY);
	assert_true(support_exists(dir, "memory/warren/vm2"));
	assert_false(support_exists(dir, "cpu/warren/vm2"));
	assert_false(support_exists(dir, "blkio/warren/vm2"));
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_detect_hybrid_is_v1),
		T(test_detect_v1_comounted_and_escaped),
		T(test_detect_pure_v2),
		T(test_detect_nothing),
		cmocka_unit_test(test_detect_this_host),
		T(test_v1_create),
		T(test_create_rejects_bad_names),
		T(test_v1_apply_and_read),
		T(test_v1_shares_translation),
		T(test_apply_rejects_bad_limits),
		T(test_v2_create_enables_controllers),
		T(test_v2_enables_only_what_is_offered),
		T(test_v2_apply_and_read),
		T(test_read_fresh_group),
		T(test_attach_writes_every_hierarchy),
		T(test_contains),
		cmocka_unit_test(test_contains_this_process),
		T(test_remove),
	};
#undef T
	return cmocka_run_group_tests(tests, NULL, NULL);
}
