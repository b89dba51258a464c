"""Model zoo: layer forward against hand-worked values, clamping, zero diagonal, sparsity, seeding, errors."""
import numpy as np
import pytest
import torch

from snn_deploy.convert.export_onnx import TORCHSCRIPT_EXPORTER
from snn_deploy.errors import SnnDeployError
from snn_deploy.train.config import ModelConfig, all_models, snn_models
from snn_deploy.train.layers import SpikingLayer
from snn_deploy.train.models import build_model, firing_rates, hidden_layers
from snn_deploy.train.neurons import ADLIF, ALPHA_RANGE, BETA_RANGE, LIF, UNIT_RANGE
from snn_deploy.train.readout import readout_logits
from snn_deploy.train.surrogate import get_surrogate


def cfg(model="radlif", **kw):
    base = dict(input_size=6, num_classes=3, layers=3, hidden=5)
    base.update(kw)
    return ModelConfig(model=model, **base)


def plain_layer(neuron, recurrent, n=2):
    """A layer with W = identity, no batch-norm, so I[t] = x[t] + V s[t-1]."""
    layer = SpikingLayer(neuron, n, n, recurrent=recurrent, spike_fn=get_surrogate("boxcar"), batch_norm=False)
    with torch.no_grad():
        layer.ff.linear.weight.copy_(torch.eye(n))
    return layer


def test_rlif_layer_recurrence_uses_previous_spikes_and_zero_diagonal():
    """I[t] = x[t] + V s[t-1] (W = identity, no BN) against an independent float64 loop."""
    layer = plain_layer(LIF, recurrent=True)
    a = ALPHA_RANGE[0]
    with torch.no_grad():
        layer.params.alpha.fill_(a)
        layer.rec.weight.copy_(torch.tensor([[5.0, 0.5], [7.0, 5.0]]))  # diagonal 5 must be ignored
    x = torch.tensor([[[8.0, 0.0], [0.0, 0.0], [6.0, 0.0], [0.0, 0.0]]])
    s, u = layer(x, record_potential=True)
    V = torch.tensor([[0.0, 0.5], [7.0, 0.0]], dtype=torch.float64)
    uu, ss = torch.zeros(2, dtype=torch.float64), torch.zeros(2, dtype=torch.float64)
    for t in range(4):
        I = x[0, t].double() + V @ ss
        uu = a * (uu - ss) + (1 - a) * I
        ss = (uu > 1).double()
        assert torch.allclose(u[0, t].double(), uu, atol=1e-6)
        assert torch.equal(s[0, t].double(), ss)
    assert s[0, :, 1].sum() > 0            # guard: the recurrent input made neuron 1 fire
    assert torch.all(torch.diagonal(layer.rec.effective()) == 0)


def test_rlif_layer_hand_values():
    # α = 0 is clamped to e^-1/5 (LIF range); strong input so that spikes happen
    layer = plain_layer(LIF, recurrent=True)
    with torch.no_grad():
        layer.params.alpha.fill_(0.0)  # clamped to ALPHA_RANGE[0]
        layer.rec.weight.copy_(torch.tensor([[9.0, 0.0], [8.0, 9.0]]))
    a = ALPHA_RANGE[0]
    x = torch.tensor([[[10.0, 0.0], [0.0, 0.0], [0.0, 0.0]]])
    s, u = layer(x, record_potential=True)
    u0 = (1 - a) * 10                      # t1: 1.81 -> neuron 0 spikes
    u1_t2 = (1 - a) * 8                    # t2: neuron 1 gets V[1,0] s0 = 8 (diagonal 9 ignored)
    u0_t2 = a * (u0 - 1)                   # neuron 0: reset by subtraction inside the leak, no self-input
    assert u[0, 0, 0].item() == pytest.approx(u0, rel=1e-6)
    assert u[0, 1, 0].item() == pytest.approx(u0_t2, rel=1e-6)
    assert u[0, 1, 1].item() == pytest.approx(u1_t2, rel=1e-6)
    assert s[0].tolist() == [[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]]


