"""The quantization report: a machine-readable dict (``quantization.json``) and its human summary."""
from __future__ import annotations

from typing import Any, Optional

from snn_deploy.ir import Network

NEURON_COUNT_KEYS = ("vth_clipped", "decay_clipped", "bias_clipped", "a_frac_clipped", "gate_bias_clipped")


def layer_rows(fixed: Network) -> list[dict[str, Any]]:
    """One row per population: model, size, scale, its denses' exponents, threshold, clip counts."""
    prec = fixed.precision.layers if fixed.precision else {}
    rows = []
    for pop in fixed.layer_order():
        info = prec.get(pop.name, {})
        denses = []
        for d in fixed.incoming(pop.name):
            di = prec.get(d.name, {})
            denses.append({"dense": d.name, "port": fixed.target_of(d.name).port, "weight_exp": d.weight_exp,
                           "recurrent": fixed.is_recurrent(d.name), "clipped": di.get("clipped", 0),
                           "zeroed": di.get("zeroed", 0), "nonzero_float": di.get("nonzero_float", 0),
                           "max_abs_int": di.get("max_abs_int", 0)})
        rows.append({"layer": pop.name, "model": pop.model, "reset": pop.reset, "neurons": pop.size,
                     "scale": info.get("scale"), "vth": info.get("vth"), "denses": denses,
                     "clipped": {k: info[k] for k in NEURON_COUNT_KEYS if k in info},
                     "bias_rounded": info.get("bias_rounded"), "bias_round_max": info.get("bias_round_max"),
                     "notes": list(info.get("notes", []))})
    return rows


def build_report(fixed: Network, *, target: str, profile: str, checkpoint: str, rules: Any,
                 comparison: Optional[Any] = None, netx: Optional[dict] = None,
                 outputs: Optional[list[str]] = None, timings: Optional[dict] = None) -> dict[str, Any]:
    return {
        "checkpoint": checkpoint, "target": target, "profile": profile,
        "scheme": fixed.precision.scheme if fixed.precision else None,
        "formats": fixed.precision.formats if fixed.precision else {},
        "layers": layer_rows(fixed),
        "rules": {"checked": list(rules.checked), "warnings": list(rules.warnings)},
        "core_mapping": rules.mapping.to_dict(),
        "comparison": comparison.to_dict() if comparison is not None else None,
        "netx": netx or {},
        "outputs": outputs or [],
        "timings_s": timings or {},
    }


def format_summary(report: dict[str, Any]) -> str:
    """A short human summary of ``build_report``'s dict."""
    lines = [f"converted {report['checkpoint']} for {report['target']} (profile {report['profile']}, "
             f"scheme {report['scheme']})", "", "layer      model      neurons  exps (dense:exp)             vth     clipped"]
    for r in report["layers"]:
        exps = " ".join(f"{d['dense']}:{d['weight_exp']}" for d in r["denses"])
        clipped = sum(d["clipped"] for d in r["denses"]) + sum(r["clipped"].values())
        zeroed = sum(d["zeroed"] for d in r["denses"])
        vth = r["vth"] if r["vth"] is not None else "-"
        lines.append(f"{r['layer']:<10} {r['model']:<10} {r['neurons']:>7}  {exps:<28} {vth!s:>6}  "
                     f"{clipped} (weights zeroed {zeroed})")
        for note in r["notes"]:
            lines.append(f"  note: {note}")
    cm = report["core_mapping"]
    lines += ["", f"core mapping ({cm['total_cores']} cores):"]
    lines += [f"  {l['layer']}: {l['split']}" for l in cm["layers"]]
    for w in report["rules"]["warnings"]:
        lines.append(f"  warning: {w}")
    c = report.get("comparison")
    if c:
        lines += ["", f"accuracy on {c['samples']} samples: float {100 * c['float_accuracy']:.2f}%  fixed "
                      f"{100 * c['fixed_accuracy']:.2f}%  (drop {c['accuracy_drop_points']:+.2f} points; "
                      f"same prediction {100 * c['prediction_agreement']:.1f}%)"]
        if c.get("float_self_agreement") is not None:
            lines.append(f"  float model sensitivity: with 1e-4 relative weight noise the float model keeps "
                         f"{100 * c['float_self_agreement']:.1f}% of its predictions (accuracy "
                         f"{100 * c['perturbed_float_accuracy']:.2f}%): differences of that size are the model's, "
                         "not the quantization's")
        for l in c["layers"]:
            lines.append(f"  {l['layer']}: spike agreement {100 * l['agreement']:.2f}%  rate float "
                         f"{l['float_rate']:.4f} fixed {l['fixed_rate']:.4f}")
        over = {p: {k: v for k, v in d.items() if v} for p, d in c["overflow"].items()}
        over = {p: d for p, d in over.items() if d}
        lines.append(f"  state overflow (emulator): {over if over else 'none'}")
    netx = report.get("netx") or {}
    if netx:
        lines.append("")
        lines.append(f"netx: {'written ' + netx['path'] if netx.get('written') else 'not written: ' + str(netx.get('reason'))}")
        if netx.get("written") and netx.get("load"):
            lines.append(f"  {netx['load']}")
    nir_entry = report.get("nir") or {}
    if nir_entry:
        lines.append("")
        if nir_entry.get("written"):
            lines.append(f"nir: written {nir_entry['path']} (dt = {nir_entry['dt']:g} s in its metadata)")
            lines += [f"  caveat: {c}" for c in nir_entry.get("caveats", [])]
        else:
            lines.append(f"  warning: nir: model.nir not written: {nir_entry.get('reason')}")
    if report.get("outputs"):
        lines += ["", "wrote: " + ", ".join(report["outputs"])]
    return "\n".join(lines)
