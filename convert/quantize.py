"""Quantize a float network IR to a fixed IR for a hardware profile (scheme ``loihi-fixed-v1``).

Per population ``P`` (all integers are those of ``convert.fixed_neurons``):

1. Fold the per-neuron input factor ``f`` into the weight rows and the bias of every dense on P's
   ``input`` port (mask applied first): ``W' = diag(f) W``, ``b' = f b`` with ``f = 1 - p`` for the
   catalogue entry's ``input_factor`` ``p`` (alpha for lif, adlif, mthr_lif, li; beta for cuba_lif),
   ``f = 1`` without one (spikgru).
2. One state scale ``lambda`` per population (state units per float unit), shared by weights and
   threshold so firing is kept: the largest folded weight ``M`` maps onto the largest weight
   integer ``w_max`` (254 for 8 bits) at exponent ``e``: ``lambda = w_max 2^(6 + e) / M``. ``e``
   is 0 when ``vth lambda`` then lands in ``[2^12, 2^(23 - headroom)]`` (netx-friendly), else the
   nearest exponent that does, within the profile's range and not below ``min_weight_exp`` (a note
   says when the threshold then leaves that window).
3. Every dense ``d`` on the input port gets its own exponent ``e_d = ceil(log2(max|W'_d| lambda / (w_max 2^6)))``
   (not below ``min_weight_exp``) and integers ``w = step * round(W'_d lambda / (2^(6 + e_d) step))``
   (step = 2: Lava-ready even weights), clipped to ``+-w_max`` (counted); weights that were nonzero and
   became 0 are counted.
   Gate denses (SpikGRU) use the fixed gate scale ``2^8`` (``fixed_point.GATE_FRAC_BITS``).
4. Threshold ``vth = round(theta lambda / 2^6)`` (17-bit); the model's own registers from its
   ``from_float`` (``convert.fixed_neurons``: decays ``d = round(4096 (1 - factor))``, Lava's current
   register storing ``du = d - 1``; adLIF's ``(1-alpha) a`` as a 12-bit fraction, ``(1-alpha) b`` in
   state units; mthr_lif's ``k`` as ``round(k lambda)``; cuba_lif moves the bias from the current to
   ``v`` as ``(1-beta) b / (1 - alpha_q)``, exact in steady state, reported).
5. Bias ``b' lambda = mant << exp`` with the smallest ``exp`` in 0..7 that fits the 13-bit mantissa
   (per neuron), or a fixed ``bias_exp``: then biases are rounded to multiples of ``2^bias_exp``
   state units (neurons changed by more than the integer rounding, and the largest change, are
   reported).

Precision choices resolve in ``resolve_precision`` with the order model default < layer type
(``overrides['types'][model]``) < layer name (``overrides['layers'][name]``); unknown keys are errors.
"""
from __future__ import annotations

import copy
import math
from dataclasses import asdict, dataclass, fields, replace
from typing import Any, Mapping, Optional

import numpy as np

from snn_deploy.catalogue import get_model_entry
from snn_deploy.convert import fixed_point as fp
from snn_deploy.convert.fixed_neurons import get_neuron_model, per_neuron
from snn_deploy.convert.profiles import HardwareProfile, load_profile
from snn_deploy.errors import SnnDeployError
from snn_deploy.ir import DenseNode, InputNode, Network, NeuronNode, Precision

SCHEME = "loihi-fixed-v1"
OVERRIDE_SECTIONS = ("model", "types", "layers", "input")
INPUT_KEYS = ("frac_bits",)
AUTO = "auto"


