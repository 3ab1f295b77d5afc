/*
 * server: the listening socket, evhttp's limits, the bookkeeping of client
 * connections and the dispatch of every request through the route table.
 *
 * evhttp parses HTTP and owns each connection (struct evhttp_connection).
 * Next to each one we keep a struct api_conn: it counts towards
 * API_CONN_MAX, remembers the peer's credentials and links the call being
 * answered, so that when the connection goes away (evhttp's close
 * callback) the call forgets its request before evhttp frees it.
 *
 * Two gaps in evhttp 2.1 shape this file:
 *  - it has no hook when a server connection is created, only one to make
 *    its bufferevent; we create that bufferevent, keep a reference on it
 *    and, once evhttp has wrapped it (right after, from the loop), find
 *    the connection through the bufferevent's callback argument;
 *  - it stops reading a connection while a request is answered, so it
 *    would not notice a client that leaves before a late answer or during
 *    a stream. We watch the socket ourselves for that time (conn_watch).
 */
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/event_struct.h> /* struct event embedded in api_conn */
#include <event2/http.h>
#include <event2/listener.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include "api/api.h"

struct api_conn {
	struct api *api;
	struct api_conn *prev, *next;
	/* Set, and referenced by us, until attached to its evhttp connection. */
	struct bufferevent *bev;
	struct evhttp_connection *evcon;
	struct event attach_ev;
	/* Reads the socket while a call is answered, to notice the client
	 * leaving (evhttp does not read then). */
	struct event *watch_ev;
	struct caller caller;
	int caller_err;
	/* The call being answered; evhttp answers one request at a time. */
	struct api_call *pending;
};

struct api {
	struct event_base *base;
	struct daemon *daemon;
	struct evhttp *http;
	struct evconnlistener *listener;
	char *socket_path;
	dev_t sock_dev;
	ino_t sock_ino;
	struct api_conn *conns;
	size_t n_conns;
	bool paused;   /* the listener, at API_CONN_MAX connections */
	bool stopping; /* api_stop: the listener is gone */
	/* The TCP listener for other members (api_listen_tcp): an api of its
	 * own whose callers must present the cluster's token. */
	bool remote;
	struct api *tcp;
};

/* ---- connections -------------------------------------------------------- */

static void conn_unwatch(struct api_conn *conn)
{
	if (conn->watch_ev)
		event_del(conn->watch_ev);
}

static void conn_free(struct api_conn *conn)
{
	struct api *a = conn->api;

	event_del(&conn->attach_ev);
	if (conn->watch_ev)
		event_free(conn->watch_ev);
	if (conn->bev)
		bufferevent_decref(conn->bev);
	if (conn->prev)
		conn->prev->next = conn->next;
	else
		a->conns = conn->next;
	if (conn->next)
		conn->next->prev = conn->prev;
	a->n_conns--;
	if (a->paused && !a->stopping && a->n_conns < API_CONN_MAX) {
		if (evconnlistener_enable(a->listener) == 0)
			a->paused = false;
	}
	free(conn);
}

static void conn_closed(struct evhttp_connection *evcon, void *arg)
{
	struct api_conn *conn = arg;
	struct api_call *c = conn->pending;

	/* evhttp may report a close more than once (reset, then free). */
	evhttp_connection_set_closecb(evcon, NULL, NULL);
	if (c) {
		conn->pending = NULL;
		api_call_client_gone(c);
	}
	conn_free(conn);
}

static void conn_read_peer(struct api_conn *conn, int fd)
{
	struct ucred uc;
	socklen_t len = sizeof(uc);

	if (conn->api->remote) { /* no credentials over TCP: the token says who */
		conn->caller.uid = 0;
		conn->caller.pid = 0;
		conn->caller.remote = true;
		return;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &uc, &len) < 0) {
		conn->caller_err = log_warn_errno(-errno, "cannot read a client's credentials");
		return;
	}
	conn->caller.uid = uc.uid;
	conn->caller.pid = uc.pid;
}

/*
 * Find the evhttp connection that wraps conn->bev and hook its close.
 * evhttp sets itself as the bufferevent's callback argument and clears the
 * callbacks when it frees the connection; our reference keeps the
 * bufferevent readable until here.
 */
static int conn_attach(struct api_conn *conn)
{
	struct bufferevent *bev = conn->bev;
	void *evcon = NULL;

	event_del(&conn->attach_ev);
	conn->bev = NULL;
	bufferevent_getcb(bev, NULL, NULL, NULL, &evcon);
	if (evcon) {
		conn->evcon = evcon;
		evhttp_connection_set_closecb(conn->evcon, conn_closed, conn);
		conn_read_peer(conn, bufferevent_getfd(bev));
	}
	bufferevent_decref(bev);
	return evcon ? 0 : -ENOTCONN;
}

