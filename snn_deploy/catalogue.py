"""The neuron-model catalogue: one entry per neuron model, the one place its equations are written.

Each :class:`NeuronModelEntry` says what every stage needs to know about a model without running
it: the IR name, the dense ports it reads, whether it spikes, the reset rules it has, its float
parameters (with the ranges training draws and clamps them in), its integer (fixed-IR) parameter
names, its state variables, the input factor the quantizer folds into the weights, the training
zoo's variants, the arithmetic per neuron update (energy) and how it exports (NIR). The stages
*implement* an entry and register the implementation under the entry's name:

- ``train.neurons.register_neuron_model`` (float step, torch),
- ``convert.fixed_neurons.register_neuron_model`` (integer step and its quantization, numpy),

and everything else (IR validation, the zoo, Lava's process models, energy counting) reads the
entry. Adding a model is: one entry here (:func:`register_model`), a float step, an integer step.
``tests/test_catalogue.py`` checks that every stage covers every entry.

Notation (per time step ``t``; ``I[t]`` is the sum of the denses on the ``input`` port, ``W x + b``;
``H(x) = 1 if x > 0 else 0``, strict as on Loihi; ``s_`` the previous step's spikes; state starts at
0). Ranges are those of paper 1's code (idiap/sparch), per time step: ``α = exp(-1/τ_u)``, ``τ_u`` in
[5, 25] steps; ``β = exp(-1/τ_w)``, ``τ_w`` in [30, 120] steps (DESIGN.md section 3).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping, Optional

import numpy as np

from snn_deploy.errors import SnnDeployError

ALPHA_RANGE = (math.exp(-1.0 / 5.0), math.exp(-1.0 / 25.0))
BETA_RANGE = (math.exp(-1.0 / 30.0), math.exp(-1.0 / 120.0))
A_RANGE = (-1.0, 1.0)
B_RANGE = (0.0, 2.0)
UNIT_RANGE = (0.0, 1.0)   # paper 2 §4.1: α, β clipped to [0, 1]
THRESHOLD = 1.0           # ϑ (paper 1) = v_th (paper 2)
RESETS = ("subtract", "zero")


@dataclass(frozen=True)
class ParamSpec:
    """A per-neuron float parameter. Trainable ones are drawn uniformly in ``init`` and clamped to
    ``clamp`` every forward; ``init is None`` marks a fixed one (the threshold, ``default``).

    ``decay`` marks a leak factor (α, β, ρ): with ``ModelConfig.shared_decays`` a layer learns one value
    of it for all its neurons (Lava's LIF, which netx builds, holds one ``du``/``dv`` per layer).
    """

    name: str
    init: Optional[tuple[float, float]]
    clamp: Optional[tuple[float, float]]
    decay: bool = False
    default: Optional[float] = None   #: value when the IR omits the parameter (None: required)

    @property
    def trainable(self) -> bool:
        return self.init is not None


THRESHOLD_PARAM = ParamSpec("threshold", None, None, default=THRESHOLD)


@dataclass(frozen=True)
class NeuronArith:
    """Arithmetic of one neuron in one step, read off the model's update equations (energy counts)."""

    mac: int            # element-wise products (leaks, gates)
    ac: int             # additions per neuron per step that do not depend on spikes
    ac_per_spike: int   # additions triggered by the neuron's own spike of the previous step
    nonlinear: int      # nonlinear function evaluations (sigmoid of a gate)


@dataclass(frozen=True)
class NeuronModelEntry:
    """Everything about one neuron model that is data (see the module docstring)."""

    name: str
    update: str                          #: the float update equations, once (what energy reports print)
    notes: str                           #: sources (paper equation numbers) and deviations from them
    params: tuple[ParamSpec, ...]        #: float parameters, per neuron
    fixed_params: tuple[str, ...]        #: integer parameters of the fixed IR (``convert.fixed_neurons``)
    state: tuple[str, ...]               #: float state variables (``s``: the previous spikes)
    arith: NeuronArith
    ports: tuple[str, ...] = ("input",)
    spiking: bool = True
    resets: tuple[str, ...] = ("subtract",)
    potential: str = "u"                 #: the state variable holding the membrane potential
    input_factor: Optional[str] = None   #: parameter ``p`` whose ``(1 - p)`` the quantizer folds into the weights
    variants: tuple[tuple[str, bool], ...] = ()   #: training zoo names and whether their synapses are recurrent
    nir: str = ""                        #: the NIR 1.0 primitive(s) it maps to ...
    not_in_nir: str = ""                 #: ... or why there is none

    @property
    def state_vars(self) -> int:
        """State variables read and written per update (the spike flag ``s`` not counted)."""
        return sum(v != "s" for v in self.state)

    @property
    def param_names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.params)

    @property
    def trainable(self) -> tuple[ParamSpec, ...]:
        return tuple(p for p in self.params if p.trainable)


