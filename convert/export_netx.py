"""netx HDF5 export (``OUT/netx.net``): fixed CUBA-LIF networks in the layout lava-dl 0.6.0 reads.

``lava.lib.dl.netx.hdf5.Network(net_config=path)`` builds one block per layer group of the file and
chains them in order; this module writes exactly what that reader consumes (read from
``lava/lib/dl/netx/hdf5.py``, ``utils.py``, ``blocks/process.py``)::

    /layer/0   type 'input', shape [C]                   (no 'neuron': spikes go straight in)
    /layer/k   type 'dense' | 'dense_rec', shape [N]
               weight [N, in] int, weight_rec [N, N] int (dense_rec), bias [N] int (optional)
               neuron/ type 'CUBA', iDecay, vDecay, vThMant, refDelay, gradedSpike
    attrs      source 'snn-deploy', layer_names (JSON list: input name, then each layer's population)

How netx turns those into Lava processes, and what that means for us:

- neuron: Lava ``LIF(du=iDecay - 1, dv=vDecay, vth=vThMant, bias_mant=bias, bias_exp=6)``. Lava's
  LIF adds 1 to ``du`` (its ``ds_offset``), so ``iDecay`` is the effective current decay:
  ``iDecay = du + 1`` for our (Lava-style) ``du`` register. ``du``, ``dv`` and ``vth`` are one value per layer in Lava's LIF
  (``Var(shape=(1,))``): per-neuron values are not expressible. The bias exponent is fixed to 6, so
  our ``bias_mant << bias_exp`` must be a multiple of 64 whose quotient fits 13 bits.
- weights: netx reads no exponent. It re-packs each matrix (``optimize_weight_bits``: shift left by
  ``k``, exponent ``-k``, ``num_weight_bits`` from the trailing zeros); Lava's Dense then clips to
  8 bits by sign mode and truncates. We store the effective integer weight ``w * 2^weight_exp``
  (exact for ``e >= 0``; for ``e < 0`` only when every weight is a multiple of ``2^-e``: a flooring
  shift of a sum is not a weight) and accept a matrix only if that re-packing reproduces it
  exactly, which holds (proved in ``_weight_range_problem``'s docstring and tested against lava-dl)
  for: mixed signs in [-256, 254]; non-negative (not all zero) up to 255; non-positive with
  ``|min| <= 256`` and ``|min|`` not a power of two (netx scales it to -256, Lava clips that to -255),
  and, if the largest weight is 0 and ``|min| > 128``, all weights even.
  A ``dense_rec`` layer is re-packed as ``[weight | weight_rec]`` jointly, so the rule applies to both.
- timing: each Dense sends the previous step's accumulation: one step of delay per synaptic hop,
  recurrent ones included, as our emulator. netx adds nothing else (no extra input neuron layer).
- input: ``hdf5.Network``'s default ``input_message_bits=0`` makes the first Dense read its input as
  binary (``s_in.astype(bool)``: a count of 4 counts once). With ``input_message_bits > 0`` it takes
  ``weights.dot(s_in)``, the count times the weight, as our emulator does. netx reads that setting
  only from its caller (an input layer of the file with a 'neuron' adds a neuron layer and a step,
  which is not our network), so for count input convert writes the bits needed into the root
  attribute ``input_message_bits`` (:func:`input_message_bits_for`; netx ignores it) and its summary
  says to load with ``hdf5.Network(net_config=..., input_message_bits=N)`` (tested against lava-dl
  on count input: tests/test_export_netx.py).
- a ``li`` readout is written as a CUBA layer whose current carries only the present input
  (``iDecay = 4096``), with the largest threshold: then Lava's ``v`` is the ``li`` potential, as
  long as it can never exceed that threshold; we accept it only when a static bound proves so
  (``|v| <= (max row sum |W| << 6 + |b|) * 4096 / dv``). Read its potential from the LIF's ``v``.

Not expressible (``is_netx_expressible`` says why): other neuron models (adaptation, subtraction
reset, gates), graded input, anything but a chain ``input -> layer 1 -> ... -> layer L`` with at most
one recurrent dense per layer, a bias on a dense (ours live in the neuron), per-neuron decays or
thresholds.

Making a trained model expressible: train ``cuba_lif`` with ``--reset zero --shared-decays`` (one
alpha, beta per layer, readout included) and convert with ``--netx``, which quantizes with
:data:`NETX_PRECISION` (:func:`netx_overrides`): no negative weight exponent (netx reads none) and
``bias_exp = 6`` (biases rounded to multiples of 64 state units; the report counts what moved).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Optional, Union

import h5py
import numpy as np

from snn_deploy.atomic import atomic_path
from snn_deploy.convert import fixed_point as fp
from snn_deploy.convert.registers import RegisterError, check_registers
from snn_deploy.errors import SnnDeployError
from snn_deploy.ir import DenseNode, Network, NeuronNode

#: netx (lava-dl 0.6.0 hdf5.py) builds Lava's LIF with ``du = iDecay - 1``.
NETX_IDECAY_MINUS_DU = 1
#: netx builds every CUBA neuron with ``bias_exp = 6``.
NETX_BIAS_EXP = 6
#: Weight ranges netx + Lava's Dense reproduce exactly (see the module docstring).
NETX_MIXED_MIN, NETX_MIXED_MAX = fp.WEIGHT_CONTAINER_MIN, fp.WEIGHT_CONTAINER_MAX - 1   # [-256, 254]
NETX_EXCITATORY_MAX = fp.WEIGHT_CONTAINER_MAX                                          # 255
NETX_INHIBITORY_MIN = fp.WEIGHT_CONTAINER_MIN                                          # -256
#: Weights in [min, 0] (a zero maximum) with |min| above this get no packing shift from netx.
NETX_ZERO_MAX_ODD_LIMIT = -fp.WEIGHT_CONTAINER_MIN // 2                                 # 128
#: What lava-dl's exporter writes besides the fields netx reads (kept for other readers).
REF_DELAY = 1
NEURON_TYPE = "CUBA"
#: Precision overrides (convert/quantize.py ``LayerPrecision`` fields) that make the quantizer's integers
#: netx-expressible: weights read without exponent, biases as multiples of 2^NETX_BIAS_EXP.
NETX_PRECISION = {"min_weight_exp": 0, "bias_exp": NETX_BIAS_EXP}
#: Root attributes (ignored by netx): who wrote the file, and the population name of each layer group.
ATTR_SOURCE = "source"
SOURCE_TAG = "snn-deploy"
ATTR_LAYER_NAMES = "layer_names"
#: Root attribute: the ``input_message_bits`` to load the file with (0: binary spikes suffice).
ATTR_INPUT_MESSAGE_BITS = "input_message_bits"
#: Message bits netx is told to use for count input (counts up to 255), and the most a graded
#: spike carries on Loihi 2.
COUNT_MESSAGE_BITS = 8
MAX_MESSAGE_BITS = 24


class NetxExportError(SnnDeployError):
    """The network cannot be written as a netx HDF5 file; the message names the layer and the rule."""


@dataclass
class NetxLayer:
    """One netx dense/dense_rec layer, in the integers the file holds."""

    name: str
    weight: np.ndarray                    #: [N, in] effective integer weights (exponent applied)
    weight_rec: Optional[np.ndarray]      #: [N, N] or None
    bias: Optional[np.ndarray]            #: [N] mantissas for bias_exp = 6, or None
    i_decay: int                          #: effective current decay (our du + 1)
    v_decay: int
    vth_mant: int

    @property
    def kind(self) -> str:
        return "dense" if self.weight_rec is None else "dense_rec"

    @property
    def size(self) -> int:
        return int(self.weight.shape[0])


@dataclass
class NetxPlan:
    """The whole file: input size + layers in order (population names kept for reporting)."""

    input_name: str
    input_size: int
    layers: list[NetxLayer]
    input_message_bits: int = 0


def netx_overrides(overrides: Optional[Mapping[str, Any]] = None) -> dict[str, Any]:
    """``overrides`` with :data:`NETX_PRECISION` as the model default (the user's ``model`` keys, and the
    ``types``/``layers`` sections, still take precedence: a choice that breaks netx is then refused by
    ``netx_plan`` naming the layer)."""
    merged = dict(overrides or {})
    merged["model"] = {**NETX_PRECISION, **(merged.get("model") or {})}
    return merged


def is_netx_expressible(net: Network) -> tuple[bool, str]:
    """``(True, "")`` if ``export_netx`` can write ``net`` exactly, else ``(False, reason)``."""
    try:
        netx_plan(net)
    except NetxExportError as exc:
        return False, str(exc)
    return True, ""


def input_message_bits_for(max_count: Optional[int]) -> int:
    """The ``input_message_bits`` lava-dl's netx must be loaded with to read input of at most ``max_count``
    spikes per bin exactly: 0 (its default, binary) for ``max_count <= 1``, else enough bits and at least
    :data:`COUNT_MESSAGE_BITS`; ``None`` (counts of unknown size) gives :data:`COUNT_MESSAGE_BITS`."""
    if max_count is None:
        return COUNT_MESSAGE_BITS
    if max_count <= 1:
        return 0
    bits = max(COUNT_MESSAGE_BITS, int(max_count).bit_length())
    if bits > MAX_MESSAGE_BITS:
        raise NetxExportError(f"input counts up to {max_count} per bin need {bits} message bits; netx input "
                              f"messages carry at most {MAX_MESSAGE_BITS} (bin the data more finely)")
    return bits


def netx_load_hint(bits: int) -> str:
    """How a lava-dl user loads netx.net so that it reads the input as our emulator does."""
    if not bits:
        return "load with lava.lib.dl.netx.hdf5.Network(net_config='netx.net') (binary spike input)"
    return (f"the input holds spike counts: load with lava.lib.dl.netx.hdf5.Network(net_config='netx.net', "
            f"input_message_bits={bits}); netx's default input_message_bits=0 reads every count as one spike")


def export_netx(net: Network, path: Union[str, Path], input_message_bits: int = 0) -> Path:
    """Write ``net`` (fixed IR) as a netx HDF5 file at ``path`` (atomically); NetxExportError if not expressible.

    ``input_message_bits`` (:func:`input_message_bits_for`) is recorded in the root attributes for the loader.
    """
    plan = netx_plan(net)
    plan.input_message_bits = int(input_message_bits)
    path = Path(path)
    with atomic_path(path) as tmp:
        with h5py.File(tmp, "w") as f:
            _write_plan(f, plan)
    return path


# ---- planning: IR -> netx integers (every refusal is raised here) -------------------------------

def netx_plan(net: Network) -> NetxPlan:
    """The netx layers of ``net``, or NetxExportError naming the first rule it breaks."""
    if not net.is_fixed:
        raise NetxExportError("netx export needs the fixed-point network (run the quantizer first); this one is float")
    net.validate()
    inputs = net.inputs()
    if len(inputs) != 1:
        raise NetxExportError(f"netx reads one input layer; the network has {len(inputs)}: {[i.name for i in inputs]}")
    inp = inputs[0]
    if inp.encoding != "spikes":
        raise NetxExportError(f"input {inp.name!r} is {inp.encoding}: netx.net is written for unary spike input")
    order = net.layer_order()
    output = net.output()
    if order[-1].name != output.name:
        raise NetxExportError(f"the output population {output.name!r} is not the last layer of the chain")
    layers, prev = [], inp.name
    for k, pop in enumerate(order):
        _check_chain(net, pop, prev, is_last=k == len(order) - 1)
        layers.append(_layer(net, pop, prev))
        prev = pop.name
    try:   # after netx's own rules (which name what netx cannot express): every register in Loihi's formats
        check_registers(net)
    except RegisterError as exc:
        raise NetxExportError(str(exc)) from None
    return NetxPlan(input_name=inp.name, input_size=inp.size, layers=layers)


def _check_chain(net: Network, pop: NeuronNode, prev: str, is_last: bool) -> None:
    where = f"population {pop.name!r}"
    incoming = net.incoming(pop.name)
    ff = [d for d in incoming if not net.is_recurrent(d.name)]
    rec = [d for d in incoming if net.is_recurrent(d.name)]
    if len(ff) != 1 or net.source_of(ff[0].name) != prev:
        raise NetxExportError(
            f"{where}: netx chains layers, so it must be driven by exactly one dense from {prev!r}; "
            f"it has feed-forward inputs from {[net.source_of(d.name) for d in ff]}")
    if len(rec) > 1:
        raise NetxExportError(f"{where}: netx's dense_rec holds one recurrent matrix, found {len(rec)}")
    consumers = [e.target for e in net.edges if e.source == pop.name]
    allowed = len(rec) + (0 if is_last else 1)
    if len(consumers) != allowed:
        raise NetxExportError(
            f"{where}: netx layers only feed the next layer (and their own recurrence); it drives {consumers}")


def _layer(net: Network, pop: NeuronNode, prev: str) -> NetxLayer:
    incoming = net.incoming(pop.name)
    ff = next(d for d in incoming if not net.is_recurrent(d.name))
    rec = next((d for d in incoming if net.is_recurrent(d.name)), None)
    weight = _effective_weight(ff)
    weight_rec = _effective_weight(rec) if rec is not None else None
    both = weight if weight_rec is None else np.hstack([weight, weight_rec])
    problem = _weight_range_problem(both)
    if problem:
        names = ff.name if rec is None else f"{ff.name} + {rec.name}"
        raise NetxExportError(f"population {pop.name!r} (weights {names}): {problem}")
    neuron = _NEURON_MAPPERS.get((pop.model, pop.reset if pop.model == "cuba_lif" else None))
    if neuron is None:
        raise NetxExportError(
            f"population {pop.name!r}: model {pop.model}"
            f"{' with reset ' + repr(pop.reset) if pop.model == 'cuba_lif' else ''} is not netx-expressible "
            "(netx runs Lava's CUBA LIF: reset to zero, no adaptation, no gates; train cuba_lif with --reset zero)")
    i_decay, v_decay, vth, bias_state = neuron(pop, both)
    return NetxLayer(name=pop.name, weight=weight, weight_rec=weight_rec, bias=_netx_bias(pop, bias_state),
                     i_decay=i_decay, v_decay=v_decay, vth_mant=vth)


def _effective_weight(dense: DenseNode) -> np.ndarray:
    """``weight * 2^weight_exp`` as integers (mask applied), or NetxExportError."""
    if dense.bias is not None and np.any(np.asarray(dense.bias) != 0):
        raise NetxExportError(
            f"dense {dense.name!r} carries a bias: netx reads only neuron biases (quantize with the bias in the neuron)")
    w = np.asarray(dense.weight)
    if not np.issubdtype(w.dtype, np.integer) and not np.all(w == np.round(w)):
        raise NetxExportError(f"dense {dense.name!r}: weights are not integers; is this the fixed network?")
    w = w.astype(np.int64)
    if dense.mask is not None:
        w = np.where(np.asarray(dense.mask, dtype=bool), w, 0)
    e = int(dense.weight_exp)
    if e >= 0:
        return w << e
    if np.any(w % (1 << -e)):
        raise NetxExportError(
            f"dense {dense.name!r}: weight exponent {e} floors the summed input (a >> {-e}), which netx cannot "
            "express (it reads no weight exponent); quantize this layer with weight_exp >= 0")
    return w >> -e


def _weight_range_problem(w: np.ndarray) -> str:
    """Why netx + Lava would not reproduce ``w`` exactly, or "" if they do.

    netx: sign mode from ``max < 0`` (inhibitory), ``min >= 0`` (excitatory), else mixed; shift
    ``k = floor(log2(s)) + signed`` with ``s = 255/max``, ``-256/min`` or ``min(127/max, -128/min)``;
    ``num_weight_bits = 8 - k - (z - signed)`` with ``z`` the common trailing zero bits (<= 8).
    Lava's Dense then clips ``w << k`` to [-256, 255] (mixed), [0, 255] or [-255, 0] (sign mode from
    ``max <= 0``) and truncates ``k + z`` (or ``k + z - 1``) low bits, which ``w << k`` already has
    zero: so the result is exact iff ``k >= 0`` and the clip leaves ``w << k`` alone:
    mixed needs [-256, 254] (``max << k <= 254``, ``min << k >= -256``); excitatory ``max <= 255``;
    non-positive ``|min| <= 256`` and ``|min| << k != 256``, i.e. ``|min|`` not a power of two.
    One more trap when ``max == 0``: netx calls that mixed (packs for 9 bits, ``z - 1``) while Lava
    calls it inhibitory and truncates ``k + z - 1`` bits, which is ``-1`` (a shift that zeroes every
    weight) when ``k = 0`` (``|min| > 128``) and ``z = 0`` (an odd weight).
    """
    lo, hi = int(w.min()), int(w.max())
    if lo == 0 and hi == 0:
        return "all weights are zero (netx's weight packing divides by the largest weight)"
    if lo < 0 < hi:
        if lo < NETX_MIXED_MIN or hi > NETX_MIXED_MAX:
            return (f"mixed-sign weights must lie in [{NETX_MIXED_MIN}, {NETX_MIXED_MAX}] for netx, got [{lo}, {hi}] "
                    "(weight exponent applied)")
        return ""
    if lo >= 0:
        if hi > NETX_EXCITATORY_MAX:
            return f"non-negative weights must be <= {NETX_EXCITATORY_MAX} for netx, got {hi} (weight exponent applied)"
        return ""
    if lo < NETX_INHIBITORY_MIN or (-lo & (-lo - 1)) == 0:
        return (f"non-positive weights need |min| <= {-NETX_INHIBITORY_MIN} and not a power of two for netx "
                f"(netx scales it to -256, Lava's Dense clips that to -255), got min {lo}")
    if hi == 0 and -lo > NETX_ZERO_MAX_ODD_LIMIT and np.any(w % 2):
        return (f"weights in [{lo}, 0] with an odd weight: netx packs them for 9 bits and Lava's Dense then "
                "shifts by -1 bit, zeroing them; make them even or |min| <= 128")
    return ""


def _uniform(pop: NeuronNode, key: str) -> int:
    if key not in pop.params:
        raise NetxExportError(f"population {pop.name!r}: fixed parameter {key!r} missing")
    values = np.unique(np.asarray(pop.params[key]))
    if values.size != 1:
        hint = " (train with --shared-decays)" if key in ("du", "dv") else ""
        raise NetxExportError(
            f"population {pop.name!r}: {key} differs between neurons ({values.size} values); Lava's LIF, which netx "
            f"builds, has one per layer{hint}")
    return int(values[0])


def _in_range(pop: NeuronNode, key: str, value: int, lo: int, hi: int) -> int:
    if not lo <= value <= hi:
        raise NetxExportError(f"population {pop.name!r}: {key} = {value} outside [{lo}, {hi}]")
    return value


def _bias_state(pop: NeuronNode) -> np.ndarray:
    for key in ("bias_mant", "bias_exp"):
        if key not in pop.params:
            raise NetxExportError(f"population {pop.name!r}: fixed parameter {key!r} missing")
    mant = np.broadcast_to(np.asarray(pop.params["bias_mant"], dtype=np.int64), (pop.size,))
    exp = np.broadcast_to(np.asarray(pop.params["bias_exp"], dtype=np.int64), (pop.size,))
    return fp.scale_bias(mant, exp)


def _cuba_lif_zero(pop: NeuronNode, weights: np.ndarray) -> tuple[int, int, int, np.ndarray]:
    du = _in_range(pop, "du", _uniform(pop, "du"), 0, fp.DECAY_MAX)
    dv = _in_range(pop, "dv", _uniform(pop, "dv"), 0, fp.DECAY_MAX)
    vth = _in_range(pop, "vth", _uniform(pop, "vth"), 0, fp.THRESHOLD_MANT_MAX)
    return du + NETX_IDECAY_MINUS_DU, dv, vth, _bias_state(pop)


def _li_readout(pop: NeuronNode, weights: np.ndarray) -> tuple[int, int, int, np.ndarray]:
    """``li`` as CUBA: current = this step's input only (effective decay 4096), largest threshold."""
    dv = _in_range(pop, "dv", _uniform(pop, "dv"), 0, fp.DECAY_MAX)
    bias = _bias_state(pop)
    vth = fp.THRESHOLD_MANT_MAX
    per_step = (int(np.abs(weights).sum(axis=1).max()) << fp.ACTIVATION_SHIFT) + int(np.abs(bias).max())
    limit = int(fp.threshold(vth))
    if dv == 0 or per_step * fp.DECAY_UNITY > limit * dv:
        bound = "unbounded (dv = 0)" if dv == 0 else f"{per_step * fp.DECAY_UNITY / dv:.4g}"
        raise NetxExportError(
            f"population {pop.name!r}: an li readout runs on netx as a CUBA layer that must never reach its "
            f"threshold {limit}; its potential bound is {bound}")
    return fp.DECAY_UNITY, dv, vth, bias


