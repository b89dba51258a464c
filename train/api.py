"""``snn_deploy.train(data, model=..., ...)``: the Python API of training (``snn-deploy train`` calls it).

Options are the fields of ``ModelConfig`` (architecture: ``layers``, ``hidden``, ``dropout``, ...)
and of ``TrainConfig`` (``epochs``, ``batch_size``, ``lr``, ``time_steps``, ...) by name; ``seed``
sets both. Options left out take the configs' defaults (or, with ``resume=True``, the stored run's).

The trainer works in a run directory (``model.pt`` best epoch, ``last.pt`` for resuming,
``metrics.jsonl``, ``summary.json``): ``out`` names it; without ``out`` a new temporary directory
(``snn-deploy-train-*`` in the system's temp folder) is made and kept, its path in the result.
"""
from __future__ import annotations

import dataclasses
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional, Union

from snn_deploy.errors import UsageError
from snn_deploy.train.config import ModelConfig, TrainConfig

#: ModelConfig fields an option may set (input_size and num_classes come from the data)
MODEL_FIELDS = frozenset(f.name for f in dataclasses.fields(ModelConfig)) - {"input_size", "num_classes"}
TRAIN_FIELDS = frozenset(f.name for f in dataclasses.fields(TrainConfig))


@dataclass
class TrainedModel:
    """What ``train`` returns: the best epoch's checkpoint, its run directory and the run's metrics."""

    checkpoint: Path                      #: run_dir/model.pt (best validation epoch, stamped with test accuracy)
    run_dir: Path
    result: Any                           #: ``train.rundir.TrainResult`` (also run_dir/summary.json)

    @property
    def metrics(self) -> dict[str, Any]:
        return self.result.to_dict()

    @property
    def test_accuracy(self) -> float:
        return float(self.result.test_acc)

    def load(self, device: str = "cpu"):
        """The trained PyTorch module (eval mode), rebuilt from the checkpoint."""
        from snn_deploy.train.checkpoint import load_model

        return load_model(self.checkpoint, device=device)[0]

    def __fspath__(self) -> str:          # so a TrainedModel goes wherever a checkpoint path does
        return str(self.checkpoint)


def split_options(options: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(model options, train options)`` from one dict of option names; unknown names are an error."""
    unknown = sorted(set(options) - MODEL_FIELDS - TRAIN_FIELDS)
    if unknown:
        raise UsageError(f"unknown training option(s) {', '.join(unknown)}; model options: "
                         f"{', '.join(sorted(MODEL_FIELDS))}; training options: {', '.join(sorted(TRAIN_FIELDS))}")
    model = {k: v for k, v in options.items() if k in MODEL_FIELDS and v is not None}
    train = {k: v for k, v in options.items() if k in TRAIN_FIELDS and v is not None}
    return model, train


def train(data: Union[str, os.PathLike], *, out: Optional[Union[str, os.PathLike]] = None, resume: bool = False,
          force: bool = False, progress: bool = True, **options: Any) -> TrainedModel:
    """Train a model on the SHD-layout data in ``data`` (train.h5, test.h5, optional valid.h5).

    ``options``: ModelConfig / TrainConfig fields, e.g. ``model="radlif", layers=3, hidden=128,
    epochs=30``. ``resume``: continue the run in ``out`` where it stopped; ``force``: start over in
    a non-empty ``out``. ``progress``: progress bars (only ever drawn on a terminal). Epoch lines go
    to the ``snn_deploy`` logger (INFO). Under ``torchrun`` every rank calls this alike.
    """
    from snn_deploy.errors import SnnDeployError
    from snn_deploy.train.loop import train as run_trainer
    from snn_deploy.train.rundir import BEST

    model_options, train_options = split_options(options)
    if resume and force:
        raise UsageError("--resume and --force contradict each other: pick one")
    if "model" not in model_options and not resume:
        raise UsageError("--model is required for a new run (e.g. --model radlif)")
    if out is None:
        if resume:
            raise SnnDeployError("resume=True needs out=, the run directory to resume")
        out = tempfile.mkdtemp(prefix="snn-deploy-train-")
    result = run_trainer(out, data, TrainConfig(**train_options), model_options, resume=resume, force=force,
                         show_progress=progress, explicit=set(train_options))
    return TrainedModel(checkpoint=Path(out) / BEST, run_dir=Path(out), result=result)
