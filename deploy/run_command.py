"""``snn-deploy run OUT --data DIR``: run a converted network on Lava (or the emulator), record its activity.

Reads ``OUT/network.h5`` (the fixed IR written by ``snn-deploy convert``) and a data split, runs
every sample (in batches, state reset between samples), and writes

- ``OUT/activity.h5``: ``snn_deploy.activity.Activity`` (inputs, every population's spikes, the
  readout potentials, per sample and step, labels and predictions), read by ``snn-deploy energy``;
- ``OUT/run.json``: accuracy, per-layer firing rates, time per step, verification result.

``--verify N`` also runs the first N samples on the other backend and fails loudly on the first
value that differs (layer, neuron, step, sample). The output directory is locked while the command
runs and the two files are committed as one set (snn_deploy/outdir.py); OUT is settled first, so the
network read is never half of an interrupted convert.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

import numpy as np

from snn_deploy.activity import Activity, save_activity
from snn_deploy.deploy import plan
from snn_deploy.deploy.backends import check_target, default_backend, run_backend
from snn_deploy.deploy.compare import Agreement, VerificationError, compare_runs
from snn_deploy.deploy.records import BACKENDS, BackendRun
from snn_deploy.errors import SnnDeployError, UsageError
from snn_deploy.ir import Network, load_network, network_digest

NETWORK_FILE = "network.h5"
ACTIVITY_FILE = "activity.h5"
RUN_FILE = "run.json"
DEFAULT_BATCH = 128               #: samples per backend call (bounds memory; Lava compiles once per call)
DATA_KEYS = ("time_steps", "duration", "binary")


@dataclass
class RunOptions:
    out: Path
    data: Path
    split: str = "test"
    backend: Optional[str] = None
    target: Optional[str] = None
    limit: Optional[int] = None
    verify: int = 0
    batch: int = DEFAULT_BATCH
    time_steps: Optional[int] = None
    show_progress: bool = True
    output: Optional[Path] = None    #: where activity.h5 and run.json go (default: ``out``)
    force: bool = False              #: replace activity.h5/run.json run did not write; write into a foreign --output

    @property
    def output_dir(self) -> Path:
        return Path(self.output) if self.output is not None else Path(self.out)


@dataclass
class RunResult:
    backend: str
    samples: int
    accuracy: float
    firing_rates: dict[str, float]
    seconds_per_step: float
    seconds: float
    setup_seconds: float
    num_steps: int
    input_steps: int
    verification: Optional[dict[str, Any]] = None
    outputs: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def load_deployable(out: Path) -> Network:
    """The fixed IR of a converted OUT directory, checked deployable; clear errors otherwise."""
    out = Path(out)
    if not out.is_dir():
        raise SnnDeployError(f"{out}: no such directory (expected the OUT directory of `snn-deploy convert`)")
    net = load_network(out / NETWORK_FILE)
    plan.check_deployable(net)
    return net


def open_data(net: Network, opts: RunOptions):
    """The data split with the network's time steps / binning, checked against the network's input."""
    from snn_deploy.train.data import open_dataset

    data_opts = {k: net.meta[k] for k in DATA_KEYS if k in net.meta}
    if opts.time_steps is not None:
        data_opts["time_steps"] = int(opts.time_steps)
    if "time_steps" not in data_opts:
        raise SnnDeployError(
            f"{opts.out / NETWORK_FILE} does not record the time steps the model was trained with "
            "(meta 'time_steps'); pass --time-steps")
    ds = open_dataset(opts.data, opts.split, **data_opts)
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
        raise SnnDeployError(f"{ds.path}: split {opts.split!r} has no samples")
    return ds


def predict(net: Network, run: BackendRun) -> np.ndarray:
    """Predicted class per sample from the output population (the emulator's off-chip readout)."""
    from snn_deploy.convert.emulator import readout_predictions, readout_scale, readout_window

    out = net.output()
    trace = run.spikes[out.name] if out.spiking else run.potentials[out.name]
    first, stop = readout_window(net, run.input_steps)
    _, predictions = readout_predictions(trace, net.meta.get("readout", "cumsoftmax"),
                                         scale=readout_scale(net), first=first, stop=stop)
    return np.asarray(predictions, dtype=np.int64)


def run_command(opts: RunOptions, log: Callable[[str], None] = print) -> RunResult:
    """The whole ``run`` command (used by the CLI): see the module docstring."""
    from snn_deploy.outdir import output_dir, settle

    settle(opts.out, "run")
    net = load_deployable(opts.out)
    beside_network = opts.output is None or Path(opts.output).resolve() == Path(opts.out).resolve()
    with output_dir(opts.output_dir, "run", force=opts.force, names=(ACTIVITY_FILE, RUN_FILE),
                    shares_with=None if beside_network else ("convert",)) as out_set:
        return _run(net, opts, out_set, log)


def _run(net: Network, opts: RunOptions, out_set: Any, log: Callable[[str], None]) -> RunResult:
    from tqdm import tqdm

    from snn_deploy.convert.emulator import encode_inputs

    target = opts.target or str(net.meta.get("target", "loihi-sim"))
    check_target(target)
    backend = opts.backend or default_backend(net, target)
    if backend not in BACKENDS:
        raise UsageError(f"--backend: unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    ds = open_data(net, opts)
    n = len(ds) if opts.limit is None else min(int(opts.limit), len(ds))
    if n <= 0:
        raise UsageError(f"--limit must be positive, got {opts.limit}")
    if opts.verify < 0:
        raise UsageError(f"--verify must be >= 0, got {opts.verify}")
    batch = max(1, int(opts.batch))

    parts: list[BackendRun] = []
    frames: list[np.ndarray] = []
    t0 = time.perf_counter()
    with tqdm(total=n, desc=f"run ({backend})", unit="sample", disable=not opts.show_progress) as bar:
        for start in range(0, n, batch):
            idx = np.arange(start, min(n, start + batch))
            x = ds.frames_batch(idx)
            frames.append(x)
            parts.append(run_backend(backend, net, encode_inputs(net, x), progress=bar.update))
    run = _concat(parts)
    labels = np.asarray(ds.labels[:n], dtype=np.int64)
    predictions = predict(net, run)

    verification = None
    if opts.verify:
        verification = _verify(net, run, np.concatenate(frames)[:opts.verify], backend, opts.show_progress)

    result = RunResult(
        backend=backend, samples=n, accuracy=float((predictions == labels).mean()),
        firing_rates=run.firing_rates(), seconds_per_step=run.seconds_per_step, seconds=run.seconds,
        setup_seconds=run.setup_seconds, num_steps=run.num_steps, input_steps=run.input_steps,
        verification=verification)
    activity = Activity(
        backend=backend, network_digest=network_digest(net), input_steps=run.input_steps,
        sample_index=np.arange(n, dtype=np.int64), labels=labels, predictions=predictions,
        inputs=_padded_inputs(np.concatenate(frames), run.num_steps, ds.input_kind),
        spikes=run.spikes, potentials=run.potentials)
    result.outputs = [str(opts.output_dir / ACTIVITY_FILE), str(opts.output_dir / RUN_FILE)]
    record = {"command": "run", "network": str(opts.out / NETWORK_FILE), "network_digest": activity.network_digest,
              "data": str(opts.data), "split": opts.split, "target": target, **result.to_dict(),
              "wall_seconds": time.perf_counter() - t0}
    with out_set.staging() as tmp:
        save_activity(activity, tmp / ACTIVITY_FILE)
        (tmp / RUN_FILE).write_text(json.dumps(record, indent=2) + "\n")
    log(format_summary(result))
    if verification is not None and not verification["identical"]:
        raise VerificationError(f"verification FAILED on {verification['samples']} samples: {verification['first_difference']}")
    return result


def format_summary(r: RunResult) -> str:
    lines = [f"ran {r.samples} samples on {r.backend}: accuracy {100 * r.accuracy:.2f}%",
             f"steps per sample {r.num_steps} ({r.input_steps} input + {r.num_steps - r.input_steps} flush); "
             f"time per step {1e3 * r.seconds_per_step:.3f} ms ({r.seconds:.1f} s run, {r.setup_seconds:.1f} s setup)",
             "firing rates (spikes/neuron/step): " + ", ".join(f"{k} {v:.4f}" for k, v in r.firing_rates.items())]
    if r.verification is not None:
        v = r.verification
        lines.append(f"verify: {v['samples']} samples on {v['against']}: {v['summary']}")
    lines.append("wrote " + ", ".join(r.outputs))
    return "\n".join(lines)


def _verify(net: Network, run: BackendRun, frames: np.ndarray, backend: str, show_progress: bool) -> dict[str, Any]:
    from tqdm import tqdm

    from snn_deploy.convert.emulator import encode_inputs

    other = "emulator" if backend == "lava" else "lava"
    k = frames.shape[0]
    with tqdm(total=k, desc=f"verify ({other})", unit="sample", disable=not show_progress) as bar:
        check = run_backend(other, net, encode_inputs(net, frames), progress=bar.update)
    agreement: Agreement = compare_runs(run.select(np.arange(k)), check)
    first = agreement.first.describe(backend, other) if agreement.first else None
    return {"against": other, "samples": k, "identical": agreement.identical, "values_compared": agreement.compared_values,
            "spikes_compared": agreement.spikes_compared, "silent_layers": list(agreement.silent_layers),
            "first_difference": first, "summary": agreement.summary(backend, other)}


def _concat(parts: list[BackendRun]) -> BackendRun:
    first = parts[0]
    return BackendRun(
        backend=first.backend, input_steps=first.input_steps, num_steps=first.num_steps,
        spikes={k: np.concatenate([p.spikes[k] for p in parts]) for k in first.spikes},
        potentials={k: np.concatenate([p.potentials[k] for p in parts]) for k in first.potentials},
        seconds=sum(p.seconds for p in parts), setup_seconds=sum(p.setup_seconds for p in parts))


def _padded_inputs(x: np.ndarray, num_steps: int, kind: str) -> np.ndarray:
    """The data's input per step, zero during the flush steps (uint8 counts or float32 graded values)."""
    b, t, c = x.shape
    dtype = np.float32 if kind == "graded" else np.uint8
    out = np.zeros((b, num_steps, c), dtype)
    out[:, :t] = x if kind == "graded" else np.clip(x, 0, np.iinfo(np.uint8).max)
    return out
