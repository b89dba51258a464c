"""Accuracy and loss of a model on a split: during training (sharded over ranks) and of a saved checkpoint.

The class scores are the model's logits, or with paper 2's max-over-time loss ``max_t`` of the
readout potential (``class_scores``); the loss is cross-entropy on them.
"""
from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from snn_deploy.errors import FormatError, SnnDeployError
from snn_deploy.memory import check_fits
from snn_deploy.train.checkpoint import load_checkpoint
from snn_deploy.train.data.binning import DEFAULT_DURATION_S, DEFAULT_TIME_STEPS
from snn_deploy.train.distributed import DistContext, all_reduce_sum, shard_slice
from snn_deploy.train.sizes import evaluation_batch_bytes
from snn_deploy.train.splits import carve_validation


def class_scores(output: Any, max_over_time: bool) -> torch.Tensor:
    """``[B, K]`` scores fed to cross-entropy: the model's logits, or ``max_t readout[:, t]`` (paper 2)."""
    if max_over_time:
        return output.readout.max(dim=1).values
    return output.logits


def firing_sums(output: Any) -> list[tuple[float, int]]:
    """Per hidden layer: (sum of spikes, number of neuron-steps) of a batch."""
    return [(float(s.detach().float().sum()), int(s.numel())) for s in (output.layer_spikes or [])]


@dataclass
class EvalResult:
    correct: int
    total: int
    loss_sum: float

    @property
    def accuracy(self) -> float:
        return self.correct / self.total if self.total else math.nan

    @property
    def loss(self) -> float:
        return self.loss_sum / self.total if self.total else math.nan


@torch.no_grad()
def evaluate(
    model: nn.Module,
    dataset: Any,
    indices: Sequence[int],
    batch_size: int,
    ctx: DistContext | None = None,
    *,
    max_over_time: bool = False,
    progress: Callable[[int], None] | None = None,
) -> EvalResult:
    """Accuracy and mean loss of ``model`` (eval mode) on ``dataset[indices]``, sharded over ranks."""
    ctx = ctx or DistContext()
    was_training = model.training
    model.eval()
    indices = np.asarray(indices, dtype=np.int64)
    mine = indices[shard_slice(len(indices), ctx.world_size, ctx.rank)]
    stats = torch.zeros(3, dtype=torch.float64)
    for start in range(0, len(mine), batch_size):
        x, y = dataset.batch(mine[start : start + batch_size])
        x, y = x.to(ctx.device), y.to(ctx.device)
        scores = class_scores(model(x), max_over_time)
        stats[0] += float((scores.argmax(dim=1) == y).sum())
        stats[1] += len(y)
        stats[2] += float(F.cross_entropy(scores, y, reduction="sum"))
        if progress:
            progress(len(y))
    model.train(was_training)
    stats = all_reduce_sum(stats, ctx)
    return EvalResult(int(stats[0]), int(stats[1]), float(stats[2]))


def evaluate_checkpoint(
    checkpoint: str | os.PathLike,
    data_dir: str | os.PathLike,
    split: str = "test",
    *,
    batch_size: int = 128,
    device: str = "cpu",
    show_progress: bool = True,
) -> dict[str, Any]:
    """Accuracy of a saved model on one split, with the checkpoint's binning (time steps, duration)."""
    from snn_deploy.log import progress_bar
    from snn_deploy.train.checkpoint import load_model
    from snn_deploy.train.data import open_dataset
    from snn_deploy.train.distributed import resolve_device

    torch_device = resolve_device(device)
    model, model_cfg, meta = load_model(checkpoint, device=torch_device)
    train_cfg = load_checkpoint(checkpoint).train_config
    time_steps, duration = meta.get("time_steps", DEFAULT_TIME_STEPS), meta.get("duration", DEFAULT_DURATION_S)
    if (not isinstance(time_steps, int) or isinstance(time_steps, bool) or time_steps < 1
            or not isinstance(duration, (int, float)) or not math.isfinite(duration) or duration <= 0):
        raise FormatError(f"{checkpoint}: meta.time_steps {str(time_steps)[:30]} / meta.duration {str(duration)[:30]}: "
                          "expected a positive integer and a positive number of seconds")
    duration = float(duration)
    opts = dict(time_steps=time_steps, duration=duration, binary=bool(meta.get("binary", False)))
    try:
        ds = open_dataset(data_dir, split, **opts)
        indices, source = np.arange(len(ds)), str(ds.path)
        carve = split == "valid" and len(ds) == 0 and train_cfg is not None   # load_splits carves then too
    except SnnDeployError as exc:
        if split != "valid" or train_cfg is None or "no 'valid' split" not in str(exc):
            raise
        carve = True
    if carve:
        # the run carved its validation split from train: carve the same one
        ds = open_dataset(data_dir, "train", **opts)
        indices = carve_validation(len(ds), train_cfg.valid_fraction, train_cfg.seed)[1]
        source = f"{ds.path} (validation part carved as in training)"
    if ds.num_channels != model_cfg.input_size:
        raise SnnDeployError(f"{ds.path}: {ds.num_channels} channels, but {checkpoint} expects {model_cfg.input_size}")
    if ds.num_classes != model_cfg.num_classes:
        raise SnnDeployError(f"{ds.path}: {ds.num_classes} classes, but {checkpoint} was trained on {model_cfg.num_classes}")
    if len(indices) == 0:
        raise SnnDeployError(f"{ds.path}: no samples to evaluate")
    check_fits(evaluation_batch_bytes(model_cfg, min(batch_size, len(indices)), time_steps),
               f"{checkpoint}: evaluating batches of {min(batch_size, len(indices))} samples of meta.time_steps {time_steps}")
    max_over_time = bool(train_cfg.max_over_time_loss) if train_cfg is not None else False
    t0 = time.time()
    with progress_bar(len(indices), f"eval {split}", enabled=show_progress, unit="sample", leave=False) as bar:
        res = evaluate(model, ds, indices, batch_size, DistContext(device=torch_device),
                       max_over_time=max_over_time, progress=bar.update)
    return {
        "checkpoint": str(checkpoint), "data": source, "split": split, "model": model_cfg.model,
        "accuracy": res.accuracy, "loss": res.loss, "correct": res.correct, "samples": res.total,
        "time_steps": time_steps, "duration": duration, "eval_time_s": time.time() - t0,
    }
