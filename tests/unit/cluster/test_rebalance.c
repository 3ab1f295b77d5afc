/* Unit tests for cluster/rebalance.c: when the planner moves nothing,
 * what it moves, and the filters it keeps to. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

#include "cluster/rebalance.h"
#include "support.h"
#include "util/util.h"

#define MAX_MOVES 16

static struct sched_vm vm(const char *name, size_t member, uint64_t memory, bool movable)
{
	struct sched_vm v = {.member = member, .vcpus = 1, .memory = memory, .movable = movable};

	assert_true(strlen(name) < sizeof(v.name));
	strcpy(v.name, name);
	return v;
}

/* Put every VM's memory and vCPUs on its member. */
static void place_all(struct sched_member *m, const struct sched_vm *vms, size_t n_vms)
{
	for (size_t i = 0; i < n_vms; i++) {
		m[vms[i].member].alloc_memory += vms[i].memory;
		m[vms[i].member].alloc_vcpus += vms[i].vcpus;
	}
}

struct plan {
	struct sched_move moves[MAX_MOVES];
	size_t n_moves;
	double before, after;
};

static void plan(const struct sched_member *m, size_t n, const struct sched_vm *vms, size_t n_vms,
		 double threshold, struct plan *p)
{
	assert_int_equal(sched_rebalance(m, n, vms, n_vms, threshold, p->moves, MAX_MOVES,
					 &p->n_moves, &p->before, &p->after),
			 0);
}

static void assert_move(const struct sched_move *mv, size_t vm_index, size_t from, size_t to)
{
	assert_int_equal(mv->vm, vm_index);
	assert_int_equal(mv->from, from);
	assert_int_equal(mv->to, to);
}

static void test_balanced_cluster_moves_nothing(void **state)
{
	struct sched_member m[3] = {support_member("a", 16, 8 * GiB),
				    support_member("b", 16, 16 * GiB),
				    support_member("c", 16, 4 * GiB)};
	struct sched_vm vms[] = {vm("v1", 0, 4 * GiB, true), vm("v2", 1, 8 * GiB, true),
				 vm("v3", 2, 2 * GiB, true)};
	struct plan p;

	place_all(m, vms, ARRAY_SIZE(vms));
	plan(m, 3, vms, ARRAY_SIZE(vms), 0.1, &p);
	assert_int_equal(p.n_moves, 0);
	assert_true(p.before == 0.0 && p.after == 0.0);
}

static void test_overloaded_member_is_drained_below_threshold(void **state)
{
	struct sched_member m[4] = {
	    support_member("a", 16, 16 * GiB), support_member("b", 16, 16 * GiB),
	    support_member("c", 16, 16 * GiB), support_member("d", 16, 16 * GiB)};
	struct sched_vm vms[8];
	struct plan p;

	for (size_t i = 0; i < ARRAY_SIZE(vms); i++) {
		char name[8];

		snprintf(name, sizeof(name), "v%zu", i);
		vms[i] = vm(name, 0, GiB, true);
	}
	place_all(m, vms, ARRAY_SIZE(vms));
	/* Members out of the lease or being drained are neither measured
	 * nor given VMs. */
	m[3].online = false;

	/* a holds 8 of 16 GiB, b and c nothing: spread 0.5. Each step moves
	 * the first-named VM to the emptier of b and c, b on a tie, until a
	 * holds 3 GiB, b 3 and c 2: spread 1/16. */
	plan(m, 4, vms, ARRAY_SIZE(vms), 0.1, &p);
	assert_true(p.before == 0.5);
	assert_true(p.after == 1.0 / 16);
	assert_int_equal(p.n_moves, 5);
	for (size_t i = 0; i < p.n_moves; i++)
		assert_move(&p.moves[i], i, 0, i % 2 ? 2 : 1);

	/* The inputs are untouched. */
	assert_int_equal(m[0].alloc_memory, 8 * GiB);
	assert_int_equal(m[1].alloc_memory, 0);

	/* max_moves caps the plan; the spread after says how far it got. */
	assert_int_equal(sched_rebalance(m, 4, vms, ARRAY_SIZE(vms), 0.1, p.moves, 2, &p.n_moves,
					 &p.before, &p.after),
			 0);
	assert_int_equal(p.n_moves, 2);
	assert_true(p.after == 5.0 / 16);
}

