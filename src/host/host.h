/*
 * host: what this machine has, how much of it VMs may take, and the
 * cgroups that hold each VM to its share.
 *
 * Three concerns, one file each: the inventory read from /proc, /sys and
 * statvfs (inventory.c); capacity and admission control, pure functions
 * over numbers, plus the config keys that tune them (admission.c,
 * config.c); and cgroups v1 and v2 (cgdetect.c, cgroup.c). Every path is
 * taken relative to a root or mount point handed in, so tests point the
 * whole layer at a temporary directory laid out like the real thing.
 * Functions that can fail return 0 on success and -errno on failure;
 * output parameters named ret are written only on success. This header is
 * the whole interface of the folder; it depends on util/ only.
 */
#ifndef WARREN_HOST_H
#define WARREN_HOST_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define HOST_MIB (UINT64_C(1) << 20)
#define HOST_GIB (UINT64_C(1) << 30)

/* ---- inventory (inventory.c) ---------------------------------------------- */

struct host_cpu_info {
	unsigned online; /* CPUs the host runs (the online mask; sysconf without one) */
	/* Topology from sysfs over the online CPUs: cores = physical cores in
	 * total, not per socket. Without topology files: 1 socket, one core
	 * per CPU, 1 thread per core. */
	unsigned sockets, cores, threads_per_core;
	char model[128]; /* "model name" from /proc/cpuinfo, or "" */
};

struct host_inventory {
	struct host_cpu_info cpu;
	uint64_t mem_total, mem_available; /* bytes: /proc/meminfo MemTotal, MemAvailable */
	uint64_t disk_total, disk_free;	   /* bytes: statvfs of the state dir (f_bavail) */
};

/*
 * Read the inventory. root is "/" normally; tests pass a temporary
 * directory laid out like / with proc/cpuinfo, proc/meminfo,
 * sys/devices/system/cpu/online and
 * sys/devices/system/cpu/cpuN/topology/{physical_package_id,core_id}.
 * state_dir is the directory whose file system holds the VMs' disks (NULL
 * leaves the disk fields 0). -EBADMSG when meminfo has no MemTotal or the
 * online mask does not parse.
 */
int host_inventory_read(const char *root, const char *state_dir, struct host_inventory *ret);

/* ---- capacity and admission (admission.c, config.c) ------------------------- */

/* What the host keeps for itself unless configured: max(1 GiB, 10% of
 * the memory), rounded down to a whole MiB. */
#define HOST_DEFAULT_RESERVE(mem_total)                                                            \
	((((uint64_t)(mem_total) / 10 > HOST_GIB) ? (uint64_t)(mem_total) / 10 : HOST_GIB) &       \
	 ~(HOST_MIB - 1))

#define HOST_DEFAULT_CPU_RATIO	  4.0
#define HOST_DEFAULT_MEMORY_RATIO 1.0

struct host_capacity_config {
	double cpu_ratio;	  /* vCPUs per host CPU; default 4.0, allowed 0.1..64 */
	double memory_ratio;	  /* default 1.0 (no overcommit), allowed 0.1..16 */
	uint64_t memory_reserved; /* bytes kept for the host; default HOST_DEFAULT_RESERVE */
};

void host_capacity_config_default(const struct host_inventory *inv,
				  struct host_capacity_config *ret);

/* An amount of the host: what VMs use, what one needs, or the capacity. */
struct host_alloc {
	double vcpus;	 /* vCPU units (a VM with dedicated CPUs counts cpu_ratio per vCPU) */
	uint64_t memory; /* bytes */
};

/*
 * vcpus = online * cpu_ratio; memory = (mem_total - memory_reserved) *
 * memory_ratio, or 0 when the reserve is the whole memory or more.
 */
void host_capacity(const struct host_inventory *inv, const struct host_capacity_config *cfg,
		   struct host_alloc *ret);

/*
 * Does need fit beside used? 0 if it does; otherwise -ENOSPC and msg (if
 * non-NULL) says what is short and by how much. Memory is checked first:
 *   "not enough memory: VM needs 2.0 GiB, 1.2 GiB free of 20.0 GiB
 *    (ratio 1.0, 2.0 GiB reserved for the host)"
 *   "not enough CPU: VM needs 4 vCPUs, 2 free of 8 (2 host CPUs, ratio 4.0)"
 * free = capacity - used, never negative. vCPU counts print without
 * decimals when whole and with one otherwise; sizes as util's
 * size_format().
 */
int host_admit(const struct host_inventory *inv, const struct host_capacity_config *cfg,
	       const struct host_alloc *used, const struct host_alloc *need, char *msg,
	       size_t msg_len);

/*
 * Read the capacity keys of the daemon's config file: lines "key = value",
 * '#' starts a comment, blank lines are skipped. Keys: cpu_ratio
 * (0.1..64), memory_ratio (0.1..16), memory_reserved (a size: "2G",
 * "512M"). Any other key, a key given twice, a bad value or a line that
 * is not "key = value" is -EINVAL with msg "FILE:LINE: ..." naming the
 * problem; a file that cannot be read is its -errno with msg "FILE: ...".
 * Keys not in the file keep the values already in *cfg, so call it after
 * host_capacity_config_default(). *cfg is changed only on success.
 */
int host_config_parse(const char *path, struct host_capacity_config *cfg, char *msg,
		      size_t msg_len);

/* ---- cgroups (cgdetect.c, cgroup.c) ------------------------------------------ */

