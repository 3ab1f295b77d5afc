/*
 * routes: the route table of the API and its handlers. A handler only
 * turns the call's parameters, query and body into the arguments of one
 * daemon_* call; routing, body parsing and the reply are done around it
 * (server.c, reply.c). docs/openapi.yaml documents this table and
 * warren-routes prints it for the test that keeps the two in step.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <event2/http.h>

#include "api/api.h"

static void host_get(struct api_call *c)
{
	daemon_host_get(c->daemon, &c->reply);
}

static void vm_list(struct api_call *c)
{
	struct werr err;
	bool local;

	if (api_query_bool(c, "local", false, &local, &err) < 0) {
		reply_error(&c->reply, &err);
		return;
	}
	daemon_vm_list(c->daemon, &c->caller, local, &c->reply);
}

static void vm_create(struct api_call *c)
{
	daemon_vm_create(c->daemon, &c->caller, c->body, &c->reply);
}

static void vm_get(struct api_call *c)
{
	daemon_vm_get(c->daemon, api_param(c, "name"), &c->reply);
}

static void vm_patch(struct api_call *c)
{
	daemon_vm_patch(c->daemon, &c->caller, api_param(c, "name"), c->body, &c->reply);
}

static void vm_delete(struct api_call *c)
{
	struct werr err;
	bool force;

	if (api_query_bool(c, "force", false, &force, &err) < 0) {
		reply_error(&c->reply, &err);
		return;
	}
	daemon_vm_delete(c->daemon, &c->caller, api_param(c, "name"), force, &c->reply);
}

static void vm_action(struct api_call *c)
{
	daemon_vm_action(c->daemon, &c->caller, api_param(c, "name"), api_param(c, "action"),
			 c->body, &c->reply);
}

static void vm_exec(struct api_call *c)
{
	daemon_vm_exec(c->daemon, &c->caller, api_param(c, "name"), c->body, &c->reply);
}

static void console_attach(struct api_call *c)
{
	struct daemon_sub *sub = NULL;
	struct werr err = {0};
	int r = api_stream_prepare(c, &err);

	if (r >= 0)
		r = daemon_console_attach(c->daemon, api_param(c, "name"), &c->stream, &sub, &err);
	api_stream_begin(c, r, sub, &err, "application/octet-stream");
}

static void console_input(struct api_call *c)
{
	daemon_console_input(c->daemon, &c->caller, api_param(c, "name"), c->raw, c->raw_len,
			     &c->reply);
}

static void console_log(struct api_call *c)
{
	daemon_console_log(c->daemon, api_param(c, "name"), &c->reply);
}

static void events_follow(struct api_call *c, const char *vm)
{
	struct daemon_sub *sub = NULL;
	struct werr err = {0};
	int r = api_stream_prepare(c, &err);

	if (r >= 0)
		r = daemon_events_subscribe(c->daemon, vm, &c->stream, &sub, &err);
	/* One JSON object per line. */
	api_stream_begin(c, r, sub, &err, "application/x-ndjson");
}

static void events_get(struct api_call *c)
{
	const char *vm = api_query(c, "vm");
	uint64_t since, limit;
	struct werr err;
	bool follow;

	if (api_query_bool(c, "follow", false, &follow, &err) < 0)
		goto fail;
	if (follow) {
		/* The live feed starts now; a backlog is a separate request. */
		if (api_query(c, "since") || api_query(c, "limit")) {
			werr_set(&err, 0, "invalid", api_query(c, "since") ? "since" : "limit",
				 "since and limit do not apply to follow=true");
			goto fail;
		}
		events_follow(c, vm);
		return;
	}
	if (api_query_uint(c, "since", 0, INT64_MAX, &since, &err) < 0 ||
	    api_query_uint(c, "limit", API_EVENTS_LIMIT_DEFAULT, API_EVENTS_LIMIT_MAX, &limit,
			   &err) < 0)
		goto fail;
	daemon_events_list(c->daemon, vm, (int64_t)since, (size_t)limit, &c->reply);
	return;
fail:
	reply_error(&c->reply, &err);
}

static void operation_get(struct api_call *c)
{
	struct werr err;
	uint64_t wait_s;

	if (api_query_uint(c, "wait", 0, API_WAIT_MAX_S, &wait_s, &err) < 0) {
		reply_error(&c->reply, &err);
		return;
	}
	daemon_operation_get(c->daemon, api_param(c, "id"), (unsigned)wait_s * 1000, &c->reply);
}

