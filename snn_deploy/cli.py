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
import sys

from snn_deploy import __version__
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
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    setup_logging(quiet=getattr(args, "quiet", False), verbose=getattr(args, "verbose", 0))
    try:
        result = args.func(args)
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except SnnDeployError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return int(result or 0)


if __name__ == "__main__":
    sys.exit(main())
