"""FROM an image that is not local: pulled during the build, with the docker CLI's credentials
(X-Registry-Config) for a registry that needs them; --pull pulls again."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.build_api.conftest import build, run_image, write
from tests.integration.image.conftest import start_registry  # noqa: F401 - reused fixture
from tests.integration.image.registry_fixture import PASSWORD, USER, Registry
from tests.support.daemon import Daemon

pytestmark = pytest.mark.root


def test_from_a_registry_with_credentials(bd: Daemon, tmp_path: Path, start_registry: object) -> None:  # noqa: F811
    reg: Registry = start_registry("htpasswd")  # type: ignore[operator]
    env = {"DOCKER_CONFIG": str(tmp_path / "docker-config")}
    ref = f"{reg.host}/base/busybox:1"
    assert bd.docker("tag", "busybox", ref).returncode == 0
    r = bd.docker("login", "-u", USER, "--password-stdin", reg.host, input=PASSWORD + "\n", env=env)
    assert r.returncode == 0, r.stderr
    assert bd.docker("push", ref, env=env).returncode == 0
    assert bd.docker("rmi", ref).returncode == 0
    ctx = write(tmp_path / "c", {"Dockerfile": f"FROM {ref}\nRUN echo pulled-base > /p\nCMD cat /p\n"})
    r = bd.docker("build", "-t", "from-registry", str(ctx), env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    assert f"Step 1/3 : FROM {ref}" in r.stdout
    assert run_image(bd, "from-registry") == "pulled-base\n"
    # --pull: pulled again even though it is local now; the skiff CLI sends the credentials too
    r = build(bd, "skiff", ctx, "--pull", "-t", "from-registry", env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "Status: Image is up to date" in r.stdout or "Digest:" in r.stdout or "Pulling" in r.stdout, r.stdout
    # without credentials the pull is refused, and the build fails naming the image
    assert bd.docker("rmi", ref).returncode == 0
    r = bd.docker("build", "-t", "from-registry-noauth", str(ctx), env={"DOCKER_CONFIG": str(tmp_path / "empty")})
    assert r.returncode == 1
    assert "from-registry-noauth:latest" not in bd.docker("images", "--format", "{{.Repository}}:{{.Tag}}").stdout
