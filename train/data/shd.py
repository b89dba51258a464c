"""The SHD/SSC HDF5 layout (Cramer et al. 2020, "The Heidelberg spiking data sets"): read, validate, write.

Published layout (one file per split, e.g. ``shd_train.h5``, ``ssc_valid.h5``)::

    spikes/times[]   vlen float, spike times in seconds, one ragged array per sample
    spikes/units[]   vlen uint16, channel (cochlear fibre) of each spike, 0..699
    labels[]         uint16, class index per sample
    extra/speaker[]  uint16, speaker id per sample
    extra/keys[]     str, class index -> word ("zero", ..., "neun" for SHD; 35 words for SSC)
    extra/meta_info/ gender[], age[], body_height[] (SHD only; copied from HD's speaker_db.json)

Files written here add one optional attribute, ``spikes.attrs["num_channels"]``, that readers of
the published files ignore; without it the channel count is SHD/SSC's 700.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

import h5py
import numpy as np

from snn_deploy import h5schema as schema
from snn_deploy.atomic import atomic_path
from snn_deploy.errors import FormatError
from snn_deploy.memory import check_fits

from snn_deploy.train.data.binning import DEFAULT_DURATION_S, DEFAULT_TIME_STEPS, bin_spikes
from snn_deploy.train.data.dataset import SpeechDataset

#: Channels of the published SHD/SSC files (700 basilar-membrane positions / hair cells).
SHD_NUM_CHANNELS = 700
TIMES = "spikes/times"
UNITS = "spikes/units"
LABELS = "labels"
SPEAKER = "extra/speaker"
KEYS = "extra/keys"
META_INFO = "extra/meta_info"
NUM_CHANNELS_ATTR = "num_channels"


@dataclass
class SpikeRecords:
    """All samples of one SHD-layout file, the ragged arrays flattened once.

    Spikes of sample ``i`` are ``times[offsets[i]:offsets[i+1]]`` (seconds) and the same slice of
    ``units``.
    """

    path: Path
    times: np.ndarray  # float32 or float64, flat
    units: np.ndarray  # uint16 (or wider int), flat
    offsets: np.ndarray  # int64, len = samples + 1
    labels: np.ndarray  # int64
    class_names: list[str]
    num_channels: int
    speakers: np.ndarray | None = None  # int64, or None when the file has no extra/speaker

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def sample(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        lo, hi = self.offsets[index], self.offsets[index + 1]
        return self.times[lo:hi], self.units[lo:hi]


def _decode(value) -> str:
    return value.decode("utf-8") if isinstance(value, (bytes, np.bytes_)) else str(value)


#: Samples read from a ragged dataset at a time: memory stays that of the flat arrays, not of one
#: numpy object per sample (``ds[()]`` on SSC's 75k samples allocates 75k arrays at once).
READ_CHUNK = 4096
#: Channel counts a file may declare: units are stored as uint16.
MAX_NUM_CHANNELS = 65536


def _ragged(f: h5py.File, name: str, path: Path, kinds: str, expected: str) -> h5py.Dataset:
    """The ragged dataset ``name``, checked: 1-D, variable-length of ``kinds``, stored in the file."""
    if name not in f:
        raise FormatError(f"{path}: missing dataset '{name}' (not an SHD/SSC-layout spike file)")
    ds = schema.require_dataset(f, name, path)
    if ds.ndim != 1:
        raise FormatError(f"{path}: '{name}' must be one ragged array per sample (1-D), got shape {ds.shape}")
    base = h5py.check_vlen_dtype(ds.dtype)
    if base is None:  # a plain 2-D/1-D numeric array is not the published layout
        raise FormatError(f"{path}: '{name}' must be a variable-length (ragged) dataset, got dtype {ds.dtype}")
    if np.dtype(base).kind not in kinds:
        found = "text" if h5py.check_string_dtype(np.dtype(base)) is not None else np.dtype(base)
        raise FormatError(f"{path}: '{name}' holds ragged {found}, expected {expected}")
    schema.check_stored(ds, path)
    return ds


def _read_flat(ds: h5py.Dataset, dtype) -> tuple[np.ndarray, np.ndarray]:
    """A ragged dataset as one flat array and sample offsets, read :data:`READ_CHUNK` samples at a time."""
    n = ds.shape[0]
    offsets = np.zeros(n + 1, dtype=np.int64)
    parts = []
    for lo in range(0, n, READ_CHUNK):
        block = ds[lo:lo + READ_CHUNK]
        offsets[lo + 1:lo + 1 + len(block)] = [len(a) for a in block]
        parts += [np.concatenate(block).astype(dtype, copy=False)] if len(block) else []
    np.cumsum(offsets, out=offsets)
    flat = np.concatenate(parts).astype(dtype, copy=False) if parts else np.zeros(0, dtype)
    return flat, offsets


def _check_fits(path: Path, times: h5py.Dataset, units: h5py.Dataset, n: int, times_dtype) -> None:
    """The flat arrays' memory: spikes are bounded by the file size over the bytes one spike takes in it."""
    on_disk = np.dtype(h5py.check_vlen_dtype(times.dtype)).itemsize + np.dtype(h5py.check_vlen_dtype(units.dtype)).itemsize
    max_spikes = path.stat().st_size // max(on_disk, 1)
    check_fits(max_spikes * (np.dtype(times_dtype).itemsize + 8 + 2) + 4 * 8 * n,
               f"{path}: reading {n} samples", FormatError)


