"""``skiff version``, ``info``, ``events`` and ``system df`` (docker's output, --format)."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Iterator, Mapping
from typing import Any

import skiff
from skiff.cli.command import Cli, Command
from skiff.cli.exitcodes import GENERIC, StatusError, UsageError
from skiff.cli.formatting import render, render_list, tabwrite
from skiff.cli.gotemplate import Template, TemplateError
from skiff.cli.units import bytes_size, get_timestamp, human_duration, human_size, rfc3339_nano_fixed
from skiff.client.streams import encode_filters
from skiff.errors import NotFound

__all__ = ["NOUN", "HELP", "COMMANDS", "GoView", "parse_filter_flags"]

NOUN = "system"
HELP = "Manage Docker"

CLIENT_API_VERSION = "1.51"


class GoView(Mapping[str, Any]):
    """A JSON object seen through Go field names (for templates), printed by ``json`` as the wire form."""

    def __init__(self, fields: Mapping[str, Any], wire: Any, go_type: str | None = None) -> None:
        self._fields = dict(fields)
        self._wire = wire
        self.go_type = go_type  # set: a docker formatter context (unknown fields fail, json is MarshalJSON)

    def __getitem__(self, key: str) -> Any:
        return self._fields[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._fields)

    def __len__(self) -> int:
        return len(self._fields)

    def to_json(self) -> Any:
        return self._wire

    def context_json(self) -> str:
        """docker's formatter.MarshalJSON: every zero-argument method, sorted keys, HTML-escaped."""
        fields = {k: v for k, v in sorted(self._fields.items()) if not callable(v)}
        return go_json(fields)

    def __getattr__(self, name: str) -> Any:
        # docker's formatter contexts (*pkg.xContext) marshal their methods; other Go types their wire form
        go_type = str(self.__dict__.get("go_type") or "")
        if name == "marshal_json" and go_type.startswith("*") and go_type.endswith("Context"):
            return self.context_json
        raise AttributeError(name)


def go_json(obj: Any) -> str:
    """Go's json.Marshal text: compact, ``<``, ``>``, ``&`` (and U+2028/9) escaped."""
    text = json.dumps(obj, separators=(",", ":"), ensure_ascii=False)
    return (text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
            .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))


def parse_filter_flags(values: list[str] | None) -> dict[str, list[str]]:
    """``--filter k=v`` flags -> {k: [v, ...]} (docker's opts.FilterOpt)."""
    out: dict[str, list[str]] = {}
    for raw in values or []:
        k, sep, v = raw.partition("=")
        if not sep:
            raise UsageError(f"invalid argument \"{raw}\" for \"-f, --filter\" flag: bad format of "
                             "filter (expected name=value)")
        out.setdefault(k.strip().lower(), []).append(v.strip())
    return out


# ---- version ---------------------------------------------------------------------------------

_VERSION_TEMPLATE = """Client:{{if ne .Client.Platform.Name ""}} {{.Client.Platform.Name}}{{end}}
 Version:\t{{.Client.Version}}
 API version:\t{{.Client.APIVersion}}{{if ne .Client.APIVersion .Client.DefaultAPIVersion}} (downgraded from {{.Client.DefaultAPIVersion}}){{end}}
 Go version:\t{{.Client.GoVersion}}
 Git commit:\t{{.Client.GitCommit}}
 Built:\t{{.Client.BuildTime}}
 OS/Arch:\t{{.Client.Os}}/{{.Client.Arch}}
 Context:\t{{.Client.Context}}
{{- if .Server}}{{with .Server}}

Server:{{if ne .Platform.Name ""}} {{.Platform.Name}}{{end}}
 {{- range $component := .Components}}
 {{$component.Name}}:
  {{- if eq $component.Name "Engine" }}
  Version:\t{{.Version}}
  API version:\t{{index .Details "ApiVersion"}} (minimum version {{index .Details "MinAPIVersion"}})
  Go version:\t{{index .Details "GoVersion"}}
  Git commit:\t{{index .Details "GitCommit"}}
  Built:\t{{index .Details "BuildTime"}}
  OS/Arch:\t{{index .Details "Os"}}/{{index .Details "Arch"}}
  Experimental:\t{{index .Details "Experimental"}}
  {{- else }}
  Version:\t{{$component.Version}}
  {{- range $key := detailsOrder $component}}
  {{$key}}:\t{{index $component.Details $key}}
  {{- end}}
  {{- end}}
 {{- end}}
{{- end}}{{- end}}"""


