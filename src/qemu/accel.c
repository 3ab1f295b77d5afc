/*
 * accel: decide between KVM and TCG.
 *
 * The existence of /dev/kvm proves little: on nested hosts it may be a
 * paravirtual implementation under which real guests run thousands of
 * times slower than under TCG (QEMU then appears to hang at boot). So the
 * probe runs a tiny real-mode guest through the raw KVM API and only picks
 * KVM when that guest finishes correctly within a time bound. The guest
 * does the three things a booting kernel does a lot of: touches fresh
 * pages (second-level page faults), exits to userspace for port I/O, and
 * runs a tight loop. On hardware it needs a few milliseconds in all.
 *
 * The run happens in a forked child so that a hung KVM_RUN cannot hang
 * the caller: the parent waits on a pipe with a deadline and kills the
 * child when it passes.
 */
#include <fcntl.h>
#include <linux/kvm.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "qemu/qemu.h"
#include "util/util.h"

#define GUEST_MEM_SIZE (2u << 20)
#define GUEST_LOAD_ADDR 0x1000u
#define PORT_TICK 0x11
#define PORT_DONE 0x10
#define DONE_MAGIC 0x42
#define TOUCH_PAGES 256
#define IO_EXITS 1000

/*
 * Real-mode code, loaded at 0x1000 with CS=0:
 *
 *   mov ax, 0x1000          ; first segment to touch (linear 0x10000)
 *   mov cx, 256             ; 256 pages
 * t: mov es, ax
 *   mov byte [es:0], 1      ; first write to a fresh 4 KiB page
 *   add ax, 0x100           ; next page
 *   loop t
 *   mov cx, 1000
 * i: mov al, 1
 *   out 0x11, al            ; exit to userspace
 *   loop i
 *   mov ecx, 1000000
 * s: dec ecx
 *   jnz s
 *   mov al, 0x42
 *   out 0x10, al            ; "done", checked by the host side
 *   hlt
 */
static const uint8_t probe_code[] = {
	0xB8, 0x00, 0x10,                   /* mov ax, 0x1000 */
	0xB9, 0x00, 0x01,                   /* mov cx, 256 */
	0x8E, 0xC0,                         /* t: mov es, ax */
	0x26, 0xC6, 0x06, 0x00, 0x00, 0x01, /* mov byte [es:0], 1 */
	0x05, 0x00, 0x01,                   /* add ax, 0x100 */
	0xE2, 0xF3,                         /* loop t */
	0xB9, 0xE8, 0x03,                   /* mov cx, 1000 */
	0xB0, 0x01,                         /* i: mov al, 1 */
	0xE6, PORT_TICK,                    /* out 0x11, al */
	0xE2, 0xFA,                         /* loop i */
	0x66, 0xB9, 0x40, 0x42, 0x0F, 0x00, /* mov ecx, 1000000 */
	0x66, 0x49,                         /* s: dec ecx */
	0x75, 0xFC,                         /* jnz s */
	0xB0, DONE_MAGIC,                   /* mov al, 0x42 */
	0xE6, PORT_DONE,                    /* out 0x10, al */
	0xF4,                               /* hlt */
};

/* What the child reports through the pipe. */
struct probe_report {
	int api_version;
	int err;
	uint64_t run_ns;
	char detail[128];
};

static int fail(struct probe_report *rep, int err, const char *what)
{
	rep->err = err;
	snprintf(rep->detail, sizeof(rep->detail), "%s: %s", what, strerror(-err));
	return err;
}