def test_radlif_model_forward_matches_hand_loop():
    """Whole model (2 hidden RadLIF layers, no BN) against an independent loop of paper 1's code equations."""
    c = cfg("radlif", batch_norm=False, dropout=0.0, input_size=3, hidden=4, num_classes=2)
    net = build_model(c).eval()
    with torch.no_grad():
        for layer in net.layers:
            layer.ff.linear.weight.abs_().mul_(10.0)
    x = (torch.rand(2, 12, 3, generator=torch.Generator().manual_seed(1)) < 0.5).float()
    out = net(x)
    h = x.double()
    for k, layer in enumerate(net.layers):
        v = layer.params.values()
        al, be, a, b = (v[n].double() for n in ("alpha", "beta", "a", "b"))
        W = layer.ff.linear.weight.double()
        V = layer.rec.weight.double().clone().fill_diagonal_(0)
        uu = ww = ss = torch.zeros(2, 4, dtype=torch.float64)
        spikes = []
        for t in range(12):
            ww = be * ww + a * uu + b * ss
            uu = al * (uu - ss) + (1 - al) * (h[:, t] @ W.T + ss @ V.T - ww)
            ss = (uu > 1).double()
            spikes.append(ss)
        h = torch.stack(spikes, 1)
        assert torch.equal(out.layer_spikes[k].double(), h)
    assert all(float(s.sum()) > 0 for s in out.layer_spikes)   # guard: every layer spiked
    # readout: LI of the last layer, cumulative softmax
    ro = net.readout
    al = ro.params.values()["alpha"].double()
    I = h @ ro.ff.linear.weight.double().T
    u = torch.zeros(2, 2, dtype=torch.float64)
    us = []
    for t in range(12):
        u = al * u + (1 - al) * I[:, t]
        us.append(u)
    us = torch.stack(us, 1)
    assert torch.allclose(out.readout.double(), us, atol=1e-5)
    assert torch.allclose(out.logits.double(), torch.softmax(us, -1).sum(1), atol=1e-5)


@pytest.mark.parametrize("model", snn_models())
def test_every_snn_model_builds_runs_and_backpropagates(model):
    net = build_model(cfg(model))
    x = (torch.rand(4, 10, 6) < 0.4).float()
    out = net(x)
    assert out.logits.shape == (4, 3) and out.readout.shape == (4, 10, 3)
    assert len(out.layer_spikes) == hidden_layers(net.cfg) == 2
    assert all(s.shape == (4, 10, 5) for s in out.layer_spikes)
    assert all(set(torch.unique(s).tolist()) <= {0.0, 1.0} for s in out.layer_spikes)
    out.logits.sum().backward()
    assert net.layers[0].ff.linear.weight.grad is not None
    assert len(net.firing_rates(out)) == 2 and all(0 <= r <= 1 for r in firing_rates(out))


@pytest.mark.parametrize("model", ["mlp", "rnn", "libru", "gru"])
def test_every_ann_builds_runs_and_backpropagates(model):
    net = build_model(cfg(model))
    x = torch.rand(4, 10, 6)
    out = net(x)
    assert out.logits.shape == (4, 3) and out.readout.shape == (4, 10, 3)
    assert all(a.shape == (4, 10, 5) for a in out.layer_spikes)
    out.logits.sum().backward()


def test_ann_cumsoftmax_readout_is_linear_of_summed_softmax():
    net = build_model(cfg("mlp", batch_norm=False, dropout=0.0))
    x = torch.rand(2, 7, 6)
    out = net(x)
    h = out.layer_spikes[-1]
    expected = torch.softmax(h, -1).sum(1) @ net.readout.linear.weight.T
    assert torch.allclose(out.logits, expected, atol=1e-5)
    # the MLP layer: sigmoid(W x)
    first = torch.sigmoid(x @ net.layers[0].ff.linear.weight.T)
    assert torch.allclose(out.layer_spikes[0], first, atol=1e-6)


