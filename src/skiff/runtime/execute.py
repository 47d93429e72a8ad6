"""The last steps before execve, shared by init and exec (runc's finalizeNamespace + exec).

Order, as runc's standard_init: rlimits and oom_score_adj (while still privileged), umask, cwd,
default signal dispositions and an empty signal mask, bounding set, keepcaps + groups/gid/uid, E/P/I sets, ambient set, no_new_privs, seccomp, execve.
"""

from __future__ import annotations

import errno
import os
import stat

from skiff.runtime.config import Capabilities, Process

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["apply_rlimits", "set_oom_score_adj", "lookup_path", "prepare_env", "switch_user",
           "apply_caps", "exec_process", "mark_fds_cloexec", "close_stray_fds", "reset_signals"]


def apply_rlimits(proc: Process) -> None:
    if not proc.rlimits:
        return
    import resource

    for rl in proc.rlimits:
        try:
            resource.setrlimit(rl.resource, (rl.soft, rl.hard))
        except (OSError, ValueError) as exc:
            cur = resource.getrlimit(rl.resource)
            raise OSError(errno.EPERM, f"setrlimit {rl.name} soft={rl.soft} hard={rl.hard}: {exc} "
                          f"(current hard limit {cur[1]}; raising it needs CAP_SYS_RESOURCE, "
                          "which this process does not have)") from None


def set_oom_score_adj(value: int | None) -> None:
    if value is None:
        return
    try:
        with open("/proc/self/oom_score_adj", "w") as f:
            f.write(str(value))
    except OSError as exc:
        raise OSError(exc.errno, f"set oom_score_adj to {value}: {exc.strerror} (lowering it needs "
                      "CAP_SYS_RESOURCE)") from None


def _home(uid: int) -> str:
    try:
        with open("/etc/passwd") as f:
            for line in f:
                parts = line.rstrip("\n").split(":")
                if len(parts) >= 6 and parts[2] == str(uid):
                    return parts[5] or "/"
    except OSError:
        pass
    return "/"


def prepare_env(proc: Process) -> dict[str, str]:
    """The process environment; HOME from /etc/passwd when unset (runc does the same)."""
    env: dict[str, str] = {}
    for e in proc.env:
        k, _, v = e.partition("=")
        env[k] = v
    if "HOME" not in env:
        env["HOME"] = _home(proc.user.uid)
    return env


def lookup_path(arg0: str, env: dict[str, str]) -> str:
    """args[0] resolved against the container's PATH (inside the container's root)."""
    if "/" in arg0:  # Go's exec.LookPath (runc): a directory or a file without x bits is EACCES
        try:
            st = os.stat(arg0)
        except OSError as e:
            raise OSError(e.errno, f'exec: "{arg0}": stat {arg0}: {os.strerror(e.errno or errno.ENOENT).lower()}', arg0) from None
        if stat.S_ISDIR(st.st_mode) or not st.st_mode & 0o111:
            raise OSError(errno.EACCES, f'exec: "{arg0}": permission denied', arg0)
        return arg0
    for d in env.get("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin").split(":"):
        cand = os.path.join(d or ".", arg0)
        if os.path.isfile(cand) and os.access(cand, os.X_OK):
            return cand
    raise OSError(errno.ENOENT, f'exec: "{arg0}": executable file not found in $PATH', arg0)


def switch_user(proc: Process, keep_caps: bool) -> None:
    """Groups, gid and uid, keeping the permitted set across setuid when capabilities follow."""
    from skiff.sys import prctl

    u = proc.user
    if keep_caps:
        prctl.set_keepcaps(True)
    try:
        os.setgroups(list(u.additional_gids))
    except PermissionError:
        if u.additional_gids:
            raise
    os.setresgid(u.gid, u.gid, u.gid)
    os.setresuid(u.uid, u.uid, u.uid)
    if keep_caps:
        prctl.set_keepcaps(False)


