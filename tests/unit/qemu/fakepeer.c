/*
 * fakepeer: the scripted QMP / guest agent peer of the unit tests (see
 * fakepeer.h). It reuses the QMP framer for its own input, which the
 * framer's own tests cover separately.
 */
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "fakepeer.h"
#include "qemu/qemu.h"
#include "util/util.h"

#define MAX_RECEIVED 32

struct fakepeer {
	struct event_base *base;
	const struct fp_step *script;
	size_t pc;
	char dir[64];
	char path[96];
	int lfd;
	struct event *accept_ev;
	struct bufferevent *bev;
	struct qmp_framer *framer;
	json_t *received[MAX_RECEIVED];
	unsigned n_received;
	unsigned ff_count;
	bool done;
	bool closing;
	char error[256];
};

static void peer_fail(struct fakepeer *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void peer_fail(struct fakepeer *p, const char *fmt, ...)
{
	va_list ap;

	if (p->error[0])
		return;
	va_start(ap, fmt);
	vsnprintf(p->error, sizeof(p->error), fmt, ap);
	va_end(ap);
}

/* Text of the step with every @N replaced by the N-th received id. */
static char *expand(struct fakepeer *p, const char *text, size_t *ret_len)
{
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);

	for (const char *c = text; *c; c++) {
		if (c[0] == '@' && c[1] >= '1' && c[1] <= '9') {
			json_t *m = fakepeer_received(p, (unsigned)(c[1] - '0'));
			json_t *id = json_object_get(m, "id");
			if (!id)
				id = json_object_get(json_object_get(m, "arguments"), "id");
			char *s = id ? json_dumps(id, JSON_ENCODE_ANY) : NULL;
			fputs(s ? s : "null", f);
			free(s);
			c++;
		} else {
			fputc(*c, f);
		}
	}
	fclose(f);
	*ret_len = len;
	return out;
}

static void peer_hang_up(struct fakepeer *p)
{
	if (p->bev) {
		bufferevent_free(p->bev);
		p->bev = NULL;
	}
}

/* Runs steps until one has to wait for input. */
static void peer_run(struct fakepeer *p)
{
	while (!p->done && p->bev) {
		const struct fp_step *s = &p->script[p->pc];
		size_t len;
		json_t *msg;
		int r;

		switch (s->op) {
		case FP_END:
			p->done = true;
			return;
		case FP_CLOSE:
			/* After what was sent has gone out (peer_on_write). */
			p->closing = true;
			bufferevent_disable(p->bev, EV_READ);
			if (evbuffer_get_length(bufferevent_get_output(p->bev)) == 0)
				peer_hang_up(p);
			p->pc++;
			p->done = true; /* nothing can follow a hang-up */
			return;
		case FP_SEND: {
			char *text = expand(p, s->arg, &len);
			bufferevent_write(p->bev, text, len);
			free(text);
			p->pc++;
			break;
		}
		case FP_RECV:
			r = qmp_framer_next(p->framer, &msg);
			if (r == 0)
				return;
			if (r < 0) {
				peer_fail(p, "step %zu: unreadable input (%d)", p->pc, r);
				continue;
			}
			if (p->n_received < MAX_RECEIVED)
				p->received[p->n_received++] = json_incref(msg);
			const char *cmd = json_string_value(json_object_get(msg, "execute"));
			if (!cmd || strcmp(cmd, s->arg) != 0)
				peer_fail(p, "step %zu: expected %s, got %s", p->pc, s->arg,
					  cmd ? cmd : "(none)");
			json_decref(msg);
			p->pc++;
			break;
		}
	}
}

static void peer_on_read(struct bufferevent *bev, void *arg)
{
	struct fakepeer *p = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	char chunk[4096];
	int n;

	while ((n = evbuffer_remove(in, chunk, sizeof(chunk))) > 0) {
		/* The agent treats 0xFF as "forget the partial request". */
		size_t k = 0;
		for (int i = 0; i < n; i++)
			if ((unsigned char)chunk[i] != 0xff)
				chunk[k++] = chunk[i];
			else
				p->ff_count++;
		qmp_framer_feed(p->framer, chunk, k);
	}
	peer_run(p);
}

