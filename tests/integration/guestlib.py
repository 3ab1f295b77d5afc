"""Helpers for integration tests that boot Warren's reference guest.

Standard library only.  Three pieces:

* ``QMP``   - synchronous client for QEMU's machine protocol on a Unix socket.
* ``Agent`` - client for the QEMU guest agent (qemu-ga) on the host end of
  its virtio-serial port.
* ``Guest`` - one QEMU process running the guest built by ``tools/mkguest``,
  with a qcow2 data disk, the serial console logged to a file, and both
  sockets above.

The guest prints ``WARREN-GUEST-READY`` on its serial console once per boot,
after its agent has started, and ``WARREN-GUEST-POWEROFF`` right before it
powers off.
"""

import base64
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

READY_LINE = "WARREN-GUEST-READY"
POWEROFF_LINE = "WARREN-GUEST-POWEROFF"

QEMU = os.environ.get("WARREN_QEMU", "qemu-system-x86_64")
QEMU_IMG = os.environ.get("WARREN_QEMU_IMG", "qemu-img")

# Longest path a Unix socket address can hold on Linux (sun_path minus NUL).
_SUN_PATH_MAX = 107


class ProtocolError(Exception):
    """The peer sent something that does not fit the protocol."""


class CommandError(Exception):
    """A command came back with an ``error`` member."""

    def __init__(self, command, error):
        self.command = command
        self.error = error
        cls = error.get("class", "?") if isinstance(error, dict) else "?"
        desc = error.get("desc", error) if isinstance(error, dict) else error
        super().__init__(f"{command}: {cls}: {desc}")


def _connect_unix(path, timeout, alive=None):
    """Connect to a Unix stream socket, retrying until it is there."""
    deadline = time.monotonic() + timeout
    while True:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.connect(str(path))
            return sock
        except (FileNotFoundError, ConnectionRefusedError):
            sock.close()
            if alive is not None and not alive():
                raise ConnectionError(f"{path}: the process serving it has exited")
            if time.monotonic() >= deadline:
                raise TimeoutError(f"{path}: no listener after {timeout} s")
            time.sleep(0.02)


