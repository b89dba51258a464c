"""NIR export/import: file round trip, IR round trip, refusals, and the time-constant mapping checked
by simulating a foreign (snnTorch-convention) NIR graph with NIR's own equations against our IR."""
import numpy as np
import pytest

nir = pytest.importorskip("nir")

from snn_deploy.convert.export_nir import (  # noqa: E402
    DEFAULT_DT, NirExportError, export_nir, import_nir, nir_caveats, write_nir)
from snn_deploy.errors import FormatError  # noqa: E402
from snn_deploy.ir import DenseNode, Edge, InputNode, Network, NeuronNode, Precision  # noqa: E402

DT = 0.004


def float_net(rng=None) -> Network:
    """Input -> CUBA-LIF (recurrent, zero reset) -> LIF -> LI readout, with a bias and a mask."""
    rng = rng or np.random.default_rng(1)
    nodes = [
        InputNode("x", 6),
        DenseNode("fc1", rng.normal(size=(5, 6)), bias=rng.normal(size=5) * 0.1, mask=rng.random((5, 6)) > 0.2),
        DenseNode("rec1", rng.normal(size=(5, 5)) * 0.3),
        NeuronNode("h1", "cuba_lif", 5, reset="zero",
                   params={"alpha": rng.uniform(0.3, 0.9, 5), "beta": 0.8, "threshold": np.full(5, 0.7)}),
        DenseNode("fc2", rng.normal(size=(4, 5))),
        NeuronNode("h2", "lif", 4, params={"alpha": rng.uniform(0.5, 0.95, 4), "threshold": 1.0}),
        DenseNode("fc3", rng.normal(size=(3, 4)), bias=np.zeros(3)),
        NeuronNode("readout", "li", 3, params={"alpha": np.array([0.5, 0.9, 1.0])}),
    ]
    edges = [Edge("x", "fc1"), Edge("fc1", "h1"), Edge("h1", "rec1"), Edge("rec1", "h1"),
             Edge("h1", "fc2"), Edge("fc2", "h2"), Edge("h2", "fc3"), Edge("fc3", "readout")]
    return Network(nodes, edges, meta={"dt": DT}).validate()


def test_nir_file_round_trip_gives_the_same_graph(tmp_path):
    graph = export_nir(float_net())
    path = write_nir(float_net(), tmp_path / "model.nir")
    back = nir.read(path)
    assert set(back.nodes) == set(graph.nodes) == {"x", "fc1", "rec1", "h1", "fc2", "h2", "fc3", "readout", "output"}
    assert sorted(back.edges) == sorted(graph.edges)
    assert ("rec1", "h1") in back.edges and ("h1", "rec1") in back.edges  # recurrence as edges
    for name, node in graph.nodes.items():
        other = back.nodes[name]
        assert type(other) is type(node)
        fields = {k: v for k, v in node.to_dict().items() if isinstance(v, np.ndarray)}
        assert fields or isinstance(node, (nir.Input, nir.Output))
        for key, value in fields.items():
            np.testing.assert_array_equal(other.to_dict()[key], value, err_msg=f"{name}.{key}")
    assert float(back.metadata["dt"]) == DT
    assert back.nodes["h2"].metadata["reset"] == "subtract"
    assert isinstance(back.nodes["fc1"], nir.Affine) and isinstance(back.nodes["fc2"], nir.Linear)


def test_time_constant_mapping_is_forward_euler():
    net = float_net()
    g = export_nir(net)
    h1, h2, ro = net.node("h1"), net.node("h2"), net.node("readout")
    np.testing.assert_allclose(g.nodes["h1"].tau_syn, DT / (1 - h1.params["alpha"]))
    np.testing.assert_allclose(g.nodes["h1"].tau_mem, np.full(5, DT / 0.2))
    np.testing.assert_allclose(g.nodes["h1"].w_in, 1 / (1 - h1.params["alpha"]))
    np.testing.assert_array_equal(g.nodes["h1"].r, np.ones(5))
    np.testing.assert_allclose(g.nodes["h2"].tau, DT / (1 - h2.params["alpha"]))
    assert np.isinf(g.nodes["readout"].tau[2]) and ro.params["alpha"][2] == 1.0  # a perfect integrator
    # the mask is multiplied into the weights
    np.testing.assert_array_equal(g.nodes["fc1"].weight, net.node("fc1").weight * net.node("fc1").mask)


