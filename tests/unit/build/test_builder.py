"""The executor end to end against the fake engine: config, history, stream, cache, errors."""

from __future__ import annotations

import io
import os
import re
import tarfile
from collections.abc import Callable
from typing import Any

import pytest

from skiff.build.builder import BuildError, error_message
from skiff.errors import InvalidParameter, NotFound
from skiff.oci.image_spec import ContainerConfig, HealthConfig
from tests.unit.build.conftest import BuildRun
from tests.unit.build.fake_backend import FakeBackend

Build = Callable[..., BuildRun]
PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def history(backend: FakeBackend, image_id: str) -> list[tuple[str, bool]]:
    return [(h.created_by, h.empty_layer) for h in backend.images[image_id].config.history]


def config(backend: FakeBackend, image_id: str) -> ContainerConfig:
    return backend.images[image_id].config.config


def steps(run: BuildRun) -> list[str]:
    return re.findall(r"^Step \d+/\d+ : .*$", run.stream, re.M)


def test_representative_dockerfile_config_and_history(build: Build, backend: FakeBackend) -> None:
    df = """\
FROM busybox
LABEL org.opencontainers.image.title="demo app" version=1
ENV APP_HOME=/app \\
    GREETING="hello world"
WORKDIR $APP_HOME
COPY app.sh ./
RUN echo building
EXPOSE 8080 53/udp
VOLUME /data
USER app
STOPSIGNAL SIGINT
HEALTHCHECK --interval=30s --timeout=3s CMD wget -q -O- localhost:8080 || exit 1
ENTRYPOINT ["/app/app.sh"]
CMD ["--serve"]
"""
    run = build(df, {"app.sh": "#!/bin/sh\necho hi\n"}, tags=("demo",))
    assert run.result is not None
    img = run.result.image_id
    cfg = config(backend, img)
    assert cfg.env == (PATH, "APP_HOME=/app", "GREETING=hello world")
    assert cfg.labels == {"org.opencontainers.image.title": "demo app", "version": "1"}
    assert cfg.working_dir == "/app"
    assert cfg.exposed_ports == ("53/udp", "8080/tcp")
    assert cfg.volumes == ("/data",)
    assert cfg.user == "app"
    assert cfg.stop_signal == "SIGINT"
    assert cfg.healthcheck == HealthConfig(
        test=("CMD-SHELL", "wget -q -O- localhost:8080 || exit 1"), interval=30 * 10**9, timeout=3 * 10**9
    )
    assert cfg.entrypoint == ("/app/app.sh",) and cfg.cmd == ("--serve",)
    hist = history(backend, img)[1:]
    copy_line = hist[3][0]
    assert re.fullmatch(r"/bin/sh -c #\(nop\) COPY file:[0-9a-f]{64} in \./ ", copy_line)
    assert hist == [
        ("/bin/sh -c #(nop)  LABEL org.opencontainers.image.title=demo app version=1", True),
        ("/bin/sh -c #(nop)  ENV APP_HOME=/app GREETING=hello world", True),
        ("/bin/sh -c #(nop) WORKDIR /app", False),
        (copy_line, False),
        ("/bin/sh -c echo building", False),
        ("/bin/sh -c #(nop)  EXPOSE 53/udp 8080", True),
        ("/bin/sh -c #(nop)  VOLUME [/data]", True),
        ("/bin/sh -c #(nop)  USER app", True),
        ("/bin/sh -c #(nop)  STOPSIGNAL SIGINT", True),
        (
            '/bin/sh -c #(nop)  HEALTHCHECK &{["CMD-SHELL" "wget -q -O- localhost:8080 || exit 1"] "30s" "3s" "0s" "0s" \'\\x00\'}',
            True,
        ),
        ('/bin/sh -c #(nop)  ENTRYPOINT ["/app/app.sh"]', True),
        ('/bin/sh -c #(nop)  CMD ["--serve"]', True),
    ]
    assert backend.files(img)["app/app.sh"].startswith("#!/bin/sh")
    assert backend.tags == {"demo:latest": img}


def test_stream_matches_the_classic_builder(build: Build, backend: FakeBackend) -> None:
    run = build('FROM busybox\nRUN echo hi\nCMD ["sh"]\n', tags=("a:1", "b"))
    assert run.result is not None
    lines = run.stream.splitlines()
    short = run.result.image_id[7:19]
    base = backend.names["busybox"][7:19]
    assert lines[0:2] == ["Step 1/3 : FROM busybox", f" ---> {base}"]
    assert lines[2] == "Step 2/3 : RUN echo hi"
    assert re.fullmatch(r" ---> Running in [0-9a-f]{12}", lines[3])
    assert lines[4] == "hi"
    assert re.fullmatch(r" ---> Removed intermediate container [0-9a-f]{12}", lines[5])
    assert lines[7] == 'Step 3/3 : CMD ["sh"]'
    assert lines[-3:] == [
        f"Successfully built {short}",
        "Successfully tagged a:1",
        "Successfully tagged b:latest",
    ]
    aux = [m for m in run.messages if "aux" in m]
    assert aux == [{"aux": {"ID": run.result.image_id}}]
    assert run.messages.index(aux[0]) < len(run.messages) - 3


