/* Unit tests for cluster/etcd.c: bodies as etcd's JSON gateway takes them
 * and its answers (recorded from etcd 3.4) read into a view that watch
 * events keep current. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

#include "cluster/etcd.h"
#include "util/util.h"

static void assert_json(json_t *j, const char *expected)
{
	_cleanup_free_ char *got = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);

	assert_non_null(got);
	assert_string_equal(got, expected);
	json_decref(j);
}

static void test_keys_are_base64(void **state)
{
	/* Every padding case: 0, 1 and 2 bytes left over. */
	assert_json(etcd_key("/warren/x"), "\"L3dhcnJlbi94\"");
	assert_json(etcd_key("/warren/a"), "\"L3dhcnJlbi9h\"");
	assert_json(etcd_key("ab"), "\"YWI=\"");
	assert_json(etcd_key("a"), "\"YQ==\"");
	assert_json(etcd_key(""), "\"\"");
}

static void test_range_of_a_prefix_ends_after_it(void **state)
{
	/* "/warren/" .. "/warren0" (the last byte plus one) */
	assert_json(etcd_range_body("/warren/", true),
		    "{\"key\":\"L3dhcnJlbi8=\",\"range_end\":\"L3dhcnJlbjA=\"}");
	assert_json(etcd_range_body("/warren/x", false), "{\"key\":\"L3dhcnJlbi94\"}");
}

static void test_ops_and_compares(void **state)
{
	assert_json(etcd_op_put("/warren/x", json_pack("{s:i}", "n", 1), 42),
		    "{\"request_put\":{\"key\":\"L3dhcnJlbi94\",\"lease\":\"42\","
		    "\"value\":\"eyJuIjoxfQ==\"}}");
	assert_json(etcd_op_put("/warren/x", json_true(), 0),
		    "{\"request_put\":{\"key\":\"L3dhcnJlbi94\",\"value\":\"dHJ1ZQ==\"}}");
	assert_json(etcd_op_del("/warren/x"), "{\"request_delete_range\":{\"key\":\"L3dhcnJlbi94\"}}");
	assert_json(etcd_cmp_created("/warren/x", 0),
		    "{\"create_revision\":\"0\",\"key\":\"L3dhcnJlbi94\",\"result\":\"EQUAL\","
		    "\"target\":\"CREATE\"}");
	assert_json(etcd_cmp_mod("/warren/x", 1234567890123),
		    "{\"key\":\"L3dhcnJlbi94\",\"mod_revision\":\"1234567890123\",\"result\":"
		    "\"EQUAL\",\"target\":\"MOD\"}");
}

static void test_numbers_come_as_strings(void **state)
{
	json_t *s = json_string("9007199254740993"), *i = json_integer(7);

	assert_true(etcd_int(s) == 9007199254740993LL);
	assert_int_equal(etcd_int(i), 7);
	assert_int_equal(etcd_int(NULL), 0);
	json_decref(s);
	json_decref(i);
}

/* A range answer as etcd 3.4's gateway gave it: /warren/a = {"n":1} under
 * lease 7, /warren/b = [1,2]. */
static const char range_answer[] =
	"{\"header\":{\"cluster_id\":\"15118495548433857066\",\"revision\":\"5\"},"
	"\"kvs\":[{\"key\":\"L3dhcnJlbi9h\",\"create_revision\":\"2\",\"mod_revision\":\"4\","
	"\"version\":\"2\",\"value\":\"eyJuIjoxfQ==\",\"lease\":\"7\"},"
	"{\"key\":\"L3dhcnJlbi9i\",\"create_revision\":\"5\",\"mod_revision\":\"5\","
	"\"version\":\"1\",\"value\":\"WzEsMl0=\"}],\"count\":\"2\"}";

static json_t *load(const char *text)
{
	json_t *j = json_loads(text, 0, NULL);

	assert_non_null(j);
	return j;
}

static void test_range_answer_becomes_a_view(void **state)
{
	json_t *resp = load(range_answer);

	assert_json(etcd_kvs(resp),
		    "{\"/warren/a\":{\"create\":2,\"lease\":7,\"mod\":4,\"value\":{\"n\":1}},"
		    "\"/warren/b\":{\"create\":5,\"lease\":0,\"mod\":5,\"value\":[1,2]}}");
	json_decref(resp);
}

static void test_watch_events_keep_the_view(void **state)
{
	json_t *resp = load(range_answer), *view = etcd_kvs(resp);
	/* As the watch streamed them: a PUT of /warren/c (type left out, it
	 * is the default), a DELETE of /warren/a, and an old PUT of /warren/b
	 * that the read at revision 5 already has. */
	json_t *events = load("[{\"kv\":{\"key\":\"L3dhcnJlbi9j\",\"create_revision\":\"6\","
			      "\"mod_revision\":\"6\",\"version\":\"1\",\"value\":\"Mw==\"}},"
			      "{\"type\":\"DELETE\",\"kv\":{\"key\":\"L3dhcnJlbi9h\","
			      "\"mod_revision\":\"7\"}},"
			      "{\"kv\":{\"key\":\"L3dhcnJlbi9i\",\"create_revision\":\"5\","
			      "\"mod_revision\":\"5\",\"version\":\"1\",\"value\":\"bnVsbA==\"}}]");

	assert_int_equal(etcd_view_apply(view, events, 5), 2);
	assert_json(view, "{\"/warren/b\":{\"create\":5,\"lease\":0,\"mod\":5,\"value\":[1,2]},"
			  "\"/warren/c\":{\"create\":6,\"lease\":0,\"mod\":6,\"value\":3}}");
	json_decref(events);
	json_decref(resp);
}

static void test_bad_answers_are_skipped(void **state)
{
	/* Not base64, a key with a NUL in it, a value that is not JSON. */
	json_t *resp = load("{\"kvs\":[{\"key\":\"!!!!\",\"value\":\"eA==\"},"
			    "{\"key\":\"YQBi\",\"value\":\"eA==\"},"
			    "{\"key\":\"YQ==\",\"mod_revision\":\"3\",\"value\":\"eyI=\"}]}");

	assert_json(etcd_kvs(resp), "{\"a\":{\"create\":0,\"lease\":0,\"mod\":3,\"value\":null}}");
	json_decref(resp);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_keys_are_base64),
		cmocka_unit_test(test_range_of_a_prefix_ends_after_it),
		cmocka_unit_test(test_ops_and_compares),
		cmocka_unit_test(test_numbers_come_as_strings),
		cmocka_unit_test(test_range_answer_becomes_a_view),
		cmocka_unit_test(test_watch_events_keep_the_view),
		cmocka_unit_test(test_bad_answers_are_skipped),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
