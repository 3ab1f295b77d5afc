/*
 * cluster_vm: VMs in a cluster. One namespace (a VM's name is a key in
 * etcd, taken by compare-and-create), placement of new VMs by the filter
 * and weigher scheduler (src/cluster), requests for a VM forwarded to the
 * member that owns it, and the list of every member's VMs.
 *
 * A create: the member asked reads /warren/, places the VM, and in one
 * transaction takes the name (record state "placing") and adds the VM to
 * its member's alloc, compared against the revisions it read; then that
 * member creates the VM (itself, or asked over the TCP API) and the record
 * becomes "ready" with the VM's id and spec, or on failure is removed with
 * its allocation. A record left "placing" by a crash is removed by the
 * owner's reconciliation after a minute.
 */
#include <string.h>

#include "cluster/sched.h"
#include "daemon/cluster.h"

#define PLACING_STALE_MS 60000
#define FORWARD_TIMEOUT_MS 600000

/* ---- the scheduler's view ------------------------------------------------ */

void sched_set_free(struct sched_set *s)
{
	for (size_t i = 0; i < s->n; i++)
		strv_free(s->groups[i]);
	free(s->groups);
	free(s->m);
}

ssize_t sched_set_find(const struct sched_set *s, const char *name)
{
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->m[i].name, name) == 0)
			return (ssize_t)i;
	return -1;
}

int sched_set_build(struct daemon *d, json_t *view, const char *skip_vm,
			   struct sched_set *s)
{
	struct cluster *cl = d->cluster;
	const char *key;
	json_t *kv;
	size_t n = 0;

	*s = (struct sched_set){0};
	json_object_foreach(view, key, kv)
		n += cl_under(key, CL_MEMBERS) != NULL;
	s->m = calloc(n ? n : 1, sizeof(*s->m));
	s->groups = calloc(n ? n : 1, sizeof(*s->groups));
	if (!s->m || !s->groups) {
		sched_set_free(s);
		return -ENOMEM;
	}
	json_object_foreach(view, key, kv) {
		const char *name = cl_under(key, CL_MEMBERS);
		json_t *m = json_object_get(kv, "value"), *alloc;
		struct sched_member *sm;

		if (!name || !json_is_object(m))
			continue;
		sm = &s->m[s->n++];
		snprintf(sm->name, sizeof(sm->name), "%s", name);
		sm->online = cl_member_online(cl, name);
		sm->accepting = !json_is_true(json_object_get(m, "draining"));
		snprintf(sm->accel, sizeof(sm->accel), "%s",
			 json_string_value(json_object_get(m, "accel")) ?: "");
		sm->labels = json_object_get(m, "labels");
		sm->cap_vcpus = (uint64_t)json_integer_value(
			json_object_get(json_object_get(m, "capacity"), "vcpus"));
		sm->cap_memory = (uint64_t)json_integer_value(
			json_object_get(json_object_get(m, "capacity"), "memory"));
		alloc = cl_view_value(cl, CL_ALLOC, name);
		sm->alloc_vcpus = (uint64_t)json_integer_value(json_object_get(alloc, "vcpus"));
		sm->alloc_memory = (uint64_t)json_integer_value(json_object_get(alloc, "memory"));
		sm->load = json_number_value(json_object_get(cl_view_value(cl, CL_ALIVE, name), "load"));
	}
	json_object_foreach(view, key, kv) {
		json_t *rec = json_object_get(kv, "value");
		const char *group = json_string_value(json_object_get(rec, "group"));
		ssize_t i;

		if (!cl_under(key, CL_VMS) || !group ||
		    (skip_vm && strcmp(cl_under(key, CL_VMS), skip_vm) == 0))
			continue;
		i = sched_set_find(s, json_string_value(json_object_get(rec, "member")) ?: "");
		if (i >= 0 && strv_push(&s->groups[i], group) == 0) {
			s->m[i].groups = (const char *const *)s->groups[i];
			s->m[i].n_groups++;
		}
	}
	return 0;
}

static void weights_of(json_t *view, struct sched_weights *w)
{
	json_t *cfg = json_object_get(json_object_get(view, CL_CONFIG), "value");
	json_t *ws = json_object_get(cfg, "weights");

	w->memory = json_object_get(ws, "memory") ? json_number_value(json_object_get(ws, "memory")) : 1.0;
	w->vcpus = json_number_value(json_object_get(ws, "vcpus"));
	w->load = json_number_value(json_object_get(ws, "load"));
	w->pack = strcmp(json_string_value(json_object_get(cfg, "strategy")) ?: "", "pack") == 0;
}

/* Place a VM of these resources: the chosen member's name, or an error
 * (with the scheduler's verdicts as explain, if asked). target NULL or
 * "auto": the scheduler chooses; else that member, if it passes. */
int cl_place(struct daemon *d, json_t *view, const char *target, const char *skip_vm,
	     const struct sched_request *req, char chosen[CL_NAME_MAX + 1], json_t **explain,
	     struct werr *err)
{
	struct sched_set s;
	struct sched_weights w;
	struct sched_verdict *v;
	size_t pick = 0;
	ssize_t t = -1;
	int k;

