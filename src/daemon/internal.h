/*
 * Private to src/daemon: the daemon context and the runtime state of each
 * VM, shared by the files of this folder. Nothing outside daemon/ includes
 * this; the folder's interface is daemon.h.
 */
#ifndef WARREN_DAEMON_INTERNAL_H
#define WARREN_DAEMON_INTERNAL_H

#include <limits.h>
#include <sys/un.h>

#include <event2/event.h>
#include <event2/bufferevent.h>
#include <sys/types.h>

#include "daemon/daemon.h"
#include "host/host.h"
#include "net/net.h"
#include "qemu/qemu.h"
#include "store/store.h"
#include "vm/vm.h"

#define CONSOLE_LOG_MAX (1u << 20) /* default cap per file; one rotation kept */
#define CRASH_LOG_LINES 15
#define DEFAULT_SHUTDOWN_TIMEOUT_S 60
#define POWEROFF_GRACE_MS 5000  /* quit → SIGKILL */
#define AGENT_PING_MS 3000     /* bound on "is there an agent at all" */

struct daemon_config {
	const char *state_dir;
	const char *storage_dir;    /* VMs' disks and saved memory: <state_dir>/vms */
	char *peer_token;           /* the secret of daemons that migrate to each other */
	const char *socket_path;
	const char *qemu_binary;
	const char *qemu_img;
	enum accel_mode accel_mode;
	const char *kvm_device;
	unsigned shutdown_timeout_s;
	unsigned stats_interval_ms;
	uint64_t console_log_max; /* bytes per console log file */
	const char *metrics_listen; /* "HOST:PORT" for Prometheus scrapes, or NULL */
	const char *listen;         /* "HOST:PORT": the API over TCP for other members */
	const char *config_path;    /* the config file read, or NULL */
	const char *cgroup_parent;  /* VMs' groups go under this one */
	const char *qemu_user;      /* QEMU of a strict VM runs as this user */
	unsigned events_retention_days;
};

struct waiter; /* a reply waiting for a VM to leave its QEMU behind */
struct snap_job;
struct op;
struct console;

struct vm_rt {
	struct daemon *d;
	struct vm_rt *next;
	char id[33];
	struct vm_spec *spec;
	enum vm_state state;
	pid_t pid;
	uint64_t pid_start;
	int64_t created_ms;
	int64_t started_ms;
	char *crash_log;

	/* QEMU process watch: a child of ours reports through SIGCHLD; one
	 * adopted after a restart through its pidfd. */
	bool is_child;
	int pidfd;
	struct event *pidfd_ev;

	struct qmp *qmp;
	struct event *retry_ev; /* QMP connect retries while QEMU starts */
	unsigned retries;

	bool stop_requested; /* the exit that follows is not a crash */
	bool guest_shutdown; /* QEMU reported SHUTDOWN */
	struct event *kill_ev; /* shutdown timeout, then quit → SIGKILL */
	int kill_phase;        /* what kill_ev does next: KILL_PHASE_* in vmrt.c */

	struct console *con;
	struct reply *start_reply; /* answered when the guest runs (or start fails) */
	struct op *stop_op;         /* shutdown operation in progress */
	struct waiter *waiters;     /* answered when QEMU is gone */
	bool deleting;
	struct vm_stats *stats; /* stats.c */

	/* Suspend to disk (suspend.c): memory.state holds a saved guest. */
	struct op *suspend_op;  /* suspend in progress */
	bool suspend_saved;     /* the state file is complete: QEMU may go */
	bool suspend_was_running;
	bool resuming;          /* this start loads memory.state */

	/* Snapshots and clones (snapshot.c, clone.c). */
	char current_snap[17]; /* id of the snapshot the present state grew from */
	char origin[33];       /* the VM a linked clone was made from */
	bool fork_pending;     /* a clone's guest has yet to get its identity */
	struct op *busy_op;    /* a snapshot, restore or clone holds the VM */
	struct op *start_op;   /* a start reported through an operation (restore) */
	struct snap_job *snap_saving; /* the snapshot whose memory QEMU is writing */
	struct op *mig_op;            /* progress of a memory save goes here */
	struct deferred *after_told;  /* guest commands waiting for suspend.c's telling */
	bool telling;
	struct cg_vm cg;              /* resources.c */
	bool in_cg;
	struct event *mig_poll_ev;
	struct nic_unplug *unplug;    /* nic.c: a NIC QEMU is unplugging */
	struct mig *mig;              /* migrate.c: a migration it takes part in */
	json_t *guest_ifaces;         /* the agent's last interface list, or NULL */
	int64_t guest_ifaces_ms;      /* when it came (monotonic) */
	bool asking_ifaces;
};

