/*
 * qga: one request to the QEMU guest agent per connection.
 *
 * The agent's socket belongs to QEMU, which accepts a connection whether or
 * not an agent runs in the guest, and keeps whatever an earlier client left
 * unread in the channel. So every call first resynchronises: it sends 0xFF
 * (the agent drops any half-read request on it) and guest-sync-delimited
 * with a fresh id; the agent answers 0xFF followed by the id. Everything
 * before that answer is stale and dropped. Only then is the real request
 * sent, and from there on the stream is one reply per request.
 *
 * A deadline covers the whole call: a guest without an agent, or a paused
 * one, never answers at all.
 *
 * Every call ends in exactly one call of its done function, always from
 * the event loop and never from inside qga_exec or qga_command, after
 * which the call's memory is gone.
 */
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <stdarg.h>
#include <string.h>
#include <sys/random.h>

#include "qemu/qemu.h"
#include "util/util.h"

/* Bound on one reply line. guest-exec-status carries the whole captured
 * output as base64 (the agent itself captures up to 16 MiB per stream),
 * and the guest is not trusted with more of our memory than this. */
#define QGA_MAX_LINE (24u << 20)
/* What we keep of each output stream. */
#define QGA_OUTPUT_CAP	  (1u << 20)
#define QGA_POLL_FIRST_MS 5 /* doubled after each poll, up to the max */
#define QGA_POLL_MAX_MS	  200
/* guest-shutdown answers nothing when it works; an error comes quickly. */
#define QGA_NO_REPLY_GRACE_MS 500
/* The resync is answered at once by a running agent; waiting the command's
 * whole timeout for it would make a guest without an agent hang a caller
 * for as long as the command may run. */
#define QGA_SYNC_MAX_MS 3000

enum qga_phase {
	QGA_SYNC_WAIT_FF, /* dropping bytes up to the agent's 0xFF */
	QGA_SYNC,	  /* reading lines until the one that returns our id */
	QGA_REQUEST,	  /* the command (or guest-exec) was sent */
	QGA_POLL_WAIT,	  /* guest-exec ran; waiting to ask for its status */
	QGA_POLL,	  /* guest-exec-status was sent */
	QGA_NO_REPLY,	  /* command sent; success unless it objects soon */
};

struct qga_call {
	struct bufferevent *bev;
	struct qmp_framer *framer;
	struct event *deadline;
	struct event *step; /* next status poll, no-reply grace, or early failure */
	enum qga_phase phase;
	char *command; /* what to run once in sync */
	json_t *args;
	bool is_exec;
	bool no_reply;
	json_int_t sync_id;
	json_int_t pid; /* guest pid of guest-exec, once started */
	unsigned poll_ms;
	unsigned timeout_ms;
	unsigned bound_ms; /* the deadline in force: the sync bound, then timeout_ms */
	qga_exec_fn exec_done;
	qga_reply_fn reply_done;
	void *userdata;
	int early_err; /* a failure found before the loop ran, reported by step */
	char early_msg[160];
};

static void call_free(struct qga_call *c)
{
	if (c->bev)
		bufferevent_free(c->bev);
	if (c->deadline)
		event_free(c->deadline);
	if (c->step)
		event_free(c->step);
	qmp_framer_free(c->framer);
	free(c->command);
	json_decref(c->args);
	free(c);
}

