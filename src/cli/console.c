/*
 * console: an interactive session on a VM's serial port.
 *
 * Output is one long GET whose chunked body is the live serial output;
 * input is a POST per burst of typed bytes. Both run in one curl multi
 * handle with stdin as an extra descriptor, so output keeps flowing while
 * input is sent. At most one POST is in flight, so typed bytes reach the
 * guest in order; what is typed meanwhile waits in a bounded buffer, and
 * stdin is not read while that buffer is full.
 *
 * A terminal on stdin is put in raw mode (every key, Ctrl-C included, goes
 * to the guest) and restored on every way out, signals included. Ctrl-]
 * detaches, as in telnet and virsh.
 */
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <termios.h>

#include "cli/cli.h"

#define DETACH_BYTE 0x1d /* Ctrl-] */
#define INPUT_MAX   16384
#define POLL_MS	    1000

/* The terminal as it was before raw mode. Global state because the signal
 * handler that puts it back can reach nothing else. */
static struct termios saved_termios;
static volatile sig_atomic_t termios_changed;

static const int restore_signals[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};

static void term_restore(void)
{
	if (termios_changed) {
		tcsetattr(STDIN_FILENO, TCSADRAIN, &saved_termios);
		termios_changed = 0;
	}
}

static void term_signal(int sig)
{
	/* Only async-signal-safe calls: tcsetattr, signal, raise. The signal is
	 * blocked while this runs and is delivered again, now fatal, on return. */
	term_restore();
	signal(sig, SIG_DFL);
	raise(sig);
}

static int term_raw(void)
{
	struct sigaction sa = {.sa_handler = term_signal};
	struct termios raw;

	if (tcgetattr(STDIN_FILENO, &saved_termios) < 0)
		return -errno;
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < ARRAY_SIZE(restore_signals); i++)
		sigaction(restore_signals[i], &sa, NULL);
	raw = saved_termios;
	cfmakeraw(&raw);
	termios_changed = 1;
	if (tcsetattr(STDIN_FILENO, TCSANOW, &raw) < 0) {
		termios_changed = 0;
		return -errno;
	}
	return 0;
}

struct console {
	const struct cli *c;
	const char *name;
	bool tty;
	CURLM *multi;
	struct api_xfer out; /* GET: the live output */
	struct api_xfer in;  /* POST of typed bytes, while in_flight */
	bool connected, out_done, in_flight, failed;
	bool input_open, detach;
	char pending[INPUT_MAX]; /* typed, not yet sent */
	size_t n_pending;
	struct werr err; /* the first failure */
};

static int write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);

		if (w < 0) {
			struct pollfd pfd = {.fd = fd, .events = POLLOUT};

			if (errno == EINTR)
				continue;
			if (errno != EAGAIN)
				return -errno;
			poll(&pfd, 1, -1); /* a non-blocking stdout shared with others */
			continue;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static int out_data(void *userdata, const char *data, size_t len)
{
	return write_all(STDOUT_FILENO, data, len);
}

static void out_headers(void *userdata, long status)
{
	struct console *k = userdata;

	if (status != 200)
		return;
	k->connected = true;
	fprintf(stderr, "Connected to %s's console; Ctrl-] detaches.\n", k->name);
	/* Raw only once attached: an error before that prints normally. */
	if (k->tty) {
		int r = term_raw();
		if (r < 0)
			fprintf(stderr, "warren: cannot put the terminal in raw mode: %s\n",
				strerror(-r));
	}
}

static void console_fail(struct console *k, const struct werr *e)
{
	if (!k->failed)
		k->err = *e;
	k->failed = true;
}

static void console_fail_errno(struct console *k, int r, const char *what)
{
	struct werr e;

	werr_set(&e, r, "internal", "", "%s: %s", what, strerror(-r));
	console_fail(k, &e);
}

static void console_read_input(struct console *k)
{
	struct pollfd pfd = {.fd = STDIN_FILENO, .events = POLLIN};
	char *start = k->pending + k->n_pending, *esc;
	ssize_t n;

	/* Our own poll, not libcurl's report: libcurl drops POLLHUP, which is
	 * all a drained pipe at its end shows. */
	if (poll(&pfd, 1, 0) <= 0)
		return;
	n = read(STDIN_FILENO, start, sizeof(k->pending) - k->n_pending);
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n <= 0) {
		k->input_open = false; /* end of input; the output keeps coming */
		return;
	}
	esc = memchr(start, DETACH_BYTE, (size_t)n);
	if (esc) {
		/* What was typed before Ctrl-] is still sent. */
		k->n_pending = (size_t)(esc - k->pending);
		k->detach = true;
	} else {
		k->n_pending += (size_t)n;
	}
}

