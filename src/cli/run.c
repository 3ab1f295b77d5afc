/*
 * run: the command table of warren, the global options, help generated
 * from the table, and the dispatch of one command line.
 *
 * A command line is read in two passes: the global options before the
 * verb, then the rest against the verb's options and the global ones, so
 * that "warren --format json list" and "warren list --format json" mean the
 * same. Bad usage is always answered with the specific error and the one
 * usage line of the verb concerned, never the whole help.
 */
#include <ctype.h>
#include <stdarg.h>
#include <string.h>

#include "cli/cli.h"

#define USAGE_GLOBAL "[--socket PATH] [--format table|json|yaml] COMMAND [ARGS]"

static int cmd_commands(struct cli *c);

/* One entry a line reads better than clang-format's wrapped form. */
/* clang-format off */
static const struct cli_option global_options[] = {
	{.name = "socket", .arg = "PATH",
	 .help = "warrend's socket (default: $WARREN_SOCKET, else " CLI_DEFAULT_SOCKET ")"},
	{.name = "format", .arg = "FORMAT", .help = "output as table (the default), json or yaml"},
	{.name = "help", .help = "show this help and exit"},
	{0},
};

static const struct cli_option create_options[] = {
	{.name = "cpus", .arg = "N", .help = "number of virtual CPUs"},
	{.name = "memory", .arg = "SIZE", .help = "guest memory, e.g. 512M or 2G"},
	{.name = "kernel", .arg = "PATH", .help = "kernel to boot directly"},
	{.name = "initrd", .arg = "PATH", .help = "initial ramdisk (needs --kernel)"},
	{.name = "cmdline", .arg = "STR", .help = "kernel command line (needs --kernel)"},
	{.name = "disk", .arg = "SPEC",
	 .help = "add a disk: name=N,size=S[,image=PATH][,readonly][,iops=N][,bps=S]; repeatable"},
	{.name = "no-serial", .help = "do not capture a serial console"},
	{.name = "nic", .arg = "SPEC",
	 .help = "add a network adapter: network=NAME[,KEY=VALUE]... (keys above); repeatable"},
	{.name = "label", .arg = "KEY=VALUE", .help = "set a label; repeatable"},
	{.name = "cpu-weight", .arg = "N", .help = "share of CPU time under contention (default 100)"},
	{.name = "cpu-limit", .arg = "CPUS", .help = "CPU time at most, in CPUs, e.g. 0.5 or 1.5"},
	{.name = "memory-limit", .arg = "SIZE", .help = "host memory QEMU may use, e.g. 1G"},
	{.name = "memory-reservation", .arg = "SIZE",
	 .help = "memory admission counts for the VM, if less than --memory"},
	{.name = "pin", .arg = "LIST", .help = "host CPU of each vCPU, e.g. 0,1"},
	{.name = "security", .arg = "POLICY", .help = "strict (the default) or trusted"},
	{.name = "performance", .arg = "POLICY", .help = "balanced (the default), latency or density"},
	{.name = "policy", .arg = "P[,P]",
	 .help = "--security and/or --performance at once, e.g. trusted,latency"},
	{.name = "from", .arg = "FILE", .help = "start from a JSON spec file; flags override it"},
	{.name = "target", .arg = "MEMBER",
	 .help = "in a cluster: the member to define the VM on, or auto (the default)"},
	{.name = "explain", .help = "in a cluster: show how each member was weighed"},
	{.name = "ha", .help = "in a cluster: restart the VM on another member if its host is lost"},
	{.name = "affinity", .arg = "GROUP", .help = "in a cluster: place with the VMs of GROUP"},
	{.name = "anti-affinity", .arg = "GROUP",
	 .help = "in a cluster: place apart from the VMs of GROUP"},
	{.name = "require-label", .arg = "KEY=VALUE",
	 .help = "in a cluster: only on members with this label; repeatable"},
	{.name = "require-accel", .arg = "ACCEL",
	 .help = "in a cluster: only on members with this accelerator, kvm or tcg"},
	{0},
};

static const struct cli_option list_options[] = {
	{.name = "local", .help = "in a cluster: only the VMs of this member"},
	{0},
};

static const struct cli_option start_options[] = {
	{.name = "wait-ready", .help = "return once the guest agent runs a command"},
	{.name = "timeout", .arg = "SECONDS", .help = "give up waiting after this (default 60)"},
	{0},
};