@dataclass(frozen=True)
class LayerPrecision:
    """The precision choices for one population and its incoming denses (all overridable)."""

    weight_bits: int = fp.WEIGHT_BITS
    weight_exp: Any = AUTO          #: exponent of the largest dense ("auto" or an int)
    headroom_bits: int = fp.HEADROOM_BITS
    min_threshold_bits: int = fp.MIN_THRESHOLD_BITS
    reference: float = 1.0          #: float magnitude placed in the window for non-spiking populations
    bias_exp: Any = AUTO            #: "auto" (smallest per neuron) or a fixed 0..7 (netx uses 6)
    min_weight_exp: Any = AUTO      #: lowest exponent of any dense ("auto": the profile's; netx needs 0)


def resolve_precision(pop: NeuronNode, overrides: Optional[Mapping[str, Any]], profile: HardwareProfile) -> LayerPrecision:
    """Model default < ``overrides['model']`` < ``overrides['types'][model]`` < ``overrides['layers'][name]``."""
    p = LayerPrecision()
    ov = overrides or {}
    for layer in (ov.get("model"), (ov.get("types") or {}).get(pop.model), (ov.get("layers") or {}).get(pop.name)):
        if layer:
            p = replace(p, **layer)
    fmt = profile.formats
    if not 2 <= p.weight_bits <= fmt.weight_bits:
        raise SnnDeployError(f"layer {pop.name}: weight_bits {p.weight_bits} outside 2..{fmt.weight_bits} of profile {profile.name}")
    if p.weight_exp != AUTO and not (isinstance(p.weight_exp, int) and fmt.weight_exp_min <= p.weight_exp <= fmt.weight_exp_max):
        raise SnnDeployError(f"layer {pop.name}: weight_exp {p.weight_exp!r} must be 'auto' or an integer in "
                             f"[{fmt.weight_exp_min}, {fmt.weight_exp_max}] (profile {profile.name})")
    if p.min_weight_exp != AUTO:
        if not (isinstance(p.min_weight_exp, int) and fmt.weight_exp_min <= p.min_weight_exp <= fmt.weight_exp_max):
            raise SnnDeployError(f"layer {pop.name}: min_weight_exp {p.min_weight_exp!r} must be 'auto' or an "
                                 f"integer in [{fmt.weight_exp_min}, {fmt.weight_exp_max}] (profile {profile.name})")
        if p.weight_exp != AUTO and p.weight_exp < p.min_weight_exp:
            raise SnnDeployError(f"layer {pop.name}: weight_exp {p.weight_exp} is below min_weight_exp "
                                 f"{p.min_weight_exp}")
    if p.bias_exp != AUTO and not (isinstance(p.bias_exp, int) and 0 <= p.bias_exp <= fp.BIAS_EXP_MAX):
        raise SnnDeployError(f"layer {pop.name}: bias_exp {p.bias_exp!r} must be 'auto' or an integer in [0, {fp.BIAS_EXP_MAX}]")
    if not 0 <= p.min_threshold_bits <= fp.STATE_BITS - 1 - p.headroom_bits:
        raise SnnDeployError(f"layer {pop.name}: need 0 <= min_threshold_bits <= 23 - headroom_bits, got "
                             f"{p.min_threshold_bits} and {p.headroom_bits}")
    return p


def check_overrides(overrides: Optional[Mapping[str, Any]], net: Network) -> None:
    """Unknown sections, fields, model types or layer names are errors (a typo must not be ignored)."""
    if not overrides:
        return
    unknown = sorted(set(overrides) - set(OVERRIDE_SECTIONS))
    if unknown:
        raise SnnDeployError(f"precision overrides: unknown section(s) {unknown}; known: {list(OVERRIDE_SECTIONS)}")
    names = {f.name for f in fields(LayerPrecision)}
    pops = {p.name: p.model for p in net.neuron_nodes()}

    def check_fields(d: Any, where: str) -> None:
        if not isinstance(d, Mapping):
            raise SnnDeployError(f"precision overrides: {where} must be a mapping of fields, got {d!r}")
        bad = sorted(set(d) - names)
        if bad:
            raise SnnDeployError(f"precision overrides: {where}: unknown field(s) {bad}; known: {sorted(names)}")

    if overrides.get("model"):
        check_fields(overrides["model"], "model")
    for t, d in (overrides.get("types") or {}).items():
        if t not in set(pops.values()):
            raise SnnDeployError(f"precision overrides: types.{t}: no population of model {t!r} in this network "
                                 f"(models: {sorted(set(pops.values()))})")
        check_fields(d, f"types.{t}")
    for n, d in (overrides.get("layers") or {}).items():
        if n not in pops:
            raise SnnDeployError(f"precision overrides: layers.{n}: no population {n!r} (populations: {sorted(pops)})")
        check_fields(d, f"layers.{n}")
    bad = sorted(set(overrides.get("input") or {}) - set(INPUT_KEYS))
    if bad:
        raise SnnDeployError(f"precision overrides: input: unknown field(s) {bad}; known: {list(INPUT_KEYS)}")


