"""RUN: the command line (shell form, exec form, heredocs), build args, mounts, the container.

The history line is the classic builder's: the command joined by spaces, prefixed with
``|<n> K=V ...`` when build args are in scope (proxy args only when declared). Secrets and cache
mounts never enter it, nor a layer: mount points that appeared for the run are removed before the
commit.
"""

from __future__ import annotations

import os
import posixpath
from pathlib import Path
from typing import TYPE_CHECKING

from skiff.build.backend import RunMount, RunSpec
from skiff.build.copy import Source, hash_source, scoped_path
from skiff.build.flags import FlagError, Mount
from skiff.build.instructions import RunInstruction
from skiff.build.options import BuildError
from skiff.build.parser import chomp_heredoc_content, parse_heredoc
from skiff.errors import InvalidParameter

if TYPE_CHECKING:
    from skiff.build.steps import StepRunner

__all__ = ["run_step"]


def _command(runner: StepRunner, inst: RunInstruction) -> tuple[tuple[str, ...], list[RunMount]]:
    """The args to run (BuildKit's heredoc rules) and any mount a heredoc script needs."""
    assert runner.state is not None
    shell = runner.state.shell
    args = inst.cmd_line
    mounts: list[RunMount] = []
    if inst.files:
        if len(args) != 1 or not inst.prepend_shell:
            raise InvalidParameter(f"parsing produced an invalid run command: {list(args)}")
        doc = parse_heredoc(args[0])
        if doc is not None:
            data = inst.files[0].content
            if inst.files[0].chomp:
                data = chomp_heredoc_content(data)
            if data.startswith("#!"):
                d = runner.tmpdir()
                script = d / inst.files[0].name
                script.write_text(data)
                os.chmod(script, 0o755)
                mounts.append(RunMount("bind", "/dev/pipes", source=d, readonly=True))
                return (posixpath.join("/dev/pipes", inst.files[0].name),), mounts
            return (*shell, data), mounts
        text = args[0]
        for f in inst.files:
            text += "\n" + f.content + f.name
        return (*shell, text), mounts
    if inst.prepend_shell:
        return (*shell, *args), mounts
    return args, mounts


def _resolve_mount(runner: StepRunner, m: Mount, workdir: str) -> tuple[RunMount | None, str | None]:
    """A parsed --mount -> a concrete RunMount (and, for ``env=`` secrets, an env entry)."""
    target = m.target
    if target and not target.startswith("/"):
        target = posixpath.join(workdir or "/", target)
    if m.type == "bind":
        root = runner.view_of(runner.source_image(m.from_).id).rootfs if m.from_ else runner.context_root
        src = scoped_path(root, m.source or "/")
        if not os.path.lexists(src):
            raise InvalidParameter(
                f'failed to compute cache key: "/{(m.source or "").lstrip("/")}": not found'
            )
        if not target:
            raise InvalidParameter("mount target is required")
        return RunMount("bind", target, source=src, readonly=m.readonly), None
    if m.type == "cache":
        if not target:
            raise InvalidParameter("mount target is required")
        cache_id = m.cache_id or target
        path = runner.backend.cache_mount_dir(cache_id)
        if m.uid is not None or m.gid is not None or m.mode is not None:
            if m.mode is not None:
                os.chmod(path, m.mode)
            if os.geteuid() == 0:
                os.chown(path, m.uid if m.uid is not None else -1, m.gid if m.gid is not None else -1)
        opts = ("sharing=" + (m.sharing or "shared"),)
        return RunMount("cache", target, source=path, readonly=m.readonly, options=opts), None
    if m.type == "tmpfs":
        if not target:
            raise InvalidParameter("mount target is required")
        return RunMount("tmpfs", target, size=m.size_limit), None
    if m.type == "secret":
        secret_id = m.cache_id or posixpath.basename(target)
        data = runner.options.secrets.get(secret_id)
        if data is None:
            if m.required:
                raise InvalidParameter(f"secret {secret_id}: not found")
            return None, None
        env_entry = None
        if m.env:
            env_entry = f"{m.env}={data.decode('utf-8', 'replace')}"
            if not m.target:
                return None, env_entry
        d = runner.tmpdir()
        f = d / "secret"
        f.write_bytes(data)
        os.chmod(f, m.mode if m.mode is not None else 0o400)
        if os.geteuid() == 0:
            os.chown(f, m.uid or 0, m.gid or 0)
        target = target or f"/run/secrets/{secret_id}"
        return RunMount("secret", target, source=f, readonly=True), env_entry
    raise InvalidParameter(f'unsupported mount type "{m.type}"')


