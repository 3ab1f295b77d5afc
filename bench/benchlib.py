"""Plumbing for the Warren benchmarks: private daemons, HTTP over the Unix
socket with one kept-alive connection, /proc readings and statistics.

Standard library only. Every daemon runs with its own short temporary
directory under /tmp (QEMU's Unix socket paths must stay short), and
everything started here is registered so that cleanup() can take it down
even when a benchmark fails half way.
"""

import ctypes
import http.client
import json
import os
import re
import select
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BUILD = ROOT / "build" / "release"
WARREND = BUILD / "warrend"
WARREN = BUILD / "src" / "cli" / "warren"
READY_LINE = b"WARREN-GUEST-READY"

# "GET /v1/vms -> 200 uid=0 0.625 ms" (warrend at --log-level debug)
REQ_LOG = re.compile(
    r" debug: ([A-Z]+) (\S+) -> (\d{3})[^\n]*? uid=\d+ (\d+\.\d+) ms$", re.M)
# "11:37:26.132 warrend[11725] info: f1: suspended -> starting" (UTC, ms)
LOG_LINE = re.compile(r"^(\d\d):(\d\d):(\d\d\.\d{3}) \S+\[\d+\] \w+: (.*)$", re.M)


def now():
    return time.perf_counter()


# ---- statistics --------------------------------------------------------------

def percentile(values, p):
    """Linear interpolation between closest ranks (p in 0..100)."""
    if not values:
        return None
    s = sorted(values)
    if len(s) == 1:
        return s[0]
    k = (len(s) - 1) * p / 100.0
    lo = int(k)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


def summarize(values):
    """n, median (= p50), min, max, p99 and mean of a list of numbers."""
    values = [v for v in values if v is not None]
    if not values:
        return {"n": 0}
    return {
        "n": len(values),
        "median": percentile(values, 50),
        "p50": percentile(values, 50),
        "p99": percentile(values, 99),
        "min": min(values),
        "max": max(values),
        "mean": sum(values) / len(values),
    }


# ---- processes -----------------------------------------------------------------

_cleanups = []  # callables, run last-in first-out by cleanup()


def at_cleanup(fn):
    _cleanups.append(fn)
    return fn


def cleanup():
    while _cleanups:
        fn = _cleanups.pop()
        try:
            fn()
        except Exception as e:  # keep going: the rest must still be freed
            print(f"bench: cleanup step failed: {e!r}", flush=True)


def become_subreaper():
    """QEMU processes that warrend started outlive it; as a child subreaper
    this process inherits (and can reap) them instead of PID 1."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
    except (OSError, AttributeError):
        pass


def proc_status(pid, key):
    """A kB field of /proc/PID/status (VmRSS, VmHWM) in MiB, or None."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return None


def pids_mentioning(text):
    """pids of processes whose command line contains text."""
    found = []
    needle = text.encode()
    for p in Path("/proc").iterdir():
        if not p.name.isdigit() or int(p.name) == os.getpid():
            continue
        try:
            cmd = (p / "cmdline").read_bytes()
        except OSError:
            continue
        if needle in cmd:
            found.append(int(p.name))
    return found


def kill_and_reap(pid, sig=signal.SIGKILL, timeout=10):
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        return
    deadline = now() + timeout
    while now() < deadline:
        try:
            done, _ = os.waitpid(pid, os.WNOHANG)
            if done:
                return
        except ChildProcessError:  # not ours: wait until it is gone
            if not os.path.exists(f"/proc/{pid}") or _is_zombie(pid):
                return
        time.sleep(0.02)


def _is_zombie(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def make_tmpdir(prefix):
    path = Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))
    at_cleanup(lambda: shutil.rmtree(path, ignore_errors=True))
    return path


# ---- HTTP over the Unix socket -------------------------------------------------

class UnixHTTPConnection(http.client.HTTPConnection):
    """http.client over AF_UNIX; counts the sockets it opens so that a
    caller can tell whether the server kept the connection alive."""

    def __init__(self, path, timeout=120):
        super().__init__("warren", timeout=timeout)
        self.unix_path = str(path)
        self.connects = 0

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.unix_path)
        self.connects += 1

    def call(self, method, path, body=None):
        """One request; returns (status, body bytes, round trip in ms)."""
        headers = {}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        t0 = now()
        self.request(method, path, body=data, headers=headers)
        resp = self.getresponse()
        raw = resp.read()
        ms = (now() - t0) * 1000.0
        if resp.will_close:
            self.close()
        return resp.status, raw, ms

    def call_json(self, method, path, body=None, want=(200, 201)):
        status, raw, _ = self.call(method, path, body)
        if status not in want:
            raise RuntimeError(f"{method} {path}: {status} {raw[:300]!r}")
        return json.loads(raw) if raw else None


