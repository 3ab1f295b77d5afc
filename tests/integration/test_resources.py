"""Resources: host inventory, admission control, cpu weights and limits in
cgroups, disk IOPS limits changed live, vCPU pinning, and the strict
security policy (paths, QEMU's own user, its sandbox). Real QEMU guests;
CPU time is read from /proc for the QEMU threads themselves."""
import os
import pwd
import shutil
import time

import pytest

from warrenlib import Daemon, guest_spec, qemu_pids_for

TICK = os.sysconf("SC_CLK_TCK")
BUSY = "sh -c 'while :; do :; done' </dev/null >/dev/null 2>&1 &"


def mem_total():
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no MemTotal")


def cpu_seconds(pid, tid=None):
    path = f"/proc/{pid}/task/{tid}/stat" if tid else f"/proc/{pid}/stat"
    with open(path) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def vcpu_thread(pid):
    for tid in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{tid}/comm") as f:
            if f.read().startswith("CPU 0/"):
                return tid
    raise AssertionError(f"no vCPU thread in QEMU {pid}")


def sh(d, name, script, timeout=60):
    p = d.cli("exec", name, "--timeout", str(timeout), "--", "sh", "-c", script, check=0,
              timeout=timeout + 30)
    return p.stdout


@pytest.fixture(scope="module")
def daemon():
    d = Daemon().start()
    yield d
    d.finish()


def test_host_shows_inventory_capacity_and_allocation(daemon):
    h = daemon.api("GET", "/v1/host").json
    inv = h["inventory"]
    assert inv["cpu"]["online"] == os.cpu_count()
    # Every online CPU is a thread of a core (cores counts all sockets').
    assert inv["cpu"]["cores"] * inv["cpu"]["threads_per_core"] == os.cpu_count()
    assert 1 <= inv["cpu"]["sockets"] <= inv["cpu"]["cores"]
    assert inv["memory"]["total"] == mem_total()
    st = os.statvfs(daemon.state_dir)
    assert abs(inv["disk"]["free"] - st.f_bavail * st.f_frsize) < 1 << 30
    cap = h["capacity"]
    assert cap["cpu_ratio"] == 4.0 and cap["memory_ratio"] == 1.0
    assert cap["vcpus"] == 4.0 * os.cpu_count()
    assert cap["memory"] == mem_total() - cap["memory_reserved"]
    assert h["allocated"] == {"vcpus": 0.0, "memory": 0, "vms": 0}
    assert h["cgroups"] in ("v1", "v2")
    p = daemon.cli("host", "info", check=0)
    assert "ratio 4.0" in p.stdout


def test_cpu_weights_share_one_host_cpu_4_to_1(daemon, guest_dir):
    for name, weight in (("heavy", 400), ("light", 100)):
        r = daemon.api("POST", "/v1/vms", guest_spec(
            guest_dir, name, resources={"cpu_weight": weight, "pin": [0]}))
        assert r.status == 201, r
        assert r.json["spec"]["resources"]["cpu_weight"] == weight
    daemon.start_all(["heavy", "light"])
    pids = {n: daemon.api("GET", f"/v1/vms/{n}").json["pid"] for n in ("heavy", "light")}
    tids = {n: vcpu_thread(pids[n]) for n in pids}
    for n, pid in pids.items():
        assert os.sched_getaffinity(int(tids[n])) == {0}  # pinned through QMP's thread id
    for n in pids:
        sh(daemon, n, BUSY)
    time.sleep(2)
    # The whole QEMU of a pinned VM stays on its CPU (cpuset), so what
    # the weights share is the processes' CPU time.
    before = {n: cpu_seconds(pids[n]) for n in pids}
    time.sleep(20)
    used = {n: cpu_seconds(pids[n]) - before[n] for n in pids}
    ratio = used["heavy"] / used["light"]
    assert 3.2 <= ratio <= 4.8, f"CPU time {used}: ratio {ratio:.2f}, wanted 4 within 20%"