def _missing_chain(rootfs: Path, target: str) -> list[Path]:
    """The mount target and its parents that do not exist yet (to remove after the run)."""
    chain = []
    p = scoped_path(rootfs, target)
    while not os.path.lexists(p) and rootfs in p.parents:
        chain.append(p)
        p = p.parent
    return chain


def _remove_mountpoints(chain: list[Path]) -> None:
    for p in chain:
        try:
            if p.is_dir() and not p.is_symlink():
                p.rmdir()
            elif p.is_file() and p.stat().st_size == 0:
                p.unlink()
        except OSError:
            return


def run_step(runner: StepRunner, inst: RunInstruction) -> None:
    state = runner.state
    assert state is not None
    args, script_mounts = _command(runner, inst)
    build_env = state.args.filter_allowed(state.config.env)
    shown = sorted(e for e in build_env if state.args.shown_in_history(e.partition("=")[0]))
    save_cmd = ([f"|{len(shown)}", *shown] if build_env else []) + list(args)
    created_by = " ".join(save_cmd)
    expand = state.expander()
    try:
        mounts = inst.mounts(expand)
    except FlagError as e:
        raise InvalidParameter(str(e)) from None
    network = inst.network if inst.network != "default" else runner.options.network_mode
    extra = [f"network={inst.network}", f"security={inst.security}"]
    for m in mounts:
        extra.append(f"mount={m!r}")
        if m.type == "bind":  # what a bind mount shows is an input, as in BuildKit's cache keys
            if m.from_:
                extra.append(f"from={runner.source_image(m.from_).id}")
            else:
                src = scoped_path(runner.context_root, m.source or "/")
                if os.path.lexists(src):
                    extra.append(hash_source(Source(m.source or ".", src)))
    key = runner._key(created_by, *extra)
    if runner._probe(key, created_by):
        return
    workdir = state.config.working_dir or "/"
    env = list(state.config.env) + build_env
    run_mounts = list(script_mounts)
    for m in mounts:
        rm, env_entry = _resolve_mount(runner, m, workdir)
        if rm is not None:
            run_mounts.append(rm)
        if env_entry is not None:
            env.append(env_entry)
    cid = runner._container_id()
    runner.say(f" ---> Running in {cid[:12]}\n")
    ws = runner.backend.prepare(state.image_id)
    try:
        chains = [_missing_chain(ws.rootfs, m.target) for m in run_mounts]
        spec = RunSpec(
            container_id=cid,
            args=tuple(args),
            env=tuple(env),
            user=state.config.user,
            workdir=workdir,
            network=network,
            mounts=tuple(run_mounts),
            extra_hosts=runner.options.extra_hosts,
            insecure=inst.security == "insecure",
            resources=runner.options.resources,
        )
        locks = [
            runner.r.builder.cache_lock(str(m.source)) for m in run_mounts if "sharing=locked" in m.options
        ]
        for lock in locks:
            lock.acquire()
        try:
            code = runner.backend.run(ws, spec, lambda b: runner.say(b.decode("utf-8", "replace")))
        finally:
            for lock in reversed(locks):
                lock.release()
        for chain in chains:
            _remove_mountpoints(chain)
        if code != 0:
            raise BuildError(f"The command '{' '.join(args)}' returned a non-zero code: {code}", code)
        runner._commit(key, created_by, ws, cid)
    finally:
        runner.backend.release(ws)
    runner.say(f" ---> Removed intermediate container {cid[:12]}\n")
