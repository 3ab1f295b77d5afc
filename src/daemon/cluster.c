/*
 * cluster: membership of this daemon in a cluster of warrend members that
 * share etcd. Standalone (no "cluster" setting in the store) nothing here
 * runs.
 *
 * Four times a second the member's tick:
 *  - holds a lease of ttl_s seconds (granted once, kept alive every third
 *    of the TTL) under which /warren/alive/<name> says it is online; a
 *    member whose lease lapses is offline for everyone;
 *  - keeps the view of /warren/ that placement, listing, forwarding and
 *    HA use: a read, then a watch from the revision after it (a full
 *    read every 30 s while the watch runs, every second while it does
 *    not);
 *  - when etcd has answered no renewal sent in the last TTL minus a
 *    quarter of it (at least a second), marks itself lost: changes are
 *    refused and its HA VMs are stopped (fenced) before the lease can
 *    lapse and another member restart them.
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "daemon/cluster.h"

#define TICK_MS 250     /* lease bookkeeping; the view is read every 4th tick */
#define VIEW_TICKS 4
#define FULL_READ_VIEWS 30 /* with the watch on: a full read every 30 s */
#define RECONCILE_VIEWS 5 /* every 5th view, with it */
#define UPDATE_TRIES 12
#define STORAGE_ID_FILE ".warren-storage-id"

int64_t cl_now_ms(void)
{
	return (int64_t)(now_monotonic_ns() / 1000000);
}

json_t *cl_view_value(const struct cluster *cl, const char *prefix, const char *name)
{
	char key[256];

	snprintf(key, sizeof(key), "%s%s", prefix, name);
	return json_object_get(json_object_get(cl->view, key), "value");
}

bool cl_member_online(const struct cluster *cl, const char *name)
{
	if (strcmp(name, cl->name) == 0)
		return !cl->lost && cl->lease;
	return cl_view_value(cl, CL_ALIVE, name) != NULL;
}

const char *cl_member_address(const struct cluster *cl, const char *name)
{
	return json_string_value(json_object_get(cl_view_value(cl, CL_MEMBERS, name), "address"));
}

int cl_member_request(struct daemon *d, const char *member, const char *method, const char *path,
		      json_t *body, const void *raw, size_t raw_len, unsigned timeout_ms,
		      peer_done_fn done, void *ud, struct peer_req **ret)
{
	const char *addr = d->cluster ? cl_member_address(d->cluster, member) : NULL;
	struct peer_addr a;

	if (!addr || peer_addr_parse(addr, &a, NULL) < 0) {
		json_decref(body);
		return -ENOENT;
	}
	return peer_request(d, &a, method, path, body, raw, raw_len, timeout_ms, done, ud, ret);
}

/* ---- settings ------------------------------------------------------------ */

static void cluster_free(struct cluster *cl)
{
	if (!cl)
		return;
	if (cl->tick)
		event_free(cl->tick);
	strv_free(cl->etcd);
	json_decref(cl->labels);
	json_decref(cl->view);
	json_decref(cl->recent);
	json_decref(cl->offline);
	json_decref(cl->adopting);
	free(cl);
}

static json_t *settings_json(const struct daemon *d, const struct cluster *cl)
{
	json_t *etcd = json_array();

	for (size_t i = 0; i < cl->n_etcd; i++)
		json_array_append_new(etcd, json_string(cl->etcd[i]));
	return json_pack("{s:s, s:s, s:o, s:s, s:i, s:O}", "name", cl->name, "address", cl->address,
			 "etcd", etcd, "token", d->cfg.peer_token ? d->cfg.peer_token : "", "ttl_s",
			 (int)cl->ttl_s, "labels", cl->labels);
}

static int storage_id(struct daemon *d, char id[33])
{
	char path[PATH_MAX];
	int fd, k;

	snprintf(path, sizeof(path), "%s/" STORAGE_ID_FILE, d->cfg.storage_dir);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		ssize_t n = read(fd, id, 32);
		close(fd);
		if (n == 32) {
			id[32] = '\0';
			return 0;
		}
	}
	if ((k = id_random_hex(id, 16)) < 0)
		return k;
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0) /* another member made it meanwhile */
		return errno == EEXIST ? storage_id(d, id) : -errno;
	k = write(fd, id, 32) == 32 ? 0 : -EIO;
	close(fd);
	return k;
}

/* The lease lapses at etcd no sooner than ttl after the last renewal we
 * sent that it answered; the member gives up (and fences) a quarter of
 * the TTL, at least a second, before that. */
static int64_t fence_after_ms(const struct cluster *cl)
{
	int64_t ttl = (int64_t)cl->ttl_s * 1000, margin = ttl / 4 > 1000 ? ttl / 4 : 1000;

	return ttl - margin;
}

static void on_tick(evutil_socket_t fd, short what, void *arg);

/* Become a member with these settings (from the store or a request). */
static int cluster_begin(struct daemon *d, json_t *set, struct werr *err)
{
	struct cluster *cl = calloc(1, sizeof(*cl));
	const char *token = json_string_value(json_object_get(set, "token"));
	json_t *e;
	size_t i;
	int k;

	if (!cl)
		return werr_internal(err, -ENOMEM, "joining"), -ENOMEM;
	snprintf(cl->name, sizeof(cl->name), "%s", json_string_value(json_object_get(set, "name")));
	snprintf(cl->address, sizeof(cl->address), "%s",
		 json_string_value(json_object_get(set, "address")));
	cl->ttl_s = (unsigned)json_integer_value(json_object_get(set, "ttl_s"));
	cl->labels = json_incref(json_object_get(set, "labels"));
	if (!cl->labels)
		cl->labels = json_object();
	json_array_foreach(json_object_get(set, "etcd"), i, e)
		if (strv_push(&cl->etcd, json_string_value(e)) == 0)
			cl->n_etcd++;
	cl->view = json_object();
	cl->recent = json_array();
	cl->offline = json_object();
	cl->adopting = json_object();
	cl->tick = event_new(d->base, -1, EV_PERSIST, on_tick, d);
	k = storage_id(d, cl->storage_id);
	if (k < 0 || !cl->tick || !cl->n_etcd || !token || strlen(token) < 16) {
		cluster_free(cl);
		return werr_set(err, k < 0 ? k : -EINVAL, "internal", "",
				"cannot take part in the cluster: %s",
				k < 0 ? strerror(-k) : "incomplete settings");
	}
	free(d->cfg.peer_token);
	d->cfg.peer_token = strdup(token);
	d->cluster = cl;
	return 0;
}

