"""Integer neuron steps: one parameter record, one state record and ONE pure step per IR neuron model.

The same step functions run in the batched emulator (``convert.emulator``) and inside our Lava
``PyLoihiProcessModel``s (deploy/), so both backends share one written-down arithmetic. Arrays are
numpy ``int64``; parameters are per-neuron ``[N]`` arrays, states ``[..., N]`` (a sample or a batch).

Notation (``convert.fixed_point``): ``dec(x, d) = sign(x(4096-d)) (|x(4096-d)| >> 12)`` is the 12-bit
leak, ``frac(x, f) = sign(xf) (|xf| >> 12)`` a 12-bit fraction multiply, ``wrap``/``sat`` the 24-bit
wrap/saturation, ``VTH = vth << 6`` the threshold and ``b = bias_mant << bias_exp`` the bias in state
units; ``a`` is a dense output (already shifted by its weight exponent) and ``s_`` the previous step's
spikes. The float semantics are those of ``snn_deploy.ir``; the quantizer folds the per-neuron input
factors ``(1 - alpha)`` / ``(1 - beta)`` into the weight rows and the bias, so they do not appear here.

- ``cuba_lif`` (exactly Lava's ``PyLifModelBitAcc`` for ``reset == "zero"``)::

      float: i = alpha i + I            v = beta v + (1-beta) i - vth s_  (or v = beta v (1-s_) + ...)
      int:   u = wrap(dec(u, du + 1) + (a << 6))
             v = sat(dec(v, dv) + u + b [- VTH s_ if subtract])      s = v > VTH
             zero reset: v = 0 where s (stored state; the next leak starts from 0)

- ``lif``:   ``float u = alpha (u - vth s_) + (1-alpha) I``;
  ``int v = sat(dec(v - VTH s_, dv) + (a << 6) + b)``, ``s = v > VTH``.
- ``adlif``: ``float w = beta w + a u_ + b s_; u = alpha (u - vth s_) + (1-alpha)(I - w)``, with
  ``w' = (1-alpha) w`` stored: ``int w = sat(dec(w, dw) + frac(u_, a_frac) + b_adapt s_)``
  (``a_frac = round(4096 (1-alpha) a)``, ``b_adapt = (1-alpha) b`` in state units),
  ``v = sat(dec(v - VTH s_, dv) + (a << 6) + b - w)``, ``s = v > VTH``.
- ``mthr_lif``: ``float A = rho A + s_; theta = vth + k A; u = alpha (u - theta_ s_) + (1-alpha) I``;
  ``int A = sat(dec(A, da) + 4096 s_)`` (A in units of 2^-12), ``theta = VTH + frac(A, k)``
  (``k`` in state units per unit of A), ``v = sat(dec(v - theta_ s_, dv) + (a << 6) + b)``,
  ``s = v > theta``.
- ``spikgru``: ``float z = sigmoid(I_gate); i = alpha i + I; v = z v + (1-z) i - vth s_``;
  ``int z = LUT(a_gate + gate_bias)`` (12-bit fraction, gate input in units of 2^-8),
  ``i = wrap(dec(i, du + 1) + (a << 6) + b)``, ``v = sat(frac(v, z) + frac(i, 4096 - z) - VTH s_)``,
  ``s = v > VTH``.
- ``li`` (readout): ``float u = alpha u + (1-alpha) I``; ``int u = sat(dec(u, dv) + (a << 6) + b)``;
  its output is the potential ``u``, not spikes.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Callable, Mapping

import numpy as np

from snn_deploy.convert import fixed_point as fp
from snn_deploy.errors import SnnDeployError


# ---- records ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class CubaLifParams:
    du: np.ndarray          #: current decay register (effective decay du + 1), 0..4095
    dv: np.ndarray          #: voltage decay register, 0..4095
    vth: np.ndarray         #: threshold mantissa (17-bit)
    bias_mant: np.ndarray   #: 13-bit signed
    bias_exp: np.ndarray    #: 3-bit unsigned
    subtract_reset: bool = False


@dataclass(frozen=True)
class CubaLifState:
    u: np.ndarray
    v: np.ndarray
    s: np.ndarray


@dataclass(frozen=True)
class LifParams:
    dv: np.ndarray
    vth: np.ndarray
    bias_mant: np.ndarray
    bias_exp: np.ndarray


@dataclass(frozen=True)
class LifState:
    v: np.ndarray
    s: np.ndarray


@dataclass(frozen=True)
class AdlifParams:
    dv: np.ndarray          #: leak of v: 4096 (1 - alpha)
    dw: np.ndarray          #: leak of w: 4096 (1 - beta)
    a_frac: np.ndarray      #: 12-bit signed fraction: 4096 (1 - alpha) a
    b_adapt: np.ndarray     #: state units: (1 - alpha) b
    vth: np.ndarray
    bias_mant: np.ndarray
    bias_exp: np.ndarray


@dataclass(frozen=True)
class AdlifState:
    v: np.ndarray
    w: np.ndarray
    s: np.ndarray


@dataclass(frozen=True)
class MthrLifParams:
    dv: np.ndarray
    da: np.ndarray          #: leak of the spike trace A: 4096 (1 - rho)
    k: np.ndarray           #: threshold increase per unit of A, in state units
    vth: np.ndarray
    bias_mant: np.ndarray
    bias_exp: np.ndarray


@dataclass(frozen=True)
class MthrLifState:
    v: np.ndarray
    A: np.ndarray
    theta: np.ndarray
    s: np.ndarray


@dataclass(frozen=True)
class SpikgruParams:
    du: np.ndarray          #: current decay register (effective du + 1), as cuba_lif
    vth: np.ndarray
    bias_mant: np.ndarray
    bias_exp: np.ndarray
    gate_bias: np.ndarray   #: added to the gate input, units of 2^-8


@dataclass(frozen=True)
class SpikgruState:
    i: np.ndarray
    v: np.ndarray
    z: np.ndarray           #: last gate value (12-bit fraction), recorded for inspection
    s: np.ndarray


@dataclass(frozen=True)
class LiParams:
    dv: np.ndarray
    bias_mant: np.ndarray
    bias_exp: np.ndarray


@dataclass(frozen=True)
class LiState:
    u: np.ndarray


# ---- steps ----------------------------------------------------------------------------------
#
# Each model's arithmetic is written ONCE, as an ``*_update`` function of plain values: the port
# inputs, then the state fields, then the parameter fields (in their records' order); it returns the
# output and the new state fields. It uses only ``fp``'s primitives and operators, so the same
# definition runs on numpy arrays (``*_step``: records in, records out; the emulator's numpy path and
# the Lava process models), on int64 scalars compiled into a per-element kernel (``convert.kernels``)
# and on torch tensors (``convert.emulator_torch``), each binding ``fp`` to its own primitives.

def cuba_lif_update(a_in, u, v, s, du, dv, vth, bias_mant, bias_exp, subtract_reset):
    """Lava's LIF (PyLifModelBitAcc) order: current, voltage, spike, reset. See the module docstring."""
    u = fp.wrap_current(fp.decay(u, du + fp.CURRENT_DECAY_OFFSET) + fp.activation(a_in))
    vth = fp.threshold(vth)
    v = fp.decay(v, dv + fp.VOLTAGE_DECAY_OFFSET) + u + fp.scale_bias(bias_mant, bias_exp)
    if subtract_reset:
        v = v - vth * s
    v = fp.saturate(v)
    s = fp.spikes(v, vth)
    if not subtract_reset:
        v = v - v * s                     # zero reset: v = 0 where s
    return s, u, v, s


