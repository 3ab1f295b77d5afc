"""Drive a real warrend and the warren CLI from integration tests.

Standard library only. ``Daemon`` runs one warrend (ASan build) with its own
state directory and socket, so several can run side by side; ``api`` talks
HTTP over the Unix socket; ``cli`` runs the warren binary against it.
Sanitizer reports in the daemon's stderr fail the test that stops it.
"""

import http.client
import json
import os
import signal
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
READY_LINE = "WARREN-GUEST-READY"
POWEROFF_LINE = "WARREN-GUEST-POWEROFF"
SANITIZER_MARKS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:")


def build_dir():
    return Path(os.environ.get("WARREN_BUILD_DIR", ROOT / "build" / "asan"))


def warrend_bin():
    return build_dir() / "warrend"


def warren_bin():
    return build_dir() / "src" / "cli" / "warren"


def sanitizer_env():
    env = dict(os.environ)
    env.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0")
    env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1")
    return env


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path, timeout=60):
        super().__init__("warren", timeout=timeout)
        self.unix_path = str(path)

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.unix_path)


class Response:
    def __init__(self, status, body, headers):
        self.status = status
        self.raw = body
        self.headers = headers
        try:
            self.json = json.loads(body) if body else None
        except ValueError:
            self.json = None

    @property
    def error(self):
        return (self.json or {}).get("error") or {}

    def __repr__(self):
        return f"<{self.status} {self.raw[:300]!r}>"


