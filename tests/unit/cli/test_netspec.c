/* Unit tests for cli/netspec.c: the NIC of "create --nic" and "nic add",
 * and the body of "network create", and which mistakes are refused before
 * any request. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <string.h>

#include "cli/cli.h"

#define NIC_KEYS "(network, name, mac, ip, mtu, rate, model, trust, link, vlan)"

/* The NIC as sorted compact JSON, or NULL with err. */
static char *nic(const char *spec, struct werr *err)
{
	_cleanup_json_ json_t *j = NULL;
	int r = cli_parse_nic(spec, "--nic", &j, err);

	if (r < 0) {
		assert_int_equal(r, -EINVAL);
		return NULL;
	}
	return json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
}

static void test_nic_valid(void **state)
{
	static const struct {
		const char *spec, *json;
	} cases[] = {
	    {"network=lan", "{\"network\":\"lan\"}"},
	    /* The network bare and first, as a disk's name may be. */
	    {"lan,ip=10.0.0.5", "{\"ip\":\"10.0.0.5\",\"network\":\"lan\"}"},
	    {"network=lan,name=nic3,mac=52:57:00:12:34:56,ip=10.0.0.5,mtu=9000,rate=10Mbit,"
	     "model=e1000,trust=on,link=down,vlan=42",
	     "{\"ip\":\"10.0.0.5\",\"link\":\"down\",\"mac\":\"52:57:00:12:34:56\","
	     "\"model\":\"e1000\",\"mtu\":9000,\"name\":\"nic3\",\"network\":\"lan\","
	     "\"rate\":\"10Mbit\",\"trust\":true,\"vlan\":42}"},
	    /* Keys in any order; trust also as true/false and yes/no. */
	    {"trust=off,network=dmz,link=up",
	     "{\"link\":\"up\",\"network\":\"dmz\",\"trust\":false}"},
	    {"lan,trust=yes", "{\"network\":\"lan\",\"trust\":true}"},
	    {"lan,trust=false", "{\"network\":\"lan\",\"trust\":false}"},
	    /* Ranges, addresses, rates and models are the daemon's to judge. */
	    {"lan,vlan=0,mtu=1", "{\"mtu\":1,\"network\":\"lan\",\"vlan\":0}"},
	    {"lan,vlan=5000", "{\"network\":\"lan\",\"vlan\":5000}"},
	    {"lan,ip=10.0.0.300,rate=fast,model=rtl8139,mac=zz",
	     "{\"ip\":\"10.0.0.300\",\"mac\":\"zz\",\"model\":\"rtl8139\",\"network\":\"lan\","
	     "\"rate\":\"fast\"}"},
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct werr err = {0};
		_cleanup_free_ char *got = nic(cases[i].spec, &err);

		if (!got || strcmp(got, cases[i].json) != 0)
			fail_msg("case %zu (%s): got %s (%s)", i, cases[i].spec, got ? got : "NULL",
				 err.message);
	}
}

static void test_nic_errors(void **state)
{
	static const struct {
		const char *spec, *message;
	} cases[] = {
	    {"ip=10.0.0.5", "--nic 'ip=10.0.0.5': needs network=NAME"},
	    {"", "--nic '': empty item"},
	    {"lan,,ip=1.2.3.4", "--nic 'lan,,ip=1.2.3.4': empty item"},
	    {"lan,", "--nic 'lan,': empty item"},
	    {"network=", "--nic 'network=': network has no value"},
	    {"lan,ip=", "--nic 'lan,ip=': ip has no value"},
	    {"lan,trusted", "--nic 'lan,trusted': 'trusted' is not KEY=VALUE"},
	    {"lan,speed=10Mbit", "--nic 'lan,speed=10Mbit': unknown key 'speed' " NIC_KEYS},
	    {"lan,Network=x", "--nic 'lan,Network=x': unknown key 'Network' " NIC_KEYS},
	    {"lan,network=dmz", "--nic 'lan,network=dmz': network given twice"},
	    {"lan,ip=1.2.3.4,ip=1.2.3.5", "--nic 'lan,ip=1.2.3.4,ip=1.2.3.5': ip given twice"},
	    {"lan,trust=maybe", "--nic 'lan,trust=maybe': trust takes on or off, not 'maybe'"},
	    {"lan,trust=ON", "--nic 'lan,trust=ON': trust takes on or off, not 'ON'"},
	    {"lan,link=off", "--nic 'lan,link=off': link takes up or down, not 'off'"},
	    {"lan,mtu=1.5k", "--nic 'lan,mtu=1.5k': mtu takes a whole number, not '1.5k'"},
	    {"lan,mtu=-1", "--nic 'lan,mtu=-1': mtu takes a whole number, not '-1'"},
	    {"lan,vlan=ten", "--nic 'lan,vlan=ten': vlan takes a whole number, not 'ten'"},
	    {"lan,vlan=99999999999",
	     "--nic 'lan,vlan=99999999999': vlan takes a whole number, not '99999999999'"},
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct werr err = {0};
		_cleanup_free_ char *got = nic(cases[i].spec, &err);

		assert_null(got);
		if (strcmp(err.message, cases[i].message) != 0)
			fail_msg("case %zu: got '%s'", i, err.message);
		assert_string_equal(err.field, "nics");
	}
}

