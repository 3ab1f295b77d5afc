/*
 * progress: what a waiting command prints about a running operation.
 *
 * The daemon reports an operation's progress as a percent (or null when it
 * cannot know one) and a phase. On a terminal that becomes one line on
 * stderr redrawn in place, a bar or a spinner; anywhere else (a log, a CI
 * job) it becomes a plain line whenever the phase changes or the percent
 * passes another tenth, so that a long copy leaves about ten lines and not
 * hundreds. A migration's progress also has details (what is left, how
 * fast the guest dirties its memory, the downtime expected): they follow
 * the phase on the line, but only the phase and the percent decide when a
 * plain line is due, since the details change with every poll. This file
 * only decides the text; printing, polling and timing are the caller's,
 * which keeps it testable without a daemon or a tty.
 */
#include <stdarg.h>
#include <string.h>

#include "cli/cli.h"

#define BAR_WIDTH 20
/* Erase from the cursor to the end of the line: a shorter line drawn over
 * a longer one leaves nothing behind. */
#define ERASE_EOL "\033[K"

void progress_init(struct progress *p, bool tty, unsigned columns)
{
	*p = (struct progress){.tty = tty, .columns = columns, .step = -1};
}

/* The percent as a whole number in [0, 100], or -1 when unknown. Rounded
 * down, so that 100% only shows once everything is done. */
static int op_percent(json_t *progress)
{
	json_t *v = json_object_get(progress, "percent");
	double d;

	if (!json_is_number(v))
		return -1;
	d = json_number_value(v);
	if (!(d >= 0)) /* also NaN */
		return 0;
	return d >= 100 ? 100 : (int)d; /* truncation: d >= 0 */
}

/* The phase, else the operation's message (older daemons and actions that
 * report no progress say what they do there), else "". */
static const char *op_phase(json_t *op, json_t *progress)
{
	const char *s = json_string_value(json_object_get(progress, "phase"));

	if (!s || !*s)
		s = json_string_value(json_object_get(op, "message"));
	return s ? s : "";
}

