"""docker cp (archive HEAD/GET/PUT), export, diff (changes) and commit.

docker cp works on the container's filesystem as the container sees it: its rootfs with its volumes,
binds and /etc files (not its tmpfs mounts), running or not, in a private mount namespace
(:mod:`fsview`). Paths are resolved with :func:`secure_join`: symlinks, those in volumes too, are
followed as the container would see them (absolute targets relative to its root, ``..`` clamped at
the root), so no path or link reaches outside. Export sees the rootfs only; a stopped container's
snapshot is mounted for it and unmounted after.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import json
import os
import stat
import tarfile
import tempfile
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, TypeVar

from skiff.engine.containers.fsview import ViewMount, in_private_view, writable_mount_for
from skiff.engine.containers.record import ContainerRecord
from skiff.engine.containers.spec_user import secure_join
from skiff.errors import InvalidParameter, NotFound, System
from skiff.storage import apply_layer, changes, is_init_layer, mount_all, unmount_all, write_diff, write_tree

if TYPE_CHECKING:
    from skiff.engine.containers.service import ContainerService

__all__ = ["Archive", "secure_join", "go_file_mode"]

_CHUNK = 1 << 16
_EMPTY_TAR_DIFF_ID = "sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef"  # 1024 zero bytes
_T = TypeVar("_T")
_ETC_FILES = ("/etc/resolv.conf", "/etc/hostname", "/etc/hosts")


def go_file_mode(st: os.stat_result) -> int:
    """Go's os.FileMode bits for a stat result (what X-Docker-Container-Path-Stat carries)."""
    mode = st.st_mode & 0o777
    if st.st_mode & stat.S_ISUID:
        mode |= 1 << 23
    if st.st_mode & stat.S_ISGID:
        mode |= 1 << 22
    if st.st_mode & stat.S_ISVTX:
        mode |= 1 << 20
    fmt = stat.S_IFMT(st.st_mode)
    mode |= {stat.S_IFDIR: 1 << 31, stat.S_IFLNK: 1 << 27, stat.S_IFIFO: 1 << 25, stat.S_IFSOCK: 1 << 24,
             stat.S_IFBLK: 1 << 26, stat.S_IFCHR: (1 << 26) | (1 << 21)}.get(fmt, 0)
    return mode


def _live_binds(config_json: Path, rec: ContainerRecord) -> list[ViewMount] | None:
    """A running container's binds as its runtime made them (its bundle's config.json): the
    volumes, binds and /etc files; None if the spec cannot be read."""
    try:
        spec = json.loads(config_json.read_text())
    except (OSError, ValueError):
        return None
    wanted = {str(v.get("Destination")) for v in rec.mounts if v.get("Type") != "tmpfs"} | set(_ETC_FILES)
    out = []
    for m in spec.get("mounts") or []:
        opts = m.get("options") or []
        if m.get("destination") in wanted and (m.get("type") == "bind" or "bind" in opts or "rbind" in opts):
            out.append(ViewMount(str(m.get("source")), str(m["destination"]), "ro" not in opts))
    return out


