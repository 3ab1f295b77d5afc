/* Unit tests for cli/run.c through cli_run: bad usage exits 2 with the
 * specific error and exactly one usage line; help comes from the command
 * table; a missing daemon is a failed operation (exit 1). None of these
 * reach a daemon. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>

#include "cli/cli.h"

struct outcome {
	int status;
	char out[16384];
	char err[4096];
};

static void slurp(int fd, char *buf, size_t len)
{
	ssize_t n;

	assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
	n = read(fd, buf, len - 1);
	assert_true(n >= 0);
	buf[n] = '\0';
}

/* cli_run with stdout and stderr captured. argv[0] is added. */
static void run(struct outcome *o, int argc, char *const *args)
{
	_cleanup_close_ int out = memfd_create("out", MFD_CLOEXEC);
	_cleanup_close_ int err = memfd_create("err", MFD_CLOEXEC);
	_cleanup_close_ int saved_out = fcntl(STDOUT_FILENO, F_DUPFD_CLOEXEC, 3);
	_cleanup_close_ int saved_err = fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 3);
	char *argv[32] = {"warren"};

	assert_true(out >= 0 && err >= 0 && saved_out >= 0 && saved_err >= 0);
	for (int i = 0; i < argc; i++)
		argv[i + 1] = args[i];
	fflush(stdout);
	dup2(out, STDOUT_FILENO);
	dup2(err, STDERR_FILENO);
	o->status = cli_run(argc + 1, argv);
	fflush(stdout);
	dup2(saved_out, STDOUT_FILENO);
	dup2(saved_err, STDERR_FILENO);
	slurp(out, o->out, sizeof(o->out));
	slurp(err, o->err, sizeof(o->err));
}

#define RUN(o, ...) run(o, ARRAY_SIZE(((char *[]){__VA_ARGS__})), (char *[]){__VA_ARGS__})

