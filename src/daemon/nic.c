/*
 * nic: a VM's network adapters on the host. Every NIC is a tap
 * (wt<id>n<N>) on its network's bridge, made before QEMU starts and
 * removed after it exits, with tc limits on it; the QEMU device is
 * nic-nicN on netdev net-nicN in hot-plug port nicportN. MACs and
 * addresses are chosen here, unique across all VMs, when a client leaves
 * them out.
 */
#include <fcntl.h>
#include <limits.h>
#include <net/if.h>
#include <pwd.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon/internal.h"

#define AGENT_IFACES_MS 1500
#define UNPLUG_TIMEOUT_S 30

/* ---- choosing MACs and addresses -------------------------------------- */

void nics_hold(struct daemon *d, const struct vm_spec *spec)
{
	const struct vm_spec **v = realloc(d->nic_holds, (d->n_nic_holds + 1) * sizeof(*v));

	if (!v)
		return; /* only a race of two creates is left unguarded */
	v[d->n_nic_holds++] = spec;
	d->nic_holds = v;
}

void nics_release(struct daemon *d, const struct vm_spec *spec)
{
	for (size_t i = 0; i < d->n_nic_holds; i++)
		if (d->nic_holds[i] == spec) {
			d->nic_holds[i] = d->nic_holds[--d->n_nic_holds];
			return;
		}
}

/* Calls fn for every NIC of every other VM (and of specs on hold) until
 * it returns true; that NIC's VM name goes to *who. */
static bool other_nics_any(struct daemon *d, const struct vm_rt *self, const struct vm_spec *spec,
			   bool (*fn)(const struct vm_nic *nic, const void *ud), const void *ud,
			   const char **who)
{
	for (struct vm_rt *vm = d->vms; vm; vm = vm->next) {
		if (vm == self || vm->spec == spec)
			continue;
		for (size_t i = 0; i < vm->spec->n_nics; i++)
			if (fn(&vm->spec->nics[i], ud)) {
				*who = vm->spec->name;
				return true;
			}
	}
	for (size_t k = 0; k < d->n_nic_holds; k++) {
		if (d->nic_holds[k] == spec || (self && d->nic_holds[k] == self->spec))
			continue;
		for (size_t i = 0; i < d->nic_holds[k]->n_nics; i++)
			if (fn(&d->nic_holds[k]->nics[i], ud)) {
				*who = d->nic_holds[k]->name;
				return true;
			}
	}
	return false;
}

static bool same_mac(const struct vm_nic *nic, const void *ud)
{
	return net_mac_equal(&nic->mac, ud);
}

static bool same_ip(const struct vm_nic *nic, const void *ud)
{
	return nic->ip == *(const uint32_t *)ud;
}

static bool mac_in_spec(const struct vm_spec *spec, size_t upto, const struct net_mac *m)
{
	for (size_t i = 0; i < upto; i++)
		if (net_mac_equal(&spec->nics[i].mac, m))
			return true;
	return false;
}

static bool ip_in_spec(const struct vm_spec *spec, size_t upto, uint32_t ip)
{
	for (size_t i = 0; i < upto; i++)
		if (spec->nics[i].ip == ip)
			return true;
	return false;
}

