"""Prices: turn operation counts into energy ranges with a hardware profile's constants.

A profile's energy section becomes an :class:`EnergyTable`: a mapping op kind -> :class:`Price`
(min and max pJ with their sources). Where sources disagree the price is a range, and so is every
energy computed from it (all counts are non-negative, so ``low = Σ count·min``, ``high = Σ count·max``).

Which counted work is priced with which constant depends on the kind of hardware (stated in every
report):

- *neuromorphic* profiles (they price ``synaptic_op``; Loihi, SpiNNaker 2): each synaptic operation
  (AC, or MAC for graded inputs, Loihi 2 graded spikes) costs ``synaptic_op``; each neuron update
  costs ``neuron_update`` (active) or ``neuron_update_inactive`` (the neuron's arithmetic is inside
  it, so neuron-level MAC/AC are not priced again); each spike sent costs ``spike``. Their
  published per-operation energies already include the SRAM accesses, so no memory term is added.
- *arithmetic* profiles (45 nm CMOS after Horowitz 2014): every AC costs ``ac`` (an add), every
  MAC ``mac`` (multiply + add), every nonlinear function one MAC (an assumption: a lookup or a short
  polynomial); spikes cost ``spike`` if the profile prices it, else nothing. With ``memory=True``
  the memory term below is added.

Memory term (Lemaire et al. 2022 style; Horowitz 2014 SRAM energies, 8 KB 10 pJ, 32 KB 20 pJ,
1 MB 100 pJ per 64-bit access): each access to a buffer of ``B`` bytes costs
``E64(B) · word_bits / 64`` with ``E64`` interpolated log-log between those points (and extended
with the end slopes). The SNN's state traffic is a range: low, one read and write per state
variable per neuron update (an accumulator register absorbs the synaptic events); high, one read
and write of the target's state per synaptic operation (Lemaire et al.'s event-driven case).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Optional, Sequence

from snn_deploy.errors import SnnDeployError

from snn_deploy.energy.analytic import LayerOps, OpCount
from snn_deploy.energy.counting import LayerCounts, NetworkCounts

# Op kinds a table may price (pJ per operation).
AC, MAC, SYNOP, NEURON, NEURON_IDLE, SPIKE = ("ac", "mac", "synaptic_op", "neuron_update",
                                            "neuron_update_inactive", "spike")
PRICE_KINDS = (AC, MAC, SYNOP, NEURON, NEURON_IDLE, SPIKE)

HOROWITZ_SOURCE = "Horowitz, ISSCC 2014, 45 nm: SRAM 64-bit access 8 KB 10 pJ, 32 KB 20 pJ, 1 MB 100 pJ"
# (buffer bytes, pJ per 64-bit access)
HOROWITZ_SRAM: tuple[tuple[float, float], ...] = ((8 * 1024, 10.0), (32 * 1024, 20.0), (1024 * 1024, 100.0))


@dataclass(frozen=True)
class Price:
    """Energy of one operation in pJ: ``low``..``high`` and where each value comes from."""

    low: float
    high: float
    sources: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not (0 <= self.low <= self.high) or math.isnan(self.low) or math.isnan(self.high):
            raise SnnDeployError(f"price range must satisfy 0 <= min <= max, got {self.low}..{self.high} pJ")

    @classmethod
    def single(cls, pj: float, source: str) -> "Price":
        return cls(float(pj), float(pj), (source,))

    @classmethod
    def from_values(cls, values: Sequence[tuple[float, str]]) -> "Price":
        """A range spanning several sourced values (sources that disagree)."""
        if not values:
            raise SnnDeployError("a price needs at least one value")
        pjs = [float(v) for v, _ in values]
        return cls(min(pjs), max(pjs), tuple(s for _, s in values))


@dataclass(frozen=True)
class Energy:
    """An energy range in pJ."""

    low: float = 0.0
    high: float = 0.0

    def __add__(self, other: "Energy") -> "Energy":
        return Energy(self.low + other.low, self.high + other.high)

    def scaled(self, k: float) -> "Energy":
        return Energy(self.low * k, self.high * k)

    @property
    def mid(self) -> float:
        return 0.5 * (self.low + self.high)


def cost(count: float, price: Optional[Price]) -> Energy:
    if price is None or count == 0:
        return Energy()
    return Energy(count * price.low, count * price.high)


@dataclass(frozen=True)
class EnergyTable:
    """The energy constants of one hardware profile."""

    profile: str
    prices: Mapping[str, Price]
    word_bits: int = 32
    sram: tuple[tuple[float, float], ...] = HOROWITZ_SRAM
    sram_source: str = HOROWITZ_SOURCE
    estimate: bool = False
    notes: tuple[str, ...] = ()
    references: Mapping[str, str] = field(default_factory=dict)   # source key -> citation
    neuron_models: Optional[frozenset] = None   # models the hardware runs natively (None: unknown)
    calibration: str = ""                       # the profile's word on measured chips (docs/energy-calibration.md)

    def __post_init__(self) -> None:
        unknown = sorted(set(self.prices) - set(PRICE_KINDS))
        if unknown:
            raise SnnDeployError(f"profile {self.profile!r}: unknown energy op kinds {unknown}; known: {list(PRICE_KINDS)}")
        if SYNOP not in self.prices and not {AC, MAC} <= set(self.prices):
            raise SnnDeployError(
                f"profile {self.profile!r}: its energy section needs 'synaptic_op' (neuromorphic) or both 'ac' and 'mac' (arithmetic)")

    @property
    def neuromorphic(self) -> bool:
        return SYNOP in self.prices

    @property
    def can_run_ann(self) -> bool:
        return MAC in self.prices and AC in self.prices

    def price(self, kind: str) -> Optional[Price]:
        return self.prices.get(kind)


def sram_access_pj(buffer_bytes: float, word_bits: int, table: Sequence[tuple[float, float]] = HOROWITZ_SRAM) -> float:
    """Energy of one ``word_bits`` access to an SRAM of ``buffer_bytes``: log-log interpolation of
    ``table`` (bytes, pJ per 64-bit access), end slopes extended, scaled by ``word_bits / 64``."""
    if buffer_bytes <= 0:
        return 0.0
    pts = sorted(table)
    xs = [math.log(b) for b, _ in pts]
    ys = [math.log(e) for _, e in pts]
    x = math.log(buffer_bytes)
    if len(pts) == 1:
        y = ys[0] + 0.5 * (x - xs[0])          # E ∝ sqrt(size) with one point
    else:
        i = 0 if x <= xs[1] else len(xs) - 2
        for j in range(len(xs) - 1):
            if xs[j] <= x <= xs[j + 1]:
                i = j
                break
        slope = (ys[i + 1] - ys[i]) / (xs[i + 1] - xs[i])
        y = ys[i] + slope * (x - xs[i])
    return math.exp(y) * word_bits / 64.0


# ---- memory traffic ------------------------------------------------------------------------------

@dataclass(frozen=True)
class BufferTraffic:
    """Accesses to one buffer per inference: ``low``..``high`` (reads + writes), size in words."""

    name: str
    words: int
    low: float
    high: float


def snn_layer_traffic(layer: LayerCounts) -> list[BufferTraffic]:
    """Weight reads (one per synaptic op) and state reads+writes (range, see the module docstring)."""
    out = [BufferTraffic(f"{d.name}.weights", d.synapses, d.ops_per_inference, d.ops_per_inference)
           for d in layer.denses]
    if layer.model != "input":
        updates = layer.total("updates_active") + layer.total("updates_inactive")
        per_update = 2 * layer.state_vars * updates
        out.append(BufferTraffic(f"{layer.name}.state", layer.size * max(layer.state_vars, 1),
                                 per_update, per_update + 2 * layer.weight_reads))
    return out


def price_traffic(traffic: Iterable[BufferTraffic], table: EnergyTable) -> Energy:
    total = Energy()
    for buf in traffic:
        e = sram_access_pj(buf.words * table.word_bits / 8, table.word_bits, table.sram)
        total = total + Energy(buf.low * e, buf.high * e)
    return total


# ---- SNN ---------------------------------------------------------------------------------------

@dataclass
class LayerEnergy:
    name: str
    synaptic: Energy
    neuron: Energy
    spikes: Energy
    memory: Energy

    @property
    def total(self) -> Energy:
        return self.synaptic + self.neuron + self.spikes + self.memory


@dataclass
class NetworkEnergy:
    profile: str
    layers: list[LayerEnergy]
    memory_included: bool
    notes: list[str] = field(default_factory=list)

    @property
    def total(self) -> Energy:
        return self.compute + self.memory

    @property
    def compute(self) -> Energy:
        """Arithmetic, neuron updates and spikes: everything but the memory term."""
        return sum((l.synaptic + l.neuron + l.spikes for l in self.layers), Energy())

    @property
    def memory(self) -> Energy:
        return sum((l.memory for l in self.layers), Energy())


def price_layer(layer: LayerCounts, table: EnergyTable, memory: bool = False) -> LayerEnergy:
    """Energy of one counted layer per inference (see the module docstring for the mapping)."""
    spikes = cost(layer.total("spikes"), table.price(SPIKE))
    if table.neuromorphic:
        synaptic = cost(layer.total("syn_ac") + layer.total("syn_mac"), table.price(SYNOP))
        idle = table.price(NEURON_IDLE) or table.price(NEURON)
        neuron = cost(layer.total("updates_active"), table.price(NEURON)) + cost(layer.total("updates_inactive"), idle)
        mem = Energy()
    else:
        synaptic = cost(layer.total("syn_ac"), table.price(AC)) + cost(layer.total("syn_mac"), table.price(MAC))
        neuron = (cost(layer.total("neuron_ac"), table.price(AC))
                  + cost(layer.total("neuron_mac") + layer.total("nonlinear"), table.price(MAC)))
        mem = price_traffic(snn_layer_traffic(layer), table) if memory else Energy()
    return LayerEnergy(layer.name, synaptic, neuron, spikes, mem)


def price_network(counts: NetworkCounts, table: EnergyTable, memory: bool = False) -> NetworkEnergy:
    notes = []
    if table.neuromorphic and memory:
        notes.append(f"{table.profile}: memory term not added (its per-operation energies include SRAM accesses)")
    if not table.neuromorphic and table.price(SPIKE) is None:
        notes.append(f"{table.profile}: spike delivery not priced (no 'spike' constant)")
    if table.neuron_models is not None:
        foreign = sorted({l.model for l in counts.layers if l.model != "input"} - set(table.neuron_models))
        if foreign:
            notes.append(f"{table.profile}: does not run {', '.join(foreign)} natively (the profile lists "
                         f"{', '.join(sorted(table.neuron_models))}); priced as if it did, per its published per-operation energies")
    return NetworkEnergy(table.profile, [price_layer(l, table, memory) for l in counts.layers],
                         memory_included=memory and not table.neuromorphic, notes=notes)


# ---- ANN ---------------------------------------------------------------------------------------

def price_ops(ops: OpCount, table: EnergyTable) -> Energy:
    """Arithmetic energy of MAC/AC/nonlinear counts (nonlinear priced as one MAC each)."""
    if not table.can_run_ann:
        raise SnnDeployError(
            f"profile {table.profile!r} prices no MAC/AC: an ANN cannot be priced on it; use an arithmetic profile such as cmos45nm-int32")
    return cost(ops.ac, table.price(AC)) + cost(ops.mac + ops.nonlinear, table.price(MAC))


def ann_layer_traffic(layer: LayerOps) -> list[BufferTraffic]:
    """ANN traffic: every weight read once per application, activations read/written once each."""
    out = []
    if layer.weights:
        reads = layer.weights * layer.steps
        out.append(BufferTraffic(f"{layer.name}.weights", layer.weights, reads, reads))
    if layer.activations:
        acc = layer.activations * layer.steps
        out.append(BufferTraffic(f"{layer.name}.activations", layer.activations, acc, acc))
    return out


@dataclass
class AnnLayerEnergy:
    name: str
    compute: Energy
    memory: Energy

    @property
    def total(self) -> Energy:
        return self.compute + self.memory


@dataclass
class AnnEnergy:
    profile: str
    layers: list[AnnLayerEnergy]
    memory_included: bool

    @property
    def total(self) -> Energy:
        return self.compute + self.memory

    @property
    def compute(self) -> Energy:
        return sum((l.compute for l in self.layers), Energy())

    @property
    def memory(self) -> Energy:
        return sum((l.memory for l in self.layers), Energy())


def price_ann(layers: Sequence[LayerOps], table: EnergyTable, memory: bool = False) -> AnnEnergy:
    """Energy of an ANN baseline's layers on an arithmetic profile (+ the memory term if asked)."""
    priced = [AnnLayerEnergy(layer.name, price_ops(layer.per_inference, table),
                             price_traffic(ann_layer_traffic(layer), table) if memory else Energy())
              for layer in layers]
    return AnnEnergy(table.profile, priced, memory)


