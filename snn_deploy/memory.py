"""How much memory is free, and a one-line refusal when a planned allocation would not fit.

Sizes that come from a user (options) or from a file (a checkpoint's config, a header) are checked
against the memory actually available *before* allocating, so a typo or a hostile file ends in one
``needs ~N GiB, M GiB available`` line instead of a swap storm or the OOM killer. Linux's
``MemAvailable`` (``/proc/meminfo``: free memory plus what the kernel can reclaim without swapping)
is the figure; where it cannot be read the check is skipped (no new dependency for other systems).
"""
from __future__ import annotations

from snn_deploy.errors import SnnDeployError

GIB = 1 << 30
MEMINFO = "/proc/meminfo"


def available_bytes() -> int | None:
    """``MemAvailable`` in bytes, or None where ``/proc/meminfo`` does not say."""
    try:
        with open(MEMINFO, encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024  # the kernel writes kB (KiB)
    except (OSError, ValueError, IndexError):
        return None
    return None


def gib(num_bytes: float) -> str:
    return f"{num_bytes / GIB:.3g} GiB" if num_bytes >= GIB / 100 else f"{num_bytes / GIB:.1g} GiB"


def check_fits(needed_bytes: float, what: str, available: int | None = None,
               error: type[SnnDeployError] = SnnDeployError) -> None:
    """Raise ``error("{what}: needs ~N GiB of memory, M GiB available")`` when it would not fit."""
    available = available_bytes() if available is None else available
    if available is not None and needed_bytes > available:
        raise error(f"{what}: needs ~{gib(needed_bytes)} of memory, {gib(available)} available")
