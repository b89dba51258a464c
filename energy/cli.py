"""``snn-deploy energy``: operation counts from a recorded run, priced on hardware profiles, vs ANN baselines."""
from __future__ import annotations

import argparse
from pathlib import Path

from snn_deploy.energy.api import DEFAULT_ANN_PROFILE, DEFAULT_PROFILES


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add this stage's subcommands. Heavy imports go inside the command functions."""
    p = subparsers.add_parser(
        "energy", help="count operations from recorded spikes and price them on hardware profiles",
        description="Count synaptic operations, MACs, neuron updates and spikes from the activity recorded by "
                    "`snn-deploy run` (Lava or emulator), price them on hardware profiles (ranges where sources "
                    "disagree), and compare with ANN baselines. Writes REPORT/energy.md, energy.json and plots.")
    p.add_argument("runs", nargs="+", metavar="RUN",
                   help="converted run directory (holding the network IR .h5 and activity.h5) or a network .h5; "
                        "several runs give an accuracy-vs-operations plot")
    p.add_argument("--activity", type=Path, help="activity file (default RUN/activity.h5; only with one RUN)")
    p.add_argument("--network", type=Path, help="network IR file (default: the .h5 in RUN that the activity was recorded from)")
    p.add_argument("--profile", action="append", metavar="NAME",
                   help=f"hardware profile name in hw_profiles/ or a profile .json (repeatable; default {' '.join(DEFAULT_PROFILES)})")
    p.add_argument("--baseline", action="append", default=[], metavar="SPEC",
                   help="ANN to compare with: gru|rnn|mlp|libru (the SNN's shape), KIND:LAYERSxHIDDEN, a checkpoint .pt "
                        "or an .onnx file (repeatable)")
    p.add_argument("--ann-profile", action="append", metavar="NAME",
                   help="profiles to price the ANN baselines on (default: the arithmetic ones among --profile, "
                        f"else {DEFAULT_ANN_PROFILE})")
    p.add_argument("--memory", dest="memory", action="store_true", default=True,
                   help="add the memory-access term (Lemaire et al. 2022 style) on arithmetic profiles (the default; "
                        "the report shows compute only beside it)")
    p.add_argument("--no-memory", dest="memory", action="store_false",
                   help="leave the memory-access term out (every figure compute only)")
    p.add_argument("--nonzero-synapses", action="store_true",
                   help="count only synapses whose weight is nonzero (NeuroBench's convention; default: every "
                        "synapse the mask allows, zero weights included)")
    p.add_argument("--onnx-dim", action="append", default=[], metavar="NAME=VALUE",
                   help="value of a symbolic ONNX input dimension (the batch is 1, other axes default to the run's input frames)")
    p.add_argument("--allow-unsupported", action="store_true",
                   help="count ONNX graphs with unsupported ops anyway (those ops are listed as not counted)")
    p.add_argument("--no-plots", action="store_true", help="skip the PNG figures")
    p.add_argument("-o", "--output", type=Path, help="report directory (default: FIRST_RUN/energy)")
    p.add_argument("--force", action="store_true",
                   help="write into a non-empty -o directory that energy did not write (replacing files of the same names)")
    p.set_defaults(func=cmd_energy)


def _parse_dims(items: list[str]) -> dict[str, int]:
    from snn_deploy.errors import UsageError

    dims = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not value.strip().isdigit() or int(value) <= 0:
            raise UsageError(f"--onnx-dim {item!r}: expected NAME=POSITIVE_INTEGER")
        dims[name.strip()] = int(value)
    return dims


def cmd_energy(args: argparse.Namespace) -> int:
    from snn_deploy.outdir import check_output_dir, lock

    runs = [Path(r) for r in args.runs]
    out = args.output or (runs[0] if runs[0].is_dir() else runs[0].parent) / "energy"
    check_output_dir(out, "energy", force=args.force)  # before any work; again when writing, under the lock
    with lock(out, "energy"):
        return _energy(args, runs, out)


def _energy(args: argparse.Namespace, runs: list[Path], out: Path) -> int:
    from snn_deploy.energy.api import count_runs, load_tables, price_runs
    from snn_deploy.energy.report import headline, write_report
    from snn_deploy.errors import UsageError

    if len(runs) > 1 and (args.activity or args.network):
        raise UsageError("--activity/--network name one run's files: give a single RUN with them")
    tables = load_tables(args.profile or DEFAULT_PROFILES, args.ann_profile)   # bad profiles fail before counting
    counted, first_net = count_runs(runs, activity=args.activity, network=args.network,
                                    nonzero_synapses=args.nonzero_synapses)
    rep = price_runs(counted, first_net, profiles=args.profile or DEFAULT_PROFILES, baselines=args.baseline,
                     ann_profiles=args.ann_profile, memory=args.memory, onnx_dims=_parse_dims(args.onnx_dim),
                     allow_unsupported=args.allow_unsupported, tables=tables)
    written = write_report(rep, out, plot=not args.no_plots, force=args.force)
    print("\n".join(headline(rep)))
    print(f"wrote {', '.join(str(p) for p in written.values())}")
    return 0