static void conn_attach_cb(evutil_socket_t fd, short what, void *arg)
{
	struct api_conn *conn = arg;

	if (conn_attach(conn) < 0)
		conn_free(conn);
}

/* evhttp's bevcb: called for every accepted connection, before evhttp
 * wraps it; the attach runs from the loop once evhttp has. */
static struct bufferevent *conn_new(struct event_base *base, void *arg)
{
	struct api *a = arg;
	struct api_conn *conn = calloc(1, sizeof(*conn));

	/* On failure evhttp makes a bufferevent of its own; dispatch refuses
	 * requests on such an untracked connection. */
	if (!conn)
		return NULL;
	/* No BEV_OPT_CLOSE_ON_FREE, like evhttp's own: evhttp closes the fd
	 * when it frees the connection, even while we hold a reference. */
	conn->bev = bufferevent_socket_new(base, -1, 0);
	if (!conn->bev) {
		free(conn);
		return NULL;
	}
	bufferevent_incref(conn->bev);
	conn->api = a;
	conn->caller.uid = (uid_t)-1;
	conn->caller.pid = -1;
	evtimer_assign(&conn->attach_ev, base, conn_attach_cb, conn);
	event_active(&conn->attach_ev, EV_TIMEOUT, 1);
	conn->next = a->conns;
	if (a->conns)
		a->conns->prev = conn;
	a->conns = conn;
	a->n_conns++;
	/* Disabling from inside the accept callback also stops the
	 * listener's accept loop at once. */
	if (a->n_conns >= API_CONN_MAX && !a->paused) {
		if (evconnlistener_disable(a->listener) == 0)
			a->paused = true;
		log_warn("%d client connections open: accepting more once one closes",
			 API_CONN_MAX);
	}
	return conn->bev;
}

static struct api_conn *conn_lookup(struct api *a, struct evhttp_connection *evcon)
{
	struct bufferevent *bev = evhttp_connection_get_bufferevent(evcon);

	for (struct api_conn *conn = a->conns; conn; conn = conn->next) {
		if (conn->evcon == evcon)
			return conn;
		/* A request before the attach ran: attach now. */
		if (!conn->evcon && conn->bev == bev) {
			if (conn_attach(conn) == 0)
				return conn;
			conn_free(conn);
			return NULL;
		}
	}
	return NULL;
}

static void conn_watch_cb(evutil_socket_t fd, short what, void *arg)
{
	struct api_conn *conn = arg;
	struct evbuffer *in = bufferevent_get_input(evhttp_connection_get_bufferevent(conn->evcon));
	int n;

	/* A socket bufferevent keeps its input's end frozen to everyone but
	 * itself; we read on its behalf while it does not. */
	evbuffer_unfreeze(in, 0);
	n = evbuffer_read(in, fd, 4096);
	evbuffer_freeze(in, 0);

	if (n > 0) {
		/* The client queues its next request (evhttp parses it after
		 * this answer). Keep no more than a request's headers; past
		 * that its leaving is noticed only when we write to it. */
		if (evbuffer_get_length(in) > API_HEADERS_MAX)
			conn_unwatch(conn);
		return;
	}
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	/* End of file or an error: the client has gone. A client that only
	 * shuts down its sending side counts as gone too; HTTP clients do
	 * not do that while they wait for an answer. */
	evhttp_connection_free(conn->evcon); /* runs conn_closed, frees conn */
}

static void conn_watch(struct api_conn *conn)
{
	if (!conn->watch_ev) {
		int fd = bufferevent_getfd(evhttp_connection_get_bufferevent(conn->evcon));

		conn->watch_ev =
		    event_new(conn->api->base, fd, EV_READ | EV_PERSIST, conn_watch_cb, conn);
		if (!conn->watch_ev) {
			log_warn("cannot watch a client connection: a client that leaves is "
				 "noticed only when written to");
			return;
		}
	}
	event_add(conn->watch_ev, NULL);
}

void api_conn_detach(struct api_call *c)
{
	struct api_conn *conn = c->conn;

	if (!conn)
		return;
	c->conn = NULL;
	if (conn->pending == c)
		conn->pending = NULL;
	conn_unwatch(conn);
}

/* ---- dispatch ----------------------------------------------------------- */

