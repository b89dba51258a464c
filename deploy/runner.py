"""Run samples of a fixed IR on Lava's CPU simulator and record every population at every step.

All samples of a call run in ONE Lava run, one window of ``T + pipeline_depth`` steps per sample
(``graph.build_graph`` restarts every window from zero state), in chunks of a few samples, so that
progress is reported and a stop request is honoured between chunks. Inputs and recordings move
through memory-mapped files in a private temporary directory (Lava's Var.get/set move one value per
message, far too slow for rasters).

Supervision (Lava 0.10 can hang for good when a process model raises or one of its processes
dies, and leaves its processes orphaned when its host dies):

- Lava runs in a worker process forked from the caller, in a session of its own (``os.setsid``):
  every Lava process is in the worker's process group, and a terminal's Ctrl-C reaches only us.
- The worker stops Lava in a ``finally``; it reports progress, errors and timings through a pipe,
  and says ``stopping`` before it stops Lava (from then on Lava's processes may exit).
- Our process models never raise inside Lava: they write the error into the working directory and
  keep stepping; the worker checks after every chunk and stops with that message.
- The caller waits on the pipe. On SIGINT/SIGTERM it asks the worker to stop after its current
  chunk, then raises KeyboardInterrupt. If the worker dies, stalls for ``stall_timeout`` seconds or
  does not stop within ``STOP_GRACE_S``, its whole process group is killed.
- A dead Lava process fails the run within a second, not after the stall timeout: every process
  forked in the worker writes its pid into ``lava-pids.txt`` at birth (``os.register_at_fork``), and
  every ``WATCH_S`` the caller looks them up (``deploy.processes``); one killed by a signal, exited
  non-zero or gone before the worker said ``stopping`` is reported with its pid, its signal (known
  while it is a zombie: Lava reaps its processes only when it stops, ``multiprocessing`` also when it
  starts another) and the time step the input source had reached (``step.bin``).
- Nothing outlives a killed caller. The worker holds the read end of a pipe whose only write end is
  the caller's (the "lifeline"); the kernel closes it however the caller dies, SIGKILL included.
  A thread of the worker blocks on it and then kills the worker's process group and removes the
  working directory. Every Lava process asks the kernel to SIGKILL it when the worker dies
  (``PR_SET_PDEATHSIG``, set at fork): a worker killed outright takes its Lava processes with it.
  A pipe, not ``PR_SET_PDEATHSIG``, for the worker itself: a signal the worker could catch would
  interrupt Lava's runtime mid-call, and one it cannot catch (SIGKILL) leaves the directory behind.
- Working directories are named ``snn-deploy-lava-<caller pid>-*``; each run first removes those of
  this user whose caller is dead (a caller and worker killed together, e.g. by the OOM killer).
  Lava's ``SharedMemoryManager`` puts its socket in a ``pymp-*`` folder of ``multiprocessing``, which
  only a normal exit removes: the worker makes its own (``MP_TEMPDIR_FILE`` names it), and it goes
  wherever the working directory goes. (Not inside it: a socket path must stay under 108 bytes.)
- The resource tracker of ``multiprocessing`` is started here, before the fork, so it outlives a
  killed worker and unlinks any shared memory the killed Lava processes leave behind.
"""
from __future__ import annotations

import contextlib
import functools
import multiprocessing
import multiprocessing.util
import os
import shutil
import signal
import sys
import tempfile
import threading
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, Optional

import numpy as np

from snn_deploy.deploy import plan, processes
from snn_deploy.deploy.records import BackendRun
from snn_deploy.errors import SnnDeployError
from snn_deploy.ir import Network

SELECT_TAG = "fixed_pt"            #: never None: that silently selects Lava's floating-point models
DEFAULT_CHUNK_STEPS = 2000         #: steps per Lava run() call: progress / stop-request granularity
DEFAULT_STALL_TIMEOUT_S = 600.0    #: no progress message for this long: the Lava run is declared hung
STOP_GRACE_S = 30.0                #: how long a stop request may take before the worker is killed
POLL_S = 0.2
WATCH_S = 0.5                      #: how often the caller looks for dead Lava processes
WORKDIR_PREFIX = "snn-deploy-lava-"
STEP_FILE = "step.bin"             #: the time step the input source has reached (int64, written every step)
PIDS_FILE = "lava-pids.txt"        #: every process forked in the worker appends its pid here at birth
MP_TEMPDIR_FILE = "mp-tempdir.txt"  #: the worker's multiprocessing folder (pymp-*), removed with ours
ERROR_GLOB = "error-*.txt"
LAVA_MP_MODULE = "lava.magma.runtime.message_infrastructure.multiprocessing"         #: written by our process models (lava_procs.models) on failure

Progress = Callable[[int], None]   #: called with the number of samples just finished


