"""Readout layer and the four readout modes of paper 1 §2.5 (its Table 1), and the model output record.

The readout integrates the last hidden layer without recurrence:

    u[t] = α u[t-1] + (1 - α) BN(W x[t])       (non-spiking leaky integrator, ``li``)

and turns the potentials ``u [B, T, K]`` into one value per class, used as logits by cross-entropy:

============== ======================================== =================================================
mode           o_k                                      readout neurons
============== ======================================== =================================================
``cumsoftmax`` ``Σ_t softmax_k(u[t])`` (default)        ``li``
``spike_count`` ``Σ_t s_k[t]``                          ``lif`` (spiking: threshold 1, reset by subtraction)
``last``       ``u_k[T]``                               ``li``
``max``        ``max_t u_k[t]``                         ``li``
============== ======================================== =================================================

Paper 2's max-over-time loss is cross-entropy on ``max`` logits (``TrainConfig.max_over_time_loss``).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

import torch
from torch import nn

from snn_deploy.errors import SnnDeployError
from snn_deploy.ir import READOUT_MODES

from snn_deploy.train.fused import fused_scan
from snn_deploy.train.layers import FeedForward, NeuronParameters, scan, use_fused
from snn_deploy.train.neurons import LI, LIF, NeuronModel



@dataclass
class ModelOutput:
    """What every model of the zoo returns.

    ``logits [B, K]``: what cross-entropy takes; ``layer_spikes``: per hidden layer ``[B, T, N]``
    (spikes for SNNs, activations for ANNs, before dropout); ``readout [B, T, K]``: readout
    potential per step; ``readout_spikes [B, T, K]`` only for the ``spike_count`` readout.
    """

    logits: torch.Tensor
    layer_spikes: list[torch.Tensor]
    readout: torch.Tensor
    readout_spikes: Optional[torch.Tensor] = None


def readout_neuron(mode: str) -> NeuronModel:
    """``lif`` for the spike-count readout, ``li`` for the others."""
    _check_mode(mode)
    return LIF if mode == "spike_count" else LI


def readout_logits(potential: torch.Tensor, mode: str, spikes: Optional[torch.Tensor] = None) -> torch.Tensor:
    """``o [B, K]`` from the readout potential ``[B, T, K]`` (and spikes for ``spike_count``)."""
    _check_mode(mode)
    if mode == "cumsoftmax":
        return torch.softmax(potential, dim=-1).sum(dim=1)
    if mode == "last":
        return potential[:, -1]
    if mode == "max":
        return potential.max(dim=1).values
    if spikes is None:
        raise SnnDeployError("readout 'spike_count' needs the readout spikes")
    return spikes.sum(dim=1)


def _check_mode(mode: str) -> None:
    if mode not in READOUT_MODES:
        raise SnnDeployError(f"unknown readout {mode!r}; choose one of {', '.join(READOUT_MODES)}")


class Readout(nn.Module):
    """``forward(x [B, T, H]) -> (potential [B, T, K], spikes [B, T, K] or None)``."""

    def __init__(self, input_size: int, num_classes: int, *, mode: str = "cumsoftmax", spike_fn: Any = None,
                 bias: bool = False, batch_norm: bool = True, shared_decays: bool = False) -> None:
        super().__init__()
        self.mode = mode
        self.neuron = readout_neuron(mode)
        self.spike_fn = spike_fn
        self.ff = FeedForward(input_size, num_classes, bias=bias, batch_norm=batch_norm)
        self.params = NeuronParameters(self.neuron, num_classes, shared_decays=shared_decays)
        self.fused = True

    def neuron_params(self) -> Any:
        return self.neuron.make_params(self.params.values())

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, Optional[torch.Tensor]]:
        if self.fused and use_fused(self.neuron, self.spike_fn):
            out, potential = fused_scan(self.neuron, self.params.values(), self.ff(x), self.spike_fn)
            return (potential, out) if self.neuron.spiking else (potential, None)
        out, potential = scan(self.neuron, self.neuron_params(), self.ff(x), self.spike_fn,
                              record_potential=self.neuron.spiking)
        if self.neuron.spiking:
            return potential, out  # type: ignore[return-value]
        return out, None

    def logits(self, potential: torch.Tensor, spikes: Optional[torch.Tensor] = None) -> torch.Tensor:
        return readout_logits(potential, self.mode, spikes)
