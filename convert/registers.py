"""Check every register of a fixed network against its hardware profile's number formats.

A fixed network (``network.h5``) is data anyone can edit; its integers go straight into Lava's
registers and into the emulator's integer steps, where an out-of-format value is not an error but a
silent wrong result (numpy's ``x << 200`` is ``x << 8`` on x86, and Lava's ``PyDenseModelBitAcc``
computes the same; a negative threshold fires every step; a decay of 100000 turns the leak into
a sign flip). ``check_registers`` refuses such a network with one line naming the node, the field,
the value and the allowed range, before anything runs. It is called by ``emulate``, by deploy's
``plan.check_deployable`` (``run`` on both backends), by ``energy`` and by the netx export.

The allowed range of each field is what ``convert.quantize`` guarantees for the profile named in
``net.meta['profile']`` (default: convert's default profile); a profile's formats are those of the
arithmetic this snn-deploy implements (``convert.fixed_point``; ``convert.profiles`` refuses others).
With ``b`` the profile's bits of each format (Loihi 2: weight 8, decay 12, state 24, threshold
mantissa 17, bias mantissa 13, bias exponent 3):

- dense ``weight``: Lava clips a dense to 8 bits and drops the low bits of its sign mode
  (``lava.utils.weightutils``: ``clip_weights``, ``truncate_weights`` with ``num_weight_bits = b``,
  the sign mode found by ``determine_sign_mode``): a dense with weights of both signs (mixed) holds
  multiples of ``2^(9-b)`` in ``[-256, 256 - 2^(9-b)]`` (even values in ``[-256, 254]`` for 8 bits:
  Loihi stores mixed-sign weights with their lowest bit dropped); an all-excitatory (all-inhibitory)
  dense multiples of ``2^(8-b)`` in ``[0, 255]`` (``[-255, 0]``). A weight off that grid would be
  truncated by Lava on the chip's format but not by the emulator, so it is refused, not rounded:
  the file does not say what its author meant. Masked-out weights are not registers and not checked;
- dense ``weight_exp``: ``[weight_exp_min, weight_exp_max]`` (``[-8, 7]``);
- ``du`` (current decay, stored as ``d - 1``) and Lava LIF's ``dv``: ``[0, 2^decay_bits - 1]``;
  the decays of our own models (``dv``, ``dw``, ``da`` of lif, adlif, mthr_lif, li: ``fixed_neurons``'
  ``own_dv``): ``[0, 2^decay_bits]``;
- ``vth``: ``[1, 2^threshold_mant_bits - 1]`` (positive: the quantizer never writes 0 or less);
- ``bias_mant``: signed ``bias_mant_bits``; ``bias_exp``: unsigned ``bias_exp_bits`` (``[0, 7]``);
- adLIF's ``a_frac``: signed 13-bit fraction register ``[-4095, 4095]``; ``b_adapt`` and mthr_lif's
  ``k``: the state range ``+-(2^(state_bits-1) - 1)``; SpikGRU's ``gate_bias``: ``+-4095``.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any, Optional

import numpy as np

from snn_deploy.convert import fixed_point as fp
from snn_deploy.convert.fixed_neurons import get_neuron_model
from snn_deploy.convert.pipeline import DEFAULT_PROFILE
from snn_deploy.convert.profiles import (HardwareProfile, NumberFormats, implemented_formats, list_profiles,
                                         load_profile)
from snn_deploy.errors import FormatError
from snn_deploy.ir import DenseNode, Network, NeuronNode

LAVA_WEIGHT_CONTAINER_BITS = 8   #: Lava clips every bit-accurate dense to 8 bits before truncating


class RegisterError(FormatError):
    """A register of a fixed network is outside its hardware profile's number format."""


@dataclass(frozen=True)
class Range:
    """Allowed integers ``lo..hi`` (multiples of ``step``) of one register, and what the format is."""

    lo: int
    hi: int
    what: str
    step: int = 1

    def describe(self) -> str:
        grid = f" in steps of {self.step}" if self.step > 1 else ""
        return f"[{self.lo}, {self.hi}]{grid} ({self.what})"


