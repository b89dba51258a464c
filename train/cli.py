"""``snn-deploy train`` and ``snn-deploy eval`` (see snn_deploy/cli.py; heavy imports inside commands).

``train`` runs alone or under ``torchrun --nproc_per_node N`` with the same arguments (data
parallel, see train/distributed.py). Options left out take the defaults of ``ModelConfig`` /
``TrainConfig``; with ``--resume`` they take the stored run's values, and giving one that differs
from the run is an error (except ``--epochs`` and ``--device``).
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from snn_deploy.jsonout import add_json_options, json_out_path, print_json, write_json_out
from snn_deploy.ir import RESETS  # torch-free

#: CLI option -> ModelConfig field (options left at None are not passed: the config's default holds)
MODEL_OPTIONS = {
    "model": "model", "layers": "layers", "hidden": "hidden", "dropout": "dropout",
    "surrogate": "surrogate", "readout": "readout", "sparsity": "sparsity", "seed": "seed",
    "batch_norm": "batch_norm", "bias": "bias", "reset": "reset", "shared_decays": "shared_decays",
}
#: CLI option -> TrainConfig field
TRAIN_OPTIONS = {
    "epochs": "epochs", "batch_size": "batch_size", "lr": "lr", "seed": "seed", "device": "device",
    "time_steps": "time_steps", "duration": "duration", "max_over_time_loss": "max_over_time_loss",
    "limit_train": "limit_train", "valid_fraction": "valid_fraction", "binary": "binary",
    "weight_decay": "weight_decay",
}
EVAL_BATCH_SIZE = 128


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``train`` and ``eval``."""
    p = subparsers.add_parser(
        "train", help="train a spiking (or ANN baseline) model on SHD-layout data",
        description="Train a model with surrogate gradients (paper 1 recipe). Works under torchrun (DDP) too.",
    )
    p.add_argument("--data", required=True, help="data directory: train.h5, test.h5 and optionally valid.h5")
    p.add_argument("-o", "--out", required=True, help="run directory (model.pt, last.pt, metrics.jsonl, summary.json)")
    p.add_argument("--model", help="lif, adlif, rlif, radlif, mthr_lif, cuba_lif, spikgru, mlp, rnn, libru, gru")
    p.add_argument("--layers", type=int, help="layers including the readout (default 3)")
    p.add_argument("--hidden", type=int, help="neurons per hidden layer (default 128)")
    p.add_argument("--epochs", type=int, help="total epochs (default 30; with --resume: may be raised)")
    p.add_argument("--batch-size", type=int, help="global batch size (default 64), split over torchrun ranks")
    p.add_argument("--lr", type=float, help="Adam learning rate (default 0.01 on spikes, 0.001 on graded input)")
    p.add_argument("--seed", type=int, help="seed of weights, validation split and data order (default 0)")
    p.add_argument("--device", choices=("cpu", "cuda"), help="default cpu")
    p.add_argument("--dropout", type=float, help="dropout on hidden spikes (default 0.1)")
    p.add_argument("--surrogate", help="boxcar (default), triangle, sigmoid, gaussian, multi_gaussian, superspike")
    p.add_argument("--readout", help="cumsoftmax (default), spike_count, last, max")
    p.add_argument("--sparsity", type=float, help="fraction of weights removed by fixed random masks (default 0)")
    p.add_argument("--no-batch-norm", dest="batch_norm", action="store_const", const=False, help="no batch-norm")
    p.add_argument("--bias", dest="bias", action="store_const", const=True, help="biases in the synapses")
    p.add_argument("--reset", choices=RESETS, help="cuba_lif reset: subtract (default, paper 2) or zero "
                   "(Lava/Loihi hard reset; needed for netx export)")
    p.add_argument("--shared-decays", dest="shared_decays", action="store_const", const=True,
                   help="one decay per layer instead of per neuron (as Lava's LIF; needed for netx export)")
    p.add_argument("--time-steps", type=int, help="time bins per sample (default 100)")
    p.add_argument("--duration", type=float, help="seconds covered by the bins (default 1.4)")
    p.add_argument("--binary", action="store_const", const=True, help="clip spike counts per bin to 1")
    p.add_argument("--max-over-time-loss", action="store_const", const=True,
                   help="cross-entropy on max_t of the readout potential (paper 2)")
    p.add_argument("--valid-fraction", type=float, help="validation fraction carved from train without valid.h5 (0.1)")
    p.add_argument("--weight-decay", type=float, help="Adam weight decay (default 0)")
    p.add_argument("--limit-train", type=int, metavar="N", help="train on a seeded subset of N samples (quick runs)")
    p.add_argument("--resume", action="store_true", help="continue the run in -o where it stopped")
    p.add_argument("--force", action="store_true", help="start over in a non-empty -o (removes the earlier run's files)")
    p.set_defaults(func=_train)

    e = subparsers.add_parser("eval", help="accuracy of a trained model.pt on a data split")
    e.add_argument("checkpoint", help="a model.pt (or last.pt) written by snn-deploy train")
    e.add_argument("--data", required=True, help="data directory (or one SHD-layout .h5 file)")
    e.add_argument("--split", default="test", choices=("train", "valid", "test"), help="default test")
    e.add_argument("--batch-size", type=int, default=EVAL_BATCH_SIZE,
                   help=f"samples per forward pass (default {EVAL_BATCH_SIZE}); only speed and memory depend on it")
    e.add_argument("--device", choices=("cpu", "cuda"), default="cpu", help="default cpu")
    add_json_options(e, "the result", default_file="eval-<split>.json next to the checkpoint", legacy_path=True)
    e.add_argument("--force", action="store_true", help="replace a --json-out file that eval did not write")
    e.set_defaults(func=_eval)

    x = subparsers.add_parser(
        "export", help="write a trained spiking model.pt as the float network IR (HDF5)",
        description="Export a trained spiking model to the network IR (batch-norm folded), the file every "
                    "later stage reads; `snn-deploy convert` does this itself, this command is for inspection "
                    "and for other tools.")
    x.add_argument("checkpoint", help="a model.pt written by snn-deploy train")
    x.add_argument("-o", "--out", required=True, help="output .h5 file")
    x.add_argument("--force", action="store_true", help="replace an -o file that is not a network IR")
    x.set_defaults(func=_export)


