"""Deployment plan (no Lava needed): pipeline depth, which populations run on Lava's own LIF, how each
dense becomes a Lava synapse, the comparison of two runs, and the target/backend choice."""
import numpy as np
import pytest

from snn_deploy.convert.emulator import num_steps
from snn_deploy.convert.quantize import SCHEME
from snn_deploy.deploy import plan
from snn_deploy.deploy.backends import HardwareUnavailable, check_target, default_backend
from snn_deploy.deploy.compare import compare_runs
from snn_deploy.deploy.records import BackendRun
from snn_deploy.errors import SnnDeployError
from snn_deploy.ir import DenseNode, Edge, InputNode, Network, NeuronNode, Precision


def cuba_pop(name, n, du=100, dv=200, vth=50, reset="zero"):
    return NeuronNode(name, "cuba_lif", n, params=dict(du=np.full(n, du), dv=np.full(n, dv), vth=np.full(n, vth),
                                                       bias_mant=np.zeros(n, int), bias_exp=np.zeros(n, int)),
                      reset=reset)


def two_layer(weight=None, mask=None, scheme=SCHEME, encoding="spikes", h1=None):
    w = np.full((3, 4), 10) if weight is None else weight
    nodes = [InputNode("in", 4, encoding=encoding), DenseNode("fc1", w, mask=mask), h1 or cuba_pop("h1", 3),
             DenseNode("rec1", np.ones((3, 3), int)),
             DenseNode("out", np.ones((2, 3), int)),
             NeuronNode("ro", "li", 2, params=dict(dv=np.full(2, 10), bias_mant=np.zeros(2, int), bias_exp=np.zeros(2, int)))]
    edges = [Edge("in", "fc1"), Edge("fc1", "h1"), Edge("h1", "rec1"), Edge("rec1", "h1"), Edge("h1", "out"), Edge("out", "ro")]
    return Network(nodes, edges, meta={"time_steps": 5}, precision=Precision("loihi2", scheme)).validate()


def test_pipeline_depth_counts_feed_forward_hops_only_and_agrees_with_the_emulator():
    net = two_layer()
    assert plan.pipeline_depth(net) == 2       # in -> fc1 -> h1 -> out -> ro; the recurrent loop adds none
    assert 7 + plan.pipeline_depth(net) == num_steps(net, 7)


def test_cuba_lif_runs_on_lavas_lif_only_with_hard_reset_and_shared_decays():
    assert plan.population_kinds(two_layer()) == {"h1": "lava_lif", "ro": "fixed"}
    assert plan.population_kinds(two_layer(h1=cuba_pop("h1", 3, reset="subtract")))["h1"] == "fixed"
    per_neuron = cuba_pop("h1", 3)
    per_neuron.params["du"] = np.array([100, 101, 100])
    assert plan.population_kinds(two_layer(h1=per_neuron))["h1"] == "fixed"
    args = plan.lava_lif_args(cuba_pop("h1", 3, du=7, dv=9, vth=11))
    assert (args["du"], args["dv"], args["vth"], args["shape"]) == (7, 9, 11, (3,))
    assert args["bias_mant"].shape == (3,)


def test_synapse_plan_keeps_weights_exact_and_picks_sparse_and_message_bits():
    mask = np.zeros((3, 4), bool)
    mask[0, 0] = mask[2, 3] = True
    net = two_layer(weight=np.array([[-256, 1, 2, 3], [4, 5, 6, 7], [8, 9, 10, 255]]), mask=mask)
    syn = plan.synapse_plan(net, net.node("fc1"))
    assert syn.sparse and syn.num_message_bits == 0
    np.testing.assert_array_equal(syn.weights, [[-256, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 255]])
    assert plan.synapse_plan(net, net.node("fc1"), input_max=3).num_message_bits == plan.GRADED_MESSAGE_BITS
    graded = two_layer(encoding="graded")
    assert plan.synapse_plan(graded, graded.node("fc1")).num_message_bits == plan.GRADED_MESSAGE_BITS
    assert not plan.synapse_plan(net, net.node("rec1")).sparse


@pytest.mark.parametrize("bad", ["range", "bias", "float", "scheme", "params"])
def test_undeployable_networks_are_refused_with_the_node_named(bad):
    if bad == "range":
        net, match = two_layer(weight=np.full((3, 4), 300)), "dense 'fc1': field 'weight' value 300 .*outside the allowed range \\[0, 255\\]"
    elif bad == "bias":
        net, match = two_layer(), "dense 'fc1': has a bias"
        net.node("fc1").bias = np.ones(3)
    elif bad == "float":
        net, match = two_layer(weight=np.full((3, 4), 0.5)), "dense 'fc1': field 'weight' value 0.5 .*not an integer"
    elif bad == "scheme":
        net, match = two_layer(scheme="loihi-fixed-v0"), "scheme 'loihi-fixed-v0'"
    else:
        net, match = two_layer(), "neurons 'h1'.*missing \\['vth'\\]"
        del net.node("h1").params["vth"]
    with pytest.raises(SnnDeployError, match=match):
        plan.check_deployable(net)


def test_float_network_is_refused():
    net = two_layer()
    net.precision = None
    with pytest.raises(SnnDeployError, match="float IR"):
        plan.check_deployable(net)


def _run(backend, spikes, potentials):
    return BackendRun(backend, input_steps=3, num_steps=5, spikes={"h1": spikes}, potentials={"ro": potentials})


