"""``make demo``: the whole pipeline on the embedded spoken-digit corpus, offline, in minutes.

Stages (each is one ``snn-deploy`` command, run as a subprocess so its own progress and errors show):

1. ``data synth-digits``            the embedded corpus (espeak-ng digits, held-out voices in test)
2. ``train`` RadLIF                 the spiking model (paper 1)
3. ``train`` GRU                    the ANN baseline
4. ``convert --target loihi-sim``   Loihi fixed point, float vs fixed accuracy
5. ``run --backend lava --verify``  a few test samples on Lava's simulator, checked against the emulator
6. ``run --backend emulator``       the whole test split on the bit-accurate emulator (activity for energy)
7. ``energy``                       operations and energy per inference vs the GRU

A stage whose outputs exist and are newer than its inputs is skipped (like make); ``--force``
redoes everything. The closing summary is read back from the stages' own JSON files, and written to
``OUT/summary.json`` and ``OUT/summary.md``.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from snn_deploy import layout as L
from snn_deploy.atomic import write_text_atomic

PROFILES = ("loihi1", "cmos45nm-int32")


@dataclass
class DemoConfig:
    out: Path
    size: str = "default"
    model: str = "radlif"
    layers: int = 3
    hidden: int = 128
    epochs: int = 30
    baseline_epochs: int = 10
    lava_samples: int = 100
    force: bool = False

    @classmethod
    def tiny(cls, out: Path) -> "DemoConfig":
        """Seconds-long configuration for tests: the pipeline's plumbing, not its accuracy."""
        return cls(out=out, size="tiny", hidden=16, epochs=1, baseline_epochs=1, lava_samples=2)


@dataclass
class Stage:
    name: str
    argv: list[str]
    outputs: list[Path]
    inputs: list[Path] = field(default_factory=list)

    def up_to_date(self) -> bool:
        if not all(p.exists() for p in self.outputs):
            return False
        newest_input = max((p.stat().st_mtime for p in self.inputs if p.exists()), default=0.0)
        return min(p.stat().st_mtime for p in self.outputs) >= newest_input


def plan(cfg: DemoConfig) -> list[Stage]:
    out = cfg.out
    data, snn, ann = out / "data", out / cfg.model, out / "gru"
    loihi, lava, energy = _dirs(cfg)
    model_args = ["--layers", str(cfg.layers), "--hidden", str(cfg.hidden)]   # epoch lines show; bars only on a terminal
    return [
        Stage("data", ["data", "synth-digits", "-o", str(data), "--size", cfg.size],
              outputs=[data / L.SYNTH_RECORD, data / L.split_file("train"), data / L.split_file("test")]),
        Stage("train-snn", ["train", "--model", cfg.model, *model_args, "--epochs", str(cfg.epochs),
                            "--data", str(data), "-o", str(snn), "--force"],
              outputs=[snn / L.TRAIN_SUMMARY, snn / L.BEST_CHECKPOINT], inputs=[data / L.SYNTH_RECORD]),
        Stage("train-gru", ["train", "--model", "gru", *model_args, "--epochs", str(cfg.baseline_epochs),
                            "--data", str(data), "-o", str(ann), "--force"],
              outputs=[ann / L.TRAIN_SUMMARY, ann / L.BEST_CHECKPOINT], inputs=[data / L.SYNTH_RECORD]),
        Stage("convert", ["convert", str(snn / L.BEST_CHECKPOINT), "--target", "loihi-sim", "--data", str(data),
                          "-o", str(loihi)],
              outputs=[loihi / L.QUANTIZATION, loihi / L.NETWORK], inputs=[snn / L.BEST_CHECKPOINT]),
        Stage("lava", ["run", str(loihi), "--data", str(data), "--backend", "lava", "--limit", str(cfg.lava_samples),
                       "--verify", str(cfg.lava_samples), "--output", str(lava), "--no-progress"],
              outputs=[lava / L.RUN_RECORD, lava / L.ACTIVITY], inputs=[loihi / L.NETWORK]),
        Stage("emulator", ["run", str(loihi), "--data", str(data), "--backend", "emulator", "--no-progress"],
              outputs=[loihi / L.RUN_RECORD, loihi / L.ACTIVITY], inputs=[loihi / L.NETWORK]),
        Stage("energy", ["energy", str(loihi), *sum((["--profile", p] for p in PROFILES), []),
                         "--baseline", str(ann / L.BEST_CHECKPOINT), "-o", str(energy)],
              outputs=[energy / L.ENERGY_JSON, energy / L.ENERGY_MD],
              inputs=[loihi / L.ACTIVITY, ann / L.BEST_CHECKPOINT]),
    ]