static enum api_method method_from_evhttp(enum evhttp_cmd_type t)
{
	switch (t) {
	case EVHTTP_REQ_GET:
		return API_GET;
	case EVHTTP_REQ_POST:
		return API_POST;
	case EVHTTP_REQ_PUT:
		return API_PUT;
	case EVHTTP_REQ_DELETE:
		return API_DELETE;
	case EVHTTP_REQ_PATCH:
		return API_PATCH;
	case EVHTTP_REQ_HEAD:
		return API_HEAD;
	case EVHTTP_REQ_OPTIONS:
		return API_OPTIONS;
	default:
		return API_METHOD_OTHER;
	}
}

/* For the log: the path may hold anything a client typed. */
static void copy_printable(char *dst, size_t size, const char *src)
{
	size_t i;

	for (i = 0; src[i] && i + 1 < size; i++) {
		unsigned char ch = (unsigned char)src[i];

		dst[i] = ch > 0x20 && ch < 0x7f ? (char)ch : '?';
	}
	dst[i] = '\0';
}

static int call_take_body(struct api_call *c, const struct api_route *route,
			  struct evhttp_request *req, struct werr *err)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	size_t len = evbuffer_get_length(in);
	const void *buf = "";
	int r = api_body_check_size(len, err);

	if (r < 0)
		return r;
	if (len > 0) {
		buf = evbuffer_pullup(in, -1);
		if (!buf)
			return werr_set(err, -ENOMEM, "internal", "", "out of memory");
	}
	switch (route->body) {
	case API_BODY_NONE:
		if (len > 0)
			return werr_set(err, -EINVAL, "invalid", "", "%s %s takes no request body",
					api_method_to_string(route->method), route->pattern);
		return 0;
	case API_BODY_RAW:
		c->raw = buf;
		c->raw_len = len;
		return 0;
	default:
		return api_body_parse_json(buf, len, route->body, &c->body, err);
	}
}

/* Everything between the parsed request and the handler; any failure is
 * answered with its error. */
static void call_route(struct api *a, struct api_conn *conn, struct api_call *c,
		       struct evhttp_request *req)
{
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
	const char *query = uri ? evhttp_uri_get_query(uri) : NULL;
	const struct api_route *table, *route = NULL;
	size_t n = api_routes(&table);
	unsigned allowed = 0;
	struct werr err = {0};
	char allow[64];
	int r;

	if (!conn) {
		werr_set(&err, 0, "unavailable", "", "connection not tracked (out of memory)");
		goto fail;
	}
	if (conn->pending) {
		log_error("bug: second request on a connection while one is answered");
		werr_set(&err, 0, "internal", "", "request while another is answered");
		goto fail;
	}
	if (conn->caller_err < 0) {
		werr_set(&err, 0, "internal", "", "cannot identify the caller");
		goto fail;
	}
	conn->pending = c;
	c->conn = conn;
	c->caller = conn->caller;
	c->caller.authorization =
		evhttp_find_header(evhttp_request_get_input_headers(req), "Authorization");

	r = api_route_match(table, n, c->method, path ? path : "", &route, &c->params, &allowed,
			    &err);
	if (r == -EOPNOTSUPP)
		evhttp_add_header(evhttp_request_get_output_headers(req), "Allow",
				  api_allow_format(allowed, allow, sizeof(allow)));
	if (r < 0)
		goto fail;
	if (query && evhttp_parse_query_str(query, &c->query) < 0) {
		werr_set(&err, 0, "invalid", "", "malformed query string");
		goto fail;
	}
	if (api_query_check(&c->query, route->query, &err) < 0)
		goto fail;
	if (call_take_body(c, route, req, &err) < 0)
		goto fail;
	if (c->caller.remote && daemon_peer_auth(c->daemon, c->caller.authorization) < 0) {
		werr_set(&err, -EACCES, "unauthorized", "",
			 "this listener serves cluster members: present the cluster's token");
		goto fail;
	}
	if (!c->caller.remote && api_route_forwarded(c, route, req))
		return;
	if (c->method != API_GET && !c->caller.remote && strncmp(route->pattern, "/v1/cluster", 11) != 0 &&
	    daemon_check_writable(c->daemon, &err) < 0)
		goto fail;
	route->handler(c);
	return;
fail:
	reply_error(&c->reply, &err);
}

