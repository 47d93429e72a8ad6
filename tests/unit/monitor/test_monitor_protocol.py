"""Wire protocol framing, exit records on disk, and long unix socket paths."""

from __future__ import annotations

import os
import socket
import threading
from pathlib import Path

import pytest

from skiff.monitor.protocol import (
    HEADER,
    MAX_FRAME,
    ExitStatus,
    FrameReader,
    frame,
    read_exit_file,
    write_json_atomic,
)
from skiff.monitor.sockpath import bind_unix, connect_unix


def test_frames_split_anywhere() -> None:
    data = frame(b"1", b"a" * 70000) + frame(b"2", b"") + frame(b"O", b"{}")
    r = FrameReader()
    got = []
    for i in range(0, len(data), 7):
        got += r.feed(data[i:i + 7])
    assert [(k, len(p)) for k, p in got] == [(b"1", 70000), (b"2", 0), (b"O", 2)]


def test_oversized_frame_is_refused() -> None:
    with pytest.raises(ValueError, match="frame too large"):
        FrameReader().feed(HEADER.pack(b"I", MAX_FRAME + 1))


def test_exit_file_is_atomic_and_tolerant(tmp_path: Path) -> None:
    assert read_exit_file(str(tmp_path)) is None
    write_json_atomic(str(tmp_path / "exit.json"), ExitStatus(137, 9, True, 42).to_dict())
    st = read_exit_file(str(tmp_path))
    assert st is not None and (st.exit_code, st.signal, st.oom_killed, st.pid) == (137, 9, True, 42)
    assert [p.name for p in tmp_path.iterdir()] == ["exit.json"]  # no temp file left behind
    (tmp_path / "exit.json").write_text("{not json")
    assert read_exit_file(str(tmp_path)) is None


def test_long_socket_paths(tmp_path: Path) -> None:
    deep = tmp_path / ("x" * 80) / ("y" * 80)
    deep.mkdir(parents=True)
    path = str(deep / "s.sock")
    assert len(path) > 108
    srv = bind_unix(path)
    srv.listen(1)

    def accept() -> None:
        c, _ = srv.accept()
        c.sendall(b"hi")
        c.close()

    t = threading.Thread(target=accept)
    t.start()
    cli = connect_unix(path, 5)
    assert cli.recv(2) == b"hi"
    cli.close()
    t.join()
    srv.close()
    assert os.path.exists(path)
    with pytest.raises((FileNotFoundError, ConnectionRefusedError)):
        connect_unix(str(deep / "missing.sock"), 1)
    assert isinstance(srv, socket.socket)