def test_ann_spike_count_readout_is_refused():
    with pytest.raises(SnnDeployError, match="spike_count.*ANN"):
        build_model(cfg("gru", readout="spike_count"))


def test_parameters_initialised_in_range_and_clamped_every_forward():
    net = build_model(cfg("radlif"))
    p = net.layers[0].params
    assert ALPHA_RANGE[0] <= p.alpha.min() and p.alpha.max() <= ALPHA_RANGE[1]
    assert BETA_RANGE[0] <= p.beta.min() and p.beta.max() <= BETA_RANGE[1]
    assert -1 <= p.a.min() and p.a.max() <= 1 and 0 <= p.b.min() and p.b.max() <= 2
    with torch.no_grad():
        p.alpha.fill_(5.0)
        p.beta.fill_(-3.0)
        p.a.fill_(7.0)
        p.b.fill_(-1.0)
    v = p.values()
    assert torch.allclose(v["alpha"], torch.full((5,), ALPHA_RANGE[1]))
    assert torch.allclose(v["beta"], torch.full((5,), BETA_RANGE[0]))
    assert v["a"].eq(1.0).all() and v["b"].eq(0.0).all()
    # ... and the forward pass uses the clamped values: same output as with in-range values
    x = (torch.rand(2, 6, 6) < 0.5).float()
    net.eval()
    out_clamped = net(x)
    with torch.no_grad():
        p.alpha.fill_(ALPHA_RANGE[1])
        p.beta.fill_(BETA_RANGE[0])
        p.a.fill_(1.0)
        p.b.fill_(0.0)
    assert torch.equal(net(x).readout, out_clamped.readout)


def test_cuba_and_spikgru_clamp_to_unit_interval():
    net = build_model(cfg("cuba_lif"))
    with torch.no_grad():
        net.layers[0].params.alpha.fill_(1.5)
        net.layers[0].params.beta.fill_(-0.5)
    v = net.layers[0].params.values()
    assert v["alpha"].eq(UNIT_RANGE[1]).all() and v["beta"].eq(UNIT_RANGE[0]).all()


@pytest.mark.parametrize("model", ["cuba_lif", "radlif"])
def test_shared_decays_one_value_per_layer_same_forward_and_summed_gradient(model):
    """``shared_decays``: each decay (alpha, beta) is one parameter per layer, readout included; the forward
    equals a per-neuron model holding that value everywhere, and its gradient is the per-neuron gradients' sum."""
    reset = "zero" if model == "cuba_lif" else "subtract"
    shared = build_model(cfg(model, shared_decays=True, hidden=12, dropout=0.0, reset=reset))
    per_neuron = build_model(cfg(model, hidden=12, dropout=0.0, reset=reset))
    per_neuron.load_state_dict({k: v.expand_as(per_neuron.state_dict()[k]) for k, v in shared.state_dict().items()})
    decays = [(n, p) for n, p in shared.named_parameters() if n.split(".")[-1] in ("alpha", "beta")]
    assert decays and all(p.shape == (1,) for _, p in decays)
    assert shared.layers[0].params.values()["alpha"].shape == (12,)
    if model == "radlif":
        assert shared.layers[0].params.a.shape == (12,)      # adaptation couplings stay per neuron
    x = (torch.rand(4, 30, 6, generator=torch.Generator().manual_seed(3)) < 0.6).float()
    out_s, out_p = shared(x), per_neuron(x)
    assert torch.allclose(out_s.readout, out_p.readout, atol=1e-6)
    assert float(out_s.layer_spikes[0].mean()) > 0.01                   # guard: spikes drive the gradient
    (out_s.readout ** 2).sum().backward()
    (out_p.readout ** 2).sum().backward()
    grads = dict(per_neuron.named_parameters())
    for name, p in decays:
        assert p.grad.abs().sum() > 0, name
        assert torch.allclose(p.grad, grads[name].grad.sum().reshape(1), rtol=1e-4, atol=1e-6), name
    with pytest.raises(SnnDeployError, match="shared_decays is for spiking models"):
        cfg("gru", shared_decays=True)