/* Hold the lease and follow the cluster from now on. */
static void cluster_run(struct daemon *d)
{
	struct timeval tv = {.tv_sec = TICK_MS / 1000, .tv_usec = TICK_MS % 1000 * 1000};

	event_add(d->cluster->tick, &tv);
	event_active(d->cluster->tick, EV_TIMEOUT, 0);
}

int cluster_load(struct daemon *d)
{
	_cleanup_free_ char *text = NULL;
	json_t *set;
	struct werr err;
	int k = store_setting_get(d->store, "cluster", &text);

	if (k == -ENOENT)
		return 0;
	if (k < 0)
		return k;
	set = json_loads(text, 0, NULL);
	if (!set)
		return -EBADMSG;
	if (!d->cfg.listen)
		log_warn("cluster: warrend runs without --listen; other members cannot reach it");
	k = cluster_begin(d, set, &err);
	json_decref(set);
	if (k < 0) {
		log_error("cluster: %s", err.message);
		return k;
	}
	log_info("cluster: member %s, etcd %s", d->cluster->name, d->cluster->etcd[0]);
	cluster_run(d);
	return 0;
}

void cluster_fini(struct daemon *d)
{
	if (!d->cluster)
		return;
	peer_cancel(TAKE_PTR(d->cluster->watch));
	if (d->cluster->when_online) /* a join still waiting: answer it as it is */
		d->cluster->when_online(d, d->cluster->when_online_ud);
	cl_jobs_fini(d);
	cluster_free(d->cluster);
	d->cluster = NULL;
}

/* ---- what this member publishes ----------------------------------------- */

static double host_load(struct daemon *d)
{
	FILE *f = fopen("/proc/loadavg", "re");
	double l = 0;
	unsigned cpus = d->inventory.cpu.online ? d->inventory.cpu.online : 1;

	if (f) {
		if (fscanf(f, "%lf", &l) != 1)
			l = 0;
		fclose(f);
	}
	l /= cpus;
	return l > 1 ? 1 : l;
}

static json_t *member_json(struct daemon *d)
{
	struct cluster *cl = d->cluster;
	struct host_alloc cap;

	host_capacity(&d->inventory, &d->capacity, &cap);
	return json_pack("{s:s, s:s, s:O, s:s, s:{s:I, s:I}, s:s}", "name", cl->name, "address",
			 cl->address, "labels", cl->labels, "accel",
			 accel_kind_to_string(d->accel.kind), "capacity", "vcpus",
			 (json_int_t)cap.vcpus, "memory", (json_int_t)cap.memory, "storage",
			 cl->storage_id);
}

static json_t *alive_json(struct daemon *d)
{
	return json_pack("{s:I, s:f}", "heartbeat_ms", (json_int_t)now_realtime_ms(), "load",
			 host_load(d));
}

/* ---- the tick ----------------------------------------------------------- */

static void on_registered(void *ud, json_t *resp, const char *error)
{
	if (error)
		log_warn("cluster: cannot register: %s", error);
}

/* Registered under a new lease: online for the others from now on. */
static void on_online(void *ud, json_t *resp, const char *error)
{
	struct daemon *d = ud;
	struct cluster *cl = d->cluster;
	void (*fn)(struct daemon *d, void *ud);

	on_registered(ud, resp, error);
	if (!cl || error || !(fn = cl->when_online))
		return;
	cl->when_online = NULL;
	fn(d, cl->when_online_ud);
}

static void on_granted(void *ud, json_t *resp, const char *error)
{
	struct daemon *d = ud;
	struct cluster *cl = d->cluster;
	char key[128];

	if (!cl)
		return;
	cl->granting = false;
	if (error || !(cl->lease = etcd_int(json_object_get(resp, "ID")))) {
		log_warn("cluster: cannot get a lease: %s", error ? error : "no ID");
		return;
	}
	cl->lease_ok_ms = cl->keep_sent_ms;
	if (cl->lost)
		log_info("cluster: etcd answers again; member %s online", cl->name);
	cl->lost = false;
	json_t *ops = json_array();
	snprintf(key, sizeof(key), CL_MEMBERS "%s", cl->name);
	json_array_append_new(ops, etcd_op_put(key, member_json(d), 0));
	snprintf(key, sizeof(key), CL_ALIVE "%s", cl->name);
	json_array_append_new(ops, etcd_op_put(key, alive_json(d), cl->lease));
	etcd_txn(d, NULL, ops, NULL, on_online, d);
}

static void on_kept(void *ud, json_t *resp, const char *error)
{
	struct daemon *d = ud;
	struct cluster *cl = d->cluster;
	json_t *res = json_object_get(resp, "result");
	char key[128];

	if (!cl)
		return;
	cl->keeping = false;
	if (error) {
		log_warn("cluster: keepalive: %s", error);
		return;
	}
	if (etcd_int(json_object_get(res, "TTL")) <= 0) {
		log_warn("cluster: the lease of member %s lapsed; taking a new one", cl->name);
		cl->lease = 0;
		return;
	}
	/* etcd renewed the lease at or after the moment we asked. */
	cl->lease_ok_ms = cl->keep_sent_ms;
	if (cl->lost)
		log_info("cluster: etcd answers again");
	cl->lost = false;
	snprintf(key, sizeof(key), CL_ALIVE "%s", cl->name);
	json_t *op = etcd_op_put(key, alive_json(d), cl->lease);
	etcd_call(d, "/v3/kv/put", json_incref(json_object_get(op, "request_put")), on_registered,
		  d);
	json_decref(op);
}

