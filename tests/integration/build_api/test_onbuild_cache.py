"""ONBUILD parent/child, cache mounts, secrets, the build cache (hits, content keys, restarts,
--no-cache, builder prune)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from tests.integration.build_api.conftest import CLIS, build, run_image, write
from tests.support.daemon import Daemon

pytestmark = pytest.mark.root


@pytest.mark.parametrize("cli", CLIS)
def test_onbuild_parent_child(bd: Daemon, tmp_path: Path, cli: str) -> None:
    parent = write(tmp_path / "parent", {"Dockerfile": (
        "FROM busybox\nWORKDIR /app\n"
        "ONBUILD COPY . /app/src\n"
        "ONBUILD RUN ls /app/src > /app/manifest\n"
        'CMD ["cat", "/app/manifest"]\n')})
    pref = f"onbuild-parent-{cli}"
    assert build(bd, cli, parent, "-t", pref).returncode == 0
    triggers = json.loads(bd.docker("image", "inspect", "-f", "{{json .Config.OnBuild}}", pref).stdout)
    assert triggers == ["COPY . /app/src", "RUN ls /app/src > /app/manifest"]
    child = write(tmp_path / "child", {"Dockerfile": f"FROM {pref}\nRUN echo child\n", "one.txt": "1",
                                       "two.txt": "2"})
    cref = f"onbuild-child-{cli}"
    r = build(bd, cli, child, "-t", cref)
    assert r.returncode == 0, r.stderr
    assert "# Executing 2 build triggers" in r.stdout
    assert run_image(bd, cref).split() == ["Dockerfile", "one.txt", "two.txt"]
    # triggers run once: the child image does not carry them
    assert bd.docker("image", "inspect", "-f", "{{json .Config.OnBuild}}", cref).stdout.strip() in ("null", "[]")


@pytest.mark.parametrize("cli", CLIS)
def test_cache_mount_persists_between_builds(bd: Daemon, tmp_path: Path, cli: str) -> None:
    df = ("FROM busybox\nARG N\n"
          f"RUN --mount=type=cache,id=counter-{cli},target=/var/cache/c "
          "echo run-$N >> /var/cache/c/log && wc -l < /var/cache/c/log > /count\n"
          "CMD cat /count\n")
    ctx = write(tmp_path / "c", {"Dockerfile": df})
    for n in (1, 2, 3):
        r = build(bd, cli, ctx, "-t", f"cachemount-{cli}", "--build-arg", f"N={n}")
        assert r.returncode == 0, r.stderr
        assert run_image(bd, f"cachemount-{cli}").strip() == str(n)
    # nothing of the cache is in the image
    r = bd.docker("run", "--rm", f"cachemount-{cli}", "sh", "-c", "ls -A /var/cache/c 2>&1; true")
    assert "log" not in r.stdout


def test_secret_is_never_in_a_layer_or_the_history(bd: Daemon, tmp_path: Path) -> None:
    secret = tmp_path / "token.txt"
    secret.write_text("s3cr3t-value")
    digest = hashlib.md5(b"s3cr3t-value").hexdigest()  # the Dockerfile names only a digest of it
    ctx = write(tmp_path / "c", {"Dockerfile": (
        "FROM busybox\n"
        f"RUN --mount=type=secret,id=token md5sum /run/secrets/token | grep -q {digest} && echo ok > /checked\n"
        "RUN --mount=type=secret,id=token,target=/etc/tok,mode=0400 wc -c < /etc/tok > /len\n"
        f"RUN --mount=type=secret,id=token,env=TOKEN printf %s \"$TOKEN\" | md5sum | grep -q {digest} "
        "&& echo env-ok > /env\n"
        "CMD cat /checked /len /env\n")})
    r = bd.skiff("build", "--secret", f"id=token,src={secret}", "-t", "secrets", str(ctx))
    assert r.returncode == 0, r.stdout + r.stderr
    assert run_image(bd, "secrets").split() == ["ok", "12", "env-ok"]
    hist = bd.docker("history", "--no-trunc", "secrets").stdout
    assert "s3cr3t" not in hist
    saved = tmp_path / "img.tar"
    assert bd.docker("save", "-o", str(saved), "secrets").returncode == 0
    data = saved.read_bytes()
    assert b"s3cr3t-value" not in data
    r = bd.docker("run", "--rm", "secrets", "sh", "-c", "ls -A /run/secrets /etc/tok 2>&1; true")
    assert "token" not in r.stdout and "No such file" in r.stdout


def test_missing_required_secret_fails(bd: Daemon, tmp_path: Path) -> None:
    ctx = write(tmp_path / "c", {"Dockerfile": "FROM busybox\nRUN --mount=type=secret,id=nope,required cat /run/secrets/nope\n"})
    r = bd.skiff("build", "-t", "nosecret", str(ctx))
    assert r.returncode == 1
    assert "secret nope: not found" in r.stderr


def test_cache_by_content_and_restart(bd: Daemon, tmp_path: Path) -> None:
    ctx = write(tmp_path / "c", {"Dockerfile": "FROM busybox\nCOPY a.txt /a\nRUN cat /a > /b\nCMD cat /b\n",
                                 "a.txt": "one\n"})
    r1 = build(bd, "docker", ctx, "-t", "cached")
    assert r1.returncode == 0
    (ctx / "a.txt").touch()  # a new mtime, same content: still a hit
    r2 = build(bd, "skiff", ctx, "-t", "cached")
    assert r2.stdout.count("Using cache") == 3, r2.stdout
    bd.restart()
    r3 = build(bd, "docker", ctx, "-t", "cached")
    assert r3.stdout.count("Using cache") == 3, r3.stdout
    (ctx / "a.txt").write_text("two\n")
    r4 = build(bd, "docker", ctx, "-t", "cached")
    assert "Using cache" not in r4.stdout
    assert run_image(bd, "cached") == "two\n"
    r5 = build(bd, "docker", ctx, "-t", "cached", "--no-cache")
    assert "Using cache" not in r5.stdout
    r = bd.skiff("builder", "prune", "-f")
    assert r.returncode == 0 and "Total reclaimed space" in r.stdout
    r6 = build(bd, "docker", ctx, "-t", "cached")
    assert "Using cache" not in r6.stdout


def test_daemon_killed_during_a_run_step(bd: Daemon, tmp_path: Path) -> None:
    """A kill -9 mid-RUN: after the restart the RUN container and its workspace are gone, nothing
    is tagged, and the next build works."""
    import subprocess
    import time

    ctx = write(tmp_path / "c", {"Dockerfile": "FROM busybox\nRUN echo go && sleep 300\n"})
    proc = subprocess.Popen(["docker", "build", "-t", "killed", str(ctx)], env=bd.env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            if line.strip() == "go":
                break
        run_dir = bd.data_root / "builds" / "run"
        cids = [d.name for d in run_dir.iterdir()]
        assert len(cids) == 1
        bd.restart(kill=True)
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode != 0
    deadline = time.monotonic() + 10
    while _running_with(cids[0]) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not _running_with(cids[0])  # the RUN's runtime process was killed at restart
    assert cids[0] not in bd.docker("network", "inspect", "bridge").stdout  # detached at restart
    assert not list((bd.data_root / "builds" / "ws").iterdir())
    assert not list((bd.data_root / "builds" / "run").iterdir())
    mounts = Path("/proc/self/mountinfo").read_text()
    assert str(bd.data_root / "builds") not in mounts
    assert "killed:latest" not in bd.docker("images", "--format", "{{.Repository}}:{{.Tag}}").stdout
    write(ctx, {"Dockerfile": "FROM busybox\nRUN echo again > /a\nCMD cat /a\n"})
    assert build(bd, "docker", ctx, "-t", "after-kill").returncode == 0
    assert run_image(bd, "after-kill") == "again\n"


def _running_with(word: str) -> bool:
    for p in Path("/proc").iterdir():
        if p.name.isdigit():
            try:
                if word in (p / "cmdline").read_bytes().decode(errors="replace"):
                    return True
            except OSError:
                continue
    return False
