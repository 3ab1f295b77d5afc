/*
 * End-to-end tests of api/: api_start on a socket in a temporary directory
 * and real HTTP requests to it from a client thread (libcurl, or a raw
 * socket where the client must misbehave) while the test's own thread runs
 * the event loop. Below the API sits a fake daemon, defined here, that
 * answers at once, later from a timer, or through streams.
 *
 * cmocka's assertions jump out of the test, so only the loop's thread
 * asserts: the client thread records what it saw and the test checks it
 * once the thread has finished.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <curl/curl.h>
#include <event2/event.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>

#include "api/api.h"

/* ---- the fake daemon ---------------------------------------------------- */

struct daemon {
	struct event_base *base;
	char console_input[64];
	size_t console_input_len;
};

/* Read by the client thread while the loop runs. */
static atomic_int cancels;
static atomic_int late_answered;
static atomic_int flood_refused;

static void sleep_ms(long ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

/* An answer sent from a timer, as the daemon does for slow work. */
struct later {
	struct reply *r;
	json_t *body;
	struct event *ev;
	atomic_int *flag;
};

static void later_fire(evutil_socket_t fd, short what, void *arg)
{
	struct later *l = arg;

	reply_json(l->r, 200, l->body);
	if (l->flag)
		atomic_store(l->flag, 1);
	event_free(l->ev);
	free(l);
}

static void answer_later(struct daemon *d, struct reply *r, long ms, json_t *body, atomic_int *flag)
{
	struct later *l = calloc(1, sizeof(*l));
	struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};

	assert_non_null(l);
	*l = (struct later){.r = r, .body = body, .flag = flag};
	l->ev = evtimer_new(d->base, later_fire, l);
	evtimer_add(l->ev, &tv);
}

void daemon_host_get(struct daemon *d, struct reply *r)
{
	reply_json(r, 200, json_pack("{s:s}", "version", "test"));
}

void daemon_vm_list(struct daemon *d, const struct caller *c, bool local, struct reply *r)
{
	reply_json(r, 200, json_pack("{s:[]}", "vms"));
}

void daemon_vm_create(struct daemon *d, const struct caller *c, json_t *body, struct reply *r)
{
	reply_json(r, 201,
		   json_pack("{s:O, s:I, s:I}", "name", json_object_get(body, "name"), "uid",
			     (json_int_t)c->uid, "pid", (json_int_t)c->pid));
}

/* VM names that make vm_get fail with a code. */
static const struct {
	const char *name, *code;
} failing_vms[] = {
    {"missing", "not_found"}, {"busy", "conflict"},    {"nocap", "no_capacity"},
    {"slowpoke", "timeout"},  {"down", "unavailable"}, {"weird", "bogus"},
    {"bug", "internal"},      {"huge", "too_large"},   {"bad", "invalid"},
};

void daemon_vm_get(struct daemon *d, const char *name, struct reply *r)
{
	struct werr e;

	for (size_t i = 0; i < ARRAY_SIZE(failing_vms); i++)
		if (strcmp(name, failing_vms[i].name) == 0) {
			werr_set(&e, -EIO, failing_vms[i].code, "name", "VM %s: %s", name,
				 failing_vms[i].code);
			reply_error(r, &e);
			return;
		}
	if (strcmp(name, "slow") == 0) {
		answer_later(d, r, 100, json_pack("{s:s}", "name", name), NULL);
	} else if (strcmp(name, "late") == 0) {
		answer_later(d, r, 300, json_pack("{s:s}", "name", name), &late_answered);
	} else if (strcmp(name, "twice") == 0) {
		reply_json(r, 200, json_pack("{s:s}", "name", "first"));
		reply_json(r, 200, json_pack("{s:s}", "name", "second"));
	} else if (strcmp(name, "redirect") == 0) {
		reply_json(r, 302, NULL);
	} else {
		reply_json(r, 200, json_pack("{s:s}", "name", name));
	}
}

void daemon_vm_delete(struct daemon *d, const struct caller *c, const char *name, bool force,
		      struct reply *r)
{
	reply_json(r, 200,
		   json_pack("{s:s, s:b, s:b}", "name", name, "deleted", 1, "force", force));
}

void daemon_vm_action(struct daemon *d, const struct caller *c, const char *name,
		      const char *action, json_t *args, struct reply *r)
{
	reply_json(r, 200,
		   json_pack("{s:s, s:s, s:O?}", "name", name, "action", action, "args", args));
}

void daemon_vm_exec(struct daemon *d, const struct caller *c, const char *name, json_t *body,
		    struct reply *r)
{
	reply_json(r, 200, json_pack("{s:O}", "command", json_object_get(body, "command")));
}

void daemon_console_log(struct daemon *d, const char *name, struct reply *r)
{
	r->send_raw(r, "text/plain", "boot ok\n", 8);
}

void daemon_console_input(struct daemon *d, const struct caller *c, const char *name,
			  const void *buf, size_t len, struct reply *r)
{
	d->console_input_len = len < sizeof(d->console_input) ? len : sizeof(d->console_input);
	memcpy(d->console_input, buf, d->console_input_len);
	reply_json(r, 204, NULL);
}

