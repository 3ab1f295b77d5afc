/*
 * daemon: the daemon's context, its operations and the calls the API layer
 * makes into it. api/ turns HTTP into these calls; everything here is
 * independent of HTTP.
 *
 * Replies: every call that answers a request takes a struct reply made by
 * api/ and calls exactly one of its send functions exactly once, possibly
 * later from the event loop (asynchronous work). api/ keeps the reply
 * valid until then, even if the client has gone away meanwhile.
 *
 * Streams (events, console): the daemon writes to a struct stream until
 * either it ends the stream (stream->end, after which it forgets it) or
 * api/ cancels the subscription (daemon_sub_cancel, after which the daemon
 * never touches the stream again).
 *
 * This header is the whole interface of the folder.
 */
#ifndef WARREN_DAEMON_H
#define WARREN_DAEMON_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "util/util.h"

struct daemon;
struct event_base;

struct caller {
	uid_t uid; /* from SO_PEERCRED */
	pid_t pid;
	/* The request's Authorization header, or NULL; valid while the
	 * daemon_* call runs. */
	const char *authorization;
	/* Came through the TCP listener with the cluster's token: another
	 * member (never forwarded again). */
	bool remote;
};

struct reply {
	/* JSON body (reference stolen, may be NULL for no body) with a 2xx status,
	 * or an error when err is non-NULL (status is then taken from err->code). */
	void (*send_json)(struct reply *r, int status, json_t *body, const struct werr *err);
	/* Raw bytes with a content type, status 200. */
	void (*send_raw)(struct reply *r, const char *content_type, const void *buf, size_t len);
};

static inline void reply_json(struct reply *r, int status, json_t *body)
{
	r->send_json(r, status, body, NULL);
}

static inline void reply_error(struct reply *r, const struct werr *err)
{
	r->send_json(r, 0, NULL, err);
}

struct stream {
	/* Queue bytes for the client. Returns < 0 if the client cannot take
	 * more (the daemon then drops its subscription and calls end). */
	int (*write)(struct stream *s, const void *buf, size_t len);
	/* The daemon ends the stream (e.g. the VM stopped). Called once. */
	void (*end)(struct stream *s);
};

struct daemon_sub;

/* ---- host -------------------------------------------------------------- */
void daemon_host_get(struct daemon *d, struct reply *r);

/* ---- VMs --------------------------------------------------------------- */
/* In a cluster, every member's VMs (local: only this member's). */
void daemon_vm_list(struct daemon *d, const struct caller *c, bool local, struct reply *r);
/* 201 with the VM; body is the spec JSON (borrowed). */
void daemon_vm_create(struct daemon *d, const struct caller *c, json_t *body, struct reply *r);
void daemon_vm_get(struct daemon *d, const char *name, struct reply *r);
/* Change resources (see vm_spec_patch); applied at once when running. */
void daemon_vm_patch(struct daemon *d, const struct caller *c, const char *name, json_t *body,
		     struct reply *r);
void daemon_vm_delete(struct daemon *d, const struct caller *c, const char *name, bool force,
		      struct reply *r);
/* action: start shutdown poweroff reboot reset pause resume. args: the
 * request body (borrowed, may be NULL), e.g. {"timeout": 60, "mode": "acpi"}. */
void daemon_vm_action(struct daemon *d, const struct caller *c, const char *name,
		      const char *action, json_t *args, struct reply *r);
/* body {"command": ["uname", "-a"], "timeout": 30} */
void daemon_vm_exec(struct daemon *d, const struct caller *c, const char *name, json_t *body,
		    struct reply *r);

/* ---- snapshots and clones ---------------------------------------------- */
/* {"snapshots": [...]} oldest first. */
void daemon_snapshot_list(struct daemon *d, const char *name, struct reply *r);
void daemon_snapshot_get(struct daemon *d, const char *name, const char *snap,
			 struct reply *r);
/* body {"name": "s1", "memory": true}; 202 with an operation. */
void daemon_snapshot_create(struct daemon *d, const struct caller *c, const char *name,
			    json_t *body, struct reply *r);
void daemon_snapshot_delete(struct daemon *d, const struct caller *c, const char *name,
			    const char *snap, struct reply *r);
/* 202 with an operation. */
void daemon_snapshot_restore(struct daemon *d, const struct caller *c, const char *name,
			     const char *snap, struct reply *r);
/* body {"name": "new", "linked": false, "snapshot": null}; 202 with an
 * operation whose result is {"vm": ...}. */
void daemon_vm_clone(struct daemon *d, const struct caller *c, const char *name, json_t *body,
		     struct reply *r);

/* ---- networks and NICs ---------------------------------------------------- */
void daemon_net_list(struct daemon *d, struct reply *r);
/* body {"name": "lan", "subnet": "10.0.0.0/24", ...}; 201 with the network. */
void daemon_net_create(struct daemon *d, const struct caller *c, json_t *body, struct reply *r);
void daemon_net_get(struct daemon *d, const char *name, struct reply *r);
/* 409 while NICs are on it. */
void daemon_net_delete(struct daemon *d, const struct caller *c, const char *name,
		       struct reply *r);
/* body: one NIC ({"network": "lan", ...}); plugged in at once when the VM
 * runs. 201 with the NIC. */
void daemon_nic_add(struct daemon *d, const struct caller *c, const char *name, json_t *body,
		    struct reply *r);
/* Answered once the guest has let the device go (running VMs). */
void daemon_nic_remove(struct daemon *d, const struct caller *c, const char *name,
		       const char *nic, struct reply *r);

