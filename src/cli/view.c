/*
 * view: the table form of the API's objects (VMs, events, the host).
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

#define CELL_MAX 256

/* Fills a row's cells; a cell may point into bufs[its column]. */
typedef void row_fn(json_t *item, const char **cells, char (*bufs)[CELL_MAX]);

/* A table of an array of API objects, a row each. */
static void view_table(FILE *f, json_t *items, const char *const *headers, size_t n_cols,
		       row_fn *row)
{
	struct cli_table t;
	size_t i;
	json_t *item;

	if (n_cols > 8 || cli_table_init(&t, n_cols, headers) < 0)
		return;
	json_array_foreach(items, i, item)
	{
		const char *cells[8];
		char bufs[8][CELL_MAX];

		row(item, cells, bufs);
		for (size_t col = 0; col < n_cols; col++)
			if (cli_table_cell(&t, cells[col]) < 0)
				goto out;
	}
	cli_table_print(&t, f);
out:
	cli_table_clear(&t);
}

static void vm_row(json_t *vm, const char **cells, char (*bufs)[CELL_MAX])
{
	cells[0] = or_dash(field_text(vm, "name", NULL, 0));
	cells[1] = or_dash(field_text(vm, "state", NULL, 0));
	cells[2] = or_dash(field_text(vm, "cpus", bufs[2], CELL_MAX));
	cells[3] = view_memory(json_object_get(vm, "memory"), bufs[3], CELL_MAX);
	cells[4] = or_dash(vm_uptime(vm, bufs[4], CELL_MAX));
}

void view_vm_list(FILE *f, json_t *reply)
{
	static const char *const headers[] = {"NAME", "STATE", "CPUS", "MEMORY", "UPTIME"};

	view_table(f, json_object_get(reply, "vms"), headers, ARRAY_SIZE(headers), vm_row);
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

static void show_disk(FILE *f, json_t *disk)
{
	char buf[32];
	json_t *size = json_object_get(disk, "size");
	const char *image = json_string_value(json_object_get(disk, "image"));
	const char *bus = json_string_value(json_object_get(disk, "bus"));

	fprintf(f, "  %s:", or_dash(json_string_value(json_object_get(disk, "name"))));
	if (json_is_integer(size) || json_is_string(size))
		fprintf(f, " size=%s", view_memory(size, buf, sizeof(buf)));
	if (bus)
		fprintf(f, " bus=%s", bus);
	if (image)
		fprintf(f, " image=%s", image);
	if (json_is_true(json_object_get(disk, "readonly")))
		fputs(" readonly", f);
	fputc('\n', f);
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
	const char *crash = json_string_value(json_object_get(json_object_get(vm, "crash"), "log"));
	char buf[64];

	line(f, "name", field_text(vm, "name", NULL, 0));
	line(f, "id", field_text(vm, "id", NULL, 0));
	line(f, "state", field_text(vm, "state", NULL, 0));
	line(f, "cpus", field_text(vm, "cpus", buf, sizeof(buf)));
	line(f, "memory", view_memory(json_object_get(vm, "memory"), buf, sizeof(buf)));
	line(f, "uptime", vm_uptime(vm, buf, sizeof(buf)));
	if (json_is_integer(pid) && json_integer_value(pid) > 0)
		line(f, "pid", scalar_text(pid, buf, sizeof(buf)));
	line_time(f, "created", json_object_get(vm, "created_at"));
	line_time(f, "started", json_object_get(vm, "started_at"));
	line(f, "kernel", field_text(spec, "kernel", NULL, 0));
	line(f, "initrd", field_text(spec, "initrd", NULL, 0));
	line(f, "cmdline", field_text(spec, "cmdline", NULL, 0));
	if (json_is_boolean(serial))
		line(f, "serial", json_is_true(serial) ? "on" : "off");
	if (json_array_size(disks) > 0) {
		size_t i;
		json_t *disk;

		fputs("disks:\n", f);
		json_array_foreach(disks, i, disk) show_disk(f, disk);
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
}
