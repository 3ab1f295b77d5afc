/*
 * reply: struct api_call, the life of one request after routing. It
 * implements the struct reply and struct stream that daemon/ answers
 * through, and the accessors handlers use for parameters and the query.
 *
 * Lifetime: a call is freed once it is answered (or its stream is over)
 * and the dispatcher no longer holds it. The daemon may answer seconds
 * later; if the client has left by then, server.c has already told the
 * call (api_call_client_gone), which forgot its evhttp request, so a late
 * answer only frees the call. Because a call is freed on its first answer,
 * a second answer can only be caught while the dispatcher still holds the
 * call (a handler answering twice); later ones are use-after-free bugs in
 * the caller that the sanitizer builds catch.
 */
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/http.h>
#include <stddef.h>
#include <string.h>

#include "api/api.h"

#define CALL_OF(ptr, member)                                                                       \
	((struct api_call *)(void *)((char *)(ptr)-offsetof(struct api_call, member)))

/* Sent when even the error cannot be serialized (out of memory). */
static const char oom_body[] =
    "{\"error\":{\"code\":\"internal\",\"message\":\"out of memory\",\"field\":\"\"}}\n";

static void call_free(struct api_call *c)
{
	evhttp_clear_headers(&c->query);
	json_decref(c->body);
	if (c->chunk)
		evbuffer_free(c->chunk);
	free(c);
}

void api_call_release(struct api_call *c)
{
	if (c->state == API_CALL_DONE && !c->held)
		call_free(c);
}

static void call_log(const struct api_call *c, int status, const char *what)
{
	uint64_t us = (now_monotonic_ns() - c->started_ns) / 1000;

	log_debug("%s %s -> %d%s uid=%u %llu.%03llu ms", api_method_to_string(c->method), c->path,
		  status, what, (unsigned)c->caller.uid, (unsigned long long)(us / 1000),
		  (unsigned long long)(us % 1000));
}

/*
 * Mark c answered and hand its request out (NULL if the client has gone).
 * The call leaves its connection first, so that a close that evhttp
 * reports while sending no longer concerns it.
 */
static struct evhttp_request *call_take_request(struct api_call *c)
{
	struct evhttp_request *req = c->req;

	api_conn_detach(c);
	c->req = NULL;
	c->state = API_CALL_DONE;
	return req;
}

/* Whether a send is allowed now; logs the bug otherwise. */
static bool call_can_answer(const struct api_call *c, const char *what)
{
	if (c->state == API_CALL_WAITING)
		return true;
	log_error("bug: %s for %s %s, which is already answered or streaming", what,
		  api_method_to_string(c->method), c->path);
	return false;
}

static void send_body(struct api_call *c, int status, const char *content_type, const void *buf,
		      size_t len, bool newline)
{
	struct evhttp_request *req = call_take_request(c);

	if (req) {
		struct evbuffer *out = evhttp_request_get_output_buffer(req);

		if (content_type)
			evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
					  content_type);
		if (len && (evbuffer_add(out, buf, len) < 0 ||
			    (newline && evbuffer_add(out, "\n", 1) < 0))) {
			evbuffer_drain(out, evbuffer_get_length(out));
			status = 500;
			evbuffer_add(out, oom_body, sizeof(oom_body) - 1);
		}
		evhttp_send_reply(req, status, api_status_reason(status), NULL);
		call_log(c, status, "");
	} else {
		call_log(c, status, " (client gone, not sent)");
	}
	api_call_release(c);
}

