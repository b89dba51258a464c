"""Compare two backend runs bit for bit and name the first difference (layer, neuron, step, sample)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np

from snn_deploy.deploy.records import BackendRun
from snn_deploy.errors import SnnDeployError


class VerificationError(SnnDeployError):
    """Two backends disagree on the same network and samples."""


@dataclass(frozen=True)
class Difference:
    population: str
    kind: str            #: "spikes" or "potentials"
    sample: int          #: position in the compared batch
    step: int
    neuron: int
    left: int
    right: int

    def describe(self, left: str, right: str, sample_index: Optional[np.ndarray] = None) -> str:
        sample = int(sample_index[self.sample]) if sample_index is not None else self.sample
        what = "spike" if self.kind == "spikes" else "potential"
        return (f"first differing {what}: layer {self.population!r}, neuron {self.neuron}, step {self.step}, "
                f"sample {sample}: {left} gives {self.left}, {right} gives {self.right}")


@dataclass(frozen=True)
class Agreement:
    """Result of ``compare_runs``: ``first`` is None when every value of every population agrees."""

    first: Optional[Difference]
    compared_values: int
    spikes_compared: int          #: spikes (ones) seen in the left run, the guard against empty runs
    silent_layers: tuple[str, ...] = ()   #: spiking populations with no spike in the left run

    @property
    def identical(self) -> bool:
        return self.first is None

    def summary(self, left: str = "left", right: str = "right", sample_index: Optional[np.ndarray] = None) -> str:
        """One line: ``identical``, qualified when layers stayed silent (their agreement proves little), or
        the first difference. ``identical`` itself is not changed by silent layers."""
        if self.first is not None:
            return "DIFFERENT: " + self.first.describe(left, right, sample_index)
        text = "identical (every spike of every layer, every readout potential)"
        if self.silent_layers:
            text += (f", but no spikes occurred in layer{'s' if len(self.silent_layers) > 1 else ''} "
                     f"{', '.join(self.silent_layers)}")
        return text


def compare_runs(left: BackendRun, right: BackendRun) -> Agreement:
    """Exact comparison of every recorded population, in network order (spikes, then potentials)."""
    if (left.input_steps, left.num_steps) != (right.input_steps, right.num_steps):
        raise VerificationError(
            f"runs cover different steps: {left.backend} {left.input_steps}+{left.num_steps - left.input_steps}, "
            f"{right.backend} {right.input_steps}+{right.num_steps - right.input_steps}")
    first: Optional[Difference] = None
    values = 0
    for kind in ("spikes", "potentials"):
        a_all, b_all = getattr(left, kind), getattr(right, kind)
        if set(a_all) != set(b_all):
            raise VerificationError(f"{kind} recorded for different populations: {sorted(a_all)} vs {sorted(b_all)}")
        for name in a_all:
            a, b = np.asarray(a_all[name]), np.asarray(b_all[name])
            if a.shape != b.shape:
                raise VerificationError(f"layer {name!r}: {kind} shapes differ, {a.shape} vs {b.shape}")
            values += a.size
            diff = np.argwhere(a.astype(np.int64) != b.astype(np.int64))
            if diff.size:
                # earliest (sample, step), then lowest neuron: the first difference in time
                sample, step, neuron = (int(v) for v in diff[np.lexsort((diff[:, 2], diff[:, 1], diff[:, 0]))][0])
                cand = Difference(name, kind, sample, step, neuron, int(a[sample, step, neuron]),
                                  int(b[sample, step, neuron]))
                if first is None or (cand.sample, cand.step) < (first.sample, first.step):
                    first = cand
    per_layer = {name: int(np.asarray(s).sum()) for name, s in left.spikes.items()}
    silent = tuple(name for name, n in per_layer.items() if n == 0)
    return Agreement(first=first, compared_values=values, spikes_compared=sum(per_layer.values()),
                     silent_layers=silent)