static void test_bad_usage(void **state)
{
	static const struct {
		char *args[7];
		const char *error, *usage;
	} cases[] = {
	    {{"frob"}, "unknown command 'frob' (see 'warren --help')", NULL},
	    {{"--format"}, "option --format needs a value (FORMAT)", NULL},
	    {{"--bogus", "list"}, "unknown option '--bogus'", NULL},
	    {{"show"}, "missing NAME", "show NAME"},
	    {{"list", "extra"}, "unexpected argument 'extra'", "list"},
	    {{"list", "--format", "xml"},
	     "--format must be table, json or yaml, not 'xml'",
	     "list"},
	    {{"--socket=", "list"}, "--socket needs a path", "list"},
	    {{"create"}, "missing NAME", "create NAME"},
	    {{"create", "web1", "--disk", "root,sise=1G"},
	     "--disk 'root,sise=1G': unknown key 'sise' (name, size, image, readonly, bus, iops, "
	     "bps)",
	     "create NAME"},
	    {{"create", "web1", "--pin", "0-1"},
	     "--pin takes host CPU numbers separated by commas, one per vCPU, like 0,1, not '0-1'",
	     "create NAME"},
	    {{"create", "web1", "--policy", "fast"},
	     "--policy 'fast': unknown policy 'fast' (strict, trusted, balanced, latency, density)",
	     "create NAME"},
	    {{"set"}, "missing NAME", "set NAME KEY=VALUE..."},
	    {{"set", "web1"},
	     "missing KEY=VALUE: what to change (keys: cpu_weight, cpu_limit, memory_limit, "
	     "memory_reservation, pin, disk.DISK.iops, disk.DISK.bps, nicN.rate, nicN.link)",
	     "set NAME KEY=VALUE..."},
	    {{"set", "web1", "cpu_weight=200", "memory=1G"},
	     "unknown key 'memory' (keys: cpu_weight, cpu_limit, memory_limit, memory_reservation, "
	     "pin, disk.DISK.iops, disk.DISK.bps, nicN.rate, nicN.link)",
	     "set NAME KEY=VALUE..."},
	    {{"set", "web1", "cpu_limit=lots"},
	     "cpu_limit takes a number of CPUs, like 0.5, not 'lots'",
	     "set NAME KEY=VALUE..."},
	    {{"create", "web1", "--label", "x"}, "--label 'x': expected KEY=VALUE", "create NAME"},
	    {{"exec", "web1"}, "missing the command to run (after --)", "exec NAME"},
	    {{"exec", "web1", "--timeout", "soon", "--", "ls"},
	     "--timeout takes a whole number of seconds, not 'soon'",
	     "exec NAME"},
	    {{"exec", "web1", "ls", "-l"}, "unknown option '-l'", "exec NAME"},
	    {{"shutdown", "web1", "--mode", "hard"},
	     "--mode must be acpi or agent, not 'hard'",
	     "shutdown NAME"},
	    {{"shutdown", "web1", "--timeout", "-1"},
	     "--timeout takes a whole number of seconds, not '-1'",
	     "shutdown NAME"},
	    {{"start", "web1", "--timeout", "5"}, "--timeout goes with --wait-ready", "start NAME"},
	    {{"pause", "web1", "--force"}, "unknown option '--force'", "pause NAME"},
	    {{"delete", "web1", "--force=yes"}, "option --force takes no value", "delete NAME"},
	    {{"events", "--since", "yesterday"},
	     "--since takes a duration like 30s, 10m or 1h, not 'yesterday'",
	     "events"},
	    {{"events", "--limit", "0"},
	     "--limit takes a positive whole number, not '0'",
	     "events"},
	    {{"host"}, "missing a word after 'host'", "host info|log-level ..."},
	    {{"host", "crash"}, "unknown command 'host crash'", "host info|log-level ..."},
	    {{"stats"}, "missing NAME", "stats NAME [--since DURATION]"},
	    {{"top", "--sort", "colour"}, "--sort takes cpu, mem, disk or name, not 'colour'",
	     "top [--once] [--sort cpu|mem|disk|name]"},
	    {{"snapshot"}, "missing a word after 'snapshot'",
	     "snapshot create|list|show|restore|delete ..."},
	    {{"snapshot", "take", "web1"}, "unknown command 'snapshot take'",
	     "snapshot create|list|show|restore|delete ..."},
	    /* The missing operand is named as the usage names it. */
	    {{"snapshot", "create"}, "missing VM", "snapshot create VM SNAP"},
	    {{"snapshot", "create", "web1"}, "missing SNAP", "snapshot create VM SNAP"},
	    {{"snapshot", "create", "web1", "s1", "--memory", "--no-memory"},
	     "--memory and --no-memory exclude each other",
	     "snapshot create VM SNAP"},
	    {{"snapshot", "list", "web1", "s1"}, "unexpected argument 's1'", "snapshot list VM"},
	    {{"snapshot", "restore", "web1", "s1", "--memory"}, "unknown option '--memory'",
	     "snapshot restore VM SNAP [--no-wait]"},
	    {{"snapshot", "delete", "web1", "s1", "--no-wait"}, "unknown option '--no-wait'",
	     "snapshot delete VM SNAP"},
	    {{"clone", "web1"}, "missing NEW", "clone SRC NEW"},
	    {{"clone", "web1", "web2", "--from-snapshot"},
	     "option --from-snapshot needs a value (SNAP)",
	     "clone SRC NEW"},
	    {{"clone", "web1", "web2", "--from-snapshot="},
	     "--from-snapshot needs a snapshot name",
	     "clone SRC NEW"},
	    {{"create", "web1", "--nic", "ip=10.0.0.5"},
	     "--nic 'ip=10.0.0.5': needs network=NAME",
	     "create NAME"},
	    {{"create", "web1", "--nic", "lan", "--nic", "lan,speed=1"},
	     "--nic 'lan,speed=1': unknown key 'speed' (network, name, mac, ip, mtu, rate, model, "
	     "trust, link, vlan)",
	     "create NAME"},
	    {{"create", "web1", "--nic", "lan,trust=maybe"},
	     "--nic 'lan,trust=maybe': trust takes on or off, not 'maybe'",
	     "create NAME"},
	    {{"set", "web1", "nic0.link=sideways"},
	     "nic0.link takes up or down, not 'sideways'",
	     "set NAME KEY=VALUE..."},
	    {{"network"}, "missing a word after 'network'", "network create|list|show|delete ..."},
	    {{"network", "make", "lan"},
	     "unknown command 'network make'",
	     "network create|list|show|delete ..."},
	    {{"network", "create"}, "missing NAME", "network create NAME --subnet CIDR"},
	    {{"network", "create", "lan"},
	     "missing --subnet CIDR, the network's addresses, e.g. 10.0.0.0/24",
	     "network create NAME --subnet CIDR"},
	    {{"network", "create", "lan", "--subnet", "10.0.0.0/24", "--nat"},
	     "option --nat needs a value (on|off)",
	     "network create NAME --subnet CIDR"},
	    {{"network", "create", "lan", "--subnet", "10.0.0.0/24", "--dhcp=maybe"},
	     "--dhcp takes on or off, not 'maybe'",
	     "network create NAME --subnet CIDR"},
	    {{"network", "create", "lan", "--subnet", "10.0.0.0/24", "--mtu=jumbo"},
	     "--mtu takes a whole number, not 'jumbo'",
	     "network create NAME --subnet CIDR"},
	    {{"network", "list", "lan"}, "unexpected argument 'lan'", "network list"},
	    {{"network", "show"}, "missing NAME", "network show NAME"},
	    {{"network", "delete", "lan", "--force"},
	     "unknown option '--force'",
	     "network delete NAME"},
	    {{"nic"}, "missing a word after 'nic'", "nic add|list|remove ..."},
	    {{"nic", "add", "web1"},
	     "missing network=NAME[,KEY=VALUE]...",
	     "nic add VM network=NAME[,KEY=VALUE]..."},
	    {{"nic", "add", "web1", "mac=52:57:00:00:00:01"},
	     "NIC 'mac=52:57:00:00:00:01': needs network=NAME",
	     "nic add VM network=NAME[,KEY=VALUE]..."},
	    {{"nic", "add", "web1", "lan,link=off"},
	     "NIC 'lan,link=off': link takes up or down, not 'off'",
	     "nic add VM network=NAME[,KEY=VALUE]..."},
	    {{"nic", "add", "web1", "lan", "dmz"},
	     "unexpected argument 'dmz'",
	     "nic add VM network=NAME[,KEY=VALUE]..."},
	    {{"nic", "list"}, "missing VM", "nic list VM"},
	    {{"nic", "remove", "web1"}, "missing NIC", "nic remove VM NIC"},
	    {{"migrate"}, "missing NAME", "migrate NAME --to DEST"},
	    {{"migrate", "web1"},
	     "missing --to DEST, the warrend to move the VM to (unix:PATH, PATH, "
	     "http://HOST:PORT or a cluster member)",
	     "migrate NAME --to DEST"},
	    {{"migrate", "web1", "--to"},
	     "option --to needs a value (DEST)",
	     "migrate NAME --to DEST"},
	    {{"migrate", "web1", "web2", "--to", "/b.sock"},
	     "unexpected argument 'web2'",
	     "migrate NAME --to DEST"},
	    {{"migrate", "web1", "--to", "/b.sock", "--live", "--offline"},
	     "--live and --offline exclude each other",
	     "migrate NAME --to DEST"},
	    {{"migrate", "web1", "--to", "/b.sock", "--storage", "nfs"},
	     "--storage takes shared or copy, not 'nfs'",
	     "migrate NAME --to DEST"},
	    {{"migrate", "web1", "--to", "/b.sock", "--max-downtime", "soon"},
	     "--max-downtime takes a duration like 300ms or 2s (a bare number is milliseconds), "
	     "not 'soon'",
	     "migrate NAME --to DEST"},
	    {{"migrate", "web1", "--to", "/b.sock", "--bandwidth", "1Gbit"},
	     "--bandwidth takes bytes per second as a size like 100M or 1G, not '1Gbit'",
	     "migrate NAME --to DEST"},
	    {{"migrate", "web1", "--to", "/b.sock", "--live=yes"},
	     "option --live takes no value",
	     "migrate NAME --to DEST"},
	    {{"migration"}, "missing a word after 'migration'", "migration list ..."},
	    {{"migration", "show", "m1"}, "unknown command 'migration show'", "migration list ..."},
	    {{"migration", "list", "web1"}, "unexpected argument 'web1'", "migration list"},
	    {{"list", "--local=yes"}, "option --local takes no value", "list"},
	    {{"create", "web1", "--require-accel", "hvf"},
	     "--require-accel takes kvm or tcg, not 'hvf'",
	     "create NAME"},
	    {{"create", "web1", "--require-label", "ssd"},
	     "--require-label 'ssd': expected KEY=VALUE",
	     "create NAME"},
	    {{"create", "web1", "--target="},
	     "--target needs auto or a member's name",
	     "create NAME"},
	    {{"cluster"},
	     "missing a word after 'cluster'",
	     "cluster init|join|show|members|remove|evacuate|rebalance|config ..."},
	    {{"cluster", "leave"},
	     "unknown command 'cluster leave'",
	     "cluster init|join|show|members|remove|evacuate|rebalance|config ..."},
	    {{"cluster", "init"},
	     "missing --etcd URL[,URL...], the etcd that keeps the cluster's state",
	     "cluster init --etcd URL[,URL...]"},
	    {{"cluster", "init", "--etcd", "http://e:2379", "--ttl", "soon"},
	     "--ttl takes a duration in whole seconds like 10s or 1m, not 'soon'",
	     "cluster init --etcd URL[,URL...]"},
	    {{"cluster", "init", "--etcd", "http://e:2379", "extra"},
	     "unexpected argument 'extra'",
	     "cluster init --etcd URL[,URL...]"},
	    {{"cluster", "join"}, "missing ADDRESS", "cluster join ADDRESS --token TOKEN"},
	    {{"cluster", "join", "http://a:7001"},
	     "missing --token TOKEN, the token 'warren cluster init' printed",
	     "cluster join ADDRESS --token TOKEN"},
	    {{"cluster", "join", "http://a:7001", "--token", "t", "--label", "zone"},
	     "--label 'zone': expected KEY=VALUE",
	     "cluster join ADDRESS --token TOKEN"},
	    {{"cluster", "show", "a"}, "unexpected argument 'a'", "cluster show"},
	    {{"cluster", "members", "--force"}, "unknown option '--force'", "cluster members"},
	    {{"cluster", "remove"}, "missing NAME", "cluster remove NAME [--force]"},
	    {{"cluster", "evacuate"}, "missing MEMBER", "cluster evacuate MEMBER [--no-wait]"},
	    {{"cluster", "rebalance", "--threshold", "2"},
	     "--threshold takes a fraction from 0 to 1, like 0.15, not '2'",
	     "cluster rebalance [--dry-run]"},
	    {{"cluster", "config", "--strategy", "random"},
	     "--strategy takes spread or pack, not 'random'",
	     "cluster config [--strategy spread|pack]"},
	    {{"cluster", "config", "--weight-load", "high"},
	     "--weight-load takes a number of 0 or more, like 1 or 0.5, not 'high'",
	     "cluster config [--strategy spread|pack]"},
	    {{"operation", "show"}, "missing ID", "operation show ID"},
	    {{"operation", "wait", "op-1"}, "unknown command 'operation wait'",
	     "operation show|cancel ..."},
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct outcome o;
		char want[1024];
		int argc = 0;

		while (argc < 7 && cases[i].args[argc])
			argc++;
		run(&o, argc, cases[i].args);
		if (cases[i].usage)
			snprintf(want, sizeof(want), "warren: %s\nusage: warren %s", cases[i].error,
				 cases[i].usage);
		else
			snprintf(
			    want, sizeof(want),
			    "warren: %s\nusage: warren [--socket PATH] [--format table|json|yaml] "
			    "COMMAND [ARGS]",
			    cases[i].error);
		/* The error, then one usage line and nothing more. */
		if (o.status != CLI_EXIT_USAGE || strncmp(o.err, want, strlen(want)) != 0 ||
		    strcmp(strchr(o.err + strlen(want), '\n') ?: "", "\n") != 0)
			fail_msg("case %zu (%s): exit %d, stderr:\n%s", i, cases[i].args[0],
				 o.status, o.err);
		assert_string_equal(o.out, "");
	}
}

