"""Typed instructions: every instruction's fields, and the errors in Docker's words."""

from __future__ import annotations

import pytest

from skiff.build.instructions import (
    AddInstruction,
    ArgDef,
    ArgInstruction,
    CmdInstruction,
    CopyInstruction,
    EntrypointInstruction,
    EnvInstruction,
    ExposeInstruction,
    FromInstruction,
    HealthcheckInstruction,
    InstructionError,
    KeyValue,
    LabelInstruction,
    MaintainerInstruction,
    OnbuildInstruction,
    RunInstruction,
    ShellInstruction,
    StopSignalInstruction,
    UserInstruction,
    VolumeInstruction,
    WorkdirInstruction,
    parse_instruction,
    parse_stages,
)
from skiff.build.parser import parse


def one(line: str) -> object:
    return parse_instruction(parse("FROM x\n" + line + "\n").nodes[1])


def err(line: str) -> str:
    with pytest.raises(InstructionError) as e:
        parse_stages(parse("FROM x\n" + line + "\n"))
    return str(e.value)


def test_from_forms() -> None:
    st, meta = parse_stages(parse("ARG V=1\nFROM --platform=linux/amd64 busybox:$V AS Build\nFROM build\n"))
    assert meta[0].args == (ArgDef("V", "1"),)
    f = st[0].from_
    assert isinstance(f, FromInstruction)
    assert (f.base_name, f.stage_name, f.platform) == ("busybox:$V", "build", "linux/amd64")
    assert st[1].base_name == "build" and st[1].index == 1


@pytest.mark.parametrize(
    ("src", "message"),
    [
        ("FROM a b", "dockerfile parse error on line 1: FROM requires either one or three arguments"),
        (
            "FROM a AS 1st",
            'dockerfile parse error on line 1: invalid name for build stage: "1st", name can\'t start with a number or contain symbols',
        ),
        (
            "FROM --platfrom=x a",
            "dockerfile parse error on line 1: unknown flag: --platfrom (did you mean platform?)",
        ),
        ("FROM --plat=x a", "dockerfile parse error on line 1: unknown flag: --plat"),
        ("RUN x", "no build stage in current context"),
        ("FORM x", "dockerfile parse error on line 1: unknown instruction: FORM (did you mean FROM?)"),
        ("form x", "dockerfile parse error on line 1: unknown instruction: form (did you mean from?)"),
        ("BOGUS x", "dockerfile parse error on line 1: unknown instruction: BOGUS"),
    ],
)
def test_stage_level_errors(src: str, message: str) -> None:
    with pytest.raises(InstructionError) as e:
        parse_stages(parse(src + "\n"))
    assert str(e.value) == message


def test_run_forms_and_flags() -> None:
    r = one("RUN --mount=type=cache,target=/root/.cache --network=none --security=insecure make")
    assert isinstance(r, RunInstruction)
    assert r.cmd_line == ("make",) and r.prepend_shell
    assert r.mount_specs == ("type=cache,target=/root/.cache",)
    assert (r.network, r.security) == ("none", "insecure")
    m = r.mounts(lambda w: w)[0]
    assert (m.type, m.target, m.readonly) == ("cache", "/root/.cache", False)
    e = one('RUN ["echo", "a b"]')
    assert isinstance(e, RunInstruction) and e.cmd_line == ("echo", "a b") and not e.prepend_shell