_PYTHON = "python{}.{}.{}".format(*sys.version_info[:3])


def _go_arch() -> str:
    m = os.uname().machine
    return {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "i686": "386"}.get(m, m)


def _details_order(component: Mapping[str, Any]) -> list[str]:
    return sorted((component.get("Details") or {}).keys())


def _version(cli: Cli, ns: argparse.Namespace) -> int:
    client: dict[str, Any] = {
        "Platform": {"Name": ""}, "Version": skiff.__version__, "APIVersion": CLIENT_API_VERSION,
        "DefaultAPIVersion": CLIENT_API_VERSION, "GoVersion": _PYTHON,
        "GitCommit": "", "BuildTime": "", "Os": "linux", "Arch": _go_arch(), "Context": "default",
    }
    fmt = ns.format
    try:
        tmpl = Template(_VERSION_TEMPLATE if not fmt or fmt.strip() == "json" else
                        fmt.replace("\\t", "\t").replace("\\n", "\n"),
                        funcs={"detailsOrder": _details_order})
    except TemplateError as exc:
        raise StatusError(64, "template parsing error: " + str(exc).replace("template: :", "template: version:", 1)
                          ) from exc
    from skiff.client import system

    server: dict[str, Any] | None = None
    error: BaseException | None = None
    try:
        server = system.version(cli.client)
        client["APIVersion"] = cli.client.version
    except Exception as exc:
        error = exc
    wire = {k: client[k] for k in ("Version", "APIVersion", "DefaultAPIVersion", "GitCommit", "GoVersion", "Os",
                                   "Arch", "BuildTime", "Context")}  # docker's clientVersion field order
    wire = {("ApiVersion" if k == "APIVersion" else k): v for k, v in wire.items()}
    if fmt and fmt.strip() == "json":
        cli.print(render("json", {"Client": wire, "Server": server}), end="")
    else:
        try:
            view = {"Client": GoView(client, wire, "system.clientVersion"), "Server": server}
            text = tmpl.execute(GoView(view, {"Client": wire, "Server": server}, "system.versionInfo"))
        except TemplateError as exc:  # docker names this template "version"
            cli.print()
            raise StatusError(GENERIC, str(exc).replace("template: :", "template: version:", 1)
                              .replace('executing ""', 'executing "version"', 1)) from exc
        cli.print(text if fmt else tabwrite(text, minwidth=20, padding=1))
    if error is not None:
        raise error
    return 0


def _version_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("-f", "--format", help="Format output using a custom template")


# ---- info ------------------------------------------------------------------------------------

