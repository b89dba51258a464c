"""``snn-deploy data ...``: info, download, synth-digits, encode (see train/data/__init__.py)."""
from __future__ import annotations

import argparse
import json


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``data`` and its subcommands. Heavy imports go inside the command functions."""
    data = subparsers.add_parser("data", help="data sets: inspect, download, synthesize, encode")
    sub = data.add_subparsers(dest="data_command", metavar="SUBCOMMAND")
    data.set_defaults(func=lambda args: (data.print_help(), 2)[1])

    p = sub.add_parser("info", help="classes, counts, duration and spike statistics of a spike file or data dir")
    p.add_argument("path", help="an SHD-layout .h5 file or a data directory")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.set_defaults(func=_info)


def _info(args) -> int:
    from .info import format_summary, summarize

    summary = summarize(args.path)
    print(json.dumps(summary, indent=2) if args.json else format_summary(summary))
    return 0
