"""Operation counts from hand-made rasters, worked by hand; paper 1's 320x from a constructed raster."""
import numpy as np
import pytest

from snn_deploy.activity import Activity
from snn_deploy.energy import analytic, counting, pricing
from snn_deploy.errors import FormatError
from snn_deploy.ir import DenseNode, Edge, InputNode, Network, NeuronNode, Precision, network_digest


def tiny_net() -> Network:
    """in(3) -fc(mask)-> h(lif, 2, recurrent rec) -out-> readout(li, 1)."""
    mask = np.array([[1, 0, 1], [1, 1, 0]])
    nodes = [
        InputNode("in", 3),
        DenseNode("fc", np.ones((2, 3)) * mask, bias=np.zeros(2), mask=mask),
        DenseNode("rec", np.ones((2, 2))),
        NeuronNode("h", "lif", 2, params={"alpha": 0.9, "threshold": 1.0}),
        DenseNode("out", np.ones((1, 2)), bias=np.zeros(1)),
        NeuronNode("ro", "li", 1, params={"alpha": 0.8}),
    ]
    edges = [Edge("in", "fc"), Edge("fc", "h"), Edge("h", "rec"), Edge("rec", "h"), Edge("h", "out"), Edge("out", "ro")]
    return Network(nodes, edges).validate()


def tiny_activity(net: Network, backend: str = "float") -> Activity:
    """A hand-made recording; the default ``float`` backend has no hop delay (I[t] = W x[t] + V s[t-1])."""
    inputs = np.array([[[1, 0, 1], [0, 2, 0], [0, 0, 0]],
                       [[0, 0, 0], [1, 1, 1], [0, 0, 1]]], dtype=np.uint8)
    h = np.array([[[1, 0], [1, 1], [0, 0]],
                  [[0, 0], [0, 1], [1, 0]]], dtype=np.uint8)
    return Activity(backend=backend, network_digest=network_digest(net), input_steps=3,
                    sample_index=np.arange(2), labels=np.array([0, 0]), predictions=np.array([0, 1]),
                    inputs=inputs, spikes={"h": h}, potentials={"ro": np.zeros((2, 3, 1), np.float32)})


def test_hand_made_raster_with_sparse_mask_counts_worked_by_hand():
    net = tiny_net()
    counts = counting.count_network(net, tiny_activity(net))
    h = counts.layer("h")
    fc, rec = h.denses
    # fan-out per input column from the mask: [2, 1, 1]
    # sample 0: t0 cols 0,2 -> 2+1 = 3; t1 two spikes on col 1 -> 2; t2 -> 0
    # sample 1: t0 -> 0; t1 cols 0,1,2 -> 4; t2 col 2 -> 1;   mean per step [1.5, 3, 0.5]
    np.testing.assert_allclose(fc.ops, [1.5, 3.0, 0.5])
    assert fc.synapses == 4 and fc.kind == "ac"
    # recurrent: s[t-1] x 2 targets. s0 spikes per step [1, 2, 0] -> [0, 2, 4]; s1 [0, 1, 1] -> [0, 0, 2]
    np.testing.assert_allclose(rec.ops, [0.0, 1.0, 3.0])
    assert rec.recurrent
    # lif: 1 MAC per neuron per step; AC: bias of fc (2 per step) + reset on s[t-1] (mean [0, .5, 1.5])
    assert h.total("neuron_mac") == 6
    np.testing.assert_allclose(h.neuron_ac, [2.0, 2.5, 3.5])
    # active = got an event or fired: s0 [2, 2, 2], s1 [0, 2, 2]
    np.testing.assert_allclose(h.updates_active, [1.0, 2.0, 2.0])
    assert h.total("updates_inactive") == 1
    np.testing.assert_allclose(h.spikes, [0.5, 1.5, 0.5])
    ro = counts.layer("ro")
    # out dense sees h's spikes of the same step: mean [0.5, 1.5, 0.5]; li: 1 MAC + 1 bias AC per step
    np.testing.assert_allclose(ro.syn_ac, [0.5, 1.5, 0.5])
    assert (ro.total("neuron_mac"), ro.total("neuron_ac")) == (3, 3)
    assert counts.layer("in").total("spikes") == 4           # (2 + 2 + 0 + 0 + 3 + 1) / 2
    # totals per inference: AC = 5 + 4 + 2.5 (synaptic) + 8 + 3 (neuron); MAC = 6 + 3
    assert counts.ops.ac == pytest.approx(22.5)
    assert counts.ops.mac == pytest.approx(9)
    # mean firing rate: 2.5 spikes per inference / (2 neurons x 3 steps)
    assert counts.mean_firing_rate == pytest.approx(2.5 / 6)
    assert counts.accuracy == 0.5


