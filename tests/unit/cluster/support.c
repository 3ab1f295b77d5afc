/* support: members to build the cluster tests from (see support.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

#include "support.h"

struct sched_member support_member(const char *name, uint64_t cap_vcpus, uint64_t cap_memory)
{
	struct sched_member m = {
	    .online = true,
	    .accepting = true,
	    .accel = "kvm",
	    .cap_vcpus = cap_vcpus,
	    .cap_memory = cap_memory,
	};

	assert_true(strlen(name) < sizeof(m.name));
	strcpy(m.name, name);
	return m;
}
