"""End to end against dockerd: the same Dockerfile and context through ``DOCKER_BUILDKIT=0 docker build``
on a private dockerd and on skiffd give the same image config, history, step lines, RUN output
and container output (dockerd here is 20.10: no heredocs). (tests/integration/build compares the library alone; this goes through
POST /build, the engine's RUN containers and commits.)"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.build.dockerd import Dockerd
from tests.integration.build.test_vs_dockerd import DOCKERFILE, normalize_history, steps
from tests.integration.build_api.conftest import write
from tests.support.daemon import Daemon

pytestmark = [
    pytest.mark.root,
    pytest.mark.slow,
    pytest.mark.skipif(not shutil.which("dockerd"), reason="needs dockerd"),
]

BASE = "cmpbase"
RUN_DOCKERFILE = f"""\
FROM {BASE}
ARG V=3
ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
WORKDIR /w
COPY files/ ./
RUN echo "v=$V" > out && ls -a >> out && cat a.txt >> out && echo to-stderr >&2
RUN ["sh", "-c", "echo exec-form >> /w/out"]
USER 65534
CMD ["cat", "/w/out"]
"""


@pytest.fixture(scope="module")
def dockerd(bd: Daemon, busybox_rootfs_cache: Path) -> Iterator[Dockerd]:
    short = Path(tempfile.mkdtemp(prefix="skd-"))
    tar = short / "busybox.tar"
    subprocess.run(["tar", "-C", str(busybox_rootfs_cache), "-cf", str(tar), "."], check=True)
    d = Dockerd(short / "d")
    try:
        d.docker("import", str(tar), BASE)
        r = bd.docker("import", str(tar), BASE)  # the same base on skiffd, made the same way
        assert r.returncode == 0, r.stderr
        yield d
    finally:
        d.close()
        subprocess.run(["rm", "-rf", "--one-file-system", str(short)], check=False)


def _result(run: Any, tag: str, ctx: Path, *args: str) -> tuple[dict[str, Any], list[str], str]:
    built = run("build", *args, "-t", tag, str(ctx))
    assert built.returncode == 0, built.stdout + built.stderr
    config: dict[str, Any] = json.loads(run("image", "inspect", tag).stdout)[0]["Config"]
    raw = run("history", "--no-trunc", "--format", "{{json .}}", tag).stdout.splitlines()
    return config, [json.loads(x)["CreatedBy"] for x in reversed(raw)], built.stdout


def _skiff(bd: Daemon) -> Any:
    return lambda *a: bd.docker(*a)


def _docker(d: Dockerd) -> Any:
    return lambda *a: d.docker(*a, check=False)


def test_config_history_steps_like_dockerd(bd: Daemon, dockerd: Dockerd, tmp_path: Path) -> None:
    ctx = write(tmp_path / "ctx", {"Dockerfile": DOCKERFILE.replace("FROM busybox", f"FROM {BASE}"),
                                   "app.sh": "#!/bin/sh\necho hi\n", "d/x": "x", "d/y": "y"})
    args = ("--build-arg", "B=2", "--build-arg", "UNUSED=1")
    dc, dh, ds = _result(_docker(dockerd), "cmp", ctx, *args)
    sc, sh, ss = _result(_skiff(bd), "cmp", ctx, *args)
    for cfg in (dc, sc):
        cfg.pop("Image", None)
        (cfg.get("Healthcheck") or {}).pop("StartInterval", None)
    assert sc == dc
    assert normalize_history(sh) == normalize_history(dh)
    assert steps(ss) == steps(ds)


def test_run_output_and_container_like_dockerd(bd: Daemon, dockerd: Dockerd, tmp_path: Path) -> None:
    ctx = write(tmp_path / "ctx", {"Dockerfile": RUN_DOCKERFILE, "files/a.txt": "A\n", "files/.hidden": "h"})
    dc, dh, ds = _result(_docker(dockerd), "runcmp", ctx)
    sc, sh, ss = _result(_skiff(bd), "runcmp", ctx)
    assert sc == dc or {k: v for k, v in sc.items() if k != "Image"} == {k: v for k, v in dc.items() if k != "Image"}
    assert normalize_history(sh) == normalize_history(dh)
    assert steps(ss) == steps(ds)

    def run_lines(out: str) -> list[str]:  # what the RUN steps printed (between Running in / Removed)
        keep, lines = False, []
        for line in out.replace("\x1b[0m", "").splitlines():  # stderr: ESC[91m..ESC[0m as dockerd
            if line.startswith(" ---> Running in"):
                keep = True
            elif line.startswith((" ---> ", "Removing intermediate container")):  # 20.10's form
                keep = False
            elif keep:
                lines.append(line)
        return lines
    assert run_lines(ss) == run_lines(ds)
    assert "\x1b[91mto-stderr\n\x1b[0m" in ss
    d_out = dockerd.docker("run", "--rm", "--network", "none", "runcmp", check=False).stdout
    s_out = bd.docker("run", "--rm", "--network", "none", "runcmp").stdout
    assert s_out == d_out
    assert "v=3" in s_out and "exec-form" in s_out
