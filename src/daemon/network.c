/*
 * network: networks as a resource. Each network is a Linux bridge (one
 * per VLAN segment), the gateway address on its own segment's bridge, a
 * dnsmasq of its own for DHCP and DNS when dhcp is on, and rules in
 * Warren's own nftables tables. The store row is written before anything
 * is made and removed after everything is gone, so that a restart finds
 * whatever a network may have left on the host: networks_init re-adopts
 * (bridges, dnsmasq) or recreates what is missing and removes interfaces
 * of ours that nothing owns.
 *
 * The host is changed with ip, nft and dnsmasq, run synchronously: each
 * takes milliseconds and they run only when networks or NICs change.
 */
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <net/if.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon/internal.h"

#define _cleanup_json_ _cleanup_(json_decrefp)

static int netw_path(struct daemon *d, const char *name, const char *file, char *buf, size_t len)
{
	int n = snprintf(buf, len, "%s/networks/%s%s%s", d->cfg.state_dir, name, file ? "/" : "",
			 file ? file : "");

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

struct netw *netw_find(struct daemon *d, const char *name)
{
	for (struct netw *n = d->nets; n; n = n->next)
		if (strcmp(n->name, name) == 0)
			return n;
	return NULL;
}

static bool if_exists(const char *ifname)
{
	return if_nametoindex(ifname) != 0;
}

/* Run a command made of words; failures land in err (may be NULL). */
static int run(struct werr *err, const char *input, char *arg0, ...)
{
	char *argv[24];
	size_t n = 0;
	va_list ap;

	argv[n++] = arg0;
	va_start(ap, arg0);
	while (n < ARRAY_SIZE(argv) - 1 && (argv[n] = va_arg(ap, char *)))
		n++;
	va_end(ap);
	argv[n] = NULL;
	return net_run(argv, input, err);
}

/* Probed when networks first matter, not at every start. */
static enum net_vlan_mode vlan_mode(struct daemon *d)
{
	if (!d->vlan_probed && geteuid() == 0)
		d->vlan_mode = net_vlan_probe(net_run);
	d->vlan_probed = true;
	return d->vlan_mode;
}

/* Names of the host's interfaces (this network namespace's). */
static char **host_ifaces(void)
{
	_cleanup_fclose_ FILE *f = fopen("/proc/net/dev", "re");
	char line[512], **v = NULL;

	if (!f)
		return NULL;
	while (fgets(line, sizeof(line), f)) {
		char *colon = strchr(line, ':'), *name = line;

		if (!colon)
			continue; /* the two header lines */
		*colon = '\0';
		name += strspn(name, " ");
		if (strv_push(&v, name) < 0)
			break;
	}
	return v;
}

/* ---- the network's JSON ------------------------------------------------- */

static json_t *netw_config_json(const struct netw *n)
{
	char subnet[19], gw[16];

	return json_pack("{s:s, s:s, s:b, s:b, s:i, s:o, s:o}", "subnet",
			 net_cidr_format(&n->subnet, subnet), "gateway", net_ip_format(n->gateway, gw),
			 "dhcp", n->dhcp, "nat", n->nat, "mtu", (int)n->mtu, "vlan",
			 n->vlan ? json_integer(n->vlan) : json_null(), "uplink",
			 n->uplink[0] ? json_string(n->uplink) : json_null());
}

static const char *const netw_keys[] = {"name", "subnet", "gateway", "dhcp", "nat",
					"mtu",  "vlan",   "uplink"};

static int get_bool_key(json_t *j, const char *key, bool dflt, bool *ret, struct werr *err)
{
	json_t *v = json_object_get(j, key);

	if (!v || json_is_null(v)) {
		*ret = dflt;
		return 0;
	}
	if (!json_is_boolean(v))
		return werr_set(err, -EINVAL, "invalid", key, "%s must be true or false", key);
	*ret = json_is_true(v);
	return 0;
}

static int get_uint_key(json_t *j, const char *key, unsigned lo, unsigned hi, unsigned dflt,
			unsigned *ret, struct werr *err)
{
	json_t *v = json_object_get(j, key);

	if (!v || json_is_null(v)) {
		*ret = dflt;
		return 0;
	}
	if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi)
		return werr_set(err, -EINVAL, "invalid", key, "%s must be a whole number from %u to %u",
				key, lo, hi);
	*ret = (unsigned)json_integer_value(v);
	return 0;
}

static int get_str_key(json_t *j, const char *key, const char **ret, struct werr *err)
{
	json_t *v = json_object_get(j, key);

	*ret = NULL;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_string(v) || strlen(json_string_value(v)) != json_string_length(v))
		return werr_set(err, -EINVAL, "invalid", key, "%s must be a string", key);
	*ret = json_string_value(v);
	return 0;
}

/* A network's settings from a create request (or its stored config):
 * shape only; what depends on other networks and the host is checked by
 * netw_check. */