/* A network at run time (network.c). */
struct netw {
	struct netw *next;
	char name[NET_NAME_MAX + 1];
	unsigned idx; /* its bridges are wn<idx>[v<vlan>] */
	struct net_cidr subnet;
	uint32_t gateway;
	bool dhcp;
	bool nat;
	unsigned mtu;
	unsigned vlan; /* 0: untagged */
	char uplink[NET_IFNAME_MAX + 1];
	int64_t created_ms;
	/* The lease file as last read (netw_leases_read), and when. */
	struct net_lease *leases;
	size_t n_leases;
	struct timespec leases_mtime;
	off_t leases_size;
};

struct daemon {
	struct event_base *base;
	struct daemon_config cfg;
	struct store *store;
	struct accel_choice accel;
	struct vm_limits limits;
	struct vm_rt *vms;
	struct event *sigchld_ev;
	struct child *children;
	struct daemon_sub *subs; /* live event followers */
	struct op *ops;
	char **creating; /* names with a create in progress */
	unsigned clone_jobs; /* clones in progress: their bases are not yet named */
	struct host_inventory inventory;
	struct host_capacity_config capacity;
	struct cg_root cgroups;
	struct event *stats_ev;
	struct event *prune_ev;
	struct netw *nets;
	enum net_vlan_mode vlan_mode;
	bool vlan_probed;
	struct peers *peers; /* peer.c */
	struct cluster *cluster; /* cluster.c: NULL when standalone */
	struct mig *migs;    /* migrate.c: migrations in progress, either side */
	struct event *mig_lease_ev;
	/* Specs of VMs being created or cloned: their MACs and addresses are
	 * taken although the VMs are not in vms yet. */
	const struct vm_spec **nic_holds;
	size_t n_nic_holds;
};

/* vmrt.c */
struct vm_rt *vm_rt_find(struct daemon *d, const char *name);
/* The VM with this id, for callbacks that must not hold a pointer to a
 * VM that may be deleted meanwhile. */
struct vm_rt *vm_rt_find_id(struct daemon *d, const char *id);
int vm_rt_persist(struct vm_rt *vm);
/* The VM's first row (-EEXIST if its name or id is taken). */
int vm_rt_insert(struct vm_rt *vm);
void vm_rt_set_state(struct vm_rt *vm, enum vm_state s);
/* The VM as the API shows it; with_spec false for list items, where
 * serialising every spec would dominate the cost of a list. */
json_t *vm_rt_to_json_full(const struct vm_rt *vm, bool with_spec);
#define vm_rt_to_json(vm) vm_rt_to_json_full((vm), true)
void vm_rt_free(struct vm_rt *vm);
/* A VM of this id made from spec (taken), not linked yet; NULL (spec
 * freed) without memory. */
struct vm_rt *vm_rt_new(struct daemon *d, struct vm_spec *spec, enum vm_state state,
			const char *id, int64_t created_ms);
/* Where the VM's runtime files are (sockets, logs, pid file): the state
 * directory's vms/<id>/. */
int vm_rt_dir(const struct vm_rt *vm, const char *file, char *buf, size_t len);
/* Where its data is (disks, saved memory): the storage directory's <id>/,
 * which daemons on shared storage have in common. Often the same as
 * vm_rt_dir. */
int vm_rt_data(const struct vm_rt *vm, const char *file, char *buf, size_t len);
/* Make both directories (-EEXIST if the VM's is there already), or remove
 * them (with_data false: the data stays, e.g. on shared storage that
 * another daemon now uses). */
int vm_rt_mkdirs(const struct vm_rt *vm);
int vm_rt_rmdirs(const struct vm_rt *vm, bool with_data);
/* The qcow2 file of disk i of the VM's spec. */
int vm_rt_disk_path(const struct vm_rt *vm, size_t i, char *buf, size_t len);
int vm_rt_start(struct vm_rt *vm, struct reply *r);
/* Start QEMU waiting for a migration (-incoming defer); the VM stays
 * incoming and mig_qemu_ready follows once QMP is up. */
int vm_rt_start_incoming(struct vm_rt *vm, struct werr *err);
void vm_rt_poweroff(struct vm_rt *vm, struct reply *r_when_gone);
/* When QEMU is gone, answer r with the VM (or run fn). */
void vm_rt_wait_gone(struct vm_rt *vm, struct reply *r, void (*fn)(struct vm_rt *vm, void *ud),
		     void *ud);
void vm_rt_on_exit(struct vm_rt *vm, int wstatus, bool status_known);
int vm_rt_reattach(struct vm_rt *vm);
void vm_rt_shutdown_op(struct vm_rt *vm, const char *mode, unsigned timeout_s, struct reply *r);