def test_rebuild_is_fully_cached(build: Build, backend: FakeBackend) -> None:
    df = 'FROM busybox\nARG V=1\nENV X=$V\nCOPY . /src/\nRUN touch /built\nWORKDIR /src\nCMD ["x"]\n'
    files = {"a.txt": "A", "sub/b.txt": "B"}
    first = build(df, files)
    commits = backend.commits
    runs = len(backend.runs)
    second = build(df, files)
    assert first.result is not None and second.result is not None
    assert second.result.image_id == first.result.image_id
    assert backend.commits == commits and len(backend.runs) == runs
    assert second.stream.count(" ---> Using cache") == 6
    # a different build arg changes ENV and everything after it
    third = build(df, files, build_args={"V": "2"})
    assert third.result is not None and third.result.image_id != first.result.image_id
    assert third.stream.count(" ---> Using cache") == 1  # only ARG V=1 (same line, same config)


def test_cache_uses_content_not_mtimes(build: Build, backend: FakeBackend, tmp_path: Any) -> None:
    df = "FROM busybox\nCOPY a.txt /a.txt\n"
    first = build(df, {"a.txt": "same"})
    again = build(df, {"a.txt": "same"})  # a fresh context dir: new mtimes, same bytes
    assert first.result is not None and again.result is not None
    assert again.result.image_id == first.result.image_id
    changed = build(df, {"a.txt": "different"})
    assert changed.result is not None and changed.result.image_id != first.result.image_id
    assert "Using cache" not in changed.stream


def test_no_cache(build: Build) -> None:
    df = "FROM busybox\nRUN echo x\n"
    a = build(df)
    b = build(df, no_cache=True)
    assert "Using cache" not in b.stream
    assert a.result is not None and b.result is not None and a.result.image_id != b.result.image_id


def test_failing_run_leaves_nothing_tagged(build: Build, backend: FakeBackend) -> None:
    run = build(
        "FROM busybox\nRUN echo before\nRUN false\nRUN echo never\n", tags=("broken",), expect_error=True
    )
    assert isinstance(run.error, BuildError)
    assert str(run.error) == "The command '/bin/sh -c false' returned a non-zero code: 1"
    assert run.error.code == 1
    assert getattr(run.error, "line", None) == 3  # where it failed, for error_context()
    assert error_message(run.error) == {
        "errorDetail": {"code": 1, "message": "The command '/bin/sh -c false' returned a non-zero code: 1"},
        "error": "The command '/bin/sh -c false' returned a non-zero code: 1",
    }
    assert "errorDetail" not in run.messages[-1]  # the API writes it (moby's first-byte rule)
    assert backend.tags == {}
    assert "never" not in run.stream
    assert not backend.live  # every workspace released


def test_exec_form_failure_message(build: Build) -> None:
    run = build('FROM busybox\nRUN ["exit", "3"]\n', expect_error=True)
    assert str(run.error) == "The command 'exit 3' returned a non-zero code: 3"


def test_parse_errors_come_before_any_output(build: Build) -> None:
    run = build("FROM busybox\nRUN a\nFORM x\n", expect_error=True)
    assert isinstance(run.error, InvalidParameter)
    assert (
        str(run.error) == "dockerfile parse error on line 3: unknown instruction: FORM (did you mean FROM?)"
    )
    assert run.messages == []
    run = build("FROM busybox\nCOPY --from=nope a b\n", target="nope", expect_error=True)
    assert str(run.error) == "failed to reach build target nope in Dockerfile"


def test_missing_base_image(build: Build) -> None:
    run = build("FROM nosuchimage\n", expect_error=True)
    assert isinstance(run.error, NotFound)
    assert "pull access denied for nosuchimage" in str(run.error)


def test_missing_copy_source(build: Build) -> None:
    run = build("FROM busybox\nCOPY x /x\n", expect_error=True)
    assert str(run.error) == (
        "COPY failed: file not found in build context or excluded by .dockerignore: stat x: file does not exist"
    )
    run = build("FROM busybox\nCOPY *.nothing /x/\n", expect_error=True)
    assert str(run.error) == "COPY failed: no source files were specified"
    run = build("FROM busybox\nCOPY a b /x\n", {"a": "1", "b": "2"}, expect_error=True)
    assert str(run.error) == (
        "When using COPY with more than one source file, the destination must be a directory and end with a /"
    )
    run = build("FROM busybox\nCOPY ../x /x\n", expect_error=True)
    assert str(run.error) == "COPY failed: Forbidden path outside the build context: ../x ()"


