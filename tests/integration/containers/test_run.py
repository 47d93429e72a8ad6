"""docker run / create / start / wait / rm with the real docker CLI: exit codes and messages."""

from __future__ import annotations

import json

import pytest

from tests.support.daemon import Daemon

pytestmark = pytest.mark.root


def test_run_rm_echo(bbd: Daemon) -> None:
    r = bbd.docker("run", "--rm", "busybox", "echo", "hi")
    assert (r.returncode, r.stdout) == (0, "hi\n"), r.stderr
    assert bbd.docker("ps", "-aq").stdout == ""


def test_run_exit_code(bbd: Daemon) -> None:
    r = bbd.docker("run", "--rm", "busybox", "sh", "-c", "exit 3")
    assert r.returncode == 3


def test_run_missing_command_127(bbd: Daemon) -> None:
    r = bbd.docker("run", "--rm", "busybox", "nosuchcmd")
    assert r.returncode == 127
    assert "executable file not found" in r.stderr
    assert "failed to create task for container" in r.stderr


def test_run_stdin_half_close(bbd: Daemon) -> None:
    r = bbd.docker("run", "--rm", "-i", "busybox", "cat", input="hello\nworld\n")
    assert (r.returncode, r.stdout) == (0, "hello\nworld\n"), r.stderr


def test_run_stdout_stderr_split(bbd: Daemon) -> None:
    r = bbd.docker("run", "--rm", "busybox", "sh", "-c", "echo out; echo err >&2")
    assert r.stdout == "out\n" and r.stderr == "err\n"


def test_run_env_user_workdir(bbd: Daemon) -> None:
    r = bbd.docker("run", "--rm", "-e", "FOO=bar", "-u", "nobody", "-w", "/tmp", "busybox",
                   "sh", "-c", "echo $FOO; id -u; pwd")
    assert r.stdout.split() == ["bar", "65534", "/tmp"], r.stderr


def test_unknown_image_404(bbd: Daemon) -> None:
    r = bbd.docker("create", "--pull", "never", "nosuchimage:1")
    assert r.returncode != 0
    assert "No such image: nosuchimage:1" in r.stderr


def test_name_conflict(bbd: Daemon) -> None:
    assert bbd.docker("create", "--name", "dup", "busybox", "true").returncode == 0
    r = bbd.docker("create", "--name", "dup", "busybox", "true")
    assert r.returncode != 0
    assert 'Conflict. The container name "/dup" is already in use by container' in r.stderr
    bad = bbd.docker("create", "--name", "-bad", "busybox", "true")
    assert "Invalid container name (-bad)" in bad.stderr
    assert bbd.docker("rm", "dup").returncode == 0


def test_create_start_wait_rm(bbd: Daemon) -> None:
    cid = bbd.docker("create", "busybox", "sh", "-c", "sleep 0.3; exit 9").stdout.strip()
    assert len(cid) == 64
    assert bbd.docker("start", cid).returncode == 0
    w = bbd.docker("wait", cid[:12])
    assert w.stdout.strip() == "9"
    st = json.loads(bbd.docker("inspect", cid).stdout)[0]["State"]
    assert st["Status"] == "exited" and st["ExitCode"] == 9 and not st["Running"]
    assert bbd.docker("rm", cid).stdout.strip() == cid
    r = bbd.docker("inspect", cid)
    assert r.returncode == 1 and f"No such object: {cid}" in r.stderr


def test_detached_lifecycle(bbd: Daemon) -> None:
    cid = bbd.docker("run", "-d", "--name", "web", "busybox", "sleep", "1000").stdout.strip()
    try:
        again = bbd.docker("start", "web")
        assert again.returncode == 0  # 304: already started
        rm = bbd.docker("rm", "web")
        assert rm.returncode == 1
        assert 'cannot remove container "/web": container is running' in rm.stderr
        ins = json.loads(bbd.docker("inspect", "web").stdout)[0]
        assert ins["Name"] == "/web" and ins["State"]["Running"] and ins["State"]["Pid"] > 0
        assert ins["Config"]["Cmd"] == ["sleep", "1000"] and ins["Path"] == "sleep"
        assert ins["HostConfig"]["NetworkMode"] == "bridge"
        assert ins["GraphDriver"]["Name"] in ("overlay2", "vfs")
        assert ins["LogPath"].endswith(f"{cid}-json.log")
        stop = bbd.docker("stop", "-t", "1", "web")
        assert stop.returncode == 0 and stop.stdout.strip() == "web"
        st = json.loads(bbd.docker("inspect", "web").stdout)[0]["State"]
        assert st["Status"] == "exited" and st["ExitCode"] == 137
    finally:
        bbd.docker("rm", "-f", "web")


def test_rm_force_running(bbd: Daemon) -> None:
    bbd.docker("run", "-d", "--name", "victim", "busybox", "sleep", "100")
    r = bbd.docker("rm", "-f", "victim")
    assert r.returncode == 0 and r.stdout.strip() == "victim"
    assert "victim" not in bbd.docker("ps", "-a", "--format", "{{.Names}}").stdout