void cl_view_set(struct cluster *cl, json_t *resp)
{
	json_t *view = etcd_kvs(resp), *kept = json_array(), *ev;
	int64_t rev = etcd_int(json_object_get(json_object_get(resp, "header"), "revision"));
	size_t i;

	if (!view || !kept) {
		json_decref(view);
		json_decref(kept);
		return;
	}
	/* Events the watch brought that this read does not have yet. */
	etcd_view_apply(view, cl->recent, rev);
	json_array_foreach(cl->recent, i, ev)
		if (etcd_int(json_object_get(json_object_get(ev, "kv"), "mod_revision")) > rev)
			json_array_append(kept, ev);
	json_decref(cl->recent);
	cl->recent = kept;
	json_decref(cl->view);
	cl->view = view;
	if (rev > cl->view_rev)
		cl->view_rev = rev;
}

/* What follows the view: HA restarts, and now and then reconciliation. */
static void view_work(struct daemon *d)
{
	struct cluster *cl = d->cluster;

	if (cl->lost || !cl->lease)
		return;
	cl_ha_check(d);
	if (++cl->views % RECONCILE_VIEWS == 0)
		cl_reconcile(d);
}

static bool on_watch_line(void *ud, json_t *line)
{
	struct daemon *d = ud;
	struct cluster *cl = d->cluster;
	json_t *res = json_object_get(line, "result"), *events, *ev;
	size_t i;

	if (!cl || !res)
		return cl != NULL;
	if (json_is_true(json_object_get(res, "canceled")) ||
	    etcd_int(json_object_get(res, "compact_revision"))) {
		log_info("cluster: etcd ended the watch (compacted); reading again");
		return false;
	}
	if (json_is_true(json_object_get(res, "created"))) {
		log_debug("cluster: watching etcd from revision %lld", (long long)cl->view_rev + 1);
		cl->watching = true;
	}
	events = json_object_get(res, "events");
	if (etcd_view_apply(cl->view, events, cl->view_rev) > 0)
		json_array_foreach(events, i, ev)
			json_array_append(cl->recent, ev);
	return true;
}

static void on_watch_end(void *ud, int status, json_t *body, const char *error)
{
	struct daemon *d = ud;
	struct cluster *cl = d->cluster;

	if (!cl)
		return;
	cl->watch = NULL;
	cl->watching = false;
	log_info("cluster: the watch on etcd ended (%s); reading again",
		 error ? error : status ? "closed" : "?");
	if (!status && cl->n_etcd > 1)
		cl->etcd_cur = (cl->etcd_cur + 1) % cl->n_etcd;
}

/* Follow /warren/ from the revision after the last read. */
static void watch_start(struct daemon *d)
{
	struct cluster *cl = d->cluster;
	struct peer_addr a = {.no_token = true};
	json_t *req = etcd_range_body(CL_PREFIX, true);

	json_object_set_new(req, "start_revision", json_sprintf("%lld", (long long)cl->view_rev + 1));
	snprintf(a.url, sizeof(a.url), "%s", cl->etcd[cl->etcd_cur]);
	snprintf(a.display, sizeof(a.display), "%s", a.url);
	if (peer_stream(d, &a, "/v3/watch", json_pack("{s:o}", "create_request", req),
			on_watch_line, on_watch_end, d, &cl->watch) < 0)
		cl->watch = NULL;
}

static void on_view(void *ud, json_t *resp, const char *error)
{
	struct daemon *d = ud;
	struct cluster *cl = d->cluster;

	if (!cl)
		return;
	cl->refreshing = false;
	if (error)
		return;
	cl_view_set(cl, resp);
	if (!cl->watch)
		watch_start(d);
	view_work(d);
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	struct daemon *d = arg;
	struct cluster *cl = d->cluster;
	int64_t now = cl_now_ms();

	cl->ticks++;
	if (!cl->lease && !cl->granting) {
		cl->keep_sent_ms = now;
		cl->granting = etcd_call(d, "/v3/lease/grant",
					 json_pack("{s:i}", "TTL", (int)cl->ttl_s), on_granted,
					 d) == 0;
	} else if (cl->lease && !cl->keeping && now - cl->keep_sent_ms >= cl->ttl_s * 1000 / 3) {
		cl->keep_sent_ms = now;
		cl->keeping = etcd_call(d, "/v3/lease/keepalive",
					json_pack("{s:o}", "ID",
						  json_sprintf("%lld", (long long)cl->lease)),
					on_kept, d) == 0;
	}
	/* While the watch follows etcd, read it all only now and then. */
	if (cl->ticks % VIEW_TICKS == 1 && cl->watching && cl->ticks % (VIEW_TICKS * FULL_READ_VIEWS) != 1)
		view_work(d);
	else if (!cl->refreshing && cl->ticks % VIEW_TICKS == 1)
		cl->refreshing = etcd_call(d, "/v3/kv/range", etcd_range_body(CL_PREFIX, true),
					   on_view, d) == 0;
	if (!cl->lost && cl->lease_ok_ms && now - cl->lease_ok_ms > fence_after_ms(cl)) {
		cl->lost = true;
		log_error("cluster: etcd has not answered for %lld ms; refusing changes and "
			  "stopping HA VMs until it does",
			  (long long)(now - cl->lease_ok_ms));
	}
	if (cl->lost)
		cl_fence(d);
}

/* ---- read-modify-write -------------------------------------------------- */

struct cl_update {
	struct daemon *d;
	cl_plan_fn plan;
	cl_done_fn done;
	void *ud;
	unsigned tries;
	bool cached; /* planned on the watched view, not on a read of its own */
};

static void update_read(struct cl_update *u);
static void update_plan(struct cl_update *u);

static void update_end(struct cl_update *u, const struct werr *err)
{
	u->done(u->d, u->ud, err);
	free(u);
}

static void on_update_txn(void *ud, json_t *resp, const char *error)
{
	struct cl_update *u = ud;
	struct werr err;

	if (error) {
		werr_set(&err, -EIO, "unavailable", "", "%s", error);
		update_end(u, &err);
	} else if (json_is_true(json_object_get(resp, "succeeded"))) {
		update_end(u, NULL);
	} else if (u->cached) {
		u->cached = false; /* the watched view lagged: read it */
		update_read(u);
	} else if (++u->tries < UPDATE_TRIES) {
		update_read(u); /* another change came between: plan again */
	} else {
		werr_set(&err, -EAGAIN, "unavailable", "",
			 "the cluster store kept changing; try again");
		update_end(u, &err);
	}
}