class LavaRunError(SnnDeployError):
    """Lava failed while running the network (a process model raised, or the runtime broke or hung).

    ``details`` holds the full traceback when there is one; the message is one line.
    """

    def __init__(self, message: str, details: str = "") -> None:
        super().__init__(message)
        self.details = details


@dataclass(frozen=True)
class _Job:
    net: Network
    workdir: Path
    window: int
    batch: int
    samples_per_chunk: int
    input_max: int


def run_lava(net: Network, inputs: np.ndarray, *, progress: Optional[Progress] = None,
             chunk_steps: int = DEFAULT_CHUNK_STEPS,
             stall_timeout: float = DEFAULT_STALL_TIMEOUT_S) -> BackendRun:
    """Run ``inputs`` (integers ``[B, T, C]``) through ``net`` on Lava; return every population's output.

    Each sample runs for ``T + plan.pipeline_depth(net)`` steps (the emulator's ``S``).
    """
    plan.check_deployable(net)
    inputs = _check_inputs(net, inputs)
    batch, steps_in, _ = inputs.shape
    window = steps_in + plan.pipeline_depth(net)
    remove_stale_workdirs()
    with _workdir() as workdir:
        _write_inputs(workdir / "input.bin", inputs, window)
        _step_counter(workdir, "w+").flush()
        job = _Job(net, workdir, window, batch, max(1, chunk_steps // window), int(inputs.max()))
        timing = _supervise(job, progress, stall_timeout)
        run = BackendRun(backend="lava", input_steps=steps_in, num_steps=window,
                         seconds=timing["run"], setup_seconds=timing["setup"])
        from snn_deploy.deploy.recordings import recordings_for

        for rec in recordings_for(net, workdir):
            rows = rec.read(batch * window).reshape(batch, window, rec.size)
            if rec.spiking:
                run.spikes[rec.population] = rows.astype(np.uint8)
            else:
                run.potentials[rec.population] = rows.astype(np.int64)
    return run


def _check_inputs(net: Network, inputs: np.ndarray) -> np.ndarray:
    inputs = np.asarray(inputs)
    channels = net.inputs()[0].size
    if inputs.ndim != 3 or inputs.shape[2] != channels:
        raise SnnDeployError(
            f"inputs of shape {inputs.shape} do not fit the network: expected [samples, steps, {channels}]")
    if inputs.shape[0] == 0 or inputs.shape[1] == 0:
        raise SnnDeployError(f"no input to run (shape {inputs.shape})")
    if not np.issubdtype(inputs.dtype, np.integer) and not np.all(inputs == np.round(inputs)):
        raise SnnDeployError("Lava runs integer inputs; encode the data with the network's input encoding first")
    info = np.iinfo(np.int32)
    if inputs.min() < info.min or inputs.max() > info.max:
        raise SnnDeployError("inputs do not fit in int32")
    return inputs.astype(np.int32)


def _write_inputs(path: Path, inputs: np.ndarray, window: int) -> None:
    from snn_deploy.deploy.recordings import open_rows

    batch, steps_in, channels = inputs.shape
    rows = open_rows(str(path), batch * window, channels, "int32", "w+")
    view = rows.reshape(batch, window, channels)
    view[:, :steps_in] = inputs
    view[:, steps_in:] = 0
    rows.flush()
    del rows, view


# ---- caller side --------------------------------------------------------------------------------

def _supervise(job: _Job, progress: Optional[Progress], stall_timeout: float) -> dict[str, float]:
    from multiprocessing import resource_tracker

    resource_tracker.ensure_running()
    ctx = multiprocessing.get_context("fork")
    recv, send = ctx.Pipe(duplex=False)
    stop = ctx.Event()
    life_read, life_write = os.pipe()      # the lifeline: EOF in the worker when we die
    worker = ctx.Process(target=_worker_main, args=(job, send, stop, (life_read, life_write)),
                         name="snn-deploy-lava", daemon=False)
    ended: list[bool] = []      # set when the worker said its last word (it is exiting by itself)
    with _signals_to(stop) as interrupted:
        try:
            worker.start()
        finally:
            os.close(life_read)
        send.close()
        try:
            return _wait(worker, recv, stop, progress, stall_timeout, interrupted, ended, job)
        finally:
            _end_worker(worker, grace=STOP_GRACE_S if ended else 0.0)
            recv.close()
            os.close(life_write)


def _wait(worker, recv, stop, progress, stall_timeout, interrupted, ended: list, job: _Job) -> dict[str, float]:
    last = time.monotonic()
    stop_sent: Optional[float] = None
    watching = True             # until the worker says it is stopping Lava
    next_watch = time.monotonic() + WATCH_S
    while True:
        if watching and time.monotonic() >= next_watch:
            next_watch = time.monotonic() + WATCH_S
            dead = _dead_lava_process(worker.pid, job)
            if dead is not None and not recv.poll(0):   # else ``stopping`` (or an error) came first: read it
                raise dead
        if interrupted() and stop_sent is None:
            stop.set()
            stop_sent = time.monotonic()
        if stop_sent is not None and time.monotonic() - stop_sent > STOP_GRACE_S:
            raise KeyboardInterrupt
        message = None
        if recv.poll(POLL_S):
            try:
                message = recv.recv()
            except EOFError:
                message = None
        if message is None:
            if not worker.is_alive() and not recv.poll(0):
                if stop_sent is not None:
                    raise KeyboardInterrupt
                raise LavaRunError(f"the Lava worker process died (exit code {worker.exitcode}) without a result")
            if time.monotonic() - last > stall_timeout:
                raise LavaRunError(f"Lava made no progress for {stall_timeout:.0f} s; the run was killed")
            continue
        last = time.monotonic()
        kind, payload = message
        if kind not in ("progress", "stopping"):
            ended.append(True)
        if kind == "stopping":
            watching = False
        elif kind == "progress":
            if progress:
                progress(payload)
        elif kind == "done":
            if stop_sent is not None:
                raise KeyboardInterrupt
            return payload
        elif kind == "stopped":
            raise KeyboardInterrupt
        elif kind == "error":
            summary, details = payload
            raise LavaRunError(summary, details)


def _dead_lava_process(pgid: int, job: _Job) -> Optional[LavaRunError]:
    """The error for a process forked in the worker (``PIDS_FILE``) that was killed, exited non-zero or is gone.

    Valid only if the worker has not said ``stopping`` (until then no Lava process ends by itself):
    the caller looks at the pipe AFTER this scan, so a normal exit it saw is explained by a message
    already there. A pid no longer in the worker's process group is gone (reaped, or even reused).
    """
    try:
        pids = [int(line) for line in (job.workdir / PIDS_FILE).read_text().split()]
    except (OSError, ValueError):
        return None
    for pid in pids:
        proc = processes.read_proc(pid)
        if proc is None or proc.pgid != pgid:
            return LavaRunError(f"Lava process {pid} died {_step_text(job)} (it was reaped before its exit status "
                                "could be read); the run was stopped")
        if proc.failed:
            return LavaRunError(f"Lava process {pid} died ({proc.describe_death()}) {_step_text(job)}; "
                                "the run was stopped")
    return None


def _step_text(job: _Job) -> str:
    try:
        step = int(_step_counter(job.workdir, "r")[0, 0])
    except (OSError, ValueError):
        step = 0
    total = job.batch * job.window
    return f"during step {step} of {total}" if step else f"while Lava was starting (before step 1 of {total})"


def _step_counter(workdir: Path, mode: str) -> np.ndarray:
    from snn_deploy.deploy.recordings import open_rows

    return open_rows(str(workdir / STEP_FILE), 1, 1, "int64", mode)


def remove_stale_workdirs() -> list[Path]:
    """Remove the working directories of runs whose caller died (this user's, our prefix only)."""
    stale = processes.stale_workdirs(Path(tempfile.gettempdir()), WORKDIR_PREFIX)
    for path in stale:
        remove_workdir(path)
    return stale


def _end_worker(worker, grace: float) -> None:
    """Join the worker (``grace`` seconds); then kill its process group (every Lava process) if anything is left."""
    worker.join(timeout=grace)
    pgid = worker.pid
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)   # no-op when the group is already empty
    worker.join(timeout=5.0)


@contextlib.contextmanager
def _signals_to(stop) -> Iterator[Callable[[], bool]]:
    """While Lava runs, SIGINT/SIGTERM only set a flag (a second one still interrupts at once)."""
    caught: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield lambda: False
        return

    def handler(signum, frame):  # noqa: ARG001 - signal handler signature
        caught.append(signum)
        if len(caught) > 1:
            raise KeyboardInterrupt

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield lambda: bool(caught)
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


@contextlib.contextmanager
def _workdir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix=f"{WORKDIR_PREFIX}{os.getpid()}-"))
    try:
        yield path
    finally:
        remove_workdir(path)