class _LineSocket:
    """A stream socket read as newline-terminated JSON messages."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = b""

    def send_json(self, obj, prefix=b""):
        self.sock.sendall(prefix + json.dumps(obj).encode() + b"\n")

    def _fill(self, deadline):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("no reply in time")
        self.sock.settimeout(remaining)
        try:
            data = self.sock.recv(65536)
        except socket.timeout:
            raise TimeoutError("no reply in time") from None
        if not data:
            raise EOFError("connection closed by peer")
        self.buf += data

    def discard_until(self, marker, deadline):
        """Drop everything up to and including the byte string ``marker``."""
        while True:
            i = self.buf.find(marker)
            if i >= 0:
                self.buf = self.buf[i + len(marker):]
                return
            self.buf = b""
            self._fill(deadline)

    def recv_json(self, deadline):
        while True:
            i = self.buf.find(b"\n")
            if i >= 0:
                line, self.buf = self.buf[:i], self.buf[i + 1:]
                line = line.strip()
                if not line:
                    continue
                try:
                    return json.loads(line)
                except ValueError as e:
                    raise ProtocolError(f"not JSON: {line[:200]!r}") from e
            self._fill(deadline)

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


class QMP:
    """Synchronous QMP client.

    Events that arrive while waiting for a reply are kept in ``events``
    (in arrival order) for ``wait_event``.
    """

    def __init__(self, path, timeout=10.0, alive=None):
        self.path = str(path)
        self.events = []
        self._next_id = 1
        self._conn = _LineSocket(_connect_unix(self.path, timeout, alive))
        deadline = time.monotonic() + timeout
        greeting = self._conn.recv_json(deadline)
        if "QMP" not in greeting:
            raise ProtocolError(f"unexpected QMP greeting: {greeting!r}")
        self.greeting = greeting["QMP"]
        self.execute("qmp_capabilities", timeout=timeout)

    def execute(self, command, arguments=None, timeout=10.0):
        """Run ``command`` and return its ``return`` member."""
        msg_id = f"w{self._next_id}"
        self._next_id += 1
        msg = {"execute": command, "id": msg_id}
        if arguments:
            msg["arguments"] = arguments
        self._conn.send_json(msg)
        deadline = time.monotonic() + timeout
        while True:
            reply = self._conn.recv_json(deadline)
            if "event" in reply:
                self.events.append(reply)
                continue
            if reply.get("id") != msg_id:
                continue  # a late reply to an earlier, abandoned command
            if "error" in reply:
                raise CommandError(command, reply["error"])
            return reply.get("return")

    def wait_event(self, name, timeout=10.0):
        """Return (and consume) the first event called ``name``."""
        deadline = time.monotonic() + timeout
        while True:
            for i, ev in enumerate(self.events):
                if ev.get("event") == name:
                    return self.events.pop(i)
            msg = self._conn.recv_json(deadline)
            if "event" in msg:
                self.events.append(msg)

    def close(self):
        self._conn.close()


class Agent:
    """Client for the QEMU guest agent (the host end of its port)."""

    def __init__(self, path, timeout=10.0, alive=None):
        self.path = str(path)
        self._conn = _LineSocket(_connect_unix(self.path, timeout, alive))

    def sync(self, timeout=30.0, attempt_timeout=2.0):
        """Bring the channel into a known state.

        Sends the 0xFF byte (which makes the agent drop any partial request)
        and ``guest-sync-delimited``; the agent puts a 0xFF before its reply,
        so everything up to it is stale and discarded.  Retried until the
        agent answers, e.g. while the guest is still booting.
        """
        deadline = time.monotonic() + timeout
        while True:
            token = secrets.randbelow(2**31 - 1) + 1
            self._conn.send_json(
                {"execute": "guest-sync-delimited", "arguments": {"id": token}},
                prefix=b"\xff",
            )
            attempt_end = min(deadline, time.monotonic() + attempt_timeout)
            try:
                while True:
                    self._conn.discard_until(b"\xff", attempt_end)
                    reply = self._conn.recv_json(attempt_end)
                    if reply.get("return") == token:
                        return
            except (TimeoutError, ProtocolError):
                if time.monotonic() >= deadline:
                    raise TimeoutError(f"guest agent did not answer within {timeout} s")

    def execute(self, command, arguments=None, timeout=10.0):
        """Run ``command`` and return its ``return`` member."""
        msg_id = secrets.token_hex(6)
        msg = {"execute": command, "id": msg_id}
        if arguments:
            msg["arguments"] = arguments
        self._conn.send_json(msg)
        deadline = time.monotonic() + timeout
        while True:
            reply = self._conn.recv_json(deadline)
            if reply.get("id") != msg_id:
                continue
            if "error" in reply:
                raise CommandError(command, reply["error"])
            return reply.get("return")

    def ping(self, timeout=10.0):
        self.execute("guest-ping", timeout=timeout)

    def exec(self, path, args=(), stdin=None, timeout=30.0, env=None):
        """Run a program in the guest; return (exitcode, stdout, stderr).

        stdout and stderr are bytes.  A program killed by a signal gives
        exitcode -SIGNAL.  Raises TimeoutError if it has not exited in time.
        """
        arguments = {"path": path, "arg": list(args), "capture-output": True}
        if stdin is not None:
            if isinstance(stdin, str):
                stdin = stdin.encode()
            arguments["input-data"] = base64.b64encode(stdin).decode()
        if env is not None:
            arguments["env"] = [f"{k}={v}" for k, v in env.items()]
        pid = self.execute("guest-exec", arguments)["pid"]
        deadline = time.monotonic() + timeout
        delay = 0.01
        while True:
            st = self.execute("guest-exec-status", {"pid": pid})
            if st.get("exited"):
                break
            if time.monotonic() >= deadline:
                raise TimeoutError(f"{path} {list(args)} still running after {timeout} s")
            time.sleep(delay)
            delay = min(delay * 2, 0.2)
        out = base64.b64decode(st.get("out-data", ""))
        err = base64.b64decode(st.get("err-data", ""))
        if "exitcode" in st:
            code = st["exitcode"]
        else:
            code = -int(st.get("signal", 0))
        return code, out, err

    def sh(self, script, timeout=30.0):
        """Run ``script`` with the guest's /bin/sh; see ``exec``."""
        return self.exec("/bin/sh", ["-c", script], timeout=timeout)

    def shutdown(self, mode="powerdown", error_wait=0.5):
        """Ask the guest to power down, halt or reboot.

        ``guest-shutdown`` sends no reply when it works, so this only waits
        ``error_wait`` seconds for an error reply.
        """
        msg_id = secrets.token_hex(6)
        self._conn.send_json(
            {"execute": "guest-shutdown", "arguments": {"mode": mode}, "id": msg_id}
        )
        deadline = time.monotonic() + error_wait
        try:
            while True:
                reply = self._conn.recv_json(deadline)
                if reply.get("id") == msg_id and "error" in reply:
                    raise CommandError("guest-shutdown", reply["error"])
        except (TimeoutError, EOFError):
            pass

    def close(self):
        self._conn.close()


def _short_tmpdir():
    """A new private directory with a path short enough for sockets."""
    base = tempfile.gettempdir()
    if len(base) > 60:
        base = "/tmp"
    return Path(tempfile.mkdtemp(prefix="wg-", dir=base))