def _given(args: argparse.Namespace, mapping: dict[str, str]) -> dict[str, object]:
    return {field: getattr(args, opt) for opt, field in mapping.items() if getattr(args, opt) is not None}


def _train(args: argparse.Namespace) -> int:
    import contextlib

    from snn_deploy.errors import SnnDeployError, UsageError
    from snn_deploy.outdir import lock
    from snn_deploy.train.config import ModelConfig

    check_positive(args, "epochs", "batch_size", "layers", "hidden", "time_steps")
    if args.resume and args.force:
        raise UsageError("--resume and --force contradict each other: pick one")
    if args.model is None and not args.resume:
        raise UsageError("--model is required for a new run (e.g. --model radlif)")
    if not args.resume:
        try:  # the options alone (the data's sizes come later): a bad value is a usage error, found before torch
            ModelConfig(input_size=1, num_classes=2, **_given(args, MODEL_OPTIONS))
        except SnnDeployError as exc:
            raise UsageError(str(exc)) from None
    # take the run directory before torch loads (seconds), so a second train on it fails at once
    with lock(args.out, "train") if _rank() == 0 else contextlib.nullcontext():
        return _train_locked(args)


def _train_locked(args: argparse.Namespace) -> int:
    from snn_deploy.train.api import train
    from snn_deploy.train.loop import format_summary

    options = {**_given(args, MODEL_OPTIONS), **_given(args, TRAIN_OPTIONS)}
    trained = train(args.data, out=args.out, resume=args.resume, force=args.force, progress=not args.quiet,
                    **options)
    if trained.result.world_size == 1 or _rank() == 0:
        print(format_summary(trained.result))
    return 0


def check_positive(args: argparse.Namespace, *names: str) -> None:
    """Size options given must be >= 1 (a 0 must not become 1 somewhere downstream): exit 2 naming it."""
    from snn_deploy.errors import UsageError

    for name in names:
        value = getattr(args, name)
        if value is not None and value < 1:
            raise UsageError(f"--{name.replace('_', '-')}: must be a positive integer, got {value}")


def _rank() -> int:
    import os

    return int(os.environ.get("RANK", "0") or 0)


def _eval(args: argparse.Namespace) -> int:
    from snn_deploy.outdir import check_output_file
    from snn_deploy.train.evaluate import evaluate_checkpoint

    check_positive(args, "batch_size")
    out = json_out_path(args) or Path(args.checkpoint).parent / f"eval-{args.split}.json"
    check_output_file(out, "eval", force=args.force, ours=_is_eval_result)
    result = evaluate_checkpoint(args.checkpoint, args.data, args.split, batch_size=args.batch_size,
                                 device=args.device, show_progress=not args.quiet)
    check_output_file(out, "eval", force=args.force, ours=_is_eval_result)  # again: it may have appeared since
    out = write_json_out(out, result)
    if print_json(args, result):
        return 0
    print(
        f"{result['model']} on {result['data']} ({result['split']}): accuracy {result['accuracy']:.2%} "
        f"({result['correct']}/{result['samples']}), loss {result['loss']:.4f}; wrote {out}"
    )
    return 0


def _is_eval_result(path: Path) -> bool:
    """An eval --json file: a JSON object with the keys eval writes."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return False
    return isinstance(data, dict) and {"model", "split", "accuracy", "samples"} <= set(data)


def _export(args: argparse.Namespace) -> int:
    from snn_deploy.ir import is_network_file, save_network
    from snn_deploy.outdir import check_output_file

    check_output_file(args.out, "export", force=args.force, ours=is_network_file)
    from snn_deploy.train.export import checkpoint_to_ir

    net = checkpoint_to_ir(args.checkpoint)
    path = save_network(net, args.out)
    layers = ", ".join(f"{p.name} {p.model} {p.size}" for p in net.layer_order())
    print(f"exported {args.checkpoint} -> {path} (float IR: {layers}; {len(net.dense_nodes())} synapse matrices)")
    return 0
