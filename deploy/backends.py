"""Choose and run a backend: Lava's CPU simulator (``lava``) or the batched integer emulator (``emulator``).

Both return a ``records.BackendRun`` with every population's output at every step, so the command,
the verification and the benchmark treat them alike. Targets (``net.meta['target']``, written by
``snn-deploy convert``): ``loihi-sim`` runs on Lava by default, ``loihi-emu`` on the emulator;
``loihi2`` (the real chip) needs Intel's lava-loihi extension, which this checks for by import.
"""
from __future__ import annotations

import importlib.util
import sys
import time
from typing import Optional

import numpy as np

from snn_deploy.deploy.records import BACKENDS, DEFAULT_BATCH, BackendRun
from snn_deploy.deploy.runner import Progress, run_lava
from snn_deploy.errors import SnnDeployError
from snn_deploy.ir import DEFAULT_TARGET, TARGETS, Network

DEFAULT_BACKEND = {"loihi-sim": "lava", "loihi-emu": "emulator"}  #: per simulated target
EMULATOR_CHUNK = DEFAULT_BATCH                    #: samples per emulator call (memory stays bounded)


class HardwareUnavailable(SnnDeployError):
    """The real Loihi 2 was asked for, and Intel's lava-loihi extension is not installed."""


def check_target(target: str) -> None:
    """Raise a clear error for an unknown target, or for ``loihi2`` without lava-loihi."""
    if target not in TARGETS:
        raise SnnDeployError(f"unknown target {target!r}; choose one of {', '.join(TARGETS)}")
    if target == "loihi2" and not lava_loihi_installed():
        raise HardwareUnavailable(
            "target loihi2 runs on Intel's Loihi 2 chip, which needs Intel's lava-loihi extension "
            "(available to Intel Neuromorphic Research Community members) and it is not installed; "
            "use --target loihi-sim (Lava CPU simulator, bit-accurate) or loihi-emu (our emulator)")


class LavaMissing(SnnDeployError):
    """The Lava backend was asked for and Lava (the ``snn-deploy[lava]`` extra) is not installed."""


def lava_installed() -> bool:
    """Whether lava-nc is importable (checked without importing it)."""
    try:
        return importlib.util.find_spec("lava") is not None
    except (ImportError, ValueError):
        return False


def require_lava(why: str) -> None:
    """Raise :class:`LavaMissing` naming ``why`` (the option that asked for Lava) unless Lava is installed."""
    if not lava_installed():
        raise LavaMissing(
            f"{why}: Lava is not installed; lava-nc 0.10.0 and lava-dl 0.6.0 run on Python 3.10 only "
            f"(this is Python {sys.version_info.major}.{sys.version_info.minor}): on Python 3.10, "
            "pip install 'snn-deploy[lava]'; or use --backend emulator (the same integers, bit for bit)")


def lava_loihi_installed() -> bool:
    """Lava's own probe (``lava.utils.loihi.is_installed``: a module only lava-loihi ships)."""
    if not lava_installed():
        return False
    from lava.utils.loihi import is_installed

    return bool(is_installed())


def default_backend(net: Network, target: Optional[str] = None) -> str:
    """The backend for ``target`` (or the network's ``meta['target']``): lava for loihi-sim, else the emulator."""
    target = target or str(net.meta.get("target", DEFAULT_TARGET))
    check_target(target)
    if target == "loihi2":
        raise HardwareUnavailable("running on Loihi 2 hardware is not implemented by this snn-deploy")
    return DEFAULT_BACKEND[target]


def run_backend(name: str, net: Network, inputs: np.ndarray, *, progress: Optional[Progress] = None,
                device: Optional[str] = None) -> BackendRun:
    """Run integer ``inputs [B, T, C]`` through ``net`` on backend ``name`` (the emulator on ``device``)."""
    if name == "lava":
        require_lava("backend lava")
        return run_lava(net, inputs, progress=progress)
    if name == "emulator":
        return run_emulator(net, inputs, progress=progress, device=device)
    raise SnnDeployError(f"unknown backend {name!r}; choose one of {', '.join(BACKENDS)}")


def run_emulator(net: Network, inputs: np.ndarray, *, progress: Optional[Progress] = None,
                 chunk: Optional[int] = None, device: Optional[str] = None) -> BackendRun:
    """``convert.emulator.emulate`` in chunks of samples, as a ``BackendRun``.

    ``device`` (``cpu``, ``cuda``): the torch engine there (``convert.emulator_torch``), on the whole
    batch at once by default (a GPU wants big batches; the caller's batch bounds the memory); without
    it the numpy/compiled engine, ``EMULATOR_CHUNK`` samples per call by default.
    """
    from snn_deploy.convert.emulator import emulate

    inputs = np.asarray(inputs)
    chunk = chunk or (EMULATOR_CHUNK if device is None else max(1, inputs.shape[0]))
    parts = []
    for start in range(0, inputs.shape[0], chunk):
        t0 = time.perf_counter()
        emu = emulate(net, inputs[start:start + chunk], device=device)
        parts.append(BackendRun(backend="emulator", input_steps=emu.input_steps, num_steps=emu.num_steps,
                                spikes=emu.spikes, potentials=emu.potentials, seconds=time.perf_counter() - t0))
        if progress:
            progress(min(chunk, inputs.shape[0] - start))
    if not parts:
        raise SnnDeployError(f"no input to run (shape {inputs.shape})")
    return BackendRun.concatenate(parts)
