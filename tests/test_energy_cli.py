"""``snn-deploy energy`` end to end on a hand-made run, and its messages on bad input."""
import json

import numpy as np
import pytest

from snn_deploy.activity import save_activity
from snn_deploy.cli import main
from snn_deploy.ir import save_network

from test_energy_counting import tiny_activity, tiny_net


def make_run(directory, predictions=(0, 1)):
    net = tiny_net()
    act = tiny_activity(net)
    act.predictions = np.array(predictions)
    save_network(net, directory / "network.h5")
    save_activity(act, directory / "activity.h5")
    return directory


def test_report_has_hand_worked_numbers_tables_plots_and_assumptions(tmp_path, capsys):
    run = make_run(tmp_path / "run")
    out = tmp_path / "report"
    rc = main(["energy", str(run), "--profile", "loihi1", "--profile", "cmos45nm-int32",
               "--baseline", "gru", "--baseline", "rnn:3x16", "-o", str(out)])
    assert rc == 0
    summary = capsys.readouterr().out
    assert "loihi1: compute 894 pJ – 1.53 nJ, compute + memory 894 pJ – 1.53 nJ per inference" in summary
    assert "cmos45nm-int32: compute 31.1 pJ, compute + memory 36 pJ – 39.3 pJ per inference; dominated by compute" in summary
    data = json.loads((out / "energy.json").read_text())
    r = data["runs"][0]
    assert r["mean_firing_rate"] == pytest.approx(2.5 / 6)
    assert r["ops_per_inference"]["mac"] == pytest.approx(9) and r["ops_per_inference"]["ac"] == pytest.approx(22.5)
    assert r["energy"]["loihi1"]["total"] == pytest.approx({"min_pj": 894.45, "max_pj": 1529.7})
    assert r["energy"]["cmos45nm-int32"]["compute"]["min_pj"] == pytest.approx(31.05)
    assert r["energy"]["cmos45nm-int32"]["total"]["min_pj"] > 31.05   # the memory term is on by default
    h = next(l for l in r["layers"] if l["name"] == "h")
    assert h["per_inference"]["syn_ac"] == pytest.approx(9)
    # gru with the SNN's shape: one hidden layer of 2 on 3 inputs, 1 class, 3 frames, readout once
    gru = data["baselines"][0]
    assert gru["ops_per_inference"]["mac"] == 3 * (3 * 6 + 3 * 4 + 6) + 2   # 3 frames x (3mn + 3n² + 3n) + readout
    ops_ratio = next(x for x in data["ratios"] if x["baseline"] == gru["name"])["ops"]
    assert ops_ratio == pytest.approx(gru["ops_per_inference"]["total"] / 31.5)
    lo, hi = data["ratios"][0]["energy"]["loihi1"]["cmos45nm-int32"]
    assert lo == pytest.approx(gru["energy"]["cmos45nm-int32"]["max_pj"] / 1529.7)
    md = (out / "energy.md").read_text()
    for needle in ("| h | lif | 2 |", "## Ratios", "## Assumptions", "davies2018", "Table 2 estimate"):
        assert needle in md
    assert (out / "energy_per_layer.png").stat().st_size > 1000
    assert not (out / "accuracy_vs_ops.png").exists()


def test_several_runs_give_the_accuracy_vs_ops_plot(tmp_path):
    a = make_run(tmp_path / "a")
    b = make_run(tmp_path / "b", predictions=(0, 0))
    out = tmp_path / "report"
    assert main(["energy", str(a), str(b), "--profile", "cmos45nm-int8", "--baseline", "mlp", "-o", str(out)]) == 0
    data = json.loads((out / "energy.json").read_text())
    assert [r["accuracy"] for r in data["runs"]] == [0.5, 1.0]
    assert (out / "accuracy_vs_ops.png").stat().st_size > 1000


def test_activity_of_another_network_is_a_clear_error(tmp_path, capsys):
    run = make_run(tmp_path / "run")
    other = tiny_net()
    other.node("rec").weight[:] = 2.0
    save_network(other, run / "network.h5")
    assert main(["energy", str(run), "-o", str(tmp_path / "r")]) == 1
    err = capsys.readouterr().err
    assert "do not belong together" in err and "network.h5" in err


def test_unknown_profile_is_a_clear_error(tmp_path, capsys):
    run = make_run(tmp_path / "run")
    assert main(["energy", str(run), "--profile", "tpu9", "-o", str(tmp_path / "r")]) == 2
    assert "unknown hardware profile 'tpu9'" in capsys.readouterr().err


def test_onnx_with_unsupported_ops_is_refused_then_listed(tmp_path, capsys):
    import onnx
    from onnx import TensorProto, helper

    run = make_run(tmp_path / "run")
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 3])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3, 3])
    graph = helper.make_graph([helper.make_node("Hardmax", ["x"], ["y"], name="hm")], "g", [x], [y])
    path = tmp_path / "odd.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    args = ["energy", str(run), "--profile", "cmos45nm-int32", "--baseline", str(path), "-o", str(tmp_path / "r")]
    assert main(args) == 1
    assert "Hardmax x1 (hm)" in capsys.readouterr().err
    assert main(args + ["--allow-unsupported"]) == 0
    assert "NOT COUNTED (unsupported): Hardmax x1" in (tmp_path / "r" / "energy.md").read_text()


def test_activity_option_needs_a_single_run(tmp_path, capsys):
    a = make_run(tmp_path / "a")
    assert main(["energy", str(a), str(a), "--activity", str(a / "activity.h5")]) == 2
    assert "single RUN" in capsys.readouterr().err


def test_memory_term_is_reported_beside_compute(tmp_path):
    run = make_run(tmp_path / "run")
    plain, mem = tmp_path / "plain", tmp_path / "mem"
    base = ["energy", str(run), "--profile", "cmos45nm-int32", "--profile", "loihi1", "--baseline", "gru", "--no-plots"]
    assert main(base + ["--no-memory", "-o", str(plain)]) == 0 and main(base + ["-o", str(mem)]) == 0   # memory is the default
    p = json.loads((plain / "energy.json").read_text())
    m = json.loads((mem / "energy.json").read_text())
    cm, cp = m["runs"][0]["energy"]["cmos45nm-int32"], p["runs"][0]["energy"]["cmos45nm-int32"]
    assert cm["compute"] == pytest.approx(cp["total"])
    assert cm["memory"]["min_pj"] > 0 and cm["memory"]["max_pj"] > cm["memory"]["min_pj"]   # accumulator .. event-driven
    assert cm["total"]["min_pj"] == pytest.approx(cm["compute"]["min_pj"] + cm["memory"]["min_pj"])
    assert m["runs"][0]["energy"]["loihi1"]["memory"] == {"min_pj": 0.0, "max_pj": 0.0}
    assert m["baselines"][0]["energy_compute_only"] == p["baselines"][0]["energy"]
    md = (mem / "energy.md").read_text()
    assert "compute only in brackets" in md and "| compute only | compute + memory | dominated by |" in md
    assert [h["compute_only"] for h in m["headline"]] == [h["compute_and_memory"] for h in p["headline"]]