/* Every command that starts an operation may leave it running. */
#define OPTION_NO_WAIT {.name = "no-wait", .help = "return at once with the operation"}

static const struct cli_option shutdown_options[] = {
	{.name = "timeout", .arg = "SECONDS", .help = "power off if the guest has not stopped by then"},
	{.name = "mode", .arg = "MODE", .help = "acpi (power button) or agent (guest agent)"},
	OPTION_NO_WAIT,
	{0},
};

static const struct cli_option delete_options[] = {
	{.name = "force", .help = "delete even if the VM is running (it is powered off)"},
	{0},
};

static const struct cli_option exec_options[] = {
	{.name = "timeout", .arg = "SECONDS", .help = "stop waiting for the command after this"},
	{0},
};

static const struct cli_option console_options[] = {
	{.name = "log", .help = "print the captured console log instead of attaching"},
	{0},
};

static const struct cli_option stats_options[] = {
	{.name = "since", .arg = "DURATION", .help = "only samples of the last DURATION (30s, 10m, 1h)"},
	{0},
};

static const struct cli_option top_options[] = {
	{.name = "once", .help = "print the table once and exit (for scripts)"},
	{.name = "sort", .arg = "KEY", .help = "order by cpu (the default), mem, disk or name"},
	{0},
};

static const struct cli_option events_options[] = {
	{.name = "vm", .arg = "NAME", .help = "only the events of this VM"},
	{.name = "follow", .help = "keep printing new events as they happen"},
	{.name = "since", .arg = "DURATION", .help = "only events of the last DURATION (30s, 10m, 1h)"},
	{.name = "limit", .arg = "N", .help = "at most N events"},
	{0},
};

static const struct cli_option snapshot_create_options[] = {
	{.name = "memory", .help = "save the guest's memory too (the default when it runs or is paused)"},
	{.name = "no-memory", .help = "save the disks only (the guest boots when restored)"},
	OPTION_NO_WAIT,
	{0},
};

static const struct cli_option no_wait_options[] = {
	OPTION_NO_WAIT,
	{0},
};

static const struct cli_option clone_options[] = {
	{.name = "linked", .help = "share the source's disk state instead of copying it"},
	{.name = "from-snapshot", .arg = "SNAP",
	 .help = "clone the VM as it was in this snapshot (with its memory: starts where it was)"},
	OPTION_NO_WAIT,
	{0},
};

static const struct cli_option migrate_options[] = {
	{.name = "to", .arg = "DEST", .help = "the warrend to move the VM to (see DEST above)"},
	{.name = "live", .help = "move the guest as it runs (the default for a running or paused VM)"},
	{.name = "offline", .help = "move the VM's files (the default for a stopped or suspended VM)"},
	{.name = "storage", .arg = "MODE",
	 .help = "shared (both daemons see the disks) or copy (default: shared if it can)"},
	{.name = "max-downtime", .arg = "DURATION",
	 .help = "longest the guest may stop at the switch, e.g. 300ms or 2s (bare: ms)"},
	{.name = "bandwidth", .arg = "SIZE", .help = "bytes per second at most, e.g. 100M or 1G"},
	{.name = "no-auto-converge",
	 .help = "do not slow the guest's vCPUs down when its memory changes too fast"},
	OPTION_NO_WAIT,
	{0},
};

/* A member's name and labels, given when it joins or makes a cluster. */
#define OPTION_MEMBER_NAME \
	{.name = "name", .arg = "NAME", .help = "this member's name (default: the host name)"}
#define OPTION_MEMBER_LABEL \
	{.name = "label", .arg = "KEY=VALUE", .help = "a label of this member, for placement; repeatable"}

static const struct cli_option cluster_init_options[] = {
	{.name = "etcd", .arg = "URL[,URL...]",
	 .help = "the etcd endpoints that keep the cluster's state"},
	OPTION_MEMBER_NAME,
	OPTION_MEMBER_LABEL,
	{.name = "ttl", .arg = "DURATION",
	 .help = "a member unheard of this long is offline, e.g. 10s (default: warrend's)"},
	{0},
};

static const struct cli_option cluster_join_options[] = {
	{.name = "token", .arg = "TOKEN", .help = "the cluster's token, as cluster init printed it"},
	OPTION_MEMBER_NAME,
	OPTION_MEMBER_LABEL,
	{0},
};