static int netw_from_json(json_t *j, struct netw *n, struct werr *err)
{
	const char *s, *key;
	json_t *v;
	int r;

	if (!json_is_object(j))
		return werr_set(err, -EINVAL, "invalid", "",
				"the request body must be a JSON object like {\"name\": \"lan\", "
				"\"subnet\": \"10.0.0.0/24\"}");
	json_object_foreach(j, key, v) {
		bool known = false;

		for (size_t i = 0; i < ARRAY_SIZE(netw_keys); i++)
			known |= strcmp(key, netw_keys[i]) == 0;
		if (!known)
			return werr_set(err, -EINVAL, "invalid", key,
					"unknown key '%.40s'; allowed keys are name, subnet, gateway, "
					"dhcp, nat, mtu, vlan and uplink",
					key);
	}
	if ((r = get_str_key(j, "subnet", &s, err)) < 0)
		return r;
	if (!s)
		return werr_set(err, -EINVAL, "invalid", "subnet",
				"subnet is required, e.g. '10.0.0.0/24'");
	if ((r = net_cidr_parse(s, &n->subnet, "subnet", err)) < 0)
		return r;
	if ((r = get_str_key(j, "gateway", &s, err)) < 0)
		return r;
	n->gateway = n->subnet.addr + 1;
	if (s && net_ip_parse(s, &n->gateway) < 0)
		return werr_set(err, -EINVAL, "invalid", "gateway",
				"gateway '%.40s' is not an IPv4 address", s);
	if (!net_cidr_contains(&n->subnet, n->gateway) || n->gateway == n->subnet.addr ||
	    n->gateway == net_cidr_broadcast(&n->subnet))
		return werr_set(err, -EINVAL, "invalid", "gateway",
				"gateway must be a host address inside the subnet (not its network "
				"or broadcast address)");
	if ((r = get_bool_key(j, "dhcp", true, &n->dhcp, err)) < 0 ||
	    (r = get_bool_key(j, "nat", false, &n->nat, err)) < 0 ||
	    (r = get_uint_key(j, "mtu", NET_MIN_MTU, NET_MAX_MTU, NET_DEFAULT_MTU, &n->mtu, err)) <
		    0 ||
	    (r = get_uint_key(j, "vlan", 1, 4094, 0, &n->vlan, err)) < 0 ||
	    (r = get_str_key(j, "uplink", &s, err)) < 0)
		return r;
	if (s && (strlen(s) == 0 || strlen(s) > NET_IFNAME_MAX || strchr(s, '/') ||
		  strchr(s, ' ')))
		return werr_set(err, -EINVAL, "invalid", "uplink",
				"uplink '%.40s' is not an interface name", s);
	snprintf(n->uplink, sizeof(n->uplink), "%s", s ? s : "");
	return 0;
}

/* What a new network must not collide with: other networks, the host's
 * routes (read from the routing table, nothing is sent), interfaces. */
static int netw_check(struct daemon *d, const struct netw *n, struct werr *err)
{
	_cleanup_free_ char *text = NULL;
	struct net_route *routes = NULL;
	char a[19], b[19];
	size_t n_routes = 0, len = 0;
	int r = 0;

	for (struct netw *o = d->nets; o; o = o->next) {
		if (net_cidr_overlap(&o->subnet, &n->subnet))
			return werr_set(err, -EEXIST, "conflict", "subnet",
					"subnet %s overlaps %s of network %s",
					net_cidr_format(&n->subnet, a), net_cidr_format(&o->subnet, b),
					o->name);
		if (n->uplink[0] && strcmp(o->uplink, n->uplink) == 0)
			return werr_set(err, -EEXIST, "conflict", "uplink",
					"uplink %s is already used by network %s", n->uplink,
					o->name);
	}
	{
		_cleanup_fclose_ FILE *f = fopen("/proc/net/route", "re");
		if (f && getdelim(&text, &len, '\0', f) < 0) {
			free(text);
			text = NULL;
		}
	}
	if (text && net_routes_parse(text, &routes, &n_routes) == 0) {
		for (size_t i = 0; i < n_routes && r == 0; i++)
			if (!net_is_bridge_name(routes[i].ifname) &&
			    net_cidr_overlap(&routes[i].dst, &n->subnet))
				r = werr_set(err, -EEXIST, "conflict", "subnet",
					     "subnet %s overlaps the host's route to %s on %s",
					     net_cidr_format(&n->subnet, a),
					     net_cidr_format(&routes[i].dst, b), routes[i].ifname);
		free(routes);
		if (r < 0)
			return r;
	}
	if (n->uplink[0]) {
		if (net_is_bridge_name(n->uplink) || net_is_tap_name(n->uplink))
			return werr_set(err, -EINVAL, "invalid", "uplink",
					"uplink %s is an interface of Warren's own", n->uplink);
		if (!if_exists(n->uplink))
			return werr_set(err, -EINVAL, "invalid", "uplink",
					"uplink %s: there is no such interface on this host",
					n->uplink);
		if (n->vlan && vlan_mode(d) != NET_VLAN_8021Q)
			return werr_set(err, -EINVAL, "invalid", "vlan",
					"vlan %u cannot be tagged on uplink %s: this kernel has "
					"neither 802.1Q links nor bridge VLAN filtering; leave out "
					"the uplink (the segment stays on this host) or the vlan",
					n->vlan, n->uplink);
	}
	return 0;
}

