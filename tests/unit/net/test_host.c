/* Unit tests for net/host.c: net_run with real (harmless) commands, and
 * the VLAN probe against fake runners that record what they are asked. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

#include "net/net.h"
#include "util/util.h"

/* ---- net_run ---------------------------------------------------------------- */

static void test_run_status(void **state)
{
	char *ok[] = {"true", NULL};
	char *bad[] = {"false", NULL};
	struct werr err = {0};

	assert_int_equal(net_run(ok, NULL, &err), 0);
	assert_int_equal(net_run(bad, NULL, &err), -EIO);
	assert_string_equal(err.code, "internal");
	assert_string_equal(err.message, "false: exited with status 1");
	assert_int_equal(net_run(bad, NULL, NULL), -EIO);
}

static void test_run_stderr(void **state)
{
	char *argv[] = {"sh", "-c", "echo out; echo oops >&2; echo more >&2; exit 3", NULL};
	char *blank_first[] = {"sh", "-c", "printf '\\n\\nfirst words\\n' >&2; exit 2", NULL};
	char *killed[] = {"sh", "-c", "kill -9 $$", NULL};
	struct werr err = {0};

	/* The first stderr line, after the command; stdout goes nowhere. */
	assert_int_equal(net_run(argv, NULL, &err), -EIO);
	assert_string_equal(err.message,
			    "sh -c echo out; echo oops >&2; echo more >&2; exit 3: oops");
	assert_int_equal(net_run(blank_first, NULL, &err), -EIO);
	assert_non_null(strstr(err.message, ": first words"));
	assert_int_equal(net_run(killed, NULL, &err), -EIO);
	assert_string_equal(err.message, "sh -c kill -9 $$: killed by signal 9");
}

static void test_run_missing_command(void **state)
{
	char *argv[] = {"warren-no-such-command", "x", NULL};
	struct werr err = {0};

	assert_int_equal(net_run(argv, NULL, &err), -EIO);
	assert_non_null(strstr(err.message, "warren-no-such-command x: "));
}

static void test_run_input(void **state)
{
	char *argv[] = {"sh", "-c", "read x; test \"$x\" = hello", NULL};
	char *no_input[] = {"sh", "-c", "read x; test -z \"$x\"", NULL};
	struct werr err = {0};

	assert_int_equal(net_run(argv, "hello\n", &err), 0);
	assert_int_equal(net_run(argv, "goodbye\n", &err), -EIO);
	/* No input: stdin is /dev/null (and empty input is EOF at once). */
	assert_int_equal(net_run(no_input, NULL, &err), 0);
	assert_int_equal(net_run(no_input, "", &err), 0);
}

static void test_run_large_input_and_stderr(void **state)
{
	/* More than a pipe holds in each direction: the input must be written
	 * while stderr is drained, or both sides block. */
	char *argv[] = {"sh", "-c",
			"i=0; while [ $i -lt 10000 ]; do echo 'complaint number '$i >&2; "
			"i=$((i+1)); done; n=$(wc -c); test $n -eq 300000 && exit 4",
			NULL};
	char *big = malloc(300001);
	struct werr err = {0};

	assert_non_null(big);
	memset(big, 'x', 300000);
	big[300000] = '\0';
	assert_int_equal(net_run(argv, big, &err), -EIO);
	assert_non_null(strstr(err.message, ": complaint number 0"));
	free(big);

	/* A command that reads nothing gets EOF... or EPIPE on our side. */
	char *deaf[] = {"true", NULL};
	big = malloc(1 << 20);
	assert_non_null(big);
	memset(big, 'y', (1 << 20) - 1);
	big[(1 << 20) - 1] = '\0';
	assert_int_equal(net_run(deaf, big, &err), 0);
	free(big);
}

/* ---- the VLAN probe ----------------------------------------------------------- */

/* What the fake runners saw, one command per line. */
static char seen[4096];
static int fail_veth, fail_vlan;

