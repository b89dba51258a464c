"""Design-rule checks of a (fixed) network against a hardware profile, and the core mapping.

Each rule is a small function ``rule_x(net, profile, mapping) -> list[str]`` (warnings) that raises
``RuleError`` (a SnnDeployError) naming the rule, the layer and the limit, e.g.
``rule fan-in: layer h1: fan-in 5000 > 4096 input axons per core on loihi1``.

Core mapping (an approximation of Loihi's compiler, stated in every report): a population of ``N``
neurons with fan-in ``F`` (inputs of all its denses) and ``b``-bit weights needs ``F * b`` synapse
bits per neuron; a core holds ``n = min(neurons_per_core, floor(synapse_memory / (F * b)))`` of them,
so the population is split over ``ceil(N / n)`` cores. Output axons per core: each neuron on a core
needs one axon per core of each target population.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Callable, Optional

import numpy as np

from snn_deploy.convert import fixed_point as fp
from snn_deploy.convert.profiles import HardwareProfile
from snn_deploy.errors import SnnDeployError
from snn_deploy.ir import Network, NeuronNode


class RuleError(SnnDeployError):
    """A design rule failed; the message names the rule, the layer and the limit."""


@dataclass
class LayerMapping:
    layer: str
    model: str
    neurons: int
    fan_in: int
    weight_bits: int
    synapse_bits_per_neuron: int
    neurons_per_core: int
    cores: int
    out_axons_per_core: int = 0

    @property
    def split(self) -> str:
        if self.cores == 1:
            return f"{self.neurons} neurons on 1 core"
        last = self.neurons - (self.cores - 1) * self.neurons_per_core
        return f"{self.neurons} neurons split over {self.cores} cores ({self.neurons_per_core} per core, last {last})"


@dataclass
class CoreMapping:
    profile: str
    layers: list[LayerMapping] = field(default_factory=list)

    @property
    def total_cores(self) -> int:
        return sum(l.cores for l in self.layers)

    def layer(self, name: str) -> LayerMapping:
        return next(l for l in self.layers if l.layer == name)

    def to_dict(self) -> dict:
        return {"profile": self.profile, "total_cores": self.total_cores,
                "layers": [dict(asdict(l), split=l.split) for l in self.layers],
                "method": "dense synapses, F * weight_bits bits per neuron; neurons per core limited by neuron slots and synapse memory"}


@dataclass
class RuleReport:
    mapping: CoreMapping
    warnings: list[str] = field(default_factory=list)
    checked: list[str] = field(default_factory=list)


def _weight_bits(net: Network, pop: NeuronNode, profile: HardwareProfile) -> int:
    if net.precision is not None and pop.name in net.precision.layers:
        return int(net.precision.layers[pop.name].get("weight_bits", fp.WEIGHT_BITS))
    return profile.formats.weight_bits if profile.formats else fp.WEIGHT_BITS


def map_cores(net: Network, profile: HardwareProfile) -> CoreMapping:
    """Split every population over cores (see the module docstring); raises when one neuron cannot fit."""
    lim = profile.limits
    mapping = CoreMapping(profile.name)
    for pop in net.layer_order():
        fan_in = sum(d.in_size for d in net.incoming(pop.name))
        bits = _weight_bits(net, pop, profile)
        per_neuron = fan_in * bits
        slots = lim.neurons_per_core if lim and lim.neurons_per_core else pop.size
        if lim and lim.synapse_memory_bits_per_core:
            by_memory = lim.synapse_memory_bits_per_core // max(per_neuron, 1)
            if by_memory == 0:
                raise RuleError(
                    f"rule synapse-memory: layer {pop.name}: one neuron needs {fan_in} x {bits} = {per_neuron} synapse bits "
                    f"> {lim.synapse_memory_bits_per_core} bits per core on {profile.name}")
            slots = min(slots, by_memory)
        n = max(1, min(slots, pop.size))
        mapping.layers.append(LayerMapping(pop.name, pop.model, pop.size, fan_in, bits, per_neuron, n,
                                           math.ceil(pop.size / n)))
    cores = {l.layer: l.cores for l in mapping.layers}
    for lm in mapping.layers:
        targets = {net.target_of(d.name).target for d in net.dense_nodes() if net.source_of(d.name) == lm.layer}
        lm.out_axons_per_core = lm.neurons_per_core * sum(cores[t] for t in targets)
    return mapping


# ---- rules ----------------------------------------------------------------------------------

def rule_model_supported(net: Network, profile: HardwareProfile, mapping: CoreMapping) -> list[str]:
    """Every population's neuron model (and reset rule) must be runnable on the chip."""
    for pop in net.neuron_nodes():
        if not profile.supports(pop.model, pop.reset):
            runnable = ", ".join(f"{m} (reset {'/'.join(s.resets)})" for m, s in profile.neuron_models.items())
            raise RuleError(f"rule model-support: layer {pop.name}: model {pop.model} with reset {pop.reset!r} "
                            f"is not runnable on {profile.name} (it runs: {runnable})")
    return []