/* ---- the host side -------------------------------------------------------- */


/* The 802.1Q link carrying segment vlan on the uplink: wu<idx>v<vlan>. */
static void uplink_vlan_name(const struct netw *n, unsigned vlan, char *buf, size_t len)
{
	snprintf(buf, len, "wu%uv%u", n->idx, vlan);
}

int netw_segment_up(struct daemon *d, const struct netw *n, unsigned vlan, char *bridge,
		    struct werr *err)
{
	char mtu[12], addr[32], gw[16], path[PATH_MAX], vif[NET_IFNAME_MAX + 1];
	bool own = vlan == 0 || vlan == n->vlan;
	unsigned tag = own ? n->vlan : vlan;
	int r;

	net_bridge_name(n->idx, own ? 0 : vlan, bridge);
	snprintf(mtu, sizeof(mtu), "%u", n->mtu);
	if (!if_exists(bridge) &&
	    (r = run(err, NULL, "ip", "link", "add", bridge, "mtu", mtu, "type", "bridge", NULL)) < 0)
		return r;
	/* Only what the network needs: no IPv6 router solicitations or
	 * duplicate address probes from the host side. */
	snprintf(path, sizeof(path), "/proc/sys/net/ipv6/conf/%s/disable_ipv6", bridge);
	{
		_cleanup_close_ int fd = open(path, O_WRONLY | O_CLOEXEC);
		if (fd >= 0 && write(fd, "1", 1) < 0)
			log_debug("%s: cannot turn IPv6 off", bridge);
	}
	if (own) {
		snprintf(addr, sizeof(addr), "%s/%u", net_ip_format(n->gateway, gw), n->subnet.prefix);
		if ((r = run(err, NULL, "ip", "addr", "replace", addr, "dev", bridge, NULL)) < 0)
			return r;
	}
	if (n->uplink[0] && tag && vlan_mode(d) == NET_VLAN_8021Q) {
		char id[8];

		uplink_vlan_name(n, tag, vif, sizeof(vif));
		snprintf(id, sizeof(id), "%u", tag);
		if (!if_exists(vif) && (r = run(err, NULL, "ip", "link", "add", "link", n->uplink,
						"name", vif, "type", "vlan", "id", id, NULL)) < 0)
			return r;
		if ((r = run(err, NULL, "ip", "link", "set", vif, "master", bridge, "up", NULL)) < 0)
			return r;
	} else if (n->uplink[0] && own && !n->vlan) {
		if ((r = run(err, NULL, "ip", "link", "set", n->uplink, "master", bridge, "up",
			     NULL)) < 0)
			return r;
	}
	return run(err, NULL, "ip", "link", "set", bridge, "up", NULL);
}

static pid_t dnsmasq_pid(struct daemon *d, const struct netw *n)
{
	char path[PATH_MAX], conf[PATH_MAX + 16], buf[32] = "";
	_cleanup_close_ int fd = -1;
	pid_t pid;

	if (netw_path(d, n->name, "dnsmasq.pid", path, sizeof(path)) < 0)
		return 0;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || read(fd, buf, sizeof(buf) - 1) <= 0)
		return 0;
	pid = (pid_t)atoi(buf);
	if (netw_path(d, n->name, "dnsmasq.conf", path, sizeof(path)) < 0)
		return 0;
	snprintf(conf, sizeof(conf), "--conf-file=%s", path);
	return pid > 0 && proc_cmdline_has_arg(pid, conf) == 1 ? pid : 0;
}

static int write_file(const char *path, const char *text, bool *changed)
{
	char tmp[PATH_MAX + 8], old[65536];
	_cleanup_close_ int rfd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t k = rfd >= 0 ? read(rfd, old, sizeof(old) - 1) : -1;
	int fd;

	if (changed)
		*changed = !(k >= 0 && (size_t)k == strlen(text) && memcmp(old, text, (size_t)k) == 0);
	if (changed && !*changed)
		return 0;
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	if (write(fd, text, strlen(text)) != (ssize_t)strlen(text)) {
		close(fd);
		unlink(tmp);
		return -EIO;
	}
	close(fd);
	return rename(tmp, path) < 0 ? -errno : 0;
}

static void netw_desc(const struct netw *n, struct net_desc *out, struct net_segment *seg0)
{
	*out = (struct net_desc){
		.subnet = n->subnet,
		.gateway = n->gateway,
		.dhcp = n->dhcp,
		.nat = n->nat,
		.mtu = n->mtu,
		.segments = seg0,
		.n_segments = 1,
	};
	snprintf(out->name, sizeof(out->name), "%s", n->name);
	*seg0 = (struct net_segment){.vlan = n->vlan};
	net_bridge_name(n->idx, 0, seg0->bridge);
}

