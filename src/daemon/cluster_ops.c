/*
 * cluster_ops: work across members. Evacuation and rebalancing are jobs
 * (operations with progress that can be cancelled) that ask a member to
 * migrate one VM at a time to the member placement chose, and follow that
 * migration's operation there. High availability: the first online member
 * by name restarts the HA VMs of a member whose lease lapsed, each on a
 * member that sees the same storage, once the lapsed member has had time
 * to fence itself; the transaction that moves the record decides which
 * member runs it, so it runs once.
 */
#include <string.h>

#include "cluster/rebalance.h"
#include "cluster/sched.h"
#include "daemon/cluster.h"

#define HA_GRACE_MS 3000    /* after the lapse is seen: the fenced member is down */
#define ADOPT_RETRY_MS 30000
#define JOB_POLL_S 20
#define JOB_MAX_MOVES 64


/* ---- jobs --------------------------------------------------------------- */

struct cl_job {
	struct daemon *d;
	struct cl_job *next;
	struct op *op;
	char member[CL_NAME_MAX + 1]; /* evacuated; "" for a rebalance */
	json_t *moves;                /* [{"vm", "from", "to", "status", "error"}] */
	size_t cur;
	bool cancel;
	struct peer_req *req;
	char mig_op[80];              /* the migration's operation on the source */
	int failed;
	struct reply *r;              /* answered once the job has begun */
};

static void job_next(struct cl_job *j);

static void job_unlink(struct cl_job *j)
{
	struct cluster *cl = j->d->cluster;

	for (struct cl_job **p = &cl->jobs; *p; p = &(*p)->next)
		if (*p == j) {
			*p = j->next;
			break;
		}
	peer_cancel(j->req);
	json_decref(j->moves);
	free(j);
}

void cl_jobs_fini(struct daemon *d)
{
	while (d->cluster->jobs)
		job_unlink(d->cluster->jobs);
}

static json_t *plan_drain(struct daemon *d, json_t *view, void *ud, struct werr *err)
{
	struct cl_job *j = ud;
	char key[256];
	json_t *kv, *m;

	snprintf(key, sizeof(key), CL_MEMBERS "%s", j->member);
	kv = json_object_get(view, key);
	if (!kv) {
		werr_set(err, -ENOENT, "not_found", "member", "no member named %s", j->member);
		return NULL;
	}
	m = json_deep_copy(json_object_get(kv, "value"));
	json_object_set_new(m, "draining", json_boolean(j->op != NULL));
	return json_pack("{s:[o], s:[o]}", "compare",
			 etcd_cmp_mod(key, json_integer_value(json_object_get(kv, "mod"))), "success",
			 etcd_op_put(key, m, 0));
}

static void undrained(struct daemon *d, void *ud, const struct werr *err)
{
	struct cl_job *j = ud;

	if (err)
		log_warn("cluster: cannot take %s out of draining: %s", j->member, err->message);
	job_unlink(j);
}

static void job_end(struct cl_job *j)
{
	struct werr err;
	size_t n = json_array_size(j->moves);

	op_set_result(j->op, json_pack("{s:O}", "moves", j->moves));
	op_progress(j->op, 100, "done", -1, -1);
	if (j->cancel) {
		werr_set(&err, -ECANCELED, "cancelled", "", "cancelled after %zu of %zu moves", j->cur,
			 n);
		op_finish(j->op, &err, NULL);
	} else if (j->failed) {
		werr_set(&err, -EIO, "failed", "", "%d of %zu moves failed", j->failed, n);
		op_finish(j->op, &err, NULL);
	} else {
		char msg[96];
		snprintf(msg, sizeof(msg), "%zu VM%s moved", n, n == 1 ? "" : "s");
		op_finish(j->op, NULL, msg);
	}
	j->op = NULL;
	if (j->member[0] && cl_update(j->d, plan_drain, undrained, j) == 0)
		return;
	job_unlink(j);
}

static json_t *job_move(struct cl_job *j)
{
	return json_array_get(j->moves, j->cur);
}

