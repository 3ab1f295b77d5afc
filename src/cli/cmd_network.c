/*
 * cmd_network: networks (create, list, show, delete) and the network
 * adapters of a VM (nic add, list, remove).
 *
 * Each is one REST call. Adding and removing a NIC of a running VM is a
 * hot-plug that warrend finishes before it answers (removal waits for the
 * guest to let go of the device), so there is no operation to wait for.
 */
#include <string.h>

#include "cli/cli.h"

static int network_request(struct cli *c, const char *method,
			   void (*table_fn)(FILE *f, json_t *data))
{
	_cleanup_free_ char *path = api_path("/v1/networks/", c->args.pos[0], "");

	if (!path)
		return cli_fail(&(struct werr){.message = "out of memory"});
	return cli_request_print(c, method, path, table_fn);
}

int cmd_network_create(struct cli *c)
{
	_cleanup_json_ json_t *body = NULL, *net = NULL;
	struct werr err = {0};
	int r;

	r = cli_network_body(&c->args, c->args.pos[0], &body, &err);
	if (r < 0)
		return r == -ENOMEM ? cli_fail(&err) : cli_usage_error(c, "%s", err.message);
	if (api_call(c, "POST", "/v1/networks", body, NULL, &net, &err) < 0)
		return cli_fail(&err);
	return cli_print(c, net, view_network_show);
}

int cmd_network_list(struct cli *c)
{
	return cli_request_print(c, "GET", "/v1/networks", view_network_list);
}

int cmd_network_show(struct cli *c)
{
	return network_request(c, "GET", view_network_show);
}

/* warrend refuses (409) while VMs have NICs on the network and names them. */
int cmd_network_delete(struct cli *c)
{
	return network_request(c, "DELETE", view_deleted);
}

int cmd_nic_add(struct cli *c)
{
	_cleanup_json_ json_t *nic = NULL, *reply = NULL;
	_cleanup_free_ char *path = NULL;
	struct werr err = {0};
	int r;

	r = cli_parse_nic(c->args.pos[1], "NIC", &nic, &err);
	if (r < 0)
		return r == -ENOMEM ? cli_fail(&err) : cli_usage_error(c, "%s", err.message);
	path = api_vm_path(c->args.pos[0], "/nics");
	if (!path)
		return cli_fail(&err);
	if (api_call(c, "POST", path, nic, NULL, &reply, &err) < 0)
		return cli_fail(&err);
	return cli_print(c, reply, view_nic_show);
}

/* The VM's NICs from GET /v1/vms/VM, printed as {"nics": [...]} in every
 * format: there is no route of their own to list them. */
int cmd_nic_list(struct cli *c)
{
	_cleanup_free_ char *path = api_vm_path(c->args.pos[0], "");
	_cleanup_json_ json_t *vm = NULL, *out = NULL;
	struct werr err = {0};
	json_t *nics;

	if (!path)
		return cli_fail(&err);
	if (api_call(c, "GET", path, NULL, NULL, &vm, &err) < 0)
		return cli_fail(&err);
	nics = json_object_get(vm, "nics");
	out = json_is_array(nics) ? json_pack("{s:O}", "nics", nics) : json_pack("{s:[]}", "nics");
	if (!out)
		return cli_fail(&err);
	return cli_print(c, out, view_nic_list);
}

int cmd_nic_remove(struct cli *c)
{
	_cleanup_curl_free_ char *nic = api_escape(c->args.pos[1]);
	_cleanup_free_ char *suffix = NULL, *path = NULL;
	struct werr err = {0};

	if (!nic || asprintf(&suffix, "/nics/%s", nic) < 0 ||
	    !(path = api_vm_path(c->args.pos[0], suffix)))
		return cli_fail(&err);
	return cli_request_print(c, "DELETE", path, view_nic_removed);
}
