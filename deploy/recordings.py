"""Where a Lava run records each population: one ``[num_steps, size]`` memory-mapped file each.

Lava-free, so the caller of a run (which never imports Lava) and the graph builder (in the Lava
worker) agree on the files: ``rec-<k>.bin`` for the k-th population of the network, spikes as
uint8, potentials as int32 (24-bit saturated state).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from snn_deploy.ir import Network

SPIKE_DTYPE = "uint8"
POTENTIAL_DTYPE = "int32"


def open_rows(path: str, num_steps: int, size: int, dtype: str, mode: str) -> np.ndarray:
    """The ``[num_steps, size]`` memory map shared between the caller and a Lava process model."""
    return np.memmap(path, dtype=np.dtype(dtype), mode=mode, shape=(num_steps, size))


@dataclass(frozen=True)
class Recording:
    population: str
    path: Path
    size: int
    dtype: str
    spiking: bool

    def create(self, num_steps: int) -> None:
        open_rows(str(self.path), num_steps, self.size, self.dtype, "w+").flush()

    def read(self, num_steps: int) -> np.ndarray:
        return np.array(open_rows(str(self.path), num_steps, self.size, self.dtype, "r"))


def recordings_for(net: Network, workdir: Path) -> list[Recording]:
    return [Recording(p.name, Path(workdir) / f"rec-{k:03d}.bin", p.size,
                      SPIKE_DTYPE if p.spiking else POTENTIAL_DTYPE, p.spiking)
            for k, p in enumerate(net.neuron_nodes())]
