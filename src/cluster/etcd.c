/*
 * etcd: etcd's v3 JSON gateway as JSON (protobuf's JSON mapping): keys and
 * values are base64, 64-bit numbers are strings and fields at their
 * default value (false, 0) are left out. Every value Warren writes is JSON
 * text; a range answer becomes a view {"key": {"value", "create", "mod",
 * "lease"}} that watch events keep current. Pure: the requests themselves
 * are the daemon's (src/daemon/etcd.c).
 */
#include <stdlib.h>
#include <string.h>

#include "cluster/etcd.h"
#include "util/util.h"

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static char *b64_encode(const void *data, size_t len)
{
	const unsigned char *p = data;
	char *out = malloc((len + 2) / 3 * 4 + 1), *o = out;

	if (!out)
		return NULL;
	for (size_t i = 0; i < len; i += 3) {
		unsigned v = (unsigned)p[i] << 16 | (i + 1 < len ? (unsigned)p[i + 1] << 8 : 0) |
			     (i + 2 < len ? p[i + 2] : 0);
		*o++ = b64[v >> 18 & 63];
		*o++ = b64[v >> 12 & 63];
		*o++ = i + 1 < len ? b64[v >> 6 & 63] : '=';
		*o++ = i + 2 < len ? b64[v & 63] : '=';
	}
	*o = '\0';
	return out;
}

static char *b64_decode(const char *s, size_t *ret_len)
{
	size_t n = strlen(s), o = 0;
	char *out = malloc(n / 4 * 3 + 3);
	unsigned v = 0, bits = 0;

	if (!out)
		return NULL;
	for (size_t i = 0; i < n && s[i] != '='; i++) {
		const char *c = strchr(b64, s[i]);
		if (!c || !s[i]) {
			free(out);
			return NULL;
		}
		v = v << 6 | (unsigned)(c - b64);
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (char)(v >> bits & 0xff);
		}
	}
	out[o] = '\0';
	*ret_len = o;
	return out;
}

json_t *etcd_key(const char *key)
{
	_cleanup_free_ char *e = b64_encode(key, strlen(key));

	return e ? json_string(e) : NULL;
}

/* The end of the range of keys that start with prefix: the prefix with its
 * last byte plus one. */
static json_t *prefix_end(const char *prefix)
{
	_cleanup_free_ char *end = strdup(prefix);
	size_t n = strlen(prefix);

	if (!end || !n)
		return NULL;
	end[n - 1]++;
	return etcd_key(end);
}

json_t *etcd_range_body(const char *key, bool prefix)
{
	json_t *j = json_pack("{s:o}", "key", etcd_key(key));

	if (j && prefix)
		json_object_set_new(j, "range_end", prefix_end(key));
	return j;
}

json_t *etcd_op_put(const char *key, json_t *value, int64_t lease)
{
	_cleanup_free_ char *text =
		value ? json_dumps(value, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY) : NULL;
	_cleanup_free_ char *e = text ? b64_encode(text, strlen(text)) : NULL;
	json_t *put;

	json_decref(value);
	if (!e)
		return NULL;
	put = json_pack("{s:o, s:s}", "key", etcd_key(key), "value", e);
	if (put && lease)
		json_object_set_new(put, "lease", json_sprintf("%lld", (long long)lease));
	return json_pack("{s:o}", "request_put", put);
}

json_t *etcd_op_del(const char *key)
{
	return json_pack("{s:{s:o}}", "request_delete_range", "key", etcd_key(key));
}

json_t *etcd_cmp_created(const char *key, int64_t rev)
{
	return json_pack("{s:o, s:s, s:s, s:o}", "key", etcd_key(key), "target", "CREATE",
			 "result", "EQUAL", "create_revision", json_sprintf("%lld", (long long)rev));
}

json_t *etcd_cmp_mod(const char *key, int64_t rev)
{
	return json_pack("{s:o, s:s, s:s, s:o}", "key", etcd_key(key), "target", "MOD",
			 "result", "EQUAL", "mod_revision", json_sprintf("%lld", (long long)rev));
}

int64_t etcd_int(json_t *j)
{
	if (json_is_integer(j))
		return json_integer_value(j);
	if (json_is_string(j))
		return strtoll(json_string_value(j), NULL, 10);
	return 0;
}

/* One kv of an answer: its key (malloc'd) and {value, create, mod, lease}. */
static json_t *kv_decode(json_t *kv, char **ret_key)
{
	const char *k = json_string_value(json_object_get(kv, "key"));
	const char *v = json_string_value(json_object_get(kv, "value"));
	_cleanup_free_ char *val = NULL;
	size_t klen = 0, vlen = 0;
	char *key;

	if (!k || !(key = b64_decode(k, &klen)))
		return NULL;
	if (strlen(key) != klen) {
		free(key);
		return NULL;
	}
	val = v ? b64_decode(v, &vlen) : strdup("null");
	*ret_key = key;
	return json_pack("{s:o, s:I, s:I, s:I}", "value",
			 val ? json_loadb(val, vlen, JSON_DECODE_ANY, NULL) ?: json_null() : json_null(),
			 "create", (json_int_t)etcd_int(json_object_get(kv, "create_revision")), "mod",
			 (json_int_t)etcd_int(json_object_get(kv, "mod_revision")), "lease",
			 (json_int_t)etcd_int(json_object_get(kv, "lease")));
}

json_t *etcd_kvs(json_t *range)
{
	json_t *out = json_object(), *kv;
	size_t i;

	json_array_foreach(json_object_get(range, "kvs"), i, kv) {
		char *key = NULL;
		json_t *e = kv_decode(kv, &key);
		if (e)
			json_object_set_new(out, key, e);
		free(key);
	}
	return out;
}

int etcd_view_apply(json_t *view, json_t *events, int64_t floor)
{
	json_t *ev;
	size_t i;
	int n = 0;

	json_array_foreach(events, i, ev) {
		json_t *kv = json_object_get(ev, "kv"), *e;
		char *key = NULL;

		if (etcd_int(json_object_get(kv, "mod_revision")) <= floor ||
		    !(e = kv_decode(kv, &key)))
			continue;
		if (strcmp(json_string_value(json_object_get(ev, "type")) ?: "PUT", "DELETE") == 0) {
			json_object_del(view, key);
			json_decref(e);
		} else {
			json_object_set_new(view, key, e);
		}
		free(key);
		n++;
	}
	return n;
}

