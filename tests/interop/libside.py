"""The library side of tests/interop/make_fixtures.py: runs inside a scratch environment that has one of
snnTorch, Norse, Rockpool or Sinabs (and never snn-deploy), so it imports only that library, torch,
numpy and nir.

    python libside.py LIB FIXTURES_DIR SCRATCH_DIR

(1) "into": builds small networks with LIB (feed-forward and recurrent; LIF and CUBA; LIB's readout),
runs them on the fixed input, exports NIR: FIXTURES_DIR/<lib>_<case>.nir + .npz (input, dt, LIB's
own spikes per hidden layer, readout). (2) "out": reads every SCRATCH_DIR/ours_<case>.nir (our
exports) with LIB's NIR import, runs it on the same input: SCRATCH_DIR/<lib>_reads_<case>.npz, or
the error it raised. Every failure is recorded as text, not raised.
"""
import json
import sys
import traceback
from pathlib import Path

import nir
import numpy as np
import torch

T, C, H, O = 40, 8, 6, 3
DT = 1e-3
#: the dt each library's export assumes (snnTorch writes tau = dt/(1-β) with its dt = 1e-4 s; Sinabs
#: counts time in steps, tau_mem = 5 is five steps)
EXPORT_DT = {"snntorch": 1e-4, "sinabs": 1.0}
SEED = 0


def fixed_input() -> np.ndarray:
    return (np.random.default_rng(SEED).random((T, C)) < 0.3).astype(np.float32)


def linear(n_in, n_out, gain, bias=True, seed=0):
    torch.manual_seed(seed)
    lin = torch.nn.Linear(n_in, n_out, bias=bias)
    with torch.no_grad():
        lin.weight.mul_(gain)
        if bias:
            lin.bias.mul_(0.1)
    return lin


class Recorder:
    """Forward hooks that keep each named module's output (spikes) per time step."""

    def __init__(self, modules: dict):
        self.out = {k: [] for k in modules}
        for k, m in modules.items():
            m.register_forward_hook(self._hook(k))

    def _hook(self, key):
        def hook(_m, _i, output):
            first = output[0] if isinstance(output, tuple) else output
            self.out[key].append(first.detach().reshape(-1).numpy().copy())
        return hook

    def arrays(self):
        return {k: np.array(v) for k, v in self.out.items()}


# ---- snnTorch ------------------------------------------------------------------------------------

def snntorch_cases():
    import snntorch as snn
    from snntorch.export_nir import export_to_nir

    def build(kind, reset, delay):
        kw = dict(init_hidden=True, reset_mechanism=reset, reset_delay=delay)
        if kind == "leaky":
            hidden = snn.Leaky(beta=torch.full((H,), 0.85), threshold=torch.ones(H), **kw)
        elif kind == "synaptic":
            hidden = snn.Synaptic(alpha=torch.full((H,), 0.6), beta=torch.full((H,), 0.85), threshold=torch.ones(H), **kw)
        else:
            hidden = snn.RSynaptic(alpha=torch.full((H,), 0.6), beta=torch.full((H,), 0.85), threshold=torch.ones(H),
                                   linear_features=H, **kw)
            with torch.no_grad():
                hidden.recurrent.weight.mul_(0.5)
        out = snn.Leaky(beta=torch.full((O,), 0.8), threshold=torch.ones(O), init_hidden=True, output=True, reset_mechanism=reset, reset_delay=delay)
        return torch.nn.Sequential(linear(C, H, 2.0), hidden, linear(H, O, 2.0, seed=1), out)

    cases = {"leaky_zero": ("leaky", "zero", False), "synaptic_zero": ("synaptic", "zero", False),
             "rsynaptic_zero_delayed": ("rsynaptic", "zero", True), "leaky_default": ("leaky", "subtract", True)}
    x = fixed_input()
    for name, (kind, reset, delay) in cases.items():
        net = build(kind, reset, delay)
        rec = Recorder({"hidden": net[1], "out": net[3]})
        with torch.no_grad():
            for t in range(T):
                net(torch.from_numpy(x[t])[None])
        spikes = rec.arrays()            # before the export, whose trace runs the network once more
        graph = export_to_nir(net, torch.from_numpy(x[0]))
        yield name, graph, spikes, {"recurrent": kind == "rsynaptic", "reset": reset, "reset_delay": delay}


