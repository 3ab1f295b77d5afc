/*
 * sched: the placement filters and weighers, and the two ways a decision
 * is shown (--explain JSON, the one-line refusal).
 *
 * Filters are a table run in order, so the first that fails names the
 * reason a member was dropped; weighers are normalised over the members
 * still standing, so that a weight means the same on a cluster of small
 * hosts as on one of large ones. Cost: O(n * groups) per request, which
 * is nothing beside the migration or boot that follows.
 */
#include <stdarg.h>
#include <string.h>

#include "cluster/cluster-private.h"
#include "util/util.h"

/* Scores closer than this are a tie, broken by name: sums of doubles
 * that are equal on paper may differ in the last bit. */
#define SCORE_EPSILON 1e-9

/* A memory size for a reason: whole units when exact ("512 MiB", "2
 * GiB"), util's one-decimal form otherwise. */
static const char *mem_format(uint64_t bytes, char *buf, size_t len)
{
	static const char *const units[] = {"TiB", "GiB", "MiB"};

	for (size_t i = 0; i < ARRAY_SIZE(units); i++) {
		uint64_t unit = UINT64_C(1) << (40 - 10 * i);
		if (bytes >= unit && bytes % unit == 0) {
			snprintf(buf, len, "%llu %s", (unsigned long long)(bytes / unit), units[i]);
			return buf;
		}
	}
	return size_format(bytes, buf, len);
}

static uint64_t free_of(uint64_t cap, uint64_t alloc)
{
	return alloc >= cap ? 0 : cap - alloc;
}

bool sched_member_holds(const struct sched_member *m, const char *group)
{
	for (size_t i = 0; i < m->n_groups; i++)
		if (m->groups[i] && strcmp(m->groups[i], group) == 0)
			return true;
	return false;
}

/* ---- filters ---------------------------------------------------------------- */

/* Each returns true when member mb passes; otherwise it fills reason. */
typedef bool (*filter_fn)(const struct sched_filter_ctx *c, const struct sched_member *mb,
			  char *reason, size_t len);

static bool filter_online(const struct sched_filter_ctx *c, const struct sched_member *mb,
			  char *reason, size_t len)
{
	if (mb->online)
		return true;
	snprintf(reason, len, "offline");
	return false;
}

static bool filter_excluded(const struct sched_filter_ctx *c, const struct sched_member *mb,
			    char *reason, size_t len)
{
	if (c->req->exclude && strcmp(mb->name, c->req->exclude) == 0) {
		snprintf(reason, len, "being evacuated");
		return false;
	}
	if (!mb->accepting) {
		snprintf(reason, len, "not accepting VMs");
		return false;
	}
	return true;
}

static bool filter_capacity(const struct sched_filter_ctx *c, const struct sched_member *mb,
			    char *reason, size_t len)
{
	uint64_t mem = free_of(mb->cap_memory, mb->alloc_memory);
	uint64_t vcpus = free_of(mb->cap_vcpus, mb->alloc_vcpus);
	char need[32], have[32];

	/* Compared against what is free, so that alloc + request cannot
	 * overflow. */
	if (c->req->memory > mem) {
		snprintf(reason, len, "needs %s memory, %s free",
			 mem_format(c->req->memory, need, sizeof(need)),
			 mem_format(mem, have, sizeof(have)));
		return false;
	}
	if (c->req->vcpus > vcpus) {
		snprintf(reason, len, "needs %llu vCPU%s, %llu free",
			 (unsigned long long)c->req->vcpus, c->req->vcpus == 1 ? "" : "s",
			 (unsigned long long)vcpus);
		return false;
	}
	return true;
}

static bool filter_accelerator(const struct sched_filter_ctx *c, const struct sched_member *mb,
			       char *reason, size_t len)
{
	if (!c->req->accel || strcmp(mb->accel, c->req->accel) == 0)
		return true;
	snprintf(reason, len, "has %s, needs %s", mb->accel[0] ? mb->accel : "none", c->req->accel);
	return false;
}

static const char *label_text(json_t *v)
{
	return json_is_string(v) ? json_string_value(v) : "(not a string)";
}

