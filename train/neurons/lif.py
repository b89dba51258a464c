"""Float (torch) step of ``lif``; its equations, sources and ranges: ``snn_deploy.catalogue.LIF``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Union

import torch

from snn_deploy.train.neurons.base import NeuronModel


@dataclass
class LIFParams:
    alpha: torch.Tensor
    threshold: Union[torch.Tensor, float] = 1.0


@dataclass
class LIFState:
    u: torch.Tensor
    s: torch.Tensor


def lif_step(I: torch.Tensor, state: LIFState, p: LIFParams, spike_fn) -> tuple[torch.Tensor, LIFState]:
    # u = α (u - ϑ s) + (1 - α) I, written as one lerp (I + α ((u - ϑ s) - I)): fewer ops per step
    u = torch.lerp(I, state.u - p.threshold * state.s, p.alpha)
    s = spike_fn(u - p.threshold)
    return s, LIFState(u=u, s=s)


LIF = NeuronModel(name="lif", params_cls=LIFParams, state_cls=LIFState, step=lif_step)
