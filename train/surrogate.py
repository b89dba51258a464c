"""Surrogate gradients for the spike function ``s = H(x)``, ``x = u - ϑ`` (paper 1 Eq. 9 and 13).

The forward pass is the exact Heaviside step, strict as on Loihi: ``H(x) = 1 if x > 0 else 0``.
The backward pass replaces ``dH/dx`` (a Dirac at 0) with a surrogate derivative ``σ'(x)``:

==================  ===============================================================  =============
name                surrogate derivative ``σ'(x)``                                   source
==================  ===============================================================  =============
``boxcar``          ``height · 1[|x| ≤ width]``                                      paper 1 Eq. 13
``triangle``        ``height · max(0, 1 - |x| / width)``                             paper 2 §4.1
``sigmoid``         ``slope · σ(slope x) (1 - σ(slope x))``                          (derivative of a sigmoid)
``gaussian``        ``height · N(x; 0, sigma)``                                      Yin et al. 2021
``multi_gaussian``  ``(1+h) N(x; 0, σ) - h N(x; σ, sσ) - h N(x; -σ, sσ)``            Yin et al. 2021
``superspike``      ``1 / (beta |x| + 1)^2``                                         Zenke & Ganguli 2018
==================  ===============================================================  =============

``N(x; μ, σ) = exp(-(x-μ)² / 2σ²) / (σ √(2π))``.

Boxcar height: paper 1 prints ``0.5`` (Eq. 13), but its code (idiap/sparch ``SpikeFunctionBoxcar``)
passes the incoming gradient through unchanged, i.e. height ``1``. The published numbers come from
the code, so the default here is ``height=1.0``; pass ``height=0.5`` for the printed equation.
(sparch zeroes the gradient for ``x <= -0.5`` and ``x > 0.5``; we use the paper's closed interval
``|x| <= 0.5``: the two differ only at exactly ``x = -0.5``.)

Use :func:`get_surrogate` to build one by name; the result is a callable ``spike_fn(x) -> s`` to
hand to the neuron step functions, and its :meth:`Surrogate.derivative` gives ``σ'(x)`` to
hand-written backward passes.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any, Callable

import torch

from snn_deploy.errors import SnnDeployError

SQRT_2PI = math.sqrt(2.0 * math.pi)


def heaviside(x: torch.Tensor) -> torch.Tensor:
    """Exact strict step ``H(x) = 1[x > 0]`` in ``x``'s dtype (paper 1 Eq. 9).

    Computed as ``max(sign(x), 0)``: the same values as ``(x > 0).to(x.dtype)`` (sign(0) = 0), in
    two float ops instead of a comparison to a bool tensor and a cast, which cost twice as much in
    a per-step loop.
    """
    return torch.sign(x).clamp_(min=0.0)


class SpikeFunction(torch.autograd.Function):
    """Heaviside forward, ``grad · surrogate.derivative(x)`` backward."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, surrogate: "Surrogate") -> torch.Tensor:  # type: ignore[override]
        ctx.save_for_backward(x)
        ctx.surrogate = surrogate
        return heaviside(x)

    @staticmethod
    def backward(ctx: Any, grad_s: torch.Tensor) -> tuple[torch.Tensor, None]:  # type: ignore[override]
        (x,) = ctx.saved_tensors
        return grad_s * ctx.surrogate.derivative(x), None


class Surrogate:
    """Base: a spike function with a surrogate derivative. Subclasses are frozen dataclasses."""

    name = "surrogate"

    def derivative(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return SpikeFunction.apply(x, self)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, **dataclasses.asdict(self)}  # type: ignore[call-overload]


@dataclass(frozen=True)
class Boxcar(Surrogate):
    """``σ'(x) = height · 1[|x| ≤ width]`` (paper 1 Eq. 13 with height 0.5, width 0.5; code: height 1)."""

    height: float = 1.0
    width: float = 0.5
    name = "boxcar"

    def derivative(self, x: torch.Tensor) -> torch.Tensor:
        inside = (x.abs() <= self.width).to(x.dtype)
        return inside if self.height == 1.0 else inside * self.height


@dataclass(frozen=True)
class Triangle(Surrogate):
    """``σ'(x) = height · max(0, 1 - |x|/width)``: the piece-wise linear surrogate of paper 2 (§4.1)."""

    height: float = 1.0
    width: float = 1.0
    name = "triangle"

    def derivative(self, x: torch.Tensor) -> torch.Tensor:
        return torch.clamp(1.0 - x.abs() / self.width, min=0.0) * self.height


@dataclass(frozen=True)
class SigmoidDerivative(Surrogate):
    """``σ'(x) = slope · sig(slope x) (1 - sig(slope x))``: the derivative of a steep sigmoid."""

    slope: float = 5.0
    name = "sigmoid"

    def derivative(self, x: torch.Tensor) -> torch.Tensor:
        sig = torch.sigmoid(self.slope * x)
        return self.slope * sig * (1.0 - sig)


def _normal(x: torch.Tensor, mu: float, sigma: float) -> torch.Tensor:
    return torch.exp(-((x - mu) ** 2) / (2.0 * sigma * sigma)) / (sigma * SQRT_2PI)


@dataclass(frozen=True)
class Gaussian(Surrogate):
    """``σ'(x) = height · N(x; 0, sigma)``."""

    sigma: float = 0.5
    height: float = 1.0
    name = "gaussian"

    def derivative(self, x: torch.Tensor) -> torch.Tensor:
        return self.height * _normal(x, 0.0, self.sigma)


@dataclass(frozen=True)
class MultiGaussian(Surrogate):
    """Multi-Gaussian of Yin et al. 2021:
    ``σ'(x) = (1+h) N(x; 0, σ) - h N(x; σ, s·σ) - h N(x; -σ, s·σ)`` with σ = ``sigma``, h = ``h``, s = ``s``."""

    sigma: float = 0.5
    h: float = 0.15
    s: float = 6.0
    name = "multi_gaussian"

    def derivative(self, x: torch.Tensor) -> torch.Tensor:
        wide = self.s * self.sigma
        return ((1.0 + self.h) * _normal(x, 0.0, self.sigma)
                - self.h * _normal(x, self.sigma, wide)
                - self.h * _normal(x, -self.sigma, wide))


@dataclass(frozen=True)
class SuperSpike(Surrogate):
    """``σ'(x) = 1 / (beta |x| + 1)^2`` (Zenke & Ganguli 2018, the fast-sigmoid derivative)."""

    beta: float = 10.0
    name = "superspike"

    def derivative(self, x: torch.Tensor) -> torch.Tensor:
        return 1.0 / (self.beta * x.abs() + 1.0) ** 2


SURROGATES: dict[str, type] = {
    "boxcar": Boxcar,
    "triangle": Triangle,
    "sigmoid": SigmoidDerivative,
    "gaussian": Gaussian,
    "multi_gaussian": MultiGaussian,
    "superspike": SuperSpike,
}

SpikeFn = Callable[[torch.Tensor], torch.Tensor]


def get_surrogate(name: str = "boxcar", **params: float) -> Surrogate:
    """The surrogate ``name`` with ``params`` (see the table above); unknown names/params are errors."""
    cls = SURROGATES.get(name)
    if cls is None:
        raise SnnDeployError(f"unknown surrogate {name!r}; choose one of {', '.join(SURROGATES)}")
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(params) - known)
    if unknown:
        raise SnnDeployError(
            f"surrogate {name!r}: unknown parameter(s) {unknown}; it takes {sorted(known)}")
    return cls(**{k: float(v) for k, v in params.items()})
