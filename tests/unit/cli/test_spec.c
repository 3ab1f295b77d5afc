/* Unit tests for cli/spec.c: how create's flags and --from file become the
 * POST /v1/vms body, and which mistakes are refused before any request. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/cli.h"

/* spec_build reads options by name; these mirror create's. */
static const struct cli_option create_opts[] = {
    {.name = "cpus", .arg = "N"},
    {.name = "memory", .arg = "SIZE"},
    {.name = "kernel", .arg = "PATH"},
    {.name = "initrd", .arg = "PATH"},
    {.name = "cmdline", .arg = "S"},
    {.name = "disk", .arg = "SPEC"},
    {.name = "nic", .arg = "SPEC"},
    {.name = "no-serial"},
    {.name = "label", .arg = "KV"},
    {.name = "cpu-weight", .arg = "N"},
    {.name = "cpu-limit", .arg = "CPUS"},
    {.name = "memory-limit", .arg = "SIZE"},
    {.name = "memory-reservation", .arg = "SIZE"},
    {.name = "pin", .arg = "LIST"},
    {.name = "security", .arg = "POLICY"},
    {.name = "performance", .arg = "POLICY"},
    {.name = "policy", .arg = "P"},
    {.name = "from", .arg = "FILE"},
    {0},
};

static char dir[PATH_MAX];

