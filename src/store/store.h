/*
 * store: everything Warren remembers, in one SQLite database (WAL mode)
 * under the state directory. Rows are plain data; the meaning of states
 * and specs belongs to vm/.
 *
 * Every function that changes data is one transaction. This header is the
 * whole interface of the folder.
 */
#ifndef WARREN_STORE_H
#define WARREN_STORE_H

#include <stdint.h>
#include <sys/types.h>

struct store;

struct store_vm {
	char id[33];        /* 32 hex characters, immutable */
	char name[64];      /* unique */
	char *spec_json;    /* canonical spec JSON */
	char state[16];     /* vm_state_to_string() */
	int pid;            /* QEMU pid while active, else 0 */
	uint64_t pid_start; /* /proc/<pid>/stat starttime, to recognise the same process */
	int64_t created_ms; /* wall clock, ms since epoch */
	int64_t started_ms; /* last start, 0 if never */
	char *crash_log;    /* last QEMU log lines when crashed, else NULL */
	char current_snap[17]; /* snapshot id the present state grew from, or "" */
	char origin[33];       /* VM a linked clone was made from, or "" */
	int fork_pending;      /* 1: the guest has yet to learn it is a new machine */
};

struct store_snap {
	char id[17];       /* 16 hex characters; also the tag inside each disk */
	char vm_id[33];
	char name[64];     /* unique per VM */
	char parent[17];   /* parent snapshot id, or "" */
	int64_t created_ms;
	int memory;        /* 1: memory and device state saved too */
	char vm_state[16]; /* the VM's state when taken */
	char *spec_json;   /* the VM's spec when taken */
	uint64_t memory_size;
	uint64_t disk_size;
};

struct store_net {
	char name[32];    /* unique */
	unsigned idx;     /* unique; numbers the network's bridges */
	char *config_json; /* subnet, gateway, dhcp, nat, mtu, vlan, uplink */
	int64_t created_ms;
};

struct store_event {
	int64_t seq; /* assigned by the store */
	int64_t time_ms;
	char vm[64];       /* VM name, "" for host-wide events */
	char action[32];   /* e.g. "start", "state" */
	char result[128];  /* e.g. "ok", "running", an error code */
	int uid;           /* caller uid, -1 for the daemon itself */
};

/* A migration this daemon takes part in (either side). */
struct store_mig {
	char id[33];       /* the same on both sides */
	char vm_id[33];
	char vm_name[64];
	char role[16];     /* "source" or "destination" */
	char peer[256];    /* the other daemon's address, as given */
	char phase[32];    /* the step about to be taken or being taken */
	char *info_json;   /* mode, storage, the VM's state before, ... */
	int64_t created_ms;
};

/* Insert, or replace the row with the same id (a new phase): one
 * transaction. */
int store_mig_put(struct store *s, const struct store_mig *m);
/* -ENOENT if there is no such migration. */
int store_mig_delete(struct store *s, const char *id);
/* Every migration, oldest first; *ret a malloc'd array of n. */
int store_mig_list(struct store *s, struct store_mig **ret, size_t *ret_n);
void store_mig_list_free(struct store_mig *list, size_t n);

/* A setting's JSON text (malloc'd), or -ENOENT. */
int store_setting_get(struct store *s, const char *key, char **ret);
int store_setting_put(struct store *s, const char *key, const char *value);
/* -ENOENT if there is no such setting. */
int store_setting_delete(struct store *s, const char *key);

/* -EEXIST if the name or idx is taken. */
int store_net_insert(struct store *s, const struct store_net *net);
/* -ENOENT if there is no such network. */
int store_net_delete(struct store *s, const char *name);
/* Every network, by name; *ret a malloc'd array of n. */
int store_net_list(struct store *s, struct store_net **ret, size_t *ret_n);
void store_net_list_free(struct store_net *list, size_t n);

/* Open (creating if needed) the database at path, apply migrations. */
int store_open(const char *path, struct store **ret);
void store_close(struct store *s);

/* -EEXIST if the name is taken (the unique index decides, no race). */
int store_vm_insert(struct store *s, const struct store_vm *vm);
/* Replace every mutable column of the row with this id. -ENOENT if none. */
int store_vm_update(struct store *s, const struct store_vm *vm);
/* The row and its snapshots' rows, in one transaction. */
int store_vm_delete(struct store *s, const char *id);
/* By name. -ENOENT if none. */
int store_vm_get(struct store *s, const char *name, struct store_vm **ret);
/* All VMs ordered by name. *ret is a malloc'd array of n pointers. */
int store_vm_list(struct store *s, struct store_vm ***ret, size_t *ret_n);
void store_vm_free(struct store_vm *vm);
void store_vm_list_free(struct store_vm **list, size_t n);
int store_vm_count(struct store *s, size_t *ret_n);

/* A snapshot's row, and it becomes its VM's current snapshot: one
 * transaction. -EEXIST if the VM has a snapshot of that name. */
int store_snap_insert(struct store *s, const struct store_snap *snap);
/* Remove a snapshot: its children take its parent, and a VM whose current
 * snapshot it was descends from that parent now. One transaction. */
int store_snap_delete(struct store *s, const struct store_snap *snap);
/* A VM's snapshots, oldest first; *ret a malloc'd array of n. */
int store_snap_list(struct store *s, const char *vm_id, struct store_snap **ret, size_t *ret_n);
void store_snap_list_free(struct store_snap *list, size_t n);

/* Append to the event log; fills ev->seq, and ev->time_ms when it is 0
 * (now). */
int store_event_append(struct store *s, struct store_event *ev);

/* The most a single store_event_list returns; bounds what one request can
 * make the daemon allocate. */
#define STORE_EVENT_LIST_MAX 10000

/*
 * The most recent limit events (0 or more than STORE_EVENT_LIST_MAX: that
 * maximum) with time_ms >= since_ms, of one VM (by name) or of all when vm
 * is NULL; returned oldest first (by seq). *ret is a malloc'd array to
 * free(), NULL when *ret_n is 0.
 */
int store_event_list(struct store *s, const char *vm, int64_t since_ms, size_t limit,
		     struct store_event **ret, size_t *ret_n);
/* Drop events with time_ms < before_ms; returns how many went. */
int store_event_prune(struct store *s, int64_t before_ms);

#endif