/* children.c: processes of ours other than QEMU (qemu-img, ...) */
typedef void (*child_done_fn)(void *ud, int wstatus);
int child_run(struct daemon *d, char *const argv[], const char *log_path, child_done_fn done,
	      void *ud, pid_t *ret_pid);
int children_init(struct daemon *d);
void children_fini(struct daemon *d);

/* console.c */
int console_open(struct vm_rt *vm);
void console_close(struct vm_rt *vm);
int console_subscribe(struct vm_rt *vm, struct stream *s, struct daemon_sub **ret);
int console_write(struct vm_rt *vm, const void *buf, size_t len);

/* events.c */
void events_emit_state(struct daemon *d, const char *vm, enum vm_state from, enum vm_state to);
void events_emit_action(struct daemon *d, const char *vm, const char *action,
			const char *result, int uid);
void events_fini(struct daemon *d);
/* Generic subscription record, shared by events and console. */
struct daemon_sub {
	struct daemon_sub *next;
	struct stream *stream;
	void (*unlink)(struct daemon_sub *sub);
	void *owner; /* struct daemon * or struct console * */
	char vm[VM_NAME_MAX + 1]; /* event filter, "" for all */
};
void sub_list_end_all(struct daemon_sub **head);
/* Write to every subscriber; ones that cannot keep up are ended. */
void sub_list_write(struct daemon_sub **head, const char *vm, const void *buf, size_t len);

/* ops.c */
struct op *op_new(struct daemon *d, const char *vm, const char *action);
/* err with code "cancelled" makes the status "cancelled". */
void op_finish(struct op *op, const struct werr *err, const char *message);
/* percent < 0, done/total < 0: unknown. phase NULL keeps the last one. */
void op_progress(struct op *op, double percent, const char *phase, int64_t done,
		 int64_t total);
/* More about the progress, shown as progress.details (stolen). */
void op_set_details(struct op *op, json_t *details);
/* The cancel hook starts undoing; the owner calls op_finish when done. */
typedef void (*op_cancel_fn)(struct op *op, void *ud);
void op_set_cancel(struct op *op, op_cancel_fn fn, void *ud);
bool op_cancel_asked(const struct op *op);
/* What the operation made ({"vm": ...}, {"snapshot": ...}); stolen. */
void op_set_result(struct op *op, json_t *result);
const char *op_id(const struct op *op);
json_t *op_to_json(const struct op *op);
void ops_fini(struct daemon *d);

/* suspend.c */
void vm_rt_suspend_op(struct vm_rt *vm, const struct caller *c, struct reply *r);
void suspend_on_migration(struct vm_rt *vm, const char *status);
/* QMP is up in a QEMU started with -incoming defer: load the saved state. */
void suspend_begin_incoming(struct vm_rt *vm);
bool suspend_state_exists(struct vm_rt *vm);
/* Report the progress of QEMU's migration (a memory save) into op every
 * quarter second; NULL stops. */
void migration_watch(struct vm_rt *vm, struct op *op);
/* Open path (to write when save, else to read), hand QEMU the descriptor
 * and start the migration into or out of it; fn gets migrate's reply. */
int migration_fd_start(struct vm_rt *vm, const char *path, bool save, qmp_reply_fn fn, void *ud);
/* The resumed guest runs: answer the start, and tell the guest (clock,
 * entropy, a clone's hostname) before any command of ours reaches it. */
void suspend_resumed(struct vm_rt *vm);
/* While the guest is being told: run fn(ud) afterwards and return true.
 * Otherwise false (run it now). */
bool vm_rt_after_told(struct vm_rt *vm, void (*fn)(void *ud), void *ud);
/* Run what waits for the telling (the VM is going away). */
void vm_rt_told(struct vm_rt *vm);
void suspend_reattach(struct vm_rt *vm);

/* vmrt.c, for suspend.c */
void vm_rt_force_quit(struct vm_rt *vm);
/* cont (answered by vmrt.c's start bookkeeping), or cont then fn(ud);
 * both try again while QEMU is still finishing a migration. */
void vm_rt_cont(struct vm_rt *vm);
void vm_rt_cont_then(struct vm_rt *vm, qmp_reply_fn fn, void *ud);
/* The guest runs: answer whoever asked for the start. */
void vm_rt_start_answer(struct vm_rt *vm);
static inline bool vm_rt_start_pending(const struct vm_rt *vm)
{
	return vm->start_reply || vm->start_op;
}

