/*
 * conf: the text that configures a network on the host: Warren's two
 * nftables tables, dnsmasq's configuration and host files, and the tc
 * commands that limit a tap's rate.
 *
 * All of it is pure and deterministic (the same descriptions give the same
 * bytes), so that it is golden-tested and so that the daemon can compare
 * what it would write with what is there. Interface names are trusted here:
 * they come from net_bridge_name and net_tap_name, never from a client.
 * Text is built in an open_memstream; a failed write there is an allocation
 * failure, reported as NULL.
 */
#include <stdarg.h>
#include <string.h>

#include "net/net.h"
#include "net/net-private.h"
#include "util/util.h"

/* The memstream's text, or NULL (and nothing leaked) if any write failed.
 * *buf is only final after fclose. */
static char *memstream_finish(FILE *f, char **buf)
{
	bool failed = ferror(f);

	if (fclose(f) != 0 || failed) {
		free(*buf);
		return NULL;
	}
	return *buf;
}

/* ---- nftables ------------------------------------------------------------ */

static bool nic_filtered(const struct net_nic_desc *nic)
{
	return !nic->trust;
}

/* Every bridge of every network as an nft anonymous set:
 * { "wn1", "wn1v5", "wn2" }. */
static void nft_bridge_set(FILE *f, const struct net_desc *nets, size_t n_nets)
{
	const char *sep = "";

	fputs("{ ", f);
	for (size_t i = 0; i < n_nets; i++)
		for (size_t s = 0; s < nets[i].n_segments; s++) {
			fprintf(f, "%s\"%s\"", sep, nets[i].segments[s].bridge);
			sep = ", ";
		}
	fputs(" }", f);
}

static void nft_forward_chain(FILE *f, const struct net_desc *nets, size_t n_nets)
{
	size_t n_bridges = 0;

	fputs("\tchain forward {\n"
	      "\t\ttype filter hook forward priority filter; policy accept;\n",
	      f);
	/* Within one bridge: only seen when br_netfilter hands bridged frames
	 * to the IP hooks, and never ours to stop. */
	for (size_t i = 0; i < n_nets; i++)
		for (size_t s = 0; s < nets[i].n_segments; s++) {
			const char *br = nets[i].segments[s].bridge;
			fprintf(f, "\t\tiifname \"%s\" oifname \"%s\" accept\n", br, br);
			n_bridges++;
		}
	/* Between two of ours: networks (and the segments of one) are isolated. */
	if (n_bridges > 1) {
		fputs("\t\tiifname ", f);
		nft_bridge_set(f, nets, n_nets);
		fputs(" oifname ", f);
		nft_bridge_set(f, nets, n_nets);
		fputs(" drop\n", f);
	}
	/* Between ours and the rest of the world. */
	for (size_t i = 0; i < n_nets; i++)
		for (size_t s = 0; s < nets[i].n_segments; s++) {
			const char *br = nets[i].segments[s].bridge;
			if (nets[i].nat)
				fprintf(f,
					"\t\tiifname \"%s\" accept\n"
					"\t\toifname \"%s\" ct state established,related accept\n"
					"\t\toifname \"%s\" drop\n",
					br, br, br);
			else
				fprintf(f,
					"\t\tiifname \"%s\" drop\n"
					"\t\toifname \"%s\" drop\n",
					br, br);
		}
	fputs("\t}\n", f);
}

static void nft_ip_table(FILE *f, const struct net_desc *nets, size_t n_nets)
{
	fputs("table ip warren {\n"
	      "\tchain postrouting {\n"
	      "\t\ttype nat hook postrouting priority srcnat; policy accept;\n",
	      f);
	for (size_t i = 0; i < n_nets; i++) {
		char subnet[19];
		if (!nets[i].nat)
			continue;
		net_cidr_format(&nets[i].subnet, subnet);
		fprintf(f, "\t\tip saddr %s ip daddr != %s masquerade\n", subnet, subnet);
	}
	fputs("\t}\n\n", f);
	nft_forward_chain(f, nets, n_nets);
	fputs("}\n", f);
}

/* The anti-spoofing chain of one untrusted NIC. Everything not accepted
 * is dropped; a NIC whose address is not known can only ask for one. */
