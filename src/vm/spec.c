/*
 * spec: a VM's virtual hardware as a client writes it in JSON, checked key
 * by key, and the canonical JSON form the store keeps.
 *
 * Every rejection names the field by its JSON path ("disks[1].size") and
 * says what is wrong and what is allowed, quoting the offending value
 * escaped and cut short, since it is untrusted. Keys are dispatched through
 * one const table per kind of object; the same table lists the allowed keys
 * when a key is unknown, so the message cannot drift from the parser.
 */
#include <limits.h>
#include <string.h>
#include <sys/stat.h>

#include "vm/vm-private.h"
#include "vm/vm.h"

/* jansson 2.14 provides json_decrefp() for exactly this. */
#define _cleanup_json_ _cleanup_(json_decrefp)

#define MIB	       (1ULL << 20)
#define DEFAULT_MEMORY (256 * MIB)
#define VM_MEMORY_OVERHEAD (64 * MIB) /* least a memory limit leaves QEMU itself */
#define FIELD_SIZE     sizeof(((struct werr *)NULL)->field)
#define SIZE_HINT      "bytes or a number with a K, M, G or T suffix, e.g. '512M'"

/* Everything a key parser may touch while one request is read. */
struct ctx {
	struct vm_spec *spec;
	const struct vm_limits *limits;
	struct werr *err;
	bool check_files; /* false when re-reading a stored spec */
	bool have_name;
	bool have_weight;
	struct vm_disk *disk; /* the disk whose keys are being read */
	struct vm_nic *nic;   /* the NIC whose keys are being read */
};

struct key_parser {
	const char *key;
	int (*parse)(struct ctx *c, json_t *v, const char *field);
};

const char *vm_escape(const char *s, size_t n, char *buf, size_t len)
{
	/* Keep room for one escape (4), "..." (3) and the NUL. */
	const size_t stop = len - 8;
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (o >= stop) {
			memcpy(buf + o, "...", 3);
			o += 3;
			break;
		}
		if (ch >= 0x20 && ch < 0x7f && ch != '\'' && ch != '\\' && ch != '"')
			buf[o++] = (char)ch;
		else
			o += (size_t)snprintf(buf + o, len - o, "\\x%02x", ch);
	}
	buf[o] = '\0';
	return buf;
}