static int nic_prepare_one(struct daemon *d, struct vm_spec *spec, size_t i,
			   const struct vm_rt *self, bool renew, struct werr *err)
{
	static const struct net_mac zero;
	struct vm_nic *nic = &spec->nics[i];
	struct netw *n = netw_find(d, nic->network);
	char f[48], a[19], ip[16], mac[18];
	const char *who = NULL;

	snprintf(f, sizeof(f), "nics[%zu].network", i);
	if (!n)
		return werr_set(err, -ENOENT, "invalid", f,
				"%s: there is no network named '%s' (see warren network list)", f,
				nic->network);
	snprintf(f, sizeof(f), "nics[%zu].mtu", i);
	if (nic->mtu > n->mtu)
		return werr_set(err, -EINVAL, "invalid", f,
				"%s %u is more than the %u of network %s; give at most %u", f,
				nic->mtu, n->mtu, n->name, n->mtu);
	if (renew) {
		nic->mac = zero;
		nic->ip = 0;
		nic->ip_auto = false;
	}
	snprintf(f, sizeof(f), "nics[%zu].mac", i);
	if (!net_mac_equal(&nic->mac, &zero)) {
		if (other_nics_any(d, self, spec, same_mac, &nic->mac, &who))
			return werr_set(err, -EEXIST, "conflict", f, "%s %s is already used by VM %s",
					f, net_mac_format(&nic->mac, mac), who);
	} else {
		for (int tries = 0;; tries++) {
			int r = net_mac_random(&nic->mac);
			if (r < 0)
				return werr_internal(err, r, "choosing a MAC"), r;
			if (!mac_in_spec(spec, i, &nic->mac) &&
			    !other_nics_any(d, self, spec, same_mac, &nic->mac, &who))
				break;
			if (tries > 100)
				return werr_internal(err, -EAGAIN, "choosing a MAC"), -EAGAIN;
		}
	}
	snprintf(f, sizeof(f), "nics[%zu].ip", i);
	if (nic->ip && !nic->ip_auto) {
		net_cidr_format(&n->subnet, a);
		net_ip_format(nic->ip, ip);
		if (!net_cidr_contains(&n->subnet, nic->ip))
			return werr_set(err, -EINVAL, "invalid", f,
					"%s %s is outside network %s's subnet %s", f, ip, n->name, a);
		if (nic->ip == n->subnet.addr || nic->ip == net_cidr_broadcast(&n->subnet))
			return werr_set(err, -EINVAL, "invalid", f,
					"%s %s is the %s address of %s; give a host address", f, ip,
					nic->ip == n->subnet.addr ? "network" : "broadcast", a);
		if (nic->ip == n->gateway)
			return werr_set(err, -EINVAL, "invalid", f,
					"%s %s is network %s's gateway; give another address", f, ip,
					n->name);
		if (ip_in_spec(spec, i, nic->ip) ||
		    other_nics_any(d, self, spec, same_ip, &nic->ip, &who))
			return werr_set(err, -EEXIST, "conflict", f, "%s %s is already taken by VM %s",
					f, ip, who ? who : spec->name);
		return 0;
	}
	if (nic->ip && net_cidr_contains(&n->subnet, nic->ip))
		return 0; /* chosen before */
	for (uint32_t cand = n->subnet.addr + 1; cand < net_cidr_broadcast(&n->subnet); cand++) {
		if (cand == n->gateway || ip_in_spec(spec, i, cand) ||
		    other_nics_any(d, self, spec, same_ip, &cand, &who))
			continue;
		nic->ip = cand;
		nic->ip_auto = true;
		return 0;
	}
	return werr_set(err, -ENOSPC, "conflict", f, "network %s has no free address left in %s",
			n->name, net_cidr_format(&n->subnet, a));
}

int nics_prepare(struct daemon *d, struct vm_spec *spec, const struct vm_rt *self, bool renew,
		 struct werr *err)
{
	for (size_t i = 0; i < spec->n_nics; i++) {
		int r = nic_prepare_one(d, spec, i, self, renew, err);
		if (r < 0)
			return r;
	}
	return 0;
}

/* ---- taps ------------------------------------------------------------------ */

static int qemu_uid(const struct vm_rt *vm, uid_t *uid)
{
	struct passwd *pw;

	*uid = (uid_t)-1;
	if (vm->spec->security != VM_SECURITY_STRICT)
		return 0;
	pw = getpwnam(vm->d->cfg.qemu_user);
	if (!pw)
		return -ENOENT;
	*uid = pw->pw_uid;
	return 0;
}

/* Limit both directions of a tap to bps (0: no limit); see
 * net_tc_rate_argvs for the ifb that shapes what the guest sends. */
static int tap_rate(const char *vm_id, const struct vm_nic *nic, uint64_t bps, struct werr *err)
{
	char tap[NET_IFNAME_MAX + 1], ifb[NET_IFNAME_MAX + 1];
	char ***argvs;
	int r = 0;

	net_tap_name(vm_id, vm_nic_index(nic), tap);
	net_ifb_name(vm_id, vm_nic_index(nic), ifb);
	if (bps && !if_nametoindex(ifb)) {
		r = net_run((char *const[]){"ip", "link", "add", ifb, "type", "ifb", NULL}, NULL, err);
		if (r >= 0)
			r = net_run((char *const[]){"ip", "link", "set", ifb, "up", NULL}, NULL, err);
		if (r < 0)
			return r;
	}
	argvs = net_tc_rate_argvs(tap, ifb, bps);
	if (!argvs)
		return werr_internal(err, -ENOMEM, "limiting the rate"), -ENOMEM;
	for (size_t i = 0; argvs[i]; i++) {
		int k = net_run(argvs[i], NULL, bps ? err : NULL);
		/* Removing a limit that is not there fails harmlessly. */
		if (k < 0 && bps) {
			r = k;
			break;
		}
	}
	net_argvs_free(argvs);
	if (!bps && if_nametoindex(ifb))
		net_run((char *const[]){"ip", "link", "del", ifb, NULL}, NULL, NULL);
	return r;
}

