"""The network IR: the one description of a network that every stage after training reads.

A network is a list of nodes and a list of edges. Three node types:

- ``InputNode``   the input channels (spikes, or graded values such as filterbank features);
- ``DenseNode``   a synapse matrix ``weight[out, in]`` (+ optional ``bias[out]`` and fixed ``mask``);
- ``NeuronNode``  a population of ``size`` neurons of one ``model`` with per-neuron ``params``.

Every edge touches exactly one ``DenseNode``: ``source -> dense`` and ``dense -> target`` (``port``
names the neuron input the dense drives: ``"input"``, or ``"gate"`` for SpikGRU's update gate).
A dense whose source is its own target population is recurrent: it carries ``s[t-1]`` (paper 1,
Eq. 12: ``I[t] = W x[t] + V s[t-1]``). All other denses are feed-forward.

The neuron models, their float semantics (the equations, once), parameters, ports and reset rules
are the entries of ``snn_deploy.catalogue``; a ``NeuronNode``'s ``params`` are checked against its
entry when the node is built (names of the float or of the fixed parameter set) and when the network
is validated or read (the exact set of its kind, numbers, a scalar or one value per neuron).

A *fixed* IR (after ``convert``) uses the same classes with integer arrays and a ``Precision``
record on the network; the meaning of each integer parameter is defined by the quantizer that wrote
it (``precision.scheme``). Serialization is one writer and one reader (``save_network`` /
``load_network``), with a type tag and a format version.
"""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional, Union

import h5py
import numpy as np

from snn_deploy import catalogue
from snn_deploy.atomic import atomic_path
from snn_deploy.catalogue import RESETS
from snn_deploy.errors import FormatError, SnnDeployError
from snn_deploy.jsonio import json_default

FORMAT_TAG = "snn-deploy-network"
FORMAT_VERSION = 1

ENCODINGS = ("spikes", "graded")
#: How class scores are read off the output population (``meta['readout']``, ``ModelConfig.readout``):
#: ``cumsoftmax`` sum_t softmax(u[t]), ``spike_count`` sum_t s[t], ``last`` u[T-1], ``max`` max_t u[t].
READOUT_MODES = ("cumsoftmax", "spike_count", "last", "max")
DEFAULT_READOUT = "cumsoftmax"
#: Where a fixed network runs (``meta['target']``): ``convert`` builds for the simulated targets (Lava's
#: CPU simulator, our emulator); ``run`` also accepts the chip, which needs Intel's lava-loihi.
SIMULATED_TARGETS = ("loihi-sim", "loihi-emu")
HARDWARE_TARGETS = ("loihi2",)
TARGETS = SIMULATED_TARGETS + HARDWARE_TARGETS
DEFAULT_TARGET = "loihi-sim"


class GraphError(SnnDeployError, ValueError):
    """A network graph is inconsistent (shapes, edges, names); the message names the nodes."""


@dataclass
class InputNode:
    name: str
    size: int
    encoding: str = "spikes"
    type: str = field(default="input", init=False, repr=False)

    @property
    def out_size(self) -> int:
        return self.size


@dataclass
class DenseNode:
    """``y = W x + b``. In a fixed IR the effective weight is ``weight * 2**weight_exp``."""

    name: str
    weight: np.ndarray
    bias: Optional[np.ndarray] = None
    mask: Optional[np.ndarray] = None
    weight_exp: int = 0
    type: str = field(default="dense", init=False, repr=False)

    @property
    def in_size(self) -> int:
        return int(self.weight.shape[1])

    @property
    def out_size(self) -> int:
        return int(self.weight.shape[0])


@dataclass
class NeuronNode:
    name: str
    model: str
    size: int
    params: dict[str, np.ndarray] = field(default_factory=dict)
    reset: str = "subtract"
    type: str = field(default="neurons", init=False, repr=False)

    def __post_init__(self) -> None:
        """A misspelt parameter is refused here, when the node is built: its names must be the float or
        the fixed parameter set of its model (the exact set of the network's kind: ``Network.validate``)."""
        if self.model not in catalogue.model_names() or not isinstance(self.params, dict):
            return      # reported by validate, which names the known models
        entry = catalogue.get_model_entry(self.model)
        names = set(self.params)
        if not (names <= set(entry.param_names) or names <= set(entry.fixed_params)):
            raise GraphError(
                f"neurons {self.name!r}: parameters {sorted(names)} are neither float parameters "
                f"{list(entry.param_names)} nor fixed parameters {list(entry.fixed_params)} of model {self.model}")

    @property
    def spiking(self) -> bool:
        return catalogue.get_model_entry(self.model).spiking

    @property
    def ports(self) -> tuple[str, ...]:
        return catalogue.get_model_entry(self.model).ports

    @property
    def out_size(self) -> int:
        return self.size


