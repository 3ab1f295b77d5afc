/*
 * route: match a request's method and path against a route table, segment
 * by segment, and decode the path parameters.
 *
 * Pure (no I/O, no libevent) so that the unit tests can drive it with any
 * table. Splitting happens on the encoded path and each segment is decoded
 * on its own, so "%2F" inside a VM name never creates a segment.
 */
#include <string.h>

#include "api/api.h"

/* clang-format off */
static const char *const method_names[] = {
	[API_GET] = "GET",       [API_POST] = "POST",   [API_PUT] = "PUT",
	[API_DELETE] = "DELETE", [API_PATCH] = "PATCH", [API_HEAD] = "HEAD",
	[API_OPTIONS] = "OPTIONS",
};
/* clang-format on */

const char *api_method_to_string(enum api_method m)
{
	if ((size_t)m >= ARRAY_SIZE(method_names) || !method_names[m])
		return "OTHER";
	return method_names[m];
}

/* Length of the segment starting at s (up to '/' or the end). */
static size_t segment_len(const char *s)
{
	return strcspn(s, "/");
}

static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * Percent-decode one segment into out (API_PARAM_MAX + 1 bytes). '+' stays
 * '+': it means a space only in query strings.
 */
static int segment_decode(const char *s, size_t len, char *out)
{
	size_t o = 0;

	for (size_t i = 0; i < len; i++) {
		char c = s[i];

		if (c == '%') {
			int hi, lo;

			if (len - i < 3)
				return -EINVAL;
			hi = hex_value(s[i + 1]);
			lo = hex_value(s[i + 2]);
			if (hi < 0 || lo < 0)
				return -EINVAL;
			c = (char)(hi << 4 | lo);
			i += 2;
		}
		if (c == '\0')
			return -EINVAL;
		if (o == API_PARAM_MAX)
			return -ENAMETOOLONG;
		out[o++] = c;
	}
	out[o] = '\0';
	return 0;
}

/* Store the parameter named name (pattern text between the braces). */
static int param_store(struct api_params *params, const char *name, size_t name_len,
		       const char *seg, size_t seg_len, const char *pattern, struct werr *err)
{
	size_t i = params->n;
	int r;

	if (i == API_PARAMS_MAX || name_len >= API_PARAM_NAME_MAX)
		return werr_set(err, -EINVAL, "internal", "",
				"route %s has too many or too long parameters", pattern);
	memcpy(params->v[i].name, name, name_len);
	params->v[i].name[name_len] = '\0';
	r = segment_decode(seg, seg_len, params->v[i].value);
	if (r == -ENAMETOOLONG)
		return werr_set(err, -EINVAL, "invalid", params->v[i].name,
				"%s is longer than %d bytes", params->v[i].name, API_PARAM_MAX);
	if (r < 0)
		return werr_set(err, -EINVAL, "invalid", params->v[i].name,
				"%s is not a valid percent-encoded path segment",
				params->v[i].name);
	params->n++;
	return 0;
}

/*
 * Walk pattern and path segment by segment: 1 if path has the shape of
 * pattern (literal segments equal, compared encoded since the table's
 * literals need no encoding; parameter segments non-empty), 0 if not.
 * With params, also decode the parameters, which can fail (< 0).
 */
static int pattern_walk(const char *pattern, const char *path, struct api_params *params,
			struct werr *err)
{
	const char *p = pattern;

	if (params)
		params->n = 0;
	while (*p == '/' && *path == '/') {
		size_t pl = segment_len(++p);
		size_t sl = segment_len(++path);

		if (p[0] != '{') {
			if (pl != sl || memcmp(p, path, pl) != 0)
				return 0;
		} else if (sl == 0) {
			return 0;
		} else if (params) {
			int r = param_store(params, p + 1, pl - 2, path, sl, pattern, err);

			if (r < 0)
				return r;
		}
		p += pl;
		path += sl;
	}
	return *p == '\0' && *path == '\0';
}

int api_route_match(const struct api_route *table, size_t n, enum api_method method,
		    const char *path, const struct api_route **ret_route,
		    struct api_params *ret_params, unsigned *ret_allowed, struct werr *err)
{
	const struct api_route *found = NULL;
	unsigned allowed = 0;

	for (size_t i = 0; i < n; i++) {
		if (pattern_walk(table[i].pattern, path, NULL, NULL) <= 0)
			continue;
		allowed |= 1u << table[i].method;
		if (!found && table[i].method == method)
			found = &table[i];
	}
	if (!allowed)
		return werr_set(err, -ENOENT, "not_found", "", "no such resource: %.200s", path);
	if (!found) {
		if (ret_allowed)
			*ret_allowed = allowed;
		return werr_set(err, -EOPNOTSUPP, "method_not_allowed", "",
				"%s is not allowed on %.200s", api_method_to_string(method), path);
	}
	if (pattern_walk(found->pattern, path, ret_params, err) < 0)
		return -EINVAL;
	*ret_route = found;
	return 0;
}

char *api_allow_format(unsigned allowed, char *buf, size_t len)
{
	size_t o = 0;

	if (len == 0)
		return buf;
	buf[0] = '\0';
	for (size_t m = 0; m < ARRAY_SIZE(method_names); m++) {
		if (!(allowed & (1u << m)) || !method_names[m])
			continue;
		int w = snprintf(buf + o, len - o, "%s%s", o ? ", " : "", method_names[m]);
		if (w < 0 || (size_t)w >= len - o) {
			buf[o] = '\0'; /* no half method names */
			break;
		}
		o += (size_t)w;
	}
	return buf;
}
