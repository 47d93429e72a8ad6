"""The executor: a Dockerfile and a context in, an image and the classic builder's stream out.

``Builder.build`` parses (errors raised before any output, so the API can answer 400), resolves
the stage graph, runs the needed stages (independent ones in parallel, output kept in Dockerfile
order), and writes Docker's JSON messages through ``emit``: ``{"stream": "Step 1/5 : FROM x\\n"}``,
``{"stream": " ---> 3f2a...\\n"}``, ``{"aux": {"ID": "sha256:..."}}``, "Successfully built/tagged".
Tags are applied only when every step succeeded, so a failed build leaves nothing tagged.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Any

from skiff.build.backend import BuildBackend, Image
from skiff.build.buildargs import BuildArgs, host_platform, platform_args
from skiff.build.cache import CacheStore
from skiff.build.context import BuildContext
from skiff.build.instructions import (
    KeyValue,
    LabelInstruction,
    parse_stages,
)
from skiff.build.options import BuildError, BuildOptions, BuildResult, error_message, short_id
from skiff.build.parser import parse
from skiff.build.stages import StageGraph, build_graph
from skiff.build.steps import StepRunner
from skiff.build.words import Env, ShellLex
from skiff.errors import InvalidParameter, SkiffError
from skiff.oci.image_spec import parse_platform

__all__ = [
    "BuildError",
    "BuildOptions",
    "BuildResult",
    "BuildStream",
    "Builder",
    "error_message",
]

Emit = Callable[[Mapping[str, Any]], None]


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
        if dockerfile.warnings:
            out.send(
                {"stream": "[WARNING]: Empty continuation lines will become errors in a future release.\n"}
            )
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
        run = BuildRun(self, context, options, graph, lex, args, out, total, results)
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
    ``stream_messages`` (wrap with an async iterator over a thread, e.g. ``asyncio.to_thread``).
    Leaving the loop early (client gone) or ``close()`` cancels the build at its next message."""

    _DONE = object()

    def __init__(self, builder: Builder, context: BuildContext, options: BuildOptions) -> None:
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=1024)
        self._closed = threading.Event()
        self.result: BuildResult | None = None
        self._error: BaseException | None = None

        def put(msg: Any) -> None:
            while not self._closed.is_set():
                try:
                    self._queue.put(msg, timeout=0.2)
                    return
                except queue.Full:
                    continue
            if msg is not self._DONE:
                raise BuildError("Build cancelled")

        def work() -> None:
            try:
                self.result = builder.build(context, options, put)
            except BaseException as exc:  # handed to the consumer
                self._error = exc
            finally:
                put(self._DONE)

        self._thread = threading.Thread(target=work, name="skiff-build", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._closed.set()

    def __iter__(self) -> Iterator[Mapping[str, Any]]:
        try:
            while True:
                msg = self._queue.get()
                if msg is self._DONE:
                    break
                yield msg
        finally:
            self.close()
        self._thread.join()
        if self._error is not None:
            raise self._error


class BuildRun:
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
