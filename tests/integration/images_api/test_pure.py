"""Pure logic of the image commands (no daemon): --change parsing, docker's image rows, registry keys,
the config.json credential store."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from skiff.cli.commands.image import image_rows, normalize_name, split_reference
from skiff.cli.commands.registry import INDEX_SERVER, CredentialStore, registry_of, server_key
from skiff.engine.images import parse_changes, registry_domain
from skiff.errors import InvalidParameter
from skiff.oci.image_spec import ContainerConfig


def test_parse_changes() -> None:
    cfg = parse_changes(['CMD ["a", "b"]', "ENTRYPOINT /bin/run x", "ENV A=1 B=2", "ENV A=3", "EXPOSE 80 53/udp",
                         "LABEL x=y", "VOLUME /data", "USER app", "WORKDIR /w", "STOPSIGNAL SIGINT",
                         "ONBUILD RUN echo", "HEALTHCHECK --interval=5s CMD true"])
    assert cfg.cmd == ("a", "b") and cfg.entrypoint == ("/bin/sh", "-c", "/bin/run x")
    assert cfg.env == ("B=2", "A=3") and set(cfg.exposed_ports) == {"80/tcp", "53/udp"}
    assert cfg.labels == {"x": "y"} and cfg.volumes == ("/data",)
    assert (cfg.user, cfg.working_dir, cfg.stop_signal) == ("app", "/w", "SIGINT")
    assert cfg.on_build == ("RUN echo",)
    assert cfg.healthcheck is not None and cfg.healthcheck.interval == 5_000_000_000
    base = ContainerConfig(env=("PATH=/bin",), cmd=("sh",))
    assert parse_changes([], base) == base
    with pytest.raises(InvalidParameter, match="copy is not a valid change command"):
        parse_changes(["COPY a b"])


def test_references() -> None:
    assert split_reference("busybox") == ("busybox", "", "")
    assert split_reference("127.0.0.1:5000/a/b:v1") == ("127.0.0.1:5000/a/b", "v1", "")
    assert split_reference("h:5000/x@sha256:ab") == ("h:5000/x", "", "sha256:ab")
    assert normalize_name("busybox") == "docker.io/library/busybox"
    assert normalize_name("me/app") == "docker.io/me/app"
    assert normalize_name("localhost/app") == "localhost/app"
    assert registry_of("busybox") == INDEX_SERVER and registry_of("h.io:5000/x") == "h.io:5000"
    assert registry_of("docker.io/library/x") == INDEX_SERVER
    assert server_key("http://127.0.0.1:5000/v2/") == "127.0.0.1:5000"
    assert server_key("docker.io") == INDEX_SERVER and server_key("") == INDEX_SERVER
    assert registry_domain("https://index.docker.io/v1/") == "docker.io"
    assert registry_domain("127.0.0.1:5000") == "127.0.0.1:5000"


def test_image_rows() -> None:
    img = {"Id": "sha256:" + "a" * 64, "Created": 1, "Size": 2_430_000, "SharedSize": -1, "Containers": -1,
           "RepoTags": ["busybox:latest", "busybox:1", "h:5000/bb:x"],
           "RepoDigests": ["h:5000/bb@sha256:" + "d" * 64, "other@sha256:" + "e" * 64]}
    rows = [(r["Repository"], r["Tag"], r["Digest"]) for r in image_rows([img])]
    assert rows == [("busybox", "latest", "<none>"), ("busybox", "1", "<none>"), ("h:5000/bb", "x", "<none>"),
                    ("other", "<none>", "")]
    rows = [(r["Repository"], r["Tag"], r["Digest"]) for r in image_rows([img], digests=True)]
    assert ("h:5000/bb", "x", "sha256:" + "d" * 64) in rows and ("other", "<none>", "sha256:" + "e" * 64) in rows
    dangling = image_rows([{"Id": "sha256:" + "b" * 64, "RepoTags": [], "RepoDigests": [], "Size": 0}])[0]
    assert (dangling["Repository"], dangling["Tag"], dangling["ID"]) == ("<none>", "<none>", "b" * 12)
    assert image_rows([img])[0]["Size"] == "2.43MB"


def test_credential_store(tmp_path: Path) -> None:
    store = CredentialStore(str(tmp_path / "cfg"))
    assert store.get("h:5000") == {}
    assert store.store("http://h:5000", "u", "p:w") is True
    doc = json.loads((tmp_path / "cfg" / "config.json").read_text())
    assert base64.b64decode(doc["auths"]["h:5000"]["auth"]) == b"u:p:w"
    assert (tmp_path / "cfg" / "config.json").stat().st_mode & 0o777 == 0o600
    assert store.get("h:5000") == {"serveraddress": "h:5000", "username": "u", "password": "p:w"}
    assert store.erase("h:5000") is True and store.get("h:5000") == {}
    assert store.erase("h:5000") is False
    # keys written with a scheme by older clients are still found
    (tmp_path / "cfg" / "config.json").write_text(json.dumps(
        {"auths": {"https://r.io": {"auth": base64.b64encode(b"a:b").decode()}}, "other": 1}))
    assert store.get("r.io")["username"] == "a"
    store.store("x.io", "c", "d")
    assert json.loads((tmp_path / "cfg" / "config.json").read_text())["other"] == 1
