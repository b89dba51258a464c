"""Synapses and the spiking layer: the stimulus of paper 1 Eq. 12 around one neuron step function.

    I[t] = BN(W x[t]) + V s[t-1]          (paper 1 Eq. 12; paper 2 Eq. 3 and 6-7 with U for V)

- ``W x`` for all time steps is one matmul outside the time loop; batch-norm normalises over
  batch × time (momentum 0.05, as sparch); no bias by default (``ModelConfig.bias``).
- ``V`` is orthogonally initialised and its diagonal is forced to 0 every forward pass (a neuron's
  self-feedback is its leak and reset, not a synapse).
- Optional fixed random sparsity (paper 1 Tables 9-10): a mask removing exactly ``round(p·n)``
  weights of each hidden-layer matrix, drawn once at construction from the (seeded) global RNG,
  stored as a buffer and multiplied in on every forward pass, so an optimizer step cannot revive a
  removed synapse.

- Weight layout: every matrix is ``[out, in]`` as in the IR's ``DenseNode`` (``I = V s``); sparch
  writes ``s @ V`` with ``V[in, out]``, the transpose of ours.

:func:`scan` is the one time loop: it drives any registered neuron model's step function and is
reused by the float IR runner (``train/ir_runner.py``). While training (autograd recording),
LIF/adLIF layers and the LI readout instead use the fused scans of ``train/fused.py`` (same step
function forward, hand-written backward; ``layer.fused = False`` switches back to autograd).
"""
from __future__ import annotations

from typing import Any, Optional

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from snn_deploy.errors import SnnDeployError

from snn_deploy.train.fused import FUSED_MODELS, fused_scan
from snn_deploy.train.neurons import NeuronModel

BN_MOMENTUM = 0.05  # paper 1 §3 / sparch


def check_input(x: torch.Tensor, input_size: int) -> None:
    """Models take ``x [batch, time, channels]``; anything else is a user error naming the shape."""
    if x.dim() != 3 or x.shape[2] != input_size:
        raise SnnDeployError(
            f"model input must be [batch, time, {input_size}] (batch, time steps, channels), got shape {tuple(x.shape)}")


def random_mask(shape: tuple[int, ...], sparsity: float, keep: Optional[torch.Tensor] = None) -> torch.Tensor:
    """A 0/1 float mask removing exactly ``round(sparsity · n)`` of the ``n`` allowed entries.

    ``keep`` (0/1) marks entries that may be kept at all (e.g. off-diagonal); removed entries are
    drawn among those. Uses the global torch RNG (seeded by ``build_model``).
    """
    allowed = torch.ones(shape) if keep is None else keep.clone().float()
    idx = torch.nonzero(allowed.reshape(-1), as_tuple=False).reshape(-1)
    n_remove = int(round(sparsity * idx.numel()))
    if n_remove:
        drop = idx[torch.randperm(idx.numel())[:n_remove]]
        allowed.view(-1)[drop] = 0.0
    return allowed