def test_ir_round_trip_through_a_nir_file(tmp_path):
    net = float_net()
    back = import_nir(write_nir(net, tmp_path / "m.nir"))
    assert [n.name for n in back.nodes] == ["x", "fc1", "rec1", "h1", "fc2", "h2", "fc3", "readout"]
    assert set(back.edges) == set(net.edges)
    assert back.meta["output"] == "readout" and back.meta["dt"] == DT
    for a in net.nodes:
        b = back.node(a.name)
        assert type(b) is type(a)
        if isinstance(a, DenseNode):
            w = a.weight * a.mask if a.mask is not None else a.weight
            np.testing.assert_array_equal(b.weight, w)  # exact: unit row scales are left untouched
            assert (b.bias is None) == (a.bias is None)
            if a.bias is not None:
                np.testing.assert_array_equal(b.bias, a.bias)
        elif isinstance(a, NeuronNode):
            assert (b.model, b.size, set(b.params)) == (a.model, a.size, set(a.params))
            assert b.reset == a.reset
            for k, v in a.params.items():
                np.testing.assert_allclose(b.params[k], np.broadcast_to(v, (a.size,)), rtol=1e-12, atol=1e-15)


def test_cuba_lif_with_subtract_reset_round_trips_and_is_flagged():
    net = float_net()
    net.node("h1").reset = "subtract"
    assert [c for c in nir_caveats(net) if "'h1'" in c] and [c for c in nir_caveats(net) if "'h2'" in c]
    back = import_nir(export_nir(net))
    assert back.node("h1").reset == "subtract" and back.node("h1").model == "cuba_lif"


@pytest.mark.parametrize("model,params", [
    ("adlif", {"alpha": 0.9, "beta": 0.97, "a": 0.5, "b": 1.0, "threshold": 1.0}),
    ("mthr_lif", {"alpha": 0.9, "rho": 0.9, "k": 0.1, "threshold": 1.0}),
])
def test_models_nir_cannot_express_raise_naming_the_population(model, params):
    net = float_net()
    net.nodes[5] = NeuronNode("h2", model, 4, params=params)
    with pytest.raises(NirExportError, match=rf"population 'h2' \(model {model}\)"):
        export_nir(net)


def test_spikgru_raises():
    rng = np.random.default_rng(0)
    net = Network([InputNode("x", 3), DenseNode("w", rng.normal(size=(2, 3))), DenseNode("wz", rng.normal(size=(2, 3))),
                   NeuronNode("g", "spikgru", 2, params={"alpha": 0.5, "threshold": 1.0})],
                  [Edge("x", "w"), Edge("w", "g"), Edge("x", "wz"), Edge("wz", "g", port="gate")]).validate()
    with pytest.raises(NirExportError, match="'g'.*gate"):
        export_nir(net)


def test_fixed_network_and_non_decaying_current_are_refused():
    net = float_net()
    net.precision = Precision("loihi2", "test")
    with pytest.raises(NirExportError, match="float network"):
        export_nir(net)
    net = float_net()
    net.node("h1").params["alpha"] = np.ones(5)
    with pytest.raises(NirExportError, match="'h1': alpha must lie in"):
        export_nir(net)


def test_dt_default_and_override():
    net = float_net()
    net.meta.pop("dt")
    assert export_nir(net).metadata["dt"] == DEFAULT_DT
    assert export_nir(net, dt=0.01).metadata["dt"] == 0.01
    with pytest.raises(NirExportError, match="positive"):
        export_nir(net, dt=0.0)
    net.meta["dt"] = "fast"                  # an IR file's meta is anyone's text
    with pytest.raises(NirExportError, match="positive seconds, got 'fast'"):
        export_nir(net)


# ---- foreign graphs: semantics checked against NIR's own equations ------------------------------