def network_profile(net: Network, prefix: str = "") -> tuple[str, NumberFormats]:
    """``(name, formats)`` of the profile the network names (``meta['profile']``, else convert's default).

    Only bundled profiles are loaded (never a path written in a file); a network converted for a
    profile given by path is checked against the formats this snn-deploy implements (Loihi 2's).
    """
    name = str(net.meta.get("profile") or DEFAULT_PROFILE)
    if name not in list_profiles():
        return name, implemented_formats()
    profile = _bundled_profile(name)
    if profile.formats is None:
        raise RegisterError(f"{prefix}meta 'profile' is {name!r}, a profile without fixed-point number formats "
                            f"({profile.kind}): a fixed network cannot be made for it")
    return name, profile.formats


@functools.lru_cache(maxsize=None)
def _bundled_profile(name: str) -> HardwareProfile:
    """A bundled profile, read once (``emulate`` checks every chunk of samples it runs)."""
    return load_profile(name)


def neuron_ranges(model: str, fmt: NumberFormats) -> dict[str, Range]:
    """The allowed range of every integer parameter of a population of ``model`` (see the module docstring)."""
    decay_reg = (1 << fmt.decay_bits) - 1
    decay_own = 1 << fmt.decay_bits
    state = (1 << (fmt.state_bits - 1)) - 1
    bias_half = 1 << (fmt.bias_mant_bits - 1)
    ranges = {
        "du": Range(0, decay_reg, f"{fmt.decay_bits}-bit unsigned current decay"),
        "dv": (Range(0, decay_own, f"{fmt.decay_bits}-bit decay, 4096 = no memory") if get_neuron_model(model).own_dv
               else Range(0, decay_reg, f"{fmt.decay_bits}-bit unsigned voltage decay")),
        "dw": Range(0, decay_own, f"{fmt.decay_bits}-bit decay, 4096 = no memory"),
        "da": Range(0, decay_own, f"{fmt.decay_bits}-bit decay, 4096 = no memory"),
        "vth": Range(1, (1 << fmt.threshold_mant_bits) - 1,
                     f"{fmt.threshold_mant_bits}-bit unsigned threshold mantissa, positive"),
        "bias_mant": Range(-bias_half, bias_half - 1, f"{fmt.bias_mant_bits}-bit signed bias mantissa"),
        "bias_exp": Range(0, (1 << fmt.bias_exp_bits) - 1, f"{fmt.bias_exp_bits}-bit unsigned bias exponent"),
        "a_frac": Range(-fp.FRACTION_REG_MAX, fp.FRACTION_REG_MAX,
                        f"{fp.FRACTION_REG_BITS}-bit signed 12-bit fraction"),
        "b_adapt": Range(-state, state, f"{fmt.state_bits}-bit signed state"),
        "k": Range(-state, state, f"{fmt.state_bits}-bit signed state"),
        "gate_bias": Range(-fp.GATE_BIAS_MAX, fp.GATE_BIAS_MAX, f"{fp.BIAS_MANT_BITS}-bit signed gate bias"),
    }
    return ranges


def weight_range(weights: np.ndarray, fmt: NumberFormats) -> Range:
    """Lava's grid for one dense's weights: its sign mode (from the weights, as ``determine_sign_mode``)
    decides the clip range and how many low bits ``truncate_weights`` drops at ``num_weight_bits = b``."""
    b = fmt.weight_bits
    top = 1 << LAVA_WEIGHT_CONTAINER_BITS
    if weights.size and weights.min() < 0 < weights.max():
        step = 1 << (LAVA_WEIGHT_CONTAINER_BITS + 1 - b)
        return Range(-top, top - step, f"{b}-bit mixed-sign weights, Lava drops the lowest "
                     f"{LAVA_WEIGHT_CONTAINER_BITS + 1 - b} bit(s)", step)
    step = 1 << (LAVA_WEIGHT_CONTAINER_BITS - b)
    if weights.size and weights.min() < 0:
        return Range(-(top - 1), 0, f"{b}-bit inhibitory weights", step)
    return Range(0, top - 1, f"{b}-bit excitatory weights", step)