/* Runs in the child. Returns 0 when the guest did exactly what it should. */
static int probe_run_guest(int kvm, struct probe_report *rep)
{
	_cleanup_close_ int vm = -1, vcpu = -1;
	struct kvm_userspace_memory_region region;
	struct kvm_sregs sregs;
	struct kvm_regs regs;
	struct kvm_run *run;
	unsigned ticks = 0;
	bool done = false;
	uint8_t *mem;
	int mmap_size;

	vm = ioctl(kvm, KVM_CREATE_VM, 0UL);
	if (vm < 0)
		return fail(rep, -errno, "KVM_CREATE_VM");
	mem = mmap(NULL, GUEST_MEM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1,
		   0);
	if (mem == MAP_FAILED)
		return fail(rep, -errno, "mmap guest memory");
	memcpy(mem + GUEST_LOAD_ADDR, probe_code, sizeof(probe_code));
	region = (struct kvm_userspace_memory_region){
		.slot = 0,
		.guest_phys_addr = 0,
		.memory_size = GUEST_MEM_SIZE,
		.userspace_addr = (uint64_t)(uintptr_t)mem,
	};
	if (ioctl(vm, KVM_SET_USER_MEMORY_REGION, &region) < 0)
		return fail(rep, -errno, "KVM_SET_USER_MEMORY_REGION");
	vcpu = ioctl(vm, KVM_CREATE_VCPU, 0UL);
	if (vcpu < 0)
		return fail(rep, -errno, "KVM_CREATE_VCPU");
	mmap_size = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0UL);
	if (mmap_size < (int)sizeof(*run))
		return fail(rep, mmap_size < 0 ? -errno : -EINVAL, "KVM_GET_VCPU_MMAP_SIZE");
	run = mmap(NULL, (size_t)mmap_size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0);
	if (run == MAP_FAILED)
		return fail(rep, -errno, "mmap kvm_run");
	if (ioctl(vcpu, KVM_GET_SREGS, &sregs) < 0)
		return fail(rep, -errno, "KVM_GET_SREGS");
	sregs.cs.base = 0;
	sregs.cs.selector = 0;
	if (ioctl(vcpu, KVM_SET_SREGS, &sregs) < 0)
		return fail(rep, -errno, "KVM_SET_SREGS");
	memset(&regs, 0, sizeof(regs));
	regs.rip = GUEST_LOAD_ADDR;
	regs.rflags = 0x2;
	if (ioctl(vcpu, KVM_SET_REGS, &regs) < 0)
		return fail(rep, -errno, "KVM_SET_REGS");

	uint64_t start = now_monotonic_ns();
	for (;;) {
		if (ioctl(vcpu, KVM_RUN, 0UL) < 0) {
			if (errno == EINTR)
				continue;
			return fail(rep, -errno, "KVM_RUN");
		}
		if (run->exit_reason == KVM_EXIT_HLT)
			break;
		if (run->exit_reason != KVM_EXIT_IO || run->io.direction != KVM_EXIT_IO_OUT ||
		    run->io.size != 1) {
			rep->err = -EIO;
			snprintf(rep->detail, sizeof(rep->detail), "unexpected exit reason %u",
				 run->exit_reason);
			return rep->err;
		}
		uint8_t val = *((uint8_t *)run + run->io.data_offset);
		if (run->io.port == PORT_TICK)
			ticks++;
		else if (run->io.port == PORT_DONE && val == DONE_MAGIC)
			done = true;
	}
	rep->run_ns = now_monotonic_ns() - start;

	/* Check that the guest really did the work: every page written, every exit seen. */
	unsigned touched = 0;
	for (unsigned p = 0; p < TOUCH_PAGES; p++)
		touched += mem[0x10000u + p * 0x1000u] == 1;
	if (!done || ticks != IO_EXITS || touched != TOUCH_PAGES) {
		rep->err = -EIO;
		snprintf(rep->detail, sizeof(rep->detail),
			 "test guest misbehaved (done=%d, %u/%d exits, %u/%d pages)", done, ticks,
			 IO_EXITS, touched, TOUCH_PAGES);
		return rep->err;
	}
	return 0;
}

static void probe_child(int kvm, int wfd)
{
	struct probe_report rep = {.api_version = -1};

	rep.api_version = ioctl(kvm, KVM_GET_API_VERSION, 0UL);
	if (rep.api_version < 0)
		fail(&rep, -errno, "KVM_GET_API_VERSION");
	else if (rep.api_version == KVM_API_VERSION)
		probe_run_guest(kvm, &rep);
	if (write(wfd, &rep, sizeof(rep)) != (ssize_t)sizeof(rep))
		_exit(1);
	_exit(0);
}