# ---- worker side (runs in the forked process) ---------------------------------------------------

def _worker_main(job: _Job, send, stop, lifeline: tuple[int, int]) -> None:
    os.setsid()
    life_read, life_write = lifeline
    os.close(life_write)                             # the caller's end: only the caller may hold it
    _die_with_caller(life_read, job.workdir)
    os.register_at_fork(before=_remember_forker,
                        after_in_child=functools.partial(_lava_process_born, job.workdir / PIDS_FILE))
    _own_multiprocessing_tempdir(job.workdir)
    signal.signal(signal.SIGINT, signal.SIG_IGN)     # the caller decides; Lava's processes inherit this
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    try:
        send.send(_worker_run(job, send, stop))
    except BaseException as exc:  # report everything: the caller turns it into one clear error
        with contextlib.suppress(Exception):
            send.send(("error", (f"Lava run failed: {type(exc).__name__}: {exc}", traceback.format_exc())))
    finally:
        send.close()


def _own_multiprocessing_tempdir(workdir: Path) -> None:
    """Give the worker a ``pymp-*`` folder of its own (not the caller's, inherited through the fork) and
    write its path into the working directory, so that whoever removes that directory removes it too."""
    # multiprocessing keeps the folder in the private ``_config`` of the process (so since Python 3.4)
    multiprocessing.process.current_process()._config.pop("tempdir", None)
    (workdir / MP_TEMPDIR_FILE).write_text(multiprocessing.util.get_temp_dir())