	if (sched_set_build(d, view, skip_vm, &s) < 0)
		return werr_internal(err, -ENOMEM, "placing"), -ENOMEM;
	v = calloc(s.n ? s.n : 1, sizeof(*v));
	if (!v) {
		sched_set_free(&s);
		return werr_internal(err, -ENOMEM, "placing"), -ENOMEM;
	}
	weights_of(view, &w);
	k = sched_place(s.m, s.n, req, &w, v, &pick);
	if (target && strcmp(target, "auto") != 0) {
		t = sched_set_find(&s, target);
		if (t < 0)
			k = werr_set(err, -ENOENT, "not_found", "target", "no member named %s", target);
		else if (!v[t].eligible && strcmp(v[t].filter, "online") == 0)
			k = werr_set(err, -EIO, "unavailable", "target",
				     "member %s cannot take it: it is offline", target);
		else if (!v[t].eligible)
			k = werr_set(err, -ENOSPC,
				     strcmp(v[t].filter, "capacity") == 0 ? "no_capacity" : "conflict",
				     "target", "member %s cannot take it: %s (%s)", target,
				     v[t].filter, v[t].reason);
		else
			pick = (size_t)t, k = 0;
	} else if (k < 0) {
		char why[900];
		sched_refusal(s.m, s.n, v, why, sizeof(why));
		werr_set(err, -ENOSPC, "no_capacity", "", "no member can take it: %s",
			 s.n ? why : "the cluster has no members");
	}
	if (k == 0)
		snprintf(chosen, CL_NAME_MAX + 1, "%s", s.m[pick].name);
	if (explain)
		*explain = sched_explain_json(s.m, s.n, v, k == 0 ? &pick : NULL);
	free(v);
	sched_set_free(&s);
	return k;
}

/* ---- create ---------------------------------------------------------------- */

struct place_ctx {
	struct daemon *d;
	struct reply *r;
	struct reply wrap; /* the local create answers here */
	struct caller caller;
	json_t *spec;      /* the body without the cluster's keys */
	json_t *opts;      /* placement */
	const char *target;
	char target_buf[CL_NAME_MAX + 1];
	bool explain, ha;
	char name[VM_NAME_MAX + 1];
	uint64_t vcpus, memory;
	char chosen[CL_NAME_MAX + 1];
	json_t *explain_json;
	json_t *answer; /* the 201 body, while the record is made ready */
	struct werr fail;
};

static void place_free(struct place_ctx *p)
{
	json_decref(p->spec);
	json_decref(p->opts);
	json_decref(p->explain_json);
	json_decref(p->answer);
	free(p);
}

static void sched_request_of(json_t *opts, uint64_t vcpus, uint64_t memory,
			     struct sched_request *req)
{
	*req = (struct sched_request){
		.vcpus = vcpus,
		.memory = memory,
		.accel = json_string_value(json_object_get(opts, "accel")),
		.labels = json_object_get(opts, "labels"),
		.affinity = json_string_value(json_object_get(opts, "affinity")),
		.anti_affinity = json_string_value(json_object_get(opts, "anti_affinity")),
	};
}

/* Does another member see member's storage directory (the same storage
 * id), so that it could run its VMs? */
static bool storage_shared(struct cluster *cl, json_t *view, const char *member)
{
	const char *mine = json_string_value(
		json_object_get(cl_view_value(cl, CL_MEMBERS, member), "storage"));
	const char *key;
	json_t *kv;

	json_object_foreach(view, key, kv) {
		const char *s = json_string_value(json_object_get(json_object_get(kv, "value"), "storage"));
		if (cl_under(key, CL_MEMBERS) &&
		    strcmp(cl_under(key, CL_MEMBERS), member) != 0 && mine && s && strcmp(s, mine) == 0)
			return true;
	}
	return false;
}

static json_t *plan_place(struct daemon *d, json_t *view, void *ud, struct werr *err)
{
	struct place_ctx *p = ud;
	struct sched_request req;
	json_t *cmp, *ops, *rec, *old;
	char key[256];
	const char *group;

	snprintf(key, sizeof(key), CL_VMS "%s", p->name);
	if ((old = json_object_get(json_object_get(view, key), "value"))) {
		werr_set(err, -EEXIST, "conflict", "name", "a VM named '%s' already exists (on member %s)",
			 p->name, json_string_value(json_object_get(old, "member")) ?: "?");
		return NULL;
	}
	sched_request_of(p->opts, p->vcpus, p->memory, &req);
	json_decref(p->explain_json);
	p->explain_json = NULL;
	if (cl_place(d, view, p->target, NULL, &req, p->chosen, &p->explain_json, err) < 0)
		return NULL;
	if (p->ha && !storage_shared(d->cluster, view, p->chosen)) {
		werr_set(err, -EINVAL, "invalid", "ha",
			 "ha needs the VM's disks on storage other members see: no other member "
			 "shares the storage directory of %s (--storage-dir on shared storage)",
			 p->chosen);
		return NULL;
	}
	cmp = json_array();
	ops = json_array();
	group = req.affinity ? req.affinity : req.anti_affinity;
	rec = json_pack("{s:s, s:s, s:I, s:I, s:s, s:I, s:b, s:s?, s:s?, s:O?, s:s?}", "member",
			p->chosen, "id", "", "vcpus", (json_int_t)p->vcpus, "memory",
			(json_int_t)p->memory, "state", "placing", "placed_ms",
			(json_int_t)now_realtime_ms(), "ha", p->ha, "group", group, "group_policy",
			group ? (req.affinity ? "affinity" : "anti_affinity") : NULL, "placement",
			p->opts, "storage",
			json_string_value(json_object_get(cl_view_value(d->cluster, CL_MEMBERS, p->chosen),
							  "storage")));
	json_array_append_new(cmp, etcd_cmp_created(key, 0));
	json_array_append_new(ops, etcd_op_put(key, rec, 0));
	cl_alloc_delta(view, p->chosen, (int64_t)p->vcpus, (int64_t)p->memory, 1, cmp, ops);
	return json_pack("{s:o, s:o}", "compare", cmp, "success", ops);
}

