/* Unit tests for cli/cluster.c and the cluster's views: the method, path
 * and body of every "cluster" command from its options, the keys create
 * adds for a cluster, the mistakes refused before any request, and the
 * tables of members, moves, placements and VMs on hosts, rendered from
 * answers shaped as the daemon gives them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "render.h"

/* The options of the command table's cluster commands and create (those
 * the tests use); only the names and whether they take a value matter. */
static const struct cli_option opts[] = {
    {.name = "etcd", .arg = "URL"},
    {.name = "name", .arg = "NAME"},
    {.name = "label", .arg = "KEY=VALUE"},
    {.name = "ttl", .arg = "DURATION"},
    {.name = "token", .arg = "TOKEN"},
    {.name = "force"},
    {.name = "no-wait"},
    {.name = "dry-run"},
    {.name = "threshold", .arg = "FRACTION"},
    {.name = "strategy", .arg = "NAME"},
    {.name = "weight-memory", .arg = "X"},
    {.name = "weight-vcpus", .arg = "X"},
    {.name = "weight-load", .arg = "X"},
    {.name = "rebalance-threshold", .arg = "X"},
    {.name = "from", .arg = "FILE"},
    {.name = "target", .arg = "MEMBER"},
    {.name = "explain"},
    {.name = "ha"},
    {.name = "affinity", .arg = "GROUP"},
    {.name = "anti-affinity", .arg = "GROUP"},
    {.name = "require-label", .arg = "KEY=VALUE"},
    {.name = "require-accel", .arg = "ACCEL"},
    {0},
};

#define ARGS_MAX 12

static int count(char *const *args)
{
	int n = 0;

	while (n < ARGS_MAX && args[n])
		n++;
	return n;
}

/* "METHOD PATH BODY" (the body as sorted compact JSON, "-" for none) of
 * "cluster VERB args", or NULL with err. */
static char *request(const char *verb, char *const *args, struct werr *err)
{
	const struct cli_option *const tables[] = {opts, NULL};
	_cleanup_(cli_request_clear) struct cli_request req = {0};
	_cleanup_free_ char *body = NULL;
	struct cli_args a = {0};
	char *out;
	int r;

	assert_int_equal(cli_args_parse(&a, count(args), args, tables, false, err), count(args));
	r = cli_cluster_request(verb, &a, &req, err);
	cli_args_clear(&a);
	if (r < 0) {
		assert_int_equal(r, -EINVAL);
		assert_null(req.path);
		assert_null(req.body);
		return NULL;
	}
	if (req.body)
		body =
		    json_dumps(req.body, JSON_COMPACT | JSON_SORT_KEYS | JSON_REAL_PRECISION(12));
	assert_true(asprintf(&out, "%s %s %s", req.method, req.path, body ? body : "-") > 0);
	return out;
}

