"""Float (torch) step of ``spikgru``; its equations, sources and ranges: ``snn_deploy.catalogue.SPIKGRU``.
The step takes the gate's input as a second stimulus: ``step(I, I_gate, state, params, spike_fn)``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Union

import torch

from snn_deploy.train.neurons.base import NeuronModel


@dataclass
class SpikGRUParams:
    alpha: torch.Tensor
    threshold: Union[torch.Tensor, float] = 1.0


@dataclass
class SpikGRUState:
    i: torch.Tensor
    v: torch.Tensor
    s: torch.Tensor


def spikgru_step(I: torch.Tensor, I_gate: torch.Tensor, state: SpikGRUState, p: SpikGRUParams,
                 spike_fn) -> tuple[torch.Tensor, SpikGRUState]:
    z = torch.sigmoid(I_gate)
    i = p.alpha * state.i + I
    v = torch.lerp(i, state.v, z) - p.threshold * state.s              # z v + (1-z) i - ϑ s
    s = spike_fn(v - p.threshold)
    return s, SpikGRUState(i=i, v=v, s=s)


SPIKGRU = NeuronModel(name="spikgru", params_cls=SpikGRUParams, state_cls=SpikGRUState, step=spikgru_step)