/* The record of name, as it is now, if member and state match. */
static json_t *record_if(json_t *view, const char *name, const char *member, const char *state,
			 char key[256], int64_t *mod)
{
	json_t *kv, *rec;

	snprintf(key, 256, CL_VMS "%s", name);
	kv = json_object_get(view, key);
	rec = json_object_get(kv, "value");
	if (!rec || strcmp(json_string_value(json_object_get(rec, "member")) ?: "", member) != 0 ||
	    (state && strcmp(json_string_value(json_object_get(rec, "state")) ?: "", state) != 0))
		return NULL;
	*mod = json_integer_value(json_object_get(kv, "mod"));
	return rec;
}

static json_t *plan_unplace(struct daemon *d, json_t *view, void *ud, struct werr *err)
{
	struct place_ctx *p = ud;
	char key[256];
	int64_t mod;
	json_t *rec = record_if(view, p->name, p->chosen, "placing", key, &mod), *cmp, *ops;

	cmp = json_array();
	ops = json_array();
	if (rec) {
		json_array_append_new(cmp, etcd_cmp_mod(key, mod));
		json_array_append_new(ops, etcd_op_del(key));
		cl_alloc_delta(view, p->chosen, -(int64_t)p->vcpus, -(int64_t)p->memory, -1, cmp, ops);
	}
	return json_pack("{s:o, s:o}", "compare", cmp, "success", ops);
}

static json_t *plan_ready(struct daemon *d, json_t *view, void *ud, struct werr *err)
{
	struct place_ctx *p = ud;
	char key[256];
	int64_t mod;
	json_t *rec = record_if(view, p->name, p->chosen, NULL, key, &mod), *cmp, *ops, *nrec;

	cmp = json_array();
	ops = json_array();
	if (rec) {
		nrec = json_deep_copy(rec);
		json_object_set_new(nrec, "state", json_string("ready"));
		json_object_set(nrec, "id", json_object_get(p->answer, "id"));
		json_object_set(nrec, "spec", json_object_get(p->answer, "spec"));
		json_object_set_new(nrec, "created_ms", json_integer((json_int_t)now_realtime_ms()));
		json_array_append_new(cmp, etcd_cmp_mod(key, mod));
		json_array_append_new(ops, etcd_op_put(key, nrec, 0));
	}
	return json_pack("{s:o, s:o}", "compare", cmp, "success", ops);
}

static void placed_answered(struct daemon *d, void *ud, const struct werr *err)
{
	struct place_ctx *p = ud;

	if (err)
		log_warn("cluster: %s: cannot mark its record ready: %s", p->name, err->message);
	json_object_set_new(p->answer, "host", json_string(p->chosen));
	json_object_set_new(p->answer, "ha", json_boolean(p->ha));
	if (p->explain && p->explain_json)
		json_object_set(p->answer, "placement", p->explain_json);
	reply_json(p->r, 201, json_incref(p->answer));
	place_free(p);
}

static void unplaced(struct daemon *d, void *ud, const struct werr *err)
{
	struct place_ctx *p = ud;

	if (err)
		log_warn("cluster: %s: cannot remove its placement: %s (reconciliation will)",
			 p->name, err->message);
	reply_error(p->r, &p->fail);
	place_free(p);
}

static void create_answered(struct place_ctx *p, int status, json_t *body, const struct werr *err)
{
	if (err || status != 201) {
		if (err)
			p->fail = *err;
		else
			werr_set(&p->fail, -EIO, "internal", "", "unexpected answer %d", status);
		if (cl_update(p->d, plan_unplace, unplaced, p) < 0)
			unplaced(p->d, p, NULL);
		return;
	}
	p->answer = json_incref(body);
	if (cl_update(p->d, plan_ready, placed_answered, p) < 0)
		placed_answered(p->d, p, NULL);
}

#define PLACE_OF(r) ((struct place_ctx *)((char *)(r) - offsetof(struct place_ctx, wrap)))

static void wrap_send_json(struct reply *r, int status, json_t *body, const struct werr *err)
{
	create_answered(PLACE_OF(r), status, body, err);
	json_decref(body);
}

/* An error as a member answered it. */
static void werr_from_answer(struct werr *err, int status, json_t *body, const char *error,
			     const char *member)
{
	json_t *e = json_object_get(body, "error");

	if (status && json_is_object(e))
		werr_set(err, -EIO, json_string_value(json_object_get(e, "code")) ?: "internal",
			 json_string_value(json_object_get(e, "field")) ?: "", "%s",
			 json_string_value(json_object_get(e, "message")) ?: "");
	else
		werr_set(err, -EIO, "unavailable", "", "member %s did not answer: %s", member,
			 error ? error : "unexpected answer");
}

