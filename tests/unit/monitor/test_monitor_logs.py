"""Log drivers and the log reader, without a container: format, partials, rotation, tail, follow."""

from __future__ import annotations

import json
from pathlib import Path

from skiff.monitor.logdrivers import (
    MAX_LINE,
    JsonFileWriter,
    LocalWriter,
    LogSink,
    encode_json_line,
    format_time,
    open_writer,
)
from skiff.monitor.logreader import LogFile, parse_time
from skiff.monitor.protocol import ExitStatus, FrameReader, LogConfig, MonitorOptions, frame

NS = 1_795_000_000_123_456_000


def test_time_formats_round_trip() -> None:
    assert format_time(NS) == "2026-11-18T11:06:40.123456Z"
    assert format_time(NS, fixed=True) == "2026-11-18T11:06:40.123456000Z"
    assert format_time(1_795_000_000_000_000_000) == "2026-11-18T11:06:40Z"
    assert parse_time(format_time(NS)) == NS
    assert parse_time("2026-11-18T12:06:40.123456+01:00") == NS


def test_json_line_is_dockers_format() -> None:
    line = encode_json_line(1, b'a<b>&"\\\t\x01\xff\n', NS)
    assert line == (b'{"log":"a\\u003cb\\u003e\\u0026\\"\\\\\\t\\u0001\\ufffd\\n","stream":"stdout",'
                    b'"time":"2026-11-18T11:06:40.123456Z"}\n')
    assert json.loads(line)["log"] == 'a<b>&"\\\t\x01\ufffd\n'


def test_reader_round_trips_escapes_and_dockerd_lines(tmp_path: Path) -> None:
    path = tmp_path / "c.log"
    samples = [b"plain\n", b'q"uote\\back\tslash<&>\n', "ünï\u2028\n".encode(), b"no newline", b"\x01\x7f\n"]
    w = JsonFileWriter(str(path))
    for i, d in enumerate(samples):
        w.write(1 + i % 2, d, NS + i, not d.endswith(b"\n"))
    w.close()
    with path.open("ab") as f:  # dockerd may add attrs; the slow path reads it
        f.write(b'{"log":"x\\n","stream":"stderr","attrs":{"tag":"t"},"time":"2026-11-18T11:06:40.5Z"}\n')
    with LogFile(str(path)) as lf:
        got = list(lf.entries())
    assert [e.data for e in got] == [*samples, b"x\n"]
    assert [e.stream for e in got] == [1, 2, 1, 2, 1, 2]
    assert got[3].partial and not got[0].partial
    assert got[-1].time_ns == 1_795_000_000_500_000_000


def test_sink_bulk_equals_per_line(tmp_path: Path) -> None:
    bulk, single = tmp_path / "bulk.log", tmp_path / "single.log"
    sink = LogSink(JsonFileWriter(str(bulk)))
    sink.feed(1, b"one\ntw", NS)
    sink.feed(1, b"o\n<x>\n", NS)
    sink.feed(2, b"err", NS)
    sink.flush(NS)
    sink.close()
    w = JsonFileWriter(str(single))
    for data, stream, partial in ((b"one\n", 1, False), (b"two\n", 1, False), (b"<x>\n", 1, False),
                                  (b"err", 2, True)):
        w.write(stream, data, NS, partial)
    w.close()
    assert bulk.read_bytes() == single.read_bytes()


def test_long_lines_are_split_into_16k_partials(tmp_path: Path) -> None:
    path = tmp_path / "c.log"
    sink = LogSink(JsonFileWriter(str(path)))
    sink.feed(1, b"x" * (MAX_LINE * 2 + 10) + b"\nshort\n", NS)
    sink.close()
    logs = [json.loads(x)["log"] for x in path.read_text().splitlines()]
    assert [len(x) for x in logs] == [MAX_LINE, MAX_LINE, 11, 6]
    assert logs[2].endswith("\n") and not logs[0].endswith("\n")
    with LogFile(str(path)) as lf:
        ents = list(lf.entries())
    assert [e.partial for e in ents] == [True, True, False, False]


def test_rotation_keeps_max_file(tmp_path: Path) -> None:
    path = tmp_path / "c.log"
    w = open_writer(LogConfig("json-file", (("max-size", "1k"), ("max-file", "3"))), str(path))
    sink = LogSink(w)
    for i in range(200):
        sink.feed(1, f"line {i}\n".encode(), NS + i)
    sink.close()
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["c.log", "c.log.1", "c.log.2"]
    with LogFile(str(path)) as lf:
        got = [e.data for e in lf.entries()]
    assert got[-1] == b"line 199\n" and got == sorted(got, key=lambda b: int(b.split()[1]))
    with LogFile(str(path)) as lf:
        assert [e.data for e in lf.entries(tail=2)] == [b"line 198\n", b"line 199\n"]
        assert [e.time_ns - NS for e in lf.entries(since_ns=NS + 197, until_ns=NS + 198)] == [197, 198]


def test_default_json_file_does_not_rotate(tmp_path: Path) -> None:
    w = open_writer(LogConfig(), str(tmp_path / "c.log"))
    assert isinstance(w, JsonFileWriter)
    w.write(1, b"x" * 100_000 + b"\n", NS, False)
    w.write(1, b"y\n", NS, False)
    w.close()
    assert [p.name for p in tmp_path.iterdir()] == ["c.log"]


