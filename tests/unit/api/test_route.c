/*
 * Unit tests for the pure parts of api/: route matching and path
 * parameters, the error-to-status map and error bodies, request body and
 * query checks.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <event2/http.h>
#include <string.h>

#include "api/api.h"

static void nop(struct api_call *c)
{
}

static const struct api_route table[] = {
    {.method = API_GET, .pattern = "/v1/host", .handler = nop},
    {.method = API_GET, .pattern = "/v1/vms", .handler = nop},
    {.method = API_POST, .pattern = "/v1/vms", .handler = nop},
    {.method = API_GET, .pattern = "/v1/vms/{name}", .handler = nop},
    {.method = API_DELETE, .pattern = "/v1/vms/{name}", .handler = nop},
    {.method = API_POST, .pattern = "/v1/vms/{name}/actions/{action}", .handler = nop},
    {.method = API_GET, .pattern = "/v1/vms/{name}/console", .handler = nop},
    {.method = API_GET, .pattern = "/v1/vms/{name}/console/log", .handler = nop},
};

struct match {
	int r;
	const struct api_route *route;
	struct api_params params;
	unsigned allowed;
	struct werr err;
};

static struct match match(enum api_method m, const char *path)
{
	struct match x = {0};

	x.r = api_route_match(table, ARRAY_SIZE(table), m, path, &x.route, &x.params, &x.allowed,
			      &x.err);
	return x;
}

static void test_route_exact_and_params(void **state)
{
	struct match x = match(API_GET, "/v1/host");

	assert_int_equal(x.r, 0);
	assert_ptr_equal(x.route, &table[0]);
	assert_int_equal(x.params.n, 0);

	x = match(API_POST, "/v1/vms");
	assert_int_equal(x.r, 0);
	assert_ptr_equal(x.route, &table[2]);

	x = match(API_POST, "/v1/vms/web1/actions/start");
	assert_int_equal(x.r, 0);
	assert_ptr_equal(x.route, &table[5]);
	assert_int_equal(x.params.n, 2);
	assert_string_equal(x.params.v[0].name, "name");
	assert_string_equal(x.params.v[0].value, "web1");
	assert_string_equal(x.params.v[1].name, "action");
	assert_string_equal(x.params.v[1].value, "start");

	/* A literal segment after a parameter picks the longer route. */
	x = match(API_GET, "/v1/vms/console/console/log");
	assert_int_equal(x.r, 0);
	assert_ptr_equal(x.route, &table[7]);
	assert_string_equal(x.params.v[0].value, "console");
}

static void test_route_not_found(void **state)
{
	static const char *const paths[] = {
	    "",
	    "/",
	    "/v1",
	    "v1/host",
	    "/v1/host/",
	    "/v1//host",
	    "/v1/vms/",
	    "/v1/vms//console",
	    "/v1/vms/a/b",
	    "/v1/vms/a/actions",
	    "/v1/vms/a/actions/",
	    "/V1/host",
	    "/v1/hosts",
	};

	for (size_t i = 0; i < ARRAY_SIZE(paths); i++) {
		struct match x = match(API_GET, paths[i]);

		if (x.r != -ENOENT)
			fail_msg("'%s' gave %d, wanted -ENOENT", paths[i], x.r);
		assert_string_equal(x.err.code, "not_found");
		assert_int_equal(api_status_from_code(x.err.code), 404);
	}
}

static void test_route_wrong_method(void **state)
{
	char allow[64];
	struct match x = match(API_PUT, "/v1/vms/web1");

	assert_int_equal(x.r, -EOPNOTSUPP);
	assert_int_equal(x.allowed, 1u << API_GET | 1u << API_DELETE);
	assert_string_equal(api_allow_format(x.allowed, allow, sizeof(allow)), "GET, DELETE");
	assert_string_equal(x.err.code, "method_not_allowed");
	assert_int_equal(api_status_from_code(x.err.code), 405);

	x = match(API_DELETE, "/v1/vms");
	assert_int_equal(x.r, -EOPNOTSUPP);
	assert_string_equal(api_allow_format(x.allowed, allow, sizeof(allow)), "GET, POST");

	x = match(API_GET, "/v1/vms/web1/actions/start");
	assert_int_equal(x.r, -EOPNOTSUPP);
	assert_string_equal(api_allow_format(x.allowed, allow, sizeof(allow)), "POST");

	/* A buffer too small keeps whole method names only. */
	assert_string_equal(api_allow_format(1u << API_GET | 1u << API_DELETE, allow, 8), "GET");
}