static void test_requests(void **state)
{
	static struct {
		const char *verb;
		char *args[ARGS_MAX];
		const char *want;
	} cases[] = {
	    {"init",
	     {"--etcd", "http://127.0.0.1:2379"},
	     "POST /v1/cluster/init {\"etcd\":[\"http://127.0.0.1:2379\"]}"},
	    /* Several endpoints, by commas or repeated; everything at once. */
	    {"init",
	     {"--etcd", "http://e1:2379,http://e2:2379", "--etcd=http://e3:2379", "--name", "a",
	      "--label", "zone=x", "--label", "rack=r1", "--ttl", "10s"},
	     "POST /v1/cluster/init {\"etcd\":[\"http://e1:2379\",\"http://e2:2379\","
	     "\"http://e3:2379\"],\"labels\":{\"rack\":\"r1\",\"zone\":\"x\"},\"name\":\"a\","
	     "\"ttl_s\":10}"},
	    {"init",
	     {"--etcd", "http://e:2379", "--ttl", "1m30s"},
	     "POST /v1/cluster/init {\"etcd\":[\"http://e:2379\"],\"ttl_s\":90}"},
	    {"init",
	     {"--etcd", "http://e:2379", "--ttl", "15"},
	     "POST /v1/cluster/init {\"etcd\":[\"http://e:2379\"],\"ttl_s\":15}"},
	    /* A label's value may be empty or hold '='; the last of a key wins. */
	    {"init",
	     {"--etcd", "http://e:2379", "--label", "a=", "--label", "b=c=d", "--label", "a=2"},
	     "POST /v1/cluster/init {\"etcd\":[\"http://e:2379\"],\"labels\":{\"a\":\"2\","
	     "\"b\":\"c=d\"}}"},
	    {"join",
	     {"http://127.0.0.1:7001", "--token", "T"},
	     "POST /v1/cluster/join {\"address\":\"http://127.0.0.1:7001\",\"token\":\"T\"}"},
	    {"join",
	     {"http://127.0.0.1:7001", "--token=T", "--name", "b", "--label", "zone=y"},
	     "POST /v1/cluster/join {\"address\":\"http://127.0.0.1:7001\",\"labels\":{\"zone\":"
	     "\"y\"},\"name\":\"b\",\"token\":\"T\"}"},
	    {"show", {NULL}, "GET /v1/cluster -"},
	    {"members", {NULL}, "GET /v1/cluster/members -"},
	    {"remove", {"b"}, "DELETE /v1/cluster/members/b -"},
	    {"remove", {"b", "--force"}, "DELETE /v1/cluster/members/b?force=true -"},
	    /* Names go escaped into the path. */
	    {"remove", {"a b/c"}, "DELETE /v1/cluster/members/a%20b%2Fc -"},
	    {"evacuate", {"b"}, "POST /v1/cluster/members/b/evacuate {}"},
	    {"evacuate", {"b", "--no-wait"}, "POST /v1/cluster/members/b/evacuate {}"},
	    {"rebalance", {NULL}, "POST /v1/cluster/rebalance {}"},
	    {"rebalance", {"--dry-run"}, "POST /v1/cluster/rebalance {\"dry_run\":true}"},
	    {"rebalance",
	     {"--dry-run", "--threshold", "0.15"},
	     "POST /v1/cluster/rebalance {\"dry_run\":true,\"threshold\":0.15}"},
	    {"rebalance", {"--threshold", "0"}, "POST /v1/cluster/rebalance {\"threshold\":0.0}"},
	    {"rebalance",
	     {"--threshold", "1", "--no-wait"},
	     "POST /v1/cluster/rebalance {\"threshold\":1.0}"},
	    /* Without an option config reads; with any it changes only those. */
	    {"config", {NULL}, "GET /v1/cluster -"},
	    {"config", {"--strategy", "pack"}, "PUT /v1/cluster/config {\"strategy\":\"pack\"}"},
	    {"config",
	     {"--weight-load", "0.5"},
	     "PUT /v1/cluster/config {\"weights\":{\"load\":0.5}}"},
	    {"config",
	     {"--rebalance-threshold", ".2"},
	     "PUT /v1/cluster/config {\"rebalance_threshold\":0.2}"},
	    {"config",
	     {"--strategy", "spread", "--weight-memory", "1", "--weight-vcpus", "0.25",
	      "--weight-load", "0", "--rebalance-threshold", "0.15"},
	     "PUT /v1/cluster/config {\"rebalance_threshold\":0.15,"
	     "\"strategy\":\"spread\",\"weights\":{\"load\":0.0,\"memory\":1.0,\"vcpus\":0.25}}"},
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct werr err = {0};
		_cleanup_free_ char *got = request(cases[i].verb, cases[i].args, &err);

		if (!got || strcmp(got, cases[i].want) != 0)
			fail_msg("case %zu (%s): got %s (%s)", i, cases[i].verb, got ? got : "NULL",
				 err.message);
	}
}

/* Each verb's answer has its view; evacuate and rebalance wait on an
 * operation. */
static void test_request_views(void **state)
{
	static const struct {
		const char *verb;
		char *args[2];
		void (*table_fn)(FILE *f, json_t *data);
		bool operation;
	} cases[] = {
	    {"init", {"--etcd", "http://e:2379"}, view_cluster, false},
	    {"join", {"http://a:7001", "--token=T"}, view_cluster, false},
	    {"show", {NULL}, view_cluster, false},
	    {"members", {NULL}, view_cluster_members, false},
	    {"remove", {"b"}, view_member_removed, false},
	    {"evacuate", {"b"}, view_cluster_moves, true},
	    {"rebalance", {"--dry-run"}, view_cluster_moves, true},
	    {"config", {NULL}, view_cluster_config, false},
	};
	const struct cli_option *const tables[] = {opts, NULL};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		_cleanup_(cli_request_clear) struct cli_request req = {0};
		int argc = cases[i].args[0] ? (cases[i].args[1] ? 2 : 1) : 0;
		struct cli_args a = {0};
		struct werr err = {0};

		assert_int_equal(cli_args_parse(&a, argc, cases[i].args, tables, false, &err),
				 argc);
		assert_int_equal(cli_cluster_request(cases[i].verb, &a, &req, &err), 0);
		cli_args_clear(&a);
		assert_ptr_equal(req.table_fn, cases[i].table_fn);
		assert_int_equal(req.operation, cases[i].operation);
	}
}

