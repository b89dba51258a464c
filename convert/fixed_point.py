"""The one quantization spec: every fixed-point scale as a named constant, and the integer primitives.

All primitives take and return numpy ``int64`` arrays of any shape (a single sample ``[N]`` or a batch
``[B, N]``) and are pure. They reproduce Lava's bit-accurate models (lava-nc 0.10.0,
``lava/proc/lif/models.py: PyLifModelBitAcc``, ``lava/proc/dense/models.py: PyDenseModelBitAcc``) and
DESIGN.md section 4; the neuron models of ``fixed_neurons`` are written only in terms of them.

Number formats (Loihi):

- decays are 12-bit: a decay ``d`` in ``[0, 4096]`` multiplies a state by ``(4096 - d) / 4096``,
  rounded toward zero on the magnitude: ``decay(x, d) = sign(p) * (|p| >> 12)`` with ``p = x (4096 - d)``;
- state (current ``u`` and voltage ``v``) is 24-bit signed: the current WRAPS into ``(-2^23, 2^23]``,
  the voltage SATURATES to ``[-(2^23 - 1), 2^23 - 1]``;
- synaptic input ``a`` and the threshold mantissa are MSB-aligned to the state by ``<< 6``;
- weights: 8-bit signed mantissa with a shared per-dense exponent: ``a = (W s) << e`` (``e >= 0``) or
  the flooring arithmetic shift ``(W s) >> -e`` (``e < 0``);
- bias: 13-bit signed mantissa, 3-bit unsigned exponent, ``bias = mant << exp``;
- threshold: 17-bit unsigned mantissa, the spike condition is strict: ``v > vth << 6``.
"""
from __future__ import annotations

import math
import types
from typing import Any, Callable, Union

import numpy as np

ArrayLike = Union[np.ndarray, int]

# ---- decays (12-bit fractions) ----------------------------------------------------------------
DECAY_BITS = 12
DECAY_SHIFT = DECAY_BITS                     #: p >> 12 after multiplying by a 12-bit fraction
DECAY_UNITY = 1 << DECAY_SHIFT               #: 4096 == a factor of 1.0
FRACTION_SHIFT = DECAY_SHIFT                 #: 12-bit fractions (gates, adaptation coupling) share it
FRACTION_ONE = DECAY_UNITY
CURRENT_DECAY_OFFSET = 1                     #: Lava's ds_offset: effective current decay is du + 1
VOLTAGE_DECAY_OFFSET = 0                     #: Lava's dm_offset: effective voltage decay is dv + 0
DECAY_MAX = (1 << DECAY_BITS) - 1            #: du, dv are unsigned 12-bit registers (0..4095)

# ---- state (24-bit) ---------------------------------------------------------------------------
STATE_BITS = 24
STATE_HALF = 1 << (STATE_BITS - 1)           #: 2^23: the current wraps into (-2^23, 2^23]
STATE_WRAP = 2 * STATE_HALF                  #: 2^24: the wrap subtracts/adds this once (as Lava)
STATE_MAX = STATE_HALF - 1                   #: the voltage saturates at +-(2^23 - 1)
WRAP_JUMP = STATE_HALF                       #: a one-step change larger than 2^23 in a wrapping state is a wrap
STATE_MIN = -STATE_MAX

# ---- alignment of synaptic input and threshold to the state ------------------------------------
ACTIVATION_SHIFT = 6                         #: u += a << 6
THRESHOLD_SHIFT = 6                          #: spike when v > vth << 6

