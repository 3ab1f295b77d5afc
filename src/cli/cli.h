/*
 * cli: the warren command-line client.
 *
 * warren turns one command line into one REST call on warrend's Unix
 * socket (plus an operation wait for long actions) and prints the answer as
 * a table, JSON or YAML. The pure parts (argument parsing, value parsers,
 * text and YAML rendering, building a create spec) are kept apart from the
 * HTTP transport and the commands so the unit tests can link them without
 * a daemon. Commands return the process exit status: 0 success, 1 a failed
 * operation, 2 bad usage (exec passes the guest command's status through).
 *
 * This header is the whole interface of the folder.
 */
#ifndef WARREN_CLI_H
#define WARREN_CLI_H

#include <curl/curl.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "util/util.h"

#define CLI_DEFAULT_SOCKET "/run/warren/warren.sock"

enum { CLI_EXIT_OK = 0, CLI_EXIT_FAILED = 1, CLI_EXIT_USAGE = 2 };

/* ---- cleanup helpers for the libraries the client uses --------------- */

/* jansson provides json_decrefp(); NULL is fine. */
#define _cleanup_json_ _cleanup_(json_decrefp)

static inline void curl_freep(char **p)
{
	curl_free(*p);
}
#define _cleanup_curl_free_ _cleanup_(curl_freep)

/* ---- argument parsing (args.c, pure) ---------------------------------- */

/* One long option. Tables end with an entry whose name is NULL. */
struct cli_option {
	const char *name; /* without the leading "--" */
	const char *arg;  /* placeholder shown in help ("N"), NULL for a flag */
	const char *help;
};

struct cli_optval {
	const struct cli_option *opt;
	const char *value; /* points into argv; NULL for a flag */
};

/* Operands and options in command-line order. Strings point into argv,
 * which outlives the parse. */
struct cli_args {
	const char **pos;
	size_t n_pos;
	struct cli_optval *opts;
	size_t n_opts;
};

/*
 * Parse argv[0..argc) against the NULL-terminated list of option tables,
 * appending to *a (zero it before the first call). "--opt value",
 * "--opt=value" and "-h" (for an option named "help") are understood;
 * everything after "--" is an operand. With stop_at_operand the parse ends
 * before the first operand. Returns the number of argv entries consumed, or
 * -EINVAL with err naming the bad option, or -ENOMEM.
 */
int cli_args_parse(struct cli_args *a, int argc, char *const *argv,
		   const struct cli_option *const *tables, bool stop_at_operand, struct werr *err);
void cli_args_clear(struct cli_args *a);
/* Was the option given (flag or valued)? */
bool cli_opt_has(const struct cli_args *a, const char *name);
/* The last value given for the option, or NULL. */
const char *cli_opt_get(const struct cli_args *a, const char *name);

/* Strict unsigned decimal in [0, max]. */
int cli_parse_uint(const char *s, uint64_t max, uint64_t *ret);
/* "30s", "10m", "1h30m", "2d", "500ms"; a bare number means seconds. */
int cli_parse_duration_ms(const char *s, uint64_t *ret_ms);
/* "name=N,size=S[,image=PATH][,readonly][,bus=B][,iops=N][,bps=S]" (or
 * "N,size=S...") to a spec disk object. Values are taken as given, but for
 * iops, which must be a whole number. */
int cli_parse_disk(const char *s, json_t **ret_disk, struct werr *err);
/* "0.5", ".5", "2", "-1.5": a decimal number. Exponents, "inf", "nan" and
 * hexadecimal, which strtod would take, are -EINVAL: nobody means them. */
int cli_parse_decimal(const char *s, double *ret);
/* "KEY=VALUE" given to --opt: *ret_key is a new string, *ret_value points
 * into s. -EINVAL with err ("--opt 'S': expected KEY=VALUE"). */
int cli_parse_label(const char *s, const char *opt, char **ret_key, const char **ret_value,
		    struct werr *err);
/* Every --opt KEY=VALUE of a, in order, set in the object obj[key], which
 * is made when the first is found; its other keys are kept. */
int cli_labels_set(json_t *obj, const char *key, const struct cli_args *a, const char *opt,
		   struct werr *err);