/* Append to buf (of len bytes, *used of them used) as far as it goes. */
static void append(char *buf, size_t len, size_t *used, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void append(char *buf, size_t len, size_t *used, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (*used >= len)
		return;
	va_start(ap, fmt);
	n = vsnprintf(buf + *used, len - *used, fmt, ap);
	va_end(ap);
	if (n > 0)
		*used = *used + (size_t)n < len ? *used + (size_t)n : len - 1;
}

/* A non-negative number of the details as a whole number; false when it
 * is null, missing or of another type. */
static bool detail_get(json_t *details, const char *key, uint64_t *ret)
{
	json_t *v = json_object_get(details, key);
	double d;

	if (!json_is_number(v))
		return false;
	d = json_number_value(v);
	/* !(d >= 0) is also NaN; (double)UINT64_MAX rounds up to 2^64, the
	 * first value that does not fit. */
	if (!(d >= 0) || d >= (double)UINT64_MAX)
		return false;
	*ret = (uint64_t)d;
	return true;
}

const char *progress_details(json_t *details, char *buf, size_t len)
{
	const char *sep = "";
	size_t used = 0;
	char a[32];
	uint64_t v;

	if (len == 0)
		return "";
	buf[0] = '\0';
	if (!json_is_object(details))
		return buf;
	if (detail_get(details, "remaining_bytes", &v)) {
		append(buf, len, &used, "%s left", cli_human_size(v, a, sizeof(a)));
		sep = ", ";
	}
	/* Block mirroring keeps the copy in step once it has caught up: a
	 * zero is no news. */
	if (detail_get(details, "disk_remaining_bytes", &v) && v > 0) {
		append(buf, len, &used, "%sdisks %s left", sep, cli_human_size(v, a, sizeof(a)));
		sep = ", ";
	}
	if (detail_get(details, "dirty_rate", &v)) {
		append(buf, len, &used, "%sdirtying %s/s", sep, cli_human_size(v, a, sizeof(a)));
		sep = ", ";
	}
	if (detail_get(details, "expected_downtime_ms", &v))
		append(buf, len, &used, "%sdowntime ~%s", sep, cli_human_ms(v, a, sizeof(a)));
	return buf;
}

/* Bytes of the first max_chars characters of the UTF-8 string s. */
static size_t utf8_prefix(const char *s, size_t max_chars)
{
	size_t i = 0, chars = 0;

	for (; s[i]; i++)
		if (((unsigned char)s[i] & 0xC0) != 0x80 && chars++ == max_chars)
			break;
	return i;
}

/* The bar line: "\r[#####...]  25%  phase" cut to the terminal's width
 * less one column, since writing the last column wraps on some terminals
 * and \r would then redraw only the second row. */
static void render_tty(struct progress *p, int percent, const char *phase, char *buf, size_t len)
{
	static const char spinner[] = "|/-\\";
	unsigned columns = p->columns ? p->columns : 80;
	size_t room, fit, n = 0;
	int w;

	if (percent >= 0) {
		char bar[BAR_WIDTH + 1];
		int filled = percent * BAR_WIDTH / 100;

		memset(bar, '#', (size_t)filled);
		memset(bar + filled, '.', (size_t)(BAR_WIDTH - filled));
		bar[BAR_WIDTH] = '\0';
		w = snprintf(buf, len, "\r[%s] %3d%%%s", bar, percent, *phase ? "  " : "");
	} else {
		w = snprintf(buf, len, "\r%c%s", spinner[p->frame++ % 4], *phase ? " " : "");
	}
	if (w > 0)
		n = (size_t)w < len ? (size_t)w : len - 1;
	/* The "\r" takes no column. The phase may take no more than buf can
	 * hold in UTF-8 (4 bytes a character at most) with ERASE_EOL after it,
	 * which must never be cut. */
	room = columns > n ? columns - n : 0;
	fit = len - n > sizeof(ERASE_EOL) ? (len - n - sizeof(ERASE_EOL)) / 4 : 0;
	if (room > fit)
		room = fit;
	snprintf(buf + n, len - n, "%.*s" ERASE_EOL, (int)utf8_prefix(phase, room), phase);
	p->drawn = true;
}

/* "clone: 50% copying disk root", when there is something new to say:
 * the phase changed or the percent reached another tenth. text is the
 * phase with the details after it, what is printed. */
static void render_plain(struct progress *p, json_t *op, int percent, const char *phase,
			 const char *text, char *buf, size_t len)
{
	const char *action = json_string_value(json_object_get(op, "action"));
	int step = percent >= 0 ? percent / 10 : -1;
	bool new_phase = strncmp(phase, p->shown, sizeof(p->shown) - 1) != 0;

	buf[0] = '\0';
	if ((new_phase || step > p->step) && (*phase || percent >= 0)) {
		if (percent >= 0)
			snprintf(buf, len, "%s: %d%%%s%s\n", action ? action : "operation", percent,
				 *text ? " " : "", text);
		else
			snprintf(buf, len, "%s: %s\n", action ? action : "operation", text);
	}
	/* A percent that falls back (a new phase starting over) counts from
	 * there, so the next tenth it passes is printed again. */
	p->step = step;
	snprintf(p->shown, sizeof(p->shown), "%s", phase);
}

const char *progress_render(struct progress *p, json_t *op, char *buf, size_t len)
{
	json_t *progress = json_object_get(op, "progress");
	int percent = op_percent(progress);
	const char *phase = op_phase(op, progress);
	char details[160], text[512];

	if (len == 0)
		return "";
	progress_details(json_object_get(progress, "details"), details, sizeof(details));
	snprintf(text, sizeof(text), "%s%s%s", phase, *phase && *details ? ", " : "", details);
	if (p->tty)
		render_tty(p, percent, text, buf, len);
	else
		render_plain(p, op, percent, phase, text, buf, len);
	return buf;
}

const char *progress_clear(struct progress *p)
{
	if (!p->drawn)
		return "";
	p->drawn = false;
	return "\r" ERASE_EOL;
}
