"""The same Dockerfile through dockerd's classic builder and through skiff.build: same image.

Compares the image config (``docker image inspect`` Config), the history lines byte for byte
(COPY's ``file:``/``dir:`` tarsum hashes included) and the step lines of the stream. Known,
deliberate differences are normalized: ``Config.Image`` (the legacy parent field), the
HealthConfig's StartInterval (absent before Docker 25; Skiff writes Docker 28's form) and
dockerd 20.10's "Removing intermediate container" line (28 writes " ---> Removed ...").
"""

from __future__ import annotations

import io
import json
import re
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import pytest

from skiff.build.builder import Builder, BuildOptions
from skiff.build.cache import MemoryCacheStore
from skiff.build.context import BuildContext, extract_context
from skiff.build.dockerignore import write_build_context
from skiff.oci.image_spec import ContainerConfig
from tests.integration.build.dir_backend import DirBackend
from tests.integration.build.dockerd import Dockerd

pytestmark = [
    pytest.mark.root,
    pytest.mark.slow,
    pytest.mark.skipif(not shutil.which("dockerd") or not shutil.which("docker"), reason="needs dockerd"),
]

DOCKERFILE = """\
FROM busybox
ARG A=1
ARG B
LABEL title="demo app" version=$A
ENV APP=/app \\
    GREETING="hello world"
WORKDIR $APP
COPY app.sh ./
COPY d /dd/
RUN echo building $A $B
EXPOSE 8080 53/udp 9000-9001
VOLUME /data ["/x"]
USER nobody
STOPSIGNAL SIGINT
HEALTHCHECK --interval=30s --timeout=3s --retries=3 CMD wget -q -O- localhost:8080 || exit 1
SHELL ["/bin/sh", "-xc"]
ONBUILD RUN echo child
MAINTAINER someone
ENTRYPOINT ["/app/app.sh"]
CMD ["--serve"]
"""


def sent_context(ctx: Path) -> BuildContext:
    """The context as the docker CLI sends it and dockerd receives it."""
    buf = io.BytesIO()
    name = write_build_context(ctx, buf, ctx / "Dockerfile")
    buf.seek(0)
    return extract_context(buf, name)


def normalize_history(lines: list[str]) -> list[str]:
    out = []
    for line in lines:
        line = re.sub(r'("\d[^"]*") ("\d[^"]*") ("\d[^"]*") ("\d[^"]*") (\'.*?\')}$', r"\1 \2 \3 \5}", line)
        out.append(line)
    return out


def steps(stream: str) -> list[str]:
    return [line for line in stream.splitlines() if line.startswith(("Step ", "[Warning]"))]


@pytest.fixture
def context(tmp_path: Path) -> Path:
    ctx = tmp_path / "ctx"
    (ctx / "d").mkdir(parents=True)
    (ctx / "Dockerfile").write_text(DOCKERFILE)
    (ctx / "app.sh").write_text("#!/bin/sh\necho hi\n")
    (ctx / "d/x").write_text("x")
    (ctx / "d/y").write_text("y")
    return ctx


def test_same_config_history_and_steps_as_dockerd(
    tmp_path: Path, busybox_rootfs_cache: Path, context: Path
) -> None:
    tar = tmp_path / "busybox.tar"
    subprocess.run(["tar", "-C", str(busybox_rootfs_cache), "-cf", str(tar), "."], check=True)
    short = Path(tempfile.mkdtemp(prefix="skd-"))  # containerd's socket path must stay < 108 bytes
    d = Dockerd(short / "d")
    try:
        d.docker("import", str(tar), "busybox")
        built = d.docker("build", "--build-arg", "B=2", "--build-arg", "UNUSED=1", "-t", "cmp", str(context))
        docker_config: dict[str, Any] = json.loads(d.docker("image", "inspect", "cmp").stdout)[0]["Config"]
        raw = d.docker("history", "--no-trunc", "--format", "{{json .}}", "cmp").stdout.splitlines()
        docker_history = [json.loads(x)["CreatedBy"] for x in reversed(raw)]
    finally:
        d.close()
        subprocess.run(["rm", "-rf", "--one-file-system", str(short)], check=False)

    backend = DirBackend(tmp_path / "skiff")
    backend.add_base("busybox", busybox_rootfs_cache, ContainerConfig())  # as `docker import` makes it
    messages: list[Any] = []
    result = Builder(backend, MemoryCacheStore()).build(
        sent_context(context),
        BuildOptions(build_args={"B": "2", "UNUSED": "1"}, tags=("cmp",)),
        messages.append,
    )
    image = backend.images[result.image_id].config
    skiff_config = image.config.to_docker_json()
    skiff_history = [h.created_by for h in image.history]
    stream = "".join(m.get("stream", "") for m in messages)

    docker_config.pop("Image", None)
    skiff_config.pop("Image", None)
    for cfg in (docker_config, skiff_config):
        cfg.get("Healthcheck", {}).pop("StartInterval", None)
    assert skiff_config == docker_config
    assert normalize_history(skiff_history[1:]) == normalize_history(docker_history[1:])
    assert steps(stream) == steps(built.stdout)
    assert image.author == "someone"


