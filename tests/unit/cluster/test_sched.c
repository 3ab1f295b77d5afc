/* Unit tests for cluster/sched.c: each filter and its words, the
 * weighers and their normalisation, ties, refusals and --explain. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

#include "cluster/sched.h"
#include "support.h"
#include "util/util.h"

static const struct sched_weights spread_memory = {.memory = 1};
static const char *const abc[] = {"a", "b", "c"};

/* n members alike, named from names: 8 vCPUs, 8 GiB, nothing placed. */
static void alike(struct sched_member *m, const char *const *names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		m[i] = support_member(names[i], 8, 8 * GiB);
}

/* ---- filters ---------------------------------------------------------------- */

/* Each case breaks member x for one filter; member y always passes. */
struct filter_case {
	const char *what;
	void (*setup)(struct sched_member *x, struct sched_member *y, struct sched_request *req);
	const char *filter, *reason;
};

static const char *const web[] = {"web"};

static void setup_offline(struct sched_member *x, struct sched_member *y, struct sched_request *req)
{
	x->online = false;
}

static void setup_evacuated(struct sched_member *x, struct sched_member *y,
			    struct sched_request *req)
{
	req->exclude = "x";
}

static void setup_not_accepting(struct sched_member *x, struct sched_member *y,
				struct sched_request *req)
{
	x->accepting = false;
}

static void setup_short_of_memory(struct sched_member *x, struct sched_member *y,
				  struct sched_request *req)
{
	x->alloc_memory = x->cap_memory - 128 * MiB;
}

static void setup_short_of_vcpus(struct sched_member *x, struct sched_member *y,
				 struct sched_request *req)
{
	req->vcpus = 4;
	x->alloc_vcpus = x->cap_vcpus - 2;
}

static void setup_tcg(struct sched_member *x, struct sched_member *y, struct sched_request *req)
{
	strcpy(x->accel, "tcg");
	req->accel = "kvm";
}

static void setup_no_label(struct sched_member *x, struct sched_member *y,
			   struct sched_request *req)
{
	req->labels = json_pack("{s:s}", "zone", "a");
	y->labels = json_pack("{s:s, s:s}", "zone", "a", "disk", "ssd");
}

static void setup_other_label(struct sched_member *x, struct sched_member *y,
			      struct sched_request *req)
{
	setup_no_label(x, y, req);
	x->labels = json_pack("{s:s}", "zone", "b");
}

static void setup_affinity(struct sched_member *x, struct sched_member *y,
			   struct sched_request *req)
{
	req->affinity = "web";
	y->groups = web;
	y->n_groups = 1;
}

static void setup_anti_affinity(struct sched_member *x, struct sched_member *y,
				struct sched_request *req)
{
	req->anti_affinity = "web";
	x->groups = web;
	x->n_groups = 1;
}

static const struct filter_case filter_cases[] = {
    {"offline", setup_offline, "online", "offline"},
    {"evacuated", setup_evacuated, "excluded", "being evacuated"},
    {"not accepting", setup_not_accepting, "excluded", "not accepting VMs"},
    {"memory", setup_short_of_memory, "capacity", "needs 512 MiB memory, 128 MiB free"},
    {"vcpus", setup_short_of_vcpus, "capacity", "needs 4 vCPUs, 2 free"},
    {"accelerator", setup_tcg, "accelerator", "has tcg, needs kvm"},
    {"no label", setup_no_label, "labels", "no label zone"},
    {"other label", setup_other_label, "labels", "label zone=b, needs zone=a"},
    {"affinity", setup_affinity, "affinity", "holds no VM of group web"},
    {"anti-affinity", setup_anti_affinity, "anti_affinity", "holds a VM of group web"},
};