/* The object obj[key], made (in place of anything else there) when it is
 * not one; NULL on allocation failure. */
json_t *cli_json_child(json_t *obj, const char *key);
/* obj[key] = value, taking value (which may be NULL, as a failed json_*()
 * gives); -ENOMEM on failure. */
int cli_json_set(json_t *obj, const char *key, json_t *value);

/* ---- networks and NICs (netspec.c, pure) -------------------------------- */

/* "on", "true", "yes" or "off", "false", "no"; -EINVAL for anything else. */
int cli_parse_onoff(const char *s, bool *ret);
/*
 * "network=NAME[,name=nicN][,mac=MAC][,ip=IP][,mtu=N][,rate=RATE]
 * [,model=M][,trust=on|off][,link=up|down][,vlan=N]" (or "NAME,..." with
 * the network bare and first) to a NIC object of the API: mtu and vlan JSON
 * integers, trust a boolean, the others strings as written. what names the
 * argument in errors ("--nic 'SPEC': ..."). -EINVAL with err for an unknown
 * key, a key given twice or without a value, a value of the wrong form, or
 * no network; ranges and addresses are left to the daemon.
 */
int cli_parse_nic(const char *s, const char *what, json_t **ret_nic, struct werr *err);
/* The POST /v1/networks body of "network create NAME" and its options
 * (--subnet, which is required, --gateway, --dhcp, --nat, --mtu, --vlan,
 * --uplink); only what is given is sent. -EINVAL with err. */
int cli_network_body(const struct cli_args *a, const char *name, json_t **ret_body,
		     struct werr *err);

/* ---- migration (migrate.c, pure) ---------------------------------------- */

/*
 * The POST /v1/vms/NAME/migrate body of "migrate" from its options: --to
 * (required; a relative socket path made absolute when it exists),
 * --live or --offline (mode), --storage shared|copy, --max-downtime
 * (max_downtime_ms: "300ms", "2s" or a bare number of milliseconds),
 * --bandwidth (bytes per second from a size: "1G" is 1 GiB/s) and
 * --no-auto-converge (auto_converge false). Only what is given is sent.
 * -EINVAL with err (field: the body's key) for a missing or empty --to,
 * --live with --offline, another storage, a zero or malformed duration or
 * size; -ENOMEM.
 */
int cli_migrate_body(const struct cli_args *a, json_t **ret_body, struct werr *err);

/* ---- cluster (cluster.c, pure) ------------------------------------------ */

/* One request of a command: its method and path, a body or NULL, and how
 * its answer is shown. */
struct cli_request {
	const char *method; /* static */
	char *path;
	json_t *body;
	void (*table_fn)(FILE *f, json_t *data);
	bool operation; /* may answer 202 with an operation to wait on */
};
void cli_request_clear(struct cli_request *req);

/*
 * The request of "warren cluster VERB" (init, join, show, members, remove,
 * evacuate, rebalance or config) from its operands and options:
 *   init       POST /v1/cluster/init {etcd, name, labels, ttl_s}
 *   join ADDR  POST /v1/cluster/join {address, token, name, labels}
 *   show       GET /v1/cluster
 *   members    GET /v1/cluster/members
 *   remove M   DELETE /v1/cluster/members/M[?force=true]
 *   evacuate M POST /v1/cluster/members/M/evacuate {}
 *   rebalance  POST /v1/cluster/rebalance {dry_run, threshold}
 *   config     GET /v1/cluster without options, else PUT /v1/cluster/config
 *              {strategy, weights{memory, vcpus, load}, rebalance_threshold}
 * Only what is given is sent. The answer is shown through the verb's view
 * (view_cluster, view_cluster_members, view_member_removed,
 * view_cluster_moves after the operation of evacuate and rebalance, or
 * view_cluster_config). -EINVAL with err (field: the body's key) for
 * a missing --etcd or --token, an empty value, a label without '=', a --ttl
 * that is not whole seconds, a strategy other than spread or pack, a weight
 * that is not a number of 0 or more, a threshold outside 0..1 or an
 * unknown verb; -ENOMEM.
 */