static void operation_cancel(struct api_call *c)
{
	daemon_operation_cancel(c->daemon, api_param(c, "id"), &c->reply);
}

static void snap_list(struct api_call *c)
{
	daemon_snapshot_list(c->daemon, api_param(c, "name"), &c->reply);
}

static void snap_create(struct api_call *c)
{
	daemon_snapshot_create(c->daemon, &c->caller, api_param(c, "name"), c->body, &c->reply);
}

static void snap_get(struct api_call *c)
{
	daemon_snapshot_get(c->daemon, api_param(c, "name"), api_param(c, "snapshot"), &c->reply);
}

static void snap_delete(struct api_call *c)
{
	daemon_snapshot_delete(c->daemon, &c->caller, api_param(c, "name"),
			       api_param(c, "snapshot"), &c->reply);
}

static void snap_restore(struct api_call *c)
{
	daemon_snapshot_restore(c->daemon, &c->caller, api_param(c, "name"),
				api_param(c, "snapshot"), &c->reply);
}

static void vm_clone(struct api_call *c)
{
	daemon_vm_clone(c->daemon, &c->caller, api_param(c, "name"), c->body, &c->reply);
}

static void vm_stats(struct api_call *c)
{
	uint64_t since;
	struct werr err;
	bool fresh;

	if (api_query_uint(c, "since", 0, INT64_MAX, &since, &err) < 0 ||
	    api_query_bool(c, "fresh", false, &fresh, &err) < 0) {
		reply_error(&c->reply, &err);
		return;
	}
	daemon_vm_stats(c->daemon, api_param(c, "name"), (int64_t)since, fresh, &c->reply);
}

static void stats_all(struct api_call *c)
{
	struct werr err;
	bool fresh;

	if (api_query_bool(c, "fresh", false, &fresh, &err) < 0) {
		reply_error(&c->reply, &err);
		return;
	}
	daemon_stats_all(c->daemon, fresh, &c->reply);
}

static void metrics(struct api_call *c)
{
	daemon_metrics(c->daemon, &c->reply);
}

static void net_list(struct api_call *c)
{
	daemon_net_list(c->daemon, &c->reply);
}

static void net_create(struct api_call *c)
{
	daemon_net_create(c->daemon, &c->caller, c->body, &c->reply);
}

static void net_get(struct api_call *c)
{
	daemon_net_get(c->daemon, api_param(c, "name"), &c->reply);
}

static void net_delete(struct api_call *c)
{
	daemon_net_delete(c->daemon, &c->caller, api_param(c, "name"), &c->reply);
}

static void nic_add(struct api_call *c)
{
	daemon_nic_add(c->daemon, &c->caller, api_param(c, "name"), c->body, &c->reply);
}

static void nic_remove(struct api_call *c)
{
	daemon_nic_remove(c->daemon, &c->caller, api_param(c, "name"), api_param(c, "nic"),
			  &c->reply);
}

static void vm_migrate(struct api_call *c)
{
	daemon_vm_migrate(c->daemon, &c->caller, api_param(c, "name"), c->body, &c->reply);
}

static void mig_list(struct api_call *c)
{
	daemon_mig_list(c->daemon, &c->reply);
}

static void mig_prepare(struct api_call *c)
{
	daemon_mig_prepare(c->daemon, &c->caller, c->body, &c->reply);
}

static void mig_get(struct api_call *c)
{
	daemon_mig_get(c->daemon, &c->caller, api_param(c, "id"), &c->reply);
}

static void mig_confirm(struct api_call *c)
{
	daemon_mig_confirm(c->daemon, &c->caller, api_param(c, "id"), &c->reply);
}

static void mig_abort(struct api_call *c)
{
	daemon_mig_abort(c->daemon, &c->caller, api_param(c, "id"), &c->reply);
}

static void mig_put_file(struct api_call *c)
{
	const char *off = evhttp_find_header(&c->query, "offset");
	unsigned long long offset;
	struct werr err;
	char *end;

	errno = 0;
	offset = off ? strtoull(off, &end, 10) : 0;
	if (!off || !*off || *end || errno || *off == '-') {
		werr_set(&err, -EINVAL, "invalid", "offset", "offset must be a number of bytes");
		reply_error(&c->reply, &err);
		return;
	}
	daemon_mig_put_file(c->daemon, &c->caller, api_param(c, "id"), api_param(c, "file"),
			    offset, c->raw, c->raw_len, &c->reply);
}

