/* Unit tests for net/names.c: network names, and the bridge and tap names
 * the host knows networks and NICs by. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

#include "net/net.h"
#include "util/util.h"

static void test_name_validate(void **state)
{
	static const char *const good[] = {
	    "a", "0", "default", "web-tier", "net1", "a234567890123456789012345678901", "9-"};
	struct werr err = {0};

	for (size_t i = 0; i < ARRAY_SIZE(good); i++)
		if (net_name_validate(good[i], &err) < 0)
			fail_msg("'%s' refused: %s", good[i], err.message);
}

static void assert_name_error(const char *name, const char *want)
{
	struct werr err = {0};

	assert_int_equal(net_name_validate(name, &err), -EINVAL);
	assert_string_equal(err.code, "invalid");
	assert_string_equal(err.field, "name");
	assert_string_equal(err.message, want);
}

static void test_name_validate_bad(void **state)
{
	assert_name_error("", "name is required: 1 to 31 characters of a-z, 0-9 and '-'");
	assert_name_error(NULL, "name is required: 1 to 31 characters of a-z, 0-9 and '-'");
	assert_name_error("a2345678901234567890123456789012",
			  "name 'a2345678901234567890123456789012' is too long: at most 31 "
			  "characters (got 32)");
	assert_name_error("a23456789012345678901234567890123456789012345",
			  "name 'a234567890123456789012345678901234567890' is too long: at most 31 "
			  "characters (got 45)");
}

static void test_name_validate_chars(void **state)
{
	assert_name_error("-web", "name '-web' must start with a lower-case letter or a digit");
	assert_name_error("Web", "name 'Web' may contain only a-z, 0-9 and '-' (character 1 is "
				 "not allowed)");
	assert_name_error("web_1", "name 'web_1' may contain only a-z, 0-9 and '-' (character 4 "
				   "is not allowed)");
	assert_name_error("web.1", "name 'web.1' may contain only a-z, 0-9 and '-' (character 4 "
				   "is not allowed)");
	assert_name_error("web 1", "name 'web 1' may contain only a-z, 0-9 and '-' (character 4 "
				   "is not allowed)");
}

static void test_bridge_names(void **state)
{
	char buf[16];

	assert_string_equal(net_bridge_name(0, 0, buf), "wn0");
	assert_string_equal(net_bridge_name(12, 0, buf), "wn12");
	assert_string_equal(net_bridge_name(12, 5, buf), "wn12v5");
	assert_string_equal(net_bridge_name(99999, 4094, buf), "wn99999v4094");
	assert_true(strlen(buf) <= NET_IFNAME_MAX);

	static const char *const ours[] = {"wn0", "wn1", "wn12v5", "wn99999v4094", "wn7v1"};
	static const char *const others[] = {
	    "wn",	"wnx",	"wn01",	   "wn1v",   "wn1v0",  "wn1v4095", "wn1v05",
	    "wn100000", "wn1x", "wn1v5v6", "wt1",    "xwn1",   "WN1",	   "wn-1",
	    "wn1 ",	"",	"eth0",	   "virbr0", "wn1v5a",
	};
	for (size_t i = 0; i < ARRAY_SIZE(ours); i++)
		if (!net_is_bridge_name(ours[i]))
			fail_msg("'%s' not recognised as a bridge of ours", ours[i]);
	for (size_t i = 0; i < ARRAY_SIZE(others); i++)
		if (net_is_bridge_name(others[i]))
			fail_msg("'%s' taken for a bridge of ours", others[i]);
	assert_false(net_is_bridge_name(NULL));
	/* Every name we make is recognised. */
	for (unsigned idx = 0; idx < 100000; idx += 9999)
		for (unsigned vlan = 0; vlan <= 4094; vlan += 1000)
			assert_true(net_is_bridge_name(net_bridge_name(idx, vlan, buf)));
}

static void test_tap_names(void **state)
{
	char buf[16];

	assert_string_equal(net_tap_name("0123456789abcdef0123456789abcdef", 0, buf),
			    "wt0123456789n0");
	assert_string_equal(net_tap_name("abcdef0123456789abcdef0123456789", 99, buf),
			    "wtabcdef0123n99");
	assert_int_equal(strlen(buf), NET_IFNAME_MAX);
	assert_true(net_is_tap_name(buf));
	assert_string_equal(net_ifb_name("abcdef0123456789abcdef0123456789", 7, buf),
			    "wiabcdef0123n7");
	assert_true(net_is_tap_name(buf));
	for (unsigned nic = 0; nic < 100; nic++) {
		net_tap_name("fedcba9876543210fedcba9876543210", nic, buf);
		assert_true(strlen(buf) <= NET_IFNAME_MAX);
		assert_true(net_is_tap_name(buf));
		assert_false(net_is_bridge_name(buf));
	}

	static const char *const others[] = {
	    "wt0123456789n",
	    "wt0123456789",
	    "wt012345678n0",
	    "wt0123456789an0",
	    "wt0123456789n100",
	    "wt0123456789n01",
	    "wt0123456789n0x",
	    "wtABCDEF0123n0",
	    "wt012345678gn0",
	    "wn0123456789n0",
	    "tap0",
	    "",
	};
	for (size_t i = 0; i < ARRAY_SIZE(others); i++)
		if (net_is_tap_name(others[i]))
			fail_msg("'%s' taken for a tap of ours", others[i]);
	assert_false(net_is_tap_name(NULL));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_name_validate),	cmocka_unit_test(test_name_validate_bad),
	    cmocka_unit_test(test_name_validate_chars), cmocka_unit_test(test_bridge_names),
	    cmocka_unit_test(test_tap_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
