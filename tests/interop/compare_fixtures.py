"""Shared by make_fixtures.py and tests/test_interop_fixtures.py: import a library's NIR fixture and
compare our run of it with the spikes the library recorded."""
from pathlib import Path

import numpy as np


def agreement(a: np.ndarray, b: np.ndarray) -> float:
    """Share of identical values of two spike arrays [T, N]."""
    return float(np.mean(np.asarray(a) == np.asarray(b)))


def run_fixture(path: Path) -> dict:
    """Import ``path`` (dt from its .npz), run it on the recorded input; per layer (hidden = first
    population, out = last) the agreement with the library's spikes, or the import's one-line error."""
    from snn_deploy.convert.import_nir import import_nir
    from snn_deploy.errors import FormatError
    from snn_deploy.train.ir_runner import run_float_network

    rec = np.load(path.with_suffix(".npz"))
    try:
        net = import_nir(path, dt=float(rec["dt"]))
    except FormatError as exc:
        return {"error": str(exc).split(": ", 1)[1]}
    run = run_float_network(net, rec["x"][None].astype(np.float32))
    order = [p.name for p in net.layer_order() if p.spiking]
    ours = {"hidden": order[0], "out": order[-1]} if len(order) > 1 else {"hidden": order[0]}
    result = {"agreement": {}, "ours": {}, "library_spikes": {}}
    for layer, name in ours.items():
        key = f"spikes_{layer}"
        if key not in rec.files:
            continue
        lib = rec[key].reshape(rec["x"].shape[0], -1)
        mine = run.spikes[name][0].numpy()
        result["agreement"][layer] = agreement(mine, lib)
        result["ours"][layer] = int(mine.sum())
        result["library_spikes"][layer] = int(lib.sum())
    return result