static void tap_down(struct vm_rt *vm, const struct vm_nic *nic)
{
	char tap[NET_IFNAME_MAX + 1], ifb[NET_IFNAME_MAX + 1];

	net_tap_name(vm->id, vm_nic_index(nic), tap);
	net_ifb_name(vm->id, vm_nic_index(nic), ifb);
	if (if_nametoindex(tap))
		net_run((char *const[]){"ip", "link", "del", tap, NULL}, NULL, NULL);
	if (if_nametoindex(ifb))
		net_run((char *const[]){"ip", "link", "del", ifb, NULL}, NULL, NULL);
}

static int tap_up(struct vm_rt *vm, const struct vm_nic *nic, uid_t uid, struct werr *err)
{
	struct netw *n = netw_find(vm->d, nic->network);
	char tap[NET_IFNAME_MAX + 1], bridge[NET_IFNAME_MAX + 1], mtu[12], user[16];
	int r;

	if (!n)
		return werr_set(err, -ENOENT, "conflict", "", "%s: %s is on network %s, which is gone",
				vm->spec->name, nic->name, nic->network);
	if (geteuid() != 0)
		return werr_set(err, -EPERM, "unavailable", "",
				"%s: NICs need warrend to run as root (it makes taps)",
				vm->spec->name);
	r = netw_segment_up(vm->d, n, nic->vlan, bridge, err);
	if (r < 0)
		return r;
	net_tap_name(vm->id, vm_nic_index(nic), tap);
	tap_down(vm, nic); /* left by a crash */
	snprintf(mtu, sizeof(mtu), "%u", nic->mtu ? nic->mtu : n->mtu);
	snprintf(user, sizeof(user), "%u", (unsigned)uid);
	if (uid != (uid_t)-1)
		r = net_run((char *const[]){"ip", "tuntap", "add", "dev", tap, "mode", "tap", "user",
					    user, NULL},
			    NULL, err);
	else
		r = net_run((char *const[]){"ip", "tuntap", "add", "dev", tap, "mode", "tap", NULL},
			    NULL, err);
	if (r >= 0)
		r = net_run((char *const[]){"ip", "link", "set", "dev", tap, "mtu", mtu, "master",
					    bridge, "up", NULL},
			    NULL, err);
	if (r >= 0 && nic->rate)
		r = tap_rate(vm->id, nic, nic->rate, err);
	if (r < 0)
		tap_down(vm, nic);
	return r;
}

int nics_enter(struct vm_rt *vm, uid_t uid, struct werr *err)
{
	for (size_t i = 0; i < vm->spec->n_nics; i++) {
		int r = tap_up(vm, &vm->spec->nics[i], uid, err);
		if (r < 0) {
			char why[sizeof(err->message)], code[sizeof(err->code)];

			for (size_t k = 0; k < i; k++)
				tap_down(vm, &vm->spec->nics[k]);
			snprintf(why, sizeof(why), "%s", err->message);
			snprintf(code, sizeof(code), "%s",
				 strcmp(err->code, "internal") ? err->code : "unavailable");
			werr_set(err, r, code, "", "cannot start %s: %s: %.400s", vm->spec->name,
				 vm->spec->nics[i].name, why);
			return r;
		}
	}
	return 0;
}

void nics_leave(struct vm_rt *vm)
{
	for (size_t i = 0; i < vm->spec->n_nics; i++)
		tap_down(vm, &vm->spec->nics[i]);
	if (vm->spec->n_nics)
		netw_segments_gc(vm->d);
}

int nics_qemu_list(const struct vm_rt *vm, struct qemu_nic *out, char taps[][NET_IFNAME_MAX + 1],
		   char macs[][18])
{
	for (size_t i = 0; i < vm->spec->n_nics; i++) {
		const struct vm_nic *nic = &vm->spec->nics[i];
		struct netw *n = netw_find(vm->d, nic->network);

		out[i] = (struct qemu_nic){
			.id = nic->name,
			.port = vm_nic_index(nic),
			.tap = net_tap_name(vm->id, vm_nic_index(nic), taps[i]),
			.mac = net_mac_format(&nic->mac, macs[i]),
			.model = vm_nic_model_to_string(nic->model),
			.mtu = nic->mtu ? nic->mtu : n ? n->mtu : 0,
		};
	}
	return (int)vm->spec->n_nics;
}

