"""Surrogate-gradient training of one model on an SHD-layout data set (paper 1 §3), resumable.

Recipe (paper 1, Bittar & Garner 2022, and its code idiap/sparch): cross-entropy on the model's
class scores, Adam (lr 0.01 on spike inputs, 0.001 on graded/filterbank inputs unless given),
``ReduceLROnPlateau(mode="max", factor=0.7, patience=10)`` stepped on validation accuracy once per
epoch, the best epoch by validation accuracy kept. Paper 2's max-over-time loss (``max_t`` of the
readout potential as class scores) is optional.

A run directory ``RUN`` holds::

    run.json        configs + data description, written at the start; "status": running|complete
    metrics.jsonl   one JSON line per finished epoch (loss, accuracies, lr, firing rates, time)
    last.pt         the last finished epoch with the whole training state (written every epoch)
    model.pt        the best epoch's weights (meta: accuracies; at the end also the test accuracy)
    summary.json    written last: a run without it did not finish (``--resume`` continues it)

Every file is written atomically. Nothing is created before the data, the model config and the
model have been checked, so bad input leaves no run directory behind.

Exact resume: ``last.pt`` stores the optimizer, scheduler, data-order generator and the torch /
numpy / random generator states of every rank, and the metrics history; ``--resume`` restores
them so that a run killed after epoch k and resumed ends with the same weights, bit for bit, as a
run that was never interrupted (same machine, same world size).

Data parallel: see :mod:`.distributed` (the same code runs under ``torchrun``; only rank 0
writes files).
"""
from __future__ import annotations

import contextlib
import json
import math
import os
import shutil
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from snn_deploy.atomic import atomic_path, write_text_atomic
from snn_deploy.errors import FormatError, SnnDeployError, UsageError
from snn_deploy.memory import check_fits, gib
from snn_deploy.outdir import lock
from snn_deploy.train.checkpoint import (
    capture_rng_state,
    check_optimizer_state,
    cpu_state_dict,
    load_checkpoint,
    load_state_into,
    restore_rng_state,
    save_checkpoint,
)
from snn_deploy.train.config import ModelConfig, TrainConfig, snn_models
from snn_deploy.train.sizes import check_config_fits_weights, evaluation_batch_bytes, training_bytes
from snn_deploy.train.distributed import (
    DistContext,
    all_reduce_sum,
    barrier,
    convert_batchnorm,
    gather_objects,
    init_distributed,
    shard_slice,
    shutdown,
    wrap_model,
)

#: Paper 1 §3: Adam learning rate on spiking inputs (SHD/SSC) and on filterbank inputs (HD/SC).
LR_SPIKES = 0.01
LR_GRADED = 0.001
SCHEDULER_MODE = "max"  # the plateau is on validation accuracy

RUN_INFO = "run.json"
METRICS = "metrics.jsonl"
BEST = "model.pt"
LAST = "last.pt"
SUMMARY = "summary.json"
#: Files a run writes; ``--force`` removes exactly these (and eval reports) before starting over.
RUN_FILES = (RUN_INFO, METRICS, BEST, LAST, SUMMARY)
STATUS_RUNNING = "running"
STATUS_COMPLETE = "complete"
#: ``--resume`` may change these training options; any other change would not be a resume.
RESUMABLE_CHANGES = ("epochs", "device")


# --- data ------------------------------------------------------------------------------------


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


# --- loss and evaluation ---------------------------------------------------------------------


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


# --- run directory ---------------------------------------------------------------------------


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
    for path in run_dir.glob("eval-*.json"):
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


# --- the training loop -----------------------------------------------------------------------


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


def check_training_memory(model_cfg: ModelConfig, cfg: TrainConfig, resumed_from: Path | None) -> None:
    """Refuse, before building anything, a model + batch that would not fit in the memory available
    (:mod:`.sizes` for the estimate; host memory, which also holds the model with ``--device cuda``)."""
    need = training_bytes(model_cfg, cfg.batch_size, cfg.time_steps)
    if resumed_from is not None:
        what, error = f"{resumed_from}: the stored run (hidden {model_cfg.hidden}, layers {model_cfg.layers}, " \
                      f"time_steps {cfg.time_steps}, batch_size {cfg.batch_size})", FormatError
    elif need.model_dominates:
        what, error = f"--hidden {model_cfg.hidden} with --layers {model_cfg.layers}", UsageError
    else:
        what, error = f"--time-steps {cfg.time_steps} with --batch-size {cfg.batch_size}", UsageError
    check_fits(need.total, f"{what}: training (model ~{gib(need.model_bytes)} GiB, one batch ~{gib(need.batch_bytes)} GiB)",
               error)


