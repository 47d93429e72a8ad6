"""``skiff volume create|ls|inspect|rm|prune`` with docker's flags, columns and messages."""

from __future__ import annotations

import argparse
import re
from collections.abc import Mapping
from typing import Any

from skiff.cli.command import Cli, Command
from skiff.cli.commands.system import GoView, parse_filter_flags
from skiff.cli.exitcodes import GENERIC, StatusError, UsageError
from skiff.cli.formatting import choose_format, render_inspect, render_list
from skiff.cli.gotemplate import TemplateError
from skiff.cli.units import human_size

__all__ = ["NOUN", "HELP", "COMMANDS", "volume_rows"]

NOUN = "volume"
HELP = "Manage volumes"

_LS_TABLE = "table {{.Driver}}\t{{.Name}}"
_LS_HEADERS = {"Driver": "DRIVER", "Name": "VOLUME NAME", "Scope": "SCOPE", "Mountpoint": "MOUNTPOINT",
               "Labels": "LABELS", "Links": "LINKS", "Size": "SIZE", "Group": "GROUP",
               "Availability": "AVAILABILITY", "Status": "STATUS"}
_ANON_WARNING = "WARNING! This will remove anonymous local volumes not used by at least one container."
_ALL_WARNING = "WARNING! This will remove all local volumes not used by at least one container."


def _kv_list(values: list[str] | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for raw in values or []:
        k, _, v = raw.partition("=")
        out[k] = v
    return out


def _natural_key(name: str) -> list[Any]:
    return [int(p) if p.isdigit() else p for p in re.split(r"(\d+)", name)]


def volume_rows(volumes: list[Mapping[str, Any]]) -> list[GoView]:
    """docker's volumeContext fields, rows sorted by name as the CLI sorts them."""
    rows = []
    for v in sorted(volumes, key=lambda x: _natural_key(str(x.get("Name", "")))):
        labels = v.get("Labels") or {}
        usage = v.get("UsageData") or {}
        fields = {
            "Availability": "N/A", "Driver": v.get("Driver", ""), "Group": "N/A",
            "Labels": ",".join(f"{k}={val}" for k, val in labels.items()),
            "Links": str(usage["RefCount"]) if "RefCount" in usage else "N/A",
            "Mountpoint": v.get("Mountpoint", ""), "Name": v.get("Name", ""), "Scope": v.get("Scope", ""),
            "Size": human_size(int(usage["Size"])) if int(usage.get("Size", -1)) >= 0 else "N/A",
            "Status": "N/A",
            "Label": lambda name, _l=labels: str(_l.get(name, "")),
        }
        rows.append(GoView(fields, {k: v for k, v in fields.items() if k != "Label"}, "*formatter.volumeContext"))
    return rows


# ---- create ----------------------------------------------------------------------------------

def _create(cli: Cli, ns: argparse.Namespace) -> int:
    from skiff.client import volumes

    name = ns.name or ""
    if ns.args:
        if name and name != ns.args[0]:
            raise UsageError("conflicting options: either specify --name or provide positional arg, not both")
        name = ns.args[0]
    vol = volumes.create(cli.client, name, ns.driver, _kv_list(ns.opt), _kv_list(ns.label))
    cli.print(str(vol.get("Name", "")))
    return 0


def _create_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("-d", "--driver", default="local", help='Specify volume driver name (default "local")')
    p.add_argument("--label", action="append", help="Set metadata for a volume")
    p.add_argument("--name", help=argparse.SUPPRESS)  # hidden in docker
    p.add_argument("-o", "--opt", action="append", metavar="map", help="Set driver specific options (default map[])")


# ---- ls --------------------------------------------------------------------------------------

def _ls(cli: Cli, ns: argparse.Namespace) -> int:
    from skiff.client import volumes

    result = volumes.list_volumes(cli.client, parse_filter_flags(ns.filter))
    for w in result.get("Warnings") or []:
        cli.warn(w)
    rows = volume_rows(result.get("Volumes") or [])
    fmt = choose_format(ns.format, _LS_TABLE, ns.quiet, quiet_format="{{.Name}}")
    try:
        cli.print(render_list(fmt, rows, _LS_HEADERS, json_rows=[r.to_json() for r in rows]), end="")
    except TemplateError as exc:
        raise StatusError(GENERIC, f"template parsing error: {exc}") from exc
    return 0


def _ls_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--cluster", action="store_true", help=argparse.SUPPRESS)  # docker hides it without swarm
    p.add_argument("-f", "--filter", action="append", help="Provide filter values (e.g. \"dangling=true\")")
    p.add_argument("--format", help="Format output using a custom template")
    p.add_argument("-q", "--quiet", action="store_true", help="Only display volume names")


# ---- inspect ---------------------------------------------------------------------------------

def _inspect(cli: Cli, ns: argparse.Namespace) -> int:
    from skiff.client import volumes

    return render_inspect(cli.print, ns.format, ns.args, lambda n: volumes.inspect(cli.client, n), "volume.Volume")


def _inspect_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("-f", "--format", help="Format output using a custom template")


# ---- rm --------------------------------------------------------------------------------------

def _rm(cli: Cli, ns: argparse.Namespace) -> int:
    from skiff.client import volumes

    errors = []
    for name in ns.args:
        try:
            volumes.remove(cli.client, name, force=ns.force)
        except Exception as exc:
            errors.append(str(exc))
            continue
        cli.print(name)
    if errors:
        raise StatusError(GENERIC, "\n".join(errors))
    return 0


def _rm_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("-f", "--force", action="store_true", help="Force the removal of one or more volumes")


# ---- prune -----------------------------------------------------------------------------------

def _prune(cli: Cli, ns: argparse.Namespace) -> int:
    from skiff.cli.commands.system import _confirm
    from skiff.client import volumes

    filters = parse_filter_flags(ns.filter)
    warning = _ANON_WARNING
    if ns.all:
        if "all" in filters:
            raise StatusError(GENERIC, "conflicting options: cannot specify both --all and --filter all=1")
        filters["all"] = ["true"]
        warning = _ALL_WARNING
    if not ns.force and not _confirm(cli, warning):
        raise StatusError(0)  # docker: a cancelled prune prints nothing more, exit 0
    report = volumes.prune(cli.client, filters)
    deleted = report.get("VolumesDeleted") or []
    if deleted:
        cli.print("Deleted Volumes:\n" + "".join(f"{n}\n" for n in deleted))
    cli.print(f"Total reclaimed space: {human_size(int(report.get('SpaceReclaimed') or 0))}")
    return 0


def _prune_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("-a", "--all", action="store_true", help="Remove all unused volumes, not just anonymous ones")
    p.add_argument("--filter", action="append", help="Provide filter values (e.g. \"label=<label>\")")
    p.add_argument("-f", "--force", action="store_true", help="Do not prompt for confirmation")


COMMANDS = [
    Command("create", "Create a volume", _create, usage="[OPTIONS] [VOLUME]", setup=_create_flags, args=(0, 1)),
    Command("ls", "List volumes", _ls, setup=_ls_flags, aliases=("list",)),
    Command("inspect", "Display detailed information on one or more volumes", _inspect,
            usage="[OPTIONS] VOLUME [VOLUME...]", setup=_inspect_flags, args=(1, None)),
    Command("rm", "Remove one or more volumes", _rm, usage="[OPTIONS] VOLUME [VOLUME...]", setup=_rm_flags,
            aliases=("remove",), args=(1, None),
            long="Remove one or more volumes. You cannot remove a volume that is in use by a container."),
    Command("prune", "Remove unused local volumes", _prune, setup=_prune_flags),
]