/* nic add words its argument as NIC. */
static void test_nic_what(void **state)
{
	struct werr err = {0};
	json_t *j = NULL;

	assert_int_equal(cli_parse_nic("mtu=1500", "NIC", &j, &err), -EINVAL);
	assert_null(j);
	assert_string_equal(err.message, "NIC 'mtu=1500': needs network=NAME");
}

static const struct cli_option network_opts[] = {
    {.name = "subnet", .arg = "CIDR"}, {.name = "gateway", .arg = "IP"},
    {.name = "dhcp", .arg = "on|off"}, {.name = "nat", .arg = "on|off"},
    {.name = "mtu", .arg = "N"},       {.name = "vlan", .arg = "ID"},
    {.name = "uplink", .arg = "IF"},   {0},
};

/* cli_network_body over argv; the body as sorted compact JSON, or NULL
 * with err. */
static char *network(struct werr *err, int argc, char **argv)
{
	const struct cli_option *const tables[] = {network_opts, NULL};
	_cleanup_json_ json_t *body = NULL;
	struct cli_args a = {0};
	int r;

	assert_int_equal(cli_args_parse(&a, argc, argv, tables, false, err), argc);
	r = cli_network_body(&a, "lan", &body, err);
	cli_args_clear(&a);
	return r < 0 ? NULL : json_dumps(body, JSON_COMPACT | JSON_SORT_KEYS);
}

#define NETWORK(err, ...)                                                                          \
	network(err, ARRAY_SIZE(((char *[]){__VA_ARGS__})), (char *[]){__VA_ARGS__})

static void test_network_body(void **state)
{
	struct werr err = {0};
	_cleanup_free_ char *got = NULL;

	/* Only what is given: the daemon owns the defaults. */
	got = NETWORK(&err, "--subnet", "10.0.0.0/24");
	assert_non_null(got);
	assert_string_equal(got, "{\"name\":\"lan\",\"subnet\":\"10.0.0.0/24\"}");
	free(got);

	got = NETWORK(&err, "--subnet", "10.1.0.0/16", "--gateway", "10.1.0.254", "--dhcp", "off",
		      "--nat", "on", "--mtu", "9000", "--vlan", "42", "--uplink", "eth1");
	assert_non_null(got);
	assert_string_equal(got, "{\"dhcp\":false,\"gateway\":\"10.1.0.254\",\"mtu\":9000,"
				 "\"name\":\"lan\",\"nat\":true,\"subnet\":\"10.1.0.0/16\","
				 "\"uplink\":\"eth1\",\"vlan\":42}");
	free(got);

	/* The last of a flag given twice wins, as everywhere. */
	got = NETWORK(&err, "--subnet=10.0.0.0/24", "--nat", "yes", "--nat", "false");
	assert_non_null(got);
	assert_string_equal(got, "{\"name\":\"lan\",\"nat\":false,\"subnet\":\"10.0.0.0/24\"}");
}

static void test_network_body_errors(void **state)
{
	static struct {
		char *args[4];
		const char *message;
	} cases[] = {
	    {{"--nat", "on"}, "missing --subnet CIDR, the network's addresses, e.g. 10.0.0.0/24"},
	    {{"--subnet", "10.0.0.0/24", "--dhcp", "maybe"}, "--dhcp takes on or off, not 'maybe'"},
	    {{"--subnet", "10.0.0.0/24", "--nat", ""}, "--nat takes on or off, not ''"},
	    {{"--subnet", "10.0.0.0/24", "--mtu", "big"}, "--mtu takes a whole number, not 'big'"},
	    {{"--subnet", "10.0.0.0/24", "--vlan", "-3"}, "--vlan takes a whole number, not '-3'"},
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct werr err = {0};
		int argc = cases[i].args[2] ? 4 : 2;
		_cleanup_free_ char *got = network(&err, argc, cases[i].args);

		assert_null(got);
		if (strcmp(err.message, cases[i].message) != 0)
			fail_msg("case %zu: got '%s'", i, err.message);
	}
}

static void test_onoff(void **state)
{
	bool v = false;

	assert_int_equal(cli_parse_onoff("on", &v), 0);
	assert_true(v);
	assert_int_equal(cli_parse_onoff("no", &v), 0);
	assert_false(v);
	assert_int_equal(cli_parse_onoff("1", &v), -EINVAL);
	assert_int_equal(cli_parse_onoff("", &v), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_nic_valid),
	    cmocka_unit_test(test_nic_errors),
	    cmocka_unit_test(test_nic_what),
	    cmocka_unit_test(test_network_body),
	    cmocka_unit_test(test_network_body_errors),
	    cmocka_unit_test(test_onoff),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