static void on_update_read(void *ud, json_t *resp, const char *error)
{
	struct cl_update *u = ud;
	struct cluster *cl = u->d->cluster;
	struct werr err = {0};

	if (error || !cl) {
		werr_set(&err, -EIO, "unavailable", "", "%s", error ? error : "not in a cluster");
		update_end(u, &err);
		return;
	}
	cl_view_set(cl, resp);
	update_plan(u);
}

/* Plan on the view and send the transaction. A plan on the watched view
 * counts only if its transaction succeeds: a refusal or nothing to do
 * may come from a view that lags, so it is planned again on a read. */
static void update_plan(struct cl_update *u)
{
	struct cluster *cl = u->d->cluster;
	struct werr err = {0};
	json_t *plan = u->plan(u->d, cl->view, u->ud, &err);

	if ((!plan || json_array_size(json_object_get(plan, "success")) == 0) && u->cached) {
		json_decref(plan);
		u->cached = false;
		update_read(u);
		return;
	}
	if (!plan) {
		update_end(u, &err);
		return;
	}
	if (json_array_size(json_object_get(plan, "success")) == 0) {
		json_decref(plan);
		update_end(u, NULL);
		return;
	}
	if (etcd_txn(u->d, json_incref(json_object_get(plan, "compare")),
		     json_incref(json_object_get(plan, "success")), NULL, on_update_txn, u) < 0) {
		werr_set(&err, -ENOMEM, "internal", "", "out of memory");
		update_end(u, &err);
	}
	json_decref(plan);
}

static void update_read(struct cl_update *u)
{
	struct werr err;

	if (etcd_call(u->d, "/v3/kv/range", etcd_range_body(CL_PREFIX, true), on_update_read,
		      u) < 0) {
		werr_set(&err, -ENOMEM, "internal", "", "out of memory");
		update_end(u, &err);
	}
}

int cl_update(struct daemon *d, cl_plan_fn plan, cl_done_fn done, void *ud)
{
	struct cl_update *u = calloc(1, sizeof(*u));

	if (!u)
		return -ENOMEM;
	*u = (struct cl_update){.d = d, .plan = plan, .done = done, .ud = ud};
	if (d->cluster && d->cluster->watching) {
		u->cached = true;
		update_plan(u);
	} else {
		update_read(u);
	}
	return 0;
}

void cl_alloc_delta(json_t *view, const char *member, int64_t vcpus, int64_t memory, int vms,
		    json_t *compare, json_t *success)
{
	char key[128];
	json_t *kv, *v;
	int64_t c, m, n;

	snprintf(key, sizeof(key), CL_ALLOC "%s", member);
	kv = json_object_get(view, key);
	v = json_object_get(kv, "value");
	c = json_integer_value(json_object_get(v, "vcpus")) + vcpus;
	m = json_integer_value(json_object_get(v, "memory")) + memory;
	n = json_integer_value(json_object_get(v, "vms")) + vms;
	json_array_append_new(compare, kv ? etcd_cmp_mod(key, json_integer_value(json_object_get(kv, "mod")))
					  : etcd_cmp_created(key, 0));
	json_array_append_new(success,
			      etcd_op_put(key,
					  json_pack("{s:I, s:I, s:I}", "vcpus", (json_int_t)(c < 0 ? 0 : c),
						    "memory", (json_int_t)(m < 0 ? 0 : m), "vms",
						    (json_int_t)(n < 0 ? 0 : n)),
					  0));
}

json_t *cl_vm_record(struct vm_rt *vm, const char *member, json_t *old)
{
	json_t *spec = vm_spec_to_json(vm->spec);
	json_t *rec = json_pack("{s:s, s:s, s:I, s:I, s:s, s:o, s:I}", "member", member, "id", vm->id,
				"vcpus", (json_int_t)vm->spec->cpus, "memory",
				(json_int_t)vm->spec->memory, "state", "ready", "spec",
				spec ?: json_null(), "created_ms", (json_int_t)vm->created_ms);
	const char *keep[] = {"group", "group_policy", "ha", "storage", "placement"};

	for (size_t i = 0; rec && old && i < ARRAY_SIZE(keep); i++)
		if (json_object_get(old, keep[i]))
			json_object_set(rec, keep[i], json_object_get(old, keep[i]));
	if (rec && !json_object_get(rec, "storage"))
		json_object_set_new(rec, "storage", json_string(vm->d->cluster->storage_id));
	return rec;
}

/* ---- members ------------------------------------------------------------- */

json_t *cl_members_json(struct daemon *d)
{
	struct cluster *cl = d->cluster;
	json_t *list = json_array(), *kv;
	const char *key;

	json_object_foreach(cl->view, key, kv) {
		const char *name = cl_under(key, CL_MEMBERS);
		json_t *m = json_object_get(kv, "value"), *alive, *alloc;
		bool self;

		if (!name || !json_is_object(m))
			continue;
		self = strcmp(name, cl->name) == 0;
		alive = cl_view_value(cl, CL_ALIVE, name);
		alloc = cl_view_value(cl, CL_ALLOC, name);
		json_t *j = json_pack(
			"{s:s, s:O?, s:s, s:O?, s:O?, s:O?, s:{s:I, s:I, s:I}, s:O?, s:o, s:b, s:O?}",
			"name", name, "address", json_object_get(m, "address"), "state",
			self && cl->lost			? "lost"
			: json_is_true(json_object_get(m, "draining")) && alive ? "draining"
			: alive					? "online"
								: "offline",
			"labels", json_object_get(m, "labels"), "accel", json_object_get(m, "accel"),
			"capacity", json_object_get(m, "capacity"), "allocated", "vcpus",
			(json_int_t)json_integer_value(json_object_get(alloc, "vcpus")), "memory",
			(json_int_t)json_integer_value(json_object_get(alloc, "memory")), "vms",
			(json_int_t)json_integer_value(json_object_get(alloc, "vms")), "load",
			json_object_get(alive, "load"), "last_heartbeat",
			alive ? json_time_ms(json_integer_value(json_object_get(alive, "heartbeat_ms")))
			      : json_null(),
			"self", self, "storage", json_object_get(m, "storage"));
		json_array_append_new(list, j);
	}
	return list; /* the view is an object sorted by key: members in name order */
}

