"""Quantization of hand-made layers: integers worked by hand, overrides, and float vs fixed agreement."""
import numpy as np
import pytest
import torch

from snn_deploy.convert.emulator import emulate
from snn_deploy.convert.quantize import SCHEME, check_overrides, quantize_network, resolve_precision
from snn_deploy.convert.profiles import load_profile
from snn_deploy.errors import SnnDeployError
from snn_deploy.ir import DenseNode, Edge, InputNode, Network, NeuronNode


def chain(*layers, in_size=2, encoding="spikes"):
    """``layers``: (pop NeuronNode, W, bias) in order; builds input -> fc_<pop> -> pop -> ..."""
    nodes, edges, prev = [InputNode("input", in_size, encoding=encoding)], [], "input"
    for pop, w, b in layers:
        nodes += [DenseNode(f"fc_{pop.name}", np.asarray(w, np.float64), None if b is None else np.asarray(b, np.float64)), pop]
        edges += [Edge(prev, f"fc_{pop.name}"), Edge(f"fc_{pop.name}", pop.name)]
        prev = pop.name
    return Network(nodes, edges, meta={"readout": "cumsoftmax", "output": prev}).validate()


def lif(name, alpha, size=2):
    return NeuronNode(name, "lif", size, params={"alpha": np.asarray(alpha, np.float64), "threshold": np.ones(size)})


def li(name, alpha, size=2):
    return NeuronNode(name, "li", size, params={"alpha": np.full(size, alpha)})


def test_lif_and_readout_integers_worked_by_hand():
    net = chain((lif("h1", [0.75, 0.5]), [[0.5, -0.25], [1.0, 0.125]], [0.1, -0.2]),
                (li("out", 0.5), [[2.0, 0.0], [-0.6, 0.5]], None))
    fx = quantize_network(net, "loihi2")
    # h1: fold (1-alpha) = [0.25, 0.5]: W' = [[0.125, -0.0625], [0.5, 0.0625]], b' = [0.025, -0.1]
    # M = 0.5; lambda(0) = 254 * 64 / 0.5 = 32512 in [2^12, 2^17] -> exp 0; a-scale 508
    # w = 2 round(254 W'): [[2*32, 2*-16], [2*127, 2*16]]
    fc1 = fx.node("fc_h1")
    np.testing.assert_array_equal(fc1.weight, [[64, -32], [254, 32]])
    assert fc1.weight_exp == 0 and fc1.bias is None
    h1 = fx.node("h1")
    np.testing.assert_array_equal(h1.params["vth"], [508, 508])               # round(32512 / 64)
    np.testing.assert_array_equal(h1.params["dv"], [1024, 2048])              # 4096 (1 - alpha)
    np.testing.assert_array_equal(h1.params["bias_mant"], [813, -3251])       # round(b' * 32512)
    np.testing.assert_array_equal(h1.params["bias_exp"], [0, 0])
    assert fx.precision.layers["h1"]["scale"] == pytest.approx(32512.0)
    # out (li, reference 1.0): fold 0.5: [[1.0, 0], [-0.3, 0.25]], M = 1, lambda = 16256, a-scale 254
    # w = 2 round(127 W'): [[254, 0], [2*-38, 2*32]]
    np.testing.assert_array_equal(fx.node("fc_out").weight, [[254, 0], [-76, 64]])
    np.testing.assert_array_equal(fx.node("out").params["dv"], [2048, 2048])
    assert fx.precision.scheme == SCHEME and fx.precision.profile == "loihi2"
    assert fx.precision.layers["out"]["scale"] == pytest.approx(16256.0)
    assert fx.meta["profile"] == "loihi2"


def test_small_weights_get_a_negative_exponent_and_the_threshold_stays_in_its_window():
    net = chain((lif("h1", [0.0], size=1), [[0.011, 0.02]], None))
    fx = quantize_network(net, "loihi2")
    # M = 0.02: lambda(0) = 812800 > 2^17 -> largest e with lambda(e) <= 2^17: e = -3, lambda = 101600
    # a-scale = 1587.5; w = 2 round(W * 1587.5 * 8 / 2) = [2*70, 2*127]; vth = round(101600 / 64) = 1588
    fc = fx.node("fc_h1")
    assert fc.weight_exp == -3
    np.testing.assert_array_equal(fc.weight, [[140, 254]])
    np.testing.assert_array_equal(fx.node("h1").params["vth"], [1588])
    np.testing.assert_array_equal(fx.node("h1").params["dv"], [4096])        # alpha 0: the leak clears v


