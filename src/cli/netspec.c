/*
 * netspec: networks and network adapters as the command line writes them:
 * the NIC of "create --nic" and "nic add" ("network=lan,ip=10.0.0.5,...")
 * and the body of "network create".
 *
 * As with disks, only the form is checked here: that a key is known and
 * given once, that numbers are numbers and switches on or off, and that a
 * NIC names its network. Whether an address lies in the subnet, a MAC is
 * free or a rate parses is the daemon's to judge; it knows the networks and
 * the other VMs and names the field at fault.
 */
#include <limits.h>
#include <string.h>

#include "cli/cli.h"

#define NIC_KEYS "network, name, mac, ip, mtu, rate, model, trust, link, vlan"

int cli_parse_onoff(const char *s, bool *ret)
{
	static const char *const on[] = {"on", "true", "yes"};
	static const char *const off[] = {"off", "false", "no"};

	for (size_t i = 0; i < ARRAY_SIZE(on); i++) {
		if (strcmp(s, on[i]) == 0) {
			*ret = true;
			return 0;
		}
		if (strcmp(s, off[i]) == 0) {
			*ret = false;
			return 0;
		}
	}
	return -EINVAL;
}

/* A whole number as a JSON integer; NULL with *ret_bad when it is none.
 * Ranges (MTU 68-65535, VLAN 1-4094) are the daemon's. */
static json_t *whole_json(const char *s, bool *ret_bad)
{
	uint64_t v;

	*ret_bad = cli_parse_uint(s, INT_MAX, &v) < 0;
	return *ret_bad ? NULL : json_integer((json_int_t)v);
}

/* ---- --nic --------------------------------------------------------------- */

enum nic_kind { NIC_STRING, NIC_WHOLE, NIC_ONOFF, NIC_LINK };

/* clang-format off */
static const struct {
	const char *key;
	enum nic_kind kind;
} nic_keys[] = {
	{"network", NIC_STRING},
	{"name",    NIC_STRING},
	{"mac",     NIC_STRING},
	{"ip",      NIC_STRING},
	{"mtu",     NIC_WHOLE},
	{"rate",    NIC_STRING},
	{"model",   NIC_STRING},
	{"trust",   NIC_ONOFF},
	{"link",    NIC_LINK},
	{"vlan",    NIC_WHOLE},
};
/* clang-format on */

/* The JSON value of one KEY=VALUE of a NIC; err says what is wrong. */
static int nic_value(const char *key, const char *value, const char *what, const char *spec,
		     json_t **ret, struct werr *err)
{
	size_t i;
	bool bad, on;

	for (i = 0; i < ARRAY_SIZE(nic_keys); i++)
		if (strcmp(key, nic_keys[i].key) == 0)
			break;
	if (i == ARRAY_SIZE(nic_keys))
		return werr_set(err, -EINVAL, "invalid", "nics",
				"%s '%s': unknown key '%s' (" NIC_KEYS ")", what, spec, key);
	switch (nic_keys[i].kind) {
	case NIC_STRING:
		*ret = json_string(value);
		break;
	case NIC_WHOLE:
		*ret = whole_json(value, &bad);
		if (bad)
			return werr_set(err, -EINVAL, "invalid", "nics",
					"%s '%s': %s takes a whole number, not '%s'", what, spec,
					key, value);
		break;
	case NIC_ONOFF:
		if (cli_parse_onoff(value, &on) < 0)
			return werr_set(err, -EINVAL, "invalid", "nics",
					"%s '%s': %s takes on or off, not '%s'", what, spec, key,
					value);
		*ret = json_boolean(on);
		break;
	case NIC_LINK:
		if (strcmp(value, "up") != 0 && strcmp(value, "down") != 0)
			return werr_set(err, -EINVAL, "invalid", "nics",
					"%s '%s': %s takes up or down, not '%s'", what, spec, key,
					value);
		*ret = json_string(value);
		break;
	}
	return *ret ? 0 : -ENOMEM;
}

