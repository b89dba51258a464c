"""Checks shared by every HDF5 reader: one schema check per format at load, one line per problem.

Every function raises :class:`~snn_deploy.errors.FormatError` with ``<file>: '<dataset or
attribute>' <what was found>, expected <what>``. Before a dataset is read, :func:`check_stored`
compares what it claims with what the file holds, so that a few kilobytes claiming 10^8 samples
(HDF5 returns the fill value for chunks that were never written) or data kept in other files
(external storage, virtual datasets) never reach an allocation; :func:`check_memory` then compares
the bytes a read would allocate with the memory available.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Iterable

import h5py
import numpy as np

from snn_deploy.errors import FormatError
from snn_deploy.memory import check_fits

#: numpy ``dtype.kind`` letters, and what a message calls them.
INTEGER = "iu"
NUMBER = "iuf"
KIND_NAMES = {"iu": "integers", "iuf": "numbers", "f": "floating-point numbers", "b": "booleans"}


def label(ds_or_name) -> str:
    name = ds_or_name.name if isinstance(ds_or_name, h5py.Dataset) else str(ds_or_name)
    return name.lstrip("/")


def require_dataset(group: h5py.Group, name: str, path: Path) -> h5py.Dataset:
    """``group[name]`` if it is a dataset; FormatError naming it otherwise."""
    item = group.get(name)
    if item is None:
        raise FormatError(f"{path}: missing dataset '{name}'")
    if not isinstance(item, h5py.Dataset):
        raise FormatError(f"{path}: '{name}' is a {type(item).__name__}, expected a dataset")
    return item


def check_stored(ds: h5py.Dataset, path: Path) -> None:
    """Refuse a dataset whose claimed elements are not all in this file.

    Contiguous data must occupy ``elements x element size`` bytes; chunked data must have every
    chunk written (a missing chunk reads as the fill value: data the file does not hold). Data in
    other files (external storage, virtual datasets) is refused: a file from outside must not make
    the reader open paths of its choosing.
    """
    dcpl = ds.id.get_create_plist()
    layout = dcpl.get_layout()
    if layout == h5py.h5d.VIRTUAL or dcpl.get_external_count() > 0:
        raise FormatError(f"{path}: '{label(ds)}' keeps its data in other files (virtual or external storage), "
                          "expected data stored in this file")
    if ds.size == 0:
        return
    if layout == h5py.h5d.CHUNKED:
        total = math.prod(math.ceil(s / c) for s, c in zip(ds.shape, ds.chunks))
        stored = ds.id.get_num_chunks()
        if stored < total:
            raise FormatError(f"{path}: '{label(ds)}' claims shape {ds.shape} but the file holds {stored} of its "
                              f"{total} chunks, expected every element stored")
    elif layout == h5py.h5d.CONTIGUOUS:
        claimed = ds.size * ds.id.get_type().get_size()
        stored = ds.id.get_storage_size()
        if stored < claimed:
            raise FormatError(f"{path}: '{label(ds)}' claims shape {ds.shape} ({claimed:,} bytes) but the file holds "
                              f"{stored:,} bytes of it, expected every element stored")


def memory_bytes(datasets: Iterable[h5py.Dataset]) -> int:
    """Bytes that reading ``datasets`` whole allocates (numpy dtypes; ragged data counts its references)."""
    return sum(ds.size * ds.dtype.itemsize for ds in datasets)


def check_memory(datasets: Iterable[h5py.Dataset], path: Path) -> None:
    """FormatError ("needs ~N GiB, M GiB available") unless reading ``datasets`` whole fits in memory."""
    check_fits(memory_bytes(datasets), f"{path}: reading its arrays", FormatError)


def check_array(ds: h5py.Dataset, path: Path, *, kinds: str, ndim: int | None = None) -> None:
    """``ds`` holds ``kinds`` (numpy kind letters) in ``ndim`` dimensions, all stored in the file."""
    if ds.dtype.kind not in kinds:
        raise FormatError(f"{path}: '{label(ds)}' holds {ds.dtype}, expected {KIND_NAMES.get(kinds, kinds)}")
    if ndim is not None and ds.ndim != ndim:
        raise FormatError(f"{path}: '{label(ds)}' has shape {ds.shape}, expected {ndim} dimension(s)")
    check_stored(ds, path)


def check_finite(values: np.ndarray, path: Path, name: str) -> None:
    """FormatError naming the first NaN/inf of ``values`` (floating point only)."""
    if values.dtype.kind == "f" and values.size and not np.isfinite(values).all():
        first = np.unravel_index(int(np.flatnonzero(~np.isfinite(values.reshape(-1)))[0]), values.shape)
        raise FormatError(f"{path}: '{name}' holds {values[first]} at {tuple(int(i) for i in first)}, "
                          "expected finite numbers")


def check_range(values: np.ndarray, path: Path, name: str, lo: float, hi: float) -> None:
    """FormatError naming the first value of ``values`` outside ``[lo, hi]``."""
    if not values.size:
        return
    bad = (values < lo) | (values > hi)
    if bad.any():
        first = np.unravel_index(int(np.flatnonzero(bad.reshape(-1))[0]), values.shape)
        raise FormatError(f"{path}: '{name}' holds {values[first]} at {tuple(int(i) for i in first)}, "
                          f"expected values in {lo}..{hi}")


def attr_int(attrs, key: str, path: Path, *, lo: int, hi: int, where: str = "") -> int:
    """Integer attribute ``key`` within ``[lo, hi]``; one line naming it otherwise."""
    name = f"{where}attribute '{key}'"
    if key not in attrs:
        raise FormatError(f"{path}: missing {name}")
    value = attrs[key]
    if isinstance(value, np.ndarray) and value.shape in ((), (1,)):
        value = value.reshape(-1)[0]
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise FormatError(f"{path}: {name} is {_show(value)}, expected an integer in {lo}..{hi}")
    if not lo <= int(value) <= hi:
        raise FormatError(f"{path}: {name} is {int(value)}, expected an integer in {lo}..{hi}")
    return int(value)


def attr_str(attrs, key: str, path: Path, *, where: str = "", default: str | None = None) -> str:
    """String attribute ``key`` (bytes decoded as UTF-8); one line naming it otherwise."""
    name = f"{where}attribute '{key}'"
    if key not in attrs:
        if default is not None:
            return default
        raise FormatError(f"{path}: missing {name}")
    value = attrs[key]
    if isinstance(value, (bytes, np.bytes_)):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            raise FormatError(f"{path}: {name} is not valid UTF-8 text") from None
    if not isinstance(value, str):
        raise FormatError(f"{path}: {name} is {_show(value)}, expected text")
    return value


def _show(value) -> str:
    text = repr(value.tolist() if isinstance(value, np.ndarray) else value)
    return text if len(text) <= 40 else text[:37] + "..."