#define TTL_FORM      "--ttl takes a duration in whole seconds like 10s or 1m"
#define WEIGHT_FORM   "takes a number of 0 or more, like 1 or 0.5"
#define FRACTION_FORM "takes a fraction from 0 to 1, like 0.15"

static void test_request_errors(void **state)
{
	static struct {
		const char *verb;
		char *args[ARGS_MAX];
		const char *message, *field;
	} cases[] = {
	    {"init",
	     {"--name", "a"},
	     "missing --etcd URL[,URL...], the etcd that keeps the cluster's state",
	     "etcd"},
	    {"init", {"--etcd", ""}, "--etcd '': an empty URL", "etcd"},
	    {"init",
	     {"--etcd", "http://e1:2379,"},
	     "--etcd 'http://e1:2379,': an empty URL",
	     "etcd"},
	    {"init",
	     {"--etcd", "http://e:2379", "--name", ""},
	     "--name needs a member name",
	     "name"},
	    {"init",
	     {"--etcd", "http://e:2379", "--label", "zone"},
	     "--label 'zone': expected KEY=VALUE",
	     "labels"},
	    {"init",
	     {"--etcd", "http://e:2379", "--label", "=x"},
	     "--label '=x': expected KEY=VALUE",
	     "labels"},
	    {"init",
	     {"--etcd", "http://e:2379", "--ttl", "soon"},
	     TTL_FORM ", not 'soon'",
	     "ttl_s"},
	    {"init", {"--etcd", "http://e:2379", "--ttl", "0"}, TTL_FORM ", not '0'", "ttl_s"},
	    {"init",
	     {"--etcd", "http://e:2379", "--ttl", "500ms"},
	     TTL_FORM ", not '500ms'",
	     "ttl_s"},
	    {"init",
	     {"--etcd", "http://e:2379", "--ttl", "1s500ms"},
	     TTL_FORM ", not '1s500ms'",
	     "ttl_s"},
	    {"init", {"--etcd", "http://e:2379", "--ttl", "-5s"}, TTL_FORM ", not '-5s'", "ttl_s"},
	    {"init", {"--etcd", "http://e:2379", "--ttl", ""}, TTL_FORM ", not ''", "ttl_s"},
	    {"init",
	     {"--etcd", "http://e:2379", "--ttl", "100000d"},
	     TTL_FORM ", not '100000d'",
	     "ttl_s"},
	    {"join", {"--token", "T"}, "missing ADDRESS, a member's http://HOST:PORT", "address"},
	    {"join",
	     {"", "--token", "T"},
	     "missing ADDRESS, a member's http://HOST:PORT",
	     "address"},
	    {"join",
	     {"http://a:7001"},
	     "missing --token TOKEN, the token 'warren cluster init' printed",
	     "token"},
	    {"join",
	     {"http://a:7001", "--token", ""},
	     "--token needs the cluster's token",
	     "token"},
	    {"join",
	     {"http://a:7001", "--token", "T", "--label", "zone"},
	     "--label 'zone': expected KEY=VALUE",
	     "labels"},
	    {"remove", {NULL}, "missing MEMBER", "member"},
	    {"evacuate", {""}, "missing MEMBER", "member"},
	    {"rebalance",
	     {"--threshold", "1.5"},
	     "--threshold " FRACTION_FORM ", not '1.5'",
	     "threshold"},
	    {"rebalance",
	     {"--threshold", "-0.1"},
	     "--threshold " FRACTION_FORM ", not '-0.1'",
	     "threshold"},
	    {"rebalance",
	     {"--threshold", "15%"},
	     "--threshold " FRACTION_FORM ", not '15%'",
	     "threshold"},
	    {"rebalance",
	     {"--threshold", "nan"},
	     "--threshold " FRACTION_FORM ", not 'nan'",
	     "threshold"},
	    {"config",
	     {"--strategy", "random"},
	     "--strategy takes spread or pack, not 'random'",
	     "strategy"},
	    {"config",
	     {"--strategy", "Spread"},
	     "--strategy takes spread or pack, not 'Spread'",
	     "strategy"},
	    {"config",
	     {"--weight-memory", "lots"},
	     "--weight-memory " WEIGHT_FORM ", not 'lots'",
	     "memory"},
	    {"config",
	     {"--weight-vcpus", "-1"},
	     "--weight-vcpus " WEIGHT_FORM ", not '-1'",
	     "vcpus"},
	    {"config",
	     {"--weight-load", "1e3"},
	     "--weight-load " WEIGHT_FORM ", not '1e3'",
	     "load"},
	    {"config", {"--weight-load", ""}, "--weight-load " WEIGHT_FORM ", not ''", "load"},
	    {"config",
	     {"--rebalance-threshold", "2"},
	     "--rebalance-threshold " FRACTION_FORM ", not '2'",
	     "rebalance_threshold"},
	    {"leave", {NULL}, "unknown cluster command 'leave'", ""},
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct werr err = {0};
		_cleanup_free_ char *got = request(cases[i].verb, cases[i].args, &err);

		if (got)
			fail_msg("case %zu (%s): accepted as %s", i, cases[i].verb, got);
		if (strcmp(err.message, cases[i].message) != 0)
			fail_msg("case %zu (%s): got '%s'", i, cases[i].verb, err.message);
		assert_string_equal(err.field, cases[i].field);
	}
}