def lif_update(a_in, v, s, dv, vth, bias_mant, bias_exp):
    """``v = sat(dec(v - VTH s_, dv) + (a << 6) + b)``; ``s = v > VTH`` (reset by subtraction in the leak)."""
    vth = fp.threshold(vth)
    v = fp.saturate(fp.decay(v - vth * s, dv) + fp.activation(a_in) + fp.scale_bias(bias_mant, bias_exp))
    s = fp.spikes(v, vth)
    return s, v, s


def adlif_update(a_in, v, w, s, dv, dw, a_frac, b_adapt, vth, bias_mant, bias_exp):
    """``w = sat(dec(w, dw) + frac(v_, a_frac) + b_adapt s_)``; ``v = sat(dec(v - VTH s_, dv) + (a << 6) + b - w)``."""
    vth = fp.threshold(vth)
    w = fp.saturate(fp.decay(w, dw) + fp.mul_frac(v, a_frac) + b_adapt * s)
    v = fp.saturate(fp.decay(v - vth * s, dv) + fp.activation(a_in) + fp.scale_bias(bias_mant, bias_exp) - w)
    s = fp.spikes(v, vth)
    return s, v, w, s


def mthr_lif_update(a_in, v, A, theta, s, dv, da, k, vth, bias_mant, bias_exp):
    """``A = sat(dec(A, da) + 4096 s_)``; ``theta = VTH + frac(A, k)``; ``v = sat(dec(v - theta_ s_, dv) + (a << 6) + b)``."""
    v = fp.saturate(fp.decay(v - theta * s, dv) + fp.activation(a_in) + fp.scale_bias(bias_mant, bias_exp))
    A = fp.saturate(fp.decay(A, da) + fp.ADAPT_ONE * s)
    theta = fp.threshold(vth) + fp.mul_frac(A, k)
    s = fp.spikes(v, theta)
    return s, v, A, theta, s