def snntorch_style_graph(rng, nested: bool) -> "nir.NIRGraph":
    """A graph in snnTorch's convention (syn = α syn + W x; mem = β mem + syn), written with NIR's
    parameters: tau_syn = dt/(1-α), tau_mem = dt/(1-β), w_in = tau_syn/dt, r = tau_mem/dt."""
    n_in, n_h, n_o = 8, 6, 3
    a1, b1 = rng.uniform(0.2, 0.8, n_h), rng.uniform(0.7, 0.95, n_h)
    b2 = rng.uniform(0.6, 0.9, n_o)
    cuba = nir.CubaLIF(tau_syn=DT / (1 - a1), tau_mem=DT / (1 - b1), r=1 / (1 - b1), v_leak=np.zeros(n_h),
                       v_threshold=np.full(n_h, 1.0), w_in=1 / (1 - a1))
    lif = nir.LIF(tau=DT / (1 - b2), r=1 / (1 - b2), v_leak=np.zeros(n_o), v_threshold=np.full(n_o, 1.0))
    fc1 = nir.Affine(weight=rng.normal(0.4, 0.5, (n_h, n_in)), bias=rng.normal(0.0, 0.05, n_h))
    rec = nir.Linear(weight=rng.normal(0.0, 0.4, (n_h, n_h)))
    fc2 = nir.Linear(weight=rng.normal(0.1, 0.6, (n_o, n_h)))
    if not nested:
        nodes = {"input": nir.Input(np.array([n_in])), "fc1": fc1, "lif1": cuba, "w_rec": rec,
                 "fc2": fc2, "lif2": lif, "output": nir.Output(np.array([n_o]))}
        edges = [("input", "fc1"), ("fc1", "lif1"), ("lif1", "w_rec"), ("w_rec", "lif1"),
                 ("lif1", "fc2"), ("fc2", "lif2"), ("lif2", "output")]
    else:  # snnTorch writes a recurrent layer as a sub-graph: Input -> lif -> w_rec -> lif -> Output
        sub = nir.NIRGraph(nodes={"input": nir.Input(np.array([n_h])), "lif": cuba, "w_rec": rec,
                                  "output": nir.Output(np.array([n_h]))},
                           edges=[("input", "lif"), ("lif", "w_rec"), ("w_rec", "lif"), ("lif", "output")])
        nodes = {"input": nir.Input(np.array([n_in])), "fc1": fc1, "lif1": sub,
                 "fc2": fc2, "lif2": lif, "output": nir.Output(np.array([n_o]))}
        edges = [("input", "fc1"), ("fc1", "lif1"), ("lif1", "fc2"), ("fc2", "lif2"), ("lif2", "output")]
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata={"dt": DT})


def simulate_nir_flat(graph, x, dt):
    """Forward-Euler simulation of NIR's equations (flat graph; edges into already-updated nodes
    carry this step's output, back edges the previous step's); returns spikes per neuron node."""
    nodes, edges = graph.nodes, graph.edges
    order = ["input", "fc1", "lif1", "w_rec", "fc2", "lif2"]
    out = {k: np.zeros(np.asarray(n.output_type["output"]).prod()) for k, n in nodes.items() if k != "output"}
    state = {k: {"I": np.zeros_like(out[k]), "v": np.zeros_like(out[k])} for k in ("lif1", "lif2")}
    record = {"lif1": [], "lif2": []}
    for t in range(x.shape[0]):
        done = set()
        for k in order:
            n = nodes[k]
            inp = sum(out[s] for s, d in edges if d == k) if k != "input" else x[t]
            if isinstance(n, nir.Input):
                out[k] = inp
            elif isinstance(n, nir.Affine):
                out[k] = n.weight @ inp + n.bias
            elif isinstance(n, nir.Linear):
                out[k] = n.weight @ inp
            else:
                st = state[k]
                if isinstance(n, nir.CubaLIF):
                    st["I"] = st["I"] + dt / n.tau_syn * (-st["I"] + n.w_in * inp)
                    st["v"] = st["v"] + dt / n.tau_mem * (n.v_leak - st["v"] + n.r * st["I"])
                else:  # LIF
                    st["v"] = st["v"] + dt / n.tau * (n.v_leak - st["v"] + n.r * inp)
                s = (st["v"] > n.v_threshold).astype(float)
                st["v"] = np.where(s > 0, n.v_reset, st["v"])
                out[k] = s
                record[k].append(s)
            done.add(k)
    return {k: np.array(v) for k, v in record.items()}


