"""``snn-deploy energy``: operation counts from a recorded run, priced on hardware profiles, vs ANN baselines."""
from __future__ import annotations

import argparse
from pathlib import Path

from .api import DEFAULT_ANN_PROFILE, DEFAULT_PROFILES
NETWORK_TAG = "snn-deploy-network"


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


def find_network(run: Path, digest: str | None):
    """The network IR in ``run`` (a file, or the .h5 in a directory whose digest is ``digest``)."""
    from snn_deploy.errors import SnnDeployError
    from snn_deploy.ir import is_network_file, load_network, network_digest

    if run.is_file():
        return run, load_network(run)
    if not run.is_dir():
        raise SnnDeployError(f"{run}: no such run directory or network file")
    candidates = [f for f in sorted(run.glob("*.h5")) + sorted(run.glob("*/*.h5")) if is_network_file(f)]
    if not candidates:
        raise SnnDeployError(f"{run}: holds no network IR file (*.h5 with format {NETWORK_TAG!r}); give --network")
    nets = [(f, load_network(f)) for f in candidates]
    if digest is not None:
        matching = [(f, n) for f, n in nets if network_digest(n) == digest]
        if not matching:
            found = ", ".join(f"{f.name} ({network_digest(n)})" for f, n in nets)
            raise SnnDeployError(
                f"{run}: the activity was recorded from network {digest}, but the networks here are {found} "
                "(activity and network do not belong together; re-run `snn-deploy run`)")
        return matching[0]
    return nets[0]


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
    from snn_deploy.activity import load_activity
    from snn_deploy.convert.registers import check_registers
    from snn_deploy.errors import UsageError
    from snn_deploy.log import logger
    from snn_deploy.outdir import settle

    from .api import load_tables, price_runs
    from .counting import count_network
    from .report import headline, write_report

    if len(runs) > 1 and (args.activity or args.network):
        raise UsageError("--activity/--network name one run's files: give a single RUN with them")
    tables = load_tables(args.profile or DEFAULT_PROFILES, args.ann_profile)   # bad profiles fail before counting
    counted = []
    first_net = None
    for run in runs:
        settle(run if run.is_dir() else run.parent, "energy")
        act_path = args.activity or (run / "activity.h5" if run.is_dir() else run.parent / "activity.h5")
        act = load_activity(act_path)
        net_path, net = (args.network, None) if args.network else find_network(run, act.network_digest)
        if net is None:
            from snn_deploy.ir import load_network

            net = load_network(net_path)
        check_registers(net, source=net_path)
        logger.info(f"counting {run} ({act.num_samples} samples x {act.num_steps} steps) ...")
        counts = count_network(net, act, source=str(act_path), nonzero_synapses=args.nonzero_synapses)
        name = f"{run.parent.name}/{run.name}" if run.is_dir() and run.parent.name else run.stem
        counted.append((name, str(net_path), str(act_path), counts))
        first_net = first_net or net
    rep = price_runs(counted, first_net, profiles=args.profile or DEFAULT_PROFILES, baselines=args.baseline,
                     ann_profiles=args.ann_profile, memory=args.memory, onnx_dims=_parse_dims(args.onnx_dim),
                     allow_unsupported=args.allow_unsupported, tables=tables)
    written = write_report(rep, out, plot=not args.no_plots, force=args.force)
    print("\n".join(headline(rep)))
    print(f"wrote {', '.join(str(p) for p in written.values())}")
    return 0