class Guest:
    """One QEMU process running the reference guest.

    ``guest_dir`` is the output of ``tools/mkguest``; ``workdir`` holds the
    disk image and logs (e.g. pytest's ``tmp_path``).  Sockets live in a
    short private directory of their own, removed by ``cleanup``.
    """

    def __init__(self, guest_dir, workdir, disk_size="64M", memory=256,
                 machine="pc", smp=1, append_extra="", extra_args=()):
        self.guest_dir = Path(guest_dir)
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.disk = self.workdir / "disk.qcow2"
        self.disk_size = disk_size
        self.memory = memory
        self.machine = machine
        self.smp = smp
        self.append_extra = append_extra
        self.extra_args = list(extra_args)
        self.serial_log = self.workdir / "serial.log"
        self.qemu_log = self.workdir / "qemu.log"
        self.sockdir = _short_tmpdir()
        self.qmp_path = self.sockdir / "qmp"
        self.qga_path = self.sockdir / "qga"
        for p in (self.qmp_path, self.qga_path):
            if len(str(p)) > _SUN_PATH_MAX:
                raise ValueError(f"socket path too long: {p}")
        self.proc = None
        self.started_at = None
        self.ready_seen = 0
        self._qmp = None
        self._agent = None

    # -- lifecycle ---------------------------------------------------------

    def kernel_version(self):
        return (self.guest_dir / "kernel-version").read_text().strip()

    def cmdline(self):
        line = (self.guest_dir / "cmdline").read_text().strip()
        return f"{line} {self.append_extra}".strip()

    def create_disk(self):
        if not self.disk.exists():
            subprocess.run(
                [QEMU_IMG, "create", "-q", "-f", "qcow2", str(self.disk), self.disk_size],
                check=True,
            )

    def argv(self):
        g = self.guest_dir
        return [
            QEMU,
            "-accel", "tcg,thread=multi",
            "-machine", self.machine,
            "-m", str(self.memory),
            "-smp", str(self.smp),
            "-nodefaults", "-no-user-config", "-display", "none",
            "-kernel", str(g / "vmlinuz"),
            "-initrd", str(g / "initrd.img"),
            "-append", self.cmdline(),
            "-chardev", f"file,id=serial0,path={self.serial_log}",
            "-serial", "chardev:serial0",
            "-device", "virtio-serial-pci,id=vser0",
            "-chardev", f"socket,id=qga0,path={self.qga_path},server=on,wait=off",
            "-device", "virtserialport,bus=vser0.0,chardev=qga0,name=org.qemu.guest_agent.0",
            "-drive", f"file={self.disk},if=none,id=disk0,format=qcow2",
            "-device", "virtio-blk-pci,drive=disk0",
            "-device", "virtio-rng-pci",
            "-chardev", f"socket,id=qmp0,path={self.qmp_path},server=on,wait=off",
            "-mon", "chardev=qmp0,mode=control",
        ] + self.extra_args

    def start(self):
        if self.proc is not None:
            raise RuntimeError("guest already started")
        self.create_disk()
        self.serial_log.write_bytes(b"")
        with open(self.qemu_log, "wb") as log:
            self.started_at = time.monotonic()
            self.proc = subprocess.Popen(
                self.argv(), stdin=subprocess.DEVNULL, stdout=log,
                stderr=subprocess.STDOUT,
            )
        return self

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    @property
    def qmp(self):
        if self._qmp is None:
            self._qmp = QMP(self.qmp_path, alive=self.alive)
        return self._qmp

    @property
    def agent(self):
        if self._agent is None:
            self._agent = Agent(self.qga_path, alive=self.alive)
        return self._agent

    # -- serial console ----------------------------------------------------

    def serial_text(self):
        try:
            return self.serial_log.read_bytes().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def ready_count(self):
        return self.serial_text().count(READY_LINE)

    def wait_ready(self, timeout=60.0, n=None):
        """Wait for the n-th readiness line of this QEMU process.

        By default n is one more than the last one waited for, so call it
        once after ``start`` and once after each reboot.  Returns the seconds
        since QEMU was launched.
        """
        if n is None:
            n = self.ready_seen + 1
        deadline = time.monotonic() + timeout
        while True:
            if self.ready_count() >= n:
                self.ready_seen = n
                return time.monotonic() - self.started_at
            if not self.alive():
                raise RuntimeError(
                    f"QEMU exited ({self.proc.returncode}) before readiness line #{n}\n"
                    + self.diagnostics())
            if time.monotonic() >= deadline:
                raise TimeoutError(
                    f"no readiness line #{n} within {timeout} s\n" + self.diagnostics())
            time.sleep(0.02)

    def wait_exit(self, timeout):
        """Wait for QEMU to exit; return its exit status or None on timeout."""
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def diagnostics(self, tail=3000):
        qemu = ""
        try:
            qemu = self.qemu_log.read_text(errors="replace")[-tail:]
        except FileNotFoundError:
            pass
        return (f"--- serial console (tail) ---\n{self.serial_text()[-tail:]}\n"
                f"--- qemu output (tail) ---\n{qemu}")

    # -- teardown ----------------------------------------------------------

    def cleanup(self):
        for client in (self._agent, self._qmp):
            if client is not None:
                client.close()
        self._agent = self._qmp = None
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            if self.wait_exit(5) is None:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.sockdir, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.cleanup()
        return False
