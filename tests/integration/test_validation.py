"""Every bad create request gets a 4xx that names the problem, and changes
nothing: the store and the state directory are byte-for-byte as before.
"""
import hashlib
import os
import sqlite3

import pytest

from warrenlib import Daemon, guest_spec


@pytest.fixture(scope="module")
def daemon(guest_dir):
    d = Daemon().start()
    # One VM exists so that duplicates can be tried.
    r = d.api("POST", "/v1/vms", guest_spec(guest_dir, "taken"))
    assert r.status == 201, r
    yield d
    reports = d.stop()
    assert not reports, "sanitizer reports in warrend:\n" + "\n".join(reports)


def snapshot(d):
    """Everything a failed request must not change."""
    db = sqlite3.connect(f"file:{d.state_dir / 'warren.db'}?mode=ro", uri=True)
    try:
        rows = db.execute("SELECT id, name, spec, state, pid FROM vms ORDER BY id").fetchall()
    finally:
        db.close()
    files = {}
    for dirpath, dirnames, filenames in os.walk(d.state_dir / "vms"):
        for f in filenames:
            p = os.path.join(dirpath, f)
            files[p] = hashlib.sha256(open(p, "rb").read()).hexdigest()
        for dn in dirnames:
            files[os.path.join(dirpath, dn)] = "dir"
    return rows, files


def bad(guest_dir, tmp, **override):
    spec = guest_spec(guest_dir, "newvm")
    for k, v in override.items():
        if v is DELETE:
            spec.pop(k, None)
        else:
            spec[k] = v
    return spec


DELETE = object()

CASES = [
    # (id, spec overrides, field, words the message must contain)
    ("name-empty", {"name": ""}, "name", "empty"),
    ("name-too-long", {"name": "a" * 64}, "name", "63"),
    ("name-upper", {"name": "Web1"}, "name", "upper-case"),
    ("name-slash", {"name": "a/b"}, "name", "a-z"),
    ("name-dotdot", {"name": ".."}, "name", "a-z"),
    ("name-space", {"name": "a b"}, "name", "a-z"),
    ("name-non-ascii", {"name": "caf\u00e9"}, "name", "a-z"),
    ("name-duplicate", {"name": "taken"}, "name", "already exists"),
    ("cpus-zero", {"cpus": 0}, "cpus", "at least 1"),
    ("cpus-negative", {"cpus": -2}, "cpus", "at least 1"),
    ("cpus-non-numeric", {"cpus": "two"}, "cpus", "whole number"),
    ("cpus-too-many", {"cpus": 64}, "cpus", "host"),
    ("cpus-beyond-warren", {"cpus": 4096}, "cpus", "1024"),
    ("memory-too-small", {"memory": "8M"}, "memory", "16"),
    ("memory-unit", {"memory": "12Q"}, "memory", "12Q"),
    ("memory-negative", {"memory": "-5M"}, "memory", "-5M"),
    ("memory-exponent", {"memory": "1e99G"}, "memory", "1e99G"),
    ("memory-beyond-host", {"memory": "64T"}, "memory", "host"),
    ("unknown-key", {"colour": "blue"}, "colour", "unknown"),
    ("kernel-missing", {"kernel": "/nonexistent/vmlinuz"}, "kernel", "/nonexistent/vmlinuz"),
    ("kernel-directory", {"kernel": "/tmp"}, "kernel", "regular file"),
    ("initrd-missing", {"initrd": "/nonexistent/initrd"}, "initrd", "/nonexistent/initrd"),
    ("disk-size-unparseable", {"disks": [{"name": "d", "size": "ten"}]}, "disks[0].size", "ten"),
    ("disk-unknown-key", {"disks": [{"name": "d", "size": "1G", "speed": 1}]}, "speed",
     "unknown"),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_bad_create_is_refused_and_changes_nothing(daemon, guest_dir, tmp_path, case):
    _, override, field, words = case
    before = snapshot(daemon)
    r = daemon.api("POST", "/v1/vms", bad(guest_dir, tmp_path, **override))
    assert 400 <= r.status < 500, r
    assert field in r.error.get("field", ""), r
    assert words.lower() in r.error["message"].lower(), r
    assert snapshot(daemon) == before


def test_body_not_json(daemon):
    before = snapshot(daemon)
    r = daemon.api("POST", "/v1/vms", raw=b"{name: web1", headers={"Content-Type": "application/json"})
    assert r.status == 400 and "JSON" in r.error["message"], r
    assert snapshot(daemon) == before


def test_body_over_one_mib(daemon):
    before = snapshot(daemon)
    big = b'{"name": "big", "cmdline": "' + b"x" * (1 << 20) + b'"}'
    r = daemon.api("POST", "/v1/vms", raw=big, headers={"Content-Type": "application/json"})
    assert r.status == 413, r
    assert "MiB" in r.raw.decode(errors="replace") or "large" in r.raw.decode(errors="replace")
    assert snapshot(daemon) == before


def test_cli_bad_usage_exits_2(daemon):
    p = daemon.cli("create")
    assert p.returncode == 2
    assert "usage" in p.stderr.lower()
    p = daemon.cli("frobnicate")
    assert p.returncode == 2


def test_cli_reports_field(daemon):
    before = snapshot(daemon)
    p = daemon.cli("create", "BadName")
    assert p.returncode == 1
    assert "name" in p.stderr
    assert snapshot(daemon) == before


def test_unknown_vm_is_404(daemon):
    r = daemon.api("GET", "/v1/vms/nosuchvm")
    assert r.status == 404 and "nosuchvm" in r.error["message"]
    r = daemon.api("POST", "/v1/vms/nosuchvm/actions/start")
    assert r.status == 404
    r = daemon.api("POST", "/v1/vms/taken/actions/fly")
    assert r.status == 400 and "start" in r.error["message"]
