"""``snn-deploy data download``: fetch SHD, SSC, HD or Speech Commands from their official sites.

Sources:
- SHD, SSC, HD: the Zenke lab's data set site (Cramer et al. 2020), ``https://zenkelab.org/datasets/``
  (formerly compneuro.net/datasets/): ``shd_{train,test}.h5.gz``, ``ssc_{train,valid,test}.h5.gz``,
  ``hd_audio.tar.gz``, each checked against the site's ``md5sums.txt``.
- Speech Commands v0.02 (Warden 2018): ``http://download.tensorflow.org/data/speech_commands_v0.02.tar.gz``,
  checked against the SHA-256 that tensorflow-datasets and torchaudio publish for it.

Every download is resumable (an interrupted ``.<name>.part`` is continued with an HTTP Range request,
also after a dropped connection within one run), verified before it gets its final name, and
unpacked atomically: a ``.h5`` appears only whole; an archive's files are moved into place with the
split lists last, so a folder without them is not recognised as a data set.
"""
from __future__ import annotations

import gzip
import hashlib
import http.client
import json
import os
import shutil
import socket
import tarfile
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from snn_deploy.atomic import atomic_path, write_text_atomic
from snn_deploy.errors import FormatError, SnnDeployError

ZENKE_LAB_URL = "https://zenkelab.org/datasets/"
TENSORFLOW_DATA_URL = "http://download.tensorflow.org/data/"
MD5SUMS = "md5sums.txt"
CHUNK_BYTES = 1 << 20
DEFAULT_RETRIES = 5
DEFAULT_TIMEOUT_S = 60.0
#: Files that make an unpacked folder recognisable as a data set; moved into place last.
LAYOUT_MARKERS = ("train_filenames.txt", "test_filenames.txt", "validation_list.txt", "testing_list.txt")


@dataclass(frozen=True)
class RemoteFile:
    name: str  # file name under the base URL
    unpack: str  # "gunzip" (x.h5.gz -> x.h5) or "untar" (extract into the data directory)


@dataclass(frozen=True)
class DatasetSource:
    key: str
    base_url: str
    files: tuple[RemoteFile, ...]
    checksum_file: str | None = MD5SUMS  # fetched from base_url, "<md5>  <name>" lines
    checksums: dict[str, tuple[str, str]] = field(default_factory=dict)  # name -> (algorithm, hex)


SOURCES = {
    "shd": DatasetSource("shd", ZENKE_LAB_URL, (RemoteFile("shd_train.h5.gz", "gunzip"), RemoteFile("shd_test.h5.gz", "gunzip"))),
    "ssc": DatasetSource(
        "ssc", ZENKE_LAB_URL,
        tuple(RemoteFile(f"ssc_{s}.h5.gz", "gunzip") for s in ("train", "valid", "test")),
    ),
    "hd": DatasetSource("hd", ZENKE_LAB_URL, (RemoteFile("hd_audio.tar.gz", "untar"),)),
    "sc": DatasetSource(
        "sc", TENSORFLOW_DATA_URL, (RemoteFile("speech_commands_v0.02.tar.gz", "untar"),), checksum_file=None,
        checksums={"speech_commands_v0.02.tar.gz": (
            "sha256", "af14739ee7dc311471de98f5f9d2c9191b18aedfe957f4a6ff791c709868ff58")},
    ),
}


def _url(base: str, name: str) -> str:
    return base.rstrip("/") + "/" + name


def parse_checksum_list(text: str, source: str) -> dict[str, str]:
    """``md5sum`` output (``<hex>  [*]<path>`` per line) -> {file name: hex}."""
    sums = {}
    for line_no, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split(None, 1)
        if len(parts) != 2 or not all(c in "0123456789abcdefABCDEF" for c in parts[0]):
            raise FormatError(f"{source}:{line_no}: expected '<md5>  <file name>', got {line!r}")
        sums[Path(parts[1].lstrip("*").strip()).name] = parts[0].lower()
    return sums


def file_digest(path: Path, algorithm: str) -> str:
    h = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(CHUNK_BYTES), b""):
            h.update(chunk)
    return h.hexdigest()


