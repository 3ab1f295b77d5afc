/* Unit tests for cli/progress.c: the bar redrawn on a terminal, the
 * spinner while the percent is unknown, and the plain lines elsewhere,
 * one per phase or tenth of the percent. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <string.h>

#include "cli/cli.h"

/* progress_render on an operation written as JSON text. */
static const char *step(struct progress *p, const char *op_json)
{
	static char buf[512];
	_cleanup_json_ json_t *op = json_loads(op_json, 0, NULL);

	assert_non_null(op);
	return progress_render(p, op, buf, sizeof(buf));
}

#define OP(percent, phase)                                                                         \
	"{\"id\": \"op-1\", \"vm\": \"web1\", \"action\": \"clone\", \"status\": \"running\","     \
	" \"message\": \"cloning\", \"progress\": {\"percent\": " percent ", \"phase\": " phase    \
	", \"done_bytes\": null, \"total_bytes\": null}}"

static void test_bar(void **state)
{
	struct progress p;

	progress_init(&p, true, 80);
	assert_string_equal(progress_clear(&p), "");
	assert_string_equal(step(&p, OP("50", "\"copying disk root\"")),
			    "\r[##########..........]  50%  copying disk root\033[K");
	/* Rounded down: 100% only when done. */
	assert_string_equal(step(&p, OP("99.9", "\"copying disk root\"")),
			    "\r[###################.]  99%  copying disk root\033[K");
	assert_string_equal(step(&p, OP("100", "\"syncing\"")),
			    "\r[####################] 100%  syncing\033[K");
	/* No phase: the operation's message. */
	assert_string_equal(step(&p, OP("0", "\"\"")),
			    "\r[....................]   0%  cloning\033[K");
	/* Out of range values are clamped. */
	assert_string_equal(step(&p, OP("250", "null")),
			    "\r[####################] 100%  cloning\033[K");
	assert_string_equal(step(&p, OP("-3", "\"x\"")), "\r[....................]   0%  x\033[K");
	/* Once drawn, the line is erased before other output, once. */
	assert_string_equal(progress_clear(&p), "\r\033[K");
	assert_string_equal(progress_clear(&p), "");
}

static void test_bar_fits_the_terminal(void **state)
{
	struct progress p;

	/* 27 columns of bar and percent, two of space, the phase cut so that
	 * the line ends before the last column. */
	progress_init(&p, true, 40);
	assert_string_equal(step(&p, OP("5", "\"copying a very long disk name\"")),
			    "\r[#...................]   5%  copying a \033[K");
	/* Characters, not bytes: a UTF-8 phase is not cut inside a character. */
	progress_init(&p, true, 33);
	assert_string_equal(step(&p, OP("5", "\"écrire l'état\"")),
			    "\r[#...................]   5%  écr\033[K");
	/* Unknown width: 80 columns. */
	progress_init(&p, true, 0);
	assert_int_equal(
	    strlen(step(&p, OP("5", "\"" /* 100 x */
				    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
				    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
				    "\""))),
	    strlen("\r") + 79 + strlen("\033[K"));
}

static void test_spinner_without_percent(void **state)
{
	struct progress p;

	progress_init(&p, true, 80);
	assert_string_equal(step(&p, OP("null", "\"saving memory\"")), "\r| saving memory\033[K");
	assert_string_equal(step(&p, OP("null", "\"saving memory\"")), "\r/ saving memory\033[K");
	assert_string_equal(step(&p, OP("null", "\"saving memory\"")), "\r- saving memory\033[K");
	assert_string_equal(step(&p, OP("null", "\"saving memory\"")), "\r\\ saving memory\033[K");
	assert_string_equal(step(&p, OP("null", "\"saving memory\"")), "\r| saving memory\033[K");
	/* No progress at all (an older daemon, or shutdown): the message. */
	assert_string_equal(
	    step(&p,
		 "{\"action\": \"shutdown\", \"status\": \"running\", \"message\": \"waiting\"}"),
	    "\r/ waiting\033[K");
	assert_string_equal(step(&p, "{\"action\": \"shutdown\", \"status\": \"running\"}"),
			    "\r-\033[K");
}

static void test_plain_lines(void **state)
{
	static const struct {
		const char *percent, *phase, *line;
	} cases[] = {
	    {"0", "\"copying disk root\"", "clone: 0% copying disk root\n"},
	    {"4.5", "\"copying disk root\"", ""},
	    {"9.99", "\"copying disk root\"", ""},
	    {"10", "\"copying disk root\"", "clone: 10% copying disk root\n"},
	    {"19", "\"copying disk root\"", ""},
	    /* A jump over several tenths is one line. */
	    {"47", "\"copying disk root\"", "clone: 47% copying disk root\n"},
	    {"50", "\"copying disk root\"", "clone: 50% copying disk root\n"},
	    {"55", "\"copying disk root\"", ""},
	    /* A new phase is always a line, and its tenths count from it. */
	    {"0", "\"copying disk data\"", "clone: 0% copying disk data\n"},
	    {"8", "\"copying disk data\"", ""},
	    {"12", "\"copying disk data\"", "clone: 12% copying disk data\n"},
	    /* Without a percent, only a change of phase says something. */
	    {"null", "\"syncing\"", "clone: syncing\n"},
	    {"null", "\"syncing\"", ""},
	    {"null", "null", "clone: cloning\n"},
	    {"100", "null", "clone: 100% cloning\n"},
	};
	struct progress p;

	progress_init(&p, false, 0);
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		char op[512];
		const char *out;

		snprintf(op, sizeof(op), OP("%s", "%s"), cases[i].percent, cases[i].phase);
		out = step(&p, op);
		if (strcmp(out, cases[i].line) != 0)
			fail_msg("case %zu: got \"%s\", wanted \"%s\"", i, out, cases[i].line);
	}
	/* Plain lines draw nothing that needs erasing. */
	assert_string_equal(progress_clear(&p), "");
}