static int dnsmasq_start(struct daemon *d, const struct netw *n, struct werr *err)
{
	char dir[PATH_MAX], path[PATH_MAX], arg[PATH_MAX + 16];
	struct net_segment seg0;
	struct net_desc desc;
	_cleanup_free_ char *conf = NULL;
	int r;

	if (dnsmasq_pid(d, n) > 0)
		return 0;
	netw_desc(n, &desc, &seg0);
	if ((r = netw_path(d, n->name, NULL, dir, sizeof(dir))) < 0 ||
	    (r = netw_path(d, n->name, "dnsmasq.conf", path, sizeof(path))) < 0)
		return werr_internal(err, r, "naming dnsmasq's files"), r;
	conf = net_dnsmasq_conf(&desc, dir);
	if (!conf || (r = write_file(path, conf, NULL)) < 0)
		return werr_internal(err, conf ? r : -ENOMEM, "writing dnsmasq's configuration"),
		       conf ? r : -ENOMEM;
	/* Host files exist before dnsmasq reads them; the sync fills them. */
	for (const char *f = "hosts.dhcp"; f; f = strcmp(f, "hosts.dhcp") == 0 ? "hosts" : NULL) {
		char p[PATH_MAX];
		struct stat st;

		if (netw_path(d, n->name, f, p, sizeof(p)) == 0 && stat(p, &st) < 0)
			write_file(p, "", NULL);
	}
	snprintf(arg, sizeof(arg), "--conf-file=%s", path);
	/* dnsmasq forks into the background itself, reporting a failure to
	 * start (a taken port, say) before its first process exits. */
	return run(err, NULL, "dnsmasq", arg, NULL);
}

static void dnsmasq_stop(struct daemon *d, const struct netw *n)
{
	pid_t pid = dnsmasq_pid(d, n);

	if (pid <= 0)
		return;
	kill(pid, SIGTERM);
	for (int i = 0; i < 200 && kill(pid, 0) == 0; i++) {
		char stat_path[64], buf[256] = "";
		_cleanup_close_ int fd = -1;

		/* A zombie (our reaper has not run yet) is as good as gone. */
		snprintf(stat_path, sizeof(stat_path), "/proc/%d/stat", (int)pid);
		fd = open(stat_path, O_RDONLY | O_CLOEXEC);
		if (fd >= 0 && read(fd, buf, sizeof(buf) - 1) > 0 && strstr(buf, ") Z "))
			break;
		usleep(5000);
	}
}

/* Every interface of this network: its bridges and 802.1Q links. */
static void netw_remove_ifaces(const struct netw *n)
{
	_cleanup_strv_free_ char **ifs = host_ifaces();
	char own[NET_IFNAME_MAX + 1], seg[24], up[24];

	net_bridge_name(n->idx, 0, own);
	snprintf(seg, sizeof(seg), "%sv", own);
	snprintf(up, sizeof(up), "wu%uv", n->idx);
	if (n->uplink[0] && !n->vlan)
		run(NULL, NULL, "ip", "link", "set", n->uplink, "nomaster", NULL);
	for (size_t i = 0; ifs && ifs[i]; i++)
		if (strcmp(ifs[i], own) == 0 || strncmp(ifs[i], seg, strlen(seg)) == 0 ||
		    strncmp(ifs[i], up, strlen(up)) == 0)
			run(NULL, NULL, "ip", "link", "del", ifs[i], NULL);
}

static int netw_up(struct daemon *d, const struct netw *n, struct werr *err)
{
	char dir[PATH_MAX], bridge[NET_IFNAME_MAX + 1];
	int r;

	if ((r = netw_path(d, n->name, NULL, dir, sizeof(dir))) < 0)
		return werr_internal(err, r, "naming the network's directory"), r;
	if (mkdir(dir, 0755) < 0 && errno != EEXIST)
		return werr_internal(err, -errno, "making the network's directory"), -errno;
	if ((r = netw_segment_up(d, n, 0, bridge, err)) < 0)
		return r;
	/* NAT needs the host to route; the switch is host-wide, so it is
	 * turned on and left on (other users may rely on it). */
	if (n->nat) {
		_cleanup_close_ int fd = open("/proc/sys/net/ipv4/ip_forward", O_WRONLY | O_CLOEXEC);
		if (fd < 0 || write(fd, "1", 1) != 1)
			return werr_set(err, -EPERM, "unavailable", "nat",
					"cannot turn on IPv4 forwarding, which NAT needs");
	}
	return n->dhcp ? dnsmasq_start(d, n, err) : 0;
}

static void netw_down(struct daemon *d, const struct netw *n)
{
	char dir[PATH_MAX];

	dnsmasq_stop(d, n);
	netw_remove_ifaces(n);
	if (netw_path(d, n->name, NULL, dir, sizeof(dir)) == 0)
		rm_rf(dir);
}

