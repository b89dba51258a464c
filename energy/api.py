"""``snn_deploy.energy(network, activity, profiles=[...], baselines=[...])``: the energy report, in memory.

The energy stage as a library function (``snn-deploy energy`` calls ``price_runs`` and writes the
report directory): count operations from an ``Activity`` (``counting``), price them on hardware
profiles (``pricing``) and against ANN baselines (``baselines``). The returned ``EnergyReport``
writes itself: ``.to_markdown()``, ``.to_json()``, ``.write(dir)`` (energy.md, energy.json, plots).
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Optional, Sequence

from snn_deploy.errors import SnnDeployError, UsageError

DEFAULT_PROFILES = ("loihi1", "cmos45nm-int32")
DEFAULT_ANN_PROFILE = "cmos45nm-int32"


def load_tables(profiles: Sequence[str], ann_profiles: Optional[Sequence[str]]) -> tuple[list, list, list[str]]:
    """``(tables, ann_tables, notes)``: the SNN's profiles and those the ANN baselines are priced on.

    Without ``ann_profiles`` the ANNs use the arithmetic ones among ``profiles``, else
    ``DEFAULT_ANN_PROFILE`` (and a note says so).
    """
    from snn_deploy.energy.pricing import load_energy_table

    tables = [load_energy_table(name) for name in profiles]
    if ann_profiles:
        ann_tables = [load_energy_table(name) for name in ann_profiles]
        bad = [t.profile for t in ann_tables if not t.can_run_ann]
        if bad:
            raise UsageError(f"--ann-profile {', '.join(bad)}: prices no MAC/AC, an ANN cannot be priced on it")
        return tables, ann_tables, []
    ann_tables = [t for t in tables if t.can_run_ann]
    if ann_tables:
        return tables, ann_tables, []
    return tables, [load_energy_table(DEFAULT_ANN_PROFILE)], [
        f"No arithmetic profile among --profile: ANN baselines priced on {DEFAULT_ANN_PROFILE}."]


def price_runs(counted: Sequence[tuple[str, str, str, Any]], network: Any, *,
               profiles: Sequence[str] = DEFAULT_PROFILES, baselines: Sequence[str] = (),
               ann_profiles: Optional[Sequence[str]] = None, memory: bool = True,
               onnx_dims: Optional[dict[str, int]] = None, allow_unsupported: bool = False,
               tables: Optional[tuple[list, list, list[str]]] = None):
    """The report of counted runs ``(name, network source, activity source, NetworkCounts)``.

    ``network``: the (first) run's network; equation baselines (``gru``, ``rnn:3x128``...) copy its
    shape. Baseline specs: see ``energy.baselines``. ``tables``: ``load_tables``' result, when the
    caller loaded the profiles already (to reject a bad profile before counting).
    """
    from snn_deploy.energy.baselines import SnnShape, resolve_baseline
    from snn_deploy.energy.report import build_report

    if not counted:
        raise SnnDeployError("no run to price")
    tables, ann_tables, notes = tables or load_tables(profiles, ann_profiles)
    needs_shape = any(not spec.endswith((".onnx", ".pt", ".pth")) for spec in baselines)
    shape = SnnShape.of(network) if needs_shape else None
    steps = counted[0][3].input_steps
    resolved = [resolve_baseline(spec, shape, steps, dict(onnx_dims or {}), allow_unsupported) for spec in baselines]
    return build_report(counted, tables, resolved, ann_tables, memory=memory, extra_notes=notes)


def energy(network: Any, activity: Any, *, profiles: Sequence[str] = DEFAULT_PROFILES, baselines: Sequence[str] = (),
           ann_profiles: Optional[Sequence[str]] = None, memory: bool = True, nonzero_synapses: bool = False,
           onnx_dims: Optional[dict[str, int]] = None, allow_unsupported: bool = False, name: str = "snn"):
    """Count ``activity`` (an ``Activity`` or activity.h5) recorded from ``network`` and price it.

    ``network``: a fixed ``Network``, the ``Conversion`` of ``snn_deploy.convert``, a network .h5 or
    a ``snn-deploy convert`` OUT directory. ``profiles``: hardware profiles (names in hw_profiles/ or
    .json paths); ``baselines``: ANN specs (``gru``, ``gru:3x128``, a checkpoint .pt, an .onnx).
    ``memory``: add the memory-access term (the default, as the CLI); ``nonzero_synapses``: count only
    synapses whose weight is nonzero (NeuroBench's convention). Returns ``energy.report.EnergyReport``.
    """
    from snn_deploy.activity import Activity, load_activity
    from snn_deploy.ir import Network, load_network

    from snn_deploy.energy.counting import count_network

    if isinstance(getattr(network, "network", None), Network):         # a convert.pipeline.Conversion
        network = network.network
    net_source = "(in memory)"
    if isinstance(network, (str, os.PathLike)):
        path = Path(network)
        net_source = str(path / "network.h5" if path.is_dir() else path)
        network = load_network(net_source)
    if not isinstance(network, Network):
        raise SnnDeployError(f"energy: cannot price a {type(network).__name__}; give a Network, a Conversion or a path")
    from snn_deploy.convert.registers import check_registers

    check_registers(network, source=None if net_source == "(in memory)" else net_source)
    act_source = "(in memory)"
    if isinstance(activity, (str, os.PathLike)):
        act_source = str(activity)
        activity = load_activity(activity)
    if not isinstance(activity, Activity):
        raise SnnDeployError(f"energy: expected an Activity (from snn_deploy.run) or an activity.h5 path, "
                             f"got a {type(activity).__name__}")
    counts = count_network(network, activity, source=act_source if act_source != "(in memory)" else "activity",
                           nonzero_synapses=nonzero_synapses)
    return price_runs([(name, net_source, act_source, counts)], network, profiles=profiles, baselines=baselines,
                      ann_profiles=ann_profiles, memory=memory, onnx_dims=onnx_dims,
                      allow_unsupported=allow_unsupported)