@pytest.mark.parametrize(
    ("spec", "fields"),
    [
        (
            "type=bind,source=/src,target=/dst",
            {"type": "bind", "source": "/src", "target": "/dst", "readonly": True},
        ),
        ("type=bind,src=a,dst=/b,rw", {"readonly": False}),
        ("target=/x", {"type": "bind", "readonly": True}),
        ("type=tmpfs,target=/t,size=64m", {"type": "tmpfs", "size_limit": 64 << 20, "readonly": False}),
        ("type=secret,id=tok", {"type": "secret", "cache_id": "tok", "readonly": True}),
        ("type=secret,id=tok,required,env=TOKEN", {"required": True, "env": "TOKEN"}),
        ("type=secret,id=tok,mode=0440,uid=1,gid=2", {"mode": 0o440, "uid": 1, "gid": 2}),
        ("type=cache,target=/c,id=x,sharing=locked", {"cache_id": "x", "sharing": "locked"}),
        ("type=bind,from=build,source=/out,target=/in", {"from_": "build"}),
    ],
)
def test_mount_specs(spec: str, fields: dict[str, object]) -> None:
    r = one(f"RUN --mount={spec} true")
    assert isinstance(r, RunInstruction)
    m = r.mounts(lambda w: w)[0]
    for k, v in fields.items():
        assert getattr(m, k) == v


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("type=cachx,target=/c", 'unsupported mount type "cachx" (did you mean cache?)'),
        ("type=cache,target=/c,sharing=lock", 'unsupported sharing value "lock" (did you mean locked?)'),
        ("type=bind,target=/c,size=1m", "unexpected key 'size' for mount type 'bind'"),
        ("type=bind,target=/c,mode=0600", 'mode not allowed for "bind" type mounts'),
        ("type=secret", "invalid secret mount. one of source, target required"),
        ("type=secret,id=a,from=x", "secret mount should not have a from"),
        ("type=bind,target=/c,sharing=shared", "invalid cache sharing set for bind mount"),
        ("type=bind,target=/c,bogus=1", "unexpected key 'bogus' in 'bogus=1'"),
        ("type=bind,target=/c,junk", "invalid field 'junk' must be a key=value pair"),
    ],
)
def test_mount_errors_at_dispatch(spec: str, message: str) -> None:
    r = one(f"RUN --mount={spec} true")
    assert isinstance(r, RunInstruction)
    from skiff.build.flags import FlagError

    with pytest.raises(FlagError) as e:
        r.mounts(lambda w: w)
    assert str(e.value) == message


def test_mount_from_with_variable_is_refused_at_parse() -> None:
    assert "'from' doesn't support variable expansion" in err("RUN --mount=from=$X,target=/a true")


def test_run_network_errors() -> None:
    assert err("RUN --network=bridge x") == 'dockerfile parse error on line 2: invalid network mode "bridge"'
    assert (
        err("RUN --netwrk=none x")
        == "dockerfile parse error on line 2: unknown flag: --netwrk (did you mean network?)"
    )


def test_cmd_entrypoint_shell() -> None:
    c = one("CMD echo $HOME")
    assert isinstance(c, CmdInstruction) and c.cmd_line == ("echo $HOME",) and c.prepend_shell
    e = one("ENTRYPOINT []")
    assert isinstance(e, EntrypointInstruction) and e.cmd_line == () and not e.prepend_shell
    s = one('SHELL ["/bin/bash", "-c"]')
    assert isinstance(s, ShellInstruction) and s.shell == ("/bin/bash", "-c")
    assert (
        err("SHELL /bin/bash -c")
        == "dockerfile parse error on line 2: SHELL requires the arguments to be in JSON form"
    )
    assert err("SHELL []") == "dockerfile parse error on line 2: SHELL requires at least one argument"


def test_env_label_maintainer() -> None:
    e = one('ENV A=1 B="x y"')
    assert isinstance(e, EnvInstruction) and e.env == (KeyValue("A", "1"), KeyValue("B", '"x y"'))
    old = one("ENV A the rest")
    assert isinstance(old, EnvInstruction) and old.env == (KeyValue("A", "the rest", no_delim=True),)
    lab = one("LABEL a=b")
    assert isinstance(lab, LabelInstruction) and lab.labels == (KeyValue("a", "b"),)
    m = one("MAINTAINER me <me@x>")
    assert isinstance(m, MaintainerInstruction) and m.maintainer == "me <me@x>"
    assert err("ENV =x") == "dockerfile parse error on line 2: ENV names can not be blank"


