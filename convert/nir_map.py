"""The one table of how snn-deploy's neuron models meet NIR 1.0 (export and import), and what other readers do.

Every NIR mapping of the project is declared here, keyed by our model names (``snn_deploy.ir.NEURON_MODELS``),
so that a catalogue of models can hold them; ``export_nir`` and ``import_nir`` read this table and add
only the arithmetic. NIR describes neurons by continuous-time equations, our IR by discrete steps; the
two meet through forward Euler with one time step ``dt`` (seconds), written to ``metadata['dt']``.

Export (``export_of(model)``): the NIR primitive written and its parameters, or why none exists (the catalogue's
``not_in_nir``).
Import (``NIR_IMPORT[nir type]``): what a NIR node becomes, or why it cannot be read exactly.
Readers (``READER_CAVEATS``): where a library's own NIR import reads our files differently, measured
by ``tests/interop/make_fixtures.py`` (numbers in docs/interop.md); convert prints the ones that
apply to the exported network and writes them into the summary.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

import numpy as np

from snn_deploy import catalogue

#: Graph metadata keys written by ``export_nir``.
META_DT = "dt"
META_SOURCE = "source"
SOURCE_TAG = "snn-deploy"
#: Node metadata keys written by ``export_nir`` (and read by ``import_nir``).
META_RESET = "reset"
META_ENCODING = "encoding"
#: Seconds per time step when neither the caller nor the network (``meta['dt']``) gives one.
DEFAULT_DT = 1e-3


@dataclass(frozen=True)
class NirExport:
    """How one of our models is written: ``primitive`` (None: not expressible) and the mapping."""

    primitive: Optional[str]
    mapping: str
    reset: str = ""                 #: how the reset is stated in the file
    not_expressible: str = ""       #: why, when ``primitive`` is None


NIR_EXPORT: dict[str, NirExport] = {
    "cuba_lif": NirExport(
        "CubaLIF",
        "i = α i + I; v = β v + (1 - β) i  ->  tau_syn = dt/(1-α), tau_mem = dt/(1-β), w_in = 1/(1-α), r = 1, "
        "v_leak = 0, v_threshold = ϑ",
        reset="v_reset = 0 and metadata reset = 'zero' (reset zero); metadata reset = 'subtract' (reset subtract)"),
    "lif": NirExport(
        "LIF",
        "u = α (u - ϑ s) + (1 - α) I  ->  tau = dt/(1-α), r = 1, v_leak = 0, v_threshold = ϑ",
        reset="metadata reset = 'subtract' (NIR 1.0 has no subtraction reset; v_reset = 0 for other readers)"),
    "li": NirExport("LI", "u = α u + (1 - α) I  ->  tau = dt/(1-α), r = 1, v_leak = 0"),
}
# Models NIR 1.0 cannot express (adlif, mthr_lif, spikgru) are absent: why is the catalogue entry's not_in_nir.


@dataclass(frozen=True)
class NirImport:
    """What a NIR node type becomes in our IR (``model`` None: a synapse or I/O), or why it cannot."""

    model: Optional[str]
    mapping: str
    refused: str = ""


NIR_IMPORT: dict[str, NirImport] = {
    "Input": NirImport(None, "input node (metadata encoding, default spikes)"),
    "Output": NirImport(None, "names the output population"),
    "Affine": NirImport(None, "dense W x + b"),
    "Linear": NirImport(None, "dense W x"),
    "Scale": NirImport(None, "folded into the adjacent dense (W diag(s) or diag(s) W), else a diagonal dense"),
    "NIRGraph": NirImport(None, "sub-graph inlined (snnTorch writes recurrent layers so)"),
    "CubaLIF": NirImport(
        "cuba_lif", "α = 1 - dt/tau_syn, β = 1 - dt/tau_mem; r (1-α) w_in folded into the incoming rows; "
        "reset zero unless metadata reset = 'subtract'"),
    "LIF": NirImport(
        "cuba_lif", "β = 1 - dt/tau, α = 0 (i = I), reset zero; r folded into the incoming rows "
        "(our lif when metadata reset = 'subtract')"),
    "LI": NirImport("li", "α = 1 - dt/tau; r folded into the incoming rows"),
    "IF": NirImport(
        None, "", refused="a non-leaky integrator (v' = R I) has no exact form in snn-deploy's models, whose input "
        "enters as (1 - β) I (β = 1 would drop it)"),
    "CubaLI": NirImport(None, "", refused="a current-based leaky integrator readout has no snn-deploy model"),
    "I": NirImport(None, "", refused="a pure integrator has no snn-deploy model"),
    "Threshold": NirImport(None, "", refused="a stateless threshold has no snn-deploy model"),
    "Delay": NirImport(None, "", refused="synaptic delays are not in the snn-deploy IR"),
    "Flatten": NirImport(None, "", refused="only 1-D (dense) networks are read; flatten is not needed there"),
    "Conv1d": NirImport(None, "", refused="convolutions are not in the snn-deploy IR"),
    "Conv2d": NirImport(None, "", refused="convolutions are not in the snn-deploy IR"),
    "SumPool2d": NirImport(None, "", refused="pooling is not in the snn-deploy IR"),
    "AvgPool2d": NirImport(None, "", refused="pooling is not in the snn-deploy IR"),
}

#: Where a library's NIR reader interprets our files differently (measured: docs/interop.md).
#: ``when`` selects the exported networks a caveat applies to: "subtract" (a population resets by
#: subtraction), "cuba_lif", "lif", "li", "recurrent", or "always".
READER_CAVEATS: tuple[tuple[str, str], ...] = (
    ("subtract", "populations {names} reset by subtraction: only snn-deploy reads the node metadata 'reset'; "
                 "Norse, snnTorch, Rockpool and Sinabs reset them to v_reset = 0"),
    ("always", "the time step dt = {dt:g} s is only in metadata['dt']: pass it to Norse's from_nir(..., dt={dt:g}) "
               "(its default 0.001 changes every decay); Rockpool infers dt from tau_mem/(1+r) instead (tau_mem/2 here), "
               "emits several spikes a step and resets by subtraction"),
    ("cuba_lif", "snnTorch's import_from_nir reads CubaLIF's r as tau_mem/dt and refuses r = 1 ('r not supported'); "
                 "its reset also acts one step late unless reset_delay=False"),
    ("lif", "snnTorch's import_from_nir fixes dt = 1e-4 s and divides LIF thresholds by r dt/tau: the lif "
            "populations fire only if the network's dt is 1e-4 s"),
    ("li", "the li readout: Norse drops it, snnTorch has no LI import, Rockpool truncates its tau to whole seconds"),
    ("always", "Sinabs 3.1 reads NIR 1.0.4 files only (no v_reset, no CubaLIF): it cannot read this file"),
)


def export_of(model: str) -> NirExport:
    """The export entry of ``model``; for a model NIR cannot express, ``primitive`` None and the catalogue's reason."""
    if model in NIR_EXPORT:
        return NIR_EXPORT[model]
    reason = catalogue.get_model_entry(model).not_in_nir or "this snn-deploy has no NIR mapping for it"
    return NirExport(None, "", not_expressible=reason)


def reader_caveats(models: set[str], subtract: list[str], dt: float) -> list[str]:
    """The caveats of ``READER_CAVEATS`` that apply to a network of ``models`` (``subtract``: the names of
    its populations that reset by subtraction)."""
    applies = {"always": True, "subtract": bool(subtract),
               "cuba_lif": "cuba_lif" in models, "lif": "lif" in models, "li": "li" in models}
    return [text.format(names=", ".join(repr(n) for n in subtract), dt=dt)
            for when, text in READER_CAVEATS if applies[when]]


def positive_seconds(value: Any) -> Optional[float]:
    """``value`` as a time step in seconds when it is a positive number (a scalar or size-1 array), else None."""
    try:
        seconds = float(np.asarray(value))
    except (TypeError, ValueError):
        return None
    return seconds if seconds > 0.0 else None


def unique_name(base: str, taken) -> str:
    """``base``, or ``base_1``, ``base_2``, ... : the first not in ``taken``."""
    name, k = base, 1
    while name in taken:
        name, k = f"{base}_{k}", k + 1
    return name
