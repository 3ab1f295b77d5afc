/*
 * Unit tests for vm/spec.c: what create requests are accepted, what every
 * rejection says (code, field, message), defaults, and that the canonical
 * form reads back to the same spec.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

#include "support.h"
#include "vm/vm.h"

#define MIB (1ULL << 20)
#define GIB (1ULL << 30)

static const struct vm_limits limits = {.max_cpus = 2, .max_memory = 4 * GIB};

static void assert_contains(const char *hay, const char *needle)
{
	if (!strstr(hay, needle))
		fail_msg("'%s' does not contain '%s'", hay, needle);
}

static struct vm_spec *accept(const char *text, const struct vm_limits *lim)
{
	json_t *doc = support_doc(text);
	struct werr err = {0};
	struct vm_spec *spec = NULL;
	int r = vm_spec_from_json(doc, lim, &spec, &err);

	json_decref(doc);
	if (r < 0)
		fail_msg("rejected %s: [%s] %s: %s", text, err.code, err.field, err.message);
	assert_non_null(spec);
	return spec;
}

static void reject(const char *text, const char *code, const char *field, const char *needle)
{
	json_t *doc = support_doc(text);
	struct werr err = {0};
	struct vm_spec *spec = (struct vm_spec *)&err; /* must stay untouched */
	int r = vm_spec_from_json(doc, &limits, &spec, &err);

	json_decref(doc);
	if (r >= 0)
		fail_msg("accepted %s", text);
	assert_int_equal(r, -EINVAL);
	assert_ptr_equal(spec, (struct vm_spec *)&err);
	support_assert_err_sane(&err);
	if (strcmp(err.code, code) != 0 || strcmp(err.field, field) != 0)
		fail_msg("%s: got [%s] field '%s' (%s), want [%s] field '%s'", text, err.code,
			 err.field, err.message, code, field);
	assert_contains(err.message, needle);
}

#define K "\"kernel\": \"@kernel\""
#define D "\"disks\": [{\"name\": \"root\", \"size\": \"1G\"}]"