/* ---- QEMU ---------------------------------------------------------------- */

static void on_set_link(struct qmp *q, json_t *result, const struct qmp_error *e, void *ud)
{
	if (e)
		log_warn("set_link: %s", e->desc);
}

static void set_link(struct vm_rt *vm, const struct vm_nic *nic)
{
	char dev[16];

	if (!vm->qmp)
		return;
	snprintf(dev, sizeof(dev), "nic-%s", nic->name);
	qmp_execute(vm->qmp, "set_link", json_pack("{s:s, s:b}", "name", dev, "up", !nic->link_down),
		    on_set_link, NULL);
}

void nics_apply_qemu(struct vm_rt *vm)
{
	for (size_t i = 0; i < vm->spec->n_nics; i++)
		if (vm->spec->nics[i].link_down)
			set_link(vm, &vm->spec->nics[i]);
}

int nics_apply_change(struct vm_rt *vm, const struct vm_spec *old, struct werr *err)
{
	bool active = vm_state_is_active(vm->state);

	for (size_t i = 0; active && i < vm->spec->n_nics; i++) {
		const struct vm_nic *nic = &vm->spec->nics[i];

		for (size_t k = 0; k < old->n_nics; k++) {
			const struct vm_nic *was = &old->nics[k];
			int r;

			if (strcmp(was->name, nic->name) != 0)
				continue;
			if (was->rate != nic->rate) {
				r = tap_rate(vm->id, nic, nic->rate, err);
				if (r < 0)
					return r;
			}
			if (was->link_down != nic->link_down)
				set_link(vm, nic);
		}
	}
	return 0;
}

/* ---- hot-plug -------------------------------------------------------------- */

struct plug {
	struct daemon *d;
	char vm_id[33];
	struct vm_spec *next; /* the spec with the NIC added (or removed) */
	struct vm_nic nic;
	struct reply *reply;
	struct event *timer;
	int uid;
};

static struct vm_rt *vm_by_id(struct daemon *d, const char *id)
{
	for (struct vm_rt *vm = d->vms; vm; vm = vm->next)
		if (strcmp(vm->id, id) == 0)
			return vm;
	return NULL;
}

static void plug_free(struct plug *p)
{
	if (p->timer)
		event_free(p->timer);
	vm_spec_free(p->next);
	free(p);
}

static json_t *nic_json_of(const struct vm_rt *vm, const char *name)
{
	json_t *all = nics_to_json(vm, NULL), *e, *found = NULL;
	size_t i;

	json_array_foreach(all, i, e)
		if (strcmp(json_string_value(json_object_get(e, "name")), name) == 0)
			found = json_incref(e);
	json_decref(all);
	return found ? found : json_object();
}

/* The new spec becomes the VM's: store first, then memory, rules, leases. */
static int plug_commit(struct vm_rt *vm, struct plug *p, struct werr *err)
{
	struct vm_spec *old = vm->spec;
	int r;

	vm->spec = p->next;
	r = vm_rt_persist(vm);
	if (r < 0) {
		vm->spec = old;
		return werr_internal(err, r, "recording the VM's NICs"), r;
	}
	p->next = old;
	networks_sync(vm->d, NULL);
	return 0;
}

static void plug_fail(struct plug *p, struct werr *err)
{
	reply_error(p->reply, err);
	plug_free(p);
}

static void on_device_add(struct qmp *q, json_t *result, const struct qmp_error *e, void *ud)
{
	struct plug *p = ud;
	struct vm_rt *vm = vm_by_id(p->d, p->vm_id);
	struct werr err;
	char id[16];

	if (!vm) {
		werr_set(&err, -ENOENT, "not_found", "", "the VM is gone");
		plug_fail(p, &err);
		return;
	}
	if (e) {
		werr_set(&err, -EIO, "unavailable", "", "QEMU refused the NIC: %s", e->desc);
		snprintf(id, sizeof(id), "net-%s", p->nic.name);
		if (vm->qmp)
			qmp_execute(vm->qmp, "netdev_del", json_pack("{s:s}", "id", id), NULL, NULL);
		tap_down(vm, &p->nic);
		plug_fail(p, &err);
		return;
	}
	if (plug_commit(vm, p, &err) < 0) {
		plug_fail(p, &err);
		return;
	}
	log_info("%s: %s plugged in on network %s", vm->spec->name, p->nic.name, p->nic.network);
	events_emit_action(p->d, vm->spec->name, "nic-add", p->nic.name, p->uid);
	reply_json(p->reply, 201, nic_json_of(vm, p->nic.name));
	plug_free(p);
}

