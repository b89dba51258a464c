"""Float (torch) step of ``adlif``; its equations, sources and ranges: ``snn_deploy.catalogue.ADLIF``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Union

import torch

from snn_deploy.train.neurons.base import NeuronModel


@dataclass
class AdLIFParams:
    alpha: torch.Tensor
    beta: torch.Tensor
    a: torch.Tensor
    b: torch.Tensor
    threshold: Union[torch.Tensor, float] = 1.0


@dataclass
class AdLIFState:
    u: torch.Tensor
    w: torch.Tensor
    s: torch.Tensor


def adlif_step(I: torch.Tensor, state: AdLIFState, p: AdLIFParams, spike_fn) -> tuple[torch.Tensor, AdLIFState]:
    # w = β w + a u + b s;  u = α (u - ϑ s) + (1 - α)(I - w) as a lerp   (fewer ops per step)
    w = torch.addcmul(torch.addcmul(p.beta * state.w, p.a, state.u), p.b, state.s)
    u = torch.lerp(I - w, state.u - p.threshold * state.s, p.alpha)
    s = spike_fn(u - p.threshold)
    return s, AdLIFState(u=u, w=w, s=s)


ADLIF = NeuronModel(name="adlif", params_cls=AdLIFParams, state_cls=AdLIFState, step=adlif_step)
