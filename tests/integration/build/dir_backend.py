"""A real, minimal BuildBackend over plain directories, for integration tests and bench/build.py.

Every image is a full rootfs copy (like dockerd's vfs driver); RUN runs for real: a private mount
namespace (unshare -m) binds the RUN mounts (bind, cache, secret; tmpfs mounted) into the rootfs,
then chroot runs the command with the spec's env, user and workdir. It stands in for the engine
until the engine implements skiff.build.backend.BuildBackend, and shows the contract in ~150 lines.
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
import threading
from pathlib import Path

from skiff.build.backend import Image, OutputSink, ProgressSink, RunSpec, Workspace
from skiff.errors import NotFound
from skiff.oci.digest import Digest
from skiff.oci.image_spec import ContainerConfig, History, ImageConfig

PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


class DirBackend:
    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self.images: dict[str, Image] = {}
        self.fs: dict[str, Path] = {}
        self.names: dict[str, str] = {}
        self.tags: dict[str, str] = {}
        self._n = 0
        self._lock = threading.Lock()

    def _dir(self, prefix: str) -> Path:
        with self._lock:
            self._n += 1
            return self.root / f"{prefix}-{self._n}"

    def add_base(self, name: str, rootfs: Path, config: ContainerConfig | None = None) -> Image:
        cfg = ImageConfig(
            config=config or ContainerConfig(env=(PATH,), cmd=("sh",)),
            diff_ids=(Digest.of(name.encode()),),
            history=(History(created_by=f"base {name}"),),
        )
        img = Image(str(cfg.digest), cfg)
        self.images[img.id], self.fs[img.id], self.names[name] = img, rootfs, img.id
        return img

    def resolve_image(self, ref: str, *, platform: str, pull: bool, progress: ProgressSink) -> Image:
        image_id = self.names.get(ref) or self.names.get(ref.removesuffix(":latest"))
        if image_id is None:
            raise NotFound(
                f"pull access denied for {ref}, repository does not exist or may require 'docker login'"
            )
        return self.images[image_id]

    def get_image(self, image_id: str) -> Image | None:
        return self.images.get(image_id)

    def prepare(self, image_id: str) -> Workspace:
        d = self._dir("ws")
        if image_id:
            subprocess.run(["cp", "-a", str(self.fs[image_id]), str(d)], check=True)
        else:
            d.mkdir()
        return Workspace(d.name, d, image_id)

    def view(self, image_id: str) -> Workspace:
        return Workspace("view-" + image_id[7:19], self.fs[image_id], image_id, writable=False)

    def release(self, workspace: Workspace) -> None:
        if workspace.writable:
            shutil.rmtree(workspace.rootfs, ignore_errors=True)

    def run(self, workspace: Workspace, spec: RunSpec, output: OutputSink) -> int:
        rootfs = workspace.rootfs
        lines = ["set -e"]
        for m in spec.mounts:
            target = str(rootfs) + "/" + m.target.lstrip("/")
            q = shlex.quote(target)
            if m.type == "tmpfs":
                size = f",size={m.size}" if m.size else ""
                lines += [f"mkdir -p {q}", f"mount -t tmpfs -o mode=1777{size} tmpfs {q}"]
                continue
            assert m.source is not None
            if m.source.is_dir():
                lines.append(f"mkdir -p {q}")
            else:
                lines += [f"mkdir -p {shlex.quote(str(Path(target).parent))}", f"touch {q}"]
            lines.append(f"mount --bind {shlex.quote(str(m.source))} {q}")
            if m.readonly:
                lines.append(f"mount -o remount,bind,ro {q}")
        user = f"--userspec={shlex.quote(spec.user)} " if spec.user else ""
        inner = 'cd "$1" && shift && exec "$@"'
        cmd = " ".join(shlex.quote(a) for a in spec.args)
        lines.append(
            f"exec chroot {user}{shlex.quote(str(rootfs))} /bin/sh -c {shlex.quote(inner)} sh "
            f"{shlex.quote(spec.workdir or '/')} {cmd}"
        )
        proc = subprocess.run(
            ["unshare", "--mount", "--propagation", "private", "/bin/sh", "-c", "\n".join(lines)],
            env=dict(e.split("=", 1) for e in spec.env),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        output(proc.stdout)
        return proc.returncode

    def commit(self, config: ImageConfig, history: History, workspace: Workspace | None,
               container_id: str = "") -> Image:
        diff_ids = config.diff_ids
        if workspace is not None:
            fs = self._dir("img")
            subprocess.run(["cp", "-a", str(workspace.rootfs), str(fs)], check=True)
            diff_ids = (*diff_ids, Digest.of(str(fs).encode()))
        else:
            parent = next(
                (self.fs[i] for i, im in self.images.items() if im.config.diff_ids == diff_ids), None
            )
            fs = parent if parent is not None else self._dir("empty")
            fs.mkdir(exist_ok=True)
        cfg = config.with_changes(diff_ids=diff_ids, history=(*config.history, history))
        img = Image(str(cfg.digest), cfg)
        with self._lock:
            self.images[img.id], self.fs[img.id] = img, fs
        return img

    def tag(self, image_id: str, ref: str) -> str:
        name = ref if ":" in ref.rsplit("/", 1)[-1] else ref + ":latest"
        self.names[name] = self.tags[name] = image_id
        return name

    def cache_mount_dir(self, cache_id: str) -> Path:
        d = self.root / "cache-mounts" / Digest.of(cache_id.encode()).hex[:16]
        d.mkdir(parents=True, exist_ok=True)
        return d
