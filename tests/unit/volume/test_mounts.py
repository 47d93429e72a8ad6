"""-v / --mount / --tmpfs / API Mounts parsing against Docker's rules and error texts."""

from __future__ import annotations

from pathlib import Path

import pytest

from skiff.errors import InvalidParameter
from skiff.volume.mounts import (
    check_bind_source,
    parse_all,
    parse_api_mount,
    parse_bind,
    parse_mount_csv,
    parse_size,
    parse_tmpfs,
    parse_volumes_from,
    tmpfs_options,
)


def test_bind_absolute_source() -> None:
    m = parse_bind("/host/dir:/data:ro")
    assert (m.type, m.source, m.target, m.read_only) == ("bind", "/host/dir", "/data", True)
    assert m.propagation == "rprivate" and m.create_source and m.mode == "ro"


def test_named_volume_and_anonymous() -> None:
    m = parse_bind("myvol:/data")
    assert (m.type, m.source, m.target, m.read_only, m.anonymous) == ("volume", "myvol", "/data", False, False)
    a = parse_bind("/data")
    assert a.type == "volume" and a.anonymous and a.copy_data


def test_modes() -> None:
    m = parse_bind("/a:/b:ro,rshared,Z")
    assert m.read_only and m.propagation == "rshared" and m.label == "Z"
    v = parse_bind("v1:/b:nocopy")
    assert v.nocopy and not v.copy_data


def test_relative_path_refused_with_docker_text() -> None:
    with pytest.raises(InvalidParameter) as e:
        parse_bind("./foo:/data")
    assert str(e.value) == (
        'create ./foo: "./foo" includes invalid characters for a local volume name, only '
        '"[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host directory, use absolute path')


@pytest.mark.parametrize("raw,msg", [
    (":/x", "invalid volume specification: ':/x'"),
    ("/x:rw", "invalid volume specification: '/x:rw'"),
    ("a:b:c:d:e", "invalid volume specification: 'a:b:c:d:e'"),
    ("/a:/b:bogus", "invalid mode: bogus"),
    ("/a:/b:ro,rw", "invalid mode: ro,rw"),
    ("/a:rel", "invalid volume specification: '/a:rel': invalid mount config for type \"bind\": "
               "invalid mount path: 'rel' mount path must be absolute"),
    ("/a:/", "invalid volume specification: '/a:/': invalid mount config for type \"bind\": "
             "invalid specification: destination can't be '/'"),
])
def test_bind_errors(raw: str, msg: str) -> None:
    with pytest.raises(InvalidParameter) as e:
        parse_bind(raw)
    assert str(e.value) == msg


def test_mount_csv_bind(tmp_path: Path) -> None:
    m = parse_mount_csv(f"type=bind,source={tmp_path},target=/app,readonly,bind-propagation=rslave")
    assert (m.type, m.source, m.target, m.read_only, m.propagation) == ("bind", str(tmp_path), "/app", True, "rslave")
    assert not m.create_source
    check_bind_source(m)
    with pytest.raises(InvalidParameter) as e:
        check_bind_source(parse_mount_csv("type=bind,src=/nonexistent/skiff,dst=/x"))
    assert str(e.value) == 'invalid mount config for type "bind": bind source path does not exist: /nonexistent/skiff'


def test_mount_csv_volume_and_tmpfs() -> None:
    v = parse_mount_csv("source=data,destination=/d,volume-nocopy,volume-opt=type=tmpfs,volume-opt=o=size=1m")
    assert v.type == "volume" and v.nocopy and v.volume_options == (("type", "tmpfs"), ("o", "size=1m"))
    t = parse_mount_csv("type=tmpfs,dst=/t,tmpfs-size=64m,tmpfs-mode=1770")
    assert (t.tmpfs_size, t.tmpfs_mode) == (64 << 20, 0o1770)
    assert tmpfs_options(t) == ["rw", "nosuid", "nodev", "noexec", "mode=1770", "size=64m"]


@pytest.mark.parametrize("raw,msg", [
    ("type=bind,target=/x", 'invalid mount config for type "bind": field Source must not be empty'),
    ("type=tmpfs,source=a,target=/x", 'invalid mount config for type "tmpfs": field Source must not be specified'),
    ("type=foo,target=/x", 'invalid mount config for type "foo": mount type unknown'),
    ("source=a", "target is required"),
    ("type=volume,target=/x,bogus=1", "unexpected key 'bogus' in 'type=volume,target=/x,bogus=1'"),
    ("type=volume,target", "invalid field 'target' must be a key=value pair"),
    ("type=volume,target=/x,readonly", 'invalid mount config for type "volume": '
                                       "must not set ReadOnly mode when using anonymous volumes"),
])
def test_mount_csv_errors(raw: str, msg: str) -> None:
    with pytest.raises(InvalidParameter) as e:
        parse_mount_csv(raw)
    assert str(e.value) == msg


def test_api_mounts() -> None:
    m = parse_api_mount({"Type": "tmpfs", "Target": "/run", "TmpfsOptions": {"SizeBytes": 1 << 20, "Mode": 0o755}})
    assert tmpfs_options(m) == ["rw", "nosuid", "nodev", "noexec", "mode=755", "size=1m"]
    b = parse_api_mount({"Type": "bind", "Source": "/a/", "Target": "/b/", "BindOptions": {"Propagation": "shared"}})
    assert (b.source, b.target, b.propagation) == ("/a", "/b", "shared")
    with pytest.raises(InvalidParameter, match="field BindOptions must not be specified"):
        parse_api_mount({"Type": "volume", "Target": "/x", "BindOptions": {}})


def test_tmpfs_flag_and_duplicates() -> None:
    t = parse_tmpfs("/run:rw,size=10m,exec,uid=1000")
    assert t.tmpfs_size == 10 << 20 and t.tmpfs_extra == ("exec", "uid=1000")
    assert "noexec" not in tmpfs_options(t)
    with pytest.raises(InvalidParameter, match="Duplicate mount point: /d"):
        parse_all(binds=["vv:/d"], tmpfs={"/d": ""})


def test_short_volume_name() -> None:
    with pytest.raises(InvalidParameter, match="volume name is too short"):
        parse_bind("v:/d")


def test_size_and_volumes_from() -> None:
    assert parse_size("64m") == 64 << 20 and parse_size("1G") == 1 << 30 and parse_size("100") == 100
    assert parse_volumes_from("c1") == ("c1", "rw")
    assert parse_volumes_from("c1:ro") == ("c1", "ro")
    with pytest.raises(InvalidParameter, match="invalid mode: rshared"):
        parse_volumes_from("c1:rshared")
