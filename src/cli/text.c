/*
 * text: the small human forms of numbers the tables use (sizes, uptimes,
 * timestamps), the reading of the API's times, and a table of
 * left-aligned columns.
 *
 * These are for people reading a terminal; scripts get exact values with
 * --format json or yaml, so rounding here is acceptable.
 */
#include <string.h>
#include <time.h>

#include "cli/cli.h"

char *cli_human_size(uint64_t bytes, char *buf, size_t len)
{
	static const char units[] = "KMGTPE";
	int u = -1;

	while (u + 1 < (int)sizeof(units) - 1 && bytes >= (1ULL << (10 * (u + 2))))
		u++;
	if (u < 0) {
		snprintf(buf, len, "%lluB", (unsigned long long)bytes);
		return buf;
	}
	unsigned shift = 10u * (unsigned)(u + 1);
	if ((bytes & ((1ULL << shift) - 1)) == 0) {
		snprintf(buf, len, "%llu%c", (unsigned long long)(bytes >> shift), units[u]);
		return buf;
	}
	double v = (double)bytes / (double)(1ULL << shift);
	/* One decimal would print 1023.96M as "1024.0M"; say "1.0G" instead. */
	if (v >= 1023.95 && units[u + 1] != '\0') {
		v /= 1024.0;
		u++;
	}
	snprintf(buf, len, "%.1f%c", v, units[u]);
	return buf;
}

char *cli_human_uptime(uint64_t seconds, char *buf, size_t len)
{
	unsigned long long s = seconds;

	/* Two units at most: beyond a minute nobody reads the seconds. */
	if (s < 60)
		snprintf(buf, len, "%llus", s);
	else if (s < 3600)
		snprintf(buf, len, "%llum%02llus", s / 60, s % 60);
	else if (s < 86400)
		snprintf(buf, len, "%lluh%02llum", s / 3600, s % 3600 / 60);
	else
		snprintf(buf, len, "%llud%02lluh", s / 86400, s % 86400 / 3600);
	return buf;
}

char *cli_human_time(int64_t ms, char *buf, size_t len)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	if (!localtime_r(&t, &tm) || strftime(buf, len, "%Y-%m-%d %H:%M:%S", &tm) == 0)
		snprintf(buf, len, "%lld", (long long)ms);
	return buf;
}

int cli_parse_time(const char *s, int64_t *ret_ms)
{
	struct tm tm = {0};
	unsigned ms = 0;
	const char *p;
	time_t t;

	if (!s)
		return -EINVAL;
	p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	if (!p)
		return -EINVAL;
	/* Milliseconds as warrend writes them; more digits are cut. */
	if (*p == '.') {
		size_t digits = strspn(++p, "0123456789");

		if (digits == 0)
			return -EINVAL;
		for (size_t i = 0; i < 3; i++)
			ms = ms * 10 + (i < digits ? (unsigned)(p[i] - '0') : 0);
		p += digits;
	}
	if (strcmp(p, "Z") != 0)
		return -EINVAL;
	t = timegm(&tm);
	if (t == (time_t)-1)
		return -EINVAL;
	*ret_ms = (int64_t)t * 1000 + ms;
	return 0;
}

char *cli_human_ms(uint64_t ms, char *buf, size_t len)
{
	char up[32];

	/* A downtime is read in milliseconds, a transfer in seconds; past a
	 * minute the tenths no longer matter. */
	if (ms < 1000)
		snprintf(buf, len, "%llu ms", (unsigned long long)ms);
	else if (ms < 60000)
		snprintf(buf, len, "%.1f s", (double)ms / 1000.0);
	else
		snprintf(buf, len, "%s", cli_human_uptime(ms / 1000, up, sizeof(up)));
	return buf;
}

/* ---- tables -------------------------------------------------------------- */

int cli_table_init(struct cli_table *t, size_t n_cols, const char *const *headers)
{
	int r;

	*t = (struct cli_table){.n_cols = n_cols};
	for (size_t i = 0; i < n_cols; i++) {
		r = cli_table_cell(t, headers[i]);
		if (r < 0) {
			cli_table_clear(t);
			return r;
		}
	}
	return 0;
}

int cli_table_cell(struct cli_table *t, const char *s)
{
	char *copy = strdup(s ? s : "");

	if (!copy)
		return -ENOMEM;
	if (t->n_cells + 2 > t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 64;
		char **nc = realloc(t->cells, cap * sizeof(char *));
		if (!nc) {
			free(copy);
			return -ENOMEM;
		}
		t->cells = nc;
		t->cap = cap;
	}
	t->cells[t->n_cells++] = copy;
	t->cells[t->n_cells] = NULL;
	return 0;
}

/* Are the cells after i in its row all empty? Then i ends the line, which
 * keeps padding out of lines whose last columns are blank. */
static bool row_rest_empty(const struct cli_table *t, size_t i)
{
	for (size_t j = i + 1; j < t->n_cells && j % t->n_cols != 0; j++)
		if (t->cells[j][0] != '\0')
			return false;
	return true;
}

/* Columns are as wide as their widest cell in characters, not bytes, so
 * that UTF-8 labels do not push the next column out of line. */
static size_t text_width(const char *s)
{
	size_t w = 0;

	for (; *s; s++)
		if (((unsigned char)*s & 0xC0) != 0x80)
			w++;
	return w;
}

void cli_table_print(const struct cli_table *t, FILE *f)
{
	size_t n = t->n_cells;
	size_t widths[16] = {0};

	if (t->n_cols == 0 || t->n_cols > ARRAY_SIZE(widths))
		return;
	for (size_t i = 0; i < n; i++) {
		size_t w = text_width(t->cells[i]);
		if (w > widths[i % t->n_cols])
			widths[i % t->n_cols] = w;
	}
	for (size_t i = 0; i < n; i++) {
		size_t col = i % t->n_cols;
		bool last = col == t->n_cols - 1 || i == n - 1;

		fputs(t->cells[i], f);
		if (last) {
			fputc('\n', f);
			continue;
		}
		if (row_rest_empty(t, i)) {
			fputc('\n', f);
			i += t->n_cols - 1 - col; /* past the blank cells */
			continue;
		}
		/* Two spaces between columns; no padding after the last one. */
		for (size_t pad = widths[col] - text_width(t->cells[i]) + 2; pad > 0; pad--)
			fputc(' ', f);
	}
}

void cli_table_clear(struct cli_table *t)
{
	strv_free(t->cells);
	t->cells = NULL;
	t->n_cells = t->cap = 0;
}
