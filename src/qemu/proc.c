/*
 * proc: starting QEMU and recognising it again later.
 *
 * QEMU is started in its own session so that it outlives the daemon; a
 * restarted daemon finds it again by pid plus start time (a pid alone can
 * be reused) and checks its command line before trusting it.
 */
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "qemu/qemu.h"
#include "util/util.h"

/* Everything from fd 3 upwards except keep. close_range needs Linux 5.9;
 * the loop is the fallback for older kernels, bounded because some
 * containers set RLIMIT_NOFILE to a billion. */
static void close_all_but(int keep)
{
	struct rlimit rl;
	unsigned long max = 1ul << 20;

	if ((keep == 3 || close_range(3, (unsigned)keep - 1, 0) == 0) &&
	    close_range((unsigned)keep + 1, ~0U, 0) == 0)
		return;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < max)
		max = rl.rlim_cur;
	for (unsigned long fd = 3; fd < max; fd++)
		if ((int)fd != keep)
			close((int)fd);
}

/* The daemon's own handlers and ignored signals (SIGPIPE in particular)
 * must not leak into QEMU: ignored dispositions and the mask survive
 * execve. */
static void reset_signals(void)
{
	struct sigaction sa = {.sa_handler = SIG_DFL};
	sigset_t none;

	for (int sig = 1; sig < NSIG; sig++)
		sigaction(sig, &sa, NULL); /* fails harmlessly for SIGKILL, SIGSTOP */
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
}

/* Runs in the child; never returns. Only async-signal-safe calls (and
 * execvp, which glibc implements without allocating), so a worker thread
 * holding a lock at fork time cannot deadlock the child. */
static void spawn_child(char *const argv[], int devnull, int logfd, int errfd, uid_t uid,
			gid_t gid)
{
	int err;

	reset_signals();
	if (setsid() < 0 || dup2(devnull, STDIN_FILENO) < 0 || dup2(logfd, STDOUT_FILENO) < 0 ||
	    dup2(logfd, STDERR_FILENO) < 0) {
		err = errno;
		goto fail;
	}
	/* Groups first: after setuid there is no permission left to drop them. */
	if (uid != (uid_t)-1 &&
	    (setgroups(0, NULL) < 0 || setresgid(gid, gid, gid) < 0 || setresuid(uid, uid, uid) < 0)) {
		err = errno;
		goto fail;
	}
	/* errfd stays open (it is CLOEXEC): execve closing it is what tells
	 * the parent that exec worked. */
	close_all_but(errfd);
	execvp(argv[0], argv);
	err = errno;
fail:
	while (write(errfd, &err, sizeof(err)) < 0 && errno == EINTR)
		;
	_exit(127);
}

int qemu_spawn(char *const argv[], const char *log_path, pid_t *ret_pid)
{
	return qemu_spawn_as(argv, log_path, (uid_t)-1, (gid_t)-1, ret_pid);
}

int qemu_spawn_as(char *const argv[], const char *log_path, uid_t uid, gid_t gid, pid_t *ret_pid)
{
	_cleanup_close_ int devnull = -1, logfd = -1, rfd = -1, wfd = -1;
	int pipefd[2], child_err = 0;
	ssize_t n;
	pid_t pid;

	if (!argv || !argv[0] || !log_path)
		return -EINVAL;
	devnull = fd_above_stdio(open("/dev/null", O_RDONLY | O_CLOEXEC | O_NOCTTY));
	if (devnull < 0)
		return devnull;
	logfd = fd_above_stdio(
	    open(log_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0640));
	if (logfd < 0)
		return logfd;
	if (pipe2(pipefd, O_CLOEXEC) < 0)
		return -errno;
	rfd = pipefd[0];
	wfd = fd_above_stdio(pipefd[1]);
	if (wfd < 0)
		return wfd;
	/* rfd stays in the parent only; it may sit on 0-2 harmlessly. */

	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0)
		spawn_child(argv, devnull, logfd, wfd, uid, gid);

	close(TAKE_FD(wfd));
	/* EOF: exec succeeded. An int: the child's errno, and it has exited. */
	do
		n = read(rfd, &child_err, sizeof(child_err));
	while (n < 0 && errno == EINTR);
	if (n == (ssize_t)sizeof(child_err)) {
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
		return child_err > 0 ? -child_err : -EIO;
	}
	*ret_pid = pid;
	return 0;
}