/* clang-format off */
static const struct {
	const char *doc, *field, *needle;
} rejects[] = {
	/* body */
	{"[]", "", "must be a JSON object"},
	{"{" K "}", "name", "name is required"},
	{"{\"name\": \"a\", " K ", \"colour\": 1}", "colour",
	 "unknown key 'colour'; allowed keys are name, cpus, memory"},
	/* names */
	{"{\"name\": \"\", " K "}", "name", "must not be empty; use 1 to 63 characters"},
	{"{\"name\": \"Web1\", " K "}", "name", "name 'Web1' contains upper-case 'W'"},
	{"{\"name\": \"a/b\", " K "}", "name", "contains '/'"},
	{"{\"name\": \"..\", " K "}", "name", "contains '.'"},
	{"{\"name\": \"a..b\", " K "}", "name", "contains '.'"},
	{"{\"name\": \"a b\", " K "}", "name", "contains a space"},
	{"{\"name\": \"caf\\u00e9\", " K "}", "name", "non-ASCII byte \\xc3"},
	{"{\"name\": \"-web\", " K "}", "name", "starts with '-'"},
	{"{\"name\": \"a\\u0000b\", " K "}", "name", "NUL byte"},
	{"{\"name\": \"a\\tb\", " K "}", "name", "'a\\x09b' contains the control byte \\x09"},
	{"{\"name\": 5, " K "}", "name", "name must be a string, e.g. 'web1' (got 5)"},
	{"{\"name\": \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\", " K "}",
	 "name", "is 64 characters long; use 1 to 63"},
	/* cpus */
	{"{\"name\": \"a\", " K ", \"cpus\": 0}", "cpus", "at least 1 (got 0)"},
	{"{\"name\": \"a\", " K ", \"cpus\": -3}", "cpus", "at least 1 (got -3)"},
	{"{\"name\": \"a\", " K ", \"cpus\": \"two\"}", "cpus",
	 "whole number of CPUs, e.g. 2 (got 'two')"},
	{"{\"name\": \"a\", " K ", \"cpus\": 1.5}", "cpus", "(got 1.5)"},
	{"{\"name\": \"a\", " K ", \"cpus\": true}", "cpus", "(got true)"},
	{"{\"name\": \"a\", " K ", \"cpus\": null}", "cpus", "(got null)"},
	{"{\"name\": \"a\", " K ", \"cpus\": 64}", "cpus", "cpus: 64 is more than this host's 2 CPUs"},
	{"{\"name\": \"a\", " K ", \"cpus\": 5000}", "cpus", "more than the 1024 Warren supports"},
	/* memory */
	{"{\"name\": \"a\", " K ", \"memory\": \"12Q\"}", "memory",
	 "'12Q' is not a size; use bytes or"},
	{"{\"name\": \"a\", " K ", \"memory\": \"-5M\"}", "memory", "'-5M' is not a size"},
	{"{\"name\": \"a\", " K ", \"memory\": \"1e99G\"}", "memory", "'1e99G' is not a size"},
	{"{\"name\": \"a\", " K ", \"memory\": \"\"}", "memory", "'' is not a size"},
	{"{\"name\": \"a\", " K ", \"memory\": -5}", "memory", "must not be negative (got -5)"},
	{"{\"name\": \"a\", " K ", \"memory\": 1.5}", "memory", "(got 1.5)"},
	{"{\"name\": \"a\", " K ", \"memory\": 1e99}", "memory", "(got 1e+99)"},
	{"{\"name\": \"a\", " K ", \"memory\": [512]}", "memory", "(got an array)"},
	{"{\"name\": \"a\", " K ", \"memory\": \"8M\"}", "memory",
	 "'8M' is less than the minimum of 16 MiB"},
	{"{\"name\": \"a\", " K ", \"memory\": 0}", "memory", "less than the minimum"},
	{"{\"name\": \"a\", " K ", \"memory\": 1000000}", "memory",
	 "1000000 is not a whole number of MiB"},
	{"{\"name\": \"a\", " K ", \"memory\": \"1.5M\"}", "memory", "not a whole number of MiB"},
	{"{\"name\": \"a\", " K ", \"memory\": \"8G\"}", "memory",
	 "8.0 GiB is more than this host's 4.0 GiB"},
	{"{\"name\": \"a\", " K ", \"memory\": \"99999999999T\"}", "memory", "too large"},
	{"{\"name\": \"a\", " K ", \"memory\": \"9000P\"}", "memory", "too large"},
	/* kernel, initrd, cmdline */
	{"{\"name\": \"a\", \"kernel\": \"@kernel.old\"}", "kernel", "kernel.old' does not exist"},
	{"{\"name\": \"a\", \"kernel\": \"@kernel/x\"}", "kernel", "does not exist"},
	{"{\"name\": \"a\", \"kernel\": \"@dir\"}", "kernel",
	 "is a directory; it must be a regular file"},
	{"{\"name\": \"a\", \"kernel\": \"/dev/null\"}", "kernel", "'/dev/null' is a character device"},
	{"{\"name\": \"a\", \"kernel\": \"vmlinuz\"}", "kernel", "'vmlinuz' is not an absolute path"},
	{"{\"name\": \"a\", \"kernel\": \"\"}", "kernel", "not an absolute path"},
	{"{\"name\": \"a\", \"kernel\": 7}", "kernel",
	 "absolute path to a regular file, or null (got 7)"},
	{"{\"name\": \"a\", " K ", \"initrd\": \"/nonexistent\"}", "initrd",
	 "'/nonexistent' does not exist"},
	{"{\"name\": \"a\", \"initrd\": \"@initrd\", " D "}", "initrd", "initrd needs kernel"},
	{"{\"name\": \"a\", \"cmdline\": \"quiet\", " D "}", "cmdline", "cmdline needs kernel"},
	{"{\"name\": \"a\", " K ", \"cmdline\": \"a\\nb\"}", "cmdline",
	 "control byte \\x0a at offset 1"},
	{"{\"name\": \"a\"}", "disks", "nothing to boot from: give kernel"},
	{"{\"name\": \"a\", \"kernel\": null}", "disks", "nothing to boot from"},
	/* disks */
	{"{\"name\": \"a\", \"disks\": {}}", "disks", "disks must be an array of disks"},
	{"{\"name\": \"a\", \"disks\": [\"root\"]}", "disks[0]", "disks[0] must be an object"},
	{"{\"name\": \"a\", \"disks\": []}", "disks", "nothing to boot from"},
	{"{\"name\": \"a\", \"disks\": [{\"name\": \"Root\", \"size\": \"1G\"}]}", "disks[0].name",
	 "disks[0].name 'Root' contains upper-case 'R'; use 1 to 31 characters"},
	{"{\"name\": \"a\", \"disks\": [{\"name\": \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\", \"size\": "
	 "1048576}]}",
	 "disks[0].name", "is 33 characters long"},
	{"{\"name\": \"a\", \"disks\": [{\"size\": \"1G\"}]}", "disks[0].name",
	 "disks[0].name is required"},
	{"{\"name\": \"a\", \"disks\": [{\"name\": \"r\", \"size\": \"1G\"}, {\"name\": \"d\", "
	 "\"size\": \"1G\"}, "
	 "{\"name\": \"r\", \"size\": \"2G\"}]}",
	 "disks[2].name", "disks[2].name 'r' is already used by disks[0]"},
	{"{\"name\": \"a\", \"disks\": [{\"name\": \"r\", \"size\": \"1G\", \"sise\": 1}]}",
	 "disks[0].sise",
	 "unknown key 'sise' in disks[0]; allowed keys are name, size, image, readonly, bus, "
	 "iops, bps"},
	{"{\"name\": \"a\", \"disks\": [{\"name\": \"r\", \"size\": \"abc\"}]}", "disks[0].size",
	 "disks[0].size 'abc' is not a size"},
	{"{\"name\": \"a\", \"disks\": [{\"name\": \"r\", \"size\": 0}]}", "disks[0].size",
	 "disks[0].size 0 is less than the minimum of 1 MiB"},
	{"{\"name\": \"a\", \"disks\": [{\"name\": \"r\", \"size\": \"1000K\"}]}", "disks[0].size",
	 "less than the minimum"},
	{"{\"name\": \"a\", \"disks\": [{\"name\": \"r\", \"size\": -1}]}", "disks[0].size",
	 "negative"},
	{"{\"name\": \"a\", \"disks\": [{\"name\": \"r\"}]}", "disks[0].size",
	 "disks[0].size is required for a blank disk"},
	{"{\"name\": \"a\", \"disks\": [{\"name\": \"r\", \"size\": null}]}", "disks[0].size",
	 "required"},
	{"{\"name\": \"a\", \"disks\": [{\"name\": \"r\", \"image\": \"@dir\"}]}", "disks[0].image",
	 "is a directory"},
	{"{\"name\": \"a\", \"disks\": [{\"name\": \"r\", \"image\": \"@image.gone\"}]}",
	 "disks[0].image", "does not exist"},
	{"{\"name\": \"a\", \"disks\": [{\"name\": \"r\", \"size\": \"1G\", \"bus\": \"ide\"}]}",
	 "disks[0].bus", "disks[0].bus 'ide' is not supported; the only bus is 'virtio'"},
	{"{\"name\": \"a\", \"disks\": [{\"name\": \"r\", \"size\": \"1G\", \"readonly\": \"yes\"}]}",
	 "disks[0].readonly", "must be true or false (got 'yes')"},
	/* serial, labels */
	{"{\"name\": \"a\", " K ", \"serial\": 1}", "serial", "serial must be true or false (got 1)"},
	{"{\"name\": \"a\", " K ", \"labels\": [\"x\"]}", "labels", "must be an object of strings"},
	{"{\"name\": \"a\", " K ", \"labels\": {\"bad key\": \"x\"}}", "labels.bad key",
	 "label key 'bad key' contains a space; use 1 to 63 characters of a-z, A-Z"},
	{"{\"name\": \"a\", " K ", \"labels\": {\"\": \"x\"}}", "labels.",
	 "label key must not be empty"},
	{"{\"name\": \"a\", " K ", \"labels\": {\"env\": 5}}", "labels.env",
	 "labels.env must be a string (got 5)"},
	{"{\"name\": \"a\", " K ", \"labels\": {\"env\": null}}", "labels.env", "(got null)"},
	/* network adapters */
#define N(x) "{\"name\": \"a\", " K ", \"nics\": [" x "]}"
	{N("{}"), "nics[0].network", "nics[0].network is required"},
	{N("{\"network\": \"lan\", \"mac\": \"52:57:00:00:00\"}"), "nics[0].mac", "mac"},
	{N("{\"network\": \"lan\", \"mac\": \"01:00:5e:00:00:01\"}"), "nics[0].mac",
	 "multicast"},
	{N("{\"network\": \"lan\", \"mac\": \"00:00:00:00:00:00\"}"), "nics[0].mac", "00:00"},
	{N("{\"network\": \"lan\", \"mtu\": 67}"), "nics[0].mtu", "from 68 to 65535"},
	{N("{\"network\": \"lan\", \"mtu\": 65536}"), "nics[0].mtu", "from 68 to 65535"},
	{N("{\"network\": \"lan\", \"vlan\": 0}"), "nics[0].vlan", "from 1 to 4094"},
	{N("{\"network\": \"lan\", \"vlan\": 4095}"), "nics[0].vlan", "from 1 to 4094"},
	{N("{\"network\": \"lan\", \"ip\": \"10.0.0\"}"), "nics[0].ip", "not an IPv4 address"},
	{N("{\"network\": \"lan\", \"rate\": \"fast\"}"), "nics[0].rate", "fast"},
	{N("{\"network\": \"lan\", \"model\": \"rtl8139\"}"), "nics[0].model", "'virtio' or"},
	{N("{\"network\": \"lan\", \"link\": \"sideways\"}"), "nics[0].link", "'up' or 'down'"},
	{N("{\"network\": \"lan\", \"name\": \"eth0\"}"), "nics[0].name", "nic0 to nic7"},
	{N("{\"network\": \"lan\", \"colour\": 1}"), "nics[0].colour", "unknown key"},
	{N("{\"network\": \"a\", \"name\": \"nic0\"}, {\"network\": \"b\", \"name\": \"nic0\"}"), "nics",
	 "already used"},
#undef N
	/* resources and policies */
	{"{\"name\": \"a\", " K ", \"resources\": {\"cpu_weight\": 0}}", "resources.cpu_weight",
	 "from 1 to 10000"},
	{"{\"name\": \"a\", " K ", \"resources\": {\"cpu_weight\": 10001}}",
	 "resources.cpu_weight", "from 1 to 10000"},
	{"{\"name\": \"a\", " K ", \"resources\": {\"cpu_limit\": 0}}", "resources.cpu_limit",
	 "from 0.01"},
	{"{\"name\": \"a\", " K ", \"resources\": {\"cpu_limit\": 1.5}}", "resources.cpu_limit",
	 "more than the VM's 1 vCPUs"},
	{"{\"name\": \"a\", " K ", \"resources\": {\"memory_limit\": \"256M\"}}",
	 "resources.memory_limit", "below the guest's memory plus QEMU's overhead; give at least "
	 "320.0 MiB"},
	{"{\"name\": \"a\", " K ", \"resources\": {\"memory_reservation\": \"1G\"}}",
	 "resources.memory_reservation", "more than the VM's memory"},
	{"{\"name\": \"a\", " K ", \"resources\": {\"pin\": [0, 1]}}", "resources.pin",
	 "lists 2 host CPUs for 1 vCPUs"},
	{"{\"name\": \"a\", " K ", \"resources\": {\"pin\": [9]}}", "resources.pin",
	 "host CPU 9 does not exist"},
	{"{\"name\": \"a\", " K ", \"resources\": {\"pin\": [-1]}}", "resources.pin",
	 "host CPU numbers"},
	{"{\"name\": \"a\", " K ", \"resources\": {\"shares\": 5}}", "resources.shares",
	 "unknown key 'shares'"},
	{"{\"name\": \"a\", " K ", \"security\": \"lax\"}", "security", "'strict' or 'trusted'"},
	{"{\"name\": \"a\", " K ", \"performance\": 1}", "performance", "'latency'"},
	{"{\"name\": \"a\", \"disks\": [{\"name\": \"r\", \"size\": \"1G\", \"iops\": -5}]}",
	 "disks[0].iops", "whole number not below 0"},
	{"{\"name\": \"a\", \"disks\": [{\"name\": \"r\", \"size\": \"1G\", \"bps\": \"fast\"}]}",
	 "disks[0].bps", "is not a size"},
};
/* clang-format on */

