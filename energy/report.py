"""The energy report: counts, energies per profile, baselines and ratios as one record, JSON and Markdown.

``build_report`` is a pure function of counted runs, energy tables and counted baselines;
``write_report`` writes ``energy.json``, ``energy.md`` and the plots into one directory as one set
(snn_deploy/outdir.py: locked, committed whole, other files of the directory untouched).

Ratios are ANN / SNN (> 1: the SNN needs less). An energy ratio of two ranges is itself a range:
``[ANN.low / SNN.high, ANN.high / SNN.low]``. Per-step figures divide per-inference totals by the
number of *input* frames for both sides (paper 2 Fig. 3 plots operations per time step); the
SNN's totals include the pipeline's flush steps, the ANN has none.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from snn_deploy import catalogue
from snn_deploy.outdir import output_dir
from snn_deploy.jsonio import json_default

from .analytic import PAPER1_AC_PJ, PAPER1_MAC_PJ, PAPER1_MEAN_RATE, OpCount, paper1_energy_ratio
from .baselines import Baseline
from .counting import NetworkCounts, rate_estimate
from .neurobench import differences as neurobench_differences
from .neurobench import neurobench_dict
from .pricing import AnnEnergy, Energy, EnergyTable, NetworkEnergy, price_ann, price_network
from .references import REFERENCES

COUNT_FIELDS = ("syn_ac", "syn_mac", "neuron_mac", "neuron_ac", "nonlinear", "updates_active",
                "updates_inactive", "spikes")

# What the papers report, for the closing comparison (paper 2 §5 text; paper 1 §4.2).
PAPER_REFERENCE = {
    "paper1": "Bittar & Garner 2022 §4.2: mean rate ≈ 0.1; recurrent SNN ≈ 320x less energy than an RNN of "
              "the same size (ν̄ = 0.1, 0.1 pJ AC vs 3.2 pJ MAC, 45 nm)",
    "paper2": "Dampfhoffer et al. §5: 0.06-0.21 spikes per neuron per step; 2-layer CUBA-LIF 16x (DASDIGITS), "
              "37x/49x (SHD, vs 1-/2-layer GRU) fewer MAC+AC per step; SpikGRU 8x/24x vs RNN/GRU on SSC; "
              "8.6k (CUBA-LIF) vs 11.5k (Adapt-LIF) ops per step on SHD",
}


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

    def to_dict(self) -> dict[str, Any]:
        """The record energy.json holds."""
        return report_to_dict(self)

    def to_json(self) -> str:
        return json.dumps(report_to_dict(self), indent=2, default=json_default)

    def to_markdown(self) -> str:
        """energy.md's text (without the plots' links)."""
        return report_markdown(self)

    def headline(self) -> str:
        """The few lines ``snn-deploy energy`` prints."""
        return "\n".join(headline(self))

    def write(self, out_dir: Any, plots: bool = True) -> dict[str, Path]:
        """Write energy.json, energy.md and (``plots``) the PNG figures into ``out_dir``; their paths."""
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


def _all_tables(rep: EnergyReport) -> list[EnergyTable]:
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
                         "memory_in_constants": not e.memory_included and _table(rep, p).neuromorphic,
                         "dominates": dominant(e.compute, e.memory) if e.memory_included else
                         ("n/a: SRAM inside the per-operation constants" if _table(rep, p).neuromorphic else "compute (no memory term)")})
    for b in rep.baselines:
        for p, e in b.energy.items():
            rows.append({"what": b.baseline.name, "kind": "ann", "profile": p, "compute": e.compute, "total": e.total,
                         "memory_in_constants": False,
                         "dominates": dominant(e.compute, e.memory) if e.memory_included else "compute (no memory term)"})
    return rows


def _table(rep: EnergyReport, profile: str) -> EnergyTable:
    return next(t for t in _all_tables(rep) if t.profile == profile)


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
    for t in _all_tables(rep):
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


# ---- JSON -----------------------------------------------------------------------------------------

def _ops(o: OpCount) -> dict[str, float]:
    return {"mac": o.mac, "ac": o.ac, "nonlinear": o.nonlinear, "total": o.total}


def _energy(e: Energy) -> dict[str, float]:
    return {"min_pj": e.low, "max_pj": e.high}


def report_to_dict(rep: EnergyReport) -> dict[str, Any]:
    runs = []
    for r in rep.runs:
        c = r.counts
        layers = []
        for layer in c.layers:
            est = rate_estimate(layer, c.num_steps)
            layers.append({
                "name": layer.name, "model": layer.model, "size": layer.size,
                "rate_in": layer.rate_in, "rate_out": layer.rate_out,
                "per_inference": {f: layer.total(f) for f in COUNT_FIELDS},
                "per_step": {f: getattr(layer, f).tolist() for f in COUNT_FIELDS},
                "ops": _ops(layer.ops), "table2_rate_estimate": _ops(est),
                "denses": [{"name": d.name, "source": d.source, "recurrent": d.recurrent, "kind": d.kind,
                            "synapses": d.synapses, "ops_per_inference": d.ops_per_inference} for d in layer.denses],
            })
        runs.append({
            "name": r.name, "network": r.network, "activity": r.activity, "backend": c.backend,
            "samples": c.num_samples, "steps": c.num_steps, "input_steps": c.input_steps,
            "accuracy": c.accuracy, "mean_firing_rate": c.mean_firing_rate,
            "ops_per_inference": _ops(c.ops), "ops_per_step": _ops(r.per_step),
            "table2_rate_estimate": _ops(sum((rate_estimate(l, c.num_steps) for l in c.layers), OpCount())),
            "layers": layers,
            "synapses_counted": "nonzero weights only" if c.nonzero_synapses else "every synapse the mask allows",
            "neurobench": neurobench_block(c),
            "energy": {p: {"total": _energy(e.total), "compute": _energy(e.compute), "memory": _energy(e.memory),
                           "memory_included": e.memory_included,
                           "layers": {l.name: {"synaptic": _energy(l.synaptic), "neuron": _energy(l.neuron),
                                               "spikes": _energy(l.spikes), "memory": _energy(l.memory),
                                               "total": _energy(l.total)} for l in e.layers}}
                       for p, e in r.energy.items()},
        })
    baselines = [{
        "name": b.baseline.name, "source": b.baseline.source, "accuracy": b.baseline.accuracy,
        "ops_per_inference": _ops(b.baseline.ops), "ops_per_step": _ops(b.per_step),
        "layers": [{"name": l.name, "kind": l.kind, "steps": l.steps, "ops": _ops(l.per_inference)}
                   for l in b.baseline.layers],
        "unsupported": b.baseline.unsupported,
        "energy": {p: _energy(e.total) for p, e in b.energy.items()},
        "energy_compute_only": {p: _energy(e.compute) for p, e in b.energy.items()},
    } for b in rep.baselines]
    ratios = []
    for r in rep.runs:
        for b in rep.baselines:
            ratios.append({
                "run": r.name, "baseline": b.baseline.name,
                "ops": b.baseline.ops.total / r.counts.ops.total if r.counts.ops.total else None,
                "energy": {snn_p: {ann_p: list(ratio(ae.total, se.total)) for ann_p, ae in b.energy.items()}
                           for snn_p, se in r.energy.items()},
                "energy_compute_only": {snn_p: {ann_p: list(ratio(ae.compute, se.compute))
                                                for ann_p, ae in b.energy.items()} for snn_p, se in r.energy.items()},
                "paper1_view": paper1_view(r.counts, b.baseline),
            })
    profiles = {t.profile: {"kind": "neuromorphic" if t.neuromorphic else "arithmetic", "estimate": t.estimate,
                            "word_bits": t.word_bits, "notes": list(t.notes), "references": dict(t.references),
                            "calibration": t.calibration,
                            "prices": {k: {"min_pj": p.low, "max_pj": p.high, "sources": list(p.sources)}
                                       for k, p in t.prices.items()}}
                for t in list(rep.tables) + [a for a in rep.ann_tables if a not in rep.tables]}
    headline_json = [{**{k: v for k, v in h.items() if k not in ("compute", "total")},
                      "compute_only": _energy(h["compute"]), "compute_and_memory": _energy(h["total"])}
                     for h in headline_rows(rep)]
    return {"format": "snn-deploy-energy-report", "version": 1, "memory_term": rep.memory,
            "headline": headline_json,
            "runs": runs, "baselines": baselines, "ratios": ratios, "profiles": profiles,
            "references": dict(REFERENCES),
            "ann_profiles": [t.profile for t in rep.ann_tables], "assumptions": rep.assumptions,
            "paper_reference": {**PAPER_REFERENCE,
                                "paper1_ratio_formula": paper1_energy_ratio(PAPER1_MEAN_RATE, PAPER1_AC_PJ, PAPER1_MAC_PJ)}}


def ours_in_neurobench_shape(c: NetworkCounts) -> dict[str, Any]:
    """Our counts of the same run, in the slots of NeuroBench's terms (per inference)."""
    spiking = [l for l in c.layers if l.model not in ("input", "li")]
    neurons_steps = sum(l.size for l in spiking) * c.num_steps
    spikes = sum(l.total("spikes") for l in spiking)
    return {
        "synaptic_ops": sum(l.total("syn_ac") + l.total("syn_mac") for l in c.layers),
        "syn_ac": sum(l.total("syn_ac") for l in c.layers),
        "syn_mac": sum(l.total("syn_mac") for l in c.layers),
        "neuron_mac": sum(l.total("neuron_mac") for l in c.layers),
        "neuron_ac": sum(l.total("neuron_ac") for l in c.layers),
        "activation_sparsity": 1.0 - spikes / neurons_steps if neurons_steps else 0.0,
        "neuron_updates": sum(l.total("updates_active") + l.total("updates_inactive") for l in spiking),
        "neuron_updates_active": sum(l.total("updates_active") for l in spiking),
    }


