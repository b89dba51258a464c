"""Output directories: what a command may replace, how it commits its files, and who holds the directory.

Every command that writes into a directory (``train -o``, ``convert -o``, ``run [--output]``,
``energy -o``, ``data synth-digits -o``) goes through :func:`output_dir`, which gives three guarantees:

**Ownership.** A command replaces only files it wrote. What it wrote is listed in its manifest
``DIR/.snn-deploy-<command>.json`` (file names with their sha256). Before anything is computed, and
again at the commit:

- ``DIR`` that exists and is not a directory is an error naming it (even with ``--force``: it is a
  file of the user's, and a directory cannot take its place without deleting it);
- a non-empty ``DIR`` that holds neither this command's manifest nor the manifest of a command
  whose directory this one is meant to share (``run`` writes into ``convert``'s OUT) is foreign: an
  error naming it, unless ``--force``;
- a file (or link, or directory) at one of the set's names that is not in this command's manifest is
  foreign: an error naming it, unless ``--force`` (then that name, and nothing else, is replaced).

Nothing else in ``DIR`` is touched, and no directory is removed that the command did not create.
A single output file (``export -o``, ``eval --json``) is replaced only if its content shows that the
same command wrote it (:func:`check_output_file`), or with ``--force``; it is written atomically.

**Whole-set commit (a journal in the directory).** The files are written into the staging
directory ``DIR/.snn-deploy-<command>.tmp/`` with the new manifest. The commit point is ONE rename
of the staging directory to ``DIR/.snn-deploy-<command>.new/`` (the journal). After it, the
journal is rolled forward: each file is renamed onto its name in ``DIR`` (a directory in the set is
first moved into ``.snn-deploy-<command>.old/``), names of the old set that the new one lacks are
removed (they are ours, by the old manifest), the manifest is renamed in last and the journal
removed. A command killed before the commit point leaves the old set whole (its ``.tmp`` is deleted
by the next command on ``DIR``); killed after it, the old set is already gone for good and the next
command on ``DIR``, writer or reader (:func:`settle`), finishes the roll-forward under the lock
before it reads anything, so no command ever reads a mix of two sets. We chose the journal over
switching a whole directory in by one rename because these directories are shared (convert's OUT
later holds run's activity.h5 and energy's report; a train run directory holds convert's OUT):
renaming DIR would move other commands' files, and DIR itself may be the user's working directory.

**Lock.** :func:`lock` holds ``fcntl.flock`` on ``DIR/.snn-deploy.lock`` (which names the command
and its PID) for the whole command; a second command on the same directory fails at once with
``DIR: in use by snn-deploy train (PID 1234); ...``. The kernel drops the lock when its process
dies, so the lock file left by a killed command never blocks anyone. A command that ends removes the
lock file before letting go of it, and a locker checks that the file it locked is still the one at
the path (else it tries again), so two commands can never both hold a directory.
Within one process the lock is re-entrant (the CLI and the function it calls may both take it).
"""
from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import json
import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator

from snn_deploy.errors import SnnDeployError

LOCK_FILE = ".snn-deploy.lock"
PREFIX = ".snn-deploy-"
MANIFEST_SUFFIX, STAGE_SUFFIX, JOURNAL_SUFFIX, TRASH_SUFFIX = ".json", ".tmp", ".new", ".old"

#: realpaths of the directories this process holds (a nested lock of one of them is a no-op)
_held: set[str] = set()


def manifest_path(directory: Path, command: str) -> Path:
    return Path(directory) / f"{PREFIX}{command}{MANIFEST_SUFFIX}"


#: What a command's name may be (it becomes part of the hidden file names).
COMMAND_NAME = re.compile(r"[a-z][a-z0-9-]*")


def read_manifest(directory: Path, command: str) -> dict[str, str]:
    """``{name: sha256}`` of the set ``command`` last committed in ``directory`` ({} if none)."""
    path = manifest_path(directory, command)
    try:
        return _load_manifest(path, command, journal=False)
    except FileNotFoundError:
        return {}


def _load_manifest(path: Path, command: str, journal: bool) -> dict[str, str]:
    """A manifest file's checked ``{name: digest}``. A committed one without a ``files`` mapping is an
    empty set; a journal's must have one (its names are moved in, and the old set's others removed)."""
    try:
        data = json.loads(path.read_text())
        files = dict(data["files"]) if journal else data.get("files", {})
    except (OSError, ValueError, AttributeError, KeyError, TypeError) as exc:
        if isinstance(exc, FileNotFoundError) and not journal:
            raise                                   # no committed set: read_manifest's {}
        raise SnnDeployError(f"{path}: unreadable manifest of snn-deploy {command} ({exc})") from None
    return _checked_names(files, path) if isinstance(files, dict) else {}


