/* Unit tests for util/size.c: what users type for memory and disk sizes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "util/util.h"

static void test_size_plain_and_suffixes(void **state)
{
	uint64_t v;

	assert_int_equal(size_parse("0", &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(size_parse("1048576", &v), 0);
	assert_int_equal(v, 1048576);
	assert_int_equal(size_parse("512M", &v), 0);
	assert_int_equal(v, 512ULL << 20);
	assert_int_equal(size_parse("2G", &v), 0);
	assert_int_equal(v, 2ULL << 30);
	assert_int_equal(size_parse("2g", &v), 0);
	assert_int_equal(v, 2ULL << 30);
	assert_int_equal(size_parse("4KiB", &v), 0);
	assert_int_equal(v, 4096);
	assert_int_equal(size_parse("4KB", &v), 0);
	assert_int_equal(v, 4096);
	assert_int_equal(size_parse("1.5G", &v), 0);
	assert_int_equal(v, 3ULL << 29);
	assert_int_equal(size_parse("1T", &v), 0);
	assert_int_equal(v, 1ULL << 40);
	assert_int_equal(size_parse("100B", &v), 0);
	assert_int_equal(v, 100);
}

static void test_size_rejects(void **state)
{
	static const char *const bad[] = {
		"", "M", "12Q", "-5M", "+5M", " 5M", "5M ", "1e99G", "1.G", ".5G", "5MM",
		"5 M", "0x10", "1.5", "5Mi", "5iB", "G5",
	};
	uint64_t v = 77;

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		int r = size_parse(bad[i], &v);
		if (r >= 0)
			fail_msg("size_parse accepted '%s'", bad[i]);
		assert_int_equal(v, 77); /* output untouched on failure */
	}
	assert_int_equal(size_parse(NULL, &v), -EINVAL);
}

static void test_size_overflow(void **state)
{
	uint64_t v;

	assert_int_equal(size_parse("18446744073709551615", &v), 0);
	assert_int_equal(v, UINT64_MAX);
	assert_int_equal(size_parse("18446744073709551616", &v), -ERANGE);
	assert_int_equal(size_parse("99999999999999999999999G", &v), -ERANGE);
	assert_int_equal(size_parse("16777216T", &v), -ERANGE);
	assert_int_equal(size_parse("16777215T", &v), 0);
}

static void test_size_format(void **state)
{
	char buf[32];

	assert_string_equal(size_format(512, buf, sizeof(buf)), "512 B");
	assert_string_equal(size_format(512ULL << 20, buf, sizeof(buf)), "512.0 MiB");
	assert_string_equal(size_format(3ULL << 29, buf, sizeof(buf)), "1.5 GiB");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_size_plain_and_suffixes),
		cmocka_unit_test(test_size_rejects),
		cmocka_unit_test(test_size_overflow),
		cmocka_unit_test(test_size_format),
	};
	return cmocka_run_group_tests_name("size", tests, NULL, NULL);
}
