"""Clones and instant start: linked and full clones boot and diverge, a VM
with linked clones cannot be deleted, three VMs forked from one warm memory
snapshot run at once with their own identities, and a cancelled full clone
leaves nothing behind. Checked inside the guests with exec."""
import os
import subprocess
import time

import pytest

from warrenlib import Daemon, READY_LINE, guest_spec

ORIGIN = "origin"


@pytest.fixture(scope="module")
def state(guest_dir):
    d = Daemon().start()
    d.boot(guest_spec(guest_dir, ORIGIN, disks=[{"name": "data", "size": "64M"}]))
    sh(d, ORIGIN, "echo origin > /data/who; sync")
    st = {"daemon": d, "uptime": uptime(d, ORIGIN)}
    op = d.wait_op(d.api("POST", f"/v1/vms/{ORIGIN}/snapshots", {"name": "warm"}))
    assert op["status"] == "succeeded", op
    d.cli("poweroff", ORIGIN, check=0)
    yield st
    # Clones first: their origin cannot go while they exist.
    for vm in d.api("GET", "/v1/vms").json["vms"]:
        if vm["name"] != ORIGIN:
            d.api("DELETE", f"/v1/vms/{vm['name']}?force=true")
    d.finish()


def sh(d, name, script):
    return d.cli("exec", name, "--", "sh", "-c", script, check=0).stdout


def uptime(d, name):
    return float(sh(d, name, "cat /proc/uptime").split()[0])


def clone(d, src, new, **body):
    op = d.wait_op(d.api("POST", f"/v1/vms/{src}/clone", dict(name=new, **body)))
    assert op["status"] == "succeeded", op
    return op["result"]["vm"]


def test_linked_and_full_clones_diverge(state):
    d = state["daemon"]
    lc = clone(d, ORIGIN, "lc", linked=True)
    fc = clone(d, ORIGIN, "fc")
    assert lc["state"] == fc["state"] == "stopped"
    assert lc["id"] != fc["id"] and lc["linked_to"] == ORIGIN and fc["linked_to"] is None
    base = lc["spec"]["disks"][0]["image"]
    assert base.startswith(str(d.state_dir / "bases"))
    assert fc["spec"]["disks"][0]["image"] is None
    d.start_all(["lc", "fc"])
    for n in ("lc", "fc"):
        assert sh(d, n, "cat /data/who") == "origin\n"
        sh(d, n, f"echo {n} > /data/who; echo x > /data/only-{n}; sync")
    assert sh(d, "lc", "cat /data/who; ls /data") .split().count("only-fc") == 0
    assert sh(d, "fc", "cat /data/who") == "fc\n"
    assert sh(d, "lc", "cat /data/who") == "lc\n"

    r = d.api("DELETE", f"/v1/vms/{ORIGIN}")
    assert r.status == 409 and "linked clone lc depends on it" in r.error["message"]
    assert d.api("GET", f"/v1/vms/{ORIGIN}").status == 200


def test_linked_clone_of_a_vm_without_snapshots_adopts_its_disk(state):
    d = state["daemon"]
    d.cli("poweroff", "fc", check=0)
    lc2 = clone(d, "fc", "lc2", linked=True)
    fc = d.api("GET", "/v1/vms/fc").json
    base = fc["spec"]["disks"][0]["image"]
    # fc now runs on an overlay of its former disk, which both share.
    assert base and base == lc2["spec"]["disks"][0]["image"]
    assert os.stat(base).st_mode & 0o222 == 0  # read-only
    d.start_all(["fc", "lc2"])
    assert sh(d, "lc2", "cat /data/who") == "fc\n"
    sh(d, "lc2", "echo lc2 > /data/who; sync")
    assert sh(d, "fc", "cat /data/who") == "fc\n"
    r = d.api("DELETE", "/v1/vms/fc?force=true")
    assert r.status == 409 and "lc2" in r.error["message"]
    # A second linked clone puts fc on a chain of two bases.
    d.cli("poweroff", "fc", check=0)
    lc3 = clone(d, "fc", "lc3", linked=True)
    base2 = lc3["spec"]["disks"][0]["image"]
    assert base2 != base
    assert d.api("DELETE", "/v1/vms/lc2?force=true").status == 200
    assert os.path.exists(base)  # base2, which fc and lc3 run on, is built on it
    fc_disk = d.state_dir / "vms" / fc["id"] / "disk-data.qcow2"
    chain = subprocess.run(["qemu-img", "info", "-U", "--backing-chain", str(fc_disk)],
                           capture_output=True, text=True)
    assert chain.returncode == 0 and base in chain.stdout and base2 in chain.stdout
    d.start_all(["fc"])
    assert sh(d, "fc", "cat /data/who") == "fc\n"
    assert d.api("DELETE", "/v1/vms/lc3?force=true").status == 200
    assert d.api("DELETE", "/v1/vms/fc?force=true").status == 200
    assert not os.path.exists(base) and not os.path.exists(base2)  # the last user is gone


