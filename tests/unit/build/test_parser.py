"""Dockerfile line grammar: directives, escapes, continuations, comments, heredocs, forms, flags."""

from __future__ import annotations

import pytest

from skiff.build.parser import DockerfileSyntaxError, parse, parse_heredoc
from skiff.errors import InvalidParameter


def dumps(src: str) -> list[str]:
    return [n.dump() for n in parse(src).nodes]


def test_simple_instructions_and_line_numbers() -> None:
    df = parse('FROM busybox\n\nRUN echo hi\nCMD ["sh"]\n')
    assert [(n.command, n.start_line, n.end_line) for n in df.nodes] == [
        ("from", 1, 1),
        ("run", 3, 3),
        ("cmd", 4, 4),
    ]
    assert df.nodes[2].json and not df.nodes[1].json


@pytest.mark.parametrize(
    ("src", "escape", "syntax", "check"),
    [
        ("# escape=`\nFROM x\n", "`", "", ""),
        ("# syntax=docker/dockerfile:1\n# escape=\\\nFROM x\n", "\\", "docker/dockerfile:1", ""),
        ("#escape = `\nFROM x\n", "`", "", ""),
        ("# check=skip=all\nFROM x\n", "\\", "", "skip=all"),
        ("# ESCAPE=`\nFROM x\n", "`", "", ""),
        # a directive after a comment or blank line, or after an instruction, is only a comment
        ("# hello\n# escape=`\nFROM x\n", "\\", "", ""),
        ("\n# escape=`\nFROM x\n", "\\", "", ""),
        ("FROM x\n# escape=`\n", "\\", "", ""),
        ("# unknown=1\n# escape=`\nFROM x\n", "\\", "", ""),
    ],
)
def test_parser_directives_only_at_the_top(src: str, escape: str, syntax: str, check: str) -> None:
    df = parse(src)
    assert (df.directives.escape, df.directives.syntax, df.directives.check) == (escape, syntax, check)


def test_duplicate_and_invalid_directives() -> None:
    with pytest.raises(DockerfileSyntaxError, match="only one escape parser directive can be used"):
        parse("# escape=`\n# escape=\\\nFROM x\n")
    with pytest.raises(DockerfileSyntaxError, match="invalid escape token '\\$' does not match ` or"):
        parse("# escape=$\nFROM x\n")


def test_backtick_escape_continuation_and_windows_paths() -> None:
    df = parse("# escape=`\nFROM x\nRUN dir c:\\ `\n  && echo hi\nCOPY a c:\\dest\\\n")
    assert df.nodes[1].next == ("dir c:\\   && echo hi",)
    assert df.nodes[1].start_line == 3 and df.nodes[1].end_line == 4
    assert df.nodes[2].next == ("a", "c:\\dest\\")


def test_continuations_comments_and_empty_lines() -> None:
    src = "FROM x\nRUN apt-get update \\\n# a comment inside\n    && apt-get install -y \\\n\n      curl\nRUN done\n"
    df = parse(src)
    assert df.nodes[1].next == ("apt-get update     && apt-get install -y       curl",)
    assert (df.nodes[1].start_line, df.nodes[1].end_line) == (2, 6)
    assert df.nodes[2].start_line == 7
    assert df.warnings and df.warnings[0].startswith("Empty continuation line found in: RUN apt-get update")


def test_continuation_edge_cases() -> None:
    # trailing whitespace after the escape still continues; an escaped escape does not
    assert dumps("FROM x\nRUN a \\   \n b\n") == ['from "x"', 'run "a  b"']
    assert dumps("FROM x\nRUN echo \\\\\nRUN b\n") == ['from "x"', 'run "echo \\\\\\\\"', 'run "b"']
    # a continuation at end of file
    assert dumps("FROM x\nRUN something \\") == ['from "x"', 'run "something"']
    # CRLF line endings
    assert dumps("FROM x\r\nRUN a \\\r\n b\r\n") == ['from "x"', 'run "a  b"']


def test_bom_and_indented_instructions() -> None:
    assert dumps("\ufeffFROM x\n   RUN a\n\tCMD b\n") == ['from "x"', 'run "a"', 'cmd "b"']


def test_comments_kept_as_prev_comment() -> None:
    df = parse("# first\n# second\nFROM x\n")
    assert df.nodes[0].comments == ("first", "second")


def test_json_vs_shell_form() -> None:
    df = parse(
        'FROM x\nCMD ["a", "b c"]\nCMD [ "a" ]\nCMD [\'a\']\nCMD ["a", "b"\nENTRYPOINT []\nRUN ["x"] y\n'
    )
    n = df.nodes
    assert (n[1].json, n[1].next) == (True, ("a", "b c"))
    assert (n[2].json, n[2].next) == (True, ("a",))
    assert (n[3].json, n[3].next) == (False, ("['a']",))  # single quotes are not JSON
    assert (n[4].json, n[4].next) == (False, ('["a", "b"',))  # unterminated: shell form
    assert (n[5].json, n[5].next) == (True, ())
    assert (n[6].json, n[6].next) == (False, ('["x"] y',))


def test_json_with_non_strings_is_an_error() -> None:
    with pytest.raises(DockerfileSyntaxError, match="arrays must be comprised of strings only"):
        parse('FROM x\nCMD ["a", 1]\n')


