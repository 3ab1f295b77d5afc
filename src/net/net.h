/*
 * net: virtual networks on the host. Addresses (MAC, IPv4, subnets),
 * rates, host interface names, and the text of what configures a network:
 * the nftables ruleset of Warren's own tables, dnsmasq's configuration and
 * host files, tc commands. Everything here is pure (strings in, strings
 * out) except net_run and the probes, which run iproute2/tc/nft.
 *
 * This header is the whole interface of the folder.
 */
#ifndef WARREN_NET_H
#define WARREN_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/util.h"

#define NET_NAME_MAX   31   /* [a-z0-9][a-z0-9-]{0,30} */
#define NET_IFNAME_MAX 15   /* IFNAMSIZ - 1 */
#define NET_MIN_MTU    68
#define NET_MAX_MTU    65535
#define NET_DEFAULT_MTU 1500
#define NET_MAX_PREFIX 30   /* smallest subnet: gateway plus one guest */

/* ---- addresses (addr.c) ------------------------------------------------ */

struct net_mac {
	uint8_t b[6];
};

/* "52:57:00:12:34:56" (either case, ':' or '-'). Rejects malformed strings,
 * multicast (bit 0 of the first byte) and 00:00:00:00:00:00, with code
 * "invalid", the given field and a message saying which. */
int net_mac_parse(const char *s, struct net_mac *ret, const char *field, struct werr *err);
/* Lower case with ':'; buf of at least 18 bytes; returns buf. */
char *net_mac_format(const struct net_mac *m, char *buf);
/* A random unicast, locally administered MAC (first byte 0x52, second 0x57). */
int net_mac_random(struct net_mac *ret);
bool net_mac_equal(const struct net_mac *a, const struct net_mac *b);

/* IPv4 addresses in host byte order. */
int net_ip_parse(const char *s, uint32_t *ret);            /* 0 or -EINVAL */
char *net_ip_format(uint32_t ip, char *buf);                /* buf >= 16 bytes */

struct net_cidr {
	uint32_t addr; /* network address, host bits zero */
	unsigned prefix;
};

/* "10.0.0.0/24". Rejects malformed input, prefixes above NET_MAX_PREFIX
 * ("too small") or below 8, and host bits set ("did you mean 10.0.0.0/24"),
 * naming field. */
int net_cidr_parse(const char *s, struct net_cidr *ret, const char *field, struct werr *err);
char *net_cidr_format(const struct net_cidr *c, char *buf); /* buf >= 19 bytes */
uint32_t net_cidr_mask(const struct net_cidr *c);
uint32_t net_cidr_broadcast(const struct net_cidr *c);
bool net_cidr_contains(const struct net_cidr *c, uint32_t ip);
bool net_cidr_overlap(const struct net_cidr *a, const struct net_cidr *b);

/* One line of the kernel's IPv4 routing table. */
struct net_route {
	char ifname[NET_IFNAME_MAX + 1];
	struct net_cidr dst;
};
/* Parse the text of /proc/net/route (the header line first); the default
 * route (0.0.0.0/0) is left out, since it overlaps everything. *ret is
 * malloc'd (free it), possibly NULL with *n 0. -EINVAL on malformed text. */
int net_routes_parse(const char *text, struct net_route **ret, size_t *n);

/* A rate like "10Mbit", "1.5mbit", "500kbit", "1Gbit", "64000bit" or a
 * plain number of bit/s; units are decimal (k = 1000) and case-insensitive;
 * "bps"-style byte units are refused with a message that says to use bit.
 * 0 is refused (no limit is expressed by leaving the rate out).
 * Result in bit/s, at least 8000 and at most 100 Gbit. */
int net_rate_parse(const char *s, uint64_t *ret_bps, const char *field, struct werr *err);
/* "10Mbit", "1500Mbit", "800kbit": the largest unit that divides exactly
 * (no rounding, no decimals); buf >= 24 bytes; returns buf. */
char *net_rate_format(uint64_t bps, char *buf);

/* ---- names (names.c) ----------------------------------------------------- */

/* [a-z0-9][a-z0-9-]{0,30}; code "invalid", field "name". */
int net_name_validate(const char *name, struct werr *err);
/* Bridge of network number idx (0..99999), VLAN segment vlan (0 = the
 * network's own segment): "wn<idx>" or "wn<idx>v<vlan>". buf >= 16. */
char *net_bridge_name(unsigned idx, unsigned vlan, char *buf);
/* Tap of NIC nic_idx (0..99) of the VM with the 32-hex id vm_id:
 * "wt<first 10 hex of id>n<nic_idx>" (at most 15 characters). buf >= 16. */
char *net_tap_name(const char *vm_id, unsigned nic_idx, char *buf);
/* The ifb that shapes what the tap of that NIC receives:
 * "wi<first 10 hex of id>n<nic_idx>". buf >= 16. */
char *net_ifb_name(const char *vm_id, unsigned nic_idx, char *buf);
/* Is ifname one of ours (a "wn..." bridge or "wt..." tap)? */
bool net_is_bridge_name(const char *ifname);
bool net_is_tap_name(const char *ifname); /* a tap or its ifb ("wi...") */

/* ---- what configures a network (conf.c) ---------------------------------- */

struct net_segment {
	char bridge[NET_IFNAME_MAX + 1];
	unsigned vlan; /* 0: untagged */
};

