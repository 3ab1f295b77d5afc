/* Unit tests for cli/args.c: the option grammar and the value parsers
 * (numbers, durations, --disk and --label). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <string.h>

#include "cli/cli.h"

static const struct cli_option opts_global[] = {
    {.name = "format", .arg = "FORMAT", .help = "h"},
    {.name = "help", .help = "h"},
    {0},
};
static const struct cli_option opts_verb[] = {
    {.name = "timeout", .arg = "SECONDS", .help = "h"},
    {.name = "force", .help = "h"},
    {0},
};
static const struct cli_option *const tables[] = {opts_global, opts_verb, NULL};

static int parse(struct cli_args *a, struct werr *err, bool stop, int argc, ...)
{
	char *argv[16];
	va_list ap;

	va_start(ap, argc);
	for (int i = 0; i < argc; i++)
		argv[i] = va_arg(ap, char *);
	va_end(ap);
	*a = (struct cli_args){0};
	return cli_args_parse(a, argc, argv, tables, stop, err);
}

static void test_args_mixed(void **state)
{
	struct werr err = {0};
	struct cli_args a;

	assert_int_equal(parse(&a, &err, false, 7, "web1", "--timeout", "30", "--force",
			       "--format=json", "--", "--not-an-option"),
			 7);
	assert_int_equal(a.n_pos, 2);
	assert_string_equal(a.pos[0], "web1");
	assert_string_equal(a.pos[1], "--not-an-option");
	assert_string_equal(cli_opt_get(&a, "timeout"), "30");
	assert_string_equal(cli_opt_get(&a, "format"), "json");
	assert_true(cli_opt_has(&a, "force"));
	assert_null(cli_opt_get(&a, "force")); /* a flag has no value */
	assert_false(cli_opt_has(&a, "help"));
	cli_args_clear(&a);
}

static void test_args_last_wins_and_dash(void **state)
{
	struct werr err = {0};
	struct cli_args a;

	assert_int_equal(parse(&a, &err, false, 5, "--timeout", "1", "-", "--timeout=2", "-h"), 5);
	assert_string_equal(cli_opt_get(&a, "timeout"), "2");
	assert_int_equal(a.n_pos, 1);
	assert_string_equal(a.pos[0], "-"); /* "-" alone is an operand */
	assert_true(cli_opt_has(&a, "help"));
	cli_args_clear(&a);
}

static void test_args_stop_at_operand(void **state)
{
	struct werr err = {0};
	struct cli_args a;

	/* The first pass reads global options up to the verb. */
	assert_int_equal(parse(&a, &err, true, 4, "--format", "yaml", "list", "--force"), 2);
	assert_int_equal(a.n_pos, 0);
	assert_string_equal(cli_opt_get(&a, "format"), "yaml");
	cli_args_clear(&a);
}

static void test_args_errors(void **state)
{
	static const struct {
		const char *arg1, *arg2, *message;
	} cases[] = {
	    {"--bogus", NULL, "unknown option '--bogus'"},
	    {"-x", NULL, "unknown option '-x'"},
	    {"--force=yes", NULL, "option --force takes no value"},
	    {"--timeout", NULL, "option --timeout needs a value (SECONDS)"},
	    {"web1", "--forc", "unknown option '--forc'"},
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct werr err = {0};
		struct cli_args a;
		int r = cases[i].arg2 ? parse(&a, &err, false, 2, cases[i].arg1, cases[i].arg2)
				      : parse(&a, &err, false, 1, cases[i].arg1);

		assert_int_equal(r, -EINVAL);
		assert_string_equal(err.message, cases[i].message);
		cli_args_clear(&a);
	}
}