def read_spike_file(path: str | os.PathLike, *, num_channels: int | None = None,
                    allow_negative_times: bool = False) -> SpikeRecords:
    """Read and validate an SHD-layout file; every problem raises :class:`FormatError` naming the file.

    Schema: ``spikes/times`` ragged floats (seconds, finite, >= 0), ``spikes/units`` ragged
    integers in ``0..num_channels-1`` with as many entries per sample, ``labels`` 1-D integers
    indexing ``extra/keys``, optional ``extra/speaker`` (one per sample), optional
    ``spikes.attrs['num_channels']`` integer in 1..65536. Every dataset is checked to be stored in
    the file and to fit in memory before it is read.

    A spike at a negative time has no meaning (times count from the start of the recording) and
    binning would drop it without a word, so such a file is refused; ``allow_negative_times``
    (``snn-deploy data info``) reads it anyway, so that the spikes can be counted and reported.
    """
    path = Path(path)
    if not path.is_file():
        raise FormatError(f"{path}: no such spike file")
    try:
        f = h5py.File(path, "r")
    except OSError as exc:
        raise FormatError(f"{path}: not a readable HDF5 file (truncated or corrupt?): {exc}") from None
    try:
        with f:
            return _read_open(f, path, num_channels, allow_negative_times)
    except (OSError, RuntimeError, KeyError, ValueError) as exc:  # h5py reports truncated data blocks this way
        raise FormatError(f"{path}: cannot read the data (truncated or corrupt file?): {exc}") from None


