/* Unit tests for net/addr.c: MACs, IPv4 addresses and subnets, the
 * kernel's route table, and rates, with the message of every refusal. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

#include "net/net.h"
#include "util/util.h"

/* Each of the n inputs is refused by check with the message
 * "FIELD 'INPUT' REST". */
typedef void (*error_check_fn)(const char *input, const char *want);
static void assert_errors(error_check_fn check, const char *field, const char *const *inputs,
			  size_t n, const char *rest)
{
	char want[512];

	for (size_t i = 0; i < n; i++) {
		snprintf(want, sizeof(want), "%s '%s' %s", field, inputs[i], rest);
		check(inputs[i], want);
	}
}

/* ---- MAC ------------------------------------------------------------------ */

static void test_mac_parse_good(void **state)
{
	static const char *const good[] = {"52:57:00:12:34:56", "52-57-00-12-34-56",
					   "52:57:00:AB:cd:Ef", "02:00:00:00:00:00"};
	struct net_mac m;
	char buf[18];

	for (size_t i = 0; i < ARRAY_SIZE(good); i++) {
		struct werr err = {0};
		if (net_mac_parse(good[i], &m, "mac", &err) < 0)
			fail_msg("'%s' refused: %s", good[i], err.message);
	}
	assert_int_equal(net_mac_parse("52:57:00:AB:cd:Ef", &m, "mac", NULL), 0);
	assert_string_equal(net_mac_format(&m, buf), "52:57:00:ab:cd:ef");
	assert_int_equal(net_mac_parse("52-57-00-12-34-56", &m, "mac", NULL), 0);
	assert_string_equal(net_mac_format(&m, buf), "52:57:00:12:34:56");
}

static void assert_mac_error(const char *s, const char *want)
{
	struct net_mac m = {.b = {9, 9, 9, 9, 9, 9}};
	struct werr err = {0};

	assert_int_equal(net_mac_parse(s, &m, "nics[0].mac", &err), -EINVAL);
	assert_string_equal(err.code, "invalid");
	assert_string_equal(err.field, "nics[0].mac");
	assert_string_equal(err.message, want);
	assert_int_equal(m.b[0], 9); /* untouched */
}

static void test_mac_parse_bad(void **state)
{
	static const char *const malformed[] = {
	    "52:57:00:12:34",	  "52:57:00:12:34:56:78", "52:57:00:12:34:5g",	"52:57-00:12:34:56",
	    "5257.0012.3456",	  "525700123456",	  " 52:57:00:12:34:56", "52:57:00:12:34:5",
	    "52:57:00:12:34:567", "52::57:00:12:34:56",	  "g2:57:00:12:34:56",
	};

	assert_errors(assert_mac_error, "nics[0].mac", malformed, ARRAY_SIZE(malformed),
		      "is not a MAC address: six pairs of hex digits separated by ':' or '-', "
		      "like 52:57:00:12:34:56");
	assert_mac_error("01:00:5e:00:00:01",
			 "nics[0].mac '01:00:5e:00:00:01' is a multicast address; a NIC needs a "
			 "unicast MAC (the first byte even, like 52:57:00:12:34:56)");
	assert_mac_error("ff:ff:ff:ff:ff:ff",
			 "nics[0].mac 'ff:ff:ff:ff:ff:ff' is a multicast address; a NIC needs a "
			 "unicast MAC (the first byte even, like 52:57:00:12:34:56)");
	assert_mac_error("00:00:00:00:00:00",
			 "nics[0].mac '00:00:00:00:00:00' is the all-zero address, which no NIC "
			 "may use");
	assert_mac_error("", "nics[0].mac is required: a MAC address like 52:57:00:12:34:56");
	assert_mac_error(NULL, "nics[0].mac is required: a MAC address like 52:57:00:12:34:56");
}

