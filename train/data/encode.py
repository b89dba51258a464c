"""``snn-deploy data encode``: any folder of labelled audio -> SHD-layout spike file (:mod:`.cochlea`).

Folders understood (see :mod:`.audio`): Heidelberg Digits (``audio/`` + split lists), Speech
Commands (word folders + lists), or simply one sub-folder of audio files per class (labels are the
sorted folder names). Each file is read (mono, any sample rate), scaled to an active level of
-20 dBFS (:func:`~.cochlea.normalize_level`), and encoded with noise seeded by ``(seed, index)``,
so the output depends only on the inputs, the parameters and the seed, not on the worker count.
"""
from __future__ import annotations

import json
import os
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path

import numpy as np

from snn_deploy.errors import FormatError, SnnDeployError

from .audio import AUDIO_SUFFIXES, HD, HD_CLASS_NAMES, HD_LISTS, SC, AudioItem, detect_layout, hd_items, sc_items
from .cochlea import DEFAULT_LEVEL_DBFS, Cochlea, CochleaParams, normalize_level
from .features import read_audio
from .shd import write_spike_file

CHUNK = 16  # files per worker task


def list_labelled_audio(wav_dir: str | os.PathLike, split: str = "all") -> tuple[list[AudioItem], list[str]]:
    """The labelled recordings of ``wav_dir`` (``split``: train/valid/test of HD/SC, or "all")."""
    wav_dir = Path(wav_dir)
    if not wav_dir.is_dir():
        raise SnnDeployError(f"{wav_dir}: no such directory")
    layout = detect_layout(wav_dir)
    if layout == HD:
        splits = [s for s in HD_LISTS if (wav_dir / HD_LISTS[s]).is_file()] if split == "all" else [split]
        return [it for s in splits for it in hd_items(wav_dir, s)], list(HD_CLASS_NAMES)
    if layout == SC:
        if split == "all":
            items, words = [], []
            for s in ("train", "valid", "test"):
                try:
                    part, words = sc_items(wav_dir, s)
                except SnnDeployError:
                    continue
                items += part
            return items, words
        return sc_items(wav_dir, split)
    classes = sorted(p.name for p in wav_dir.iterdir() if p.is_dir() and not p.name.startswith(("_", ".")))
    items = [
        AudioItem(f, label)
        for label, name in enumerate(classes)
        for f in sorted((wav_dir / name).iterdir()) if f.suffix.lower() in AUDIO_SUFFIXES
    ]
    if not items:
        raise SnnDeployError(
            f"{wav_dir}: no labelled audio found: expected a Heidelberg Digits folder (audio/ + train_filenames.txt), "
            "a Speech Commands folder, or one sub-folder of .wav/.flac files per class"
        )
    return items, classes


def sample_seed(seed: int, index: int) -> int:
    """The LIF noise seed of sample ``index`` (independent of how work is split among processes)."""
    return int(np.random.SeedSequence([int(seed), int(index)]).generate_state(1)[0])


@dataclass(frozen=True)
class _Job:
    index: int
    path: str


_COCHLEA: Cochlea | None = None


def _init_worker(params: dict) -> None:
    global _COCHLEA
    params = dict(params, windows_ms=tuple(params["windows_ms"]))
    _COCHLEA = Cochlea(CochleaParams(**params))


def encode_file(cochlea: Cochlea, path: Path, seed: int, index: int, level_dbfs: float | None) -> tuple[np.ndarray, np.ndarray, float]:
    """Encode one file; returns ``(times, units, duration_s)``."""
    x, rate = read_audio(path)
    if level_dbfs is not None:
        x = normalize_level(x, rate, level_dbfs)
    times, units = cochlea.encode(x, rate, seed=sample_seed(seed, index))
    return times, units, len(x) / rate


def _encode_chunk(jobs: list[_Job], seed: int, level_dbfs: float | None) -> list[tuple[int, np.ndarray, np.ndarray, float]]:
    return [(j.index, *encode_file(_COCHLEA, Path(j.path), seed, j.index, level_dbfs)) for j in jobs]


def encode_items(
    items: list[AudioItem],
    class_names: list[str],
    out_path: str | os.PathLike,
    *,
    params: CochleaParams = CochleaParams(),
    seed: int = 0,
    workers: int = 1,
    level_dbfs: float | None = DEFAULT_LEVEL_DBFS,
    progress: bool = True,
    desc: str = "encode",
) -> dict:
    """Encode ``items`` into an SHD-layout file at ``out_path`` (atomic); returns a summary dict."""
    from tqdm import tqdm

    if not items:
        raise SnnDeployError(f"nothing to encode for {out_path}")
    t0 = time.perf_counter()
    jobs = [_Job(i, str(it.path)) for i, it in enumerate(items)]
    chunks = [jobs[i : i + CHUNK] for i in range(0, len(jobs), CHUNK)]
    results: dict[int, tuple[np.ndarray, np.ndarray, float]] = {}
    with tqdm(total=len(jobs), desc=desc, unit="file", disable=not progress) as bar:
        if workers <= 1:
            _init_worker(params.to_dict())
            for chunk in chunks:
                for index, t, u, d in _encode_chunk(chunk, seed, level_dbfs):
                    results[index] = (t, u, d)
                bar.update(len(chunk))
        else:
            with ProcessPoolExecutor(workers, mp_context=get_context("spawn"), initializer=_init_worker,
                                     initargs=(params.to_dict(),)) as pool:
                futures = [pool.submit(_encode_chunk, c, seed, level_dbfs) for c in chunks]
                for fut in futures:
                    for index, t, u, d in fut.result():
                        results[index] = (t, u, d)
                    bar.update(CHUNK)
    times = [results[i][0] for i in range(len(items))]
    units = [results[i][1] for i in range(len(items))]
    durations = np.array([results[i][2] for i in range(len(items))])
    speakers = [max(it.speaker, 0) for it in items]
    write_spike_file(
        out_path, times, units, [it.label for it in items], class_names=class_names, speakers=speakers,
        num_channels=params.num_channels,
        attrs={"encoder": json.dumps({"cochlea": params.to_dict(), "seed": seed, "level_dbfs": level_dbfs})},
    )
    counts = np.array([len(t) for t in times])
    return {
        "path": str(out_path), "samples": len(items), "num_channels": params.num_channels,
        "num_classes": len(class_names), "spikes_per_sample_mean": float(counts.mean()),
        "spikes_per_sample_min": int(counts.min()), "audio_s_mean": float(durations.mean()),
        "audio_s_max": float(durations.max()),
        "samples_longer_than_1.4s": int(np.count_nonzero(durations > 1.4)),
        "seconds": round(time.perf_counter() - t0, 2),
    }


def check_output_path(out: Path) -> None:
    if out.suffix not in (".h5", ".hdf5"):
        raise SnnDeployError(f"{out}: the output must be an .h5 file")
    if out.is_dir():
        raise FormatError(f"{out}: is a directory")
