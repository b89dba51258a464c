"""``open_dataset``: find the right files for a split in a data directory and open them.

Recognised layouts of ``data_dir``:

- SHD/SSC spike files: ``train.h5``, ``valid.h5``, ``test.h5``, or the official names
  ``shd_train.h5``, ``ssc_valid.h5``, ... (any ``<name>_<split>.h5``); or a path to one ``.h5`` file.
- Heidelberg Digits audio (``audio/`` + ``train_filenames.txt``/``test_filenames.txt``) and Google
  Speech Commands v0.02 (one folder per word + ``validation_list.txt``/``testing_list.txt``): see
  :mod:`.audio`.
"""
from __future__ import annotations

import os
from pathlib import Path

from snn_deploy.errors import SnnDeployError

from snn_deploy.train.data.binning import DEFAULT_DURATION_S, DEFAULT_TIME_STEPS
from snn_deploy.train.data.dataset import SPLITS, SpeechDataset

SPIKE_SUFFIXES = (".h5", ".hdf5")


def spike_file_candidates(data_dir: Path, split: str) -> list[Path]:
    """Spike files in ``data_dir`` for ``split``: ``<split>.h5`` first, else ``<name>_<split>.h5``."""
    found = []
    for suffix in SPIKE_SUFFIXES:
        plain = data_dir / f"{split}{suffix}"
        if plain.is_file():
            return [plain]
        found += sorted(p for p in data_dir.glob(f"*_{split}{suffix}") if p.is_file())
    return found


def _has_spike_files(data_dir: Path) -> bool:
    return any(p.suffix in SPIKE_SUFFIXES for p in data_dir.iterdir() if p.is_file())


def _open_spike_dir(data_dir: Path, split: str, time_steps: int, duration: float, binary: bool) -> SpeechDataset:
    candidates = spike_file_candidates(data_dir, split)
    if not candidates:
        looked = f"{split}.h5, <name>_{split}.h5 (e.g. shd_{split}.h5, ssc_{split}.h5)"
        hint = ""
        gz = sorted(data_dir.glob(f"*{split}.h5.gz"))
        if gz:
            hint = f"; found {gz[0].name}: decompress it first (gunzip, or use `snn-deploy data download`)"
        elif split == "valid":
            hint = "; this data set has no validation split (carve one from train)"
        raise SnnDeployError(f"no '{split}' split in {data_dir}: looked for {looked}{hint}")
    if len(candidates) > 1:
        names = ", ".join(p.name for p in candidates)
        raise SnnDeployError(f"several '{split}' spike files in {data_dir} ({names}): pass one file instead of the directory")
    return open_spike_file(candidates[0], time_steps=time_steps, duration=duration, binary=binary)


def open_spike_file(path, *, time_steps=DEFAULT_TIME_STEPS, duration=DEFAULT_DURATION_S, binary=False):
    """Open one SHD-layout ``.h5`` file as a :class:`~.shd.SpikeDataset`."""
    from snn_deploy.train.data.shd import SpikeDataset, read_spike_file

    return SpikeDataset(read_spike_file(path), time_steps=time_steps, duration=duration, binary=binary)


def open_dataset(
    data_dir: str | os.PathLike,
    split: str,
    *,
    time_steps: int = DEFAULT_TIME_STEPS,
    duration: float = DEFAULT_DURATION_S,
    binary: bool = False,
) -> SpeechDataset:
    """Open ``split`` ("train", "valid" or "test") of the data set at ``data_dir``.

    ``data_dir`` is a directory in one of the layouts of this module's docstring, or one spike
    ``.h5`` file (then ``split`` is ignored). Spike data are binned into ``time_steps`` bins over
    ``duration`` seconds (``binary`` clips counts to 1); audio data give ``time_steps`` log-mel
    frames (10 ms hop; ``duration`` and ``binary`` do not apply). A missing split raises
    :class:`SnnDeployError` naming the files looked for.
    """
    path = Path(data_dir)
    if time_steps < 1:
        raise SnnDeployError(f"time_steps must be >= 1, got {time_steps}")
    if not duration > 0:
        raise SnnDeployError(f"duration must be > 0 seconds, got {duration}")
    if path.is_file():
        if path.suffix not in SPIKE_SUFFIXES:
            raise SnnDeployError(f"{path}: expected an SHD/SSC-layout .h5 file or a data directory")
        return open_spike_file(path, time_steps=time_steps, duration=duration, binary=binary)
    if split not in SPLITS:
        raise SnnDeployError(f"unknown split '{split}': expected one of {', '.join(SPLITS)}")
    if not path.is_dir():
        raise SnnDeployError(f"{path}: no such data directory or file")
    if _has_spike_files(path):
        return _open_spike_dir(path, split, time_steps, duration, binary)
    from snn_deploy.train.data import audio

    layout = audio.detect_layout(path)
    if layout is None:
        raise SnnDeployError(
            f"{path}: no data set found: expected {split}.h5 / <name>_{split}.h5 spike files, a Heidelberg "
            "Digits folder (audio/ + train_filenames.txt) or a Speech Commands folder (validation_list.txt)"
        )
    return audio.open_audio_dataset(path, layout, split, time_steps=time_steps)
