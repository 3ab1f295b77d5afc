/* Unit tests for cli/view.c: the table forms of VMs, events and the host,
 * as golden strings, including the fields a daemon may leave out. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <string.h>

#include "cli/cli.h"
#include "render.h"

#define T0 "1700000000000" /* 2023-11-14 22:13:20 UTC */

static void assert_render(void (*fn)(FILE *f, json_t *j), const char *json, const char *expected)
{
	_cleanup_free_ char *out = render(fn, json);

	assert_string_equal(out, expected);
}

static void test_vm_list(void **state)
{
	assert_render(
	    view_vm_list,
	    "{\"vms\": ["
	    " {\"name\": \"web1\", \"state\": \"running\", \"cpus\": 2, \"memory\": 268435456,"
	    "  \"uptime_seconds\": 192},"
	    " {\"name\": \"database\", \"state\": \"stopped\", \"cpus\": 16,"
	    "  \"memory\": 1610612736, \"uptime_seconds\": 500},"
	    " {\"name\": \"p\", \"state\": \"paused\", \"cpus\": 1, \"memory\": \"512M\","
	    "  \"uptime_seconds\": 7380},"
	    " {\"name\": \"odd\"}]}",
	    "NAME      STATE    CPUS  MEMORY  UPTIME\n"
	    "web1      running  2     256M    3m12s\n"
	    "database  stopped  16    1.5G    -\n"
	    "p         paused   1     512M    2h03m\n"
	    "odd       -        -     -       -\n");
	assert_render(view_vm_list, "{\"vms\": []}", "NAME  STATE  CPUS  MEMORY  UPTIME\n");
}

static void test_vm_show(void **state)
{
	assert_render(
	    view_vm_show,
	    "{\"id\": \"a1b2\", \"name\": \"web1\", \"state\": \"running\", \"cpus\": 2,"
	    " \"memory\": 536870912, \"pid\": 4242, \"created_at\": " T0 ","
	    " \"started_at\": " T0 ", \"uptime_seconds\": 65, \"crash\": null,"
	    " \"spec\": {\"kernel\": \"/img/vmlinuz\", \"initrd\": null,"
	    "  \"cmdline\": \"console=ttyS0\", \"serial\": true,"
	    "  \"disks\": [{\"name\": \"root\", \"size\": 2147483648, \"bus\": \"virtio\","
	    "              \"image\": \"/img/base.qcow2\", \"readonly\": false},"
	    "             {\"name\": \"seed\", \"size\": null, \"image\": \"/img/seed\","
	    "              \"readonly\": true}],"
	    "  \"labels\": {\"env\": \"prod\"}}}",
	    "name: web1\n"
	    "id: a1b2\n"
	    "state: running\n"
	    "cpus: 2\n"
	    "memory: 512M\n"
	    "uptime: 1m05s\n"
	    "pid: 4242\n"
	    "created: 2023-11-14 22:13:20\n"
	    "started: 2023-11-14 22:13:20\n"
	    "kernel: /img/vmlinuz\n"
	    "cmdline: console=ttyS0\n"
	    "serial: on\n"
	    "disks:\n"
	    "  root: size=2G bus=virtio image=/img/base.qcow2\n"
	    "  seed: image=/img/seed readonly\n"
	    "labels:\n"
	    "  env: prod\n");
}

static void test_vm_show_crashed(void **state)
{
	assert_render(
	    view_vm_show,
	    "{\"name\": \"db\", \"state\": \"crashed\", \"memory\": \"1G\", \"pid\": null,"
	    " \"started_at\": 0, \"uptime_seconds\": 12,"
	    " \"spec\": {\"serial\": false, \"disks\": [], \"labels\": {}},"
	    " \"crash\": {\"log\": \"qemu: killed\\nlast words\\n\"}}",
	    "name: db\n"
	    "state: crashed\n"
	    "memory: 1G\n"
	    "serial: off\n"
	    "crash log:\n"
	    "  qemu: killed\n"
	    "  last words\n");
}

static const char events_json[] =
    "{\"events\": ["
    " {\"seq\": 1, \"time\": " T0 ", \"vm\": \"web1\", \"type\": \"state\","
    "  \"state\": \"running\", \"previous\": \"starting\"},"
    " {\"seq\": 2, \"time\": " T0 ", \"vm\": \"web1\", \"type\": \"action\","
    "  \"action\": \"shutdown\", \"result\": \"ok\", \"uid\": 1000},"
    " {\"seq\": 3, \"vm\": \"db\", \"type\": \"state\", \"state\": \"crashed\"}]}";

static void test_events(void **state)
{
	assert_render(view_events, events_json,
		      "TIME                 VM    TYPE    DETAIL\n"
		      "2023-11-14 22:13:20  web1  state   starting -> running\n"
		      "2023-11-14 22:13:20  web1  action  shutdown ok (uid 1000)\n"
		      "-                    db    state   crashed\n");
}

static void event_lines(FILE *f, json_t *reply)
{
	size_t i;
	json_t *ev;

	json_array_foreach(json_object_get(reply, "events"), i, ev) view_event_line(f, ev);
}

static void test_event_lines(void **state)
{
	assert_render(event_lines, events_json,
		      "2023-11-14 22:13:20  web1              state   starting -> running\n"
		      "2023-11-14 22:13:20  web1              action  shutdown ok (uid 1000)\n"
		      "-  db                state   crashed\n");
}

static void test_host(void **state)
{
	assert_render(
	    view_host,
	    "{\"version\": \"0.1.0\", \"hostname\": \"box\", \"cpus\": 8,"
	    " \"memory\": 17179869184, \"accel\": {\"kind\": \"tcg\","
	    " \"reason\": \"/dev/kvm is absent\"}, \"vms\": {\"defined\": 3, \"active\": 1}}",
	    "version: 0.1.0\n"
	    "hostname: box\n"
	    "cpus: 8\n"
	    "memory: 16G\n"
	    "accel: tcg (/dev/kvm is absent)\n"
	    "vms: 3 defined, 1 active\n");
	assert_render(view_host, "{\"accel\": {\"kind\": \"kvm\", \"reason\": \"\"}}",
		      "accel: kvm\n");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_vm_list),	    cmocka_unit_test(test_vm_show),
	    cmocka_unit_test(test_vm_show_crashed), cmocka_unit_test(test_events),
	    cmocka_unit_test(test_event_lines),	    cmocka_unit_test(test_host),
	};

	render_utc();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
