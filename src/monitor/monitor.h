/*
 * monitor: what is measured about VMs and the host, kept and shown.
 *
 * Pure data structures, no I/O: a sample of one VM's counters, a ring
 * buffer of samples with a fixed memory cost per VM, rates between two
 * samples, and a writer for the Prometheus text exposition format. The
 * daemon takes the samples (daemon/stats.c). This header is the whole
 * interface of the folder.
 */
#ifndef WARREN_MONITOR_H
#define WARREN_MONITOR_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#define MON_MAX_VCPUS 64
#define MON_MAX_DISKS 16
#define MON_DISK_NAME_MAX 32

struct mon_disk {
	uint64_t rd_bytes, wr_bytes;
	uint64_t rd_ops, wr_ops;
	uint64_t rd_time_ns, wr_time_ns; /* total time spent, for mean latency */
};

/* Counters are cumulative since QEMU started. */
struct mon_sample {
	int64_t time_ms;  /* wall clock */
	uint64_t mono_ns; /* monotonic, for rates */
	uint64_t cpu_ns;  /* the whole QEMU process, user + system */
	unsigned n_vcpus;
	uint64_t vcpu_ns[MON_MAX_VCPUS]; /* per vCPU thread, user + system */
	uint64_t rss_bytes;
	int64_t balloon_bytes; /* guest view from the balloon, -1 if none */
	unsigned n_disks;
	struct mon_disk disks[MON_MAX_DISKS];
};

/*
 * Ring buffer of the last `capacity` samples of one VM. Its memory is
 * fixed at creation: capacity * (56 + 8 * n_vcpus + 48 * n_disks) bytes
 * (for 360 samples, one vCPU and one disk: 37 KiB). Samples with more
 * vCPUs or disks than the ring was made for keep only the first ones.
 */
struct mon_ring;

struct mon_ring *mon_ring_new(unsigned capacity, unsigned n_vcpus, unsigned n_disks);
void mon_ring_free(struct mon_ring *r);
size_t mon_ring_bytes(const struct mon_ring *r);
size_t mon_ring_count(const struct mon_ring *r);
void mon_ring_push(struct mon_ring *r, const struct mon_sample *s);
/* i = 0 is the oldest kept sample. -ERANGE past the end. */
int mon_ring_get(const struct mon_ring *r, size_t i, struct mon_sample *ret);
/* Forget every sample (the VM's QEMU restarted: counters begin again). */
void mon_ring_clear(struct mon_ring *r);

/*
 * One sample as JSON, with rates against prev when given (NULL for the
 * first): cpu_percent (100 = one host CPU), per-vCPU percent, disk bytes
 * and ops per second and mean latency over the interval. disk_names has
 * n_disks entries.
 */
json_t *mon_sample_to_json(const struct mon_sample *s, const struct mon_sample *prev,
			   const char *const *disk_names);

/* ---- Prometheus text exposition format (version 0.0.4) -------------------- */

struct mon_prom; /* a growing text buffer */

struct mon_prom *mon_prom_new(void);
void mon_prom_free(struct mon_prom *p);
/* Starts a metric family: "# HELP" and "# TYPE" lines. type is "counter"
 * or "gauge"; counters' names must end in _total. Returns -EINVAL for a
 * bad name or type. */
int mon_prom_family(struct mon_prom *p, const char *name, const char *type, const char *help);
/* One sample of the current family. labels: NULL-terminated key, value,
 * key, value, ... (values escaped here). */
int mon_prom_sample(struct mon_prom *p, const char *const *labels, double value);
const char *mon_prom_text(const struct mon_prom *p, size_t *ret_len);

#endif