/* ---- API ----------------------------------------------------------------- */

static json_t *cluster_json(struct daemon *d)
{
	struct cluster *cl = d->cluster;
	json_t *etcd, *config;

	if (!cl)
		return json_pack("{s:b, s:s}", "enabled", 0, "state", "standalone");
	etcd = json_array();
	for (size_t i = 0; i < cl->n_etcd; i++)
		json_array_append_new(etcd, json_string(cl->etcd[i]));
	config = json_deep_copy(json_object_get(json_object_get(cl->view, CL_CONFIG), "value"));
	return json_pack("{s:b, s:s, s:s, s:o, s:s, s:i, s:O, s:s, s:o}", "enabled", 1, "member",
			 cl->name, "address", cl->address, "etcd", etcd, "state",
			 cl->lost ? "lost" : cl->lease ? "online" : "joining", "ttl_s", (int)cl->ttl_s,
			 "labels", cl->labels, "storage", cl->storage_id, "config",
			 config ?: json_object());
}

void daemon_cluster_get(struct daemon *d, const struct caller *c, struct reply *r)
{
	json_t *j = cluster_json(d);

	/* A member asking through the TCP listener (a daemon joining) learns
	 * where etcd is; it proved it holds the token. */
	reply_json(r, 200, j);
}

struct members_ctx {
	struct daemon *d;
	struct reply *r;
};

/* Members as etcd has them now, not as the last tick read them. */
static void on_members_read(void *ud, json_t *resp, const char *error)
{
	struct members_ctx *m = ud;
	struct cluster *cl = m->d->cluster;

	if (cl && !error) {
		cl_view_set(cl, resp);
	}
	if (!cl) {
		struct werr err;
		werr_set(&err, -ENOENT, "not_found", "", "this warrend left the cluster");
		reply_error(m->r, &err);
	} else {
		reply_json(m->r, 200, json_pack("{s:o}", "members", cl_members_json(m->d)));
	}
	free(m);
}

void daemon_cluster_members(struct daemon *d, struct reply *r)
{
	struct members_ctx *m;
	struct werr err;

	if (cl_check_member(d, &err) < 0) {
		reply_error(r, &err);
		return;
	}
	m = calloc(1, sizeof(*m));
	if (m) {
		m->d = d;
		m->r = r;
	}
	if (!m || etcd_call(d, "/v3/kv/range", etcd_range_body(CL_PREFIX, true), on_members_read,
			    m) < 0) {
		free(m);
		/* what the last tick read */
		reply_json(r, 200, json_pack("{s:o}", "members", cl_members_json(d)));
	}
}

/* Check and fill in the name, labels and TTL a member joins with. */
static int member_settings(struct daemon *d, json_t *body, json_t *set, struct werr *err)
{
	json_t *labels = json_object_get(body, "labels"), *v, *ttl = json_object_get(body, "ttl_s");
	const char *name = json_string_value(json_object_get(body, "name")), *k;
	char host[CL_NAME_MAX + 1] = "";

	if (!d->cfg.listen)
		return werr_set(err, -EINVAL, "invalid", "",
				"warrend has no --listen HOST:PORT address: members reach each "
				"other through it; start warrend with one");
	if (!name) {
		gethostname(host, sizeof(host) - 1);
		name = host;
	}
	if (vm_name_validate(name, err) < 0) {
		snprintf(err->field, sizeof(err->field), "name");
		return -EINVAL;
	}
	if (labels && !json_is_object(labels))
		return werr_set(err, -EINVAL, "invalid", "labels", "labels must be an object");
	json_object_foreach(labels, k, v)
		if (!json_is_string(v))
			return werr_set(err, -EINVAL, "invalid", "labels",
					"label %s must be a string", k);
	if (ttl && (!json_is_integer(ttl) || json_integer_value(ttl) < 2 ||
		    json_integer_value(ttl) > 300))
		return werr_set(err, -EINVAL, "invalid", "ttl_s",
				"ttl_s must be a number of seconds from 2 to 300");
	json_object_set_new(set, "name", json_string(name));
	json_object_set_new(set, "address", json_sprintf("http://%s", d->cfg.listen));
	json_object_set_new(set, "labels", labels ? json_incref(labels) : json_object());
	json_object_set_new(set, "ttl_s", json_integer(ttl ? json_integer_value(ttl) : 10));
	return 0;
}

struct join_ctx {
	struct daemon *d;
	struct reply *r;
	json_t *set;
	bool init;
	char *token_shown;
};

static void join_fail(struct join_ctx *j, const struct werr *err)
{
	if (j->d->cluster) { /* begun: undo */
		cluster_fini(j->d);
		store_setting_delete(j->d->store, "cluster");
	}
	reply_error(j->r, err);
	json_decref(j->set);
	free(j->token_shown);
	free(j);
}

static void join_answer(struct daemon *d, void *ud);

static void join_done(struct daemon *d, void *ud, const struct werr *err)
{
	struct join_ctx *j = ud;
	json_t *set;
	char *text;
	int k;

	if (err) {
		join_fail(j, err);
		return;
	}
	set = settings_json(d, d->cluster);
	text = set ? json_dumps(set, JSON_COMPACT) : NULL;
	json_decref(set);
	k = text ? store_setting_put(d->store, "cluster", text) : -ENOMEM;
	free(text);
	if (k < 0) {
		struct werr e;
		werr_internal(&e, k, "recording the cluster");
		join_fail(j, &e);
		return;
	}
	log_info("cluster: %s member %s (etcd %s)", j->init ? "founded the cluster as" : "joined as",
		 d->cluster->name, d->cluster->etcd[0]);
	/* Answered once the others see this member online, so that what the
	 * caller does next (place a VM here) finds it so. */
	d->cluster->when_online = join_answer;
	d->cluster->when_online_ud = j;
	cluster_run(d);
}

