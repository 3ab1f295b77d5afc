/*
 * metrics_tcp: the Prometheus scrape endpoint on a TCP address, for a
 * Prometheus server that cannot reach the Unix socket.
 *
 * It serves GET /metrics (and /v1/metrics) and nothing else: the full API
 * never leaves the Unix socket, whose permissions decide who may manage
 * VMs. The listener binds only the address the operator names.
 */
#include <string.h>

#include <event2/buffer.h>
#include <event2/http.h>

#include "api/api.h"

struct metrics_tcp {
	struct evhttp *http;
	struct daemon *daemon;
};

/* daemon_metrics answers synchronously, so the reply can live on the stack. */
struct tcp_reply {
	struct reply r;
	struct evhttp_request *req;
};

static void tcp_send_raw(struct reply *r, const char *type, const void *buf, size_t len)
{
	struct tcp_reply *t = (struct tcp_reply *)r;
	struct evbuffer *out = evbuffer_new();

	evhttp_add_header(evhttp_request_get_output_headers(t->req), "Content-Type", type);
	if (out)
		evbuffer_add(out, buf, len);
	evhttp_send_reply(t->req, out ? 200 : 500, out ? "OK" : "Internal Server Error", out);
	if (out)
		evbuffer_free(out);
}

static void tcp_send_json(struct reply *r, int status, json_t *body, const struct werr *err)
{
	struct tcp_reply *t = (struct tcp_reply *)r;

	json_decref(body);
	evhttp_send_error(t->req, 500, err ? err->message : "unexpected answer");
}

static void on_request(struct evhttp_request *req, void *arg)
{
	struct metrics_tcp *m = arg;
	const char *path = evhttp_uri_get_path(evhttp_request_get_evhttp_uri(req));
	struct tcp_reply t = {.r = {.send_json = tcp_send_json, .send_raw = tcp_send_raw}, .req = req};

	if (!path || (strcmp(path, "/metrics") != 0 && strcmp(path, "/v1/metrics") != 0)) {
		evhttp_send_error(req, 404, "only /metrics is served here");
		return;
	}
	if (evhttp_request_get_command(req) != EVHTTP_REQ_GET) {
		evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", "GET");
		evhttp_send_error(req, 405, "only GET");
		return;
	}
	daemon_metrics(m->daemon, &t.r);
}

int api_metrics_listen(struct event_base *base, struct daemon *d, const char *addr,
		       struct metrics_tcp **ret)
{
	_cleanup_free_ char *host = NULL;
	const char *colon = strrchr(addr, ':');
	char *end;
	unsigned long port;
	struct metrics_tcp *m;

	if (!colon || colon == addr)
		return -EINVAL;
	port = strtoul(colon + 1, &end, 10);
	if (*end || colon[1] == '\0' || port > 65535)
		return -EINVAL;
	host = strndup(addr, (size_t)(colon - addr));
	if (!host)
		return -ENOMEM;
	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->daemon = d;
	m->http = evhttp_new(base);
	if (!m->http) {
		free(m);
		return -ENOMEM;
	}
	evhttp_set_allowed_methods(m->http, EVHTTP_REQ_GET);
	evhttp_set_timeout(m->http, 30);
	evhttp_set_gencb(m->http, on_request, m);
	if (evhttp_bind_socket(m->http, host, (uint16_t)port) < 0) {
		int r = errno ? -errno : -EADDRNOTAVAIL;
		evhttp_free(m->http);
		free(m);
		return r;
	}
	*ret = m;
	return 0;
}

void api_metrics_stop(struct metrics_tcp *m)
{
	if (!m)
		return;
	evhttp_free(m->http);
	free(m);
}
