"""NIR (Neuromorphic Intermediate Representation, ``nir`` 1.0) export of float networks.

The mapping of each model is declared in convert/nir_map.py (one table, export and import); the
import lives in convert/import_nir.py (``import_nir`` is re-exported here for existing callers).

NIR describes neurons by continuous-time equations; our IR by discrete steps. The two meet through
forward Euler with one time step ``dt`` (seconds), the convention snnTorch and Norse use too:

- ``cuba_lif`` (``i = α i + I``; ``v = β v + (1 - β) i``, reset to 0)  <->  ``nir.CubaLIF`` with
  ``tau_syn = dt / (1 - α)``, ``tau_mem = dt / (1 - β)``, ``w_in = 1 / (1 - α)``, ``r = 1``,
  ``v_leak = 0``, ``v_reset = 0``, ``v_threshold = ϑ``.
  (Euler on ``τ_syn dI/dt = -I + w_in S`` gives ``I = α I + (1 - α) w_in S = α I + S``.)
- ``lif`` (``u = α (u - ϑ s) + (1 - α) I``)  <->  ``nir.LIF`` with ``tau = dt / (1 - α)``, ``r = 1``,
  ``v_leak = 0``, ``v_reset = 0``, ``v_threshold = ϑ``.
- ``li`` readout (``u = α u + (1 - α) I``)  <->  ``nir.LI`` with ``tau = dt / (1 - α)``, ``r = 1``,
  ``v_leak = 0``.
- dense ``W x + b``  <->  ``nir.Affine(W, b)`` (``nir.Linear(W)`` without bias); a sparsity mask is
  multiplied into ``W`` (NIR has no masks, so the imported network has zeros and no mask).
- recurrence: an edge ``population -> dense -> population``, read (as NIR's simulators do) with
  one step of delay, ``s[t-1]``; our input and output become ``nir.Input`` / ``nir.Output`` nodes.

``dt`` is written into the graph's metadata (``metadata['dt']``) and read back on import, so
``import_nir(write_nir(net))`` recovers ``α = 1 - dt / τ`` up to float rounding.

Reset: NIR 1.0 resets to ``v_reset``. Every spiking population states its reset in node metadata
(``{"reset": "zero"}`` with ``v_reset = 0``, or ``{"reset": "subtract"}`` for all ``lif`` and
``cuba_lif`` with ``reset == "subtract"``), which our importer honours; other NIR tools ignore it
and reset to zero (``nir_caveats`` lists this and every other reader difference measured in
docs/interop.md, for convert's summary).

Not expressible in NIR 1.0 (``export_nir`` raises, naming the population): ``adlif`` (the
recovery current ``w``), ``mthr_lif`` (the moving threshold), ``spikgru`` (the update gate).

Import (convert/import_nir.py) accepts graphs of ``Input``, ``Output``, ``Affine``, ``Linear``,
``CubaLIF``, ``LIF`` and ``LI`` nodes, with nested sub-graphs (snnTorch writes its recurrent layers
as sub-graphs) flattened. General ``r`` and ``w_in`` are folded into the incoming dense rows:
with ``i := r · I_nir`` a NIR ``CubaLIF`` is our ``cuba_lif`` driven by ``r (1 - α) w_in · (W x + b)``;
a NIR ``LIF`` without our subtraction metadata is a ``cuba_lif`` with ``α = 0`` (i = I) and reset to
zero, which is exactly NIR's LIF. Non-zero ``v_leak`` or ``v_reset`` cannot be expressed and raise.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Optional, Union

import nir
import numpy as np

from snn_deploy.atomic import atomic_path
from snn_deploy.errors import SnnDeployError
from snn_deploy.ir import DenseNode, InputNode, Network, NeuronNode

from snn_deploy.convert.nir_map import (  # noqa: E402  (re-exported: the names callers know)
    DEFAULT_DT, META_DT, META_ENCODING, META_RESET, META_SOURCE, SOURCE_TAG, export_of, positive_seconds, reader_caveats, unique_name)

class NirExportError(SnnDeployError):
    """The network (or one population of it) cannot be written as a NIR 1.0 graph."""


# ---- export ------------------------------------------------------------------------------------

def export_nir(net: Network, dt: Optional[float] = None) -> nir.NIRGraph:
    """The NIR graph of a float network (same node names; plus one ``nir.Output`` node).

    ``dt`` (seconds per step) defaults to ``net.meta['dt']``, else ``DEFAULT_DT``.
    Raises ``NirExportError`` for a fixed network or a population NIR cannot express.
    """
    if net.is_fixed:
        raise NirExportError(
            "NIR export reads the float network IR (before quantization); this network is fixed point "
            f"(profile {net.precision.profile!r})")
    net.validate()
    dt = _resolve_dt(dt, net.meta.get(META_DT))
    for pop in net.neuron_nodes():
        entry = export_of(pop.model)
        if entry.primitive is None:
            raise NirExportError(f"population {pop.name!r} (model {pop.model}) cannot be exported to NIR: "
                                 f"{entry.not_expressible}")
    nodes: dict[str, Any] = {}
    for node in net.nodes:
        if isinstance(node, InputNode):
            nodes[node.name] = nir.Input(input_type=np.array([node.size]), metadata={META_ENCODING: node.encoding})
        elif isinstance(node, DenseNode):
            nodes[node.name] = _dense_to_nir(node)
        else:
            nodes[node.name] = _NEURON_EXPORTERS[node.model](node, dt)
    out = net.output()
    out_name = unique_name("output", nodes)
    nodes[out_name] = nir.Output(output_type=np.array([out.size]))
    edges = [(e.source, e.target) for e in net.edges] + [(out.name, out_name)]
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata={META_DT: float(dt), META_SOURCE: SOURCE_TAG})


def write_nir(net: Network, path: Union[str, Path], dt: Optional[float] = None) -> Path:
    """Export ``net`` and write it with ``nir.write``, atomically. Returns the path."""
    graph = export_nir(net, dt)
    path = Path(path)
    with atomic_path(path) as tmp:
        nir.write(tmp, graph)
    return path


def nir_caveats(net: Network, dt: Optional[float] = None) -> list[str]:
    """Where other NIR readers read ``net``'s export differently (convert prints these and writes them
    into the summary); the table is ``nir_map.READER_CAVEATS``."""
    dt = _resolve_dt(dt, net.meta.get(META_DT))
    pops = net.neuron_nodes()
    subtract = [p.name for p in pops if _resets_by_subtraction(p)]
    return reader_caveats({p.model for p in pops}, subtract, dt)


def _resets_by_subtraction(pop: NeuronNode) -> bool:
    return pop.model == "lif" or (pop.model == "cuba_lif" and pop.reset == "subtract")


def _dense_to_nir(node: DenseNode) -> Any:
    weight = np.asarray(node.weight, dtype=np.float64)
    if node.mask is not None:
        weight = weight * np.asarray(node.mask, dtype=bool)
    if node.bias is None:
        return nir.Linear(weight=weight)
    return nir.Affine(weight=weight, bias=np.asarray(node.bias, dtype=np.float64))


def _per_neuron(pop: NeuronNode, key: str) -> np.ndarray:
    if key not in pop.params:
        raise NirExportError(f"population {pop.name!r} (model {pop.model}) has no parameter {key!r}")
    value = np.asarray(pop.params[key], dtype=np.float64)
    return np.broadcast_to(value, (pop.size,)).copy()


def _tau(pop: NeuronNode, key: str, dt: float, *, allow_one: bool) -> np.ndarray:
    """``dt / (1 - decay)`` with the decay checked to lie in [0, 1] (``inf`` for 1 where allowed)."""
    decay = _per_neuron(pop, key)
    upper_ok = decay <= 1.0 if allow_one else decay < 1.0
    if not np.all((decay >= 0.0) & upper_ok):
        bound = "[0, 1]" if allow_one else "[0, 1)"
        raise NirExportError(
            f"population {pop.name!r}: {key} must lie in {bound} for a NIR time constant, got range "
            f"[{decay.min():.6g}, {decay.max():.6g}]")
    with np.errstate(divide="ignore"):
        return np.where(decay < 1.0, dt / (1.0 - decay), np.inf)


def _reset_metadata(pop: NeuronNode) -> dict[str, str]:
    return {META_RESET: "subtract" if _resets_by_subtraction(pop) else "zero"}


def _cuba_lif_to_nir(pop: NeuronNode, dt: float) -> Any:
    alpha = _per_neuron(pop, "alpha")
    zeros = np.zeros(pop.size)
    return nir.CubaLIF(
        # alpha == 1 would need w_in = inf: refused (a current that never decays has no finite NIR form)
        tau_syn=_tau(pop, "alpha", dt, allow_one=False),
        tau_mem=_tau(pop, "beta", dt, allow_one=True),
        r=np.ones(pop.size),
        v_leak=zeros,
        v_threshold=_per_neuron(pop, "threshold"),
        v_reset=zeros.copy(),
        w_in=1.0 / (1.0 - alpha),
        metadata=_reset_metadata(pop),
    )


def _lif_to_nir(pop: NeuronNode, dt: float) -> Any:
    zeros = np.zeros(pop.size)
    return nir.LIF(
        tau=_tau(pop, "alpha", dt, allow_one=True),
        r=np.ones(pop.size),
        v_leak=zeros,
        v_threshold=_per_neuron(pop, "threshold"),
        v_reset=zeros.copy(),
        metadata=_reset_metadata(pop),
    )


def _li_to_nir(pop: NeuronNode, dt: float) -> Any:
    return nir.LI(tau=_tau(pop, "alpha", dt, allow_one=True), r=np.ones(pop.size), v_leak=np.zeros(pop.size))


_NEURON_EXPORTERS: dict[str, Callable[[NeuronNode, float], Any]] = {
    "cuba_lif": _cuba_lif_to_nir,
    "lif": _lif_to_nir,
    "li": _li_to_nir,
}


def _resolve_dt(*candidates: Any) -> float:
    for value in candidates:
        if value is not None:
            dt = positive_seconds(value)
            if dt is None:
                raise NirExportError(f"time step dt must be positive seconds, got {value!r}")
            return dt
    return DEFAULT_DT


from snn_deploy.convert.import_nir import import_nir  # noqa: E402,F401  (callers import it from here)