/* A JSON value as a message shows it: 'text', 12, 1.5, true, an object. */
static const char *describe(json_t *v, char *buf, size_t len)
{
	static const char *const kinds[] = {
		[JSON_OBJECT] = "an object",
		[JSON_ARRAY] = "an array",
		[JSON_TRUE] = "true",
		[JSON_FALSE] = "false",
		[JSON_NULL] = "null",
	};
	char e[VM_ESCAPE_SIZE];

	if (json_is_string(v))
		snprintf(buf, len, "'%s'",
			 vm_escape(json_string_value(v), json_string_length(v), e, sizeof(e)));
	else if (json_is_integer(v))
		snprintf(buf, len, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
	else if (json_is_real(v))
		snprintf(buf, len, "%g", json_real_value(v));
	else
		snprintf(buf, len, "%s", kinds[json_typeof(v)]);
	return buf;
}

static int type_error(struct ctx *c, json_t *v, const char *field, const char *want)
{
	char d[VM_ESCAPE_SIZE + 2];

	return werr_set(c->err, -EINVAL, "invalid", field, "%s must be %s (got %s)", field, want,
			describe(v, d, sizeof(d)));
}

/* ---- names ------------------------------------------------------------ */

/* The shape of a name: what characters, how long, and how it is described. */
struct name_rule {
	size_t max;
	bool upper;	   /* A-Z allowed */
	const char *punct; /* allowed characters besides letters and digits */
	bool any_first;	   /* the first character may be punctuation */
	const char *allowed;
};

/* VM and disk names end up in paths, QEMU ids and URLs. */
static const struct name_rule vm_name_rule = {
	.max = VM_NAME_MAX,
	.punct = "-",
	.allowed = "use 1 to 63 characters of a-z, 0-9 and '-', not starting with '-'",
};
static const struct name_rule disk_name_rule = {
	.max = VM_DISK_NAME_MAX,
	.punct = "-",
	.allowed = "use 1 to 31 characters of a-z, 0-9 and '-', not starting with '-'",
};
static const struct name_rule label_key_rule = {
	.max = VM_LABEL_KEY_MAX,
	.upper = true,
	.punct = "._/-",
	.any_first = true,
	.allowed = "use 1 to 63 characters of a-z, A-Z, 0-9, '.', '_', '/' and '-'",
};

static bool name_char_ok(const struct name_rule *rule, unsigned char ch, bool first)
{
	if ((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9'))
		return true;
	if (rule->upper && ch >= 'A' && ch <= 'Z')
		return true;
	return ch != '\0' && strchr(rule->punct, ch) && (rule->any_first || !first);
}

/*
 * Check n bytes of s (n is the JSON length, which exceeds strlen when the
 * string holds a NUL) against rule. what names the thing in the message.
 */
static int name_check(const struct name_rule *rule, const char *s, size_t n, const char *what,
		      const char *field, struct werr *err)
{
	char e[VM_ESCAPE_SIZE], why[48];

	if (n == 0)
		return werr_set(err, -EINVAL, "invalid", field, "%s must not be empty; %s", what,
				rule->allowed);
	if (n > rule->max) {
		snprintf(why, sizeof(why), "is %zu characters long", n);
	} else {
		size_t i;
		unsigned char ch = 0;

		for (i = 0; i < n; i++) {
			ch = (unsigned char)s[i];
			if (!name_char_ok(rule, ch, i == 0))
				break;
		}
		if (i == n)
			return 0;
		if (i == 0 && ch != '\0' && strchr(rule->punct, ch))
			snprintf(why, sizeof(why), "starts with '%c'", ch);
		else if (ch >= 'A' && ch <= 'Z')
			snprintf(why, sizeof(why), "contains upper-case '%c'", ch);
		else if (ch > 0x20 && ch < 0x7f)
			snprintf(why, sizeof(why), "contains '%c'", ch);
		else if (ch == ' ')
			snprintf(why, sizeof(why), "contains a space");
		else if (ch >= 0x80)
			snprintf(why, sizeof(why), "contains the non-ASCII byte \\x%02x", ch);
		else
			snprintf(why, sizeof(why), "contains the control byte \\x%02x", ch);
	}
	return werr_set(err, -EINVAL, "invalid", field, "%s '%s' %s; %s", what,
			vm_escape(s, n, e, sizeof(e)), why, rule->allowed);
}

int vm_name_validate(const char *name, struct werr *err)
{
	if (!name)
		name = "";
	return name_check(&vm_name_rule, name, strlen(name), "name", "name", err);
}

/* ---- values ----------------------------------------------------------- */

/* A string without NUL inside: C code would silently cut it there. */
static int get_string(struct ctx *c, json_t *v, const char *field, const char *want,
		      const char **ret, size_t *ret_len)
{
	if (!json_is_string(v))
		return type_error(c, v, field, want);
	const char *s = json_string_value(v);
	size_t n = json_string_length(v);
	if (strlen(s) != n)
		return werr_set(c->err, -EINVAL, "invalid", field,
				"%s contains a NUL byte; it must be %s", field, want);
	*ret = s;
	*ret_len = n;
	return 0;
}

static int get_bool(struct ctx *c, json_t *v, const char *field, bool *ret)
{
	if (!json_is_boolean(v))
		return type_error(c, v, field, "true or false");
	*ret = json_is_true(v);
	return 0;
}

/* Integer bytes or a size string; at most INT64_MAX so that the canonical
 * form can carry it as a JSON integer. */
static int get_size(struct ctx *c, json_t *v, const char *field, uint64_t *ret)
{
	char d[VM_ESCAPE_SIZE + 2];
	uint64_t bytes;

	if (json_is_integer(v)) {
		if (json_integer_value(v) < 0)
			return werr_set(c->err, -EINVAL, "invalid", field,
					"%s must not be negative (got %s); use " SIZE_HINT, field,
					describe(v, d, sizeof(d)));
		bytes = (uint64_t)json_integer_value(v);
	} else if (json_is_string(v)) {
		const char *s;
		size_t n;
		int r = get_string(c, v, field, "a size", &s, &n);
		if (r < 0)
			return r;
		r = size_parse(s, &bytes);
		if (r == -ERANGE || (r >= 0 && bytes > INT64_MAX))
			return werr_set(c->err, -EINVAL, "invalid", field,
					"%s %s is too large to be a size", field,
					describe(v, d, sizeof(d)));
		if (r < 0)
			return werr_set(c->err, -EINVAL, "invalid", field,
					"%s %s is not a size; use " SIZE_HINT, field,
					describe(v, d, sizeof(d)));
	} else {
		return type_error(c, v, field, "a size in " SIZE_HINT);
	}
	*ret = bytes;
	return 0;
}

/* Replace an optional string member; s NULL clears it. */
static int slot_set(char **slot, const char *s)
{
	char *copy = NULL;

	if (s && !(copy = strdup(s)))
		return -ENOMEM;
	free(*slot);
	*slot = copy;
	return 0;
}

static const char *file_kind(mode_t mode)
{
	if (S_ISDIR(mode))
		return "a directory";
	if (S_ISCHR(mode))
		return "a character device";
	if (S_ISBLK(mode))
		return "a block device";
	if (S_ISFIFO(mode))
		return "a FIFO";
	if (S_ISSOCK(mode))
		return "a socket";
	return "not a regular file";
}

/* kernel, initrd, disks[].image: null, or an absolute path to a regular file. */
static int get_path(struct ctx *c, json_t *v, const char *field, char **slot)
{
	static const char want[] = "an absolute path to a regular file, or null";
	char e[VM_ESCAPE_SIZE];
	struct stat st;
	const char *s;
	size_t n;
	int r;

	if (json_is_null(v))
		return slot_set(slot, NULL);
	r = get_string(c, v, field, want, &s, &n);
	if (r < 0)
		return r;
	if (n == 0 || s[0] != '/')
		return werr_set(c->err, -EINVAL, "invalid", field,
				"%s '%s' is not an absolute path; give the full path of a file, "
				"e.g. '/var/lib/warren/images/vmlinuz'",
				field, vm_escape(s, n, e, sizeof(e)));
	if (n >= PATH_MAX)
		return werr_set(c->err, -EINVAL, "invalid", field,
				"%s is %zu bytes long; paths may be at most %d", field, n,
				PATH_MAX - 1);
	if (c->check_files) {
		if (stat(s, &st) < 0) {
			int saved = errno; /* before anything else can change it */

			if (saved == ENOENT || saved == ENOTDIR)
				return werr_set(c->err, -EINVAL, "invalid", field,
						"%s '%s' does not exist; give an existing file",
						field, vm_escape(s, n, e, sizeof(e)));
			return werr_set(c->err, -EINVAL, "invalid", field,
					"%s '%s' cannot be used: %s", field,
					vm_escape(s, n, e, sizeof(e)), strerror(saved));
		}
		if (!S_ISREG(st.st_mode))
			return werr_set(c->err, -EINVAL, "invalid", field,
					"%s '%s' is %s; it must be a regular file", field,
					vm_escape(s, n, e, sizeof(e)), file_kind(st.st_mode));
	}
	return slot_set(slot, s);
}

/* ---- object walking --------------------------------------------------- */

static const struct key_parser *key_find(const struct key_parser *table, size_t n, const char *key,
					 size_t key_len)
{
	for (size_t i = 0; i < n; i++)
		if (strlen(table[i].key) == key_len && memcmp(table[i].key, key, key_len) == 0)
			return &table[i];
	return NULL;
}

static int key_unknown(struct ctx *c, const struct key_parser *table, size_t n, const char *key,
		       size_t key_len, const char *field, const char *where)
{
	char e[VM_ESCAPE_SIZE], allowed[256] = "";
	size_t o = 0;

	for (size_t i = 0; i < n && o < sizeof(allowed); i++)
		o += (size_t)snprintf(allowed + o, sizeof(allowed) - o, "%s%s", i ? ", " : "",
				      table[i].key);
	return werr_set(c->err, -EINVAL, "invalid", field,
			"unknown key '%s'%s; allowed keys are %s",
			vm_escape(key, key_len, e, sizeof(e)), where, allowed);
}

/*
 * Hand each key of obj to its parser from table. prefix is the JSON path
 * of obj with a trailing '.' ("" at the top, "disks[2]." in a disk).
 */
static int object_parse(struct ctx *c, json_t *obj, const struct key_parser *table, size_t n,
			const char *prefix)
{
	for (void *it = json_object_iter(obj); it; it = json_object_iter_next(obj, it)) {
		const char *key = json_object_iter_key(it);
		size_t key_len = json_object_iter_key_len(it);
		const struct key_parser *kp = key_find(table, n, key, key_len);
		char field[FIELD_SIZE], e[VM_ESCAPE_SIZE], where[32] = "";
		int r;

		snprintf(field, sizeof(field), "%s%s", prefix,
			 vm_escape(key, key_len, e, sizeof(e)));
		if (!kp) {
			if (prefix[0])
				snprintf(where, sizeof(where), " in %.*s", (int)strlen(prefix) - 1,
					 prefix);
			return key_unknown(c, table, n, key, key_len, field, where);
		}
		r = kp->parse(c, json_object_iter_value(it), field);
		if (r < 0)
			return r;
	}
	return 0;
}

/* ---- top-level keys --------------------------------------------------- */

static int parse_name(struct ctx *c, json_t *v, const char *field)
{
	const char *s;
	size_t n;
	int r;

	r = get_string(c, v, field, "a string, e.g. 'web1'", &s, &n);
	if (r < 0)
		return r;
	r = name_check(&vm_name_rule, s, n, "name", field, c->err);
	if (r < 0)
		return r;
	memcpy(c->spec->name, s, n + 1);
	c->have_name = true;
	return 0;
}

static int parse_cpus(struct ctx *c, json_t *v, const char *field)
{
	if (!json_is_integer(v))
		return type_error(c, v, field, "a whole number of CPUs, e.g. 2");
	json_int_t n = json_integer_value(v);
	if (n < 1)
		return werr_set(c->err, -EINVAL, "invalid", field,
				"cpus must be at least 1 (got %" JSON_INTEGER_FORMAT ")", n);
	/* The host limit is checked once all keys are read, so that it also
	 * covers the default; this only keeps the value within unsigned. */
	if (n > VM_MAX_CPUS)
		return werr_set(c->err, -EINVAL, "invalid", field,
				"cpus: %" JSON_INTEGER_FORMAT
				" is more than the %u Warren supports",
				n, VM_MAX_CPUS);
	c->spec->cpus = (unsigned)n;
	return 0;
}

static int parse_memory(struct ctx *c, json_t *v, const char *field)
{
	char d[VM_ESCAPE_SIZE + 2];
	uint64_t bytes;
	int r;

	r = get_size(c, v, field, &bytes);
	if (r < 0)
		return r;
	/* QEMU would round silently; a VM should get exactly what was asked. */
	if (bytes % MIB)
		return werr_set(c->err, -EINVAL, "invalid", field,
				"memory %s is not a whole number of MiB; give memory in MiB "
				"steps, e.g. '512M' or '2G'",
				describe(v, d, sizeof(d)));
	if (bytes < VM_MIN_MEMORY)
		return werr_set(c->err, -EINVAL, "invalid", field,
				"memory %s is less than the minimum of %llu MiB",
				describe(v, d, sizeof(d)), VM_MIN_MEMORY / MIB);
	c->spec->memory = bytes;
	return 0;
}

static int parse_kernel(struct ctx *c, json_t *v, const char *field)
{
	return get_path(c, v, field, &c->spec->kernel);
}

static int parse_initrd(struct ctx *c, json_t *v, const char *field)
{
	return get_path(c, v, field, &c->spec->initrd);
}

static int parse_cmdline(struct ctx *c, json_t *v, const char *field)
{
	const char *s;
	size_t n;
	int r;

	if (json_is_null(v))
		return slot_set(&c->spec->cmdline, NULL);
	r = get_string(c, v, field, "a string of kernel parameters, or null", &s, &n);
	if (r < 0)
		return r;
	if (n > VM_CMDLINE_MAX)
		return werr_set(c->err, -EINVAL, "too_large", field,
				"cmdline is %zu bytes long; the kernel takes at most %d", n,
				VM_CMDLINE_MAX);
	/* One line of parameters; a newline or escape sequence here is a mistake
	 * or an attempt to garble logs. Non-ASCII bytes are the kernel's business. */
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return werr_set(c->err, -EINVAL, "invalid", field,
					"cmdline contains the control byte \\x%02x at offset %zu; "
					"use one line of printable characters",
					(unsigned char)s[i], i);
	return slot_set(&c->spec->cmdline, s);
}

static int parse_serial(struct ctx *c, json_t *v, const char *field)
{
	return get_bool(c, v, field, &c->spec->serial);
}

/* ---- disks ------------------------------------------------------------ */

static int parse_disk_name(struct ctx *c, json_t *v, const char *field)
{
	const char *s;
	size_t n;
	int r;

	r = get_string(c, v, field, "a string, e.g. 'root'", &s, &n);
	if (r < 0)
		return r;
	r = name_check(&disk_name_rule, s, n, field, field, c->err);
	if (r < 0)
		return r;
	memcpy(c->disk->name, s, n + 1);
	return 0;
}

static int parse_disk_size(struct ctx *c, json_t *v, const char *field)
{
	char d[VM_ESCAPE_SIZE + 2];
	uint64_t bytes;
	int r;

	/* null: as large as the image; whether there is one is checked later. */
	if (json_is_null(v)) {
		c->disk->size = 0;
		return 0;
	}
	r = get_size(c, v, field, &bytes);
	if (r < 0)
		return r;
	if (bytes < VM_MIN_DISK_SIZE)
		return werr_set(c->err, -EINVAL, "invalid", field,
				"%s %s is less than the minimum of 1 MiB; use e.g. '2G', or leave "
				"size out to take the image's size",
				field, describe(v, d, sizeof(d)));
	c->disk->size = bytes;
	return 0;
}

static int parse_disk_image(struct ctx *c, json_t *v, const char *field)
{
	return get_path(c, v, field, &c->disk->image);
}

static int parse_disk_readonly(struct ctx *c, json_t *v, const char *field)
{
	return get_bool(c, v, field, &c->disk->readonly);
}

static int parse_disk_bus(struct ctx *c, json_t *v, const char *field)
{
	char d[VM_ESCAPE_SIZE + 2];
	const char *s;
	size_t n;
	int r;

	r = get_string(c, v, field, "'virtio'", &s, &n);
	if (r < 0)
		return r;
	if (strcmp(s, "virtio") != 0)
		return werr_set(c->err, -EINVAL, "invalid", field,
				"%s %s is not supported; the only bus is 'virtio'", field,
				describe(v, d, sizeof(d)));
	return 0;
}

/* A count or rate where null (or 0) means "no limit". */
static int get_limit(struct ctx *c, json_t *v, const char *field, bool size, uint64_t *ret)
{
	if (json_is_null(v)) {
		*ret = 0;
		return 0;
	}
	if (size)
		return get_size(c, v, field, ret);
	if (!json_is_integer(v) || json_integer_value(v) < 0)
		return type_error(c, v, field, "a whole number not below 0, or null for no limit");
	*ret = (uint64_t)json_integer_value(v);
	return 0;
}

static int parse_disk_iops(struct ctx *c, json_t *v, const char *field)
{
	return get_limit(c, v, field, false, &c->disk->iops);
}

static int parse_disk_bps(struct ctx *c, json_t *v, const char *field)
{
	return get_limit(c, v, field, true, &c->disk->bps);
}

/* clang-format off */
static const struct key_parser disk_keys[] = {
	{.key = "name",     .parse = parse_disk_name},
	{.key = "size",     .parse = parse_disk_size},
	{.key = "image",    .parse = parse_disk_image},
	{.key = "readonly", .parse = parse_disk_readonly},
	{.key = "bus",      .parse = parse_disk_bus},
	{.key = "iops",     .parse = parse_disk_iops},
	{.key = "bps",      .parse = parse_disk_bps},
};
/* clang-format on */

static int disk_parse(struct ctx *c, json_t *v, size_t i)
{
	char prefix[32], field[FIELD_SIZE];
	int r;

	snprintf(field, sizeof(field), "disks[%zu]", i);
	if (!json_is_object(v))
		return type_error(c, v, field, "an object like {'name': 'root', 'size': '2G'}");
	snprintf(prefix, sizeof(prefix), "disks[%zu].", i);
	r = object_parse(c, v, disk_keys, ARRAY_SIZE(disk_keys), prefix);
	if (r < 0)
		return r;

	snprintf(field, sizeof(field), "disks[%zu].name", i);
	if (!c->disk->name[0])
		return werr_set(c->err, -EINVAL, "invalid", field, "%s is required, e.g. 'root'",
				field);
	for (size_t j = 0; j < i; j++)
		if (strcmp(c->spec->disks[j].name, c->disk->name) == 0)
			return werr_set(c->err, -EINVAL, "invalid", field,
					"%s '%s' is already used by disks[%zu]; disk names must "
					"be unique",
					field, c->disk->name, j);
	if (c->disk->size == 0 && !c->disk->image) {
		snprintf(field, sizeof(field), "disks[%zu].size", i);
		return werr_set(c->err, -EINVAL, "invalid", field,
				"%s is required for a blank disk (one without image), e.g. '2G'",
				field);
	}
	return 0;
}

static int parse_disks(struct ctx *c, json_t *v, const char *field)
{
	json_t *d;
	size_t i;
	int r;

	if (!json_is_array(v))
		return type_error(c, v, field,
				  "an array of disks like [{'name': 'root', 'size': '2G'}]");
	if (json_array_size(v) > VM_MAX_DISKS)
		return werr_set(c->err, -EINVAL, "too_large", field,
				"disks has %zu entries; a VM may have at most %d disks",
				json_array_size(v), VM_MAX_DISKS);
	json_array_foreach(v, i, d)
	{
		c->disk = &c->spec->disks[i];
		/* Counted before parsing so that vm_spec_free sees a half-read disk. */
		c->spec->n_disks = i + 1;
		r = disk_parse(c, d, i);
		if (r < 0)
			return r;
	}
	c->disk = NULL;
	return 0;
}

/* ---- labels ----------------------------------------------------------- */

static int label_cmp(const void *a, const void *b)
{
	return strcmp(((const struct vm_label *)a)->key, ((const struct vm_label *)b)->key);
}

static int parse_labels(struct ctx *c, json_t *v, const char *field)
{
	struct vm_spec *spec = c->spec;
	int r;

	if (!json_is_object(v))
		return type_error(c, v, field, "an object of strings like {'env': 'prod'}");
	if (json_object_size(v) > VM_MAX_LABELS)
		return werr_set(c->err, -EINVAL, "too_large", field,
				"labels has %zu keys; a VM may have at most %d labels",
				json_object_size(v), VM_MAX_LABELS);
	for (void *it = json_object_iter(v); it; it = json_object_iter_next(v, it)) {
		const char *key = json_object_iter_key(it);
		size_t key_len = json_object_iter_key_len(it);
		char f[FIELD_SIZE], e[VM_ESCAPE_SIZE];
		const char *s;
		size_t n;

		snprintf(f, sizeof(f), "labels.%s", vm_escape(key, key_len, e, sizeof(e)));
		r = name_check(&label_key_rule, key, key_len, "label key", f, c->err);
		if (r < 0)
			return r;
		r = get_string(c, json_object_iter_value(it), f, "a string", &s, &n);
		if (r < 0)
			return r;
		if (n > VM_LABEL_VALUE_MAX)
			return werr_set(c->err, -EINVAL, "too_large", f,
					"%s is %zu bytes long; label values may be at most %d", f,
					n, VM_LABEL_VALUE_MAX);
		struct vm_label *l = &spec->labels[spec->n_labels];
		l->key = strdup(key);
		l->value = strdup(s);
		spec->n_labels++;
		if (!l->key || !l->value)
			return -ENOMEM;
	}
	/* Sorted, so that the canonical form does not depend on the order in
	 * which a client happened to write them. */
	qsort(spec->labels, spec->n_labels, sizeof(spec->labels[0]), label_cmp);
	return 0;
}

/* ---- resources and policies ------------------------------------------ */

static int parse_cpu_weight(struct ctx *c, json_t *v, const char *field)
{
	json_int_t n = json_integer_value(v);

	if (!json_is_integer(v) || n < 1 || n > VM_MAX_WEIGHT)
		return type_error(c, v, field, "a whole number from 1 to 10000 (100 is the default)");
	c->spec->res.cpu_weight = (unsigned)n;
	c->have_weight = true;
	return 0;
}

static int parse_cpu_limit(struct ctx *c, json_t *v, const char *field)
{
	double n = json_number_value(v);

	if (json_is_null(v)) {
		c->spec->res.cpu_limit = 0;
		return 0;
	}
	if (!json_is_number(v) || !(n >= 0.01) || n > VM_MAX_CPUS)
		return type_error(c, v, field, "a number of CPUs from 0.01, e.g. 1.5, or null");
	c->spec->res.cpu_limit = n;
	return 0;
}

static int parse_memory_limit(struct ctx *c, json_t *v, const char *field)
{
	return get_limit(c, v, field, true, &c->spec->res.memory_limit);
}

static int parse_memory_reservation(struct ctx *c, json_t *v, const char *field)
{
	return get_limit(c, v, field, true, &c->spec->res.memory_reservation);
}

static int parse_pin(struct ctx *c, json_t *v, const char *field)
{
	json_t *e;
	size_t i;

	c->spec->res.n_pin = 0;
	if (json_is_null(v))
		return 0;
	if (!json_is_array(v) || json_array_size(v) > VM_MAX_PIN)
		return type_error(c, v, field,
				  "an array with one host CPU number per vCPU, e.g. [0, 1], or null");
	json_array_foreach(v, i, e)
	{
		if (!json_is_integer(e) || json_integer_value(e) < 0 ||
		    json_integer_value(e) >= VM_MAX_CPUS)
			return type_error(c, e, field, "host CPU numbers (0, 1, ...)");
		c->spec->res.pin[i] = (int)json_integer_value(e);
	}
	c->spec->res.n_pin = json_array_size(v);
	return 0;
}

/* clang-format off */
static const struct key_parser resource_keys[] = {
	{.key = "cpu_weight",         .parse = parse_cpu_weight},
	{.key = "cpu_limit",          .parse = parse_cpu_limit},
	{.key = "memory_limit",       .parse = parse_memory_limit},
	{.key = "memory_reservation", .parse = parse_memory_reservation},
	{.key = "pin",                .parse = parse_pin},
};
/* clang-format on */

static int parse_resources(struct ctx *c, json_t *v, const char *field)
{
	if (!json_is_object(v))
		return type_error(c, v, field, "an object like {'cpu_weight': 200}");
	return object_parse(c, v, resource_keys, ARRAY_SIZE(resource_keys), "resources.");
}

static const char *const security_names[] = {"strict", "trusted"};
static const char *const performance_names[] = {"balanced", "latency", "density"};

const char *vm_security_to_string(enum vm_security s)
{
	return (size_t)s < ARRAY_SIZE(security_names) ? security_names[s] : "?";
}

const char *vm_performance_to_string(enum vm_performance p)
{
	return (size_t)p < ARRAY_SIZE(performance_names) ? performance_names[p] : "?";
}

static int get_choice(struct ctx *c, json_t *v, const char *field, const char *const *names,
		      size_t n, const char *want, int *ret)
{
	for (size_t i = 0; json_is_string(v) && i < n; i++)
		if (strcmp(json_string_value(v), names[i]) == 0) {
			*ret = (int)i;
			return 0;
		}
	return type_error(c, v, field, want);
}

static int parse_security(struct ctx *c, json_t *v, const char *field)
{
	int k = 0;
	int r = get_choice(c, v, field, security_names, ARRAY_SIZE(security_names),
			   "'strict' or 'trusted'", &k);

	if (r == 0)
		c->spec->security = (enum vm_security)k;
	return r;
}

static int parse_performance(struct ctx *c, json_t *v, const char *field)
{
	int k = 0;
	int r = get_choice(c, v, field, performance_names, ARRAY_SIZE(performance_names),
			   "'balanced', 'latency' or 'density'", &k);

	if (r == 0)
		c->spec->performance = (enum vm_performance)k;
	return r;
}

/* ---- network adapters ------------------------------------------------- */

static const char *const nic_model_names[] = {"virtio", "e1000"};

const char *vm_nic_model_to_string(enum vm_nic_model m)
{
	return (size_t)m < ARRAY_SIZE(nic_model_names) ? nic_model_names[m] : "?";
}

unsigned vm_nic_index(const struct vm_nic *nic)
{
	return (unsigned)strtoul(nic->name + 3, NULL, 10);
}

int vm_nic_free_name(const struct vm_spec *spec, char name[8])
{
	for (unsigned n = 0; n < VM_MAX_NICS; n++) {
		char cand[8];
		bool used = false;

		snprintf(cand, sizeof(cand), "nic%u", n);
		/* name may be the slot of a NIC of spec itself. */
		for (size_t i = 0; i < spec->n_nics; i++)
			used |= spec->nics[i].name != name && strcmp(spec->nics[i].name, cand) == 0;
		if (!used) {
			memcpy(name, cand, sizeof(cand));
			return 0;
		}
	}
	return -ENOSPC;
}

static int parse_nic_name(struct ctx *c, json_t *v, const char *field)
{
	char d[VM_ESCAPE_SIZE + 2];
	const char *s;
	size_t n;
	char *end;
	unsigned long k;
	int r;

	r = get_string(c, v, field, "a name like 'nic0'", &s, &n);
	if (r < 0)
		return r;
	k = strncmp(s, "nic", 3) == 0 && s[3] >= '0' && s[3] <= '9' ? strtoul(s + 3, &end, 10)
								       : VM_MAX_NICS;
	if (k >= VM_MAX_NICS || *end || (s[3] == '0' && s[4]))
		return werr_set(c->err, -EINVAL, "invalid", field,
				"%s %s is not a NIC name; NICs are named nic0 to nic%d", field,
				describe(v, d, sizeof(d)), VM_MAX_NICS - 1);
	snprintf(c->nic->name, sizeof(c->nic->name), "nic%lu", k);
	return 0;
}

static int parse_nic_network(struct ctx *c, json_t *v, const char *field)
{
	const char *s;
	size_t n;
	int r;

	r = get_string(c, v, field, "the name of a network, e.g. 'lan'", &s, &n);
	if (r < 0)
		return r;
	r = net_name_validate(s, c->err);
	if (r < 0) {
		snprintf(c->err->field, sizeof(c->err->field), "%s", field);
		return r;
	}
	snprintf(c->nic->network, sizeof(c->nic->network), "%s", s);
	return 0;
}

static int parse_nic_mac(struct ctx *c, json_t *v, const char *field)
{
	const char *s;
	size_t n;
	int r;

	if (json_is_null(v)) {
		memset(&c->nic->mac, 0, sizeof(c->nic->mac));
		return 0;
	}
	r = get_string(c, v, field, "a MAC address like '52:57:00:12:34:56', or null", &s, &n);
	return r < 0 ? r : net_mac_parse(s, &c->nic->mac, field, c->err);
}

static int parse_nic_ip(struct ctx *c, json_t *v, const char *field)
{
	char d[VM_ESCAPE_SIZE + 2];
	const char *s;
	size_t n;
	int r;

	if (json_is_null(v)) {
		c->nic->ip = 0;
		return 0;
	}
	r = get_string(c, v, field, "an IPv4 address like '10.0.0.5', or null", &s, &n);
	if (r < 0)
		return r;
	if (net_ip_parse(s, &c->nic->ip) < 0 || c->nic->ip == 0)
		return werr_set(c->err, -EINVAL, "invalid", field,
				"%s %s is not an IPv4 address; give one like '10.0.0.5'", field,
				describe(v, d, sizeof(d)));
	return 0;
}

static int parse_nic_ip_auto(struct ctx *c, json_t *v, const char *field)
{
	return get_bool(c, v, field, &c->nic->ip_auto);
}

static int get_uint_range(struct ctx *c, json_t *v, const char *field, unsigned lo, unsigned hi,
			  const char *what, unsigned *ret)
{
	char d[VM_ESCAPE_SIZE + 2];

	if (json_is_null(v)) {
		*ret = 0;
		return 0;
	}
	if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi)
		return werr_set(c->err, -EINVAL, "invalid", field,
				"%s must be %s from %u to %u, or null (got %s)", field, what, lo,
				hi, describe(v, d, sizeof(d)));
	*ret = (unsigned)json_integer_value(v);
	return 0;
}

static int parse_nic_mtu(struct ctx *c, json_t *v, const char *field)
{
	return get_uint_range(c, v, field, NET_MIN_MTU, NET_MAX_MTU, "an MTU", &c->nic->mtu);
}

static int parse_nic_vlan(struct ctx *c, json_t *v, const char *field)
{
	return get_uint_range(c, v, field, 1, 4094, "a VLAN id", &c->nic->vlan);
}

static int parse_nic_rate(struct ctx *c, json_t *v, const char *field)
{
	const char *s;
	size_t n;
	int r;

	if (json_is_null(v)) {
		c->nic->rate = 0;
		return 0;
	}
	r = get_string(c, v, field, "a rate like '10Mbit', or null for no limit", &s, &n);
	return r < 0 ? r : net_rate_parse(s, &c->nic->rate, field, c->err);
}

static int parse_nic_model(struct ctx *c, json_t *v, const char *field)
{
	int k = 0;
	int r = get_choice(c, v, field, nic_model_names, ARRAY_SIZE(nic_model_names),
			   "'virtio' or 'e1000'", &k);

	if (r == 0)
		c->nic->model = (enum vm_nic_model)k;
	return r;
}

static int parse_nic_trust(struct ctx *c, json_t *v, const char *field)
{
	return get_bool(c, v, field, &c->nic->trust);
}

static const char *const link_names[] = {"up", "down"};

static int parse_nic_link(struct ctx *c, json_t *v, const char *field)
{
	int k = 0;
	int r = get_choice(c, v, field, link_names, ARRAY_SIZE(link_names), "'up' or 'down'", &k);

	if (r == 0)
		c->nic->link_down = k == 1;
	return r;
}

/* clang-format off */
static const struct key_parser nic_keys[] = {
	{.key = "name",    .parse = parse_nic_name},
	{.key = "network", .parse = parse_nic_network},
	{.key = "mac",     .parse = parse_nic_mac},
	{.key = "ip",      .parse = parse_nic_ip},
	{.key = "ip_auto", .parse = parse_nic_ip_auto},
	{.key = "mtu",     .parse = parse_nic_mtu},
	{.key = "rate",    .parse = parse_nic_rate},
	{.key = "model",   .parse = parse_nic_model},
	{.key = "trust",   .parse = parse_nic_trust},
	{.key = "link",    .parse = parse_nic_link},
	{.key = "vlan",    .parse = parse_nic_vlan},
};
/* clang-format on */

/* One NIC at c->nic; prefix is its JSON path with a trailing '.'. */
static int nic_parse(struct ctx *c, json_t *v, const char *field, const char *prefix)
{
	char f[FIELD_SIZE];
	int r;

	if (!json_is_object(v))
		return type_error(c, v, field, "an object like {'network': 'lan'}");
	r = object_parse(c, v, nic_keys, ARRAY_SIZE(nic_keys), prefix);
	if (r < 0)
		return r;
	snprintf(f, sizeof(f), "%snetwork", prefix);
	if (!c->nic->network[0])
		return werr_set(c->err, -EINVAL, "invalid", f,
				"%s is required: the network the NIC is on, e.g. 'lan'", f);
	if (c->nic->ip_auto && !c->nic->ip)
		c->nic->ip_auto = false;
	return 0;
}

int vm_nic_from_json(json_t *v, const char *field, struct vm_nic *ret, struct werr *err)
{
	struct vm_spec scratch = {0};
	char prefix[FIELD_SIZE];
	struct ctx c = {.spec = &scratch, .err = err, .nic = ret};

	memset(ret, 0, sizeof(*ret));
	snprintf(prefix, sizeof(prefix), "%s%s", field, field[0] ? "." : "");
	return nic_parse(&c, v, field[0] ? field : "nic", prefix);
}

static int parse_nics(struct ctx *c, json_t *v, const char *field)
{
	json_t *e;
	size_t i;
	int r;

	if (!json_is_array(v))
		return type_error(c, v, field, "an array of NICs like [{'network': 'lan'}]");
	if (json_array_size(v) > VM_MAX_NICS)
		return werr_set(c->err, -EINVAL, "too_large", field,
				"nics has %zu entries; a VM may have at most %d NICs",
				json_array_size(v), VM_MAX_NICS);
	json_array_foreach(v, i, e)
	{
		char f[FIELD_SIZE], prefix[FIELD_SIZE];

		c->nic = &c->spec->nics[i];
		c->spec->n_nics = i + 1;
		snprintf(f, sizeof(f), "nics[%zu]", i);
		snprintf(prefix, sizeof(prefix), "nics[%zu].", i);
		r = nic_parse(c, e, f, prefix);
		if (r < 0)
			return r;
	}
	/* Unnamed NICs get the lowest free names, after the named ones. */
	for (i = 0; i < c->spec->n_nics; i++) {
		struct vm_nic *nic = &c->spec->nics[i];

		for (size_t j = 0; nic->name[0] && j < i; j++)
			if (strcmp(c->spec->nics[j].name, nic->name) == 0)
				return werr_set(c->err, -EINVAL, "invalid", "nics",
						"nics[%zu].name '%s' is already used by nics[%zu]; "
						"NIC names must be unique",
						i, nic->name, j);
	}
	for (i = 0; i < c->spec->n_nics; i++)
		if (!c->spec->nics[i].name[0] &&
		    vm_nic_free_name(c->spec, c->spec->nics[i].name) < 0)
			return -ENOMEM;
	for (i = 0; i < c->spec->n_nics; i++)
		for (size_t j = 0; j < i; j++)
			if (c->spec->nics[i].mac.b[0] &&
			    net_mac_equal(&c->spec->nics[i].mac, &c->spec->nics[j].mac))
				return werr_set(c->err, -EINVAL, "invalid", "nics",
						"nics[%zu].mac is the same as nics[%zu].mac; every "
						"NIC needs its own MAC",
						i, j);
	c->nic = NULL;
	return 0;
}

json_t *vm_nic_to_json(const struct vm_nic *nic)
{
	char mac[18], ip[16], rate[24];
	static const struct net_mac zero;

	return json_pack("{s:s, s:s, s:s?, s:s?, s:b, s:o, s:s?, s:s, s:b, s:s, s:o}", "name",
			 nic->name, "network", nic->network, "mac",
			 net_mac_equal(&nic->mac, &zero) ? NULL : net_mac_format(&nic->mac, mac),
			 "ip", nic->ip ? net_ip_format(nic->ip, ip) : NULL, "ip_auto", nic->ip_auto,
			 "mtu", nic->mtu ? json_integer(nic->mtu) : json_null(), "rate",
			 nic->rate ? net_rate_format(nic->rate, rate) : NULL, "model",
			 vm_nic_model_to_string(nic->model), "trust", nic->trust, "link",
			 nic->link_down ? "down" : "up", "vlan",
			 nic->vlan ? json_integer(nic->vlan) : json_null());
}

/* clang-format off */
static const struct key_parser spec_keys[] = {
	{.key = "name",    .parse = parse_name},
	{.key = "cpus",    .parse = parse_cpus},
	{.key = "memory",  .parse = parse_memory},
	{.key = "kernel",  .parse = parse_kernel},
	{.key = "initrd",  .parse = parse_initrd},
	{.key = "cmdline", .parse = parse_cmdline},
	{.key = "disks",   .parse = parse_disks},
	{.key = "serial",  .parse = parse_serial},
	{.key = "labels",  .parse = parse_labels},
	{.key = "nics",    .parse = parse_nics},
	{.key = "resources", .parse = parse_resources},
	{.key = "security", .parse = parse_security},
	{.key = "performance", .parse = parse_performance},
};
/* clang-format on */

/* ---- whole spec ------------------------------------------------------- */

/* Rules that involve more than one key, or a default. */
static int spec_check(struct ctx *c)
{
	const struct vm_spec *spec = c->spec;
	const struct vm_limits *lim = c->limits;
	char have[32], max[32];

	if (!c->have_name)
		return werr_set(c->err, -EINVAL, "invalid", "name",
				"name is required, e.g. 'web1'; %s", vm_name_rule.allowed);
	if (spec->initrd && !spec->kernel)
		return werr_set(c->err, -EINVAL, "invalid", "initrd",
				"initrd needs kernel: an initrd is only used with direct kernel "
				"boot; set kernel too, or drop initrd");
	if (spec->cmdline && !spec->kernel)
		return werr_set(c->err, -EINVAL, "invalid", "cmdline",
				"cmdline needs kernel: it is passed to a directly booted kernel; "
				"set kernel too, or drop cmdline");
	if (!spec->kernel && spec->n_disks == 0)
		return werr_set(c->err, -EINVAL, "invalid", "disks",
				"nothing to boot from: give kernel (direct boot) or at least one "
				"disk (firmware boot)");
	if (lim && lim->max_cpus && spec->cpus > lim->max_cpus)
		return werr_set(c->err, -EINVAL, "invalid", "cpus",
				"cpus: %u is more than this host's %u CPUs; use 1 to %u",
				spec->cpus, lim->max_cpus, lim->max_cpus);
	if (spec->res.n_pin && spec->res.n_pin != spec->cpus)
		return werr_set(c->err, -EINVAL, "invalid", "resources.pin",
				"resources.pin lists %zu host CPUs for %u vCPUs; give one per vCPU",
				spec->res.n_pin, spec->cpus);
	for (size_t i = 0; lim && lim->max_cpus && i < spec->res.n_pin; i++)
		if ((unsigned)spec->res.pin[i] >= lim->max_cpus)
			return werr_set(c->err, -EINVAL, "invalid", "resources.pin",
					"resources.pin: host CPU %d does not exist; this host has "
					"CPUs 0 to %u",
					spec->res.pin[i], lim->max_cpus - 1);
	if (spec->res.cpu_limit > spec->cpus)
		return werr_set(c->err, -EINVAL, "invalid", "resources.cpu_limit",
				"resources.cpu_limit %.2f is more than the VM's %u vCPUs can use",
				spec->res.cpu_limit, spec->cpus);
	if (spec->res.memory_limit && spec->res.memory_limit < spec->memory + VM_MEMORY_OVERHEAD)
		return werr_set(c->err, -EINVAL, "invalid", "resources.memory_limit",
				"resources.memory_limit %s is below the guest's memory plus QEMU's "
				"overhead; give at least %s",
				size_format(spec->res.memory_limit, have, sizeof(have)),
				size_format(spec->memory + VM_MEMORY_OVERHEAD, max, sizeof(max)));
	if (spec->res.memory_reservation > spec->memory)
		return werr_set(c->err, -EINVAL, "invalid", "resources.memory_reservation",
				"resources.memory_reservation %s is more than the VM's memory %s",
				size_format(spec->res.memory_reservation, have, sizeof(have)),
				size_format(spec->memory, max, sizeof(max)));
	if (!c->have_weight && spec->performance == VM_PERF_DENSITY)
		c->spec->res.cpu_weight = VM_DENSITY_WEIGHT;
	if (lim && lim->max_memory && spec->memory > lim->max_memory)
		return werr_set(c->err, -EINVAL, "invalid", "memory",
				"memory: %s is more than this host's %s; use at most %s",
				size_format(spec->memory, have, sizeof(have)),
				size_format(lim->max_memory, max, sizeof(max)), max);
	return 0;
}

static int spec_read(json_t *body, const struct vm_limits *limits, bool check_files,
		     struct vm_spec **ret_spec, struct werr *err)
{
	_cleanup_vm_spec_ struct vm_spec *spec = NULL;
	int r;

	if (!json_is_object(body))
		return werr_set(err, -EINVAL, "invalid", "",
				"the spec must be a JSON object like {\"name\": \"web1\", ...}");
	spec = calloc(1, sizeof(*spec));
	if (!spec)
		return -ENOMEM;
	spec->cpus = 1;
	spec->memory = DEFAULT_MEMORY;
	spec->serial = true;
	spec->res.cpu_weight = VM_DEFAULT_WEIGHT;

	struct ctx c = {
		.spec = spec,
		.limits = limits,
		.err = err,
		.check_files = check_files,
	};
	r = object_parse(&c, body, spec_keys, ARRAY_SIZE(spec_keys), "");
	if (r >= 0)
		r = spec_check(&c);
	if (r == -ENOMEM)
		return werr_set(err, -ENOMEM, "internal", "", "out of memory reading the spec");
	if (r < 0)
		return r;
	*ret_spec = TAKE_PTR(spec);
	return 0;
}

int vm_spec_from_json(json_t *body, const struct vm_limits *limits, struct vm_spec **ret_spec,
		      struct werr *err)
{
	return spec_read(body, limits, !(limits && limits->skip_file_checks), ret_spec, err);
}

int vm_spec_load(json_t *stored, struct vm_spec **ret_spec, struct werr *err)
{
	return spec_read(stored, NULL, false, ret_spec, err);
}

static json_t *int_or_null(uint64_t v)
{
	return v ? json_integer((json_int_t)v) : json_null();
}

static json_t *disk_to_json(const struct vm_disk *d)
{
	return json_pack("{s:s, s:o, s:s?, s:b, s:s, s:o, s:o}", "name", d->name, "size",
			 int_or_null(d->size), "image", d->image, "readonly", d->readonly, "bus",
			 "virtio", "iops", int_or_null(d->iops), "bps", int_or_null(d->bps));
}

static json_t *resources_to_json(const struct vm_resources *r)
{
	json_t *pin = r->n_pin ? json_array() : json_null();

	for (size_t i = 0; i < r->n_pin; i++)
		json_array_append_new(pin, json_integer(r->pin[i]));
	return json_pack("{s:i, s:o, s:o, s:o, s:o}", "cpu_weight", (int)r->cpu_weight,
			 "cpu_limit", r->cpu_limit > 0 ? json_real(r->cpu_limit) : json_null(),
			 "memory_limit", int_or_null(r->memory_limit), "memory_reservation",
			 int_or_null(r->memory_reservation), "pin", pin);
}

json_t *vm_spec_to_json(const struct vm_spec *spec)
{
	_cleanup_json_ json_t *disks = json_array(), *labels = json_object(), *nics = json_array();

	if (!disks || !labels || !nics)
		return NULL;
	for (size_t i = 0; i < spec->n_nics; i++)
		if (json_array_append_new(nics, vm_nic_to_json(&spec->nics[i])) < 0)
			return NULL;
	for (size_t i = 0; i < spec->n_disks; i++)
		if (json_array_append_new(disks, disk_to_json(&spec->disks[i])) < 0)
			return NULL;
	for (size_t i = 0; i < spec->n_labels; i++)
		if (json_object_set_new(labels, spec->labels[i].key,
					json_string(spec->labels[i].value)) < 0)
			return NULL;
	return json_pack("{s:s, s:I, s:I, s:s?, s:s?, s:s?, s:O, s:b, s:O, s:O, s:o, s:s, s:s}", "name",
			 spec->name, "cpus", (json_int_t)spec->cpus, "memory",
			 (json_int_t)spec->memory, "kernel", spec->kernel, "initrd", spec->initrd,
			 "cmdline", spec->cmdline, "disks", disks, "serial", spec->serial, "labels",
			 labels, "nics", nics, "resources", resources_to_json(&spec->res), "security",
			 vm_security_to_string(spec->security), "performance",
			 vm_performance_to_string(spec->performance));
}

void vm_spec_free(struct vm_spec *spec)
{
	if (!spec)
		return;
	free(spec->kernel);
	free(spec->initrd);
	free(spec->cmdline);
	for (size_t i = 0; i < spec->n_disks; i++)
		free(spec->disks[i].image);
	for (size_t i = 0; i < spec->n_labels; i++) {
		free(spec->labels[i].key);
		free(spec->labels[i].value);
	}
	free(spec);
}

/* ---- changing resources ------------------------------------------------- */

/* Apply changes ({"ITEM": {"key": value}}) to the items of one array of the
 * canonical form (disks, nics), named by their "name"; only the keys in
 * allowed ("iops", "bps") may change. */
static int patch_items(json_t *items, json_t *changes, const char *kind,
		       const char *const *allowed, size_t n_allowed, const char *example,
		       struct werr *err)
{
	const char *name, *key;
	json_t *change, *d, *v;
	size_t i;

	if (!json_is_object(changes))
		return werr_set(err, -EINVAL, "invalid", kind, "%s must be an object like %s",
				kind, example);
	json_object_foreach(changes, name, change) {
		json_t *target = NULL;
		char f[FIELD_SIZE];

		json_array_foreach(items, i, d)
			if (strcmp(json_string_value(json_object_get(d, "name")), name) == 0)
				target = d;
		snprintf(f, sizeof(f), "%s.%.40s", kind, name);
		if (!target)
			return werr_set(err, -EINVAL, "invalid", f, "the VM has no %.*s named '%.40s'",
					(int)strlen(kind) - 1, kind, name);
		if (!json_is_object(change))
			return werr_set(err, -EINVAL, "invalid", f, "%s must be an object", f);
		json_object_foreach(change, key, v) {
			bool ok = false;

			for (size_t k = 0; k < n_allowed; k++)
				ok |= strcmp(key, allowed[k]) == 0;
			if (!ok)
				return werr_set(err, -EINVAL, "invalid", f,
						"%s.%.40s cannot be changed; only %s and %s can", f, key,
						allowed[0], allowed[1]);
			json_object_set(target, key, v);
		}
	}
	return 0;
}

int vm_spec_patch(const struct vm_spec *spec, json_t *body, const struct vm_limits *limits,
		  struct vm_spec **ret, struct werr *err)
{
	_cleanup_json_ json_t *j = vm_spec_to_json(spec);
	struct vm_limits lim = limits ? *limits : (struct vm_limits){0};
	struct vm_spec *next = NULL;
	const char *key;
	json_t *v;
	int r;

	if (!j)
		return -ENOMEM;
	if (!json_is_object(body) || json_object_size(body) == 0)
		return werr_set(err, -EINVAL, "invalid", "",
				"give what to change, e.g. {\"cpu_weight\": 200}");
	json_object_foreach(body, key, v) {
		static const char *const disk_keys_patch[] = {"iops", "bps"};
		static const char *const nic_keys_patch[] = {"rate", "link"};

		if (strcmp(key, "disks") == 0 || strcmp(key, "nics") == 0) {
			bool disks = key[0] == 'd';

			r = patch_items(json_object_get(j, key), v, key,
					disks ? disk_keys_patch : nic_keys_patch, 2,
					disks ? "{'data': {'iops': 200}}" : "{'nic0': {'rate': '20Mbit'}}",
					err);
			if (r < 0)
				return r;
			continue;
		}
		if (!key_find(resource_keys, ARRAY_SIZE(resource_keys), key, strlen(key)))
			return werr_set(err, -EINVAL, "invalid", key,
					"'%.60s' cannot be changed; cpu_weight, cpu_limit, "
					"memory_limit, memory_reservation, pin, disks and nics can",
					key);
		json_object_set(json_object_get(j, "resources"), key, v);
	}
	/* A VM's files were checked when it was made; they are not the
	 * subject here. */
	lim.skip_file_checks = true;
	r = vm_spec_from_json(j, &lim, &next, err);
	if (r < 0) {
		/* Name the key as the client wrote it, not its place in the spec. */
		if (strncmp(err->field, "resources.", 10) == 0) {
			char *m = strstr(err->message, "resources.");
			memmove(err->field, err->field + 10, strlen(err->field + 10) + 1);
			if (m)
				memmove(m, m + 10, strlen(m + 10) + 1);
		}
		return r;
	}
	*ret = next;
	return 0;
}
