"""The one interface every data set is returned through: :class:`SpeechDataset`.

A sample is ``(x, y)``: ``x`` a float32 tensor ``[time_steps, num_channels]`` (fixed length, so
PyTorch's default collate stacks a batch into ``[B, T, C]``), ``y`` an int class index. Spiking
data sets (SHD/SSC layout) give spike counts per bin (``input_kind == "spikes"``); audio data sets
(HD/SC) give log-mel filterbank frames (``input_kind == "graded"``).
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

INPUT_KINDS = ("spikes", "graded")
SPLITS = ("train", "valid", "test")


class SpeechDataset(Dataset):
    """Base class: labelled fixed-length frames ``[time_steps, num_channels]``.

    Attributes every subclass sets: ``path`` (file or directory read), ``time_steps``,
    ``num_channels``, ``num_classes``, ``labels`` (np.int64 array, one per sample),
    ``class_names`` (list of str, ``num_classes`` long), ``input_kind`` ("spikes" or "graded").
    """

    path: Path
    time_steps: int
    num_channels: int
    num_classes: int
    labels: np.ndarray
    class_names: list[str]
    input_kind: str

    def __len__(self) -> int:
        return int(len(self.labels))

    def frames(self, index: int) -> np.ndarray:
        """The input of sample ``index`` as a float32 numpy array ``[time_steps, num_channels]``."""
        raise NotImplementedError

    def check_frames_fit(self, samples: int) -> None:
        """SnnDeployError with the memory figure unless ``samples`` float32 frames fit in available memory."""
        from snn_deploy.memory import check_fits

        check_fits(4.0 * samples * self.time_steps * self.num_channels,
                   f"{self.path}: {samples} sample(s) x {self.time_steps} time steps x {self.num_channels} channels")

    def frames_batch(self, indices: Sequence[int]) -> np.ndarray:
        """Inputs of several samples, ``[len(indices), time_steps, num_channels]``; subclasses may vectorise."""
        self.check_frames_fit(len(indices))
        out = np.empty((len(indices), self.time_steps, self.num_channels), np.float32)
        for row, i in enumerate(indices):
            out[row] = self.frames(int(i))
        return out

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        n = len(self)
        if not -n <= index < n:
            raise IndexError(f"sample {index} out of range for {n} samples in {self.path}")
        index = index % n
        return torch.from_numpy(self.frames(index)), int(self.labels[index])

    def batch(self, indices: Sequence[int]) -> tuple[torch.Tensor, torch.Tensor]:
        """``(x [B, T, C] float32, y [B] int64)`` for ``indices``, the fast path for training loops."""
        idx = np.asarray(indices, dtype=np.int64)
        x = torch.from_numpy(self.frames_batch(idx))
        y = torch.from_numpy(self.labels[idx].astype(np.int64))
        return x, y

    def describe(self) -> dict:
        """A JSON-friendly summary (for ``snn-deploy data info`` and run records)."""
        counts = np.bincount(self.labels, minlength=self.num_classes) if len(self) else np.zeros(self.num_classes, int)
        return {
            "path": str(self.path),
            "input_kind": self.input_kind,
            "samples": len(self),
            "time_steps": self.time_steps,
            "num_channels": self.num_channels,
            "num_classes": self.num_classes,
            "class_names": list(self.class_names),
            "class_counts": [int(c) for c in counts],
        }

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(path={str(self.path)!r}, samples={len(self)}, "
            f"T={self.time_steps}, C={self.num_channels}, classes={self.num_classes}, kind={self.input_kind})"
        )


def collate(batch: Sequence[tuple[torch.Tensor, int]]) -> tuple[torch.Tensor, torch.Tensor]:
    """DataLoader ``collate_fn``: stack ``(x, y)`` samples into ``(x [B, T, C], y [B] int64)``."""
    xs, ys = zip(*batch)
    return torch.stack(xs), torch.as_tensor(ys, dtype=torch.int64)
