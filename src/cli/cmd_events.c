/*
 * cmd_events: the event history (one GET) or, with --follow, the live
 * stream of events, which warrend sends as one JSON object per line.
 */
#include <string.h>

#include "cli/cli.h"

/* Bound on one event line; events are small, a longer line is garbage. */
#define EVENT_LINE_MAX (1u << 20)

struct follow {
	const struct cli *c;
	struct cli_buf pending; /* the start of a line not yet complete */
};

static void follow_line(struct follow *fw, const char *line, size_t len)
{
	_cleanup_json_ json_t *ev = NULL;
	json_error_t jerr;

	while (len > 0 && (line[len - 1] == '\r' || line[len - 1] == ' '))
		len--;
	if (len == 0)
		return; /* keep-alive */
	if (fw->c->format == CLI_FORMAT_JSON) {
		/* The line as the daemon sent it: already one JSON object. */
		fwrite(line, 1, len, stdout);
		putchar('\n');
	} else if (!(ev = json_loadb(line, len, 0, &jerr))) {
		fprintf(stderr, "warren: skipping an event that is not JSON: %s\n", jerr.text);
	} else if (fw->c->format == CLI_FORMAT_YAML) {
		fputs("---\n", stdout); /* one document per event */
		cli_yaml_emit(stdout, ev);
	} else {
		view_event_line(stdout, ev);
	}
	/* Someone is watching, or a pipe is: each event now, not at exit. */
	fflush(stdout);
}

static int follow_data(void *userdata, const char *data, size_t len)
{
	struct follow *fw = userdata;
	struct cli_buf *b = &fw->pending;
	size_t start = 0;
	int r;

	r = cli_buf_append(b, data, len, EVENT_LINE_MAX);
	if (r < 0)
		return r;
	for (size_t i = 0; i < b->len; i++)
		if (b->data[i] == '\n') {
			follow_line(fw, b->data + start, i - start);
			start = i + 1;
		}
	memmove(b->data, b->data + start, b->len - start);
	b->len -= start;
	return 0;
}

/* The query from the options; -EINVAL after a usage error was printed. */
static int events_path(struct cli *c, char **ret)
{
	const char *vm = cli_opt_get(&c->args, "vm");
	const char *since = cli_opt_get(&c->args, "since");
	const char *limit = cli_opt_get(&c->args, "limit");
	_cleanup_curl_free_ char *vm_esc = vm ? api_escape(vm) : NULL;
	uint64_t since_ms = 0, limit_n = 0, dur;
	char *path = NULL;
	size_t size = 0;
	FILE *f;

	if (since) {
		uint64_t now = now_realtime_ms();

		if (cli_parse_duration_ms(since, &dur) < 0) {
			cli_usage_error(c, "--since takes a duration like 30s, 10m or 1h, not '%s'",
					since);
			return -EINVAL;
		}
		since_ms = dur < now ? now - dur : 0;
	}
	if (limit && (cli_parse_uint(limit, UINT32_MAX, &limit_n) < 0 || limit_n == 0)) {
		cli_usage_error(c, "--limit takes a positive whole number, not '%s'", limit);
		return -EINVAL;
	}
	if ((vm && !vm_esc) || !(f = open_memstream(&path, &size)))
		return -ENOMEM;
	fprintf(f, "/v1/events?follow=%s", cli_opt_has(&c->args, "follow") ? "true" : "false");
	if (vm)
		fprintf(f, "&vm=%s", vm_esc);
	if (since)
		fprintf(f, "&since=%llu", (unsigned long long)since_ms);
	if (limit)
		fprintf(f, "&limit=%llu", (unsigned long long)limit_n);
	if (fclose(f) != 0) {
		free(path);
		return -ENOMEM;
	}
	*ret = path;
	return 0;
}

int cmd_events(struct cli *c)
{
	_cleanup_free_ char *path = NULL;
	struct werr err = {0};
	struct follow fw = {.c = c};
	int r;

	r = events_path(c, &path);
	if (r < 0)
		return r == -EINVAL ? CLI_EXIT_USAGE : cli_fail(&err);
	if (!cli_opt_has(&c->args, "follow"))
		return cli_request_print(c, "GET", path, view_events);
	r = api_stream(c, path, follow_data, &fw, &err);
	free(fw.pending.data);
	if (r < 0)
		return cli_fail(&err);
	/* Only a stopping daemon ends the stream; the events stop with it. */
	werr_set(&err, -EPIPE, "unavailable", "", "warrend ended the event stream");
	return cli_fail(&err);
}