def neurobench_block(c: NetworkCounts) -> dict[str, Any] | None:
    """energy.json's NeuroBench block: NeuroBench's metrics, ours beside them, the differences in words."""
    if c.neurobench is None:
        return None
    return {**neurobench_dict(c.neurobench), "ours": ours_in_neurobench_shape(c)}


def neurobench_markdown(c: NetworkCounts) -> list[str]:
    nb = c.neurobench
    if nb is None:
        return []
    ours = ours_in_neurobench_shape(c)
    d = neurobench_differences()
    return [
        "NeuroBench terms (Yik et al. 2025, harness 2.3.0, on the same rasters; per inference) next to ours:", "",
        "| term | NeuroBench | ours | why they differ |", "|---|---:|---:|---|",
        f"| Effective_ACs | {fmt_num(nb.effective_acs)} | {fmt_num(ours['syn_ac'])} syn AC (+ {fmt_num(ours['neuron_ac'])} neuron AC) | {d['effective_acs']} |",
        f"| Effective_MACs | {fmt_num(nb.effective_macs)} | {fmt_num(ours['syn_mac'])} syn MAC (+ {fmt_num(ours['neuron_mac'])} neuron MAC) | {d['effective_macs']} |",
        f"| SynapticOperations (ACs + MACs) | {fmt_num(nb.synaptic_operations)} | {fmt_num(ours['synaptic_ops'])} | {d['synaptic_operations']} |",
        f"| Dense | {fmt_num(nb.dense)} | - | {d['dense']} |",
        f"| ActivationSparsity | {nb.activation_sparsity:.6f} | {ours['activation_sparsity']:.6f} | {d['activation_sparsity']} |",
        f"| MembraneUpdates | {fmt_num(nb.membrane_updates_low)} – {fmt_num(nb.membrane_updates_high)} | "
        f"{fmt_num(ours['neuron_updates'])} updates ({fmt_num(ours['neuron_updates_active'])} active) | {d['membrane_updates']} |",
        "",
    ]


