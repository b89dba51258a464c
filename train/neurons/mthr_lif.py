"""Moving-threshold adaptive LIF (Bellec et al. 2018 style), the alternative of paper 1 Table 11.

    A[t] = ρ A[t-1] + s[t-1]                          (adaptation variable, old spike)
    θ[t] = ϑ + k A[t]                                 (moving threshold)
    u[t] = α (u[t-1] - θ[t-1] s[t-1]) + (1 - α) I[t]  (reset by the threshold that was crossed)
    s[t] = H(u[t] - θ[t])

``θ[t-1] = ϑ + k A[t-1]`` is recomputed from the stored ``A``. Ranges (ours; paper 1 does not
print them): α ∈ [e^-1/5, e^-1/25] as LIF, ρ ∈ [e^-1/30, e^-1/120] as adLIF's β (adaptation over
30-120 steps), k ∈ [0, 2] as adLIF's b; ϑ = 1; zero initial state.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Union

import torch

from snn_deploy.train.neurons.base import ALPHA_RANGE, B_RANGE, BETA_RANGE, NeuronModel, ParamSpec


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


MTHR_LIF = NeuronModel(
    name="mthr_lif", params_cls=MthrLIFParams, state_cls=MthrLIFState, step=mthr_lif_step,
    specs=(ParamSpec("alpha", ALPHA_RANGE, ALPHA_RANGE, decay=True),
           ParamSpec("rho", BETA_RANGE, BETA_RANGE, decay=True),
           ParamSpec("k", B_RANGE, B_RANGE)),
)