static void test_spec_rejects(void **state)
{
	for (size_t i = 0; i < ARRAY_SIZE(rejects); i++)
		reject(rejects[i].doc, "invalid", rejects[i].field, rejects[i].needle);
}

/* Documents too long to write out: head, then item n times (each '#' in
 * it replaced by the item's index) separated by sep, then tail. */
static char *repeat(const char *head, const char *item, size_t n, const char *sep, const char *tail)
{
	size_t len = strlen(head) + n * (strlen(item) * 8 + strlen(sep)) + strlen(tail) + 1;
	char *s = malloc(len), *p = s;

	assert_non_null(s);
	p = stpcpy(p, head);
	for (size_t i = 0; i < n; i++) {
		if (i)
			p = stpcpy(p, sep);
		for (const char *c = item; *c; c++)
			if (*c == '#')
				p += sprintf(p, "%zu", i);
			else
				*p++ = *c;
	}
	strcpy(p, tail);
	return s;
}

static void test_spec_rejects_too_large(void **state)
{
	_cleanup_free_ char *disks = repeat("{\"name\": \"a\", \"disks\": [",
					    "{\"name\": \"d#\", \"size\": \"1G\"}", 17, ", ", "]}");
	_cleanup_free_ char *labels =
	    repeat("{\"name\": \"a\", " K ", \"labels\": {", "\"k#\": \"v\"", 65, ", ", "}}");
	_cleanup_free_ char *value =
	    repeat("{\"name\": \"a\", " K ", \"labels\": {\"env\": \"", "x", 256, "", "\"}}");
	_cleanup_free_ char *cmdline =
	    repeat("{\"name\": \"a\", " K ", \"cmdline\": \"", "x", VM_CMDLINE_MAX + 1, "", "\"}");
	_cleanup_free_ char *fine = repeat("{\"name\": \"a\", \"disks\": [",
					   "{\"name\": \"d#\", \"size\": \"1G\"}", 16, ", ", "]}");

	reject(disks, "too_large", "disks", "disks has 17 entries; a VM may have at most 16 disks");
	reject(labels, "too_large", "labels", "labels has 65 keys; a VM may have at most 64");
	reject(value, "too_large", "labels.env",
	       "labels.env is 256 bytes long; label values may be at most 255");
	reject(cmdline, "too_large", "cmdline",
	       "cmdline is 2048 bytes long; the kernel takes at most 2047");
	vm_spec_free(accept(fine, &limits));
}