def _info_lines(info: Mapping[str, Any]) -> list[str]:
    out: list[str] = []

    def add(text: str) -> None:
        out.append(text)

    add(f" Containers: {info.get('Containers', 0)}")
    add(f"  Running: {info.get('ContainersRunning', 0)}")
    add(f"  Paused: {info.get('ContainersPaused', 0)}")
    add(f"  Stopped: {info.get('ContainersStopped', 0)}")
    add(f" Images: {info.get('Images', 0)}")
    add(f" Server Version: {info.get('ServerVersion', '')}")
    add(f" Storage Driver: {info.get('Driver', '')}")
    for pair in info.get("DriverStatus") or []:
        if len(pair) == 2:
            add(f"  {pair[0]}: {pair[1]}")
    add(f" Logging Driver: {info.get('LoggingDriver', '')}")
    add(f" Cgroup Driver: {info.get('CgroupDriver', '')}")
    add(f" Cgroup Version: {info.get('CgroupVersion', '')}")
    plugins = info.get("Plugins") or {}
    add(" Plugins:")
    add(f"  Volume: {' '.join(plugins.get('Volume') or [])}")
    add(f"  Network: {' '.join(plugins.get('Network') or [])}")
    if plugins.get("Authorization"):
        add(f"  Authorization: {' '.join(plugins['Authorization'])}")
    add(f"  Log: {' '.join(plugins.get('Log') or [])}")
    add(f" Swarm: {(info.get('Swarm') or {}).get('LocalNodeState', 'inactive')}")
    add(f" Runtimes: {' '.join(sorted((info.get('Runtimes') or {}).keys()))}")
    add(f" Default Runtime: {info.get('DefaultRuntime', '')}")
    add(f" Init Binary: {info.get('InitBinary', '')}")
    add(f" containerd version: {(info.get('ContainerdCommit') or {}).get('ID', '')}")
    add(f" runc version: {(info.get('RuncCommit') or {}).get('ID', '')}")
    add(f" init version: {(info.get('InitCommit') or {}).get('ID', '')}")
    sec = info.get("SecurityOptions") or []
    if sec:
        add(" Security Options:")
        for opt in sec:
            kv = dict(part.split("=", 1) for part in opt.split(",") if "=" in part)
            add(f"  {kv.get('name', opt)}")
            for k, v in kv.items():
                if k != "name":
                    add(f"   {k.capitalize()}: {v}")
    add(f" Kernel Version: {info.get('KernelVersion', '')}")
    add(f" Operating System: {info.get('OperatingSystem', '')}")
    add(f" OSType: {info.get('OSType', '')}")
    add(f" Architecture: {info.get('Architecture', '')}")
    add(f" CPUs: {info.get('NCPU', 0)}")
    add(f" Total Memory: {bytes_size(info.get('MemTotal', 0))}")
    add(f" Name: {info.get('Name', '')}")
    add(f" ID: {info.get('ID', '')}")
    add(f" Docker Root Dir: {info.get('DockerRootDir', '')}")
    add(f" Debug Mode: {'true' if info.get('Debug') else 'false'}")
    for key, title in (("HttpProxy", "HTTP Proxy"), ("HttpsProxy", "HTTPS Proxy"), ("NoProxy", "No Proxy")):
        if info.get(key):
            add(f" {title}: {info[key]}")
    if info.get("Labels"):
        add(" Labels:")
        for label in info["Labels"]:
            add(f"  {label}")
    add(f" Experimental: {'true' if info.get('ExperimentalBuild') else 'false'}")
    reg = info.get("RegistryConfig") or {}
    if reg.get("InsecureRegistryCIDRs") or any(not c.get("Secure", True)
                                               for c in (reg.get("IndexConfigs") or {}).values()):
        add(" Insecure Registries:")
        for name, conf in sorted((reg.get("IndexConfigs") or {}).items()):
            if not conf.get("Secure", True):
                add(f"  {name}")
        for cidr in reg.get("InsecureRegistryCIDRs") or []:
            add(f"  {cidr}")
    if reg.get("Mirrors"):
        add(" Registry Mirrors:")
        for m in reg["Mirrors"]:
            add(f"  {m}")
    add(f" Live Restore Enabled: {'true' if info.get('LiveRestoreEnabled') else 'false'}")
    pools = info.get("DefaultAddressPools") or []
    if pools:
        add(" Default Address Pools:")
        for p in pools:
            add(f"   Base: {p.get('Base')}, Size: {p.get('Size')}")
    return out


def _info(cli: Cli, ns: argparse.Namespace) -> int:
    from skiff.client import system

    client_info = {"Debug": cli.options.debug, "Version": skiff.__version__, "Context": "default",
                   "Plugins": [], "Warnings": None}
    info: dict[str, Any] | None = None
    error: BaseException | None = None
    try:
        info = system.info(cli.client)
    except Exception as exc:
        error = exc
    if ns.format and ns.format.strip() != "json":
        try:
            Template(ns.format)
        except TemplateError as exc:
            raise StatusError(64, f"template parsing error: {exc}") from exc
    if ns.format:
        data = dict(info or {})
        data["ClientInfo"] = client_info
        data["ClientErrors"] = None if error is None else [str(error)]
        try:
            cli.print(render(ns.format, data if ns.format.strip() == "json" else
                             GoView(data, data, "system.dockerInfo")), end="")
        except TemplateError as exc:
            cli.print()
            raise StatusError(GENERIC, str(exc)) from exc
        if error is not None:
            raise error
        return 0
    lines = ["Client:", f" Version:    {skiff.__version__}", " Context:    default",
             f" Debug Mode: {'true' if cli.options.debug else 'false'}", "", "Server:"]
    if info is None:
        lines.append(f"ERROR: {error}")
        cli.print("\n".join(lines))
        raise StatusError(GENERIC, "errors pretty printing info")
    lines += _info_lines(info)
    cli.print("\n".join(lines))
    cli.print()
    for w in info.get("Warnings") or []:
        cli.warn(w)
    return 0