def test_copy_semantics(build: Build, backend: FakeBackend) -> None:
    files = {"dir/a.txt": "a", "dir/sub/b.txt": "b", "one.txt": "1", "two.md": "2", "three.md": "3"}
    df = """\
FROM busybox
WORKDIR /w
COPY dir /contents/
COPY dir/a.txt /renamed.txt
COPY one.txt rel/
COPY *.md /docs/
COPY one.txt /existing/
COPY two.md /existing
COPY --chown=app:staff --chmod=0640 one.txt /owned.txt
COPY --exclude=*.md . /filtered/
"""
    run = build(df, files)
    assert run.result is not None
    img = run.result.image_id
    fs = backend.files(img)
    assert fs["contents/a.txt"] == "a" and fs["contents/sub/b.txt"] == "b"
    assert "contents/dir/a.txt" not in fs
    assert fs["renamed.txt"] == "a"
    assert fs["w/rel/one.txt"] == "1"
    assert fs["docs/two.md"] == "2" and fs["docs/three.md"] == "3"
    assert fs["existing/one.txt"] == "1" and fs["existing/two.md"] == "2"  # an existing dir takes the file in
    root = backend.rootfs[img]
    st = os.stat(root / "owned.txt")
    if os.geteuid() == 0:
        assert (st.st_uid, st.st_gid) == (1000, 50)
    assert st.st_mode & 0o7777 == 0o640
    assert "filtered/two.md" not in fs and fs["filtered/one.txt"] == "1" and fs["filtered/dir/a.txt"] == "a"
    lines = [h for h, _ in history(backend, img)]
    assert re.fullmatch(r"/bin/sh -c #\(nop\) COPY dir:[0-9a-f]{64} in /contents/ ", lines[2])
    assert re.fullmatch(r"/bin/sh -c #\(nop\) COPY multi:[0-9a-f]{64} in /docs/ ", lines[5])
    assert re.fullmatch(
        r"/bin/sh -c #\(nop\) COPY --chown=app:staff file:[0-9a-f]{64} in /owned.txt ", lines[8]
    )


def test_chown_errors(build: Build) -> None:
    run = build("FROM busybox\nCOPY --chown=ghost a /a\n", {"a": "1"}, expect_error=True)
    assert str(run.error) == (
        "unable to convert uid/gid chown string to host mapping: can't find uid for user ghost: no such user: ghost"
    )


def test_copy_heredoc_expands_unless_quoted(build: Build, backend: FakeBackend) -> None:
    df = "FROM busybox\nARG WHO=world\nCOPY <<EOF <<'RAW' /etc/\nhello $WHO\nEOF\nhello $WHO\nRAW\n"
    run = build(df)
    assert run.result is not None
    fs = backend.files(run.result.image_id)
    assert fs["etc/EOF"] == "hello world\n" and fs["etc/RAW"] == "hello $WHO\n"


def test_add_extracts_local_archives(build: Build, backend: FakeBackend) -> None:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as t:
        data = b"inside"
        ti = tarfile.TarInfo("pkg/file.txt")
        ti.size = len(data)
        t.addfile(ti, io.BytesIO(data))
    run = build("FROM busybox\nADD pkg.tar.gz /opt/\nCOPY pkg.tar.gz /raw/\n", {"pkg.tar.gz": buf.getvalue()})
    assert run.result is not None
    fs = backend.files(run.result.image_id)
    assert fs["opt/pkg/file.txt"] == "inside"
    assert "raw/pkg.tar.gz" in fs  # COPY never unpacks


def test_from_scratch_gets_default_path(build: Build, backend: FakeBackend) -> None:
    run = build('FROM scratch\nCOPY a /a\nCMD ["/a"]\n', {"a": "x"})
    assert run.result is not None
    assert config(backend, run.result.image_id).env == (PATH,)
    assert " ---> \n" in run.stream  # scratch has no ID to print


def test_entrypoint_resets_cmd_unless_set_in_this_stage(build: Build, backend: FakeBackend) -> None:
    run = build('FROM busybox\nENTRYPOINT ["top"]\n')
    assert run.result is not None
    cfg = config(backend, run.result.image_id)
    assert cfg.entrypoint == ("top",) and cfg.cmd is None
    run = build('FROM busybox\nCMD ["-b"]\nENTRYPOINT top -x\n')
    assert run.result is not None
    cfg = config(backend, run.result.image_id)
    assert cfg.entrypoint == ("/bin/sh", "-c", "top -x") and cfg.cmd == ("-b",)
    run = build("FROM busybox\nENTRYPOINT []\n")
    assert run.result is not None
    assert history(backend, run.result.image_id)[-1] == ("/bin/sh -c #(nop)  ENTRYPOINT []", True)