/* A hostile value is quoted escaped and short, never as is. */
static void test_spec_quotes_safely(void **state)
{
	_cleanup_free_ char *long_kernel =
	    repeat("{\"name\": \"a\", \"kernel\": \"/", "\\u00ff", 100, "", "\"}");
	json_t *doc = support_doc(long_kernel);
	struct vm_spec *spec = NULL;
	struct werr err;

	assert_int_equal(vm_spec_from_json(doc, &limits, &spec, &err), -EINVAL);
	support_assert_err_sane(&err);
	assert_contains(err.message, "'/\\xc3\\xbf\\xc3");
	assert_contains(err.message, "...' does not exist");
	assert_true(strlen(err.message) < 200);
	json_decref(doc);

	reject("{\"name\": \"a\", " K ", \"k\\u00e9y\\\"\": 1}", "invalid", "k\\xc3\\xa9y\\x22",
	       "unknown key 'k\\xc3\\xa9y\\x22'");
}

static void test_spec_defaults(void **state)
{
	struct vm_spec *s = accept("{\"name\": \"web1\", " K "}", &limits);

	assert_string_equal(s->name, "web1");
	assert_int_equal(s->cpus, 1);
	assert_int_equal(s->memory, 256 * MIB);
	assert_true(s->serial);
	assert_non_null(s->kernel);
	assert_null(s->initrd);
	assert_null(s->cmdline);
	assert_int_equal(s->n_disks, 0);
	assert_int_equal(s->n_labels, 0);
	vm_spec_free(s);

	/* A host with less than the default memory says so. */
	struct vm_limits tiny = {.max_cpus = 1, .max_memory = 128 * MIB};
	json_t *doc = support_doc("{\"name\": \"web1\", " K "}");
	struct werr err;
	assert_int_equal(vm_spec_from_json(doc, &tiny, &s, &err), -EINVAL);
	assert_string_equal(err.field, "memory");
	assert_contains(err.message, "256.0 MiB is more than this host's 128.0 MiB");
	json_decref(doc);
}