static void test_no_command(void **state)
{
	struct outcome o;

	run(&o, 0, NULL);
	assert_int_equal(o.status, CLI_EXIT_USAGE);
	assert_string_equal(o.err,
			    "warren: missing COMMAND (see 'warren --help')\n"
			    "usage: warren [--socket PATH] [--format table|json|yaml] COMMAND "
			    "[ARGS]\n");
}

static void test_help(void **state)
{
	static const struct {
		char *args[4];
		const char *want[4]; /* each somewhere in stdout */
	} cases[] = {
	    /* The summaries line up after the longest command. */
	    {{"--help"},
	     {"\n  host info          show the host", "\n  cluster rebalance  move VMs so",
	      "\n  snapshot restore   bring a VM back"}},
	    /* Global flags may follow the verb, help included. */
	    {{"shutdown", "-h"},
	     {"usage: warren shutdown NAME [--timeout SECONDS]", "  --mode MODE ",
	      "  --socket PATH "}},
	    {{"snapshot", "create", "--help"},
	     {"usage: warren snapshot create VM SNAP [--memory|--no-memory]", "  --no-memory "}},
	    {{"clone", "-h"}, {"  --from-snapshot SNAP "}},
	    {{"--help", "events"}, {"usage: warren events [--vm NAME]"}},
	    /* The left column is as wide as the command's longest option. */
	    {{"create", "--help"},
	     {"\n  --memory-reservation SIZE memory admission counts",
	      "\n  --cpus N                  number of virtual CPUs",
	      "\n  --policy P[,P]            --security and/or"}},
	    /* The keys of a NIC are part of create's and nic add's help. */
	    {{"create", "--help"}, {"\nKeys of --nic:\n  network=NAME ", "  trust=on|off "}},
	    {{"nic", "add", "-h"},
	     {"usage: warren nic add VM network=NAME[,KEY=VALUE]...\n", "\nKeys:\n  network=NAME ",
	      "  vlan=N "}},
	    {{"network", "create", "--help"}, {"  --subnet CIDR ", "  --uplink HOSTIF "}},
	    /* migrate's help says what DEST may be. */
	    {{"migrate", "--help"},
	     {"usage: warren migrate NAME --to DEST [--live|--offline] [--storage shared|copy] "
	      "[--max-downtime DURATION] [--bandwidth SIZE] [--no-auto-converge] [--no-wait]\n",
	      "\nDEST is the warrend to move to:\n  unix:PATH or /PATH ",
	      "\n  --max-downtime DURATION  longest the guest may stop",
	      "\n  --no-auto-converge       do not slow"}},
	    {{"--help"},
	     {"\n  migrate            move a VM to another warrend",
	      "\n  migration list     list the migrations"}},
	    {{"migrate", "--help"},
	     {"\n  http://HOST:PORT      the TCP listener of a warrend",
	      "\n  MEMBER                a member of this warrend's cluster"}},
	    /* The cluster's commands, and create's options for a cluster. */
	    {{"cluster", "init", "--help"},
	     {"usage: warren cluster init --etcd URL[,URL...] [--name NAME] [--label KEY=VALUE]... "
	      "[--ttl DURATION]\n",
	      "\n  --etcd URL[,URL...] ", "\n  --ttl DURATION "}},
	    {{"cluster", "config", "-h"},
	     {"\n  --strategy STRATEGY ", "\n  --weight-memory X ", "\n  --rebalance-threshold X "}},
	    {{"cluster", "rebalance", "--help"}, {"\n  --dry-run ", "\n  --threshold FRACTION "}},
	    {{"create", "--help"},
	     {"\n  --target MEMBER ", "\n  --require-label KEY=VALUE ",
	      "\n  --anti-affinity GROUP "}},
	    /* set's keys are part of its help. */
	    {{"set", "--help"},
	     {"usage: warren set NAME KEY=VALUE...\n", "\nKeys:\n  cpu_weight=N ",
	      "  nicN.link=up|down ", "\nThe value none removes"}},
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct outcome o;
		int argc = 0;

		while (argc < 4 && cases[i].args[argc])
			argc++;
		run(&o, argc, cases[i].args);
		assert_int_equal(o.status, 0);
		assert_string_equal(o.err, "");
		assert_null(strstr(o.out, "__commands"));
		for (size_t j = 0; j < 4 && cases[i].want[j]; j++)
			if (!strstr(o.out, cases[i].want[j]))
				fail_msg("case %zu (%s): no '%s' in:\n%s", i, cases[i].args[0],
					 cases[i].want[j], o.out);
	}
}

