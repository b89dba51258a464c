"""The batched integer emulator: graph delays and traces worked by hand, batching, and Lava's own
LIF + Dense processes (``Loihi2SimCfg(select_tag='fixed_pt')``) as the independent reference."""
import numpy as np
import pytest

from snn_deploy.convert.emulator import emulate, num_steps, population_depths, readout_predictions
from snn_deploy.errors import SnnDeployError
from snn_deploy.ir import DenseNode, Edge, InputNode, Network, NeuronNode, Precision


def fixed_net(layers, *, readout=None, in_size, encoding="spikes", meta_readout="cumsoftmax"):
    """``layers``: list of (name, model, size, params, reset, W, exp, Wrec or None, rec_exp)."""
    nodes = [InputNode("input", in_size, encoding=encoding)]
    edges = []
    prev = "input"
    for (name, model, size, params, reset, w, exp, wrec, rexp) in layers:
        nodes.append(DenseNode(f"fc_{name}", np.asarray(w, np.int64), weight_exp=exp))
        edges += [Edge(prev, f"fc_{name}"), Edge(f"fc_{name}", name)]
        if wrec is not None:
            nodes.append(DenseNode(f"rec_{name}", np.asarray(wrec, np.int64), weight_exp=rexp))
            edges += [Edge(name, f"rec_{name}"), Edge(f"rec_{name}", name)]
        nodes.append(NeuronNode(name, model, size, params=params, reset=reset))
        prev = name
    layers_info = {layers[-1][0]: {"scale": 64.0}}
    return Network(nodes, edges, meta={"readout": meta_readout, "output": layers[-1][0]},
                   precision=Precision("loihi2", "test", layers=layers_info)).validate()


def cuba(size, du=409, dv=1024, vth=10, bias=0):
    return dict(du=np.full(size, du), dv=np.full(size, dv), vth=np.full(size, vth),
                bias_mant=np.full(size, bias), bias_exp=np.zeros(size, np.int64))


def li(size, dv=0):
    return dict(dv=np.full(size, dv), bias_mant=np.zeros(size, np.int64), bias_exp=np.zeros(size, np.int64))


def test_one_step_delay_per_hop_and_recurrence_traced_by_hand():
    # input -(w=12)-> h (lif, dv=0, vth=10 -> VTH 640, recurrent w=-4) -(w=2, exp=1)-> out (li, dv=0)
    lif = dict(dv=np.zeros(1, np.int64), vth=np.full(1, 10), bias_mant=np.zeros(1, np.int64), bias_exp=np.zeros(1, np.int64))
    net = fixed_net([("h", "lif", 1, lif, "subtract", [[12]], 0, [[-4]], 0),
                     ("out", "li", 1, li(1), "subtract", [[2]], 1, None, 0)], in_size=1)
    assert population_depths(net) == {"h": 1, "out": 2} and num_steps(net, 3) == 5
    run = emulate(net, np.array([[[1], [0], [0]]]), record_state=True)
    # h: t0 nothing; t1 gets 12<<6 = 768 > 640 spike; t2: v = 768-640 = 128, + rec (-4)<<6 = -256 -> -128
    np.testing.assert_array_equal(run.states["h"]["v"][0, :, 0], [0, 768, -128, -128, -128])
    np.testing.assert_array_equal(run.spikes["h"][0, :, 0], [0, 1, 0, 0, 0])
    # out: the spike of h at t1 arrives at t2 as (2 << 1) << 6 = 256, integrated forever (dv=0)
    np.testing.assert_array_equal(run.potentials["out"][0, :, 0], [0, 0, 256, 256, 256])


