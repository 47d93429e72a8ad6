"""The per-container monitor (Skiff's conmon / containerd-shim).

One small process per container, detached from the daemon: it runs the OCI runtime, holds the
container's stdio or pty, writes the log driver, serves attach/resize/kill/wait on a unix socket and
records the exit status crash-safely, so containers outlive a daemon restart.

- :mod:`skiff.monitor.protocol`: options, exit record, the framed wire protocol (documented there).
- :mod:`skiff.monitor.spawn`: ``spawn_monitor(opts) -> MonitorHandle``, ``find_monitors(root)``.
- :mod:`skiff.monitor.client`: ``MonitorClient(socket_path)``; :mod:`skiff.monitor.aclient`: its asyncio twin.
- :mod:`skiff.monitor.logdrivers` / :mod:`skiff.monitor.logreader`: json-file, local, none.
- :mod:`skiff.monitor.server`: the monitor process itself; :mod:`skiff.monitor.stdio`: runtime calls, stdio.

This package imports nothing heavy on purpose: the monitor's start-up and RSS are per container.
"""
