"""What a reviewer checks in the energy report: NeuroBench's terms worked by hand (and against NeuroBench
itself when it is importable) and plots that fit (the calibration table: test_energy_calibration.py)."""
import importlib.util

import numpy as np
import pytest

from snn_deploy.energy import counting
from snn_deploy.energy.neurobench import count_neurobench
from snn_deploy.energy.pricing import load_energy_table
from snn_deploy.energy.report import build_report, report_markdown, report_to_dict

from test_energy_counting import tiny_activity, tiny_net

NEUROBENCH_2_3_0_ZERO_DIAGONAL = (8.5, 0.5)   # (Effective_ACs, Effective_MACs) NeuroBench 2.3.0 gave, see below


def zero_diagonal_net():
    net = tiny_net()
    net.node("rec").weight[:] = np.array([[0.0, 1.0], [1.0, 0.0]])   # recurrent matrix with a zero diagonal
    return net


def test_neurobench_terms_worked_by_hand():
    net = tiny_net()
    act = tiny_activity(net)
    nb = count_neurobench(net, act)
    by = {d.name: d for d in nb.denses}
    # fc (fan-out [2, 1, 1]): sample 0 t0 [1,0,1] -> 3 AC, t1 [0,2,0] is a count -> the call is 1 MAC;
    # sample 1 t1 [1,1,1] -> 4 AC, t2 [0,0,1] -> 1 AC.  Per sample: 4 AC, 0.5 MAC.
    assert (by["fc"].effective_acs, by["fc"].effective_macs) == (4.0, 0.5)
    # rec (fan-out 2) sees s[t-1]: sample 0 spikes of t0, t1 = 1 + 2; sample 1: t1 = 1 -> 8 / 2 samples
    assert by["rec"].effective_acs == 4.0
    # out (fan-out 1): every spike of h, final step included -> (3 + 2) / 2
    assert by["out"].effective_acs == 2.5
    assert nb.effective_acs == 10.5 and nb.effective_macs == 0.5
    assert nb.dense == 3 * (3 * 2 + 2 * 2 + 2 * 1)
    assert nb.activation_sparsity == pytest.approx(7 / 12)
    # ours counts the spike count 2 as 2 ACs: 9 synaptic ACs into h (test_energy_counting) vs NeuroBench's 8.5 ops
    counts = counting.count_network(net, act)
    assert counts.layer("h").total("syn_ac") == 9


def test_zero_diagonal_counts_n_synapses_unless_nonzero_only():
    net = zero_diagonal_net()
    act = tiny_activity(net)
    dense_rec = lambda c: next(d for d in c.layer("h").denses if d.name == "rec")
    every = counting.count_network(net, act)
    nonzero = counting.count_network(net, act, nonzero_synapses=True)
    assert dense_rec(every).synapses == 4 and dense_rec(nonzero).synapses == 2
    assert dense_rec(every).ops_per_inference == 4.0 and dense_rec(nonzero).ops_per_inference == 2.0
    nb = {d.name: d for d in every.neurobench.denses}
    assert nb["rec"].effective_acs == dense_rec(nonzero).ops_per_inference   # NeuroBench counts nonzero weights
    # recorded with neurobench 2.3.0 (single_layer_MACs on these rasters, per sample and step; scratch venv):
    # Effective_ACs 8.5, Effective_MACs 0.5 per sample
    assert (every.neurobench.effective_acs, every.neurobench.effective_macs) == NEUROBENCH_2_3_0_ZERO_DIAGONAL
    rep = build_report([("r", "n", "a", nonzero)], [load_energy_table("loihi1")], [], [])
    md = report_markdown(rep)
    assert "nonzero weights only (--nonzero-synapses)" in md and "| Effective_ACs |" in md
    block = report_to_dict(rep)["runs"][0]["neurobench"]
    assert block["SynapticOperations"]["Effective_ACs"] == pytest.approx(every.neurobench.effective_acs)
    assert set(block["differences"]) >= {"synaptic_operations", "effective_acs", "effective_macs",
                                         "activation_sparsity", "membrane_updates", "dense"}


