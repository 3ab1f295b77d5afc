/*
 * Unit tests of process handling: what a spawned QEMU inherits (session,
 * fds, signals), exec failures reported as errors, recognising a process
 * by start time and command line, and reading the tail of a log.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <cmocka.h>

#include "qemu/qemu.h"
#include "util/util.h"

static char dir[] = "/tmp/warren-test-XXXXXX";
static char log_path[128];

static int setup(void **state)
{
	if (!mkdtemp(dir))
		return -1;
	snprintf(log_path, sizeof(log_path), "%s/qemu.log", dir);
	return 0;
}

static int teardown(void **state)
{
	unlink(log_path);
	rmdir(dir);
	return 0;
}

static char *slurp(const char *path)
{
	char *s = file_tail_lines(path, 1000);

	return s ? s : strdup("");
}

static void wait_exit(pid_t pid, int want_status)
{
	int status;

	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), want_status);
}

static void test_spawn_output_appends_to_log(void **state)
{
	char *const argv[] = {"/bin/sh", "-c", "echo out; echo err >&2", NULL};
	pid_t pid;
	char *log;

	unlink(log_path);
	assert_int_equal(qemu_spawn(argv, log_path, &pid), 0);
	wait_exit(pid, 0);
	assert_int_equal(qemu_spawn(argv, log_path, &pid), 0);
	wait_exit(pid, 0);
	log = slurp(log_path);
	assert_string_equal(log, "out\nerr\nout\nerr");
	free(log);
}

static unsigned long status_mask(pid_t pid, const char *field)
{
	char path[64], line[256];
	unsigned long mask = ~0UL;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "re");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, field, strlen(field)) == 0)
			mask = strtoul(line + strlen(field), NULL, 16);
	fclose(f);
	return mask;
}

static void test_spawn_isolates_child(void **state)
{
	char *const argv[] = {"sleep", "30", NULL}; /* found through PATH */
	int leaked = open("/dev/null", O_RDONLY);   /* deliberately not CLOEXEC */
	char path[64], target[256];
	sigset_t block, old;
	struct dirent *de;
	unsigned n_fds = 0;
	DIR *d;
	pid_t pid;
	ssize_t n;

	/* The daemon blocks and ignores signals; QEMU must not inherit that. */
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigprocmask(SIG_BLOCK, &block, &old);
	signal(SIGINT, SIG_IGN);
	assert_int_equal(qemu_spawn(argv, log_path, &pid), 0);
	sigprocmask(SIG_SETMASK, &old, NULL);
	signal(SIGINT, SIG_DFL);
	close(leaked);

	/* exec has happened once qemu_spawn returns. */
	assert_int_equal(proc_cmdline_has_arg(pid, "30"), 1);
	assert_int_equal(getsid(pid), pid);
	assert_int_equal(status_mask(pid, "SigBlk:"), 0);
	assert_int_equal(status_mask(pid, "SigIgn:"), 0);

	/* While the dynamic loader and sleep's start-up run, they have files
	 * of their own open for a moment; wait for it to settle. */
	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	for (int tries = 0; tries < 200 && n_fds != 3; tries++) {
		if (tries > 0)
			usleep(10 * 1000);
		d = opendir(path);
		assert_non_null(d);
		n_fds = 0;
		while ((de = readdir(d)))
			if (de->d_name[0] != '.')
				n_fds++;
		closedir(d);
	}
	assert_int_equal(n_fds, 3);
	snprintf(path, sizeof(path), "/proc/%d/fd/0", (int)pid);
	n = readlink(path, target, sizeof(target) - 1);
	assert_true(n > 0);
	target[n] = '\0';
	assert_string_equal(target, "/dev/null");
	snprintf(path, sizeof(path), "/proc/%d/fd/2", (int)pid);
	n = readlink(path, target, sizeof(target) - 1);
	assert_true(n > 0);
	target[n] = '\0';
	assert_string_equal(target, log_path);

	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

