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
#define GUEST_IFACES_MAX_AGE_MS 5000
#define UNPLUG_TIMEOUT_S 30

/* A removal waiting for the guest to let the device go (DEVICE_DELETED). */
struct nic_unplug {
	char nic[8];
	struct reply *reply; /* NULL once answered (timeout) */
	struct event *timer;
	int uid;
};

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

/* The MAC dnsmasq still holds an unexpired lease of ip for, if not m:
 * a removed NIC's address stays leased until its lease runs out, and
 * dnsmasq will not give it to another MAC before. */
static const struct net_mac *leased_to_other(struct daemon *d, struct netw *n, uint32_t ip,
					     const struct net_mac *m)
{
	int64_t now = (int64_t)(now_realtime_ms() / 1000);

	netw_leases_read(d, n);
	for (size_t i = 0; i < n->n_leases; i++)
		if (n->leases[i].ip == ip && !net_mac_equal(&n->leases[i].mac, m) &&
		    (n->leases[i].expiry == 0 || n->leases[i].expiry > now))
			return &n->leases[i].mac;
	return NULL;
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
	const struct net_mac *holder;
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
		if ((holder = leased_to_other(d, n, nic->ip, &nic->mac)))
			return werr_set(err, -EEXIST, "conflict", f,
					"%s %s is still leased to %s (a NIC removed lately) until "
					"its lease runs out; give another address or leave ip out",
					f, ip, net_mac_format(holder, mac));
		return 0;
	}
	if (nic->ip && net_cidr_contains(&n->subnet, nic->ip))
		return 0; /* chosen before */
	for (uint32_t cand = n->subnet.addr + 1; cand < net_cidr_broadcast(&n->subnet); cand++) {
		if (cand == n->gateway || ip_in_spec(spec, i, cand) ||
		    other_nics_any(d, self, spec, same_ip, &cand, &who) ||
		    leased_to_other(d, n, cand, &nic->mac))
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
	char dev[16];

	/* A NIC QEMU was unplugging is gone with QEMU. */
	if (vm->unplug) {
		snprintf(dev, sizeof(dev), "nic-%s", vm->unplug->nic);
		nics_on_device_deleted(vm, dev);
	}
	json_decref(TAKE_PTR(vm->guest_ifaces));
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
	int uid;
};

static void plug_free(struct plug *p)
{
	vm_spec_free(p->next);
	free(p);
}

