/*
 * peer: requests from this daemon to another warrend (migration), through
 * libcurl's multi interface driven by the daemon's event loop: curl says
 * which sockets to watch and when to wake it, the loop tells curl what
 * happened, and a finished transfer calls its owner back. Nothing blocks.
 *
 * A peer is addressed as "unix:PATH" or an absolute PATH (the Unix socket
 * of a daemon on this host) or "http://HOST:PORT" (a daemon's --listen
 * address; also etcd's). Requests carry the peer token, if this daemon
 * has one, as a bearer token.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "daemon/internal.h"

#define PEER_RESPONSE_MAX (4u << 20)

struct peer_req {
	struct daemon *d;
	struct peer_req *next;
	CURL *easy;
	struct curl_slist *headers;
	char *body;       /* what is sent */
	char *resp;       /* what came back */
	size_t resp_len;
	char errbuf[CURL_ERROR_SIZE];
	char what[96];    /* for messages: "POST /v1/migrations" */
	peer_done_fn done;
	peer_line_fn on_line; /* a stream: each line of the answer as it comes */
	void *ud;
};

struct peers {
	CURLM *multi;
	struct event *timer;
	struct peer_req *reqs;
};

/* One per socket curl watches. */
struct peer_sock {
	struct event *ev;
	struct daemon *d;
};

static void check_done(struct daemon *d);

/* "http://HOST:PORT" with nothing after the port but an optional '/'. */
static bool http_base(const char *s)
{
	const char *host = s + 7, *colon = strrchr(host, ':');
	char *end;
	unsigned long port;

	if (!colon || colon == host)
		return false;
	port = strtoul(colon + 1, &end, 10);
	if (end == colon + 1 || port == 0 || port > 65535 || (*end && strcmp(end, "/") != 0))
		return false;
	for (const char *p = host; p < colon; p++)
		if (!(isalnum((unsigned char)*p) || strchr(".-[]:", *p)))
			return false;
	return true;
}

int peer_addr_parse(const char *s, struct peer_addr *ret, struct werr *err)
{
	const char *path = NULL;

	*ret = (struct peer_addr){0};
	if (!s || !*s)
		return werr_set(err, -EINVAL, "invalid", "to", "a destination is required");
	if (strncmp(s, "unix:", 5) == 0)
		path = s + 5;
	else if (s[0] == '/')
		path = s;
	else if (strncmp(s, "https://", 8) == 0)
		return werr_set(err, -EOPNOTSUPP, "invalid", "to",
				"'%s': TLS between daemons is not supported in this version; give "
				"http://HOST:PORT (a warrend's --listen address on a trusted network) "
				"or unix:PATH",
				s);
	else if (strncmp(s, "http://", 7) == 0) {
		if (!http_base(s) || strlen(s) >= sizeof(ret->url))
			return werr_set(err, -EINVAL, "invalid", "to",
					"'%s' is not an address: give http://HOST:PORT", s);
		snprintf(ret->url, sizeof(ret->url), "%.*s", (int)(strlen(s) - (s[strlen(s) - 1] == '/')), s);
		snprintf(ret->display, sizeof(ret->display), "%s", s);
		return 0;
	}
	if (!path || path[0] != '/' || strlen(path) >= sizeof(ret->unix_path) ||
	    strlen(s) >= sizeof(ret->display))
		return werr_set(err, -EINVAL, "invalid", "to",
				"'%s' is not a destination: give unix:PATH, the absolute path "
				"of another warrend's socket or http://HOST:PORT",
				s);
	snprintf(ret->unix_path, sizeof(ret->unix_path), "%s", path);
	snprintf(ret->display, sizeof(ret->display), "%s", s);
	return 0;
}

/* ---- the loop's side of curl ------------------------------------------ */

static void on_sock(evutil_socket_t fd, short what, void *arg)
{
	struct daemon *d = arg;
	int flags = (what & EV_READ ? CURL_CSELECT_IN : 0) | (what & EV_WRITE ? CURL_CSELECT_OUT : 0);
	int running;

	curl_multi_socket_action(d->peers->multi, fd, flags, &running);
	check_done(d);
}