def headline_markdown(rep: EnergyReport) -> list[str]:
    """The report's first table: compute only and compute + memory side by side, and which dominates."""
    lines = ["## Headline: energy per inference, compute only and with memory", ""]
    if not rep.memory:
        lines += ["Memory term switched off (--no-memory): both columns are compute only.", ""]
    lines += ["| run / baseline | profile | compute only | compute + memory | dominated by |", "|---|---|---:|---:|---|"]
    for h in headline_rows(rep):
        total = fmt_pj(h["total"]) + (" (same: SRAM inside the constants)" if h["memory_in_constants"] else "")
        lines.append(f"| {'SNN' if h['kind'] == 'snn' else 'ANN'} {h['what']} | {h['profile']} | {fmt_pj(h['compute'])} | "
                     f"{total} | {h['dominates']} |")
    if rep.baselines:
        lines += ["", "| run | baseline | SNN profile | ANN profile | energy ANN / SNN, compute only | energy ANN / SNN, compute + memory |",
                  "|---|---|---|---|---:|---:|"]
        for r in rep.runs:
            for b in rep.baselines:
                for p, se in r.energy.items():
                    for t in rep.ann_tables:
                        ae = b.energy[t.profile]
                        lines.append(f"| {r.name} | {b.baseline.name} | {p} | {t.profile} | "
                                     f"{fmt_ratio(ratio(ae.compute, se.compute))} | {fmt_ratio(ratio(ae.total, se.total))} |")
    return lines + [""]


