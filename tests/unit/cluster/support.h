/*
 * support: members to build the cluster tests from.
 */
#ifndef WARREN_CLUSTER_TEST_SUPPORT_H
#define WARREN_CLUSTER_TEST_SUPPORT_H

#include "cluster/sched.h"

#define MiB (UINT64_C(1) << 20)
#define GiB (UINT64_C(1) << 30)

/* An online, accepting, idle KVM member with no labels, no groups and
 * nothing placed on it. */
struct sched_member support_member(const char *name, uint64_t cap_vcpus, uint64_t cap_memory);

#endif
