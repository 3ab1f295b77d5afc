/*
 * view: the table form of the API's objects (VMs, events, the host,
 * operations, snapshots, networks, NICs, migrations and the cluster).
 *
 * The views read the JSON defensively: a key that is missing, null or of an
 * unexpected type is shown as "-" or left out rather than failing, because a
 * newer daemon may add or change fields and the exact data is always
 * available through --format json.
 */
#include <string.h>

#include "cli/cli.h"

/* A scalar as text: strings as they are, integers in decimal, booleans as
 * true/false. NULL for null, missing and collections. */
static const char *scalar_text(json_t *v, char *buf, size_t len)
{
	if (json_is_string(v))
		return json_string_value(v);
	if (json_is_integer(v)) {
		snprintf(buf, len, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		return buf;
	}
	if (json_is_boolean(v))
		return json_is_true(v) ? "true" : "false";
	return NULL;
}

static const char *field_text(json_t *obj, const char *key, char *buf, size_t len)
{
	return scalar_text(json_object_get(obj, key), buf, len);
}

const char *view_memory(json_t *v, char *buf, size_t len)
{
	uint64_t bytes;

	if (json_is_integer(v) && json_integer_value(v) >= 0)
		return cli_human_size((uint64_t)json_integer_value(v), buf, len);
	if (json_is_string(v)) {
		if (size_parse(json_string_value(v), &bytes) == 0)
			return cli_human_size(bytes, buf, len);
		return json_string_value(v);
	}
	return "-";
}

/* Uptime only means something while QEMU runs the guest. */
static const char *vm_uptime(json_t *vm, char *buf, size_t len)
{
	const char *state = json_string_value(json_object_get(vm, "state"));
	json_t *up = json_object_get(vm, "uptime_seconds");

	if (!state || (strcmp(state, "running") != 0 && strcmp(state, "paused") != 0) ||
	    !json_is_integer(up) || json_integer_value(up) < 0)
		return NULL;
	return cli_human_uptime((uint64_t)json_integer_value(up), buf, len);
}

static const char *or_dash(const char *s)
{
	return s ? s : "-";
}

static const char *or_none(const char *s)
{
	return s ? s : "none";
}

#define CELL_MAX 256
#define COLS_MAX 12

/* Fills a row's cells; a cell may point into bufs[its column]. */
typedef void row_fn(json_t *item, const char **cells, char (*bufs)[CELL_MAX]);

/* A table of an array of API objects, a row each. */
static void view_table(FILE *f, json_t *items, const char *const *headers, size_t n_cols,
		       row_fn *row)
{
	struct cli_table t;
	size_t i;
	json_t *item;

	if (n_cols > COLS_MAX || cli_table_init(&t, n_cols, headers) < 0)
		return;
	json_array_foreach(items, i, item)
	{
		const char *cells[COLS_MAX];
		char bufs[COLS_MAX][CELL_MAX];

		row(item, cells, bufs);
		for (size_t col = 0; col < n_cols; col++)
			if (cli_table_cell(&t, cells[col]) < 0)
				goto out;
	}
	cli_table_print(&t, f);
out:
	cli_table_clear(&t);
}

/* The table of view_table, each line indented by two spaces: a table
 * under a heading of a "key: value" view. */
static void view_table_indented(FILE *f, json_t *items, const char *const *headers, size_t n_cols,
				row_fn *row)
{
	_cleanup_free_ char *text = NULL;
	size_t len = 0;
	FILE *g = open_memstream(&text, &len);

	if (!g)
		return;
	view_table(g, items, headers, n_cols, row);
	if (fclose(g) != 0)
		return;
	for (const char *p = text; *p;) {
		size_t n = strcspn(p, "\n");

		fprintf(f, "  %.*s\n", (int)n, p);
		p += n + (p[n] == '\n');
	}
}

/* Is s an IPv4 address as the API writes one (dotted, no colons)? The
 * guest agent also reports IPv6 addresses, which the tables leave out. */
static bool is_ipv4(const char *s)
{
	return s && *s && strspn(s, "0123456789.") == strlen(s);
}

/*
 * ",10.0.0.5,10.0.1.7" appended to buf at *used: the IPv4 addresses a NIC
 * is seen with. An address that does not fit is left out whole, so that a
 * cell never shows a cut address.
 */
static void nic_addresses_append(json_t *nic, char *buf, size_t len, size_t *used)
{
	size_t i;
	json_t *a;

	json_array_foreach(json_object_get(nic, "addresses"), i, a)
	{
		const char *ip = json_string_value(a);
		int n;

		if (!is_ipv4(ip))
			continue;
		n = snprintf(buf + *used, len - *used, "%s%s", *used ? "," : "", ip);
		if (n < 0 || (size_t)n >= len - *used) {
			buf[*used] = '\0';
			return;
		}
		*used += (size_t)n;
	}
}

/* Every NIC's addresses joined by ","; NULL when there are none. */
static const char *vm_addresses(json_t *vm, char *buf, size_t len)
{
	size_t used = 0, i;
	json_t *nic;

	buf[0] = '\0';
	json_array_foreach(json_object_get(vm, "nics"), i, nic)
	    nic_addresses_append(nic, buf, len, &used);
	return used ? buf : NULL;
}

static void vm_row(json_t *vm, const char **cells, char (*bufs)[CELL_MAX])
{
	cells[0] = or_dash(field_text(vm, "name", NULL, 0));
	cells[1] = or_dash(field_text(vm, "state", NULL, 0));
	cells[2] = or_dash(field_text(vm, "cpus", bufs[2], CELL_MAX));
	cells[3] = view_memory(json_object_get(vm, "memory"), bufs[3], CELL_MAX);
	cells[4] = or_dash(vm_uptime(vm, bufs[4], CELL_MAX));
	cells[5] = or_dash(vm_addresses(vm, bufs[5], CELL_MAX));
}

static void vm_host_row(json_t *vm, const char **cells, char (*bufs)[CELL_MAX])
{
	vm_row(vm, cells, bufs);
	cells[6] = or_dash(field_text(vm, "host", NULL, 0));
}

/* ADDRESSES comes last, and HOST after it, only in a cluster: scripts that
 * read the columns before them by position keep working. */
void view_vm_list(FILE *f, json_t *reply)
{
	static const char *const headers[] = {"NAME",	"STATE",     "CPUS", "MEMORY",
					      "UPTIME", "ADDRESSES", "HOST"};
	json_t *vms = json_object_get(reply, "vms");
	bool hosts = false;
	size_t i;
	json_t *vm;

	json_array_foreach(vms, i, vm) hosts = hosts || json_object_get(vm, "host");
	if (hosts)
		view_table(f, vms, headers, ARRAY_SIZE(headers), vm_host_row);
	else
		view_table(f, vms, headers, ARRAY_SIZE(headers) - 1, vm_row);
}

static void line(FILE *f, const char *key, const char *value)
{
	if (value)
		fprintf(f, "%s: %s\n", key, value);
}

/*
 * A time as the API gives it: an ISO-8601 UTC string ("2026-11-23T09:43:21.590Z",
 * shown as "2026-11-23 09:43:21 UTC") or milliseconds since the epoch
 * (shown in local time). NULL for null, 0 ("never") or anything else.
 */
static const char *cell_time(json_t *v, char *buf, size_t len)
{
	const char *iso = json_string_value(v);

	if (json_is_integer(v) && json_integer_value(v) > 0)
		return cli_human_time(json_integer_value(v), buf, len);
	if (!iso || strlen(iso) < 19 || iso[10] != 'T')
		return NULL;
	snprintf(buf, len, "%.10s %.8s UTC", iso, iso + 11);
	return buf;
}

static void line_time(FILE *f, const char *key, json_t *t)
{
	char buf[64];

	line(f, key, cell_time(t, buf, sizeof(buf)));
}

/* " key=size" when v is a size (bytes or a size string); null and other
 * types print nothing. */
static void item_size(FILE *f, const char *key, json_t *v)
{
	char buf[32];

	if (json_is_integer(v) || json_is_string(v))
		fprintf(f, " %s=%s", key, view_memory(v, buf, sizeof(buf)));
}

/* A number as people write it: "1.5", "2", "0.25". NULL unless a number. */
static const char *number_text(json_t *v, char *buf, size_t len)
{
	if (!json_is_number(v))
		return NULL;
	snprintf(buf, len, "%.6g", json_number_value(v));
	return buf;
}

/* " key=value" for a scalar; null, missing and collections print nothing. */
static void item(FILE *f, const char *key, json_t *v)
{
	char buf[64];
	const char *s =
	    json_is_real(v) ? number_text(v, buf, sizeof(buf)) : scalar_text(v, buf, sizeof(buf));

	if (s)
		fprintf(f, " %s=%s", key, s);
}

static void show_disk(FILE *f, json_t *disk)
{
	const char *image = json_string_value(json_object_get(disk, "image"));
	const char *bus = json_string_value(json_object_get(disk, "bus"));

	fprintf(f, "  %s:", or_dash(json_string_value(json_object_get(disk, "name"))));
	item_size(f, "size", json_object_get(disk, "size"));
	if (bus)
		fprintf(f, " bus=%s", bus);
	if (image)
		fprintf(f, " image=%s", image);
	/* The limits as "warren set" and --disk write them. */
	item(f, "iops", json_object_get(disk, "iops"));
	item_size(f, "bps", json_object_get(disk, "bps"));
	if (json_is_true(json_object_get(disk, "readonly")))
		fputs(" readonly", f);
	fputc('\n', f);
}

/* "resources: cpu_weight=100 cpu_limit=1.5 pin=0,1": the keys that are
 * set, written as "warren set" takes them. */
static void show_resources(FILE *f, json_t *res)
{
	json_t *pin = json_object_get(res, "pin");
	_cleanup_free_ char *items = NULL;
	size_t len = 0, i;
	json_t *cpu;
	FILE *g;

	/* Into a buffer first: with nothing set the line is left out. */
	if (!json_is_object(res) || !(g = open_memstream(&items, &len)))
		return;
	item(g, "cpu_weight", json_object_get(res, "cpu_weight"));
	item(g, "cpu_limit", json_object_get(res, "cpu_limit"));
	item_size(g, "memory_limit", json_object_get(res, "memory_limit"));
	item_size(g, "memory_reservation", json_object_get(res, "memory_reservation"));
	if (json_array_size(pin) > 0) {
		fputs(" pin=", g);
		json_array_foreach(pin, i, cpu)
		{
			char buf[32];

			fprintf(g, "%s%s", i ? "," : "",
				or_dash(scalar_text(cpu, buf, sizeof(buf))));
		}
	}
	if (fclose(g) == 0 && len > 0)
		fprintf(f, "resources:%s\n", items);
}

/* ---- NICs ------------------------------------------------------------------ */

/* on/off for a boolean; NULL otherwise. */
static const char *on_off(json_t *v)
{
	return json_is_boolean(v) ? (json_is_true(v) ? "on" : "off") : NULL;
}

/* NAME NETWORK MAC IP ADDRESSES MODEL RATE LINK TRUST: cells 0 to 8 of a
 * NIC. With from, the addresses say where they were learnt:
 * "10.0.0.5 (agent)". */
static void nic_cells(json_t *nic, const char **cells, char (*bufs)[CELL_MAX], bool from)
{
	const char *source = field_text(nic, "addresses_from", NULL, 0);
	size_t used = 0;

	cells[0] = or_dash(field_text(nic, "name", NULL, 0));
	cells[1] = or_dash(field_text(nic, "network", NULL, 0));
	cells[2] = or_dash(field_text(nic, "mac", NULL, 0));
	cells[3] = or_dash(field_text(nic, "ip", NULL, 0));
	bufs[4][0] = '\0';
	nic_addresses_append(nic, bufs[4], CELL_MAX, &used);
	if (used && from && source && strlen(source) + 3 < CELL_MAX - used)
		snprintf(bufs[4] + used, CELL_MAX - used, " (%s)", source);
	cells[4] = used ? bufs[4] : "-";
	cells[5] = or_dash(field_text(nic, "model", NULL, 0));
	cells[6] = or_dash(field_text(nic, "rate", NULL, 0));
	cells[7] = or_dash(field_text(nic, "link", NULL, 0));
	cells[8] = or_dash(on_off(json_object_get(nic, "trust")));
}

static const char *const nic_list_headers[] = {"NAME",	"NETWORK", "MAC",  "IP",   "ADDRESSES",
					       "MODEL", "RATE",	   "LINK", "TRUST"};
static const char *const nic_show_headers[] = {"NAME",	"NETWORK", "MAC",  "IP",    "ADDRESSES",
					       "MODEL", "RATE",	   "LINK", "TRUST", "VLAN"};

static void nic_list_row(json_t *nic, const char **cells, char (*bufs)[CELL_MAX])
{
	nic_cells(nic, cells, bufs, false);
}

/* show adds where the addresses come from and the NIC's VLAN. */
static void nic_show_row(json_t *nic, const char **cells, char (*bufs)[CELL_MAX])
{
	nic_cells(nic, cells, bufs, true);
	cells[9] = or_dash(field_text(nic, "vlan", bufs[9], CELL_MAX));
}

void view_nic_list(FILE *f, json_t *reply)
{
	view_table(f, json_object_get(reply, "nics"), nic_list_headers,
		   ARRAY_SIZE(nic_list_headers), nic_list_row);
}

void view_nic_show(FILE *f, json_t *nic)
{
	const char *source = field_text(nic, "addresses_from", NULL, 0);
	const char *ip = field_text(nic, "ip", NULL, 0);
	char buf[CELL_MAX];
	size_t used = 0;

	line(f, "name", field_text(nic, "name", NULL, 0));
	line(f, "network", field_text(nic, "network", NULL, 0));
	line(f, "mac", field_text(nic, "mac", NULL, 0));
	if (ip && json_is_true(json_object_get(nic, "ip_auto")))
		fprintf(f, "ip: %s (chosen by warrend)\n", ip);
	else
		line(f, "ip", ip);
	buf[0] = '\0';
	nic_addresses_append(nic, buf, sizeof(buf), &used);
	if (used && source)
		fprintf(f, "addresses: %s (from %s)\n", buf, source);
	else if (used)
		line(f, "addresses", buf);
	line(f, "model", field_text(nic, "model", NULL, 0));
	line(f, "mtu", field_text(nic, "mtu", buf, sizeof(buf)));
	line(f, "rate", field_text(nic, "rate", NULL, 0));
	line(f, "link", field_text(nic, "link", NULL, 0));
	line(f, "trust", on_off(json_object_get(nic, "trust")));
	line(f, "vlan", field_text(nic, "vlan", buf, sizeof(buf)));
	line(f, "tap", field_text(nic, "tap", NULL, 0));
}

void view_nic_removed(FILE *f, json_t *reply)
{
	fprintf(f, "%s: %s removed\n", or_dash(field_text(reply, "vm", NULL, 0)),
		or_dash(field_text(reply, "nic", NULL, 0)));
}

/* ---- networks -------------------------------------------------------------- */

/* NAME SUBNET GATEWAY DHCP NAT MTU VLAN NICS. */
static void network_row(json_t *net, const char **cells, char (*bufs)[CELL_MAX])
{
	json_t *nics = json_object_get(net, "nics");

	cells[0] = or_dash(field_text(net, "name", NULL, 0));
	cells[1] = or_dash(field_text(net, "subnet", NULL, 0));
	cells[2] = or_dash(field_text(net, "gateway", NULL, 0));
	cells[3] = or_dash(on_off(json_object_get(net, "dhcp")));
	cells[4] = or_dash(on_off(json_object_get(net, "nat")));
	cells[5] = or_dash(field_text(net, "mtu", bufs[5], CELL_MAX));
	cells[6] = or_dash(field_text(net, "vlan", bufs[6], CELL_MAX));
	cells[7] = "-";
	if (json_is_array(nics)) {
		snprintf(bufs[7], CELL_MAX, "%zu", json_array_size(nics));
		cells[7] = bufs[7];
	}
}

void view_network_list(FILE *f, json_t *reply)
{
	static const char *const headers[] = {"NAME", "SUBNET", "GATEWAY", "DHCP",
					      "NAT",  "MTU",	"VLAN",	   "NICS"};

	view_table(f, json_object_get(reply, "networks"), headers, ARRAY_SIZE(headers),
		   network_row);
}

/* VM NIC MAC IP VLAN: a NIC on the network. */
static void network_nic_row(json_t *nic, const char **cells, char (*bufs)[CELL_MAX])
{
	cells[0] = or_dash(field_text(nic, "vm", NULL, 0));
	cells[1] = or_dash(field_text(nic, "nic", NULL, 0));
	cells[2] = or_dash(field_text(nic, "mac", NULL, 0));
	cells[3] = or_dash(field_text(nic, "ip", NULL, 0));
	cells[4] = or_dash(field_text(nic, "vlan", bufs[4], CELL_MAX));
}

/* "  wn1v10: vlan 10, present": a bridge of the network. */
static void show_segment(FILE *f, json_t *seg)
{
	json_t *vlan = json_object_get(seg, "vlan");
	json_t *present = json_object_get(seg, "present");

	fprintf(f, "  %s: ", or_dash(field_text(seg, "bridge", NULL, 0)));
	if (json_is_integer(vlan))
		fprintf(f, "vlan %" JSON_INTEGER_FORMAT, json_integer_value(vlan));
	else
		fputs("untagged", f);
	if (json_is_boolean(present))
		fputs(json_is_true(present) ? ", present" : ", missing", f);
	fputc('\n', f);
}

void view_network_show(FILE *f, json_t *net)
{
	static const char *const nic_headers[] = {"VM", "NIC", "MAC", "IP", "VLAN"};
	json_t *segments = json_object_get(net, "segments");
	json_t *nics = json_object_get(net, "nics");
	json_t *dnsmasq = json_object_get(net, "dnsmasq");
	json_t *pid = json_object_get(dnsmasq, "pid");
	char buf[64];

	line(f, "name", field_text(net, "name", NULL, 0));
	line(f, "subnet", field_text(net, "subnet", NULL, 0));
	line(f, "gateway", field_text(net, "gateway", NULL, 0));
	line(f, "dhcp", on_off(json_object_get(net, "dhcp")));
	line(f, "nat", on_off(json_object_get(net, "nat")));
	line(f, "mtu", field_text(net, "mtu", buf, sizeof(buf)));
	/* null is a setting here ("no VLAN", "no uplink"), not an unknown. */
	if (json_object_get(net, "vlan"))
		line(f, "vlan", or_none(field_text(net, "vlan", buf, sizeof(buf))));
	if (json_object_get(net, "uplink"))
		line(f, "uplink", or_none(field_text(net, "uplink", NULL, 0)));
	line(f, "bridge", field_text(net, "bridge", NULL, 0));
	line(f, "vlan mode", field_text(net, "vlan_mode", NULL, 0));
	/* null: DHCP is off, and with it dnsmasq. */
	if (json_is_object(dnsmasq)) {
		if (json_is_true(json_object_get(dnsmasq, "running")) && json_is_integer(pid))
			fprintf(f, "dnsmasq: running (pid %" JSON_INTEGER_FORMAT ")\n",
				json_integer_value(pid));
		else
			line(f, "dnsmasq",
			     json_is_true(json_object_get(dnsmasq, "running")) ? "running"
									       : "not running");
	}
	line_time(f, "created", json_object_get(net, "created_at"));
	if (json_array_size(segments) > 0) {
		size_t i;
		json_t *seg;

		fputs("segments:\n", f);
		json_array_foreach(segments, i, seg) show_segment(f, seg);
	}
	if (json_array_size(nics) > 0) {
		fputs("nics:\n", f);
		view_table_indented(f, nics, nic_headers, ARRAY_SIZE(nic_headers), network_nic_row);
	}
}

/* Each line of a log, indented under its heading. */
static void show_log(FILE *f, const char *heading, const char *log)
{
	fprintf(f, "%s:\n", heading);
	while (*log) {
		size_t n = strcspn(log, "\n");
		fprintf(f, "  %.*s\n", (int)n, log);
		log += n;
		if (*log == '\n')
			log++;
	}
}

void view_vm_show(FILE *f, json_t *vm)
{
	json_t *spec = json_object_get(vm, "spec");
	json_t *disks = json_object_get(spec, "disks");
	json_t *labels = json_object_get(spec, "labels");
	json_t *serial = json_object_get(spec, "serial");
	json_t *pid = json_object_get(vm, "pid");
	/* The VM's NICs with what the daemon knows of them; a daemon that
	 * has only the spec's still shows how they are configured. */
	json_t *nics = json_is_array(json_object_get(vm, "nics")) ? json_object_get(vm, "nics")
								  : json_object_get(spec, "nics");
	const char *crash = json_string_value(json_object_get(json_object_get(vm, "crash"), "log"));
	json_t *mig = json_object_get(vm, "migration");
	char buf[64];

	line(f, "name", field_text(vm, "name", NULL, 0));
	line(f, "id", field_text(vm, "id", NULL, 0));
	line(f, "state", field_text(vm, "state", NULL, 0));
	line(f, "host", field_text(vm, "host", NULL, 0));
	line(f, "ha", on_off(json_object_get(vm, "ha")));
	line(f, "cpus", field_text(vm, "cpus", buf, sizeof(buf)));
	line(f, "memory", view_memory(json_object_get(vm, "memory"), buf, sizeof(buf)));
	line(f, "uptime", vm_uptime(vm, buf, sizeof(buf)));
	if (json_is_integer(pid) && json_integer_value(pid) > 0)
		line(f, "pid", scalar_text(pid, buf, sizeof(buf)));
	if (json_is_object(mig)) {
		char what[320];
		snprintf(what, sizeof(what), "%s %s %s (%s)",
			 strcmp(field_text(mig, "role", NULL, 0) ?: "", "source") == 0 ? "to" : "from",
			 field_text(mig, "peer", NULL, 0) ?: "?", field_text(mig, "phase", NULL, 0) ?: "?",
			 field_text(mig, "id", NULL, 0) ?: "?");
		line(f, "migration", what);
	}
	line_time(f, "created", json_object_get(vm, "created_at"));
	line_time(f, "started", json_object_get(vm, "started_at"));
	line(f, "kernel", field_text(spec, "kernel", NULL, 0));
	line(f, "initrd", field_text(spec, "initrd", NULL, 0));
	line(f, "cmdline", field_text(spec, "cmdline", NULL, 0));
	if (json_is_boolean(serial))
		line(f, "serial", json_is_true(serial) ? "on" : "off");
	show_resources(f, json_object_get(spec, "resources"));
	line(f, "security", field_text(spec, "security", NULL, 0));
	line(f, "performance", field_text(spec, "performance", NULL, 0));
	if (json_array_size(disks) > 0) {
		size_t i;
		json_t *disk;

		fputs("disks:\n", f);
		json_array_foreach(disks, i, disk) show_disk(f, disk);
	}
	if (json_array_size(nics) > 0) {
		fputs("nics:\n", f);
		view_table_indented(f, nics, nic_show_headers, ARRAY_SIZE(nic_show_headers),
				    nic_show_row);
	}
	if (json_object_size(labels) > 0) {
		const char *key;
		json_t *value;

		fputs("labels:\n", f);
		json_object_foreach(labels, key, value)
		    fprintf(f, "  %s: %s\n", key, or_dash(scalar_text(value, buf, sizeof(buf))));
	}
	if (crash && *crash)
		show_log(f, "crash log", crash);
}

/* ---- events -------------------------------------------------------------- */

/* TIME, VM, TYPE, DETAIL. */
static void event_row(json_t *ev, const char **cells, char (*bufs)[CELL_MAX])
{
	const char *state = json_string_value(json_object_get(ev, "state"));
	const char *previous = json_string_value(json_object_get(ev, "previous"));
	const char *action = json_string_value(json_object_get(ev, "action"));
	const char *result = json_string_value(json_object_get(ev, "result"));
	json_t *uid = json_object_get(ev, "uid");
	json_t *time = json_object_get(ev, "time");
	char *detail = bufs[3];
	int n;

	cells[0] = or_dash(cell_time(time, bufs[0], CELL_MAX));
	cells[1] = or_dash(json_string_value(json_object_get(ev, "vm")));
	cells[2] = or_dash(json_string_value(json_object_get(ev, "type")));
	cells[3] = detail;

	/* "stopped -> starting" for state changes; "start ok (uid 0)" for actions. */
	if (state && previous)
		n = snprintf(detail, CELL_MAX, "%s -> %s", previous, state);
	else if (state)
		n = snprintf(detail, CELL_MAX, "%s", state);
	else if (action)
		n = snprintf(detail, CELL_MAX, "%s%s%s", action, result ? " " : "",
			     result ? result : "");
	else
		n = snprintf(detail, CELL_MAX, "-");
	if (json_is_integer(uid) && n >= 0 && n < CELL_MAX)
		snprintf(detail + n, CELL_MAX - (size_t)n, " (uid %" JSON_INTEGER_FORMAT ")",
			 json_integer_value(uid));
}

void view_events(FILE *f, json_t *reply)
{
	static const char *const headers[] = {"TIME", "VM", "TYPE", "DETAIL"};

	view_table(f, json_object_get(reply, "events"), headers, ARRAY_SIZE(headers), event_row);
}

void view_event_line(FILE *f, json_t *event)
{
	const char *cells[4];
	char bufs[4][CELL_MAX];

	/* A followed stream cannot know its column widths in advance; these fit
	 * the usual names and keep the detail readable. */
	event_row(event, cells, bufs);
	fprintf(f, "%s  %-16s  %-6s  %s\n", cells[0], cells[1], cells[2], cells[3]);
}

/* ---- host ------------------------------------------------------------------ */

/* "2 sockets", "1 thread": a count and its noun. */
static void count_noun(FILE *f, json_int_t n, const char *noun)
{
	fprintf(f, "%" JSON_INTEGER_FORMAT " %s%s", n, noun, n == 1 ? "" : "s");
}

/* "cpus: 2 sockets x 4 cores x 2 threads, 16 online" and the model. The
 * daemon counts the cores of all sockets together; a host whose sockets
 * differ says so rather than show a product that is not true. */
static void show_host_cpu(FILE *f, json_t *cpu)
{
	json_int_t sockets = json_integer_value(json_object_get(cpu, "sockets"));
	json_int_t cores = json_integer_value(json_object_get(cpu, "cores"));
	json_int_t threads = json_integer_value(json_object_get(cpu, "threads_per_core"));
	json_t *online = json_object_get(cpu, "online");
	const char *model = json_string_value(json_object_get(cpu, "model"));
	bool topology = sockets > 0 && cores > 0 && threads > 0;

	if (model && *model)
		fprintf(f, "  cpu model: %s\n", model);
	if (!topology && !json_is_integer(online))
		return;
	fputs("  cpus: ", f);
	if (topology) {
		count_noun(f, sockets, "socket");
		if (cores % sockets == 0) {
			fputs(" x ", f);
			count_noun(f, cores / sockets, "core");
			fputs(" x ", f);
			count_noun(f, threads, "thread");
		} else {
			fputs(", ", f);
			count_noun(f, cores, "core");
			fputs(" in all x ", f);
			count_noun(f, threads, "thread");
		}
	}
	if (json_is_integer(online))
		fprintf(f, "%s%" JSON_INTEGER_FORMAT " online", topology ? ", " : "",
			json_integer_value(online));
	fputc('\n', f);
}

/* Sizes as the daemon words them in its messages ("2.0 GiB"), so that
 * what it refuses can be compared with what this view shows. */
static const char *gib_text(json_t *v, char *buf, size_t len)
{
	if (!json_is_integer(v) || json_integer_value(v) < 0)
		return NULL;
	return size_format((uint64_t)json_integer_value(v), buf, len);
}

/* "  memory: 15.5 GiB total, 12.0 GiB available": the parts that are known. */
static void show_total_and(FILE *f, const char *heading, const char *path, json_t *obj,
			   const char *other)
{
	char total[32], rest[32];
	const char *t = gib_text(json_object_get(obj, "total"), total, sizeof(total));
	const char *o = gib_text(json_object_get(obj, other), rest, sizeof(rest));

	if (!t && !o)
		return;
	fprintf(f, "  %s: ", heading);
	if (path)
		fprintf(f, "%s, ", path);
	if (t)
		fprintf(f, "%s total%s", t, o ? ", " : "");
	if (o)
		fprintf(f, "%s %s", o, other);
	fputc('\n', f);
}

/* The daemon's forms, as in its refusals: a ratio with one decimal
 * ("4.0") or more when it has them ("1.25"); vCPUs whole ("3") or with one
 * decimal ("1.5"). */
static bool is_whole(double v)
{
	double d = v - (double)(long long)(v < 0 ? v - 0.5 : v + 0.5);

	return d > -1e-6 && d < 1e-6;
}

static const char *ratio_text(json_t *v, char *buf, size_t len)
{
	double r = json_number_value(v);

	if (!json_is_number(v))
		return NULL;
	snprintf(buf, len, is_whole(r * 10) ? "%.1f" : "%.6g", r);
	return buf;
}

static const char *vcpus_text(json_t *v, char *buf, size_t len)
{
	double n = json_number_value(v);

	if (!json_is_number(v))
		return NULL;
	snprintf(buf, len, is_whole(n) ? "%.0f" : "%.1f", n);
	return buf;
}

static void show_inventory(FILE *f, json_t *inv)
{
	json_t *disk = json_object_get(inv, "disk");

	if (!json_is_object(inv))
		return;
	fputs("inventory:\n", f);
	show_host_cpu(f, json_object_get(inv, "cpu"));
	show_total_and(f, "memory", NULL, json_object_get(inv, "memory"), "available");
	show_total_and(f, "disk", json_string_value(json_object_get(disk, "path")), disk, "free");
}

/* "vCPUs 3 of 8 allocated (ratio 4.0)", "memory 1.0 GiB of 20.0 GiB
 * allocated (ratio 1.0, 2.0 GiB reserved)" and the VMs counted. */
static void show_capacity(FILE *f, json_t *cap, json_t *alloc)
{
	char a[32], b[32], r[32], res[32];
	const char *used, *of, *ratio, *reserved;
	json_t *vms = json_object_get(alloc, "vms");

	if (!json_is_object(cap) && !json_is_object(alloc))
		return;
	fputs("capacity:\n", f);
	used = vcpus_text(json_object_get(alloc, "vcpus"), a, sizeof(a));
	of = vcpus_text(json_object_get(cap, "vcpus"), b, sizeof(b));
	ratio = ratio_text(json_object_get(cap, "cpu_ratio"), r, sizeof(r));
	if (used && of)
		fprintf(f, "  vCPUs %s of %s allocated%s%s%s\n", used, of, ratio ? " (ratio " : "",
			ratio ? ratio : "", ratio ? ")" : "");
	used = gib_text(json_object_get(alloc, "memory"), a, sizeof(a));
	of = gib_text(json_object_get(cap, "memory"), b, sizeof(b));
	ratio = ratio_text(json_object_get(cap, "memory_ratio"), r, sizeof(r));
	reserved = gib_text(json_object_get(cap, "memory_reserved"), res, sizeof(res));
	if (used && of) {
		fprintf(f, "  memory %s of %s allocated", used, of);
		if (ratio && reserved)
			fprintf(f, " (ratio %s, %s reserved)", ratio, reserved);
		else if (ratio || reserved)
			fprintf(f, " (%s%s%s)", ratio ? "ratio " : "", ratio ? ratio : reserved,
				ratio ? "" : " reserved");
		fputc('\n', f);
	}
	if (json_is_integer(vms))
		fprintf(f, "  %" JSON_INTEGER_FORMAT " VM%s running or suspended\n",
			json_integer_value(vms), json_integer_value(vms) == 1 ? "" : "s");
}

void view_host(FILE *f, json_t *host)
{
	json_t *accel = json_object_get(host, "accel");
	json_t *vms = json_object_get(host, "vms");
	const char *kind = json_string_value(json_object_get(accel, "kind"));
	const char *reason = json_string_value(json_object_get(accel, "reason"));
	char buf[64], a[32], b[32];

	line(f, "version", field_text(host, "version", NULL, 0));
	line(f, "hostname", field_text(host, "hostname", NULL, 0));
	line(f, "cpus", field_text(host, "cpus", buf, sizeof(buf)));
	if (json_object_get(host, "memory"))
		line(f, "memory", view_memory(json_object_get(host, "memory"), buf, sizeof(buf)));
	if (kind && reason && *reason)
		fprintf(f, "accel: %s (%s)\n", kind, reason);
	else
		line(f, "accel", kind);
	if (json_is_object(vms))
		fprintf(f, "vms: %s defined, %s active\n",
			or_dash(field_text(vms, "defined", a, sizeof(a))),
			or_dash(field_text(vms, "active", b, sizeof(b))));
	show_inventory(f, json_object_get(host, "inventory"));
	show_capacity(f, json_object_get(host, "capacity"), json_object_get(host, "allocated"));
	line(f, "cgroups", field_text(host, "cgroups", NULL, 0));
	/* null is a daemon that found no config file and runs on its defaults. */
	if (json_is_null(json_object_get(host, "config")))
		line(f, "config", "none (defaults)");
	else
		line(f, "config", field_text(host, "config", NULL, 0));
}

/* ---- short answers ------------------------------------------------------------ */

/* "NAME: WORD" */
static void name_line(FILE *f, json_t *obj, const char *word)
{
	fprintf(f, "%s: %s\n", or_dash(field_text(obj, "name", NULL, 0)), word);
}

void view_vm_state(FILE *f, json_t *vm)
{
	name_line(f, vm, or_dash(field_text(vm, "state", NULL, 0)));
}

void view_deleted(FILE *f, json_t *reply)
{
	name_line(f, reply, "deleted");
}

/* ---- operations ------------------------------------------------------------- */

/* What a finished operation means to the person who started it:
 * shutdown's success is the VM having stopped. */
void view_operation_line(FILE *f, json_t *op)
{
	const char *vm = field_text(op, "vm", NULL, 0);
	const char *action = field_text(op, "action", NULL, 0);
	const char *status = field_text(op, "status", NULL, 0);

	/* A cluster's operations (evacuate, rebalance) are on no one VM. */
	if (vm)
		fprintf(f, "%s: ", vm);
	if (status && strcmp(status, "running") == 0)
		fprintf(f, "%s running as operation %s\n", action ? action : "action",
			or_dash(field_text(op, "id", NULL, 0)));
	else if (action && strcmp(action, "shutdown") == 0 && status &&
		 strcmp(status, "succeeded") == 0)
		fputs("stopped\n", f);
	else
		fprintf(f, "%s %s\n", action ? action : "action", status ? status : "finished");
}

static const char *bytes_text(json_t *v, char *buf, size_t len)
{
	if (!json_is_integer(v) || json_integer_value(v) < 0)
		return NULL;
	return cli_human_size((uint64_t)json_integer_value(v), buf, len);
}

/* "45.5%, copying disk root, 1.1G of 2.5G": the parts that are known. */
static void show_progress(FILE *f, json_t *progress)
{
	json_t *percent = json_object_get(progress, "percent");
	const char *phase = json_string_value(json_object_get(progress, "phase"));
	char done[32], total[32], details[160];
	const char *d = bytes_text(json_object_get(progress, "done_bytes"), done, sizeof(done));
	const char *t = bytes_text(json_object_get(progress, "total_bytes"), total, sizeof(total));
	const char *sep = "";

	if (!json_is_number(percent) && !(phase && *phase) && !d)
		return;
	fputs("progress: ", f);
	if (json_is_number(percent)) {
		fprintf(f, "%.4g%%", json_number_value(percent));
		sep = ", ";
	}
	if (phase && *phase) {
		fprintf(f, "%s%s", sep, phase);
		sep = ", ";
	}
	if (d)
		fprintf(f, "%s%s%s%s", sep, d, t ? " of " : "", t ? t : "");
	fputc('\n', f);
	if (*progress_details(json_object_get(progress, "details"), details, sizeof(details)))
		line(f, "migration", details);
}

static void show_error(FILE *f, json_t *e)
{
	const char *message = json_string_value(json_object_get(e, "message"));
	const char *field = json_string_value(json_object_get(e, "field"));

	if (!message)
		return;
	if (field && *field)
		fprintf(f, "error: %s (field: %s)\n", message, field);
	else
		fprintf(f, "error: %s\n", message);
}

/* "result: 3 moves, 1 failed": what an evacuate or a rebalance did. */
static void show_moves_count(FILE *f, json_t *moves)
{
	size_t i, failed = 0;
	json_t *move;

	json_array_foreach(moves, i, move)
	{
		if (strcmp(field_text(move, "status", NULL, 0) ?: "", "failed") == 0)
			failed++;
	}
	fprintf(f, "result: %zu move%s", json_array_size(moves),
		json_array_size(moves) == 1 ? "" : "s");
	if (failed)
		fprintf(f, ", %zu failed", failed);
	fputc('\n', f);
}

void view_operation_show(FILE *f, json_t *op)
{
	json_t *cancellable = json_object_get(op, "cancellable");
	json_t *result = json_object_get(op, "result");
	json_t *snapshot = json_object_get(result, "snapshot");
	json_t *vm = json_object_get(result, "vm");
	json_t *migration = json_object_get(result, "migration");

	line(f, "id", field_text(op, "id", NULL, 0));
	line(f, "vm", field_text(op, "vm", NULL, 0));
	line(f, "action", field_text(op, "action", NULL, 0));
	line(f, "status", field_text(op, "status", NULL, 0));
	line(f, "message", field_text(op, "message", NULL, 0));
	show_progress(f, json_object_get(op, "progress"));
	if (json_is_boolean(cancellable))
		line(f, "cancellable", json_is_true(cancellable) ? "yes" : "no");
	line_time(f, "created", json_object_get(op, "created_at"));
	line_time(f, "finished", json_object_get(op, "finished_at"));
	show_error(f, json_object_get(op, "error"));
	if (json_is_object(snapshot))
		fprintf(f, "result: snapshot %s\n", or_dash(field_text(snapshot, "name", NULL, 0)));
	if (json_is_object(vm))
		fprintf(f, "result: vm %s\n", or_dash(field_text(vm, "name", NULL, 0)));
	if (json_is_object(migration)) {
		fputs("result: ", f);
		view_migration_result(f, migration);
	}
	if (json_is_array(json_object_get(result, "moves")))
		show_moves_count(f, json_object_get(result, "moves"));
}

/* ---- snapshots ---------------------------------------------------------------- */

static const char *yes_no(json_t *v)
{
	return json_is_boolean(v) ? (json_is_true(v) ? "yes" : "no") : NULL;
}

void view_snapshot_show(FILE *f, json_t *snap)
{
	char size[32], mem[32], disk[32];
	const char *s = bytes_text(json_object_get(snap, "size"), size, sizeof(size));
	const char *m = bytes_text(json_object_get(snap, "memory_size"), mem, sizeof(mem));
	const char *d = bytes_text(json_object_get(snap, "disk_size"), disk, sizeof(disk));

	line(f, "name", field_text(snap, "name", NULL, 0));
	line(f, "id", field_text(snap, "id", NULL, 0));
	line(f, "parent", field_text(snap, "parent", NULL, 0));
	line_time(f, "created", json_object_get(snap, "created_at"));
	line(f, "memory", yes_no(json_object_get(snap, "memory")));
	line(f, "vm state", field_text(snap, "vm_state", NULL, 0));
	if (s && m && d)
		fprintf(f, "size: %s (memory %s, disk %s)\n", s, m, d);
	else
		line(f, "size", s);
	line(f, "current", yes_no(json_object_get(snap, "current")));
}

/* NAME (drawn as a tree), CREATED, MEMORY, VM STATE, SIZE, CURRENT. */
static void snapshot_row(json_t *snap, const char **cells, char (*bufs)[CELL_MAX])
{
	cells[0] = or_dash(field_text(snap, "name", NULL, 0));
	cells[1] = or_dash(cell_time(json_object_get(snap, "created_at"), bufs[1], CELL_MAX));
	cells[2] = or_dash(yes_no(json_object_get(snap, "memory")));
	cells[3] = or_dash(field_text(snap, "vm_state", NULL, 0));
	cells[4] = or_dash(bytes_text(json_object_get(snap, "size"), bufs[4], CELL_MAX));
	cells[5] = json_is_true(json_object_get(snap, "current")) ? "*" : "";
}

/*
 * Each snapshot's parent as an index into items, -1 for a root. A parent
 * that is not in the list (or a chain that loops, which only a broken
 * answer can hold) makes a root, so that every snapshot is shown once.
 */
static void snapshot_parents(json_t *items, size_t n, long *parent)
{
	for (size_t i = 0; i < n; i++) {
		const char *want = field_text(json_array_get(items, i), "parent", NULL, 0);

		parent[i] = -1;
		for (size_t j = 0; want && j < n; j++) {
			const char *name = field_text(json_array_get(items, j), "name", NULL, 0);

			if (j != i && name && strcmp(want, name) == 0) {
				parent[i] = (long)j;
				break;
			}
		}
	}
	/* Every chain handled so far ends in a root, and only parents of later
	 * ones are cut, so after the loop all of them do. */
	for (size_t i = 0; i < n; i++) {
		long a = parent[i];
		size_t steps = 0;

		while (a >= 0 && steps++ < n)
			a = parent[a];
		if (a >= 0)
			parent[i] = -1;
	}
}

/* Has items[i] no younger sibling? Siblings keep the list's order. */
static bool snapshot_last(const long *parent, size_t n, size_t i)
{
	for (size_t j = i + 1; j < n; j++)
		if (parent[j] == parent[i])
			return false;
	return true;
}

/* "│  └─ s3": a line under each ancestor that has younger siblings, then
 * the branch to the snapshot itself. Roots have no prefix. */
static char *snapshot_tree_name(json_t *snap, const long *parent, size_t n, size_t i)
{
	char *out = NULL;
	size_t len = 0, depth = 0;
	FILE *f = open_memstream(&out, &len);

	if (!f)
		return NULL;
	for (long a = parent[i]; a >= 0; a = parent[a])
		depth++;
	/* From the outermost drawn ancestor (the root's child) inwards. */
	for (size_t level = 1; level <= depth; level++) {
		size_t node = i;

		for (size_t up = depth - level; up > 0; up--)
			node = (size_t)parent[node];
		if (level < depth)
			fputs(snapshot_last(parent, n, node) ? "   " : "│  ", f);
		else
			fputs(snapshot_last(parent, n, node) ? "└─ " : "├─ ", f);
	}
	fputs(or_dash(field_text(snap, "name", NULL, 0)), f);
	if (fclose(f) != 0) {
		free(out);
		return NULL;
	}
	return out;
}

/* The snapshots in tree order (each after its parent, siblings oldest
 * first), with names that draw the tree. */
static json_t *snapshot_tree(json_t *items)
{
	size_t n = json_array_size(items), n_stack = 0;
	_cleanup_free_ long *parent = calloc(n + 1, sizeof(long));
	_cleanup_free_ size_t *stack = calloc(n + 1, sizeof(size_t));
	_cleanup_json_ json_t *rows = json_array();

	if (!parent || !stack || !rows)
		return NULL;
	snapshot_parents(items, n, parent);
	/* Depth first, a stack of the snapshots still to show; children are
	 * pushed youngest first so that the oldest comes out first. */
	for (size_t i = n; i > 0; i--)
		if (parent[i - 1] < 0)
			stack[n_stack++] = i - 1;
	while (n_stack > 0) {
		size_t v = stack[--n_stack];
		json_t *item = json_array_get(items, v);
		_cleanup_json_ json_t *row = json_is_object(item) ? json_copy(item) : json_object();
		_cleanup_free_ char *name = snapshot_tree_name(item, parent, n, v);

		if (!row || !name || json_object_set_new(row, "name", json_string(name)) < 0 ||
		    json_array_append(rows, row) < 0)
			return NULL;
		for (size_t j = n; j > 0; j--)
			if (parent[j - 1] == (long)v)
				stack[n_stack++] = j - 1;
	}
	return TAKE_PTR(rows);
}

void view_snapshot_list(FILE *f, json_t *reply)
{
	static const char *const headers[] = {"NAME",	  "CREATED", "MEMORY",
					      "VM STATE", "SIZE",    "CURRENT"};
	_cleanup_json_ json_t *rows = snapshot_tree(json_object_get(reply, "snapshots"));

	view_table(f, rows, headers, ARRAY_SIZE(headers), snapshot_row);
}

/* ---- migrations ---------------------------------------------------------------- */

/* A span of ms of the migration's result; NULL unless a whole number >= 0. */
static const char *ms_text(json_t *v, char *buf, size_t len)
{
	if (!json_is_integer(v) || json_integer_value(v) < 0)
		return NULL;
	return cli_human_ms((uint64_t)json_integer_value(v), buf, len);
}

void view_migration_result(FILE *f, json_t *m)
{
	const char *mode = field_text(m, "mode", NULL, 0);
	const char *storage = field_text(m, "storage", NULL, 0);
	char total[32], downtime[32];
	const char *t = ms_text(json_object_get(m, "total_ms"), total, sizeof(total));
	const char *d = ms_text(json_object_get(m, "downtime_ms"), downtime, sizeof(downtime));

	fprintf(f, "migrated %s to %s", or_dash(field_text(m, "vm", NULL, 0)),
		or_dash(field_text(m, "to", NULL, 0)));
	if (mode && storage)
		fprintf(f, " (%s, %s storage)", mode, storage);
	else if (mode || storage)
		fprintf(f, " (%s%s)", mode ? mode : storage, mode ? "" : " storage");
	if (t)
		fprintf(f, " in %s", t);
	if (d)
		fprintf(f, ", downtime %s", d);
	fputc('\n', f);
}

/* ID ROLE VM PEER PHASE MODE STORAGE STARTED. */
static void migration_row(json_t *m, const char **cells, char (*bufs)[CELL_MAX])
{
	cells[0] = or_dash(field_text(m, "id", NULL, 0));
	cells[1] = or_dash(field_text(m, "role", NULL, 0));
	cells[2] = or_dash(field_text(m, "vm", NULL, 0));
	cells[3] = or_dash(field_text(m, "peer", NULL, 0));
	cells[4] = or_dash(field_text(m, "phase", NULL, 0));
	cells[5] = or_dash(field_text(m, "mode", NULL, 0));
	cells[6] = or_dash(field_text(m, "storage", NULL, 0));
	cells[7] = or_dash(cell_time(json_object_get(m, "started_at"), bufs[7], CELL_MAX));
}

void view_migration_list(FILE *f, json_t *reply)
{
	static const char *const headers[] = {"ID",    "ROLE", "VM",	  "PEER",
					      "PHASE", "MODE", "STORAGE", "STARTED"};

	view_table(f, json_object_get(reply, "migrations"), headers, ARRAY_SIZE(headers),
		   migration_row);
}

/* ---- the cluster ---------------------------------------------------------------- */

void view_cluster_config(FILE *f, json_t *config)
{
	json_t *weights = json_object_get(config, "weights");
	char buf[32];

	line(f, "strategy", field_text(config, "strategy", NULL, 0));
	/* "weights: memory=1 vcpus=0 load=0", as cluster config sets them. */
	if (json_is_object(weights)) {
		fputs("weights:", f);
		item(f, "memory", json_object_get(weights, "memory"));
		item(f, "vcpus", json_object_get(weights, "vcpus"));
		item(f, "load", json_object_get(weights, "load"));
		fputc('\n', f);
	}
	line(f, "rebalance threshold",
	     number_text(json_object_get(config, "rebalance_threshold"), buf, sizeof(buf)));
}

void view_cluster(FILE *f, json_t *cluster)
{
	const char *state = field_text(cluster, "state", NULL, 0);
	const char *address = field_text(cluster, "address", NULL, 0);
	const char *token = field_text(cluster, "token", NULL, 0);
	json_t *etcd = json_object_get(cluster, "etcd");
	json_t *ttl = json_object_get(cluster, "ttl_s");
	json_t *config = json_object_get(cluster, "config");
	char buf[64];
	size_t i;
	json_t *url;

	line(f, "enabled", yes_no(json_object_get(cluster, "enabled")));
	if (state && strcmp(state, "lost") == 0)
		line(f, "state",
		     "lost (etcd unreachable longer than the lease: changes are refused)");
	else
		line(f, "state", state);
	line(f, "member", field_text(cluster, "member", NULL, 0));
	line(f, "address", address);
	if (json_array_size(etcd) > 0) {
		fputs("etcd:", f);
		json_array_foreach(etcd, i, url)
		    fprintf(f, "%s%s", i ? ", " : " ", or_dash(json_string_value(url)));
		fputc('\n', f);
	}
	if (json_is_integer(ttl) && json_integer_value(ttl) >= 0)
		line(f, "lease ttl",
		     cli_human_uptime((uint64_t)json_integer_value(ttl), buf, sizeof(buf)));
	if (json_is_object(config))
		view_cluster_config(f, config);
	/* Only an init answers the token, and the daemon shows it only then. */
	if (token)
		fprintf(f,
			"token: %s\n\nKeep the token: it is not shown again. Other hosts join "
			"with\n  warren cluster join %s --token %s\n",
			token, address ? address : "ADDRESS", token);
}

/* "a*": the member warren talks to is marked. */
static const char *member_name(json_t *m, char *buf, size_t len)
{
	const char *name = or_dash(field_text(m, "name", NULL, 0));

	if (!json_is_true(json_object_get(m, "self")))
		return name;
	snprintf(buf, len, "%s*", name);
	return buf;
}

/* "2/8 cpu, 256M/1G": what VMs take of the member's capacity, the parts
 * that are known. */
static const char *member_allocated(json_t *m, char *buf, size_t len)
{
	json_t *cap = json_object_get(m, "capacity"), *alloc = json_object_get(m, "allocated");
	char a[32], b[32], c[32], d[32];
	const char *used_cpu = vcpus_text(json_object_get(alloc, "vcpus"), a, sizeof(a));
	const char *cap_cpu = vcpus_text(json_object_get(cap, "vcpus"), b, sizeof(b));
	const char *used_mem = bytes_text(json_object_get(alloc, "memory"), c, sizeof(c));
	const char *cap_mem = bytes_text(json_object_get(cap, "memory"), d, sizeof(d));
	bool cpu = used_cpu && cap_cpu, mem = used_mem && cap_mem;

	if (cpu && mem)
		snprintf(buf, len, "%s/%s cpu, %s/%s", used_cpu, cap_cpu, used_mem, cap_mem);
	else if (cpu)
		snprintf(buf, len, "%s/%s cpu", used_cpu, cap_cpu);
	else if (mem)
		snprintf(buf, len, "%s/%s", used_mem, cap_mem);
	else
		return NULL;
	return buf;
}

/* The host's CPU load, a fraction, as a percent: "12%". */
static const char *percent_text(json_t *v, char *buf, size_t len)
{
	if (!json_is_number(v))
		return NULL;
	snprintf(buf, len, "%.0f%%", json_number_value(v) * 100);
	return buf;
}

/* NAME ADDRESS STATE CPUS MEMORY ALLOCATED LOAD VMS HEARTBEAT; the
 * heartbeat is already an age (view_cluster_members_at). */
static void member_row(json_t *m, const char **cells, char (*bufs)[CELL_MAX])
{
	json_t *cap = json_object_get(m, "capacity"), *alloc = json_object_get(m, "allocated");

	cells[0] = member_name(m, bufs[0], CELL_MAX);
	cells[1] = or_dash(field_text(m, "address", NULL, 0));
	cells[2] = or_dash(field_text(m, "state", NULL, 0));
	cells[3] = or_dash(vcpus_text(json_object_get(cap, "vcpus"), bufs[3], CELL_MAX));
	cells[4] = or_dash(bytes_text(json_object_get(cap, "memory"), bufs[4], CELL_MAX));
	cells[5] = or_dash(member_allocated(m, bufs[5], CELL_MAX));
	cells[6] = or_dash(percent_text(json_object_get(m, "load"), bufs[6], CELL_MAX));
	cells[7] = or_dash(field_text(alloc, "vms", bufs[7], CELL_MAX));
	cells[8] = or_dash(field_text(m, "last_heartbeat", NULL, 0));
}

/* "1s ago", "3m12s ago"; "never" for null; NULL when it is not a time. A
 * heartbeat ahead of this host's clock is taken as now. */
static const char *heartbeat_age(json_t *v, int64_t now_ms, char *buf, size_t len)
{
	char age[32];
	int64_t t;

	if (json_is_null(v))
		return "never";
	if (cli_parse_time(json_string_value(v), &t) < 0)
		return NULL;
	cli_human_uptime(now_ms > t ? (uint64_t)(now_ms - t) / 1000 : 0, age, sizeof(age));
	snprintf(buf, len, "%s ago", age);
	return buf;
}

void view_cluster_members_at(FILE *f, json_t *reply, int64_t now_ms)
{
	static const char *const headers[] = {"NAME",	   "ADDRESS", "STATE", "CPUS",	   "MEMORY",
					      "ALLOCATED", "LOAD",    "VMS",   "HEARTBEAT"};
	/* A copy whose heartbeats are ages: a row sees only its member. */
	_cleanup_json_ json_t *rows = json_deep_copy(json_object_get(reply, "members"));
	size_t i;
	json_t *m;

	json_array_foreach(rows, i, m)
	{
		char buf[64];
		const char *age =
		    heartbeat_age(json_object_get(m, "last_heartbeat"), now_ms, buf, sizeof(buf));

		json_object_set_new(m, "last_heartbeat", age ? json_string(age) : json_null());
	}
	view_table(f, rows, headers, ARRAY_SIZE(headers), member_row);
}

void view_cluster_members(FILE *f, json_t *reply)
{
	view_cluster_members_at(f, reply, (int64_t)now_realtime_ms());
}

void view_member_removed(FILE *f, json_t *reply)
{
	name_line(f, reply, "removed from the cluster");
}

/* VM FROM TO: cells 0 to 2 of a move. */
static void move_cells(json_t *move, const char **cells)
{
	cells[0] = or_dash(field_text(move, "vm", NULL, 0));
	cells[1] = or_dash(field_text(move, "from", NULL, 0));
	cells[2] = or_dash(field_text(move, "to", NULL, 0));
}

/* A planned move and the memory it carries. */
static void move_plan_row(json_t *move, const char **cells, char (*bufs)[CELL_MAX])
{
	move_cells(move, cells);
	cells[3] = or_dash(bytes_text(json_object_get(move, "memory"), bufs[3], CELL_MAX));
}

/* A move made, or tried: "failed: no capacity on a". */
static void move_done_row(json_t *move, const char **cells, char (*bufs)[CELL_MAX])
{
	const char *status = or_dash(field_text(move, "status", NULL, 0));
	const char *error = field_text(move, "error", NULL, 0);

	move_cells(move, cells);
	cells[3] = status;
	if (error && *error) {
		snprintf(bufs[3], CELL_MAX, "%s: %s", status, error);
		cells[3] = bufs[3];
	}
}

void view_cluster_moves(FILE *f, json_t *result)
{
	static const char *const plan_headers[] = {"VM", "FROM", "TO", "MEMORY"};
	static const char *const done_headers[] = {"VM", "FROM", "TO", "STATUS"};
	json_t *moves = json_object_get(result, "moves");
	json_t *before = json_object_get(result, "spread_before");
	json_t *after = json_object_get(result, "spread_after");
	json_t *threshold = json_object_get(result, "threshold");
	bool done = false;
	size_t i;
	json_t *move;

	json_array_foreach(moves, i, move) done = done || json_object_get(move, "status");
	if (json_array_size(moves) == 0)
		fputs("no VMs to move\n", f);
	else if (done)
		view_table(f, moves, done_headers, ARRAY_SIZE(done_headers), move_done_row);
	else
		view_table(f, moves, plan_headers, ARRAY_SIZE(plan_headers), move_plan_row);
	/* The spread is the gap between the fullest and the emptiest member. */
	if (json_is_number(before) && json_is_number(after)) {
		fprintf(f, "spread: %.2f before, %.2f after", json_number_value(before),
			json_number_value(after));
		if (json_is_number(threshold))
			fprintf(f, " (threshold %.2f)", json_number_value(threshold));
		fputc('\n', f);
	}
}

/* MEMBER RESULT SCORE REASON; RESULT was worked out beforehand (placement_rows). */
static void placement_row(json_t *m, const char **cells, char (*bufs)[CELL_MAX])
{
	cells[0] = or_dash(field_text(m, "name", NULL, 0));
	cells[1] = or_dash(field_text(m, "result", NULL, 0));
	cells[2] = or_dash(number_text(json_object_get(m, "score"), bufs[2], CELL_MAX));
	cells[3] = or_dash(field_text(m, "reason", NULL, 0));
}

/* The members of a placement, each with its "result": "chosen",
 * "eligible" or "filtered: capacity". */
static json_t *placement_rows(json_t *placement)
{
	const char *chosen = field_text(placement, "chosen", NULL, 0);
	json_t *rows = json_deep_copy(json_object_get(placement, "members"));
	size_t i;
	json_t *m;

	json_array_foreach(rows, i, m)
	{
		const char *name = field_text(m, "name", NULL, 0);
		const char *filter = field_text(m, "filter", NULL, 0);
		char result[CELL_MAX];

		if (chosen && name && strcmp(name, chosen) == 0)
			snprintf(result, sizeof(result), "chosen");
		else if (json_is_true(json_object_get(m, "eligible")))
			snprintf(result, sizeof(result), "eligible");
		else
			snprintf(result, sizeof(result), "filtered%s%s", filter ? ": " : "",
				 filter ? filter : "");
		json_object_set_new(m, "result", json_string(result));
	}
	return rows;
}

void view_vm_created(FILE *f, json_t *vm)
{
	static const char *const headers[] = {"MEMBER", "RESULT", "SCORE", "REASON"};
	_cleanup_json_ json_t *rows = placement_rows(json_object_get(vm, "placement"));

	view_vm_show(f, vm);
	if (json_array_size(rows) > 0) {
		fputs("placement:\n", f);
		view_table_indented(f, rows, headers, ARRAY_SIZE(headers), placement_row);
	}
}