static void test_spawn_exec_failure_is_an_error(void **state)
{
	char *const missing[] = {"/nonexistent/qemu-system-x86_64", NULL};
	char *const not_exec[] = {log_path, NULL};
	pid_t pid = 0;

	assert_int_equal(qemu_spawn(missing, log_path, &pid), -ENOENT);
	/* The log exists now, and without any execute bit not even root may
	 * run it. */
	assert_int_equal(chmod(log_path, 0644), 0);
	assert_int_equal(qemu_spawn(not_exec, log_path, &pid), -EACCES);
	assert_int_equal(pid, 0);
	/* No zombie left behind. */
	assert_int_equal(waitpid(-1, NULL, WNOHANG), -1);
	assert_int_equal(qemu_spawn(missing, "/nonexistent/dir/qemu.log", &pid), -ENOENT);
}

static void test_start_time_and_cmdline(void **state)
{
	char *const argv[] = {"/bin/sleep", "30", NULL};
	uint64_t t1 = 0, t2 = 0;
	pid_t pid;
	int fd;

	assert_int_equal(qemu_spawn(argv, log_path, &pid), 0);
	assert_int_equal(proc_start_time(pid, &t1), 0);
	assert_int_equal(proc_start_time(pid, &t2), 0);
	assert_true(t1 > 0);
	assert_true(t1 == t2);
	assert_int_equal(proc_start_time(getpid(), &t2), 0);
	assert_true(t2 <= t1);

	assert_int_equal(proc_cmdline_has_arg(pid, "/bin/sleep"), 1);
	assert_int_equal(proc_cmdline_has_arg(pid, "3"), 0);
	assert_int_equal(proc_cmdline_has_arg(pid, "sleep"), 0);

	fd = proc_pidfd_open(pid);
	assert_true(fd >= 0 || fd == -ENOSYS);
	if (fd >= 0) {
		assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
		close(fd);
	}

	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	assert_int_equal(proc_start_time(pid, &t1), -ENOENT);
	assert_int_equal(proc_cmdline_has_arg(pid, "30"), -ENOENT);
	assert_int_equal(proc_pidfd_open(pid) < 0, 1);
}

static void write_file(const char *content, size_t len)
{
	FILE *f = fopen(log_path, "we");

	assert_non_null(f);
	fwrite(content, 1, len, f);
	fclose(f);
}

static void expect_tail(unsigned n, const char *want)
{
	char *got = file_tail_lines(log_path, n);

	if (!want) {
		assert_null(got);
		return;
	}
	assert_non_null(got);
	assert_string_equal(got, want);
	free(got);
}

static void test_tail_lines(void **state)
{
	write_file("a\nb\nc\nd\ne\n", 10);
	expect_tail(2, "d\ne");
	expect_tail(5, "a\nb\nc\nd\ne");
	expect_tail(50, "a\nb\nc\nd\ne");
	expect_tail(0, NULL);
	write_file("a\nb\nno newline at end", 21);
	expect_tail(1, "no newline at end");
	write_file("", 0);
	expect_tail(3, NULL);
	write_file("\n\n", 2);
	expect_tail(3, NULL);
	unlink(log_path);
	expect_tail(3, NULL);
}

static void test_tail_of_big_file(void **state)
{
	/* 200 KiB of lines: only the end is read, and the part line where the
	 * read window starts is not returned. */
	size_t len = 200 * 1024;
	char *buf = malloc(len);
	char *got;

	for (size_t i = 0; i < len; i++)
		buf[i] = i % 100 == 99 ? '\n' : (char)('a' + i % 26);
	memcpy(buf + len - 12, "\nlast line\n", 11);
	buf[len - 1] = '\n';
	write_file(buf, len);
	free(buf);
	expect_tail(1, "last line");
	got = file_tail_lines(log_path, 100000);
	assert_non_null(got);
	assert_true(strlen(got) <= 64 * 1024);
	assert_true(strlen(got) > 60 * 1024);
	/* Starts at a line start: every full line is 99 letters. */
	assert_int_equal(strcspn(got, "\n"), 99);
	free(got);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_spawn_output_appends_to_log),
	    cmocka_unit_test(test_spawn_isolates_child),
	    cmocka_unit_test(test_spawn_exec_failure_is_an_error),
	    cmocka_unit_test(test_start_time_and_cmdline),
	    cmocka_unit_test(test_tail_lines),
	    cmocka_unit_test(test_tail_of_big_file),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