void daemon_events_list(struct daemon *d, const char *vm, int64_t since_ms, size_t limit,
			struct reply *r)
{
	reply_json(r, 200,
		   json_pack("{s:s?, s:I, s:I}", "vm", vm, "since", (json_int_t)since_ms, "limit",
			     (json_int_t)limit));
}

void daemon_operation_get(struct daemon *d, const char *id, unsigned wait_ms, struct reply *r)
{
	reply_json(r, 200, json_pack("{s:s, s:I}", "id", id, "wait_ms", (json_int_t)wait_ms));
}

void daemon_operation_cancel(struct daemon *d, const char *id, struct reply *r)
{
	reply_json(r, 200, json_pack("{s:s, s:b}", "id", id, "cancelled", 1));
}

void daemon_snapshot_list(struct daemon *d, const char *name, struct reply *r)
{
	reply_json(r, 200, json_pack("{s:s, s:[]}", "vm", name, "snapshots"));
}

void daemon_snapshot_get(struct daemon *d, const char *name, const char *snap,
			 struct reply *r)
{
	reply_json(r, 200, json_pack("{s:s, s:s}", "vm", name, "snapshot", snap));
}

void daemon_snapshot_create(struct daemon *d, const struct caller *c, const char *name,
			    json_t *body, struct reply *r)
{
	reply_json(r, 202, json_pack("{s:s, s:O}", "vm", name, "body", body));
}

void daemon_snapshot_delete(struct daemon *d, const struct caller *c, const char *name,
			    const char *snap, struct reply *r)
{
	reply_json(r, 200, json_pack("{s:s, s:s, s:b}", "vm", name, "name", snap, "deleted", 1));
}

void daemon_snapshot_restore(struct daemon *d, const struct caller *c, const char *name,
			     const char *snap, struct reply *r)
{
	reply_json(r, 202, json_pack("{s:s, s:s}", "vm", name, "restore", snap));
}

void daemon_vm_clone(struct daemon *d, const struct caller *c, const char *name, json_t *body,
		     struct reply *r)
{
	reply_json(r, 202, json_pack("{s:s, s:O}", "source", name, "body", body));
}

void daemon_net_list(struct daemon *d, struct reply *r)
{
	reply_json(r, 200, json_pack("{s:[]}", "networks"));
}

void daemon_net_create(struct daemon *d, const struct caller *c, json_t *body, struct reply *r)
{
	reply_json(r, 201, json_incref(body));
}

void daemon_net_get(struct daemon *d, const char *name, struct reply *r)
{
	reply_json(r, 200, json_pack("{s:s}", "name", name));
}

void daemon_net_delete(struct daemon *d, const struct caller *c, const char *name,
		       struct reply *r)
{
	reply_json(r, 200, json_pack("{s:s}", "name", name));
}

void daemon_nic_add(struct daemon *d, const struct caller *c, const char *name, json_t *body,
		    struct reply *r)
{
	reply_json(r, 201, json_pack("{s:s}", "vm", name));
}

void daemon_nic_remove(struct daemon *d, const struct caller *c, const char *name,
		       const char *nic, struct reply *r)
{
	reply_json(r, 200, json_pack("{s:s, s:s}", "vm", name, "nic", nic));
}

void daemon_vm_migrate(struct daemon *d, const struct caller *c, const char *name, json_t *body,
		       struct reply *r)
{
	reply_json(r, 202, json_pack("{s:s}", "vm", name));
}

void daemon_cluster_get(struct daemon *d, const struct caller *c, struct reply *r)
{
	struct werr err;

	werr_set(&err, -ENOENT, "not_found", "", "not in a cluster");
	reply_error(r, &err);
}

void daemon_cluster_init(struct daemon *d, const struct caller *c, json_t *body, struct reply *r)
{
	struct werr err;

	werr_set(&err, -ENOENT, "not_found", "", "not in a cluster");
	reply_error(r, &err);
}

void daemon_cluster_join(struct daemon *d, const struct caller *c, json_t *body, struct reply *r)
{
	struct werr err;

	werr_set(&err, -ENOENT, "not_found", "", "not in a cluster");
	reply_error(r, &err);
}

void daemon_cluster_members(struct daemon *d, struct reply *r)
{
	struct werr err;

	werr_set(&err, -ENOENT, "not_found", "", "not in a cluster");
	reply_error(r, &err);
}

void daemon_cluster_remove(struct daemon *d, const struct caller *c, const char *member,
			   bool force, struct reply *r)
{
	struct werr err;

	werr_set(&err, -ENOENT, "not_found", "", "not in a cluster");
	reply_error(r, &err);
}

void daemon_cluster_evacuate(struct daemon *d, const struct caller *c, const char *member,
			     json_t *body, struct reply *r)
{
	struct werr err;

	werr_set(&err, -ENOENT, "not_found", "", "not in a cluster");
	reply_error(r, &err);
}

void daemon_cluster_rebalance(struct daemon *d, const struct caller *c, json_t *body,
			      struct reply *r)
{
	struct werr err;

