/*
 * Unit tests for net/conf.c: golden files of the nftables script and of
 * dnsmasq's configuration (one per shape of network, under
 * tests/unit/net/golden/), the host files, lease parsing and the tc
 * commands.
 *
 * After an intended change of the generated text, regenerate the files and
 * review the diff:
 *
 *     WARREN_UPDATE_GOLDEN=1 build/asan/tests/unit/net/test_conf
 *     git diff tests/unit/net/golden
 *
 * check-goldens.sh (the net_goldens_load test) feeds the goldens to the
 * real nft, in a scratch network namespace, and to dnsmasq --test.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

#include "../golden.h"
#include "net/net.h"
#include "util/util.h"

/* Compare got (which this frees) with golden/name. */
static void check_golden(const char *name, char *got)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/%s", GOLDEN_DIR, name);
	golden_check(path, got);
	free(got);
}

/* ---- fixtures ------------------------------------------------------------- */

static const struct net_segment web_segments[] = {
    {.bridge = "wn1"},
    {.bridge = "wn1v5", .vlan = 5},
};
static const struct net_segment lab_segments[] = {{.bridge = "wn2"}};
static const struct net_segment db_segments[] = {{.bridge = "wn3"}};

/* NAT, two segments. */
static struct net_desc web_net(void)
{
	return (struct net_desc){
	    .name = "web",
	    .subnet = {.addr = 0x0a000000, .prefix = 24}, /* 10.0.0.0/24 */
	    .gateway = 0x0a000001,
	    .dhcp = true,
	    .nat = true,
	    .mtu = 1500,
	    .segments = web_segments,
	    .n_segments = 2,
	};
}

/* Isolated (no NAT), jumbo frames. */
static struct net_desc lab_net(void)
{
	return (struct net_desc){
	    .name = "lab",
	    .subnet = {.addr = 0xc0a83200, .prefix = 24}, /* 192.168.50.0/24 */
	    .gateway = 0xc0a832fe,
	    .dhcp = true,
	    .nat = false,
	    .mtu = 9000,
	    .segments = lab_segments,
	    .n_segments = 1,
	};
}

/* NAT, no DHCP. */
static struct net_desc db_net(void)
{
	return (struct net_desc){
	    .name = "db",
	    .subnet = {.addr = 0xac100000, .prefix = 20}, /* 172.16.0.0/20 */
	    .gateway = 0xac100001,
	    .dhcp = false,
	    .nat = true,
	    .mtu = 1500,
	    .segments = db_segments,
	    .n_segments = 1,
	};
}

static const struct net_nic_desc nics[] = {
    {.tap = "wt0123456789n0",
     .mac = {{0x52, 0x57, 0x00, 0xaa, 0xbb, 0x01}},
     .ip = 0x0a000005,
     .host = "web1"},
    {.tap = "wt0123456789n1",
     .mac = {{0x52, 0x57, 0x00, 0xaa, 0xbb, 0x02}},
     .ip = 0xc0a83205,
     .trust = true,
     .host = "web1"},
    {.tap = "wtabcdef0123n0",
     .mac = {{0x52, 0x57, 0x00, 0xaa, 0xbb, 0x03}},
     .ip = 0,
     .host = "scratch"},
    {.tap = "wtfedcba9876n0",
     .mac = {{0x52, 0x57, 0x00, 0xaa, 0xbb, 0x04}},
     .ip = 0x0a000007,
     .host = NULL},
};

/* ---- nftables --------------------------------------------------------------- */

static void test_nft_no_networks(void **state)
{
	/* NICs without networks cannot exist; the tables go whatever. */
	check_golden("none.nft", net_nft_script(NULL, 0, nics, ARRAY_SIZE(nics)));
}

static void test_nft_one_nat_network(void **state)
{
	struct net_desc nets[] = {web_net()};

	nets[0].n_segments = 1;
	/* Trusted NICs only: no bridge table. */
	check_golden("nat-trusted.nft", net_nft_script(nets, 1, &nics[1], 1));
}

static void test_nft_mixed(void **state)
{
	struct net_desc nets[] = {web_net(), lab_net(), db_net()};

	check_golden("mixed.nft", net_nft_script(nets, ARRAY_SIZE(nets), nics, ARRAY_SIZE(nics)));
}

static void test_nft_isolated_untrusted(void **state)
{
	struct net_desc nets[] = {lab_net()};
	struct net_nic_desc nic = nics[1];

	nic.trust = false;
	check_golden("isolated-untrusted.nft", net_nft_script(nets, 1, &nic, 1));
}

static void test_nft_no_ip(void **state)
{
	struct net_desc nets[] = {db_net()};

	check_golden("no-ip.nft", net_nft_script(nets, 1, &nics[2], 1));
}

