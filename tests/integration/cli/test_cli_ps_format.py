"""skiff ps / inspect / system df / events print what docker CLI v28 prints against the same skiffd:
columns, -q, -n/-l, --no-trunc, -s, and --format (table, json, {{json .}}, .Label, .Size, template errors)."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Iterator

import pytest

from tests.support.daemon import Daemon

Same = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture(scope="module")
def boxes(bbd: Daemon) -> Iterator[Daemon]:
    """A running container with labels, a port and a volume; a created one; one that exited 3."""
    r = bbd.docker("run", "-d", "--name", "web", "-l", "a=b", "-l", "com.example.my-key=v", "-p", "127.0.0.1::80",
                   "-v", "cvol:/data", "busybox", "sleep", "1000")
    assert r.returncode == 0, r.stderr
    bbd.docker("create", "--name", "idle", "busybox", "echo", "hi")
    bbd.docker("run", "--name", "ex3", "busybox", "sh", "-c", "echo out; echo err >&2; exit 3")
    time.sleep(1.1)  # "Less than a second ago" would change between the two runs
    yield bbd
    bbd.docker("rm", "-f", "web", "idle", "ex3")
    bbd.docker("volume", "rm", "cvol")


@pytest.mark.parametrize("args", [
    ("ps",), ("ps", "-a"), ("ps", "-a", "--no-trunc"), ("ps", "-aq"), ("ps", "-a", "-s"), ("ps", "-l"),
    ("ps", "-n", "2"), ("ps", "-a", "--filter", "exited=3"), ("container", "ls", "-a"), ("container", "list"),
    ("ps", "-a", "--format", "{{json .}}"), ("ps", "-a", "--format", "json"), ("ps", "--format", "{{.Size}}"),
    ("ps", "-a", "--format", "table {{.Names}}\t{{.Label \"a\"}}\t{{.Label \"com.example.my-key\"}}"),
    ("ps", "--format", "{{.Labels}}|{{.Mounts}}|{{.Networks}}|{{.Ports}}|{{.LocalVolumes}}"),
    ("ps", "-a", "--format", "{{.Status}}|{{.RunningFor}}|{{.CreatedAt}}|{{.State}}|{{.Command}}"),
    ("ps", "--format", "{{upper .Names}} {{title .State}} {{truncate .ID 4}} {{pad .Names 1 1}}|{{len .Names}}"),
    ("ps", "--format", "{{split .Labels \",\"}} {{index (split .Labels \",\") 0}} {{printf \"%s-%d\" .Names 5}}"),
    ("ps", "-q", "--format", "{{.Names}}"),
    ("ps", "--format", "{{.Nope}}"), ("ps", "--format", "{{"), ("ps", "--format", "{{json.}}"),
    ("inspect", "-f", "{{.Name}} {{.State.Status}} {{json .Config.Labels}}", "web", "ex3"),
    ("inspect", "-f", "{{.Nope}}", "web"), ("inspect", "-f", "{{", "web"), ("inspect", "-f", "{{.Name}}", "web", "nosuch"),
    ("inspect", "-f", "{{.Config.Labels.zz}}", "web"), ("inspect", "nosuch"),
    ("container", "inspect", "-f", "{{range $k, $v := .Config.Labels}}{{$k}}={{$v}};{{end}}", "web"),
    ("system", "df"), ("system", "df", "--format", "{{json .}}"), ("system", "df", "--format", "json"),
    ("system", "df", "--format", "{{.Nope}}"), ("volume", "ls", "--format", "{{json.}}"),
    ("info", "--format", "{{.Nope}}"), ("info", "--format", "{{"), ("version", "--format", "{{.Client.Nope}}"),
    ("version", "--format", "{{"), ("volume", "inspect", "cvol", "--format", "{{.Nope}}"),
    ("volume", "inspect", "-f", "{{.Name}} {{.Driver}}", "cvol"), ("inspect", "--type", "bogus", "x"),
    ("inspect", "-f", "{{.State.Nope}}", "web"),
    ("inspect", "-f", "{{.State}} {{.Mounts}} {{.HostConfig.RestartPolicy}} {{.HostConfig.LogConfig}}", "web"),
    ("inspect", "-f", "{{.NetworkSettings.Ports}} {{.HostConfig.PortBindings}} {{.GraphDriver}}", "web"),
    ("network", "inspect", "bridge", "--format", "{{.IPAM}}"), ("image", "inspect", "busybox", "-f", "{{.RootFS}}"),
    ("inspect", "-f", "{{.State.Pid | printf \"%T\"}} {{printf \"%T %T\" .Name .State.Running}}", "web"),
    ("network", "ls", "--format", "{{json .}}"), ("network", "ls", "--format", "{{.Nope}}"),
    ("network", "ls", "--format", "{{.Label \"x\"}}|{{.Labels}}|{{.CreatedAt}}"), ("network", "ls", "--format", "json"),
    ("history", "busybox", "--format", "{{.Tags}}"), ("history", "busybox", "--format", "{{json .}}"),
    ("events", "--since", "1h", "--until", "0s", "--format", "{{.Nope}}"),
    ("system", "df", "-v"), ("system", "df", "-v", "--format", "{{json .}}"),
    ("system", "df", "-v", "--format", "{{len .Images}} {{range .Containers}}{{.Names}} {{end}}"),
    ("ps", "--format", "{{join .Names \",\"}}"), ("ps", "-a", "--format", "{{join (split .Names \",\") \"+\"}}"),
])
def test_same_as_docker(boxes: Daemon, same: Same, args: tuple[str, ...]) -> None:
    same(*args)


def test_ps_size_precision(boxes: Daemon, same: Same) -> None:
    r = same("ps", "-s", "--format", "{{.Size}}")
    assert "(virtual " in r.stdout


def test_events_json(boxes: Daemon, same: Same) -> None:
    until = f"{time.time():.3f}"
    r = same("events", "--since", "1h", "--until", until, "--format", "{{json .}}")
    assert '"Attributes":{"a":"b","com.example.my-key":"v","image":"busybox","name":"web"}' in r.stdout
    same("events", "--since", "1h", "--until", until, "--format", "json")
    same("events", "--since", "1h", "--until", until)
