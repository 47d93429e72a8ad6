"""Memory per running container: Skiff's monitor vs containerd-shim-runc-v2 (dockerd 20.10).

Starts N idle busybox containers each way and reports, per container, the private memory (USS =
Private_Clean + Private_Dirty) and the proportional share (PSS) of the process that holds the
container: Skiff's monitor (forked from the resident forker; the forker's PSS is shared out over the
N containers) and dockerd's containerd-shim-runc-v2. The daemons' own memory is not counted.

    .venv/bin/python bench/monitor_mem.py [-n 10] [--no-docker]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.logs import Dockerd, reap_orphans
from tests.support.rootfs import make_busybox_rootfs

from skiff.monitor.client import MonitorClient
from skiff.monitor.forker import ForkerClient, start_forker
from skiff.monitor.protocol import MonitorOptions
from skiff.monitor.server import set_child_subreaper


def rollup(pid: int) -> tuple[int, int]:
    """(USS, PSS) in KiB from /proc/pid/smaps_rollup."""
    d: dict[str, int] = {}
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            p = line.split()
            if p[0] in ("Pss:", "Private_Clean:", "Private_Dirty:"):
                d[p[0]] = int(p[1])
    return d["Private_Clean:"] + d["Private_Dirty:"], d["Pss:"]


def skiff_side(work: Path, rootfs: Path, n: int) -> tuple[float, float]:
    bundle = work / "bundle"
    bundle.mkdir()
    subprocess.run(["runc", "spec", "--bundle", str(bundle)], check=True)
    spec = json.loads((bundle / "config.json").read_text())
    spec["root"] = {"path": str(rootfs)}
    spec["process"]["terminal"] = False
    spec["process"]["args"] = ["sleep", "3600"]
    (bundle / "config.json").write_text(json.dumps(spec))
    sock = str(work / "exec" / "forker.sock")
    fpid = start_forker(sock)
    fc = ForkerClient(sock)
    handles = []
    try:
        for i in range(n):
            cid = f"skiff-bench-mem-{os.getpid()}-{i}"
            state = work / "state" / cid
            handles.append(fc.spawn(MonitorOptions(container_id=cid, bundle=str(bundle), state_dir=str(state),
                                                   runtime="runc", runtime_args=("--root", str(work / "runc")),
                                                   log_path=str(state / "c.log"), start=True)))
        time.sleep(1)
        per = [rollup(h.monitor_pid) for h in handles]
        _, forker_pss = rollup(fpid)
        uss = sum(p[0] for p in per) / n
        pss = (sum(p[1] for p in per) + forker_pss) / n
        return uss, pss
    finally:
        for h in handles:
            c = MonitorClient(h.socket_path)
            try:
                c.signal(signal.SIGKILL)
                c.wait(timeout=20)
            except Exception:
                pass
        os.kill(fpid, signal.SIGTERM)


def docker_side(work: Path, rootfs: Path, n: int) -> tuple[float, float]:
    d = Dockerd(work / "docker")
    try:
        tar = work / "busybox.tar"
        subprocess.run(["tar", "-C", str(rootfs), "-cf", str(tar), "."], check=True)
        d.docker("import", str(tar), "skiff-bench-busybox")
        ids = [d.docker("run", "-d", "--network", "none", "skiff-bench-busybox", "sleep", "3600").stdout.strip()
               for _ in range(n)]
        time.sleep(1)
        shims = []
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    cmd = f.read().split(b"\0")
            except OSError:
                continue
            if cmd and cmd[0].endswith(b"containerd-shim-runc-v2") and str(work).encode() in b" ".join(cmd):
                shims.append(int(pid))
        per = [rollup(p) for p in shims]
        d.docker("rm", "-f", *ids)
        return sum(p[0] for p in per) / n, sum(p[1] for p in per) / n
    finally:
        d.close()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=10)
    ap.add_argument("--no-docker", action="store_true")
    a = ap.parse_args()
    set_child_subreaper()
    work = Path(tempfile.mkdtemp(prefix="skiff-bench-mem-"))
    try:
        rootfs = make_busybox_rootfs(work / "rootfs")
        uss, pss = skiff_side(work, rootfs, a.n)
        print(f"skiff monitor          : USS {uss / 1024:5.2f} MiB  PSS {pss / 1024:5.2f} MiB per container (n={a.n})")
        if a.no_docker or not shutil.which("dockerd"):
            return
        duss, dpss = docker_side(work, rootfs, a.n)
        print(f"containerd-shim-runc-v2: USS {duss / 1024:5.2f} MiB  PSS {dpss / 1024:5.2f} MiB per container")
        print(f"ratio skiff/shim: USS {uss / duss:.2f}  PSS {pss / dpss:.2f}  (<1 means Skiff uses less)")
    finally:
        shutil.rmtree(work, ignore_errors=True)
        reap_orphans()


if __name__ == "__main__":
    main()
