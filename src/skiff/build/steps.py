"""One stage's steps: FROM (and ONBUILD triggers), the cache probe, commits and their output.

RUN and COPY/ADD live in ``runstep`` and ``copystep``; the instruction semantics in ``dispatch``.
"""

from __future__ import annotations

import os
import secrets as _secrets
import shutil
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from skiff.build.backend import Image, Workspace
from skiff.build.cache import cache_key
from skiff.build.dispatch import DEFAULT_PATH, StageState, dispatch, expand_instruction
from skiff.build.instructions import ArgInstruction, Instruction, Stage, parse_instruction
from skiff.build.options import BuildError, BuildOptions, now, short_id
from skiff.build.parser import parse
from skiff.build.words import Env
from skiff.errors import InvalidParameter, SkiffError
from skiff.oci.image_spec import History, ImageConfig, canonical_json

if TYPE_CHECKING:
    from skiff.build.builder import BuildRun

__all__ = ["StepRunner"]


class StepRunner:
    """Executes one stage's steps: the cache probe, workspaces, RUN, COPY/ADD, commits, output."""

    def __init__(self, run: BuildRun, stage: Stage, send: Callable[[Mapping[str, Any]], None]) -> None:
        self.r = run
        self.stage = stage
        self.send = send
        self.backend = run.backend
        self.state: StageState | None = None
        self._views: dict[str, Workspace] = {}
        self._tmpdirs: list[str] = []

    # ---- output --------------------------------------------------------------------------------

    def say(self, text: str) -> None:
        self.send({"stream": text})

    def close(self) -> None:
        for ws in self._views.values():
            if ws.image_id:
                self.backend.release(ws)
        self._views.clear()
        for d in self._tmpdirs:
            shutil.rmtree(d, ignore_errors=True)

    # ---- the stage -----------------------------------------------------------------------------

    def run_stage(self, step: int) -> None:
        st = self.stage
        self.say(f"Step {step}/{self.r.total} : {st.from_.original}\n")
        step += 1
        base_ref = self.r.graph.base[st.index]
        if base_ref.stage is not None:
            with self.r.lock:
                image = self.r.results[base_ref.stage]
        elif base_ref.image.lower() == "scratch":
            image = Image("", ImageConfig(architecture=self._arch(), os="linux"))
        else:
            platform = st.from_.platform
            if platform:
                platform = self.r.lex.process_word(platform, Env(self.r.args.all_meta()))
            image = self.backend.resolve_image(
                base_ref.image, platform=platform or self.r.options.platform, pull=self.r.options.pull,
                progress=self.send,
            )  # fmt: skip
        config = image.config.config
        if not any(e.startswith("PATH=") for e in config.env):
            config = replace(config, env=(*config.env, "PATH=" + DEFAULT_PATH))
        triggers = config.on_build
        config = replace(config, on_build=())
        self.state = StageState(
            index=st.index,
            name=st.name,
            image_id=image.id,
            image=image.config,
            config=config,
            args=self.r.args.for_stage(),
            lex=self.r.lex,
        )
        if triggers:
            self.say(f"# Executing {len(triggers)} build trigger{'s' if len(triggers) > 1 else ''}\n")
            for trigger in triggers:
                tdf = parse(trigger)
                if len(tdf.nodes) != 1:
                    raise InvalidParameter("onbuild trigger should be a single expression")
                inst = parse_instruction(tdf.nodes[0])
                self.dispatch(inst)
        self.say(f" ---> {short_id(self.state.image_id)}\n")
        for inst in st.commands:
            if self.r.out.cancelled.is_set():
                self.say("Build cancelled\n")
                raise BuildError("Build cancelled")
            self.say(f"Step {step}/{self.r.total} : {inst.original}\n")
            step += 1
            try:
                self.dispatch(inst)
            except SkiffError as exc:
                if getattr(exc, "line", None) is None:
                    exc.line = inst.line  # type: ignore[attr-defined]  # for error_context() in CLIs
                raise
            self.say(f" ---> {short_id(self.state.image_id)}\n")
        with self.r.lock:
            self.r.results[st.index] = Image(self.state.image_id, self._image_config())
        if self.state.image_id:
            self.send({"aux": {"ID": self.state.image_id}})

    def _arch(self) -> str:
        plat = self.r.options.platform or self.r.builder.host_platform
        return plat.split("/")[1] if "/" in plat else "amd64"

    def dispatch(self, inst: Instruction) -> None:
        assert self.state is not None
        if isinstance(inst, ArgInstruction) or hasattr(inst, "expand"):
            inst = expand_instruction(self.state, inst)
        dispatch(self.state, inst, self)

    # ---- commits and the cache -----------------------------------------------------------------

    def _image_config(self) -> ImageConfig:
        assert self.state is not None
        img = self.state.image
        author = self.state.extra.get("author", img.author)
        return img.with_changes(config=self.state.config, author=author)

    def _probe(self, key: str, created_by: str) -> bool:
        assert self.state is not None
        if self.r.options.no_cache:
            return False
        image: Image | None = None
        image_id = self.r.builder.cache.get(key)
        if image_id is not None:
            image = self.backend.get_image(image_id)
            if image is None:
                self.r.builder.cache.forget(key)
        if image is None and self.r.cache_sources:
            image = self._from_cache_sources(key, created_by)
        if image is None:
            return False
        self.say(" ---> Using cache\n")
        self.state.image_id = image.id
        self.state.image = image.config
        return True

    def _from_cache_sources(self, key: str, created_by: str) -> Image | None:
        """--cache-from, the classic way: an image whose history continues ours with this step."""
        assert self.state is not None
        parent = self.state.image
        n = len(parent.history)
        for src in self.r.cache_sources:
            hist, diffs = src.config.history, src.config.diff_ids
            if len(hist) <= n or len(diffs) < len(parent.diff_ids):
                continue
            if (
                tuple(hist[:n]) != tuple(parent.history)
                or tuple(diffs[: len(parent.diff_ids)]) != parent.diff_ids
            ):
                continue
            if hist[n].created_by != created_by:
                continue
            if len(hist) == n + 1:
                image: Image = src
            else:
                layers = sum(1 for h in hist[: n + 1] if not h.empty_layer)
                cfg = self._image_config().with_changes(
                    diff_ids=tuple(diffs[:layers]), created=hist[n].created
                )
                image = self.backend.commit(cfg, hist[n], None)
            self.r.builder.cache.put(key, image.id)
            self.r.cache_sources = [src]  # stay on one source, as dockerd does
            return image
        return None

    def _key(self, created_by: str, *extra: str) -> str:
        assert self.state is not None
        cfg = self._image_config()
        sig = canonical_json({"config": cfg.config.to_json(), "author": cfg.author}).decode()
        return cache_key(self.state.image_id, [created_by, sig, *extra])

    def _commit(self, key: str, created_by: str, ws: Workspace | None, container_id: str = "") -> None:
        assert self.state is not None
        cfg = self._image_config().with_changes(created=now())
        history = History(
            created=cfg.created, created_by=created_by, author=cfg.author, empty_layer=ws is None
        )
        image = self.backend.commit(cfg, history, ws, container_id)
        self.state.image_id = image.id
        self.state.image = image.config
        self.r.builder.cache.put(key, image.id)

    def _container_id(self) -> str:
        return _secrets.token_hex(32)

    def commit_meta(self, created_by: str) -> None:
        key = self._key(created_by)
        if self._probe(key, created_by):
            return
        cid = self._container_id()
        self.say(f" ---> Running in {cid[:12]}\n")
        self._commit(key, created_by, None, cid)
        self.say(f" ---> Removed intermediate container {cid[:12]}\n")

    def workdir(self, path: str, created_by: str) -> None:
        from skiff.build.copy import scoped_path

        key = self._key(created_by)
        if self._probe(key, created_by):
            return
        assert self.state is not None
        cid = self._container_id()
        self.say(f" ---> Running in {cid[:12]}\n")
        ws = self.backend.prepare(self.state.image_id)
        try:
            target = scoped_path(ws.rootfs, path)
            if not target.is_dir():
                created = []
                p = target
                while not p.exists() and ws.rootfs in p.parents:
                    created.append(p)
                    p = p.parent
                for d in reversed(created):
                    d.mkdir(mode=0o755)
                    os.chmod(d, 0o755)
            self._commit(key, created_by, ws, cid)
        finally:
            self.backend.release(ws)
        self.say(f" ---> Removed intermediate container {cid[:12]}\n")

    # ---- RUN, COPY / ADD live in their own modules ---------------------------------------------

    def run(self, inst: Any) -> None:
        from skiff.build.runstep import run_step

        run_step(self, inst)

    def copy(self, inst: Any) -> None:
        from skiff.build.copystep import copy_step

        copy_step(self, inst)

    def view_of(self, image_id: str) -> Workspace:
        """A read-only rootfs of an image; an empty dir for a stage that stayed ``scratch``."""
        ws = self._views.get(image_id)
        if ws is None:
            if image_id:
                ws = self.backend.view(image_id)
            else:
                ws = Workspace("scratch", self.tmpdir(), "", writable=False)
            self._views[image_id] = ws
        return ws

    def source_image(self, name: str) -> Image:
        """What ``--from=name`` names: an earlier stage's result, or an image."""
        ref = self.r.graph.copy_sources(self.stage.index).get(name)
        if ref is not None and ref.stage is not None:
            with self.r.lock:
                return self.r.results[ref.stage]
        return self.backend.resolve_image(
            name, platform=self.r.options.platform, pull=False, progress=self.send
        )

    def tmpdir(self) -> Path:
        d = tempfile.mkdtemp(prefix="skiff-step-")
        self._tmpdirs.append(d)
        return Path(d)

    @property
    def context_root(self) -> Path:
        return self.r.context.root

    @property
    def options(self) -> BuildOptions:
        return self.r.options