static void peer_on_write(struct bufferevent *bev, void *arg)
{
	struct fakepeer *p = arg;

	if (p->closing)
		peer_hang_up(p);
}

static void peer_on_event(struct bufferevent *bev, short what, void *arg)
{
	struct fakepeer *p = arg;

	/* The client hung up; whatever the script still expects fails. */
	peer_hang_up(p);
}

static void peer_on_accept(evutil_socket_t fd, short what, void *arg)
{
	struct fakepeer *p = arg;
	int cfd = accept4(p->lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);

	if (cfd < 0)
		return;
	if (p->bev || p->pc > 0) {
		close(cfd); /* one connection per script */
		return;
	}
	p->bev = bufferevent_socket_new(p->base, cfd, BEV_OPT_CLOSE_ON_FREE);
	bufferevent_setcb(p->bev, peer_on_read, peer_on_write, peer_on_event, p);
	bufferevent_enable(p->bev, EV_READ | EV_WRITE);
	peer_run(p);
}

struct fakepeer *fakepeer_new(struct event_base *base, const struct fp_step *script)
{
	struct fakepeer *p = calloc(1, sizeof(*p));
	struct sockaddr_un sa = {.sun_family = AF_UNIX};

	if (!p)
		return NULL;
	p->base = base;
	p->script = script;
	p->lfd = -1;
	snprintf(p->dir, sizeof(p->dir), "/tmp/warren-test-XXXXXX");
	if (!mkdtemp(p->dir)) {
		free(p);
		return NULL;
	}
	snprintf(p->path, sizeof(p->path), "%s/peer.sock", p->dir);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", p->path);
	p->framer = qmp_framer_new(QMP_MAX_LINE);
	p->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (!p->framer || p->lfd < 0 || bind(p->lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(p->lfd, 4) < 0) {
		fakepeer_free(p);
		return NULL;
	}
	p->accept_ev = event_new(base, p->lfd, EV_READ | EV_PERSIST, peer_on_accept, p);
	event_add(p->accept_ev, NULL);
	return p;
}

void fakepeer_free(struct fakepeer *p)
{
	if (!p)
		return;
	peer_hang_up(p);
	if (p->accept_ev)
		event_free(p->accept_ev);
	if (p->lfd >= 0)
		close(p->lfd);
	qmp_framer_free(p->framer);
	for (unsigned i = 0; i < p->n_received; i++)
		json_decref(p->received[i]);
	unlink(p->path);
	rmdir(p->dir);
	free(p);
}

const char *fakepeer_path(const struct fakepeer *p)
{
	return p->path;
}

bool fakepeer_done(const struct fakepeer *p)
{
	return p->done;
}

json_t *fakepeer_received(const struct fakepeer *p, unsigned n)
{
	return n >= 1 && n <= p->n_received ? p->received[n - 1] : NULL;
}

unsigned fakepeer_ff_count(const struct fakepeer *p)
{
	return p->ff_count;
}

const char *fakepeer_error(const struct fakepeer *p)
{
	return p->error[0] ? p->error : NULL;
}

static void loop_tick(evutil_socket_t fd, short what, void *arg)
{
	event_base_loopbreak(arg);
}

bool loop_until(struct event_base *base, const bool *flag, unsigned max_ms)
{
	/* Wakes the loop every 10 ms to look at the flag, so callbacks need
	 * not know how the test waits. */
	struct timeval tick = {.tv_usec = 10 * 1000};
	struct event *ev = event_new(base, -1, EV_PERSIST, loop_tick, base);
	uint64_t deadline = now_monotonic_ns() + (uint64_t)max_ms * 1000000;

	event_add(ev, &tick);
	while (!*flag && now_monotonic_ns() < deadline)
		event_base_loop(base, EVLOOP_ONCE);
	event_free(ev);
	return *flag;
}