static void on_remote_created(void *ud, int status, json_t *body, const char *error)
{
	struct place_ctx *p = ud;
	struct werr err;

	if (status == 201) {
		create_answered(p, status, body, NULL);
		return;
	}
	werr_from_answer(&err, status, body, error, p->chosen);
	create_answered(p, status, NULL, &err);
}

static void place_reserved(struct daemon *d, void *ud, const struct werr *err)
{
	struct place_ctx *p = ud;
	struct werr e;

	if (err) {
		reply_error(p->r, err);
		place_free(p);
		return;
	}
	if (strcmp(p->chosen, d->cluster->name) == 0) {
		vm_create_local(d, &p->caller, p->spec, &p->wrap);
		return;
	}
	if (cl_member_request(d, p->chosen, "POST", "/v1/vms", json_incref(p->spec), NULL, 0,
			      FORWARD_TIMEOUT_MS, on_remote_created, p, NULL) < 0) {
		werr_set(&e, -EIO, "unavailable", "", "cannot reach member %s", p->chosen);
		create_answered(p, 0, NULL, &e);
	}
}

static const char *const cluster_keys[] = {"target", "explain", "ha", "placement"};

static int placement_check(json_t *opts, struct werr *err)
{
	const char *k;
	json_t *v;

	if (!opts)
		return 0;
	if (!json_is_object(opts))
		return werr_set(err, -EINVAL, "invalid", "placement", "placement must be an object");
	json_object_foreach(opts, k, v) {
		char field[64];
		snprintf(field, sizeof(field), "placement.%s", k);
		if (strcmp(k, "labels") == 0) {
			const char *lk;
			json_t *lv;
			if (!json_is_object(v))
				return werr_set(err, -EINVAL, "invalid", field, "%s must be an object", field);
			json_object_foreach(v, lk, lv)
				if (!json_is_string(lv))
					return werr_set(err, -EINVAL, "invalid", field,
							"label %s must be a string", lk);
		} else if (strcmp(k, "affinity") == 0 || strcmp(k, "anti_affinity") == 0) {
			if (!json_is_string(v) || vm_name_validate(json_string_value(v), err) < 0)
				return werr_set(err, -EINVAL, "invalid", field,
						"%s must be a group name like a VM's", field);
		} else if (strcmp(k, "accel") == 0) {
			if (!json_is_string(v) || (strcmp(json_string_value(v), "kvm") != 0 &&
						   strcmp(json_string_value(v), "tcg") != 0))
				return werr_set(err, -EINVAL, "invalid", field, "accel must be kvm or tcg");
		} else {
			return werr_set(err, -EINVAL, "invalid", field,
					"unknown key %s (labels, affinity, anti_affinity, accel)", k);
		}
	}
	if (json_object_get(opts, "affinity") && json_object_get(opts, "anti_affinity"))
		return werr_set(err, -EINVAL, "invalid", "placement",
				"a VM takes affinity or anti_affinity, not both");
	return 0;
}

void daemon_vm_create(struct daemon *d, const struct caller *caller, json_t *body,
		      struct reply *r)
{
	_cleanup_vm_spec_ struct vm_spec *spec = NULL;
	json_t *v;
	struct werr err;
	struct place_ctx *p;
	bool has_keys = false;

	for (size_t i = 0; i < ARRAY_SIZE(cluster_keys); i++)
		has_keys |= json_object_get(body, cluster_keys[i]) != NULL;
	if (!cluster_on(d) || caller->remote) {
		if (has_keys && !cluster_on(d)) {
			werr_set(&err, -EINVAL, "invalid", "target",
				 "target, placement and ha need a cluster (warren cluster init)");
			reply_error(r, &err);
			return;
		}
		vm_create_local(d, caller, body, r);
		return;
	}
	if (!json_is_object(body) || !(p = calloc(1, sizeof(*p)))) {
		vm_create_local(d, caller, body, r); /* it says what is wrong */
		return;
	}
	p->d = d;
	p->r = r;
	p->caller = *caller;
	p->caller.authorization = NULL;
	p->wrap.send_json = wrap_send_json;
	p->spec = json_deep_copy(body);
	for (size_t i = 0; i < ARRAY_SIZE(cluster_keys); i++)
		json_object_del(p->spec, cluster_keys[i]);
	p->opts = json_incref(json_object_get(body, "placement"));
	v = json_object_get(body, "target");
	if (v && (!json_is_string(v) || !*json_string_value(v))) {
		werr_set(&err, -EINVAL, "invalid", "target", "target must be auto or a member's name");
		goto fail;
	}
	snprintf(p->target_buf, sizeof(p->target_buf), "%s",
		 v ? json_string_value(v) : d->cluster->name);
	p->target = p->target_buf;
	if (((v = json_object_get(body, "explain")) && !json_is_boolean(v)) ||
	    ((v = json_object_get(body, "ha")) && !json_is_boolean(v))) {
		werr_set(&err, -EINVAL, "invalid", json_object_get(body, "ha") == v ? "ha" : "explain",
			 "must be true or false");
		goto fail;
	}
	p->explain = json_is_true(json_object_get(body, "explain"));
	p->ha = json_is_true(json_object_get(body, "ha"));
	if (placement_check(p->opts, &err) < 0 ||
	    vm_spec_from_json(p->spec, &d->limits, &spec, &err) < 0)
		goto fail;
	snprintf(p->name, sizeof(p->name), "%s", spec->name);
	p->vcpus = spec->cpus;
	p->memory = spec->memory;
	if (daemon_check_writable(d, &err) < 0)
		goto fail;
	if (cl_update(d, plan_place, place_reserved, p) < 0) {
		werr_internal(&err, -ENOMEM, "placing");
		goto fail;
	}
	return;
fail:
	reply_error(r, &err);
	place_free(p);
}

