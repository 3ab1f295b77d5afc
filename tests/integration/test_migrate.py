"""Migration between daemons: four warrend on this machine play hosts. A has
storage of its own, B and C share a storage directory (as hosts on one NFS
export would), and all three share a peer token. One guest boots once, on A,
and travels: errors, a cancel and daemon crashes first (it must stay on A),
then live A->B (copied disks), live B->C (shared storage), paused C->A and,
suspended, offline A->B."""
import sqlite3
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from warrenlib import Daemon, guest_spec, qemu_pids_for

NAME = "g1"
TOKEN = "migration-secret-0123456789"
COUNTER = ("n=0; while :; do n=$((n+1)); echo $n > /tmp/counter; sleep 0.1; done "
           "</dev/null >/dev/null 2>&1 &")
SLOW = 1 << 20  # bytes/s: a migration that is still running seconds later


def token_file(root, text):
    p = Path(root) / "token"
    p.write_text(text + "\n")
    return p


def peer(root, token, storage=None, extra=()):
    root = Path(tempfile.mkdtemp(prefix="m", dir="/tmp")) if root is None else root
    args = ["--peer-token-file", str(token_file(root, token))] + list(extra)
    if storage:
        args += ["--storage-dir", str(storage)]
    return Daemon(root=root, extra_args=args)


@pytest.fixture(scope="module")
def hosts(guest_dir):
    subprocess.run(["ip", "netns", "add", "wmig-a"], check=True)
    shared = Path(tempfile.mkdtemp(prefix="ms", dir="/tmp"))
    shared.chmod(0o711)
    roots = [Path(tempfile.mkdtemp(prefix="m", dir="/tmp")) for _ in range(3)]
    a = Daemon(root=roots[0], netns="wmig-a",
               extra_args=["--peer-token-file", str(token_file(roots[0], TOKEN))])
    b = peer(roots[1], TOKEN, shared)
    c = peer(roots[2], TOKEN, shared)
    h = {"a": a.start(), "b": b.start(), "c": c.start(), "shared": shared}
    try:
        h["id"] = a.boot(guest_spec(guest_dir, NAME, disks=[{"name": "data", "size": "64M"}]))["id"]
        ex(a, "sh", "-c", "echo before-migration > /data/kept; sync")
        ex(a, "sh", "-c", COUNTER)
        h["boot_id"] = boot_id(a)
        yield h
    finally:
        for k in ("a", "b", "c"):
            h[k].finish()
        subprocess.run(["ip", "netns", "del", "wmig-a"])


def ex(d, *cmd):
    p = d.cli("exec", NAME, "--", *cmd, check=0)
    return p.stdout


def boot_id(d):
    return ex(d, "cat", "/proc/sys/kernel/random/boot_id").strip()


def counter(d):
    return int(ex(d, "cat", "/tmp/counter").strip() or 0)


def names(d):
    return [v["name"] for v in d.api("GET", "/v1/vms").json["vms"]]


def migrate(d, dest, **body):
    return d.api("POST", f"/v1/vms/{NAME}/migrate", {"to": f"unix:{dest.socket}", **body})


def nothing_left(dest, vm_id):
    """No VM, no QEMU, no files and no migration row of it on dest."""
    assert NAME not in names(dest)
    assert qemu_pids_for(dest.state_dir) == []
    assert not (dest.state_dir / "vms" / vm_id).exists()
    assert dest.api("GET", "/v1/migrations").json["migrations"] == []
    db = sqlite3.connect(f"file:{dest.state_dir / 'warren.db'}?mode=ro", uri=True)
    try:
        assert db.execute("SELECT count(*) FROM migrations WHERE phase != 'done'").fetchone()[0] == 0
        assert db.execute("SELECT count(*) FROM vms WHERE id = ?", (vm_id,)).fetchone()[0] == 0
    finally:
        db.close()


def runs_on_a_only(h):
    a, b = h["a"], h["b"]
    assert a.wait_state(NAME, "running")["migration"] is None
    assert boot_id(a) == h["boot_id"]
    nothing_left(b, h["id"])


