"""Fused time scans with a hand-written backward pass (BPTT), for training speed.

Autograd through a per-step loop records ~15 small ops per step and replays them backwards; on
CPU that bookkeeping, not the arithmetic, dominates a training step. Here the forward pass runs
the SAME neuron step function (``train/neurons``) with the exact Heaviside and no autograd graph,
keeping only the state sequences, and the backward pass is the adjoint of the equations below,
written out once. Tests compare these gradients with autograd through the step functions.

adLIF / LIF (paper 1 Eq. 7-9 as run by sparch; LIF is the case without ``w``), with ``c = 1 - α``,
``σ'`` the surrogate derivative, ``E`` the incoming gradient on the spikes (``EU`` on the
potentials), ``Ĝu``, ``Ĝw`` total derivatives of the loss w.r.t. ``u[t]``, ``w[t]``:

    forward   w[t] = β w[t-1] + a u[t-1] + b s[t-1]
              u[t] = α (u[t-1] - ϑ s[t-1]) + c (I[t] + V s[t-1] - w[t]);   s[t] = H(u[t] - ϑ)
    backward  gs[t]  = E[t] + (c Ĝu[t+1]) V - α ϑ Ĝu[t+1] + b Ĝw[t+1]
              Ĝu[t]  = gs[t] σ'(u[t] - ϑ) + EU[t] + α Ĝu[t+1] + a Ĝw[t+1]
              Ĝw[t]  = β Ĝw[t+1] - c Ĝu[t]
              dI[t] = c Ĝu[t];   dV = Σ_t dI[t]ᵀ s[t-1]
              dα = Σ Ĝu[t] ((u[t-1] - ϑ s[t-1]) - (I[t] + V s[t-1] - w[t]))
              dβ = Σ Ĝw[t] w[t-1];  da = Σ Ĝw[t] u[t-1];  db = Σ Ĝw[t] s[t-1]

LI readout: ``u[t] = α u[t-1] + c I[t]``; ``Ĝu[t] = EU[t] + α Ĝu[t+1]``, ``dI[t] = c Ĝu[t]``,
``dα = Σ Ĝu[t] (u[t-1] - I[t])``.

Other neuron models (mthr_lif, cuba_lif, spikgru) train through autograd (``layers.scan``).
"""
from __future__ import annotations

from typing import Any, Optional

import torch

from snn_deploy.train.neurons import THRESHOLD, NeuronModel
from snn_deploy.train.surrogate import heaviside

FUSED_MODELS = ("lif", "adlif", "li")


def _sum_bt(x: torch.Tensor) -> torch.Tensor:
    """Sum over batch and time of a ``[B, T', N]`` tensor -> ``[N]``."""
    return x.sum(dim=(0, 1))


