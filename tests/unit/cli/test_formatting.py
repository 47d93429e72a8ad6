"""Tables as docker's tabwriter prints them, and the table/json directives."""

from __future__ import annotations

from skiff.cli.formatting import render, render_list, tabwrite

HEAD = {"ID": "CONTAINER ID", "Image": "IMAGE", "Names": "NAMES"}
ROWS = [{"ID": "abc", "Image": "busybox", "Names": "x"},
        {"ID": "abcdef0123456", "Image": "debian:12", "Names": "longer-name"}]


def test_table_columns_pad_three_min_ten() -> None:
    out = render_list("table {{.ID}}\t{{.Image}}\t{{.Names}}", ROWS, HEAD)
    assert out == ("CONTAINER ID    IMAGE       NAMES\n"
                   "abc             busybox     x\n"
                   "abcdef0123456   debian:12   longer-name\n")


def test_literal_backslash_t_is_a_tab() -> None:
    out = render_list(r"table {{.ID}}\t{{.Names}}", ROWS[:1], HEAD)
    assert out == "CONTAINER ID   NAMES\nabc            x\n"


def test_no_table_no_header() -> None:
    assert render_list("{{.ID}}: {{.Names}}", ROWS, HEAD) == "abc: x\nabcdef0123456: longer-name\n"


def test_json_lines() -> None:
    assert render_list("json", ROWS[:1], HEAD) == '{"ID":"abc","Image":"busybox","Names":"x"}\n'


def test_unknown_header_is_upper_case_field() -> None:
    assert render_list("table {{.Foo}}", [{"Foo": "1"}], {}) == "FOO\n1\n"


def test_header_ignores_functions() -> None:
    out = render_list("table {{.Names | upper}}\t{{.ID}}", ROWS[:1], HEAD)
    assert out.splitlines()[0] == "NAMES     CONTAINER ID"


def test_render_single() -> None:
    assert render("{{.A}}", {"A": 1}) == "1\n"
    assert render("json", {"A": 1}) == '{"A":1}\n'


def test_tabwrite_blocks() -> None:
    # the second line has fewer cells: it ends the first column block (Go's semantics)
    text = "a\tb\tc\nlonger\n1\t2\t3\n"
    assert tabwrite(text) == "a         b         c\nlonger\n1         2         3\n"
    assert tabwrite("x\ty\n", minwidth=20, padding=1) == "x                   y\n"


def test_choose_format() -> None:
    from skiff.cli.formatting import choose_format

    default = "table {{.ID}}\t{{.Names}}"
    assert choose_format(None, default) == default
    assert choose_format("table", default) == default
    assert choose_format("{{.Names}}", default) == "{{.Names}}"
    assert choose_format("{{.Names}}", default, quiet=True) == "{{.ID}}"
