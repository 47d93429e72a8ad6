"""Container events as Docker emits them (docker events --since/--until --filter)."""

from __future__ import annotations

import time

import pytest

from tests.support.daemon import Daemon

pytestmark = pytest.mark.root


def _events(d: Daemon, since: float, *filters: str) -> list[str]:
    args = ["events", "--since", f"{since:.3f}", "--until", f"{time.time() + 0.5:.3f}",
            "--format", "{{.Action}} {{.Actor.Attributes.name}} {{.Actor.Attributes.exitCode}}"]
    for f in filters:
        args += ["--filter", f]
    time.sleep(0.6)
    return d.docker(*args).stdout.splitlines()


def test_lifecycle_events(bbd: Daemon) -> None:
    t = time.time()
    bbd.docker("run", "--name", "ev1", "busybox", "sh", "-c", "exit 3")
    bbd.docker("rename", "ev1", "ev2")
    bbd.docker("rm", "ev2")
    got = _events(bbd, t, "type=container")
    assert got[:4] == ["create ev1 <no value>", "attach ev1 <no value>", "start ev1 <no value>", "die ev1 3"]
    assert "rename ev2 <no value>" in got and got[-1] == "destroy ev2 <no value>"


def test_exec_pause_kill_events(bbd: Daemon) -> None:
    t = time.time()
    bbd.docker("run", "-d", "--name", "ev3", "busybox", "sleep", "100")
    bbd.docker("exec", "ev3", "true")
    bbd.docker("pause", "ev3")
    bbd.docker("unpause", "ev3")
    bbd.docker("kill", "ev3")
    got = [line.split(" ")[0] if not line.startswith("exec_") else line for line in
           _events(bbd, t, "container=ev3")]
    assert "exec_create: true ev3 <no value>" in got and "exec_start: true ev3 <no value>" in got
    assert "exec_die ev3 0" in got
    for action in ("pause", "unpause", "kill", "die"):
        assert action in got
    bbd.docker("rm", "ev3")


@pytest.mark.parametrize(("mode", "net_type"), [("none", "null"), ("host", "host")])
def test_run_rm_events_in_dockerds_order(bbd: Daemon, mode: str, net_type: str) -> None:
    """dockerd 20.10 for `docker run --rm --network none|host`: create, attach, network connect,
    start, die, network disconnect, destroy (the fixed networks announce the container too)."""
    t = time.time()
    name = f"ord-{mode}"
    r = bbd.docker("run", "--rm", "--name", name, "--network", mode, "busybox", "true")
    assert r.returncode == 0, r.stderr
    time.sleep(0.6)
    out = bbd.docker("events", "--since", f"{t:.3f}", "--until", f"{time.time():.3f}", "--format",
                     "{{.Type}} {{.Action}} {{.Actor.Attributes.name}}").stdout.splitlines()
    assert out == [f"container create {name}", f"container attach {name}", f"network connect {mode}",
                   f"container start {name}", f"container die {name}", f"network disconnect {mode}",
                   f"container destroy {name}"]
    net = bbd.docker("events", "--since", f"{t:.3f}", "--until", f"{time.time():.3f}", "--filter", "type=network",
                     "--format", "{{.Actor.Attributes.type}} {{.Actor.Attributes.container}}").stdout.split()
    assert net[0::2] == [net_type, net_type] and [len(c) for c in net[1::2]] == [64, 64]