def snntorch_read(graph, x):
    from snntorch.import_nir import import_from_nir

    net = import_from_nir(graph)
    import snntorch as snn
    pops = {n: m for n, m in net.named_modules() if isinstance(m, snn.SpikingNeuron)}
    for m in pops.values():
        if hasattr(m, "reset_delay"):
            m.reset_delay = False
    rec = Recorder(pops)
    with torch.no_grad():
        net(torch.from_numpy(x[:1]))  # one call to build state; snnTorch's graph module keeps its own state
    rec.out = {k: [] for k in rec.out}
    state = None
    with torch.no_grad():
        for t in range(T):
            out = net(torch.from_numpy(x[t])[None]) if state is None else net(torch.from_numpy(x[t])[None], state)
            if isinstance(out, tuple) and len(out) == 2:
                out, state = out
    return rec.arrays()


# ---- Norse ---------------------------------------------------------------------------------------

def norse_cases():
    import norse.torch as norse

    x = fixed_input()

    def build(kind):
        if kind == "lif":
            cell = norse.LIFBoxCell(norse.LIFBoxParameters(tau_mem_inv=torch.tensor(100.0), v_th=torch.tensor(0.5)))
        elif kind == "cuba":
            cell = norse.LIFCell(norse.LIFParameters(tau_syn_inv=torch.tensor(200.0), tau_mem_inv=torch.tensor(100.0),
                                                     v_th=torch.tensor(0.5)))
        else:
            cell = norse.LIFRecurrentCell(C, H, p=norse.LIFParameters(tau_syn_inv=torch.tensor(200.0),
                                                                      tau_mem_inv=torch.tensor(100.0),
                                                                      v_th=torch.tensor(0.5)))
        layers = [cell] if kind == "rec" else [linear(C, H, 12.0), cell]
        return norse.SequentialState(*layers, linear(H, O, 3.0, seed=1), norse.LICell())

    for name in ("lif", "cuba", "rec"):
        net = build(name)
        hidden = net[0] if name == "rec" else net[1]
        rec = Recorder({"hidden": hidden, "out": net[-1]})
        state = None
        with torch.no_grad():
            for t in range(T):
                _, state = net(torch.from_numpy(x[t])[None], state)
        spikes = rec.arrays()
        graph = norse.to_nir(net, torch.from_numpy(x[:1]), dt=DT)
        yield name, graph, spikes, {"recurrent": name == "rec", "readout": "li"}


def norse_read(graph, x, dt):
    import norse.torch as norse

    net = norse.from_nir(graph, dt=dt)
    pops = {n: m for n, m in net.named_modules() if type(m).__name__.endswith(("Cell", "BoxCell"))}
    rec = Recorder(pops)
    state = None
    with torch.no_grad():
        for t in range(T):
            _, state = net(torch.from_numpy(x[t])[None], state)
    return rec.arrays()


# ---- Rockpool ------------------------------------------------------------------------------------

def rockpool_cases():
    """LIFTorch with binary spikes (max_spikes_per_dt=1; the default emits spike counts up to 2**16 a step)
    at rates of 0.1-0.4. Rockpool's to_nir drops w_rec: it is kept in the .npz (``w_rec``, [from, to]) so
    the test can show what the file lacks."""
    from rockpool.nn.combinators import Sequential
    from rockpool.nn.modules import LIFTorch, LinearTorch
    from rockpool.nn.modules import to_nir

    x = fixed_input()
    kw = dict(tau_mem=0.02, tau_syn=0.01, threshold=1.0, dt=DT, max_spikes_per_dt=1)
    for name, has_rec in (("lif", False), ("rec", True)):
        torch.manual_seed(0)
        hidden = LIFTorch(H, has_rec=has_rec, **kw)
        net = Sequential(LinearTorch((C, H), has_bias=False), hidden, LinearTorch((H, O), has_bias=False),
                         LIFTorch(O, **kw))
        with torch.no_grad():
            net[0].weight.data *= 0.4
            net[2].weight.data *= 0.4
            if has_rec:
                hidden.w_rec.data *= 0.1
            out, _, rec = net(torch.from_numpy(x)[None], record=True)
        spikes = {"hidden": rec["1_LIFTorch_output"][0].numpy(), "out": out[0].numpy()}
        extra = {"w_rec": hidden.w_rec.detach().numpy()} if has_rec else {}
        yield name, to_nir(net), spikes, {"recurrent": has_rec, "extra": extra}


def rockpool_read(graph, x):
    from rockpool.nn.modules import from_nir

    net = from_nir(graph)
    pops = {n: m for n, m in net.named_modules() if type(m).__name__ in ("LIFTorch", "LIFNeuronTorch", "ExpSynTorch")}
    rec = Recorder(pops)
    with torch.no_grad():
        net(torch.from_numpy(x)[None])   # Rockpool modules take [batch, time, channels]
    return {k: v[-1].reshape(T, -1) for k, v in rec.out.items()}


# ---- Sinabs --------------------------------------------------------------------------------------

