"""A cluster of three warrend "hosts" on this machine (a, b, c, each with a
TCP listener on 127.0.0.1 and all sharing one storage directory) on a
three-node etcd started here. Capacities differ (a 3 GiB, b 2 GiB, c 1 GiB
of memory, set through each host's reserve), so placement by free memory
has one right answer. Guests: two boot on b and are evacuated, one HA guest
boots on c and is restarted elsewhere when c dies."""
import json
import os
import signal
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import pytest

from etcdlib import Etcd, free_port
from warrenlib import Daemon, guest_spec, qemu_pids_for

GiB = 1 << 30
MiB = 1 << 20
TTL = 4
CAPACITY = {"a": 3 * GiB, "b": 2 * GiB, "c": 1 * GiB}
SMALL = {"cpus": 1, "memory": 128 * MiB, "disks": [{"name": "root", "size": "1M"}]}


def mem_total():
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no MemTotal")


def member(name, shared, port):
    root = Path(tempfile.mkdtemp(prefix="c" + name, dir="/tmp"))
    conf = root / "warrend.conf"
    conf.write_text(f"memory_reserved = {mem_total() - CAPACITY[name]}\ncpu_ratio = 16\n")
    return Daemon(root=root, extra_args=[
        "--listen", f"127.0.0.1:{port}", "--storage-dir", str(shared), "--config", str(conf),
        "--cgroup-parent", f"warren-cl{name}", "--accel", "tcg"])


def members(d):
    r = d.api("GET", "/v1/cluster/members")
    assert r.status == 200, r
    return {m["name"]: m for m in r.json["members"]}


def wait_for(what, fn, timeout):
    deadline = time.monotonic() + timeout
    while True:
        v = fn()
        if v:
            return v
        assert time.monotonic() < deadline, f"{what}: not within {timeout} s"
        time.sleep(0.2)


def ex(d, name, *cmd):
    r = d.api("POST", f"/v1/vms/{name}/exec", {"command": list(cmd), "timeout": 30})
    assert r.status == 200, r
    return r.json["stdout"]


def boot_id(d, name):
    return ex(d, name, "cat", "/proc/sys/kernel/random/boot_id").strip()


def hosts_of(d):
    r = d.api("GET", "/v1/vms")
    assert r.status == 200, r
    return {v["name"]: (v.get("host"), v["state"]) for v in r.json["vms"]}


@pytest.fixture(scope="module")
def cl(guest_dir):
    etcd = Etcd(3).start()
    shared = Path(tempfile.mkdtemp(prefix="cls", dir="/tmp"))
    shared.chmod(0o711)
    ports = {n: free_port() for n in "abc"}
    h = {"etcd": etcd, "shared": shared, "ports": ports}
    try:
        for n in "abc":
            h[n] = member(n, shared, ports[n]).start()
        r = h["a"].api("POST", "/v1/cluster/init",
                       {"etcd": etcd.urls, "name": "a", "ttl_s": TTL})
        assert r.status == 201, r
        h["token"] = r.json["token"]
        for n in "bc":
            r = h[n].api("POST", "/v1/cluster/join", {"address": f"http://127.0.0.1:{ports['a']}",
                                                      "token": h["token"], "name": n})
            assert r.status == 201, r
        wait_for("three members online",
                 lambda: all(m["state"] == "online" for m in members(h["a"]).values())
                 and len(members(h["a"])) == 3, 15)
        yield h
    finally:
        failures = []
        for n in "abc":
            try:
                if n in h:
                    h[n].finish()
            except AssertionError as e:
                failures.append(str(e))
        etcd.stop()
        assert not failures, failures