/* ---- delete --------------------------------------------------------------- */

struct unrecord_ctx {
	struct daemon *d;
	struct reply *r;
	struct reply wrap;
	char name[VM_NAME_MAX + 1];
	char id[33];
	json_t *answer;
};

static json_t *plan_unrecord(struct daemon *d, json_t *view, void *ud, struct werr *err)
{
	struct unrecord_ctx *u = ud;
	char key[256];
	int64_t mod;
	json_t *rec = record_if(view, u->name, d->cluster->name, NULL, key, &mod), *cmp, *ops;

	cmp = json_array();
	ops = json_array();
	if (rec && strcmp(json_string_value(json_object_get(rec, "id")) ?: "", u->id) == 0) {
		json_array_append_new(cmp, etcd_cmp_mod(key, mod));
		json_array_append_new(ops, etcd_op_del(key));
		cl_alloc_delta(view, d->cluster->name,
			       -(int64_t)json_integer_value(json_object_get(rec, "vcpus")),
			       -(int64_t)json_integer_value(json_object_get(rec, "memory")), -1, cmp,
			       ops);
	}
	return json_pack("{s:o, s:o}", "compare", cmp, "success", ops);
}

static void unrecorded(struct daemon *d, void *ud, const struct werr *err)
{
	struct unrecord_ctx *u = ud;

	if (err)
		log_warn("cluster: %s: cannot remove its record: %s (reconciliation will)", u->name,
			 err->message);
	if (u->r)
		reply_json(u->r, 200, json_incref(u->answer));
	json_decref(u->answer);
	free(u);
}

#define UNREC_OF(r) ((struct unrecord_ctx *)((char *)(r) - offsetof(struct unrecord_ctx, wrap)))

static void unrec_send_json(struct reply *r, int status, json_t *body, const struct werr *err)
{
	struct unrecord_ctx *u = UNREC_OF(r);

	if (err || status != 200) {
		u->r->send_json(u->r, status, body, err);
		free(u);
		return;
	}
	u->answer = body;
	if (!cluster_on(u->d) || cl_update(u->d, plan_unrecord, unrecorded, u) < 0)
		unrecorded(u->d, u, NULL);
}

void daemon_vm_delete(struct daemon *d, const struct caller *caller, const char *name,
		      bool force, struct reply *r)
{
	struct vm_rt *vm = vm_rt_find(d, name);
	struct unrecord_ctx *u;

	if (!cluster_on(d) || !vm || !(u = calloc(1, sizeof(*u)))) {
		vm_delete_local(d, caller, name, force, r);
		return;
	}
	u->d = d;
	u->r = r;
	u->wrap.send_json = unrec_send_json;
	snprintf(u->name, sizeof(u->name), "%s", name);
	snprintf(u->id, sizeof(u->id), "%s", vm->id);
	vm_delete_local(d, caller, name, force, &u->wrap);
}

/* Forget the record of a VM that left (migrated away, deleted). */
void cluster_vm_gone(struct daemon *d, const char *name, const char *id)
{
	struct unrecord_ctx *u;

	if (!cluster_on(d) || !(u = calloc(1, sizeof(*u))))
		return;
	u->d = d;
	snprintf(u->name, sizeof(u->name), "%s", name);
	snprintf(u->id, sizeof(u->id), "%s", id);
	if (cl_update(d, plan_unrecord, unrecorded, u) < 0)
		free(u);
}

/* ---- a VM that arrived or was taken over ------------------------------- */

struct claim_ctx {
	char name[VM_NAME_MAX + 1];
	char id[33];
	char from[CL_NAME_MAX + 1]; /* the member it must be on now; "" any */
	char to[CL_NAME_MAX + 1];
	bool taking;                /* HA: from lapsed, it is taken from it */
	void (*then)(struct daemon *d, void *ud, const struct werr *err);
	void *ud;
};

