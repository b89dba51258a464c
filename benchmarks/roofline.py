"""The emulator's roofline on this machine: the time of the network's own exact float products alone.

For a batch ``B`` of the network, the bound is the time of
- every feed-forward dense's products over the whole sequence, on the path the emulator picks for
  that source's actual activity (sparse CSR below ``SPARSE_DENSITY``, else one BLAS GEMM), with the
  operands already converted (conversions are the emulator's overhead, not the bound);
- every recurrent dense's product, once per step, ``[B_slice, N] @ [N, N]``;
- one pass over each population's state per step (``[fields, B_slice, N]`` int64 copied once);
measured in the emulator's thread layout (one batch slice per core, BLAS on one thread) and on the
whole batch with BLAS's own threads; the faster is the bound. ``samples/s = B / seconds``.
"""
from __future__ import annotations

import contextlib
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from snn_deploy.convert import emulator as emu
from snn_deploy.convert.fixed_neurons import get_neuron_model
from snn_deploy.ir import Network


@dataclass
class Roofline:
    samples_per_s: float
    seconds: float
    layout: str               #: "slices" (one per core, BLAS 1 thread) or "blas" (whole batch, BLAS threads)
    flops: float              #: dense-equivalent float operations of the products per batch
    paths: dict[str, str]     #: per feed-forward dense: "sparse" or "dense"


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


def _work(net: Network, activity: dict[str, np.ndarray], x: np.ndarray, S: int, slices: int):
    """Per slice, the closures that do the bound's work, and the paths / flops."""
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
                wt = np.ascontiguousarray(w.T.astype(np.float32))
                flops += 2.0 * B * S * w.size
                for j in range(slices):
                    b = bounds[j + 1] - bounds[j]
                    prev, out = np.zeros((b, pop.size), np.float32), np.empty((b, pop.size), np.float32)
                    jobs[j].append(lambda prev=prev, wt=wt, out=out: [np.matmul(prev, wt, out=out) for _ in range(S)])
                continue
            source = net.source_of(dense.name)
            src = x if source == inp else activity[source]           # [B, T_src, C]
            dt = emu._float_dtype(src, w, source != inp and get_neuron_model(net.node(source).model).spiking)
            wt = np.ascontiguousarray(w.T.astype(dt))
            flops += 2.0 * B * min(src.shape[1], S - 1) * w.size
            for j in range(slices):
                rows = src[bounds[j]:bounds[j + 1], :S - 1].reshape(-1, src.shape[2])
                nonzero = rows != 0
                if np.count_nonzero(nonzero) < emu.SPARSE_DENSITY * rows.size:
                    paths[dense.name] = "sparse"
                    import scipy.sparse
                    m = scipy.sparse.csr_matrix(rows.astype(dt))
                    jobs[j].append(lambda m=m, wt=wt: m @ wt)
                else:
                    paths[dense.name] = "dense"
                    a, out = rows.astype(dt), np.empty((rows.shape[0], w.shape[0]), dt)
                    jobs[j].append(lambda a=a, wt=wt, out=out: np.matmul(a, wt, out=out))
        for j in range(slices):
            state = np.zeros((len(model.state_names), bounds[j + 1] - bounds[j], pop.size), np.int64)
            other = np.empty_like(state)
            jobs[j].append(lambda state=state, other=other: [np.copyto(other, state) for _ in range(S)])
    return jobs, paths, flops


def measure(net: Network, x: np.ndarray, activity: dict[str, np.ndarray], S: int, repeats: int = 3) -> Roofline:
    """The bound for ``x [B, T, C]`` (integer input) given the recorded spikes ``activity [B, S, N]``."""
    B = x.shape[0]
    best = None
    for layout in ("slices", "blas"):
        slices = emu._workers(B) if layout == "slices" else 1
        jobs, paths, flops = _work(net, activity, x, S, slices)

        def run_all() -> None:
            if slices == 1:
                for job in jobs[0]:
                    job()
                return
            with ThreadPoolExecutor(slices) as pool:
                list(pool.map(lambda js: [job() for job in js], jobs))

        with emu._one_blas_thread() if layout == "slices" else contextlib.nullcontext():
            run_all()                                           # warm-up
            seconds = min(_timed(run_all) for _ in range(repeats))
        if best is None or seconds < best.seconds:
            best = Roofline(B / seconds, seconds, layout, flops, paths)
    return best


def _timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0
