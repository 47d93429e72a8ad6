"""skiff.build: Dockerfile -> image, with the classic builder's semantics and output.

Pipeline: ``parser`` (text -> nodes) -> ``instructions`` (typed, validated) -> ``stages`` (graph,
target, parallel levels) -> ``builder`` + ``dispatch`` (the executor) -> the engine, reached only
through ``backend.BuildBackend``. ``dockerignore`` is shared with the CLI (it imports only
``skiff.errors``), so this package's ``__init__`` imports nothing.

Entry points for the API / engine:
- ``context.extract_context(stream, dockerfile) -> BuildContext`` (POST /build's body);
- ``builder.Builder(backend, cache).build(context, BuildOptions(...), emit) -> BuildResult``;
- ``cache.JsonCacheStore(<data-root>/buildcache)`` (``prune()`` for ``builder prune``);
- ``builder.error_message(exc)`` when a failure must end a stream.
"""
