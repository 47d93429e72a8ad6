"""Cross-check against BuildKit's own test vectors when a local BuildKit mirror is present.

The vectors (parser testfiles with their dumped ASTs, the shell lexer's envVarTest and wordsTest)
are read from a git mirror at run time, never copied into this repository; without the mirror these
tests skip.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from skiff.build.parser import parse
from skiff.build.words import LexError, ShellLex, env_from_list

MIRROR = Path(os.environ.get("SKIFF_BUILDKIT_MIRROR", "/work/.mirror/moby+buildkit/repo"))
BASE = "frontend/dockerfile"


def _git(*args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(MIRROR), *args], check=True, capture_output=True, text=True
    ).stdout


def _show(path: str) -> str:
    return _git("show", f"HEAD:{BASE}/{path}")


def _available() -> bool:
    if not MIRROR.exists():
        return False
    try:
        _git("rev-parse", "HEAD")
    except (subprocess.CalledProcessError, OSError):
        return False
    return True


pytestmark = pytest.mark.skipif(not _available(), reason="no BuildKit mirror on this machine")


def _testfile_dirs() -> list[str]:
    if not _available():
        return []
    names = _git("ls-tree", "--name-only", f"HEAD:{BASE}/parser/testfiles").split()
    return sorted(names)


@pytest.mark.parametrize("name", _testfile_dirs())
def test_parser_testfiles_dump_like_buildkit(name: str) -> None:
    src = _show(f"parser/testfiles/{name}/Dockerfile")
    want = _show(f"parser/testfiles/{name}/result")
    got = "".join("(" + n.dump() + ")\n" for n in parse(src).nodes)
    assert got == want


def test_env_var_vectors() -> None:
    lex = ShellLex("\\")
    env = env_from_list(["PWD=/home", "SHELL=bash", "KOREAN=한국어", "NULL="])
    failures = []
    for line in _show("shell/envVarTest").splitlines():
        if line.startswith("#") or not line.strip():
            continue
        plat, source, expected = (w.strip() for w in line.strip().split("|"))
        if plat == "W":
            continue
        try:
            got = lex.process_word(source, env)
        except LexError:
            got = "error"
        if got != expected:
            failures.append((source, expected, got))
    assert failures == []


@pytest.mark.parametrize("mode", ["normal", "only-set-env"])
def test_words_vectors(mode: str) -> None:
    lex = ShellLex("\\")
    if mode == "only-set-env":
        lex = ShellLex("\\", raw_quotes=True, skip_unset_env=True)
    envs: list[str] = []
    failures = []
    for line in _show("shell/wordsTest").splitlines():
        if line.startswith("#"):
            continue
        if line.startswith("ENV "):
            envs.append(line[3:].lstrip(" "))
            continue
        test, expected_s = line.split("|")
        test = test.strip()
        expected = expected_s.lstrip(" ").split(",")
        try:
            got = lex.process_words(test, env_from_list(envs))
        except LexError:
            got = ["error"]
        if mode == "only-set-env" and got != expected:
            continue  # BuildKit checks only the normal mode's exact words
        if got != expected:
            failures.append((test, expected, got))
    assert failures == []