def simulate_ir(net, x):
    """Our float IR semantics, as the project runs them (train.ir_runner): spikes per population."""
    from snn_deploy.train.ir_runner import run_float_network

    run = run_float_network(net, x[None].astype(np.float32))
    return {k: v[0].numpy().astype(np.float64) for k, v in run.spikes.items()}


def test_imported_snntorch_style_graph_spikes_like_nir_equations(tmp_path):
    rng = np.random.default_rng(7)
    graph = snntorch_style_graph(rng, nested=False)
    x = (rng.random((40, 8)) < 0.3).astype(float)
    expected = simulate_nir_flat(graph, x, DT)
    net = import_nir(graph)
    assert net.node("lif2").model == "cuba_lif" and np.all(net.node("lif2").params["alpha"] == 0.0)
    assert net.meta["output"] == "lif2"
    got = simulate_ir(net, x)
    for k in ("lif1", "lif2"):
        assert expected[k].sum() > 5, f"{k}: too few spikes for a meaningful comparison"
        assert 0 < expected[k].mean() < 0.9
        np.testing.assert_array_equal(got[k], expected[k], err_msg=k)
    # and through a file
    nir.write(tmp_path / "foreign.nir", graph)
    again = simulate_ir(import_nir(tmp_path / "foreign.nir"), x)
    np.testing.assert_array_equal(again["lif2"], expected["lif2"])


def test_nested_recurrent_subgraph_is_flattened_like_the_flat_graph():
    flat = import_nir(snntorch_style_graph(np.random.default_rng(3), nested=False))
    nested = import_nir(snntorch_style_graph(np.random.default_rng(3), nested=True))
    rename = {"lif1.lif": "lif1", "lif1.w_rec": "w_rec"}
    assert {(rename.get(e.source, e.source), rename.get(e.target, e.target)) for e in nested.edges} == {
        (e.source, e.target) for e in flat.edges}
    for n in nested.nodes:
        m = flat.node(rename.get(n.name, n.name))
        if isinstance(n, DenseNode):
            np.testing.assert_array_equal(n.weight, m.weight)
        elif isinstance(n, NeuronNode):
            for k in n.params:
                np.testing.assert_array_equal(n.params[k], m.params[k])


def test_direct_population_edge_gets_an_identity_dense():
    lif = nir.LIF(tau=np.full(3, 2 * DT), r=np.ones(3), v_leak=np.zeros(3), v_threshold=np.ones(3))
    g = nir.NIRGraph(nodes={"in": nir.Input(np.array([3])), "lif": lif, "out": nir.Output(np.array([3]))},
                     edges=[("in", "lif"), ("lif", "out")], metadata={"dt": DT})
    net = import_nir(g)
    ident = net.incoming("lif")[0]
    np.testing.assert_array_equal(ident.weight, np.eye(3))
    np.testing.assert_allclose(net.node("lif").params["beta"], 0.5)


def test_import_errors_name_the_file_and_node(tmp_path):
    rng = np.random.default_rng(0)
    g = snntorch_style_graph(rng, nested=False)
    g.metadata = {}
    with pytest.raises(FormatError, match="no time step"):
        import_nir(g)
    assert import_nir(g, dt=DT).node("lif1").size == 6
    bad = nir.NIRGraph(nodes={"in": nir.Input(np.array([2])), "fc": nir.Linear(weight=np.ones((2, 2))),
                              "if1": nir.IF(r=np.ones(2), v_threshold=np.ones(2)), "out": nir.Output(np.array([2]))},
                       edges=[("in", "fc"), ("fc", "if1"), ("if1", "out")], metadata={"dt": DT})
    path = tmp_path / "bad.nir"
    nir.write(path, bad)
    with pytest.raises(FormatError, match=r"bad\.nir: node 'if1' \(IF\): not supported"):
        import_nir(path)
    leaky = snntorch_style_graph(rng, nested=False)
    leaky.nodes["lif2"].v_leak = np.full(3, 0.1)
    with pytest.raises(FormatError, match="'lif2'.*v_leak must be 0"):
        import_nir(leaky)
    (tmp_path / "junk.nir").write_text("not hdf5")
    with pytest.raises(FormatError, match="junk.nir: not a NIR file: the file is a text file"):
        import_nir(tmp_path / "junk.nir")
    with pytest.raises(FormatError, match="no such NIR file"):
        import_nir(tmp_path / "missing.nir")


