/*
 * cluster-private: the placement filters, shared by sched.c and the
 * rebalance planner. Not part of the folder's interface; include
 * cluster/sched.h or cluster/rebalance.h from elsewhere.
 */
#ifndef WARREN_CLUSTER_PRIVATE_H
#define WARREN_CLUSTER_PRIVATE_H

#include "cluster/sched.h"

/* The filters, in the order they run; a mask of (1u << SCHED_F_x) picks some. */
enum {
	SCHED_F_ONLINE,
	SCHED_F_EXCLUDED,
	SCHED_F_CAPACITY,
	SCHED_F_ACCELERATOR,
	SCHED_F_LABELS,
	SCHED_F_AFFINITY,
	SCHED_F_ANTI_AFFINITY,
	SCHED_N_FILTERS
};

#define SCHED_F_ALL ((1u << SCHED_N_FILTERS) - 1)

/* One request against one set of members. Filled by sched_filter_init(),
 * which does the work shared by every member once; m and req are
 * borrowed. */
struct sched_filter_ctx {
	const struct sched_member *m;
	size_t n;
	const struct sched_request *req;
	bool affinity_held; /* some member holds a VM of req->affinity */
};

void sched_filter_init(struct sched_filter_ctx *c, const struct sched_member *m, size_t n,
		       const struct sched_request *req);

/*
 * Run the filters of mask on member i in order. NULL when it passes them
 * all; otherwise the name of the first that fails (a static string), with
 * reason[len] saying why.
 */
const char *sched_filter_member(const struct sched_filter_ctx *c, size_t i, unsigned mask,
				char *reason, size_t len);

/* Does member m hold a VM of group? */
bool sched_member_holds(const struct sched_member *m, const char *group);

#endif
