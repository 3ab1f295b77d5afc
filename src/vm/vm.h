/*
 * vm: the model. A VM's spec (its virtual hardware), how a spec is read
 * from and written to JSON with validation, and the state machine that
 * says which action is allowed in which state.
 *
 * Nothing here does I/O except checking that files named in a spec exist.
 * This header is the whole interface of the folder.
 */
#ifndef WARREN_VM_H
#define WARREN_VM_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "net/net.h"
#include "util/util.h"

#define VM_NAME_MAX     63
#define VM_DISK_NAME_MAX 31
#define VM_MAX_DISKS    16
#define VM_MAX_LABELS   64
#define VM_MIN_MEMORY   (16ULL << 20)
#define VM_MAX_CPUS     1024          /* ceiling even when no host limits apply */
#define VM_MIN_DISK_SIZE (1ULL << 20)
#define VM_CMDLINE_MAX  2047          /* Linux x86 COMMAND_LINE_SIZE less the NUL */
#define VM_LABEL_KEY_MAX 63
#define VM_LABEL_VALUE_MAX 255
#define VM_REQUEST_MAX  (1u << 20) /* largest accepted request body */

#define VM_MAX_NICS     8             /* names nic0 .. nic7 (QEMU_NIC_PORTS) */
#define VM_MAX_PIN      256           /* vCPUs that can be pinned one by one */
#define VM_DEFAULT_WEIGHT 100
#define VM_DENSITY_WEIGHT 50
#define VM_MAX_WEIGHT   10000

struct vm_disk {
	char name[VM_DISK_NAME_MAX + 1]; /* [a-z0-9][a-z0-9-]*, unique in the VM */
	uint64_t size;                   /* bytes; 0 = the image's size (image set) */
	char *image;                     /* base image for an overlay, or NULL */
	bool readonly;
	uint64_t iops; /* I/O operations per second, reads and writes; 0 = no limit */
	uint64_t bps;  /* bytes per second; 0 = no limit */
};

/* What a VM may take from the host (see docs/resources.md). */
struct vm_resources {
	unsigned cpu_weight;         /* share under contention, 1..10000 */
	double cpu_limit;            /* CPUs at most, e.g. 1.5; 0 = no limit */
	uint64_t memory_limit;       /* QEMU as a whole (soft limit); 0 = none */
	uint64_t memory_reservation; /* what admission counts; 0 = the memory */
	int pin[VM_MAX_PIN];         /* host CPU of vCPU i */
	size_t n_pin;                /* 0, or cpus */
};

enum vm_nic_model { VM_NIC_VIRTIO, VM_NIC_E1000 };

/* A network adapter. The daemon fills in mac and ip when the client left
 * them out (ip_auto then says the address was chosen, not asked for). */
struct vm_nic {
	char name[8];                 /* "nic<N>", N < VM_MAX_NICS; unique in the VM */
	char network[NET_NAME_MAX + 1];
	struct net_mac mac;           /* all zero: not chosen yet */
	uint32_t ip;                  /* IPv4, host order; 0: not chosen yet */
	bool ip_auto;                 /* ip was chosen by the daemon */
	unsigned mtu;                 /* 0: the network's */
	uint64_t rate;                /* bit/s each way; 0: no limit */
	enum vm_nic_model model;
	bool trust;                   /* may send with any MAC and IP */
	bool link_down;
	unsigned vlan;                /* 0: the network's own segment */
};

enum vm_security { VM_SECURITY_STRICT, VM_SECURITY_TRUSTED };
enum vm_performance { VM_PERF_BALANCED, VM_PERF_LATENCY, VM_PERF_DENSITY };

struct vm_label {
	char *key;
	char *value;
};

struct vm_spec {
	char name[VM_NAME_MAX + 1];
	unsigned cpus;
	uint64_t memory; /* bytes */
	/* Direct kernel boot when kernel is set; otherwise firmware boots the
	 * first disk. */
	char *kernel;
	char *initrd;
	char *cmdline;
	struct vm_disk disks[VM_MAX_DISKS];
	size_t n_disks;
	bool serial; /* serial console captured by the daemon; default true */
	struct vm_label labels[VM_MAX_LABELS];
	size_t n_labels;
	struct vm_nic nics[VM_MAX_NICS];
	size_t n_nics;
	struct vm_resources res;
	enum vm_security security;
	enum vm_performance performance;
};

/* What the host allows; validation rejects specs beyond these. A zero
 * member means "no host limit" (VM_MAX_CPUS still applies). */
struct vm_limits {
	unsigned max_cpus;
	uint64_t max_memory;
	/* Reading back a stored spec: files it names may have been removed
	 * since; that must not make the VM unreadable. */
	bool skip_file_checks;
};

/*
 * Validate a VM name: [a-z0-9][a-z0-9-]{0,62}. On failure fills err with
 * code "invalid", field "name" and a message that says what is allowed.
 */
int vm_name_validate(const char *name, struct werr *err);

