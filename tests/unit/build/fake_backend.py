"""An in-memory BuildBackend: stands for the engine in the builder's unit tests.

Images are full rootfs copies in a temp dir; ``run`` interprets a tiny shell subset (echo, true,
false, exit N, touch, mkdir -p, cat, printenv, ls) separated by ``&&`` / ``;`` so that tests can see
files, env and mounts without a kernel. Every RunSpec is recorded for assertions.
"""

from __future__ import annotations

import hashlib
import os
import shlex
import shutil
import subprocess
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from skiff.build.backend import Image, OutputSink, ProgressSink, RunSpec, Workspace
from skiff.errors import NotFound
from skiff.oci.digest import Digest
from skiff.oci.image_spec import ContainerConfig, History, ImageConfig


class FakeBackend:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.images: dict[str, Image] = {}
        self.rootfs: dict[str, Path] = {}
        self.names: dict[str, str] = {}
        self.tags: dict[str, str] = {}
        self.runs: list[RunSpec] = []
        self.run_seen: list[dict[str, Any]] = []
        self.resolved: list[tuple[str, str, bool]] = []
        self.commits = 0
        self.live: set[str] = set()
        self._n = 0
        self._lock = threading.Lock()

    # ---- test helpers -----------------------------------------------------------------------

    def add_image(self, name: str, config: ContainerConfig, files: Mapping[str, str] | None = None) -> Image:
        fs = self._new_dir("img")
        for rel, data in (files or {}).items():
            p = fs / rel
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_text(data)
        diff = Digest.of(name.encode())
        cfg = ImageConfig(
            config=config,
            diff_ids=(diff,),
            history=(History(created_by=f"/bin/sh -c #(nop) ADD file:{name} in / "),),
            created="2024-01-01T00:00:00Z",
        )
        img = Image(str(cfg.digest), cfg)
        self.images[img.id] = img
        self.rootfs[img.id] = fs
        self.names[name] = img.id
        return img

    def _new_dir(self, prefix: str) -> Path:
        with self._lock:
            self._n += 1
            d = self.root / f"{prefix}-{self._n}"
        d.mkdir(parents=True)
        return d

    # ---- BuildBackend ---------------------------------------------------------------------------

    def resolve_image(self, ref: str, *, platform: str, pull: bool, progress: ProgressSink) -> Image:
        self.resolved.append((ref, platform, pull))
        name = ref
        image_id = self.names.get(name) or self.names.get(name.removesuffix(":latest"))
        if image_id is None:
            raise NotFound(
                f"pull access denied for {ref}, repository does not exist or may require 'docker login'"
            )
        if pull:
            progress({"status": f"Pulling from library/{ref}", "id": "latest"})
        return self.images[image_id]

    def get_image(self, image_id: str) -> Image | None:
        return self.images.get(image_id)

    def prepare(self, image_id: str) -> Workspace:
        d = self._new_dir("ws")
        shutil.rmtree(d)
        if image_id:
            _clone(self.rootfs[image_id], d)
        else:
            d.mkdir()
        self.live.add(str(d))
        return Workspace(id=d.name, rootfs=d, image_id=image_id)

    def view(self, image_id: str) -> Workspace:
        ws = self.prepare(image_id)
        return Workspace(id=ws.id, rootfs=ws.rootfs, image_id=image_id, writable=False)

    def release(self, workspace: Workspace) -> None:
        self.live.discard(str(workspace.rootfs))
        shutil.rmtree(workspace.rootfs, ignore_errors=True)

    def run(self, workspace: Workspace, spec: RunSpec, output: OutputSink) -> int:
        self.runs.append(spec)
        mounts = {m.target: m for m in spec.mounts}
        for m in spec.mounts:  # the runtime creates mount points
            mp = workspace.rootfs / m.target.lstrip("/")
            if m.source is not None and m.source.is_file():
                mp.parent.mkdir(parents=True, exist_ok=True)
                mp.touch()
            else:
                mp.mkdir(parents=True, exist_ok=True)
        env = dict(e.split("=", 1) for e in spec.env)
        script = spec.args[-1] if len(spec.args) >= 3 and spec.args[1] == "-c" else shlex.join(spec.args)
        if len(spec.args) == 1:
            exe = _resolve(workspace.rootfs, spec.workdir, spec.args[0], mounts)
            if exe.is_file() and exe.read_text().startswith("#!"):
                script = exe.read_text().split("\n", 1)[1]
        return _interpret(script, workspace.rootfs, spec.workdir, env, mounts, output)

    def commit(self, config: ImageConfig, history: History, workspace: Workspace | None,
               container_id: str = "") -> Image:
        diff_ids = config.diff_ids
        fs = self._new_dir("img")
        shutil.rmtree(fs)
        if workspace is not None:
            _clone(workspace.rootfs, fs)
            diff_ids = (*diff_ids, _tree_digest(fs))
        else:
            parent_fs = self._rootfs_for(config)
            if parent_fs is not None:
                _clone(parent_fs, fs)
            else:
                fs.mkdir()
        cfg = config.with_changes(diff_ids=diff_ids, history=(*config.history, history))
        img = Image(str(cfg.digest), cfg)
        with self._lock:
            self.commits += 1
            self.images[img.id] = img
            self.rootfs[img.id] = fs
        return img

    def _rootfs_for(self, config: ImageConfig) -> Path | None:
        for image_id, img in self.images.items():
            if img.config.diff_ids == config.diff_ids:
                return self.rootfs[image_id]
        return None

    def tag(self, image_id: str, ref: str) -> str:
        name = ref if ":" in ref.rsplit("/", 1)[-1] else ref + ":latest"
        self.tags[name] = image_id
        return name

    def cache_mount_dir(self, cache_id: str) -> Path:
        d = self.root / "cache-mounts" / hashlib.sha256(cache_id.encode()).hexdigest()[:16]
        d.mkdir(parents=True, exist_ok=True)
        return d

    def files(self, image_id: str) -> dict[str, str]:
        out = {}
        base = self.rootfs[image_id]
        for dirpath, _dirs, names in os.walk(base):
            for n in names:
                p = Path(dirpath) / n
                if p.is_symlink():
                    out[str(p.relative_to(base))] = "-> " + os.readlink(p)
                else:
                    out[str(p.relative_to(base))] = p.read_text(errors="replace")
        return out


