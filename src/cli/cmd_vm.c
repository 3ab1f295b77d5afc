/*
 * cmd_vm: the commands on VMs as a whole: create, list, show, set, delete
 * and the lifecycle actions, and start's wait for a guest that answers.
 *
 * Each is one REST call; shutdown and suspend add the wait on their
 * operation (operation.c), and start --wait-ready adds polls of exec until
 * the guest agent answers.
 */
#include <string.h>
#include <time.h>

#include "cli/cli.h"

#define READY_TIMEOUT_DEFAULT 60
/* exec "true" must answer well within this once the agent runs. */
#define READY_PROBE_SECONDS 2

int cmd_create(struct cli *c)
{
	_cleanup_json_ json_t *spec = NULL, *vm = NULL;
	struct werr err = {0};
	int r;

	r = spec_build(&c->args, c->args.n_pos ? c->args.pos[0] : NULL, &spec, &err);
	if (r < 0)
		return r == -ENOMEM ? cli_fail(&err) : cli_usage_error(c, "%s", err.message);
	if (api_call(c, "POST", "/v1/vms", spec, NULL, &vm, &err) < 0)
		return cli_fail(&err);
	return cli_print(c, vm, view_vm_created);
}

int cmd_list(struct cli *c)
{
	const char *path = cli_opt_has(&c->args, "local") ? "/v1/vms?local=true" : "/v1/vms";

	return cli_request_print(c, "GET", path, view_vm_list);
}

/* A request on the VM named by the first operand. */
static int vm_request(struct cli *c, const char *method, const char *suffix,
		      void (*table_fn)(FILE *f, json_t *data))
{
	_cleanup_free_ char *path = api_vm_path(c->args.pos[0], suffix);

	if (!path)
		return cli_fail(&(struct werr){.message = "out of memory"});
	return cli_request_print(c, method, path, table_fn);
}

int cmd_show(struct cli *c)
{
	return vm_request(c, "GET", "", view_vm_show);
}

/* One PATCH of every KEY=VALUE given; the daemon applies it to a running
 * VM at once, so there is nothing to wait for. */
int cmd_set(struct cli *c)
{
	_cleanup_json_ json_t *body = NULL, *vm = NULL;
	_cleanup_free_ char *path = NULL;
	struct werr err = {0};
	int r;

	r = cli_patch_build(c->args.pos + 1, c->args.n_pos - 1, &body, &err);
	if (r < 0)
		return r == -ENOMEM ? cli_fail(&err) : cli_usage_error(c, "%s", err.message);
	path = api_vm_path(c->args.pos[0], "");
	if (!path)
		return cli_fail(&err);
	if (api_call(c, "PATCH", path, body, NULL, &vm, &err) < 0)
		return cli_fail(&err);
	return cli_print(c, vm, view_vm_show);
}

int cmd_delete(struct cli *c)
{
	return vm_request(c, "DELETE", cli_opt_has(&c->args, "force") ? "?force=true" : "",
			  view_deleted);
}

static void sleep_ms(uint64_t ms)
{
	struct timespec ts = {.tv_sec = (time_t)(ms / 1000),
			      .tv_nsec = (long)(ms % 1000) * 1000000};

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/*
 * Until "true" runs in the guest: the guest agent is the last thing the
 * guest starts, so its answer is the readiness that callers care about.
 * Conflicts and timeouts while the guest boots are expected and retried;
 * a VM that disappears or a daemon that goes away ends the wait.
 */
static int wait_ready(const struct cli *c, const char *name, uint64_t timeout_s, struct werr *err)
{
	uint64_t deadline = now_monotonic_ns() + timeout_s * 1000000000ULL;
	_cleanup_json_ json_t *cmd = json_pack("[s]", "true");
	const uint64_t probe = READY_PROBE_SECONDS;
	char last[sizeof(err->message)] = "no answer yet";

	if (!cmd)
		return werr_set(err, -ENOMEM, "internal", "", "out of memory");
	for (;;) {
		_cleanup_json_ json_t *result = NULL;
		uint64_t now;
		int r;

		r = exec_call(c, name, cmd, &probe, &result, err);
		if (r >= 0) {
			json_int_t code = json_integer_value(json_object_get(result, "exit_code"));
			if (code == 0)
				return 0;
			snprintf(last, sizeof(last), "true exited with %" JSON_INTEGER_FORMAT,
				 code);
		} else if (r == -ECONNREFUSED || strcmp(err->code, "not_found") == 0) {
			return r;
		} else {
			snprintf(last, sizeof(last), "%s", err->message);
		}
		now = now_monotonic_ns();
		if (now >= deadline)
			return werr_set(err, -ETIMEDOUT, "timeout", "",
					"%s was not ready within %llu s (last: %s)", name,
					(unsigned long long)timeout_s, last);
		sleep_ms((deadline - now) / 1000000 < 1000 ? (deadline - now) / 1000000 : 1000);
	}
}

/* The body of an action; NULL when it takes none. -EINVAL after a usage
 * error was printed. */
static int action_body(struct cli *c, bool shutdown, json_t **ret)
{
	const char *mode = cli_opt_get(&c->args, "mode");
	uint64_t timeout;
	json_t *body;

	if (!shutdown) {
		*ret = NULL;
		return 0;
	}
	if (mode && strcmp(mode, "acpi") != 0 && strcmp(mode, "agent") != 0) {
		cli_usage_error(c, "--mode must be acpi or agent, not '%s'", mode);
		return -EINVAL;
	}
	if (cli_opt_seconds(c, "timeout", &timeout) < 0)
		return -EINVAL;
	body = json_object();
	if (!body)
		return -ENOMEM;
	/* Only what was given: the daemon owns the defaults. */
	if ((cli_opt_has(&c->args, "timeout") &&
	     json_object_set_new(body, "timeout", json_integer((json_int_t)timeout)) < 0) ||
	    (mode && json_object_set_new(body, "mode", json_string(mode)) < 0)) {
		json_decref(body);
		return -ENOMEM;
	}
	*ret = body;
	return 0;
}

int cmd_action(struct cli *c)
{
	const char *action = c->cmd->name, *name = c->args.pos[0];
	bool shutdown = strcmp(action, "shutdown") == 0;
	bool wait_ready_opt = cli_opt_has(&c->args, "wait-ready");
	uint64_t ready_timeout = READY_TIMEOUT_DEFAULT;
	_cleanup_json_ json_t *body = NULL, *reply = NULL;
	_cleanup_free_ char *suffix = NULL, *path = NULL;
	struct werr err = {0};
	long status = 0;
	int r;

	r = action_body(c, shutdown, &body);
	if (r < 0)
		return r == -ENOMEM ? cli_fail(&err) : CLI_EXIT_USAGE;
	if (!shutdown && cli_opt_has(&c->args, "timeout")) {
		if (!wait_ready_opt)
			return cli_usage_error(c, "--timeout goes with --wait-ready");
		if (cli_opt_seconds(c, "timeout", &ready_timeout) < 0)
			return CLI_EXIT_USAGE;
	}
	if (asprintf(&suffix, "/actions/%s", action) < 0 || !(path = api_vm_path(name, suffix)))
		return cli_fail(&err);
	if (api_call(c, "POST", path, body, &status, &reply, &err) < 0)
		return cli_fail(&err);
	if (status != 202) {
		if (wait_ready_opt && wait_ready(c, name, ready_timeout, &err) < 0)
			return cli_fail(&err);
		return cli_print(c, reply, view_vm_state);
	}
	return cli_op_print(c, reply, NULL, view_operation_line);
}