static void move_done(struct cl_job *j, const char *status, const char *error)
{
	json_t *mv = job_move(j);

	json_object_set_new(mv, "status", json_string(status));
	if (error)
		json_object_set_new(mv, "error", json_string(error));
	if (strcmp(status, "done") != 0 && strcmp(status, "cancelled") != 0)
		j->failed++;
	log_info("cluster: move of %s from %s to %s: %s%s%s",
		 json_string_value(json_object_get(mv, "vm")),
		 json_string_value(json_object_get(mv, "from")),
		 json_string_value(json_object_get(mv, "to")) ?: "?", status, error ? ": " : "",
		 error ? error : "");
	j->req = NULL;
	j->mig_op[0] = '\0';
	j->cur++;
	job_next(j);
}

static int member_request(struct cl_job *j, const char *member, const char *method,
			  const char *path, json_t *body, peer_done_fn done)
{
	return cl_member_request(j->d, member, method, path, body, NULL, 0,
				 (JOB_POLL_S + 10) * 1000, done, j, &j->req);
}

static void on_mig_op(void *ud, int status, json_t *body, const char *error)
{
	struct cl_job *j = ud;
	const char *st = json_string_value(json_object_get(body, "status"));
	json_t *mv = job_move(j);
	char path[160];

	j->req = NULL;
	if (status != 200 || !st) {
		move_done(j, "failed", error ? error : "lost the migration's operation");
		return;
	}
	if (strcmp(st, "running") != 0) {
		json_t *e = json_object_get(body, "error");
		move_done(j, strcmp(st, "succeeded") == 0 ? "done" : st,
			  json_string_value(json_object_get(e, "message")));
		return;
	}
	op_progress(j->op,
		    100.0 * ((double)j->cur + json_number_value(json_object_get(
						       json_object_get(body, "progress"), "percent")) /
						       100.0) /
			    (double)json_array_size(j->moves),
		    NULL, -1, -1);
	snprintf(path, sizeof(path), "/v1/operations/%s?wait=%d", j->mig_op, JOB_POLL_S);
	if (member_request(j, json_string_value(json_object_get(mv, "from")), "GET", path, NULL,
			   on_mig_op) < 0)
		move_done(j, "failed", "cannot reach the source");
}

static void on_migrate_asked(void *ud, int status, json_t *body, const char *error)
{
	struct cl_job *j = ud;
	json_t *op = json_object_get(body, "operation");
	char why[400];

	j->req = NULL;
	if (status != 202 || !json_string_value(json_object_get(op, "id"))) {
		snprintf(why, sizeof(why), "%s",
			 json_string_value(json_object_get(json_object_get(body, "error"), "message"))
				 ?: error ?: "refused");
		move_done(j, "failed", why);
		return;
	}
	snprintf(j->mig_op, sizeof(j->mig_op), "%s", json_string_value(json_object_get(op, "id")));
	on_mig_op(j, 200, op, NULL);
}

