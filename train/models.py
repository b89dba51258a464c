"""The model zoo: ``build_model(cfg)`` builds any model of ``ModelConfig.model``, seeded from ``cfg.seed``.

Spiking models (paper 1: LIF, adLIF, RLIF, RadLIF, moving-threshold LIF; paper 2: CUBA-LIF, SpikGRU):

=========== ============ ==========================================================
model        neurons      recurrent synapses
=========== ============ ==========================================================
lif          lif          no
rlif         lif          V, zero diagonal (paper 1 Eq. 12)
adlif        adlif        no
radlif       adlif        V, zero diagonal
mthr_lif     mthr_lif     no
cuba_lif     cuba_lif     U (paper 2 Eq. 3), zero diagonal; reset from ``cfg.reset``
spikgru      spikgru      U_i and U_z (paper 2 Eq. 6-7), zero diagonal
=========== ============ ==========================================================

ANN baselines (``mlp rnn libru gru``) live in ``train/ann.py``.

Depth: ``cfg.layers`` counts the readout, as paper 1 and its code do ("the number of layers is the
number of hidden layers plus one (the readout layer)", §3): ``layers=3, hidden=128`` is two hidden
layers of 128 neurons and a readout of ``num_classes``.

``model(x)`` takes ``x [B, T, C]`` float and returns a :class:`ModelOutput`. Dropout (``cfg.dropout``,
0.1 by default) acts on each hidden layer's output spikes in training mode; ``layer_spikes`` holds
the spikes before dropout.
"""
from __future__ import annotations

from typing import Any

import torch
from torch import nn

from snn_deploy import catalogue
from snn_deploy.errors import SnnDeployError

from snn_deploy.train.config import ModelConfig
from snn_deploy.train.ann import ANN
from snn_deploy.train.layers import SpikingLayer, check_input
from snn_deploy.train.neurons import get_neuron_model
from snn_deploy.train.readout import ModelOutput, Readout
from snn_deploy.train.surrogate import get_surrogate



def hidden_layers(cfg: ModelConfig) -> int:
    """Number of hidden layers: ``cfg.layers - 1`` (the readout is the last layer)."""
    return int(cfg.layers) - 1


class SNN(nn.Module):
    """Hidden spiking layers + readout (paper 1 Fig. 2 / paper 2 Fig. 2)."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        zoo = catalogue.zoo()     # model name -> (neuron model, recurrent synapses)
        if cfg.model not in zoo:
            raise SnnDeployError(f"{cfg.model!r} is not a spiking model; choose one of {', '.join(zoo)}")
        neuron_name, recurrent = zoo[cfg.model]
        neuron = get_neuron_model(neuron_name)
        self.cfg = cfg
        self.spike_fn = get_surrogate(cfg.surrogate, **cfg.surrogate_params)
        sizes = [cfg.input_size] + [cfg.hidden] * hidden_layers(cfg)
        self.layers = nn.ModuleList([
            SpikingLayer(neuron, sizes[i], sizes[i + 1], recurrent=recurrent, spike_fn=self.spike_fn,
                         bias=cfg.bias, batch_norm=cfg.batch_norm, sparsity=cfg.sparsity, reset=cfg.reset,
                         shared_decays=cfg.shared_decays)
            for i in range(len(sizes) - 1)
        ])
        self.dropout = nn.Dropout(cfg.dropout)
        self.readout = Readout(sizes[-1], cfg.num_classes, mode=cfg.readout, spike_fn=self.spike_fn,
                               bias=cfg.bias, batch_norm=cfg.batch_norm, shared_decays=cfg.shared_decays)

    def forward(self, x: torch.Tensor) -> ModelOutput:
        check_input(x, self.cfg.input_size)
        spikes: list[torch.Tensor] = []
        h = x
        for layer in self.layers:
            s = layer(h)
            spikes.append(s)
            h = self.dropout(s)
        potential, readout_spikes = self.readout(h)
        return ModelOutput(logits=self.readout.logits(potential, readout_spikes), layer_spikes=spikes,
                           readout=potential, readout_spikes=readout_spikes)

    def firing_rates(self, out: ModelOutput) -> list[float]:
        return firing_rates(out)


def firing_rates(out: ModelOutput) -> list[float]:
    """Mean activity per hidden layer over batch, time and neurons (spikes per neuron per step for SNNs)."""
    return [float(s.detach().float().mean()) for s in out.layer_spikes]


def build_model(cfg: ModelConfig) -> nn.Module:
    """Build the model ``cfg.model``; all random initialisation (weights, neuron parameters, sparsity
    masks) is drawn from ``cfg.seed`` without touching the caller's global RNG state."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(cfg.seed))
        return SNN(cfg) if cfg.spiking else ANN(cfg)


def describe(model: Any) -> str:
    """One line: model name, layer sizes and parameter count (for logs and summaries)."""
    cfg: ModelConfig = model.cfg
    n = sum(p.numel() for p in model.parameters())
    sizes = [cfg.input_size] + [cfg.hidden] * hidden_layers(cfg) + [cfg.num_classes]
    return f"{cfg.model} {'-'.join(map(str, sizes))} ({n:,} parameters)"


__all__ = ["ModelOutput", "SNN", "build_model", "firing_rates", "hidden_layers", "check_input", "describe"]
