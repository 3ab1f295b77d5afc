/*
 * cgdetect: which cgroup version this host runs, and where.
 *
 * The answer comes from mountinfo rather than from a fixed path, because
 * hosts differ: pure v2 at /sys/fs/cgroup, v1 hierarchies one per
 * controller, or both at once (a "hybrid" host whose cgroup2 mount at
 * /sys/fs/cgroup/unified carries no controllers). A cgroup2 mount counts
 * only when its cgroup.controllers offers cpu and memory, which is what
 * tells a hybrid host from a v2 one.
 */
#include <string.h>

#include "host/host.h"
#include "host/host-private.h"
#include "util/util.h"

/* The v1 controllers a VM's group lives under, and their place in
 * struct cg_root. */
static const struct {
	const char *controller;
	size_t offset;
} v1_controllers[] = {
	{"cpu", offsetof(struct cg_root, cpu)},
	{"cpuacct", offsetof(struct cg_root, cpuacct)},
	{"cpuset", offsetof(struct cg_root, cpuset)},
	{"memory", offsetof(struct cg_root, memory)},
	{"blkio", offsetof(struct cg_root, blkio)},
};

/* mountinfo escapes space, tab, newline and backslash as \ooo. */
static void unescape(char *s)
{
	char *out = s;

	for (char *p = s; *p; p++) {
		if (p[0] == '\\' && p[1] >= '0' && p[1] <= '3' && p[2] >= '0' && p[2] <= '7' &&
		    p[3] >= '0' && p[3] <= '7') {
			*out++ = (char)((p[1] - '0') * 64 + (p[2] - '0') * 8 + (p[3] - '0'));
			p += 3;
		} else {
			*out++ = *p;
		}
	}
	*out = '\0';
}

/* Split one mountinfo line into mount point, file system type and super
 * options. -EBADMSG when it has not the documented shape. */
static int mountinfo_fields(char *line, char **ret_point, char **ret_type, char **ret_opts)
{
	char *field[6], *sep, *save = NULL, *type, *opts;
	char *s = line;

	sep = strstr(line, " - ");
	if (!sep)
		return -EBADMSG;
	*sep = '\0';
	for (size_t i = 0; i < ARRAY_SIZE(field); i++) {
		field[i] = strtok_r(s, " ", &save);
		s = NULL;
		if (!field[i])
			return -EBADMSG;
	}
	save = NULL;
	type = strtok_r(sep + 3, " \n", &save);
	if (!type || !strtok_r(NULL, " \n", &save)) /* the source */
		return -EBADMSG;
	opts = strtok_r(NULL, " \n", &save);
	if (!opts)
		return -EBADMSG;
	unescape(field[4]);
	*ret_point = field[4];
	*ret_type = type;
	*ret_opts = opts;
	return 0;
}

static int unified_has_controllers(const char *point)
{
	char path[CG_PATH_MAX + 32], buf[512];
	int r;

	r = host_path(path, sizeof(path), "%s/cgroup.controllers", point);
	if (r < 0)
		return r;
	r = host_read_text(path, buf, sizeof(buf));
	if (r < 0)
		return 0; /* not readable: no use to us */
	return host_has_token(buf, " \t\n", "cpu") && host_has_token(buf, " \t\n", "memory");
}

static int copy_point(char *dst, const char *point)
{
	size_t n = strlen(point);

	if (n >= CG_PATH_MAX)
		return -ENAMETOOLONG;
	memcpy(dst, point, n + 1);
	return 0;
}

struct detect {
	struct cg_root v1, v2; /* v2.version is set once a usable cgroup2 is found */
};

static int mount_line(char *line, void *userdata)
{
	struct detect *d = userdata;
	char *point, *type, *opts;
	int r;

	if (mountinfo_fields(line, &point, &type, &opts) < 0)
		return 0;
	if (strcmp(type, "cgroup2") == 0) {
		r = unified_has_controllers(point);
		if (r <= 0)
			return r;
		d->v2.version = CG_V2;
		r = copy_point(d->v2.unified, point);
		return r < 0 ? r : 1; /* v2 wins: stop here */
	}
	if (strcmp(type, "cgroup") != 0)
		return 0;
	for (size_t i = 0; i < ARRAY_SIZE(v1_controllers); i++) {
		char *dst = (char *)&d->v1 + v1_controllers[i].offset;
		if (*dst || !host_has_token(opts, ",", v1_controllers[i].controller))
			continue;
		r = copy_point(dst, point);
		if (r < 0)
			return r;
	}
	return 0;
}

int cg_detect(const char *mountinfo_path, struct cg_root *ret)
{
	struct detect d = {.v1 = {.version = CG_V1}, .v2 = {.version = CG_NONE}};
	int r;

	r = host_each_line(mountinfo_path, mount_line, &d);
	if (r < 0)
		return r;
	if (d.v2.version == CG_V2)
		*ret = d.v2;
	else if (d.v1.cpu[0] && d.v1.memory[0])
		*ret = d.v1;
	else
		*ret = (struct cg_root){.version = CG_NONE};
	return 0;
}
