/*
 * cmd_migrate: moving a VM to another warrend (migrate) and the
 * migrations this warrend takes part in (migration list).
 *
 * A migration is an operation of the source daemon: the command asks the
 * daemon it talks to, which drives the destination itself, and waits
 * (operation.c) with the progress shown and Ctrl-C cancelling, as for a
 * clone. The client never talks to the destination.
 */
#include "cli/cli.h"

int cmd_migrate(struct cli *c)
{
	_cleanup_json_ json_t *body = NULL;
	_cleanup_free_ char *path = NULL;
	struct werr err = {0};
	int r;

	r = cli_migrate_body(&c->args, &body, &err);
	if (r < 0)
		return r == -ENOMEM ? cli_fail(&err) : cli_usage_error(c, "%s", err.message);
	path = api_vm_path(c->args.pos[0], "/migrate");
	if (!path)
		return cli_fail(&err);
	return cli_op_request(c, path, body, "migration", view_migration_result);
}

int cmd_migration_list(struct cli *c)
{
	return cli_request_print(c, "GET", "/v1/migrations", view_migration_list);
}