def build_seeded_model(model_cfg: ModelConfig, seed: int) -> nn.Module:
    from snn_deploy.train.models import build_model

    torch.manual_seed(seed)
    return build_model(model_cfg)


def _make_optimizer(model: nn.Module, cfg: TrainConfig):
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.Adam(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
        optimizer, mode=SCHEDULER_MODE, factor=cfg.scheduler_factor, patience=cfg.scheduler_patience
    )
    return optimizer, scheduler


def _fmt_rates(rates: Sequence[float]) -> str:
    return "[" + " ".join(f"{r:.3f}" for r in rates) + "]"


def _check_resume_changes(stored: dict[str, Any], changes: dict[str, Any], what: str, run_dir: Path) -> None:
    for key, value in changes.items():
        if key in RESUMABLE_CHANGES or key not in stored:
            continue
        if stored[key] != value:
            raise UsageError(
                f"{run_dir}: --resume with a different {what} option {key}={value!r} (the run has {stored[key]!r}); "
                "start a new run in another directory instead"
            )


@contextmanager
def _restoring(field_name: str, path: Path):
    """A ``train_state`` field torch/numpy/random refuse to restore (after the schema check) as one line."""
    try:
        yield
    except (ValueError, TypeError, KeyError, IndexError, RuntimeError, AttributeError) as exc:
        raise FormatError(f"{path}: train_state.{field_name}: cannot be restored ({str(exc).splitlines()[0][:160] if str(exc) else type(exc).__name__})") from None


def check_like_fresh(stored: Any, fresh: dict[str, Any], field_name: str, path: Path) -> None:
    """A stored optimizer/scheduler state dict must look like a fresh one's: ``load_state_dict`` takes
    whatever it is given (``ReduceLROnPlateau`` sets it as attributes) and a wrong type would only fail
    at the first step, after the run's files were rewritten. Same keys; numbers where it has numbers;
    its own strings, flags and None; lists of numbers of the same length."""
    where = f"{path}: train_state.{field_name}"
    if not isinstance(stored, dict) or set(stored) != set(fresh):
        keys = sorted(map(str, stored)) if isinstance(stored, dict) else type(stored).__name__
        raise FormatError(f"{where}: keys {keys}, expected {sorted(fresh)}")
    for key, reference in fresh.items():
        value = stored[key]
        if isinstance(reference, bool):
            ok = isinstance(value, bool)
        elif isinstance(reference, str) or reference is None or key == "params":
            ok = type(value) is type(reference) and value == reference
        elif isinstance(reference, (int, float)):
            ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        elif isinstance(reference, (list, tuple)):
            ok = isinstance(value, (list, tuple)) and len(value) == len(reference) and all(
                isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)
        else:
            ok = type(value) is type(reference)
        if not ok:
            raise FormatError(f"{where}.{key}: {str(value)[:60]} does not fit (expected like {str(reference)[:60]})")


@dataclass
class _Plan:
    """Everything decided before the first write: configs, data, and where training starts."""

    model_cfg: ModelConfig
    train_cfg: TrainConfig
    splits: DataSplits
    resume_state: dict[str, Any] | None
    resume_weights: dict[str, torch.Tensor] | None
    created: float
    stored: bool = False  # the configs come from an earlier run's run.json (--resume)


def _plan(
    run_dir: Path,
    data_dir: str | os.PathLike,
    train_cfg: TrainConfig,
    model_options: dict[str, Any],
    resume: bool,
    force: bool,
    log: Callable[[str], None],
    explicit: set[str],
) -> _Plan:
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
        return _Plan(model_cfg, train_cfg, splits, None, None, time.time())

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
    return _Plan(model_cfg, train_cfg, splits, state, weights, float(info.get("created", time.time())), stored=True)


