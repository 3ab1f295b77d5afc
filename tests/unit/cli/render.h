/* Shared by the client's unit tests: run a renderer (a view or the YAML
 * emitter) on JSON text and return what it printed, for golden strings. */
#ifndef WARREN_TEST_RENDER_H
#define WARREN_TEST_RENDER_H

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "cli/cli.h"

static inline char *render(void (*fn)(FILE *f, json_t *j), const char *json_text)
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

/* Golden times are written for UTC, whatever the machine's zone. */
static inline void render_utc(void)
{
	setenv("TZ", "UTC", 1);
	tzset();
}

#endif
