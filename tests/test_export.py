"""Export to the float network IR: BN folding, graph structure, and IR runner == module in eval mode."""
import numpy as np
import pytest
import torch

from snn_deploy.errors import SnnDeployError
from snn_deploy.ir import Precision, load_network, save_network
from snn_deploy.train.config import ModelConfig, snn_models
from snn_deploy.train.export import model_to_ir
from snn_deploy.train.ir_runner import run_float_network
from snn_deploy.train.layers import FeedForward
from snn_deploy.train.models import build_model


def trained_like(model, readout="cumsoftmax", reset="subtract", sparsity=0.0, seed=0):
    """A model whose BN running statistics and affine parameters are non-trivial, and that fires."""
    cfg = ModelConfig(model=model, input_size=10, num_classes=4, layers=3, hidden=8, readout=readout,
                      reset=reset, sparsity=sparsity, seed=seed, bias=True)
    net = build_model(cfg)
    gen = torch.Generator().manual_seed(seed)
    net.train()
    with torch.no_grad():
        for _ in range(3):  # update running statistics
            net((torch.rand(6, 15, 10, generator=gen) < 0.3).float() * 2)
        for m in net.modules():
            if isinstance(m, FeedForward) and m.norm is not None:
                m.norm.weight.copy_(1.0 + 2.0 * torch.rand(m.norm.weight.shape, generator=gen))
                m.norm.bias.copy_(0.5 + 0.8 * torch.rand(m.norm.bias.shape, generator=gen))
    return net.eval(), cfg


def test_bn_folding_by_hand():
    ff = FeedForward(1, 1, bias=True)
    with torch.no_grad():
        ff.linear.weight.fill_(2.0)
        ff.linear.bias.fill_(1.0)
        ff.norm.running_mean.fill_(3.0)
        ff.norm.running_var.fill_(4.0 - ff.norm.eps)   # sqrt(var + eps) = 2
        ff.norm.weight.fill_(0.5)
        ff.norm.bias.fill_(0.25)
    w, b = ff.folded()
    # BN(2x + 1) = 0.5 (2x + 1 - 3) / 2 + 0.25 = 0.5 x - 0.25
    assert w.tolist() == [[0.5]] and b.tolist() == [-0.25]
    ff.eval()
    x = torch.tensor([[[3.0]]])
    assert ff(x).item() == pytest.approx(0.5 * 3 - 0.25)


@pytest.mark.parametrize("model", snn_models())
def test_ir_runner_equals_module_in_eval_mode(model):
    net, cfg = trained_like(model)
    x = (torch.rand(5, 20, 10, generator=torch.Generator().manual_seed(3)) < 0.3).float() * 2
    with torch.no_grad():
        out = net(x)
    run = run_float_network(model_to_ir(net), x)
    for i, s in enumerate(out.layer_spikes, start=1):
        assert torch.equal(run.spikes[f"h{i}"], s), f"layer h{i} spikes differ"
        assert 0 < float(s.mean()) < 1, f"guard: layer h{i} must fire sometimes, not always"
    assert torch.allclose(run.readout, out.readout, atol=1e-4, rtol=1e-4)
    assert torch.allclose(run.logits, out.logits, atol=1e-4)
    assert out.readout.std() > 1e-3   # guard: the readout varies


@pytest.mark.parametrize("model, readout, reset", [("cuba_lif", "spike_count", "zero"), ("radlif", "max", "subtract")])
def test_ir_runner_readout_variants_and_reset(model, readout, reset):
    net, _ = trained_like(model, readout=readout, reset=reset)
    x = (torch.rand(3, 20, 10, generator=torch.Generator().manual_seed(5)) < 0.3).float() * 2
    with torch.no_grad():
        out = net(x)
    ir = model_to_ir(net)
    assert ir.node("readout").model == ("lif" if readout == "spike_count" else "li")
    if model == "cuba_lif":
        assert ir.node("h1").reset == reset
    run = run_float_network(ir, x)
    assert torch.allclose(run.readout, out.readout, atol=1e-4)
    assert torch.allclose(run.logits, out.logits, atol=1e-4)


def test_graph_structure_params_and_meta():
    net, cfg = trained_like("spikgru", sparsity=0.25)
    ir = model_to_ir(net, cfg, meta={"encoding": "graded", "dataset": "digits"})
    names = [n.name for n in ir.nodes]
    assert names == ["input", "fc1", "rec1", "gate1", "rec_gate1", "h1",
                     "fc2", "rec2", "gate2", "rec_gate2", "h2", "fc_out", "readout"]
    assert ir.node("input").encoding == "graded"
    assert ir.meta["model"] == "spikgru" and ir.meta["readout"] == "cumsoftmax"
    assert ir.meta["num_classes"] == 4 and ir.meta["output"] == "readout" and ir.meta["dataset"] == "digits"
    assert ir.is_recurrent("rec1") and not ir.is_recurrent("fc2")
    assert ir.target_of("gate1").port == "gate" and ir.target_of("rec_gate2").port == "gate"
    for name in ("rec1", "rec_gate1", "rec2"):
        assert np.all(np.diag(ir.node(name).weight) == 0)
    # sparsity: masks exported and applied
    fc2 = ir.node("fc2")
    assert fc2.mask is not None and np.all(fc2.weight[~fc2.mask] == 0)
    assert fc2.mask.sum() == 48   # 8x8 = 64, a quarter removed
    # clamped neuron parameters, threshold 1
    h1 = ir.node("h1")
    with torch.no_grad():
        net.layers[0].params.alpha.fill_(3.0)
    clamped = model_to_ir(net, cfg).node("h1").params["alpha"]
    assert np.all(clamped == 1.0) and h1.params["threshold"].tolist() == [1.0] * 8


def test_ir_round_trip_then_run(tmp_path):
    net, _ = trained_like("radlif")
    x = (torch.rand(2, 12, 10, generator=torch.Generator().manual_seed(9)) < 0.3).float() * 2
    path = save_network(model_to_ir(net), tmp_path / "net.h5")
    back = load_network(path)
    with torch.no_grad():
        out = net(x)
    run = run_float_network(back, x.numpy())   # numpy input accepted
    assert torch.equal(run.spikes["h2"], out.layer_spikes[1])
    assert torch.allclose(run.logits, out.logits, atol=1e-4)


def test_ann_export_is_a_clear_error():
    net = build_model(ModelConfig(model="gru", input_size=4, num_classes=2))
    with pytest.raises(SnnDeployError, match="ANN.*ONNX"):
        model_to_ir(net)


def test_runner_rejects_fixed_ir_and_bad_input():
    net, _ = trained_like("lif")
    ir = model_to_ir(net)
    with pytest.raises(SnnDeployError, match=r"\[batch, time, 10\]"):
        run_float_network(ir, torch.zeros(2, 3, 9))
    ir.precision = Precision(profile="loihi2", scheme="test")
    with pytest.raises(SnnDeployError, match="fixed point"):
        run_float_network(ir, torch.zeros(2, 3, 10))
