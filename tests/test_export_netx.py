"""netx HDF5 export: file layout as lava-dl reads it, expressibility rules (checked against lava-dl's own
weight packing), and the decisive run: netx.net loaded by lava-dl, run on Lava's fixed-point
simulator, spikes (and voltages) equal to the emulator's at every layer and step."""
import json
import re

import h5py
import numpy as np
import pytest

from snn_deploy.convert import fixed_point as fp
from snn_deploy.convert.export_netx import (NETX_BIAS_EXP, NetxExportError, _weight_range_problem,
                                            export_netx, is_netx_expressible, netx_plan)
from snn_deploy.convert.emulator import emulate
from snn_deploy.ir import DenseNode, Edge, InputNode, Network, NeuronNode, Precision

C, H1, H2, K = 10, 12, 8, 4


def cuba(name, size, du, dv, vth, bias_mant=0, bias_exp=NETX_BIAS_EXP):
    return NeuronNode(name, "cuba_lif", size, reset="zero", params={
        "du": np.full(size, du), "dv": np.full(size, dv), "vth": np.full(size, vth),
        "bias_mant": np.broadcast_to(np.asarray(bias_mant), (size,)).copy(), "bias_exp": np.full(size, bias_exp)})


def fixed_net(readout: bool = True, seed: int = 0) -> Network:
    """input -> h1 (CUBA, recurrent, bias) -> h2 (CUBA) [-> li readout]; three weight exponents."""
    rng = np.random.default_rng(seed)
    nodes = [
        InputNode("input", C),
        DenseNode("fc1", rng.integers(-30, 64, (H1, C)) * 2, weight_exp=1),    # effective [-120, 252]
        DenseNode("rec1", rng.integers(-100, 50, (H1, H1)) * 2 * (1 - np.eye(H1, dtype=np.int64))),
        cuba("h1", H1, du=700, dv=250, vth=300, bias_mant=rng.integers(-2, 4, H1), bias_exp=7),
        DenseNode("fc2", rng.integers(-40, 120, (H2, H1)) * 2, weight_exp=-1),  # even: exact as effective
        cuba("h2", H2, du=3000, dv=90, vth=150),
    ]
    edges = [Edge("input", "fc1"), Edge("fc1", "h1"), Edge("h1", "rec1"), Edge("rec1", "h1"),
             Edge("h1", "fc2"), Edge("fc2", "h2")]
    if readout:
        nodes += [DenseNode("fc_out", rng.integers(-15, 15, (K, H2)) * 2),
                  NeuronNode("readout", "li", K, params={"dv": np.full(K, 400), "bias_mant": np.arange(K) - 1,
                                                         "bias_exp": np.full(K, 6)})]
        edges += [Edge("h2", "fc_out"), Edge("fc_out", "readout")]
    output = "readout" if readout else "h2"
    return Network(nodes, edges, meta={"output": output},
                   precision=Precision("loihi2", "test", layers={output: {"scale": 1.0}})).validate()


# ---- layout --------------------------------------------------------------------------------------