def test_netx_precision_floors_exponents_at_zero_and_rounds_biases_to_64():
    from snn_deploy.convert.export_netx import NETX_PRECISION, netx_overrides

    net = chain((lif("h1", [0.0], size=1), [[0.011, 0.02]], [0.001]))
    ov = netx_overrides()
    assert ov == {"model": NETX_PRECISION}
    fx = quantize_network(net, "loihi2", ov)
    # as the test above, but e = 0 (not -3): lambda = 254 * 64 / 0.02 = 812800, a-scale 12700
    # w = 2 round(W * 12700 / 2) = [2*70, 2*127]; vth = 12700, above the 2^17 window (noted)
    fc, info = fx.node("fc_h1"), fx.precision.layers["h1"]
    assert fc.weight_exp == 0
    np.testing.assert_array_equal(fc.weight, [[140, 254]])
    np.testing.assert_array_equal(fx.node("h1").params["vth"], [12700])
    assert any("outside [2^12, 2^17]" in n for n in info["notes"])
    # bias 0.001 * 812800 = 812.8 state units -> round(812.8 / 64) = 13 << 6 = 832: moved by 19.2
    p = fx.node("h1").params
    assert (p["bias_mant"][0], p["bias_exp"][0]) == (13, 6)
    assert info["bias_rounded"] == 1 and info["bias_round_max"] == pytest.approx(19.2)
    assert any("multiples of 64" in n for n in info["notes"])
    # the user's overrides stay on top of the netx defaults, and a contradiction is an error
    assert netx_overrides({"model": {"bias_exp": 7}, "layers": {"h1": {}}}) == {
        "model": {"min_weight_exp": 0, "bias_exp": 7}, "layers": {"h1": {}}}
    with pytest.raises(SnnDeployError, match="weight_exp -2 is below min_weight_exp 0"):
        quantize_network(net, "loihi2", netx_overrides({"layers": {"h1": {"weight_exp": -2}}}))


def test_adlif_cuba_and_spikgru_parameters():
    ad = NeuronNode("ad", "adlif", 1, params={"alpha": [0.75], "beta": [0.5], "a": [-0.5], "b": [1.0], "threshold": [1.0]})
    net = chain((ad, [[1.0, 2.0]], None))
    fx = quantize_network(net, "loihi2")
    p = fx.node("ad").params
    lam = fx.precision.layers["ad"]["scale"]            # M = 0.5 -> 32512
    assert lam == pytest.approx(32512.0)
    assert (p["dv"][0], p["dw"][0], p["a_frac"][0]) == (1024, 2048, -512)   # a_frac = 4096 * 0.25 * -0.5
    assert p["b_adapt"][0] == 8128                                          # 0.25 * 1.0 * 32512

    cu = NeuronNode("cu", "cuba_lif", 1, params={"alpha": [0.5], "beta": [0.75], "threshold": [1.0]}, reset="zero")
    fx = quantize_network(chain((cu, [[1.0, -1.0]], [0.4])), "loihi1")
    p = fx.node("cu").params
    # du = round(4096 * 0.5) - 1 (Lava's +1 offset), dv = 4096 * 0.25; W' = 0.25 W: M = 0.25, lambda = 65024
    assert (p["du"][0], p["dv"][0]) == (2047, 1024)
    # bias to v: (1-beta) b / (1 - alpha_q) = 0.25 * 0.4 / 0.5 = 0.2 -> 0.2 * 65024 = 13004.8 -> 13005 = 3251.25 << 2
    assert (p["bias_mant"][0], p["bias_exp"][0]) == (3251, 2)
    assert fx.precision.layers["cu"]["notes"]

    gru = NeuronNode("g", "spikgru", 1, params={"alpha": [0.5], "threshold": [1.0]})
    nodes = [InputNode("input", 2), DenseNode("fc", np.array([[0.5, 0.25]])), DenseNode("gate", np.array([[1.0, -2.0]]), np.array([0.5])), gru]
    edges = [Edge("input", "fc"), Edge("fc", "g"), Edge("input", "gate"), Edge("gate", "g", "gate")]
    fx = quantize_network(Network(nodes, edges, meta={"output": "g"}).validate(), "loihi2")
    # gate scale 2^8: W*256 = [256, -512], max 512 -> exp = ceil(log2(512 / 254)) = 2: w = 2 round(W*256/8)
    # = [64, -128] ; gate bias 0.5 * 256 = 128
    np.testing.assert_array_equal(fx.node("gate").weight, [[64, -128]])
    assert fx.node("gate").weight_exp == 2 and fx.node("g").params["gate_bias"][0] == 128
    assert fx.node("g").params["du"][0] == 2047


