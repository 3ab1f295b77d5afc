"""Suspend to disk: the guest's memory and device state go to a file, QEMU
goes away, the daemon may die and come back, and start resumes the guest
where it was, without a reboot."""
import time

import pytest

from warrenlib import Daemon, READY_LINE, booted_vm, qemu_pids_for

NAME = "sus1"


@pytest.fixture(scope="module")
def state(guest_dir):
    yield from booted_vm(guest_dir, NAME, disks=[{"name": "data", "size": "64M"}])


def uptime(d):
    p = d.cli("exec", NAME, "--", "cat", "/proc/uptime", check=0)
    return float(p.stdout.split()[0])


def test_suspend_saves_and_frees_the_host(state):
    d = state["daemon"]
    d.cli("exec", NAME, "--", "sh", "-c", "echo before-suspend > /data/kept; sync", check=0)
    state["uptime"] = uptime(d)
    p = d.cli("suspend", NAME, check=0)
    assert "succeeded" in p.stdout
    vm = d.cli_json("show", NAME)
    assert vm["state"] == "suspended" and vm["pid"] is None
    assert qemu_pids_for(d.state_dir) == []  # QEMU's memory is given back
    vm_dir = d.state_dir / "vms" / state["id"]
    assert (vm_dir / "memory.state").stat().st_size > 16 << 20
    assert not (vm_dir / "memory.state.tmp").exists()


def test_suspended_vm_refuses_what_needs_a_guest(state):
    d = state["daemon"]
    r = d.api("POST", f"/v1/vms/{NAME}/exec", {"command": ["true"]})
    assert r.status == 409 and "suspended" in r.error["message"]
    r = d.api("POST", f"/v1/vms/{NAME}/actions/pause")
    assert r.status == 409


def test_suspended_vm_survives_a_daemon_restart(state):
    d = state["daemon"]
    d.kill9()
    d2 = Daemon(root=d.root).start()
    state["daemon"] = d2
    assert d2.cli_json("show", NAME)["state"] == "suspended"


def test_start_resumes_the_guest_without_a_reboot(state):
    d = state["daemon"]
    assert d.cli_json("start", NAME)["state"] == "running"
    assert d.cli("exec", NAME, "--", "cat", "/data/kept", check=0).stdout == "before-suspend\n"
    assert uptime(d) >= state["uptime"]  # the guest's clock went on from where it was
    time.sleep(1)
    assert d.console_log(NAME).count(READY_LINE) == 1  # no second boot
    vm_dir = d.state_dir / "vms" / state["id"]
    assert not (vm_dir / "memory.state").exists()  # consumed: the disks have moved on


def test_resumed_guest_suspends_again_and_delete_cleans_up(state):
    d = state["daemon"]
    d.cli("suspend", NAME, check=0)
    assert d.cli_json("show", NAME)["state"] == "suspended"
    d.cli("delete", NAME, check=0)
    assert not (d.state_dir / "vms" / state["id"]).exists()
