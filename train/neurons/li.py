"""Non-spiking leaky integrator: the readout of paper 1 §2.5 (sparch ``ReadoutLayer``).

    u[t] = α u[t-1] + (1 - α) I[t]        I[t] = BN(W x[t])

α per neuron in [e^-1/5, e^-1/25]; zero initial state (sparch starts from random values). The
step's output is the potential ``u`` itself; ``spike_fn`` is accepted for a uniform signature and
unused.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from snn_deploy.train.neurons.base import ALPHA_RANGE, NeuronModel, ParamSpec


@dataclass
class LIParams:
    alpha: torch.Tensor


@dataclass
class LIState:
    u: torch.Tensor


def li_step(I: torch.Tensor, state: LIState, p: LIParams, spike_fn=None) -> tuple[torch.Tensor, LIState]:
    u = torch.lerp(I, state.u, p.alpha)          # α u + (1 - α) I
    return u, LIState(u=u)


LI = NeuronModel(
    name="li", params_cls=LIParams, state_cls=LIState, step=li_step,
    specs=(ParamSpec("alpha", ALPHA_RANGE, ALPHA_RANGE, decay=True),), spiking=False,
)
