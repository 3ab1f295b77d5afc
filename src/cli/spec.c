/*
 * spec: the body of "warren create" from a --from file and the flags.
 *
 * The client does not validate the spec: the daemon does, and names the
 * offending field. What the client must do is what only it can: read the
 * file, and make relative paths absolute, since they mean nothing in the
 * daemon's working directory.
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

static int spec_labels(json_t *spec, const struct cli_args *a, struct werr *err)
{
	json_t *labels = json_object_get(spec, "labels");
	int r;

	for (size_t i = 0; i < a->n_opts; i++) {
		_cleanup_free_ char *key = NULL;
		const char *value;

		if (strcmp(a->opts[i].opt->name, "label") != 0)
			continue;
		r = cli_parse_label(a->opts[i].value, &key, &value, err);
		if (r < 0)
			return r;
		/* Labels are a map: a flag sets one key and keeps the file's others. */
		if (!json_is_object(labels)) {
			labels = json_object();
			if (json_object_set_new(spec, "labels", labels) < 0)
				return -ENOMEM;
		}
		if (json_object_set_new(labels, key, json_string(value)) < 0)
			return -ENOMEM;
	}
	return 0;
}

int spec_build(const struct cli_args *a, const char *name, json_t **ret_spec, struct werr *err)
{
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
	r = spec_disks(spec, a, err);
	if (r < 0)
		return r;
	r = spec_labels(spec, a, err);
	if (r < 0)
		return r;
	*ret_spec = TAKE_PTR(spec);
	return 0;
}
