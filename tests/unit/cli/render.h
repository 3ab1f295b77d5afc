/* Shared by the client's unit tests: run a renderer (a view or the YAML
 * emitter) on JSON text and return what it printed, or compare it with a
 * golden string. */
#ifndef WARREN_TEST_RENDER_H
#define WARREN_TEST_RENDER_H

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "cli/cli.h"

/* Not inlined: GCC 12 at -O2 takes the buffer open_memstream fills for a
 * pointer to this frame once the caller holds it (-Wdangling-pointer). */
static __attribute__((noinline, unused)) char *render(void (*fn)(FILE *f, json_t *j),
						      const char *json_text)
{
	_cleanup_json_ json_t *j = NULL;
	json_error_t e;
	char *out = NULL;
	size_t len = 0;
	FILE *f;

	j = json_loads(json_text, JSON_DECODE_ANY | JSON_ALLOW_NUL, &e);
	if (!j) {
		fprintf(stderr, "bad test JSON: %s\n", e.text);
		abort();
	}
	f = open_memstream(&out, &len);
	if (!f)
		abort();
	fn(f, j);
	fclose(f);
	return out;
}

/* The renderer's output for json_text is expected, exactly. (cmocka.h
 * comes first in the tests.) */
static inline void assert_render(void (*fn)(FILE *f, json_t *j), const char *json_text,
				 const char *expected)
{
	_cleanup_free_ char *out = render(fn, json_text);

	assert_string_equal(out, expected);
}

/* Golden times are written for UTC, whatever the machine's zone. */
static inline void render_utc(void)
{
	setenv("TZ", "UTC", 1);
	tzset();
}

#endif
