"""ONNX export of the ANN baselines (mlp, rnn, libru, gru) through ``torch.onnx.export``.

The exported graph is the model in eval mode (batch-norm on running statistics, no dropout) with
one input and two outputs:

- ``input``   ``[batch, time_steps, input_size]`` float32 (batch is a dynamic axis);
- ``logits``  ``[batch, num_classes]``: what the model's ``ModelOutput.logits`` holds;
- ``readout`` ``[batch, time_steps, num_classes]``: the per-step readout (``ModelOutput.readout``).

The per-step recurrences of rnn/libru are Python loops, which tracing unrolls: the time axis is
therefore fixed to ``time_steps`` (the GRU becomes one ONNX ``GRU`` node). The file is checked with
``onnx.checker.check_model`` before it is moved into place (atomically).

Spiking models are not ONNX's business: they go to the network IR, netx HDF5 and NIR.
"""
from __future__ import annotations

import inspect
import warnings
from pathlib import Path
from typing import Union

import torch

from snn_deploy.atomic import atomic_path
from snn_deploy.errors import SnnDeployError
from snn_deploy.train.config import ANN_MODELS, ModelConfig

#: Lowest opset that has every operator the baselines need (Softplus, GRU with linear_before_reset,
#: CumSum with a tensor axis); torch 2.3's exporter writes it fully.
ONNX_OPSET = 17
INPUT_NAME = "input"
OUTPUT_NAMES = ("logits", "readout")


class OnnxExportError(SnnDeployError):
    """The model cannot be exported to ONNX (a spiking model, a bad time length, an export failure)."""


#: torch >= 2.9 exports through torch.export by default, which needs the onnxscript package; the
#: TorchScript exporter (torch 2.3-2.8's default) gives the same graph on every torch we support.
TORCHSCRIPT_EXPORTER = {"dynamo": False} if "dynamo" in inspect.signature(torch.onnx.export).parameters else {}


def export_onnx(model: torch.nn.Module, cfg: ModelConfig, path: Union[str, Path], time_steps: int,
                opset: int = ONNX_OPSET) -> Path:
    """Write ``model`` (an ANN of ``build_model(cfg)``) as a checked ONNX file at ``path``."""
    import onnx

    if cfg.model not in ANN_MODELS:
        raise OnnxExportError(
            f"model {cfg.model!r} is spiking: ONNX export is for the ANN baselines ({', '.join(ANN_MODELS)}); "
            "spiking models export to the network IR, netx HDF5 (netx.net) and NIR")
    if int(time_steps) <= 0:
        raise OnnxExportError(f"time_steps must be a positive number of steps, got {time_steps}")
    if opset < 14:
        raise OnnxExportError(f"opset {opset} is too old: the ANN baselines need opset >= 14")
    was_training = model.training
    wrapper = _LogitsAndReadout(model).eval()
    example = torch.zeros(1, int(time_steps), int(cfg.input_size), dtype=torch.float32)
    path = Path(path)
    try:
        with atomic_path(path) as tmp, torch.no_grad(), warnings.catch_warnings():
            # tracing warns about shape checks and GRU batch sizes; the checks below verify the result
            warnings.simplefilter("ignore", torch.jit.TracerWarning)
            warnings.filterwarnings("ignore", message="Exporting a model to ONNX with a batch_size other than 1")
            warnings.filterwarnings("ignore", message="You are using the legacy TorchScript-based ONNX export")
            torch.onnx.export(
                wrapper, (example,), str(tmp), opset_version=opset, **TORCHSCRIPT_EXPORTER,
                input_names=[INPUT_NAME], output_names=list(OUTPUT_NAMES),
                dynamic_axes={INPUT_NAME: {0: "batch"}, OUTPUT_NAMES[0]: {0: "batch"}, OUTPUT_NAMES[1]: {0: "batch"}},
                do_constant_folding=True,
            )
            try:
                onnx.checker.check_model(onnx.load(str(tmp)), full_check=True)
            except onnx.checker.ValidationError as exc:
                raise OnnxExportError(f"{path}: the exported ONNX graph of {cfg.model!r} failed onnx.checker: {exc}") from None
    finally:
        model.train(was_training)
    return path


class _LogitsAndReadout(torch.nn.Module):
    """``x -> (logits, readout)``: plain tensors instead of a ``ModelOutput`` record."""

    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        out = self.model(x)
        return out.logits, out.readout