static void cluster_get(struct api_call *c)
{
	daemon_cluster_get(c->daemon, &c->caller, &c->reply);
}

static void cluster_init(struct api_call *c)
{
	daemon_cluster_init(c->daemon, &c->caller, c->body, &c->reply);
}

static void cluster_join(struct api_call *c)
{
	daemon_cluster_join(c->daemon, &c->caller, c->body, &c->reply);
}

static void cluster_members(struct api_call *c)
{
	daemon_cluster_members(c->daemon, &c->reply);
}

static void cluster_remove(struct api_call *c)
{
	struct werr err;
	bool force;

	if (api_query_bool(c, "force", false, &force, &err) < 0) {
		reply_error(&c->reply, &err);
		return;
	}
	daemon_cluster_remove(c->daemon, &c->caller, api_param(c, "member"), force, &c->reply);
}

static void cluster_evacuate(struct api_call *c)
{
	daemon_cluster_evacuate(c->daemon, &c->caller, api_param(c, "member"), c->body, &c->reply);
}

static void cluster_rebalance(struct api_call *c)
{
	daemon_cluster_rebalance(c->daemon, &c->caller, c->body, &c->reply);
}

static void cluster_config(struct api_call *c)
{
	daemon_cluster_config(c->daemon, &c->caller, c->body, &c->reply);
}

static void cluster_adopt(struct api_call *c)
{
	daemon_cluster_adopt(c->daemon, &c->caller, c->body, &c->reply);
}

/* Requests about a VM go to the member that has it; console streams and
 * the console log are served by that member only. */
bool api_route_forwarded(struct api_call *c, const struct api_route *route,
			 struct evhttp_request *req)
{
	const char *p = route->pattern;

	if (strncmp(p, "/v1/operations/{id}", 19) == 0) {
		const char *id = api_param(c, "id");
		const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
		if (!id || !daemon_op_elsewhere(c->daemon, id))
			return false;
		daemon_op_forward(c->daemon, api_method_to_string(c->method), id, p + 19,
				  uri ? evhttp_uri_get_query(uri) : NULL, &c->reply);
		return true;
	}
	if (strncmp(p, "/v1/vms/{name}", 14) != 0 || strstr(p, "/console"))
		return false;
	if (!daemon_vm_elsewhere(c->daemon, api_param(c, "name")))
		return false;
	daemon_forward(c->daemon, api_param(c, "name"), api_method_to_string(c->method),
		       evhttp_request_get_uri(req), c->body, c->raw, c->raw_len, &c->reply);
	return true;
}

static void log_level(struct api_call *c)
{
	daemon_log_level(c->daemon, &c->caller, c->body, &c->reply);
}