def quantize_network(float_net: Network, profile: Any = "loihi2",
                     overrides: Optional[Mapping[str, Any]] = None) -> Network:
    """The fixed IR of ``float_net`` for ``profile`` (name, path or HardwareProfile); see the module docstring.

    The returned network carries ``Precision(profile, SCHEME, formats, layers)`` where ``layers`` holds,
    per population, ``scale`` (lambda), ``weight_exp`` and clip counts, and per dense its exponent and
    clipped / zeroed weight counts.
    """
    prof = profile if isinstance(profile, HardwareProfile) else load_profile(profile)
    if float_net.is_fixed:
        raise SnnDeployError("quantize_network needs a float network; this one is already fixed point "
                             f"(profile {float_net.precision.profile!r})")  # type: ignore[union-attr]
    if not prof.quantizable:
        raise SnnDeployError(f"profile {prof.name!r} ({prof.kind}) has no fixed-point number formats: it prices "
                             "energy but is not a quantization target; use loihi1 or loihi2")
    float_net.validate()
    check_finite(float_net)
    check_overrides(overrides, float_net)
    nodes = {n.name: n for n in float_net.nodes}
    new_nodes: dict[str, Any] = {}
    layers: dict[str, dict[str, Any]] = {}
    input_scales = _quantize_inputs(float_net, overrides, new_nodes, layers)
    for pop in float_net.layer_order():
        lp = resolve_precision(pop, overrides, prof)
        _quantize_population(float_net, pop, lp, prof, input_scales, new_nodes, layers)
    out_nodes = [new_nodes.get(n.name, copy.deepcopy(n)) for n in float_net.nodes]
    formats = asdict(prof.formats)
    formats.update(gate_frac_bits=fp.GATE_FRAC_BITS, adapt_frac_bits=fp.ADAPT_FRAC_BITS,
                   fraction_shift=fp.FRACTION_SHIFT, current_decay_offset=fp.CURRENT_DECAY_OFFSET,
                   weight_storage="m << (9 - weight_bits), Lava-ready")
    meta = dict(float_net.meta, profile=prof.name)
    fixed = Network(out_nodes, list(float_net.edges), meta=meta,
                    precision=Precision(prof.name, SCHEME, formats=formats, layers=layers))
    return fixed.validate()


def check_finite(net: Network) -> None:
    """Refuse NaN or infinite float values, naming node and field: NaN would quantize to -2^63 (the
    integer cast of NaN), an infinite weight divides the weight scale by infinity."""
    for node in net.nodes:
        if isinstance(node, DenseNode):
            arrays = {"weight": node.weight, "bias": node.bias, "mask": node.mask}
        elif isinstance(node, NeuronNode):
            arrays = dict(node.params)
        else:
            continue
        for key, value in arrays.items():
            if value is None:
                continue
            values = np.asarray(value)
            if values.dtype.kind in "fc" and not np.isfinite(values).all():
                bad = int(values.size - np.count_nonzero(np.isfinite(values)))
                raise SnnDeployError(f"node {node.name!r}: {key} holds {bad} NaN or infinite value(s); "
                                     "a network with them cannot be quantized")