Node = Union[InputNode, DenseNode, NeuronNode]
NODE_TYPES: dict[str, type] = {"input": InputNode, "dense": DenseNode, "neurons": NeuronNode}


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    port: str = "input"


@dataclass
class Precision:
    """Attached to a fixed IR: which hardware profile and quantization scheme produced the integers.

    ``formats`` holds the number formats used (weight_bits, state_bits, decay_bits, ...);
    ``layers`` per-node details (scale, exponent, saturation counts) for reports.
    """

    profile: str
    scheme: str
    formats: dict[str, Any] = field(default_factory=dict)
    layers: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass
class Network:
    nodes: list[Node]
    edges: list[Edge]
    meta: dict[str, Any] = field(default_factory=dict)
    precision: Optional[Precision] = None

    # ---- queries -------------------------------------------------------------------------
    @property
    def is_fixed(self) -> bool:
        return self.precision is not None

    def node(self, name: str) -> Node:
        for n in self.nodes:
            if n.name == name:
                return n
        raise GraphError(f"network has no node named {name!r}")

    def inputs(self) -> list[InputNode]:
        return [n for n in self.nodes if isinstance(n, InputNode)]

    def neuron_nodes(self) -> list[NeuronNode]:
        return [n for n in self.nodes if isinstance(n, NeuronNode)]

    def dense_nodes(self) -> list[DenseNode]:
        return [n for n in self.nodes if isinstance(n, DenseNode)]

    def source_of(self, dense: str) -> str:
        return next(e.source for e in self.edges if e.target == dense)

    def target_of(self, dense: str) -> Edge:
        return next(e for e in self.edges if e.source == dense)

    def incoming(self, neurons: str, port: Optional[str] = None) -> list[DenseNode]:
        """Denses that drive ``neurons`` (optionally on one ``port``), in node order."""
        names = {e.source for e in self.edges if e.target == neurons and (port is None or e.port == port)}
        return [n for n in self.dense_nodes() if n.name in names]

    def is_recurrent(self, dense: str) -> bool:
        return self.source_of(dense) == self.target_of(dense).target

    def output(self) -> NeuronNode:
        """The readout population: ``meta['output']`` or the last neuron node."""
        name = self.meta.get("output")
        node = self.node(name) if name else self.neuron_nodes()[-1]
        if not isinstance(node, NeuronNode):
            raise GraphError(f"output node {node.name!r} is not a neuron population")
        return node

    def layer_order(self) -> list[NeuronNode]:
        """Neuron populations in feed-forward order (recurrent denses ignored); raises on cycles."""
        order: list[str] = []
        done = {n.name for n in self.inputs()}
        pending = [n.name for n in self.neuron_nodes()]
        while pending:
            ready = [
                p for p in pending
                if all(self.source_of(d.name) in done or self.is_recurrent(d.name) for d in self.incoming(p))
            ]
            if not ready:
                raise GraphError(f"feed-forward cycle among neuron populations {pending}")
            order += ready
            done.update(ready)
            pending = [p for p in pending if p not in ready]
        return [self.node(n) for n in order]  # type: ignore[misc]

    # ---- pipeline timing (Lava's one step of delay per synaptic hop; convert/emulator.py) -------
    def population_depths(self) -> dict[str, int]:
        """Hop depth of every population: 1 + the largest depth of its feed-forward sources (inputs: 0)."""
        inputs = {n.name for n in self.inputs()}
        depth: dict[str, int] = dict.fromkeys(inputs, 0)
        for pop in self.layer_order():
            sources = [self.source_of(d.name) for d in self.incoming(pop.name) if not self.is_recurrent(d.name)]
            depth[pop.name] = 1 + max((depth[s] for s in sources), default=0)
        return {k: v for k, v in depth.items() if k not in inputs}

    def reset_steps(self) -> dict[str, int]:
        """Step after which each population (and its recurrent denses' buffers) is zeroed: ``depth - 1``."""
        return {name: d - 1 for name, d in self.population_depths().items()}

    def num_steps(self, input_steps: int) -> int:
        """Steps to run for ``input_steps`` of input: input steps + pipeline depth of the deepest population."""
        return int(input_steps) + max(self.population_depths().values())

    def readout_window(self, input_steps: int) -> tuple[int, int]:
        """``[first, stop)`` steps of the output population that correspond to the float run's ``T`` steps."""
        d = self.population_depths()[self.output().name]
        return d, d + int(input_steps)

    # ---- validation ----------------------------------------------------------------------
    def validate(self) -> "Network":
        """Check names, node fields, and shapes on every edge; raise GraphError naming the nodes."""
        names = [n.name for n in self.nodes]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise GraphError(f"duplicate node names: {dupes}")
        by_name = {n.name: n for n in self.nodes}
        for node in self.nodes:
            _validate_node(node, self.is_fixed)
        for e in self.edges:
            for end in (e.source, e.target):
                if end not in by_name:
                    raise GraphError(f"edge {e.source}->{e.target} names unknown node {end!r}")
            src, dst = by_name[e.source], by_name[e.target]
            if isinstance(src, DenseNode) == isinstance(dst, DenseNode):
                raise GraphError(f"edge {e.source}->{e.target}: exactly one end must be a dense node")
            if isinstance(dst, DenseNode):
                if src.out_size != dst.in_size:
                    raise GraphError(
                        f"edge {e.source}->{e.target}: {e.source} has {src.out_size} outputs, "
                        f"{e.target} expects {dst.in_size} inputs")
            else:
                if isinstance(dst, InputNode):
                    raise GraphError(f"edge {e.source}->{e.target}: an input node cannot be a target")
                if e.port not in dst.ports:
                    raise GraphError(
                        f"edge {e.source}->{e.target}: port {e.port!r} not one of {dst.ports} of model {dst.model}")
                if src.out_size != dst.size:
                    raise GraphError(
                        f"edge {e.source}->{e.target}: {e.source} has {src.out_size} outputs, "
                        f"{e.target} has {dst.size} neurons")
        for d in self.dense_nodes():
            n_in = sum(e.target == d.name for e in self.edges)
            n_out = sum(e.source == d.name for e in self.edges)
            if n_in != 1 or n_out != 1:
                raise GraphError(f"dense {d.name!r} needs exactly one source and one target, has {n_in} and {n_out}")
        for p in self.neuron_nodes():
            for port in p.ports:
                if not self.incoming(p.name, port):
                    raise GraphError(f"neuron population {p.name!r} has nothing on its {port!r} port")
        if not self.inputs():
            raise GraphError("network has no input node")
        self.layer_order()
        return self