static json_t *nic_json_of(const struct vm_rt *vm, const char *name)
{
	json_t *all = nics_to_json(vm), *e, *found = NULL;
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
	struct vm_rt *vm = vm_rt_find_id(p->d, p->vm_id);
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
	struct vm_rt *vm = vm_rt_find_id(p->d, p->vm_id);
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

/* A spec of vm without the NIC called name; NULL with err on failure. */
static struct vm_spec *spec_without(const struct vm_rt *vm, const char *name, struct werr *err)
{
	_cleanup_(json_decrefp) json_t *j = vm_spec_to_json(vm->spec);
	json_t *nics = json_object_get(j, "nics"), *e;
	struct vm_spec *next = NULL;
	size_t i;

	json_array_foreach(nics, i, e)
		if (strcmp(json_string_value(json_object_get(e, "name")), name) == 0) {
			json_array_remove(nics, i);
			break;
		}
	if (!j || vm_spec_load(j, &next, err) < 0) {
		werr_internal(err, -ENOMEM, "removing the NIC");
		return NULL;
	}
	return next;
}

/* The NIC is gone from QEMU (or QEMU is gone): its backend and tap go,
 * and the spec without it is recorded. */
static int nic_drop(struct vm_rt *vm, const struct vm_nic *nic, struct werr *err)
{
	struct plug p = {.d = vm->d, .nic = *nic};
	char netdev[16];
	int r;

	p.next = spec_without(vm, nic->name, err);
	if (!p.next)
		return -ENOMEM;
	snprintf(netdev, sizeof(netdev), "net-%s", nic->name);
	if (vm->qmp)
		qmp_execute(vm->qmp, "netdev_del", json_pack("{s:s}", "id", netdev), NULL, NULL);
	tap_down(vm, nic);
	r = plug_commit(vm, &p, err);
	vm_spec_free(p.next);
	netw_segments_gc(vm->d);
	return r;
}

static void unplug_free(struct vm_rt *vm)
{
	if (!vm->unplug)
		return;
	if (vm->unplug->timer)
		event_free(vm->unplug->timer);
	free(TAKE_PTR(vm->unplug));
}

void nics_vm_free(struct vm_rt *vm)
{
	unplug_free(vm);
	json_decref(TAKE_PTR(vm->guest_ifaces));
}

/* Whoever waits for the removal of nic gets err or the answer. */
static void unplug_answer(struct vm_rt *vm, const char *nic, const struct werr *err)
{
	struct nic_unplug *u = vm->unplug;

	if (!u || strcmp(u->nic, nic) != 0)
		return;
	if (u->reply && err)
		reply_error(u->reply, err);
	else if (u->reply)
		reply_json(u->reply, 200, json_pack("{s:s, s:s, s:b}", "vm", vm->spec->name, "nic",
						    nic, "removed", 1));
	if (!err)
		events_emit_action(vm->d, vm->spec->name, "nic-remove", nic, u->uid);
	unplug_free(vm);
}

/* QEMU removed a device: when it is one of our NICs (unplugged at our
 * request, even after the request timed out), forget it. */
void nics_on_device_deleted(struct vm_rt *vm, const char *device)
{
	struct werr err;
	int r;

	for (size_t i = 0; device && i < vm->spec->n_nics; i++) {
		struct vm_nic nic = vm->spec->nics[i];
		char dev[16];

		snprintf(dev, sizeof(dev), "nic-%s", nic.name);
		if (strcmp(dev, device) != 0)
			continue;
		r = nic_drop(vm, &nic, &err);
		log_info("%s: %s unplugged", vm->spec->name, nic.name);
		unplug_answer(vm, nic.name, r < 0 ? &err : NULL);
		return;
	}
}

static void on_unplug_timeout(evutil_socket_t fd, short what, void *ud)
{
	struct vm_rt *vm = ud;
	struct werr err;

	werr_set(&err, -ETIMEDOUT, "timeout", "",
		 "the guest did not release %s within %d s; the removal stays requested and "
		 "happens when the guest lets the device go",
		 vm->unplug->nic, UNPLUG_TIMEOUT_S);
	reply_error(TAKE_PTR(vm->unplug->reply), &err);
}

static void on_device_del(struct qmp *q, json_t *result, const struct qmp_error *e, void *ud)
{
	struct vm_rt *vm = ud;
	struct werr err;

	if (e && vm->unplug) {
		werr_set(&err, -EIO, "unavailable", "", "QEMU cannot unplug %s: %s", vm->unplug->nic,
			 e->desc);
		unplug_answer(vm, vm->unplug->nic, &err);
	}
}

void daemon_nic_remove(struct daemon *d, const struct caller *c, const char *name,
		       const char *nic_name, struct reply *r)
{
	struct vm_rt *vm = vm_find_or_reply(d, name, r);
	struct timeval tv = {.tv_sec = UNPLUG_TIMEOUT_S};
	const struct vm_nic *nic = NULL;
	struct werr err;
	char dev[16];

	if (!vm)
		return;
	for (size_t i = 0; i < vm->spec->n_nics; i++)
		if (strcmp(vm->spec->nics[i].name, nic_name) == 0)
			nic = &vm->spec->nics[i];
	if (!nic) {
		werr_set(&err, -ENOENT, "not_found", "nic", "%s has no NIC named '%.20s'", name,
			 nic_name);
		goto fail;
	}
	if (vm_rt_check_idle(vm, "remove a NIC of", &err) < 0)
		goto fail;
	if (vm->state == VM_SUSPENDED || vm->state == VM_SUSPENDING ||
	    vm->state == VM_STARTING || vm->state == VM_STOPPING) {
		werr_set(&err, -EBUSY, "conflict", "",
			 "cannot remove a NIC of %s while it is %s%s", name,
			 vm_state_to_string(vm->state),
			 vm->state == VM_SUSPENDED ? " (the saved guest holds it; start it first)"
						   : "");
		goto fail;
	}
	if (vm->unplug) {
		werr_set(&err, -EBUSY, "conflict", "", "%s is already unplugging %s", name,
			 vm->unplug->nic);
		goto fail;
	}
	if (!vm_state_is_active(vm->state)) {
		struct vm_nic gone = *nic;

		if (nic_drop(vm, &gone, &err) < 0)
			goto fail;
		events_emit_action(d, name, "nic-remove", gone.name, (int)c->uid);
		reply_json(r, 200, json_pack("{s:s, s:s, s:b}", "vm", name, "nic", gone.name,
					     "removed", 1));
		return;
	}
	vm->unplug = calloc(1, sizeof(*vm->unplug));
	if (!vm->unplug || !(vm->unplug->timer = evtimer_new(d->base, on_unplug_timeout, vm))) {
		unplug_free(vm);
		werr_internal(&err, -ENOMEM, "unplugging the NIC");
		goto fail;
	}
	snprintf(vm->unplug->nic, sizeof(vm->unplug->nic), "%s", nic_name);
	vm->unplug->reply = r;
	vm->unplug->uid = (int)c->uid;
	snprintf(dev, sizeof(dev), "nic-%s", nic_name);
	if (!vm->qmp ||
	    qmp_execute(vm->qmp, "device_del", json_pack("{s:s}", "id", dev), on_device_del, vm) <
		    0) {
		vm->unplug->reply = NULL;
		unplug_free(vm);
		werr_set(&err, -EIO, "unavailable", "", "cannot reach QEMU of %s", name);
		goto fail;
	}
	evtimer_add(vm->unplug->timer, &tv);
	return;
fail:
	reply_error(r, &err);
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

/* Addresses dnsmasq leased to mac on network n. */
static json_t *lease_addresses(struct daemon *d, struct netw *n, const struct net_mac *m)
{
	json_t *out = json_array();
	char ip[16];

	netw_leases_read(d, n);
	for (size_t i = 0; i < n->n_leases; i++)
		if (net_mac_equal(&n->leases[i].mac, m))
			json_array_append_new(out, json_string(net_ip_format(n->leases[i].ip, ip)));
	return out;
}

json_t *nics_to_json(const struct vm_rt *vm)
{
	json_t *list = json_array();
	bool active = vm_state_is_active(vm->state);

	for (size_t i = 0; list && i < vm->spec->n_nics; i++) {
		const struct vm_nic *nic = &vm->spec->nics[i];
		struct netw *n = netw_find(vm->d, nic->network);
		json_t *j = vm_nic_to_json(nic), *addrs = NULL;
		char mac[18], tap[NET_IFNAME_MAX + 1];
		const char *from = NULL;

		net_mac_format(&nic->mac, mac);
		if (active && vm->guest_ifaces) {
			addrs = agent_addresses(vm->guest_ifaces, mac);
			from = "agent";
		} else if (active && n && n->dhcp) {
			addrs = lease_addresses(vm->d, n, &nic->mac);
			from = "leases";
		}
		if (!addrs)
			addrs = json_array();
		if (json_array_size(addrs) == 0)
			from = NULL;
		json_object_set_new(j, "tap",
				    active ? json_string(net_tap_name(vm->id, vm_nic_index(nic), tap))
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
	struct vm_rt *vm = vm_rt_find_id(g->d, g->id);
	struct werr e;

	if (!vm) {
		werr_set(&e, -ENOENT, "not_found", "name", "the VM was deleted meanwhile");
		reply_error(g->reply, &e);
		free(g);
		return;
	}
	vm->asking_ifaces = false;
	if (err == 0 && json_is_array(result) && vm_state_is_active(vm->state)) {
		json_decref(vm->guest_ifaces);
		vm->guest_ifaces = json_incref(result);
		vm->guest_ifaces_ms = (int64_t)now_monotonic_ns() / 1000000;
	}
	reply_json(g->reply, 200, vm_rt_to_json(vm));
	free(g);
}

void nics_get_vm(struct vm_rt *vm, struct reply *r)
{
	int64_t now_ms = (int64_t)now_monotonic_ns() / 1000000;
	struct vm_get *g;
	char qga[PATH_MAX];

	/* The agent is asked at most every GUEST_IFACES_MAX_AGE_MS and one
	 * request at a time; pollers of a VM get what was last heard (or
	 * the leases) meanwhile. */
	if (vm->spec->n_nics == 0 || vm->state != VM_RUNNING || vm->telling || vm->asking_ifaces ||
	    (vm->guest_ifaces && now_ms - vm->guest_ifaces_ms < GUEST_IFACES_MAX_AGE_MS) ||
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
		return;
	}
	vm->asking_ifaces = true;
}