static void test_mac_random(void **state)
{
	struct net_mac a, b;
	struct werr err;
	char buf[18];

	assert_int_equal(net_mac_random(&a), 0);
	assert_int_equal(net_mac_random(&b), 0);
	assert_int_equal(a.b[0], 0x52);
	assert_int_equal(a.b[1], 0x57);
	assert_true(a.b[0] & 0x02);	     /* locally administered */
	assert_false(a.b[0] & 0x01);	     /* unicast */
	assert_false(net_mac_equal(&a, &b)); /* 32 random bits: a clash is 1 in 4e9 */
	assert_true(net_mac_equal(&a, &a));
	/* What comes out goes back in. */
	assert_int_equal(net_mac_parse(net_mac_format(&a, buf), &b, "mac", &err), 0);
	assert_true(net_mac_equal(&a, &b));
}

/* ---- IPv4 ------------------------------------------------------------------ */

static void test_ip_parse_format(void **state)
{
	static const char *const bad[] = {
	    "",		  "10.0.0",	 "10.0.0.0.1", "10.0.0.256", "010.0.0.1",
	    "10.0.0.01",  " 10.0.0.1",	 "10.0.0.1 ",  "10..0.1",    "10.0.0.-1",
	    "0x0a.0.0.1", "10.0.0.1/24", "1000.0.0.1", "a.b.c.d",    "10.0.0.",
	};
	uint32_t ip = 77;
	char buf[16];

	assert_int_equal(net_ip_parse("10.1.2.3", &ip), 0);
	assert_int_equal(ip, 0x0a010203);
	assert_string_equal(net_ip_format(ip, buf), "10.1.2.3");
	assert_int_equal(net_ip_parse("255.255.255.255", &ip), 0);
	assert_int_equal(ip, 0xffffffff);
	assert_string_equal(net_ip_format(ip, buf), "255.255.255.255");
	assert_int_equal(net_ip_parse("0.0.0.0", &ip), 0);
	assert_int_equal(ip, 0);
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		ip = 77;
		if (net_ip_parse(bad[i], &ip) != -EINVAL)
			fail_msg("net_ip_parse accepted '%s'", bad[i]);
		assert_int_equal(ip, 77);
	}
	assert_int_equal(net_ip_parse(NULL, &ip), -EINVAL);
}

static void assert_cidr_error(const char *s, const char *want)
{
	struct net_cidr c = {.addr = 77, .prefix = 77};
	struct werr err = {0};

	assert_int_equal(net_cidr_parse(s, &c, "subnet", &err), -EINVAL);
	assert_string_equal(err.code, "invalid");
	assert_string_equal(err.field, "subnet");
	assert_string_equal(err.message, want);
	assert_int_equal(c.addr, 77);
}

static void test_cidr_parse(void **state)
{
	static const char *const malformed[] = {
	    "10.0.0.0",	    "10.0.0.0/",    "10.0.0.0/a",   "10.0.0/24",    "10.0.0.0/024",
	    "10.0.0.0/33",  "10.0.0.0/100", " 10.0.0.0/24", "10.0.0.0/24 ", "x10.0.0.0/24",
	    "10.0.0.0//24", "10.0.0.0/-1",  "300.0.0.0/24",
	};
	struct net_cidr c;
	char buf[19];

	assert_int_equal(net_cidr_parse("10.0.0.0/24", &c, "subnet", NULL), 0);
	assert_int_equal(c.addr, 0x0a000000);
	assert_int_equal(c.prefix, 24);
	assert_string_equal(net_cidr_format(&c, buf), "10.0.0.0/24");
	assert_int_equal(net_cidr_parse("192.168.100.0/30", &c, "subnet", NULL), 0);
	assert_string_equal(net_cidr_format(&c, buf), "192.168.100.0/30");
	assert_int_equal(net_cidr_parse("10.0.0.0/8", &c, "subnet", NULL), 0);
	assert_int_equal(c.prefix, 8);

	assert_errors(assert_cidr_error, "subnet", malformed, ARRAY_SIZE(malformed),
		      "is not a subnet: an IPv4 network address and a prefix length, like "
		      "10.0.0.0/24");
	assert_cidr_error("10.0.0.0/31", "subnet '10.0.0.0/31' is too small: the prefix length "
					 "must be at most /30, room for the gateway and one guest");
	assert_cidr_error("10.0.0.0/32", "subnet '10.0.0.0/32' is too small: the prefix length "
					 "must be at most /30, room for the gateway and one guest");
	assert_cidr_error(
	    "10.0.0.0/7",
	    "subnet '10.0.0.0/7' is too large: the prefix length must be at least /8");
	assert_cidr_error("0.0.0.0/0",
			  "subnet '0.0.0.0/0' is too large: the prefix length must be at least /8");
	assert_cidr_error("10.0.0.1/24",
			  "subnet '10.0.0.1/24' has host bits set; did you mean 10.0.0.0/24?");
	assert_cidr_error("172.16.5.77/20",
			  "subnet '172.16.5.77/20' has host bits set; did you mean 172.16.0.0/20?");
	assert_cidr_error("", "subnet is required: a subnet like 10.0.0.0/24");
	assert_cidr_error(NULL, "subnet is required: a subnet like 10.0.0.0/24");
}