@pytest.mark.skipif(importlib.util.find_spec("neurobench") is None, reason="NeuroBench not installed")
def test_neurobench_itself_agrees():
    import torch
    from neurobench.metrics.utils.layers import single_layer_MACs

    net = zero_diagonal_net()
    act = tiny_activity(net)
    nb = count_neurobench(net, act)
    ac = mac = 0.0
    for dense in net.dense_nodes():
        layer = torch.nn.Linear(dense.in_size, dense.out_size, bias=False)
        w = np.asarray(dense.weight) * (1 if dense.mask is None else np.asarray(dense.mask))
        layer.weight.data = torch.tensor(w, dtype=torch.float32)
        src = net.source_of(dense.name)
        values = act.inputs if src == "in" else act.spikes[src]
        if net.is_recurrent(dense.name):
            values = np.concatenate([np.zeros_like(values[:, :1]), values[:, :-1]], axis=1)
        for s in range(values.shape[0]):
            for t in range(values.shape[1]):
                ops, spiking = single_layer_MACs(torch.tensor(values[s:s + 1, t], dtype=torch.float32), layer)
                ac, mac = (ac + ops, mac) if spiking else (ac, mac + ops)
    n = act.num_samples
    assert (nb.effective_acs, nb.effective_macs) == (ac / n, mac / n) == NEUROBENCH_2_3_0_ZERO_DIAGONAL


def _texts_inside(fig):
    """Every drawn artist (titles, tick labels, legends, annotations) lies inside the figure; returns the texts."""
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    drawn, page = fig.get_tightbbox(renderer), fig.bbox_inches
    assert drawn.x0 >= page.x0 - 0.01 and drawn.y0 >= page.y0 - 0.01, drawn
    assert drawn.x1 <= page.x1 + 0.01 and drawn.y1 <= page.y1 + 0.01, drawn
    for ax in fig.axes:
        t = ax.title.get_window_extent(renderer)
        assert t.x0 >= 0 and t.x1 <= fig.bbox.x1, ax.title.get_text()
    from matplotlib.text import Text

    return [t for t in fig.findobj(Text) if t.get_visible() and t.get_text().strip()]


def test_plots_fit_show_zero_and_every_run():
    import matplotlib.pyplot as plt
    from matplotlib.collections import PathCollection

    from snn_deploy.energy.baselines import Baseline
    from snn_deploy.energy.analytic import LayerOps, OpCount
    from snn_deploy.energy.plots import figure_accuracy_vs_ops, figure_energy_per_layer

    net = tiny_net()
    a = counting.count_network(net, tiny_activity(net))
    b = counting.count_network(net, tiny_activity(net))
    b.accuracy = 1.0
    tables = [load_energy_table("loihi1"), load_energy_table("cmos45nm-int32")]
    base = [Baseline(name, "equations", [LayerOps("l", "rnn", OpCount(mac=m), 3)], accuracy=acc)
            for name, m, acc in (("gru 3x128", 40.0, 0.9), ("rnn 3x128", 41.0, 0.9), ("mlp", 60.0, None))]
    rep = build_report([("long/run/name/a", "n", "x", a), ("b", "n", "x", b)], tables, base, [tables[1]])
    fig = figure_energy_per_layer(rep)
    texts = _texts_inside(fig)
    assert len(fig.axes) == 2                                        # every run plotted
    assert sum(t.get_text() == "0" for t in texts) >= 2              # the input row's zero on cmos45nm, per run
    plt.close(fig)
    fig = figure_accuracy_vs_ops(rep)
    texts = _texts_inside(fig)
    series = [c for c in fig.axes[0].collections if isinstance(c, PathCollection)]
    assert len(series) == 2 + 2                                      # one per run, one per baseline with accuracy
    labels = [t for t in texts if t.get_text().startswith(("SNN", "ANN"))]
    assert len(labels) == 5
    r = fig.canvas.get_renderer()
    boxes = [t.get_window_extent(r) for t in labels]
    assert not any(boxes[i].overlaps(boxes[j]) for i in range(len(boxes)) for j in range(i + 1, len(boxes)))
    plt.close(fig)
