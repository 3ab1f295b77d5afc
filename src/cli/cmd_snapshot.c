/*
 * cmd_snapshot: snapshots of a VM (create, list, show, restore, delete)
 * and clones of a VM.
 *
 * Taking, restoring and cloning are operations in warrend: they copy or
 * save gigabytes while the command waits (operation.c), showing progress,
 * and print what the operation made: the snapshot, or the VM.
 */
#include <string.h>

#include "cli/cli.h"

/* "/v1/vms/<VM>/snapshots[/<SNAP>]<suffix>" from the operands VM [SNAP]. */
static char *snapshot_path(const struct cli *c, const char *suffix)
{
	_cleanup_curl_free_ char *snap = c->args.n_pos > 1 ? api_escape(c->args.pos[1]) : NULL;
	_cleanup_free_ char *rest = NULL;

	if ((c->args.n_pos > 1 && !snap) ||
	    asprintf(&rest, "/snapshots%s%s%s", snap ? "/" : "", snap ? snap : "", suffix) < 0)
		return NULL;
	return api_vm_path(c->args.pos[0], rest);
}

static int snapshot_request(struct cli *c, const char *method,
			    void (*table_fn)(FILE *f, json_t *data))
{
	_cleanup_free_ char *path = snapshot_path(c, "");

	if (!path)
		return cli_fail(&(struct werr){.message = "out of memory"});
	return cli_request_print(c, method, path, table_fn);
}

int cmd_snapshot_create(struct cli *c)
{
	bool memory = cli_opt_has(&c->args, "memory");
	bool no_memory = cli_opt_has(&c->args, "no-memory");
	_cleanup_json_ json_t *body = json_pack("{s:s}", "name", c->args.pos[1]);
	_cleanup_free_ char *path = NULL;
	struct werr err = {0};

	if (memory && no_memory)
		return cli_usage_error(c, "--memory and --no-memory exclude each other");
	/* Neither: warrend saves memory when the guest runs or is paused. */
	if (!body || ((memory || no_memory) &&
		      json_object_set_new(body, "memory", json_boolean(memory)) < 0))
		return cli_fail(&err);
	/* The path names no snapshot: that one is in the body. */
	path = api_vm_path(c->args.pos[0], "/snapshots");
	if (!path)
		return cli_fail(&err);
	return cli_op_request(c, path, body, "snapshot", view_snapshot_show);
}

int cmd_snapshot_list(struct cli *c)
{
	return snapshot_request(c, "GET", view_snapshot_list);
}

int cmd_snapshot_show(struct cli *c)
{
	return snapshot_request(c, "GET", view_snapshot_show);
}

int cmd_snapshot_delete(struct cli *c)
{
	return snapshot_request(c, "DELETE", view_deleted);
}

int cmd_snapshot_restore(struct cli *c)
{
	_cleanup_free_ char *path = snapshot_path(c, "/restore");
	struct werr err = {0};

	if (!path)
		return cli_fail(&err);
	return cli_op_request(c, path, NULL, "vm", view_vm_state);
}

int cmd_clone(struct cli *c)
{
	const char *snapshot = cli_opt_get(&c->args, "from-snapshot");
	_cleanup_free_ char *path = api_vm_path(c->args.pos[0], "/clone");
	_cleanup_json_ json_t *body = json_pack("{s:s, s:b}", "name", c->args.pos[1], "linked",
						cli_opt_has(&c->args, "linked"));
	struct werr err = {0};

	if (snapshot && !*snapshot)
		return cli_usage_error(c, "--from-snapshot needs a snapshot name");
	if (!path || !body ||
	    (snapshot && json_object_set_new(body, "snapshot", json_string(snapshot)) < 0))
		return cli_fail(&err);
	return cli_op_request(c, path, body, "vm", view_vm_show);
}