def test_pipeline_reset_discards_the_lead_in_traced_by_hand():
    # h (lif, dv=0, VTH 640, bias 100) at depth 1: step 0 integrates only the bias (lead-in), then is zeroed
    lif = dict(dv=np.zeros(1, np.int64), vth=np.full(1, 10), bias_mant=np.full(1, 100), bias_exp=np.zeros(1, np.int64))
    net = fixed_net([("h", "lif", 1, lif, "subtract", [[12]], 0, None, 0),
                     ("out", "li", 1, li(1), "subtract", [[2]], 0, None, 0)], in_size=1)
    run = emulate(net, np.array([[[1], [0], [0]]]), record_state=True)
    # t0: 100 (lead-in, recorded, then reset) ; t1: 0 + 768 + 100 = 868 > 640 spike ; t2: 868 - 640 + 100 = 328
    # t3: 328 + 100 = 428 ; t4: 528  (the float network: u = 868, 328, 428 at its steps 0, 1, 2)
    np.testing.assert_array_equal(run.states["h"]["v"][0, :, 0], [100, 868, 328, 428, 528])
    np.testing.assert_array_equal(run.spikes["h"][0, :, 0], [0, 1, 0, 0, 0])
    # out (depth 2) is zeroed after step 1; h's spike at t1 arrives at t2: (2 << 6) = 128
    np.testing.assert_array_equal(run.potentials["out"][0, :, 0], [0, 0, 128, 128, 128])
    # without the reset the lead-in bias stays: t1: 100 + 768 + 100 = 968 ; t2: 968 - 640 + 100 = 428 ...
    plain = emulate(net, np.array([[[1], [0], [0]]]), record_state=True, pipeline_reset=False)
    np.testing.assert_array_equal(plain.states["h"]["v"][0, :, 0], [100, 968, 428, 528, 628])


def test_batch_equals_samples_and_record_false_keeps_predictions():
    rng = np.random.default_rng(1)
    W1 = 2 * rng.integers(-60, 100, size=(16, 20))
    R1 = 2 * rng.integers(-40, 40, size=(16, 16))
    np.fill_diagonal(R1, 0)
    W2 = 2 * rng.integers(-127, 128, size=(5, 16))
    net = fixed_net([("h1", "cuba_lif", 16, cuba(16), "zero", W1, 0, R1, -1),
                     ("readout", "li", 5, li(5, dv=300), "subtract", W2, 0, None, 0)], in_size=20)
    x = (rng.random((6, 30, 20)) < 0.3).astype(np.uint8)
    full = emulate(net, x)
    assert full.spikes["h1"].shape == (6, 32, 16) and full.potentials["readout"].shape == (6, 32, 5)
    assert full.spikes["h1"].sum() > 20
    for b in range(6):
        one = emulate(net, x[b:b + 1])
        np.testing.assert_array_equal(one.spikes["h1"][0], full.spikes["h1"][b])
        np.testing.assert_array_equal(one.potentials["readout"][0], full.potentials["readout"][b])
    lean = emulate(net, x, record=False)
    assert "h1" not in lean.spikes
    np.testing.assert_array_equal(lean.predictions, full.predictions)


@pytest.mark.parametrize("engine", ["numpy", "compiled"])
def test_batch_slices_on_threads_join_to_the_single_slice_run(engine, monkeypatch):
    """The batch cut into slices run side by side (records written in place at their rows, overflow
    counts summed, scores joined) gives exactly the run of the whole batch as one slice."""
    from snn_deploy.convert import emulator

    if engine == "compiled":
        pytest.importorskip("numba")
    from networks import assert_same_run, seeded_inputs, seeded_network   # tests/networks.py

    net = seeded_network("radlif", bias=8.0)
    x = seeded_inputs(net, 7, 15)
    monkeypatch.setattr(emulator, "_workers", lambda batch: 1)
    whole = emulate(net, x, record_state=True, engine=engine)
    monkeypatch.setattr(emulator, "_workers", lambda batch: 3)       # slices of 3, 2 and 2 samples
    sliced = emulate(net, x, record_state=True, engine=engine)
    assert sum(int(s.sum()) for s in whole.spikes.values()) > 20
    assert_same_run(sliced, whole)


@pytest.mark.parametrize("engine", ["numpy", "compiled", "torch"])
def test_an_empty_batch_gives_empty_records_of_the_right_shapes(engine):
    if engine == "compiled":
        pytest.importorskip("numba")
    from networks import seeded_network   # tests/networks.py

    net = seeded_network("radlif", bias=8.0)
    run = emulate(net, np.zeros((0, 10, 16), np.uint8), record_state=True, engine=engine)
    assert run.num_steps == 13 and run.scores.shape == (0, 4) and run.predictions.shape == (0,)
    assert {k: v.shape for k, v in run.spikes.items()} == {"h1": (0, 13, 12), "h2": (0, 13, 12)}
    assert run.potentials["readout"].shape == (0, 13, 4) and run.states["h1"]["v"].shape == (0, 13, 12)