	werr_set(&err, -ENOENT, "not_found", "", "not in a cluster");
	reply_error(r, &err);
}

void daemon_cluster_config(struct daemon *d, const struct caller *c, json_t *body,
			   struct reply *r)
{
	struct werr err;

	werr_set(&err, -ENOENT, "not_found", "", "not in a cluster");
	reply_error(r, &err);
}

void daemon_cluster_adopt(struct daemon *d, const struct caller *c, json_t *body, struct reply *r)
{
	struct werr err;

	werr_set(&err, -ENOENT, "not_found", "", "not in a cluster");
	reply_error(r, &err);
}

void daemon_forward(struct daemon *d, const char *vm, const char *method, const char *uri,
		    json_t *body, const void *raw, size_t raw_len, struct reply *r)
{
	struct werr err;

	werr_set(&err, -ENOENT, "not_found", "", "not in a cluster");
	reply_error(r, &err);
}

void daemon_op_forward(struct daemon *d, const char *method, const char *id, const char *suffix,
		       const char *query, struct reply *r)
{
	struct werr err;

	werr_set(&err, -ENOENT, "not_found", "", "not in a cluster");
	reply_error(r, &err);
}

bool daemon_vm_elsewhere(struct daemon *d, const char *name)
{
	return false;
}

bool daemon_op_elsewhere(struct daemon *d, const char *id)
{
	return false;
}

int daemon_check_writable(struct daemon *d, struct werr *err)
{
	return 0;
}

int daemon_peer_auth(struct daemon *d, const char *authorization)
{
	return -EACCES;
}

void daemon_mig_list(struct daemon *d, struct reply *r)
{
	reply_json(r, 200, json_pack("{s:[]}", "migrations"));
}

void daemon_mig_prepare(struct daemon *d, const struct caller *c, json_t *body,
			struct reply *r)
{
	reply_json(r, 201, json_pack("{s:b}", "auth", c->authorization != NULL));
}

void daemon_mig_get(struct daemon *d, const struct caller *c, const char *id, struct reply *r)
{
	reply_json(r, 200, json_pack("{s:s}", "id", id));
}

void daemon_mig_confirm(struct daemon *d, const struct caller *c, const char *id,
			struct reply *r)
{
	reply_json(r, 200, json_pack("{s:s}", "id", id));
}

void daemon_mig_abort(struct daemon *d, const struct caller *c, const char *id, struct reply *r)
{
	reply_json(r, 200, json_pack("{s:s}", "id", id));
}

void daemon_mig_put_file(struct daemon *d, const struct caller *c, const char *id,
			 const char *file, uint64_t offset, const void *buf, size_t len,
			 struct reply *r)
{
	reply_json(r, 200, json_pack("{s:s, s:I, s:I}", "file", file, "offset", (json_int_t)offset,
				     "length", (json_int_t)len));
}

void daemon_vm_patch(struct daemon *d, const struct caller *c, const char *name, json_t *body,
		     struct reply *r)
{
	reply_json(r, 200, json_pack("{s:s, s:O}", "patched", name, "body", body));
}

void daemon_vm_stats(struct daemon *d, const char *name, int64_t since_ms, bool fresh,
		     struct reply *r)
{
	reply_json(r, 200, json_pack("{s:s, s:I, s:b}", "name", name, "since", (json_int_t)since_ms,
				     "fresh", fresh));
}

void daemon_stats_all(struct daemon *d, bool fresh, struct reply *r)
{
	reply_json(r, 200, json_pack("{s:b}", "fresh", fresh));
}

void daemon_metrics(struct daemon *d, struct reply *r)
{
	static const char text[] = "# TYPE up gauge\nup 1\n";

	r->send_raw(r, "text/plain; version=0.0.4", text, sizeof(text) - 1);
}

void daemon_log_level(struct daemon *d, const struct caller *c, json_t *body, struct reply *r)
{
	reply_json(r, 200, json_incref(body));
}

/* Streams: a subscription writes from a timer until it ends or is cancelled. */
struct daemon_sub {
	struct stream *s;
	struct event *tick;
	int step;
	enum { SUB_HELLO_WORLD, SUB_FOREVER, SUB_FLOOD, SUB_QUIET } kind;
};

static void sub_end(struct daemon_sub *sub)
{
	struct stream *s = sub->s;

	if (sub->tick)
		event_free(sub->tick);
	free(sub);
	s->end(s);
}

static void sub_tick(evutil_socket_t fd, short what, void *arg)
{
	static char block[64 << 10];
	struct daemon_sub *sub = arg;

	switch (sub->kind) {
	case SUB_HELLO_WORLD:
		if (sub->step++ == 0)
			sub->s->write(sub->s, "world", 5);
		else
			sub_end(sub);
		break;
	case SUB_FOREVER:
		sub->s->write(sub->s, "tick\n", 5);
		break;
	case SUB_FLOOD:
		/* The client reads nothing: the API must refuse at its bound. */
		if (sub->s->write(sub->s, block, sizeof(block)) < 0) {
			atomic_store(&flood_refused, 1);
			sub_end(sub);
		}
		break;
	case SUB_QUIET:
		break;
	}
}

