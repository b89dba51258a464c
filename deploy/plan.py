"""Deployment plan of a fixed IR, without Lava: which Lava process runs each node, and with what.

Pure functions of the network, so they are testable without starting Lava:

- ``pipeline_depth``: synaptic hops from the input to the readout. Every dense delivers at step ``t``
  what it accumulated at ``t - 1``, so a sample of ``T`` input steps is run for ``T + depth`` steps
  (the flush) before the readout has seen its last input.
- ``uses_lava_lif``: a ``cuba_lif`` population with hard reset (``reset == "zero"``) runs on Lava's
  own ``LIF`` process (``PyLifModelBitAcc``), the independent check of our arithmetic, whenever
  Lava's LIF can hold its parameters: one ``du``, ``dv`` and ``vth`` for the whole population (Lava
  keeps them as scalars). Every other population runs our ``FixedNeurons``/``GatedNeurons`` process.
- ``synapse_plan``: Lava ``Dense`` (or ``Sparse`` for a masked matrix at most ``SPARSE_MAX_DENSITY``
  full) with the integer weights exactly as stored in the IR. Lava's bit-accurate models clip
  weights to ``[-256, 255]`` and truncate ``8 - num_weight_bits + mixed`` low bits; we pass mixed
  sign mode with ``num_weight_bits = 9`` so nothing is truncated and the dense computes
  ``(W s) << e`` (or the flooring ``>> -e``) exactly as ``convert.fixed_point.weight_shift``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np

from snn_deploy.errors import SnnDeployError
from snn_deploy.ir import DenseNode, InputNode, Network, NeuronNode

LAVA_WEIGHT_MIN = -256           #: Lava's clip range for mixed-sign weights (clip_weights, 8 bits)
LAVA_WEIGHT_MAX = 255
LAVA_EXACT_WEIGHT_BITS = 9       #: num_weight_bits with which mixed-sign truncation shifts by 0 bits
GRADED_MESSAGE_BITS = 24         #: num_message_bits of a dense whose input is graded (not 0/1 spikes)
LAVA_DENSE_ACCUMULATOR_MAX = 2**31 - 1  #: Lava's bit-accurate Dense sums W·s in int32
SPARSE_MAX_DENSITY = 0.5         #: a masked dense at most this full becomes a Lava Sparse
LAVA_LIF_SCALARS = ("du", "dv", "vth")   #: parameters Lava's LIF keeps as one value per population
LAVA_LIF_VECTORS = ("bias_mant", "bias_exp")


class DeployError(SnnDeployError):
    """A fixed network cannot be deployed as it is; the message names the node and the rule."""


@dataclass(frozen=True)
class SynapsePlan:
    """How one ``DenseNode`` becomes a Lava synapse process."""

    name: str
    source: str
    target: str
    port: str
    weights: np.ndarray          #: int64 [out, in], mask applied
    weight_exp: int
    num_message_bits: int        #: 0 for binary spikes, GRADED_MESSAGE_BITS otherwise
    sparse: bool


def check_deployable(net: Network, source: Optional[object] = None) -> None:
    """Raise DeployError unless ``net`` is a fixed IR whose every node this stage can run; a register
    outside the profile's formats raises ``convert.registers.RegisterError`` (message starts with ``source``)."""
    if not net.is_fixed:
        raise DeployError("the network is a float IR; run `snn-deploy convert` first (deploy runs fixed-point networks)")
    from snn_deploy.convert.quantize import SCHEME

    if net.precision.scheme != SCHEME:  # type: ignore[union-attr]
        raise DeployError(
            f"the network was quantized with scheme {net.precision.scheme!r}; this snn-deploy runs {SCHEME!r} "  # type: ignore[union-attr]
            "networks (re-run `snn-deploy convert` with this version)")
    if len(net.inputs()) != 1:
        raise DeployError(f"deploy runs networks with exactly one input node, this one has {len(net.inputs())}")
    from snn_deploy.convert.rules import STRUCTURE_RULES, RuleError
    for rule in STRUCTURE_RULES:      # skip connections, graded recurrence: Lava would alter them
        try:
            rule(net)
        except RuleError as e:
            raise DeployError(str(e)) from e
    from snn_deploy.convert.registers import check_registers
    check_registers(net, source)      # every register within the profile's number formats
    for d in net.dense_nodes():
        synapse_plan(net, d)
    from snn_deploy.convert.fixed_neurons import get_neuron_model
    for p in net.neuron_nodes():
        get_neuron_model(p.model).params_from_node(p)


