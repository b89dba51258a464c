"""Subcommands of this stage for ``snn-deploy`` (see snn_deploy/cli.py): ``run``."""
from __future__ import annotations

import argparse
from pathlib import Path

from snn_deploy.deploy.records import BACKENDS, DEFAULT_BATCH, DEVICES
from snn_deploy.ir import TARGETS


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add this stage's subcommands. Heavy imports (Lava) go inside the command functions."""
    p = subparsers.add_parser(
        "run", help="run a converted network on Lava's CPU simulator (or the emulator) and record its activity",
        description="Run the fixed-point network of a `snn-deploy convert` OUT directory on a data split, one "
                    "sample after the other with state reset in between, on Lava's bit-accurate CPU simulator "
                    "(target loihi-sim) or on the batched emulator (loihi-emu). Prints accuracy, per-layer firing "
                    "rates and time per step; writes OUT/activity.h5 (every layer's spikes, the readout "
                    "potentials) and OUT/run.json.")
    p.add_argument("out", type=Path, metavar="OUT", help="directory written by `snn-deploy convert` (holds network.h5)")
    p.add_argument("--data", type=Path, required=True, help="data directory (or SHD-layout .h5 file)")
    p.add_argument("--split", default="test", help="data split to run (default: test)")
    p.add_argument("--backend", choices=BACKENDS,
                   help="default: lava for target loihi-sim, the emulator for loihi-emu or with --device")
    p.add_argument("--target", choices=TARGETS,
                   help="default: the network's target (from convert); loihi2 needs Intel's lava-loihi")
    p.add_argument("--device", choices=DEVICES,
                   help="run the emulator on torch tensors on this device (cuda: a GPU, for big evaluations); "
                        "default: the numpy/compiled emulator on the CPU. The same integers either way")
    p.add_argument("--limit", type=int, help="run only the first N samples of the split")
    p.add_argument("--verify", type=int, default=0, metavar="N",
                   help="also run the first N samples on the other backend; fail on the first differing value")
    p.add_argument("--batch", type=int, default=DEFAULT_BATCH,
                   help=f"samples per backend call (default {DEFAULT_BATCH})")
    p.add_argument("--time-steps", type=int,
                   help="input time steps per sample (default: the network's meta, i.e. as trained)")
    p.add_argument("--output", type=Path, metavar="DIR",
                   help="write activity.h5 and run.json here instead of OUT (e.g. to keep a Lava run beside an emulator run)")
    p.add_argument("--force", action="store_true",
                   help="replace activity.h5/run.json that run did not write, or write into a foreign --output DIR")
    p.add_argument("--no-progress", action="store_true",
                   help="no progress bars (older spelling; -q also silences the progress notes)")
    p.set_defaults(func=cmd_run)


def cmd_run(args: argparse.Namespace) -> int:
    from snn_deploy.deploy.run_command import RunOptions, run_command

    run_command(RunOptions(out=args.out, data=args.data, split=args.split, backend=args.backend,
                           target=args.target, limit=args.limit, verify=args.verify, batch=args.batch,
                           time_steps=args.time_steps, show_progress=not (args.no_progress or args.quiet),
                           output=args.output, force=args.force, device=args.device))
    return 0