static struct daemon_sub *sub_new(struct daemon *d, struct stream *s, int kind, long every_ms)
{
	struct daemon_sub *sub = calloc(1, sizeof(*sub));
	struct timeval tv = {.tv_sec = 0, .tv_usec = every_ms * 1000};

	assert_non_null(sub);
	sub->s = s;
	sub->kind = kind;
	if (every_ms) {
		sub->tick = event_new(d->base, -1, EV_PERSIST, sub_tick, sub);
		event_add(sub->tick, &tv);
	}
	return sub;
}

int daemon_console_attach(struct daemon *d, const char *name, struct stream *s,
			  struct daemon_sub **ret, struct werr *err)
{
	if (strcmp(name, "missing") == 0)
		return werr_set(err, -ENOENT, "not_found", "", "no VM named %s", name);
	if (strcmp(name, "ended") == 0) {
		/* Written and ended within the attach call itself. */
		s->write(s, "bye", 3);
		s->end(s);
		*ret = NULL;
		return 0;
	}
	if (strcmp(name, "forever") == 0) {
		*ret = sub_new(d, s, SUB_FOREVER, 20);
		return 0;
	}
	s->write(s, "hello ", 6);
	*ret = sub_new(d, s, SUB_HELLO_WORLD, 50);
	return 0;
}

int daemon_events_subscribe(struct daemon *d, const char *vm, struct stream *s,
			    struct daemon_sub **ret, struct werr *err)
{
	if (vm && strcmp(vm, "flood") == 0) {
		*ret = sub_new(d, s, SUB_FLOOD, 1);
		return 0;
	}
	s->write(s, "{\"type\":\"hello\"}\n", 17);
	*ret = sub_new(d, s, SUB_QUIET, 0);
	return 0;
}

void daemon_sub_cancel(struct daemon_sub *sub)
{
	assert_non_null(sub);
	if (sub->tick)
		event_free(sub->tick);
	free(sub);
	atomic_fetch_add(&cancels, 1);
}

/* ---- the test environment ----------------------------------------------- */

struct resp {
	CURLcode rc;
	long status;
	char ctype[64];
	char allow[64];
	char body[4096];
	size_t len;
	double seconds;
};

struct env {
	struct event_base *base;
	struct daemon d;
	struct api *api;
	char dir[64];
	char sock[108]; /* sun_path */
	int done[2];
	void (*client)(struct env *e);
	struct resp r[24];
	int n;
	int fds[API_CONN_MAX + 1];
};

static int env_setup(void **state)
{
	struct env *e = calloc(1, sizeof(*e));

	assert_non_null(e);
	strcpy(e->dir, "/tmp/warren-api-XXXXXX");
	assert_non_null(mkdtemp(e->dir));
	snprintf(e->sock, sizeof(e->sock), "%s/run/warren.sock", e->dir);
	e->base = event_base_new();
	e->d.base = e->base;
	assert_int_equal(api_start(e->base, &e->d, e->sock, &e->api), 0);
	atomic_store(&cancels, 0);
	atomic_store(&late_answered, 0);
	atomic_store(&flood_refused, 0);
	*state = e;
	return 0;
}

static int env_teardown(void **state)
{
	struct env *e = *state;
	char run[128];

	api_stop(e->api);
	/* Lets evhttp finish freeing what api_stop closed. */
	event_base_loop(e->base, EVLOOP_NONBLOCK);
	event_base_free(e->base);
	snprintf(run, sizeof(run), "%s/run", e->dir);
	rmdir(run);
	rmdir(e->dir);
	free(e);
	return 0;
}

static void *client_main(void *arg)
{
	struct env *e = arg;

	e->client(e);
	if (write(e->done[1], "x", 1) != 1)
		abort();
	return NULL;
}

static void client_done(evutil_socket_t fd, short what, void *arg)
{
	event_base_loopbreak(arg);
}

/* Run client in a thread and the loop here until it has finished. */
static void run_client(struct env *e, void (*client)(struct env *e))
{
	struct timeval limit = {.tv_sec = 60};
	struct event *done, *timeout;
	pthread_t t;

	assert_int_equal(pipe2(e->done, O_CLOEXEC), 0);
	done = event_new(e->base, e->done[0], EV_READ, client_done, e->base);
	timeout = evtimer_new(e->base, client_done, e->base);
	event_add(done, NULL);
	evtimer_add(timeout, &limit);
	e->client = client;
	assert_int_equal(pthread_create(&t, NULL, client_main, e), 0);
	event_base_dispatch(e->base);
	if (event_pending(done, EV_READ, NULL))
		fail_msg("client did not finish within %ld s", (long)limit.tv_sec);
	pthread_join(t, NULL);
	event_free(done);
	event_free(timeout);
	close(e->done[0]);
	close(e->done[1]);
}

/* ---- the client side ---------------------------------------------------- */

struct xfer {
	struct resp *r;
	size_t abort_after; /* leave once this many body bytes came, if non-zero */
};