static void on_netdev_add(struct qmp *q, json_t *result, const struct qmp_error *e, void *ud)
{
	struct plug *p = ud;
	struct vm_rt *vm = vm_by_id(p->d, p->vm_id);
	char dev[16], netdev[16], mac[18], port[16];
	struct netw *n = netw_find(p->d, p->nic.network);
	struct werr err;
	json_t *args;

	if (!vm || e || !vm->qmp) {
		werr_set(&err, -EIO, "unavailable", "", "QEMU refused the NIC's backend: %s",
			 e ? e->desc : "QEMU is gone");
		if (vm)
			tap_down(vm, &p->nic);
		plug_fail(p, &err);
		return;
	}
	snprintf(dev, sizeof(dev), "nic-%s", p->nic.name);
	snprintf(netdev, sizeof(netdev), "net-%s", p->nic.name);
	snprintf(port, sizeof(port), "nicport%u", vm_nic_index(&p->nic));
	args = json_pack("{s:s, s:s, s:s, s:s, s:s}", "driver",
			 p->nic.model == VM_NIC_E1000 ? "e1000" : "virtio-net-pci", "id", dev,
			 "netdev", netdev, "mac", net_mac_format(&p->nic.mac, mac), "bus", port);
	if (args && p->nic.model == VM_NIC_VIRTIO)
		json_object_set_new(args, "host_mtu",
				    json_integer(p->nic.mtu ? p->nic.mtu : n ? n->mtu : 1500));
	qmp_execute(vm->qmp, "device_add", args, on_device_add, p);
}

void daemon_nic_add(struct daemon *d, const struct caller *c, const char *name, json_t *body,
		    struct reply *r)
{
	struct vm_rt *vm = vm_find_or_reply(d, name, r);
	_cleanup_(json_decrefp) json_t *j = NULL;
	struct plug *p = NULL;
	struct vm_nic nic;
	struct werr err;
	char tap[NET_IFNAME_MAX + 1], netdev[16];
	uid_t uid;
	int k;

	if (!vm)
		return;
	if ((k = vm_rt_check_idle(vm, "add a NIC to", &err)) < 0)
		goto fail;
	if (vm->state != VM_STOPPED && vm->state != VM_RUNNING && vm->state != VM_PAUSED &&
	    vm->state != VM_CRASHED) {
		k = werr_set(&err, -EBUSY, "conflict", "",
			     "cannot add a NIC to %s while it is %s; NICs are added to running, "
			     "paused or stopped VMs",
			     name, vm_state_to_string(vm->state));
		goto fail;
	}
	if ((k = vm_nic_from_json(body, "", &nic, &err)) < 0)
		goto fail;
	if (vm->spec->n_nics >= VM_MAX_NICS) {
		k = werr_set(&err, -ENOSPC, "conflict", "", "%s has all %d NICs a VM can have", name,
			     VM_MAX_NICS);
		goto fail;
	}
	if (!nic.name[0])
		vm_nic_free_name(vm->spec, nic.name);
	for (size_t i = 0; i < vm->spec->n_nics; i++)
		if (strcmp(vm->spec->nics[i].name, nic.name) == 0) {
			k = werr_set(&err, -EEXIST, "conflict", "name", "%s already has a NIC named %s",
				     name, nic.name);
			goto fail;
		}
	j = vm_spec_to_json(vm->spec);
	if (!j || json_array_append_new(json_object_get(j, "nics"), vm_nic_to_json(&nic)) < 0) {
		k = werr_set(&err, -ENOMEM, "internal", "", "out of memory");
		goto fail;
	}
	p = calloc(1, sizeof(*p));
	if (!p) {
		k = werr_set(&err, -ENOMEM, "internal", "", "out of memory");
		goto fail;
	}
	*p = (struct plug){.d = d, .reply = r, .uid = (int)c->uid};
	snprintf(p->vm_id, sizeof(p->vm_id), "%s", vm->id);
	if ((k = vm_spec_load(j, &p->next, &err)) < 0)
		goto fail;
	if ((k = nics_prepare(d, p->next, vm, false, &err)) < 0) {
		/* Name the field as the client wrote it (the NIC itself). */
		char *dot = strchr(err.field, '.');
		if (dot)
			memmove(err.field, dot + 1, strlen(dot + 1) + 1);
		goto fail;
	}
	p->nic = p->next->nics[p->next->n_nics - 1];
	if (!vm_state_is_active(vm->state)) {
		if ((k = plug_commit(vm, p, &err)) < 0)
			goto fail;
		events_emit_action(d, name, "nic-add", p->nic.name, (int)c->uid);
		reply_json(r, 201, nic_json_of(vm, p->nic.name));
		plug_free(p);
		return;
	}
	if ((k = qemu_uid(vm, &uid)) < 0) {
		werr_set(&err, k, "unavailable", "", "the user %s does not exist", d->cfg.qemu_user);
		goto fail;
	}
	if ((k = tap_up(vm, &p->nic, uid, &err)) < 0)
		goto fail;
	net_tap_name(vm->id, vm_nic_index(&p->nic), tap);
	snprintf(netdev, sizeof(netdev), "net-%s", p->nic.name);
	k = qmp_execute(vm->qmp, "netdev_add",
			json_pack("{s:s, s:s, s:s, s:s, s:s}", "type", "tap", "id", netdev,
				  "ifname", tap, "script", "no", "downscript", "no"),
			on_netdev_add, p);
	if (k < 0) {
		tap_down(vm, &p->nic);
		werr_set(&err, k, "unavailable", "", "cannot reach QEMU of %s", name);
		goto fail;
	}
	return;
fail:
	if (p)
		plug_free(p);
	reply_error(r, &err);
}

