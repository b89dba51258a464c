"""What a backend run returns: every population's output at every step of every sample.

The same record comes out of the Lava simulator and out of the emulator, so the two can be compared
array by array (``deploy.compare``) and written as one ``snn_deploy.activity.Activity``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

BACKENDS = ("lava", "emulator")
DEVICES = ("cpu", "cuda")        #: where ``--device`` runs the emulator's torch engine
#: samples per backend call (bounds memory; Lava compiles once per call; the emulator measured 4,000
#: samples/s at 64 and 4,900 at 256 on benchmarks/emulator_vs_lava.py's network)
DEFAULT_BATCH = 256


@dataclass
class BackendRun:
    """Outputs of ``B`` samples run for ``num_steps`` = ``input_steps`` + pipeline flush steps each.

    ``spikes[name]``: uint8 ``[B, num_steps, N]`` for each spiking population;
    ``potentials[name]``: int64 ``[B, num_steps, N]`` for each non-spiking population (the readout).
    ``seconds`` is the wall time of the simulation itself (for Lava: without compilation).
    """

    backend: str
    input_steps: int
    num_steps: int
    spikes: dict[str, np.ndarray] = field(default_factory=dict)
    potentials: dict[str, np.ndarray] = field(default_factory=dict)
    seconds: float = 0.0
    setup_seconds: float = 0.0

    @property
    def num_samples(self) -> int:
        arrays = list(self.spikes.values()) + list(self.potentials.values())
        return int(arrays[0].shape[0]) if arrays else 0

    @property
    def seconds_per_step(self) -> float:
        steps = self.num_samples * self.num_steps
        return self.seconds / steps if steps else 0.0

    def firing_rates(self) -> dict[str, float]:
        """Mean spikes per neuron per step of each spiking population (flush steps included)."""
        return {name: float(s.mean()) if s.size else 0.0 for name, s in self.spikes.items()}

    @classmethod
    def concatenate(cls, parts: Sequence["BackendRun"]) -> "BackendRun":
        """One run of the samples of ``parts`` (runs of consecutive batches, alike in backend and steps);
        its times are the sums of theirs."""
        first = parts[0]
        return cls(
            backend=first.backend, input_steps=first.input_steps, num_steps=first.num_steps,
            spikes={k: np.concatenate([p.spikes[k] for p in parts]) for k in first.spikes},
            potentials={k: np.concatenate([p.potentials[k] for p in parts]) for k in first.potentials},
            seconds=sum(p.seconds for p in parts), setup_seconds=sum(p.setup_seconds for p in parts))

    def select(self, index: np.ndarray) -> "BackendRun":
        """The same run restricted to the samples ``index``."""
        return BackendRun(self.backend, self.input_steps, self.num_steps,
                          {k: v[index] for k, v in self.spikes.items()},
                          {k: v[index] for k, v in self.potentials.items()},
                          self.seconds, self.setup_seconds)