def wait_phase(d, op, phases, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        op = d.api("GET", f"/v1/operations/{op['id']}").json
        if op["progress"]["phase"] in phases or op["status"] != "running":
            return op
        time.sleep(0.1)
    raise AssertionError(f"operation never reached {phases}: {op}")


def test_errors_before_anything_moves(hosts, tmp_path):
    a, b = hosts["a"], hosts["b"]
    # Unreachable, and a daemon that does not know our token.
    r = migrate(a, b, to=f"unix:{tmp_path}/nobody.sock")
    assert r.status == 503 and "cannot reach" in r.error["message"], r
    other = peer(None, "another-secret-0123456789").start()
    poor = peer(None, TOKEN, extra=["--config", str(tmp_path / "full.conf")])
    total_mib = int(Path("/proc/meminfo").read_text().split()[1]) // 1024
    (tmp_path / "full.conf").write_text(f"memory_reserved = {total_mib - 100}M\n")
    poor.start()
    try:
        r = migrate(a, other)
        assert r.status == 503 and "credentials" in r.error["message"], r
        r = migrate(a, poor)
        assert r.status == 507 and r.error["code"] == "no_capacity", r
        assert names(other) == [] and names(poor) == []
    finally:
        other.finish()
        poor.finish()
    # A VM of that name exists there.
    spec = guest_spec(Path(a.api("GET", f"/v1/vms/{NAME}").json["spec"]["kernel"]).parent, NAME)
    assert b.api("POST", "/v1/vms", spec).status == 201
    r = migrate(a, b)
    assert r.status == 409 and "already exists" in r.error["message"], r
    assert b.api("DELETE", f"/v1/vms/{NAME}").status == 200
    # States: a running VM does not go offline, a stopped one not live.
    r = migrate(a, b, mode="offline")
    assert r.status == 409 and "running" in r.error["message"], r
    # A network the destination lacks; a disk image it cannot use.
    assert a.api("POST", "/v1/networks", {"name": "lan", "subnet": "10.77.0.0/24"}).status == 201
    img = tmp_path / "base.qcow2"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(img), "16M"], check=True)
    kernel_dir = Path(spec["kernel"]).parent
    assert a.api("POST", "/v1/vms", guest_spec(kernel_dir, "n1", nics=[{"network": "lan"}])).status == 201
    assert a.api("POST", "/v1/vms", guest_spec(
        kernel_dir, "p1", disks=[{"name": "root", "image": str(img)}])).status == 201
    img.unlink()
    r = a.api("POST", "/v1/vms/n1/migrate", {"to": f"unix:{b.socket}"})
    assert r.status in (400, 404, 409) and "lan" in r.error["message"], r
    r = a.api("POST", "/v1/vms/p1/migrate", {"to": f"unix:{b.socket}"})
    assert r.status == 400 and "image" in r.error["message"] and "destination" in r.error["message"], r
    r = a.api("POST", "/v1/vms/p1/migrate", {"to": f"unix:{b.socket}", "mode": "live"})
    assert r.status == 409 and "stopped" in r.error["message"], r
    for n in ("n1", "p1"):
        assert a.api("DELETE", f"/v1/vms/{n}").status == 200
    assert a.api("DELETE", "/v1/networks/lan").status == 200
    # Bad input, each named by its field.
    for body, field in (({"to": "relative.sock"}, "to"), ({"to": f"unix:{a.socket}"}, "to"),
                        ({"to": f"unix:{b.socket}", "bandwidth": 5}, "bandwidth"),
                        ({"to": f"unix:{b.socket}", "mode": "fast"}, "mode"),
                        ({"to": f"unix:{b.socket}", "colour": 1}, "colour")):
        r = a.api("POST", f"/v1/vms/{NAME}/migrate", body)
        assert r.status == 400 and r.error["field"] == field, (body, r)
    runs_on_a_only(hosts)


def start_slow(a, b):
    """A migration A->B paced to last minutes, once it is moving data."""
    r = migrate(a, b, bandwidth=SLOW)
    assert r.status == 202, r
    op = wait_phase(a, r.json["operation"], ("copying disks", "copying memory"))
    time.sleep(1)
    return op


def test_cancel_halfway_leaves_nothing_on_the_destination(hosts):
    a, b = hosts["a"], hosts["b"]
    op = start_slow(a, b)
    assert NAME in names(b)  # it is arriving ...
    assert a.api("POST", f"/v1/operations/{op['id']}/cancel").status in (200, 202)
    op = a.wait_operation(op, timeout=60)
    assert op["status"] == "cancelled", op
    runs_on_a_only(hosts)  # ... and is gone again
    # The QEMU that stayed saves memory as before (a save is a migration
    # too, and must not wait for a switch-over).
    r = a.api("POST", f"/v1/vms/{NAME}/snapshots", {"name": "after-cancel"})
    assert a.wait_op(r, timeout=120)["status"] == "succeeded"
    assert a.wait_state(NAME, "running")
    assert a.api("DELETE", f"/v1/vms/{NAME}/snapshots/after-cancel").status == 200