@pytest.fixture(scope="module")
def dockerd(busybox_rootfs_cache: Path) -> Any:
    short = Path(tempfile.mkdtemp(prefix="skd-"))
    tar = short / "busybox.tar"
    subprocess.run(["tar", "-C", str(busybox_rootfs_cache), "-cf", str(tar), "."], check=True)
    d = Dockerd(short / "d")
    try:
        d.docker("import", str(tar), "busybox")
        yield d
    finally:
        d.close()
        subprocess.run(["rm", "-rf", "--one-file-system", str(short)], check=False)


ERRORS = [
    ("FROM busybox\nRUN exit 3\n", {}),
    ("FROM busybox\nCOPY nope /x\n", {}),
    ("FROM busybox\nCOPY a b /x\n", {"a": "1", "b": "2"}),
    ("FROM busybox\nCOPY *.none /x/\n", {}),
    ("FROM busybox\nRUN true\nFORM x\n", {}),
    ("FROM busybox\nCOPY --chown=ghost a /a\n", {"a": "1"}),
    ("FROM busybox\nENV A=${X:?need X}\n", {}),
    ("FROM busybox\nONBUILD ONBUILD RUN x\n", {}),
    ("FROM busybox\nEXPOSE 80/xyz\n", {}),
]


@pytest.mark.parametrize(("dockerfile", "files"), ERRORS, ids=[e[0].splitlines()[-1] for e in ERRORS])
def test_same_error_messages_as_dockerd(
    dockerd: Any, tmp_path: Path, busybox_rootfs_cache: Path, dockerfile: str, files: dict[str, str]
) -> None:
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text(dockerfile)
    for name, data in files.items():
        (ctx / name).write_text(data)
    built = dockerd.docker("build", "-t", "err", str(ctx), check=False)
    assert built.returncode != 0
    docker_error = built.stderr.strip().splitlines()[-1].removeprefix("Error response from daemon: ")
    backend = DirBackend(tmp_path / "skiff")
    backend.add_base("busybox", busybox_rootfs_cache, ContainerConfig())
    with pytest.raises(Exception) as e:
        Builder(backend, MemoryCacheStore()).build(sent_context(ctx), BuildOptions(), lambda m: None)
    ours = str(e.value)
    # dockerd 20.10 predates two wording changes Skiff follows (Docker 28 / BuildKit's parser):
    docker_error = docker_error.replace("dockerfile parse error line", "dockerfile parse error on line")
    assert ours == docker_error or ours.startswith(docker_error + " (did you mean"), (ours, docker_error)


def _docker_image(
    d: Any, ctx: Path, tag: str, build_args: dict[str, str]
) -> tuple[dict[str, Any], list[str], str]:
    args = [x for k, v in build_args.items() for x in ("--build-arg", f"{k}={v}")]
    built = d.docker("build", *args, "-t", tag, str(ctx))
    config: dict[str, Any] = json.loads(d.docker("image", "inspect", tag).stdout)[0]["Config"]
    raw = d.docker("history", "--no-trunc", "--format", "{{json .}}", tag).stdout.splitlines()
    return config, [json.loads(x)["CreatedBy"] for x in reversed(raw)], built.stdout


