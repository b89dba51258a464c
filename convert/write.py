"""``snn-deploy convert``'s work on disk: ``pipeline.convert`` (in memory), then OUT/ as one set.

OUT/ (names in ``snn_deploy/layout.py``; see ``convert/cli.py`` for what each file holds):
network.h5, network_float.h5, quantization.json, summary.txt, netx.net when netx can express the
network, model.nir with ``--export nir`` (a network NIR cannot express is a warning in the summary);
an ANN baseline with ``--export onnx`` writes only model.onnx. The model is a checkpoint or a NIR file.
Everything is computed before anything is written; the files go through a staging directory and
are committed together (``snn_deploy/outdir.py``).
"""
from __future__ import annotations

import json
from typing import Any

from snn_deploy import layout
from snn_deploy.convert.pipeline import TARGETS
from snn_deploy.jsonio import json_default


def convert(checkpoint: str, *, target: str, profile: str, out: str, data: Any = None, split: str = "test",
            limit: Any = None, overrides: Any = None, batch_size: int = 256, show_progress: bool = True,
            exports: Any = (), netx: bool = False, force: bool = False, dt: Any = None) -> dict:
    """The whole convert command (``snn-deploy convert``): ``pipeline.convert`` + OUT/; returns the report.

    ``checkpoint``: a model.pt, or a NIR file (told by its content) read with ``dt`` seconds per step.

    ``netx``: quantize with netx's constraints (``export_netx.netx_overrides``) and raise NetxExportError,
    before anything is written, unless netx.net can be written. ``force``: see the module docstring.
    """
    from snn_deploy.errors import UsageError
    from snn_deploy.outdir import output_dir

    if dt is not None and not dt > 0:
        raise UsageError(f"--dt must be a positive number of seconds per step, got {dt}")
    with output_dir(out, "convert", force=force) as out_set:
        return _convert(checkpoint, target=target, profile=profile, out_set=out_set, data=data, split=split,
                        limit=limit, overrides=overrides, batch_size=batch_size, show_progress=show_progress,
                        exports=exports, netx=netx, dt=dt)


def _convert(checkpoint: str, *, target: str, profile: str, out_set: Any, data: Any, split: str, limit: Any,
             overrides: Any, batch_size: int, show_progress: bool, exports: Any, netx: bool, dt: Any) -> dict:
    from snn_deploy.convert.pipeline import convert as convert_network, quantization_profile
    from snn_deploy.convert.report import format_summary
    from snn_deploy.errors import SnnDeployError, UsageError
    from snn_deploy.ir import save_network
    from snn_deploy.train.export import ir_meta_from_checkpoint, model_to_ir
    from snn_deploy.train.sparch_import import load_any_checkpoint

    if target not in TARGETS:
        raise UsageError(f"--target: unknown target {target!r}; choose one of {', '.join(TARGETS)}")
    profile = quantization_profile(profile)          # a bad profile fails before the checkpoint is read
    from snn_deploy.convert.import_nir import import_nir, is_nir_file

    if is_nir_file(checkpoint):
        source = import_nir(checkpoint, dt=dt)
        dt = source.meta["dt"]
        exports = _check_exports(exports, spiking=True, model="the NIR graph")
    else:
        if dt is not None:
            raise UsageError(f"--dt is for NIR files; {checkpoint} is not one (a checkpoint's time step is its "
                             "duration / time_steps)")
        model, cfg, meta = load_any_checkpoint(checkpoint)
        exports = _check_exports(exports, spiking=cfg.spiking, model=repr(cfg.model))
        if not cfg.spiking and "onnx" in exports:
            from snn_deploy.convert.export_onnx import export_onnx
            with out_set.staging() as tmp:
                export_onnx(model, cfg, tmp / layout.ONNX, time_steps=int(meta["time_steps"]))
            path = out_set.path / layout.ONNX
            return {"outputs": [str(path)], "summary": f"{cfg.model}: wrote {path} (ONNX, {meta['time_steps']} steps)"}
        if not cfg.spiking:
            raise SnnDeployError(f"{checkpoint}: model {cfg.model!r} is an ANN baseline; only spiking models convert "
                                 "to Loihi (export ANNs to ONNX)")
        source = model_to_ir(model, cfg, ir_meta_from_checkpoint(meta, checkpoint))
        dt = float(meta["duration"]) / int(meta["time_steps"])
    conversion = convert_network(source, target=target,
                                 profile=profile, data=data, split=split, limit=limit, overrides=overrides,
                                 batch_size=batch_size, netx=netx, progress=show_progress)
    fixed, float_net, netx_status, report = (conversion.network, conversion.float_network, conversion.netx,
                                             conversion.report)

    nir_graph = None
    if "nir" in exports:
        nir_graph, report["nir"] = _nir_export(float_net, dt)
    out_dir = out_set.path
    with out_set.staging() as tmp:
        save_network(fixed, tmp / layout.NETWORK)
        save_network(float_net, tmp / layout.FLOAT_NETWORK)
        if netx_status["written"]:
            from snn_deploy.convert.export_netx import export_netx
            export_netx(fixed, tmp / layout.NETX, input_message_bits=netx_status.get("input_message_bits", 0))
        if nir_graph is not None:
            import nir
            nir.write(tmp / layout.NIR, nir_graph)
        outputs = [layout.NETWORK, layout.FLOAT_NETWORK] + ([layout.NETX] if netx_status["written"] else []) + \
                  ([layout.NIR] if nir_graph is not None else []) + [layout.QUANTIZATION, layout.CONVERT_SUMMARY]
        report["outputs"] = [str(out_dir / o) for o in outputs]
        summary = format_summary(report)
        (tmp / layout.QUANTIZATION).write_text(json.dumps(report, indent=2, default=json_default) + "\n")
        (tmp / layout.CONVERT_SUMMARY).write_text(summary + "\n")
    report["summary"] = summary
    return report


def _nir_export(float_net: Any, dt: float) -> tuple[Any, dict]:
    """The NIR graph of ``float_net`` and the report's ``nir`` entry; a network NIR cannot express gives
    ``(None, {"written": False, "reason": ...})`` (a warning in the summary, not a failed convert)."""
    from snn_deploy.convert.export_nir import NirExportError, export_nir, nir_caveats

    try:
        graph = export_nir(float_net, dt)
    except NirExportError as exc:
        return None, {"written": False, "reason": str(exc)}
    dt = float(graph.metadata["dt"])
    return graph, {"written": True, "path": layout.NIR, "dt": dt, "caveats": nir_caveats(float_net, dt)}


def _check_exports(exports: Any, *, spiking: bool, model: str) -> set:
    """``--export`` values: nir for spiking models, onnx for ANN baselines; anything else is an error."""
    from snn_deploy.errors import UsageError

    exports = set(exports or ())
    if exports - {"nir", "onnx"}:
        raise UsageError(f"unknown --export {sorted(exports - {'nir', 'onnx'})}; choose from nir, onnx")
    wrong = "onnx" if spiking else "nir"
    if wrong in exports:
        raise UsageError(f"--export {wrong} is for {'ANN baselines' if wrong == 'onnx' else 'spiking models'}; "
                         f"model {model} is {'spiking' if spiking else 'an ANN'}")
    return exports
