""".dockerignore: Docker's documented examples, exceptions, ** and the context walker / tar."""

from __future__ import annotations

import io
import tarfile
import time
from pathlib import Path

import pytest

from skiff.build.dockerignore import (
    IgnoreMatcher,
    find_ignore_file,
    parse_ignore,
    trim_build_files,
    walk_context,
    write_context_tar,
)
from skiff.errors import InvalidParameter

MATRIX = [
    # the examples from Docker's .dockerignore documentation
    (["*/temp*"], {"somedir/temporary.txt": True, "somedir/temp": True, "temp": False, "a/b/temp": False}),
    (["*/*/temp*"], {"somedir/subdir/temporary.txt": True, "somedir/temp": False}),
    (["temp?"], {"tempa": True, "tempb": True, "temp": False, "tempab": False}),
    (["**/*.go"], {"a.go": True, "x/y/z.go": True, "x/y/z.gox": False}),
    (["*.md", "!README.md"], {"README.md": False, "a.md": True, "docs/a.md": False}),
    (
        ["*.md", "!README*.md", "README-secret.md"],
        {"README-secret.md": True, "README-x.md": False, "a.md": True},
    ),
    # directories exclude their contents
    (["node_modules"], {"node_modules": True, "node_modules/a/b.js": True, "src/node_modules/x": False}),
    (["**/node_modules"], {"node_modules/a/b.js": True, "src/node_modules/x": True}),
    (["dir/**"], {"dir/a": True, "dir/a/b": True, "dir": False, "dira": False}),
    (["a/**/b"], {"a/b": True, "a/x/y/b": True, "a/x/y/bc": False, "a/b/c": True}),
    (["**"], {"a": True, "a/b": True}),
    # later patterns win; exceptions re-include
    (["*", "!keep"], {"keep": False, "other": True, "keep/x": False}),
    (["!keep", "*"], {"keep": True}),
    (["build", "!build/keep.txt"], {"build/x": True, "build/keep.txt": False}),
    # classes, escapes, cleaning
    (["[a-c].txt"], {"b.txt": True, "d.txt": False}),
    (["[^a].txt"], {"b.txt": True, "a.txt": False}),
    (["\\*.txt"], {"*.txt": True, "a.txt": False}),
    (["a.txt"], {"./a.txt": True, "a.txt": True, "a_txt": False}),
    (["/abs/path"], {"abs/path": True}),
    (["./rel/../x"], {"x": True}),
    (["foo+(bar).{c}$"], {"foo+(bar).{c}$": True}),
]


@pytest.mark.parametrize(("patterns", "cases"), MATRIX)
def test_matching_matrix(patterns: list[str], cases: dict[str, bool]) -> None:
    m = IgnoreMatcher(parse_ignore("\n".join(patterns)))
    got = {path: m.matches(path) for path in cases}
    assert got == cases


def test_parse_ignore_file() -> None:
    text = "\ufeff# comment\n  \n /abs \n!/x/../y\n./z\n # not a comment\n!  spaced\n"
    assert parse_ignore(text) == ["abs", "!y", "z", "# not a comment", "!spaced"]


def test_bad_patterns() -> None:
    with pytest.raises(InvalidParameter, match='illegal exclusion pattern: "!"'):
        IgnoreMatcher(["!"])
    with pytest.raises(InvalidParameter, match="syntax error in pattern"):
        IgnoreMatcher(["[abc"])
    with pytest.raises(InvalidParameter, match="syntax error in pattern"):
        IgnoreMatcher(["abc\\"])


def test_trim_build_files_keeps_dockerfile_and_ignore_file() -> None:
    assert trim_build_files(["*"], "Dockerfile") == ["*", "!.dockerignore", "!Dockerfile"]
    assert trim_build_files(["*.txt"], "Dockerfile") == ["*.txt"]
    assert trim_build_files(["*"], "Dockerfile", dockerfile_from_stdin=True) == ["*", "!.dockerignore"]


def make_tree(root: Path, files: list[str]) -> None:
    for rel in files:
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(rel)


def test_walker_skips_excluded_dirs_but_honours_exceptions(tmp_path: Path) -> None:
    make_tree(
        tmp_path, ["a.txt", "b.md", "build/out.o", "build/keep/x", "src/main.c", "src/node_modules/m.js"]
    )
    m = IgnoreMatcher(["*.md", "build", "!build/keep", "**/node_modules"])
    got = [e.rel for e in walk_context(tmp_path, m)]
    assert got == ["a.txt", "build/keep", "build/keep/x", "src", "src/main.c"]