def test_cpu_limit_holds_a_busy_guest_to_half_a_cpu_set_live(daemon):
    daemon.cli("poweroff", "light", check=0)
    r = daemon.api("PATCH", "/v1/vms/heavy", {"cpu_limit": 0.5, "pin": None})
    assert r.status == 200, r
    assert r.json["spec"]["resources"]["cpu_limit"] == 0.5
    pid = r.json["pid"]
    assert os.sched_getaffinity(int(vcpu_thread(pid))) == set(range(os.cpu_count()))
    time.sleep(2)
    t0, c0 = time.monotonic(), cpu_seconds(pid)
    time.sleep(10)
    share = (cpu_seconds(pid) - c0) / (time.monotonic() - t0)
    assert 0.45 <= share <= 0.55, f"QEMU used {share:.3f} CPU under a limit of 0.5"
    daemon.cli("poweroff", "heavy", check=0)


def randread(d, name, count):
    out = sh(d, name, f"warren-randread /dev/vda {count}", timeout=120).split()
    return float(out[2])


def test_disk_iops_limit_and_raising_it_live(daemon, guest_dir):
    r = daemon.api("POST", "/v1/vms", guest_spec(
        guest_dir, "disky", disks=[{"name": "data", "size": "256M", "iops": 200}]))
    assert r.status == 201, r
    daemon.start_all(["disky"])
    pid = daemon.api("GET", "/v1/vms/disky").json["pid"]
    rate = randread(daemon, "disky", 600)
    assert 170 <= rate <= 230, f"{rate:.0f} reads/s under a limit of 200"
    r = daemon.api("PATCH", "/v1/vms/disky", {"disks": {"data": {"iops": 400}}})
    assert r.status == 200 and r.json["spec"]["disks"][0]["iops"] == 400
    assert r.json["pid"] == pid  # the same QEMU: no restart
    rate = randread(daemon, "disky", 1200)
    assert 340 <= rate <= 460, f"{rate:.0f} reads/s under a limit raised to 400"
    # A bad change is refused and changes nothing.
    r = daemon.api("PATCH", "/v1/vms/disky", {"disks": {"nope": {"iops": 1}}})
    assert r.status == 400 and "no disk named 'nope'" in r.error["message"]
    r = daemon.api("PATCH", "/v1/vms/disky", {"cpu_weight": 0})
    assert r.status == 400 and r.error["field"] == "cpu_weight"
    assert daemon.api("GET", "/v1/vms/disky").json["spec"]["resources"]["cpu_weight"] == 100
    daemon.cli("poweroff", "disky", check=0)


def test_cgroup_is_made_readopted_and_removed(daemon, guest_dir):
    h = daemon.api("GET", "/v1/host").json
    if h["cgroups"] != "v1":
        pytest.skip("this host's cgroups are not v1 (v2 is covered by unit tests)")
    vm = daemon.api("GET", "/v1/vms/heavy").json
    daemon.cli("start", "heavy", check=0)
    pid = daemon.api("GET", "/v1/vms/heavy").json["pid"]
    group = f"/sys/fs/cgroup/cpu/warren/{vm['id']}"
    with open(f"{group}/cpu.shares") as f:
        assert f.read().strip() == "4096"  # 400 * 1024 / 100
    with open(f"{group}/cpu.cfs_quota_us") as f:
        assert f.read().strip() == "50000"
    with open(f"/proc/{pid}/cgroup") as f:
        assert f"/warren/{vm['id']}" in f.read()
    daemon.kill9()
    d2 = Daemon(root=daemon.root).start()
    daemon.__dict__.update(d2.__dict__)
    assert "re-adopted cgroup" in daemon.log()
    assert daemon.api("GET", "/v1/vms/heavy").json["state"] == "running"
    daemon.cli("poweroff", "heavy", check=0)
    assert not os.path.exists(group)