static void test_spec_accepts(void **state)
{
	static const struct {
		const char *memory;
		uint64_t bytes;
	} mems[] = {
		{"\"512M\"", 512 * MIB},
		{"536870912", 512 * MIB},
		{"\"1.5G\"", 1536 * MIB},
		{"\"2GiB\"", 2 * GIB},
		{"\"16M\"", 16 * MIB},
		{"\"4G\"", 4 * GIB},
	};
	char text[256];
	struct vm_spec *s;

	for (size_t i = 0; i < ARRAY_SIZE(mems); i++) {
		snprintf(text, sizeof(text), "{\"name\": \"a\", " K ", \"memory\": %s}",
			 mems[i].memory);
		s = accept(text, &limits);
		assert_int_equal(s->memory, mems[i].bytes);
		vm_spec_free(s);
	}

	s = accept(
	    "{\"name\": \"0-db-9\", \"cpus\": 2, \"serial\": false, \"kernel\": null, "
	    "\"disks\": [{\"name\": \"root\", \"image\": \"@image\", \"readonly\": true, "
	    "\"bus\": \"virtio\"}, {\"name\": \"data\", \"size\": 1048576, \"image\": null}], "
	    "\"labels\": {\"zone\": \"b\", \"app.kubernetes.io/name\": \"x\", \"Env\": \"\"}}",
	    &limits);
	assert_int_equal(s->cpus, 2);
	assert_false(s->serial);
	assert_null(s->kernel);
	assert_int_equal(s->n_disks, 2);
	assert_string_equal(s->disks[0].name, "root");
	assert_int_equal(s->disks[0].size, 0);
	assert_non_null(s->disks[0].image);
	assert_true(s->disks[0].readonly);
	assert_int_equal(s->disks[1].size, MIB);
	assert_null(s->disks[1].image);
	assert_false(s->disks[1].readonly);
	/* Labels come out sorted by key, whatever the request's order. */
	assert_int_equal(s->n_labels, 3);
	assert_string_equal(s->labels[0].key, "Env");
	assert_string_equal(s->labels[1].key, "app.kubernetes.io/name");
	assert_string_equal(s->labels[2].key, "zone");
	assert_string_equal(s->labels[2].value, "b");
	vm_spec_free(s);

	/* Without host limits only Warren's own ceiling applies. */
	s = accept("{\"name\": \"big\", " K ", \"cpus\": 64, \"memory\": \"64G\"}", NULL);
	assert_int_equal(s->cpus, 64);
	vm_spec_free(s);
}