static void nft_nic_chain(FILE *f, const struct net_nic_desc *nic)
{
	char mac[18], ip[16];

	net_mac_format(&nic->mac, mac);
	fprintf(f,
		"\tchain nic-%s {\n"
		"\t\tether saddr != %s drop\n",
		nic->tap, mac);
	if (nic->ip) {
		net_ip_format(nic->ip, ip);
		/* ARP from 0.0.0.0 is a probe for a conflict (RFC 5227). */
		fprintf(f,
			"\t\tether type arp arp saddr ether != %s drop\n"
			"\t\tether type arp arp saddr ip { %s, 0.0.0.0 } accept\n"
			"\t\tether type ip ip saddr %s accept\n",
			mac, ip, ip);
	}
	fputs("\t\tether type ip ip saddr 0.0.0.0 ip daddr 255.255.255.255 "
	      "udp sport 68 udp dport 67 accept\n"
	      "\t\tdrop\n"
	      "\t}\n",
	      f);
}

static void nft_bridge_table(FILE *f, const struct net_nic_desc *nics, size_t n_nics)
{
	const char *sep = "";

	fputs("table bridge warren {\n"
	      "\tchain prerouting {\n"
	      "\t\ttype filter hook prerouting priority filter; policy accept;\n"
	      "\t\tiifname vmap {",
	      f);
	for (size_t i = 0; i < n_nics; i++) {
		if (!nic_filtered(&nics[i]))
			continue;
		fprintf(f, "%s\n\t\t\t\"%s\" : jump nic-%s", sep, nics[i].tap, nics[i].tap);
		sep = ",";
	}
	fputs("\n"
	      "\t\t}\n"
	      "\t}\n",
	      f);
	for (size_t i = 0; i < n_nics; i++) {
		if (!nic_filtered(&nics[i]))
			continue;
		fputs("\n", f);
		nft_nic_chain(f, &nics[i]);
	}
	fputs("}\n", f);
}

char *net_nft_script(const struct net_desc *nets, size_t n_nets, const struct net_nic_desc *nics,
		     size_t n_nics)
{
	char *buf = NULL;
	size_t len = 0, n_filtered = 0;
	FILE *f;

	f = open_memstream(&buf, &len);
	if (!f)
		return NULL;
	/* Declaring a table creates it if missing and is a no-op otherwise,
	 * so the deletes that follow always find one; the whole script is
	 * one transaction, so the tables are never seen half-built. */
	fputs("table ip warren {}\n"
	      "table bridge warren {}\n"
	      "delete table ip warren\n"
	      "delete table bridge warren\n",
	      f);
	if (n_nets > 0) {
		fputs("\n", f);
		nft_ip_table(f, nets, n_nets);
		for (size_t i = 0; i < n_nics; i++)
			n_filtered += nic_filtered(&nics[i]);
		if (n_filtered > 0) {
			fputs("\n", f);
			nft_bridge_table(f, nics, n_nics);
		}
	}
	return memstream_finish(f, &buf);
}

/* ---- dnsmasq ------------------------------------------------------------- */

/* A name dnsmasq may publish: one DNS label (RFC 1123). Anything else is
 * left out of the host files, where a newline or comma would change the
 * meaning of the line. */