void netw_leases_read(struct daemon *d, struct netw *n)
{
	char path[PATH_MAX];
	struct stat st;
	_cleanup_fclose_ FILE *f = NULL;
	_cleanup_free_ char *text = NULL;
	struct net_lease *leases = NULL;
	size_t len = 0, count = 0;

	if (netw_path(d, n->name, "leases", path, sizeof(path)) < 0 || stat(path, &st) < 0) {
		n->n_leases = 0;
		return;
	}
	if (st.st_mtim.tv_sec == n->leases_mtime.tv_sec &&
	    st.st_mtim.tv_nsec == n->leases_mtime.tv_nsec && st.st_size == n->leases_size)
		return;
	f = fopen(path, "re");
	if (!f)
		return;
	if (getdelim(&text, &len, '\0', f) >= 0 && net_leases_parse(text, &leases, &count) < 0)
		return; /* kept as it was: a half-written file is read next time */
	free(n->leases);
	n->leases = leases;
	n->n_leases = count;
	n->leases_mtime = st.st_mtim;
	n->leases_size = st.st_size;
}

/* ---- keeping rules and host files in step with the NICs --------------- */

/* The segment a NIC's tap joins. */
static unsigned nic_segment(const struct netw *n, const struct vm_nic *nic)
{
	return nic->vlan && nic->vlan != n->vlan ? nic->vlan : 0;
}

/* How many NICs are on n (bounds its segments). */
static size_t netw_nic_count(struct daemon *d, const struct netw *n)
{
	size_t count = 0;

	for (struct vm_rt *vm = d->vms; vm; vm = vm->next)
		for (size_t i = 0; i < vm->spec->n_nics; i++)
			count += strcmp(vm->spec->nics[i].network, n->name) == 0;
	return count;
}

/* n's segments into segs (room for 1 + its NICs): its own first, then
 * every VLAN segment a NIC of it names, once each. Returns the count. */
static size_t netw_segments(struct daemon *d, const struct netw *n, struct net_segment *segs)
{
	size_t count = 1;

	segs[0] = (struct net_segment){.vlan = n->vlan};
	net_bridge_name(n->idx, 0, segs[0].bridge);
	for (struct vm_rt *vm = d->vms; vm; vm = vm->next)
		for (size_t i = 0; i < vm->spec->n_nics; i++) {
			const struct vm_nic *nic = &vm->spec->nics[i];
			unsigned v = strcmp(nic->network, n->name) == 0 ? nic_segment(n, nic) : 0;
			size_t k = 1;

			while (k < count && segs[k].vlan != v)
				k++;
			if (v == 0 || k < count)
				continue;
			segs[count] = (struct net_segment){.vlan = v};
			net_bridge_name(n->idx, v, segs[count++].bridge);
		}
	return count;
}

static void nic_desc(const struct vm_rt *vm, const struct vm_nic *nic, struct net_nic_desc *out)
{
	*out = (struct net_nic_desc){
		.mac = nic->mac,
		.ip = nic->ip,
		.trust = nic->trust,
		.host = vm->spec->name,
	};
	net_tap_name(vm->id, vm_nic_index(nic), out->tap);
}

/* Warren's nftables tables, rewritten whole from every network and NIC. */
static int nft_sync(struct daemon *d, struct werr *err)
{
	size_t n_nets = 0, n_nics = 0, n_segs = 0;
	_cleanup_free_ struct net_desc *nets = NULL;
	_cleanup_free_ struct net_nic_desc *nics = NULL;
	_cleanup_free_ struct net_segment *segs = NULL;
	_cleanup_free_ char *script = NULL;

	for (struct netw *n = d->nets; n; n = n->next)
		n_nets++;
	for (struct vm_rt *vm = d->vms; vm; vm = vm->next)
		n_nics += vm->spec->n_nics;
	nets = calloc(n_nets + 1, sizeof(*nets));
	nics = calloc(n_nics + 1, sizeof(*nics));
	segs = calloc(n_nets + n_nics + 1, sizeof(*segs));
	if (!nets || !nics || !segs)
		return werr_internal(err, -ENOMEM, "making the network rules"), -ENOMEM;
	n_nets = 0;
	for (struct netw *n = d->nets; n; n = n->next) {
		struct net_desc *nd = &nets[n_nets++];

		netw_desc(n, nd, &segs[n_segs]);
		nd->n_segments = netw_segments(d, n, &segs[n_segs]);
		n_segs += nd->n_segments;
	}
	n_nics = 0;
	for (struct vm_rt *vm = d->vms; vm; vm = vm->next)
		for (size_t i = 0; i < vm->spec->n_nics; i++)
			nic_desc(vm, &vm->spec->nics[i], &nics[n_nics++]);
	script = net_nft_script(nets, n_nets, nics, n_nics);
	if (!script)
		return werr_internal(err, -ENOMEM, "making the network rules"), -ENOMEM;
	return net_run((char *const[]){"nft", "-f", "-", NULL}, script, err);
}