static json_t *plan_claim(struct daemon *d, json_t *view, void *ud, struct werr *err)
{
	struct claim_ctx *c = ud;
	char key[256];
	json_t *kv, *rec, *nrec, *cmp, *ops;
	const char *owner;

	snprintf(key, sizeof(key), CL_VMS "%s", c->name);
	kv = json_object_get(view, key);
	rec = json_object_get(kv, "value");
	if (!rec || strcmp(json_string_value(json_object_get(rec, "id")) ?: "", c->id) != 0) {
		werr_set(err, -ENOENT, "not_found", "name", "the cluster has no record of %s (id %s)",
			 c->name, c->id);
		return NULL;
	}
	owner = json_string_value(json_object_get(rec, "member")) ?: "";
	if (c->from[0] && strcmp(owner, c->from) != 0) {
		werr_set(err, -EBUSY, "conflict", "name", "%s is on member %s now, not %s", c->name,
			 owner, c->from);
		return NULL;
	}
	cmp = json_array();
	ops = json_array();
	if (strcmp(owner, c->to) == 0)
		return json_pack("{s:o, s:o}", "compare", cmp, "success", ops);
	nrec = json_deep_copy(rec);
	json_object_set_new(nrec, "member", json_string(c->to));
	json_object_set_new(nrec, "state", json_string("ready"));
	if (c->taking)
		json_object_set_new(nrec, "taken_from", json_string(c->from));
	else
		json_object_del(nrec, "taken_from");
	json_array_append_new(cmp, etcd_cmp_mod(key, json_integer_value(json_object_get(kv, "mod"))));
	json_array_append_new(ops, etcd_op_put(key, nrec, 0));
	cl_alloc_delta(view, owner, -json_integer_value(json_object_get(rec, "vcpus")),
		       -json_integer_value(json_object_get(rec, "memory")), -1, cmp, ops);
	cl_alloc_delta(view, c->to, json_integer_value(json_object_get(rec, "vcpus")),
		       json_integer_value(json_object_get(rec, "memory")), 1, cmp, ops);
	return json_pack("{s:o, s:o}", "compare", cmp, "success", ops);
}

static void claimed(struct daemon *d, void *ud, const struct werr *err)
{
	struct claim_ctx *c = ud;

	if (c->then)
		c->then(d, c->ud, err);
	else if (err)
		log_warn("cluster: %s: cannot take it over in the cluster store: %s", c->name,
			 err->message);
	free(c);
}

static int record_move(struct daemon *d, const char *name, const char *id, const char *from,
		       const char *to, bool taking,
		       void (*then)(struct daemon *d, void *ud, const struct werr *err), void *ud)
{
	struct claim_ctx *c = calloc(1, sizeof(*c));

	if (!c)
		return -ENOMEM;
	snprintf(c->name, sizeof(c->name), "%s", name);
	snprintf(c->id, sizeof(c->id), "%s", id);
	snprintf(c->from, sizeof(c->from), "%s", from ? from : "");
	snprintf(c->to, sizeof(c->to), "%s", to);
	c->taking = taking;
	c->then = then;
	c->ud = ud;
	if (cl_update(d, plan_claim, claimed, c) < 0) {
		free(c);
		return -ENOMEM;
	}
	return 0;
}

int cl_claim(struct daemon *d, const char *name, const char *id, const char *from,
	     void (*then)(struct daemon *d, void *ud, const struct werr *err), void *ud)
{
	return record_move(d, name, id, from, d->cluster->name, from && *from, then, ud);
}

int cl_give_back(struct daemon *d, const char *name, const char *id, const char *to)
{
	return record_move(d, name, id, d->cluster->name, to, false, NULL, NULL);
}

void cluster_vm_arrived(struct daemon *d, struct vm_rt *vm)
{
	if (cluster_on(d))
		cl_claim(d, vm->spec->name, vm->id, NULL, NULL, NULL);
}

/* ---- VM JSON and list ---------------------------------------------------- */

void cluster_vm_json(struct daemon *d, const struct vm_rt *vm, json_t *j)
{
	json_t *rec;

	if (!cluster_on(d))
		return;
	rec = cl_view_value(d->cluster, CL_VMS, vm->spec->name);
	json_object_set_new(j, "host", json_string(d->cluster->name));
	json_object_set_new(j, "ha", json_boolean(json_is_true(json_object_get(rec, "ha"))));
}

struct list_ctx {
	struct daemon *d;
	struct reply *r;
	json_t *vms;
	unsigned pending;
};

static int by_name(const void *a, const void *b)
{
	json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;

	return strcmp(json_string_value(json_object_get(x, "name")) ?: "",
		      json_string_value(json_object_get(y, "name")) ?: "");
}

static void list_part_done(struct list_ctx *l)
{
	size_t n;
	json_t **items, *sorted;

	if (--l->pending)
		return;
	n = json_array_size(l->vms);
	items = calloc(n ? n : 1, sizeof(*items));
	sorted = json_array();
	for (size_t i = 0; items && i < n; i++)
		items[i] = json_array_get(l->vms, i);
	if (items)
		qsort(items, n, sizeof(*items), by_name);
	for (size_t i = 0; items && i < n; i++)
		json_array_append(sorted, items[i]);
	free(items);
	reply_json(l->r, 200, json_pack("{s:o}", "vms", sorted));
	json_decref(l->vms);
	free(l);
}

static void on_member_list(void *ud, int status, json_t *body, const char *error)
{
	struct list_ctx *l = ud;
	json_t *vm;
	size_t i;

	json_array_foreach(json_object_get(body, "vms"), i, vm)
		json_array_append(l->vms, vm);
	list_part_done(l);
}

/* VMs of a member that does not answer, as the records know them. */
static void list_from_records(struct cluster *cl, const char *member, json_t *out)
{
	const char *key;
	json_t *kv;

	json_object_foreach(cl->view, key, kv) {
		json_t *rec = json_object_get(kv, "value");
		if (!cl_under(key, CL_VMS) ||
		    strcmp(json_string_value(json_object_get(rec, "member")) ?: "", member) != 0)
			continue;
		json_array_append_new(out, json_pack("{s:O?, s:s, s:s, s:O?, s:O?, s:s, s:b}", "id",
						     json_object_get(rec, "id"), "name",
						     cl_under(key, CL_VMS), "state", "unknown", "cpus",
						     json_object_get(rec, "vcpus"), "memory",
						     json_object_get(rec, "memory"), "host", member,
						     "ha", json_is_true(json_object_get(rec, "ha"))));
	}
}

