/*
 * cluster: where in a cluster of hosts ("members") a VM should run.
 *
 * Pure functions over numbers and names, no I/O: the daemon gathers what
 * each member has and holds, and asks. Placement is a filter scheduler in
 * the manner of OpenStack Nova's: filters drop the members that cannot
 * take the VM, weighers rank the rest, and every member gets a verdict
 * saying why it was dropped or how it scored, so that a refusal or an
 * --explain can show the whole decision. The rebalance planner
 * (cluster/rebalance.h) proposes moves that even out memory use. Memory is
 * in bytes. Functions that can fail return 0 on success and -errno on
 * failure; output parameters named ret are written only on success. The
 * folder depends on util/ and jansson only.
 */
#ifndef WARREN_CLUSTER_SCHED_H
#define WARREN_CLUSTER_SCHED_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SCHED_NAME_MAX 64

/* What the scheduler knows of one member. Borrowed pointers must outlive
 * the calls they are passed to. */
struct sched_member {
	char name[SCHED_NAME_MAX];
	bool online;	/* lease alive */
	bool accepting; /* false: being removed or evacuated */
	char accel[8];	/* "kvm" or "tcg" */
	json_t *labels; /* object of strings, borrowed, may be NULL */
	/* Capacity after overcommit ratios and reservations, and what is
	 * already placed there. alloc may exceed cap (ratios lowered since):
	 * such a member then has nothing free. */
	uint64_t cap_vcpus, cap_memory;
	uint64_t alloc_vcpus, alloc_memory;
	double load; /* host CPU load, 0..1 */
	/* The group of each VM placed there, repeats allowed; a VM in no
	 * group is left out. */
	const char *const *groups;
	size_t n_groups;
};

/* What one VM needs of the member that takes it. */
struct sched_request {
	uint64_t vcpus, memory;
	const char *accel;	   /* required accelerator or NULL */
	json_t *labels;		   /* required labels (object of strings) or NULL */
	const char *affinity;	   /* group or NULL */
	const char *anti_affinity; /* group or NULL */
	const char *exclude;	   /* member never chosen (the one evacuated) or NULL */
};

/*
 * How much each weigher counts; 0 switches one off. Spreading (pack
 * false) prefers the member with the most left free after the VM is
 * placed, packing (pack true) the one with the least, to keep others
 * empty. Load always counts against a member.
 */
struct sched_weights {
	double memory, vcpus, load;
	bool pack;
};

/* Indexes of sched_verdict.parts. */
enum { SCHED_PART_MEMORY, SCHED_PART_VCPUS, SCHED_PART_LOAD, SCHED_N_PARTS };

/* The decision about one member. */
struct sched_verdict {
	bool eligible;
	/* The filter that dropped it, a static string: "online",
	 * "excluded", "capacity", "accelerator", "labels", "affinity",
	 * "anti_affinity"; NULL if eligible. */
	const char *filter;
	char reason[160]; /* why, e.g. "needs 512 MiB memory, 128 MiB free"; "" if eligible */
	double score;	  /* weighted score if eligible, else 0 */
	double parts[SCHED_N_PARTS]; /* normalised weigher values (0..1) if eligible, else 0 */
};

/*
 * Choose a member for req among the n of m: write a verdict for each into
 * out (n entries) and the index of the winner into *ret_chosen.
 *
 * Filters run in this order and the first that fails is recorded:
 *   online         the member is offline ("offline");
 *   excluded       it is req->exclude ("being evacuated") or not
 *                  accepting ("not accepting VMs");
 *   capacity       alloc + request must be <= cap for both vCPUs and
 *                  memory, memory checked first ("needs 512 MiB memory,
 *                  128 MiB free", "needs 4 vCPUs, 2 free");
 *   accelerator    accel must equal req->accel ("has tcg, needs kvm");
 *   labels         every required key present with an equal value ("no
 *                  label zone", "label zone=b, needs zone=a");
 *   affinity       if any member at all (offline and excluded ones
 *                  included) holds a VM of the group, only those pass
 *                  ("holds no VM of group web"); if none does, all pass;
 *   anti_affinity  a member holding a VM of the group is dropped ("holds
 *                  a VM of group web").
 * The VM being placed must not be counted in the members' groups.
 *
 * Weighers rank the eligible members. Three raw values, each normalised
 * min-max over the eligible members to 0..1 (0 for all when all are
 * equal): memory free after placing, vCPUs free after placing, load.
 *   score = w.memory * memory + w.vcpus * vcpus - w.load * load
 * with the memory and vCPU terms negated when w->pack. The highest score
 * wins; equal scores go to the member whose name sorts first (strcmp), so
 * the choice does not depend on the order of m.
 *
 * Returns 0, or -ENOSPC when no member is eligible (out is still filled:
 * see sched_refusal()).
 */
int sched_place(const struct sched_member *m, size_t n, const struct sched_request *req,
		const struct sched_weights *w, struct sched_verdict *out, size_t *ret_chosen);

/*
 * The decision as JSON, for --explain: v holds n verdicts from
 * sched_place() and chosen is the winner's index or NULL when there was
 * none.
 *   {"chosen": "b" | null,
 *    "members": [{"name": "a", "eligible": false, "filter": "capacity",
 *                 "reason": "...", "score": null, "weights": null},
 *                {"name": "b", "eligible": true, "filter": null,
 *                 "reason": null, "score": 0.75,
 *                 "weights": {"memory": 1, "vcpus": 0.5, "load": 0}}]}
 * "weights" holds the normalised parts, before the weights are applied.
 * Members are in the order of m. NULL when out of memory.
 */
json_t *sched_explain_json(const struct sched_member *m, size_t n, const struct sched_verdict *v,
			   const size_t *chosen);

/*
 * One line naming why each dropped member was dropped, in the order of m,
 * for a "no_capacity" error:
 *   "a: capacity (needs 512 MiB memory, 128 MiB free); b: offline"
 * An offline member reads "offline" alone; the others "filter (reason)".
 * Eligible members are left out. buf is always NUL-terminated (when len >
 * 0) and the line cut short if it does not fit.
 */
void sched_refusal(const struct sched_member *m, size_t n, const struct sched_verdict *v, char *buf,
		   size_t len);

#endif