def test_shell_changes_run_and_nop_lines(build: Build, backend: FakeBackend) -> None:
    run = build('FROM busybox\nSHELL ["/bin/bash", "-c"]\nRUN echo x\nCMD echo $HOME\n')
    assert run.result is not None
    h = history(backend, run.result.image_id)
    assert h[1] == ("/bin/bash -c #(nop)  SHELL [/bin/bash -c]", True)  # committed after the change
    assert h[2] == ("/bin/bash -c echo x", False)
    assert h[3] == ('/bin/bash -c #(nop)  CMD ["/bin/bash" "-c" "echo $HOME"]', True)
    assert backend.runs[-1].args == ("/bin/bash", "-c", "echo x")


class TestArgEnvMatrix:
    def test_arg_in_run_history_and_env(self, build: Build, backend: FakeBackend) -> None:
        run = build("FROM busybox\nARG A=1\nARG B\nRUN echo $A\n", build_args={"B": "2"})
        assert run.result is not None
        assert history(backend, run.result.image_id)[-1] == ("|2 A=1 B=2 /bin/sh -c echo $A", False)
        assert backend.runs[-1].env == (PATH, "A=1", "B=2")
        assert config(backend, run.result.image_id).env == (PATH,)  # ARGs never persist

    def test_build_arg_overrides_default_and_env_overrides_arg(
        self, build: Build, backend: FakeBackend
    ) -> None:
        run = build(
            "FROM busybox\nARG V=default\nENV V=fromenv\nENV W=$V\nRUN true\n", build_args={"V": "cli"}
        )
        assert run.result is not None
        cfg = config(backend, run.result.image_id)
        assert cfg.env == (PATH, "V=fromenv", "W=fromenv")
        assert history(backend, run.result.image_id)[-1] == ("/bin/sh -c true", False)  # V is set by ENV

    def test_meta_args_only_in_from_unless_redeclared(self, build: Build, backend: FakeBackend) -> None:
        df = "ARG IMG=busybox\nARG TAG\nFROM $IMG\nENV BEFORE=${IMG:-unset}\nARG IMG\nENV AFTER=$IMG\n"
        run = build(df)
        assert run.result is not None
        cfg = config(backend, run.result.image_id)
        assert cfg.env == (PATH, "BEFORE=unset", "AFTER=busybox")
        assert steps(run)[:3] == ["Step 1/6 : ARG IMG=busybox", "Step 2/6 : ARG TAG", "Step 3/6 : FROM $IMG"]

    def test_build_arg_overrides_meta_arg(self, build: Build, backend: FakeBackend) -> None:
        backend.add_image("alpine", ContainerConfig(env=(PATH,)))
        run = build("ARG IMG=busybox\nFROM $IMG\n", build_args={"IMG": "alpine"})
        assert run.result is not None and run.result.image_id == backend.names["alpine"]

    def test_unused_build_args_warned_proxies_silent(self, build: Build) -> None:
        run = build(
            "FROM busybox\nARG USED\nRUN true\n",
            build_args={"USED": "1", "Z": "2", "A": "3", "HTTP_PROXY": "http://p"},
        )
        assert "[Warning] One or more build-args [A Z] were not consumed\n" in run.stream

    def test_proxy_args_hidden_from_history_unless_declared(self, build: Build, backend: FakeBackend) -> None:
        run = build("FROM busybox\nRUN true\n", build_args={"http_proxy": "http://p"})
        assert run.result is not None
        assert history(backend, run.result.image_id)[-1] == ("|0 /bin/sh -c true", False)
        assert "http_proxy=http://p" in backend.runs[-1].env
        run = build("FROM busybox\nARG http_proxy\nRUN true\n", build_args={"http_proxy": "http://p"})
        assert run.result is not None
        assert history(backend, run.result.image_id)[-1] == ("|1 http_proxy=http://p /bin/sh -c true", False)

    def test_predefined_platform_args(self, build: Build, backend: FakeBackend) -> None:
        run = build(
            "FROM busybox\nARG TARGETARCH\nARG TARGETPLATFORM\nENV ARCH=$TARGETARCH P=$TARGETPLATFORM\n"
        )
        assert run.result is not None
        assert config(backend, run.result.image_id).env[-2:] == ("ARCH=amd64", "P=linux/amd64")

    def test_arg_expansion_in_words(self, build: Build, backend: FakeBackend) -> None:
        df = (
            'FROM busybox\nARG D=/opt/app\nARG U=app\nARG P="80 443"\nWORKDIR ${D}\nUSER $U\n'
            "EXPOSE $P\nLABEL dir=$D\nVOLUME ${D}/data\nSTOPSIGNAL ${SIG:-SIGTERM}\n"
        )
        run = build(df)
        assert run.result is not None
        cfg = config(backend, run.result.image_id)
        assert (cfg.working_dir, cfg.user) == ("/opt/app", "app")
        assert cfg.exposed_ports == ("443/tcp", "80/tcp")
        assert cfg.labels == {"dir": "/opt/app"} and cfg.volumes == ("/opt/app/data",)
        assert cfg.stop_signal == "SIGTERM"

    def test_run_cmd_not_expanded_by_builder(self, build: Build, backend: FakeBackend) -> None:
        run = build("FROM busybox\nARG X=1\nRUN echo $X\nCMD echo $X\n")
        assert run.result is not None
        assert backend.runs[-1].args == ("/bin/sh", "-c", "echo $X")
        assert config(backend, run.result.image_id).cmd == ("/bin/sh", "-c", "echo $X")

    def test_substitution_error_is_reported(self, build: Build) -> None:
        run = build("FROM busybox\nENV A=${UNSET:?required}\n", expect_error=True)
        assert str(run.error) == 'failed to process "${UNSET:?required}": UNSET: required'