# ---- profiles ------------------------------------------------------------------------------------

def table_from_profile(profile: Any) -> EnergyTable:
    """The :class:`EnergyTable` of a ``convert.profiles.HardwareProfile`` (its validated energy section).

    Sources are kept as the profile's reference keys (the citations go to ``references``).
    """
    e = profile.energy
    key_of = {citation: key for key, citation in profile.references.items()}

    def keys(citations: Iterable[str]) -> tuple[str, ...]:
        return tuple(key_of.get(c, c) for c in citations)

    prices = {kind: Price(c.low, c.high, keys(c.sources)) for kind, c in e.ops.items()}
    sram = tuple((float(p.bytes), float(p.pj_per_64bit)) for p in e.sram) or HOROWITZ_SRAM
    sram_source = "; ".join(dict.fromkeys(keys(p.source for p in e.sram))) if e.sram else HOROWITZ_SOURCE
    used = {k for p in prices.values() for k in p.sources} | set(keys(p.source for p in e.sram))
    return EnergyTable(profile=profile.name, prices=prices, word_bits=int(e.word_bits), sram=sram,
                       sram_source=sram_source, estimate=bool(e.estimate),
                       notes=(e.notes,) if e.notes else (),
                       references={k: v for k, v in profile.references.items() if k in used},
                       neuron_models=frozenset(profile.neuron_models) if profile.neuron_models else None,
                       calibration=getattr(e, "calibration", ""))


def load_energy_table(name: str) -> EnergyTable:
    """The energy table of profile ``name`` (a bundled name such as ``loihi1``, or a profile .json path)."""
    from snn_deploy.convert.profiles import load_profile

    return table_from_profile(load_profile(name))


def paper1_table() -> EnergyTable:
    """Paper 1 §4.2's two constants (Han et al. 2015 via paper 1: AC 0.1 pJ, MAC 3.2 pJ)."""
    src = "Bittar & Garner 2022 §4.2, quoting Han et al. 2015 (45 nm, 32-bit int)"
    return EnergyTable("paper1-45nm", {AC: Price.single(0.1, src), MAC: Price.single(3.2, src)}, word_bits=32)
