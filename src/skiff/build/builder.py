"""The executor: a Dockerfile and a context in, an image and the classic builder's stream out.

``Builder.build`` parses (errors raised before any output, so the API can answer 400), resolves
the stage graph, runs the needed stages (independent ones in parallel, output kept in Dockerfile
order), and writes Docker's JSON messages through ``emit``: ``{"stream": "Step 1/5 : FROM x\\n"}``,
``{"stream": " ---> 3f2a...\\n"}``, ``{"aux": {"ID": "sha256:..."}}``, "Successfully built/tagged".
Tags are applied only when every step succeeded, so a failed build leaves nothing tagged.
"""

from __future__ import annotations

import os
import queue
import secrets as _secrets
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from skiff.build.backend import BuildBackend, Image, Workspace
from skiff.build.buildargs import BuildArgs, host_platform, platform_args
from skiff.build.cache import CacheStore, cache_key
from skiff.build.context import BuildContext
from skiff.build.dispatch import DEFAULT_PATH, StageState, dispatch, expand_instruction
from skiff.build.instructions import (
    ArgInstruction,
    Instruction,
    KeyValue,
    LabelInstruction,
    Stage,
    parse_instruction,
    parse_stages,
)
from skiff.build.parser import parse
from skiff.build.stages import StageGraph, build_graph
from skiff.build.words import Env, ShellLex
from skiff.errors import InvalidParameter, SkiffError, System
from skiff.oci.image_spec import History, ImageConfig, parse_platform

__all__ = [
    "BuildError",
    "BuildOptions",
    "BuildResult",
    "BuildStream",
    "Builder",
    "StepRunner",
    "error_message",
]

Emit = Callable[[Mapping[str, Any]], None]


class BuildError(System):
    """A step failed after the stream started. ``code`` is the exit code for a failed RUN."""

    def __init__(self, message: str, code: int = 0) -> None:
        super().__init__(message)
        self.code = code


def error_message(exc: BaseException) -> dict[str, Any]:
    """streamformatter.FormatError: the JSON message that ends a failed build's stream."""
    msg = str(exc)
    detail: dict[str, Any] = {"message": msg}
    code = getattr(exc, "code", 0)
    if code:
        detail = {"code": code, "message": msg}
    return {"errorDetail": detail, "error": msg}


@dataclass(frozen=True)
class BuildOptions:
    """POST /build's parameters the builder uses (parsed by the API, or set by the CLI path)."""

    dockerfile: str = "Dockerfile"
    tags: tuple[str, ...] = ()
    build_args: Mapping[str, str | None] = field(default_factory=dict)
    labels: Mapping[str, str] = field(default_factory=dict)
    target: str = ""
    no_cache: bool = False
    pull: bool = False
    cache_from: tuple[str, ...] = ()
    network_mode: str = "default"
    platform: str = ""
    quiet: bool = False
    secrets: Mapping[str, bytes] = field(default_factory=dict)  # --secret id=..: contents
    extra_hosts: tuple[str, ...] = ()
    resources: Mapping[str, Any] = field(default_factory=dict)
    parallel: bool = True
    build_id: str = ""  # POST /build's buildid, for POST /build/cancel


@dataclass(frozen=True)
class BuildResult:
    image_id: str
    tags: tuple[str, ...] = ()
    stage_images: Mapping[int, str] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def short_id(image_id: str) -> str:
    return image_id.removeprefix("sha256:")[:12]


class _Output:
    """Keeps stage output in Dockerfile order while stages run in parallel."""

    def __init__(self, emit: Emit, quiet: bool) -> None:
        self._emit = emit
        self.quiet = quiet
        self.started = False
        self.held: list[Mapping[str, Any]] = []  # quiet mode: flushed only on failure
        self._lock = threading.RLock()
        self._order: list[int] = []
        self._done: set[int] = set()
        self._queues: dict[int, list[Mapping[str, Any]]] = {}
        self.cancelled = threading.Event()

    def send(self, msg: Mapping[str, Any]) -> None:
        with self._lock:
            self.started = True
            if self.quiet and "stream" in msg:
                self.held.append(msg)
                return
            self._emit(msg)

    def set_order(self, order: list[int]) -> None:
        self._order = list(order)

    def for_stage(self, index: int) -> Callable[[Mapping[str, Any]], None]:
        def send(msg: Mapping[str, Any]) -> None:
            with self._lock:
                if self._current() == index:
                    self.send(msg)
                else:
                    self._queues.setdefault(index, []).append(msg)

        return send

    def _current(self) -> int | None:
        for i in self._order:
            if i not in self._done:
                return i
        return None

    def stage_done(self, index: int) -> None:
        with self._lock:
            self._done.add(index)
            for i in self._order:  # flush, in order, every stage whose predecessors are all done
                for msg in self._queues.pop(i, []):
                    self.send(msg)
                if i not in self._done:
                    break

    def flush_all(self) -> None:
        with self._lock:
            for i in self._order:
                for msg in self._queues.pop(i, []):
                    self.send(msg)


