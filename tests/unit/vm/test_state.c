/*
 * Unit tests for vm/state.c: every state against every action, with and
 * without force, against a table written out here independently of the
 * one in state.c, plus the names and the hints clients see.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

#include "vm/vm.h"

/* The intended rules, one row per action; columns in enum vm_state order:
 * stopped starting running paused stopping crashed suspending suspended
 * incoming (nothing is allowed while a VM is migrated in). */
/* clang-format off */
static const bool allowed[_VM_ACTION_MAX][_VM_STATE_MAX] = {
	[VM_ACTION_START]    = {1, 0, 0, 0, 0, 1, 0, 1},
	[VM_ACTION_SHUTDOWN] = {0, 0, 1, 1, 0, 0, 0, 0},
	[VM_ACTION_POWEROFF] = {0, 1, 1, 1, 1, 0, 1, 0},
	[VM_ACTION_REBOOT]   = {0, 0, 1, 0, 0, 0, 0, 0},
	[VM_ACTION_RESET]    = {0, 0, 1, 0, 0, 0, 0, 0},
	[VM_ACTION_PAUSE]    = {0, 0, 1, 0, 0, 0, 0, 0},
	[VM_ACTION_RESUME]   = {0, 0, 0, 1, 0, 0, 0, 0},
	[VM_ACTION_DELETE]   = {1, 0, 0, 0, 0, 1, 0, 1},
	[VM_ACTION_EXEC]     = {0, 0, 1, 0, 0, 0, 0, 0},
	[VM_ACTION_CONSOLE]  = {0, 0, 1, 1, 0, 0, 0, 0},
	[VM_ACTION_SUSPEND]  = {0, 0, 1, 1, 0, 0, 0, 0},
};

static const char *const state_names[] = {
	"stopped", "starting", "running", "paused", "stopping", "crashed",
	"suspending", "suspended", "incoming",
};
static const char *const action_names[] = {
	"start", "shutdown", "poweroff", "reboot", "reset",
	"pause", "resume", "delete", "exec", "console", "suspend",
};
/* clang-format on */

static void test_state_table(void **state)
{
	char want[128];

	for (int a = 0; a < _VM_ACTION_MAX; a++)
		for (int s = 0; s < _VM_STATE_MAX; s++)
			for (int force = 0; force <= 1; force++) {
				struct werr err = {0};
				bool ok = allowed[a][s] || (force && a == VM_ACTION_DELETE);
				int r = vm_action_check("web1", (enum vm_state)s, (enum vm_action)a,
							force, &err);

				if (ok != (r == 0))
					fail_msg("%s in state %s (force %d): got %d, want %s",
						 action_names[a], state_names[s], force, r,
						 ok ? "allowed" : "refused");
				if (ok)
					continue;
				assert_int_equal(r, -EBUSY);
				assert_string_equal(err.code, "conflict");
				snprintf(want, sizeof(want), "cannot %s web1: it is %s",
					 action_names[a], state_names[s]);
				if (strncmp(err.message, want, strlen(want)) != 0)
					fail_msg("'%s' does not start with '%s'", err.message,
						 want);
			}
}

static void expect_message(enum vm_state s, enum vm_action a, const char *message)
{
	struct werr err;

	assert_int_equal(vm_action_check("web1", s, a, false, &err), -EBUSY);
	assert_string_equal(err.message, message);
}

