"""Audio data sets through the :class:`SpeechDataset` interface: Heidelberg Digits and Speech Commands.

Heidelberg Digits (HD, Cramer et al. 2020; the audio of SHD), as unpacked from ``hd_audio.tar.gz``::

    DIR/audio/lang-english_speaker-00_trial-0_digit-0.flac   (also .wav)
    DIR/train_filenames.txt, DIR/test_filenames.txt          one file name per line
  label = digit + 10 for German (classes 0-9 English "zero".."nine", 10-19 German "null".."neun"),
  the mapping of sparch and SHD. No validation list. All files must share one sample rate: the
  rate of the first file listed in train_filenames.txt (else in the split's list).

Google Speech Commands v0.02 (SC, Warden 2018; the audio of SSC)::

    DIR/<word>/<speaker-hash>_nohash_<n>.wav      16 kHz mono; 35 word folders
    DIR/validation_list.txt, DIR/testing_list.txt  "<word>/<file>.wav" per line
    DIR/_background_noise_/                       ignored
  train = every <word>/*.wav in neither list; label = index of <word> in the sorted word folders.

Each sample gives ``time_steps`` log-mel frames (:mod:`.features`: 40 bands, 25 ms / 10 ms),
cropped or zero-padded, computed on first access and cached in memory.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from snn_deploy.errors import FormatError, SnnDeployError

from snn_deploy.train.data.dataset import SpeechDataset
from snn_deploy.train.data.features import NUM_MEL_BINS, fit_frames, log_mel, read_audio

HD = "hd"
SC = "sc"
HD_LISTS = {"train": "train_filenames.txt", "test": "test_filenames.txt"}
SC_LISTS = {"valid": "validation_list.txt", "test": "testing_list.txt"}
SC_SAMPLE_RATE_HZ = 16000
SC_IGNORED_DIR = "_background_noise_"
AUDIO_SUFFIXES = (".wav", ".flac")
ENGLISH_DIGITS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
GERMAN_DIGITS = ["null", "eins", "zwei", "drei", "vier", "fünf", "sechs", "sieben", "acht", "neun"]
HD_CLASS_NAMES = ENGLISH_DIGITS + GERMAN_DIGITS
HD_NAME = re.compile(r"^lang-(english|german)_speaker-(\d+)_trial-(\d+)_digit-(\d)\.(wav|flac)$")
LANGUAGE_OFFSET = {"english": 0, "german": 10}


@dataclass(frozen=True)
class AudioItem:
    """One labelled recording."""

    path: Path
    label: int
    speaker: int = -1


def detect_layout(data_dir: Path) -> str | None:
    """``"hd"``, ``"sc"`` or None for a directory in neither layout."""
    if (data_dir / "audio").is_dir() and any((data_dir / n).is_file() for n in HD_LISTS.values()):
        return HD
    if any((data_dir / n).is_file() for n in SC_LISTS.values()):
        return SC
    return None


def _read_list(path: Path) -> list[tuple[int, str]]:
    return [(i + 1, line.strip()) for i, line in enumerate(path.read_text().splitlines()) if line.strip()]


def hd_label(name: str) -> tuple[int, int]:
    """``(label, speaker)`` of an HD file name; ValueError if the name is not in HD's pattern."""
    m = HD_NAME.match(name)
    if not m:
        raise ValueError(name)
    return int(m.group(4)) + LANGUAGE_OFFSET[m.group(1)], int(m.group(2))


def hd_items(data_dir: Path, split: str) -> list[AudioItem]:
    """The recordings of an HD split, checked against the files in ``audio/``."""
    if split not in HD_LISTS:
        raise SnnDeployError(
            f"no '{split}' split in {data_dir}: Heidelberg Digits has {', '.join(HD_LISTS.values())} only "
            "(carve a validation set from train)"
        )
    list_path = data_dir / HD_LISTS[split]
    if not list_path.is_file():
        raise SnnDeployError(f"no '{split}' split in {data_dir}: {list_path.name} not found")
    items = []
    for line_no, name in _read_list(list_path):
        try:
            label, speaker = hd_label(Path(name).name)
        except ValueError:
            raise FormatError(
                f"{list_path}:{line_no}: '{name}' is not an HD file name (lang-<english|german>_speaker-NN_trial-N_digit-D.flac)"
            ) from None
        audio = data_dir / "audio" / name
        if not audio.is_file():
            raise FormatError(f"{list_path}:{line_no}: lists '{name}', which is not in {data_dir / 'audio'}")
        items.append(AudioItem(audio, label, speaker))
    if not items:
        raise FormatError(f"{list_path}: lists no recordings")
    return items