static void test_nft_deterministic(void **state)
{
	struct net_desc nets[] = {web_net(), lab_net(), db_net()};
	_cleanup_free_ char *a = net_nft_script(nets, 3, nics, ARRAY_SIZE(nics));
	_cleanup_free_ char *b = net_nft_script(nets, 3, nics, ARRAY_SIZE(nics));

	assert_string_equal(a, b);
	/* Always starts by making sure both tables exist, then drops them. */
	assert_int_equal(strncmp(a,
				 "table ip warren {}\ntable bridge warren {}\n"
				 "delete table ip warren\ndelete table bridge warren\n",
				 strlen("table ip warren {}\ntable bridge warren {}\n"
					"delete table ip warren\ndelete table bridge warren\n")),
			 0);
}

/* ---- dnsmasq ---------------------------------------------------------------- */

#define NETDIR "/var/lib/warren/networks/web"

static void test_dnsmasq_conf_nat(void **state)
{
	struct net_desc net = web_net();

	check_golden("web.dnsmasq.conf", net_dnsmasq_conf(&net, NETDIR));
}

static void test_dnsmasq_conf_isolated(void **state)
{
	struct net_desc net = lab_net();

	check_golden("lab.dnsmasq.conf", net_dnsmasq_conf(&net, "/var/lib/warren/networks/lab"));
}

static void test_dnsmasq_conf_dns_only(void **state)
{
	struct net_desc net = db_net();

	check_golden("db.dnsmasq.conf", net_dnsmasq_conf(&net, "/var/lib/warren/networks/db"));
}

static void test_dnsmasq_hosts(void **state)
{
	struct net_nic_desc bad[] = {
	    nics[0],
	    {.mac = {{0x52, 0x57, 0, 0, 0, 9}}, .ip = 0x0a000009, .host = "evil\nname"},
	    {.mac = {{0x52, 0x57, 0, 0, 0, 10}}, .ip = 0x0a00000a, .host = "-dash"},
	    {.mac = {{0x52, 0x57, 0, 0, 0, 11}}, .ip = 0x0a00000b, .host = ""},
	};
	_cleanup_free_ char *dhcp = net_dnsmasq_dhcp_hosts(nics, ARRAY_SIZE(nics));
	_cleanup_free_ char *hosts = net_dnsmasq_hosts(nics, ARRAY_SIZE(nics));
	_cleanup_free_ char *none = net_dnsmasq_hosts(NULL, 0);
	_cleanup_free_ char *bad_dhcp = net_dnsmasq_dhcp_hosts(bad, ARRAY_SIZE(bad));
	_cleanup_free_ char *bad_hosts = net_dnsmasq_hosts(bad, ARRAY_SIZE(bad));

	/* The NIC without an address is in neither; no name, no name. */
	assert_string_equal(dhcp, "52:57:00:aa:bb:01,10.0.0.5,web1\n"
				  "52:57:00:aa:bb:02,192.168.50.5,web1\n"
				  "52:57:00:aa:bb:04,10.0.0.7\n");
	assert_string_equal(hosts, "10.0.0.5 web1\n"
				   "192.168.50.5 web1\n");
	assert_string_equal(none, "");
	/* A name that is not one DNS label never reaches the files. */
	assert_string_equal(bad_dhcp, "52:57:00:aa:bb:01,10.0.0.5,web1\n"
				      "52:57:00:00:00:09,10.0.0.9\n"
				      "52:57:00:00:00:0a,10.0.0.10\n"
				      "52:57:00:00:00:0b,10.0.0.11\n");
	assert_string_equal(bad_hosts, "10.0.0.5 web1\n");
}

