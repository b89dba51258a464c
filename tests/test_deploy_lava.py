"""Bit-exactness on Lava's CPU simulator: for every model family, a seeded network converted to fixed
point runs a few samples on Lava and on the emulator, and every spike of every layer at every step and
every readout potential must be identical, with guards that every layer spiked and the readout varied.

CUBA-LIF with hard reset runs on Lava's OWN LIF and Dense processes (the independent check of the
arithmetic we wrote); the other models run our fixed-point process models, which reuse the emulator's
integer step functions, so for them the test proves the graph semantics (delays, recurrence, gates,
readout, reset between samples) against Lava's Dense/Sparse and its runtime.

Every network has a nonzero bias on every feed-forward dense and two hidden layers before the
readout, so every population integrates its bias during its lead-in (its first ``depth`` steps) and
the emulator's pipeline reset (each population and its recurrent denses' buffers zeroed after step
``depth - 1``: ``convert.emulator.reset_steps``) changes the activity of every layer: Lava must do
the same resets (our process models themselves; Lava's ``Reset`` on its LIF's ``u``, ``v`` and on
the recurrent denses' ``a_buff``)."""
import numpy as np
import pytest

pytest.importorskip("lava.magma.core.process.process")

from snn_deploy.convert.emulator import emulate, population_depths  # noqa: E402
from snn_deploy.deploy import plan  # noqa: E402
from snn_deploy.deploy.backends import run_emulator  # noqa: E402
from snn_deploy.deploy.compare import compare_runs  # noqa: E402
from networks import seeded_inputs, seeded_network  # noqa: E402
from snn_deploy.deploy.runner import run_lava  # noqa: E402

pytestmark = pytest.mark.lava

SAMPLES, STEPS = 3, 20
MIN_SPIKES = 5            #: per spiking layer over the whole run: the guard against a silent network

#: bias: std of the feed-forward biases (float units), chosen per model so that every layer spikes
#: without saturating, and every recurrent layer spikes at the end of its lead-in (see the guards)
CASES = {
    "lif": dict(model="lif", bias=8.0),
    "adlif": dict(model="adlif", bias=8.0),
    "rlif": dict(model="rlif", bias=20.0),
    "radlif-sparse": dict(model="radlif", sparsity=0.5, gain=16.0, bias=8.0),
    "cuba_lif-lava": dict(model="cuba_lif", reset="zero", shared_decays=True, bias=2.0),
    "cuba_lif-subtract": dict(model="cuba_lif", reset="subtract", bias=2.0),
    "spikgru": dict(model="spikgru", bias=8.0),
    "mthr_lif": dict(model="mthr_lif", bias=8.0),
}


def engines():
    """The emulator's engines on this machine: numpy always, the compiled kernels with numba."""
    from snn_deploy.convert import kernels

    return ["numpy", "compiled"] if kernels.available() else ["numpy"]


def assert_bit_exact(net, x, **run_kw):
    lava = run_lava(net, x, **run_kw)
    for engine in engines():     # Lava against every engine; the last one's run is returned
        emu = assert_engine_bit_exact(net, x, lava, engine)
    return lava, emu


def assert_engine_bit_exact(net, x, lava, engine):
    emu = emulate(net, x, engine=engine)
    assert (lava.input_steps, lava.num_steps) == (emu.input_steps, emu.num_steps)
    assert set(lava.spikes) == set(emu.spikes) and set(lava.potentials) == set(emu.potentials)
    for name, s in emu.spikes.items():
        assert int(s.sum()) >= MIN_SPIKES, f"layer {name} barely spiked ({int(s.sum())}): the test would prove nothing"
        np.testing.assert_array_equal(lava.spikes[name], s, err_msg=f"spikes of layer {name} ({engine})")
    for name, u in emu.potentials.items():
        assert np.unique(u).size > 10, f"readout {name} hardly varies: the test would prove nothing"
        np.testing.assert_array_equal(lava.potentials[name], u, err_msg=f"potentials of {name} ({engine})")
    return emu