static const struct cli_option cluster_remove_options[] = {
	{.name = "force", .help = "remove the member even though it holds VMs"},
	{0},
};

static const struct cli_option cluster_rebalance_options[] = {
	{.name = "dry-run", .help = "only print the moves it would make"},
	{.name = "threshold", .arg = "FRACTION",
	 .help = "move VMs only if the spread is above this, 0 to 1 (default: the config's)"},
	OPTION_NO_WAIT,
	{0},
};

static const struct cli_option cluster_config_options[] = {
	{.name = "strategy", .arg = "STRATEGY",
	 .help = "spread (VMs where most is free) or pack (fill members in turn)"},
	{.name = "weight-memory", .arg = "X", .help = "weight of free memory in a member's score"},
	{.name = "weight-vcpus", .arg = "X", .help = "weight of free vCPUs in a member's score"},
	{.name = "weight-load", .arg = "X", .help = "weight of a low CPU load in a member's score"},
	{.name = "rebalance-threshold", .arg = "X",
	 .help = "the spread, 0 to 1, above which rebalance moves VMs"},
	{0},
};

static const struct cli_option network_create_options[] = {
	{.name = "subnet", .arg = "CIDR", .help = "the network's IPv4 addresses, e.g. 10.0.0.0/24"},
	{.name = "gateway", .arg = "IP", .help = "the host's address on it (default: the subnet's first)"},
	{.name = "dhcp", .arg = "on|off", .help = "hand out the NICs' addresses by DHCP (default on)"},
	{.name = "nat", .arg = "on|off", .help = "let the VMs reach outside through the host (default off)"},
	{.name = "mtu", .arg = "N", .help = "MTU of the network (default 1500)"},
	{.name = "vlan", .arg = "ID", .help = "put the network on VLAN ID (1-4094)"},
	{.name = "uplink", .arg = "HOSTIF", .help = "join a host interface to the network's bridge"},
	{0},
};

#define NIC_KEYS_HELP \
	"  network=NAME        the network to attach to (required; may be written bare and first)\n" \
	"  name=nicN           the NIC's name (default: the lowest free, nic0 to nic7)\n" \
	"  mac=MAC             its MAC address (default: a random 52:57:...)\n" \
	"  ip=IP               its IPv4 address (default: one the daemon picks)\n" \
	"  mtu=N               its MTU, at most the network's\n" \
	"  rate=RATE           bandwidth each way, e.g. 10Mbit, 1.5Gbit, 500kbit\n" \
	"  model=virtio|e1000  the device the guest sees (default virtio)\n" \
	"  trust=on|off        may send with any MAC and IP address (default off)\n" \
	"  link=up|down        the link state the guest sees (default up)\n" \
	"  vlan=N              put the NIC on VLAN N of the network (1-4094)\n"

#define ACTION(n, s) \
	{.name = n, .fn = cmd_action, .args = "NAME", .summary = s, .min_args = 1, .max_args = 1}

