/* Unit tests for cli/migrate.c: the body of "migrate" from its options,
 * every option and which mistakes are refused before any request. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/cli.h"

/* The options of the command table's migrate; only the names and whether
 * they take a value matter to the parse. */
static const struct cli_option migrate_opts[] = {
    {.name = "to", .arg = "DEST"},
    {.name = "live"},
    {.name = "offline"},
    {.name = "storage", .arg = "MODE"},
    {.name = "max-downtime", .arg = "DURATION"},
    {.name = "bandwidth", .arg = "SIZE"},
    {.name = "no-auto-converge"},
    {.name = "no-wait"},
    {0},
};

/* cli_migrate_body over argv; the body as sorted compact JSON, or NULL
 * with err. */
static char *body(struct werr *err, int argc, char **argv)
{
	const struct cli_option *const tables[] = {migrate_opts, NULL};
	_cleanup_json_ json_t *j = NULL;
	struct cli_args a = {0};
	int r;

	assert_int_equal(cli_args_parse(&a, argc, argv, tables, false, err), argc);
	r = cli_migrate_body(&a, &j, err);
	cli_args_clear(&a);
	if (r < 0) {
		assert_int_equal(r, -EINVAL);
		assert_null(j);
		return NULL;
	}
	return json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
}

static void test_body(void **state)
{
	static struct {
		char *args[10];
		const char *json;
	} cases[] = {
	    /* Only what is given: the daemon picks mode, storage and the rest. */
	    {{"--to", "unix:/run/b/warren.sock"}, "{\"to\":\"unix:/run/b/warren.sock\"}"},
	    {{"--to=/run/b/warren.sock"}, "{\"to\":\"/run/b/warren.sock\"}"},
	    /* A warrend's TCP listener, and a cluster member's name: as written. */
	    {{"--to", "http://b.example:7001"}, "{\"to\":\"http://b.example:7001\"}"},
	    {{"--to", "node-b"}, "{\"to\":\"node-b\"}"},
	    {{"--to", "/b.sock", "--live"}, "{\"mode\":\"live\",\"to\":\"/b.sock\"}"},
	    {{"--to", "/b.sock", "--offline"}, "{\"mode\":\"offline\",\"to\":\"/b.sock\"}"},
	    {{"--to", "/b.sock", "--storage", "shared"},
	     "{\"storage\":\"shared\",\"to\":\"/b.sock\"}"},
	    {{"--to", "/b.sock", "--storage=copy"}, "{\"storage\":\"copy\",\"to\":\"/b.sock\"}"},
	    {{"--to", "/b.sock", "--no-auto-converge"},
	     "{\"auto_converge\":false,\"to\":\"/b.sock\"}"},
	    /* --no-wait is the command's, not the body's. */
	    {{"--to", "/b.sock", "--no-wait"}, "{\"to\":\"/b.sock\"}"},
	    /* Everything at once. */
	    {{"--to", "unix:/b.sock", "--live", "--storage", "copy", "--max-downtime", "300ms",
	      "--bandwidth", "1G"},
	     "{\"bandwidth\":1073741824,\"max_downtime_ms\":300,\"mode\":\"live\","
	     "\"storage\":\"copy\",\"to\":\"unix:/b.sock\"}"},
	    /* The last of a flag given twice wins, as everywhere. */
	    {{"--to", "/a.sock", "--to", "/b.sock", "--storage", "copy", "--storage", "shared"},
	     "{\"storage\":\"shared\",\"to\":\"/b.sock\"}"},
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct werr err = {0};
		int argc = 0;
		_cleanup_free_ char *got = NULL;

		while (argc < 10 && cases[i].args[argc])
			argc++;
		got = body(&err, argc, cases[i].args);
		if (!got || strcmp(got, cases[i].json) != 0)
			fail_msg("case %zu: got %s (%s)", i, got ? got : "NULL", err.message);
	}
}

