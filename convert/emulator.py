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

import contextlib
import functools
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

import numpy as np

from snn_deploy.convert import fixed_point as fp
from snn_deploy.convert.fixed_neurons import FixedNeuronModel, get_neuron_model
from snn_deploy.convert.readout import readout_predictions, readout_scale
from snn_deploy.convert.registers import check_registers
from snn_deploy.errors import SnnDeployError
from snn_deploy.ir import DEFAULT_READOUT, DenseNode, InputNode, Network, NeuronNode

SPIKE_PAYLOAD_MAX = 255          #: input spike counts are 8-bit graded payloads
SPARSE_DENSITY = 0.05            #: feed-forward sources sparser than this use a sparse matmul (measured break-even)
GATHER_DENSITY = 0.15            #: and, with the compiled engine, the gather kernel (measured break-even)
MIN_THREAD_BATCH = 32            #: fewer samples per thread than this are not worth a thread
ENGINES = ("auto", "compiled", "numpy", "torch")   #: how each population's time loop runs (``emulate(engine=...)``)


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


# Graph timing lives on the network (``Network.population_depths`` ...), readout post-processing in
# ``convert.readout``; the names stay importable from here.
population_depths = Network.population_depths
reset_steps = Network.reset_steps
num_steps = Network.num_steps
readout_window = Network.readout_window


def encode_inputs(net: Network, x: np.ndarray) -> np.ndarray:
    """Integer input payloads ``[B, T, C]`` for the emulator and Lava.

    ``spikes`` encoding: spike counts, integral and in ``[0, 255]`` (8-bit graded spikes; binary
    when all are 0/1), returned as ``uint8``. ``graded`` encoding: ``round(x * scale)`` with the input
    scale of the precision record (``precision.layers[input]['scale']``). An integer array is taken as
    already encoded: for either encoding no scaling is applied; spike counts are still checked for
    their range (and narrowed to ``uint8``), graded payloads pass unchanged. Give floats to have
    graded values scaled.
    """
    inp = _single_input(net)
    x = _check_shape(net, np.asarray(x))
    if inp.encoding != "spikes":
        if np.issubdtype(x.dtype, np.integer):
            return x
        scale = float((net.precision.layers.get(inp.name) or {}).get("scale", 1.0)) if net.precision else 1.0
        return np.rint(x * scale).astype(np.int64)
    if np.issubdtype(x.dtype, np.integer):
        if x.dtype == np.int8:
            if x.size and x.min() < 0:
                _raise_spike_range(inp, x)
        elif x.dtype != np.uint8 and x.size and x.view(x.dtype.str.replace("i", "u")).max() > SPIKE_PAYLOAD_MAX:
            _raise_spike_range(inp, x)     # read as unsigned, a negative count is above 255 too: one pass
        return x.astype(np.uint8, copy=False)
    if not np.all(x == np.round(x)):
        raise SnnDeployError(f"input {inp.name!r} has encoding 'spikes' but the given values are not integer counts")
    if x.size and (x.min() < 0 or x.max() > SPIKE_PAYLOAD_MAX):   # before the cast, which would wrap 65537.0 to 1
        _raise_spike_range(inp, x)
    return x.astype(np.uint8)


def _raise_spike_range(inp: InputNode, x: np.ndarray) -> None:
    raise SnnDeployError(
        f"input {inp.name!r}: spike counts must be in [0, {SPIKE_PAYLOAD_MAX}], got [{x.min()}, {x.max()}]")