static const struct cli_command commands[] = {
	{.name = "create", .fn = cmd_create,
	 .args = "NAME [--cpus N] [--memory SIZE] [--kernel PATH] [--initrd PATH] [--cmdline STR] "
		 "[--disk name=N,size=S[,image=PATH][,readonly][,iops=N][,bps=S]]... [--no-serial] "
		 "[--nic network=NAME[,KEY=VALUE]...]... "
		 "[--label KEY=VALUE]... [--cpu-weight N] [--cpu-limit CPUS] [--memory-limit SIZE] "
		 "[--memory-reservation SIZE] [--pin LIST] [--security strict|trusted] "
		 "[--performance balanced|latency|density] [--policy P[,P]] [--from FILE.json] "
		 "[--target auto|MEMBER] [--explain] [--ha] [--affinity GROUP] "
		 "[--anti-affinity GROUP] [--require-label KEY=VALUE]... [--require-accel kvm|tcg]",
	 .summary = "define a new VM",
	 .details = "Keys of --nic:\n" NIC_KEYS_HELP,
	 .options = create_options, .min_args = 0, .max_args = 1},
	{.name = "list", .fn = cmd_list, .args = "[--local]", .summary = "list the VMs",
	 .options = list_options, .max_args = 0},
	{.name = "show", .fn = cmd_show, .args = "NAME", .summary = "show a VM in detail",
	 .min_args = 1, .max_args = 1},
	{.name = "set", .fn = cmd_set, .args = "NAME KEY=VALUE...",
	 .summary = "change a VM's resources and its NICs' rate and link, also while it runs",
	 .details = "Keys:\n"
		    "  cpu_weight=N               share of CPU time under contention (default 100)\n"
		    "  cpu_limit=CPUS             CPU time at most, e.g. 0.5\n"
		    "  memory_limit=SIZE          host memory QEMU may use, e.g. 1G\n"
		    "  memory_reservation=SIZE    memory admission counts for the VM\n"
		    "  pin=LIST                   host CPU of each vCPU, e.g. 0,1\n"
		    "  disk.DISK.iops=N           I/O operations per second of a disk\n"
		    "  disk.DISK.bps=SIZE         bytes per second of a disk, e.g. 50M\n"
		    "  nicN.rate=RATE             bandwidth of a NIC each way, e.g. 10Mbit\n"
		    "  nicN.link=up|down          the link state of a NIC as the guest sees it\n"
		    "\nThe value none removes a limit or the pinning (off too for a rate).\n",
	 .min_args = 1, .max_args = -1},
	{.name = "start", .fn = cmd_action, .args = "NAME [--wait-ready [--timeout SECONDS]]",
	 .summary = "start a VM", .options = start_options, .min_args = 1, .max_args = 1},
	{.name = "shutdown", .fn = cmd_action,
	 .args = "NAME [--timeout SECONDS] [--mode acpi|agent] [--no-wait]",
	 .summary = "ask the guest to shut down, then wait for it",
	 .options = shutdown_options, .min_args = 1, .max_args = 1},
	ACTION("poweroff", "stop a VM at once, like pulling the plug"),
	ACTION("reboot", "reboot the guest"),
	ACTION("reset", "reset the virtual machine, like the reset button"),
	ACTION("pause", "freeze a running VM"),
	ACTION("resume", "continue a paused VM"),
	ACTION("suspend", "save the guest's memory to disk and stop QEMU; start resumes it"),
	{.name = "delete", .fn = cmd_delete, .args = "NAME [--force]",
	 .summary = "delete a VM and its disks", .options = delete_options,
	 .min_args = 1, .max_args = 1},
	{.name = "clone", .fn = cmd_clone,
	 .args = "SRC NEW [--linked] [--from-snapshot SNAP] [--no-wait]",
	 .summary = "make a new VM from a VM or one of its snapshots", .options = clone_options,
	 .min_args = 2, .max_args = 2},
	{.name = "snapshot create", .fn = cmd_snapshot_create,
	 .args = "VM SNAP [--memory|--no-memory] [--no-wait]",
	 .summary = "take a snapshot of a VM's disks and, if it runs, its memory",
	 .options = snapshot_create_options, .min_args = 2, .max_args = 2},
	{.name = "snapshot list", .fn = cmd_snapshot_list, .args = "VM",
	 .summary = "list a VM's snapshots as a tree", .min_args = 1, .max_args = 1},
	{.name = "snapshot show", .fn = cmd_snapshot_show, .args = "VM SNAP",
	 .summary = "show one snapshot", .min_args = 2, .max_args = 2},
	{.name = "snapshot restore", .fn = cmd_snapshot_restore, .args = "VM SNAP [--no-wait]",
	 .summary = "bring a VM back to a snapshot", .options = no_wait_options,
	 .min_args = 2, .max_args = 2},
	{.name = "snapshot delete", .fn = cmd_snapshot_delete, .args = "VM SNAP",
	 .summary = "delete a snapshot (the others keep their data)", .min_args = 2, .max_args = 2},
	{.name = "migrate", .fn = cmd_migrate,
	 .args = "NAME --to DEST [--live|--offline] [--storage shared|copy] "
		 "[--max-downtime DURATION] [--bandwidth SIZE] [--no-auto-converge] [--no-wait]",
	 .summary = "move a VM to another warrend, while it runs or not",
	 .details = "DEST is the warrend to move to:\n"
		    "  unix:PATH or /PATH    the Unix socket of another warrend on this host\n"
		    "  http://HOST:PORT      the TCP listener of a warrend (warrend --listen)\n"
		    "  MEMBER                a member of this warrend's cluster, by name\n",
	 .options = migrate_options, .min_args = 1, .max_args = 1},
	{.name = "migration list", .fn = cmd_migration_list, .args = "",
	 .summary = "list the migrations this warrend takes part in now", .max_args = 0},
	{.name = "cluster init", .fn = cmd_cluster,
	 .args = "--etcd URL[,URL...] [--name NAME] [--label KEY=VALUE]... [--ttl DURATION]",
	 .summary = "make this warrend the first member of a cluster kept in etcd",
	 .details = "It prints the cluster's token, which other hosts join with. Each member\n"
		    "needs a TCP listener the others reach (warrend --listen).\n",
	 .options = cluster_init_options, .max_args = 0},
	{.name = "cluster join", .fn = cmd_cluster,
	 .args = "ADDRESS --token TOKEN [--name NAME] [--label KEY=VALUE]...",
	 .summary = "join this warrend to the cluster of another member",
	 .details = "ADDRESS is a member's TCP listener, http://HOST:PORT.\n",
	 .options = cluster_join_options, .min_args = 1, .max_args = 1},
	{.name = "cluster show", .fn = cmd_cluster, .args = "",
	 .summary = "show the cluster this warrend is a member of", .max_args = 0},
	{.name = "cluster members", .fn = cmd_cluster, .args = "",
	 .summary = "list the members, their capacity, allocation and load", .max_args = 0},
	{.name = "cluster remove", .fn = cmd_cluster, .args = "NAME [--force]",
	 .summary = "take a member out of the cluster", .options = cluster_remove_options,
	 .min_args = 1, .max_args = 1},
	{.name = "cluster evacuate", .fn = cmd_cluster, .args = "MEMBER [--no-wait]",
	 .summary = "move every VM of a member to the others", .options = no_wait_options,
	 .min_args = 1, .max_args = 1},
	{.name = "cluster rebalance", .fn = cmd_cluster,
	 .args = "[--dry-run] [--threshold FRACTION] [--no-wait]",
	 .summary = "move VMs so that the members are evenly used",
	 .details = "The spread is the gap between the most and the least used member, as a\n"
		    "fraction; VMs move only while it is above the threshold.\n",
	 .options = cluster_rebalance_options, .max_args = 0},
	{.name = "cluster config", .fn = cmd_cluster,
	 .args = "[--strategy spread|pack] [--weight-memory X] [--weight-vcpus X] "
		 "[--weight-load X] [--rebalance-threshold X]",
	 .summary = "show or change how the cluster places VMs",
	 .details = "Without options it prints the config. Each member eligible for a VM gets\n"
		    "a score from what it has free, weighed by the weights; spread picks the\n"
		    "highest score, pack the lowest.\n",
	 .options = cluster_config_options, .max_args = 0},
	{.name = "network create", .fn = cmd_network_create,
	 .args = "NAME --subnet CIDR [--gateway IP] [--dhcp on|off] [--nat on|off] [--mtu N] "
		 "[--vlan ID] [--uplink HOSTIF]",
	 .summary = "define a network: a bridge with DHCP and DNS, and NAT if asked",
	 .options = network_create_options, .min_args = 1, .max_args = 1},
	{.name = "network list", .fn = cmd_network_list, .args = "",
	 .summary = "list the networks", .max_args = 0},
	{.name = "network show", .fn = cmd_network_show, .args = "NAME",
	 .summary = "show a network, its bridges and the NICs on it", .min_args = 1, .max_args = 1},
	{.name = "network delete", .fn = cmd_network_delete, .args = "NAME",
	 .summary = "delete a network that no VM uses", .min_args = 1, .max_args = 1},
	{.name = "nic add", .fn = cmd_nic_add, .args = "VM network=NAME[,KEY=VALUE]...",
	 .summary = "add a network adapter to a VM, also while it runs",
	 .details = "Keys:\n" NIC_KEYS_HELP, .min_args = 2, .max_args = 2},
	{.name = "nic list", .fn = cmd_nic_list, .args = "VM",
	 .summary = "list a VM's network adapters and their addresses", .min_args = 1, .max_args = 1},
	{.name = "nic remove", .fn = cmd_nic_remove, .args = "VM NIC",
	 .summary = "remove a network adapter from a VM, also while it runs",
	 .min_args = 2, .max_args = 2},
	{.name = "exec", .fn = cmd_exec, .args = "NAME [--timeout SECONDS] -- COMMAND [ARG...]",
	 .summary = "run a command in the guest", .options = exec_options,
	 .min_args = 1, .max_args = -1},
	{.name = "console", .fn = cmd_console, .args = "NAME [--log]",
	 .summary = "attach to a VM's serial console", .options = console_options,
	 .min_args = 1, .max_args = 1},
	{.name = "events", .fn = cmd_events,
	 .args = "[--vm NAME] [--follow] [--since DURATION] [--limit N]",
	 .summary = "show or follow VM events", .options = events_options, .max_args = 0},
	{.name = "stats", .fn = cmd_stats, .args = "NAME [--since DURATION]",
	 .summary = "show a VM's CPU, memory and disk history", .options = stats_options,
	 .min_args = 1, .max_args = 1},
	{.name = "top", .fn = cmd_top, .args = "[--once] [--sort cpu|mem|disk|name]",
	 .summary = "a live table of every VM's use of the host", .options = top_options,
	 .max_args = 0},
	{.name = "operation show", .fn = cmd_operation_show, .args = "ID",
	 .summary = "show an operation and its progress", .min_args = 1, .max_args = 1},
	{.name = "operation cancel", .fn = cmd_operation_cancel, .args = "ID",
	 .summary = "ask warrend to cancel a running operation", .min_args = 1, .max_args = 1},
	{.name = "host info", .fn = cmd_host_info, .args = "",
	 .summary = "show the host: inventory, capacity and allocation, accelerator",
	 .max_args = 0},
	{.name = "host log-level", .fn = cmd_host_log_level, .args = "error|warn|info|debug",
	 .summary = "change how much warrend logs, while it runs", .min_args = 1, .max_args = 1},
	{.name = "version", .fn = cmd_version, .args = "",
	 .summary = "show the versions of warren and warrend", .max_args = 0},
	{.name = "__commands", .fn = cmd_commands, .args = "", .max_args = 0, .hidden = true},
};
/* clang-format on */