static bool filter_labels(const struct sched_filter_ctx *c, const struct sched_member *mb,
			  char *reason, size_t len)
{
	const char *key;
	json_t *want;

	json_object_foreach(c->req->labels, key, want)
	{
		/* json_object_get() of a NULL object is NULL: no labels at all. */
		json_t *have = json_object_get(mb->labels, key);

		if (!have) {
			snprintf(reason, len, "no label %s", key);
			return false;
		}
		if (!json_equal(have, want)) {
			snprintf(reason, len, "label %s=%s, needs %s=%s", key, label_text(have),
				 key, label_text(want));
			return false;
		}
	}
	return true;
}

static bool filter_affinity(const struct sched_filter_ctx *c, const struct sched_member *mb,
			    char *reason, size_t len)
{
	/* A group not held anywhere yet may start on any member. */
	if (!c->req->affinity || !c->affinity_held || sched_member_holds(mb, c->req->affinity))
		return true;
	snprintf(reason, len, "holds no VM of group %s", c->req->affinity);
	return false;
}

static bool filter_anti_affinity(const struct sched_filter_ctx *c, const struct sched_member *mb,
				 char *reason, size_t len)
{
	if (!c->req->anti_affinity || !sched_member_holds(mb, c->req->anti_affinity))
		return true;
	snprintf(reason, len, "holds a VM of group %s", c->req->anti_affinity);
	return false;
}

static const struct {
	const char *name;
	filter_fn pass;
} filters[SCHED_N_FILTERS] = {
    [SCHED_F_ONLINE] = {"online", filter_online},
    [SCHED_F_EXCLUDED] = {"excluded", filter_excluded},
    [SCHED_F_CAPACITY] = {"capacity", filter_capacity},
    [SCHED_F_ACCELERATOR] = {"accelerator", filter_accelerator},
    [SCHED_F_LABELS] = {"labels", filter_labels},
    [SCHED_F_AFFINITY] = {"affinity", filter_affinity},
    [SCHED_F_ANTI_AFFINITY] = {"anti_affinity", filter_anti_affinity},
};

void sched_filter_init(struct sched_filter_ctx *c, const struct sched_member *m, size_t n,
		       const struct sched_request *req)
{
	*c = (struct sched_filter_ctx){.m = m, .n = n, .req = req};
	for (size_t i = 0; req->affinity && i < n && !c->affinity_held; i++)
		c->affinity_held = sched_member_holds(&m[i], req->affinity);
}

const char *sched_filter_member(const struct sched_filter_ctx *c, size_t i, unsigned mask,
				char *reason, size_t len)
{
	for (size_t f = 0; f < SCHED_N_FILTERS; f++)
		if ((mask & (1u << f)) && !filters[f].pass(c, &c->m[i], reason, len))
			return filters[f].name;
	if (len)
		reason[0] = '\0';
	return NULL;
}

/* ---- weighers --------------------------------------------------------------- */

/* The raw value of each weigher for member mb if it takes req. */
static void weigh_raw(const struct sched_member *mb, const struct sched_request *req,
		      double parts[SCHED_N_PARTS])
{
	/* Only eligible members are weighed: the request fits, nothing wraps. */
	parts[SCHED_PART_MEMORY] =
	    (double)(free_of(mb->cap_memory, mb->alloc_memory) - req->memory);
	parts[SCHED_PART_VCPUS] = (double)(free_of(mb->cap_vcpus, mb->alloc_vcpus) - req->vcpus);
	parts[SCHED_PART_LOAD] = mb->load;
}

/* The signed weight of each part: free resources count for a member when
 * spreading and against it when packing; load always counts against. */
static void weigh_factors(const struct sched_weights *w, double factors[SCHED_N_PARTS])
{
	factors[SCHED_PART_MEMORY] = w->pack ? -w->memory : w->memory;
	factors[SCHED_PART_VCPUS] = w->pack ? -w->vcpus : w->vcpus;
	factors[SCHED_PART_LOAD] = -w->load;
}

/* Does a beat b: a higher score, or an equal one and a name first? */
static bool ranks_before(double score_a, const char *name_a, double score_b, const char *name_b)
{
	if (score_a > score_b + SCORE_EPSILON)
		return true;
	if (score_a < score_b - SCORE_EPSILON)
		return false;
	return strcmp(name_a, name_b) < 0;
}

