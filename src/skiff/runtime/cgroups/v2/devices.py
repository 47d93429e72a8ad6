"""Device rules on cgroup v2, where there is no devices.allow: a BPF_CGROUP_DEVICE program.

Not implemented yet: the rules are NOT enforced on v2. ``apply_device_rules`` says so once on the
log (warning) instead of failing every container; the container still gets only the device nodes
its spec creates, but could mknod others if it has CAP_MKNOD.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from skiff.runtime.specconv_resources import DeviceRule

__all__ = ["apply_device_rules", "restricts"]

log = logging.getLogger(__name__)


def restricts(rules: Sequence[DeviceRule]) -> bool:
    """True when the rules deny something (anything but a plain "allow all")."""
    return any(not r.allow for r in rules)


def apply_device_rules(path: str, rules: Sequence[DeviceRule]) -> None:
    if restricts(rules):
        log.warning("cgroup v2 device rules are not enforced (no BPF device program yet) for %s", path)
