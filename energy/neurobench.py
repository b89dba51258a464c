"""NeuroBench's workload metrics, computed from the same rasters with NeuroBench's own definitions.

Our counts (``counting``) and NeuroBench's (Yik et al. 2025, harness ``neurobench`` 2.3.0,
``metrics/workload``) differ in definition, not in arithmetic. This module recomputes NeuroBench's
terms exactly, so that a report can be put next to NeuroBench results:

- **SynapticOperations** (``Effective_ACs``, ``Effective_MACs``, ``Dense``): for every connection
  layer and every forward call (one call per time step), the input is binarized (``x != 0 -> 1``)
  and the weight is binarized (``w != 0 -> 1``, biases are not counted), and the effective
  operations are ``Σ_j [x_j != 0] · nnz(W[:, j])``. A call whose input holds any value outside
  {-1, 0, 1} (a spike *count*, a graded value) is counted as MACs, otherwise as ACs.
  ``Dense`` counts every synapse for every call: ``in · out`` per call, zeros included.
  All three are averaged per sample (= per inference). We classify each sample's call on its own
  (NeuroBench with batch size 1; with larger batches NeuroBench classifies a whole batch at once).
- Feed-forward connections see the source's output of each step as produced (NeuroBench runs the
  float model: no hop delay, the final step's events are counted); recurrent connections see the
  population's spikes of the previous step (``s[t-1]``, zero at ``t = 0``), as snnTorch's RLeaky does.
- **ActivationSparsity**: ``1 - nonzero / total`` over the outputs of all spiking neuron layers,
  all steps, all samples (NeuroBench hooks spiking layers only; our non-spiking readout is left out).
- **MembraneUpdates**: per spiking layer, every neuron at the first step plus, at each later step,
  the neurons whose membrane potential changed (``count_nonzero(pre - post)``), per sample. Activity
  files hold no membrane potentials of spiking populations, so it is given as a range: low = the
  first step plus the neurons that received an event or fired (their membrane certainly moved,
  barring exact cancellation), high = every neuron at every step (a leaky membrane that is not at
  rest changes every step).

The differences to our terms, per term, are listed by :func:`differences`.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from snn_deploy.activity import Activity
from snn_deploy.ir import DenseNode, InputNode, Network, NeuronNode

NEUROBENCH_VERSION = "2.3.0"
SAMPLE_CHUNK = 64


@dataclass
class NeuroBenchDense:
    """NeuroBench's synaptic operations of one connection, per sample."""

    name: str
    recurrent: bool
    effective_acs: float
    effective_macs: float
    dense: float
    nonzero_synapses: int


@dataclass
class NeuroBenchCounts:
    """NeuroBench 2.3.0 workload metrics of one recorded run (per sample = per inference)."""

    denses: list[NeuroBenchDense] = field(default_factory=list)
    activation_sparsity: float = 0.0
    membrane_updates_low: float = 0.0
    membrane_updates_high: float = 0.0

    @property
    def effective_acs(self) -> float:
        return sum(d.effective_acs for d in self.denses)

    @property
    def effective_macs(self) -> float:
        return sum(d.effective_macs for d in self.denses)

    @property
    def dense(self) -> float:
        return sum(d.dense for d in self.denses)

    @property
    def synaptic_operations(self) -> float:
        return self.effective_acs + self.effective_macs


def nonzero_fanout(dense: DenseNode) -> np.ndarray:
    """``nnz(W[:, j])`` per input column: NeuroBench's binarized weight (masked entries are zero)."""
    w = np.asarray(dense.weight)
    if dense.mask is not None:
        w = w * (np.asarray(dense.mask) != 0)
    return (w != 0).sum(axis=0).astype(np.float64)


def _source(net: Network, act: Activity, name: str) -> np.ndarray:
    node = net.node(name)
    if isinstance(node, InputNode):
        return np.asarray(act.inputs)
    if isinstance(node, NeuronNode) and node.spiking:
        return np.asarray(act.spikes[name])
    return np.asarray(act.potentials[name])