static bool dns_label_ok(const char *s)
{
	size_t n = s ? strlen(s) : 0;

	if (n == 0 || n > 63 || s[0] == '-' || s[n - 1] == '-')
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
		      (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
			return false;
	return true;
}

char *net_dnsmasq_conf(const struct net_desc *net, const char *dir)
{
	char gw[16], netaddr[16], mask[16];
	char *buf = NULL;
	size_t len = 0;
	FILE *f;

	f = open_memstream(&buf, &len);
	if (!f)
		return NULL;
	net_ip_format(net->gateway, gw);
	/* One dnsmasq per network: bound to its bridge and gateway address
	 * only, never to lo (which --interface would add), so that the
	 * instances of several networks do not meet on 127.0.0.1:53. */
	fprintf(f,
		"# dnsmasq of Warren network %s; written by warrend, do not edit.\n"
		"interface=%s\n"
		"bind-interfaces\n"
		"except-interface=lo\n"
		"listen-address=%s\n",
		net->name, net->n_segments > 0 ? net->segments[0].bridge : "", gw);
	/* Answers come from the host files only: VM names, bare and as
	 * NAME.<network>.warren (expand-hosts adds the domain). domain-needed
	 * keeps bare names local: one that is not known (or an AAAA of one
	 * that is) gets "no such name" rather than REFUSED, and is never
	 * sent to a server the daemon may add. */
	fprintf(f,
		"no-resolv\n"
		"no-hosts\n"
		"no-poll\n"
		"strict-order\n"
		"domain-needed\n"
		"domain=%s.warren\n"
		"local=/%s.warren/\n"
		"expand-hosts\n"
		"addn-hosts=%s/hosts\n"
		"pid-file=%s/dnsmasq.pid\n"
		"log-facility=%s/dnsmasq.log\n",
		net->name, net->name, dir, dir, dir);
	if (net->dhcp) {
		net_ip_format(net->subnet.addr, netaddr);
		net_ip_format(net_cidr_mask(&net->subnet), mask);
		/* "static": only the hosts of dhcp-hostsfile get an address;
		 * the daemon chooses every one, so no pool can hand out one
		 * the daemon also gives to a new NIC. */
		fprintf(f,
			"dhcp-authoritative\n"
			"dhcp-range=%s,static,%s,1h\n"
			"dhcp-leasefile=%s/leases\n"
			"dhcp-hostsfile=%s/hosts.dhcp\n"
			"dhcp-no-override\n",
			netaddr, mask, dir, dir);
		/* Without NAT there is nowhere to route to: an empty router
		 * option keeps dnsmasq from offering itself as the default. */
		if (net->nat)
			fprintf(f, "dhcp-option=option:router,%s\n", gw);
		else
			fputs("dhcp-option=3\n", f);
		fprintf(f, "dhcp-option=option:dns-server,%s\n", gw);
		if (net->mtu && net->mtu != NET_DEFAULT_MTU)
			fprintf(f, "dhcp-option=option:mtu,%u\n", net->mtu);
	}
	return memstream_finish(f, &buf);
}

/* The host files, one line per NIC with an address: "MAC,IP[,NAME]" for
 * dhcp-hostsfile, "IP NAME" (NICs with a name only) for addn-hosts. */
static char *hosts_text(const struct net_nic_desc *nics, size_t n, bool dhcp)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f;

	f = open_memstream(&buf, &len);
	if (!f)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		bool named = dns_label_ok(nics[i].host);
		char mac[18], ip[16];
		if (!nics[i].ip || (!dhcp && !named))
			continue;
		net_ip_format(nics[i].ip, ip);
		if (dhcp)
			fprintf(f, "%s,%s%s%s\n", net_mac_format(&nics[i].mac, mac), ip,
				named ? "," : "", named ? nics[i].host : "");
		else
			fprintf(f, "%s %s\n", ip, nics[i].host);
	}
	return memstream_finish(f, &buf);
}

char *net_dnsmasq_dhcp_hosts(const struct net_nic_desc *nics, size_t n)
{
	return hosts_text(nics, n, true);
}

char *net_dnsmasq_hosts(const struct net_nic_desc *nics, size_t n)
{
	return hosts_text(nics, n, false);
}

/* One "EXPIRY MAC IP ..." line: 1 for a lease, 0 for a line to leave
 * out (malformed, an IPv6 lease, the "duid" line). */
static int lease_line(char *line, size_t index, void *elem)
{
	char *expiry, *mac, *ip, *end, *save = NULL;
	struct net_lease l;
	long long v;

	expiry = strtok_r(line, " \t", &save);
	mac = strtok_r(NULL, " \t", &save);
	ip = strtok_r(NULL, " \t", &save);
	if (!expiry || !mac || !ip || *expiry < '0' || *expiry > '9')
		return 0;
	errno = 0;
	v = strtoll(expiry, &end, 10);
	if (errno || *end)
		return 0;
	l.expiry = v;
	if (net_mac_parse(mac, &l.mac, "mac", NULL) < 0 || net_ip_parse(ip, &l.ip) < 0)
		return 0;
	memcpy(elem, &l, sizeof(l));
	return 1;
}

int net_leases_parse(const char *text, struct net_lease **ret, size_t *n)
{
	void *leases;
	int r;

	r = net_lines_parse(text, lease_line, sizeof(struct net_lease), &leases, n);
	if (r < 0)
		return r;
	*ret = leases;
	return 0;
}