static int cmd_commands(struct cli *c)
{
	for (size_t i = 0; i < ARRAY_SIZE(commands); i++)
		if (!commands[i].hidden)
			puts(commands[i].name);
	return CLI_EXIT_OK;
}

/* ---- help and errors ------------------------------------------------------- */

static void usage_line(FILE *f, const struct cli_command *cmd)
{
	if (cmd)
		fprintf(f, "usage: warren %s%s%s\n", cmd->name, *cmd->args ? " " : "", cmd->args);
	else
		fprintf(f, "usage: warren " USAGE_GLOBAL "\n");
}

/* "-h, --help" or "--cpus N": the left column of an option's help. */
static int option_left(const struct cli_option *o, char *buf, size_t len)
{
	return snprintf(buf, len, "%s--%s%s%s", strcmp(o->name, "help") ? "" : "-h, ", o->name,
			o->arg ? " " : "", o->arg ? o->arg : "");
}

/* The left column is as wide as the longest option of tables a and b
 * (at least 24), so that the help texts line up. */
static int options_width(const struct cli_option *a, const struct cli_option *b)
{
	const struct cli_option *tables[] = {a, b};
	int width = 24;

	for (size_t i = 0; i < ARRAY_SIZE(tables); i++)
		for (const struct cli_option *o = tables[i]; o && o->name; o++) {
			char left[64];
			int n = option_left(o, left, sizeof(left));

			if (n > width)
				width = n;
		}
	return width;
}

