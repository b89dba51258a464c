"""Surrogate-gradient training of one model on an SHD-layout data set (paper 1 §3), resumable.

Recipe (paper 1, Bittar & Garner 2022, and its code idiap/sparch): cross-entropy on the model's
class scores, Adam (lr 0.01 on spike inputs, 0.001 on graded/filterbank inputs unless given),
``ReduceLROnPlateau(mode="max", factor=0.7, patience=10)`` stepped on validation accuracy once per
epoch, the best epoch by validation accuracy kept. Paper 2's max-over-time loss (``max_t`` of the
readout potential as class scores) is optional.

The run directory's files and the plan of a run (new or resumed) are :mod:`.rundir`'s; the
evaluation of a split :mod:`.evaluate`'s. This module is the epoch loop and the final test.

Exact resume: ``last.pt`` stores the optimizer, scheduler, data-order generator and the torch /
numpy / random generator states of every rank, and the metrics history; ``--resume`` restores
them so that a run killed after epoch k and resumed ends with the same weights, bit for bit, as a
run that was never interrupted (same machine, same world size).

Data parallel: see :mod:`.distributed` (the same code runs under ``torchrun``; only rank 0
writes files).
"""
from __future__ import annotations

import contextlib
import math
import os
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from snn_deploy.errors import FormatError, SnnDeployError, UsageError
from snn_deploy.memory import check_fits, gib
from snn_deploy.outdir import lock
from snn_deploy.train.checkpoint import (
    capture_rng_state,
    check_optimizer_state,
    load_checkpoint,
    load_state_into,
    restore_rng_state,
    save_checkpoint,
)
from snn_deploy.train.config import ModelConfig, TrainConfig, snn_models
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
from snn_deploy.train.evaluate import class_scores, evaluate, firing_sums
from snn_deploy.train.rundir import (
    BEST,
    LAST,
    METRICS,
    RUN_INFO,
    STATUS_COMPLETE,
    STATUS_RUNNING,
    SUMMARY,
    EpochMetrics,
    RunPlan,
    TrainResult,
    append_metrics,
    clear_run_files,
    plan_run,
    read_run_info,
    write_json,
    write_metrics,
)
from snn_deploy.train.sizes import training_bytes
from snn_deploy.train.splits import DataSplits

