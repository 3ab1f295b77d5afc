/*
 * names: network names and the host interface names derived from them.
 *
 * Interface names are at most 15 characters (IFNAMSIZ - 1) and are all the
 * host knows a network or NIC by, so they are built from numbers and ids
 * the daemon already holds, never from user input: "wn<idx>[v<vlan>]" for
 * bridges, "wt<10 hex of the VM id>n<nic>" for taps. The recognisers are
 * strict because the daemon deletes what they accept when it cleans up
 * after a crash: a looser pattern could take an interface that is not ours.
 */
#include <ctype.h>
#include <string.h>

#include "net/net.h"
#include "util/util.h"

#define BRIDGE_IDX_MAX 99999
#define VLAN_MAX       4094 /* 802.1Q: 0 and 4095 are reserved */
#define TAP_ID_CHARS   10
#define TAP_NIC_MAX    99

static bool name_char(char c, bool first)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || (!first && c == '-');
}

int net_name_validate(const char *name, struct werr *err)
{
	size_t len;

	if (!name || !*name)
		return werr_set(err, -EINVAL, "invalid", "name",
				"name is required: 1 to %d characters of a-z, 0-9 and '-'",
				NET_NAME_MAX);
	len = strlen(name);
	if (len > NET_NAME_MAX)
		return werr_set(err, -EINVAL, "invalid", "name",
				"name '%.40s' is too long: at most %d characters (got %zu)", name,
				NET_NAME_MAX, len);
	for (size_t i = 0; i < len; i++) {
		if (name_char(name[i], i == 0))
			continue;
		if (i == 0 && name[0] == '-')
			return werr_set(err, -EINVAL, "invalid", "name",
					"name '%s' must start with a lower-case letter or a digit",
					name);
		return werr_set(err, -EINVAL, "invalid", "name",
				"name '%s' may contain only a-z, 0-9 and '-' (character %zu is "
				"not allowed)",
				name, i + 1);
	}
	return 0;
}

char *net_bridge_name(unsigned idx, unsigned vlan, char *buf)
{
	if (vlan == 0)
		snprintf(buf, NET_IFNAME_MAX + 1, "wn%u", idx);
	else
		snprintf(buf, NET_IFNAME_MAX + 1, "wn%uv%u", idx, vlan);
	return buf;
}

char *net_tap_name(const char *vm_id, unsigned nic_idx, char *buf)
{
	/* 40 bits of the id: two VMs share a prefix once in about a million
	 * pairs, so the daemon still checks a new tap name is free. */
	snprintf(buf, NET_IFNAME_MAX + 1, "wt%.*sn%u", TAP_ID_CHARS, vm_id, nic_idx);
	return buf;
}

char *net_ifb_name(const char *vm_id, unsigned nic_idx, char *buf)
{
	snprintf(buf, NET_IFNAME_MAX + 1, "wi%.*sn%u", TAP_ID_CHARS, vm_id, nic_idx);
	return buf;
}

/* A decimal in [min, max] without leading zeros at *p; advances *p. */
static bool number_at(const char **p, unsigned min, unsigned max)
{
	const char *s = *p;
	unsigned long v = 0;
	size_t n = 0;

	while (isdigit((unsigned char)s[n]) && n < 6)
		v = v * 10 + (unsigned long)(s[n++] - '0');
	if (n == 0 || (n > 1 && s[0] == '0') || v < min || v > max)
		return false;
	*p = s + n;
	return true;
}

bool net_is_bridge_name(const char *ifname)
{
	const char *p = ifname;

	if (!p || strncmp(p, "wn", 2) != 0)
		return false;
	p += 2;
	if (!number_at(&p, 0, BRIDGE_IDX_MAX))
		return false;
	if (*p == 'v') {
		p++;
		if (!number_at(&p, 1, VLAN_MAX))
			return false;
	}
	return *p == '\0';
}

bool net_is_tap_name(const char *ifname)
{
	const char *p = ifname;

	if (!p || (strncmp(p, "wt", 2) != 0 && strncmp(p, "wi", 2) != 0))
		return false;
	p += 2;
	for (int i = 0; i < TAP_ID_CHARS; i++, p++)
		if (!isdigit((unsigned char)*p) && !(*p >= 'a' && *p <= 'f'))
			return false;
	if (*p++ != 'n')
		return false;
	return number_at(&p, 0, TAP_NIC_MAX) && *p == '\0';
}
