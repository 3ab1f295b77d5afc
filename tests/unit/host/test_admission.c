/* Unit tests for host/admission.c: defaults, capacity and the exact words
 * of a refusal. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

#include "host/host.h"
#include "util/util.h"

#define GiB (UINT64_C(1) << 30)
#define MiB (UINT64_C(1) << 20)

static struct host_inventory host(unsigned cpus, uint64_t mem)
{
	return (struct host_inventory){.cpu = {.online = cpus}, .mem_total = mem};
}

static void test_default_reserve(void **state)
{
	struct host_inventory inv = host(4, 22 * GiB);
	struct host_capacity_config cfg;

	/* 10% of 22 GiB is 2252.8 MiB: rounded down to a whole MiB. */
	host_capacity_config_default(&inv, &cfg);
	assert_true(cfg.cpu_ratio == 4.0);
	assert_true(cfg.memory_ratio == 1.0);
	assert_int_equal(cfg.memory_reserved, 2252 * MiB);
	/* Small hosts keep at least 1 GiB. */
	assert_int_equal(HOST_DEFAULT_RESERVE(4 * GiB), GiB);
	assert_int_equal(HOST_DEFAULT_RESERVE(10 * GiB), GiB);
	assert_int_equal(HOST_DEFAULT_RESERVE(512 * MiB), GiB);
	assert_int_equal(HOST_DEFAULT_RESERVE(100 * GiB), 10 * GiB);
}

static void test_capacity(void **state)
{
	struct host_inventory inv = host(2, 22 * GiB);
	struct host_capacity_config cfg = {
		.cpu_ratio = 4, .memory_ratio = 1.5, .memory_reserved = 2 * GiB};
	struct host_alloc cap;

	host_capacity(&inv, &cfg, &cap);
	assert_true(cap.vcpus == 8.0);
	assert_int_equal(cap.memory, 30 * GiB);

	/* A reserve of the whole memory or more leaves nothing. */
	inv = host(2, 512 * MiB);
	host_capacity_config_default(&inv, &cfg);
	host_capacity(&inv, &cfg, &cap);
	assert_int_equal(cap.memory, 0);

	/* Ratio 1.0 keeps every byte, even of a huge odd total. */
	inv = host(1, UINT64_MAX - 12345);
	cfg = (struct host_capacity_config){
		.cpu_ratio = 1, .memory_ratio = 1, .memory_reserved = 1};
	host_capacity(&inv, &cfg, &cap);
	assert_true(cap.memory == UINT64_MAX - 12346);
	/* And overcommit past 64 bits saturates. */
	cfg.memory_ratio = 16;
	host_capacity(&inv, &cfg, &cap);
	assert_true(cap.memory == UINT64_MAX);
}

static void test_memory_refusal_message(void **state)
{
	struct host_inventory inv = host(8, 22 * GiB);
	struct host_capacity_config cfg = {
		.cpu_ratio = 4, .memory_ratio = 1, .memory_reserved = 2 * GiB};
	struct host_alloc used = {.vcpus = 1, .memory = (uint64_t)(18.8 * (double)GiB)};
	struct host_alloc need = {.vcpus = 1, .memory = 2 * GiB};
	char msg[256];

	assert_int_equal(host_admit(&inv, &cfg, &used, &need, msg, sizeof(msg)), -ENOSPC);
	assert_string_equal(msg, "not enough memory: VM needs 2.0 GiB, 1.2 GiB free of 20.0 GiB "
				 "(ratio 1.0, 2.0 GiB reserved for the host)");

	/* Used past the capacity (the ratio was lowered): free is 0, not negative. */
	used.memory = 25 * GiB;
	need.memory = 512 * MiB;
	cfg.memory_ratio = 0.75;
	assert_int_equal(host_admit(&inv, &cfg, &used, &need, msg, sizeof(msg)), -ENOSPC);
	assert_string_equal(msg, "not enough memory: VM needs 512.0 MiB, 0 B free of 15.0 GiB "
				 "(ratio 0.75, 2.0 GiB reserved for the host)");
}

static void test_memory_fits_exactly(void **state)
{
	struct host_inventory inv = host(8, 22 * GiB);
	struct host_capacity_config cfg = {
		.cpu_ratio = 4, .memory_ratio = 1, .memory_reserved = 2 * GiB};
	struct host_alloc used = {.memory = 18 * GiB}, need = {.vcpus = 2, .memory = 2 * GiB};
	char msg[256] = "stale";

	assert_int_equal(host_admit(&inv, &cfg, &used, &need, msg, sizeof(msg)), 0);
	assert_string_equal(msg, "");
	need.memory++;
	assert_int_equal(host_admit(&inv, &cfg, &used, &need, NULL, 0), -ENOSPC);
}

