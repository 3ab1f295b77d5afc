/*
 * cluster: the requests of "warren cluster ..." and the keys "warren
 * create" sends beside the spec for a cluster's placement, from their
 * operands and options.
 *
 * As for migrate, only the form is checked here, before any request: that
 * what is required is given and not empty, that labels are KEY=VALUE, a
 * TTL whole seconds, a strategy or accelerator one of its words and a
 * weight or threshold a number in its range. Whether etcd answers, a
 * member exists or a VM fits is the daemon's to judge. Options left out
 * are left out of the body: the daemon owns the defaults (the host name
 * for a member, a token made for the cluster, the lease's TTL, the config
 * as it stands).
 */
#include <string.h>

#include "cli/cli.h"

void cli_request_clear(struct cli_request *req)
{
	free(req->path);
	json_decref(req->body);
	*req = (struct cli_request){0};
}

/* ---- values into bodies ---------------------------------------------------- */

/* body[key] = the value of --opt when given; an empty one is refused
 * ("--opt needs WHAT"). */
static int body_word(json_t *body, const char *key, const struct cli_args *a, const char *opt,
		     const char *what, struct werr *err)
{
	const char *v = cli_opt_get(a, opt);

	if (!v)
		return 0;
	if (!*v)
		return werr_set(err, -EINVAL, "invalid", key, "--%s needs %s", opt, what);
	return cli_json_set(body, key, json_string(v));
}

/* body[key] = the value of --opt when given, one of the NULL-terminated
 * choices ("--opt takes WANT, not 'V'" otherwise). */
static int body_choice(json_t *body, const char *key, const struct cli_args *a, const char *opt,
		       const char *const *choices, const char *want, struct werr *err)
{
	const char *v = cli_opt_get(a, opt);

	if (!v)
		return 0;
	for (; *choices; choices++)
		if (strcmp(v, *choices) == 0)
			return cli_json_set(body, key, json_string(v));
	return werr_set(err, -EINVAL, "invalid", key, "--%s takes %s, not '%s'", opt, want, v);
}

/* body[key] = the number --opt gives, 0 or more and, for a fraction
 * (a threshold), at most 1. */
static int body_number(json_t *body, const char *key, const struct cli_args *a, const char *opt,
		       bool fraction, struct werr *err)
{
	const char *v = cli_opt_get(a, opt);
	double x;

	if (!v)
		return 0;
	if (cli_parse_decimal(v, &x) < 0 || x < 0 || (fraction && x > 1))
		return werr_set(err, -EINVAL, "invalid", key, "--%s takes %s, not '%s'", opt,
				fraction ? "a fraction from 0 to 1, like 0.15"
					 : "a number of 0 or more, like 1 or 0.5",
				v);
	return cli_json_set(body, key, json_real(x));
}

/* --etcd URL[,URL...], which may be repeated: every URL in order. */
static int etcd_set(json_t *body, const struct cli_args *a, struct werr *err)
{
	_cleanup_json_ json_t *urls = json_array();

	if (!urls)
		return -ENOMEM;
	for (size_t i = 0; i < a->n_opts; i++) {
		const char *v = a->opts[i].value, *p = v;

		if (strcmp(a->opts[i].opt->name, "etcd") != 0)
			continue;
		for (;;) {
			size_t len = strcspn(p, ",");

			if (len == 0)
				return werr_set(err, -EINVAL, "invalid", "etcd",
						"--etcd '%s': an empty URL", v);
			if (json_array_append_new(urls, json_stringn(p, len)) < 0)
				return -ENOMEM;
			if (!p[len])
				break;
			p += len + 1;
		}
	}
	if (json_array_size(urls) == 0)
		return werr_set(err, -EINVAL, "invalid", "etcd",
				"missing --etcd URL[,URL...], the etcd that keeps the cluster's "
				"state");
	return cli_json_set(body, "etcd", TAKE_PTR(urls));
}

/* --ttl DURATION: the lease of a member, in whole seconds. */
static int ttl_set(json_t *body, const struct cli_args *a, struct werr *err)
{
	const char *v = cli_opt_get(a, "ttl");
	uint64_t ms;

	if (!v)
		return 0;
	if (cli_parse_duration_ms(v, &ms) < 0 || ms == 0 || ms % 1000 != 0 || ms / 1000 > INT32_MAX)
		return werr_set(err, -EINVAL, "invalid", "ttl_s",
				"--ttl takes a duration in whole seconds like 10s or 1m, not '%s'",
				v);
	return cli_json_set(body, "ttl_s", json_integer((json_int_t)(ms / 1000)));
}