static void job_next(struct cl_job *j)
{
	struct daemon *d = j->d;
	struct cluster *cl = d->cluster;
	json_t *mv = job_move(j), *rec;
	const char *vm, *from, *to;
	char chosen[CL_NAME_MAX + 1], path[160], msg[200];
	struct werr err;

	if (!mv) {
		job_end(j);
		return;
	}
	vm = json_string_value(json_object_get(mv, "vm"));
	from = json_string_value(json_object_get(mv, "from"));
	if (j->cancel) {
		move_done(j, "cancelled", NULL);
		return;
	}
	rec = cl_view_value(cl, CL_VMS, vm);
	if (!rec || strcmp(json_string_value(json_object_get(rec, "member")) ?: "", from) != 0) {
		move_done(j, "skipped", "it is not on that member any more");
		return;
	}
	if (!json_string_value(json_object_get(mv, "to"))) {
		struct sched_request req = {
			.vcpus = (uint64_t)json_integer_value(json_object_get(rec, "vcpus")),
			.memory = (uint64_t)json_integer_value(json_object_get(rec, "memory")),
			.exclude = from,
			.labels = json_object_get(json_object_get(rec, "placement"), "labels"),
			.accel = json_string_value(json_object_get(json_object_get(rec, "placement"), "accel")),
		};
		const char *policy = json_string_value(json_object_get(rec, "group_policy")) ?: "";
		if (strcmp(policy, "anti_affinity") == 0)
			req.anti_affinity = json_string_value(json_object_get(rec, "group"));
		if (cl_place(d, cl->view, "auto", vm, &req, chosen, NULL, &err) < 0) {
			move_done(j, "failed", err.message);
			return;
		}
		json_object_set_new(mv, "to", json_string(chosen));
	}
	to = json_string_value(json_object_get(mv, "to"));
	snprintf(msg, sizeof(msg), "moving %s from %s to %s", vm, from, to);
	op_progress(j->op, 100.0 * (double)j->cur / (double)json_array_size(j->moves), msg, -1, -1);
	snprintf(path, sizeof(path), "/v1/vms/%s/migrate", vm);
	if (!cl_member_address(cl, to) ||
	    member_request(j, from, "POST", path,
			   json_pack("{s:s}", "to", cl_member_address(cl, to)), on_migrate_asked) < 0)
		move_done(j, "failed", "cannot reach the member");
}

static void ignore_answer(void *ud, int status, json_t *body, const char *error)
{
}

static void job_cancel(struct op *op, void *ud)
{
	struct cl_job *j = ud;
	char path[160];
	json_t *mv = job_move(j);

	j->cancel = true;
	if (j->mig_op[0] && mv) {
		snprintf(path, sizeof(path), "/v1/operations/%s/cancel", j->mig_op);
		cl_member_request(j->d, json_string_value(json_object_get(mv, "from")), "POST",
				  path, NULL, NULL, 0, 5000, ignore_answer, NULL, NULL);
	}
}

static struct cl_job *job_new(struct daemon *d, const char *what, const char *member,
			      json_t *moves, struct werr *err)
{
	struct cl_job *j = calloc(1, sizeof(*j));

	if (!j || !(j->op = op_new(d, "", what))) {
		free(j);
		werr_internal(err, -ENOMEM, what);
		json_decref(moves);
		return NULL;
	}
	j->d = d;
	j->moves = moves;
	snprintf(j->member, sizeof(j->member), "%s", member ? member : "");
	op_set_cancel(j->op, job_cancel, j);
	j->next = d->cluster->jobs;
	d->cluster->jobs = j;
	return j;
}

/* The job has begun (a member drained) or could not. */
static void job_begun(struct daemon *d, void *ud, const struct werr *err)
{
	struct cl_job *j = ud;
	struct reply *r = TAKE_PTR(j->r);

	if (err) {
		op_finish(j->op, err, NULL);
		j->op = NULL;
		job_unlink(j);
		reply_error(r, err);
		return;
	}
	reply_json(r, 202, json_pack("{s:o}", "operation", op_to_json(j->op)));
	job_next(j);
}

/* ---- evacuate ------------------------------------------------------------ */

void daemon_cluster_evacuate(struct daemon *d, const struct caller *c, const char *member,
			     json_t *body, struct reply *r)
{
	struct cluster *cl = d->cluster;
	struct cl_job *j;
	json_t *moves, *kv;
	const char *key;
	struct werr err;

	if (cl_check_member(d, &err) < 0 || daemon_check_writable(d, &err) < 0)
		goto fail;
	if (!cl_view_value(cl, CL_MEMBERS, member)) {
		werr_set(&err, -ENOENT, "not_found", "member", "no member named %s", member);
		goto fail;
	}
	if (!cl_member_online(cl, member)) {
		werr_set(&err, -EBUSY, "conflict", "member",
			 "%s is offline: its VMs cannot be migrated (its HA VMs restart elsewhere)",
			 member);
		goto fail;
	}
	for (j = cl->jobs; j; j = j->next)
		if (strcmp(j->member, member) == 0) {
			werr_set(&err, -EBUSY, "conflict", "member", "%s is being evacuated already",
				 member);
			goto fail;
		}
	moves = json_array();
	json_object_foreach(cl->view, key, kv) {
		json_t *rec = json_object_get(kv, "value");
		if (cl_under(key, CL_VMS) &&
		    strcmp(json_string_value(json_object_get(rec, "member")) ?: "", member) == 0)
			json_array_append_new(moves, json_pack("{s:s, s:s, s:s}", "vm",
							       cl_under(key, CL_VMS), "from", member,
							       "status", "pending"));
	}
	if (!(j = job_new(d, "evacuate", member, moves, &err)))
		goto fail;
	j->r = r;
	if (cl_update(d, plan_drain, job_begun, j) < 0) {
		werr_internal(&err, -ENOMEM, "evacuating");
		j->r = NULL;
		op_finish(j->op, &err, NULL);
		j->op = NULL;
		job_unlink(j);
		goto fail;
	}
	return;
fail:
	reply_error(r, &err);
}

