""".dockerignore matrix, heredocs, -f (path and stdin), labels, iidfile, quiet."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.build_api.conftest import CLIS, build, run_image, write
from tests.support.daemon import Daemon

pytestmark = pytest.mark.root

IGNORE_FILES = {
    ".dockerignore": "# comment\n*.log\n**/tmp\nsecret*\n!secret-ok.txt\ndocs/**/*.md\n!docs/keep/README.md\nnode_modules\n",
    "Dockerfile": "FROM busybox\nCOPY . /ctx\nCMD find /ctx -type f | sort\n",
    "a.txt": "a", "b.log": "b", "sub/c.log": "c", "sub/tmp/x": "x", "tmp/y": "y", "secret.key": "k",
    "secret-ok.txt": "ok", "docs/guide/intro.md": "i", "docs/keep/README.md": "r", "docs/keep/img.png": "p",
    "node_modules/m/index.js": "m", "sub/d.txt": "d",
}


@pytest.mark.parametrize("cli", CLIS)
def test_dockerignore_matrix(bd: Daemon, tmp_path: Path, cli: str) -> None:
    ctx = write(tmp_path / "c", IGNORE_FILES)
    ref = f"ignore-{cli}"
    r = build(bd, cli, ctx, "-t", ref)
    assert r.returncode == 0, r.stderr
    files = run_image(bd, ref).split()
    # "*.log" is root-only (Go's filepath.Match): sub/c.log stays, as with docker
    assert files == sorted(["/ctx/a.txt", "/ctx/sub/c.log", "/ctx/secret-ok.txt", "/ctx/docs/keep/README.md",
                            "/ctx/docs/keep/img.png", "/ctx/sub/d.txt", "/ctx/.dockerignore", "/ctx/Dockerfile"])


HEREDOCS = """# syntax=docker/dockerfile:1
FROM busybox
RUN <<EOF
echo first > /h1
echo second >> /h1
EOF
RUN <<-EOT sh
\tcat /h1 > /h2
\techo tabbed >> /h2
\tEOT
COPY <<EOF /etc/app.conf
name=${NAME:-app}
EOF
COPY <<'EOF' /raw.txt
keep $HOME literal
EOF
RUN <<A cat > /multi-a && <<B cat > /multi-b
from a
A
from b
B
RUN <<EOF
#!/bin/sh
echo "script via shebang $0" > /script
EOF
CMD cat /h2 /etc/app.conf /raw.txt /multi-a /multi-b /script
"""


@pytest.mark.parametrize("cli", CLIS)
def test_heredocs(bd: Daemon, tmp_path: Path, cli: str) -> None:
    ctx = write(tmp_path / "c", {"Dockerfile": HEREDOCS})
    ref = f"heredoc-{cli}"
    r = build(bd, cli, ctx, "-t", ref)
    assert r.returncode == 0, r.stdout + r.stderr
    out = run_image(bd, ref).splitlines()
    assert out[:6] == ["first", "second", "tabbed", "name=app", "keep $HOME literal", "from a"]
    assert out[6] == "from b"
    assert out[7].startswith("script via shebang")


@pytest.mark.parametrize("cli", CLIS)
def test_dockerfile_flags_quiet_iidfile_labels(bd: Daemon, tmp_path: Path, cli: str) -> None:
    ctx = write(tmp_path / "c", {"data.txt": "payload\n", "build/Alt.Dockerfile":
                                 "FROM busybox\nCOPY data.txt /d\nCMD cat /d\n"})
    iid = tmp_path / "iid"
    r = build(bd, cli, ctx, "-q", "-f", str(ctx / "build/Alt.Dockerfile"), "--iidfile", str(iid),
              "--label", "org.example.k=v", "-t", f"alt-{cli}", "-t", f"alt2-{cli}:x")
    assert r.returncode == 0, r.stderr
    image_id = iid.read_text().strip()
    assert image_id.startswith("sha256:") and r.stdout.strip() == image_id
    assert run_image(bd, f"alt2-{cli}:x") == "payload\n"
    assert bd.docker("image", "inspect", "-f", "{{index .Config.Labels \"org.example.k\"}}",
                     f"alt-{cli}").stdout.strip() == "v"


@pytest.mark.parametrize("cli", CLIS)
def test_dockerfile_from_stdin(bd: Daemon, tmp_path: Path, cli: str) -> None:
    ctx = write(tmp_path / "c", {"f.txt": "from-context\n", "Dockerfile": "FROM busybox\nRUN false\n"})
    ref = f"stdin-{cli}"
    r = build(bd, cli, ctx, "-t", ref, "-f", "-", input="FROM busybox\nCOPY f.txt /f\nCMD cat /f\n")
    assert r.returncode == 0, r.stderr
    assert run_image(bd, ref) == "from-context\n"


@pytest.mark.parametrize("cli", CLIS)
def test_dockerfile_specific_ignore_file(bd: Daemon, tmp_path: Path, cli: str) -> None:
    ctx = write(tmp_path / "c", {".dockerignore": "*.md\n", "a.txt": "a", "b.md": "b", "c.cfg": "c",
                                 "build/App.Dockerfile": "FROM busybox\nCOPY . /ctx\nCMD find /ctx -type f | sort\n",
                                 "build/App.Dockerfile.dockerignore": "*.txt\nbuild\n"})
    ref = f"specific-ignore-{cli}"
    r = build(bd, cli, ctx, "-t", ref, "-f", str(ctx / "build/App.Dockerfile"))
    assert r.returncode == 0, r.stderr
    files = run_image(bd, ref).split()
    if cli == "docker":  # docker's classic path reads only .dockerignore (the specific file is BuildKit's)
        assert "/ctx/a.txt" in files and "/ctx/b.md" not in files
        return
    # skiff: <Dockerfile>.dockerignore wins over .dockerignore: *.md kept, *.txt and build/ left out
    assert "/ctx/b.md" in files and "/ctx/c.cfg" in files
    assert "/ctx/a.txt" not in files
    assert [f for f in files if f.startswith("/ctx/build/")] == ["/ctx/build/App.Dockerfile"]  # always sent