def _checked_names(files: dict, source: Path) -> dict[str, str]:
    """A manifest's ``{name: digest}``, every name one plain entry of its own directory: a manifest is a
    file anyone may have put there, and its names decide what is moved and removed."""
    for name in files:
        if (not isinstance(name, str) or name in ("", ".", "..") or name.startswith(".")
                or name != os.path.basename(name) or any(c in name for c in "/\\\0")):
            raise SnnDeployError(f"{source}: manifest names {name!r}, which is not a file of this directory; "
                                 "remove the manifest if snn-deploy did not write it")
    return {str(k): str(v) for k, v in files.items()}


def _visible(directory: Path) -> list[str]:
    return sorted(name for name in os.listdir(directory) if not name.startswith("."))


def _manifests(directory: Path) -> set[str]:
    """Commands whose manifest is in ``directory``."""
    return {name[len(PREFIX):-len(MANIFEST_SUFFIX)] for name in os.listdir(directory)
            if name.startswith(PREFIX) and name.endswith(MANIFEST_SUFFIX)}


def check_output_dir(directory: Path, command: str, *, shares_with: Iterable[str] | None = (), force: bool = False,
                     names: Iterable[str] = ()) -> None:
    """Raise unless ``command`` may write the set ``names`` into ``directory`` (see the module docstring).

    ``shares_with=None``: any directory will do (``run`` writes beside the network it reads, even in a
    directory made by hand); the names of the set are still checked.
    """
    directory = Path(directory)
    if not os.path.lexists(directory):
        return
    if not directory.is_dir():
        dangling = directory.is_symlink() and not directory.exists()
        what = "a symbolic link that leads nowhere (dangling, or a loop)" if dangling else "not a directory"
        raise SnnDeployError(f"{directory}: exists and is {what}; give a directory for the output")
    if force:
        return
    visible = _visible(directory)
    if visible and shares_with is not None and not {command, *shares_with} & _manifests(directory):
        shown = ", ".join(visible[:4]) + (", ..." if len(visible) > 4 else "")
        raise SnnDeployError(f"{directory}: not empty ({shown}) and not written by snn-deploy {command}; "
                             "choose another output directory, or --force to write beside those files")
    ours = read_manifest(directory, command)
    for name in names:
        if os.path.lexists(directory / name) and name not in ours:
            raise SnnDeployError(f"{directory / name}: exists and was not written by snn-deploy {command}; "
                                 "move it away, or --force to replace it")


def check_output_file(path: str | os.PathLike, command: str, *, force: bool = False,
                      ours: Callable[[Path], bool] = lambda _path: False) -> None:
    """Raise unless ``command`` may write the single file ``path``: absent, or a file ``ours`` recognises
    as one this command writes (by its content), or ``force``. A directory is never replaced."""
    path = Path(path)
    if not os.path.lexists(path):
        return
    if path.is_dir():
        raise SnnDeployError(f"{path}: is a directory; give a file name for the output")
    if not path.is_file() and not force:
        raise SnnDeployError(f"{path}: exists and is not a regular file (a symbolic link that leads nowhere, or a "
                             "device); give another output file, or --force to replace it")
    if not force and not ours(path):
        raise SnnDeployError(f"{path}: exists and was not written by snn-deploy {command}; move it away, or --force "
                             "to replace it")


@contextlib.contextmanager
def lock(directory: Path, command: str) -> Iterator[None]:
    """Hold ``directory`` (created if missing) for ``command``; fail at once if another process holds it."""
    directory = Path(directory)
    created = _missing_directories(directory)
    if not created and not directory.is_dir():
        check_output_dir(directory, command)  # names what is there instead of a directory
    directory.mkdir(parents=True, exist_ok=True)
    key = os.path.realpath(directory)
    if key in _held:
        yield
        return
    path = directory / LOCK_FILE
    fd = _open_locked(path, directory)
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()} {command}\n".encode())
    _held.add(key)
    try:
        yield
    finally:
        _held.discard(key)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)  # while still holding it: see _open_locked
        os.close(fd)
        for made in created:  # a failed command leaves no empty directory behind, parents it made included
            if os.listdir(made):
                break
            os.rmdir(made)


def _missing_directories(directory: Path) -> list[Path]:
    """The directories ``mkdir(parents=True)`` would create for ``directory``, deepest first."""
    missing = []
    while not os.path.lexists(directory) and directory != directory.parent:
        missing.append(directory)
        directory = directory.parent
    return missing


