/*
 * ring: a fixed-size history of one VM's samples.
 *
 * Samples are packed with the ring's own vCPU and disk counts, so a
 * one-vCPU VM does not pay for MON_MAX_VCPUS slots: memory is decided
 * when the ring is made and never grows.
 */
#include <string.h>

#include "monitor/monitor.h"
#include "util/util.h"

struct packed_head {
	int64_t time_ms;
	uint64_t mono_ns;
	uint64_t cpu_ns;
	uint64_t rss_bytes;
	int64_t balloon_bytes;
	uint32_t n_vcpus, n_disks;
	uint64_t pad; /* keeps the documented 56-byte head */
};

struct mon_ring {
	unsigned capacity, n_vcpus, n_disks;
	size_t stride;
	size_t head; /* next slot to write */
	size_t count;
	uint8_t *slots;
};

struct mon_ring *mon_ring_new(unsigned capacity, unsigned n_vcpus, unsigned n_disks)
{
	struct mon_ring *r;

	if (capacity == 0)
		return NULL;
	r = calloc(1, sizeof(*r));
	if (!r)
		return NULL;
	r->capacity = capacity;
	r->n_vcpus = n_vcpus < MON_MAX_VCPUS ? n_vcpus : MON_MAX_VCPUS;
	r->n_disks = n_disks < MON_MAX_DISKS ? n_disks : MON_MAX_DISKS;
	r->stride = sizeof(struct packed_head) + r->n_vcpus * sizeof(uint64_t) +
		    r->n_disks * sizeof(struct mon_disk);
	r->slots = calloc(capacity, r->stride);
	if (!r->slots) {
		free(r);
		return NULL;
	}
	return r;
}

void mon_ring_free(struct mon_ring *r)
{
	if (!r)
		return;
	free(r->slots);
	free(r);
}

size_t mon_ring_bytes(const struct mon_ring *r)
{
	return r->capacity * r->stride;
}

size_t mon_ring_count(const struct mon_ring *r)
{
	return r->count;
}

void mon_ring_clear(struct mon_ring *r)
{
	r->head = 0;
	r->count = 0;
}

void mon_ring_push(struct mon_ring *r, const struct mon_sample *s)
{
	uint8_t *slot = r->slots + r->head * r->stride;
	unsigned nv = s->n_vcpus < r->n_vcpus ? s->n_vcpus : r->n_vcpus;
	unsigned nd = s->n_disks < r->n_disks ? s->n_disks : r->n_disks;
	struct packed_head h = {
		.time_ms = s->time_ms,
		.mono_ns = s->mono_ns,
		.cpu_ns = s->cpu_ns,
		.rss_bytes = s->rss_bytes,
		.balloon_bytes = s->balloon_bytes,
		.n_vcpus = nv,
		.n_disks = nd,
	};

	memcpy(slot, &h, sizeof(h));
	memcpy(slot + sizeof(h), s->vcpu_ns, nv * sizeof(uint64_t));
	memcpy(slot + sizeof(h) + r->n_vcpus * sizeof(uint64_t), s->disks,
	       nd * sizeof(struct mon_disk));
	r->head = (r->head + 1) % r->capacity;
	if (r->count < r->capacity)
		r->count++;
}

int mon_ring_get(const struct mon_ring *r, size_t i, struct mon_sample *ret)
{
	struct packed_head h;

	if (i >= r->count)
		return -ERANGE;
	size_t idx = (r->head + r->capacity - r->count + i) % r->capacity;
	const uint8_t *slot = r->slots + idx * r->stride;
	memcpy(&h, slot, sizeof(h));
	memset(ret, 0, sizeof(*ret));
	ret->time_ms = h.time_ms;
	ret->mono_ns = h.mono_ns;
	ret->cpu_ns = h.cpu_ns;
	ret->rss_bytes = h.rss_bytes;
	ret->balloon_bytes = h.balloon_bytes;
	ret->n_vcpus = h.n_vcpus;
	ret->n_disks = h.n_disks;
	memcpy(ret->vcpu_ns, slot + sizeof(h), h.n_vcpus * sizeof(uint64_t));
	memcpy(ret->disks, slot + sizeof(h) + r->n_vcpus * sizeof(uint64_t),
	       h.n_disks * sizeof(struct mon_disk));
	return 0;
}

static double per_second(uint64_t now, uint64_t before, double seconds)
{
	return now >= before && seconds > 0 ? (double)(now - before) / seconds : 0.0;
}

json_t *mon_sample_to_json(const struct mon_sample *s, const struct mon_sample *prev,
			   const char *const *disk_names)
{
	double dt = prev && s->mono_ns > prev->mono_ns ? (double)(s->mono_ns - prev->mono_ns) / 1e9
						       : 0.0;
	bool rates = dt > 0;
	json_t *vcpus = json_array(), *disks = json_array();
	json_t *j = json_pack("{s:I, s:f, s:I, s:o, s:o}", "time_ms", (json_int_t)s->time_ms,
			      "cpu_seconds_total", (double)s->cpu_ns / 1e9, "rss_bytes",
			      (json_int_t)s->rss_bytes, "vcpus", vcpus, "disks", disks);

	if (!j)
		return NULL;
	json_object_set_new(j, "cpu_percent",
			    rates ? json_real(100.0 * per_second(s->cpu_ns, prev->cpu_ns, dt) / 1e9)
				  : json_null());
	json_object_set_new(j, "balloon_bytes", s->balloon_bytes >= 0
							? json_integer(s->balloon_bytes)
							: json_null());
	for (unsigned i = 0; i < s->n_vcpus; i++) {
		bool have = rates && i < prev->n_vcpus;
		json_array_append_new(
			vcpus, json_pack("{s:i, s:f, s:o}", "vcpu", (int)i, "seconds_total",
					 (double)s->vcpu_ns[i] / 1e9, "percent",
					 have ? json_real(100.0 *
							  per_second(s->vcpu_ns[i],
								     prev->vcpu_ns[i], dt) /
							  1e9)
					      : json_null()));
	}
	for (unsigned i = 0; i < s->n_disks; i++) {
		const struct mon_disk *d = &s->disks[i];
		json_t *dj = json_pack("{s:s, s:I, s:I, s:I, s:I}", "name",
				       disk_names && disk_names[i] ? disk_names[i] : "",
				       "read_bytes_total", (json_int_t)d->rd_bytes,
				       "write_bytes_total", (json_int_t)d->wr_bytes,
				       "read_ops_total", (json_int_t)d->rd_ops, "write_ops_total",
				       (json_int_t)d->wr_ops);
		if (rates && i < prev->n_disks) {
			const struct mon_disk *p = &prev->disks[i];
			uint64_t ops = (d->rd_ops - p->rd_ops) + (d->wr_ops - p->wr_ops);
			uint64_t ns = (d->rd_time_ns - p->rd_time_ns) + (d->wr_time_ns - p->wr_time_ns);
			json_object_set_new(dj, "read_bytes_per_second",
					    json_real(per_second(d->rd_bytes, p->rd_bytes, dt)));
			json_object_set_new(dj, "write_bytes_per_second",
					    json_real(per_second(d->wr_bytes, p->wr_bytes, dt)));
			json_object_set_new(dj, "ops_per_second", json_real((double)ops / dt));
			json_object_set_new(dj, "latency_ms",
					    ops ? json_real((double)ns / (double)ops / 1e6)
						: json_null());
		}
		json_array_append_new(disks, dj);
	}
	return j;
}
