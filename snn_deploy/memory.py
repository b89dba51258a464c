"""Memory available to this process, and the one check made before any large allocation.

Sizes that come from outside (a file's claimed shape, ``--time-steps``, the length of a WAV) are
turned into bytes and compared with ``MemAvailable`` of ``/proc/meminfo`` (the kernel's estimate of
memory that can be allocated without swapping) before anything is allocated, so that a hostile or
mistaken size gives one line saying how much memory it would need instead of a MemoryError, a swap
storm or the OOM killer. Where ``/proc/meminfo`` does not exist (not Linux) the check is skipped.
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional, Type

from snn_deploy.errors import SnnDeployError

MEMINFO = Path("/proc/meminfo")
GIB = 1024 ** 3


def available_bytes() -> Optional[int]:
    """``MemAvailable`` in bytes, or None when the system does not report it."""
    try:
        for line in MEMINFO.read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024  # the kernel reports kB
    except (OSError, ValueError, IndexError):
        return None
    return None


def gib(nbytes: float) -> str:
    """``nbytes`` as GiB with a precision that keeps small figures readable."""
    value = nbytes / GIB
    return f"{value:.3g}" if value < 100 else f"{value:,.0f}"


def check_fits(nbytes: float, what: str, error: Type[SnnDeployError] = SnnDeployError, hint: str = "") -> None:
    """Raise ``error`` ("WHAT: needs ~N GiB of memory, M GiB available[; HINT]") unless ``nbytes`` fit."""
    free = available_bytes()
    if free is not None and nbytes > free:
        raise error(f"{what}: needs ~{gib(nbytes)} GiB of memory, {gib(free)} GiB available" + (f"; {hint}" if hint else ""))
