"""etcd for tests and benchmarks: a cluster of N etcd nodes on 127.0.0.1,
each in a directory of its own, started and stopped by the caller."""
import base64
import json
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def b64(s):
    return base64.b64encode(s.encode()).decode()


class Etcd:
    """n etcd nodes forming one cluster; client URLs in self.urls."""

    def __init__(self, n=1):
        self.root = Path(tempfile.mkdtemp(prefix="etcd", dir="/tmp"))
        self.nodes = []
        for i in range(n):
            self.nodes.append({"name": f"e{i}", "client": free_port(), "peer": free_port()})
        self.urls = [f"http://127.0.0.1:{n['client']}" for n in self.nodes]
        self.procs = {}

    def _start(self, node, cluster):
        log = open(self.root / f"{node['name']}.log", "ab")
        self.procs[node["name"]] = subprocess.Popen(
            [shutil.which("etcd") or "/usr/bin/etcd", "--name", node["name"],
             "--data-dir", str(self.root / node["name"]),
             "--listen-client-urls", f"http://127.0.0.1:{node['client']}",
             "--advertise-client-urls", f"http://127.0.0.1:{node['client']}",
             "--listen-peer-urls", f"http://127.0.0.1:{node['peer']}",
             "--initial-advertise-peer-urls", f"http://127.0.0.1:{node['peer']}",
             "--initial-cluster", cluster, "--initial-cluster-state", "new",
             "--heartbeat-interval", "100", "--election-timeout", "1000"],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)

    def start(self, timeout=30):
        cluster = ",".join(f"{n['name']}=http://127.0.0.1:{n['peer']}" for n in self.nodes)
        for node in self.nodes:
            self._start(node, cluster)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                self.call("/v3/kv/range", {"key": b64("/")})
                return self
            except OSError:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError("etcd did not start")

    def kill(self, i):
        p = self.procs.pop(self.nodes[i]["name"])
        p.kill()
        p.wait()

    def stop(self):
        for p in self.procs.values():
            p.kill()
            p.wait()
        self.procs = {}
        shutil.rmtree(self.root, ignore_errors=True)

    def call(self, path, body, url=None):
        """POST to the JSON gateway of the first node that answers."""
        err = None
        for u in ([url] if url else self.urls):
            try:
                req = urllib.request.Request(u + path, data=json.dumps(body).encode(),
                                             headers={"Content-Type": "application/json"})
                with urllib.request.urlopen(req, timeout=5) as r:
                    return json.loads(r.read())
            except OSError as e:
                err = e
        raise err

    def get_prefix(self, prefix):
        """{key: value (JSON)} under prefix."""
        end = prefix[:-1] + chr(ord(prefix[-1]) + 1)
        r = self.call("/v3/kv/range", {"key": b64(prefix), "range_end": b64(end)})
        return {base64.b64decode(kv["key"]).decode():
                json.loads(base64.b64decode(kv.get("value", "")) or b"null")
                for kv in r.get("kvs", [])}

    def put(self, key, value):
        self.call("/v3/kv/put", {"key": b64(key), "value": b64(json.dumps(value))})