# ---- parameter registers ----------------------------------------------------------------------
WEIGHT_BITS = 8                              #: Loihi synaptic weight mantissa (sign included, mixed mode)
WEIGHT_CONTAINER_MIN = -(1 << WEIGHT_BITS)   #: Lava's clip range for mixed-sign weights: [-256, 255]
WEIGHT_CONTAINER_MAX = (1 << WEIGHT_BITS) - 1
WEIGHT_EXP_MIN = -8                          #: default shared weight exponent range (profile may narrow)
WEIGHT_EXP_MAX = 7
THRESHOLD_MANT_BITS = 17                     #: vth is an unsigned 17-bit mantissa
THRESHOLD_MANT_MAX = (1 << THRESHOLD_MANT_BITS) - 1
BIAS_MANT_BITS = 13                          #: bias mantissa is signed 13-bit: [-4096, 4095]
BIAS_MANT_MAX = (1 << (BIAS_MANT_BITS - 1)) - 1
BIAS_MANT_MIN = -(1 << (BIAS_MANT_BITS - 1))
BIAS_EXP_BITS = 3                            #: bias exponent is unsigned 3-bit: [0, 7]
BIAS_EXP_MAX = (1 << BIAS_EXP_BITS) - 1

# ---- registers of our own models (Loihi-2-microcode style) -----------------------------------
FRACTION_REG_BITS = 13                       #: signed registers holding 12-bit fractions (adLIF's a): +-4095
FRACTION_REG_MAX = (1 << (FRACTION_REG_BITS - 1)) - 1

# ---- SpikGRU gate (our microcode) -------------------------------------------------------------
GATE_FRAC_BITS = 8                           #: gate pre-activation g is in units of 2^-8
GATE_RANGE_BITS = 3                          #: the LUT covers x in [-8, 8): sigmoid is saturated beyond
GATE_IN_MIN = -(1 << (GATE_FRAC_BITS + GATE_RANGE_BITS))     #: -2048
GATE_IN_MAX = (1 << (GATE_FRAC_BITS + GATE_RANGE_BITS)) - 1  #: 2047
GATE_BIAS_MAX = BIAS_MANT_MAX                #: the gate bias is a 13-bit signed register (units 2^-8)

# ---- moving-threshold adaptation (our microcode) ----------------------------------------------
ADAPT_FRAC_BITS = 12                         #: the spike trace A is in units of 2^-12 (a spike adds 4096)
ADAPT_ONE = 1 << ADAPT_FRAC_BITS

# ---- weight grid: Lava-ready integers ---------------------------------------------------------
#: A b-bit signed weight mantissa m in [-(2^(b-1) - 1), 2^(b-1) - 1] is stored as m << (9 - b): for
#: b = 8, even integers in [-254, 254]. These survive Lava's clip to 8 bits and its truncation of
#: the LSB of mixed-sign weights (weightutils.truncate_weights) unchanged, whatever the sign mode.
def weight_step(weight_bits: int = WEIGHT_BITS) -> int:
    """Spacing of the stored weight grid: ``2^(WEIGHT_BITS + 1 - weight_bits)`` (2 for 8 bits)."""
    return 1 << (WEIGHT_BITS + 1 - int(weight_bits))


def weight_mant_max(weight_bits: int = WEIGHT_BITS) -> int:
    """Largest weight mantissa magnitude: ``2^(b-1) - 1`` (127 for 8 bits, symmetric range)."""
    return (1 << (int(weight_bits) - 1)) - 1


# ---- quantizer defaults ----------------------------------------------------------------------
MIN_THRESHOLD_BITS = 12                      #: aim for vth << 6 >= 2^12 (leak rounding << threshold)
HEADROOM_BITS = 6                            #: and vth << 6 <= 2^(23 - 6): 64x threshold before saturation
GRADED_INPUT_FRAC_BITS = 4                   #: graded inputs become round(x * 2^4) payloads

# ---- exact float matmuls ----------------------------------------------------------------------
FLOAT64_EXACT_BITS = 53                      #: integers below 2^53 are exact in float64 sums
FLOAT32_EXACT_BITS = 24                      #: and below 2^24 in float32


def _i64(x: ArrayLike) -> np.ndarray:
    """numpy's int64 view of ``x``. The compiled and torch backends (``convert.kernels``,
    ``convert.emulator_torch``) bind the primitives below to their own values and replace this
    conversion by the identity: every primitive is otherwise written in operators only (no
    ``np.where``/``np.clip``), so the same definition runs on numpy arrays, on torch tensors and on
    the int64 scalars of a compiled per-element kernel."""
    return np.asarray(x, dtype=np.int64)


def already_int64(x: Any) -> Any:
    """The ``_i64`` of a backend whose values are already int64 (numba scalars, torch tensors)."""
    return x