def test_join_errors_then_a_member_that_leaves(cl):
    """A wrong token and a second init are refused, and a create with
    cluster keys on a standalone daemon; then the daemon joins (storage of
    its own, so no HA VMs there), and leaves once it holds no VMs."""
    lone = Daemon(extra_args=["--listen", f"127.0.0.1:{free_port()}"]).start()
    a = cl["a"]
    try:
        join = {"address": f"http://127.0.0.1:{cl['ports']['a']}", "token": "x" * 24, "name": "z"}
        r = lone.api("POST", "/v1/cluster/join", join)
        assert r.status == 401 and r.error["field"] == "token", r
        assert lone.api("GET", "/v1/cluster").json["enabled"] is False
        r = lone.api("POST", "/v1/cluster/init", {"etcd": cl["etcd"].urls, "name": "z"})
        assert r.status == 409 and r.error["field"] == "etcd", r
        assert lone.api("GET", "/v1/cluster").json["enabled"] is False
        r = lone.api("POST", "/v1/vms", dict(SMALL, name="s1", target="auto"))
        assert r.status == 400 and r.error["field"] == "target", r
        assert "z" not in members(a)

        r = lone.api("POST", "/v1/cluster/join", dict(join, token=cl["token"]))
        assert r.status == 201, r
        r = a.api("POST", "/v1/vms", dict(SMALL, name="z1", target="z", ha=True))
        assert r.status == 400 and r.error["field"] == "ha", r
        r = a.api("POST", "/v1/vms", dict(SMALL, name="z1", target="z"))
        assert r.status == 201 and r.json["host"] == "z", r
        r = a.api("DELETE", "/v1/cluster/members/z")
        assert r.status == 409 and "online" in r.error["message"], r
        r = lone.api("DELETE", "/v1/cluster/members/z")
        assert r.status == 409 and "holds 1 VM" in r.error["message"], r
        assert a.api("DELETE", "/v1/vms/z1").status == 200
        r = lone.api("DELETE", "/v1/cluster/members/z")
        assert r.status == 204, r
        assert lone.api("GET", "/v1/cluster").json["enabled"] is False
        assert "z" not in members(a)
    finally:
        lone.finish()
    # The TCP listener serves members only.
    import urllib.request
    import urllib.error
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(f"http://127.0.0.1:{cl['ports']['a']}/v1/vms", timeout=5)
    assert e.value.code == 401


def test_members_show_capacity(cl):
    ms = members(cl["b"])
    assert sorted(ms) == ["a", "b", "c"]
    for n, m in ms.items():
        assert m["state"] == "online"
        assert m["capacity"]["memory"] == CAPACITY[n]
        assert m["address"] == f"http://127.0.0.1:{cl['ports'][n]}"
        assert m["last_heartbeat"]
        assert m["self"] == (n == "b")
    r = cl["b"].api("PUT", "/v1/cluster/config", {"strategy": "sideways"})
    assert r.status == 400 and r.error["field"] == "strategy", r
    r = cl["b"].api("PUT", "/v1/cluster/config", {"weights": {"load": 0.5}})
    assert r.status == 200 and r.json["weights"] == {"memory": 1, "vcpus": 0, "load": 0.5}, r
    r = cl["c"].api("PUT", "/v1/cluster/config", {"weights": {"load": 0}})
    assert r.status == 200 and r.json["weights"]["load"] == 0, r
    p = cl["b"].cli("cluster", "members")
    assert p.returncode == 0, p.stderr
    rows = {l.split()[0].rstrip("*"): l.split() for l in p.stdout.splitlines()[1:]}
    assert sorted(rows) == ["a", "b", "c"] and all("online" in r for r in rows.values())


def expected_spread(caps, n, mem):
    """Free memory decides; ties go to the first name."""
    alloc = {k: 0 for k in caps}
    out = []
    for _ in range(n):
        best = max(sorted(caps), key=lambda k: caps[k] - alloc[k] - mem)
        alloc[best] += mem
        out.append(best)
    return out