/* n's static leases and names; dnsmasq re-reads them when they changed. */
static void hosts_sync(struct daemon *d, const struct netw *n)
{
	_cleanup_free_ struct net_nic_desc *mine = calloc(netw_nic_count(d, n) + 1, sizeof(*mine));
	_cleanup_free_ char *dh = NULL, *hs = NULL;
	char p1[PATH_MAX], p2[PATH_MAX];
	bool c1 = false, c2 = false;
	size_t k = 0;

	if (!mine)
		return;
	for (struct vm_rt *vm = d->vms; vm; vm = vm->next)
		for (size_t i = 0; i < vm->spec->n_nics; i++)
			if (strcmp(vm->spec->nics[i].network, n->name) == 0)
				nic_desc(vm, &vm->spec->nics[i], &mine[k++]);
	dh = net_dnsmasq_dhcp_hosts(mine, k);
	hs = net_dnsmasq_hosts(mine, k);
	if (!dh || !hs || netw_path(d, n->name, "hosts.dhcp", p1, sizeof(p1)) < 0 ||
	    netw_path(d, n->name, "hosts", p2, sizeof(p2)) < 0 || write_file(p1, dh, &c1) < 0 ||
	    write_file(p2, hs, &c2) < 0) {
		log_warn("network %s: cannot write dnsmasq's host files", n->name);
		return;
	}
	if (c1 || c2) {
		pid_t pid = dnsmasq_pid(d, n);
		if (pid > 0)
			kill(pid, SIGHUP); /* re-reads both files */
	}
}

int networks_sync(struct daemon *d, struct werr *err)
{
	struct werr local;
	int r = nft_sync(d, err ? err : &local);

	if (r < 0)
		log_warn("networks: nftables rules not applied: %s", (err ? err : &local)->message);
	for (struct netw *n = d->nets; n; n = n->next)
		if (n->dhcp)
			hosts_sync(d, n);
	return r;
}

void netw_segments_gc(struct daemon *d)
{
	_cleanup_strv_free_ char **ifs = host_ifaces();

	for (size_t i = 0; ifs && ifs[i]; i++) {
		bool used = false;
		char br[NET_IFNAME_MAX + 1];

		if (!net_is_bridge_name(ifs[i]) || !strchr(ifs[i], 'v'))
			continue;
		for (struct vm_rt *vm = d->vms; vm && !used; vm = vm->next) {
			if (!vm_state_is_active(vm->state) && vm->state != VM_STARTING)
				continue;
			for (size_t k = 0; k < vm->spec->n_nics && !used; k++) {
				const struct vm_nic *nic = &vm->spec->nics[k];
				struct netw *n = netw_find(d, nic->network);

				if (n && nic_segment(n, nic)) {
					net_bridge_name(n->idx, nic_segment(n, nic), br);
					used = strcmp(br, ifs[i]) == 0;
				}
			}
		}
		if (!used) {
			unsigned idx = 0, vlan = 0;
			char up[NET_IFNAME_MAX + 1];

			run(NULL, NULL, "ip", "link", "del", ifs[i], NULL);
			if (sscanf(ifs[i], "wn%uv%u", &idx, &vlan) == 2) {
				snprintf(up, sizeof(up), "wu%uv%u", idx, vlan);
				if (if_exists(up))
					run(NULL, NULL, "ip", "link", "del", up, NULL);
			}
		}
	}
}

/* ---- the API ------------------------------------------------------------ */

static json_t *netw_to_json(struct daemon *d, const struct netw *n)
{
	json_t *j = netw_config_json(n), *nics = json_array(), *segments = json_array();
	_cleanup_free_ struct net_segment *segs = calloc(netw_nic_count(d, n) + 1, sizeof(*segs));
	char bridge[NET_IFNAME_MAX + 1], mac[18], ip[16];
	pid_t pid = n->dhcp ? dnsmasq_pid(d, n) : 0;
	size_t n_segs;

	if (!j || !nics || !segments || !segs) {
		json_decref(j);
		json_decref(nics);
		json_decref(segments);
		return NULL;
	}
	n_segs = netw_segments(d, n, segs);
	for (size_t k = 0; k < n_segs; k++)
		json_array_append_new(segments,
				      json_pack("{s:s, s:o, s:b}", "bridge", segs[k].bridge, "vlan",
						segs[k].vlan ? json_integer(segs[k].vlan) : json_null(),
						"present", if_exists(segs[k].bridge)));
	for (struct vm_rt *vm = d->vms; vm; vm = vm->next)
		for (size_t i = 0; i < vm->spec->n_nics; i++) {
			const struct vm_nic *nic = &vm->spec->nics[i];

			if (strcmp(nic->network, n->name) != 0)
				continue;
			json_array_append_new(
				nics, json_pack("{s:s, s:s, s:s, s:s?, s:o}", "vm", vm->spec->name,
						"nic", nic->name, "mac", net_mac_format(&nic->mac, mac),
						"ip", nic->ip ? net_ip_format(nic->ip, ip) : NULL, "vlan",
						nic->vlan ? json_integer(nic->vlan) : json_null()));
		}
	json_object_set_new(j, "name", json_string(n->name));
	json_object_set_new(j, "bridge", json_string(net_bridge_name(n->idx, 0, bridge)));
	json_object_set_new(j, "segments", segments);
	json_object_set_new(j, "nics", nics);
	json_object_set_new(j, "vlan_mode", json_string(net_vlan_mode_to_string(vlan_mode(d))));
	json_object_set_new(j, "dnsmasq",
			    n->dhcp ? json_pack("{s:b, s:o}", "running", pid > 0, "pid",
						pid > 0 ? json_integer(pid) : json_null())
				    : json_null());
	json_object_set_new(j, "created_at", json_time_ms(n->created_ms));
	return j;
}