def test_onbuild_parent_and_child(build: Build, backend: FakeBackend) -> None:
    parent = build(
        "FROM busybox\nONBUILD COPY marker /marker\nONBUILD RUN echo triggered\n", tags=("parent",)
    )
    assert parent.result is not None
    pcfg = config(backend, parent.result.image_id)
    assert pcfg.on_build == ("COPY marker /marker", "RUN echo triggered")
    assert history(backend, parent.result.image_id)[-1] == (
        "/bin/sh -c #(nop)  ONBUILD RUN echo triggered",
        True,
    )
    backend.names["parent"] = parent.result.image_id
    child = build('FROM parent\nCMD ["x"]\n', {"marker": "m"})
    assert child.result is not None
    assert "# Executing 2 build triggers\n" in child.stream
    assert "triggered\n" in child.stream
    assert backend.files(child.result.image_id)["marker"] == "m"
    assert config(backend, child.result.image_id).on_build == ()  # triggers do not propagate


def test_multistage_with_target_and_parallel_stages(build: Build, backend: FakeBackend) -> None:
    df = """\
FROM busybox AS a
RUN write /out/a.txt from-a
FROM busybox AS b
RUN write /out/b.txt from-b
FROM busybox AS unused
RUN false
FROM scratch AS final
COPY --from=a /out/a.txt /a.txt
COPY --from=1 /out/b.txt /b.txt
"""
    run = build(df)
    assert run.result is not None
    fs = backend.files(run.result.image_id)
    assert fs == {"a.txt": "from-a", "b.txt": "from-b"}
    assert steps(run) == [
        "Step 1/7 : FROM busybox AS a",
        "Step 2/7 : RUN write /out/a.txt from-a",
        "Step 3/7 : FROM busybox AS b",
        "Step 4/7 : RUN write /out/b.txt from-b",
        "Step 5/7 : FROM scratch AS final",
        "Step 6/7 : COPY --from=a /out/a.txt /a.txt",
        "Step 7/7 : COPY --from=1 /out/b.txt /b.txt",
    ]
    assert len([m for m in run.messages if "aux" in m]) == 3
    t = build(df, target="b")
    assert t.result is not None and backend.files(t.result.image_id)["out/b.txt"] == "from-b"
    assert steps(t) == ["Step 1/2 : FROM busybox AS b", "Step 2/2 : RUN write /out/b.txt from-b"]


def test_stage_used_as_base(build: Build, backend: FakeBackend) -> None:
    run = build("FROM busybox AS base\nENV A=1\nFROM base\nENV B=2\n")
    assert run.result is not None
    assert config(backend, run.result.image_id).env == (PATH, "A=1", "B=2")


def test_copy_from_an_image(build: Build, backend: FakeBackend) -> None:
    backend.add_image("tools", ContainerConfig(), {"usr/bin/tool": "T"})
    run = build("FROM busybox\nCOPY --from=tools /usr/bin/tool /tool\n")
    assert run.result is not None and backend.files(run.result.image_id)["tool"] == "T"