def sinabs_cases():
    import sinabs
    import sinabs.layers as sl
    from sinabs.activation import SingleSpike

    x = fixed_input()
    for name in ("iaf", "lif"):   # SingleSpike: binary spikes (the default MultiSpike emits counts)
        hidden = sl.IAF(spike_fn=SingleSpike) if name == "iaf" else sl.LIF(tau_mem=torch.tensor(5.0), spike_fn=SingleSpike)
        net = torch.nn.Sequential(linear(C, H, 2.0 if name == "iaf" else 16.0), hidden, linear(H, O, 2.0, seed=1), sl.ExpLeak(tau_mem=torch.tensor(5.0)))
        with torch.no_grad():
            net(torch.from_numpy(x)[None])   # sinabs layers take [batch, time, ...]
        rec = Recorder({"hidden": hidden, "out": net[3]})
        for m in net:
            if hasattr(m, "reset_states"):
                m.reset_states()
        with torch.no_grad():
            net(torch.from_numpy(x)[None])
        arrays = {k: v[-1].reshape(T, -1) for k, v in rec.out.items()}
        yield name, sinabs.to_nir(net, torch.from_numpy(x)[None]), arrays, {"readout": "ExpLeak"}


def sinabs_read(graph, x):
    import sinabs

    net = sinabs.from_nir(graph, batch_size=1)
    pops = {n: m for n, m in net.named_modules() if hasattr(m, "reset_states") and not list(m.children())}
    rec = Recorder(pops)
    with torch.no_grad():
        net(torch.from_numpy(x)[None])
    return {k: v[-1].reshape(T, -1) for k, v in rec.out.items()}


CASES = {"snntorch": snntorch_cases, "norse": norse_cases, "rockpool": rockpool_cases, "sinabs": sinabs_cases}


def _sort_edges(graph) -> None:
    graph.edges = sorted(tuple(e) for e in graph.edges)
    for node in graph.nodes.values():
        if isinstance(node, nir.NIRGraph):
            _sort_edges(node)


def main(lib: str, fixtures: Path, scratch: Path) -> None:
    x = fixed_input()
    results = {"into": {}, "out": {}, "versions": {lib: __import__(lib).__version__, "nir": getattr(nir, "version", "?")}}
    cases = CASES[lib]()
    while True:
        try:
            name, graph, spikes, info = next(cases)
        except StopIteration:
            break
        except Exception as exc:  # noqa: BLE001 - a library failing is a measurement
            results["into"]["error"] = f"{type(exc).__name__}: {str(exc)[:300]}"
            traceback.print_exc()
            break
        stem = f"{lib}_{name}"
        dropped = [k for k, v in graph.nodes.items() if v is None]   # Norse exports modules it cannot map as None
        if dropped:
            graph.nodes = {k: v for k, v in graph.nodes.items() if v is not None}
            graph.edges = [e for e in graph.edges if e[0] not in dropped and e[1] not in dropped]
            info["dropped_by_export"] = dropped
        _sort_edges(graph)   # nirtorch collects edges in a set: sorted, a regeneration writes the same file
        try:   # uncompressed: small, and Norse writes 0-d arrays (nir 1.0.4, Sinabs' pin, has no option)
            nir.write(fixtures / f"{stem}.nir", graph, compression=None)
        except TypeError:
            nir.write(fixtures / f"{stem}.nir", graph)
        extra = info.pop("extra", {})
        np.savez_compressed(fixtures / f"{stem}.npz", x=x, dt=EXPORT_DT.get(lib, DT), **extra,
                            **{f"spikes_{k}": v for k, v in spikes.items()})
        results["into"][name] = info
    for path in sorted(scratch.glob("ours_*.nir")):
        case = path.stem[len("ours_"):]
        meta = json.loads((scratch / f"ours_{case}.json").read_text())
        try:
            graph = nir.read(path)
            if lib == "snntorch":
                got = snntorch_read(graph, x)
            elif lib == "norse":
                got = {"with_dt": norse_read(graph, x, meta["dt"]), "default_dt": norse_read(nir.read(path), x, 1e-3)}
                got = {f"{w}:{k}": v for w, d in got.items() for k, v in d.items()}
            elif lib == "rockpool":
                got = rockpool_read(graph, x)
            else:
                got = sinabs_read(graph, x)
            np.savez(scratch / f"{lib}_reads_{case}.npz", **{k.replace("/", "_"): v for k, v in got.items()})
            results["out"][case] = {"ok": True, "outputs": sorted(got)}
        except Exception as exc:  # noqa: BLE001
            results["out"][case] = {"ok": False, "error": f"{type(exc).__name__}: {str(exc)[:300]}"}
    (scratch / f"{lib}_results.json").write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main(sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3]))