def test_wait_removed_with_autoremove(bbd: Daemon) -> None:
    r = bbd.docker("run", "--rm", "--name", "auto", "busybox", "sh", "-c", "exit 2")
    assert r.returncode == 2
    assert bbd.docker("inspect", "auto").returncode == 1


def test_run_rm_start_failure_wait_has_no_error(bbd: Daemon) -> None:
    """The removal clears the start error (moby's SetRemoved): the CLI's wait for "removed" gets no
    Error, so `docker run --rm` prints the daemon's error once, without "Error waiting for container"."""
    r = bbd.docker("run", "--rm", "busybox", "nosuchcmd")
    assert r.returncode == 127
    assert "Error waiting for container" not in r.stderr
    assert r.stderr.startswith("docker: Error response from daemon: ") and r.stderr.count("nosuchcmd") == 1


def test_create_checks_stop_signal_and_restart_policy(bbd: Daemon) -> None:
    """dockerd refuses a bad StopSignal and restart policy at create (exit 125, its texts)."""
    r = bbd.docker("run", "--stop-signal", "FOO", "busybox", "true")
    assert (r.returncode, r.stderr.splitlines()[0]) == (125, "docker: Error response from daemon: Invalid signal: FOO")
    r = bbd.docker("create", "--restart", "always:2", "busybox", "true")
    assert (r.returncode, r.stderr.splitlines()[0]) == (
        1, "Error response from daemon: invalid restart policy: maximum retry count can only be used with 'on-failure'")
    assert bbd.docker("ps", "-aq").stdout == ""


@pytest.mark.parametrize(("cmd", "code", "msg"), [
    ("/etc", 126, 'exec: "/etc": permission denied'),
    ("/etc/passwd", 126, 'exec: "/etc/passwd": permission denied'),
    ("/nonexist", 127, 'exec: "/nonexist": stat /nonexist: no such file or directory'),
    ("nosuchcmd", 127, 'exec: "nosuchcmd": executable file not found in $PATH'),
])
def test_run_bad_command_path_as_runc(bbd: Daemon, cmd: str, code: int, msg: str) -> None:
    """A directory or a file without x bits fails the start with EACCES (exit 126), as runc's
    LookPath does, instead of starting the container and failing its exec afterwards."""
    r = bbd.docker("run", "--rm", "busybox", cmd)
    assert r.returncode == code, r.stderr
    assert r.stderr.startswith("docker: Error response from daemon: ") and f"{msg}: unknown" in r.stderr


def test_run_user_primary_group_in_groups(bbd: Daemon) -> None:
    """As under Docker (moby's getUser), the primary group is one of the process's groups."""
    assert bbd.docker("run", "--rm", "-u", "1234:5678", "busybox", "id").stdout == "uid=1234 gid=5678 groups=5678\n"
    assert bbd.docker("run", "--rm", "busybox", "id").stdout == "uid=0(root) gid=0(root) groups=0(root)\n"
    r = bbd.docker("run", "--rm", "--group-add", "777", "-u", "1000", "busybox", "id")
    assert r.stdout == "uid=1000 gid=0(root) groups=0(root),777\n"


@pytest.mark.parametrize(("flags", "msg"), [
    (["--oom-score-adj", "2000"], "Invalid value 2000, range for oom score adj is [-1000, 1000]"),
    (["-w", "rel"], "the working directory 'rel' is invalid, it needs to be an absolute path"),
    (["--cpu-period", "100"], "CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)"),
    (["--cap-add", "BOGUS"], 'invalid CapAdd: unknown capability: "CAP_BOGUS"'),
    (["--cap-drop", "BOGUS"], 'invalid CapDrop: unknown capability: "CAP_BOGUS"'),
    (["--memory-swap", "10m"], "You should always set the Memory limit when using Memoryswap limit, see usage"),
    (["--memory-swap", "10m", "-m", "20m"], "Minimum memoryswap limit should be larger than memory limit, see usage"),
    (["--cpuset-cpus", "abc"], "Invalid value abc for cpuset cpus: invalid format: abc"),
    (["--isolation", "hyperv"], "invalid isolation 'hyperv' on linux"),
    (["--volumes-from", "nosuch-vf"], "No such container: nosuch-vf"),
])
def test_create_refuses_what_start_would_as_docker(bbd: Daemon, flags: list[str], msg: str) -> None:
    """dockerd checks the settings at create (verifyContainerSettings): docker create fails with its
    text and leaves no container, instead of a container that cannot start. A missing --volumes-from
    container is a 400, so the CLI does not go and pull the image."""
    r = bbd.docker("create", *flags, "busybox", "true")
    assert (r.returncode, r.stdout, r.stderr) == (1, "", f"Error response from daemon: {msg}\n")
    assert bbd.docker("ps", "-aq").stdout == ""