class Builder:
    """Builds images through a BuildBackend; one Builder may run several builds at once."""

    def __init__(self, backend: BuildBackend, cache: CacheStore, *, platform: str = "") -> None:
        self.backend = backend
        self.cache = cache
        self.host_platform = platform or host_platform()
        self._cache_locks: dict[str, threading.Lock] = {}
        self._locks_lock = threading.Lock()
        self._cancels: dict[str, threading.Event] = {}

    def cancel(self, build_id: str) -> bool:
        """POST /build/cancel: stop the build between steps (the engine kills a running RUN by its
        RunSpec.container_id). Returns whether such a build is running."""
        with self._locks_lock:
            event = self._cancels.get(build_id)
        if event is None:
            return False
        event.set()
        return True

    def cache_lock(self, cache_id: str) -> threading.Lock:
        with self._locks_lock:
            return self._cache_locks.setdefault(cache_id, threading.Lock())

    def build(self, context: BuildContext, options: BuildOptions, emit: Emit) -> BuildResult:
        """Run one build, sending Docker's JSON messages to ``emit``.

        Errors are raised, never emitted: parse errors before any message (the API answers 400),
        later ones after the stream started (the API ends it with ``error_message(exc)``, moby's
        rule). In quiet mode the held step output is flushed first, as dockerd does on failure."""
        out = _Output(emit, options.quiet)
        cancelled = threading.Event()
        if options.build_id:
            with self._locks_lock:
                self._cancels[options.build_id] = cancelled
        out.cancelled = cancelled
        try:
            return self._build(context, options, out)
        except BaseException:
            if out.started:
                out.flush_all()
                if out.quiet:
                    for msg in out.held:
                        emit(msg)
            raise
        finally:
            if options.build_id:
                with self._locks_lock:
                    self._cancels.pop(options.build_id, None)

    def stream(self, context: BuildContext, options: BuildOptions) -> BuildStream:
        """The build as an iterator of messages (run in a worker thread); see BuildStream."""
        return BuildStream(self, context, options)

    def _build(self, context: BuildContext, options: BuildOptions, out: _Output) -> BuildResult:
        if options.platform:
            want = parse_platform(options.platform)
            host = parse_platform(self.host_platform)
            if (want.os, want.architecture) != (host.os, host.architecture):
                raise InvalidParameter(
                    f'platform "{options.platform}" is not supported: this daemon builds for '
                    f"{self.host_platform} and cannot run {want.architecture} binaries"
                )
        dockerfile = parse(context.dockerfile, context.dockerfile_name)
        stages, metas = parse_stages(dockerfile)
        if not stages:
            raise InvalidParameter("No image was generated. Is your Dockerfile empty?")
        lex = ShellLex(dockerfile.escape)
        args = BuildArgs(options.build_args)
        target_platform = options.platform or self.host_platform
        for k, v in platform_args(target_platform, self.host_platform).items():
            args.add_meta(k, v)
        meta_count = len(metas)
        for warning in dockerfile.warnings:
            out.send({"stream": f"[WARNING]: {warning}\n"})
        step_no = 1
        for meta in metas:
            env = Env(args.all_allowed())
            expanded = meta.expand(lambda w, env=env: lex.process_word(w, env))  # type: ignore[misc]
            for a in expanded.args:
                args.add_arg(a.key, a.value)
                args.add_meta(a.key, a.value)
        graph = build_graph(stages, options.target, lambda s: lex.process_word(s, Env(args.all_meta())))
        target_stage = graph.stages[graph.target]
        if options.labels:
            labels = tuple(KeyValue(k, v) for k, v in sorted(options.labels.items()))
            extra = tuple(
                LabelInstruction(original=f"LABEL {kv}", labels=(kv,), no_expand=True) for kv in labels
            )
            target_stage = replace(target_stage, commands=(*target_stage.commands, *extra))
            stages_list = list(graph.stages)
            stages_list[graph.target] = target_stage
            graph = replace(graph, stages=tuple(stages_list))
        # Step numbers are known up front: meta ARGs, then each needed stage's FROM and commands.
        total = meta_count + sum(1 + len(graph.stages[i].commands) for i in graph.needed)
        for meta in metas:
            out.send({"stream": f"Step {step_no}/{total} : {meta.original}\n"})
            step_no += 1
        numbers: dict[int, int] = {}
        for i in graph.needed:
            numbers[i] = step_no
            step_no += 1 + len(graph.stages[i].commands)
        out.set_order(list(graph.needed))
        results: dict[int, Image] = {}
        run = _Run(self, context, options, graph, lex, args, out, total, results)
        if options.parallel and any(len(level) > 1 for level in graph.levels):
            with ThreadPoolExecutor(max_workers=min(4, max(len(lv) for lv in graph.levels))) as pool:
                for level in graph.levels:
                    futures = [pool.submit(run.stage, i, numbers[i]) for i in level]
                    errors = []
                    for f in futures:
                        try:
                            f.result()
                        except BaseException as exc:
                            errors.append(exc)
                    if errors:
                        raise errors[0]
        else:
            for i in graph.needed:
                run.stage(i, numbers[i])
        unused = args.unused()
        warnings: list[str] = []
        if unused:
            w = f"[Warning] One or more build-args [{' '.join(unused)}] were not consumed"
            warnings.append(w)
            out.send({"stream": w + "\n"})
        final = results[graph.target]
        if not final.id:
            raise InvalidParameter("No image was generated. Is your Dockerfile empty?")
        out.send({"stream": f"Successfully built {short_id(final.id)}\n"})
        tagged = []
        for ref in options.tags:
            name = self.backend.tag(final.id, ref)
            tagged.append(name)
            out.send({"stream": f"Successfully tagged {name}\n"})
        if options.quiet:
            out._emit({"stream": final.id + "\n"})
        return BuildResult(
            image_id=final.id,
            tags=tuple(tagged),
            stage_images={i: img.id for i, img in results.items()},
            warnings=tuple(warnings),
        )


