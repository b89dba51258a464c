"""Float (torch) step of ``mthr_lif``; its equations, sources and ranges: ``snn_deploy.catalogue.MTHR_LIF``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Union

import torch

from snn_deploy.train.neurons.base import NeuronModel


@dataclass
class MthrLIFParams:
    alpha: torch.Tensor
    rho: torch.Tensor
    k: torch.Tensor
    threshold: Union[torch.Tensor, float] = 1.0


@dataclass
class MthrLIFState:
    u: torch.Tensor
    A: torch.Tensor
    s: torch.Tensor


def mthr_lif_step(I: torch.Tensor, state: MthrLIFState, p: MthrLIFParams, spike_fn) -> tuple[torch.Tensor, MthrLIFState]:
    theta_old = p.threshold + p.k * state.A
    A = p.rho * state.A + state.s
    u = p.alpha * (state.u - theta_old * state.s) + (1.0 - p.alpha) * I
    s = spike_fn(u - (p.threshold + p.k * A))
    return s, MthrLIFState(u=u, A=A, s=s)


MTHR_LIF = NeuronModel(name="mthr_lif", params_cls=MthrLIFParams, state_cls=MthrLIFState, step=mthr_lif_step)
