/*
 * console: the serial console of each running VM.
 *
 * QEMU serves the guest's serial port on a Unix socket; the daemon stays
 * connected to it for the VM's whole run, so every byte the guest prints
 * reaches the console log (capped at --console-log-max, 1 MiB by default, one rotation kept)
 * and every attached client. Client input goes the other way through the
 * same connection. Output printed while no daemon is running (between a
 * crash of warrend and its restart) is lost: QEMU drops serial output
 * when nobody is connected.
 */
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <event2/buffer.h>

#include "daemon/internal.h"

struct console {
	struct vm_rt *vm;
	struct bufferevent *bev;
	int log_fd;
	uint64_t log_size;
	struct daemon_sub *subs;
};

static int console_log_open(struct console *c)
{
	char path[PATH_MAX];
	struct stat st;
	int r = vm_rt_dir(c->vm, "console.log", path, sizeof(path));

	if (r < 0)
		return r;
	c->log_fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	if (c->log_fd < 0)
		return -errno;
	c->log_size = fstat(c->log_fd, &st) == 0 ? (uint64_t)st.st_size : 0;
	return 0;
}

static void console_log_rotate(struct console *c)
{
	char cur[PATH_MAX], old[PATH_MAX];

	if (vm_rt_dir(c->vm, "console.log", cur, sizeof(cur)) < 0 ||
	    vm_rt_dir(c->vm, "console.log.1", old, sizeof(old)) < 0)
		return;
	close(c->log_fd);
	c->log_fd = -1;
	if (rename(cur, old) < 0)
		log_warn("%s: cannot rotate console log: %s", c->vm->spec->name, strerror(errno));
	if (console_log_open(c) < 0)
		log_warn("%s: cannot reopen console log", c->vm->spec->name);
}

static void console_log_append(struct console *c, const uint8_t *buf, size_t len)
{
	uint64_t cap = c->vm->d->cfg.console_log_max;

	/* A chunk larger than the cap keeps only its tail. */
	if (len > cap) {
		buf += len - cap;
		len = (size_t)cap;
	}
	if (c->log_fd >= 0 && c->log_size + len > cap)
		console_log_rotate(c);
	if (c->log_fd < 0)
		return;
	ssize_t n = write(c->log_fd, buf, len);
	if (n > 0)
		c->log_size += (uint64_t)n;
}

static void on_console_read(struct bufferevent *bev, void *arg)
{
	struct console *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	uint8_t buf[4096];
	int n;

	while ((n = evbuffer_remove(in, buf, sizeof(buf))) > 0) {
		console_log_append(c, buf, (size_t)n);
		sub_list_write(&c->subs, NULL, buf, (size_t)n);
	}
}

static void console_teardown(struct console *c)
{
	sub_list_end_all(&c->subs);
	if (c->bev)
		bufferevent_free(c->bev);
	if (c->log_fd >= 0)
		close(c->log_fd);
	free(c);
}

static void on_console_event(struct bufferevent *bev, short what, void *arg)
{
	struct console *c = arg;

	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) {
		/* QEMU closed the port: it is exiting. Keep what is buffered. */
		on_console_read(bev, c);
		c->vm->con = NULL;
		console_teardown(c);
	}
}

int console_open(struct vm_rt *vm)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct console *c;
	int r;

	if (!vm->spec->serial || vm->con)
		return 0;
	r = vm_rt_dir(vm, "console.sock", sa.sun_path, sizeof(sa.sun_path));
	if (r < 0)
		return r;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->vm = vm;
	c->log_fd = -1;
	r = console_log_open(c);
	if (r < 0) {
		free(c);
		return r;
	}
	c->bev = bufferevent_socket_new(vm->d->base, -1, BEV_OPT_CLOSE_ON_FREE);
	if (!c->bev) {
		console_teardown(c);
		return -ENOMEM;
	}
	bufferevent_setcb(c->bev, on_console_read, NULL, on_console_event, c);
	if (bufferevent_socket_connect(c->bev, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		r = -errno ? -errno : -ECONNREFUSED;
		console_teardown(c);
		return r;
	}
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	vm->con = c;
	return 0;
}

void console_close(struct vm_rt *vm)
{
	if (!vm->con)
		return;
	on_console_read(vm->con->bev, vm->con);
	console_teardown(vm->con);
	vm->con = NULL;
}

static void console_unlink(struct daemon_sub *sub)
{
	struct console *c = sub->owner;

	for (struct daemon_sub **p = &c->subs; *p; p = &(*p)->next)
		if (*p == sub) {
			*p = sub->next;
			return;
		}
}