def test_readout_predictions_modes():
    trace = np.zeros((1, 4, 3))
    trace[0, 1] = [64, 0, 0]
    trace[0, 2] = [0, 128, 0]
    trace[0, 3] = [0, 0, 64]
    s, p = readout_predictions(trace, "max", scale=64.0, first=1, stop=4)
    np.testing.assert_allclose(s[0], [1, 2, 1])
    assert p[0] == 1
    s, p = readout_predictions(trace, "last", scale=64.0, first=1, stop=4)
    assert p[0] == 2
    s, _ = readout_predictions(trace, "cumsoftmax", scale=64.0, first=1, stop=4)
    assert s[0].sum() == pytest.approx(3.0)
    with pytest.raises(SnnDeployError):
        readout_predictions(trace, "mean")


def test_emulator_refuses_float_networks_and_bad_inputs():
    net = fixed_net([("out", "li", 1, li(1), "subtract", [[2]], 0, None, 0)], in_size=1)
    with pytest.raises(SnnDeployError, match="spike counts"):
        emulate(net, np.full((1, 2, 1), 300))
    with pytest.raises(SnnDeployError, match=r"\[batch, time, 1\]"):
        emulate(net, np.zeros((1, 2, 3)))
    net.precision = None
    with pytest.raises(SnnDeployError, match="fixed-point"):
        emulate(net, np.zeros((1, 2, 1)))


