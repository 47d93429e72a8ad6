"""``skiff network ...``: create, ls, inspect, rm, prune, connect, disconnect, with docker's flags,
columns (NETWORK ID, NAME, DRIVER, SCOPE), messages and exit codes."""

from __future__ import annotations

import argparse
import ipaddress
from typing import Any

from skiff.cli.command import Cli, Command
from skiff.cli.commands.system import GoView, parse_filter_flags
from skiff.cli.exitcodes import GENERIC, StatusError
from skiff.cli.formatting import choose_format, render_inspect, render_list
from skiff.cli.gotemplate import TemplateError

__all__ = ["NOUN", "HELP", "COMMANDS", "ipam_config", "network_rows"]

NOUN = "network"
HELP = "Manage networks"


def _kv_list(values: list[str] | None, flag: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for raw in values or []:
        k, sep, v = raw.partition("=")
        if not sep and flag == "aux-address":
            raise StatusError(GENERIC, f"invalid argument \"{raw}\" for \"--{flag}\" flag: bad format for "
                              f"map: {raw}")
        out[k] = v
    return out


# ---- create ------------------------------------------------------------------------------------

def ipam_config(subnets: list[str], ranges: list[str], gateways: list[str],
                aux: dict[str, str]) -> list[dict[str, Any]]:
    """docker's consolidateIpam: each range, gateway and aux address goes to the subnet holding it."""
    if len(subnets) < len(ranges) or len(subnets) < len(gateways):
        raise StatusError(GENERIC, "every ip-range or gateway must have a corresponding subnet")
    nets = []
    for s in subnets:
        try:
            nets.append(ipaddress.ip_network(s, strict=False))
        except ValueError:
            raise StatusError(GENERIC, f"invalid CIDR address: {s}") from None
    for i, a in enumerate(nets):
        for b in nets[i + 1:]:
            if a.version == b.version and a.overlaps(b):
                raise StatusError(GENERIC, "multiple overlapping subnet configuration is not supported")
    cfgs: list[dict[str, Any]] = [{"Subnet": s, "AuxiliaryAddresses": {}} for s in subnets]

    def place(addr: str, what: str, key: str) -> None:
        try:
            ip = ipaddress.ip_network(addr, strict=False) if key == "IPRange" else ipaddress.ip_address(addr)
        except ValueError:
            raise StatusError(GENERIC, f"invalid {what} {addr}") from None
        for cfg, net in zip(cfgs, nets, strict=True):
            inside = (ip.version == net.version and ip.subnet_of(net)  # type: ignore[union-attr, arg-type]
                      if key == "IPRange" else ip in net)
            if inside:
                if key in cfg:
                    plural = "ranges" if key == "IPRange" else "gateways"
                    prep = "on" if key == "IPRange" else "for"
                    raise StatusError(GENERIC, f"cannot configure multiple {plural} ({addr}, {cfg[key]}) "
                                      f"{prep} the same subnet ({cfg['Subnet']})")
                cfg[key] = addr
                return
        raise StatusError(GENERIC, f"no matching subnet for {what} {addr}")

    for r in ranges:
        place(r, "range", "IPRange")
    for g in gateways:
        place(g, "gateway", "Gateway")
    for name, addr in aux.items():
        try:
            ip = ipaddress.ip_address(addr)
        except ValueError:
            raise StatusError(GENERIC, f"invalid aux-address {addr}") from None
        for cfg, net in zip(cfgs, nets, strict=True):
            if ip in net:
                cfg["AuxiliaryAddresses"][name] = addr
                break
        else:
            raise StatusError(GENERIC, f"no matching subnet for aux-address {addr}")
    return cfgs


def _create(cli: Cli, ns: argparse.Namespace) -> int:
    from skiff.client import networks

    body: dict[str, Any] = {
        "Name": ns.args[0], "Driver": ns.driver, "Scope": ns.scope or "",
        "IPAM": {"Driver": ns.ipam_driver, "Config": ipam_config(ns.subnet or [], ns.ip_range or [],
                                                                   ns.gateway or [], _kv_list(ns.aux_address,
                                                                                              "aux-address")),
                 "Options": _kv_list(ns.ipam_opt, "ipam-opt")},
        "Options": _kv_list(ns.opt, "opt"), "Labels": _kv_list(ns.label, "label"),
        "Internal": ns.internal, "Attachable": ns.attachable, "Ingress": ns.ingress,
        "ConfigOnly": ns.config_only,
    }
    if ns.ipv6 is not None:
        body["EnableIPv6"] = ns.ipv6
    if ns.config_from:
        body["ConfigFrom"] = {"Network": ns.config_from}
    cli.print(networks.create(cli.client, body)["Id"])
    return 0


def _bool_flag(v: str) -> bool:
    if v.lower() in ("1", "true", "t"):
        return True
    if v.lower() in ("0", "false", "f"):
        return False
    raise argparse.ArgumentTypeError(f"invalid boolean value {v!r}")


def _create_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("-d", "--driver", default="bridge", help="Driver to manage the Network")
    p.add_argument("--subnet", action="append", metavar="strings", help="Subnet in CIDR format that represents a network segment")
    p.add_argument("--ip-range", action="append", metavar="strings", help="Allocate container ip from a sub-range")
    p.add_argument("--gateway", action="append", metavar="strings", help="IPv4 or IPv6 Gateway for the master subnet")
    p.add_argument("--aux-address", action="append", metavar="map",
                   help="Auxiliary IPv4 or IPv6 addresses used by Network driver (default map[])")
    p.add_argument("--internal", action="store_true", help="Restrict external access to the network")
    p.add_argument("--attachable", action="store_true", help="Enable manual container attachment")
    p.add_argument("--ingress", action="store_true", help="Create swarm routing-mesh network")
    p.add_argument("--label", action="append", help="Set metadata on a network")
    p.add_argument("-o", "--opt", action="append", metavar="map", help="Set driver specific options (default map[])")
    p.add_argument("--ipam-driver", default="default", help="IP Address Management Driver")
    p.add_argument("--ipam-opt", action="append", metavar="map", help="Set IPAM driver specific options (default map[])")
    p.add_argument("--ipv6", nargs="?", const=True, default=None, type=_bool_flag, metavar="",
                   help="Enable or disable IPv6 address assignment")
    p.add_argument("--ipv4", nargs="?", const=True, default=None, type=_bool_flag, metavar="",
                   help="Enable or disable IPv4 address assignment (default true)")
    p.add_argument("--scope", help="Control the network's scope")
    p.add_argument("--config-only", action="store_true", help="Create a configuration only network")
    p.add_argument("--config-from", help="The network from which to copy the configuration")


# ---- ls ----------------------------------------------------------------------------------------

_LS_TABLE = "table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}"
_LS_HEADERS = {"ID": "NETWORK ID", "Name": "NAME", "Driver": "DRIVER", "Scope": "SCOPE", "IPv6": "IPV6",
               "IPv4": "IPV4", "Internal": "INTERNAL", "Labels": "LABELS", "CreatedAt": "CREATED AT"}


def _go_time_string(rfc3339: str) -> str:
    """Go's time.Time.String() of a decoded RFC 3339 time: "2006-01-02 15:04:05.999999999 -0700 MST"."""
    import re
    m = re.fullmatch(r"(\d{4}-\d\d-\d\d)T(\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)", rfc3339)
    if not m:
        return rfc3339
    day, clock, frac, zone = m.groups()
    frac = (frac or "").rstrip("0")
    off = "+0000 UTC" if zone == "Z" else f"{zone.replace(':', '')} {zone.replace(':', '')}"
    return f"{day} {clock}{'.' + frac if frac else ''} {off}"


def network_rows(nets: list[dict[str, Any]], trunc: bool = True) -> list[GoView]:
    rows = []
    for n in sorted(nets, key=lambda x: str(x.get("Name", ""))):
        labels = n.get("Labels") or {}
        created = str(n.get("Created") or "")
        fields = {"ID": n["Id"][:12] if trunc else n["Id"], "Name": n.get("Name", ""),
                  "Driver": n.get("Driver", ""), "Scope": n.get("Scope", ""),
                  "IPv6": str(bool(n.get("EnableIPv6"))).lower(), "IPv4": str(n.get("EnableIPv4", True)).lower(),
                  "Internal": str(bool(n.get("Internal"))).lower(),
                  "Labels": ",".join(f"{k}={v}" for k, v in sorted(labels.items())),
                  "CreatedAt": _go_time_string(created),
                  "Label": lambda name, _l=labels: str(_l.get(name, ""))}
        rows.append(GoView(fields, n, "*network.networkContext"))
    return rows


def _ls(cli: Cli, ns: argparse.Namespace) -> int:
    from skiff.client import networks

    result = networks.list_networks(cli.client, parse_filter_flags(ns.filter))
    fmt = choose_format(ns.format, _LS_TABLE, ns.quiet)
    rows = network_rows(result, trunc=not ns.no_trunc)
    try:
        cli.print(render_list("{{json .}}" if fmt.strip() == "json" else fmt, rows, _LS_HEADERS), end="")
    except TemplateError as exc:
        raise StatusError(GENERIC, f"template parsing error: {exc}") from exc
    return 0


def _ls_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("-f", "--filter", action="append", help="Provide filter values (e.g. \"driver=bridge\")")
    p.add_argument("--format", help="Format output using a custom template")
    p.add_argument("--no-trunc", action="store_true", help="Do not truncate the output")
    p.add_argument("-q", "--quiet", action="store_true", help="Only display network IDs")


# ---- inspect / rm / prune ---------------------------------------------------------------------

def _inspect(cli: Cli, ns: argparse.Namespace) -> int:
    from skiff.client import networks

    return render_inspect(cli.print, ns.format, ns.args, lambda n: networks.inspect(cli.client, n, verbose=ns.verbose))


def _inspect_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("-f", "--format", help="Format output using a custom template")
    p.add_argument("-v", "--verbose", action="store_true", help="Verbose output for diagnostics")


def _rm(cli: Cli, ns: argparse.Namespace) -> int:
    from skiff.client import networks
    from skiff.errors import NotFound

    errors = []
    for name in ns.args:
        try:
            networks.remove(cli.client, name)
        except NotFound as exc:
            if not ns.force:
                errors.append(str(exc))
            continue
        except Exception as exc:
            errors.append(str(exc))
            continue
        cli.print(name)
    if errors:
        raise StatusError(GENERIC, "\n".join(errors))
    return 0


def _rm_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("-f", "--force", action="store_true", help="Do not error if the network does not exist")


def _prune(cli: Cli, ns: argparse.Namespace) -> int:
    from skiff.cli.commands.system import _confirm
    from skiff.client import networks

    warning = "WARNING! This will remove all custom networks not used by at least one container."
    if not ns.force and not _confirm(cli, warning):
        raise StatusError(0)  # docker: a cancelled prune prints nothing more, exit 0
    deleted = networks.prune(cli.client, parse_filter_flags(ns.filter))
    if deleted:
        cli.print("Deleted Networks:\n" + "".join(f"{n}\n" for n in deleted), end="")
    return 0


def _prune_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--filter", action="append", help="Provide filter values (e.g. \"until=<timestamp>\")")
    p.add_argument("-f", "--force", action="store_true", help="Do not prompt for confirmation")


# ---- connect / disconnect ---------------------------------------------------------------------

def _connect(cli: Cli, ns: argparse.Namespace) -> int:
    from skiff.client import networks

    ec: dict[str, Any] = {}
    ipam = {k: v for k, v in (("IPv4Address", ns.ip), ("IPv6Address", ns.ip6)) if v}
    if ns.link_local_ip:
        ipam["LinkLocalIPs"] = list(ns.link_local_ip)
    if ipam:
        ec["IPAMConfig"] = ipam
    if ns.alias:
        ec["Aliases"] = list(ns.alias)
    if ns.link:
        ec["Links"] = list(ns.link)
    if ns.driver_opt:
        ec["DriverOpts"] = _kv_list(ns.driver_opt, "driver-opt")
    if ns.gw_priority:
        ec["GwPriority"] = ns.gw_priority
    networks.connect(cli.client, ns.args[0], ns.args[1], ec)
    return 0


def _connect_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--alias", action="append", metavar="strings", help="Add network-scoped alias for the container")
    p.add_argument("--driver-opt", action="append", metavar="strings", help="driver options for the network")
    p.add_argument("--gw-priority", type=int, default=0, help="Highest gw-priority provides the default gateway. Accepts positive and negative values.")
    p.add_argument("--ip", help="IPv4 address (e.g., \"172.30.100.104\")")
    p.add_argument("--ip6", help="IPv6 address (e.g., \"2001:db8::33\")")
    p.add_argument("--link", action="append", help="Add link to another container")
    p.add_argument("--link-local-ip", action="append", metavar="strings", help="Add a link-local address for the container")


def _disconnect(cli: Cli, ns: argparse.Namespace) -> int:
    from skiff.client import networks

    networks.disconnect(cli.client, ns.args[0], ns.args[1], force=ns.force)
    return 0


def _disconnect_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("-f", "--force", action="store_true", help="Force the container to disconnect from a network")


COMMANDS = [
    Command("connect", "Connect a container to a network", _connect, usage="[OPTIONS] NETWORK CONTAINER",
            setup=_connect_flags, args=(2, 2)),
    Command("create", "Create a network", _create, usage="[OPTIONS] NETWORK", setup=_create_flags, args=(1, 1)),
    Command("disconnect", "Disconnect a container from a network", _disconnect,
            usage="[OPTIONS] NETWORK CONTAINER", setup=_disconnect_flags, args=(2, 2)),
    Command("inspect", "Display detailed information on one or more networks", _inspect,
            usage="[OPTIONS] NETWORK [NETWORK...]", setup=_inspect_flags, args=(1, None)),
    Command("ls", "List networks", _ls, setup=_ls_flags, aliases=("list",)),
    Command("prune", "Remove all unused networks", _prune, setup=_prune_flags),
    Command("rm", "Remove one or more networks", _rm, usage="NETWORK [NETWORK...]", setup=_rm_flags,
            aliases=("remove",), args=(1, None)),
]