static void call_send_json(struct reply *r, int status, json_t *body, const struct werr *err)
{
	struct api_call *c = CALL_OF(r, reply);
	_cleanup_free_ char *text = NULL;
	struct werr bug;

	if (!call_can_answer(c, "second answer")) {
		json_decref(body);
		return;
	}
	if (!err && (status < 200 || status > 299)) {
		log_error("bug: %s %s answered with status %d but no error",
			  api_method_to_string(c->method), c->path, status);
		werr_set(&bug, 0, "internal", "", "internal error (status %d)", status);
		err = &bug;
	}
	if (err) {
		json_decref(body);
		status = api_status_from_code(err->code);
		body = api_error_json(err);
		if (!body) {
			send_body(c, 500, "application/json", oom_body, sizeof(oom_body) - 1,
				  false);
			return;
		}
	}
	if (body) {
		text = json_dumps(body, JSON_COMPACT);
		json_decref(body);
		if (!text) {
			send_body(c, 500, "application/json", oom_body, sizeof(oom_body) - 1,
				  false);
			return;
		}
	}
	send_body(c, status, text ? "application/json" : NULL, text, text ? strlen(text) : 0, true);
}

static void call_send_raw(struct reply *r, const char *content_type, const void *buf, size_t len)
{
	struct api_call *c = CALL_OF(r, reply);

	if (call_can_answer(c, "second answer"))
		send_body(c, 200, content_type, buf, len, false);
}

/* ---- streams ------------------------------------------------------------ */

static int stream_write(struct stream *s, const void *buf, size_t len)
{
	struct api_call *c = CALL_OF(s, stream);
	struct evhttp_connection *evcon;
	size_t queued;

	switch (c->state) {
	case API_CALL_ATTACHING:
		/* Kept until the reply's headers are out (api_stream_begin). */
		if (evbuffer_get_length(c->chunk) + len > API_STREAM_BUFFER_MAX)
			return -ENOBUFS;
		return evbuffer_add(c->chunk, buf, len) < 0 ? -ENOMEM : 0;
	case API_CALL_STREAMING:
		evcon = c->req ? evhttp_request_get_connection(c->req) : NULL;
		if (!evcon)
			return -EPIPE;
		/* A client that stops reading must not make us buffer without
		 * bound: refuse, and the daemon ends the stream. */
		queued = evbuffer_get_length(
		    bufferevent_get_output(evhttp_connection_get_bufferevent(evcon)));
		if (queued + len > API_STREAM_BUFFER_MAX)
			return -ENOBUFS;
		if (len == 0)
			return 0;
		if (evbuffer_add(c->chunk, buf, len) < 0)
			return -ENOMEM;
		evhttp_send_reply_chunk(c->req, c->chunk);
		return 0;
	default:
		log_error("bug: write to the stream of %s %s, which is not open", c->path,
			  api_method_to_string(c->method));
		return -EPIPE;
	}
}

static void stream_end(struct stream *s)
{
	struct api_call *c = CALL_OF(s, stream);
	struct evhttp_request *req;

	switch (c->state) {
	case API_CALL_ATTACHING:
		c->ended_early = true;
		return;
	case API_CALL_STREAMING:
		req = call_take_request(c);
		if (req)
			evhttp_send_reply_end(req);
		log_debug("%s %s: stream ended", api_method_to_string(c->method), c->path);
		api_call_release(c);
		return;
	default:
		log_error("bug: end of the stream of %s %s, which is not open",
			  api_method_to_string(c->method), c->path);
	}
}

int api_stream_prepare(struct api_call *c, struct werr *err)
{
	if (!call_can_answer(c, "stream"))
		return werr_set(err, -EALREADY, "internal", "", "request already answered");
	c->chunk = evbuffer_new();
	if (!c->chunk)
		return werr_set(err, -ENOMEM, "internal", "", "out of memory");
	c->state = API_CALL_ATTACHING;
	return 0;
}

