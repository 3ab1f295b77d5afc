/*
 * addr: the addresses and rates users write for networks and NICs.
 *
 * Parsers are strict, because a lenient one turns a typo into a different
 * network: inet_aton would read "010.0.0.1" as octal and "10.1" as
 * 10.0.0.1, strtoul would skip leading blanks. A refused value gets a
 * message that names the field, says what is allowed and quotes what was
 * given (cut to 64 characters: the message goes back to a client).
 * Everything is host byte order; only the kernel's route table arrives in
 * network order.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "net/net.h"
#include "net/net-private.h"
#include "util/util.h"

/* ---- MAC addresses ------------------------------------------------------ */

static int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = (char)tolower((unsigned char)c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

int net_mac_parse(const char *s, struct net_mac *ret, const char *field, struct werr *err)
{
	struct net_mac m;
	char sep;

	if (!s || !*s)
		return werr_set(err, -EINVAL, "invalid", field,
				"%s is required: a MAC address like 52:57:00:12:34:56", field);
	/* Six pairs of hex digits and one separator, the same throughout. */
	sep = strlen(s) == 17 ? s[2] : '\0';
	if (sep != ':' && sep != '-')
		goto malformed;
	for (size_t i = 0; i < 6; i++) {
		const char *p = s + 3 * i;
		int hi = hex_digit(p[0]), lo = hex_digit(p[1]);
		if (hi < 0 || lo < 0 || (i < 5 && p[2] != sep))
			goto malformed;
		m.b[i] = (uint8_t)(hi << 4 | lo);
	}
	if (m.b[0] & 0x01)
		return werr_set(err, -EINVAL, "invalid", field,
				"%s '%s' is a multicast address; a NIC needs a unicast MAC (the "
				"first byte even, like 52:57:00:12:34:56)",
				field, s);
	if (!(m.b[0] | m.b[1] | m.b[2] | m.b[3] | m.b[4] | m.b[5]))
		return werr_set(err, -EINVAL, "invalid", field,
				"%s '%s' is the all-zero address, which no NIC may use", field, s);
	*ret = m;
	return 0;

malformed:
	return werr_set(err, -EINVAL, "invalid", field,
			"%s '%.64s' is not a MAC address: six pairs of hex digits separated "
			"by ':' or '-', like 52:57:00:12:34:56",
			field, s);
}

char *net_mac_format(const struct net_mac *m, char *buf)
{
	snprintf(buf, 18, "%02x:%02x:%02x:%02x:%02x:%02x", m->b[0], m->b[1], m->b[2], m->b[3],
		 m->b[4], m->b[5]);
	return buf;
}

int net_mac_random(struct net_mac *ret)
{
	/* 0x52 has the locally administered bit (0x02) set and the multicast
	 * bit (0x01) clear, so no vendor's MAC and no group address can come
	 * out; "RW" (0x52 0x57) makes ours easy to spot in a capture. */
	struct net_mac m = {.b = {0x52, 0x57}};
	int r;

	r = getrandom_full(m.b + 2, 4);
	if (r < 0)
		return r;
	*ret = m;
	return 0;
}

bool net_mac_equal(const struct net_mac *a, const struct net_mac *b)
{
	return memcmp(a->b, b->b, sizeof(a->b)) == 0;
}

/* ---- IPv4 --------------------------------------------------------------- */

/* A decimal of at most max_digits digits without a leading zero (which
 * other tools would read as octal); advances *p. */
static int decimal_parse(const char **p, unsigned max_digits, unsigned *ret)
{
	const char *s = *p;
	unsigned v = 0, n = 0;

	for (; isdigit((unsigned char)s[n]); n++) {
		if (n == max_digits)
			return -EINVAL;
		v = v * 10 + (unsigned)(s[n] - '0');
	}
	if (n == 0 || (n > 1 && s[0] == '0'))
		return -EINVAL;
	*p = s + n;
	*ret = v;
	return 0;
}

/* A dotted quad at the start of s; *end is where it stops. */
static int ip_parse_prefix(const char *s, uint32_t *ret, const char **end)
{
	const char *p = s;
	uint32_t ip = 0;

	for (int i = 0; i < 4; i++) {
		unsigned octet;
		if (i > 0 && *p++ != '.')
			return -EINVAL;
		if (decimal_parse(&p, 3, &octet) < 0 || octet > 255)
			return -EINVAL;
		ip = ip << 8 | octet;
	}
	*ret = ip;
	*end = p;
	return 0;
}

int net_ip_parse(const char *s, uint32_t *ret)
{
	const char *end;
	uint32_t ip;

	if (!s || ip_parse_prefix(s, &ip, &end) < 0 || *end)
		return -EINVAL;
	*ret = ip;
	return 0;
}

char *net_ip_format(uint32_t ip, char *buf)
{
	snprintf(buf, 16, "%u.%u.%u.%u", ip >> 24, (ip >> 16) & 0xff, (ip >> 8) & 0xff, ip & 0xff);
	return buf;
}

/* ---- subnets ------------------------------------------------------------- */

#define CIDR_MIN_PREFIX 8

static uint32_t prefix_mask(unsigned prefix)
{
	/* A shift by 32 is undefined; /0 is the only case. */
	return prefix == 0 ? 0 : UINT32_MAX << (32 - prefix);
}

int net_cidr_parse(const char *s, struct net_cidr *ret, const char *field, struct werr *err)
{
	struct net_cidr c;
	const char *p;
	char buf[32];
	uint32_t ip;

	if (!s || !*s)
		return werr_set(err, -EINVAL, "invalid", field,
				"%s is required: a subnet like 10.0.0.0/24", field);
	if (ip_parse_prefix(s, &ip, &p) < 0 || *p++ != '/' || decimal_parse(&p, 2, &c.prefix) < 0 ||
	    *p || c.prefix > 32)
		return werr_set(err, -EINVAL, "invalid", field,
				"%s '%.64s' is not a subnet: an IPv4 network address and a prefix "
				"length, like 10.0.0.0/24",
				field, s);
	if (c.prefix > NET_MAX_PREFIX)
		return werr_set(err, -EINVAL, "invalid", field,
				"%s '%s' is too small: the prefix length must be at most /%u, "
				"room for the gateway and one guest",
				field, s, NET_MAX_PREFIX);
	if (c.prefix < CIDR_MIN_PREFIX)
		return werr_set(err, -EINVAL, "invalid", field,
				"%s '%s' is too large: the prefix length must be at least /%u",
				field, s, CIDR_MIN_PREFIX);
	c.addr = ip & prefix_mask(c.prefix);
	if (c.addr != ip)
		return werr_set(err, -EINVAL, "invalid", field,
				"%s '%s' has host bits set; did you mean %s?", field, s,
				net_cidr_format(&c, buf));
	*ret = c;
	return 0;
}

char *net_cidr_format(const struct net_cidr *c, char *buf)
{
	char ip[16];

	snprintf(buf, 19, "%s/%u", net_ip_format(c->addr, ip), c->prefix);
	return buf;
}

uint32_t net_cidr_mask(const struct net_cidr *c)
{
	return prefix_mask(c->prefix);
}

uint32_t net_cidr_broadcast(const struct net_cidr *c)
{
	return c->addr | ~prefix_mask(c->prefix);
}

bool net_cidr_contains(const struct net_cidr *c, uint32_t ip)
{
	return (ip & prefix_mask(c->prefix)) == c->addr;
}

bool net_cidr_overlap(const struct net_cidr *a, const struct net_cidr *b)
{
	/* Two prefixes overlap exactly when the shorter one contains the other. */
	uint32_t m = prefix_mask(a->prefix < b->prefix ? a->prefix : b->prefix);

	return (a->addr & m) == (b->addr & m);
}

/* ---- the kernel's routes ------------------------------------------------- */

/* The kernel prints each __be32 with %08X as a plain u32, so the hex is the
 * address's bytes as this machine reads them: on little-endian,
 * "0000000A" is 10.0.0.0. */
static int route_hex_parse(const char *s, uint32_t *ret)
{
	uint32_t v = 0;

	if (strlen(s) != 8)
		return -EINVAL;
	for (int i = 0; i < 8; i++) {
		int d = hex_digit(s[i]);
		if (d < 0)
			return -EINVAL;
		v = v << 4 | (uint32_t)d;
	}
	*ret = ntohl(v);
	return 0;
}

/* A mask of contiguous leading ones; its length, or -EINVAL. */
static int mask_prefix(uint32_t mask)
{
	int prefix = __builtin_popcount(mask);

	return prefix_mask((unsigned)prefix) == mask ? prefix : -EINVAL;
}

/* One line of /proc/net/route; the first is the header. Returns 1 for a
 * route, 0 for a line to leave out. */
static int route_line(char *line, size_t index, void *elem)
{
	char *fields[8], *save = NULL;
	struct net_route rt = {0};
	uint32_t dst, mask;
	int prefix;
	size_t n = 0;

	if (index == 0) /* without the header, not the text we think it is */
		return strncmp(line, "Iface", 5) == 0 ? 0 : -EINVAL;
	for (char *t = strtok_r(line, " \t", &save); t && n < ARRAY_SIZE(fields);
	     t = strtok_r(NULL, " \t", &save))
		fields[n++] = t;
	if (n == 0)
		return 0;
	/* Iface Destination Gateway Flags RefCnt Use Metric Mask ... */
	if (n < ARRAY_SIZE(fields) || strlen(fields[0]) > NET_IFNAME_MAX ||
	    route_hex_parse(fields[1], &dst) < 0 || route_hex_parse(fields[7], &mask) < 0)
		return -EINVAL;
	prefix = mask_prefix(mask);
	if (prefix < 0 || (dst & mask) != dst)
		return -EINVAL;
	if (prefix == 0)
		return 0; /* the default route */
	snprintf(rt.ifname, sizeof(rt.ifname), "%s", fields[0]);
	rt.dst = (struct net_cidr){.addr = dst, .prefix = (unsigned)prefix};
	memcpy(elem, &rt, sizeof(rt));
	return 1;
}

int net_routes_parse(const char *text, struct net_route **ret, size_t *n)
{
	void *routes;
	int r;

	r = net_lines_parse(text, route_line, sizeof(struct net_route), &routes, n);
	if (r < 0)
		return r;
	*ret = routes;
	return 0;
}

/* ---- line-oriented text -------------------------------------------------- */

int net_lines_parse(const char *text, net_line_fn fn, size_t elem_size, void **ret, size_t *ret_n)
{
	_cleanup_free_ char *copy = NULL, *items = NULL;
	size_t count = 0, cap = 0, index = 0;
	char *save = NULL;

	if (!text)
		return -EINVAL;
	copy = strdup(text);
	if (!copy)
		return -ENOMEM;
	for (char *line = strtok_r(copy, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save), index++) {
		/* Room first, so that fn writes the element in place. */
		if (count == cap) {
			size_t ncap = cap ? 2 * cap : 8;
			char *ni = reallocarray(items, ncap, elem_size);
			if (!ni)
				return -ENOMEM;
			items = ni;
			cap = ncap;
		}
		int r = fn(line, index, items + count * elem_size);
		if (r < 0)
			return r;
		count += r > 0;
	}
	*ret = TAKE_PTR(items);
	*ret_n = count;
	return 0;
}

/* ---- rates --------------------------------------------------------------- */

#define RATE_MIN UINT64_C(8000)		/* 8kbit: below it nothing useful gets through */
#define RATE_MAX UINT64_C(100000000000) /* 100Gbit */

/* Decimal units, largest first (net_rate_format looks for the largest that
 * divides exactly). tc reads the same names, in any case. */
static const struct rate_unit {
	const char *name;
	uint64_t mult;
} rate_units[] = {
    {"Tbit", UINT64_C(1000000000000)},
    {"Gbit", UINT64_C(1000000000)},
    {"Mbit", UINT64_C(1000000)},
    {"kbit", UINT64_C(1000)},
    {"bit", 1},
};

/* Is unit a way of writing bytes ("MB", "mbps", "KBps", "bytes")? tc reads
 * "mbps" as megabytes per second, so letting it through as bits would be
 * off by eight whichever way we guessed. */
static bool is_byte_unit(const char *unit)
{
	static const char *const bytes[] = {"b", "bps", "b/s", "byte", "bytes", "bytes/s"};
	const char *u = unit;

	if (*u && strchr("kmgtKMGT", *u))
		u++;
	for (size_t i = 0; i < ARRAY_SIZE(bytes); i++)
		if (strcasecmp(u, bytes[i]) == 0)
			return true;
	return false;
}

int net_rate_parse(const char *s, uint64_t *ret_bps, const char *field, struct werr *err)
{
	uint64_t whole = 0, frac = 0, frac_den = 1, mult = 0;
	const char *p = s;

	if (!s || !*s)
		return werr_set(err, -EINVAL, "invalid", field,
				"%s is required: a rate like 10Mbit", field);
	if (strpbrk(s, " \t\n"))
		return werr_set(err, -EINVAL, "invalid", field,
				"%s '%.64s' must be written without spaces, like 10Mbit", field, s);
	if (!isdigit((unsigned char)*p))
		goto malformed;
	for (; isdigit((unsigned char)*p); p++) {
		/* Past RATE_MAX whatever the unit; stop before overflowing. */
		if (whole > RATE_MAX)
			goto too_large;
		whole = whole * 10 + (uint64_t)(*p - '0');
	}
	if (*p == '.') {
		p++;
		if (!isdigit((unsigned char)*p))
			goto malformed;
		for (; isdigit((unsigned char)*p); p++) {
			/* Twelve digits are exact for every unit down to bit. */
			if (frac_den == UINT64_C(1000000000000))
				return werr_set(err, -EINVAL, "invalid", field,
						"%s '%.64s' has too many decimals", field, s);
			frac = frac * 10 + (uint64_t)(*p - '0');
			frac_den *= 10;
		}
	}
	if (!*p)
		mult = 1;
	for (size_t i = 0; !mult && i < ARRAY_SIZE(rate_units); i++)
		if (strcasecmp(p, rate_units[i].name) == 0)
			mult = rate_units[i].mult;
	if (!mult && is_byte_unit(p))
		return werr_set(err, -EINVAL, "invalid", field,
				"%s '%.64s' is in bytes; give the rate in bits per second, like "
				"10Mbit (units bit, kbit, Mbit, Gbit; 1kbit = 1000 bit/s)",
				field, s);
	if (!mult)
		return werr_set(err, -EINVAL, "invalid", field,
				"%s '%.64s' has an unknown unit '%.16s'; use bit, kbit, Mbit or "
				"Gbit, like 10Mbit",
				field, s, p);
	if (whole > RATE_MAX / mult)
		goto too_large;
	/* frac < frac_den <= 1e12 and mult <= 1e12: the product fits in 128 bits. */
	unsigned __int128 frac_bits = (unsigned __int128)frac * mult;
	if (frac_bits % frac_den)
		return werr_set(err, -EINVAL, "invalid", field,
				"%s '%.64s' is not a whole number of bit/s", field, s);
	uint64_t bps = whole * mult + (uint64_t)(frac_bits / frac_den);
	if (bps == 0)
		return werr_set(err, -EINVAL, "invalid", field,
				"%s '%s' is zero; leave the rate out for no limit", field, s);
	if (bps < RATE_MIN)
		return werr_set(err, -EINVAL, "invalid", field,
				"%s '%s' is below the minimum of 8kbit", field, s);
	if (bps > RATE_MAX)
		goto too_large;
	*ret_bps = bps;
	return 0;

too_large:
	return werr_set(err, -EINVAL, "invalid", field,
			"%s '%.64s' is above the maximum of 100Gbit", field, s);
malformed:
	return werr_set(err, -EINVAL, "invalid", field,
			"%s '%.64s' is not a rate: a number of bits per second with a unit, "
			"like 10Mbit, 1.5Gbit or 500kbit",
			field, s);
}

char *net_rate_format(uint64_t bps, char *buf)
{
	size_t i;

	/* The last unit, bit, divides everything. */
	for (i = 0; i + 1 < ARRAY_SIZE(rate_units); i++)
		if (bps != 0 && bps % rate_units[i].mult == 0)
			break;
	snprintf(buf, 24, "%llu%s", (unsigned long long)(bps / rate_units[i].mult),
		 rate_units[i].name);
	return buf;
}
