"""Design rules: each failure names the rule, the layer and the limit; the core mapping splits layers."""
import copy
import json

import numpy as np
import pytest

from snn_deploy.convert.profiles import load_profile, profile_from_dict, profile_path
from snn_deploy.convert.quantize import quantize_network
from snn_deploy.convert.rules import RuleError, check_rules, map_cores
from snn_deploy.ir import DenseNode, Edge, InputNode, Network, NeuronNode


def profile_with(**limits):
    d = json.loads(profile_path("loihi2").read_text())
    for k, v in limits.items():
        d["limits"][k]["value"] = v
    return profile_from_dict(copy.deepcopy(d), source="test-profile")


def net_of(sizes, model="lif", in_size=10, rec=False, rec_scale=1.0, seed=0):
    rng = np.random.default_rng(seed)
    nodes, edges, prev, prev_size = [InputNode("input", in_size)], [], "input", in_size
    for i, n in enumerate(sizes, 1):
        pop = f"h{i}"
        params = {"alpha": np.full(n, 0.9), "threshold": np.ones(n)}
        if model == "adlif":
            params.update(beta=np.full(n, 0.97), a=np.zeros(n), b=np.ones(n))
        nodes += [DenseNode(f"fc{i}", rng.normal(size=(n, prev_size))), NeuronNode(pop, model, n, params=params)]
        edges += [Edge(prev, f"fc{i}"), Edge(f"fc{i}", pop)]
        if rec:
            nodes.append(DenseNode(f"rec{i}", rec_scale * rng.normal(size=(n, n))))
            edges += [Edge(pop, f"rec{i}"), Edge(f"rec{i}", pop)]
        prev, prev_size = pop, n
    return Network(nodes, edges, meta={"output": prev}).validate()


def test_adlif_is_not_runnable_on_loihi1():
    fx = quantize_network(net_of([4], model="adlif"), "loihi1")
    with pytest.raises(RuleError, match=r"rule model-support: layer h1: model adlif .* not runnable on loihi1"):
        check_rules(fx, load_profile("loihi1"))
    check_rules(fx, load_profile("loihi2"))  # Loihi 2 runs it


def test_layer_larger_than_a_core_is_split_and_reported():
    prof = profile_with(neurons_per_core=16)
    fx = quantize_network(net_of([40, 5]), prof)
    rep = check_rules(fx, prof)
    h1 = rep.mapping.layer("h1")
    assert (h1.neurons_per_core, h1.cores) == (16, 3)
    assert h1.split == "40 neurons split over 3 cores (16 per core, last 8)"
    assert rep.mapping.total_cores == 4 and any("h1: 40 neurons split over 3 cores" in w for w in rep.warnings)


def test_synapse_memory_limits_neurons_per_core():
    # fan-in 10 + 30 (recurrent) = 40 inputs x 8 bits = 320 bits per neuron; 3200 bits -> 10 neurons per core
    prof = profile_with(synapse_memory_bits_per_core=3200)
    m = map_cores(quantize_network(net_of([30], rec=True), prof), prof)
    assert (m.layer("h1").fan_in, m.layer("h1").synapse_bits_per_neuron, m.layer("h1").neurons_per_core) == (40, 320, 10)
    assert m.layer("h1").cores == 3
    tiny = profile_with(synapse_memory_bits_per_core=100)
    with pytest.raises(RuleError, match=r"rule synapse-memory: layer h1: one neuron needs 40 x 8 = 320 synapse bits > 100"):
        check_rules(quantize_network(net_of([30], rec=True), tiny), tiny)


def test_fan_in_over_the_limit():
    prof = profile_with(fan_in_per_core=64)
    fx = quantize_network(net_of([8], in_size=100), prof)
    with pytest.raises(RuleError, match=r"rule fan-in: layer h1: fan-in 100 > 64 input axons per core on loihi2"):
        check_rules(fx, prof)


def test_fan_out_over_the_limit():
    # h1 (16 neurons on 1 core) drives h2, split over 3 cores of 16: 16 x 3 = 48 output axons per core
    prof = profile_with(neurons_per_core=16, fan_out_per_core=40)
    fx = quantize_network(net_of([16, 48]), prof)
    with pytest.raises(RuleError, match=r"rule fan-out: layer h1: 48 output axons per core > 40 on loihi2"):
        check_rules(fx, prof)


def test_network_larger_than_the_chip():
    prof = profile_with(neurons_per_core=8, cores_per_chip=4)
    fx = quantize_network(net_of([30, 5]), prof)
    with pytest.raises(RuleError, match=r"rule chip-capacity: layer h1: the network needs 5 cores .* > 4 cores per chip"):
        check_rules(fx, prof)


def test_weights_collapsing_to_zero():
    # recurrent weights 1e-7 times the feed-forward ones: even at the smallest exponent (-8) they round to 0
    fx = quantize_network(net_of([6], rec=True, rec_scale=1e-7), "loihi2")
    assert fx.node("rec1").weight_exp == -8 and not np.any(fx.node("rec1").weight)
    with pytest.raises(RuleError, match=r"rule weight-collapse: layer rec1: all 36 nonzero weights quantize to 0"):
        check_rules(fx, load_profile("loihi2"))


def skip_net():
    """input -fc1-> h1 -fc2-> h2, plus a skip dense input -skip-> h2 (depth 0 into depth 2)."""
    net = net_of([4, 3])
    net.nodes.insert(-1, DenseNode("skip", np.ones((3, 10))))
    net.edges += [Edge("input", "skip"), Edge("skip", "h2")]
    return net.validate()


def test_skip_connection_is_refused_naming_the_dense_and_both_depths():
    fx = quantize_network(skip_net(), "loihi2")
    with pytest.raises(RuleError, match=r"rule skip-connection: layer h2: dense 'skip' from 'input' \(depth 0\) into "
                                        r"'h2' \(depth 2\): skip connections are not supported: they would arrive "
                                        r"1 steps early"):
        check_rules(fx, load_profile("loihi2"))
    assert "rule_no_skip_connections" in check_rules(quantize_network(net_of([4, 3]), "loihi2"),
                                                       load_profile("loihi2")).checked


def test_recurrent_dense_on_a_non_spiking_population_is_refused():
    net = net_of([4])
    net.nodes += [DenseNode("out", np.ones((2, 4))), NeuronNode("ro", "li", 2, params={"alpha": np.full(2, 0.9)}),
                  DenseNode("rec_ro", np.ones((2, 2)))]
    net.edges += [Edge("h1", "out"), Edge("out", "ro"), Edge("ro", "rec_ro"), Edge("rec_ro", "ro")]
    net.meta["output"] = "ro"
    fx = quantize_network(net.validate(), "loihi2")
    with pytest.raises(RuleError, match=r"rule graded-recurrence: layer ro: recurrent dense 'rec_ro' on non-spiking "
                                        r"population 'ro' \(li\)"):
        check_rules(fx, load_profile("loihi2"))