def test_lava_and_emulator_runs_deliver_feed_forward_events_one_step_later():
    net = tiny_net()
    counts = counting.count_network(net, tiny_activity(net, backend="emulator"))
    h, ro = counts.layer("h"), counts.layer("ro")
    fc, rec = h.denses
    # fc delivers step t-1's input: [0, 1.5, 3]; the final step's 0.5 is never delivered
    np.testing.assert_allclose(fc.ops, [0.0, 1.5, 3.0])
    np.testing.assert_allclose(rec.ops, [0.0, 1.0, 3.0])          # recurrent: s[t-1] either way
    np.testing.assert_allclose(ro.syn_ac, [0.0, 0.5, 1.5])
    # active = delivered event or fired: s0 [1, 2, 2], s1 [0, 1, 2]; readout s0 [0, 1, 1], s1 [0, 0, 1]
    np.testing.assert_allclose(h.updates_active, [0.5, 1.5, 2.0])
    np.testing.assert_allclose(ro.updates_active, [0.0, 0.5, 1.0])
    assert counts.ops.ac == pytest.approx(4.5 + 4 + 2 + 8 + 3)


def test_activity_of_another_network_is_refused():
    net = tiny_net()
    act = tiny_activity(net)
    other = tiny_net()
    other.node("fc").weight[0, 0] = 3.0
    with pytest.raises(FormatError, match="do not belong together"):
        counting.count_network(other, act)


def test_graded_inputs_count_macs_for_nonzero_values_only():
    net = tiny_net()
    net.node("in").encoding = "graded"
    act = tiny_activity(net)
    act.inputs = np.array([[[0.5, 0, -1.0], [0, 0.25, 0], [0, 0, 0]],
                           [[0, 0, 0], [0, 0, 0], [0, 0, 0]]], np.float32)
    act.network_digest = network_digest(net)
    fc = counting.count_network(net, act).layer("h").denses[0]
    assert fc.kind == "mac"
    np.testing.assert_allclose(fc.ops, [1.5, 0.5, 0.0])     # (2 + 1) / 2, 1 / 2


def rate_raster(samples: int, steps: int, size: int, rate: float, offset: int) -> np.ndarray:
    """Every neuron fires once per period (exactly ``rate * steps`` times), never in the last step."""
    period = int(round(1 / rate))
    x = np.zeros((samples, steps, size), np.uint8)
    for j in range(size):
        x[:, (j + offset) % (period - 1)::period, j] = 1
    assert np.all(x.sum(axis=1) == rate * steps) and not x[:, -1].any()
    return x