int sched_place(const struct sched_member *m, size_t n, const struct sched_request *req,
		const struct sched_weights *w, struct sched_verdict *out, size_t *ret_chosen)
{
	double lo[SCHED_N_PARTS], hi[SCHED_N_PARTS], factors[SCHED_N_PARTS];
	struct sched_filter_ctx c;
	size_t best = n;

	sched_filter_init(&c, m, n, req);
	for (size_t i = 0; i < n; i++) {
		struct sched_verdict *v = &out[i];

		*v = (struct sched_verdict){0};
		v->filter = sched_filter_member(&c, i, SCHED_F_ALL, v->reason, sizeof(v->reason));
		v->eligible = !v->filter;
		if (!v->eligible)
			continue;
		weigh_raw(&m[i], req, v->parts);
		for (size_t k = 0; k < SCHED_N_PARTS; k++) {
			if (best == n || v->parts[k] < lo[k])
				lo[k] = v->parts[k];
			if (best == n || v->parts[k] > hi[k])
				hi[k] = v->parts[k];
		}
		best = i; /* any eligible one, until ranked below */
	}
	if (best == n)
		return -ENOSPC;

	weigh_factors(w, factors);
	for (size_t i = 0; i < n; i++) {
		struct sched_verdict *v = &out[i];

		if (!v->eligible)
			continue;
		for (size_t k = 0; k < SCHED_N_PARTS; k++) {
			double range = hi[k] - lo[k];

			v->parts[k] = range > 0 ? (v->parts[k] - lo[k]) / range : 0;
			v->score += factors[k] * v->parts[k];
		}
	}
	for (size_t i = 0; i < n; i++)
		if (out[i].eligible && i != best &&
		    ranks_before(out[i].score, m[i].name, out[best].score, m[best].name))
			best = i;
	*ret_chosen = best;
	return 0;
}

/* ---- showing a decision ----------------------------------------------------- */

static json_t *verdict_json(const struct sched_member *mb, const struct sched_verdict *v)
{
	if (!v->eligible)
		return json_pack("{s:s, s:b, s:s, s:s, s:n, s:n}", "name", mb->name, "eligible", 0,
				 "filter", v->filter, "reason", v->reason, "score", "weights");
	return json_pack("{s:s, s:b, s:n, s:n, s:f, s:{s:f, s:f, s:f}}", "name", mb->name,
			 "eligible", 1, "filter", "reason", "score", v->score, "weights", "memory",
			 v->parts[SCHED_PART_MEMORY], "vcpus", v->parts[SCHED_PART_VCPUS], "load",
			 v->parts[SCHED_PART_LOAD]);
}

json_t *sched_explain_json(const struct sched_member *m, size_t n, const struct sched_verdict *v,
			   const size_t *chosen)
{
	json_t *members = json_array();
	json_t *ret;

	if (!members)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		if (json_array_append_new(members, verdict_json(&m[i], &v[i])) < 0) {
			json_decref(members);
			return NULL;
		}
	}
	/* "O" takes a reference of its own, so members is dropped here
	 * whether the pack succeeds or not. */
	if (chosen)
		ret = json_pack("{s:s, s:O}", "chosen", m[*chosen].name, "members", members);
	else
		ret = json_pack("{s:n, s:O}", "chosen", "members", members);
	json_decref(members);
	return ret;
}

/* Append to buf[len] at *pos, keeping it NUL-terminated; what does not
 * fit is cut. */
static void appendf(char *buf, size_t len, size_t *pos, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void appendf(char *buf, size_t len, size_t *pos, const char *fmt, ...)
{
	va_list ap;
	int r;

	if (*pos + 1 >= len)
		return;
	va_start(ap, fmt);
	r = vsnprintf(buf + *pos, len - *pos, fmt, ap);
	va_end(ap);
	if (r > 0)
		*pos += (size_t)r < len - *pos ? (size_t)r : len - *pos - 1;
}

void sched_refusal(const struct sched_member *m, size_t n, const struct sched_verdict *v, char *buf,
		   size_t len)
{
	size_t pos = 0;

	if (!len)
		return;
	buf[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		if (v[i].eligible)
			continue;
		appendf(buf, len, &pos, "%s%s: ", pos ? "; " : "", m[i].name);
		/* "b: offline" says it all; "online (offline)" would stutter. */
		if (strcmp(v[i].filter, "online") == 0)
			appendf(buf, len, &pos, "%s", v[i].reason);
		else
			appendf(buf, len, &pos, "%s (%s)", v[i].filter, v[i].reason);
	}
}
