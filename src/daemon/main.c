/*
 * warrend: the Warren daemon.
 *
 * One process, one libevent loop. Start-up order matters: become a child
 * subreaper (so QEMU processes we start in their own sessions stay our
 * descendants and are reaped at once), open the store, probe the
 * accelerator, re-attach to every QEMU that outlived a previous daemon,
 * and only then accept API requests. SIGTERM and SIGINT stop the daemon
 * but never the VMs: they keep running and the next daemon adopts them.
 */
#include <getopt.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/sysinfo.h>

#include "api/api.h"
#include "daemon/internal.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: warrend [--socket PATH] [--state-dir DIR] [--log-level LEVEL]\n"
		"               [--accel auto|kvm|tcg] [--kvm-device PATH] [--qemu PATH]\n"
		"               [--qemu-img PATH] [--shutdown-timeout SECONDS]\n"
		"               [--stats-interval SECONDS] [--events-retention DAYS]\n"
		"               [--console-log-max SIZE] [--metrics-listen HOST:PORT]\n"
		"               [--config FILE] [--cgroup-parent NAME] [--qemu-user USER]\n"
		"               [--storage-dir DIR] [--peer-token-file FILE]\n"
		"               [--listen HOST:PORT]\n"
		"               [--check-accel]\n");
}

static int mkdir_p(const char *path, mode_t mode)
{
	char buf[PATH_MAX];
	size_t n = strlen(path);

	if (n == 0 || n >= sizeof(buf))
		return -ENAMETOOLONG;
	memcpy(buf, path, n + 1);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, mode) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(buf, mode) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

static void on_stop_signal(evutil_socket_t fd, short what, void *arg)
{
	struct daemon *d = arg;

	log_info("signal %d: stopping the daemon; VMs keep running", (int)fd);
	event_base_loopbreak(d->base);
}

#define DEFAULT_CONFIG "/etc/warren/warrend.conf"

/* Does the comma list of controllers hold name? */
static bool has_controller(const char *list, size_t n, const char *name)
{
	size_t k = strlen(name);

	for (const char *p = list; p < list + n;) {
		const char *e = memchr(p, ',', (size_t)(list + n - p));
		size_t len = e ? (size_t)(e - p) : (size_t)(list + n - p);
		if (len == k && memcmp(p, name, k) == 0)
			return true;
		p += len + 1;
	}
	return false;
}

/*
 * Under cgroup v1, VMs' groups go below the daemon's own group in each
 * hierarchy, so that whatever limits the daemon was given (a service's
 * memory cap) also hold its VMs. v2 forbids processes in a group whose
 * controllers are delegated to children, so there the groups stay at the
 * top of the unified tree.
 */
static void cgroups_below_own(struct cg_root *cg)
{
	struct {
		const char *controller;
		char *mount;
	} hier[] = {{"cpu", cg->cpu},	     {"cpuacct", cg->cpuacct}, {"cpuset", cg->cpuset},
		    {"memory", cg->memory}, {"blkio", cg->blkio}};
	char line[512];
	FILE *f;

	if (cg->version != CG_V1 || !(f = fopen("/proc/self/cgroup", "re")))
		return;
	while (fgets(line, sizeof(line), f)) {
		char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
		if (!c2)
			continue;
		c2[strcspn(c2, "\n")] = '\0';
		if (strcmp(c2 + 1, "/") == 0)
			continue;
		for (size_t i = 0; i < ARRAY_SIZE(hier); i++) {
			size_t n = strlen(hier[i].mount);
			if (n && has_controller(c1 + 1, (size_t)(c2 - c1 - 1), hier[i].controller) &&
			    n + strlen(c2 + 1) < CG_PATH_MAX)
				memcpy(hier[i].mount + n, c2 + 1, strlen(c2 + 1) + 1);
		}
	}
	fclose(f);
}

/* Inventory, capacity (defaults, then the config file) and cgroups. A
 * config file named on the command line must exist; the default one may
 * be absent. */