/* ---- migration ----------------------------------------------------------- */
/* body {"to": "unix:/run/b.sock", "mode": "live", "storage": "copy",
 * "max_downtime_ms": 300, "bandwidth": bytes/s, "auto_converge": true};
 * answered once the destination has agreed (errors before anything moves)
 * with 202 and an operation. */
void daemon_vm_migrate(struct daemon *d, const struct caller *c, const char *name, json_t *body,
		       struct reply *r);
/* {"migrations": [...]}: those this daemon takes part in now. */
void daemon_mig_list(struct daemon *d, struct reply *r);
/* The destination's side, called by the source daemon (peer token). */
void daemon_mig_prepare(struct daemon *d, const struct caller *c, json_t *body,
			struct reply *r);
void daemon_mig_get(struct daemon *d, const struct caller *c, const char *id, struct reply *r);
void daemon_mig_confirm(struct daemon *d, const struct caller *c, const char *id,
			struct reply *r);
void daemon_mig_abort(struct daemon *d, const struct caller *c, const char *id, struct reply *r);
void daemon_mig_put_file(struct daemon *d, const struct caller *c, const char *id,
			 const char *file, uint64_t offset, const void *buf, size_t len,
			 struct reply *r);

/* ---- cluster ------------------------------------------------------------ */
void daemon_cluster_get(struct daemon *d, const struct caller *c, struct reply *r);
/* body {"etcd": [URL...], "name": ..., "labels": {...}, "ttl_s": 10, "token": ...}; 201. */
void daemon_cluster_init(struct daemon *d, const struct caller *c, json_t *body, struct reply *r);
/* body {"address": "http://HOST:PORT", "token": ..., "name": ..., "labels": {...}}; 201. */
void daemon_cluster_join(struct daemon *d, const struct caller *c, json_t *body, struct reply *r);
void daemon_cluster_members(struct daemon *d, struct reply *r);
void daemon_cluster_remove(struct daemon *d, const struct caller *c, const char *member,
			   bool force, struct reply *r);
/* 202 with an operation. */
void daemon_cluster_evacuate(struct daemon *d, const struct caller *c, const char *member,
			     json_t *body, struct reply *r);
/* body {"dry_run": true, "threshold": 0.15}: 200 with the plan, or 202. */
void daemon_cluster_rebalance(struct daemon *d, const struct caller *c, json_t *body,
			      struct reply *r);
void daemon_cluster_config(struct daemon *d, const struct caller *c, json_t *body,
			   struct reply *r);
/* Another member asks this one to restart an HA VM whose member lapsed. */
void daemon_cluster_adopt(struct daemon *d, const struct caller *c, json_t *body, struct reply *r);
/* The VM is not here but the cluster may know it: daemon_forward sends
 * the request to its member and answers with that member's answer. */
bool daemon_vm_elsewhere(struct daemon *d, const char *name);
void daemon_forward(struct daemon *d, const char *vm, const char *method, const char *uri,
		    json_t *body, const void *raw, size_t raw_len, struct reply *r);
/* Operation ids "ID@MEMBER" are another member's. */
bool daemon_op_elsewhere(struct daemon *d, const char *id);
void daemon_op_forward(struct daemon *d, const char *method, const char *id, const char *suffix,
		       const char *query, struct reply *r);
/* < 0 (with err) while this member may not change anything. */
int daemon_check_writable(struct daemon *d, struct werr *err);
/* 0 if authorization is "Bearer <this daemon's peer or cluster token>". */
int daemon_peer_auth(struct daemon *d, const char *authorization);

/* ---- console ----------------------------------------------------------- */
/* text/plain: the captured console log (previous rotation first). */
void daemon_console_log(struct daemon *d, const char *name, struct reply *r);
/* Bytes typed by the client go to the guest's serial port. 204. */
void daemon_console_input(struct daemon *d, const struct caller *c, const char *name,
			  const void *buf, size_t len, struct reply *r);
/* Live serial output from now on. */
int daemon_console_attach(struct daemon *d, const char *name, struct stream *s,
			  struct daemon_sub **ret, struct werr *err);

/* ---- monitoring ------------------------------------------------------- */
/* History of one VM ({"samples": [...]} with rates); fresh: sample first. */
void daemon_vm_stats(struct daemon *d, const char *name, int64_t since_ms, bool fresh,
		     struct reply *r);
/* The latest sample of every VM (for warren top); fresh: sample first. */
void daemon_stats_all(struct daemon *d, bool fresh, struct reply *r);
/* Prometheus text exposition. */
void daemon_metrics(struct daemon *d, struct reply *r);
/* {"level": "..."}: set the daemon's log level at run time. */
void daemon_log_level(struct daemon *d, const struct caller *c, json_t *body, struct reply *r);

/* ---- events and operations --------------------------------------------- */
/* Recent events (JSON {"events": [...]}) from the store; vm may be NULL. */
void daemon_events_list(struct daemon *d, const char *vm, int64_t since_ms, size_t limit,
			struct reply *r);
/* Live events as JSON lines; vm may be NULL for all. */
int daemon_events_subscribe(struct daemon *d, const char *vm, struct stream *s,
			    struct daemon_sub **ret, struct werr *err);
void daemon_sub_cancel(struct daemon_sub *sub);
/* The operation, at once, or when it has finished or wait_ms passed. */
void daemon_operation_get(struct daemon *d, const char *id, unsigned wait_ms, struct reply *r);
/* Ask a running operation to stop; 409 when it cannot. */
void daemon_operation_cancel(struct daemon *d, const char *id, struct reply *r);

#endif