static int nic_item(json_t *nic, const char *item, size_t len, bool first, const char *what,
		    const char *spec, struct werr *err)
{
	_cleanup_free_ char *copy = strndup(item, len);
	const char *key, *value;
	json_t *v = NULL;
	char *eq;
	int r;

	if (!copy)
		return -ENOMEM;
	if (len == 0)
		return werr_set(err, -EINVAL, "invalid", "nics", "%s '%s': empty item", what, spec);
	eq = strchr(copy, '=');
	if (eq) {
		*eq = '\0';
		key = copy;
		value = eq + 1;
		if (*value == '\0')
			return werr_set(err, -EINVAL, "invalid", "nics", "%s '%s': %s has no value",
					what, spec, key);
	} else if (first) {
		/* "lan,ip=...": the network may be written bare and first, as a
		 * disk's name is. */
		key = "network";
		value = copy;
	} else {
		return werr_set(err, -EINVAL, "invalid", "nics", "%s '%s': '%s' is not KEY=VALUE",
				what, spec, copy);
	}
	r = nic_value(key, value, what, spec, &v, err);
	if (r < 0)
		return r;
	if (json_object_get(nic, key)) {
		json_decref(v);
		return werr_set(err, -EINVAL, "invalid", "nics", "%s '%s': %s given twice", what,
				spec, key);
	}
	if (json_object_set_new(nic, key, v) < 0)
		return -ENOMEM;
	return 0;
}

int cli_parse_nic(const char *s, const char *what, json_t **ret_nic, struct werr *err)
{
	_cleanup_json_ json_t *nic = json_object();
	const char *p = s;
	int r;

	if (!nic)
		return -ENOMEM;
	for (bool first = true;; first = false) {
		const char *comma = strchr(p, ',');
		size_t len = comma ? (size_t)(comma - p) : strlen(p);

		r = nic_item(nic, p, len, first, what, s, err);
		if (r < 0)
			return r;
		if (!comma)
			break;
		p = comma + 1;
	}
	if (!json_object_get(nic, "network"))
		return werr_set(err, -EINVAL, "invalid", "nics", "%s '%s': needs network=NAME",
				what, s);
	*ret_nic = TAKE_PTR(nic);
	return 0;
}

/* ---- network create ------------------------------------------------------- */

int cli_network_body(const struct cli_args *a, const char *name, json_t **ret_body,
		     struct werr *err)
{
	static const char *const string_keys[] = {"subnet", "gateway", "uplink"};
	static const char *const switch_keys[] = {"dhcp", "nat"};
	static const char *const whole_keys[] = {"mtu", "vlan"};
	_cleanup_json_ json_t *body = json_pack("{s:s}", "name", name);
	const char *v;

	if (!body)
		return -ENOMEM;
	if (!cli_opt_get(a, "subnet"))
		return werr_set(err, -EINVAL, "invalid", "subnet",
				"missing --subnet CIDR, the network's addresses, e.g. 10.0.0.0/24");
	/* Only what is given: the daemon owns the defaults. */
	for (size_t i = 0; i < ARRAY_SIZE(string_keys); i++)
		if ((v = cli_opt_get(a, string_keys[i])) &&
		    json_object_set_new(body, string_keys[i], json_string(v)) < 0)
			return -ENOMEM;
	for (size_t i = 0; i < ARRAY_SIZE(switch_keys); i++) {
		bool on;

		if (!(v = cli_opt_get(a, switch_keys[i])))
			continue;
		if (cli_parse_onoff(v, &on) < 0)
			return werr_set(err, -EINVAL, "invalid", switch_keys[i],
					"--%s takes on or off, not '%s'", switch_keys[i], v);
		if (json_object_set_new(body, switch_keys[i], json_boolean(on)) < 0)
			return -ENOMEM;
	}
	for (size_t i = 0; i < ARRAY_SIZE(whole_keys); i++) {
		json_t *n;
		bool bad;

		if (!(v = cli_opt_get(a, whole_keys[i])))
			continue;
		n = whole_json(v, &bad);
		if (bad)
			return werr_set(err, -EINVAL, "invalid", whole_keys[i],
					"--%s takes a whole number, not '%s'", whole_keys[i], v);
		if (json_object_set_new(body, whole_keys[i], n) < 0)
			return -ENOMEM;
	}
	*ret_body = TAKE_PTR(body);
	return 0;
}
