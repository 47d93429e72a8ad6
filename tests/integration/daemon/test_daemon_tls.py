"""skiffd on TCP with mutual TLS: docker CLI and skiff CLI with client certs work; without a
client certificate the handshake is refused."""

from __future__ import annotations

import socket
import ssl
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.daemon import Daemon, running_daemon


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("certs")
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca-key.pem", "-out", "ca.pem",
             "-days", "2", "-subj", "/CN=skiff-test-ca", cwd=d)
    (d / "server.ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n")
    (d / "client.ext").write_text("extendedKeyUsage=clientAuth\n")
    for name in ("server", "client"):
        _openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}-key.pem", "-out", f"{name}.csr",
                 "-subj", f"/CN={'localhost' if name == 'server' else 'skiff-client'}", cwd=d)
        _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca-key.pem",
                 "-CAcreateserial", "-out", f"{name}.pem", "-days", "2", "-extfile", f"{name}.ext", cwd=d)
    # the layout DOCKER_CERT_PATH expects
    client = d / "client"
    client.mkdir()
    (client / "ca.pem").write_bytes((d / "ca.pem").read_bytes())
    (client / "cert.pem").write_bytes((d / "client.pem").read_bytes())
    (client / "key.pem").write_bytes((d / "client-key.pem").read_bytes())
    return d


def _free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return int(port)


@pytest.fixture
def tls_daemon(tmp_path: Path, certs: Path) -> Iterator[tuple[Daemon, int]]:
    port = _free_port()
    args = ["-H", f"tcp://127.0.0.1:{port}", "--tlsverify", "--tlscacert", str(certs / "ca.pem"),
            "--tlscert", str(certs / "server.pem"), "--tlskey", str(certs / "server-key.pem")]
    with running_daemon(tmp_path, args) as d:
        yield d, port


def test_docker_cli_with_client_cert(tls_daemon: tuple[Daemon, int], certs: Path) -> None:
    d, port = tls_daemon
    env = {k: v for k, v in d.env.items() if k not in ("DOCKER_HOST", "SKIFF_HOST")}
    r = subprocess.run(["/usr/local/bin/docker", "-H", f"tcp://127.0.0.1:{port}", "--tlsverify",
                        "--tlscacert", str(certs / "ca.pem"), "--tlscert", str(certs / "client.pem"),
                        "--tlskey", str(certs / "client-key.pem"), "version", "--format",
                        "{{.Server.Version}}"], env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "0.1.0"


def test_skiff_cli_with_cert_path(tls_daemon: tuple[Daemon, int], certs: Path) -> None:
    d, port = tls_daemon
    env = {k: v for k, v in d.env.items() if k not in ("DOCKER_HOST", "SKIFF_HOST")}
    env.update({"DOCKER_HOST": f"tcp://127.0.0.1:{port}", "DOCKER_TLS_VERIFY": "1",
                "DOCKER_CERT_PATH": str(certs / "client")})
    r = subprocess.run([sys.executable, "-m", "skiff.cli.main", "info", "--format", "{{.ServerVersion}}"],
                       env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "0.1.0"


def test_client_without_cert_is_refused(tls_daemon: tuple[Daemon, int], certs: Path) -> None:
    _, port = tls_daemon
    ctx = ssl.create_default_context(cafile=str(certs / "ca.pem"))
    with pytest.raises((ssl.SSLError, ConnectionResetError, BrokenPipeError)), \
            socket.create_connection(("127.0.0.1", port), timeout=10) as raw, \
            ctx.wrap_socket(raw, server_hostname="localhost") as tls:
        tls.sendall(b"GET /_ping HTTP/1.1\r\nHost: x\r\n\r\n")
        if not tls.recv(100):  # TLS 1.3 reports the refused certificate on the first read
            raise ConnectionResetError("closed")
    # plain HTTP on the TLS port gets nothing useful either
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        raw.sendall(b"GET /_ping HTTP/1.1\r\nHost: x\r\n\r\n")
        assert not raw.recv(100).startswith(b"HTTP/1.1 200")


def test_unix_socket_still_served(tls_daemon: tuple[Daemon, int]) -> None:
    d, _ = tls_daemon
    r = subprocess.run(["/usr/local/bin/docker", "version", "--format", "{{.Server.APIVersion}}"], env=d.env,
                       capture_output=True, text=True, timeout=60)
    assert r.stdout.strip() == "1.51"