def test_recurrent_diagonal_is_zero_after_forward_and_gets_no_gradient():
    net = build_model(cfg("rlif"))
    rec = net.layers[0].rec
    with torch.no_grad():
        rec.weight.fill_diagonal_(3.0)   # as an optimizer with weight decay or a bad load could
    out = net((torch.rand(3, 8, 6) < 0.5).float())
    out.logits.sum().backward()
    assert torch.all(torch.diagonal(rec.effective()) == 0)
    assert torch.all(torch.diagonal(rec.weight.grad) == 0)


def test_sparsity_masks_exact_fraction_and_stay_applied_after_optimizer_step():
    net = build_model(cfg("radlif", sparsity=0.5, hidden=8))
    ff = net.layers[1].ff
    rec = net.layers[1].rec
    assert int(ff.mask.sum()) == 32           # 8x8 = 64 weights, half removed
    assert int(rec.keep.sum()) == 28           # 56 off-diagonal weights, half removed
    opt = torch.optim.Adam(net.parameters(), lr=0.1, weight_decay=0.1)
    x = (torch.rand(4, 10, 6) < 0.5).float()
    for _ in range(3):
        opt.zero_grad()
        net(x).logits.sum().backward()
        opt.step()
    assert torch.all(ff.weight()[ff.mask == 0] == 0)
    assert torch.all(rec.effective()[rec.keep == 0] == 0)
    # masked raw weights have no influence even if something writes into them
    net.eval()
    before = net(x).readout
    with torch.no_grad():
        ff.linear.weight[ff.mask == 0] = 100.0
        rec.weight[rec.keep == 0] = 100.0
    assert torch.equal(net(x).readout, before)
    # masks are buffers (saved with the state dict)
    assert "layers.1.ff.mask" in net.state_dict() and "layers.1.rec.keep" in net.state_dict()


def test_build_model_is_seeded_and_leaves_global_rng_alone():
    torch.manual_seed(123)
    ref = torch.rand(1)
    torch.manual_seed(123)
    a = build_model(cfg("adlif", seed=7, sparsity=0.3))
    after = torch.rand(1)
    b = build_model(cfg("adlif", seed=7, sparsity=0.3))
    c = build_model(cfg("adlif", seed=8, sparsity=0.3))
    assert torch.equal(ref, after)
    sa, sb, sc = a.state_dict(), b.state_dict(), c.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert not torch.equal(sa["layers.0.ff.linear.weight"], sc["layers.0.ff.linear.weight"])


def test_batchnorm_over_batch_and_time_with_momentum_005():
    net = build_model(cfg("lif"))
    bn = net.layers[0].ff.norm
    assert bn.momentum == 0.05
    x = torch.rand(3, 9, 6)
    net.train()
    net(x)
    wx = (x @ net.layers[0].ff.linear.weight.T).reshape(-1, 5)
    assert torch.allclose(bn.running_mean, 0.05 * wx.mean(0), atol=1e-6)


def test_dropout_only_in_training_and_not_on_recorded_spikes():
    net = build_model(cfg("adlif", dropout=0.5))
    x = (torch.rand(4, 10, 6) < 0.5).float()
    net.eval()
    a, b = net(x), net(x)
    assert torch.equal(a.logits, b.logits)
    assert all(set(torch.unique(s).tolist()) <= {0.0, 1.0} for s in a.layer_spikes)


