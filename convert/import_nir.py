"""NIR 1.0 import: a NIR file (or ``nir.NIRGraph``) -> float network IR, for ``snn-deploy convert model.nir``.

The mapping of each NIR node type is the table ``nir_map.NIR_IMPORT``; this module adds the
arithmetic (see convert/export_nir.py for the forward-Euler convention both directions share).

A file is a stranger's: ``read_nir_file`` identifies it by its bytes (snn_deploy/filekind.py: HDF5),
then walks its HDF5 structure before NIR's reader builds anything: only hard links inside the file,
every dataset stored in the file (snn_deploy/h5schema.py ``check_stored``), every node type one NIR
1.0 knows, bounded depth and node count, and the bytes the arrays need checked against the memory
available (snn_deploy/memory.py). No code in the file runs: HDF5 holds data only.

Graphs of ``Input``, ``Output``, ``Affine``, ``Linear``, ``Scale``, ``CubaLIF``, ``LIF`` and ``LI``
nodes are read, with nested sub-graphs (snnTorch writes its recurrent layers as sub-graphs)
inlined. A ``Scale`` (``y = s ⊙ x``) is a diagonal linear node; chains of linear nodes with nothing
between them (``Scale -> Linear``, ``Affine -> Scale``) are multiplied into one dense, which is the
same map. General ``r`` and ``w_in`` are folded into the incoming dense rows: with ``i := r · I_nir``
a NIR ``CubaLIF`` is our ``cuba_lif`` driven by ``r (1 - α) w_in · (W x + b)``; a NIR ``LIF``
without our subtraction metadata is a ``cuba_lif`` with ``α = 0`` (i = I) and reset to zero, which
is exactly NIR's LIF. A neuron node whose parameters are all one value (Sinabs writes one ``tau``
for a layer) is broadcast, as numpy and NIR's reference simulators do, to the size of the linear
node driving it. Anything that cannot be mapped exactly (``IF``, non-zero ``v_leak`` or
``v_reset``, convolutions, ...) is one ``FormatError`` line naming the node and the reason.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional, Union

import h5py
import nir
import numpy as np

from snn_deploy.convert.nir_map import META_DT, META_ENCODING, META_RESET, NIR_IMPORT, positive_seconds, unique_name
from snn_deploy.errors import FormatError
from snn_deploy.filekind import identify
from snn_deploy.h5schema import check_memory, check_stored
from snn_deploy.ir import RESETS, DenseNode, Edge, GraphError, InputNode, Network, NeuronNode

#: Relative tolerance under which an import row scale ``r (1 - α) w_in`` counts as exactly 1
#: (our own exports produce 1 up to float rounding; leaving the weights untouched keeps them exact).
UNIT_SCALE_RTOL = 1e-9
#: Structure bounds of a NIR file (far above any network snn-deploy runs).
MAX_DEPTH = 16
MAX_OBJECTS = 100_000
MAX_TYPE_BYTES = 64              #: a node type name is a short string (NIRGraph, CubaLIF, ...)
LINEAR_TYPES = (nir.Affine, nir.Linear)


# ---- the file ----------------------------------------------------------------------------------

def is_nir_file(path: Union[str, Path]) -> bool:
    """Whether ``path`` is a NIR file, told from its content: HDF5 whose ``node/type`` is ``NIRGraph``."""
    if identify(path).name != "hdf5":
        return False
    try:
        with h5py.File(path, "r") as f:
            node = f.get("node", getlink=True)
            if not isinstance(node, h5py.HardLink) or not isinstance(f["node"], h5py.Group):
                return False
            return _type_name(f["node"]) == "NIRGraph"
    except (OSError, ValueError, KeyError, TypeError):
        return False


def read_nir_file(path: Path) -> nir.NIRGraph:
    """The NIR graph in ``path``, after the structural checks of the module docstring (FormatError)."""
    kind = identify(path)
    if kind.name == "missing":
        raise FormatError(f"{path}: no such NIR file")
    if kind.name != "hdf5":
        raise FormatError(f"{path}: not a NIR file: the file is {kind} (NIR files are HDF5)")
    try:
        with h5py.File(path, "r") as f:
            if not isinstance(f.get("node", getlink=True), h5py.HardLink) or _type_name(f.get("node")) != "NIRGraph":
                raise FormatError(f"{path}: not a NIR file: an HDF5 file without a 'node' group of type NIRGraph")
            datasets: list[h5py.Dataset] = []
            _check_group(f["node"], "node", path, datasets, depth=0)
            check_memory(datasets, path)
    except FormatError:
        raise
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise FormatError(f"{path}: not a readable NIR file ({type(exc).__name__}: {exc})") from None
    try:
        return nir.read(path)
    except Exception:  # noqa: BLE001 - NIR's type check refuses some graphs other tools wrote; the IR checks shapes
        try:
            return nir.read(path, type_check=False)
        except Exception as exc:  # noqa: BLE001 - NIR's reader raises bare ValueError/KeyError/AssertionError
            raise FormatError(f"{path}: not a readable NIR graph ({type(exc).__name__}: {exc})") from None


def _type_name(group: Any) -> Optional[str]:
    """A node's ``type`` string, read only when it is a short string stored in this very file (a link, an
    external or virtual dataset could make the read fetch another file's bytes)."""
    if not isinstance(group, h5py.Group) or not isinstance(group.get("type", getlink=True), h5py.HardLink):
        return None
    ds = group["type"]
    if not isinstance(ds, h5py.Dataset) or ds.dtype.kind not in "SOU" or ds.shape not in ((), (1,)) \
            or ds.dtype.itemsize > MAX_TYPE_BYTES:
        return None
    check_stored(ds, Path(ds.file.filename))
    value = ds[()] if ds.shape == () else ds[0]
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _check_group(group: h5py.Group, where: str, path: Path, datasets: list, depth: int,
                 seen: Optional[set] = None) -> None:
    seen = set() if seen is None else seen
    if depth > MAX_DEPTH:
        raise FormatError(f"{path}: '{where}' is nested deeper than {MAX_DEPTH} levels")
    address = h5py.h5o.get_info(group.id).addr
    if address in seen or len(seen) > MAX_OBJECTS:   # NIR writes a tree; a group reached twice makes a graph
        raise FormatError(f"{path}: '{where}' is a group reached twice (or too many groups), expected a tree")
    seen.add(address)
    kind = _type_name(group) if "type" in group else None
    if kind is not None and kind not in NIR_IMPORT:
        raise FormatError(f"{path}: node '{where}' has type {kind!r}, not a NIR 1.0 node type")
    for name in group:
        link = group.get(name, getlink=True)
        if not isinstance(link, h5py.HardLink):
            raise FormatError(f"{path}: '{where}/{name}' is a {type(link).__name__}, expected data stored in this file")
        item = group[name]
        if isinstance(item, h5py.Dataset):
            check_stored(item, path)
            datasets.append(item)
            if len(datasets) > MAX_OBJECTS:
                raise FormatError(f"{path}: more than {MAX_OBJECTS} arrays, expected a network's parameters")
        else:
            _check_group(item, f"{where}/{name}", path, datasets, depth + 1, seen)


