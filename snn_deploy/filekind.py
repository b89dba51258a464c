"""What a file is, told from its bytes alone, without running any library that can execute code.

Before a file a stranger may have made reaches a loader that can run code (``torch.load`` hands a
TorchScript archive to ``torch.jit.load``, whose ``__setstate__`` methods run while loading; a pickle
can call anything), the caller asks :func:`identify` what the file is and refuses what it does not
expect, in one line saying what the file is instead ("a TorchScript archive", "an HDF5 file",
"random bytes (no known format)").

Only these are used to look: the first bytes (magic numbers), :mod:`zipfile` for the member names
of a ZIP archive (it reads the central directory, it never unpickles) and :mod:`tarfile`'s header
check. Nothing here imports torch, h5py or pickle.

Kinds (``FileKind.name``):

============== ======================================================================
torch-zip       a ``torch.save`` ZIP archive: ``<dir>/data.pkl``, no code, no constants.pkl
torchscript     a ``torch.jit.save`` archive: ``<dir>/code/...`` or ``<dir>/constants.pkl``
zip             any other ZIP archive (also a NumPy ``.npz``)
pickle          a Python pickle of protocol 2-5 (also a legacy, pre-1.6 ``torch.save``)
tar             a tar archive (also torch's oldest, tar-based ``torch.save`` format)
hdf5            HDF5 (signature at offset 0 or at a user-block offset 512, 1024, ...)
npy, gzip,      other binary formats with a signature
wav, flac
onnx            protobuf bytes in a ``.onnx`` file (protobuf has no signature: by extension)
json, text      UTF-8 text (JSON when it starts with ``{`` or ``[``)
empty           0 bytes
unknown         none of the above: "random bytes (no known format)"
missing,        not a regular file
directory
============== ======================================================================
"""
from __future__ import annotations

import os
import tarfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

HEAD_BYTES = 4096
HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
#: an HDF5 superblock may follow a user block of 512 bytes times a power of two
HDF5_MAX_USER_BLOCK = 1 << 20
#: torch.load routes a ZIP holding this member (relative to its top folder) to torch.jit.load
TORCHSCRIPT_MARKER = "constants.pkl"

_SIGNATURES = (  # (prefix, kind, description)
    (b"\x93NUMPY", "npy", "a NumPy .npy array file"),
    (b"\x1f\x8b", "gzip", "a gzip-compressed file"),
    (b"fLaC", "flac", "a FLAC audio file"),
)


@dataclass(frozen=True)
class FileKind:
    """``name`` is the kind's key (table in the module docstring); ``description`` reads after "the file is"."""

    name: str
    description: str
    members: tuple[str, ...] = field(default=(), repr=False)  # ZIP member names, for the kinds that are ZIPs

    def __str__(self) -> str:
        return self.description


def identify(path: str | os.PathLike) -> FileKind:
    """What the file at ``path`` is (see the module docstring); never raises for an unreadable file."""
    path = Path(path)
    if not path.exists():
        return FileKind("missing", "missing (no such file)")
    if path.is_dir():
        return FileKind("directory", "a directory")
    if not path.is_file():
        return FileKind("special", "not a regular file")
    try:
        with open(path, "rb") as f:
            head = f.read(HEAD_BYTES)
    except OSError as exc:
        return FileKind("unreadable", f"unreadable ({exc.strerror or exc})")
    if not head:
        return FileKind("empty", "an empty file (0 bytes)")
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return _identify_zip(path)
    if _is_hdf5(path, head):
        return FileKind("hdf5", "an HDF5 file")
    if _is_tar(path):
        return FileKind("tar", "a tar archive")
    if len(head) >= 2 and head[0] == 0x80 and 2 <= head[1] <= 5:
        return FileKind("pickle", f"a Python pickle (protocol {head[1]})")
    if head.startswith(b"RIFF") and head[8:12] == b"WAVE":
        return FileKind("wav", "a WAV audio file")
    for prefix, name, description in _SIGNATURES:
        if head.startswith(prefix):
            return FileKind(name, description)
    if path.suffix.lower() == ".onnx" and head[:1] == b"\x08":  # field 1 (ir_version), varint
        return FileKind("onnx", "an ONNX model (protobuf)")
    text = _as_text(head)
    if text is not None:
        if text.lstrip().startswith(("{", "[")):
            return FileKind("json", "a JSON file")
        return FileKind("text", "a text file")
    return FileKind("unknown", "random bytes (no known format)")


def _identify_zip(path: Path) -> FileKind:
    try:
        with zipfile.ZipFile(path) as archive:
            members = tuple(archive.namelist())
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        return FileKind("zip", "a damaged ZIP archive")
    inner = [name.split("/", 1)[1] for name in members if "/" in name]
    if TORCHSCRIPT_MARKER in inner or any(name.startswith("code/") for name in inner):
        return FileKind("torchscript", "a TorchScript archive (it holds code)", members)
    if "data.pkl" in inner:
        return FileKind("torch-zip", "a torch.save archive", members)
    return FileKind("zip", "a ZIP archive", members)


def _is_hdf5(path: Path, head: bytes) -> bool:
    if head.startswith(HDF5_SIGNATURE):
        return True
    size = path.stat().st_size
    offset = 512
    with open(path, "rb") as f:
        while offset + len(HDF5_SIGNATURE) <= min(size, HDF5_MAX_USER_BLOCK):
            f.seek(offset)
            if f.read(len(HDF5_SIGNATURE)) == HDF5_SIGNATURE:
                return True
            offset *= 2
    return False


def _is_tar(path: Path) -> bool:
    try:
        return tarfile.is_tarfile(path)  # header checksums only
    except (OSError, ValueError, EOFError):
        return False


def _as_text(head: bytes) -> str | None:
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 4:  # not just a character cut at the end of the head
            return None
        text = head[: exc.start].decode("utf-8")
    if any(ch < " " and ch not in "\t\n\r\f" for ch in text):
        return None
    return text