class Archive:
    """Mixed into the container service."""

    @contextlib.contextmanager
    def _rootfs(self, rec: ContainerRecord) -> Iterator[str]:
        svc: ContainerService = self  # type: ignore[assignment]
        rootfs = svc.rootfs_of(rec.id)
        if os.path.ismount(rootfs):
            yield str(rootfs)
            return
        rootfs.mkdir(parents=True, exist_ok=True)
        mount_all(svc.snapshotter.mounts(rec.snapshot_key), str(rootfs))
        try:
            yield str(rootfs)
        finally:
            r = svc._cache.get(rec.id)
            if r is None or not r.running:
                with contextlib.suppress(OSError):
                    unmount_all(rootfs, lazy=True)

    @staticmethod
    def _stat(ref: str, root: str, path: str) -> tuple[str, dict[str, Any]]:
        """(host path, Docker's path stat) of ``path``; ``ref`` as the client named the container."""
        if not path:
            raise InvalidParameter("path cannot be empty")
        full = secure_join(root, path, follow_last=False)
        try:
            st = os.lstat(full)
        except FileNotFoundError:
            raise NotFound(f"Could not find the file {path} in container {ref}") from None
        link = ""
        if stat.S_ISLNK(st.st_mode):
            link = os.readlink(full)
            target = secure_join(root, path)
            with contextlib.suppress(OSError):
                st2 = os.stat(target)
                link = "/" + os.path.relpath(target, root) if target != root else "/"
                st = st2 if path.endswith("/") else st
        mtime = datetime.fromtimestamp(st.st_mtime, UTC).isoformat().replace("+00:00", "Z")
        name = os.path.basename(path.rstrip("/")) or "/"
        return full, {"name": name, "size": st.st_size, "mode": go_file_mode(st), "mtime": mtime,
                      "linkTarget": link}

    async def _in_view(self, rec: ContainerRecord, fn: Callable[[str], _T]) -> _T:
        """``fn(root)`` over the container's filesystem as the container sees it (volumes and binds
        included), under the container's lock (as moby: no start or rm half way through)."""
        svc: ContainerService = self  # type: ignore[assignment]
        async with svc.lock(rec.id):
            rec = svc.get(rec.id)
            work = asyncio.ensure_future(asyncio.to_thread(self._view, rec, fn))
            try:
                return await asyncio.shield(work)
            except asyncio.CancelledError:  # the client went away: the lock is held until the view is gone
                with contextlib.suppress(BaseException):
                    await work
                raise

    def _view(self, rec: ContainerRecord, fn: Callable[[str], _T]) -> _T:
        svc: ContainerService = self  # type: ignore[assignment]
        rootfs = svc.rootfs_of(rec.id)
        rootfs.mkdir(parents=True, exist_ok=True)
        running = rec.running
        live = _live_binds(rootfs.parent / "config.json", rec) if running else None

        def prepare(root: str) -> list[ViewMount]:
            if live is not None:
                return live
            return self._resolved_binds(rec)
        # a running container's volumes are mounted already; its view still says so, as moby's does
        vols = [v for v in rec.mounts if v.get("Type") == "volume" and v.get("Name")] if live is not None else []
        for v in vols:
            svc.events.publish("volume", "mount", v["Name"], {
                "driver": v.get("Driver") or "local", "container": rec.id, "destination": v["Destination"],
                "read/write": "true" if v.get("RW", True) else "false", "propagation": v.get("Propagation") or ""})
        try:
            return in_private_view(str(rootfs), svc.snapshotter.mounts(rec.snapshot_key), prepare, fn)
        finally:
            if live is None and not rec.running:  # volumes mounted for this view only
                svc._release_volumes(rec)
            for v in vols:
                svc.events.publish("volume", "unmount", v["Name"], {"driver": v.get("Driver") or "local",
                                                                    "container": rec.id})

    def _resolved_binds(self, rec: ContainerRecord) -> list[ViewMount]:
        """A container that is not running: its mounts resolved as its start would (volumes
        mounted, copied up), then the /etc files of its network (moby's setupMounts)."""
        from skiff.engine.containers.spec import parse_create

        svc: ContainerService = self  # type: ignore[assignment]
        _cfg, host = parse_create({**rec.config, "HostConfig": rec.host_config})
        out = []
        for rm in svc._resolve_mounts(rec, host):
            s = rm.spec
            if s.type == "tmpfs":
                continue
            src = os.path.join(rm.host_path, s.volume_subpath) if s.volume_subpath and rm.host_path \
                else rm.host_path or s.source
            out.append(ViewMount(src, s.target, not s.read_only))
        taken = {m.destination for m in out} | {str(v.get("Destination")) for v in rec.mounts}
        etc = svc.etc_paths(rec)
        for dst, key in zip(_ETC_FILES, ("resolv", "hostname", "hosts"), strict=True):
            if dst not in taken and os.path.isfile(etc[key]):
                out.append(ViewMount(etc[key], dst, not rec.host_config.get("ReadonlyRootfs")))
        return out

    async def stat_path(self, ref: str, path: str) -> dict[str, Any]:
        svc: ContainerService = self  # type: ignore[assignment]
        rec = svc.get(ref)
        return await self._in_view(rec, lambda root: self._stat(ref, root, path)[1])

    async def get_archive(self, ref: str, path: str) -> tuple[dict[str, Any], AsyncIterator[bytes]]:
        svc: ContainerService = self  # type: ignore[assignment]
        rec = svc.get(ref)
        spool = tempfile.TemporaryFile()  # noqa: SIM115 - closed by the generator

        def work(root: str) -> dict[str, Any]:
            full, st = self._stat(ref, root, path)
            if path.endswith(("/", "/.")):
                full = secure_join(root, path)
            base = os.path.basename(path.rstrip("/")) if not path.endswith("/.") else "."
            if base in ("", "/"):
                base = "."
            with tarfile.open(fileobj=spool, mode="w", format=tarfile.PAX_FORMAT) as tf:
                tf.add(full, arcname=base, recursive=True)
            return st
        try:
            st = await self._in_view(rec, work)
            spool.seek(0)
        except BaseException:
            spool.close()
            raise
        svc.publish(rec, "archive-path")

        async def chunks() -> AsyncIterator[bytes]:
            try:
                while True:
                    data = await asyncio.to_thread(spool.read, _CHUNK)
                    if not data:
                        return
                    yield data
            finally:
                spool.close()
        return st, chunks()

    async def put_archive(self, ref: str, path: str, body: AsyncIterator[bytes], no_overwrite_dir_non_dir: bool,
                          copy_uid_gid: bool) -> None:
        svc: ContainerService = self  # type: ignore[assignment]
        rec = svc.get(ref)
        spool = tempfile.TemporaryFile()  # noqa: SIM115
        try:
            async for chunk in body:
                await asyncio.to_thread(spool.write, chunk)
            spool.seek(0)
            await self._in_view(rec, lambda root: self._extract(ref, rec, root, path, spool))
        finally:
            spool.close()
        svc.publish(rec, "extract-to-dir")

    @staticmethod
    def _extract(ref: str, rec: ContainerRecord, root: str, path: str, stream: BinaryIO) -> None:
        dest = secure_join(root, path)
        if not os.path.exists(dest):
            raise NotFound(f"Could not find the file {path} in container {ref}")
        if not os.path.isdir(dest):
            raise InvalidParameter("extraction point is not a directory")
        in_container = "/" + os.path.relpath(dest, root) if dest != root else "/"
        flag_tmpfs = rec.host_config.get("Tmpfs") or {}  # --tmpfs: not one of moby's MountPoints
        writable = writable_mount_for(in_container, [
            (str(v["Destination"]), bool(v.get("RW", True))) for v in rec.mounts
            if v.get("Destination") and not (v.get("Type") == "tmpfs" and v["Destination"] in flag_tmpfs)])
        if writable is False:
            raise InvalidParameter("mounted volume is marked read-only")
        if writable is None and rec.host_config.get("ReadonlyRootfs"):
            raise InvalidParameter("container rootfs is marked read-only")
        try:
            apply_layer(dest, stream, overlay_whiteouts=False)
        except OSError as e:  # e.g. replacing a file bind-mounted in the container: moby's Go error text
            name = e.filename if isinstance(e.filename, str) else ""
            where = os.path.join(in_container, name) if name and not name.startswith("/") else in_container
            msg = (e.strerror or str(e)).lower()
            raise System(f"unlinkat {where}: {msg}" if e.errno == errno.EBUSY else f"{where}: {msg}") from None

    def export(self, ref: str) -> AsyncIterator[bytes]:
        svc: ContainerService = self  # type: ignore[assignment]
        rec = svc.get(ref)

        async def gen() -> AsyncIterator[bytes]:
            spool = tempfile.TemporaryFile()  # noqa: SIM115

            def work() -> None:
                with self._rootfs(rec) as root:
                    write_tree(root, spool)
                spool.seek(0)
            try:
                await asyncio.to_thread(work)
                svc.publish(rec, "export")
                while True:
                    data = await asyncio.to_thread(spool.read, _CHUNK)
                    if not data:
                        return
                    yield data
            finally:
                spool.close()
        return gen()

    async def changes(self, ref: str) -> list[dict[str, Any]]:
        svc: ContainerService = self  # type: ignore[assignment]
        rec = svc.get(ref)
        dirs = svc.snapshotter.layer_dirs(rec.snapshot_key)  # type: ignore[attr-defined]
        ch = await asyncio.to_thread(changes, dirs)
        # Containers made before init layers have their mount points in their own layer: hide those.
        # Since, the layer holds only what the container did, shown as is (Docker: rm /.dockerenv
        # is "D /.dockerenv").
        legacy = not is_init_layer(svc.snapshotter.stat(rec.snapshot_key).parent)
        skip = {"/etc/hostname", "/etc/hosts", "/etc/resolv.conf", "/dev", "/proc", "/sys", "/.dockerenv"}
        kept = [(str(c.path), int(c.kind)) for c in ch
                if not (legacy and (str(c.path) in skip or str(c.path).startswith(("/dev/", "/proc/", "/sys/"))))]
        if legacy and not any(p.startswith("/etc/") for p, _ in kept):  # /etc changed by our files only
            kept = [(p, k) for p, k in kept if p != "/etc"]
        return [{"Path": p, "Kind": k} for p, k in kept]

    async def commit(self, ref: str, *, repo: str, tag: str, comment: str, author: str, pause: bool,
                     changes: list[str], config: dict[str, Any] | None) -> str:
        from skiff.engine.images import parse_changes
        from skiff.oci.image_spec import ContainerConfig as ImgContainerConfig
        from skiff.oci.image_spec import History

        svc: ContainerService = self  # type: ignore[assignment]
        rec = svc.get(ref)
        images: Any = svc.images
        base = images.config_of(images.resolve(rec.image_id))
        c = rec.config
        merged = {"User": c.get("User") or "", "Env": c.get("Env") or [], "Cmd": c.get("Cmd"),
                  "Entrypoint": c.get("Entrypoint"), "WorkingDir": c.get("WorkingDir") or "",
                  "Labels": c.get("Labels") or {}, "ExposedPorts": c.get("ExposedPorts") or {},
                  "Volumes": c.get("Volumes") or {}, "StopSignal": c.get("StopSignal") or "",
                  "Healthcheck": c.get("Healthcheck")}
        if config:
            merged.update({k: v for k, v in config.items() if v not in (None, "", [], {})})
        ccfg = ImgContainerConfig.from_json({k: v for k, v in merged.items() if v is not None})
        if changes:
            ccfg = parse_changes(changes, ccfg)
        paused_here = False
        if pause and rec.status == "running":
            await svc.pause(rec.id)
            paused_here = True
        try:
            spool = tempfile.TemporaryFile()  # noqa: SIM115
            dirs = svc.snapshotter.layer_dirs(rec.snapshot_key)  # type: ignore[attr-defined]
            written = await asyncio.to_thread(write_diff, dirs, spool)
        finally:
            if paused_here:
                with contextlib.suppress(Exception):
                    await svc.unpause(rec.id)
        spool.seek(0)
        refs = []
        if repo:
            refs.append(f"{repo}:{tag or 'latest'}")
        created = datetime.now(UTC).isoformat().replace("+00:00", "Z")
        cmd = " ".join([rec.path, *rec.args])
        hist = History(created=created, created_by=cmd, author=author, comment=comment)
        cfg = base.with_changes(config=ccfg, author=author, comment=comment, created=created)
        # no change at all (a fresh container): no layer, an empty_layer history entry (moby's
        # NewChildImage skips the empty tar's diff ID)
        layer = None if written.diff_id == _EMPTY_TAR_DIFF_ID else spool
        try:
            img = await asyncio.to_thread(images.commit, cfg, layer, history=hist, refs=refs,
                                          parent=rec.image_id)
        finally:
            spool.close()
        iid = str(img.id)
        svc.publish(rec, "commit", comment=comment, imageID=iid, imageRef=refs[0] if refs else "")
        return iid
