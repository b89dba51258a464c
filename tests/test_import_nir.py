"""``snn-deploy convert model.nir``: a NIR file made elsewhere is recognised by its content, checked
before NIR's reader sees it, imported (Scale and linear chains folded) and converted; everything that
cannot be mapped exactly is one line naming the node."""
import h5py
import numpy as np
import pytest

nir = pytest.importorskip("nir")

from snn_deploy.cli import main  # noqa: E402
from snn_deploy.convert.import_nir import import_nir, is_nir_file  # noqa: E402
from snn_deploy.errors import FormatError  # noqa: E402
from snn_deploy.ir import load_network  # noqa: E402
from test_export_nir import DT, simulate_ir, snntorch_style_graph  # noqa: E402


def one_line_error(capsys, rc, code=1):
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == code and len(err) == 1 and err[0].startswith("error: "), err
    return err[0]


def test_convert_reads_a_nir_file_by_content_with_dt_from_the_option(tmp_path, capsys):
    graph = snntorch_style_graph(np.random.default_rng(5), nested=True)
    graph.metadata = {}
    path = tmp_path / "from_snntorch.h5"          # no .nir suffix: told by content
    nir.write(path, graph)
    assert is_nir_file(path) and not is_nir_file(tmp_path)
    out = tmp_path / "out"
    msg = one_line_error(capsys, main(["convert", str(path), "--target", "loihi-emu", "-o", str(out)]))
    assert "carries no time step" in msg and "--dt" in msg and not out.exists()
    assert main(["convert", str(path), "--target", "loihi-emu", "--dt", str(DT), "-o", str(out)]) == 0
    printed = capsys.readouterr().out
    assert f"converted {path}" in printed
    flt = load_network(out / "network_float.h5")
    ref = import_nir(path, dt=DT)
    assert [n.name for n in flt.nodes] == [n.name for n in ref.nodes]
    np.testing.assert_allclose(flt.node("lif1.lif").params["beta"], ref.node("lif1.lif").params["beta"])
    assert load_network(out / "network.h5").is_fixed


def test_python_api_converts_a_nir_file(tmp_path):
    import snn_deploy as sd

    path = tmp_path / "m.nir"
    nir.write(path, snntorch_style_graph(np.random.default_rng(2), nested=False))
    conv = sd.convert(path, target="loihi-emu")
    assert conv.float_network.meta["dt"] == DT and conv.network.is_fixed
    assert sd.convert(path, target="loihi-emu", dt=DT / 2).float_network.meta["dt"] == DT / 2


def test_dt_option_is_for_nir_files_only(tmp_path, capsys):
    from test_export_nir import _checkpoint

    rc = main(["convert", str(_checkpoint(tmp_path, "cuba_lif")), "--target", "loihi-emu", "--dt", "0.01",
               "-o", str(tmp_path / "o")])
    assert "--dt is for NIR files" in one_line_error(capsys, rc, code=2)
    rc = main(["convert", str(tmp_path / "x.nir"), "--target", "loihi-emu", "--dt", "-1", "-o", str(tmp_path / "o")])
    assert "--dt must be a positive" in one_line_error(capsys, rc, code=2)


def test_scale_and_linear_chains_fold_into_one_dense():
    rng = np.random.default_rng(4)
    w, s, b = rng.normal(size=(3, 4)), rng.uniform(0.5, 2.0, 4), rng.normal(size=3)
    s2 = rng.uniform(0.5, 2.0, 3)
    lif = nir.LIF(tau=np.full(3, 4 * DT), r=np.ones(3), v_leak=np.zeros(3), v_threshold=np.ones(3))
    chain = nir.NIRGraph(
        nodes={"in": nir.Input(np.array([4])), "pre": nir.Scale(scale=s), "fc": nir.Affine(weight=w, bias=b),
               "post": nir.Scale(scale=s2), "lif": lif, "out": nir.Output(np.array([3]))},
        edges=[("in", "pre"), ("pre", "fc"), ("fc", "post"), ("post", "lif"), ("lif", "out")], metadata={"dt": DT})
    dense = import_nir(chain).incoming("lif")[0]
    np.testing.assert_allclose(dense.weight, np.diag(s2) @ w @ np.diag(s))
    np.testing.assert_allclose(dense.bias, s2 * b)
    x = (rng.random((30, 4)) < 0.5).astype(float)
    direct = nir.NIRGraph(
        nodes={"in": nir.Input(np.array([4])), "fc": nir.Affine(weight=np.diag(s2) @ w @ np.diag(s), bias=s2 * b),
               "lif": lif, "out": nir.Output(np.array([3]))},
        edges=[("in", "fc"), ("fc", "lif"), ("lif", "out")], metadata={"dt": DT})
    np.testing.assert_array_equal(simulate_ir(import_nir(chain), x)["lif"], simulate_ir(import_nir(direct), x)["lif"])


