"""LIF neuron: paper 1 Eq. 7-9 with a = b = 0 (its §2.1.4), as run by its code (idiap/sparch ``LIFLayer``).

    u[t] = α (u[t-1] - ϑ s[t-1]) + (1 - α) I[t]         (reset by subtraction inside the leak)
    s[t] = H(u[t] - ϑ)                                    (strict: H(x) = 1[x > 0])

Eq. 9 prints ``s[t] = (u[t] >= ϑ)``; the code (``x.gt(0)``) and Loihi (``v > vth``) are strict.
Printed Eq. 7 puts the reset outside the leak (``- ϑ s[t-1]``); the code multiplies it by α, and
we follow the code (DESIGN.md section 3). α per neuron in [e^-1/5, e^-1/25]; ϑ = 1; zero start.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Union

import torch

from snn_deploy.train.neurons.base import ALPHA_RANGE, NeuronModel, ParamSpec


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


LIF = NeuronModel(
    name="lif", params_cls=LIFParams, state_cls=LIFState, step=lif_step,
    specs=(ParamSpec("alpha", ALPHA_RANGE, ALPHA_RANGE, decay=True),),
)