/* ---- create ------------------------------------------------------------------ */

/* The create body of "create web1 args" as sorted compact JSON, or NULL
 * with err. */
static char *create_body(char *const *args, struct werr *err)
{
	const struct cli_option *const tables[] = {opts, NULL};
	_cleanup_json_ json_t *spec = NULL;
	struct cli_args a = {0};
	int r;

	assert_int_equal(cli_args_parse(&a, count(args), args, tables, false, err), count(args));
	r = spec_build(&a, "web1", &spec, err);
	cli_args_clear(&a);
	if (r < 0) {
		assert_int_equal(r, -EINVAL);
		return NULL;
	}
	return json_dumps(spec, JSON_COMPACT | JSON_SORT_KEYS);
}

static void test_create(void **state)
{
	static struct {
		char *args[ARGS_MAX];
		const char *want;
	} cases[] = {
	    /* Standalone, nothing is added. */
	    {{NULL}, "{\"name\":\"web1\"}"},
	    {{"--target", "auto"}, "{\"name\":\"web1\",\"target\":\"auto\"}"},
	    {{"--target", "b", "--explain"},
	     "{\"explain\":true,\"name\":\"web1\",\"target\":\"b\"}"},
	    {{"--ha"}, "{\"ha\":true,\"name\":\"web1\"}"},
	    {{"--affinity", "web"}, "{\"name\":\"web1\",\"placement\":{\"affinity\":\"web\"}}"},
	    {{"--anti-affinity", "db"},
	     "{\"name\":\"web1\",\"placement\":{\"anti_affinity\":\"db\"}}"},
	    {{"--require-accel", "kvm"}, "{\"name\":\"web1\",\"placement\":{\"accel\":\"kvm\"}}"},
	    {{"--require-label", "zone=x", "--require-label", "ssd=yes"},
	     "{\"name\":\"web1\",\"placement\":{\"labels\":{\"ssd\":\"yes\",\"zone\":\"x\"}}}"},
	    /* The spec's labels and the placement's are apart. */
	    {{"--label", "env=prod", "--require-label", "zone=x"},
	     "{\"labels\":{\"env\":\"prod\"},\"name\":\"web1\",\"placement\":{\"labels\":{\"zone\":"
	     "\"x\"}}}"},
	    {{"--target", "auto", "--explain", "--ha", "--affinity", "web", "--anti-affinity", "db",
	      "--require-label", "zone=x", "--require-accel", "tcg"},
	     "{\"explain\":true,\"ha\":true,\"name\":\"web1\",\"placement\":{\"accel\":\"tcg\","
	     "\"affinity\":\"web\",\"anti_affinity\":\"db\",\"labels\":{\"zone\":\"x\"}},"
	     "\"target\":\"auto\"}"},
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct werr err = {0};
		_cleanup_free_ char *got = create_body(cases[i].args, &err);

		if (!got || strcmp(got, cases[i].want) != 0)
			fail_msg("case %zu: got %s (%s)", i, got ? got : "NULL", err.message);
	}
}