void daemon_vm_list(struct daemon *d, const struct caller *c, bool local, struct reply *r)
{
	struct cluster *cl = d->cluster;
	struct list_ctx *l;
	const char *key;
	json_t *kv;

	if (!cl || local || c->remote || !(l = calloc(1, sizeof(*l)))) {
		json_t *arr = json_array();
		/* The list is kept in name order (see vm_rt_link). */
		for (struct vm_rt *vm = d->vms; vm; vm = vm->next)
			json_array_append_new(arr, vm_rt_to_json_full(vm, false));
		reply_json(r, 200, json_pack("{s:o}", "vms", arr));
		return;
	}
	l->d = d;
	l->r = r;
	l->vms = json_array();
	l->pending = 1;
	for (struct vm_rt *vm = d->vms; vm; vm = vm->next)
		json_array_append_new(l->vms, vm_rt_to_json_full(vm, false));
	json_object_foreach(cl->view, key, kv) {
		const char *name = cl_under(key, CL_MEMBERS);

		if (!name || strcmp(name, cl->name) == 0)
			continue;
		if (cl_member_online(cl, name) &&
		    cl_member_request(d, name, "GET", "/v1/vms?local=true", NULL, NULL, 0, 5000,
				      on_member_list, l, NULL) == 0)
			l->pending++;
		else
			list_from_records(cl, name, l->vms);
	}
	list_part_done(l);
}

/* ---- forwarding ------------------------------------------------------------ */

bool daemon_vm_elsewhere(struct daemon *d, const char *name)
{
	return cluster_on(d) && !vm_rt_find(d, name) && !name_in_creation(d, name);
}

struct fwd_ctx {
	struct daemon *d;
	struct reply *r;
	char vm[VM_NAME_MAX + 1];
	char member[CL_NAME_MAX + 1];
	char method[8];
	char *uri;
	json_t *body;
	void *raw;
	size_t raw_len;
	bool from_view; /* the owner came from the watched view, not a read */
};

static void fwd_free(struct fwd_ctx *f)
{
	json_decref(f->body);
	free(f->uri);
	free(f->raw);
	free(f);
}

/* "id" of an operation from member m reads "id@m" here. */
static void op_id_mark(json_t *op, const char *member)
{
	const char *id = json_string_value(json_object_get(op, "id"));

	if (id && !strchr(id, '@'))
		json_object_set_new(op, "id", json_sprintf("%s@%s", id, member));
}

static int fwd_read_owner(struct fwd_ctx *f);

static void on_forwarded(void *ud, int status, json_t *body, const char *error)
{
	struct fwd_ctx *f = ud;
	struct werr err;

	/* The VM left that member before the view heard of it: read. */
	if (status == 404 && f->from_view && fwd_read_owner(f) == 0)
		return;
	if (status >= 200 && status < 300) {
		json_t *b = json_incref(body);
		op_id_mark(json_object_get(b, "operation"), f->member);
		if (!f->vm[0])
			op_id_mark(b, f->member);
		reply_json(f->r, status, status == 204 ? (json_decref(b), NULL) : b);
	} else {
		werr_from_answer(&err, status, body, error, f->member);
		reply_error(f->r, &err);
	}
	fwd_free(f);
}

static void fwd_send(struct fwd_ctx *f)
{
	struct werr err;

	if (!cl_member_online(f->d->cluster, f->member)) {
		werr_set(&err, -EIO, "unavailable", "",
			 "%s%s is on member %s, which is offline", f->vm[0] ? "VM " : "",
			 f->vm[0] ? f->vm : "the operation", f->member);
		goto fail;
	}
	if (cl_member_request(f->d, f->member, f->method, f->uri, json_incref(f->body), f->raw,
			      f->raw_len, FORWARD_TIMEOUT_MS, on_forwarded, f, NULL) < 0) {
		werr_set(&err, -EIO, "unavailable", "", "cannot reach member %s", f->member);
		goto fail;
	}
	return;
fail:
	reply_error(f->r, &err);
	fwd_free(f);
}

/* The member the view says has the VM, if another one. */
static bool owner_in_view(struct fwd_ctx *f)
{
	struct cluster *cl = f->d->cluster;
	const char *owner =
		json_string_value(json_object_get(cl_view_value(cl, CL_VMS, f->vm), "member"));

	if (!owner || strcmp(owner, cl->name) == 0)
		return false;
	snprintf(f->member, sizeof(f->member), "%s", owner);
	return true;
}

static void on_owner(void *ud, json_t *resp, const char *error)
{
	struct fwd_ctx *f = ud;
	struct cluster *cl = f->d->cluster;
	struct werr err;

	if (error || !cl) {
		werr_set(&err, -EIO, "unavailable", "", "cannot find VM %s in the cluster: %s", f->vm,
			 error ? error : "not in a cluster");
		goto fail;
	}
	cl_view_set(cl, resp);
	if (!owner_in_view(f)) {
		werr_set(&err, -ENOENT, "not_found", "name", "no VM named '%s'", f->vm);
		goto fail;
	}
	fwd_send(f);
	return;
fail:
	reply_error(f->r, &err);
	fwd_free(f);
}

