/*
 * warren-routes: print the API's route table, one "METHOD PATTERN" line per
 * route, so that a test can hold docs/openapi.yaml to what the server
 * really routes. Built, not installed.
 *
 * The table points at the handlers and they call into daemon/, which is
 * linked only into warrend. This program never runs a handler, so the
 * daemon calls below only satisfy the linker.
 */
#include "api/api.h"

static void __attribute__((noreturn)) not_here(void)
{
	fatal("warren-routes does not serve requests");
}

void daemon_host_get(struct daemon *d, struct reply *r)
{
	not_here();
}

void daemon_vm_list(struct daemon *d, const struct caller *c, bool local, struct reply *r)
{
	not_here();
}

void daemon_vm_create(struct daemon *d, const struct caller *c, json_t *body, struct reply *r)
{
	not_here();
}

void daemon_vm_get(struct daemon *d, const char *name, struct reply *r)
{
	not_here();
}

void daemon_vm_delete(struct daemon *d, const struct caller *c, const char *name, bool force,
		      struct reply *r)
{
	not_here();
}

void daemon_vm_action(struct daemon *d, const struct caller *c, const char *name,
		      const char *action, json_t *args, struct reply *r)
{
	not_here();
}

void daemon_vm_exec(struct daemon *d, const struct caller *c, const char *name, json_t *body,
		    struct reply *r)
{
	not_here();
}

void daemon_console_log(struct daemon *d, const char *name, struct reply *r)
{
	not_here();
}

void daemon_console_input(struct daemon *d, const struct caller *c, const char *name,
			  const void *buf, size_t len, struct reply *r)
{
	not_here();
}

int daemon_console_attach(struct daemon *d, const char *name, struct stream *s,
			  struct daemon_sub **ret, struct werr *err)
{
	not_here();
}

void daemon_events_list(struct daemon *d, const char *vm, int64_t since_ms, size_t limit,
			struct reply *r)
{
	not_here();
}

int daemon_events_subscribe(struct daemon *d, const char *vm, struct stream *s,
			    struct daemon_sub **ret, struct werr *err)
{
	not_here();
}

void daemon_sub_cancel(struct daemon_sub *sub)
{
	not_here();
}

void daemon_operation_get(struct daemon *d, const char *id, unsigned wait_ms, struct reply *r)
{
	not_here();
}

void daemon_vm_stats(struct daemon *d, const char *name, int64_t since_ms, bool fresh,
		     struct reply *r)
{
	not_here();
}

void daemon_stats_all(struct daemon *d, bool fresh, struct reply *r)
{
	not_here();
}

void daemon_metrics(struct daemon *d, struct reply *r)
{
	not_here();
}

void daemon_log_level(struct daemon *d, const struct caller *c, json_t *body, struct reply *r)
{
	not_here();
}

void daemon_operation_cancel(struct daemon *d, const char *id, struct reply *r)
{
	not_here();
}

void daemon_snapshot_list(struct daemon *d, const char *name, struct reply *r)
{
	not_here();
}

void daemon_snapshot_get(struct daemon *d, const char *name, const char *snap,
			 struct reply *r)
{
	not_here();
}

void daemon_snapshot_create(struct daemon *d, const struct caller *c, const char *name,
			    json_t *body, struct reply *r)
{
	not_here();
}

void daemon_snapshot_delete(struct daemon *d, const struct caller *c, const char *name,
			    const char *snap, struct reply *r)
{
	not_here();
}

void daemon_snapshot_restore(struct daemon *d, const struct caller *c, const char *name,
			     const char *snap, struct reply *r)
{
	not_here();
}

void daemon_vm_clone(struct daemon *d, const struct caller *c, const char *name, json_t *body,
		     struct reply *r)
{
	not_here();
}

void daemon_vm_patch(struct daemon *d, const struct caller *c, const char *name, json_t *body,
		     struct reply *r)
{
	not_here();
}

int main(void)
{
	const struct api_route *table;
	size_t n = api_routes(&table);

	for (size_t i = 0; i < n; i++)
		printf("%s %s\n", api_method_to_string(table[i].method), table[i].pattern);
	return 0;
}

void daemon_net_list(struct daemon *d, struct reply *r)
{
	not_here();
}

void daemon_net_create(struct daemon *d, const struct caller *c, json_t *body, struct reply *r)
{
	not_here();
}

void daemon_net_get(struct daemon *d, const char *name, struct reply *r)
{
	not_here();
}

void daemon_net_delete(struct daemon *d, const struct caller *c, const char *name,
		       struct reply *r)
{
	not_here();
}

void daemon_nic_add(struct daemon *d, const struct caller *c, const char *name, json_t *body,
		    struct reply *r)
{
	not_here();
}

void daemon_nic_remove(struct daemon *d, const struct caller *c, const char *name,
		       const char *nic, struct reply *r)
{
	not_here();
}

void daemon_vm_migrate(struct daemon *d, const struct caller *c, const char *name, json_t *body,
		       struct reply *r)
{
	not_here();
}

void daemon_cluster_get(struct daemon *d, const struct caller *c, struct reply *r)
{
	not_here();
}

void daemon_cluster_init(struct daemon *d, const struct caller *c, json_t *body, struct reply *r)
{
	not_here();
}

void daemon_cluster_join(struct daemon *d, const struct caller *c, json_t *body, struct reply *r)
{
	not_here();
}

void daemon_cluster_members(struct daemon *d, struct reply *r)
{
	not_here();
}

void daemon_cluster_remove(struct daemon *d, const struct caller *c, const char *member,
			   bool force, struct reply *r)
{
	not_here();
}

void daemon_cluster_evacuate(struct daemon *d, const struct caller *c, const char *member,
			     json_t *body, struct reply *r)
{
	not_here();
}

void daemon_cluster_rebalance(struct daemon *d, const struct caller *c, json_t *body,
			      struct reply *r)
{
	not_here();
}

void daemon_cluster_config(struct daemon *d, const struct caller *c, json_t *body,
			   struct reply *r)
{
	not_here();
}

void daemon_cluster_adopt(struct daemon *d, const struct caller *c, json_t *body, struct reply *r)
{
	not_here();
}

void daemon_forward(struct daemon *d, const char *vm, const char *method, const char *uri,
		    json_t *body, const void *raw, size_t raw_len, struct reply *r)
{
	not_here();
}

void daemon_op_forward(struct daemon *d, const char *method, const char *id, const char *suffix,
		       const char *query, struct reply *r)
{
	not_here();
}

bool daemon_vm_elsewhere(struct daemon *d, const char *name)
{
	return false;
}

bool daemon_op_elsewhere(struct daemon *d, const char *id)
{
	return false;
}

int daemon_check_writable(struct daemon *d, struct werr *err)
{
	return 0;
}

int daemon_peer_auth(struct daemon *d, const char *authorization)
{
	return -EACCES;
}

void daemon_mig_list(struct daemon *d, struct reply *r)
{
	not_here();
}

void daemon_mig_prepare(struct daemon *d, const struct caller *c, json_t *body,
			struct reply *r)
{
	not_here();
}

void daemon_mig_get(struct daemon *d, const struct caller *c, const char *id, struct reply *r)
{
	not_here();
}

void daemon_mig_confirm(struct daemon *d, const struct caller *c, const char *id,
			struct reply *r)
{
	not_here();
}

void daemon_mig_abort(struct daemon *d, const struct caller *c, const char *id, struct reply *r)
{
	not_here();
}

void daemon_mig_put_file(struct daemon *d, const struct caller *c, const char *id,
			 const char *file, uint64_t offset, const void *buf, size_t len,
			 struct reply *r)
{
	not_here();
}