static void test_create_errors(void **state)
{
	static struct {
		char *args[ARGS_MAX];
		const char *message;
	} cases[] = {
	    {{"--target", ""}, "--target needs auto or a member's name"},
	    {{"--affinity", ""}, "--affinity needs a group name"},
	    {{"--anti-affinity="}, "--anti-affinity needs a group name"},
	    {{"--require-label", "zone"}, "--require-label 'zone': expected KEY=VALUE"},
	    {{"--require-label", "=x"}, "--require-label '=x': expected KEY=VALUE"},
	    {{"--require-accel", "hvf"}, "--require-accel takes kvm or tcg, not 'hvf'"},
	    {{"--require-accel", "KVM"}, "--require-accel takes kvm or tcg, not 'KVM'"},
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct werr err = {0};
		_cleanup_free_ char *got = create_body(cases[i].args, &err);

		if (got)
			fail_msg("case %zu: accepted as %s", i, got);
		if (strcmp(err.message, cases[i].message) != 0)
			fail_msg("case %zu: got '%s'", i, err.message);
	}
}

/* A --from file's placement is kept where the options do not set it; its
 * labels are a map, like the spec's. */
static void test_create_from_file(void **state)
{
	char file[] = "/tmp/warren-test-cluster-XXXXXX";
	static const char spec[] = "{\"name\": \"web1\", \"target\": \"a\", \"ha\": false,"
				   " \"placement\": {\"affinity\": \"old\", \"accel\": \"kvm\","
				   " \"labels\": {\"rack\": \"r1\", \"zone\": \"y\"}}}";
	char *args[ARGS_MAX] = {"--from",	   file,    "--target", "b", "--ha",
				"--require-label", "zone=x"};
	_cleanup_close_ int fd = mkstemp(file);
	_cleanup_free_ char *got = NULL;
	struct werr err = {0};

	assert_true(fd >= 0);
	assert_int_equal(write(fd, spec, strlen(spec)), (ssize_t)strlen(spec));
	got = create_body(args, &err);
	unlink(file);
	assert_non_null(got);
	assert_string_equal(got,
			    "{\"ha\":true,\"name\":\"web1\",\"placement\":{\"accel\":\"kvm\","
			    "\"affinity\":\"old\",\"labels\":{\"rack\":\"r1\",\"zone\":\"x\"}},"
			    "\"target\":\"b\"}");
}

/* ---- values ------------------------------------------------------------------- */

static void test_parse_time(void **state)
{
	static const struct {
		const char *s;
		int r;
		int64_t ms;
	} cases[] = {
	    {"2023-11-14T22:13:20.000Z", 0, 1700000000000},
	    {"2023-11-14T22:13:20.5Z", 0, 1700000000500},
	    {"2023-11-14T22:13:20Z", 0, 1700000000000},
	    /* Past milliseconds the digits are cut. */
	    {"2023-11-14T22:13:20.123456Z", 0, 1700000000123},
	    {"2023-11-14T22:13:20.123", -EINVAL, 0},
	    {"2023-11-14T22:13:20.Z", -EINVAL, 0},
	    {"2023-11-14 22:13:20Z", -EINVAL, 0},
	    {"yesterday", -EINVAL, 0},
	    {NULL, -EINVAL, 0},
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		int64_t ms = -1;

		assert_int_equal(cli_parse_time(cases[i].s, &ms), cases[i].r);
		assert_int_equal(ms, cases[i].r < 0 ? -1 : cases[i].ms);
	}
}

/* Operations a member forwarded read "<id>@<member>"; the '@' is escaped
 * into one path segment. */
static void test_escape_operation_id(void **state)
{
	_cleanup_free_ char *path = api_path("/v1/operations/", "0123abcd@b", "?wait=1");

	assert_string_equal(path, "/v1/operations/0123abcd%40b?wait=1");
}

/* ---- views ---------------------------------------------------------------------- */

#define MEMBERS                                                                                    \
	"{\"members\": ["                                                                          \
	" {\"name\": \"a\", \"address\": \"http://127.0.0.1:7001\", \"state\": \"online\","        \
	"  \"labels\": {\"zone\": \"x\"}, \"accel\": \"tcg\","                                     \
	"  \"capacity\": {\"vcpus\": 8, \"memory\": 4294967296},"                                  \
	"  \"allocated\": {\"vcpus\": 2, \"memory\": 536870912, \"vms\": 3},"                      \
	"  \"load\": 0.12, \"last_heartbeat\": \"2026-11-23T10:00:00.123Z\", \"self\": true},"     \
	" {\"name\": \"b\", \"address\": \"http://127.0.0.1:7002\", \"state\": \"offline\","       \
	"  \"labels\": {}, \"accel\": \"kvm\","                                                    \
	"  \"capacity\": {\"vcpus\": 12.5, \"memory\": 8589934592},"                               \
	"  \"allocated\": {\"vcpus\": 0, \"memory\": 0, \"vms\": 0},"                              \
	"  \"load\": null, \"last_heartbeat\": \"2026-11-23T09:56:48.000Z\", \"self\": false},"    \
	" {\"name\": \"c\", \"address\": \"http://127.0.0.1:7003\", \"state\": \"removing\","      \
	"  \"capacity\": {\"vcpus\": 4}, \"allocated\": {\"vcpus\": 1},"                           \
	"  \"load\": 1, \"last_heartbeat\": null},"                                                \
	" {\"name\": \"d\"}]}"