def _info_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("-f", "--format", help="Format output using a custom template")


# ---- events ----------------------------------------------------------------------------------

def _event_view(ev: Mapping[str, Any]) -> GoView:
    return GoView({"Status": ev.get("status", ""), "ID": ev.get("id", ""), "From": ev.get("from", ""),
                   "Type": ev.get("Type", ""), "Action": ev.get("Action", ""),
                   "Actor": ev.get("Actor") or {"ID": "", "Attributes": {}},
                   "Scope": ev.get("scope", ""), "Time": ev.get("time", 0),
                   "TimeNano": ev.get("timeNano", 0)}, ev, "*events.Message")


def format_event(ev: Mapping[str, Any]) -> str:
    """docker's default event line: time, type, action, actor id, (sorted attributes)."""
    ns = int(ev.get("timeNano") or 0) or int(ev.get("time") or 0) * 1_000_000_000
    actor = ev.get("Actor") or {}
    line = f"{rfc3339_nano_fixed(ns)} {ev.get('Type', '')} {ev.get('Action', '')} {actor.get('ID', '')}"
    attrs = actor.get("Attributes") or {}
    if attrs:
        line += " (" + ", ".join(f"{k}={attrs[k]}" for k in sorted(attrs)) + ")"
    return line


def _events(cli: Cli, ns: argparse.Namespace) -> int:
    from skiff.client import system

    try:
        since = get_timestamp(ns.since) if ns.since else None
        until = get_timestamp(ns.until) if ns.until else None
    except ValueError as exc:
        raise StatusError(GENERIC, str(exc)) from exc
    filters = parse_filter_flags(ns.filter)
    tmpl = None
    if ns.format and ns.format.strip() != "json":
        try:
            tmpl = Template(ns.format.replace("\\t", "\t").replace("\\n", "\n"))
        except TemplateError as exc:
            raise StatusError(64, f"Template parsing error: {exc}") from exc
    for ev in system.events(cli.client, since, until, filters):
        actor = ev.get("Actor")
        if isinstance(actor, dict) and isinstance(actor.get("Attributes"), dict):  # a Go map: sorted keys
            actor["Attributes"] = dict(sorted(actor["Attributes"].items()))
        for key in ("status", "id", "from"):  # omitempty in docker's events.Message
            if key in ev and not ev[key]:
                del ev[key]
        if ns.format and ns.format.strip() == "json":
            cli.print(render("json", ev), end="")
        elif tmpl is not None:
            try:
                cli.print(tmpl.execute(_event_view(ev)))
            except TemplateError as exc:
                raise StatusError(64, f"Error parsing format: {exc}") from exc
        else:
            cli.print(format_event(ev))
        cli.out.flush()
    return 0


def _events_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("-f", "--filter", action="append", help="Filter output based on conditions provided")
    p.add_argument("--format", help="Format output using a custom template")
    p.add_argument("--since", help="Show all events created since timestamp")
    p.add_argument("--until", help="Stream events until this timestamp")


# ---- df --------------------------------------------------------------------------------------

_DF_HEADERS = {"Type": "TYPE", "TotalCount": "TOTAL", "Active": "ACTIVE", "Size": "SIZE",
               "Reclaimable": "RECLAIMABLE"}
_DF_TABLE = "table {{.Type}}\t{{.TotalCount}}\t{{.Active}}\t{{.Size}}\t{{.Reclaimable}}"


def _reclaim(reclaimable: int, total: int) -> str:
    if total > 0:
        return f"{human_size(reclaimable)} ({reclaimable * 100 // total}%)"
    return human_size(reclaimable)


_ACTIVE = ("running", "paused", "restarting")  # docker's diskUsageContainersContext.isActive


def df_views(du: Mapping[str, Any]) -> list[GoView]:
    """df_rows as docker's contexts: every value a string, ``{{json .}}`` with sorted keys."""
    types = ("Images", "Containers", "Volumes", "Builder")
    return [GoView({k: str(v) for k, v in r.items()}, None, f"*formatter.diskUsage{t}Context")
            for t, r in zip(types, df_rows(du), strict=True)]


