"""A training run directory: its files, and the plan of a run (new, or resumed from those files).

A run directory ``RUN`` holds (names in ``snn_deploy/layout.py``)::

    run.json        configs + data description, written at the start; "status": running|complete
    metrics.jsonl   one JSON line per finished epoch (loss, accuracies, lr, firing rates, time)
    last.pt         the last finished epoch with the whole training state (written every epoch)
    model.pt        the best epoch's weights (meta: accuracies; at the end also the test accuracy)
    summary.json    written last: a run without it did not finish (``--resume`` continues it)

Every file is written atomically. ``plan_run`` decides everything (configs, data, where training
starts) before anything is written, so bad input leaves no run directory behind.
"""
from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Sequence

import torch

from snn_deploy import layout
from snn_deploy.atomic import write_text_atomic
from snn_deploy.errors import SnnDeployError, UsageError
from snn_deploy.train.checkpoint import load_checkpoint
from snn_deploy.train.config import ModelConfig, TrainConfig
from snn_deploy.train.sizes import check_config_fits_weights
from snn_deploy.train.splits import DataSplits, load_splits

#: Paper 1 §3: Adam learning rate on spiking inputs (SHD/SSC) and on filterbank inputs (HD/SC).
LR_SPIKES = 0.01
LR_GRADED = 0.001

RUN_INFO = layout.TRAIN_RECORD
METRICS = layout.METRICS
BEST = layout.BEST_CHECKPOINT
LAST = layout.LAST_CHECKPOINT
SUMMARY = layout.TRAIN_SUMMARY
#: Files a run writes; ``--force`` removes exactly these (and eval reports) before starting over.
RUN_FILES = (RUN_INFO, METRICS, BEST, LAST, SUMMARY)
STATUS_RUNNING = "running"
STATUS_COMPLETE = "complete"
#: ``--resume`` may change these training options; any other change would not be a resume.
RESUMABLE_CHANGES = ("epochs", "device")


# --- what the files hold ---------------------------------------------------------------------


@dataclass
class EpochMetrics:
    """One line of ``metrics.jsonl``."""

    epoch: int  # 1-based
    loss: float
    train_acc: float
    valid_acc: float
    valid_loss: float
    lr: float
    firing_rates: list[float]
    epoch_time_s: float
    best: bool

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class TrainResult:
    """What :func:`train` returns (also written as ``summary.json``)."""

    run_dir: str
    model: str
    epochs: int
    best_epoch: int
    best_valid_acc: float
    test_acc: float
    test_loss: float
    final_lr: float
    firing_rates: list[float]
    train_time_s: float
    world_size: int
    device: str
    resumed_from_epoch: int
    num_parameters: int
    model_config: dict[str, Any] = field(default_factory=dict)
    train_config: dict[str, Any] = field(default_factory=dict)
    files: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# --- the files -------------------------------------------------------------------------------


def _visible_entries(run_dir: Path) -> list[Path]:
    return sorted(p for p in run_dir.iterdir() if not p.name.startswith("."))


def check_new_run_dir(run_dir: Path, force: bool) -> None:
    """A new run needs an absent or empty directory, unless ``force`` (then our files go)."""
    if run_dir.exists() and not run_dir.is_dir():
        raise SnnDeployError(f"{run_dir}: exists and is not a directory")
    if run_dir.is_dir() and _visible_entries(run_dir) and not force:
        raise SnnDeployError(
            f"{run_dir}: not empty ({', '.join(p.name for p in _visible_entries(run_dir)[:4])}); "
            "use --resume to continue that run, --force to start over, or another -o directory"
        )


def clear_run_files(run_dir: Path) -> None:
    """Remove what an earlier run wrote (``--force``); files we did not write stay."""
    if not run_dir.is_dir():
        return
    for name in RUN_FILES:
        (run_dir / name).unlink(missing_ok=True)
    for path in run_dir.glob(layout.EVAL_REPORT_PATTERN):
        path.unlink()


def read_run_info(run_dir: Path) -> dict[str, Any] | None:
    path = run_dir / RUN_INFO
    if not path.is_file():
        return None
    try:
        info = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise SnnDeployError(f"{path}: unreadable run record ({exc}); cannot resume") from None
    if not isinstance(info, dict) or "model_config" not in info or "train_config" not in info:
        raise SnnDeployError(f"{path}: not a run record of snn-deploy train (no model_config/train_config)")
    return info


def write_json(path: Path, data: Any) -> None:
    write_text_atomic(path, json.dumps(data, indent=2, sort_keys=False) + "\n")


def write_metrics(path: Path, history: Sequence[dict[str, Any]]) -> None:
    write_text_atomic(path, "".join(json.dumps(m) + "\n" for m in history))


def append_metrics(path: Path, metrics: dict[str, Any]) -> None:
    """Append one line; the file is rewritten atomically (it is small), so a kill cannot cut a line."""
    old = path.read_text() if path.is_file() else ""
    write_text_atomic(path, old + json.dumps(metrics) + "\n")


