"""Batched, bit-accurate integer emulator of a fixed network IR, with Lava's graph semantics.

Graph semantics (Lava's ``PyDenseModelBitAcc`` under the Loihi protocol; DESIGN.md section 4):

- a dense accumulates ``acc[t] = W x[t]`` from its source's output at step ``t`` and delivers
  ``a[t+1] = acc[t] << e`` (or ``>> -e``, flooring) at the NEXT step: one step of delay per synaptic
  hop. A recurrent dense (source == target) therefore delivers exactly ``V s[t-1]``; the input
  ``x[t]`` enters the first dense at step ``t`` and reaches the first population at ``t + 1``;
- the denses on one port of a population are summed after their shifts (Lava's InPort sums them);
- every population runs the integer step of ``convert.fixed_neurons`` from an all-zero state.

A population at hop depth ``d`` (``d`` = 1 + the largest depth of its feed-forward sources, inputs at
0) is at step ``t`` where the float network (``train.ir_runner``, no delays) is at step ``t - d``;
a run of ``T`` input steps therefore takes ``S = T + depth(readout)`` steps (``num_steps``), the
last ``depth`` of them with zero input (pipeline flush).

Pipeline reset (``reset_steps``): during its first ``d`` steps (the lead-in) a population has no
input from the sample yet but integrates its bias (and lead-in spikes of the layers before it), so
it would start its real step ``d`` from a state the float network never had (adLIF's slow
adaptation keeps such a transient for ~100 steps). Every population is therefore zeroed after its
step ``d - 1``, together with the pending accumulation of its recurrent denses (what Lava's
``lava.proc.io.reset.Reset(interval=window, offset=d - 1)`` on ``u``, ``v`` and the recurrent
Dense's ``a_buff`` does); its lead-in spikes stay in the record. Each sample also starts from zero.
From step ``d`` on, the population then follows the float network exactly up to quantization.

Speed: since populations form a DAG plus self-recurrence, each population runs over the whole
sequence at once: all its feed-forward input ``W x`` for all steps and samples is ONE matmul; only
the recurrent denses and the neuron step loop over time. Integer matmuls run as float BLAS matmuls,
exact because every partial sum stays below 2^24 (float32) or 2^53 (float64): the bound
``max|x| * max_row sum|w|`` is checked per dense (``fixed_point.exact_float_dtype``). The batch is
cut into one slice per core (at least ``MIN_THREAD_BATCH`` samples each), run on threads (numpy releases
the GIL inside array operations); samples are independent, so the slices join to the same integers.
"""
from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Optional

import numpy as np

from snn_deploy.convert import fixed_point as fp
from snn_deploy.convert.fixed_neurons import FixedModel, get_model
from snn_deploy.convert.registers import check_registers
from snn_deploy.errors import SnnDeployError
from snn_deploy.ir import DenseNode, InputNode, Network, NeuronNode

READOUT_MODES = ("cumsoftmax", "spike_count", "last", "max")
SPIKE_PAYLOAD_MAX = 255          #: input spike counts are 8-bit graded payloads
WRAP_JUMP = fp.STATE_HALF        #: a one-step change larger than 2^23 in a wrapping state is a wrap
SPARSE_DENSITY = 0.05            #: feed-forward sources sparser than this use a sparse matmul (measured break-even)
MIN_THREAD_BATCH = 32            #: fewer samples per thread than this are not worth a thread
INT32_EXACT_BITS = 31            #: integer sums below 2^31 are exact in int32
ENGINES = ("auto", "compiled", "numpy")   #: how each population's time loop runs (``emulate(engine=...)``)


@dataclass
class EmulatorRun:
    """Result of ``emulate``: ``S = num_steps`` steps for ``T = input_steps`` input steps.

    ``spikes[pop]`` ``[B, S, N]`` uint8 per spiking population; ``potentials[pop]`` ``[B, S, N]`` int64
    per non-spiking population (the readout); ``states[pop][var]`` ``[B, S, N]`` int64 when asked
    (``record_state``); ``scores [B, K]`` and ``predictions [B]`` from ``readout_predictions``;
    ``depth[pop]`` the hop depth; ``overflow[pop]`` counts of saturated / wrapped state values.
    """

    input_steps: int
    num_steps: int
    spikes: dict[str, np.ndarray]
    potentials: dict[str, np.ndarray]
    scores: np.ndarray
    predictions: np.ndarray
    depth: dict[str, int]
    overflow: dict[str, dict[str, int]] = field(default_factory=dict)
    states: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)