def spikgru_update(a_in, a_gate, i, v, z, s, du, vth, bias_mant, bias_exp, gate_bias):
    """``z = LUT(a_gate + gate_bias)``; ``i = wrap(dec(i, du+1) + (a << 6) + b)``; ``v = sat(frac(v, z) + frac(i, 4096-z) - VTH s_)``."""
    vth = fp.threshold(vth)
    z = fp.sigmoid_gate(a_gate + gate_bias)
    i = fp.wrap_current(fp.decay(i, du + fp.CURRENT_DECAY_OFFSET) + fp.activation(a_in)
                        + fp.scale_bias(bias_mant, bias_exp))
    v = fp.saturate(fp.mul_frac(v, z) + fp.mul_frac(i, fp.FRACTION_ONE - z) - vth * s)
    s = fp.spikes(v, vth)
    return s, i, v, z, s


def li_update(a_in, u, dv, bias_mant, bias_exp):
    """``u = sat(dec(u, dv) + (a << 6) + b)``; returns ``(u, u)``: the output is the potential."""
    u = fp.saturate(fp.decay(u, dv) + fp.activation(a_in) + fp.scale_bias(bias_mant, bias_exp))
    return u, u


def record_step(update: Callable[..., tuple], state_type: type) -> Callable[..., tuple[np.ndarray, Any]]:
    """The numpy step ``step(*inputs, state, params) -> (output, state)`` of an ``*_update`` definition.

    Inputs are taken as int64 arrays; the update reads the records' fields in their declared order.
    """
    def step(*args: Any) -> tuple[np.ndarray, Any]:
        *inputs, state, params = args
        out, *fields = update(*[np.asarray(a, dtype=np.int64) for a in inputs],
                              *[getattr(state, f.name) for f in dataclasses.fields(state)],
                              *[getattr(params, f.name) for f in dataclasses.fields(params)])
        return out, state_type(*fields)

    step.__name__ = update.__name__.replace("_update", "_step")
    step.__doc__ = update.__doc__
    step.update = update
    return step


cuba_lif_step = record_step(cuba_lif_update, CubaLifState)
lif_step = record_step(lif_update, LifState)
adlif_step = record_step(adlif_update, AdlifState)
mthr_lif_step = record_step(mthr_lif_update, MthrLifState)
spikgru_step = record_step(spikgru_update, SpikgruState)
li_step = record_step(li_update, LiState)


# ---- registry --------------------------------------------------------------------------------

