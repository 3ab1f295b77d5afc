/*
 * qemu: everything that touches QEMU or the host's hypervisor interface.
 *
 * This header is the whole interface of the folder.
 */
#ifndef WARREN_QEMU_H
#define WARREN_QEMU_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct event_base;

/* ---- accelerator probe (accel.c) ------------------------------------- */

enum accel_kind { ACCEL_TCG, ACCEL_KVM };

enum accel_mode { ACCEL_MODE_AUTO, ACCEL_MODE_KVM, ACCEL_MODE_TCG };

/*
 * What the probe observed. Gathering (accel_probe) and deciding
 * (accel_decide) are separate so that the decision can be tested for every
 * kind of host without owning one.
 */
struct accel_facts {
	bool dev_present;  /* the KVM device node exists */
	int open_err;      /* 0, or the errno of opening it read-write */
	int api_version;   /* KVM_GET_API_VERSION, or -1 if not asked */
	int run_err;       /* 0: test guest finished correctly; -ETIMEDOUT; other -errno */
	uint64_t run_ns;   /* wall time of the test guest (when it finished) */
	uint64_t bound_ns; /* the time it was allowed */
	char run_detail[128]; /* what went wrong inside the test guest, if anything */
};

struct accel_choice {
	enum accel_kind kind;
	char reason[256];
};

#define ACCEL_PROBE_BOUND_NS (400ULL * 1000 * 1000)

/* Observe the KVM device at dev_path (normally "/dev/kvm"), running a test
 * guest in a child process that is killed after bound_ns. Never fails:
 * whatever goes wrong is recorded in the facts. */
void accel_probe(const char *dev_path, uint64_t bound_ns, struct accel_facts *ret_facts);

/* Pure: choose an accelerator from facts and the configured mode. */
void accel_decide(const struct accel_facts *facts, enum accel_mode mode,
		  struct accel_choice *ret_choice);

const char *accel_kind_to_string(enum accel_kind kind);
int accel_mode_from_string(const char *s, enum accel_mode *ret_mode);

/* ---- QEMU command line (argv.c) --------------------------------------- */

struct qemu_disk {
	const char *id;   /* device id, e.g. "root"; [a-z0-9-] */
	const char *path; /* qcow2 file */
	bool readonly;
};

/*
 * Everything QEMU needs to know, already decided by the layers above. All
 * strings are borrowed. Paths of sockets and files are absolute.
 */
/* A network adapter on a host tap. */
struct qemu_nic {
	const char *id;     /* "nicN": device "nic-nicN", netdev "net-nicN" */
	unsigned port;      /* N: it sits in hot-plug port "nicportN" */
	const char *tap;    /* host interface name */
	const char *mac;    /* "52:57:..." */
	const char *model;  /* "virtio" or "e1000" */
	unsigned mtu;       /* virtio: host_mtu; 0 leaves it out */
};

/* PCIe root ports every machine gets, so that NICs can be hot-plugged;
 * NIC N always sits in port N. */
#define QEMU_NIC_PORTS 8

struct qemu_machine {
	const char *vm_id; /* 32 hex; also given as -uuid-like tag so ps shows it */
	const char *name;
	unsigned cpus;
	uint64_t memory; /* bytes, multiple of 1 MiB */
	enum accel_kind accel;
	const char *kernel; /* NULL: firmware boot from the first disk */
	const char *initrd;
	const char *cmdline;
	const struct qemu_disk *disks;
	size_t n_disks;
	const struct qemu_nic *nics;
	size_t n_nics;
	const char *qmp_path;     /* QMP unix socket (QEMU is the server) */
	const char *console_path; /* serial console unix socket, or NULL for none */
	const char *qga_path;     /* guest agent unix socket */
	const char *pid_path;     /* -pidfile */
	bool start_paused;        /* -S: the daemon attaches, then sends cont */
	/* -incoming: a migration URI to load saved memory and device state
	 * from (e.g. "exec:cat FILE"), or NULL for a normal boot. */
	const char *incoming;
	/* QEMU's seccomp sandbox: obsolete system calls, privilege changes,
	 * spawning processes and resource control denied. */
	bool sandbox;
	unsigned tb_size_mib; /* TCG translation cache; 0 = QEMU's default */
};

