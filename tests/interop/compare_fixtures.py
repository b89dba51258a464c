"""Shared by make_fixtures.py and tests/test_interop_fixtures.py: import a library's NIR fixture and
compare our run of it with the spikes the library recorded.

``run_fixture(path, rewrite=...)`` also measures an *explanation*: ``rewrite`` turns the graph a
library wrote into the NIR (forward-Euler) statement of that library's own equations, so the
agreement after the rewrite shows how much of a difference the stated cause accounts for.
"""
from pathlib import Path
from typing import Callable, Optional

import numpy as np


def agreement(a: np.ndarray, b: np.ndarray) -> float:
    """Share of identical values of two spike arrays [T, N]."""
    return float(np.mean(np.asarray(a) == np.asarray(b)))


def run_fixture(path: Path, rewrite: Optional[Callable] = None) -> dict:
    """Import ``path`` (dt from its .npz), run it on the recorded input; per layer (hidden = first
    population, out = last) the agreement with the library's spikes, or the import's one-line error.
    ``rewrite(graph, dt, npz)`` (optional) edits the NIR graph before the import."""
    from snn_deploy.convert.import_nir import import_nir, read_nir_file
    from snn_deploy.errors import FormatError
    from snn_deploy.train.ir_runner import run_float_network

    rec = np.load(path.with_suffix(".npz"))
    dt = float(rec["dt"])
    try:
        net = import_nir(path if rewrite is None else rewrite(read_nir_file(path), dt, rec), dt=dt)
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


# ---- the libraries' own equations, stated in NIR ------------------------------------------------

def rockpool_equations(graph, dt: float, rec, *, gain=True, reset=True, recurrence=True):
    """Rockpool 3.1's LIFTorch (lif_torch.py ``forward``) per step: ``isyn = e_s (isyn + I)``,
    ``v = e_m v + isyn``, ``s = v >= ϑ``, ``v -= ϑ s``, with exact decays ``e = exp(-dt/τ)``.
    Its to_nir writes τ_syn, τ_mem, ``r = τ_mem e_m / dt`` and no ``w_in``; read by NIR's Euler rule
    that is ``α = 1 - dt/τ_syn``, ``β = 1 - dt/τ_mem`` and an input gain ``r (1-α) = e_m`` instead of
    Rockpool's ``e_s / (1 - e_m)`` (about 10x smaller at τ_syn = 10 dt). This rewrite states
    Rockpool's equations as NIR: ``gain`` the decays and the input gain, ``reset`` metadata reset
    'subtract', ``recurrence`` the w_rec its export drops (kept in the .npz, [from, to])."""
    import nir

    nodes, edges = dict(graph.nodes), list(graph.edges)
    for name, node in graph.nodes.items():
        if not isinstance(node, nir.CubaLIF):
            continue
        tau_syn, tau_mem = (np.asarray(v, dtype=np.float64) for v in (node.tau_syn, node.tau_mem))
        e_s, e_m = np.exp(-dt / tau_syn), np.exp(-dt / tau_mem)
        params = dict(tau_syn=tau_syn, tau_mem=tau_mem, r=np.asarray(node.r, np.float64), w_in=np.ones_like(tau_syn))
        if gain:   # NIR Euler: α = 1 - dt/τ', so τ' = dt/(1-e); input gain r (1-α) w_in = e_s/(1-e_m)
            params = dict(tau_syn=dt / (1 - e_s), tau_mem=dt / (1 - e_m), r=np.ones_like(tau_syn),
                          w_in=e_s / ((1 - e_m) * (1 - e_s)))
        nodes[name] = nir.CubaLIF(v_leak=np.zeros_like(tau_syn), v_threshold=np.asarray(node.v_threshold),
                                  v_reset=np.zeros_like(tau_syn), metadata={"reset": "subtract"} if reset else {},
                                  **params)
    if recurrence and "w_rec" in rec.files:
        hidden = next(k for k, v in sorted(graph.nodes.items()) if isinstance(v, nir.CubaLIF))
        nodes["w_rec"] = nir.Linear(weight=np.asarray(rec["w_rec"], dtype=np.float64).T)
        edges += [(hidden, "w_rec"), ("w_rec", hidden)]
    return nir.NIRGraph(nodes=nodes, edges=edges, type_check=False)


def rockpool_reference(path: Path) -> dict:
    """Rockpool's equations (``rockpool_equations``) run in float32 on the file's parameters, plus the
    ``w_rec`` the export drops: per layer the agreement with Rockpool's own spikes. 100% says the
    stated equations are all of the difference; what is left against snn-deploy is its reset order
    (Rockpool decays the subtraction, ``v = e_m (v - ϑ s) + isyn``; snn-deploy's cuba_lif subtracts
    after the decay, ``v = β v + (1-β) i - ϑ s``, paper 2 Eq. 4; NIR's CubaLIF resets to v_reset)."""
    import nir

    rec = np.load(path.with_suffix(".npz"))
    dt, graph = float(rec["dt"]), nir.read(path, type_check=False)
    order = ["0_LinearTorch", "1_LIFTorch", "2_LinearTorch", "3_LIFTorch"]
    x = rec["x"].astype(np.float32)
    result = {}
    for layer, (lin, pop) in zip(("hidden", "out"), (order[:2], order[2:])):
        node, weight = graph.nodes[pop], np.asarray(graph.nodes[lin].weight, np.float32)
        e_s = np.exp(-dt / np.asarray(node.tau_syn, np.float32))
        e_m = np.exp(-dt / np.asarray(node.tau_mem, np.float32))
        thr = np.asarray(node.v_threshold, np.float32)
        w_rec = rec["w_rec"].astype(np.float32) if layer == "hidden" and "w_rec" in rec.files else None
        isyn, v, s = (np.zeros(len(thr), np.float32) for _ in range(3))
        out = []
        for t in range(len(x)):
            isyn = isyn + weight @ x[t] + (s @ w_rec if w_rec is not None else 0.0)
            v, isyn = v * e_m, isyn * e_s
            v = v + isyn
            s = (v >= thr).astype(np.float32)
            v = v - s * thr
            out.append(s)
        x = np.array(out)
        result[layer] = agreement(x, rec[f"spikes_{layer}"].reshape(len(x), -1))
    return result