int cli_cluster_request(const char *verb, const struct cli_args *a, struct cli_request *ret,
			struct werr *err);
/*
 * The keys "warren create" adds beside the spec for a cluster, set in body:
 * target (--target auto|MEMBER), explain (--explain), ha (--ha) and
 * placement {affinity, anti_affinity, labels, accel} (--affinity,
 * --anti-affinity, --require-label KEY=VALUE..., --require-accel kvm|tcg),
 * keeping the placement keys of a --from file that the options do not set.
 * -EINVAL with err for an empty value, a label without '=' or another
 * accelerator; -ENOMEM.
 */
int cli_placement_merge(json_t *body, const struct cli_args *a, struct werr *err);

/* ---- resources (resources.c, pure) ------------------------------------- */

/*
 * The JSON value of a resource key as the command line writes it: for the
 * VM (disk false) cpu_weight, cpu_limit, memory_limit, memory_reservation
 * or pin; for a disk iops or bps. Numbers become JSON numbers, pin ("0,1")
 * an array, sizes stay strings for the daemon to read. -ENOENT for a key
 * not in the list; -EINVAL with err ("WHAT takes ..., not 'VALUE'") when
 * the value is not of the key's form; ranges are left to the daemon.
 */
int cli_resource_value(const char *key, bool disk, const char *value, const char *what,
		       json_t **ret, struct werr *err);
/*
 * The PATCH /v1/vms/NAME body of "warren set" from its KEY=VALUE items:
 * the keys above, and disk.DISK.iops and disk.DISK.bps, which go to
 * {"disks": {"DISK": {...}}}; the value "none" is null. nicN.rate and
 * nicN.link go to {"nics": {"nicN": {...}}}: rate as written ("none" or
 * "off" null), link up or down. -EINVAL with err for an unknown key, a key
 * given twice or a value of the wrong form.
 */
int cli_patch_build(const char *const *items, size_t n, json_t **ret_body, struct werr *err);

/* ---- text output (text.c, pure) --------------------------------------- */

/* Memory-style sizes: "512B", "256M", "1.5G". */
char *cli_human_size(uint64_t bytes, char *buf, size_t len);
/* Uptimes: "5s", "3m12s", "2h03m", "4d07h". */
char *cli_human_uptime(uint64_t seconds, char *buf, size_t len);
/* Spans of time: "85 ms", "12.3 s", then as uptimes ("3m12s"). */
char *cli_human_ms(uint64_t ms, char *buf, size_t len);
/* Wall-clock ms since the epoch as local "YYYY-MM-DD HH:MM:SS". */
char *cli_human_time(int64_t ms, char *buf, size_t len);
/* The API's times, "2026-11-23T10:00:00.123Z" (UTC, the fraction
 * optional), to ms since the epoch; -EINVAL for another form. */
int cli_parse_time(const char *s, int64_t *ret_ms);

/* A table of left-aligned columns, filled a cell at a time, row by row. */
struct cli_table {
	size_t n_cols;
	char **cells; /* strv, row-major; the first row is the header */
	size_t n_cells, cap; /* cells grows geometrically: a table of 1,000 rows
			      * must not cost a scan and a realloc per cell */
};
int cli_table_init(struct cli_table *t, size_t n_cols, const char *const *headers);
int cli_table_cell(struct cli_table *t, const char *s);
void cli_table_print(const struct cli_table *t, FILE *f);
void cli_table_clear(struct cli_table *t);

/* ---- YAML (yaml.c, pure) ----------------------------------------------- */

/* The value as a block-style YAML document (no "---" line). */
void cli_yaml_emit(FILE *f, json_t *j);

/* ---- views of API objects (view.c, pure) -------------------------------- */

/* The "memory" of a VM (integer bytes or a size string) in human form. */
const char *view_memory(json_t *v, char *buf, size_t len);
/* Table of a GET /v1/vms answer; ADDRESSES are the IPv4 addresses the
 * NICs are seen with. A HOST column follows when a VM has a "host" (a
 * cluster's answer). */
void view_vm_list(FILE *f, json_t *reply);
/* "key: value" lines of one VM, its resources and disk limits written as
 * "warren set" takes them, and a table of its NICs. */
