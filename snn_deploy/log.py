"""One logging setup for every command: ``-q/--quiet`` and ``-v/--verbose``, and progress bars.

Every subcommand gets the same two options (``add_common_options``, applied by ``snn_deploy/cli.py``
to each subparser). Their meaning:

- default: the command's result on stdout, its progress notes (epoch lines, "counting ...") on
  stderr through the ``snn_deploy`` logger at INFO, progress bars on stderr when it is a terminal;
- ``-q/--quiet``: no progress notes and no progress bars; the result and errors still print;
- ``-v/--verbose``: DEBUG notes too.

Progress bars (``progress_bar``) are drawn only when stderr is a terminal and ``-q`` was not given:
a log file of a batch job gets no carriage-return lines. Library code (the Python API) calls the
same helper, so a notebook gets bars where tqdm can draw them and a script piped to a file gets none.
"""
from __future__ import annotations

import argparse
import logging
import sys
from typing import Any, Optional

LOGGER_NAME = "snn_deploy"
logger = logging.getLogger(LOGGER_NAME)

_quiet = False   #: set by ``setup_logging``; silences progress bars for the whole process


def add_common_options(parser: argparse.ArgumentParser) -> None:
    """Add ``-q/--quiet`` and ``-v/--verbose`` to one (sub)command's parser."""
    group = parser.add_argument_group("output")
    group.add_argument("-q", "--quiet", action="store_true",
                       help="no progress bars and no progress notes; only the result and errors")
    group.add_argument("-v", "--verbose", action="count", default=0,
                       help="more detail in the progress notes on stderr (debug level)")


class _TqdmHandler(logging.Handler):
    """Writes log records to stderr through ``tqdm.write``, so a live progress bar is not torn."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            msg = self.format(record)
            try:
                from tqdm import tqdm
            except ImportError:  # pragma: no cover - tqdm is a dependency
                print(msg, file=sys.stderr, flush=True)
                return
            tqdm.write(msg, file=sys.stderr)
        except Exception:  # noqa: BLE001 - a log line must never break the command
            self.handleError(record)


def setup_logging(quiet: bool = False, verbose: int = 0) -> None:
    """Configure the ``snn_deploy`` logger for a command line run (idempotent)."""
    global _quiet
    _quiet = bool(quiet)
    level = logging.WARNING if quiet else (logging.DEBUG if verbose else logging.INFO)
    logger.setLevel(level)
    for handler in [h for h in logger.handlers if isinstance(h, _TqdmHandler)]:
        logger.removeHandler(handler)
    handler = _TqdmHandler()
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger.addHandler(handler)
    logger.propagate = False


def progress_enabled(requested: Optional[bool] = True) -> bool:
    """Whether to draw a progress bar: asked for, not ``-q``, and stderr is a terminal."""
    if requested is False or _quiet:
        return False
    isatty = getattr(sys.stderr, "isatty", None)
    return bool(isatty and isatty())


def progress_bar(total: int, desc: str, *, enabled: Optional[bool] = True, **kwargs: Any):
    """A tqdm bar on stderr, disabled unless ``progress_enabled(enabled)``."""
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, disable=not progress_enabled(enabled), file=sys.stderr, **kwargs)