static void test_route_decoding(void **state)
{
	char longname[16 + 3 * API_PARAM_MAX];
	struct match x = match(API_GET, "/v1/vms/we%62%2d1");

	assert_int_equal(x.r, 0);
	assert_string_equal(x.params.v[0].value, "web-1");

	/* An encoded slash stays inside its segment. */
	x = match(API_GET, "/v1/vms/a%2Fb");
	assert_int_equal(x.r, 0);
	assert_ptr_equal(x.route, &table[3]);
	assert_string_equal(x.params.v[0].value, "a/b");

	/* '+' means a space only in query strings. */
	x = match(API_GET, "/v1/vms/a+b");
	assert_int_equal(x.r, 0);
	assert_string_equal(x.params.v[0].value, "a+b");

	static const char *const bad[] = {"/v1/vms/%zz", "/v1/vms/a%2", "/v1/vms/a%",
					  "/v1/vms/a%00b", "/v1/vms/%g0"};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		x = match(API_GET, bad[i]);
		if (x.r != -EINVAL)
			fail_msg("'%s' gave %d, wanted -EINVAL", bad[i], x.r);
		assert_string_equal(x.err.code, "invalid");
		assert_string_equal(x.err.field, "name");
	}

	/* Exactly API_PARAM_MAX bytes after decoding pass, one more fails. */
	strcpy(longname, "/v1/vms/");
	memset(longname + 8, 'a', API_PARAM_MAX);
	longname[8 + API_PARAM_MAX] = '\0';
	x = match(API_GET, longname);
	assert_int_equal(x.r, 0);
	assert_int_equal(strlen(x.params.v[0].value), API_PARAM_MAX);
	strcat(longname, "a");
	x = match(API_GET, longname);
	assert_int_equal(x.r, -EINVAL);
	assert_non_null(strstr(x.err.message, "longer than"));
	/* The bound applies after decoding: API_PARAM_MAX times "%61" fits. */
	strcpy(longname, "/v1/vms/");
	for (size_t i = 0; i < API_PARAM_MAX; i++)
		strcat(longname, "%61");
	x = match(API_GET, longname);
	assert_int_equal(x.r, 0);
	assert_int_equal(strlen(x.params.v[0].value), API_PARAM_MAX);
}

static void test_status_map(void **state)
{
	static const struct {
		const char *code;
		int status;
	} map[] = {
	    {"invalid", 400},
	    {"not_found", 404},
	    {"method_not_allowed", 405},
	    {"conflict", 409},
	    {"too_large", 413},
	    {"timeout", 504},
	    {"unavailable", 503},
	    {"no_capacity", 507},
	    {"internal", 500},
	    {"bogus", 500},
	    {"", 500},
	    {"Invalid", 500},
	};

	for (size_t i = 0; i < ARRAY_SIZE(map); i++)
		assert_int_equal(api_status_from_code(map[i].code), map[i].status);
	assert_int_equal(api_status_from_code(NULL), 500);
	for (size_t i = 0; i < ARRAY_SIZE(map); i++)
		assert_non_null(api_status_reason(map[i].status));
	assert_string_equal(api_status_reason(507), "Insufficient Storage");
	assert_string_equal(api_status_reason(413), "Payload Too Large");
	assert_null(api_status_reason(418));
}

static void test_error_json(void **state)
{
	struct werr e;
	json_t *j, *inner;

	werr_set(&e, -EINVAL, "invalid", "disks[1].size", "size must be at least %d MiB", 1);
	j = api_error_json(&e);
	assert_non_null(j);
	inner = json_object_get(j, "error");
	assert_true(json_is_object(inner));
	assert_int_equal(json_object_size(j), 1);
	assert_int_equal(json_object_size(inner), 3);
	assert_string_equal(json_string_value(json_object_get(inner, "code")), "invalid");
	assert_string_equal(json_string_value(json_object_get(inner, "field")), "disks[1].size");
	assert_string_equal(json_string_value(json_object_get(inner, "message")),
			    "size must be at least 1 MiB");
	json_decref(j);

	/* Bytes that are not UTF-8 (a guest's output) and a field filled to
	 * the last byte without a NUL still make a valid error. */
	werr_set(&e, -EIO, "internal", "", "guest said \xff\xfe here");
	memset(e.field, 'f', sizeof(e.field));
	j = api_error_json(&e);
	assert_non_null(j);
	inner = json_object_get(j, "error");
	assert_string_equal(json_string_value(json_object_get(inner, "message")),
			    "guest said ?? here");
	assert_int_equal(strlen(json_string_value(json_object_get(inner, "field"))),
			 sizeof(e.field));
	json_decref(j);
}

