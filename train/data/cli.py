"""Subcommands of this stage for ``snn-deploy`` (see snn_deploy/cli.py)."""
from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add this stage's subcommands. Heavy imports go inside the command functions."""
