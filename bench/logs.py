"""Log throughput: 200 MB written by one container, through Skiff's monitor vs dockerd's json-file.

Skiff: ``spawn_monitor`` runs a busybox bundle through runc; the monitor writes json-file. dockerd:
a private dockerd (own data-root, exec-root and socket, no bridge/iptables) runs the same busybox
rootfs imported as an image, json-file driver. Same command in both:
``yes <48 chars> | head -c SIZE``. Prints MB/s for each (median of --runs), the ratio (>1 means
Skiff is faster), and the memory of the process that wrote the logs (monitor RSS; dockerd RSS
growth), sampled while the container runs.

    .venv/bin/python bench/logs.py [--size-mb 200] [--runs 3] [--no-docker]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import BinaryIO

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.rootfs import make_busybox_rootfs

from skiff.monitor.client import MonitorClient
from skiff.monitor.protocol import MonitorOptions
from skiff.monitor.server import set_child_subreaper
from skiff.monitor.spawn import spawn_monitor

LINE = "0123456789abcdefghijklmnopqrstuvwxyz0123456789ab"


def rss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as f:
            return next(int(ln.split()[1]) for ln in f if ln.startswith("VmRSS"))
    except (OSError, StopIteration):
        return 0


class Sampler(threading.Thread):
    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid, self.stop = pid, threading.Event()
        self.samples: list[int] = []

    def run(self) -> None:
        while not self.stop.is_set():
            if v := rss_kb(self.pid):
                self.samples.append(v)
            time.sleep(0.05)


def skiff_run(work: Path, rootfs: Path, size: int, n: int) -> tuple[float, int, int]:
    bundle = work / f"bundle{n}"
    bundle.mkdir()
    subprocess.run(["runc", "spec", "--bundle", str(bundle)], check=True)
    spec = json.loads((bundle / "config.json").read_text())
    spec["root"] = {"path": str(rootfs)}
    spec["process"]["terminal"] = False
    spec["process"]["args"] = ["sh", "-c", f"yes {LINE} | head -c {size}"]
    (bundle / "config.json").write_text(json.dumps(spec))
    cid = f"skiff-bench-logs-{os.getpid()}-{n}"
    state = work / "state" / cid
    t0 = time.monotonic()
    h = spawn_monitor(MonitorOptions(container_id=cid, bundle=str(bundle), state_dir=str(state), runtime="runc",
                                     runtime_args=("--root", str(work / "runc")), log_path=str(state / "c.log"),
                                     start=True))
    s = Sampler(h.monitor_pid)
    s.start()
    st = MonitorClient(h.socket_path).wait()
    dt = time.monotonic() - t0
    s.stop.set()
    s.join()
    os.waitpid(h.monitor_pid, 0)
    assert st.exit_code == 0, st
    return dt, min(s.samples or [0]), max(s.samples or [0])


class Dockerd:
    def __init__(self, work: Path) -> None:
        self.work = work
        work.mkdir(parents=True, exist_ok=True)
        self.sock = work / "docker.sock"
        self.env = {**os.environ, "DOCKER_HOST": f"unix://{self.sock}"}
        with open(work / "dockerd.log", "wb") as log:
            self.proc = self._start(work, log)
        for _ in range(200):
            if self.docker("version", check=False).returncode == 0:
                return
            time.sleep(0.1)
        raise RuntimeError("dockerd did not start; see " + str(work / "dockerd.log"))

    def _start(self, work: Path, log: BinaryIO) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            ["dockerd", "--data-root", str(work / "data"), "--exec-root", str(work / "exec"), "-H",
             f"unix://{self.sock}", "--pidfile", str(work / "docker.pid"), "--bridge=none", "--iptables=false",
             "--ip-forward=false", "--ip-masq=false", "--storage-driver=vfs"],
            stdout=subprocess.DEVNULL, stderr=log, start_new_session=True)

    def docker(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["docker", *args], env=self.env, capture_output=True, text=True, check=check)

    def close(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        subprocess.run(["umount", "-R", str(self.work / "exec")], capture_output=True)
        subprocess.run(["umount", "-R", str(self.work / "data")], capture_output=True)


def docker_run(d: Dockerd, size: int) -> tuple[float, int, int]:
    s = Sampler(d.proc.pid)
    s.start()
    t0 = time.monotonic()
    cid = d.docker("run", "-d", "--network", "none", "--log-driver", "json-file", "skiff-bench-busybox",
                   "sh", "-c", f"yes {LINE} | head -c {size}").stdout.strip()
    code = d.docker("wait", cid).stdout.strip()
    dt = time.monotonic() - t0
    s.stop.set()
    s.join()
    logpath = d.docker("inspect", "-f", "{{.LogPath}}", cid).stdout.strip()
    size_on_disk = os.path.getsize(logpath)
    d.docker("rm", "-f", cid)
    assert code == "0" and size_on_disk > size, (code, size_on_disk)
    return dt, min(s.samples or [0]), max(s.samples or [0])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size-mb", type=int, default=200)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--no-docker", action="store_true")
    a = ap.parse_args()
    size = a.size_mb * 1_000_000
    set_child_subreaper()  # monitors are re-parented to us and reaped here (PID 1 does not reap)
    work = Path(tempfile.mkdtemp(prefix="skiff-bench-logs-"))
    try:
        rootfs = make_busybox_rootfs(work / "rootfs")
        sk = [skiff_run(work, rootfs, size, i) for i in range(a.runs)]
        sk_t = statistics.median(r[0] for r in sk)
        print(f"skiff monitor : {a.size_mb / sk_t:7.1f} MB/s  (median {sk_t:.2f}s)  "
              f"monitor RSS {min(r[1] for r in sk) // 1024}-{max(r[2] for r in sk) // 1024} MiB")
        if a.no_docker or not shutil.which("dockerd"):
            return
        d = Dockerd(work / "docker")
        try:
            tar = work / "busybox.tar"
            subprocess.run(["tar", "-C", str(rootfs), "-cf", str(tar), "."], check=True)
            d.docker("import", str(tar), "skiff-bench-busybox")
            dk = [docker_run(d, size) for _ in range(a.runs)]
        finally:
            d.close()
        dk_t = statistics.median(r[0] for r in dk)
        print(f"dockerd 20.10 : {a.size_mb / dk_t:7.1f} MB/s  (median {dk_t:.2f}s)  "
              f"dockerd RSS {min(r[1] for r in dk) // 1024}-{max(r[2] for r in dk) // 1024} MiB")
        print(f"ratio skiff/dockerd throughput: {dk_t / sk_t:.2f}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
        reap_orphans()


def reap_orphans() -> None:
    """Reap what was re-parented to us (containerd shims, monitors) before we exit."""
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            time.sleep(0.1)


if __name__ == "__main__":
    main()
