/*
 * children: every process the daemon starts, and reaping.
 *
 * warrend is a child subreaper, so besides its own children (QEMU
 * processes, qemu-img runs) it also inherits their orphans. One SIGCHLD
 * handler, run from the event loop, reaps everything with waitpid(-1) and
 * hands each exit to whoever waits for it: a VM for its QEMU, a callback
 * for helper processes, nobody for stray orphans.
 */
#include <signal.h>
#include <string.h>
#include <sys/wait.h>

#include "daemon/internal.h"

struct child {
	struct child *next;
	pid_t pid;
	child_done_fn done;
	void *ud;
};

int child_run(struct daemon *d, char *const argv[], const char *log_path, child_done_fn done,
	      void *ud, pid_t *ret_pid)
{
	struct child *c = calloc(1, sizeof(*c));
	pid_t pid;
	int r;

	if (!c)
		return -ENOMEM;
	/* qemu_spawn gives the process its own session, stdio to a log and no
	 * inherited fds: what any helper process of ours wants too. */
	r = qemu_spawn(argv, log_path, &pid);
	if (r < 0) {
		free(c);
		return r;
	}
	c->pid = pid;
	if (ret_pid)
		*ret_pid = pid;
	c->done = done;
	c->ud = ud;
	c->next = d->children;
	d->children = c;
	return 0;
}

static void dispatch_exit(struct daemon *d, pid_t pid, int wstatus)
{
	for (struct child **p = &d->children; *p; p = &(*p)->next) {
		if ((*p)->pid != pid)
			continue;
		struct child *c = *p;
		*p = c->next;
		c->done(c->ud, wstatus);
		free(c);
		return;
	}
	for (struct vm_rt *vm = d->vms; vm; vm = vm->next) {
		if (vm->pid == pid && vm->is_child) {
			vm_rt_on_exit(vm, wstatus, true);
			return;
		}
	}
	log_debug("reaped process %d (not ours to report)", (int)pid);
}

static void on_sigchld(evutil_socket_t fd, short what, void *arg)
{
	struct daemon *d = arg;
	int wstatus;
	pid_t pid;

	while ((pid = waitpid(-1, &wstatus, WNOHANG)) > 0)
		dispatch_exit(d, pid, wstatus);
}

int children_init(struct daemon *d)
{
	d->sigchld_ev = evsignal_new(d->base, SIGCHLD, on_sigchld, d);
	if (!d->sigchld_ev || evsignal_add(d->sigchld_ev, NULL) < 0)
		return -ENOMEM;
	/* Exits that happened before the handler existed. */
	on_sigchld(-1, 0, d);
	return 0;
}

void children_fini(struct daemon *d)
{
	while (d->children) {
		struct child *c = d->children;
		d->children = c->next;
		free(c);
	}
	if (d->sigchld_ev)
		event_free(d->sigchld_ev);
	d->sigchld_ev = NULL;
}