def df_rows(du: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The four rows of ``docker system df`` from a /system/df reply."""
    images = du.get("Images") or []
    total_images = int(du.get("LayersSize") or 0)
    used = sum(int(i.get("Size", 0)) - int(i.get("SharedSize", 0)) for i in images
               if i.get("Containers", 0) and i.get("SharedSize", 0) != -1)
    containers = du.get("Containers") or []
    c_size = sum(int(c.get("SizeRw") or 0) for c in containers)
    c_reclaim = sum(int(c.get("SizeRw") or 0) for c in containers if c.get("State") not in _ACTIVE)
    volumes = du.get("Volumes") or []
    v_size = sum(max(int((v.get("UsageData") or {}).get("Size", 0)), 0) for v in volumes)
    v_reclaim = sum(max(int((v.get("UsageData") or {}).get("Size", 0)), 0) for v in volumes
                    if (v.get("UsageData") or {}).get("RefCount", 0) == 0)
    cache = du.get("BuildCache") or []
    b_size = sum(int(b.get("Size", 0)) for b in cache if not b.get("Shared"))
    b_reclaim = sum(int(b.get("Size", 0)) for b in cache if not b.get("InUse") and not b.get("Shared"))
    return [
        {"Type": "Images", "TotalCount": len(images),
         "Active": sum(1 for i in images if i.get("Containers", 0) > 0),
         "Size": human_size(total_images), "Reclaimable": _reclaim(total_images - used, total_images)},
        {"Type": "Containers", "TotalCount": len(containers),
         "Active": sum(1 for c in containers if c.get("State") in _ACTIVE),
         "Size": human_size(c_size), "Reclaimable": _reclaim(c_reclaim, c_size)},
        {"Type": "Local Volumes", "TotalCount": len(volumes),
         "Active": sum(1 for v in volumes if (v.get("UsageData") or {}).get("RefCount", 0) > 0),
         "Size": human_size(v_size), "Reclaimable": _reclaim(v_reclaim, v_size)},
        {"Type": "Build Cache", "TotalCount": len(cache),
         "Active": sum(1 for b in cache if b.get("InUse")),
         "Size": human_size(b_size), "Reclaimable": _reclaim(b_reclaim, b_size)},
    ]


def _short_id(value: str) -> str:
    return value.split(":", 1)[-1][:12]


def _ago(ts: float | int | str | None) -> str:
    """"3 days ago" from a Unix time or an RFC 3339 string (nanoseconds allowed)."""
    import re
    import time as _time
    from datetime import datetime

    if isinstance(ts, str):
        text = re.sub(r"(\.\d{6})\d+", r"\1", ts.replace("Z", "+00:00"))
        try:
            t = datetime.fromisoformat(text).timestamp()
        except ValueError:
            return ""
    else:
        t = float(ts or 0)
    return "" if not t else human_duration(_time.time() - t) + " ago"


def _df_verbose(cli: Cli, du: Mapping[str, Any]) -> None:
    images, conts = du.get("Images") or [], du.get("Containers") or []
    vols, cache = du.get("Volumes") or [], du.get("BuildCache") or []
    irows = []
    for i in images:
        tags = [t for t in (i.get("RepoTags") or []) if t != "<none>:<none>"] or ["<none>:<none>"]
        for tag in tags:
            repo, _, t = tag.rpartition(":")
            shared = int(i.get("SharedSize", -1))
            size = int(i.get("Size", 0))
            irows.append({"Repository": repo, "Tag": t, "ID": _short_id(i.get("Id", "")),
                          "CreatedSince": _ago(i.get("Created")), "Size": human_size(size, 3),
                          "SharedSize": "N/A" if shared < 0 else human_size(shared),
                          "UniqueSize": "N/A" if shared < 0 else human_size(size - shared),
                          "Containers": i.get("Containers", 0)})
    crows = []
    for c in conts:
        cmd = str(c.get("Command", ""))
        cmd = cmd if len(cmd) <= 20 else cmd[:19] + "…"
        crows.append({"ID": _short_id(c.get("Id", "")), "Image": c.get("Image", ""), "Command": f'"{cmd}"',
                      "LocalVolumes": sum(1 for m in c.get("Mounts") or [] if m.get("Type") == "volume"),
                      "Size": human_size(int(c.get("SizeRw") or 0), 3), "RunningFor": _ago(c.get("Created")),
                      "Status": c.get("Status", ""),
                      "Names": ((c.get("Names") or [""])[0]).lstrip("/")})
    vrows = []
    for v in vols:
        usage = v.get("UsageData") or {}
        size = int(usage.get("Size", -1))
        vrows.append({"Name": v.get("Name", ""), "Links": usage.get("RefCount", 0),
                      "Size": "N/A" if size < 0 else human_size(size)})
    brows = [{"ID": _short_id(b.get("ID", "")), "CacheType": b.get("Type", ""),
              "Size": human_size(int(b.get("Size", 0))), "CreatedSince": _ago(b.get("CreatedAt")),
              "LastUsedSince": _ago(b.get("LastUsedAt")), "UsageCount": b.get("UsageCount", 0),
              "Shared": "true" if b.get("Shared") else "false"} for b in cache]
    out = ["Images space usage:", "",
           render_list("table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}\t"
                       "{{.SharedSize}}\t{{.UniqueSize}}\t{{.Containers}}", irows,
                       {"Repository": "REPOSITORY", "Tag": "TAG", "ID": "IMAGE ID", "CreatedSince": "CREATED",
                        "Size": "SIZE", "SharedSize": "SHARED SIZE", "UniqueSize": "UNIQUE SIZE",
                        "Containers": "CONTAINERS"}),
           "Containers space usage:", "",
           render_list("table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.LocalVolumes}}\t{{.Size}}\t"
                       "{{.RunningFor}}\t{{.Status}}\t{{.Names}}", crows,
                       {"ID": "CONTAINER ID", "Image": "IMAGE", "Command": "COMMAND",
                        "LocalVolumes": "LOCAL VOLUMES", "Size": "SIZE", "RunningFor": "CREATED",
                        "Status": "STATUS", "Names": "NAMES"}),
           "Local Volumes space usage:", "",
           render_list("table {{.Name}}\t{{.Links}}\t{{.Size}}", vrows,
                       {"Name": "VOLUME NAME", "Links": "LINKS", "Size": "SIZE"}),
           "Build cache usage: " + human_size(sum(int(b.get("Size", 0)) for b in cache)), "",
           render_list("table {{.ID}}\t{{.CacheType}}\t{{.Size}}\t{{.CreatedSince}}\t{{.LastUsedSince}}\t"
                       "{{.UsageCount}}\t{{.Shared}}", brows,
                       {"ID": "CACHE ID", "CacheType": "CACHE TYPE", "Size": "SIZE", "CreatedSince": "CREATED",
                        "LastUsedSince": "LAST USED", "UsageCount": "USAGE", "Shared": "SHARED"})]
    cli.print("\n".join(out), end="")


def _df_verbose_format(cli: Cli, du: Mapping[str, Any], fmt: str) -> int:
    """docker's verboseWrite for a non-table format: the template (or json) applied once to
    {Images, Containers, Volumes, BuildCache} of untruncated contexts, without a final newline."""
    import time as _time

    from skiff.cli.commands.container import container_rows
    from skiff.cli.commands.volume import volume_rows

    images = []
    for i in du.get("Images") or []:
        tags = [t for t in i.get("RepoTags") or [] if t != "<none>:<none>"]
        repo, _, tag = tags[0].rpartition(":") if tags else ("<none>", "", "<none>")
        size, shared, created = int(i.get("Size", 0)), int(i.get("SharedSize", -1)), int(i.get("Created") or 0)
        fields = {"ID": str(i.get("Id", "")), "Repository": repo, "Tag": tag, "Digest": "",
                  "CreatedSince": _ago(created),
                  "CreatedAt": _time.strftime("%Y-%m-%d %H:%M:%S %z %Z", _time.localtime(created)),
                  "Size": human_size(size, 3), "VirtualSize": human_size(size),
                  "SharedSize": "N/A" if shared < 0 else human_size(shared),
                  "UniqueSize": "N/A" if shared < 0 else human_size(size - shared),
                  "Containers": "N/A" if int(i.get("Containers", -1)) < 0 else str(i.get("Containers"))}
        images.append(GoView(fields, fields, "*formatter.imageContext"))
    conts = container_rows([{**c, "SizeRootFs": 0} for c in du.get("Containers") or []], trunc=False)
    vols = volume_rows(list(du.get("Volumes") or []))
    cache = [GoView(f, f, "*formatter.buildCacheContext") for f in (
        {"ID": str(b.get("ID", "")), "CacheType": str(b.get("Type", "")), "Size": human_size(int(b.get("Size", 0))),
         "CreatedSince": _ago(b.get("CreatedAt")), "LastUsedSince": _ago(b.get("LastUsedAt")),
         "UsageCount": str(b.get("UsageCount", 0)), "InUse": str(bool(b.get("InUse"))).lower(),
         "Shared": str(bool(b.get("Shared"))).lower(), "Description": str(b.get("Description", ""))}
        for b in du.get("BuildCache") or [])]
    groups = {"Images": images, "Containers": conts, "Volumes": vols, "BuildCache": cache}
    if fmt.strip() in ("json", "{{json .}}"):
        cli.out.write("{" + ",".join(f'"{k}":[' + ",".join(v.context_json() for v in rows) + "]"
                                     for k, rows in groups.items()) + "}")
        return 0
    try:
        cli.out.write(Template(fmt.replace("\\t", "\t").replace("\\n", "\n")).execute(
            GoView(groups, groups, "*formatter.diskUsageContext")))
    except TemplateError as exc:
        raise StatusError(GENERIC, f"template parsing error: {exc}") from exc
    return 0


def _df(cli: Cli, ns: argparse.Namespace) -> int:
    from skiff.client import system

    du = system.df(cli.client)
    if ns.verbose and (not ns.format or ns.format.strip() == "table"):
        _df_verbose(cli, du)
        return 0
    if ns.verbose:
        return _df_verbose_format(cli, du, ns.format)
    fmt = ns.format or _DF_TABLE
    if fmt.strip() == "table":
        fmt = _DF_TABLE
    try:
        if fmt.strip() == "json":
            fmt = "{{json .}}"
        cli.print(render_list(fmt, df_views(du), _DF_HEADERS), end="")
    except TemplateError as exc:
        raise StatusError(GENERIC, f"template parsing error: {exc}") from exc
    return 0


def _df_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--format", help="Format output using a custom template")
    p.add_argument("-v", "--verbose", action="store_true", help="Show detailed information on space usage")


# ---- prune -----------------------------------------------------------------------------------

def _confirm(cli: Cli, text: str) -> bool:
    cli.out.write(text + "\nAre you sure you want to continue? [y/N] ")
    cli.out.flush()
    answer = sys.stdin.readline() if sys.stdin and not sys.stdin.closed else ""
    return answer.strip().lower() in ("y", "yes")


def _prune_call(cli: Cli, path: str, filters: dict[str, list[str]]) -> dict[str, Any]:
    result: dict[str, Any] = cli.client.post(path, {"filters": encode_filters(filters)}) or {}
    return result


def _prune(cli: Cli, ns: argparse.Namespace) -> int:
    filters = parse_filter_flags(ns.filter)
    items = ["all stopped containers"]
    if ns.volumes:
        items.append("all anonymous volumes not used by at least one container")
    items.append("all networks not used by at least one container")
    if ns.all:
        items += ["all images without at least one container associated to them", "all build cache"]
    else:
        items += ["all dangling images", "unused build cache"]
    if not ns.force:
        warning = "WARNING! This will remove:\n" + "".join(f"  - {i}\n" for i in items)
        if filters:
            warning += "\n  Items to be pruned will be filtered with:\n" + "".join(
                f"  - {k}={v}\n" for k, vs in sorted(filters.items()) for v in vs)
        if not _confirm(cli, warning.rstrip("\n") + "\n"):
            raise StatusError(0)  # docker: a cancelled prune prints nothing more, exit 0
    reclaimed = 0
    r = _prune_call(cli, "/containers/prune", filters)
    reclaimed += int(r.get("SpaceReclaimed") or 0)
    if r.get("ContainersDeleted"):
        cli.print("Deleted Containers:\n" + "\n".join(r["ContainersDeleted"]) + "\n")
    if ns.volumes:
        vf = dict(filters)
        if ns.all:
            vf["all"] = ["true"]
        r = _prune_call(cli, "/volumes/prune", vf)
        reclaimed += int(r.get("SpaceReclaimed") or 0)
        if r.get("VolumesDeleted"):
            cli.print("Deleted Volumes:\n" + "\n".join(r["VolumesDeleted"]) + "\n")
    r = _prune_call(cli, "/networks/prune", {k: v for k, v in filters.items() if k != "label!"})
    if r.get("NetworksDeleted"):
        cli.print("Deleted Networks:\n" + "\n".join(r["NetworksDeleted"]) + "\n")
    imf = dict(filters)
    imf["dangling"] = ["false" if ns.all else "true"]
    r = _prune_call(cli, "/images/prune", imf)
    reclaimed += int(r.get("SpaceReclaimed") or 0)
    if r.get("ImagesDeleted"):
        lines = []
        for d in r["ImagesDeleted"]:
            if d.get("Untagged"):
                lines.append(f"untagged: {d['Untagged']}")
            if d.get("Deleted"):
                lines.append(f"deleted: {d['Deleted']}")
        cli.print("Deleted Images:\n" + "\n".join(lines) + "\n")
    try:
        r = cli.client.post("/build/prune", {"all": "1" if ns.all else None,
                                             "filters": encode_filters(filters)}) or {}
    except NotFound:  # a daemon without a builder cache
        r = {}
    reclaimed += int(r.get("SpaceReclaimed") or 0)
    if r.get("CachesDeleted"):
        cli.print("Deleted build cache objects:\n" + "\n".join(r["CachesDeleted"]) + "\n")
    cli.print(f"Total reclaimed space: {human_size(reclaimed)}")
    return 0


def _prune_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("-a", "--all", action="store_true", help="Remove all unused images not just dangling ones")
    p.add_argument("--filter", action="append", help="Provide filter values (e.g. \"label=<key>=<value>\")")
    p.add_argument("-f", "--force", action="store_true", help="Do not prompt for confirmation")
    p.add_argument("--volumes", action="store_true", help="Prune anonymous volumes")


# ---- inspect (docker's generic, type-detecting inspect) --------------------------------------------

_INSPECT_TYPES: dict[str, str] = {
    "container": "/containers/{}/json", "image": "/images/{}/json", "network": "/networks/{}",
    "volume": "/volumes/{}", "plugin": "/plugins/{}/json",
}


def _inspect_one(cli: Cli, kind: str | None, name: str, size: bool) -> Any:
    from urllib.parse import quote

    from skiff.errors import NotFound

    kinds = [kind] if kind else list(_INSPECT_TYPES)
    for k in kinds:
        params = {"size": "1"} if size and k == "container" else None
        try:
            return cli.client.get(_INSPECT_TYPES[k].format(quote(name, safe="/:@")), params)
        except NotFound:
            if kind:
                raise
            continue
    raise StatusError(GENERIC, f"Error: No such object: {name}")


def _inspect(cli: Cli, ns: argparse.Namespace) -> int:
    if ns.type and ns.type not in _INSPECT_TYPES:
        raise StatusError(GENERIC, f'unknown type: "{ns.type}": must be one of "config", "container", "image", '
                          '"network", "node", "plugin", "secret", "service", "task", "volume"')
    from skiff.cli.formatting import render_inspect

    def fetch(name: str) -> Any:
        try:
            return _inspect_one(cli, ns.type, name, ns.size)
        except StatusError as exc:
            raise _Missing(exc.message) from None

    return render_inspect(cli.print, ns.format, ns.args, fetch)


class _Missing(Exception):
    """An object `inspect` did not find: its message is reported after the others are printed."""


def _inspect_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("-f", "--format", help="Format output using a custom template")
    p.add_argument("-s", "--size", action="store_true", help="Display total file sizes if the type is container")
    p.add_argument("--type", help="Only inspect objects of the given type")


COMMANDS = [
    Command("version", "Show the Docker version information", _version, setup=_version_flags),
    Command("info", "Display system-wide information", _info, setup=_info_flags),
    Command("events", "Get real time events from the server", _events, setup=_events_flags),
    Command("df", "Show docker disk usage", _df, setup=_df_flags),
    Command("prune", "Remove unused data", _prune, setup=_prune_flags),
    Command("inspect", "Return low-level information on Docker objects", _inspect, setup=_inspect_flags,
            usage="[OPTIONS] NAME|ID [NAME|ID...]", args=(1, None)),
]