def test_auto_placement_follows_weighers_and_anti_affinity(cl):
    a = cl["a"]
    names = [f"p{i:02d}" for i in range(12)]
    got = []
    for n in names:
        r = a.api("POST", "/v1/vms", dict(SMALL, name=n, target="auto"))
        assert r.status == 201, r
        got.append(r.json["host"])
    assert got == expected_spread(CAPACITY, 12, 128 * MiB), (got, {k: (v["capacity"], v["allocated"], v["load"]) for k, v in members(a).items()})
    listed = hosts_of(cl["c"])
    assert [listed[n][0] for n in names] == got
    used = {m: got.count(m) * 128 * MiB for m in "abc"}
    for m, info in members(a).items():
        assert info["allocated"]["memory"] == used[m], info
    # --explain: every member with a score; the chosen one scores highest.
    r = a.api("POST", "/v1/vms", dict(SMALL, name="px", target="auto", explain=True))
    assert r.status == 201, r
    pl = r.json["placement"]
    assert pl["chosen"] == r.json["host"]
    assert {m["name"] for m in pl["members"]} == {"a", "b", "c"}
    best = max(pl["members"], key=lambda m: (m["score"], [-ord(ch) for ch in m["name"]]))
    assert best["name"] == pl["chosen"]
    # An anti-affinity group of three lands on three members; a fourth
    # has nowhere to go and leaves nothing behind.
    spots = []
    for i in range(3):
        r = a.api("POST", "/v1/vms", dict(SMALL, name=f"aa{i}", target="auto",
                                          placement={"anti_affinity": "web"}))
        assert r.status == 201, r
        spots.append(r.json["host"])
    assert sorted(spots) == ["a", "b", "c"]
    r = a.api("POST", "/v1/vms", dict(SMALL, name="aa3", target="auto",
                                      placement={"anti_affinity": "web"}))
    assert r.status == 507 and "anti_affinity" in r.error["message"], r
    assert "aa3" not in hosts_of(a)
    for n in names + ["px", "aa0", "aa1", "aa2"]:
        r = cl["b"].api("DELETE", f"/v1/vms/{n}")  # forwarded to its member
        assert r.status == 200, r
    for info in members(a).values():
        assert info["allocated"] == {"vcpus": 0, "memory": 0, "vms": 0}, (info, cl["etcd"].get_prefix("/warren/vms/"))


def test_concurrent_creates_of_one_name(cl):
    results = []

    def one(i):
        d = cl["abc"[i % 3]]
        results.append(d.api("POST", "/v1/vms", dict(SMALL, name="dup", target="auto")).status)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [201] + [409] * 19, results
    assert [n for n in hosts_of(cl["a"]) if n == "dup"] == ["dup"]
    assert cl["c"].api("DELETE", "/v1/vms/dup").status == 200


def test_concurrent_placements_never_overbook(cl):
    """c holds 1 GiB: sixteen concurrent 256 MiB creates aimed at it, sent
    to all three members, fit four."""
    results = []

    def one(i):
        d = cl["abc"[i % 3]]
        spec = dict(SMALL, name=f"ob{i:02d}", memory=256 * MiB, target="c")
        results.append(d.api("POST", "/v1/vms", spec).status)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results.count(201) == 4 and results.count(507) == 12, results
    c = members(cl["a"])["c"]
    assert c["allocated"]["memory"] == 1 * GiB <= c["capacity"]["memory"]
    local = cl["c"].api("GET", "/v1/vms?local=true").json["vms"]
    assert len([v for v in local if v["name"].startswith("ob")]) == 4
    for n, (host, _) in hosts_of(cl["a"]).items():
        if n.startswith("ob"):
            assert cl["a"].api("DELETE", f"/v1/vms/{n}").status == 200


def spread(d):
    use = [m["allocated"]["memory"] / m["capacity"]["memory"] for m in members(d).values()]
    return max(use) - min(use)


