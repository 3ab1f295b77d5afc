/* Unit tests for cli/resources.c: how the KEY=VALUE items of "warren set"
 * (resources, disk limits, NIC rate and link) become the PATCH
 * /v1/vms/NAME body, and which mistakes are refused before any request. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <string.h>

#include "cli/cli.h"

#define KEYS                                                                                       \
	"(keys: cpu_weight, cpu_limit, memory_limit, memory_reservation, pin, disk.DISK.iops, "    \
	"disk.DISK.bps, nicN.rate, nicN.link)"

#define PIN_FORM  "host CPU numbers separated by commas, one per vCPU, like 0,1"
#define DISK_FORM "write a disk's keys as disk.DISK.iops or disk.DISK.bps"

/* The body as sorted compact JSON, or NULL with err. */
static char *patch(struct werr *err, size_t n, const char *const *items)
{
	_cleanup_json_ json_t *body = NULL;

	if (cli_patch_build(items, n, &body, err) < 0)
		return NULL;
	return json_dumps(body, JSON_COMPACT | JSON_SORT_KEYS);
}

#define PATCH(err, ...)                                                                            \
	patch(err, ARRAY_SIZE(((const char *[]){__VA_ARGS__})), (const char *[]){__VA_ARGS__})

static void test_every_key(void **state)
{
	struct werr err = {0};
	_cleanup_free_ char *got = NULL;

	got = PATCH(&err, "cpu_weight=400", "cpu_limit=0.5", "memory_limit=1G",
		    "memory_reservation=512M", "pin=0,1", "disk.data.iops=300", "disk.data.bps=20M",
		    "disk.root.bps=1048576");
	assert_non_null(got);
	assert_string_equal(got, "{\"cpu_limit\":0.5,\"cpu_weight\":400,"
				 "\"disks\":{\"data\":{\"bps\":\"20M\",\"iops\":300},"
				 "\"root\":{\"bps\":\"1048576\"}},\"memory_limit\":\"1G\","
				 "\"memory_reservation\":\"512M\",\"pin\":[0,1]}");
}

static void test_none_clears(void **state)
{
	struct werr err = {0};
	_cleanup_free_ char *got = NULL;

	got = PATCH(&err, "cpu_limit=none", "memory_limit=none", "memory_reservation=none",
		    "pin=none", "disk.data.iops=none", "disk.data.bps=none");
	assert_non_null(got);
	assert_string_equal(got, "{\"cpu_limit\":null,\"disks\":{\"data\":{\"bps\":null,"
				 "\"iops\":null}},\"memory_limit\":null,"
				 "\"memory_reservation\":null,\"pin\":null}");
	free(got);

	/* Whether a key may be cleared is the daemon's to say. */
	got = PATCH(&err, "cpu_weight=none");
	assert_non_null(got);
	assert_string_equal(got, "{\"cpu_weight\":null}");
}

static void test_values_as_typed(void **state)
{
	static const struct {
		const char *item, *json;
	} cases[] = {
	    {"cpu_limit=2", "{\"cpu_limit\":2}"},
	    {"cpu_limit=1.25", "{\"cpu_limit\":1.25}"},
	    {"cpu_weight=0", "{\"cpu_weight\":0}"}, /* the daemon judges ranges */
	    {"cpu_weight=-3", "{\"cpu_weight\":-3}"},
	    {"pin=3", "{\"pin\":[3]}"},
	    {"memory_limit=lots", "{\"memory_limit\":\"lots\"}"}, /* sizes go as written */
	    {"disk.a.b.iops=5", "{\"disks\":{\"a.b\":{\"iops\":5}}}"},
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct werr err = {0};
		_cleanup_free_ char *got = PATCH(&err, cases[i].item);

		if (!got || strcmp(got, cases[i].json) != 0)
			fail_msg("case %zu (%s): got %s (%s)", i, cases[i].item, got ? got : "NULL",
				 err.message);
	}
}

