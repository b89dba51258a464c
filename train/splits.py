"""The three splits of a training run: train, valid (a file, or carved from train, seeded) and test.

``load_splits`` opens them with the run's binning and checks that they agree (channels, classes,
input kind); ``carve_validation`` is also what ``evaluate_checkpoint`` uses to find a run's carved
validation split again.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from snn_deploy.errors import SnnDeployError
from snn_deploy.train.config import TrainConfig


@dataclass
class DataSplits:
    """The three splits as (data set, sample indices into it); valid may be carved from train."""

    train: Any
    train_indices: np.ndarray
    valid: Any
    valid_indices: np.ndarray
    test: Any
    test_indices: np.ndarray
    valid_source: str
    data_dir: str

    @property
    def num_channels(self) -> int:
        return int(self.train.num_channels)

    @property
    def num_classes(self) -> int:
        return int(self.train.num_classes)

    def meta(self, cfg: TrainConfig) -> dict[str, Any]:
        """The metadata every checkpoint of this run carries."""
        return {
            "num_channels": self.num_channels,
            "num_classes": self.num_classes,
            "class_names": [str(c) for c in self.train.class_names],
            "input_kind": str(self.train.input_kind),
            "time_steps": int(cfg.time_steps),
            "duration": float(cfg.duration),
            "binary": bool(cfg.binary),
            "dataset": self.data_dir,
            "valid_source": self.valid_source,
            "samples": {
                "train": int(len(self.train_indices)),
                "valid": int(len(self.valid_indices)),
                "test": int(len(self.test_indices)),
            },
        }


def carve_validation(num_samples: int, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Seeded split of ``range(num_samples)`` into (train, valid) index arrays, both sorted."""
    if not 0.0 < fraction < 1.0:
        raise SnnDeployError(f"valid_fraction must be in (0, 1) to carve a validation split, got {fraction}")
    if num_samples < 2:
        raise SnnDeployError(f"cannot carve a validation split from {num_samples} training sample(s); add valid.h5")
    n_valid = min(num_samples - 1, max(1, int(round(fraction * num_samples))))
    perm = np.random.default_rng(seed).permutation(num_samples)
    return np.sort(perm[n_valid:]), np.sort(perm[:n_valid])


def _check_compatible(reference: Any, other: Any) -> None:
    for attr in ("num_channels", "num_classes", "input_kind"):
        a, b = getattr(reference, attr), getattr(other, attr)
        if a != b:
            raise SnnDeployError(f"{other.path}: {attr} is {b}, but {reference.path} has {a}; the splits must match")


def load_splits(data_dir: str | os.PathLike, cfg: TrainConfig) -> DataSplits:
    """Open train, test and valid (or carve valid from train); checks that the splits agree."""
    from snn_deploy.train.data import open_dataset

    if Path(data_dir).is_file():
        raise SnnDeployError(
            f"{data_dir}: training needs a data directory holding the splits (train.h5 and test.h5, optionally "
            "valid.h5, or an HD/Speech Commands folder), not a single file: one file would serve as train, "
            "validation and test at once")
    opts = dict(time_steps=cfg.time_steps, duration=cfg.duration, binary=cfg.binary)
    train = open_dataset(data_dir, "train", **opts)
    if len(train) == 0:
        raise SnnDeployError(f"{train.path}: the training split has no samples")
    test = open_dataset(data_dir, "test", **opts)
    _check_compatible(train, test)
    try:
        valid = open_dataset(data_dir, "valid", **opts)
    except SnnDeployError as exc:
        if "no 'valid' split" not in str(exc):
            raise
        valid = None
    if valid is not None and len(valid) > 0:
        _check_compatible(train, valid)
        train_idx, valid_idx, source = np.arange(len(train)), np.arange(len(valid)), str(valid.path)
    else:
        train_idx, valid_idx = carve_validation(len(train), cfg.valid_fraction, cfg.seed)
        valid, source = train, f"carved from {train.path} ({cfg.valid_fraction:g}, seed {cfg.seed})"
    if cfg.limit_train is not None:
        if cfg.limit_train < 1:
            raise SnnDeployError(f"--limit-train must be >= 1, got {cfg.limit_train}")
        keep = np.random.default_rng(cfg.seed + 1).permutation(len(train_idx))[: cfg.limit_train]
        train_idx = np.sort(train_idx[keep])
    return DataSplits(train, train_idx, valid, valid_idx, test, np.arange(len(test)), source, str(data_dir))