int console_subscribe(struct vm_rt *vm, struct stream *s, struct daemon_sub **ret)
{
	struct daemon_sub *sub;

	if (!vm->con)
		return -ENOTCONN;
	sub = calloc(1, sizeof(*sub));
	if (!sub)
		return -ENOMEM;
	sub->stream = s;
	sub->owner = vm->con;
	sub->unlink = console_unlink;
	sub->next = vm->con->subs;
	vm->con->subs = sub;
	*ret = sub;
	return 0;
}

int console_write(struct vm_rt *vm, const void *buf, size_t len)
{
	if (!vm->con)
		return -ENOTCONN;
	if (evbuffer_get_length(bufferevent_get_output(vm->con->bev)) > (1u << 20))
		return -ENOBUFS;
	return bufferevent_write(vm->con->bev, buf, len) < 0 ? -EIO : 0;
}

/* ---- API entry points --------------------------------------------------- */

static struct vm_rt *console_vm(struct daemon *d, const char *name, bool need_live,
				struct werr *err)
{
	struct vm_rt *vm = vm_rt_find(d, name);

	if (!vm) {
		werr_set(err, -ENOENT, "not_found", "name", "no VM named '%s'", name);
		return NULL;
	}
	if (need_live && !vm->spec->serial) {
		werr_set(err, -EINVAL, "conflict", "", "%s has no serial console (serial=false)",
			 name);
		return NULL;
	}
	if (need_live && !vm->con) {
		werr_set(err, -EBUSY, "conflict", "",
			 "cannot attach to the console of %s: it is %s (start it first)", name,
			 vm_state_to_string(vm->state));
		return NULL;
	}
	return vm;
}

static int read_file_append(const char *path, char **buf, size_t *len)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	char chunk[65536];
	ssize_t n;

	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	while ((n = read(fd, chunk, sizeof(chunk))) > 0) {
		char *nb = realloc(*buf, *len + (size_t)n + 1);
		if (!nb)
			return -ENOMEM;
		memcpy(nb + *len, chunk, (size_t)n);
		*len += (size_t)n;
		nb[*len] = '\0';
		*buf = nb;
	}
	return n < 0 ? -errno : 0;
}

void daemon_console_log(struct daemon *d, const char *name, struct reply *r)
{
	char old[PATH_MAX], cur[PATH_MAX];
	_cleanup_free_ char *buf = NULL;
	size_t len = 0;
	struct werr err;
	struct vm_rt *vm = console_vm(d, name, false, &err);
	int k;

	if (!vm) {
		reply_error(r, &err);
		return;
	}
	if (vm->con && vm->con->bev)
		on_console_read(vm->con->bev, vm->con); /* flush what is buffered */
	if ((k = vm_rt_dir(vm, "console.log.1", old, sizeof(old))) < 0 ||
	    (k = vm_rt_dir(vm, "console.log", cur, sizeof(cur))) < 0 ||
	    (k = read_file_append(old, &buf, &len)) < 0 ||
	    (k = read_file_append(cur, &buf, &len)) < 0) {
		werr_internal(&err, k, "reading the console log");
		reply_error(r, &err);
		return;
	}
	r->send_raw(r, "text/plain; charset=utf-8", buf ? buf : "", len);
}

void daemon_console_input(struct daemon *d, const struct caller *c, const char *name,
			  const void *buf, size_t len, struct reply *r)
{
	struct werr err;
	struct vm_rt *vm = console_vm(d, name, true, &err);
	int k;

	if (!vm) {
		reply_error(r, &err);
		return;
	}
	k = console_write(vm, buf, len);
	if (k == -ENOBUFS) {
		werr_set(&err, k, "unavailable", "", "the console of %s is not reading input", name);
		reply_error(r, &err);
		return;
	}
	if (k < 0) {
		werr_internal(&err, k, "writing to the console");
		reply_error(r, &err);
		return;
	}
	reply_json(r, 204, NULL);
}

int daemon_console_attach(struct daemon *d, const char *name, struct stream *s,
			  struct daemon_sub **ret, struct werr *err)
{
	struct vm_rt *vm = console_vm(d, name, true, err);
	int k;

	if (!vm)
		return -ENOENT;
	k = console_subscribe(vm, s, ret);
	if (k < 0)
		return werr_set(err, k, "internal", "", "cannot attach to the console: %s",
				strerror(-k));
	return 0;
}