def _dirs(cfg: DemoConfig) -> tuple[Path, Path, Path]:
    """(convert's OUT, the Lava run's --output, energy's -o) of the demo."""
    loihi = cfg.out / cfg.model / "loihi"
    return loihi, loihi / "lava", cfg.out / "energy"


def run_stage(stage: Stage, force: bool) -> float:
    if not force and stage.up_to_date():
        print(f"== {stage.name}: up to date ({stage.outputs[0]}), skipped (--force redoes it)")
        return 0.0
    print(f"== {stage.name}: snn-deploy {' '.join(stage.argv)}", flush=True)
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "snn_deploy", *stage.argv])
    if proc.returncode != 0:
        raise SystemExit(f"demo stopped: stage {stage.name!r} failed (exit {proc.returncode}); "
                         "its message is above. Fix it and re-run: finished stages are kept.")
    return time.perf_counter() - t0


def _read(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text())


def summarize(cfg: DemoConfig) -> dict[str, Any]:
    """The demo's headline numbers, each read from the JSON file of the stage that measured it."""
    out = cfg.out
    snn, gru_dir = out / cfg.model, out / "gru"
    loihi, lava_dir, energy_dir = _dirs(cfg)
    train = _read(snn / L.TRAIN_SUMMARY)
    gru = _read(gru_dir / L.TRAIN_SUMMARY)
    quant = _read(loihi / L.QUANTIZATION)["comparison"]
    lava = _read(lava_dir / L.RUN_RECORD)
    emu = _read(loihi / L.RUN_RECORD)
    energy = _read(energy_dir / L.ENERGY_JSON)
    run = energy["runs"][0]
    ratio = energy["ratios"][0]
    profiles = {}
    uj = lambda e: [e["min_pj"] / 1e6, e["max_pj"] / 1e6]
    for p in PROFILES:
        e = run["energy"][p]
        profiles[p] = {"snn_uj": uj(e["total"]), "snn_compute_uj": uj(e["compute"]),
                       "memory_included": e["memory_included"],
                       "gru_over_snn": ratio["energy"][p].get("cmos45nm-int32"),
                       "gru_over_snn_compute": ratio["energy_compute_only"][p].get("cmos45nm-int32"),
                       "dominated_by": next(h["dominates"] for h in energy["headline"]
                                            if h["kind"] == "snn" and h["profile"] == p)}
    gru_energy = energy["baselines"][0]
    return {
        "model": f"{cfg.model} {cfg.layers}x{cfg.hidden}",
        "float_test_accuracy": train["test_acc"],
        "gru_test_accuracy": gru["test_acc"],
        "convert_float_accuracy": quant["float_accuracy"],
        "convert_fixed_accuracy": quant["fixed_accuracy"],
        "fixed_accuracy_drop_points": quant["accuracy_drop_points"],
        "emulator_test_accuracy": emu["accuracy"],
        "emulator_samples": emu["samples"],
        "lava_samples": lava["samples"],
        "lava_accuracy": lava["accuracy"],
        "lava_equals_emulator": bool(lava["verification"] and lava["verification"]["identical"]),
        "lava_ms_per_step": 1e3 * lava["seconds_per_step"],
        "mean_firing_rate": run["mean_firing_rate"],
        "ops_per_inference": run["ops_per_inference"]["total"],
        "gru_ops_over_snn_ops": ratio["ops"],
        "energy": profiles,
        "gru_energy_uj": {"compute": uj(gru_energy["energy_compute_only"]["cmos45nm-int32"]),
                          "total": uj(gru_energy["energy"]["cmos45nm-int32"])},
        "calibration": {p: energy["profiles"][p].get("calibration", "") for p in PROFILES},
        "artifacts": {
            "data": str(out / "data"), "snn": str(snn / L.BEST_CHECKPOINT), "gru": str(gru_dir / L.BEST_CHECKPOINT),
            "fixed_network": str(loihi / L.NETWORK), "lava_activity": str(lava_dir / L.ACTIVITY),
            "activity": str(loihi / L.ACTIVITY), "energy_report": str(energy_dir / L.ENERGY_MD),
        },
    }


