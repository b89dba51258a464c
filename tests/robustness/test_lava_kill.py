"""A killed Lava run leaves nothing behind, and a killed Lava process fails the run within seconds.

``run --backend lava`` runs Lava in a worker process of its own session; Lava forks about ten more.
Killing the caller with SIGKILL must take all of them down and remove the run's temporary
directory (the worker watches a pipe from the caller; Lava's processes die with the worker);
killing one Lava process must fail the run at once with one line naming it (not hang for the
600 s stall timeout). Each test starts the CLI in a session of its own with a fresh TMPDIR, waits
until the input source has stepped (the run is under way), kills, and checks.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from clitools import CliResult, assert_one_line_error, cli_env

pytest.importorskip("lava.magma.core.process.process")

from snn_deploy.deploy import processes  # noqa: E402
from snn_deploy.deploy.runner import STEP_FILE, WORKDIR_PREFIX  # noqa: E402

pytestmark = pytest.mark.lava

LONG_STEPS = "3000"        #: input steps per sample: the run is still stepping when we kill it
START_TIMEOUT_S = 90       #: CLI start-up + Lava compile on a loaded 2-core machine
GONE_WITHIN_S = 5


def _start_run(pipeline, tmp_path: Path) -> tuple[subprocess.Popen, Path]:
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir(exist_ok=True)
    # output into files, not pipes: a pipe would also wait for every process that inherited it
    with open(tmp_path / "stdout.txt", "w") as stdout, open(tmp_path / "stderr.txt", "w") as stderr:
        proc = subprocess.Popen(
            [sys.executable, "-m", "snn_deploy", "run", str(pipeline.out), "--data", str(pipeline.data), "--backend",
             "lava", "--limit", "2", "--time-steps", LONG_STEPS, "--no-progress", "--output", str(tmp_path / "o")],
            env=cli_env(TMPDIR=str(tmpdir)), start_new_session=True, stdout=stdout, stderr=stderr)
    return proc, tmpdir


def _result(proc: subprocess.Popen, tmp_path: Path) -> CliResult:
    return CliResult(proc.returncode, (tmp_path / "stdout.txt").read_text(), (tmp_path / "stderr.txt").read_text())


def _wait_until_stepping(proc: subprocess.Popen, tmpdir: Path) -> tuple[int, list[int]]:
    """Wait until the input source has run a step; return the worker's pid and its live Lava processes."""
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        assert proc.poll() is None, "the run ended before it could be killed"
        for step_file in tmpdir.glob(f"{WORKDIR_PREFIX}{proc.pid}-*/{STEP_FILE}"):
            try:
                step = int(np.fromfile(step_file, np.int64, count=1)[0])
            except (OSError, IndexError, ValueError):
                continue
            workers = [p.pid for p in processes.all_processes() if p.ppid == proc.pid and p.sid == p.pid]
            if step >= 1 and workers:
                lava = [p.pid for p in processes.group_members(workers[0]) if p.pid != workers[0] and not p.dead]
                return workers[0], lava
        time.sleep(0.05)
    raise AssertionError("the Lava run did not start stepping in time")


def _alive_in_sessions(*sids: int) -> list[processes.ProcInfo]:
    """Live processes of these sessions (zombies run nothing: only a non-reaping init keeps them listed)."""
    return [p for p in processes.all_processes() if p.sid in sids and not p.dead]


def _left(tmpdir: Path) -> list[str]:
    """What is in the run's TMPDIR: its working directory, and the pymp-* folder of its worker's multiprocessing."""
    return sorted(p.name for p in tmpdir.iterdir())


def _kill_leftovers(*pgids: int) -> None:
    for pgid in pgids:
        try:
            os.killpg(pgid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


def test_sigkill_of_the_caller_leaves_no_process_and_no_temporary_directory(pipeline, tmp_path):
    proc, tmpdir = _start_run(pipeline, tmp_path)
    worker = proc.pid
    try:
        worker, lava = _wait_until_stepping(proc, tmpdir)
        assert len(lava) >= 3, lava                      # Lava's processes are running
        assert any(name.startswith(WORKDIR_PREFIX) for name in _left(tmpdir)), "no working directory"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        deadline = time.monotonic() + GONE_WITHIN_S
        while (_alive_in_sessions(proc.pid, worker) or _left(tmpdir)) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _alive_in_sessions(proc.pid, worker) == [], "processes outlived the killed run"
        assert _left(tmpdir) == [], "temporary files outlived the killed run"
        assert not (tmp_path / "o" / "activity.h5").exists()
    finally:
        _kill_leftovers(proc.pid, worker)


def test_a_killed_lava_process_fails_the_run_within_seconds_naming_it(pipeline, tmp_path):
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    dead = subprocess.Popen(["true"])
    dead.wait()
    stale = tmpdir / f"{WORKDIR_PREFIX}{dead.pid}-left"      # a run whose caller died with its worker
    live = tmpdir / f"{WORKDIR_PREFIX}{os.getpid()}-running"   # a run of a live caller (this process)
    foreign = tmpdir / "snn-deploy-lava-notes"                  # not a name we make
    for d in (stale, live, foreign):
        d.mkdir()
        (d / "input.bin").write_bytes(b"x")
    proc, _ = _start_run(pipeline, tmp_path)
    worker = proc.pid
    try:
        worker, lava = _wait_until_stepping(proc, tmpdir)
        victim = lava[len(lava) // 2]
        os.kill(victim, signal.SIGKILL)
        t0 = time.monotonic()
        proc.wait(timeout=60)
        took = time.monotonic() - t0
        assert_one_line_error(_result(proc, tmp_path), f"Lava process {victim} died (signal 9) during step", code=1)
        assert took < GONE_WITHIN_S, f"the dead Lava process was noticed after {took:.1f} s"
        deadline = time.monotonic() + GONE_WITHIN_S
        while _alive_in_sessions(proc.pid, worker) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _alive_in_sessions(proc.pid, worker) == []
        assert _left(tmpdir) == sorted([foreign.name, live.name])   # ours and the stale one removed, only those
    finally:
        _kill_leftovers(proc.pid, worker)
