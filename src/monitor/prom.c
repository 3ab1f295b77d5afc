/*
 * prom: the Prometheus text exposition format, written strictly.
 *
 * Names are checked against the format's grammar and counters must end
 * in _total, so a typo becomes an error here rather than a scrape that a
 * Prometheus server rejects. Label values are escaped as the format
 * requires (backslash, double quote, newline).
 */
#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <string.h>

#include "monitor/monitor.h"
#include "util/util.h"

struct mon_prom {
	char *buf;
	size_t len, cap;
	char family[128];
	bool oom;
};

struct mon_prom *mon_prom_new(void)
{
	return calloc(1, sizeof(struct mon_prom));
}

void mon_prom_free(struct mon_prom *p)
{
	if (!p)
		return;
	free(p->buf);
	free(p);
}

static void put(struct mon_prom *p, const char *s, size_t n)
{
	if (p->oom)
		return;
	if (p->len + n + 1 > p->cap) {
		size_t cap = p->cap ? p->cap : 4096;
		while (cap < p->len + n + 1)
			cap *= 2;
		char *nb = realloc(p->buf, cap);
		if (!nb) {
			p->oom = true;
			return;
		}
		p->buf = nb;
		p->cap = cap;
	}
	memcpy(p->buf + p->len, s, n);
	p->len += n;
	p->buf[p->len] = '\0';
}

static void putf(struct mon_prom *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void putf(struct mon_prom *p, const char *fmt, ...)
{
	char tmp[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n > 0)
		put(p, tmp, (size_t)n < sizeof(tmp) ? (size_t)n : sizeof(tmp) - 1);
}

static bool valid_name(const char *s, bool label)
{
	if (!s || !*s || !(isalpha((unsigned char)*s) || *s == '_' || (!label && *s == ':')))
		return false;
	for (const char *c = s + 1; *c; c++)
		if (!(isalnum((unsigned char)*c) || *c == '_' || (!label && *c == ':')))
			return false;
	return true;
}

static size_t suffix_len(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);
	return n >= m && strcmp(s + n - m, suffix) == 0 ? m : 0;
}

int mon_prom_family(struct mon_prom *p, const char *name, const char *type, const char *help)
{
	bool counter = strcmp(type, "counter") == 0;

	if (!valid_name(name, false) || strlen(name) >= sizeof(p->family) ||
	    (!counter && strcmp(type, "gauge") != 0) || (counter && !suffix_len(name, "_total")))
		return -EINVAL;
	snprintf(p->family, sizeof(p->family), "%s", name);
	put(p, "# HELP ", 7);
	put(p, name, strlen(name));
	put(p, " ", 1);
	for (const char *c = help; *c; c++) {
		if (*c == '\\')
			put(p, "\\\\", 2);
		else if (*c == '\n')
			put(p, "\\n", 2);
		else
			put(p, c, 1);
	}
	putf(p, "\n# TYPE %s %s\n", name, type);
	return p->oom ? -ENOMEM : 0;
}

int mon_prom_sample(struct mon_prom *p, const char *const *labels, double value)
{
	if (!p->family[0])
		return -EINVAL;
	put(p, p->family, strlen(p->family));
	if (labels && labels[0]) {
		put(p, "{", 1);
		for (size_t i = 0; labels[i]; i += 2) {
			if (!labels[i + 1] || !valid_name(labels[i], true))
				return -EINVAL;
			if (i)
				put(p, ",", 1);
			putf(p, "%s=\"", labels[i]);
			for (const char *c = labels[i + 1]; *c; c++) {
				if (*c == '\\' || *c == '"')
					put(p, "\\", 1);
				if (*c == '\n')
					put(p, "\\n", 2);
				else
					put(p, c, 1);
			}
			put(p, "\"", 1);
		}
		put(p, "}", 1);
	}
	if (isnan(value))
		putf(p, " NaN\n");
	else if (value == floor(value) && fabs(value) < 1e15)
		putf(p, " %.0f\n", value);
	else
		putf(p, " %.9g\n", value);
	return p->oom ? -ENOMEM : 0;
}

const char *mon_prom_text(const struct mon_prom *p, size_t *ret_len)
{
	*ret_len = p->len;
	return p->buf ? p->buf : "";
}
