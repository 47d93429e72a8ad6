"""A real registry (Debian's docker-registry, distribution 2.8) on 127.0.0.1, optionally behind
htpasswd basic auth or a Bearer token server of our own (JWT signed with openssl), and helpers to
build OCI layouts by hand (independently of Skiff's code) for skopeo to push."""

from __future__ import annotations

import base64
import hashlib
import http.server
import io
import json
import os
import socket
import subprocess
import tarfile
import threading
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

USER, PASSWORD = "skiff", "s3cret-pw"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class TokenServer:
    """Issues JWTs for the registry's token auth; records every request it got."""

    workdir: Path
    users: dict[str, str]
    requests: list[dict[str, object]] = field(default_factory=list)
    refresh_tokens: dict[str, str] = field(default_factory=dict)  # identity token -> user
    port: int = 0
    _server: http.server.ThreadingHTTPServer | None = None

    def start(self) -> None:
        key, cert = self.workdir / "token.key", self.workdir / "token.crt"
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key),
                        "-out", str(cert), "-days", "1", "-subj", "/CN=skiff-test-token"],
                       check=True, capture_output=True)
        der = subprocess.run(f"openssl x509 -in {cert} -pubkey -noout | openssl pkey -pubin -outform DER",
                             shell=True, check=True, capture_output=True).stdout
        b32 = base64.b32encode(hashlib.sha256(der).digest()[:30]).decode().rstrip("=")
        self.kid = ":".join(b32[i:i + 4] for i in range(0, len(b32), 4))
        self.key, self.cert = key, cert
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:  # OAuth2: refresh token (docker login identity tokens)
                n = int(self.headers.get("Content-Length", "0"))
                form = urllib.parse.parse_qs(self.rfile.read(n).decode())
                user = outer.refresh_tokens.get(form.get("refresh_token", [""])[0], "")
                if form.get("grant_type") != ["refresh_token"] or not user:
                    self.send_response(401)
                    self.end_headers()
                    return
                self._grant(user, form.get("scope", [""])[0].split(), form.get("service", [""])[0], "access_token")

            def do_GET(self) -> None:
                q = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
                user = ""
                auth = self.headers.get("Authorization", "")
                if auth.startswith("Basic "):
                    user, _, pw = base64.b64decode(auth[6:]).decode().partition(":")
                    if outer.users.get(user) != pw:
                        self.send_response(401)
                        self.end_headers()
                        return
                self._grant(user, q.get("scope", []), q.get("service", [""])[0], "token")

            def _grant(self, user: str, scopes: list[str], service: str, field: str) -> None:
                outer.requests.append({"user": user, "scopes": scopes, "service": service})
                access = []
                for sc in scopes:
                    typ, name, actions = sc.split(":")
                    acts = actions.split(",")
                    if not user:  # anonymous: pull only
                        acts = [a for a in acts if a == "pull"]
                    access.append({"type": typ, "name": name, "actions": acts})
                token = outer.sign({"iss": "skiff-test-issuer", "sub": user, "aud": "skiff-test-registry",
                                    "exp": int(time.time()) + 300, "nbf": int(time.time()) - 10,
                                    "iat": int(time.time()), "jti": os.urandom(8).hex(), "access": access})
                body = json.dumps({field: token, "expires_in": 300}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def sign(self, claims: dict[str, object]) -> str:
        def b64(b: bytes) -> str:
            return base64.urlsafe_b64encode(b).decode().rstrip("=")
        header = {"typ": "JWT", "alg": "RS256", "kid": self.kid}
        signing = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims).encode())}"
        sig = subprocess.run(["openssl", "dgst", "-sha256", "-sign", str(self.key)], input=signing.encode(),
                             check=True, capture_output=True).stdout
        return f"{signing}.{b64(sig)}"

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()


