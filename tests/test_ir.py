"""Network IR: round trip per node type, validation errors naming the nodes, digest, activity file."""
import numpy as np
import pytest

from snn_deploy.activity import Activity, load_activity, save_activity
from snn_deploy.errors import FormatError
from snn_deploy import catalogue
from snn_deploy.ir import (DenseNode, Edge, GraphError, InputNode, Network, NeuronNode, Precision,
                           load_network, network_digest, save_network)


def small_net(fixed: bool = False) -> Network:
    rng = np.random.default_rng(0)
    nodes = [
        InputNode("in", 5, encoding="spikes"),
        DenseNode("fc1", rng.normal(size=(4, 5)), bias=rng.normal(size=4), mask=rng.random((4, 5)) > 0.3),
        DenseNode("rec1", rng.normal(size=(4, 4))),
        NeuronNode("h1", "adlif", 4, params={"alpha": np.full(4, 0.9), "beta": np.full(4, 0.97),
                                              "a": np.linspace(-1, 1, 4), "b": np.ones(4), "threshold": 1.0}),
        DenseNode("fc2", rng.normal(size=(3, 4)), weight_exp=-2),
        DenseNode("gate2", rng.normal(size=(3, 4))),
        NeuronNode("h2", "spikgru", 3, params={"alpha": np.full(3, 0.5), "threshold": np.ones(3)}),
        DenseNode("out", rng.normal(size=(2, 3))),
        NeuronNode("readout", "li", 2, params={"alpha": np.full(2, 0.8)}),
    ]
    edges = [Edge("in", "fc1"), Edge("fc1", "h1"), Edge("h1", "rec1"), Edge("rec1", "h1"),
             Edge("h1", "fc2"), Edge("fc2", "h2"), Edge("h1", "gate2"), Edge("gate2", "h2", port="gate"),
             Edge("h2", "out"), Edge("out", "readout")]
    precision = Precision("loihi2", "test", formats={"weight_bits": 8}, layers={"fc1": {"exp": 0}}) if fixed else None
    if fixed:   # a fixed network carries each model's integer parameters (snn_deploy.catalogue: fixed_params)
        for node in nodes:
            if isinstance(node, NeuronNode):
                names = catalogue.get_model_entry(node.model).fixed_params
                node.params = {k: np.arange(node.size, dtype=np.int64) + i for i, k in enumerate(names)}
    return Network(nodes, edges, meta={"model": "test", "num_classes": 2}, precision=precision).validate()


@pytest.mark.parametrize("fixed", [False, True])
def test_round_trip_keeps_every_field_of_every_node_type(tmp_path, fixed):
    net = small_net(fixed)
    back = load_network(save_network(net, tmp_path / "net.h5"))
    assert [type(n) for n in back.nodes] == [type(n) for n in net.nodes]
    for a, b in zip(net.nodes, back.nodes):
        assert a.name == b.name
        if isinstance(a, DenseNode):
            np.testing.assert_array_equal(a.weight, b.weight)
            assert a.weight_exp == b.weight_exp
            for f in ("bias", "mask"):
                x, y = getattr(a, f), getattr(b, f)
                assert (x is None) == (y is None)
                if x is not None:
                    np.testing.assert_array_equal(x, y)
        if isinstance(a, NeuronNode):
            assert (a.model, a.size, a.reset) == (b.model, b.size, b.reset)
            assert set(a.params) == set(b.params)
            for k in a.params:
                np.testing.assert_array_equal(a.params[k], b.params[k])
    assert back.edges == net.edges
    assert back.meta == net.meta
    assert back.precision == net.precision
    assert network_digest(back) == network_digest(net)


def test_queries_follow_edges():
    net = small_net()
    assert [n.name for n in net.layer_order()] == ["h1", "h2", "readout"]
    assert net.is_recurrent("rec1") and not net.is_recurrent("fc1")
    assert [d.name for d in net.incoming("h2", "gate")] == ["gate2"]
    assert net.output().name == "readout"


def test_shape_mismatch_names_both_nodes():
    net = small_net()
    net.nodes[1] = DenseNode("fc1", np.zeros((4, 6)))
    with pytest.raises(GraphError, match=r"in->fc1.*5 outputs.*6 inputs"):
        net.validate()


def test_missing_gate_port_and_unknown_model_are_errors():
    net = small_net()
    net.edges = [e for e in net.edges if e.port != "gate"]
    with pytest.raises(GraphError, match="gate"):
        net.validate()
    net = small_net()
    net.nodes[3].model = "izhikevich"
    with pytest.raises(GraphError, match="izhikevich"):
        net.validate()


def test_digest_changes_with_one_weight():
    a, b = small_net(), small_net()
    b.nodes[1].weight[0, 0] += 1e-9
    assert network_digest(a) != network_digest(b)


def test_foreign_and_future_files_are_rejected(tmp_path):
    import h5py

    with h5py.File(tmp_path / "other.h5", "w") as f:
        f["x"] = 1
    with pytest.raises(FormatError, match="other.h5.*not an snn-deploy network"):
        load_network(tmp_path / "other.h5")
    path = save_network(small_net(), tmp_path / "net.h5")
    with h5py.File(path, "a") as f:
        f.attrs["version"] = 99
    with pytest.raises(FormatError, match="version 99"):
        load_network(path)
    (tmp_path / "junk.h5").write_bytes(b"not hdf5")
    with pytest.raises(FormatError, match="junk.h5"):
        load_network(tmp_path / "junk.h5")


def test_activity_round_trip_and_mismatch(tmp_path):
    net = small_net()
    rng = np.random.default_rng(1)
    s, t = 3, 7
    act = Activity("emulator", network_digest(net), input_steps=5, sample_index=np.arange(s),
                   labels=np.array([0, 1, 0]), predictions=np.array([0, 1, 1]),
                   inputs=rng.integers(0, 2, (s, t, 5)).astype(np.uint8),
                   spikes={"h1": rng.integers(0, 2, (s, t, 4)), "h2": rng.integers(0, 2, (s, t, 3))},
                   potentials={"readout": rng.normal(size=(s, t, 2)).astype(np.float32)})
    back = load_activity(save_activity(act, tmp_path / "act.h5"))
    back.check_matches(net)
    np.testing.assert_array_equal(back.spikes["h1"], act.spikes["h1"])
    np.testing.assert_array_equal(back.potentials["readout"], act.potentials["readout"])
    assert back.num_steps == t and back.input_steps == 5
    other = small_net()
    other.nodes[2].weight[0, 0] += 1
    with pytest.raises(FormatError, match="do not belong together"):
        back.check_matches(other)
