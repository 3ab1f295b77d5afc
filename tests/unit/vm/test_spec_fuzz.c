/*
 * Robustness of vm_spec_from_json against malformed requests: several
 * hundred documents made by mutating valid specs, as text and as JSON
 * trees, with a fixed seed so every run feeds the same ones and a failure
 * replays. Under ASan/UBSan this checks for crashes, leaks and undefined
 * behaviour; the assertions check that every call either yields a spec
 * whose canonical form reads back identically or fills the error struct
 * with something a client can be shown.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

#include "support.h"
#include "vm/vm.h"

#define TEXT_DOCS 400
#define TREE_DOCS 400

static const struct vm_limits limits = {.max_cpus = 4, .max_memory = 8ULL << 30};

/* clang-format off */
static const char *const seeds[] = {
	"{\"name\": \"web1\", \"kernel\": \"@kernel\"}",
	"{\"name\": \"full\", \"cpus\": 2, \"memory\": \"1G\", \"kernel\": \"@kernel\", "
	"\"initrd\": \"@initrd\", \"cmdline\": \"console=ttyS0\", \"serial\": false, "
	"\"disks\": [{\"name\": \"root\", \"size\": \"2G\", \"image\": \"@image\", "
	"\"readonly\": false, \"bus\": \"virtio\"}, {\"name\": \"data\", \"size\": 1073741824}], "
	"\"labels\": {\"env\": \"prod\", \"tier\": \"web\"}}",
	"{\"name\": \"fw\", \"memory\": 536870912, \"disks\": [{\"name\": \"os\", "
	"\"image\": \"@image\"}]}",
};

/* Replacement values: the edges of each type and of each rule. */
static const char *const values[] = {
	"null", "true", "false", "0", "-1", "1", "2", "3", "5", "1.5", "1e99", "-0.0",
	"9223372036854775807", "-9223372036854775808",
	"\"\"", "\"a\"", "\"web1\"", "\"Web1\"", "\"-a\"", "\"a/b\"", "\"..\"",
	"\"\\u00e9\"", "\"\\u0000\"", "\"a\\u0000b\"", "\"\\n\"",
	"\"512M\"", "\"1G\"", "\"16M\"", "\"15M\"", "\"0M\"", "\"1e99G\"", "\"-5M\"",
	"\"1.5\"", "\"18446744073709551615\"", "\"16383P\"",
	"\"virtio\"", "\"ide\"",
	"\"@kernel\"", "\"@image\"", "\"@initrd\"", "\"@dir\"", "\"/dev/null\"",
	"\"relative\"", "\"/nonexistent\"",
	"[]", "{}", "[1, 2]", "{\"name\": \"d\", \"size\": \"1G\"}", "{\"name\": \"d\"}",
	"[{\"name\": \"d\", \"size\": \"1G\"}]", "{\"k\": \"v\"}", "{\"bad key\": \"v\"}",
	"\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"",
};

static const char *const keys[] = {
	"name", "cpus", "memory", "kernel", "initrd", "cmdline", "disks", "serial", "labels",
	"size", "image", "readonly", "bus", "x", "", "Name", "k\xc3\xa9y",
};
/* clang-format on */

/* xorshift64*: small, fixed, and the same on every machine. */
static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint64_t rng(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dULL;
}

static size_t pick(size_t n)
{
	return n ? (size_t)(rng() % n) : 0;
}

static json_t *value_random(void)
{
	return support_doc(values[pick(ARRAY_SIZE(values))]);
}

struct tally {
	unsigned accepted, rejected;
};

static void check(json_t *doc, struct tally *t)
{
	struct vm_spec *spec = NULL, *again = NULL, *loaded = NULL;
	struct werr err, err2;
	int r;

	memset(&err, 0, sizeof(err));
	r = vm_spec_from_json(doc, &limits, &spec, &err);
	bool strict_ok = r >= 0;
	if (r < 0) {
		if (r != -EINVAL)
			fail_msg("unexpected %d", r);
		assert_null(spec);
		support_assert_err_sane(&err);
		t->rejected++;
	} else {
		json_t *j = vm_spec_to_json(spec), *j2;
		_cleanup_free_ char *text = json_dumps(j, JSON_COMPACT);

		assert_non_null(j);
		if (vm_spec_from_json(j, &limits, &again, &err2) < 0)
			fail_msg("canonical form %s rejected: %s", text, err2.message);
		j2 = vm_spec_to_json(again);
		if (!json_equal(j, j2))
			fail_msg("canonical form %s does not read back the same", text);
		json_decref(j);
		json_decref(j2);
		vm_spec_free(again);
		vm_spec_free(spec);
		t->accepted++;
	}
	/* The lenient reader accepts at least what the strict one does. */
	memset(&err2, 0, sizeof(err2));
	r = vm_spec_load(doc, &loaded, &err2);
	if (r < 0) {
		support_assert_err_sane(&err2);
		if (strict_ok)
			fail_msg("accepted, yet the lenient reader says: %s", err2.message);
	} else {
		vm_spec_free(loaded);
	}
}