def train(
    run_dir: str | os.PathLike,
    data_dir: str | os.PathLike,
    train_cfg: TrainConfig,
    model_options: dict[str, Any],
    *,
    resume: bool = False,
    force: bool = False,
    show_progress: bool = True,
    log: Callable[[str], None] | None = None,
    explicit: set[str] | None = None,
) -> TrainResult:
    """Train (or resume) a run; see the module docstring. ``model_options`` are :class:`ModelConfig`
    fields other than ``input_size``/``num_classes`` (taken from the data). Under ``torchrun``
    every rank calls this; rank 0 writes the files and all ranks return the same result.

    On ``resume`` the stored run's configs are used; ``explicit`` names the ``train_cfg`` fields the
    user set (None: every field that is not None), and those must equal the stored ones except
    ``epochs`` and ``device``. Every given model option must equal the stored one.
    """
    run_dir = Path(run_dir)
    ctx = init_distributed(train_cfg.device)
    if explicit is None:
        explicit = {k for k, v in asdict(train_cfg).items() if v is not None}
    try:
        with lock(run_dir, "train") if ctx.is_main else contextlib.nullcontext():  # rank 0 writes the files
            return _train(run_dir, data_dir, train_cfg, model_options, resume, force, show_progress, log, ctx,
                          explicit)
    finally:
        shutdown(ctx)


def _train(run_dir, data_dir, train_cfg, model_options, resume, force, show_progress, log, ctx, explicit) -> TrainResult:
    from snn_deploy.log import logger

    main = ctx.is_main
    say = (log or logger.info) if main else (lambda _msg: None)
    plan = _plan(run_dir, data_dir, train_cfg, model_options, resume, force, say, explicit)
    cfg, model_cfg, splits = plan.train_cfg, plan.model_cfg, plan.splits
    check_training_memory(model_cfg, cfg, run_dir / RUN_INFO if plan.stored else None)
    model = build_seeded_model(model_cfg, cfg.seed).to(ctx.device)
    if ctx.distributed:
        model = convert_batchnorm(model, ctx.bn_group)  # global batch statistics (before the optimizer)
    optimizer, scheduler = _make_optimizer(model, cfg)
    num_parameters = sum(p.numel() for p in model.parameters() if p.requires_grad)
    meta = splits.meta(cfg)
    history: list[dict[str, Any]] = []
    start_epoch, best_acc, best_epoch = 0, -math.inf, 0
    order = np.random.default_rng(cfg.seed)
    # every rank draws its own dropout masks; rank 0's stream is the one-process run's
    torch.manual_seed(cfg.seed + 1_000_003 * ctx.rank)
    if plan.resume_state is not None:
        st = plan.resume_state
        load_state_into(model, plan.resume_weights, run_dir / LAST)
        check_optimizer_state(st["optimizer"], [p for p in model.parameters() if p.requires_grad], run_dir / LAST)
        check_like_fresh(st["scheduler"], scheduler.state_dict(), "scheduler", run_dir / LAST)
        fresh_groups = optimizer.state_dict()["param_groups"]
        if len(st["optimizer"]["param_groups"]) != len(fresh_groups):
            raise FormatError(f"{run_dir / LAST}: train_state.optimizer.param_groups: {len(st['optimizer']['param_groups'])} "
                              f"groups, the model has {len(fresh_groups)}")
        for i, (group, fresh) in enumerate(zip(st["optimizer"]["param_groups"], fresh_groups)):
            check_like_fresh(group, fresh, f"optimizer.param_groups[{i}]", run_dir / LAST)
        rngs = st["rng"]
        with _restoring("optimizer", run_dir / LAST):
            optimizer.load_state_dict(st["optimizer"])
        with _restoring("scheduler", run_dir / LAST):
            scheduler.load_state_dict(st["scheduler"])
        with _restoring("data_order", run_dir / LAST):
            order.bit_generator.state = st["data_order"]
        with _restoring(f"rng[{ctx.rank % len(rngs)}]", run_dir / LAST):
            restore_rng_state(rngs[ctx.rank % len(rngs)])
        start_epoch, best_acc, best_epoch = int(st["epoch"]), float(st["best_valid_acc"]), int(st["best_epoch"])
        history = list(st["history"])
        if len(rngs) != ctx.world_size:
            say(f"note: resuming a {len(rngs)}-process run with {ctx.world_size}: not bit-identical to an uninterrupted run")
        say(f"resuming {run_dir} after epoch {start_epoch}/{cfg.epochs}")
    elif resume:
        say(f"resuming {run_dir} from the start (it was stopped before its first epoch finished)")

    # nothing was written before this point: every check on data, configs and model has passed;
    # every rank has looked at the run directory before rank 0 changes it
    barrier(ctx)
    if main:
        if force and not resume:
            clear_run_files(run_dir)
        run_dir.mkdir(parents=True, exist_ok=True)
        write_json(run_dir / RUN_INFO, {
            "status": STATUS_RUNNING, "created": plan.created, "model_config": model_cfg.to_dict(),
            "train_config": cfg.to_dict(), "data": meta, "world_size": ctx.world_size,
        })
        write_metrics(run_dir / METRICS, history)
    barrier(ctx)

    net = wrap_model(model, ctx)
    t_start = time.time()
    for epoch in range(start_epoch, cfg.epochs):
        metrics = _run_epoch(net, model, optimizer, splits, cfg, order, epoch, ctx, show_progress and main)
        valid = evaluate(model, splits.valid, splits.valid_indices, cfg.batch_size, ctx, max_over_time=cfg.max_over_time_loss)
        lr = optimizer.param_groups[0]["lr"]
        scheduler.step(valid.accuracy)
        improved = valid.accuracy > best_acc
        if improved:
            best_acc, best_epoch = valid.accuracy, epoch + 1
        line = EpochMetrics(
            epoch=epoch + 1, loss=metrics["loss"], train_acc=metrics["train_acc"], valid_acc=valid.accuracy,
            valid_loss=valid.loss, lr=lr, firing_rates=metrics["firing_rates"],
            epoch_time_s=metrics["epoch_time_s"], best=improved,
        ).to_dict()
        history.append(line)
        rng_states = gather_objects(capture_rng_state(), ctx)
        if main:
            epoch_meta = dict(meta, epoch=epoch + 1, complete=False,
                              accuracies={"train": line["train_acc"], "valid": valid.accuracy})
            if improved:
                save_checkpoint(run_dir / BEST, model, model_cfg, cfg, epoch_meta)
            state = {
                "epoch": epoch + 1, "best_valid_acc": best_acc, "best_epoch": best_epoch,
                "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
                "data_order": order.bit_generator.state, "rng": rng_states, "history": history,
                "world_size": ctx.world_size,
            }
            save_checkpoint(run_dir / LAST, model, model_cfg, cfg, epoch_meta, train_state=state)
            append_metrics(run_dir / METRICS, line)
            say(
                f"epoch {epoch + 1}/{cfg.epochs}: loss {line['loss']:.4f}  train {line['train_acc']:.1%}  "
                f"valid {valid.accuracy:.1%}{' *' if improved else ''}  lr {lr:.2g}  "
                + (f"rates {_fmt_rates(line['firing_rates'])}  " if model_cfg.spiking else "")
                + f"{line['epoch_time_s']:.1f}s"
            )
    barrier(ctx)
    return _finish(run_dir, model, net, model_cfg, cfg, splits, meta, history, best_acc, best_epoch,
                   start_epoch, optimizer, num_parameters, time.time() - t_start, ctx, say)