/* --name and --label, which init and join share. */
static int member_set(json_t *body, const struct cli_args *a, struct werr *err)
{
	int r = body_word(body, "name", a, "name", "a member name", err);

	return r < 0 ? r : cli_labels_set(body, "labels", a, "label", err);
}

/* ---- the requests ------------------------------------------------------------ */

/*
 * req's method and path, "/v1/cluster<suffix>" or, for a member,
 * "/v1/cluster/members/<member escaped><suffix>", and an empty body when
 * it takes one.
 */
static int req_start(struct cli_request *req, const char *method, const char *member,
		     const char *suffix, bool body)
{
	req->method = method;
	if (member)
		req->path = api_path("/v1/cluster/members/", member, suffix);
	else if (asprintf(&req->path, "/v1/cluster%s", suffix) < 0)
		req->path = NULL;
	if (!req->path || (body && !(req->body = json_object())))
		return -ENOMEM;
	return 0;
}

/* A request on the member the first operand names. */
static int req_member(struct cli_request *req, const char *method, const struct cli_args *a,
		      const char *suffix, bool body, struct werr *err)
{
	if (a->n_pos < 1 || !*a->pos[0])
		return werr_set(err, -EINVAL, "invalid", "member", "missing MEMBER");
	return req_start(req, method, a->pos[0], suffix, body);
}

static int cluster_init(const struct cli_args *a, struct cli_request *req, struct werr *err)
{
	int r = req_start(req, "POST", NULL, "/init", true);

	if (r >= 0)
		r = etcd_set(req->body, a, err);
	if (r >= 0)
		r = member_set(req->body, a, err);
	return r < 0 ? r : ttl_set(req->body, a, err);
}

static int cluster_join(const struct cli_args *a, struct cli_request *req, struct werr *err)
{
	const char *token = cli_opt_get(a, "token");
	int r;

	if (a->n_pos < 1 || !*a->pos[0])
		return werr_set(err, -EINVAL, "invalid", "address",
				"missing ADDRESS, a member's http://HOST:PORT");
	if (!token)
		return werr_set(err, -EINVAL, "invalid", "token",
				"missing --token TOKEN, the token 'warren cluster init' printed");
	r = req_start(req, "POST", NULL, "/join", true);
	if (r >= 0)
		r = cli_json_set(req->body, "address", json_string(a->pos[0]));
	if (r >= 0)
		r = body_word(req->body, "token", a, "token", "the cluster's token", err);
	return r < 0 ? r : member_set(req->body, a, err);
}

static int cluster_show(const struct cli_args *a, struct cli_request *req, struct werr *err)
{
	return req_start(req, "GET", NULL, "", false);
}

static int cluster_members(const struct cli_args *a, struct cli_request *req, struct werr *err)
{
	return req_start(req, "GET", NULL, "/members", false);
}

/* warrend refuses (409) a member that still holds VMs unless forced. */
static int cluster_remove(const struct cli_args *a, struct cli_request *req, struct werr *err)
{
	return req_member(req, "DELETE", a, cli_opt_has(a, "force") ? "?force=true" : "", false,
			  err);
}

static int cluster_evacuate(const struct cli_args *a, struct cli_request *req, struct werr *err)
{
	return req_member(req, "POST", a, "/evacuate", true, err);
}

static int cluster_rebalance(const struct cli_args *a, struct cli_request *req, struct werr *err)
{
	int r = req_start(req, "POST", NULL, "/rebalance", true);

	if (r >= 0 && cli_opt_has(a, "dry-run"))
		r = cli_json_set(req->body, "dry_run", json_true());
	return r < 0 ? r : body_number(req->body, "threshold", a, "threshold", true, err);
}

/* The weights of the config, each set by --weight-KEY. */
static const char *const weight_keys[] = {"memory", "vcpus", "load"};

/* Without an option, the config as GET /v1/cluster has it; with any, a
 * PUT of what they change. */