def sinabs_equations(graph, dt: float, rec):
    """Sinabs 3.1 (layers/functional/lif.py) per step, time in steps: LIF ``v = a v + (1-a) I``,
    ``s = v >= ϑ``, ``v -= ϑ s`` (the subtraction is decayed at the next step: snn-deploy's ``lif``);
    ExpLeak ``v = a v + I`` (norm_input False); exact decays ``a = exp(-dt/τ)``. Its to_nir writes τ and
    r = 1, which NIR's Euler rule reads as ``a = 1 - dt/τ`` and a zero reset. Stated in NIR: τ' = dt/(1-a),
    LIF metadata reset 'subtract', LI ``r = 1/(1-a)``."""
    import nir

    nodes = dict(graph.nodes)
    for name, node in graph.nodes.items():
        if isinstance(node, (nir.LIF, nir.LI)):
            tau = np.asarray(node.tau, dtype=np.float64)
            a = np.exp(-dt / tau)
            if isinstance(node, nir.LIF):
                nodes[name] = nir.LIF(tau=dt / (1 - a), r=np.asarray(node.r), v_leak=np.asarray(node.v_leak),
                                      v_threshold=np.asarray(node.v_threshold), v_reset=np.zeros_like(tau),
                                      metadata={"reset": "subtract"})
            else:
                nodes[name] = nir.LI(tau=dt / (1 - a), r=1 / (1 - a), v_leak=np.asarray(node.v_leak))
    return nir.NIRGraph(nodes=nodes, edges=list(graph.edges), type_check=False)


def norse_equations(graph, dt: float, rec):
    """Norse 1.1's to_nir (utils/export_nir.py) writes ``tau = dt / tau_inv``, i.e. ``dt · τ`` (1e-5 s
    for τ = 10 ms at dt = 1 ms) where NIR means ``τ = 1 / tau_inv``; its own from_nir reads
    ``tau_inv = 1 / tau`` back, so Norse does not read its own file either. Nothing in the file says
    which convention wrote it (no metadata), so snn-deploy refuses such a τ < dt; this rewrite
    states Norse's meaning, ``τ = tau / dt``. LIFBoxCell is then NIR's LIF under Euler; LIFCell adds its
    input to the current unscaled (``i += I`` where NIR's Euler step has ``dt/τ_syn · w_in · I``), so
    its export also lacks ``w_in = τ_syn / dt``. The readout Norse exported as None is gone: the dense left without a target
    is dropped and the hidden layer is the output."""
    import nir

    nodes, edges = dict(graph.nodes), list(graph.edges)
    for name, node in graph.nodes.items():
        if isinstance(node, nir.Affine) and not any(s == name for s, _ in edges):
            feeding = [s for s, t in edges if t == name]
            del nodes[name]
            edges = [(s, t) for s, t in edges if name not in (s, t)] + [(f, "output") for f in feeding]
    for name, node in graph.nodes.items():
        keys = {"CubaLIF": ("tau_syn", "tau_mem"), "LIF": ("tau",), "LI": ("tau",)}.get(type(node).__name__, ())
        if keys:
            fields = {k: np.asarray(v) for k, v in vars(node).items() if k not in ("input_type", "output_type")}
            fields.update({k: np.asarray(getattr(node, k), dtype=np.float64) / dt for k in keys})
            if isinstance(node, nir.CubaLIF):   # Norse adds the input to i unscaled: w_in = τ_syn / dt
                fields["w_in"] = fields["tau_syn"] / dt
            nodes[name] = type(node)(**fields)
    return nir.NIRGraph(nodes=nodes, edges=edges, type_check=False)


#: the rewrite that states each library's own equations in NIR (make_fixtures records the agreement after it)
EQUATIONS = {"rockpool": rockpool_equations, "sinabs": sinabs_equations, "norse": norse_equations}


def result_text(measured: dict) -> str:
    """The docs/interop.md cell of one fixture's figures (``run_fixture``'s, with ``explained``)."""
    if "error" in measured:
        text = f"refused: {measured['error']}"
    else:
        text = "; ".join(f"{layer}: {100 * a:.1f}% identical" for layer, a in measured["agreement"].items())
    if isinstance(measured.get("explained"), dict) and "error" not in measured["explained"]:
        text += " (as the library's equations: " + "; ".join(
            f"{layer} {100 * a:.1f}%" for layer, a in measured["explained"].items()) + ")"
    return text.replace("|", "/")
