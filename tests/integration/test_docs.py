"""The documents that describe Warren are kept true: the OpenAPI document
against the live server's routes, the man pages against the CLI's commands
and the daemon's options."""
import re
import subprocess

import pytest

from warrenlib import ROOT, Daemon, build_dir, warren_bin, warrend_bin

OPENAPI = ROOT / "docs" / "openapi.yaml"


def documented_routes():
    """(METHOD, path) pairs from docs/openapi.yaml (paths: -> /x: -> get:)."""
    routes, path = set(), None
    for line in OPENAPI.read_text().splitlines():
        m = re.match(r"^  (/\S*):\s*$", line)
        if m:
            path = m.group(1)
            continue
        m = re.match(r"^    (get|post|put|delete|patch):\s*$", line)
        if m and path:
            routes.add((m.group(1).upper(), path))
        if re.match(r"^\S", line):
            path = None
    return routes


def live_routes():
    out = subprocess.run([str(build_dir() / "src" / "api" / "warren-routes")], check=True,
                         capture_output=True, text=True).stdout
    return {tuple(line.split()[:2]) for line in out.splitlines() if line.strip()}


def test_every_route_is_documented_and_every_documented_route_exists():
    doc, live = documented_routes(), live_routes()
    assert doc, "no routes parsed from docs/openapi.yaml"
    assert live - doc == set(), f"undocumented routes: {sorted(live - doc)}"
    assert doc - live == set(), f"documented but missing: {sorted(doc - live)}"


@pytest.fixture(scope="module")
def daemon():
    d = Daemon().start()
    yield d
    assert not d.stop()


def test_documented_routes_answer_on_a_live_server(daemon):
    """Each documented route is routed (a made-up path gets 'no such path')."""
    for method, path in sorted(documented_routes()):
        concrete = re.sub(r"\{[^}]+\}", "nosuch", path)
        if method == "GET" and path.endswith("/console"):
            continue  # a stream; covered by the lifecycle tests
        r = daemon.api(method, concrete, body={} if method == "POST" else None, timeout=10)
        assert r.status != 405, (method, path, r)
        # A route that exists answers about the resource, not about the path.
        if r.status == 404:
            assert "nosuch" in r.error.get("message", ""), (method, path, r)
    r = daemon.api("GET", "/v1/nonexistent")
    assert r.status == 404


def test_man_page_lists_every_cli_command():
    cmds = subprocess.run([str(warren_bin()), "__commands"], check=True, capture_output=True,
                          text=True).stdout.split()
    assert "create" in cmds and "exec" in cmds
    page = (ROOT / "docs" / "warren.1").read_text().replace("\\-", "-")
    missing = [c for c in cmds if not re.search(r"\b" + re.escape(c) + r"\b", page)]
    assert not missing, f"warren.1 does not document: {missing}"


def test_man_page_lists_every_daemon_option():
    usage = subprocess.run([str(warrend_bin()), "--help"], capture_output=True,
                           text=True).stdout
    opts = set(re.findall(r"--[a-z-]+", usage))
    assert "--state-dir" in opts
    page = (ROOT / "docs" / "warrend.8").read_text().replace("\\-", "-")
    missing = [o for o in opts if o not in page]
    assert not missing, f"warrend.8 does not document: {missing}"


def test_cli_help_comes_from_the_command_table():
    cmds = subprocess.run([str(warren_bin()), "__commands"], check=True, capture_output=True,
                          text=True).stdout.split()
    help_text = subprocess.run([str(warren_bin()), "--help"], capture_output=True,
                               text=True).stdout
    for c in cmds:
        if not c.startswith("_"):
            assert c in help_text