static void members_at_now(FILE *f, json_t *reply)
{
	int64_t now;

	assert_int_equal(cli_parse_time("2026-11-23T10:00:01.500Z", &now), 0);
	view_cluster_members_at(f, reply, now);
}

static void test_members(void **state)
{
	assert_render(
	    members_at_now, MEMBERS,
	    "NAME  ADDRESS                STATE     CPUS  MEMORY  ALLOCATED          LOAD  "
	    "VMS  HEARTBEAT\n"
	    "a*    http://127.0.0.1:7001  online    8     4G      2/8 cpu, 512M/4G   12%   "
	    "3    1s ago\n"
	    "b     http://127.0.0.1:7002  offline   12.5  8G      0/12.5 cpu, 0B/8G  -     "
	    "0    3m13s ago\n"
	    "c     http://127.0.0.1:7003  removing  4     -       1/4 cpu            100%  "
	    "-    never\n"
	    "d     -                      -         -     -       -                  -     "
	    "-    -\n");
	assert_render(members_at_now, "{\"members\": []}",
		      "NAME  ADDRESS  STATE  CPUS  MEMORY  ALLOCATED  LOAD  VMS  HEARTBEAT\n");
	/* A heartbeat ahead of this host's clock is now. */
	assert_render(members_at_now,
		      "{\"members\": [{\"name\": \"a\", \"last_heartbeat\": "
		      "\"2026-11-23T10:00:09.000Z\"}]}",
		      "NAME  ADDRESS  STATE  CPUS  MEMORY  ALLOCATED  LOAD  VMS  HEARTBEAT\n"
		      "a     -        -      -     -       -          -     -    0s ago\n");
}

static void test_cluster_show(void **state)
{
	static const char *const config =
	    "\"config\": {\"strategy\": \"spread\", \"weights\": {\"memory\": 1.0, \"vcpus\": 0.0,"
	    " \"load\": 0.5}, \"rebalance_threshold\": 0.15}";
	_cleanup_free_ char *online = NULL, *init = NULL, *lost = NULL;

	assert_true(
	    asprintf(&online,
		     "{\"enabled\": true, \"member\": \"a\", \"address\": "
		     "\"http://127.0.0.1:7001\", \"etcd\": [\"http://127.0.0.1:2379\", "
		     "\"http://127.0.0.1:22379\"], \"state\": \"online\", \"ttl_s\": 10, %s}",
		     config) > 0);
	assert_render(view_cluster, online,
		      "enabled: yes\n"
		      "state: online\n"
		      "member: a\n"
		      "address: http://127.0.0.1:7001\n"
		      "etcd: http://127.0.0.1:2379, http://127.0.0.1:22379\n"
		      "lease ttl: 10s\n"
		      "strategy: spread\n"
		      "weights: memory=1 vcpus=0 load=0.5\n"
		      "rebalance threshold: 0.15\n");

	/* An init's answer has the token, shown this once. */
	assert_true(asprintf(&init,
			     "{\"enabled\": true, \"member\": \"a\", \"address\": "
			     "\"http://127.0.0.1:7001\", \"etcd\": [\"http://127.0.0.1:2379\"], "
			     "\"state\": \"online\", \"ttl_s\": 10, %s, \"token\": \"s3cr3t\"}",
			     config) > 0);
	assert_render(view_cluster, init,
		      "enabled: yes\n"
		      "state: online\n"
		      "member: a\n"
		      "address: http://127.0.0.1:7001\n"
		      "etcd: http://127.0.0.1:2379\n"
		      "lease ttl: 10s\n"
		      "strategy: spread\n"
		      "weights: memory=1 vcpus=0 load=0.5\n"
		      "rebalance threshold: 0.15\n"
		      "token: s3cr3t\n"
		      "\n"
		      "Keep the token: it is not shown again. Other hosts join with\n"
		      "  warren cluster join http://127.0.0.1:7001 --token s3cr3t\n");

	assert_true(asprintf(&lost, "{\"enabled\": true, \"member\": \"b\", \"state\": \"lost\"}") >
		    0);
	assert_render(view_cluster, lost,
		      "enabled: yes\n"
		      "state: lost (etcd unreachable longer than the lease: changes are refused)\n"
		      "member: b\n");

	assert_render(view_cluster, "{\"enabled\": false, \"state\": \"standalone\"}",
		      "enabled: no\nstate: standalone\n");
}