static void call_fail(struct qga_call *c, int err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void call_fail(struct qga_call *c, int err, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_debug("qga: %s", msg);
	if (c->is_exec)
		c->exec_done(c->userdata, err, msg, NULL);
	else
		c->reply_done(c->userdata, err, msg, NULL);
	call_free(c);
}

static void call_succeed(struct qga_call *c, json_t *result)
{
	c->reply_done(c->userdata, 0, NULL, result);
	call_free(c);
}

static int call_send(struct qga_call *c, const char *command, json_t *args)
{
	_cleanup_free_ char *text = NULL;
	json_t *obj = json_object();
	int r;

	if (!obj) {
		json_decref(args);
		return -ENOMEM;
	}
	r = json_object_set_new(obj, "execute", json_string(command));
	r |= args ? json_object_set_new(obj, "arguments", args) : 0;
	if (r == 0)
		text = json_dumps(obj, JSON_COMPACT);
	json_decref(obj);
	if (!text || bufferevent_write(c->bev, text, strlen(text)) < 0 ||
	    bufferevent_write(c->bev, "\n", 1) < 0)
		return -ENOMEM;
	return 0;
}

/* ---- base64 ------------------------------------------------------------- */

static int b64_value(unsigned char ch)
{
	if (ch >= 'A' && ch <= 'Z')
		return ch - 'A';
	if (ch >= 'a' && ch <= 'z')
		return ch - 'a' + 26;
	if (ch >= '0' && ch <= '9')
		return ch - '0' + 52;
	if (ch == '+')
		return 62;
	if (ch == '/')
		return 63;
	return -1;
}

/* Standard base64, padding optional. Keeps the first cap bytes (plus a
 * NUL) and says whether there were more. */
static int b64_decode(const char *in, size_t len, size_t cap, char **ret, size_t *ret_len,
		      bool *ret_truncated)
{
	size_t want = len / 4 * 3 + 3, n = 0, total = 0, pad = 0;
	_cleanup_free_ char *out = malloc((want < cap ? want : cap) + 1);
	uint32_t acc = 0;
	int bits = 0;

	if (!out)
		return -ENOMEM;
	for (size_t i = 0; i < len; i++) {
		int v = b64_value((unsigned char)in[i]);
		if (in[i] == '=' && pad < 2) {
			pad++;
			continue;
		}
		if (v < 0 || pad > 0)
			return -EBADMSG;
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (n < cap)
				out[n++] = (char)((acc >> bits) & 0xff);
			total++;
		}
	}
	/* Six bits left over: a lone character in the last group. */
	if (bits >= 6)
		return -EBADMSG;
	out[n] = '\0';
	*ret = TAKE_PTR(out);
	*ret_len = n;
	*ret_truncated = total > cap;
	return 0;
}

/* ---- guest-exec --------------------------------------------------------- */

static void exec_result_clear(struct qga_exec_result *res)
{
	free(res->out);
	free(res->err);
}

static int exec_stream(json_t *status, const char *data_key, const char *trunc_key, char **ret,
		       size_t *ret_len, bool *ret_truncated)
{
	json_t *b64 = json_object_get(status, data_key);
	int r;

	/* Absent when the stream was empty. */
	r = b64_decode(json_is_string(b64) ? json_string_value(b64) : "",
		       json_is_string(b64) ? json_string_length(b64) : 0, QGA_OUTPUT_CAP, ret,
		       ret_len, ret_truncated);
	/* The agent caps what it captures and says so. */
	if (r == 0 && json_is_true(json_object_get(status, trunc_key)))
		*ret_truncated = true;
	return r;
}

static void exec_finish(struct qga_call *c, json_t *status)
{
	struct qga_exec_result res = {.exit_code = -1};
	json_t *sig = json_object_get(status, "signal");
	int r;

	if (json_is_integer(sig) && json_integer_value(sig) > 0)
		res.signal = (int)json_integer_value(sig);
	else
		res.exit_code = (int)json_integer_value(json_object_get(status, "exitcode"));
	r = exec_stream(status, "out-data", "out-truncated", &res.out, &res.out_len,
			&res.out_truncated);
	if (r == 0)
		r = exec_stream(status, "err-data", "err-truncated", &res.err, &res.err_len,
				&res.err_truncated);
	if (r < 0) {
		exec_result_clear(&res);
		call_fail(c, r,
			  r == -ENOMEM ? "out of memory" : "the guest agent sent invalid base64");
		return;
	}
	c->exec_done(c->userdata, 0, NULL, &res);
	exec_result_clear(&res);
	call_free(c);
}

static void exec_poll_later(struct qga_call *c)
{
	struct timeval tv = {.tv_sec = c->poll_ms / 1000, .tv_usec = (c->poll_ms % 1000) * 1000};

	c->phase = QGA_POLL_WAIT;
	evtimer_add(c->step, &tv);
	/* Short commands finish within the first polls; long ones cost at most
	 * five status requests a second. */
	c->poll_ms = c->poll_ms * 2 > QGA_POLL_MAX_MS ? QGA_POLL_MAX_MS : c->poll_ms * 2;
}

static void exec_poll_now(struct qga_call *c)
{
	json_t *args = json_pack("{s:I}", "pid", c->pid);

	c->phase = QGA_POLL;
	if (!args || call_send(c, "guest-exec-status", args) < 0)
		call_fail(c, -ENOMEM, "out of memory");
}

