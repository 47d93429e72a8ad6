"""The real docker CLI v28 against skiffd: load, images, tag, push/pull (tag and digest), rmi, save |
load, import --change, prune, history, inspect, events, system df, login/logout, search."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import re
import subprocess
import tarfile
import time
from pathlib import Path

import pytest

from tests.integration.image.registry_fixture import PASSWORD, USER, Registry
from tests.integration.images_api.conftest import make_archive
from tests.support.daemon import DOCKER_CLI, Daemon, running_daemon
from tests.support.images import busybox_tar


def ok(r: subprocess.CompletedProcess[str]) -> str:
    assert r.returncode == 0, f"exit {r.returncode}\nstdout: {r.stdout}\nstderr: {r.stderr}"
    return r.stdout


def load_busybox(d: Daemon, tmp_path: Path, tags: tuple[str, ...] = ("busybox:latest",)) -> str:
    arc = tmp_path / "busybox.tar"
    iid = make_archive(arc, list(tags))
    out = ok(d.docker("load", "-i", str(arc)))
    for t in tags:
        assert f"Loaded image: {t}" in out
    return iid


def test_load_images_columns_inspect(d: Daemon, tmp_path: Path) -> None:
    iid = load_busybox(d, tmp_path)
    lines = ok(d.docker("images")).splitlines()
    assert re.split(r"\s{2,}", lines[0].strip()) == ["REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"]
    assert re.split(r"\s{2,}", lines[1].strip())[:3] == ["busybox", "latest", iid[7:19]]
    assert ok(d.docker("images", "-q")).split() == [iid[7:19]]
    assert ok(d.docker("images", "-q", "--no-trunc")).split() == [iid]
    assert ok(d.docker("images", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}")).strip() == f"busybox:latest {iid[7:19]}"
    row = json.loads(ok(d.docker("images", "--format", "json")).splitlines()[0])
    assert row["Repository"] == "busybox" and row["Tag"] == "latest"
    info = json.loads(ok(d.docker("image", "inspect", "busybox")))[0]
    assert info["Id"] == iid and info["RepoTags"] == ["busybox:latest"]
    assert info["Config"]["Cmd"] == ["sh"] and info["RootFS"]["Type"] == "layers"
    assert ok(d.docker("image", "inspect", "-f", "{{.Os}}/{{.Architecture}}", "busybox")).strip() == "linux/amd64"
    r = d.docker("image", "inspect", "nosuch")
    assert r.returncode == 1 and "No such image: nosuch" in r.stderr


def test_history(d: Daemon, tmp_path: Path) -> None:
    load_busybox(d, tmp_path)
    lines = ok(d.docker("history", "busybox")).splitlines()
    assert re.split(r"\s{2,}", lines[0].strip()) == ["IMAGE", "CREATED", "CREATED BY", "SIZE", "COMMENT"]
    assert len(lines) == 3
    assert "<missing>" in lines[2] or "<missing>" in lines[1]
    full = ok(d.docker("history", "--no-trunc", "--format", "{{.CreatedBy}}|{{.Size}}", "busybox")).splitlines()
    assert full[0].startswith('/bin/sh -c #(nop)  CMD ["sh"]|0B')
    raw = ok(d.docker("history", "-H=false", "--format", "{{.Size}}", "busybox")).split()
    assert raw[0] == "0" and int(raw[1]) > 1_000_000


def test_tag_and_rmi(d: Daemon, tmp_path: Path) -> None:
    iid = load_busybox(d, tmp_path)
    ok(d.docker("tag", "busybox", "example.com/team/bb:v1"))
    ok(d.docker("tag", iid[7:19], "bb2"))
    tags = json.loads(ok(d.docker("image", "inspect", "busybox")))[0]["RepoTags"]
    assert set(tags) == {"busybox:latest", "example.com/team/bb:v1", "bb2:latest"}
    assert ok(d.docker("rmi", "bb2")).strip() == "Untagged: bb2:latest"
    r = d.docker("rmi", iid[7:19])
    assert r.returncode == 1 and "must be forced" in r.stderr
    out = ok(d.docker("rmi", "-f", iid[7:19]))
    assert "Untagged: busybox:latest" in out and f"Deleted: {iid}" in out
    assert ok(d.docker("images", "-q")) == ""
    r = d.docker("rmi", "busybox")
    assert r.returncode == 1 and "No such image: busybox" in r.stderr


def test_push_rmi_pull_by_tag_and_digest(d: Daemon, tmp_path: Path, registry: Registry) -> None:
    iid = load_busybox(d, tmp_path)
    ref = f"{registry.host}/busybox"
    ok(d.docker("tag", "busybox", ref))
    out = ok(d.docker("push", ref))
    m = re.search(r"latest: digest: (sha256:[0-9a-f]{64}) size: \d+", out)
    assert m, out
    digest = m.group(1)
    ok(d.docker("rmi", ref, "busybox"))
    assert ok(d.docker("images", "-q")) == ""
    out = ok(d.docker("pull", ref))
    assert f"Digest: {digest}" in out and f"{ref}:latest" in out
    assert json.loads(ok(d.docker("image", "inspect", ref)))[0]["Id"] == iid
    ok(d.docker("rmi", ref))
    out = ok(d.docker("pull", f"{ref}@{digest}"))
    assert f"{ref}@{digest}" in out
    lines = ok(d.docker("images", "--digests", "--format", "{{.Repository}} {{.Tag}} {{.Digest}}")).splitlines()
    assert f"{ref} <none> {digest}" in lines
    r = d.docker("pull", f"{registry.host}/nosuch:latest")
    assert r.returncode == 1 and "not found" in r.stderr


def test_save_load_round_trip(d: Daemon, tmp_path: Path) -> None:
    iid = load_busybox(d, tmp_path)
    ok(d.docker("tag", "busybox", "other:1"))
    ok(d.docker("save", "-o", str(tmp_path / "out.tar"), "busybox", "other:1"))
    ok(d.docker("rmi", "-f", iid))
    out = ok(d.docker("load", "-i", str(tmp_path / "out.tar")))
    assert "Loaded image: busybox:latest" in out and "Loaded image: other:1" in out
    # piped: docker save | docker load
    ok(d.docker("rmi", "other:1"))
    r = subprocess.run(f"{DOCKER_CLI} save busybox | {DOCKER_CLI} load", shell=True, env=d.env,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and "Loaded image: busybox:latest" in r.stdout, r.stderr
    assert json.loads(ok(d.docker("image", "inspect", "busybox")))[0]["Id"] == iid
    r = d.docker("save", "-o", str(tmp_path / "x.tar"), "nosuch")
    assert r.returncode == 1 and "No such image" in r.stderr


def test_import_with_changes(d: Daemon, tmp_path: Path) -> None:
    tar = tmp_path / "rootfs.tar"
    tar.write_bytes(busybox_tar())
    out = ok(d.docker("import", "--change", 'CMD ["/bin/sh", "-c", "echo hi"]', "-c", "ENV A=1 B=two",
                      "-c", "EXPOSE 8080", "-c", "LABEL team=skiff", "-c", "WORKDIR /srv", "-c", "USER nobody",
                      "-m", "imported by test", str(tar), "imp:v1"))
    iid = out.strip().splitlines()[-1]
    assert iid.startswith("sha256:")
    info = json.loads(ok(d.docker("image", "inspect", "imp:v1")))[0]
    cfg = info["Config"]
    assert cfg["Cmd"] == ["/bin/sh", "-c", "echo hi"]
    assert "A=1" in cfg["Env"] and "B=two" in cfg["Env"]
    assert cfg["ExposedPorts"] == {"8080/tcp": {}} and cfg["Labels"] == {"team": "skiff"}
    assert cfg["WorkingDir"] == "/srv" and cfg["User"] == "nobody"
    assert info["Comment"] == "imported by test"
    # from stdin, shell-form CMD
    rb = subprocess.run([DOCKER_CLI, "import", "-c", "CMD echo hello", "-", "imp:v2"], input=busybox_tar(),
                        env=d.env, capture_output=True, timeout=120)
    assert rb.returncode == 0, rb.stderr
    cmd = json.loads(ok(d.docker("image", "inspect", "imp:v2")))[0]["Config"]["Cmd"]
    assert cmd == ["/bin/sh", "-c", "echo hello"]
    r = d.docker("import", "-c", "RUN echo no", str(tar))
    assert r.returncode == 1 and "run is not a valid change command" in r.stderr


def test_rmi_refused_while_a_container_uses_it(d: Daemon, tmp_path: Path) -> None:
    load_busybox(d, tmp_path)
    r = d.docker("create", "--name", "user1", "busybox", "true")
    if r.returncode != 0:
        pytest.skip(f"containers not available here: {r.stderr.strip()}")
    try:
        r = d.docker("rmi", "busybox")
        assert r.returncode == 1
        assert "conflict: unable to" in r.stderr and "is using its referenced image" in r.stderr
        r = d.docker("image", "prune", "-a", "-f")
        assert r.returncode == 0
        assert ok(d.docker("images", "-q")).strip() != ""
    finally:
        d.docker("rm", "-f", "user1")
    out = ok(d.docker("rmi", "busybox"))
    assert "Deleted:" in out


def test_rmi_force_refused_while_a_container_runs_it(d: Daemon, tmp_path: Path) -> None:
    iid = load_busybox(d, tmp_path)
    r = d.docker("run", "-d", "--name", "runner", "busybox", "sleep", "60")
    if r.returncode != 0:
        pytest.skip(f"containers cannot run here: {r.stderr.strip()}")
    try:
        r = d.docker("rmi", "-f", iid[7:19])
        assert r.returncode == 1
        assert r.stderr.strip() == (f"Error response from daemon: conflict: unable to delete {iid[7:19]} (cannot be "
                                    f"forced) - image is being used by running container {r.stderr.split()[-1]}")
        assert ok(d.docker("images", "-q", "--no-trunc")).split() == [iid]
    finally:
        d.docker("rm", "-f", "runner")


def test_image_prune(d: Daemon, tmp_path: Path) -> None:
    iid = load_busybox(d, tmp_path)
    # dangling: load another image under the same tag, the old one loses its name
    other = tmp_path / "other.tar"
    make_archive(other, ["busybox:latest"], cmd=["echo", "new"])
    ok(d.docker("load", "-i", str(other)))
    dangling = ok(d.docker("images", "-f", "dangling=true", "-q", "--no-trunc")).split()
    assert dangling == [iid]
    out = ok(d.docker("image", "prune", "-f"))
    assert f"deleted: {iid}" in out and "Total reclaimed space:" in out
    assert len(ok(d.docker("images", "-q")).split()) == 1
    out = ok(d.docker("image", "prune", "-a", "-f"))
    assert "untagged: busybox:latest" in out
    assert ok(d.docker("images", "-q")) == ""
    assert ok(d.docker("image", "prune", "-f")).strip() == "Total reclaimed space: 0B"


def test_list_filters(d: Daemon, tmp_path: Path) -> None:
    a = tmp_path / "a.tar"
    make_archive(a, ["first:1"], labels={"tier": "base"})
    ok(d.docker("load", "-i", str(a)))
    time.sleep(0.01)
    b = tmp_path / "b.tar"
    make_archive(b, ["second:1"], cmd=["echo"], labels={"tier": "app"})
    ok(d.docker("load", "-i", str(b)))
    fmt = ["--format", "{{.Repository}}"]
    assert ok(d.docker("images", *fmt, "-f", "label=tier=app")).split() == ["second"]
    assert ok(d.docker("images", *fmt, "-f", "reference=fir*")).split() == ["first"]
    assert ok(d.docker("images", *fmt, "second")).split() == ["second"]
    r = d.docker("images", "-f", "bogus=1")
    assert r.returncode == 1 and "invalid filter" in r.stderr


def test_system_df_and_events(d: Daemon, tmp_path: Path) -> None:
    since = str(time.time())
    iid = load_busybox(d, tmp_path)
    ok(d.docker("tag", "busybox", "ev:1"))
    ok(d.docker("rmi", "ev:1"))
    ok(d.docker("save", "-o", str(tmp_path / "s.tar"), "busybox"))
    ok(d.docker("rmi", "busybox"))
    lines = ok(d.docker("system", "df")).splitlines()
    assert lines[1].split()[:3] == ["Images", "0", "0"]
    out = ok(d.docker("events", "--since", since, "--until", str(time.time() + 0.5), "--filter", "type=image",
                      "--format", "{{.Action}} {{.Actor.ID}}"))
    actions = out.splitlines()
    for want in (f"load {iid}", f"tag {iid}", f"untag {iid}", f"save {iid}", f"delete {iid}"):
        assert want in actions, actions


def test_system_df_counts_images(d: Daemon, tmp_path: Path) -> None:
    load_busybox(d, tmp_path)
    du = json.loads(ok(d.docker("system", "df", "--format", "json")).splitlines()[0])
    assert du["Type"] == "Images" and str(du["TotalCount"]) == "1"
    assert ok(d.docker("info", "--format", "{{.Images}}")).strip() == "1"


def test_login_push_logout_htpasswd(d: Daemon, tmp_path: Path, start_registry: object) -> None:
    reg: Registry = start_registry("htpasswd")  # type: ignore[operator]
    load_busybox(d, tmp_path)
    ref = f"{reg.host}/busybox:1"
    ok(d.docker("tag", "busybox", ref))
    r = d.docker("push", ref, input="")
    assert r.returncode == 1 and ("no basic auth credentials" in r.stderr or "unauthorized" in r.stderr.lower())
    r = d.docker("login", "-u", USER, "--password-stdin", reg.host, input="wrong\n")
    assert r.returncode == 1 and "401" in r.stderr + r.stdout
    out = ok(d.docker("login", "-u", USER, "--password-stdin", reg.host, input=PASSWORD + "\n"))
    assert "Login Succeeded" in out
    cfg = json.loads((Path(d.env["DOCKER_CONFIG"]) / "config.json").read_text())
    assert base64.b64decode(cfg["auths"][reg.host]["auth"]).decode() == f"{USER}:{PASSWORD}"
    ok(d.docker("push", ref))
    ok(d.docker("rmi", ref))
    ok(d.docker("pull", ref))
    out = ok(d.docker("logout", reg.host))
    assert f"Removing login credentials for {reg.host}" in out
    cfg = json.loads((Path(d.env["DOCKER_CONFIG"]) / "config.json").read_text())
    assert reg.host not in cfg.get("auths", {})
    ok(d.docker("rmi", ref))
    r = d.skiff("pull", ref)  # (the docker CLI would prompt for a login on this 401)
    assert r.returncode == 1 and "unauthorized" in r.stderr


def test_login_token_registry(d: Daemon, tmp_path: Path, start_registry: object) -> None:
    reg: Registry = start_registry("token")  # type: ignore[operator]
    load_busybox(d, tmp_path)
    r = d.docker("login", "-u", USER, "--password-stdin", reg.host, input="nope\n")
    assert r.returncode == 1
    ok(d.docker("login", "-u", USER, "--password-stdin", reg.host, input=PASSWORD + "\n"))
    ref = f"{reg.host}/team/busybox:2"
    ok(d.docker("tag", "busybox", ref))
    ok(d.docker("push", ref))


def test_search_fails_cleanly(d: Daemon, registry: Registry) -> None:
    r = d.docker("search", "busybox", timeout=60)  # no internet here: Docker Hub's index is unreachable
    assert r.returncode == 1 and r.stderr.startswith("Error response from daemon:")
    assert "Traceback" not in r.stderr
    r = d.docker("search", f"{registry.host}/busybox", timeout=60)
    assert r.returncode == 1 and "search is not supported without an index" in r.stderr
    r = d.docker("search", "--limit", "101", "busybox", timeout=60)
    assert r.returncode == 1 and "limit 101 is outside the range of [1, 100]" in r.stderr
    r = d.skiff("search", f"{registry.host}/busybox", timeout=60)
    assert r.returncode == 1 and "search is not supported without an index" in r.stderr


def test_pull_all_tags_import_url_and_their_events(d: Daemon, tmp_path: Path, registry: Registry) -> None:
    import functools
    import http.server
    import threading

    since = str(time.time())
    load_busybox(d, tmp_path)
    ref = f"{registry.host}/busybox"
    for t in ("a", "b"):
        ok(d.docker("tag", "busybox", f"{ref}:{t}"))
    out = ok(d.docker("push", "--all-tags", ref))
    assert "a: digest: sha256:" in out and "b: digest: sha256:" in out
    ok(d.docker("rmi", f"{ref}:a", f"{ref}:b"))
    out = ok(d.docker("pull", "--all-tags", ref))
    assert "a: Pulling from busybox" in out and "b: Pulling from busybox" in out
    tags = ok(d.docker("images", ref, "--format", "{{.Tag}}")).split()
    assert sorted(tags) == ["a", "b"]
    www = tmp_path / "www"
    www.mkdir()
    (www / "rootfs.tar").write_bytes(busybox_tar())
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(
        http.server.SimpleHTTPRequestHandler, directory=str(www)))
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{srv.server_address[1]}"
        out = ok(d.docker("import", "-c", "CMD [\"sh\"]", f"{url}/rootfs.tar", "fromurl:1"))
        imported = out.strip().splitlines()[-1]
        assert imported.startswith("sha256:")
        r = d.docker("import", f"{url}/nosuch.tar")
        assert r.returncode == 1 and "404" in r.stderr
    finally:
        srv.shutdown()
        srv.server_close()
    assert json.loads(ok(d.docker("image", "inspect", "fromurl:1")))[0]["Config"]["Cmd"] == ["sh"]
    out = ok(d.docker("events", "--since", since, "--until", str(time.time() + 0.5), "--filter", "type=image",
                      "--format", "{{.Action}} {{.Actor.ID}}"))
    actions = out.splitlines()
    for want in (f"push {ref}", f"pull {ref}", f"import {imported}"):
        assert want in actions, actions


def test_save_a_repository_without_latest(d: Daemon, tmp_path: Path) -> None:
    iid = load_busybox(d, tmp_path, tags=("repo:1", "repo:2"))
    ok(d.docker("save", "-o", str(tmp_path / "repo.tar"), "repo"))
    ok(d.docker("rmi", "repo:1", "repo:2"))
    out = ok(d.docker("load", "-i", str(tmp_path / "repo.tar")))
    assert "Loaded image: repo:1" in out and "Loaded image: repo:2" in out
    assert json.loads(ok(d.docker("image", "inspect", "repo:2")))[0]["Id"] == iid


def test_images_survive_a_daemon_restart(d: Daemon, tmp_path: Path) -> None:
    iid = load_busybox(d, tmp_path)
    ok(d.docker("tag", "busybox", "kept:1"))
    d.restart()
    assert sorted(ok(d.docker("images", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}")).splitlines()) == \
        [f"busybox:latest {iid[7:19]}", f"kept:1 {iid[7:19]}"]
    d.restart(kill=True)
    assert json.loads(ok(d.docker("image", "inspect", "kept:1")))[0]["Id"] == iid


def test_history_of_a_built_image_shows_its_parents(d: Daemon, tmp_path: Path) -> None:
    """As dockerd's classic builder: each step commits an image, and history shows the IDs of the
    images still present (walking parents); rows below the base image's own are <missing>."""
    base = load_busybox(d, tmp_path)
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text("FROM busybox\nENV A=1\nRUN echo hi > /x\n")
    ok(d.docker("build", "-q", "-t", "built", str(ctx)))
    built = json.loads(ok(d.docker("image", "inspect", "built")))[0]
    step = built["Parent"]
    assert step and json.loads(ok(d.docker("image", "inspect", step)))[0]["Parent"] == base
    rows = ok(d.docker("history", "--no-trunc", "--format", "{{.ID}}|{{.CreatedBy}}", "built")).splitlines()
    assert [r.split("|")[0] for r in rows] == [built["Id"], step, base, "<missing>"]
    assert "echo hi" in rows[0] and "ENV A=1" in rows[1] and 'CMD ["sh"]' in rows[2]
    short = ok(d.docker("history", "-q", "built")).split()
    assert short == [built["Id"][7:19], step[7:19], base[7:19], "<missing>"]
    # the link is metadata, as dockerd's: the config (whose digest is the ID) has no "parent"
    saved = subprocess.run([DOCKER_CLI, "save", "built"], env=d.env, capture_output=True, check=True).stdout
    with tarfile.open(fileobj=io.BytesIO(saved)) as tf:
        name = json.load(tf.extractfile("manifest.json"))[0]["Config"]  # type: ignore[arg-type]
        cfg_bytes = tf.extractfile(name).read()  # type: ignore[union-attr]
    assert "parent" not in json.loads(cfg_bytes) and built["Id"] == "sha256:" + hashlib.sha256(cfg_bytes).hexdigest()