class FeedForward(nn.Module):
    """``BN(W x + b)`` applied to every time step of ``x [B, T, C]`` at once."""

    def __init__(self, in_size: int, out_size: int, *, bias: bool = False, batch_norm: bool = True,
                 sparsity: float = 0.0) -> None:
        super().__init__()
        self.linear = nn.Linear(in_size, out_size, bias=bias)
        self.norm = nn.BatchNorm1d(out_size, momentum=BN_MOMENTUM) if batch_norm else None
        mask = random_mask((out_size, in_size), sparsity) if sparsity > 0 else None
        self.register_buffer("mask", mask)
        if mask is not None:
            with torch.no_grad():
                self.linear.weight.mul_(mask)

    def weight(self) -> torch.Tensor:
        w = self.linear.weight
        return w * self.mask if self.mask is not None else w

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.linear(x, self.weight(), self.linear.bias)
        if self.norm is not None:
            y = self.norm(y.reshape(-1, y.shape[-1])).reshape(y.shape)
        return y

    def folded(self) -> tuple[np.ndarray, np.ndarray]:
        """``(W', b')`` with eval-mode batch-norm folded in: ``BN(Wx + b) = W' x + b'``.

        ``BN(y) = γ (y - μ) / sqrt(σ² + ε) + β`` with running μ, σ² (eval mode), so
        ``W' = diag(g) W``, ``b' = g (b - μ) + β``, ``g = γ / sqrt(σ² + ε)``.
        """
        with torch.no_grad():
            w = self.weight().double()
            b = self.linear.bias.double() if self.linear.bias is not None else torch.zeros(w.shape[0], dtype=torch.float64)
            if self.norm is not None:
                n = self.norm
                gamma = n.weight.double() if n.weight is not None else torch.ones_like(b)
                shift = n.bias.double() if n.bias is not None else torch.zeros_like(b)
                g = gamma / torch.sqrt(n.running_var.double() + n.eps)
                w = w * g[:, None]
                b = g * (b - n.running_mean.double()) + shift
        return w.float().numpy(), b.float().numpy()


class Recurrent(nn.Module):
    """``V s[t-1]`` (``V`` is ``[out, in]``); orthogonal init; diagonal forced to 0 every forward pass."""

    def __init__(self, size: int, *, sparsity: float = 0.0) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.empty(size, size))
        nn.init.orthogonal_(self.weight)
        off_diagonal = 1.0 - torch.eye(size)
        keep = random_mask((size, size), sparsity, keep=off_diagonal) if sparsity > 0 else off_diagonal
        self.register_buffer("keep", keep)
        with torch.no_grad():
            self.weight.mul_(keep)

    def effective(self) -> torch.Tensor:
        """The weight actually used: zero diagonal and sparsity mask applied."""
        return self.weight * self.keep

    def has_mask(self) -> bool:
        return bool((self.keep.sum() < self.keep.numel() - self.keep.shape[0]).item())


def scan(neuron: NeuronModel, params: Any, I_ff: torch.Tensor, spike_fn: Any, *,
         V: Optional[torch.Tensor] = None, I_gate_ff: Optional[torch.Tensor] = None,
         V_gate: Optional[torch.Tensor] = None,
         record_potential: bool = False) -> tuple[torch.Tensor, Optional[torch.Tensor]]:
    """Run ``neuron.step`` over time. Returns ``(out [B, T, N], potential [B, T, N] or None)``.

    ``I_ff [B, T, N]`` is the feed-forward stimulus of every step (same-step); the recurrent
    ``V [N, N]`` acts on the previous step's output, ``I[t] = I_ff[t] + s[t-1] V^T``. For gated
    models (SpikGRU) ``I_gate_ff``/``V_gate`` form the gate stimulus the same way.
    """
    B, T, N = I_ff.shape
    state = neuron.zero_state(B, N, I_ff)
    gated = "gate" in neuron.ports
    if gated and I_gate_ff is None:
        raise SnnDeployError(f"neuron model {neuron.name!r} needs a gate stimulus")
    Vt = V.t() if V is not None else None
    Vgt = V_gate.t() if V_gate is not None else None
    outs: list[torch.Tensor] = []
    pots: list[torch.Tensor] = []
    # unbind once: indexing I_ff[:, t] in the loop would make autograd scatter each step's gradient
    # into a fresh zero [B, T, N] tensor (O(T^2) memory traffic in backward)
    I_steps = I_ff.unbind(1)
    G_steps = I_gate_ff.unbind(1) if gated else None  # type: ignore[union-attr]
    for t in range(T):
        I = I_steps[t]
        if Vt is not None:
            I = torch.addmm(I, state.s, Vt)
        if gated:
            Ig = G_steps[t]  # type: ignore[index]
            if Vgt is not None:
                Ig = torch.addmm(Ig, state.s, Vgt)
            out, state = neuron.step(I, Ig, state, params, spike_fn)
        else:
            out, state = neuron.step(I, state, params, spike_fn)
        outs.append(out)
        if record_potential:
            pots.append(getattr(state, neuron.potential))
    potential = torch.stack(pots, 1) if record_potential else None
    return torch.stack(outs, 1), potential