static void write_file(const char *name, const char *text)
{
	_cleanup_close_ int fd = open(name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
}

static int setup(void **state)
{
	char tmpl[] = "/tmp/warren-cli-test-XXXXXX";

	if (!mkdtemp(tmpl) || !realpath(tmpl, dir) || chdir(dir) < 0 || mkdir("conf", 0755) < 0)
		return -1;
	write_file("vmlinuz", "k");
	write_file("conf/initrd.img", "i");
	write_file("conf/base.qcow2", "b");
	return 0;
}

static int teardown(void **state)
{
	static const char *const files[] = {"vmlinuz",	     "conf/initrd.img", "conf/base.qcow2",
					    "conf/web.json", "conf/list.json",	"conf/bad.json",
					    "conf/res.json", "conf/nics.json"};

	for (size_t i = 0; i < ARRAY_SIZE(files); i++)
		unlink(files[i]);
	rmdir("conf");
	if (chdir("/") < 0)
		return -1;
	return rmdir(dir);
}

/* spec_build over argv; the body as sorted compact JSON, or NULL with err. */
static char *build(struct werr *err, const char *name, int argc, char **argv)
{
	const struct cli_option *const tables[] = {create_opts, NULL};
	_cleanup_json_ json_t *spec = NULL;
	struct cli_args a = {0};
	int r;

	assert_int_equal(cli_args_parse(&a, argc, argv, tables, false, err), argc);
	r = spec_build(&a, name, &spec, err);
	cli_args_clear(&a);
	return r < 0 ? NULL : json_dumps(spec, JSON_COMPACT | JSON_SORT_KEYS);
}

#define BUILD(err, name, ...)                                                                      \
	build(err, name, ARRAY_SIZE(((char *[]){__VA_ARGS__})), (char *[]){__VA_ARGS__})

static void test_flags(void **state)
{
	struct werr err = {0};
	_cleanup_free_ char *got = NULL, *want = NULL;

	got = BUILD(&err, "web1", "--cpus", "2", "--memory", "512M", "--kernel", "vmlinuz",
		    "--initrd", "missing.img", "--cmdline", "console=ttyS0", "--disk",
		    "root,size=2G,image=conf/base.qcow2", "--disk", "name=data,size=1G",
		    "--no-serial", "--label", "env=prod", "--label", "tier=web");
	assert_non_null(got);
	assert_true(asprintf(&want,
			     "{\"cmdline\":\"console=ttyS0\",\"cpus\":2,"
			     "\"disks\":[{\"image\":\"%s/conf/base.qcow2\",\"name\":\"root\","
			     "\"size\":\"2G\"},{\"name\":\"data\",\"size\":\"1G\"}],"
			     "\"initrd\":\"missing.img\",\"kernel\":\"%s/vmlinuz\","
			     "\"labels\":{\"env\":\"prod\",\"tier\":\"web\"},\"memory\":\"512M\","
			     "\"name\":\"web1\",\"serial\":false}",
			     dir, dir) > 0);
	assert_string_equal(got, want);
}

static void test_cpus_sent_as_typed(void **state)
{
	static const struct {
		char *flag;
		const char *json;
	} cases[] = {
	    {"4", "{\"cpus\":4,\"name\":\"x\"}"},
	    {"-1", "{\"cpus\":-1,\"name\":\"x\"}"},
	    {"two", "{\"cpus\":\"two\",\"name\":\"x\"}"},
	    {"2.5", "{\"cpus\":\"2.5\",\"name\":\"x\"}"},
	    {" 2", "{\"cpus\":\" 2\",\"name\":\"x\"}"},
	    {"99999999999999999999", "{\"cpus\":\"99999999999999999999\",\"name\":\"x\"}"},
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct werr err = {0};
		_cleanup_free_ char *got = BUILD(&err, "x", "--cpus", cases[i].flag);

		assert_non_null(got);
		assert_string_equal(got, cases[i].json);
	}
}

static void test_from_file(void **state)
{
	struct werr err = {0};
	_cleanup_free_ char *got = NULL, *want = NULL;

	/* Paths in the file are relative to the file's folder. */
	write_file("conf/web.json",
		   "{\"name\": \"fromfile\", \"cpus\": 1, \"memory\": \"256M\","
		   " \"initrd\": \"initrd.img\", \"kernel\": \"../vmlinuz\","
		   " \"disks\": [{\"name\": \"a\", \"size\": \"1G\", \"image\": \"base.qcow2\"}],"
		   " \"labels\": {\"a\": \"1\", \"b\": \"2\"}}");
	got = BUILD(&err, NULL, "--from", "conf/web.json", "--memory", "1G", "--label", "b=3");
	assert_non_null(got);
	assert_true(asprintf(&want,
			     "{\"cpus\":1,\"disks\":[{\"image\":\"%s/conf/base.qcow2\",\"name\":"
			     "\"a\",\"size\":\"1G\"}],\"initrd\":\"%s/conf/initrd.img\","
			     "\"kernel\":\"%s/vmlinuz\",\"labels\":{\"a\":\"1\",\"b\":\"3\"},"
			     "\"memory\":\"1G\",\"name\":\"fromfile\"}",
			     dir, dir, dir) > 0);
	assert_string_equal(got, want);
	free(got);

	/* NAME wins over the file's; --disk replaces the file's disks. */
	got = BUILD(&err, "web9", "--from", "conf/web.json", "--disk", "b,size=5G");
	assert_non_null(got);
	assert_non_null(strstr(got, "\"name\":\"web9\""));
	assert_non_null(strstr(got, "\"disks\":[{\"name\":\"b\",\"size\":\"5G\"}]"));
}

static void test_errors(void **state)
{
	static const struct {
		const char *file_text; /* written to conf/bad.json when set */
		char *flag, *value;
		const char *message;
		bool prefix; /* jansson words its parse errors its own way */
	} cases[] = {
	    {NULL, "--memory", "1G", "missing NAME", false},
	    {NULL, "--from", "conf/none.json", "--from conf/none.json: No such file or directory",
	     false},
	    {"[1, 2]", "--from", "conf/bad.json",
	     "--from conf/bad.json: expected a JSON object (a VM spec)", false},
	    {"{\"cpus\": 2,", "--from", "conf/bad.json", "--from conf/bad.json: line 1: ", true},
	    {"{\"cpus\": 2}", "--from", "conf/bad.json",
	     "no NAME given and conf/bad.json has no \"name\"", false},
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct werr err = {0};
		_cleanup_free_ char *got = NULL;

		if (cases[i].file_text)
			write_file("conf/bad.json", cases[i].file_text);
		got = BUILD(&err, NULL, cases[i].flag, cases[i].value);
		assert_null(got);
		if (cases[i].prefix
			? strncmp(err.message, cases[i].message, strlen(cases[i].message))
			: strcmp(err.message, cases[i].message))
			fail_msg("case %zu: got '%s'", i, err.message);
	}
}

static void test_bad_disk_and_label(void **state)
{
	struct werr err = {0};

	assert_null(BUILD(&err, "x", "--disk", "root,size=1G", "--disk", "size=1G"));
	assert_string_equal(err.message, "--disk 'size=1G': needs name=NAME");
	assert_null(BUILD(&err, "x", "--label", "oops"));
	assert_string_equal(err.message, "--label 'oops': expected KEY=VALUE");
}

/* --nic, any number of times, in command-line order; like --disk, the
 * flags replace a --from file's NICs as a whole. */
static void test_nics(void **state)
{
	struct werr err = {0};
	_cleanup_free_ char *got = NULL;

	got = BUILD(&err, "x", "--nic", "lan", "--nic",
		    "network=dmz,mac=52:57:00:00:00:02,ip=10.1.0.9,mtu=1400,rate=10Mbit,"
		    "model=e1000,trust=on,link=down,vlan=7",
		    "--nic", "lan,trust=off");
	assert_non_null(got);
	assert_string_equal(got, "{\"name\":\"x\",\"nics\":[{\"network\":\"lan\"},"
				 "{\"ip\":\"10.1.0.9\",\"link\":\"down\",\"mac\":"
				 "\"52:57:00:00:00:02\",\"model\":\"e1000\",\"mtu\":1400,"
				 "\"network\":\"dmz\",\"rate\":\"10Mbit\",\"trust\":true,"
				 "\"vlan\":7},{\"network\":\"lan\",\"trust\":false}]}");
	free(got);

	write_file("conf/nics.json", "{\"name\": \"n\", \"nics\": [{\"network\": \"a\"},"
				     " {\"network\": \"b\"}]}");
	got = BUILD(&err, NULL, "--from", "conf/nics.json");
	assert_non_null(got);
	assert_string_equal(got,
			    "{\"name\":\"n\",\"nics\":[{\"network\":\"a\"},{\"network\":\"b\"}]}");
	free(got);
	got = BUILD(&err, NULL, "--from", "conf/nics.json", "--nic", "c");
	assert_non_null(got);
	assert_string_equal(got, "{\"name\":\"n\",\"nics\":[{\"network\":\"c\"}]}");
	free(got);

	/* The first bad --nic is the one reported. */
	got = BUILD(&err, "x", "--nic", "lan", "--nic", "lan,mtu=big", "--nic", "vlan=3");
	assert_null(got);
	assert_string_equal(err.message,
			    "--nic 'lan,mtu=big': mtu takes a whole number, not 'big'");
	assert_string_equal(err.field, "nics");
}

static void test_resources(void **state)
{
	struct werr err = {0};
	_cleanup_free_ char *got = NULL;

	got = BUILD(&err, "x", "--cpu-weight", "400", "--cpu-limit", "0.5", "--memory-limit", "1G",
		    "--memory-reservation", "512M", "--pin", "0,1", "--security", "trusted",
		    "--performance", "latency", "--disk", "name=data,size=1G,iops=200,bps=50M");
	assert_non_null(got);
	assert_string_equal(got, "{\"disks\":[{\"bps\":\"50M\",\"iops\":200,\"name\":\"data\","
				 "\"size\":\"1G\"}],\"name\":\"x\",\"performance\":\"latency\","
				 "\"resources\":{\"cpu_limit\":0.5,\"cpu_weight\":400,"
				 "\"memory_limit\":\"1G\",\"memory_reservation\":\"512M\","
				 "\"pin\":[0,1]},\"security\":\"trusted\"}");
}

static void test_policy(void **state)
{
	static struct {
		char *args[4];
		const char *json;
	} cases[] = {
	    {{"--policy", "trusted,latency"},
	     "{\"name\":\"x\",\"performance\":\"latency\",\"security\":\"trusted\"}"},
	    {{"--policy", "density"}, "{\"name\":\"x\",\"performance\":\"density\"}"},
	    {{"--policy", "balanced,strict"},
	     "{\"name\":\"x\",\"performance\":\"balanced\",\"security\":\"strict\"}"},
	    /* The last word for a key wins, whichever flag gave it. */
	    {{"--security", "trusted", "--policy", "strict"},
	     "{\"name\":\"x\",\"security\":\"strict\"}"},
	    {{"--policy", "latency", "--performance", "density"},
	     "{\"name\":\"x\",\"performance\":\"density\"}"},
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct werr err = {0};
		int argc = cases[i].args[2] ? 4 : 2;
		_cleanup_free_ char *got = build(&err, "x", argc, cases[i].args);

		assert_non_null(got);
		assert_string_equal(got, cases[i].json);
	}
}

/* A --from file's resources are kept but for the keys the flags set. */
static void test_resources_from_file(void **state)
{
	struct werr err = {0};
	_cleanup_free_ char *got = NULL;

	write_file("conf/res.json", "{\"name\": \"r\", \"security\": \"trusted\","
				    " \"resources\": {\"cpu_weight\": 50, \"pin\": [3]}}");
	got = BUILD(&err, NULL, "--from", "conf/res.json", "--pin", "1", "--cpu-limit", "1.5",
		    "--policy", "strict");
	assert_non_null(got);
	assert_string_equal(got, "{\"name\":\"r\",\"resources\":{\"cpu_limit\":1.5,"
				 "\"cpu_weight\":50,\"pin\":[1]},\"security\":\"strict\"}");
}

/*
 * One flag each: what it sends (want is the body, which begins with "{"),
 * or, when its form is wrong, the error said before any request (want is
 * the message). Only what was given goes: the daemon fills in the
 * defaults and judges ranges and choices.
 */
#define PIN_FORM "host CPU numbers separated by commas, one per vCPU, like 0,1"

static void test_resource_flags(void **state)
{
	static const struct {
		char *flag, *value;
		const char *want;
	} cases[] = {
	    {"--cpu-limit", "2", "{\"name\":\"x\",\"resources\":{\"cpu_limit\":2}}"},
	    {"--cpu-limit", ".25", "{\"name\":\"x\",\"resources\":{\"cpu_limit\":0.25}}"},
	    {"--pin", "7", "{\"name\":\"x\",\"resources\":{\"pin\":[7]}}"},
	    {"--memory-limit", "3000000000",
	     "{\"name\":\"x\",\"resources\":{\"memory_limit\":\"3000000000\"}}"},
	    {"--security", "strict", "{\"name\":\"x\",\"security\":\"strict\"}"},
	    {"--cpu-weight", "0", "{\"name\":\"x\",\"resources\":{\"cpu_weight\":0}}"},
	    {"--cpu-weight", "-5", "{\"name\":\"x\",\"resources\":{\"cpu_weight\":-5}}"},
	    {"--cpu-limit", "999.5", "{\"name\":\"x\",\"resources\":{\"cpu_limit\":999.5}}"},
	    {"--pin", "4096,0", "{\"name\":\"x\",\"resources\":{\"pin\":[4096,0]}}"},
	    {"--performance", "turbo", "{\"name\":\"x\",\"performance\":\"turbo\"}"},
	    {"--disk", "d,iops=-1", "{\"disks\":[{\"iops\":-1,\"name\":\"d\"}],\"name\":\"x\"}"},
	    {"--pin", "0-3", "--pin takes " PIN_FORM ", not '0-3'"},
	    {"--pin", "0,,1", "--pin takes " PIN_FORM ", not '0,,1'"},
	    {"--pin", "", "--pin takes " PIN_FORM ", not ''"},
	    {"--pin", "0,1,", "--pin takes " PIN_FORM ", not '0,1,'"},
	    {"--pin", " 1", "--pin takes " PIN_FORM ", not ' 1'"},
	    {"--pin", "99999999999", "--pin takes " PIN_FORM ", not '99999999999'"},
	    {"--cpu-limit", "half", "--cpu-limit takes a number of CPUs, like 0.5, not 'half'"},
	    {"--cpu-limit", "1e3", "--cpu-limit takes a number of CPUs, like 0.5, not '1e3'"},
	    {"--cpu-limit", "inf", "--cpu-limit takes a number of CPUs, like 0.5, not 'inf'"},
	    {"--cpu-limit", ".", "--cpu-limit takes a number of CPUs, like 0.5, not '.'"},
	    {"--cpu-weight", "1.5", "--cpu-weight takes a whole number, like 200, not '1.5'"},
	    {"--cpu-weight", "99999999999999999999",
	     "--cpu-weight takes a whole number, like 200, not '99999999999999999999'"},
	    {"--policy", "fast",
	     "--policy 'fast': unknown policy 'fast' (strict, trusted, balanced, latency, "
	     "density)"},
	    {"--policy", "trusted,",
	     "--policy 'trusted,': unknown policy '' (strict, trusted, balanced, latency, "
	     "density)"},
	    {"--policy", "strict,trusted",
	     "--policy 'strict,trusted': strict and trusted are both security policies; give one"},
	    {"--policy", "latency,density",
	     "--policy 'latency,density': latency and density are both performance policies; "
	     "give one"},
	    {"--disk", "d,iops=lots",
	     "--disk 'd,iops=lots': iops takes a whole number, like 200, not 'lots'"},
	    {"--disk", "d,iops=1,iops=2", "--disk 'd,iops=1,iops=2': iops given twice"},
	    {"--disk", "d,bps=", "--disk 'd,bps=': bps has no value"},
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct werr err = {0};
		_cleanup_free_ char *got = BUILD(&err, "x", cases[i].flag, cases[i].value);
		const char *have = cases[i].want[0] == '{' ? got : err.message;

		if (!have || strcmp(have, cases[i].want) != 0 || (got && have != got))
			fail_msg("case %zu (%s %s): got %s / '%s'", i, cases[i].flag,
				 cases[i].value, got ? got : "NULL", err.message);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_flags),
	    cmocka_unit_test(test_cpus_sent_as_typed),
	    cmocka_unit_test(test_from_file),
	    cmocka_unit_test(test_errors),
	    cmocka_unit_test(test_bad_disk_and_label),
	    cmocka_unit_test(test_nics),
	    cmocka_unit_test(test_resources),
	    cmocka_unit_test(test_resource_flags),
	    cmocka_unit_test(test_policy),
	    cmocka_unit_test(test_resources_from_file),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