def test_file_layout_is_what_netx_reads(tmp_path):
    netx_utils = pytest.importorskip("lava.lib.dl.netx.utils")
    net = fixed_net()
    plan = netx_plan(net)
    assert [(l.name, l.kind, l.size) for l in plan.layers] == [("h1", "dense_rec", H1), ("h2", "dense", H2),
                                                                ("readout", "dense", K)]
    path = export_netx(net, tmp_path / "netx.net")
    cfg = netx_utils.NetDict(str(path))
    layers = cfg["layer"]
    assert len(layers) == 4
    assert layers[0]["type"] == "input" and list(layers[0]["shape"]) == [C]
    assert [layers[i]["type"] for i in (1, 2, 3)] == ["dense_rec", "dense", "dense"]
    assert [int(np.prod(layers[i]["shape"])) for i in (1, 2, 3)] == [H1, H2, K]
    h1 = layers[1]
    np.testing.assert_array_equal(h1["weight"], np.asarray(net.node("fc1").weight) * 2)
    np.testing.assert_array_equal(h1["weight_rec"], net.node("rec1").weight)
    np.testing.assert_array_equal(h1["bias"], net.node("h1").params["bias_mant"] * 2)  # exp 7 -> 6
    np.testing.assert_array_equal(layers[2]["weight"], np.asarray(net.node("fc2").weight) // 2)
    assert "bias" not in layers[2].keys()
    n1 = h1["neuron"]
    assert n1["type"] == "CUBA"
    assert (int(n1["iDecay"]), int(n1["vDecay"]), int(n1["vThMant"])) == (701, 250, 300)  # netx: du = iDecay - 1
    ro = layers[3]["neuron"]
    assert (int(ro["iDecay"]), int(ro["vDecay"]), int(ro["vThMant"])) == (fp.DECAY_UNITY, 400, fp.THRESHOLD_MANT_MAX)
    with h5py.File(path, "r") as f:
        assert f["layer/1/weight"].dtype.kind == "i"
        assert json.loads(f.attrs["layer_names"]) == ["input", "h1", "h2", "readout"]


# ---- expressibility ----------------------------------------------------------------------------

def _edit(fn):
    net = fixed_net()
    fn(net)
    return net


@pytest.mark.parametrize("edit,message", [
    (lambda n: setattr(n, "precision", None), "fixed-point network"),
    (lambda n: setattr(n.node("h2"), "reset", "subtract"), "'h2': model cuba_lif with reset 'subtract'"),
    (lambda n: n.node("h1").params.__setitem__("du", np.arange(H1)), "'h1': du differs between neurons"),
    (lambda n: n.node("h2").params.__setitem__("vth", np.full(H2, fp.THRESHOLD_MANT_MAX + 1)), "'h2': vth"),
    (lambda n: setattr(n.node("input"), "encoding", "graded"), "unary spike input"),
    (lambda n: setattr(n.node("fc2"), "weight", np.asarray(n.node("fc2").weight) + 1), "weight exponent -1 floors"),
    (lambda n: setattr(n.node("rec1"), "weight", np.asarray(n.node("rec1").weight) + 1), "'rec1': field 'weight' value"),
    (lambda n: setattr(n.node("fc1"), "weight_exp", 2), r"\[-256, 254\]"),
    (lambda n: setattr(n.node("fc2"), "bias", np.ones(H2)), "'fc2' carries a bias"),
    (lambda n: n.node("h1").params.__setitem__("bias_exp", np.full(H1, 3)), "multiple of 64"),
    (lambda n: n.node("readout").params.__setitem__("dv", np.full(K, 0)), "'readout'.*unbounded"),
    (lambda n: (setattr(n.node("fc_out"), "weight", np.full((K, H2), 250)),
                n.node("readout").params.__setitem__("dv", np.full(K, 40))), "'readout'.*never reach its threshold"),
])
def test_not_expressible_gives_the_reason(tmp_path, edit, message):
    net = _edit(edit)
    ok, reason = is_netx_expressible(net)
    assert not ok
    assert re.search(message, reason), reason
    with pytest.raises(NetxExportError, match=message):
        export_netx(net, tmp_path / "netx.net")
    assert not (tmp_path / "netx.net").exists()


def test_non_cuba_models_and_skip_connections_are_refused():
    rng = np.random.default_rng(0)
    lif = Network([InputNode("x", 3), DenseNode("w", rng.integers(-5, 5, (2, 3))),
                   NeuronNode("h", "lif", 2, params={"dv": 1, "vth": 5, "bias_mant": 0, "bias_exp": 0})],
                  [Edge("x", "w"), Edge("w", "h")], precision=Precision("loihi2", "t")).validate()
    assert "model lif is not netx-expressible" in is_netx_expressible(lif)[1]
    net = fixed_net(readout=False)
    net.nodes.append(DenseNode("skip", rng.integers(-5, 5, (H2, C))))
    net.edges += [Edge("input", "skip"), Edge("skip", "h2")]
    ok, reason = is_netx_expressible(net.validate())
    assert not ok and "'h2'" in reason and "exactly one dense from 'h1'" in reason
    assert is_netx_expressible(fixed_net()) == (True, "")


def _lava_reproduces(w: np.ndarray) -> bool:
    """Whether lava-dl + Lava's Dense multiply spikes by exactly ``w``: netx's packing (shift, exponent),
    then Dense's clip and truncation must leave ``w * 2^-exp`` intact, so that every sum of weights
    shifted back by the exponent is the sum of ``w`` (a per-weight check would miss the flooring)."""
    netx_utils = pytest.importorskip("lava.lib.dl.netx.utils")
    from lava.utils.weightutils import clip_weights, determine_sign_mode, truncate_weights

    packed, bits, exp, _ = netx_utils.optimize_weight_bits(w.copy())
    mode = determine_sign_mode(packed)
    loaded = truncate_weights(clip_weights(packed, mode, num_bits=8), mode, bits).astype(np.int64)
    return bool(np.array_equal(loaded, w << -exp) if exp <= 0 else np.array_equal(loaded << exp, w))


def test_weight_rule_agrees_with_lava_dl_packing(capsys):
    rng = np.random.default_rng(5)
    cases = [np.array([[lo, hi]]) for lo, hi in [(-256, 254), (-256, 255), (-257, 3), (-1, 1), (-128, 127),
                                                 (-3, 0), (-4, 0), (-256, 0), (-255, 0), (-200, -7), (-64, -64),
                                                 (0, 255), (0, 256), (3, 3), (1, 1), (-96, 40),
                                                 (-255, 0), (-254, 0), (-129, 0), (-128, 0), (-127, 0)]]
    for _ in range(600):
        scale = int(rng.choice([1, 2, 8, 64, 128, 129, 200, 256, 300]))
        lo = int(rng.integers(-scale, 1))
        hi = int(rng.integers(lo, scale + 1)) if rng.random() < 0.7 else 0
        if lo == hi == 0:
            continue
        cases.append(rng.integers(lo, hi + 1, (3, 5)) << int(rng.integers(0, 3)))
    accepted = refused = 0
    with np.errstate(divide="ignore", invalid="ignore"):
        for w in cases:
            ok = _weight_range_problem(w) == ""
            assert ok == _lava_reproduces(w), (w, _weight_range_problem(w))
            accepted, refused = accepted + ok, refused + (not ok)
    capsys.readouterr()  # netx prints warnings for the matrices it clips
    assert accepted > 50 and refused > 20


# ---- the decisive run: Lava's own processes, loaded by lava-dl from our file ---------------------

def zoo_net() -> Network:
    """The real pipeline: a CUBA-LIF model of the zoo (reset to zero, decays shared per layer as Lava's LIF
    needs), model_to_ir, quantize_network with weight_exp 0 (so every exponent is netx-expressible)."""
    pytest.importorskip("torch")
    from snn_deploy.convert.quantize import quantize_network
    from snn_deploy.train.config import ModelConfig
    from snn_deploy.train.export import model_to_ir
    from snn_deploy.train.models import build_model

    cfg = ModelConfig(model="cuba_lif", input_size=C, num_classes=K, layers=3, hidden=H1, reset="zero", seed=4)
    net = model_to_ir(build_model(cfg).eval(), cfg)
    for pop in net.neuron_nodes():
        for key in ("alpha", "beta"):
            if key in pop.params:
                pop.params[key] = np.full(pop.size, float(np.mean(pop.params[key])), np.float32)
    for dense in net.dense_nodes():  # untrained weights barely drive the neurons
        dense.weight = dense.weight * np.float32(3.0)
    return quantize_network(net, "loihi2", {"model": {"weight_exp": 0}})


def run_netx_on_lava(path, x: np.ndarray, steps: int,
                     input_message_bits: int = 0) -> tuple[list[str], list[np.ndarray], list[np.ndarray]]:
    """Load ``path`` with lava-dl (``input_message_bits`` as a user passes it), inject ``x [T, C]`` through a
    ring buffer, run ``steps`` on Lava's fixed-point simulator; per layer block: type name, spikes
    [steps, N] and LIF voltage v [steps, N]."""
    netx = pytest.importorskip("lava.lib.dl.netx")
    from lava.magma.core.run_conditions import RunSteps
    from lava.magma.core.run_configs import Loihi2SimCfg
    from lava.proc.io.sink import RingBuffer as Sink
    from lava.proc.io.source import RingBuffer as Source
    from lava.proc.monitor.process import Monitor

    lava_net = netx.hdf5.Network(net_config=str(path), input_message_bits=input_message_bits)
    data = np.zeros((x.shape[1], steps), dtype=np.int64)
    data[:, :len(x)] = x.T
    source = Source(data=data)
    source.s_out.connect(lava_net.inp)
    sinks, monitors = [], []
    for block in lava_net.layers:
        sink = Sink(shape=block.out.shape, buffer=steps)
        block.out.connect(sink.a_in)
        sinks.append(sink)
        monitor = Monitor()
        monitor.probe(block.neuron.v, steps)
        monitors.append((monitor, block.neuron))
    try:
        lava_net.run(condition=RunSteps(num_steps=steps), run_cfg=Loihi2SimCfg(select_tag="fixed_pt"))
        spikes = [s.data.get().astype(np.int64).T for s in sinks]
        volts = [np.asarray(m.get_data()[n.name]["v"]).astype(np.int64).reshape(steps, -1) for m, n in monitors]
    finally:
        lava_net.stop()
    return [type(b).__name__ for b in lava_net.layers], spikes, volts


@pytest.mark.lava
@pytest.mark.parametrize("which", ["hand-made", "zoo-quantized"])
def test_netx_run_on_lava_equals_the_emulator(tmp_path, which):
    """Compared with ``emulate(..., pipeline_reset=False)``: the network lava-dl builds from the HDF5
    file has no Reset processes (netx has no way to declare them, and a lava-dl user runs it as
    loaded), so every population integrates its bias during its lead-in and keeps that state. Our own
    Lava graph (deploy/) adds the resets and is compared with the default emulation in
    test_deploy_lava.py. The hand-made network has biases, so there the two emulations differ."""
    net = fixed_net(readout=True) if which == "hand-made" else zoo_net()
    path = export_netx(net, tmp_path / "netx.net")
    T = 24
    x = (np.random.default_rng(1).random((T, C)) < 0.35).astype(np.int64)
    emu = emulate(net, x[None], record_state=True, pipeline_reset=False)
    if which == "hand-made":
        assert not np.array_equal(emulate(net, x[None], record_state=True).states["h1"]["v"], emu.states["h1"]["v"])
    assert emu.depth == {"h1": 1, "h2": 2, "readout": 3}  # one step of delay per synaptic hop
    blocks, spikes, volts = run_netx_on_lava(path, x, emu.num_steps)
    assert blocks == ["RecurrentDense", "Dense" if which == "hand-made" else "RecurrentDense", "Dense"]
    for name, lava_spikes in zip(("h1", "h2"), spikes[:2]):
        ours = emu.spikes[name][0].astype(np.int64)
        assert ours.sum() >= 10 and lava_spikes.sum() >= 10, f"{name}: too few spikes to compare"
        assert ours.mean() < 0.8, f"{name}: saturated activity"
        np.testing.assert_array_equal(lava_spikes, ours, err_msg=f"spikes of layer {name}")
    assert spikes[2].sum() == 0  # the li readout never reaches its (maximal) threshold
    for name, var, v in zip(("h1", "h2", "readout"), ("v", "v", "u"), volts):
        ours = emu.states[name][var][0]
        assert np.ptp(ours) > 0
        np.testing.assert_array_equal(v, ours, err_msg=f"voltage of layer {name}")
    np.testing.assert_array_equal(volts[2], emu.potentials["readout"][0])  # the li output is its potential


@pytest.mark.lava
def test_netx_reads_spike_counts_exactly_when_loaded_with_the_recorded_message_bits(tmp_path):
    """Count input (up to 4 spikes per bin): loaded as convert says (the file's input_message_bits),
    netx equals the emulator; with netx's default (0: binary) it does not."""
    import h5py

    from snn_deploy.convert.export_netx import ATTR_INPUT_MESSAGE_BITS, input_message_bits_for

    net = fixed_net(readout=True)
    T = 24
    x = np.random.default_rng(2).integers(0, 5, size=(T, C)) * (np.random.default_rng(3).random((T, C)) < 0.4)
    assert x.max() == 4
    bits = input_message_bits_for(int(x.max()))
    path = export_netx(net, tmp_path / "netx.net", input_message_bits=bits)
    with h5py.File(path, "r") as f:
        assert int(f.attrs[ATTR_INPUT_MESSAGE_BITS]) == bits == 8
    emu = emulate(net, x[None], record_state=True, pipeline_reset=False)
    _, spikes, volts = run_netx_on_lava(path, x, emu.num_steps, input_message_bits=bits)
    for name, lava_spikes in zip(("h1", "h2"), spikes[:2]):
        assert lava_spikes.sum() >= 10
        np.testing.assert_array_equal(lava_spikes, emu.spikes[name][0].astype(np.int64), err_msg=name)
    np.testing.assert_array_equal(volts[2], emu.potentials["readout"][0])
    _, binary, _ = run_netx_on_lava(path, x, emu.num_steps)
    assert not np.array_equal(binary[0], spikes[0]), "netx's default reads counts as single spikes"


def test_input_message_bits_for_counts():
    from snn_deploy.convert.export_netx import input_message_bits_for, netx_load_hint

    assert input_message_bits_for(0) == input_message_bits_for(1) == 0
    assert input_message_bits_for(4) == input_message_bits_for(255) == input_message_bits_for(None) == 8
    assert input_message_bits_for(256) == 9
    with pytest.raises(NetxExportError, match="at most 24"):
        input_message_bits_for(1 << 24)
    assert "input_message_bits=8" in netx_load_hint(8) and "input_message_bits" not in netx_load_hint(0)


def test_input_bits_are_binary_only_when_the_binning_is_or_the_data_shows_counts():
    """A convert run reads --limit samples: 0/1 counts in them do not make count-binned data binary."""
    from types import SimpleNamespace

    from snn_deploy.convert.pipeline import _netx_input

    counts, binary = SimpleNamespace(meta={"binary": False}), SimpleNamespace(meta={"binary": True})
    ones = np.array([[[0, 1, 1]]], np.uint8)
    assert _netx_input(counts, ones)["input_message_bits"] == 8          # count data, a 0/1 sample
    assert _netx_input(binary, ones)["input_message_bits"] == 0
    assert _netx_input(counts, ones * 3)["input_message_bits"] == 8
    assert _netx_input(counts, None)["input_message_bits"] == 8
    assert _netx_input(binary, None)["input_message_bits"] == 0