static void test_nics(void **state)
{
	static const struct {
		const char *items[4];
		const char *json;
	} cases[] = {
	    {{"nic0.rate=20Mbit", "nic0.link=down"},
	     "{\"nics\":{\"nic0\":{\"link\":\"down\",\"rate\":\"20Mbit\"}}}"},
	    /* none and off clear the rate. */
	    {{"nic0.rate=none"}, "{\"nics\":{\"nic0\":{\"rate\":null}}}"},
	    {{"nic1.rate=off", "nic0.link=up"},
	     "{\"nics\":{\"nic0\":{\"link\":\"up\"},\"nic1\":{\"rate\":null}}}"},
	    /* The rate goes as written, for the daemon to read. */
	    {{"nic12.rate=1.5gbit"}, "{\"nics\":{\"nic12\":{\"rate\":\"1.5gbit\"}}}"},
	    /* With the VM's resources and disks in one body. */
	    {{"cpu_limit=1", "nic0.rate=500kbit", "disk.root.iops=100", "nic0.link=down"},
	     "{\"cpu_limit\":1,\"disks\":{\"root\":{\"iops\":100}},"
	     "\"nics\":{\"nic0\":{\"link\":\"down\",\"rate\":\"500kbit\"}}}"},
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct werr err = {0};
		size_t n = 0;
		_cleanup_free_ char *got = NULL;

		while (n < 4 && cases[i].items[n])
			n++;
		got = patch(&err, n, cases[i].items);
		if (!got || strcmp(got, cases[i].json) != 0)
			fail_msg("case %zu (%s): got %s (%s)", i, cases[i].items[0],
				 got ? got : "NULL", err.message);
	}
}

static void test_bad(void **state)
{
	static const struct {
		const char *items[2];
		const char *message;
	} cases[] = {
	    {{"frob=1"}, "unknown key 'frob' " KEYS},
	    {{"cpus=2"}, "unknown key 'cpus' " KEYS},
	    {{"disk.data.size=1G"}, "unknown key 'disk.data.size' " KEYS},
	    {{"disk.data.cpu_weight=1"}, "unknown key 'disk.data.cpu_weight' " KEYS},
	    {{"iops=5"}, "unknown key 'iops' " KEYS},
	    {{"cpu_weight"}, "'cpu_weight' is not KEY=VALUE " KEYS},
	    {{"=5"}, "'=5' is not KEY=VALUE " KEYS},
	    {{"cpu_limit="}, "cpu_limit has no value (give one, or none to clear it)"},
	    {{"cpu_weight=1", "cpu_weight=2"}, "cpu_weight given twice"},
	    {{"disk.d.iops=1", "disk.d.iops=none"}, "disk.d.iops given twice"},
	    {{"disk.iops=5"}, "'disk.iops=5': " DISK_FORM},
	    {{"disk..iops=5"}, "'disk..iops=5': " DISK_FORM},
	    {{"disk.data.=5"}, "'disk.data.=5': " DISK_FORM},
	    {{"cpu_weight=heavy"}, "cpu_weight takes a whole number, like 200, not 'heavy'"},
	    {{"cpu_limit=1/2"}, "cpu_limit takes a number of CPUs, like 0.5, not '1/2'"},
	    {{"pin=0;1"}, "pin takes " PIN_FORM ", not '0;1'"},
	    {{"pin=-1"}, "pin takes " PIN_FORM ", not '-1'"},
	    {{"disk.d.iops=1.5"}, "disk.d.iops takes a whole number, like 200, not '1.5'"},
	    {{"nic0.mtu=9000"}, "unknown key 'nic0.mtu' " KEYS},
	    {{"nic0.rate.x=1"}, "unknown key 'nic0.rate.x' " KEYS},
	    {{"nic.rate=1Mbit"}, "unknown key 'nic.rate' " KEYS},
	    {{"nicA.link=up"}, "unknown key 'nicA.link' " KEYS},
	    {{"eth0.rate=1Mbit"}, "unknown key 'eth0.rate' " KEYS},
	    {{"nic0=up"}, "unknown key 'nic0' " KEYS},
	    {{"nic0.link=off"}, "nic0.link takes up or down, not 'off'"},
	    {{"nic0.link=none"}, "nic0.link takes up or down, not 'none'"},
	    {{"nic0.link=Up"}, "nic0.link takes up or down, not 'Up'"},
	    {{"nic0.rate="}, "nic0.rate has no value (give one, or none to clear it)"},
	    {{"nic0.rate=1Mbit", "nic0.rate=off"}, "nic0.rate given twice"},
	    {{"nic1.link=up", "nic1.link=down"}, "nic1.link given twice"},
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct werr err = {0};
		size_t n = cases[i].items[1] ? 2 : 1;
		_cleanup_free_ char *got = patch(&err, n, cases[i].items);

		assert_null(got);
		if (strcmp(err.message, cases[i].message) != 0)
			fail_msg("case %zu: got '%s'", i, err.message);
	}
}

static void test_nothing_to_set(void **state)
{
	struct werr err = {0};
	json_t *body = NULL;

	assert_int_equal(cli_patch_build(NULL, 0, &body, &err), -EINVAL);
	assert_null(body);
	assert_string_equal(err.message, "missing KEY=VALUE: what to change " KEYS);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_every_key),
	    cmocka_unit_test(test_none_clears),
	    cmocka_unit_test(test_values_as_typed),
	    cmocka_unit_test(test_nics),
	    cmocka_unit_test(test_bad),
	    cmocka_unit_test(test_nothing_to_set),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
