/*
 * args: the command-line grammar of warren, the parsers of the values
 * its options take (durations, numbers, disks, labels) and the small
 * helpers that put them into request bodies.
 *
 * Only long options exist (plus -h), so that every flag reads the same in
 * every verb and global flags can stand before or after the verb. Nothing
 * here prints or exits: errors travel in a struct werr whose message the
 * caller shows next to one usage line.
 */
#include <ctype.h>
#include <string.h>

#include "cli/cli.h"

static const struct cli_option *option_find(const struct cli_option *const *tables,
					    const char *name, size_t len)
{
	for (; *tables; tables++)
		for (const struct cli_option *o = *tables; o->name; o++)
			if (strlen(o->name) == len && strncmp(o->name, name, len) == 0)
				return o;
	return NULL;
}

static int args_push_pos(struct cli_args *a, const char *s)
{
	const char **n = realloc(a->pos, (a->n_pos + 1) * sizeof(*n));

	if (!n)
		return -ENOMEM;
	n[a->n_pos++] = s;
	a->pos = n;
	return 0;
}

static int args_push_opt(struct cli_args *a, const struct cli_option *o, const char *value)
{
	struct cli_optval *n = realloc(a->opts, (a->n_opts + 1) * sizeof(*n));

	if (!n)
		return -ENOMEM;
	n[a->n_opts++] = (struct cli_optval){.opt = o, .value = value};
	a->opts = n;
	return 0;
}

int cli_args_parse(struct cli_args *a, int argc, char *const *argv,
		   const struct cli_option *const *tables, bool stop_at_operand, struct werr *err)
{
	bool operands_only = false;
	int i;
	int r;

	for (i = 0; i < argc; i++) {
		const char *arg = argv[i];
		const struct cli_option *o;
		const char *value = NULL;

		if (operands_only || arg[0] != '-' || arg[1] == '\0') {
			if (stop_at_operand)
				break;
			r = args_push_pos(a, arg);
			if (r < 0)
				return r;
			continue;
		}
		if (strcmp(arg, "--") == 0) {
			operands_only = true;
			continue;
		}
		if (strcmp(arg, "-h") == 0) {
			o = option_find(tables, "help", 4);
		} else if (arg[1] == '-') {
			const char *name = arg + 2;
			const char *eq = strchr(name, '=');

			o = option_find(tables, name, eq ? (size_t)(eq - name) : strlen(name));
			if (o && eq) {
				if (!o->arg)
					return werr_set(err, -EINVAL, "invalid", o->name,
							"option --%s takes no value", o->name);
				value = eq + 1;
			}
		} else {
			o = NULL;
		}
		if (!o)
			return werr_set(err, -EINVAL, "invalid", "", "unknown option '%s'", arg);
		if (o->arg && !value) {
			if (i + 1 >= argc)
				return werr_set(err, -EINVAL, "invalid", o->name,
						"option --%s needs a value (%s)", o->name, o->arg);
			value = argv[++i];
		}
		r = args_push_opt(a, o, value);
		if (r < 0)
			return r;
	}
	return i;
}

void cli_args_clear(struct cli_args *a)
{
	free(a->pos);
	free(a->opts);
	*a = (struct cli_args){0};
}

static const struct cli_optval *opt_last(const struct cli_args *a, const char *name)
{
	for (size_t i = a->n_opts; i > 0; i--)
		if (strcmp(a->opts[i - 1].opt->name, name) == 0)
			return &a->opts[i - 1];
	return NULL;
}

bool cli_opt_has(const struct cli_args *a, const char *name)
{
	return opt_last(a, name) != NULL;
}

const char *cli_opt_get(const struct cli_args *a, const char *name)
{
	const struct cli_optval *v = opt_last(a, name);

	return v ? v->value : NULL;
}

/* ---- values ------------------------------------------------------------ */

