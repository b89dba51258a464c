"""Subcommands of this stage for ``snn-deploy`` (see snn_deploy/cli.py).

``snn-deploy convert model.pt --target loihi-sim|loihi-emu [--profile loihi2] [--data DIR] -o OUT``:
checkpoint -> float IR -> fixed IR -> design rules -> (float vs fixed on data) -> OUT/

``snn-deploy convert model.nir [--dt SECONDS] ...``: a NIR graph (recognised by its content, an HDF5
file whose root node is a NIRGraph; convert/import_nir.py) made by snnTorch, Norse, Rockpool, Sinabs
or ``--export nir``, read as the float IR and then converted the same way. ``--dt`` gives the seconds
per step where the graph's metadata carries none (and overrides it where it does).

    network.h5          fixed IR (meta: target, profile)       network_float.h5   float IR
    quantization.json   per-layer precision, rules, core mapping, accuracy (machine-readable)
    summary.txt         the human summary printed at the end
    netx.net            lava-dl netx HDF5, when the network is netx-expressible (CUBA-LIF chains);
                        ``--netx`` quantizes for it (convert/export_netx.py ``NETX_PRECISION``) and
                        makes a network netx cannot express an error naming the layer and the rule
    model.nir           with ``--export nir``: the float spiking graph as NIR (convert/export_nir.py), dt in
                        its metadata; where other readers interpret it differently the caveats are printed
                        and written into the summary; a model NIR cannot express is a warning there, the
                        rest of OUT is still written
    model.onnx          with ``--export onnx`` on an ANN baseline: only this file is written

The command is ``convert.write.convert`` (the pipeline, then OUT/). OUT is locked while convert runs;
everything is checked and computed before anything is written; the
files are written into a staging directory and committed as one set (snn_deploy/outdir.py), so a
failure leaves OUT as it was. Files of OUT that convert did not write stay untouched (``--force``
replaces a foreign file at one of the names above, or writes into a foreign non-empty OUT).
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from snn_deploy.convert.pipeline import DEFAULT_PROFILE, TARGETS  # torch-free


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add this stage's subcommands. Heavy imports go inside the command functions."""
    p = subparsers.add_parser(
        "convert", help="quantize a trained model to Loihi fixed point and check it against the hardware",
        description="Quantize a trained spiking model (model.pt) to a hardware profile's fixed point, check the "
                    "design rules, compare float vs fixed accuracy on data (emulator), write OUT/network.h5.")
    p.add_argument("checkpoint", metavar="model",
                   help="checkpoint written by `snn-deploy train` (model.pt), a model saved by paper 1's code sparch "
                        "(read without running it: train/sparch_import.py), or a NIR graph file (model.nir)")
    p.add_argument("--dt", type=float, help="seconds per time step of a NIR graph (needed when its metadata has no "
                   "'dt'; overrides it otherwise)")
    p.add_argument("--target", required=True, help=f"one of {', '.join(TARGETS)} (Lava simulator or our emulator)")
    p.add_argument("--profile", default=DEFAULT_PROFILE,
                   help=f"hardware profile name or .json path (default {DEFAULT_PROFILE}); see hw_profiles/")
    p.add_argument("--data", help="data directory: compare float vs fixed accuracy on its --split")
    p.add_argument("--split", default="test", help="split of --data to compare on (default test)")
    p.add_argument("--limit", type=int, help="use only the first N samples of the split")
    p.add_argument("--precision", help="JSON file of precision overrides {model, types, layers, input}")
    p.add_argument("--batch-size", type=int, default=256, help="samples per emulator batch (default 256)")
    p.add_argument("--export", default="", help="extra exports, comma-separated: nir (the float spiking graph, "
                   "OUT/model.nir), onnx (ANN baselines only, OUT/model.onnx)")
    p.add_argument("--netx", action="store_true",
                   help="quantize for lava-dl's netx (weight exponents >= 0, biases in multiples of 64) and fail "
                        "unless OUT/netx.net can be written (train cuba_lif with --reset zero --shared-decays)")
    p.add_argument("-o", "--out", required=True, help="output directory")
    p.add_argument("--force", action="store_true",
                   help="write into a non-empty OUT that convert did not write, replacing files of the same names")
    p.set_defaults(func=run_convert)


def run_convert(args: argparse.Namespace) -> int:
    from snn_deploy.errors import UsageError

    if args.target not in TARGETS:
        raise UsageError(f"--target: unknown target {args.target!r}; choose one of {', '.join(TARGETS)}")
    if args.limit is not None and args.limit <= 0:
        raise UsageError(f"--limit must be a positive number of samples, got {args.limit}")
    from snn_deploy.convert.write import convert

    overrides = _read_overrides(args.precision)
    result = convert(args.checkpoint, target=args.target, profile=args.profile, data=args.data, split=args.split,
                     limit=args.limit, overrides=overrides, batch_size=args.batch_size, out=args.out,
                     exports=[e.strip() for e in args.export.split(",") if e.strip()], netx=args.netx,
                     force=args.force, dt=args.dt)
    print(result["summary"])
    return 0


def _read_overrides(path: Any) -> Any:
    from snn_deploy.errors import SnnDeployError

    if not path:
        return None
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise SnnDeployError(f"{path}: cannot read precision overrides ({exc})") from None
    if not isinstance(data, dict):
        raise SnnDeployError(f"{path}: precision overrides must be a JSON object")
    return data