static void join_answer(struct daemon *d, void *ud)
{
	struct join_ctx *j = ud;
	json_t *ans = cluster_json(d);

	if (j->token_shown)
		json_object_set_new(ans, "token", json_string(j->token_shown));
	reply_json(j->r, 201, ans);
	json_decref(j->set);
	free(j->token_shown);
	free(j);
}

/* The first write of a member: its registration, the cluster's config
 * when founding it, and a record for each VM it has (refused when a
 * name is taken in the cluster). */
static json_t *plan_join(struct daemon *d, json_t *view, void *ud, struct werr *err)
{
	struct join_ctx *j = ud;
	struct cluster *cl = d->cluster;
	json_t *cmp = json_array(), *ops = json_array(), *kv;
	char key[256];
	int64_t vcpus = 0, mem = 0;
	int n = 0;

	snprintf(key, sizeof(key), CL_MEMBERS "%s", cl->name);
	if (j->init && json_object_get(view, CL_CONFIG)) {
		werr_set(err, -EEXIST, "conflict", "etcd",
			 "etcd holds a Warren cluster already; join it through one of its members");
		goto fail;
	}
	if ((kv = json_object_get(view, key)) && cl_view_value(cl, CL_ALIVE, cl->name)) {
		werr_set(err, -EEXIST, "conflict", "name", "a member named %s is online already",
			 cl->name);
		goto fail;
	}
	json_array_append_new(cmp, kv ? etcd_cmp_mod(key, json_integer_value(json_object_get(kv, "mod")))
				      : etcd_cmp_created(key, 0));
	json_array_append_new(ops, etcd_op_put(key, member_json(d), 0));
	if (j->init) {
		json_array_append_new(cmp, etcd_cmp_created(CL_CONFIG, 0));
		json_array_append_new(
			ops, etcd_op_put(CL_CONFIG,
					 json_pack("{s:s, s:{s:f, s:f, s:f}, s:f}", "strategy", "spread",
						   "weights", "memory", 1.0, "vcpus", 0.0, "load", 0.0,
						   "rebalance_threshold", 0.15),
					 0));
	}
	for (struct vm_rt *vm = d->vms; vm; vm = vm->next) {
		json_t *rec;
		snprintf(key, sizeof(key), CL_VMS "%s", vm->spec->name);
		rec = json_object_get(json_object_get(view, key), "value");
		if (rec && strcmp(json_string_value(json_object_get(rec, "id")) ?: "", vm->id) == 0 &&
		    strcmp(json_string_value(json_object_get(rec, "member")) ?: "", cl->name) == 0)
			continue; /* a member coming back */
		if (rec) {
			werr_set(err, -EEXIST, "conflict", "name",
				 "VM %s here has a name taken in the cluster (on member %s); rename "
				 "or delete one first",
				 vm->spec->name, json_string_value(json_object_get(rec, "member")) ?: "?");
			goto fail;
		}
		json_array_append_new(cmp, etcd_cmp_created(key, 0));
		json_array_append_new(ops, etcd_op_put(key, cl_vm_record(vm, cl->name, NULL), 0));
		vcpus += vm->spec->cpus;
		mem += (int64_t)vm->spec->memory;
		n++;
	}
	if (n)
		cl_alloc_delta(view, cl->name, vcpus, mem, n, cmp, ops);
	return json_pack("{s:o, s:o}", "compare", cmp, "success", ops);
fail:
	json_decref(cmp);
	json_decref(ops);
	return NULL;
}

static void join_start(struct join_ctx *j)
{
	struct werr err;

	if (cluster_begin(j->d, j->set, &err) < 0 ||
	    cl_update(j->d, plan_join, join_done, j) < 0) {
		if (!err.code[0])
			werr_internal(&err, -ENOMEM, "joining");
		join_fail(j, &err);
	}
}

static struct join_ctx *join_new(struct daemon *d, json_t *body, bool init, struct reply *r,
				 struct werr *err)
{
	struct join_ctx *j = calloc(1, sizeof(*j));

	if (d->cluster) {
		free(j);
		werr_set(err, -EEXIST, "conflict", "", "this warrend is member %s of a cluster already",
			 d->cluster->name);
		return NULL;
	}
	if (!json_is_object(body)) {
		free(j);
		werr_set(err, -EINVAL, "invalid", "", "the body must be a JSON object");
		return NULL;
	}
	if (!j || !(j->set = json_object())) {
		free(j);
		werr_internal(err, -ENOMEM, "joining");
		return NULL;
	}
	j->d = d;
	j->r = r;
	j->init = init;
	if (member_settings(d, body, j->set, err) < 0) {
		json_decref(j->set);
		free(j);
		return NULL;
	}
	return j;
}

void daemon_cluster_init(struct daemon *d, const struct caller *c, json_t *body, struct reply *r)
{
	json_t *etcd = json_object_get(body, "etcd"), *e, *list = json_array();
	const char *token = json_string_value(json_object_get(body, "token"));
	struct werr err = {0};
	struct join_ctx *j = join_new(d, body, true, r, &err);
	char tok[49];
	size_t i;

	if (!j) {
		json_decref(list);
		reply_error(r, &err);
		return;
	}
	if (!json_is_array(etcd) || !json_array_size(etcd))
		werr_set(&err, -EINVAL, "invalid", "etcd", "etcd must list at least one URL");
	json_array_foreach(etcd, i, e) {
		struct peer_addr a;
		if (!json_is_string(e) || strncmp(json_string_value(e), "http://", 7) != 0 ||
		    peer_addr_parse(json_string_value(e), &a, &(struct werr){0}) < 0) {
			werr_set(&err, -EINVAL, "invalid", "etcd",
				 "etcd[%zu] is not an http://HOST:PORT URL", i);
			break;
		}
		json_array_append_new(list, json_string(a.url));
	}
	if (!err.code[0] && token && strlen(token) < 16)
		werr_set(&err, -EINVAL, "invalid", "token", "the token must have 16 characters or more");
	if (!err.code[0] && !token && id_random_hex(tok, 24) < 0)
		werr_internal(&err, -EIO, "making a token");
	if (err.code[0]) {
		json_decref(list);
		json_decref(j->set);
		free(j);
		reply_error(r, &err);
		return;
	}
	json_object_set_new(j->set, "etcd", list);
	json_object_set_new(j->set, "token", json_string(token ? token : tok));
	j->token_shown = strdup(token ? token : tok);
	join_start(j);
}