def format_summary(s: dict[str, Any]) -> str:
    def rng(v: list[float]) -> str:
        lo, hi = v
        return f"{lo:.3g} µJ" if abs(hi - lo) <= 1e-9 * max(abs(hi), 1e-30) else f"{lo:.3g}-{hi:.3g} µJ"

    def ratio(v: Optional[list[float]]) -> str:
        if not v:
            return "n/a"
        lo, hi = v
        return f"{lo:.3g}x" if abs(hi - lo) <= 1e-9 * max(abs(hi), 1e-30) else f"{lo:.3g}-{hi:.3g}x"

    e = s["energy"]

    def both(p: str) -> str:
        if not e[p]["memory_included"]:
            return f"{rng(e[p]['snn_uj'])} (memory inside its constants)"
        return f"{rng(e[p]['snn_compute_uj'])} compute, {rng(e[p]['snn_uj'])} with memory ({e[p]['dominated_by']} dominates)"

    def ratios(p: str) -> str:
        if not e[p]["memory_included"]:
            return f"{p} {ratio(e[p]['gru_over_snn'])}"
        return f"{p} {ratio(e[p]['gru_over_snn_compute'])} compute only, {ratio(e[p]['gru_over_snn'])} with memory"

    missing = [p for p, note in s.get("calibration", {}).items() if note.startswith("MISSES")]
    return "\n".join([
        f"float accuracy   : {s['model']} {100 * s['float_test_accuracy']:.2f}% on the held-out voices "
        f"(GRU baseline {100 * s['gru_test_accuracy']:.2f}%)",
        f"fixed accuracy   : {100 * s['emulator_test_accuracy']:.2f}% on {s['emulator_samples']} test samples "
        f"(emulator, Loihi fixed point; float {100 * s['convert_float_accuracy']:.2f}%, drop "
        f"{s['fixed_accuracy_drop_points']:+.2f} points)",
        f"Lava == emulator : {'yes' if s['lava_equals_emulator'] else 'NO'}, every spike of every layer on "
        f"{s['lava_samples']} samples ({s['lava_ms_per_step']:.2f} ms per step on Lava)",
        f"energy/inference : loihi1 {both('loihi1')}; cmos45nm-int32 {both('cmos45nm-int32')} "
        f"(mean rate {s['mean_firing_rate']:.3f}, {s['ops_per_inference'] / 1e6:.3g}M ops)",
        f"vs GRU           : {s['gru_ops_over_snn_ops']:.3g}x fewer operations; energy GRU(cmos45nm-int32)/SNN: "
        f"{ratios('loihi1')}; {ratios('cmos45nm-int32')}",
    ] + ([f"calibration      : {', '.join(missing)} per-op constants read below every measured chip, by "
          "1.5-594x (docs/energy-calibration.md)"] if missing else []))


def main(argv: Optional[list[str]] = None) -> int:
    p = argparse.ArgumentParser(prog="python -m snn_deploy.demo", description=__doc__.split("\n\n")[0])
    p.add_argument("--out", default="demo_out", help="where everything goes (default demo_out/)")
    p.add_argument("--force", action="store_true", help="redo every stage")
    p.add_argument("--tiny", action="store_true", help="seconds-long plumbing check (tiny corpus, 1 epoch)")
    p.add_argument("--size", choices=("tiny", "small", "default"), help="corpus size (default: default, 2400 train + 480 test words)")
    p.add_argument("--epochs", type=int, help="SNN training epochs (default 30)")
    p.add_argument("--baseline-epochs", type=int, help="GRU training epochs (default 10)")
    p.add_argument("--lava-samples", type=int, help="test samples run on Lava and verified against the emulator (default 100)")
    args = p.parse_args(argv)
    cfg = DemoConfig.tiny(Path(args.out)) if args.tiny else DemoConfig(out=Path(args.out))
    for name in ("size", "epochs", "baseline_epochs", "lava_samples"):
        if getattr(args, name) is not None:
            setattr(cfg, name, getattr(args, name))
    cfg.force = args.force

    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    t0 = time.perf_counter()
    timings = {}
    for stage in plan(cfg):
        timings[stage.name] = run_stage(stage, cfg.force)
    summary = summarize(cfg)
    summary["stage_seconds"] = timings
    summary["total_seconds"] = time.perf_counter() - t0
    text = format_summary(summary)
    write_text_atomic(cfg.out / L.DEMO_SUMMARY_JSON, json.dumps(summary, indent=2) + "\n")
    write_text_atomic(cfg.out / L.DEMO_SUMMARY_MD, "# snn-deploy demo\n\n```\n" + text + "\n```\n")
    print("\nartifacts:")
    for k, v in summary["artifacts"].items():
        print(f"  {k:14s} {v}")
    print(f"\nsummary ({summary['total_seconds']:.0f} s; also {cfg.out / L.DEMO_SUMMARY_MD}, {cfg.out / L.DEMO_SUMMARY_JSON}):")
    print(text)
    return 0 if summary["lava_equals_emulator"] else 1


if __name__ == "__main__":
    sys.exit(main())
