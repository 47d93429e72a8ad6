"""Pure parts of the build resource: X-Registry-Config, the secrets header, tag checks, the CLI's
--secret parsing, the context tar terminator and the copy-up pruning."""

from __future__ import annotations

import base64
import io
import json
import os
import tarfile
from pathlib import Path

import pytest

from skiff.api.build import parse_registry_config, parse_secrets
from skiff.cli.commands.build import _is_tar, parse_secret
from skiff.cli.exitcodes import StatusError, UsageError
from skiff.client.build import encode_secrets
from skiff.engine.builds import _check_tag, _prune_copy_ups, _terminate_tar
from skiff.errors import InvalidParameter


def _b64(obj: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(obj).encode()).decode()


def test_registry_config() -> None:
    auth = base64.b64encode(b"bob:pw").decode()
    got = parse_registry_config(_b64({"https://index.docker.io/v1/": {"auth": auth},
                                      "reg:5000": {"username": "u", "password": "p"}}))
    assert got["https://index.docker.io/v1/"].username == "bob"
    assert got["https://index.docker.io/v1/"].password == "pw"
    assert got["reg:5000"].server_address == "reg:5000"
    assert parse_registry_config(None) == {} and parse_registry_config(_b64({})) == {}
    with pytest.raises(InvalidParameter):
        parse_registry_config("!!notbase64json")


def test_secrets_header_round_trip() -> None:
    secrets = {"tok": b"\x00binary\n", "b": b""}
    assert parse_secrets(encode_secrets(secrets)) == secrets
    assert parse_secrets("") == {}
    with pytest.raises(InvalidParameter):
        parse_secrets(_b64(["not", "a", "map"]))


@pytest.mark.parametrize("tag", ["app", "app:1.0", "reg.example:5000/a/b:x", "localhost/x"])
def test_good_tags(tag: str) -> None:
    _check_tag(tag)


@pytest.mark.parametrize("tag", ["Bad:Tag", "a b", "x@sha256:" + "0" * 64, ":nope"])
def test_bad_tags(tag: str) -> None:
    with pytest.raises(InvalidParameter):
        _check_tag(tag)


def test_parse_secret(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    f = tmp_path / "s.txt"
    f.write_bytes(b"value")
    assert parse_secret(f"id=a,src={f}") == ("a", b"value")
    assert parse_secret(f"id=a,source={f},type=file") == ("a", b"value")
    assert parse_secret(f"src={f}") == ("s.txt", b"value")
    monkeypatch.setenv("MY_TOKEN", "from-env")
    assert parse_secret("id=t,env=MY_TOKEN") == ("t", b"from-env")
    assert parse_secret("id=MY_TOKEN,type=env") == ("MY_TOKEN", b"from-env")
    with pytest.raises(UsageError):
        parse_secret("id=a,bogus")
    with pytest.raises(StatusError):
        parse_secret(f"id=a,src={tmp_path / 'missing'}")


def test_is_tar() -> None:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        ti = tarfile.TarInfo("Dockerfile")
        tf.addfile(ti, io.BytesIO(b""))
    assert _is_tar(buf.getvalue())
    assert _is_tar(b"\x1f\x8b\x08rest")
    assert not _is_tar(b"FROM busybox\nRUN true\n")


def test_terminate_tar_makes_an_unterminated_tar_readable(tmp_path: Path) -> None:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        data = b"x" * 47
        ti = tarfile.TarInfo("f")
        ti.size = len(data)
        tf.addfile(ti, io.BytesIO(data))
    raw = buf.getvalue()[: 512 + 47]  # what the docker CLI's -f - wrapper sends: no padding, no end
    p = tmp_path / "ctx.tar"
    p.write_bytes(raw)
    _terminate_tar(p)
    with tarfile.open(p, mode="r|") as tf:
        names = [m.name for m in tf]
    assert names == ["f"]
    gz = tmp_path / "c.tar.gz"
    gz.write_bytes(b"\x1f\x8bcompressed")
    _terminate_tar(gz)
    assert gz.read_bytes() == b"\x1f\x8bcompressed"


def test_prune_copy_ups(tmp_path: Path) -> None:
    lower, upper = tmp_path / "lower", tmp_path / "upper"
    for d in ("etc", "run", "var/lib"):
        (lower / d).mkdir(parents=True)
    (upper / "etc").mkdir(parents=True)           # copied up, nothing left in it: pruned
    (upper / "run").mkdir()
    (upper / "run" / "new").write_text("x")       # a real change: kept
    (upper / "var/lib").mkdir(parents=True)       # nested empty copy-ups: pruned bottom-up
    (upper / "fresh").mkdir()                     # a new empty dir (not below): kept
    (upper / "mode").mkdir()
    (lower / "mode").mkdir()
    os.chmod(upper / "mode", 0o700)               # a metadata change: kept
    os.chmod(lower / "mode", 0o755)
    _prune_copy_ups(upper, (lower,))
    assert sorted(p.name for p in upper.iterdir()) == ["fresh", "mode", "run"]
