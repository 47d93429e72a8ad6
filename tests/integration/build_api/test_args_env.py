"""ARG/ENV substitution matrix: Docker's word expansion per instruction, build args, scope."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.build_api.conftest import CLIS, build, run_image, write
from tests.support.daemon import Daemon

pytestmark = pytest.mark.root

DOCKERFILE = r"""ARG BASE=busybox
FROM ${BASE}
ARG A=default_a
ARG B
ARG C=c_default
ENV E1=$A E2=${B:-fallback} E3=${A:+set} E4=${UNSET-dash} E5=\$A E6="${A}_suffix"
ENV E7=${B+b_is_set} E8=${C}
WORKDIR /w/$A
RUN echo "A=$A B=$B C=$C" > /build-time && echo "E1=$E1 E2=$E2 E3=$E3 E4=$E4 E5=$E5 E6=$E6 E7=$E7 E8=$E8" >> /build-time && pwd >> /build-time
LABEL from.arg=$A
CMD cat /build-time; echo "runtime A=${A:-none} E1=$E1"
"""


@pytest.mark.parametrize("cli", CLIS)
def test_matrix_defaults(bd: Daemon, tmp_path: Path, cli: str) -> None:
    ctx = write(tmp_path / "c", {"Dockerfile": DOCKERFILE})
    ref = f"argenv-default-{cli}"
    r = build(bd, cli, ctx, "-t", ref)
    assert r.returncode == 0, r.stderr
    out = run_image(bd, ref).splitlines()
    assert out == [
        "A=default_a B= C=c_default",
        "E1=default_a E2=fallback E3=set E4=dash E5=$A E6=default_a_suffix E7= E8=c_default",
        "/w/default_a",
        "runtime A=none E1=default_a",
    ]
    assert bd.docker("image", "inspect", "-f", "{{index .Config.Labels \"from.arg\"}}", ref).stdout.strip() == "default_a"


@pytest.mark.parametrize("cli", CLIS)
def test_matrix_given(bd: Daemon, tmp_path: Path, cli: str) -> None:
    ctx = write(tmp_path / "c", {"Dockerfile": DOCKERFILE})
    ref = f"argenv-given-{cli}"
    r = build(bd, cli, ctx, "-t", ref, "--build-arg", "A=given", "--build-arg", "B=bee",
              "--build-arg", "UNUSED=1")
    assert r.returncode == 0, r.stderr
    assert "[Warning] One or more build-args [UNUSED] were not consumed" in r.stdout
    out = run_image(bd, ref).splitlines()
    assert out[:3] == [
        "A=given B=bee C=c_default",
        "E1=given E2=bee E3=set E4=dash E5=$A E6=given_suffix E7=b_is_set E8=c_default",
        "/w/given",
    ]
    hist = bd.docker("history", "--no-trunc", "--format", "{{.CreatedBy}}", ref).stdout
    assert "|3 A=given B=bee C=c_default /bin/sh -c echo" in hist  # build args shown on RUN, as docker


@pytest.mark.parametrize("cli", CLIS)
def test_arg_before_from_and_target_stage(bd: Daemon, tmp_path: Path, cli: str) -> None:
    ctx = write(tmp_path / "c", {"Dockerfile": (
        "ARG V=1\n"
        "FROM busybox AS one\nARG V\nRUN echo one-$V > /o\n"
        "FROM busybox AS two\nRUN echo two > /o\n"
        "FROM one\nRUN echo final >> /o\n")})
    ref = f"target-{cli}"
    r = build(bd, cli, ctx, "-t", ref, "--target", "one", "--build-arg", "V=7")
    assert r.returncode == 0, r.stderr
    assert "echo two" not in r.stdout  # only the stages needed are built
    assert run_image(bd, ref, "cat", "/o") == "one-7\n"
