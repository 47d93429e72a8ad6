"""Container services of the engine; ``spec`` turns a create config into an OCI runtime spec.

One service, :class:`service.ContainerService`, made of small mixins over one record table:

- ``record``: the durable ``ContainerRecord`` (state DB table ``containers``) and its state machine.
- ``service``: create (name rules, image, snapshot, volume references, /etc files), lookups,
  list/inspect (``views``: Docker's JSON and Status texts), rename, remove (record first, files in
  the background, orphans swept at reconcile), prune, info/df sources.
- ``lifecycle``: start (mount rootfs, network hook, spec, monitor via the forker, pending attaches,
  ``<runtime> start``), the exit watcher (die events, waiters, restart policy with Docker's
  back-off, AutoRemove), stop/kill/restart/pause/update/top, wait, reconcile after a restart.
- ``io``: attach sessions (hijacked stream <-> monitor, detach keys) and log reading.
- ``exec``: ``ExecManager`` (exec records, run through the monitor; kept in the state DB by
  ``exec_store``, so they survive a daemon restart).
- ``health``: healthchecks as execs; ``stats``: Docker's stats JSON from cgroup v1/v2;
  ``archive``: cp/export/diff/commit with paths resolved inside the rootfs.
- ``seams``: the Protocols it needs from images (``ImageProvider``), networks (``NetworkHook``)
  and volumes (``VolumeBackend``); daemon.py passes ``engine.network_hook``/``engine.volume_backend``.

The API side is ``skiff.api.containers`` / ``skiff.api.exec``; tests are in
tests/integration/containers (a busybox daemon from tests/support/images.py).
"""
