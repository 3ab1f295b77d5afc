/*
 * spec: the body of "warren create" from a --from file and the flags.
 *
 * The client does not validate the spec: the daemon does, and names the
 * offending field. What the client must do is what only it can: read the
 * file, make relative paths absolute, since they mean nothing in the
 * daemon's working directory, and give flags whose value must be a JSON
 * number or list (--cpu-limit, --pin) that type, which takes reading them.
 */
#include <ctype.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>

#include "cli/cli.h"

/*
 * Absolute form of a path relative to base (the working directory when
 * NULL): the real path when the file exists. A path that does not resolve
 * is left as given so that the daemon's error names what the user typed.
 */
static json_t *path_json(const char *path, const char *base)
{
	_cleanup_free_ char *joined = NULL;
	char real[PATH_MAX];

	if (path[0] == '/')
		return json_string(path);
	if (base && asprintf(&joined, "%s/%s", base, path) < 0)
		return NULL;
	if (!realpath(joined ? joined : path, real))
		return json_string(path);
	return json_string(real);
}

/* Replace obj[key] when it is a string path. */
static int path_fix(json_t *obj, const char *key, const char *base)
{
	json_t *v = json_object_get(obj, key);

	if (!json_is_string(v))
		return 0;
	if (json_object_set_new(obj, key, path_json(json_string_value(v), base)) < 0)
		return -ENOMEM;
	return 0;
}

static int spec_paths_fix(json_t *spec, const char *base)
{
	size_t i;
	json_t *disk;

	if (path_fix(spec, "kernel", base) < 0 || path_fix(spec, "initrd", base) < 0)
		return -ENOMEM;
	json_array_foreach(json_object_get(spec, "disks"), i,
			   disk) if (path_fix(disk, "image", base) < 0) return -ENOMEM;
	return 0;
}

static int spec_load(const char *file, json_t **ret, struct werr *err)
{
	_cleanup_close_ int fd = open(file, O_RDONLY | O_CLOEXEC);
	_cleanup_json_ json_t *spec = NULL;
	char dir[PATH_MAX];
	json_error_t jerr;
	char *slash;

	if (fd < 0)
		return werr_set(err, -errno, "invalid", "from", "--from %s: %s", file,
				strerror(errno));
	spec = json_loadfd(fd, JSON_REJECT_DUPLICATES, &jerr);
	if (!spec)
		return werr_set(err, -EINVAL, "invalid", "from", "--from %s: line %d: %s", file,
				jerr.line, jerr.text);
	if (!json_is_object(spec))
		return werr_set(err, -EINVAL, "invalid", "from",
				"--from %s: expected a JSON object (a VM spec)", file);
	/* Paths in the file are relative to the file, as in other tools'
	 * configuration files, not to wherever the command is run. */
	if (!realpath(file, dir))
		return werr_set(err, -errno, "invalid", "from", "--from %s: %s", file,
				strerror(errno));
	slash = strrchr(dir, '/');
	if (slash == dir)
		slash[1] = '\0';
	else if (slash)
		*slash = '\0';
	if (spec_paths_fix(spec, dir) < 0)
		return -ENOMEM;
	*ret = TAKE_PTR(spec);
	return 0;
}

/* --cpus: an integer when it is one, else the text, so that the daemon can
 * say what is wrong with it. */
static json_t *cpus_json(const char *s)
{
	char *end;
	long long v;

	if (!isdigit((unsigned char)s[0]) && !(s[0] == '-' && isdigit((unsigned char)s[1])))
		return json_string(s);
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || *end != '\0')
		return json_string(s);
	return json_integer(v);
}

static int spec_disks(json_t *spec, const struct cli_args *a, struct werr *err)
{
	_cleanup_json_ json_t *disks = NULL;
	int r;

	for (size_t i = 0; i < a->n_opts; i++) {
		json_t *disk;

		if (strcmp(a->opts[i].opt->name, "disk") != 0)
			continue;
		if (!disks && !(disks = json_array()))
			return -ENOMEM;
		r = cli_parse_disk(a->opts[i].value, &disk, err);
		if (r < 0)
			return r;
		if (json_array_append_new(disks, disk) < 0 || path_fix(disk, "image", NULL) < 0)
			return -ENOMEM;
	}
	/* The flags replace the file's list as a whole: merging by name could not
	 * express dropping a disk. */
	if (disks && json_object_set(spec, "disks", disks) < 0)
		return -ENOMEM;
	return 0;
}

/* --nic, like --disk: the flags replace the file's NICs as a whole, in
 * command-line order (the daemon names them nic0, nic1, ... in that order
 * when they have no name). */
static int spec_nics(json_t *spec, const struct cli_args *a, struct werr *err)
{
	_cleanup_json_ json_t *nics = NULL;
	int r;

	for (size_t i = 0; i < a->n_opts; i++) {
		json_t *nic;

		if (strcmp(a->opts[i].opt->name, "nic") != 0)
			continue;
		if (!nics && !(nics = json_array()))
			return -ENOMEM;
		r = cli_parse_nic(a->opts[i].value, "--nic", &nic, err);
		if (r < 0)
			return r;
		if (json_array_append_new(nics, nic) < 0)
			return -ENOMEM;
	}
	if (nics && json_object_set(spec, "nics", nics) < 0)
		return -ENOMEM;
	return 0;
}

static int spec_labels(json_t *spec, const struct cli_args *a, struct werr *err)
{
	return cli_labels_set(spec, "labels", a, "label", err);
}

/* The flags of create that set a key of the spec's "resources", each the
 * key with dashes. */
static const char *const resource_flags[] = {"cpu-weight", "cpu-limit", "memory-limit",
					     "memory-reservation", "pin"};

