"""Docker's JSON views of a container: inspect, the ps summary, and the ps Status text."""

from __future__ import annotations

import time
from typing import Any

from skiff.engine.containers.record import ContainerRecord
from skiff.engine.containers.spec import MASKED_PATHS, READONLY_PATHS
from skiff.engine.system import rfc3339_nano

__all__ = ["human_duration", "status_text", "state_json", "inspect_json", "summary_json", "ZERO_TIME"]

ZERO_TIME = "0001-01-01T00:00:00Z"


def human_duration(seconds: float) -> str:
    """go-units HumanDuration."""
    s = int(seconds)
    if s < 1:
        return "Less than a second"
    if s == 1:
        return "1 second"
    if s < 60:
        return f"{s} seconds"
    m = int(seconds / 60)
    if m == 1:
        return "About a minute"
    if m < 60:
        return f"{m} minutes"
    h = int(seconds / 3600 + 0.5)
    if h == 1:
        return "About an hour"
    if h < 48:
        return f"{h} hours"
    if h < 24 * 7 * 2:
        return f"{h // 24} days"
    if h < 24 * 30 * 2:
        return f"{h // 24 // 7} weeks"
    if h < 24 * 365 * 2:
        return f"{h // 24 // 30} months"
    return f"{int(seconds / 3600 / 24 / 365)} years"


def _ago(ns: int) -> str:
    return human_duration(max(0.0, (time.time_ns() - ns) / 1e9))


def status_text(rec: ContainerRecord) -> str:
    """moby ``State.String()``."""
    if rec.status in ("running", "paused"):
        up = f"Up {_ago(rec.started_ns)}"
        if rec.status == "paused":
            return up + " (Paused)"
        if rec.health is not None and rec.health.status != "none":
            return f"{up} ({'health: starting' if rec.health.status == 'starting' else rec.health.status})"
        return up
    if rec.status == "restarting":
        return f"Restarting ({rec.exit_code}) {_ago(rec.finished_ns)} ago"
    if rec.status == "removing":
        return "Removal In Progress"
    if rec.status == "dead":
        return "Dead"
    if rec.status == "created" or not rec.finished_ns:
        return "Created"
    return f"Exited ({rec.exit_code}) {_ago(rec.finished_ns)} ago"


def _time(ns: int) -> str:
    return rfc3339_nano(ns) if ns else ZERO_TIME


def state_json(rec: ContainerRecord) -> dict[str, Any]:
    st: dict[str, Any] = {
        "Status": rec.status, "Running": rec.status in ("running", "paused"),
        "Paused": rec.status == "paused", "Restarting": rec.status == "restarting",
        "OOMKilled": rec.oom_killed, "Dead": rec.status == "dead",
        "Pid": rec.pid if rec.status in ("running", "paused") else 0, "ExitCode": rec.exit_code,
        "Error": rec.error, "StartedAt": _time(rec.started_ns), "FinishedAt": _time(rec.finished_ns),
    }
    if rec.health is not None:
        st["Health"] = {"Status": rec.health.status, "FailingStreak": rec.health.failing_streak,
                        "Log": list(rec.health.log)}
    return st


def inspect_json(rec: ContainerRecord, graph_driver: dict[str, Any], paths: dict[str, str],
                 size: tuple[int, int] | None = None) -> dict[str, Any]:
    mode = rec.host_config.get("NetworkMode") or "bridge"
    net = rec.network or {}
    out: dict[str, Any] = {
        "Id": rec.id, "Created": _time(rec.created_ns), "Path": rec.path, "Args": list(rec.args),
        "State": state_json(rec), "Image": rec.image_id,
        "ResolvConfPath": paths.get("resolv", ""), "HostnamePath": paths.get("hostname", ""),
        "HostsPath": paths.get("hosts", ""), "LogPath": rec.log_path if rec.log_driver == "json-file" else "",
        "Name": rec.name, "RestartCount": rec.restart_count, "Driver": graph_driver.get("Name", ""),
        "Platform": "linux", "MountLabel": "", "ProcessLabel": "", "AppArmorProfile": "",
        "ExecIDs": list(rec.exec_ids) or None, "HostConfig": _host_config(rec.host_config),
        "GraphDriver": graph_driver, "Config": rec.config,
        "Mounts": [{k: v for k, v in m.items() if k not in ("Anonymous", "VolumesFrom")} for m in rec.mounts],
        "NetworkSettings": {
            "Bridge": "", "SandboxID": net.get("SandboxID", ""), "SandboxKey": net.get("SandboxKey", ""),
            "Ports": net.get("Ports", {}), "HairpinMode": False, "LinkLocalIPv6Address": "",
            "LinkLocalIPv6PrefixLen": 0, "SecondaryIPAddresses": None, "SecondaryIPv6Addresses": None,
            "EndpointID": "", "Gateway": "", "GlobalIPv6Address": "", "GlobalIPv6PrefixLen": 0,
            "IPAddress": "", "IPPrefixLen": 0, "IPv6Gateway": "", "MacAddress": "",
            "Networks": net.get("Networks") or {mode: _endpoint()},
        },
    }
    if size is not None:
        out["SizeRw"], out["SizeRootFs"] = size
    return out


