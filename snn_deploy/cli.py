"""The ``snn-deploy`` command: the one place that knows all four stages.

Each stage owns a ``cli.py`` with ``register(subparsers)``; it adds its subcommands and sets
``func`` on them; ``build_parser`` then gives every subcommand ``-q/--quiet`` and ``-v/--verbose``
(``snn_deploy/log.py``). The command functions are thin layers over the Python API
(``snn_deploy.train`` / ``convert`` / ``run`` / ``energy``, see ``snn_deploy/__init__.py``): they
parse options, call the library and write its results to disk. Stage CLI modules import their heavy dependencies (torch, Lava) inside the
command functions, so ``snn-deploy --help`` is quick and ``train`` never imports Lava.
"""
from __future__ import annotations

import argparse
import importlib
import os
import sys

from snn_deploy import __version__, interrupt
from snn_deploy.errors import SnnDeployError, UsageError
from snn_deploy.log import add_common_options, setup_logging

STAGE_CLI_MODULES = (
    "snn_deploy.train.data.cli",
    "snn_deploy.train.cli",
    "snn_deploy.convert.cli",
    "snn_deploy.deploy.cli",
    "snn_deploy.energy.cli",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="snn-deploy",
        description="Train spiking networks, convert them to Loihi fixed point, run them on Lava, price their energy.",
    )
    parser.add_argument("--version", action="version", version=f"snn-deploy {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module_name in STAGE_CLI_MODULES:
        importlib.import_module(module_name).register(sub)
    for command in leaf_parsers(parser):
        add_common_options(command)
    return parser


def leaf_parsers(parser: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    """Every subcommand parser that runs something (``data info``, ``train``, ...), depth first."""
    leaves = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in dict.fromkeys(action.choices.values()):  # aliases map to the same parser
                leaves += leaf_parsers(child) or [child]
    return leaves


def main(argv: list[str] | None = None) -> int:
    """Run one command; every error a user can cause ends as one ``error: ...`` line and an exit status:
    2 usage (argparse, :class:`UsageError`), 1 failure (any other SnnDeployError, OSError, MemoryError,
    torch's RuntimeError), 130 interrupt. ``SNN_DEPLOY_DEBUG=1`` re-raises those last three (traceback)."""
    if hasattr(sys.stdout, "reconfigure"):  # a non-UTF-8 byte of a path prints as itself, never crashes
        sys.stdout.reconfigure(errors="surrogateescape")
    previous = interrupt.install()
    try:
        try:
            try:
                return _main(argv)
            finally:  # what is still buffered (argparse's --help, a short summary) meets a closed pipe here
                sys.stdout.flush()
        except KeyboardInterrupt:
            return interrupted()
        except BrokenPipeError:
            return _stdout_closed()
    finally:
        interrupt.restore(previous)


def _main(argv: list[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    setup_logging(quiet=getattr(args, "quiet", False), verbose=getattr(args, "verbose", 0))
    try:
        result = args.func(args)
    except UsageError as exc:
        return _error(str(exc), 2)
    except SnnDeployError as exc:
        return _error(str(exc), 1)
    except (KeyboardInterrupt, BrokenPipeError):
        raise
    except MemoryError as exc:
        return _failure(exc, f"out of memory: {str(exc) or 'an array did not fit'}; use --limit or a smaller batch")
    except OSError as exc:
        return _failure(exc, os_error_message(exc))
    except RuntimeError as exc:  # torch's (out of memory, shape, device): their first line says what
        return _failure(exc, (str(exc).strip().splitlines() or [type(exc).__name__])[0])
    return int(result or 0)


def os_error_message(exc: OSError) -> str:
    """``<filename>: <strerror>`` (both names for a rename), as the shell tools say it."""
    what = exc.strerror or str(exc) or type(exc).__name__
    names = [os.fsdecode(n) for n in (exc.filename, exc.filename2) if n is not None]
    return f"{' -> '.join(names)}: {what}" if names else what


def _error(message: str, code: int) -> int:
    print(f"error: {message}", file=sys.stderr)
    return code


def _failure(exc: BaseException, message: str) -> int:
    if os.environ.get("SNN_DEPLOY_DEBUG") == "1":
        raise exc
    return _error(message, 1)


def interrupted() -> int:
    """Ctrl-C: one word, status 130 (the interrupt is handled: ``snn_deploy.interrupt`` stops re-delivering it)."""
    interrupt.handled()
    print("interrupted", file=sys.stderr)
    return 130


def _stdout_closed() -> int:
    """``snn-deploy ... | head``: the reader is gone; exit quietly (stdout to /dev/null so the final flush
    does not complain again), status 1 as Python's own documentation advises."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    return 1


if __name__ == "__main__":
    sys.exit(main())
