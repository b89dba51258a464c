"""Run a FLOAT network IR in PyTorch, reusing the neuron step functions of ``train/neurons``.

Semantics (``snn_deploy.ir``): feed-forward denses act within the same time step
(``I[t] = W x[t] + b``, ``x[t]`` being the source's output at step ``t``), recurrent denses (source
== target population) carry the previous step's spikes (``V s[t-1]``); denses on a population's
``gate`` port form SpikGRU's gate stimulus. Since the IR has no feed-forward cycles, each
population is run over the whole sequence in ``layer_order()``, with the one time loop
``train.layers.scan`` that the training layers use.

``run_float_network(model_to_ir(model), x)`` equals ``model(x)`` in eval mode: that is the test
that batch-norm folding and the export are right.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional, Union

import numpy as np
import torch
import torch.nn.functional as F

from snn_deploy.errors import SnnDeployError
from snn_deploy.ir import DEFAULT_READOUT, DenseNode, Network, NeuronNode

from snn_deploy.train.layers import scan
from snn_deploy.train.neurons import get_neuron_model
from snn_deploy.train.readout import readout_logits
from snn_deploy.train.surrogate import heaviside


@dataclass
class FloatRun:
    """``spikes``: per spiking population ``[B, T, N]``; ``potentials``: per population the membrane
    potential (``u``, or ``v`` for cuba_lif/spikgru) ``[B, T, N]``; ``readout``: the output
    population's potential ``[B, T, K]``; ``logits [B, K]`` by the readout mode in ``net.meta``."""

    spikes: dict[str, torch.Tensor]
    potentials: dict[str, torch.Tensor]
    readout: torch.Tensor
    logits: torch.Tensor
    meta: dict[str, Any] = field(default_factory=dict)


def run_float_network(net: Network, x: Union[torch.Tensor, np.ndarray], readout: Optional[str] = None) -> FloatRun:
    """Run ``net`` (float IR) on ``x [B, T, C]``; ``readout`` overrides ``net.meta['readout']``."""
    if net.is_fixed:
        raise SnnDeployError("run_float_network runs a float network IR; this one is fixed point "
                             f"(profile {net.precision.profile!r}): use the integer emulator")  # type: ignore[union-attr]
    net.validate()
    inputs = net.inputs()
    if len(inputs) != 1:
        raise SnnDeployError(f"run_float_network supports one input node, the network has {len(inputs)}")
    x = torch.as_tensor(np.asarray(x) if not isinstance(x, torch.Tensor) else x).float()
    if x.dim() != 3 or x.shape[2] != inputs[0].size:
        raise SnnDeployError(
            f"input must be [batch, time, {inputs[0].size}] for input node {inputs[0].name!r}, got shape {tuple(x.shape)}")

    outputs: dict[str, torch.Tensor] = {inputs[0].name: x}
    spikes: dict[str, torch.Tensor] = {}
    potentials: dict[str, torch.Tensor] = {}
    with torch.no_grad():
        for pop in net.layer_order():
            out, pot = _run_population(net, pop, outputs, x)
            outputs[pop.name] = out
            potentials[pop.name] = pot
            if pop.spiking:
                spikes[pop.name] = out
    output = net.output()
    mode = readout or net.meta.get("readout", DEFAULT_READOUT)
    potential = potentials[output.name]
    logits = readout_logits(potential, mode, spikes.get(output.name))
    return FloatRun(spikes=spikes, potentials=potentials, readout=potential, logits=logits, meta=dict(net.meta))


def _run_population(net: Network, pop: NeuronNode, outputs: dict[str, torch.Tensor],
                    x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    neuron = get_neuron_model(pop.model)
    B, T = x.shape[:2]
    stimuli = {}
    for port in pop.ports:
        ff = x.new_zeros(B, T, pop.size)
        rec: Optional[torch.Tensor] = None
        for dense in net.incoming(pop.name, port):
            w = _weight(dense)
            if net.is_recurrent(dense.name):
                if dense.bias is not None and np.any(dense.bias):
                    raise SnnDeployError(f"recurrent dense {dense.name!r} has a bias: put it on a feed-forward dense")
                rec = w if rec is None else rec + w
            else:
                b = torch.as_tensor(dense.bias, dtype=torch.float32) if dense.bias is not None else None
                ff = ff + F.linear(outputs[net.source_of(dense.name)], w, b)
        stimuli[port] = (ff, rec)
    params = neuron.make_params({k: torch.as_tensor(np.asarray(v), dtype=torch.float32) for k, v in pop.params.items()},
                                reset=pop.reset)
    ff, rec = stimuli["input"]
    gate_ff, gate_rec = stimuli.get("gate", (None, None))
    out, pot = scan(neuron, params, ff, heaviside, V=rec, I_gate_ff=gate_ff, V_gate=gate_rec, record_potential=True)
    return out, pot  # type: ignore[return-value]


def _weight(dense: DenseNode) -> torch.Tensor:
    w = np.asarray(dense.weight, dtype=np.float32)
    if dense.mask is not None:
        w = w * np.asarray(dense.mask, dtype=np.float32)
    return torch.as_tensor(w)