def test_copy_and_add() -> None:
    c = one(
        "COPY --from=build --chown=app:app --chmod=0755 --link --parents --exclude=*.md --exclude=x a b /dst/"
    )
    assert isinstance(c, CopyInstruction)
    assert c.sources == ("a", "b") and c.dest == "/dst/"
    assert (c.from_, c.chown, c.chmod, c.link, c.parents) == ("build", "app:app", "0755", True, True)
    assert c.excludes == ("*.md", "x")
    a = one("ADD --checksum=sha256:abc --keep-git-dir https://x/y.tgz /d")
    assert isinstance(a, AddInstruction)
    assert (a.checksum, a.keep_git_dir, a.unpack) == ("sha256:abc", True, None)
    j = one('COPY ["a b", "/c d"]')
    assert isinstance(j, CopyInstruction) and j.sources == ("a b",) and j.dest == "/c d"
    assert err("COPY onlyone") == (
        "dockerfile parse error on line 2: COPY requires at least two arguments, but only one was provided. "
        "Destination could not be determined"
    )
    assert (
        err("COPY --form=x a b")
        == "dockerfile parse error on line 2: unknown flag: --form (did you mean from?)"
    )
    assert err("COPY --link=maybe a b") == (
        "dockerfile parse error on line 2: expecting boolean value for flag --link, not: maybe"
    )
    assert err("COPY --from a b") == "dockerfile parse error on line 2: missing a value on flag: --from"
    assert (
        err("COPY --from=a --from=b a b")
        == "dockerfile parse error on line 2: duplicate flag specified: --from"
    )


def test_copy_heredoc_sources() -> None:
    st, _ = parse_stages(parse("FROM x\nCOPY <<EOF <<-'EOT' /dst/\nhello $X\nEOF\n\tbye\n\tEOT\n"))
    c = st[0].commands[0]
    assert isinstance(c, CopyInstruction)
    assert [(s.path, s.data, s.expand) for s in c.contents] == [
        ("EOF", "hello $X\n", True),
        ("EOT", "bye\n", False),
    ]
    with pytest.raises(InstructionError, match="COPY cannot accept a heredoc as a destination"):
        parse_stages(parse("FROM x\nCOPY a <<EOF\nx\nEOF\n"))


def test_expose_user_volume_workdir_stopsignal() -> None:
    ex = one("EXPOSE 80 443/tcp 53/udp")
    assert isinstance(ex, ExposeInstruction) and ex.ports == ("443/tcp", "53/udp", "80")
    u = one("USER app:staff")
    assert isinstance(u, UserInstruction) and u.user == "app:staff"
    v = one('VOLUME ["/a", "/b"]')
    assert isinstance(v, VolumeInstruction) and v.volumes == ("/a", "/b")
    v2 = one("VOLUME /a /b")
    assert isinstance(v2, VolumeInstruction) and v2.volumes == ("/a", "/b")
    w = one("WORKDIR /app")
    assert isinstance(w, WorkdirInstruction) and w.path == "/app"
    s = one("STOPSIGNAL SIGTERM")
    assert isinstance(s, StopSignalInstruction) and s.signal == "SIGTERM"
    spaced = one("USER a b")  # USER takes the rest of the line as one word, as BuildKit does
    assert isinstance(spaced, UserInstruction) and spaced.user == "a b"
    assert err("USER") == "dockerfile parse error on line 2: USER requires exactly one argument"
    assert err("WORKDIR") == "dockerfile parse error on line 2: WORKDIR requires exactly one argument"
    assert err("EXPOSE") == "dockerfile parse error on line 2: EXPOSE requires at least one argument"
    assert (
        err('VOLUME [""]') == "dockerfile parse error on line 2: VOLUME specified can not be an empty string"
    )