def emulate(net: Network, inputs: np.ndarray, *, record: bool = True, record_state: bool = False,
            readout: Optional[str] = None, pipeline_reset: bool = True, engine: str = "auto",
            device: Optional[str] = None) -> EmulatorRun:
    """Run the fixed network ``net`` on ``inputs [B, T, C]`` (integer payloads, or floats: ``encode_inputs``).

    ``record=False`` keeps only what the predictions need (memory for big batches);
    ``record_state=True`` also returns every state variable of every population per step;
    ``pipeline_reset=False`` skips the reset after each population's lead-in (plain Lava graph
    without Reset processes; the float network is then matched only after the lead-in transient).
    ``engine``: ``"compiled"`` runs each population's time loop as ``convert.kernels``' compiled
    kernel (needs numba, the ``fast`` extra), ``"numpy"`` as numpy array steps, ``"torch"`` the whole
    graph on torch tensors on ``device`` (``"cpu"``, ``"cuda"``: ``convert.emulator_torch``; a
    ``device`` alone picks it), ``"auto"`` compiled if available, else numpy; all give the same integers.
    """
    if not net.is_fixed:
        raise SnnDeployError("emulate runs a fixed-point network: quantize it first (`snn-deploy convert`)")
    net.validate()
    check_registers(net)
    engine = resolve_engine("torch" if device is not None and engine == "auto" else engine)
    if device is not None and engine != "torch":
        raise SnnDeployError(f"device {device!r}: only the emulator engine 'torch' runs on a device, not {engine!r}")
    x = encode_inputs(net, inputs)       # uint8 spike payloads pass as they are
    B, T, _ = x.shape
    depths = net.population_depths()
    S = T + max(depths.values())
    out_pop = net.output()
    mode = readout or net.meta.get("readout", DEFAULT_READOUT)
    if mode == "spike_count" and not out_pop.spiking:
        raise SnnDeployError(f"readout 'spike_count' needs a spiking output population, {out_pop.name!r} is {out_pop.model}")
    first, stop = depths[out_pop.name], depths[out_pop.name] + T
    records = _Records(B)
    if engine == "torch":   # torch runs its own threads (CPU) or the device
        from snn_deploy.convert import emulator_torch

        overflow = emulator_torch.run_graph(net, x, depths, S, record, record_state,
                                            pipeline_reset, device or "cpu", records.keep_whole)
        scores, predictions = readout_predictions(records.trace(out_pop), mode, scale=readout_scale(net),
                                                  first=first, stop=stop)
    else:   # numpy and the kernels release the GIL: batch slices run side by side, one per core

        def run_slice(rows: slice) -> tuple[dict, np.ndarray]:
            """Run and read out the samples ``rows`` (into ``records``): (overflow, scores)."""
            counts = _run_graph(net, x[rows], depths, S, record, record_state, pipeline_reset,
                                _numpy_population(engine), records.keep_rows(rows.start))
            return counts, readout_predictions(records.trace(out_pop)[rows], mode, scale=readout_scale(net),
                                               first=first, stop=stop)[0]

        bounds = np.linspace(0, B, _workers(B) + 1).astype(int)
        slices = [slice(int(a), int(b)) for a, b in zip(bounds[:-1], bounds[1:])]
        if len(slices) == 1:
            runs = [run_slice(slices[0])]
        else:
            with _one_blas_thread(), ThreadPoolExecutor(len(slices)) as pool:
                runs = list(pool.map(run_slice, slices))
        overflow = {p: {c: sum(r[0][p][c] for r in runs) for c in runs[0][0][p]} for p in runs[0][0]}
        scores = np.concatenate([r[1] for r in runs])
        predictions = scores.argmax(axis=-1)
    return EmulatorRun(input_steps=T, num_steps=S, spikes=records.spikes, potentials=records.potentials,
                       scores=scores, predictions=predictions, depth=depths, overflow=overflow, states=records.states)


def resolve_engine(engine: str) -> str:
    """The engine an ``emulate(engine=...)`` value runs (``"auto"``: compiled if numba is there, else numpy)."""
    from snn_deploy.convert import kernels

    if engine not in ENGINES:
        raise SnnDeployError(f"unknown emulator engine {engine!r}; choose one of {', '.join(ENGINES)}")
    if engine == "auto":
        return "compiled" if kernels.available() else "numpy"
    if engine == "compiled" and not kernels.available():
        raise SnnDeployError("emulator engine 'compiled' needs numba: pip install 'snn-deploy[fast]'")
    return engine


# ---- internals -------------------------------------------------------------------------------

def _check_shape(net: Network, x: np.ndarray) -> np.ndarray:
    inp = _single_input(net)
    if x.ndim != 3 or x.shape[2] != inp.size:
        raise SnnDeployError(f"input must be [batch, time, {inp.size}] for input node {inp.name!r}, got shape {x.shape}")
    return x


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