static void test_leases_parse(void **state)
{
	static const char text[] =
	    "1732350000 52:57:00:aa:bb:cc 10.0.0.5 web1 01:52:57:00:aa:bb:cc\n"
	    "0 52:57:00:aa:bb:cd 10.0.0.6 * *\n"
	    "duid 00:01:00:01:2c:4e:5d:6f:52:57:00:aa:bb:cc\n"
	    "1732350000 1234 fd00::5 * 00:01:00:01\n"
	    "\n"
	    "garbage\n"
	    "1732350000 01:00:5e:00:00:01 10.0.0.8 * *\n"
	    "1732350000 52:57:00:aa:bb:ce 10.0.0.300 * *\n"
	    "-5 52:57:00:aa:bb:ce 10.0.0.9 * *\n"
	    "12x 52:57:00:aa:bb:ce 10.0.0.9 * *\n"
	    "1732350000 52:57:00:aa:bb:cf\n"
	    "1732359999 52:57:00:AA:BB:D0 10.0.0.10";
	_cleanup_free_ struct net_lease *leases = NULL;
	struct net_mac mac;
	size_t n = 99;

	assert_int_equal(net_leases_parse(text, &leases, &n), 0);
	assert_int_equal(n, 3);
	assert_int_equal(net_mac_parse("52:57:00:aa:bb:cc", &mac, "mac", NULL), 0);
	assert_true(net_mac_equal(&leases[0].mac, &mac));
	assert_int_equal(leases[0].ip, 0x0a000005);
	assert_int_equal(leases[0].expiry, 1732350000);
	assert_int_equal(leases[1].expiry, 0); /* infinite */
	assert_int_equal(leases[1].ip, 0x0a000006);
	assert_int_equal(net_mac_parse("52:57:00:aa:bb:d0", &mac, "mac", NULL), 0);
	assert_true(net_mac_equal(&leases[2].mac, &mac));
	assert_int_equal(leases[2].ip, 0x0a00000a);
	assert_int_equal(leases[2].expiry, 1732359999);

	struct net_lease *none = NULL;
	assert_int_equal(net_leases_parse("", &none, &n), 0);
	assert_int_equal(n, 0);
	free(none);
	assert_int_equal(net_leases_parse(NULL, &none, &n), -EINVAL);
}

/* ---- tc ------------------------------------------------------------------------ */

static char *join(char **argv)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	for (char **a = argv; *a; a++)
		fprintf(f, "%s%s", a == argv ? "" : " ", *a);
	fclose(f);
	return buf;
}

static void assert_argvs(char ***argvs, const char *const *want, size_t n)
{
	size_t i;

	assert_non_null(argvs);
	for (i = 0; argvs[i]; i++) {
		_cleanup_free_ char *got = join(argvs[i]);
		if (i >= n)
			fail_msg("unexpected command %zu: %s", i, got);
		assert_string_equal(got, want[i]);
	}
	assert_int_equal(i, n);
	net_argvs_free(argvs);
}

static void test_tc_rate(void **state)
{
#define TAP "wt0123456789n0"
#define IFB "wi0123456789n0"
#define REDIRECT                                                                               \
	"tc filter replace dev " TAP " parent ffff: protocol all prio 1 handle 800::800 u32 "  \
	"match u32 0 0 action mirred egress redirect dev " IFB
	static const char *const ten_mbit[] = {
	    "tc qdisc replace dev " TAP " root tbf rate 10Mbit burst 65553 latency 50ms",
	    "tc qdisc replace dev " IFB " root tbf rate 10Mbit burst 65553 latency 50ms",
	    "tc qdisc replace dev " TAP " handle ffff: ingress",
	    REDIRECT,
	};
	static const char *const one_gbit[] = {
	    "tc qdisc replace dev " TAP " root tbf rate 1Gbit burst 2500000 latency 50ms",
	    "tc qdisc replace dev " IFB " root tbf rate 1Gbit burst 2500000 latency 50ms",
	    "tc qdisc replace dev " TAP " handle ffff: ingress",
	    REDIRECT,
	};
	static const char *const odd[] = {
	    "tc qdisc replace dev " TAP " root tbf rate 12345678bit burst 65553 latency 50ms",
	    "tc qdisc replace dev " IFB " root tbf rate 12345678bit burst 65553 latency 50ms",
	    "tc qdisc replace dev " TAP " handle ffff: ingress",
	    REDIRECT,
	};
	static const char *const off[] = {
	    "tc qdisc del dev " TAP " root",
	    "tc qdisc del dev " TAP " ingress",
	};

	assert_argvs(net_tc_rate_argvs(TAP, IFB, 10000000), ten_mbit, 4);
	assert_argvs(net_tc_rate_argvs(TAP, IFB, 1000000000), one_gbit, 4);
	assert_argvs(net_tc_rate_argvs(TAP, IFB, 12345678), odd, 4);
	assert_argvs(net_tc_rate_argvs(TAP, IFB, 0), off, 2);
	net_argvs_free(NULL);
#undef REDIRECT
#undef IFB
#undef TAP
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_nft_no_networks),
	    cmocka_unit_test(test_nft_one_nat_network),
	    cmocka_unit_test(test_nft_mixed),
	    cmocka_unit_test(test_nft_isolated_untrusted),
	    cmocka_unit_test(test_nft_no_ip),
	    cmocka_unit_test(test_nft_deterministic),
	    cmocka_unit_test(test_dnsmasq_conf_nat),
	    cmocka_unit_test(test_dnsmasq_conf_isolated),
	    cmocka_unit_test(test_dnsmasq_conf_dns_only),
	    cmocka_unit_test(test_dnsmasq_hosts),
	    cmocka_unit_test(test_leases_parse),
	    cmocka_unit_test(test_tc_rate),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