static void test_plain_nothing_to_say(void **state)
{
	struct progress p;

	progress_init(&p, false, 0);
	assert_string_equal(step(&p, "{\"action\": \"shutdown\", \"status\": \"running\"}"), "");
	assert_string_equal(step(&p, "{\"status\": \"running\", \"message\": \"waiting\"}"),
			    "operation: waiting\n");
}

/* A migration's details follow the phase; only the phase and the tenths
 * of the percent make a new plain line. */
#define MIGRATE(percent, phase, details)                                                           \
	"{\"id\": \"op-2\", \"vm\": \"web1\", \"action\": \"migrate\", \"status\": \"running\","   \
	" \"progress\": {\"percent\": " percent ", \"phase\": \"" phase "\","                      \
	" \"details\": " details "}}"

static void test_migration_details(void **state)
{
	struct progress p;

	progress_init(&p, true, 100);
	assert_string_equal(
	    step(&p, MIGRATE("40", "copying memory",
			     "{\"transferred_bytes\": 1073741824, \"remaining_bytes\": 1288490189,"
			     " \"dirty_rate\": 50331648, \"expected_downtime_ms\": 85,"
			     " \"disk_remaining_bytes\": 0}")),
	    "\r[########............]  40%  copying memory, 1.2G left, dirtying 48M/s, "
	    "downtime ~85 ms\033[K");
	/* What is null or missing is left out; disks still copying are said. */
	assert_string_equal(
	    step(&p, MIGRATE("10", "copying disks",
			     "{\"remaining_bytes\": null, \"disk_remaining_bytes\": 314572800}")),
	    "\r[##..................]  10%  copying disks, disks 300M left\033[K");
	assert_string_equal(step(&p, MIGRATE("95", "switching over", "{}")),
			    "\r[###################.]  95%  switching over\033[K");
	assert_string_equal(step(&p, MIGRATE("95", "switching over", "null")),
			    "\r[###################.]  95%  switching over\033[K");
	/* Values of the wrong type or sign are left out too. */
	assert_string_equal(step(&p, MIGRATE("50", "copying memory",
					     "{\"remaining_bytes\": \"lots\", \"dirty_rate\": -1,"
					     " \"expected_downtime_ms\": 1500.7}")),
			    "\r[##########..........]  50%  copying memory, downtime ~1.5 s\033[K");

	progress_init(&p, false, 0);
	assert_string_equal(
	    step(&p, MIGRATE("40", "copying memory",
			     "{\"remaining_bytes\": 1073741824, \"dirty_rate\": 1048576}")),
	    "migrate: 40% copying memory, 1G left, dirtying 1M/s\n");
	/* New details alone are no news. */
	assert_string_equal(
	    step(&p, MIGRATE("42", "copying memory",
			     "{\"remaining_bytes\": 900000000, \"dirty_rate\": 2097152}")),
	    "");
	assert_string_equal(
	    step(&p, MIGRATE("50", "copying memory", "{\"remaining_bytes\": 536870912}")),
	    "migrate: 50% copying memory, 512M left\n");
	assert_string_equal(step(&p, MIGRATE("99", "switching over", "{}")),
			    "migrate: 99% switching over\n");
}

static void test_details_text(void **state)
{
	char buf[160];
	_cleanup_json_ json_t *all =
	    json_pack("{s:I, s:I, s:f, s:I}", "remaining_bytes", (json_int_t)5368709120,
		      "disk_remaining_bytes", (json_int_t)1024, "dirty_rate", 1048576.0,
		      "expected_downtime_ms", (json_int_t)65000);
	_cleanup_json_ json_t *none = json_pack("{s:n}", "remaining_bytes");

	assert_string_equal(progress_details(all, buf, sizeof(buf)),
			    "5G left, disks 1K left, dirtying 1M/s, downtime ~1m05s");
	assert_string_equal(progress_details(none, buf, sizeof(buf)), "");
	assert_string_equal(progress_details(NULL, buf, sizeof(buf)), "");
	/* Cut to the buffer, never past it. */
	assert_string_equal(progress_details(all, buf, 12), "5G left, di");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_bar),
	    cmocka_unit_test(test_bar_fits_the_terminal),
	    cmocka_unit_test(test_spinner_without_percent),
	    cmocka_unit_test(test_plain_lines),
	    cmocka_unit_test(test_plain_nothing_to_say),
	    cmocka_unit_test(test_migration_details),
	    cmocka_unit_test(test_details_text),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
