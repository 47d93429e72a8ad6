"""Benchmark: pull and push of a ~200 MB, 5-layer image against a local registry (distribution 2.8).

Skiff vs ``skopeo copy`` (download + verify, no unpack; push from local blobs) and vs ``podman pull``
(download + unpack, overlay) in the same run, on the same machine, against the same registry. The
image is made offline: each layer holds incompressible random bytes plus real files from /usr/lib.

    .venv/bin/python bench/pull_push.py [--runs 3] [--mb 200]
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from isal import igzip

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.integration.image.registry_fixture import Registry

from skiff.image.service import ImageService
from skiff.image.unpack import DigestOnlyUnpacker, SnapshotUnpacker
from skiff.oci.digest import Digest

CONTAINERS_CONF = "/work/shared/reference-engines/containers.conf"
REAL_DIRS = ["/usr/lib/python3.11", "/usr/share/doc", "/usr/lib/x86_64-linux-gnu"]


class TransferOnly(DigestOnlyUnpacker):
    """Stores and verifies blobs by digest (the content store always does) but skips diff IDs:
    the same work as ``skopeo copy docker:// oci:``, to compare the transfer path alone."""

    streaming_verify = False

    def unpack(self, layers, on_bytes=None, verified=None):  # type: ignore[no-untyped-def]
        return [0] * len(layers)


def make_layout(dest: Path, total_mb: int, layers: int = 5) -> int:
    """An OCI layout with ``layers`` gzip layers of ~total_mb/layers MB each; returns total blob bytes."""
    blobs = dest / "blobs" / "sha256"
    blobs.mkdir(parents=True)
    real = [p for d in REAL_DIRS for p in sorted(Path(d).rglob("*")) if p.is_file() and not p.is_symlink()]
    per = total_mb * 1_000_000 // layers
    descs, diffs, total, ri = [], [], 0, 0
    for i in range(layers):
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
            rnd = os.urandom(per * 7 // 10)
            ti = tarfile.TarInfo(f"data/random-{i}.bin")
            ti.size = len(rnd)
            tf.addfile(ti, io.BytesIO(rnd))
            added = 0
            while added < per * 3 // 10 and ri < len(real):
                p = real[ri]
                ri += 1
                try:
                    tf.add(p, arcname=f"real/{i}{p}")
                    added += p.stat().st_size
                except OSError:
                    continue
        tar = buf.getvalue()
        gz = igzip.compress(tar, compresslevel=1)
        d = Digest.of(gz)
        (blobs / d.hex).write_bytes(gz)
        descs.append({"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": d, "size": len(gz)})
        diffs.append(Digest.of(tar))
        total += len(gz)
    cfg = json.dumps({"architecture": "amd64", "os": "linux", "config": {"Cmd": ["/bin/sh"]},
                      "rootfs": {"type": "layers", "diff_ids": diffs}}).encode()
    cd = Digest.of(cfg)
    (blobs / cd.hex).write_bytes(cfg)
    man = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                      "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd,
                                 "size": len(cfg)}, "layers": descs}).encode()
    md = Digest.of(man)
    (blobs / md.hex).write_bytes(man)
    (dest / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": [
        {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": md, "size": len(man),
         "annotations": {"org.opencontainers.image.ref.name": "latest"}}]}))
    (dest / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}')
    return total


def run(cmd: list[str], env: dict[str, str] | None = None) -> None:
    subprocess.run(cmd, check=True, capture_output=True, env=env)


def timed(fn: Callable[[], None], setup: Callable[[], None] | None = None, cleanup: Callable[[], None] | None = None,
          runs: int = 3) -> float:
    times = []
    for _ in range(runs):
        if setup:
            setup()
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
        if cleanup:
            cleanup()
    return statistics.median(times)


