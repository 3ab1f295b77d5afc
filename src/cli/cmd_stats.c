/*
 * cmd_stats: what the daemon measures. `stats` shows one VM's history,
 * `top` a live table of every VM, `host log-level` changes how much the
 * daemon logs while it runs.
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"

static double num(json_t *v)
{
	return json_is_number(v) ? json_number_value(v) : -1.0;
}

static const char *pct_cell(json_t *v, char *buf, size_t len)
{
	if (!json_is_number(v))
		return "-";
	snprintf(buf, len, "%.1f", json_number_value(v));
	return buf;
}

static const char *rate_cell(double bytes_per_s, char *buf, size_t len)
{
	char size[32];

	if (bytes_per_s < 0)
		return "-";
	snprintf(buf, len, "%s/s", cli_human_size((uint64_t)bytes_per_s, size, sizeof(size)));
	return buf;
}

/* Sum of one rate over every disk of a sample; -1 if no rates yet. */
static double disks_rate(json_t *sample, const char *key)
{
	json_t *disk;
	size_t i;
	double sum = 0;
	bool any = false;

	json_array_foreach(json_object_get(sample, "disks"), i, disk) {
		json_t *v = json_object_get(disk, key);
		if (json_is_number(v)) {
			sum += json_number_value(v);
			any = true;
		}
	}
	return any ? sum : -1.0;
}

/* ---- stats ------------------------------------------------------------- */

static void view_stats(FILE *f, json_t *reply)
{
	static const char *const headers[] = {"TIME", "CPU%", "VCPU%", "RSS", "DISK-READ",
					      "DISK-WRITE"};
	struct cli_table t;
	json_t *s;
	size_t i;

	fprintf(f, "%s: %s, sampled every %.0f s\n",
		json_string_value(json_object_get(reply, "name")),
		json_string_value(json_object_get(reply, "state")),
		num(json_object_get(reply, "interval_seconds")));
	if (cli_table_init(&t, ARRAY_SIZE(headers), headers) < 0)
		return;
	json_array_foreach(json_object_get(reply, "samples"), i, s) {
		char when[32], cpu[32], vcpus[128] = "", rss[32], rd[48], wr[48];
		time_t secs = (time_t)(json_integer_value(json_object_get(s, "time_ms")) / 1000);
		struct tm tm;
		json_t *v;
		size_t k;

		strftime(when, sizeof(when), "%H:%M:%S", localtime_r(&secs, &tm));
		json_array_foreach(json_object_get(s, "vcpus"), k, v) {
			char one[32];
			size_t used = strlen(vcpus);
			pct_cell(json_object_get(v, "percent"), one, sizeof(one));
			snprintf(vcpus + used, sizeof(vcpus) - used, "%s%s", k ? "/" : "",
				 json_is_number(json_object_get(v, "percent")) ? one : "-");
		}
		cli_table_cell(&t, when);
		cli_table_cell(&t, pct_cell(json_object_get(s, "cpu_percent"), cpu, sizeof(cpu)));
		cli_table_cell(&t, vcpus[0] ? vcpus : "-");
		cli_table_cell(&t, cli_human_size((uint64_t)json_integer_value(
							  json_object_get(s, "rss_bytes")),
						  rss, sizeof(rss)));
		cli_table_cell(&t, rate_cell(disks_rate(s, "read_bytes_per_second"), rd, sizeof(rd)));
		cli_table_cell(&t, rate_cell(disks_rate(s, "write_bytes_per_second"), wr, sizeof(wr)));
	}
	cli_table_print(&t, f);
	cli_table_clear(&t);
}

int cmd_stats(struct cli *c)
{
	_cleanup_free_ char *base = api_vm_path(c->args.pos[0], "/stats");
	_cleanup_free_ char *path = NULL;
	const char *since = cli_opt_get(&c->args, "since");
	uint64_t since_ms = 0, ago;

	if (since) {
		if (cli_parse_duration_ms(since, &ago) < 0)
			return cli_usage_error(c, "--since takes a duration like 30s, 10m or 1h, "
						  "not '%s'", since);
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		uint64_t now = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
		since_ms = ago < now ? now - ago : 0;
	}
	if (!base || asprintf(&path, "%s?fresh=true&since=%llu", base,
			      (unsigned long long)since_ms) < 0) {
		struct werr err;
		werr_set(&err, -ENOMEM, "internal", "", "out of memory");
		return cli_fail(&err);
	}
	return cli_request_print(c, "GET", path, view_stats);
}

/* ---- top --------------------------------------------------------------- */

struct top_row {
	json_t *vm;
	double cpu, rss, rd, wr;
};

static const char *sort_key = "cpu";

