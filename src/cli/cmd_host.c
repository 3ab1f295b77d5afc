/*
 * cmd_host: what the host offers (host info) and which versions of the
 * client and the daemon are talking (version).
 */
#include "cli/cli.h"

int cmd_host_info(struct cli *c)
{
	return cli_request_print(c, "GET", "/v1/host", view_host);
}

static void print_versions(FILE *f, json_t *v)
{
	const char *daemon = json_string_value(json_object_get(v, "daemon"));

	fprintf(f, "warren %s\n", json_string_value(json_object_get(v, "cli")));
	if (daemon)
		fprintf(f, "warrend %s\n", daemon);
}

/* Succeeds without a daemon: the client's version is worth knowing most
 * when the daemon cannot be reached. */
int cmd_version(struct cli *c)
{
	_cleanup_json_ json_t *host = NULL, *out = NULL;
	struct werr err = {0};
	json_t *daemon = NULL;

	if (api_call(c, "GET", "/v1/host", NULL, NULL, &host, &err) < 0)
		fprintf(stderr, "warren: %s\n", err.message);
	else
		daemon = json_object_get(host, "version");
	out = json_pack("{s:s, s:O}", "cli", WARREN_VERSION, "daemon",
			json_is_string(daemon) ? daemon : json_null());
	if (!out)
		return cli_fail(&err);
	return cli_print(c, out, print_versions);
}