def test_readout_modes_by_hand():
    u = torch.tensor([[[0.0, 1.0], [2.0, -1.0], [1.0, 3.0]]])  # [1, 3, 2]
    assert readout_logits(u, "last").tolist() == [[1.0, 3.0]]
    assert readout_logits(u, "max").tolist() == [[2.0, 3.0]]
    sm = torch.softmax(u, -1).sum(1)
    assert torch.allclose(readout_logits(u, "cumsoftmax"), sm)
    s = torch.tensor([[[0.0, 1.0], [1.0, 1.0], [0.0, 1.0]]])
    assert readout_logits(u, "spike_count", s).tolist() == [[1.0, 3.0]]
    with pytest.raises(SnnDeployError, match="unknown readout"):
        readout_logits(u, "mean")


def test_spike_count_readout_is_spiking_lif():
    net = build_model(cfg("lif", readout="spike_count"))
    out = net((torch.rand(2, 8, 6) < 0.5).float())
    assert out.readout_spikes is not None and torch.equal(out.logits, out.readout_spikes.sum(1))


def test_unknown_model_surrogate_and_bad_input_are_clear_errors():
    with pytest.raises(SnnDeployError, match="unknown model 'lstm'"):
        ModelConfig(model="lstm", input_size=4, num_classes=2)
    with pytest.raises(SnnDeployError, match="unknown surrogate 'step'"):
        build_model(cfg("lif", surrogate="step"))
    with pytest.raises(SnnDeployError, match="hidden must be a positive"):
        cfg("lif", hidden=0)
    with pytest.raises(SnnDeployError, match=r"\[batch, time, 6\]"):
        build_model(cfg("lif"))(torch.zeros(2, 5, 7))


def test_surrogate_params_reach_the_model():
    net = build_model(cfg("lif", surrogate="triangle", surrogate_params={"height": 0.3}))
    assert net.spike_fn.name == "triangle" and net.spike_fn.height == 0.3


def test_all_models_listed_in_config_are_buildable():
    for m in all_models():
        assert isinstance(build_model(cfg(m, layers=2, hidden=3)), torch.nn.Module)


