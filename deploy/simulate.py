"""``snn_deploy.run(network, inputs | data=..., backend=...)``: run a fixed network, get its ``Activity`` in memory.

The run as a library function (``snn-deploy run`` calls ``simulate`` and writes activity.h5 and
run.json; nothing here writes a file). The network is a fixed ``Network``, the ``Conversion``
``snn_deploy.convert`` returns, a ``snn-deploy convert`` OUT directory or a network .h5 file. The
inputs are either an array of frames ``[samples, steps, channels]`` (spike counts, or graded values
for a graded-input network) with optional ``labels``, or ``data=`` a data directory / SHD-layout .h5
and its ``split``, binned as the network was trained.

Samples run in batches of ``batch`` with state reset between samples, on ``backend``
"emulator" (batched integer emulator) or "lava" (Lava's CPU simulator; Lava is imported only then).
``verify=N`` also runs the first N samples on the other backend and compares every value.
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import numpy as np

from snn_deploy import layout
from snn_deploy.activity import Activity
from snn_deploy.deploy import plan
from snn_deploy.deploy.backends import check_target, default_backend, require_lava, run_backend
from snn_deploy.deploy.compare import Agreement, VerificationError, compare_runs
from snn_deploy.deploy.records import BACKENDS, DEFAULT_BATCH, BackendRun
from snn_deploy.errors import FormatError, SnnDeployError, UsageError
from snn_deploy.ir import DEFAULT_READOUT, Network, load_network, network_digest
from snn_deploy.memory import check_fits

NETWORK_FILE = layout.NETWORK
DATA_KEYS = ("time_steps", "duration", "binary")
UNKNOWN_LABEL = -1                #: label of an input given without labels (accuracy is then None)


@dataclass
class Simulation:
    """What ``simulate`` returns: the activity, the backends' raw run (timings) and the verification."""

    activity: Activity
    backend_run: BackendRun
    target: str
    verification: Optional[dict[str, Any]] = None
    wall_seconds: float = 0.0


def load_deployable(source: Any) -> Network:
    """The fixed network of ``source`` (Network, Conversion, OUT directory or .h5), checked deployable."""
    where = None                      # the file, for the messages of the register check
    if isinstance(source, Network):
        net = source
    elif isinstance(getattr(source, "network", None), Network):       # a convert.pipeline.Conversion
        net = source.network
    elif isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if path.is_file():
            net, where = load_network(path), path
        elif path.is_dir():
            net, where = load_network(path / NETWORK_FILE), path / NETWORK_FILE
        else:
            raise SnnDeployError(f"{path}: no such directory (expected the OUT directory of `snn-deploy convert`)")
    else:
        raise SnnDeployError(f"cannot run a {type(source).__name__}: give a fixed Network, the result of "
                             "snn_deploy.convert, or a `snn-deploy convert` OUT directory")
    plan.check_deployable(net, source=where)
    return net


def open_split(net: Network, data: Any, split: str, time_steps: Optional[int] = None, source: str = "the network"):
    """The data split with the network's time steps / binning, checked against the network's input."""
    from snn_deploy.train.data import open_dataset

    data_opts = {k: net.meta[k] for k in DATA_KEYS if k in net.meta}
    if time_steps is not None:
        if time_steps < 1:
            raise UsageError(f"--time-steps must be >= 1, got {time_steps}")
        data_opts["time_steps"] = int(time_steps)
        check_run_fits(net, int(time_steps), 1, time_steps_option=True, source=source)
    if "time_steps" not in data_opts:
        raise SnnDeployError(
            f"{source} does not record the time steps the model was trained with "
            "(meta 'time_steps'); pass --time-steps")
    ds = open_dataset(data, split, **data_opts)
    inp = net.inputs()[0]
    if ds.num_channels != inp.size:
        raise SnnDeployError(
            f"{ds.path}: the data has {ds.num_channels} input channels, the network {inp.size} "
            f"(input {inp.name!r}); this network was not trained on this data")
    if ds.input_kind != inp.encoding:
        raise SnnDeployError(f"{ds.path}: the data is {ds.input_kind}, the network's input expects {inp.encoding}")
    classes = int(net.meta.get("num_classes", net.output().size))
    if ds.num_classes != classes:
        raise SnnDeployError(f"{ds.path}: {ds.num_classes} classes, the network predicts {classes}")
    if len(ds) == 0:
        raise SnnDeployError(f"{ds.path}: split {split!r} has no samples")
    return ds