static void test_commands_list(void **state)
{
	struct outcome o;

	RUN(&o, "__commands");
	assert_int_equal(o.status, 0);
	assert_string_equal(o.out, "create\nlist\nshow\nset\nstart\nshutdown\npoweroff\nreboot\nreset\n"
				   "pause\nresume\nsuspend\ndelete\nclone\nsnapshot create\n"
				   "snapshot list\nsnapshot show\nsnapshot restore\nsnapshot delete\n"
				   "migrate\nmigration list\n"
				   "cluster init\ncluster join\ncluster show\ncluster members\n"
				   "cluster remove\ncluster evacuate\ncluster rebalance\n"
				   "cluster config\n"
				   "network create\nnetwork list\nnetwork show\nnetwork delete\n"
				   "nic add\nnic list\nnic remove\n"
				   "exec\nconsole\nevents\nstats\ntop\noperation show\n"
				   "operation cancel\nhost info\nhost log-level\nversion\n");
}

static void test_no_daemon(void **state)
{
	struct outcome o;

	RUN(&o, "--socket", "/nonexistent/warren.sock", "list");
	assert_int_equal(o.status, CLI_EXIT_FAILED);
	assert_string_equal(o.err, "warren: cannot connect to warrend at /nonexistent/warren.sock: "
				   "No such file or directory (is warrend running?)\n");

	/* $WARREN_SOCKET is the default; --socket wins over it. */
	setenv("WARREN_SOCKET", "/nonexistent/env.sock", 1);
	RUN(&o, "show", "web1");
	assert_int_equal(o.status, CLI_EXIT_FAILED);
	assert_non_null(strstr(o.err, "at /nonexistent/env.sock:"));
	RUN(&o, "show", "web1", "--socket", "/nonexistent/flag.sock");
	assert_non_null(strstr(o.err, "at /nonexistent/flag.sock:"));
	unsetenv("WARREN_SOCKET");

	/* Each new kind of request gets as far as connecting. */
	static char *needs_daemon[][7] = {
	    {"snapshot", "create", "web1", "s1", "--no-memory"},
	    {"snapshot", "list", "web1"},
	    {"snapshot", "restore", "web1", "s1"},
	    {"snapshot", "delete", "web1", "s1"},
	    {"clone", "web1", "web2", "--linked", "--from-snapshot", "s1"},
	    {"operation", "cancel", "op-1"},
	    {"set", "web1", "cpu_limit=0.5", "pin=none", "disk.data.iops=300"},
	    {"host", "info"},
	    {"create", "web1", "--nic", "lan,ip=10.0.0.5", "--nic", "dmz"},
	    {"set", "web1", "nic0.rate=20Mbit", "nic0.link=down"},
	    {"network", "create", "lan", "--subnet", "10.0.0.0/24"},
	    {"network", "list"},
	    {"network", "show", "lan"},
	    {"network", "delete", "lan"},
	    {"nic", "add", "web1", "network=lan,trust=on"},
	    {"nic", "list", "web1"},
	    {"nic", "remove", "web1", "nic1"},
	    {"migrate", "web1", "--to", "unix:/run/b.sock"},
	    {"migrate", "web1", "--to", "/run/b.sock", "--offline", "--storage", "copy"},
	    {"migrate", "web1", "--to=/b.sock", "--max-downtime=300", "--bandwidth=1G",
	     "--no-auto-converge", "--no-wait"},
	    {"migration", "list"},
	    {"list", "--local"},
	    {"create", "web1", "--target", "b", "--explain", "--ha"},
	    {"operation", "show", "0123abcd@b"},
	    {"cluster", "init", "--etcd", "http://e1:2379,http://e2:2379", "--ttl", "10s"},
	    {"cluster", "join", "http://a:7001", "--token", "t", "--label", "zone=x"},
	    {"cluster", "show"},
	    {"cluster", "members"},
	    {"cluster", "remove", "b", "--force"},
	    {"cluster", "evacuate", "b"},
	    {"cluster", "rebalance", "--dry-run", "--threshold", "0.2"},
	    {"cluster", "config"},
	    {"cluster", "config", "--strategy", "pack", "--weight-load", "0.5"},
	};
	for (size_t i = 0; i < ARRAY_SIZE(needs_daemon); i++) {
		char *args[9] = {"--socket", "/nonexistent/warren.sock"};
		int argc = 2;

		while (argc - 2 < 7 && needs_daemon[i][argc - 2]) {
			args[argc] = needs_daemon[i][argc - 2];
			argc++;
		}
		run(&o, argc, args);
		assert_int_equal(o.status, CLI_EXIT_FAILED);
		assert_non_null(strstr(o.err, "cannot connect to warrend"));
	}

	/* version needs no daemon. */
	RUN(&o, "version", "--socket", "/nonexistent/warren.sock");
	assert_int_equal(o.status, 0);
	assert_string_equal(o.out, "warren " WARREN_VERSION "\n");
	RUN(&o, "--format", "json", "version", "--socket", "/nonexistent/warren.sock");
	assert_int_equal(o.status, 0);
	assert_string_equal(o.out,
			    "{\n  \"cli\": \"" WARREN_VERSION "\",\n  \"daemon\": null\n}\n");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_bad_usage), cmocka_unit_test(test_no_command),
	    cmocka_unit_test(test_help),      cmocka_unit_test(test_commands_list),
	    cmocka_unit_test(test_no_daemon),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