void daemon_net_list(struct daemon *d, struct reply *r)
{
	json_t *list = json_array();

	for (struct netw *n = d->nets; n && list; n = n->next)
		json_array_append_new(list, netw_to_json(d, n));
	reply_json(r, 200, json_pack("{s:o}", "networks", list ? list : json_array()));
}

static struct netw *netw_find_or_reply(struct daemon *d, const char *name, struct reply *r)
{
	struct netw *n = netw_find(d, name);
	struct werr err;

	if (!n) {
		werr_set(&err, -ENOENT, "not_found", "name", "there is no network named '%.40s'",
			 name);
		reply_error(r, &err);
	}
	return n;
}

void daemon_net_get(struct daemon *d, const char *name, struct reply *r)
{
	struct netw *n = netw_find_or_reply(d, name, r);

	if (n)
		reply_json(r, 200, netw_to_json(d, n));
}

static void netw_link(struct daemon *d, struct netw *n)
{
	struct netw **p = &d->nets;

	while (*p && strcmp((*p)->name, n->name) < 0)
		p = &(*p)->next;
	n->next = *p;
	*p = n;
}

static void netw_unlink(struct daemon *d, struct netw *n)
{
	for (struct netw **p = &d->nets; *p; p = &(*p)->next)
		if (*p == n) {
			*p = n->next;
			return;
		}
}

void daemon_net_create(struct daemon *d, const struct caller *c, json_t *body, struct reply *r)
{
	_cleanup_free_ struct netw *n = calloc(1, sizeof(*n));
	_cleanup_json_ json_t *config = NULL;
	_cleanup_free_ char *text = NULL;
	const char *name = json_string_value(json_object_get(body, "name"));
	struct werr err = {0};
	int k;

	if (!n) {
		werr_internal(&err, -ENOMEM, "creating the network");
		reply_error(r, &err);
		return;
	}
	if ((k = netw_from_json(body, n, &err)) < 0 || (k = net_name_validate(name, &err)) < 0) {
		reply_error(r, &err);
		return;
	}
	snprintf(n->name, sizeof(n->name), "%s", name);
	if (netw_find(d, n->name)) {
		werr_set(&err, -EEXIST, "conflict", "name", "a network named '%s' already exists",
			 n->name);
		reply_error(r, &err);
		return;
	}
	if ((k = netw_check(d, n, &err)) < 0) {
		reply_error(r, &err);
		return;
	}
	/* The lowest number no network has. */
	for (n->idx = 1;; n->idx++) {
		bool taken = false;
		for (struct netw *o = d->nets; o; o = o->next)
			taken |= o->idx == n->idx;
		if (!taken)
			break;
	}
	n->created_ms = (int64_t)now_realtime_ms();
	config = netw_config_json(n);
	text = config ? json_dumps(config, JSON_COMPACT) : NULL;
	struct store_net row = {.idx = n->idx, .config_json = text, .created_ms = n->created_ms};
	snprintf(row.name, sizeof(row.name), "%s", n->name);
	k = text ? store_net_insert(d->store, &row) : -ENOMEM;
	if (k < 0) {
		werr_internal(&err, k, "recording the network");
		reply_error(r, &err);
		return;
	}
	netw_link(d, n);
	if ((k = netw_up(d, n, &err)) < 0 || (k = networks_sync(d, &err)) < 0) {
		struct netw *made = n;

		log_warn("network %s: cannot be set up: %s", n->name, err.message);
		netw_unlink(d, made);
		netw_down(d, made);
		networks_sync(d, NULL);
		store_net_delete(d->store, made->name);
		if (strcmp(err.code, "internal") == 0)
			snprintf(err.code, sizeof(err.code), "unavailable");
		reply_error(r, &err);
		return;
	}
	log_info("network %s: created (%s)", n->name, row.config_json);
	events_emit_action(d, n->name, "network-create", "ok", (int)c->uid);
	reply_json(r, 201, netw_to_json(d, n));
	n = NULL; /* linked */
}

void daemon_net_delete(struct daemon *d, const struct caller *c, const char *name,
		       struct reply *r)
{
	struct netw *n = netw_find_or_reply(d, name, r);
	char users[256] = "";
	size_t o = 0, count = 0;
	struct werr err;
	int k;