def _validate_node(node: Node, fixed: bool) -> None:
    if isinstance(node, InputNode):
        if node.encoding not in ENCODINGS:
            raise GraphError(f"input {node.name!r}: encoding {node.encoding!r} not one of {ENCODINGS}")
        if node.size <= 0:
            raise GraphError(f"input {node.name!r}: size must be positive, got {node.size}")
    elif isinstance(node, DenseNode):
        if node.weight.ndim != 2 or 0 in node.weight.shape:
            raise GraphError(f"dense {node.name!r}: weight must be a non-empty 2-D [out, in] array, got shape {node.weight.shape}")
        if node.bias is not None and node.bias.shape != (node.out_size,):
            raise GraphError(f"dense {node.name!r}: bias shape {node.bias.shape} != ({node.out_size},)")
        if node.mask is not None and node.mask.shape != node.weight.shape:
            raise GraphError(f"dense {node.name!r}: mask shape {node.mask.shape} != weight shape {node.weight.shape}")
    elif isinstance(node, NeuronNode):
        if node.model not in catalogue.model_names():
            raise GraphError(f"neurons {node.name!r}: unknown model {node.model!r}, expected one of "
                             f"{catalogue.model_names()}")
        if node.size <= 0:
            raise GraphError(f"neurons {node.name!r}: size must be positive, got {node.size}")
        if node.reset not in RESETS:
            raise GraphError(f"neurons {node.name!r}: reset {node.reset!r} not one of {RESETS}")
        problem = catalogue.check_params(catalogue.get_model_entry(node.model), node.params, node.size, fixed)
        if problem:
            raise GraphError(f"neurons {node.name!r}: {problem}")


# ---- serialization (one writer, one reader) ---------------------------------------------------

def network_to_dict(net: Network) -> dict[str, Any]:
    """Plain-data form (arrays stay numpy arrays): what the HDF5 writer stores."""
    return {
        "format": FORMAT_TAG,
        "version": FORMAT_VERSION,
        "meta": net.meta,
        "precision": dataclasses.asdict(net.precision) if net.precision else None,
        "nodes": [{f.name: getattr(n, f.name) for f in dataclasses.fields(n)} for n in net.nodes],
        "edges": [dataclasses.asdict(e) for e in net.edges],
    }


