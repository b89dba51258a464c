"""The emulator's roofline on this machine: the time of the network's own exact float products alone.

For a batch ``B`` of the network, the bound is the time of
- every feed-forward dense's products over the whole sequence, each on the FASTEST of the ways this
  machine has to compute it, timed here for that source's actual activity: one BLAS GEMM on the
  operands already converted to float, a scipy CSR product on the CSR already built, and the
  emulator's compiled gather kernel (``convert.kernels.gather_products``, with numba); conversions and
  the CSR's construction are the emulator's overhead, not the bound;
- every recurrent dense's product, once per step, ``[B_slice, N] @ [N, N]``, on the faster of numpy's
  BLAS and the one a compiled kernel calls (numba's ``np.dot``, scipy's BLAS);
- one pass over each population's state per step (``[fields, B_slice, N]`` int64 copied once);
measured in the emulator's thread layout (one batch slice per core, BLAS on one thread) and on the
whole batch with BLAS's own threads; the faster is the bound. ``samples/s = B / seconds``.
"""
from __future__ import annotations

import contextlib
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import lru_cache
from typing import Callable

import numpy as np

from snn_deploy.convert import emulator as emu
from snn_deploy.convert import kernels
from snn_deploy.convert.fixed_neurons import get_neuron_model
from snn_deploy.ir import Network


@dataclass
class Roofline:
    samples_per_s: float
    seconds: float
    layout: str               #: "slices" (one per core, BLAS 1 thread) or "blas" (whole batch, BLAS threads)
    flops: float              #: dense-equivalent float operations of the products per batch
    paths: dict[str, str]     #: per dense: the fastest way ("dense", "sparse", "gather"; recurrent: "numpy", "compiled")