def test_forks_of_a_warm_snapshot_start_at_once_with_their_own_identity(state):
    d = state["daemon"]
    forks = ["fork1", "fork2", "fork3"]
    for n in forks:
        vm = clone(d, ORIGIN, n, linked=True, snapshot="warm")
        assert vm["state"] == "suspended"
    d.start_all(forks, boot=False)
    states = {n: d.api("GET", f"/v1/vms/{n}").json["state"] for n in forks}
    assert set(states.values()) == {"running"}, states  # all three at once
    randoms = set()
    for n in forks:
        assert sh(d, n, "hostname") == n + "\n"
        assert sh(d, n, "cat /data/who") == "origin\n"
        assert uptime(d, n) >= state["uptime"]  # resumed, not booted
        assert READY_LINE not in d.console_log(n)
        randoms.add(sh(d, n, "head -c 16 /dev/urandom | od -An -tx1"))
        year = int(sh(d, n, "date -u +%Y"))
        assert year == time.gmtime().tm_year  # the clock was set
    assert len(randoms) == 3
    sh(d, "fork1", "echo fork1 > /data/who; sync")
    assert sh(d, "fork2", "cat /data/who") == "origin\n"


def test_clone_errors_change_nothing(state):
    d = state["daemon"]
    before = [v["name"] for v in d.api("GET", "/v1/vms").json["vms"]]
    r = d.api("POST", f"/v1/vms/{ORIGIN}/clone", {"name": "fork1"})
    assert r.status == 409 and r.error["field"] == "name"
    r = d.api("POST", f"/v1/vms/{ORIGIN}/clone", {"name": "x", "snapshot": "nope"})
    assert r.status == 404 and "no snapshot named 'nope'" in r.error["message"]
    r = d.api("POST", "/v1/vms/fork1/clone", {"name": "x"})
    assert r.status == 409 and "running" in r.error["message"]
    r = d.api("POST", f"/v1/vms/{ORIGIN}/clone", {"name": "Bad"})
    assert r.status == 400 and r.error["field"] == "name"
    assert [v["name"] for v in d.api("GET", "/v1/vms").json["vms"]] == before


def test_cancelling_a_full_clone_leaves_nothing(state, guest_dir):
    d = state["daemon"]
    r = d.api("POST", "/v1/vms", guest_spec(guest_dir, "big",
                                             disks=[{"name": "data", "size": "3G"}]))
    assert r.status == 201
    disk = d.state_dir / "vms" / r.json["id"] / "disk-data.qcow2"
    # 2 GiB of data, so that the copy takes long enough to be cancelled.
    subprocess.run(["qemu-io", "-f", "qcow2", "-c", "write -P 7 0 1G", "-c",
                    "write -P 8 1G 1G", str(disk)], check=True, capture_output=True)
    dirs = set(os.listdir(d.state_dir / "vms"))
    r = d.api("POST", "/v1/vms/big/clone", {"name": "bigcopy"})
    assert r.status == 202
    op = r.json["operation"]
    assert op["cancellable"] is True
    deadline = time.monotonic() + 120
    while op["status"] == "running" and not (op["progress"]["percent"] or 0) > 1:
        assert time.monotonic() < deadline, op
        time.sleep(0.02)
        op = d.api("GET", f"/v1/operations/{op['id']}").json
    assert op["status"] == "running", "the copy finished before it could be cancelled"
    assert op["progress"]["total_bytes"] >= 3 << 30
    c = d.api("POST", f"/v1/operations/{op['id']}/cancel")
    assert c.status == 200, c
    op = d.wait_operation(op)
    assert op["status"] == "cancelled" and op["error"]["code"] == "cancelled"
    assert d.api("GET", "/v1/vms/bigcopy").status == 404
    assert set(os.listdir(d.state_dir / "vms")) == dirs
    r = d.api("POST", f"/v1/operations/{op['id']}/cancel")
    assert r.status == 409 and "already finished" in r.error["message"]
    assert d.api("DELETE", "/v1/vms/big").status == 200