def test_flags_are_split_off() -> None:
    df = parse('FROM x\nCOPY --from=build --chown="a b" src dst\nRUN --mount=type=cache,target=/c -- echo\n')
    assert df.nodes[1].flags == ("--from=build", "--chown=a b")
    assert df.nodes[1].next == ("src", "dst")
    assert df.nodes[2].flags == ("--mount=type=cache,target=/c",)
    assert df.nodes[2].next == ("echo",)  # "--" ends the flags and is dropped


def test_env_and_label_forms() -> None:
    df = parse('FROM x\nENV A=1 B="two words" C=\nENV OLD some value\nLABEL "k k"=v x=\'y z\'\n')
    assert df.nodes[1].next == ("A", "1", "=", "B", '"two words"', "=", "C", "", "=")
    assert df.nodes[2].next == ("OLD", "some value", "")
    assert df.nodes[3].next == ('"k k"', "v", "=", "x", "'y z'", "=")
    with pytest.raises(DockerfileSyntaxError, match="ENV must have two arguments"):
        parse("FROM x\nENV PATH\n")
    with pytest.raises(DockerfileSyntaxError, match='can\'t find = in "b"'):
        parse("FROM x\nENV a=1 b\n")


def test_onbuild_keeps_the_trigger_as_a_sub_node() -> None:
    df = parse("FROM x\nONBUILD RUN echo hi\n")
    assert df.nodes[1].dump() == 'onbuild (run "echo hi")'
    assert df.nodes[1].args == ["RUN", "echo hi"]


def test_healthcheck_forms() -> None:
    df = parse('FROM x\nHEALTHCHECK --interval=5s CMD ["curl", "x"]\nHEALTHCHECK NONE\n')
    assert df.nodes[1].next == ("CMD", "curl", "x") and df.nodes[1].json
    assert df.nodes[2].next == ("NONE",)


def test_heredocs() -> None:
    src = (
        "FROM x\n"
        "RUN <<EOF\necho a\necho b\nEOF\n"
        "RUN <<-EOT bash\n\techo tab\n\tEOT\n"
        "COPY <<\"A\" <<'B' /dest/\n$x\nA\n$y\nB\n"
        "RUN 3<<EOF cat /dev/fd/3\nhello\nEOF\n"
        'RUN ["echo", "<<EOF"]\n'
        "CMD <<EOF\n"
    )
    n = parse(src).nodes
    assert n[1].heredocs[0].name == "EOF" and n[1].heredocs[0].content == "echo a\necho b\n"
    assert (n[1].start_line, n[1].end_line) == (2, 5)
    assert n[2].heredocs[0].chomp and n[2].heredocs[0].content == "\techo tab\n"
    assert [(h.name, h.expand, h.content) for h in n[3].heredocs] == [
        ("A", False, "$x\n"),
        ("B", False, "$y\n"),
    ]
    assert n[4].heredocs[0].fd == 3
    assert n[5].heredocs == () and n[5].json
    assert n[6].heredocs == ()  # CMD cannot carry a heredoc


def test_unterminated_heredoc_names_the_start_line() -> None:
    with pytest.raises(DockerfileSyntaxError) as e:
        parse("FROM x\nRUN <<EOF\necho\n")
    assert str(e.value) == "failed to parse Dockerfile: unterminated heredoc"
    assert e.value.line == 2


@pytest.mark.parametrize(
    ("word", "name", "expand", "chomp"),
    [
        ("<<EOF", "EOF", True, False),
        ("<<-EOF", "EOF", True, True),
        ('<<"EOF"', "EOF", False, False),
        ("<<'EOF'", "EOF", False, False),
        ('<<E"O"F', "EOF", False, False),
        ("<<\\EOF", "EOF", True, False),
    ],
)
def test_parse_heredoc_words(word: str, name: str, expand: bool, chomp: bool) -> None:
    doc = parse_heredoc(word)
    assert doc is not None
    assert (doc.name, doc.expand, doc.chomp) == (name, expand, chomp)


def test_not_heredocs() -> None:
    assert parse_heredoc("<<") is None
    assert parse_heredoc("<EOF") is None
    assert parse_heredoc("<<EOF EOG") is None


def test_empty_and_comment_only_files() -> None:
    with pytest.raises(InvalidParameter, match=r"the Dockerfile \(Dockerfile\) cannot be empty"):
        parse("")
    with pytest.raises(DockerfileSyntaxError, match="file with no instructions"):
        parse("# only a comment\n\n")


def test_unknown_instructions_parse_and_fail_later() -> None:
    assert dumps("FROM x\nFORM y\n") == ['from "x"', "form"]


def test_error_context_like_buildkit() -> None:
    from skiff.build.parser import error_context

    src = "FROM busybox\nRUN a\nFORM x\nRUN b\nRUN c\nRUN d\n"
    assert error_context(src, 3) == (
        "Dockerfile:3\n--------------------\n"
        "   1 |     FROM busybox\n   2 |     RUN a\n   3 | >>> FORM x\n   4 |     RUN b\n   5 |     RUN c\n"
        "--------------------"
    )
    assert error_context(src, 99) == "Dockerfile:99"


def test_lines_are_cut_at_newline_only() -> None:
    # a form feed or a Unicode line separator inside a line does not start a new instruction
    assert dumps("FROM x\nLABEL a=b\x1cc\nRUN echo \u2028 x\n") == [
        'from "x"',
        'label "a" "b\\x1cc" "="',
        'run "echo \\u2028 x"',
    ]
