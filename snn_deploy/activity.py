"""Measured activity of a network run: what ``deploy`` (Lava or emulator) writes and ``energy`` reads.

HDF5 layout (format ``snn-deploy-activity``, version 1)::

    /                       attrs: format, version, backend ("lava" | "emulator"), network_digest,
                                   num_steps (time steps run, input steps + pipeline flush), input_steps
    /sample_index  [S]      int64   index of each sample in its data split
    /labels        [S]      int64   true class
    /predictions   [S]      int64   predicted class
    /input         [S, T, C]        input given at each step (spike counts uint8, or graded float32)
    /spikes/<population>    [S, T, N] uint8   spikes of each spiking population, per step
    /potentials/<population>[S, T, N]         state of each non-spiking population (the readout), per step

``T`` is ``num_steps`` for every array. Populations are named as in the network IR; a reader checks
them against the network with ``check_matches``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Union

import h5py
import numpy as np

from snn_deploy.atomic import atomic_path
from snn_deploy.errors import FormatError
from snn_deploy.ir import Network, network_digest

FORMAT_TAG = "snn-deploy-activity"
FORMAT_VERSION = 1


@dataclass
class Activity:
    backend: str
    network_digest: str
    input_steps: int
    sample_index: np.ndarray
    labels: np.ndarray
    predictions: np.ndarray
    inputs: np.ndarray
    spikes: dict[str, np.ndarray] = field(default_factory=dict)
    potentials: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def num_samples(self) -> int:
        return int(self.labels.shape[0])

    @property
    def num_steps(self) -> int:
        return int(self.inputs.shape[1])

    @property
    def accuracy(self) -> Optional[float]:
        """Fraction of samples predicted right; None when the labels are unknown (negative)."""
        if self.num_samples == 0 or (np.asarray(self.labels) < 0).any():
            return None
        return float(np.mean(np.asarray(self.predictions) == np.asarray(self.labels)))

    def firing_rates(self) -> dict[str, float]:
        """Mean spikes per neuron per step of each spiking population (flush steps included)."""
        return {name: float(s.mean()) if s.size else 0.0 for name, s in self.spikes.items()}

    def check_matches(self, net: Network, source: str = "activity") -> None:
        """Raise FormatError unless this activity was recorded from ``net`` (same digest and shapes)."""
        digest = network_digest(net)
        if self.network_digest != digest:
            raise FormatError(
                f"{source}: recorded from network {self.network_digest}, but the given network is {digest} "
                "(activity and network do not belong together; re-run `snn-deploy run`)")
        expected = {p.name: p.size for p in net.neuron_nodes()}
        recorded = {**{k: v.shape[-1] for k, v in self.spikes.items()},
                    **{k: v.shape[-1] for k, v in self.potentials.items()}}
        if recorded != expected:
            raise FormatError(f"{source}: populations {recorded} do not match the network's {expected}")
        channels = net.inputs()[0].size
        if self.inputs.shape[-1] != channels:
            raise FormatError(f"{source}: input has {self.inputs.shape[-1]} channels, the network {channels}")


def save_activity(act: Activity, path: Union[str, Path]) -> Path:
    path = Path(path)
    s, t = act.num_samples, act.num_steps
    for group in (act.spikes, act.potentials):
        for name, arr in group.items():
            if arr.shape[:2] != (s, t):
                raise ValueError(f"population {name!r}: array shape {arr.shape} does not start with ({s}, {t})")
    with atomic_path(path) as tmp:
        with h5py.File(tmp, "w") as f:
            f.attrs.update(format=FORMAT_TAG, version=FORMAT_VERSION, backend=act.backend,
                           network_digest=act.network_digest, num_steps=t, input_steps=act.input_steps)
            f["sample_index"] = np.asarray(act.sample_index, dtype=np.int64)
            f["labels"] = np.asarray(act.labels, dtype=np.int64)
            f["predictions"] = np.asarray(act.predictions, dtype=np.int64)
            f.create_dataset("input", data=act.inputs, compression="gzip", compression_opts=1)
            for name, arr in act.spikes.items():
                f.create_dataset(f"spikes/{name}", data=arr.astype(np.uint8), compression="gzip", compression_opts=1)
            for name, arr in act.potentials.items():
                f.create_dataset(f"potentials/{name}", data=arr, compression="gzip", compression_opts=1)
    return path


def load_activity(path: Union[str, Path]) -> Activity:
    path = Path(path)
    if not path.exists():
        raise FormatError(f"{path}: no such activity file")
    try:
        with h5py.File(path, "r") as f:
            tag = f.attrs.get("format")
            if tag != FORMAT_TAG:
                raise FormatError(f"{path}: not an snn-deploy activity file (format tag {tag!r})")
            if int(f.attrs.get("version", -1)) != FORMAT_VERSION:
                raise FormatError(f"{path}: activity format version {f.attrs.get('version')!r}, expected {FORMAT_VERSION}")
            return Activity(
                backend=str(f.attrs["backend"]),
                network_digest=str(f.attrs["network_digest"]),
                input_steps=int(f.attrs["input_steps"]),
                sample_index=f["sample_index"][()],
                labels=f["labels"][()],
                predictions=f["predictions"][()],
                inputs=f["input"][()],
                spikes={k: v[()] for k, v in f.get("spikes", {}).items()},
                potentials={k: v[()] for k, v in f.get("potentials", {}).items()},
            )
    except (OSError, KeyError) as exc:
        raise FormatError(f"{path}: not a readable activity file ({exc})") from None