static void setup_host(struct daemon *d)
{
	char msg[512];
	int r = host_inventory_read("/", d->cfg.state_dir, &d->inventory);

	if (r < 0)
		fatal("cannot read the host's inventory: %s", strerror(-r));
	host_capacity_config_default(&d->inventory, &d->capacity);
	if (!d->cfg.config_path && access(DEFAULT_CONFIG, F_OK) == 0)
		d->cfg.config_path = DEFAULT_CONFIG;
	if (d->cfg.config_path &&
	    host_config_parse(d->cfg.config_path, &d->capacity, msg, sizeof(msg)) < 0)
		fatal("%s", msg);
	r = cg_detect("/proc/self/mountinfo", &d->cgroups);
	if (r == 0)
		cgroups_below_own(&d->cgroups);
	if (r < 0)
		log_warn_errno(r, "cannot tell which cgroups this host has; VMs run without "
				  "cgroup limits");
	log_info("capacity: cpu ratio %.1f, memory ratio %.1f, %llu MiB reserved; cgroups %s",
		 d->capacity.cpu_ratio, d->capacity.memory_ratio,
		 (unsigned long long)(d->capacity.memory_reserved >> 20),
		 d->cgroups.version == CG_V2   ? "v2"
		 : d->cgroups.version == CG_V1 ? "v1"
					       : "none");
}

/* The peer token: the file's first line, at least PEER_TOKEN_MIN bytes of
 * it; kept for the daemon's life. */
#define PEER_TOKEN_MIN 16
static int read_token(const char *path, char **ret)
{
	char buf[512];
	FILE *f = fopen(path, "re");
	size_t n;

	if (!f) {
		fprintf(stderr, "warrend: --peer-token-file: cannot read %s: %s\n", path,
			strerror(errno));
		return -errno;
	}
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	buf[strcspn(buf, "\r\n")] = '\0';
	if (strlen(buf) < PEER_TOKEN_MIN) {
		fprintf(stderr, "warrend: --peer-token-file: the token in %s is shorter than %d "
				"characters\n", path, PEER_TOKEN_MIN);
		return -EINVAL;
	}
	*ret = strdup(buf);
	return *ret ? 0 : -ENOMEM;
}