class Daemon:
    """One warrend (release build) with its own state dir, socket and log."""

    def __init__(self, root=None, log_level="debug", args=(), netns=None):
        self.args = list(args)
        # Run inside a network namespace (ip netns name) of the caller's.
        self.prefix = ["nsenter", f"--net=/run/netns/{netns}"] if netns else []
        self.root = Path(root) if root else make_tmpdir("wb")
        # dnsmasq (as nobody) reads its host files under the state dir.
        os.chmod(self.root, 0o711)
        self.state_dir = self.root / "s"
        self.socket = self.root / "w.sock"
        self.log_path = self.root / "warrend.log"
        self.log_level = log_level
        self.proc = None
        self.conn = None
        at_cleanup(self._teardown)

    @property
    def pid(self):
        return self.proc.pid

    def start(self, timeout=30):
        """Start and wait for the first answer; returns the seconds that took."""
        log = open(self.log_path, "ab")
        t0 = now()
        self.proc = subprocess.Popen(
            self.prefix + [str(WARREND), "--state-dir", str(self.state_dir), "--socket",
                           str(self.socket),
             "--log-level", self.log_level] + self.args,
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True)
        log.close()
        while now() - t0 < timeout:
            if self.proc.poll() is not None:
                raise RuntimeError(f"warrend exited with {self.proc.returncode}:\n"
                                   f"{self.log_text()[-3000:]}")
            try:
                c = UnixHTTPConnection(self.socket, timeout=5)
                status, _, _ = c.call("GET", "/v1/host")
                c.close()
                if status == 200:
                    elapsed = now() - t0
                    self.conn = UnixHTTPConnection(self.socket)
                    return elapsed
            except OSError:
                pass
            time.sleep(0.005)
        raise RuntimeError(f"warrend did not answer within {timeout} s")

    def connection(self, timeout=120):
        return UnixHTTPConnection(self.socket, timeout=timeout)

    def api(self, method, path, body=None, want=(200, 201)):
        return self.conn.call_json(method, path, body, want)

    def log_size(self):
        try:
            return self.log_path.stat().st_size
        except OSError:
            return 0

    def log_text(self, offset=0):
        try:
            with open(self.log_path, "rb") as f:
                f.seek(offset)
                return f.read().decode(errors="replace")
        except OSError:
            return ""

    def server_times(self, offset, method, path_re):
        """Durations (ms) warrend logged since offset for matching requests."""
        pat = re.compile(path_re)
        return [float(m.group(4)) for m in REQ_LOG.finditer(self.log_text(offset))
                if m.group(1) == method and pat.fullmatch(m.group(2))]

    def log_lines(self, offset=0):
        """(seconds since midnight UTC, message) of every log line since offset."""
        return [(int(m.group(1)) * 3600 + int(m.group(2)) * 60 + float(m.group(3)), m.group(4))
                for m in LOG_LINE.finditer(self.log_text(offset))]

    def rss(self):
        return proc_status(self.pid, "VmRSS")

    def stop(self):
        if self.conn:
            self.conn.close()
            self.conn = None
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def remove(self):
        """Stop and delete the state directory (frees the disk between runs)."""
        self._teardown()
        shutil.rmtree(self.root, ignore_errors=True)

    def _teardown(self):
        self.stop()
        # QEMU processes survive warrend by design; take down any left.
        for pid in pids_mentioning(str(self.state_dir)):
            kill_and_reap(pid)


# ---- watching a file ---------------------------------------------------------

class FileWatcher:
    """Wait for bytes appended to a file: inotify through libc when it is
    available (no polling delay), otherwise a 1 ms poll."""

    IN_MODIFY = 0x2

    def __init__(self, path):
        self.path = str(path)
        self.fd = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC)
        self.ino = -1
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            ino = libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
            if ino >= 0 and libc.inotify_add_watch(ino, self.path.encode(), self.IN_MODIFY) >= 0:
                self.ino = ino
            elif ino >= 0:
                os.close(ino)
        except (OSError, AttributeError):
            self.ino = -1

    def read_new(self, timeout):
        """New bytes (possibly b"") after waiting at most timeout seconds."""
        data = os.read(self.fd, 1 << 16)
        if data:
            return data
        if self.ino >= 0:
            r, _, _ = select.select([self.ino], [], [], timeout)
            if r:
                try:
                    os.read(self.ino, 4096)
                except BlockingIOError:
                    pass
        else:
            time.sleep(min(timeout, 0.001))
        return os.read(self.fd, 1 << 16)

    def close(self):
        os.close(self.fd)
        if self.ino >= 0:
            os.close(self.ino)


# ---- QMP, just enough to ask QEMU whether it runs ---------------------------------

def qmp_session(path, commands, deadline):
    """Connect to a QMP socket as soon as it accepts (1 ms retries), negotiate,
    run commands in order and return (instant of the last answer, that answer)."""
    while True:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            s.connect(str(path))
            break
        except OSError:
            s.close()
            if now() > deadline:
                raise RuntimeError(f"QMP socket {path} never accepted")
            time.sleep(0.001)
    s.settimeout(max(1.0, deadline - now()))
    f = s.makefile("rwb")
    try:
        json.loads(f.readline())  # greeting
        msg = None
        for cmd in ("qmp_capabilities",) + tuple(commands):
            f.write(json.dumps({"execute": cmd}).encode() + b"\n")
            f.flush()
            while True:
                msg = json.loads(f.readline())
                if "return" in msg or "error" in msg:
                    break
            if "error" in msg:
                raise RuntimeError(f"QMP {cmd}: {msg['error']}")
        return now(), msg
    finally:
        f.close()
        s.close()
