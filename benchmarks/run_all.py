"""Run every benchmark once (``make bench``) and print where their JSON figures went.

Each benchmark measures its own ratio side by side in one run (DESIGN.md section 7):
train_step.py (training step vs a sparch-style loop), emulator_vs_lava.py (emulator vs Lava's
simulator, bit-exact check included), data_loader.py (loader vs one training step).
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCHMARKS = ("train_step.py", "emulator_vs_lava.py", "data_loader.py")


def main() -> int:
    out = Path("benchmark_results")
    out.mkdir(exist_ok=True)
    failed = []
    for name in BENCHMARKS:
        print(f"== {name}", flush=True)
        result = out / (Path(name).stem + ".json")
        proc = subprocess.run([sys.executable, str(HERE / name), "--json", str(result)])
        if proc.returncode != 0:
            failed.append(name)
    print(f"\nfigures in {out}/: " + ", ".join(sorted(p.name for p in out.glob('*.json'))))
    if failed:
        print("failed: " + ", ".join(failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