# --- the plan of a run -----------------------------------------------------------------------


def resolve_lr(cfg: TrainConfig, input_kind: str) -> float:
    if cfg.lr is not None:
        if not cfg.lr > 0:
            raise SnnDeployError(f"--lr must be > 0, got {cfg.lr}")
        return float(cfg.lr)
    return LR_GRADED if input_kind == "graded" else LR_SPIKES


def check_train_config(cfg: TrainConfig) -> None:
    for name in ("epochs", "batch_size", "time_steps"):
        if int(getattr(cfg, name)) < 1:
            raise UsageError(f"--{name.replace('_', '-')} must be >= 1, got {getattr(cfg, name)}")
    if cfg.scheduler_patience < 0 or not 0 < cfg.scheduler_factor < 1:
        raise SnnDeployError("scheduler: factor must be in (0, 1) and patience >= 0")


def _check_resume_changes(stored: dict[str, Any], changes: dict[str, Any], what: str, run_dir: Path) -> None:
    for key, value in changes.items():
        if key in RESUMABLE_CHANGES or key not in stored:
            continue
        if stored[key] != value:
            raise UsageError(
                f"{run_dir}: --resume with a different {what} option {key}={value!r} (the run has {stored[key]!r}); "
                "start a new run in another directory instead"
            )


@dataclass
class RunPlan:
    """Everything decided before the first write: configs, data, and where training starts."""

    model_cfg: ModelConfig
    train_cfg: TrainConfig
    splits: DataSplits
    resume_state: dict[str, Any] | None
    resume_weights: dict[str, torch.Tensor] | None
    created: float
    stored: bool = False  # the configs come from an earlier run's run.json (--resume)


def plan_run(
    run_dir: Path,
    data_dir: str | os.PathLike,
    train_cfg: TrainConfig,
    model_options: dict[str, Any],
    resume: bool,
    force: bool,
    log: Callable[[str], None],
    explicit: set[str],
) -> RunPlan:
    info = read_run_info(run_dir) if resume and run_dir.is_dir() else None
    if resume and info is None:
        if run_dir.is_dir() and _visible_entries(run_dir):
            raise SnnDeployError(f"{run_dir}: --resume, but it holds no {RUN_INFO} of an snn-deploy training run")
        log(f"nothing to resume in {run_dir}: starting a new run")
    if info is None:
        check_new_run_dir(run_dir, force)
        check_train_config(train_cfg)
        splits = load_splits(data_dir, train_cfg)
        train_cfg = replace(train_cfg, lr=resolve_lr(train_cfg, splits.train.input_kind))
        options = dict({"seed": train_cfg.seed}, **model_options)  # one --seed seeds weights and data order
        try:
            model_cfg = ModelConfig(input_size=splits.num_channels, num_classes=splits.num_classes, **options)
        except SnnDeployError as exc:  # a new run's config is the options (sizes of the data are checked)
            raise UsageError(str(exc)) from None
        return RunPlan(model_cfg, train_cfg, splits, None, None, time.time())

    stored_train = dict(info["train_config"])
    _check_resume_changes(stored_train, {k: getattr(train_cfg, k) for k in explicit}, "training", run_dir)
    _check_resume_changes(dict(info["model_config"]), model_options, "model", run_dir)
    stored_train.update({k: getattr(train_cfg, k) for k in RESUMABLE_CHANGES if k in explicit})
    train_cfg = TrainConfig.from_dict(stored_train, source=str(run_dir / RUN_INFO))
    check_train_config(train_cfg)
    model_cfg = ModelConfig.from_dict(info["model_config"], source=str(run_dir / RUN_INFO))
    splits = load_splits(data_dir, train_cfg)
    if (splits.num_channels, splits.num_classes) != (model_cfg.input_size, model_cfg.num_classes):
        raise SnnDeployError(
            f"{data_dir}: {splits.num_channels} channels / {splits.num_classes} classes, but the run in {run_dir} "
            f"was trained on {model_cfg.input_size} / {model_cfg.num_classes}"
        )
    state = weights = None
    if (run_dir / LAST).is_file():
        ckpt = load_checkpoint(run_dir / LAST)
        if ckpt.train_state is None:
            raise SnnDeployError(f"{run_dir / LAST}: holds no training state; cannot resume from it")
        state, weights = ckpt.train_state, ckpt.state_dict
        check_config_fits_weights(model_cfg, weights, ckpt.path)
        if state["epoch"] > train_cfg.epochs:
            raise UsageError(
                f"--epochs {train_cfg.epochs}: the run in {run_dir} has already done {state['epoch']} epochs; "
                f"give --epochs {state['epoch']} or more to resume it")
    return RunPlan(model_cfg, train_cfg, splits, state, weights, float(info.get("created", time.time())), stored=True)