def test_tar_writer_root_owned(tmp_path: Path) -> None:
    make_tree(tmp_path, ["Dockerfile", "app/main.py", "secret.key"])
    (tmp_path / "link").symlink_to("app/main.py")
    buf = io.BytesIO()
    n = write_context_tar(tmp_path, buf, IgnoreMatcher(["*.key"]))
    buf.seek(0)
    with tarfile.open(fileobj=buf) as t:
        members = {m.name: m for m in t.getmembers()}
    assert n == 4 and sorted(members) == ["Dockerfile", "app", "app/main.py", "link"]
    assert all(m.uid == 0 and m.gid == 0 and m.uname == "" for m in members.values())
    assert members["link"].issym() and members["link"].linkname == "app/main.py"


def test_dockerfile_specific_ignore_file_wins(tmp_path: Path) -> None:
    make_tree(tmp_path, [".dockerignore", "sub/app.Dockerfile", "sub/app.Dockerfile.dockerignore"])
    assert find_ignore_file(tmp_path, "sub/app.Dockerfile") == tmp_path / "sub/app.Dockerfile.dockerignore"
    assert find_ignore_file(tmp_path, "Dockerfile") == tmp_path / ".dockerignore"
    (tmp_path / ".dockerignore").unlink()
    assert find_ignore_file(tmp_path, "Dockerfile") is None


def test_walk_is_one_pass_and_fast(tmp_path: Path) -> None:
    files = [f"d{i // 100}/f{i}.{'log' if i % 10 else 'py'}" for i in range(2_000)]
    make_tree(tmp_path, files)
    m = IgnoreMatcher(parse_ignore("*.log\n**/*.log\n!keep.log\nd1*/\n"))
    start = time.perf_counter()
    kept = [e.rel for e in walk_context(tmp_path, m) if e.rel.endswith(".py")]
    elapsed = time.perf_counter() - start
    want = [f for f in files if f.endswith(".py") and not f.split("/")[0].startswith("d1")]
    assert sorted(kept) == sorted(want)
    assert elapsed < 1.0


def test_write_build_context_like_the_docker_cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from skiff.build.dockerignore import write_build_context

    ctx = tmp_path / "ctx"
    make_tree(ctx, ["Dockerfile", "app.py", "debug.log", "sub/x.Dockerfile"])
    (ctx / ".dockerignore").write_text("*.log\nDockerfile\n")
    (ctx / "sub/x.Dockerfile.dockerignore").write_text("app.py\n")

    def names(buf: io.BytesIO) -> list[str]:
        buf.seek(0)
        with tarfile.open(fileobj=buf) as t:
            return sorted(t.getnames())

    buf = io.BytesIO()
    assert write_build_context(ctx, buf) == "Dockerfile"
    assert names(buf) == [".dockerignore", "Dockerfile", "app.py", "sub", "sub/x.Dockerfile",
                          "sub/x.Dockerfile.dockerignore"]  # fmt: skip
    buf = io.BytesIO()
    monkeypatch.chdir(tmp_path)
    assert write_build_context(ctx, buf, "ctx/sub/x.Dockerfile") == "sub/x.Dockerfile"
    assert "app.py" not in names(buf) and "debug.log" in names(buf)  # the specific ignore file wins
    outside = tmp_path / "other.Dockerfile"
    outside.write_text("FROM x\n")
    buf = io.BytesIO()
    name = write_build_context(ctx, buf, outside)
    assert name.startswith(".dockerfile.") and name in names(buf)
    buf = io.BytesIO()
    name = write_build_context(ctx, buf, dockerfile_data=b"FROM stdin\n")
    assert len(name) == len(".dockerfile.") + 20
    buf.seek(0)
    with tarfile.open(fileobj=buf) as t:
        f = t.extractfile(name)
        assert f is not None and f.read() == b"FROM stdin\n"
        ign = t.extractfile(".dockerignore")
        assert ign is not None and ign.read() == b"*.log\nDockerfile\n\n" + name.encode() + b"\n"
    # and the daemon side finds it, then drops it (and .dockerignore) from the context
    from skiff.build.context import extract_context

    buf.seek(0)
    context = extract_context(buf, name)
    try:
        assert context.dockerfile == b"FROM stdin\n"
        assert not (context.root / name).exists() and (context.root / "app.py").exists()
    finally:
        context.close()