def test_paper1_320x_from_a_constructed_raster_at_rate_0p1():
    m, n, steps = 20, 10, 40
    rnn = Network([InputNode("in", m), DenseNode("w", np.ones((n, m))), DenseNode("v", np.ones((n, n))),
                   NeuronNode("h", "lif", n, params={"alpha": 0.9, "threshold": 1.0})],
                  [Edge("in", "w"), Edge("w", "h"), Edge("h", "v"), Edge("v", "h")]).validate()
    act = Activity("emulator", network_digest(rnn), steps, np.arange(2), np.zeros(2, int), np.zeros(2, int),
                   inputs=rate_raster(2, steps, m, 0.1, 0), spikes={"h": rate_raster(2, steps, n, 0.1, 3)})
    counts = counting.count_network(rnn, act)
    h = counts.layer("h")
    assert counts.mean_firing_rate == pytest.approx(0.1)
    # synaptic ACs + the reset ACs = ν̄ N (N_prev + N + 1) per step (paper 1 §4.2, Eq. 12)
    snn_acs = h.total("syn_ac") + h.total("neuron_ac")
    assert snn_acs == pytest.approx(steps * analytic.paper1_snn_acs(m, n, 0.1))
    table = pricing.paper1_table()
    snn_pj = snn_acs * table.prices["ac"].low
    rnn_pj = steps * analytic.paper1_rnn_macs(m, n) * table.prices["mac"].low
    assert rnn_pj / snn_pj == pytest.approx(320.0)
    # the rate estimate of paper 2 Table 2 equals the exact synaptic + reset + bias count here
    est = counting.rate_estimate(h, steps)
    assert est.ac == pytest.approx(snn_acs + n * steps)   # Table 2's +n bias; this network has none
    # the LIF leak (n MAC per step, which paper 1 leaves out) lowers the full ratio: priced by hand
    full = pricing.price_layer(h, table)
    assert full.total.low == pytest.approx(snn_pj + steps * n * 3.2)
    assert rnn_pj / full.total.low < 320


def test_counts_do_not_depend_on_how_samples_are_chunked(monkeypatch):
    net = tiny_net()
    act = tiny_activity(net)
    whole = counting.count_network(net, act)
    monkeypatch.setattr(counting, "SAMPLE_CHUNK", 1)
    chunked = counting.count_network(net, act)
    for a, b in zip(whole.layers, chunked.layers):
        for f in ("syn_ac", "neuron_ac", "updates_active", "spikes"):
            np.testing.assert_array_equal(getattr(a, f), getattr(b, f))


def test_paper1_view_of_the_rate_0p1_raster_worked_by_hand():
    from snn_deploy.energy.baselines import Baseline
    from snn_deploy.energy.report import paper1_view

    m, n, steps = 20, 10, 40
    rnn = Network([InputNode("in", m), DenseNode("w", np.ones((n, m))), DenseNode("v", np.ones((n, n))),
                   NeuronNode("h", "lif", n, params={"alpha": 0.9, "threshold": 1.0})],
                  [Edge("in", "w"), Edge("w", "h"), Edge("h", "v"), Edge("v", "h")]).validate()
    act = Activity("emulator", network_digest(rnn), steps, np.arange(1), np.zeros(1, int), np.zeros(1, int),
                   inputs=rate_raster(1, steps, m, 0.1, 0), spikes={"h": rate_raster(1, steps, n, 0.1, 3)})
    counts = counting.count_network(rnn, act)
    ann = Baseline("rnn", "test", [analytic.LayerOps("rnn1", "rnn", analytic.rnn_ops(m, n), steps)])
    view = paper1_view(counts, ann)
    # ANN: 40 x ((20*10 + 100) MAC x 3.2 + 10 AC x 0.1) = 38440 pJ; SNN synaptic: (800 + 400) AC x 0.1 = 120 pJ
    assert view["synaptic_only"] == pytest.approx(38440 / 120)
    # + the LIF leak (400 MAC x 3.2) and resets (40 AC x 0.1): 1404 pJ
    assert view["with_neuron_ops"] == pytest.approx(38440 / 1404)
    assert view["neuron_share"] == pytest.approx(1284 / 1404)


def fixed_bias_net(bias_mant, gate_bias=None) -> Network:
    """A fixed IR: in(2) -fc-> h (lif or spikgru, 4) ; denses carry no bias, the neurons do."""
    n = len(bias_mant)
    params = {"dv": np.zeros(n, np.int64), "vth": np.full(n, 10), "bias_mant": np.asarray(bias_mant),
              "bias_exp": np.zeros(n, np.int64)}
    nodes = [InputNode("in", 2), DenseNode("fc", np.ones((n, 2), np.int64))]
    edges = [Edge("in", "fc"), Edge("fc", "h")]
    model = "lif"
    if gate_bias is not None:
        model = "spikgru"
        params = {"du": np.zeros(n, np.int64), "vth": np.full(n, 10), "bias_mant": np.asarray(bias_mant),
                  "bias_exp": np.zeros(n, np.int64), "gate_bias": np.asarray(gate_bias)}
        nodes.append(DenseNode("fc_gate", np.ones((n, 2), np.int64)))
        edges += [Edge("in", "fc_gate"), Edge("fc_gate", "h", port="gate")]
    nodes.append(NeuronNode("h", model, n, params=params))
    return Network(nodes, edges, precision=Precision("loihi2", "test")).validate()