/* --max-downtime: a duration, where a bare number means milliseconds. */
static void test_max_downtime(void **state)
{
	static const struct {
		char *value;
		json_int_t ms;
	} cases[] = {
	    {"300ms", 300}, {"300", 300},  {"2s", 2000},     {"1s500ms", 1500},
	    {"1", 1},	    {"1m", 60000}, {"0s250ms", 250},
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		char *args[] = {"--to", "/b.sock", "--max-downtime", cases[i].value};
		struct werr err = {0};
		_cleanup_free_ char *got = body(&err, 4, args);
		char want[128];

		snprintf(want, sizeof(want),
			 "{\"max_downtime_ms\":%" JSON_INTEGER_FORMAT ",\"to\":\"/b.sock\"}",
			 cases[i].ms);
		if (!got || strcmp(got, want) != 0)
			fail_msg("case %zu (%s): got %s (%s)", i, cases[i].value,
				 got ? got : "NULL", err.message);
	}
}

/* --bandwidth: bytes per second, a size as everywhere (binary units). */
static void test_bandwidth(void **state)
{
	static const struct {
		char *value;
		json_int_t bytes;
	} cases[] = {
	    {"1G", 1073741824},	  {"100M", 104857600}, {"1.5G", 1610612736}, {"512K", 524288},
	    {"1000000", 1000000}, {"10MiB", 10485760}, {"2GB", 2147483648},  {"1", 1},
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		char *args[] = {"--to", "/b.sock", "--bandwidth", cases[i].value};
		struct werr err = {0};
		_cleanup_free_ char *got = body(&err, 4, args);
		char want[128];

		snprintf(want, sizeof(want),
			 "{\"bandwidth\":%" JSON_INTEGER_FORMAT ",\"to\":\"/b.sock\"}",
			 cases[i].bytes);
		if (!got || strcmp(got, want) != 0)
			fail_msg("case %zu (%s): got %s (%s)", i, cases[i].value,
				 got ? got : "NULL", err.message);
	}
}

#define DOWNTIME_FORM                                                                              \
	"--max-downtime takes a duration like 300ms or 2s (a bare number is milliseconds)"
#define BANDWIDTH_FORM "--bandwidth takes bytes per second as a size like 100M or 1G"

static void test_errors(void **state)
{
	static struct {
		char *args[6];
		const char *message, *field;
	} cases[] = {
	    {{"--live"},
	     "missing --to DEST, the warrend to move the VM to (unix:PATH, PATH, "
	     "http://HOST:PORT or a cluster member)",
	     "to"},
	    {{"--to", ""}, "--to needs a destination", "to"},
	    {{"--to", "/b.sock", "--live", "--offline"},
	     "--live and --offline exclude each other",
	     "mode"},
	    {{"--to", "/b.sock", "--offline", "--live"},
	     "--live and --offline exclude each other",
	     "mode"},
	    {{"--to", "/b.sock", "--storage", "local"},
	     "--storage takes shared or copy, not 'local'",
	     "storage"},
	    {{"--to", "/b.sock", "--storage", "Shared"},
	     "--storage takes shared or copy, not 'Shared'",
	     "storage"},
	    {{"--to", "/b.sock", "--storage", ""},
	     "--storage takes shared or copy, not ''",
	     "storage"},
	    {{"--to", "/b.sock", "--max-downtime", "fast"},
	     DOWNTIME_FORM ", not 'fast'",
	     "max_downtime_ms"},
	    {{"--to", "/b.sock", "--max-downtime", "0"},
	     DOWNTIME_FORM ", not '0'",
	     "max_downtime_ms"},
	    {{"--to", "/b.sock", "--max-downtime", "0ms"},
	     DOWNTIME_FORM ", not '0ms'",
	     "max_downtime_ms"},
	    {{"--to", "/b.sock", "--max-downtime", "-5ms"},
	     DOWNTIME_FORM ", not '-5ms'",
	     "max_downtime_ms"},
	    {{"--to", "/b.sock", "--max-downtime", "0.3s"},
	     DOWNTIME_FORM ", not '0.3s'",
	     "max_downtime_ms"},
	    {{"--to", "/b.sock", "--max-downtime", "300 ms"},
	     DOWNTIME_FORM ", not '300 ms'",
	     "max_downtime_ms"},
	    {{"--to", "/b.sock", "--max-downtime", "300us"},
	     DOWNTIME_FORM ", not '300us'",
	     "max_downtime_ms"},
	    {{"--to", "/b.sock", "--max-downtime", ""},
	     DOWNTIME_FORM ", not ''",
	     "max_downtime_ms"},
	    /* Past what a JSON integer holds. */
	    {{"--to", "/b.sock", "--max-downtime", "99999999999999999999"},
	     DOWNTIME_FORM ", not '99999999999999999999'",
	     "max_downtime_ms"},
	    {{"--to", "/b.sock", "--max-downtime", "9223372036854775808"},
	     DOWNTIME_FORM ", not '9223372036854775808'",
	     "max_downtime_ms"},
	    {{"--to", "/b.sock", "--bandwidth", "fast"},
	     BANDWIDTH_FORM ", not 'fast'",
	     "bandwidth"},
	    {{"--to", "/b.sock", "--bandwidth", "0"}, BANDWIDTH_FORM ", not '0'", "bandwidth"},
	    {{"--to", "/b.sock", "--bandwidth", "0M"}, BANDWIDTH_FORM ", not '0M'", "bandwidth"},
	    {{"--to", "/b.sock", "--bandwidth", "-1G"}, BANDWIDTH_FORM ", not '-1G'", "bandwidth"},
	    /* Bits are a NIC's rate, not a size. */
	    {{"--to", "/b.sock", "--bandwidth", "1Gbit"},
	     BANDWIDTH_FORM ", not '1Gbit'",
	     "bandwidth"},
	    {{"--to", "/b.sock", "--bandwidth", "1e9"}, BANDWIDTH_FORM ", not '1e9'", "bandwidth"},
	    {{"--to", "/b.sock", "--bandwidth", "1.5"}, BANDWIDTH_FORM ", not '1.5'", "bandwidth"},
	    /* 2^63 bytes/s is past a JSON integer; 2^64 past any size. */
	    {{"--to", "/b.sock", "--bandwidth", "8192P"},
	     BANDWIDTH_FORM ", not '8192P'",
	     "bandwidth"},
	    {{"--to", "/b.sock", "--bandwidth", "16384P"},
	     BANDWIDTH_FORM ", not '16384P'",
	     "bandwidth"},
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct werr err = {0};
		int argc = 0;
		_cleanup_free_ char *got = NULL;

		while (argc < 6 && cases[i].args[argc])
			argc++;
		got = body(&err, argc, cases[i].args);
		if (got)
			fail_msg("case %zu: accepted as %s", i, got);
		if (strcmp(err.message, cases[i].message) != 0)
			fail_msg("case %zu: got '%s'", i, err.message);
		assert_string_equal(err.field, cases[i].field);
	}
}