def _skiff_image(
    backend: DirBackend, ctx: Path, tag: str, build_args: dict[str, str]
) -> tuple[dict[str, Any], list[str], str]:
    messages: list[Any] = []
    res = Builder(backend, MemoryCacheStore()).build(
        sent_context(ctx), BuildOptions(build_args=build_args, tags=(tag,)), messages.append
    )
    image = backend.images[res.image_id].config
    backend.names[tag.split(":")[0]] = res.image_id
    return (
        image.config.to_docker_json(),
        [h.created_by for h in image.history],
        "".join(m.get("stream", "") for m in messages),
    )


CASES = {
    "multistage": (
        'FROM busybox AS build\nRUN echo compiled > /app\nFROM scratch\nCOPY --from=build /app /app\nENV A=1\nCMD ["/app"]\n',
        {},
    ),
    "shell-forms": (
        'FROM busybox\nENTRYPOINT top -b\nCMD echo $HOME\nHEALTHCHECK NONE\nSHELL ["/bin/ash", "-c"]\n'
        "RUN echo hi\nENTRYPOINT []\n",
        {},
    ),
    "args": (
        "ARG BASE=busybox\nARG V=global\nFROM $BASE\nARG V\nARG W=dflt\nENV FROMARG=$V W=$W\nARG V=local\n"
        "ENV V=env\nRUN echo $V $W\nLABEL v=$V w=${W:+set} u=${UNSET:-def}\n",
        {"W": "cli", "http_proxy": "http://proxy:3128"},
    ),
    "workdir-user-volume": (
        "FROM busybox\nWORKDIR /a\nWORKDIR b\nUSER 1000:1000\nVOLUME /v1 /v2\nEXPOSE 80/udp 443\nSTOPSIGNAL 9\n",
        {},
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_same_images_as_dockerd(dockerd: Any, tmp_path: Path, busybox_rootfs_cache: Path, case: str) -> None:
    dockerfile, build_args = CASES[case]
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text(dockerfile)
    backend = DirBackend(tmp_path / "skiff")
    backend.add_base("busybox", busybox_rootfs_cache, ContainerConfig())
    dk_cfg, dk_hist, dk_out = _docker_image(dockerd, ctx, f"case-{case}", build_args)
    sk_cfg, sk_hist, sk_out = _skiff_image(backend, ctx, f"case-{case}", build_args)
    for cfg in (dk_cfg, sk_cfg):
        cfg.pop("Image", None)
    assert sk_cfg == dk_cfg
    base = 0 if case == "multistage" else 1  # FROM scratch has no base history
    assert normalize_history(sk_hist[base:]) == normalize_history(dk_hist[base:])
    assert steps(sk_out) == steps(dk_out)


def test_onbuild_parent_and_child_like_dockerd(
    dockerd: Any, tmp_path: Path, busybox_rootfs_cache: Path
) -> None:
    backend = DirBackend(tmp_path / "skiff")
    backend.add_base("busybox", busybox_rootfs_cache, ContainerConfig())
    parent, child = tmp_path / "parent", tmp_path / "child"
    for d, df in (
        (parent, "FROM busybox\nONBUILD COPY marker /marker\nONBUILD RUN echo triggered > /t\n"),
        (child, 'FROM onbuild-parent\nCMD ["cat", "/t"]\n'),
    ):
        d.mkdir()
        (d / "Dockerfile").write_text(df)
    (child / "marker").write_text("m")
    _docker_image(dockerd, parent, "onbuild-parent", {})
    _skiff_image(backend, parent, "onbuild-parent", {})
    dk_cfg, dk_hist, dk_out = _docker_image(dockerd, child, "onbuild-child", {})
    sk_cfg, sk_hist, sk_out = _skiff_image(backend, child, "onbuild-child", {})
    for cfg in (dk_cfg, sk_cfg):
        cfg.pop("Image", None)
    assert sk_cfg == dk_cfg
    assert normalize_history(sk_hist[1:]) == normalize_history(dk_hist[1:])
    assert "# Executing 2 build triggers" in sk_out and "# Executing 2 build triggers" in dk_out