static void test_each_filter_names_member_and_reason(void **state)
{
	for (size_t i = 0; i < ARRAY_SIZE(filter_cases); i++) {
		const struct filter_case *fc = &filter_cases[i];
		static const char *const xy[] = {"x", "y"};
		struct sched_member m[2];
		struct sched_request req = {.vcpus = 1, .memory = 512 * MiB};
		struct sched_verdict v[2];
		size_t chosen = 99;
		char got[256], want[256], line[256];

		alike(m, xy, 2);
		fc->setup(&m[0], &m[1], &req);
		assert_int_equal(sched_place(m, 2, &req, &spread_memory, v, &chosen), 0);
		assert_int_equal(chosen, 1);
		assert_false(v[0].eligible);
		/* The case's name in the compared text says which one failed. */
		snprintf(got, sizeof(got), "%s: %s / %s", fc->what, v[0].filter, v[0].reason);
		snprintf(want, sizeof(want), "%s: %s / %s", fc->what, fc->filter, fc->reason);
		assert_string_equal(got, want);
		assert_true(v[1].eligible);
		assert_null(v[1].filter);
		assert_string_equal(v[1].reason, "");
		/* The refusal names x alone, by the filter and the reason. */
		sched_refusal(m, 2, v, line, sizeof(line));
		if (strcmp(fc->filter, "online") == 0)
			snprintf(want, sizeof(want), "x: offline");
		else
			snprintf(want, sizeof(want), "x: %s (%s)", fc->filter, fc->reason);
		assert_string_equal(line, want);
		json_decref(req.labels);
		json_decref(m[0].labels);
		json_decref(m[1].labels);
	}
}

static void test_filters_run_in_order(void **state)
{
	/* Offline, full and the wrong accelerator: the first filter is named. */
	struct sched_member m = support_member("x", 1, GiB);
	struct sched_request req = {.vcpus = 2, .memory = 2 * GiB, .accel = "tcg"};
	struct sched_verdict v;
	size_t chosen = 99;

	m.online = false;
	assert_int_equal(sched_place(&m, 1, &req, &spread_memory, &v, &chosen), -ENOSPC);
	assert_int_equal(chosen, 99);
	assert_string_equal(v.filter, "online");
	m.online = true;
	assert_int_equal(sched_place(&m, 1, &req, &spread_memory, &v, &chosen), -ENOSPC);
	assert_string_equal(v.filter, "capacity");
	assert_string_equal(v.reason, "needs 2 GiB memory, 1 GiB free");
}

static void test_capacity_exactly_at_the_limit(void **state)
{
	struct sched_member m = support_member("x", 4, GiB);
	struct sched_request req = {.vcpus = 2, .memory = 512 * MiB};
	struct sched_verdict v;
	size_t chosen;

	m.alloc_vcpus = 2;
	m.alloc_memory = 512 * MiB;
	assert_int_equal(sched_place(&m, 1, &req, &spread_memory, &v, &chosen), 0);
	assert_int_equal(chosen, 0);

	req.memory = 512 * MiB + 1;
	assert_int_equal(sched_place(&m, 1, &req, &spread_memory, &v, &chosen), -ENOSPC);
	assert_string_equal(v.filter, "capacity");
	assert_string_equal(v.reason, "needs 512.0 MiB memory, 512 MiB free");

	req.memory = 512 * MiB;
	req.vcpus = 3;
	assert_int_equal(sched_place(&m, 1, &req, &spread_memory, &v, &chosen), -ENOSPC);
	assert_string_equal(v.reason, "needs 3 vCPUs, 2 free");

	/* More placed than the capacity (ratios lowered since): nothing free,
	 * and no wrap-around. */
	m.alloc_memory = 2 * GiB;
	req.vcpus = 1;
	req.memory = 1;
	assert_int_equal(sched_place(&m, 1, &req, &spread_memory, &v, &chosen), -ENOSPC);
	assert_string_equal(v.reason, "needs 1 B memory, 0 B free");
}

/* ---- affinity ----------------------------------------------------------------- */

