/*
 * cmd_exec: run a command in the guest through warrend (which uses the
 * QEMU guest agent) and behave like that command: its output on our
 * stdout and stderr, its status as our exit status.
 */
#include <string.h>

#include "cli/cli.h"

int exec_call(const struct cli *c, const char *name, json_t *command, const uint64_t *timeout_s,
	      json_t **ret_result, struct werr *err)
{
	_cleanup_free_ char *path = api_vm_path(name, "/exec");
	_cleanup_json_ json_t *body = json_object();

	if (!path || !body || json_object_set(body, "command", command) < 0 ||
	    (timeout_s &&
	     json_object_set_new(body, "timeout", json_integer((json_int_t)*timeout_s)) < 0))
		return werr_set(err, -ENOMEM, "internal", "", "out of memory");
	return api_call(c, "POST", path, body, NULL, ret_result, err);
}

/* The guest's status as a shell reports it: 128+N for a signal. */
static int exit_status(json_t *result)
{
	json_t *sig = json_object_get(result, "signal");
	json_int_t code = json_integer_value(json_object_get(result, "exit_code"));

	if (json_is_integer(sig) && json_integer_value(sig) > 0)
		return 128 + (int)(json_integer_value(sig) & 0x7f);
	return (int)(code & 0xff);
}

static void write_stream(FILE *f, json_t *s)
{
	/* json_string_length: the output may hold NUL bytes. */
	if (json_is_string(s))
		fwrite(json_string_value(s), 1, json_string_length(s), f);
}

int cmd_exec(struct cli *c)
{
	_cleanup_json_ json_t *command = json_array(), *result = NULL;
	struct werr err = {0};
	uint64_t timeout;

	if (cli_opt_seconds(c, "timeout", &timeout) < 0)
		return CLI_EXIT_USAGE;
	if (c->args.n_pos < 2)
		return cli_usage_error(c, "missing the command to run (after --)");
	if (!command)
		return cli_fail(&err);
	for (size_t i = 1; i < c->args.n_pos; i++)
		if (json_array_append_new(command, json_string(c->args.pos[i])) < 0)
			return cli_fail(&err);
	if (exec_call(c, c->args.pos[0], command,
		      cli_opt_has(&c->args, "timeout") ? &timeout : NULL, &result, &err) < 0)
		return cli_fail(&err);
	if (!json_is_integer(json_object_get(result, "exit_code")) &&
	    !json_is_integer(json_object_get(result, "signal"))) {
		werr_set(&err, -EBADMSG, "internal", "", "warrend's exec answer has no exit_code");
		return cli_fail(&err);
	}
	if (c->format != CLI_FORMAT_TABLE) {
		cli_print(c, result, NULL);
	} else {
		write_stream(stdout, json_object_get(result, "stdout"));
		fflush(stdout);
		write_stream(stderr, json_object_get(result, "stderr"));
	}
	return exit_status(result);
}
