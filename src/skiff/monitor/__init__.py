"""The per-container monitor (Skiff's conmon / containerd-shim).

One small process per container, detached from the daemon: it runs the OCI runtime, holds the
container's stdio or pty, writes the log driver, serves attach/resize/kill/wait/exec on a unix socket
and records the exit status crash-safely, so containers outlive a daemon restart.

- :mod:`skiff.monitor.protocol`: options, exit record, the framed wire protocol (documented there).
- :mod:`skiff.monitor.forker`: the resident forker the daemon starts once (``start_forker``) and
  asks for monitors (``ForkerClient.spawn`` / ``aspawn``); it is their subreaper and reaps them.
- :mod:`skiff.monitor.spawn`: ``spawn_monitor(opts)`` (fork from the caller; tests, tools),
  ``find_monitors(root)`` after a restart.
- :mod:`skiff.monitor.client`: ``MonitorClient(socket_path)``; :mod:`skiff.monitor.aclient`: its asyncio twin.
- :mod:`skiff.monitor.logdrivers` / :mod:`skiff.monitor.logreader`: json-file, local, none; reading back.
- :mod:`skiff.monitor.server`: the monitor process itself; :mod:`skiff.monitor.stdio`: runtime calls, stdio.

How the engine drives a container (``docker run``):

1. create: ``spec = build_spec(...)`` (skiff.engine.containers.spec) -> ``<bundle>/config.json``;
   ``validate_log_config(LogConfig(type, opts))`` so a bad ``--log-opt`` fails at create.
2. start: ``h = await ForkerClient(exec_root/"forker.sock").aspawn(MonitorOptions(container_id,
   bundle, state_dir=exec_root/"containers"/id, runtime, runtime_args=("--root", ...), tty,
   open_stdin, stdin_once, log=LogConfig(...), log_path=data_root/"containers"/id/f"{id}-json.log",
   console_size=HostConfig.ConsoleSize, start=False))``. It returns once ``<runtime> create`` is done
   (``h.init_pid``) or raises ``MonitorStartError`` with the runtime's message (the docker CLI turns
   "no such file or directory"/"executable file not found" into 127, "permission denied" into 126).
   Attach clients that were waiting (``AsyncMonitorClient(h.socket_path).attach(...)``), then
   ``start()``: nothing the container writes is missed. ``start=True`` does both in one step.
3. running: ``signal(sig)`` for stop/kill (SIGKILL after the timeout is the engine's), ``resize(h, w)``,
   ``exec(id, exec_process(spec, ...), stdin, detach, console_size)`` for ``docker exec`` (with
   Skiff's runtime the monitor forks the process itself inside the container's pid namespace:
   ``inproc_exec``; an external runtime gets ``<runtime> exec --detach``); ``pause``/``update`` go
   straight to the runtime (same ``--root``).
4. exit: ``await wait()`` -> ``ExitStatus(exit_code (128+n for signals), signal, oom_killed,
   started_at_ns, finished_at_ns)``; the monitor has already run ``<runtime> delete``.
5. daemon restart: ``find_monitors(exec_root/"containers")`` -> ``MonitorInfo(alive, exit, options)``
   per container: reconnect with ``MonitorClient(info.socket_path)`` if alive, else use ``info.exit``.
   If a monitor is killed -9 its container runs on, adopted by the forker, which writes ``exit.json``
   (``error`` says so) and deletes it when it ends; while it runs nobody holds its stdio.
   Without a live monitor and without ``exit.json`` (the forker died too), ask ``<runtime> state``.
6. logs: ``LogFile(path, driver).entries(tail, since_ns, until_ns)`` then ``.follower().poll()``
   until the container has exited; ``format_time(ns, fixed=True)`` for ``--timestamps``.

This package imports nothing heavy on purpose: the monitor's start-up and RSS are per container
(forked from the forker: about 2 MB private memory each).
"""
