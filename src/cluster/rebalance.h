/*
 * rebalance: moves that even out memory use across a cluster.
 *
 * A planner only: it proposes live migrations and the caller carries them
 * out. It works on copies of what it is given and reuses the placement
 * filters of sched.h, so a proposed move is one sched_place() would let
 * through on capacity and anti-affinity.
 */
#ifndef WARREN_CLUSTER_REBALANCE_H
#define WARREN_CLUSTER_REBALANCE_H

#include "cluster/sched.h"

/* A VM as the planner sees it. */
struct sched_vm {
	char name[SCHED_NAME_MAX];
	size_t member; /* index of the member it runs on */
	uint64_t vcpus, memory;
	/* Its anti-affinity group or NULL; counted in its member's groups.
	 * A VM bound to its members by affinity should not be movable. */
	const char *group;
	bool movable; /* false: pinned, local disks, migration not allowed */
};

/* Move vms[vm] from member from to member to. */
struct sched_move {
	size_t vm, from, to;
};

/*
 * Plan at most max_moves moves that bring the spread of memory use to
 * threshold or below.
 *
 * The utilisation of a member is alloc_memory / cap_memory (0 when
 * cap_memory is 0); the spread is the largest minus the smallest over the
 * members that are online and accepting (0 with fewer than two). Each
 * step takes the most utilised of those members and, among its movable
 * VMs, the one whose move lowers the spread most, moved to the least
 * utilised member that passes the online, excluded, capacity and
 * anti_affinity filters for it. Planning stops when the spread is at or
 * below threshold, when max_moves are planned, or when no move of the
 * most utilised member lowers the spread. Equal choices go to the name
 * that sorts first. Later moves see the earlier ones: allocations and
 * groups follow the VMs moved. m and vms are not changed.
 *
 * moves (max_moves entries) receives the plan in order and *ret_n_moves
 * its length; *ret_spread_before and *ret_spread_after the spread before
 * and after the whole plan. -EINVAL when a VM names a member past n,
 * -ENOMEM.
 */
int sched_rebalance(const struct sched_member *m, size_t n, const struct sched_vm *vms,
		    size_t n_vms, double threshold, struct sched_move *moves, size_t max_moves,
		    size_t *ret_n_moves, double *ret_spread_before, double *ret_spread_after);

#endif
