"""The skiff CLI's image and registry commands against skiffd (and docker/skiff sharing logins)."""

from __future__ import annotations

import base64
import json
import re
import subprocess
import sys
from pathlib import Path

from tests.integration.image.registry_fixture import PASSWORD, USER, Registry
from tests.integration.images_api.conftest import make_archive
from tests.support.daemon import Daemon
from tests.support.images import busybox_tar


def ok(r: subprocess.CompletedProcess[str]) -> str:
    assert r.returncode == 0, f"exit {r.returncode}\nstdout: {r.stdout}\nstderr: {r.stderr}"
    return r.stdout


def test_load_images_history_inspect(d: Daemon, tmp_path: Path) -> None:
    arc = tmp_path / "bb.tar"
    iid = make_archive(arc, ["busybox:latest"])
    assert "Loaded image: busybox:latest" in ok(d.skiff("load", "-i", str(arc)))
    # same columns and rows as the docker CLI prints
    assert ok(d.skiff("images")) == ok(d.docker("images"))
    assert ok(d.skiff("images", "-q", "--no-trunc")).split() == [iid]
    assert ok(d.skiff("image", "ls", "--format", "{{.Repository}} {{.Tag}}")) == "busybox latest\n"
    assert ok(d.skiff("history", "busybox")) == ok(d.docker("history", "busybox"))
    assert ok(d.skiff("history", "--no-trunc", "busybox")) == ok(d.docker("history", "--no-trunc", "busybox"))
    for cmd in (("images", "--format", "json"), ("history", "--format", "json", "busybox"),
                ("history", "-H=false", "busybox"),
                ("images", "--format", "table {{.Repository}}\t{{.CreatedAt}}\t{{.VirtualSize}}")):
        assert ok(d.skiff(*cmd)) == ok(d.docker(*cmd)), cmd
    assert json.loads(ok(d.skiff("image", "inspect", "busybox"))) == json.loads(ok(d.docker("image", "inspect",
                                                                                            "busybox")))
    assert ok(d.skiff("image", "inspect", "-f", "{{.Id}}", "busybox")).strip() == iid
    r = d.skiff("image", "inspect", "nosuch")
    assert r.returncode == 1 and "No such image: nosuch" in r.stderr


def test_tag_push_pull_rmi_save_load(d: Daemon, tmp_path: Path, registry: Registry) -> None:
    arc = tmp_path / "bb.tar"
    iid = make_archive(arc, ["busybox:latest"])
    ok(d.skiff("load", "-q", "-i", str(arc)))
    ref = f"{registry.host}/sk/busybox:v1"
    ok(d.skiff("tag", "busybox", ref))
    out = ok(d.skiff("push", ref))
    m = re.search(r"v1: digest: (sha256:[0-9a-f]{64})", out)
    assert m, out
    out = ok(d.skiff("rmi", ref))
    assert f"Untagged: {ref}" in out
    out = ok(d.skiff("pull", ref))
    assert out.rstrip().endswith(ref) and f"Digest: {m.group(1)}" in out
    assert ok(d.skiff("pull", "-q", f"{registry.host}/sk/busybox@{m.group(1)}")).strip() == \
        f"{registry.host}/sk/busybox@{m.group(1)}"
    # (docker walks a Go map for the rows of one image: their order is random)
    assert sorted(ok(d.skiff("images", "--digests")).splitlines()) == \
        sorted(ok(d.docker("images", "--digests")).splitlines())
    # save to stdout | load from stdin
    saved = subprocess.run([sys.executable, "-m", "skiff.cli.main", "save", "busybox"], env=d.env,
                           capture_output=True, timeout=120)
    assert saved.returncode == 0 and saved.stdout[:512].strip(b"\0"), saved.stderr
    ok(d.skiff("rmi", "-f", iid))
    loaded = subprocess.run([sys.executable, "-m", "skiff.cli.main", "load"], input=saved.stdout, env=d.env,
                            capture_output=True, timeout=120)
    assert loaded.returncode == 0 and b"Loaded image: busybox:latest" in loaded.stdout, loaded.stderr
    ok(d.skiff("save", "-o", str(tmp_path / "o.tar"), "busybox"))
    assert (tmp_path / "o.tar").stat().st_size > 1_000_000


def test_import_prune(d: Daemon, tmp_path: Path) -> None:
    tar = tmp_path / "rootfs.tar"
    tar.write_bytes(busybox_tar())
    out = ok(d.skiff("import", "-c", "ENTRYPOINT [\"/bin/sh\"]", "-m", "hello", str(tar), "imp"))
    assert out.strip().startswith("sha256:")
    info = json.loads(ok(d.skiff("image", "inspect", "imp")))[0]
    assert info["Config"]["Entrypoint"] == ["/bin/sh"] and info["Comment"] == "hello"
    rb = subprocess.run([sys.executable, "-m", "skiff.cli.main", "import", "-"], input=busybox_tar(), env=d.env,
                        capture_output=True, timeout=120)
    assert rb.returncode == 0
    dangling = rb.stdout.decode().strip()
    out = ok(d.skiff("image", "prune", "-f"))
    assert f"deleted: {dangling}" in out
    out = ok(d.skiff("image", "prune", "-a", "-f"))
    assert "untagged: imp:latest" in out
    assert ok(d.skiff("images", "-q")) == ""
    r = d.skiff("image", "prune", input="n\n")
    # declined: docker v28 prints nothing more and exits 0 (it swallows its cancelledErr)
    assert r.returncode == 0 and "WARNING! This will remove all dangling images." in r.stdout and r.stderr == ""