static struct net_cidr cidr(const char *s)
{
	struct net_cidr c;
	struct werr err;

	if (net_cidr_parse(s, &c, "subnet", &err) < 0)
		fail_msg("%s", err.message);
	return c;
}

static void test_cidr_arithmetic(void **state)
{
	struct net_cidr c = cidr("10.1.2.0/24"), big = cidr("10.0.0.0/8");
	struct net_cidr small = cidr("10.1.2.4/30"), other = cidr("192.168.0.0/16");
	struct net_cidr zero = {.addr = 0, .prefix = 0};
	uint32_t ip;

	assert_int_equal(net_cidr_mask(&c), 0xffffff00);
	assert_int_equal(net_cidr_mask(&small), 0xfffffffc);
	assert_int_equal(net_cidr_mask(&zero), 0);
	assert_int_equal(net_cidr_broadcast(&c), 0x0a0102ff);
	assert_int_equal(net_cidr_broadcast(&small), 0x0a010207);
	assert_int_equal(net_cidr_broadcast(&big), 0x0affffff);

	assert_int_equal(net_ip_parse("10.1.2.200", &ip), 0);
	assert_true(net_cidr_contains(&c, ip));
	assert_true(net_cidr_contains(&big, ip));
	assert_false(net_cidr_contains(&small, ip));
	assert_false(net_cidr_contains(&other, ip));
	assert_true(net_cidr_contains(&zero, ip));
	assert_int_equal(net_ip_parse("10.1.3.0", &ip), 0);
	assert_false(net_cidr_contains(&c, ip));

	assert_true(net_cidr_overlap(&c, &big));
	assert_true(net_cidr_overlap(&big, &c));
	assert_true(net_cidr_overlap(&c, &small));
	assert_true(net_cidr_overlap(&c, &c));
	assert_false(net_cidr_overlap(&c, &other));
	struct net_cidr next = cidr("10.1.3.0/24");
	assert_false(net_cidr_overlap(&c, &next));
	assert_true(net_cidr_overlap(&zero, &other));
}

/* ---- routes ---------------------------------------------------------------- */

/* As the kernel prints it on little-endian machines: the network-order
 * address read as a native u32. */
static const char route_text[] =
    "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT"
    "                                                       \n"
    "eth0\t00000000\t0101A8C0\t0003\t0\t0\t100\t00000000\t0\t0\t0"
    "                                                                               \n"
    "eth0\t0001A8C0\t00000000\t0001\t0\t0\t100\t00FFFFFF\t0\t0\t0"
    "                                                                               \n"
    "docker0\t000011AC\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0"
    "                                                                               \n"
    "wn1\t0000000A\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n"
    "tun0\t0102000A\t00000000\t0005\t0\t0\t0\tFFFFFFFF\t0\t0\t0\n";

static void test_routes_parse(void **state)
{
	_cleanup_free_ struct net_route *routes = NULL;
	char buf[19];
	size_t n = 99;

	if (__BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__)
		skip();
	assert_int_equal(net_routes_parse(route_text, &routes, &n), 0);
	assert_int_equal(n, 4); /* the default route is left out */
	assert_string_equal(routes[0].ifname, "eth0");
	assert_string_equal(net_cidr_format(&routes[0].dst, buf), "192.168.1.0/24");
	assert_string_equal(routes[1].ifname, "docker0");
	assert_string_equal(net_cidr_format(&routes[1].dst, buf), "172.17.0.0/16");
	assert_string_equal(routes[2].ifname, "wn1");
	assert_string_equal(net_cidr_format(&routes[2].dst, buf), "10.0.0.0/24");
	assert_string_equal(routes[3].ifname, "tun0");
	assert_string_equal(net_cidr_format(&routes[3].dst, buf), "10.0.2.1/32");
}