def mul_frac(x: ArrayLike, frac: ArrayLike) -> np.ndarray:
    """``x * frac / 4096`` rounded toward zero: ``sign(p) * (|p| >> 12)`` with ``p = x * frac``.

    This is Loihi's (and Lava's) rounding of every 12-bit fraction multiply; ``frac`` may be negative.
    Computed as ``(p + ((p >> 63) & 4095)) >> 12`` (for ``p < 0`` that adds 4095 before the flooring
    shift, i.e. rounds toward zero): the same integers with cheaper operations.
    """
    p = _i64(x) * _i64(frac)
    neg = p >> _SIGN_SHIFT                       # in place from here on (arrays): two temporaries, not five
    neg &= _FRACTION_MASK
    p += neg
    p >>= FRACTION_SHIFT
    return p


_SIGN_SHIFT = 63                              #: int64 arithmetic shift giving -1 for negatives, 0 otherwise
_FRACTION_MASK = FRACTION_ONE - 1


def decay(x: ArrayLike, d: ArrayLike) -> np.ndarray:
    """12-bit leak: ``x * (4096 - d) / 4096`` rounded toward zero (float: ``x * (1 - d / 4096)``)."""
    return mul_frac(x, DECAY_UNITY - _i64(d))


def wrap_current(x: ArrayLike) -> np.ndarray:
    """24-bit wrap of the current, exactly as Lava: ``x - 2^24`` if ``x > 2^23``; ``x + 2^24`` if ``x <= -2^23``.

    For ``|x| <= 3 * 2^23`` this is the wrap into ``(-2^23, 2^23]`` (note: ``-2^23`` maps to ``+2^23``).
    Lava's two ``np.where`` in sequence, the second testing the first's result but adding to ``x``:
    a comparison times an integer selects (0 or 1), written so for every backend.
    """
    x = _i64(x)
    wrapped = x - STATE_WRAP * (x > STATE_HALF)
    return wrapped + (x + STATE_WRAP - wrapped) * (wrapped <= -STATE_HALF)


def saturate(x: ArrayLike) -> np.ndarray:
    """24-bit saturation of the voltage (and of our models' other state): clip to ``+-(2^23 - 1)``."""
    x = _i64(x)
    return x + (STATE_MAX - x) * (x > STATE_MAX) + (STATE_MIN - x) * (x < STATE_MIN)


def activation(a: ArrayLike) -> np.ndarray:
    """Synaptic input MSB-aligned to the state: ``a << 6``."""
    return _i64(a) << ACTIVATION_SHIFT


def threshold(vth_mant: ArrayLike) -> np.ndarray:
    """Threshold in state units: ``vth << 6``."""
    return _i64(vth_mant) << THRESHOLD_SHIFT


def spikes(v: ArrayLike, vth_state: ArrayLike) -> np.ndarray:
    """Strict threshold compare ``v > vth_state`` (``vth_state`` already in state units), as int64 0/1."""
    return (_i64(v) > _i64(vth_state)) * 1


def weight_shift(acc: ArrayLike, weight_exp: int) -> np.ndarray:
    """Dense output: ``acc << e`` for ``e >= 0``, else the flooring arithmetic shift ``acc >> -e``."""
    acc = _i64(acc)
    e = int(weight_exp)
    return acc << e if e >= 0 else acc >> -e


def scale_bias(mant: ArrayLike, exp: ArrayLike) -> np.ndarray:
    """Bias in state units: ``mant << exp`` (Lava's ``scale_bias``; ``exp`` is 0..7, a negative one floors)."""
    mant, exp = _i64(mant), _i64(exp)
    up = exp * (exp >= 0)
    return (mant << up) >> (up - exp)


def _make_sigmoid_lut() -> np.ndarray:
    """``LUT[g - GATE_IN_MIN] = round(4096 * sigmoid(g / 2^8))`` for g in [-2048, 2047] (4096 entries)."""
    g = np.arange(GATE_IN_MIN, GATE_IN_MAX + 1, dtype=np.float64)
    z = 1.0 / (1.0 + np.exp(-g / (1 << GATE_FRAC_BITS)))
    return np.floor(z * FRACTION_ONE + 0.5).astype(np.int64)