static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
	struct xfer *x = arg;
	size_t len = size * n;
	size_t room = sizeof(x->r->body) - 1 - x->r->len;

	memcpy(x->r->body + x->r->len, p, len < room ? len : room);
	x->r->len += len < room ? len : room;
	x->r->body[x->r->len] = '\0';
	if (x->abort_after && x->r->len >= x->abort_after)
		return 0;
	return len;
}

static void header_value(const char *line, size_t len, const char *name, char *out, size_t size)
{
	size_t nl = strlen(name);

	if (len <= nl || strncasecmp(line, name, nl) != 0)
		return;
	line += nl;
	len -= nl;
	while (len && (line[len - 1] == '\r' || line[len - 1] == '\n'))
		len--;
	snprintf(out, size, "%.*s", (int)len, line);
}

static size_t on_header(char *p, size_t size, size_t n, void *arg)
{
	struct xfer *x = arg;

	header_value(p, size * n, "Content-Type: ", x->r->ctype, sizeof(x->r->ctype));
	header_value(p, size * n, "Allow: ", x->r->allow, sizeof(x->r->allow));
	return size * n;
}

struct http_opts {
	const char *body;
	size_t len;
	const char *ctype;
	long timeout_ms;
	size_t abort_after;
};

static struct resp *http(struct env *e, const char *method, const char *path,
			 const struct http_opts *o)
{
	static const struct http_opts none;
	struct resp *r = &e->r[e->n++];
	struct xfer x = {.r = r};
	struct curl_slist *hdrs = NULL;
	char url[1024], ctype[96];
	CURL *h = curl_easy_init();
	uint64_t t0 = now_monotonic_ns();

	o = o ? o : &none;
	x.abort_after = o->abort_after;
	snprintf(url, sizeof(url), "http://warren%s", path);
	snprintf(ctype, sizeof(ctype), "Content-Type: %s",
		 o->ctype ? o->ctype : "application/json");
	hdrs = curl_slist_append(hdrs, ctype);
	hdrs = curl_slist_append(hdrs, "Expect:");
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_UNIX_SOCKET_PATH, e->sock);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	if (strcmp(method, "POST") == 0) {
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, o->body ? o->body : "");
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE,
				 (curl_off_t)(o->body ? (o->len ? o->len : strlen(o->body)) : 0));
	}
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &x);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, &x);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, o->timeout_ms ? o->timeout_ms : 20000L);
	r->rc = curl_easy_perform(h);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r->status);
	r->seconds = (double)(now_monotonic_ns() - t0) / 1e9;
	curl_easy_cleanup(h);
	curl_slist_free_all(hdrs);
	return r;
}

static struct resp *get(struct env *e, const char *path)
{
	return http(e, "GET", path, NULL);
}

static struct resp *post(struct env *e, const char *path, const char *body)
{
	struct http_opts o = {.body = body};

	return http(e, "POST", path, &o);
}

static int raw_connect(const struct env *e)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", e->sock);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		abort();
	return fd;
}

static void raw_send(int fd, const char *s)
{
	if (write(fd, s, strlen(s)) != (ssize_t)strlen(s))
		abort();
}

/* Poll a flag the loop sets; the client thread may sleep, the loop not. */
static bool wait_for(atomic_int *flag, int want, long ms)
{
	for (long waited = 0; atomic_load(flag) < want; waited += 5) {
		if (waited >= ms)
			return false;
		sleep_ms(5);
	}
	return true;
}

/* ---- checks ------------------------------------------------------------- */

static json_t *body_json(const struct resp *r)
{
	json_error_t jerr;
	json_t *j = json_loadb(r->body, r->len, 0, &jerr);

	if (!j)
		fail_msg("body is not JSON (%s): %s", jerr.text, r->body);
	return j;
}

static void assert_json(const struct resp *r, long status, const char *key, const char *value)
{
	json_t *j;

	assert_int_equal(r->rc, CURLE_OK);
	if (r->status != status)
		fail_msg("status %ld, wanted %ld; body %s", r->status, status, r->body);
	assert_string_equal(r->ctype, "application/json");
	assert_true(r->len > 0 && r->body[r->len - 1] == '\n');
	j = body_json(r);
	if (key) {
		json_t *v = json_object_get(j, key);
		char *text = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);

		if (!text || strcmp(text, value) != 0)
			fail_msg("\"%s\" is %s, wanted %s in %s", key, text, value, r->body);
		free(text);
	}
	json_decref(j);
}

static void assert_error(const struct resp *r, long status, const char *code, const char *field,
			 const char *message_part)
{
	json_t *j, *err;
	const char *msg;

	assert_int_equal(r->rc, CURLE_OK);
	if (r->status != status)
		fail_msg("status %ld, wanted %ld; body %s", r->status, status, r->body);
	assert_string_equal(r->ctype, "application/json");
	j = body_json(r);
	err = json_object_get(j, "error");
	assert_string_equal(json_string_value(json_object_get(err, "code")), code);
	if (field)
		assert_string_equal(json_string_value(json_object_get(err, "field")), field);
	msg = json_string_value(json_object_get(err, "message"));
	assert_non_null(msg);
	if (message_part && !strstr(msg, message_part))
		fail_msg("message '%s' lacks '%s'", msg, message_part);
	json_decref(j);
}

