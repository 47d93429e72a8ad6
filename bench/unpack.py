"""Layer unpack throughput: Skiff's apply_layer vs GNU tar on the same ~100 MB tar made from /usr.

Prints MB/s for each (median of --runs, with the CPU seconds used), and the ratio GNU tar time /
Skiff time (>1 means Skiff is faster; the CPU ratio is the one to trust on a busy machine), for a plain tar and for the gzip-compressed blob, for unpack_layers of several layers
in parallel (overlay2) vs GNU tar extracting the same layers one after another, and for the other
direction (write_tree vs tar -c, what commit and build use).

    .venv/bin/python bench/unpack.py [--size-mb 100] [--runs 3] [--layers 4]
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from skiff.storage import (
    LayerSource,
    Overlay2Snapshotter,
    VfsSnapshotter,
    apply_layer,
    unpack_layers,
    write_tree,
)


def make_tar(dest: Path, size_mb: int, skip: int = 0) -> Path:
    """A tar of regular /usr content (files, dirs, symlinks, hard links), about ``size_mb`` MB."""
    names, total, limit = [], 0, size_mb << 20
    walks = (os.walk(top) for top in ("/usr/include", "/usr/lib", "/usr/share", "/usr/bin", "/usr/sbin"))
    for root, dirs, files in (step for walk in walks for step in walk):
        dirs.sort()
        for n in sorted(files):
            p = os.path.join(root, n)
            try:
                st = os.lstat(p)
            except OSError:
                continue
            if skip > 0:
                skip -= st.st_size
                continue
            names.append(p.lstrip("/"))
            total += st.st_size
            if total >= limit:
                break
        if total >= limit:
            break
    listing = dest.with_suffix(".list")
    listing.write_text("\n".join(names) + "\n")
    subprocess.run(["tar", "--xattrs", "-C", "/", "-cf", str(dest), "-T", str(listing)], check=True)
    return dest


def _cpu() -> float:
    """CPU seconds used so far by this process and its waited-for children (tar, workers)."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def timed(prepare: Callable[[], None], run: Callable[[], None], runs: int) -> tuple[float, float]:
    """Median wall seconds and median CPU seconds of ``run`` over ``runs`` runs (``prepare`` untimed).

    CPU time is reported too because wall time on a shared machine depends on the neighbours.
    """
    walls, cpus = [], []
    for _ in range(runs):
        prepare()
        os.sync()
        c, t = _cpu(), time.perf_counter()
        run()
        walls.append(time.perf_counter() - t)
        cpus.append(_cpu() - c)
    return statistics.median(walls), statistics.median(cpus)


def fresh(path: Path) -> Callable[[], None]:
    def go() -> None:
        shutil.rmtree(path, ignore_errors=True)
        path.mkdir()
    return go


def opener(path: Path) -> Callable[[], BinaryIO]:
    return lambda: path.open("rb")


def gnu_tar(tar: Path, dest: Path, gz: bool = False) -> None:
    args = ["tar", "--xattrs", "--xattrs-include=*", "-xpf", str(tar), "-C", str(dest)]
    if gz:
        args.insert(1, "-z")
    subprocess.run(args, check=True)


def report(label: str, size: int, skiff: tuple[float, float], tar: tuple[float, float]) -> None:
    mb = size / (1 << 20)
    print(f"{label:<31} skiff {mb / skiff[0]:7.1f} MB/s ({skiff[0]:5.3f} s, cpu {skiff[1]:5.3f} s)   "
          f"GNU tar {mb / tar[0]:7.1f} MB/s ({tar[0]:5.3f} s, cpu {tar[1]:5.3f} s)   "
          f"ratio {tar[0] / skiff[0]:4.2f} (cpu {tar[1] / skiff[1]:4.2f})")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--size-mb", type=int, default=100)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--workdir", default="/dev/shm" if os.path.isdir("/dev/shm") else None,
                    help="where to put tars and output (default: /dev/shm, so both tools are measured "
                         "rather than the disk; give a disk path to include it)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(dir=args.workdir, prefix="skiff-bench-") as tmp:
        work = Path(tmp)
        tar = make_tar(work / "layer.tar", args.size_mb)
        size = tar.stat().st_size
        print(f"tar: {size / (1 << 20):.1f} MB from /usr; {os.cpu_count()} CPUs; median of {args.runs}")
        out = work / "out"

        def skiff_plain() -> None:
            with open(tar, "rb") as f:
                apply_layer(out, f, overlay_whiteouts=False)

        report("plain tar", size, timed(fresh(out), skiff_plain, args.runs),
               timed(fresh(out), lambda: gnu_tar(tar, out), args.runs))

        # the other direction (docker commit / build): archive the unpacked tree
        fresh(out)()
        skiff_plain()
        sink = work / "diff.tar"

        def skiff_diff() -> None:
            with open(sink, "wb") as f:
                write_tree(out, f)

        def gnu_diff() -> None:
            subprocess.run(["tar", "--xattrs", "-C", str(out), "-cf", str(sink), "."], check=True)

        report("archive (write_tree/tar -c)", size, timed(lambda: None, skiff_diff, args.runs),
               timed(lambda: None, gnu_diff, args.runs))

        gz = work / "layer.tar.gz"
        with open(tar, "rb") as src, gzip.open(gz, "wb", compresslevel=1) as dst:
            shutil.copyfileobj(src, dst, 1 << 20)

        def skiff_gz() -> None:
            with open(gz, "rb") as f:
                apply_layer(out, f, overlay_whiteouts=False)

        report("gzip blob", size, timed(fresh(out), skiff_gz, args.runs),
               timed(fresh(out), lambda: gnu_tar(gz, out, gz=True), args.runs))

        # several layers: unpack_layers (parallel on overlay2) vs GNU tar one after another
        per = max(1, args.size_mb // args.layers)
        tars = [make_tar(work / f"l{i}.tar", per, skip=i * (per << 20)) for i in range(args.layers)]
        total = sum(t.stat().st_size for t in tars)
        sources = [LayerSource("sha256:" + hashlib.sha256(t.read_bytes()).hexdigest(), opener(t)) for t in tars]
        root = work / "sn"
        kind = Overlay2Snapshotter if os.geteuid() == 0 else VfsSnapshotter

        def skiff_layers() -> None:
            sn = kind(root)
            try:
                unpack_layers(sn, sources)
            finally:
                sn.close()

        def gnu_layers() -> None:
            for i, t in enumerate(tars):
                (out / str(i)).mkdir()
                gnu_tar(t, out / str(i))

        report(f"{args.layers} layers ({kind.__name__[:8]})", total,
               timed(fresh(root), skiff_layers, args.runs), timed(fresh(out), gnu_layers, args.runs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
