"""The network package's import rules, checked on the source: pyroute2 only in netlink.py, drivers
never import each other, and skiff.network imports nothing of Skiff above sys/oci/errors."""

from __future__ import annotations

import ast
from pathlib import Path

import skiff.network

ROOT = Path(skiff.network.__file__).parent
SRC = ROOT.parent


def imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{a.name}" for a in node.names)
    return found


def test_only_netlink_imports_pyroute2() -> None:
    offenders = [str(p.relative_to(SRC)) for p in SRC.rglob("*.py")
                 if p != ROOT / "netlink.py" and any(m.split(".")[0] == "pyroute2" for m in imports(p))]
    assert offenders == []


def test_drivers_never_import_each_other() -> None:
    drivers = {p.stem for p in (ROOT / "drivers").glob("*.py") if p.stem != "__init__"}
    for p in (ROOT / "drivers").glob("*.py"):
        others = {f"skiff.network.drivers.{d}" for d in drivers - {p.stem}}
        assert not (imports(p) & others), p.name


def test_network_imports_only_sys_oci_errors() -> None:
    allowed = ("skiff.network", "skiff.sys", "skiff.oci", "skiff.errors")
    for p in ROOT.rglob("*.py"):
        bad = [m for m in imports(p) if m.startswith("skiff") and not m.startswith(allowed)]
        assert bad == [], (p.name, bad)