/*
 * Read a spec from a create request body. Accepted keys (anything else is
 * an error naming the key):
 *   name (string, required), cpus (integer >= 1, default 1),
 *   memory (integer bytes or size string "512M", default 256M),
 *   kernel, initrd, cmdline (strings; kernel and initrd must be existing
 *   regular files; initrd and cmdline need kernel),
 *   disks (array of {name, size, image, readonly, bus:"virtio"}; size is a
 *   string or integer and required unless image is set; image must be an
 *   existing regular file), serial (bool, default true),
 *   labels (object of string values; keys [a-zA-Z0-9._/-]{1,63}),
 *   nics (array of {name "nicN", network (required), mac, ip, ip_auto,
 *   mtu 68..65535, rate "10Mbit", model "virtio"|"e1000", trust (bool),
 *   link "up"|"down", vlan 1..4094}; mac and ip are checked for shape here,
 *   against networks and other VMs by the daemon).
 * Without kernel, at least one disk is needed (firmware boot).
 * kernel, initrd and image must be absolute paths (the daemon's working
 * directory means nothing to a client). null stands for "unset" in kernel,
 * initrd, cmdline, disks[].image and disks[].size, as in the canonical form.
 * Labels are kept sorted by key. limits may be NULL (no host limits);
 * limits->skip_file_checks leaves out the file checks (see vm_spec_load).
 * On failure returns -EINVAL (err code "invalid", or "too_large" for too
 * many disks or labels and over-long cmdline or label values) or -ENOMEM.
 * Nothing is allocated on failure.
 */
int vm_spec_from_json(json_t *body, const struct vm_limits *limits, struct vm_spec **ret_spec,
		      struct werr *err);
/*
 * Re-read a spec the store kept (its canonical form): the same checks as
 * vm_spec_from_json except host limits and the existence of files, so that
 * a VM stays visible after its kernel or image was removed or the host
 * shrank; starting it is where those are reported.
 */
int vm_spec_load(json_t *stored, struct vm_spec **ret_spec, struct werr *err);
/*
 * Change what a VM may take from the host: body has any of cpu_weight,
 * cpu_limit, memory_limit, memory_reservation, pin and disks
 * ({"NAME": {"iops": n, "bps": size}}) and nics ({"nic0": {"rate":
 * "20Mbit", "link": "down"}}: rate and link), null clearing a limit. The result,
 * a new spec in *ret, is validated as a whole, like a create; spec itself
 * is not changed.
 */
int vm_spec_patch(const struct vm_spec *spec, json_t *body, const struct vm_limits *limits,
		  struct vm_spec **ret, struct werr *err);
const char *vm_security_to_string(enum vm_security s);
const char *vm_nic_model_to_string(enum vm_nic_model m);
/* The NIC index N of a name "nicN" (the spec guarantees the shape). */
unsigned vm_nic_index(const struct vm_nic *nic);
/* The lowest "nicN" name no NIC of spec has; -ENOSPC when all are taken. */
int vm_nic_free_name(const struct vm_spec *spec, char name[8]);
/* Read one NIC as a client writes it ({"network": "lan", "ip": ...}, the
 * keys of nics[] below) into *ret, named field in errors. */
int vm_nic_from_json(json_t *v, const char *field, struct vm_nic *ret, struct werr *err);
json_t *vm_nic_to_json(const struct vm_nic *nic);
const char *vm_performance_to_string(enum vm_performance p);

/* The canonical JSON form (sizes as integer bytes; every key present, null
 * for unset kernel/initrd/cmdline/image and for a disk size taken from its
 * image); reading it back with vm_spec_from_json yields an equal spec.
 * NULL on allocation failure. */
json_t *vm_spec_to_json(const struct vm_spec *spec);
void vm_spec_free(struct vm_spec *spec);
static inline void vm_spec_freep(struct vm_spec **s)
{
	vm_spec_free(*s);
}
#define _cleanup_vm_spec_ _cleanup_(vm_spec_freep)

/* ---- states and actions ---------------------------------------------- */

enum vm_state {
	VM_STOPPED,  /* defined, not running */
	VM_STARTING, /* QEMU launched, not yet running guest code */
	VM_RUNNING,
	VM_PAUSED,
	VM_STOPPING, /* shutdown or poweroff in progress */
	VM_CRASHED,  /* QEMU died unexpectedly; last log lines kept */
	VM_SUSPENDING, /* memory and device state being saved to disk */
	VM_SUSPENDED,  /* saved to disk, no QEMU; start resumes the guest */
	VM_INCOMING,   /* being migrated here: QEMU waits for or loads the guest */
	_VM_STATE_MAX,
};

enum vm_action {
	VM_ACTION_START,
	VM_ACTION_SHUTDOWN,
	VM_ACTION_POWEROFF,
	VM_ACTION_REBOOT,
	VM_ACTION_RESET,
	VM_ACTION_PAUSE,
	VM_ACTION_RESUME,
	VM_ACTION_DELETE,
	VM_ACTION_EXEC,
	VM_ACTION_CONSOLE,
	VM_ACTION_SUSPEND,
	_VM_ACTION_MAX,
};

const char *vm_state_to_string(enum vm_state s);
int vm_state_from_string(const char *s, enum vm_state *ret);
const char *vm_action_to_string(enum vm_action a);
/* Only the actions reachable as /actions/{name}: start shutdown poweroff
 * reboot reset pause resume suspend. Unknown: -EINVAL with a werr listing them. */
int vm_action_from_string(const char *s, enum vm_action *ret, struct werr *err);

/*
 * May action a be taken in state s? 0 if yes. Otherwise -EBUSY and err
 * gets code "conflict" and a message naming the current state, e.g.
 * "cannot pause web1: it is stopped". force lets DELETE proceed from any
 * state. name is only used in the message.
 */
int vm_action_check(const char *name, enum vm_state s, enum vm_action a, bool force,
		    struct werr *err);

/* Does the VM hold a QEMU process in this state? */
bool vm_state_is_active(enum vm_state s);

#endif