static void test_cluster_config(void **state)
{
	assert_render(view_cluster_config,
		      "{\"strategy\": \"pack\", \"weights\": {\"memory\": 0.75, \"vcpus\": 1,"
		      " \"load\": 0.0}, \"rebalance_threshold\": 0.2}",
		      "strategy: pack\n"
		      "weights: memory=0.75 vcpus=1 load=0\n"
		      "rebalance threshold: 0.2\n");
	assert_render(view_cluster_config, "{}", "");
}

static void test_member_removed(void **state)
{
	assert_render(view_member_removed, "{\"name\": \"b\", \"removed\": true}",
		      "b: removed from the cluster\n");
}

static void test_moves(void **state)
{
	/* A dry run: the plan, and the spread it would leave. */
	assert_render(
	    view_cluster_moves,
	    "{\"moves\": [{\"vm\": \"web1\", \"from\": \"b\", \"to\": \"a\","
	    " \"memory\": 268435456},"
	    " {\"vm\": \"database\", \"from\": \"b\", \"to\": \"c\", \"memory\": 2147483648}],"
	    " \"spread_before\": 0.4, \"spread_after\": 0.1, \"threshold\": 0.15}",
	    "VM        FROM  TO  MEMORY\n"
	    "web1      b     a   256M\n"
	    "database  b     c   2G\n"
	    "spread: 0.40 before, 0.10 after (threshold 0.15)\n");
	assert_render(view_cluster_moves,
		      "{\"moves\": [], \"spread_before\": 0.05, \"spread_after\": 0.05,"
		      " \"threshold\": 0.15}",
		      "no VMs to move\n"
		      "spread: 0.05 before, 0.05 after (threshold 0.15)\n");
	/* An evacuation: what was done, and why a move failed. */
	assert_render(view_cluster_moves,
		      "{\"moves\": [{\"vm\": \"web1\", \"from\": \"b\", \"to\": \"a\","
		      " \"status\": \"done\"},"
		      " {\"vm\": \"db\", \"from\": \"b\", \"to\": \"c\", \"status\": \"failed\","
		      "  \"error\": \"no capacity on c\"},"
		      " {\"vm\": \"cache\", \"from\": \"b\", \"to\": null, \"status\": \"failed\","
		      "  \"error\": \"\"}]}",
		      "VM     FROM  TO  STATUS\n"
		      "web1   b     a   done\n"
		      "db     b     c   failed: no capacity on c\n"
		      "cache  b     -   failed\n");
	assert_render(view_cluster_moves, "{\"moves\": []}", "no VMs to move\n");
	assert_render(view_cluster_moves, "{}", "no VMs to move\n");
}

/* operation show of an evacuation counts its moves. */
static void test_operation_show_moves(void **state)
{
	assert_render(
	    view_operation_show,
	    "{\"id\": \"0123abcd@b\", \"action\": \"evacuate\", \"status\": \"succeeded\","
	    " \"result\": {\"moves\": [{\"vm\": \"web1\", \"status\": \"done\"},"
	    " {\"vm\": \"db\", \"status\": \"failed\", \"error\": \"no capacity\"},"
	    " {\"vm\": \"x\", \"status\": \"done\"}]}}",
	    "id: 0123abcd@b\naction: evacuate\nstatus: succeeded\n"
	    "result: 3 moves, 1 failed\n");
	assert_render(view_operation_show,
		      "{\"id\": \"r1\", \"action\": \"rebalance\", \"status\": \"succeeded\","
		      " \"result\": {\"moves\": [{\"vm\": \"web1\", \"status\": \"done\"}],"
		      " \"spread_before\": 0.3, \"spread_after\": 0.1}}",
		      "id: r1\naction: rebalance\nstatus: succeeded\nresult: 1 move\n");
}

#define VM_CREATED                                                                                 \
	"{\"id\": \"a1b2\", \"name\": \"web1\", \"state\": \"stopped\", \"cpus\": 1,"              \
	" \"memory\": 536870912, \"host\": \"b\", \"ha\": true,"                                   \
	" \"spec\": {\"kernel\": \"/img/vmlinuz\", \"serial\": true}"

