/*
 * cmd_vm: the commands on VMs as a whole: create, list, show, delete and
 * the lifecycle actions, including the wait on a long action's operation
 * and start's wait for a guest that answers.
 *
 * Each is one REST call; shutdown adds the wait on its operation, and
 * start --wait-ready adds polls of exec until the guest agent answers.
 */
#include <string.h>
#include <time.h>

#include "cli/cli.h"

/* How long one operation poll may be held open by warrend. */
#define OP_WAIT_SECONDS	      5
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
	return cli_print(c, vm, view_vm_show);
}

int cmd_list(struct cli *c)
{
	return cli_request_print(c, "GET", "/v1/vms", view_vm_list);
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

static void print_deleted(FILE *f, json_t *reply)
{
	const char *name = json_string_value(json_object_get(reply, "name"));

	fprintf(f, "%s: deleted\n", name ? name : "?");
}

int cmd_delete(struct cli *c)
{
	return vm_request(c, "DELETE", cli_opt_has(&c->args, "force") ? "?force=true" : "",
			  print_deleted);
}

/* "web1: running" */
static void print_state(FILE *f, json_t *vm)
{
	const char *name = json_string_value(json_object_get(vm, "name"));
	const char *state = json_string_value(json_object_get(vm, "state"));

	fprintf(f, "%s: %s\n", name ? name : "?", state ? state : "?");
}

/* A finished operation: shutdown's success is the VM having stopped. */
static void print_operation(FILE *f, json_t *op)
{
	const char *vm = json_string_value(json_object_get(op, "vm"));
	const char *action = json_string_value(json_object_get(op, "action"));
	const char *status = json_string_value(json_object_get(op, "status"));
	const char *id = json_string_value(json_object_get(op, "id"));

	if (status && strcmp(status, "running") == 0)
		fprintf(f, "%s: %s running as operation %s\n", vm ? vm : "?",
			action ? action : "action", id ? id : "?");
	else if (action && strcmp(action, "shutdown") == 0)
		fprintf(f, "%s: stopped\n", vm ? vm : "?");
	else
		fprintf(f, "%s: %s %s\n", vm ? vm : "?", action ? action : "action",
			status ? status : "finished");
}

/* GET /v1/operations/ID answers the operation itself; the 202 of an action
 * wraps it as {"operation": op}. */
static json_t *op_unwrap(json_t *reply)
{
	json_t *op = json_object_get(reply, "operation");

	return json_incref(json_is_object(op) ? op : reply);
}

/* Poll the operation until it is no longer running; each poll is held
 * open by warrend up to OP_WAIT_SECONDS, so this does not spin. Progress
 * goes to a terminal only, to keep logs of scripts clean. */
static int op_wait(const struct cli *c, json_t *first, json_t **ret_op, struct werr *err)
{
	_cleanup_json_ json_t *op = op_unwrap(first);
	_cleanup_free_ char *shown = NULL;
	bool tty = isatty(STDERR_FILENO);

	for (;;) {
		const char *status = json_string_value(json_object_get(op, "status"));
		const char *message = json_string_value(json_object_get(op, "message"));
		const char *id = json_string_value(json_object_get(op, "id"));
		_cleanup_curl_free_ char *esc = NULL;
		_cleanup_free_ char *path = NULL;
		_cleanup_json_ json_t *reply = NULL;

		if (tty && message && *message && (!shown || strcmp(shown, message) != 0)) {
			fprintf(stderr, "%s: %s\n",
				json_string_value(json_object_get(op, "vm")) ?: "?", message);
			free(shown);
			shown = strdup(message);
		}
		if (!status || strcmp(status, "running") != 0)
			break;
		if (!id)
			return werr_set(err, -EBADMSG, "internal", "",
					"warrend sent an operation without an id");
		esc = api_escape(id);
		if (!esc || asprintf(&path, "/v1/operations/%s?wait=%d", esc, OP_WAIT_SECONDS) < 0)
			return werr_set(err, -ENOMEM, "internal", "", "out of memory");
		if (api_call(c, "GET", path, NULL, NULL, &reply, err) < 0)
			return -EIO;
		json_decref(op);
		op = op_unwrap(reply);
	}
	*ret_op = TAKE_PTR(op);
	return 0;
}

static int op_failed(json_t *op, struct werr *err)
{
	json_t *e = json_object_get(op, "error");
	const char *message = json_string_value(json_object_get(e, "message"));
	const char *field = json_string_value(json_object_get(e, "field"));
	const char *code = json_string_value(json_object_get(e, "code"));

	if (!message)
		message = json_string_value(json_object_get(op, "message"));
	return werr_set(err, -EIO, code ? code : "internal", field, "%s",
			message && *message ? message : "the operation failed");
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
	_cleanup_json_ json_t *body = NULL, *reply = NULL, *op = NULL;
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
		return cli_print(c, reply, print_state);
	}
	if (cli_opt_has(&c->args, "no-wait")) {
		op = op_unwrap(reply);
		return cli_print(c, op, print_operation);
	}
	if (op_wait(c, reply, &op, &err) < 0)
		return cli_fail(&err);
	if (strcmp(json_string_value(json_object_get(op, "status")) ?: "", "failed") == 0) {
		op_failed(op, &err);
		return cli_fail(&err);
	}
	return cli_print(c, op, print_operation);
}