def test_what_cannot_be_mapped_is_one_line_naming_the_node(tmp_path, capsys):
    nodes = {"in": nir.Input(np.array([2])), "fc": nir.Linear(weight=np.ones((2, 2))),
             "if1": nir.IF(r=np.ones(2), v_threshold=np.ones(2)), "out": nir.Output(np.array([2]))}
    path = tmp_path / "if.nir"
    nir.write(path, nir.NIRGraph(nodes=nodes, edges=[("in", "fc"), ("fc", "if1"), ("if1", "out")],
                                 metadata={"dt": DT}))
    msg = one_line_error(capsys, main(["convert", str(path), "--target", "loihi-emu", "-o", str(tmp_path / "o")]))
    assert "node 'if1' (IF): not supported: a non-leaky integrator" in msg
    fan = nir.NIRGraph(nodes={**nodes, "if1": nir.LIF(tau=np.full(2, 2 * DT), r=np.ones(2), v_leak=np.zeros(2),
                                                       v_threshold=np.ones(2)),
                              "fc2": nir.Linear(weight=np.ones((2, 2))), "fc3": nir.Linear(weight=np.ones((2, 2)))},
                       edges=[("in", "fc"), ("fc", "fc2"), ("fc", "fc3"), ("fc2", "if1"), ("fc3", "if1"),
                              ("if1", "out")], metadata={"dt": DT})
    with pytest.raises(FormatError, match="linear nodes 'fc' -> 'fc2'.*fans out"):
        import_nir(fan)


def test_file_structure_is_checked_before_nir_reads_it(tmp_path, capsys):
    path = tmp_path / "m.nir"
    nir.write(path, snntorch_style_graph(np.random.default_rng(1), nested=False))
    other = tmp_path / "other.h5"
    with h5py.File(other, "w") as f:
        f["w"] = np.ones((6, 8))
    with h5py.File(path, "a") as f:       # a weight read from another file of the sender's choosing
        del f["node/nodes/fc1/weight"]
        f["node/nodes/fc1/weight"] = h5py.ExternalLink(str(other), "w")
    msg = one_line_error(capsys, main(["convert", str(path), "--target", "loihi-emu", "-o", str(tmp_path / "o")]))
    assert "'node/nodes/fc1/weight' is a ExternalLink, expected data stored in this file" in msg
    with h5py.File(path, "a") as f:       # a node type NIR 1.0 does not have
        del f["node/nodes/fc1/weight"]
        f["node/nodes/fc1/weight"] = np.ones((6, 8))
        del f["node/nodes/fc1/type"]
        f["node/nodes/fc1/type"] = b"Exec"
    with pytest.raises(FormatError, match="node 'node/nodes/fc1' has type 'Exec', not a NIR 1.0 node type"):
        import_nir(path)
    with h5py.File(path, "a") as f:       # claims a large array it does not hold
        del f["node/nodes/fc1/type"]
        f["node/nodes/fc1/type"] = b"Affine"
        del f["node/nodes/fc1/weight"]
        f.create_dataset("node/nodes/fc1/weight", shape=(6000, 8000), chunks=(60, 80), dtype="f8")
    with pytest.raises(FormatError, match="holds 0 of its 10000 chunks"):
        import_nir(path)


def test_size_one_parameters_broadcast_and_a_time_by_channel_input_reads_as_channels():
    """Sinabs writes one tau for a layer and its Input as [T, C]: the population takes the size of the
    dense driving it (numpy broadcasting), the input C channels; sizes that disagree are refused."""
    w = np.arange(12.0).reshape(3, 4) / 10
    graph = nir.NIRGraph(
        nodes={"input": nir.Input(input_type=np.array([40, 4])), "fc": nir.Linear(weight=w),
               "lif": nir.LIF(tau=np.array([5.0]), r=np.array([1.0]), v_leak=np.array([0.0]),
                              v_threshold=np.array([1.0]), v_reset=np.array([0.0])),
               "output": nir.Output(output_type=np.array([3]))},
        edges=[("input", "fc"), ("fc", "lif"), ("lif", "output")], type_check=False)
    net = import_nir(graph, dt=1.0)
    assert net.node("input").size == 4 and net.node("lif").size == 3
    np.testing.assert_allclose(net.node("lif").params["beta"], np.full(3, 0.8))
    np.testing.assert_allclose(net.node("lif").params["threshold"], np.ones(3))
    graph.nodes["lif"].tau = np.full(2, 5.0)   # as a file holds it (NIR's constructor would refuse)
    graph.nodes["lif"].v_threshold = np.ones(3)
    with pytest.raises(FormatError, match=r"node 'lif' \(LIF\): its parameters have different sizes \[1, 2, 3\]"):
        import_nir(graph, dt=1.0)


def test_a_type_kept_in_another_file_or_a_graph_of_links_is_refused_without_reading_them(tmp_path):
    """A node's 'type' stored externally (pointing at a local secret) must not be read into a message; hard
    links that make the groups a graph (exponential to walk) are refused at once."""
    import time

    import h5py

    from snn_deploy.convert.import_nir import read_nir_file
    from snn_deploy.errors import FormatError

    secret = tmp_path / "secret.txt"
    secret.write_bytes(b"SECRET-TOKEN-abc123\n")
    leaky = tmp_path / "leaky.nir"
    with h5py.File(leaky, "w") as f:
        node = f.create_group("node")
        node.create_dataset("type", shape=(), dtype="S20", external=[(str(secret), 0, 20)])
    with pytest.raises(FormatError) as err:
        read_nir_file(leaky)
    assert "SECRET" not in str(err.value)

    dag = tmp_path / "dag.nir"
    with h5py.File(dag, "w") as f:
        node = f.create_group("node")
        node["type"] = np.bytes_("NIRGraph")
        level = node.create_group("nodes")
        for depth in range(12):
            child = f.create_group(f"g{depth}")
            for k in range(6):
                level[f"l{k}"] = child      # six hard links to one group
            level = child
    t0 = time.monotonic()
    with pytest.raises(FormatError, match="reached twice"):
        read_nir_file(dag)
    assert time.monotonic() - t0 < 5