def _host_config(hc: dict[str, Any]) -> dict[str, Any]:
    """moby writes the default masked and read-only paths into HostConfig (unless privileged)."""
    if hc.get("Privileged") or (hc.get("MaskedPaths") is not None and hc.get("ReadonlyPaths") is not None):
        return hc
    out = dict(hc)
    if out.get("MaskedPaths") is None:
        out["MaskedPaths"] = list(MASKED_PATHS)
    if out.get("ReadonlyPaths") is None:
        out["ReadonlyPaths"] = list(READONLY_PATHS)
    return out


def _endpoint() -> dict[str, Any]:
    return {"IPAMConfig": None, "Links": None, "Aliases": None, "MacAddress": "", "DriverOpts": None,
            "GwPriority": 0, "NetworkID": "", "EndpointID": "", "Gateway": "", "IPAddress": "",
            "IPPrefixLen": 0, "IPv6Gateway": "", "GlobalIPv6Address": "", "GlobalIPv6PrefixLen": 0,
            "DNSNames": None}


def _command(rec: ContainerRecord) -> str:
    """moby's list: the path, then the args, those with a space in single quotes."""
    parts = [rec.path, *(f"'{a}'" if " " in a else a for a in rec.args)] if rec.path else []
    return " ".join(parts)


def port_list(rec: ContainerRecord) -> list[dict[str, Any]]:
    """The list's Ports (and what ps's expose/publish filters look at): NetworkSettings.Ports only, as
    moby, so none for a stopped or --network none container."""
    ports: list[dict[str, Any]] = []
    bound = (rec.network or {}).get("Ports") or {} if rec.status in ("running", "paused") else {}
    for port in sorted(bound):
        num, _, proto = port.partition("/")
        if not num.isdigit():
            continue
        binds = bound.get(port) or []
        if not binds:
            ports.append({"PrivatePort": int(num), "Type": proto or "tcp"})
        for b in binds:
            ports.append({"IP": b.get("HostIp") or "0.0.0.0", "PrivatePort": int(num),
                          "PublicPort": int(b.get("HostPort") or 0), "Type": proto or "tcp"})
    return ports


def summary_json(rec: ContainerRecord, size: tuple[int, int] | None = None) -> dict[str, Any]:
    mode = rec.host_config.get("NetworkMode") or "bridge"
    net = rec.network or {}
    ports = port_list(rec)
    out: dict[str, Any] = {
        "Id": rec.id, "Names": [rec.name], "Image": rec.image, "ImageID": rec.image_id,
        "Command": _command(rec), "Created": rec.created_ns // 1_000_000_000, "Ports": ports,
        "Labels": dict(rec.config.get("Labels") or {}), "State": rec.status, "Status": status_text(rec),
        "HostConfig": {"NetworkMode": mode}, "NetworkSettings": {"Networks": net.get("Networks") or {mode: _endpoint()}},
        "Mounts": [{k: m.get(k) for k in ("Type", "Name", "Source", "Destination", "Driver", "Mode", "RW",
                                          "Propagation") if k in m} for m in rec.mounts],
    }
    if size is not None:
        out.update({k: v for k, v in zip(("SizeRw", "SizeRootFs"), size, strict=True) if v})  # omitempty in moby's list
    return out
