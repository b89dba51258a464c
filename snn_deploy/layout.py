"""The name of every file a command writes, defined once (stages, ``demo``, tests import them).

The pipeline on disk (``snn-deploy demo`` makes all of it)::

    DATA/                       snn-deploy data synth-digits -o DATA
        train.h5, test.h5       split_file(split) the spike splits (SHD layout)
        synth.json              SYNTH_RECORD      how the corpus was made
    RUN/                        snn-deploy train -o RUN
        run.json                TRAIN_RECORD      configs + data, "status": running|complete (resume reads it)
        metrics.jsonl           METRICS           one JSON line per finished epoch
        last.pt                 LAST_CHECKPOINT   the last epoch with the whole training state
        model.pt                BEST_CHECKPOINT   the best epoch's weights (what convert reads)
        summary.json            TRAIN_SUMMARY     written last: a run without it did not finish
        eval-<split>.json       eval_report(split) snn-deploy eval's result, next to the checkpoint
    OUT/                        snn-deploy convert RUN/model.pt -o OUT
        network.h5              NETWORK           the fixed IR (what run and energy read)
        network_float.h5        FLOAT_NETWORK     the float IR
        quantization.json       QUANTIZATION      per-layer precision, rules, float vs fixed accuracy
        summary.txt             CONVERT_SUMMARY   the human summary
        netx.net                NETX              lava-dl netx HDF5, when expressible
        model.nir               NIR               with --export nir
        model.onnx              ONNX              with --export onnx (ANN baselines)
        activity.h5             ACTIVITY          snn-deploy run: every layer's spikes, readout potentials
        run.json                RUN_RECORD        snn-deploy run: accuracy, firing rates, timing
    ENERGY/                     snn-deploy energy -o ENERGY
        energy.json, energy.md  ENERGY_JSON, ENERGY_MD
        energy_per_layer.png    PLOT_ENERGY_PER_LAYER
        accuracy_vs_ops.png     PLOT_ACCURACY_VS_OPS

Two records are called ``run.json``: the training run's (``TRAIN_RECORD``, in RUN/) and the
simulation run's (``RUN_RECORD``, in OUT/ or ``run --output``). They never share a directory, and
the training name stays because ``train --resume`` reads it from the run directories already made.
"""
from __future__ import annotations

# data: a data directory (SHD layout)
SYNTH_RECORD = "synth.json"


def split_file(split: str) -> str:
    """The spike file of ``split`` ("train", "valid", "test") in an SHD-layout data directory."""
    return f"{split}.h5"


# train: the run directory
TRAIN_RECORD = "run.json"
METRICS = "metrics.jsonl"
LAST_CHECKPOINT = "last.pt"
BEST_CHECKPOINT = "model.pt"
TRAIN_SUMMARY = "summary.json"
EVAL_REPORT_PATTERN = "eval-*.json"

# convert: OUT/
NETWORK = "network.h5"
FLOAT_NETWORK = "network_float.h5"
QUANTIZATION = "quantization.json"
CONVERT_SUMMARY = "summary.txt"
NETX = "netx.net"
NIR = "model.nir"
ONNX = "model.onnx"

# run: OUT/ (or --output DIR)
ACTIVITY = "activity.h5"
RUN_RECORD = "run.json"

# energy: its -o directory
ENERGY_JSON = "energy.json"
ENERGY_MD = "energy.md"
PLOT_ENERGY_PER_LAYER = "energy_per_layer.png"
PLOT_ACCURACY_VS_OPS = "accuracy_vs_ops.png"

# demo: its --out directory (beside the stages' directories)
DEMO_SUMMARY_JSON = "summary.json"
DEMO_SUMMARY_MD = "summary.md"


def eval_report(split: str) -> str:
    """``snn-deploy eval``'s default result file for ``split`` (matches ``EVAL_REPORT_PATTERN``)."""
    return f"eval-{split}.json"