async def _drain(it: object) -> None:
    async for _ in it:  # type: ignore[attr-defined]
        pass


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--mb", type=int, default=200)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="skiff-bench-"))
    regs: list[Registry] = []
    try:
        layout = work / "layout"
        size = make_layout(layout, args.mb)
        print(f"image: 5 layers, {size / 1e6:.0f} MB compressed; {args.runs} runs each, medians")
        src = Registry(work / "reg-src")
        src.start()
        regs.append(src)
        ref = f"{src.host}/bench/img:latest"
        run(["skopeo", "--insecure-policy", "copy", "--dest-tls-verify=false", f"oci:{layout}:latest",
             f"docker://{ref}"])
        rows: list[tuple[str, float, str, float | None]] = []

        # pull without unpacking vs skopeo copy to an OCI layout (which verifies blob digests only)
        state: dict[str, object] = {}
        unpacker_cls: list[type[DigestOnlyUnpacker]] = [TransferOnly]

        def skiff_setup() -> None:
            d = work / "skiff-pull"
            shutil.rmtree(d, ignore_errors=True)
            state["svc"] = ImageService(d, unpacker_cls[0](), max_concurrent_downloads=5)

        def skiff_pull() -> None:
            asyncio.run(_drain(state["svc"].pull(ref)))  # type: ignore[attr-defined]

        def skiff_cleanup() -> None:
            state["svc"].close()  # type: ignore[attr-defined]
        t_skiff = timed(skiff_pull, skiff_setup, skiff_cleanup, args.runs)
        unpacker_cls[0] = DigestOnlyUnpacker
        t_skiff_ids = timed(skiff_pull, skiff_setup, skiff_cleanup, args.runs)
        out = work / "skopeo-pull"
        t_skopeo = timed(lambda: run(["skopeo", "--insecure-policy", "copy", "--src-tls-verify=false",
                                      f"docker://{ref}", f"oci:{out}:latest"]),
                         lambda: shutil.rmtree(out, ignore_errors=True), None, args.runs)
        rows.append(("pull (blobs, digests)", t_skiff, "skopeo", t_skopeo))
        rows.append(("pull (+ diff IDs checked)", t_skiff_ids, "skopeo", t_skopeo))

        # pull with unpack: Skiff on overlay2 vs podman (overlay) into private roots
        if os.geteuid() == 0:
            from skiff.storage.overlay2 import Overlay2Snapshotter

            def skiff_setup2() -> None:
                d = work / "skiff-pull2"
                shutil.rmtree(d, ignore_errors=True)
                sn = Overlay2Snapshotter(d / "overlay2")
                state["sn"] = sn
                state["svc"] = ImageService(d / "image", SnapshotUnpacker(sn), max_concurrent_downloads=5)

            def skiff_cleanup2() -> None:
                state["svc"].close()  # type: ignore[attr-defined]
                state["sn"].close()  # type: ignore[attr-defined]
            t_skiff2 = timed(skiff_pull, skiff_setup2, skiff_cleanup2, args.runs)
            run_root = Path(tempfile.mkdtemp(prefix="sk-pm-"))
            pm = ["podman", "--root", str(work / "podman"), "--runroot", str(run_root), "--storage-driver",
                  "overlay", "--cgroup-manager", "cgroupfs", "--events-backend", "file"]
            env = {**os.environ, "CONTAINERS_CONF": CONTAINERS_CONF}

            def pm_reset() -> None:
                subprocess.run([*pm, "system", "reset", "--force"], capture_output=True, env=env)
            t_pm: float | None
            try:
                t_pm = timed(lambda: run([*pm, "pull", "-q", "--tls-verify=false", ref], env), pm_reset, pm_reset,
                             args.runs)
            except subprocess.CalledProcessError as exc:
                print(f"podman pull failed: {exc.stderr.decode(errors='replace')[:300]}")
                t_pm = None
            shutil.rmtree(run_root, ignore_errors=True)
            rows.append(("pull (+unpack, overlay)", t_skiff2, "podman", t_pm))

        # push to a fresh registry each run (no blob can be reused or mounted)
        svc = ImageService(work / "skiff-push", DigestOnlyUnpacker(), max_concurrent_uploads=5)
        asyncio.run(_drain(svc.pull(ref)))
        svc.images.delete_ref(next(r for r in svc.images.refs_of(svc.resolve(ref).id) if "@" in r))
        dst: dict[str, Registry] = {}

        def fresh() -> None:
            r = Registry(work / f"reg-{len(regs)}")
            r.start()
            regs.append(r)
            dst["r"] = r

        def stop() -> None:
            dst["r"].stop()
            shutil.rmtree(dst["r"].workdir, ignore_errors=True)

        def skiff_push() -> None:
            target = f"{dst['r'].host}/bench/pushed:1"
            svc.tag(ref, target)
            asyncio.run(_drain(svc.push(target)))
        t_push = timed(skiff_push, fresh, stop, args.runs)
        t_push_sk = timed(lambda: run(["skopeo", "--insecure-policy", "copy", "--dest-tls-verify=false",
                                       f"oci:{layout}:latest", f"docker://{dst['r'].host}/bench/pushed:1"]),
                          fresh, stop, args.runs)
        svc.close()
        rows.append(("push", t_push, "skopeo", t_push_sk))

        print(f"{'operation':26} {'skiff':>8} {'reference':>18} {'ratio':>7}")
        for name, mine, other_name, other in rows:
            ref_s = f"{other_name} {other:.2f}s" if other is not None else f"{other_name} n/a"
            ratio = f"{mine / other:.2f}" if other else "-"
            print(f"{name:26} {mine:7.2f}s {ref_s:>18} {ratio:>7}")
    finally:
        for r in regs:
            r.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
