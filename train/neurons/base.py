"""The float implementation record of a neuron model: its records and its step function.

What the model is (parameters with ranges, state, ports, equations) is its ``snn_deploy.catalogue``
entry. Its float implementation is a parameter record + a state record + ONE pure step function
``step(I, state, params, spike_fn) -> (out, new_state)`` written with torch ops (STYLE.md, after
norse). ``out`` is the spike tensor for spiking models and the potential for the non-spiking
readout. Everything else (the training layers, the float IR runner) only loops over time around it.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Callable

import torch

from snn_deploy.catalogue import (A_RANGE, ALPHA_RANGE, B_RANGE, BETA_RANGE, THRESHOLD, UNIT_RANGE,  # noqa: F401
                                  ImplementsEntry, ParamSpec)


@dataclass(frozen=True)
class NeuronModel(ImplementsEntry):
    """The float implementation of one catalogue entry (``snn_deploy.catalogue``, by ``name``).

    Its trainable parameters (``specs``, with ranges), ports, spiking and potential variable are the
    entry's; the records and the step are this stage's.
    """

    name: str
    params_cls: type
    state_cls: type
    step: Callable[..., Any]

    @property
    def specs(self) -> tuple[ParamSpec, ...]:
        return self.entry.trainable

    @property
    def potential(self) -> str:
        return self.entry.potential
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
