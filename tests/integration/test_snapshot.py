"""Snapshots: memory snapshots of a running guest restored without a reboot,
disk-only snapshots of a stopped VM, deleting a middle snapshot of a chain,
and the errors around them. Checked inside the guest with exec."""
import os
import subprocess
import time

import pytest

from warrenlib import Daemon, READY_LINE, booted_vm

NAME = "snap1"


@pytest.fixture(scope="module")
def state(guest_dir):
    yield from booted_vm(guest_dir, NAME, disks=[{"name": "data", "size": "64M"}])


def sh(d, script, name=NAME):
    p = d.cli("exec", name, "--", "sh", "-c", script, check=0)
    return p.stdout


def uptime(d, name=NAME):
    return float(sh(d, "cat /proc/uptime", name).split()[0])


def snapshot(d, snap, memory=None, name=NAME):
    body = {"name": snap}
    if memory is not None:
        body["memory"] = memory
    op = d.wait_op(d.api("POST", f"/v1/vms/{name}/snapshots", body))
    assert op["status"] == "succeeded", op
    return op["result"]["snapshot"]


def restore(d, snap, name=NAME):
    op = d.wait_op(d.api("POST", f"/v1/vms/{name}/snapshots/{snap}/restore"))
    assert op["status"] == "succeeded", op
    return op["result"]["vm"]


def test_memory_snapshot_restores_without_a_reboot(state):
    d = state["daemon"]
    sh(d, "echo A-old > /data/a; sync")
    up = uptime(d)
    s1 = snapshot(d, "s1")
    state["s1"] = s1["id"]
    assert s1["memory"] is True and s1["vm_state"] == "running" and s1["parent"] is None
    assert s1["memory_size"] > 1 << 20 and s1["current"] is True
    assert d.cli_json("show", NAME)["state"] == "running"  # the guest runs on
    sh(d, "echo A-new > /data/a; echo B > /data/b; sync")
    vm = restore(d, "s1")
    assert vm["state"] == "running"
    assert sh(d, "cat /data/a") == "A-old\n"
    assert sh(d, "ls /data") .split().count("b") == 0
    assert uptime(d) >= up  # the guest's clock continues from S1's
    time.sleep(1)
    assert d.console_log(NAME).count(READY_LINE) == 1  # no second boot
    vm_dir = d.state_dir / "vms" / state["id"]
    assert not (vm_dir / "memory.state").exists()
    assert (vm_dir / f"snap-{s1['id']}.state").exists()  # kept for the next restore


def test_cancelled_memory_snapshot_leaves_nothing(state):
    d = state["daemon"]
    vm_dir = d.state_dir / "vms" / state["id"]
    files = sorted(os.listdir(vm_dir))
    r = d.api("POST", f"/v1/vms/{NAME}/snapshots", {"name": "gone"})
    assert r.status == 202 and r.json["operation"]["cancellable"] is True
    c = d.api("POST", f"/v1/operations/{r.json['operation']['id']}/cancel")
    assert c.status == 200, c
    op = d.wait_op(r)
    assert op["status"] == "cancelled", op
    names = [s["name"] for s in d.api("GET", f"/v1/vms/{NAME}/snapshots").json["snapshots"]]
    assert "gone" not in names
    assert sorted(os.listdir(vm_dir)) == files  # no memory file, finished or not
    assert d.wait_state(NAME, "running")
    # The disks carry no tag of it either.
    info = subprocess.run(["qemu-img", "snapshot", "-U", "-l", str(vm_dir / "disk-data.qcow2")],
                          capture_output=True, text=True, check=True).stdout
    # "Snapshot list:", the column header, then one line per tag: s1's only.
    tags = {line.split()[1] for line in info.strip().splitlines()[2:]}
    assert tags == {state["s1"]}, info


