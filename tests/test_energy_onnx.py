"""The ONNX counter against the analytic MAC counts (plain torch graphs and our exported baselines)."""
import numpy as np
import pytest
import torch
from torch import nn

from snn_deploy.convert.export_onnx import TORCHSCRIPT_EXPORTER
from snn_deploy.energy import analytic
from snn_deploy.energy.baselines import SnnShape, resolve_baseline
from snn_deploy.energy.onnx_count import UnsupportedOpsError, count_onnx
from snn_deploy.errors import SnnDeployError

M, N, T = 7, 5, 11


class Recurrent(nn.Module):
    def __init__(self, kind: str) -> None:
        super().__init__()
        self.r = getattr(nn, kind)(M, N, batch_first=True)

    def forward(self, x):
        return self.r(x)[0]


def export(module, path, dynamic_time=True):
    axes = {0: "batch", 1: "time"} if dynamic_time else {0: "batch"}
    torch.onnx.export(module.eval(), torch.zeros(1, T, M), str(path), input_names=["x"],
                      dynamic_axes={"x": axes}, opset_version=17, **TORCHSCRIPT_EXPORTER)
    return path


@pytest.mark.parametrize("kind,formula", [("GRU", analytic.gru_ops), ("RNN", analytic.rnn_ops)])
def test_recurrent_nodes_match_table2(tmp_path, kind, formula):
    path = export(Recurrent(kind), tmp_path / f"{kind}.onnx")
    c = count_onnx(path, steps=T)
    assert c.dims == {"batch": 1, "time": T}
    assert c.total.mac == T * formula(M, N).mac     # GRU: 11 * (105 + 75 + 15); RNN: 11 * (35 + 25)
    assert [n.op_type for n in c.nodes] == [kind]
    assert c.nodes[0].weights == (3 if kind == "GRU" else 1) * (M * N + N * N)


def test_mlp_graph_counts_one_mac_per_weight_use(tmp_path):
    mlp = nn.Sequential(nn.Linear(M, N), nn.Sigmoid(), nn.Linear(N, 3))
    c = count_onnx(export(mlp, tmp_path / "mlp.onnx"), steps=T)
    assert c.total.mac == T * (M * N + N * 3)
    assert c.total.ac == T * (N + 3)                 # the two bias adds
    assert c.total.nonlinear == T * N


@pytest.mark.parametrize("kind", ["mlp", "rnn", "libru", "gru"])
def test_our_exported_baselines_match_their_equations(tmp_path, kind):
    from snn_deploy.convert.export_onnx import export_onnx
    from snn_deploy.train.config import ModelConfig
    from snn_deploy.train.models import build_model

    cfg = ModelConfig(model=kind, input_size=M, num_classes=4, layers=3, hidden=N)
    path = export_onnx(build_model(cfg), cfg, tmp_path / f"{kind}.onnx", time_steps=T)
    c = count_onnx(path)
    hidden = analytic.ann_network_ops(kind, M, N, 2, 4, T)[:2]
    expected = sum(l.per_inference.mac for l in hidden)
    # the export differs from the inference-minimal equations in two worked-out ways:
    # - its first step multiplies the recurrent weights by the zero initial state, a constant the
    #   exporter's graph lets us fold: 2 layers x (recurrent matrices) x N^2 MACs fewer;
    # - it evaluates the linear readout on every running sum (T times) instead of once.
    rec_matrices = analytic.ANN_WEIGHT_MATRICES[kind][1] if kind != "gru" else 0
    expected += -2 * rec_matrices * N * N + T * N * 4
    assert c.total.mac == expected
    assert not c.unsupported


def test_unsupported_ops_are_listed_and_refused_unless_allowed(tmp_path):
    import onnx
    from onnx import TensorProto, helper

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 8])
    k = helper.make_tensor("k", TensorProto.INT64, [1], [3])
    w = helper.make_tensor("w", TensorProto.FLOAT, [8, 4], np.ones(32, np.float32))
    vals = helper.make_tensor_value_info("vals", TensorProto.FLOAT, [1, 3])
    idx = helper.make_tensor_value_info("idx", TensorProto.INT64, [1, 3])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])
    graph = helper.make_graph(
        [helper.make_node("TopK", ["x", "k"], ["vals", "idx"], name="pick"),
         helper.make_node("MatMul", ["x", "w"], ["y"], name="fc")],
        "g", [x], [vals, idx, y], initializer=[k, w])
    path = tmp_path / "topk.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    with pytest.raises(UnsupportedOpsError, match=r"TopK x1 \(pick\)"):
        count_onnx(path)
    c = count_onnx(path, allow_unsupported=True)
    assert c.unsupported == {"TopK": ["pick"]}
    assert c.total.mac == 32
    b = resolve_baseline(str(path), None, T, allow_unsupported=True)
    assert any("NOT COUNTED" in n and "TopK" in n for n in b.notes)


def test_symbolic_time_without_a_value_names_the_dimension(tmp_path):
    path = export(Recurrent("RNN"), tmp_path / "rnn.onnx")
    with pytest.raises(SnnDeployError, match="'time'"):
        count_onnx(path)
    assert count_onnx(path, dims={"time": 3}).total.mac == 3 * (M * N + N * N)


def test_baseline_specs():
    shape = SnnShape(input_size=M, hidden=N, hidden_layers=2, num_classes=4)
    gru = resolve_baseline("gru", shape, T)
    assert gru.ops.mac == sum(l.per_inference.mac for l in analytic.ann_network_ops("gru", M, N, 2, 4, T))
    big = resolve_baseline("rnn:4x16", shape, T)
    assert [l.name for l in big.layers][:3] == ["rnn1", "rnn2", "rnn3"]
    assert big.layers[0].per_step.mac == M * 16 + 16 * 16
    for bad in ("lstm", "gru:1x5", "missing.pt", "missing.onnx"):
        with pytest.raises(SnnDeployError):
            resolve_baseline(bad, shape, T)


def test_checkpoint_baseline_takes_shape_and_accuracy_from_the_file(tmp_path):
    from snn_deploy.train.checkpoint import save_checkpoint
    from snn_deploy.train.config import ModelConfig
    from snn_deploy.train.models import build_model

    cfg = ModelConfig(model="libru", input_size=M, num_classes=4, layers=2, hidden=6)
    meta = dict(num_channels=M, num_classes=4, class_names=list("abcd"), input_kind="spikes", time_steps=T,
                duration=1.0, accuracies={"test": 0.75})
    path = save_checkpoint(tmp_path / "ann.pt", build_model(cfg), cfg, None, meta)
    b = resolve_baseline(str(path), None, T)
    assert b.accuracy == 0.75
    # one liBRU layer of 6 on 7 inputs: (2*42 + 2*36 + 12) MAC per frame; readout 6*4 once
    assert b.ops.mac == T * (84 + 72 + 12) + 24
    snn_cfg = ModelConfig(model="radlif", input_size=M, num_classes=4)
    save_checkpoint(tmp_path / "snn.pt", build_model(snn_cfg), snn_cfg, None, meta)
    with pytest.raises(SnnDeployError, match="must be an ANN"):
        resolve_baseline(str(tmp_path / "snn.pt"), None, T)