SCHEDULER_MODE = "max"  # the plateau is on validation accuracy


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
    plan = plan_run(run_dir, data_dir, train_cfg, model_options, resume, force, say, explicit)
    cfg, model_cfg, splits = plan.train_cfg, plan.model_cfg, plan.splits
    check_training_memory(model_cfg, cfg, run_dir / RUN_INFO if plan.stored else None)
    model = build_seeded_model(model_cfg, cfg.seed).to(ctx.device)
    if ctx.distributed:
        model = convert_batchnorm(model, ctx.bn_group)  # global batch statistics (before the optimizer)
    optimizer, scheduler = _make_optimizer(model, cfg)
    run = _Run(run_dir=run_dir, model=model, model_cfg=model_cfg, cfg=cfg, splits=splits, meta=splits.meta(cfg),
               optimizer=optimizer, ctx=ctx, say=say,
               num_parameters=sum(p.numel() for p in model.parameters() if p.requires_grad))
    order = np.random.default_rng(cfg.seed)
    # every rank draws its own dropout masks; rank 0's stream is the one-process run's
    torch.manual_seed(cfg.seed + 1_000_003 * ctx.rank)
    if plan.resume_state is not None:
        _restore(run, plan, scheduler, order)
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
            "train_config": cfg.to_dict(), "data": run.meta, "world_size": ctx.world_size,
        })
        write_metrics(run_dir / METRICS, run.history)
    barrier(ctx)

    net = wrap_model(model, ctx)
    t_start = time.time()
    for epoch in range(run.start_epoch, cfg.epochs):
        metrics = _run_epoch(net, model, optimizer, splits, cfg, order, epoch, ctx, show_progress and main)
        valid = evaluate(model, splits.valid, splits.valid_indices, cfg.batch_size, ctx, max_over_time=cfg.max_over_time_loss)
        lr = optimizer.param_groups[0]["lr"]
        scheduler.step(valid.accuracy)
        improved = valid.accuracy > run.best_acc
        if improved:
            run.best_acc, run.best_epoch = valid.accuracy, epoch + 1
        line = EpochMetrics(
            epoch=epoch + 1, loss=metrics["loss"], train_acc=metrics["train_acc"], valid_acc=valid.accuracy,
            valid_loss=valid.loss, lr=lr, firing_rates=metrics["firing_rates"],
            epoch_time_s=metrics["epoch_time_s"], best=improved,
        ).to_dict()
        run.history.append(line)
        rng_states = gather_objects(capture_rng_state(), ctx)
        if main:
            epoch_meta = dict(run.meta, epoch=epoch + 1, complete=False,
                              accuracies={"train": line["train_acc"], "valid": valid.accuracy})
            if improved:
                save_checkpoint(run_dir / BEST, model, model_cfg, cfg, epoch_meta)
            state = {
                "epoch": epoch + 1, "best_valid_acc": run.best_acc, "best_epoch": run.best_epoch,
                "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
                "data_order": order.bit_generator.state, "rng": rng_states, "history": run.history,
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
    return _finish(run, time.time() - t_start)


@dataclass
class _Run:
    """One training run in progress: what the loop, the restore and the final test share."""

    run_dir: Path
    model: nn.Module
    model_cfg: ModelConfig
    cfg: TrainConfig
    splits: DataSplits
    meta: dict[str, Any]          #: what every checkpoint of the run carries (``DataSplits.meta``)
    optimizer: torch.optim.Optimizer
    ctx: DistContext
    say: Callable[[str], None]
    num_parameters: int
    history: list[dict[str, Any]] = field(default_factory=list)
    start_epoch: int = 0          #: epochs done before this process started (``--resume``)
    best_acc: float = -math.inf
    best_epoch: int = 0


def _restore(run: _Run, plan: RunPlan, scheduler: Any, order: np.random.Generator) -> None:
    """Load ``last.pt``'s weights and training state into the fresh model, optimizer, scheduler and
    generators, each checked against a fresh one first (a stranger's state must fail as one line)."""
    st, last, ctx = plan.resume_state, run.run_dir / LAST, run.ctx
    optimizer = run.optimizer
    load_state_into(run.model, plan.resume_weights, last)
    check_optimizer_state(st["optimizer"], [p for p in run.model.parameters() if p.requires_grad], last)
    check_like_fresh(st["scheduler"], scheduler.state_dict(), "scheduler", last)
    fresh_groups = optimizer.state_dict()["param_groups"]
    if len(st["optimizer"]["param_groups"]) != len(fresh_groups):
        raise FormatError(f"{last}: train_state.optimizer.param_groups: {len(st['optimizer']['param_groups'])} "
                          f"groups, the model has {len(fresh_groups)}")
    for i, (group, fresh) in enumerate(zip(st["optimizer"]["param_groups"], fresh_groups)):
        check_like_fresh(group, fresh, f"optimizer.param_groups[{i}]", last)
    rngs = st["rng"]
    with _restoring("optimizer", last):
        optimizer.load_state_dict(st["optimizer"])
    with _restoring("scheduler", last):
        scheduler.load_state_dict(st["scheduler"])
    with _restoring("data_order", last):
        order.bit_generator.state = st["data_order"]
    with _restoring(f"rng[{ctx.rank % len(rngs)}]", last):
        restore_rng_state(rngs[ctx.rank % len(rngs)])
    run.start_epoch, run.best_acc, run.best_epoch = int(st["epoch"]), float(st["best_valid_acc"]), int(st["best_epoch"])
    run.history = list(st["history"])
    if len(rngs) != ctx.world_size:
        run.say(f"note: resuming a {len(rngs)}-process run with {ctx.world_size}: not bit-identical to an uninterrupted run")
    run.say(f"resuming {run.run_dir} after epoch {run.start_epoch}/{run.cfg.epochs}")


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


def _finish(run: _Run, train_time: float) -> TrainResult:
    """Test the best epoch's weights, stamp model.pt with the test accuracy, write summary.json."""
    run_dir, cfg, model_cfg, ctx = run.run_dir, run.cfg, run.model_cfg, run.ctx
    if not (run_dir / BEST).is_file():
        raise SnnDeployError(f"{run_dir / BEST}: missing at the end of training (was it removed?)")
    best = load_checkpoint(run_dir / BEST)
    load_state_into(run.model, best.state_dict, best.path)
    test = evaluate(run.model, run.splits.test, run.splits.test_indices, cfg.batch_size, ctx,
                    max_over_time=cfg.max_over_time_loss)
    last_rates = run.history[-1]["firing_rates"] if run.history else []
    result = TrainResult(
        run_dir=str(run_dir), model=model_cfg.model, epochs=cfg.epochs, best_epoch=run.best_epoch,
        best_valid_acc=run.best_acc, test_acc=test.accuracy, test_loss=test.loss,
        final_lr=run.optimizer.param_groups[0]["lr"], firing_rates=last_rates, train_time_s=train_time,
        world_size=ctx.world_size, device=str(ctx.device), resumed_from_epoch=run.start_epoch,
        num_parameters=run.num_parameters, model_config=model_cfg.to_dict(), train_config=cfg.to_dict(),
        files={k: str(run_dir / v) for k, v in (("best", BEST), ("last", LAST), ("metrics", METRICS))},
    )
    if ctx.is_main:
        final_meta = dict(best.meta, complete=True, accuracies=dict(
            best.meta.get("accuracies", {}), valid=run.best_acc, test=test.accuracy))
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
