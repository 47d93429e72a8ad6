"""The Go template subset behind --format."""

from __future__ import annotations

import pytest

from skiff.cli.gotemplate import Template, TemplateError, go_sprintf, go_str

DATA = {
    "ID": "abc123", "Names": ["web", "db"], "Labels": {"b": "2", "a": "1"}, "Count": 3,
    "Running": True, "Nil": None, "State": {"Status": "running", "Health": {"Status": "healthy"}},
    "Empty": "", "Ports": [],
}


@pytest.mark.parametrize(("src", "want"), [
    ("{{.ID}}", "abc123"),
    ("{{ .ID }}", "abc123"),
    ("{{.State.Status}}", "running"),
    ("{{.State.Health.Status}}", "healthy"),
    ("{{.Missing}}", "<no value>"),
    ("{{.Nil}}", "<no value>"),
    ("{{json .Nil}}", "null"),
    ("{{.Names}}", "[web db]"),
    ("{{.Labels}}", "map[a:1 b:2]"),
    ("{{.Running}}", "true"),
    ("{{json .Labels}}", '{"b":"2","a":"1"}'),
    ("{{json .State}}", '{"Status":"running","Health":{"Status":"healthy"}}'),
    ('{{join .Names ", "}}', "web, db"),
    ('{{.Names | join ","}}', "web,db"),
    ("{{upper .ID}}", "ABC123"),
    ("{{lower \"ABC\"}}", "abc"),
    ("{{title \"hello world\"}}", "Hello World"),
    ("{{.ID | upper | lower}}", "abc123"),
    ('{{index .Labels "a"}}', "1"),
    ("{{index .Names 1}}", "db"),
    ('{{split "a:b:c" ":"}}', "[a b c]"),
    ("{{len .Names}}", "2"),
    ('{{printf "%s-%d" .ID .Count}}', "abc123-3"),
    ('{{printf "%-8s|" .ID}}', "abc123  |"),
    ('{{printf "%q" .ID}}', '"abc123"'),
    ("{{println .ID}}", "abc123\n"),
    ("{{range .Names}}[{{.}}]{{end}}", "[web][db]"),
    ("{{range $i, $n := .Names}}{{$i}}:{{$n}} {{end}}", "0:web 1:db "),
    ("{{range $k, $v := .Labels}}{{$k}}={{$v}};{{end}}", "a=1;b=2;"),
    ("{{range .Ports}}x{{else}}none{{end}}", "none"),
    ("{{if .Running}}up{{else}}down{{end}}", "up"),
    ("{{if .Empty}}x{{else if .Count}}count{{end}}", "count"),
    ("{{if eq .Count 3}}three{{end}}", "three"),
    ('{{if eq .ID "x" "abc123"}}yes{{end}}', "yes"),
    ("{{if and .Running (gt .Count 2)}}ok{{end}}", "ok"),
    ("{{if not .Empty}}empty{{end}}", "empty"),
    ("{{with .State}}{{.Status}}{{end}}", "running"),
    ("{{with .Empty}}x{{else}}none{{end}}", "none"),
    ("a {{- .ID -}} b", "aabc123b"),
    ("{{/* comment */}}x", "x"),
    ("{{$x := .ID}}{{$x}}", "abc123"),
    ("{{range .Names}}{{$.ID}}{{end}}", "abc123abc123"),
    ("{{(index .Names 0) | upper}}", "WEB"),
    ('{{pad .ID 1 2}}|', " abc123  |"),
    ("{{truncate .ID 3}}", "abc"),
    ("{{.}}", "map[Count:3 Empty: ID:abc123 Labels:map[a:1 b:2] Names:[web db] Nil:<nil> Ports:[] "
              "Running:true State:map[Health:map[Status:healthy] Status:running]]"),
])
def test_execute(src: str, want: str) -> None:
    assert Template(src).execute(DATA) == want


@pytest.mark.parametrize("src", ["{{.ID", "{{if .X}}", "{{end}}", "{{nosuchfunc .ID}}", "{{(.ID}}"])
def test_errors(src: str) -> None:
    with pytest.raises(TemplateError):
        Template(src).execute(DATA)


def test_attributes_and_methods() -> None:
    class Row:
        ID = "x"

        def Names(self) -> str:
            return "n1"

    assert Template("{{.ID}} {{.Names}}").execute(Row()) == "x n1"
    with pytest.raises(TemplateError):
        Template("{{.Nope}}").execute(Row())


def test_to_json_hook() -> None:
    class View(dict[str, str]):
        def to_json(self) -> dict[str, str]:
            return {"wire": "form"}

    assert Template("{{json .}}").execute(View(Go="x")) == '{"wire":"form"}'


def test_go_str_and_sprintf() -> None:
    assert go_str([1, "a", True]) == "[1 a true]"
    assert go_str(1.5) == "1.5"
    assert go_str(2.0) == "2"
    assert go_str(1e21) == "1e+21"
    assert go_sprintf("%5d|%05d|%x|%t|%%", 42, 42, 255, True) == "   42|00042|ff|true|%"
    assert go_sprintf("%.2f", 3.14159) == "3.14"
    assert go_sprintf("%s") == "%!s(MISSING)"
