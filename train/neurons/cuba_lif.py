"""Float (torch) step of ``cuba_lif``; its equations, sources and ranges: ``snn_deploy.catalogue.CUBA_LIF``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Union

import torch

from snn_deploy.train.neurons.base import NeuronModel



@dataclass
class CubaLIFParams:
    alpha: torch.Tensor
    beta: torch.Tensor
    threshold: Union[torch.Tensor, float] = 1.0
    reset: str = "subtract"


@dataclass
class CubaLIFState:
    i: torch.Tensor
    v: torch.Tensor
    s: torch.Tensor


def cuba_lif_step(I: torch.Tensor, state: CubaLIFState, p: CubaLIFParams, spike_fn) -> tuple[torch.Tensor, CubaLIFState]:
    i = p.alpha * state.i + I
    if p.reset == "subtract":
        v = torch.lerp(i, state.v, p.beta) - p.threshold * state.s        # β v + (1-β) i - ϑ s
    else:  # "zero": the potential restarts from 0 after a spike
        v = torch.lerp(i, state.v * (1.0 - state.s), p.beta)             # β v (1-s) + (1-β) i
    s = spike_fn(v - p.threshold)
    return s, CubaLIFState(i=i, v=v, s=s)


CUBA_LIF = NeuronModel(name="cuba_lif", params_cls=CubaLIFParams, state_cls=CubaLIFState, step=cuba_lif_step)