void api_stream_begin(struct api_call *c, int r, struct daemon_sub *sub, const struct werr *err,
		      const char *content_type)
{
	struct werr fallback;

	if (r < 0) {
		if (c->state == API_CALL_ATTACHING)
			c->state = API_CALL_WAITING;
		if (!err || !err->code[0]) {
			werr_set(&fallback, r, "internal", "", "cannot open the stream: %s",
				 strerror(-r));
			err = &fallback;
		}
		reply_error(&c->reply, err);
		return;
	}
	c->sub = sub;
	c->state = API_CALL_STREAMING;
	if (!c->req) {
		/* Cannot happen while the dispatcher holds the call, but if the
		 * client is gone there is nobody to stream to. */
		if (!c->ended_early)
			daemon_sub_cancel(sub);
		c->state = API_CALL_DONE;
		api_call_release(c);
		return;
	}
	evhttp_add_header(evhttp_request_get_output_headers(c->req), "Content-Type", content_type);
	evhttp_send_reply_start(c->req, 200, api_status_reason(200));
	call_log(c, 200, " (stream)");
	if (evbuffer_get_length(c->chunk))
		evhttp_send_reply_chunk(c->req, c->chunk);
	if (c->ended_early)
		stream_end(&c->stream);
}

/* ---- life cycle --------------------------------------------------------- */

struct api_call *api_call_new(struct daemon *d, struct evhttp_request *req)
{
	struct api_call *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->reply.send_json = call_send_json;
	c->reply.send_raw = call_send_raw;
	c->stream.write = stream_write;
	c->stream.end = stream_end;
	c->daemon = d;
	c->req = req;
	c->state = API_CALL_WAITING;
	c->started_ns = now_monotonic_ns();
	TAILQ_INIT(&c->query);
	return c;
}

void api_call_client_gone(struct api_call *c)
{
	/* On a failed write evhttp detaches a request that is still being
	 * answered from its connection and leaves it to us to free. */
	if (c->req && !evhttp_request_get_connection(c->req))
		evhttp_request_free(c->req);
	c->req = NULL;
	c->conn = NULL;
	switch (c->state) {
	case API_CALL_STREAMING:
		c->state = API_CALL_DONE;
		log_debug("%s %s: client left the stream", api_method_to_string(c->method),
			  c->path);
		/* The daemon has not ended the stream (that would have made the
		 * call DONE), so it still writes to it: make it stop. */
		daemon_sub_cancel(c->sub);
		c->sub = NULL;
		api_call_release(c);
		break;
	case API_CALL_WAITING:
		/* The daemon holds c->reply; its answer will free the call. */
		log_debug("%s %s: client left before the answer", api_method_to_string(c->method),
			  c->path);
		break;
	default:
		break;
	}
}

/* ---- what handlers read ------------------------------------------------- */

const char *api_param(const struct api_call *c, const char *name)
{
	for (size_t i = 0; i < c->params.n; i++)
		if (strcmp(c->params.v[i].name, name) == 0)
			return c->params.v[i].value;
	log_error("bug: route of %s has no parameter %s", c->path, name);
	return "";
}

const char *api_query(const struct api_call *c, const char *key)
{
	return evhttp_find_header(&c->query, key);
}

int api_query_bool(const struct api_call *c, const char *key, bool dflt, bool *ret,
		   struct werr *err)
{
	const char *s = api_query(c, key);

	if (!s) {
		*ret = dflt;
		return 0;
	}
	if (api_bool_parse(s, ret) < 0)
		return werr_set(err, -EINVAL, "invalid", key,
				"%s must be true, false, 1 or 0 (got '%.32s')", key, s);
	return 0;
}

int api_query_uint(const struct api_call *c, const char *key, uint64_t dflt, uint64_t max,
		   uint64_t *ret, struct werr *err)
{
	const char *s = api_query(c, key);
	uint64_t v = 0;

	if (!s) {
		*ret = dflt;
		return 0;
	}
	/* Digits only: strtoull would accept signs, spaces and hex. */
	if (*s == '\0')
		goto bad;
	for (const char *p = s; *p; p++) {
		if (*p < '0' || *p > '9' || v > (UINT64_MAX - 9) / 10)
			goto bad;
		v = v * 10 + (uint64_t)(*p - '0');
	}
	if (v > max)
		goto bad;
	*ret = v;
	return 0;
bad:
	return werr_set(err, -EINVAL, "invalid", key,
			"%s must be an integer from 0 to %llu (got '%.32s')", key,
			(unsigned long long)max, s);
}