static int console_send(struct console *k)
{
	_cleanup_free_ char *path = api_vm_path(k->name, "/console");
	int r;

	if (!path)
		return -ENOMEM;
	r = api_xfer_init(&k->in, k->c, "POST", path);
	if (r >= 0)
		r = api_xfer_set_body(&k->in, "application/octet-stream", k->pending, k->n_pending);
	if (r >= 0 && curl_multi_add_handle(k->multi, k->in.easy) != CURLM_OK)
		r = -ENOMEM;
	if (r < 0) {
		api_xfer_clear(&k->in);
		return r;
	}
	k->n_pending = 0;
	k->in_flight = true;
	return 0;
}

static void console_done(struct console *k, CURL *easy, CURLcode res)
{
	struct api_xfer *x = easy == k->out.easy ? &k->out : &k->in;
	struct werr e;

	curl_multi_remove_handle(k->multi, easy);
	if (api_xfer_finish(x, res, NULL, &e) < 0)
		console_fail(k, &e);
	if (x == &k->out)
		k->out_done = true;
	else
		k->in_flight = false;
	api_xfer_clear(x);
}

/* Returns when the output ends, a transfer fails or the user detached. */
static void console_loop(struct console *k)
{
	for (;;) {
		struct curl_waitfd wfd = {.fd = STDIN_FILENO, .events = CURL_WAIT_POLLIN};
		bool want_input;
		CURLMsg *m;
		int running, queued, r;

		if (curl_multi_perform(k->multi, &running) != CURLM_OK) {
			console_fail_errno(k, -EIO, "libcurl");
			return;
		}
		while ((m = curl_multi_info_read(k->multi, &queued)))
			if (m->msg == CURLMSG_DONE)
				console_done(k, m->easy_handle, m->data.result);
		if (k->failed || k->out_done)
			return;
		if (!k->in_flight && k->n_pending > 0) {
			r = console_send(k);
			if (r < 0) {
				console_fail_errno(k, r, "cannot send input");
				return;
			}
		}
		if (k->detach && !k->in_flight && k->n_pending == 0)
			return;
		/* Input waits for the output stream: what the guest answers to it
		 * must not be lost, and a refused attach must not type into it. */
		want_input = k->connected && k->input_open && !k->detach &&
			     k->n_pending < sizeof(k->pending);
		if (curl_multi_poll(k->multi, want_input ? &wfd : NULL, want_input ? 1 : 0, POLL_MS,
				    NULL) != CURLM_OK) {
			console_fail_errno(k, -EIO, "libcurl");
			return;
		}
		if (want_input)
			console_read_input(k);
	}
}

static int log_data(void *userdata, const char *data, size_t len)
{
	return fwrite(data, 1, len, stdout) == len ? 0 : -EIO;
}

/* --log: the captured log, raw, whatever --format says: it is text. */
static int console_log(struct cli *c)
{
	_cleanup_free_ char *path = api_vm_path(c->args.pos[0], "/console/log");
	struct werr err = {0};

	if (!path || api_stream(c, path, log_data, NULL, &err) < 0)
		return cli_fail(&err);
	return CLI_EXIT_OK;
}

int cmd_console(struct cli *c)
{
	_cleanup_free_ char *path = NULL;
	struct console k = {
	    .c = c,
	    .name = c->args.pos[0],
	    .tty = isatty(STDIN_FILENO),
	    .input_open = true,
	};
	int r;

	if (cli_opt_has(&c->args, "log"))
		return console_log(c);
	path = api_vm_path(k.name, "/console");
	k.multi = curl_multi_init();
	r = path && k.multi ? api_xfer_init(&k.out, c, "GET", path) : -ENOMEM;
	k.out.on_data = out_data;
	k.out.on_headers = out_headers;
	k.out.userdata = &k;
	if (r >= 0 && curl_multi_add_handle(k.multi, k.out.easy) != CURLM_OK)
		r = -ENOMEM;
	if (r < 0)
		console_fail_errno(&k, r, "cannot open the console");
	else
		console_loop(&k);
	term_restore();
	if (k.multi) {
		if (k.out.easy)
			curl_multi_remove_handle(k.multi, k.out.easy);
		if (k.in.easy)
			curl_multi_remove_handle(k.multi, k.in.easy);
	}
	api_xfer_clear(&k.out);
	api_xfer_clear(&k.in);
	curl_multi_cleanup(k.multi);

	if (k.failed)
		return cli_fail(&k.err);
	if (k.out_done)
		fprintf(stderr, "\n%s's console was closed by warrend (the VM stopped).\n", k.name);
	else
		fprintf(stderr, "\nDetached from %s's console.\n", k.name);
	return CLI_EXIT_OK;
}
