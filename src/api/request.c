/*
 * request: checks on what a client sent besides the path, i.e. body size,
 * the JSON body and the query string. Pure functions, unit-tested; each
 * failure fills the werr that is sent back as the 4xx answer.
 */
#include <event2/http.h>
#include <string.h>

#include "api/api.h"

int api_body_check_size(size_t len, struct werr *err)
{
	if (len > API_BODY_MAX)
		return werr_set(
		    err, -EMSGSIZE, "too_large", "",
		    "request body of %zu bytes exceeds the limit of %zu bytes (%zu MiB)", len,
		    API_BODY_MAX, API_BODY_MAX >> 20);
	return 0;
}

static bool all_space(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (!strchr(" \t\r\n", s[i]))
			return false;
	return true;
}

int api_body_parse_json(const void *buf, size_t len, enum api_body kind, json_t **ret,
			struct werr *err)
{
	json_error_t jerr;
	json_t *j;

	if (!buf || all_space(buf, len)) {
		if (kind == API_BODY_JSON)
			return werr_set(err, -EINVAL, "invalid", "",
					"request body is missing: a JSON object is required");
		*ret = NULL;
		return 0;
	}
	/* jansson bounds nesting depth itself; duplicate keys would let two
	 * readers of the same body disagree on its meaning. */
	j = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!j)
		return werr_set(err, -EINVAL, "invalid", "",
				"request body is not valid JSON: %s at line %d column %d",
				jerr.text, jerr.line, jerr.column);
	if (!json_is_object(j)) {
		json_decref(j);
		return werr_set(err, -EINVAL, "invalid", "", "request body must be a JSON object");
	}
	*ret = j;
	return 0;
}

/* Is key one of the space-separated words of list? */
static bool word_in(const char *list, const char *key)
{
	size_t kl = strlen(key);

	while (list && *list) {
		size_t wl = strcspn(list, " ");

		if (wl == kl && memcmp(list, key, kl) == 0)
			return true;
		list += wl;
		list += strspn(list, " ");
	}
	return false;
}

int api_query_check(const struct evkeyvalq *q, const char *allowed, struct werr *err)
{
	const struct evkeyval *kv, *prev;

	for (kv = TAILQ_FIRST(q); kv; kv = TAILQ_NEXT(kv, next)) {
		if (!word_in(allowed, kv->key))
			return werr_set(err, -EINVAL, "invalid", kv->key,
					"unknown query parameter '%.64s'%s%s", kv->key,
					allowed ? "; accepted: " : "", allowed ? allowed : "");
		/* Quadratic, but every key so far was an accepted one, so a
		 * repeat shows up within the first few entries. */
		for (prev = TAILQ_FIRST(q); prev != kv; prev = TAILQ_NEXT(prev, next)) {
			if (strcmp(prev->key, kv->key) == 0)
				return werr_set(err, -EINVAL, "invalid", kv->key,
						"query parameter '%s' is given more than once",
						kv->key);
		}
	}
	return 0;
}

int api_bool_parse(const char *s, bool *ret)
{
	if (strcmp(s, "true") == 0 || strcmp(s, "1") == 0) {
		*ret = true;
		return 0;
	}
	if (strcmp(s, "false") == 0 || strcmp(s, "0") == 0) {
		*ret = false;
		return 0;
	}
	return -EINVAL;
}
