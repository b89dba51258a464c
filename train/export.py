"""Export a trained spiking model to the float network IR (``snn_deploy.ir``), batch-norm folded.

Graph of a model with hidden layers ``h1 .. hL`` (names are part of the contract downstream):

    input ──fc1──> h1 ──fc2──> h2 ... hL ──fc_out──> readout
                   ↺ rec1       ↺ rec2                          (recurrent models: V / U, zero diagonal)
    (spikgru)  input ──gate1──> h1 [port "gate"],  h1 ──rec_gate1──> h1 [port "gate"]

- ``fc*``/``gate*``: ``BN(W x + b)`` in eval mode folded into ``W' = diag(g) W``,
  ``b' = g (b - μ) + β``, ``g = γ / sqrt(σ² + ε)`` (running statistics); the sparsity mask, if any,
  is already multiplied in and also stored as ``DenseNode.mask``.
- ``rec*``: the effective recurrent weight (diagonal 0, mask applied), no bias.
- Neuron populations carry the CLAMPED per-neuron parameters (what the forward pass uses) and
  ``threshold`` (1.0) as float32 arrays of ``size`` values; ``cuba_lif`` carries its reset rule.
- The readout is ``NeuronNode("readout", "li")`` (``"lif"`` for the ``spike_count`` readout).
- ``meta``: ``model``, ``readout`` (mode), ``num_classes``, ``output`` (``"readout"``), ``input``
  (``"input"``), ``config`` (the ModelConfig as a dict), plus the caller's ``meta``; the input
  encoding comes from ``meta["encoding"]`` (``"spikes"`` default, or ``"graded"``).

ANNs are not expressible in this IR: they export to ONNX (``torch.onnx``) instead.
"""
from __future__ import annotations

from typing import Any, Optional

import numpy as np
from torch import nn

from snn_deploy.errors import SnnDeployError
from snn_deploy.ir import ENCODINGS, DenseNode, Edge, InputNode, Network, NeuronNode

from snn_deploy.train.config import ANN_MODELS, ModelConfig
from snn_deploy.train.layers import FeedForward, Recurrent
from snn_deploy.train.neurons import THRESHOLD, NeuronModel

INPUT_NAME = "input"
OUTPUT_NAME = "readout"


def model_to_ir(model: nn.Module, cfg: Optional[ModelConfig] = None, meta: Optional[dict[str, Any]] = None) -> Network:
    """The float IR of a spiking ``model`` built by ``build_model`` (eval-mode semantics)."""
    cfg = cfg if cfg is not None else getattr(model, "cfg", None)
    if cfg is None:
        raise SnnDeployError("model_to_ir needs the model's ModelConfig (model.cfg or the cfg argument)")
    if cfg.model in ANN_MODELS:
        raise SnnDeployError(
            f"model {cfg.model!r} is an ANN baseline: ANNs export to ONNX (torch.onnx), not to the spiking network IR")
    meta = dict(meta or {})
    encoding = meta.pop("encoding", "spikes")
    if encoding not in ENCODINGS:
        raise SnnDeployError(f"meta['encoding'] must be one of {ENCODINGS}, got {encoding!r}")

    nodes: list[Any] = [InputNode(INPUT_NAME, int(cfg.input_size), encoding=encoding)]
    edges: list[Edge] = []
    prev = INPUT_NAME
    for i, layer in enumerate(model.layers, start=1):
        pop = f"h{i}"
        _add_dense(nodes, edges, f"fc{i}", layer.ff, prev, pop, "input")
        if layer.rec is not None:
            _add_recurrent(nodes, edges, f"rec{i}", layer.rec, pop, "input")
        if layer.ff_gate is not None:
            _add_dense(nodes, edges, f"gate{i}", layer.ff_gate, prev, pop, "gate")
        if layer.rec_gate is not None:
            _add_recurrent(nodes, edges, f"rec_gate{i}", layer.rec_gate, pop, "gate")
        nodes.append(_neurons(pop, layer.neuron, layer.params.values(), layer.size, reset=layer.reset))
        prev = pop

    ro = model.readout
    _add_dense(nodes, edges, "fc_out", ro.ff, prev, OUTPUT_NAME, "input")
    nodes.append(_neurons(OUTPUT_NAME, ro.neuron, ro.params.values(), int(cfg.num_classes)))

    info = {"model": cfg.model, "readout": cfg.readout, "num_classes": int(cfg.num_classes),
            "output": OUTPUT_NAME, "input": INPUT_NAME, "config": cfg.to_dict()}
    info.update(meta)
    return Network(nodes=nodes, edges=edges, meta=info).validate()


def _add_dense(nodes: list, edges: list, name: str, ff: FeedForward, source: str, target: str, port: str) -> None:
    weight, bias = ff.folded()
    has_bias = ff.norm is not None or ff.linear.bias is not None
    mask = ff.mask.detach().numpy().astype(bool) if ff.mask is not None else None
    nodes.append(DenseNode(name, weight, bias if has_bias else None, mask=mask))
    edges += [Edge(source, name), Edge(name, target, port)]


def _add_recurrent(nodes: list, edges: list, name: str, rec: Recurrent, pop: str, port: str) -> None:
    weight = rec.effective().detach().float().numpy().copy()
    mask = rec.keep.detach().numpy().astype(bool) if rec.has_mask() else None
    nodes.append(DenseNode(name, weight, None, mask=mask))
    edges += [Edge(pop, name), Edge(name, pop, port)]


def _neurons(name: str, neuron: NeuronModel, values: dict, size: int, reset: str = "subtract") -> NeuronNode:
    params = {k: v.detach().float().numpy().copy() for k, v in values.items()}
    if neuron.spiking:
        params["threshold"] = np.full(size, THRESHOLD, dtype=np.float32)
    return NeuronNode(name, neuron.name, size, params=params, reset=reset)


#: checkpoint meta keys that travel into the IR's meta (how ``run`` must bin data for this network)
DATA_META_KEYS = ("time_steps", "duration", "binary")


def ir_meta_from_checkpoint(meta: dict[str, Any], checkpoint) -> dict[str, Any]:
    """The IR meta a checkpoint's model exports with: input encoding, data binning, provenance."""
    return {"encoding": str(meta.get("input_kind", "spikes")), "checkpoint": str(checkpoint),
            **{k: meta[k] for k in DATA_META_KEYS if k in meta}}


def checkpoint_to_ir(checkpoint) -> Network:
    """Load a ``model.pt`` (or a sparch checkpoint, train/sparch_import.py) and export its spiking model
    to the float IR (ANNs raise SnnDeployError)."""
    from snn_deploy.train.sparch_import import load_any_checkpoint

    model, cfg, meta = load_any_checkpoint(checkpoint)
    if not cfg.spiking:
        raise SnnDeployError(f"{checkpoint}: model {cfg.model!r} is an ANN baseline; only spiking models "
                             "export to the network IR (export ANNs to ONNX with `snn-deploy convert --export onnx`)")
    return model_to_ir(model, cfg, ir_meta_from_checkpoint(meta, checkpoint))