# ---- helpers ---------------------------------------------------------------------------------

def _quantize_inputs(net: Network, overrides: Optional[Mapping[str, Any]], new_nodes: dict, layers: dict) -> dict[str, float]:
    """Input payload scale per input node: 1 for spike counts, ``2^frac_bits`` for graded values."""
    frac = int(((overrides or {}).get("input") or {}).get("frac_bits", fp.GRADED_INPUT_FRAC_BITS))
    scales = {}
    for inp in net.inputs():
        scale = 1.0 if inp.encoding == "spikes" else float(2 ** frac)
        scales[inp.name] = scale
        layers[inp.name] = {"kind": "input", "encoding": inp.encoding, "scale": scale}
    return scales


def _folded(dense: DenseNode, factor: np.ndarray, in_scale: float) -> tuple[np.ndarray, np.ndarray]:
    w = np.asarray(dense.weight, dtype=np.float64)
    if dense.mask is not None:
        w = w * np.asarray(dense.mask, dtype=np.float64)
    if int(getattr(dense, "weight_exp", 0)) != 0:
        w = w * 2.0 ** int(dense.weight_exp)
    b = np.zeros(w.shape[0]) if dense.bias is None else np.asarray(dense.bias, dtype=np.float64)
    return w * factor[:, None] / in_scale, b * factor


def _ceil_log2(x: float) -> int:
    return int(math.ceil(math.log2(x) - 1e-9))


def _exp_range(lp: LayerPrecision, prof: HardwareProfile) -> tuple[int, int]:
    """The exponents a dense may get: the profile's range, raised to ``min_weight_exp`` if set."""
    fmt = prof.formats
    lo = fmt.weight_exp_min if lp.min_weight_exp == AUTO else max(fmt.weight_exp_min, int(lp.min_weight_exp))
    return int(lo), int(fmt.weight_exp_max)


def _threshold_window(lp: LayerPrecision) -> tuple[float, float]:
    """Where ``ref * lambda`` (threshold in state units) should land: ``[2^min_threshold_bits, 2^(23 - headroom)]``."""
    return 2.0 ** lp.min_threshold_bits, 2.0 ** (fp.STATE_BITS - 1 - lp.headroom_bits)


def _choose_exp(M: float, ref: float, lp: LayerPrecision, w_max: int, prof: HardwareProfile) -> int:
    """Exponent of the largest dense: 0 if ``ref * lambda(0)`` is in the window, else the nearest that is."""
    if lp.weight_exp != AUTO:
        return int(lp.weight_exp)
    unit = w_max * 2.0 ** fp.ACTIVATION_SHIFT * ref / M          # ref * lambda(e) = unit * 2^e
    low, high = _threshold_window(lp)
    lo = _ceil_log2(low / unit)
    hi = int(math.floor(math.log2(high / unit) + 1e-9))
    e = 0 if lo <= 0 <= hi else (lo if lo > 0 else hi)
    e_min, e_max = _exp_range(lp, prof)
    return int(min(max(e, e_min), e_max))


def _int_weights(w: np.ndarray, scale: float, lp: LayerPrecision, prof: HardwareProfile,
                 exp: Optional[int] = None) -> tuple[np.ndarray, int, dict[str, int]]:
    """Lava-ready integers for float weights ``w`` at ``scale`` (integer units per float unit of ``a``)."""
    step, mmax = fp.weight_step(lp.weight_bits), fp.weight_mant_max(lp.weight_bits)
    w_max = step * mmax
    peak = float(np.abs(w).max()) if w.size else 0.0
    if exp is None:
        exp = _ceil_log2(peak * scale / w_max) if peak > 0 else 0
        e_min, e_max = _exp_range(lp, prof)
        exp = int(min(max(exp, e_min), e_max))
    m = np.rint(w * scale / (2.0 ** exp * step))
    clipped = int(np.count_nonzero(np.abs(m) > mmax))
    m = np.clip(m, -mmax, mmax)
    q = (m * step).astype(np.int64)
    stats = {"clipped": clipped, "zeroed": int(np.count_nonzero((q == 0) & (w != 0))),
             "nonzero_float": int(np.count_nonzero(w)), "max_abs_int": int(np.abs(q).max()) if q.size else 0}
    return q, int(exp), stats


