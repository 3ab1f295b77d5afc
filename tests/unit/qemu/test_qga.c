/*
 * Unit tests of the guest agent client against a scripted agent
 * (fakepeer.c): resynchronisation with 0xFF, stale replies, guest-exec
 * with status polling and base64 output, timeouts, and the no-reply mode
 * of guest-shutdown.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <cmocka.h>
#include <event2/event.h>

#include "fakepeer.h"
#include "qemu/qemu.h"
#include "util/util.h"

#define SYNC                                                                                       \
	{FP_RECV, "guest-sync-delimited"},                                                         \
	{                                                                                          \
		FP_SEND, "\xff{\"return\": @1}\n"                                                  \
	}

/* What a call ended with. */
struct outcome {
	bool done;
	int err;
	char message[256];
	char *result; /* qga_command: the result as compact JSON */
	struct qga_exec_result exec;
	uint64_t took_ms;
};

struct run {
	struct event_base *base;
	struct fakepeer *peer;
	struct outcome out;
	uint64_t start_ns;
};

static void record(struct outcome *o, int err, const char *message)
{
	assert_false(o->done); /* exactly once */
	o->done = true;
	o->err = err;
	snprintf(o->message, sizeof(o->message), "%s", message ? message : "");
}

static void on_exec(void *userdata, int err, const char *message, const struct qga_exec_result *res)
{
	struct run *r = userdata;

	record(&r->out, err, message);
	r->out.took_ms = (now_monotonic_ns() - r->start_ns) / 1000000;
	if (err < 0) {
		assert_null(res);
		return;
	}
	r->out.exec = *res;
	/* The result is borrowed: keep copies. */
	r->out.exec.out = malloc(res->out_len + 1);
	memcpy(r->out.exec.out, res->out, res->out_len + 1);
	r->out.exec.err = malloc(res->err_len + 1);
	memcpy(r->out.exec.err, res->err, res->err_len + 1);
}

