"""Acceptance tests for the reference guest built by tools/mkguest.

The tests share one QEMU process and run in file order: boot, agent exec,
persistence across a reboot, and finally ACPI power-off, which ends it.
"""

import secrets
import time

import pytest

from guestlib import POWEROFF_LINE, READY_LINE, Guest

BOOT_LIMIT = 10.0       # seconds from QEMU launch to the readiness line
POWEROFF_LIMIT = 5.0    # seconds from system_powerdown to QEMU's exit


@pytest.fixture(scope="module")
def guest(guest_dir, tmp_path_factory):
    g = Guest(guest_dir, tmp_path_factory.mktemp("guest"))
    try:
        g.start()
        # Generous here; test_boots_quickly holds the real limit.
        g.boot_time = g.wait_ready(timeout=120)
        yield g
    finally:
        g.cleanup()


def test_boots_quickly(guest):
    print(f"QEMU launch to {READY_LINE}: {guest.boot_time:.2f} s")
    assert guest.serial_text().count(READY_LINE) == 1
    assert guest.boot_time < BOOT_LIMIT, (
        f"readiness line after {guest.boot_time:.2f} s (limit {BOOT_LIMIT} s)")


def test_agent_exec_uname(guest):
    agent = guest.agent
    agent.sync()
    agent.ping()
    code, out, err = agent.exec("uname", ["-r"])
    assert (code, err) == (0, b"")
    assert out.decode().strip() == guest.kernel_version()


def test_data_survives_reboot(guest):
    agent = guest.agent
    agent.sync()
    token = secrets.token_hex(16)
    code, out, err = agent.sh(
        "grep -q ' /data ext4 ' /proc/mounts || { echo '/data is not mounted' >&2; exit 3; }\n"
        f"echo {token} > /data/token && sync")
    assert code == 0, err.decode(errors="replace")

    start = time.monotonic()
    agent.shutdown("reboot")
    guest.wait_ready(timeout=60)
    print(f"reboot to {READY_LINE}: {time.monotonic() - start:.2f} s")
    assert guest.ready_count() == 2
    assert guest.alive()

    agent.sync()
    code, out, err = agent.exec("cat", ["/data/token"])
    assert code == 0, err.decode(errors="replace")
    assert out.decode().strip() == token


def test_acpi_powerdown(guest):
    assert guest.alive()
    assert POWEROFF_LINE not in guest.serial_text()
    qmp = guest.qmp
    start = time.monotonic()
    qmp.execute("system_powerdown")
    status = guest.wait_exit(POWEROFF_LIMIT)
    elapsed = time.monotonic() - start
    assert status is not None, (
        f"QEMU still running {POWEROFF_LIMIT} s after system_powerdown\n"
        + guest.diagnostics())
    print(f"system_powerdown to QEMU exit: {elapsed:.2f} s")
    assert elapsed < POWEROFF_LIMIT
    assert status == 0
    lines = [l.strip() for l in guest.serial_text().splitlines()]
    assert POWEROFF_LINE in lines, guest.diagnostics()
