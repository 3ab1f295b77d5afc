/* Unit tests for cli/view.c: the table forms of VMs, events, the host,
 * operations, snapshots, networks and NICs, as golden strings, including the fields a
 * daemon may leave out. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <string.h>

#include "cli/cli.h"
#include "render.h"

#define T0 "1700000000000" /* 2023-11-14 22:13:20 UTC */

static void test_vm_list(void **state)
{
	assert_render(
	    view_vm_list,
	    "{\"vms\": ["
	    " {\"name\": \"web1\", \"state\": \"running\", \"cpus\": 2, \"memory\": 268435456,"
	    "  \"uptime_seconds\": 192,"
	    "  \"nics\": [{\"name\": \"nic0\", \"addresses\": [\"10.0.0.5\", "
	    "\"fe80::5057:ff:fe00:1\"]},"
	    "            {\"name\": \"nic1\", \"addresses\": [\"10.1.0.7\", \"10.1.0.8\"]}]},"
	    " {\"name\": \"database\", \"state\": \"stopped\", \"cpus\": 16,"
	    "  \"memory\": 1610612736, \"uptime_seconds\": 500,"
	    "  \"nics\": [{\"name\": \"nic0\", \"ip\": \"10.0.0.9\", \"addresses\": []}]},"
	    " {\"name\": \"p\", \"state\": \"paused\", \"cpus\": 1, \"memory\": \"512M\","
	    "  \"uptime_seconds\": 7380, \"nics\": []},"
	    " {\"name\": \"odd\", \"nics\": [{\"addresses\": null}, 7, {\"addresses\": [3]}]}]}",
	    "NAME      STATE    CPUS  MEMORY  UPTIME  ADDRESSES\n"
	    "web1      running  2     256M    3m12s   10.0.0.5,10.1.0.7,10.1.0.8\n"
	    "database  stopped  16    1.5G    -       -\n"
	    "p         paused   1     512M    2h03m   -\n"
	    "odd       -        -     -       -       -\n");
	assert_render(view_vm_list, "{\"vms\": []}",
		      "NAME  STATE  CPUS  MEMORY  UPTIME  ADDRESSES\n");
}

/* Eight NICs with two addresses each fill more than a cell holds: the
 * addresses that fit are shown whole. */