/*
 * Build QEMU's argv (argv[0] = binary). The result is NULL-terminated and
 * freed with strv_free. Deterministic, so it is tested with golden files.
 */
int qemu_argv_build(const char *binary, const struct qemu_machine *m, char ***ret_argv);

/* ---- processes (proc.c) ------------------------------------------------ */

/*
 * Start argv in a new session (setsid) so it outlives the daemon. Its stdin
 * is /dev/null, stdout and stderr append to log_path; every other fd is
 * closed; signal mask and dispositions are reset. argv[0] without a '/' is
 * looked up in PATH. Returns once exec has happened: a binary that cannot
 * be executed is -errno here (-ENOENT, -EACCES), not a pid that dies.
 */
int qemu_spawn(char *const argv[], const char *log_path, pid_t *ret_pid);
/* The same, the process running as uid/gid (no supplementary groups);
 * uid (uid_t)-1 keeps the caller's. The log is opened before the switch. */
int qemu_spawn_as(char *const argv[], const char *log_path, uid_t uid, gid_t gid, pid_t *ret_pid);
/* starttime (field 22 of /proc/<pid>/stat): with the pid it names one
 * process for the lifetime of the host. -ENOENT if gone. */
int proc_start_time(pid_t pid, uint64_t *ret);
/* 1 if /proc/<pid>/cmdline contains the argument needle exactly, 0 if not,
 * -errno if the process cannot be read. */
int proc_cmdline_has_arg(pid_t pid, const char *needle);
/* pidfd_open(2); -errno on failure (e.g. -ENOSYS on old kernels). */
int proc_pidfd_open(pid_t pid);
/* Last max_lines lines of a text file (looking at its last 64 KiB at most),
 * without the final newline; malloc'd, or NULL if there are none. */
char *file_tail_lines(const char *path, unsigned max_lines);

/* ---- QMP client (qmp.c) ------------------------------------------------ */

/*
 * Asynchronous QMP over a Unix socket on a libevent base: connect, read
 * the greeting, negotiate capabilities, then id-matched commands and
 * events. Framing is one JSON object per line; a line longer than
 * QMP_MAX_LINE closes the connection. Like the guest agent client, it
 * writes to sockets whose peer may be gone: the process must ignore
 * SIGPIPE.
 */
#define QMP_MAX_LINE (4u << 20)

struct qmp;

struct qmp_error {
	const char *klass; /* "GenericError", ..., or "Disconnected" */
	const char *desc;
};

/* result is the "return" member (borrowed, valid during the call) or NULL
 * when err is set. */
typedef void (*qmp_reply_fn)(struct qmp *q, json_t *result, const struct qmp_error *err,
			     void *userdata);

struct qmp_callbacks {
	/* Capabilities negotiated; commands may be sent (they may be sent
	 * earlier too: they are queued). */
	void (*on_ready)(struct qmp *q, void *userdata);
	/* An asynchronous event. data may be NULL. Borrowed. */
	void (*on_event)(struct qmp *q, const char *event, json_t *data, void *userdata);
	/* The connection is gone (EOF, error, or a protocol violation). Every
	 * pending command has already had its callback with klass
	 * "Disconnected". The qmp object stays valid until qmp_free. */
	void (*on_closed)(struct qmp *q, void *userdata);
};

/* Connects at once: -ENOENT (no socket), -ECONNREFUSED (nobody listens)
 * and -EAGAIN (backlog full) come back here, not through on_closed. No
 * callback is ever called from inside qmp_connect or qmp_execute. */
int qmp_connect(struct event_base *base, const char *path, const struct qmp_callbacks *cb,
		void *userdata, struct qmp **ret);
/* args may be NULL; its reference is stolen (also on failure). reply may be
 * NULL. -ENOTCONN once the connection has closed. */
int qmp_execute(struct qmp *q, const char *command, json_t *args, qmp_reply_fn reply,
		void *userdata);
/* The same, with fd passed along (SCM_RIGHTS), as getfd and add-fd want.
 * Only once ready (-EAGAIN before). The caller keeps its fd; QEMU gets a
 * copy. */