def blas_description() -> str:
    """Which BLAS library, kernel (architecture) and thread count numpy runs (threadpoolctl)."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return "unknown (threadpoolctl is not installed)"
    libs = [i for i in threadpool_info() if i.get("user_api") == "blas"]
    if not libs:
        return "unknown (threadpoolctl found no BLAS)"
    return "; ".join(f"{i.get('internal_api')} {i.get('version')} kernel {i.get('architecture')} "
                     f"{i.get('num_threads')} threads" for i in libs)


@lru_cache(maxsize=None)
def _compiled_recurrent_steps() -> Callable:
    """``steps`` products ``prev @ wt`` as a compiled kernel makes them (numba's ``np.dot``)."""
    import numba

    @numba.njit(nogil=True)
    def steps_of(prev, wt, out, steps):
        for _ in range(steps):
            np.dot(prev, wt, out)

    return steps_of


def _fastest(candidates: dict[str, Callable[[], object]], repeats: int) -> tuple[str, Callable[[], object]]:
    """The candidate with the shortest best-of-``repeats`` time (each run once first: compilation, caches)."""
    best = None
    for name, job in candidates.items():
        job()
        seconds = min(_timed(job) for _ in range(repeats))
        if best is None or seconds < best[0]:
            best = (seconds, name, job)
    return best[1], best[2]


def _feed_forward_ways(src: np.ndarray, w: np.ndarray, dt: np.dtype, steps: int, batch_major: bool,
                       out_steps: int) -> dict[str, Callable[[], object]]:
    """The ways to compute one slice's feed-forward products: src ``[B, T, C]`` batch-major (the input)
    or ``[T, B, C]`` time-major, its first ``steps`` steps."""
    import scipy.sparse

    wt = np.ascontiguousarray(w.T.astype(dt))
    sub = src[:, :steps] if batch_major else src[:steps]
    rows = np.ascontiguousarray(sub).reshape(-1, src.shape[2])
    a, out = rows.astype(dt), np.empty((rows.shape[0], w.shape[0]), dt)
    m = scipy.sparse.csr_matrix(a)
    ways = {"dense": lambda: np.matmul(a, wt, out=out), "sparse": lambda: m @ wt}
    if kernels.available():
        B = src.shape[0] if batch_major else src.shape[1]
        delivered = np.zeros((out_steps, B, w.shape[0]), dt)
        contiguous = np.ascontiguousarray(src)
        ways["gather"] = lambda: kernels.gather_products(contiguous, wt, delivered, steps, batch_major)
    return ways


def _recurrent_ways(b: int, n: int, wt: np.ndarray, steps: int) -> dict[str, Callable[[], object]]:
    prev, out = np.zeros((b, n), wt.dtype), np.empty((b, n), wt.dtype)
    ways: dict[str, Callable[[], object]] = {"numpy": lambda: [np.matmul(prev, wt, out=out) for _ in range(steps)]}
    if kernels.available():
        ways["compiled"] = lambda: _compiled_recurrent_steps()(prev, wt, out, steps)
    return ways


def _note_path(paths: dict[str, str], dense: str, way: str) -> None:
    """Record the way a slice's product of ``dense`` was fastest ("gather/sparse" when slices differ)."""
    ways = paths.get(dense, "").split("/") if dense in paths else []
    if way not in ways:
        paths[dense] = "/".join(ways + [way])


def _work(net: Network, activity: dict[str, np.ndarray], x: np.ndarray, S: int, slices: int, repeats: int):
    """Per slice, the closures that do the bound's work (each product the fastest way), the paths, the flops."""
    B = x.shape[0]
    jobs: list[list] = [[] for _ in range(slices)]
    bounds = np.linspace(0, B, slices + 1).astype(int)
    paths: dict[str, str] = {}
    flops = 0.0
    inp = net.inputs()[0].name
    for pop in net.layer_order():
        model = get_neuron_model(pop.model)
        for dense in net.incoming(pop.name):
            w = emu._dense_weight(dense)
            if net.is_recurrent(dense.name):
                wt = np.ascontiguousarray(w.T.astype(emu.recurrent_dtype(w, model.spiking)))
                flops += 2.0 * B * S * w.size
                for j in range(slices):
                    name, job = _fastest(_recurrent_ways(bounds[j + 1] - bounds[j], pop.size, wt, S), repeats)
                    _note_path(paths, dense.name, name)
                    jobs[j].append(job)
                continue
            source = net.source_of(dense.name)
            batch_major = source == inp
            src = x if batch_major else activity[source]                 # both batch-major [B, T_src, C]
            dt = emu._float_dtype(src, w, not batch_major and get_neuron_model(net.node(source).model).spiking)
            steps = min(src.shape[1], S - 1)
            flops += 2.0 * B * steps * w.size
            for j in range(slices):
                part = src[bounds[j]:bounds[j + 1]]
                if not batch_major:                                        # the emulator's time-major record
                    part = np.ascontiguousarray(part.transpose(1, 0, 2))
                name, job = _fastest(_feed_forward_ways(part, w, dt, steps, batch_major, S), repeats)
                _note_path(paths, dense.name, name)
                jobs[j].append(job)
        for j in range(slices):
            state = np.zeros((len(model.state_names), bounds[j + 1] - bounds[j], pop.size), np.int64)
            other = np.empty_like(state)
            jobs[j].append(lambda state=state, other=other: [np.copyto(other, state) for _ in range(S)])
    return jobs, paths, flops


class Bound:
    """The bound's work for ``x [B, T, C]`` (integer input) given the recorded spikes ``activity [B, S, N]``,
    prepared in both layouts (each product on its fastest path, chosen when prepared); ``time(layout)``
    runs one layout once and returns its seconds, so that a benchmark can interleave it with the
    emulator's runs (both see the same machine load)."""

    def __init__(self, net: Network, x: np.ndarray, activity: dict[str, np.ndarray], S: int, repeats: int = 3):
        self.batch = x.shape[0]
        self.work = {}
        for layout in ("blas", "slices"):
            slices = emu._workers(self.batch) if layout == "slices" else 1
            with self._blas(layout):
                self.work[layout] = _work(net, activity, x, S, slices, repeats)
                self.time(layout)                                      # warm-up
            if layout == "blas":
                time.sleep(BLAS_SETTLE_S)

    @staticmethod
    def _blas(layout: str):
        return emu._one_blas_thread() if layout == "slices" else contextlib.nullcontext()

    def time(self, layout: str) -> float:
        jobs = self.work[layout][0]
        with self._blas(layout):
            t0 = time.perf_counter()
            if len(jobs) == 1:
                for job in jobs[0]:
                    job()
            else:
                with ThreadPoolExecutor(len(jobs)) as pool:
                    list(pool.map(lambda js: [job() for job in js], jobs))
            return time.perf_counter() - t0

    def result(self, seconds: dict[str, float]) -> Roofline:
        """The bound from the best ``seconds`` measured per layout: the faster layout."""
        layout = min(seconds, key=seconds.get)
        _, paths, flops = self.work[layout]
        return Roofline(self.batch / seconds[layout], seconds[layout], layout, flops, paths)


#: seconds to wait after BLAS ran on several threads: OpenBLAS's idle workers spin for a while (up to
#: 2^28 cycles) before they sleep, and the emulator run next then shares its cores with them (measured:
#: the benchmark network's batch took 70-94 ms right after the "blas" layout instead of 48-58 ms)
BLAS_SETTLE_S = 0.5


def measure(net: Network, x: np.ndarray, activity: dict[str, np.ndarray], S: int, repeats: int = 3) -> Roofline:
    """The bound (``Bound``) measured on its own: the best of ``repeats`` runs of each layout."""
    bound = Bound(net, x, activity, S, repeats)
    seconds = {"blas": min(bound.time("blas") for _ in range(repeats))}
    time.sleep(BLAS_SETTLE_S)
    seconds["slices"] = min(bound.time("slices") for _ in range(repeats))
    return bound.result(seconds)


def _timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0
