/*
 * qmp: the QEMU Machine Protocol client.
 *
 * Two layers in one file. The framer is a pure function of the bytes it is
 * fed: it cuts them into lines and parses each line as one JSON object
 * (QMP puts one message per line). The client runs on the daemon's
 * libevent loop: it reads QEMU's greeting, negotiates capabilities, then
 * tags every command with an "id" and matches replies by it, because
 * events may arrive between a command and its reply.
 *
 * Callbacks into the owner can free the client (qmp_free) at any time, so
 * every entry from libevent counts itself in q->depth, and the real free
 * happens when the outermost entry returns.
 *
 * Writing to a socket whose peer has gone raises SIGPIPE; the process
 * must ignore SIGPIPE (the daemon does) and sees EPIPE instead.
 */
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <stdarg.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "qemu/qemu.h"
#include "util/util.h"

/* ---- framer ------------------------------------------------------------ */

struct qmp_framer {
	char *buf;
	size_t start; /* first byte not yet handed out */
	size_t scan;  /* bytes in [start, scan) hold no '\n' */
	size_t len;   /* end of buffered bytes */
	size_t cap;
	size_t max_line;
	bool discarding; /* inside an over-long line: drop bytes up to its '\n' */
};

struct qmp_framer *qmp_framer_new(size_t max_line)
{
	struct qmp_framer *f = calloc(1, sizeof(*f));

	if (f)
		f->max_line = max_line ? max_line : QMP_MAX_LINE;
	return f;
}

void qmp_framer_free(struct qmp_framer *f)
{
	if (!f)
		return;
	free(f->buf);
	free(f);
}

int qmp_framer_feed(struct qmp_framer *f, const void *data, size_t len)
{
	const char *p = data;

	if (f->discarding) {
		const char *nl = memchr(p, '\n', len);
		if (!nl)
			return 0;
		f->discarding = false;
		len -= (size_t)(nl + 1 - p);
		p = nl + 1;
	}
	if (len == 0)
		return 0;
	/* Handing out lines only advances start; the bytes move once here. */
	if (f->start > 0) {
		memmove(f->buf, f->buf + f->start, f->len - f->start);
		f->len -= f->start;
		f->scan -= f->start;
		f->start = 0;
	}
	if (f->cap - f->len < len) {
		size_t cap = f->cap ? f->cap : 4096;
		while (cap - f->len < len) {
			if (cap > SIZE_MAX / 2)
				return -ENOMEM;
			cap *= 2;
		}
		char *nb = realloc(f->buf, cap);
		if (!nb)
			return -ENOMEM;
		f->buf = nb;
		f->cap = cap;
	}
	memcpy(f->buf + f->len, p, len);
	f->len += len;
	return 0;
}

static bool is_blank(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r')
			return false;
	return true;
}

int qmp_framer_next(struct qmp_framer *f, json_t **ret)
{
	for (;;) {
		char *line = f->buf + f->start;
		char *nl =
		    f->scan < f->len ? memchr(f->buf + f->scan, '\n', f->len - f->scan) : NULL;

		if (!nl) {
			f->scan = f->len;
			/* +1: the line may still end in "\r\n", whose '\r' does
			 * not count, so that where the bytes were split never
			 * changes the outcome. */
			if (f->len - f->start <= f->max_line + 1)
				return 0;
			/* No end in sight: drop what we have and the rest of
			 * the line as it arrives, so memory stays bounded. */
			f->start = f->scan = f->len = 0;
			f->discarding = true;
			return -EMSGSIZE;
		}
		size_t n = (size_t)(nl - line);
		f->start = f->scan = (size_t)(nl + 1 - f->buf);
		if (n > 0 && line[n - 1] == '\r')
			n--;
		if (n > f->max_line)
			return -EMSGSIZE;
		if (is_blank(line, n))
			continue;

		json_error_t jerr;
		json_t *msg = json_loadb(line, n, 0, &jerr);
		/* QEMU prints uint64 values as they are; jansson's integers are
		 * int64. Rather than reject such a reply (and leave its command
		 * without an answer), read its numbers as reals. */
		if (!msg && json_error_code(&jerr) == json_error_numeric_overflow)
			msg = json_loadb(line, n, JSON_DECODE_INT_AS_REAL, &jerr);
		if (!msg)
			return -EBADMSG;
		if (!json_is_object(msg)) {
			json_decref(msg);
			return -EBADMSG;
		}
		*ret = msg;
		return 1;
	}
}

