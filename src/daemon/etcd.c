/*
 * etcd: requests to etcd's v3 JSON gateway (POST /v3/kv/range, /v3/kv/txn,
 * /v3/lease/grant, /v3/lease/keepalive, ...), sent through peer.c so they
 * run on the event loop like every other request of ours.
 *
 * The bodies and answers are built and read by src/cluster/etcd.c.
 *
 * A request goes to the endpoint that answered last; when it gives no
 * answer (refused, timed out, 5xx), the next endpoint is tried, so a
 * cluster of etcd nodes keeps serving while one of them is down.
 */
#include <string.h>

#include "daemon/cluster.h"

#define ETCD_TIMEOUT_MS 3000

struct etcd_call {
	struct daemon *d;
	char path[48];
	json_t *body;
	unsigned tries;
	etcd_done_fn done;
	void *ud;
};

/* ---- requests ---------------------------------------------------------- */

static int send_call(struct etcd_call *c);

static void call_free(struct etcd_call *c)
{
	json_decref(c->body);
	free(c);
}

static void on_answer(void *ud, int status, json_t *body, const char *error)
{
	struct etcd_call *c = ud;
	struct cluster *cl = c->d->cluster;
	char why[512];

	if ((status == 0 || status >= 500) && cl && ++c->tries < cl->n_etcd) {
		log_warn("etcd %s: %s; trying the next endpoint", cl->etcd[cl->etcd_cur],
			 error ? error : "server error");
		cl->etcd_cur = (cl->etcd_cur + 1) % cl->n_etcd;
		if (send_call(c) == 0)
			return;
	}
	if (status == 200) {
		c->done(c->ud, body, NULL);
	} else {
		if (status)
			snprintf(why, sizeof(why), "etcd answered %d to %s: %s", status, c->path,
				 json_string_value(json_object_get(body, "error")) ?:
				 json_string_value(json_object_get(body, "message")) ?: "no message");
		else
			snprintf(why, sizeof(why), "etcd is unreachable: %s", error ? error : "?");
		c->done(c->ud, NULL, why);
	}
	call_free(c);
}

static int send_call(struct etcd_call *c)
{
	struct cluster *cl = c->d->cluster;
	struct peer_addr a = {.no_token = true};

	if (!cl || !cl->n_etcd)
		return -ENOTCONN;
	snprintf(a.url, sizeof(a.url), "%s", cl->etcd[cl->etcd_cur]);
	snprintf(a.display, sizeof(a.display), "%s", a.url);
	return peer_request(c->d, &a, "POST", c->path, json_incref(c->body), NULL, 0,
			    ETCD_TIMEOUT_MS, on_answer, c, NULL);
}

int etcd_call(struct daemon *d, const char *path, json_t *body, etcd_done_fn done, void *ud)
{
	struct etcd_call *c = calloc(1, sizeof(*c));
	int r;

	if (!c || !body) {
		free(c);
		json_decref(body);
		return -ENOMEM;
	}
	*c = (struct etcd_call){.d = d, .body = body, .done = done, .ud = ud};
	snprintf(c->path, sizeof(c->path), "%s", path);
	r = send_call(c);
	if (r < 0)
		call_free(c);
	return r;
}

int etcd_txn(struct daemon *d, json_t *compare, json_t *success, json_t *failure,
	     etcd_done_fn done, void *ud)
{
	json_t *body = json_pack("{s:o, s:o, s:o}", "compare", compare ?: json_array(), "success",
				 success ?: json_array(), "failure", failure ?: json_array());

	return etcd_call(d, "/v3/kv/txn", body, done, ud);
}
