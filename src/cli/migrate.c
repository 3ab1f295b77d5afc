/*
 * migrate: the body of "warren migrate" (POST /v1/vms/NAME/migrate) from
 * its options.
 *
 * As elsewhere only the form is checked here, before any request: that the
 * destination is given, that --live and --offline are not both given, that
 * --storage names a storage mode, and that --max-downtime and --bandwidth
 * read as a duration and a size. Whether the destination answers, the VM
 * can move in that mode and the values lie in QEMU's ranges is the
 * daemon's to judge. Options left out are left out of the body too: the
 * defaults (live for a running VM, shared storage when the destination
 * sees the disks, auto-converge on) depend on the VM and the two daemons,
 * which only the source daemon knows.
 */
#include <limits.h>
#include <string.h>

#include "cli/cli.h"

/* "unix:" followed by the path of a Unix socket. */
#define UNIX_PREFIX "unix:"

/*
 * The destination as the daemon must read it. A socket path given
 * relative ("b.sock" after "unix:", or anything with a "/" that is not
 * absolute and not a URL) means nothing in the daemon's working
 * directory, so it is made absolute, as create does with its files, when
 * it names something that exists. Bare words (a cluster member's name)
 * and URLs (http://HOST:PORT, a warrend's TCP listener) go as written.
 */
static json_t *dest_json(const char *dest)
{
	bool unix_form = strncmp(dest, UNIX_PREFIX, strlen(UNIX_PREFIX)) == 0;
	const char *path = unix_form ? dest + strlen(UNIX_PREFIX) : dest;
	_cleanup_free_ char *joined = NULL;
	char real[PATH_MAX];

	if (path[0] == '/' || strstr(dest, "://") || (!unix_form && !strchr(dest, '/')) ||
	    !realpath(path, real))
		return json_string(dest);
	if (asprintf(&joined, "%s%s", unix_form ? UNIX_PREFIX : "", real) < 0)
		return NULL;
	return json_string(joined);
}

/* --max-downtime: "300ms", "2s", "1s500ms" or a bare number of
 * milliseconds (unlike the other durations, where a bare number means
 * seconds: downtimes are thought of in milliseconds). */
static int downtime_parse(const char *s, uint64_t *ret_ms)
{
	if (cli_parse_uint(s, UINT64_MAX, ret_ms) == 0)
		return 0;
	return cli_parse_duration_ms(s, ret_ms);
}

int cli_migrate_body(const struct cli_args *a, json_t **ret_body, struct werr *err)
{
	static const char *const storages[] = {"shared", "copy"};
	const char *to = cli_opt_get(a, "to");
	const char *storage = cli_opt_get(a, "storage");
	const char *downtime = cli_opt_get(a, "max-downtime");
	const char *bandwidth = cli_opt_get(a, "bandwidth");
	bool live = cli_opt_has(a, "live"), offline = cli_opt_has(a, "offline");
	_cleanup_json_ json_t *body = json_object();
	uint64_t v;
	int r;

	if (!body)
		return -ENOMEM;
	if (!to)
		return werr_set(err, -EINVAL, "invalid", "to",
				"missing --to DEST, the warrend to move the VM to "
				"(unix:PATH, PATH, http://HOST:PORT or a cluster member)");
	if (!*to)
		return werr_set(err, -EINVAL, "invalid", "to", "--to needs a destination");
	r = cli_json_set(body, "to", dest_json(to));
	if (r < 0)
		return r;

	if (live && offline)
		return werr_set(err, -EINVAL, "invalid", "mode",
				"--live and --offline exclude each other");
	if (live || offline) {
		r = cli_json_set(body, "mode", json_string(live ? "live" : "offline"));
		if (r < 0)
			return r;
	}

	if (storage) {
		size_t i;

		for (i = 0; i < ARRAY_SIZE(storages); i++)
			if (strcmp(storage, storages[i]) == 0)
				break;
		if (i == ARRAY_SIZE(storages))
			return werr_set(err, -EINVAL, "invalid", "storage",
					"--storage takes shared or copy, not '%s'", storage);
		if ((r = cli_json_set(body, "storage", json_string(storage))) < 0)
			return r;
	}

	/* Zero is refused: QEMU would take it as "never stop the guest long
	 * enough to switch over" and the migration would not end. */
	if (downtime) {
		if (downtime_parse(downtime, &v) < 0 || v == 0 || v > INT64_MAX)
			return werr_set(err, -EINVAL, "invalid", "max_downtime_ms",
					"--max-downtime takes a duration like 300ms or 2s (a bare "
					"number is milliseconds), not '%s'",
					downtime);
		if ((r = cli_json_set(body, "max_downtime_ms", json_integer((json_int_t)v))) < 0)
			return r;
	}

	/* Zero would stall the transfer rather than lift the limit. */
	if (bandwidth) {
		if (size_parse(bandwidth, &v) < 0 || v == 0 || v > INT64_MAX)
			return werr_set(err, -EINVAL, "invalid", "bandwidth",
					"--bandwidth takes bytes per second as a size like 100M or "
					"1G, not '%s'",
					bandwidth);
		if ((r = cli_json_set(body, "bandwidth", json_integer((json_int_t)v))) < 0)
			return r;
	}

	if (cli_opt_has(a, "no-auto-converge") &&
	    (r = cli_json_set(body, "auto_converge", json_false())) < 0)
		return r;

	*ret_body = TAKE_PTR(body);
	return 0;
}