/* Unplugging waits for the guest to let the device go (DEVICE_DELETED). */
static struct plug *unplug_pending(struct vm_rt *vm, struct plug *set, bool clear)
{
	static struct plug *pending[64];
	static char ids[64][33];

	for (size_t i = 0; i < ARRAY_SIZE(pending); i++) {
		if (set && !pending[i]) {
			pending[i] = set;
			snprintf(ids[i], sizeof(ids[i]), "%s", vm->id);
			return set;
		}
		if (!set && pending[i] && strcmp(ids[i], vm->id) == 0) {
			struct plug *p = pending[i];
			if (clear)
				pending[i] = NULL;
			return p;
		}
	}
	return NULL;
}

static void unplug_done(struct vm_rt *vm, struct plug *p)
{
	char netdev[16];
	struct werr err;

	unplug_pending(vm, NULL, true);
	snprintf(netdev, sizeof(netdev), "net-%s", p->nic.name);
	if (vm->qmp)
		qmp_execute(vm->qmp, "netdev_del", json_pack("{s:s}", "id", netdev), NULL, NULL);
	tap_down(vm, &p->nic);
	if (plug_commit(vm, p, &err) < 0) {
		plug_fail(p, &err);
		return;
	}
	netw_segments_gc(vm->d);
	log_info("%s: %s unplugged", vm->spec->name, p->nic.name);
	events_emit_action(p->d, vm->spec->name, "nic-remove", p->nic.name, p->uid);
	reply_json(p->reply, 200, json_pack("{s:s, s:s, s:b}", "vm", vm->spec->name, "nic",
					    p->nic.name, "removed", 1));
	plug_free(p);
}

void nics_on_device_deleted(struct vm_rt *vm, const char *device)
{
	struct plug *p = unplug_pending(vm, NULL, false);
	char dev[16];

	if (!p || !device)
		return;
	snprintf(dev, sizeof(dev), "nic-%s", p->nic.name);
	if (strcmp(dev, device) == 0)
		unplug_done(vm, p);
}

static void on_unplug_timeout(evutil_socket_t fd, short what, void *ud)
{
	struct plug *p = ud;
	struct vm_rt *vm = vm_by_id(p->d, p->vm_id);
	struct werr err;

	if (vm)
		unplug_pending(vm, NULL, true);
	werr_set(&err, -ETIMEDOUT, "timeout", "",
		 "the guest did not release %s within %d s; it stays plugged in (the removal is "
		 "still requested)",
		 p->nic.name, UNPLUG_TIMEOUT_S);
	plug_fail(p, &err);
}

