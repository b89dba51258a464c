"""Operation counts of any ONNX graph, for ANN baselines a user brings (``--baseline model.onnx``).

The graph's symbolic input dimensions are fixed (the first axis, the batch, to 1: one inference;
other symbolic axes from ``dims`` or ``steps``), ONNX shape inference gives every tensor's shape,
and each node is counted with the conventions of paper 2 Table 2:

- ``MatMul``/``Gemm``/``Conv``/``ConvTranspose``: one MAC per weight use
  (``out elements x reduction length``); Gemm's ``C`` and Conv's bias are ACs;
- ``RNN``/``GRU``/``LSTM`` nodes, per step, batch and direction (H hidden, I input):
  RNN ``HI + H²`` MAC, ``H`` AC (bias), ``H`` nonlinear; GRU ``3HI + 3H² + 3H`` MAC (the 3H gating
  products), ``3H`` AC, ``3H`` nonlinear; LSTM ``4HI + 4H² + 3H`` MAC, ``4H`` AC, ``5H`` nonlinear
  (+3H MAC with peepholes) - so a GRU node counts exactly paper 2's ``3mn + 3n² + 3n``;
- element-wise ``Mul``/``Div`` one MAC per output element (paper 2 counts gating products as
  MACs), ``Add``/``Sub``/``Sum``/``Neg``/comparisons one AC, ``Sigmoid``/``Tanh``/``Softplus``/``Exp``...
  one nonlinear; ``Softmax`` one nonlinear + one AC per element; reductions and ``CumSum`` one AC
  per input element; ``BatchNormalization`` one AC per element (an inference-time affine map that
  a deployment folds into the preceding linear layer's weights and bias, as DESIGN §3 does);
- shape and data-movement ops (Reshape, Transpose, Slice, Gather, Concat, ...) cost nothing, and
  so does arithmetic on tensors computed only from constants and shapes (constant-folded);
- every other op (control flow such as ``Loop``/``Scan``/``If`` included) is **unsupported**: it
  is listed, and counting fails unless ``allow_unsupported`` (then it is listed in the report as
  not counted; never silently skipped).
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Union

import numpy as np

from snn_deploy.errors import SnnDeployError

from snn_deploy.energy.analytic import LayerOps, OpCount

FREE_OPS = frozenset({
    "Reshape", "Transpose", "Squeeze", "Unsqueeze", "Concat", "Slice", "Gather", "GatherElements",
    "GatherND", "Shape", "Size", "Constant", "ConstantOfShape", "Identity", "Flatten", "Cast",
    "CastLike", "Split", "Expand", "Range", "Dropout", "Tile", "Pad", "Where", "ScatterND",
    "ScatterElements", "SequenceConstruct", "SplitToSequence", "SequenceAt", "OneHot", "NonZero",
    "EyeLike", "DepthToSpace", "SpaceToDepth", "Trilu",
})
ELEMENTWISE_AC = frozenset({"Add", "Sub", "Neg", "Abs", "Relu", "Max", "Min", "Clip", "Sign", "Floor",
                            "Ceil", "Round", "Greater", "Less", "Equal", "GreaterOrEqual", "LessOrEqual",
                            "Not", "And", "Or", "Xor", "BatchNormalization"})
ELEMENTWISE_MAC = frozenset({"Mul", "Div", "Mod"})
ELEMENTWISE_NONLINEAR = frozenset({"Sigmoid", "Tanh", "Softplus", "Softsign", "Exp", "Log", "Sqrt",
                                   "Reciprocal", "Erf", "Gelu", "HardSigmoid", "HardSwish", "LeakyRelu",
                                   "Elu", "Selu", "Celu", "PRelu", "Pow", "Sin", "Cos", "Mish"})
REDUCTIONS = frozenset({"ReduceSum", "ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1",
                        "ReduceL2", "ReduceLogSumExp", "ReduceSumSquare", "CumSum", "ArgMax", "ArgMin",
                        "GlobalAveragePool", "GlobalMaxPool"})
SOFTMAX = frozenset({"Softmax", "LogSoftmax"})
RECURRENT = frozenset({"RNN", "GRU", "LSTM"})
LINEAR = frozenset({"MatMul", "Gemm", "Conv", "ConvTranspose"})
SUPPORTED = FREE_OPS | ELEMENTWISE_AC | ELEMENTWISE_MAC | ELEMENTWISE_NONLINEAR | REDUCTIONS | SOFTMAX | RECURRENT | LINEAR
STATIC_SOURCES = frozenset({"Constant", "Shape", "Size", "ConstantOfShape", "Range"})


class UnsupportedOpsError(SnnDeployError):
    """An ONNX graph holds ops the counter cannot count (listed in the message)."""


@dataclass
class NodeOps:
    name: str
    op_type: str
    ops: OpCount
    weights: int = 0        # weight words read per inference (initializers of linear/recurrent nodes)
    activations: int = 0    # input + output elements of the node


@dataclass
class OnnxCount:
    path: str
    nodes: list[NodeOps]
    free: Counter
    folded: Counter
    unsupported: dict[str, list[str]]
    dims: dict[str, int]
    notes: list[str] = field(default_factory=list)

    @property
    def total(self) -> OpCount:
        out = OpCount()
        for node in self.nodes:
            out = out + node.ops
        return out

    def by_op_type(self) -> dict[str, OpCount]:
        out: dict[str, OpCount] = {}
        for node in self.nodes:
            out[node.op_type] = out.get(node.op_type, OpCount()) + node.ops
        return out

    def layers(self) -> list[LayerOps]:
        """One LayerOps per counted node (steps = 1: the node's counts are per inference)."""
        return [LayerOps(n.name, n.op_type, n.ops, 1, weights=n.weights, activations=n.activations)
                for n in self.nodes if n.ops.total or n.ops.nonlinear]


# ---- shapes ------------------------------------------------------------------------------------

def _resolve_inputs(model, dims: dict[str, int], steps: Optional[int], path: str) -> dict[str, int]:
    """Fix every symbolic/unknown input dimension in place; return the values used per dim name."""
    inits = {i.name for i in model.graph.initializer}
    used: dict[str, int] = {}
    for inp in model.graph.input:
        if inp.name in inits:
            continue
        shape = inp.type.tensor_type.shape
        for axis, d in enumerate(shape.dim):
            if d.HasField("dim_value") and d.dim_value > 0:
                continue
            name = d.dim_param or f"{inp.name}[{axis}]"
            if name in dims:
                value = dims[name]
            elif axis == 0:
                value = 1
            elif steps is not None:
                value = steps
            else:
                raise SnnDeployError(
                    f"{path}: input {inp.name!r} axis {axis} ({name!r}) has no fixed size; give it with "
                    f"--onnx-dim {name}=VALUE (or the number of time steps)")
            d.Clear()
            d.dim_value = int(value)
            used[name] = int(value)
    return used


def _shapes(model) -> dict[str, tuple[int, ...]]:
    import onnx

    try:
        inferred = onnx.shape_inference.infer_shapes(model, strict_mode=False, data_prop=True)
    except Exception as exc:  # onnx raises several unrelated types here
        raise SnnDeployError(f"ONNX shape inference failed: {exc}") from None
    shapes: dict[str, tuple[int, ...]] = {}
    g = inferred.graph
    for vi in list(g.input) + list(g.value_info) + list(g.output):
        t = vi.type.tensor_type
        if t.HasField("shape") and all(d.HasField("dim_value") for d in t.shape.dim):
            shapes[vi.name] = tuple(int(d.dim_value) for d in t.shape.dim)
    for init in g.initializer:
        shapes[init.name] = tuple(int(x) for x in init.dims)
    return shapes


def _numel(shape: tuple[int, ...]) -> int:
    return int(np.prod(shape)) if shape else 1


def _attr(node, name: str, default=None):
    for a in node.attribute:
        if a.name == name:
            import onnx

            return onnx.helper.get_attribute_value(a)
    return default


# ---- per-op rules ------------------------------------------------------------------------------

class _MissingShape(Exception):
    pass


def _shape(shapes: dict, name: str) -> tuple[int, ...]:
    if name not in shapes:
        raise _MissingShape(name)
    return shapes[name]


def _linear_ops(node, shapes: dict, inits: set) -> tuple[OpCount, int]:
    op = node.op_type
    out = _shape(shapes, node.output[0])
    if op == "MatMul":
        a = _shape(shapes, node.input[0])
        k = a[-1]
        weights = _numel(_shape(shapes, node.input[1])) if node.input[1] in inits else 0
        return OpCount(mac=_numel(out) * k), weights
    if op == "Gemm":
        a = _shape(shapes, node.input[0])
        k = a[0] if _attr(node, "transA", 0) else a[1]
        bias = _numel(out) if len(node.input) > 2 and node.input[2] else 0
        weights = sum(_numel(_shape(shapes, i)) for i in node.input[1:] if i in inits)
        return OpCount(mac=_numel(out) * k, ac=bias), weights
    w = _shape(shapes, node.input[1])
    weights = _numel(w) if node.input[1] in inits else 0
    bias = len(node.input) > 2 and bool(node.input[2])
    if op == "Conv":
        return OpCount(mac=_numel(out) * _numel(w[1:]), ac=_numel(out) if bias else 0), weights
    x = _shape(shapes, node.input[0])   # ConvTranspose: every input element meets C_out/group x kernel weights
    return OpCount(mac=_numel(x) * _numel(w[1:]), ac=_numel(out) if bias else 0), weights


def _recurrent_ops(node, shapes: dict) -> tuple[OpCount, int]:
    """ONNX RNN/GRU/LSTM node: per step, batch and direction, see the module docstring."""
    x = _shape(shapes, node.input[0])
    w = _shape(shapes, node.input[1])
    r = _shape(shapes, node.input[2])
    layout = _attr(node, "layout", 0)
    seq, batch = (x[1], x[0]) if layout else (x[0], x[1])
    directions, gates_h, inp = w
    gates = {"RNN": 1, "GRU": 3, "LSTM": 4}[node.op_type]
    h = int(_attr(node, "hidden_size", gates_h // gates))
    has_bias = len(node.input) > 3 and bool(node.input[3])
    if node.op_type == "RNN":
        per = OpCount(mac=h * inp + h * h, ac=h if has_bias else 0, nonlinear=h)
    elif node.op_type == "GRU":
        per = OpCount(mac=3 * h * inp + 3 * h * h + 3 * h, ac=3 * h if has_bias else 0, nonlinear=3 * h)
    else:
        peep = 3 * h if len(node.input) > 7 and node.input[7] else 0
        per = OpCount(mac=4 * h * inp + 4 * h * h + 3 * h + peep, ac=4 * h if has_bias else 0, nonlinear=5 * h)
    return per.scaled(seq * batch * directions), _numel(w) + _numel(r)


def _node_ops(node, shapes: dict, inits: set) -> tuple[OpCount, int]:
    op = node.op_type
    if op in LINEAR:
        return _linear_ops(node, shapes, inits)
    if op in RECURRENT:
        return _recurrent_ops(node, shapes)
    out = _numel(_shape(shapes, node.output[0]))
    if op in ELEMENTWISE_AC:
        extra = max(len([i for i in node.input if i]) - 2, 0) if op in ("Max", "Min") else 0
        return OpCount(ac=out * (1 + extra)), 0
    if op == "Sum":
        return OpCount(ac=out * max(len(node.input) - 1, 0)), 0
    if op in ELEMENTWISE_MAC:
        return OpCount(mac=out), 0
    if op in ELEMENTWISE_NONLINEAR:
        return OpCount(nonlinear=out), 0
    if op in SOFTMAX:
        return OpCount(ac=out, nonlinear=out), 0
    if op in REDUCTIONS:
        return OpCount(ac=_numel(_shape(shapes, node.input[0]))), 0
    raise AssertionError(f"no rule for supported op {op}")  # unreachable: SUPPORTED lists the rules above


def count_onnx(path: Union[str, Path], dims: Optional[dict[str, int]] = None, steps: Optional[int] = None,
               allow_unsupported: bool = False) -> OnnxCount:
    """Count the operations of one inference (batch 1) of the ONNX graph at ``path``."""
    import onnx

    from snn_deploy.filekind import identify

    path = Path(path)
    kind = identify(path)
    if kind.name == "missing":
        raise SnnDeployError(f"{path}: no such ONNX file")
    if kind.name not in ("onnx", "unknown"):  # protobuf has no signature: only what is surely something else is refused here
        raise SnnDeployError(f"{path}: not an ONNX model: the file is {kind}")
    try:
        # only shapes are counted: external tensor data (files the model names) is never read
        model = onnx.load(str(path), load_external_data=False)
    except Exception as exc:  # protobuf decode errors have no common base
        raise SnnDeployError(f"{path}: not a readable ONNX model ({exc})") from None
    used = _resolve_inputs(model, dict(dims or {}), steps, str(path))
    shapes = _shapes(model)
    inits = {i.name for i in model.graph.initializer}
    static = set(inits)
    nodes: list[NodeOps] = []
    free: Counter = Counter()
    folded: Counter = Counter()
    unsupported: dict[str, list[str]] = {}
    for i, node in enumerate(model.graph.node):
        name = node.name or f"{node.op_type}_{i}"
        ins = [x for x in node.input if x]
        if node.op_type in STATIC_SOURCES or (ins and all(x in static for x in ins)):
            static.update(node.output)
            if node.op_type not in FREE_OPS and node.op_type in SUPPORTED:
                folded[node.op_type] += 1
                continue
        if node.domain not in ("", "ai.onnx") or node.op_type not in SUPPORTED:
            unsupported.setdefault(f"{node.domain + '.' if node.domain else ''}{node.op_type}", []).append(name)
            continue
        if node.op_type in FREE_OPS:
            free[node.op_type] += 1
            continue
        try:
            ops, weights = _node_ops(node, shapes, inits)
        except _MissingShape as exc:
            unsupported.setdefault(f"{node.op_type} (shape of {exc} unknown)", []).append(name)
            continue
        acts = sum(_numel(shapes[x]) for x in list(ins) + list(node.output) if x in shapes and x not in inits)
        nodes.append(NodeOps(name, node.op_type, ops, weights, acts))
    if unsupported and not allow_unsupported:
        listing = "; ".join(f"{op} x{len(names)} ({', '.join(names[:3])}{', ...' if len(names) > 3 else ''})"
                            for op, names in sorted(unsupported.items()))
        raise UnsupportedOpsError(
            f"{path}: cannot count these ops: {listing}. Pass --allow-unsupported to count the rest "
            "(the report then lists them as not counted)")
    notes = [f"input dimension {k} fixed to {v}" for k, v in used.items()]
    return OnnxCount(str(path), nodes, free, folded, unsupported, used, notes)