def _bias(b_state: np.ndarray, fixed_exp: Any = AUTO) -> tuple[np.ndarray, np.ndarray, int]:
    """Per-neuron ``(mant, exp)`` with ``mant << exp ~= b_state``: the smallest exp in 0..7 that fits 13 bits
    (or the given ``fixed_exp``); and how many mantissas were clipped."""
    exp = np.zeros(b_state.shape, np.int64)
    if fixed_exp != AUTO:
        exp = exp + int(fixed_exp)
    else:
        for _ in range(fp.BIAS_EXP_MAX):
            too_big = np.abs(np.rint(b_state / 2.0 ** exp)) > fp.BIAS_MANT_MAX
            exp = np.where(too_big, exp + 1, exp)
    mant = np.rint(b_state / 2.0 ** exp)
    clipped = int(np.count_nonzero((mant > fp.BIAS_MANT_MAX) | (mant < fp.BIAS_MANT_MIN)))
    mant = np.clip(mant, fp.BIAS_MANT_MIN, fp.BIAS_MANT_MAX).astype(np.int64)
    return mant, exp.astype(np.int64), clipped


def _quantize_population(net: Network, pop: NeuronNode, lp: LayerPrecision, prof: HardwareProfile,
                         input_scales: dict[str, float], new_nodes: dict, layers: dict) -> None:
    size = pop.size
    fold = get_model_entry(pop.model).input_factor
    factor = 1.0 - per_neuron(pop, fold) if fold else np.ones(size)
    in_denses = net.incoming(pop.name, "input")
    folded = {}
    bias = np.zeros(size)
    for d in in_denses:
        src = net.source_of(d.name)
        w, b = _folded(d, factor, input_scales.get(src, 1.0))
        if net.is_recurrent(d.name) and np.any(b):
            raise SnnDeployError(f"recurrent dense {d.name!r} has a bias: Loihi denses have none; put it on a feed-forward dense")
        folded[d.name] = w
        bias += b
    peaks = {name: float(np.abs(w).max()) if w.size else 0.0 for name, w in folded.items()}
    M = max(peaks.values(), default=0.0)
    theta = per_neuron(pop, "threshold", 1.0) if pop.spiking else np.full(size, lp.reference)
    ref = float(np.abs(theta).max()) or 1.0
    step, mmax = fp.weight_step(lp.weight_bits), fp.weight_mant_max(lp.weight_bits)
    w_max = step * mmax
    if M > 0:
        e = _choose_exp(M, ref, lp, w_max, prof)
        lam = w_max * 2.0 ** (fp.ACTIVATION_SHIFT + e) / M
    else:
        lam = 2.0 ** (fp.STATE_BITS - 1 - lp.headroom_bits) / ref
        e = 0
    a_scale = lam / 2.0 ** fp.ACTIVATION_SHIFT             # integer units of a per float unit of input
    info: dict[str, Any] = {"kind": "neurons", "model": pop.model, "scale": lam, "weight_exp": e,
                            "weight_bits": lp.weight_bits, "notes": []}
    low, high = _threshold_window(lp)
    if M > 0 and not low <= ref * lam <= high:
        info["notes"].append(f"weight exponent {e} (allowed {list(_exp_range(lp, prof))}) puts the "
                             f"{'threshold' if pop.spiking else 'reference'} at {ref * lam:.0f} state units, outside "
                             f"[2^{lp.min_threshold_bits}, 2^{fp.STATE_BITS - 1 - lp.headroom_bits}]"
                             f"{' (less headroom before saturation)' if ref * lam > high else ''}")
    for d in in_denses:
        q, de, st = _int_weights(folded[d.name], a_scale, lp, prof,
                                 exp=e if peaks[d.name] == M and M > 0 else None)
        new_nodes[d.name] = DenseNode(d.name, q, None, mask=None if d.mask is None else np.asarray(d.mask).copy(),
                                      weight_exp=de)
        layers[d.name] = {"kind": "dense", "target": pop.name, "port": "input", "weight_exp": de,
                          "scale": a_scale, "recurrent": net.is_recurrent(d.name), **st}
    params, counts = _neuron_params(pop, lp, lam, bias, theta, info)
    for d in net.incoming(pop.name, "gate"):
        w, b = _folded(d, np.ones(size), input_scales.get(net.source_of(d.name), 1.0))
        g_scale = float(2 ** fp.GATE_FRAC_BITS)
        q, de, st = _int_weights(w, g_scale, lp, prof)
        new_nodes[d.name] = DenseNode(d.name, q, None, mask=None if d.mask is None else np.asarray(d.mask).copy(),
                                      weight_exp=de)
        layers[d.name] = {"kind": "dense", "target": pop.name, "port": "gate", "weight_exp": de,
                          "scale": g_scale, "recurrent": net.is_recurrent(d.name), **st}
        params["gate_bias"] = params.get("gate_bias", np.zeros(size, np.int64)) + np.rint(b * g_scale).astype(np.int64)
    if "gate_bias" in params:
        gb = params["gate_bias"]
        counts["gate_bias_clipped"] = int(np.count_nonzero(np.abs(gb) > fp.GATE_BIAS_MAX))
        params["gate_bias"] = np.clip(gb, -fp.GATE_BIAS_MAX, fp.GATE_BIAS_MAX)
    info.update(counts)
    new_nodes[pop.name] = NeuronNode(pop.name, pop.model, size, params=params, reset=pop.reset)
    layers[pop.name] = info


