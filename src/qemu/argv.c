/*
 * argv: QEMU's command line from a machine description.
 *
 * The result depends on nothing but the description: no probing of the
 * host, no defaults read from the environment, no user config files
 * (-no-user-config, -nodefaults). That makes it a pure function, tested
 * with golden files, and means a VM started again after a daemon restart
 * gets the same hardware it had.
 *
 * Option values that QEMU splits on commas get their commas doubled, the
 * QEMU escape, so a path can never smuggle in an extra option.
 */
#include <stdarg.h>
#include <string.h>

#include "qemu/qemu.h"
#include "util/util.h"

#define MIB (1024ULL * 1024ULL)

/* q35 over pc: both boot the reference guest in about the same time under
 * TCG (about 3 s each, measured); q35 has PCIe, which later hot-plug and
 * passthrough need. */
#define MACHINE_TYPE "q35"

/* Accumulates arguments; the first failure sticks, so the building code
 * reads as a plain list instead of a ladder of error checks. */
struct args {
	char **v;
	int err;
};

static void add(struct args *a, const char *s)
{
	if (a->err == 0)
		a->err = strv_push(&a->v, s);
}

static void addf(struct args *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void addf(struct args *a, const char *fmt, ...)
{
	va_list ap;
	char *s;

	if (a->err != 0)
		return;
	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		a->err = -ENOMEM;
	va_end(ap);
	if (a->err == 0) {
		add(a, s);
		free(s);
	}
}

/* A copy of s with every ',' doubled, for QemuOpts and keyval values;
 * NULL (and the builder failed) when out of memory. */
static char *escape(struct args *a, const char *s)
{
	size_t commas = 0;
	char *out, *p;

	for (const char *c = s; *c; c++)
		commas += *c == ',';
	out = malloc(strlen(s) + commas + 1);
	if (!out) {
		a->err = a->err ? a->err : -ENOMEM;
		return NULL;
	}
	p = out;
	for (const char *c = s; *c; c++) {
		*p++ = *c;
		if (*c == ',')
			*p++ = ',';
	}
	*p = '\0';
	return out;
}

static bool is_hex_id(const char *s)
{
	if (!s || strlen(s) != 32)
		return false;
	for (; *s; s++)
		if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
			return false;
	return true;
}

/* Disk ids end up in node and device names, where QEMU allows only a
 * restricted alphabet. The vm layer already enforces this; checked again
 * because a bad id would only fail inside QEMU, long after we returned. */
static bool is_disk_id(const char *s)
{
	if (!s || !*s || strlen(s) > 32)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '-'))
			return false;
	return true;
}

static int validate(const char *binary, const struct qemu_machine *m)
{
	if (!binary || !*binary || !is_hex_id(m->vm_id) || !m->name || !*m->name)
		return -EINVAL;
	if (m->cpus == 0 || m->memory == 0 || m->memory % MIB != 0)
		return -EINVAL;
	if (!m->qmp_path || !m->qga_path || !m->pid_path)
		return -EINVAL;
	if (m->n_disks > 0 && !m->disks)
		return -EINVAL;
	for (size_t i = 0; i < m->n_disks; i++) {
		if (!is_disk_id(m->disks[i].id) || !m->disks[i].path)
			return -EINVAL;
		for (size_t j = 0; j < i; j++)
			if (strcmp(m->disks[i].id, m->disks[j].id) == 0)
				return -EINVAL;
	}
	for (size_t i = 0; i < m->n_nics; i++) {
		const struct qemu_nic *n = &m->nics[i];

		if (!n->id || !is_disk_id(n->id) || n->port >= QEMU_NIC_PORTS || !n->tap ||
		    !is_disk_id(n->tap) || !n->mac || strspn(n->mac, "0123456789abcdef:") != 17 ||
		    n->mac[17] || !n->model)
			return -EINVAL;
	}
	/* An initrd or command line without a kernel would be silently
	 * dropped; refuse instead so the caller notices. */
	if (!m->kernel && (m->initrd || m->cmdline))
		return -EINVAL;
	return 0;
}

/* QEMU listens on every socket, so it never waits for the daemon and the
 * daemon can connect again after a restart. */
static void add_socket_chardev(struct args *a, const char *id, const char *path)
{
	_cleanup_free_ char *p = escape(a, path);

	if (!p)
		return;
	add(a, "-chardev");
	addf(a, "socket,id=%s,path=%s,server=on,wait=off", id, p);
}

static void add_disk(struct args *a, const struct qemu_disk *d, bool boot)
{
	_cleanup_free_ char *p = escape(a, d->path);

	if (!p)
		return;
	/* A qcow2 format node over a file protocol node; both read-only for a
	 * read-only disk, so QEMU takes only a shared lock on the image.
	 * discard=unmap hands freed clusters (a deleted snapshot, a guest's
	 * TRIM) back to the host filesystem. */
	add(a, "-blockdev");
	addf(a,
	     "driver=qcow2,node-name=fmt-%s,read-only=%s,discard=unmap,"
	     "file.driver=file,file.filename=%s,file.node-name=file-%s,file.read-only=%s,"
	     "file.discard=unmap",
	     d->id, d->readonly ? "on" : "off", p, d->id, d->readonly ? "on" : "off");
	add(a, "-device");
	addf(a, "virtio-blk-pci,drive=fmt-%s,id=disk-%s%s", d->id, d->id,
	     boot ? ",bootindex=0" : "");
}

