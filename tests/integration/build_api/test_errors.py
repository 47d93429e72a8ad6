"""Bad input: Docker's messages with the line, a non-zero exit, and nothing tagged."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.build_api.conftest import CLIS, build, tags, write
from tests.support.daemon import Daemon

pytestmark = pytest.mark.root


@pytest.mark.parametrize("cli", CLIS)
def test_unknown_instruction(bd: Daemon, tmp_path: Path, cli: str) -> None:
    ctx = write(tmp_path / "c", {"Dockerfile": "FROM busybox\nRUN true\nFOO bar\n"})
    r = build(bd, cli, ctx, "-t", f"bad-unknown-{cli}")
    assert r.returncode == 1
    assert "dockerfile parse error on line 3: unknown instruction: FOO" in r.stderr
    assert f"bad-unknown-{cli}:latest" not in tags(bd)


@pytest.mark.parametrize("cli", CLIS)
def test_syntax_error(bd: Daemon, tmp_path: Path, cli: str) -> None:
    ctx = write(tmp_path / "c", {"Dockerfile": "FROM busybox\nENV\nRUN true\n"})
    r = build(bd, cli, ctx, "-t", f"bad-syntax-{cli}")
    assert r.returncode == 1
    assert "line 2" in r.stderr and "ENV" in r.stderr, r.stderr
    assert f"bad-syntax-{cli}:latest" not in tags(bd)


@pytest.mark.parametrize("cli", CLIS)
def test_missing_copy_source(bd: Daemon, tmp_path: Path, cli: str) -> None:
    ctx = write(tmp_path / "c", {"Dockerfile": "FROM busybox\nRUN echo one\nCOPY nothere /x\n"})
    r = build(bd, cli, ctx, "-t", f"bad-copy-{cli}")
    assert r.returncode == 1
    assert "Step 3/3 : COPY nothere /x" in r.stdout
    assert ("COPY failed: file not found in build context or excluded by .dockerignore: "
            "stat nothere: file does not exist") in r.stderr
    assert f"bad-copy-{cli}:latest" not in tags(bd)


@pytest.mark.parametrize("cli", CLIS)
def test_failing_run(bd: Daemon, tmp_path: Path, cli: str) -> None:
    ctx = write(tmp_path / "c", {"Dockerfile": "FROM busybox\nRUN echo before\nRUN echo oops >&2; exit 3\n"})
    r = build(bd, cli, ctx, "-t", f"bad-run-{cli}")
    assert r.returncode == 3, (r.stdout, r.stderr)  # docker exits with the RUN's code
    assert "Step 3/3 : RUN echo oops >&2; exit 3" in r.stdout
    assert "oops" in r.stdout
    assert "The command '/bin/sh -c echo oops >&2; exit 3' returned a non-zero code: 3" in r.stderr
    assert f"bad-run-{cli}:latest" not in tags(bd)


@pytest.mark.parametrize("cli", CLIS)
def test_failed_rebuild_keeps_the_old_tag(bd: Daemon, tmp_path: Path, cli: str) -> None:
    ref = f"keep-{cli}"
    ctx = write(tmp_path / "c", {"Dockerfile": "FROM busybox\nRUN echo v1 > /v\n"})
    assert build(bd, cli, ctx, "-t", ref).returncode == 0
    old = bd.docker("image", "inspect", "-f", "{{.Id}}", ref).stdout.strip()
    write(ctx, {"Dockerfile": "FROM busybox\nRUN echo v2 > /v\nRUN false\n"})
    assert build(bd, cli, ctx, "-t", ref).returncode == 1
    assert bd.docker("image", "inspect", "-f", "{{.Id}}", ref).stdout.strip() == old


def test_bad_tag_is_refused_before_the_build(bd: Daemon, tmp_path: Path) -> None:
    ctx = write(tmp_path / "c", {"Dockerfile": "FROM busybox\nRUN echo should-not-run\n"})
    r = build(bd, "docker", ctx, "-t", "Bad:Tag")
    assert r.returncode != 0
    assert "should-not-run" not in r.stdout
    assert "invalid reference format" in r.stderr


def test_missing_base_image(bd: Daemon, tmp_path: Path) -> None:
    ctx = write(tmp_path / "c", {"Dockerfile": "FROM 127.0.0.1:1/nothing/here:v1\nRUN true\n"})
    r = build(bd, "docker", ctx, "-t", "nobase")
    assert r.returncode == 1
    assert "Step 1/2 : FROM 127.0.0.1:1/nothing/here:v1" in r.stdout
    assert "nobase:latest" not in tags(bd)


@pytest.mark.parametrize("cli", CLIS)
def test_foreign_platform_is_refused(bd: Daemon, tmp_path: Path, cli: str) -> None:
    ctx = write(tmp_path / "c", {"Dockerfile": "FROM busybox\nRUN echo should-not-run\n"})
    r = build(bd, cli, ctx, "--platform", "linux/s390x", "-t", f"foreign-{cli}")
    assert r.returncode == 1
    assert "should-not-run" not in r.stdout
    assert 'platform "linux/s390x" is not supported' in r.stderr
    assert f"foreign-{cli}:latest" not in tags(bd)


def test_buildkit_request_is_refused_in_dockers_words(bd: Daemon, tmp_path: Path) -> None:
    ctx = write(tmp_path / "c", {"Dockerfile": "FROM busybox\n"})
    r = bd.docker("build", str(ctx), env={"DOCKER_BUILDKIT": "1"})
    assert r.returncode != 0  # no buildx here: the CLI itself refuses, or the daemon answers version=2