enum cg_version { CG_NONE, CG_V1, CG_V2 };

#define CG_PATH_MAX 256

struct cg_root {
	enum cg_version version;
	/* v1: mount points of the hierarchies with these controllers ("" if
	 * absent; cpu and cpuacct name the same mount when co-mounted). */
	char cpu[CG_PATH_MAX], cpuacct[CG_PATH_MAX], cpuset[CG_PATH_MAX], memory[CG_PATH_MAX],
		blkio[CG_PATH_MAX];
	/* v2: the unified mount ("" under v1, even when a controller-less
	 * cgroup2 mount exists beside the v1 hierarchies). */
	char unified[CG_PATH_MAX];
};

/*
 * Decide from a mountinfo file (normally /proc/self/mountinfo):
 * - v2 when a cgroup2 mount exists whose cgroup.controllers (read from the
 *   mount point) lists both cpu and memory;
 * - otherwise v1 when cgroup (v1) mounts carry the cpu and the memory
 *   controllers (their super options list them: "rw,cpu,cpuacct");
 * - otherwise CG_NONE, which is a success: the host simply has no usable
 *   cgroups.
 * A hybrid host (v1 hierarchies plus a cgroup2 mount with no controllers)
 * is v1.
 */
int cg_detect(const char *mountinfo_path, struct cg_root *ret);

struct cg_limits {
	unsigned cpu_weight;	/* 1..10000, 100 = the default share; 0 = leave as is */
	uint64_t cpu_quota_us;	/* CPU time per period; 0 = no limit */
	uint64_t cpu_period_us; /* 0 = 100000 (CG_DEFAULT_PERIOD_US) */
	uint64_t mem_high;	/* soft limit, bytes; 0 = none */
	uint64_t mem_max;	/* hard limit, bytes; 0 = none */
	char cpus[64];		/* cpuset, e.g. "0-1" or "1"; "" = leave as is */
};

#define CG_DEFAULT_PERIOD_US 100000

/*
 * One VM's group: name is relative to each hierarchy's mount, e.g.
 * "warren/<vm id>". root is borrowed and must outlive the group.
 */
struct cg_vm {
	const struct cg_root *root;
	char name[128];
};

/*
 * Make the group parent/vm_id (parent and leaf, like mkdir -p) in every
 * hierarchy used: v1 cpu, cpuacct, cpuset, memory and blkio where mounted;
 * v2 the unified tree. Directories that exist are fine: that is how a
 * restarted daemon re-adopts its groups. Under v1 each new cpuset level
 * gets cpuset.cpus and cpuset.mems from its parent (tasks cannot join an
 * empty cpuset). Under v2 every level above the leaf gets "+cpu +memory
 * +cpuset +io" in cgroup.subtree_control, as far as its cgroup.controllers
 * offers them (cpu and memory are required). parent may contain '/'; no
 * component may be empty, "." or "..", and vm_id may not contain '/'.
 * -EOPNOTSUPP for CG_NONE.
 */
int cg_vm_create(const struct cg_root *root, const char *parent, const char *vm_id,
		 struct cg_vm *ret);

/*
 * Write lim into the group. Under v1: cpu.shares = weight * 1024 / 100
 * (2..262144); cpu.cfs_period_us, then cpu.cfs_quota_us (-1 for none);
 * memory.soft_limit_in_bytes and memory.limit_in_bytes (-1 for none);
 * cpuset.cpus, after cpuset.mems is filled from the parent if empty.
 * Under v2: cpu.weight; cpu.max "QUOTA PERIOD" or "max PERIOD";
 * memory.high and memory.max ("max" for none); cpuset.cpus. -EINVAL for a
 * weight above 10000, a period outside 1000..1000000 us or a quota below
 * 1000 us (the kernel's bounds); -EOPNOTSUPP for a limit whose v1
 * hierarchy is missing (cpus without cpuset), while the parts of lim that
 * ask nothing of a missing hierarchy are skipped.
 */
int cg_vm_apply(const struct cg_vm *g, const struct cg_limits *lim);

/* Move a process and all its threads into the group in every hierarchy
 * (its pid written to cgroup.procs). */
int cg_vm_attach(const struct cg_vm *g, pid_t pid);

/*
 * Is pid in the group? 1 when it is in every hierarchy used, 0 when not
 * (or only in some: attach again), -ESRCH when there is no such process.
 * Reads /proc/<pid>/cgroup; cg_vm_contains_at() reads
 * <proc>/<pid>/cgroup instead, for tests. A path matches when it is
 * "/<name>" or ends in "/<name>", since a hierarchy mounted from a
 * sub-group (a container) shows the mount's own path in front.
 */
int cg_vm_contains(const struct cg_vm *g, pid_t pid);
int cg_vm_contains_at(const struct cg_vm *g, const char *proc, pid_t pid);

/* rmdir the leaf in every hierarchy; the parent stays. A leaf already gone
 * is fine; a busy one (-EBUSY: processes or child groups) is returned after
 * the other hierarchies were tried. */
int cg_vm_remove(const struct cg_vm *g);

/*
 * Read the limits back from the files, the inverse of cg_vm_apply():
 * "-1", "max" and v1's page-rounded "unlimited" (any value of 2^62 or
 * more) read as 0; the period is reported only with a quota; a file that
 * is absent reads as unset.
 */
int cg_vm_read(const struct cg_vm *g, struct cg_limits *ret);

#endif
