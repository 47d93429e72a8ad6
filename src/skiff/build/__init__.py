"""skiff.build: Dockerfile -> image, with the classic builder's semantics and output.

Pipeline: ``parser`` (text -> nodes) -> ``instructions`` (typed, validated) -> ``stages`` (graph,
target, parallel levels) -> ``builder`` + ``dispatch`` (the executor) -> the engine, reached only
through ``backend.BuildBackend``. ``dockerignore`` is shared with the CLI (it imports only
``skiff.errors``), so this package's ``__init__`` imports nothing.

Entry points for the API / engine:
- ``query.options_from_query(request.query) -> BuildOptions`` (POST /build's parameters);
- ``context.extract_context(stream, dockerfile) -> BuildContext`` (POST /build's body; a sync
  file-like; ``close()`` it after the build);
- ``builder.Builder(backend, cache).build(context, options, emit) -> BuildResult``, or
  ``.stream(context, options)`` (an iterator of messages; raises the build's error at the end);
- ``Builder.cancel(build_id)`` (POST /build/cancel);
- ``cache.JsonCacheStore(<data-root>/buildcache)`` (``prune()`` for ``builder prune``);
- ``options.error_message(exc)`` when a failure must end a stream;
- for the CLI: ``dockerignore.write_build_context(dir, out, dockerfile)``, ``outputs.parse_output``,
  ``parser.error_context`` (BuildKit's located error snippet).
"""