/* clang-format off */
static const struct api_route routes[] = {
	{.method = API_GET, .pattern = "/v1/host", .handler = host_get},
	{
		.method = API_POST,
		.pattern = "/v1/host/log-level",
		.handler = log_level,
		.body = API_BODY_JSON,
	},
	{.method = API_GET, .pattern = "/v1/stats", .handler = stats_all, .query = "fresh"},
	{.method = API_GET, .pattern = "/v1/metrics", .handler = metrics},
	{.method = API_GET, .pattern = "/v1/vms", .handler = vm_list, .query = "local"},
	{.method = API_POST, .pattern = "/v1/vms", .handler = vm_create, .body = API_BODY_JSON},
	{.method = API_GET, .pattern = "/v1/vms/{name}", .handler = vm_get},
	{.method = API_DELETE, .pattern = "/v1/vms/{name}", .handler = vm_delete, .query = "force"},
	{
		.method = API_PATCH,
		.pattern = "/v1/vms/{name}",
		.handler = vm_patch,
		.body = API_BODY_JSON,
	},
	{
		.method = API_POST,
		.pattern = "/v1/vms/{name}/actions/{action}",
		.handler = vm_action,
		.body = API_BODY_JSON_OPT,
	},
	{
		.method = API_POST,
		.pattern = "/v1/vms/{name}/exec",
		.handler = vm_exec,
		.body = API_BODY_JSON,
	},
	{
		.method = API_POST,
		.pattern = "/v1/vms/{name}/clone",
		.handler = vm_clone,
		.body = API_BODY_JSON,
	},
	{.method = API_GET, .pattern = "/v1/vms/{name}/snapshots", .handler = snap_list},
	{
		.method = API_POST,
		.pattern = "/v1/vms/{name}/snapshots",
		.handler = snap_create,
		.body = API_BODY_JSON,
	},
	{.method = API_GET, .pattern = "/v1/vms/{name}/snapshots/{snapshot}", .handler = snap_get},
	{
		.method = API_DELETE,
		.pattern = "/v1/vms/{name}/snapshots/{snapshot}",
		.handler = snap_delete,
	},
	{
		.method = API_POST,
		.pattern = "/v1/vms/{name}/snapshots/{snapshot}/restore",
		.handler = snap_restore,
	},
	{
		.method = API_POST,
		.pattern = "/v1/vms/{name}/nics",
		.handler = nic_add,
		.body = API_BODY_JSON,
	},
	{.method = API_DELETE, .pattern = "/v1/vms/{name}/nics/{nic}", .handler = nic_remove},
	{
		.method = API_POST,
		.pattern = "/v1/vms/{name}/migrate",
		.handler = vm_migrate,
		.body = API_BODY_JSON,
	},
	{.method = API_GET, .pattern = "/v1/migrations", .handler = mig_list},
	{
		.method = API_POST,
		.pattern = "/v1/migrations",
		.handler = mig_prepare,
		.body = API_BODY_JSON,
	},
	{.method = API_GET, .pattern = "/v1/migrations/{id}", .handler = mig_get},
	{.method = API_DELETE, .pattern = "/v1/migrations/{id}", .handler = mig_abort},
	{.method = API_POST, .pattern = "/v1/migrations/{id}/confirm", .handler = mig_confirm},
	{
		.method = API_PUT,
		.pattern = "/v1/migrations/{id}/files/{file}",
		.handler = mig_put_file,
		.body = API_BODY_RAW,
		.query = "offset",
	},
	{.method = API_GET, .pattern = "/v1/cluster", .handler = cluster_get},
	{
		.method = API_POST,
		.pattern = "/v1/cluster/init",
		.handler = cluster_init,
		.body = API_BODY_JSON,
	},
	{
		.method = API_POST,
		.pattern = "/v1/cluster/join",
		.handler = cluster_join,
		.body = API_BODY_JSON,
	},
	{.method = API_GET, .pattern = "/v1/cluster/members", .handler = cluster_members},
	{
		.method = API_DELETE,
		.pattern = "/v1/cluster/members/{member}",
		.handler = cluster_remove,
		.query = "force",
	},
	{
		.method = API_POST,
		.pattern = "/v1/cluster/members/{member}/evacuate",
		.handler = cluster_evacuate,
		.body = API_BODY_JSON_OPT,
	},
	{
		.method = API_POST,
		.pattern = "/v1/cluster/rebalance",
		.handler = cluster_rebalance,
		.body = API_BODY_JSON_OPT,
	},
	{
		.method = API_PUT,
		.pattern = "/v1/cluster/config",
		.handler = cluster_config,
		.body = API_BODY_JSON,
	},
	{
		.method = API_POST,
		.pattern = "/v1/cluster/adopt",
		.handler = cluster_adopt,
		.body = API_BODY_JSON,
	},
	{.method = API_GET, .pattern = "/v1/networks", .handler = net_list},
	{
		.method = API_POST,
		.pattern = "/v1/networks",
		.handler = net_create,
		.body = API_BODY_JSON,
	},
	{.method = API_GET, .pattern = "/v1/networks/{name}", .handler = net_get},
	{.method = API_DELETE, .pattern = "/v1/networks/{name}", .handler = net_delete},
	{.method = API_GET, .pattern = "/v1/vms/{name}/console", .handler = console_attach},
	{
		.method = API_POST,
		.pattern = "/v1/vms/{name}/console",
		.handler = console_input,
		.body = API_BODY_RAW,
	},
	{.method = API_GET, .pattern = "/v1/vms/{name}/console/log", .handler = console_log},
	{
		.method = API_GET,
		.pattern = "/v1/vms/{name}/stats",
		.handler = vm_stats,
		.query = "since fresh",
	},
	{
		.method = API_GET,
		.pattern = "/v1/events",
		.handler = events_get,
		.query = "vm follow since limit",
	},
	{
		.method = API_GET,
		.pattern = "/v1/operations/{id}",
		.handler = operation_get,
		.query = "wait",
	},
	{.method = API_POST, .pattern = "/v1/operations/{id}/cancel", .handler = operation_cancel},
};
/* clang-format on */

size_t api_routes(const struct api_route **ret)
{
	*ret = routes;
	return ARRAY_SIZE(routes);
}