def test_compare_runs_names_the_earliest_difference():
    rng = np.random.default_rng(0)
    s = (rng.random((2, 5, 3)) < 0.5).astype(np.uint8)
    p = rng.integers(-100, 100, (2, 5, 2))
    same = compare_runs(_run("lava", s, p), _run("emulator", s.copy(), p.copy()))
    assert same.identical and same.compared_values == s.size + p.size and same.spikes_compared == int(s.sum())
    s2, p2 = s.copy(), p.copy()
    s2[1, 0, 2] ^= 1          # sample 1, step 0
    p2[0, 4, 1] += 1          # sample 0, step 4: earlier sample, so this one is first
    diff = compare_runs(_run("lava", s, p), _run("emulator", s2, p2)).first
    assert (diff.population, diff.kind, diff.sample, diff.step, diff.neuron) == ("ro", "potentials", 0, 4, 1)
    assert "layer 'ro', neuron 1, step 4, sample 7" in diff.describe("lava", "emulator", np.array([7, 9]))
    diff = compare_runs(_run("lava", s, p), _run("emulator", s2, p)).first
    assert (diff.population, diff.sample, diff.step, diff.neuron) == ("h1", 1, 0, 2)
    assert (diff.left, diff.right) == (s[1, 0, 2], s2[1, 0, 2])


def test_targets_and_default_backends():
    net = two_layer()
    assert default_backend(net, "loihi-sim") == "lava"
    assert default_backend(net, "loihi-emu") == "emulator"
    net.meta["target"] = "loihi-emu"
    assert default_backend(net) == "emulator"
    with pytest.raises(SnnDeployError, match="unknown target 'loihi3'"):
        check_target("loihi3")
    with pytest.raises(HardwareUnavailable, match="lava-loihi"):
        check_target("loihi2")


@pytest.mark.parametrize("bad", ["skip", "graded_recurrence"])
def test_graphs_lava_would_run_differently_from_the_float_network_are_refused(bad):
    net = two_layer()
    if bad == "skip":       # in -> ro directly: depth 0 into depth 2, one step early
        net.nodes.insert(-1, DenseNode("skip", np.ones((2, 4), int)))
        net.edges += [Edge("in", "skip"), Edge("skip", "ro")]
        match = r"dense 'skip' from 'in' \(depth 0\) into 'ro' \(depth 2\): skip connections are not supported: " \
                r"they would arrive 1 steps early"
    else:
        net.nodes.insert(-1, DenseNode("rec_ro", np.ones((2, 2), int)))
        net.edges += [Edge("ro", "rec_ro"), Edge("rec_ro", "ro")]
        match = r"recurrent dense 'rec_ro' on non-spiking population 'ro'"
    with pytest.raises(plan.DeployError, match=match):
        plan.check_deployable(net.validate())
    plan.check_deployable(two_layer())


def test_identical_runs_without_spikes_say_which_layers_were_silent():
    p = np.arange(20).reshape(2, 5, 2)
    silent = np.zeros((2, 5, 3), np.uint8)
    agreement = compare_runs(_run("lava", silent, p), _run("emulator", silent.copy(), p.copy()))
    assert agreement.identical and agreement.spikes_compared == 0 and agreement.silent_layers == ("h1",)
    assert agreement.summary("lava", "emulator") == ("identical (every spike of every layer, every readout potential), "
                                                     "but no spikes occurred in layer h1")
    s = silent.copy()
    s[0, 1, 2] = 1
    agreement = compare_runs(_run("lava", s, p), _run("emulator", s.copy(), p))
    assert agreement.silent_layers == () and agreement.summary() == \
        "identical (every spike of every layer, every readout potential)"
    s2 = s.copy()
    s2[0, 1, 2] = 0
    assert compare_runs(_run("lava", s, p), _run("emulator", s2, p)).summary("lava", "emulator").startswith(
        "DIFFERENT: first differing spike: layer 'h1', neuron 2, step 1, sample 0: lava gives 1, emulator gives 0")


def test_a_non_spiking_source_whose_sums_could_overflow_lavas_int32_dense_is_refused():
    def li(name, n):
        return NeuronNode(name, "li", n, params=dict(dv=np.full(n, 10), bias_mant=np.zeros(n, int),
                                                      bias_exp=np.zeros(n, int)))

    def graded_chain(weight):
        nodes = [InputNode("in", 4), DenseNode("fc1", np.full((3, 4), 10)), li("h1", 3),
                 DenseNode("fc2", weight), li("ro", 2)]
        edges = [Edge("in", "fc1"), Edge("fc1", "h1"), Edge("h1", "fc2"), Edge("fc2", "ro")]
        return Network(nodes, edges, meta={"time_steps": 5}, precision=Precision("loihi2", SCHEME)).validate()

    # row sum 258: (2^23 - 1) * 258 > 2^31 - 1; row sum 254 stays below
    with pytest.raises(plan.DeployError, match=r"fc2.*'h1'.*int32"):
        plan.check_deployable(graded_chain(np.array([[128, 130, 0], [2, 0, 0]])))
    ok = graded_chain(np.array([[127, 127, 0], [2, 0, 0]]))
    assert plan.synapse_plan(ok, ok.node("fc2")).num_message_bits == plan.GRADED_MESSAGE_BITS
