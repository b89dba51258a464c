"""ANN baselines to compare against: by name (equations), from a trained checkpoint, or from ONNX.

A ``--baseline`` spec is one of:

- ``gru`` | ``rnn`` | ``mlp`` | ``libru``: that ANN with the SNN's shape (same input size, same
  number and size of hidden layers, same classes), counted from its equations (``analytic``);
- ``gru:3x128``: an explicit shape in ``ModelConfig`` terms (``layers x hidden``; ``layers`` counts
  the readout, as paper 1 and ``train/models.py`` do: 3x128 is two hidden layers of 128);
- ``PATH.pt``: a checkpoint written by ``snn-deploy train`` of an ANN model; its ``ModelConfig``
  gives the shape and its metadata the test accuracy;
- ``PATH.onnx``: any ONNX graph, counted node by node (``onnx_count``).

Every baseline is counted for one inference over the same number of input frames as the SNN run.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from snn_deploy.errors import SnnDeployError
from snn_deploy.ir import Network

from snn_deploy.energy.analytic import ANN_LAYER_OPS, LayerOps, OpCount, ann_network_ops, total_ops

SPEC_RE = re.compile(r"^(?P<kind>[a-z]+)(:(?P<layers>\d+)x(?P<hidden>\d+))?$")


@dataclass(frozen=True)
class SnnShape:
    """The shape an equation baseline copies from the SNN."""

    input_size: int
    hidden: int
    hidden_layers: int
    num_classes: int

    @classmethod
    def of(cls, net: Network) -> "SnnShape":
        pops = net.layer_order()
        hidden = [p.size for p in pops if p.name != net.output().name]
        if not hidden:
            raise SnnDeployError("the network has no hidden population: nothing to copy an ANN baseline's shape from")
        if len(set(hidden)) != 1:
            raise SnnDeployError(
                f"hidden populations have different sizes {hidden}; give the baseline's shape explicitly, e.g. gru:3x{max(hidden)}")
        return cls(net.inputs()[0].size, hidden[0], len(hidden), net.output().size)


@dataclass
class Baseline:
    name: str
    source: str
    layers: list[LayerOps]
    accuracy: Optional[float] = None
    notes: list[str] = field(default_factory=list)
    unsupported: dict[str, list[str]] = field(default_factory=dict)

    @property
    def ops(self) -> OpCount:
        return total_ops(self.layers)


def equation_baseline(kind: str, shape: SnnShape, steps: int, readout: str = "cumsoftmax",
                      label: Optional[str] = None) -> Baseline:
    layers = ann_network_ops(kind, shape.input_size, shape.hidden, shape.hidden_layers, shape.num_classes,
                             steps, readout=readout)
    name = label or f"{kind} {shape.hidden_layers + 1}x{shape.hidden}"
    return Baseline(name, "equations (analytic.py)", layers, notes=[
        f"{name}: {shape.hidden_layers} hidden layer(s) of {shape.hidden} on {shape.input_size} inputs, "
        f"{shape.num_classes} classes, {steps} frames, readout {readout}; counted from its equations"])


def checkpoint_baseline(path: Path, steps: int) -> Baseline:
    from snn_deploy.train.checkpoint import load_checkpoint
    from snn_deploy.train.sizes import check_config_fits_weights

    ckpt = load_checkpoint(path)
    cfg = ckpt.model_config
    check_config_fits_weights(cfg, ckpt.state_dict, path)  # the counted shape is the config's: it must be true
    if cfg.model not in ANN_LAYER_OPS:
        raise SnnDeployError(f"{path}: holds a {cfg.model!r} model; a baseline must be an ANN ({', '.join(ANN_LAYER_OPS)})")
    shape = SnnShape(int(cfg.input_size), int(cfg.hidden), int(cfg.layers) - 1, int(cfg.num_classes))
    readout = cfg.readout if cfg.readout != "spike_count" else "cumsoftmax"
    b = equation_baseline(cfg.model, shape, steps, readout, label=f"{cfg.model} {cfg.layers}x{cfg.hidden} ({path.name})")
    b.source = f"checkpoint {path}"
    acc = (ckpt.meta.get("accuracies") or {}).get("test")
    b.accuracy = float(acc) if acc is not None else None
    if b.accuracy is None:
        b.notes.append(f"{path}: no test accuracy in the checkpoint's metadata")
    return b


def onnx_baseline(path: Path, steps: int, dims: Optional[dict[str, int]] = None,
                  allow_unsupported: bool = False) -> Baseline:
    from snn_deploy.energy.onnx_count import count_onnx

    c = count_onnx(path, dims=dims, steps=steps, allow_unsupported=allow_unsupported)
    notes = [f"{path.name}: {n}" for n in c.notes]
    if c.folded:
        notes.append(f"{path.name}: constant-folded (not counted): " + ", ".join(f"{k} x{v}" for k, v in sorted(c.folded.items())))
    if c.unsupported:
        notes.append(f"{path.name}: NOT COUNTED (unsupported): " + ", ".join(f"{k} x{len(v)}" for k, v in sorted(c.unsupported.items())))
    label = f"{path.parent.name}/{path.name}" if path.parent.name else path.name
    return Baseline(label, f"onnx {path}", c.layers(), notes=notes, unsupported=c.unsupported)


def resolve_baseline(spec: str, shape: Optional[SnnShape], steps: int, dims: Optional[dict[str, int]] = None,
                     allow_unsupported: bool = False) -> Baseline:
    """Turn one ``--baseline`` spec into counted layers (see the module docstring)."""
    path = Path(spec)
    if spec.endswith(".onnx"):
        return onnx_baseline(path, steps, dims, allow_unsupported)
    if spec.endswith((".pt", ".pth")):
        if not path.exists():
            raise SnnDeployError(f"{path}: no such checkpoint")
        return checkpoint_baseline(path, steps)
    match = SPEC_RE.match(spec.strip().lower())
    if not match or match["kind"] not in ANN_LAYER_OPS:
        raise SnnDeployError(
            f"unknown baseline {spec!r}: use one of {', '.join(ANN_LAYER_OPS)} (optionally KIND:LAYERSxHIDDEN, "
            "e.g. gru:3x128), a checkpoint .pt or an .onnx file")
    if match["layers"]:
        layers, hidden = int(match["layers"]), int(match["hidden"])
        if layers < 2 or hidden < 1:
            raise SnnDeployError(f"baseline {spec!r}: LAYERS counts the readout and must be >= 2, HIDDEN >= 1")
        if shape is None:
            raise SnnDeployError(f"baseline {spec!r} needs the SNN's input size and classes")
        shape = SnnShape(shape.input_size, hidden, layers - 1, shape.num_classes)
    elif shape is None:
        raise SnnDeployError(f"baseline {spec!r} copies the SNN's shape, which is unknown here")
    return equation_baseline(match["kind"], shape, steps)
