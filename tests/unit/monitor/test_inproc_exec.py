"""The monitor's in-process exec reads the runtime's root and reports errors as the CLI would."""

from __future__ import annotations

import errno

from skiff.errors import InvalidParameter
from skiff.monitor.inproc_exec import describe_error, runtime_root


def test_runtime_root_from_global_options() -> None:
    assert runtime_root(["--root", "/run/x/runtime/skiff"]) == "/run/x/runtime/skiff"
    assert runtime_root(["--log", "/l", "--root=/r"]) == "/r"
    assert runtime_root([]) == "/run/skiff-runtime"


def test_errors_read_as_the_runtime_command_prints_them() -> None:
    assert describe_error(InvalidParameter("exec failed: boom")) == "exec failed: boom"
    assert describe_error(OSError(errno.ENOENT, "No such file or directory", "/x")) == "No such file or directory: /x"
    assert describe_error(ValueError("bad")) == "internal error: ValueError: bad"


def test_a_failed_exec_reads_as_its_message() -> None:
    from skiff.monitor.inproc_exec import ExecFailed

    assert describe_error(ExecFailed("exec failed: no such file")) == "exec failed: no such file"