def test_local_format_tail_backwards_and_follow(tmp_path: Path) -> None:
    path = tmp_path / "local.log"
    w = LocalWriter(str(path), max_size=4096, max_file=5)
    sink = LogSink(w)
    for i in range(300):
        sink.feed(1 + i % 2, f"{i}\n".encode(), NS + i)
    lf = LogFile(str(path), "local")
    assert [(e.stream, e.data) for e in lf.entries(tail=3)] == [(2, b"297\n"), (1, b"298\n"), (2, b"299\n")]
    fol = lf.follower()
    assert fol.poll() == []
    for i in range(300, 600):  # crosses rotations while following
        sink.feed(1, f"{i}\n".encode(), NS + i)
    seen = []
    for _ in range(10):
        seen += [int(e.data) for e in fol.poll()]
    assert seen[0] == 300 and seen == sorted(seen)
    fol.close()
    lf.close()
    sink.close()


def test_local_tail_with_a_torn_last_record(tmp_path: Path) -> None:
    path = tmp_path / "local.log"
    w = LocalWriter(str(path), max_size=-1)
    for i in range(5):
        w.write(1, f"{i}\n".encode(), NS, False)
    w.close()
    with path.open("ab") as f:
        f.write(b"\x30\x00\x00\x00partial")  # a writer caught mid-record
    with LogFile(str(path), "local") as lf:
        assert [e.data for e in lf.entries(tail=2)] == [b"3\n", b"4\n"]


def test_follow_across_in_place_truncation(tmp_path: Path) -> None:
    path = tmp_path / "c.log"
    w = JsonFileWriter(str(path), max_size=200, max_file=1)  # max-file=1: rotation truncates
    lf = LogFile(str(path))
    fol = lf.follower()
    seen: list[bytes] = []
    for i in range(20):
        w.write(1, f"line {i:02d}\n".encode(), NS, False)
        seen += [e.data for e in fol.poll()]
    w.close()
    fol.close()
    lf.close()
    assert seen[-1] == b"line 19\n" and len(seen) == 20


def test_tail_larger_than_file_and_zero(tmp_path: Path) -> None:
    path = tmp_path / "c.log"
    w = JsonFileWriter(str(path))
    for i in range(5):
        w.write(1, f"{i}\n".encode(), NS, False)
    w.close()
    with LogFile(str(path)) as lf:
        assert len(list(lf.entries(tail=100))) == 5
        assert list(lf.entries(tail=0)) == []
    with LogFile(str(tmp_path / "missing.log")) as lf:
        assert list(lf.entries()) == [] and lf.follower().poll() == []


def test_log_config_validation() -> None:
    import pytest

    from skiff.errors import InvalidParameter
    from skiff.monitor.logdrivers import validate_log_config

    validate_log_config(LogConfig("json-file", (("max-size", "10m"), ("max-file", "3"))))
    validate_log_config(LogConfig("local"))
    for cfg, msg in ((LogConfig("syslog"), "no log driver named 'syslog' is registered"),
                     (LogConfig("local", (("tag", "x"),)), "unknown log opt 'tag' for local log driver"),
                     (LogConfig("json-file", (("max-size", "lots"),)), "invalid size: 'lots'"),
                     (LogConfig("json-file", (("max-size", "1m"), ("max-file", "0"))), "max-file cannot be less than 1"),
                     (LogConfig("json-file", (("max-file", "3"),)), "max-file cannot be set without max-size")):
        with pytest.raises(InvalidParameter, match=msg):
            validate_log_config(cfg)


def test_attrs_for_details(tmp_path: Path) -> None:
    from skiff.monitor.logdrivers import log_attrs

    cfg = LogConfig("json-file", (("labels", "app,missing"), ("env", "STAGE"), ("env-regex", "^X_")))
    attrs = log_attrs(cfg, {"app": "web", "other": "no"}, ["STAGE=prod", "X_A=1", "HOME=/root"])
    assert attrs == (("STAGE", "prod"), ("X_A", "1"), ("app", "web"))
    path = tmp_path / "c.log"
    sink = LogSink(open_writer(cfg, str(path), attrs))
    sink.feed(1, b"one\ntwo\n", NS)
    sink.close()
    first = path.read_text().splitlines()[0]
    assert first == ('{"log":"one\\n","stream":"stdout","attrs":{"STAGE":"prod","X_A":"1","app":"web"},'
                     '"time":"2026-11-18T11:06:40.123456Z"}')
    with LogFile(str(path)) as lf:
        got = list(lf.entries())
    assert [e.data for e in got] == [b"one\n", b"two\n"] and got[0].attrs == attrs


def test_frames_and_options_round_trip() -> None:
    r = FrameReader()
    data = frame(b"1", b"hello") + frame(b"X", json.dumps(ExitStatus(137, 9).to_dict()).encode())
    assert r.feed(data[:3]) == []
    got = r.feed(data[3:])
    assert got[0] == (b"1", b"hello") and ExitStatus.from_dict(json.loads(got[1][1])).exit_code == 137
    o = MonitorOptions("c1", "/b", "/s", runtime_args=("--root", "/r"), log=LogConfig("local", (("max-size", "1m"),)),
                       console_size=(24, 80), log_attrs=(("app", "web"),))
    assert MonitorOptions.from_json(o.to_json()) == o