static void test_vm_list_many_addresses(void **state)
{
	_cleanup_free_ char *json = NULL, *out = NULL;
	char nics[4096] = "";
	size_t used = 0;
	const char *row;

	for (int i = 0; i < 8; i++)
		used +=
		    (size_t)snprintf(nics + used, sizeof(nics) - used,
				     "%s{\"addresses\": [\"192.168.%d.101\", \"192.168.%d.102\"]}",
				     i ? "," : "", 100 + i, 100 + i);
	assert_true(asprintf(&json, "{\"vms\": [{\"name\": \"w\", \"nics\": [%s]}]}", nics) > 0);
	out = render(view_vm_list, json);
	row = strchr(out, '\n') + 1;
	assert_non_null(strstr(row, " 192.168.100.101,192.168.100.102,"));
	assert_true(strlen(row) < 256 + 40);
	/* Ends with a whole address. */
	assert_memory_equal(row + strlen(row) - 5, ".102\n", 5);
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

static void test_vm_show_resources(void **state)
{
	assert_render(
	    view_vm_show,
	    "{\"name\": \"db\", \"state\": \"stopped\", \"cpus\": 2, \"memory\": 1073741824,"
	    " \"spec\": {\"serial\": true,"
	    "  \"resources\": {\"cpu_weight\": 400, \"cpu_limit\": 1.5,"
	    "   \"memory_limit\": 1476395008, \"memory_reservation\": 536870912,"
	    "   \"pin\": [2, 3]},"
	    "  \"security\": \"trusted\", \"performance\": \"latency\","
	    "  \"disks\": [{\"name\": \"root\", \"size\": 2147483648, \"bus\": \"virtio\","
	    "              \"image\": null, \"readonly\": false, \"iops\": 200,"
	    "              \"bps\": 52428800},"
	    "             {\"name\": \"seed\", \"size\": 1048576, \"image\": null,"
	    "              \"readonly\": true, \"iops\": null, \"bps\": 1000}],"
	    "  \"labels\": {}}}",
	    "name: db\n"
	    "state: stopped\n"
	    "cpus: 2\n"
	    "memory: 1G\n"
	    "serial: on\n"
	    "resources: cpu_weight=400 cpu_limit=1.5 memory_limit=1.4G memory_reservation=512M "
	    "pin=2,3\n"
	    "security: trusted\n"
	    "performance: latency\n"
	    "disks:\n"
	    "  root: size=2G bus=virtio iops=200 bps=50M\n"
	    "  seed: size=1M bps=1000B readonly\n");

	/* The canonical form with nothing set but the weight; an older daemon
	 * that has no resources at all. */
	assert_render(view_vm_show,
		      "{\"name\": \"a\", \"memory\": \"1G\","
		      " \"spec\": {\"resources\": {\"cpu_weight\": 100,"
		      " \"cpu_limit\": null, \"memory_limit\": null, \"memory_reservation\": null,"
		      " \"pin\": null}, \"security\": \"strict\", \"performance\": \"balanced\"}}",
		      "name: a\n"
		      "memory: 1G\n"
		      "resources: cpu_weight=100\n"
		      "security: strict\n"
		      "performance: balanced\n");
	assert_render(view_vm_show,
		      "{\"name\": \"b\", \"memory\": 0,"
		      " \"spec\": {\"resources\": {\"cpu_weight\": null}}}",
		      "name: b\n"
		      "memory: 0B\n");
	/* A VM in a migration says where it goes. */
	assert_render(view_vm_show,
		      "{\"name\": \"c\", \"memory\": 0, \"migration\": {\"id\": \"ab12\", \"role\": \"source\","
		      " \"peer\": \"unix:/b.sock\", \"phase\": \"transferring\"}}",
		      "name: c\n"
		      "memory: 0B\n"
		      "migration: to unix:/b.sock transferring (ab12)\n");
}

#define NIC0                                                                                       \
	"{\"name\": \"nic0\", \"network\": \"lan\", \"mac\": \"52:57:00:12:34:56\","               \
	" \"ip\": \"10.0.0.5\", \"ip_auto\": true, \"mtu\": null, \"rate\": \"10Mbit\","           \
	" \"model\": \"virtio\", \"trust\": false, \"link\": \"up\", \"vlan\": null,"              \
	" \"tap\": \"wt0123456789n0\", \"addresses\": [\"10.0.0.5\", \"fe80::1\"],"                \
	" \"addresses_from\": \"agent\"}"
#define NIC1                                                                                       \
	"{\"name\": \"nic1\", \"network\": \"dmz\", \"mac\": \"52:57:00:ab:cd:ef\","               \
	" \"ip\": null, \"ip_auto\": false, \"mtu\": 9000, \"rate\": null, \"model\": \"e1000\","  \
	" \"trust\": true, \"link\": \"down\", \"vlan\": 42, \"tap\": \"wt0123456789n1\","         \
	" \"addresses\": [], \"addresses_from\": null}"

static void test_vm_show_nics(void **state)
{
	assert_render(
	    view_vm_show,
	    "{\"name\": \"web1\", \"state\": \"running\", \"memory\": 536870912, \"nics\": [" NIC0
	    "," NIC1 "],"
	    " \"spec\": {\"disks\": [{\"name\": \"root\", \"size\": 1073741824}],"
	    "  \"nics\": [{\"name\": \"nic0\", \"network\": \"other\"}],"
	    "  \"labels\": {\"env\": \"prod\"}}}",
	    "name: web1\n"
	    "state: running\n"
	    "memory: 512M\n"
	    "disks:\n"
	    "  root: size=1G\n"
	    "nics:\n"
	    "  NAME  NETWORK  MAC                IP        ADDRESSES         MODEL   RATE    "
	    "LINK  TRUST  VLAN\n"
	    "  nic0  lan      52:57:00:12:34:56  10.0.0.5  10.0.0.5 (agent)  virtio  10Mbit  "
	    "up    off    -\n"
	    "  nic1  dmz      52:57:00:ab:cd:ef  -         -                 e1000   -       "
	    "down  on     42\n"
	    "labels:\n"
	    "  env: prod\n");
	/* Without the VM's own list, the spec's NICs as configured. */
	assert_render(
	    view_vm_show,
	    "{\"name\": \"a\", \"memory\": \"1G\", \"spec\": {\"nics\": [{\"name\": \"nic0\","
	    " \"network\": \"lan\", \"mac\": \"52:57:00:00:00:01\", \"ip\": \"10.0.0.9\","
	    " \"model\": \"virtio\", \"trust\": false, \"link\": \"up\"}]}}",
	    "name: a\n"
	    "memory: 1G\n"
	    "nics:\n"
	    "  NAME  NETWORK  MAC                IP        ADDRESSES  MODEL   RATE  LINK  TRUST  "
	    "VLAN\n"
	    "  nic0  lan      52:57:00:00:00:01  10.0.0.9  -          virtio  -     up    off    "
	    "-\n");
	/* No NICs: no heading. */
	assert_render(view_vm_show, "{\"name\": \"b\", \"memory\": 0, \"nics\": []}",
		      "name: b\n"
		      "memory: 0B\n");
}

static void test_nic_list(void **state)
{
	assert_render(
	    view_nic_list, "{\"nics\": [" NIC0 "," NIC1 "]}",
	    "NAME  NETWORK  MAC                IP        ADDRESSES  MODEL   RATE    LINK  "
	    "TRUST\n"
	    "nic0  lan      52:57:00:12:34:56  10.0.0.5  10.0.0.5   virtio  10Mbit  up    "
	    "off\n"
	    "nic1  dmz      52:57:00:ab:cd:ef  -         -          e1000   -       down  "
	    "on\n");
	assert_render(view_nic_list, "{\"nics\": []}",
		      "NAME  NETWORK  MAC  IP  ADDRESSES  MODEL  RATE  LINK  TRUST\n");
}

static void test_nic_show(void **state)
{
	assert_render(view_nic_show, NIC0,
		      "name: nic0\n"
		      "network: lan\n"
		      "mac: 52:57:00:12:34:56\n"
		      "ip: 10.0.0.5 (chosen by warrend)\n"
		      "addresses: 10.0.0.5 (from agent)\n"
		      "model: virtio\n"
		      "rate: 10Mbit\n"
		      "link: up\n"
		      "trust: off\n"
		      "tap: wt0123456789n0\n");
	assert_render(view_nic_show, NIC1,
		      "name: nic1\n"
		      "network: dmz\n"
		      "mac: 52:57:00:ab:cd:ef\n"
		      "model: e1000\n"
		      "mtu: 9000\n"
		      "link: down\n"
		      "trust: on\n"
		      "vlan: 42\n"
		      "tap: wt0123456789n1\n");
	assert_render(view_nic_removed, "{\"vm\": \"web1\", \"nic\": \"nic1\", \"removed\": true}",
		      "web1: nic1 removed\n");
}

#define LAN                                                                                        \
	"{\"name\": \"lan\", \"subnet\": \"10.0.0.0/24\", \"gateway\": \"10.0.0.1\","              \
	" \"dhcp\": true, \"nat\": true, \"mtu\": 1500, \"vlan\": null, \"uplink\": null,"         \
	" \"bridge\": \"wn1\", \"segments\": [{\"bridge\": \"wn1\", \"vlan\": null,"               \
	" \"present\": true}, {\"bridge\": \"wn1v42\", \"vlan\": 42, \"present\": false}],"        \
	" \"nics\": [{\"vm\": \"web1\", \"nic\": \"nic0\", \"mac\": \"52:57:00:12:34:56\","        \
	" \"ip\": \"10.0.0.5\", \"vlan\": null}, {\"vm\": \"database\", \"nic\": \"nic1\","        \
	" \"mac\": \"52:57:00:ab:cd:ef\", \"ip\": \"10.0.0.17\", \"vlan\": 42}],"                  \
	" \"vlan_mode\": \"separate-bridges\", \"dnsmasq\": {\"running\": true, \"pid\": 4242},"   \
	" \"created_at\": \"2026-11-23T10:00:00.123Z\"}"
#define DMZ                                                                                        \
	"{\"name\": \"dmz\", \"subnet\": \"192.168.50.0/28\", \"gateway\": \"192.168.50.14\","     \
	" \"dhcp\": false, \"nat\": false, \"mtu\": 9000, \"vlan\": 100, \"uplink\": \"eth1\","    \
	" \"bridge\": \"wn2\", \"segments\": [{\"bridge\": \"wn2\", \"vlan\": 100,"                \
	" \"present\": true}], \"nics\": [], \"vlan_mode\": \"802.1q\", \"dnsmasq\": null,"        \
	" \"created_at\": \"2026-11-23T11:00:00.000Z\"}"

static void test_network_list(void **state)
{
	assert_render(view_network_list, "{\"networks\": [" LAN "," DMZ ", {\"name\": \"odd\"}]}",
		      "NAME  SUBNET           GATEWAY        DHCP  NAT  MTU   VLAN  NICS\n"
		      "lan   10.0.0.0/24      10.0.0.1       on    on   1500  -     2\n"
		      "dmz   192.168.50.0/28  192.168.50.14  off   off  9000  100   0\n"
		      "odd   -                -              -     -    -     -     -\n");
	assert_render(view_network_list, "{\"networks\": []}",
		      "NAME  SUBNET  GATEWAY  DHCP  NAT  MTU  VLAN  NICS\n");
}

static void test_network_show(void **state)
{
	assert_render(view_network_show, LAN,
		      "name: lan\n"
		      "subnet: 10.0.0.0/24\n"
		      "gateway: 10.0.0.1\n"
		      "dhcp: on\n"
		      "nat: on\n"
		      "mtu: 1500\n"
		      "vlan: none\n"
		      "uplink: none\n"
		      "bridge: wn1\n"
		      "vlan mode: separate-bridges\n"
		      "dnsmasq: running (pid 4242)\n"
		      "created: 2026-11-23 10:00:00 UTC\n"
		      "segments:\n"
		      "  wn1: untagged, present\n"
		      "  wn1v42: vlan 42, missing\n"
		      "nics:\n"
		      "  VM        NIC   MAC                IP         VLAN\n"
		      "  web1      nic0  52:57:00:12:34:56  10.0.0.5   -\n"
		      "  database  nic1  52:57:00:ab:cd:ef  10.0.0.17  42\n");
	assert_render(view_network_show, DMZ,
		      "name: dmz\n"
		      "subnet: 192.168.50.0/28\n"
		      "gateway: 192.168.50.14\n"
		      "dhcp: off\n"
		      "nat: off\n"
		      "mtu: 9000\n"
		      "vlan: 100\n"
		      "uplink: eth1\n"
		      "bridge: wn2\n"
		      "vlan mode: 802.1q\n"
		      "created: 2026-11-23 11:00:00 UTC\n"
		      "segments:\n"
		      "  wn2: vlan 100, present\n");
	/* A dnsmasq that is not running; fields a daemon left out. */
	assert_render(view_network_show,
		      "{\"name\": \"x\", \"dnsmasq\": {\"running\": false, \"pid\": null}}",
		      "name: x\n"
		      "dnsmasq: not running\n");
	assert_render(view_deleted, "{\"name\": \"lan\", \"deleted\": true}", "lan: deleted\n");
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

static void test_host_resources(void **state)
{
	assert_render(view_host,
		      "{\"version\": \"0.1.0\", \"hostname\": \"box\", \"cpus\": 16,"
		      " \"memory\": 21474836480, \"accel\": {\"kind\": \"kvm\", \"reason\": \"\"},"
		      " \"vms\": {\"defined\": 3, \"active\": 2},"
		      " \"inventory\": {\"cpu\": {\"online\": 16, \"sockets\": 2, \"cores\": 8,"
		      "   \"threads_per_core\": 2, \"model\": \"Intel(R) Xeon(R) Silver 4110\"},"
		      "  \"memory\": {\"total\": 23622320128, \"available\": 12884901888},"
		      "  \"disk\": {\"path\": \"/var/lib/warren\", \"total\": 107374182400,"
		      "   \"free\": 64424509440}},"
		      " \"capacity\": {\"vcpus\": 64, \"memory\": 21474836480, \"cpu_ratio\": 4.0,"
		      "  \"memory_ratio\": 1.0, \"memory_reserved\": 2147483648},"
		      " \"allocated\": {\"vcpus\": 3, \"memory\": 1073741824, \"vms\": 2},"
		      " \"cgroups\": \"v2\", \"config\": \"/etc/warren/warrend.conf\"}",
		      "version: 0.1.0\n"
		      "hostname: box\n"
		      "cpus: 16\n"
		      "memory: 20G\n"
		      "accel: kvm\n"
		      "vms: 3 defined, 2 active\n"
		      "inventory:\n"
		      "  cpu model: Intel(R) Xeon(R) Silver 4110\n"
		      "  cpus: 2 sockets x 4 cores x 2 threads, 16 online\n"
		      "  memory: 22.0 GiB total, 12.0 GiB available\n"
		      "  disk: /var/lib/warren, 100.0 GiB total, 60.0 GiB free\n"
		      "capacity:\n"
		      "  vCPUs 3 of 64 allocated (ratio 4.0)\n"
		      "  memory 1.0 GiB of 20.0 GiB allocated (ratio 1.0, 2.0 GiB reserved)\n"
		      "  2 VMs running or suspended\n"
		      "cgroups: v2\n"
		      "config: /etc/warren/warrend.conf\n");

	/* Fractions of vCPUs (a latency VM counts the ratio per vCPU), odd
	 * ratios, a single socket, no model, no config file. */
	assert_render(view_host,
		      "{\"inventory\": {\"cpu\": {\"online\": 1, \"sockets\": 1, \"cores\": 1,"
		      "   \"threads_per_core\": 1, \"model\": \"\"},"
		      "  \"memory\": {\"total\": 1073741824, \"available\": null}, \"disk\": {}},"
		      " \"capacity\": {\"vcpus\": 1.5, \"memory\": 536870912, \"cpu_ratio\": 1.5,"
		      "  \"memory_ratio\": 1.25, \"memory_reserved\": 1073741824},"
		      " \"allocated\": {\"vcpus\": 0.5, \"memory\": 0, \"vms\": 1},"
		      " \"cgroups\": \"none\", \"config\": null}",
		      "inventory:\n"
		      "  cpus: 1 socket x 1 core x 1 thread, 1 online\n"
		      "  memory: 1.0 GiB total\n"
		      "capacity:\n"
		      "  vCPUs 0.5 of 1.5 allocated (ratio 1.5)\n"
		      "  memory 0 B of 512.0 MiB allocated (ratio 1.25, 1.0 GiB reserved)\n"
		      "  1 VM running or suspended\n"
		      "cgroups: none\n"
		      "config: none (defaults)\n");

	/* Sockets of different sizes; vCPU sums that are not whole. */
	assert_render(view_host,
		      "{\"inventory\": {\"cpu\": {\"online\": 12, \"sockets\": 2, \"cores\": 6,"
		      "   \"threads_per_core\": 2}},"
		      " \"capacity\": {\"vcpus\": 48, \"cpu_ratio\": 4},"
		      " \"allocated\": {\"vcpus\": 10.333333}}",
		      "inventory:\n"
		      "  cpus: 2 sockets x 3 cores x 2 threads, 12 online\n"
		      "capacity:\n"
		      "  vCPUs 10.3 of 48 allocated (ratio 4.0)\n");
	assert_render(view_host,
		      "{\"inventory\": {\"cpu\": {\"sockets\": 2, \"cores\": 5,"
		      "   \"threads_per_core\": 1}}}",
		      "inventory:\n"
		      "  cpus: 2 sockets, 5 cores in all x 1 thread\n");
}

#define SNAP(name, parent, extra)                                                                  \
	"{\"id\": \"0123456789abcdef\", \"name\": \"" name "\", \"parent\": " parent ","           \
	" \"created_at\": \"2026-11-23T10:00:00.123Z\", \"memory\": true,"                         \
	" \"vm_state\": \"running\", \"size\": 1610612736, \"memory_size\": 1073741824,"           \
	" \"disk_size\": 536870912" extra "}"

/* s0 ─ s1 ─ s2 ─ s3, s1 ─ s4 (the current one), s0 ─ s5; and a second
 * root, whose parent was deleted. */
#define S0    SNAP("s0", "null", "")
#define S1    SNAP("s1", "\"s0\"", "")
#define S2    SNAP("s2", "\"s1\"", "")
#define S3    SNAP("s3", "\"s2\"", "")
#define S4    SNAP("s4", "\"s1\"", ", \"current\": true")
#define S5    SNAP("s5", "\"s0\"", ", \"memory\": false, \"vm_state\": \"stopped\"")
#define OTHER SNAP("other", "\"gone\"", ", \"size\": 1000")

static void test_snapshot_list_tree(void **state)
{
	assert_render(view_snapshot_list,
		      "{\"snapshots\": [" S0 "," S1 "," S2 "," S3 "," S4 "," S5 "," OTHER "]}",
		      "NAME         CREATED                  MEMORY  VM STATE  SIZE   CURRENT\n"
		      "s0           2026-11-23 10:00:00 UTC  yes     running   1.5G\n"
		      "├─ s1        2026-11-23 10:00:00 UTC  yes     running   1.5G\n"
		      "│  ├─ s2     2026-11-23 10:00:00 UTC  yes     running   1.5G\n"
		      "│  │  └─ s3  2026-11-23 10:00:00 UTC  yes     running   1.5G\n"
		      "│  └─ s4     2026-11-23 10:00:00 UTC  yes     running   1.5G   *\n"
		      "└─ s5        2026-11-23 10:00:00 UTC  no      stopped   1.5G\n"
		      "other        2026-11-23 10:00:00 UTC  yes     running   1000B\n");
}

static void test_snapshot_list_chain(void **state)
{
	/* s1 ─ s2 ─ s3, answered newest first. */
	assert_render(view_snapshot_list,
		      "{\"snapshots\": [" S3 "," S2 "," SNAP("s1", "null", "") "]}",
		      "NAME      CREATED                  MEMORY  VM STATE  SIZE  CURRENT\n"
		      "s1        2026-11-23 10:00:00 UTC  yes     running   1.5G\n"
		      "└─ s2     2026-11-23 10:00:00 UTC  yes     running   1.5G\n"
		      "   └─ s3  2026-11-23 10:00:00 UTC  yes     running   1.5G\n");
	assert_render(view_snapshot_list, "{\"snapshots\": []}",
		      "NAME  CREATED  MEMORY  VM STATE  SIZE  CURRENT\n");
}

static void test_snapshot_list_broken(void **state)
{
	/* A loop of parents and a snapshot that is its own parent still show
	 * every snapshot once; missing fields are "-". */
	assert_render(view_snapshot_list,
		      "{\"snapshots\": [{\"name\": \"a\", \"parent\": \"b\"},"
		      " {\"name\": \"b\", \"parent\": \"a\"}, {\"name\": \"c\", \"parent\": \"c\"},"
		      " 7]}",
		      "NAME  CREATED  MEMORY  VM STATE  SIZE  CURRENT\n"
		      "a     -        -       -         -\n"
		      "└─ b  -        -       -         -\n"
		      "c     -        -       -         -\n"
		      "-     -        -       -         -\n");
}

static void test_snapshot_show(void **state)
{
	assert_render(view_snapshot_show, SNAP("s1", "\"s0\"", ", \"current\": true"),
		      "name: s1\n"
		      "id: 0123456789abcdef\n"
		      "parent: s0\n"
		      "created: 2026-11-23 10:00:00 UTC\n"
		      "memory: yes\n"
		      "vm state: running\n"
		      "size: 1.5G (memory 1G, disk 512M)\n"
		      "current: yes\n");
	assert_render(view_snapshot_show,
		      "{\"name\": \"s0\", \"parent\": null, \"memory\": false, \"size\": 4096}",
		      "name: s0\n"
		      "memory: no\n"
		      "size: 4K\n");
}

static void test_operation_line(void **state)
{
	assert_render(view_operation_line,
		      "{\"id\": \"op-7\", \"vm\": \"web1\", \"action\": \"clone\","
		      " \"status\": \"running\"}",
		      "web1: clone running as operation op-7\n");
	assert_render(view_operation_line,
		      "{\"vm\": \"web1\", \"action\": \"shutdown\", \"status\": \"succeeded\"}",
		      "web1: stopped\n");
	assert_render(view_operation_line,
		      "{\"vm\": \"web1\", \"action\": \"suspend\", \"status\": \"succeeded\"}",
		      "web1: suspend succeeded\n");
	assert_render(view_operation_line, "{}", "action finished\n");
	/* A cluster's operations are on no one VM. */
	assert_render(view_operation_line,
		      "{\"id\": \"0123abcd@b\", \"action\": \"evacuate\", \"status\": \"running\"}",
		      "evacuate running as operation 0123abcd@b\n");
}

static void test_operation_show(void **state)
{
	assert_render(
	    view_operation_show,
	    "{\"id\": \"op-7\", \"vm\": \"web1\", \"action\": \"clone\", \"status\": \"running\","
	    " \"message\": \"cloning to web2\", \"created_at\": \"2026-11-23T10:00:00.123Z\","
	    " \"finished_at\": null, \"error\": null, \"cancellable\": true, \"result\": null,"
	    " \"progress\": {\"percent\": 45.5, \"phase\": \"copying disk root\","
	    "  \"done_bytes\": 1073741824, \"total_bytes\": 2147483648}}",
	    "id: op-7\n"
	    "vm: web1\n"
	    "action: clone\n"
	    "status: running\n"
	    "message: cloning to web2\n"
	    "progress: 45.5%, copying disk root, 1G of 2G\n"
	    "cancellable: yes\n"
	    "created: 2026-11-23 10:00:00 UTC\n");
	assert_render(view_operation_show,
		      "{\"id\": \"op-8\", \"action\": \"snapshot\", \"status\": \"failed\","
		      " \"finished_at\": \"2026-11-23T10:00:05.000Z\", \"cancellable\": false,"
		      " \"progress\": {\"percent\": null, \"phase\": \"\"},"
		      " \"error\": {\"code\": \"no_capacity\", \"message\": \"the disk is full\","
		      "  \"field\": \"\"}}",
		      "id: op-8\n"
		      "action: snapshot\n"
		      "status: failed\n"
		      "cancellable: no\n"
		      "finished: 2026-11-23 10:00:05 UTC\n"
		      "error: the disk is full\n");
	assert_render(
	    view_operation_show,
	    "{\"id\": \"op-9\", \"status\": \"succeeded\", \"progress\": {\"percent\": 100},"
	    " \"result\": {\"vm\": {\"name\": \"web2\"}}}",
	    "id: op-9\n"
	    "status: succeeded\n"
	    "progress: 100%\n"
	    "result: vm web2\n");
}

static void test_operation_show_migration(void **state)
{
	assert_render(
	    view_operation_show,
	    "{\"id\": \"op-10\", \"vm\": \"web1\", \"action\": \"migrate\","
	    " \"status\": \"running\", \"cancellable\": true,"
	    " \"progress\": {\"percent\": 40, \"phase\": \"copying memory\","
	    "  \"done_bytes\": 1073741824, \"total_bytes\": 2147483648,"
	    "  \"details\": {\"transferred_bytes\": 1073741824, \"remaining_bytes\": 1073741824,"
	    "   \"dirty_rate\": 10485760, \"expected_downtime_ms\": 120,"
	    "   \"disk_remaining_bytes\": null}}}",
	    "id: op-10\n"
	    "vm: web1\n"
	    "action: migrate\n"
	    "status: running\n"
	    "progress: 40%, copying memory, 1G of 2G\n"
	    "migration: 1G left, dirtying 10M/s, downtime ~120 ms\n"
	    "cancellable: yes\n");
	assert_render(
	    view_operation_show,
	    "{\"id\": \"op-10\", \"status\": \"succeeded\","
	    " \"result\": {\"migration\": {\"id\": \"m1\", \"vm\": \"web1\","
	    "  \"to\": \"unix:/run/b.sock\", \"mode\": \"offline\", \"storage\": \"copy\","
	    "  \"total_ms\": 2400, \"downtime_ms\": null}}}",
	    "id: op-10\n"
	    "status: succeeded\n"
	    "result: migrated web1 to unix:/run/b.sock (offline, copy storage) in 2.4 s\n");
}

static void test_migration_result(void **state)
{
	assert_render(view_migration_result,
		      "{\"id\": \"m1\", \"vm\": \"web1\", \"to\": \"unix:/run/b.sock\","
		      " \"mode\": \"live\", \"storage\": \"copy\", \"total_ms\": 12345,"
		      " \"downtime_ms\": 85, \"transferred_bytes\": 2147483648}",
		      "migrated web1 to unix:/run/b.sock (live, copy storage) in 12.3 s, "
		      "downtime 85 ms\n");
	assert_render(
	    view_migration_result,
	    "{\"vm\": \"db\", \"to\": \"/run/b.sock\", \"mode\": \"live\","
	    " \"storage\": \"shared\", \"total_ms\": 95000, \"downtime_ms\": 1200}",
	    "migrated db to /run/b.sock (live, shared storage) in 1m35s, downtime 1.2 s\n");
	/* What a daemon leaves out is left out. */
	assert_render(view_migration_result,
		      "{\"vm\": \"db\", \"to\": \"/b.sock\", \"storage\": \"copy\"}",
		      "migrated db to /b.sock (copy storage)\n");
	assert_render(view_migration_result,
		      "{\"vm\": \"db\", \"to\": \"/b.sock\", \"mode\": \"offline\","
		      " \"total_ms\": -1, \"downtime_ms\": \"85\"}",
		      "migrated db to /b.sock (offline)\n");
	assert_render(view_migration_result, "{}", "migrated - to -\n");
}

static void test_migration_list(void **state)
{
	assert_render(
	    view_migration_list,
	    "{\"migrations\": ["
	    " {\"id\": \"3f2a9c\", \"vm\": \"web1\", \"role\": \"source\","
	    "  \"peer\": \"unix:/run/b/warren.sock\", \"phase\": \"copying memory\","
	    "  \"mode\": \"live\", \"storage\": \"copy\","
	    "  \"started_at\": \"2026-11-23T10:00:00.123Z\"},"
	    " {\"id\": \"77b0e1\", \"vm\": \"db\", \"role\": \"destination\","
	    "  \"peer\": \"unix:/run/a/warren.sock\", \"phase\": \"preparing\","
	    "  \"mode\": \"offline\", \"storage\": \"shared\", \"started_at\": " T0 "},"
	    " {\"id\": \"x\", \"peer\": null, \"started_at\": null}]}",
	    "ID      ROLE         VM    PEER                     PHASE           MODE     STORAGE  "
	    "STARTED\n"
	    "3f2a9c  source       web1  unix:/run/b/warren.sock  copying memory  live     copy     "
	    "2026-11-23 10:00:00 UTC\n"
	    "77b0e1  destination  db    unix:/run/a/warren.sock  preparing       offline  shared   "
	    "2023-11-14 22:13:20\n"
	    "x       -            -     -                        -               -        -        "
	    "-\n");
	assert_render(view_migration_list, "{\"migrations\": []}",
		      "ID  ROLE  VM  PEER  PHASE  MODE  STORAGE  STARTED\n");
}

static void test_short_answers(void **state)
{
	assert_render(view_vm_state, "{\"name\": \"web1\", \"state\": \"running\"}",
		      "web1: running\n");
	assert_render(view_deleted, "{\"name\": \"s1\", \"deleted\": true}", "s1: deleted\n");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_vm_list),
	    cmocka_unit_test(test_vm_list_many_addresses),
	    cmocka_unit_test(test_vm_show_nics),
	    cmocka_unit_test(test_nic_list),
	    cmocka_unit_test(test_nic_show),
	    cmocka_unit_test(test_network_list),
	    cmocka_unit_test(test_network_show),
	    cmocka_unit_test(test_vm_show),
	    cmocka_unit_test(test_vm_show_crashed),
	    cmocka_unit_test(test_vm_show_resources),
	    cmocka_unit_test(test_events),
	    cmocka_unit_test(test_event_lines),
	    cmocka_unit_test(test_host),
	    cmocka_unit_test(test_host_resources),
	    cmocka_unit_test(test_snapshot_list_tree),
	    cmocka_unit_test(test_snapshot_list_chain),
	    cmocka_unit_test(test_snapshot_list_broken),
	    cmocka_unit_test(test_snapshot_show),
	    cmocka_unit_test(test_operation_line),
	    cmocka_unit_test(test_operation_show),
	    cmocka_unit_test(test_operation_show_migration),
	    cmocka_unit_test(test_migration_result),
	    cmocka_unit_test(test_migration_list),
	    cmocka_unit_test(test_short_answers),
	};

	render_utc();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
