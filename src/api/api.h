/*
 * api: the REST/JSON interface of warrend, HTTP/1.1 on a Unix socket.
 *
 * libevent's evhttp parses HTTP; this folder routes each request through a
 * const table to a handler, turns path, query and body into the arguments
 * of one daemon_* call (daemon/daemon.h) and turns the daemon's answer back
 * into HTTP. It is the one place that maps a client-facing error code to an
 * HTTP status.
 *
 * The first part of this header is what warrend uses; the second part is
 * the route table (printed by warren-routes and checked against
 * docs/openapi.yaml); the third part is shared between the files of this
 * folder and exercised by the unit tests, not meant for other layers.
 *
 * This header is the whole interface of the folder.
 */
#ifndef WARREN_API_H
#define WARREN_API_H

#include <sys/queue.h> /* before libevent's fallback TAILQ macros */
#include <event2/keyvalq_struct.h>
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "daemon/daemon.h"
#include "util/util.h"

/* ---- bounds on what one client can make the daemon hold --------------- */

/* Largest request body a handler accepts; larger ones get a JSON 413. */
#define API_BODY_MAX ((size_t)1 << 20)
/* evhttp refuses bodies past this on its own (a plain 413, not JSON),
 * so a client cannot make us buffer more than this before we see it. */
#define API_HTTP_BODY_MAX ((size_t)4 << 20)
/* Request line plus all headers. */
#define API_HEADERS_MAX ((size_t)16 << 10)
/* Concurrent connections; past this the listener pauses and new clients
 * wait in the kernel's backlog until one leaves. */
#define API_CONN_MAX 256
/* A connection with nothing in flight (no request being answered, no
 * stream open) and no progress on the socket for this long is closed.
 * A stream whose client stops reading for this long is closed too. */
#define API_IDLE_TIMEOUT_S 30
/* Bytes queued for a stream's client that has not read them yet; past this
 * stream->write fails and the daemon ends the stream. */
#define API_STREAM_BUFFER_MAX ((size_t)4 << 20)
/* Path parameters: how many per route and their length after decoding. */
#define API_PARAMS_MAX	   4
#define API_PARAM_NAME_MAX 16
#define API_PARAM_MAX	   255
/* GET /v1/operations/{id}?wait=SECONDS */
#define API_WAIT_MAX_S 60
/* GET /v1/events?limit=N */
#define API_EVENTS_LIMIT_DEFAULT 100
#define API_EVENTS_LIMIT_MAX	 1000

/* ---- the server --------------------------------------------------------- */

struct api;
struct event_base;

/*
 * Listen on socket_path (mode 0660; the parent directory is created with
 * mode 0755 if missing) and serve requests from base's loop. Refuses with
 * -EADDRINUSE when another daemon answers on the socket and with -EEXIST
 * when something that is not a socket sits at the path; a stale socket
 * file is removed.
 */
int api_start(struct event_base *base, struct daemon *d, const char *socket_path, struct api **ret);
/*
 * Close the listener and every connection (open streams are cancelled with
 * daemon_sub_cancel, so call this before the daemon goes away) and remove
 * the socket file. Replies the daemon still holds stay valid; sending them
 * later only frees them. Accepts NULL.
 */
void api_stop(struct api *a);
/* Serve the API on TCP HOST:PORT too, for the cluster's members only:
 * every request there must carry the cluster's token. */
int api_listen_tcp(struct api *a, const char *addr);


/* Serve GET /metrics (Prometheus) on a TCP address "HOST:PORT" as well;
 * nothing else of the API is served there. */
struct metrics_tcp;
int api_metrics_listen(struct event_base *base, struct daemon *d, const char *addr,
		       struct metrics_tcp **ret);
void api_metrics_stop(struct metrics_tcp *m);

/* ---- the route table ---------------------------------------------------- */

enum api_method {
	API_GET,
	API_POST,
	API_PUT,
	API_DELETE,
	API_PATCH,
	API_HEAD,
	API_OPTIONS,
	API_METHOD_OTHER,
};

const char *api_method_to_string(enum api_method m);

/* What a route does with the request body. */
enum api_body {
	API_BODY_NONE,	   /* none; a non-empty body is refused */
	API_BODY_JSON,	   /* a JSON object is required */
	API_BODY_JSON_OPT, /* a JSON object, or nothing */
	API_BODY_RAW,	   /* any bytes, passed through as they are */
};

struct api_call;

struct api_route {
	enum api_method method;
	/* Literal segments and "{param}" segments, e.g.
	 * "/v1/vms/{name}/actions/{action}"; a parameter is a whole segment. */
	const char *pattern;
	void (*handler)(struct api_call *c);
	enum api_body body;
	/* Query keys the route accepts, separated by spaces; NULL for none.
	 * Anything else in the query string is refused with 400. */
	const char *query;
};

/* The table of warrend's API, in the order it is documented. */
size_t api_routes(const struct api_route **ret);

/* ---- shared by the files of api/ (and the unit tests) ------------------- */

/* Path parameters, decoded, in pattern order. */
struct api_params {
	size_t n;
	struct {
		char name[API_PARAM_NAME_MAX];
		char value[API_PARAM_MAX + 1];
	} v[API_PARAMS_MAX];
};

