"""Hooks: all six kinds, in lifecycle order, each with the container state JSON on stdin."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from tests.integration.runtime.conftest import Runtime
from tests.support.bundle import edit_config

pytestmark = pytest.mark.root

KINDS = ["prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"]


@pytest.fixture
def hooked(bundle: Path, tmp_path: Path) -> tuple[Path, Path]:
    log = tmp_path / "hooks.log"
    log.touch()
    script = tmp_path / "hook.sh"
    # Host-side hooks append to the log; startContainer runs inside the container, where the
    # log is bind-mounted at /hooks.log and the hook is the rootfs' own sh.
    # One write per entry: poststart may run while the container process writes its own line.
    script.write_text(f"#!/bin/sh\ns=$(cat)\nprintf '%s %s\\n' \"$1\" \"$s\" >> {log}\n")
    script.chmod(0o755)

    def edit(c: dict) -> None:
        c["mounts"].append({"destination": "/hooks.log", "type": "bind", "source": str(log), "options": ["bind"]})
        c["process"]["args"] = ["sh", "-c", "echo process >> /hooks.log"]
        hooks = {k: [{"path": str(script), "args": ["hook.sh", k], "timeout": 10}] for k in KINDS}
        hooks["startContainer"] = [{"path": "/bin/sh", "args": ["sh", "-c",
                                                                 "{ printf 'startContainer '; cat; echo; } >> /hooks.log"]}]
        c["hooks"] = hooks

    edit_config(bundle, edit)
    return bundle, log


def _entries(log: Path) -> list[tuple[str, dict | None]]:
    out = []
    for line in log.read_text().splitlines():
        kind, _, rest = line.partition(" ")
        out.append((kind, json.loads(rest) if rest else None))
    return out


def test_hooks_run_in_order_with_state(rt: Runtime, hooked: tuple[Path, Path], cid: str) -> None:
    bundle, log = hooked
    rt.ok("create", "-b", str(bundle), cid)
    pid = json.loads(rt.ok("state", cid).out)["pid"]
    rt.ok("start", cid)
    for _ in range(500):
        if json.loads(rt.ok("state", cid).out)["status"] == "stopped":
            break
    rt.ok("delete", cid)
    entries = _entries(log)
    kinds = [k for k, _ in entries]
    assert kinds[:4] == KINDS[:4]
    assert set(kinds[4:6]) == {"process", "poststart"}  # poststart races the process, as the spec allows
    assert kinds[6:] == ["poststop"]
    for kind, state in entries:
        if state is None:
            continue
        assert state["id"] == cid and state["bundle"] == str(bundle), kind
        assert state["pid"] == pid or kind == "poststop", kind
        assert "ociVersion" in state and "status" in state


def test_failing_prestart_hook_aborts_create(rt: Runtime, bundle: Path, cid: str, tmp_path: Path) -> None:
    bad = tmp_path / "bad.sh"
    bad.write_text("#!/bin/sh\nexit 3\n")
    bad.chmod(0o755)
    edit_config(bundle, lambda c: c.update(hooks={"prestart": [{"path": str(bad)}]}))
    r = rt("create", "-b", str(bundle), cid)
    assert r.rc == 1 and "prestart hook" in r.err and "exit status 3" in r.err
    assert not (rt.root / cid).exists()


def test_hook_timeout(rt: Runtime, bundle: Path, cid: str, tmp_path: Path) -> None:
    slow = tmp_path / "slow.sh"
    slow.write_text("#!/bin/sh\nexec sleep 30\n")
    slow.chmod(0o755)
    edit_config(bundle, lambda c: c.update(hooks={"createRuntime": [{"path": str(slow), "timeout": 1}]}))
    r = rt("create", "-b", str(bundle), cid)
    assert r.rc == 1 and "timeout" in r.err
    assert not (rt.root / cid).exists()
    assert os.path.exists(bundle / "rootfs")