def test_arg_forms() -> None:
    a = one('ARG A B=2 C="x y"')
    assert isinstance(a, ArgInstruction)
    assert a.args == (ArgDef("A"), ArgDef("B", "2"), ArgDef("C", '"x y"'))
    assert err("ARG =1") == "dockerfile parse error on line 2: ARG names can not be blank"
    assert err("ARG") == "dockerfile parse error on line 2: ARG requires at least one argument"


def test_healthcheck() -> None:
    h = one(
        "HEALTHCHECK --interval=5m --timeout=3s --start-period=1s --start-interval=500ms --retries=3 CMD curl -f x"
    )
    assert isinstance(h, HealthcheckInstruction)
    assert h.test == ("CMD-SHELL", "curl -f x")
    assert (h.interval, h.timeout, h.start_period, h.start_interval, h.retries) == (
        300 * 10**9,
        3 * 10**9,
        10**9,
        500 * 10**6,
        3,
    )
    j = one('HEALTHCHECK CMD ["curl", "x"]')
    assert isinstance(j, HealthcheckInstruction) and j.test == ("CMD", "curl", "x")
    n = one("HEALTHCHECK NONE")
    assert isinstance(n, HealthcheckInstruction) and n.test == ("NONE",)
    assert (
        err("HEALTHCHECK NONE x") == "dockerfile parse error on line 2: HEALTHCHECK NONE takes no arguments"
    )
    assert err("HEALTHCHECK CMD") == "dockerfile parse error on line 2: Missing command after HEALTHCHECK CMD"
    assert (
        err("HEALTHCHECK FOO x")
        == 'dockerfile parse error on line 2: Unknown type "FOO" in HEALTHCHECK (try CMD)'
    )
    assert (
        err("HEALTHCHECK --retries=-1 CMD x")
        == "dockerfile parse error on line 2: --retries cannot be negative (-1)"
    )
    assert err("HEALTHCHECK --interval=1ns CMD x") == (
        'dockerfile parse error on line 2: Interval "interval" cannot be less than 1ms'
    )
    assert (
        err("HEALTHCHECK --timeout=5 CMD x")
        == 'dockerfile parse error on line 2: time: missing unit in duration "5"'
    )


def test_onbuild() -> None:
    o = one("ONBUILD RUN echo hi")
    assert isinstance(o, OnbuildInstruction) and o.expression == "RUN echo hi"
    assert err("ONBUILD ONBUILD RUN x") == (
        "dockerfile parse error on line 2: Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed"
    )
    assert (
        err("ONBUILD FROM x") == "dockerfile parse error on line 2: FROM isn't allowed as an ONBUILD trigger"
    )
    assert err("ONBUILD MAINTAINER x") == (
        "dockerfile parse error on line 2: MAINTAINER isn't allowed as an ONBUILD trigger"
    )
    st, _ = parse_stages(parse("FROM x\nONBUILD RUN <<EOF\necho a\nEOF\n"))
    ob = st[0].commands[0]
    assert isinstance(ob, OnbuildInstruction) and ob.expression == "RUN <<EOF\necho a\nEOF"


def test_expand_methods() -> None:
    up = str.upper
    e = one("ENV a=b")
    assert isinstance(e, EnvInstruction) and e.expand(up).env == (KeyValue("A", "B"),)
    c = one("COPY --chown=a --chmod=b src dst")
    assert isinstance(c, CopyInstruction)
    x = c.expand(up)
    assert (x.sources, x.dest, x.chown, x.chmod) == (("SRC",), "DST", "A", "B")
    lab = LabelInstruction(labels=(KeyValue("a", "$b"),), no_expand=True)
    assert lab.expand(up) is lab
    a = one("ARG a=b c")
    assert isinstance(a, ArgInstruction) and a.expand(up).args == (ArgDef("A", "B"), ArgDef("C"))


def test_original_line_and_numbers_are_kept() -> None:
    st, _ = parse_stages(parse("FROM x\n\nRUN a \\\n  b\n"))
    r = st[0].commands[0]
    assert (r.original, r.line, r.end_line) == ("RUN a   b", 3, 4)