static void on_device_del(struct qmp *q, json_t *result, const struct qmp_error *e, void *ud)
{
	struct plug *p = ud;
	struct vm_rt *vm = vm_by_id(p->d, p->vm_id);
	struct werr err;

	if (e) {
		if (vm)
			unplug_pending(vm, NULL, true);
		werr_set(&err, -EIO, "unavailable", "", "QEMU cannot unplug %s: %s", p->nic.name,
			 e->desc);
		plug_fail(p, &err);
	}
}

void daemon_nic_remove(struct daemon *d, const struct caller *c, const char *name,
		       const char *nic_name, struct reply *r)
{
	struct vm_rt *vm = vm_find_or_reply(d, name, r);
	_cleanup_(json_decrefp) json_t *j = NULL;
	struct plug *p = NULL;
	struct werr err;
	size_t idx = SIZE_MAX, i;
	json_t *e, *nics;
	char dev[16];
	struct timeval tv = {.tv_sec = UNPLUG_TIMEOUT_S};
	int k;

	if (!vm)
		return;
	for (i = 0; i < vm->spec->n_nics; i++)
		if (strcmp(vm->spec->nics[i].name, nic_name) == 0)
			idx = i;
	if (idx == SIZE_MAX) {
		werr_set(&err, -ENOENT, "not_found", "nic", "%s has no NIC named '%.20s'", name,
			 nic_name);
		reply_error(r, &err);
		return;
	}
	if ((k = vm_rt_check_idle(vm, "remove a NIC of", &err)) < 0 ||
	    (vm_state_is_active(vm->state) && vm->state != VM_RUNNING &&
	     vm->state != VM_PAUSED &&
	     (k = werr_set(&err, -EBUSY, "conflict", "", "cannot remove a NIC of %s while it is %s",
			   name, vm_state_to_string(vm->state))) < 0) ||
	    (vm->state == VM_SUSPENDED &&
	     (k = werr_set(&err, -EBUSY, "conflict", "",
			   "cannot remove a NIC of %s while it is suspended: the saved guest "
			   "holds it; start the VM first",
			   name)) < 0) ||
	    (unplug_pending(vm, NULL, false) &&
	     (k = werr_set(&err, -EBUSY, "conflict", "", "%s is already unplugging a NIC",
			   name)) < 0)) {
		reply_error(r, &err);
		return;
	}
	j = vm_spec_to_json(vm->spec);
	nics = json_object_get(j, "nics");
	json_array_foreach(nics, i, e)
		if (strcmp(json_string_value(json_object_get(e, "name")), nic_name) == 0) {
			json_array_remove(nics, i);
			break;
		}
	p = calloc(1, sizeof(*p));
	if (!p || vm_spec_load(j, &p->next, &err) < 0) {
		free(p);
		werr_internal(&err, -ENOMEM, "removing the NIC");
		reply_error(r, &err);
		return;
	}
	p->d = d;
	p->reply = r;
	p->uid = (int)c->uid;
	p->nic = vm->spec->nics[idx];
	snprintf(p->vm_id, sizeof(p->vm_id), "%s", vm->id);
	if (!vm_state_is_active(vm->state)) {
		if (plug_commit(vm, p, &err) < 0) {
			plug_fail(p, &err);
			return;
		}
		events_emit_action(d, name, "nic-remove", nic_name, (int)c->uid);
		reply_json(r, 200, json_pack("{s:s, s:s, s:b}", "vm", name, "nic", nic_name,
					     "removed", 1));
		plug_free(p);
		return;
	}
	snprintf(dev, sizeof(dev), "nic-%s", nic_name);
	p->timer = evtimer_new(d->base, on_unplug_timeout, p);
	if (!p->timer || !unplug_pending(vm, p, false) ||
	    qmp_execute(vm->qmp, "device_del", json_pack("{s:s}", "id", dev), on_device_del, p) <
		    0) {
		unplug_pending(vm, NULL, true);
		werr_set(&err, -EIO, "unavailable", "", "cannot reach QEMU of %s", name);
		plug_fail(p, &err);
		return;
	}
	evtimer_add(p->timer, &tv);
}

/* ---- addresses ------------------------------------------------------------ */