static void test_affinity_follows_the_group(void **state)
{
	static const char *const db[] = {"db", "web", "db"};
	struct sched_member m[3] = {support_member("a", 8, 8 * GiB),
				    support_member("b", 8, 4 * GiB),
				    support_member("c", 8, 8 * GiB)};
	struct sched_request req = {.vcpus = 1, .memory = GiB, .affinity = "db"};
	struct sched_verdict v[3];
	size_t chosen;

	/* Nobody holds the group yet: all pass, the emptiest wins. */
	assert_int_equal(sched_place(m, 3, &req, &spread_memory, v, &chosen), 0);
	assert_true(v[0].eligible && v[1].eligible && v[2].eligible);
	assert_int_equal(chosen, 0);

	/* b holds it: only b passes, however full. */
	m[1].groups = db;
	m[1].n_groups = 3;
	assert_int_equal(sched_place(m, 3, &req, &spread_memory, v, &chosen), 0);
	assert_int_equal(chosen, 1);
	assert_string_equal(v[0].filter, "affinity");
	assert_string_equal(v[2].filter, "affinity");

	/* A holder that cannot take the VM still binds the group. */
	m[1].alloc_memory = 4 * GiB;
	assert_int_equal(sched_place(m, 3, &req, &spread_memory, v, &chosen), -ENOSPC);
	assert_string_equal(v[1].filter, "capacity");
}

static void test_anti_affinity_spreads_a_group(void **state)
{
	const char *held[3][1];
	struct sched_member m[3];
	struct sched_request req = {.vcpus = 2, .memory = GiB, .anti_affinity = "web"};
	struct sched_verdict v[3];
	bool used[3] = {false};
	char line[256];
	size_t chosen;

	alike(m, abc, 3);
	/* b is the emptiest, so without the filter every VM would go there. */
	m[0].alloc_memory = GiB;
	m[2].alloc_memory = 2 * GiB;
	for (int vm = 0; vm < 3; vm++) {
		assert_int_equal(sched_place(m, 3, &req, &spread_memory, v, &chosen), 0);
		assert_false(used[chosen]);
		used[chosen] = true;
		m[chosen].alloc_vcpus += req.vcpus;
		m[chosen].alloc_memory += req.memory;
		held[chosen][0] = "web";
		m[chosen].groups = held[chosen];
		m[chosen].n_groups = 1;
	}
	assert_true(used[0] && used[1] && used[2]);

	assert_int_equal(sched_place(m, 3, &req, &spread_memory, v, &chosen), -ENOSPC);
	sched_refusal(m, 3, v, line, sizeof(line));
	assert_string_equal(line, "a: anti_affinity (holds a VM of group web); "
				  "b: anti_affinity (holds a VM of group web); "
				  "c: anti_affinity (holds a VM of group web)");
}

/* ---- weighers ----------------------------------------------------------------- */

static void test_spread_and_pack_choose_opposite_ends(void **state)
{
	struct sched_member m[2];
	struct sched_request req = {.vcpus = 1, .memory = GiB};
	struct sched_weights w = {.memory = 1, .vcpus = 1};
	struct sched_verdict v[2];
	size_t chosen;

	alike(m, abc, 2);
	m[1].alloc_memory = 6 * GiB;
	m[1].alloc_vcpus = 4;
	assert_int_equal(sched_place(m, 2, &req, &w, v, &chosen), 0);
	assert_int_equal(chosen, 0);
	assert_true(v[0].score == 2.0);
	assert_true(v[1].score == 0.0);

	w.pack = true;
	assert_int_equal(sched_place(m, 2, &req, &w, v, &chosen), 0);
	assert_int_equal(chosen, 1);
	assert_true(v[0].score == -2.0);
	assert_true(v[1].score == 0.0);
	/* The parts are the same either way: only their sign in the score flips. */
	assert_true(v[0].parts[SCHED_PART_MEMORY] == 1.0);
	assert_true(v[1].parts[SCHED_PART_MEMORY] == 0.0);
}

/* Place a 1 vCPU, 1 GiB VM on a, b and c, alike but for their loads. */
static size_t place_loaded(const double load[3], const struct sched_weights *w,
			   struct sched_verdict v[3])
{
	struct sched_member m[3];
	struct sched_request req = {.vcpus = 1, .memory = GiB};
	size_t chosen;

	alike(m, abc, 3);
	for (size_t i = 0; i < 3; i++)
		m[i].load = load[i];
	assert_int_equal(sched_place(m, 3, &req, w, v, &chosen), 0);
	return chosen;
}