static void test_routes_parse_edges(void **state)
{
	static const char *const bad[] = {
	    /* no header */
	    "eth0\t0001A8C0\t00000000\t0001\t0\t0\t100\t00FFFFFF\t0\t0\t0\n",
	    /* short line */
	    "Iface\tDestination\n eth0\t0001A8C0\t00000000\n",
	    /* bad hex */
	    "Iface\n"
	    "eth0\t0001A8CX\t00000000\t0001\t0\t0\t100\t00FFFFFF\t0\t0\t0\n",
	    /* mask with a hole */
	    "Iface\n"
	    "eth0\t0001A8C0\t00000000\t0001\t0\t0\t100\t00FF00FF\t0\t0\t0\n",
	    /* host bits outside the mask */
	    "Iface\n"
	    "eth0\t0101A8C0\t00000000\t0001\t0\t0\t100\t00FFFFFF\t0\t0\t0\n",
	    /* interface name too long */
	    "Iface\n"
	    "abcdefghijklmnop\t0001A8C0\t00000000\t0001\t0\t0\t100\t00FFFFFF\t0\t0\t0\n",
	};
	struct net_route *routes = NULL;
	size_t n = 99;

	if (__BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__)
		skip();
	/* Only the header, or only the default route: no routes. */
	assert_int_equal(net_routes_parse("Iface\tDestination\n", &routes, &n), 0);
	assert_int_equal(n, 0);
	free(routes);
	assert_int_equal(net_routes_parse("", &routes, &n), 0);
	assert_int_equal(n, 0);
	free(routes);
	assert_int_equal(
	    net_routes_parse("Iface\n"
			     "eth0\t00000000\t0101A8C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\n\n",
			     &routes, &n),
	    0);
	assert_int_equal(n, 0);
	free(routes);
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
		if (net_routes_parse(bad[i], &routes, &n) != -EINVAL)
			fail_msg("accepted bad route text %zu", i);
	assert_int_equal(net_routes_parse(NULL, &routes, &n), -EINVAL);
}

/* ---- rates ------------------------------------------------------------------ */

static void test_rate_parse_good(void **state)
{
	static const struct {
		const char *s;
		uint64_t bps;
	} good[] = {
	    {"10Mbit", 10000000},
	    {"10mbit", 10000000},
	    {"10MBIT", 10000000},
	    {"1.5Gbit", 1500000000},
	    {"1.5mbit", 1500000},
	    {"64000", 64000},
	    {"64000bit", 64000},
	    {"500kbit", 500000},
	    {"1Gbit", 1000000000},
	    {"8000", 8000},
	    {"8kbit", 8000},
	    {"100Gbit", 100000000000ULL},
	    {"0.1Tbit", 100000000000ULL},
	    {"2.125Mbit", 2125000},
	    {"0.008Mbit", 8000},
	};

	for (size_t i = 0; i < ARRAY_SIZE(good); i++) {
		struct werr err = {0};
		uint64_t bps = 0;
		if (net_rate_parse(good[i].s, &bps, "rate", &err) < 0)
			fail_msg("'%s' refused: %s", good[i].s, err.message);
		if (bps != good[i].bps)
			fail_msg("'%s' is %llu, not %llu", good[i].s, (unsigned long long)bps,
				 (unsigned long long)good[i].bps);
	}
}

static void assert_rate_error(const char *s, const char *want)
{
	struct werr err = {0};
	uint64_t bps = 77;

	assert_int_equal(net_rate_parse(s, &bps, "nics[0].rate", &err), -EINVAL);
	assert_string_equal(err.code, "invalid");
	assert_string_equal(err.field, "nics[0].rate");
	assert_string_equal(err.message, want);
	assert_int_equal(bps, 77);
}