def test_rebalance_plans_then_moves_within_threshold(cl):
    a = cl["a"]
    for i in range(6):
        r = a.api("POST", "/v1/vms", dict(SMALL, name=f"rb{i}", memory=256 * MiB, target="a"))
        assert r.status == 201, r
    assert spread(a) == pytest.approx(0.5)
    # Cancelled at once: the moves not yet made are left, each VM is on
    # exactly one member and the allocations add up.
    r = cl["b"].api("POST", "/v1/cluster/rebalance", {"threshold": 0.15})
    assert r.status == 202, r
    c = cl["b"].api("POST", f"/v1/operations/{r.json['operation']['id']}/cancel")
    assert c.status in (200, 202), c
    op = cl["b"].wait_op(r, timeout=120)
    assert op["status"] == "cancelled", op
    statuses = [m["status"] for m in op["result"]["moves"]]
    assert "cancelled" in statuses and set(statuses) <= {"done", "cancelled"}, statuses
    listed = {n: v for n, v in hosts_of(a).items() if n.startswith("rb")}
    assert sorted(listed) == [f"rb{i}" for i in range(6)]
    assert all(state == "stopped" for _, state in listed.values()), listed
    ms = members(a)
    assert sum(m["allocated"]["vms"] for m in ms.values()) == 6
    for name, m in ms.items():
        assert m["allocated"]["vms"] == sum(1 for h, _ in listed.values() if h == name), ms
    before = spread(a)
    r = cl["c"].api("POST", "/v1/cluster/rebalance", {"dry_run": True, "threshold": 0.15})
    assert r.status == 200, r
    plan = r.json
    assert plan["moves"] and all(m["to"] in ("b", "c") for m in plan["moves"])
    assert plan["spread_before"] == pytest.approx(before)
    assert plan["spread_after"] <= 0.15
    assert spread(a) == pytest.approx(before)  # a dry run moves nothing
    r = cl["b"].api("POST", "/v1/cluster/rebalance", {"threshold": 0.15})
    op = cl["b"].wait_op(r, timeout=120)
    assert op["status"] == "succeeded", op
    done = op["result"]["moves"]
    assert [(m["vm"], m["to"]) for m in done] == [(m["vm"], m["to"]) for m in plan["moves"]]
    assert all(m["status"] == "done" for m in done), done
    assert spread(a) <= 0.15
    listed = hosts_of(a)
    for m in done:
        assert listed[m["vm"]] == (m["to"], "stopped"), listed
    for i in range(6):
        assert a.api("DELETE", f"/v1/vms/rb{i}").status == 200


@pytest.fixture(scope="module")
def on_b(cl, guest_dir):
    """Two guests booted on b."""
    b = cl["b"]
    for n in ("g1", "g2"):
        r = b.api("POST", "/v1/vms", guest_spec(guest_dir, n))
        assert r.status == 201 and r.json["host"] == "b", r
    b.start_all(["g1", "g2"])
    return {n: boot_id(b, n) for n in ("g1", "g2")}


def test_any_member_answers_for_a_vm_elsewhere(cl, on_b):
    a, c = cl["a"], cl["c"]
    r = a.api("GET", "/v1/vms/g1")
    assert r.status == 200 and r.json["host"] == "b" and r.json["state"] == "running", r
    assert boot_id(c, "g1") == on_b["g1"]
    p = a.cli("list")
    assert p.returncode == 0 and "HOST" in p.stdout.splitlines()[0], p.stdout
    assert any(l.split()[0] == "g1" and " b " in f" {l} " for l in p.stdout.splitlines()), p.stdout
    r = a.api("GET", "/v1/vms/nosuch")
    assert r.status == 404, r


def test_evacuate_moves_running_guests_keeping_boot_id(cl, on_b):
    a = cl["a"]
    r = a.api("POST", "/v1/cluster/members/b/evacuate", {})
    op = a.wait_op(r, timeout=240)
    assert op["status"] == "succeeded", op
    moves = op["result"]["moves"]
    assert sorted(m["vm"] for m in moves) == ["g1", "g2"]
    assert all(m["status"] == "done" and m["to"] in ("a", "c") for m in moves), moves
    listed = hosts_of(cl["b"])
    for m in moves:
        assert listed[m["vm"]] == (m["to"], "running"), listed
        assert boot_id(cl["b"], m["vm"]) == on_b[m["vm"]]
    assert cl["b"].api("GET", "/v1/vms?local=true").json["vms"] == []
    assert members(a)["b"]["state"] == "online"  # draining ends with the evacuation
    # stop through a member that does not hold the VM
    where = dict((m["vm"], m["to"]) for m in moves)
    other = cl["b"]
    r = other.api("POST", "/v1/vms/g2/actions/poweroff")
    assert r.status == 200, r
    cl[where["g2"]].wait_state("g2", "stopped")
    assert other.api("GET", "/v1/vms/g2").json["state"] == "stopped"


