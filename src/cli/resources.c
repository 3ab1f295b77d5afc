/*
 * resources: what a VM may take from the host, as the command line writes
 * it (--cpu-limit 0.5, --disk ...,iops=200, "warren set web1 pin=0,1"),
 * turned into the JSON values of the spec and of PATCH /v1/vms/NAME, and
 * the NIC settings that "warren set" changes on a running VM as well
 * (nic0.rate=20Mbit, nic0.link=down).
 *
 * One table serves create's flags, create's --disk keys and set's KEY=VALUE
 * items, so that a value is read the same way wherever it is given. Only
 * the form is checked here (a number is a number, pin a list of CPU
 * numbers); ranges, and whether a disk exists, are the daemon's to judge,
 * since only it knows the host and the VM.
 */
#include <ctype.h>
#include <limits.h>
#include <string.h>

#include "cli/cli.h"

#define SET_KEYS                                                                                   \
	"cpu_weight, cpu_limit, memory_limit, memory_reservation, pin, disk.DISK.iops, "           \
	"disk.DISK.bps, nicN.rate, nicN.link"

/* ---- values ------------------------------------------------------------ */

/* "-12": a JSON integer. The sign is taken so that the daemon, which knows
 * the range, can say what is allowed. */
static int int_json(const char *s, json_t **ret)
{
	const char *digits = s + (s[0] == '-');
	long long v;
	char *end;

	if (!isdigit((unsigned char)*digits))
		return -EINVAL;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || *end != '\0')
		return -EINVAL;
	*ret = json_integer(v);
	return *ret ? 0 : -ENOMEM;
}

/* "0.5", ".5", "2": a JSON number, an integer when it has no fraction. */
static int number_json(const char *s, json_t **ret)
{
	double v;

	if (!strchr(s, '.'))
		return int_json(s, ret);
	if (cli_parse_decimal(s, &v) < 0)
		return -EINVAL;
	*ret = json_real(v);
	return *ret ? 0 : -ENOMEM;
}

/* Sizes go as written: the daemon reads "512M" and plain bytes alike, and
 * its error says which sizes it takes. */
static int size_json(const char *s, json_t **ret)
{
	*ret = json_string(s);
	return *ret ? 0 : -ENOMEM;
}

/* "0,1,3": one host CPU number per vCPU. */
static int pin_json(const char *s, json_t **ret)
{
	_cleanup_json_ json_t *pin = json_array();
	const char *p = s;

	if (!pin)
		return -ENOMEM;
	for (;;) {
		size_t len = strspn(p, "0123456789");
		_cleanup_free_ char *item = strndup(p, len);
		uint64_t cpu;

		if (!item)
			return -ENOMEM;
		if (cli_parse_uint(item, INT_MAX, &cpu) < 0 || (p[len] != ',' && p[len] != '\0'))
			return -EINVAL;
		if (json_array_append_new(pin, json_integer((json_int_t)cpu)) < 0)
			return -ENOMEM;
		if (p[len] == '\0')
			break;
		p += len + 1;
	}
	*ret = TAKE_PTR(pin);
	return 0;
}

/* clang-format off */
static const struct resource_key {
	const char *key;
	bool disk; /* a key of one disk, not of the VM's resources */
	int (*parse)(const char *s, json_t **ret);
	const char *want; /* the form, for an error */
} resource_keys[] = {
	{.key = "cpu_weight",         .parse = int_json,    .want = "a whole number, like 200"},
	{.key = "cpu_limit",          .parse = number_json, .want = "a number of CPUs, like 0.5"},
	{.key = "memory_limit",       .parse = size_json},
	{.key = "memory_reservation", .parse = size_json},
	{.key = "pin",                .parse = pin_json,
	 .want = "host CPU numbers separated by commas, one per vCPU, like 0,1"},
	{.key = "iops", .disk = true, .parse = int_json,    .want = "a whole number, like 200"},
	{.key = "bps",  .disk = true, .parse = size_json},
};
/* clang-format on */

static const struct resource_key *resource_key_find(const char *key, bool disk)
{
	for (size_t i = 0; i < ARRAY_SIZE(resource_keys); i++)
		if (resource_keys[i].disk == disk && strcmp(resource_keys[i].key, key) == 0)
			return &resource_keys[i];
	return NULL;
}

int cli_resource_value(const char *key, bool disk, const char *value, const char *what,
		       json_t **ret, struct werr *err)
{
	const struct resource_key *k = resource_key_find(key, disk);
	int r;

	if (!k)
		return -ENOENT;
	r = k->parse(value, ret);
	if (r == -EINVAL)
		return werr_set(err, r, "invalid", key, "%s takes %s, not '%s'", what, k->want,
				value);
	return r;
}

/* ---- warren set ------------------------------------------------------------ */

/*
 * Where KEY=VALUE goes in the body: *ret_obj (made if need be) and
 * *ret_name, the member; for "disk.DISK.KEY", {"disks": {"DISK": {KEY}}}.
 * *ret_disk says which table keys apply.
 */
