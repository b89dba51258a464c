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

    p = sub.add_parser(
        "download", help="download SHD/SSC/HD/SC from their official sites (checksummed, resumable)",
        description="Download a data set from its official site: SHD/SSC/HD from the Zenke lab's site "
        "(verified against its md5sums.txt), Speech Commands v0.02 from download.tensorflow.org (SHA-256). "
        "Interrupted downloads resume; files appear only when complete. Writes DIR/download.json.",
    )
    p.add_argument("dataset", choices=["shd", "ssc", "hd", "sc"])
    p.add_argument("--dir", required=True, help="data directory to fill (then pass it to --data)")
    p.add_argument("--base-url", help="mirror replacing the official location")
    p.add_argument("--keep-archives", action="store_true", help="keep the .gz/.tar.gz files after unpacking")
    p.add_argument("--retries", type=int, default=5, help="attempts per file after a dropped connection (default 5)")
    p.set_defaults(func=_download)


def _info(args) -> int:
    from .info import format_summary, summarize

    summary = summarize(args.path)
    print(json.dumps(summary, indent=2) if args.json else format_summary(summary))
    return 0


def _download(args) -> int:
    from .download import download_dataset

    record = download_dataset(args.dataset, args.dir, base_url=args.base_url, keep_archives=args.keep_archives,
                              retries=args.retries)
    fetched = [f for f in record["files"] if "skipped" not in f]
    skipped = [f for f in record["files"] if "skipped" in f]
    print(f"{args.dataset}: {len(fetched)} file(s) downloaded and verified, {len(skipped)} already present, "
          f"in {args.dir} (record: {args.dir}/download.json)")
    return 0
