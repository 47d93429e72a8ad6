"""Dockerfiles in the style of Docker's guides, on the debootstrap'd Debian images (offline):
a single-stage app (the Python guide's layout: requirements first, then the code, a user, CMD),
and a multi-stage build that compiles a static C binary with gcc and copies it into busybox."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.build_api.conftest import CLIS, build, import_image, run_image, write
from tests.integration.build_api.debian_images import debian_gcc_tarball, debian_rootfs_tarball
from tests.support.daemon import Daemon

pytestmark = pytest.mark.root


@pytest.fixture(scope="module")
def deb(bd: Daemon) -> Iterator[Daemon]:
    import_image(bd, debian_rootfs_tarball(), "debian:bookworm")
    yield bd


APP_DOCKERFILE = """\
# syntax=docker/dockerfile:1
ARG DEBIAN_VERSION=bookworm
FROM debian:${DEBIAN_VERSION}
ENV APP_HOME=/app \\
    PYTHONDONTWRITEBYTECODE=1
WORKDIR $APP_HOME
COPY requirements.txt .
RUN --mount=type=cache,target=/root/.cache/pip \\
    mkdir -p /opt/venv/lib && while read -r pkg; do \\
      echo "installed $pkg" >> /opt/venv/lib/installed.txt; \\
      echo "$pkg" >> /root/.cache/pip/seen; \\
    done < requirements.txt
RUN groupadd -r app && useradd -r -g app -d /app -s /usr/sbin/nologin app
COPY --chown=app:app . .
RUN chmod +x app.sh && ls -l app.sh | cut -d' ' -f3,4
USER app
EXPOSE 8000
HEALTHCHECK --interval=30s CMD test -f /app/app.sh
LABEL org.opencontainers.image.title="demo-app"
CMD ["./app.sh"]
"""

APP_SH = """#!/bin/sh
echo "app running as $(id -un) in $(pwd)"
cat /opt/venv/lib/installed.txt
. /etc/os-release && echo "on $ID $VERSION_CODENAME"
"""


@pytest.mark.parametrize("cli", CLIS)
def test_single_stage_app(deb: Daemon, tmp_path: Path, cli: str) -> None:
    ctx = write(tmp_path / "app", {"Dockerfile": APP_DOCKERFILE, "requirements.txt": "flask==3.0\nrequests\n",
                                   "app.sh": APP_SH, ".dockerignore": "*.pyc\n__pycache__\n.git\n",
                                   "junk.pyc": "x", ".git/HEAD": "ref"})
    ref = f"demo-app-{cli}"
    r = build(deb, cli, ctx, "-t", ref, "--no-cache")  # the other CLI's build would be a full cache hit
    assert r.returncode == 0, r.stdout + r.stderr
    assert "app app" in r.stdout  # COPY --chown resolved the names in the image's passwd/group
    out = run_image(deb, ref)
    assert out.splitlines() == ["app running as app in /app", "installed flask==3.0", "installed requests",
                                "on debian bookworm"]
    fmt = "{{.Config.User}}|{{json .Config.ExposedPorts}}|{{json .Config.Cmd}}|{{.Config.WorkingDir}}"
    assert deb.docker("image", "inspect", "-f", fmt, ref).stdout.strip() == \
        'app|{"8000/tcp":{}}|["./app.sh"]|/app'
    files = run_image(deb, ref, "ls", "-A", "/app").split()
    assert sorted(files) == [".dockerignore", "Dockerfile", "app.sh", "requirements.txt"]
    # the cache mount's contents are not in the image (only the mount point's parent, as docker)
    r = deb.docker("run", "--rm", "--network", "none", "-u", "0", ref, "sh", "-c", "ls -A /root/.cache 2>&1; true")
    assert "seen" not in r.stdout and "pip" not in r.stdout, r.stdout


C_SOURCE = """\
#include <stdio.h>
int main(int argc, char **argv) {
    printf("hello from static C, %d args\\n", argc - 1);
    return 0;
}
"""

MULTISTAGE = """\
FROM debian:gcc AS builder
WORKDIR /src
COPY hello.c .
RUN gcc -static -O2 -o /out/hello hello.c 2>/dev/null || (mkdir -p /out && gcc -static -O2 -o /out/hello hello.c)
RUN file /out/hello 2>/dev/null || ls -l /out/hello

FROM busybox AS unused
RUN echo this stage is never built

FROM busybox
COPY --from=builder /out/hello /usr/local/bin/hello
ENTRYPOINT ["/usr/local/bin/hello"]
CMD ["a", "b"]
"""


@pytest.fixture(scope="module")
def gcc(bd: Daemon) -> Iterator[Daemon]:
    import_image(bd, debian_gcc_tarball(), "debian:gcc")
    yield bd


@pytest.mark.parametrize("cli", CLIS)
def test_multistage_static_c_into_busybox(gcc: Daemon, tmp_path: Path, cli: str) -> None:
    ctx = write(tmp_path / "c", {"Dockerfile": MULTISTAGE, "hello.c": C_SOURCE})
    ref = f"hello-c-{cli}"
    r = build(gcc, cli, ctx, "-t", ref)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "never built" not in r.stdout
    assert run_image(gcc, ref) == "hello from static C, 2 args\n"
    assert run_image(gcc, ref, "x") == "hello from static C, 1 args\n"
    # the final image is busybox plus one layer: the binary, no compiler
    layers = gcc.docker("image", "inspect", "-f", "{{len .RootFS.Layers}}", ref).stdout.strip()
    base = gcc.docker("image", "inspect", "-f", "{{len .RootFS.Layers}}", "busybox").stdout.strip()
    assert int(layers) == int(base) + 1