def _one_blas_thread():
    """BLAS on one thread while the batch slices run on one thread per core (``threadpoolctl``, when
    installed: the ``fast`` extra). Small per-step products on a multi-threaded BLAS under slices
    that already fill the cores oversubscribe them: measured 6-40x slower per product on 2 loaded
    cores for ``[128, 128] @ [128, 128]``."""
    controller = _blas_controller()
    return controller.limit(limits=1, user_api="blas") if controller else contextlib.nullcontext()


@functools.lru_cache(maxsize=None)
def _blas_controller():
    """threadpoolctl's view of the loaded BLAS libraries, scanned once (1.3 ms a scan), or None."""
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:
        return None
    with contextlib.suppress(ImportError):   # the BLAS the kernels' np.dot calls: loaded now, so that it is limited
        import scipy.linalg.cython_blas  # noqa: F401
    return ThreadpoolController()


class _Records:
    """The batch-major numpy records ``[B, S, N]`` of a run (``EmulatorRun.spikes/potentials/states``),
    filled from the time-major sequences ``[S, b, N]`` of ``_run_graph``: whole (``keep_whole``), or by
    batch slices written in place at their rows (``keep_rows``: one transposing copy, no join)."""

    def __init__(self, batch: int) -> None:
        self.batch = batch
        self.spikes: dict[str, np.ndarray] = {}
        self.potentials: dict[str, np.ndarray] = {}
        self.states: dict[str, dict[str, np.ndarray]] = {}
        self._lock = threading.Lock()

    def _slot(self, key: tuple) -> tuple[dict, str]:
        kind, pop, *field = key
        table = getattr(self, kind)
        return (table.setdefault(pop, {}), field[0]) if field else (table, pop)

    def keep_whole(self, key: tuple, seq: np.ndarray) -> None:
        """Store the batch-major array of the whole batch under ``key`` (``("spikes", pop)``,
        ``("potentials", pop)``, ``("states", pop, field)``)."""
        table, name = self._slot(key)
        table[name] = seq

    def keep_rows(self, start: int) -> Callable[[tuple, np.ndarray], None]:
        """A keeper writing a slice's time-major sequences at rows ``start:`` of the batch records."""
        def keep(key: tuple, seq: np.ndarray) -> None:
            with self._lock:
                table, name = self._slot(key)
                if name not in table:
                    table[name] = np.empty((self.batch, seq.shape[0], seq.shape[2]), seq.dtype)
                dest = table[name]
            np.copyto(dest[start:start + seq.shape[1]], seq.transpose(1, 0, 2))
        return keep

    def trace(self, pop: NeuronNode) -> np.ndarray:
        """The output population's record: its spikes, or its potentials when it does not spike."""
        return (self.spikes if pop.spiking else self.potentials)[pop.name]


PopulationRunner = Callable[..., tuple[Any, dict[str, Any], dict[str, int]]]


def _numpy_population(engine: str) -> PopulationRunner:
    """``_run_population`` with the time loop of ``engine`` (numpy or compiled)."""
    return functools.partial(_run_population, engine=engine)


def _run_graph(net: Network, x: Any, depths: dict[str, int], S: int, record: bool, record_state: bool,
               pipeline_reset: bool, run_population: PopulationRunner,
               keep: Callable[[tuple, Any], None]) -> dict[str, dict[str, int]]:
    """All populations in layer order on the integer inputs ``x [B, T, C]``; returns the overflow counts.

    Inside, every sequence is time-major (``[steps, B, N]``): one step of a batch is contiguous for the
    kernels, and the rows of steps ``[0, n)`` are one contiguous matrix for the feed-forward products.
    ``run_population(net, pop, model, outputs, B, S, record_state, reset_after)`` runs one population
    on the outputs so far (numpy arrays here; torch tensors for ``convert.emulator_torch``), and
    ``keep(key, seq)`` records a sequence: ``("spikes", pop)`` or ``("potentials", pop)`` (the output
    population always, the others with ``record``), ``("states", pop, field)`` with ``record_state``."""
    inp = _single_input(net)
    outputs: dict[str, np.ndarray] = {inp.name: x}   # batch-major, T steps only; the populations' are time-major
    out_pop = net.output()
    order = net.layer_order()
    last_use = _last_use(net, order)
    overflow: dict[str, dict[str, int]] = {}
    for i, pop in enumerate(order):
        model = get_neuron_model(pop.model)
        y, pop_states, counts = run_population(net, pop, model, outputs, x.shape[0], S, record_state,
                                               reset_after=depths[pop.name] - 1 if pipeline_reset else -1)
        overflow[pop.name] = counts
        for n, v in pop_states.items():
            keep(("states", pop.name, n), v)
        outputs[pop.name] = y
        if record or pop.name == out_pop.name:
            keep(("spikes" if model.spiking else "potentials", pop.name), y)
        for name in [n for n, last in last_use.items() if last == i and n != out_pop.name]:
            outputs.pop(name, None)
    return overflow


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


