/* Unit tests for cli/yaml.c: golden documents and the quoting rules that
 * keep every string a string for YAML 1.1 and 1.2 parsers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <string.h>

#include "cli/cli.h"
#include "render.h"

static char *yaml_of_text(const char *json)
{
	return render(cli_yaml_emit, json);
}

static void assert_yaml(const char *json, const char *expected)
{
	_cleanup_free_ char *out = yaml_of_text(json);

	assert_string_equal(out, expected);
}

static void test_yaml_vm(void **state)
{
	assert_yaml("{\"name\": \"web1\", \"cpus\": 2, \"memory\": 536870912, \"pid\": null,"
		    " \"spec\": {\"kernel\": \"/img/vmlinuz\", \"serial\": true,"
		    "  \"disks\": [{\"name\": \"root\", \"size\": \"2G\", \"readonly\": false},"
		    "            {\"name\": \"data\", \"size\": 1073741824}],"
		    "  \"labels\": {}}, \"ratio\": 0.5, \"tags\": []}",
		    "name: web1\n"
		    "cpus: 2\n"
		    "memory: 536870912\n"
		    "pid: null\n"
		    "spec:\n"
		    "  kernel: /img/vmlinuz\n"
		    "  serial: true\n"
		    "  disks:\n"
		    "    - name: root\n"
		    "      size: 2G\n"
		    "      readonly: false\n"
		    "    - name: data\n"
		    "      size: 1073741824\n"
		    "  labels: {}\n"
		    "ratio: 0.5\n"
		    "tags: []\n");
}

static void test_yaml_nested_sequences(void **state)
{
	assert_yaml("[[1, 2], [], [{\"a\": [\"x\"]}], \"s\"]", "- - 1\n"
							       "  - 2\n"
							       "- []\n"
							       "- - a:\n"
							       "      - x\n"
							       "- s\n");
}

static void test_yaml_top_level_scalars(void **state)
{
	assert_yaml("{}", "{}\n");
	assert_yaml("[]", "[]\n");
	assert_yaml("42", "42\n");
	/* Floats as YAML 1.1 reads them too: a dot and a signed exponent. */
	assert_yaml("1e100", "1.0e+100\n");
	assert_yaml("-9.5367431640625e-07", "-9.5367431640625e-7\n");
	assert_yaml("null", "null\n");
	assert_yaml("\"yes\"", "\"yes\"\n");
}

static void test_yaml_quoting(void **state)
{
	static const struct {
		const char *json, *yaml;
	} cases[] = {
	    /* plain */
	    {"\"web1\"", "web1\n"},
	    {"\"512M\"", "512M\n"},
	    {"\"1.5G\"", "1.5G\n"},
	    {"\"/var/lib/warren/vms/1\"", "/var/lib/warren/vms/1\n"},
	    {"\"console=ttyS0 quiet\"", "console=ttyS0 quiet\n"},
	    {"\"grüße\"", "grüße\n"},
	    {"\"web-1\"", "web-1\n"},
	    {"\"0.1.0-rc1\"", "0.1.0-rc1\n"},
	    /* words and numbers that would change type */
	    {"\"\"", "\"\"\n"},
	    {"\"true\"", "\"true\"\n"},
	    {"\"No\"", "\"No\"\n"},
	    {"\"off\"", "\"off\"\n"},
	    {"\"y\"", "\"y\"\n"},
	    {"\"null\"", "\"null\"\n"},
	    {"\"~\"", "\"~\"\n"},
	    {"\"123\"", "\"123\"\n"},
	    {"\"1e5\"", "\"1e5\"\n"},
	    {"\"0x1F\"", "\"0x1F\"\n"},
	    {"\"1_000\"", "\"1_000\"\n"},
	    {"\"12:30\"", "\"12:30\"\n"},
	    {"\"2024-01-02\"", "\"2024-01-02\"\n"},
	    {"\".inf\"", "\".inf\"\n"},
	    /* indicators and blanks */
	    {"\"-x\"", "\"-x\"\n"},
	    {"\"a: b\"", "\"a: b\"\n"},
	    {"\"a #b\"", "\"a #b\"\n"},
	    {"\" lead\"", "\" lead\"\n"},
	    {"\"trail \"", "\"trail \"\n"},
	    {"\"[x]\"", "\"[x]\"\n"},
	    {"\"*ref\"", "\"*ref\"\n"},
	    {"\"it's\"", "\"it's\"\n"},
	    /* escapes */
	    {"\"say \\\"hi\\\"\"", "\"say \\\"hi\\\"\"\n"},
	    {"\"back\\\\slash\"", "\"back\\\\slash\"\n"},
	    {"\"tab\\there\"", "\"tab\\there\"\n"},
	    {"\"bell\\u0007\"", "\"bell\\x07\"\n"},
	    {"\"nul\\u0000byte\"", "\"nul\\x00byte\"\n"},
	    {"\"a\\u2028b\"", "\"a\\Lb\"\n"},
	    {"\"a\\u0085b\"", "\"a\\Nb\"\n"},
	    {"\"cr\\r\\nlf\"", "\"cr\\r\\nlf\"\n"},
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		_cleanup_free_ char *out = yaml_of_text(cases[i].json);
		if (strcmp(out, cases[i].yaml) != 0)
			fail_msg("%s: got [%s], want [%s]", cases[i].json, out, cases[i].yaml);
	}
}

static void test_yaml_keys_quoted_too(void **state)
{
	assert_yaml("{\"on\": 1, \"a b\": 2, \"x:y\": 3}", "\"on\": 1\n"
							   "a b: 2\n"
							   "\"x:y\": 3\n");
}

static void test_yaml_literal_blocks(void **state)
{
	assert_yaml("{\"log\": \"line 1\\nline 2\\n\"}", "log: |\n"
							 "  line 1\n"
							 "  line 2\n");
	assert_yaml("{\"log\": \"a\\n\\n  b\"}", "log: |-\n"
						 "  a\n"
						 "\n"
						 "    b\n");
	assert_yaml("[\"x\\n\\n\\n\"]", "- |+\n"
					"  x\n"
					"\n"
					"\n");
	assert_yaml("\"top\\nlevel\"", "|-\n"
				       "  top\n"
				       "  level\n");
	/* A leading blank or line break, or control bytes: quoted instead. */
	assert_yaml("{\"log\": \" a\\nb\"}", "log: \" a\\nb\"\n");
	assert_yaml("{\"log\": \"\\na\"}", "log: \"\\na\"\n");
	assert_yaml("{\"log\": \"a\\r\\nb\"}", "log: \"a\\r\\nb\"\n");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_yaml_vm),
	    cmocka_unit_test(test_yaml_nested_sequences),
	    cmocka_unit_test(test_yaml_top_level_scalars),
	    cmocka_unit_test(test_yaml_quoting),
	    cmocka_unit_test(test_yaml_keys_quoted_too),
	    cmocka_unit_test(test_yaml_literal_blocks),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