static void test_parse_uint(void **state)
{
	uint64_t v = 7;

	assert_int_equal(cli_parse_uint("0", 10, &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(cli_parse_uint("4294967295", UINT32_MAX, &v), 0);
	assert_int_equal(v, UINT32_MAX);
	assert_int_equal(cli_parse_uint("4294967296", UINT32_MAX, &v), -ERANGE);
	assert_int_equal(cli_parse_uint("99999999999999999999999", UINT64_MAX, &v), -ERANGE);
	assert_int_equal(cli_parse_uint("", 10, &v), -EINVAL);
	assert_int_equal(cli_parse_uint("-1", 10, &v), -EINVAL);
	assert_int_equal(cli_parse_uint(" 1", 10, &v), -EINVAL);
	assert_int_equal(cli_parse_uint("1s", 10, &v), -EINVAL);
	assert_int_equal(cli_parse_uint(NULL, 10, &v), -EINVAL);
	assert_int_equal(v, UINT32_MAX); /* untouched by the failures */
}

static void test_duration(void **state)
{
	static const struct {
		const char *s;
		uint64_t ms;
	} good[] = {
	    {"30s", 30000},	{"10m", 600000}, {"1h", 3600000}, {"2d", 172800000}, {"500ms", 500},
	    {"1h30m", 5400000}, {"45", 45000},	 {"0s", 0},	  {"1m1ms", 60001},
	};
	static const char *const bad[] = {
	    "",
	    "s",
	    "10x",
	    "-5m",
	    "1.5h",
	    "10 m",
	    "1h30",
	    "m10",
	    "99999999999999999999d",
	    "213503982335d",
	};
	uint64_t v;

	for (size_t i = 0; i < ARRAY_SIZE(good); i++) {
		assert_int_equal(cli_parse_duration_ms(good[i].s, &v), 0);
		assert_int_equal(v, good[i].ms);
	}
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		if (cli_parse_duration_ms(bad[i], &v) >= 0)
			fail_msg("accepted duration '%s'", bad[i]);
	}
}

static void assert_disk(const char *spec, const char *expected_json)
{
	struct werr err = {0};
	_cleanup_json_ json_t *disk = NULL;
	_cleanup_free_ char *got = NULL;

	if (cli_parse_disk(spec, &disk, &err) < 0)
		fail_msg("--disk '%s' refused: %s", spec, err.message);
	got = json_dumps(disk, JSON_COMPACT | JSON_SORT_KEYS);
	assert_string_equal(got, expected_json);
}

static void test_disk_good(void **state)
{
	assert_disk("name=root,size=2G", "{\"name\":\"root\",\"size\":\"2G\"}");
	assert_disk("root,size=2G", "{\"name\":\"root\",\"size\":\"2G\"}");
	assert_disk("name=data,size=1G,image=/img/base.qcow2,readonly",
		    "{\"image\":\"/img/base.qcow2\",\"name\":\"data\",\"readonly\":true,"
		    "\"size\":\"1G\"}");
	assert_disk("readonly=false,name=x,bus=virtio",
		    "{\"bus\":\"virtio\",\"name\":\"x\",\"readonly\":false}");
	/* Values are the daemon's to judge: sent as typed. */
	assert_disk("name=x,size=lots", "{\"name\":\"x\",\"size\":\"lots\"}");
	/* iops is a number; bps a size, as written. */
	assert_disk("data,iops=200,bps=50M", "{\"bps\":\"50M\",\"iops\":200,\"name\":\"data\"}");
	assert_disk("data,bps=100,iops=0", "{\"bps\":\"100\",\"iops\":0,\"name\":\"data\"}");
}

static void test_disk_bad(void **state)
{
	static const struct {
		const char *spec, *message;
	} cases[] = {
	    {"", "--disk '': empty item"},
	    {"size=2G", "--disk 'size=2G': needs name=NAME"},
	    {"root,,size=2G", "--disk 'root,,size=2G': empty item"},
	    {"root,size=2G,", "--disk 'root,size=2G,': empty item"},
	    {"root,2G", "--disk 'root,2G': '2G' is not KEY=VALUE"},
	    {"root,sise=2G", "--disk 'root,sise=2G': unknown key 'sise' (name, size, image, "
			     "readonly, bus, iops, bps)"},
	    {"root,iops=fast", "--disk 'root,iops=fast': iops takes a whole number, like 200, "
			       "not 'fast'"},
	    {"root,pin=0", "--disk 'root,pin=0': unknown key 'pin' (name, size, image, readonly, "
			   "bus, iops, bps)"},
	    {"root,size=", "--disk 'root,size=': size has no value"},
	    {"root,size=1G,size=2G", "--disk 'root,size=1G,size=2G': size given twice"},
	    {"name=a,name=b", "--disk 'name=a,name=b': name given twice"},
	    {"root,readonly=maybe", "--disk 'root,readonly=maybe': readonly takes true or "
				    "false, not 'maybe'"},
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct werr err = {0};
		json_t *disk = NULL;

		assert_int_equal(cli_parse_disk(cases[i].spec, &disk, &err), -EINVAL);
		assert_null(disk);
		assert_string_equal(err.message, cases[i].message);
	}
}

static void test_label(void **state)
{
	struct werr err = {0};
	char *key = NULL;
	const char *value;

	assert_int_equal(cli_parse_label("env=prod", "label", &key, &value, &err), 0);
	assert_string_equal(key, "env");
	assert_string_equal(value, "prod");
	free(key);
	assert_int_equal(cli_parse_label("a=b=c", "label", &key, &value, &err), 0);
	assert_string_equal(key, "a");
	assert_string_equal(value, "b=c");
	free(key);
	assert_int_equal(cli_parse_label("empty=", "label", &key, &value, &err), 0);
	assert_string_equal(value, "");
	free(key);
	assert_int_equal(cli_parse_label("novalue", "label", &key, &value, &err), -EINVAL);
	assert_string_equal(err.message, "--label 'novalue': expected KEY=VALUE");
	assert_int_equal(cli_parse_label("=v", "label", &key, &value, &err), -EINVAL);
	/* The error names the option it was given to. */
	assert_int_equal(cli_parse_label("zone", "require-label", &key, &value, &err), -EINVAL);
	assert_string_equal(err.message, "--require-label 'zone': expected KEY=VALUE");
}

/* Decimal numbers as people write them; what strtod also takes is not. */
static void test_decimal(void **state)
{
	static const struct {
		const char *s;
		double v;
	} good[] = {{"0", 0},  {"2", 2},       {"0.5", 0.5},  {".5", 0.5},
		    {"1.", 1}, {"-1.5", -1.5}, {"0.15", 0.15}};
	static const char *const bad[] = {"",	  ".",	"-",  "1e3",   "inf", "nan",
					  "0x10", " 1", "1 ", "1.2.3", "+1",  "1,5"};
	double v;

	for (size_t i = 0; i < ARRAY_SIZE(good); i++) {
		assert_int_equal(cli_parse_decimal(good[i].s, &v), 0);
		assert_true(v == good[i].v);
	}
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
		if (cli_parse_decimal(bad[i], &v) != -EINVAL)
			fail_msg("'%s' was taken", bad[i]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_args_mixed),
	    cmocka_unit_test(test_args_last_wins_and_dash),
	    cmocka_unit_test(test_args_stop_at_operand),
	    cmocka_unit_test(test_args_errors),
	    cmocka_unit_test(test_parse_uint),
	    cmocka_unit_test(test_duration),
	    cmocka_unit_test(test_disk_good),
	    cmocka_unit_test(test_disk_bad),
	    cmocka_unit_test(test_label),
	    cmocka_unit_test(test_decimal),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