def test_ann_exports_to_onnx_and_matches():
    ort = pytest.importorskip("onnxruntime")
    import io

    for model in ("mlp", "rnn", "libru", "gru"):
        net = build_model(cfg(model, layers=2, hidden=4)).eval()

        class Logits(torch.nn.Module):
            def __init__(self, m):
                super().__init__()
                self.m = m

            def forward(self, x):
                return self.m(x).logits

        x = torch.rand(2, 5, 6)
        buf = io.BytesIO()
        torch.onnx.export(Logits(net).eval(), (x,), buf, input_names=["x"], output_names=["logits"], opset_version=17,
                          **TORCHSCRIPT_EXPORTER)
        net.eval()  # export restores the wrapper's (training) mode on the whole tree
        sess = ort.InferenceSession(buf.getvalue(), providers=["CPUExecutionProvider"])
        got = sess.run(None, {"x": x.numpy()})[0]
        np.testing.assert_allclose(got, net(x).logits.detach().numpy(), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("neuron_name, recurrent, surrogate", [
    ("lif", False, "boxcar"), ("lif", True, "triangle"), ("adlif", False, "boxcar"),
    ("adlif", True, "boxcar"), ("adlif", True, "sigmoid"), ("li", False, "boxcar"),
])
def test_fused_scan_gradients_equal_autograd_through_step(neuron_name, recurrent, surrogate):
    """The hand-written backward (train/fused.py) against autograd through the step function, float64."""
    from snn_deploy.train.fused import fused_scan
    from snn_deploy.train.layers import scan
    from snn_deploy.train.neurons import NEURON_MODELS

    neuron = NEURON_MODELS[neuron_name]
    g = torch.Generator().manual_seed(4)
    B, T, N = 3, 9, 4
    spike_fn = get_surrogate(surrogate)
    I = (torch.randn(B, T, N, generator=g, dtype=torch.float64) * 2 + 0.8).requires_grad_()
    V = torch.randn(N, N, generator=g, dtype=torch.float64).requires_grad_() if recurrent else None
    ranges = {"alpha": (0.4, 0.9), "beta": (0.4, 0.9), "a": (-1.0, 1.0), "b": (0.0, 2.0)}
    vals = {}
    for spec in neuron.specs:
        lo, hi = ranges[spec.name]
        vals[spec.name] = (lo + (hi - lo) * torch.rand(N, generator=g, dtype=torch.float64)).requires_grad_()
    w_out = torch.randn(B, T, N, generator=g, dtype=torch.float64)
    w_pot = torch.randn(B, T, N, generator=g, dtype=torch.float64)
    inputs = [I] + ([V] if recurrent else []) + list(vals.values())

    out, pot = scan(neuron, neuron.make_params(vals), I, spike_fn, V=V, record_potential=True)
    ref = torch.autograd.grad((out * w_out).sum() + (pot * w_pot).sum(), inputs)
    out2, pot2 = fused_scan(neuron, vals, I, spike_fn, V=V)
    got = torch.autograd.grad((out2 * w_out).sum() + (pot2 * w_pot).sum(), inputs)

    assert torch.equal(out, out2) and torch.allclose(pot, pot2, atol=1e-12)
    if neuron.spiking:
        assert 0 < float(out.mean()) < 1   # guard: spikes and silences
    for r, q in zip(ref, got):
        assert float(r.abs().max()) > 0
        assert torch.allclose(r, q, atol=1e-10, rtol=1e-10)


def test_model_uses_fused_scan_in_training_and_matches_autograd_loop():
    net = build_model(cfg("radlif", dropout=0.0, hidden=6))
    x = (torch.rand(4, 12, 6, generator=torch.Generator().manual_seed(2)) < 0.5).float()
    grads = []
    for fused in (True, False):
        for m in net.modules():
            if hasattr(m, "fused"):
                m.fused = fused
        net.zero_grad()
        torch.nn.functional.cross_entropy(net(x).logits, torch.tensor([0, 1, 2, 0])).backward()
        grads.append({k: p.grad.clone() for k, p in net.named_parameters()})
    for k in grads[0]:
        assert torch.allclose(grads[0][k], grads[1][k], atol=1e-5, rtol=1e-4), k


@pytest.mark.parametrize("model", ["cuba_lif", "spikgru"])
def test_paper2_layers_match_independent_loop(model):
    """CUBA-LIF (Eq. 3-5) and SpikGRU (Eq. 6-9) layers, recurrent U (and U_z) with zero diagonal,
    against an independent float64 loop of paper 2's equations (no BN so W is used as is)."""
    net = build_model(cfg(model, batch_norm=False, dropout=0.0, input_size=4, hidden=3, layers=2)).eval()
    layer = net.layers[0]
    with torch.no_grad():
        layer.ff.linear.weight.abs_().mul_(3.0)
    x = (torch.rand(2, 10, 4, generator=torch.Generator().manual_seed(6)) < 0.5).float()
    s_mod = layer(x).double()
    v = {k: t.double() for k, t in layer.params.values().items()}
    W = layer.ff.linear.weight.double()
    U = layer.rec.weight.double().clone().fill_diagonal_(0)
    i = vv = s = torch.zeros(2, 3, dtype=torch.float64)
    out = []
    for t in range(10):
        i = v["alpha"] * i + x[:, t].double() @ W.T + s @ U.T                       # Eq. 3 / 6
        if model == "cuba_lif":
            vv = v["beta"] * vv + (1 - v["beta"]) * i - s                           # Eq. 4
        else:
            Wz = layer.ff_gate.linear.weight.double()
            Uz = layer.rec_gate.weight.double().clone().fill_diagonal_(0)
            z = torch.sigmoid(x[:, t].double() @ Wz.T + s @ Uz.T)                  # Eq. 7
            vv = z * vv + (1 - z) * i - s                                           # Eq. 8
        s = (vv > 1).double()                                                       # Eq. 5 / 9
        out.append(s)
    expected = torch.stack(out, 1)
    assert 0 < float(expected.mean()) < 1
    assert torch.equal(s_mod, expected)
