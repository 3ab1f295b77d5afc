/* Unit tests for host/config.c: the capacity keys of the config file and
 * the FILE:LINE messages of every kind of mistake. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

#include "host/host.h"
#include "support.h"
#include "util/util.h"

#define GiB (UINT64_C(1) << 30)
#define MiB (UINT64_C(1) << 20)

static int setup(void **state)
{
	*state = support_tmpdir();
	return 0;
}

static int teardown(void **state)
{
	support_rmtree(*state);
	return 0;
}

static const struct host_capacity_config defaults = {
	.cpu_ratio = 4,
	.memory_ratio = 1,
	.memory_reserved = 2252 * MiB,
};

/* Parse text as a file named warrend.conf; *path gets its full name. */
static int parse(void **state, const char *text, struct host_capacity_config *cfg, char *msg,
		 size_t len, char **path)
{
	support_write(*state, "warrend.conf", text);
	*path = support_path(*state, "warrend.conf");
	*cfg = defaults;
	return host_config_parse(*path, cfg, msg, len);
}

/* The error for text, with the file's own path cut from the front. */
static void assert_error(void **state, const char *text, const char *want)
{
	_cleanup_free_ char *path = NULL;
	struct host_capacity_config cfg;
	char msg[256];

	assert_int_equal(parse(state, text, &cfg, msg, sizeof(msg), &path), -EINVAL);
	assert_int_equal(strncmp(msg, path, strlen(path)), 0);
	assert_string_equal(msg + strlen(path), want);
	/* Nothing is half-applied. */
	assert_memory_equal(&cfg, &defaults, sizeof(cfg));
}

static void test_good_file(void **state)
{
	_cleanup_free_ char *path = NULL;
	struct host_capacity_config cfg;
	char msg[256];

	assert_int_equal(parse(state,
			       "# capacity\n"
			       "\n"
			       "cpu_ratio = 8\n"
			       "   memory_ratio=1.25   # a little overcommit\n"
			       "memory_reserved = 4G\n",
			       &cfg, msg, sizeof(msg), &path),
			 0);
	assert_true(cfg.cpu_ratio == 8.0);
	assert_true(cfg.memory_ratio == 1.25);
	assert_int_equal(cfg.memory_reserved, 4 * GiB);
}

static void test_unset_keys_keep_their_values(void **state)
{
	_cleanup_free_ char *path = NULL;
	struct host_capacity_config cfg;
	char msg[256];

	assert_int_equal(parse(state, "memory_reserved = 512M", &cfg, msg, sizeof(msg), &path), 0);
	assert_true(cfg.cpu_ratio == 4.0);
	assert_true(cfg.memory_ratio == 1.0);
	assert_int_equal(cfg.memory_reserved, 512 * MiB);

	free(path);
	assert_int_equal(parse(state, "# nothing\n\n", &cfg, msg, sizeof(msg), &path), 0);
	assert_memory_equal(&cfg, &defaults, sizeof(cfg));
}

static void test_unknown_key(void **state)
{
	assert_error(state, "cpu_ratio = 2\n\ncpu_ration = 3\n",
		     ":3: unknown key \"cpu_ration\" (known: cpu_ratio, memory_ratio, "
		     "memory_reserved)");
}

static void test_bad_number(void **state)
{
	assert_error(state, "cpu_ratio = four\n", ":1: cpu_ratio: \"four\" is not a number");
	assert_error(state, "cpu_ratio = 1e1\n", ":1: cpu_ratio: \"1e1\" is not a number");
	assert_error(state, "memory_ratio = inf\n", ":1: memory_ratio: \"inf\" is not a number");
	assert_error(state, "memory_ratio = -1\n", ":1: memory_ratio: \"-1\" is not a number");
	assert_error(state, "memory_ratio = 1.2.3\n",
		     ":1: memory_ratio: \"1.2.3\" is not a number");
	assert_error(state, "memory_ratio = .\n", ":1: memory_ratio: \".\" is not a number");
}

static void test_out_of_range(void **state)
{
	assert_error(state, "cpu_ratio = 65\n",
		     ":1: cpu_ratio must be between 0.1 and 64 (got 65)");
	assert_error(state, "cpu_ratio = 0.05\n",
		     ":1: cpu_ratio must be between 0.1 and 64 (got 0.05)");
	assert_error(state, "\nmemory_ratio = 16.5\n",
		     ":2: memory_ratio must be between 0.1 and 16 (got 16.5)");

	/* The bounds themselves are allowed. */
	_cleanup_free_ char *path = NULL;
	struct host_capacity_config cfg;
	char msg[256];
	assert_int_equal(
		parse(state, "cpu_ratio = 64\nmemory_ratio = 0.1\n", &cfg, msg, sizeof(msg), &path),
		0);
	assert_true(cfg.cpu_ratio == 64.0);
	assert_true(cfg.memory_ratio == 0.1);
}

static void test_size(void **state)
{
	_cleanup_free_ char *path = NULL;
	struct host_capacity_config cfg;
	char msg[256];

	assert_int_equal(parse(state, "memory_reserved = 1.5G\n", &cfg, msg, sizeof(msg), &path),
			 0);
	assert_int_equal(cfg.memory_reserved, 3 * GiB / 2);
	assert_error(state, "memory_reserved = 2X\n",
		     ":1: memory_reserved: \"2X\" is not a size (like 2G or 512M)");
	assert_error(state, "memory_reserved = -1G\n",
		     ":1: memory_reserved: \"-1G\" is not a size (like 2G or 512M)");
}

static void test_shape_errors(void **state)
{
	assert_error(state, "cpu_ratio 4\n", ":1: expected \"key = value\"");
	assert_error(state, "cpu_ratio =\n", ":1: expected \"key = value\"");
	assert_error(state, "= 4\n", ":1: expected \"key = value\"");
	assert_error(state, "cpu_ratio = 2\n# again\ncpu_ratio = 3\n",
		     ":3: cpu_ratio set twice (first on line 1)");
}

static void test_missing_file(void **state)
{
	_cleanup_free_ char *path = support_path(*state, "absent.conf");
	struct host_capacity_config cfg = defaults;
	char msg[256], want[512];

	assert_int_equal(host_config_parse(path, &cfg, msg, sizeof(msg)), -ENOENT);
	snprintf(want, sizeof(want), "%s: No such file or directory", path);
	assert_string_equal(msg, want);
	/* No message buffer is fine too. */
	assert_int_equal(host_config_parse(path, &cfg, NULL, 0), -ENOENT);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_good_file),    T(test_unset_keys_keep_their_values),
		T(test_unknown_key),  T(test_bad_number),
		T(test_out_of_range), T(test_size),
		T(test_shape_errors), T(test_missing_file),
	};
#undef T
	return cmocka_run_group_tests(tests, NULL, NULL);
}
