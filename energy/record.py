"""The energy report as a record: every run priced on every profile, every baseline, the assumptions.

``build_report`` is a pure function of counted runs, energy tables and counted baselines. Ratios
are ANN / SNN (> 1: the SNN needs less); an energy ratio of two ranges is itself a range:
``[ANN.low / SNN.high, ANN.high / SNN.low]``. Per-step figures divide per-inference totals by the
number of *input* frames for both sides (paper 2 Fig. 3 plots operations per time step); the
SNN's totals include the pipeline's flush steps, the ANN has none.

Its writers import it: ``energy.report`` (energy.json, energy.md, the CLI's headline) and
``energy.plots`` (the figures).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from snn_deploy import catalogue
from snn_deploy.energy.analytic import PAPER1_AC_PJ, PAPER1_MAC_PJ, OpCount
from snn_deploy.energy.baselines import Baseline
from snn_deploy.energy.counting import NetworkCounts
from snn_deploy.energy.pricing import AnnEnergy, Energy, EnergyTable, NetworkEnergy, price_ann, price_network


@dataclass
class RunResult:
    name: str
    network: str
    activity: str
    counts: NetworkCounts
    energy: dict[str, NetworkEnergy]

    @property
    def per_step(self) -> OpCount:
        return self.counts.ops.scaled(1.0 / self.counts.input_steps)


@dataclass
class BaselineResult:
    baseline: Baseline
    energy: dict[str, AnnEnergy]
    steps: int

    @property
    def per_step(self) -> OpCount:
        return self.baseline.ops.scaled(1.0 / self.steps)


@dataclass
class EnergyReport:
    runs: list[RunResult]
    tables: list[EnergyTable]
    ann_tables: list[EnergyTable]
    baselines: list[BaselineResult]
    memory: bool
    assumptions: list[str] = field(default_factory=list)

    # The writers (``energy.report``, ``energy.plots``) import this module; these shortcuts import
    # them when called, so the modules' imports stay one way.
    def to_dict(self) -> dict[str, Any]:
        """The record energy.json holds."""
        from snn_deploy.energy.report import report_to_dict

        return report_to_dict(self)

    def to_json(self) -> str:
        from snn_deploy.energy.report import report_to_json

        return report_to_json(self)

    def to_markdown(self) -> str:
        """energy.md's text (without the plots' links)."""
        from snn_deploy.energy.report import report_markdown

        return report_markdown(self)

    def headline(self) -> str:
        """The few lines ``snn-deploy energy`` prints."""
        from snn_deploy.energy.report import headline

        return "\n".join(headline(self))

    def write(self, out_dir: Any, plots: bool = True) -> dict[str, Path]:
        """Write energy.json, energy.md and (``plots``) the PNG figures into ``out_dir``; their paths."""
        from snn_deploy.energy.report import write_report

        return write_report(self, Path(out_dir), plot=plots)


def paper1_view(counts: NetworkCounts, baseline: Baseline) -> dict[str, float]:
    """The ANN / SNN energy ratio as paper 1 §4.2 computes it: only the synaptic operations of the
    SNN (AC 0.1 pJ, graded-input MAC 3.2 pJ) against the ANN's MACs and ACs, nonlinearities ignored;
    and the same with the SNN's neuron-level arithmetic (leaks, resets, biases) added."""
    syn = sum(l.total("syn_ac") for l in counts.layers) * PAPER1_AC_PJ + \
        sum(l.total("syn_mac") for l in counts.layers) * PAPER1_MAC_PJ
    neuron = sum(l.total("neuron_ac") for l in counts.layers) * PAPER1_AC_PJ + \
        sum(l.total("neuron_mac") + l.total("nonlinear") for l in counts.layers) * PAPER1_MAC_PJ
    ann = baseline.ops.mac * PAPER1_MAC_PJ + baseline.ops.ac * PAPER1_AC_PJ
    return {"synaptic_only": ann / syn if syn else float("inf"),
            "with_neuron_ops": ann / (syn + neuron) if syn + neuron else float("inf"),
            "neuron_share": neuron / (syn + neuron) if syn + neuron else 0.0}


def ratio(ann: Energy, snn: Energy) -> tuple[float, float]:
    lo = ann.low / snn.high if snn.high else float("inf")
    hi = ann.high / snn.low if snn.low else float("inf")
    return lo, hi


def build_report(runs: Sequence[tuple[str, str, str, NetworkCounts]], tables: Sequence[EnergyTable],
                 baselines: Sequence[Baseline], ann_tables: Sequence[EnergyTable], memory: bool = True,
                 extra_notes: Sequence[str] = ()) -> EnergyReport:
    """Price every run on every table and every baseline on every ANN-capable table; with ``memory``
    (the default) the memory term is added on arithmetic profiles and shown beside compute only."""
    results = [RunResult(name, net, act, counts, {t.profile: price_network(counts, t, memory) for t in tables})
               for name, net, act, counts in runs]
    steps = results[0].counts.input_steps if results else 1
    bres = [BaselineResult(b, {t.profile: price_ann(b.layers, t, memory) for t in ann_tables}, steps)
            for b in baselines]
    rep = EnergyReport(results, list(tables), list(ann_tables), bres, memory)
    rep.assumptions = assumptions(rep) + list(extra_notes)
    return rep