static int row_cmp(const void *a, const void *b)
{
	const struct top_row *x = a, *y = b;
	double dx, dy;

	if (strcmp(sort_key, "name") == 0)
		return strcmp(json_string_value(json_object_get(x->vm, "name")),
			      json_string_value(json_object_get(y->vm, "name")));
	dx = strcmp(sort_key, "mem") == 0 ? x->rss : strcmp(sort_key, "disk") == 0 ? x->rd + x->wr
										   : x->cpu;
	dy = strcmp(sort_key, "mem") == 0 ? y->rss : strcmp(sort_key, "disk") == 0 ? y->rd + y->wr
										   : y->cpu;
	return dx < dy ? 1 : dx > dy ? -1 : 0; /* largest first */
}

static void view_top(FILE *f, json_t *reply)
{
	static const char *const headers[] = {"NAME",	  "STATE",     "CPUS",	     "CPU%",
					      "RSS",	  "DISK-READ", "DISK-WRITE", "NET"};
	json_t *vms = json_object_get(reply, "vms"), *vm;
	size_t n = json_array_size(vms), i;
	struct top_row *rows = calloc(n ? n : 1, sizeof(*rows));
	struct cli_table t;

	if (!rows || cli_table_init(&t, ARRAY_SIZE(headers), headers) < 0) {
		free(rows);
		return;
	}
	json_array_foreach(vms, i, vm) {
		json_t *s = json_object_get(vm, "sample");
		rows[i] = (struct top_row){
			.vm = vm,
			.cpu = num(json_object_get(s, "cpu_percent")),
			.rss = num(json_object_get(s, "rss_bytes")),
			.rd = disks_rate(s, "read_bytes_per_second"),
			.wr = disks_rate(s, "write_bytes_per_second"),
		};
	}
	qsort(rows, n, sizeof(*rows), row_cmp);
	for (i = 0; i < n; i++) {
		json_t *s = json_object_get(rows[i].vm, "sample");
		char cpus[16], cpu[32], rss[32], rd[48], wr[48];
		snprintf(cpus, sizeof(cpus), "%lld",
			 (long long)json_integer_value(json_object_get(rows[i].vm, "cpus")));
		cli_table_cell(&t, json_string_value(json_object_get(rows[i].vm, "name")));
		cli_table_cell(&t, json_string_value(json_object_get(rows[i].vm, "state")));
		cli_table_cell(&t, cpus);
		cli_table_cell(&t, pct_cell(json_object_get(s, "cpu_percent"), cpu, sizeof(cpu)));
		cli_table_cell(&t, json_is_object(s) && rows[i].rss >= 0
					   ? cli_human_size((uint64_t)rows[i].rss, rss, sizeof(rss))
					   : "-");
		cli_table_cell(&t, rate_cell(rows[i].rd, rd, sizeof(rd)));
		cli_table_cell(&t, rate_cell(rows[i].wr, wr, sizeof(wr)));
		cli_table_cell(&t, "-"); /* VMs have no network adapters yet */
	}
	cli_table_print(&t, f);
	cli_table_clear(&t);
	free(rows);
}

static volatile sig_atomic_t top_stop;

static void on_top_signal(int sig)
{
	top_stop = 1;
}

int cmd_top(struct cli *c)
{
	const char *sort = cli_opt_get(&c->args, "sort");
	bool live = !cli_opt_has(&c->args, "once") && c->format == CLI_FORMAT_TABLE &&
		    isatty(STDOUT_FILENO);

	if (sort) {
		if (strcmp(sort, "cpu") != 0 && strcmp(sort, "mem") != 0 &&
		    strcmp(sort, "disk") != 0 && strcmp(sort, "name") != 0)
			return cli_usage_error(c, "--sort takes cpu, mem, disk or name, not '%s'",
					       sort);
		sort_key = sort;
	}
	if (!live)
		return cli_request_print(c, "GET", "/v1/stats?fresh=true", view_top);
	signal(SIGINT, on_top_signal);
	signal(SIGTERM, on_top_signal);
	while (!top_stop) {
		_cleanup_json_ json_t *reply = NULL;
		struct werr err = {0};
		if (api_call(c, "GET", "/v1/stats?fresh=true", NULL, NULL, &reply, &err) < 0)
			return cli_fail(&err);
		fputs("\033[H\033[2J", stdout);
		view_top(stdout, reply);
		fflush(stdout);
		sleep(1);
	}
	return CLI_EXIT_OK;
}

/* ---- host log-level ------------------------------------------------------ */

static void view_level(FILE *f, json_t *reply)
{
	fprintf(f, "log level: %s\n", json_string_value(json_object_get(reply, "level")));
}

int cmd_host_log_level(struct cli *c)
{
	_cleanup_json_ json_t *body = json_pack("{s:s}", "level", c->args.pos[0]);
	_cleanup_json_ json_t *reply = NULL;
	struct werr err = {0};

	if (!body) {
		werr_set(&err, -ENOMEM, "internal", "", "out of memory");
		return cli_fail(&err);
	}
	if (api_call(c, "POST", "/v1/host/log-level", body, NULL, &reply, &err) < 0)
		return cli_fail(&err);
	return cli_print(c, reply, view_level);
}