/* ---- rebalance ----------------------------------------------------------- */

/* Moves that bring the members' memory use within threshold of each
 * other: {"moves": [...], "spread_before", "spread_after", "threshold"}. */
static json_t *rebalance_plan(struct daemon *d, double threshold, struct werr *err)
{
	struct cluster *cl = d->cluster;
	struct sched_move mv[JOB_MAX_MOVES];
	struct sched_vm *vms = NULL;
	struct sched_set set;
	size_t n_vms = 0, n_mv = 0;
	double before = 0, after = 0;
	const char *key;
	json_t *kv, *moves;

	if (sched_set_build(d, cl->view, NULL, &set) < 0) {
		werr_internal(err, -ENOMEM, "planning");
		return NULL;
	}
	if (!(vms = calloc(json_object_size(cl->view) + 1, sizeof(*vms)))) {
		sched_set_free(&set);
		werr_internal(err, -ENOMEM, "planning");
		return NULL;
	}
	json_object_foreach(cl->view, key, kv) {
		json_t *rec = json_object_get(kv, "value");
		const char *name = cl_under(key, CL_VMS);
		const char *policy = json_string_value(json_object_get(rec, "group_policy")) ?: "";
		ssize_t i = name ? sched_set_find(&set, json_string_value(json_object_get(rec, "member")) ?: "")
				 : -1;
		struct sched_vm *v = &vms[n_vms];

		if (i < 0)
			continue;
		snprintf(v->name, sizeof(v->name), "%s", name);
		v->member = (size_t)i;
		v->vcpus = (uint64_t)json_integer_value(json_object_get(rec, "vcpus"));
		v->memory = (uint64_t)json_integer_value(json_object_get(rec, "memory"));
		if (strcmp(policy, "anti_affinity") == 0)
			v->group = json_string_value(json_object_get(rec, "group"));
		/* Affinity binds a VM to its group's members. */
		v->movable = set.m[i].online && strcmp(policy, "affinity") != 0 &&
			     strcmp(json_string_value(json_object_get(rec, "state")) ?: "", "ready") == 0;
		n_vms++;
	}
	sched_rebalance(set.m, set.n, vms, n_vms, threshold, mv, JOB_MAX_MOVES, &n_mv, &before,
			&after);
	moves = json_array();
	for (size_t i = 0; i < n_mv; i++)
		json_array_append_new(moves, json_pack("{s:s, s:s, s:s, s:I, s:s}", "vm",
						       vms[mv[i].vm].name, "from",
						       set.m[mv[i].from].name, "to", set.m[mv[i].to].name,
						       "memory", (json_int_t)vms[mv[i].vm].memory,
						       "status", "pending"));
	free(vms);
	sched_set_free(&set);
	return json_pack("{s:o, s:f, s:f, s:f}", "moves", moves, "spread_before", before,
			 "spread_after", after, "threshold", threshold);
}

void daemon_cluster_rebalance(struct daemon *d, const struct caller *c, json_t *body,
			      struct reply *r)
{
	json_t *v = json_object_get(body, "threshold"), *plan, *dry = json_object_get(body, "dry_run");
	double threshold;
	struct cl_job *j;
	struct werr err;