# ---- the entries ---------------------------------------------------------------------------------

LIF = NeuronModelEntry(
    name="lif",
    update="u = α (u - ϑ s_) + (1-α) I; s = H(u - ϑ)",
    notes="paper 1 Eq. 7-9 with a = b = 0 (its §2.1.4), as run by its code (idiap/sparch LIFLayer). Eq. 9 "
          "prints s = (u >= ϑ); the code (x.gt(0)) and Loihi (v > vth) are strict. Printed Eq. 7 puts the "
          "reset outside the leak; the code multiplies it by α, and we follow the code (DESIGN.md section 3).",
    params=(ParamSpec("alpha", ALPHA_RANGE, ALPHA_RANGE, decay=True), THRESHOLD_PARAM),
    fixed_params=("dv", "vth", "bias_mant", "bias_exp"),
    state=("u", "s"),
    arith=NeuronArith(mac=1, ac=0, ac_per_spike=1, nonlinear=0),     # paper 2 Table 2: n MAC
    input_factor="alpha",
    variants=(("lif", False), ("rlif", True)),
    nir="LIF (with metadata reset='subtract')",
)

ADLIF = NeuronModelEntry(
    name="adlif",
    update="w = β w + a u_ + b s_; u = α (u - ϑ s_) + (1-α)(I - w); s = H(u - ϑ)",
    notes="paper 1 Eq. 7-9 as run by its code (idiap/sparch adLIFLayer): w uses the old u and s and has no "
          "(1-β) factor, u uses the NEW w, the reset is inside the leak. Printed Eq. 8 has (1-β) a u[t-1], "
          "Eq. 7 uses w[t-1] with the reset outside the leak; Eq. 9 prints u >= ϑ. Ranges of the code: "
          "α ∈ [e^-1/5, e^-1/25], β ∈ [e^-1/30, e^-1/120], a ∈ [-1, 1], b ∈ [0, 2].",
    params=(ParamSpec("alpha", ALPHA_RANGE, ALPHA_RANGE, decay=True),
            ParamSpec("beta", BETA_RANGE, BETA_RANGE, decay=True),
            ParamSpec("a", A_RANGE, A_RANGE), ParamSpec("b", B_RANGE, B_RANGE), THRESHOLD_PARAM),
    fixed_params=("dv", "dw", "a_frac", "b_adapt", "vth", "bias_mant", "bias_exp"),
    state=("u", "w", "s"),
    arith=NeuronArith(mac=4, ac=0, ac_per_spike=2, nonlinear=0),
    input_factor="alpha",
    variants=(("adlif", False), ("radlif", True)),
    not_in_nir="its recovery current w (paper 1, Eq. 8) has no NIR 1.0 primitive",
)