#: Bytes per sample, step and input channel a run keeps (float32 frames, the activity's input copy)
#: and per sample, step and neuron (uint8 spikes); a lower bound, so that the check never refuses what fits.
RUN_BYTES_PER_INPUT = 4 + 1
RUN_BYTES_PER_NEURON = 1


def check_run_fits(net: Network, time_steps: int, samples: int, *, time_steps_option: bool, source: str) -> None:
    """Refuse a run whose recording cannot fit in memory, before any of it is allocated.

    A run keeps every sample's frames and activity: ``samples x steps x (5 C + N)`` bytes at least,
    ``steps`` the input steps plus the pipeline flush. Blames ``--time-steps`` (exit 2) when it was
    given, else ``source`` (the network file whose meta set the steps).
    """
    steps = net.num_steps(time_steps)
    per_step = RUN_BYTES_PER_INPUT * net.inputs()[0].size + RUN_BYTES_PER_NEURON * sum(p.size for p in net.neuron_nodes())
    if time_steps_option:
        what, error = f"--time-steps {time_steps}", UsageError
    else:
        what, error = f"{source}: meta time_steps {time_steps}", FormatError
    check_fits(float(samples) * steps * per_step, f"{what}: recording {samples} sample(s) x {steps} steps", error)


class _ArrayFrames:
    """An in-memory input array, served like a data split (``frames_batch``, ``labels``)."""

    def __init__(self, net: Network, frames: Any, labels: Any) -> None:
        x = np.asarray(frames)
        channels = net.inputs()[0].size
        if x.ndim != 3 or x.shape[-1] != channels or x.shape[0] == 0:
            raise SnnDeployError(f"inputs: expected frames [samples, steps, {channels}], got shape {x.shape}")
        self.frames, self.input_kind = x, net.inputs()[0].encoding
        self.labels = (np.full(x.shape[0], UNKNOWN_LABEL, np.int64) if labels is None
                       else np.asarray(labels, dtype=np.int64))
        if self.labels.shape != (x.shape[0],):
            raise SnnDeployError(f"labels: expected shape ({x.shape[0]},), got {self.labels.shape}")

    def __len__(self) -> int:
        return int(self.frames.shape[0])

    def frames_batch(self, idx: np.ndarray) -> np.ndarray:
        return self.frames[idx]


def predict(net: Network, run: BackendRun) -> np.ndarray:
    """Predicted class per sample from the output population (the off-chip readout, ``convert.readout``)."""
    from snn_deploy.convert.readout import readout_predictions, readout_scale

    out = net.output()
    trace = run.spikes[out.name] if out.spiking else run.potentials[out.name]
    first, stop = net.readout_window(run.input_steps)
    _, predictions = readout_predictions(trace, net.meta.get("readout", DEFAULT_READOUT),
                                         scale=readout_scale(net), first=first, stop=stop)
    return np.asarray(predictions, dtype=np.int64)