/* ---- the tests ---------------------------------------------------------- */

static void client_basic(struct env *e)
{
	get(e, "/v1/host");
	get(e, "/v1/vms");
	post(e, "/v1/vms", "{\"name\": \"web1\", \"cpus\": 2}");
	http(e, "DELETE", "/v1/vms/web1?force=true", NULL);
	http(e, "DELETE", "/v1/vms/web1?force=0", NULL);
	http(e, "DELETE", "/v1/vms/web1", NULL);
	post(e, "/v1/vms/web1/actions/start", "{\"timeout\": 5}");
	post(e, "/v1/vms/web1/actions/reboot", NULL);
	post(e, "/v1/vms/web1/exec", "{\"command\": [\"uname\", \"-a\"]}");
	get(e, "/v1/operations/op1?wait=5");
	get(e, "/v1/events");
	get(e, "/v1/events?vm=web1&since=1700000000000&limit=7&follow=false");
	get(e, "/v1/vms/w%65b1");
	get(e, "/v1/operations/op2");
}

static void test_basic(void **state)
{
	struct env *e = *state;
	char buf[64];

	run_client(e, client_basic);
	assert_json(&e->r[0], 200, "version", "\"test\"");
	assert_string_equal(e->r[0].body, "{\"version\":\"test\"}\n");
	assert_json(&e->r[1], 200, "vms", "[]");
	/* The caller is who connected, from SO_PEERCRED. */
	assert_json(&e->r[2], 201, "name", "\"web1\"");
	assert_json(&e->r[2], 201, "uid", (snprintf(buf, sizeof(buf), "%u", getuid()), buf));
	assert_json(&e->r[2], 201, "pid", (snprintf(buf, sizeof(buf), "%d", getpid()), buf));
	assert_json(&e->r[3], 200, "force", "true");
	assert_json(&e->r[4], 200, "force", "false");
	assert_json(&e->r[5], 200, "force", "false");
	assert_json(&e->r[6], 200, "args", "{\"timeout\":5}");
	assert_json(&e->r[6], 200, "action", "\"start\"");
	assert_json(&e->r[7], 200, "args", "null");
	assert_json(&e->r[8], 200, "command", "[\"uname\",\"-a\"]");
	assert_json(&e->r[9], 200, "wait_ms", "5000");
	assert_json(&e->r[10], 200, "limit", "100");
	assert_json(&e->r[10], 200, "vm", "null");
	assert_json(&e->r[11], 200, "since", "1700000000000");
	assert_json(&e->r[11], 200, "limit", "7");
	assert_json(&e->r[11], 200, "vm", "\"web1\"");
	assert_json(&e->r[12], 200, "name", "\"web1\"");
	assert_json(&e->r[13], 200, "wait_ms", "0");
}

static void client_errors(struct env *e)
{
	struct http_opts big = {.len = API_BODY_MAX + 1};
	char *body = malloc(big.len);

	get(e, "/v1/nope");
	http(e, "PUT", "/v1/vms/web1", NULL);
	post(e, "/v1/vms", "{name: web1");
	memset(body, ' ', big.len);
	body[0] = '{';
	body[big.len - 1] = '}';
	big.body = body;
	http(e, "POST", "/v1/vms", &big);
	free(body);
	http(e, "DELETE", "/v1/vms/web1?forse=1", NULL);
	http(e, "DELETE", "/v1/vms/web1?force=maybe", NULL);
	get(e, "/v1/operations/op1?wait=61");
	get(e, "/v1/events?vm=a&vm=b");
	get(e, "/v1/vms/%zz");
	post(e, "/v1/vms/web1/exec", NULL);
	post(e, "/v1/vms", "[]");
	get(e, "/v1/events?follow=true&since=5");
	get(e, "/v1/events?limit=-1");
	get(e, "/v1/vms/redirect");
	get(e, "/v1/vms/twice");
	post(e, "/v1/vms", "{\"a\": 1, \"a\": 2}");
	http(e, "DELETE", "/v1/vms/web1?force", NULL);
}

static void test_errors(void **state)
{
	struct env *e = *state;

	run_client(e, client_errors);
	assert_error(&e->r[0], 404, "not_found", "", "/v1/nope");
	assert_error(&e->r[1], 405, "method_not_allowed", "", "PUT");
	assert_string_equal(e->r[1].allow, "GET, DELETE, PATCH");
	assert_error(&e->r[2], 400, "invalid", "", "request body is not valid JSON: ");
	assert_error(&e->r[2], 400, "invalid", "", " at line 1 column ");
	assert_error(&e->r[3], 413, "too_large", "", "1 MiB");
	assert_error(&e->r[4], 400, "invalid", "forse", "unknown query parameter");
	assert_error(&e->r[5], 400, "invalid", "force", "maybe");
	assert_error(&e->r[6], 400, "invalid", "wait", "0 to 60");
	assert_error(&e->r[7], 400, "invalid", "vm", "more than once");
	assert_error(&e->r[8], 400, "invalid", "name", "percent-encoded");
	assert_error(&e->r[9], 400, "invalid", "", "missing");
	assert_error(&e->r[10], 400, "invalid", "", "JSON object");
	assert_error(&e->r[11], 400, "invalid", "since", "follow");
	assert_error(&e->r[12], 400, "invalid", "limit", "1000");
	/* A 2xx-less answer without an error is a bug below: 500, not 302. */
	assert_error(&e->r[13], 500, "internal", "", "302");
	/* The second answer is refused; the first one stands. */
	assert_json(&e->r[14], 200, "name", "\"first\"");
	assert_error(&e->r[15], 400, "invalid", "", "duplicate");
	assert_error(&e->r[16], 400, "invalid", "", "malformed");
}