def population_depths(net: Network) -> dict[str, int]:
    """Hop depth of every population: 1 + the largest depth of its feed-forward sources (inputs: 0)."""
    depth: dict[str, int] = {n.name: 0 for n in net.inputs()}
    for pop in net.layer_order():
        sources = [net.source_of(d.name) for d in net.incoming(pop.name) if not net.is_recurrent(d.name)]
        depth[pop.name] = 1 + max((depth[s] for s in sources), default=0)
    return {k: v for k, v in depth.items() if k not in {n.name for n in net.inputs()}}


def reset_steps(net: Network) -> dict[str, int]:
    """Step after which each population (and its recurrent denses' buffers) is zeroed: ``depth - 1``."""
    return {name: d - 1 for name, d in population_depths(net).items()}


def num_steps(net: Network, input_steps: int) -> int:
    """Steps to run for ``input_steps`` of input: input steps + pipeline depth of the deepest population."""
    return int(input_steps) + max(population_depths(net).values())


def readout_window(net: Network, input_steps: int) -> tuple[int, int]:
    """``[first, stop)`` steps of the output population that correspond to the float run's ``T`` steps."""
    d = population_depths(net)[net.output().name]
    return d, d + int(input_steps)


def readout_scale(net: Network) -> float:
    """State units per float unit of the output population (``precision.layers[out]['scale']``)."""
    out = net.output().name
    if net.precision is None:
        return 1.0
    try:
        return float(net.precision.layers[out]["scale"])
    except KeyError:
        raise SnnDeployError(f"fixed network has no scale for output population {out!r} in its precision record; "
                             "re-run `snn-deploy convert`") from None


def readout_predictions(trace: np.ndarray, mode: str, *, scale: float = 1.0, first: int = 0,
                        stop: Optional[int] = None) -> tuple[np.ndarray, np.ndarray]:
    """``(scores [B, K], predictions [B])`` from the output population's trace ``[B, S, K]``.

    Off-chip post-processing shared by every backend (emulator, Lava). Over steps ``[first, stop)``,
    with ``u = trace / scale`` (float): ``cumsoftmax``: ``sum_t softmax(u[t])``; ``last``: ``u[stop-1]``;
    ``max``: ``max_t u[t]``; ``spike_count``: ``sum_t s[t]`` (``trace`` holds the spikes). The
    prediction is the argmax over classes (first index on ties).
    """
    if mode not in READOUT_MODES:
        raise SnnDeployError(f"unknown readout {mode!r}; choose one of {', '.join(READOUT_MODES)}")
    window = np.asarray(trace)[:, first:stop].astype(np.float64)
    if window.shape[1] == 0:
        raise SnnDeployError(f"readout window [{first}, {stop}) is empty for a trace of {trace.shape[1]} steps")
    if mode == "spike_count":
        scores = window.sum(axis=1)
    else:
        u = window / float(scale)
        if mode == "cumsoftmax":
            e = np.exp(u - u.max(axis=-1, keepdims=True))
            scores = (e / e.sum(axis=-1, keepdims=True)).sum(axis=1)
        elif mode == "last":
            scores = u[:, -1]
        else:
            scores = u.max(axis=1)
    return scores, scores.argmax(axis=-1)


