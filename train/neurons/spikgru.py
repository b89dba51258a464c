"""SpikGRU, paper 2 Eq. 6-9 (Dampfhoffer et al.): CUBA-LIF with β replaced by an update gate.

    i[t] = α i[t-1] + I[t]              I[t] = W_i s_prev[t] + U_i s[t-1] + b_i        (Eq. 6)
    z[t] = σ(I_gate[t])                 I_gate[t] = W_z s_prev[t] + U_z s[t-1] + b_z   (Eq. 7)
    v[t] = z[t] v[t-1] + (1 - z[t]) i[t] - ϑ s[t-1]                                    (Eq. 8)
    s[t] = H(v[t] - ϑ)                                                                  (Eq. 9)

α per neuron clamped to [0, 1], initialised in [e^-1/5, e^-1/25]; ϑ = 1; zero initial state.
The step takes the gate's input as a second stimulus: ``step(I, I_gate, state, params, spike_fn)``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Union

import torch

from snn_deploy.train.neurons.base import ALPHA_RANGE, UNIT_RANGE, NeuronModel, ParamSpec


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


SPIKGRU = NeuronModel(
    name="spikgru", params_cls=SpikGRUParams, state_cls=SpikGRUState, step=spikgru_step,
    specs=(ParamSpec("alpha", ALPHA_RANGE, UNIT_RANGE, decay=True),),
    ports=("input", "gate"), potential="v",
)