# ---- Markdown -------------------------------------------------------------------------------------

def fmt_num(x: float) -> str:
    if x == 0:
        return "0"
    ax = abs(x)
    for unit, scale in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if ax >= scale:
            return f"{x / scale:.3g}{unit}"
    return f"{x:.3g}"


def fmt_pj(e: Energy) -> str:
    def one(pj: float) -> str:
        for unit, scale in (("J", 1e12), ("mJ", 1e9), ("µJ", 1e6), ("nJ", 1e3)):
            if pj >= scale:
                return f"{pj / scale:.3g} {unit}"
        return f"{pj:.3g} pJ"
    return one(e.low) if abs(e.high - e.low) <= 1e-9 * max(e.high, 1) else f"{one(e.low)} – {one(e.high)}"


def fmt_ratio(r: tuple[float, float]) -> str:
    lo, hi = r
    return f"{lo:.3g}x" if abs(hi - lo) <= 1e-9 * max(hi, 1) else f"{lo:.3g}x – {hi:.3g}x"


def report_markdown(rep: EnergyReport, plots: Sequence[str] = ()) -> str:
    lines = ["# Energy report", ""] + headline_markdown(rep)
    for r in rep.runs:
        c = r.counts
        acc = f"{c.accuracy:.1%}" if c.accuracy is not None else "n/a"
        lines += [f"## Run `{r.name}`", "",
                  f"- network `{r.network}`, activity `{r.activity}` ({c.backend}, {c.num_samples} samples, "
                  f"{c.num_steps} steps of which {c.input_steps} input frames)",
                  f"- accuracy on the recorded samples: {acc}",
                  f"- measured mean firing rate ν̄: {c.mean_firing_rate:.4f} spikes per neuron per step",
                  f"- operations per inference: {fmt_num(c.ops.mac)} MAC + {fmt_num(c.ops.ac)} AC "
                  f"(+ {fmt_num(c.ops.nonlinear)} nonlinear); per input frame {fmt_num(r.per_step.total)} MAC+AC",
                  "", "| layer | model | size | rate in | rate out | syn AC | syn MAC | neuron MAC | neuron AC | "
                  "updates active | spikes | paper 2 Table 2 estimate (MAC+AC) |",
                  "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
        for layer in c.layers:
            est = rate_estimate(layer, c.num_steps)
            lines.append(
                f"| {layer.name} | {layer.model} | {layer.size} | {layer.rate_in:.4f} | {layer.rate_out:.4f} | "
                f"{fmt_num(layer.total('syn_ac'))} | {fmt_num(layer.total('syn_mac'))} | "
                f"{fmt_num(layer.total('neuron_mac'))} | {fmt_num(layer.total('neuron_ac'))} | "
                f"{fmt_num(layer.total('updates_active'))} | {fmt_num(layer.total('spikes'))} | "
                f"{fmt_num(est.total) if est.total else '-'} |")
        mem_col = " of which memory |" if rep.memory else ""
        lines += ["", "Energy per inference:", "", "| profile | " + " | ".join(l.name for l in c.layers) + f" | total |{mem_col}",
                  "|---|" + "---:|" * (len(c.layers) + 1 + bool(rep.memory))]
        for p, e in r.energy.items():
            mem = f" {fmt_pj(e.memory)} |" if rep.memory else ""
            lines.append(f"| {p} | " + " | ".join(fmt_pj(l.total) for l in e.layers) + f" | **{fmt_pj(e.total)}** |{mem}")
        lines += ["", f"Synapses counted: {'nonzero weights only (--nonzero-synapses)' if c.nonzero_synapses else 'every synapse the mask allows, zero weights included (--nonzero-synapses counts nonzero weights only, as NeuroBench does)'}.", ""]
        lines += neurobench_markdown(c)
    if rep.baselines:
        lines += ["## ANN baselines", "", "| baseline | source | accuracy | MAC | AC | nonlinear | MAC+AC per frame | "
                  + " | ".join(t.profile for t in rep.ann_tables) + " |",
                  "|---|---|---:|---:|---:|---:|---:|" + "---:|" * len(rep.ann_tables)]
        for b in rep.baselines:
            o = b.baseline.ops
            acc = f"{b.baseline.accuracy:.1%}" if b.baseline.accuracy is not None else "n/a"
            lines.append(f"| {b.baseline.name} | {b.baseline.source} | {acc} | {fmt_num(o.mac)} | {fmt_num(o.ac)} | "
                         f"{fmt_num(o.nonlinear)} | {fmt_num(b.per_step.total)} | "
                         + " | ".join(fmt_pj(b.energy[t.profile].total) for t in rep.ann_tables) + " |")
        lines += ["", "## Ratios (ANN / SNN; > 1 means the SNN needs less)", ""]
        if rep.memory:
            lines += ["Each cell: with the memory term (compute only in brackets).", ""]
        lines += [
                  "| run | baseline | ops (MAC+AC) | SNN profile | " + " | ".join(f"vs ANN on {t.profile}" for t in rep.ann_tables) + " |",
                  "|---|---|---:|---|" + "---:|" * len(rep.ann_tables)]
        for r in rep.runs:
            for b in rep.baselines:
                ops_ratio = b.baseline.ops.total / r.counts.ops.total if r.counts.ops.total else float("inf")
                for p, se in r.energy.items():
                    lines.append(f"| {r.name} | {b.baseline.name} | {ops_ratio:.3g}x | {p} | "
                                 + " | ".join(_ratio_cell(b.energy[t.profile], se, rep.memory) for t in rep.ann_tables) + " |")
        lines.append("")
    lines += ["## Energy constants", "", "| profile | op | min pJ | max pJ | sources |", "|---|---|---:|---:|---|"]
    for t in list(rep.tables) + [a for a in rep.ann_tables if a not in rep.tables]:
        for k, p in t.prices.items():
            lines.append(f"| {t.profile}{' (estimate)' if t.estimate else ''} | {k} | {p.low:g} | {p.high:g} | {'; '.join(p.sources)} |")
    refs: dict[str, str] = {}
    for t in _all_tables(rep):
        refs.update(t.references)
    lines += ["", "Sources of the constants:", ""] + [f"- **{k}**: {v}" for k, v in sorted(refs.items())]
    calib = [t for t in _all_tables(rep) if t.calibration]
    if calib:
        lines += ["", "## Calibration against measured chips", ""] + [f"- **{t.profile}**: {t.calibration}" for t in calib]
    lines += ["", "## For comparison: the papers", ""] + [f"- {v}" for v in PAPER_REFERENCE.values()]
    for r in rep.runs:
        for b in rep.baselines:
            v = paper1_view(r.counts, b.baseline)
            lines.append(
                f"- `{r.name}` vs {b.baseline.name}, paper 1's way (synaptic ops only, AC {PAPER1_AC_PJ} pJ, MAC "
                f"{PAPER1_MAC_PJ} pJ): {v['synaptic_only']:.3g}x; with the neuron dynamics paper 1 leaves out: "
                f"{v['with_neuron_ops']:.3g}x (neuron-level MACs are {v['neuron_share']:.0%} of the SNN's energy there)")
    lines += ["", "## Assumptions", ""] + [f"- {a}" for a in rep.assumptions]
    if plots:
        lines += ["", "## Plots", ""] + [f"![{p}]({p})" for p in plots]
    lines += ["", "## References", ""] + [f"- **{k}**: {v}" for k, v in REFERENCES.items()]
    return "\n".join(lines) + "\n"


def write_report(rep: EnergyReport, out_dir: Path, plot: bool = True, force: bool = False) -> dict[str, Path]:
    """Write energy.json, energy.md and the plots into ``out_dir`` as one set (replacing energy's last set).

    ``force``: write into a non-empty directory energy did not write, replacing files of the same names.
    """
    out_dir = Path(out_dir)
    names: list[str] = []
    with output_dir(out_dir, "energy", force=force) as out_set, out_set.staging() as tmp:
        if plot:
            from .plots import plot_accuracy_vs_ops, plot_energy_per_layer

            plot_energy_per_layer(rep, tmp / "energy_per_layer.png")
            names.append("energy_per_layer.png")
            if len(rep.runs) > 1 or any(b.baseline.accuracy is not None for b in rep.baselines):
                plot_accuracy_vs_ops(rep, tmp / "accuracy_vs_ops.png")
                names.append("accuracy_vs_ops.png")
        (tmp / "energy.json").write_text(rep.to_json())
        (tmp / "energy.md").write_text(report_markdown(rep, names))
    return {n: out_dir / n for n in ["energy.json", "energy.md"] + names}


def _ratio_cell(ann: AnnEnergy, snn: NetworkEnergy, memory: bool) -> str:
    cell = fmt_ratio(ratio(ann.total, snn.total))
    return f"{cell} ({fmt_ratio(ratio(ann.compute, snn.compute))})" if memory else cell


def headline(rep: EnergyReport) -> list[str]:
    """A few lines for the CLI's closing summary: every profile's energy compute only and with memory
    (and which dominates), every baseline's, and each SNN profile against each baseline on the same
    profile where it can run one, else on the first ANN profile, compute only and with memory."""
    out = []
    for r in rep.runs:
        c = r.counts
        acc = f", accuracy {c.accuracy:.1%}" if c.accuracy is not None else ""
        out.append(f"{r.name}: {fmt_num(c.ops.total)} MAC+AC per inference ({fmt_num(r.per_step.total)} per frame), "
                   f"ν̄ = {c.mean_firing_rate:.3f}{acc}")
        for h in headline_rows(rep):
            if h["kind"] == "snn" and h["what"] == r.name:
                out.append(f"  {h['profile']}: compute {fmt_pj(h['compute'])}, compute + memory {fmt_pj(h['total'])} "
                           f"per inference; dominated by {h['dominates']}")
        for b in rep.baselines:
            ops_ratio = b.baseline.ops.total / c.ops.total if c.ops.total else float("inf")
            parts = []
            for p, e in r.energy.items():
                ann_p = p if p in b.energy else rep.ann_tables[0].profile
                ae = b.energy[ann_p]
                parts.append(f"{p} vs {ann_p} {fmt_ratio(ratio(ae.compute, e.compute))} compute only, "
                             f"{fmt_ratio(ratio(ae.total, e.total))} with memory")
            out.append(f"  vs {b.baseline.name}: {ops_ratio:.3g}x fewer MAC+AC; energy " + "; ".join(parts))
    for h in headline_rows(rep):
        if h["kind"] == "ann":
            out.append(f"  {h['what']} on {h['profile']}: compute {fmt_pj(h['compute'])}, compute + memory "
                       f"{fmt_pj(h['total'])}; dominated by {h['dominates']}")
    return out