/* ---- protocol ------------------------------------------------------------ */

static void arm_deadline(struct qga_call *c, unsigned ms)
{
	struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};

	c->bound_ms = ms;
	evtimer_add(c->deadline, &tv);
}

/* false when sending failed and the call has ended (c is gone). */
static bool call_send_request(struct qga_call *c)
{
	int r;

	c->phase = c->no_reply ? QGA_NO_REPLY : QGA_REQUEST;
	r = call_send(c, c->command, TAKE_PTR(c->args));
	if (r < 0) {
		call_fail(c, r, "out of memory");
		return false;
	}
	if (c->no_reply) {
		struct timeval tv = {.tv_usec = QGA_NO_REPLY_GRACE_MS * 1000};
		evtimer_add(c->step, &tv);
	}
	return true;
}

/* Returns false when the call has ended (and c is gone). */
static bool call_handle(struct qga_call *c, json_t *msg)
{
	json_t *result = json_object_get(msg, "return");
	json_t *error = json_object_get(msg, "error");

	if (c->phase == QGA_SYNC) {
		if (json_is_integer(result) && json_integer_value(result) == c->sync_id) {
			/* In sync: the command gets its whole timeout from now. */
			arm_deadline(c, c->timeout_ms);
			return call_send_request(c);
		}
		else
			log_debug("qga: dropping a stale reply");
		return true;
	}
	if (c->phase == QGA_POLL_WAIT) {
		log_debug("qga: dropping an unrequested reply");
		return true;
	}
	if (error) {
		const char *desc = json_string_value(json_object_get(error, "desc"));
		call_fail(c, -EREMOTEIO, "guest agent: %s", desc ? desc : "unknown error");
		return false;
	}
	if (!result) {
		call_fail(c, -EBADMSG, "the guest agent sent a reply without a result");
		return false;
	}
	if (!c->is_exec) {
		call_succeed(c, result);
		return false;
	}
	if (c->phase == QGA_REQUEST) {
		json_t *pid = json_object_get(result, "pid");
		if (!json_is_integer(pid)) {
			call_fail(c, -EBADMSG, "guest-exec returned no pid");
			return false;
		}
		c->pid = json_integer_value(pid);
		exec_poll_later(c);
		return true;
	}
	if (json_is_true(json_object_get(result, "exited"))) {
		exec_finish(c, result);
		return false;
	}
	exec_poll_later(c);
	return true;
}

/* Returns false when the call has ended. */
static bool call_drain(struct qga_call *c)
{
	json_t *msg;
	bool go_on;
	int r;

	for (;;) {
		r = qmp_framer_next(c->framer, &msg);
		if (r == 0)
			return true;
		if (r == -EBADMSG && c->phase == QGA_SYNC)
			continue; /* leftovers of an earlier client */
		if (r == -EMSGSIZE) {
			call_fail(c, r, "a guest agent reply exceeds %u MiB", QGA_MAX_LINE >> 20);
			return false;
		}
		if (r < 0) {
			call_fail(c, r, "the guest agent sent a malformed reply");
			return false;
		}
		go_on = call_handle(c, msg);
		json_decref(msg);
		if (!go_on)
			return false;
	}
}

/* Until in sync, 0xFF is the agent's marker: what precedes it is stale,
 * and a new one (another client's sync answer) starts the lines over. */
static bool call_consume(struct qga_call *c, const char *p, size_t n)
{
	while (n > 0) {
		bool syncing = c->phase == QGA_SYNC_WAIT_FF || c->phase == QGA_SYNC;
		const char *ff = syncing ? memchr(p, 0xff, n) : NULL;
		size_t seg = ff ? (size_t)(ff - p) : n;

		if (c->phase != QGA_SYNC_WAIT_FF && seg > 0) {
			if (qmp_framer_feed(c->framer, p, seg) < 0) {
				call_fail(c, -ENOMEM, "out of memory");
				return false;
			}
			if (!call_drain(c))
				return false;
		}
		p += seg;
		n -= seg;
		/* Once in sync (possibly within this segment) a 0xFF is no
		 * marker any more; the next round feeds it as data. */
		if (ff && (c->phase == QGA_SYNC_WAIT_FF || c->phase == QGA_SYNC)) {
			qmp_framer_free(c->framer);
			c->framer = qmp_framer_new(QGA_MAX_LINE);
			if (!c->framer) {
				call_fail(c, -ENOMEM, "out of memory");
				return false;
			}
			c->phase = QGA_SYNC;
			p++;
			n--;
		}
	}
	return true;
}