class _LIFScan(torch.autograd.Function):
    """LIF / adLIF over time: inputs ``I [B, T, N]``, ``V [N, N]`` or None, clamped parameters.

    Sequences are kept as ``[B, T, N]``; ``x[:, 1:]`` pairs with ``x_prev = x[:, :-1]`` (the
    ``t = 0`` terms of the sums vanish since the initial state is zero).
    """

    @staticmethod
    def forward(ctx: Any, I: torch.Tensor, V: Optional[torch.Tensor], alpha: torch.Tensor,  # type: ignore[override]
                beta: Optional[torch.Tensor], a: Optional[torch.Tensor], b: Optional[torch.Tensor],
                neuron: NeuronModel, spike_fn: Any) -> tuple[torch.Tensor, torch.Tensor]:
        ctx.set_materialize_grads(False)
        adaptive = beta is not None
        values = {"alpha": alpha, "beta": beta, "a": a, "b": b} if adaptive else {"alpha": alpha}
        params = neuron.make_params(values)
        B, T, N = I.shape
        state = neuron.zero_state(B, N, I)
        Vt = V.t() if V is not None else None
        us, ws, ss, drives = [], [], [], []
        for I_t in I.unbind(1):
            if Vt is not None:
                I_t = torch.addmm(I_t, state.s, Vt)
                drives.append(I_t)
            s, state = neuron.step(I_t, state, params, heaviside)
            us.append(state.u)
            ss.append(s)
            if adaptive:
                ws.append(state.w)
        U, S = torch.stack(us, 1), torch.stack(ss, 1)          # [B, T, N]
        Wseq = torch.stack(ws, 1) if adaptive else None
        Itot = torch.stack(drives, 1) if Vt is not None else I   # I[t] + V s[t-1]
        ctx.save_for_backward(Itot, V, alpha, beta, a, b, U, Wseq, S)
        ctx.spike_fn = spike_fn
        return S, U

    @staticmethod
    def backward(ctx: Any, gS: Optional[torch.Tensor], gU: Optional[torch.Tensor]):  # type: ignore[override]
        Itot, V, alpha, beta, a, b, U, Wseq, S = ctx.saved_tensors
        adaptive = beta is not None
        T = U.shape[1]
        theta = THRESHOLD
        c = 1.0 - alpha
        neg_alpha_theta = -alpha * theta
        neg_c = -c
        E = gS.unbind(1) if gS is not None else None
        EU = gU.unbind(1) if gU is not None else None
        dsig = ctx.spike_fn.derivative(U - theta).unbind(1)
        Vc = V * c[:, None] if V is not None else None          # (c Ĝu) V = Ĝu (diag(c) V)
        zeros = torch.zeros_like(U[:, 0])
        Gu_next, Gw_next = zeros, zeros
        Gus: list[torch.Tensor] = []
        Gws: list[torch.Tensor] = []
        for t in range(T - 1, -1, -1):
            gs = E[t] if E is not None else zeros
            if Vc is not None:
                gs = torch.addmm(gs, Gu_next, Vc)               # (c Ĝu[t+1]) V
            gs = torch.addcmul(gs, Gu_next, neg_alpha_theta)
            if adaptive:
                gs = torch.addcmul(gs, Gw_next, b)
            Gu = gs * dsig[t]
            if EU is not None:
                Gu = Gu + EU[t]
            Gu = torch.addcmul(Gu, Gu_next, alpha)
            if adaptive:
                Gu = torch.addcmul(Gu, Gw_next, a)
                Gw_next = torch.addcmul(Gw_next * beta, Gu, neg_c)
                Gws.append(Gw_next)
            Gus.append(Gu)
            Gu_next = Gu
        Gu_all = torch.stack(Gus[::-1], 1)                      # [B, T, N]
        dI = Gu_all * c
        # parameter gradients: sums over batch and time, t >= 1 pairs with t - 1
        S_prev, U_prev = S[:, :-1], U[:, :-1]
        drive = Itot - Wseq if adaptive else Itot               # I[t] + V s[t-1] - w[t]
        d_alpha = _sum_bt(Gu_all[:, 1:] * (U_prev - theta * S_prev)) - _sum_bt(Gu_all * drive)
        d_beta = d_a = d_b = None
        if adaptive:
            Gw_all = torch.stack(Gws[::-1], 1)[:, 1:]
            d_beta = _sum_bt(Gw_all * Wseq[:, :-1])
            d_a = _sum_bt(Gw_all * U_prev)
            d_b = _sum_bt(Gw_all * S_prev)
        dV = None
        if V is not None and ctx.needs_input_grad[1]:
            N = U.shape[-1]
            dV = dI[:, 1:].reshape(-1, N).t() @ S_prev.reshape(-1, N)
        return dI, dV, d_alpha, d_beta, d_a, d_b, None, None


class _LIScan(torch.autograd.Function):
    """Leaky integrator readout ``u[t] = α u[t-1] + (1-α) I[t]`` over time."""

    @staticmethod
    def forward(ctx: Any, I: torch.Tensor, alpha: torch.Tensor, neuron: NeuronModel) -> torch.Tensor:  # type: ignore[override]
        params = neuron.make_params({"alpha": alpha})
        state = neuron.zero_state(I.shape[0], I.shape[2], I)
        us = []
        for I_t in I.unbind(1):
            u, state = neuron.step(I_t, state, params)
            us.append(u)
        U = torch.stack(us, 1)
        ctx.save_for_backward(I, alpha, U)
        return U

    @staticmethod
    def backward(ctx: Any, gU: torch.Tensor):  # type: ignore[override]
        I, alpha, U = ctx.saved_tensors
        EU = gU.unbind(1)
        Gu = torch.zeros_like(U[:, 0])
        Gus = []
        for t in range(U.shape[1] - 1, -1, -1):
            Gu = torch.addcmul(EU[t], Gu, alpha)
            Gus.append(Gu)
        Gu_all = torch.stack(Gus[::-1], 1)
        d_alpha = _sum_bt(Gu_all[:, 1:] * U[:, :-1]) - _sum_bt(Gu_all * I)
        return Gu_all * (1.0 - alpha), d_alpha, None


def fused_scan(neuron: NeuronModel, values: dict[str, torch.Tensor], I_ff: torch.Tensor, spike_fn: Any,
               V: Optional[torch.Tensor] = None) -> tuple[torch.Tensor, torch.Tensor]:
    """``(out [B, T, N], potential [B, T, N])`` for a model in ``FUSED_MODELS``; differentiable."""
    if neuron.name == "li":
        u = _LIScan.apply(I_ff, values["alpha"], neuron)
        return u, u
    if neuron.name == "lif":
        return _LIFScan.apply(I_ff, V, values["alpha"], None, None, None, neuron, spike_fn)
    if neuron.name == "adlif":
        return _LIFScan.apply(I_ff, V, values["alpha"], values["beta"], values["a"], values["b"], neuron, spike_fn)
    raise ValueError(f"no fused scan for neuron model {neuron.name!r}")