def all_tables(rep: EnergyReport) -> list[EnergyTable]:
    return list(rep.tables) + [a for a in rep.ann_tables if a not in rep.tables]


def dominant(compute: Energy, memory: Energy) -> str:
    """Which term dominates, by the middles of the ranges: 'memory (63%)' or 'compute (80%)'."""
    total = compute.mid + memory.mid
    if total <= 0:
        return "none (zero energy)"
    share = memory.mid / total
    return f"memory ({share:.0%})" if share > 0.5 else f"compute ({1 - share:.0%})"


def headline_rows(rep: EnergyReport) -> list[dict[str, Any]]:
    """One row per (run, SNN profile) and per (baseline, ANN profile): compute only, compute + memory,
    which dominates, and for each run against each baseline the two ratios side by side."""
    rows: list[dict[str, Any]] = []
    for r in rep.runs:
        for p, e in r.energy.items():
            rows.append({"what": r.name, "kind": "snn", "profile": p, "compute": e.compute, "total": e.total,
                         "memory_in_constants": not e.memory_included and table_of(rep, p).neuromorphic,
                         "dominates": dominant(e.compute, e.memory) if e.memory_included else
                         ("n/a: SRAM inside the per-operation constants" if table_of(rep, p).neuromorphic else "compute (no memory term)")})
    for b in rep.baselines:
        for p, e in b.energy.items():
            rows.append({"what": b.baseline.name, "kind": "ann", "profile": p, "compute": e.compute, "total": e.total,
                         "memory_in_constants": False,
                         "dominates": dominant(e.compute, e.memory) if e.memory_included else "compute (no memory term)"})
    return rows


def table_of(rep: EnergyReport, profile: str) -> EnergyTable:
    return next(t for t in all_tables(rep) if t.profile == profile)


def assumptions(rep: EnergyReport) -> list[str]:
    """Every convention the numbers depend on, in words (printed in the report)."""
    out = [
        "Counts come from the recorded spike rasters; per inference = summed over all recorded steps "
        "(input frames + pipeline flush), averaged over the recorded samples.",
        "Synaptic ops follow the IR's I[t] = W x[t] + V s[t-1], counted when delivered (one step per hop "
        "on Lava/emulator runs; the final step's undelivered events are not counted): one AC per input spike (a spike count c "
        "costs c ACs) per existing synapse; graded inputs cost one MAC per nonzero value per synapse; "
        "sparse masks honoured, zero-valued unmasked weights counted (dense storage).",
        "Neuron arithmetic per neuron per step: " + "; ".join(
            f"{m.name}: {m.arith.mac} MAC, {m.arith.ac_per_spike} AC per own spike, {m.arith.nonlinear} nonlinear "
            f"({m.update})" for m in catalogue.entries()) + "; plus 1 AC per neuron per bias-carrying dense. (1-α) input "
        "factors are folded into the weights.",
        "A neuron update is 'active' when the neuron received a synaptic event or fired in that step.",
        "Arithmetic profiles: AC = add, MAC = multiply-add, one nonlinear evaluation = one MAC; "
        "neuromorphic profiles: synaptic_op per synaptic event (graded ones included), neuron_update per "
        "neuron per step (its arithmetic included), spike per spike sent (input events included).",
        "The readout's Σ_t softmax decoding of the SNN runs off-chip and is not counted.",
        "ANN baselines run on arithmetic profiles only, over the same number of input frames; ANN "
        "batch-norm is folded into weights and biases; the cumsoftmax readout's linear layer runs once.",
        "Ratios are ANN / SNN; energy ratios of two ranges are ranges [ANN.min/SNN.max, ANN.max/SNN.min].",
    ]
    if rep.memory:
        out.append("Memory term (Lemaire et al. 2022 style) on arithmetic profiles: one weight read per "
                   "synaptic op or MAC weight use; SNN state traffic between one read+write per state "
                   "variable per update (accumulator) and one per synaptic op (event-driven); ANN "
                   "activations read/written once per layer step; SRAM energy by buffer size after "
                   "Horowitz 2014, scaled by word bits / 64 (below 8 KB extrapolated with the 8-32 KB slope). "
                   "Neuromorphic profiles get no memory term: their published constants include their SRAM, so "
                   "their 'compute only' figures already contain it.")
    else:
        out.append("No memory-access term (--no-memory): every figure is compute only, which flatters whichever "
                   "side moves more data per operation.")
    for t in all_tables(rep):
        if t.estimate:
            out.append(f"Profile {t.profile}: its energy constants are ESTIMATES ({'; '.join(t.notes) or 'see the profile'}).")
        if t.calibration:
            out.append(f"Profile {t.profile}, calibration: {t.calibration}")
    for r in rep.runs:
        for e in r.energy.values():
            out.extend(e.notes)
    for b in rep.baselines:
        out.extend(b.baseline.notes)
    return list(dict.fromkeys(out))