# ---- real models of the zoo (train.models -> train.export.model_to_ir) ---------------------------

def zoo_ir(model: str, readout: str = "cumsoftmax", reset: str = "subtract"):
    torch = pytest.importorskip("torch")
    from snn_deploy.train.config import ModelConfig
    from snn_deploy.train.export import model_to_ir
    from snn_deploy.train.models import build_model

    cfg = ModelConfig(model=model, input_size=12, num_classes=3, layers=3, hidden=10, readout=readout,
                      reset=reset, seed=4)
    m = build_model(cfg)
    m.train()
    with torch.no_grad():  # non-trivial batch-norm statistics
        m(torch.rand(6, 20, 12, generator=torch.Generator().manual_seed(0)) * 2)
    net = model_to_ir(m.eval(), cfg)
    for d in net.dense_nodes():  # untrained weights barely drive the neurons: scale them up to get spikes
        d.weight = d.weight * np.float32(6.0 if model == "cuba_lif" else 25.0)
    return net


@pytest.mark.parametrize("model,readout,reset", [("cuba_lif", "cumsoftmax", "zero"), ("cuba_lif", "max", "subtract"),
                                                 ("rlif", "spike_count", "subtract"), ("lif", "last", "subtract")])
def test_zoo_models_round_trip_and_run_the_same(tmp_path, model, readout, reset):
    from snn_deploy.train.ir_runner import run_float_network

    net = zoo_ir(model, readout, reset)
    back = import_nir(write_nir(net, tmp_path / "m.nir", dt=DT))
    assert [n.name for n in back.nodes] == [n.name for n in net.nodes]
    assert set(back.edges) == set(net.edges)
    back.meta["readout"] = readout  # NIR has no readout mode: the caller knows it
    x = (np.random.default_rng(0).random((4, 25, 12)) < 0.4).astype(np.float32)
    a, b = run_float_network(net, x), run_float_network(back, x)
    for name, s in a.spikes.items():
        assert 0 < s.mean() < 0.9, f"{name}: no spikes, or saturated"
        np.testing.assert_array_equal(b.spikes[name].numpy(), s.numpy(), err_msg=name)
    np.testing.assert_allclose(b.readout.numpy(), a.readout.numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("model", ["adlif", "radlif", "mthr_lif", "spikgru"])
def test_zoo_models_nir_cannot_express_are_refused(model):
    with pytest.raises(NirExportError, match="population 'h1'"):
        export_nir(zoo_ir(model))


# ---- CLI: snn-deploy convert --export nir --------------------------------------------------------

def _checkpoint(tmp_path, model, reset="zero"):
    torch = pytest.importorskip("torch")
    from snn_deploy.train.checkpoint import save_checkpoint
    from snn_deploy.train.config import ModelConfig
    from snn_deploy.train.models import build_model

    torch.manual_seed(0)
    cfg = ModelConfig(model=model, input_size=20, num_classes=3, layers=2, hidden=8, reset=reset)
    meta = {"num_channels": 20, "num_classes": 3, "class_names": ["a", "b", "c"], "input_kind": "spikes",
            "time_steps": 50, "duration": 1.0}
    return save_checkpoint(tmp_path / f"{model}.pt", build_model(cfg), cfg, None, meta)


def test_convert_cli_writes_model_nir(tmp_path, capsys):
    from snn_deploy.cli import main
    from snn_deploy.ir import load_network

    out = tmp_path / "out"
    rc = main(["convert", str(_checkpoint(tmp_path, "cuba_lif")), "--target", "loihi-emu", "--export", "nir",
               "-o", str(out)])
    assert rc == 0, capsys.readouterr().err
    graph = nir.read(out / "model.nir")
    assert float(graph.metadata["dt"]) == pytest.approx(1.0 / 50)  # duration / time_steps of the checkpoint
    back = import_nir(out / "model.nir")
    flt = load_network(out / "network_float.h5")
    assert [n.name for n in back.nodes] == [n.name for n in flt.nodes]
    np.testing.assert_allclose(back.node("h1").params["alpha"], flt.node("h1").params["alpha"], rtol=1e-6)
    assert isinstance(graph.nodes["h1"], nir.CubaLIF) and isinstance(graph.nodes["readout"], nir.LI)


def test_convert_cli_export_errors_are_one_line_and_write_nothing(tmp_path, capsys):
    from snn_deploy.cli import main

    out = tmp_path / "out"
    for argv, match, code in [
        (["--export", "nir,tflite"], "unknown --export ['tflite']", 2),                          # the option's
        (["--export", "onnx"], "--export onnx is for ANN baselines", 2),
    ]:
        rc = main(["convert", str(_checkpoint(tmp_path, "cuba_lif")), "--target", "loihi-emu", "--profile", "loihi2",
                   *argv, "-o", str(out)])
        err = capsys.readouterr().err.strip().splitlines()
        assert rc == code and len(err) == 1 and match in err[0], err
        assert not out.exists() and not list(tmp_path.glob(".out.*"))


def test_convert_cli_nir_inexpressible_model_is_a_warning_not_a_failure(tmp_path, capsys):
    """adLIF has no NIR primitive: convert still writes everything else and says why model.nir is missing."""
    import json

    from snn_deploy.cli import main

    out = tmp_path / "out"
    rc = main(["convert", str(_checkpoint(tmp_path, "adlif", reset="subtract")), "--target", "loihi-emu",
               "--export", "nir", "-o", str(out)])
    printed = capsys.readouterr().out
    assert rc == 0
    assert (out / "network.h5").exists() and not (out / "model.nir").exists()
    report = json.loads((out / "quantization.json").read_text())
    assert report["nir"]["written"] is False
    assert "population 'h1' (model adlif) cannot be exported to NIR" in report["nir"]["reason"]
    line = "warning: nir: model.nir not written: population 'h1' (model adlif) cannot be exported to NIR"
    assert line in printed and line in (out / "summary.txt").read_text()


def test_convert_cli_prints_and_writes_the_reader_caveats(tmp_path, capsys):
    import json

    from snn_deploy.cli import main

    out = tmp_path / "out"
    assert main(["convert", str(_checkpoint(tmp_path, "lif", reset="subtract")), "--target", "loihi-emu",
                 "--export", "nir", "-o", str(out)]) == 0
    printed = capsys.readouterr().out
    report = json.loads((out / "quantization.json").read_text())["nir"]
    assert report["written"] and report["dt"] == pytest.approx(0.02)
    graph = nir.read(out / "model.nir")
    assert graph.nodes["h1"].metadata["reset"] == "subtract" and float(graph.metadata["dt"]) == pytest.approx(0.02)
    subtract = next(c for c in report["caveats"] if "reset by subtraction" in c)
    assert subtract.startswith("populations 'h1' reset by subtraction")
    assert any("dt = 0.02 s" in c and "Norse" in c for c in report["caveats"])
    for caveat in report["caveats"]:
        assert f"caveat: {caveat}" in printed and f"caveat: {caveat}" in (out / "summary.txt").read_text()


def test_the_exporters_write_the_primitives_the_mapping_table_declares():
    from snn_deploy.convert.nir_map import NIR_EXPORT

    net = float_net()
    graph = export_nir(net)
    assert {pop.model for pop in net.neuron_nodes()} == set(NIR_EXPORT)
    for pop in net.neuron_nodes():
        assert type(graph.nodes[pop.name]).__name__ == NIR_EXPORT[pop.model].primitive
