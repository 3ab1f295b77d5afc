/*
 * host: running the host's network tools (ip, tc, nft) and probing what
 * the kernel offers.
 *
 * net_run is synchronous and meant for commands that finish in
 * milliseconds; it never goes through a shell, so no argument is ever
 * interpreted. Input is written while stderr is read, so a tool that
 * complains at length before reading all of its input cannot deadlock
 * with us. Writing to a tool that exited early raises SIGPIPE: like the
 * daemon's other writers this needs SIGPIPE ignored (warrend does), and
 * then sees EPIPE, which the tool's exit status explains.
 */
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/wait.h>

#include "net/net.h"
#include "util/util.h"

/* What of a tool's stderr is kept: its first line goes into the message,
 * the rest is read and dropped so the tool never blocks on a full pipe. */
#define STDERR_KEEP 1024

static int pipe_above_stdio(int *ret_read, int *ret_write)
{
	int p[2];

	if (pipe2(p, O_CLOEXEC) < 0)
		return -errno;
	*ret_read = fd_above_stdio(p[0]);
	*ret_write = fd_above_stdio(p[1]);
	return *ret_read < 0 ? *ret_read : *ret_write < 0 ? *ret_write : 0;
}

/* "ip link add ..." for messages, cut to fit in a werr with room left. */
static void command_text(char *const argv[], char *buf, size_t len)
{
	size_t off = 0;

	buf[0] = '\0';
	for (size_t i = 0; argv[i] && off + 1 < len; i++) {
		int n = snprintf(buf + off, len - off, "%s%s", i ? " " : "", argv[i]);
		if (n < 0)
			break;
		off += (size_t)n;
	}
}

static int spawn(char *const argv[], int in_fd, int out_fd, int err_fd, pid_t *ret_pid)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t all, none;
	int r;

	/* The daemon's ignored signals and mask survive exec; the tool gets
	 * the defaults. */
	sigfillset(&all);
	sigemptyset(&none);
	r = posix_spawn_file_actions_init(&fa);
	if (r)
		return -r;
	r = posix_spawnattr_init(&attr);
	if (r) {
		posix_spawn_file_actions_destroy(&fa);
		return -r;
	}
	if (!(r = posix_spawn_file_actions_adddup2(&fa, in_fd, STDIN_FILENO)) &&
	    !(r = posix_spawn_file_actions_adddup2(&fa, out_fd, STDOUT_FILENO)) &&
	    !(r = posix_spawn_file_actions_adddup2(&fa, err_fd, STDERR_FILENO)) &&
	    !(r = posix_spawnattr_setsigdefault(&attr, &all)) &&
	    !(r = posix_spawnattr_setsigmask(&attr, &none)) &&
	    !(r = posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK)))
		r = posix_spawnp(ret_pid, argv[0], &fa, &attr, argv, environ);
	posix_spawnattr_destroy(&attr);
	posix_spawn_file_actions_destroy(&fa);
	return -r;
}

/* Feed input to in_fd (closing it when done, or when the tool stops
 * reading) while collecting stderr from err_fd until EOF. Takes both fds. */
