"""skiff.build with RUN for real (chroot into a busybox rootfs), through the directory backend.

The whole client->daemon path minus HTTP: the CLI's context tar (with .dockerignore), the API's
extract_context, the Builder, real /bin/sh for RUN, real mounts for --mount.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest

from skiff.build.builder import Builder, BuildError, BuildOptions, BuildResult
from skiff.build.cache import JsonCacheStore
from skiff.build.context import extract_context
from skiff.build.dockerignore import IgnoreMatcher, read_ignore_file, trim_build_files, write_context_tar
from tests.integration.build.dir_backend import DirBackend

pytestmark = pytest.mark.root

Build = Callable[..., tuple[BuildResult, str]]


@pytest.fixture
def backend(tmp_path: Path, busybox_rootfs_cache: Path) -> DirBackend:
    b = DirBackend(tmp_path / "engine")
    b.add_base("busybox", busybox_rootfs_cache)
    return b


@pytest.fixture
def build(tmp_path: Path, backend: DirBackend) -> Build:
    cache = JsonCacheStore(tmp_path / "buildcache")
    n = [0]

    def run(dockerfile: str, files: Mapping[str, str] | None = None, **opts: Any) -> tuple[BuildResult, str]:
        n[0] += 1
        ctx = tmp_path / f"ctx{n[0]}"
        ctx.mkdir()
        (ctx / "Dockerfile").write_text(dockerfile)
        for rel, data in (files or {}).items():
            p = ctx / rel
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_text(data)
        buf = io.BytesIO()
        write_context_tar(
            ctx, buf, IgnoreMatcher(trim_build_files(read_ignore_file(ctx / ".dockerignore"), "Dockerfile"))
        )
        buf.seek(0)
        context = extract_context(buf)
        messages: list[Mapping[str, Any]] = []
        try:
            result = Builder(backend, cache).build(context, BuildOptions(**opts), messages.append)
        finally:
            context.close()
        return result, "".join(m.get("stream", "") for m in messages)

    return run


def read(backend: DirBackend, image_id: str, path: str) -> str:
    return (backend.fs[image_id] / path.lstrip("/")).read_text()


def test_arg_env_substitution_runs_in_a_real_shell(build: Build, backend: DirBackend) -> None:
    df = """\
FROM busybox
ARG NAME=world
ARG MODE
ENV GREETING="hello ${NAME}" HOME_DIR=/srv/${NAME:-none}
RUN echo "$GREETING from ${MODE:-default} in $HOME_DIR" > /out.txt
RUN echo '$GREETING stays literal' > /literal.txt
"""
    res, _ = build(df, build_args={"MODE": "ci"})
    assert read(backend, res.image_id, "/out.txt") == "hello world from ci in /srv/world\n"
    assert read(backend, res.image_id, "/literal.txt") == "$GREETING stays literal\n"


def test_heredocs(build: Build, backend: DirBackend) -> None:
    df = """\
FROM busybox
RUN <<EOF
echo one > /a
echo two >> /a
EOF
RUN <<EOF
#!/bin/sh
echo "from a script: $0" > /b
EOF
COPY <<EOF /etc/app.conf
name=app
EOF
RUN cat <<A > /c && cat <<B >> /c
first
A
second
B
"""
    res, _ = build(df)
    assert read(backend, res.image_id, "/a") == "one\ntwo\n"
    assert read(backend, res.image_id, "/b") == "from a script: /dev/pipes/EOF\n"
    assert read(backend, res.image_id, "/etc/app.conf") == "name=app\n"
    assert read(backend, res.image_id, "/c") == "first\nsecond\n"
    assert not (backend.fs[res.image_id] / "dev/pipes").exists()


def test_multistage_copy_from_builder(build: Build, backend: DirBackend) -> None:
    df = """\
FROM busybox AS builder
WORKDIR /src
COPY main.c .
RUN mkdir -p /out && sed 's/SOURCE/BINARY/' main.c > /out/app && chmod 755 /out/app
FROM busybox
COPY --from=builder /out/app /usr/local/bin/app
CMD ["/usr/local/bin/app"]
"""
    res, out = build(df, {"main.c": "SOURCE code\n"}, tags=("app",))
    assert read(backend, res.image_id, "/usr/local/bin/app") == "BINARY code\n"
    assert "Successfully tagged app:latest" in out
    assert not (backend.fs[res.image_id] / "src").exists()


def test_dockerignore_end_to_end(build: Build, backend: DirBackend) -> None:
    files = {".dockerignore": "*.log\nsecret/\n!secret/public.txt\n", "a.txt": "a", "b.log": "b",
             "secret/key": "k", "secret/public.txt": "p"}  # fmt: skip
    res, _ = build("FROM busybox\nCOPY . /ctx/\nRUN ls -A /ctx | sort > /listing\n", files)
    assert read(backend, res.image_id, "/listing").split() == [
        ".dockerignore",
        "Dockerfile",
        "a.txt",
        "secret",
    ]
    assert (backend.fs[res.image_id] / "ctx/secret/public.txt").exists()
    assert not (backend.fs[res.image_id] / "ctx/secret/key").exists()


def test_cache_mount_persists_between_builds(build: Build, backend: DirBackend) -> None:
    df = "FROM busybox\nRUN --mount=type=cache,target=/cache echo run >> /cache/log && wc -l < /cache/log > /count\n"
    first, _ = build(df, no_cache=True)
    second, _ = build(df, no_cache=True)
    assert read(backend, first.image_id, "/count").strip() == "1"
    assert read(backend, second.image_id, "/count").strip() == "2"
    assert not (backend.fs[second.image_id] / "cache").exists()


def test_secret_is_usable_but_never_stored(build: Build, backend: DirBackend) -> None:
    df = "FROM busybox\nRUN --mount=type=secret,id=token wc -c < /run/secrets/token > /len\n"
    res, _ = build(df, secrets={"token": b"s3cr3t"})
    fs = backend.fs[res.image_id]
    assert (fs / "len").read_text().strip() == "6" and not (fs / "run/secrets").exists()
    assert all("s3cr3t" not in h.created_by for h in backend.images[res.image_id].config.history)


def test_user_and_workdir_apply_to_run(build: Build, backend: DirBackend) -> None:
    res, _ = build("FROM busybox\nWORKDIR /tmp\nUSER nobody\nRUN id -u > me && pwd >> me\n")
    assert read(backend, res.image_id, "/tmp/me") == "65534\n/tmp\n"


def test_failing_run_and_cached_rebuild(build: Build, backend: DirBackend) -> None:
    with pytest.raises(BuildError) as e:
        build("FROM busybox\nRUN echo before\nRUN exit 3\n", tags=("broken",))
    assert str(e.value) == "The command '/bin/sh -c exit 3' returned a non-zero code: 3"
    assert backend.tags == {}
    df = "FROM busybox\nRUN echo built > /f\n"
    first, _ = build(df)
    second, out = build(df)
    assert second.image_id == first.image_id and " ---> Using cache" in out