/* Digits at *p accumulated into *ret; advances *p. -ERANGE past max. */
static int digits_parse(const char **p, uint64_t max, uint64_t *ret)
{
	uint64_t v = 0;
	const char *s = *p;

	if (!isdigit((unsigned char)*s))
		return -EINVAL;
	for (; isdigit((unsigned char)*s); s++) {
		uint64_t d = (uint64_t)(*s - '0');
		if (v > (UINT64_MAX - d) / 10)
			return -ERANGE;
		v = v * 10 + d;
		if (v > max)
			return -ERANGE;
	}
	*p = s;
	*ret = v;
	return 0;
}

int cli_parse_uint(const char *s, uint64_t max, uint64_t *ret)
{
	uint64_t v;
	int r;

	if (!s)
		return -EINVAL;
	r = digits_parse(&s, max, &v);
	if (r < 0)
		return r;
	if (*s != '\0')
		return -EINVAL;
	*ret = v;
	return 0;
}

int cli_parse_duration_ms(const char *s, uint64_t *ret_ms)
{
	static const struct {
		const char *suffix;
		uint64_t ms;
	} units[] = {
	    /* "ms" before "m" so that the longer suffix wins. */
	    {"ms", 1}, {"s", 1000}, {"m", 60000}, {"h", 3600000}, {"d", 86400000},
	};
	uint64_t total = 0;
	int r;

	if (!s || !*s)
		return -EINVAL;
	while (*s) {
		uint64_t n, mult = 0;
		size_t ulen = 0;

		r = digits_parse(&s, UINT64_MAX, &n);
		if (r < 0)
			return r;
		if (*s == '\0' && total == 0) {
			mult = 1000; /* a bare number: seconds */
		} else {
			for (size_t i = 0; i < ARRAY_SIZE(units); i++) {
				ulen = strlen(units[i].suffix);
				if (strncmp(s, units[i].suffix, ulen) == 0) {
					mult = units[i].ms;
					break;
				}
			}
			if (!mult)
				return -EINVAL;
			s += ulen;
		}
		if (n > (UINT64_MAX - total) / mult)
			return -ERANGE;
		total += n * mult;
	}
	*ret_ms = total;
	return 0;
}

static int disk_set(json_t *disk, const char *key, json_t *value, const char *spec,
		    struct werr *err)
{
	if (!value)
		return -ENOMEM;
	if (json_object_get(disk, key)) {
		json_decref(value);
		return werr_set(err, -EINVAL, "invalid", "disk", "--disk '%s': %s given twice",
				spec, key);
	}
	if (json_object_set_new(disk, key, value) < 0)
		return -ENOMEM;
	return 0;
}

static int disk_item(json_t *disk, const char *item, size_t len, bool first, const char *spec,
		     struct werr *err)
{
	static const char *const string_keys[] = {"name", "size", "image", "bus"};
	_cleanup_free_ char *key = strndup(item, len), *what = NULL;
	json_t *limit = NULL;
	char *value;
	int r;

	if (!key)
		return -ENOMEM;
	if (len == 0)
		return werr_set(err, -EINVAL, "invalid", "disk", "--disk '%s': empty item", spec);
	value = strchr(key, '=');
	if (!value) {
		if (strcmp(key, "readonly") == 0)
			return disk_set(disk, "readonly", json_true(), spec, err);
		/* DESIGN.md writes the name bare: --disk root,size=2G */
		if (first)
			return disk_set(disk, "name", json_string(key), spec, err);
		return werr_set(err, -EINVAL, "invalid", "disk",
				"--disk '%s': '%s' is not KEY=VALUE", spec, key);
	}
	*value++ = '\0';
	if (*value == '\0')
		return werr_set(err, -EINVAL, "invalid", "disk", "--disk '%s': %s has no value",
				spec, key);
	if (strcmp(key, "readonly") == 0) {
		bool on = strcmp(value, "true") == 0 || strcmp(value, "yes") == 0 ||
			  strcmp(value, "on") == 0;
		bool off = strcmp(value, "false") == 0 || strcmp(value, "no") == 0 ||
			   strcmp(value, "off") == 0;
		if (!on && !off)
			return werr_set(err, -EINVAL, "invalid", "disk",
					"--disk '%s': readonly takes true or false, not '%s'", spec,
					value);
		return disk_set(disk, "readonly", json_boolean(on), spec, err);
	}
	for (size_t i = 0; i < ARRAY_SIZE(string_keys); i++)
		if (strcmp(key, string_keys[i]) == 0)
			return disk_set(disk, key, json_string(value), spec, err);
	/* The disk's limits, read as "warren set" reads them. */
	if (asprintf(&what, "--disk '%s': %s", spec, key) < 0)
		return -ENOMEM;
	r = cli_resource_value(key, true, value, what, &limit, err);
	if (r == 0)
		return disk_set(disk, key, limit, spec, err);
	if (r != -ENOENT)
		return r;
	return werr_set(
	    err, -EINVAL, "invalid", "disk",
	    "--disk '%s': unknown key '%s' (name, size, image, readonly, bus, iops, bps)", spec,
	    key);
}