static void test_spec_name_validate(void **state)
{
	static const char *const good[] = {
		"a",
		"0",
		"web1",
		"web-1",
		"a-",
		"0123456789abcdefghijklmnopqrstuvwxyz",
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", /* 63 */
	};
	static const char *const bad[] = {
		"",
		"A",
		"web_1",
		"web.1",
		"-a",
		"a b",
		"a/b",
		"..",
		"\xc3\xa9",
		"a\n",
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", /* 64 */
	};
	struct werr err;

	for (size_t i = 0; i < ARRAY_SIZE(good); i++)
		if (vm_name_validate(good[i], &err) < 0)
			fail_msg("'%s' rejected: %s", good[i], err.message);
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		memset(&err, 0, sizeof(err));
		if (vm_name_validate(bad[i], &err) != -EINVAL)
			fail_msg("'%s' accepted", bad[i]);
		assert_string_equal(err.code, "invalid");
		assert_string_equal(err.field, "name");
		assert_contains(err.message, "a-z, 0-9 and '-'");
		support_assert_err_sane(&err);
	}
	assert_int_equal(vm_name_validate(NULL, &err), -EINVAL);
	assert_int_equal(vm_name_validate("Bad", NULL), -EINVAL);
}

static void assert_str_or_null_equal(const char *a, const char *b)
{
	if (!a || !b)
		assert_ptr_equal(a, b);
	else
		assert_string_equal(a, b);
}

static void assert_spec_equal(const struct vm_spec *a, const struct vm_spec *b)
{
	assert_string_equal(a->name, b->name);
	assert_int_equal(a->cpus, b->cpus);
	assert_int_equal(a->memory, b->memory);
	assert_str_or_null_equal(a->kernel, b->kernel);
	assert_str_or_null_equal(a->initrd, b->initrd);
	assert_str_or_null_equal(a->cmdline, b->cmdline);
	assert_int_equal(a->serial, b->serial);
	assert_int_equal(a->n_disks, b->n_disks);
	for (size_t i = 0; i < a->n_disks; i++) {
		assert_string_equal(a->disks[i].name, b->disks[i].name);
		assert_int_equal(a->disks[i].size, b->disks[i].size);
		assert_str_or_null_equal(a->disks[i].image, b->disks[i].image);
		assert_int_equal(a->disks[i].readonly, b->disks[i].readonly);
		assert_int_equal(a->disks[i].iops, b->disks[i].iops);
		assert_int_equal(a->disks[i].bps, b->disks[i].bps);
	}
	assert_memory_equal(&a->res, &b->res, sizeof(a->res));
	assert_int_equal(a->security, b->security);
	assert_int_equal(a->performance, b->performance);
	assert_int_equal(a->n_labels, b->n_labels);
	for (size_t i = 0; i < a->n_labels; i++) {
		assert_string_equal(a->labels[i].key, b->labels[i].key);
		assert_string_equal(a->labels[i].value, b->labels[i].value);
	}
}

static void test_spec_round_trip(void **state)
{
	static const char *const docs[] = {
		"{\"name\": \"a\", " K "}",
		"{\"name\": \"full\", \"cpus\": 2, \"memory\": \"1G\", " K ", \"initrd\": \"@initrd\", "
		"\"cmdline\": \"console=ttyS0 quiet \\u00e9\", \"serial\": false, "
		"\"disks\": [{\"name\": \"root\", \"size\": \"2G\", \"image\": \"@image\"}, "
		"{\"name\": \"scratch\", \"size\": 1073741824, \"readonly\": true}], "
		"\"labels\": {\"tier\": \"web\", \"env\": \"prod \\u2603\"}}",
		"{\"name\": \"fw\", \"disks\": [{\"name\": \"os\", \"image\": \"@image\"}]}",
		"{\"labels\": {\"b\": \"2\", \"a\": \"1\"}, \"disks\": [{\"size\": \"1.5G\", \"name\": "
		"\"x\"}], \"name\": \"order\", \"memory\": 33554432}",
		"{\"name\": \"res\", \"cpus\": 2, " K ", \"resources\": {\"cpu_weight\": 400, "
		"\"cpu_limit\": 1.5, \"memory_limit\": \"1G\", \"memory_reservation\": \"128M\", "
		"\"pin\": [1, 0]}, \"security\": \"trusted\", \"performance\": \"latency\", "
		"\"disks\": [{\"name\": \"d\", \"size\": \"1G\", \"iops\": 200, \"bps\": \"50M\"}]}",
		"{\"name\": \"dense\", " K ", \"performance\": \"density\"}",
	};

	for (size_t i = 0; i < ARRAY_SIZE(docs); i++) {
		struct vm_spec *a = accept(docs[i], &limits), *b = NULL;
		json_t *ja = vm_spec_to_json(a), *jb;
		struct werr err;

		assert_non_null(ja);
		assert_int_equal(json_object_size(ja), 13); /* every key, always */
		if (vm_spec_from_json(ja, &limits, &b, &err) < 0)
			fail_msg("canonical form of %s rejected: %s", docs[i], err.message);
		assert_spec_equal(a, b);
		jb = vm_spec_to_json(b);
		assert_true(json_equal(ja, jb));
		json_decref(ja);
		json_decref(jb);
		vm_spec_free(a);
		vm_spec_free(b);
	}
}

