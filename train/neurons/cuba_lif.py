"""Current-based LIF (CUBA-LIF), paper 2 Eq. 3-5 (Dampfhoffer et al.), Lava's LIF semantics.

    i[t] = α i[t-1] + I[t]          I[t] = W s_prev[t] + U s[t-1] + b                  (Eq. 3)
    reset "subtract" (paper 2 Eq. 4):  v[t] = β v[t-1] + (1 - β) i[t] - ϑ s[t-1]
    reset "zero" (Lava/Loihi hard reset): v[t] = β v[t-1] (1 - s[t-1]) + (1 - β) i[t]
    s[t] = H(v[t] - ϑ)              strict, as on Loihi                                  (Eq. 5)

α, β per neuron, clamped to [0, 1] (paper 2 §4.1); initialised uniformly in [e^-1/5, e^-1/25]
(paper 2 initialises them at 0.9, which lies in that range). ϑ = 1; zero initial state. Paper 2
also clips i and v during training; we do not (a clip would have to be reproduced on hardware).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Union

import torch

from snn_deploy.train.neurons.base import ALPHA_RANGE, UNIT_RANGE, NeuronModel, ParamSpec



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


CUBA_LIF = NeuronModel(
    name="cuba_lif", params_cls=CubaLIFParams, state_cls=CubaLIFState, step=cuba_lif_step,
    specs=(ParamSpec("alpha", ALPHA_RANGE, UNIT_RANGE, decay=True),
           ParamSpec("beta", ALPHA_RANGE, UNIT_RANGE, decay=True)),
    potential="v",
)