/* ---- socket ------------------------------------------------------------ */

int qemu_socket_connect(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	_cleanup_close_ int fd = -1;

	if (!path || strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	/* A Unix stream connect completes or fails at once, even on a
	 * non-blocking socket; EAGAIN means the listen backlog is full. */
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return -errno;
	return TAKE_FD(fd);
}

/* ---- client ------------------------------------------------------------ */

struct qmp_cmd {
	struct qmp_cmd *next;
	uint64_t id;
	char *text; /* the serialized command until it is written */
	qmp_reply_fn fn;
	void *userdata;
};

enum qmp_state { QMP_GREETING, QMP_NEGOTIATING, QMP_READY, QMP_CLOSED };

struct qmp {
	struct bufferevent *bev;
	struct qmp_framer *framer;
	struct qmp_callbacks cb;
	void *userdata;
	enum qmp_state state;
	uint64_t next_id;
	uint64_t caps_id;
	struct qmp_cmd *head, **tail; /* awaiting a reply, oldest first */
	unsigned depth;		      /* nesting of entries from the event loop */
	bool free_requested;
	bool was_ready; /* capabilities were negotiated once */
	char close_reason[128];
};

static void cmd_free(struct qmp_cmd *c)
{
	free(c->text);
	free(c);
}

static void cmds_free(struct qmp_cmd *c)
{
	while (c) {
		struct qmp_cmd *next = c->next;
		cmd_free(c);
		c = next;
	}
}

static void qmp_destroy(struct qmp *q)
{
	if (q->bev)
		bufferevent_free(q->bev);
	qmp_framer_free(q->framer);
	cmds_free(q->head);
	free(q);
}

/* Entries from the event loop bracket themselves with enter/leave. Between
 * them, after any callback into the owner, `alive` says whether to go on. */
static void enter(struct qmp *q)
{
	q->depth++;
}

static void leave(struct qmp *q)
{
	if (--q->depth == 0 && q->free_requested)
		qmp_destroy(q);
}

static bool alive(const struct qmp *q)
{
	return !q->free_requested && q->state != QMP_CLOSED;
}

static void qmp_close(struct qmp *q, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void qmp_close(struct qmp *q, const char *fmt, ...)
{
	struct qmp_error err = {.klass = "Disconnected", .desc = q->close_reason};
	struct qmp_cmd *list;
	va_list ap;

	if (q->state == QMP_CLOSED)
		return;
	q->state = QMP_CLOSED;
	va_start(ap, fmt);
	vsnprintf(q->close_reason, sizeof(q->close_reason), fmt, ap);
	va_end(ap);
	log_debug("qmp: connection closed: %s", q->close_reason);
	bufferevent_free(q->bev);
	q->bev = NULL;

	/* Detach the list first: callbacks may call qmp_execute (which now
	 * fails) or qmp_free (after which nothing more is called). */
	list = q->head;
	q->head = NULL;
	q->tail = &q->head;
	while (list) {
		struct qmp_cmd *c = list;
		list = c->next;
		if (c->fn && !q->free_requested)
			c->fn(q, NULL, &err, c->userdata);
		cmd_free(c);
	}
	if (!q->free_requested && q->cb.on_closed)
		q->cb.on_closed(q, q->userdata);
}

static int qmp_write_line(struct qmp *q, const char *text)
{
	if (bufferevent_write(q->bev, text, strlen(text)) < 0 ||
	    bufferevent_write(q->bev, "\n", 1) < 0)
		return -ENOMEM;
	return 0;
}

static char *qmp_serialize(const char *command, json_t *args, uint64_t id)
{
	json_t *obj = json_object();
	char *text = NULL;
	int r;

	if (!obj) {
		json_decref(args);
		return NULL;
	}
	/* json_object_set_new consumes its value even when it fails, so
	 * every call is made (`|`, not `||`) and args is never leaked. */
	r = json_object_set_new(obj, "execute", json_string(command));
	r |= args ? json_object_set_new(obj, "arguments", args) : 0;
	r |= json_object_set_new(obj, "id", json_integer((json_int_t)id));
	if (r == 0)
		text = json_dumps(obj, JSON_COMPACT);
	json_decref(obj);
	return text;
}

static void qmp_become_ready(struct qmp *q)
{
	q->state = QMP_READY;
	q->was_ready = true;
	for (struct qmp_cmd *c = q->head; c; c = c->next) {
		if (!c->text)
			continue;
		if (qmp_write_line(q, c->text) < 0) {
			qmp_close(q, "out of memory");
			return;
		}
		free(c->text);
		c->text = NULL;
	}
	if (q->cb.on_ready)
		q->cb.on_ready(q, q->userdata);
}

/* Our ids are integers; a peer may echo them back as reals (see the
 * framer), which stay exact far beyond any id we will use. */
static bool id_equals(json_t *id, uint64_t want)
{
	if (json_is_integer(id))
		return json_integer_value(id) == (json_int_t)want;
	return json_is_real(id) && json_real_value(id) == (double)want;
}

static struct qmp_cmd *qmp_take_cmd(struct qmp *q, json_t *id)
{
	for (struct qmp_cmd **pp = &q->head; *pp; pp = &(*pp)->next) {
		struct qmp_cmd *c = *pp;
		if (!c->text && id_equals(id, c->id)) {
			*pp = c->next;
			if (q->tail == &c->next)
				q->tail = pp;
			return c;
		}
	}
	return NULL;
}

static void qmp_error_from(json_t *error, struct qmp_error *ret)
{
	const char *klass = json_string_value(json_object_get(error, "class"));
	const char *desc = json_string_value(json_object_get(error, "desc"));

	ret->klass = klass ? klass : "GenericError";
	ret->desc = desc ? desc : "(no description)";
}

static void qmp_handle_reply(struct qmp *q, json_t *msg, json_t *id)
{
	json_t *result = json_object_get(msg, "return");
	json_t *error = json_object_get(msg, "error");
	struct qmp_error err;
	struct qmp_cmd *c;

	if (!result && !json_is_object(error)) {
		qmp_close(q, "reply without return or error");
		return;
	}
	if (q->state == QMP_NEGOTIATING && id_equals(id, q->caps_id)) {
		if (result) {
			qmp_become_ready(q);
		} else {
			qmp_error_from(error, &err);
			qmp_close(q, "capabilities negotiation failed: %s", err.desc);
		}
		return;
	}
	c = qmp_take_cmd(q, id);
	if (!c) {
		log_debug("qmp: dropping a reply that matches no command");
		return;
	}
	if (c->fn) {
		if (result) {
			c->fn(q, result, NULL, c->userdata);
		} else {
			qmp_error_from(error, &err);
			c->fn(q, NULL, &err, c->userdata);
		}
	}
	cmd_free(c);
}

static void qmp_handle(struct qmp *q, json_t *msg)
{
	json_t *event = json_object_get(msg, "event");
	json_t *id = json_object_get(msg, "id");

	if (q->state == QMP_GREETING) {
		if (!json_is_object(json_object_get(msg, "QMP"))) {
			qmp_close(q, "the peer did not greet with QMP");
			return;
		}
		q->state = QMP_NEGOTIATING;
		q->caps_id = q->next_id++;
		_cleanup_free_ char *text = qmp_serialize("qmp_capabilities", NULL, q->caps_id);
		if (!text || qmp_write_line(q, text) < 0)
			qmp_close(q, "out of memory");
		return;
	}
	if (json_is_string(event)) {
		if (q->cb.on_event)
			q->cb.on_event(q, json_string_value(event), json_object_get(msg, "data"),
				       q->userdata);
		return;
	}
	if (id) {
		qmp_handle_reply(q, msg, id);
		return;
	}
	/* QEMU answers without an id only when it could not read a request
	 * at all, which our well-formed commands never cause. */
	log_warn("qmp: dropping a message that is neither an event nor a reply");
}

static void qmp_drain(struct qmp *q)
{
	json_t *msg;
	int r;

	while (alive(q)) {
		r = qmp_framer_next(q->framer, &msg);
		if (r == 0)
			return;
		if (r == -EMSGSIZE) {
			qmp_close(q, "a message is longer than %zu bytes", (size_t)QMP_MAX_LINE);
		} else if (r < 0) {
			qmp_close(q, "malformed message");
		} else {
			qmp_handle(q, msg);
			json_decref(msg);
		}
	}
}

static void qmp_on_read(struct bufferevent *bev, void *arg)
{
	struct qmp *q = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	char chunk[16384];

	enter(q);
	while (alive(q) && evbuffer_get_length(in) > 0) {
		int n = evbuffer_remove(in, chunk, sizeof(chunk));
		if (n <= 0)
			break;
		if (qmp_framer_feed(q->framer, chunk, (size_t)n) < 0)
			qmp_close(q, "out of memory");
		else
			qmp_drain(q);
	}
	leave(q);
}

static void qmp_on_event(struct bufferevent *bev, short what, void *arg)
{
	struct qmp *q = arg;
	int err = EVUTIL_SOCKET_ERROR();

	enter(q);
	if (what & BEV_EVENT_EOF)
		qmp_close(q, "QEMU closed the connection");
	else if (what & BEV_EVENT_ERROR)
		qmp_close(q, "connection error: %s", strerror(err));
	leave(q);
}

int qmp_connect(struct event_base *base, const char *path, const struct qmp_callbacks *cb,
		void *userdata, struct qmp **ret)
{
	struct qmp *q;
	int fd;

	if (!base || !path || !ret)
		return -EINVAL;
	q = calloc(1, sizeof(*q));
	if (!q)
		return -ENOMEM;
	q->tail = &q->head;
	q->next_id = 1;
	q->userdata = userdata;
	if (cb)
		q->cb = *cb;
	q->framer = qmp_framer_new(QMP_MAX_LINE);
	if (!q->framer) {
		qmp_destroy(q);
		return -ENOMEM;
	}
	fd = qemu_socket_connect(path);
	if (fd < 0) {
		qmp_destroy(q);
		return fd;
	}
	q->bev = bufferevent_socket_new(base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (!q->bev) {
		close(fd);
		qmp_destroy(q);
		return -ENOMEM;
	}
	bufferevent_setcb(q->bev, qmp_on_read, NULL, qmp_on_event, q);
	if (bufferevent_enable(q->bev, EV_READ | EV_WRITE) < 0) {
		qmp_destroy(q);
		return -ENOMEM;
	}
	*ret = q;
	return 0;
}

/* A command with its text, not yet in the list. Takes args. need_ready:
 * refuse (-EAGAIN) until capabilities are negotiated. */
static int cmd_new(struct qmp *q, const char *command, json_t *args, qmp_reply_fn reply,
		   void *userdata, bool need_ready, struct qmp_cmd **ret)
{
	struct qmp_cmd *c;
	int r = 0;

	if (!q || !command || (args && !json_is_object(args)))
		r = -EINVAL;
	else if (!alive(q))
		r = -ENOTCONN;
	else if (need_ready && q->state != QMP_READY)
		r = -EAGAIN;
	else if (!(c = calloc(1, sizeof(*c))))
		r = -ENOMEM;
	if (r < 0) {
		json_decref(args);
		return r;
	}
	c->id = q->next_id++;
	c->fn = reply;
	c->userdata = userdata;
	c->text = qmp_serialize(command, args, c->id);
	if (!c->text) {
		free(c);
		return -ENOMEM;
	}
	*ret = c;
	return 0;
}

int qmp_execute(struct qmp *q, const char *command, json_t *args, qmp_reply_fn reply,
		void *userdata)
{
	struct qmp_cmd *c;
	int r = cmd_new(q, command, args, reply, userdata, false, &c);

	if (r < 0)
		return r;
	/* Before capabilities are negotiated QEMU would refuse the command,
	 * so it waits in the list with its text until then. */
	if (q->state == QMP_READY) {
		if (qmp_write_line(q, c->text) < 0) {
			cmd_free(c);
			return -ENOMEM;
		}
		free(c->text);
		c->text = NULL;
	}
	*q->tail = c;
	q->tail = &c->next;
	return 0;
}

/* Everything queued goes out first, so that the fd arrives with its own
 * command's bytes and not with an earlier command's. */
static int flush_output(struct qmp *q)
{
	struct evbuffer *out = bufferevent_get_output(q->bev);
	evutil_socket_t fd = bufferevent_getfd(q->bev);
	int r = 0;

	/* A socket bufferevent keeps the front of its output frozen so that
	 * only it drains it; drain it here, the same way it does. */
	evbuffer_unfreeze(out, 1);
	while (r == 0 && evbuffer_get_length(out) > 0)
		if (evbuffer_write(out, fd) < 0)
			r = errno == EAGAIN || errno == EWOULDBLOCK ? -EAGAIN : -errno;
	evbuffer_freeze(out, 1);
	return r;
}

static int send_with_fd(struct qmp *q, const char *text, int fd)
{
	size_t len = strlen(text);
	char line[len + 1];
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct iovec iov = {.iov_base = line, .iov_len = len + 1};
	struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf,
			     .msg_controllen = sizeof(u.buf)};
	struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
	ssize_t n;

	memcpy(line, text, len);
	line[len] = '\n';
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	do
		n = sendmsg(bufferevent_getfd(q->bev), &msg, MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	/* The fd went with the first byte; the rest may follow the usual way. */
	if ((size_t)n < len + 1 && bufferevent_write(q->bev, line + n, len + 1 - (size_t)n) < 0)
		return -ENOMEM;
	return 0;
}

int qmp_execute_fd(struct qmp *q, const char *command, json_t *args, int fd, qmp_reply_fn reply,
		   void *userdata)
{
	struct qmp_cmd *c;
	int r;

	if (fd < 0) {
		json_decref(args);
		return -EINVAL;
	}
	r = cmd_new(q, command, args, reply, userdata, true, &c);
	if (r < 0)
		return r;
	r = flush_output(q);
	if (r == 0)
		r = send_with_fd(q, c->text, fd);
	if (r < 0) {
		cmd_free(c);
		return r;
	}
	free(c->text);
	c->text = NULL;
	*q->tail = c;
	q->tail = &c->next;
	return 0;
}

bool qmp_was_ready(const struct qmp *q)
{
	return q && q->was_ready;
}

bool qmp_is_ready(const struct qmp *q)
{
	return q && q->state == QMP_READY && !q->free_requested;
}

/* The owner lets go: every command still waiting learns that it will never
 * be answered, so no reply or context of the owner is stranded. */
static void fail_pending(struct qmp *q)
{
	struct qmp_error err = {.klass = "Disconnected", .desc = "the monitor connection was closed"};
	struct qmp_cmd *list = q->head;

	q->head = NULL;
	q->tail = &q->head;
	while (list) {
		struct qmp_cmd *c = list;
		list = c->next;
		if (c->fn)
			c->fn(q, NULL, &err, c->userdata);
		cmd_free(c);
	}
}

void qmp_free(struct qmp *q)
{
	bool first;

	if (!q)
		return;
	first = !q->free_requested;
	/* From here on alive() is false: callbacks cannot queue new commands. */
	q->free_requested = true;
	if (first) {
		q->depth++;
		fail_pending(q);
		q->depth--;
	}
	if (q->depth > 0) {
		/* Stop reading now; the memory goes when the callback returns. */
		if (q->bev)
			bufferevent_disable(q->bev, EV_READ | EV_WRITE);
		return;
	}
	qmp_destroy(q);
}