def encode_inputs(net: Network, x: np.ndarray) -> np.ndarray:
    """Integer input payloads ``[B, T, C]`` for the emulator and Lava.

    ``spikes`` encoding: spike counts, integral and in ``[0, 255]`` (8-bit graded spikes; binary
    when all are 0/1). ``graded`` encoding: ``round(x * scale)`` with the input scale of the precision
    record (``precision.layers[input]['scale']``). An integer array is taken as already encoded and
    passes unchanged for either encoding (graded: no scaling is applied; spikes: the range is still
    checked); give floats to have graded values scaled.
    """
    inp = _single_input(net)
    x = np.asarray(x)
    if x.ndim != 3 or x.shape[2] != inp.size:
        raise SnnDeployError(f"input must be [batch, time, {inp.size}] for input node {inp.name!r}, got shape {x.shape}")
    if np.issubdtype(x.dtype, np.integer):
        out = x
    elif inp.encoding == "spikes":
        if not np.all(x == np.round(x)):
            raise SnnDeployError(f"input {inp.name!r} has encoding 'spikes' but the given values are not integer counts")
        _check_spike_range(inp, x)          # before the cast, which would wrap 65537.0 to 1
        out = x.astype(np.int16)
    else:
        scale = float((net.precision.layers.get(inp.name) or {}).get("scale", 1.0)) if net.precision else 1.0
        out = np.rint(x * scale).astype(np.int64)
    if inp.encoding == "spikes":
        _check_spike_range(inp, out)
    return out


def _check_spike_range(inp: InputNode, x: np.ndarray) -> None:
    if x.size and (x.min() < 0 or x.max() > SPIKE_PAYLOAD_MAX):
        raise SnnDeployError(
            f"input {inp.name!r}: spike counts must be in [0, {SPIKE_PAYLOAD_MAX}], got [{x.min()}, {x.max()}]")


def emulate(net: Network, inputs: np.ndarray, *, record: bool = True, record_state: bool = False,
            readout: Optional[str] = None, pipeline_reset: bool = True, engine: str = "auto") -> EmulatorRun:
    """Run the fixed network ``net`` on ``inputs [B, T, C]`` (integer payloads, or floats: ``encode_inputs``).

    ``record=False`` keeps only what the predictions need (memory for big batches);
    ``record_state=True`` also returns every state variable of every population per step;
    ``pipeline_reset=False`` skips the reset after each population's lead-in (plain Lava graph
    without Reset processes; the float network is then matched only after the lead-in transient).
    ``engine``: ``"compiled"`` runs each population's time loop as ``convert.kernels``' compiled
    kernel (needs numba, the ``fast`` extra), ``"numpy"`` as numpy array steps, ``"auto"`` the first
    that is available; all give the same integers.
    """
    if not net.is_fixed:
        raise SnnDeployError("emulate runs a fixed-point network: quantize it first (`snn-deploy convert`)")
    net.validate()
    check_registers(net)
    engine = resolve_engine(engine)
    x = encode_inputs(net, inputs)
    B, T, _ = x.shape
    depths = population_depths(net)
    S = T + max(depths.values())
    parts = np.array_split(x, _workers(B)) if B else [x]
    if len(parts) == 1:
        spikes, potentials, states, overflow = _run_graph(net, x, depths, S, record, record_state, pipeline_reset, engine)
    else:   # numpy releases the GIL inside its array operations: batch slices run side by side
        with ThreadPoolExecutor(len(parts)) as pool:
            runs = list(pool.map(lambda part: _run_graph(net, part, depths, S, record, record_state,
                                                         pipeline_reset, engine), parts))
        spikes, potentials, states, overflow = _join_runs(runs)
    out_pop = net.output()
    mode = readout or net.meta.get("readout", "cumsoftmax")
    trace = spikes[out_pop.name] if out_pop.spiking else potentials[out_pop.name]
    if mode == "spike_count" and not out_pop.spiking:
        raise SnnDeployError(f"readout 'spike_count' needs a spiking output population, {out_pop.name!r} is {out_pop.model}")
    first, stop = depths[out_pop.name], depths[out_pop.name] + T
    scores, predictions = readout_predictions(trace, mode, scale=readout_scale(net), first=first, stop=stop)
    return EmulatorRun(input_steps=T, num_steps=S, spikes=spikes, potentials=potentials, scores=scores,
                       predictions=predictions, depth=depths, overflow=overflow, states=states)


def resolve_engine(engine: str) -> str:
    """``"compiled"`` or ``"numpy"`` for an ``emulate(engine=...)`` value (``"auto"``: compiled if numba is there)."""
    from snn_deploy.convert import kernels

    if engine not in ENGINES:
        raise SnnDeployError(f"unknown emulator engine {engine!r}; choose one of {', '.join(ENGINES)}")
    if engine == "auto":
        return "compiled" if kernels.available() else "numpy"
    if engine == "compiled" and not kernels.available():
        raise SnnDeployError("emulator engine 'compiled' needs numba: pip install 'snn-deploy[fast]'")
    return engine