def rule_fan_in(net: Network, profile: HardwareProfile, mapping: CoreMapping) -> list[str]:
    """A population's inputs (axons into its cores) must not exceed the input axons per core."""
    limit = profile.limits.fan_in_per_core if profile.limits else None
    for lm in mapping.layers:
        if limit and lm.fan_in > limit:
            raise RuleError(f"rule fan-in: layer {lm.layer}: fan-in {lm.fan_in} > {limit} input axons per core "
                            f"on {profile.name}")
    return []


def rule_fan_out(net: Network, profile: HardwareProfile, mapping: CoreMapping) -> list[str]:
    """Output axons per core (neurons on the core x cores of every target) within the limit."""
    limit = profile.limits.fan_out_per_core if profile.limits else None
    for lm in mapping.layers:
        if limit and lm.out_axons_per_core > limit:
            raise RuleError(f"rule fan-out: layer {lm.layer}: {lm.out_axons_per_core} output axons per core "
                            f"> {limit} on {profile.name}")
    return []


def rule_chip_capacity(net: Network, profile: HardwareProfile, mapping: CoreMapping) -> list[str]:
    """The whole network must fit on one chip's cores; a split layer is reported, not an error."""
    limit = profile.limits.cores_per_chip if profile.limits else None
    if limit and mapping.total_cores > limit:
        big = max(mapping.layers, key=lambda l: l.cores)
        raise RuleError(f"rule chip-capacity: layer {big.layer}: the network needs {mapping.total_cores} cores "
                        f"({big.layer}: {big.split}) > {limit} cores per chip on {profile.name}")
    return [f"layer {l.layer}: {l.split} (limit {profile.limits.neurons_per_core if profile.limits else '-'} "
            f"neurons / {profile.limits.synapse_memory_bits_per_core if profile.limits else '-'} synapse bits per core)"
            for l in mapping.layers if l.cores > 1]


def rule_weights_collapse(net: Network, profile: HardwareProfile, mapping: CoreMapping) -> list[str]:
    """A dense whose nonzero float weights ALL quantize to 0 is an error; a large zeroed fraction a warning."""
    warnings = []
    if net.precision is None:
        return warnings
    for d in net.dense_nodes():
        info = net.precision.layers.get(d.name) or {}
        nz, zeroed = int(info.get("nonzero_float", 0)), int(info.get("zeroed", 0))
        if nz and zeroed == nz:
            raise RuleError(f"rule weight-collapse: layer {d.name}: all {nz} nonzero weights quantize to 0 at "
                            f"{info.get('weight_bits', profile.formats.weight_bits if profile.formats else 8)}-bit "
                            f"weights, exponent {d.weight_exp} (limit: exponent >= {profile.formats.weight_exp_min if profile.formats else '-'})")
        if nz and zeroed > 0.5 * nz:
            warnings.append(f"layer {d.name}: {zeroed} of {nz} nonzero weights quantize to 0")
    return warnings