/* evhttp's gencb: every parsed request comes here. */
static void dispatch(struct evhttp_request *req, void *arg)
{
	struct api *a = arg;
	struct evhttp_connection *evcon = evhttp_request_get_connection(req);
	struct api_conn *conn = conn_lookup(a, evcon);
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
	struct api_call *c;

	/* Until the answer, only conn_watch reads: some evhttp 2.1 releases
	 * leave reading on for requests without a body and abort when the
	 * next bytes arrive while one is answered. */
	bufferevent_disable(evhttp_connection_get_bufferevent(evcon), EV_READ);
	c = api_call_new(a->daemon, req);
	if (!c) {
		evhttp_send_error(req, 500, NULL);
		return;
	}
	c->method = method_from_evhttp(evhttp_request_get_command(req));
	copy_printable(c->path, sizeof(c->path), path ? path : "");

	c->held = true;
	call_route(a, conn, c, req);
	c->held = false;
	if (c->state == API_CALL_DONE)
		api_call_release(c);
	else if (c->conn)
		conn_watch(c->conn);
}

/* ---- socket ------------------------------------------------------------- */

static int socket_make_parent(const char *path)
{
	_cleanup_free_ char *dir = strdup(path);
	char *slash;

	if (!dir)
		return -ENOMEM;
	slash = strrchr(dir, '/');
	if (!slash || slash == dir)
		return 0;
	*slash = '\0';
	if (mkdir(dir, 0755) < 0) {
		if (errno == EEXIST)
			return 0;
		return log_error_errno(-errno, "cannot create %s", dir);
	}
	/* Whatever the umask, clients of the group must reach the socket. */
	if (chmod(dir, 0755) < 0)
		return log_error_errno(-errno, "cannot chmod %s", dir);
	return 0;
}

/* Refuse a path where a daemon answers; remove a socket nobody serves. */
static int socket_claim(const struct sockaddr_un *sa)
{
	_cleanup_close_ int fd = -1;
	struct stat st;

	if (lstat(sa->sun_path, &st) < 0) {
		if (errno == ENOENT)
			return 0;
		return log_error_errno(-errno, "cannot stat %s", sa->sun_path);
	}
	if (!S_ISSOCK(st.st_mode)) {
		log_error("%s exists and is not a socket", sa->sun_path);
		return -EEXIST;
	}
	/* Non-blocking: a live daemon with a full backlog answers EAGAIN
	 * rather than making us wait. */
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return log_error_errno(-errno, "cannot create a socket");
	if (connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) == 0 || errno == EAGAIN) {
		log_error("another daemon is serving %s", sa->sun_path);
		return -EADDRINUSE;
	}
	if (errno != ECONNREFUSED)
		return log_error_errno(-errno, "cannot probe %s", sa->sun_path);
	log_info("removing stale socket %s", sa->sun_path);
	if (unlink(sa->sun_path) < 0 && errno != ENOENT)
		return log_error_errno(-errno, "cannot remove %s", sa->sun_path);
	return 0;
}

static int socket_listen(const struct sockaddr_un *sa, struct stat *ret_st)
{
	_cleanup_close_ int fd = -1;
	mode_t old_mask;
	int r;

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return log_error_errno(-errno, "cannot create a socket");
	/* Born 0660 so that no client connects through laxer modes before the
	 * chmod; the daemon is single-threaded while it starts. */
	old_mask = umask(0117);
	r = bind(fd, (const struct sockaddr *)sa, sizeof(*sa));
	umask(old_mask);
	if (r < 0)
		return log_error_errno(-errno, "cannot bind %s", sa->sun_path);
	if (chmod(sa->sun_path, 0660) < 0 || stat(sa->sun_path, ret_st) < 0 ||
	    listen(fd, SOMAXCONN) < 0) {
		r = log_error_errno(-errno, "cannot set up %s", sa->sun_path);
		unlink(sa->sun_path);
		return r;
	}
	return TAKE_FD(fd);
}

/* ---- start and stop ----------------------------------------------------- */

void api_stop(struct api *a)
{
	struct stat st;

	if (!a)
		return;
	api_stop(a->tcp);
	a->stopping = true;
	/* Frees the listener, then every connection: conn_closed cancels
	 * open streams and frees each attached api_conn. */
	if (a->http)
		evhttp_free(a->http);
	while (a->conns)
		conn_free(a->conns);
	/* Only our own socket: a newer daemon may have replaced it. */
	if (a->socket_path && stat(a->socket_path, &st) == 0 && st.st_dev == a->sock_dev &&
	    st.st_ino == a->sock_ino)
		unlink(a->socket_path);
	free(a->socket_path);
	free(a);
}

