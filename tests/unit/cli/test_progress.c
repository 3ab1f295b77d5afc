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

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_bar),
	    cmocka_unit_test(test_bar_fits_the_terminal),
	    cmocka_unit_test(test_spinner_without_percent),
	    cmocka_unit_test(test_plain_lines),
	    cmocka_unit_test(test_plain_nothing_to_say),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