def rule_activation_range(net: Network, profile: HardwareProfile, mapping: CoreMapping) -> list[str]:
    """Warn when a population's worst-case input per step, ``(sum |w| << e) << 6``, can exceed the 24-bit state."""
    warnings = []
    if net.precision is None:
        return warnings
    for pop in net.neuron_nodes():
        worst = 0.0
        for d in net.incoming(pop.name, "input"):
            row = np.abs(np.asarray(d.weight, np.float64)).sum(axis=1).max() if d.weight.size else 0.0
            worst += row * 2.0 ** d.weight_exp * 2 ** fp.ACTIVATION_SHIFT
        if worst > fp.STATE_MAX:
            warnings.append(f"layer {pop.name}: worst-case input per step {worst:.3g} > 2^23 - 1 state range "
                            "(only if all inputs fire at once; wraps/saturations are counted by the emulator)")
    return warnings


def rule_no_skip_connections(net: Network, profile: Optional[HardwareProfile] = None,
                             mapping: Optional[CoreMapping] = None) -> list[str]:
    """Every feed-forward dense must span exactly one hop: source depth ``d'`` = target depth ``d - 1``.

    Lava and the emulator delay each dense by one step, and a population at depth ``d`` runs ``d``
    steps behind the float network; a dense from a shallower source (a skip connection) would
    deliver its input ``d - 1 - d'`` steps early relative to the float network, silently.
    """
    depths = net.population_depths()
    depths.update({n.name: 0 for n in net.inputs()})
    for d in net.dense_nodes():
        if net.is_recurrent(d.name):
            continue
        source, target = net.source_of(d.name), net.target_of(d.name).target
        ds, dt = depths[source], depths[target]
        if ds != dt - 1:
            raise RuleError(
                f"rule skip-connection: layer {target}: dense {d.name!r} from {source!r} (depth {ds}) into {target!r} "
                f"(depth {dt}): skip connections are not supported: they would arrive {dt - 1 - ds} steps early "
                "(one step of delay per synaptic hop)")
    return []


def rule_no_graded_recurrence(net: Network, profile: Optional[HardwareProfile] = None,
                              mapping: Optional[CoreMapping] = None) -> list[str]:
    """A recurrent dense must loop spikes back, not the potential of a non-spiking (``li``) population.

    Such a dense would send graded messages of up to ``2^23 - 1``; Lava's Dense accumulates them in
    int32 (``PyDenseModelBitAcc``: ``weights.dot(s_in)``), which wraps from one 8-bit weight on, so
    Lava could not run it exactly.
    """
    for d in net.dense_nodes():
        pop = net.node(net.target_of(d.name).target)
        if net.is_recurrent(d.name) and isinstance(pop, NeuronNode) and not pop.spiking:
            raise RuleError(
                f"rule graded-recurrence: layer {pop.name}: recurrent dense {d.name!r} on non-spiking population "
                f"{pop.name!r} ({pop.model}) would send potentials up to 2^23 - 1 as messages, which Lava's Dense "
                "accumulates in int32 (not exact); recurrent denses are supported on spiking populations only")
    return []


STRUCTURE_RULES = (rule_no_skip_connections, rule_no_graded_recurrence)  #: rules of the graph alone (no profile)


RULES: tuple[Callable[[Network, HardwareProfile, CoreMapping], list[str]], ...] = (
    rule_model_supported, rule_fan_in, rule_fan_out, rule_chip_capacity, rule_weights_collapse, rule_activation_range,
    *STRUCTURE_RULES,
)


def check_rules(net: Network, profile: HardwareProfile) -> RuleReport:
    """Run every rule (first failure raises ``RuleError``); return the mapping and the warnings."""
    rule_model_supported(net, profile, CoreMapping(profile.name))
    mapping = map_cores(net, profile)
    report = RuleReport(mapping)
    for rule in RULES:
        report.warnings += rule(net, profile, mapping)
        report.checked.append(rule.__name__)
    return report