void view_vm_show(FILE *f, json_t *vm);
/* The VM as view_vm_show has it, then, when the create asked for an
 * explanation, the table of its "placement": each member, chosen,
 * eligible or filtered out, its score and why. */
void view_vm_created(FILE *f, json_t *vm);
/* Table of a GET /v1/networks answer. */
void view_network_list(FILE *f, json_t *reply);
/* "key: value" lines of one network, its segments and a table of its NICs. */
void view_network_show(FILE *f, json_t *net);
/* Table of {"nics": [NIC...]}, a VM's NICs. */
void view_nic_list(FILE *f, json_t *reply);
/* "key: value" lines of one NIC of a VM. */
void view_nic_show(FILE *f, json_t *nic);
/* "web1: nic1 removed": the answer of DELETE /v1/vms/VM/nics/NIC. */
void view_nic_removed(FILE *f, json_t *reply);
/* Table of a GET /v1/events answer, and one event of a followed stream. */
void view_events(FILE *f, json_t *reply);
void view_event_line(FILE *f, json_t *event);
/* "key: value" lines of GET /v1/host, with its inventory, capacity and
 * allocation. */
void view_host(FILE *f, json_t *host);
/* "web1: running": a VM's name and state. */
void view_vm_state(FILE *f, json_t *vm);
/* "web1: deleted": the answer of a DELETE. */
void view_deleted(FILE *f, json_t *reply);
/* One line on an operation: running as which id, or how it ended. */
void view_operation_line(FILE *f, json_t *op);
/* "key: value" lines of an operation. */
void view_operation_show(FILE *f, json_t *op);
/* Table of a GET /v1/vms/NAME/snapshots answer, the names drawn as a tree. */
void view_snapshot_list(FILE *f, json_t *reply);
/* "key: value" lines of one snapshot. */
void view_snapshot_show(FILE *f, json_t *snapshot);
/* "migrated web1 to unix:/run/b.sock (live, copy storage) in 12.3 s,
 * downtime 85 ms": the migration of a succeeded migrate operation. */
void view_migration_result(FILE *f, json_t *migration);
/* Table of a GET /v1/migrations answer. */
void view_migration_list(FILE *f, json_t *reply);
/* "key: value" lines of GET /v1/cluster; after an init, its token and the
 * command that joins another host. */
void view_cluster(FILE *f, json_t *cluster);
/* "key: value" lines of a cluster's config (strategy, weights, threshold). */
void view_cluster_config(FILE *f, json_t *config);
/* Table of a GET /v1/cluster/members answer, the heartbeats as ages at
 * now_ms (ms since the epoch); view_cluster_members takes the clock's. */
void view_cluster_members_at(FILE *f, json_t *reply, int64_t now_ms);
void view_cluster_members(FILE *f, json_t *reply);
/* "b: removed from the cluster". */
void view_member_removed(FILE *f, json_t *reply);
/* Table of the moves of an evacuation or a rebalance (planned: VM FROM TO
 * MEMORY; done: VM FROM TO STATUS) and the spread before and after. */
void view_cluster_moves(FILE *f, json_t *result);

/* ---- operation progress (progress.c, pure) ------------------------------ */

/* What has been shown of one operation's progress so far. */
struct progress {
	bool tty;	  /* a bar redrawn in place, else plain lines */
	unsigned columns; /* the terminal's width; 0 is taken as 80 */
	bool drawn;	  /* a bar is on the terminal's current line */
	unsigned frame;	  /* of the spinner shown while the percent is unknown */
	int step;	  /* plain lines: the tenth of the percent last seen, -1 none */
	char shown[256];  /* plain lines: the phase last seen */
};
void progress_init(struct progress *p, bool tty, unsigned columns);
/*
 * The text to write to stderr after a poll answered op, built in buf: on a
 * terminal the line redrawn ("\r[##########..........]  50%  phase", or a
 * spinner and the phase while the percent is null); else a plain line
 * ("clone: 50% phase\n") when the phase changed or the percent reached
 * another tenth, and "" otherwise. The phase is the operation's message
 * when its progress names none. The progress's details (a migration's),
 * when there are any, follow the phase (see progress_details) but do not
 * count as a change of it.
 */