static void test_body_json(void **state)
{
	struct werr err = {0};
	json_t *j = NULL;
	static const char ok[] = "{\"name\": \"web1\", \"cpus\": 2}";
	static const char broken[] = "{\"name\": \n web1}";

	assert_int_equal(api_body_parse_json(ok, strlen(ok), API_BODY_JSON, &j, &err), 0);
	assert_string_equal(json_string_value(json_object_get(j, "name")), "web1");
	json_decref(j);

	assert_int_equal(api_body_parse_json(broken, strlen(broken), API_BODY_JSON, &j, &err),
			 -EINVAL);
	assert_string_equal(err.code, "invalid");
	assert_string_equal(err.field, "");
	assert_true(strncmp(err.message, "request body is not valid JSON: ", 32) == 0);
	assert_non_null(strstr(err.message, " at line 2 column "));

	static const char dup[] = "{\"name\": \"a\", \"name\": \"b\"}";
	assert_int_equal(api_body_parse_json(dup, strlen(dup), API_BODY_JSON, &j, &err), -EINVAL);
	assert_non_null(strstr(err.message, "duplicate"));

	assert_int_equal(api_body_parse_json("[1]", 3, API_BODY_JSON_OPT, &j, &err), -EINVAL);
	assert_string_equal(err.message, "request body must be a JSON object");

	/* Trailing garbage after the object is not JSON either. */
	assert_int_equal(api_body_parse_json("{} x", 4, API_BODY_JSON, &j, &err), -EINVAL);

	/* An optional body may be empty or white space; a required one not. */
	j = (json_t *)1;
	assert_int_equal(api_body_parse_json("", 0, API_BODY_JSON_OPT, &j, &err), 0);
	assert_null(j);
	j = (json_t *)1;
	assert_int_equal(api_body_parse_json(" \r\n", 3, API_BODY_JSON_OPT, &j, &err), 0);
	assert_null(j);
	assert_int_equal(api_body_parse_json("", 0, API_BODY_JSON, &j, &err), -EINVAL);
	assert_non_null(strstr(err.message, "missing"));

	/* Bytes after a NUL are still part of the body. */
	assert_int_equal(api_body_parse_json("{}\0{}", 5, API_BODY_JSON, &j, &err), -EINVAL);
}

static void test_body_size(void **state)
{
	struct werr err = {0};

	assert_int_equal(api_body_check_size(0, &err), 0);
	assert_int_equal(api_body_check_size(API_BODY_MAX, &err), 0);
	assert_int_equal(api_body_check_size(API_BODY_MAX + 1, &err), -EMSGSIZE);
	assert_string_equal(err.code, "too_large");
	assert_int_equal(api_status_from_code(err.code), 413);
	assert_non_null(strstr(err.message, "1048576 bytes (1 MiB)"));
}

static int query_check(const char *q, const char *allowed, struct werr *err)
{
	struct evkeyvalq kv;
	int r;

	assert_int_equal(evhttp_parse_query_str(q, &kv), 0);
	r = api_query_check(&kv, allowed, err);
	evhttp_clear_headers(&kv);
	return r;
}

static void test_query_check(void **state)
{
	struct werr err = {0};

	assert_int_equal(query_check("", NULL, &err), 0);
	assert_int_equal(query_check("vm=a&follow=true", "vm follow since limit", &err), 0);
	assert_int_equal(query_check("limit=5", "vm follow since limit", &err), 0);
	assert_int_equal(query_check("force=1", NULL, &err), -EINVAL);
	assert_string_equal(err.field, "force");
	assert_int_equal(query_check("forse=1", "force", &err), -EINVAL);
	assert_string_equal(err.field, "forse");
	assert_non_null(strstr(err.message, "accepted: force"));
	/* Whole words only. */
	assert_int_equal(query_check("for=1", "force", &err), -EINVAL);
	assert_int_equal(query_check("vm=a&vm=b", "vm follow", &err), -EINVAL);
	assert_string_equal(err.field, "vm");
	assert_non_null(strstr(err.message, "more than once"));
}

static void test_bool_parse(void **state)
{
	bool b = false;

	assert_int_equal(api_bool_parse("true", &b), 0);
	assert_true(b);
	assert_int_equal(api_bool_parse("0", &b), 0);
	assert_false(b);
	assert_int_equal(api_bool_parse("1", &b), 0);
	assert_true(b);
	assert_int_equal(api_bool_parse("false", &b), 0);
	assert_false(b);
	assert_int_equal(api_bool_parse("yes", &b), -EINVAL);
	assert_int_equal(api_bool_parse("", &b), -EINVAL);
	assert_int_equal(api_bool_parse("TRUE", &b), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_route_exact_and_params),
	    cmocka_unit_test(test_route_not_found),
	    cmocka_unit_test(test_route_wrong_method),
	    cmocka_unit_test(test_route_decoding),
	    cmocka_unit_test(test_status_map),
	    cmocka_unit_test(test_error_json),
	    cmocka_unit_test(test_body_json),
	    cmocka_unit_test(test_body_size),
	    cmocka_unit_test(test_query_check),
	    cmocka_unit_test(test_bool_parse),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
