"""skiff version / info / events / system df against a real skiffd: output, --format, exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from skiff.engine.events import EventBus
from skiff.engine.state import StateDB
from tests.support.daemon import Daemon

Run = Callable[..., subprocess.CompletedProcess[str]]


def test_version_layout(skiff: Run) -> None:
    r = skiff("version")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == "Client:"
    assert lines[1] == " Version:           0.1.0"
    assert lines[2] == " API version:       1.51"
    assert "Server: Skiff Engine" in lines
    assert "  API version:      1.51 (minimum version 1.24)" in lines
    r = skiff("version", "--format", "{{.Server.Version}}|{{.Client.APIVersion}}")
    assert r.stdout == "0.1.0|1.51\n"
    r = skiff("version", "--format", "json")
    doc = json.loads(r.stdout)
    assert doc["Server"]["ApiVersion"] == "1.51" and doc["Client"]["Version"] == "0.1.0"


def test_version_negotiates_down(skiff: Run) -> None:
    r = skiff("version", "--format", "{{.Client.APIVersion}}", env={"DOCKER_API_VERSION": "1.41"})
    assert r.stdout.strip() == "1.41"
    r = skiff("version", env={"DOCKER_API_VERSION": "1.99"})
    assert r.returncode == 1
    assert r.stderr.strip() == ("Error response from daemon: client version 1.99 is too new. "
                                "Maximum supported API version is 1.51")


def test_info(skiff: Run, skiffd: Daemon) -> None:
    r = skiff("info")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("Client:\n Version:    0.1.0\n")
    for want in ("Server:", " Containers: 0", "  Running: 0", " Cgroup Driver: cgroupfs",
                 f" Docker Root Dir: {skiffd.data_root}", " Live Restore Enabled: true",
                 " Default Runtime: skiff", " Swarm: inactive"):
        assert want in r.stdout.splitlines(), want
    r = skiff("info", "--format", "{{.NCPU}} {{.OSType}} {{json .Swarm.LocalNodeState}}")
    assert r.stdout == f"{os.cpu_count()} linux \"inactive\"\n"
    r = skiff("system", "info", "--format", "{{.ClientInfo.Context}}")
    assert r.stdout == "default\n"


def test_system_df(skiff: Run) -> None:
    r = skiff("system", "df")
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == [
        "TYPE            TOTAL     ACTIVE    SIZE      RECLAIMABLE",
        "Images          0         0         0B        0B",
        "Containers      0         0         0B        0B",
        "Local Volumes   0         0         0B        0B",
        "Build Cache     0         0         0B        0B",
    ]
    r = skiff("system", "df", "--format", "{{.Type}}={{.TotalCount}}")
    assert r.stdout.splitlines()[0] == "Images=0"
    r = skiff("system", "df", "--format", "table {{.Type}}\t{{.Size}}")
    assert r.stdout.splitlines()[0] == "TYPE            SIZE"


def _publish(d: Daemon) -> None:
    db = StateDB.open(d.data_root)
    bus = EventBus(db)
    bus.publish("container", "create", "a" * 64, {"name": "web", "image": "busybox"})
    bus.publish("container", "die", "a" * 64, {"name": "web", "image": "busybox", "exitCode": "3"})
    bus.publish("volume", "create", "data", {"driver": "local"})
    db.close()


def test_events(skiff: Run, skiffd: Daemon) -> None:
    since = f"{time.time() - 1:.3f}"
    _publish(skiffd)
    until = f"{time.time() + 0.2:.3f}"  # "0s" would be truncated to the second, as docker does
    r = skiff("events", "--since", since, "--until", until)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert len(lines) == 3
    assert lines[1].endswith(f" container die {'a' * 64} (exitCode=3, image=busybox, name=web)")
    r = skiff("events", "--since", since, "--until", until, "--filter", "event=die",
              "--format", "{{.Type}} {{.Status}} {{.From}} {{index .Actor.Attributes \"exitCode\"}}")
    assert r.stdout == "container die busybox 3\n"
    r = skiff("events", "--since", since, "--until", until, "-f", "type=volume", "--format", "{{json .}}")
    assert json.loads(r.stdout)["Actor"]["ID"] == "data"
    # an unknown filter name: the daemon decides (moby accepts it since e2cfbae); skiff reports it as docker does
    r = skiff("events", "--since", "1h", "--until", "0s", "--filter", "nope=1")
    d = skiffd.docker("events", "--since", "1h", "--until", "0s", "--filter", "nope=1")
    assert (r.returncode, r.stdout, r.stderr) == (d.returncode, d.stdout, d.stderr.replace("docker", "skiff"))


def test_exit_codes_and_messages(skiff: Run, tmp_path: Path) -> None:
    r = skiff("version", "--nope")
    assert r.returncode == 125 and r.stderr.startswith("unknown flag: --nope")
    r = skiff("info", env={"SKIFF_HOST": f"unix://{tmp_path}/none.sock"})
    assert r.returncode == 1
    assert f"Cannot connect to the Docker daemon at unix://{tmp_path}/none.sock. Is the docker daemon running?" \
        in r.stdout + r.stderr
    assert "Traceback" not in r.stderr
    r = skiff("-H", f"unix://{tmp_path}/none.sock", "system", "df")
    assert r.returncode == 1 and "Cannot connect to the Docker daemon" in r.stderr


def test_skiff_host_wins_over_docker_host(skiff: Run, skiffd: Daemon, tmp_path: Path) -> None:
    r = skiff("version", "--format", "{{.Server.Version}}",
              env={"DOCKER_HOST": f"unix://{tmp_path}/none.sock", "SKIFF_HOST": skiffd.host})
    assert r.returncode == 0 and r.stdout == "0.1.0\n"


def test_startup_is_fast(skiffd: Daemon) -> None:
    skiff_bin = Path(sys.prefix) / "bin" / "skiff"
    cmd = [str(skiff_bin) if skiff_bin.exists() else "skiff", "version", "--format", "{{.Server.Version}}"]
    best = 10.0
    for _ in range(3):
        t = time.perf_counter()
        subprocess.run(cmd, env=skiffd.env, check=True, capture_output=True, timeout=30)
        best = min(best, time.perf_counter() - t)
    assert best < 0.5, f"skiff version took {best:.3f}s"


def test_inspect_not_found(skiff: Run) -> None:
    r = skiff("inspect", "nosuchthing")
    assert r.returncode == 1
    assert r.stdout == "[]\n" and r.stderr == "Error: No such object: nosuchthing\n"
    r = skiff("inspect")
    assert r.returncode == 1 and "'skiff inspect' requires at least 1 argument" in r.stderr