static int sock_cb(CURL *easy, curl_socket_t s, int what, void *userp, void *socketp)
{
	struct daemon *d = userp;
	struct peer_sock *ps = socketp;
	short kind = (what & CURL_POLL_IN ? EV_READ : 0) | (what & CURL_POLL_OUT ? EV_WRITE : 0);

	if (what == CURL_POLL_REMOVE) {
		if (ps) {
			event_free(ps->ev);
			free(ps);
		}
		curl_multi_assign(d->peers->multi, s, NULL);
		return 0;
	}
	if (!ps) {
		ps = calloc(1, sizeof(*ps));
		if (!ps)
			return -1;
		ps->d = d;
		curl_multi_assign(d->peers->multi, s, ps);
	} else {
		event_free(ps->ev);
	}
	ps->ev = event_new(d->base, s, kind | EV_PERSIST, on_sock, d);
	if (!ps->ev || event_add(ps->ev, NULL) < 0)
		return -1;
	return 0;
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct daemon *d = arg;
	int running;

	curl_multi_socket_action(d->peers->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	check_done(d);
}

static int timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
	struct daemon *d = userp;
	struct timeval tv = {.tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000};

	if (timeout_ms < 0)
		evtimer_del(d->peers->timer);
	else
		evtimer_add(d->peers->timer, &tv);
	return 0;
}

int peer_init(struct daemon *d)
{
	struct peers *p = calloc(1, sizeof(*p));

	if (!p || curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		free(p);
		return -ENOMEM;
	}
	p->multi = curl_multi_init();
	p->timer = evtimer_new(d->base, on_timer, d);
	if (!p->multi || !p->timer) {
		if (p->multi)
			curl_multi_cleanup(p->multi);
		free(p);
		return -ENOMEM;
	}
	curl_multi_setopt(p->multi, CURLMOPT_SOCKETFUNCTION, sock_cb);
	curl_multi_setopt(p->multi, CURLMOPT_SOCKETDATA, d);
	curl_multi_setopt(p->multi, CURLMOPT_TIMERFUNCTION, timer_cb);
	curl_multi_setopt(p->multi, CURLMOPT_TIMERDATA, d);
	d->peers = p;
	return 0;
}

static void req_free(struct peer_req *r)
{
	struct peers *p = r->d->peers;

	for (struct peer_req **q = &p->reqs; *q; q = &(*q)->next)
		if (*q == r) {
			*q = r->next;
			break;
		}
	if (r->easy) {
		curl_multi_remove_handle(p->multi, r->easy);
		curl_easy_cleanup(r->easy);
	}
	curl_slist_free_all(r->headers);
	free(r->body);
	free(r->resp);
	free(r);
}

void peer_fini(struct daemon *d)
{
	if (!d->peers)
		return;
	while (d->peers->reqs)
		req_free(d->peers->reqs);
	curl_multi_cleanup(d->peers->multi);
	event_free(d->peers->timer);
	free(d->peers);
	d->peers = NULL;
	curl_global_cleanup();
}

/* ---- requests --------------------------------------------------------- */

static size_t on_data(char *ptr, size_t size, size_t n, void *ud)
{
	struct peer_req *r = ud;
	size_t len = size * n;
	char *grown;

	if (r->resp_len + len > PEER_RESPONSE_MAX || !(grown = realloc(r->resp, r->resp_len + len + 1)))
		return 0; /* curl fails the transfer */
	memcpy(grown + r->resp_len, ptr, len);
	r->resp = grown;
	r->resp_len += len;
	r->resp[r->resp_len] = '\0';
	if (r->on_line) {
		char *nl;
		long status = 0;
		curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &status);
		while (status == 200 && (nl = memchr(r->resp, '\n', r->resp_len))) {
			size_t line = (size_t)(nl - r->resp) + 1;
			json_t *j = json_loadb(r->resp, line - 1, 0, NULL);
			bool go_on = !j || r->on_line(r->ud, j);
			json_decref(j);
			memmove(r->resp, r->resp + line, r->resp_len - line + 1);
			r->resp_len -= line;
			if (!go_on)
				return 0; /* ends the transfer; done follows */
		}
	}
	return len;
}

static void finish(struct peer_req *r, CURLcode rc)
{
	char why[CURL_ERROR_SIZE + 128];
	long status = 0;
	json_t *body = NULL;

	if (rc == CURLE_OK) {
		curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &status);
		if (r->resp_len)
			body = json_loadb(r->resp, r->resp_len, 0, NULL);
		r->done(r->ud, (int)status, body, NULL);
	} else {
		snprintf(why, sizeof(why), "%s: %s", r->what,
			 r->errbuf[0] ? r->errbuf : curl_easy_strerror(rc));
		r->done(r->ud, 0, NULL, why);
	}
	json_decref(body);
}

