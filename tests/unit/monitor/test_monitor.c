/* Unit tests for monitor/: the sample ring, rates and the Prometheus writer. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

#include "monitor/monitor.h"
#include "util/util.h"

static struct mon_sample sample(int i)
{
	struct mon_sample s = {
		.time_ms = 1000 * i,
		.mono_ns = 1000000000ULL * (uint64_t)i,
		.cpu_ns = 500000000ULL * (uint64_t)i, /* half a CPU */
		.n_vcpus = 2,
		.rss_bytes = 100 + (uint64_t)i,
		.balloon_bytes = -1,
		.n_disks = 1,
	};
	s.vcpu_ns[0] = 1000000000ULL * (uint64_t)i; /* one whole CPU */
	s.vcpu_ns[1] = 0;
	s.disks[0].wr_bytes = 1048576ULL * (uint64_t)i;
	s.disks[0].wr_ops = 10ULL * (uint64_t)i;
	s.disks[0].wr_time_ns = 20000000ULL * (uint64_t)i; /* 2 ms per op */
	return s;
}

static void test_ring_wraps_and_keeps_the_newest(void **state)
{
	struct mon_ring *r = mon_ring_new(4, 2, 1);
	struct mon_sample s;

	assert_non_null(r);
	assert_int_equal(mon_ring_count(r), 0);
	assert_int_equal(mon_ring_get(r, 0, &s), -ERANGE);
	for (int i = 1; i <= 6; i++) {
		s = sample(i);
		mon_ring_push(r, &s);
	}
	assert_int_equal(mon_ring_count(r), 4);
	for (size_t i = 0; i < 4; i++) {
		assert_int_equal(mon_ring_get(r, i, &s), 0);
		assert_int_equal(s.time_ms, 1000 * (int64_t)(i + 3));
		assert_int_equal(s.n_vcpus, 2);
		assert_int_equal(s.vcpu_ns[0], 1000000000ULL * (i + 3));
		assert_int_equal(s.disks[0].wr_bytes, 1048576ULL * (i + 3));
		assert_int_equal(s.balloon_bytes, -1);
	}
	mon_ring_clear(r);
	assert_int_equal(mon_ring_count(r), 0);
	mon_ring_free(r);
}

static void test_ring_memory_is_fixed_and_documented(void **state)
{
	struct mon_ring *r = mon_ring_new(360, 1, 1);
	struct mon_sample s = sample(1);

	/* 360 * (56 + 8 + 48), as monitor.h states. */
	assert_int_equal(mon_ring_bytes(r), 360 * (56 + 8 + 48));
	/* More vCPUs than the ring was made for: the first ones are kept. */
	mon_ring_push(r, &s);
	assert_int_equal(mon_ring_get(r, 0, &s), 0);
	assert_int_equal(s.n_vcpus, 1);
	assert_int_equal(mon_ring_bytes(r), 360 * (56 + 8 + 48));
	mon_ring_free(r);
	assert_null(mon_ring_new(0, 1, 1));
}

static void test_rates_between_samples(void **state)
{
	struct mon_sample a = sample(1), b = sample(3);
	const char *names[] = {"root"};
	json_t *j = mon_sample_to_json(&b, &a, names);

	assert_non_null(j);
	assert_true(json_real_value(json_object_get(j, "cpu_percent")) > 49.9);
	assert_true(json_real_value(json_object_get(j, "cpu_percent")) < 50.1);
	json_t *v0 = json_array_get(json_object_get(j, "vcpus"), 0);
	assert_true(json_real_value(json_object_get(v0, "percent")) > 99.9);
	json_t *d0 = json_array_get(json_object_get(j, "disks"), 0);
	assert_string_equal(json_string_value(json_object_get(d0, "name")), "root");
	assert_true(json_real_value(json_object_get(d0, "write_bytes_per_second")) > 1048575.0);
	assert_true(json_real_value(json_object_get(d0, "latency_ms")) > 1.99);
	assert_true(json_real_value(json_object_get(d0, "latency_ms")) < 2.01);
	json_decref(j);

	j = mon_sample_to_json(&b, NULL, names);
	assert_true(json_is_null(json_object_get(j, "cpu_percent")));
	json_decref(j);
}

static void test_prom_format(void **state)
{
	struct mon_prom *p = mon_prom_new();
	const char *labels[] = {"vm", "we\"b\\1\n", "vcpu", "0", NULL};
	size_t len;

	assert_int_equal(mon_prom_sample(p, NULL, 1), -EINVAL); /* no family yet */
	assert_int_equal(mon_prom_family(p, "warren_vm_cpu_seconds_total", "counter",
					 "CPU time of each vCPU."),
			 0);
	assert_int_equal(mon_prom_sample(p, labels, 12.5), 0);
	assert_int_equal(mon_prom_family(p, "warren_vms", "gauge", "VMs."), 0);
	assert_int_equal(mon_prom_sample(p, NULL, 3), 0);
	assert_string_equal(mon_prom_text(p, &len),
			    "# HELP warren_vm_cpu_seconds_total CPU time of each vCPU.\n"
			    "# TYPE warren_vm_cpu_seconds_total counter\n"
			    "warren_vm_cpu_seconds_total{vm=\"we\\\"b\\\\1\\n\",vcpu=\"0\"} 12.5\n"
			    "# HELP warren_vms VMs.\n"
			    "# TYPE warren_vms gauge\n"
			    "warren_vms 3\n");
	mon_prom_free(p);
}

static void test_prom_rejects_bad_names(void **state)
{
	struct mon_prom *p = mon_prom_new();
	const char *bad_label[] = {"0vm", "x", NULL};

	assert_int_equal(mon_prom_family(p, "warren_cpu_seconds", "counter", "x"), -EINVAL);
	assert_int_equal(mon_prom_family(p, "9lives", "gauge", "x"), -EINVAL);
	assert_int_equal(mon_prom_family(p, "a-b", "gauge", "x"), -EINVAL);
	assert_int_equal(mon_prom_family(p, "ok", "histogram", "x"), -EINVAL);
	assert_int_equal(mon_prom_family(p, "ok", "gauge", "x"), 0);
	assert_int_equal(mon_prom_sample(p, bad_label, 1), -EINVAL);
	mon_prom_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ring_wraps_and_keeps_the_newest),
		cmocka_unit_test(test_ring_memory_is_fixed_and_documented),
		cmocka_unit_test(test_rates_between_samples),
		cmocka_unit_test(test_prom_format),
		cmocka_unit_test(test_prom_rejects_bad_names),
	};
	return cmocka_run_group_tests_name("monitor", tests, NULL, NULL);
}