static void test_created(void **state)
{
	/* With --explain the placement follows the VM. */
	assert_render(
	    view_vm_created,
	    VM_CREATED
	    ", \"placement\": {\"chosen\": \"b\", \"members\": ["
	    " {\"name\": \"a\", \"eligible\": false, \"filter\": \"capacity\","
	    "  \"reason\": \"needs 512 MiB, 128 MiB free\", \"score\": null,"
	    "  \"weights\": null},"
	    " {\"name\": \"b\", \"eligible\": true, \"filter\": null, \"reason\": null,"
	    "  \"score\": 1.0, \"weights\": {\"memory\": 1.0, \"vcpus\": 0.0, \"load\": 0.0}},"
	    " {\"name\": \"c\", \"eligible\": true, \"filter\": null, \"reason\": null,"
	    "  \"score\": 0.25},"
	    " {\"name\": \"d\", \"eligible\": false, \"filter\": \"labels\","
	    "  \"reason\": \"zone is y, not x\", \"score\": null},"
	    " {\"name\": \"e\", \"eligible\": false}]}}",
	    "name: web1\n"
	    "id: a1b2\n"
	    "state: stopped\n"
	    "host: b\n"
	    "ha: on\n"
	    "cpus: 1\n"
	    "memory: 512M\n"
	    "kernel: /img/vmlinuz\n"
	    "serial: on\n"
	    "placement:\n"
	    "  MEMBER  RESULT              SCORE  REASON\n"
	    "  a       filtered: capacity  -      needs 512 MiB, 128 MiB free\n"
	    "  b       chosen              1      -\n"
	    "  c       eligible            0.25   -\n"
	    "  d       filtered: labels    -      zone is y, not x\n"
	    "  e       filtered            -      -\n");
	/* Without, the VM alone; standalone, not even its host. */
	assert_render(view_vm_created, VM_CREATED "}",
		      "name: web1\nid: a1b2\nstate: stopped\nhost: b\nha: on\ncpus: 1\n"
		      "memory: 512M\nkernel: /img/vmlinuz\nserial: on\n");
	assert_render(view_vm_created, "{\"name\": \"web1\", \"state\": \"stopped\"}",
		      "name: web1\nstate: stopped\nmemory: -\n");
}

static void test_vm_list_hosts(void **state)
{
	/* In a cluster every VM has its host, those of an offline member too. */
	assert_render(view_vm_list,
		      "{\"vms\": ["
		      " {\"name\": \"web1\", \"state\": \"running\", \"cpus\": 2,"
		      "  \"memory\": 268435456, \"uptime_seconds\": 192, \"host\": \"a\","
		      "  \"nics\": [{\"addresses\": [\"10.0.0.5\"]}]},"
		      " {\"name\": \"db\", \"state\": \"unknown\", \"cpus\": 4,"
		      "  \"memory\": 1073741824, \"host\": \"b\"},"
		      " {\"name\": \"odd\"}]}",
		      "NAME  STATE    CPUS  MEMORY  UPTIME  ADDRESSES  HOST\n"
		      "web1  running  2     256M    3m12s   10.0.0.5   a\n"
		      "db    unknown  4     1G      -       -          b\n"
		      "odd   -        -     -       -       -          -\n");
	/* Standalone, the table is as it always was. */
	assert_render(view_vm_list,
		      "{\"vms\": [{\"name\": \"web1\", \"state\": \"stopped\", \"cpus\": 2,"
		      " \"memory\": 268435456}]}",
		      "NAME  STATE    CPUS  MEMORY  UPTIME  ADDRESSES\n"
		      "web1  stopped  2     256M    -       -\n");
	assert_render(view_vm_list, "{\"vms\": []}",
		      "NAME  STATE  CPUS  MEMORY  UPTIME  ADDRESSES\n");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_requests),	   cmocka_unit_test(test_request_views),
	    cmocka_unit_test(test_request_errors), cmocka_unit_test(test_create),
	    cmocka_unit_test(test_create_errors),  cmocka_unit_test(test_create_from_file),
	    cmocka_unit_test(test_parse_time),	   cmocka_unit_test(test_escape_operation_id),
	    cmocka_unit_test(test_members),	   cmocka_unit_test(test_cluster_show),
	    cmocka_unit_test(test_cluster_config), cmocka_unit_test(test_member_removed),
	    cmocka_unit_test(test_moves),	   cmocka_unit_test(test_operation_show_moves),
	    cmocka_unit_test(test_created),	   cmocka_unit_test(test_vm_list_hosts),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