class TestRunMounts:
    def test_cache_mount_persists_and_leaves_no_trace(self, build: Build, backend: FakeBackend) -> None:
        df = "FROM busybox\nRUN --mount=type=cache,target=/root/.cache write /root/.cache/n {0}\n"
        first = build(df.format("one"))
        assert first.result is not None
        cache_dir = backend.runs[-1].mounts[0].source
        assert cache_dir is not None and (cache_dir / "n").read_text() == "one"
        assert "root/.cache/n" not in backend.files(first.result.image_id)
        second = build("FROM busybox\nRUN --mount=type=cache,target=/root/.cache cat /root/.cache/n\n")
        assert "one" in second.stream

    def test_secret_mount_is_never_in_history_or_layer(self, build: Build, backend: FakeBackend) -> None:
        df = "FROM busybox\nRUN --mount=type=secret,id=token cat /run/secrets/token\n"
        run = build(df, secrets={"token": b"s3cr3t"})
        assert run.result is not None
        assert "s3cr3t" in run.stream  # the command saw it
        img = run.result.image_id
        assert all("s3cr3t" not in h for h, _ in history(backend, img))
        assert not any(p.startswith("run/secrets") for p in backend.files(img))
        assert not (backend.rootfs[img] / "run").exists()  # the mount point is gone too
        missing = build(
            "FROM busybox\nRUN --mount=type=secret,id=nope,required cat /run/secrets/nope\n",
            expect_error=True,
        )
        assert str(missing.error) == "secret nope: not found"

    def test_secret_as_env(self, build: Build, backend: FakeBackend) -> None:
        run = build(
            "FROM busybox\nRUN --mount=type=secret,id=tok,env=TOKEN printenv TOKEN\n", secrets={"tok": b"v"}
        )
        assert run.result is not None and "v\n" in run.stream
        assert "TOKEN=v" not in config(backend, run.result.image_id).env

    def test_bind_from_context_and_tmpfs(self, build: Build, backend: FakeBackend) -> None:
        df = "FROM busybox\nRUN --mount=type=bind,source=src,target=/mnt --mount=type=tmpfs,target=/tmp cat /mnt/f\n"
        run = build(df, {"src/f": "bound"})
        assert run.result is not None and "bound" in run.stream
        kinds = [(m.type, m.target, m.readonly) for m in backend.runs[-1].mounts]
        assert kinds == [("bind", "/mnt", True), ("tmpfs", "/tmp", False)]

    def test_network_flag_and_build_network(self, build: Build, backend: FakeBackend) -> None:
        build("FROM busybox\nRUN --network=none true\nRUN true\n", network_mode="host")
        assert [r.network for r in backend.runs[-2:]] == ["none", "host"]


def test_run_heredocs(build: Build, backend: FakeBackend) -> None:
    run = build("FROM busybox\nRUN <<EOF\necho one\necho two\nEOF\n")
    assert run.result is not None and "one\ntwo\n" in run.stream
    assert backend.runs[-1].args == ("/bin/sh", "-c", "echo one\necho two\n")
    build("FROM busybox\nRUN <<EOF\n#!/bin/sh\necho script\nEOF\n")
    assert backend.runs[-1].args == ("/dev/pipes/EOF",)
    build("FROM busybox\nRUN cat <<A && cat <<B\nx\nA\ny\nB\n", expect_error=True)  # the fake has no heredocs
    assert backend.runs[-1].args[-1] == "cat <<A && cat <<B\nx\nA\ny\nB"


def test_labels_option_quiet_and_maintainer(build: Build, backend: FakeBackend) -> None:
    run = build("FROM busybox\nMAINTAINER me\n", labels={"b": "2", "a": "$X"}, quiet=True)
    assert run.result is not None
    assert config(backend, run.result.image_id).labels == {"a": "$X", "b": "2"}
    assert backend.images[run.result.image_id].config.author == "me"
    streams = [m["stream"] for m in run.messages if "stream" in m]
    assert streams == [run.result.image_id + "\n"]


def test_workdir_creates_a_layer_and_relative_paths(build: Build, backend: FakeBackend) -> None:
    run = build("FROM busybox\nWORKDIR /a\nWORKDIR b/\nWORKDIR ../c\nRUN touch here\n")
    assert run.result is not None
    assert config(backend, run.result.image_id).working_dir == "/a/c"
    assert backend.runs[-1].workdir == "/a/c"
    h = history(backend, run.result.image_id)
    assert h[1:4] == [
        ("/bin/sh -c #(nop) WORKDIR /a", False),
        ("/bin/sh -c #(nop) WORKDIR /a/b", False),
        ("/bin/sh -c #(nop) WORKDIR /a/c", False),
    ]
    assert "a/c/here" in backend.files(run.result.image_id)


def test_foreign_platform_refused(build: Build) -> None:
    run = build("FROM busybox\n", platform="linux/arm64", expect_error=True)
    assert isinstance(run.error, InvalidParameter)
    assert 'platform "linux/arm64" is not supported' in str(run.error)
    assert run.messages == []


def test_invalid_values_at_dispatch(build: Build) -> None:
    assert (
        str(build("FROM busybox\nSTOPSIGNAL SIGNOPE\n", expect_error=True).error) == "Invalid signal: SIGNOPE"
    )
    assert str(build("FROM busybox\nEXPOSE 80/xyz\n", expect_error=True).error) == "Invalid proto: xyz"


def test_pull_progress_is_forwarded(build: Build) -> None:
    run = build("FROM busybox\n", pull=True)
    assert {"status": "Pulling from library/busybox", "id": "latest"} in run.messages


def test_output_export_and_spec(build: Build, backend: FakeBackend) -> None:
    from skiff.build.outputs import OutputSpec, export_tar, parse_output

    run = build("FROM scratch\nCOPY a /dir/a\n", {"a": "x"})
    assert run.result is not None
    buf = io.BytesIO()
    n = export_tar(backend, run.result.image_id, buf)
    buf.seek(0)
    with tarfile.open(fileobj=buf) as t:
        assert sorted(t.getnames()) == ["dir", "dir/a"]
    assert n == 2 and not backend.live
    assert parse_output("out") == OutputSpec("local", "out")
    assert parse_output("-") == OutputSpec("tar", "-")
    assert parse_output("type=tar,dest=o.tar") == OutputSpec("tar", "o.tar")
    with pytest.raises(InvalidParameter, match='output type "registry" is not supported'):
        parse_output("type=registry,dest=x")