# ---- the graph ---------------------------------------------------------------------------------

@dataclass
class _Population:
    """A NIR neuron node translated to our model, before its incoming denses are known."""

    node: NeuronNode
    row_scale: np.ndarray  # multiplies the rows (and bias) of every dense driving it


def import_nir(source: Union[str, Path, nir.NIRGraph], dt: Optional[float] = None) -> Network:
    """Read a NIR graph (file path or ``nir.NIRGraph``) of CUBA-LIF / LIF / LI populations as a float network.

    ``dt`` (seconds per step) overrides the graph's ``metadata['dt']``; one of the two is required
    (the decays depend on it). A file is checked by ``read_nir_file`` before NIR's reader sees it.
    Every problem raises ``FormatError`` naming the file (or graph) and the node.
    """
    label = str(source) if isinstance(source, (str, Path)) else "<NIR graph>"
    graph = read_nir_file(Path(source)) if isinstance(source, (str, Path)) else source
    meta_dt = _meta_value((graph.metadata or {}).get(META_DT)) if isinstance(graph.metadata, dict) else None
    if dt is None and meta_dt is None:
        raise FormatError(
            f"{label}: the graph carries no time step (metadata 'dt'); pass dt (seconds per step, --dt) to import it")
    for value, where in ((dt, "dt"), (meta_dt, "metadata 'dt'")):
        if value is not None and positive_seconds(value) is None:
            raise FormatError(f"{label}: {where} must be a positive number of seconds per step, got {value!r}")
    dt = positive_seconds(dt if dt is not None else meta_dt)
    nodes, edges = _flatten(graph.nodes, graph.edges, label)
    nodes, edges = _fold_linear_chains(nodes, edges, label)
    net = _build_network(nodes, edges, dt, label)
    if isinstance(source, (str, Path)):
        net.meta["checkpoint"] = str(source)
    return net


