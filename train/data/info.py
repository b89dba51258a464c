"""``snn-deploy data info``: what is in a spike file or data directory (classes, counts, duration, spikes)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from snn_deploy.train.data.dataset import SPLITS
from snn_deploy.train.data.shd import SpikeRecords, read_spike_file


def spike_file_summary(records: SpikeRecords) -> dict:
    """Classes, per-class counts, duration and spike statistics of one SHD-layout file."""
    lengths = np.diff(records.offsets)
    n = len(records.labels)
    last = np.zeros(n)
    nonempty = lengths > 0
    if n:
        last[nonempty] = np.maximum.reduceat(records.times, records.offsets[:-1][nonempty]) if nonempty.any() else 0
    counts = np.bincount(records.labels, minlength=records.num_classes) if n else np.zeros(records.num_classes, int)
    per_channel = np.bincount(records.units.astype(np.int64), minlength=records.num_channels)
    return {
        "path": str(records.path),
        "format": "shd-hdf5",
        "samples": int(n),
        "num_channels": int(records.num_channels),
        "num_classes": int(records.num_classes),
        "classes": {name: int(c) for name, c in zip(records.class_names, counts)},
        "speakers": sorted({int(s) for s in records.speakers}) if records.speakers is not None else None,
        "duration_s": {
            "max_last_spike": float(last.max()) if n else 0.0,
            "mean_last_spike": float(last.mean()) if n else 0.0,
            "min_first_spike": float(records.times.min()) if len(records.times) else 0.0,
        },
        "spikes": {
            "total": int(lengths.sum()),
            "per_sample_mean": float(lengths.mean()) if n else 0.0,
            "per_sample_min": int(lengths.min()) if n else 0,
            "per_sample_max": int(lengths.max()) if n else 0,
            "empty_samples": int(np.count_nonzero(lengths == 0)),
            "negative_times": int(np.count_nonzero(records.times < 0)),
            "active_channels": int(np.count_nonzero(per_channel)),
            "mean_rate_hz_per_channel": float(
                lengths.sum() / max(records.num_channels, 1) / max(float(last.sum()), 1e-9)
            ) if n else 0.0,
        },
    }


def summarize(path: str | Path) -> dict:
    """Summary of a spike ``.h5`` file, or of every split found in a data directory."""
    path = Path(path)
    if path.is_file():
        return spike_file_summary(read_spike_file(path, allow_negative_times=True))
    from snn_deploy.errors import SnnDeployError

    splits = {}
    for split in SPLITS:
        try:
            splits[split] = _split_summary(path, split)
        except SnnDeployError as exc:  # a missing split is reported, not fatal
            if split == "train":
                raise
            splits[split] = {"missing": str(exc)}
    return {"path": str(path), "splits": splits}


def _split_summary(data_dir: Path, split: str) -> dict:
    """One split of a data directory; its spike file read as :func:`summarize` reads one (negative times counted)."""
    from snn_deploy.train.data.resolve import open_dataset, spike_file_candidates

    candidates = spike_file_candidates(data_dir, split) if data_dir.is_dir() else []
    if len(candidates) == 1:
        return spike_file_summary(read_spike_file(candidates[0], allow_negative_times=True))
    ds = open_dataset(data_dir, split)  # audio folders; names the problem for missing or ambiguous splits
    records = getattr(ds, "records", None)
    return spike_file_summary(records) if records is not None else ds.describe()


def format_summary(summary: dict) -> str:
    """Short human text for :func:`summarize`'s result."""
    if "splits" in summary:
        parts = [f"{summary['path']}"]
        for split, s in summary["splits"].items():
            parts.append(f"[{split}] " + (s["missing"] if "missing" in s else _one(s)))
        return "\n".join(parts)
    return _one(summary)


def _one(s: dict) -> str:
    if s.get("format") != "shd-hdf5":
        return (f"{s['path']}: {s['samples']} samples, {s['num_classes']} classes, {s['input_kind']} "
                f"[{s['time_steps']} x {s['num_channels']}]")
    classes = ", ".join(f"{k}:{v}" for k, v in s["classes"].items())
    sp, du = s["spikes"], s["duration_s"]
    return (
        f"{s['path']}: {s['samples']} samples, {s['num_classes']} classes, {s['num_channels']} channels\n"
        f"  classes: {classes}\n"
        f"  duration: last spike max {du['max_last_spike']:.3f} s, mean {du['mean_last_spike']:.3f} s\n"
        f"  spikes: {sp['total']} total, {sp['per_sample_mean']:.1f}/sample (min {sp['per_sample_min']}, "
        f"max {sp['per_sample_max']}), {sp['empty_samples']} empty samples, {sp['active_channels']} active channels, "
        f"{sp['mean_rate_hz_per_channel']:.2f} Hz/channel\n"
        f"  speakers: {s['speakers']}"
        + (f"\n  WARNING: {sp['negative_times']} spikes at negative times: train, eval and run refuse this file"
           if sp.get("negative_times") else "")
    )
