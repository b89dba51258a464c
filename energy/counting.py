"""Operation counts from measured activity: pure functions of a network IR and an ``Activity``.

Everything is counted per layer and per time step, averaged over the recorded samples; totals per
inference are sums over the recorded steps. Conventions (stated again in every report):

Synaptic operations, per dense ``d`` (source ``x``, target population ``p``), counted at the step
the target integrates them (the IR's ``I[t] = W x[t] + V s[t-1]``):
- recurrent denses (source == target) deliver the population's own spikes of step ``t-1``;
- feed-forward denses deliver the source's output of step ``t`` on float runs, of step ``t-1`` on
  Lava and emulator runs (one step of delay per synaptic hop, DESIGN §4). Events whose delivery
  would fall after the recording (the final step's) are not counted: they change no output;
- a spiking source (spike-encoded input, spiking population) costs one **AC** per spike per
  fan-out target; inputs carrying spike *counts* cost ``count`` ACs (paper 2 feeds spike counts and
  defines ``a_in`` as spikes per neuron per step);
- a graded source (graded input, non-spiking population) costs one **MAC** per *nonzero* value per
  fan-out target (event-driven: zeros are not sent);
- the fan-out of input column ``j`` is the number of nonzero ``mask[:, j]`` entries (all ``out``
  rows without a mask); weights that are zero but not masked are counted (dense storage).

Neuron-level arithmetic per neuron per step (each catalogue entry's ``arith``, read off its
equations in ``snn_deploy.catalogue``; for lif,
cuba_lif and spikgru this is paper 2 Table 2's MAC column and its ``n·a_out`` reset term): MACs of
the leaks/gates, one AC per spike for the reset (and, for adaptive models, the adaptation jump),
one AC per neuron per bias-carrying dense (paper 2's ``+n`` per bias vector), and nonlinear
functions (SpikGRU's sigmoid gate). Factors such as ``(1-α)`` on the input are folded into the
weights (DESIGN §4) and cost nothing. Biases: a float IR carries them on its denses (one AC per
neuron per step per bias-carrying dense); a fixed IR carries none there (the quantizer moves every
dense bias into the neurons' ``bias_mant``/``bias_exp``, and SpikGRU's gate bias into
``gate_bias``), so there one AC per neuron per step is counted for each of these that is nonzero
(``BIAS_PARAMS``): Table 2's ``+n`` (``+2n`` for SpikGRU) either way.

Neuron updates: every neuron is updated every step; an update is *active* when the neuron received
at least one synaptic event or fired in that step, otherwise *inactive* (Loihi prices the two
differently, Davies et al. 2018 Table 2). Spikes: spikes emitted per population per step; the
input node's row counts the input events that have to be delivered.

Memory accesses (for the optional Lemaire et al. 2022 style term): one weight read per synaptic
operation; one read and one write of the target's state per synaptic operation; one read and one
write of each state variable per neuron update.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from snn_deploy import catalogue
from snn_deploy.activity import Activity
from snn_deploy.errors import SnnDeployError
from snn_deploy.ir import DenseNode, InputNode, Network, NeuronNode

from snn_deploy.energy.analytic import OpCount, table2_snn_ops
from snn_deploy.energy.neurobench import NeuroBenchCounts, count_neurobench, nonzero_fanout

SAMPLE_CHUNK = 64   # samples counted at once
HOP_DELAY_BACKENDS = frozenset({"lava", "emulator"})
BIAS_PARAMS = ("bias_mant", "gate_bias")   #: fixed-IR neuron parameters holding a bias (convert.fixed_neurons)


@dataclass
class DenseCounts:
    """Synaptic work of one dense, per step (mean over samples)."""

    name: str
    source: str
    target: str
    recurrent: bool
    kind: str                    # "ac" (spiking source) or "mac" (graded source)
    in_size: int
    out_size: int
    synapses: int                # nonzero mask entries (or in*out)
    events: np.ndarray           # [T] input events (spikes, or nonzero graded values)
    ops: np.ndarray              # [T] synaptic operations (events x fan-out)
    bias: bool

    @property
    def ops_per_inference(self) -> float:
        return float(self.ops.sum())


@dataclass
class LayerCounts:
    """All counted work of one population (or of the input node), per step, mean over samples."""

    name: str
    model: str                   # neuron model, or "input"
    size: int
    denses: list[DenseCounts]
    syn_ac: np.ndarray           # [T]
    syn_mac: np.ndarray          # [T]
    neuron_mac: np.ndarray       # [T]
    neuron_ac: np.ndarray        # [T]
    nonlinear: np.ndarray        # [T]
    updates_active: np.ndarray   # [T]
    updates_inactive: np.ndarray  # [T]
    spikes: np.ndarray           # [T] spikes emitted (input events for the input row)
    state_vars: int = 0
    rate_in: float = 0.0         # mean feed-forward input events per input neuron per step
    rate_out: float = 0.0        # mean spikes per neuron per step (0 for non-spiking)
    ff_inputs: int = 0           # m: inputs of the feed-forward denses on the "input" port
    recurrent: bool = False

    def total(self, key: str) -> float:
        return float(getattr(self, key).sum())

    @property
    def ops(self) -> OpCount:
        """MAC/AC/nonlinear per inference (synaptic + neuron-level)."""
        return OpCount(mac=self.total("syn_mac") + self.total("neuron_mac"),
                       ac=self.total("syn_ac") + self.total("neuron_ac"),
                       nonlinear=self.total("nonlinear"))

    @property
    def weight_reads(self) -> float:
        return sum(d.ops_per_inference for d in self.denses)

    @property
    def state_accesses(self) -> float:
        """State reads (= writes): one per synaptic op plus ``state_vars`` per neuron update."""
        updates = self.total("updates_active") + self.total("updates_inactive")
        return self.weight_reads + self.state_vars * updates


@dataclass
class NetworkCounts:
    layers: list[LayerCounts]
    num_samples: int
    num_steps: int
    input_steps: int
    backend: str
    accuracy: Optional[float] = None
    notes: list[str] = field(default_factory=list)
    neurobench: Optional[NeuroBenchCounts] = None   # the same rasters in NeuroBench's terms
    nonzero_synapses: bool = False                  # synapses counted: nonzero weights only (else every mask entry)

    def layer(self, name: str) -> LayerCounts:
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise KeyError(name)

    @property
    def ops(self) -> OpCount:
        total = OpCount()
        for layer in self.layers:
            total = total + layer.ops
        return total

    @property
    def mean_firing_rate(self) -> float:
        """ν̄ of paper 1 §4.2: spikes per neuron per step over all spiking populations (input excluded)."""
        spiking = [l for l in self.layers if l.model not in ("input", "li")]
        neurons = sum(l.size for l in spiking)
        if not neurons:
            return 0.0
        return sum(l.total("spikes") for l in spiking) / (neurons * self.num_steps)


# ---- activity access -----------------------------------------------------------------------------

def _source_values(net: Network, act: Activity, name: str) -> tuple[np.ndarray, bool]:
    """The per-step output of node ``name`` as [S, T, N] and whether it is spiking (counts) or graded."""
    node = net.node(name)
    if isinstance(node, InputNode):
        return act.inputs, node.encoding == "spikes"
    if isinstance(node, NeuronNode):
        if node.spiking:
            return act.spikes[name], True
        return act.potentials[name], False
    raise SnnDeployError(f"node {name!r} cannot be the source of a dense")


def _fanout(dense: DenseNode, nonzero: bool = False) -> np.ndarray:
    """Fan-out of each input column: nonzero mask entries per column (``out`` without a mask);
    with ``nonzero``, only the synapses whose weight is nonzero (NeuroBench's convention)."""
    if nonzero:
        return nonzero_fanout(dense).astype(np.int64)
    if dense.mask is None:
        return np.full(dense.in_size, dense.out_size, dtype=np.int64)
    return (np.asarray(dense.mask) != 0).sum(axis=0).astype(np.int64)


def _connectivity(dense: DenseNode, nonzero: bool = False) -> np.ndarray:
    """[out, in] 0/1 matrix of existing synapses (nonzero weights only with ``nonzero``)."""
    if nonzero:
        w = np.asarray(dense.weight) * (1 if dense.mask is None else (np.asarray(dense.mask) != 0))
        return (w != 0).astype(np.float32)
    if dense.mask is None:
        return np.ones(dense.weight.shape, dtype=np.float32)
    return (np.asarray(dense.mask) != 0).astype(np.float32)


def _delayed(x: np.ndarray, steps: int) -> np.ndarray:
    """x[:, t-steps] at step t, zero before (what a dense delivers ``steps`` steps after emission)."""
    if steps == 0:
        return x
    out = np.zeros_like(x)
    out[:, steps:] = x[:, :-steps]
    return out


def hop_delay(act: Activity) -> int:
    """Steps a feed-forward dense takes: 1 on Lava and the emulator (DESIGN §4), 0 for float runs."""
    return 1 if act.backend in HOP_DELAY_BACKENDS else 0


def count_dense(net: Network, act: Activity, dense: DenseNode, delay: int = 0,
                nonzero: bool = False) -> tuple[DenseCounts, np.ndarray]:
    """Counts of one dense, and a [S, T, out] 0/1 array: which targets received an event."""
    source = net.source_of(dense.name)
    target = net.target_of(dense.name).target
    recurrent = net.is_recurrent(dense.name)
    values, spiking = _source_values(net, act, source)
    values = _delayed(np.asarray(values), 1 if recurrent else delay)
    fanout = _fanout(dense, nonzero)
    conn_t = _connectivity(dense, nonzero).T
    s, t = values.shape[:2]
    events = np.zeros(t)
    ops = np.zeros(t)
    received = np.zeros((s, t, dense.out_size), dtype=bool)
    for lo in range(0, s, SAMPLE_CHUNK):            # bounded memory on long recordings
        chunk = values[lo:lo + SAMPLE_CHUNK]
        per_col = chunk.astype(np.float64) if spiking else (chunk != 0).astype(np.float64)
        events += per_col.sum(axis=(0, 2))
        ops += (per_col @ fanout.astype(np.float64)).sum(axis=0)
        received[lo:lo + SAMPLE_CHUNK] = ((chunk != 0).astype(np.float32) @ conn_t) > 0
    events /= s
    ops /= s
    counts = DenseCounts(
        name=dense.name, source=source, target=target, recurrent=recurrent,
        kind="ac" if spiking else "mac", in_size=dense.in_size, out_size=dense.out_size,
        synapses=int(fanout.sum()), events=events, ops=ops, bias=dense.bias is not None)
    return counts, received


def bias_additions(net: Network, pop: NeuronNode, denses: list[DenseCounts]) -> int:
    """Bias ACs of ``pop`` per step: ``size`` per bias-carrying dense (float IR), or one per nonzero
    entry of each ``BIAS_PARAMS`` parameter of the population (fixed IR, where denses carry no bias)."""
    if not net.is_fixed:
        return pop.size * sum(d.bias for d in denses)
    total = 0
    for key in BIAS_PARAMS:
        if key in pop.params:
            values = np.broadcast_to(np.asarray(pop.params[key]), (pop.size,))
            total += int(np.count_nonzero(values))
    return total


def count_population(net: Network, act: Activity, pop: NeuronNode, delay: int = 0,
                     nonzero: bool = False) -> LayerCounts:
    """Synaptic, neuron-level, update and spike counts of one population, per step."""
    t = act.num_steps
    entry = catalogue.get_model_entry(pop.model)
    arith = entry.arith
    denses: list[DenseCounts] = []
    received = np.zeros((act.num_samples, t, pop.size), dtype=bool)
    for dense in net.incoming(pop.name):
        dc, rec = count_dense(net, act, dense, delay, nonzero)
        denses.append(dc)
        received |= rec
    if pop.spiking:
        spikes_arr = np.asarray(act.spikes[pop.name])
        fired = spikes_arr != 0
        spikes = spikes_arr.sum(axis=2, dtype=np.float64).mean(axis=0)
        prev_spikes = np.concatenate([[0.0], spikes[:-1]])   # the reset acts on s[t-1]
    else:
        fired = np.zeros_like(received)
        spikes = np.zeros(t)
        prev_spikes = np.zeros(t)
    active = (received | fired).sum(axis=2).mean(axis=0).astype(np.float64)
    bias_acs = bias_additions(net, pop, denses)
    ff = [d for d in denses if not d.recurrent and net.target_of(d.name).port == "input"]
    ff_inputs = sum(d.in_size for d in ff)
    rate_in = (sum(d.events.sum() for d in ff) / (ff_inputs * t)) if ff_inputs else 0.0
    return LayerCounts(
        name=pop.name, model=pop.model, size=pop.size, denses=denses,
        syn_ac=sum((d.ops for d in denses if d.kind == "ac"), np.zeros(t)),
        syn_mac=sum((d.ops for d in denses if d.kind == "mac"), np.zeros(t)),
        neuron_mac=np.full(t, float(arith.mac * pop.size)),
        neuron_ac=np.full(t, float(arith.ac * pop.size + bias_acs)) + arith.ac_per_spike * prev_spikes,
        nonlinear=np.full(t, float(arith.nonlinear * pop.size)),
        updates_active=active,
        updates_inactive=pop.size - active,
        spikes=spikes,
        state_vars=entry.state_vars,
        rate_in=float(rate_in),
        rate_out=float(spikes.sum() / (pop.size * t)),
        ff_inputs=ff_inputs,
        recurrent=any(d.recurrent for d in denses),
    )


def count_input(net: Network, act: Activity, node: InputNode) -> LayerCounts:
    """The input row: events to deliver (spike counts, or nonzero graded values); no arithmetic."""
    t = act.num_steps
    values = np.asarray(act.inputs)
    if node.encoding == "spikes":
        per_step = values.sum(axis=2, dtype=np.float64).mean(axis=0)
    else:
        per_step = np.count_nonzero(values, axis=2).mean(axis=0)
    zeros = np.zeros(t)
    return LayerCounts(name=node.name, model="input", size=node.size, denses=[], syn_ac=zeros,
                       syn_mac=zeros, neuron_mac=zeros, neuron_ac=zeros, nonlinear=zeros,
                       updates_active=zeros, updates_inactive=zeros, spikes=per_step,
                       rate_out=float(per_step.sum() / (node.size * t)))


def count_network(net: Network, act: Activity, source: str = "activity",
                  nonzero_synapses: bool = False) -> NetworkCounts:
    """Count every layer of ``net`` from ``act`` (checked to belong to ``net`` first), and the same
    rasters in NeuroBench's terms. ``nonzero_synapses`` counts only synapses with a nonzero weight."""
    act.check_matches(net, source=source)
    if act.num_samples == 0 or act.num_steps == 0:
        raise SnnDeployError(f"{source}: holds no samples or no time steps; nothing to count")
    layers = [count_input(net, act, node) for node in net.inputs()]
    delay = hop_delay(act)
    layers += [count_population(net, act, pop, delay, nonzero_synapses) for pop in net.layer_order()]
    accuracy = act.accuracy
    active = {l.name: l.updates_active for l in layers if l.model != "input"}
    return NetworkCounts(layers=layers, num_samples=act.num_samples, num_steps=act.num_steps,
                         input_steps=act.input_steps, backend=act.backend, accuracy=accuracy,
                         neurobench=count_neurobench(net, act, active), nonzero_synapses=nonzero_synapses)


# ---- the rate-based estimate of paper 2 Table 2 ----------------------------------------------------

def rate_estimate(layer: LayerCounts, steps: int) -> OpCount:
    """Paper 2 Table 2 applied with the layer's measured mean rates, over ``steps`` steps.

    ``m`` = inputs of the feed-forward denses on the ``input`` port, ``a_in`` their measured mean
    rate, ``a_out`` the population's mean rate; the recurrent term is dropped for layers without a
    recurrent dense; models absent from Table 2 (adlif, mthr_lif, the li readout) use the LIF row.
    """
    if layer.model == "input" or not layer.ff_inputs:
        return OpCount()
    per_step = table2_snn_ops(layer.model, layer.ff_inputs, layer.size, layer.rate_in, layer.rate_out,
                              recurrent=layer.recurrent)
    return per_step.scaled(steps)