def test_login_shared_with_docker(d: Daemon, tmp_path: Path, start_registry: object) -> None:
    reg: Registry = start_registry("htpasswd")  # type: ignore[operator]
    cfg_path = Path(d.env["DOCKER_CONFIG"]) / "config.json"
    r = d.skiff("login", "-u", USER, "--password-stdin", reg.host, input="bad\n")
    assert r.returncode == 1 and "401" in r.stderr
    out = ok(d.skiff("login", "-u", USER, "--password-stdin", reg.host, input=PASSWORD + "\n"))
    assert "Login Succeeded" in out
    cfg = json.loads(cfg_path.read_text())
    assert base64.b64decode(cfg["auths"][reg.host]["auth"]).decode() == f"{USER}:{PASSWORD}"
    # the docker CLI uses skiff's login to push
    arc = tmp_path / "bb.tar"
    make_archive(arc, ["busybox:latest"])
    ok(d.docker("load", "-i", str(arc)))
    ok(d.docker("tag", "busybox", f"{reg.host}/bb:1"))
    ok(d.docker("push", f"{reg.host}/bb:1"))
    ok(d.docker("logout", reg.host))
    # and skiff uses docker's login to pull
    ok(d.docker("login", "-u", USER, "--password-stdin", reg.host, input=PASSWORD + "\n"))
    ok(d.skiff("rmi", f"{reg.host}/bb:1"))
    ok(d.skiff("pull", f"{reg.host}/bb:1"))
    assert f"Removing login credentials for {reg.host}" in ok(d.skiff("logout", reg.host))
    assert reg.host not in json.loads(cfg_path.read_text()).get("auths", {})
    assert "Not logged in" in ok(d.skiff("logout", reg.host))


def test_credential_helper(d: Daemon, tmp_path: Path, start_registry: object) -> None:
    """credsStore: a docker-credential-<name> program on PATH keeps the secret, config.json does not."""
    reg: Registry = start_registry("htpasswd")  # type: ignore[operator]
    bindir = tmp_path / "bin"
    bindir.mkdir()
    store = tmp_path / "helper-store.json"
    helper = bindir / "docker-credential-skifftest"
    helper.write_text(f"""#!{sys.executable}
import json, sys
path = {str(store)!r}
try:
    db = json.load(open(path))
except OSError:
    db = {{}}
action = sys.argv[1]
data = sys.stdin.read()
if action == "store":
    c = json.loads(data)
    db[c["ServerURL"]] = c
    json.dump(db, open(path, "w"))
elif action == "get":
    c = db.get(data.strip())
    if c is None:
        print("credentials not found in native keychain")
        sys.exit(1)
    print(json.dumps(c))
elif action == "erase":
    db.pop(data.strip(), None)
    json.dump(db, open(path, "w"))
""")
    helper.chmod(0o755)
    cfg_path = Path(d.env["DOCKER_CONFIG"]) / "config.json"
    cfg_path.write_text(json.dumps({"credsStore": "skifftest"}))
    env = {"PATH": f"{bindir}:{d.env['PATH']}"}
    ok(d.skiff("login", "-u", USER, "--password-stdin", reg.host, input=PASSWORD + "\n", env=env))
    assert json.loads(store.read_text())[reg.host]["Secret"] == PASSWORD
    assert "auth" not in json.loads(cfg_path.read_text())["auths"].get(reg.host, {})
    arc = tmp_path / "bb.tar"
    make_archive(arc, ["busybox:latest"])
    ok(d.skiff("load", "-i", str(arc)))
    ok(d.skiff("tag", "busybox", f"{reg.host}/bb:2"))
    ok(d.skiff("push", f"{reg.host}/bb:2", env=env))
    ok(d.docker("rmi", f"{reg.host}/bb:2"))
    ok(d.docker("pull", f"{reg.host}/bb:2", env=env))  # the docker CLI reads the same helper
    ok(d.skiff("logout", reg.host, env=env))
    assert reg.host not in json.loads(store.read_text())


def test_errors_and_empty_outputs_match_docker(d: Daemon, tmp_path: Path, registry: Registry) -> None:
    """Same exit code, stdout and stderr as the docker CLI for failures and empty listings."""
    cmds = [("images",), ("image", "inspect", "nosuch"), ("rmi", "nosuch"), ("history", "nosuch"),
            ("tag", "nosuch", "x"), ("save", "-o", str(tmp_path / "x.tar"), "nosuch"), ("image", "prune", "-f"),
            ("pull", f"{registry.host}/nosuch"), ("push", f"{registry.host}/nosuch"),
            ("import", str(tmp_path / "none.tar")), ("load", "-i", str(tmp_path / "none.tar")),
            ("tag", "a", "b@sha256:" + "0" * 64), ("images", "-f", "dangling=maybe")]
    for c in cmds:
        a, b = d.docker(*c, input=""), d.skiff(*c, input="")
        assert (b.returncode, b.stdout, b.stderr) == (a.returncode, a.stdout, a.stderr), c