def _meta_value(value: Any) -> Any:
    """A metadata value as NIR's reader returns it (bytes for strings, 0-d arrays for numbers) made plain."""
    if isinstance(value, (bytes, np.bytes_)):
        return value.decode("utf-8", "replace")
    if isinstance(value, np.ndarray) and value.shape == ():
        return value.item()
    return value


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


def _fold_linear_chains(nodes: dict[str, Any], edges: list[tuple[str, str]],
                        label: str) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """``Scale`` becomes ``Linear(diag(s))``; then every edge ``a -> b`` between two linear nodes, with
    ``b`` a's only successor and ``a`` b's only predecessor, is replaced by one node ``b``:
    ``W_b (W_a x + b_a) + b_b = (W_b W_a) x + (W_b b_a + b_b)`` (NIR edges carry no delay, so this is
    the same map). A linear node that fans out into, or is fed by, another linear node is refused."""
    nodes = dict(nodes)
    for name, node in list(nodes.items()):
        if isinstance(node, nir.Scale):
            scale = np.asarray(node.scale, dtype=np.float64)
            if scale.ndim != 1:
                raise FormatError(f"{label}: node {name!r} (Scale): scale must be 1-D, got shape {scale.shape}")
            nodes[name] = nir.Linear(weight=np.diag(scale))
    while True:
        pair = next(((a, b) for a, b in edges if isinstance(nodes.get(a), LINEAR_TYPES)
                     and isinstance(nodes.get(b), LINEAR_TYPES)), None)
        if pair is None:
            return nodes, edges
        a, b = pair
        succ_a = [t for s, t in edges if s == a]
        pred_b = [s for s, t in edges if t == b]
        if len(succ_a) != 1 or len(pred_b) != 1:
            raise FormatError(f"{label}: linear nodes {a!r} -> {b!r}: a linear node that fans out into, or is "
                              "fed by, several nodes cannot be folded into one dense")
        wa, wb = (np.asarray(nodes[k].weight, dtype=np.float64) for k in (a, b))
        if wa.ndim != 2 or wb.ndim != 2 or wb.shape[1] != wa.shape[0]:
            raise FormatError(f"{label}: linear nodes {a!r} -> {b!r}: weights {wa.shape} and {wb.shape} do not chain")
        bias_a = np.asarray(nodes[a].bias, dtype=np.float64) if isinstance(nodes[a], nir.Affine) else None
        bias_b = np.asarray(nodes[b].bias, dtype=np.float64) if isinstance(nodes[b], nir.Affine) else None
        bias = None
        if bias_a is not None or bias_b is not None:
            bias = (wb @ bias_a if bias_a is not None else 0.0) + (bias_b if bias_b is not None else 0.0)
        weight = wb @ wa
        nodes[b] = nir.Linear(weight=weight) if bias is None else nir.Affine(weight=weight, bias=np.asarray(bias))
        del nodes[a]
        edges = [(s, b) for s, t in edges if t == a] + [(s, t) for s, t in edges if a not in (s, t)]