/* ---- tc ------------------------------------------------------------------- */

/*
 * The burst, in bytes, of both the shaper (tbf) and the policer: what the
 * rate sends in TC_BURST_MS, and never less than TC_MAX_PACKET, because a
 * packet larger than the burst never conforms. virtio-net hands the tap
 * GSO packets of up to 64 KiB, so a burst of a few MTUs would drop every
 * one of them and stall TCP. These are the knobs to tune under load.
 */
#define TC_BURST_MS   20
#define TC_MAX_PACKET (65535 + 14 + 4) /* largest IP packet + Ethernet + VLAN tag */

static uint64_t tc_burst_bytes(uint64_t bps)
{
	uint64_t burst = bps / 8 * TC_BURST_MS / 1000;

	return burst > TC_MAX_PACKET ? burst : TC_MAX_PACKET;
}

/* Append the NULL-terminated argument list that follows to *argvs. */
static int argvs_add(char ****argvs, size_t *n, ...)
{
	_cleanup_strv_free_ char **argv = NULL;
	const char *a;
	va_list ap;
	int r = 0;

	va_start(ap, n);
	while (r == 0 && (a = va_arg(ap, const char *)))
		r = strv_push(&argv, a);
	va_end(ap);
	if (r < 0)
		return r;
	char ***nv = reallocarray(*argvs, *n + 2, sizeof(char **));
	if (!nv)
		return -ENOMEM;
	nv[(*n)++] = TAKE_PTR(argv);
	nv[*n] = NULL;
	*argvs = nv;
	return 0;
}

char ***net_tc_rate_argvs(const char *tap, const char *ifb, uint64_t bps)
{
	char ***argvs = NULL;
	char rate[24], burst[24];
	size_t n = 0;
	int r;

	if (bps == 0) {
		/* Both fail when there is nothing to remove ("Cannot delete
		 * qdisc with handle of zero", "Invalid handle"): callers
		 * ignore failures of removal. The ifb goes with its link. */
		r = argvs_add(&argvs, &n, "tc", "qdisc", "del", "dev", tap, "root", NULL);
		if (r == 0)
			r = argvs_add(&argvs, &n, "tc", "qdisc", "del", "dev", tap, "ingress",
				      NULL);
	} else {
		net_rate_format(bps, rate);
		snprintf(burst, sizeof(burst), "%llu", (unsigned long long)tc_burst_bytes(bps));
		/* Towards the guest: shape. replace creates or changes. */
		r = argvs_add(&argvs, &n, "tc", "qdisc", "replace", "dev", tap, "root", "tbf",
			      "rate", rate, "burst", burst, "latency", "50ms", NULL);
		/* From the guest: what enters the tap is redirected to the ifb
		 * and shaped on its way out of there, the same as the other
		 * direction (shaping, unlike policing, does not make TCP lose
		 * packets, and needs no police action, which some kernels
		 * lack). Replacing the ingress qdisc keeps its filters; the
		 * filter has a fixed handle so that replace changes it rather
		 * than adding a second one. u32 rather than matchall: it is
		 * built into every kernel that has tc. */
		if (r == 0)
			r = argvs_add(&argvs, &n, "tc", "qdisc", "replace", "dev", ifb, "root", "tbf",
				      "rate", rate, "burst", burst, "latency", "50ms", NULL);
		if (r == 0)
			r = argvs_add(&argvs, &n, "tc", "qdisc", "replace", "dev", tap, "handle",
				      "ffff:", "ingress", NULL);
		if (r == 0)
			r = argvs_add(&argvs, &n, "tc", "filter", "replace", "dev", tap, "parent",
				      "ffff:", "protocol", "all", "prio", "1", "handle", "800::800",
				      "u32", "match", "u32", "0", "0", "action", "mirred", "egress",
				      "redirect", "dev", ifb, NULL);
	}
	if (r < 0) {
		net_argvs_free(argvs);
		return NULL;
	}
	return argvs;
}

void net_argvs_free(char ***argvs)
{
	if (!argvs)
		return;
	for (char ***a = argvs; *a; a++)
		strv_free(*a);
	free(argvs);
}