def test_fixed_ir_counts_one_bias_ac_per_neuron_with_a_nonzero_bias_mant():
    # 2 of 4 neurons carry a bias (the quantizer moved it off the dense); spikgru: 3 of 4 gate biases too
    for net, bias_per_step in [(fixed_bias_net([0, 5, 0, -3]), 2), (fixed_bias_net([0, 5, 0, -3], [1, 0, 2, 4]), 2 + 3)]:
        spikes = np.zeros((1, 3, 4), np.uint8)
        spikes[0, 0, 1] = 1                           # one spike at step 0: one reset AC at step 1
        act = Activity(backend="emulator", network_digest=network_digest(net), input_steps=2,
                       sample_index=np.arange(1), labels=np.zeros(1, np.int64), predictions=np.zeros(1, np.int64),
                       inputs=np.zeros((1, 3, 2), np.uint8), spikes={"h": spikes})
        h = counting.count_network(net, act).layer("h")
        np.testing.assert_array_equal(h.neuron_ac, [bias_per_step, bias_per_step + 1, bias_per_step])
        assert h.ops.ac == 3 * bias_per_step + 1     # no input events: no synaptic ACs


def test_quantized_emulated_lif_layer_matches_table2_including_its_bias_term():
    # the reviewer's case: 16 -> 8 LIF (bias on the first dense) -> 3 LI, quantized and emulated;
    # before the fix the measured AC missed the bias term, 8 neurons x 22 steps = 176 ACs short
    from snn_deploy.convert.emulator import emulate
    from snn_deploy.convert.quantize import quantize_network

    rng = np.random.default_rng(0)
    nodes = [InputNode("in", 16), DenseNode("fc", rng.normal(1.0, 0.5, (8, 16)), bias=np.full(8, 0.05)),
             NeuronNode("h", "lif", 8, params={"alpha": np.full(8, 0.9), "threshold": np.full(8, 1.0)}),
             DenseNode("out", rng.normal(0, 0.5, (3, 8))), NeuronNode("ro", "li", 3, params={"alpha": np.full(3, 0.9)})]
    edges = [Edge("in", "fc"), Edge("fc", "h"), Edge("h", "out"), Edge("out", "ro")]
    fx = quantize_network(Network(nodes, edges, meta={"output": "ro"}).validate(), "loihi2")
    assert fx.node("fc").bias is None and np.count_nonzero(fx.node("h").params["bias_mant"]) == 8
    x = (rng.random((4, 20, 16)) < 0.2).astype(np.uint8)
    run = emulate(fx, x)
    act = Activity(backend="emulator", network_digest=network_digest(fx), input_steps=20, sample_index=np.arange(4),
                   labels=np.zeros(4, np.int64), predictions=run.predictions,
                   inputs=np.pad(x, ((0, 0), (0, run.num_steps - 20), (0, 0))), spikes=run.spikes,
                   potentials=run.potentials)
    h = counting.count_network(fx, act).layer("h")
    assert run.num_steps == 22 and h.total("spikes") > 0
    # neuron-level ACs: 8 bias additions per step + one reset per spike of the previous step
    last_step_spikes = run.spikes["h"][:, -1].sum() / 4
    assert h.total("neuron_ac") == 8 * 22 + h.total("spikes") - last_step_spikes
    assert h.ops.ac == pytest.approx(counting.rate_estimate(h, 22).ac)    # Table 2, with its +n term
    assert (h.total("syn_ac"), h.total("spikes"), h.ops.ac) == (520.0, 42.5, 520.0 + 176 + 42.5)