/* ---- text mutations --------------------------------------------------- */

/* clang-format off */
static const char *const splices[] = {
	"{", "}", "[", "]", "\"", ",", ":", "\\", "\\u0000", "null", "-", "1e9", ".5",
	"\"name\": \"x\", ", "[[[[", "\xc3\xa9", "\xff", "0000000000000000000009",
};
/* clang-format on */

static char *text_mutate(const char *in)
{
	size_t n = strlen(in), cap = n * 2 + 64;
	char *out = malloc(cap);
	size_t at = pick(n + 1);

	assert_non_null(out);
	memcpy(out, in, n + 1);
	switch (pick(4)) {
	case 0: /* overwrite one byte with a printable one */
		if (n)
			out[pick(n)] = (char)(0x20 + pick(0x5f));
		break;
	case 1: { /* cut a span */
		size_t len = pick(n - at + 1) % 16;
		memmove(out + at, out + at + len, n - at - len + 1);
		break;
	}
	case 2: { /* splice in a token */
		const char *t = splices[pick(ARRAY_SIZE(splices))];
		size_t len = strlen(t);
		memmove(out + at + len, out + at, n - at + 1);
		memcpy(out + at, t, len);
		break;
	}
	default: { /* repeat a span */
		size_t len = pick(n - at + 1) % 24;
		memmove(out + at + len, out + at, n - at + 1);
		break;
	}
	}
	return out;
}

static void test_fuzz_text(void **state)
{
	struct tally t = {0};
	unsigned parsed = 0, tries = 0;

	while (parsed < TEXT_DOCS) {
		assert_true(++tries < 100000);
		_cleanup_free_ char *seed = support_expand(seeds[pick(ARRAY_SIZE(seeds))]);
		char *text = text_mutate(seed);
		for (size_t k = pick(3); k > 0; k--) {
			char *next = text_mutate(text);
			free(text);
			text = next;
		}
		json_t *doc = json_loads(text, JSON_ALLOW_NUL | JSON_DECODE_ANY, NULL);
		free(text);
		if (!doc)
			continue;
		parsed++;
		check(doc, &t);
		json_decref(doc);
	}
	print_message("# text: %u documents parsed of %u tries; %u accepted, %u rejected\n", parsed,
		      tries, t.accepted, t.rejected);
	/* Both paths must have been exercised, or the mutations are too wild. */
	assert_true(t.accepted >= 10);
	assert_true(t.rejected >= 100);
}

/* ---- tree mutations --------------------------------------------------- */

/* A random container inside root (root itself included). */
static json_t *container_random(json_t *root)
{
	json_t *c = root;

	for (;;) {
		json_t *child = NULL;

		if (json_is_object(c) && json_object_size(c)) {
			void *it = json_object_iter(c);
			for (size_t k = pick(json_object_size(c)); k > 0; k--)
				it = json_object_iter_next(c, it);
			child = json_object_iter_value(it);
		} else if (json_is_array(c) && json_array_size(c)) {
			child = json_array_get(c, pick(json_array_size(c)));
		}
		if (!child || !(json_is_object(child) || json_is_array(child)) || pick(3) == 0)
			return c;
		c = child;
	}
}

static void tree_mutate(json_t *root)
{
	json_t *c = container_random(root);

	if (json_is_object(c)) {
		const char *key = keys[pick(ARRAY_SIZE(keys))];
		if (pick(4) == 0)
			json_object_del(c, key);
		else
			json_object_set_new(c, key, value_random());
	} else if (json_array_size(c) && pick(3) == 0) {
		json_array_remove(c, pick(json_array_size(c)));
	} else if (json_array_size(c) && pick(2) == 0) {
		json_array_set_new(c, pick(json_array_size(c)), value_random());
	} else {
		json_array_append_new(c, value_random());
	}
}

static void test_fuzz_tree(void **state)
{
	struct tally t = {0};

	for (unsigned i = 0; i < TREE_DOCS; i++) {
		json_t *doc = support_doc(seeds[pick(ARRAY_SIZE(seeds))]);
		for (size_t k = 1 + pick(4); k > 0; k--)
			tree_mutate(doc);
		check(doc, &t);
		json_decref(doc);
	}
	print_message("# tree: %u accepted, %u rejected\n", t.accepted, t.rejected);
	assert_true(t.accepted >= 10);
	assert_true(t.rejected >= 100);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fuzz_text),
		cmocka_unit_test(test_fuzz_tree),
	};

	return cmocka_run_group_tests(tests, support_setup, support_teardown);
}