const char *progress_render(struct progress *p, json_t *op, char *buf, size_t len);
/* What erases a drawn bar before other output on stderr ("" if none). */
const char *progress_clear(struct progress *p);
/* The parts known of a migration's progress details ("1.2G left, disks
 * 300M left, dirtying 48M/s, downtime ~85 ms"), built in buf; "" when
 * details is not an object or holds none of them. */
const char *progress_details(json_t *details, char *buf, size_t len);

/* ---- the create spec (spec.c) ----------------------------------------- */

/*
 * Build the POST /v1/vms body: the --from file (if any), then each flag
 * overriding the key it maps to (a key of "resources" for the resource
 * flags; --policy sets "security" and/or "performance"), then name (if
 * non-NULL), and beside the spec the cluster's keys (see
 * cli_placement_merge). Only what is given is sent. Relative kernel,
 * initrd and disk image paths are made absolute (those of a --from file
 * relative to the file's folder) when the file exists. Errors are the
 * caller's (bad usage): -EINVAL/-ENOENT with err set.
 */
int spec_build(const struct cli_args *a, const char *name, json_t **ret_spec, struct werr *err);

/* ---- commands (run.c and cmd_*.c) --------------------------------------- */

enum cli_format { CLI_FORMAT_TABLE, CLI_FORMAT_JSON, CLI_FORMAT_YAML };

struct cli;

struct cli_command {
	const char *name; /* one word, or two for "NOUN VERB" commands */
	int (*fn)(struct cli *c);
	const char *args;		  /* usage after the name */
	const char *summary;		  /* one line for --help */
	const char *details;		  /* more of the command's --help; may be NULL */
	const struct cli_option *options; /* may be NULL */
	int min_args, max_args;		  /* operands; max_args < 0: no limit */
	bool hidden;			  /* left out of --help */
};

struct cli {
	const struct cli_command *cmd;
	struct cli_args args;
	const char *socket;
	enum cli_format format;
};

/* The whole program; main() only calls this. */
int cli_run(int argc, char **argv);