static void exchange(int in_fd, const char *input, int err_fd, char *errbuf, size_t errlen)
{
	size_t in_len = input ? strlen(input) : 0, in_off = 0, err_off = 0;

	if (in_fd >= 0 && (in_len == 0 || fcntl(in_fd, F_SETFL, O_NONBLOCK) < 0)) {
		close(in_fd);
		in_fd = -1;
	}
	while (in_fd >= 0 || err_fd >= 0) {
		struct pollfd pfd[2];
		nfds_t n = 0;
		char tmp[512];
		ssize_t k;

		if (in_fd >= 0)
			pfd[n++] = (struct pollfd){.fd = in_fd, .events = POLLOUT};
		if (err_fd >= 0)
			pfd[n++] = (struct pollfd){.fd = err_fd, .events = POLLIN};
		if (poll(pfd, n, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		for (nfds_t i = 0; i < n; i++) {
			if (!pfd[i].revents)
				continue;
			if (pfd[i].fd == in_fd) {
				k = write(in_fd, input + in_off, in_len - in_off);
				if (k < 0 && (errno == EINTR || errno == EAGAIN))
					continue;
				if (k > 0)
					in_off += (size_t)k;
				if (k < 0 || in_off == in_len) {
					close(in_fd); /* EOF for the tool; or it is gone (EPIPE) */
					in_fd = -1;
				}
			} else {
				k = read(err_fd, tmp, sizeof(tmp));
				if (k < 0 && (errno == EINTR || errno == EAGAIN))
					continue;
				if (k <= 0) {
					close(err_fd);
					err_fd = -1;
					continue;
				}
				size_t keep = (size_t)k;
				if (keep > errlen - 1 - err_off)
					keep = errlen - 1 - err_off;
				memcpy(errbuf + err_off, tmp, keep);
				err_off += keep;
			}
		}
	}
	if (in_fd >= 0)
		close(in_fd);
	if (err_fd >= 0)
		close(err_fd);
	errbuf[err_off] = '\0';
}

int net_run(char *const argv[], const char *input, struct werr *err)
{
	_cleanup_close_ int devnull = -1, in_r = -1, in_w = -1, err_r = -1, err_w = -1;
	char cmd[200], errbuf[STDERR_KEEP];
	int r, status;
	pid_t pid;

	if (!argv || !argv[0])
		return werr_set(err, -EIO, "internal", "", "no command to run");
	command_text(argv, cmd, sizeof(cmd));
	devnull = fd_above_stdio(open("/dev/null", O_RDWR | O_CLOEXEC | O_NOCTTY));
	if (devnull < 0)
		return werr_set(err, -EIO, "internal", "", "%s: cannot open /dev/null: %s", cmd,
				strerror(-devnull));
	r = pipe_above_stdio(&err_r, &err_w);
	if (r == 0 && input)
		r = pipe_above_stdio(&in_r, &in_w);
	if (r < 0)
		return werr_set(err, -EIO, "internal", "", "%s: cannot make a pipe: %s", cmd,
				strerror(-r));

	r = spawn(argv, input ? in_r : devnull, devnull, err_w, &pid);
	if (r < 0)
		return werr_set(err, -EIO, "internal", "", "%s: cannot run: %s", cmd, strerror(-r));
	/* Only the tool holds these now: EOF on err_r means it is done. */
	close(TAKE_FD(err_w));
	if (in_r >= 0)
		close(TAKE_FD(in_r));

	exchange(TAKE_FD(in_w), input, TAKE_FD(err_r), errbuf, sizeof(errbuf));
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return werr_set(err, -EIO, "internal", "", "%s: waitpid: %s", cmd,
					strerror(errno));

	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	/* The first line with something on it: dnsmasq starts its
	 * complaints with an empty one. */
	char *line = errbuf + strspn(errbuf, "\r\n");
	line[strcspn(line, "\r\n")] = '\0';
	if (line[0])
		return werr_set(err, -EIO, "internal", "", "%s: %s", cmd, line);
	if (WIFSIGNALED(status))
		return werr_set(err, -EIO, "internal", "", "%s: killed by signal %d", cmd,
				WTERMSIG(status));
	return werr_set(err, -EIO, "internal", "", "%s: exited with status %d", cmd,
			WEXITSTATUS(status));
}

/* ---- probes --------------------------------------------------------------- */

const char *net_vlan_mode_to_string(enum net_vlan_mode m)
{
	switch (m) {
	case NET_VLAN_SEPARATE_BRIDGES:
		return "separate-bridges";
	case NET_VLAN_8021Q:
		return "802.1q";
	}
	return "unknown";
}

/*
 * A veth pair is the one link every kernel with namespaces can make
 * without hardware, so a vlan on it tests exactly the 8021q support
 * (the module loads on demand). Deleting one end of the pair removes the
 * other and the vlan on it. The random name keeps two daemons' probes (in
 * tests, say) apart.
 */
enum net_vlan_mode net_vlan_probe(net_runner_fn runner)
{
	char hex[7], a[NET_IFNAME_MAX + 1], b[NET_IFNAME_MAX + 1], v[NET_IFNAME_MAX + 1];
	struct werr err = {0};
	int r;

	r = id_random_hex(hex, 3);
	if (r < 0) {
		log_warn_errno(r, "VLAN probe: no random name; VLAN segments will be separate "
				  "bridges");
		return NET_VLAN_SEPARATE_BRIDGES;
	}
	snprintf(a, sizeof(a), "wvp%sa", hex);
	snprintf(b, sizeof(b), "wvp%sb", hex);
	snprintf(v, sizeof(v), "wvp%sv", hex);

	char *veth[] = {"ip", "link", "add", a, "type", "veth", "peer", "name", b, NULL};
	if (runner(veth, NULL, &err) < 0) {
		log_warn("VLAN probe: cannot make a veth pair (%s); VLAN segments will be "
			 "separate bridges",
			 err.message);
		return NET_VLAN_SEPARATE_BRIDGES;
	}
	char *vlan[] = {"ip", "link", "add", "link", a, "name", v, "type", "vlan", "id", "2", NULL};
	r = runner(vlan, NULL, &err);
	char *del[] = {"ip", "link", "del", a, NULL};
	struct werr del_err = {0};
	if (runner(del, NULL, &del_err) < 0)
		log_warn("VLAN probe: cannot remove the veth pair %s (%s)", a, del_err.message);
	if (r < 0) {
		log_info("802.1Q links cannot be made (%s); VLAN segments will be separate bridges",
			 err.message);
		return NET_VLAN_SEPARATE_BRIDGES;
	}
	log_info("802.1Q links can be made; VLAN segments will be tagged on the uplink");
	return NET_VLAN_8021Q;
}