static void client_daemon_errors(struct env *e)
{
	for (size_t i = 0; i < ARRAY_SIZE(failing_vms); i++) {
		char path[64];

		snprintf(path, sizeof(path), "/v1/vms/%s", failing_vms[i].name);
		get(e, path);
	}
}

static void test_daemon_errors(void **state)
{
	static const long status[] = {404, 409, 507, 504, 503, 500, 500, 413, 400};
	struct env *e = *state;

	_Static_assert(ARRAY_SIZE(status) == ARRAY_SIZE(failing_vms), "one status per VM");
	run_client(e, client_daemon_errors);
	for (size_t i = 0; i < ARRAY_SIZE(failing_vms); i++)
		assert_error(&e->r[i], status[i], failing_vms[i].code, "name", failing_vms[i].name);
}

static void client_async(struct env *e)
{
	get(e, "/v1/vms/slow");
	get(e, "/v1/host");
}

static void test_async(void **state)
{
	struct env *e = *state;

	run_client(e, client_async);
	assert_json(&e->r[0], 200, "name", "\"slow\"");
	assert_true(e->r[0].seconds >= 0.09);
	assert_json(&e->r[1], 200, "version", "\"test\"");
}

static void client_leaves_early(struct env *e)
{
	int fd = raw_connect(e);

	raw_send(fd, "GET /v1/vms/late HTTP/1.1\r\nHost: warren\r\n\r\n");
	sleep_ms(50);
	close(fd);
	/* The daemon answers 300 ms after the request, to nobody. */
	if (wait_for(&late_answered, 1, 5000))
		get(e, "/v1/host");
}

static void test_client_leaves_before_answer(void **state)
{
	struct env *e = *state;

	run_client(e, client_leaves_early);
	assert_int_equal(atomic_load(&late_answered), 1);
	assert_int_equal(e->n, 1);
	assert_json(&e->r[0], 200, "version", "\"test\"");
}

static void client_console(struct env *e)
{
	struct http_opts typed = {.body = "ls\n", .ctype = "text/plain"};

	http(e, "POST", "/v1/vms/web1/console", &typed);
	get(e, "/v1/vms/web1/console/log");
	get(e, "/v1/vms/web1/console");
	get(e, "/v1/vms/ended/console");
	get(e, "/v1/vms/missing/console");
}

static void test_console(void **state)
{
	struct env *e = *state;

	run_client(e, client_console);
	assert_int_equal(e->r[0].status, 204);
	assert_int_equal(e->r[0].len, 0);
	assert_int_equal(e->d.console_input_len, 3);
	assert_memory_equal(e->d.console_input, "ls\n", 3);
	assert_int_equal(e->r[1].status, 200);
	assert_string_equal(e->r[1].ctype, "text/plain");
	assert_string_equal(e->r[1].body, "boot ok\n");
	/* Written during the attach, then from the daemon's timer, then ended. */
	assert_int_equal(e->r[2].rc, CURLE_OK);
	assert_int_equal(e->r[2].status, 200);
	assert_string_equal(e->r[2].ctype, "application/octet-stream");
	assert_string_equal(e->r[2].body, "hello world");
	assert_int_equal(e->r[3].rc, CURLE_OK);
	assert_string_equal(e->r[3].body, "bye");
	assert_error(&e->r[4], 404, "not_found", "", "missing");
	assert_int_equal(atomic_load(&cancels), 0);
}

static void client_stream_leaves(struct env *e)
{
	struct http_opts a_bit = {.abort_after = 5};

	http(e, "GET", "/v1/vms/forever/console", &a_bit);
	wait_for(&cancels, 1, 5000);
	http(e, "GET", "/v1/events?follow=true", &a_bit);
	wait_for(&cancels, 2, 5000);
}

static void test_stream_client_leaves(void **state)
{
	struct env *e = *state;

	run_client(e, client_stream_leaves);
	assert_int_equal(e->r[0].status, 200);
	assert_int_equal(e->r[0].rc, CURLE_WRITE_ERROR);
	assert_true(strncmp(e->r[0].body, "tick\n", 5) == 0);
	assert_int_equal(e->r[1].status, 200);
	assert_string_equal(e->r[1].ctype, "application/x-ndjson");
	assert_true(strncmp(e->r[1].body, "{\"type\":\"hello\"}\n", 17) == 0);
	/* Each subscription cancelled exactly once. */
	assert_int_equal(atomic_load(&cancels), 2);
}