def _open(url: str, offset: int, timeout: float):
    req = urllib.request.Request(url, headers={"User-Agent": "snn-deploy"})
    if offset:
        req.add_header("Range", f"bytes={offset}-")
    return urllib.request.urlopen(req, timeout=timeout)


def fetch(
    url: str,
    dest: Path,
    *,
    checksum: tuple[str, str],
    retries: int = DEFAULT_RETRIES,
    timeout: float = DEFAULT_TIMEOUT_S,
    progress: bool = True,
) -> dict:
    """Download ``url`` to ``dest``, resuming ``.<name>.part``, verifying ``checksum`` = (algorithm, hex).

    Returns a record ``{url, path, bytes, algorithm, digest, resumed_from, attempts}``. Raises
    :class:`SnnDeployError` after ``retries`` failed attempts or on a checksum mismatch (the bad
    partial file is removed so that the next run starts clean).
    """
    from snn_deploy.log import progress_bar

    dest = Path(dest)
    algorithm, expected = checksum
    part = dest.with_name(f".{dest.name}.part")
    dest.parent.mkdir(parents=True, exist_ok=True)
    resumed_from = part.stat().st_size if part.exists() else 0
    attempts = 0
    last_error: Exception | None = None
    while True:
        attempts += 1
        if attempts > retries + 1:
            raise SnnDeployError(
                f"download of {url} failed after {attempts - 1} attempts ({last_error}); "
                f"{part.stat().st_size if part.exists() else 0} bytes kept in {part}, run again to resume"
            )
        offset = part.stat().st_size if part.exists() else 0
        try:
            with _open(url, offset, timeout) as resp:
                status = getattr(resp, "status", 200)
                length = resp.headers.get("Content-Length")
                if offset and status != 206:  # server ignored the Range request: start over
                    offset = 0
                total = offset + int(length) if length is not None else None
                mode = "ab" if offset else "wb"
                with open(part, mode) as out, progress_bar(
                    total, dest.name, enabled=progress, initial=offset, unit="B", unit_scale=True, leave=False,
                ) as bar:
                    while True:
                        chunk = resp.read(CHUNK_BYTES)
                        if not chunk:
                            break
                        out.write(chunk)
                        bar.update(len(chunk))
                size = part.stat().st_size
                if total is not None and size < total:
                    raise http.client.IncompleteRead(b"", total - size)
            break
        except urllib.error.HTTPError as exc:
            if exc.code == 416 and offset:  # nothing left to fetch: the part is already whole
                break
            if exc.code in (404, 403, 401, 410):
                raise SnnDeployError(f"download of {url} failed: HTTP {exc.code} {exc.reason}") from None
            last_error = exc
        except (urllib.error.URLError, http.client.HTTPException, ConnectionError, socket.timeout, TimeoutError) as exc:
            last_error = exc
        time.sleep(min(0.2 * attempts, 2.0))
    digest = file_digest(part, algorithm)
    if digest != expected.lower():
        part.unlink()
        raise SnnDeployError(
            f"checksum mismatch for {url}: expected {algorithm} {expected}, got {digest}; "
            "the corrupt download was removed, run again"
        )
    os.replace(part, dest)
    return {"url": url, "path": str(dest), "bytes": dest.stat().st_size, "algorithm": algorithm,
            "digest": digest, "resumed_from": resumed_from, "attempts": attempts}


def gunzip(archive: Path, target: Path) -> Path:
    """Decompress ``x.gz`` into ``target`` atomically; a truncated archive raises FormatError."""
    try:
        with gzip.open(archive, "rb") as src, atomic_path(target) as tmp, open(tmp, "wb") as out:
            shutil.copyfileobj(src, out, CHUNK_BYTES)
    except (OSError, EOFError) as exc:
        raise FormatError(f"{archive}: cannot decompress ({exc})") from None
    return target


def _check_member(member: tarfile.TarInfo, archive: Path) -> None:
    name = Path(member.name)
    if name.is_absolute() or ".." in name.parts or member.issym() or member.islnk() or member.isdev():
        raise FormatError(f"{archive}: unsafe archive member '{member.name}' (absolute path, '..' or link)")


