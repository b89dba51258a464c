"""Report figures: energy per layer per profile (ranges as error bars), accuracy vs operations
(paper 2 Fig. 3: accuracy against total MAC + AC per time step, log x axis).

Every run is drawn (one panel per run in the energy figure, one series per run in the accuracy
figure); a zero energy is drawn as a labelled "0" at the axis floor rather than vanishing from a log
axis; labels go into legends, not onto the points, so they cannot overlap; titles are wrapped to the
figure's width. The ``figure_*`` functions return the figure (for tests), ``plot_*`` save it.
"""
from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np

from snn_deploy.energy.record import EnergyReport

TITLE_CHARS_PER_INCH = 11   # characters of a 10-pt title that fit in one inch of figure width


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _wrap(text: str, width_in: float) -> str:
    return "\n".join(textwrap.wrap(text, max(20, int(width_in * TITLE_CHARS_PER_INCH))))


def figure_energy_per_layer(rep: "EnergyReport"):
    """One panel per run: grouped bars per layer, one bar per profile at the range's middle, whiskers
    min..max, log scale where anything is nonzero; zero energies are marked "0" at the floor."""
    plt = _pyplot()
    runs = rep.runs
    n_layers = max(len(r.counts.layers) for r in runs)
    width_in = max(6.5, 1.4 * n_layers + 2)
    fig, axes = plt.subplots(len(runs), 1, figsize=(width_in, 3.6 * len(runs) + 0.8), squeeze=False,
                             layout="constrained")
    for ax, run in zip(axes[:, 0], runs):
        layers = [l.name for l in run.counts.layers]
        profiles = list(run.energy)
        x = np.arange(len(layers))
        width = 0.8 / max(len(profiles), 1)
        highs = [l.total.high for e in run.energy.values() for l in e.layers]
        positive = [v for e in run.energy.values() for l in e.layers for v in (l.total.low, l.total.high) if v > 0]
        log = bool(positive)
        floor = min(positive) / 10 if log else 0.0
        for i, p in enumerate(profiles):
            lo = np.array([l.total.low for l in run.energy[p].layers])
            hi = np.array([l.total.high for l in run.energy[p].layers])
            mid = 0.5 * (lo + hi)
            xs = x + (i - (len(profiles) - 1) / 2) * width
            bars = ax.bar(xs, mid, width, label=p, yerr=np.vstack([mid - lo, hi - mid]), capsize=3)
            for xi, m in zip(xs, mid):
                if m == 0:   # a log axis would drop it silently: say it is zero
                    ax.annotate("0", (xi, floor if log else 0.0), ha="center", va="bottom", fontsize=8,
                                color=bars.patches[0].get_facecolor())
        ax.set_xticks(x, layers)
        ax.set_ylabel("energy per inference (pJ)")
        if log:
            ax.set_yscale("log")
            ax.set_ylim(bottom=floor, top=max(highs) * 3)
        ax.set_title(_wrap(f"{run.name}: energy per layer", width_in), fontsize=10)
        ax.legend(fontsize=8, loc="upper right")
    fig.suptitle(_wrap("bars: middle of the range; whiskers: min-max; '0': no energy", width_in), fontsize=9)
    return fig


def plot_energy_per_layer(rep: "EnergyReport", path: Path) -> Path:
    plt = _pyplot()
    fig = figure_energy_per_layer(rep)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def figure_accuracy_vs_ops(rep: "EnergyReport"):
    """Accuracy vs MAC+AC per input frame: one series per run and per baseline, named in a legend below
    the axes; baselines without a known accuracy are vertical dashed lines at their operation count."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.5, 5.5), layout="constrained")
    markers = "o^vD<>ph*"
    for i, r in enumerate(rep.runs):
        acc = r.counts.accuracy
        ax.scatter([r.per_step.total], [100 * acc if acc is not None else np.nan], marker=markers[i % len(markers)],
                   s=50, label=f"SNN {r.name} ({r.counts.backend}, {r.counts.num_samples} samples"
                                 f"{'' if acc is not None else ', no accuracy'})")
    styles = ("--", ":", "-.", (0, (5, 1)))
    for j, b in enumerate(rep.baselines):
        ops = b.per_step.total
        color = f"C{(len(rep.runs) + j) % 10}"
        if b.baseline.accuracy is not None:
            ax.scatter([ops], [100 * b.baseline.accuracy], marker="s", s=50, color=color, label=f"ANN {b.baseline.name}")
        else:
            ax.axvline(ops, linestyle=styles[j % len(styles)], linewidth=1.2, color=color,
                       label=f"ANN {b.baseline.name} (accuracy unknown)")
    ax.set_xscale("log")
    ax.margins(x=0.25, y=0.1)
    ax.set_xlabel("MAC + AC per time step (input frame)")
    ax.set_ylabel("accuracy (%)")
    ax.set_title(_wrap("accuracy vs operations (cf. paper 2, Fig. 3)", 6.5), fontsize=10)
    ax.grid(True, which="both", alpha=0.3)
    fig.legend(loc="outside lower center", fontsize=8, ncol=1)
    return fig


def plot_accuracy_vs_ops(rep: "EnergyReport", path: Path) -> Path:
    plt = _pyplot()
    fig = figure_accuracy_vs_ops(rep)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
