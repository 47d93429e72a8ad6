"""``exec``: a new process in a running container's namespaces, cgroup and security settings."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from tests.integration.runtime.conftest import Runtime
from tests.integration.runtime.test_userns import _userns, userns_bundle  # noqa: F401 (fixture)
from tests.support.bundle import edit_config

pytestmark = pytest.mark.root


@pytest.fixture
def running(rt: Runtime, bundle: Path, cid: str) -> str:
    edit_config(bundle, lambda c: (c.update(hostname="skiffexec"),
                                   c["process"].update(args=["sleep", "60"])))
    rt.ok("run", "-d", "-b", str(bundle), cid)
    return cid


def test_exec_sees_the_container(rt: Runtime, running: str) -> None:
    r = rt.ok("exec", running, "sh", "-c", "hostname; echo $$; ps -o comm | sort | tr '\\n' ' '")
    host, pid, comms = r.out.splitlines()
    assert host == "skiffexec"
    assert int(pid) > 1
    assert "sleep" in comms.split()


def test_exec_exit_code(rt: Runtime, running: str) -> None:
    assert rt("exec", running, "sh", "-c", "exit 5").rc == 5


def test_exec_env_cwd_user(rt: Runtime, running: str) -> None:
    r = rt.ok("exec", "--env", "A=b", "--cwd", "/tmp", "--user", "65534:65534", running,
              "sh", "-c", "echo $A; pwd; id -u; id -g")
    assert r.out.split() == ["b", "/tmp", "65534", "65534"]


def test_exec_keeps_capability_limits_and_cap_adds(rt: Runtime, running: str) -> None:
    eff = rt.ok("exec", running, "grep", "CapEff", "/proc/self/status").out.split()[1]
    assert int(eff, 16) == (1 << 29) | (1 << 5) | (1 << 10)
    eff2 = rt.ok("exec", "--cap", "CAP_SYS_ADMIN", running, "grep", "CapEff", "/proc/self/status").out.split()[1]
    assert int(eff2, 16) & (1 << 21)


def test_exec_process_json(rt: Runtime, running: str, tmp_path: Path) -> None:
    proc = tmp_path / "process.json"
    proc.write_text(json.dumps({"args": ["sh", "-c", "echo from-json $X"], "env": ["PATH=/bin", "X=1"],
                                "cwd": "/", "user": {"uid": 0, "gid": 0}}))
    assert rt.ok("exec", "--process", str(proc), running).out == "from-json 1\n"


def test_exec_detach_pid_file(rt: Runtime, running: str, tmp_path: Path) -> None:
    pid_file = tmp_path / "exec.pid"
    rt.ok("exec", "-d", "--pid-file", str(pid_file), running, "sleep", "30")
    pid = int(pid_file.read_text())
    assert Path(f"/proc/{pid}").exists()
    init = json.loads(rt.ok("state", running).out)["pid"]
    assert Path(f"/proc/{pid}/ns/pid").readlink() == Path(f"/proc/{init}/ns/pid").readlink()
    assert Path(f"/proc/{pid}/ns/mnt").readlink() == Path(f"/proc/{init}/ns/mnt").readlink()
    assert Path(f"/proc/{pid}/cgroup").read_text() == Path(f"/proc/{init}/cgroup").read_text()


def test_exec_missing_binary(rt: Runtime, running: str) -> None:
    r = rt("exec", running, "/no/such")
    assert r.rc != 0 and "/no/such" in r.err


def test_exec_into_stopped_refused(rt: Runtime, running: str) -> None:
    rt.ok("kill", running, "KILL")
    for _ in range(300):
        if json.loads(rt.ok("state", running).out)["status"] == "stopped":
            break
        time.sleep(0.01)
    r = rt("exec", running, "true")
    assert r.rc == 1 and "stopped" in r.err


def test_exec_in_user_namespace_joins_cgroups(rt: Runtime, userns_bundle: Path, cid: str,  # noqa: F811
                                              tmp_path: Path) -> None:
    """With a user namespace the exec'd process cannot join the host's cgroup files itself: the
    runtime places it (the other path: without one the child joins them before setns)."""
    edit_config(userns_bundle, lambda c: _userns(c, ["sleep", "30"]))
    rt.ok("run", "-d", "-b", str(userns_bundle), cid)
    pid_file = tmp_path / "exec.pid"
    rt.ok("exec", "-d", "--pid-file", str(pid_file), cid, "sleep", "30")
    pid = int(pid_file.read_text())
    init = json.loads(rt.ok("state", cid).out)["pid"]
    assert Path(f"/proc/{pid}/ns/user").readlink() == Path(f"/proc/{init}/ns/user").readlink()
    assert Path(f"/proc/{pid}/cgroup").read_text() == Path(f"/proc/{init}/cgroup").read_text()
