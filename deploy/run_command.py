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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

from snn_deploy import layout
from snn_deploy.activity import save_activity
from snn_deploy.deploy.compare import VerificationError
from snn_deploy.deploy.records import DEFAULT_BATCH
from snn_deploy.deploy.simulate import NETWORK_FILE, load_deployable, simulate

ACTIVITY_FILE = layout.ACTIVITY
RUN_FILE = layout.RUN_RECORD


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
    device: Optional[str] = None     #: the emulator on torch on this device (default: numpy/compiled on the CPU)

    @property
    def output_dir(self) -> Path:
        return Path(self.output) if self.output is not None else Path(self.out)


@dataclass
class RunRecord:
    """What run.json holds of a run (with the command's inputs), and what ``run_command`` returns."""

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


def run_command(opts: RunOptions, log: Callable[[str], None] = print) -> RunRecord:
    """The whole ``run`` command (used by the CLI): ``simulate.simulate``, then activity.h5 and run.json
    committed as one set into the locked output directory; see the module docstring."""
    from snn_deploy.outdir import output_dir, settle

    settle(opts.out, "run")
    load_deployable(opts.out)        # a missing or undeployable network fails before the output is touched
    beside_network = opts.output is None or Path(opts.output).resolve() == Path(opts.out).resolve()
    with output_dir(opts.output_dir, "run", force=opts.force, names=(ACTIVITY_FILE, RUN_FILE),
                    shares_with=None if beside_network else ("convert",)) as out_set:
        return _run(opts, out_set, log)


def _run(opts: RunOptions, out_set: Any, log: Callable[[str], None]) -> RunRecord:
    sim = simulate(opts.out, data=opts.data, split=opts.split, backend=opts.backend, target=opts.target,
                   limit=opts.limit, verify=opts.verify, batch=opts.batch, time_steps=opts.time_steps,
                   progress=opts.show_progress, device=opts.device)
    run, activity, verification = sim.backend_run, sim.activity, sim.verification
    result = RunRecord(
        backend=activity.backend, samples=activity.num_samples, accuracy=float(activity.accuracy),
        firing_rates=run.firing_rates(), seconds_per_step=run.seconds_per_step, seconds=run.seconds,
        setup_seconds=run.setup_seconds, num_steps=run.num_steps, input_steps=run.input_steps,
        verification=verification)
    result.outputs = [str(opts.output_dir / ACTIVITY_FILE), str(opts.output_dir / RUN_FILE)]
    record = {"command": "run", "network": str(opts.out / NETWORK_FILE), "network_digest": activity.network_digest,
              "data": str(opts.data), "split": opts.split, "target": sim.target, "device": opts.device,
              **result.to_dict(),
              "wall_seconds": sim.wall_seconds}
    with out_set.staging() as tmp:
        save_activity(activity, tmp / ACTIVITY_FILE)
        (tmp / RUN_FILE).write_text(json.dumps(record, indent=2) + "\n")
    log(format_summary(result))
    if verification is not None and not verification["identical"]:
        raise VerificationError(f"verification FAILED on {verification['samples']} samples: {verification['first_difference']}")
    return result


def format_summary(r: RunRecord) -> str:
    lines = [f"ran {r.samples} samples on {r.backend}: accuracy {100 * r.accuracy:.2f}%",
             f"steps per sample {r.num_steps} ({r.input_steps} input + {r.num_steps - r.input_steps} flush); "
             f"time per step {1e3 * r.seconds_per_step:.3f} ms ({r.seconds:.1f} s run, {r.setup_seconds:.1f} s setup)",
             "firing rates (spikes/neuron/step): " + ", ".join(f"{k} {v:.4f}" for k, v in r.firing_rates.items())]
    if r.verification is not None:
        v = r.verification
        lines.append(f"verify: {v['samples']} samples on {v['against']}: {v['summary']}")
    lines.append("wrote " + ", ".join(r.outputs))
    return "\n".join(lines)
