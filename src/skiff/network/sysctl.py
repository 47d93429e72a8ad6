"""Kernel settings Skiff changes on the host, journaled so they can be put back.

Only what networking needs is touched: ``net.ipv4.ip_forward`` (egress and published ports between
namespaces) and ``net.bridge.bridge-nf-call-iptables`` (so bridged traffic meets the FORWARD rules
that enforce ``enable_icc=false`` and un-NAT hairpin replies). The value found before the first
change is written to a JSON journal, so ``restore_all`` works after a daemon restart too.
Per-link settings (``route_localnet`` on a Skiff bridge) go away with the link and are not journaled.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

from skiff.network.netns import read_sysctl, write_sysctl

__all__ = ["SysctlJournal"]


class SysctlJournal:
    def __init__(self, path: Path) -> None:
        self._path = Path(path)
        self._lock = threading.Lock()
        self._saved: dict[str, str] = json.loads(self._path.read_text()) if self._path.exists() else {}

    def _save(self) -> None:
        self._path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self._path.with_name(self._path.name + ".tmp")
        tmp.write_text(json.dumps(self._saved, indent=1, sort_keys=True))
        os.replace(tmp, self._path)

    def set(self, key: str, value: str) -> None:
        """Set a host sysctl, remembering the original value the first time."""
        with self._lock:
            if not os.path.exists("/proc/sys/" + key.replace(".", "/")):
                return
            if read_sysctl(key) == value:
                return
            old = write_sysctl(key, value)
            if key not in self._saved:
                self._saved[key] = old
                self._save()

    def restore_all(self) -> None:
        """Put back every value Skiff changed (idempotent)."""
        with self._lock:
            for key, old in list(self._saved.items()):
                try:
                    write_sysctl(key, old)
                except OSError:
                    pass
                del self._saved[key]
            self._save()

    def changed(self) -> dict[str, str]:
        with self._lock:
            return dict(self._saved)
