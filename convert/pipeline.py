"""``snn_deploy.convert(...)``: a trained model -> float IR -> fixed IR + report, in memory.

The conversion as a library function (``snn-deploy convert`` calls it and writes OUT/): nothing
here writes a file. The source is any of

- a checkpoint path (``model.pt`` of ``snn-deploy train``) or the ``TrainedModel`` ``sd.train`` returns;
- a spiking PyTorch module of ``train.models`` (its ``.cfg``), with ``meta`` giving the data binning
  (``time_steps``, ``duration``, ``binary``, ``encoding``) the comparison on data needs;
- a float network IR (``snn_deploy.ir.Network``, e.g. from ``snn-deploy export``);
- a NIR graph file (told by its content; convert/import_nir.py), with ``dt`` seconds per step where
  its metadata carries none.

Steps: quantize for the profile (``quantize.quantize_network``), netx expressibility, design rules
(``rules.check_rules``) and, with ``data``, float vs fixed on the emulator (``compare``).
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from typing import Any, Optional

from snn_deploy.errors import SnnDeployError, UsageError
from snn_deploy.ir import DEFAULT_TARGET, SIMULATED_TARGETS, Network
from snn_deploy.log import logger

TARGETS = SIMULATED_TARGETS  #: what convert builds for (``run`` also accepts the chip, ``ir.TARGETS``)
DEFAULT_PROFILE = "loihi2"


@dataclass
class Conversion:
    """What ``convert`` returns: the fixed network (``network``), the float one, and the report.

    ``report`` is the dict ``quantization.json`` holds (``convert.report.build_report``); ``netx``
    says whether netx.net can be written (``{"written": bool, "reason"/"path": ...}``).
    """

    network: Network
    float_network: Network
    report: dict[str, Any]
    netx: dict[str, Any] = field(default_factory=dict)

    @property
    def summary(self) -> str:
        from snn_deploy.convert.report import format_summary

        return format_summary(self.report)

    @property
    def comparison(self) -> Optional[dict[str, Any]]:
        """Float vs fixed accuracy and per-layer spike agreement (None without ``data``)."""
        return self.report.get("comparison")


def float_network_of(source: Any, meta: Optional[dict[str, Any]] = None, dt: Optional[float] = None) -> Network:
    """The float IR of ``source`` (checkpoint path, NIR file, TrainedModel, spiking module, or float Network)."""
    if isinstance(source, Network):
        if source.is_fixed:
            raise SnnDeployError("the network is already fixed point (it has a precision record); give the float "
                                 "network, the checkpoint or the trained model")
        return source
    if hasattr(source, "cfg") and callable(getattr(source, "forward", None)):
        from snn_deploy.train.export import model_to_ir

        return model_to_ir(source, source.cfg, dict(meta or {}))
    if isinstance(source, (str, os.PathLike)):
        from snn_deploy.convert.import_nir import import_nir, is_nir_file

        if is_nir_file(source):
            return import_nir(os.fspath(source), dt=dt)
        if dt is not None:
            raise UsageError(f"dt is for NIR files; {os.fspath(source)} is not one")
        from snn_deploy.train.export import checkpoint_to_ir

        return checkpoint_to_ir(os.fspath(source))
    raise SnnDeployError(f"cannot convert a {type(source).__name__}: give a checkpoint path, the result of "
                         "snn_deploy.train, a spiking model of snn_deploy.train.models or a float Network")


def convert(source: Any, *, target: str = DEFAULT_TARGET, profile: Any = DEFAULT_PROFILE, data: Any = None,
            split: str = "test", limit: Optional[int] = None, overrides: Optional[dict] = None,
            batch_size: int = 256, netx: bool = False, progress: bool = True,
            meta: Optional[dict[str, Any]] = None, dt: Optional[float] = None) -> Conversion:
    """Quantize ``source`` for ``target`` on ``profile`` (a name in hw_profiles/, a .json path or a profile).

    ``data``: a data directory (or SHD-layout .h5), or a pair ``(frames [N, T, C], labels [N])``,
    to compare float vs fixed accuracy on (first ``limit`` samples of ``split``). ``overrides``:
    precision overrides ``{model, types, layers, input}``. ``netx``: quantize with netx's
    constraints and raise NetxExportError unless netx.net can be written. ``dt``: seconds per step of
    a NIR file ``source`` (overrides its metadata 'dt').
    """
    from snn_deploy.convert.quantize import quantize_network
    from snn_deploy.convert.report import build_report
    from snn_deploy.convert.rules import check_rules

    if target not in TARGETS:
        raise SnnDeployError(f"unknown target {target!r}; choose one of {', '.join(TARGETS)}")
    if limit is not None and limit <= 0:
        raise SnnDeployError(f"--limit must be a positive number of samples, got {limit}")
    t0 = time.time()
    prof = quantization_profile(profile)
    float_net = float_network_of(source, meta, dt)
    if netx:
        from snn_deploy.convert.export_netx import netx_overrides
        overrides = netx_overrides(overrides)
    fixed = quantize_network(float_net, prof, overrides)
    fixed.meta.update(target=target, profile=prof.name)
    netx_status = netx_status_of(fixed, float_net, prof, overrides, required=netx)
    rules = check_rules(fixed, prof)
    timings = {"quantize": time.time() - t0}
    logger.debug(f"quantized for {target} on profile {prof.name} in {timings['quantize']:.2f} s "
                 f"({len(rules.warnings)} design-rule warnings)")

    comparison = None
    if data is not None:
        x, y = load_comparison_data(data, split, limit, float_net)
        t1 = time.time()
        from snn_deploy.convert.compare import compare_float_fixed
        from snn_deploy.log import progress_bar

        with progress_bar(len(y), "float vs fixed", enabled=progress, unit="sample", leave=False) as bar:
            comparison = compare_float_fixed(float_net, fixed, x, y, batch_size=batch_size, progress=bar.update)
        timings["compare"] = time.time() - t1
    if netx_status["written"]:
        netx_status.update(_netx_input(float_net, None if data is None else x))
    report = build_report(fixed, target=target, profile=prof.name,
                          checkpoint=str(float_net.meta.get("checkpoint", "(in memory)")), rules=rules,
                          comparison=comparison, netx=netx_status, timings=timings)
    return Conversion(network=fixed, float_network=float_net, report=report, netx=netx_status)


def quantization_profile(profile: Any):
    """The hardware profile ``profile`` (a name, a .json path or a loaded profile), checked quantizable."""
    from snn_deploy.convert.profiles import load_profile

    prof = profile if hasattr(profile, "quantizable") else load_profile(profile)
    if not prof.quantizable:
        raise UsageError(f"--profile {prof.name!r} ({prof.kind}) is not a quantization target (it has no "
                             "fixed-point formats); use loihi1 or loihi2")
    return prof


def load_comparison_data(data: Any, split: str, limit: Optional[int], net: Network) -> tuple[Any, Any]:
    """``(frames [N, T, C], labels [N])`` of ``data`` binned as ``net`` was trained, checked against it."""
    import numpy as np

    channels, classes = net.inputs()[0].size, int(net.meta.get("num_classes", net.output().size))
    if isinstance(data, (tuple, list)) and len(data) == 2:
        x, y = np.asarray(data[0]), np.asarray(data[1], dtype=np.int64)
        if x.ndim != 3 or x.shape[-1] != channels or y.shape != (x.shape[0],):
            raise SnnDeployError(f"data: expected frames [N, T, {channels}] and labels [N], got {x.shape} and {y.shape}")
        n = len(y) if limit is None else min(int(limit), len(y))
        return x[:n], y[:n]
    from snn_deploy.train.data import DEFAULT_DURATION_S, DEFAULT_TIME_STEPS, open_dataset

    meta = net.meta
    steps = int(meta.get("time_steps", DEFAULT_TIME_STEPS))
    # a NIR graph carries its step dt, not the binning: bin the data with that dt
    duration = (float(meta["duration"]) if "duration" in meta else steps * float(meta["dt"]) if "dt" in meta
                else DEFAULT_DURATION_S)
    ds = open_dataset(data, split, time_steps=steps, duration=duration, binary=bool(meta.get("binary", False)))
    if ds.num_channels != channels:
        raise SnnDeployError(f"{ds.path}: {ds.num_channels} channels, but the model expects {channels}")
    if ds.num_classes != classes:
        raise SnnDeployError(f"{ds.path}: {ds.num_classes} classes, but the model was trained on {classes}")
    n = len(ds) if limit is None else min(int(limit), len(ds))
    if n == 0:
        raise SnnDeployError(f"{ds.path}: no samples in split {split!r}")
    idx = np.arange(n)
    return ds.frames_batch(idx), np.asarray(ds.labels[idx], dtype=np.int64)


def _netx_input(float_net: Network, x: Any) -> dict:
    """The netx status entries for the input: the message bits netx.net must be loaded with, from the
    data's largest count when there is data and it passes 1, else from the binning: binary, or counts
    of unknown size (a sample of 0/1 counts from count data says nothing of the rest)."""
    import numpy as np

    from snn_deploy.convert.export_netx import input_message_bits_for, netx_load_hint

    binary = bool(float_net.meta.get("binary", False))
    max_count = (int(np.max(x)) if np.size(x) else 0) if x is not None else None
    if max_count is not None and max_count <= 1 and not binary:
        max_count = None        # 0/1 in the samples read does not make count data binary
    elif max_count is None and binary:
        max_count = 1
    bits = input_message_bits_for(max_count)
    return {"input_message_bits": bits, "input_max_count": max_count, "load": netx_load_hint(bits)}


def netx_status_of(fixed: Network, float_net: Network, prof: Any, overrides: Any, required: bool) -> dict:
    """Whether netx.net will be written (``{"written", "path"}``), else why not (``{"written", "reason"}``).

    ``required`` (``--netx``): not expressible is an error. Otherwise, when quantizing with ``--netx``
    would make it expressible, the reason says so.
    """
    from snn_deploy.convert.export_netx import NetxExportError, is_netx_expressible, netx_overrides
    from snn_deploy.convert.quantize import quantize_network

    ok, reason = is_netx_expressible(fixed)
    if ok:
        return {"written": True, "path": "netx.net", "netx_mode": required}
    if required:
        raise NetxExportError(f"--netx: netx.net cannot be written: {reason}")
    try:
        would = is_netx_expressible(quantize_network(float_net, prof, netx_overrides(overrides)))[0]
    except SnnDeployError:
        would = False
    hint = "; `convert --netx` quantizes so that it can be written" if would else ""
    return {"written": False, "reason": reason + hint, "netx_mode": False}
