"""Output formatting as docker does it: ``--format`` templates, ``table`` directive, tabwriter.

- ``render(fmt, obj)``: one object (version, info, inspect): the template's output plus newline;
  ``fmt == "json"`` prints the object as one JSON line.
- ``render_list(fmt, rows, headers)``: list commands (ps, images, ...). ``table ...`` prints a header
  row (each ``{{.Field}}`` replaced by its column title from ``headers``) then the rows, aligned
  like Go's ``tabwriter.NewWriter(out, 10, 1, 3, ' ', 0)``: cells padded to the widest + 3,
  minimum 10, last column unpadded. Without ``table`` rows are printed as the template says.
- ``\\t`` and ``\\n`` typed literally in a format are turned into tab and newline, as docker does.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from skiff.cli.exitcodes import GENERIC, StatusError
from skiff.cli.gotemplate import Template, TemplateError

__all__ = ["render", "render_list", "render_inspect", "tabwrite", "is_table", "prepare", "HeaderContext",
           "choose_format"]

TABLE = "table"


def is_table(fmt: str) -> bool:
    return fmt.strip().startswith(TABLE)


def prepare(fmt: str) -> str:
    """docker's preFormat: drop ``table``, trim spaces, expand typed ``\\t``/``\\n``."""
    f = fmt.strip()
    if f.startswith(TABLE):
        f = f[len(TABLE):]
    f = f.strip(" ")
    return f.replace("\\t", "\t").replace("\\n", "\n")


class HeaderContext(Mapping[str, Any]):
    """What a table's header row is rendered against: every field name maps to its title."""

    def __init__(self, headers: Mapping[str, str]) -> None:
        self.headers = headers

    def __getitem__(self, key: str) -> Any:
        if key == "Label" and key not in self.headers:
            return header_label
        return self.headers.get(key, key.upper())

    def __contains__(self, key: object) -> bool:
        return True

    def __iter__(self) -> Iterator[str]:
        return iter(self.headers)

    def __len__(self) -> int:
        return len(self.headers)


def header_label(name: str) -> str:
    """docker's SubHeaderContext.Label: the column title of ``{{.Label "com.example.my-key"}}``."""
    return name.split(".")[-1].replace("-", " ").replace("_", " ")


class GoMap(dict[str, Any]):
    """A JSON object that is a Go map in docker's typed response: a missing key prints <no value>
    even under inspect's ``missingkey=error`` fallback."""

    go_map = True


class _GoStruct(dict[str, Any]):
    """A typed response's top level: an unknown field fails as Go's ``can't evaluate field``."""

    def __init__(self, items: Mapping[str, Any], go_type: str) -> None:
        super().__init__(items)
        self.go_type = go_type


# Fields of docker's inspect responses that are Go maps (the rest of the objects are structs).
_MAP_FIELDS = {"Labels", "Options", "DriverOpts", "Ports", "ExposedPorts", "Volumes", "Networks", "Sysctls",
               "Tmpfs", "StorageOpt", "Attributes", "Annotations", "Status", "Containers", "Data", "Peers",
               "Services", "BuildArgs", "Capabilities"}


class GoStruct(dict[str, Any]):
    """A JSON object that is a Go struct in docker's typed response: printed ``{v1 v2 ...}``."""

    def __init__(self, items: Mapping[str, Any], fields: tuple[tuple[str, str], ...]) -> None:
        super().__init__(items)
        self.go_fields = fields


# Structs of docker's inspect responses that templates commonly print whole ({{.State}}, {{.Mounts}}),
# by the key they appear under and a key that tells them apart: (field, kind) in Go's declaration order.
_STRUCTS: dict[str, tuple[str, tuple[tuple[str, str], ...]]] = {
    "State": ("Running", (("Status", "str"), ("Running", "bool"), ("Paused", "bool"), ("Restarting", "bool"),
                          ("OOMKilled", "bool"), ("Dead", "bool"), ("Pid", "int"), ("ExitCode", "int"),
                          ("Error", "str"), ("StartedAt", "str"), ("FinishedAt", "str"), ("Health", "ptr"))),
    "Mounts": ("Destination", (("Type", "str"), ("Name", "str"), ("Source", "str"), ("Destination", "str"),
                               ("Driver", "str"), ("Mode", "str"), ("RW", "bool"), ("Propagation", "str"))),
    "RestartPolicy": ("MaximumRetryCount", (("Name", "str"), ("MaximumRetryCount", "int"))),
    "LogConfig": ("Type", (("Type", "str"), ("Config", "map"))),
    "IPAM": ("Driver", (("Driver", "str"), ("Options", "map"), ("Config", "list"))),
    "RootFS": ("Layers", (("Type", "str"), ("Layers", "list"))),
    "GraphDriver": ("Data", (("Data", "map"), ("Name", "str"))),
}
_IPAM_CONFIG = (("Subnet", "str"), ("IPRange", "str"), ("Gateway", "str"), ("AuxiliaryAddresses", "map"))