static int cluster_config(const struct cli_args *a, struct cli_request *req, struct werr *err)
{
	static const char *const strategies[] = {"spread", "pack", NULL};
	bool change = cli_opt_has(a, "strategy") || cli_opt_has(a, "rebalance-threshold");
	char opt[32];
	int r;

	for (size_t i = 0; i < ARRAY_SIZE(weight_keys); i++) {
		snprintf(opt, sizeof(opt), "weight-%s", weight_keys[i]);
		change = change || cli_opt_has(a, opt);
	}
	if (!change)
		return req_start(req, "GET", NULL, "", false);
	r = req_start(req, "PUT", NULL, "/config", true);
	if (r >= 0)
		r = body_choice(req->body, "strategy", a, "strategy", strategies, "spread or pack",
				err);
	for (size_t i = 0; r >= 0 && i < ARRAY_SIZE(weight_keys); i++) {
		json_t *weights;

		snprintf(opt, sizeof(opt), "weight-%s", weight_keys[i]);
		if (!cli_opt_has(a, opt))
			continue;
		weights = cli_json_child(req->body, "weights");
		if (!weights)
			return -ENOMEM;
		r = body_number(weights, weight_keys[i], a, opt, false, err);
	}
	return r < 0 ? r
		     : body_number(req->body, "rebalance_threshold", a, "rebalance-threshold", true,
				   err);
}

/* clang-format off */
static const struct {
	const char *verb;
	int (*build)(const struct cli_args *a, struct cli_request *req, struct werr *err);
	void (*table_fn)(FILE *f, json_t *data);
	bool operation;
} cluster_verbs[] = {
	{.verb = "init",      .build = cluster_init,      .table_fn = view_cluster},
	{.verb = "join",      .build = cluster_join,      .table_fn = view_cluster},
	{.verb = "show",      .build = cluster_show,      .table_fn = view_cluster},
	{.verb = "members",   .build = cluster_members,   .table_fn = view_cluster_members},
	{.verb = "remove",    .build = cluster_remove,    .table_fn = view_member_removed},
	{.verb = "evacuate",  .build = cluster_evacuate,  .table_fn = view_cluster_moves,
	 .operation = true},
	{.verb = "rebalance", .build = cluster_rebalance, .table_fn = view_cluster_moves,
	 .operation = true},
	{.verb = "config",    .build = cluster_config,    .table_fn = view_cluster_config},
};
/* clang-format on */

int cli_cluster_request(const char *verb, const struct cli_args *a, struct cli_request *ret,
			struct werr *err)
{
	int r;

	for (size_t i = 0; i < ARRAY_SIZE(cluster_verbs); i++) {
		struct cli_request req = {.table_fn = cluster_verbs[i].table_fn,
					  .operation = cluster_verbs[i].operation};

		if (strcmp(verb, cluster_verbs[i].verb) != 0)
			continue;
		r = cluster_verbs[i].build(a, &req, err);
		if (r < 0) {
			cli_request_clear(&req);
			return r;
		}
		*ret = req;
		return 0;
	}
	return werr_set(err, -EINVAL, "invalid", "", "unknown cluster command '%s'", verb);
}

/* ---- warren create in a cluster -------------------------------------------- */

int cli_placement_merge(json_t *body, const struct cli_args *a, struct werr *err)
{
	static const char *const accels[] = {"kvm", "tcg", NULL};
	static const char *const placement_opts[] = {"affinity", "anti-affinity", "require-label",
						     "require-accel"};
	json_t *placement = NULL;
	int r;

	r = body_word(body, "target", a, "target", "auto or a member's name", err);
	if (r >= 0 && cli_opt_has(a, "explain"))
		r = cli_json_set(body, "explain", json_true());
	if (r >= 0 && cli_opt_has(a, "ha"))
		r = cli_json_set(body, "ha", json_true());
	for (size_t i = 0; r >= 0 && !placement && i < ARRAY_SIZE(placement_opts); i++)
		if (cli_opt_has(a, placement_opts[i]) &&
		    !(placement = cli_json_child(body, "placement")))
			return -ENOMEM;
	if (r < 0 || !placement)
		return r;
	r = body_word(placement, "affinity", a, "affinity", "a group name", err);
	if (r >= 0)
		r = body_word(placement, "anti_affinity", a, "anti-affinity", "a group name", err);
	if (r >= 0)
		r = cli_labels_set(placement, "labels", a, "require-label", err);
	return r < 0
		   ? r
		   : body_choice(placement, "accel", a, "require-accel", accels, "kvm or tcg", err);
}