def _feed_forward(src: np.ndarray, w: np.ndarray, out: np.ndarray, batch_major: bool = False,
                  compiled: bool = False) -> np.ndarray:
    """Exact products of a feed-forward dense, as delivered: ``out[t] = W src[t - 1]`` (``out[0]`` and the
    steps past the source's end stay as they are: zero), into ``out [S, B, N]`` (float) and returned.

    ``src`` is an integer ``[T_src, B, C]`` (time-major), or ``[B, T_src, C]`` with ``batch_major``
    (the network's input, not transposed: only its products are); ``out``'s float dtype must be
    exact for this product (``_float_dtype``). Sparse sources (spikes) go through the compiled gather
    kernel (``compiled``, below ``GATHER_DENSITY``) or a scipy sparse matmul (below ``SPARSE_DENSITY``),
    dense ones through BLAS.
    """
    T_src = src.shape[1] if batch_major else src.shape[0]
    B, C = out.shape[1], src.shape[2]
    n = min(T_src, out.shape[0] - 1)
    if n <= 0 or B == 0:
        return out
    rows = (src[:, :n] if batch_major else src[:n]).reshape(n * B, C)   # contiguous unless batch_major cuts steps
    nonzero_count = np.count_nonzero(rows)
    if compiled and nonzero_count < GATHER_DENSITY * rows.size:
        from snn_deploy.convert import kernels

        kernels.gather_products(src, np.ascontiguousarray(w.T.astype(out.dtype)), out, n, batch_major)
        return out
    if nonzero_count < SPARSE_DENSITY * rows.size:
        products = _sparse_matmul(rows, rows != 0, w.astype(out.dtype))
    elif batch_major:
        products = rows.astype(out.dtype) @ np.ascontiguousarray(w.T.astype(out.dtype))
    else:      # straight into the delivered steps 1..n, a contiguous block of the time-major out
        np.matmul(rows.astype(out.dtype), np.ascontiguousarray(w.T.astype(out.dtype)),
                  out=out[1:n + 1].reshape(n * B, -1))
        return out
    if batch_major:
        out[1:n + 1] = products.reshape(B, n, -1).transpose(1, 0, 2)
    else:
        out[1:n + 1] = products.reshape(n, B, -1)
    return out


def _sparse_matmul(src: np.ndarray, nonzero: np.ndarray, w: np.ndarray) -> np.ndarray:
    """``src @ w.T`` for a sparse integer ``src`` [R, C] (``nonzero = src != 0``, whose flatnonzero is
    several times cheaper than that of ``src`` itself), CSR built from the nonzeros, in ``w``'s dtype
    (a float that the caller chose exact for these bounds)."""
    import scipy.sparse

    rows_n, cols_n = src.shape
    flat = src.reshape(-1)
    idx = np.flatnonzero(nonzero)
    rows = idx // cols_n
    indptr = np.zeros(rows_n + 1, np.int64)
    np.cumsum(np.bincount(rows, minlength=rows_n), out=indptr[1:])
    m = scipy.sparse.csr_matrix((flat[idx].astype(w.dtype), (idx - rows * cols_n).astype(np.int32), indptr),
                                shape=src.shape)
    return np.asarray(m @ np.ascontiguousarray(w.T))


def _float_dtype(source: np.ndarray, w: np.ndarray, spiking_source: bool) -> np.dtype:
    """The float dtype in which ``W x`` is exact for this source: ``max|x| * max_row sum|w|`` below
    2^24 (float32) or 2^53 (float64) (``fixed_point.exact_float_dtype``); spikes are at most 1."""
    if spiking_source:
        max_x = 1.0
    elif not source.size:
        max_x = 0.0
    elif np.issubdtype(source.dtype, np.unsignedinteger):     # spike counts (uint8): one reduction
        max_x = float(source.max())
    else:       # two reductions, no |x| temporary
        max_x = float(max(source.max(), -source.min()))
    return fp.exact_float_dtype(max_x, _max_row_sum(w))