struct net_desc {
	char name[NET_NAME_MAX + 1];
	struct net_cidr subnet;
	uint32_t gateway;
	bool dhcp;
	bool nat;
	unsigned mtu;
	const struct net_segment *segments; /* [0] is the network's own one */
	size_t n_segments;
};

struct net_nic_desc {
	char tap[NET_IFNAME_MAX + 1];
	struct net_mac mac;
	uint32_t ip;      /* 0: none known */
	bool trust;       /* false: only its own MAC and IP (and DHCP) may leave */
	const char *host; /* DNS name (the VM's name), or NULL */
};

/*
 * The nftables script (for `nft -f -`) that makes Warren's tables exactly
 * what nets and nics describe, atomically, touching no other table:
 *
 *   table ip warren      NAT and forwarding:
 *     postrouting (nat, srcnat): for each nat network, packets from its
 *       subnet to outside it are masqueraded;
 *     forward (filter): between two Warren bridges: dropped (networks are
 *       isolated from each other); a nat network: out of its bridge
 *       accepted, into it only established/related; a network without nat:
 *       nothing forwarded in or out.
 *   table bridge warren  anti-spoofing:
 *     prerouting (filter): frames entering from the tap of an untrusted NIC
 *       go through a chain of that NIC that accepts ARP with its own MAC as
 *       sender and its own IP (or 0.0.0.0) as sender address, IPv4 from
 *       its own MAC and IP, DHCP requests (udp 68 → 67) from 0.0.0.0, and
 *       drops everything else (other MACs, other IPs, IPv6, other types).
 *       A NIC without a known IP (ip 0) only gets the MAC check and DHCP.
 *
 * With no networks at all the script deletes both tables (and is still
 * valid when they do not exist). The text is deterministic (golden-tested).
 * malloc'd; NULL on allocation failure.
 */
char *net_nft_script(const struct net_desc *nets, size_t n_nets, const struct net_nic_desc *nics,
		     size_t n_nics);

/*
 * dnsmasq's configuration for net (DHCP and DNS on its own segment's bridge
 * only, bound to that interface, listening on the gateway address), with
 * paths of files in dir: leases (dhcp-leasefile), hosts.dhcp
 * (dhcp-hostsfile: static leases), hosts (addn-hosts: names), dnsmasq.pid
 * (pid-file), dnsmasq.log (log-facility). No resolv.conf, no /etc/hosts,
 * authoritative; DHCP range is
 * the subnet less network, gateway and broadcast addresses; router option
 * the gateway when nat is on (no default route otherwise); MTU option when
 * mtu is not 1500. Names are answered bare (the VM's name) and as
 * NAME.<network name>.warren ("domain" and "local" set to that). Only
 * static leases (dhcp-range in "static" mode for the subnet): every NIC of
 * ours has an address chosen by the daemon. malloc'd text; NULL on
 * allocation failure.
 */
char *net_dnsmasq_conf(const struct net_desc *net, const char *dir);
/* The hosts.dhcp text: "MAC,IP,NAME" per NIC with an ip (NAME left out
 * when host is NULL). */
char *net_dnsmasq_dhcp_hosts(const struct net_nic_desc *nics, size_t n);
/* The hosts text: "IP NAME" per NIC with ip and host. */
char *net_dnsmasq_hosts(const struct net_nic_desc *nics, size_t n);

/*
 * Leases from a dnsmasq lease file ("EXPIRY MAC IP NAME CLIENTID" lines).
 * Unknown/malformed lines are skipped.
 */
struct net_lease {
	struct net_mac mac;
	uint32_t ip;
	int64_t expiry; /* seconds since the epoch, 0 = infinite */
};
int net_leases_parse(const char *text, struct net_lease **ret, size_t *n);

/*
 * tc commands (argv vectors, argv[0] = "tc") that limit a tap to bps in
 * both directions by shaping (tbf): towards the guest on the tap itself,
 * from the guest on the ifb (an existing ifb link the caller made, named
 * by net_ifb_name) to which the tap's ingress is redirected. bps 0 removes
 * the tap's qdiscs (the caller deletes the ifb); those removals fail when
 * nothing is there, and callers ignore their failures. Each command can be
 * applied again, or after a change of rate ("replace"). The vector of
 * vectors is NULL-terminated; free with net_argvs_free.
 */
char ***net_tc_rate_argvs(const char *tap, const char *ifb, uint64_t bps);
void net_argvs_free(char ***argvs);

/* ---- the host (host.c) ---------------------------------------------------- */

/*
 * Run argv (argv[0] looked up in PATH) with stdin from input (may be NULL),
 * wait for it, and return 0 on exit status 0. Otherwise -EIO and, if err is
 * given, werr code "internal" with the command and its first stderr line.
 * Synchronous: used for short commands (ip, tc, nft) only.
 */
int net_run(char *const argv[], const char *input, struct werr *err);

/* How VLAN segments meet an uplink on this kernel, probed once. */
enum net_vlan_mode {
	NET_VLAN_SEPARATE_BRIDGES, /* no tagging available: segments are separate bridges */
	NET_VLAN_8021Q,            /* uplink.VID sub-interfaces on each segment's bridge */
};
const char *net_vlan_mode_to_string(enum net_vlan_mode m);
/* Probe whether 802.1Q links can be made: creates a veth pair with a
 * random name, tries a vlan link on it, removes both. runner is net_run in
 * production and a fake in unit tests. */
typedef int (*net_runner_fn)(char *const argv[], const char *input, struct werr *err);
enum net_vlan_mode net_vlan_probe(net_runner_fn runner);

#endif
