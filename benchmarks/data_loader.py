"""Loader throughput: batches/s of the SHD loader alone vs one plain training step.

Writes an SHD-sized file (700 channels, ~SHD's spike density) in the published layout, then times
  1. DataLoader(ds, batch_size=B, shuffle=True) with per-sample __getitem__ + default collate,
  2. ds.batch(indices), binning straight into one preallocated batch array,
  3. one forward+backward step of a plain 3x128 recurrent LIF net written as a per-time-step loop
     (the sparch style), as the yardstick: loading must be much faster than training.

    .venv/bin/python benchmarks/data_loader.py [--samples 1024] [--spikes 8000] [--batch 256] [--json out.json]
"""
from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from snn_deploy.train.data import open_dataset, write_spike_file


def make_file(path: Path, samples: int, spikes: int, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    times, units = [], []
    for _ in range(samples):
        n = int(rng.integers(spikes // 2, spikes * 3 // 2))
        times.append(np.sort(rng.uniform(0.0, 1.2, n)).astype(np.float32))
        units.append(rng.integers(0, 700, n).astype(np.uint16))
    write_spike_file(path, times, units, rng.integers(0, 20, samples), class_names=[str(i) for i in range(20)])


def time_it(fn, repeats: int) -> float:
    fn()  # warm-up
    t0 = time.perf_counter()
    for _ in range(repeats):
        fn()
    return (time.perf_counter() - t0) / repeats


def lif_step_seconds(batch: int, time_steps: int, channels: int, hidden: int = 128, layers: int = 3) -> float:
    """One forward+backward of a per-time-step recurrent LIF loop (sparch style), in seconds."""
    torch.manual_seed(0)
    dims = [channels] + [hidden] * layers
    w = [torch.nn.Linear(a, b) for a, b in zip(dims[:-1], dims[1:])]
    v = [torch.nn.Linear(hidden, hidden, bias=False) for _ in range(layers)]
    readout = torch.nn.Linear(hidden, 20)
    params = [p for m in w + v + [readout] for p in m.parameters()]
    opt = torch.optim.Adam(params, lr=1e-3)
    x = (torch.rand(batch, time_steps, channels) < 0.02).float()
    y = torch.randint(0, 20, (batch,))

    def spike(u):  # Heaviside forward (threshold 1), boxcar surrogate backward (straight-through form)
        box = ((u - 1).abs() < 0.5).float()
        return (u > 1).float().detach() + box * (u - u.detach())

    def step():
        h = x
        for wl, vl in zip(w, v):
            u = torch.zeros(batch, hidden)
            s = torch.zeros(batch, hidden)
            out = []
            wx = wl(h)
            for t in range(time_steps):
                u = 0.9 * (u - s) + 0.1 * (wx[:, t] + vl(s))
                s = spike(u)
                out.append(s)
            h = torch.stack(out, 1)
        loss = torch.nn.functional.cross_entropy(readout(h).mean(1), y)
        opt.zero_grad()
        loss.backward()
        opt.step()

    return time_it(step, 2)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--samples", type=int, default=1024)
    ap.add_argument("--spikes", type=int, default=8000, help="mean spikes per sample (SHD train: ~8k)")
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--no-train-step", action="store_true")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "train.h5"
        make_file(path, args.samples, args.spikes)
        t0 = time.perf_counter()
        ds = open_dataset(path, "train")
        open_s = time.perf_counter() - t0
        loader = torch.utils.data.DataLoader(ds, batch_size=args.batch, shuffle=True)
        n_batches = len(loader)
        epoch_s = time_it(lambda: [None for _ in loader], 1)
        rng = np.random.default_rng(0)
        batch_s = time_it(lambda: ds.batch(rng.choice(len(ds), args.batch, replace=False)), 5)
    result = {
        "samples": args.samples, "mean_spikes": args.spikes, "batch": args.batch, "threads": args.threads,
        "open_s": round(open_s, 3),
        "dataloader_batches_per_s": round(n_batches / epoch_s, 2),
        "batch_method_batches_per_s": round(1.0 / batch_s, 2),
    }
    if not args.no_train_step:
        step_s = lif_step_seconds(args.batch, ds.time_steps, ds.num_channels)
        result["plain_lif_3x128_train_step_s"] = round(step_s, 3)
        result["loader_vs_step_ratio"] = round(step_s / (epoch_s / n_batches), 1)
    print(json.dumps(result, indent=2))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