MTHR_LIF = NeuronModelEntry(
    name="mthr_lif",
    update="A = ρ A + s_; θ = ϑ + k A; u = α (u - θ_ s_) + (1-α) I; s = H(u - θ)",
    notes="moving-threshold adaptation (Bellec et al. 2018 style), the alternative of paper 1 Table 11. "
          "The reset subtracts the threshold that was crossed, θ_ = ϑ + k A[t-1] (recomputed from the stored "
          "A). Ranges (ours; paper 1 does not print them): α as LIF, ρ ∈ [e^-1/30, e^-1/120] as adLIF's β "
          "(adaptation over 30-120 steps), k ∈ [0, 2] as adLIF's b.",
    params=(ParamSpec("alpha", ALPHA_RANGE, ALPHA_RANGE, decay=True),
            ParamSpec("rho", BETA_RANGE, BETA_RANGE, decay=True),
            ParamSpec("k", B_RANGE, B_RANGE), THRESHOLD_PARAM),
    fixed_params=("dv", "da", "k", "vth", "bias_mant", "bias_exp"),
    state=("u", "A", "s"),
    arith=NeuronArith(mac=3, ac=1, ac_per_spike=2, nonlinear=0),
    input_factor="alpha",
    variants=(("mthr_lif", False),),
    not_in_nir="its moving threshold has no NIR 1.0 primitive",
)

CUBA_LIF = NeuronModelEntry(
    name="cuba_lif",
    update="i = α i + I; v = β v + (1-β) i - ϑ s_ (reset 'zero': v = β v (1 - s_) + (1-β) i); s = H(v - ϑ)",
    notes="paper 2 Eq. 3-5 (Dampfhoffer et al.), Lava's LIF semantics; reset 'subtract' is paper 2 Eq. 4, "
          "'zero' Lava/Loihi's hard reset. α, β clamped to [0, 1] (paper 2 §4.1), initialised in "
          "[e^-1/5, e^-1/25] (paper 2 initialises them at 0.9, which lies in that range). Paper 2 also "
          "clips i and v during training; we do not (a clip would have to be reproduced on hardware).",
    params=(ParamSpec("alpha", ALPHA_RANGE, UNIT_RANGE, decay=True),
            ParamSpec("beta", ALPHA_RANGE, UNIT_RANGE, decay=True), THRESHOLD_PARAM),
    fixed_params=("du", "dv", "vth", "bias_mant", "bias_exp"),
    state=("i", "v", "s"),
    arith=NeuronArith(mac=3, ac=0, ac_per_spike=1, nonlinear=0),     # paper 2 Table 2: 3n MAC
    resets=("subtract", "zero"),
    potential="v",
    input_factor="beta",
    variants=(("cuba_lif", True),),
    nir="CubaLIF (reset 'zero'; 'subtract' with metadata)",
)

SPIKGRU = NeuronModelEntry(
    name="spikgru",
    update="z = σ(I_gate); i = α i + I; v = z v + (1-z) i - ϑ s_; s = H(v - ϑ)",
    notes="paper 2 Eq. 6-9 (Dampfhoffer et al.): CUBA-LIF with β replaced by an update gate driven by the "
          "'gate' port. α clamped to [0, 1], initialised in [e^-1/5, e^-1/25].",
    params=(ParamSpec("alpha", ALPHA_RANGE, UNIT_RANGE, decay=True), THRESHOLD_PARAM),
    fixed_params=("du", "vth", "bias_mant", "bias_exp", "gate_bias"),
    state=("i", "v", "s"),
    arith=NeuronArith(mac=3, ac=0, ac_per_spike=1, nonlinear=1),     # paper 2 Table 2: 3n MAC
    ports=("input", "gate"),
    potential="v",
    variants=(("spikgru", True),),
    not_in_nir="its update gate z = σ(W_z s + U_z s[t-1]) has no NIR 1.0 primitive",
)

LI = NeuronModelEntry(
    name="li",
    update="u = α u + (1-α) I",
    notes="non-spiking leaky integrator, the readout of paper 1 §2.5 (sparch ReadoutLayer); its output is "
          "the potential u, not spikes (sparch starts from random values, we from zero).",
    params=(ParamSpec("alpha", ALPHA_RANGE, ALPHA_RANGE, decay=True),),
    fixed_params=("dv", "bias_mant", "bias_exp"),
    state=("u",),
    arith=NeuronArith(mac=1, ac=0, ac_per_spike=0, nonlinear=0),
    spiking=False,
    input_factor="alpha",
    nir="LI",
)

_CATALOGUE: dict[str, NeuronModelEntry] = {}