@dataclass
class Registry:
    workdir: Path
    auth: str = ""  # "", "htpasswd" or "token"
    tls: bool = False  # serve https with a self-signed certificate for 127.0.0.1 (ca at workdir/ca.crt)
    port: int = 0
    proc: subprocess.Popen[bytes] | None = None
    token: TokenServer | None = None

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        lines = ["version: 0.1", "log:", "  level: error", "storage:", "  filesystem:",
                 f"    rootdirectory: {self.workdir / 'data'}", "  delete:", "    enabled: true",
                 "http:", f"  addr: 127.0.0.1:{self.port}", "  secret: skiff-test-secret"]
        if self.auth == "htpasswd":
            pw = subprocess.run(["htpasswd", "-Bbn", USER, PASSWORD], check=True, capture_output=True).stdout
            (self.workdir / "htpasswd").write_bytes(pw)
            lines += ["auth:", "  htpasswd:", "    realm: skiff-test", f"    path: {self.workdir / 'htpasswd'}"]
        elif self.auth == "token":
            self.token = TokenServer(self.workdir, {USER: PASSWORD})
            self.token.start()
            lines += ["auth:", "  token:", f"    realm: http://127.0.0.1:{self.token.port}/token",
                      "    service: skiff-test-registry", "    issuer: skiff-test-issuer",
                      f"    rootcertbundle: {self.token.cert}"]
        if self.tls:
            key, crt = self.workdir / "tls.key", self.workdir / "ca.crt"
            subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key),
                            "-out", str(crt), "-days", "1", "-subj", "/CN=127.0.0.1",
                            "-addext", "subjectAltName=IP:127.0.0.1"], check=True, capture_output=True)
            lines += ["  tls:", f"    certificate: {crt}", f"    key: {key}"]
        cfg = self.workdir / "config.yml"
        cfg.write_text("\n".join(lines) + "\n")
        log = open(self.workdir / "registry.log", "wb")  # noqa: SIM115 - kept for the process lifetime
        self.proc = subprocess.Popen(["docker-registry", "serve", str(cfg)], stdout=log, stderr=log)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                if self.tls:
                    with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                        return
                urllib.request.urlopen(f"http://{self.host}/v2/", timeout=1)
                return
            except urllib.error.HTTPError:
                return  # 401: up, wants auth
            except OSError:
                if self.proc.poll() is not None:
                    raise RuntimeError((self.workdir / "registry.log").read_text()) from None
                time.sleep(0.05)
        raise RuntimeError("registry did not start")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.token is not None:
            self.token.stop()

    def blob_files(self) -> list[str]:
        root = self.workdir / "data" / "docker" / "registry" / "v2" / "blobs"
        return sorted(p.parent.name for p in root.rglob("data")) if root.exists() else []


# -- hand-made images (independent of Skiff) ----------------------------------------------------

def layer_tar(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for name, data in sorted(files.items()):
            ti = tarfile.TarInfo(name)
            ti.size, ti.mode, ti.mtime = len(data), 0o644, 1_700_000_000
            tf.addfile(ti, io.BytesIO(data))
    return buf.getvalue()


def _sha(b: bytes) -> str:
    return "sha256:" + hashlib.sha256(b).hexdigest()


def write_oci_layout(dest: Path, images: list[tuple[str, str, list[bytes]]], tag: str = "latest",
                     as_index: bool = False, gzip_layers: bool = True) -> dict[str, str]:
    """Write an OCI layout with one manifest per (os, arch[/variant], layers); as_index puts them all
    in one image index under ``tag``. Returns {platform: manifest digest, "index": digest}."""
    import gzip

    blobs = dest / "blobs" / "sha256"
    blobs.mkdir(parents=True, exist_ok=True)

    def put(b: bytes) -> str:
        d = _sha(b)
        (blobs / d[7:]).write_bytes(b)
        return d
    out: dict[str, str] = {}
    descs = []
    for os_, arch, layers in images:
        arch, _, variant = arch.partition("/")
        blobs_l = [gzip.compress(x, mtime=0) if gzip_layers else x for x in layers]
        cfg = {"architecture": arch, "os": os_, **({"variant": variant} if variant else {}),
               "created": "2024-01-01T00:00:00Z", "config": {"Cmd": ["/bin/sh"], "Env": ["PATH=/bin"]},
               "rootfs": {"type": "layers", "diff_ids": [_sha(x) for x in layers]},
               "history": [{"created_by": f"layer {i}"} for i in range(len(layers))]}
        cb = json.dumps(cfg).encode()
        man = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
               "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": put(cb), "size": len(cb)},
               "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar" + ("+gzip" if gzip_layers else ""),
                           "digest": put(b), "size": len(b)} for b in blobs_l]}
        mb = json.dumps(man).encode()
        md = put(mb)
        plat = {"architecture": arch, "os": os_, **({"variant": variant} if variant else {})}
        out[f"{os_}/{arch}" + (f"/{variant}" if variant else "")] = md
        descs.append({"mediaType": man["mediaType"], "digest": md, "size": len(mb), "platform": plat})
    if as_index:
        idx = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": descs}
        ib = json.dumps(idx).encode()
        out["index"] = put(ib)
        top = [{"mediaType": idx["mediaType"], "digest": out["index"], "size": len(ib),
                "annotations": {"org.opencontainers.image.ref.name": tag}}]
    else:
        top = [{**descs[0], "annotations": {"org.opencontainers.image.ref.name": tag}}]
        top[0].pop("platform", None)
    (dest / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": top}))
    (dest / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    return out


def skopeo(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["skopeo", "--insecure-policy", *args], check=True, capture_output=True, text=True,
                          timeout=timeout)
