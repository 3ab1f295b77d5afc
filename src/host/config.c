/*
 * config: the capacity keys of the daemon's config file.
 *
 * The format is the smallest that reads well: "key = value" lines, '#'
 * comments, blank lines. Every mistake is an error naming file and line,
 * never a silent default: a typo in memory_reserved would otherwise let
 * VMs take memory the host needs.
 */
#include <ctype.h>
#include <stdarg.h>
#include <string.h>

#include "host/host.h"
#include "host/host-private.h"
#include "util/util.h"

struct ratio_key {
	const char *name;
	double min, max;
	size_t offset; /* of the double in struct host_capacity_config */
};

static const struct ratio_key ratio_keys[] = {
	{.name = "cpu_ratio",
	 .min = 0.1,
	 .max = 64,
	 .offset = offsetof(struct host_capacity_config, cpu_ratio)},
	{.name = "memory_ratio",
	 .min = 0.1,
	 .max = 16,
	 .offset = offsetof(struct host_capacity_config, memory_ratio)},
};

/* The state of one parse: where we are, what is set, where to say why not. */
struct parser {
	const char *path;
	unsigned line;
	unsigned seen[ARRAY_SIZE(ratio_keys) +
		      1]; /* line each key was set on; last: memory_reserved */
	struct host_capacity_config cfg;
	char *msg;
	size_t msg_len;
	bool told; /* msg holds the reason */
};

__attribute__((format(printf, 2, 3))) static int fail(struct parser *p, const char *fmt, ...)
{
	va_list ap;
	int n;

	p->told = true;
	if (!p->msg || !p->msg_len)
		return -EINVAL;
	n = snprintf(p->msg, p->msg_len, "%s:%u: ", p->path, p->line);
	if (n >= 0 && (size_t)n < p->msg_len) {
		va_start(ap, fmt);
		vsnprintf(p->msg + n, p->msg_len - (size_t)n, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

/* A plain decimal: digits with at most one '.', nothing else. strtod alone
 * would take "inf", "nan", hex and exponents. */
static int decimal_parse(const char *s, double *ret)
{
	bool dot = false, digit = false;
	char *end;

	for (const char *p = s; *p; p++) {
		if (isdigit((unsigned char)*p))
			digit = true;
		else if (*p == '.' && !dot)
			dot = true;
		else
			return -EINVAL;
	}
	if (!digit)
		return -EINVAL;
	*ret = strtod(s, &end);
	return *end ? -EINVAL : 0;
}

static char *trim(char *s)
{
	size_t n;

	while (isspace((unsigned char)*s))
		s++;
	n = strlen(s);
	while (n > 0 && isspace((unsigned char)s[n - 1]))
		s[--n] = '\0';
	return s;
}

static int set_key(struct parser *p, const char *key, const char *value)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(ratio_keys); i++)
		if (strcmp(key, ratio_keys[i].name) == 0)
			break;
	if (i == ARRAY_SIZE(ratio_keys) && strcmp(key, "memory_reserved") != 0)
		return fail(p,
			    "unknown key \"%.64s\" (known: cpu_ratio, memory_ratio, "
			    "memory_reserved)",
			    key);
	if (p->seen[i])
		return fail(p, "%s set twice (first on line %u)", key, p->seen[i]);
	p->seen[i] = p->line;

	if (i == ARRAY_SIZE(ratio_keys)) {
		uint64_t bytes;
		if (size_parse(value, &bytes) < 0)
			return fail(p, "memory_reserved: \"%.64s\" is not a size (like 2G or 512M)",
				    value);
		p->cfg.memory_reserved = bytes;
		return 0;
	}

	const struct ratio_key *k = &ratio_keys[i];
	double v;
	if (decimal_parse(value, &v) < 0)
		return fail(p, "%s: \"%.64s\" is not a number", key, value);
	if (v < k->min || v > k->max)
		return fail(p, "%s must be between %g and %g (got %s)", key, k->min, k->max, value);
	*(double *)((char *)&p->cfg + k->offset) = v;
	return 0;
}

static int config_line(char *line, void *userdata)
{
	struct parser *p = userdata;
	char *s, *eq, *key, *value;

	p->line++;
	line[strcspn(line, "#")] = '\0';
	s = trim(line);
	if (!*s)
		return 0;
	eq = strchr(s, '=');
	if (!eq)
		return fail(p, "expected \"key = value\"");
	*eq = '\0';
	key = trim(s);
	value = trim(eq + 1);
	if (!*key || !*value)
		return fail(p, "expected \"key = value\"");
	return set_key(p, key, value);
}

int host_config_parse(const char *path, struct host_capacity_config *cfg, char *msg, size_t msg_len)
{
	struct parser p = {.path = path, .cfg = *cfg, .msg = msg, .msg_len = msg_len};
	int r;

	r = host_each_line(path, config_line, &p);
	if (r < 0) {
		if (!p.told && msg && msg_len)
			snprintf(msg, msg_len, "%s: %s", path, strerror(-r));
		return r;
	}
	*cfg = p.cfg;
	return 0;
}