def assert_lead_in_matters(net, x):
    """Guard: without the pipeline reset every population would differ (so a missing reset on Lava
    fails the comparison), and every recurrent population spikes at its last lead-in step in some
    sample (so its recurrent denses hold a nonzero buffer when it is zeroed)."""
    depths = population_depths(net)
    assert len(depths) >= 3 and max(depths.values()) >= 3, "two hidden layers and a readout"
    for pop in net.neuron_nodes():
        assert np.count_nonzero(pop.params["bias_mant"]) > pop.size // 2, f"{pop.name}: hardly any bias"
    with_reset, without = emulate(net, x), emulate(net, x, pipeline_reset=False)
    for name, s in with_reset.spikes.items():
        assert not np.array_equal(s, without.spikes[name]), f"{name}: the pipeline reset changes nothing here"
        if any(net.is_recurrent(d.name) for d in net.incoming(name)):
            assert s[:, depths[name] - 1].any(), f"{name}: no spike at the end of the lead-in to clear from its recurrence"
    for name, u in with_reset.potentials.items():
        assert not np.array_equal(u, without.potentials[name]), f"{name}: the pipeline reset changes nothing here"


@pytest.mark.parametrize("case", list(CASES))
def test_lava_equals_emulator_for_every_model(case):
    """Spike for spike and potential for potential, on biased networks, with the pipeline reset."""
    kw = dict(CASES[case])
    net = seeded_network(kw.pop("model"), **kw)
    kinds = plan.population_kinds(net)
    if case == "cuba_lif-lava":
        assert kinds == {"h1": "lava_lif", "h2": "lava_lif", "readout": "fixed"}
        assert any(net.is_recurrent(d.name) for d in net.incoming("h1"))    # paper 2's U on Lava's Dense
    else:
        assert "lava_lif" not in kinds.values()
    if case == "radlif-sparse":
        assert {d.name for d in net.dense_nodes() if plan.synapse_plan(net, d).sparse} >= {"fc1", "rec1"}
    x = seeded_inputs(net, SAMPLES, STEPS, max_count=2 if case == "spikgru" else 1)
    assert_lead_in_matters(net, x)
    assert_bit_exact(net, x)


def test_state_is_reset_between_samples_on_lavas_own_lif():
    """The same sample placed first and third gives the same activity: nothing leaks across windows,
    neither the LIF's current/voltage nor the dense buffers (zeroed by Lava's Reset processes). One
    Lava run() call per sample (chunk_steps=1): time steps continue across calls."""
    net = seeded_network("cuba_lif", reset="zero", shared_decays=True, bias=CASES["cuba_lif-lava"]["bias"])
    x = seeded_inputs(net, 2, STEPS, density=0.5)
    lava, _ = assert_bit_exact(net, np.stack([x[0], x[1], x[0]]), chunk_steps=1)
    for name, s in lava.spikes.items():
        np.testing.assert_array_equal(s[0], s[2], err_msg=name)
    assert not np.array_equal(lava.spikes["h1"][0], lava.spikes["h1"][1])


def test_graded_spike_counts_reach_lava_dense_as_payloads():
    """Input counts above 1 (8-bit graded spikes) multiply the weights on Lava as in the emulator."""
    net = seeded_network("rlif", gain=6.0)
    x = seeded_inputs(net, 2, STEPS, max_count=4)
    assert x.max() > 1
    assert_bit_exact(net, x)


def test_graded_filterbank_inputs_with_negative_values():
    """Graded inputs (log-mel features, mostly negative) are quantized by the emulator's input encoding
    and injected as graded payloads; Lava's dense multiplies them exactly as the emulator."""
    from snn_deploy.convert.emulator import encode_inputs

    net = seeded_network("adlif", encoding="graded", gain=3.0)
    assert net.inputs()[0].encoding == "graded"
    rng = np.random.default_rng(3)
    x = encode_inputs(net, rng.normal(-1.0, 2.0, (2, STEPS, net.inputs()[0].size)).astype(np.float32))
    assert x.min() < 0 < x.max()
    assert plan.synapse_plan(net, net.node("fc1"), input_max=int(x.max())).num_message_bits > 0
    assert_bit_exact(net, x)


def test_emulator_backend_record_matches_emulate():
    net = seeded_network("adlif")
    x = seeded_inputs(net, 5, 8)
    a = run_emulator(net, x, chunk=2)
    b = emulate(net, x)
    assert compare_runs(a, type(a)("emulator", b.input_steps, b.num_steps, b.spikes, b.potentials)).identical
