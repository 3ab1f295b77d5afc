#!/usr/bin/python3
"""Warren benchmark suite: control-plane and data-plane figures with targets.

Run through bench/run, which builds build/release first. Writes
bench/results/latest.json and latest.md and copies the report to
docs/PERFORMANCE.md (a --quick run writes quick.json / quick.md only).
Timings are recorded, never asserted.
"""

import argparse
import datetime
import json
import os
import platform
import random
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import benchlib as bl  # noqa: E402

N_VMS = 1000
N_SAMPLED_DEFINED = 50
N_SAMPLED_RUNNING = 5
RESULTS = bl.ROOT / "bench" / "results"
DOC = bl.ROOT / "docs" / "PERFORMANCE.md"
# Hand-written reading of the figures (causes of misses), appended to the report.
ANALYSIS = bl.ROOT / "bench" / "analysis.md"
VM_NAME_RE = r"/v1/vms/bench-\d{4}"


def log(msg):
    print(f"bench: {msg}", flush=True)


def vm_name(i):
    return f"bench-{i:04d}"


def guest_spec(guest, name, **extra):
    """The reference guest (1 vCPU, 256 MiB, kernel + initrd); extra keys
    (disks) are added to the spec."""
    return {
        "name": name,
        "cpus": 1,
        "memory": "256M",
        "kernel": str(guest / "vmlinuz"),
        "initrd": str(guest / "initrd.img"),
        "cmdline": (guest / "cmdline").read_text().strip(),
        # The guest's files live in the build tree, outside the state
        # directory, which only the trusted policy allows.
        "security": "trusted",
        **extra,
    }


# ---- the machine -------------------------------------------------------------

def run_text(argv):
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=60).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def fsync_latency(directory, n=30):
    """ms per 4 KiB append + fdatasync in directory: what one durable commit costs."""
    path = Path(directory) / "fsync-probe"
    times = []
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        block = b"\0" * 4096
        for _ in range(n):
            t0 = bl.now()
            os.write(fd, block)
            os.fdatasync(fd)
            times.append((bl.now() - t0) * 1000)
    finally:
        os.close(fd)
        path.unlink()
    return bl.summarize(times)


def filesystem_of(path):
    best, kind = "", "?"
    try:
        with open("/proc/mounts") as f:
            for line in f:
                parts = line.split()
                mnt = parts[1]
                if str(path).startswith(mnt) and len(mnt) > len(best):
                    best, kind = mnt, f"{parts[2]} on {parts[0]} (mounted at {mnt})"
    except OSError:
        pass
    return kind


def describe_machine():
    model, procs = "?", 0
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name") and model == "?":
                model = line.split(":", 1)[1].strip()
            if line.startswith("processor"):
                procs += 1
    mem_gib = None
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                mem_gib = int(line.split()[1]) / 1024 / 1024
    qemu = shutil.which("qemu-system-x86_64") or "qemu-system-x86_64"
    commit = run_text(["git", "-C", str(bl.ROOT), "rev-parse", "--short", "HEAD"])
    # Only what the binaries are built from counts as a local change.
    dirty = run_text(["git", "-C", str(bl.ROOT), "status", "--porcelain", "--", "src",
                      "meson.build", "meson_options.txt"])
    build = {}
    try:
        opts = json.loads(run_text(["meson", "introspect", str(bl.BUILD), "--buildoptions"]))
        build = {o["name"]: o["value"] for o in opts
                 if o["name"] in ("buildtype", "optimization", "debug", "b_sanitize", "b_lto")}
    except ValueError:
        pass
    probe_dir = bl.make_tmpdir("wf")
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu_model": model,
        "cpus_online": procs,
        "cpus_usable": len(os.sched_getaffinity(0)),
        "memory_gib": round(mem_gib, 1) if mem_gib else None,
        "kernel": f"{platform.system()} {platform.release()} {platform.machine()}",
        "os": _os_release(),
        "qemu": (run_text([qemu, "--version"]).splitlines() or ["?"])[0],
        "python": platform.python_version(),
        "git_commit": commit + (" (with uncommitted changes to src/ or the build files)"
                                if dirty else ""),
        "build": build,
        "loadavg_start": os.getloadavg(),
        "tmp_filesystem": filesystem_of(probe_dir),
        "fsync_ms": fsync_latency(probe_dir),
    }


def _os_release():
    try:
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                return line.split("=", 1)[1].strip('"')
    except OSError:
        pass
    return "?"


# ---- control plane -------------------------------------------------------------

def create_vms(d, guest, n):
    conn = d.connection()
    conn.call("GET", "/v1/host")  # open the connection first
    off = d.log_size()
    client = []
    t0 = bl.now()
    for i in range(n):
        status, raw, ms = conn.call("POST", "/v1/vms", guest_spec(guest, vm_name(i)))
        if status != 201:
            raise RuntimeError(f"create {vm_name(i)}: {status} {raw[:300]!r}")
        client.append(ms)
    elapsed = bl.now() - t0
    keepalive = conn.connects == 1 and conn.sock is not None
    conn.close()
    time.sleep(0.2)  # let the last log lines land
    return {
        "seconds": elapsed,
        "per_second": n / elapsed,
        "client_ms": client,
        "server_ms": d.server_times(off, "POST", r"/v1/vms"),
        "connections_opened": conn.connects,
        "keepalive": keepalive,
    }