static void test_load_prefers_the_idle_member(void **state)
{
	static const double load[3] = {0.9, 0.1, 0.5};
	struct sched_weights w = {.memory = 1, .vcpus = 1, .load = 1};
	struct sched_verdict v[3];

	assert_int_equal(place_loaded(load, &w, v), 1);
	assert_true(v[0].parts[SCHED_PART_LOAD] == 1.0);
	assert_true(v[1].parts[SCHED_PART_LOAD] == 0.0);
	assert_true(v[2].parts[SCHED_PART_LOAD] > 0.49 && v[2].parts[SCHED_PART_LOAD] < 0.51);
	assert_true(v[1].score > v[2].score && v[2].score > v[0].score);
}

static void test_equal_values_normalise_to_zero(void **state)
{
	static const double load[3] = {0.25, 0.25, 0.25};
	struct sched_weights w = {.memory = 3, .vcpus = 2, .load = 1};
	struct sched_member one = support_member("z", 8, 8 * GiB);
	struct sched_request req = {.vcpus = 1, .memory = GiB};
	struct sched_verdict v[3];
	size_t chosen;

	assert_int_equal(place_loaded(load, &w, v), 0);
	for (size_t i = 0; i < 3; i++) {
		assert_true(v[i].score == 0.0);
		for (size_t k = 0; k < SCHED_N_PARTS; k++)
			assert_true(v[i].parts[k] == 0.0);
	}
	/* One member alone is its own minimum and maximum. */
	assert_int_equal(sched_place(&one, 1, &req, &w, v, &chosen), 0);
	assert_int_equal(chosen, 0);
	assert_true(v[0].score == 0.0);
	assert_true(v[0].parts[SCHED_PART_MEMORY] == 0.0);
}

static void test_ties_go_to_the_first_name(void **state)
{
	static const char *const orders[][3] = {{"c", "a", "b"}, {"b", "c", "a"}, {"a", "b", "c"}};
	struct sched_request req = {.vcpus = 1, .memory = GiB};
	struct sched_weights w = {.memory = 1, .vcpus = 1, .load = 1};

	for (size_t o = 0; o < ARRAY_SIZE(orders); o++) {
		struct sched_member m[3];
		struct sched_verdict v[3];
		size_t chosen;

		alike(m, orders[o], 3);
		assert_int_equal(sched_place(m, 3, &req, &w, v, &chosen), 0);
		assert_string_equal(m[chosen].name, "a");
	}
}

/* Free memory alone decides, on members of 8, 6 and 3 GiB taking 1 GiB
 * VMs one after another. Worked by hand, free after placing (a b c):
 *   1: 7 5 2 a   2: 6 5 2 a   3: 5 5 2 a (tie)   4: 4 5 2 b
 *   5: 4 4 2 a   6: 3 4 2 b   7: 3 3 2 a         8: 2 3 2 b
 *   9: 2 2 2 a (all equal: every score 0)        10: 1 2 2 b (tie b, c)
 *  11: 1 1 2 c  12: 1 1 1 a
 */
static void test_twelve_placements_spread_by_free_memory(void **state)
{
	struct sched_member m[3] = {support_member("a", 64, 8 * GiB),
				    support_member("b", 64, 6 * GiB),
				    support_member("c", 64, 3 * GiB)};
	struct sched_request req = {.vcpus = 1, .memory = GiB};
	struct sched_verdict v[3];
	char seq[13] = "";

	for (size_t i = 0; i < 12; i++) {
		size_t chosen;

		assert_int_equal(sched_place(m, 3, &req, &spread_memory, v, &chosen), 0);
		seq[i] = m[chosen].name[0];
		m[chosen].alloc_vcpus += req.vcpus;
		m[chosen].alloc_memory += req.memory;
	}
	assert_string_equal(seq, "aaababababca");
}

/* ---- refusal and explain -------------------------------------------------------- */