static void test_cpu_refusal_message(void **state)
{
	struct host_inventory inv = host(2, 64 * GiB);
	struct host_capacity_config cfg = {
		.cpu_ratio = 4, .memory_ratio = 1, .memory_reserved = 2 * GiB};
	struct host_alloc used = {.vcpus = 6, .memory = GiB}, need = {.vcpus = 4, .memory = GiB};
	char msg[256];

	assert_int_equal(host_admit(&inv, &cfg, &used, &need, msg, sizeof(msg)), -ENOSPC);
	assert_string_equal(
		msg, "not enough CPU: VM needs 4 vCPUs, 2 free of 8 (2 host CPUs, ratio 4.0)");

	/* Fractions print with one decimal, whole counts without. */
	used.vcpus = 6.5;
	need.vcpus = 2;
	assert_int_equal(host_admit(&inv, &cfg, &used, &need, msg, sizeof(msg)), -ENOSPC);
	assert_string_equal(
		msg, "not enough CPU: VM needs 2 vCPUs, 1.5 free of 8 (2 host CPUs, ratio 4.0)");

	/* One of each reads as one. */
	inv.cpu.online = 1;
	cfg.cpu_ratio = 1.5;
	used.vcpus = 1;
	need.vcpus = 1;
	assert_int_equal(host_admit(&inv, &cfg, &used, &need, msg, sizeof(msg)), -ENOSPC);
	assert_string_equal(
		msg, "not enough CPU: VM needs 1 vCPU, 0.5 free of 1.5 (1 host CPU, ratio 1.5)");

	/* Used over the capacity: 0 free. */
	used.vcpus = 3;
	assert_int_equal(host_admit(&inv, &cfg, &used, &need, msg, sizeof(msg)), -ENOSPC);
	assert_string_equal(
		msg, "not enough CPU: VM needs 1 vCPU, 0 free of 1.5 (1 host CPU, ratio 1.5)");
}

static void test_cpu_fits_exactly(void **state)
{
	struct host_inventory inv = host(2, 64 * GiB);
	struct host_capacity_config cfg = {
		.cpu_ratio = 4, .memory_ratio = 1, .memory_reserved = 2 * GiB};
	struct host_alloc used = {.vcpus = 0.1 + 0.2 + 3.7}, need = {.vcpus = 4};

	/* 0.1 + 0.2 + 3.7 is not exactly 4 in binary; it must still fit. */
	assert_int_equal(host_admit(&inv, &cfg, &used, &need, NULL, 0), 0);
	/* A VM with 2 dedicated CPUs counts cpu_ratio units for each. */
	used.vcpus = 0;
	need.vcpus = 2 * cfg.cpu_ratio;
	assert_int_equal(host_admit(&inv, &cfg, &used, &need, NULL, 0), 0);
	need.vcpus += 1;
	assert_int_equal(host_admit(&inv, &cfg, &used, &need, NULL, 0), -ENOSPC);
}

static void test_memory_is_checked_first(void **state)
{
	struct host_inventory inv = host(1, 4 * GiB);
	struct host_capacity_config cfg;
	struct host_alloc used = {.vcpus = 4, .memory = 0}, need = {.vcpus = 1, .memory = 4 * GiB};
	char msg[256];

	host_capacity_config_default(&inv, &cfg);
	assert_int_equal(host_admit(&inv, &cfg, &used, &need, msg, sizeof(msg)), -ENOSPC);
	assert_string_equal(msg, "not enough memory: VM needs 4.0 GiB, 3.0 GiB free of 3.0 GiB "
				 "(ratio 1.0, 1.0 GiB reserved for the host)");
}

static void test_message_is_cut_safely(void **state)
{
	struct host_inventory inv = host(1, 4 * GiB);
	struct host_capacity_config cfg;
	struct host_alloc used = {0}, need = {.memory = 8 * GiB};
	char msg[20];

	host_capacity_config_default(&inv, &cfg);
	assert_int_equal(host_admit(&inv, &cfg, &used, &need, msg, sizeof(msg)), -ENOSPC);
	assert_string_equal(msg, "not enough memory: ");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_default_reserve),
		cmocka_unit_test(test_capacity),
		cmocka_unit_test(test_memory_refusal_message),
		cmocka_unit_test(test_memory_fits_exactly),
		cmocka_unit_test(test_cpu_refusal_message),
		cmocka_unit_test(test_cpu_fits_exactly),
		cmocka_unit_test(test_memory_is_checked_first),
		cmocka_unit_test(test_message_is_cut_safely),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