def network_from_dict(data: dict[str, Any], source: str = "<dict>") -> Network:
    if data.get("format") != FORMAT_TAG:
        raise FormatError(f"{source}: not an snn-deploy network (format tag {data.get('format')!r}, expected {FORMAT_TAG!r})")
    if data.get("version") != FORMAT_VERSION:
        raise FormatError(
            f"{source}: network format version {data.get('version')!r} is not supported (this snn-deploy reads version {FORMAT_VERSION}); re-run `snn-deploy convert`/export with this version")
    nodes: list[Node] = []
    for i, nd in enumerate(data["nodes"]):
        nd = dict(nd)
        kind = nd.pop("type", None)
        cls = NODE_TYPES.get(kind)
        if cls is None:
            raise FormatError(f"{source}: node #{i} has unknown type {kind!r}, expected one of {sorted(NODE_TYPES)}")
        _check_node_fields(nd, i, source)
        try:
            nodes.append(cls(**nd))
        except TypeError as exc:
            raise FormatError(f"{source}: node #{i} ({kind}) has bad fields: {exc}") from None
    try:
        edges = [Edge(**e) for e in data["edges"]]
        precision = Precision(**data["precision"]) if data.get("precision") else None
    except TypeError as exc:
        raise FormatError(f"{source}: bad edges or precision record: {exc}") from None
    for e in edges:
        if not all(isinstance(v, str) for v in (e.source, e.target, e.port)):
            raise FormatError(f"{source}: edge {e} names a node or port with something other than text")
    return Network(nodes=nodes, edges=edges, meta=data.get("meta") or {}, precision=precision).validate()


def save_network(net: Network, path: Union[str, Path]) -> Path:
    """Write ``net`` to HDF5 atomically (validated first)."""
    net.validate()
    data = network_to_dict(net)
    path = Path(path)
    with atomic_path(path) as tmp:
        with h5py.File(tmp, "w") as f:
            f.attrs["format"] = data["format"]
            f.attrs["version"] = data["version"]
            f.attrs["meta"] = json.dumps(data["meta"], default=json_default)
            f.attrs["precision"] = json.dumps(data["precision"], default=json_default)
            f.attrs["edges"] = json.dumps(data["edges"])
            nodes = f.create_group("nodes")
            for i, nd in enumerate(data["nodes"]):
                g = nodes.create_group(f"{i:04d}")
                _write_fields(g, nd)
    return path


def is_network_file(path: Union[str, Path]) -> bool:
    """Whether ``path`` is an HDF5 file tagged as a network IR (reads one attribute; nothing is loaded)."""
    try:
        with h5py.File(path, "r") as f:
            tag = f.attrs.get("format")
            return (tag.decode("utf-8", "replace") if isinstance(tag, bytes) else tag) == FORMAT_TAG
    except (OSError, ValueError, TypeError):
        return False


def load_network(path: Union[str, Path]) -> Network:
    """Read a network written by ``save_network``; every problem is a FormatError naming the file.

    Schema: text attributes ``format`` (the tag) and ``meta``/``precision``/``edges`` (JSON: an
    object, an object or null, a list of edges), integer ``version``; ``nodes/NNNN`` groups whose
    attributes are JSON and whose datasets are finite numbers stored whole in the file, with typed
    fields (:func:`_check_node_fields`); then the graph is validated (:meth:`Network.validate`).
    """
    path = Path(path)
    if not path.is_file():
        raise FormatError(f"{path}: no such network file")
    try:
        with h5py.File(path, "r") as f:
            data = _read_network_file(f, path)
    except (OSError, RuntimeError, KeyError, ValueError) as exc:  # h5py's reports of corrupt or truncated data
        raise FormatError(f"{path}: not a readable snn-deploy network file ({exc})") from None
    try:
        return network_from_dict(data, source=str(path))
    except GraphError as exc:
        raise FormatError(f"{path}: inconsistent network: {exc}") from None


def _read_network_file(f: h5py.File, path: Path) -> dict[str, Any]:
    from snn_deploy import h5schema as schema

    tag = f.attrs.get("format")
    tag = tag.decode("utf-8", "replace") if isinstance(tag, bytes) else tag
    if tag != FORMAT_TAG:
        return {"format": tag}  # network_from_dict names the wrong tag
    version = f.attrs.get("version")
    if not isinstance(version, (int, np.integer)) or isinstance(version, (bool, np.bool_)):
        raise FormatError(f"{path}: attribute 'version' is {version!r}, expected the integer {FORMAT_VERSION}")
    data = {"format": tag, "version": int(version), "meta": _json_attr(f.attrs, "meta", path, dict, "{}"),
            "precision": _json_attr(f.attrs, "precision", path, (dict, type(None)), "null"),
            "edges": _json_attr(f.attrs, "edges", path, list, "[]"), "nodes": []}
    if data["version"] != FORMAT_VERSION:
        return data
    nodes = f.get("nodes")
    if not isinstance(nodes, h5py.Group):
        raise FormatError(f"{path}: missing group 'nodes'")
    datasets: list[h5py.Dataset] = []
    nodes.visititems(lambda _, item: datasets.append(item) if isinstance(item, h5py.Dataset) else None)
    for ds in datasets:
        schema.check_array(ds, path, kinds="biuf")
    schema.check_memory(datasets, path)
    data["nodes"] = [_read_fields(nodes[k], path) for k in sorted(nodes.keys())]
    return data