def light_workload(d, n):
    """What a daemon with n VMs serves before its RSS is read: lists and gets."""
    for _ in range(10):
        d.api("GET", "/v1/vms")
    for i in range(0, n, max(1, n // 100)):
        d.api("GET", f"/v1/vms/{vm_name(i)}")


def measure_latency(d, n, rounds, list_requests):
    conn = d.connection()
    conn.call("GET", "/v1/host")
    names = [vm_name(i) for i in range(n)]
    for nm in names[:50]:  # warm-up
        conn.call("GET", f"/v1/vms/{nm}")
    off = d.log_size()
    get_client = []
    for _ in range(rounds):
        random.shuffle(names)
        for nm in names:
            status, _, ms = conn.call("GET", f"/v1/vms/{nm}")
            if status != 200:
                raise RuntimeError(f"GET {nm}: {status}")
            get_client.append(ms)
    time.sleep(0.2)
    get_server = d.server_times(off, "GET", VM_NAME_RE)

    for _ in range(3):
        conn.call("GET", "/v1/vms")
    off = d.log_size()
    list_client, size = [], 0
    for _ in range(list_requests):
        status, raw, ms = conn.call("GET", "/v1/vms")
        if status != 200:
            raise RuntimeError(f"GET /v1/vms: {status}")
        size = len(raw)
        list_client.append(ms)
    count = len(json.loads(raw)["vms"])
    time.sleep(0.2)
    list_server = d.server_times(off, "GET", r"/v1/vms")
    keepalive = conn.connects == 1 and conn.sock is not None
    conn.close()
    return {
        "get_client_ms": bl.summarize(get_client),
        "get_server_ms": bl.summarize(get_server),
        "list_client_ms": bl.summarize(list_client),
        "list_server_ms": bl.summarize(list_server),
        "list_vms": count,
        "list_bytes": size,
        "connections_opened": conn.connects,
        "keepalive": keepalive,
    }


def time_command(argv, runs, warmup=2):
    for _ in range(warmup):
        subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    times = []
    for _ in range(runs):
        t0 = bl.now()
        subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        times.append((bl.now() - t0) * 1000)
    return bl.summarize(times)


def measure_cli(d, n, runs):
    base = [str(bl.WARREN), "--socket", str(d.socket)]
    out = subprocess.run(base + ["list"], capture_output=True, text=True, check=True).stdout
    rows = len(out.strip().splitlines()) - 1
    if rows != n:
        raise RuntimeError(f"warren list printed {rows} rows, wanted {n}")
    return {
        "list_ms": time_command(base + ["list"], runs),
        "list_json_ms": time_command(base + ["--format", "json", "list"], runs),
        "show_ms": time_command(base + ["show", vm_name(n // 2)], runs),
        "help_ms": time_command([str(bl.WARREN), "--help"], runs),
        "true_ms": time_command(["/bin/true"], runs),
        "cli_shared_libs": shared_libs(bl.WARREN),
    }


def shared_libs(binary):
    out = run_text(["ldd", str(binary)])
    return sum(1 for line in out.splitlines() if ".so" in line and "vdso" not in line)


def run_control(guest, reps, latency_rounds, list_requests, cli_runs):
    rates, create_client, create_server = [], [], []
    first_100, last_100 = [], []
    rss_idle, rss_full, keepalive = [], [], True
    out = {}
    for rep in range(reps):
        log(f"control plane {rep + 1}/{reps}: fresh warrend, {N_VMS} definitions")
        d = bl.Daemon()
        start_s = d.start()
        d.api("GET", "/v1/vms")
        time.sleep(0.5)
        rss_idle.append(d.rss())
        c = create_vms(d, guest, N_VMS)
        rates.append(c["per_second"])
        create_client += c["client_ms"]
        create_server += c["server_ms"]
        first_100 += c["server_ms"][:100]
        last_100 += c["server_ms"][-100:]
        keepalive = keepalive and c["keepalive"]
        light_workload(d, N_VMS)
        time.sleep(0.3)
        rss_full.append(d.rss())
        log(f"  {c['per_second']:.0f} definitions/s, RSS idle {rss_idle[-1]:.1f} MiB, "
            f"with {N_VMS} {rss_full[-1]:.1f} MiB")
        if rep == 0:
            out["host"] = d.api("GET", "/v1/host")
            out["fresh_start_ms"] = start_s * 1000
            log(f"  API latency ({latency_rounds} x {N_VMS} gets, {list_requests} lists)")
            out["latency"] = measure_latency(d, N_VMS, latency_rounds, list_requests)
            log(f"  CLI ({cli_runs} runs each)")
            out["cli"] = measure_cli(d, N_VMS, cli_runs)
            out["rss_after_latency_mib"] = d.rss()
            out["hwm_after_latency_mib"] = bl.proc_status(d.pid, "VmHWM")
            d.stop()
            log(f"  restart with {N_VMS} defined VMs")
            d2 = bl.Daemon(root=d.root)
            out["restart_ms"] = d2.start() * 1000
            vms = d2.api("GET", "/v1/vms")["vms"]
            if len(vms) != N_VMS:
                raise RuntimeError(f"after restart {len(vms)} VMs, wanted {N_VMS}")
            time.sleep(0.3)
            out["rss_after_restart_mib"] = d2.rss()
            d2.remove()
        else:
            d.remove()
    out.update({
        "vms": N_VMS,
        "reps": reps,
        "create_per_second": bl.summarize(rates),
        "create_client_ms": bl.summarize(create_client),
        "create_server_ms": bl.summarize(create_server),
        "create_server_first100_ms": bl.summarize(first_100),
        "create_server_last100_ms": bl.summarize(last_100),
        "create_keepalive": keepalive,
        "rss_idle_mib": bl.summarize(rss_idle),
        "rss_defined_mib": bl.summarize(rss_full),
    })
    return out


# ---- data plane ------------------------------------------------------------------

def warren_boot(d, name, settle):
    """Start name through warrend and follow its console stream to the
    readiness line; returns timings, the QEMU pid's RSS and its argv."""
    t0 = bl.now()
    vm = d.api("POST", f"/v1/vms/{name}/actions/start")
    t_started = bl.now()
    pid = vm["pid"]
    stream = d.connection(timeout=300)
    try:
        stream.request("GET", f"/v1/vms/{name}/console")
        resp = stream.getresponse()
        if resp.status != 200:
            raise RuntimeError(f"console stream: {resp.status} {resp.read()[:300]!r}")
        buf = b""
        while bl.READY_LINE not in buf:
            chunk = resp.read1(65536)
            if not chunk:
                raise RuntimeError(f"console stream ended before the readiness line: {buf[-500:]!r}")
            buf += chunk
        t_ready = bl.now()
    finally:
        stream.close()
    argv = Path(f"/proc/{pid}/cmdline").read_bytes().rstrip(b"\0").split(b"\0")
    time.sleep(settle)
    rss = bl.proc_status(pid, "VmRSS")
    d.api("POST", f"/v1/vms/{name}/actions/poweroff")
    return {
        "ready_ms": (t_ready - t0) * 1000,
        "start_call_ms": (t_started - t0) * 1000,
        "rss_mib": rss,
        "argv": [a.decode() for a in argv],
    }


def bare_argv(argv, vm_dir, tmp, keep_paused=False):
    """warrend's QEMU command line, run by hand: its files in tmp, the serial
    port into a file, and no -S (nobody will send cont) unless keep_paused."""
    out = [a.replace(vm_dir, str(tmp)) for a in argv if keep_paused or a != "-S"]
    serial_id = None
    for i, a in enumerate(out[:-1]):
        if a == "-serial" and out[i + 1].startswith("chardev:"):
            serial_id = out[i + 1].split(":", 1)[1]
    if serial_id is None:
        raise RuntimeError("no -serial chardev in warrend's QEMU command line")
    for i, a in enumerate(out[:-1]):
        if a == "-chardev" and f"id={serial_id}," in out[i + 1] + ",":
            out[i + 1] = f"file,id={serial_id},path={tmp}/serial.log"
    return out


def bare_boot(template, vm_dir, settle):
    tmp = bl.make_tmpdir("wq")
    argv = bare_argv(template, vm_dir, tmp)
    serial = tmp / "serial.log"
    serial.touch()
    watch = bl.FileWatcher(serial)
    qlog = open(tmp / "qemu.log", "ab")
    try:
        t0 = bl.now()
        p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=qlog, stderr=subprocess.STDOUT,
                             start_new_session=True)
        bl.at_cleanup(lambda: bl.kill_and_reap(p.pid) if p.poll() is None else None)
        buf = b""
        while bl.READY_LINE not in buf:
            buf += watch.read_new(0.5)
            if p.poll() is not None:
                raise RuntimeError(f"bare QEMU exited {p.returncode}: "
                                   f"{(tmp / 'qemu.log').read_text(errors='replace')[-1000:]}")
            if bl.now() - t0 > 300:
                raise RuntimeError("bare QEMU: no readiness line within 300 s")
        t_ready = bl.now()
        time.sleep(settle)
        rss = bl.proc_status(p.pid, "VmRSS")
        stop_process(p)
    finally:
        watch.close()
        qlog.close()
    shutil.rmtree(tmp, ignore_errors=True)
    return {"ready_ms": (t_ready - t0) * 1000, "rss_mib": rss}


def stop_process(p):
    """SIGTERM, then SIGKILL if it has not gone within 15 s."""
    p.terminate()
    try:
        p.wait(timeout=15)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()


def start_latency(d, name, template, vm_dir):
    """One pair: the start request through Warren (QEMU spawned, QMP connected,
    state recorded, cont sent) against the same -S command line spawned here
    with cont sent over QMP. Both are taken down at once."""
    t0 = bl.now()
    d.api("POST", f"/v1/vms/{name}/actions/start")
    warren_ms = (bl.now() - t0) * 1000
    d.api("POST", f"/v1/vms/{name}/actions/poweroff")

    tmp = bl.make_tmpdir("wq")
    argv = bare_argv(template, vm_dir, tmp, keep_paused=True)
    with open(tmp / "qemu.log", "ab") as qlog:
        t0 = bl.now()
        p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=qlog,
                             stderr=subprocess.STDOUT, start_new_session=True)
    bl.at_cleanup(lambda: bl.kill_and_reap(p.pid) if p.poll() is None else None)
    try:
        t1, _ = bl.qmp_session(tmp / "qmp.sock", ("cont",), t0 + 60)
        bare_ms = (t1 - t0) * 1000
    finally:
        stop_process(p)
        shutil.rmtree(tmp, ignore_errors=True)
    return warren_ms, bare_ms


def probe_later_features(d, name):
    probes = [
        ("Snapshots", "GET", f"/v1/vms/{name}/snapshots"),
        ("Stats sampling", "GET", f"/v1/vms/{name}/stats"),
        ("Metrics (Prometheus)", "GET", "/v1/metrics"),
    ]
    out = []
    for feature, method, path in probes:
        status, _, _ = d.conn.call(method, path)
        out.append({"feature": feature, "request": f"{method} {path}", "status": status,
                    "present": status != 404})
    return out


def run_data(guest, reps, settle, start_reps):
    log("data plane: fresh warrend, one 256 MiB guest")
    d = bl.Daemon()
    d.start()
    name = "bench-guest"
    vm = d.api("POST", "/v1/vms", guest_spec(guest, name))
    vm_dir = str(d.state_dir / "vms" / vm["id"])
    later = probe_later_features(d, name)
    host = d.api("GET", "/v1/host")

    log("  warm-up boot through warrend")
    warm = warren_boot(d, name, 0)
    template = warm["argv"]
    warren_runs, bare_runs = [], []
    for i in range(reps):
        order = ("warren", "bare") if i % 2 == 0 else ("bare", "warren")
        for kind in order:
            if kind == "warren":
                r = warren_boot(d, name, settle)
                r.pop("argv")
                warren_runs.append(r)
            else:
                r = bare_boot(template, vm_dir, settle)
                bare_runs.append(r)
            log(f"  {i + 1}/{reps} {kind:6s} ready after {r['ready_ms']:.0f} ms, "
                f"QEMU RSS {r['rss_mib']:.0f} MiB")
    log(f"  start request against bare spawn + QMP cont, {start_reps} pairs")
    start_pairs = [start_latency(d, name, template, vm_dir) for _ in range(start_reps)]
    d.remove()

    w_ready = [r["ready_ms"] for r in warren_runs]
    b_ready = [r["ready_ms"] for r in bare_runs]
    pairs = [w - b for w, b in zip(w_ready, b_ready)]
    return {
        "reps": reps,
        "settle_s": settle,
        "warren_ready_ms": bl.summarize(w_ready),
        "bare_ready_ms": bl.summarize(b_ready),
        "overhead_ms": (bl.percentile(w_ready, 50) - bl.percentile(b_ready, 50)) if pairs else None,
        "paired_diff_ms": bl.summarize(pairs),
        "start_call_ms": bl.summarize([r["start_call_ms"] for r in warren_runs]),
        "start_reps": start_reps,
        "start_warren_ms": bl.summarize([w for w, _ in start_pairs]),
        "start_bare_ms": bl.summarize([b for _, b in start_pairs]),
        "start_overhead_ms": (bl.percentile([w for w, _ in start_pairs], 50)
                              - bl.percentile([b for _, b in start_pairs], 50))
        if start_pairs else None,
        "start_paired_diff_ms": bl.summarize([w - b for w, b in start_pairs]),
        "qemu_rss_mib": bl.summarize([r["rss_mib"] for r in warren_runs]),
        "bare_qemu_rss_mib": bl.summarize([r["rss_mib"] for r in bare_runs]),
        "warren_runs": warren_runs,
        "bare_runs": bare_runs,
        "qemu_argv": list(template),
        "later_features": later,
        "host": host,
    }


# ---- features: suspend/resume, snapshots, clones, instant start, stats sampling ----------

MIB = 1 << 20
DATA_DISK = {"name": "data", "size": "64M"}
# The full-clone source: a disk of FULL_CLONE_DISK holding FULL_CLONE_GIB of data.
FULL_CLONE_DISK = "2G"
FULL_CLONE_GIB = 1
N_FORKS_AT_ONCE = 3


def proc_cpu_seconds(pid):
    """Time a process has spent on a CPU, in seconds, from schedstat (ns),
    summed over its threads: clock ticks (10 ms) are too coarse here."""
    total = 0
    for task in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{task}/schedstat") as fh:
            total += int(fh.read().split()[0])
    return total / 1e9


def wait_ready(d, name, count=1, timeout=120):
    t0 = bl.now()
    while bl.now() - t0 < timeout:
        status, body, _ = d.conn.call("GET", f"/v1/vms/{name}/console/log")
        if status == 200 and body.count(b"WARREN-GUEST-READY") >= count:
            return
        time.sleep(0.05)
    raise RuntimeError(f"{name} not ready within {timeout} s")


def wait_operation(d, reply):
    """Follow the operation of a 202 reply until it finished; return it."""
    op = reply["operation"]
    while op["status"] == "running":
        op = d.api("GET", f"/v1/operations/{op['id']}?wait=30")
    if op["status"] != "succeeded":
        raise RuntimeError(f"operation failed: {op}")
    return op


def timed_operation(d, path, body=None):
    """POST a request that answers 202 with an operation; (ms from the
    request until the operation finished, the finished operation)."""
    t0 = bl.now()
    op = wait_operation(d, d.api("POST", path, body, want=(202,)))
    return (bl.now() - t0) * 1000, op


def wait_exec(conn, name, timeout=60):
    """ms until the guest agent runs `true` (POST exec answered 200)."""
    t0 = bl.now()
    while bl.now() - t0 < timeout:
        status, _, _ = conn.call("POST", f"/v1/vms/{name}/exec", {"command": ["true"]})
        if status == 200:
            return (bl.now() - t0) * 1000
        time.sleep(0.01)
    raise RuntimeError(f"{name}: the guest agent did not answer within {timeout} s")


def timed_start(conn, name):
    """Start name (answered when it runs); (ms to running, ms to the first exec)."""
    t0 = bl.now()
    vm = conn.call_json("POST", f"/v1/vms/{name}/actions/start")
    running_ms = (bl.now() - t0) * 1000
    if vm["state"] != "running":
        raise RuntimeError(f"{name} answered the start in state {vm['state']}")
    return running_ms, running_ms + wait_exec(conn, name)


# Milestones in warrend's log of a guest resumed from a memory file, in order;
# each phase is the time from the milestone found before ("{vm}" is the VM's
# name; a milestone not logged, such as the answer of a restore's operation,
# is skipped). The start is answered once the guest runs; telling the guest
# goes on after, and the first exec waits for it.
RESUME_MARKS = (
    ("spawn", "{vm}: QEMU started as pid"),
    ("qemu_up", "{vm}: migration setup"),
    ("load", "{vm}: migration completed"),
    ("cont", "{vm}: starting -> running"),
    ("resumed", "{vm}: resumed from its saved state"),
    ("answer", "POST /v1/vms/{vm}/actions/start -> 200"),
    # guest-set-time runs `hwclock -w` in the guest, which QEMU reports.
    ("set_time", "{vm}: QMP event RTC_CHANGE"),
    ("told", "{vm}: guest clock set"),
    ("exec", "POST /v1/vms/{vm}/exec -> 200"),
)
START_MARKS = (("request", "{vm}: suspended -> starting"),) + RESUME_MARKS
RESTORE_MARKS = (("request", "POST /v1/vms/{vm}/snapshots/"),
                 ("stop", "{vm}: QEMU (pid"),
                 ("revert", "{vm}: disks restored to snapshot")) + RESUME_MARKS
PHASES = {
    "stop": "present guest stopped (QEMU gone)",
    "revert": "disks reverted (`qemu-img snapshot -a`)",
    "spawn": "QEMU spawned",
    "qemu_up": "QEMU up, QMP connected, incoming migration set up",
    "load": "memory file loaded (incoming migration)",
    "cont": "`cont`: the guest runs",
    "resumed": "resume recorded (a resume deletes its saved state file here)",
    "answer": "start request answered",
    "set_time": "guest agent: connected, `guest-set-time` until the guest writes its RTC",
    "told": "guest agent: `guest-exec` feeding entropy (and setting a fork's hostname) done",
    "exec": "the bench's waiting `exec true` answered",
}


def log_phases(d, offset, marks, vm):
    """ms between consecutive milestones logged since offset (the first
    one is the origin); a milestone not found is None."""
    lines = d.log_lines(offset)
    out, prev, i = {}, None, 0
    for label, text in marks:
        text = text.format(vm=vm)
        j = next((k for k in range(i, len(lines)) if text in lines[k][1]), None)
        if j is None:
            out[label] = None
            continue
        if prev is not None:
            out[label] = round((lines[j][0] - prev) * 1000, 1)
        prev, i = lines[j][0], j
    out.pop(marks[0][0], None)
    return out


def summarize_phases(runs):
    return {k: bl.summarize([r[k] for r in runs]) for k in (runs[0] if runs else {})}


def run_features(guest, reps, sample_s):
    out = run_memory_features(guest, reps)
    out.update(run_clones(guest, reps))
    out["sampling"] = run_sampling(guest, sample_s)
    return out


def run_memory_features(guest, reps):
    """One booted guest: suspend and resume, memory snapshots and their
    restore, then forks of a warm snapshot started one and three at once."""
    log("features: suspend/resume, memory snapshots and instant start of a 256 MiB guest")
    d = bl.Daemon()
    d.start()
    name = "bench-sus"
    d.api("POST", "/v1/vms", guest_spec(guest, name, disks=[DATA_DISK]))
    d.api("POST", f"/v1/vms/{name}/actions/start")
    wait_ready(d, name)
    time.sleep(1)
    vm_dir = d.state_dir / "vms" / d.api("GET", f"/v1/vms/{name}")["id"]
    suspend_ms, resume_ms, resume_ready_ms, resume_phases, state_mib = [], [], [], [], []
    for i in range(reps):
        ms, _ = timed_operation(d, f"/v1/vms/{name}/actions/suspend")
        suspend_ms.append(ms)
        state_mib.append(os.path.getsize(vm_dir / "memory.state") / MIB)
        off = d.log_size()
        # The exec also lets the guest be told before the next suspend.
        running, ready = timed_start(d.conn, name)
        resume_ms.append(running)
        resume_ready_ms.append(ready)
        resume_phases.append(log_phases(d, off, START_MARKS, name))
        log(f"  {i + 1}/{reps} suspend {suspend_ms[-1]:.0f} ms, resume {running:.0f} ms, "
            f"agent answers {ready:.0f} ms")

    snap_ms, memory_mib, restore_ms, restore_ready_ms, restore_phases = [], [], [], [], []
    for i in range(reps):
        snap = f"mem-{i}"
        ms, op = timed_operation(d, f"/v1/vms/{name}/snapshots", {"name": snap, "memory": True})
        snap_ms.append(ms)
        memory_mib.append(op["result"]["snapshot"]["memory_size"] / MIB)
        off = d.log_size()
        ms, op = timed_operation(d, f"/v1/vms/{name}/snapshots/{snap}/restore")
        if op["result"]["vm"]["state"] != "running":
            raise RuntimeError(f"restore finished with {name} {op['result']['vm']['state']}")
        restore_ms.append(ms)
        restore_ready_ms.append(ms + wait_exec(d.conn, name))
        restore_phases.append(log_phases(d, off, RESTORE_MARKS, name))
        d.api("DELETE", f"/v1/vms/{name}/snapshots/{snap}")
        log(f"  {i + 1}/{reps} snapshot {snap_ms[-1]:.0f} ms ({memory_mib[-1]:.0f} MiB), "
            f"restore {restore_ms[-1]:.0f} ms, agent answers {restore_ready_ms[-1]:.0f} ms")

    time.sleep(1)  # idle again: the warm snapshot the forks start from
    timed_operation(d, f"/v1/vms/{name}/snapshots", {"name": "warm", "memory": True})
    d.api("POST", f"/v1/vms/{name}/actions/poweroff")
    clone_ms = []

    def make_fork(f):
        ms, op = timed_operation(d, f"/v1/vms/{name}/clone",
                                 {"name": f, "linked": True, "snapshot": "warm"})
        if op["result"]["vm"]["state"] != "suspended":
            raise RuntimeError(f"fork {f} is {op['result']['vm']['state']}, not suspended")
        clone_ms.append(ms)

    # Forks stay (stopped) until the end: the snapshot's base lives as long as
    # a VM uses it, so only the first fork exports it.
    start_ms, ready_ms, fork_phases = [], [], []
    for i in range(reps):
        f = f"fork-{i}"
        make_fork(f)
        off = d.log_size()
        running, ready = timed_start(d.conn, f)
        start_ms.append(running)
        ready_ms.append(ready)
        fork_phases.append(log_phases(d, off, START_MARKS, f))
        d.api("POST", f"/v1/vms/{f}/actions/poweroff")
        log(f"  {i + 1}/{reps} fork cloned in {clone_ms[-1]:.0f} ms, running after "
            f"{running:.0f} ms, agent answers after {ready:.0f} ms")

    all_running_ms, all_ready_ms = [], []
    for i in range(reps):
        forks = [f"trio-{i}-{k}" for k in range(N_FORKS_AT_ONCE)]
        for f in forks:
            make_fork(f)
        running, ready = start_at_once(d, forks)
        all_running_ms.append(running)
        all_ready_ms.append(ready)
        for f in forks:
            d.api("POST", f"/v1/vms/{f}/actions/poweroff")
        log(f"  {i + 1}/{reps} {N_FORKS_AT_ONCE} forks at once: all running after "
            f"{running:.0f} ms, all answer after {ready:.0f} ms")
    d.remove()
    return {
        "guest": {"memory": "256M", "cpus": 1, "disks": [DATA_DISK]},
        "reps": reps,
        "suspend_ms": bl.summarize(suspend_ms),
        "resume_ms": bl.summarize(resume_ms),
        "resume_ready_ms": bl.summarize(resume_ready_ms),
        "resume_phases_ms": summarize_phases(resume_phases),
        "state_file_mib": bl.summarize(state_mib),
        "snapshot_ms": bl.summarize(snap_ms),
        "snapshot_memory_mib": bl.summarize(memory_mib),
        "restore_ms": bl.summarize(restore_ms),
        "restore_ready_ms": bl.summarize(restore_ready_ms),
        "restore_phases_ms": summarize_phases(restore_phases),
        "linked_clone_snapshot_first_ms": clone_ms[0],
        "linked_clone_snapshot_ms": bl.summarize(clone_ms[1:]),
        "instant_start_ms": bl.summarize(start_ms),
        "instant_ready_ms": bl.summarize(ready_ms),
        "instant_phases_ms": summarize_phases(fork_phases),
        "forks_at_once": N_FORKS_AT_ONCE,
        "instant_start_all_ms": bl.summarize(all_running_ms),
        "instant_ready_all_ms": bl.summarize(all_ready_ms),
    }


def start_at_once(d, names):
    """Start names together, one thread and connection each; (ms until all
    run, ms until all agents answer), from the moment the threads are let go."""
    conns = [d.connection() for _ in names]
    gate = threading.Barrier(len(names) + 1)
    ends, errors = [], []

    def one(conn, name):
        gate.wait()
        t0 = bl.now()
        try:
            running, ready = timed_start(conn, name)
            ends.append((t0 + running / 1000, t0 + ready / 1000))
        except Exception as e:  # raised again below, outside the thread
            errors.append(e)
        finally:
            conn.close()

    threads = [threading.Thread(target=one, args=(c, n)) for c, n in zip(conns, names)]
    for t in threads:
        t.start()
    gate.wait()
    t0 = bl.now()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return tuple((max(e[k] for e in ends) - t0) * 1000 for k in (0, 1))


def run_clones(guest, reps):
    """Full and linked clones of a stopped VM whose disk holds real data."""
    log(f"features: full and linked clones of a VM holding {FULL_CLONE_GIB} GiB of data")
    d = bl.Daemon()
    d.start()
    src = "bench-big"
    vm = d.api("POST", "/v1/vms", guest_spec(guest, src, disks=[
        {"name": "data", "size": FULL_CLONE_DISK}]))
    disk = d.state_dir / "vms" / vm["id"] / "disk-data.qcow2"
    subprocess.run(["qemu-io", "-f", "qcow2", "-c", f"write -P 7 0 {FULL_CLONE_GIB}G",
                    str(disk)], check=True, capture_output=True)
    os.sync()  # the copies should not compete with writing that data back
    allocated_mib = os.stat(disk).st_blocks * 512 / MIB
    full_ms, linked_ms = [], []
    # Full first: a linked clone turns the source's disk into a base. Full
    # clones are deleted one by one (each holds a copy of the data); linked
    # ones stay until the end, as the bases chained under the source do.
    for kind, body, times in (("full", {}, full_ms), ("linked", {"linked": True}, linked_ms)):
        for i in range(reps):
            clone = f"{kind}-{i}"
            ms, _ = timed_operation(d, f"/v1/vms/{src}/clone", {"name": clone, **body})
            times.append(ms)
            if kind == "full":
                d.api("DELETE", f"/v1/vms/{clone}")
            log(f"  {i + 1}/{reps} {kind} clone {ms:.0f} ms")
    d.remove()
    return {
        "clone_source": {"disk": FULL_CLONE_DISK, "data_gib": FULL_CLONE_GIB,
                         "allocated_mib": allocated_mib},
        "full_clone_ms": bl.summarize(full_ms),
        "full_clone_s_per_gib": bl.summarize([ms / 1000 / FULL_CLONE_GIB for ms in full_ms]),
        "linked_clone_ms": bl.summarize(linked_ms),
    }


def run_sampling(guest, sample_s):
    log(f"features: stats sampling, {N_SAMPLED_DEFINED} defined and {N_SAMPLED_RUNNING} running")
    d = bl.Daemon(log_level="info", args=["--stats-interval", "1"])
    d.start()
    for i in range(N_SAMPLED_DEFINED):
        d.api("POST", "/v1/vms", guest_spec(guest, f"idle-{i:02d}"))
    for i in range(N_SAMPLED_RUNNING):
        d.api("POST", f"/v1/vms/idle-{i:02d}/actions/start")
    for i in range(N_SAMPLED_RUNNING):
        wait_ready(d, f"idle-{i:02d}")
    time.sleep(3)
    since_ms = int(time.time() * 1000)
    c0, t0 = proc_cpu_seconds(d.pid), bl.now()
    time.sleep(sample_s)
    cpu, wall = proc_cpu_seconds(d.pid) - c0, bl.now() - t0
    # The samples really taken in the window (one VM's view), not assumed.
    # A fresh connection: warrend closes one left idle through the window.
    taken = len(d.connection().call_json("GET", f"/v1/vms/idle-00/stats?since={since_ms}")
                ["samples"])
    rounds = max(taken, 1)
    d.remove()
    per_round_ms = cpu / rounds * 1000
    return {
        "defined": N_SAMPLED_DEFINED, "running": N_SAMPLED_RUNNING,
        "measured_s": wall, "interval_s": 1.0, "warrend_cpu_s": cpu,
        "rounds": taken,
        "per_round_ms": per_round_ms,
        # The same work every 10 s, as a share of one core.
        "percent_of_core_at_10s": per_round_ms / 10000 * 100,
    }


# ---- targets and the report ---------------------------------------------------------

TMP_DIR = re.compile(r"/tmp/wb[A-Za-z0-9_]+")


def portable(obj):
    """The recorded results name no path of the machine they ran on: the
    checkout becomes <repo> and a benchmark's private directory <tmp>."""
    if isinstance(obj, str):
        return TMP_DIR.sub("<tmp>", obj.replace(str(bl.ROOT), "<repo>"))
    if isinstance(obj, list):
        return [portable(v) for v in obj]
    if isinstance(obj, tuple):
        return tuple(portable(v) for v in obj)
    if isinstance(obj, dict):
        return {k: portable(v) for k, v in obj.items()}
    return obj


def g(dct, *keys):
    for k in keys:
        if not isinstance(dct, dict) or k not in dct:
            return None
        dct = dct[k]
    return dct


def evaluate(res):
    c, dp, ft = res.get("control", {}), res.get("data", {}), res.get("features", {})
    rows = [
        ("get", "`GET /v1/vms/{name}` p99, server side", g(c, "latency", "get_server_ms", "p99"),
         "ms", "<", 1.0),
        ("list", f"`GET /v1/vms` ({N_VMS:,} VMs) p99, server side",
         g(c, "latency", "list_server_ms", "p99"), "ms", "<", 10.0),
        ("cli_list", f"`warren list` ({N_VMS:,} VMs) median, end to end",
         g(c, "cli", "list_ms", "median"), "ms", "<", 20.0),
        ("define", "Definitions per second, median", g(c, "create_per_second", "median"),
         "VMs/s", ">=", 1000.0),
        ("rss_idle", "warrend RSS idle, median", g(c, "rss_idle_mib", "median"), "MiB", "<", 10.0),
        ("rss_defined", f"warrend RSS with {N_VMS:,} defined VMs, median",
         g(c, "rss_defined_mib", "median"), "MiB", "<", 30.0),
        ("overhead", "Start-to-ready overhead over bare QEMU (difference of medians)",
         g(dp, "overhead_ms"), "ms", "<=", 50.0),
        ("start_path", "Same, start path alone without the boot (difference of medians)",
         g(dp, "start_overhead_ms"), "ms", "<=", 50.0),
        ("sampling", f"Stats sampling of {N_SAMPLED_DEFINED} defined and {N_SAMPLED_RUNNING} "
         "running VMs at a 10 s interval, share of one core",
         g(ft, "sampling", "percent_of_core_at_10s"), "%", "<", 1.0),
        ("instant_start", "Instant start (fork of a warm snapshot, start request to running), "
         "median", g(ft, "instant_start_ms", "median"), "ms", "<", 300.0),
    ]
    out = []
    for key, label, value, unit, op, limit in rows:
        met = None
        if value is not None:
            met = {"<": value < limit, "<=": value <= limit, ">=": value >= limit}[op]
        out.append({"id": key, "figure": label, "value": value, "unit": unit,
                    "target": f"{op} {limit:g} {unit}".replace(">=", "≥").replace("<=", "≤"),
                    "met": met, "note": ""})
    ir = g(ft, "instant_ready_ms", "median")
    if ir is not None:
        row = next(t for t in out if t["id"] == "instant_start")
        row["note"] = (f"until the guest agent answers `exec true`: {ir:,.0f} ms (the guest "
                       "is told its new clock, entropy and hostname after the answer)")
    pd = g(dp, "paired_diff_ms")
    if pd and pd.get("n", 0) > 1:
        row = next(t for t in out if t["id"] == "overhead")
        row["note"] = (f"per-pair median {pd['median']:+.0f} ms, range {pd['min']:+.0f} to "
                       f"{pd['max']:+.0f} ms: the boot's noise is larger than the target")
    return out


def f(v, digits=2):
    if v is None:
        return "n/a"
    if abs(v) >= 100:
        return f"{v:,.0f}"
    return f"{v:.{digits}f}"


def mmm(s, digits=2, unit=""):
    """median (min–max) of a summary."""
    if not s or not s.get("n"):
        return "n/a"
    u = f" {unit}" if unit else ""
    if s["n"] == 1:
        return f"{f(s['median'], digits)}{u} (1 run)"
    return f"{f(s['median'], digits)}{u} ({f(s['min'], digits)}–{f(s['max'], digits)}, n={s['n']})"


def pp(s, digits=3):
    if not s or not s.get("n"):
        return "n/a", "n/a", "n/a"
    return f(s["p50"], digits), f(s["p99"], digits), f(s["max"], digits)


def report(res):
    m, c, dp = res["machine"], res.get("control", {}), res.get("data", {})
    host = c.get("host") or dp.get("host") or {}
    accel = host.get("accel", {})
    L = []
    a = L.append
    a("# Warren performance")
    a("")
    a(f"Recorded by `bench/run{' --quick' if res['quick'] else ''}` on {m['date']} "
      f"(whole run {res['duration_s'] / 60:.1f} min). Every figure below comes from that one "
      "run, so ratios between figures are comparable; figures from another machine are not. "
      "Timings are recorded, never asserted by the tests. Re-run with `bench/run` "
      "(`bench/run --quick` for a smoke run that leaves this page alone); raw numbers are in "
      "`bench/results/latest.json`.")
    a("")
    a("## Machine")
    a("")
    a("| | |")
    a("|---|---|")
    a(f"| CPU | {m['cpu_model']}, {m['cpus_online']} logical CPUs ({m['cpus_usable']} usable) |")
    a(f"| Memory | {m['memory_gib']} GiB |")
    a(f"| OS, kernel | {m['os']}, {m['kernel']} |")
    a(f"| QEMU | {m['qemu']} |")
    a(f"| Accelerator warrend chose | {accel.get('kind', '?')} — {accel.get('reason', '')} |")
    a(f"| Warren | {host.get('version', '?')}, commit {m['git_commit']}; build/release: "
      f"buildtype {m['build'].get('buildtype', '?')}, -O{m['build'].get('optimization', '?')}, "
      f"sanitizer {m['build'].get('b_sanitize', '?')} |")
    a(f"| State dirs | {m['tmp_filesystem']}; 4 KiB write + fdatasync: "
      f"p50 {f(m['fsync_ms'].get('p50'), 2)} ms, max {f(m['fsync_ms'].get('max'), 2)} ms |")
    la0, la1 = m["loadavg_start"], res.get("loadavg_end", (0, 0, 0))
    a(f"| Load average (1 min) | {la0[0]:.2f} at start, {la1[0]:.2f} at end (shared machine) |")
    a(f"| Python | {m['python']} |")
    a("")
    a("## Targets")
    a("")
    a("| Figure | Value | Target | |")
    a("|---|---|---|---|")
    for t in res["targets"]:
        state = "not measured" if t["met"] is None else ("met" if t["met"] else "**missed**")
        if t.get("note"):
            state += f" ({t['note']})"
        val = "n/a" if t["value"] is None else f"{f(t['value'])} {t['unit']}"
        a(f"| {t['figure']} | {val} | {t['target']} | {state} |")
    a("")

    if c:
        lat = c.get("latency", {})
        cli = c.get("cli", {})
        a("## Control plane")
        a("")
        a(f"Each repetition starts a fresh warrend (`--log-level debug`, empty state directory "
          f"under /tmp), reads its RSS, defines {N_VMS:,} VMs (`bench-0000`…, kernel + initrd, "
          "no disks) with `POST /v1/vms` one after another on one kept-alive connection, serves "
          "a few lists and gets, and reads its RSS again. Server-side times are the durations "
          "warrend logs for each request at debug level (from routing to the reply being "
          "queued); client-side times are round trips through `http.client` over the Unix "
          "socket.")
        a("")
        ka = c.get("create_keepalive") and lat.get("keepalive")
        a(f"Keep-alive: {'confirmed' if ka else '**not kept**'} — every definition run and "
          f"latency run used {'a single connection' if ka else 'more than one connection'} "
          f"({lat.get('connections_opened', '?')} opened for the latency run).")
        a("")
        a("| Figure | median (min–max) |")
        a("|---|---|")
        a(f"| Definitions per second ({c['reps']} × {N_VMS:,}) | "
          f"{mmm(c.get('create_per_second'), 0, 'VMs/s')} |")
        a(f"| warrend RSS, idle | {mmm(c.get('rss_idle_mib'), 2, 'MiB')} |")
        a(f"| warrend RSS, {N_VMS:,} defined | {mmm(c.get('rss_defined_mib'), 2, 'MiB')} |")
        a(f"| warrend RSS after the latency and CLI runs (peak VmHWM) | "
          f"{f(c.get('rss_after_latency_mib'))} MiB ({f(c.get('hwm_after_latency_mib'))} MiB) |")
        a(f"| warrend start to first answer, empty / {N_VMS:,} defined | "
          f"{f(c.get('fresh_start_ms'), 1)} ms / {f(c.get('restart_ms'), 1)} ms |")
        a(f"| warrend RSS right after that restart | {f(c.get('rss_after_restart_mib'))} MiB |")
        a("")
        a("| Request | n | p50 ms | p99 ms | max ms |")
        a("|---|---|---|---|---|")
        for label, key in (("`POST /v1/vms` (define), server", "create_server_ms"),
                           ("`POST /v1/vms` (define), client", "create_client_ms")):
            s = c.get(key, {})
            a(f"| {label} | {s.get('n', 0)} | " + " | ".join(pp(s)) + " |")
        for label, key in (("`POST /v1/vms`, server, first 100 of each run", "create_server_first100_ms"),
                           ("`POST /v1/vms`, server, last 100 of each run", "create_server_last100_ms")):
            s = c.get(key, {})
            a(f"| {label} | {s.get('n', 0)} | " + " | ".join(pp(s)) + " |")
        for label, key in ((f"`GET /v1/vms/{{name}}` ({N_VMS:,} defined), server", "get_server_ms"),
                           (f"`GET /v1/vms/{{name}}` ({N_VMS:,} defined), client", "get_client_ms"),
                           (f"`GET /v1/vms` ({N_VMS:,} VMs), server", "list_server_ms"),
                           (f"`GET /v1/vms` ({N_VMS:,} VMs), client", "list_client_ms")):
            s = lat.get(key, {})
            a(f"| {label} | {s.get('n', 0)} | " + " | ".join(pp(s)) + " |")
        a("")
        if lat.get("list_bytes"):
            a(f"The list answer is {lat['list_bytes'] / 1024:,.0f} KiB of JSON for "
              f"{lat.get('list_vms')} VMs.")
            a("")
        a(f"CLI, end to end (fork + exec + connect + request + output to /dev/null), "
          f"{N_VMS:,} VMs defined:")
        a("")
        a("| Command | median (min–max) |")
        a("|---|---|")
        a(f"| `warren list` | {mmm(cli.get('list_ms'), 2, 'ms')} |")
        a(f"| `warren --format json list` | {mmm(cli.get('list_json_ms'), 2, 'ms')} |")
        a(f"| `warren show {vm_name(N_VMS // 2)}` | {mmm(cli.get('show_ms'), 2, 'ms')} |")
        a(f"| `warren --help`, no request (start-up floor of the CLI: "
          f"{cli.get('cli_shared_libs', '?')} shared libraries, most pulled in by libcurl) | "
          f"{mmm(cli.get('help_ms'), 2, 'ms')} |")
        a(f"| `/bin/true` through the same harness (process start floor) | "
          f"{mmm(cli.get('true_ms'), 2, 'ms')} |")
        a("")

    if dp:
        a("## Data plane")
        a("")
        a("Start-to-ready: from sending the start request to reading `WARREN-GUEST-READY` from "
          "the serial console of the reference guest (1 vCPU, 256 MiB, kernel + initrd; "
          f"{accel.get('kind', '?')}). Through Warren: `POST /v1/vms/{{name}}/actions/start` "
          "on a kept-alive connection, then `GET /v1/vms/{name}/console` followed until the "
          "line. Bare QEMU: the exact command line warrend ran (read from the QEMU process's "
          "`/proc/<pid>/cmdline` after a warm-up start), with its sockets and pid file moved to "
          "a fresh temporary directory, the serial port written to a file watched with inotify, "
          f"and `-S` removed. {dp['reps']} runs each, interleaved, alternating which goes first.")
        a("")
        a("| Figure | median (min–max) |")
        a("|---|---|")
        a(f"| Start to ready through Warren | {mmm(dp.get('warren_ready_ms'), 0, 'ms')} |")
        a(f"| Start to ready, bare QEMU | {mmm(dp.get('bare_ready_ms'), 0, 'ms')} |")
        a(f"| Difference of the medians (what Warren adds) | {f(dp.get('overhead_ms'), 1)} ms |")
        a(f"| Per-pair difference (Warren − bare) | {mmm(dp.get('paired_diff_ms'), 1, 'ms')} |")
        a(f"| Start request answered through Warren, during those runs | "
          f"{mmm(dp.get('start_call_ms'), 1, 'ms')} |")
        a(f"| QEMU RSS, idle guest {dp['settle_s']:g} s after ready, started by warrend | "
          f"{mmm(dp.get('qemu_rss_mib'), 1, 'MiB')} |")
        a(f"| QEMU RSS, same, bare QEMU | {mmm(dp.get('bare_qemu_rss_mib'), 1, 'MiB')} |")
        a("")
        a("Guest boot under TCG takes seconds and varies from run to run on a shared machine, "
          "so the difference of the two start-to-ready medians carries that noise (the "
          "per-pair spread shows how much). The start path alone, without the boot, is "
          f"measured separately with {dp.get('start_reps', 0)} interleaved pairs: through "
          "Warren, the start request's round trip (warrend records the state change, spawns "
          "QEMU with `-S`, connects to its QMP socket with 10 ms retries, sends `cont`, "
          "records the state change and answers); bare, the same `-S` command line spawned "
          "by the bench, which connects to QMP as soon as it accepts (1 ms retries) and sends "
          "`cont`. Each QEMU is taken down right after.")
        a("")
        a("| Start path | median (min–max) |")
        a("|---|---|")
        a(f"| Start request through Warren, until `cont` answered | "
          f"{mmm(dp.get('start_warren_ms'), 1, 'ms')} |")
        a(f"| Bare: spawn until QMP `cont` answered | {mmm(dp.get('start_bare_ms'), 1, 'ms')} |")
        a(f"| Difference of the medians (what Warren adds before the guest runs) | "
          f"{f(dp.get('start_overhead_ms'), 1)} ms |")
        a(f"| Per-pair difference | {mmm(dp.get('start_paired_diff_ms'), 1, 'ms')} |")
        a("")
        a(configuration_note(dp))
        a("")
        a("<details><summary>QEMU command line warrend ran</summary>")
        a("")
        a("    " + " ".join(dp.get("qemu_argv", [])))
        a("")
        a("</details>")
        a("")

    ft = res.get("features")
    if ft:
        report_features(a, ft)
    if res.get("network"):
        report_network(a, res["network"])
    if res.get("migration"):
        report_migration(a, res["migration"])
    if res.get("cluster"):
        report_cluster(a, res["cluster"])

    a("## Not yet measured")
    a("")
    a("- The `latency` and `density` performance presets, the `strict` security policy "
      "(QEMU in its seccomp sandbox as the unprivileged user `warren-qemu`) and resource "
      "limits (CPU limit and weight, memory limit, pinning, disk IOPS and bandwidth limits) "
      "exist but are not measured: every figure is for `balanced`, `trusted` VMs without "
      "limits.")
    for p in dp.get("later_features", []) if dp else []:
        if p["present"]:
            continue  # measured above
        else:
            a(f"- {p['feature']}: not yet implemented (`{p['request']}` answers 404); no numbers.")
    if not ft:
        a("- Suspend, snapshots, clones, instant start, stats sampling: not measured in this run.")
    a("")
    if ANALYSIS.exists():
        a(ANALYSIS.read_text().rstrip())
        a("")
    return "\n".join(L)


FEATURE_ROWS = (
    ("suspend_ms", "Suspend (request to QEMU gone), ms", 0),
    ("resume_ms", "Resume from suspend (start request answered: the guest runs), ms", 0),
    ("resume_ready_ms", "Resume, start request to the guest agent answering `exec true`, ms", 0),
    ("state_file_mib", "Saved state file, MiB", 0),
    ("snapshot_ms", "Snapshot with memory of the running guest (request to operation "
     "finished), ms", 0),
    ("snapshot_memory_mib", "Its memory file, MiB", 0),
    ("restore_ms", "Restore of that snapshot on the running guest (request to operation "
     "finished: the guest runs again), ms", 0),
    ("restore_ready_ms", "Restore, request to the guest agent answering `exec true`, ms", 0),
    ("full_clone_ms", "Full clone of a stopped VM holding {data} GiB of data, ms", 0),
    ("full_clone_s_per_gib", "Full clone, seconds per GiB of data", 2),
    ("linked_clone_ms", "Linked clone of that VM (stopped, no snapshots), ms", 0),
    ("linked_clone_snapshot_ms", "Linked clone from a memory snapshot (its base already "
     "exported), ms", 0),
    ("instant_start_ms", "Instant start: fork of a warm snapshot, start request answered "
     "(the guest runs), ms", 0),
    ("instant_ready_ms", "Instant start, start request to the agent answering `exec true`, ms",
     0),
    ("instant_start_all_ms", "{n} forks started at once, until all run, ms", 0),
    ("instant_ready_all_ms", "{n} forks started at once, until all agents answer, ms", 0),
)


def configuration_note(dp):
    host = dp.get("host") or {}
    cg = host.get("cgroups")
    where = (f"each QEMU sits in its own cgroup ({cg} here) with the default CPU weight and "
             "no CPU, memory or I/O limit" if cg and cg != "none" else
             "the host has no usable cgroups, so QEMU runs outside any")
    return ("Every figure is for VMs with the `balanced` performance preset (the default: "
            "QEMU's own TCG translation cache, no pinning) and the `trusted` security policy "
            "(QEMU as root without its sandbox, which a kernel read from the build tree "
            f"needs), with no resource limits set: {where}. Admission control checks every "
            "start; these guests fit easily.")


def report_features(a, ft):
    disk = (g(ft, "guest", "disks") or [{}])[0]
    src = ft.get("clone_source", {})
    a("## Features")
    a("")
    a(f"One warrend and one reference guest (1 vCPU, 256 MiB, a {disk.get('size', '?')} data "
      f"disk), booted once and idle. Each figure is over {ft.get('reps', '?')} repetitions on "
      "that guest: suspend, then start (resume), then `POST /v1/vms/{name}/exec` of `true` "
      "until it answers 200; a memory snapshot, then its restore, then the same exec, then "
      "the snapshot deleted; "
      "then one warm memory snapshot, the guest powered off, and forks of that snapshot "
      "(`POST /v1/vms/{name}/clone` with `linked` and `snapshot`: a suspended VM) started "
      f"one at a time and {ft.get('forks_at_once', '?')} at once (one thread and connection "
      "each), each followed by the same exec. A start from saved memory (resume, restore, "
      "fork) is answered as soon as the guest runs; warrend then tells the guest through its "
      "agent (clock, entropy, a fork's hostname), and an exec sent through warrend waits "
      "until that is done, so the exec figures include it. "
      "Times of operations run from the request to the operation reported finished "
      "(`GET /v1/operations/{id}?wait=30`). Clones: a second warrend and a stopped VM whose "
      f"{src.get('disk', '?')} disk holds {src.get('data_gib', '?')} GiB of data (written "
      f"with `qemu-io`, {f(src.get('allocated_mib'), 0)} MiB allocated), cloned in full "
      "(each copy deleted before the next) and then linked (each clone adopts the source's "
      "present disk as a base and gives the source a new overlay; the clones stay).")
    a("")
    a("| Figure | n | Median | Min | Max |")
    a("|---|---|---|---|---|")
    for key, label, digits in FEATURE_ROWS:
        sm = ft.get(key) or {}
        label = label.format(data=src.get("data_gib", "?"), n=ft.get("forks_at_once", "?"))
        a(f"| {label} | {sm.get('n', 0)} | {f(sm.get('median'), digits)} | "
          f"{f(sm.get('min'), digits)} | {f(sm.get('max'), digits)} |")
    a("")
    a(f"The first fork of the warm snapshot exports the snapshot's disks into a base, which "
      f"later forks share: that clone took {f(ft.get('linked_clone_snapshot_first_ms'), 0)} ms.")
    a("")
    cols = [ft.get(k) or {} for k in ("resume_phases_ms", "restore_phases_ms",
                                      "instant_phases_ms")]
    if any(cols):
        a("Where the time goes, from warrend's debug log (millisecond timestamps; medians of "
          "each phase, so they need not add up to the medians above; n/a: not part of that "
          "path or not logged):")
        a("")
        a("| Phase (time since the one before) | Resume, ms | Restore, ms | Instant start, ms |")
        a("|---|---|---|---|")
        for key, label in PHASES.items():
            if any(key in c for c in cols):
                a(f"| {label} | " + " | ".join(f(g(c, key, 'median'), 0) for c in cols) + " |")
        a("")
    sp = ft.get("sampling", {})
    a(f"Stats sampling: warrend used {f(sp.get('warrend_cpu_s'), 4)} s of CPU over "
      f"{f(sp.get('measured_s'), 1)} s while sampling {sp.get('running')} running VMs "
      f"(of {sp.get('defined')} defined) every second ({sp.get('rounds')} rounds seen in "
      f"the history): {f(sp.get('per_round_ms'), 3)} ms per "
      f"round, which at the default 10 s interval is {f(sp.get('percent_of_core_at_10s'), 3)}% "
      "of one core.")
    a("")


# ---- networks ---------------------------------------------------------------

def _ns(ns, *cmd):
    return subprocess.run(["ip", "netns", "exec", ns] + list(cmd), capture_output=True,
                          text=True, check=True).stdout


def _guest_sh(d, name, script, timeout=60):
    out = d.api("POST", f"/v1/vms/{name}/exec",
                {"command": ["sh", "-c", script], "timeout": timeout})
    return out["exit_code"], out.get("stdout", "") + out.get("stderr", "")


def run_network(guest, reps):
    """A network in a namespace of our own: its create and delete, then two
    guests on it: ping round trips and a TCP stream measured at the
    receiver's tap."""
    log("network: create/delete, guest-to-guest latency and throughput (virtio-net, TCG)")
    ns = f"wbench-{os.getpid()}"
    subprocess.run(["ip", "netns", "add", ns], check=True)
    bl.at_cleanup(lambda: subprocess.run(["ip", "netns", "del", ns]))
    _ns(ns, "ip", "link", "set", "lo", "up")
    d = bl.Daemon(netns=ns)
    d.start()
    bl.at_cleanup(lambda: subprocess.run(["pkill", "-f", "--", f"--conf-file={d.state_dir}/"]))
    create_ms, delete_ms = [], []
    for i in range(reps):
        t0 = bl.now()
        d.api("POST", "/v1/networks", {"name": "bn", "subnet": "10.70.0.0/24", "nat": True})
        create_ms.append((bl.now() - t0) * 1000)
        t0 = bl.now()
        d.api("DELETE", "/v1/networks/bn")
        delete_ms.append((bl.now() - t0) * 1000)
    d.api("POST", "/v1/networks", {"name": "bn", "subnet": "10.70.0.0/24"})
    for n in ("nb1", "nb2"):
        d.api("POST", "/v1/vms", guest_spec(guest, n, nics=[{"network": "bn"}]))
        d.api("POST", f"/v1/vms/{n}/actions/start")
    for n in ("nb1", "nb2"):
        wait_ready(d, n)
    nic2 = d.api("GET", "/v1/vms/nb2")["nics"][0]
    ip2 = nic2["ip"]
    t0 = bl.now()
    while _guest_sh(d, "nb1", f"ping -c 1 -W 1 {ip2}")[0] != 0:
        if bl.now() - t0 > 60:
            raise RuntimeError("the guests got no addresses")
    _, out = _guest_sh(d, "nb1", f"ping -c {10 * reps} -i 0.2 {ip2}")
    rtts = [float(x) for x in re.findall(r"time=([\d.]+) ms", out)]
    _guest_sh(d, "nb2", "mkfifo /tmp/nc.in; (while :; do nc -l -p 5001 >/dev/null "
                        "<>/tmp/nc.in; done) >/dev/null 2>&1 &")
    _guest_sh(d, "nb1", f"dd if=/dev/zero bs=65536 count=400000 2>/dev/null | nc {ip2} 5001 "
                        ">/dev/null 2>&1 &")
    time.sleep(2)
    path = f"/sys/class/net/{nic2['tap']}/statistics/tx_bytes"
    mbit = []
    for _ in range(reps):
        a, t0 = int(_ns(ns, "cat", path)), bl.now()
        time.sleep(3)
        b, t1 = int(_ns(ns, "cat", path)), bl.now()
        mbit.append((b - a) * 8 / (t1 - t0) / 1e6)
    _guest_sh(d, "nb1", "killall nc dd; true")
    for n in ("nb1", "nb2"):
        d.conn.call("DELETE", f"/v1/vms/{n}?force=true")
    d.api("DELETE", "/v1/networks/bn")
    d.stop()
    return {"create_ms": bl.summarize(create_ms), "delete_ms": bl.summarize(delete_ms),
            "rtt_ms": bl.summarize(rtts), "throughput_mbit": bl.summarize(mbit),
            "mtu": 1500}


def report_network(a, nw):
    a("## Networks")
    a("")
    a("One warrend in a network namespace of its own. A network (bridge, dnsmasq, nftables "
      "rules) created and deleted again; then two reference guests (1 vCPU, 256 MiB, "
      f"virtio-net, MTU {nw.get('mtu')}) on one network: `ping` round trips from one to the "
      "other, and a TCP stream (`dd | nc`) from one to the other measured as the bytes the "
      "host hands to the receiver's tap over 3 s windows. Under TCG the guests' CPUs, not "
      "the bridge, bound the throughput.")
    a("")
    if nw.get("note"):
        a(nw["note"])
        a("")
    a("| Figure | n | Median | Min | Max |")
    a("|---|---|---|---|---|")
    for key, label in (("create_ms", "Network create, ms"), ("delete_ms", "Network delete, ms"),
                       ("rtt_ms", "Guest-to-guest ping round trip, ms"),
                       ("throughput_mbit", "Guest-to-guest TCP stream, Mbit/s")):
        sm = nw.get(key) or {}
        a(f"| {label} | {sm.get('n', 0)} | {f(sm.get('median'))} | {f(sm.get('min'))} | "
          f"{f(sm.get('max'))} |")
    a("")


# ---- migration --------------------------------------------------------------

PEER_TOKEN = "bench-migration-token-0123456789"
DIRTY_MIB = 128
# Migrations still running after this long are cancelled and counted as not
# converged (the guest stays where it was); the rest of that case is skipped.
MIGRATION_TIMEOUT_S = 60
# In the guest: a tmpfs big enough (the guest's own /tmp holds about 109 MiB),
# one MiB of random bytes, and a file of DIRTY_MIB MiB rewritten from it again
# and again with `cat blk blk ... 1<>x` (no truncation, so the same pages are
# written each pass). The bytes are not zeros on purpose: QEMU sends a zero
# page as a flag, so `dd if=/dev/zero` would dirty pages that cost nothing to
# send. One pass allocates the file, five are timed (the guest's own rate
# while nothing migrates), then the loop goes on in the background with its
# output redirected and stdin from /dev/null, or the exec would never return.
DIRTY_SCRIPT = (
    f"mount -t tmpfs -o size={DIRTY_MIB + 8}m tmpfs /dev/shm && "
    "head -c 1048576 /dev/urandom >/dev/shm/blk && "
    f"set --; i=0; while [ $i -lt {DIRTY_MIB} ]; do set -- \"$@\" /dev/shm/blk; i=$((i+1)); done; "
    "cat \"$@\" 1<>/dev/shm/x; "
    "read t0 _ </proc/uptime; for k in 1 2 3 4 5; do cat \"$@\" 1<>/dev/shm/x; done; "
    "read t1 _ </proc/uptime; echo $t0 $t1; "
    "(while :; do cat \"$@\" 1<>/dev/shm/x; done) </dev/null >/dev/null 2>&1 &")
# (id, label, peer the guest goes to and comes back from, expected storage, dirtying)
MIGRATION_CASES = (
    ("idle_copy", "idle, copied storage", "a", "copy", False),
    ("idle_shared", "idle, shared storage", "c", "shared", False),
    ("busy_copy", f"dirtying {DIRTY_MIB} MiB, copied storage", "a", "copy", True),
    ("busy_shared", f"dirtying {DIRTY_MIB} MiB, shared storage", "c", "shared", True),
)
# After each migration the guest runs this long before it is checked (its
# agent answers, its console shows no crash) and moves again.
MIGRATION_SETTLE_S = 1.0
# downtime_ms below the pause seen in the logs by more than this is reported.
DOWNTIME_SLACK_MS = 20
GUEST_CRASH = re.compile(r"Kernel panic|general protection fault|BUG: |Oops: |stack-protector")
# Milestones in the source's log of a live migration ("{mid}": the first
# eight hex digits of the migration's id).
MIGRATE_MARKS = (
    ("request", "{vm}: migrating live to"),
    ("prepare", "{vm}: migration {mid} transferring"),
    ("disks", "{vm}: outgoing migration setup"),
    ("memory", "{vm}: running -> paused"),
    ("final", "{vm}: outgoing migration completed"),
    ("switch", "{vm}: migrated to"),
)
MIGRATE_PHASES = {
    "prepare": "destination prepared (its QEMU started, waiting for the migration)",
    "disks": "disks mirrored to the destination's NBD export (copied storage only)",
    "memory": "memory sent until the rest fits the downtime: the guest stops (converged)",
    "final": "guest stopped: mirrors completed, rest of memory and devices sent (QEMU)",
    "switch": "destination confirmed and runs the guest; source's QEMU gone",
}


def migrate_once(src, dst, name, timeout=MIGRATION_TIMEOUT_S):
    """Migrate name from src to dst and wait; the daemon's figures, the
    client's wall time, the phases and QEMU's passes from src's log. A
    migration still running after timeout s is cancelled (converged False)."""
    src.conn.close()  # reconnects: warrend closes a connection left idle for long
    off, dst_off = src.log_size(), dst.log_size()
    t0 = bl.now()
    op = src.api("POST", f"/v1/vms/{name}/migrate", {"to": f"unix:{dst.socket}"},
                 want=(202,))["operation"]
    cancelled = False
    while op["status"] == "running":
        if not cancelled and bl.now() - t0 > timeout:
            # It may finish meanwhile: the answer does not matter, the status does.
            src.conn.call("POST", f"/v1/operations/{op['id']}/cancel")
            cancelled = True
        op = src.api("GET", f"/v1/operations/{op['id']}?wait=10")
    wall_ms = (bl.now() - t0) * 1000
    if cancelled and op["status"] == "cancelled":
        return {"converged": False, "wall_ms": wall_ms,
                "phase": op["progress"]["phase"], "details": op["progress"].get("details")}
    if op["status"] != "succeeded":
        raise RuntimeError(f"migration of {name} failed: {op}")
    m = op["result"]["migration"]
    marks = tuple((k, t.replace("{mid}", m["id"][:8])) for k, t in MIGRATE_MARKS)
    # The guest's pause as both logs saw it: stopped on the source, running on
    # the destination (one clock: both daemons run on this machine).
    stop = [t for t, msg in src.log_lines(off) if msg == f"{name}: running -> paused"]
    run = [t for t, msg in dst.log_lines(dst_off) if msg == f"{name}: paused -> running"]
    return {
        "converged": True,
        "mode": m["mode"],
        "storage": m["storage"],
        "total_ms": m["total_ms"],
        "wall_ms": wall_ms,
        "downtime_ms": m["downtime_ms"],
        "paused_ms": round((run[0] - stop[-1]) * 1000, 1) if stop and run else None,
        "transferred_bytes": m["transferred_bytes"],
        "passes": src.log_text(off).count(f"{name}: QMP event MIGRATION_PASS"),
        "phases_ms": log_phases(src, off, marks, name),
    }


def start_dirtying(d, name):
    """Start the guest's rewriting loop; the guest's own rate in MiB/s."""
    code, out = _guest_sh(d, name, DIRTY_SCRIPT)
    times = out.split()
    if code != 0 or len(times) != 2:
        raise RuntimeError(f"the dirtying loop did not start: {code} {out!r}")
    secs = float(times[1]) - float(times[0])
    return 5 * DIRTY_MIB / secs if secs > 0 else None


def guest_trouble(d, name, timeout=10):
    """None if the guest that arrived on d is well: no kernel crash on its
    console (each daemon starts a fresh console log when a VM arrives) and
    its agent runs `true`; else what is wrong."""
    d.conn.close()  # reconnects: the guest was away for a while
    t0 = bl.now()
    while True:
        status, _, _ = d.conn.call("POST", f"/v1/vms/{name}/exec", {"command": ["true"]})
        if status == 200 or bl.now() - t0 > timeout:
            break
        time.sleep(0.2)
    _, body, _ = d.conn.call("GET", f"/v1/vms/{name}/console/log")
    text = body.decode(errors="replace")
    m = GUEST_CRASH.search(text)
    if m:  # the line that says so, for the record
        line = text[text.rfind("\n", 0, m.start()) + 1:].split("\n", 1)[0].strip()
        return f"kernel crash on its console: {line[:200]}"
    if status != 200:
        return f"its agent did not run `true` within {timeout} s"
    return None


def reset_guest(d, name, dirtying):
    """Reset a failed guest where it is, wait for it, restart the loop."""
    _, body, _ = d.conn.call("GET", f"/v1/vms/{name}/console/log")
    d.api("POST", f"/v1/vms/{name}/actions/reset")
    wait_ready(d, name, body.count(bl.READY_LINE) + 1)
    time.sleep(1)
    if dirtying:
        start_dirtying(d, name)


def run_migration(guest, reps):
    """Three daemons sharing a peer token: A with storage of its own, B and C
    sharing a storage directory. One guest boots on B and makes reps round
    trips B->A->B (copied storage) and B->C->B (shared storage) per case,
    idle first, then while it rewrites DIRTY_MIB MiB of memory. After each
    migration the guest runs on for MIGRATION_SETTLE_S, then its agent must
    answer and its console show no crash; a failed guest is reset and the
    run goes on."""
    log(f"migration: a 256 MiB guest between three daemons, {reps} round trips per case")
    top = bl.make_tmpdir("wb")
    # QEMU names its disks in the shared directory: none may outlive the run.
    bl.at_cleanup(lambda: [bl.kill_and_reap(p) for p in bl.pids_mentioning(str(top))])
    token = top / "token"
    token.write_text(PEER_TOKEN + "\n")
    shared = top / "shared"
    shared.mkdir()
    shared.chmod(0o711)
    peer = ["--peer-token-file", str(token)]
    hosts = {"a": bl.Daemon(args=peer),
             "b": bl.Daemon(args=peer + ["--storage-dir", str(shared)]),
             "c": bl.Daemon(args=peer + ["--storage-dir", str(shared)])}
    for d in hosts.values():
        d.start()
    name = "bench-mig"
    vm = hosts["b"].api("POST", "/v1/vms", guest_spec(guest, name, disks=[DATA_DISK]))
    hosts["b"].api("POST", f"/v1/vms/{name}/actions/start")
    wait_ready(hosts["b"], name)
    time.sleep(1)
    disk_mib = sum(p.stat().st_blocks * 512 for p in (shared / vm["id"]).glob("*.qcow2")) / MIB
    where, dirty, cases = "b", None, []
    for cid, label, other, storage, busy in MIGRATION_CASES:
        if where != "b":  # a cancelled migration left the guest away from B
            if not migrate_once(hosts[where], hosts["b"], name, timeout=300)["converged"]:
                raise RuntimeError(f"{name} could not be brought back to B")
            where = "b"
        if busy and dirty is None:
            rate = start_dirtying(hosts[where], name)
            dirty = {"mib": DIRTY_MIB, "mib_per_s": rate}
            log(f"  guest rewrites {DIRTY_MIB} MiB at {f(rate, 0)} MiB/s when nothing migrates")
            time.sleep(1)
        runs = []
        for i in range(2 * reps):
            dst = "b" if where == other else other
            r = migrate_once(hosts[where], hosts[dst], name)
            r["from"], r["to"] = where.upper(), dst.upper()
            runs.append(r)
            if not r["converged"]:
                log(f"  {label}: {r['from']}->{r['to']} not converged after "
                    f"{r['wall_ms'] / 1000:.0f} s (in {r['phase']}): cancelled, case cut short")
                break
            if r["storage"] != storage or r["mode"] != "live":
                raise RuntimeError(f"{where}->{dst}: {r['mode']}, {r['storage']} storage; "
                                   f"wanted live, {storage}")
            where = dst
            time.sleep(MIGRATION_SETTLE_S)
            r["guest_trouble"] = guest_trouble(hosts[dst], name)
            log(f"  {label}: {r['from']}->{r['to']} total {r['total_ms']} ms "
                f"(client {r['wall_ms']:.0f} ms), downtime {r['downtime_ms']} ms "
                f"(logs: {f(r['paused_ms'], 0)} ms), "
                f"{r['transferred_bytes'] / MIB:.0f} MiB sent, {r['passes']} passes"
                + (f"; THE GUEST FAILED ({r['guest_trouble'][:120]}): reset"
                   if r["guest_trouble"] else ""))
            if r["guest_trouble"]:
                reset_guest(hosts[dst], name, busy)
        ok = [r for r in runs if r["converged"]]
        cases.append({
            "id": cid, "label": label, "path": f"B<->{other.upper()}", "storage": storage,
            "dirtying": busy, "attempted": len(runs), "converged": len(ok),
            "guest_failures": sum(1 for r in ok if r["guest_trouble"]),
            "total_ms": bl.summarize([r["total_ms"] for r in ok]),
            "wall_ms": bl.summarize([r["wall_ms"] for r in ok]),
            "downtime_ms": bl.summarize([r["downtime_ms"] for r in ok]),
            "paused_ms": bl.summarize([r["paused_ms"] for r in ok]),
            "transferred_mib": bl.summarize([r["transferred_bytes"] / MIB for r in ok]),
            "passes": bl.summarize([r["passes"] for r in ok]),
            "phases_ms": summarize_phases([r["phases_ms"] for r in ok]),
            "runs": runs,
        })
    still = None
    if dirty:  # the loop ran through every migration (the agent answers)
        t0 = bl.now()
        while still is None and bl.now() - t0 < 30:
            status, raw, _ = hosts[where].conn.call(
                "POST", f"/v1/vms/{name}/exec", {"command": ["sh", "-c", "pidof cat >/dev/null"]})
            if status == 200:
                still = json.loads(raw)["exit_code"] == 0
            else:
                time.sleep(0.5)
    for d in hosts.values():
        d.remove()
    return {
        "guest": {"memory": "256M", "cpus": 1, "disks": [DATA_DISK],
                  "disk_allocated_mib": disk_mib},
        "round_trips": reps,
        "timeout_s": MIGRATION_TIMEOUT_S,
        "settle_s": MIGRATION_SETTLE_S,
        "dirtying": dirty,
        "dirtying_at_end": still,
        "cases": cases,
    }


def report_migration(a, mg):
    gu = mg.get("guest", {})
    disk = (gu.get("disks") or [{}])[0]
    dirty = mg.get("dirtying") or {}
    cases = mg.get("cases", [])
    a("## Migration")
    a("")
    a("Three warrend on this machine play hosts, all with the same `--peer-token-file`: A "
      "with storage of its own, B and C sharing one `--storage-dir` (as hosts on one NFS "
      "export would). One reference guest (1 vCPU, 256 MiB, a "
      f"{disk.get('size', '?')} data disk with {f(gu.get('disk_allocated_mib'), 1)} MiB "
      "allocated) boots once, on B, and migrates live: per case "
      f"{mg.get('round_trips', '?')} round trips B→A→B (A does not see the disks: copied "
      "storage, mirrored over NBD) or B→C→B (shared storage: only memory moves), each "
      "one-way migration a sample; after each the guest runs on for "
      f"{f(mg.get('settle_s'), 0)} s, then must run `exec true` through its agent and "
      "show no kernel crash on its console. `POST /v1/vms/{name}/migrate` with "
      "only `to` (the daemon's defaults: auto-converge on, QEMU's 300 ms downtime limit, "
      "no bandwidth limit), then `GET /v1/operations/{id}?wait=10` until it finished. "
      "*Total* is the operation's `total_ms` (from the source taking the request to its "
      "clean-up done), *client* the bench's wall time from the request until it saw the "
      "operation finished, *downtime* the daemon's `downtime_ms` (from the guest's stop "
      "on the source to the destination's confirmation), *sent* QEMU's RAM bytes "
      "(`transferred_bytes`: zero pages cost next to nothing, disk bytes are not "
      "counted). The idle cases run first; then the guest rewrites "
      f"{dirty.get('mib', DIRTY_MIB)} MiB of a tmpfs file in a loop (`cat` of a 1 MiB "
      "block of random bytes; zeros would cost QEMU nothing to send), started with "
      f"`exec` and running through every migration: {f(dirty.get('mib_per_s'), 0)} MiB/s "
      "while nothing migrates.")
    a("")
    if mg.get("note"):
        a(mg["note"])
        a("")
    a("| Case | n | Total, ms | Client, ms | Downtime, ms | Paused (logs), ms | Sent, MiB "
      "| Passes |")
    a("|---|---|---|---|---|---|---|---|")
    for c in cases:
        a(f"| {c['label']} ({c['path']}) | {g(c, 'total_ms', 'n') or 0} | "
          f"{mm(c.get('total_ms'))} | {mm(c.get('wall_ms'))} | {mm(c.get('downtime_ms'))} | "
          f"{mm(c.get('paused_ms'))} | {mm(c.get('transferred_mib'))} | "
          f"{mm(c.get('passes'))} |")
    a("")
    a("Medians with min–max. *Paused (logs)*: from the source's log line of the guest "
      "stopping (`running -> paused`, on QEMU's `STOP` event) to the destination's of it "
      "running (`paused -> running`), both daemons logging in milliseconds on this "
      "machine's clock. *Passes*: QEMU's `MIGRATION_PASS` events in the source's log (one "
      "per sweep of the dirty bitmap, the last one with the guest stopped).")
    a("")
    runs = [r for c in cases for r in c.get("runs", []) if r.get("converged")]
    low = [r for r in runs if r.get("paused_ms") is not None
           and r["downtime_ms"] < r["paused_ms"] - DOWNTIME_SLACK_MS]
    rest = [r for r in runs if r.get("paused_ms") is not None and r not in low]
    if low:
        a(f"**`downtime_ms` is too low in {len(low)} of the {len(runs)} migrations**: more "
          f"than {DOWNTIME_SLACK_MS} ms below the pause the logs show (by "
          f"{f(min(r['paused_ms'] - r['downtime_ms'] for r in low), 0)}–"
          f"{f(max(r['paused_ms'] - r['downtime_ms'] for r in low), 0)} ms)"
          + (f"; in the other {len(rest)} the two differ by at most "
             f"{f(max(abs(r['paused_ms'] - r['downtime_ms']) for r in rest), 0)} ms."
             if rest else "."))
        a("")
    busy = [c for c in cases if c.get("dirtying")]
    if busy:
        parts = [f"{c['label']}: {c.get('converged')} of {c.get('attempted')} converged, "
                 f"the memory phase (until the guest stopped) lasting "
                 f"{mm(g(c, 'phases_ms', 'memory'))} ms" for c in busy]
        a("Convergence while the guest dirties memory (a migration still running after "
          f"{mg.get('timeout_s', '?')} s would be cancelled and counted as not converged): "
          + "; ".join(parts) + ". The loop was "
          + {True: "still running at the end.", False: "**no longer running** at the end.",
             None: "not checked at the end (the guest agent did not answer)."}[
              mg.get("dirtying_at_end")])
        a("")
    failed = [(c, r) for c in cases for r in c.get("runs", []) if r.get("guest_trouble")]
    if failed:
        a(f"**The guest failed after {len(failed)} of the {len(runs)} migrations.** It is "
          "checked after each (its agent runs `exec true` within 10 s, its console on the "
          "destination shows no kernel crash); a failed guest was reset where it was (and "
          "the loop started again), and the timings of those migrations are in the table.")
        a("")
        for c, r in failed:
            why = r["guest_trouble"].replace("`", "'")
            if ": " in why:
                head, line = why.split(": ", 1)
                why = f"{head}: `{line}`"
            a(f"- {c['label']}, {r['from']}→{r['to']}: {why}")
        a("")
    cols = [c.get("phases_ms") or {} for c in cases]
    if any(cols):
        a("Where the time goes, from the source's debug log (medians of each phase, ms):")
        a("")
        a("| Phase (time since the one before) | " + " | ".join(c["label"] for c in cases)
          + " |")
        a("|---|" + "---|" * len(cols))
        for key, label in MIGRATE_PHASES.items():
            a(f"| {label} | " + " | ".join(f(g(c, key, 'median'), 0) for c in cols) + " |")
        a("")


# ---- cluster ----------------------------------------------------------------

# The smallest VM a create makes in full: a 1 MiB qcow2 disk (qemu-img runs),
# no boot.
CLUSTER_SPEC = {"cpus": 1, "memory": 128 * MIB, "disks": [{"name": "root", "size": MIB}]}
N_SIMULATED = 1000
CLUSTER_TTL_S = 4
CLUSTER_CPU_RATIO = 32
LOSS_POLL_S = 0.1
IDLE_CPU_S = 5


def _etcd():
    sys.path.insert(0, str(bl.ROOT / "tests" / "integration"))
    import etcdlib  # noqa: E402 (the tests' helper: etcd nodes on 127.0.0.1)
    return etcdlib


def etcd_start(etcdlib):
    e = etcdlib.Etcd(1)
    bl.at_cleanup(e.stop)
    return e.start()


def etcd_put_many(etcdlib, e, items, batch=100):
    """Put (key, JSON value) pairs, batch to a transaction (etcd allows 128)."""
    for i in range(0, len(items), batch):
        ops = [{"request_put": {"key": etcdlib.b64(k), "value": etcdlib.b64(json.dumps(v))}}
               for k, v in items[i:i + batch]]
        r = e.call("/v3/kv/txn", {"success": ops})
        if "header" not in r:
            raise RuntimeError(f"etcd txn: {r}")


def simulated_members(rng, first, n):
    """Keys of n members that exist only in etcd: registered, alive (put
    without a lease), with varied labels, accelerators, capacity and
    allocations. Their address answers nothing; the placement request's
    label keeps every VM off them."""
    now_ms = int(time.time() * 1000)
    items = []
    for i in range(first, first + n):
        name = f"sim-{i:04d}"
        vcpus = rng.choice((4, 8, 16, 32, 64))
        memory = rng.choice((8, 16, 32, 64, 128, 256)) << 30
        share = rng.choice((0.0, 0.25, 0.5, 0.9, 1.0, 1.2))  # 1.0+: full (capacity filter)
        items += [
            (f"/warren/members/{name}",
             {"name": name, "address": "http://127.0.0.1:1",
              "labels": {"bench": "sim", "zone": f"z{i % 4}"} if i % 2 else {"zone": f"z{i % 4}"},
              "accel": "kvm" if i % 3 == 0 else "tcg",
              "capacity": {"vcpus": vcpus, "memory": memory},
              "storage": f"{rng.getrandbits(128):032x}"}),
            (f"/warren/alive/{name}", {"heartbeat_ms": now_ms, "load": round(rng.random(), 2)}),
            (f"/warren/alloc/{name}", {"vcpus": int(vcpus * share), "memory": int(memory * share),
                                       "vms": int(vcpus * share)}),
        ]
    return items


def cluster_daemon(etcdlib, name):
    """A warrend reachable over TCP (--listen), with room for
    CLUSTER_CPU_RATIO vCPUs per host CPU: at the default 4, a member of a
    2-CPU machine holds only 8 of the 1-vCPU VMs the create rate needs."""
    port = etcdlib.free_port()
    d = bl.Daemon(args=["--listen", f"127.0.0.1:{port}", "--accel", "tcg",
                        "--cgroup-parent", f"warren-bench-{os.getpid()}-{name}"])
    conf = d.root / "warrend.conf"
    conf.write_text(f"cpu_ratio = {CLUSTER_CPU_RATIO}\n")
    d.args += ["--config", str(conf)]
    d.address = f"http://127.0.0.1:{port}"
    d.start()
    return d


def member_states(d):
    """{member: state} as d shows them, asked on a connection of its own (a
    kept-alive one may have been closed by warrend while idle)."""
    c = d.connection(timeout=10)
    try:
        return {m["name"]: m["state"]
                for m in c.call_json("GET", "/v1/cluster/members")["members"]}
    finally:
        c.close()


def wait_member(d, name, state, timeout=30):
    t0 = bl.now()
    while bl.now() - t0 < timeout:
        if member_states(d).get(name) == state:
            return bl.now() - t0
        time.sleep(0.05)
    raise RuntimeError(f"member {name} not {state} after {timeout} s: {member_states(d)}")


class PlacementCase:
    """Creates of the cluster's minimal VM on one daemon, each deleted right
    after (the view then holds members only), on one kept-alive connection.
    Server times are read from the log after each request (warrend logs a
    request before it answers)."""

    def __init__(self, d, prefix, extra):
        self.d, self.prefix, self.extra = d, prefix, extra
        self.conn = d.connection()
        self.conn.call("GET", "/v1/host")
        self.ms = {"create_ms": [], "delete_ms": [], "create_server_ms": [],
                   "delete_server_ms": []}
        self.hosts, self.answer_bytes, self.i = {}, 0, 0

    def once(self, record=True):
        name = f"{self.prefix}-{self.i:03d}"
        self.i += 1
        off = self.d.log_size()
        status, raw, ms = self.conn.call("POST", "/v1/vms",
                                         {"name": name, **CLUSTER_SPEC, **self.extra})
        if status != 201:
            raise RuntimeError(f"create {name}: {status} {raw[:400]!r}")
        sv = self.d.server_times(off, "POST", r"/v1/vms")
        off = self.d.log_size()
        status, raw2, ms2 = self.conn.call("DELETE", f"/v1/vms/{name}")
        if status != 200:
            raise RuntimeError(f"delete {name}: {status} {raw2[:400]!r}")
        if not record:
            return
        sv2 = self.d.server_times(off, "DELETE", rf"/v1/vms/{name}")
        h = json.loads(raw).get("host", "(standalone)")
        self.ms["create_ms"].append(ms)
        self.ms["delete_ms"].append(ms2)
        self.ms["create_server_ms"] += sv[:1]
        self.ms["delete_server_ms"] += sv2[:1]
        self.answer_bytes = len(raw)
        self.hosts[h] = self.hosts.get(h, 0) + 1

    def result(self):
        self.conn.close()
        return {**{k: bl.summarize(v) for k, v in self.ms.items()},
                "hosts": self.hosts, "answer_bytes": self.answer_bytes}


ETCD_HANDLED = re.compile(
    r'^grpc_server_handled_total\{grpc_code="OK",grpc_method="(\w+)",'
    r'grpc_service="etcdserverpb\.KV",grpc_type="unary"\} (\d+)$', re.M)


def etcd_requests(e):
    """{method: requests answered} of etcd's KV service so far (Range, Txn,
    Put, ...), from its /metrics."""
    with urllib.request.urlopen(e.urls[0] + "/metrics", timeout=10) as r:
        text = r.read().decode()
    return {m.group(1): int(m.group(2)) for m in ETCD_HANDLED.finditer(text)}


def etcd_delta(e, before):
    after = etcd_requests(e)
    return {k: after[k] - before.get(k, 0) for k in after if after[k] - before.get(k, 0)}


def view_read(etcdlib, e, n=20):
    """What one read of /warren/ costs at etcd (JSON gateway, from Python)."""
    times, size, keys = [], 0, 0
    body = {"key": etcdlib.b64("/warren/"), "range_end": etcdlib.b64("/warren0")}
    for _ in range(n):
        req = urllib.request.Request(e.urls[0] + "/v3/kv/range", data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
        t0 = bl.now()
        with urllib.request.urlopen(req, timeout=10) as r:
            raw = r.read()
        times.append((bl.now() - t0) * 1000)
        size = len(raw)
        keys = int(json.loads(raw).get("count", 0))
    return {"ms": bl.summarize(times), "bytes": size, "keys": keys}


def run_placement(etcdlib, n):
    """Three daemons, asked in turn so that the machine's load falls on
    every case alike: one standalone, one the only real member (label
    bench=real) of a cluster with 2 simulated members, one the same with
    999. Creates name the label, so the VM lands on the real member
    whatever else the scheduler reads."""
    solo = cluster_daemon(etcdlib, "solo")
    rng = random.Random(1)
    daemons, views = {}, {}
    for case, sims in (("members_3", 2), ("members_1000", N_SIMULATED - 1)):
        e = etcd_start(etcdlib)
        d = daemons[case] = cluster_daemon(etcdlib, case)
        d.api("POST", "/v1/cluster/init",
              {"etcd": e.urls, "name": "real", "labels": {"bench": "real"}})
        wait_member(d, "real", "online")
        etcd_put_many(etcdlib, e, simulated_members(rng, 0, sims))
        views[case] = e
    place = {"target": "auto", "placement": {"labels": {"bench": "real"}}}
    cases = {"standalone": PlacementCase(solo, "pls", {}),
             "members_3": PlacementCase(daemons["members_3"], "pl3", place),
             "members_1000": PlacementCase(daemons["members_1000"], "plk", place)}
    explain = PlacementCase(daemons["members_1000"], "plx", {**place, "explain": True})
    time.sleep(1.5)  # a tick has read the whole view
    for c in cases.values():
        for _ in range(3):
            c.once(record=False)
    explain.once(record=False)
    order = list(cases.values())
    before = {case: etcd_requests(e) for case, e in views.items()}
    for i in range(n):
        for c in order[i % 3:] + order[:i % 3]:
            c.once()
        if i % 5 == 4:
            explain.once()
    out = {"n": n, **{k: c.result() for k, c in cases.items()}}
    out["members_1000_explain"] = explain.result()
    for case, e in views.items():
        out[case]["etcd_during_runs"] = etcd_delta(e, before[case])
    for case, e in views.items():
        out[case]["view"] = view_read(etcdlib, e)
        out[case]["members_listed"] = len(member_states(daemons[case]))
        out[case]["rss_mib"] = daemons[case].rss()
    # With nothing asked, each member still reads /warren/ once a second.
    pids = {(case, who): p for case in views
            for who, p in (("warrend", daemons[case].pid),
                           ("etcd", next(iter(views[case].procs.values())).pid))}
    cpu0 = {k: proc_cpu_seconds(p) for k, p in pids.items()}
    t0 = bl.now()
    time.sleep(IDLE_CPU_S)
    dt = bl.now() - t0
    for (case, who), p in pids.items():
        out[case][f"idle_{who}_percent"] = (proc_cpu_seconds(p) - cpu0[case, who]) / dt * 100
    for d in (solo, *daemons.values()):
        d.remove()
    for e in views.values():
        e.stop()
    return out


def concurrent_calls(hosts, order, threads, request):
    """request(i) -> (member asked, method, path, body) for each i of order,
    sent by threads clients, each with one kept-alive connection per member."""
    todo = list(order)
    lock = threading.Lock()
    done = []

    def worker():
        conns = {}
        while True:
            with lock:
                if not todo:
                    break
                i = todo.pop(0)
            via, method, path, body = request(i)
            conn = conns.get(via) or conns.setdefault(via, hosts[via].connection())
            try:
                status, raw, ms = conn.call(method, path, body)
            except OSError as ex:
                status, raw, ms = 0, repr(ex).encode(), None
                conns.pop(via).close()
            with lock:
                done.append((i, via, status, raw, ms))
        for c in conns.values():
            c.close()

    ts = [threading.Thread(target=worker) for _ in range(threads)]
    t0 = bl.now()
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return bl.now() - t0, done


def run_create_rate(hosts, n_vms, threads, extra=None, e=None):
    """n_vms creates from threads clients at once, request i to the i-th
    member (by name, round robin), then their deletes the same way. extra
    is added to each create (None: "target": "auto"). With the cluster's
    etcd e, also the requests etcd answered during each."""
    extra = {"target": "auto"} if extra is None else extra
    names = [f"cr-{i:03d}" for i in range(n_vms)]
    members = sorted(hosts)
    # Warm-up: one create and delete through each member.
    for m in members:
        c = hosts[m].connection()
        c.call_json("POST", "/v1/vms", {"name": f"crw-{m}", **CLUSTER_SPEC, **extra})
        c.call_json("DELETE", f"/v1/vms/crw-{m}")
        c.close()
    before = etcd_requests(e) if e else None
    wall, done = concurrent_calls(
        hosts, range(n_vms), threads,
        lambda i: (members[i % len(members)], "POST", "/v1/vms",
                   {"name": names[i], **CLUSTER_SPEC, **extra}))
    ok = [r for r in done if r[2] == 201]
    placed = {}
    for r in ok:
        h = json.loads(r[3]).get("host", "(standalone)")
        placed[h] = placed.get(h, 0) + 1
    errors = [f"{names[i]} via {via}: {status} {raw[:300].decode(errors='replace')}"
              for i, via, status, raw, _ in done if status != 201]
    created = sorted(r[0] for r in ok)
    etcd_create = etcd_delta(e, before) if e else None
    before = etcd_requests(e) if e else None
    dwall, ddone = concurrent_calls(
        hosts, created, threads,
        lambda i: (members[i % len(members)], "DELETE", f"/v1/vms/{names[i]}", None))
    derrors = [f"{names[i]} via {via}: {status} {raw[:300].decode(errors='replace')}"
               for i, via, status, raw, _ in ddone if status != 200]
    etcd_delete = etcd_delta(e, before) if e else None
    c = hosts[members[0]].connection()
    left = len(c.call_json("GET", "/v1/vms").get("vms", []))
    c.close()
    return {
        "vms": n_vms, "threads": threads, "members": len(members),
        "created": len(ok), "seconds": wall, "per_second": len(ok) / wall,
        "create_ms": bl.summarize([r[4] for r in ok]),
        "placed": placed, "errors": errors,
        "deleted": len(ddone) - len(derrors), "delete_seconds": dwall,
        "delete_per_second": (len(ddone) - len(derrors)) / dwall if dwall else None,
        "delete_ms": bl.summarize([r[4] for r in ddone if r[2] == 200]),
        "delete_errors": derrors, "vms_left": left,
        "etcd_during_creates": etcd_create,
        "etcd_during_deletes": etcd_delete,
    }


def renewal_s(ttl):
    """How often warrend renews its lease: on the first 250 ms tick at least
    a third of the TTL after the last renewal."""
    return -(-ttl * 1000 // 3 // 250) * 250 / 1000


def run_loss(e, hosts, victim, watcher, reps):
    """(Re)start the victim, kill -9 it at the k-th of reps points spread
    evenly over its lease's renewal period, and poll the watcher's member
    list (and etcd's alive key) every LOSS_POLL_S until it shows the victim
    offline; then restart it and wait until the watcher shows it online."""
    alive_key = f"/warren/alive/{victim}"
    period = renewal_s(CLUSTER_TTL_S)
    d = hosts[victim]
    d.stop()  # so that every kill is timed from a start
    runs, rejoin = [], []
    for k in range(reps + 1):
        t_start = bl.now()
        d.start()
        wait_member(hosts[watcher], victim, "online", timeout=60)
        if k:
            rejoin.append(bl.now() - t_start)
        if k == reps:
            break
        offset = period + (k + 0.5) / reps * period
        time.sleep(max(0.0, t_start + offset - bl.now()))
        t0 = bl.now()
        d.proc.kill()
        d.proc.wait()
        noticed = expired = None
        while noticed is None and bl.now() - t0 < 60:
            tick = bl.now()
            if expired is None and alive_key not in e.get_prefix(alive_key):
                expired = bl.now() - t0
            if member_states(hosts[watcher]).get(victim) == "offline":
                noticed = bl.now() - t0
                if expired is None:
                    expired = noticed
            time.sleep(max(0.0, LOSS_POLL_S - (bl.now() - tick)))
        if noticed is None:
            raise RuntimeError(f"{watcher} still shows {victim} "
                               f"{member_states(hosts[watcher]).get(victim)} after 60 s")
        runs.append({"killed_after_start_s": t0 - t_start, "noticed_s": noticed,
                     "lease_expired_s": expired})
        log(f"  {victim} killed {t0 - t_start:.2f} s after its start: etcd dropped its alive "
            f"key after {expired:.2f} s, {watcher} showed it offline after {noticed:.2f} s")
    return {
        "ttl_s": CLUSTER_TTL_S, "poll_s": LOSS_POLL_S, "reps": reps, "renewal_s": period,
        "noticed_s": bl.summarize([r["noticed_s"] for r in runs]),
        "lease_expired_s": bl.summarize([r["lease_expired_s"] for r in runs]),
        "rejoin_s": bl.summarize(rejoin),
        "runs": runs,
    }


def run_cluster(n_place, n_vms, threads, loss_reps):
    """Placement with 3 and 1,000 members, the create rate of three real
    members, and how long a killed member takes to show offline."""
    log(f"cluster: placement among 3 and {N_SIMULATED:,} members ({n_place} creates each), "
        f"{n_vms} creates from {threads} clients on 3 members, {loss_reps} member losses")
    etcdlib = _etcd()
    out = {"spec": CLUSTER_SPEC, "simulated": N_SIMULATED, "ttl_s": CLUSTER_TTL_S,
           "cpu_ratio": CLUSTER_CPU_RATIO,
           "etcd_version": (run_text(["etcd", "--version"]).splitlines() or ["?"])[0]
           .replace("etcd Version:", "etcd").strip()}
    out["placement"] = run_placement(etcdlib, n_place)
    pl = out["placement"]
    for k in ("standalone", "members_3", "members_1000", "members_1000_explain"):
        log(f"  {k}: create p50 {f(g(pl, k, 'create_ms', 'p50'))} ms, "
            f"p99 {f(g(pl, k, 'create_ms', 'p99'))} ms")
    solo = cluster_daemon(etcdlib, "solo")
    out["create_rate_standalone"] = run_create_rate({"solo": solo}, n_vms, threads, {})
    solo.remove()
    cs = out["create_rate_standalone"]
    log(f"  standalone: {cs['created']} of {n_vms} created from {threads} clients in "
        f"{cs['seconds']:.2f} s ({f(cs['per_second'])} VMs/s)")
    e = etcd_start(etcdlib)
    hosts = {m: cluster_daemon(etcdlib, m) for m in ("a", "b", "c")}
    token = hosts["a"].api("POST", "/v1/cluster/init",
                           {"etcd": e.urls, "name": "a", "ttl_s": CLUSTER_TTL_S})["token"]
    for m in ("b", "c"):
        hosts[m].api("POST", "/v1/cluster/join",
                     {"address": hosts["a"].address, "token": token, "name": m})
    for m in hosts:
        wait_member(hosts["a"], m, "online")
    out["create_rate"] = run_create_rate(hosts, n_vms, threads, e=e)
    cr = out["create_rate"]
    log(f"  {cr['created']} of {n_vms} created in {cr['seconds']:.2f} s "
        f"({f(cr['per_second'])} VMs/s), p50 {f(g(cr, 'create_ms', 'p50'))} ms, "
        f"p99 {f(g(cr, 'create_ms', 'p99'))} ms, placed {cr['placed']}"
        + (f"; {len(cr['errors'])} failed: {cr['errors'][0]}" if cr["errors"] else ""))
    out["loss"] = run_loss(e, hosts, "c", "a", loss_reps)
    for d in hosts.values():
        d.remove()
    e.stop()
    return out


def report_cluster(a, cl):
    pl = cl.get("placement", {})
    cr = cl.get("create_rate", {})
    lo = cl.get("loss", {})
    sim = cl.get("simulated", N_SIMULATED)
    a("## Cluster")
    a("")
    if cl.get("recorded"):
        r = cl["recorded"]
        a(f"Recorded separately by `bench/run --only cluster --merge` on {r['date']} "
          f"(load average {r['loadavg_start'][0]:.2f} at start, {r['loadavg_end'][0]:.2f} "
          f"at end; commit {r['git_commit']}); compare these figures with each other, not "
          "with the sections above.")
        a("")
    a(f"warrend members on this machine, each with `--listen 127.0.0.1:PORT` and "
      f"`cpu_ratio = {cl.get('cpu_ratio', CLUSTER_CPU_RATIO)}`, on a one-node etcd "
      f"({cl.get('etcd_version', '?')}) of its own per case. Every VM is the smallest one a "
      "create makes in full: 1 vCPU, 128 MiB, a 1 MiB qcow2 disk (warrend runs `qemu-img "
      "create`), not started. A member follows `/warren/` with an etcd watch; a create "
      "places the VM on that view, takes its name and its member's allocation in one "
      "guarded transaction, creates it on that member and marks its record ready in a "
      "second; a delete drops record and allocation in one. A transaction refused "
      "because the view lagged is planned again on a fresh read of `/warren/`.")
    a("")
    landed = ("as it did every time"
              if all(set(g(pl, k, "hosts") or {}) <= {"real"}
                     for k in ("members_3", "members_1000", "members_1000_explain"))
              else "**it did not every time**")
    a(f"**Placement.** Three daemons asked in turn, {pl.get('n', '?')} creates each, every VM "
      "deleted right after its create (so the view holds members only): a standalone "
      "warrend (no cluster: the cost of the create itself), and the only real member of a "
      f"cluster of 3 and of one of {sim:,} members. The other members exist only in etcd "
      "(member, alive and alloc keys, put without a lease so they look online; varied "
      "capacity, allocation, accelerator and labels, about a third of them full). The "
      "creates "
      "ask for `\"target\": \"auto\", \"placement\": {\"labels\": {\"bench\": "
      "\"real\"}}`, a label only the real member has: the scheduler reads and filters "
      "every member (each simulated one fails the capacity or the labels filter), and "
      f"the VM lands on the real one ({landed}). *Explain* adds "
      "`\"explain\": true` (the answer then carries a verdict for every member), one "
      "such create after every fifth round.")
    a("")
    a("| Case | n | Create p50 ms | p99 ms | Server p50 ms | Delete p50 ms | p99 ms |")
    a("|---|---|---|---|---|---|---|")
    for key, label in (("standalone", "Standalone warrend (no cluster)"),
                       ("members_3", "Cluster of 3 members"),
                       ("members_1000", f"Cluster of {sim:,} members"),
                       ("members_1000_explain", f"Cluster of {sim:,} members, with explain")):
        c = pl.get(key) or {}
        a(f"| {label} | {g(c, 'create_ms', 'n') or 0} | {f(g(c, 'create_ms', 'p50'), 1)} | "
          f"{f(g(c, 'create_ms', 'p99'), 1)} | {f(g(c, 'create_server_ms', 'p50'), 1)} | "
          f"{f(g(c, 'delete_ms', 'p50'), 1)} | {f(g(c, 'delete_ms', 'p99'), 1)} |")
    a("")
    parts = []
    for key, label in (("members_3", "3 members"), ("members_1000", f"{sim:,} members")):
        v = g(pl, key, "view") or {}
        if v:
            parts.append(f"{label}: {v.get('keys', 0):,} keys, "
                         f"{v.get('bytes', 0) / 1024:,.1f} KiB, {f(g(v, 'ms', 'p50'), 1)} ms (p99 {f(g(v, 'ms', 'p99'), 1)} ms)")
    if parts:
        a("One read of `/warren/` straight from etcd's JSON gateway (Python, a new "
          "connection each, median of 20): " + "; ".join(parts) + ". The answer of a create "
          f"with explain among {sim:,} members is "
          f"{(g(pl, 'members_1000_explain', 'answer_bytes') or 0) / 1024:,.0f} KiB. warrend's "
          f"RSS after the runs: {f(g(pl, 'members_3', 'rss_mib'), 1)} MiB with 3 members, "
          f"{f(g(pl, 'members_1000', 'rss_mib'), 1)} MiB with {sim:,} (it keeps the last "
          "read of `/warren/` as its view).")
        a("")
        ops = g(pl, "members_1000", "etcd_during_runs")
        if ops:
            nk = g(pl, "members_1000", "create_ms", "n") or 0
            nx = g(pl, "members_1000_explain", "create_ms", "n") or 0
            a(f"etcd answered {ops.get('Range', 0):,} reads and {ops.get('Txn', 0):,} "
              f"transactions for the {nk + nx} creates and {nk + nx} deletes among {sim:,} "
              "members (a create takes 2 transactions and a delete 1 when the view is "
              "current; a refused one adds a read and a retry).")
            a("")
        idle = [(k, lbl) for k, lbl in (("members_3", "3 members"),
                                        ("members_1000", f"{sim:,} members"))
                if g(pl, k, "idle_warrend_percent") is not None]
        if idle:
            a("With no request, a member follows the watch and reads all of `/warren/` "
              "every 30 s. "
              f"CPU over {IDLE_CPU_S} s idle, as a share of one core: "
              + "; ".join(f"{lbl}: warrend {f(g(pl, k, 'idle_warrend_percent'), 1)} %, "
                          f"etcd {f(g(pl, k, 'idle_etcd_percent'), 1)} %" for k, lbl in idle)
              + " (one real member reading; every real member adds its own reads).")
            a("")
    if cr:
        cs = cl.get("create_rate_standalone") or {}
        placed = ", ".join(f"{k} {v}" for k, v in sorted((cr.get("placed") or {}).items()))
        a(f"**Create rate.** Three real members a, b and c (one etcd, TTL "
          f"{cl.get('ttl_s', CLUSTER_TTL_S)} s). {cr.get('vms')} creates with "
          f"`\"target\": \"auto\"` from {cr.get('threads')} client threads at once, request "
          "*i* sent to member *i* mod 3 (each thread keeps one connection per member), so "
          "about two thirds are forwarded to the member the scheduler chose; then the same "
          "for their deletes. One create and delete through each member first, not counted. "
          "For comparison, the same creates and deletes from as many threads on one "
          f"standalone warrend. The cluster placed the VMs: {placed}.")
        a("")
        a("| Run | Done / asked | Wall time, s | VMs per second | p50 ms | p99 ms |")
        a("|---|---|---|---|---|---|")
        for label, r, k, ok, asked, sec, rate in (
                ("3 members, creates", cr, "create_ms", "created", "vms", "seconds",
                 "per_second"),
                ("3 members, deletes", cr, "delete_ms", "deleted", "created", "delete_seconds",
                 "delete_per_second"),
                ("Standalone, creates", cs, "create_ms", "created", "vms", "seconds",
                 "per_second"),
                ("Standalone, deletes", cs, "delete_ms", "deleted", "created",
                 "delete_seconds", "delete_per_second")):
            if r:
                a(f"| {label} | {r.get(ok)} / {r.get(asked)} | {f(r.get(sec), 2)} | "
                  f"{f(r.get(rate), 1)} | {f(g(r, k, 'p50'), 0)} | {f(g(r, k, 'p99'), 0)} |")
        a("")
        ec, ed = cr.get("etcd_during_creates"), cr.get("etcd_during_deletes")
        if ec and ed and cr.get("created"):
            n = cr["created"]
            a(f"etcd answered {ec.get('Range', 0)} reads and {ec.get('Txn', 0)} transactions "
              f"during the {n} creates ({ec.get('Range', 0) / n:.1f} and "
              f"{ec.get('Txn', 0) / n:.1f} per VM), {ed.get('Range', 0)} and "
              f"{ed.get('Txn', 0)} during the deletes ({ed.get('Range', 0) / n:.1f} and "
              f"{ed.get('Txn', 0) / n:.1f} per VM). Without a conflict a create takes 2 "
              "transactions and no read, a delete 1; a transaction whose compared revisions "
              "changed in between (another VM placed on the same member changed its "
              "allocation) is planned again from a new read.")
            a("")
        errs = (cr.get("errors") or []) + (cr.get("delete_errors") or [])
        if errs:
            a(f"**{len(errs)} requests failed**, the first: `{errs[0][:300]}`")
            a("")
    if lo:
        ttl = lo.get("ttl_s", CLUSTER_TTL_S)
        every = lo.get("renewal_s") or renewal_s(ttl)
        a(f"**Loss of a member.** In that cluster (`\"ttl_s\": {ttl}`), `kill -9` of c's "
          f"warrend, then `GET /v1/cluster/members` on a every {lo.get('poll_s', 0.1) * 1000:.0f}"
          " ms until it shows c `offline`; the same loop watches etcd for c's alive key to "
          f"go with its lease. {lo.get('reps')} repetitions: c is (re)started, and killed "
          f"{every} s + (k + ½)/{lo.get('reps')} × {every} s later in the *k*-th, so the "
          f"kills fall evenly over its lease's renewal period of {every} s; after each it "
          f"must show `online` on a again.")
        a("")
        a("| Figure | median (min–max) |")
        a("|---|---|")
        a(f"| Kill to etcd dropping c's alive key (lease expiry), s | "
          f"{mmm(lo.get('lease_expired_s'), 2)} |")
        a(f"| Kill to a showing c offline, s | {mmm(lo.get('noticed_s'), 2)} |")
        a(f"| Restart of c after a kill to a showing it online, s | "
          f"{mmm(lo.get('rejoin_s'), 2)} |")
        a("")
        if lo.get("runs"):
            a("Each kill, seconds after c's start → seconds until a showed it offline: "
              + "; ".join(f"{f(r['killed_after_start_s'], 2)} → {f(r['noticed_s'], 2)}"
                          for r in lo["runs"] if "killed_after_start_s" in r) + ".")
            a("")
        med = g(lo, "noticed_s", "median")
        if med is not None:
            a(f"A member's loss shows after {f(med, 1)} s, {med / ttl:.2f} × the TTL of "
              f"{ttl} s. warrend renews its lease on its 250 ms tick once a third of the "
              f"TTL has passed since the last renewal (the kills were spread over {every} s), "
              "so a killed member's lease still has most of the TTL to run; etcd revokes it "
              "when it runs out (its lessor looks every 500 ms), `GET /v1/cluster/members` "
              "asks etcd at each request, and the other members' watched views see the "
              "alive key go at the same moment.")
            a("")


def mm(s, digits=0):
    """median (min–max) of a summary, without n."""
    if not s or not s.get("n"):
        return "n/a"
    if s["n"] == 1:
        return f(s["median"], digits)
    return f"{f(s['median'], digits)} ({f(s['min'], digits)}–{f(s['max'], digits)})"


def merge_section(res, name):
    """Record one section measured alone into latest.json, stamped with when
    and how it was measured, and render the report again."""
    latest = json.loads((RESULTS / "latest.json").read_text())
    m = res["machine"]
    latest[name] = {**res[name], "recorded": {
        "date": m["date"], "git_commit": m["git_commit"], "duration_s": res["duration_s"],
        "loadavg_start": m["loadavg_start"], "loadavg_end": res["loadavg_end"]}}
    latest = portable(latest)
    latest["targets"] = evaluate(latest)
    text = report(latest)
    (RESULTS / "latest.json").write_text(json.dumps(latest, indent=2, default=str) + "\n")
    (RESULTS / "latest.md").write_text(text)
    DOC.write_text(text)
    log(f"merged the {name} section into bench/results/latest.json; rendered "
        "bench/results/latest.md and docs/PERFORMANCE.md")


def main():
    ap = argparse.ArgumentParser(prog="bench/run", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true",
                    help="fewer repetitions; writes bench/results/quick.{json,md} only")
    ap.add_argument("--only", choices=("control", "data", "features", "network", "migration",
                                       "cluster"),
                    help="run one part; writes bench/results/quick.{json,md} only")
    ap.add_argument("--merge", action="store_true",
                    help="with --only cluster: also put the section into latest.json (the "
                         "rest stays) and render latest.md and docs/PERFORMANCE.md again")
    ap.add_argument("--report-only", action="store_true",
                    help="measure nothing: render latest.json again (after editing analysis.md)")
    args = ap.parse_args()
    if args.merge and (args.only != "cluster" or args.quick):
        ap.error("--merge goes with --only cluster, without --quick")

    if args.report_only:
        res = portable(json.loads((RESULTS / "latest.json").read_text()))
        res["targets"] = evaluate(res)
        (RESULTS / "latest.json").write_text(json.dumps(res, indent=2, default=str) + "\n")
        text = report(res)
        (RESULTS / "latest.md").write_text(text)
        DOC.write_text(text)
        log("rendered bench/results/latest.md and docs/PERFORMANCE.md from latest.json")
        return

    q = args.quick
    reps_ctl = 1 if q else 5
    latency_rounds = 1 if q else 5
    list_requests = 30 if q else 200
    cli_runs = 5 if q else 20
    reps_data = 1 if q else 7
    start_reps = 3 if q else 20
    settle = 2 if q else 3
    reps_features = 2 if q else 5
    sample_s = 10 if q else 30
    mig_round_trips = 2 if q else 5
    # creates per placement case, concurrent creates, client threads, member losses
    cluster_sizes = (30, 30, 8, 2) if q else (100, 60, 8, 5)

    for b in (bl.WARREND, bl.WARREN):
        if not b.exists():
            sys.exit(f"bench: {b} missing; run bench/run (it builds build/release)")
    guest = Path(subprocess.run([str(bl.ROOT / "tools" / "mkguest")], capture_output=True,
                                text=True, check=True).stdout.strip().splitlines()[-1])
    bl.become_subreaper()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    signal.signal(signal.SIGHUP, lambda *_: sys.exit(129))

    t0 = time.time()
    res = {"schema": 1, "quick": q}
    try:
        res["machine"] = describe_machine()
        log(f"{res['machine']['cpu_model']}, {res['machine']['cpus_online']} CPUs, "
            f"load {res['machine']['loadavg_start'][0]:.2f}")
        if args.only in (None, "control"):
            res["control"] = run_control(guest, reps_ctl, latency_rounds, list_requests, cli_runs)
        if args.only in (None, "data"):
            res["data"] = run_data(guest, reps_data, settle, start_reps)
        if args.only in (None, "features"):
            res["features"] = run_features(guest, reps_features, sample_s)
        if args.only in (None, "network"):
            res["network"] = run_network(guest, reps_features)
        if args.only in (None, "migration"):
            res["migration"] = run_migration(guest, mig_round_trips)
        if args.only in (None, "cluster"):
            res["cluster"] = run_cluster(*cluster_sizes)
    finally:
        bl.cleanup()
    res["loadavg_end"] = os.getloadavg()
    res["duration_s"] = time.time() - t0
    res["targets"] = evaluate(res)
    res = portable(res)

    RESULTS.mkdir(parents=True, exist_ok=True)
    stem = "quick" if q or args.only else "latest"
    text = report(res)
    (RESULTS / f"{stem}.json").write_text(json.dumps(res, indent=2, default=str) + "\n")
    (RESULTS / f"{stem}.md").write_text(text)
    if stem == "latest":
        DOC.write_text(text)
    log(f"done in {res['duration_s'] / 60:.1f} min: bench/results/{stem}.json, "
        f"bench/results/{stem}.md" + (", docs/PERFORMANCE.md" if stem == "latest" else ""))
    if args.merge:
        merge_section(res, args.only)
    for t in res["targets"]:
        state = "not measured" if t["met"] is None else ("met" if t["met"] else "MISSED")
        val = "n/a" if t["value"] is None else f"{f(t['value'])} {t['unit']}"
        print(f"  {t['figure']}: {val} (target {t['target']}): {state}")


if __name__ == "__main__":
    main()