static void add_machine(struct args *a, const struct qemu_machine *m)
{
	_cleanup_free_ char *name = escape(a, m->name);
	const char *id = m->vm_id;

	if (!name)
		return;
	/* debug-threads names QEMU's threads, so top -H shows which vCPU
	 * thread belongs to which VM. */
	add(a, "-name");
	addf(a, "%s,debug-threads=on", name);
	/* The id doubles as the SMBIOS UUID; that also puts it on the
	 * command line, where proc_cmdline_has_arg finds it on re-attach. */
	add(a, "-uuid");
	addf(a, "%.8s-%.4s-%.4s-%.4s-%.12s", id, id + 8, id + 12, id + 16, id + 20);
	add(a, "-machine");
	add(a, MACHINE_TYPE);
	add(a, "-accel");
	if (m->accel == ACCEL_KVM) {
		add(a, "kvm");
		add(a, "-cpu");
		add(a, "host");
	} else {
		/* One host thread per vCPU instead of all vCPUs on one. */
		if (m->tb_size_mib)
			addf(a, "tcg,thread=multi,tb-size=%u", m->tb_size_mib);
		else
			add(a, "tcg,thread=multi");
	}
	add(a, "-smp");
	addf(a, "%u", m->cpus);
	add(a, "-m");
	addf(a, "%lluM", (unsigned long long)(m->memory / MIB));
	/* No implicit devices, no config from /etc, no window: the guest sees
	 * exactly what is listed here. */
	add(a, "-nodefaults");
	add(a, "-no-user-config");
	add(a, "-display");
	add(a, "none");
	/* QEMU's own log is kept for crash reports; timestamps make it useful. */
	add(a, "-msg");
	add(a, "timestamp=on");
}

static void add_control(struct args *a, const struct qemu_machine *m)
{
	add(a, "-pidfile");
	add(a, m->pid_path);
	add_socket_chardev(a, "qmp", m->qmp_path);
	add(a, "-mon");
	add(a, "chardev=qmp,mode=control");
}

static void add_boot(struct args *a, const struct qemu_machine *m)
{
	if (!m->kernel)
		return; /* firmware boot: the first disk carries bootindex=0 */
	add(a, "-kernel");
	add(a, m->kernel);
	if (m->initrd) {
		add(a, "-initrd");
		add(a, m->initrd);
	}
	if (m->cmdline) {
		add(a, "-append");
		add(a, m->cmdline);
	}
}

static void add_nic(struct args *a, const struct qemu_nic *n)
{
	add(a, "-netdev");
	addf(a, "tap,id=net-%s,ifname=%s,script=no,downscript=no", n->id, n->tap);
	add(a, "-device");
	if (strcmp(n->model, "e1000") == 0)
		addf(a, "e1000,netdev=net-%s,id=nic-%s,mac=%s,bus=nicport%u", n->id, n->id, n->mac,
		     n->port);
	else if (n->mtu)
		addf(a, "virtio-net-pci,netdev=net-%s,id=nic-%s,mac=%s,bus=nicport%u,host_mtu=%u",
		     n->id, n->id, n->mac, n->port, n->mtu);
	else
		addf(a, "virtio-net-pci,netdev=net-%s,id=nic-%s,mac=%s,bus=nicport%u", n->id, n->id,
		     n->mac, n->port);
}

static void add_devices(struct args *a, const struct qemu_machine *m)
{
	for (size_t i = 0; i < m->n_disks; i++)
		add_disk(a, &m->disks[i], !m->kernel && i == 0);
	/* The ports are the eight functions of one slot, so they take one
	 * slot of the root bus however many NICs come and go. */
	for (unsigned i = 0; i < QEMU_NIC_PORTS; i++) {
		add(a, "-device");
		addf(a, "pcie-root-port,id=nicport%u,bus=pcie.0,chassis=%u,addr=0x10.%u%s", i,
		     i + 1, i, i == 0 ? ",multifunction=on" : "");
	}
	for (size_t i = 0; i < m->n_nics; i++)
		add_nic(a, &m->nics[i]);
	if (m->console_path) {
		add_socket_chardev(a, "serial0", m->console_path);
		add(a, "-serial");
		add(a, "chardev:serial0");
	}
	/* The agent's port must carry the exact name qemu-ga looks for. */
	add(a, "-device");
	add(a, "virtio-serial-pci,id=vserial0");
	add_socket_chardev(a, "qga0", m->qga_path);
	add(a, "-device");
	add(a, "virtserialport,bus=vserial0.0,chardev=qga0,name=org.qemu.guest_agent.0");
	/* Without an entropy source guests can stall at boot. */
	add(a, "-device");
	add(a, "virtio-rng-pci");
}

int qemu_argv_build(const char *binary, const struct qemu_machine *m, char ***ret_argv)
{
	struct args a = {0};
	int r;

	r = validate(binary, m);
	if (r < 0)
		return r;

	add(&a, binary);
	add_machine(&a, m);
	add_control(&a, m);
	add_boot(&a, m);
	add_devices(&a, m);
	if (m->sandbox) {
		add(&a, "-sandbox");
		add(&a, "on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny");
	}
	if (m->incoming) {
		add(&a, "-incoming");
		add(&a, m->incoming);
	}
	if (m->start_paused)
		add(&a, "-S");
	if (a.err < 0) {
		strv_free(a.v);
		return a.err;
	}
	*ret_argv = a.v;
	return 0;
}