/* stats.c */
int stats_init(struct daemon *d);
void stats_fini(struct daemon *d);
void stats_vm_started(struct vm_rt *vm);
void stats_vm_free(struct vm_rt *vm);
int events_retention_init(struct daemon *d);

/* actions.c */
int daemon_load_vms(struct daemon *d);
/* Create or delete on this daemon alone (cluster_vm.c decides where). */
void vm_create_local(struct daemon *d, const struct caller *caller, json_t *body,
		     struct reply *r);
void vm_delete_local(struct daemon *d, const struct caller *caller, const char *name,
		     bool force, struct reply *r);
void vm_rt_link(struct daemon *d, struct vm_rt *vm);
void vm_rt_unlink(struct daemon *d, struct vm_rt *vm);
/* Names with a create or clone in progress (d->creating). */
bool name_in_creation(struct daemon *d, const char *name);
void creation_done(struct daemon *d, const char *name);
struct vm_rt *vm_find_or_reply(struct daemon *d, const char *name, struct reply *r);
int rm_rf(const char *path);
/* 409 unless the VM is free of snapshot, restore and clone work and of
 * deletion; what names the refused action. */
int vm_rt_check_idle(const struct vm_rt *vm, const char *what, struct werr *err);

/* snapshot.c */
/* MIGRATION events while a snapshot saves memory; false if not ours. */
bool snapshot_on_migration(struct vm_rt *vm, const char *status);
/* Files of snapshots no row names (a save the daemon died in). */
void snapshot_sweep(struct vm_rt *vm);
int snapshot_count(struct daemon *d, const char *vm_id);
/* The snapshot of that name (a copy: free ret->spec_json) and, if
 * ret_parent (64 bytes) is given, its parent's name; -ENOENT with err. */
int snapshot_find(struct daemon *d, const struct vm_rt *vm, const char *name,
		  struct store_snap *ret, char *ret_parent, struct werr *err);

/* resources.c */
/* 507-style refusal (code no_capacity) when the VM would not fit. */
int admission_check(struct vm_rt *vm, struct werr *err);
/* QEMU was just started / found again after a restart / is gone. */
void resources_enter(struct vm_rt *vm);
void resources_readopt(struct vm_rt *vm);
void resources_leave(struct vm_rt *vm);
/* Disk throttling and vCPU affinity through QMP; all: also undo limits
 * that were lifted (after a change), not only set those present. */
void resources_apply_qemu(struct vm_rt *vm, bool all);
json_t *resources_host_json(struct daemon *d);
/* A strict VM's kernel, initrd and images must lie in the state dir. */
int policy_check_paths(struct daemon *d, const struct vm_spec *spec, struct werr *err);

/* clone.c */
/* Bases no VM names any more: removed. */
void bases_sweep(struct daemon *d);
/* 409 while linked clones of vm exist. */
int clone_check_delete(struct vm_rt *vm, struct werr *err);

/* imgjob.c: qemu-img runs one after another */
struct imgjob;
typedef void (*imgjob_done_fn)(void *ud, int failed_step, const char *message);
/* Run each argv in turn (argv[0] may be "qemu-img": the configured one);
 * done gets -1 when all succeeded, else the failing step and qemu-img's
 * last words. Progress from -p output goes to op, weighted by weights
 * (NULL: equal). Takes the argvs. */
int imgjob_run(struct daemon *d, char ***argvs, size_t n, const uint64_t *weights, struct op *op,
	       const char *log_path, imgjob_done_fn done, void *ud, struct imgjob **ret);
/* Kill the running step; done follows with the failure. */
void imgjob_cancel(struct imgjob *j);

/* network.c */
int networks_init(struct daemon *d);
/* After the VMs are loaded: rules and host files, and interfaces of ours
 * that nothing owns (left by a crash) removed. */
void networks_adopt(struct daemon *d);
void networks_fini(struct daemon *d);
struct netw *netw_find(struct daemon *d, const char *name);
/* Make Warren's nftables tables and every network's dnsmasq host files
 * match the NICs of all VMs; logged, not fatal, when it fails. */
int networks_sync(struct daemon *d, struct werr *err);
/* The bridge of the segment vlan (0: the network's own) of net; made
 * (with its uplink) if missing. */
int netw_segment_up(struct daemon *d, const struct netw *net, unsigned vlan, char *bridge,
		    struct werr *err);
/* n->leases as dnsmasq's lease file has them now (read again only when
 * the file changed). */
void netw_leases_read(struct daemon *d, struct netw *n);
/* Remove segment bridges (other than each network's own) no tap uses. */
void netw_segments_gc(struct daemon *d);

