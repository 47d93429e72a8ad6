"""run_runtime: stderr captured, exit codes, timeouts, inherited stderr does not block."""

from __future__ import annotations

import time

from skiff.monitor.stdio import clean_runtime_error, run_runtime


def test_run_runtime_captures_and_times_out() -> None:
    assert run_runtime(["sh", "-c", "echo err >&2; sleep 0.2; echo more >&2; exit 3"]) == (3, "err\nmore")
    t = time.monotonic()
    rc, msg = run_runtime(["sh", "-c", "sleep 10"], timeout=0.5)
    assert rc == 124 and "timed out after 0.5s" in msg and time.monotonic() - t < 3
    t = time.monotonic()
    assert run_runtime(["sh", "-c", "(sleep 3 &); echo bg >&2"]) == (0, "bg")  # a child keeps stderr open
    assert time.monotonic() - t < 2
    assert run_runtime(["/no/such/runtime"])[0] == 127


def test_runc_error_lines_are_cleaned() -> None:
    text = ('time="2026-11-22T16:50:21Z" level=warning msg="x"\n'
            'time="2026-11-22T16:50:21Z" level=error msg="runc create failed: unable to start container process: '
            'exec: \\"/nope\\": stat /nope: no such file or directory"\n')
    assert clean_runtime_error(text) == ('runc create failed: unable to start container process: exec: "/nope": '
                                         "stat /nope: no such file or directory")
    assert clean_runtime_error("  plain error\n") == "plain error"