	if (!n)
		return;
	for (struct vm_rt *vm = d->vms; vm; vm = vm->next)
		for (size_t i = 0; i < vm->spec->n_nics; i++)
			if (strcmp(vm->spec->nics[i].network, n->name) == 0) {
				if (o < sizeof(users) - 70)
					o += (size_t)snprintf(users + o, sizeof(users) - o, "%s%s",
							      count ? ", " : "", vm->spec->name);
				count++;
				break;
			}
	for (size_t i = 0; i < d->n_nic_holds; i++)
		for (size_t k2 = 0; k2 < d->nic_holds[i]->n_nics; k2++)
			if (strcmp(d->nic_holds[i]->nics[k2].network, n->name) == 0 && !count++)
				snprintf(users, sizeof(users), "%s (being created)",
					 d->nic_holds[i]->name);
	if (count) {
		werr_set(&err, -EBUSY, "conflict", "name",
			 "network %s is in use by %zu VM%s: %s; remove their NICs or delete them "
			 "first",
			 n->name, count, count == 1 ? "" : "s", users);
		reply_error(r, &err);
		return;
	}
	netw_unlink(d, n);
	netw_down(d, n);
	networks_sync(d, NULL);
	k = store_net_delete(d->store, n->name);
	if (k < 0 && k != -ENOENT)
		log_warn_errno(k, "network %s: cannot remove its row", n->name);
	log_info("network %s: deleted", n->name);
	events_emit_action(d, n->name, "network-delete", "ok", (int)c->uid);
	reply_json(r, 200, json_pack("{s:s, s:b}", "name", n->name, "deleted", 1));
	free(n->leases);
	free(n);
}

/* ---- start-up ------------------------------------------------------------ */

/* Interfaces of ours that no network or running VM owns: left by a crash
 * in the middle of a change. */
static void sweep_ifaces(struct daemon *d)
{
	_cleanup_strv_free_ char **ifs = host_ifaces();

	for (size_t i = 0; ifs && ifs[i]; i++) {
		bool owned = false;

		if (net_is_tap_name(ifs[i])) {
			for (struct vm_rt *vm = d->vms; vm && !owned; vm = vm->next) {
				char tap[NET_IFNAME_MAX + 1];

				if (!vm_state_is_active(vm->state) && vm->state != VM_STARTING)
					continue;
				for (size_t k = 0; k < vm->spec->n_nics && !owned; k++) {
					unsigned idx = vm_nic_index(&vm->spec->nics[k]);

					owned = strcmp(net_tap_name(vm->id, idx, tap), ifs[i]) == 0 ||
						strcmp(net_ifb_name(vm->id, idx, tap), ifs[i]) == 0;
				}
			}
		} else if (net_is_bridge_name(ifs[i]) && !strchr(ifs[i], 'v')) {
			for (struct netw *n = d->nets; n && !owned; n = n->next) {
				char br[NET_IFNAME_MAX + 1];
				owned = strcmp(net_bridge_name(n->idx, 0, br), ifs[i]) == 0;
			}
		} else {
			continue;
		}
		if (!owned) {
			log_info("networks: removing %s, which nothing owns", ifs[i]);
			run(NULL, NULL, "ip", "link", "del", ifs[i], NULL);
		}
	}
	netw_segments_gc(d);
}

int networks_init(struct daemon *d)
{
	struct store_net *rows = NULL;
	size_t n_rows = 0;
	char dir[PATH_MAX];
	int r;

	d->vlan_mode = NET_VLAN_SEPARATE_BRIDGES;
	snprintf(dir, sizeof(dir), "%s/networks", d->cfg.state_dir);
	if (mkdir(dir, 0755) < 0 && errno != EEXIST)
		return -errno;
	r = store_net_list(d->store, &rows, &n_rows);
	if (r < 0)
		return r;
	for (size_t i = 0; i < n_rows; i++) {
		struct netw *n = calloc(1, sizeof(*n));
		json_t *j = json_loads(rows[i].config_json, 0, NULL);
		struct werr err;

		if (!n || !j || netw_from_json(j, n, &err) < 0) {
			log_error("network %s: unreadable configuration; left alone", rows[i].name);
			free(n);
			json_decref(j);
			continue;
		}
		json_decref(j);
		snprintf(n->name, sizeof(n->name), "%s", rows[i].name);
		n->idx = rows[i].idx;
		n->created_ms = rows[i].created_ms;
		netw_link(d, n);
		if (netw_up(d, n, &err) < 0)
			log_error("network %s: cannot be set up again: %s", n->name, err.message);
	}
	store_net_list_free(rows, n_rows);
	return 0;
}

void networks_adopt(struct daemon *d)
{
	struct werr err;

	/* Without networks nothing of ours can be on the host: a network's
	 * row goes last, after its bridges, dnsmasq and rules. */
	if (!d->nets || geteuid() != 0)
		return;
	sweep_ifaces(d);
	networks_sync(d, &err);
}

void networks_fini(struct daemon *d)
{
	while (d->nets) {
		struct netw *n = d->nets;
		d->nets = n->next;
		free(n->leases);
		free(n); /* the host side stays: it outlives the daemon */
	}
	free(d->nic_holds);
	d->nic_holds = NULL;
	d->n_nic_holds = 0;
}