/*
 * Match method and the (still percent-encoded) path against table:
 *   0             *ret_route and *ret_params set;
 *   -ENOENT       no pattern matches the path (404, err "not_found");
 *   -EOPNOTSUPP   patterns match but none with this method (405, err
 *                 "method_not_allowed"); *ret_allowed holds the methods
 *                 that would, as a mask of 1u << enum api_method;
 *   -EINVAL       a path parameter is badly encoded, holds NUL or is longer
 *                 than API_PARAM_MAX (400, err "invalid").
 */
int api_route_match(const struct api_route *table, size_t n, enum api_method method,
		    const char *path, const struct api_route **ret_route,
		    struct api_params *ret_params, unsigned *ret_allowed, struct werr *err);
/* "GET, DELETE" for an Allow header; returns buf. */
char *api_allow_format(unsigned allowed, char *buf, size_t len);

/* The one map from a werr code to an HTTP status: invalid 400, not_found
 * 404, method_not_allowed 405, conflict 409, too_large 413, unavailable 503,
 * timeout 504, no_capacity 507, anything else (internal included) 500. */
int api_status_from_code(const char *code);
/* Reason phrase for the statuses this API answers with, or NULL. */
const char *api_status_reason(int status);
/* {"error": {"code", "message", "field"}}; invalid UTF-8 becomes '?'. */
json_t *api_error_json(const struct werr *e);

/* Body and query checks; each fills err (code "invalid" or "too_large"). */
int api_body_check_size(size_t len, struct werr *err);
/* For API_BODY_JSON and API_BODY_JSON_OPT: *ret is the object, or NULL for
 * an optional body that is empty (or only white space). Duplicate keys are
 * refused. */
int api_body_parse_json(const void *buf, size_t len, enum api_body kind, json_t **ret,
			struct werr *err);
/* Every key in q must be one of the space-separated allowed, at most once. */
int api_query_check(const struct evkeyvalq *q, const char *allowed, struct werr *err);
/* "true"/"1" and "false"/"0". */
int api_bool_parse(const char *s, bool *ret);

/*
 * One request, from routing until the answer is sent or the stream ends.
 * Handlers read the public part and pass reply (or stream) to the daemon;
 * the rest belongs to server.c and reply.c.
 */
enum api_call_state {
	API_CALL_WAITING,   /* no answer yet; the daemon may send it later */
	API_CALL_ATTACHING, /* a stream is being subscribed to the daemon */
	API_CALL_STREAMING, /* stream headers sent, chunks flowing */
	API_CALL_DONE,	    /* answered; freed as soon as nothing holds it */
};

struct evhttp_request;
struct evbuffer;
struct api_conn;

struct api_call {
	/* What handlers use. */
	struct reply reply;
	struct stream stream;
	struct daemon *daemon;
	struct caller caller;
	struct api_params params;
	struct evkeyvalq query;
	json_t *body;	 /* API_BODY_JSON(_OPT): the object, or NULL */
	const void *raw; /* API_BODY_RAW: the bytes (valid during the handler) */
	size_t raw_len;

	/* Owned by server.c and reply.c. */
	enum api_call_state state;
	bool held;		    /* the dispatcher still uses it: do not free yet */
	bool ended_early;	    /* the daemon ended the stream while attaching */
	struct evhttp_request *req; /* NULL once the client has gone */
	struct api_conn *conn;	    /* NULL once answered or the client has gone */
	struct daemon_sub *sub;
	struct evbuffer *chunk; /* stream: the bytes handed to evhttp */
	uint64_t started_ns;
	enum api_method method;
	char path[128]; /* for the log: printable, possibly truncated */
};

/* Handlers' view (reply.c). */
const char *api_param(const struct api_call *c, const char *name);
const char *api_query(const struct api_call *c, const char *key);
int api_query_bool(const struct api_call *c, const char *key, bool dflt, bool *ret,
		   struct werr *err);
int api_query_uint(const struct api_call *c, const char *key, uint64_t dflt, uint64_t max,
		   uint64_t *ret, struct werr *err);
/* A streaming handler calls api_stream_prepare, then (if that worked) the
 * daemon's attach or subscribe with &c->stream, then api_stream_begin with
 * the first failure or the daemon's result: an error is answered as JSON,
 * success starts a chunked 200 reply. Bytes the daemon writes during the
 * attach call are kept and sent first. */
int api_stream_prepare(struct api_call *c, struct werr *err);
void api_stream_begin(struct api_call *c, int r, struct daemon_sub *sub, const struct werr *err,
		      const char *content_type);

/* Life cycle (reply.c), used by server.c. */
struct api_call *api_call_new(struct daemon *d, struct evhttp_request *req);
/* Free it if answered and not held. */
void api_call_release(struct api_call *c);
/* The client went away: forget the request, cancel an open stream. */
void api_call_client_gone(struct api_call *c);
/* The answer has been handed to evhttp (server.c): unlink from the
 * connection so that its later close no longer concerns this call. */
void api_conn_detach(struct api_call *c);

/* A request for a VM or operation of another member: forwarded there
 * (true; the answer follows), or false to handle it here. */
bool api_route_forwarded(struct api_call *c, const struct api_route *route,
			 struct evhttp_request *req);

#endif