static void options_help(FILE *f, const struct cli_option *o, int width)
{
	for (; o && o->name; o++) {
		char left[64];

		option_left(o, left, sizeof(left));
		fprintf(f, "  %-*s %s\n", width, left, o->help);
	}
}

static void help_global(FILE *f)
{
	int width = 0;

	for (size_t i = 0; i < ARRAY_SIZE(commands); i++)
		if (!commands[i].hidden && (int)strlen(commands[i].name) > width)
			width = (int)strlen(commands[i].name);
	usage_line(f, NULL);
	fputs("\nManage the virtual machines of warrend.\n\nCommands:\n", f);
	for (size_t i = 0; i < ARRAY_SIZE(commands); i++)
		if (!commands[i].hidden)
			fprintf(f, "  %-*s  %s\n", width, commands[i].name, commands[i].summary);
	fputs("\nOptions (before or after the command):\n", f);
	options_help(f, global_options, options_width(global_options, NULL));
	fputs("\nRun 'warren COMMAND --help' for the options of a command.\n", f);
}

static void help_command(FILE *f, const struct cli_command *cmd)
{
	int width = options_width(cmd->options, global_options);

	usage_line(f, cmd);
	/* The summary is a table cell in the overview, a sentence here. */
	fprintf(f, "\n%c%s.\n", toupper((unsigned char)cmd->summary[0]), cmd->summary + 1);
	if (cmd->details)
		fprintf(f, "\n%s", cmd->details);
	if (cmd->options) {
		fputs("\nOptions:\n", f);
		options_help(f, cmd->options, width);
	}
	fputs("\nGlobal options:\n", f);
	options_help(f, global_options, width);
}