def use_fused(neuron: NeuronModel, spike_fn: Any) -> bool:
    """The fused scan pays off only when a graph would be recorded; spiking models need the
    surrogate's ``derivative`` for the hand-written backward."""
    if neuron.name not in FUSED_MODELS or not torch.is_grad_enabled():
        return False
    return not neuron.spiking or hasattr(spike_fn, "derivative")


class NeuronParameters(nn.Module):
    """The trainable per-neuron parameters of one population, initialised uniformly in their spec's
    ``init`` range and clamped to its ``clamp`` range on every read (:meth:`values`).

    With ``shared_decays`` every decay parameter (``ParamSpec.decay``) is ONE trainable value for the
    whole population (stored with shape ``[1]``); :meth:`values` still returns ``[size]`` tensors
    (the one value expanded), so step functions, export and IR see per-neuron arrays of equal values.
    """

    def __init__(self, neuron: NeuronModel, size: int, shared_decays: bool = False) -> None:
        super().__init__()
        self.neuron = neuron
        self.size = int(size)
        for spec in neuron.specs:
            p = nn.Parameter(torch.empty(1 if shared_decays and spec.decay else size))
            nn.init.uniform_(p, *spec.init)
            self.register_parameter(spec.name, p)

    def values(self) -> dict[str, torch.Tensor]:
        return {spec.name: torch.clamp(getattr(self, spec.name), *spec.clamp).expand(self.size)
                for spec in self.neuron.specs}


class SpikingLayer(nn.Module):
    """One hidden layer: feed-forward (+ recurrent, + gate) synapses into a population of ``neuron``.

    ``forward(x [B, T, C]) -> spikes [B, T, H]`` (before dropout: the model applies dropout to
    what it passes on, paper 1 §3).
    """

    def __init__(self, neuron: NeuronModel, input_size: int, hidden: int, *, recurrent: bool,
                 spike_fn: Any, bias: bool = False, batch_norm: bool = True, sparsity: float = 0.0,
                 reset: str = "subtract", shared_decays: bool = False) -> None:
        super().__init__()
        self.neuron = neuron
        self.spike_fn = spike_fn
        self.reset = reset
        self.size = hidden
        self.ff = FeedForward(input_size, hidden, bias=bias, batch_norm=batch_norm, sparsity=sparsity)
        self.rec = Recurrent(hidden, sparsity=sparsity) if recurrent else None
        gated = "gate" in neuron.ports
        self.ff_gate = FeedForward(input_size, hidden, bias=bias, batch_norm=batch_norm, sparsity=sparsity) if gated else None
        self.rec_gate = Recurrent(hidden, sparsity=sparsity) if gated and recurrent else None
        self.params = NeuronParameters(neuron, hidden, shared_decays=shared_decays)
        self.fused = True   # use the fused scan with hand-written backward where one exists (train/fused.py)

    def neuron_params(self) -> Any:
        """The parameter record with clamped values (what the step function and the export see)."""
        return self.neuron.make_params(self.params.values(), reset=self.reset)

    def forward(self, x: torch.Tensor, record_potential: bool = False) -> Any:
        if self.fused and use_fused(self.neuron, self.spike_fn):
            out, potential = fused_scan(self.neuron, self.params.values(), self.ff(x), self.spike_fn,
                                        V=self.rec.effective() if self.rec is not None else None)
            return (out, potential) if record_potential else out
        out, potential = scan(
            self.neuron, self.neuron_params(), self.ff(x), self.spike_fn,
            V=self.rec.effective() if self.rec is not None else None,
            I_gate_ff=self.ff_gate(x) if self.ff_gate is not None else None,
            V_gate=self.rec_gate.effective() if self.rec_gate is not None else None,
            record_potential=record_potential,
        )
        return (out, potential) if record_potential else out