static void test_state_hints(void **state)
{
	expect_message(VM_STOPPED, VM_ACTION_PAUSE,
		       "cannot pause web1: it is stopped (start it first)");
	expect_message(VM_CRASHED, VM_ACTION_EXEC,
		       "cannot exec web1: it is crashed (start it first)");
	expect_message(VM_RUNNING, VM_ACTION_DELETE,
		       "cannot delete web1: it is running (stop it first, or use --force to delete "
		       "it anyway)");
	expect_message(VM_PAUSED, VM_ACTION_START,
		       "cannot start web1: it is paused (resume it instead)");
	expect_message(VM_PAUSED, VM_ACTION_REBOOT,
		       "cannot reboot web1: it is paused (resume it first)");
	expect_message(VM_PAUSED, VM_ACTION_PAUSE, "cannot pause web1: it is paused");
	expect_message(VM_RUNNING, VM_ACTION_START, "cannot start web1: it is running");
	expect_message(VM_STARTING, VM_ACTION_START, "cannot start web1: it is starting");
	expect_message(VM_RUNNING, VM_ACTION_RESUME, "cannot resume web1: it is running");
	expect_message(VM_STOPPING, VM_ACTION_SHUTDOWN,
		       "cannot shutdown web1: it is stopping (use poweroff to stop it at once)");
	expect_message(VM_STOPPING, VM_ACTION_START,
		       "cannot start web1: it is stopping (wait until it has stopped)");
	expect_message(VM_STARTING, VM_ACTION_EXEC,
		       "cannot exec web1: it is starting (wait until it is running)");
	expect_message(VM_SUSPENDED, VM_ACTION_EXEC,
		       "cannot exec web1: it is suspended (start it to resume the guest)");
	expect_message(VM_SUSPENDED, VM_ACTION_SUSPEND, "cannot suspend web1: it is suspended");

	struct werr err;
	assert_int_equal(vm_action_check("web1", _VM_STATE_MAX, VM_ACTION_START, false, &err),
			 -EINVAL);
	assert_int_equal(vm_action_check("web1", VM_RUNNING, _VM_ACTION_MAX, false, NULL), -EINVAL);
}

static void test_state_names(void **state)
{
	enum vm_state s;

	for (int i = 0; i < _VM_STATE_MAX; i++) {
		assert_string_equal(vm_state_to_string((enum vm_state)i), state_names[i]);
		assert_int_equal(vm_state_from_string(state_names[i], &s), 0);
		assert_int_equal(s, i);
	}
	s = VM_PAUSED;
	assert_int_equal(vm_state_from_string("Running", &s), -EINVAL);
	assert_int_equal(vm_state_from_string("", &s), -EINVAL);
	assert_int_equal(vm_state_from_string(NULL, &s), -EINVAL);
	assert_int_equal(s, VM_PAUSED);
	assert_string_equal(vm_state_to_string(_VM_STATE_MAX), "unknown");

	assert_false(vm_state_is_active(VM_STOPPED));
	assert_true(vm_state_is_active(VM_STARTING));
	assert_true(vm_state_is_active(VM_RUNNING));
	assert_true(vm_state_is_active(VM_PAUSED));
	assert_true(vm_state_is_active(VM_STOPPING));
	assert_false(vm_state_is_active(VM_CRASHED));
	assert_true(vm_state_is_active(VM_SUSPENDING));
	assert_false(vm_state_is_active(VM_SUSPENDED));
	assert_false(vm_state_is_active(_VM_STATE_MAX));
}

static void test_action_names(void **state)
{
	static const char *const hidden[] = {"delete", "exec", "console", "",
					     "START",  "stop", "start ",  "\xff\x01"};
	enum vm_action a;
	struct werr err;

	for (int i = 0; i < _VM_ACTION_MAX; i++)
		assert_string_equal(vm_action_to_string((enum vm_action)i), action_names[i]);
	assert_string_equal(vm_action_to_string(_VM_ACTION_MAX), "unknown");
	/* The first seven and suspend are reachable as /actions/{name}. */
	for (int i = VM_ACTION_START; i <= VM_ACTION_RESUME; i++) {
		assert_int_equal(vm_action_from_string(action_names[i], &a, &err), 0);
		assert_int_equal(a, i);
	}
	assert_int_equal(vm_action_from_string("suspend", &a, &err), 0);
	assert_int_equal(a, VM_ACTION_SUSPEND);
	for (size_t i = 0; i < ARRAY_SIZE(hidden); i++) {
		a = VM_ACTION_EXEC;
		assert_int_equal(vm_action_from_string(hidden[i], &a, &err), -EINVAL);
		assert_int_equal(a, VM_ACTION_EXEC);
		assert_string_equal(err.code, "invalid");
		assert_string_equal(err.field, "action");
		if (!strstr(err.message, "valid actions are start, shutdown, poweroff, reboot, "
					 "reset, pause, resume, suspend"))
			fail_msg("unexpected message '%s'", err.message);
	}
	assert_string_equal(err.message, "unknown action '\\xff\\x01'; valid actions are start, "
					 "shutdown, poweroff, reboot, reset, pause, resume, suspend");
	assert_int_equal(vm_action_from_string(NULL, &a, NULL), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_state_table),
		cmocka_unit_test(test_state_hints),
		cmocka_unit_test(test_state_names),
		cmocka_unit_test(test_action_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