static void call_on_read(struct bufferevent *bev, void *arg)
{
	struct qga_call *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	char chunk[16384];
	int n;

	while ((n = evbuffer_remove(in, chunk, sizeof(chunk))) > 0)
		if (!call_consume(c, chunk, (size_t)n))
			return;
}

static void call_on_event(struct bufferevent *bev, short what, void *arg)
{
	struct qga_call *c = arg;
	int err = EVUTIL_SOCKET_ERROR();

	/* guest-shutdown may take the whole VM, and the connection, down. */
	if (c->phase == QGA_NO_REPLY) {
		call_succeed(c, NULL);
		return;
	}
	if (what & BEV_EVENT_EOF || err == 0)
		call_fail(c, -ECONNRESET, "the guest agent connection was closed");
	else
		call_fail(c, -err, "guest agent connection error: %s", strerror(err));
}

static void call_on_deadline(evutil_socket_t fd, short what, void *arg)
{
	struct qga_call *c = arg;
	double s = c->bound_ms / 1000.0;

	if (c->phase == QGA_NO_REPLY)
		call_succeed(c, NULL);
	else if (c->is_exec && (c->phase == QGA_POLL_WAIT || c->phase == QGA_POLL))
		call_fail(c, -ETIMEDOUT, "command did not finish within %.1f s", s);
	else
		call_fail(c, -ETIMEDOUT, "guest agent did not answer within %.1f s", s);
}

static void call_on_step(evutil_socket_t fd, short what, void *arg)
{
	struct qga_call *c = arg;

	if (c->early_err)
		call_fail(c, c->early_err, "%s", c->early_msg);
	else if (c->phase == QGA_NO_REPLY)
		call_succeed(c, NULL);
	else if (c->phase == QGA_POLL_WAIT)
		exec_poll_now(c);
}

/* ---- setup ---------------------------------------------------------------- */

static json_int_t sync_id_new(void)
{
	static uint32_t counter;
	uint32_t v;

	/* Random, so that a reply left over from an earlier call (ours or
	 * another process's, before a restart) cannot pass for this one. */
	if (getrandom(&v, sizeof(v), GRND_NONBLOCK) != (ssize_t)sizeof(v))
		v = (uint32_t)now_monotonic_ns() ^ ++counter;
	return (json_int_t)(v & 0x7fffffff);
}

static void call_early_fail(struct qga_call *c, int err, const char *path)
{
	c->early_err = err;
	if (err == -ENOENT)
		snprintf(c->early_msg, sizeof(c->early_msg),
			 "the guest agent socket does not exist (is the VM running?)");
	else if (err == -ECONNREFUSED)
		snprintf(c->early_msg, sizeof(c->early_msg),
			 "nothing listens on the guest agent socket (QEMU is not running)");
	else
		snprintf(c->early_msg, sizeof(c->early_msg),
			 "cannot connect to the guest agent socket: %s", strerror(-err));
	log_debug("qga: connecting to %s: %s", path, strerror(-err));
	event_active(c->step, EV_TIMEOUT, 0);
}

