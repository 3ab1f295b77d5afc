/*
 * cmd_cluster: the commands on the cluster a warrend belongs to (cluster
 * init, join, show, members, remove, evacuate, rebalance and config).
 *
 * cluster.c builds each command's request; here it is sent and its answer
 * printed. An evacuation and a rebalance that is not a dry run are
 * operations of the member warren talks to, which moves the VMs itself:
 * the command waits on it (operation.c) as migrate does, with the progress
 * shown and Ctrl-C cancelling, and prints the moves it made.
 */
#include <string.h>

#include "cli/cli.h"

/*
 * What a command prints of its answer: the config of GET /v1/cluster for
 * "cluster config" without options (a PUT answers the config itself), and
 * for a removal, which answers 204 without a body, the member's name.
 */
static int cluster_answer(const char *verb, const char *method, const struct cli *c, json_t **reply,
			  struct werr *err)
{
	json_t *config = json_object_get(*reply, "config");

	if (strcmp(verb, "remove") == 0 && !*reply) {
		*reply = json_pack("{s:s, s:b}", "name", c->args.pos[0], "removed", true);
		if (!*reply)
			return werr_set(err, -ENOMEM, "internal", "", "out of memory");
	} else if (strcmp(verb, "config") == 0 && strcmp(method, "GET") == 0) {
		if (!json_is_object(config))
			return werr_set(err, -ENOENT, "not_found", "",
					"this warrend is not in a cluster (see 'warren cluster "
					"init')");
		json_incref(config);
		json_decref(*reply);
		*reply = config;
	}
	return 0;
}

int cmd_cluster(struct cli *c)
{
	const char *verb = c->cmd->name + strlen("cluster ");
	_cleanup_(cli_request_clear) struct cli_request req = {0};
	_cleanup_json_ json_t *reply = NULL;
	struct werr err = {0};
	int r;

	r = cli_cluster_request(verb, &c->args, &req, &err);
	if (r < 0)
		return r == -ENOMEM ? cli_fail(&err) : cli_usage_error(c, "%s", err.message);
	if (req.operation)
		return cli_op_request(c, req.path, req.body, "", req.table_fn);
	if (api_call(c, req.method, req.path, req.body, NULL, &reply, &err) < 0 ||
	    cluster_answer(verb, req.method, c, &reply, &err) < 0)
		return cli_fail(&err);
	return cli_print(c, reply, req.table_fn);
}
