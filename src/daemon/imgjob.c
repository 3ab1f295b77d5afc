/*
 * imgjob: qemu-img runs one after another, as child processes, for work
 * that takes a while (copying, converting, snapshot tags on a stopped
 * VM's disks). The event loop never waits: each step's exit starts the
 * next. Steps run with -p report their progress on stdout, which goes to
 * the log; a timer reads the last figure from there into the operation.
 * Cancelling kills the running step; the owner undoes what was done.
 */
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>

#include "daemon/internal.h"

#define IMGJOB_POLL_MS 250

struct imgjob {
	struct daemon *d;
	char ***argvs;
	size_t n, i;
	uint64_t *weights;
	uint64_t total_w, done_w;
	struct op *op;
	char log_path[PATH_MAX];
	imgjob_done_fn done;
	void *ud;
	pid_t pid;
	bool cancelled;
	struct event *poll_ev;
};

static void imgjob_free(struct imgjob *j)
{
	for (size_t i = 0; i < j->n; i++)
		strv_free(j->argvs[i]);
	free(j->argvs);
	free(j->weights);
	if (j->poll_ev)
		event_free(j->poll_ev);
	free(j);
}

/* The last "(12.34/100%)" qemu-img -p wrote, or -1. */
static double log_percent(const char *path)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	char buf[256];
	off_t end;
	ssize_t n;

	if (fd < 0 || (end = lseek(fd, 0, SEEK_END)) < 0)
		return -1;
	n = pread(fd, buf, sizeof(buf) - 1, end > (off_t)sizeof(buf) - 1 ? end - (off_t)sizeof(buf) + 1 : 0);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	for (char *p = buf + n; p-- > buf;) {
		double v;
		if (*p == '(' && sscanf(p, "(%lf/100%%)", &v) == 1)
			return v;
	}
	return -1;
}

static void on_poll(evutil_socket_t fd, short what, void *arg)
{
	struct imgjob *j = arg;
	double step = log_percent(j->log_path);
	double w = (double)j->weights[j->i];

	if (step < 0)
		step = 0;
	if (j->op && j->total_w)
		op_progress(j->op, 100.0 * ((double)j->done_w + w * step / 100.0) / (double)j->total_w,
			    NULL, (int64_t)(j->done_w + (uint64_t)(w * step / 100.0)),
			    (int64_t)j->total_w);
}

static void step_start(struct imgjob *j);

static void on_step_exit(void *ud, int wstatus)
{
	struct imgjob *j = ud;

	j->pid = 0;
	if (j->cancelled || !WIFEXITED(wstatus) || WEXITSTATUS(wstatus) != 0) {
		_cleanup_free_ char *tail = file_tail_lines(j->log_path, 3);
		const char *msg = tail ? tail : "";
		const char *cr = strrchr(msg, '\r');
		char why[256];
		/* -p redraws its figure with \r; the error is what follows. */
		snprintf(why, sizeof(why), "%s",
			 j->cancelled ? "cancelled"
			 : cr && cr[1] ? cr + 1
			 : *msg       ? msg
				      : "qemu-img failed");
		j->done(j->ud, (int)j->i, why);
		imgjob_free(j);
		return;
	}
	j->done_w += j->weights[j->i];
	j->i++;
	step_start(j);
}

static void step_start(struct imgjob *j)
{
	int fd, k;

	if (j->i == j->n) {
		unlink(j->log_path);
		j->done(j->ud, -1, NULL);
		imgjob_free(j);
		return;
	}
	/* A fresh log per step, so the progress read is this step's. */
	fd = open(j->log_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
	if (fd >= 0)
		close(fd);
	on_poll(-1, 0, j);
	k = child_run(j->d, j->argvs[j->i], j->log_path, on_step_exit, j, &j->pid);
	if (k < 0) {
		char why[128];
		snprintf(why, sizeof(why), "cannot run %s: %s", j->argvs[j->i][0], strerror(-k));
		j->done(j->ud, (int)j->i, why);
		imgjob_free(j);
	}
}

int imgjob_run(struct daemon *d, char ***argvs, size_t n, const uint64_t *weights, struct op *op,
	       const char *log_path, imgjob_done_fn done, void *ud, struct imgjob **ret)
{
	struct imgjob *j = calloc(1, sizeof(*j));
	struct timeval tv = {.tv_usec = IMGJOB_POLL_MS * 1000};

	if (!j || !(j->weights = calloc(n ? n : 1, sizeof(*j->weights)))) {
		free(j);
		for (size_t i = 0; i < n; i++)
			strv_free(argvs[i]);
		free(argvs);
		return -ENOMEM;
	}
	*j = (struct imgjob){.d = d, .argvs = argvs, .n = n, .weights = j->weights, .op = op,
			     .done = done, .ud = ud};
	snprintf(j->log_path, sizeof(j->log_path), "%s", log_path);
	for (size_t i = 0; i < n; i++) {
		j->weights[i] = weights ? weights[i] : 1;
		j->total_w += j->weights[i];
		if (strcmp(argvs[i][0], "qemu-img") == 0) {
			free(argvs[i][0]);
			argvs[i][0] = strdup(d->cfg.qemu_img);
		}
	}
	if (op) {
		j->poll_ev = event_new(d->base, -1, EV_PERSIST, on_poll, j);
		if (j->poll_ev)
			event_add(j->poll_ev, &tv);
	}
	if (ret)
		*ret = j;
	step_start(j);
	return 0;
}

void imgjob_cancel(struct imgjob *j)
{
	j->cancelled = true;
	if (j->pid > 0)
		kill(j->pid, SIGTERM);
}
