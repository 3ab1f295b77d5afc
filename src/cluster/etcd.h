/*
 * etcd: building the bodies of etcd's v3 JSON gateway and reading its
 * answers (src/cluster/etcd.c). Keys are plain strings here; values are
 * JSON, stored as JSON text.
 */
#ifndef WARREN_CLUSTER_ETCD_H
#define WARREN_CLUSTER_ETCD_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

/* The key as the gateway wants it: a base64 JSON string. */
json_t *etcd_key(const char *key);
/* {"key", "range_end"} of key alone or of every key it prefixes. */
json_t *etcd_range_body(const char *key, bool prefix);
/* value (stolen) is stored as JSON text. */
json_t *etcd_op_put(const char *key, json_t *value, int64_t lease);
json_t *etcd_op_del(const char *key);
/* CREATE == rev (0: the key is absent) / MOD == rev. */
json_t *etcd_cmp_created(const char *key, int64_t rev);
json_t *etcd_cmp_mod(const char *key, int64_t rev);
int64_t etcd_int(json_t *j);
/* {"key": {"value": json, "create": n, "mod": n, "lease": n}} of a range. */
json_t *etcd_kvs(json_t *range);
/* Apply the events of a watch answer to such a view; events at or below
 * revision floor (already in the view) are skipped. Returns how many
 * were applied. */
int etcd_view_apply(json_t *view, json_t *events, int64_t floor);

#endif
