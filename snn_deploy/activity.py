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

from snn_deploy import h5schema as schema
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
        for pop in net.neuron_nodes():
            if (pop.name in self.spikes) != pop.spiking:
                raise FormatError(
                    f"{source}: population {pop.name!r} is recorded under "
                    f"'{'spikes' if pop.name in self.spikes else 'potentials'}', expected "
                    f"'{'spikes' if pop.spiking else 'potentials'}' for model {pop.model}")
        inp = net.inputs()[0]
        if self.inputs.shape[-1] != inp.size:
            raise FormatError(f"{source}: input has {self.inputs.shape[-1]} channels, the network {inp.size}")
        if inp.encoding == "spikes" and self.inputs.dtype.kind not in schema.INTEGER:
            raise FormatError(f"{source}: 'input' holds {self.inputs.dtype}, expected integer spike counts "
                              f"(the network's input {inp.name!r} takes spikes)")


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


#: Steps a recording may hold: far beyond any real run, small enough that S x T x N stays an int64.
MAX_STEPS = 10 ** 9
#: Largest input spike count per step and channel: the file stores counts as uint8.
MAX_INPUT_COUNT = int(np.iinfo(np.uint8).max)


def load_activity(path: Union[str, Path]) -> Activity:
    """Read an activity file, checked against its schema first; every problem is one FormatError line.

    Schema (see the module docstring): format tag and version 1; ``backend`` and ``network_digest``
    text; ``1 <= input_steps <= num_steps``; ``sample_index``, ``labels``, ``predictions`` 1-D
    integers of one length S; ``input`` and every population ``[S, num_steps, N]``; spike rasters
    hold 0/1, integer inputs 0..255 (spike counts), floating-point arrays finite values. Every
    dataset must be stored whole in the file and fit in the memory available before it is read.
    """
    path = Path(path)
    if not path.is_file():
        raise FormatError(f"{path}: no such activity file")
    try:
        with h5py.File(path, "r") as f:
            return _read_activity(f, path)
    except (OSError, RuntimeError, KeyError, ValueError) as exc:  # h5py's reports of corrupt or truncated data
        raise FormatError(f"{path}: not a readable activity file ({exc})") from None


def _read_activity(f: h5py.File, path: Path) -> Activity:
    tag = f.attrs.get("format")
    if (tag.decode("utf-8", "replace") if isinstance(tag, bytes) else tag) != FORMAT_TAG:
        raise FormatError(f"{path}: not an snn-deploy activity file (format tag {tag!r})")
    version = f.attrs.get("version")
    if not isinstance(version, (int, np.integer)) or isinstance(version, (bool, np.bool_)) or version != FORMAT_VERSION:
        raise FormatError(f"{path}: activity format version {version!r}, expected {FORMAT_VERSION}")
    backend = schema.attr_str(f.attrs, "backend", path)
    digest = schema.attr_str(f.attrs, "network_digest", path)
    num_steps = schema.attr_int(f.attrs, "num_steps", path, lo=1, hi=MAX_STEPS)
    input_steps = schema.attr_int(f.attrs, "input_steps", path, lo=1, hi=num_steps)

    records = {name: schema.require_dataset(f, name, path) for name in ("sample_index", "labels", "predictions")}
    for ds in records.values():
        schema.check_array(ds, path, kinds=schema.INTEGER, ndim=1)
    samples = records["sample_index"].shape[0]
    rasters = {"input": schema.require_dataset(f, "input", path)}
    for group in ("spikes", "potentials"):
        item = f.get(group, {})
        if not isinstance(item, (h5py.Group, dict)):
            raise FormatError(f"{path}: '{group}' is a dataset, expected a group of populations")
        rasters.update({f"{group}/{name}": schema.require_dataset(item, name, path) for name in item})
    for name, ds in rasters.items():
        schema.check_array(ds, path, kinds=schema.NUMBER, ndim=3)
    for name, ds in {**records, **rasters}.items():
        if ds.shape[0] != samples:
            raise FormatError(f"{path}: '{name}' holds {ds.shape[0]} samples, 'sample_index' {samples}: "
                              "expected one count of samples in every array")
    for name, ds in rasters.items():
        if ds.shape[1] != num_steps:
            raise FormatError(f"{path}: '{name}' holds {ds.shape[1]} steps, expected num_steps = {num_steps}")
    schema.check_memory([*records.values(), *rasters.values()], path)

    values = {name: ds[()] for name, ds in {**records, **rasters}.items()}
    for name, arr in values.items():
        schema.check_finite(arr, path, name)
    for name, arr in values.items():
        if name.startswith("spikes/"):
            schema.check_range(arr, path, name, 0, 1)
        elif name == "input" and arr.dtype.kind in schema.INTEGER:
            schema.check_range(arr, path, name, 0, MAX_INPUT_COUNT)
    return Activity(
        backend=backend, network_digest=digest, input_steps=input_steps,
        sample_index=values["sample_index"], labels=values["labels"], predictions=values["predictions"],
        inputs=values["input"],
        spikes={k.split("/", 1)[1]: v for k, v in values.items() if k.startswith("spikes/")},
        potentials={k.split("/", 1)[1]: v for k, v in values.items() if k.startswith("potentials/")},
    )
