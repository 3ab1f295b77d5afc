"""Many VMs on one daemon, and the daemon's death and rebirth under them.

Twenty VMs are defined and three boot at once (in parallel); each answers
exec on its own. Then warrend is killed with SIGKILL while two run and one
is paused; a new warrend must adopt all three with the right states, keep
every action working, and leave no QEMU behind at the end.
"""
import json
import os
import signal
import subprocess
import time

import pytest

from warrenlib import (Daemon, POWEROFF_LINE, READY_LINE, guest_spec, qemu_pids_for,
                       warren_bin)

RUNNING = ["fleet-a", "fleet-b", "fleet-c"]


@pytest.fixture(scope="module")
def fleet(guest_dir):
    d = Daemon().start()
    state = {"daemon": d}
    yield state
    d = state["daemon"]
    for name in RUNNING:
        d.cli("delete", name, "--force")
    reports = d.stop()
    for pid in qemu_pids_for(d.state_dir):
        os.kill(pid, 9)
    assert not reports, "sanitizer reports in warrend:\n" + "\n".join(reports)


def test_twenty_defined_three_running(fleet, guest_dir):
    d = fleet["daemon"]
    for i in range(17):
        r = d.api("POST", "/v1/vms", guest_spec(guest_dir, f"idle-{i:02d}"))
        assert r.status == 201, r
    for name in RUNNING:
        d.cli("create", name, "--cpus", "1", "--memory", "256M",
              "--kernel", str(guest_dir / "vmlinuz"), "--initrd", str(guest_dir / "initrd.img"),
              "--cmdline", (guest_dir / "cmdline").read_text().strip(),
              "--security", "trusted", check=0)
    vms = d.api("GET", "/v1/vms").json["vms"]
    assert len(vms) == 20
    # List items are summaries; the spec is in GET /v1/vms/{name}.
    assert "spec" not in vms[0] and "state" in vms[0]
    assert "spec" in d.api("GET", f"/v1/vms/{vms[0]['name']}").json
    for name in RUNNING:
        d.cli("start", name, check=0)
    for name in RUNNING:
        d.wait_console(name, READY_LINE, 1, timeout=180)
    states = {v["name"]: v["state"] for v in d.api("GET", "/v1/vms").json["vms"]}
    assert sorted(n for n, s in states.items() if s == "running") == RUNNING
    assert len(qemu_pids_for(d.state_dir)) == 3


def test_each_answers_exec_on_its_own(fleet):
    d = fleet["daemon"]
    ids = set()
    for name in RUNNING:
        p = d.cli("exec", name, "--", "cat", "/proc/sys/kernel/random/boot_id", check=0)
        ids.add(p.stdout.strip())
    assert len(ids) == 3


def test_restart_adopts_every_vm(fleet):
    d = fleet["daemon"]
    d.cli("pause", RUNNING[2], check=0)
    before = {v["name"]: (v["state"], v["pid"]) for v in d.api("GET", "/v1/vms").json["vms"]}
    pids = sorted(qemu_pids_for(d.state_dir))
    d.kill9()
    # The VMs do not notice the daemon's death.
    assert sorted(qemu_pids_for(d.state_dir)) == pids
    d2 = Daemon(root=d.root).start()
    fleet["daemon"] = d2
    after = {v["name"]: (v["state"], v["pid"]) for v in d2.api("GET", "/v1/vms").json["vms"]}
    assert after == before
    assert after[RUNNING[0]][0] == "running" and after[RUNNING[2]][0] == "paused"
    assert sorted(qemu_pids_for(d2.state_dir)) == pids  # nothing duplicated


def test_actions_work_after_restart(fleet):
    d = fleet["daemon"]
    assert d.cli_json("resume", RUNNING[2])["state"] == "running"
    p = d.cli("exec", RUNNING[2], "--", "echo", "alive", check=0)
    assert p.stdout == "alive\n"
    assert d.cli_json("pause", RUNNING[1])["state"] == "paused"
    assert d.cli_json("resume", RUNNING[1])["state"] == "running"