def _run_epoch(net, model, optimizer, splits: DataSplits, cfg: TrainConfig, order, epoch, ctx, show) -> dict[str, Any]:
    from snn_deploy.log import progress_bar

    t0 = time.time()
    net.train()
    perm = order.permutation(splits.train_indices)
    batches = [perm[i : i + cfg.batch_size] for i in range(0, len(perm), cfg.batch_size)]
    stats = torch.zeros(3, dtype=torch.float64)  # loss sum, correct, samples
    rate_sums: torch.Tensor | None = None
    bar = progress_bar(len(perm), f"epoch {epoch + 1}/{cfg.epochs}", enabled=show, unit="sample", leave=False)
    for batch in batches:
        if len(batch) < ctx.world_size:
            bar.update(len(batch))  # too small to give every rank a sample: skipped on all ranks alike
            continue
        x, y = splits.train.batch(batch[shard_slice(len(batch), ctx.world_size, ctx.rank)])
        x, y = x.to(ctx.device), y.to(ctx.device)
        out = net(x)
        losses = F.cross_entropy(class_scores(out, cfg.max_over_time_loss), y, reduction="none")
        # DDP averages gradients over ranks: this scale makes that the global batch's mean loss
        loss = losses.sum() * (ctx.world_size / len(batch))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        with torch.no_grad():
            correct = float((class_scores(out, cfg.max_over_time_loss).argmax(1) == y).sum())
            stats += torch.tensor([float(losses.sum()), correct, float(len(y))], dtype=torch.float64)
            sums = torch.tensor(firing_sums(out), dtype=torch.float64).reshape(-1, 2)
            rate_sums = sums if rate_sums is None else rate_sums + sums
        bar.update(len(batch))
        if show:
            bar.set_postfix(loss=f"{float(losses.mean()):.3f}", acc=f"{correct / max(len(y), 1):.2f}")
    bar.close()
    stats = all_reduce_sum(stats, ctx)
    rates: list[float] = []
    if rate_sums is not None:
        rate_sums = all_reduce_sum(rate_sums, ctx)
        rates = [float(s / n) if n else 0.0 for s, n in rate_sums.tolist()]
    n = max(float(stats[2]), 1.0)
    return {"loss": float(stats[0]) / n, "train_acc": float(stats[1]) / n, "firing_rates": rates,
            "epoch_time_s": time.time() - t0}