def test_override_order_and_unknown_keys():
    net = chain((lif("h1", [0.5, 0.5]), [[0.5, -0.25], [1.0, 0.125]], None),
                (lif("h2", [0.5, 0.5]), [[0.5, -0.25], [1.0, 0.3]], None))
    ov = {"types": {"lif": {"weight_bits": 6}}, "layers": {"h1": {"weight_bits": 7}}}
    prof = load_profile("loihi2")
    assert resolve_precision(net.node("h1"), ov, prof).weight_bits == 7
    assert resolve_precision(net.node("h2"), ov, prof).weight_bits == 6
    fx = quantize_network(net, prof, ov)
    assert np.all(fx.node("fc_h1").weight % 4 == 0) and np.abs(fx.node("fc_h1").weight).max() == 252   # 63 << 2
    assert np.all(fx.node("fc_h2").weight % 8 == 0) and np.abs(fx.node("fc_h2").weight).max() == 248   # 31 << 3
    for bad, msg in [({"layer": {}}, "unknown section"), ({"layers": {"hx": {"weight_bits": 6}}}, "no population 'hx'"),
                     ({"types": {"lif": {"bits": 3}}}, "unknown field"), ({"types": {"adlif": {}}}, "no population of model")]:
        with pytest.raises(SnnDeployError, match=msg):
            check_overrides(bad, net)
    with pytest.raises(SnnDeployError, match="weight_exp"):
        quantize_network(net, prof, {"layers": {"h1": {"weight_exp": 99}}})
    fx = quantize_network(net, prof, {"layers": {"h1": {"weight_exp": 1}}})
    assert fx.node("fc_h1").weight_exp == 1


def test_refuses_non_quantizable_profiles_and_fixed_networks():
    net = chain((lif("h1", [0.5, 0.5]), [[0.5, -0.25], [1.0, 0.125]], None))
    with pytest.raises(SnnDeployError, match="not a quantization target"):
        quantize_network(net, "cmos45nm-int32")
    fx = quantize_network(net, "loihi2")
    with pytest.raises(SnnDeployError, match="already fixed"):
        quantize_network(fx, "loihi2")


@pytest.mark.parametrize("model, gain", [("lif", 6.0), ("cuba_lif", 3.0), ("spikgru", 1.0), ("mthr_lif", 10.0),
                                         ("adlif", 15.0)])
def test_float_and_fixed_agree_on_a_seeded_model(model, gain):
    """High spike agreement, not equality: 8-bit weights move some spike times, and recurrence spreads them."""
    from snn_deploy.train.config import ModelConfig
    from snn_deploy.train.export import model_to_ir
    from snn_deploy.train.ir_runner import run_float_network
    from snn_deploy.train.models import build_model

    torch.manual_seed(0)
    cfg = ModelConfig(model=model, input_size=30, num_classes=4, layers=3, hidden=24, seed=0)
    net = model_to_ir(build_model(cfg).eval(), cfg)
    for d in net.dense_nodes():     # an untrained model is nearly silent: raise its gain
        d.weight = d.weight * gain
    for p in net.neuron_nodes():    # adLIF with a < -(1 - beta) is linearly unstable in float: keep a >= 0
        if "a" in p.params:
            p.params["a"] = np.abs(p.params["a"])
    fx = quantize_network(net, "loihi2")
    x = (np.random.default_rng(0).random((6, 40, 30)) < 0.2).astype(np.float32)
    fr, er = run_float_network(net, x), emulate(fx, x)
    assert fr.spikes["h1"].sum() > 40, "guard: the first layer must spike"
    for pop, s in fr.spikes.items():
        d = er.depth[pop]
        fs, qs = s.numpy() > 0.5, er.spikes[pop][:, d:d + 40] > 0
        assert (fs == qs).mean() > 0.94, f"{pop}: spike agreement {(fs == qs).mean():.3f}"
        assert abs(int(fs.sum()) - int(qs.sum())) <= max(0.15 * int(fs.sum()), 20)


def test_graded_input_gets_an_input_scale_folded_into_the_first_dense():
    from snn_deploy.convert.emulator import encode_inputs

    net = chain((lif("h1", [0.5], size=1), [[1.0, -0.4]], None), encoding="graded")
    fx = quantize_network(net, "loihi2")
    # inputs become round(x * 2^4); W' = 0.5 W / 16 = [0.03125, -0.0125]; lambda(0) = 520192 > 2^17
    # -> e = -2, lambda = 130048, a-scale 2032: w = 2 round(W' * 2032 * 4 / 2) = [2*127, 2*-51]
    assert fx.precision.layers["input"]["scale"] == 16.0
    np.testing.assert_array_equal(fx.node("fc_h1").weight, [[254, -102]])
    assert fx.node("fc_h1").weight_exp == -2 and fx.node("h1").params["vth"][0] == 2032
    np.testing.assert_array_equal(encode_inputs(fx, np.array([[[1.3, -0.7]]])), [[[21, -11]]])
    fx8 = quantize_network(net, "loihi2", {"input": {"frac_bits": 3}})
    assert fx8.precision.layers["input"]["scale"] == 8.0
