"""linux.seccomp through ``skiff-runtime run``: busybox in a container sees the filter."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from tests.integration.runtime.fake_container import RunHelper, make_bundle, rt

pytestmark = [pytest.mark.root]
__all__ = ["rt"]


def _seccomp(errno_ret: int | None = None, **extra: Any) -> dict[str, Any]:
    rule: dict[str, Any] = {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"}
    if errno_ret is not None:
        rule["errnoRet"] = errno_ret
    return {"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"],
            "syscalls": [rule], **extra}


def _run(rt: RunHelper, bundle: Path) -> tuple[str, str]:
    r = rt("run", "--bundle", str(bundle), rt.new_id())
    return r.stdout, r.stderr


@pytest.mark.parametrize("nnp", [True, False])
def test_blocked_syscall_fails_with_eperm(rt: RunHelper, busybox_rootfs: Path, tmp_path: Path, nnp: bool) -> None:
    b = make_bundle(tmp_path / "b", busybox_rootfs, ["sh", "-c", "mkdir /tmp/d; echo rc=$?; touch /tmp/f && echo ok"],
                    {"seccomp": _seccomp()})
    import json

    cfg = json.loads((b / "config.json").read_text())
    cfg["process"]["noNewPrivileges"] = nnp
    (b / "config.json").write_text(json.dumps(cfg))
    out, err = _run(rt, b)
    assert "rc=1" in out and "ok" in out, (out, err)
    assert "Operation not permitted" in err
    assert not (busybox_rootfs / "tmp/d").exists() and (busybox_rootfs / "tmp/f").exists()


def test_errno_ret_reaches_the_program(rt: RunHelper, busybox_rootfs: Path, tmp_path: Path) -> None:
    b = make_bundle(tmp_path / "b", busybox_rootfs, ["mkdir", "/tmp/d"], {"seccomp": _seccomp(errno_ret=38)})
    _out, err = _run(rt, b)
    assert "Function not implemented" in err  # ENOSYS


def test_cached_filter_reused(rt: RunHelper, busybox_rootfs: Path, tmp_path: Path,
                              monkeypatch: pytest.MonkeyPatch) -> None:
    cache = tmp_path / "cache"
    monkeypatch.setenv("SKIFF_SECCOMP_CACHE", str(cache))
    b = make_bundle(tmp_path / "b", busybox_rootfs, ["mkdir", "/tmp/d"], {"seccomp": _seccomp(errno_ret=38)})
    _run(rt, b)
    entries = list(cache.iterdir())
    assert len(entries) == 1
    mtime = entries[0].stat().st_mtime_ns
    _out, err = _run(rt, b)
    assert "Function not implemented" in err
    assert list(cache.iterdir()) == entries and entries[0].stat().st_mtime_ns == mtime


def test_notify_refused_clearly(rt: RunHelper, busybox_rootfs: Path, tmp_path: Path) -> None:
    spec = {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"}]}
    b = make_bundle(tmp_path / "b", busybox_rootfs, ["true"], {"seccomp": spec})
    cid = rt.new_id()
    r = rt("run", "--bundle", str(b), cid)
    assert r.returncode != 0 and "SCMP_ACT_NOTIFY" in r.stderr
    assert rt("state", cid).returncode != 0  # nothing left behind


CONTAINERS_PROFILE = Path("/usr/share/containers/seccomp.json")


def _oci_from_containers_profile(caps: set[str]) -> dict[str, Any]:
    """containers-common's default profile (Docker's format) as an engine would hand it to the
    runtime: rules picked for amd64 and the container's capabilities, archMap flattened."""
    import json

    raw = json.loads(CONTAINERS_PROFILE.read_text())
    arch = next(a for a in raw["archMap"] if a["architecture"] == "SCMP_ARCH_X86_64")
    rules = []
    for s in raw["syscalls"]:
        inc, exc = s.get("includes") or {}, s.get("excludes") or {}
        if inc.get("arches") and "amd64" not in inc["arches"]:
            continue
        if inc.get("caps") and not set(inc["caps"]) <= caps:
            continue
        if exc.get("caps") and set(exc["caps"]) & caps:
            continue
        rules.append({k: v for k, v in s.items() if k in ("names", "action", "args", "errnoRet")})
    return {"defaultAction": raw["defaultAction"], "defaultErrnoRet": raw.get("defaultErrnoRet", 1),
            "architectures": [arch["architecture"], *arch["subArchitectures"]], "syscalls": rules}


@pytest.mark.skipif(not CONTAINERS_PROFILE.exists(), reason="containers-common's seccomp.json not installed")
def test_real_default_profile_runs_busybox(rt: RunHelper, busybox_rootfs: Path, tmp_path: Path) -> None:
    """A real-world default-deny profile (about 400 allowed syscalls): ordinary commands work under it."""
    import json

    caps = set(json.loads(subprocess_spec_caps(tmp_path)))
    script = "ls / >/dev/null && mkdir /tmp/x && ps >/dev/null && echo ok; grep Seccomp: /proc/self/status"
    b = make_bundle(tmp_path / "b", busybox_rootfs, ["sh", "-c", script],
                    {"seccomp": _oci_from_containers_profile(caps)})
    out, err = _run(rt, b)
    assert "ok" in out and out.split()[-2:] == ["Seccomp:", "2"], (out, err)  # 2: filter mode


def subprocess_spec_caps(tmp_path: Path) -> str:
    """The bounding capabilities of ``skiff-runtime spec``'s default config, as JSON."""
    import json
    import subprocess

    from tests.integration.runtime.fake_container import RUNTIME

    d = tmp_path / "spec"
    d.mkdir()
    subprocess.run([RUNTIME, "spec", "--bundle", str(d)], check=True)
    return json.dumps(json.loads((d / "config.json").read_text())["process"]["capabilities"]["bounding"])
