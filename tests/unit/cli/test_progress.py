"""JSON progress streams rendered as docker renders them."""

from __future__ import annotations

import io
from typing import Any

import pytest

from skiff.cli.progress import ProgressError, display_stream, progress_string

STREAM: list[dict[str, Any]] = [
    {"status": "Pulling from library/busybox", "id": "latest"},
    {"status": "Pulling fs layer", "progressDetail": {}, "id": "aaa"},
    {"status": "Downloading", "progressDetail": {"current": 500, "total": 1000}, "id": "aaa"},
    {"status": "Pull complete", "progressDetail": {}, "id": "aaa"},
    {"status": "Digest: sha256:x"},
    {"aux": {"ID": "sha256:abc"}},
    {"stream": "Step 1/2 : FROM busybox\n"},
]


def test_plain_output_skips_progress_bars() -> None:
    out = io.StringIO()
    seen: list[object] = []
    display_stream(STREAM, out, is_tty=False, aux=seen.append)
    assert out.getvalue() == ("latest: Pulling from library/busybox\naaa: Pulling fs layer\n"
                              "aaa: Pull complete\nDigest: sha256:x\nStep 1/2 : FROM busybox\n")
    assert seen == [{"aux": {"ID": "sha256:abc"}}]


def test_tty_rewrites_lines_in_place() -> None:
    out = io.StringIO()
    display_stream(STREAM[:4], out, is_tty=True)
    text = out.getvalue()
    assert "\x1b[2K\r" in text and "\x1b[1A" in text and "\x1b[1B" in text
    assert "[=========================>" in text and "500B/1kB" in text


def test_error_in_stream() -> None:
    with pytest.raises(ProgressError, match="manifest unknown"):
        display_stream([{"errorDetail": {"message": "manifest unknown"}, "error": "manifest unknown"}],
                       io.StringIO(), is_tty=False)
    with pytest.raises(ProgressError, match="authentication is required"):
        display_stream([{"errorDetail": {"code": 401, "message": "x"}}], io.StringIO(), is_tty=False)


def test_progress_string() -> None:
    assert progress_string({}) == ""
    assert progress_string({"current": 1500}) == "   1.5kB"
    assert progress_string({"current": 50, "total": 100}, width=80) == "     50B/100B"
