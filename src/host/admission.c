/*
 * admission: how much of the host VMs may take, and whether one more fits.
 *
 * Pure functions over numbers: the daemon sums what its VMs use and asks
 * before it starts one. Overcommit is explicit: cpu_ratio vCPUs per host
 * CPU, memory_ratio bytes per byte left after the host's reserve. A
 * refusal says what is short, by how much and why the capacity is what
 * it is, because "no capacity" alone sends a user hunting.
 */
#include <math.h>
#include <string.h>

#include "host/host.h"
#include "util/util.h"

/* vCPU sums are doubles (dedicated CPUs count cpu_ratio units each);
 * compare with a little slack so that 0.1 + 0.2 fits in 0.3. */
#define VCPU_EPSILON 1e-6

void host_capacity_config_default(const struct host_inventory *inv,
				  struct host_capacity_config *ret)
{
	ret->cpu_ratio = HOST_DEFAULT_CPU_RATIO;
	ret->memory_ratio = HOST_DEFAULT_MEMORY_RATIO;
	ret->memory_reserved = HOST_DEFAULT_RESERVE(inv->mem_total);
}

void host_capacity(const struct host_inventory *inv, const struct host_capacity_config *cfg,
		   struct host_alloc *ret)
{
	long double mem = 0;

	ret->vcpus = (double)inv->cpu.online * cfg->cpu_ratio;
	if (inv->mem_total > cfg->memory_reserved)
		/* long double keeps every bit of a 64-bit byte count at ratio 1.0 */
		mem = (long double)(inv->mem_total - cfg->memory_reserved) * cfg->memory_ratio;
	ret->memory = mem >= (long double)UINT64_MAX ? UINT64_MAX : (uint64_t)mem;
}

/* A count of vCPUs: "4", "1.5". */
static const char *vcpu_format(double v, char *buf, size_t len)
{
	if (fabs(v - round(v)) < VCPU_EPSILON)
		snprintf(buf, len, "%.0f", round(v));
	else
		snprintf(buf, len, "%.1f", v);
	return buf;
}

/* A ratio with one decimal, or as many more (up to three) as it needs to
 * stay true: "4.0", "1.5", "0.25". */
static const char *ratio_format(double v, char *buf, size_t len)
{
	for (int prec = 1; prec <= 3; prec++) {
		double scale = pow(10, prec);
		if (fabs(v * scale - round(v * scale)) < 1e-6 || prec == 3) {
			snprintf(buf, len, "%.*f", prec, v);
			break;
		}
	}
	return buf;
}

static int refuse_memory(const struct host_capacity_config *cfg, const struct host_alloc *cap,
			 const struct host_alloc *used, const struct host_alloc *need, char *msg,
			 size_t msg_len)
{
	char needs[32], avail[32], total[32], reserved[32], ratio[16];
	uint64_t free_bytes = cap->memory > used->memory ? cap->memory - used->memory : 0;

	if (msg && msg_len)
		snprintf(msg, msg_len,
			 "not enough memory: VM needs %s, %s free of %s (ratio %s, %s reserved "
			 "for the host)",
			 size_format(need->memory, needs, sizeof(needs)),
			 size_format(free_bytes, avail, sizeof(avail)),
			 size_format(cap->memory, total, sizeof(total)),
			 ratio_format(cfg->memory_ratio, ratio, sizeof(ratio)),
			 size_format(cfg->memory_reserved, reserved, sizeof(reserved)));
	return -ENOSPC;
}

static int refuse_cpu(const struct host_inventory *inv, const struct host_capacity_config *cfg,
		      const struct host_alloc *cap, const struct host_alloc *used,
		      const struct host_alloc *need, char *msg, size_t msg_len)
{
	char needs[32], avail[32], total[32], ratio[16];
	double free_vcpus = cap->vcpus > used->vcpus ? cap->vcpus - used->vcpus : 0;
	bool one = fabs(need->vcpus - 1) < VCPU_EPSILON;

	if (msg && msg_len)
		snprintf(msg, msg_len,
			 "not enough CPU: VM needs %s vCPU%s, %s free of %s (%u host CPU%s, "
			 "ratio %s)",
			 vcpu_format(need->vcpus, needs, sizeof(needs)), one ? "" : "s",
			 vcpu_format(free_vcpus, avail, sizeof(avail)),
			 vcpu_format(cap->vcpus, total, sizeof(total)), inv->cpu.online,
			 inv->cpu.online == 1 ? "" : "s",
			 ratio_format(cfg->cpu_ratio, ratio, sizeof(ratio)));
	return -ENOSPC;
}

int host_admit(const struct host_inventory *inv, const struct host_capacity_config *cfg,
	       const struct host_alloc *used, const struct host_alloc *need, char *msg,
	       size_t msg_len)
{
	struct host_alloc cap;

	host_capacity(inv, cfg, &cap);
	if (used->memory > cap.memory || need->memory > cap.memory - used->memory)
		return refuse_memory(cfg, &cap, used, need, msg, msg_len);
	if (used->vcpus + need->vcpus > cap.vcpus + VCPU_EPSILON)
		return refuse_cpu(inv, cfg, &cap, used, need, msg, msg_len);
	if (msg && msg_len)
		msg[0] = '\0';
	return 0;
}
