"""Process bookkeeping for the supervision of Lava runs (``deploy.runner``), Lava-free and Linux-first.

Lava 0.10 runs every process model in a forked process of its own, and its runtime waits for them
without a timeout: one that dies hangs the run for good. The runner therefore needs to see, from
outside, who is in the Lava worker's process group and whether one of them died and how; to make
processes die with their parent; and to find the temporary directories of runs whose caller died.

- ``group_members``/``read_proc``: ``/proc/PID/stat`` (state, parent, process group, session and,
  for a zombie, its wait status: field 52 ``exit_code``, Linux >= 3.5). A killed Lava process stays a
  zombie until the worker reaps it, which Lava does only when it stops, so its signal is known.
- ``die_with_parent``: ``prctl(PR_SET_PDEATHSIG, sig)``. The kernel sends ``sig`` when the parent
  (strictly: the thread that forked us) exits, however it exits, SIGKILL included; a process cannot
  miss it, unlike a pipe read or ``getppid()`` polling that needs a thread of its own. It cannot clean
  up after itself with SIGKILL, so it is for the Lava processes (nothing of theirs to clean); the
  worker, which owns the temporary directory, watches a pipe instead (``deploy.runner``).
- ``stale_workdirs``: our own temporary directories (``<prefix><caller pid>-*``, owned by this user,
  real directories) whose caller is dead: what a run killed together with its worker leaves behind.

Elsewhere than Linux (no ``/proc``) the helpers find nothing; the runner then falls back to its
stall timeout and to the caller's own cleanup.
"""
from __future__ import annotations

import ctypes
import os
import signal
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

PROC = Path("/proc")
PR_SET_PDEATHSIG = 1                 #: linux/prctl.h
ZOMBIE_STATES = ("Z", "X")
PID_MAX = 1 << 22                    #: Linux's largest pid_max
_STAT_EXIT_CODE = 49                 #: field 52 of /proc/PID/stat, counted from field 3 (after "(comm)")


@dataclass(frozen=True)
class ProcInfo:
    """One process as ``/proc/PID/stat`` shows it; ``wait_status`` is meaningful for a zombie only."""

    pid: int
    state: str
    ppid: int
    pgid: int
    sid: int
    wait_status: Optional[int] = None

    @property
    def dead(self) -> bool:
        return self.state in ZOMBIE_STATES

    def describe_death(self) -> str:
        """``signal 9`` or ``exit code 1``, from the zombie's wait status (``waitpid`` encoding)."""
        status = self.wait_status
        if status is None:
            return "unknown status"
        if status & 0x7F:
            return f"signal {status & 0x7F}"
        return f"exit code {(status >> 8) & 0xFF}"

    @property
    def failed(self) -> bool:
        """A dead process that was killed by a signal or exited non-zero (a zombie with status 0 ended normally)."""
        return self.dead and self.wait_status != 0


def read_proc(pid: int) -> Optional[ProcInfo]:
    """``pid`` as ``/proc`` shows it, or None if it is gone (or there is no ``/proc``)."""
    try:
        text = (PROC / str(pid) / "stat").read_text()
    except (OSError, ValueError):
        return None
    rest = text[text.rindex(")") + 2:].split()      # the command name may hold spaces and parentheses
    try:
        status = int(rest[_STAT_EXIT_CODE]) if len(rest) > _STAT_EXIT_CODE else None
        return ProcInfo(pid, rest[0], int(rest[1]), int(rest[2]), int(rest[3]), status)
    except (IndexError, ValueError):
        return None


def all_processes() -> list[ProcInfo]:
    """Every process ``/proc`` lists now (those that vanish while being read are skipped)."""
    try:
        names = os.listdir(PROC)
    except OSError:
        return []
    infos = (read_proc(int(n)) for n in names if n.isdigit())
    return [p for p in infos if p is not None]


def group_members(pgid: int) -> list[ProcInfo]:
    """The processes of process group ``pgid``, zombies included."""
    return [p for p in all_processes() if p.pgid == pgid]


def die_with_parent(sig: int = signal.SIGKILL, parent: Optional[int] = None) -> bool:
    """Ask the kernel to send ``sig`` to this process when its parent exits (Linux); False where unsupported.

    ``parent`` is the pid that forked us: if it already died before the request took effect (we were
    re-parented in between), exit now, as the signal would have made us.
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(PR_SET_PDEATHSIG, int(sig), 0, 0, 0) != 0:
            return False
    except (OSError, AttributeError):
        return False
    if parent is not None and os.getppid() != parent:
        os._exit(1)
    return True


def pid_alive(pid: int) -> bool:
    """Whether a process ``pid`` exists (a zombie counts as gone: it runs nothing any more)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True                 # someone else's: it exists
    info = read_proc(pid)
    return info is None or not info.dead


def stale_workdirs(root: Path, prefix: str) -> list[Path]:
    """Directories ``<root>/<prefix><pid>-*`` of this user whose creating process ``pid`` is gone."""
    stale = []
    try:
        entries = list(os.scandir(root))
    except OSError:
        return stale
    uid = os.getuid() if hasattr(os, "getuid") else None
    for entry in entries:
        if not entry.name.startswith(prefix):
            continue
        pid_text = entry.name[len(prefix):].split("-", 1)[0]
        if not pid_text.isdigit() or not 0 < int(pid_text) <= PID_MAX:
            continue                # not a name we make
        try:
            st = entry.stat(follow_symlinks=False)
        except OSError:
            continue
        if not entry.is_dir(follow_symlinks=False) or (uid is not None and st.st_uid != uid):
            continue
        if not pid_alive(int(pid_text)):
            stale.append(Path(entry.path))
    return stale
