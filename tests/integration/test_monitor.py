"""Monitoring on a real guest: CPU per vCPU, disk bytes, Prometheus
metrics, the event log and the run-time log level. One daemon samples
every second; one guest serves every test in file order."""
import json
import socket
import urllib.error
import urllib.request
import math
import re
import subprocess
import threading
import time

import pytest

from warrenlib import Daemon, READY_LINE, guest_spec, qemu_pids_for, warren_bin

NAME = "mon1"


def free_loopback_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


PORT = free_loopback_port()
# Never through a proxy from the environment: the request must stay on loopback.
LOOPBACK = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@pytest.fixture(scope="module")
def daemon(guest_dir):
    d = Daemon(extra_args=["--stats-interval", "1", "--console-log-max", "8K",
                               "--metrics-listen", f"127.0.0.1:{PORT}"]).start()
    r = d.api("POST", "/v1/vms", guest_spec(guest_dir, NAME,
                                             disks=[{"name": "data", "size": "128M"}]))
    assert r.status == 201, r
    assert d.api("POST", f"/v1/vms/{NAME}/actions/start").status == 200
    d.wait_console(NAME, READY_LINE, 1)
    yield d
    d.cli("delete", NAME, "--force")
    reports = d.stop()
    for pid in qemu_pids_for(d.state_dir):
        subprocess.run(["kill", "-9", str(pid)])
    assert not reports, "sanitizer reports in warrend:\n" + "\n".join(reports)


def stats(d, since=0):
    r = d.api("GET", f"/v1/vms/{NAME}/stats?fresh=true&since={since}")
    assert r.status == 200, r
    return r.json


def vcpu0_percent_over(d, seconds):
    """Mean vCPU 0 use over the last `seconds`, from the samples' counters."""
    start = time.time() * 1000
    time.sleep(seconds)
    samples = stats(d, since=int(start))["samples"]
    first, last = samples[0], samples[-1]
    dt = (last["time_ms"] - first["time_ms"]) / 1000
    used = last["vcpus"][0]["seconds_total"] - first["vcpus"][0]["seconds_total"]
    return 100 * used / dt


def test_history_covers_an_hour_in_fixed_memory(daemon):
    s = stats(daemon)
    assert s["history_capacity"] * s["interval_seconds"] >= 3600
    assert 0 < s["history_bytes"] <= s["history_capacity"] * (56 + 8 * 1 + 48 * 1)
    last = s["samples"][-1]
    assert last["rss_bytes"] > 16 << 20
    assert [d["name"] for d in last["disks"]] == ["data"]


def test_idle_guest_uses_little_cpu(daemon):
    assert vcpu0_percent_over(daemon, 4) < 10


def test_busy_guest_uses_one_vcpu(daemon):
    p = daemon.cli("exec", NAME, "--", "sh", "-c",
                   "(while :; do :; done) </dev/null >/dev/null 2>&1 & echo $!", check=0)
    pid = p.stdout.strip()
    try:
        time.sleep(1)
        pct = vcpu0_percent_over(daemon, 5)
        assert 85 <= pct <= 115, pct
        text = daemon.cli("stats", NAME, check=0).stdout
        assert "CPU" in text.upper()
    finally:
        daemon.cli("exec", NAME, "--", "kill", pid)


def test_disk_writes_are_counted(daemon):
    before = stats(daemon)["samples"][-1]["disks"][0]["write_bytes_total"]
    daemon.cli("exec", NAME, "--timeout", "120", "--", "dd", "if=/dev/zero", "of=/data/blob",
               "bs=1000000", "count=50", "conv=fsync", check=0)
    after = stats(daemon)["samples"][-1]["disks"][0]["write_bytes_total"]
    assert 45e6 <= after - before <= 55e6, after - before


METRIC_LINE = re.compile(
    r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*"'
    r'(?:,[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*")*)\})? (\S+)$')


def parse_prometheus(text):
    """A strict reader of the text exposition format: every family has HELP
    and TYPE before its samples, counters end in _total, no series twice,
    values are numbers. Returns {(name, labels): value} and {name: type}."""
    series, types, helps = {}, {}, set()
    current = None
    assert text.endswith("\n")
    for line in text.splitlines():
        if line.startswith("# HELP "):
            name = line.split()[2]
            assert name not in helps, f"second HELP for {name}"
            helps.add(name)
            continue
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split()
            assert name in helps and name not in types, line
            assert kind in ("counter", "gauge"), line
            if kind == "counter":
                assert name.endswith("_total"), line
            types[name] = kind
            current = name
            continue
        assert not line.startswith("#"), line
        m = METRIC_LINE.match(line)
        assert m, f"not a sample line: {line!r}"
        name, labels, value = m.group(1), m.group(3) or "", m.group(4)
        assert name == current, f"{name} outside its family"
        v = float(value)
        assert not math.isinf(v)
        key = (name, labels)
        assert key not in series, f"duplicate series {key}"
        series[key] = v
    return series, types