def untar(archive: Path, target_dir: Path) -> list[str]:
    """Extract ``archive`` into ``target_dir``; layout marker files (split lists) are moved in last.

    A single top-level folder in the archive (other than ``audio/``) is unwrapped. Returns the
    top-level names placed.
    """
    target_dir.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{archive.name}.", suffix=".tmp", dir=target_dir))
    try:
        try:
            with tarfile.open(archive, "r:*") as tar:
                members = tar.getmembers()
                for m in members:
                    _check_member(m, archive)
                tar.extractall(tmp, members=members)
        except (tarfile.TarError, EOFError, OSError) as exc:
            raise FormatError(f"{archive}: cannot extract ({exc})") from None
        root = tmp
        entries = [p for p in root.iterdir() if not p.name.startswith("._")]
        if len(entries) == 1 and entries[0].is_dir() and entries[0].name != "audio":
            root = entries[0]  # e.g. hd_audio/... : unwrap the single top-level folder
        ordered = sorted(root.iterdir(), key=lambda p: (p.name in LAYOUT_MARKERS, p.is_file(), p.name))
        placed = []
        for src in ordered:
            dst = target_dir / src.name
            if dst.exists():
                shutil.rmtree(dst) if dst.is_dir() else dst.unlink()
            os.replace(src, dst)
            placed.append(src.name)
        return placed
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def unpacked_target(data_dir: Path, remote: RemoteFile) -> Path:
    """The path whose presence means ``remote`` was already downloaded and unpacked."""
    if remote.unpack == "gunzip":
        return data_dir / remote.name[: -len(".gz")]
    return data_dir / f".{remote.name}.done"


def download_dataset(
    key: str,
    data_dir: str | os.PathLike,
    *,
    base_url: str | None = None,
    checksums: dict[str, tuple[str, str]] | None = None,
    keep_archives: bool = False,
    retries: int = DEFAULT_RETRIES,
    timeout: float = DEFAULT_TIMEOUT_S,
    progress: bool = True,
) -> dict:
    """Download and unpack data set ``key`` ("shd", "ssc", "hd", "sc") into ``data_dir``.

    ``base_url`` replaces the official location (mirrors, tests); ``checksums`` ({name: (algorithm,
    hex)}) replaces the built-in/published ones. Files already unpacked are skipped. Writes
    ``data_dir/download.json`` and returns the same record.
    """
    if key not in SOURCES:
        raise SnnDeployError(f"unknown data set '{key}': expected one of {', '.join(SOURCES)}")
    source = SOURCES[key]
    base = base_url or source.base_url
    data_dir = Path(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    table = dict(source.checksums)
    if checksums:
        table.update(checksums)
    elif source.checksum_file:
        sums_path = data_dir / f".{key}.{source.checksum_file}"
        url = _url(base, source.checksum_file)
        try:
            with _open(url, 0, timeout) as resp:
                text = resp.read().decode("utf-8", "replace")
        except (urllib.error.URLError, http.client.HTTPException, ConnectionError, socket.timeout, TimeoutError) as exc:
            raise SnnDeployError(f"cannot fetch the checksum list {url}: {exc}") from None
        write_text_atomic(sums_path, text)
        table.update({name: ("md5", digest) for name, digest in parse_checksum_list(text, url).items()})
    record = {"dataset": key, "base_url": base, "dir": str(data_dir), "files": []}
    for remote in source.files:
        done = unpacked_target(data_dir, remote)
        if done.exists():
            record["files"].append({"name": remote.name, "skipped": "already unpacked", "path": str(done)})
            continue
        if remote.name not in table:
            raise SnnDeployError(f"no published checksum for {remote.name} (looked in {_url(base, source.checksum_file or '')})")
        archive = data_dir / remote.name
        if archive.exists():
            info = {"url": _url(base, remote.name), "path": str(archive), "reused": True}
        else:
            info = fetch(_url(base, remote.name), archive, checksum=table[remote.name], retries=retries,
                         timeout=timeout, progress=progress)
        if remote.unpack == "gunzip":
            gunzip(archive, done)
            info["unpacked"] = str(done)
        else:
            info["unpacked"] = untar(archive, data_dir)
            write_text_atomic(done, json.dumps({"archive": remote.name}))
        if not keep_archives:
            archive.unlink()
        record["files"].append(info)
    write_text_atomic(data_dir / "download.json", json.dumps(record, indent=2))
    return record
