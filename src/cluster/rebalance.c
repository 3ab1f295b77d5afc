/*
 * rebalance: a greedy planner that evens out memory use.
 *
 * Each step moves one VM off the fullest member, the one whose move
 * narrows the gap between fullest and emptiest most. Greedy is not
 * optimal (that is bin packing), but every step is a move an operator can
 * follow and the plan stops as soon as nothing helps, so it never churns.
 * Cost per step: O(vms * members) filter runs, each O(groups).
 */
#include <string.h>

#include "cluster/cluster-private.h"
#include "cluster/rebalance.h"
#include "util/util.h"

/* A spread must shrink by more than this to count as lower: a move that
 * only shifts rounding is no move. */
#define SPREAD_EPSILON 1e-12

/* The planner's copy of the cluster. Each member copy's groups point
 * into an array owned here, so that groups can follow moved VMs. */
struct plan {
	size_t n;
	struct sched_member *m;
	const char ***groups; /* groups[i] is m[i].groups, owned */
	size_t *groups_cap;
	size_t *at; /* the member each VM is on now */
};

static void plan_free(struct plan *p)
{
	for (size_t i = 0; p->groups && i < p->n; i++)
		free(p->groups[i]);
	free(p->groups);
	free(p->groups_cap);
	free(p->m);
	free(p->at);
}

static int plan_init(struct plan *p, const struct sched_member *m, size_t n,
		     const struct sched_vm *vms, size_t n_vms)
{
	*p = (struct plan){.n = n};
	p->m = calloc(n ? n : 1, sizeof(*p->m));
	p->groups = calloc(n ? n : 1, sizeof(*p->groups));
	p->groups_cap = calloc(n ? n : 1, sizeof(*p->groups_cap));
	p->at = calloc(n_vms ? n_vms : 1, sizeof(*p->at));
	if (!p->m || !p->groups || !p->groups_cap || !p->at)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		size_t cap = m[i].n_groups + 4;

		p->m[i] = m[i];
		p->groups[i] = calloc(cap, sizeof(**p->groups));
		if (!p->groups[i])
			return -ENOMEM;
		if (m[i].n_groups)
			memcpy(p->groups[i], m[i].groups, m[i].n_groups * sizeof(**p->groups));
		p->groups_cap[i] = cap;
		p->m[i].groups = p->groups[i];
	}
	for (size_t v = 0; v < n_vms; v++)
		p->at[v] = vms[v].member;
	return 0;
}

static int group_add(struct plan *p, size_t i, const char *group)
{
	struct sched_member *mb = &p->m[i];

	if (mb->n_groups == p->groups_cap[i]) {
		size_t cap = p->groups_cap[i] * 2;
		const char **g = realloc(p->groups[i], cap * sizeof(*g));

		if (!g)
			return -ENOMEM;
		p->groups[i] = g;
		p->groups_cap[i] = cap;
		mb->groups = g;
	}
	p->groups[i][mb->n_groups++] = group;
	return 0;
}

/* Drop one entry of group from member i; the order of groups does not
 * matter, so the last entry takes its place. */
static void group_remove(struct plan *p, size_t i, const char *group)
{
	struct sched_member *mb = &p->m[i];

	for (size_t k = 0; k < mb->n_groups; k++) {
		if (p->groups[i][k] && strcmp(p->groups[i][k], group) == 0) {
			p->groups[i][k] = p->groups[i][--mb->n_groups];
			return;
		}
	}
}

/* ---- utilisation ------------------------------------------------------------ */

static bool counts(const struct sched_member *mb)
{
	return mb->online && mb->accepting;
}

static double utilisation(const struct sched_member *mb)
{
	return mb->cap_memory ? (double)mb->alloc_memory / (double)mb->cap_memory : 0;
}

static double spread(const struct sched_member *m, size_t n)
{
	double lo = 0, hi = 0;
	bool any = false;

	for (size_t i = 0; i < n; i++) {
		double u;

		if (!counts(&m[i]))
			continue;
		u = utilisation(&m[i]);
		if (!any || u < lo)
			lo = u;
		if (!any || u > hi)
			hi = u;
		any = true;
	}
	return hi - lo;
}

/* Is a the better pick than b: the fuller one when fullest, else the
 * emptier one; equally full ones go by name. */
static bool picks_before(const struct sched_member *a, const struct sched_member *b, bool fullest)
{
	double ua = utilisation(a), ub = utilisation(b);

	if (ua != ub)
		return fullest ? ua > ub : ua < ub;
	return strcmp(a->name, b->name) < 0;
}

static size_t most_utilised(const struct sched_member *m, size_t n)
{
	size_t best = n;

	for (size_t i = 0; i < n; i++)
		if (counts(&m[i]) && (best == n || picks_before(&m[i], &m[best], true)))
			best = i;
	return best;
}

