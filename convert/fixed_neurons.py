"""Integer neuron steps: one parameter record, one state record and ONE pure step per IR neuron model.

The same step functions run in the batched emulator (``convert.emulator``) and inside our Lava
``PyLoihiProcessModel``s (deploy/), so both backends share one written-down arithmetic. Arrays are
numpy ``int64``; parameters are per-neuron ``[N]`` arrays, states ``[..., N]`` (a sample or a batch).

Notation (``convert.fixed_point``): ``dec(x, d) = sign(x(4096-d)) (|x(4096-d)| >> 12)`` is the 12-bit
leak, ``frac(x, f) = sign(xf) (|xf| >> 12)`` a 12-bit fraction multiply, ``wrap``/``sat`` the 24-bit
wrap/saturation, ``VTH = vth << 6`` the threshold and ``b = bias_mant << bias_exp`` the bias in state
units; ``a`` is a dense output (already shifted by its weight exponent) and ``s_`` the previous step's
spikes. The quantizer folds the per-neuron input factors ``(1 - alpha)`` / ``(1 - beta)`` (the
catalogue's ``input_factor``) into the weight rows and the bias, so they do not appear here.

The float equations each integer step implements are the catalogue's (``snn_deploy.catalogue``):

- ``cuba_lif`` (exactly Lava's ``PyLifModelBitAcc`` for ``reset == "zero"``)::

      u = wrap(dec(u, du + 1) + (a << 6))
      v = sat(dec(v, dv) + u + b [- VTH s_ if subtract])      s = v > VTH
      zero reset: v = 0 where s (stored state; the next leak starts from 0)

- ``lif``: ``v = sat(dec(v - VTH s_, dv) + (a << 6) + b)``, ``s = v > VTH``.
- ``adlif``: with ``w' = (1-alpha) w`` stored: ``w = sat(dec(w, dw) + frac(u_, a_frac) + b_adapt s_)``
  (``a_frac = round(4096 (1-alpha) a)``, ``b_adapt = (1-alpha) b`` in state units),
  ``v = sat(dec(v - VTH s_, dv) + (a << 6) + b - w)``, ``s = v > VTH``.
- ``mthr_lif``: ``A = sat(dec(A, da) + 4096 s_)`` (A in units of 2^-12), ``theta = VTH + frac(A, k)``
  (``k`` in state units per unit of A), ``v = sat(dec(v - theta_ s_, dv) + (a << 6) + b)``,
  ``s = v > theta``.
- ``spikgru``: ``z = LUT(a_gate + gate_bias)`` (12-bit fraction, gate input in units of 2^-8),
  ``i = wrap(dec(i, du + 1) + (a << 6) + b)``, ``v = sat(frac(v, z) + frac(i, 4096 - z) - VTH s_)``,
  ``s = v > VTH``.
- ``li`` (readout): ``u = sat(dec(u, dv) + (a << 6) + b)``; its output is the potential ``u``, not spikes.

Each model also says how its float parameters become these integers (``from_float``, called by
``convert.quantize`` after the population's state scale ``lambda`` is chosen; the threshold ``vth``
and the bias ``bias_mant``/``bias_exp`` are the quantizer's, common to all models).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Optional

import numpy as np

from snn_deploy.catalogue import ImplementsEntry, get_model_entry
from snn_deploy.convert import fixed_point as fp
from snn_deploy.errors import SnnDeployError


# ---- records ---------------------------------------------------------------------------------

RESET_FLAG = "subtract_reset"   #: the boolean parameter of a model with both resets (``flag_names``)


@dataclass(frozen=True)
class CubaLIFFixedParams:
    du: np.ndarray          #: current decay register (effective decay du + 1), 0..4095
    dv: np.ndarray          #: voltage decay register, 0..4095
    vth: np.ndarray         #: threshold mantissa (17-bit)
    bias_mant: np.ndarray   #: 13-bit signed
    bias_exp: np.ndarray    #: 3-bit unsigned
    subtract_reset: bool = False


@dataclass(frozen=True)
class CubaLIFFixedState:
    u: np.ndarray
    v: np.ndarray
    s: np.ndarray


@dataclass(frozen=True)
class LIFFixedParams:
    dv: np.ndarray
    vth: np.ndarray
    bias_mant: np.ndarray
    bias_exp: np.ndarray


@dataclass(frozen=True)
class LIFFixedState:
    v: np.ndarray
    s: np.ndarray


@dataclass(frozen=True)
class AdLIFFixedParams:
    dv: np.ndarray          #: leak of v: 4096 (1 - alpha)
    dw: np.ndarray          #: leak of w: 4096 (1 - beta)
    a_frac: np.ndarray      #: 12-bit signed fraction: 4096 (1 - alpha) a
    b_adapt: np.ndarray     #: state units: (1 - alpha) b
    vth: np.ndarray
    bias_mant: np.ndarray
    bias_exp: np.ndarray


@dataclass(frozen=True)
class AdLIFFixedState:
    v: np.ndarray
    w: np.ndarray
    s: np.ndarray


@dataclass(frozen=True)
class MthrLIFFixedParams:
    dv: np.ndarray
    da: np.ndarray          #: leak of the spike trace A: 4096 (1 - rho)
    k: np.ndarray           #: threshold increase per unit of A, in state units
    vth: np.ndarray
    bias_mant: np.ndarray
    bias_exp: np.ndarray


@dataclass(frozen=True)
class MthrLIFFixedState:
    v: np.ndarray
    A: np.ndarray
    theta: np.ndarray
    s: np.ndarray


@dataclass(frozen=True)
class SpikGRUFixedParams:
    du: np.ndarray          #: current decay register (effective du + 1), as cuba_lif
    vth: np.ndarray
    bias_mant: np.ndarray
    bias_exp: np.ndarray
    gate_bias: np.ndarray   #: added to the gate input, units of 2^-8


@dataclass(frozen=True)
class SpikGRUFixedState:
    i: np.ndarray
    v: np.ndarray
    z: np.ndarray           #: last gate value (12-bit fraction), recorded for inspection
    s: np.ndarray


@dataclass(frozen=True)
class LIFixedParams:
    dv: np.ndarray
    bias_mant: np.ndarray
    bias_exp: np.ndarray


@dataclass(frozen=True)
class LIFixedState:
    u: np.ndarray


# ---- steps ----------------------------------------------------------------------------------
#
# Each model's arithmetic is written ONCE, as an ``*_update`` function of plain values: the port
# inputs, then the state fields, then the parameter fields (in their records' order); it returns the
# output and the new state fields. It uses only ``fp``'s primitives and operators, so the same
# definition runs on numpy arrays (``*_step``: records in, records out; the emulator's numpy path and
# the Lava process models), on int64 scalars compiled into a per-element kernel (``convert.kernels``)
# and on torch tensors (``convert.emulator_torch``), each binding ``fp`` to its own primitives
# (``FixedNeuronModel.update_on``).

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


cuba_lif_step = record_step(cuba_lif_update, CubaLIFFixedState)
lif_step = record_step(lif_update, LIFFixedState)
adlif_step = record_step(adlif_update, AdLIFFixedState)
mthr_lif_step = record_step(mthr_lif_update, MthrLIFFixedState)
spikgru_step = record_step(spikgru_update, SpikGRUFixedState)
li_step = record_step(li_update, LIFixedState)


# ---- from float parameters (called by convert.quantize) ----------------------------------------

def per_neuron(pop: Any, key: str, default: Optional[float] = None) -> np.ndarray:
    """The float parameter ``key`` of population ``pop`` as ``[size]`` float64 (``default`` if absent)."""
    if key not in pop.params:
        if default is None:
            raise SnnDeployError(f"neurons {pop.name!r} ({pop.model}): float parameter {key!r} is missing")
        return np.full(pop.size, float(default))
    return np.broadcast_to(np.asarray(pop.params[key], dtype=np.float64), (pop.size,)).copy()


def decay_register(factor: np.ndarray, lo: int, hi: int, offset: int = 0) -> tuple[np.ndarray, int]:
    """``round(4096 (1 - factor)) - offset`` clipped to the register range (clips counted)."""
    d = np.rint(fp.DECAY_UNITY * (1.0 - np.asarray(factor, np.float64))) - offset
    clipped = int(np.count_nonzero((d < lo) | (d > hi)))
    return np.clip(d, lo, hi).astype(np.int64), clipped


@dataclass
class FromFloat:
    """What a model's ``from_float`` writes: integer parameters, clip counts, and the float bias
    (input units) the quantizer then turns into ``bias_mant``/``bias_exp`` (a model may move it)."""

    params: dict[str, np.ndarray]
    counts: dict[str, int]
    bias: np.ndarray


def _own_decay(pop: Any, bias: np.ndarray) -> FromFloat:
    """lif, li: ``dv = 4096 (1 - alpha)`` (4096: no memory, our microcode's range)."""
    dv, clipped = decay_register(per_neuron(pop, "alpha"), 0, fp.DECAY_UNITY)
    return FromFloat({"dv": dv}, {"decay_clipped": clipped}, bias)


def lif_from_float(pop: Any, lam: float, bias: np.ndarray, notes: list[str]) -> FromFloat:
    return _own_decay(pop, bias)


def li_from_float(pop: Any, lam: float, bias: np.ndarray, notes: list[str]) -> FromFloat:
    return _own_decay(pop, bias)


def cuba_lif_from_float(pop: Any, lam: float, bias: np.ndarray, notes: list[str]) -> FromFloat:
    """Lava's registers: ``du = 4096 (1 - alpha) - 1``, ``dv = 4096 (1 - beta)``. Loihi adds the bias to
    ``v``, not to the current: a current bias ``b`` becomes ``(1-beta) b / (1 - alpha_q)`` (steady state)."""
    du, c1 = decay_register(per_neuron(pop, "alpha"), 0, fp.DECAY_MAX, offset=fp.CURRENT_DECAY_OFFSET)
    dv, c2 = decay_register(per_neuron(pop, "beta"), 0, fp.DECAY_MAX, offset=fp.VOLTAGE_DECAY_OFFSET)
    alpha_q = (fp.DECAY_UNITY - du - fp.CURRENT_DECAY_OFFSET) / fp.DECAY_UNITY
    if np.any(bias):
        bias = bias / np.maximum(1.0 - alpha_q, 1.0 / fp.DECAY_UNITY)
        notes.append("bias moved from the current to the voltage (Loihi adds bias to v): "
                     "(1-beta) b / (1-alpha), exact in steady state")
    return FromFloat({"du": du, "dv": dv}, {"decay_clipped": c1 + c2}, bias)


def spikgru_from_float(pop: Any, lam: float, bias: np.ndarray, notes: list[str]) -> FromFloat:
    """``du = 4096 (1 - alpha) - 1`` (the current register); ``gate_bias`` comes with the gate denses."""
    du, clipped = decay_register(per_neuron(pop, "alpha"), 0, fp.DECAY_MAX, offset=fp.CURRENT_DECAY_OFFSET)
    return FromFloat({"du": du}, {"decay_clipped": clipped}, bias)


def adlif_from_float(pop: Any, lam: float, bias: np.ndarray, notes: list[str]) -> FromFloat:
    """``dv``, ``dw`` as decays; ``a_frac = round(4096 (1-alpha) a)``; ``b_adapt = round((1-alpha) b lambda)``."""
    out = _own_decay(pop, bias)
    alpha, beta, a = per_neuron(pop, "alpha"), per_neuron(pop, "beta"), per_neuron(pop, "a")
    unstable = int(np.count_nonzero(a < -(1.0 - beta)))
    if unstable:
        notes.append(f"{unstable} of {pop.size} neurons have a < -(1 - beta): linearly unstable below "
                     "threshold (float potentials can diverge; the 24-bit state saturates)")
    out.params["dw"], clipped = decay_register(beta, 0, fp.DECAY_UNITY)
    out.counts["decay_clipped"] += clipped
    a_frac = np.rint(fp.FRACTION_ONE * (1.0 - alpha) * a)
    out.counts["a_frac_clipped"] = int(np.count_nonzero(np.abs(a_frac) > fp.FRACTION_REG_MAX))
    out.params["a_frac"] = np.clip(a_frac, -fp.FRACTION_REG_MAX, fp.FRACTION_REG_MAX).astype(np.int64)
    out.params["b_adapt"] = np.clip(np.rint((1.0 - alpha) * per_neuron(pop, "b") * lam), fp.STATE_MIN,
                                    fp.STATE_MAX).astype(np.int64)
    return out


def mthr_lif_from_float(pop: Any, lam: float, bias: np.ndarray, notes: list[str]) -> FromFloat:
    """``dv``, ``da`` as decays; ``k = round(k lambda)`` state units per unit of A."""
    out = _own_decay(pop, bias)
    out.params["da"], clipped = decay_register(per_neuron(pop, "rho"), 0, fp.DECAY_UNITY)
    out.counts["decay_clipped"] += clipped
    out.params["k"] = np.clip(np.rint(per_neuron(pop, "k") * lam), fp.STATE_MIN, fp.STATE_MAX).astype(np.int64)
    return out


# ---- registry --------------------------------------------------------------------------------

@dataclass(frozen=True)
class FixedNeuronModel(ImplementsEntry):
    """The integer implementation of one catalogue entry (``snn_deploy.catalogue``, by ``name``): its
    records, its step, how its float parameters become integers, which state fields wrap or saturate.
    Ports, spiking and reset rules are the entry's."""

    name: str
    params_type: type
    state_type: type
    step: Callable[..., tuple[np.ndarray, Any]]
    from_float: Callable[..., FromFloat]
    wrapping: tuple[str, ...] = ()      #: state fields that wrap at 24 bits (counted by the emulator)
    saturating: tuple[str, ...] = ()    #: state fields that saturate at +-(2^23 - 1)
    own_dv: bool = True                 #: ``dv`` is our microcode's decay (4096 allowed), not Lava LIF's 12-bit register

    @property
    def update(self) -> Optional[Callable[..., tuple]]:
        """The model's ``*_update`` definition (plain values in, plain values out) behind ``step``, which the
        compiled engine compiles; None for a step written on records only (it then runs on the numpy path)."""
        return getattr(self.step, "update", None)

    def update_on(self, primitives: Any) -> Callable[..., tuple]:
        """``update`` with ``fp`` bound to ``primitives`` (``fixed_point.bind_primitives``): the same code
        object on another backend's values. A step written on records only has none: SnnDeployError."""
        if self.update is None:
            raise SnnDeployError(f"neuron model {self.name!r}: its integer step is written on records only (no "
                                 "*_update definition), which only the numpy emulator engine runs: use engine 'numpy'")
        namespace = dict(self.update.__globals__)
        namespace["fp"] = primitives
        return fp.rebind(self.update, namespace)

    @property
    def param_names(self) -> tuple[str, ...]:
        """The per-neuron integer parameters (the reset flag apart: ``flag_names``)."""
        return tuple(f.name for f in dataclasses.fields(self.params_type) if f.name != RESET_FLAG)

    @property
    def flag_names(self) -> tuple[str, ...]:
        """The parameter record's one boolean, ``subtract_reset``, where the model has both resets."""
        return tuple(f.name for f in dataclasses.fields(self.params_type) if f.name == RESET_FLAG)

    @property
    def overflow_names(self) -> tuple[str, ...]:
        """The emulator's overflow counts: ``saturated_<field>`` then ``wrapped_<field>``."""
        return tuple(f"saturated_{n}" for n in self.saturating) + tuple(f"wrapped_{n}" for n in self.wrapping)

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
        if self.flag_names:
            kwargs[RESET_FLAG] = reset == "subtract"
        return self.params_type(**kwargs)

    def initial_state(self, size: int, batch_shape: tuple[int, ...] = ()) -> Any:
        """All-zero state (hardware starts from zero)."""
        shape = tuple(batch_shape) + (int(size),)
        return self.state_type(**{n: np.zeros(shape, dtype=np.int64) for n in self.state_names})

    def apply(self, inputs: Mapping[str, np.ndarray], state: Any, params: Any) -> tuple[np.ndarray, Any]:
        """Call ``step`` with the dense outputs of each port (``inputs[port]``), in port order."""
        return self.step(*[inputs[p] for p in self.ports], state, params)


NEURON_MODELS: dict[str, FixedNeuronModel] = {}


def register_neuron_model(model: FixedNeuronModel) -> FixedNeuronModel:
    """Register the integer step of the catalogue entry ``model.name``; ValueError when the name is taken
    or the parameter record's fields are not the entry's ``fixed_params``."""
    entry = get_model_entry(model.name)
    if model.name in NEURON_MODELS:
        raise ValueError(f"neuron model {model.name!r} already has an integer step")
    if set(model.param_names) != set(entry.fixed_params):
        raise ValueError(f"neuron model {model.name!r}: {model.params_type.__name__} fields {list(model.param_names)} "
                         f"are not the catalogue's fixed parameters {list(entry.fixed_params)}")
    NEURON_MODELS[model.name] = model
    return model


def unregister_neuron_model(name: str) -> None:
    NEURON_MODELS.pop(name, None)


for _model in (
        FixedNeuronModel("cuba_lif", CubaLIFFixedParams, CubaLIFFixedState, cuba_lif_step, cuba_lif_from_float,
                         wrapping=("u",), saturating=("v",), own_dv=False),
        FixedNeuronModel("lif", LIFFixedParams, LIFFixedState, lif_step, lif_from_float, saturating=("v",)),
        FixedNeuronModel("adlif", AdLIFFixedParams, AdLIFFixedState, adlif_step, adlif_from_float,
                         saturating=("v", "w")),
        FixedNeuronModel("mthr_lif", MthrLIFFixedParams, MthrLIFFixedState, mthr_lif_step, mthr_lif_from_float,
                         saturating=("v", "A")),
        FixedNeuronModel("spikgru", SpikGRUFixedParams, SpikGRUFixedState, spikgru_step, spikgru_from_float,
                         wrapping=("i",), saturating=("v",)),
        FixedNeuronModel("li", LIFixedParams, LIFixedState, li_step, li_from_float, saturating=("u",)),
):
    register_neuron_model(_model)


def get_neuron_model(name: str) -> FixedNeuronModel:
    """The integer model for an IR neuron model name; SnnDeployError for an unknown one."""
    try:
        return NEURON_MODELS[name]
    except KeyError:
        raise SnnDeployError(f"no integer neuron step for model {name!r}; known: {sorted(NEURON_MODELS)}") from None
