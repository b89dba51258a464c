"""Small data sets in the published SHD/SSC HDF5 layout, written independently of snn_deploy.

``make_shd_dataset`` writes a small data set in the published SHD/SSC HDF5 layout
(``spikes/times``, ``spikes/units``, ``labels``, ``extra/keys``, ``extra/speaker``) with LEARNABLE
structure, so that training tests can assert on behaviour (accuracy well above chance):

- class ``k`` owns a band of channels centred on ``centre_k`` (bands are evenly spaced and do not
  overlap for the default sizes);
- inside its band a sample is a frequency sweep: the centre channel moves linearly over the
  sample's active window, upwards for even classes and downwards for odd ones;
- every sample has a random onset (the active window lasts about half of ``duration``), a random
  spread of each spike around the sweep, and uniform background noise spikes over all channels and
  the whole ``duration``.

Everything is drawn from one seeded ``numpy`` generator: the same arguments give the same bytes.
The helper writes with ``h5py`` directly (not through ``snn_deploy.train.data``), so tests of the
readers also check them against an independent writer.
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import h5py
import numpy as np

#: Default shape of the generated sets: small enough for training tests of a few seconds.
DEFAULT_CLASSES = 4
DEFAULT_CHANNELS = 40
DEFAULT_DURATION_S = 1.4
SWEEP_SPIKES = 40  # spikes on the class's sweep per sample
NOISE_SPIKES = 15  # uniform background spikes per sample
SPREAD_CHANNELS = 1.0  # std of a sweep spike around the sweep's centre channel
ACTIVE_FRACTION = 0.5  # the sweep lasts this fraction of the duration
SPLIT_SEED_OFFSET = {"train": 0, "valid": 1, "test": 2}


def class_sweep(k: int, num_classes: int, num_channels: int) -> tuple[float, float]:
    """(first, last) centre channel of class ``k``'s sweep."""
    band = num_channels / num_classes
    low, high = k * band + 0.25 * band, k * band + 0.75 * band
    return (low, high) if k % 2 == 0 else (high, low)


def generate_samples(
    num_samples: int,
    *,
    num_classes: int = DEFAULT_CLASSES,
    num_channels: int = DEFAULT_CHANNELS,
    duration: float = DEFAULT_DURATION_S,
    seed: int = 0,
) -> tuple[list[np.ndarray], list[np.ndarray], np.ndarray]:
    """``(times, units, labels)`` of ``num_samples`` samples (labels cycle over the classes)."""
    rng = np.random.default_rng(seed)
    labels = np.arange(num_samples) % num_classes
    rng.shuffle(labels)
    times, units = [], []
    active = ACTIVE_FRACTION * duration
    for k in labels:
        first, last = class_sweep(int(k), num_classes, num_channels)
        onset = rng.uniform(0.0, duration - active)
        phase = np.sort(rng.uniform(0.0, 1.0, SWEEP_SPIKES))
        t_sweep = onset + phase * active
        c_sweep = first + (last - first) * phase + rng.normal(0.0, SPREAD_CHANNELS, SWEEP_SPIKES)
        t_noise = rng.uniform(0.0, duration, NOISE_SPIKES)
        c_noise = rng.uniform(0, num_channels, NOISE_SPIKES)
        t = np.concatenate([t_sweep, t_noise])
        c = np.clip(np.floor(np.concatenate([c_sweep, c_noise])), 0, num_channels - 1)
        order = np.argsort(t, kind="stable")
        times.append(t[order].astype(np.float32))
        units.append(c[order].astype(np.uint16))
    return times, units, labels.astype(np.int64)


def write_shd_file(
    path: Path,
    times: Sequence[np.ndarray],
    units: Sequence[np.ndarray],
    labels: np.ndarray,
    class_names: Sequence[str],
    num_channels: int,
) -> Path:
    """Write one split in the published SHD layout (plus the ``spikes.attrs['num_channels']`` hint)."""
    n = len(labels)
    with h5py.File(path, "w") as f:
        spikes = f.create_group("spikes")
        spikes.attrs["num_channels"] = np.int64(num_channels)
        t_ds = spikes.create_dataset("times", (n,), dtype=h5py.vlen_dtype(np.dtype(np.float32)))
        u_ds = spikes.create_dataset("units", (n,), dtype=h5py.vlen_dtype(np.dtype(np.uint16)))
        for i in range(n):
            t_ds[i] = times[i]
            u_ds[i] = units[i]
        f.create_dataset("labels", data=np.asarray(labels, dtype=np.uint16))
        extra = f.create_group("extra")
        extra.create_dataset("speaker", data=np.zeros(n, np.uint16))
        extra.create_dataset("keys", data=list(class_names), dtype=h5py.string_dtype("utf-8"))
    return path


def make_shd_dataset(
    directory: Path,
    *,
    num_classes: int = DEFAULT_CLASSES,
    num_channels: int = DEFAULT_CHANNELS,
    train_per_class: int = 24,
    test_per_class: int = 8,
    valid_per_class: int = 0,
    duration: float = DEFAULT_DURATION_S,
    seed: int = 0,
) -> Path:
    """Write ``train.h5``, ``test.h5`` (and ``valid.h5`` if ``valid_per_class``) into ``directory``."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    class_names = [f"class{k}" for k in range(num_classes)]
    sizes = {"train": train_per_class, "valid": valid_per_class, "test": test_per_class}
    for split, per_class in sizes.items():
        if per_class <= 0:
            continue
        times, units, labels = generate_samples(
            per_class * num_classes, num_classes=num_classes, num_channels=num_channels,
            duration=duration, seed=seed * 10 + SPLIT_SEED_OFFSET[split],
        )
        write_shd_file(directory / f"{split}.h5", times, units, labels, class_names, num_channels)
    return directory