static int call_start(struct event_base *base, const char *path, struct qga_call *c)
{
	json_t *args;
	int fd;

	c->framer = qmp_framer_new(QGA_MAX_LINE);
	c->deadline = evtimer_new(base, call_on_deadline, c);
	c->step = evtimer_new(base, call_on_step, c);
	if (!c->framer || !c->deadline || !c->step)
		return -ENOMEM;
	c->sync_id = sync_id_new();
	c->poll_ms = QGA_POLL_FIRST_MS;
	c->pid = -1;

	fd = qemu_socket_connect(path);
	if (fd < 0) {
		call_early_fail(c, fd, path);
		return 0;
	}
	c->bev = bufferevent_socket_new(base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (!c->bev) {
		close(fd);
		return -ENOMEM;
	}
	bufferevent_setcb(c->bev, call_on_read, NULL, call_on_event, c);
	if (bufferevent_enable(c->bev, EV_READ | EV_WRITE) < 0)
		return -ENOMEM;
	/* The leading 0xFF makes the agent drop a request some earlier client
	 * left half-written. */
	args = json_pack("{s:I}", "id", c->sync_id);
	if (!args || bufferevent_write(c->bev, "\xff", 1) < 0 ||
	    call_send(c, "guest-sync-delimited", args) < 0)
		return -ENOMEM;
	arm_deadline(c, c->timeout_ms < QGA_SYNC_MAX_MS ? c->timeout_ms : QGA_SYNC_MAX_MS);
	return 0;
}

static char *b64_encode(const unsigned char *in, size_t len)
{
	static const char tab[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	char *out = malloc((len + 2) / 3 * 4 + 1), *o = out;

	if (!out)
		return NULL;
	for (size_t i = 0; i < len; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16;
		if (i + 1 < len)
			v |= (uint32_t)in[i + 1] << 8;
		if (i + 2 < len)
			v |= in[i + 2];
		*o++ = tab[v >> 18 & 63];
		*o++ = tab[v >> 12 & 63];
		*o++ = i + 1 < len ? tab[v >> 6 & 63] : '=';
		*o++ = i + 2 < len ? tab[v & 63] : '=';
	}
	*o = '\0';
	return out;
}

static json_t *exec_args(char *const argv[])
{
	json_t *args = json_object(), *arg = json_array();
	int r = args && arg ? 0 : -1;

	for (size_t i = 1; r == 0 && argv[i]; i++)
		r = json_array_append_new(arg, json_string(argv[i]));
	if (r == 0) {
		/* set_new consumes arg either way */
		r = json_object_set_new(args, "path", json_string(argv[0]));
		r |= json_object_set_new(args, "arg", TAKE_PTR(arg));
		r |= json_object_set_new(args, "capture-output", json_true());
	}
	json_decref(arg);
	if (r != 0) {
		json_decref(args);
		return NULL;
	}
	return args;
}

/* Starts a call shaped like `how` (callbacks, kind). Takes args in every
 * case; on failure nothing will be called. */
static int call_run(struct event_base *base, const char *path, const char *command, json_t *args,
		    unsigned timeout_ms, const struct qga_call *how)
{
	struct qga_call *c;
	int r;

	if (!base || !path || !command || timeout_ms == 0 || (args && !json_is_object(args))) {
		json_decref(args);
		return -EINVAL;
	}
	c = malloc(sizeof(*c));
	if (!c) {
		json_decref(args);
		return -ENOMEM;
	}
	*c = *how;
	c->args = args;
	c->timeout_ms = timeout_ms;
	c->command = strdup(command);
	r = c->command ? call_start(base, path, c) : -ENOMEM;
	if (r < 0)
		call_free(c);
	return r;
}

int qga_exec_input(struct event_base *base, const char *path, char *const argv[],
		   const void *input, size_t input_len, unsigned timeout_ms, qga_exec_fn done,
		   void *userdata)
{
	const struct qga_call how = {.is_exec = true, .exec_done = done, .userdata = userdata};
	json_t *args;

	if (!argv || !argv[0] || !done)
		return -EINVAL;
	args = exec_args(argv);
	if (!args)
		return -ENOMEM;
	if (input) {
		char *b64 = b64_encode(input, input_len);
		if (!b64 || json_object_set_new(args, "input-data", json_string(b64)) < 0) {
			free(b64);
			json_decref(args);
			return -ENOMEM;
		}
		free(b64);
	}
	return call_run(base, path, "guest-exec", args, timeout_ms, &how);
}

int qga_exec(struct event_base *base, const char *path, char *const argv[], unsigned timeout_ms,
	     qga_exec_fn done, void *userdata)
{
	return qga_exec_input(base, path, argv, NULL, 0, timeout_ms, done, userdata);
}

int qga_command(struct event_base *base, const char *path, const char *command, json_t *args,
		bool no_reply, unsigned timeout_ms, qga_reply_fn done, void *userdata)
{
	const struct qga_call how = {
	    .no_reply = no_reply, .reply_done = done, .userdata = userdata};

	if (!done) {
		json_decref(args);
		return -EINVAL;
	}
	return call_run(base, path, command, args, timeout_ms, &how);
}