def _read_open(f: h5py.File, path: Path, num_channels: int | None, allow_negative_times: bool) -> SpikeRecords:
    times_ds = _ragged(f, TIMES, path, "f", "floating-point spike times in seconds")
    units_ds = _ragged(f, UNITS, path, schema.INTEGER, "integer channel indices")
    if LABELS not in f:
        raise FormatError(f"{path}: missing dataset '{LABELS}'")
    labels_ds = schema.require_dataset(f, LABELS, path)
    if labels_ds.ndim != 1 or labels_ds.dtype.kind not in schema.INTEGER:
        raise FormatError(f"{path}: '{LABELS}' must be a 1-D integer array, got {labels_ds.dtype} {labels_ds.shape}")
    schema.check_stored(labels_ds, path)
    n = labels_ds.shape[0]
    if not times_ds.shape[0] == units_ds.shape[0] == n:
        raise FormatError(
            f"{path}: sample counts disagree: {times_ds.shape[0]} in '{TIMES}', {units_ds.shape[0]} in '{UNITS}', {n} in '{LABELS}'"
        )
    if num_channels is None:
        spikes_attrs = f["spikes"].attrs
        num_channels = SHD_NUM_CHANNELS
        if NUM_CHANNELS_ATTR in spikes_attrs:
            num_channels = schema.attr_int(spikes_attrs, NUM_CHANNELS_ATTR, path, lo=1, hi=MAX_NUM_CHANNELS,
                                           where="'spikes' ")
    times_dtype = np.float64 if np.dtype(h5py.check_vlen_dtype(times_ds.dtype)) == np.float64 else np.float32
    _check_fits(path, times_ds, units_ds, n, times_dtype)
    labels_raw = labels_ds[()]
    times, offsets = _read_flat(times_ds, times_dtype)
    units, unit_offsets = _read_flat(units_ds, np.int64)
    if not np.array_equal(offsets, unit_offsets):
        bad = int(np.flatnonzero(np.diff(offsets) != np.diff(unit_offsets))[0])
        raise FormatError(
            f"{path}: sample {bad} has {offsets[bad + 1] - offsets[bad]} spike times but "
            f"{unit_offsets[bad + 1] - unit_offsets[bad]} units"
        )
    if not np.all(np.isfinite(times)):
        raise FormatError(f"{path}: '{TIMES}' contains NaN or infinite spike times")
    negative = np.flatnonzero(times < 0)
    if len(negative) and not allow_negative_times:
        sample = int(np.searchsorted(offsets, negative[0], side="right") - 1)
        raise FormatError(
            f"{path}: '{TIMES}' holds {len(negative)} negative spike times (first {times[negative[0]]:g} s in sample "
            f"{sample}), expected seconds >= 0 from the start of each recording")

    if len(units) and (units.min() < 0 or units.max() >= num_channels):
        raise FormatError(
            f"{path}: '{UNITS}' holds channel {int(units.max()) if units.max() >= num_channels else int(units.min())}, "
            f"expected 0..{num_channels - 1}"
        )
    units = units.astype(np.uint16 if num_channels <= 65536 else np.int64)

    if KEYS in f:
        keys_ds = schema.require_dataset(f, KEYS, path)
        schema.check_array(keys_ds, path, kinds="SUO", ndim=1)
        schema.check_memory([keys_ds], path)
        class_names = [_decode(k) for k in keys_ds[()]]
    else:
        class_names = [str(i) for i in range(int(labels_raw.max()) + 1 if n else 0)]
    labels = labels_raw.astype(np.int64)
    if n and (labels.min() < 0 or labels.max() >= len(class_names)):
        bad = int(np.flatnonzero((labels < 0) | (labels >= len(class_names)))[0])
        raise FormatError(
            f"{path}: label {labels[bad]} of sample {bad} is out of range: '{KEYS}' names {len(class_names)} classes"
        )
    speakers = None
    if SPEAKER in f:
        speaker_ds = schema.require_dataset(f, SPEAKER, path)
        schema.check_array(speaker_ds, path, kinds=schema.INTEGER, ndim=1)
        if speaker_ds.shape[0] != n:
            raise FormatError(f"{path}: '{SPEAKER}' has {speaker_ds.shape[0]} entries for {n} samples")
        speakers = speaker_ds[()].astype(np.int64)
    return SpikeRecords(path, times, units, offsets, labels, class_names, num_channels, speakers)