def recurrent_dtype(w: np.ndarray, spiking: bool) -> np.dtype:
    """The float dtype in which a recurrent product ``W y`` is exact: ``y`` is the population's own
    output, 0/1 spikes or a potential up to ``2^23 - 1``."""
    return fp.exact_float_dtype(1.0 if spiking else fp.STATE_MAX, _max_row_sum(w))


def _max_row_sum(w: np.ndarray) -> float:
    """``max_row sum|w|``: the largest output of ``W x`` for inputs of magnitude 1."""
    return float(np.abs(w).sum(axis=1).max()) if w.size else 0.0


@dataclass
class _Incoming:
    """One dense into a population: its integer weights ``[N, C]`` (mask applied) and exponent, its port,
    and its source (the population itself when ``recurrent``: then the bound of the source is 1 for
    spikes, ``2^23 - 1`` for a potential; ``from_input``: the network's batch-major input)."""

    port: str
    weight: np.ndarray
    exp: int
    source: str
    recurrent: bool
    spiking_source: bool
    from_input: bool


def _incoming(net: Network, pop: NeuronNode, model: FixedNeuronModel) -> list[_Incoming]:
    """The denses into ``pop``, port by port in the model's port order (every engine wires them alike)."""
    input_name = _single_input(net).name
    out = []
    for port in model.ports:
        for dense in net.incoming(pop.name, port):
            source = net.source_of(dense.name)
            recurrent = net.is_recurrent(dense.name)
            node = net.node(source)
            spiking = isinstance(node, NeuronNode) and get_neuron_model(node.model).spiking
            out.append(_Incoming(port, _dense_weight(dense), int(dense.weight_exp), source, recurrent, spiking,
                                 source == input_name))
    return out


@dataclass
class _Port:
    """What a population's port receives at step ``t``: ``sum_k shift(ff[k, t], ff_exps[k])`` plus
    ``sum_k shift(rec[k], rec_exps[k])``, where ``rec[k] = prev @ rec_weights[k]`` is computed per step
    from the population's own previous output (all float products, exact)."""

    ff: np.ndarray              # [R, S, B, N] float: delivered feed-forward products
    ff_exps: np.ndarray         # [R] int64
    rec_weights: list[np.ndarray]   # [N, N] float, transposed for prev @ W
    rec: np.ndarray             # [R', B, N] float: this step's recurrent products
    rec_exps: np.ndarray        # [R'] int64


def _run_population(net: Network, pop: NeuronNode, model: FixedNeuronModel, outputs: dict[str, np.ndarray],
                    B: int, S: int, record_state: bool, reset_after: int = -1,
                    engine: str = "numpy") -> tuple[np.ndarray, dict[str, np.ndarray], dict[str, int]]:
    """One population over all ``S`` steps: ``(output [S, B, N], recorded states [S, B, N], overflow counts)``."""
    ff_in: dict[str, list] = {port: [] for port in model.ports}
    rec_in: dict[str, list] = {port: [] for port in model.ports}
    dtypes = []
    for d in _incoming(net, pop, model):
        if d.recurrent:
            dtypes.append(recurrent_dtype(d.weight, d.spiking_source))
            rec_in[d.port].append((d.weight, d.exp))
        else:
            dtypes.append(_float_dtype(outputs[d.source], d.weight, d.spiking_source))
            ff_in[d.port].append((outputs[d.source], d.weight, d.exp, d.from_input))
    dt = np.float64 if np.float64 in dtypes else np.float32     # one float type per population
    ports = []
    for port in model.ports:
        ff = np.zeros((len(ff_in[port]), S, B, pop.size), dt)
        for k, (src, w, _, batch_major) in enumerate(ff_in[port]):
            _feed_forward(src, w, ff[k], batch_major=batch_major, compiled=engine == "compiled")
        ports.append(_Port(ff, np.array([e for _, _, e, _ in ff_in[port]], np.int64),
                           [np.ascontiguousarray(w.T.astype(dt)) for w, _ in rec_in[port]],
                           np.zeros((len(rec_in[port]), B, pop.size), dt),
                           np.array([e for _, e in rec_in[port]], np.int64)))
    params = model.params_from_node(pop)
    loop = _compiled_time_loop if engine == "compiled" and model.update is not None else _numpy_time_loop
    return loop(model, params, ports, B, S, pop.size, record_state, reset_after)