def test_layer_sizes_are_content_sizes_on_vfs(tmp_path: Path) -> None:
    """dockerd reports an applied layer's size as the sum of its entries' sizes: a RUN that changes
    nothing is 0B (not the tar's 1024 bytes of end blocks), a 3-byte file is 3B; docker commit too."""
    with running_daemon(tmp_path, ["--storage-driver", "vfs"]) as d:
        load_busybox(d, tmp_path)
        ctx = tmp_path / "ctx"
        ctx.mkdir()
        (ctx / "Dockerfile").write_text("FROM busybox\nRUN true\nRUN echo hi > /x\n")
        ok(d.docker("build", "-q", "-t", "sized", str(ctx)))
        cid = ok(d.docker("create", "sized")).strip()
        ok(d.docker("commit", cid, "committed"))
        sizes = ok(d.docker("history", "-H=false", "--format", "{{.Size}}", "committed")).split()
        assert sizes[:3] == ["0", "3", "0"]
        with tarfile.open(fileobj=io.BytesIO(busybox_tar())) as tf:  # a loaded layer: its content too
            assert int(sizes[-1]) == sum(m.size for m in tf.getmembers() if m.isreg())
        assert ok(d.docker("history", "--format", "{{.Size}}", "committed")).split()[:3] == ["0B", "3B", "0B"]
        ok(d.docker("rm", cid))


def test_pulled_images_have_no_parent_link(d: Daemon, tmp_path: Path, registry: Registry) -> None:
    """dockerd links parents only for what its builder and commit make: a pulled derived image has
    no Parent, so its base, pulled too, is removed by rmi (its layers stay for the derived one)."""
    load_busybox(d, tmp_path)
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text("FROM busybox\nRUN echo hi > /x\n")
    base, derived = f"{registry.host}/pl/base", f"{registry.host}/pl/derived"
    ok(d.docker("tag", "busybox", base))
    ok(d.docker("build", "-q", "-t", derived, str(ctx)))
    for ref in (base, derived):
        ok(d.docker("push", ref))
    ok(d.docker("rmi", derived, base, "busybox"))
    ok(d.docker("pull", derived))
    ok(d.docker("pull", base))
    assert json.loads(ok(d.docker("image", "inspect", derived)))[0]["Parent"] == ""
    out = ok(d.docker("rmi", base))
    assert f"Untagged: {base}:latest" in out and "Deleted: sha256:" in out
    assert ok(d.docker("run", "--rm", "--network", "none", derived, "cat", "/x")).strip() == "hi"