def drop_bounding(caps: Capabilities) -> None:
    from skiff.sys import caps as c
    from skiff.sys import prctl

    keep = set(caps.bounding)
    for n in range(c.last_cap() + 1):
        if n not in keep:
            try:
                prctl.capbset_drop(n)
            except OSError as exc:
                if exc.errno != errno.EINVAL:
                    raise


def apply_caps(caps: Capabilities) -> None:
    from skiff.sys import caps as c
    from skiff.sys import prctl

    try:
        c.capset(c.mask(caps.effective), c.mask(caps.permitted), c.mask(caps.inheritable))
    except PermissionError:
        _, have, _ = c.capget()
        missing = [c.CAP_NAMES[n] for n in sorted(set(caps.permitted) | set(caps.effective))
                   if not have >> n & 1 and n < len(c.CAP_NAMES)]
        raise PermissionError(errno.EPERM, "capset: Operation not permitted: the runtime itself lacks "
                              + ", ".join(missing or ["(inheritable outside the bounding set)"])) from None
    if caps.ambient:
        for n in caps.ambient:
            try:
                prctl.ambient_raise(n)
            except OSError as exc:
                if exc.errno != errno.EPERM:  # not in permitted+inheritable: the kernel refuses, runc ignores
                    raise


def mark_fds_cloexec(keep_below: int) -> None:
    """Every fd from ``keep_below`` up closes at execve (the caller's stray fds too)."""
    try:
        fds = [int(x) for x in os.listdir("/proc/self/fd")]
    except OSError:
        return
    for fd in fds:
        if fd >= keep_below:
            try:
                os.set_inheritable(fd, False)
            except OSError:
                pass


def close_stray_fds(first_free: int, keep: set[int]) -> None:
    """Close what the caller of the runtime left open (fds from ``first_free`` up, except ``keep``):
    runc's init never holds them, and a waiting container holding a caller's pipe would keep that
    caller from ever seeing EOF."""
    try:
        fds = [int(x) for x in os.listdir("/proc/self/fd")]
    except OSError:
        return
    for fd in fds:
        if fd >= first_free and fd not in keep:
            try:
                os.close(fd)
            except OSError:
                pass


def reset_signals() -> None:
    """Every signal to its default disposition and none blocked, as runc leaves them for the
    container's process. execve resets caught signals by itself, but ignored ones (Python ignores
    SIGPIPE and SIGXFSZ; a caller may ignore SIGTERM/SIGINT/SIGHUP) and the blocked mask would
    survive it and silently change how the container's programs behave."""
    import _signal  # not ``signal``: it imports enum (milliseconds at every start)

    for sig in range(1, _signal.NSIG):
        if sig in (9, 19):  # SIGKILL, SIGSTOP: cannot be changed
            continue
        try:
            _signal.signal(sig, _signal.SIG_DFL)
        except (OSError, ValueError):  # 32 and 33 belong to the C library's threads
            pass
    _signal.pthread_sigmask(_signal.SIG_SETMASK, [])


def exec_process(proc: Process, env: dict[str, str], path: str,
                 seccomp: tuple[bytes, Sequence[str]] | None) -> None:
    """Signals, capabilities, user, no_new_privs, seccomp, execve. Does not return."""
    reset_signals()
    if seccomp is not None and not proc.no_new_privileges:
        # Without no_new_privs, loading a filter needs CAP_SYS_ADMIN: do it while we have it (runc).
        from skiff.runtime.seccomp import install_filter as early_install

        early_install(seccomp[0], seccomp[1])
    caps = proc.capabilities
    if caps is not None:
        drop_bounding(caps)
    switch_user(proc, keep_caps=caps is not None)
    if caps is not None:
        apply_caps(caps)
    if proc.no_new_privileges:
        from skiff.sys import prctl

        prctl.set_no_new_privs()
    if seccomp is not None and proc.no_new_privileges:
        from skiff.runtime.seccomp import install_filter

        install_filter(seccomp[0], seccomp[1])
    os.execve(path, list(proc.args), env)