int qmp_execute_fd(struct qmp *q, const char *command, json_t *args, int fd, qmp_reply_fn reply,
		   void *userdata);
bool qmp_is_ready(const struct qmp *q);
/* Capabilities were negotiated at some point (still true once closed, so
 * on_closed can tell a lost connection from one that never came up). */
bool qmp_was_ready(const struct qmp *q);
/* Commands still waiting get their callback at once with klass
 * "Disconnected" (from inside this call); on_closed is not called. Safe
 * with NULL and from inside a callback of this qmp (the memory is freed
 * when that callback returns). */
void qmp_free(struct qmp *q);

/* A non-blocking, close-on-exec stream socket connected to the Unix socket
 * at path (QMP, guest agent, serial console), or -errno. */
int qemu_socket_connect(const char *path);

/* Framing, exposed for tests and fuzzing: split buffered bytes into
 * messages. Feed bytes, then call next until it returns 0. */
struct qmp_framer;
struct qmp_framer *qmp_framer_new(size_t max_line);
void qmp_framer_free(struct qmp_framer *f);
int qmp_framer_feed(struct qmp_framer *f, const void *buf, size_t len);
/* 1 and a new reference in *ret: a message; 0: need more bytes; -EBADMSG:
 * not a JSON object (that line is dropped); -EMSGSIZE: line too long. */
int qmp_framer_next(struct qmp_framer *f, json_t **ret);

/* ---- guest agent client (qga.c) ---------------------------------------- */

/*
 * One request to the QEMU guest agent over its Unix socket (QEMU is the
 * server; the agent inside the guest answers). Each call opens its own
 * connection, resynchronises with guest-sync-delimited (0xFF), runs, and
 * closes. The resync is bounded by 3 s (or timeout_ms if shorter) and the
 * command itself by timeout_ms from then on, so a guest without an agent,
 * or a paused guest, ends in -ETIMEDOUT within seconds.
 */
struct qga_exec_result {
	int exit_code; /* -1 if killed by a signal */
	int signal;    /* 0 if none */
	char *out;     /* decoded stdout (NUL-terminated; may contain NULs) */
	size_t out_len;
	char *err;
	size_t err_len;
	bool out_truncated;
	bool err_truncated;
};

/* err < 0 on failure with message (borrowed) saying what went wrong in
 * words, e.g. "guest agent did not answer within 5.0 s":
 *   -ENOENT, -ECONNREFUSED  no socket / QEMU not running
 *   -ETIMEDOUT              no answer (no agent, paused guest) or, for
 *                           guest-exec, the command still runs
 *   -EREMOTEIO              the agent answered with an error (its desc)
 *   -ECONNRESET, -EBADMSG, -EMSGSIZE  connection lost / broken replies
 * When qga_exec or qga_command returns 0, done is called exactly once,
 * later, from the event loop; on a negative return it is never called.
 * QEMU serves one agent connection at a time, so calls to one VM should
 * be made one after the other. */
typedef void (*qga_exec_fn)(void *userdata, int err, const char *message,
			    const struct qga_exec_result *res);
typedef void (*qga_reply_fn)(void *userdata, int err, const char *message, json_t *result);

/* Run argv[0] with argv[1..] in the guest (guest-exec with capture-output,
 * then guest-exec-status until exited). */
int qga_exec(struct event_base *base, const char *path, char *const argv[], unsigned timeout_ms,
	     qga_exec_fn done, void *userdata);
/* The same with bytes for the command's stdin (guest-exec input-data). */
int qga_exec_input(struct event_base *base, const char *path, char *const argv[],
		   const void *input, size_t input_len, unsigned timeout_ms, qga_exec_fn done,
		   void *userdata);
/* Any other command. no_reply: the command (guest-shutdown) answers
 * nothing on success; done is called with err 0 once it has been sent and
 * the agent has not objected within a short grace period. args stolen. */
int qga_command(struct event_base *base, const char *path, const char *command, json_t *args,
		bool no_reply, unsigned timeout_ms, qga_reply_fn done, void *userdata);

#endif