class BuildStream:
    """Iterate to get the build's messages as they come; the build's error is raised at the end.

    ``result`` holds the BuildResult once iteration finished without error. Fits the API's
    ``stream_messages`` (wrap with an async iterator over a thread, e.g. ``asyncio.to_thread``)."""

    _DONE = object()

    def __init__(self, builder: Builder, context: BuildContext, options: BuildOptions) -> None:
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=1024)
        self.result: BuildResult | None = None
        self._error: BaseException | None = None

        def work() -> None:
            try:
                self.result = builder.build(context, options, self._queue.put)
            except BaseException as exc:  # handed to the consumer
                self._error = exc
            finally:
                self._queue.put(self._DONE)

        self._thread = threading.Thread(target=work, name="skiff-build", daemon=True)
        self._thread.start()

    def __iter__(self) -> Iterator[Mapping[str, Any]]:
        while True:
            msg = self._queue.get()
            if msg is self._DONE:
                break
            yield msg
        self._thread.join()
        if self._error is not None:
            raise self._error


class _Run:
    """One build's shared state for its stages."""

    def __init__(
        self,
        builder: Builder,
        context: BuildContext,
        options: BuildOptions,
        graph: StageGraph,
        lex: ShellLex,
        args: BuildArgs,
        out: _Output,
        total: int,
        results: dict[int, Image],
    ) -> None:
        self.builder = builder
        self.backend = builder.backend
        self.context = context
        self.options = options
        self.graph = graph
        self.lex = lex
        self.args = args
        self.out = out
        self.total = total
        self.results = results
        self.lock = threading.Lock()
        self.cache_sources: list[Image] = []
        for ref in options.cache_from:
            try:
                self.cache_sources.append(
                    self.backend.resolve_image(
                        ref, platform=options.platform, pull=False, progress=lambda m: None
                    )
                )
            except SkiffError:
                continue  # dockerd skips cache sources it cannot find

    def stage(self, index: int, first_step: int) -> None:
        stage = self.graph.stages[index]
        send = self.out.for_stage(index)
        runner = StepRunner(self, stage, send)
        try:
            runner.run_stage(first_step)
        finally:
            runner.close()
            self.out.stage_done(index)


class StepRunner:
    """Executes one stage's steps: the cache probe, workspaces, RUN, COPY/ADD, commits, output."""

    def __init__(self, run: _Run, stage: Stage, send: Callable[[Mapping[str, Any]], None]) -> None:
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
            self.dispatch(inst)
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
        from skiff.oci.image_spec import canonical_json

        assert self.state is not None
        cfg = self._image_config()
        sig = canonical_json({"config": cfg.config.to_json(), "author": cfg.author}).decode()
        return cache_key(self.state.image_id, [created_by, sig, *extra])

    def _commit(self, key: str, created_by: str, ws: Workspace | None) -> None:
        assert self.state is not None
        cfg = self._image_config().with_changes(created=_now())
        history = History(
            created=cfg.created, created_by=created_by, author=cfg.author, empty_layer=ws is None
        )
        image = self.backend.commit(cfg, history, ws)
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
        self._commit(key, created_by, None)
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
            self._commit(key, created_by, ws)
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
        ws = self._views.get(image_id)
        if ws is None:
            ws = self.backend.view(image_id)
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
