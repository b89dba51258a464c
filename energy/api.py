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
from snn_deploy.layout import ACTIVITY, NETWORK

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
    from snn_deploy.energy.record import build_report

    if not counted:
        raise SnnDeployError("no run to price")
    tables, ann_tables, notes = tables or load_tables(profiles, ann_profiles)
    needs_shape = any(not spec.endswith((".onnx", ".pt", ".pth")) for spec in baselines)
    shape = SnnShape.of(network) if needs_shape else None
    steps = counted[0][3].input_steps
    resolved = [resolve_baseline(spec, shape, steps, dict(onnx_dims or {}), allow_unsupported) for spec in baselines]
    return build_report(counted, tables, resolved, ann_tables, memory=memory, extra_notes=notes)


def count_runs(runs: Sequence[Path], *, activity: Optional[Path] = None, network: Optional[Path] = None,
               nonzero_synapses: bool = False) -> tuple[list[tuple[str, str, str, Any]], Any]:
    """Count the recorded runs on disk: ``([(name, network source, activity source, NetworkCounts)], first network)``.

    A run is a ``snn-deploy convert`` OUT directory (its activity.h5, and the network .h5 there the
    activity was recorded from: ``find_network``) or a network .h5 (activity.h5 beside it);
    ``activity`` / ``network`` name the files of a single run instead.
    """
    from snn_deploy.activity import load_activity
    from snn_deploy.convert.registers import check_registers
    from snn_deploy.energy.counting import count_network
    from snn_deploy.ir import load_network
    from snn_deploy.log import logger
    from snn_deploy.outdir import settle

    counted, first_net = [], None
    for run in runs:
        settle(run if run.is_dir() else run.parent, "energy")
        act_path = activity or (run / ACTIVITY if run.is_dir() else run.parent / ACTIVITY)
        act = load_activity(act_path)
        net_path, net = (network, None) if network else find_network(run, act.network_digest)
        if net is None:
            net = load_network(net_path)
        check_registers(net, source=net_path)
        logger.info(f"counting {run} ({act.num_samples} samples x {act.num_steps} steps) ...")
        counts = count_network(net, act, source=str(act_path), nonzero_synapses=nonzero_synapses)
        name = f"{run.parent.name}/{run.name}" if run.is_dir() and run.parent.name else run.stem
        counted.append((name, str(net_path), str(act_path), counts))
        first_net = first_net or net
    return counted, first_net


def find_network(run: Path, digest: str | None):
    """The network IR in ``run`` (a file, or the .h5 in a directory whose digest is ``digest``)."""
    from snn_deploy.errors import SnnDeployError
    from snn_deploy.ir import FORMAT_TAG, is_network_file, load_network, network_digest

    if run.is_file():
        return run, load_network(run)
    if not run.is_dir():
        raise SnnDeployError(f"{run}: no such run directory or network file")
    candidates = [f for f in sorted(run.glob("*.h5")) + sorted(run.glob("*/*.h5")) if is_network_file(f)]
    if not candidates:
        raise SnnDeployError(f"{run}: holds no network IR file (*.h5 with format {FORMAT_TAG!r}); give --network")
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
        net_source = str(path / NETWORK if path.is_dir() else path)
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
