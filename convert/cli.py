"""Subcommands of this stage for ``snn-deploy`` (see snn_deploy/cli.py).

``snn-deploy convert model.pt --target loihi-sim|loihi-emu [--profile loihi2] [--data DIR] -o OUT``:
checkpoint -> float IR -> fixed IR -> design rules -> (float vs fixed on data) -> OUT/

    network.h5          fixed IR (meta: target, profile)       network_float.h5   float IR
    quantization.json   per-layer precision, rules, core mapping, accuracy (machine-readable)
    summary.txt         the human summary printed at the end
    netx.net            lava-dl netx HDF5, when the network is netx-expressible (CUBA-LIF chains);
                        ``--netx`` quantizes for it (convert/export_netx.py ``NETX_PRECISION``) and
                        makes a network netx cannot express an error naming the layer and the rule
    model.nir           with ``--export nir``: the float spiking graph as NIR (convert/export_nir.py)
    model.onnx          with ``--export onnx`` on an ANN baseline: only this file is written

Everything is checked and computed before anything is written; the files are written into a
temporary directory next to OUT and moved in at the end, so a failure leaves OUT as it was.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from snn_deploy.convert.pipeline import DEFAULT_PROFILE, TARGETS  # torch-free
from snn_deploy.jsonio import json_default


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add this stage's subcommands. Heavy imports go inside the command functions."""
    p = subparsers.add_parser(
        "convert", help="quantize a trained model to Loihi fixed point and check it against the hardware",
        description="Quantize a trained spiking model (model.pt) to a hardware profile's fixed point, check the "
                    "design rules, compare float vs fixed accuracy on data (emulator), write OUT/network.h5.")
    p.add_argument("checkpoint", help="checkpoint written by `snn-deploy train` (model.pt)")
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
    p.set_defaults(func=run_convert)


def run_convert(args: argparse.Namespace) -> int:
    from snn_deploy.errors import SnnDeployError

    if args.limit is not None and args.limit <= 0:
        raise SnnDeployError(f"--limit must be a positive number of samples, got {args.limit}")
    overrides = _read_overrides(args.precision)
    result = convert(args.checkpoint, target=args.target, profile=args.profile, data=args.data, split=args.split,
                     limit=args.limit, overrides=overrides, batch_size=args.batch_size, out=args.out,
                     exports=[e.strip() for e in args.export.split(",") if e.strip()], netx=args.netx)
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


def convert(checkpoint: str, *, target: str, profile: str, out: str, data: Any = None, split: str = "test",
            limit: Any = None, overrides: Any = None, batch_size: int = 256, show_progress: bool = True,
            exports: Any = (), netx: bool = False) -> dict:
    """The whole convert command (used by the CLI and the demo): ``pipeline.convert`` + OUT/; returns the report.

    ``netx``: quantize with netx's constraints (``export_netx.netx_overrides``) and raise NetxExportError,
    before anything is written, unless netx.net can be written.
    """
    from snn_deploy.convert.pipeline import convert as convert_network, quantization_profile
    from snn_deploy.convert.report import format_summary
    from snn_deploy.errors import SnnDeployError
    from snn_deploy.ir import save_network
    from snn_deploy.train.checkpoint import load_model
    from snn_deploy.train.export import ir_meta_from_checkpoint, model_to_ir

    if target not in TARGETS:
        raise SnnDeployError(f"unknown target {target!r}; choose one of {', '.join(TARGETS)}")
    profile = quantization_profile(profile)          # a bad profile fails before the checkpoint is read
    model, cfg, meta = load_model(checkpoint)
    exports = _check_exports(exports, cfg)
    if not cfg.spiking and "onnx" in exports:
        from snn_deploy.convert.export_onnx import export_onnx
        path = export_onnx(model, cfg, Path(out) / "model.onnx", time_steps=int(meta["time_steps"]))
        return {"outputs": [str(path)], "summary": f"{cfg.model}: wrote {path} (ONNX, {meta['time_steps']} steps)"}
    if not cfg.spiking:
        raise SnnDeployError(f"{checkpoint}: model {cfg.model!r} is an ANN baseline; only spiking models convert "
                             "to Loihi (export ANNs to ONNX)")
    conversion = convert_network(model_to_ir(model, cfg, ir_meta_from_checkpoint(meta, checkpoint)), target=target,
                                 profile=profile, data=data, split=split, limit=limit, overrides=overrides,
                                 batch_size=batch_size, netx=netx, progress=show_progress)
    fixed, float_net, netx_status, report = (conversion.network, conversion.float_network, conversion.netx,
                                             conversion.report)

    out_dir = Path(out)
    if out_dir.exists() and not out_dir.is_dir():
        raise SnnDeployError(f"{out_dir}: exists and is not a directory")
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", suffix=".tmp", dir=out_dir.parent))
    try:
        save_network(fixed, tmp / "network.h5")
        save_network(float_net, tmp / "network_float.h5")
        if netx_status["written"]:
            from snn_deploy.convert.export_netx import export_netx
            export_netx(fixed, tmp / "netx.net")
        if "nir" in exports:
            from snn_deploy.convert.export_nir import write_nir
            write_nir(float_net, tmp / "model.nir", dt=float(meta["duration"]) / int(meta["time_steps"]))
        outputs = ["network.h5", "network_float.h5"] + (["netx.net"] if netx_status["written"] else []) + \
                  (["model.nir"] if "nir" in exports else []) + ["quantization.json", "summary.txt"]
        report["outputs"] = [str(out_dir / o) for o in outputs]
        summary = format_summary(report)
        (tmp / "quantization.json").write_text(json.dumps(report, indent=2, default=json_default) + "\n")
        (tmp / "summary.txt").write_text(summary + "\n")
        _move_into(tmp, out_dir, outputs)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    report["summary"] = summary
    return report


def _check_exports(exports: Any, cfg: Any) -> set:
    """``--export`` values: nir for spiking models, onnx for ANN baselines; anything else is an error."""
    from snn_deploy.errors import SnnDeployError

    exports = set(exports or ())
    if exports - {"nir", "onnx"}:
        raise SnnDeployError(f"unknown --export {sorted(exports - {'nir', 'onnx'})}; choose from nir, onnx")
    wrong = "onnx" if cfg.spiking else "nir"
    if wrong in exports:
        raise SnnDeployError(f"--export {wrong} is for {'ANN baselines' if wrong == 'onnx' else 'spiking models'}; "
                             f"model {cfg.model!r} is {'spiking' if cfg.spiking else 'an ANN'}")
    return exports


def _move_into(tmp: Path, out_dir: Path, names: list[str]) -> None:
    """Move the finished files into ``out_dir`` (a whole new directory if it did not exist).

    Temporary files and directories are created private (0600/0700); the results get the usual
    permissions of the user's umask.
    """
    umask = os.umask(0)
    os.umask(umask)
    for name in names:
        os.chmod(tmp / name, 0o666 & ~umask)
    os.chmod(tmp, 0o777 & ~umask)
    if not out_dir.exists():
        os.replace(tmp, out_dir)
        tmp.mkdir()  # so the caller's cleanup has something to remove
        return
    stale = out_dir / "netx.net"
    for name in names:
        os.replace(tmp / name, out_dir / name)
    if "netx.net" not in names and stale.exists():
        stale.unlink()  # an old netx file would not match the new network
