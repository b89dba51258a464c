"""``--json`` and ``--json-out PATH``: one meaning on every command that has them.

- ``--json`` prints the command's machine-readable result on stdout, as JSON, instead of the human
  summary (progress notes and errors stay on stderr, so stdout parses);
- ``--json-out PATH`` writes the same JSON to PATH (atomically).

``eval`` used to spell ``--json-out PATH`` as ``--json PATH``; that spelling still works there
(``legacy_path=True``) with a deprecation note on stderr.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any, Optional

from snn_deploy.log import logger


def add_json_options(parser: argparse.ArgumentParser, what: str, *, default_file: Optional[str] = None,
                     legacy_path: bool = False) -> None:
    """Add ``--json`` / ``--json-out`` for ``what`` (e.g. "the result") to a subcommand."""
    default = f" (default {default_file})" if default_file else ""
    if legacy_path:
        parser.add_argument("--json", nargs="?", const=True, default=None, metavar="PATH",
                            help=f"print {what} as JSON on stdout instead of the summary line "
                                 "(`--json PATH` still writes to PATH, deprecated: use --json-out PATH)")
    else:
        parser.add_argument("--json", action="store_true", default=None,
                            help=f"print {what} as JSON on stdout instead of the human summary")
    parser.add_argument("--json-out", metavar="PATH", help=f"write {what} as JSON to PATH{default}")


def json_out_path(args: argparse.Namespace) -> Optional[Path]:
    """Where ``--json-out`` (or the deprecated ``--json PATH``) asks the JSON to be written, if anywhere."""
    from snn_deploy.errors import UsageError

    legacy = args.json if isinstance(args.json, str) else None
    if legacy is not None:
        if args.json_out:
            raise UsageError("--json PATH and --json-out PATH: give only --json-out")
        logger.warning("note: `--json PATH` is deprecated and will mean 'print JSON'; use --json-out PATH")
        return Path(legacy)
    return Path(args.json_out) if args.json_out else None


def print_json(args: argparse.Namespace, result: Any) -> bool:
    """Print ``result`` as JSON on stdout when ``--json`` was given; whether it was."""
    if args.json is not True:
        return False
    from snn_deploy.jsonio import json_default

    print(json.dumps(result, indent=2, default=json_default))
    return True


def write_json_out(path: Path, result: Any) -> Path:
    """Write ``result`` as JSON to ``path`` atomically."""
    from snn_deploy.atomic import write_text_atomic
    from snn_deploy.jsonio import json_default

    write_text_atomic(path, json.dumps(result, indent=2, default=json_default) + "\n")
    return path