/* Reads a small /proc file whole, NUL-terminated. */
static int read_proc_file(pid_t pid, const char *what, char **ret, size_t *ret_len)
{
	char path[64];
	_cleanup_close_ int fd = -1;
	_cleanup_free_ char *buf = NULL;
	size_t len = 0, cap = 0;

	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, what);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	for (;;) {
		if (cap - len < 4096) {
			/* /proc/<pid>/cmdline of QEMU is a few KiB; a bound keeps
			 * a pathological process from making us allocate more. */
			if (cap >= (1u << 20))
				return -EFBIG;
			char *nb = realloc(buf, cap + 8192);
			if (!nb)
				return -ENOMEM;
			buf = nb;
			cap += 8192;
		}
		ssize_t n = read(fd, buf + len, cap - len - 1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			/* A process that exited between open and read. */
			return errno == ESRCH ? -ENOENT : -errno;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0';
	*ret_len = len;
	*ret = TAKE_PTR(buf);
	return 0;
}

int proc_start_time(pid_t pid, uint64_t *ret)
{
	_cleanup_free_ char *buf = NULL;
	unsigned long long start;
	size_t len;
	char *p;
	int r;

	if (pid <= 0)
		return -EINVAL;
	r = read_proc_file(pid, "stat", &buf, &len);
	if (r < 0)
		return r;
	/* The command name (field 2) may contain spaces and parentheses; the
	 * fields after the last ')' are plain. starttime is field 22, i.e. the
	 * 20th after it (field 3 is the state). */
	p = strrchr(buf, ')');
	if (!p)
		return -EIO;
	p++;
	for (int field = 3; field < 22; field++) {
		p += strspn(p, " ");
		p += strcspn(p, " ");
	}
	if (sscanf(p, " %llu", &start) != 1)
		return -EIO;
	*ret = start;
	return 0;
}

int proc_cmdline_has_arg(pid_t pid, const char *needle)
{
	_cleanup_free_ char *buf = NULL;
	size_t len;
	int r;

	if (pid <= 0 || !needle)
		return -EINVAL;
	r = read_proc_file(pid, "cmdline", &buf, &len);
	if (r < 0)
		return r;
	for (size_t off = 0; off < len; off += strlen(buf + off) + 1)
		if (strcmp(buf + off, needle) == 0)
			return 1;
	return 0;
}

int proc_pidfd_open(pid_t pid)
{
#ifdef SYS_pidfd_open
	/* pidfds are always close-on-exec. */
	int fd = (int)syscall(SYS_pidfd_open, pid, 0);
	return fd < 0 ? -errno : fd;
#else
	return -ENOSYS;
#endif
}

/* How much of the end of a file file_tail_lines looks at: enough for the
 * last lines of a QEMU log, bounded whatever the file's size. */
#define TAIL_WINDOW (64 * 1024)

char *file_tail_lines(const char *path, unsigned max_lines)
{
	_cleanup_close_ int fd = -1;
	_cleanup_free_ char *buf = NULL;
	struct stat st;
	off_t start;
	size_t len = 0;
	char *p;

	if (max_lines == 0)
		return NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size == 0)
		return NULL;
	start = st.st_size > TAIL_WINDOW ? st.st_size - TAIL_WINDOW : 0;
	buf = malloc(TAIL_WINDOW + 1);
	if (!buf)
		return NULL;
	while (len < TAIL_WINDOW) {
		ssize_t n = pread(fd, buf + len, TAIL_WINDOW - len, start + (off_t)len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	while (len > 0 && buf[len - 1] == '\n')
		len--;
	if (len == 0)
		return NULL;
	buf[len] = '\0';

	/* Walk back over max_lines line breaks. */
	p = buf + len;
	for (unsigned lines = 0; p > buf; p--)
		if (p[-1] == '\n' && ++lines == max_lines)
			break;
	/* A window that starts mid-file starts mid-line: drop that part line,
	 * unless it is all there is. */
	if (p == buf && start > 0) {
		char *nl = strchr(buf, '\n');
		if (nl)
			p = nl + 1;
	}
	if (p == buf)
		return TAKE_PTR(buf);
	return strdup(p);
}