static uint64_t sub_floor(uint64_t a, uint64_t b)
{
	return a > b ? a - b : 0;
}

/* ---- steps ------------------------------------------------------------------ */

/* The least utilised member that could take vm from src, or n. */
static size_t target_for(const struct plan *p, size_t src, const struct sched_vm *vm)
{
	const unsigned mask = (1u << SCHED_F_ONLINE) | (1u << SCHED_F_EXCLUDED) |
			      (1u << SCHED_F_CAPACITY) | (1u << SCHED_F_ANTI_AFFINITY);
	struct sched_request req = {
	    .vcpus = vm->vcpus,
	    .memory = vm->memory,
	    .anti_affinity = vm->group,
	    .exclude = p->m[src].name,
	};
	struct sched_filter_ctx c;
	size_t best = p->n;
	char reason[160];

	sched_filter_init(&c, p->m, p->n, &req);
	for (size_t j = 0; j < p->n; j++)
		if (j != src && !sched_filter_member(&c, j, mask, reason, sizeof(reason)) &&
		    (best == p->n || picks_before(&p->m[j], &p->m[best], false)))
			best = j;
	return best;
}

/* The spread if vm went from src to dst; memory is all it depends on. */
static double spread_if_moved(struct plan *p, size_t src, size_t dst, const struct sched_vm *vm)
{
	uint64_t src_alloc = p->m[src].alloc_memory, dst_alloc = p->m[dst].alloc_memory;
	double s;

	p->m[src].alloc_memory = sub_floor(src_alloc, vm->memory);
	p->m[dst].alloc_memory = dst_alloc + vm->memory;
	s = spread(p->m, p->n);
	p->m[src].alloc_memory = src_alloc;
	p->m[dst].alloc_memory = dst_alloc;
	return s;
}

static int move_apply(struct plan *p, size_t v, const struct sched_vm *vm, size_t dst)
{
	size_t src = p->at[v];

	if (vm->group) {
		int r = group_add(p, dst, vm->group);
		if (r < 0)
			return r;
		group_remove(p, src, vm->group);
	}
	p->m[src].alloc_memory = sub_floor(p->m[src].alloc_memory, vm->memory);
	p->m[src].alloc_vcpus = sub_floor(p->m[src].alloc_vcpus, vm->vcpus);
	p->m[dst].alloc_memory += vm->memory;
	p->m[dst].alloc_vcpus += vm->vcpus;
	p->at[v] = dst;
	return 0;
}

/*
 * One step: the move off the most utilised member that lowers the spread
 * most below cur. false when there is none.
 */
static bool step_find(struct plan *p, const struct sched_vm *vms, size_t n_vms, double cur,
		      struct sched_move *ret)
{
	size_t src = most_utilised(p->m, p->n);
	double best_spread = cur;
	bool found = false;

	if (src == p->n)
		return false;
	for (size_t v = 0; v < n_vms; v++) {
		size_t dst;
		double s;

		if (p->at[v] != src || !vms[v].movable)
			continue;
		dst = target_for(p, src, &vms[v]);
		if (dst == p->n)
			continue;
		s = spread_if_moved(p, src, dst, &vms[v]);
		if (s >= cur - SPREAD_EPSILON)
			continue;
		if (!found || s < best_spread - SPREAD_EPSILON ||
		    (s <= best_spread + SPREAD_EPSILON &&
		     strcmp(vms[v].name, vms[ret->vm].name) < 0)) {
			*ret = (struct sched_move){.vm = v, .from = src, .to = dst};
			best_spread = s;
			found = true;
		}
	}
	return found;
}

int sched_rebalance(const struct sched_member *m, size_t n, const struct sched_vm *vms,
		    size_t n_vms, double threshold, struct sched_move *moves, size_t max_moves,
		    size_t *ret_n_moves, double *ret_spread_before, double *ret_spread_after)
{
	struct plan p;
	double before, cur;
	size_t k = 0;
	int r;

	for (size_t v = 0; v < n_vms; v++)
		if (vms[v].member >= n)
			return -EINVAL;
	r = plan_init(&p, m, n, vms, n_vms);
	if (r < 0)
		goto out;

	before = cur = spread(p.m, n);
	while (k < max_moves && cur > threshold) {
		struct sched_move mv;

		if (!step_find(&p, vms, n_vms, cur, &mv))
			break;
		r = move_apply(&p, mv.vm, &vms[mv.vm], mv.to);
		if (r < 0)
			goto out;
		moves[k++] = mv;
		cur = spread(p.m, n);
	}
	*ret_n_moves = k;
	*ret_spread_before = before;
	*ret_spread_after = cur;
	r = 0;
out:
	plan_free(&p);
	return r;
}
