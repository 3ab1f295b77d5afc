/*
 * Golden-file tests of qemu_argv_build: one file per shape of machine
 * under tests/unit/qemu/golden/, one argument per line.
 *
 * After an intended change of the command line, regenerate the files and
 * review the diff:
 *
 *     WARREN_UPDATE_GOLDEN=1 build/asan/tests/unit/qemu/test_argv
 *     git diff tests/unit/qemu/golden
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

#include "../golden.h"
#include "qemu/qemu.h"
#include "util/util.h"

#define VMDIR "/var/lib/warren/vms/0123456789abcdef0123456789abcdef"

static const struct qemu_disk two_disks[] = {
    {.id = "root", .path = VMDIR "/disks/root.qcow2"},
    {.id = "data", .path = VMDIR "/disks/data.qcow2"},
};

static const struct qemu_disk readonly_disks[] = {
    {.id = "root", .path = VMDIR "/disks/root.qcow2"},
    {.id = "seed", .path = "/var/lib/warren/images/seed.qcow2", .readonly = true},
};

static struct qemu_machine base_machine(void)
{
	return (struct qemu_machine){
	    .vm_id = "0123456789abcdef0123456789abcdef",
	    .name = "web1",
	    .cpus = 2,
	    .memory = 512ULL << 20,
	    .accel = ACCEL_TCG,
	    .kernel = "/var/lib/warren/images/vmlinuz",
	    .initrd = "/var/lib/warren/images/initrd.img",
	    .cmdline = "console=ttyS0 quiet",
	    .disks = two_disks,
	    .n_disks = 2,
	    .qmp_path = VMDIR "/qmp.sock",
	    .console_path = VMDIR "/console.sock",
	    .qga_path = VMDIR "/qga.sock",
	    .pid_path = VMDIR "/qemu.pid",
	    .start_paused = true,
	};
}

static void check_golden(const char *shape, const struct qemu_machine *m)
{
	_cleanup_strv_free_ char **argv = NULL;
	_cleanup_free_ char *got = NULL, *want = NULL;
	char path[512];
	size_t len = 0;
	FILE *f;

	assert_int_equal(qemu_argv_build("/usr/bin/qemu-system-x86_64", m, &argv), 0);
	f = open_memstream(&got, &len);
	for (char **a = argv; *a; a++)
		fprintf(f, "%s\n", *a);
	fclose(f);

	snprintf(path, sizeof(path), "%s/%s.args", GOLDEN_DIR, shape);
	golden_check(path, got);
}

static void test_kernel_boot_with_disks(void **state)
{
	struct qemu_machine m = base_machine();

	check_golden("kernel-disks", &m);
}

static void test_firmware_boot(void **state)
{
	struct qemu_machine m = base_machine();

	m.kernel = m.initrd = m.cmdline = NULL;
	m.n_disks = 1;
	check_golden("firmware", &m);
}

static void test_readonly_disk(void **state)
{
	struct qemu_machine m = base_machine();

	m.disks = readonly_disks;
	m.start_paused = false;
	check_golden("readonly-disk", &m);
}

static void test_kvm(void **state)
{
	struct qemu_machine m = base_machine();

	m.accel = ACCEL_KVM;
	m.cpus = 4;
	m.memory = 2ULL << 30;
	check_golden("kvm", &m);
}

/* The strict policy's sandbox, a translation cache size, an incoming
 * migration deferred to QMP. */
static void test_sandbox_tb_size_incoming(void **state)
{
	struct qemu_machine m = base_machine();

	m.sandbox = true;
	m.tb_size_mib = 64;
	m.incoming = "defer";
	check_golden("strict", &m);
}

static void test_no_console_no_disks(void **state)
{
	struct qemu_machine m = base_machine();

	m.console_path = NULL;
	m.disks = NULL;
	m.n_disks = 0;
	m.initrd = NULL;
	m.cmdline = NULL;
	check_golden("no-console", &m);
}

static bool argv_has(char **argv, const char *want)
{
	for (; *argv; argv++)
		if (strcmp(*argv, want) == 0)
			return true;
	return false;
}

static void test_commas_are_escaped(void **state)
{
	/* A comma in a path must not start a new QEMU option. */
	static const struct qemu_disk disk = {.id = "root", .path = "/tmp/a,file.driver=x.qcow2"};
	struct qemu_machine m = base_machine();
	char **argv = NULL;

	m.disks = &disk;
	m.n_disks = 1;
	m.qmp_path = "/run/q,mp.sock";
	m.name = "a,b";
	assert_int_equal(qemu_argv_build("qemu", &m, &argv), 0);
	assert_true(argv_has(argv, "socket,id=qmp,path=/run/q,,mp.sock,server=on,wait=off"));
	assert_true(argv_has(argv, "a,,b,debug-threads=on"));
	assert_true(argv_has(argv, "driver=qcow2,node-name=fmt-root,read-only=off,discard=unmap,"
				   "file.driver=file,file.filename=/tmp/a,,file.driver=x.qcow2,"
				   "file.node-name=file-root,file.read-only=off,file.discard=unmap"));
	strv_free(argv);
}

static void test_invalid_machines(void **state)
{
	static const struct qemu_disk bad_id = {.id = "Root", .path = "/x.qcow2"};
	static const struct qemu_disk dup[] = {{.id = "a", .path = "/1"},
					       {.id = "a", .path = "/2"}};
	struct qemu_machine m;
	char **argv = NULL;

#define EXPECT_EINVAL(change)                                                                      \
	do {                                                                                       \
		m = base_machine();                                                                \
		change;                                                                            \
		assert_int_equal(qemu_argv_build("qemu", &m, &argv), -EINVAL);                     \
		assert_null(argv);                                                                 \
	} while (0)

	EXPECT_EINVAL(m.vm_id = "0123456789ABCDEF0123456789abcdef");
	EXPECT_EINVAL(m.vm_id = "0123");
	EXPECT_EINVAL(m.name = "");
	EXPECT_EINVAL(m.cpus = 0);
	EXPECT_EINVAL(m.memory = (512ULL << 20) + 1);
	EXPECT_EINVAL(m.memory = 0);
	EXPECT_EINVAL((m.disks = &bad_id, m.n_disks = 1));
	EXPECT_EINVAL((m.disks = dup, m.n_disks = 2));
	EXPECT_EINVAL(m.kernel = NULL);
	EXPECT_EINVAL(m.qmp_path = NULL);
	EXPECT_EINVAL(m.qga_path = NULL);
	EXPECT_EINVAL(m.pid_path = NULL);
#undef EXPECT_EINVAL
	m = base_machine();
	assert_int_equal(qemu_argv_build("", &m, &argv), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_kernel_boot_with_disks),
	    cmocka_unit_test(test_firmware_boot),
	    cmocka_unit_test(test_readonly_disk),
	    cmocka_unit_test(test_kvm),
	    cmocka_unit_test(test_no_console_no_disks),
	    cmocka_unit_test(test_sandbox_tb_size_incoming),
	    cmocka_unit_test(test_commas_are_escaped),
	    cmocka_unit_test(test_invalid_machines),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