static void check_done(struct daemon *d)
{
	CURLMsg *msg;
	int left;

	while ((msg = curl_multi_info_read(d->peers->multi, &left))) {
		struct peer_req *r = NULL;
		if (msg->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&r);
		if (!r)
			continue;
		/* The owner may send its next request from the callback; r is
		 * its own until then and freed after. */
		finish(r, msg->data.result);
		req_free(r);
	}
}

int peer_request(struct daemon *d, const struct peer_addr *a, const char *method,
		 const char *path, json_t *body, const void *raw, size_t raw_len,
		 unsigned timeout_ms, peer_done_fn done, void *ud, struct peer_req **ret)
{
	struct peer_req *r = calloc(1, sizeof(*r));
	char url[512], auth[600];
	int k = -ENOMEM;

	if (!d->peers || !r)
		goto fail;
	r->d = d;
	r->done = done;
	r->ud = ud;
	snprintf(r->what, sizeof(r->what), "%s %.80s", method, path);
	snprintf(url, sizeof(url), "%s%s", a->url[0] ? a->url : "http://warren", path);
	if (body && !(r->body = json_dumps(body, JSON_COMPACT)))
		goto fail;
	r->easy = curl_easy_init();
	if (!r->easy)
		goto fail;
	r->headers = curl_slist_append(NULL, body ? "Content-Type: application/json"
						  : "Content-Type: application/octet-stream");
	if (a->token[0] || (d->cfg.peer_token && !a->no_token)) {
		snprintf(auth, sizeof(auth), "Authorization: Bearer %s",
			 a->token[0] ? a->token : d->cfg.peer_token);
		r->headers = curl_slist_append(r->headers, auth);
	}
	r->headers = curl_slist_append(r->headers, "Expect:");
	if (!r->headers)
		goto fail;
	curl_easy_setopt(r->easy, CURLOPT_URL, url);
	if (a->unix_path[0])
		curl_easy_setopt(r->easy, CURLOPT_UNIX_SOCKET_PATH, a->unix_path);
	curl_easy_setopt(r->easy, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(r->easy, CURLOPT_HTTPHEADER, r->headers);
	curl_easy_setopt(r->easy, CURLOPT_PRIVATE, r);
	curl_easy_setopt(r->easy, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(r->easy, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(r->easy, CURLOPT_ERRORBUFFER, r->errbuf);
	curl_easy_setopt(r->easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(r->easy, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
	curl_easy_setopt(r->easy, CURLOPT_CONNECTTIMEOUT_MS, 3000L);
	if (body || raw) {
		curl_easy_setopt(r->easy, CURLOPT_POSTFIELDSIZE_LARGE,
				 (curl_off_t)(body ? strlen(r->body) : raw_len));
		/* curl sends from this memory; a raw body is the caller's and
		 * must stay valid until done is called. */
		curl_easy_setopt(r->easy, CURLOPT_POSTFIELDS, body ? r->body : raw);
	}
	json_decref(body);
	body = NULL;
	if (curl_multi_add_handle(d->peers->multi, r->easy) != CURLM_OK)
		goto fail;
	r->next = d->peers->reqs;
	d->peers->reqs = r;
	if (ret)
		*ret = r;
	return 0;
fail:
	json_decref(body);
	if (r) {
		if (r->easy)
			curl_easy_cleanup(r->easy);
		curl_slist_free_all(r->headers);
		free(r->body);
		free(r);
	}
	return k;
}

int peer_stream(struct daemon *d, const struct peer_addr *a, const char *path, json_t *body,
		peer_line_fn on_line, peer_done_fn done, void *ud, struct peer_req **ret)
{
	struct peer_req *r;
	int k = peer_request(d, a, "POST", path, body, NULL, 0, 0, done, ud, &r);

	if (k < 0)
		return k;
	/* No time limit on a stream; TCP keepalive notices a peer gone. */
	r->on_line = on_line;
	curl_easy_setopt(r->easy, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(r->easy, CURLOPT_TCP_KEEPIDLE, 5L);
	curl_easy_setopt(r->easy, CURLOPT_TCP_KEEPINTVL, 2L);
	if (ret)
		*ret = r;
	return 0;
}

void peer_cancel(struct peer_req *r)
{
	if (r)
		req_free(r);
}
