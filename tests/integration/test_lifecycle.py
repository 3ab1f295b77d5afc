"""One VM's whole life through warrend and the warren CLI, on the reference
guest: create, start, readiness, pause, resume, reboot, shutdown, delete.

The tests share one daemon and one VM and run in file order; each step
leaves the VM where the next one expects it.
"""
import json
import os
import time

import pytest

from warrenlib import Daemon, POWEROFF_LINE, READY_LINE, guest_spec, qemu_pids_for

NAME = "life1"


@pytest.fixture(scope="module")
def daemon():
    d = Daemon().start()
    yield d
    # Never leave a QEMU behind, whatever failed.
    d.cli("delete", NAME, "--force")
    reports = d.stop()
    for pid in qemu_pids_for(d.state_dir):
        os.kill(pid, 9)
    assert not reports, "sanitizer reports in warrend:\n" + "\n".join(reports)


def test_create_and_show(daemon, guest_dir, tmp_path):
    spec = guest_spec(guest_dir, NAME, disks=[{"name": "data", "size": "64M"}],
                      labels={"role": "test"})
    f = tmp_path / "spec.json"
    f.write_text(json.dumps(spec))
    out = daemon.cli_json("create", NAME, "--from", str(f))
    assert out["name"] == NAME and out["state"] == "stopped"
    assert out["spec"]["memory"] == 256 << 20
    assert out["spec"]["labels"] == {"role": "test"}
    vm_dir = daemon.state_dir / "vms" / out["id"]
    assert (vm_dir / "disk-data.qcow2").is_file()
    table = daemon.cli("list", check=0).stdout
    assert "NAME" in table.splitlines()[0] and NAME in table and "stopped" in table


def test_start_reaches_readiness_line(daemon):
    out = daemon.cli_json("start", NAME)
    assert out["state"] == "running"
    assert out["pid"] > 0
    daemon.wait_console(NAME, READY_LINE, 1)
    log = daemon.cli("console", NAME, "--log", check=0).stdout
    assert READY_LINE in log


def test_exec_answers(daemon):
    p = daemon.cli("exec", NAME, "--", "cat", "/proc/sys/kernel/random/boot_id", check=0)
    assert len(p.stdout.strip()) == 36
    p = daemon.cli("exec", NAME, "--", "sh", "-c", "echo out; echo err >&2; exit 3")
    assert p.returncode == 3
    assert p.stdout == "out\n" and p.stderr == "err\n"


def test_pause_makes_exec_time_out(daemon):
    out = daemon.cli_json("pause", NAME)
    assert out["state"] == "paused"
    started = time.monotonic()
    p = daemon.cli("exec", NAME, "--timeout", "5", "--", "uptime")
    took = time.monotonic() - started
    assert p.returncode == 1
    assert "did not answer" in p.stderr and "paused" in p.stderr
    assert took < 30
    assert daemon.cli_json("show", NAME)["state"] == "paused"


def test_conflicting_action_gets_409(daemon):
    r = daemon.api("POST", f"/v1/vms/{NAME}/actions/pause")
    assert r.status == 409
    assert "paused" in r.error["message"]
    r = daemon.api("POST", f"/v1/vms/{NAME}/actions/start")
    assert r.status == 409


def test_resume_then_exec_uptime(daemon):
    out = daemon.cli_json("resume", NAME)
    assert out["state"] == "running"
    p = daemon.cli("exec", NAME, "--", "uptime", check=0)
    assert "up" in p.stdout or "load average" in p.stdout


def test_reboot_prints_readiness_again(daemon):
    daemon.cli("reboot", NAME, check=0)
    daemon.wait_console(NAME, READY_LINE, 2)
    assert daemon.cli_json("show", NAME)["state"] == "running"


def test_delete_refuses_running_vm(daemon):
    p = daemon.cli("delete", NAME)
    assert p.returncode == 1
    assert "--force" in p.stderr
    assert daemon.cli_json("show", NAME)["state"] == "running"


def test_shutdown_is_clean(daemon):
    pids = qemu_pids_for(daemon.state_dir)
    assert len(pids) == 1
    p = daemon.cli("shutdown", NAME, "--timeout", "60", check=0)
    out = daemon.cli_json("show", NAME)
    assert out["state"] == "stopped", p.stdout + p.stderr
    assert out["crash"] is None
    assert POWEROFF_LINE in daemon.console_log(NAME)
    assert qemu_pids_for(daemon.state_dir) == []


def test_events_recorded_the_life(daemon):
    events = daemon.cli_json("events", "--vm", NAME)["events"]
    states = [e["state"] for e in events if e["type"] == "state"]
    for s in ("starting", "running", "paused", "stopping", "stopped"):
        assert s in states


def test_delete_leaves_nothing(daemon):
    vm_id = daemon.cli_json("show", NAME)["id"]
    daemon.cli("delete", NAME, check=0)
    assert not (daemon.state_dir / "vms" / vm_id).exists()
    assert daemon.api("GET", f"/v1/vms/{NAME}").status == 404
    assert qemu_pids_for(daemon.state_dir) == []
    assert list((daemon.state_dir / "vms").iterdir()) == []