def _finish(run_dir, model, net, model_cfg, cfg, splits, meta, history, best_acc, best_epoch, start_epoch,
            optimizer, num_parameters, train_time, ctx, say) -> TrainResult:
    """Test the best epoch's weights, stamp model.pt with the test accuracy, write summary.json."""
    if not (run_dir / BEST).is_file():
        raise SnnDeployError(f"{run_dir / BEST}: missing at the end of training (was it removed?)")
    best = load_checkpoint(run_dir / BEST)
    load_state_into(model, best.state_dict, best.path)
    test = evaluate(model, splits.test, splits.test_indices, cfg.batch_size, ctx, max_over_time=cfg.max_over_time_loss)
    last_rates = history[-1]["firing_rates"] if history else []
    result = TrainResult(
        run_dir=str(run_dir), model=model_cfg.model, epochs=cfg.epochs, best_epoch=best_epoch,
        best_valid_acc=best_acc, test_acc=test.accuracy, test_loss=test.loss,
        final_lr=optimizer.param_groups[0]["lr"], firing_rates=last_rates, train_time_s=train_time,
        world_size=ctx.world_size, device=str(ctx.device), resumed_from_epoch=start_epoch,
        num_parameters=num_parameters, model_config=model_cfg.to_dict(), train_config=cfg.to_dict(),
        files={k: str(run_dir / v) for k, v in (("best", BEST), ("last", LAST), ("metrics", METRICS))},
    )
    if ctx.is_main:
        final_meta = dict(best.meta, complete=True, accuracies=dict(
            best.meta.get("accuracies", {}), valid=best_acc, test=test.accuracy))
        save_checkpoint(run_dir / BEST, best.state_dict, model_cfg, cfg, final_meta)
        write_json(run_dir / SUMMARY, result.to_dict())
        info = read_run_info(run_dir) or {}
        write_json(run_dir / RUN_INFO, dict(info, status=STATUS_COMPLETE))
    barrier(ctx)
    return result


def format_summary(result: TrainResult) -> str:
    cfg = result.model_config
    size = f"{cfg.get('layers')}x{cfg.get('hidden')}"
    # ANN baselines (gru, rnn, ...) fire no spikes: their lines name no firing rates
    spiking = result.model in snn_models()
    rates = f", firing rates {_fmt_rates(result.firing_rates)}" if spiking and result.firing_rates else ""
    resumed = f", resumed after epoch {result.resumed_from_epoch}" if result.resumed_from_epoch else ""
    return (
        f"trained {result.model} {size} ({result.num_parameters:,} parameters) for {result.epochs} epochs"
        f"{resumed} in {result.train_time_s:.1f}s on {result.world_size}x {result.device}\n"
        f"  best valid accuracy {result.best_valid_acc:.1%} (epoch {result.best_epoch}), "
        f"test accuracy {result.test_acc:.1%}{rates}\n"
        f"  {result.run_dir}/{BEST} (best), {LAST}, {METRICS}, {SUMMARY}"
    )


# --- eval of a saved checkpoint --------------------------------------------------------------


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
    time_steps, duration = meta.get("time_steps", 100), meta.get("duration", 1.4)
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