def test_snapshot_errors_change_nothing(state):
    d = state["daemon"]
    before = d.api("GET", f"/v1/vms/{NAME}/snapshots").json["snapshots"]
    r = d.api("POST", f"/v1/vms/{NAME}/snapshots", {"name": "Bad Name"})
    assert r.status == 400 and r.error["field"] == "name"
    r = d.api("POST", f"/v1/vms/{NAME}/snapshots", {"name": "s1"})
    assert r.status == 409 and "already has a snapshot named 's1'" in r.error["message"]
    r = d.api("POST", f"/v1/vms/{NAME}/snapshots", {"name": "x", "colour": 1})
    assert r.status == 400 and r.error["field"] == "colour"
    r = d.api("POST", f"/v1/vms/{NAME}/snapshots/nope/restore")
    assert r.status == 404 and "no snapshot named 'nope'" in r.error["message"]
    r = d.api("DELETE", f"/v1/vms/{NAME}/snapshots/nope")
    assert r.status == 404
    r = d.api("POST", "/v1/vms/ghost/snapshots", {"name": "x"})
    assert r.status == 404
    assert d.api("GET", f"/v1/vms/{NAME}/snapshots").json["snapshots"] == before


def big_write(d, tag):
    # Rewrite the same 8 MiB in place: after a snapshot, the old clusters
    # belong to the snapshot alone.
    sh(d, f"dd if=/dev/urandom of=/data/big bs=1M count=8 conv=notrunc 2>/dev/null; "
          f"echo {tag} > /data/version; sync")


def test_disk_chain_delete_middle_keeps_the_others(state):
    d = state["daemon"]
    for tag in ("c1", "c2", "c3"):
        big_write(d, tag)
        s = snapshot(d, tag, memory=False)
        assert s["memory"] is False and s["memory_size"] == 0
    big_write(d, "v4")
    d.cli("poweroff", NAME, check=0)
    cold = snapshot(d, "cold")  # a stopped VM: disks only
    assert cold["memory"] is False and cold["vm_state"] == "stopped"
    snaps = {s["name"]: s for s in d.api("GET", f"/v1/vms/{NAME}/snapshots").json["snapshots"]}
    assert snaps["c2"]["parent"] == "c1" and snaps["c3"]["parent"] == "c2"
    assert snaps["cold"]["parent"] == "c3" and snaps["cold"]["current"]

    disk = d.state_dir / "vms" / state["id"] / "disk-data.qcow2"
    used = os.stat(disk).st_blocks * 512
    r = d.api("DELETE", f"/v1/vms/{NAME}/snapshots/c2")
    assert r.status == 200 and r.json == {"name": "c2", "deleted": True}
    freed = used - os.stat(disk).st_blocks * 512
    assert freed >= 6 << 20, f"deleting c2 freed only {freed} bytes"
    snaps = {s["name"]: s for s in d.api("GET", f"/v1/vms/{NAME}/snapshots").json["snapshots"]}
    assert "c2" not in snaps and snaps["c3"]["parent"] == "c1"

    for snap, want in (("c1", "c1"), ("c3", "c3"), ("cold", "v4")):
        vm = restore(d, snap)
        assert vm["state"] == "stopped"
        d.start_all([NAME])
        assert sh(d, "cat /data/version") == want + "\n", snap
        d.cli("poweroff", NAME, check=0)


def test_restoring_disks_only_needs_a_stopped_vm(state):
    d = state["daemon"]
    r = d.api("POST", f"/v1/vms/{NAME}/snapshots", {"name": "m", "memory": True})
    assert r.status == 409 and "stopped" in r.error["message"]
    d.start_all([NAME])
    r = d.api("POST", f"/v1/vms/{NAME}/snapshots/c1/restore")
    assert r.status == 409 and "holds no memory" in r.error["message"]
    assert d.cli_json("show", NAME)["state"] == "running"


def test_snapshots_survive_a_daemon_restart_and_go_with_the_vm(state):
    d = state["daemon"]
    d.kill9()
    d2 = Daemon(root=d.root).start()
    state["daemon"] = d2
    names = [s["name"] for s in d2.api("GET", f"/v1/vms/{NAME}/snapshots").json["snapshots"]]
    assert names == ["s1", "c1", "c3", "cold"]
    r = d2.api("DELETE", f"/v1/vms/{NAME}/snapshots/s1")
    assert r.status == 200
    vm_dir = d2.state_dir / "vms" / state["id"]
    assert not list(vm_dir.glob("snap-*"))