static void test_spec_canonical_form(void **state)
{
	struct vm_spec *s =
	    accept("{\"labels\": {\"z\": \"1\", \"a\": \"2\"}, \"name\": \"c\", "
		   "\"disks\": [{\"name\": \"os\", \"image\": \"@image\"}, {\"name\": "
		   "\"d\", \"size\": \"1M\", \"bus\": \"virtio\"}], " K "}",
		   &limits);
	json_t *j = vm_spec_to_json(s);
	_cleanup_free_ char *got = json_dumps(j, JSON_COMPACT);
	_cleanup_free_ char *want = support_expand(
	    "{\"name\":\"c\",\"cpus\":1,\"memory\":268435456,\"kernel\":\"@kernel\","
	    "\"initrd\":null,\"cmdline\":null,\"disks\":[{\"name\":\"os\",\"size\":null,"
	    "\"image\":\"@image\",\"readonly\":false,\"bus\":\"virtio\",\"iops\":null,"
	    "\"bps\":null},{\"name\":\"d\",\"size\":1048576,\"image\":null,\"readonly\":false,"
	    "\"bus\":\"virtio\",\"iops\":null,\"bps\":null}],"
	    "\"serial\":true,\"labels\":{\"a\":\"2\",\"z\":\"1\"},\"nics\":[],\"resources\":{"
	    "\"cpu_weight\":100,\"cpu_limit\":null,\"memory_limit\":null,"
	    "\"memory_reservation\":null,\"pin\":null},\"security\":\"strict\","
	    "\"performance\":\"balanced\"}");

	assert_string_equal(got, want);
	json_decref(j);
	vm_spec_free(s);
}

static void test_spec_patch(void **state)
{
	struct vm_spec *s = accept("{\"name\": \"p\", \"cpus\": 2, " K ", \"performance\": "
				   "\"density\", \"disks\": [{\"name\": \"d\", \"size\": \"1G\"}]}",
				   &limits);
	struct vm_spec *before = s, *next = NULL;
	struct werr err;
	json_t *p;

	assert_int_equal(s->res.cpu_weight, VM_DENSITY_WEIGHT); /* the preset's default */
	p = support_doc("{\"cpu_weight\": 400, \"cpu_limit\": 0.5, \"pin\": [1, 1], "
			"\"disks\": {\"d\": {\"iops\": 200, \"bps\": \"10M\"}}}");
	assert_int_equal(vm_spec_patch(s, p, &limits, &next, &err), 0);
	json_decref(p);
	vm_spec_free(s);
	s = next;
	assert_int_equal(s->res.cpu_weight, 400);
	assert_true(s->res.cpu_limit == 0.5);
	assert_int_equal(s->res.n_pin, 2);
	assert_int_equal(s->disks[0].iops, 200);
	assert_int_equal(s->disks[0].bps, 10 * MIB);
	assert_string_equal(s->name, "p");

	/* null clears; a bad value changes nothing and names the key. */
	p = support_doc("{\"cpu_limit\": null, \"disks\": {\"d\": {\"iops\": null}}}");
	assert_int_equal(vm_spec_patch(s, p, &limits, &next, &err), 0);
	json_decref(p);
	vm_spec_free(s);
	s = next;
	assert_true(s->res.cpu_limit == 0);
	assert_int_equal(s->disks[0].iops, 0);
	before = s;
	static const struct {
		const char *doc, *field, *needle;
	} bad[] = {
		{"{\"cpu_weight\": 0}", "cpu_weight", "cpu_weight must be a whole number from 1"},
		{"{\"cpus\": 4}", "cpus", "'cpus' cannot be changed"},
		{"{\"disks\": {\"x\": {\"iops\": 1}}}", "disks.x", "no disk named 'x'"},
		{"{\"disks\": {\"d\": {\"size\": 1}}}", "disks.d", "disks.d.size cannot be changed"},
		{"{\"nics\": {\"nic0\": {\"rate\": \"1Mbit\"}}}", "nics.nic0", "no nic named 'nic0'"},
		{"{\"pin\": [0]}", "pin", "lists 1 host CPUs for 2 vCPUs"},
		{"{}", "", "give what to change"},
	};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		p = support_doc(bad[i].doc);
		next = NULL;
		assert_int_equal(vm_spec_patch(s, p, &limits, &next, &err), -EINVAL);
		json_decref(p);
		assert_null(next);
		assert_ptr_equal(s, before);
		assert_string_equal(err.field, bad[i].field);
		if (!strstr(err.message, bad[i].needle) || strstr(err.message, "resources."))
			fail_msg("%s: '%s' lacks '%s' or names the spec's inside", bad[i].doc,
				 err.message, bad[i].needle);
	}
	assert_int_equal(s->disks[0].bps, 10 * MIB);
	vm_spec_free(s);
}

