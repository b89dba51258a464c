"""Float (torch) step of ``li``; its equations, sources and ranges: ``snn_deploy.catalogue.LI``.
The step's output is the potential ``u`` itself; ``spike_fn`` is accepted for a uniform signature
and unused.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from snn_deploy.train.neurons.base import NeuronModel


@dataclass
class LIParams:
    alpha: torch.Tensor


@dataclass
class LIState:
    u: torch.Tensor


def li_step(I: torch.Tensor, state: LIState, p: LIParams, spike_fn=None) -> tuple[torch.Tensor, LIState]:
    u = torch.lerp(I, state.u, p.alpha)          # α u + (1 - α) I
    return u, LIState(u=u)


LI = NeuronModel(name="li", params_cls=LIParams, state_cls=LIState, step=li_step)
