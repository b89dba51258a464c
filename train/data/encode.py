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
from snn_deploy.memory import check_fits

from snn_deploy.train.data.audio import (AUDIO_SUFFIXES, HD, HD_CLASS_NAMES, HD_LISTS, SC, AudioItem, detect_layout,
                                         hd_items, sc_items)
from snn_deploy.train.data.cochlea import DEFAULT_LEVEL_DBFS, Cochlea, CochleaParams, normalize_level
from snn_deploy.train.data.features import audio_info, read_audio
from snn_deploy.train.data.shd import write_spike_file

CHUNK = 16  # files per worker task
#: Peak bytes per (channel x encoder step) of one file while encoding (filterbank frames, hair-cell
#: stages, LIF input and noise): measured 55-73 B (39-51 MB per second of audio at 700 channels and
#: 1 ms steps); the lower figure, so that the check never refuses what fits.
ENCODE_BYTES_PER_CHANNEL_STEP = 50
#: Bytes per (channel x step) that every file of a chunk takes up to the chunk's longest file, as the
#: LIF loop runs the chunk side by side (float64 input, float64 noise, bool spikes).
PADDED_BYTES_PER_CHANNEL_STEP = 17


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


_COCHLEAS: dict[CochleaParams, Cochlea] = {}


def cochlea_for(params: CochleaParams) -> Cochlea:
    """One :class:`Cochlea` per parameter set and process (its filterbank takes a while to build)."""
    if params not in _COCHLEAS:
        _COCHLEAS[params] = Cochlea(params)
    return _COCHLEAS[params]


def load_for_encoding(path: Path, level_dbfs: float | None) -> tuple[np.ndarray, int]:
    """Read one file (mono, any rate) and scale it to ``level_dbfs`` (None: keep its level)."""
    x, rate = read_audio(path)
    if level_dbfs is not None:
        x = normalize_level(x, rate, level_dbfs)
    return x, rate


def encode_waveforms(
    cochlea: Cochlea, waves: list[tuple[np.ndarray, int]], indices: list[int], seed: int
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Spikes of several waveforms (one LIF time loop for all); sample ``indices[i]`` seeds its noise."""
    drives = [cochlea.drive(x, rate) for x, rate in waves]
    rngs = [np.random.default_rng(sample_seed(seed, i)) for i in indices]
    return cochlea.bushy_cells_batch(drives, rngs)


def _encode_chunk(
    jobs: list[_Job], params: CochleaParams, seed: int, level_dbfs: float | None
) -> list[tuple[int, np.ndarray, np.ndarray, float]]:
    waves = [load_for_encoding(Path(j.path), level_dbfs) for j in jobs]
    spikes = encode_waveforms(cochlea_for(params), waves, [j.index for j in jobs], seed)
    return [(j.index, t, u, len(x) / rate) for j, (t, u), (x, rate) in zip(jobs, spikes, waves)]


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
    from snn_deploy.log import progress_bar

    if not items:
        raise SnnDeployError(f"nothing to encode for {out_path}")
    t0 = time.perf_counter()
    jobs = [_Job(i, str(it.path)) for i, it in enumerate(items)]
    chunks = [jobs[i : i + CHUNK] for i in range(0, len(jobs), CHUNK)]
    check_encoding_fits(chunks, params, workers)
    results: dict[int, tuple[np.ndarray, np.ndarray, float]] = {}
    with progress_bar(len(jobs), desc, enabled=progress, unit="file") as bar:
        for index, t, u, d in map_chunks(_encode_chunk, chunks, (params, seed, level_dbfs), workers, bar):
            results[index] = (t, u, d)
    summary = write_encoded(out_path, items, class_names, results, params=params, seed=seed, level_dbfs=level_dbfs)
    summary["seconds"] = round(time.perf_counter() - t0, 2)
    return summary


def check_encoding_fits(chunks: list[list[_Job]], params: CochleaParams, workers: int) -> None:
    """Refuse, before any decoding, audio too long to encode in the memory available (one line with the figure).

    Durations come from the files' headers. A chunk needs :data:`ENCODE_BYTES_PER_CHANNEL_STEP` per
    channel and step of each file plus :data:`PADDED_BYTES_PER_CHANNEL_STEP` per channel and step of
    its longest file for every file; ``workers`` chunks run at once.
    """
    steps_per_s = 1.0 / params.dt_s
    needs = []
    for chunk in chunks:
        seconds = {j.path: (lambda i: i.frames / max(i.samplerate, 1))(audio_info(Path(j.path))) for j in chunk}
        longest = max(seconds, key=seconds.get)
        need = params.num_channels * steps_per_s * (
            ENCODE_BYTES_PER_CHANNEL_STEP * sum(seconds.values()) + PADDED_BYTES_PER_CHANNEL_STEP * len(chunk) * seconds[longest])
        needs.append((need, longest, seconds[longest]))
    needs.sort(reverse=True)
    running = needs[:max(1, workers)]
    need, longest, secs = running[0]
    check_fits(sum(n for n, _, _ in running),
               f"{longest}: encoding {secs:.0f} s of audio at {params.num_channels} channels "
               f"({len(running)} worker(s))", FormatError, hint="split long recordings into utterances first")


def map_chunks(fn, chunks: list[list], extra_args: tuple, workers: int, bar=None):
    """Yield ``fn(chunk, *extra_args)``'s items for every chunk, in order; ``workers`` > 1 uses spawned processes."""
    if workers <= 1:
        for chunk in chunks:
            yield from fn(chunk, *extra_args)
            if bar is not None:
                bar.update(len(chunk))
        return
    with ProcessPoolExecutor(workers, mp_context=get_context("spawn")) as pool:
        futures = [(len(c), pool.submit(fn, c, *extra_args)) for c in chunks]
        for n, fut in futures:
            yield from fut.result()
            if bar is not None:
                bar.update(n)


def write_encoded(
    out_path, items: list[AudioItem], class_names: list[str], results: dict[int, tuple[np.ndarray, np.ndarray, float]],
    *, params: CochleaParams, seed: int, level_dbfs: float | None,
) -> dict:
    """Write encoded ``results`` ({index: (times, units, audio seconds)}) as an SHD-layout file; summary dict."""
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
    }


def check_output_path(out: Path) -> None:
    if out.suffix not in (".h5", ".hdf5"):
        raise SnnDeployError(f"{out}: the output must be an .h5 file")
    if out.is_dir():
        raise FormatError(f"{out}: is a directory")
