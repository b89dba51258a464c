"""Adaptive LIF (adLIF), paper 1 Eq. 7-9 as run by its code (idiap/sparch ``adLIFLayer``).

Code order (followed here; DESIGN.md section 3):

    w[t] = β w[t-1] + a u[t-1] + b s[t-1]                  (old u and s; no (1-β) factor)
    u[t] = α (u[t-1] - ϑ s[t-1]) + (1 - α) (I[t] - w[t])   (the NEW w; reset inside the leak)
    s[t] = H(u[t] - ϑ)

Printed equations (differences): Eq. 8 has ``(1-β) a u[t-1]`` and Eq. 7 uses ``w[t-1]`` with the
reset ``- ϑ s[t-1]`` outside the leak; Eq. 9 prints ``u >= ϑ`` (the code and Loihi are strict).
Ranges (code): α ∈ [e^-1/5, e^-1/25], β ∈ [e^-1/30, e^-1/120], a ∈ [-1, 1], b ∈ [0, 2], per
neuron, clamped every forward; ϑ = 1; zero initial state.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Union

import torch

from snn_deploy.train.neurons.base import A_RANGE, ALPHA_RANGE, B_RANGE, BETA_RANGE, NeuronModel, ParamSpec


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


ADLIF = NeuronModel(
    name="adlif", params_cls=AdLIFParams, state_cls=AdLIFState, step=adlif_step,
    specs=(ParamSpec("alpha", ALPHA_RANGE, ALPHA_RANGE, decay=True),
           ParamSpec("beta", BETA_RANGE, BETA_RANGE, decay=True),
           ParamSpec("a", A_RANGE, A_RANGE), ParamSpec("b", B_RANGE, B_RANGE)),
)