def _mark_maps(v: Any, key: str = "", parent: str = "") -> Any:
    """Raw JSON -> the shapes of docker's typed response: Go maps (missing keys allowed) and the
    common Go structs (printed as structs)."""
    if isinstance(v, Mapping):
        items = {k: _mark_maps(x, k, key) for k, x in v.items()}
        if key in _STRUCTS and _STRUCTS[key][0] in v:
            return GoStruct(items, _STRUCTS[key][1])
        if parent in ("Ports", "PortBindings") and "HostPort" in v:  # map[port][]PortBinding
            return GoStruct(items, (("HostIp", "str"), ("HostPort", "str")))
        if key == "Config" and parent == "IPAM" and "Subnet" in v:
            return GoStruct(items, _IPAM_CONFIG)
        is_map = key in _MAP_FIELDS or (key == "Config" and parent == "LogConfig")
        return GoMap(items) if is_map else items
    if isinstance(v, list):
        return [_mark_maps(x, key, parent) for x in v]
    return v


def choose_format(given: str | None, default_table: str, quiet: bool = False,
                  quiet_format: str = "{{.ID}}") -> str:
    """docker's choice of format for list commands: ``-q``, then ``--format`` (``table`` alone
    meaning the default table), then the default."""
    if quiet:
        return quiet_format
    if not given or given.strip() == TABLE:
        return default_table
    return given


def render(fmt: str, obj: Any) -> str:
    """A single object formatted by ``fmt`` (Go template or ``json``), newline-terminated."""
    if fmt.strip() == "json":
        return json.dumps(obj, separators=(",", ":"), ensure_ascii=False) + "\n"
    return Template(prepare(fmt)).execute(obj) + "\n"


def render_list(fmt: str, rows: Sequence[Any], headers: Mapping[str, str],
                json_rows: Sequence[Any] | None = None) -> str:
    """Rows formatted by ``fmt``; ``table`` adds the header row and aligns columns."""
    if fmt.strip() == "json":
        src = json_rows if json_rows is not None else rows
        return "".join(json.dumps(r, separators=(",", ":"), ensure_ascii=False) + "\n" for r in src)
    tmpl = Template(prepare(fmt))
    body = "".join(tmpl.execute(r) + "\n" for r in rows)
    if not is_table(fmt):
        return body
    head = tmpl.execute(HeaderContext(headers), header_mode=True)
    return tabwrite(head + "\n" + body)


def tabwrite(text: str, minwidth: int = 10, padding: int = 3) -> str:
    """Go's text/tabwriter (tabwidth 1, pad char ' ', no flags) over ``text``.

    A cell is text ending in a tab; consecutive lines that have a cell in column k form a block
    whose cells are padded to the block's widest cell + ``padding`` (at least ``minwidth``).
    Text after a line's last tab is not a cell and is never padded.
    """
    trailing_nl = text.endswith("\n")
    lines = [line.split("\t") for line in (text[:-1] if trailing_nl else text).split("\n")]
    out: list[str] = []
    widths: list[int] = []

    def write_lines(lo: int, hi: int) -> None:
        for row in lines[lo:hi]:
            parts = []
            for j, cell in enumerate(row):
                if j < len(row) - 1 and j < len(widths):
                    parts.append(cell.ljust(widths[j]))
                else:
                    parts.append(cell)
            out.append("".join(parts))

    def fmt_block(line0: int, line1: int) -> None:
        column = len(widths)
        this = line0
        while this < line1:
            row = lines[this]
            if column >= len(row) - 1:
                this += 1
                continue
            write_lines(line0, this)
            line0 = this
            width = minwidth
            while this < line1:
                row = lines[this]
                if column >= len(row) - 1:
                    break
                w = len(row[column]) + padding
                width = max(width, w)
                this += 1
            widths.append(width)
            fmt_block(line0, this)
            widths.pop()
            line0 = this
        write_lines(line0, line1)

    fmt_block(0, len(lines))
    return "\n".join(out) + ("\n" if trailing_nl else "")


def render_inspect(emit: Callable[[str], None], fmt: str | None, names: Sequence[str],
                   fetch: Callable[[str], Any], go_type: str | None = None) -> int:
    """docker's `<noun> inspect`: every object found, as one JSON array or one template line each;
    the objects that could not be fetched are reported afterwards, with exit status 1."""
    tmpl = None
    if fmt and fmt.strip() != "json":
        try:
            tmpl = Template(fmt.replace("\\t", "\t").replace("\\n", "\n"))
        except TemplateError as exc:
            raise StatusError(64, f"template parsing error: {exc}") from exc
    found: list[Any] = []
    errors: list[str] = []
    lines: list[str] = []
    for name in names:
        try:
            obj = fetch(name)
        except Exception as exc:
            errors.append(str(exc))
            continue
        if tmpl is None:
            found.append(obj)
            continue
        try:  # docker: the typed struct, then the raw JSON with missingkey=error (typed only: go_type)
            if go_type:
                lines.append(tmpl.execute(_GoStruct(_mark_maps(obj), go_type)))
            else:
                lines.append(tmpl.execute(_mark_maps(obj), missingkey_error=True))
        except TemplateError as exc:
            errors.append(f"template parsing error: {exc}")
    if tmpl is not None:
        emit("\n".join(lines))  # nothing rendered: docker still prints an empty line
    else:
        emit(json.dumps(found, indent=4, ensure_ascii=False))
    if errors:
        raise StatusError(GENERIC, "\n".join(errors))
    return 0