	if (cl_check_member(d, &err) < 0)
		goto fail;
	threshold = json_number_value(json_object_get(
		json_object_get(json_object_get(d->cluster->view, CL_CONFIG), "value"),
		"rebalance_threshold"));
	if (threshold <= 0)
		threshold = 0.15;
	if (v && (!json_is_number(v) || json_number_value(v) <= 0 || json_number_value(v) > 1)) {
		werr_set(&err, -EINVAL, "invalid", "threshold",
			 "threshold must be a fraction above 0, at most 1");
		goto fail;
	}
	if (dry && !json_is_boolean(dry)) {
		werr_set(&err, -EINVAL, "invalid", "dry_run", "dry_run must be true or false");
		goto fail;
	}
	if (v)
		threshold = json_number_value(v);
	if (!(plan = rebalance_plan(d, threshold, &err)))
		goto fail;
	if (json_is_true(dry)) {
		reply_json(r, 200, plan);
		return;
	}
	if (daemon_check_writable(d, &err) < 0) {
		json_decref(plan);
		goto fail;
	}
	j = job_new(d, "rebalance", NULL, json_incref(json_object_get(plan, "moves")), &err);
	json_decref(plan);
	if (!j)
		goto fail;
	j->r = r;
	job_begun(d, j, NULL);
	return;
fail:
	reply_error(r, &err);
}

/* ---- high availability ------------------------------------------------- */

static void forget_now(struct vm_rt *vm, void *ud)
{
	struct daemon *d = vm->d;
	int k;

	log_warn("cluster: %s runs on another member now; forgetting it here (its disks stay)",
		 vm->spec->name);
	k = store_vm_delete(d->store, vm->id);
	if (k < 0 && k != -ENOENT)
		log_error_errno(k, "%s: cannot forget it", vm->spec->name);
	vm_rt_rmdirs(vm, false);
	vm_rt_unlink(d, vm);
	vm_rt_free(vm);
}

void cl_forget_local(struct daemon *d, struct vm_rt *vm)
{
	if (vm->deleting)
		return;
	vm->deleting = true;
	if (vm->pid > 0) {
		vm_rt_wait_gone(vm, NULL, forget_now, NULL);
		vm_rt_poweroff(vm, NULL);
		return;
	}
	forget_now(vm, NULL);
}

void cl_fence(struct daemon *d)
{
	for (struct vm_rt *vm = d->vms; vm; vm = vm->next) {
		json_t *rec = cl_view_value(d->cluster, CL_VMS, vm->spec->name);
		if (!json_is_true(json_object_get(rec, "ha")) || vm->pid <= 0 || vm->stop_requested)
			continue;
		log_error("cluster: fencing HA VM %s: this member lost etcd", vm->spec->name);
		vm_rt_poweroff(vm, NULL);
	}
}

static json_t *plan_new_record(struct daemon *d, json_t *view, void *ud, struct werr *err)
{
	const char *name = ud;
	struct vm_rt *vm = vm_rt_find(d, name);
	char key[256];
	json_t *cmp, *ops;

	snprintf(key, sizeof(key), CL_VMS "%s", name);
	cmp = json_array();
	ops = json_array();
	if (vm && !json_object_get(view, key)) {
		json_array_append_new(cmp, etcd_cmp_created(key, 0));
		json_array_append_new(ops, etcd_op_put(key, cl_vm_record(vm, d->cluster->name, NULL), 0));
		cl_alloc_delta(view, d->cluster->name, vm->spec->cpus, (int64_t)vm->spec->memory, 1,
			       cmp, ops);
	}
	return json_pack("{s:o, s:o}", "compare", cmp, "success", ops);
}

static void new_recorded(struct daemon *d, void *ud, const struct werr *err)
{
	if (err)
		log_warn("cluster: cannot record VM %s: %s", (char *)ud, err->message);
	free(ud);
}

void cl_claim_new(struct daemon *d, struct vm_rt *vm)
{
	char *name = strdup(vm->spec->name);

	if (name && cl_update(d, plan_new_record, new_recorded, name) < 0)
		free(name);
}