def remove_workdir(workdir: Path) -> None:
    """Remove a working directory and the worker's ``pymp-*`` folder it names (a sibling in the temp folder)."""
    with contextlib.suppress(OSError, ValueError):
        mp_dir = Path((workdir / MP_TEMPDIR_FILE).read_text())
        if mp_dir.name.startswith("pymp-") and mp_dir.parent == workdir.parent:
            shutil.rmtree(mp_dir, ignore_errors=True)
    shutil.rmtree(workdir, ignore_errors=True)


def _die_with_caller(life_read: int, workdir: Path) -> None:
    """A thread that waits for the caller's death (EOF on the lifeline), then removes the working
    directory and kills this process group: Lava's processes, and the worker itself."""

    def watch() -> None:
        with contextlib.suppress(OSError):
            while os.read(life_read, 1):
                pass
        me = os.getpid()
        for proc in processes.group_members(os.getpgid(0)):
            if proc.pid != me:
                with contextlib.suppress(OSError):
                    os.kill(proc.pid, signal.SIGKILL)
        remove_workdir(workdir)
        os.killpg(0, signal.SIGKILL)

    threading.Thread(target=watch, name="snn-deploy-lifeline", daemon=True).start()


_forker: list[int] = []


def _remember_forker() -> None:
    """``os.register_at_fork(before=...)``: the pid of the process about to fork (read by the child)."""
    _forker[:] = [os.getpid()]


def _lava_process_born(pids_file: Path) -> None:
    """In every process Lava forks from the worker: SIGKILL when the worker dies (``PR_SET_PDEATHSIG``);
    and its pid appended to ``pids_file`` (one short ``O_APPEND`` write: atomic), for the caller's watch."""
    processes.die_with_parent(signal.SIGKILL, parent=_forker[0] if _forker else None)
    with contextlib.suppress(OSError):
        fd = os.open(pids_file, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, f"{os.getpid()}\n".encode())
        finally:
            os.close(fd)


def _prepare_lava_import() -> None:
    """Lava calls ``multiprocessing.set_start_method('fork')`` when first imported, which raises once
    anything (a tqdm bar's lock, for one) has fixed the default context. Reset it in this worker."""
    if LAVA_MP_MODULE not in sys.modules:
        multiprocessing.set_start_method(None, force=True)


def _worker_run(job: _Job, send, stop) -> tuple[str, object]:
    _prepare_lava_import()
    from lava.magma.core.run_conditions import RunSteps
    from lava.magma.core.run_configs import Loihi2SimCfg

    from snn_deploy.deploy.graph import build_graph

    t0 = time.perf_counter()
    graph = build_graph(job.net, window=job.window, num_steps=job.batch * job.window,
                        input_path=job.workdir / "input.bin", workdir=job.workdir, input_max=job.input_max,
                        step_path=job.workdir / STEP_FILE)
    cfg = Loihi2SimCfg(select_tag=SELECT_TAG)
    timing = {"setup": 0.0, "run": 0.0}
    root = graph.root
    try:
        done = 0
        while done < job.batch:
            n = min(job.samples_per_chunk, job.batch - done)
            steps = n * job.window
            t1 = time.perf_counter()
            if done == 0:
                # compile and start on one step, so that compilation is not counted as run time
                root.run(condition=RunSteps(num_steps=1), run_cfg=cfg)
                timing["setup"] = time.perf_counter() - t0
                t1 = time.perf_counter()
                steps -= 1
            if steps:
                root.run(condition=RunSteps(num_steps=steps), run_cfg=cfg)
            timing["run"] += time.perf_counter() - t1
            errors = sorted(job.workdir.glob(ERROR_GLOB))
            if errors:
                text = errors[0].read_text()
                lines = [line for line in text.splitlines() if line.strip()]
                return "error", (f"a Lava process failed: {lines[0]} {lines[-1]}", text)
            done += n
            send.send(("progress", n))
            if stop.is_set() and done < job.batch:
                return "stopped", done
    finally:
        with contextlib.suppress(Exception):     # from here on Lava's processes exit: the caller stops watching
            send.send(("stopping", None))
        root.stop()
    return "done", timing