static int spec_resources(json_t *spec, const struct cli_args *a, struct werr *err)
{
	json_t *resources = NULL;
	int r;

	for (size_t i = 0; i < ARRAY_SIZE(resource_flags); i++) {
		const char *v = cli_opt_get(a, resource_flags[i]);
		char key[32], flag[40];
		json_t *value;

		if (!v)
			continue;
		snprintf(key, sizeof(key), "%s", resource_flags[i]);
		for (char *p = key; *p; p++)
			if (*p == '-')
				*p = '_';
		snprintf(flag, sizeof(flag), "--%s", resource_flags[i]);
		r = cli_resource_value(key, false, v, flag, &value, err);
		if (r < 0)
			return r;
		/* Like labels: a flag sets one key and keeps the file's others. */
		if (!resources && !(resources = cli_json_child(spec, "resources"))) {
			json_decref(value);
			return -ENOMEM;
		}
		if (json_object_set_new(resources, key, value) < 0)
			return -ENOMEM;
	}
	return 0;
}

/* The words of --policy and the spec key each sets. */
/* clang-format off */
static const struct {
	const char *name, *key;
} policies[] = {
	{"strict",   "security"},
	{"trusted",  "security"},
	{"balanced", "performance"},
	{"latency",  "performance"},
	{"density",  "performance"},
};
/* clang-format on */

/* --policy P[,P]: at most one word per key. */
static int policy_parse(json_t *spec, const char *s, struct werr *err)
{
	bool seen[ARRAY_SIZE(policies)] = {false};
	const char *p = s;

	for (;;) {
		size_t len = strcspn(p, ","), i;

		for (i = 0; i < ARRAY_SIZE(policies); i++)
			if (strlen(policies[i].name) == len &&
			    strncmp(p, policies[i].name, len) == 0)
				break;
		if (i == ARRAY_SIZE(policies))
			return werr_set(err, -EINVAL, "invalid", "policy",
					"--policy '%s': unknown policy '%.*s' (strict, trusted, "
					"balanced, latency, density)",
					s, (int)len, p);
		for (size_t j = 0; j < ARRAY_SIZE(policies); j++)
			if (seen[j] && strcmp(policies[j].key, policies[i].key) == 0)
				return werr_set(err, -EINVAL, "invalid", policies[i].key,
						"--policy '%s': %s and %s are both %s policies; "
						"give one",
						s, policies[j].name, policies[i].name,
						policies[i].key);
		seen[i] = true;
		if (json_object_set_new(spec, policies[i].key, json_string(policies[i].name)) < 0)
			return -ENOMEM;
		if (p[len] == '\0')
			return 0;
		p += len + 1;
	}
}

/* --security, --performance and --policy in command-line order, so that
 * the last word for a key wins, as with every other flag. The words of
 * --security and --performance go as given: the daemon names the choices. */
static int spec_policies(json_t *spec, const struct cli_args *a, struct werr *err)
{
	int r;

	for (size_t i = 0; i < a->n_opts; i++) {
		const char *name = a->opts[i].opt->name, *v = a->opts[i].value;

		if (strcmp(name, "policy") == 0) {
			r = policy_parse(spec, v, err);
			if (r < 0)
				return r;
		} else if ((strcmp(name, "security") == 0 || strcmp(name, "performance") == 0) &&
			   json_object_set_new(spec, name, json_string(v)) < 0) {
			return -ENOMEM;
		}
	}
	return 0;
}

/* The flags that are repeatable or set keys inside an object of the spec,
 * after the file and the plain keys. */
typedef int spec_merge_fn(json_t *spec, const struct cli_args *a, struct werr *err);

int spec_build(const struct cli_args *a, const char *name, json_t **ret_spec, struct werr *err)
{
	static spec_merge_fn *const merges[] = {spec_disks,	spec_nics,     spec_labels,
						spec_resources, spec_policies, cli_placement_merge};
	static const char *const string_keys[] = {"memory", "cmdline"};
	static const char *const path_keys[] = {"kernel", "initrd"};
	_cleanup_json_ json_t *spec = NULL;
	const char *from = cli_opt_get(a, "from");
	const char *v;
	int r;

	if (from) {
		r = spec_load(from, &spec, err);
		if (r < 0)
			return r;
	} else if (!(spec = json_object())) {
		return -ENOMEM;
	}
	if (name && json_object_set_new(spec, "name", json_string(name)) < 0)
		return -ENOMEM;
	if (!json_is_string(json_object_get(spec, "name"))) {
		if (from)
			return werr_set(err, -EINVAL, "invalid", "name",
					"no NAME given and %s has no \"name\"", from);
		return werr_set(err, -EINVAL, "invalid", "name", "missing NAME");
	}
	if ((v = cli_opt_get(a, "cpus")) && json_object_set_new(spec, "cpus", cpus_json(v)) < 0)
		return -ENOMEM;
	for (size_t i = 0; i < ARRAY_SIZE(string_keys); i++)
		if ((v = cli_opt_get(a, string_keys[i])) &&
		    json_object_set_new(spec, string_keys[i], json_string(v)) < 0)
			return -ENOMEM;
	for (size_t i = 0; i < ARRAY_SIZE(path_keys); i++)
		if ((v = cli_opt_get(a, path_keys[i])) &&
		    json_object_set_new(spec, path_keys[i], path_json(v, NULL)) < 0)
			return -ENOMEM;
	if (cli_opt_has(a, "no-serial") && json_object_set_new(spec, "serial", json_false()) < 0)
		return -ENOMEM;
	for (size_t i = 0; i < ARRAY_SIZE(merges); i++) {
		r = merges[i](spec, a, err);
		if (r < 0)
			return r;
	}
	*ret_spec = TAKE_PTR(spec);
	return 0;
}