@dataclass(frozen=True)
class FixedModel:
    """One integer neuron model: its records, its step, the dense ports it reads, whether it spikes."""

    name: str
    params_type: type
    state_type: type
    step: Callable[..., tuple[np.ndarray, Any]]
    ports: tuple[str, ...] = ("input",)
    spiking: bool = True
    resets: tuple[str, ...] = ("subtract",)
    wrapping: tuple[str, ...] = ()      #: state fields that wrap at 24 bits (counted by the emulator)
    saturating: tuple[str, ...] = ()    #: state fields that saturate at +-(2^23 - 1)

    @property
    def update(self) -> Callable[..., tuple]:
        """The model's ``*_update`` definition (plain values in, plain values out) behind ``step``."""
        return self.step.update

    @property
    def param_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in dataclasses.fields(self.params_type) if f.name != "subtract_reset")

    @property
    def state_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in dataclasses.fields(self.state_type))

    def params_from_node(self, node: Any) -> Any:
        """Build the parameter record from a fixed-IR ``NeuronNode`` (integer params, per neuron)."""
        return self.make_params(node.params, node.size, reset=node.reset, where=f"neurons {node.name!r}")

    def make_params(self, values: Mapping[str, Any], size: int, reset: str = "subtract",
                    where: str = "neurons") -> Any:
        names = self.param_names
        unknown = sorted(set(values) - set(names))
        missing = [n for n in names if n not in values]
        if unknown or missing:
            raise SnnDeployError(
                f"{where} ({self.name}): fixed parameters {sorted(values)} do not match {list(names)} "
                f"(unknown {unknown}, missing {missing}); was the network quantized by this snn-deploy?")
        if reset not in self.resets:
            raise SnnDeployError(f"{where}: model {self.name} has no integer step for reset {reset!r} "
                                 f"(supported: {list(self.resets)})")
        kwargs: dict[str, Any] = {}
        for n in names:
            arr = np.asarray(values[n])
            if not np.issubdtype(arr.dtype, np.integer):
                if not np.all(np.isfinite(arr)) or not np.all(arr == np.round(arr)):
                    raise SnnDeployError(f"{where}: fixed parameter {n!r} is not integer (dtype {arr.dtype})")
            kwargs[n] = np.broadcast_to(arr.astype(np.int64), (size,)).copy()
        if "subtract_reset" in {f.name for f in dataclasses.fields(self.params_type)}:
            kwargs["subtract_reset"] = reset == "subtract"
        return self.params_type(**kwargs)

    def initial_state(self, size: int, batch_shape: tuple[int, ...] = ()) -> Any:
        """All-zero state (hardware starts from zero)."""
        shape = tuple(batch_shape) + (int(size),)
        return self.state_type(**{n: np.zeros(shape, dtype=np.int64) for n in self.state_names})

    def apply(self, inputs: Mapping[str, np.ndarray], state: Any, params: Any) -> tuple[np.ndarray, Any]:
        """Call ``step`` with the dense outputs of each port (``inputs[port]``), in port order."""
        return self.step(*[inputs[p] for p in self.ports], state, params)


MODELS: dict[str, FixedModel] = {
    m.name: m for m in (
        FixedModel("cuba_lif", CubaLifParams, CubaLifState, cuba_lif_step, resets=("zero", "subtract"),
                   wrapping=("u",), saturating=("v",)),
        FixedModel("lif", LifParams, LifState, lif_step, saturating=("v",)),
        FixedModel("adlif", AdlifParams, AdlifState, adlif_step, saturating=("v", "w")),
        FixedModel("mthr_lif", MthrLifParams, MthrLifState, mthr_lif_step, saturating=("v", "A")),
        FixedModel("spikgru", SpikgruParams, SpikgruState, spikgru_step, ports=("input", "gate"),
                   wrapping=("i",), saturating=("v",)),
        FixedModel("li", LiParams, LiState, li_step, spiking=False, saturating=("u",)),
    )
}


def get_model(name: str) -> FixedModel:
    """The integer model for an IR neuron model name; SnnDeployError for an unknown one."""
    try:
        return MODELS[name]
    except KeyError:
        raise SnnDeployError(f"no integer neuron step for model {name!r}; known: {sorted(MODELS)}") from None