def _build_network(nodes: dict[str, Any], edges: list[tuple[str, str]], dt: float, label: str) -> Network:
    ir_nodes: list[Any] = []
    pops: dict[str, _Population] = {}
    denses: dict[str, DenseNode] = {}
    output: Optional[str] = None
    for name, node in nodes.items():
        where = f"{label}: node {name!r} ({type(node).__name__})"
        if isinstance(node, nir.Input):
            shape = np.asarray(node.input_type["input"]).ravel()
            encoding = str(_meta_value(node.metadata.get(META_ENCODING, "spikes"))) if node.metadata else "spikes"
            ir_nodes.append(InputNode(name=name, size=_input_size(name, shape, nodes, edges), encoding=encoding))
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
            size = _population_size(node, _driven_size(name, nodes, edges), where)
            pops[name] = _NEURON_IMPORTERS[type(node).__name__](name, node, dt, where, size)
            ir_nodes.append(pops[name].node)
        else:
            entry = NIR_IMPORT.get(type(node).__name__)
            reason = entry.refused if entry is not None and entry.refused else "not a NIR 1.0 node type snn-deploy knows"
            raise FormatError(f"{where}: not supported: {reason}")
    ir_edges = _wire(edges, nodes, denses, pops, ir_nodes, label)
    for name, pop in pops.items():
        for e in ir_edges:
            if e.target == name and not np.allclose(pop.row_scale, 1.0, rtol=UNIT_SCALE_RTOL, atol=0.0):
                dense = denses[e.source]
                dense.weight = dense.weight * pop.row_scale[:, None]
                if dense.bias is not None:
                    dense.bias = dense.bias * pop.row_scale
    _move_recurrent_biases(ir_edges, denses, label)
    meta: dict[str, Any] = {"source": "nir", META_DT: dt}
    if output is not None:
        meta["output"] = output
    net = Network(nodes=ir_nodes, edges=ir_edges, meta=meta)
    try:
        return _in_layer_order(net.validate())
    except GraphError as exc:
        raise FormatError(f"{label}: graph not expressible in the snn-deploy IR: {exc}") from None


def _move_recurrent_biases(edges: list[Edge], denses: dict[str, DenseNode], label: str) -> None:
    """A bias on a recurrent dense (snnTorch's RSynaptic writes an Affine) is added at every step, as a
    feed-forward bias is: move it there (our runners keep biases on feed-forward denses)."""
    source = {e.target: e.source for e in edges if e.target in denses}
    for e in edges:
        dense = denses.get(e.source)
        if dense is None or dense.bias is None or source.get(dense.name) != e.target:
            continue
        ff = [denses[f.source] for f in edges if f.target == e.target and f.source in denses
              and source.get(f.source) != e.target]
        if not ff:
            raise FormatError(f"{label}: recurrent linear node {dense.name!r} has a bias and its population "
                              f"{e.target!r} no feed-forward input to carry it")
        ff[0].bias = dense.bias if ff[0].bias is None else ff[0].bias + dense.bias
        dense.bias = None


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
        if src in denses or dst in denses:
            if src in denses and sum(s == src and not isinstance(nodes[t], nir.Output) for s, t in edges) > 1:
                raise FormatError(f"{label}: linear node {src!r} drives more than one population")
            out.append(Edge(src, dst))
            continue
        if dst not in pops:
            raise FormatError(f"{label}: edge {src}->{dst} ends in {type(nodes[dst]).__name__}, not a neuron population")
        size = pops[dst].node.size
        name = unique_name(f"{src}_to_{dst}", nodes)
        ident = DenseNode(name=name, weight=np.eye(size))
        denses[name] = ident
        ir_nodes.append(ident)
        out += [Edge(src, name), Edge(name, dst)]
    return out


def _input_size(name: str, shape: np.ndarray, nodes: dict[str, Any], edges: list[tuple[str, str]]) -> int:
    """Channels of a NIR Input of ``shape``: their product; but a shape ``[T, C]`` (Sinabs records the
    sample's time steps in it) whose last entry is the input count of every linear node it drives is
    ``C`` channels, as a torch Linear applies to the last dimension."""
    fan_in = {np.asarray(nodes[t].weight).shape[-1] for s, t in edges
              if s == name and isinstance(nodes[t], LINEAR_TYPES) and np.ndim(nodes[t].weight) == 2}
    if shape.size > 1 and len(fan_in) == 1 and int(shape[-1]) == next(iter(fan_in)):
        return int(shape[-1])
    return int(np.prod(shape))


#: the per-neuron parameters of each NIR neuron type (their sizes give the population's size)
_NEURON_PARAMS = {"CubaLIF": ("tau_syn", "tau_mem", "r", "v_leak", "v_threshold", "v_reset", "w_in"),
                  "LIF": ("tau", "r", "v_leak", "v_threshold", "v_reset"), "LI": ("tau", "r", "v_leak")}