static struct fwd_ctx *fwd_new(struct daemon *d, const char *method, const char *uri,
			       json_t *body, const void *raw, size_t raw_len, struct reply *r)
{
	struct fwd_ctx *f = calloc(1, sizeof(*f));

	if (!f || !(f->uri = strdup(uri)) || (raw_len && !(f->raw = malloc(raw_len)))) {
		if (f)
			free(f->uri);
		free(f);
		return NULL;
	}
	f->d = d;
	f->r = r;
	f->body = json_incref(body);
	if (raw_len)
		memcpy(f->raw, raw, raw_len);
	f->raw_len = raw_len;
	snprintf(f->method, sizeof(f->method), "%s", method);
	return f;
}

void daemon_forward(struct daemon *d, const char *vm, const char *method, const char *uri,
		    json_t *body, const void *raw, size_t raw_len, struct reply *r)
{
	struct fwd_ctx *f = fwd_new(d, method, uri, body, raw, raw_len, r);
	struct werr err;

	if (f) {
		snprintf(f->vm, sizeof(f->vm), "%s", vm);
		/* The watched view knows the owner of every VM but one made a
		 * moment ago elsewhere: read only then. */
		if (d->cluster->watching && owner_in_view(f)) {
			f->from_view = true;
			fwd_send(f);
			return;
		}
		if (fwd_read_owner(f) == 0)
			return;
		fwd_free(f);
	}
	werr_internal(&err, -ENOMEM, "forwarding");
	reply_error(r, &err);
}

static int fwd_read_owner(struct fwd_ctx *f)
{
	f->from_view = false;
	return etcd_call(f->d, "/v3/kv/range", etcd_range_body(CL_PREFIX, true), on_owner, f);
}

bool daemon_op_elsewhere(struct daemon *d, const char *id)
{
	return cluster_on(d) && strchr(id, '@');
}

void daemon_op_forward(struct daemon *d, const char *method, const char *id, const char *suffix,
		       const char *query, struct reply *r)
{
	const char *at = strchr(id, '@');
	_cleanup_free_ char *uri = NULL;
	struct fwd_ctx *f;
	struct werr err;

	if (asprintf(&uri, "/v1/operations/%.*s%s%s%s", (int)(at - id), id, suffix,
		     query ? "?" : "", query ? query : "") < 0 ||
	    !(f = fwd_new(d, method, uri, NULL, NULL, 0, r))) {
		werr_internal(&err, -ENOMEM, "forwarding");
		reply_error(r, &err);
		return;
	}
	snprintf(f->member, sizeof(f->member), "%s", at + 1);
	if (strcmp(f->member, d->cluster->name) == 0) {
		werr_set(&err, -ENOENT, "not_found", "id", "no operation %s", id);
		reply_error(r, &err);
		fwd_free(f);
		return;
	}
	fwd_send(f);
}

/* ---- reconciliation -------------------------------------------------------- */

/* Make the records of this member match its VMs: register VMs the store
 * does not know (made while etcd was away), take back VMs that arrived
 * while the record could not be moved, drop records of VMs that are gone
 * and placements a crash left behind, and forget VMs another member took
 * over (HA) while this one was cut off. */
void cl_reconcile(struct daemon *d)
{
	struct cluster *cl = d->cluster;
	const char *key;
	json_t *kv;
	int64_t now = (int64_t)now_realtime_ms();

	for (struct vm_rt *vm = d->vms, *next; vm; vm = next) {
		json_t *rec = cl_view_value(cl, CL_VMS, vm->spec->name);
		const char *owner = json_string_value(json_object_get(rec, "member")) ?: "";
		const char *id = json_string_value(json_object_get(rec, "id")) ?: "";

		next = vm->next; /* forgetting frees vm */
		if (vm->mig || vm->state == VM_INCOMING || vm->deleting)
			continue;
		if (!rec) {
			cl_claim_new(d, vm);
		} else if (strcmp(owner, cl->name) != 0 && strcmp(id, vm->id) == 0) {
			const char *from = json_string_value(json_object_get(rec, "taken_from"));
			if (from && strcmp(from, cl->name) == 0)
				cl_forget_local(d, vm);
			else if (vm_state_is_active(vm->state))
				cl_claim(d, vm->spec->name, vm->id, NULL, NULL, NULL);
		}
	}
	json_object_foreach(cl->view, key, kv) {
		json_t *rec = json_object_get(kv, "value");
		const char *name = cl_under(key, CL_VMS);
		const char *state = json_string_value(json_object_get(rec, "state")) ?: "";

		if (!name ||
		    strcmp(json_string_value(json_object_get(rec, "member")) ?: "", cl->name) != 0 ||
		    vm_rt_find(d, name) || name_in_creation(d, name))
			continue;
		if (strcmp(state, "placing") == 0 &&
		    now - json_integer_value(json_object_get(rec, "placed_ms")) < PLACING_STALE_MS)
			continue;
		log_info("cluster: %s: no such VM here any more; removing its record", name);
		cluster_vm_gone(d, name, json_string_value(json_object_get(rec, "id")) ?: "");
	}
}