void accel_probe(const char *dev_path, uint64_t bound_ns, struct accel_facts *ret_facts)
{
	struct accel_facts f = {.api_version = -1, .bound_ns = bound_ns};
	struct probe_report rep;
	_cleanup_close_ int kvm = -1;
	int pipefd[2];
	struct stat st;
	pid_t pid;

	f.dev_present = stat(dev_path, &st) == 0;
	if (!f.dev_present)
		goto out;
	kvm = open(dev_path, O_RDWR | O_CLOEXEC);
	if (kvm < 0) {
		f.open_err = errno;
		goto out;
	}
	if (pipe2(pipefd, O_CLOEXEC) < 0) {
		f.run_err = -errno;
		snprintf(f.run_detail, sizeof(f.run_detail), "pipe: %s", strerror(errno));
		goto out;
	}
	pid = fork();
	if (pid < 0) {
		f.run_err = -errno;
		snprintf(f.run_detail, sizeof(f.run_detail), "fork: %s", strerror(errno));
		close(pipefd[0]);
		close(pipefd[1]);
		goto out;
	}
	if (pid == 0) {
		close(pipefd[0]);
		probe_child(kvm, pipefd[1]);
	}
	close(pipefd[1]);

	/* Wait for the report, at most bound_ns. The report arrives in one
	 * write of less than PIPE_BUF bytes, so it is read whole or not at all. */
	uint64_t deadline = now_monotonic_ns() + bound_ns;
	ssize_t n = -1;
	for (;;) {
		uint64_t now = now_monotonic_ns();
		struct pollfd pfd = {.fd = pipefd[0], .events = POLLIN};
		int left_ms = now >= deadline ? 0 : (int)((deadline - now + 999999) / 1000000);
		int r = poll(&pfd, 1, left_ms);
		if (r < 0 && errno == EINTR)
			continue;
		if (r > 0)
			n = read(pipefd[0], &rep, sizeof(rep));
		break;
	}
	close(pipefd[0]);
	if (n != (ssize_t)sizeof(rep)) {
		kill(pid, SIGKILL);
		f.run_err = n < 0 ? -ETIMEDOUT : -EIO;
		snprintf(f.run_detail, sizeof(f.run_detail), "%s",
			 n < 0 ? "timed out" : "probe process died");
	} else {
		f.api_version = rep.api_version;
		f.run_err = rep.err;
		f.run_ns = rep.run_ns;
		snprintf(f.run_detail, sizeof(f.run_detail), "%s", rep.detail);
	}
	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
out:
	*ret_facts = f;
}

void accel_decide(const struct accel_facts *f, enum accel_mode mode, struct accel_choice *ret)
{
	struct accel_choice c = {.kind = ACCEL_TCG};

	if (mode == ACCEL_MODE_TCG) {
		snprintf(c.reason, sizeof(c.reason), "TCG chosen by configuration (accel=tcg)");
	} else if (!f->dev_present) {
		snprintf(c.reason, sizeof(c.reason), "no KVM device on this host; using TCG");
	} else if (f->open_err) {
		snprintf(c.reason, sizeof(c.reason), "cannot open the KVM device: %s; using TCG",
			 strerror(f->open_err));
	} else if (f->api_version >= 0 && f->api_version != KVM_API_VERSION) {
		snprintf(c.reason, sizeof(c.reason),
			 "KVM API version %d is not the supported %d; using TCG", f->api_version,
			 KVM_API_VERSION);
	} else if (f->run_err == -ETIMEDOUT) {
		snprintf(c.reason, sizeof(c.reason),
			 "KVM is present but a test guest did not finish within %llu ms "
			 "(nested or paravirtual KVM runs guests far below hardware speed); using TCG",
			 (unsigned long long)(f->bound_ns / 1000000));
	} else if (f->run_err < 0) {
		snprintf(c.reason, sizeof(c.reason), "KVM is present but unusable (%s); using TCG",
			 f->run_detail[0] ? f->run_detail : strerror(-f->run_err));
	} else if (f->run_ns > f->bound_ns) {
		snprintf(c.reason, sizeof(c.reason),
			 "KVM ran a test guest in %.1f ms, over the %llu ms bound for hardware speed; "
			 "using TCG",
			 (double)f->run_ns / 1e6, (unsigned long long)(f->bound_ns / 1000000));
	} else {
		c.kind = ACCEL_KVM;
		snprintf(c.reason, sizeof(c.reason), "KVM ran a test guest in %.1f ms (bound %llu ms)",
			 (double)f->run_ns / 1e6, (unsigned long long)(f->bound_ns / 1000000));
	}
	if (mode == ACCEL_MODE_KVM && c.kind != ACCEL_KVM) {
		/* Forcing KVM on a host where it does not work would make every
		 * guest hang; say so and keep TCG. */
		char why[sizeof(c.reason)];
		snprintf(why, sizeof(why), "%s", c.reason);
		snprintf(c.reason, sizeof(c.reason), "accel=kvm requested but %.220s", why);
	}
	*ret = c;
}

const char *accel_kind_to_string(enum accel_kind kind)
{
	return kind == ACCEL_KVM ? "kvm" : "tcg";
}

int accel_mode_from_string(const char *s, enum accel_mode *ret_mode)
{
	if (strcmp(s, "auto") == 0)
		*ret_mode = ACCEL_MODE_AUTO;
	else if (strcmp(s, "kvm") == 0)
		*ret_mode = ACCEL_MODE_KVM;
	else if (strcmp(s, "tcg") == 0)
		*ret_mode = ACCEL_MODE_TCG;
	else
		return -EINVAL;
	return 0;
}