def _driven_size(name: str, nodes: dict[str, Any], edges: list[tuple[str, str]]) -> Optional[int]:
    """The output count of the linear nodes driving ``name`` (None if none, or if they disagree)."""
    rows = {np.asarray(nodes[s].weight).shape[0] for s, t in edges
            if t == name and isinstance(nodes[s], LINEAR_TYPES) and np.ndim(nodes[s].weight) == 2}
    return rows.pop() if len(rows) == 1 else None


def _population_size(node: Any, driven: Optional[int], where: str) -> int:
    """Neurons of a NIR neuron node: the size of its parameters, which numpy broadcasting (NIR's
    reference simulators') lets be 1 for a value shared by all. A node whose parameters are all of
    size 1 (Sinabs writes one tau for a layer) has the size of the linear node driving it."""
    sizes = {np.size(getattr(node, key)) for key in _NEURON_PARAMS[type(node).__name__]
             if getattr(node, key, None) is not None}
    if len(sizes - {1}) > 1:
        raise FormatError(f"{where}: its parameters have different sizes {sorted(sizes)}, expected one per neuron")
    if sizes - {1}:
        return (sizes - {1}).pop()
    if driven is None:
        raise FormatError(f"{where}: every parameter is one value and no single linear node driving it gives "
                          "the number of neurons")
    return driven


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


def _reset_of(node: Any, where: str) -> Optional[str]:
    """The node's metadata 'reset' (snn-deploy's own statement of the reset rule), or None."""
    value = _meta_value(node.metadata.get(META_RESET)) if node.metadata else None
    if value is not None and value not in RESETS:
        raise FormatError(f"{where}: metadata 'reset' is {value!r}, expected one of {RESETS}")
    return value


def _cuba_lif_from_nir(name: str, node: Any, dt: float, where: str, size: int) -> _Population:
    thr = _nir_array(node, "v_threshold", size)
    _require_zero(node, "v_leak", where)
    reset = _reset_of(node, where) or "zero"
    if reset == "zero":
        _require_zero(node, "v_reset", where)
    alpha = _decay_from_tau(_nir_array(node, "tau_syn", size), dt, where, "tau_syn")
    beta = _decay_from_tau(_nir_array(node, "tau_mem", size), dt, where, "tau_mem")
    scale = _nir_array(node, "r", size) * (1.0 - alpha) * _nir_array(node, "w_in", size)
    pop = NeuronNode(name=name, model="cuba_lif", size=size, reset=reset,
                     params={"alpha": alpha, "beta": beta, "threshold": thr})
    return _Population(pop, scale)


def _lif_from_nir(name: str, node: Any, dt: float, where: str, size: int) -> _Population:
    thr = _nir_array(node, "v_threshold", size)
    _require_zero(node, "v_leak", where)
    decay = _decay_from_tau(_nir_array(node, "tau", size), dt, where, "tau")
    scale = _nir_array(node, "r", size)
    if _reset_of(node, where) == "subtract":
        pop = NeuronNode(name=name, model="lif", size=size, params={"alpha": decay, "threshold": thr})
    else:  # NIR's own LIF: reset to v_reset (= 0) is our cuba_lif with an instantaneous current
        _require_zero(node, "v_reset", where)
        pop = NeuronNode(name=name, model="cuba_lif", size=size, reset="zero",
                         params={"alpha": np.zeros(size), "beta": decay, "threshold": thr})
    return _Population(pop, scale)


def _li_from_nir(name: str, node: Any, dt: float, where: str, size: int) -> _Population:
    r = _nir_array(node, "r", size)
    _require_zero(node, "v_leak", where)
    alpha = _decay_from_tau(_nir_array(node, "tau", size), dt, where, "tau")
    return _Population(NeuronNode(name=name, model="li", size=size, params={"alpha": alpha}), r)


_NEURON_IMPORTERS: dict[str, Callable[[str, Any, float, str, int], _Population]] = {
    "CubaLIF": _cuba_lif_from_nir,
    "LIF": _lif_from_nir,
    "LI": _li_from_nir,
}