def test_metrics_parse_and_counters_only_go_up(daemon):
    r = daemon.api("GET", "/v1/metrics")
    assert r.status == 200 and r.headers["Content-Type"].startswith("text/plain")
    first, types = parse_prometheus(r.raw.decode())
    assert ("warren_vm_cpu_seconds_total", f'vm="{NAME}",vcpu="0"') in first
    assert ("warren_vm_disk_written_bytes_total", f'vm="{NAME}",disk="data"') in first
    assert first[("warren_vm_info", f'vm="{NAME}",state="running"')] == 1
    time.sleep(2.5)
    second, _ = parse_prometheus(daemon.api("GET", "/v1/metrics").raw.decode())
    for key, v in first.items():
        if types[key[0]] == "counter" and key in second:
            assert second[key] >= v, key
    assert second[("warren_host_cpu_seconds_total", 'mode="busy"')] > \
        first[("warren_host_cpu_seconds_total", 'mode="busy"')]


def test_top_once_shows_every_vm(daemon):
    out = daemon.cli("top", "--once", check=0).stdout
    assert NAME in out and "running" in out
    data = daemon.cli_json("top", "--once")
    assert [v["name"] for v in data["vms"]] == [NAME]


def test_follow_sees_another_clients_start_within_a_second(daemon, guest_dir):
    r = daemon.api("POST", "/v1/vms", guest_spec(guest_dir, "mon2"))
    assert r.status == 201
    p = subprocess.Popen([str(warren_bin()), "--socket", str(daemon.socket), "--format", "json",
                          "events", "--follow"], stdout=subprocess.PIPE, text=True)
    seen = {}

    def reader():
        for line in p.stdout:
            e = json.loads(line)
            if e.get("vm") == "mon2" and e.get("state") == "running" and "t" not in seen:
                seen["t"] = time.monotonic()

    t = threading.Thread(target=reader, daemon=True)
    t.start()
    try:
        time.sleep(1)
        sent = time.monotonic()
        assert daemon.api("POST", "/v1/vms/mon2/actions/start").status == 200
        done = time.monotonic()
        deadline = done + 5
        while "t" not in seen and time.monotonic() < deadline:
            time.sleep(0.02)
        assert "t" in seen
        assert seen["t"] - done < 1.0
        assert seen["t"] >= sent
    finally:
        p.terminate()
        p.wait(timeout=10)
        # A guest still booting ignores the power button: 2 s, then power off.
        daemon.cli("shutdown", "mon2", "--timeout", "2")
        daemon.api("DELETE", "/v1/vms/mon2?force=true")


def test_event_log_has_rows_with_uids(daemon):
    for action in ("pause", "resume"):
        assert daemon.api("POST", f"/v1/vms/{NAME}/actions/{action}").status == 200
    events = daemon.api("GET", f"/v1/events?vm={NAME}&limit=1000").json["events"]
    actions = {e["action"]: e for e in events if e["type"] == "action"}
    for a in ("create", "start", "pause", "resume"):
        assert a in actions, a
        assert actions[a]["uid"] == 0  # the tests run as root
    mon2 = daemon.api("GET", "/v1/events?vm=mon2&limit=1000").json["events"]
    for a in ("create", "start", "shutdown", "delete"):
        rows = [e for e in mon2 if e.get("action") == a and e.get("uid") == 0]
        assert rows, f"no {a} row with the caller's uid"


def test_log_level_changes_at_run_time(daemon):
    r = daemon.api("POST", "/v1/host/log-level", {"level": "warn"})
    assert r.status == 200 and r.json["level"] == "warn"
    before = daemon.log().count("GET /v1/host")
    daemon.api("GET", "/v1/host")
    assert daemon.log().count("GET /v1/host") == before  # debug lines are off
    r = daemon.api("POST", "/v1/host/log-level", {"level": "loud"})
    assert r.status == 400 and r.error["field"] == "level"
    daemon.api("POST", "/v1/host/log-level", {"level": "debug"})


def test_console_log_is_capped_and_rotated(daemon):
    vm_dir = daemon.state_dir / "vms" / daemon.cli_json("show", NAME)["id"]
    daemon.cli("exec", NAME, "--", "sh", "-c",
               "i=0; while [ $i -lt 600 ]; do echo rot-$i-................................"
               " >/dev/console; i=$((i+1)); done", check=0)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and "rot-599-" not in daemon.console_log(NAME):
        time.sleep(0.2)
    log = daemon.console_log(NAME)
    assert "rot-599-" in log
    assert "rot-0-" not in log  # rotated away: only two files of 8 KiB are kept
    assert (vm_dir / "console.log.1").stat().st_size <= 8192
    assert (vm_dir / "console.log").stat().st_size <= 8192


def test_metrics_are_served_on_tcp_and_nothing_else(daemon):
    with LOOPBACK.open(f"http://127.0.0.1:{PORT}/metrics", timeout=10) as r:
        text = r.read().decode()
    series, _ = parse_prometheus(text)
    assert ("warren_vm_info", f'vm="{NAME}",state="running"') in series
    with pytest.raises(urllib.error.HTTPError) as e:
        LOOPBACK.open(f"http://127.0.0.1:{PORT}/v1/vms", timeout=10)
    assert e.value.code == 404