/* nic.c */
/* Check spec's NICs against networks and every other VM (self: the VM
 * being changed, whose own NICs do not count as taken) and fill in MACs
 * and addresses left out. renew: a clone, which needs new MACs and
 * addresses (ip_auto ones; fixed ones too, becoming automatic). */
int nics_prepare(struct daemon *d, struct vm_spec *spec, const struct vm_rt *self, bool renew,
		 struct werr *err);
void nics_hold(struct daemon *d, const struct vm_spec *spec);
void nics_release(struct daemon *d, const struct vm_spec *spec);
/* Taps for a start (QEMU runs as uid), and their removal after exit. */
int nics_enter(struct vm_rt *vm, uid_t uid, struct werr *err);
void nics_leave(struct vm_rt *vm);
/* QEMU is up: links that are down, rate limits. */
void nics_apply_qemu(struct vm_rt *vm);
/* Live changes of rate and link after a PATCH. */
int nics_apply_change(struct vm_rt *vm, const struct vm_spec *old, struct werr *err);
void nics_on_device_deleted(struct vm_rt *vm, const char *device);
int nics_qemu_list(const struct vm_rt *vm, struct qemu_nic *out, char taps[][NET_IFNAME_MAX + 1],
		   char macs[][18]);
/* The NICs as the API shows them, with the addresses the agent last
 * reported, or else those of the DHCP leases. */
json_t *nics_to_json(const struct vm_rt *vm);
/* Answer r with the VM, asking its agent for addresses first (at most
 * every few seconds). */
void nics_get_vm(struct vm_rt *vm, struct reply *r);
/* What nic.c keeps on a VM that goes away. */
void nics_vm_free(struct vm_rt *vm);

/* peer.c: requests to another warrend */
struct peer_addr {
	char unix_path[108];
	char url[256];     /* "http://HOST:PORT" when not a Unix socket */
	bool no_token;     /* not a warrend (etcd): no bearer token */
	char token[160];   /* send this token rather than ours */
	char display[256]; /* as the user gave it */
};
struct peer_req;
/* status 0: no answer (error says why); else the HTTP status and the
 * body if it was JSON (borrowed). The request is gone afterwards. */
typedef void (*peer_done_fn)(void *ud, int status, json_t *body, const char *error);
int peer_addr_parse(const char *s, struct peer_addr *ret, struct werr *err);
/* The text a request names (a cluster member's name becomes its address). */
int peer_addr_resolve(struct daemon *d, const char *s, struct peer_addr *ret, struct werr *err);
/* body (stolen) is sent as JSON; else raw (kept by the caller until done)
 * as bytes. done is called later from the loop, never from here. */
int peer_request(struct daemon *d, const struct peer_addr *a, const char *method,
		 const char *path, json_t *body, const void *raw, size_t raw_len,
		 unsigned timeout_ms, peer_done_fn done, void *ud, struct peer_req **ret);
/* A streamed answer (etcd's watch): on_line gets each line of a 200
 * answer as JSON (borrowed) and returns false to end the stream; done
 * follows at the end. No time limit. */
typedef bool (*peer_line_fn)(void *ud, json_t *line);
int peer_stream(struct daemon *d, const struct peer_addr *a, const char *path, json_t *body,
		peer_line_fn on_line, peer_done_fn done, void *ud, struct peer_req **ret);
/* Drop a request; done is not called. */
void peer_cancel(struct peer_req *r);
int peer_init(struct daemon *d);
void peer_fini(struct daemon *d);

/* migrate.c and migrate_in.c */
struct mig;
/* Finish or roll back what the store says was in progress (after the VMs
 * are loaded). */
void migrations_recover(struct daemon *d);
void migrations_fini(struct daemon *d);
const char *mig_describe(const struct mig *m);
json_t *mig_to_json(const struct mig *m);
/* QMP events of a VM in a migration; true if taken. */
bool mig_on_event(struct vm_rt *vm, const char *event, json_t *data);
void mig_qemu_ready(struct vm_rt *vm);
void mig_vm_exited(struct vm_rt *vm);

/* migrate_in.c: the runtime directory of a VM whose data may be there */
int vm_rt_mkdir_runtime(struct vm_rt *vm, bool shared);
/* The VM arrived here by migration (cluster: it is ours now). */
void cluster_vm_arrived(struct daemon *d, struct vm_rt *vm);

/* cluster.c */
int cluster_load(struct daemon *d);
void cluster_fini(struct daemon *d);
/* Extra fields of a VM's JSON in a cluster (host, ha). */
void cluster_vm_json(struct daemon *d, const struct vm_rt *vm, json_t *j);

/* util for the folder */
json_t *json_time_ms(int64_t ms);
void werr_internal(struct werr *e, int r, const char *what);

#endif