static void client_flood(struct env *e)
{
	int fd = raw_connect(e);

	raw_send(fd, "GET /v1/events?follow=true&vm=flood HTTP/1.1\r\nHost: warren\r\n\r\n");
	wait_for(&flood_refused, 1, 20000);
	close(fd);
	get(e, "/v1/host");
}

static void test_stream_bound(void **state)
{
	struct env *e = *state;

	run_client(e, client_flood);
	/* The daemon was refused (and ended the stream) rather than the
	 * server buffering without bound for a client that reads nothing. */
	assert_int_equal(atomic_load(&flood_refused), 1);
	assert_int_equal(atomic_load(&cancels), 0);
	assert_json(&e->r[0], 200, "version", "\"test\"");
}

static void client_many(struct env *e)
{
	struct http_opts quick = {.timeout_ms = 300};

	for (int i = 0; i < API_CONN_MAX; i++)
		e->fds[i] = raw_connect(e);
	/* One more waits in the backlog, unserved... */
	http(e, "GET", "/v1/host", &quick);
	/* ...until a connection closes. */
	close(e->fds[0]);
	get(e, "/v1/host");
	for (int i = 1; i < API_CONN_MAX; i++)
		close(e->fds[i]);
}

static void test_connection_cap(void **state)
{
	struct env *e = *state;

	run_client(e, client_many);
	assert_int_equal(e->r[0].rc, CURLE_OPERATION_TIMEDOUT);
	assert_json(&e->r[1], 200, "version", "\"test\"");
}

static void test_socket_rules(void **state)
{
	struct env *e = *state;
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct api *other = NULL;
	char path[108];
	struct stat st;
	int fd;

	/* Made 0660, in a directory made 0755. */
	assert_int_equal(stat(e->sock, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_int_equal(st.st_mode & 0777, 0660);
	snprintf(path, sizeof(path), "%s/run", e->dir);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0755);

	/* A live server keeps its socket. */
	assert_int_equal(api_start(e->base, &e->d, e->sock, &other), -EADDRINUSE);
	assert_null(other);

	/* A stale socket (nobody listening) is replaced. */
	snprintf(path, sizeof(path), "%s/stale.sock", e->dir);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	close(fd);
	assert_int_equal(api_start(e->base, &e->d, path, &other), 0);
	api_stop(other);
	/* Its socket goes with it. */
	assert_int_equal(stat(path, &st), -1);

	/* Something that is not a socket is left alone. */
	fd = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
	close(fd);
	assert_int_equal(api_start(e->base, &e->d, path, &other), -EEXIST);
	assert_int_equal(stat(path, &st), 0);
	unlink(path);
}

/* The real table: well formed, and every route reachable as written. */
static void test_route_table(void **state)
{
	const struct api_route *table, *found;
	size_t n = api_routes(&table);

	assert_true(n >= 12);
	for (size_t i = 0; i < n; i++) {
		struct api_params params;
		struct werr err = {0};
		char path[128];
		size_t o = 0;

		assert_non_null(table[i].handler);
		assert_true(strncmp(table[i].pattern, "/v1/", 4) == 0);
		/* "{name}" becomes "name" in a concrete path. */
		for (const char *p = table[i].pattern; *p; p++)
			if (*p != '{' && *p != '}')
				path[o++] = *p;
		path[o] = '\0';
		assert_int_equal(
		    api_route_match(table, n, table[i].method, path, &found, &params, NULL, &err),
		    0);
		if (found != &table[i])
			fail_msg("%s %s is shadowed by %s", api_method_to_string(table[i].method),
				 table[i].pattern, found->pattern);
		assert_true(params.n <= API_PARAMS_MAX);
		for (size_t k = 0; k < params.n; k++)
			assert_string_equal(params.v[k].name, params.v[k].value);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_basic, env_setup, env_teardown),
	    cmocka_unit_test_setup_teardown(test_errors, env_setup, env_teardown),
	    cmocka_unit_test_setup_teardown(test_daemon_errors, env_setup, env_teardown),
	    cmocka_unit_test_setup_teardown(test_async, env_setup, env_teardown),
	    cmocka_unit_test_setup_teardown(test_client_leaves_before_answer, env_setup,
					    env_teardown),
	    cmocka_unit_test_setup_teardown(test_console, env_setup, env_teardown),
	    cmocka_unit_test_setup_teardown(test_stream_client_leaves, env_setup, env_teardown),
	    cmocka_unit_test_setup_teardown(test_stream_bound, env_setup, env_teardown),
	    cmocka_unit_test_setup_teardown(test_connection_cap, env_setup, env_teardown),
	    cmocka_unit_test_setup_teardown(test_socket_rules, env_setup, env_teardown),
	    cmocka_unit_test(test_route_table),
	};
	int r;

	if (getenv("WARREN_TEST_DEBUG"))
		log_set_level(LOG_DEBUG);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	r = cmocka_run_group_tests(tests, NULL, NULL);
	curl_global_cleanup();
	return r;
}