/* Print the specific error and the command's usage line; returns 2. */
int cli_usage_error(const struct cli *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Print "warren: message (field: X)"; returns 1. */
int cli_fail(const struct werr *e);
/* Print data in the chosen format; table_fn renders the table form. */
int cli_print(const struct cli *c, json_t *data, void (*table_fn)(FILE *f, json_t *data));
/* One request without a body whose answer is printed; the exit status. */
int cli_request_print(const struct cli *c, const char *method, const char *path,
		      void (*table_fn)(FILE *f, json_t *data));
/* --timeout SECONDS into *ret (left as is when absent); -EINVAL after
 * printing a usage error. */
int cli_opt_seconds(const struct cli *c, const char *name, uint64_t *ret);

int cmd_create(struct cli *c);
int cmd_list(struct cli *c);
int cmd_show(struct cli *c);
int cmd_set(struct cli *c);
int cmd_delete(struct cli *c);
int cmd_action(struct cli *c);
int cmd_exec(struct cli *c);
int cmd_console(struct cli *c);
int cmd_events(struct cli *c);
int cmd_host_info(struct cli *c);
int cmd_version(struct cli *c);
int cmd_stats(struct cli *c);
int cmd_top(struct cli *c);
int cmd_host_log_level(struct cli *c);
int cmd_snapshot_create(struct cli *c);
int cmd_snapshot_list(struct cli *c);
int cmd_snapshot_show(struct cli *c);
int cmd_snapshot_restore(struct cli *c);
int cmd_snapshot_delete(struct cli *c);
int cmd_clone(struct cli *c);
int cmd_operation_show(struct cli *c);
int cmd_operation_cancel(struct cli *c);
int cmd_network_create(struct cli *c);
int cmd_network_list(struct cli *c);
int cmd_network_show(struct cli *c);
int cmd_network_delete(struct cli *c);
int cmd_nic_add(struct cli *c);
int cmd_nic_list(struct cli *c);
int cmd_nic_remove(struct cli *c);
int cmd_migrate(struct cli *c);
int cmd_migration_list(struct cli *c);
/* Every "cluster VERB" command; the verb is the command's second word. */
int cmd_cluster(struct cli *c);

/*
 * Wait for an operation (reply is the operation or a 202 answer wrapping
 * it as {"operation": op}) until it is no longer running, showing its
 * progress on stderr. Ctrl-C asks warrend once to cancel a cancellable
 * operation and keeps waiting; a second one, or one during an operation
 * that cannot be cancelled, stops waiting (-EINTR, err says so).
 * *ret_op is the final operation, whatever its status.
 */
int cli_op_wait(const struct cli *c, json_t *reply, json_t **ret_op, struct werr *err);
/*
 * Finish a command whose request started an operation: with --no-wait
 * print the operation; else wait for it and print the member result_key
 * of its result through table_fn, or the whole result when result_key is
 * "" (the operation itself when result_key is NULL or the result lacks
 * it). An operation that failed or was cancelled prints its error, after
 * what it has of that result; the exit status.
 */
int cli_op_print(const struct cli *c, json_t *reply, const char *result_key,
		 void (*table_fn)(FILE *f, json_t *data));
/* POST path with body (may be NULL) and finish as cli_op_print does; an
 * answer that is not an operation is printed through table_fn. */
int cli_op_request(const struct cli *c, const char *path, json_t *body, const char *result_key,
		   void (*table_fn)(FILE *f, json_t *data));

/* Run a command in the guest (timeout_s NULL: the daemon's default);
 * *ret_result is the exec answer. */
int exec_call(const struct cli *c, const char *name, json_t *command, const uint64_t *timeout_s,
	      json_t **ret_result, struct werr *err);

/* ---- HTTP over the Unix socket (http.c) --------------------------------- */

/* A growing byte buffer for bodies and lines, kept NUL-terminated. */
struct cli_buf {
	char *data;
	size_t len, cap;
};
/* -EFBIG when len would pass max, -ENOMEM; the buffer is unchanged then. */
int cli_buf_append(struct cli_buf *b, const char *data, size_t len, size_t max);

/*
 * One request. Bodies of 2xx answers are handed to on_data as they arrive
 * when it is set (streams), else collected; error bodies are always
 * collected so that api_xfer_finish can report them.
 */
struct api_xfer {
	CURL *easy;
	struct curl_slist *headers;
	const char *socket;
	long status;	     /* known once the headers are in */
	struct cli_buf body; /* collected answer */
	/* Return < 0 to abort the transfer. */
	int (*on_data)(void *userdata, const char *data, size_t len);
	int write_error; /* why on_data or collecting failed, if it did */
	/* Called once the final status line and headers are in. */
	void (*on_headers)(void *userdata, long status);
	void *userdata;
};

int api_xfer_init(struct api_xfer *x, const struct cli *c, const char *method, const char *path);
/* The body is copied. */
int api_xfer_set_body(struct api_xfer *x, const char *content_type, const void *data, size_t len);
/* Map the transfer's outcome: 0 for a 2xx answer (*ret_json set to the
 * parsed body, NULL if it had none or it was streamed), or < 0 with err
 * describing the transport failure or the daemon's error. */
int api_xfer_finish(struct api_xfer *x, CURLcode res, json_t **ret_json, struct werr *err);
void api_xfer_clear(struct api_xfer *x);

/* A JSON request (body may be NULL) and its JSON answer; see finish. */
int api_call(const struct cli *c, const char *method, const char *path, json_t *body,
	     long *ret_status, json_t **ret_json, struct werr *err);
/* GET path and hand the body of a 2xx answer to on_data as it arrives
 * (until warrend ends it); errors as for api_xfer_finish. */
int api_stream(const struct cli *c, const char *path,
	       int (*on_data)(void *userdata, const char *data, size_t len), void *userdata,
	       struct werr *err);
/* "<prefix><name escaped><suffix>", or NULL on allocation failure. */
char *api_path(const char *prefix, const char *name, const char *suffix);
/* "/v1/vms/<name escaped><suffix>", or NULL on allocation failure. */
char *api_vm_path(const char *name, const char *suffix);
/* A query value escaped for a URL; free with curl_free. */
char *api_escape(const char *s);

#endif