def _open_locked(path: Path, directory: Path) -> int:
    """An open descriptor of ``path`` holding its flock. A holder removes the file before it lets go, so a
    lock won on a file no longer at ``path`` is worthless: then try again on the new file."""
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            holder = os.read(fd, 200).decode("utf-8", "replace").split()
            os.close(fd)
            if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN):
                raise
            who = f"snn-deploy {holder[1]} (PID {holder[0]})" if len(holder) >= 2 else "another snn-deploy command"
            raise SnnDeployError(f"{directory}: in use by {who}; wait for it or choose another -o") from None
        try:
            if os.stat(path).st_ino == os.fstat(fd).st_ino:
                return fd
        except FileNotFoundError:
            pass
        os.close(fd)


def recover(directory: Path) -> None:
    """Finish or discard what killed commands left in ``directory`` (call with its lock held)."""
    for name in sorted(os.listdir(directory)):
        if not name.startswith(PREFIX):
            continue
        command = name[len(PREFIX):-len(JOURNAL_SUFFIX)]
        if name.endswith(JOURNAL_SUFFIX) and COMMAND_NAME.fullmatch(command):
            _roll_forward(Path(directory), command)
    for name in sorted(os.listdir(directory)):
        if name.startswith(PREFIX) and name.endswith((STAGE_SUFFIX, TRASH_SUFFIX)):
            _remove(Path(directory) / name)


def settle(directory: str | os.PathLike, command: str) -> None:
    """Before ``command`` reads ``directory``: finish an interrupted commit there, so it never reads a mix."""
    directory = Path(directory)
    if not directory.is_dir():
        return
    if any(n.startswith(PREFIX) and n.endswith(JOURNAL_SUFFIX) for n in os.listdir(directory)):
        with lock(directory, command):
            recover(directory)


@dataclass
class OutputDir:
    """A locked output directory; :meth:`commit` switches in one whole set of files."""

    path: Path
    command: str
    force: bool = False
    shares_with: tuple | None = ()
    committed: list[str] = field(default_factory=list)

    @contextlib.contextmanager
    def staging(self) -> Iterator[Path]:
        """A fresh staging directory; every entry written into it is the set, committed when the block ends."""
        stage = self.path / f"{PREFIX}{self.command}{STAGE_SUFFIX}"
        _remove(stage)
        stage.mkdir()
        try:
            yield stage
            self._commit(stage)
        finally:
            _remove(stage)

    def _commit(self, stage: Path) -> None:
        names = _visible(stage)
        check_output_dir(self.path, self.command, shares_with=self.shares_with, force=self.force, names=names)
        umask = os.umask(0)
        os.umask(umask)
        files = {}
        for name in names:
            entry = stage / name
            files[name] = _sha256(entry) if entry.is_file() else "directory"
            os.chmod(entry, (0o666 if entry.is_file() else 0o777) & ~umask)  # mkstemp/mkdtemp made them private
        record = {"command": self.command, "files": files}
        (stage / manifest_path(stage, self.command).name).write_text(json.dumps(record, indent=2) + "\n")
        os.replace(stage, self.path / f"{PREFIX}{self.command}{JOURNAL_SUFFIX}")  # the commit point
        _roll_forward(self.path, self.command)
        self.committed = names


@contextlib.contextmanager
def output_dir(path: str | os.PathLike, command: str, *, force: bool = False, shares_with: Iterable[str] | None = (),
               names: Iterable[str] = ()) -> Iterator[OutputDir]:
    """Check, lock and clean ``path`` for ``command``; yields an :class:`OutputDir` to commit into."""
    path = Path(path)
    check_output_dir(path, command, shares_with=shares_with, force=force, names=names)
    with lock(path, command):
        recover(path)
        check_output_dir(path, command, shares_with=shares_with, force=force, names=names)
        yield OutputDir(path, command, force, shares_with if shares_with is None else tuple(shares_with))


def _roll_forward(directory: Path, command: str) -> None:
    journal = directory / f"{PREFIX}{command}{JOURNAL_SUFFIX}"
    trash = directory / f"{PREFIX}{command}{TRASH_SUFFIX}"
    new_manifest = manifest_path(journal, command)
    if new_manifest.is_file():
        new = _load_manifest(new_manifest, command, journal=True)
        old = read_manifest(directory, command)
        for name in new:
            src, dst = journal / name, directory / name
            if not os.path.lexists(src):
                continue  # moved before the kill
            if dst.is_dir() and not dst.is_symlink():
                trash.mkdir(exist_ok=True)
                os.replace(dst, trash / name)
            os.replace(src, dst)
        for name in set(old) - set(new):
            _remove(directory / name)  # ours by the old manifest; the new set has no such file
        os.replace(new_manifest, manifest_path(directory, command))
    _remove(journal)
    _remove(trash)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif os.path.lexists(path):
        os.unlink(path)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()