static int parse_args(int argc, char **argv, struct daemon_config *cfg, bool *check_accel)
{
	static const struct option opts[] = {
		{"socket", required_argument, NULL, 's'},
		{"state-dir", required_argument, NULL, 'd'},
		{"log-level", required_argument, NULL, 'l'},
		{"accel", required_argument, NULL, 'a'},
		{"kvm-device", required_argument, NULL, 'k'},
		{"qemu", required_argument, NULL, 'q'},
		{"qemu-img", required_argument, NULL, 'i'},
		{"shutdown-timeout", required_argument, NULL, 't'},
		{"stats-interval", required_argument, NULL, 'S'},
		{"events-retention", required_argument, NULL, 'R'},
		{"console-log-max", required_argument, NULL, 'M'},
		{"metrics-listen", required_argument, NULL, 'P'},
		{"check-accel", no_argument, NULL, 'C'},
		{"config", required_argument, NULL, 'F'},
		{"cgroup-parent", required_argument, NULL, 'G'},
		{"qemu-user", required_argument, NULL, 'U'},
		{"storage-dir", required_argument, NULL, 'D'},
		{"peer-token-file", required_argument, NULL, 'T'},
		{"listen", required_argument, NULL, 'L'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	enum log_level lvl;
	char *end;
	int c;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			cfg->socket_path = optarg;
			break;
		case 'd':
			cfg->state_dir = optarg;
			break;
		case 'l':
			if (log_level_from_string(optarg, &lvl) < 0) {
				fprintf(stderr, "warrend: --log-level: '%s' is not one of error, "
						"warn, info, debug\n", optarg);
				return -EINVAL;
			}
			log_set_level(lvl);
			break;
		case 'a':
			if (accel_mode_from_string(optarg, &cfg->accel_mode) < 0) {
				fprintf(stderr, "warrend: --accel: '%s' is not one of auto, kvm, tcg\n",
					optarg);
				return -EINVAL;
			}
			break;
		case 'k':
			cfg->kvm_device = optarg;
			break;
		case 'q':
			cfg->qemu_binary = optarg;
			break;
		case 'i':
			cfg->qemu_img = optarg;
			break;
		case 't': {
			unsigned long v = strtoul(optarg, &end, 10);
			if (*optarg == '\0' || *end || v < 1 || v > 3600) {
				fprintf(stderr, "warrend: --shutdown-timeout: '%s' is not a number of "
						"seconds from 1 to 3600\n", optarg);
				return -EINVAL;
			}
			cfg->shutdown_timeout_s = (unsigned)v;
			break;
		}
		case 'S': {
			double v = strtod(optarg, &end);
			if (*optarg == '\0' || *end || !(v >= 0.1 && v <= 3600)) {
				fprintf(stderr, "warrend: --stats-interval: '%s' is not a number of "
						"seconds from 0.1 to 3600\n", optarg);
				return -EINVAL;
			}
			cfg->stats_interval_ms = (unsigned)(v * 1000 + 0.5);
			break;
		}
		case 'R': {
			unsigned long v = strtoul(optarg, &end, 10);
			if (*optarg == '\0' || *end || v < 1 || v > 36500) {
				fprintf(stderr, "warrend: --events-retention: '%s' is not a number of "
						"days from 1 to 36500\n", optarg);
				return -EINVAL;
			}
			cfg->events_retention_days = (unsigned)v;
			break;
		}
		case 'M': {
			uint64_t v;
			if (size_parse(optarg, &v) < 0 || v < 1024 || v > (1ULL << 32)) {
				fprintf(stderr, "warrend: --console-log-max: '%s' is not a size from "
						"1K to 4G\n", optarg);
				return -EINVAL;
			}
			cfg->console_log_max = v;
			break;
		}
		case 'P':
			cfg->metrics_listen = optarg;
			break;
		case 'C':
			*check_accel = true;
			break;
		case 'F':
			cfg->config_path = optarg;
			break;
		case 'G':
			cfg->cgroup_parent = optarg;
			break;
		case 'U':
			cfg->qemu_user = optarg;
			break;
		case 'D':
			cfg->storage_dir = optarg;
			break;
		case 'L':
			cfg->listen = optarg;
			break;
		case 'T':
			if (read_token(optarg, &cfg->peer_token) < 0)
				return -EINVAL;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			return -EINVAL;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "warrend: unexpected argument '%s'\n", argv[optind]);
		return -EINVAL;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct daemon d = {
		.cfg = {
			.state_dir = "/var/lib/warren",
			.socket_path = "/run/warren/warren.sock",
			.qemu_binary = "qemu-system-x86_64",
			.qemu_img = "qemu-img",
			.accel_mode = ACCEL_MODE_AUTO,
			.kvm_device = "/dev/kvm",
			.shutdown_timeout_s = DEFAULT_SHUTDOWN_TIMEOUT_S,
			.stats_interval_ms = 10000,
			.events_retention_days = 30,
			.console_log_max = CONSOLE_LOG_MAX,
			.cgroup_parent = "warren",
			.qemu_user = "warren-qemu",
		},
	};
	struct event *sigterm = NULL, *sigint = NULL;
	struct accel_facts facts;
	bool check_accel = false;
	struct api *api = NULL;
	struct metrics_tcp *metrics = NULL;
	char path[PATH_MAX], real[PATH_MAX];
	struct sysinfo si;
	int r;

	log_set_ident("warrend");
	if (parse_args(argc, argv, &d.cfg, &check_accel) < 0) {
		usage(stderr);
		return 2;
	}
	accel_probe(d.cfg.kvm_device, ACCEL_PROBE_BOUND_NS, &facts);
	accel_decide(&facts, d.cfg.accel_mode, &d.accel);
	if (check_accel) {
		printf("accelerator: %s\nreason: %s\n", accel_kind_to_string(d.accel.kind),
		       d.accel.reason);
		return 0;
	}
	log_info("accelerator %s: %s", accel_kind_to_string(d.accel.kind), d.accel.reason);

	/* Our QEMUs run in their own sessions; as a subreaper we still reap
	 * them (and their orphans) ourselves, at once. */
	if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0)
		log_warn("cannot become a child subreaper: %s", strerror(errno));
	signal(SIGPIPE, SIG_IGN);

	r = mkdir_p(d.cfg.state_dir, 0750);
	if (r < 0)
		fatal("cannot create the state directory %s: %s", d.cfg.state_dir, strerror(-r));
	/* Paths handed to QEMU must not depend on our working directory. */
	if (!realpath(d.cfg.state_dir, real))
		fatal("cannot resolve %s: %s", d.cfg.state_dir, strerror(errno));
	d.cfg.state_dir = real;
	if (strlen(d.cfg.state_dir) > 200)
		fatal("the state directory path %s is too long for QEMU's Unix sockets",
		      d.cfg.state_dir);
	snprintf(path, sizeof(path), "%.200s/vms", d.cfg.state_dir);
	r = mkdir_p(path, 0750);
	if (r < 0)
		fatal("cannot create %s: %s", path, strerror(-r));
	/* QEMU of a strict VM runs as its own user and must reach its VM's
	 * directory (which it owns) and the images: traversable, not
	 * listable. */
	chmod(d.cfg.state_dir, 0711);
	chmod(path, 0711);
	if (d.cfg.storage_dir) {
		static char storage[PATH_MAX];
		r = mkdir_p(d.cfg.storage_dir, 0711);
		if (r < 0 || !realpath(d.cfg.storage_dir, storage))
			fatal("cannot use the storage directory %s: %s", d.cfg.storage_dir,
			      strerror(r < 0 ? -r : errno));
		if (strlen(storage) > 200)
			fatal("the storage directory path %s is too long", storage);
		d.cfg.storage_dir = storage;
	} else {
		static char storage[PATH_MAX];
		snprintf(storage, sizeof(storage), "%s", path);
		d.cfg.storage_dir = storage;
	}
	snprintf(path, sizeof(path), "%.200s/warren.db", d.cfg.state_dir);
	r = store_open(path, &d.store);
	if (r < 0)
		fatal("cannot open the store %s: %s", path, strerror(-r));

	d.limits.max_cpus = (unsigned)sysconf(_SC_NPROCESSORS_ONLN);
	d.limits.max_memory = sysinfo(&si) == 0 ? (uint64_t)si.totalram * si.mem_unit : 0;
	setup_host(&d);

	d.base = event_base_new();
	if (!d.base)
		fatal("cannot create the event loop");
	if (children_init(&d) < 0)
		fatal("cannot watch child processes");
	r = networks_init(&d);
	if (r < 0)
		fatal("cannot load networks from the store: %s", strerror(-r));
	r = daemon_load_vms(&d);
	if (r < 0)
		fatal("cannot load VMs from the store: %s", strerror(-r));
	networks_adopt(&d);
	if (peer_init(&d) < 0)
		fatal("cannot set up requests to other daemons");
	migrations_recover(&d);
	if (cluster_load(&d) < 0)
		fatal("cannot take part in the cluster recorded in the store");
	if (stats_init(&d) < 0 || events_retention_init(&d) < 0)
		fatal("cannot set up sampling timers");
	r = api_start(d.base, &d, d.cfg.socket_path, &api);
	if (r < 0)
		fatal("cannot serve the API on %s: %s", d.cfg.socket_path, strerror(-r));
	if (d.cfg.listen) {
		r = api_listen_tcp(api, d.cfg.listen);
		if (r < 0)
			fatal("cannot serve the API on %s: %s (want HOST:PORT)", d.cfg.listen,
			      strerror(-r));
	}
	if (d.cfg.metrics_listen) {
		r = api_metrics_listen(d.base, &d, d.cfg.metrics_listen, &metrics);
		if (r < 0)
			fatal("cannot serve metrics on %s: %s (want HOST:PORT)", d.cfg.metrics_listen,
			      strerror(-r));
		log_info("Prometheus metrics on http://%s/metrics", d.cfg.metrics_listen);
	}
	sigterm = evsignal_new(d.base, SIGTERM, on_stop_signal, &d);
	sigint = evsignal_new(d.base, SIGINT, on_stop_signal, &d);
	evsignal_add(sigterm, NULL);
	evsignal_add(sigint, NULL);
	log_info("warrend %s ready on %s (state in %s)", WARREN_VERSION, d.cfg.socket_path,
		 d.cfg.state_dir);

	event_base_dispatch(d.base);

	api_metrics_stop(metrics);
	api_stop(api);
	stats_fini(&d);
	events_fini(&d);
	migrations_fini(&d);
	cluster_fini(&d);
	peer_fini(&d);
	ops_fini(&d);
	while (d.vms) {
		struct vm_rt *vm = d.vms;
		d.vms = vm->next;
		vm_rt_free(vm);
	}
	strv_free(d.creating);
	networks_fini(&d);
	children_fini(&d);
	event_free(sigterm);
	event_free(sigint);
	store_close(d.store);
	event_base_free(d.base);
	free(d.cfg.peer_token);
	return 0;
}