def _clone(src: Path, dst: Path) -> None:
    """A full copy keeping owners and modes (shutil.copytree drops owners)."""
    subprocess.run(["cp", "-a", str(src), str(dst)], check=True)


def _tree_digest(root: Path) -> Digest:
    h = hashlib.sha256()
    for dirpath, dirs, names in sorted(os.walk(root)):
        dirs.sort()
        for n in sorted(names):
            p = Path(dirpath) / n
            h.update(str(p.relative_to(root)).encode())
            if not p.is_symlink():
                h.update(p.read_bytes())
    return Digest.from_hex(h.hexdigest())


def _resolve(rootfs: Path, workdir: str, path: str, mounts: Mapping[str, Any]) -> Path:
    full = path if path.startswith("/") else os.path.join(workdir, path)
    for target, m in mounts.items():
        if m.source is not None and (full == target or full.startswith(target.rstrip("/") + "/")):
            rest = full[len(target) :].lstrip("/")
            return Path(m.source) / rest if rest else Path(m.source)
    return rootfs / full.lstrip("/")


def _interpret(
    script: str, rootfs: Path, workdir: str, env: dict[str, str], mounts: Mapping[str, Any], out: OutputSink
) -> int:
    for part in script.replace("&&", ";").replace("\n", ";").split(";"):
        words = shlex.split(part.strip())
        if not words:
            continue
        cmd, args = words[0], words[1:]
        if cmd == "echo":
            out((" ".join(args) + "\n").encode())
        elif cmd == "true":
            pass
        elif cmd == "false":
            return 1
        elif cmd == "exit":
            return int(args[0])
        elif cmd == "touch":
            for a in args:
                p = _resolve(rootfs, workdir, a, mounts)
                p.parent.mkdir(parents=True, exist_ok=True)
                p.touch()
        elif cmd == "mkdir":
            for a in args:
                if a != "-p":
                    _resolve(rootfs, workdir, a, mounts).mkdir(parents=True, exist_ok=True)
        elif cmd == "cat":
            for a in args:
                p = _resolve(rootfs, workdir, a, mounts)
                if not p.exists():
                    out(f"cat: can't open '{a}': No such file or directory\n".encode())
                    return 1
                out(p.read_bytes())
        elif cmd == "printenv":
            value = env.get(args[0])
            if value is None:
                return 1
            out((value + "\n").encode())
        elif cmd == "write":  # write PATH TEXT...
            p = _resolve(rootfs, workdir, args[0], mounts)
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_text(" ".join(args[1:]))
        elif cmd == "ls":
            p = _resolve(rootfs, workdir, args[0] if args else ".", mounts)
            out(("\n".join(sorted(os.listdir(p))) + "\n").encode())
        else:
            out(f"/bin/sh: {cmd}: not found\n".encode())
            return 127
    return 0