def _neuron_params(pop: NeuronNode, lp: LayerPrecision, lam: float, bias: np.ndarray, theta: np.ndarray,
                   info: dict) -> tuple[dict[str, np.ndarray], dict[str, int]]:
    size = pop.size
    counts: dict[str, int] = {}
    params: dict[str, np.ndarray] = {}
    if pop.spiking:
        vth = np.rint(theta * lam / 2.0 ** fp.THRESHOLD_SHIFT)
        counts["vth_clipped"] = int(np.count_nonzero((vth < 1) | (vth > fp.THRESHOLD_MANT_MAX)))
        params["vth"] = np.clip(vth, 1, fp.THRESHOLD_MANT_MAX).astype(np.int64)
        info["vth"] = int(params["vth"].max())
    own = get_neuron_model(pop.model).from_float(pop, lam, bias, info["notes"])
    params.update(own.params)
    counts.update(own.counts)
    bias = own.bias
    params["bias_mant"], params["bias_exp"], counts["bias_clipped"] = _bias(bias * lam, lp.bias_exp)
    if lp.bias_exp != AUTO:
        # a fixed exponent rounds biases to multiples of 2^bias_exp: count what moved beyond integer rounding
        change = np.abs(fp.scale_bias(params["bias_mant"], params["bias_exp"]) - bias * lam)
        counts["bias_rounded"] = int(np.count_nonzero(change > 0.5))
        info["bias_round_max"] = float(change.max()) if size else 0.0
        if counts["bias_rounded"]:
            info["notes"].append(f"bias_exp fixed to {lp.bias_exp}: {counts['bias_rounded']} of {size} biases "
                                 f"rounded to multiples of {1 << int(lp.bias_exp)} state units (largest change "
                                 f"{info['bias_round_max']:.0f})")
    return params, counts
