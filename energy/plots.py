"""Report figures: energy per layer per profile (ranges as error bars), accuracy vs operations
(paper 2 Fig. 3: accuracy against total MAC + AC per time step, log x axis)."""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from .report import EnergyReport


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_energy_per_layer(rep: "EnergyReport", path: Path) -> Path:
    """Grouped bars: for each layer of the first run, one bar per profile at the range's middle,
    the error bar spanning min..max; log scale (profiles differ by orders of magnitude)."""
    plt = _pyplot()
    run = rep.runs[0]
    layers = [l.name for l in run.counts.layers]
    profiles = list(run.energy)
    x = np.arange(len(layers))
    width = 0.8 / max(len(profiles), 1)
    fig, ax = plt.subplots(figsize=(max(6, 1.4 * len(layers) + 2), 4))
    for i, p in enumerate(profiles):
        lo = np.array([l.total.low for l in run.energy[p].layers])
        hi = np.array([l.total.high for l in run.energy[p].layers])
        mid = 0.5 * (lo + hi)
        ax.bar(x + (i - (len(profiles) - 1) / 2) * width, mid, width, label=p,
               yerr=np.vstack([mid - lo, hi - mid]), capsize=3)
    ax.set_xticks(x, layers)
    ax.set_ylabel("energy per inference (pJ)")
    if any(l.total.high > 0 for e in run.energy.values() for l in e.layers):
        ax.set_yscale("log")
    ax.set_title(f"{run.name}: energy per layer (bars: middle of the range, whiskers: min-max)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def plot_accuracy_vs_ops(rep: "EnergyReport", path: Path) -> Path:
    """Accuracy vs MAC+AC per input frame for every run and every baseline; baselines without a known
    accuracy are drawn as vertical dashed lines at their operation count."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    for r in rep.runs:
        if r.counts.accuracy is not None:
            ax.scatter(r.per_step.total, 100 * r.counts.accuracy, marker="o", s=50)
            ax.annotate(f"{r.name} ({r.counts.backend}, {r.counts.num_samples} samples)",
                        (r.per_step.total, 100 * r.counts.accuracy), fontsize=8,
                        xytext=(4, 4), textcoords="offset points")
    for b in rep.baselines:
        ops = b.per_step.total
        if b.baseline.accuracy is not None:
            ax.scatter(ops, 100 * b.baseline.accuracy, marker="s", s=50)
            ax.annotate(b.baseline.name, (ops, 100 * b.baseline.accuracy), fontsize=8,
                        xytext=(4, -10), textcoords="offset points")
        else:
            ax.axvline(ops, linestyle="--", linewidth=1, color="grey")
            ax.annotate(b.baseline.name, (ops, 0.02), xycoords=("data", "axes fraction"), rotation=90,
                        fontsize=7, color="grey")
    ax.set_xscale("log")
    ax.margins(x=0.25, y=0.1)
    ax.set_xlabel("MAC + AC per time step (input frame)")
    ax.set_ylabel("accuracy (%)")
    ax.set_title("accuracy vs operations (cf. paper 2 Fig. 3)")
    ax.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
