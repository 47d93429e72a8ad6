"""Shared pieces of the bench/engine_*.py benchmarks: the engines under test and how to time them.

skiffd runs on temporary roots with busybox imported (tests/support/images.py), its own socket and
a private bridge; dockerd 20.10 and podman 4.3 are the ones /work/shared/reference-engines/setup.sh
starts/configures. Everything here removes only the containers it created (by ID) and kills only
processes it started (by PID).
"""

from __future__ import annotations

import contextlib
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
from tests.support.daemon import DOCKER_CLI, Daemon  # noqa: E402
from tests.support.images import busybox_daemon  # noqa: E402

SETUP = "/work/shared/reference-engines/setup.sh"
REF_DIR = "/work/shared/reference-engines"
PODMAN = "/usr/bin/podman"


@dataclass
class Engine:
    """One engine as a CLI: argv prefix + environment."""

    name: str
    cli: list[str]
    env: dict[str, str]

    def run(self, *args: str, check: bool = True, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        p = subprocess.run([*self.cli, *args], env=self.env, stdin=subprocess.DEVNULL, capture_output=True,
                           text=True, timeout=timeout)
        if check and p.returncode != 0:
            raise RuntimeError(f"{self.name}: {' '.join(args)} failed ({p.returncode}): {p.stderr.strip()}")
        return p

    def timed(self, *args: str) -> tuple[float, str]:
        t0 = time.perf_counter()
        p = self.run(*args)
        return time.perf_counter() - t0, p.stdout

    def remove(self, ids: Sequence[str]) -> None:
        """Remove exactly these containers (force), in chunks.

        podman gets ``-t 0`` (docker's rm -f kills at once; podman's waits 10 s after SIGTERM, which a
        ``sleep`` as pid 1 ignores). podman 4.3 was seen here dropping containers from its database
        while their conmon and process lived on: any such leftover is killed through runc, by ID."""
        extra = ["-t", "0"] if self.cli[0] == PODMAN else []
        for i in range(0, len(ids), 100):
            self.run("rm", "-f", *extra, *ids[i:i + 100], check=False)
        if self.cli[0] == PODMAN and ids:
            want = set(ids)
            left = [c for c in _runc_ids() if c in want]
            for cid in left:
                subprocess.run(["runc", "--root", "/run/runc", "kill", cid, "KILL"], capture_output=True)
                subprocess.run(["runc", "--root", "/run/runc", "delete", "-f", cid], capture_output=True)
            if left:
                print(f"podman rm left {len(left)} containers running: killed via runc", file=sys.stderr)


def _runc_ids() -> list[str]:
    p = subprocess.run(["runc", "--root", "/run/runc", "list", "-q"], capture_output=True, text=True)
    return p.stdout.split()


def ref_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DOCKER_HOST", "DOCKER_CONTEXT", "DOCKER_API_VERSION")}
    env["DOCKER_CONFIG"] = os.environ.get("A", "/tmp/reference-engines") + "/dockercfg"
    env["CONTAINERS_CONF"] = f"{REF_DIR}/containers.conf"
    return env


def start_reference() -> str:
    """Run setup.sh (idempotent); return dockerd's version.

    Other work on this host sometimes deletes docker0 under a running dockerd (then every start on
    the default network fails): dockerd is restarted then, which recreates it."""
    subprocess.run([SETUP], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if subprocess.run(["ip", "link", "show", "docker0"], capture_output=True).returncode != 0:
        print("docker0 is gone: restarting dockerd (setup.sh stop; setup.sh)", file=sys.stderr)
        stop_reference()
        subprocess.run([SETUP], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return subprocess.run([DOCKER_CLI, "version", "-f", "{{.Server.Version}}"], env=ref_env(),
                          capture_output=True, text=True).stdout.strip()


def stop_reference() -> None:
    subprocess.run([SETUP, "stop"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


@contextlib.contextmanager
def engines(podman: bool = True, keep_dockerd: bool = False,
            skiffd_args: Sequence[str] = ()) -> Iterator[tuple[list[Engine], Daemon]]:
    """skiffd, dockerd (and podman): the engines of one run, cleaned up after."""
    version = start_reference()
    try:
        with tempfile.TemporaryDirectory(prefix="skiff-bench-") as tmp, \
                busybox_daemon(Path(tmp), skiffd_args) as d:
            env = dict(d.env)
            env.pop("SKIFF_HOST", None)
            found = [Engine("skiffd", [DOCKER_CLI], env), Engine(f"dockerd {version.split('+')[0]}", [DOCKER_CLI], ref_env())]
            if podman:
                found.append(Engine("podman " + subprocess.run([PODMAN, "version", "-f", "{{.Client.Version}}"],
                                                               env=ref_env(), capture_output=True,
                                                               text=True).stdout.strip(), [PODMAN], ref_env()))
            yield found, d
    finally:
        if not keep_dockerd:
            stop_reference()


def order(names: Sequence[Engine], i: int) -> list[Engine]:
    """Round i's order: rotated each round so no engine always goes first."""
    k = i % len(names)
    return [*names[k:], *names[:k]]


def loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def spread(xs: Sequence[float], scale: float = 1.0, unit: str = "") -> str:
    """median [min-max] n=..."""
    return f"{statistics.median(xs) * scale:.1f}{unit} [{min(xs) * scale:.1f}-{max(xs) * scale:.1f}] n={len(xs)}"


def read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def rollup(pid: int) -> dict[str, int]:
    """kB fields of /proc/<pid>/smaps_rollup (Rss, Pss, Private_*); {} if the process is gone."""
    out: dict[str, int] = {}
    try:
        text = Path(f"/proc/{pid}/smaps_rollup").read_text()
    except OSError:
        return out
    for line in text.splitlines()[1:]:
        k, _, v = line.partition(":")
        parts = v.split()
        if parts and parts[0].isdigit():
            out[k.strip()] = int(parts[0])
    out["Uss"] = out.get("Private_Clean", 0) + out.get("Private_Dirty", 0)
    return out


def all_pids() -> list[int]:
    return [int(p) for p in os.listdir("/proc") if p.isdigit()]


def ppid(pid: int) -> int:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[1])
    except (OSError, ValueError, IndexError):
        return -1


def skiff_pids(d: Daemon) -> dict[str, list[int]]:
    """skiffd, its forker and the monitors of its containers (not the containers' own processes)."""
    root = str(d.exec_root)
    forker = read_pid(d.exec_root / "forker.pid")
    monitors = []
    for f in d.exec_root.glob("containers/*/monitor.pid"):
        pid = read_pid(f)
        if pid and root in cmdline(pid):
            monitors.append(pid)
    return {"daemon": [d.pid], "forker": [forker] if forker and root in cmdline(forker) else [],
            "monitors": monitors}


def docker_pids(cids: Sequence[str] = ()) -> dict[str, list[int]]:
    """dockerd, its containerd, and the containerd-shim-runc-v2 of the given containers."""
    dockerd = read_pid(Path("/var/run/docker.pid"))
    out: dict[str, list[int]] = {"daemon": [dockerd] if dockerd else [], "containerd": [], "shims": []}
    want = set(cids)
    for pid in all_pids():
        cl = cmdline(pid)
        if dockerd and ppid(pid) == dockerd and cl.startswith("containerd "):
            out["containerd"].append(pid)
        elif "containerd-shim" in cl and want:
            args = cl.split()
            if "-id" in args and args[args.index("-id") + 1] in want:
                out["shims"].append(pid)
    return out