static void test_unmovable_vms_stay(void **state)
{
	/* Moving big would even out a and b best (spread 0.1); it is pinned,
	 * so small goes, and then a has nothing left to move. */
	struct sched_member m[2] = {support_member("a", 16, 10 * GiB),
				    support_member("b", 16, 20 * GiB)};
	struct sched_vm vms[] = {vm("big", 0, 4 * GiB, true), vm("small", 0, GiB, true)};
	struct plan p;

	place_all(m, vms, ARRAY_SIZE(vms));
	plan(m, 2, vms, ARRAY_SIZE(vms), 0, &p);
	assert_int_equal(p.n_moves, 1);
	assert_move(&p.moves[0], 0, 0, 1);
	assert_true(p.after > 0.099 && p.after < 0.101);

	vms[0].movable = false;
	plan(m, 2, vms, ARRAY_SIZE(vms), 0, &p);
	assert_int_equal(p.n_moves, 1);
	assert_move(&p.moves[0], 1, 0, 1);
	assert_true(p.after > 0.349 && p.after < 0.351);

	vms[1].movable = false;
	plan(m, 2, vms, ARRAY_SIZE(vms), 0, &p);
	assert_int_equal(p.n_moves, 0);
	assert_true(p.before == 0.5 && p.after == 0.5);
}

static void test_no_move_overfills_its_target(void **state)
{
	/* b is the emptiest but 4 GiB do not fit beside its 1 GiB: big goes
	 * to c, the least utilised member that can take it. */
	struct sched_member m[3] = {support_member("a", 16, 8 * GiB),
				    support_member("b", 16, 4 * GiB),
				    support_member("c", 16, 32 * GiB)};
	struct sched_vm vms[] = {vm("big", 0, 4 * GiB, true), vm("pinned", 0, 2 * GiB, false),
				 vm("b1", 1, GiB, false), vm("c1", 2, 10 * GiB, false)};
	struct plan p;

	place_all(m, vms, ARRAY_SIZE(vms));
	plan(m, 3, vms, ARRAY_SIZE(vms), 0, &p);
	assert_true(p.before == 0.5);
	assert_int_equal(p.n_moves, 1);
	assert_move(&p.moves[0], 0, 0, 2);
	assert_true(p.after == 0.1875);

	/* Without c nothing can take it: no move at all. */
	plan(m, 2, vms, 3, 0, &p);
	assert_int_equal(p.n_moves, 0);
	assert_true(p.after == p.before);
}

static void test_groups_follow_moved_vms(void **state)
{
	/* w1 and w2 are apart by anti-affinity. w1 goes to b first; w2 then
	 * finds b and c equally empty and, with b holding w1's group now,
	 * goes to c. */
	static const char *const a_groups[] = {"web", "web"};
	struct sched_member m[3] = {support_member("a", 16, 4 * GiB),
				    support_member("b", 16, 8 * GiB),
				    support_member("c", 16, 8 * GiB)};
	struct sched_vm vms[] = {vm("w1", 0, GiB, true), vm("w2", 0, GiB, true),
				 vm("p", 0, 2 * GiB, false), vm("c1", 2, GiB, false)};
	struct plan p;

	vms[0].group = vms[1].group = "web";
	m[0].groups = a_groups;
	m[0].n_groups = 2;
	place_all(m, vms, ARRAY_SIZE(vms));
	plan(m, 3, vms, ARRAY_SIZE(vms), 0, &p);
	assert_int_equal(p.n_moves, 2);
	assert_move(&p.moves[0], 0, 0, 1);
	assert_move(&p.moves[1], 1, 0, 2);
	assert_true(p.after == 0.375);
	assert_int_equal(m[0].n_groups, 2);
	assert_int_equal(m[1].n_groups, 0);
}

static void test_vm_on_unknown_member_is_invalid(void **state)
{
	struct sched_member m = support_member("a", 16, 8 * GiB);
	struct sched_vm v = vm("v", 1, GiB, true);
	struct sched_move mv;
	size_t n_moves = 99;
	double before = -1, after = -1;

	assert_int_equal(sched_rebalance(&m, 1, &v, 1, 0, &mv, 1, &n_moves, &before, &after),
			 -EINVAL);
	assert_int_equal(n_moves, 99);
	assert_true(before == -1 && after == -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_balanced_cluster_moves_nothing),
	    cmocka_unit_test(test_overloaded_member_is_drained_below_threshold),
	    cmocka_unit_test(test_unmovable_vms_stay),
	    cmocka_unit_test(test_no_move_overfills_its_target),
	    cmocka_unit_test(test_groups_follow_moved_vms),
	    cmocka_unit_test(test_vm_on_unknown_member_is_invalid),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