/* evhttp's settings, the same on every listener. */
static struct evhttp *http_new(struct api *a)
{
	struct evhttp *http = evhttp_new(a->base);

	if (!http)
		return NULL;
	evhttp_set_max_body_size(http, (ev_ssize_t)API_HTTP_BODY_MAX);
	evhttp_set_max_headers_size(http, (ev_ssize_t)API_HEADERS_MAX);
	evhttp_set_timeout(http, API_IDLE_TIMEOUT_S);
	/* Drain an oversized body before answering 413, so that the client
	 * reads the answer instead of a reset. */
	evhttp_set_flags(http, EVHTTP_SERVER_LINGERING_CLOSE);
	/* Let every method we can name reach the router, which answers 405
	 * with an Allow header instead of evhttp's 501. */
	evhttp_set_allowed_methods(http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_PUT |
						 EVHTTP_REQ_DELETE | EVHTTP_REQ_PATCH |
						 EVHTTP_REQ_HEAD | EVHTTP_REQ_OPTIONS);
	evhttp_set_bevcb(http, conn_new, a);
	evhttp_set_gencb(http, dispatch, a);
	return http;
}

int api_listen_tcp(struct api *api, const char *addr)
{
	_cleanup_free_ char *host = NULL;
	const char *colon = strrchr(addr, ':');
	struct evhttp_bound_socket *bound;
	struct api *a;
	unsigned long port;
	char *end;

	if (!colon || colon == addr)
		return -EINVAL;
	port = strtoul(colon + 1, &end, 10);
	if (*end || colon[1] == '\0' || port == 0 || port > 65535)
		return -EINVAL;
	host = strndup(addr, (size_t)(colon - addr));
	a = calloc(1, sizeof(*a));
	if (!host || !a) {
		free(a);
		return -ENOMEM;
	}
	a->base = api->base;
	a->daemon = api->daemon;
	a->remote = true;
	a->http = http_new(a);
	if (!a->http) {
		free(a);
		return -ENOMEM;
	}
	bound = evhttp_bind_socket_with_handle(a->http, host, (uint16_t)port);
	if (!bound) {
		int r = errno ? -errno : -EADDRNOTAVAIL;
		evhttp_free(a->http);
		free(a);
		return r;
	}
	a->listener = evhttp_bound_socket_get_listener(bound);
	api->tcp = a;
	log_info("API for cluster members on %s (token required)", addr);
	return 0;
}

int api_start(struct event_base *base, struct daemon *d, const char *socket_path, struct api **ret)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct evhttp_bound_socket *bound;
	struct sigaction old_pipe;
	_cleanup_close_ int fd = -1;
	struct stat st;
	struct api *a;
	int r;

	/* Writing to a client that has left must fail with EPIPE, not end
	 * the daemon; keep a disposition the program chose itself. */
	if (sigaction(SIGPIPE, NULL, &old_pipe) == 0 && old_pipe.sa_handler == SIG_DFL)
		signal(SIGPIPE, SIG_IGN);
	if (strlen(socket_path) >= sizeof(sa.sun_path)) {
		log_error("socket path %s is too long", socket_path);
		return -ENAMETOOLONG;
	}
	memcpy(sa.sun_path, socket_path, strlen(socket_path) + 1);
	r = socket_make_parent(socket_path);
	if (r < 0)
		return r;
	r = socket_claim(&sa);
	if (r < 0)
		return r;
	fd = socket_listen(&sa, &st);
	if (fd < 0)
		return fd;

	a = calloc(1, sizeof(*a));
	if (!a) {
		unlink(socket_path);
		return -ENOMEM;
	}
	a->base = base;
	a->daemon = d;
	a->sock_dev = st.st_dev;
	a->sock_ino = st.st_ino;
	a->socket_path = strdup(socket_path);
	a->http = http_new(a);
	if (!a->socket_path || !a->http)
		goto oom;

	/* What evhttp_accept_socket_with_handle does, in two steps: on its
	 * failure one cannot tell whether it closed the fd. */
	a->listener = evconnlistener_new(base, NULL, NULL,
					 LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, 0, fd);
	if (!a->listener)
		goto oom;
	TAKE_FD(fd);
	bound = evhttp_bind_listener(a->http, a->listener);
	if (!bound) {
		evconnlistener_free(a->listener);
		goto oom;
	}
	log_info("API listening on %s", socket_path);
	*ret = a;
	return 0;
oom:
	log_error("out of memory starting the API");
	api_stop(a);
	return -ENOMEM;
}
