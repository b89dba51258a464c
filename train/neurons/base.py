"""What every neuron model declares: its trainable parameters (with ranges) and its step function.

A neuron model is a parameter record + a state record + ONE pure step function
``step(I, state, params, spike_fn) -> (out, new_state)`` written with torch ops (STYLE.md, after
norse). ``out`` is the spike tensor for spiking models and the potential for the non-spiking
readout. Everything else (the training layers, the float IR runner) only loops over time around it.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any, Callable

import torch

# Ranges of paper 1's code (idiap/sparch), per time step: α = exp(-1/τ_u), τ_u in [5, 25] steps;
# β = exp(-1/τ_w), τ_w in [30, 120] steps (DESIGN.md section 3).
ALPHA_RANGE = (math.exp(-1.0 / 5.0), math.exp(-1.0 / 25.0))
BETA_RANGE = (math.exp(-1.0 / 30.0), math.exp(-1.0 / 120.0))
A_RANGE = (-1.0, 1.0)
B_RANGE = (0.0, 2.0)
UNIT_RANGE = (0.0, 1.0)   # paper 2 §4.1: α, β clipped to [0, 1]
THRESHOLD = 1.0           # ϑ (paper 1) = v_th (paper 2)


@dataclass(frozen=True)
class ParamSpec:
    """A per-neuron trainable parameter: initialised uniformly in ``init``, clamped to ``clamp`` every forward.

    ``decay`` marks a leak factor (α, β, ρ): with ``ModelConfig.shared_decays`` a layer learns one value
    of it for all its neurons (Lava's LIF, which netx builds, holds one ``du``/``dv`` per layer).
    """

    name: str
    init: tuple[float, float]
    clamp: tuple[float, float]
    decay: bool = False


@dataclass(frozen=True)
class NeuronModel:
    """Registry record of one neuron model (the ``model`` string of ``snn_deploy.ir.NeuronNode``)."""

    name: str
    params_cls: type
    state_cls: type
    step: Callable[..., Any]
    specs: tuple[ParamSpec, ...]
    spiking: bool = True
    ports: tuple[str, ...] = ("input",)
    potential: str = "u"          # state field holding the membrane potential

    def zero_state(self, batch: int, size: int, like: torch.Tensor) -> Any:
        """Zero initial state (DESIGN.md section 3: hardware starts from zero; sparch's random start is not copied)."""
        zeros = like.new_zeros(batch, size)
        return self.state_cls(**{f.name: zeros for f in dataclasses.fields(self.state_cls)})

    def make_params(self, values: dict[str, Any], threshold: Any = THRESHOLD, **extra: Any) -> Any:
        """Build the parameter record from clamped values (and ``threshold``/``reset`` where the model has them)."""
        names = {f.name for f in dataclasses.fields(self.params_cls)}
        kwargs = {k: v for k, v in values.items() if k in names}
        if "threshold" in names:
            kwargs.setdefault("threshold", threshold)
            like = next((v for v in kwargs.values() if isinstance(v, torch.Tensor)), None)
            if like is not None and not isinstance(kwargs["threshold"], torch.Tensor):
                # a 0-d tensor: tensor-tensor ops are cheaper than tensor-Python-scalar ops per step
                kwargs["threshold"] = torch.tensor(float(kwargs["threshold"]), dtype=like.dtype, device=like.device)
        kwargs.update({k: v for k, v in extra.items() if k in names})
        return self.params_cls(**kwargs)