static void on_join_asked(void *ud, int status, json_t *body, const char *error)
{
	struct join_ctx *j = ud;
	struct werr err;
	json_t *etcd = json_object_get(body, "etcd");

	if (status == 401) {
		werr_set(&err, -EACCES, "unauthorized", "token", "the member refused the token");
	} else if (status != 200 || !json_is_array(etcd) || !json_array_size(etcd)) {
		werr_set(&err, -EIO, "unavailable", "address", "cannot ask the member: %s",
			 error ? error
			 : json_is_false(json_object_get(body, "enabled")) ? "it is not in a cluster"
			 : "unexpected answer");
	} else {
		json_object_set(j->set, "etcd", etcd);
		json_object_set_new(j->set, "ttl_s", json_incref(json_object_get(body, "ttl_s")));
		join_start(j);
		return;
	}
	join_fail(j, &err);
}

void daemon_cluster_join(struct daemon *d, const struct caller *c, json_t *body, struct reply *r)
{
	const char *address = json_string_value(json_object_get(body, "address"));
	const char *token = json_string_value(json_object_get(body, "token"));
	struct join_ctx *j;
	struct peer_addr a;
	struct werr err = {0};

	if (!(j = join_new(d, body, false, r, &err))) {
		reply_error(r, &err);
		return;
	}
	if (!token || strlen(token) < 16 || strlen(token) >= sizeof(a.token))
		werr_set(&err, -EINVAL, "invalid", "token", "the cluster's token is required");
	else if (!address || strncmp(address, "http://", 7) != 0 ||
		 peer_addr_parse(address, &a, &err) < 0)
		werr_set(&err, -EINVAL, "invalid", "address",
			 "address must be a member's http://HOST:PORT");
	if (err.code[0]) {
		json_decref(j->set);
		free(j);
		reply_error(r, &err);
		return;
	}
	snprintf(a.token, sizeof(a.token), "%s", token);
	json_object_set_new(j->set, "token", json_string(token));
	if (peer_request(d, &a, "GET", "/v1/cluster", NULL, NULL, 0, 5000, on_join_asked, j, NULL) <
	    0) {
		werr_internal(&err, -ENOMEM, "joining");
		json_decref(j->set);
		free(j);
		reply_error(r, &err);
	}
}

/* ---- config -------------------------------------------------------------- */

struct cfg_ctx {
	struct reply *r;
	json_t *change;
	json_t *result; /* the config the last plan wrote */
};

static json_t *plan_config(struct daemon *d, json_t *view, void *ud, struct werr *err)
{
	struct cfg_ctx *c = ud;
	json_t *kv = json_object_get(view, CL_CONFIG);
	json_t *cfg = json_deep_copy(json_object_get(kv, "value")) ?: json_object();
	json_t *w = json_object_get(c->change, "weights");

	if (json_object_get(c->change, "strategy"))
		json_object_set(cfg, "strategy", json_object_get(c->change, "strategy"));
	if (json_object_get(c->change, "rebalance_threshold"))
		json_object_set(cfg, "rebalance_threshold",
				json_object_get(c->change, "rebalance_threshold"));
	if (w) {
		if (!json_is_object(json_object_get(cfg, "weights")))
			json_object_set_new(cfg, "weights", json_object());
		json_object_update(json_object_get(cfg, "weights"), w);
	}
	json_decref(c->result);
	c->result = json_incref(cfg);
	return json_pack("{s:[o], s:[o]}", "compare",
			 kv ? etcd_cmp_mod(CL_CONFIG, json_integer_value(json_object_get(kv, "mod")))
			    : etcd_cmp_created(CL_CONFIG, 0),
			 "success", etcd_op_put(CL_CONFIG, cfg, 0));
}

static void config_done(struct daemon *d, void *ud, const struct werr *err)
{
	struct cfg_ctx *c = ud;

	if (err)
		reply_error(c->r, err);
	else
		reply_json(c->r, 200, json_incref(c->result));
	json_decref(c->change);
	json_decref(c->result);
	free(c);
}

static int check_number(json_t *v, const char *field, double lo, double hi, struct werr *err)
{
	if (!v)
		return 0;
	if (!json_is_number(v) || json_number_value(v) < lo || json_number_value(v) > hi)
		return werr_set(err, -EINVAL, "invalid", field, "%s must be a number from %g to %g",
				field, lo, hi);
	return 0;
}

int cl_check_member(struct daemon *d, struct werr *err)
{
	if (!d->cluster)
		return werr_set(err, -EBUSY, "conflict", "",
				"this warrend is not in a cluster (warren cluster init or join)");
	return 0;
}

void daemon_cluster_config(struct daemon *d, const struct caller *caller, json_t *body,
			   struct reply *r)
{
	const char *s = json_string_value(json_object_get(body, "strategy")), *k;
	json_t *w = json_object_get(body, "weights"), *v;
	struct werr err = {0};
	struct cfg_ctx *c;

	if (cl_check_member(d, &err) < 0)
		goto fail;
	json_object_foreach(body, k, v)
		if (strcmp(k, "strategy") && strcmp(k, "weights") && strcmp(k, "rebalance_threshold")) {
			werr_set(&err, -EINVAL, "invalid", k,
				 "unknown key %s (strategy, weights, rebalance_threshold)", k);
			goto fail;
		}
	if (json_object_get(body, "strategy") &&
	    (!s || (strcmp(s, "spread") != 0 && strcmp(s, "pack") != 0))) {
		werr_set(&err, -EINVAL, "invalid", "strategy", "strategy must be spread or pack");
		goto fail;
	}
	if (w && !json_is_object(w)) {
		werr_set(&err, -EINVAL, "invalid", "weights", "weights must be an object");
		goto fail;
	}
	json_object_foreach(w, k, v) {
		char field[64];
		snprintf(field, sizeof(field), "weights.%s", k);
		if (strcmp(k, "memory") && strcmp(k, "vcpus") && strcmp(k, "load")) {
			werr_set(&err, -EINVAL, "invalid", field,
				 "unknown weigher %s (memory, vcpus, load)", k);
			goto fail;
		}
		if (check_number(v, field, 0, 100, &err) < 0)
			goto fail;
	}
	if (check_number(json_object_get(body, "rebalance_threshold"), "rebalance_threshold", 0.01,
			 1, &err) < 0)
		goto fail;
	c = calloc(1, sizeof(*c));
	if (!c) {
		werr_internal(&err, -ENOMEM, "configuring");
		goto fail;
	}
	c->r = r;
	c->change = json_incref(body);
	if (cl_update(d, plan_config, config_done, c) < 0) {
		json_decref(c->change);
		free(c);
		werr_internal(&err, -ENOMEM, "configuring");
		goto fail;
	}
	return;
fail:
	reply_error(r, &err);
}