def simulate(network: Any, inputs: Any = None, *, labels: Any = None, data: Any = None, split: str = "test",
             backend: Optional[str] = None, target: Optional[str] = None, limit: Optional[int] = None,
             verify: int = 0, batch: int = DEFAULT_BATCH, time_steps: Optional[int] = None,
             progress: bool = True, device: Optional[str] = None) -> Simulation:
    """Run ``network`` on ``inputs`` (or ``data``'s ``split``); see the module docstring.

    ``backend`` defaults to the target's (lava for loihi-sim, the emulator for loihi-emu);
    ``target`` to the network's (``meta['target']`` from convert). ``device`` (``cpu``, ``cuda``)
    runs the emulator on torch tensors there, in batches of ``batch``. A failed verification is
    reported in ``Simulation.verification`` (``identical`` False), not raised: the caller decides.
    """
    from snn_deploy.convert.emulator import encode_inputs
    from snn_deploy.log import logger, progress_bar

    net = load_deployable(network)
    target = target or str(net.meta.get("target", "loihi-sim"))
    check_target(target)
    asked_backend = backend          # a device alone asks for the emulator (it runs nothing else)
    backend = backend or ("emulator" if device is not None else default_backend(net, target))
    if backend not in BACKENDS:
        raise UsageError(f"--backend: unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    if device is not None:                # a usage error comes before what the machine lacks
        check_device_option(device, backend)
    if backend == "lava":
        require_lava("--backend lava" if asked_backend else f"target {target} (runs on Lava by default)")
    elif verify:
        require_lava("--verify (runs the other backend, Lava)")
    if (inputs is None) == (data is None):
        raise SnnDeployError("give either inputs (an array of frames) or data (a data directory), not both or neither")
    source = "the network"
    if isinstance(network, (str, os.PathLike)):
        source = str(Path(network) / NETWORK_FILE) if Path(network).is_dir() else str(network)
    ds = _ArrayFrames(net, inputs, labels) if inputs is not None else open_split(net, data, split, time_steps, source)
    n = len(ds) if limit is None else min(int(limit), len(ds))
    if n <= 0:
        raise UsageError(f"--limit must be positive, got {limit}")
    if verify < 0:
        raise UsageError(f"--verify must be >= 0, got {verify}")
    batch = max(1, int(batch))
    if inputs is None:
        check_run_fits(net, ds.time_steps, n, time_steps_option=time_steps is not None, source=source)
    logger.debug(f"run: {n} samples on {backend} (target {target}) in batches of {batch}")

    parts: list[BackendRun] = []
    frames: list[np.ndarray] = []
    t0 = time.perf_counter()
    with progress_bar(n, f"run ({backend})", enabled=progress, unit="sample") as bar:
        for start in range(0, n, batch):
            idx = np.arange(start, min(n, start + batch))
            x = ds.frames_batch(idx)
            frames.append(x)
            parts.append(run_backend(backend, net, encode_inputs(net, x), progress=bar.update, device=device))
    run = BackendRun.concatenate(parts)
    all_frames = np.concatenate(frames)
    verification = _verify(net, run, all_frames[:verify], backend, progress) if verify else None
    activity = Activity(
        backend=backend, network_digest=network_digest(net), input_steps=run.input_steps,
        sample_index=np.arange(n, dtype=np.int64), labels=np.asarray(ds.labels[:n], dtype=np.int64),
        predictions=predict(net, run), inputs=_padded_inputs(all_frames, run.num_steps, ds.input_kind),
        spikes=run.spikes, potentials=run.potentials)
    return Simulation(activity, run, target, verification, time.perf_counter() - t0)


def check_device_option(device: str, backend: str) -> None:
    """``--device`` runs the emulator's torch engine: a usage error with Lava, or for a device this
    machine lacks (``--device cuda`` without CUDA), before any data is read."""
    from snn_deploy.convert.emulator_torch import check_device

    if backend != "emulator":
        raise UsageError(f"--device {device}: the device runs the emulator (--backend emulator); "
                         f"backend {backend} runs on Lava's CPU simulator")
    check_device(device, "--device")


def run(network: Any, inputs: Any = None, **options: Any) -> Activity:
    """``simulate`` for the Python API: the ``Activity``; a failed ``verify`` raises VerificationError."""
    sim = simulate(network, inputs, **options)
    v = sim.verification
    if v is not None and not v["identical"]:
        raise VerificationError(f"verification FAILED on {v['samples']} samples: {v['first_difference']}")
    return sim.activity


def _verify(net: Network, run: BackendRun, frames: np.ndarray, backend: str, progress: bool) -> dict[str, Any]:
    from snn_deploy.convert.emulator import encode_inputs
    from snn_deploy.log import progress_bar

    other = "emulator" if backend == "lava" else "lava"
    k = frames.shape[0]
    with progress_bar(k, f"verify ({other})", enabled=progress, unit="sample") as bar:
        check = run_backend(other, net, encode_inputs(net, frames), progress=bar.update)
    agreement: Agreement = compare_runs(run.select(np.arange(k)), check)
    first = agreement.first.describe(backend, other) if agreement.first else None
    return {"against": other, "samples": k, "identical": agreement.identical, "values_compared": agreement.compared_values,
            "spikes_compared": agreement.spikes_compared, "silent_layers": list(agreement.silent_layers),
            "first_difference": first, "summary": agreement.summary(backend, other)}


def _padded_inputs(x: np.ndarray, num_steps: int, kind: str) -> np.ndarray:
    """The data's input per step, zero during the flush steps (uint8 counts or float32 graded values)."""
    b, t, c = x.shape
    dtype = np.float32 if kind == "graded" else np.uint8
    out = np.zeros((b, num_steps, c), dtype)
    out[:, :t] = x if kind == "graded" else np.clip(x, 0, np.iinfo(np.uint8).max)
    return out
