/*
 * What migrate.c (the source side and what both sides share) and
 * migrate_in.c (the destination side) have in common. See migrate.c for
 * the protocol.
 */
#ifndef WARREN_DAEMON_MIG_PRIVATE_H
#define WARREN_DAEMON_MIG_PRIVATE_H

#include "daemon/internal.h"

#define MIG_ROLE_SOURCE "source"
#define MIG_ROLE_DEST	"destination"

/* Phases as the store records them. */
#define MIG_PREPARING	 "preparing"    /* both: asking / making room */
#define MIG_PREPARED	 "prepared"     /* destination: waiting for the guest */
#define MIG_TRANSFERRING "transferring" /* source: data on its way */
#define MIG_SWITCHING	 "switching"    /* source: confirm sent or being sent */
#define MIG_CONFIRMED	 "confirmed"    /* destination: the VM is ours now */
#define MIG_DONE	 "done"         /* destination: kept to answer a repeated confirm */

#define MIG_PEER_TIMEOUT_MS 30000
/* A destination that hears nothing from the source for this long while
 * it has not been confirmed rolls back. */
#define MIG_LEASE_MS 60000
#define MIG_CHUNK (1u << 20) /* bytes per PUT of an offline transfer */

struct mig {
	struct daemon *d;
	struct mig *next;
	char id[33];
	bool source;
	char vm_id[33];
	char vm_name[VM_NAME_MAX + 1];
	struct peer_addr peer;
	char phase[32];
	bool live;
	bool shared;
	bool was_running; /* the guest ran when it began: it runs at the end */
	char end_state[16]; /* destination, offline: stopped or suspended */
	int64_t created_ms;
	int64_t started_ms; /* the VM's last start, carried along */
	struct peer_req *req;
	struct event *timer;
	void (*timer_fn)(struct mig *m);

	/* source */
	struct op *op;
	int64_t max_downtime_ms;  /* 0: QEMU's */
	int64_t bandwidth;        /* bytes/s; 0: unlimited */
	bool auto_converge;
	char nonce[33];
	char storage_req[8];      /* what the user asked for, "" for either */
	char mem_uri[160];
	char nbd_path[120];
	json_t *disk_sizes;       /* {"root": bytes} for a live copy */
	unsigned jobs;            /* mirror jobs */
	unsigned jobs_ready, jobs_done;
	bool migrate_sent;
	bool completed;           /* QEMU finished sending the guest */
	bool cancelling;
	bool confirm_refused;     /* the destination let it go: resume here */
	int heartbeat_fails;
	int64_t t0_ms;            /* monotonic, at the start */
	int64_t t_stop_ms;        /* monotonic: the guest stopped for the switch-over */
	int64_t downtime_ms;
	int64_t transferred;
	struct werr fail;         /* why it is being rolled back */
	/* offline transfer */
	char **files;
	size_t file_i;
	int fd;
	uint64_t offset, file_size;
	uint64_t sent, total;
	char *chunk;

	/* destination */
	struct reply *reply;      /* prepare or confirm, answered later */
	struct reply *abort_reply;
	int64_t heard_ms;         /* monotonic: the source's last request */
	bool received;            /* QEMU has loaded the guest */
	bool incoming_failed;
	bool qemu_started;
	bool exiting;             /* QEMU's exit is being handled */
};

/* migrate.c */
struct mig *mig_new(struct daemon *d, const char *id, bool source, const struct vm_rt *vm);
/* Record m's phase (and info) in the store. */
int mig_persist(struct mig *m, const char *phase);
/* Forget m: store row (unless keep_row), list, VM link; freed now or,
 * inside one of its callbacks, when that returns. */
void mig_end(struct mig *m, bool keep_row);
struct mig *mig_find(struct daemon *d, const char *id);
/* Run fn(m) in ms (one timer per migration; arming again replaces). */
void mig_timer(struct mig *m, unsigned ms, void (*fn)(struct mig *m));
struct vm_rt *mig_vm(const struct mig *m);
json_t *mig_info_json(const struct mig *m);
void mig_info_read(struct mig *m, const char *info_json);
int mig_auth(struct daemon *d, const struct caller *c, struct reply *r);
int64_t mig_now_ms(void);

/* Callbacks hold the migration's id, not the migration, which may be gone
 * by the time QEMU or qemu-img answers. ref_take frees the reference and
 * returns the migration if it is still there. */
struct mig_ref {
	struct daemon *d;
	char id[33];
	size_t i;
};
struct mig_ref *ref_new(const struct mig *m, size_t i);
struct mig *ref_take(struct mig_ref *r, size_t *i);
/* A QMP command to m's VM; fn (may be NULL) gets a mig_ref as ud. */
int mig_qmp(struct mig *m, const char *cmd, json_t *args, qmp_reply_fn fn, size_t i);

/* migrate_in.c */
bool mig_in_on_event(struct mig *m, struct vm_rt *vm, const char *event, json_t *data);
void mig_in_qemu_ready(struct mig *m, struct vm_rt *vm);
void mig_in_exited(struct mig *m, struct vm_rt *vm);
/* A destination row found at start-up. */
void mig_in_recover(struct daemon *d, const struct store_mig *row);
void mig_in_lease_check(struct daemon *d);

#endif
