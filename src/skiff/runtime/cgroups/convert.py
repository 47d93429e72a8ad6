"""v1 values -> v2 values, as runc's ``cgroups/utils.go`` converts them (runc 1.1 formulas).

The OCI spec speaks v1 (shares, memory+swap, blkio weight); a v2 kernel wants weights on another
scale and swap on its own. Pure functions, so the unit tests pin every edge.
"""

from __future__ import annotations

from skiff.errors import InvalidParameter

__all__ = ["blkio_weight_to_io_weight", "cpu_max", "shares_to_weight", "swap_to_v2"]


def shares_to_weight(shares: int) -> int:
    """cpu.shares [2, 262144] -> cpu.weight [1, 10000]; 0 stays 0 ("unset")."""
    if shares == 0:
        return 0
    return 1 + ((shares - 2) * 9999) // 262142


def blkio_weight_to_io_weight(weight: int) -> int:
    """blkio.weight [10, 1000] -> io.weight [1, 10000]; 0 stays 0 ("unset")."""
    if weight == 0:
        return 0
    return 1 + (weight - 10) * 9999 // 990


def swap_to_v2(memory_swap: int, memory: int) -> int:
    """OCI memory+swap -> memory.swap.max (swap alone). -1 is "max", 0 "unset"."""
    if memory == -1 and memory_swap == 0:
        return -1  # unlimited memory, swap not given: both unlimited, as on v1
    if memory_swap in (-1, 0):
        return memory_swap
    if memory in (0, -1):
        raise InvalidParameter("unable to set swap limit without memory limit")
    if memory < 0:
        raise InvalidParameter(f"invalid memory value: {memory}")
    if memory_swap < memory:
        raise InvalidParameter("memory+swap limit should be >= memory limit")
    return memory_swap - memory


def cpu_max(quota: int | None, period: int | None) -> str | None:
    """The cpu.max line, or None to leave it alone. Quota -1 (or unset) is "max"."""
    if not quota and not period:
        return None
    text = str(quota) if quota and quota > 0 else "max"
    if period:
        text += f" {period}"
    return text
