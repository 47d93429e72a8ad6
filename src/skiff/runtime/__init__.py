"""Skiff's OCI runtime: a library plus ``skiff-runtime``, runc's command line.

Layout (one job per module):
    cli/            one module per command, dispatched lazily by cli/main.py (COMMANDS)
    specconv.py     the only reader of a bundle's config.json -> frozen ``config.Config``
    container.py    a container as later commands see it: ``load(root, id)``, live status,
                    the state machine (``transition(op)`` raises InvalidState, a Conflict)
    state.py        <root>/<id>/state.json, written atomically (temp + fsync + rename)
    create.py       create/start: fork the init child, uid/gid maps, cgroup, hooks, exec fifo
    init.py         the child: namespaces, rootfs.py (mounts, devices, pivot_root, masks),
                    console, then execute.py (rlimits, caps, user, no_new_privs, seccomp, execve)
    setns_exec.py   exec: join the namespaces and cgroup of a live container
    hooks.py, sync.py (parent <-> child pipes), tty.py (foreground pty), wait.py, frozen.py
    cgroups/, seccomp.py, specconv_resources.py: cgroup managers and seccomp (their own owners)

Start-up cost is part of the design: the launcher runs Python with -I -S, nothing heavy is
imported before the fork, and parent and child work in parallel after it (see create.py).

Interfaces for other areas: ``skiff.runtime.container.load(root, id) -> Container``;
``skiff.runtime.create.create(CreateOptions) -> Container`` and ``start(Container)``;
``skiff.runtime.setns_exec.exec_in(Container, ExecOptions) -> int``; the CLI itself.
"""