static int fake_runner(char *const argv[], const char *input, struct werr *err)
{
	size_t off = strlen(seen);
	bool veth = false, vlan = false;

	assert_null(input);
	for (size_t i = 0; argv[i]; i++) {
		off +=
		    (size_t)snprintf(seen + off, sizeof(seen) - off, "%s%s", i ? " " : "", argv[i]);
		veth |= strcmp(argv[i], "veth") == 0;
		vlan |= strcmp(argv[i], "vlan") == 0;
	}
	snprintf(seen + off, sizeof(seen) - off, "\n");
	if ((veth && fail_veth) || (vlan && fail_vlan))
		return werr_set(err, -EIO, "internal", "", "%s: RTNETLINK answers: Not supported",
				argv[0]);
	return 0;
}

/* The commands seen, with the random part of the names (6 hex) as XXXXXX;
 * all three names of one probe share it. */
static const char *seen_normalised(void)
{
	static char out[4096];
	char hex[7] = "";
	const char *p = seen;
	size_t o = 0;

	while (*p && o + 8 < sizeof(out)) {
		if (strncmp(p, "wvp", 3) == 0) {
			if (!hex[0])
				snprintf(hex, sizeof(hex), "%.6s", p + 3);
			else if (strncmp(p + 3, hex, 6) != 0)
				fail_msg("names of one probe differ: %s", seen);
			for (int i = 0; i < 6; i++)
				if (!strchr("0123456789abcdef", p[3 + i]))
					fail_msg("not hex: %s", seen);
			memcpy(out + o, "wvpXXXXXX", 9);
			o += 9;
			p += 9;
			continue;
		}
		out[o++] = *p++;
	}
	out[o] = '\0';
	return out;
}

static int reset_fakes(void **state)
{
	seen[0] = '\0';
	fail_veth = fail_vlan = 0;
	return 0;
}

static void test_probe_no_veth(void **state)
{
	fail_veth = 1;
	assert_int_equal(net_vlan_probe(fake_runner), NET_VLAN_SEPARATE_BRIDGES);
	assert_string_equal(seen_normalised(),
			    "ip link add wvpXXXXXXa type veth peer name wvpXXXXXXb\n");
}

static void test_probe_no_8021q(void **state)
{
	fail_vlan = 1;
	assert_int_equal(net_vlan_probe(fake_runner), NET_VLAN_SEPARATE_BRIDGES);
	assert_string_equal(seen_normalised(),
			    "ip link add wvpXXXXXXa type veth peer name wvpXXXXXXb\n"
			    "ip link add link wvpXXXXXXa name wvpXXXXXXv type vlan id 2\n"
			    "ip link del wvpXXXXXXa\n");
}

static void test_probe_8021q(void **state)
{
	assert_int_equal(net_vlan_probe(fake_runner), NET_VLAN_8021Q);
	assert_string_equal(seen_normalised(),
			    "ip link add wvpXXXXXXa type veth peer name wvpXXXXXXb\n"
			    "ip link add link wvpXXXXXXa name wvpXXXXXXv type vlan id 2\n"
			    "ip link del wvpXXXXXXa\n");
	assert_true(strlen("wvpXXXXXXa") <= NET_IFNAME_MAX);
}

static void test_probe_names_differ(void **state)
{
	char first[64];

	net_vlan_probe(fake_runner);
	snprintf(first, sizeof(first), "%.40s", seen);
	seen[0] = '\0';
	net_vlan_probe(fake_runner);
	assert_string_not_equal(first, seen);
}

static void test_vlan_mode_names(void **state)
{
	assert_string_equal(net_vlan_mode_to_string(NET_VLAN_SEPARATE_BRIDGES), "separate-bridges");
	assert_string_equal(net_vlan_mode_to_string(NET_VLAN_8021Q), "802.1q");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_run_status),
	    cmocka_unit_test(test_run_stderr),
	    cmocka_unit_test(test_run_missing_command),
	    cmocka_unit_test(test_run_input),
	    cmocka_unit_test(test_run_large_input_and_stderr),
	    cmocka_unit_test_setup(test_probe_no_veth, reset_fakes),
	    cmocka_unit_test_setup(test_probe_no_8021q, reset_fakes),
	    cmocka_unit_test_setup(test_probe_8021q, reset_fakes),
	    cmocka_unit_test_setup(test_probe_names_differ, reset_fakes),
	    cmocka_unit_test(test_vlan_mode_names),
	};

	/* As in warrend: a tool that exits without reading its input is an
	 * EPIPE, not the end of the process. */
	signal(SIGPIPE, SIG_IGN);
	log_set_level(LOG_ERR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