# ---- internals -------------------------------------------------------------------------------

@dataclass
class _Recurrent:
    weight: np.ndarray   # float [N, N], transposed for s @ W
    exp: int
    port: str


def _single_input(net: Network) -> InputNode:
    inputs = net.inputs()
    if len(inputs) != 1:
        raise SnnDeployError(f"the emulator supports one input node, the network has {len(inputs)}")
    return inputs[0]


def _last_use(net: Network, order: list[NeuronNode]) -> dict[str, int]:
    """Index in ``order`` of the last population that reads each output (to free memory early)."""
    last: dict[str, int] = {}
    for i, pop in enumerate(order):
        for d in net.incoming(pop.name):
            last[net.source_of(d.name)] = i
    return last


def _workers(batch: int) -> int:
    """Threads for a batch: one per available core, each with at least ``MIN_THREAD_BATCH`` samples."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, min(cores, batch // MIN_THREAD_BATCH))


def _join_runs(runs: list[tuple]) -> tuple:
    """Concatenate the per-slice records of ``_run_graph`` along the batch and sum the overflow counts."""
    spikes = {k: np.concatenate([r[0][k] for r in runs]) for k in runs[0][0]}
    potentials = {k: np.concatenate([r[1][k] for r in runs]) for k in runs[0][1]}
    states = {p: {n: np.concatenate([r[2][p][n] for r in runs]) for n in runs[0][2][p]} for p in runs[0][2]}
    overflow = {p: {c: sum(r[3][p][c] for r in runs) for c in runs[0][3][p]} for p in runs[0][3]}
    return spikes, potentials, states, overflow


def _run_graph(net: Network, x: np.ndarray, depths: dict[str, int], S: int, record: bool, record_state: bool,
               pipeline_reset: bool, engine: str = "numpy") -> tuple[dict, dict, dict, dict]:
    """All populations in layer order on the integer inputs ``x [B, T, C]``: (spikes, potentials, states, overflow)."""
    B = x.shape[0]
    inp = _single_input(net)
    outputs: dict[str, np.ndarray] = {inp.name: x}     # T steps; the S - T flush steps carry no input
    out_pop = net.output()
    order = net.layer_order()
    last_use = _last_use(net, order)
    spikes: dict[str, np.ndarray] = {}
    potentials: dict[str, np.ndarray] = {}
    states: dict[str, dict[str, np.ndarray]] = {}
    overflow: dict[str, dict[str, int]] = {}
    for i, pop in enumerate(order):
        model = get_model(pop.model)
        y, pop_states, counts = _run_population(net, pop, model, outputs, B, S, record_state,
                                                reset_after=depths[pop.name] - 1 if pipeline_reset else -1,
                                                engine=engine)
        overflow[pop.name] = counts
        if record_state:
            states[pop.name] = pop_states
        outputs[pop.name] = y
        if record or pop.name == out_pop.name:
            if model.spiking:
                spikes[pop.name] = y
            else:
                potentials[pop.name] = y
        for name in [n for n, last in last_use.items() if last == i and n != out_pop.name]:
            outputs.pop(name, None)
    return spikes, potentials, states, overflow


def _dense_weight(dense: DenseNode) -> np.ndarray:
    w = np.asarray(dense.weight)
    if not np.issubdtype(w.dtype, np.integer) and not np.all(w == np.round(w)):
        raise SnnDeployError(f"dense {dense.name!r} of a fixed network has non-integer weights")
    w = w.astype(np.int64)
    if dense.mask is not None:
        w = w * np.asarray(dense.mask).astype(np.int64)
    if dense.bias is not None and np.any(dense.bias):
        raise SnnDeployError(f"dense {dense.name!r} of a fixed network has a bias: Loihi denses have none "
                             "(the quantizer moves it into the neurons' bias_mant/bias_exp)")
    return w


def _feed_forward(x: np.ndarray, w: np.ndarray, exp: int, S: int, out: Optional[np.ndarray] = None) -> np.ndarray:
    """Delivered input ``[B, S, N]`` of a feed-forward dense: ``a[t] = shift(W x[t-1])``, ``a[0] = 0``,
    added into ``out`` when given (a port's sum, without a temporary ``[B, S, N]``), and returned.

    ``x`` may have fewer than ``S`` steps (the input: nothing after its ``T`` steps). Sparse sources
    (spikes) go through an exact integer sparse matmul, dense ones through ``fixed_point.int_matmul``.
    """
    B, T_src, C = x.shape
    if out is None:
        out = np.zeros((B, S, w.shape[0]), np.int64)
    n = min(T_src, S - 1)
    if n <= 0:
        return out
    src = x[:, :n].reshape(B * n, C)
    nonzero = src != 0
    if np.count_nonzero(nonzero) < SPARSE_DENSITY * src.size:
        acc = _sparse_matmul(src, nonzero, w)
    else:
        acc = fp.int_matmul(src, w)
    out[:, 1:n + 1] += fp.weight_shift(acc, exp).reshape(B, n, -1)
    return out


def _sparse_matmul(src: np.ndarray, nonzero: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Exact ``src @ w.T`` for a sparse integer ``src`` [R, C] (``nonzero = src != 0``, whose flatnonzero
    is several times cheaper than that of ``src`` itself): CSR built from the nonzeros, integer
    arithmetic in int32 when ``max|src| * max_row sum|w| < 2^31`` (no partial sum can overflow), else int64."""
    import scipy.sparse

    rows_n, cols_n = src.shape
    flat = src.reshape(-1)
    idx = np.flatnonzero(nonzero)
    rows = idx // cols_n
    indptr = np.zeros(rows_n + 1, np.int64)
    np.cumsum(np.bincount(rows, minlength=rows_n), out=indptr[1:])
    bound = float(np.abs(flat[idx]).max(initial=0)) * float(np.abs(w).sum(axis=1).max(initial=0))
    dt = np.int32 if bound < 2.0 ** INT32_EXACT_BITS else np.int64
    m = scipy.sparse.csr_matrix((flat[idx].astype(dt), (idx - rows * cols_n).astype(np.int32), indptr),
                                shape=src.shape)
    return np.asarray(m @ np.ascontiguousarray(w.T.astype(dt))).astype(np.int64, copy=False)


def _run_population(net: Network, pop: NeuronNode, model: FixedModel, outputs: dict[str, np.ndarray],
                    B: int, S: int, record_state: bool, reset_after: int = -1,
                    engine: str = "numpy") -> tuple[np.ndarray, dict[str, np.ndarray], dict[str, int]]:
    ff: dict[str, np.ndarray] = {port: np.zeros((B, S, pop.size), np.int64) for port in model.ports}
    recurrent: list[_Recurrent] = []
    for port in model.ports:
        for dense in net.incoming(pop.name, port):
            w = _dense_weight(dense)
            if net.is_recurrent(dense.name):
                max_row = float(np.abs(w).sum(axis=1).max()) if w.size else 0.0
                # the recurrent input is the population's own output: 0/1 spikes, or a potential up to 2^23 - 1
                max_in = 1.0 if model.spiking else float(fp.STATE_MAX)
                dt = fp.exact_float_dtype(max_in, max_row)
                recurrent.append(_Recurrent(np.ascontiguousarray(w.T.astype(dt)), int(dense.weight_exp), port))
            else:
                _feed_forward(outputs[net.source_of(dense.name)], w, int(dense.weight_exp), S, out=ff[port])
    params = model.params_from_node(pop)
    loop = _compiled_time_loop if engine == "compiled" else _numpy_time_loop
    return loop(model, params, ff, recurrent, B, S, pop.size, record_state, reset_after)


def _numpy_time_loop(model: FixedModel, params: Any, ff: dict[str, np.ndarray], recurrent: list[_Recurrent],
                     B: int, S: int, size: int, record_state: bool,
                     reset_after: int) -> tuple[np.ndarray, dict[str, np.ndarray], dict[str, int]]:
    """The time loop in numpy: the model's ``step`` on ``[B, N]`` arrays once per step (the fallback)."""
    state = model.initial_state(size, (B,))
    y = np.zeros((B, S, size), np.uint8 if model.spiking else np.int64)
    rec_states = {n: np.zeros((B, S, size), np.int64) for n in model.state_names} if record_state else {}
    counts = {f"saturated_{n}": 0 for n in model.saturating}
    counts.update({f"wrapped_{n}": 0 for n in model.wrapping})
    prev = np.zeros((B, size), np.int64)
    for t in range(S):
        inputs = {port: ff[port][:, t] for port in model.ports}
        if recurrent and t > 0:
            for r in recurrent:
                # exact: |partial sums| < 2^24 (float32) or 2^53 (float64), checked when r was built
                acc = (prev.astype(r.weight.dtype) @ r.weight).astype(np.int64)
                inputs[r.port] = inputs[r.port] + fp.weight_shift(acc, r.exp)
        old = state
        out, state = model.apply(inputs, state, params)
        y[:, t] = out
        prev = out
        for n in model.saturating:
            counts[f"saturated_{n}"] += int(np.count_nonzero(np.abs(getattr(state, n)) >= fp.STATE_MAX))
        for n in model.wrapping:
            counts[f"wrapped_{n}"] += int(np.count_nonzero(np.abs(getattr(state, n) - getattr(old, n)) > WRAP_JUMP))
        if record_state:
            for n in model.state_names:
                rec_states[n][:, t] = getattr(state, n)
        if t == reset_after:   # pipeline reset (after the step, as Lava's Reset in post-management)
            state = model.initial_state(size, (B,))
            prev = np.zeros_like(out)
    return y, rec_states, counts


def _compiled_time_loop(model: FixedModel, params: Any, ff: dict[str, np.ndarray], recurrent: list[_Recurrent],
                        B: int, S: int, size: int, record_state: bool,
                        reset_after: int) -> tuple[np.ndarray, dict[str, np.ndarray], dict[str, int]]:
    """The time loop as ``convert.kernels``' compiled kernel of the model: one call for all steps
    without recurrence; with it, one BLAS product per recurrent dense and step (into preallocated
    buffers) and one kernel call per step. The same integers as ``_numpy_time_loop``."""
    from snn_deploy.convert import kernels

    kernel = kernels.population_kernel(model)
    state = model.initial_state(size, (B,))
    y = np.zeros((B, S, size), np.uint8 if model.spiking else np.int64)
    rec_states = [np.zeros((B, S, size) if record_state else (0, 0, 0), np.int64) for _ in model.state_names]
    counts = np.zeros(len(model.saturating) + len(model.wrapping), np.int64)
    float_dt = np.float64 if any(r.weight.dtype == np.float64 for r in recurrent) else np.float32
    prev = np.zeros((B, size), float_dt)          # the output of the last step, for the recurrent products
    weights = {port: [r.weight.astype(float_dt, copy=False) for r in recurrent if r.port == port]
               for port in model.ports}
    accs = {port: np.zeros((len(weights[port]), B, size), float_dt) for port in model.ports}
    exps = {port: np.array([r.exp for r in recurrent if r.port == port], np.int64) for port in model.ports}
    fields = [np.ascontiguousarray(getattr(params, f)) for f in model.param_names]
    flags = [params.subtract_reset] if hasattr(params, "subtract_reset") else []

    def run(t0: int, t1: int) -> None:
        kernel(t0, t1, *[ff[p] for p in model.ports], *[accs[p] for p in model.ports],
               *[exps[p] for p in model.ports], *[getattr(state, n) for n in model.state_names], *fields,
               *flags, y, prev, *rec_states, record_state, reset_after, counts)

    if not recurrent:
        run(0, S)
    else:
        for t in range(S):
            for port in model.ports:      # exact: partial sums bounded as checked when r was built
                for k, w in enumerate(weights[port]):
                    np.matmul(prev, w, out=accs[port][k])
            run(t, t + 1)
    names = [f"saturated_{n}" for n in model.saturating] + [f"wrapped_{n}" for n in model.wrapping]
    recorded = dict(zip(model.state_names, rec_states)) if record_state else {}
    return y, recorded, {name: int(c) for name, c in zip(names, counts)}
