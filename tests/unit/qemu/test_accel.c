/*
 * Unit tests for the accelerator decision: every kind of host the probe
 * can meet, described by the facts it would gather there.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

#include "qemu/qemu.h"
#include "util/util.h"

#define MS 1000000ULL

static struct accel_facts usable_host(void)
{
	return (struct accel_facts){
		.dev_present = true,
		.api_version = 12,
		.run_err = 0,
		.run_ns = 3 * MS,
		.bound_ns = ACCEL_PROBE_BOUND_NS,
	};
}

static void assert_contains(const char *hay, const char *needle)
{
	if (!strstr(hay, needle))
		fail_msg("'%s' does not contain '%s'", hay, needle);
}

static void test_absent_device_picks_tcg(void **state)
{
	struct accel_facts f = {.dev_present = false, .api_version = -1,
				.bound_ns = ACCEL_PROBE_BOUND_NS};
	struct accel_choice c;

	accel_decide(&f, ACCEL_MODE_AUTO, &c);
	assert_int_equal(c.kind, ACCEL_TCG);
	assert_contains(c.reason, "no KVM device");
}

static void test_unopenable_device_picks_tcg(void **state)
{
	struct accel_facts f = usable_host();
	struct accel_choice c;

	f.open_err = EACCES;
	f.api_version = -1;
	accel_decide(&f, ACCEL_MODE_AUTO, &c);
	assert_int_equal(c.kind, ACCEL_TCG);
	assert_contains(c.reason, "Permission denied");
}

static void test_nested_slow_kvm_picks_tcg(void **state)
{
	/* The paravirtual nested case: the test guest never finishes in time. */
	struct accel_facts f = usable_host();
	struct accel_choice c;

	f.run_err = -ETIMEDOUT;
	f.run_ns = 0;
	accel_decide(&f, ACCEL_MODE_AUTO, &c);
	assert_int_equal(c.kind, ACCEL_TCG);
	assert_contains(c.reason, "did not finish within 400 ms");
}

static void test_finished_but_over_bound_picks_tcg(void **state)
{
	struct accel_facts f = usable_host();
	struct accel_choice c;

	f.run_ns = f.bound_ns + 1;
	accel_decide(&f, ACCEL_MODE_AUTO, &c);
	assert_int_equal(c.kind, ACCEL_TCG);
	assert_contains(c.reason, "over the 400 ms bound");
}

static void test_broken_kvm_picks_tcg(void **state)
{
	struct accel_facts f = usable_host();
	struct accel_choice c;

	f.run_err = -EIO;
	snprintf(f.run_detail, sizeof(f.run_detail), "unexpected exit reason 8");
	accel_decide(&f, ACCEL_MODE_AUTO, &c);
	assert_int_equal(c.kind, ACCEL_TCG);
	assert_contains(c.reason, "unexpected exit reason 8");

	f = usable_host();
	f.api_version = 11;
	accel_decide(&f, ACCEL_MODE_AUTO, &c);
	assert_int_equal(c.kind, ACCEL_TCG);
	assert_contains(c.reason, "API version 11");
}

static void test_usable_kvm_picks_kvm(void **state)
{
	struct accel_facts f = usable_host();
	struct accel_choice c;

	accel_decide(&f, ACCEL_MODE_AUTO, &c);
	assert_int_equal(c.kind, ACCEL_KVM);
	assert_contains(c.reason, "3.0 ms");
	accel_decide(&f, ACCEL_MODE_KVM, &c);
	assert_int_equal(c.kind, ACCEL_KVM);
}

static void test_configured_modes(void **state)
{
	struct accel_facts f = usable_host();
	struct accel_choice c;
	enum accel_mode m;

	accel_decide(&f, ACCEL_MODE_TCG, &c);
	assert_int_equal(c.kind, ACCEL_TCG);
	assert_contains(c.reason, "configuration");

	f.dev_present = false;
	accel_decide(&f, ACCEL_MODE_KVM, &c);
	assert_int_equal(c.kind, ACCEL_TCG);
	assert_contains(c.reason, "accel=kvm requested but");

	assert_int_equal(accel_mode_from_string("kvm", &m), 0);
	assert_int_equal(m, ACCEL_MODE_KVM);
	assert_int_equal(accel_mode_from_string("KVM", &m), -EINVAL);
}

static void test_probe_missing_device(void **state)
{
	/* The gathering side on a path that cannot exist. */
	struct accel_facts f;

	accel_probe("/nonexistent/kvm", ACCEL_PROBE_BOUND_NS, &f);
	assert_false(f.dev_present);
}

static void test_probe_not_a_kvm_device(void **state)
{
	/* A device that opens but answers no KVM ioctl: unusable, not a crash. */
	struct accel_facts f;
	struct accel_choice c;

	accel_probe("/dev/null", ACCEL_PROBE_BOUND_NS, &f);
	assert_true(f.dev_present);
	assert_int_equal(f.open_err, 0);
	assert_true(f.run_err < 0);
	accel_decide(&f, ACCEL_MODE_AUTO, &c);
	assert_int_equal(c.kind, ACCEL_TCG);
	assert_contains(c.reason, "KVM_GET_API_VERSION");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_absent_device_picks_tcg),
		cmocka_unit_test(test_unopenable_device_picks_tcg),
		cmocka_unit_test(test_nested_slow_kvm_picks_tcg),
		cmocka_unit_test(test_finished_but_over_bound_picks_tcg),
		cmocka_unit_test(test_broken_kvm_picks_tcg),
		cmocka_unit_test(test_usable_kvm_picks_kvm),
		cmocka_unit_test(test_configured_modes),
		cmocka_unit_test(test_probe_missing_device),
		cmocka_unit_test(test_probe_not_a_kvm_device),
	};
	return cmocka_run_group_tests_name("accel", tests, NULL, NULL);
}