_NEURON_MAPPERS = {("cuba_lif", "zero"): _cuba_lif_zero, ("li", None): _li_readout}


def _netx_bias(pop: NeuronNode, state: np.ndarray) -> Optional[np.ndarray]:
    """Bias mantissas for netx's fixed ``bias_exp = 6`` (None when all zero)."""
    if not np.any(state):
        return None
    unit = 1 << NETX_BIAS_EXP
    mant = state >> NETX_BIAS_EXP
    if np.any(state % unit) or mant.min() < fp.BIAS_MANT_MIN or mant.max() > fp.BIAS_MANT_MAX:
        raise NetxExportError(
            f"population {pop.name!r}: netx fixes bias_exp = {NETX_BIAS_EXP}; the bias (mant << exp) must be a "
            f"multiple of {unit} with a quotient in [{fp.BIAS_MANT_MIN}, {fp.BIAS_MANT_MAX}]")
    return mant


# ---- writing -------------------------------------------------------------------------------------

def _write_str(group: h5py.Group, key: str, value: str) -> None:
    """Fixed-length ASCII in a (1,) dataset, as lava-dl's own exporter writes 'type' fields."""
    group.create_dataset(key, (1,), f"S{max(len(value), 1)}", [value.encode("ascii")])


def _write_plan(f: h5py.File, plan: NetxPlan) -> None:
    # netx reads only the 'layer' groups; these attributes tell our tools which population is which layer
    f.attrs[ATTR_SOURCE] = SOURCE_TAG
    f.attrs[ATTR_LAYER_NAMES] = json.dumps([plan.input_name] + [spec.name for spec in plan.layers])
    f.attrs[ATTR_INPUT_MESSAGE_BITS] = int(plan.input_message_bits)
    layer = f.create_group("layer")
    g = layer.create_group("0")
    _write_str(g, "type", "input")
    g.create_dataset("shape", data=np.array([plan.input_size], dtype=np.int64))
    for k, spec in enumerate(plan.layers, start=1):
        g = layer.create_group(str(k))
        _write_str(g, "type", spec.kind)
        g.create_dataset("shape", data=np.array([spec.size], dtype=np.int64))
        g.create_dataset("weight", data=spec.weight.astype(np.int64))
        if spec.weight_rec is not None:
            g.create_dataset("weight_rec", data=spec.weight_rec.astype(np.int64))
        if spec.bias is not None:
            g.create_dataset("bias", data=spec.bias.astype(np.int64))
        n = g.create_group("neuron")
        _write_str(n, "type", NEURON_TYPE)
        n.create_dataset("iDecay", data=int(spec.i_decay))
        n.create_dataset("vDecay", data=int(spec.v_decay))
        n.create_dataset("vThMant", data=int(spec.vth_mant))
        n.create_dataset("refDelay", data=REF_DELAY)
        n.create_dataset("gradedSpike", data=False)
