/* Unit tests for host/inventory.c: CPUs, topology, memory and disk from a
 * fake root laid out like /. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

#include "host/host.h"
#include "support.h"
#include "util/util.h"

#define CPUINFO                                                                                    \
	"processor\t: 0\nvendor_id\t: GenuineIntel\nmodel name\t: Intel(R) Xeon(R) CPU @ "         \
	"2.20GHz  \nflags\t\t: fpu vme\n\nprocessor\t: 1\nmodel name\t: Other\n"

#define MEMINFO                                                                                    \
	"MemTotal:       16384000 kB\nMemFree:          1024000 kB\n"                              \
	"MemAvailable:    8192000 kB\nBuffers:           10000 kB\n"

/* Topology as Linux numbers it on many servers: thread siblings are N and
 * N + 4, so that cpu0-3 are one thread of each core. */
static void write_cpu(const char *root, unsigned n, unsigned package, unsigned core)
{
	char rel[128], val[16];

	snprintf(rel, sizeof(rel), "sys/devices/system/cpu/cpu%u/topology/physical_package_id", n);
	snprintf(val, sizeof(val), "%u\n", package);
	support_write(root, rel, val);
	snprintf(rel, sizeof(rel), "sys/devices/system/cpu/cpu%u/topology/core_id", n);
	snprintf(val, sizeof(val), "%u\n", core);
	support_write(root, rel, val);
}

/* 2 sockets x 2 cores x 2 threads: cpu N is socket (N / 2) % 2, core N % 2
 * (core ids repeat across sockets, as they do on real hosts). */
static void assert_topology(const struct host_cpu_info *cpu, unsigned online, unsigned sockets,
			    unsigned cores, unsigned threads)
{
	assert_int_equal(cpu->online, online);
	assert_int_equal(cpu->sockets, sockets);
	assert_int_equal(cpu->cores, cores);
	assert_int_equal(cpu->threads_per_core, threads);
}

static int setup(void **state)
{
	char *root = support_tmpdir();

	support_write(root, "proc/cpuinfo", CPUINFO);
	support_write(root, "proc/meminfo", MEMINFO);
	support_write(root, "sys/devices/system/cpu/online", "0-7\n");
	for (unsigned n = 0; n < 8; n++)
		write_cpu(root, n, (n / 2) % 2, n % 2);
	*state = root;
	return 0;
}

static int teardown(void **state)
{
	support_rmtree(*state);
	return 0;
}

static void test_full_inventory(void **state)
{
	const char *root = *state;
	struct host_inventory inv;

	assert_int_equal(host_inventory_read(root, root, &inv), 0);
	assert_topology(&inv.cpu, 8, 2, 4, 2);
	assert_string_equal(inv.cpu.model, "Intel(R) Xeon(R) CPU @ 2.20GHz");
	assert_int_equal(inv.mem_total, 16384000ULL * 1024);
	assert_int_equal(inv.mem_available, 8192000ULL * 1024);
	assert_true(inv.disk_total > 0);
	assert_true(inv.disk_free <= inv.disk_total);
}

static void test_only_online_cpus_count(void **state)
{
	const char *root = *state;
	struct host_inventory inv;

	/* Socket 1 (cpus 2, 3, 6, 7) offline but cpu 6. */
	support_write(root, "sys/devices/system/cpu/online", "0-1,4-6\n");
	assert_int_equal(host_inventory_read(root, NULL, &inv), 0);
	assert_topology(&inv.cpu, 5, 2, 3, 1);
	assert_int_equal(inv.disk_total, 0);
	assert_int_equal(inv.disk_free, 0);
}

static void test_no_topology_files(void **state)
{
	char *root = support_tmpdir();
	struct host_inventory inv;

	support_write(root, "proc/meminfo", MEMINFO);
	support_write(root, "sys/devices/system/cpu/online", "0-9");
	assert_int_equal(host_inventory_read(root, NULL, &inv), 0);
	assert_topology(&inv.cpu, 10, 1, 10, 1);
	assert_string_equal(inv.cpu.model, ""); /* no cpuinfo either */
	support_rmtree(root);
}

static void test_bad_online_mask(void **state)
{
	const char *root = *state;
	static const char *const bad[] = {"", "0-", "3-1", "a", "0,,1", "0-99999999", "1 2"};
	struct host_inventory inv;

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		support_write(root, "sys/devices/system/cpu/online", bad[i]);
		assert_int_equal(host_inventory_read(root, NULL, &inv), -EBADMSG);
	}
}

static void test_proc_variants(void **state)
{
	const char *root = *state;
	struct host_inventory inv;

	/* Before Linux 3.14 there is no MemAvailable: MemFree stands in. */
	support_write(root, "proc/meminfo", "MemTotal: 2048 kB\nMemFree: 1024 kB\n");
	assert_int_equal(host_inventory_read(root, NULL, &inv), 0);
	assert_int_equal(inv.mem_total, 2048 * 1024);
	assert_int_equal(inv.mem_available, 1024 * 1024);

	/* No "model name" (arm64 has none): an empty model. */
	support_write(root, "proc/cpuinfo", "processor\t: 0\nBogoMIPS\t: 50.00\n");
	assert_int_equal(host_inventory_read(root, NULL, &inv), 0);
	assert_string_equal(inv.cpu.model, "");

	support_write(root, "proc/meminfo", "MemFree: 1024 kB\n");
	assert_int_equal(host_inventory_read(root, NULL, &inv), -EBADMSG);
}

static void test_missing_state_dir(void **state)
{
	_cleanup_free_ char *missing = support_path(*state, "no-such-dir");
	struct host_inventory inv = {.mem_total = 42};

	assert_int_equal(host_inventory_read(*state, missing, &inv), -ENOENT);
	assert_int_equal(inv.mem_total, 42); /* untouched on failure */
}

static void test_this_host(void **state)
{
	struct host_inventory inv;

	/* Whatever the machine is, the real files must parse and agree. */
	assert_int_equal(host_inventory_read("/", "/", &inv), 0);
	assert_true(inv.cpu.online >= 1);
	assert_true(inv.cpu.sockets >= 1);
	assert_true(inv.cpu.cores >= inv.cpu.sockets && inv.cpu.cores <= inv.cpu.online);
	assert_true(inv.mem_total > 0);
	assert_true(inv.mem_available <= inv.mem_total);
	assert_true(inv.disk_total > 0);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_full_inventory),
		T(test_only_online_cpus_count),
		cmocka_unit_test(test_no_topology_files),
		T(test_bad_online_mask),
		T(test_proc_variants),
		T(test_missing_state_dir),
		cmocka_unit_test(test_this_host),
	};
#undef T
	return cmocka_run_group_tests(tests, NULL, NULL);
}
