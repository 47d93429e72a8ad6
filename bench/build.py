"""Build speed: Skiff's builder vs dockerd's classic builder vs buildah, in the same run.

Three measurements, each the median of --runs:
  cold     a 10-instruction Dockerfile (ARG, ENV, WORKDIR, COPY, 2x RUN, LABEL, EXPOSE, USER, CMD)
           built with the cache off (--no-cache), FROM a busybox image already present;
  cached   the same build again with the cache on (every step a hit);
  context  a 10,000-file context whose .dockerignore excludes 90%, ``COPY . /ctx/``, cache off,
           including making the context tar as the CLI does and unpacking it as the daemon does.

Skiff's figure is skiffd's: ``DOCKER_BUILDKIT=0 docker build -q`` against a private skiffd (the
engine's BuildService: overlay2 snapshots, RUN on skiff-runtime), timed exactly like dockerd's.
``skiff-lib`` is ``skiff.build`` alone (context tar -> extract_context -> Builder) over the
directory backend of tests/integration/build/dir_backend.py (--no-lib skips it). dockerd runs privately (own
data-root/exec-root/socket, vfs, no bridge) with DOCKER_BUILDKIT=0; buildah uses vfs and chroot
isolation. Targets from issue 6: cached <= 0.5x dockerd, cold <= dockerd.

    .venv/bin/python bench/build.py [--runs 3] [--no-docker] [--no-buildah] [--no-lib]
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.integration.build.dir_backend import DirBackend
from tests.integration.build.dockerd import Dockerd
from tests.support.rootfs import make_busybox_rootfs

from skiff.build.builder import Builder, BuildOptions
from skiff.build.cache import MemoryCacheStore
from skiff.build.context import extract_context
from skiff.build.dockerignore import IgnoreMatcher, read_ignore_file, trim_build_files, write_context_tar

BASE = "skiff-bench-busybox"
PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

DOCKERFILE = f"""\
FROM {BASE}
ARG VERSION=1.0
ENV APP_HOME=/app VERSION=$VERSION
WORKDIR /app
COPY app/ ./
RUN echo building $VERSION > build.txt
RUN mkdir -p /data && touch /data/ready
LABEL org.opencontainers.image.version=$VERSION
EXPOSE 8080
USER nobody
CMD ["sh", "-c", "cat /app/build.txt"]
"""

CONTEXT_DOCKERFILE = f"FROM {BASE}\nCOPY . /ctx/\n"


def make_app_context(ctx: Path) -> None:
    ctx.mkdir(parents=True)
    (ctx / "Dockerfile").write_text(DOCKERFILE)
    for i in range(20):
        p = ctx / "app" / f"mod{i % 4}" / f"file{i}.txt"
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(f"module {i}\n" * 50)


def make_big_context(ctx: Path, n: int = 10_000) -> None:
    ctx.mkdir(parents=True)
    (ctx / "Dockerfile").write_text(CONTEXT_DOCKERFILE)
    (ctx / ".dockerignore").write_text("**/*.log\n")
    for i in range(n):
        d = ctx / f"d{i // 200}"
        if i % 200 == 0:
            d.mkdir()
        (d / (f"f{i}.txt" if i % 10 == 0 else f"f{i}.log")).write_bytes(b"x" * 256)


def skiff_build(backend: DirBackend, cache: MemoryCacheStore, ctx: Path, no_cache: bool) -> float:
    start = time.perf_counter()
    patterns = trim_build_files(read_ignore_file(ctx / ".dockerignore"), "Dockerfile")
    buf = io.BytesIO()
    write_context_tar(ctx, buf, IgnoreMatcher(patterns))
    buf.seek(0)
    context = extract_context(buf, "Dockerfile")
    try:
        Builder(backend, cache).build(
            context, BuildOptions(tags=("bench",), no_cache=no_cache), lambda m: None
        )
    finally:
        context.close()
    return time.perf_counter() - start


def skiffd_figures(tmp: Path, app: Path, big: Path, runs: int, results: dict[str, dict[str, float]]) -> None:
    """The docker CLI's classic build against a private skiffd that has the base image."""
    from tests.support.images import busybox_daemon

    with busybox_daemon(tmp, ()) as d:
        d.env["DOCKER_BUILDKIT"] = "0"
        assert d.docker("tag", "busybox", BASE).returncode == 0

        def b(*args: str) -> None:
            r = d.docker("build", "-q", "-t", "bench", *args, timeout=600)
            if r.returncode != 0:
                raise RuntimeError(r.stderr)
        results["cold"]["skiff"] = statistics.median(timed(lambda: b("--no-cache", str(app))) for _ in range(runs))
        b(str(app))
        results["cached"]["skiff"] = statistics.median(timed(lambda: b(str(app))) for _ in range(runs))
        results["context"]["skiff"] = statistics.median(timed(lambda: b("--no-cache", str(big))) for _ in range(runs))