int cli_parse_disk(const char *s, json_t **ret_disk, struct werr *err)
{
	_cleanup_json_ json_t *disk = json_object();
	const char *p = s;
	int r;

	if (!disk)
		return -ENOMEM;
	for (bool first = true;; first = false) {
		const char *comma = strchr(p, ',');
		size_t len = comma ? (size_t)(comma - p) : strlen(p);

		r = disk_item(disk, p, len, first, s, err);
		if (r < 0)
			return r;
		if (!comma)
			break;
		p = comma + 1;
	}
	if (!json_object_get(disk, "name"))
		return werr_set(err, -EINVAL, "invalid", "disk", "--disk '%s': needs name=NAME", s);
	*ret_disk = TAKE_PTR(disk);
	return 0;
}

int cli_parse_decimal(const char *s, double *ret)
{
	const char *p = s + (s[0] == '-');
	size_t whole = strspn(p, "0123456789"), frac = 0;
	double v;

	if (p[whole] == '.')
		frac = strspn(p + whole + 1, "0123456789");
	if (whole + frac == 0 || p[whole + (p[whole] == '.') + frac] != '\0')
		return -EINVAL;
	errno = 0;
	v = strtod(s, NULL);
	if (errno != 0)
		return -EINVAL;
	*ret = v;
	return 0;
}

int cli_parse_label(const char *s, const char *opt, char **ret_key, const char **ret_value,
		    struct werr *err)
{
	const char *eq = strchr(s, '=');
	char *key;

	if (!eq || eq == s)
		return werr_set(err, -EINVAL, "invalid", "labels", "--%s '%s': expected KEY=VALUE",
				opt, s);
	key = strndup(s, (size_t)(eq - s));
	if (!key)
		return -ENOMEM;
	*ret_key = key;
	*ret_value = eq + 1;
	return 0;
}

/* ---- JSON bodies --------------------------------------------------------- */

json_t *cli_json_child(json_t *obj, const char *key)
{
	json_t *child = json_object_get(obj, key);

	if (json_is_object(child))
		return child;
	child = json_object();
	if (json_object_set_new(obj, key, child) < 0)
		return NULL;
	return child;
}

int cli_json_set(json_t *obj, const char *key, json_t *value)
{
	return json_object_set_new(obj, key, value) < 0 ? -ENOMEM : 0;
}

int cli_labels_set(json_t *obj, const char *key, const struct cli_args *a, const char *opt,
		   struct werr *err)
{
	json_t *labels = NULL;
	int r;

	for (size_t i = 0; i < a->n_opts; i++) {
		_cleanup_free_ char *name = NULL;
		const char *value;

		if (strcmp(a->opts[i].opt->name, opt) != 0)
			continue;
		r = cli_parse_label(a->opts[i].value, opt, &name, &value, err);
		if (r < 0)
			return r;
		/* Labels are a map: an option sets one key and keeps the others. */
		if (!labels && !(labels = cli_json_child(obj, key)))
			return -ENOMEM;
		r = cli_json_set(labels, name, json_string(value));
		if (r < 0)
			return r;
	}
	return 0;
}