def test_stream_iterator_yields_messages_then_raises(backend: FakeBackend, tmp_path: Any) -> None:
    from skiff.build.builder import Builder, BuildOptions
    from skiff.build.cache import MemoryCacheStore
    from skiff.build.context import open_context_dir

    (tmp_path / "ok").mkdir()
    (tmp_path / "ok/Dockerfile").write_text("FROM busybox\nRUN echo hi\n")
    stream = Builder(backend, MemoryCacheStore()).stream(open_context_dir(tmp_path / "ok"), BuildOptions())
    msgs = list(stream)
    assert stream.result is not None and {"aux": {"ID": stream.result.image_id}} in msgs
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad/Dockerfile").write_text("FROM busybox\nRUN false\n")
    stream = Builder(backend, MemoryCacheStore()).stream(open_context_dir(tmp_path / "bad"), BuildOptions())
    got: list[Any] = []
    with pytest.raises(BuildError):
        for m in stream:
            got.append(m)
    assert got and got[0] == {"stream": "Step 1/2 : FROM busybox\n"}


def test_cancel_stops_between_steps(backend: FakeBackend, tmp_path: Any) -> None:
    from skiff.build.builder import Builder, BuildOptions
    from skiff.build.cache import MemoryCacheStore
    from skiff.build.context import open_context_dir

    (tmp_path / "Dockerfile").write_text("FROM busybox\nRUN echo one\nRUN echo two\n")
    builder = Builder(backend, MemoryCacheStore())
    assert not builder.cancel("nope")
    seen: list[Any] = []

    def emit(msg: Any) -> None:
        seen.append(msg)
        if msg == {"stream": "one\n"}:
            assert builder.cancel("b1")

    with pytest.raises(BuildError, match="Build cancelled"):
        builder.build(open_context_dir(tmp_path), BuildOptions(build_id="b1", tags=("t",)), emit)
    assert {"stream": "Build cancelled\n"} in seen and backend.tags == {}
    assert not builder.cancel("b1")


def test_cache_from_another_image(build: Build, backend: FakeBackend, tmp_path: Any) -> None:
    from skiff.build.cache import MemoryCacheStore

    df = 'FROM busybox\nENV A=1\nRUN echo slow\nCMD ["x"]\n'
    first = build(df, tags=("cached:src",))
    assert first.result is not None
    backend.names["cached:src"] = first.result.image_id
    runs = len(backend.runs)
    # a builder with an empty local cache (another machine) reuses the image given as --cache-from
    from skiff.build.builder import Builder, BuildOptions
    from skiff.build.context import open_context_dir

    (tmp_path / "c").mkdir()
    (tmp_path / "c/Dockerfile").write_text(df)
    msgs: list[Any] = []
    res = Builder(backend, MemoryCacheStore()).build(
        open_context_dir(tmp_path / "c"), BuildOptions(cache_from=("cached:src", "missing:x")), msgs.append
    )
    assert len(backend.runs) == runs  # RUN not executed again
    assert "".join(m.get("stream", "") for m in msgs).count(" ---> Using cache") == 3
    assert res.image_id == first.result.image_id
    assert history(backend, res.image_id) == history(backend, first.result.image_id)


@pytest.fixture
def http_server(tmp_path: Any) -> Any:
    import http.server
    import threading

    root = tmp_path / "www"
    root.mkdir()
    (root / "tool.txt").write_text("downloaded")

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *a: Any, **kw: Any) -> None:
            super().__init__(*a, directory=str(root), **kw)

        def log_message(self, *a: Any) -> None:
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    try:
        yield f"http://127.0.0.1:{srv.server_address[1]}"
    finally:
        srv.shutdown()
        srv.server_close()


def test_add_url_and_checksum(build: Build, backend: FakeBackend, http_server: str) -> None:
    import hashlib

    digest = hashlib.sha256(b"downloaded").hexdigest()
    run = build(f"FROM busybox\nADD --checksum=sha256:{digest} {http_server}/tool.txt /opt/\n")
    assert run.result is not None
    root = backend.rootfs[run.result.image_id]
    assert (root / "opt/tool.txt").read_text() == "downloaded"
    assert (root / "opt/tool.txt").stat().st_mode & 0o777 == 0o600  # remote files are 0600
    bad = build(
        f"FROM busybox\nADD --checksum=sha256:{'0' * 64} {http_server}/tool.txt /opt/\n", expect_error=True
    )
    assert str(bad.error).startswith("ADD failed: digest mismatch sha256:")
    missing = build(f"FROM busybox\nADD {http_server}/nope /x\n", expect_error=True)
    assert "ADD failed: failed to GET" in str(missing.error)
    local = build("FROM busybox\nADD --checksum=sha256:abc a /a\n", {"a": "1"}, expect_error=True)
    assert str(local.error) == "checksum can't be specified for non-HTTP(S) sources"