/* A stored spec stays readable when its files are gone or the host shrank. */
static void test_spec_load(void **state)
{
	json_t *doc =
	    support_doc("{\"name\": \"old\", \"cpus\": 64, \"kernel\": \"/gone/vmlinuz\", "
			"\"disks\": [{\"name\": \"r\", \"image\": \"/gone/img\"}]}");
	struct vm_spec *s = NULL;
	struct werr err;

	assert_int_equal(vm_spec_from_json(doc, &limits, &s, &err), -EINVAL);
	assert_int_equal(vm_spec_load(doc, &s, &err), 0);
	assert_int_equal(s->cpus, 64);
	assert_string_equal(s->kernel, "/gone/vmlinuz");
	vm_spec_free(s);
	/* The same through limits that skip the file checks. */
	struct vm_limits lax = {.skip_file_checks = true};
	assert_int_equal(vm_spec_from_json(doc, &lax, &s, &err), 0);
	assert_string_equal(s->disks[0].image, "/gone/img");
	vm_spec_free(s);
	json_decref(doc);

	/* Everything else is still checked. */
	doc = support_doc("{\"name\": \"Old\", \"kernel\": \"/gone/vmlinuz\"}");
	assert_int_equal(vm_spec_load(doc, &s, &err), -EINVAL);
	assert_string_equal(err.field, "name");
	json_decref(doc);
	vm_spec_free(NULL);
}

static void test_spec_nics(void **state)
{
	struct vm_spec *s = accept("{\"name\": \"n\", " K ", \"nics\": ["
				   "{\"network\": \"lan\", \"name\": \"nic1\", \"rate\": \"10Mbit\"},"
				   "{\"network\": \"lan\", \"mac\": \"52:57:00:AB:cd:01\", "
				   "\"ip\": \"10.0.0.5\", \"mtu\": 9000, \"model\": \"e1000\", "
				   "\"trust\": true, \"link\": \"down\", \"vlan\": 20}]}",
				   &limits);
	json_t *j = vm_spec_to_json(s), *n1;

	assert_int_equal(s->n_nics, 2);
	/* An unnamed NIC takes the lowest free name. */
	assert_string_equal(s->nics[0].name, "nic1");
	assert_string_equal(s->nics[1].name, "nic0");
	assert_int_equal(vm_nic_index(&s->nics[0]), 1);
	assert_true(s->nics[0].rate == 10000000);
	assert_int_equal(s->nics[1].mtu, 9000);
	assert_int_equal(s->nics[1].vlan, 20);
	assert_true(s->nics[1].trust && s->nics[1].link_down);
	n1 = json_array_get(json_object_get(j, "nics"), 1);
	assert_string_equal(json_string_value(json_object_get(n1, "mac")), "52:57:00:ab:cd:01");
	assert_string_equal(json_string_value(json_object_get(n1, "ip")), "10.0.0.5");
	assert_string_equal(json_string_value(json_object_get(n1, "model")), "e1000");
	assert_string_equal(json_string_value(json_object_get(
				    json_array_get(json_object_get(j, "nics"), 0), "rate")),
			    "10Mbit");
	json_decref(j);
	vm_spec_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_spec_rejects),
		cmocka_unit_test(test_spec_rejects_too_large),
		cmocka_unit_test(test_spec_quotes_safely),
		cmocka_unit_test(test_spec_defaults),
		cmocka_unit_test(test_spec_accepts),
		cmocka_unit_test(test_spec_name_validate),
		cmocka_unit_test(test_spec_round_trip),
		cmocka_unit_test(test_spec_canonical_form),
		cmocka_unit_test(test_spec_load),
		cmocka_unit_test(test_spec_patch),
		cmocka_unit_test(test_spec_nics),
	};

	return cmocka_run_group_tests(tests, support_setup, support_teardown);
}