def hd_expected_rate(data_dir: Path, items: list[AudioItem]) -> int:
    """The sample rate every file of this HD folder must have (see module docstring)."""
    import soundfile

    first = items[0].path
    train_list = data_dir / HD_LISTS["train"]
    if train_list.is_file():
        listed = _read_list(train_list)
        if listed and (data_dir / "audio" / listed[0][1]).is_file():
            first = data_dir / "audio" / listed[0][1]
    try:
        return int(soundfile.info(str(first)).samplerate)
    except (RuntimeError, OSError) as exc:
        raise FormatError(f"{first}: not a readable audio file: {exc}") from None


def sc_words(data_dir: Path) -> list[str]:
    words = sorted(
        p.name for p in data_dir.iterdir()
        if p.is_dir() and not p.name.startswith("_") and not p.name.startswith(".")
    )
    if not words:
        raise FormatError(f"{data_dir}: no word folders (expected one folder of .wav files per word)")
    return words


def sc_items(data_dir: Path, split: str) -> tuple[list[AudioItem], list[str]]:
    """The recordings of an SC split and the class names (sorted word folders)."""
    words = sc_words(data_dir)
    index = {w: i for i, w in enumerate(words)}
    listed: dict[str, list[str]] = {}
    for name, list_file in SC_LISTS.items():
        list_path = data_dir / list_file
        if not list_path.is_file():
            listed[name] = []
            continue
        entries = []
        for line_no, rel in _read_list(list_path):
            word = rel.split("/")[0]
            if word not in index or "/" not in rel:
                raise FormatError(f"{list_path}:{line_no}: '{rel}' is not in a word folder of {data_dir}")
            if not (data_dir / rel).is_file():
                raise FormatError(f"{list_path}:{line_no}: lists '{rel}', which does not exist in {data_dir}")
            entries.append(rel)
        listed[name] = entries
    if split == "train":
        held_out = set(listed["valid"]) | set(listed["test"])
        rels = [
            f"{w}/{p.name}" for w in words for p in sorted((data_dir / w).iterdir())
            if p.suffix in AUDIO_SUFFIXES and f"{w}/{p.name}" not in held_out
        ]
    elif split in SC_LISTS:
        if not (data_dir / SC_LISTS[split]).is_file():
            raise SnnDeployError(f"no '{split}' split in {data_dir}: {SC_LISTS[split]} not found")
        rels = listed[split]
    else:
        raise SnnDeployError(f"unknown split '{split}'")
    if not rels:
        raise FormatError(f"{data_dir}: the '{split}' split of this Speech Commands folder is empty")
    return [AudioItem(data_dir / r, index[r.split("/")[0]]) for r in rels], words


class AudioDataset(SpeechDataset):
    """Labelled recordings -> ``[time_steps, 40]`` log-mel frames (``input_kind == "graded"``)."""

    input_kind = "graded"

    def __init__(
        self,
        path: Path,
        items: list[AudioItem],
        class_names: list[str],
        *,
        time_steps: int,
        sample_rate: int | None,
        layout: str,
    ):
        self.path = Path(path)
        self.items = list(items)
        self.class_names = list(class_names)
        self.num_classes = len(self.class_names)
        self.num_channels = NUM_MEL_BINS
        self.time_steps = int(time_steps)
        self.sample_rate = sample_rate
        self.layout = layout
        self.labels = np.array([it.label for it in self.items], dtype=np.int64)
        self.speakers = np.array([it.speaker for it in self.items], dtype=np.int64)
        self._cache: dict[int, np.ndarray] = {}

    def features(self, index: int) -> np.ndarray:
        """All log-mel frames of sample ``index`` (not cropped/padded), cached."""
        feats = self._cache.get(index)
        if feats is None:
            samples, rate = read_audio(self.items[index].path, expected_rate=self.sample_rate)
            feats = log_mel(samples, rate)
            self._cache[index] = feats
        return feats

    def frames(self, index: int) -> np.ndarray:
        return fit_frames(self.features(index), self.time_steps)

    def describe(self) -> dict:
        info = super().describe()
        info.update(layout=self.layout, sample_rate_hz=self.sample_rate)
        return info


def open_audio_dataset(data_dir: Path, layout: str, split: str, *, time_steps: int) -> AudioDataset:
    """Open ``split`` of an HD or SC folder (``layout`` from :func:`detect_layout`)."""
    if layout == HD:
        items = hd_items(data_dir, split)
        return AudioDataset(
            data_dir, items, HD_CLASS_NAMES, time_steps=time_steps,
            sample_rate=hd_expected_rate(data_dir, items), layout=HD,
        )
    if layout == SC:
        items, words = sc_items(data_dir, split)
        return AudioDataset(data_dir, items, words, time_steps=time_steps, sample_rate=SC_SAMPLE_RATE_HZ, layout=SC)
    raise ValueError(f"unknown audio layout {layout!r}")