static void test_rate_parse_bad(void **state)
{
	static const char *const malformed[] = {"-10Mbit", "+10Mbit", "Mbit",
						".5Mbit",  "1.Mbit",  "abc"};
	static const char *const bytes[] = {"10MB",	  "10mbps", "10Mbps", "10MBps",
					    "1000000bps", "10kB",   "10B",    "10bytes"};

	assert_errors(assert_rate_error, "nics[0].rate", malformed, ARRAY_SIZE(malformed),
		      "is not a rate: a number of bits per second with a unit, like 10Mbit, "
		      "1.5Gbit or 500kbit");
	assert_errors(assert_rate_error, "nics[0].rate", bytes, ARRAY_SIZE(bytes),
		      "is in bytes; give the rate in bits per second, like 10Mbit (units bit, "
		      "kbit, Mbit, Gbit; 1kbit = 1000 bit/s)");
	assert_rate_error("10 Mbit",
			  "nics[0].rate '10 Mbit' must be written without spaces, like 10Mbit");
	assert_rate_error("10M", "nics[0].rate '10M' has an unknown unit 'M'; use bit, kbit, "
				 "Mbit or Gbit, like 10Mbit");
	assert_rate_error("10Mbits", "nics[0].rate '10Mbits' has an unknown unit 'Mbits'; use "
				     "bit, kbit, Mbit or Gbit, like 10Mbit");
	assert_rate_error("1e6", "nics[0].rate '1e6' has an unknown unit 'e6'; use bit, kbit, "
				 "Mbit or Gbit, like 10Mbit");
	assert_rate_error("0", "nics[0].rate '0' is zero; leave the rate out for no limit");
	assert_rate_error("0Mbit", "nics[0].rate '0Mbit' is zero; leave the rate out for no limit");
	assert_rate_error("7999", "nics[0].rate '7999' is below the minimum of 8kbit");
	assert_rate_error("7kbit", "nics[0].rate '7kbit' is below the minimum of 8kbit");
	assert_rate_error("2tbit", "nics[0].rate '2tbit' is above the maximum of 100Gbit");
	assert_rate_error("100.000000001Gbit",
			  "nics[0].rate '100.000000001Gbit' is above the maximum of 100Gbit");
	assert_rate_error("99999999999999999999999Mbit",
			  "nics[0].rate '99999999999999999999999Mbit' is above the maximum of "
			  "100Gbit");
	assert_rate_error("8000.5", "nics[0].rate '8000.5' is not a whole number of bit/s");
	assert_rate_error("1.0000000000001Mbit",
			  "nics[0].rate '1.0000000000001Mbit' has too many decimals");
	assert_rate_error("", "nics[0].rate is required: a rate like 10Mbit");
	assert_rate_error(NULL, "nics[0].rate is required: a rate like 10Mbit");
}

static void test_rate_format(void **state)
{
	static const struct {
		uint64_t bps;
		const char *s;
	} cases[] = {
	    {10000000, "10Mbit"},
	    {1500000000, "1500Mbit"},
	    {8000, "8kbit"},
	    {12345, "12345bit"},
	    {1000000000, "1Gbit"},
	    {100000000000ULL, "100Gbit"},
	    {800000, "800kbit"},
	    {1000000000000ULL, "1Tbit"},
	    {2125000, "2125kbit"},
	    {0, "0bit"},
	    {UINT64_MAX, "18446744073709551615bit"},
	};
	char buf[24];

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++)
		assert_string_equal(net_rate_format(cases[i].bps, buf), cases[i].s);
	/* Every format of a valid rate parses back to itself. */
	for (uint64_t bps = 8000; bps < 100000000000ULL; bps = bps * 7 + 1000) {
		uint64_t back;
		assert_int_equal(net_rate_parse(net_rate_format(bps, buf), &back, "rate", NULL), 0);
		assert_int_equal(back, bps);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_mac_parse_good),  cmocka_unit_test(test_mac_parse_bad),
	    cmocka_unit_test(test_mac_random),	    cmocka_unit_test(test_ip_parse_format),
	    cmocka_unit_test(test_cidr_parse),	    cmocka_unit_test(test_cidr_arithmetic),
	    cmocka_unit_test(test_routes_parse),    cmocka_unit_test(test_routes_parse_edges),
	    cmocka_unit_test(test_rate_parse_good), cmocka_unit_test(test_rate_parse_bad),
	    cmocka_unit_test(test_rate_format),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