@pytest.mark.lava
def test_cuba_lif_zero_reset_equals_lavas_own_lif_and_dense_processes():
    """Lava's own LIF + Dense (+ Lava's Reset for the pipeline reset) against the emulator, every step."""
    pytest.importorskip("lava.proc.lif.process")
    from lava.magma.core.run_conditions import RunSteps
    from lava.magma.core.run_configs import Loihi2SimCfg
    from lava.proc.dense.process import Dense
    from lava.proc.io.reset import Reset
    from lava.proc.io.sink import RingBuffer as Sink
    from lava.proc.io.source import RingBuffer as Source
    from lava.proc.lif.process import LIF
    from lava.proc.monitor.process import Monitor

    from snn_deploy.convert.emulator import reset_steps

    rng = np.random.default_rng(7)
    C, N1, N2, T = 14, 12, 6, 30
    W1 = 2 * rng.integers(-50, 110, size=(N1, C))
    R1 = 2 * rng.integers(-60, 60, size=(N1, N1))
    np.fill_diagonal(R1, 0)
    W2 = 2 * rng.integers(-80, 127, size=(N2, N1))
    p1 = dict(du=500, dv=300, vth=300, bias=300)      # bias 300 << 4 = 4800 per step: the lead-in matters
    p2 = dict(du=1000, dv=200, vth=150, bias=-2)
    bias_exp1, bias_exp2 = 4, 2
    x = (rng.random((T, C)) < 0.35).astype(np.int64)

    def pars(p, n, bexp):
        d = cuba(n, du=p["du"], dv=p["dv"], vth=p["vth"], bias=p["bias"])
        d["bias_exp"] = np.full(n, bexp)
        return d

    net = fixed_net([("h1", "cuba_lif", N1, pars(p1, N1, bias_exp1), "zero", W1, 0, R1, -1),
                     ("h2", "cuba_lif", N2, pars(p2, N2, bias_exp2), "zero", W2, 1, None, 0)], in_size=C)
    run = emulate(net, x[None], record_state=True)
    S = run.num_steps
    resets = reset_steps(net)
    assert resets == {"h1": 0, "h2": 1}

    src = Source(data=np.concatenate([x, np.zeros((S - T, C), np.int64)]).T)
    d1 = Dense(weights=W1, weight_exp=0)
    r1 = Dense(weights=R1, weight_exp=-1)
    l1 = LIF(shape=(N1,), du=p1["du"], dv=p1["dv"], vth=p1["vth"], bias_mant=np.full(N1, p1["bias"]),
             bias_exp=np.full(N1, bias_exp1))
    d2 = Dense(weights=W2, weight_exp=1)
    l2 = LIF(shape=(N2,), du=p2["du"], dv=p2["dv"], vth=p2["vth"], bias_mant=np.full(N2, p2["bias"]),
             bias_exp=np.full(N2, bias_exp2))
    k1, k2 = Sink(shape=(N1,), buffer=S), Sink(shape=(N2,), buffer=S)
    src.s_out.connect(d1.s_in)
    d1.a_out.connect(l1.a_in)
    l1.s_out.connect(r1.s_in)
    r1.a_out.connect(l1.a_in)
    l1.s_out.connect(d2.s_in)
    d2.a_out.connect(l2.a_in)
    l1.s_out.connect(k1.a_in)
    l2.s_out.connect(k2.a_in)
    keep = []
    for var, pop in [(l1.u, "h1"), (l1.v, "h1"), (r1.a_buff, "h1"), (l2.u, "h2"), (l2.v, "h2")]:
        keep.append(Reset(reset_value=0, interval=S, offset=resets[pop]))
        keep[-1].connect_var(var)
    mon = Monitor()
    mon.probe(target=l1.v, num_steps=S)
    try:
        src.run(condition=RunSteps(num_steps=S), run_cfg=Loihi2SimCfg(select_tag="fixed_pt"))
        lava_s1, lava_s2 = k1.data.get().T, k2.data.get().T
        lava_v1 = mon.get_data()[l1.name]["v"]
    finally:
        src.stop()
    assert run.spikes["h1"].sum() > 10 and run.spikes["h2"].sum() > 3, "guard: both layers must spike"
    np.testing.assert_array_equal(run.spikes["h1"][0], lava_s1.astype(np.uint8))
    np.testing.assert_array_equal(run.spikes["h2"][0], lava_s2.astype(np.uint8))
    # Lava's Monitor reads v in the same phase in which Reset writes it, in no fixed order: at h1's reset
    # step it may see v before or after the reset. Compare v at every other step (spikes: every step).
    lava_v1 = np.asarray(lava_v1).reshape(S, N1)
    steady = np.array([t % S != resets["h1"] for t in range(S)])
    np.testing.assert_array_equal(run.states["h1"]["v"][0][steady], lava_v1[steady])
    assert run.states["h1"]["v"][0, 0, 0] == 300 << 4     # the lead-in step integrated the bias, then reset


def test_sparse_and_dense_feed_forward_paths_are_the_same_integers():
    from snn_deploy.convert.emulator import _feed_forward

    rng = np.random.default_rng(5)
    w = 2 * rng.integers(-127, 128, size=(9, 50))
    for density, high in [(0.03, 2), (0.03, 200), (0.5, 2)]:       # sparse binary, sparse counts, dense
        x = (rng.random((4, 12, 50)) < density) * rng.integers(1, high, size=(4, 12, 50))
        want = np.zeros((15, 4, 9), np.int64)                       # time-major, delivered one step later
        want[1:13] = np.einsum("btc,nc->tbn", x.astype(np.int64), w)
        assert np.any(want != 0)
        for batch_major, src in [(True, x), (False, x.transpose(1, 0, 2))]:
            got = _feed_forward(np.ascontiguousarray(src).astype(np.uint8), w, np.zeros((15, 4, 9), np.float64),
                                batch_major=batch_major)
            np.testing.assert_array_equal(got, want)


def recurrent_readout_network(n=16):
    """An li readout (dv=400) with a recurrent dense on its own potential, its weights and inputs."""
    rng = np.random.default_rng(1)
    w, v = 2 * rng.integers(-100, 100, (n, 4)), 2 * rng.integers(-4, 4, (n, n))   # on the even grid of 8-bit weights
    params = dict(dv=np.full(n, 400), bias_mant=np.zeros(n, np.int64), bias_exp=np.zeros(n, np.int64))
    net = Network([InputNode("input", 4), DenseNode("fc", w, weight_exp=6), DenseNode("rec", v, weight_exp=-8),
                   NeuronNode("ro", "li", n, params=params)],
                  [Edge("input", "fc"), Edge("fc", "ro"), Edge("ro", "rec"), Edge("rec", "ro")],
                  meta={"output": "ro"}, precision=Precision("loihi2", "test", layers={"ro": {"scale": 64.0}})).validate()
    x = (rng.random((8, 40, 4)) < 0.5).astype(np.uint8)
    return net, w, v, x