def pipeline_depth(net: Network) -> int:
    """Longest chain of feed-forward dense hops from an input to the output population."""
    return net.population_depths()[net.output().name]


def uses_lava_lif(node: NeuronNode) -> bool:
    """True when Lava's own LIF process expresses this population exactly (see the module docstring)."""
    if node.model != "cuba_lif" or node.reset != "zero":
        return False
    return all(np.unique(np.asarray(node.params[k])).size == 1 for k in LAVA_LIF_SCALARS)


def lava_lif_args(node: NeuronNode) -> dict:
    """Keyword arguments of ``lava.proc.lif.process.LIF`` for a population where ``uses_lava_lif``."""
    scalars = {k: int(np.asarray(node.params[k]).reshape(-1)[0]) for k in LAVA_LIF_SCALARS}
    vectors = {k: np.broadcast_to(np.asarray(node.params[k], dtype=np.int64), (node.size,)).copy()
               for k in LAVA_LIF_VECTORS}
    return {"shape": (node.size,), **scalars, **vectors}


def synapse_plan(net: Network, dense: DenseNode, input_max: Optional[int] = None) -> SynapsePlan:
    """The Lava synapse for ``dense``; DeployError if Lava's bit-accurate dense would alter it.

    ``input_max`` is the largest input value of the run: spike counts above 1 per step need graded
    messages (a binary dense would count them once).
    """
    weights = np.asarray(dense.weight)
    if not np.issubdtype(weights.dtype, np.integer):
        if not np.all(weights == np.round(weights)):
            raise DeployError(f"dense {dense.name!r}: weights are not integers; is this a fixed IR?")
    weights = weights.astype(np.int64)
    if dense.mask is not None:
        weights = np.where(np.asarray(dense.mask).astype(bool), weights, 0)
    if weights.size and (weights.min() < LAVA_WEIGHT_MIN or weights.max() > LAVA_WEIGHT_MAX):
        raise DeployError(
            f"dense {dense.name!r}: weights span [{weights.min()}, {weights.max()}], outside Lava's "
            f"[{LAVA_WEIGHT_MIN}, {LAVA_WEIGHT_MAX}]")
    if dense.bias is not None and np.any(np.asarray(dense.bias) != 0):
        raise DeployError(
            f"dense {dense.name!r}: has a bias; a fixed IR carries biases on the neurons (bias_mant, bias_exp)")
    source = net.node(net.source_of(dense.name))
    edge = net.target_of(dense.name)
    if isinstance(source, InputNode):
        graded = message_bits_for_input(source.encoding, input_max) > 0
    else:
        graded = isinstance(source, NeuronNode) and not source.spiking
    if isinstance(source, NeuronNode) and not source.spiking:
        from snn_deploy.convert.fixed_point import STATE_MAX

        bound = STATE_MAX * int(np.abs(weights).sum(axis=1).max(initial=0))
        if bound > LAVA_DENSE_ACCUMULATOR_MAX:
            raise DeployError(
                f"dense {dense.name!r}: carries the potential of non-spiking population {source.name!r} "
                f"(up to {STATE_MAX}) through weights with row sums up to {bound // STATE_MAX}: the sum can reach "
                f"{bound}, beyond the int32 accumulator of Lava's Dense ({LAVA_DENSE_ACCUMULATOR_MAX})")
    density = float(np.count_nonzero(weights)) / weights.size if weights.size else 1.0
    return SynapsePlan(
        name=dense.name, source=source.name, target=edge.target, port=edge.port, weights=weights,
        weight_exp=int(dense.weight_exp), num_message_bits=GRADED_MESSAGE_BITS if graded else 0,
        sparse=dense.mask is not None and density <= SPARSE_MAX_DENSITY)


def population_kinds(net: Network) -> dict[str, str]:
    """``{population: "lava_lif" | "fixed"}`` for every neuron population."""
    return {p.name: "lava_lif" if uses_lava_lif(p) else "fixed" for p in net.neuron_nodes()}


def message_bits_for_input(encoding: str, max_value: Optional[int]) -> int:
    """Binary messages carry 0/1 only; spike counts above 1 per step need graded messages."""
    return 0 if encoding == "spikes" and (max_value is None or max_value <= 1) else GRADED_MESSAGE_BITS