def test_member_killed_goes_offline_and_returns(cl, on_b):
    """kill -9 of a warrend whose guest keeps running: offline within TTL
    + 5 s for the others; online again after a restart, with its VM."""
    g1_host = hosts_of(cl["a"])["g1"][0]
    victim = cl[g1_host]
    watcher = cl["b"]
    victim.kill9()
    t0 = time.monotonic()
    wait_for("offline", lambda: members(watcher)[g1_host]["state"] == "offline", TTL + 5)
    assert time.monotonic() - t0 <= TTL + 5
    listed = hosts_of(watcher)
    assert listed["g1"] == (g1_host, "unknown")
    victim.start()
    wait_for("online again", lambda: members(watcher)[g1_host]["state"] == "online", TTL + 10)
    assert hosts_of(watcher)["g1"] == (g1_host, "running")
    assert boot_id(watcher, "g1") == on_b["g1"]


def test_cluster_survives_one_etcd_node(cl):
    cl["etcd"].kill(0)
    for i, n in enumerate("abc"):
        r = cl[n].api("POST", "/v1/vms", dict(SMALL, name=f"e{i}", target="auto"))
        assert r.status == 201, r
    time.sleep(TTL + 1)  # leases are kept alive through the other nodes
    assert all(m["state"] == "online" for m in members(cl["c"]).values())
    for i in range(3):
        assert cl["a"].api("DELETE", f"/v1/vms/e{i}").status == 200


def test_ha_vm_restarts_once_on_another_member(cl, guest_dir):
    c = cl["c"]
    r = c.api("POST", "/v1/vms", dict(guest_spec(guest_dir, "ha1"), ha=True))
    assert r.status == 201 and r.json["host"] == "c" and r.json["ha"] is True, r
    c.start_all(["ha1"])
    vm_id = r.json["id"]
    old = boot_id(c, "ha1")
    # The host dies: its daemon and its QEMUs.
    c.kill9()
    for pid in qemu_pids_for(c.state_dir):
        os.kill(pid, signal.SIGKILL)
    t0 = time.monotonic()
    seen_two = []

    def running_elsewhere():
        pids = [p for n in "ab" for p in qemu_pids_for(cl[n].state_dir)
                if vm_id.encode() in Path(f"/proc/{p}/cmdline").read_bytes()]
        if len(pids) > 1:
            seen_two.append(pids)
        v = hosts_of(cl["a"]).get("ha1")
        return v if v and v[0] in ("a", "b") and v[1] == "running" else None

    host, _ = wait_for("HA restart", running_elsewhere, TTL + 30)
    assert time.monotonic() - t0 <= TTL + 30
    assert not seen_two
    new = wait_for("guest agent", lambda: _try_boot_id(cl[host], "ha1"), 60)
    assert new != old  # a restart, not a migration
    assert sum(1 for n, v in hosts_of(cl["a"]).items() if n == "ha1") == 1
    # c comes back: it does not run ha1 again and forgets its copy.
    c.start()
    wait_for("c online", lambda: members(cl["a"])["c"]["state"] == "online", TTL + 10)
    wait_for("c forgot ha1", lambda: "ha1" not in
             [v["name"] for v in c.api("GET", "/v1/vms?local=true").json["vms"]], 15)
    assert hosts_of(c)["ha1"] == (host, "running")
    assert not [p for p in qemu_pids_for(c.state_dir)]


def _try_boot_id(d, name):
    r = d.api("POST", f"/v1/vms/{name}/exec",
              {"command": ["cat", "/proc/sys/kernel/random/boot_id"], "timeout": 10})
    return r.json["stdout"].strip() if r.status == 200 else None


def test_member_without_etcd_refuses_changes_and_fences_ha_vms(cl):
    """Last: etcd goes away entirely. After two thirds of the TTL every
    member refuses changes, and the HA guest is stopped (fenced) so that no
    other member could ever run a second copy."""
    host = hosts_of(cl["a"])["ha1"][0]
    d = cl[host]
    for i in (1, 2):
        cl["etcd"].kill(i)
    wait_for("lost", lambda: d.api("GET", "/v1/cluster").json["state"] == "lost", TTL + 5)
    r = d.api("POST", "/v1/vms", dict(SMALL, name="late"))
    assert r.status == 503 and "etcd" in r.error["message"], r
    vm = d.wait_state("ha1", "stopped", timeout=30)
    assert not [p for p in qemu_pids_for(d.state_dir)
                if vm["id"].encode() in Path(f"/proc/{p}/cmdline").read_bytes()]
    # A guest without ha keeps running.
    g1 = hosts_of(d).get("g1")
    assert g1 is None or g1[1] == "running"