def _json_attr(attrs, key: str, path: Path, types, default: str) -> Any:
    from snn_deploy import h5schema as schema

    text = schema.attr_str(attrs, key, path, default=default)
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise FormatError(f"{path}: attribute '{key}' is not valid JSON ({exc})") from None
    if not isinstance(value, types):
        raise FormatError(f"{path}: attribute '{key}' holds {type(value).__name__}, expected "
                          f"{'a JSON list' if types is list else 'a JSON object'}")
    return value


def _write_fields(group: h5py.Group, fields: dict[str, Any]) -> None:
    for key, value in fields.items():
        if value is None:
            continue
        if isinstance(value, dict):
            sub = group.create_group(key)
            sub.attrs["__dict__"] = True
            _write_fields(sub, value)
        elif isinstance(value, np.ndarray):
            group.create_dataset(key, data=value)
        else:
            group.attrs[key] = json.dumps(value, default=json_default)


def _read_fields(group: h5py.Group, path: Path) -> dict[str, Any]:
    from snn_deploy import h5schema as schema

    out: dict[str, Any] = {}
    for key in group.attrs:
        if key != "__dict__":
            out[key] = _json_attr(group.attrs, key, path, object, "null")
    for key, item in group.items():
        if isinstance(item, h5py.Group):
            out[key] = _read_fields(item, path)
        else:
            out[key] = item[()]
            schema.check_finite(np.asarray(out[key]), path, schema.label(item))
    return out


#: The type each node field must have after reading (JSON scalars or arrays), checked before construction.
NODE_FIELD_TYPES: dict[str, tuple[type, ...]] = {
    "name": (str,), "size": (int, np.integer), "encoding": (str,), "model": (str,), "reset": (str,),
    "weight_exp": (int, np.integer), "weight": (np.ndarray,), "bias": (np.ndarray,), "mask": (np.ndarray,),
    "params": (dict,),
}


def _check_node_fields(nd: dict[str, Any], index: int, source: str) -> None:
    """FormatError naming node ``index`` and the field whose value has the wrong type."""
    for key, value in nd.items():
        types = NODE_FIELD_TYPES.get(key)
        if types is None:
            continue  # unknown fields are reported by the dataclass constructor
        if not isinstance(value, types) or isinstance(value, (bool, np.bool_)):
            shown = repr(value) if not isinstance(value, np.ndarray) else f"an array {value.shape}"
            raise FormatError(f"{source}: node #{index} field '{key}' is {shown[:40]}, expected "
                              f"{' or '.join(t.__name__ for t in types if t is not np.integer)}")
        if key in ("weight", "bias", "mask") and value.dtype.kind not in "biuf":
            raise FormatError(f"{source}: node #{index} field '{key}' holds {value.dtype}, expected numbers")
    for key, value in (nd.get("params") or {}).items():
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.ndarray, np.number)) or (
                isinstance(value, np.ndarray) and value.dtype.kind not in "iuf"):
            raise FormatError(f"{source}: node #{index} parameter '{key}' is {str(value)[:40]!r}, expected numbers")


def network_digest(net: Network) -> str:
    """A short content hash of the network (arrays included): ties activity files to their network."""
    import hashlib

    h = hashlib.sha256()

    def feed(value: Any) -> None:
        if isinstance(value, np.ndarray):
            h.update(str(value.dtype).encode() + str(value.shape).encode())
            h.update(np.ascontiguousarray(value).tobytes())
        elif isinstance(value, dict):
            for k in sorted(value):
                h.update(str(k).encode())
                feed(value[k])
        elif isinstance(value, (list, tuple)):
            for v in value:
                feed(v)
        else:
            h.update(json.dumps(value, default=json_default, sort_keys=True).encode())

    data = network_to_dict(net)
    feed({k: data[k] for k in ("nodes", "edges", "precision")})
    return h.hexdigest()[:16]