def test_copy_parents_and_chmod_dirs(build: Build, backend: FakeBackend) -> None:
    files = {"src/a/x.txt": "x", "src/b/y.txt": "y"}
    run = build(
        "FROM busybox\nCOPY --parents src/*/x.txt src/b/y.txt /out/\nCOPY --chmod=700 src /priv/\n", files
    )
    assert run.result is not None
    fs = backend.files(run.result.image_id)
    assert fs["out/src/a/x.txt"] == "x" and fs["out/src/b/y.txt"] == "y"
    root = backend.rootfs[run.result.image_id]
    assert (root / "priv/a/x.txt").stat().st_mode & 0o777 == 0o700


def test_run_mount_from_stage(build: Build, backend: FakeBackend) -> None:
    df = "FROM busybox AS data\nRUN write /d/file staged\nFROM busybox\nRUN --mount=type=bind,from=data,source=/d,target=/mnt cat /mnt/file\n"
    run = build(df)
    assert run.result is not None and "staged" in run.stream
    assert "mnt" not in {p.split("/")[0] for p in backend.files(run.result.image_id)}


def test_bind_mounted_context_files_are_cache_inputs(build: Build, backend: FakeBackend) -> None:
    df = "FROM busybox\nRUN --mount=type=bind,source=req.txt,target=/req.txt cat /req.txt\n"
    build(df, {"req.txt": "v1"})
    again = build(df, {"req.txt": "v1"})
    assert "Using cache" in again.stream
    changed = build(df, {"req.txt": "v2"})
    assert "Using cache" not in changed.stream and "v2" in changed.stream


def test_empty_continuation_warning(build: Build) -> None:
    run = build("FROM busybox\nRUN echo a \\\n\n  b\n")
    assert "[WARNING]: Empty continuation line found in: RUN echo a   b\n" in run.stream
    assert "[WARNING]: Empty continuation lines will become errors in a future release.\n" in run.stream


def test_abandoned_stream_cancels_the_build(backend: FakeBackend, tmp_path: Any) -> None:
    from skiff.build.builder import Builder, BuildOptions
    from skiff.build.cache import MemoryCacheStore
    from skiff.build.context import open_context_dir

    (tmp_path / "Dockerfile").write_text("FROM busybox\n" + "RUN echo x\n" * 20)
    stream = Builder(backend, MemoryCacheStore()).stream(
        open_context_dir(tmp_path), BuildOptions(tags=("t",))
    )
    for _msg in stream:
        break  # the client went away
    stream._thread.join(10)
    assert not stream._thread.is_alive()
    assert backend.tags == {}


def test_copy_from_an_empty_scratch_stage(build: Build, backend: FakeBackend) -> None:
    run = build("FROM scratch AS empty\nFROM busybox\nCOPY --from=empty / /e/\n")
    assert run.result is not None


EXPANSION = [
    # (instruction using $V, what the image shows) -- V=val, W="a b"
    ("ENV E=$V", lambda c: "E=val" in c.env),
    ("LABEL l=$V", lambda c: c.labels == {"l": "val"}),
    ("WORKDIR /$V", lambda c: c.working_dir == "/val"),
    ("USER $V", lambda c: c.user == "val"),
    ("VOLUME /$V", lambda c: c.volumes == ("/val",)),
    ("STOPSIGNAL SIG${S}", lambda c: c.stop_signal == "SIGTERM"),
    ("EXPOSE $W", lambda c: c.exposed_ports == ("80/tcp", "81/tcp")),
    # never expanded by the builder: the shell (or nothing) sees the text
    ("CMD echo $V", lambda c: c.cmd == ("/bin/sh", "-c", "echo $V")),
    ('CMD ["$V"]', lambda c: c.cmd == ("$V",)),
    ("ENTRYPOINT $V", lambda c: c.entrypoint == ("/bin/sh", "-c", "$V")),
    ("HEALTHCHECK CMD $V", lambda c: c.healthcheck is not None and c.healthcheck.test == ("CMD-SHELL", "$V")),
    ('SHELL ["/bin/$V"]', lambda c: c.shell == ("/bin/$V",)),
    ("ONBUILD RUN $V", lambda c: c.on_build == ("RUN $V",)),
]


@pytest.mark.parametrize(("line", "check"), EXPANSION, ids=[e[0] for e in EXPANSION])
def test_which_instructions_expand(build: Build, backend: FakeBackend, line: str, check: Any) -> None:
    run = build(f'FROM busybox\nARG V=val\nARG W="80 81"\nARG S=TERM\n{line}\n')
    assert run.result is not None
    assert check(config(backend, run.result.image_id))