/* ---- remove -------------------------------------------------------------- */

struct remove_ctx {
	struct reply *r;
	char member[CL_NAME_MAX + 1];
	bool force;
};

static json_t *plan_remove(struct daemon *d, json_t *view, void *ud, struct werr *err)
{
	struct remove_ctx *c = ud;
	struct cluster *cl = d->cluster;
	json_t *cmp = json_array(), *ops = json_array(), *kv;
	const char *key;
	char k[256];
	size_t held = 0;

	snprintf(k, sizeof(k), CL_MEMBERS "%s", c->member);
	if (!json_object_get(view, k)) {
		werr_set(err, -ENOENT, "not_found", "member", "no member named %s", c->member);
		goto fail;
	}
	if (strcmp(c->member, cl->name) != 0 && cl_view_value(cl, CL_ALIVE, c->member)) {
		werr_set(err, -EBUSY, "conflict", "member",
			 "%s is online; remove it from itself (warren cluster remove %s on that "
			 "host) or stop it first",
			 c->member, c->member);
		goto fail;
	}
	json_object_foreach(view, key, kv) {
		json_t *rec = json_object_get(kv, "value");
		if (!cl_under(key, CL_VMS) ||
		    strcmp(json_string_value(json_object_get(rec, "member")) ?: "", c->member) != 0)
			continue;
		held++;
		json_array_append_new(ops, etcd_op_del(key));
	}
	if (held && !c->force) {
		werr_set(err, -EBUSY, "conflict", "member",
			 "%s holds %zu VM%s; evacuate it first (warren cluster evacuate %s), or "
			 "--force to forget them",
			 c->member, held, held == 1 ? "" : "s", c->member);
		goto fail;
	}
	json_array_append_new(ops, etcd_op_del(k));
	snprintf(k, sizeof(k), CL_ALLOC "%s", c->member);
	json_array_append_new(ops, etcd_op_del(k));
	snprintf(k, sizeof(k), CL_ALIVE "%s", c->member);
	json_array_append_new(ops, etcd_op_del(k));
	snprintf(k, sizeof(k), CL_MEMBERS "%s", c->member);
	json_array_append_new(cmp, etcd_cmp_mod(k, json_integer_value(json_object_get(
							  json_object_get(view, k), "mod"))));
	return json_pack("{s:o, s:o}", "compare", cmp, "success", ops);
fail:
	json_decref(cmp);
	json_decref(ops);
	return NULL;
}

static void remove_done(struct daemon *d, void *ud, const struct werr *err)
{
	struct remove_ctx *c = ud;

	if (err) {
		reply_error(c->r, err);
	} else {
		log_info("cluster: member %s removed", c->member);
		if (strcmp(c->member, d->cluster->name) == 0) {
			/* This member left: standalone again, its lease gone. */
			if (d->cluster->lease)
				etcd_call(d, "/v3/lease/revoke",
					  json_pack("{s:o}", "ID",
						    json_sprintf("%lld", (long long)d->cluster->lease)),
					  on_registered, d);
			cluster_fini(d);
			store_setting_delete(d->store, "cluster");
		}
		reply_json(c->r, 204, NULL);
	}
	free(c);
}

void daemon_cluster_remove(struct daemon *d, const struct caller *caller, const char *member,
			   bool force, struct reply *r)
{
	struct remove_ctx *c;
	struct werr err;

	if (cl_check_member(d, &err) < 0 || !(c = calloc(1, sizeof(*c)))) {
		if (d->cluster)
			werr_internal(&err, -ENOMEM, "removing");
		reply_error(r, &err);
		return;
	}
	c->r = r;
	c->force = force;
	snprintf(c->member, sizeof(c->member), "%s", member);
	if (cl_update(d, plan_remove, remove_done, c) < 0) {
		free(c);
		werr_internal(&err, -ENOMEM, "removing");
		reply_error(r, &err);
	}
}

/* ---- for the API layer --------------------------------------------------- */

int daemon_check_writable(struct daemon *d, struct werr *err)
{
	if (d->cluster && d->cluster->lost)
		return werr_set(err, -EIO, "unavailable", "",
				"this member has lost the cluster store (etcd): its lease may lapse, "
				"so changes are refused until etcd answers again");
	return 0;
}

int daemon_peer_auth(struct daemon *d, const char *authorization)
{
	const char *tok = d->cfg.peer_token;
	unsigned char diff = 0;
	size_t n;

	if (!tok || !authorization || strncmp(authorization, "Bearer ", 7) != 0 ||
	    strlen(authorization + 7) != (n = strlen(tok)))
		return -EACCES;
	for (size_t i = 0; i < n; i++)
		diff |= (unsigned char)(authorization[7 + i] ^ tok[i]);
	return diff ? -EACCES : 0;
}

int peer_addr_resolve(struct daemon *d, const char *s, struct peer_addr *ret, struct werr *err)
{
	const char *addr;

	if (d->cluster && s && *s && !strchr(s, ':') && !strchr(s, '/')) {
		addr = cl_member_address(d->cluster, s);
		if (!addr)
			return werr_set(err, -ENOENT, "not_found", "to", "no member named %s", s);
		if (peer_addr_parse(addr, ret, err) < 0)
			return -EINVAL;
		snprintf(ret->display, sizeof(ret->display), "%s", s);
		return 0;
	}
	return peer_addr_parse(s, ret, err);
}
