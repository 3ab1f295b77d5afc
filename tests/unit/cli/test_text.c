/* Unit tests for cli/text.c: the human forms of sizes and uptimes, and
 * the column layout of tables. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <string.h>

#include "cli/cli.h"
#include "render.h"

static void test_human_size(void **state)
{
	static const struct {
		uint64_t bytes;
		const char *text;
	} cases[] = {
	    {0, "0B"},
	    {512, "512B"},
	    {1024, "1K"},
	    {1536, "1.5K"},
	    {256ULL << 20, "256M"},
	    {1536ULL << 20, "1.5G"},
	    {2ULL << 30, "2G"},
	    {(1ULL << 30) - 1, "1.0G"}, /* not "1024.0M" */
	    {(1ULL << 30) + (1ULL << 20), "1.0G"},
	    {3ULL << 40, "3T"},
	    {1ULL << 60, "1E"},
	    {UINT64_MAX, "16.0E"},
	};
	char buf[32];

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++)
		assert_string_equal(cli_human_size(cases[i].bytes, buf, sizeof(buf)),
				    cases[i].text);
}

static void test_human_uptime(void **state)
{
	static const struct {
		uint64_t s;
		const char *text;
	} cases[] = {
	    {0, "0s"},	       {5, "5s"},	 {59, "59s"},	    {60, "1m00s"},
	    {192, "3m12s"},    {3599, "59m59s"}, {3600, "1h00m"},   {7380, "2h03m"},
	    {86399, "23h59m"}, {86400, "1d00h"}, {363600, "4d05h"},
	};
	char buf[32];

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++)
		assert_string_equal(cli_human_uptime(cases[i].s, buf, sizeof(buf)), cases[i].text);
}

static void test_human_ms(void **state)
{
	static const struct {
		uint64_t ms;
		const char *text;
	} cases[] = {
	    {0, "0 ms"},      {85, "85 ms"},	 {999, "999 ms"},
	    {1000, "1.0 s"},  {12345, "12.3 s"}, {59900, "59.9 s"},
	    {60000, "1m00s"}, {192000, "3m12s"}, {7380000, "2h03m"},
	};
	char buf[32];

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++)
		assert_string_equal(cli_human_ms(cases[i].ms, buf, sizeof(buf)), cases[i].text);
}

static void test_human_time(void **state)
{
	char buf[64];

	assert_string_equal(cli_human_time(1700000000123, buf, sizeof(buf)), "2023-11-14 22:13:20");
}

static char *table_render(const char *const *cells, size_t n, size_t cols)
{
	struct cli_table t;
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);

	assert_non_null(f);
	assert_int_equal(cli_table_init(&t, cols, cells), 0);
	for (size_t i = cols; i < n; i++)
		assert_int_equal(cli_table_cell(&t, cells[i]), 0);
	cli_table_print(&t, f);
	cli_table_clear(&t);
	fclose(f);
	return out;
}

static void test_table_columns(void **state)
{
	static const char *const cells[] = {
	    "NAME", "STATE", "CPUS", "web1", "running", "2", "database-primary", "stopped", "16",
	};
	_cleanup_free_ char *out = table_render(cells, ARRAY_SIZE(cells), 3);

	assert_string_equal(out, "NAME              STATE    CPUS\n"
				 "web1              running  2\n"
				 "database-primary  stopped  16\n");
}

static void test_table_utf8_and_empty(void **state)
{
	/* Widths count characters: "größe" is 5 wide, not 7. */
	static const char *const cells[] = {"K", "V", "größe", "x", "", "y"};
	_cleanup_free_ char *out = table_render(cells, ARRAY_SIZE(cells), 2);

	assert_string_equal(out, "K      V\n"
				 "größe  x\n"
				 "       y\n");
}

static void test_table_blank_last_columns(void **state)
{
	/* Blank cells at the end of a row leave no padding behind. */
	static const char *const cells[] = {"A", "B", "C", "x", "long", "",
					    "y", "",  "",  "z", "",	"*"};
	_cleanup_free_ char *out = table_render(cells, ARRAY_SIZE(cells), 3);

	assert_string_equal(out, "A  B     C\n"
				 "x  long\n"
				 "y\n"
				 "z        *\n");
}

static void test_table_header_only(void **state)
{
	static const char *const cells[] = {"TIME", "VM"};
	_cleanup_free_ char *out = table_render(cells, ARRAY_SIZE(cells), 2);

	assert_string_equal(out, "TIME  VM\n");
}

int main(void)
{
	render_utc();
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_human_size),
	    cmocka_unit_test(test_human_uptime),
	    cmocka_unit_test(test_human_ms),
	    cmocka_unit_test(test_human_time),
	    cmocka_unit_test(test_table_columns),
	    cmocka_unit_test(test_table_utf8_and_empty),
	    cmocka_unit_test(test_table_header_only),
	    cmocka_unit_test(test_table_blank_last_columns),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