/* A relative socket path means nothing to the daemon: it is made absolute
 * when it exists, and left as written (for the daemon's error) when not. */
static void test_relative_dest(void **state)
{
	char dir[] = "/tmp/warren-test-migrate-XXXXXX", cwd[PATH_MAX], real[PATH_MAX];
	_cleanup_free_ char *sub = NULL, *want = NULL, *got = NULL;
	struct werr err = {0};

	assert_non_null(getcwd(cwd, sizeof(cwd)));
	assert_non_null(mkdtemp(dir));
	assert_true(asprintf(&sub, "%s/b", dir) > 0);
	assert_int_equal(mkdir(sub, 0700), 0);
	assert_int_equal(chdir(dir), 0);
	assert_non_null(realpath(".", real));

	got = body(&err, 2, (char *[]){"--to", "b"});
	assert_string_equal(got, "{\"to\":\"b\"}"); /* a bare word: a name */
	free(got);
	got = body(&err, 2, (char *[]){"--to", "./b"});
	assert_true(asprintf(&want, "{\"to\":\"%s/b\"}", real) > 0);
	assert_string_equal(got, want);
	free(got);
	free(want);
	got = body(&err, 2, (char *[]){"--to", "unix:b"});
	assert_true(asprintf(&want, "{\"to\":\"unix:%s/b\"}", real) > 0);
	assert_string_equal(got, want);
	free(got);
	got = body(&err, 2, (char *[]){"--to", "unix:nosuch/b.sock"});
	assert_string_equal(got, "{\"to\":\"unix:nosuch/b.sock\"}");
	free(got);
	got = body(&err, 2, (char *[]){"--to", "nosuch/b.sock"});
	assert_string_equal(got, "{\"to\":\"nosuch/b.sock\"}");

	assert_int_equal(chdir(cwd), 0);
	assert_int_equal(rmdir(sub), 0);
	assert_int_equal(rmdir(dir), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_body),	  cmocka_unit_test(test_max_downtime),
	    cmocka_unit_test(test_bandwidth),	  cmocka_unit_test(test_errors),
	    cmocka_unit_test(test_relative_dest),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