def test_console_works_after_restart(fleet):
    d = fleet["daemon"]
    name = RUNNING[0]
    # Type a command on the serial console; its output comes back on it.
    d.api("POST", f"/v1/vms/{name}/console", raw=b"echo con$((40+2))sole\n")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and "con42sole" not in d.console_log(name):
        time.sleep(0.2)
    assert "con42sole" in d.console_log(name)


def test_console_attach_through_the_cli(fleet):
    """`warren console` without a terminal forwards stdin and prints output
    until Ctrl-] (0x1d) in the input detaches it."""
    d = fleet["daemon"]
    p = subprocess.Popen([str(warren_bin()), "--socket", str(d.socket), "console", RUNNING[1]],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    time.sleep(1)
    p.stdin.write(b"echo via$((6*7))cli\n")
    p.stdin.flush()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and "via42cli" not in d.console_log(RUNNING[1]):
        time.sleep(0.2)
    time.sleep(0.5)
    out, err = p.communicate(input=b"\x1d", timeout=30)
    assert p.returncode == 0, err
    assert b"via42cli" in out


def test_events_follow_streams_state_changes(fleet):
    d = fleet["daemon"]
    p = subprocess.Popen([str(warren_bin()), "--socket", str(d.socket), "--format", "json",
                          "events", "--follow", "--vm", RUNNING[0]],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(1)
        d.cli("pause", RUNNING[0], check=0)
        d.cli("resume", RUNNING[0], check=0)
        time.sleep(1)
    finally:
        p.terminate()
        out, _ = p.communicate(timeout=10)
    events = [json.loads(line) for line in out.splitlines() if line.strip()]
    states = [e.get("state") for e in events if e.get("type") == "state"]
    assert states[:2] == ["paused", "running"], out
    assert all(e["vm"] == RUNNING[0] for e in events)


def test_qemu_dying_leaves_a_crashed_vm_with_its_log(fleet):
    d = fleet["daemon"]
    name = RUNNING[2]
    pid = d.cli_json("show", name)["pid"]
    os.kill(pid, signal.SIGKILL)
    vm = d.wait_state(name, "crashed", timeout=30)
    assert "signal 9" in vm["crash"]["log"] or "exited" in vm["crash"]["log"]
    shown = d.cli("show", name, check=0).stdout
    assert "crash" in shown.lower()
    # A crashed VM can be started again.
    assert d.cli_json("start", name)["state"] == "running"
    d.wait_console(name, READY_LINE, 1, timeout=180)


def test_shutdown_times_out_into_poweroff(fleet):
    """A paused guest cannot see the power button: after the timeout the
    daemon powers it off and says so."""
    d = fleet["daemon"]
    name = RUNNING[2]
    d.cli("pause", name, check=0)
    p = d.cli("shutdown", name, "--timeout", "1", check=0)
    assert d.cli_json("show", name)["state"] == "stopped", p.stdout + p.stderr
    events = d.cli_json("events", "--vm", name)["events"]
    assert any(e.get("result") == "timeout, powered off" for e in events)
    assert d.cli_json("show", name)["crash"] is None


def test_shutdown_through_the_agent(fleet):
    d = fleet["daemon"]
    name = RUNNING[1]
    d.cli("shutdown", name, "--mode", "agent", check=0)
    assert d.cli_json("show", name)["state"] == "stopped"
    assert POWEROFF_LINE in d.console_log(name)


def test_shutdown_after_restart_and_no_orphans(fleet):
    d = fleet["daemon"]
    name = RUNNING[0]
    d.cli("shutdown", name, check=0)
    for name in RUNNING:
        assert d.cli_json("show", name)["state"] == "stopped"
    assert POWEROFF_LINE in d.console_log(RUNNING[0])
    assert qemu_pids_for(d.state_dir) == []