def write_spike_file(
    path: str | os.PathLike,
    times: Sequence[np.ndarray],
    units: Sequence[np.ndarray],
    labels: Sequence[int],
    *,
    class_names: Sequence[str],
    speakers: Sequence[int] | None = None,
    num_channels: int = SHD_NUM_CHANNELS,
    meta_info: Mapping[str, Sequence] | None = None,
    times_dtype=np.float32,
    attrs: Mapping[str, object] | None = None,
) -> Path:
    """Write samples in the published SHD/SSC layout, atomically; returns ``path``.

    ``times[i]`` (seconds) and ``units[i]`` (channels) are the spikes of sample ``i``; ``labels[i]``
    indexes ``class_names`` (stored as ``extra/keys``). ``meta_info`` maps field name (e.g. ``gender``)
    to one value per speaker. The file is byte-for-byte reproducible (no timestamps stored).
    """
    path = Path(path)
    labels = np.asarray(labels, dtype=np.int64)
    n = len(labels)
    if not len(times) == len(units) == n:
        raise ValueError(f"{path}: {len(times)} time arrays, {len(units)} unit arrays, {n} labels")
    if n and (labels.min() < 0 or labels.max() >= len(class_names)):
        raise ValueError(f"{path}: labels must be in 0..{len(class_names) - 1}")
    for i, (t, u) in enumerate(zip(times, units)):
        if len(t) != len(u):
            raise ValueError(f"{path}: sample {i} has {len(t)} times but {len(u)} units")
        if len(u) and (np.min(u) < 0 or np.max(u) >= num_channels):
            raise ValueError(f"{path}: sample {i} has a unit outside 0..{num_channels - 1}")
    with atomic_path(path) as tmp:
        with h5py.File(tmp, "w", track_order=False) as f:
            opts = dict(track_times=False)
            spikes = f.create_group("spikes")
            spikes.attrs[NUM_CHANNELS_ATTR] = np.int64(num_channels)
            t_ds = spikes.create_dataset("times", (n,), dtype=h5py.vlen_dtype(np.dtype(times_dtype)), **opts)
            u_ds = spikes.create_dataset("units", (n,), dtype=h5py.vlen_dtype(np.dtype(np.uint16)), **opts)
            for i in range(n):
                t_ds[i] = np.asarray(times[i], dtype=times_dtype)
                u_ds[i] = np.asarray(units[i], dtype=np.uint16)
            f.create_dataset(LABELS, data=labels.astype(np.uint16), **opts)
            extra = f.create_group("extra")
            spk = np.zeros(n, np.int64) if speakers is None else np.asarray(speakers, dtype=np.int64)
            extra.create_dataset("speaker", data=spk.astype(np.uint16), **opts)
            extra.create_dataset("keys", data=[str(c) for c in class_names], dtype=h5py.string_dtype("utf-8"), **opts)
            if meta_info:
                meta = extra.create_group("meta_info")
                for key in sorted(meta_info):
                    values = list(meta_info[key])
                    if values and isinstance(values[0], str):
                        meta.create_dataset(key, data=values, dtype=h5py.string_dtype("utf-8"), **opts)
                    else:
                        meta.create_dataset(key, data=np.asarray(values), **opts)
            for key, value in (attrs or {}).items():
                f.attrs[key] = value
    return path


class SpikeDataset(SpeechDataset):
    """SHD/SSC-layout samples binned into ``[time_steps, num_channels]`` spike counts on access.

    The ragged arrays are read once (:func:`read_spike_file`); ``__getitem__`` bins one sample with
    numpy (:func:`~.binning.bin_spikes`); :meth:`batch` bins straight into one preallocated array.
    """

    input_kind = "spikes"

    def __init__(
        self,
        records: SpikeRecords,
        *,
        time_steps: int = DEFAULT_TIME_STEPS,
        duration: float = DEFAULT_DURATION_S,
        binary: bool = False,
    ):
        if time_steps < 1:
            raise ValueError(f"time_steps must be >= 1, got {time_steps}")
        if not duration > 0:
            raise ValueError(f"duration must be > 0 seconds, got {duration}")
        self.records = records
        self.path = records.path
        self.time_steps = int(time_steps)
        self.duration = float(duration)
        self.binary = bool(binary)
        self.num_channels = records.num_channels
        self.class_names = list(records.class_names)
        self.num_classes = len(self.class_names)
        self.labels = records.labels
        self.speakers = records.speakers
        self.check_frames_fit(1)

    def frames(self, index: int) -> np.ndarray:
        t, u = self.records.sample(index)
        return bin_spikes(
            t, u, time_steps=self.time_steps, duration=self.duration,
            num_channels=self.num_channels, binary=self.binary,
        )

    def frames_batch(self, indices) -> np.ndarray:
        idx = np.asarray(indices, dtype=np.int64)
        self.check_frames_fit(len(idx))
        out = np.empty((len(idx), self.time_steps, self.num_channels), np.float32)
        for row, i in enumerate(idx):
            t, u = self.records.sample(int(i))
            bin_spikes(
                t, u, time_steps=self.time_steps, duration=self.duration,
                num_channels=self.num_channels, binary=self.binary, out=out[row],
            )
        return out

    def describe(self) -> dict:
        info = super().describe()
        lengths = np.diff(self.records.offsets)
        times = self.records.times
        info.update(
            duration_s=self.duration,
            binary=self.binary,
            spikes_total=int(lengths.sum()),
            spikes_per_sample_mean=float(lengths.mean()) if len(lengths) else 0.0,
            last_spike_s_max=float(times.max()) if len(times) else 0.0,
            spikes_beyond_duration=int(np.count_nonzero(times >= self.duration)),
            speakers=sorted({int(s) for s in self.speakers}) if self.speakers is not None else None,
        )
        return info