def test_recurrent_dense_on_a_non_spiking_population_is_exact_for_potentials_near_2_23():
    # li (dv=400) with a recurrent dense: its input is the potential itself (up to 2^23 - 1), so the
    # partial sums reach ~2^34 and a float32 matmul (exact below 2^24 only) would drop low bits
    from snn_deploy.convert import fixed_point as fp
    from snn_deploy.convert.fixed_neurons import get_neuron_model

    net, w, v, x = recurrent_readout_network()
    n = w.shape[0]
    run = emulate(net, x, pipeline_reset=False)
    # independent int64 loop: u[t] = li_step(shift(W x[t-1], 6) + shift(V u[t-1], -8));
    # float32 sums got 809 of these 5376 potentials wrong
    model = get_neuron_model("li")
    p = model.params_from_node(net.node("ro"))
    ff = np.zeros((8, run.num_steps, n), np.int64)
    ff[:, 1:41] = fp.weight_shift(x.astype(np.int64) @ w.T, 6)
    state, prev = model.initial_state(n, (8,)), np.zeros((8, n), np.int64)
    ref = np.zeros_like(ff)
    for t in range(run.num_steps):
        prev, state = model.apply({"input": ff[:, t] + fp.weight_shift(prev @ v.T, -8)}, state, p)
        ref[:, t] = prev
    assert np.abs(ref).max() == fp.STATE_MAX and np.unique(ref).size > 1000   # not trivial: large, varied
    np.testing.assert_array_equal(run.potentials["ro"], ref)


def test_float_spike_counts_are_range_checked_before_the_integer_cast():
    from snn_deploy.convert.emulator import encode_inputs

    net = fixed_net([("out", "li", 1, li(1), "subtract", [[1]], 0, None, 0)], in_size=1)
    for bad in (65537.0, 256.0, -1.0, np.inf):       # 65537.0 would become int16 1 and pass
        with pytest.raises(SnnDeployError, match=r"spike counts must be in \[0, 255\]"):
            encode_inputs(net, np.full((1, 2, 1), bad))
    np.testing.assert_array_equal(encode_inputs(net, np.array([[[255.0], [3.0]]])), [[[255], [3]]])


def test_integer_spike_counts_are_range_checked_for_every_integer_type():
    """Integer payloads become uint8: a negative or too large count of any integer type is refused, with
    the whole input's range in the message (an int8 -1 read as unsigned would be 255 and pass)."""
    from snn_deploy.convert.emulator import encode_inputs

    net = fixed_net([("out", "li", 1, li(1), "subtract", [[1]], 0, None, 0)], in_size=1)
    for dtype in (np.int8, np.int16, np.int32, np.int64, np.uint16, np.uint32, np.uint64):
        info = np.iinfo(dtype)
        for bad in {-1, 256, int(info.min), int(info.max)}:
            if info.min <= bad <= info.max and not 0 <= bad <= 255:
                x = np.array([[[3], [bad]]], dtype)
                with pytest.raises(SnnDeployError, match=rf"spike counts must be in \[0, 255\], got \[{min(3, bad)}, {max(3, bad)}\]"):
                    encode_inputs(net, x)
        good = encode_inputs(net, np.array([[[0], [255 if info.max >= 255 else 127]]], dtype))
        assert good.dtype == np.uint8 and good.max() == min(255, int(info.max))
    x = np.concatenate([np.zeros((40, 2, 1), np.int64), np.full((40, 2, 1), 7, np.int64)])
    x[-1] = 300                         # the second slice alone would say [7, 300]
    with pytest.raises(SnnDeployError, match=r"got \[0, 300\]"):
        emulate(net, x)
