/*
 * Private to src/daemon: a cluster of warrend members on etcd (cluster.c,
 * cluster_vm.c, cluster_ops.c, etcd.c). Key layout, in etcd:
 *
 *   /warren/config            strategy, weights, rebalance threshold
 *   /warren/members/<name>    address, labels, accel, capacity, storage id
 *   /warren/alive/<name>      heartbeat and load, under the member's lease
 *   /warren/vms/<name>        owner, id, resources, group, ha, spec
 *   /warren/alloc/<member>    sum of the VMs placed on the member
 *
 * A VM record and its member's alloc change in one transaction that
 * compares both keys' revisions, so placements never overbook and two
 * creates of one name cannot both win.
 */
#ifndef WARREN_DAEMON_CLUSTER_H
#define WARREN_DAEMON_CLUSTER_H

#include <string.h>

#include "cluster/etcd.h"
#include "daemon/internal.h"

#define CL_PREFIX "/warren/"
#define CL_MEMBERS "/warren/members/"
#define CL_ALIVE "/warren/alive/"
#define CL_VMS "/warren/vms/"
#define CL_ALLOC "/warren/alloc/"
#define CL_CONFIG "/warren/config"
#define CL_NAME_MAX 63

struct cl_job;

struct cluster {
	char name[CL_NAME_MAX + 1];
	char address[280]; /* http://HOST:PORT of this member */
	char **etcd;
	size_t n_etcd, etcd_cur;
	unsigned ttl_s;
	json_t *labels;
	char storage_id[33]; /* the same on members that share a storage dir */

	int64_t lease;
	bool granting, keeping, refreshing;
	int64_t lease_ok_ms;  /* monotonic: when the last renewal etcd answered was sent */
	int64_t keep_sent_ms; /* when the renewal (or grant) in flight was sent */
	bool lost;           /* the lease may lapse soon: changes refused */
	struct event *tick;
	unsigned ticks, views;

	json_t *view;    /* /warren/ as last read and watched: key -> {value, create, mod} */
	int64_t view_rev; /* the revision of the last read */
	json_t *recent;  /* watch events newer than the last read, for the next one */
	struct peer_req *watch;
	bool watching;   /* the watch is established: the view follows etcd */
	json_t *offline; /* member -> monotonic ms it was first seen offline */
	json_t *adopting; /* VM name -> monotonic ms an adoption was asked */
	struct cl_job *jobs;
	/* Called once, when the member is next registered under a lease. */
	void (*when_online)(struct daemon *d, void *ud);
	void *when_online_ud;
};

/* etcd.c */
typedef void (*etcd_done_fn)(void *ud, json_t *resp, const char *error);
int etcd_call(struct daemon *d, const char *path, json_t *body, etcd_done_fn done, void *ud);
/* compare/success/failure are stolen arrays (NULL: empty). */
int etcd_txn(struct daemon *d, json_t *compare, json_t *success, json_t *failure,
	     etcd_done_fn done, void *ud);


/* The name in key after prefix ("/warren/vms/web1" -> "web1"), or NULL if
 * key is not under it. */
static inline const char *cl_under(const char *key, const char *prefix)
{
	size_t n = strlen(prefix);

	return strncmp(key, prefix, n) == 0 ? key + n : NULL;
}

/* cluster.c */
/* A range answer of /warren/ becomes the view (with the watch's newer
 * events on top). */
void cl_view_set(struct cluster *cl, json_t *resp);
static inline bool cluster_on(const struct daemon *d)
{
	return d->cluster != NULL;
}
int64_t cl_now_ms(void);
/* The value under key in the view, or NULL. */
json_t *cl_view_value(const struct cluster *cl, const char *prefix, const char *name);
/* Members as the API shows them (sorted by name). */
json_t *cl_members_json(struct daemon *d);
bool cl_member_online(const struct cluster *cl, const char *name);
/* "http://..." of a member, or NULL. */
const char *cl_member_address(const struct cluster *cl, const char *name);
/* peer_request to a member by name (this one too, through its own TCP
 * API); -ENOENT if the view has no address for it. body is stolen. */
int cl_member_request(struct daemon *d, const char *member, const char *method, const char *path,
		      json_t *body, const void *raw, size_t raw_len, unsigned timeout_ms,
		      peer_done_fn done, void *ud, struct peer_req **ret);

/* Read /warren/, let plan build a transaction from it, run it; again (up
 * to a bound) when another change came between. plan returns
 * {"compare": [...], "success": [...]} or NULL with err to give up;
 * an empty success means nothing to do. done gets 0 or the error. */
typedef json_t *(*cl_plan_fn)(struct daemon *d, json_t *view, void *ud, struct werr *err);
typedef void (*cl_done_fn)(struct daemon *d, void *ud, const struct werr *err);
int cl_update(struct daemon *d, cl_plan_fn plan, cl_done_fn done, void *ud);
/* Append to a transaction: the alloc of member changed by the deltas. */
void cl_alloc_delta(json_t *view, const char *member, int64_t vcpus, int64_t memory, int vms,
		    json_t *compare, json_t *success);
/* Record of a local VM (for register / update). */
json_t *cl_vm_record(struct vm_rt *vm, const char *member, json_t *old);

int cl_check_member(struct daemon *d, struct werr *err);

/* cluster_vm.c */
struct sched_request;
struct sched_member;
/* Members as the scheduler sees them, from a view: online, capacity,
 * allocation, load and the groups of the VMs on each (skip_vm's own
 * record left out: a VM being moved does not count where it is). */
struct sched_set {
	struct sched_member *m;
	size_t n;
	char ***groups;
};
int sched_set_build(struct daemon *d, json_t *view, const char *skip_vm, struct sched_set *s);
void sched_set_free(struct sched_set *s);
/* Index of the member of that name, or -1. */
ssize_t sched_set_find(const struct sched_set *s, const char *name);
void cl_reconcile(struct daemon *d);
/* Place a VM: target NULL or "auto" lets the scheduler choose, else that
 * member if it passes the filters; skip_vm's own record does not count.
 * explain (if given) gets the scheduler's verdicts. */
int cl_place(struct daemon *d, json_t *view, const char *target, const char *skip_vm,
	     const struct sched_request *req, char chosen[CL_NAME_MAX + 1], json_t **explain,
	     struct werr *err);
/* Make the record of VM name (id) this member's; from: only if it is on
 * that member now (an HA restart). then may be NULL. */
int cl_claim(struct daemon *d, const char *name, const char *id, const char *from,
	     void (*then)(struct daemon *d, void *ud, const struct werr *err), void *ud);
void cluster_vm_gone(struct daemon *d, const char *name, const char *id);
/* The record of a VM this member claimed but could not run goes back to
 * member to (an HA restart that failed here: another may try). */
int cl_give_back(struct daemon *d, const char *name, const char *id, const char *to);

/* cluster_ops.c */
void cl_claim_new(struct daemon *d, struct vm_rt *vm);
void cl_forget_local(struct daemon *d, struct vm_rt *vm);
void cl_ha_check(struct daemon *d);
void cl_fence(struct daemon *d);
void cl_jobs_fini(struct daemon *d);

#endif