def check_registers(net: Network, source: Optional[object] = None) -> None:
    """Raise ``RegisterError`` at the first register of the fixed ``net`` outside its profile's formats.

    ``source`` (the file's path) starts the message when given. A float network has no registers.
    """
    if not net.is_fixed:
        return
    prefix = f"{source}: " if source is not None else ""
    name, fmt = network_profile(net, prefix)
    for node in net.nodes:
        if isinstance(node, DenseNode):
            _check_dense(node, fmt, name, prefix)
        elif isinstance(node, NeuronNode):
            ranges = neuron_ranges(node.model, fmt)
            for key in sorted(node.params):
                if key in ranges:
                    _check_values(node, key, np.asarray(node.params[key]), ranges[key], name, prefix)


def _check_dense(node: DenseNode, fmt: NumberFormats, profile: str, prefix: str) -> None:
    exp = np.asarray(node.weight_exp)
    _check_values(node, "weight_exp", exp, Range(fmt.weight_exp_min, fmt.weight_exp_max,
                                                 "shared weight exponent"), profile, prefix)
    weights = _integers(node, "weight", np.asarray(node.weight), prefix)
    if node.mask is not None:
        mask = np.asarray(node.mask)
        if mask.shape == weights.shape:
            weights = np.where(mask != 0, weights, 0)
    _check_values(node, "weight", weights, weight_range(weights, fmt), profile, prefix)


def _integers(node, key: str, values: np.ndarray, prefix: str) -> np.ndarray:
    numeric = np.issubdtype(values.dtype, np.integer) or np.issubdtype(values.dtype, np.floating)
    if values.dtype == bool or not numeric:
        raise RegisterError(f"{prefix}{_where(node)} field {key!r} dtype {values.dtype} is not an integer register")
    if np.issubdtype(values.dtype, np.floating):
        bad = ~np.isfinite(values) | (values != np.round(values))
        if np.any(bad):
            where = np.unravel_index(int(np.argmax(bad)), values.shape)
            raise RegisterError(f"{prefix}{_where(node)} field {key!r} value {_plain(values[where])!r}{_index(where)} "
                                "is not an integer")
        if values.size and np.abs(values).max() >= 2.0 ** 62:
            raise RegisterError(f"{prefix}{_where(node)} field {key!r} value {np.abs(values).max():.3g} "
                                "does not fit any register")
    return values.astype(np.int64, copy=False)


def _check_values(node, key: str, values: np.ndarray, allowed: Range, profile: str, prefix: str) -> None:
    values = _integers(node, key, values, prefix)
    if not values.size:
        return
    off_grid = allowed.step > 1 and (np.any(values & (allowed.step - 1)) if allowed.step & (allowed.step - 1) == 0
                                     else np.any(values % allowed.step))
    if values.min() < allowed.lo or values.max() > allowed.hi or off_grid:   # reductions first: no temporaries
        bad = (values < allowed.lo) | (values > allowed.hi)
        if allowed.step > 1:
            bad |= values % allowed.step != 0
        where = np.unravel_index(int(np.argmax(bad)), values.shape)
        raise RegisterError(
            f"{prefix}{_where(node)} field {key!r} value {int(values[where])}{_index(where)} is outside the "
            f"allowed range {allowed.describe()} of profile {profile}")


def _where(node) -> str:
    """``dense 'fc1'`` or ``neurons 'h1'``: the node, as deploy's other messages name it."""
    return f"{node.type} {node.name!r}:"


def _index(where: tuple) -> str:
    return f" at index {list(map(int, where))}" if where else ""


def _plain(value: Any) -> Any:
    """A numpy scalar as the Python number it holds (numpy 2 prints ``np.float64(0.5)`` otherwise)."""
    return value.item() if isinstance(value, np.generic) else value