/* IPv4 addresses the guest agent reports for the interface with mac. */
static json_t *agent_addresses(json_t *ifaces, const char *mac)
{
	json_t *out = json_array(), *ifc, *a;
	size_t i, k;

	json_array_foreach(ifaces, i, ifc) {
		const char *hw = json_string_value(json_object_get(ifc, "hardware-address"));

		if (!hw || strcasecmp(hw, mac) != 0)
			continue;
		json_array_foreach(json_object_get(ifc, "ip-addresses"), k, a) {
			const char *type = json_string_value(json_object_get(a, "ip-address-type"));
			json_t *ip = json_object_get(a, "ip-address");

			if (type && strcmp(type, "ipv4") == 0 && json_is_string(ip))
				json_array_append(out, ip);
		}
	}
	return out;
}

/* Addresses dnsmasq leased to mac on network n (file read per call:
 * small, and only networks with NICs are asked). */
static json_t *lease_addresses(struct daemon *d, const struct netw *n, const struct net_mac *m)
{
	char path[PATH_MAX], ip[16];
	_cleanup_free_ char *text = NULL;
	struct net_lease *leases = NULL;
	size_t count = 0, len = 0;
	json_t *out = json_array();

	snprintf(path, sizeof(path), "%s/networks/%s/leases", d->cfg.state_dir, n->name);
	{
		_cleanup_fclose_ FILE *f = fopen(path, "re");
		if (!f || getdelim(&text, &len, '\0', f) < 0)
			return out;
	}
	if (net_leases_parse(text, &leases, &count) == 0)
		for (size_t i = 0; i < count; i++)
			if (net_mac_equal(&leases[i].mac, m))
				json_array_append_new(out, json_string(net_ip_format(leases[i].ip, ip)));
	free(leases);
	return out;
}

json_t *nics_to_json(const struct vm_rt *vm, json_t *agent_ifaces)
{
	json_t *list = json_array();

	for (size_t i = 0; list && i < vm->spec->n_nics; i++) {
		const struct vm_nic *nic = &vm->spec->nics[i];
		struct netw *n = netw_find(vm->d, nic->network);
		json_t *j = vm_nic_to_json(nic), *addrs = NULL;
		char mac[18], tap[NET_IFNAME_MAX + 1];
		const char *from = NULL;

		net_mac_format(&nic->mac, mac);
		if (agent_ifaces) {
			addrs = agent_addresses(agent_ifaces, mac);
			from = "agent";
		} else if (n && n->dhcp && vm_state_is_active(vm->state)) {
			addrs = lease_addresses(vm->d, n, &nic->mac);
			from = "leases";
		}
		if (!addrs)
			addrs = json_array();
		if (json_array_size(addrs) == 0)
			from = NULL;
		json_object_set_new(j, "tap",
				    vm_state_is_active(vm->state)
					    ? json_string(net_tap_name(vm->id, vm_nic_index(nic), tap))
					    : json_null());
		json_object_set_new(j, "addresses", addrs);
		json_object_set_new(j, "addresses_from", from ? json_string(from) : json_null());
		json_array_append_new(list, j);
	}
	return list;
}

struct vm_get {
	struct daemon *d;
	char id[33];
	struct reply *reply;
};

static void on_agent_ifaces(void *ud, int err, const char *message, json_t *result)
{
	struct vm_get *g = ud;
	struct vm_rt *vm = vm_by_id(g->d, g->id);
	struct werr e;

	if (!vm) {
		werr_set(&e, -ENOENT, "not_found", "name", "the VM was deleted meanwhile");
		reply_error(g->reply, &e);
	} else {
		json_t *j = vm_rt_to_json(vm);
		if (j && err == 0 && json_is_array(result))
			json_object_set_new(j, "nics", nics_to_json(vm, result));
		reply_json(g->reply, 200, j);
	}
	free(g);
}

void nics_get_vm(struct vm_rt *vm, struct reply *r)
{
	struct vm_get *g;
	char qga[PATH_MAX];

	if (vm->spec->n_nics == 0 || vm->state != VM_RUNNING || vm->telling ||
	    vm_rt_dir(vm, "qga.sock", qga, sizeof(qga)) < 0 || !(g = calloc(1, sizeof(*g)))) {
		reply_json(r, 200, vm_rt_to_json(vm));
		return;
	}
	*g = (struct vm_get){.d = vm->d, .reply = r};
	snprintf(g->id, sizeof(g->id), "%s", vm->id);
	if (qga_command(vm->d->base, qga, "guest-network-get-interfaces", NULL, false,
			AGENT_IFACES_MS, on_agent_ifaces, g) < 0) {
		free(g);
		reply_json(r, 200, vm_rt_to_json(vm));
	}
}