def test_admission_refuses_what_does_not_fit_and_explains(guest_dir, tmp_path):
    conf = tmp_path / "warrend.conf"
    # Room for two 256 MiB guests and not a third.
    conf.write_text(f"# test capacity\nmemory_reserved = {mem_total() - (600 << 20)}\n")
    d = Daemon(extra_args=["--config", str(conf)]).start()
    try:
        for n in ("a1", "a2", "a3"):
            assert d.api("POST", "/v1/vms", guest_spec(guest_dir, n)).status == 201
        for n in ("a1", "a2"):
            assert d.api("POST", f"/v1/vms/{n}/actions/start").status == 200
        r = d.api("POST", "/v1/vms/a3/actions/start")
        assert r.status == 507 and r.error["code"] == "no_capacity", r
        assert ("not enough memory: VM needs 256.0 MiB, 88.0 MiB free of 600.0 MiB (ratio 1.0,"
                in r.error["message"]), r.error["message"]
        assert "reserved for the host" in r.error["message"]
        assert d.api("GET", "/v1/vms/a3").json["state"] == "stopped"
        assert len(qemu_pids_for(d.state_dir)) == 2  # nothing started
        h = d.api("GET", "/v1/host").json
        assert h["allocated"]["memory"] == 512 << 20 and h["config"] == str(conf)
        p = d.cli("start", "a3")
        assert p.returncode != 0 and "not enough memory" in p.stderr
        d.cli("poweroff", "a1", check=0)
        assert d.api("POST", "/v1/vms/a3/actions/start").status == 200
    finally:
        d.finish()


def test_bad_config_is_refused_at_start(tmp_path):
    conf = tmp_path / "bad.conf"
    conf.write_text("cpu_ratio = 4\nmemory_ration = 2\n")
    d = Daemon(extra_args=["--config", str(conf)])
    try:
        with pytest.raises(RuntimeError) as e:
            d.start(timeout=10)
        assert "exited with" in str(e.value)  # it stopped, rather than hanging
        assert d.proc.returncode != 0
        assert f"{conf}:2" in str(e.value) and "memory_ration" in str(e.value)
    finally:
        d.stop()


def test_strict_policy_paths_user_and_sandbox(daemon, guest_dir):
    spec = guest_spec(guest_dir, "strict1", disks=[{"name": "data", "size": "64M"}])
    del spec["security"]  # strict is the default
    r = daemon.api("POST", "/v1/vms", spec)
    assert r.status == 400 and r.error["field"] == "kernel"
    assert "outside the state directory" in r.error["message"]
    # From the image store it is fine.
    images = daemon.state_dir / "images"
    images.mkdir(exist_ok=True)
    os.chmod(daemon.root, 0o711)
    for f in ("vmlinuz", "initrd.img"):
        shutil.copy(guest_dir / f, images / f)
        os.chmod(images / f, 0o644)
    spec.update(kernel=str(images / "vmlinuz"), initrd=str(images / "initrd.img"))
    r = daemon.api("POST", "/v1/vms", spec)
    assert r.status == 201, r
    assert r.json["spec"]["security"] == "strict"
    daemon.start_all(["strict1"])
    pid = daemon.api("GET", "/v1/vms/strict1").json["pid"]
    with open(f"/proc/{pid}/status") as f:
        status = dict(line.split(":", 1) for line in f.read().splitlines())
    uid = pwd.getpwnam("warren-qemu").pw_uid
    assert status["Uid"].split()[0] == str(uid)  # real uid
    assert status["Seccomp"].strip() == "2"  # a seccomp filter: the sandbox
    with open(f"/proc/{pid}/cmdline") as f:
        assert "spawn=deny" in f.read()
    # Saving memory works in the sandbox (no process is spawned for it).
    sh(daemon, "strict1", "echo kept > /data/f; sync")
    assert "succeeded" in daemon.cli("suspend", "strict1", check=0).stdout
    assert daemon.cli_json("start", "strict1")["state"] == "running"
    assert sh(daemon, "strict1", "cat /data/f") == "kept\n"
    daemon.cli("poweroff", "strict1", check=0)