def timed(fn: Callable[[], Any]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def buildah_cmd(root: Path) -> list[str]:
    return [
        "buildah",
        "--root",
        str(root / "root"),
        "--runroot",
        str(root / "run"),
        "--storage-driver",
        "vfs",
    ]


def report(name: str, skiff: float, others: dict[str, float]) -> None:
    line = f"{name:8s} skiff {skiff:7.3f}s"
    for other, t in others.items():
        line += f" | {other} {t:7.3f}s (skiff/{other} {skiff / t:.2f}x)"
    print(line, flush=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--no-docker", action="store_true")
    ap.add_argument("--no-buildah", action="store_true")
    ap.add_argument("--no-lib", action="store_true")
    a = ap.parse_args()
    if os.geteuid() != 0:
        print("needs root (chroot, dockerd)", file=sys.stderr)
        return 2
    work = Path(tempfile.mkdtemp(prefix="skiff-bench-build-"))
    try:
        rootfs = make_busybox_rootfs(work / "busybox")
        app, big = work / "app", work / "big"
        make_app_context(app)
        make_big_context(big)
        results: dict[str, dict[str, float]] = {"cold": {}, "cached": {}, "context": {}}

        skiffd_figures(work / "skiffd", app, big, a.runs, results)
        if not a.no_lib:
            backend = DirBackend(work / "skiff")
            backend.add_base(BASE, rootfs)
            cache = MemoryCacheStore()
            results["cold"]["skiff-lib"] = statistics.median(
                skiff_build(backend, cache, app, True) for _ in range(a.runs)
            )
            skiff_build(backend, cache, app, False)
            results["cached"]["skiff-lib"] = statistics.median(
                skiff_build(backend, cache, app, False) for _ in range(a.runs)
            )
            results["context"]["skiff-lib"] = statistics.median(
                skiff_build(backend, cache, big, True) for _ in range(a.runs)
            )

        tar = work / "busybox.tar"
        subprocess.run(["tar", "-C", str(rootfs), "-cf", str(tar), "."], check=True)
        if not a.no_docker and shutil.which("dockerd"):
            d = Dockerd(work / "docker")
            try:
                d.docker("import", str(tar), BASE)
                build = ["build", "-q", "-t", "bench"]
                results["cold"]["dockerd"] = statistics.median(
                    timed(lambda: d.docker(*build, "--no-cache", str(app))) for _ in range(a.runs)
                )
                d.docker(*build, str(app))
                results["cached"]["dockerd"] = statistics.median(
                    timed(lambda: d.docker(*build, str(app))) for _ in range(a.runs)
                )
                results["context"]["dockerd"] = statistics.median(
                    timed(lambda: d.docker(*build, "--no-cache", str(big))) for _ in range(a.runs)
                )
            finally:
                d.close()
        if not a.no_buildah and shutil.which("buildah"):
            bh = buildah_cmd(work / "buildah")
            try:
                cid = subprocess.run(
                    [*bh, "from", "scratch"], check=True, capture_output=True, text=True
                ).stdout.strip()
                subprocess.run([*bh, "add", cid, str(tar), "/"], check=True, capture_output=True)
                subprocess.run([*bh, "commit", "-q", cid, BASE], check=True, capture_output=True)
                build = [*bh, "build", "-q", "--isolation", "chroot", "--layers", "-t", "bench"]

                def bb(*extra: str) -> None:
                    subprocess.run([*build, *extra], check=True, capture_output=True)

                results["cold"]["buildah"] = statistics.median(
                    timed(lambda: bb("--no-cache", str(app))) for _ in range(a.runs)
                )
                bb(str(app))
                results["cached"]["buildah"] = statistics.median(
                    timed(lambda: bb(str(app))) for _ in range(a.runs)
                )
                results["context"]["buildah"] = statistics.median(
                    timed(lambda: bb("--no-cache", str(big))) for _ in range(a.runs)
                )
            except subprocess.CalledProcessError as e:
                print(f"buildah failed: {e.stderr.decode(errors='replace')[-500:]}", file=sys.stderr)
        for name, row in results.items():
            report(name, row["skiff"], {k: v for k, v in row.items() if k != "skiff"})
        cached, cold = results["cached"], results["cold"]
        if "dockerd" in cached:
            print(
                f"targets: cached <= 0.5x dockerd: {cached['skiff'] <= 0.5 * cached['dockerd']}; "
                f"cold <= dockerd: {cold['skiff'] <= cold['dockerd']}"
            )
    finally:
        subprocess.run(["rm", "-rf", "--one-file-system", str(work)], check=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
