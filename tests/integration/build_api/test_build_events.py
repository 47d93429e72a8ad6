"""The classic builder's step containers in ``docker events``, as dockerd 20.10 shows them.

dockerd (``DOCKER_BUILDKIT=0 docker build``): a RUN container is ``create``, ``attach``, [network
``connect``], ``start``, ``die`` (exitCode), [network ``disconnect``], ``destroy``; a metadata step's
(LABEL, ENV, ...) container ``create`` then ``destroy``; a cached step none. Attributes: the step
config's labels, ``image`` (the ID the step starts from), ``name`` (generated).
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

import pytest

from tests.integration.build_api.conftest import build, write
from tests.support.daemon import Daemon

pytestmark = pytest.mark.root

_NAME = re.compile(r"^[a-z]+_[a-z]+$")


def _events(d: Daemon, since: float, until: float) -> list[dict[str, Any]]:
    r = d.docker("events", "--since", f"{since:.9f}", "--until", f"{until:.9f}", "--format", "{{json .}}",
                 timeout=30)
    assert r.returncode == 0, r.stderr
    return [json.loads(line) for line in r.stdout.splitlines() if line.strip()]


def _build_events(d: Daemon, ctx: Path, *args: str) -> tuple[str, list[dict[str, Any]]]:
    """Build with the docker CLI's classic builder; the build output and the events around it."""
    since = time.time() - 0.001
    r = build(d, "docker", ctx, *args)
    until = time.time() + 0.001
    return r.stdout + r.stderr, _events(d, since, until)


def _running_in(output: str) -> list[str]:
    return re.findall(r"---> Running in ([0-9a-f]{12})", output)


def _image_id(d: Daemon, ref: str) -> str:
    return d.docker("image", "inspect", "-f", "{{.Id}}", ref).stdout.strip()


def _steps(events: list[dict[str, Any]]) -> list[tuple[str, str, str]]:
    """(type, action, id) of container and network events, in order; network events by container."""
    out = []
    for e in events:
        if e["Type"] == "container":
            out.append(("container", e["Action"], e["Actor"]["ID"]))
        elif e["Type"] == "network":
            out.append(("network", e["Action"], e["Actor"]["Attributes"]["container"]))
    return out


def test_run_step_container_events(bd: Daemon, tmp_path: Path) -> None:
    ctx = write(tmp_path / "ctx", {"Dockerfile": "FROM busybox\nRUN echo hi > /x\n"})
    out, events = _build_events(bd, ctx, "--network", "none", "--no-cache", "-t", "ev-run:1")
    assert "Successfully tagged ev-run:1" in out, out
    [short] = _running_in(out)
    ctr = [e for e in events if e["Type"] == "container"]
    cid = ctr[0]["Actor"]["ID"]
    assert cid.startswith(short) and len(cid) == 64
    assert [(e["Action"], e["Actor"]["ID"]) for e in ctr] == [
        (a, cid) for a in ("create", "attach", "start", "die", "destroy")]
    base = _image_id(bd, "busybox")
    name = ctr[0]["Actor"]["Attributes"]["name"]
    assert _NAME.match(name), name
    for e in ctr:
        attrs = dict(e["Actor"]["Attributes"])
        assert attrs.pop("exitCode", "0") == "0"
        assert attrs == {"image": base, "name": name}, e
        assert e["status"] == e["Action"] and e["from"] == base and e["scope"] == "local"
    # the image tag comes after the container is gone, as in dockerd
    assert [(e["Type"], e["Action"]) for e in events][-1] == ("image", "tag")


def test_run_on_the_bridge_connects_between_attach_and_start(bd: Daemon, tmp_path: Path) -> None:
    ctx = write(tmp_path / "ctx", {"Dockerfile": "FROM busybox\nRUN true\n"})
    out, events = _build_events(bd, ctx, "--no-cache")
    assert "Successfully built" in out, out
    cid = next(e["Actor"]["ID"] for e in events if e["Type"] == "container")
    assert _steps(events) == [
        ("container", "create", cid), ("container", "attach", cid), ("network", "connect", cid),
        ("container", "start", cid), ("container", "die", cid), ("network", "disconnect", cid),
        ("container", "destroy", cid)]


def test_metadata_step_and_labels(bd: Daemon, tmp_path: Path) -> None:
    """LABEL's container is created and destroyed; RUN's carries the label and starts from the
    LABEL step's image; a cached rebuild makes no container."""
    ctx = write(tmp_path / "ctx", {"Dockerfile": "FROM busybox\nLABEL com.example.k=v\nRUN true\n"})
    out, events = _build_events(bd, ctx, "--network", "none", "--no-cache", "-t", "ev-label:1")
    label_cid, run_cid = (next(e["Actor"]["ID"] for e in events if e["Actor"]["ID"].startswith(s))
                          for s in _running_in(out))
    ctr = [(e["Action"], e["Actor"]["ID"], e["Actor"]["Attributes"]) for e in events if e["Type"] == "container"]
    assert [(a, c) for a, c, _ in ctr] == [("create", label_cid), ("destroy", label_cid)] + [
        (a, run_cid) for a in ("create", "attach", "start", "die", "destroy")]
    base = _image_id(bd, "busybox")
    assert ctr[0][2]["image"] == base and ctr[0][2]["com.example.k"] == "v"
    from_id, label_id, run_id = re.findall(r"(?m)^ ---> ([0-9a-f]{12})$", out)  # each step's image
    assert base.startswith("sha256:" + from_id) and _image_id(bd, "ev-label:1").startswith("sha256:" + run_id)
    assert ctr[2][2]["image"].startswith("sha256:" + label_id) and len(ctr[2][2]["image"]) == 71
    assert ctr[2][2]["com.example.k"] == "v"
    out, again = _build_events(bd, ctx, "--network", "none", "-t", "ev-label:1")
    assert "Using cache" in out and [e for e in again if e["Type"] == "container"] == []


def test_failed_run_dies_with_its_code(bd: Daemon, tmp_path: Path) -> None:
    """dockerd keeps a failed RUN's container (no --force-rm); Skiff removes it, so it says destroy."""
    ctx = write(tmp_path / "ctx", {"Dockerfile": "FROM busybox\nRUN exit 3\n"})
    out, events = _build_events(bd, ctx, "--network", "none", "--no-cache")
    assert "returned a non-zero code: 3" in out
    ctr = [e for e in events if e["Type"] == "container"]
    assert [e["Action"] for e in ctr] == ["create", "attach", "start", "die", "destroy"]
    assert ctr[3]["Actor"]["Attributes"]["exitCode"] == "3"