struct adopt_ctx {
	struct daemon *d;
	struct reply *r;
	char name[VM_NAME_MAX + 1];
	char id[33];
	char from[CL_NAME_MAX + 1];
};

static void adopt_claimed(struct daemon *d, void *ud, const struct werr *err)
{
	struct adopt_ctx *a = ud;
	json_t *rec = cl_view_value(d->cluster, CL_VMS, a->name);
	struct vm_spec *spec = NULL;
	struct vm_rt *vm = NULL;
	bool made_dir = false;
	struct werr e;
	int k;

	if (err) {
		reply_error(a->r, err);
		free(a);
		return;
	}
	if (vm_spec_from_json(json_object_get(rec, "spec"), &d->limits, &spec, &e) < 0)
		goto fail;
	vm = vm_rt_new(d, spec, VM_STOPPED, json_string_value(json_object_get(rec, "id")),
		       json_integer_value(json_object_get(rec, "created_ms")));
	if (!vm) {
		werr_internal(&e, -ENOMEM, "adopting");
		goto fail;
	}
	if ((k = nics_prepare(d, spec, NULL, false, &e)) < 0)
		goto fail;
	if ((k = vm_rt_mkdir_runtime(vm, true)) < 0 && k != -EEXIST) {
		werr_internal(&e, k, "making the VM's directory");
		goto fail;
	}
	made_dir = k == 0;
	if ((k = vm_rt_insert(vm)) < 0) {
		werr_internal(&e, k, "recording the VM");
		goto fail;
	}
	vm_rt_link(d, vm);
	log_warn("cluster: %s: restarting here (HA), its member lapsed", a->name);
	events_emit_action(d, a->name, "ha-restart", "ok", -1);
	vm_rt_start(vm, NULL);
	reply_json(a->r, 200, json_pack("{s:o}", "vm", vm_rt_to_json(vm)));
	free(a);
	return;
fail:
	/* Nothing of it stays here, and its record goes back to the lapsed
	 * member, so that another member may take it (or this one, later). */
	if (made_dir)
		vm_rt_rmdirs(vm, false);
	if (vm)
		vm_rt_free(vm);
	log_error("cluster: %s: cannot restart it here: %s", a->name, e.message);
	cl_give_back(d, a->name, a->id, a->from);
	reply_error(a->r, &e);
	free(a);
}

void daemon_cluster_adopt(struct daemon *d, const struct caller *c, json_t *body, struct reply *r)
{
	const char *name = json_string_value(json_object_get(body, "name"));
	const char *id = json_string_value(json_object_get(body, "id"));
	const char *from = json_string_value(json_object_get(body, "from"));
	struct adopt_ctx *a;
	struct werr err;

	if (cl_check_member(d, &err) < 0 || daemon_check_writable(d, &err) < 0)
		goto fail;
	if (!c->remote) {
		werr_set(&err, -EACCES, "unauthorized", "", "adopt is asked by members only");
		goto fail;
	}
	if (!name || !id || !from || vm_rt_find(d, name)) {
		werr_set(&err, -EINVAL, "invalid", "name", "name, id and from are required, and the "
							   "name must be free here");
		goto fail;
	}
	if (!(a = calloc(1, sizeof(*a)))) {
		werr_internal(&err, -ENOMEM, "adopting");
		goto fail;
	}
	a->d = d;
	a->r = r;
	snprintf(a->name, sizeof(a->name), "%s", name);
	snprintf(a->id, sizeof(a->id), "%s", id);
	snprintf(a->from, sizeof(a->from), "%s", from);
	if (cl_claim(d, name, id, from, adopt_claimed, a) < 0) {
		free(a);
		werr_internal(&err, -ENOMEM, "adopting");
		goto fail;
	}
	return;
fail:
	reply_error(r, &err);
}

static void on_adopted(void *ud, int status, json_t *body, const char *error)
{
	char *name = ud;

	if (status != 200)
		log_warn("cluster: HA restart of %s refused: %s", name,
			 json_string_value(json_object_get(json_object_get(body, "error"),
							   "message")) ?: error ?: "?");
	free(name);
}