def test_destination_crash_during_transfer(hosts):
    a, b = hosts["a"], hosts["b"]
    op = start_slow(a, b)
    b.kill9()
    op = a.wait_operation(op, timeout=60)
    assert op["status"] == "failed", op
    assert a.wait_state(NAME, "running")
    hosts["b"] = b = Daemon(root=b.root, extra_args=b.extra_args).start()
    deadline = time.monotonic() + 30
    while NAME in names(b) and time.monotonic() < deadline:
        time.sleep(0.2)
    runs_on_a_only(hosts)


def test_source_crash_during_transfer(hosts):
    a, b = hosts["a"], hosts["b"]
    start_slow(a, b)
    a.kill9()
    hosts["a"] = a = Daemon(root=a.root, extra_args=a.extra_args, netns="wmig-a").start()
    deadline = time.monotonic() + 60
    while (NAME in names(b) or a.api("GET", f"/v1/vms/{NAME}").json["migration"]) and \
            time.monotonic() < deadline:
        time.sleep(0.2)
    runs_on_a_only(hosts)  # exactly one copy runs


def live(h, src, dst, storage):
    s, d = h[src], h[dst]
    before = counter(s)
    res = s.cli_json("migrate", NAME, "--to", f"unix:{d.socket}")
    assert res["storage"] == storage and res["mode"] == "live", res
    assert 0 < res["downtime_ms"] < 1000, res  # no gap a second long
    assert NAME not in names(s)
    assert d.api("GET", f"/v1/vms/{NAME}").json["state"] == "running"
    assert boot_id(d) == h["boot_id"]  # not restarted
    after = counter(d)
    assert after > before
    time.sleep(1)
    assert counter(d) > after  # the counter goes on
    assert ex(d, "cat", "/data/kept") == "before-migration\n"
    # warren list: here only.
    assert NAME in d.cli("list", check=0).stdout and NAME not in s.cli("list", check=0).stdout
    return res


def test_live_migration_with_copied_disks(hosts):
    live(hosts, "a", "b", "copy")
    assert (hosts["shared"] / hosts["id"] / "disk-data.qcow2").exists()
    assert not (hosts["a"].state_dir / "vms" / hosts["id"]).exists()


def test_live_migration_on_shared_storage(hosts):
    b = hosts["b"]
    ex(b, "sh", "-c", "echo on-b >> /data/kept; sync")
    assert b.api("POST", f"/v1/vms/{NAME}/snapshots", {"name": "s1"}).status == 202
    disk = hosts["shared"] / hosts["id"] / "disk-data.qcow2"
    inode = disk.stat().st_ino
    ex(b, "sh", "-c", "sed -i 2d /data/kept; sync")
    live(hosts, "b", "c", "shared")
    c = hosts["c"]
    assert disk.stat().st_ino == inode  # the same file, not a copy
    assert [s["name"] for s in c.api("GET", f"/v1/vms/{NAME}/snapshots").json["snapshots"]] == ["s1"]
    assert c.api("DELETE", f"/v1/vms/{NAME}/snapshots/s1").status == 200


def test_paused_guest_stays_paused(hosts):
    a, c = hosts["a"], hosts["c"]
    assert c.api("POST", f"/v1/vms/{NAME}/actions/pause").status == 200
    r = migrate(c, a)
    op = c.wait_op(r)
    assert op["status"] == "succeeded", op
    assert op["result"]["migration"]["storage"] == "copy"
    assert a.api("GET", f"/v1/vms/{NAME}").json["state"] == "paused"
    assert a.api("POST", f"/v1/vms/{NAME}/actions/resume").status == 200
    assert boot_id(a) == hosts["boot_id"]


def test_suspended_guest_moves_offline_and_resumes(hosts):
    a, b = hosts["a"], hosts["b"]
    assert "succeeded" in a.cli("suspend", NAME, check=0).stdout
    r = migrate(a, b)
    op = a.wait_op(r)
    assert op["status"] == "succeeded", op
    assert op["result"]["migration"]["mode"] == "offline"
    assert NAME not in names(a) and not (a.state_dir / "vms" / hosts["id"]).exists()
    assert b.api("GET", f"/v1/vms/{NAME}").json["state"] == "suspended"
    assert b.api("POST", f"/v1/vms/{NAME}/actions/start").json["state"] == "running"
    assert boot_id(b) == hosts["boot_id"]
    assert ex(b, "cat", "/data/kept") == "before-migration\n"