static void on_reply(void *userdata, int err, const char *message, json_t *result)
{
	struct run *r = userdata;

	record(&r->out, err, message);
	r->out.took_ms = (now_monotonic_ns() - r->start_ns) / 1000000;
	if (result)
		r->out.result = json_dumps(result, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
}

static struct run *run_new(const struct fp_step *script)
{
	struct run *r = calloc(1, sizeof(*r));

	assert_non_null(r);
	r->base = event_base_new();
	assert_non_null(r->base);
	if (script) {
		r->peer = fakepeer_new(r->base, script);
		assert_non_null(r->peer);
	}
	r->start_ns = now_monotonic_ns();
	return r;
}

static void run_wait(struct run *r)
{
	if (!loop_until(r->base, &r->out.done, 30000))
		fail_msg("the call never ended");
	if (r->peer && fakepeer_error(r->peer))
		fail_msg("agent: %s", fakepeer_error(r->peer));
}

static void run_free(struct run *r)
{
	free(r->out.result);
	free(r->out.exec.out);
	free(r->out.exec.err);
	fakepeer_free(r->peer);
	event_base_free(r->base);
	free(r);
}

static struct run *exec_script(const struct fp_step *script, unsigned timeout_ms)
{
	static char *const argv[] = {"/bin/echo", "hello", NULL};
	struct run *r = run_new(script);

	assert_int_equal(qga_exec(r->base, fakepeer_path(r->peer), argv, timeout_ms, on_exec, r),
			 0);
	run_wait(r);
	return r;
}

static struct run *command_script(const struct fp_step *script, const char *command, bool no_reply,
				  unsigned timeout_ms)
{
	struct run *r = run_new(script);

	assert_int_equal(qga_command(r->base, fakepeer_path(r->peer), command, NULL, no_reply,
				     timeout_ms, on_reply, r),
			 0);
	run_wait(r);
	return r;
}

static void test_sync_then_command(void **state)
{
	static const struct fp_step script[] = {
	    SYNC,
	    {FP_RECV, "guest-info"},
	    {FP_SEND, "{\"return\": {\"version\": \"7.2.0\"}}\n"},
	    {FP_END, NULL},
	};
	struct run *r = command_script(script, "guest-info", false, 2000);
	json_t *sync = fakepeer_received(r->peer, 1);

	assert_int_equal(r->out.err, 0);
	assert_string_equal(r->out.result, "{\"version\":\"7.2.0\"}");
	/* 0xFF first, then a sync id that is a non-negative integer. */
	assert_int_equal(fakepeer_ff_count(r->peer), 1);
	json_t *id = json_object_get(json_object_get(sync, "arguments"), "id");
	assert_true(json_is_integer(id) && json_integer_value(id) >= 0);
	run_free(r);
}

static void test_stale_replies_before_sync(void **state)
{
	/* Leftovers of an earlier client: a reply, half a line, another
	 * client's sync answer and an error, all before ours. */
	static const struct fp_step script[] = {
	    {FP_RECV, "guest-sync-delimited"},
	    {FP_SEND, "{\"return\": {\"pid\": 5}}\n{\"return\": {\"half"},
	    {FP_SEND, "\xff{\"return\": 77}\n{\"error\": {\"class\": \"GenericError\", "
		      "\"desc\": \"stale\"}}\nnot json\n"},
	    {FP_SEND, "\xff{\"return\": @1}\n"},
	    {FP_RECV, "guest-ping"},
	    {FP_SEND, "{\"return\": {}}\n"},
	    {FP_END, NULL},
	};
	struct run *r = command_script(script, "guest-ping", false, 2000);

	assert_int_equal(r->out.err, 0);
	assert_string_equal(r->out.result, "{}");
	run_free(r);
}

static void test_exec_with_output(void **state)
{
	/* err-data decodes to "oop\0s": output may contain NULs. */
	static const struct fp_step script[] = {
	    SYNC,
	    {FP_RECV, "guest-exec"},
	    {FP_SEND, "{\"return\": {\"pid\": 42}}\n"},
	    {FP_RECV, "guest-exec-status"},
	    {FP_SEND, "{\"return\": {\"exited\": false}}\n"},
	    {FP_RECV, "guest-exec-status"},
	    {FP_SEND, "{\"return\": {\"exited\": true, \"exitcode\": 3, "
		      "\"out-data\": \"aGVsbG8K\", \"err-data\": \"b29wAHM=\"}}\n"},
	    {FP_END, NULL},
	};
	struct run *r = exec_script(script, 2000);
	json_t *args, *status;

	assert_int_equal(r->out.err, 0);
	assert_int_equal(r->out.exec.exit_code, 3);
	assert_int_equal(r->out.exec.signal, 0);
	assert_int_equal(r->out.exec.out_len, 6);
	assert_memory_equal(r->out.exec.out, "hello\n", 7);
	assert_int_equal(r->out.exec.err_len, 5);
	assert_memory_equal(r->out.exec.err, "oop\0s", 6);
	assert_false(r->out.exec.out_truncated);
	assert_false(r->out.exec.err_truncated);

	args = json_object_get(fakepeer_received(r->peer, 2), "arguments");
	assert_string_equal(json_string_value(json_object_get(args, "path")), "/bin/echo");
	assert_string_equal(json_string_value(json_array_get(json_object_get(args, "arg"), 0)),
			    "hello");
	assert_true(json_is_true(json_object_get(args, "capture-output")));
	status = json_object_get(fakepeer_received(r->peer, 3), "arguments");
	assert_int_equal(json_integer_value(json_object_get(status, "pid")), 42);
	run_free(r);
}

static void test_exec_with_input(void **state)
{
	static const struct fp_step script[] = {
	    SYNC,
	    {FP_RECV, "guest-exec"},
	    {FP_SEND, "{\"return\": {\"pid\": 7}}\n"},
	    {FP_RECV, "guest-exec-status"},
	    {FP_SEND, "{\"return\": {\"exited\": true, \"exitcode\": 0}}\n"},
	    {FP_END, NULL},
	};
	static char *const argv[] = {"/sbin/warren-reseed", NULL};
	/* Every padding case of base64: 1, 2 and 0 bytes left over. */
	static const struct {
		const char *in;
		size_t len;
		const char *b64;
	} cases[] = {
	    {"\xff\x00\x10\x80", 4, "/wAQgA=="},
	    {"hello", 5, "aGVsbG8="},
	    {"abc", 3, "YWJj"},
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct run *r = run_new(script);
		assert_int_equal(qga_exec_input(r->base, fakepeer_path(r->peer), argv, cases[i].in,
						cases[i].len, 2000, on_exec, r),
				 0);
		run_wait(r);
		assert_int_equal(r->out.err, 0);
		json_t *args = json_object_get(fakepeer_received(r->peer, 2), "arguments");
		assert_string_equal(json_string_value(json_object_get(args, "input-data")),
				    cases[i].b64);
		run_free(r);
	}
}

static void test_exec_killed_by_signal(void **state)
{
	static const struct fp_step script[] = {
	    SYNC,
	    {FP_RECV, "guest-exec"},
	    {FP_SEND, "{\"return\": {\"pid\": 7}}\n"},
	    {FP_RECV, "guest-exec-status"},
	    {FP_SEND, "{\"return\": {\"exited\": true, \"signal\": 9}}\n"},
	    {FP_END, NULL},
	};
	struct run *r = exec_script(script, 2000);

	assert_int_equal(r->out.err, 0);
	assert_int_equal(r->out.exec.exit_code, -1);
	assert_int_equal(r->out.exec.signal, 9);
	assert_int_equal(r->out.exec.out_len, 0);
	assert_string_equal(r->out.exec.out, "");
	run_free(r);
}

/* Base64 of n bytes of 'A' ("QUFB" per three bytes). */
static char *big_output_reply(size_t n)
{
	size_t b64 = n / 3 * 4;
	char *s = malloc(b64 + 256);
	int k = sprintf(s, "{\"return\": {\"exited\": true, \"exitcode\": 0, "
			   "\"err-truncated\": true, \"err-data\": \"eA==\", \"out-data\": \"");

	for (size_t i = 0; i < b64; i += 4)
		memcpy(s + k + i, "QUFB", 4);
	strcpy(s + k + b64, "\"}}\n");
	return s;
}

static void test_exec_output_capped(void **state)
{
	char *reply = big_output_reply((1u << 20) + 3000);
	const struct fp_step script[] = {
	    SYNC,
	    {FP_RECV, "guest-exec"},
	    {FP_SEND, "{\"return\": {\"pid\": 1}}\n"},
	    {FP_RECV, "guest-exec-status"},
	    {FP_SEND, reply},
	    {FP_END, NULL},
	};
	struct run *r = exec_script(script, 3000);

	assert_int_equal(r->out.err, 0);
	assert_int_equal(r->out.exec.out_len, 1u << 20);
	assert_true(r->out.exec.out_truncated);
	assert_int_equal(r->out.exec.out[(1u << 20) - 1], 'A');
	assert_int_equal(r->out.exec.out[1u << 20], '\0');
	/* Small, but the agent said it cut it. */
	assert_string_equal(r->out.exec.err, "x");
	assert_true(r->out.exec.err_truncated);
	run_free(r);
	free(reply);
}

static void test_exec_bad_base64(void **state)
{
	static const struct fp_step script[] = {
	    SYNC,
	    {FP_RECV, "guest-exec"},
	    {FP_SEND, "{\"return\": {\"pid\": 1}}\n"},
	    {FP_RECV, "guest-exec-status"},
	    {FP_SEND,
	     "{\"return\": {\"exited\": true, \"exitcode\": 0, \"out-data\": \"a$b=\"}}\n"},
	    {FP_END, NULL},
	};
	struct run *r = exec_script(script, 2000);

	assert_int_equal(r->out.err, -EBADMSG);
	assert_string_equal(r->out.message, "the guest agent sent invalid base64");
	run_free(r);
}

static void test_exec_agent_error(void **state)
{
	static const struct fp_step script[] = {
	    SYNC,
	    {FP_RECV, "guest-exec"},
	    {FP_SEND, "{\"error\": {\"class\": \"GenericError\", \"desc\": \"Failed to execute "
		      "child process (No such file or directory)\"}}\n"},
	    {FP_END, NULL},
	};
	struct run *r = exec_script(script, 2000);

	assert_int_equal(r->out.err, -EREMOTEIO);
	assert_string_equal(r->out.message, "guest agent: Failed to execute child process "
					    "(No such file or directory)");
	run_free(r);
}

static void test_silent_agent_fails_before_a_long_command_timeout(void **state)
{
	/* A command may have a minute, but the resync is bounded on its own,
	 * so a guest without an agent fails in seconds. */
	static const struct fp_step script[] = {{FP_RECV, "guest-sync-delimited"}, {FP_END, NULL}};
	struct run *r = exec_script(script, 60000);

	assert_int_equal(r->out.err, -ETIMEDOUT);
	assert_string_equal(r->out.message, "guest agent did not answer within 3.0 s");
	assert_true(r->out.took_ms >= 2900 && r->out.took_ms < 10000);
	run_free(r);
}

static void test_silent_agent_times_out(void **state)
{
	/* QEMU accepts the connection even with no agent in the guest. */
	static const struct fp_step script[] = {{FP_RECV, "guest-sync-delimited"}, {FP_END, NULL}};
	struct run *r = exec_script(script, 300);

	assert_int_equal(r->out.err, -ETIMEDOUT);
	assert_string_equal(r->out.message, "guest agent did not answer within 0.3 s");
	assert_true(r->out.took_ms >= 290 && r->out.took_ms < 10000);
	run_free(r);
}

static void test_exec_times_out_after_start(void **state)
{
	static const struct fp_step script[] = {
	    SYNC,
	    {FP_RECV, "guest-exec"},
	    {FP_SEND, "{\"return\": {\"pid\": 1}}\n"},
	    {FP_RECV, "guest-exec-status"},
	    {FP_SEND, "{\"return\": {\"exited\": false}}\n"},
	    {FP_END, NULL},
	};
	struct run *r = exec_script(script, 400);

	assert_int_equal(r->out.err, -ETIMEDOUT);
	assert_string_equal(r->out.message, "command did not finish within 0.4 s");
	run_free(r);
}

static void test_malformed_reply(void **state)
{
	static const struct fp_step script[] = {
	    SYNC,
	    {FP_RECV, "guest-info"},
	    {FP_SEND, "{\"return\": \n"},
	    {FP_END, NULL},
	};
	struct run *r = command_script(script, "guest-info", false, 2000);

	assert_int_equal(r->out.err, -EBADMSG);
	run_free(r);
}

static void test_agent_hangs_up(void **state)
{
	static const struct fp_step script[] = {SYNC, {FP_RECV, "guest-info"}, {FP_CLOSE, NULL}};
	struct run *r = command_script(script, "guest-info", false, 2000);

	assert_int_equal(r->out.err, -ECONNRESET);
	run_free(r);
}

static void test_no_reply_silence_is_success(void **state)
{
	static const struct fp_step script[] = {
	    SYNC,
	    {FP_RECV, "guest-shutdown"},
	    {FP_END, NULL},
	};
	struct run *r = command_script(script, "guest-shutdown", true, 20000);

	assert_int_equal(r->out.err, 0);
	assert_null(r->out.result);
	/* Success only after the grace period, long before the deadline. */
	assert_true(r->out.took_ms >= 450 && r->out.took_ms < 10000);
	run_free(r);
}

static void test_no_reply_hang_up_is_success(void **state)
{
	static const struct fp_step script[] = {
	    SYNC, {FP_RECV, "guest-shutdown"}, {FP_CLOSE, NULL}};
	struct run *r = command_script(script, "guest-shutdown", true, 5000);

	assert_int_equal(r->out.err, 0);
	run_free(r);
}

static void test_no_reply_error(void **state)
{
	static const struct fp_step script[] = {
	    SYNC,
	    {FP_RECV, "guest-shutdown"},
	    {FP_SEND, "{\"error\": {\"class\": \"GenericError\", \"desc\": \"denied\"}}\n"},
	    {FP_END, NULL},
	};
	struct run *r = command_script(script, "guest-shutdown", true, 5000);

	assert_int_equal(r->out.err, -EREMOTEIO);
	assert_string_equal(r->out.message, "guest agent: denied");
	run_free(r);
}

static void test_missing_socket(void **state)
{
	struct run *r = run_new(NULL);

	assert_int_equal(qga_command(r->base, "/nonexistent/qga.sock", "guest-ping", NULL, false,
				     1000, on_reply, r),
			 0);
	/* Reported from the loop, never from inside the call. */
	assert_false(r->out.done);
	run_wait(r);
	assert_int_equal(r->out.err, -ENOENT);
	assert_string_equal(r->out.message,
			    "the guest agent socket does not exist (is the VM running?)");
	run_free(r);
}

static void test_refused_socket(void **state)
{
	/* A socket file nobody listens on: what a dead QEMU leaves behind. */
	char dir[] = "/tmp/warren-test-XXXXXX";
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct run *r = run_new(NULL);
	int fd;

	assert_non_null(mkdtemp(dir));
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/qga.sock", dir);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	close(fd);
	assert_int_equal(
	    qga_command(r->base, sa.sun_path, "guest-ping", NULL, false, 1000, on_reply, r), 0);
	run_wait(r);
	assert_int_equal(r->out.err, -ECONNREFUSED);
	assert_non_null(strstr(r->out.message, "QEMU is not running"));
	unlink(sa.sun_path);
	rmdir(dir);
	run_free(r);
}

static void test_bad_arguments(void **state)
{
	struct run *r = run_new(NULL);
	char *const empty[] = {NULL};

	assert_int_equal(qga_exec(r->base, "/x", empty, 1000, on_exec, r), -EINVAL);
	assert_int_equal(
	    qga_command(r->base, "/x", "guest-ping", json_array(), false, 1000, on_reply, r),
	    -EINVAL);
	assert_int_equal(qga_command(r->base, "/x", "guest-ping", NULL, false, 0, on_reply, r),
			 -EINVAL);
	run_free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_sync_then_command),
	    cmocka_unit_test(test_silent_agent_fails_before_a_long_command_timeout),
	    cmocka_unit_test(test_stale_replies_before_sync),
	    cmocka_unit_test(test_exec_with_output),
	    cmocka_unit_test(test_exec_with_input),
	    cmocka_unit_test(test_exec_killed_by_signal),
	    cmocka_unit_test(test_exec_output_capped),
	    cmocka_unit_test(test_exec_bad_base64),
	    cmocka_unit_test(test_exec_agent_error),
	    cmocka_unit_test(test_silent_agent_times_out),
	    cmocka_unit_test(test_exec_times_out_after_start),
	    cmocka_unit_test(test_malformed_reply),
	    cmocka_unit_test(test_agent_hangs_up),
	    cmocka_unit_test(test_no_reply_silence_is_success),
	    cmocka_unit_test(test_no_reply_hang_up_is_success),
	    cmocka_unit_test(test_no_reply_error),
	    cmocka_unit_test(test_missing_socket),
	    cmocka_unit_test(test_refused_socket),
	    cmocka_unit_test(test_bad_arguments),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