def _numpy_time_loop(model: FixedNeuronModel, params: Any, ports: list[_Port], B: int, S: int, size: int,
                     record_state: bool, reset_after: int) -> tuple[np.ndarray, dict[str, np.ndarray], dict[str, int]]:
    """The time loop in numpy: the model's ``step`` on ``[B, N]`` arrays once per step (the fallback)."""
    state = model.initial_state(size, (B,))
    y = np.zeros((S, B, size), np.uint8 if model.spiking else np.int64)
    rec_states = {n: np.zeros((S, B, size), np.int64) for n in model.state_names} if record_state else {}
    counts = dict.fromkeys(model.overflow_names, 0)
    prev = np.zeros((B, size), ports[0].ff.dtype)
    recurrent = any(p.rec_weights for p in ports)
    for t in range(S):
        inputs = {}
        for name, port in zip(model.ports, ports):
            a = np.zeros((B, size), np.int64)
            for k, e in enumerate(port.ff_exps):   # every product is an exact integer in its float type
                a += fp.weight_shift(port.ff[k, t].astype(np.int64), e)
            for w, e in zip(port.rec_weights, port.rec_exps):
                if t > 0:
                    a += fp.weight_shift((prev @ w).astype(np.int64), e)
            inputs[name] = a
        old = state
        out, state = model.apply(inputs, state, params)
        y[t] = out
        if recurrent:
            prev = out.astype(prev.dtype)
        for n in model.saturating:
            counts[f"saturated_{n}"] += int(np.count_nonzero(np.abs(getattr(state, n)) >= fp.STATE_MAX))
        for n in model.wrapping:
            counts[f"wrapped_{n}"] += int(np.count_nonzero(np.abs(getattr(state, n) - getattr(old, n)) > fp.WRAP_JUMP))
        if record_state:
            for n in model.state_names:
                rec_states[n][t] = getattr(state, n)
        if t == reset_after:   # pipeline reset (after the step, as Lava's Reset in post-management)
            state = model.initial_state(size, (B,))
            prev = np.zeros_like(prev)
    return y, rec_states, counts


def _compiled_time_loop(model: FixedNeuronModel, params: Any, ports: list[_Port], B: int, S: int, size: int,
                        record_state: bool, reset_after: int) -> tuple[np.ndarray, dict[str, np.ndarray], dict[str, int]]:
    """The time loop as ``convert.kernels``' compiled kernel of the model: one call for all steps, the
    recurrent products included (BLAS from the kernel). The same integers as ``_numpy_time_loop``."""
    from snn_deploy.convert import kernels

    kernel = kernels.population_kernel(model, record_state,
                                       tuple((p.ff.shape[0], len(p.rec_weights)) for p in ports))
    state = model.initial_state(size, (B,))
    dt = ports[0].ff.dtype
    y = np.zeros((S, B, size), np.uint8 if model.spiking else np.int64)
    rec_states = [np.zeros((S, B, size) if record_state else (0, 0, 0), np.int64) for _ in model.state_names]
    counts = np.zeros(len(model.overflow_names), np.int64)
    prev = np.zeros((B, size), dt)   # the last step's output, for the recurrent products
    fields = [np.ascontiguousarray(getattr(params, f)) for f in model.param_names]
    flags = [getattr(params, f) for f in model.flag_names]
    rec_ws = [np.stack(p.rec_weights) if p.rec_weights else np.zeros((0, size, size), dt) for p in ports]
    kernel(*[p.ff for p in ports], *[p.ff_exps for p in ports], *rec_ws, *[p.rec for p in ports],
           *[p.rec_exps for p in ports], *[getattr(state, n) for n in model.state_names], *fields, *flags,
           y, prev, *rec_states, reset_after, counts)
    recorded = dict(zip(model.state_names, rec_states)) if record_state else {}
    return y, recorded, {name: int(c) for name, c in zip(model.overflow_names, counts)}