static int set_target(json_t *body, const char *key, const char *item, json_t **ret_obj,
		      const char **ret_name, bool *ret_disk, struct werr *err)
{
	_cleanup_free_ char *disk = NULL;
	const char *dot;

	if (strncmp(key, "disk.", 5) != 0) {
		*ret_obj = body;
		*ret_name = key;
		*ret_disk = false;
		return 0;
	}
	/* "disk.", a name that is not empty, ".", a key that is not empty. */
	dot = strrchr(key, '.');
	if (dot <= key + 5 || !dot[1])
		return werr_set(err, -EINVAL, "invalid", key,
				"'%s': write a disk's keys as disk.DISK.iops or disk.DISK.bps",
				item);
	disk = strndup(key + 5, (size_t)(dot - key - 5));
	if (!disk)
		return -ENOMEM;
	*ret_obj = cli_json_child(cli_json_child(body, "disks"), disk);
	if (!*ret_obj)
		return -ENOMEM;
	*ret_name = dot + 1;
	*ret_disk = true;
	return 0;
}

/* Is key "nicN.KEY"? *ret_len is then the length of "nicN". */
static bool nic_key(const char *key, size_t *ret_len)
{
	size_t digits;

	if (strncmp(key, "nic", 3) != 0)
		return false;
	digits = strspn(key + 3, "0123456789");
	if (digits == 0 || key[3 + digits] != '.')
		return false;
	*ret_len = 3 + digits;
	return true;
}

/*
 * nicN.rate and nicN.link go to {"nics": {"nicN": {...}}}. rate goes as
 * written for the daemon to read ("10Mbit"), none or off clearing it; link
 * is up or down and cannot be cleared. Whether the NIC exists is the
 * daemon's to say.
 */
static int set_nic_item(json_t *body, const char *key, size_t len, const char *value,
			struct werr *err)
{
	_cleanup_free_ char *nic = strndup(key, len);
	const char *name = key + len + 1;
	json_t *obj, *v;

	if (!nic)
		return -ENOMEM;
	if (strcmp(name, "rate") != 0 && strcmp(name, "link") != 0)
		return werr_set(err, -EINVAL, "invalid", key,
				"unknown key '%s' (keys: " SET_KEYS ")", key);
	obj = cli_json_child(cli_json_child(body, "nics"), nic);
	if (!obj)
		return -ENOMEM;
	if (json_object_get(obj, name))
		return werr_set(err, -EINVAL, "invalid", key, "%s given twice", key);
	if (strcmp(name, "rate") == 0) {
		v = strcmp(value, "none") == 0 || strcmp(value, "off") == 0 ? json_null()
									    : json_string(value);
	} else {
		if (strcmp(value, "up") != 0 && strcmp(value, "down") != 0)
			return werr_set(err, -EINVAL, "invalid", key,
					"%s takes up or down, not '%s'", key, value);
		v = json_string(value);
	}
	if (json_object_set_new(obj, name, v) < 0)
		return -ENOMEM;
	return 0;
}

static int set_item(json_t *body, const char *item, struct werr *err)
{
	const char *eq = strchr(item, '=');
	_cleanup_free_ char *key = NULL;
	const char *value, *name = NULL;
	json_t *obj = NULL, *v = NULL;
	bool disk = false;
	size_t nic_len;
	int r;

	if (!eq || eq == item)
		return werr_set(err, -EINVAL, "invalid", "",
				"'%s' is not KEY=VALUE (keys: " SET_KEYS ")", item);
	key = strndup(item, (size_t)(eq - item));
	if (!key)
		return -ENOMEM;
	value = eq + 1;
	if (!*value)
		return werr_set(err, -EINVAL, "invalid", key,
				"%s has no value (give one, or none to clear it)", key);
	if (nic_key(key, &nic_len))
		return set_nic_item(body, key, nic_len, value, err);
	r = set_target(body, key, item, &obj, &name, &disk, err);
	if (r < 0)
		return r;
	if (!resource_key_find(name, disk))
		return werr_set(err, -EINVAL, "invalid", key,
				"unknown key '%s' (keys: " SET_KEYS ")", key);
	if (json_object_get(obj, name))
		return werr_set(err, -EINVAL, "invalid", key, "%s given twice", key);
	/* Which keys may be cleared is the daemon's to say (cpu_weight may not). */
	if (strcmp(value, "none") == 0)
		v = json_null();
	else if ((r = cli_resource_value(name, disk, value, key, &v, err)) < 0)
		return r;
	if (json_object_set_new(obj, name, v) < 0)
		return -ENOMEM;
	return 0;
}

int cli_patch_build(const char *const *items, size_t n, json_t **ret_body, struct werr *err)
{
	_cleanup_json_ json_t *body = json_object();
	int r;

	if (!body)
		return -ENOMEM;
	if (n == 0)
		return werr_set(err, -EINVAL, "invalid", "",
				"missing KEY=VALUE: what to change (keys: " SET_KEYS ")");
	for (size_t i = 0; i < n; i++) {
		r = set_item(body, items[i], err);
		if (r < 0)
			return r;
	}
	*ret_body = TAKE_PTR(body);
	return 0;
}