/* a is short of memory, b offline, c has the wrong accelerator. */
static void refused_cluster(struct sched_member m[3], struct sched_request *req)
{
	m[0] = support_member("a", 8, GiB);
	m[0].alloc_memory = GiB - 128 * MiB;
	m[1] = support_member("b", 8, 8 * GiB);
	m[1].online = false;
	m[2] = support_member("c", 8, 8 * GiB);
	strcpy(m[2].accel, "tcg");
	*req = (struct sched_request){.vcpus = 1, .memory = 512 * MiB, .accel = "kvm"};
}

static void test_no_capacity_names_every_member(void **state)
{
	struct sched_member m[3];
	struct sched_request req;
	struct sched_verdict v[3];
	char line[256], small[16];
	size_t chosen = 99;

	refused_cluster(m, &req);
	assert_int_equal(sched_place(m, 3, &req, &spread_memory, v, &chosen), -ENOSPC);
	assert_int_equal(chosen, 99);
	sched_refusal(m, 3, v, line, sizeof(line));
	assert_string_equal(line, "a: capacity (needs 512 MiB memory, 128 MiB free); b: offline; "
				  "c: accelerator (has tcg, needs kvm)");

	/* Cut short, still terminated. */
	sched_refusal(m, 3, v, small, sizeof(small));
	assert_string_equal(small, "a: capacity (ne");
	sched_refusal(m, 0, v, line, sizeof(line));
	assert_string_equal(line, "");
}

static void assert_json(json_t *j, const char *want)
{
	char *got;

	assert_non_null(j);
	got = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
	assert_non_null(got);
	assert_string_equal(got, want);
	free(got);
	json_decref(j);
}

static void test_explain_json_shape(void **state)
{
	struct sched_member m[3] = {support_member("a", 4, 8 * GiB),
				    support_member("b", 4, 4 * GiB),
				    support_member("c", 4, 8 * GiB)};
	struct sched_request req = {.vcpus = 1, .memory = GiB};
	struct sched_weights w = {.memory = 1, .vcpus = 1, .load = 1};
	struct sched_verdict v[3];
	size_t chosen;

	m[2].online = false;
	assert_int_equal(sched_place(m, 3, &req, &w, v, &chosen), 0);
	assert_json(sched_explain_json(m, 3, v, &chosen),
		    "{\"chosen\":\"a\",\"members\":["
		    "{\"eligible\":true,\"filter\":null,\"name\":\"a\",\"reason\":null,"
		    "\"score\":1.0,\"weights\":{\"load\":0.0,\"memory\":1.0,\"vcpus\":0.0}},"
		    "{\"eligible\":true,\"filter\":null,\"name\":\"b\",\"reason\":null,"
		    "\"score\":0.0,\"weights\":{\"load\":0.0,\"memory\":0.0,\"vcpus\":0.0}},"
		    "{\"eligible\":false,\"filter\":\"online\",\"name\":\"c\","
		    "\"reason\":\"offline\",\"score\":null,\"weights\":null}]}");

	refused_cluster(m, &req);
	assert_int_equal(sched_place(m, 3, &req, &w, v, &chosen), -ENOSPC);
	assert_json(sched_explain_json(m, 1, v, NULL),
		    "{\"chosen\":null,\"members\":["
		    "{\"eligible\":false,\"filter\":\"capacity\",\"name\":\"a\","
		    "\"reason\":\"needs 512 MiB memory, 128 MiB free\",\"score\":null,"
		    "\"weights\":null}]}");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_each_filter_names_member_and_reason),
	    cmocka_unit_test(test_filters_run_in_order),
	    cmocka_unit_test(test_capacity_exactly_at_the_limit),
	    cmocka_unit_test(test_affinity_follows_the_group),
	    cmocka_unit_test(test_anti_affinity_spreads_a_group),
	    cmocka_unit_test(test_spread_and_pack_choose_opposite_ends),
	    cmocka_unit_test(test_load_prefers_the_idle_member),
	    cmocka_unit_test(test_equal_values_normalise_to_zero),
	    cmocka_unit_test(test_ties_go_to_the_first_name),
	    cmocka_unit_test(test_twelve_placements_spread_by_free_memory),
	    cmocka_unit_test(test_no_capacity_names_every_member),
	    cmocka_unit_test(test_explain_json_shape),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