def count_dense(net: Network, act: Activity, dense: DenseNode) -> NeuroBenchDense:
    """NeuroBench's effective ACs/MACs and dense operations of one connection (module docstring)."""
    recurrent = net.is_recurrent(dense.name)
    values = _source(net, act, net.source_of(dense.name))
    s, t = values.shape[:2]
    fanout = nonzero_fanout(dense)
    acs = macs = 0.0
    for lo in range(0, s, SAMPLE_CHUNK):
        chunk = values[lo:lo + SAMPLE_CHUNK]
        if recurrent:                                   # call t sees s[t-1]; s[T-1] is never fed back
            chunk = chunk[:, :-1]
        nonzero = chunk != 0
        effective = nonzero.astype(np.float64) @ fanout          # [s, t]
        nonbinary = (nonzero & (chunk != 1) & (chunk != -1)).any(axis=2)
        macs += float(effective[nonbinary].sum())
        acs += float(effective[~nonbinary].sum())
    return NeuroBenchDense(dense.name, recurrent, acs / s, macs / s, float(dense.in_size * dense.out_size * t),
                           int(fanout.sum()))


def count_neurobench(net: Network, act: Activity, active_updates: dict[str, np.ndarray] | None = None) -> NeuroBenchCounts:
    """All NeuroBench terms of a run. ``active_updates`` maps a spiking population to its per-step
    mean count of neurons that received an event or fired (``LayerCounts.updates_active``), for the
    membrane-update lower bound; without it the low end counts only the firing neurons."""
    out = NeuroBenchCounts(denses=[count_dense(net, act, d) for d in net.dense_nodes()])
    spiking = [p for p in net.neuron_nodes() if p.spiking]
    nonzero = total = 0
    low = high = 0.0
    t = act.num_steps
    for pop in spiking:
        spikes = np.asarray(act.spikes[pop.name])
        nz = np.count_nonzero(spikes)
        nonzero += nz
        total += spikes.size
        high += pop.size * t
        if active_updates is not None and pop.name in active_updates:
            low += pop.size + float(np.asarray(active_updates[pop.name])[1:].sum())
        else:
            low += pop.size + float(np.count_nonzero(spikes[:, 1:])) / spikes.shape[0]
    out.activation_sparsity = 1.0 - nonzero / total if total else 0.0
    out.membrane_updates_low = min(low, high)
    out.membrane_updates_high = high
    return out


def differences() -> dict[str, str]:
    """How each NeuroBench term differs from ours, in words (printed next to the numbers)."""
    return {
        "synaptic_operations": (
            "NeuroBench binarizes the input: a spike count c costs one operation per synapse where we count c; "
            "it counts nonzero weights only, where we count every synapse the mask allows (a recurrent matrix's zero "
            "diagonal is n synapses to us, n-1 to NeuroBench, unless --nonzero-synapses); it counts the final step's "
            "events, which on Lava/emulator runs we leave out because they are delivered after the recording."),
        "effective_acs": (
            "NeuroBench counts a whole forward call as ACs only when every input value is in {-1, 0, 1}; a call that "
            "carries a spike count > 1 becomes MACs. We count c ACs for a count c, and MACs only for graded inputs."),
        "effective_macs": (
            "NeuroBench's MACs are synaptic only; our MAC total adds the neurons' own multiplies (leaks, gates), "
            "which NeuroBench leaves to its separate NeuronOperations metric."),
        "dense": "in x out per connection per step, zeros and masked synapses included (NeuroBench's all-ones copy); "
                 "we have no such term (our counts are event-driven).",
        "activation_sparsity": "1 - nonzero outputs / all outputs of the spiking layers; equals 1 - our mean firing "
                               "rate when every spike is a single event (the readout is left out by both).",
        "membrane_updates": (
            "NeuroBench counts the neurons whose membrane changed in a step (all at the first step); we count every "
            "neuron every step as an update (active when it received an event or fired). The exact NeuroBench value "
            "needs membrane potentials, which activity files do not record for spiking layers: given as a range."),
    }


def neurobench_dict(nb: NeuroBenchCounts) -> dict:
    """The energy.json block (NeuroBench's metric names kept)."""
    return {
        "version": NEUROBENCH_VERSION,
        "SynapticOperations": {"Effective_MACs": nb.effective_macs, "Effective_ACs": nb.effective_acs,
                               "Dense": nb.dense},
        "ActivationSparsity": nb.activation_sparsity,
        "MembraneUpdates": {"min": nb.membrane_updates_low, "max": nb.membrane_updates_high},
        "connections": [{"name": d.name, "recurrent": d.recurrent, "Effective_ACs": d.effective_acs,
                         "Effective_MACs": d.effective_macs, "Dense": d.dense, "nonzero_synapses": d.nonzero_synapses}
                        for d in nb.denses],
        "differences": differences(),
    }