/* The leader: the first member by name that is online. */
static bool leading(struct cluster *cl)
{
	const char *key;
	json_t *kv;

	json_object_foreach(cl->view, key, kv) {
		const char *name = cl_under(key, CL_MEMBERS);
		if (name && cl_member_online(cl, name))
			return strcmp(name, cl->name) == 0;
	}
	return false;
}

static void ha_restart(struct daemon *d, const char *lapsed, const char *name, json_t *rec)
{
	struct cluster *cl = d->cluster;
	char chosen[CL_NAME_MAX + 1];
	struct sched_request req = {
		.vcpus = (uint64_t)json_integer_value(json_object_get(rec, "vcpus")),
		.memory = (uint64_t)json_integer_value(json_object_get(rec, "memory")),
		.exclude = lapsed,
	};
	const char *storage = json_string_value(json_object_get(rec, "storage")) ?: "";
	struct werr err;
	char *ud;

	if (cl_place(d, cl->view, "auto", name, &req, chosen, NULL, &err) < 0) {
		log_warn("cluster: HA VM %s of %s: %s", name, lapsed, err.message);
		return;
	}
	/* Only members that see its disks: the one placement chose, or else
	 * the first that does. */
	if (strcmp(json_string_value(json_object_get(cl_view_value(cl, CL_MEMBERS, chosen),
						      "storage")) ?: "",
		   storage) != 0) {
		const char *key;
		json_t *kv;
		chosen[0] = '\0';
		json_object_foreach(cl->view, key, kv) {
			const char *m = cl_under(key, CL_MEMBERS);
			if (cl_under(key, CL_MEMBERS) &&
			    strcmp(m, lapsed) != 0 && cl_member_online(cl, m) &&
			    strcmp(json_string_value(json_object_get(json_object_get(kv, "value"),
								     "storage")) ?: "",
				   storage) == 0) {
				snprintf(chosen, sizeof(chosen), "%s", m);
				break;
			}
		}
		if (!chosen[0]) {
			log_warn("cluster: HA VM %s of %s: no online member sees its storage", name,
				 lapsed);
			return;
		}
	}
	ud = strdup(name);
	if (!ud || cl_member_request(d, chosen, "POST", "/v1/cluster/adopt",
				     json_pack("{s:s, s:O, s:s}", "name", name, "id",
					       json_object_get(rec, "id"), "from", lapsed),
				     NULL, 0, 30000, on_adopted, ud, NULL) < 0) {
		free(ud);
		return;
	}
	log_warn("cluster: member %s lapsed; restarting HA VM %s on %s", lapsed, name, chosen);
	json_object_set_new(cl->adopting, name, json_integer(cl_now_ms()));
}

void cl_ha_check(struct daemon *d)
{
	struct cluster *cl = d->cluster;
	int64_t now = cl_now_ms();
	const char *key;
	json_t *kv;

	json_object_foreach(cl->view, key, kv) {
		const char *name = cl_under(key, CL_MEMBERS);
		if (!name)
			continue;
		if (cl_member_online(cl, name))
			json_object_del(cl->offline, name);
		else if (!json_object_get(cl->offline, name))
			json_object_set_new(cl->offline, name, json_integer(now));
	}
	if (!leading(cl))
		return;
	json_object_foreach(cl->view, key, kv) {
		json_t *rec = json_object_get(kv, "value"), *since, *asked;
		const char *name = cl_under(key, CL_VMS);
		const char *owner = json_string_value(json_object_get(rec, "member")) ?: "";

		if (!name || !json_is_true(json_object_get(rec, "ha")) ||
		    strcmp(json_string_value(json_object_get(rec, "state")) ?: "", "ready") != 0)
			continue;
		since = json_object_get(cl->offline, owner);
		if (!since || now - json_integer_value(since) < HA_GRACE_MS)
			continue;
		asked = json_object_get(cl->adopting, name);
		if (asked && now - json_integer_value(asked) < ADOPT_RETRY_MS)
			continue;
		ha_restart(d, owner, name, rec);
	}
}
