/* golden: see golden.h. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "../golden.h"
#include "util/util.h"

static char *read_file(const char *path)
{
	_cleanup_fclose_ FILE *f = fopen(path, "re");
	char *buf = NULL;
	size_t len = 0;

	if (!f || getdelim(&buf, &len, '\0', f) < 0) {
		free(buf);
		return f ? strdup("") : NULL;
	}
	return buf;
}

/* The n-th line (0-based) of text, in buf, or "(end of file)". */
static const char *nth_line(const char *text, size_t n, char *buf, size_t len)
{
	const char *p = text;

	for (; n > 0 && p; n--) {
		p = strchr(p, '\n');
		p = p ? p + 1 : NULL;
	}
	if (!p || !*p)
		return "(end of file)";
	snprintf(buf, len, "%.*s", (int)strcspn(p, "\n"), p);
	return buf;
}

void golden_check(const char *path, const char *got)
{
	_cleanup_free_ char *want = NULL;
	FILE *f;

	assert_non_null(got);
	if (getenv("WARREN_UPDATE_GOLDEN")) {
		f = fopen(path, "we");
		assert_non_null(f);
		fputs(got, f);
		fclose(f);
		return;
	}
	want = read_file(path);
	if (!want)
		fail_msg("%s is missing; run with WARREN_UPDATE_GOLDEN=1 to create it", path);
	if (strcmp(got, want) == 0)
		return;
	for (size_t i = 0;; i++) {
		char w[4096], g[4096];

		nth_line(want, i, w, sizeof(w));
		if (strcmp(w, nth_line(got, i, g, sizeof(g))) != 0)
			fail_msg("%s:%zu differs\n  want: %s\n  got:  %s\nwhole output:\n%s"
				 "(WARREN_UPDATE_GOLDEN=1 rewrites the golden files)",
				 path, i + 1, w, g, got);
	}
}
