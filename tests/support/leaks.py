"""What a test session left on the machine, printed at its end so leaks show in CI output.

``snapshot()`` at session start, ``report(before, basetemp)`` at the end: mounts under the pytest
basetemp or a test daemon's roots; ``sk*``/``veth*`` links, Skiff iptables chains and ``*skiff*``
cgroups that were not there at the start; processes descending from this pytest process or naming
a test daemon's roots / the basetemp on their command line (detached forkers and monitors are
reparented to init). Other sessions running at the same time may add links/chains/cgroups of
their own: those lines are hints; mounts and processes are this session's.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from tests.support.daemon import STARTED, mounts_under

__all__ = ["Snapshot", "snapshot", "report"]

_CHAIN_MARKS = ("SKIFF", "SKT", "SKB")


@dataclass(frozen=True)
class Snapshot:
    links: frozenset[str]
    chains: frozenset[str]
    cgroups: frozenset[str]


def _links() -> set[str]:
    out = subprocess.run(["ip", "-o", "link", "show"], capture_output=True, text=True).stdout
    names = {ln.split(":")[1].strip().split("@")[0] for ln in out.splitlines() if ln.count(":") >= 2}
    return {n for n in names if n.startswith(("sk", "veth"))}


def _chains() -> set[str]:
    found: set[str] = set()
    for table in ("filter", "nat"):
        try:
            text = subprocess.run(["iptables", "-w", "5", "-t", table, "-S"], capture_output=True, text=True,
                                  timeout=30).stdout
        except (OSError, subprocess.SubprocessError):
            continue
        found |= {f"{table}:{ln.split()[1]}" for ln in text.splitlines()
                  if ln.startswith("-N ") and ln.split()[1].upper().startswith(_CHAIN_MARKS)}
    return found


def _cgroups() -> set[str]:
    found: set[str] = set()
    for dirpath, dirnames, _ in os.walk("/sys/fs/cgroup"):
        depth = dirpath.count("/") - 3
        for d in dirnames:
            if "skiff" in d.lower():
                found.add(os.path.join(dirpath, d))
        if depth >= 3:
            dirnames.clear()
    return found


def snapshot() -> Snapshot:
    return Snapshot(frozenset(_links()), frozenset(_chains()), frozenset(_cgroups()))


def _processes(marks: list[str]) -> list[str]:
    """Live processes below this one, or whose command line names one of ``marks``."""
    me = os.getpid()
    parent: dict[int, int] = {}
    cmd: dict[int, str] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            line = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        fields = stat.rpartition(")")[2].split()
        if fields[0] == "Z":
            continue
        parent[int(entry)] = int(fields[1])
        cmd[int(entry)] = line.strip()
    out = []
    for pid, line in cmd.items():
        if pid == me:
            continue
        p, seen = parent.get(pid, 0), 0
        while p > 1 and p != me and seen < 64:
            p, seen = parent.get(p, 0), seen + 1
        if p == me or any(m in line for m in marks):
            out.append(f"pid {pid} (ppid {parent[pid]}): {line[:200]}")
    return out


def report(before: Snapshot, basetemp: Path | None) -> list[str]:
    """One line per leftover (empty when clean)."""
    roots = [p for d in STARTED for p in (d.data_root, d.exec_root)]
    if basetemp is not None:
        roots.append(basetemp)
    lines = [f"mount {m}" for m in mounts_under(*roots)]
    marks = [str(r) for r in roots]
    lines += [f"process {p}" for p in _processes(marks)]
    new = "(new since the session started; on a shared machine maybe another session's)"
    lines += [f"link {n} {new}" for n in sorted(_links() - before.links)]
    lines += [f"iptables chain {c} {new}" for c in sorted(_chains() - before.chains)]
    lines += [f"cgroup {c} {new}" for c in sorted(_cgroups() - before.cgroups)]
    return lines