class ImplementsEntry:
    """Mixin of a stage's implementation record (a dataclass with a ``name`` field): what the
    catalogue entry of that name says, read through, never copied."""

    name: str

    @property
    def entry(self) -> NeuronModelEntry:
        return get_model_entry(self.name)

    @property
    def ports(self) -> tuple[str, ...]:
        return self.entry.ports

    @property
    def spiking(self) -> bool:
        return self.entry.spiking

    @property
    def resets(self) -> tuple[str, ...]:
        return self.entry.resets


# ---- registration and look-up --------------------------------------------------------------------

def register_model(entry: NeuronModelEntry) -> NeuronModelEntry:
    """Add ``entry`` to the catalogue; a name already taken or an inconsistent entry raises ValueError."""
    if entry.name in _CATALOGUE:
        raise ValueError(f"neuron model {entry.name!r} is already in the catalogue")
    problems = []
    if not entry.ports or entry.ports[0] != "input":
        problems.append(f"its first port must be 'input', got {entry.ports}")
    if not entry.resets or set(entry.resets) - set(RESETS):
        problems.append(f"resets must be a non-empty subset of {RESETS}, got {entry.resets}")
    if entry.input_factor is not None and entry.input_factor not in entry.param_names:
        problems.append(f"input_factor {entry.input_factor!r} is not one of its parameters {entry.param_names}")
    if entry.potential not in entry.state:
        problems.append(f"potential {entry.potential!r} is not one of its state variables {entry.state}")
    if entry.spiking != ("threshold" in entry.param_names):
        problems.append("a spiking model has a 'threshold' parameter, a non-spiking one none")
    taken = {v: m.name for m in _CATALOGUE.values() for v, _ in m.variants}
    problems += [f"variant {v!r} is already model {taken[v]!r}'s" for v, _ in entry.variants if v in taken]
    if problems:
        raise ValueError(f"neuron model {entry.name!r}: " + "; ".join(problems))
    _CATALOGUE[entry.name] = entry
    return entry


def unregister_model(name: str) -> None:
    """Remove a model added by :func:`register_model` (tests that add one take it out again)."""
    _CATALOGUE.pop(name, None)


def model_names() -> tuple[str, ...]:
    """The IR's neuron model names, in catalogue order."""
    return tuple(_CATALOGUE)


def get_model_entry(name: str) -> NeuronModelEntry:
    entry = _CATALOGUE.get(name)
    if entry is None:
        raise SnnDeployError(f"unknown neuron model {name!r}; expected one of {model_names()}")
    return entry


def entries() -> tuple[NeuronModelEntry, ...]:
    return tuple(_CATALOGUE.values())


def zoo() -> dict[str, tuple[str, bool]]:
    """Training model name -> (neuron model, recurrent synapses), for every variant of every entry."""
    return {v: (m.name, rec) for m in _CATALOGUE.values() for v, rec in m.variants}


def check_params(entry: NeuronModelEntry, params: Mapping[str, Any], size: int, fixed: bool) -> Optional[str]:
    """Why ``params`` are not a valid parameter set of a population of ``size`` neurons of ``entry``
    (float IR, or fixed IR when ``fixed``), or None. Values: numbers, a scalar or one per neuron."""
    expected = entry.fixed_params if fixed else entry.param_names
    required = expected if fixed else tuple(p.name for p in entry.params if p.default is None)
    unknown = sorted(set(params) - set(expected))
    missing = [n for n in required if n not in params]
    if unknown or missing:
        kind = "fixed" if fixed else "float"
        return (f"{kind} parameters {sorted(params)} do not match {list(expected)} of model {entry.name} "
                f"(unknown {unknown}, missing {missing})")
    for key, value in params.items():
        arr = np.asarray(value)
        if arr.dtype.kind not in "iuf":
            return f"parameter {key!r} holds {arr.dtype}, expected numbers"
        if arr.ndim not in (0, 1) or (arr.ndim == 1 and len(arr) != size):
            return f"parameter {key!r} must be a scalar or have {size} values, got shape {arr.shape}"
    return None


for _entry in (LIF, ADLIF, MTHR_LIF, CUBA_LIF, SPIKGRU, LI):
    register_model(_entry)
