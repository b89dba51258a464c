"""NIR (Neuromorphic Intermediate Representation, ``nir`` 1.0) export and import of float networks.

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

Reset: NIR 1.0 resets to ``v_reset``. Populations that reset by subtraction (all ``lif``, and
``cuba_lif`` with ``reset == "subtract"``) are written with node metadata ``{"reset": "subtract"}``,
which our importer honours; other NIR tools ignore it and will reset to zero
(``nir_caveats`` lists such populations for the user's summary).

Not expressible in NIR 1.0 (``export_nir`` raises, naming the population): ``adlif`` (the
recovery current ``w``), ``mthr_lif`` (the moving threshold), ``spikgru`` (the update gate).

Import (``import_nir``) accepts graphs of ``Input``, ``Output``, ``Affine``, ``Linear``,
``CubaLIF``, ``LIF`` and ``LI`` nodes, with nested sub-graphs (snnTorch writes its recurrent layers
as sub-graphs) flattened. General ``r`` and ``w_in`` are folded into the incoming dense rows:
with ``i := r · I_nir`` a NIR ``CubaLIF`` is our ``cuba_lif`` driven by ``r (1 - α) w_in · (W x + b)``;
a NIR ``LIF`` without our subtraction metadata is a ``cuba_lif`` with ``α = 0`` (i = I) and reset to
zero, which is exactly NIR's LIF. Non-zero ``v_leak`` or ``v_reset`` cannot be expressed and raise.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional, Union

import nir
import numpy as np

from snn_deploy import catalogue
from snn_deploy.atomic import atomic_path
from snn_deploy.errors import FormatError, SnnDeployError
from snn_deploy.ir import DenseNode, Edge, GraphError, InputNode, Network, NeuronNode

#: Seconds per time step used when neither the caller nor the network (``meta['dt']``) gives one.
DEFAULT_DT = 1e-3
#: Graph metadata keys written by ``export_nir``.
META_DT = "dt"
META_SOURCE = "source"
SOURCE_TAG = "snn-deploy"
#: Node metadata keys written by ``export_nir``.
META_RESET = "reset"
META_ENCODING = "encoding"
#: Relative tolerance under which an import row scale ``r (1 - α) w_in`` counts as exactly 1
#: (our own exports produce 1 up to float rounding; leaving the weights untouched keeps them exact).
UNIT_SCALE_RTOL = 1e-9

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
        if pop.model not in _NEURON_EXPORTERS:   # why: the catalogue entry's ``not_in_nir``
            why = catalogue.get_model_entry(pop.model).not_in_nir or "this snn-deploy has no NIR mapping for it"
            raise NirExportError(f"population {pop.name!r} (model {pop.model}) cannot be exported to NIR: {why}")
    nodes: dict[str, Any] = {}
    for node in net.nodes:
        if isinstance(node, InputNode):
            nodes[node.name] = nir.Input(input_type=np.array([node.size]), metadata={META_ENCODING: node.encoding})
        elif isinstance(node, DenseNode):
            nodes[node.name] = _dense_to_nir(node)
        else:
            nodes[node.name] = _NEURON_EXPORTERS[node.model](node, dt)
    out = net.output()
    out_name = _unique_name("output", nodes)
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


def nir_caveats(net: Network) -> list[str]:
    """Human notes on what other NIR tools will read differently (for the convert summary)."""
    notes = []
    for pop in net.neuron_nodes():
        if _resets_by_subtraction(pop):
            notes.append(
                f"population {pop.name!r} resets by subtraction; NIR 1.0 resets to v_reset, so tools other than "
                "snn-deploy (which reads the node's metadata 'reset') will reset it to zero")
    return notes


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
    return {META_RESET: "subtract"} if _resets_by_subtraction(pop) else {}


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


def _unique_name(base: str, taken: dict[str, Any]) -> str:
    name, k = base, 1
    while name in taken:
        name, k = f"{base}_{k}", k + 1
    return name


def _resolve_dt(*candidates: Any) -> float:
    for value in candidates:
        if value is not None:
            dt = float(np.asarray(value))
            if not dt > 0.0:
                raise NirExportError(f"time step dt must be positive seconds, got {dt}")
            return dt
    return DEFAULT_DT


# ---- import ------------------------------------------------------------------------------------

@dataclass
class _Population:
    """A NIR neuron node translated to our model, before its incoming denses are known."""

    node: NeuronNode
    row_scale: np.ndarray  # multiplies the rows (and bias) of every dense driving it


def import_nir(source: Union[str, Path, nir.NIRGraph], dt: Optional[float] = None) -> Network:
    """Read a NIR graph (file path or ``nir.NIRGraph``) of CUBA-LIF / LIF / LI populations as a float network.

    ``dt`` overrides the graph's ``metadata['dt']``; one of the two is required (the decays depend on it).
    Every problem raises ``FormatError`` naming the file (or graph) and the node.
    """
    label = str(source) if isinstance(source, (str, Path)) else "<NIR graph>"
    if isinstance(source, (str, Path)):
        if not Path(source).exists():
            raise FormatError(f"{label}: no such NIR file")
        try:
            graph = nir.read(source)
        except Exception as exc:  # nir's reader raises bare ValueError/KeyError/AssertionError/OSError
            raise FormatError(f"{label}: not a readable NIR graph ({type(exc).__name__}: {exc})") from None
    else:
        graph = source
    meta_dt = (graph.metadata or {}).get(META_DT) if isinstance(graph.metadata, dict) else None
    if dt is None and meta_dt is None:
        raise FormatError(
            f"{label}: the graph carries no time step (metadata 'dt'); pass dt (seconds per step) to import it")
    try:
        dt = _resolve_dt(dt, meta_dt)
    except NirExportError as exc:
        raise FormatError(f"{label}: {exc}") from None
    nodes, edges = _flatten(graph.nodes, graph.edges, label)
    return _build_network(nodes, edges, dt, label)


def _flatten(nodes: dict[str, Any], edges: list[tuple[str, str]], label: str,
             prefix: str = "") -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """Inline nested ``NIRGraph`` nodes; their inner ``Input``/``Output`` nodes become pass-through."""
    flat: dict[str, Any] = {}
    flat_edges: list[tuple[str, str]] = []
    entry: dict[str, list[str]] = {}  # sub-graph name -> its inner Input node names (qualified)
    exit_: dict[str, list[str]] = {}  # sub-graph name -> its inner Output node names (qualified)
    for name, node in nodes.items():
        qual = f"{prefix}{name}"
        if isinstance(node, nir.NIRGraph):
            inner_nodes, inner_edges = _flatten(node.nodes, node.edges, label, prefix=f"{qual}.")
            flat.update(inner_nodes)
            flat_edges += inner_edges
            entry[qual] = [k for k, v in inner_nodes.items() if isinstance(v, nir.Input) and k.count(".") == qual.count(".") + 1]
            exit_[qual] = [k for k, v in inner_nodes.items() if isinstance(v, nir.Output) and k.count(".") == qual.count(".") + 1]
        else:
            flat[qual] = node
    for src, dst in edges:
        src_q, dst_q = f"{prefix}{src}", f"{prefix}{dst}"
        sources = exit_.get(src_q, [src_q])
        targets = entry.get(dst_q, [dst_q])
        flat_edges += [(s, t) for s in sources for t in targets]
    if prefix:  # inside a sub-graph: keep its Input/Output nodes for the parent to wire through
        return flat, flat_edges
    return _bypass_inner_io(flat, flat_edges, label)


def _bypass_inner_io(nodes: dict[str, Any], edges: list[tuple[str, str]],
                     label: str) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """Remove the Input/Output nodes of inlined sub-graphs (names with a '.'), joining their edges."""
    for name in [k for k, v in nodes.items() if "." in k and isinstance(v, (nir.Input, nir.Output))]:
        preds = [s for s, t in edges if t == name]
        succs = [t for s, t in edges if s == name]
        edges = [(s, t) for s, t in edges if name not in (s, t)] + [(p, q) for p in preds for q in succs]
        del nodes[name]
    for s, t in edges:
        for end in (s, t):
            if end not in nodes:
                raise FormatError(f"{label}: edge {s}->{t} names unknown node {end!r}")
    return nodes, edges


def _build_network(nodes: dict[str, Any], edges: list[tuple[str, str]], dt: float, label: str) -> Network:
    ir_nodes: list[Any] = []
    pops: dict[str, _Population] = {}
    denses: dict[str, DenseNode] = {}
    output: Optional[str] = None
    for name, node in nodes.items():
        where = f"{label}: node {name!r} ({type(node).__name__})"
        if isinstance(node, nir.Input):
            shape = np.asarray(node.input_type["input"]).ravel()
            encoding = str(node.metadata.get(META_ENCODING, "spikes")) if node.metadata else "spikes"
            ir_nodes.append(InputNode(name=name, size=int(np.prod(shape)), encoding=encoding))
        elif isinstance(node, nir.Output):
            preds = [s for s, t in edges if t == name]
            if len(preds) != 1:
                raise FormatError(f"{where}: an output must have exactly one source, has {preds}")
            output = preds[0]
        elif isinstance(node, (nir.Affine, nir.Linear)):
            weight = np.asarray(node.weight, dtype=np.float64)
            if weight.ndim != 2:
                raise FormatError(f"{where}: weight must be 2-D [out, in], got shape {weight.shape}")
            bias = np.asarray(node.bias, dtype=np.float64).copy() if isinstance(node, nir.Affine) else None
            denses[name] = DenseNode(name=name, weight=weight.copy(), bias=bias)
            ir_nodes.append(denses[name])
        elif type(node).__name__ in _NEURON_IMPORTERS:
            pops[name] = _NEURON_IMPORTERS[type(node).__name__](name, node, dt, where)
            ir_nodes.append(pops[name].node)
        else:
            raise FormatError(
                f"{where}: not supported by snn-deploy's NIR import (reads Input, Output, Affine, Linear, "
                "CubaLIF, LIF, LI)")
    ir_edges = _wire(edges, nodes, denses, pops, ir_nodes, label)
    for name, pop in pops.items():
        for e in ir_edges:
            if e.target == name and not np.allclose(pop.row_scale, 1.0, rtol=UNIT_SCALE_RTOL, atol=0.0):
                dense = denses[e.source]
                dense.weight = dense.weight * pop.row_scale[:, None]
                if dense.bias is not None:
                    dense.bias = dense.bias * pop.row_scale
    meta: dict[str, Any] = {"source": "nir", META_DT: dt}
    if output is not None:
        meta["output"] = output
    net = Network(nodes=ir_nodes, edges=ir_edges, meta=meta)
    try:
        return _in_layer_order(net.validate())
    except GraphError as exc:
        raise FormatError(f"{label}: graph not expressible in the snn-deploy IR: {exc}") from None


def _in_layer_order(net: Network) -> Network:
    """Reorder nodes as inputs, then each population preceded by the denses that drive it
    (``nir.read`` returns nodes in alphabetical order)."""
    ordered: list[Any] = list(net.inputs())
    for pop in net.layer_order():
        ordered += sorted(net.incoming(pop.name), key=lambda d: net.is_recurrent(d.name)) + [pop]
    net.nodes = ordered
    return net


def _wire(edges: list[tuple[str, str]], nodes: dict[str, Any], denses: dict[str, DenseNode],
          pops: dict[str, _Population], ir_nodes: list[Any], label: str) -> list[Edge]:
    """Our edges: each touches one dense; a direct population/input -> population edge gets an identity dense."""
    out: list[Edge] = []
    for src, dst in edges:
        if isinstance(nodes[dst], nir.Output):
            continue
        if src in denses and dst in denses:
            raise FormatError(f"{label}: edge {src}->{dst} joins two linear nodes; fold them into one first")
        if src in denses or dst in denses:
            if src in denses and sum(s == src and not isinstance(nodes[t], nir.Output) for s, t in edges) > 1:
                raise FormatError(f"{label}: linear node {src!r} drives more than one population")
            out.append(Edge(src, dst))
            continue
        if dst not in pops:
            raise FormatError(f"{label}: edge {src}->{dst} ends in {type(nodes[dst]).__name__}, not a neuron population")
        size = pops[dst].node.size
        name = _unique_name(f"{src}_to_{dst}", nodes)
        ident = DenseNode(name=name, weight=np.eye(size))
        denses[name] = ident
        ir_nodes.append(ident)
        out += [Edge(src, name), Edge(name, dst)]
    return out


def _nir_array(node: Any, key: str, size: Optional[int] = None) -> np.ndarray:
    value = np.asarray(getattr(node, key), dtype=np.float64).ravel()
    return value if size is None else np.broadcast_to(value, (size,)).copy()


def _decay_from_tau(tau: np.ndarray, dt: float, where: str, key: str) -> np.ndarray:
    if np.any(~(tau >= dt)):
        raise FormatError(f"{where}: {key} must be >= dt = {dt:g} s for a decay in [0, 1], got min {tau.min():g}")
    return 1.0 - dt / tau  # tau = inf gives exactly 1.0


def _require_zero(node: Any, key: str, where: str) -> None:
    value = getattr(node, key, None)
    if value is not None and np.any(np.asarray(value) != 0):
        raise FormatError(f"{where}: {key} must be 0 (the snn-deploy neuron models have no such term)")


def _cuba_lif_from_nir(name: str, node: Any, dt: float, where: str) -> _Population:
    thr = _nir_array(node, "v_threshold")
    size = thr.size
    _require_zero(node, "v_leak", where)
    reset = str(node.metadata.get(META_RESET, "zero")) if node.metadata else "zero"
    if reset == "zero":
        _require_zero(node, "v_reset", where)
    alpha = _decay_from_tau(_nir_array(node, "tau_syn", size), dt, where, "tau_syn")
    beta = _decay_from_tau(_nir_array(node, "tau_mem", size), dt, where, "tau_mem")
    scale = _nir_array(node, "r", size) * (1.0 - alpha) * _nir_array(node, "w_in", size)
    pop = NeuronNode(name=name, model="cuba_lif", size=size, reset=reset,
                     params={"alpha": alpha, "beta": beta, "threshold": thr})
    return _Population(pop, scale)


def _lif_from_nir(name: str, node: Any, dt: float, where: str) -> _Population:
    thr = _nir_array(node, "v_threshold")
    size = thr.size
    _require_zero(node, "v_leak", where)
    decay = _decay_from_tau(_nir_array(node, "tau", size), dt, where, "tau")
    scale = _nir_array(node, "r", size)
    if node.metadata and node.metadata.get(META_RESET) == "subtract":
        pop = NeuronNode(name=name, model="lif", size=size, params={"alpha": decay, "threshold": thr})
    else:  # NIR's own LIF: reset to v_reset (= 0) is our cuba_lif with an instantaneous current
        _require_zero(node, "v_reset", where)
        pop = NeuronNode(name=name, model="cuba_lif", size=size, reset="zero",
                         params={"alpha": np.zeros(size), "beta": decay, "threshold": thr})
    return _Population(pop, scale)


def _li_from_nir(name: str, node: Any, dt: float, where: str) -> _Population:
    r = _nir_array(node, "r")
    _require_zero(node, "v_leak", where)
    alpha = _decay_from_tau(_nir_array(node, "tau", r.size), dt, where, "tau")
    return _Population(NeuronNode(name=name, model="li", size=r.size, params={"alpha": alpha}), r)


_NEURON_IMPORTERS: dict[str, Callable[[str, Any, float, str], _Population]] = {
    "CubaLIF": _cuba_lif_from_nir,
    "LIF": _lif_from_nir,
    "LI": _li_from_nir,
}