SIGMOID_LUT = _make_sigmoid_lut()
SIGMOID_LUT.setflags(write=False)


def sigmoid_gate(g: ArrayLike) -> np.ndarray:
    """SpikGRU's gate ``z = sigmoid(g / 2^8)`` as a 12-bit fraction in [0, 4096], from ``SIGMOID_LUT``.

    ``g`` is clipped to [-2048, 2047] (sigmoid(+-8) is within 2^-12 of 0 and 1).
    """
    g = _i64(g)
    g = g + (GATE_IN_MAX - g) * (g > GATE_IN_MAX) + (GATE_IN_MIN - g) * (g < GATE_IN_MIN)
    return SIGMOID_LUT[g - GATE_IN_MIN]


#: the primitives above that a neuron step may call: ``convert.kernels`` and the torch backend bind
#: exactly these (with ``_i64`` replaced) to their own namespace
PRIMITIVES = ("mul_frac", "decay", "wrap_current", "saturate", "activation", "threshold", "spikes",
              "scale_bias", "sigmoid_gate")


def rebind(func: Callable, namespace: dict) -> Callable:
    """``func``'s own code object with ``namespace`` as its globals (no copy of the source)."""
    return types.FunctionType(func.__code__, namespace, func.__name__, func.__defaults__, func.__closure__)


def bind_primitives(label: str, overrides: dict, names: tuple[str, ...] = PRIMITIVES) -> types.ModuleType:
    """A module ``fixed_point[label]``: this module's names, with the functions ``names`` (default
    ``PRIMITIVES``) re-bound to its namespace, in which ``overrides`` replace names (``_i64``,
    ``SIGMOID_LUT``). How ``convert.emulator_torch`` runs the same definitions on torch tensors (``_i64``
    ``already_int64``, the LUT a tensor on the device); ``convert.kernels`` re-binds them the same way
    into modules of its own, registered for numba's cache."""
    module = types.ModuleType(f"{__name__}[{label}]")
    namespace = module.__dict__
    namespace.update({k: v for k, v in globals().items() if not k.startswith("__")})
    namespace.update(overrides)
    for name in names:         # resolved at call time, when every name is bound
        namespace[name] = rebind(globals()[name], namespace)
    return module


def exact_float_dtype(max_abs_input: float, max_row_abs_sum: float) -> np.dtype:
    """The float dtype whose matmul ``x @ W.T`` is exact for integers with these bounds, or raise.

    Every partial sum is bounded by ``max|x| * max_row sum|w|``; it is exact in float32 below
    ``2^24`` and in float64 below ``2^53``.
    """
    bound = float(max_abs_input) * float(max_row_abs_sum)
    if bound < 2.0 ** FLOAT32_EXACT_BITS:
        return np.dtype(np.float32)
    if bound < 2.0 ** FLOAT64_EXACT_BITS:
        return np.dtype(np.float64)
    raise OverflowError(f"integer matmul bound {bound:.3g} >= 2^{FLOAT64_EXACT_BITS}: not exact in float64")


def int_matmul(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Exact integer ``x @ w.T`` (``x`` [..., in], ``w`` [out, in]) through float BLAS, as int64.

    The float dtype is chosen by ``exact_float_dtype`` from the actual bounds of ``x`` and ``w``.
    """
    w = np.asarray(w)
    x = np.asarray(x)
    max_x = float(np.abs(x).max()) if x.size else 0.0
    max_row = float(np.abs(w).sum(axis=1).max()) if w.size else 0.0
    dt = exact_float_dtype(max_x, max_row)
    out = x.astype(dt, copy=False) @ w.astype(dt, copy=False).T
    return out.astype(np.int64)      # every sum is an exact integer in dt: the cast needs no rounding


def bits_for(value: float) -> int:
    """Smallest ``k`` with ``|value| < 2^k`` (0 for 0)."""
    value = abs(float(value))
    return 0 if value == 0 else int(math.floor(math.log2(value))) + 1