static int usage_error(const struct cli_command *cmd, const char *fmt, va_list ap)
{
	fputs("warren: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	usage_line(stderr, cmd);
	return CLI_EXIT_USAGE;
}

int cli_usage_error(const struct cli *c, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = usage_error(c->cmd, fmt, ap);
	va_end(ap);
	return r;
}

static int global_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int global_usage_error(const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = usage_error(NULL, fmt, ap);
	va_end(ap);
	return r;
}

int cli_fail(const struct werr *e)
{
	if (e->field[0])
		fprintf(stderr, "warren: %s (field: %s)\n", e->message, e->field);
	else
		fprintf(stderr, "warren: %s\n", e->message[0] ? e->message : "out of memory");
	return CLI_EXIT_FAILED;
}

int cli_print(const struct cli *c, json_t *data, void (*table_fn)(FILE *f, json_t *data))
{
	switch (c->format) {
	case CLI_FORMAT_JSON:
		json_dumpf(data, stdout, JSON_INDENT(2) | JSON_ENCODE_ANY);
		putchar('\n');
		break;
	case CLI_FORMAT_YAML:
		cli_yaml_emit(stdout, data);
		break;
	case CLI_FORMAT_TABLE:
		table_fn(stdout, data);
		break;
	}
	return CLI_EXIT_OK;
}

int cli_request_print(const struct cli *c, const char *method, const char *path,
		      void (*table_fn)(FILE *f, json_t *data))
{
	_cleanup_json_ json_t *reply = NULL;
	struct werr err = {0};

	if (api_call(c, method, path, NULL, NULL, &reply, &err) < 0)
		return cli_fail(&err);
	return cli_print(c, reply, table_fn);
}

int cli_opt_seconds(const struct cli *c, const char *name, uint64_t *ret)
{
	const char *v = cli_opt_get(&c->args, name);

	if (!v)
		return 0;
	if (cli_parse_uint(v, UINT32_MAX, ret) < 0) {
		cli_usage_error(c, "--%s takes a whole number of seconds, not '%s'", name, v);
		return -EINVAL;
	}
	return 0;
}

/* ---- dispatch ------------------------------------------------------------------ */

/* The command named by words[0] (and words[1] for two-word names); *ret_used
 * is how many words the name took. With no match, *ret_used says whether
 * words[0] began a two-word name. */
static const struct cli_command *command_find(char *const *words, int n, int *ret_used)
{
	*ret_used = 0;
	for (size_t i = 0; i < ARRAY_SIZE(commands); i++) {
		const char *name = commands[i].name;
		const char *space = strchr(name, ' ');
		size_t first = space ? (size_t)(space - name) : strlen(name);

		if (strlen(words[0]) != first || strncmp(words[0], name, first) != 0)
			continue;
		if (!space)
			return *ret_used = 1, &commands[i];
		if (n >= 2 && strcmp(words[1], space + 1) == 0)
			return *ret_used = 2, &commands[i];
		*ret_used = -1;
	}
	return NULL;
}

static int unknown_command(char *const *words, int n)
{
	int used;
	bool noun = (command_find(words, n, &used), used < 0);

	if (!noun)
		return global_usage_error("unknown command '%s' (see 'warren --help')", words[0]);
	fprintf(stderr, "warren: %s '%s%s%s'\n",
		n >= 2 ? "unknown command" : "missing a word after", words[0], n >= 2 ? " " : "",
		n >= 2 ? words[1] : "");
	/* One usage line naming every verb under the noun: "host info|log-level ...". */
	fprintf(stderr, "usage: warren %s ", words[0]);
	size_t len = strlen(words[0]), shown = 0;
	for (size_t i = 0; i < ARRAY_SIZE(commands); i++)
		if (strncmp(commands[i].name, words[0], len) == 0 && commands[i].name[len] == ' ')
			fprintf(stderr, "%s%s", shown++ ? "|" : "", commands[i].name + len + 1);
	fputs(" ...\n", stderr);
	return CLI_EXIT_USAGE;
}

static int format_parse(const char *s, enum cli_format *ret)
{
	static const char *const names[] = {
	    [CLI_FORMAT_TABLE] = "table",
	    [CLI_FORMAT_JSON] = "json",
	    [CLI_FORMAT_YAML] = "yaml",
	};

	for (size_t i = 0; i < ARRAY_SIZE(names); i++)
		if (strcmp(s, names[i]) == 0) {
			*ret = (enum cli_format)i;
			return 0;
		}
	return -EINVAL;
}

/* "missing SNAP": the usage's word for the first operand not given (its
 * operands come first, before any "[" or "--"). */
static int missing_operand(struct cli *c)
{
	const char *w = c->cmd->args;

	for (size_t i = 0; *w && *w != '[' && *w != '-'; i++) {
		size_t len = strcspn(w, " ");

		if (i == c->args.n_pos)
			return cli_usage_error(c, "missing %.*s", (int)len, w);
		w += len;
		w += strspn(w, " ");
	}
	return cli_usage_error(c, "missing an argument");
}

/* Everything of a command line after the verb is known. */
static int cli_prepare(struct cli *c)
{
	const char *format = cli_opt_get(&c->args, "format");
	const char *env = getenv("WARREN_SOCKET");
	int max = c->cmd->max_args;

	if ((int)c->args.n_pos < c->cmd->min_args)
		return missing_operand(c);
	if (max >= 0 && c->args.n_pos > (size_t)max)
		return cli_usage_error(c, "unexpected argument '%s'", c->args.pos[max]);
	if (format && format_parse(format, &c->format) < 0)
		return cli_usage_error(c, "--format must be table, json or yaml, not '%s'", format);
	c->socket = cli_opt_get(&c->args, "socket");
	if (!c->socket)
		c->socket = env && *env ? env : CLI_DEFAULT_SOCKET;
	if (!*c->socket)
		return cli_usage_error(c, "--socket needs a path");
	return CLI_EXIT_OK;
}

static int cli_dispatch(struct cli *c, int argc, char **argv)
{
	const struct cli_option *const globals[] = {global_options, NULL};
	struct werr err = {0};
	int verb, used, r;

	r = cli_args_parse(&c->args, argc - 1, argv + 1, globals, true, &err);
	if (r < 0)
		return r == -ENOMEM ? cli_fail(&err) : global_usage_error("%s", err.message);
	verb = 1 + r;
	if (verb >= argc) {
		if (cli_opt_has(&c->args, "help")) {
			help_global(stdout);
			return CLI_EXIT_OK;
		}
		return global_usage_error("missing COMMAND (see 'warren --help')");
	}
	c->cmd = command_find(argv + verb, argc - verb, &used);
	if (!c->cmd)
		return unknown_command(argv + verb, argc - verb);

	const struct cli_option *const tables[] = {global_options, c->cmd->options, NULL};
	r = cli_args_parse(&c->args, argc - verb - used, argv + verb + used, tables, false, &err);
	if (r < 0)
		return r == -ENOMEM ? cli_fail(&err) : cli_usage_error(c, "%s", err.message);
	if (cli_opt_has(&c->args, "help")) {
		help_command(stdout, c->cmd);
		return CLI_EXIT_OK;
	}
	r = cli_prepare(c);
	if (r != CLI_EXIT_OK)
		return r;
	return c->cmd->fn(c);
}

int cli_run(int argc, char **argv)
{
	struct cli c = {0};
	int r;

	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		fputs("warren: cannot initialise libcurl\n", stderr);
		return CLI_EXIT_FAILED;
	}
	r = cli_dispatch(&c, argc, argv);
	cli_args_clear(&c.args);
	curl_global_cleanup();
	/* Output that did not reach its destination is a failure, except for a
	 * reader that left early (warren list | head). */
	if (fflush(stdout) != 0 && errno != EPIPE) {
		fprintf(stderr, "warren: cannot write the output: %s\n", strerror(errno));
		return r == CLI_EXIT_OK ? CLI_EXIT_FAILED : r;
	}
	return r;
}