class Daemon:
    """One warrend with a private state dir and socket."""

    def __init__(self, root=None, extra_args=(), netns=None):
        # Short paths: QEMU's Unix sockets live under the state dir.
        self.root = Path(root or tempfile.mkdtemp(prefix="w", dir="/tmp"))
        # Helpers that drop privileges (dnsmasq as nobody, QEMU of strict
        # VMs) pass through to the state dir, as under /var/lib.
        os.chmod(self.root, 0o711)
        self.state_dir = self.root / "state"
        self.socket = self.root / "warren.sock"
        self.log_path = self.root / "warrend.log"
        self.extra_args = list(extra_args)
        # A network namespace (ip netns name) to run in: its bridges, taps,
        # dnsmasq and guests stay there.
        self.prefix = ["nsenter", f"--net=/run/netns/{netns}"] if netns else []
        self.proc = None
        self._log = None

    def start(self, timeout=30):
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            self.prefix + [str(warrend_bin()), "--state-dir", str(self.state_dir), "--socket",
             str(self.socket), "--log-level", "debug"] + self.extra_args,
            stdout=self._log, stderr=subprocess.STDOUT, env=sanitizer_env(),
            start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"warrend exited with {self.proc.returncode}:\n{self.log()}")
            try:
                if self.api("GET", "/v1/host").status == 200:
                    return self
            except OSError:
                pass
            time.sleep(0.05)
        self.proc.kill()  # never leave a silent daemon behind
        self.proc.wait()
        raise RuntimeError(f"warrend did not answer within {timeout} s:\n{self.log()}")

    def log(self):
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def sanitizer_reports(self):
        text = self.log()
        return [line for line in text.splitlines() if any(m in line for m in SANITIZER_MARKS)]

    def kill9(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)
        self._log.close()

    def stop(self):
        """SIGTERM; VMs keep running. Returns sanitizer report lines."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self._log:
            self._log.close()
        return self.sanitizer_reports()

    # -- HTTP ------------------------------------------------------------
    def api(self, method, path, body=None, timeout=120, raw=None, headers=None):
        conn = UnixHTTPConnection(self.socket, timeout=timeout)
        try:
            hdrs = dict(headers or {})
            data = raw
            if body is not None:
                data = json.dumps(body).encode()
                hdrs["Content-Type"] = "application/json"
            conn.request(method, path, body=data, headers=hdrs)
            resp = conn.getresponse()
            return Response(resp.status, resp.read(), dict(resp.getheaders()))
        finally:
            conn.close()

    def wait_op(self, reply, timeout=300):
        """The finished operation of a 202 reply ({"operation": ...})."""
        assert reply.status == 202, reply
        return self.wait_operation(reply.json["operation"], timeout)

    def wait_operation(self, op, timeout=300):
        """op (a dict), once it no longer runs."""
        deadline = time.monotonic() + timeout
        while op["status"] == "running":
            assert time.monotonic() < deadline, f"operation still running: {op}"
            op = self.api("GET", f"/v1/operations/{op['id']}?wait=10").json
        return op

    def finish(self):
        """Teardown of a module's daemon: delete every VM, stop the daemon,
        kill any QEMU still left, and fail on sanitizer reports."""
        r = self.api("GET", "/v1/vms") if self.proc and self.proc.poll() is None else None
        for vm in (r.json["vms"] if r and r.status == 200 else []):
            self.api("DELETE", f"/v1/vms/{vm['name']}?force=true")
        r = self.api("GET", "/v1/networks") if r else None
        for n in (r.json["networks"] if r and r.status == 200 else []):
            self.api("DELETE", f"/v1/networks/{n['name']}")
        reports = self.stop()
        for pid in qemu_pids_for(self.state_dir):
            os.kill(pid, 9)
        subprocess.run(["pkill", "-f", "--", f"--conf-file={self.state_dir}/"])
        assert not reports, "sanitizer reports in warrend:\n" + "\n".join(reports)

    def boot(self, spec):
        """Create a VM from spec, start it and wait for its guest."""
        r = self.api("POST", "/v1/vms", spec)
        assert r.status == 201, r
        self.start_all([spec["name"]])
        return r.json

    def start_all(self, names, boot=True):
        """Start VMs at once (guests boot in parallel); with boot, wait until
        each guest is ready."""
        errors = []
        # A VM that ran before has readiness lines in its console log
        # already: wait for one more.
        seen = {n: self.console_log(n).count(READY_LINE) for n in names}

        def one(n):
            r = self.api("POST", f"/v1/vms/{n}/actions/start")
            if r.status != 200:
                errors.append(r)

        threads = [threading.Thread(target=one, args=(n,)) for n in names]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors, errors
        for n in names if boot else ():
            self.wait_console(n, READY_LINE, seen[n] + 1)

    # -- CLI ---------------------------------------------------------------
    def cli(self, *args, timeout=180, input=None, check=None):
        proc = subprocess.run([str(warren_bin()), "--socket", str(self.socket)] + list(args),
                              capture_output=True, text=True, timeout=timeout, input=input,
                              env=sanitizer_env())
        # A sanitizer report in the client fails the test whatever it
        # expected of the exit status (an ASan exit looks like a failure).
        reports = [line for line in proc.stderr.splitlines()
                   if any(m in line for m in SANITIZER_MARKS)]
        assert not reports, f"sanitizer reports in warren {' '.join(args)}:\n{proc.stderr}"
        if check is not None and proc.returncode != check:
            raise AssertionError(
                f"warren {' '.join(args)} exited {proc.returncode}, wanted {check}\n"
                f"stdout: {proc.stdout}\nstderr: {proc.stderr}")
        return proc

    def cli_json(self, *args, **kw):
        proc = self.cli("--format", "json", *args, check=0, **kw)
        return json.loads(proc.stdout)

    # -- guests ------------------------------------------------------------
    def console_log(self, name):
        r = self.api("GET", f"/v1/vms/{name}/console/log")
        return r.raw.decode(errors="replace") if r.status == 200 else ""

    def wait_console(self, name, line, count=1, timeout=120):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.console_log(name).count(line) >= count:
                return
            time.sleep(0.2)
        raise AssertionError(f"{name}: {line} x{count} not seen within {timeout} s; console:\n"
                             f"{self.console_log(name)[-3000:]}")

    def wait_state(self, name, state, timeout=60):
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            r = self.api("GET", f"/v1/vms/{name}")
            last = r.json and r.json.get("state")
            if last == state:
                return r.json
            time.sleep(0.1)
        raise AssertionError(f"{name}: state {last}, wanted {state} within {timeout} s")


def guest_spec(guest_dir, name, **extra):
    guest_dir = Path(guest_dir)
    spec = {
        "name": name,
        "cpus": 1,
        "memory": "256M",
        "kernel": str(guest_dir / "vmlinuz"),
        "initrd": str(guest_dir / "initrd.img"),
        "cmdline": (guest_dir / "cmdline").read_text().strip(),
        # The guest's files live in the build tree, outside the state dir,
        # which only the trusted policy allows.
        "security": "trusted",
    }
    spec.update(extra)
    return spec


def booted_vm(guest_dir, name, **spec):
    """Body of a module fixture: a daemon with one booted VM, as
    {"daemon", "id"} (a test may swap in a restarted daemon); the daemon
    is finished afterwards."""
    d = Daemon().start()
    st = {"daemon": d}
    try:
        st["id"] = d.boot(guest_spec(guest_dir, name, **spec))["id"]
        yield st
    finally:
        st["daemon"].finish()


def qemu_pids_for(state_dir):
    """pids of QEMU processes whose command line mentions state_dir."""
    pids = []
    for p in Path("/proc").iterdir():
        if not p.name.isdigit():
            continue
        try:
            cmd = (p / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if cmd and b"qemu-system" in cmd[0] and any(str(state_dir).encode() in a for a in cmd):
            pids.append(int(p.name))
    return pids
