/*
 * state: the VM state machine as data. One table says what each state is
 * called and whether QEMU lives in it; another says, per action, in which
 * states it may be taken and what to tell a client who tries it elsewhere.
 * Changing a rule is editing a row; there is no switch to keep in step.
 */
#include <string.h>

#include "vm/vm-private.h"
#include "vm/vm.h"

#define S(state) (1u << (state))

struct state_info {
	const char *name;
	bool active; /* a QEMU process belongs to the VM */
	/* What to tell a client whose action this state refuses, unless the
	 * action has its own hint; NULL for nothing. */
	const char *hint;
};

/* The tables are laid out by hand, one block per row; clang-format would
 * re-indent them out of recognition. */
/* clang-format off */
static const struct state_info states[_VM_STATE_MAX] = {
	[VM_STOPPED]  = {.name = "stopped",  .hint = "(start it first)"},
	[VM_STARTING] = {.name = "starting", .active = true, .hint = "(wait until it is running)"},
	[VM_RUNNING]  = {.name = "running",  .active = true},
	[VM_PAUSED]   = {.name = "paused",   .active = true, .hint = "(resume it first)"},
	[VM_STOPPING] = {.name = "stopping", .active = true, .hint = "(wait until it has stopped)"},
	[VM_CRASHED]  = {.name = "crashed",  .hint = "(start it first)"},
	[VM_SUSPENDING] = {.name = "suspending", .active = true,
			   .hint = "(wait until it is suspended)"},
	[VM_SUSPENDED]  = {.name = "suspended", .hint = "(start it to resume the guest)"},
	[VM_INCOMING]   = {.name = "incoming", .active = true,
			   .hint = "(it is being migrated here; wait until the migration ends)"},
};

#define DELETE_HINT "(stop it first, or use --force to delete it anyway)"

struct action_rule {
	const char *name;
	bool api;         /* reachable as /v1/vms/{name}/actions/{name} */
	unsigned allowed; /* S(state) for each state the action may be taken in */
	/* Per-state hints replacing the state's own; "" for no hint at all. */
	const char *hint[_VM_STATE_MAX];
};

static const struct action_rule actions[_VM_ACTION_MAX] = {
	[VM_ACTION_START] = {
		.name = "start", .api = true,
		.allowed = S(VM_STOPPED) | S(VM_CRASHED) | S(VM_SUSPENDED),
		.hint = {[VM_STARTING] = "", [VM_PAUSED] = "(resume it instead)"},
	},
	[VM_ACTION_SHUTDOWN] = {
		.name = "shutdown", .api = true,
		.allowed = S(VM_RUNNING) | S(VM_PAUSED),
		.hint = {[VM_STOPPING] = "(use poweroff to stop it at once)"},
	},
	/* Also from starting and stopping: poweroff is the way out of a boot
	 * or an ACPI shutdown that hangs. */
	[VM_ACTION_POWEROFF] = {
		.name = "poweroff", .api = true,
		.allowed = S(VM_RUNNING) | S(VM_PAUSED) | S(VM_STARTING) | S(VM_STOPPING) |
			   S(VM_SUSPENDING),
	},
	[VM_ACTION_REBOOT] = {
		.name = "reboot", .api = true,
		.allowed = S(VM_RUNNING),
	},
	[VM_ACTION_RESET] = {
		.name = "reset", .api = true,
		.allowed = S(VM_RUNNING),
	},
	[VM_ACTION_PAUSE] = {
		.name = "pause", .api = true,
		.allowed = S(VM_RUNNING),
		.hint = {[VM_PAUSED] = ""},
	},
	[VM_ACTION_RESUME] = {
		.name = "resume", .api = true,
		.allowed = S(VM_PAUSED),
	},
	/* force lifts the state rule entirely; see vm_action_check. */
	[VM_ACTION_DELETE] = {
		.name = "delete",
		.allowed = S(VM_STOPPED) | S(VM_CRASHED) | S(VM_SUSPENDED),
		.hint = {[VM_STARTING] = DELETE_HINT, [VM_RUNNING] = DELETE_HINT,
			 [VM_PAUSED] = DELETE_HINT, [VM_STOPPING] = DELETE_HINT,
			 [VM_SUSPENDING] = DELETE_HINT},
	},
	[VM_ACTION_EXEC] = {
		.name = "exec",
		.allowed = S(VM_RUNNING),
	},
	/* A paused guest's console still shows its scrollback and takes input
	 * that is read on resume. */
	[VM_ACTION_CONSOLE] = {
		.name = "console",
		.allowed = S(VM_RUNNING) | S(VM_PAUSED),
	},
	/* Saves memory and device state to disk and stops QEMU. */
	[VM_ACTION_SUSPEND] = {
		.name = "suspend", .api = true,
		.allowed = S(VM_RUNNING) | S(VM_PAUSED),
		.hint = {[VM_SUSPENDED] = ""},
	},
};
/* clang-format on */

const char *vm_state_to_string(enum vm_state s)
{
	if ((unsigned)s >= _VM_STATE_MAX)
		return "unknown";
	return states[s].name;
}

int vm_state_from_string(const char *s, enum vm_state *ret)
{
	for (unsigned i = 0; s && i < _VM_STATE_MAX; i++)
		if (strcmp(s, states[i].name) == 0) {
			*ret = (enum vm_state)i;
			return 0;
		}
	return -EINVAL;
}

bool vm_state_is_active(enum vm_state s)
{
	return (unsigned)s < _VM_STATE_MAX && states[s].active;
}

const char *vm_action_to_string(enum vm_action a)
{
	if ((unsigned)a >= _VM_ACTION_MAX)
		return "unknown";
	return actions[a].name;
}

int vm_action_from_string(const char *s, enum vm_action *ret, struct werr *err)
{
	char valid[128] = "", e[VM_ESCAPE_SIZE];
	size_t o = 0;

	for (unsigned i = 0; i < _VM_ACTION_MAX; i++) {
		if (!actions[i].api)
			continue;
		if (s && strcmp(s, actions[i].name) == 0) {
			*ret = (enum vm_action)i;
			return 0;
		}
		if (o < sizeof(valid))
			o += (size_t)snprintf(valid + o, sizeof(valid) - o, "%s%s", o ? ", " : "",
					      actions[i].name);
	}
	if (!s)
		s = "";
	return werr_set(err, -EINVAL, "invalid", "action",
			"unknown action '%s'; valid actions are %s",
			vm_escape(s, strlen(s), e, sizeof(e)), valid);
}

int vm_action_check(const char *name, enum vm_state s, enum vm_action a, bool force,
		    struct werr *err)
{
	if ((unsigned)s >= _VM_STATE_MAX || (unsigned)a >= _VM_ACTION_MAX)
		return werr_set(err, -EINVAL, "internal", "", "unknown state %d or action %d",
				(int)s, (int)a);
	const struct action_rule *rule = &actions[a];
	if (rule->allowed & S(s))
		return 0;
	if (a == VM_ACTION_DELETE && force)
		return 0;

	const char *hint = rule->hint[s] ? rule->hint[s] : states[s].hint;
	if (!hint)
		hint = "";
	return werr_set(err, -EBUSY, "conflict", "", "cannot %s %s: it is %s%s%s", rule->name,
			name ? name : "the VM", states[s].name, hint[0] ? " " : "", hint);
}
