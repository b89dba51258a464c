"""Compiled integer kernels: each neuron model's ``*_update`` (``convert.fixed_neurons``) compiled by
numba into one kernel that runs a batch slice of a population over all its steps; and the gather
kernel of feed-forward products from sparse sources.

Nothing here restates the arithmetic. The kernel is generated from the model's records and calls
the model's own ``*_update`` on int64 scalars. That function and the ``fixed_point`` primitives it
calls are compiled from their own code objects, re-bound to modules in which ``fp`` names the
compiled primitives and ``fp._i64`` (numpy's int64 conversion) is the identity; the primitives are
written in operators only, so their numpy and scalar readings are the same integers
(``tests/test_kernels.py`` checks every model, saturation and wrap included). Compiled kernels are
kept in a disk cache (``convert.kernel_cache``).

Per step the kernel also does what the emulator's numpy loop does around the step: the recurrent
products of the previous step's output (exact float BLAS, numba's ``np.dot``), each dense's weight
shift, the output and its float copy for the next recurrent product, the recorded states, the
overflow counts, and the pipeline reset after step ``reset_after``. Loops are laid out for the
vectorizer, and arrays are indexed, never sliced, inside them (a numba view costs an atomic
reference count). numba is optional (``snn-deploy[fast]``): without it ``available()`` is False and
the emulator runs its numpy path.
"""
from __future__ import annotations

import functools
import sys
import threading
import types
from functools import lru_cache
from typing import Any, Callable

import numpy as np

from snn_deploy.convert import fixed_point as fp
from snn_deploy.convert import kernel_cache
from snn_deploy.convert.fixed_neurons import FixedNeuronModel

#: the gather kernel skips all-zero 8-byte words of its source when fewer than this fraction are nonzero
WORD_SKIP_DENSITY = 0.3


def available() -> bool:
    """True when numba can be imported (the ``fast`` extra)."""
    try:
        import numba  # noqa: F401
    except ImportError:
        return False
    return True


def _registered_module(name: str, namespace: dict) -> types.ModuleType:
    """A module ``name`` holding ``namespace``, in ``sys.modules``: numba's cached code imports the
    module of every function it calls by name when it is loaded (``convert.kernel_cache``)."""
    module = types.ModuleType(name)
    module.__dict__.update(namespace)
    sys.modules[name] = module
    return module


def _public(namespace: dict) -> dict:
    return {k: v for k, v in namespace.items() if not k.startswith("__")}


def _compiled_update(model: FixedNeuronModel, name: str) -> Callable:
    """The model's ``*_update`` compiled on int64 scalars: its own code object, re-bound to a module
    ``name + "__update"`` (its own module's globals) whose ``fp`` is a module ``name + "__fp"`` holding
    ``fixed_point``'s ``PRIMITIVES`` compiled (their code objects re-bound there, ``_i64`` the identity)."""
    import numba

    primitives = _registered_module(f"{name}__fp", _public(vars(fp)))
    ns = primitives.__dict__
    ns["_i64"] = numba.njit(fp.rebind(fp.already_int64, ns))
    for prim in fp.PRIMITIVES:
        ns[prim] = numba.njit(fp.rebind(getattr(fp, prim), ns))
    update_module = _registered_module(f"{name}__update", _public(model.update.__globals__))
    update_module.fp = primitives
    return numba.njit(fp.rebind(model.update, update_module.__dict__))


def kernel_source(model: FixedNeuronModel, record_state: bool, denses: tuple[tuple[int, int], ...]) -> str:
    """Python source of the kernel of ``model`` (generated from its ports, state and parameter names) for
    ``denses[i] = (R, R')`` feed-forward and recurrent denses on port ``i``.

    ``kernel(<ff per port>, <ff exps per port>, <rec weights per port>, <rec per port>, <rec exps per
    port>, <state>, <params>, y, prev, <recorded states>, reset_after, counts)`` runs all steps of ``y``:
    ff ``[R, S, B, N]`` float (delivered feed-forward products), rec weights ``[R', N, N]`` float (each
    ``W.T`` of a recurrent dense), rec ``[R', B, N]`` float (scratch: each step's recurrent products
    ``prev @ W.T``, BLAS), exps int64 (weight exponents), state ``[B, N]`` int64 (updated in place),
    params ``[N]`` (``subtract_reset`` a bool), ``y`` ``[S, B, N]``, ``prev`` ``[B, N]`` float (the
    last step's output, kept when a port has a recurrent dense), recorded states ``[S, B, N]``
    (written only by the ``record_state`` kernel), counts int64: the saturated then the wrapped fields, as ``model.saturating/wrapping``.

    Laid out for the vectorizer: per step, the recurrent products of all samples (one GEMM per
    recurrent dense), then one pass over the neurons of each sample that sums each port's denses
    after their weight shifts (``(x << l) >> r`` with ``l = max(e, 0)``, ``r = max(-e, 0)``: ``x << e``
    or the flooring ``x >> -e``, branch-free) and runs ``update``. Arrays are indexed, never sliced,
    in the loops (a numba view costs an atomic reference count); the overflow counts are kept in
    locals, and the pipeline reset is a pass of its own after its step.
    """
    k = len(model.ports)
    ffs, ff_exps = [f"ff_{i}" for i in range(k)], [f"ff_exp_{i}" for i in range(k)]
    rec_ws, recs, rec_exps = [f"rec_w_{i}" for i in range(k)], [f"rec_{i}" for i in range(k)], [f"rec_exp_{i}" for i in range(k)]
    states = list(model.state_names)
    params = list(model.param_names)
    flags = list(model.flag_names)
    recorded = [f"rec_state_{n}" for n in states]
    counted = [f"c_{j}" for j in range(len(model.overflow_names))]
    args = [*ffs, *ff_exps, *rec_ws, *recs, *rec_exps, *[f"st_{n}" for n in states],
            *[f"p_{n}" for n in params], *flags, "y", "prev", *recorded, "reset_after", "counts"]
    body = [f"def kernel({', '.join(args)}):",
            "    S = y.shape[0]",
            "    B = y.shape[1]",
            "    N = y.shape[2]"]
    terms: list[list[str]] = []
    for i, (n_ff, n_rec) in enumerate(denses):
        port_terms = []
        for kind, count, index in (("ff", n_ff, "t, b, n"), ("rec", n_rec, "b, n")):
            for r in range(count):
                body += [f"    {kind}_l_{i}_{r} = max({kind}_exp_{i}[{r}], 0)",
                         f"    {kind}_r_{i}_{r} = max(-{kind}_exp_{i}[{r}], 0)"]
                port_terms.append(f"((int64({kind}_{i}[{r}, {index}]) << {kind}_l_{i}_{r}) >> {kind}_r_{i}_{r})")
        terms.append(port_terms or ["int64(0)"])
    body += [f"    {c} = int64(0)" for c in counted]
    body += ["    for t in range(S):"]
    for i, (_, n_rec) in enumerate(denses):
        body += [f"        np.dot(prev, rec_w_{i}[{r}], rec_{i}[{r}])   # this step's recurrent products (exact floats)"
                 for r in range(n_rec)]
    body += ["        for b in range(B):",
             "            for n in range(N):"]
    ind = " " * 16
    body += [f"{ind}x_{i} = {' + '.join(port_terms)}" for i, port_terms in enumerate(terms)]
    call = [f"x_{i}" for i in range(k)] + [f"st_{n}[b, n]" for n in states] + [f"p_{n}[n]" for n in params] + flags
    body += [f"{ind}out, {', '.join('new_' + n for n in states)}, = update({', '.join(call)})",
             f"{ind}y[t, b, n] = out"]
    if any(n_rec for _, n_rec in denses):
        body += [f"{ind}prev[b, n] = out"]
    body += [f"{ind}c_{j} += abs(new_{n}) >= STATE_MAX" for j, n in enumerate(model.saturating)]
    body += [f"{ind}c_{j} += abs(new_{n} - st_{n}[b, n]) > WRAP_JUMP"
             for j, n in enumerate(model.wrapping, start=len(model.saturating))]
    if record_state:
        body += [f"{ind}rec_state_{n}[t, b, n] = new_{n}" for n in states]
    body += [f"{ind}st_{n}[b, n] = new_{n}" for n in states]
    body += ["        if t == reset_after:   # pipeline reset, after the step",
             *[f"            st_{n}[:] = 0" for n in states],
             "            prev[:] = 0"]
    body += [f"    counts[{j}] += {c}" for j, c in enumerate(counted)]
    return "\n".join(body) + "\n"


def _built_once(func: Callable) -> Callable:
    """``lru_cache`` under one lock: the emulator's batch slices ask for the same kernel from their
    threads at once, and it must be built (its modules registered, ``convert.kernel_cache``) once."""
    cached = lru_cache(maxsize=None)(func)

    @functools.wraps(func)
    def once(*args: Any, **kwargs: Any) -> Any:
        with _BUILD_LOCK:
            return cached(*args, **kwargs)

    return once


_BUILD_LOCK = threading.RLock()


@_built_once
def population_kernel(model: FixedNeuronModel, record_state: bool,
                      denses: tuple[tuple[int, int], ...]) -> Callable[..., Any]:
    """The compiled kernel of ``model`` for ``denses`` per port (see ``kernel_source``); releases the GIL.
    Cached on disk by ``convert.kernel_cache`` when the model's update has a source file."""
    if model.update is None:
        model.update_on(None)           # the one error for a step written on records only
    source = kernel_source(model, record_state, denses)
    shape = "_".join(f"{a}{b}" for a, b in denses)
    label = f"{model.name}_{'recording_' if record_state else ''}{shape}"

    def bind(module: types.ModuleType) -> None:
        module.__dict__.update({"np": np, "int64": np.int64, "STATE_MAX": fp.STATE_MAX, "WRAP_JUMP": fp.WRAP_JUMP,
                                "update": _compiled_update(model, module.__name__)})

    files = [fp.__file__, __file__, kernel_cache.defining_file(model.update)]
    functions = [model.update, *(getattr(fp, name) for name in fp.PRIMITIVES)]
    module, cached = kernel_cache.kernel_module(label, source, files, bind, functions)
    return kernel_cache.compile_kernel(module.kernel, cached, nogil=True, boundscheck=False)


def _gather_products(flat, words, word_shift, rows_per_block, C, wt, out, steps, batch_major, skip_words):
    """``out[t + 1, b] += sum_c src[t, b, c] wt[c]`` for ``t < steps``: a feed-forward dense's delivered
    products from a sparse integer source, one row of ``wt`` (``W.T``, float) added per nonzero input.

    The source ``[T, B, C]`` (time-major; ``[B, T, C]`` with ``batch_major``) comes flat: ``flat``, and
    ``words`` the same bytes read as uint64 (``2^word_shift`` elements each; the elements past the last
    whole word always looked at). Each row's nonzero channels are gathered branch-free into a list,
    skipping all-zero words 8 bytes at a time with ``skip_words`` (very sparse sources), then their
    weight rows are added; ``rows_per_block`` is the source's second size. Every partial sum is an exact
    integer in ``wt``'s float type (the caller's ``_float_dtype``), so the order of the sums does not
    change a bit. Arrays are indexed, never sliced, in the loops: a numba view costs an atomic refcount."""
    per_word = 1 << word_shift
    rows = flat.shape[0] // C
    N = wt.shape[1]
    nonzero = np.empty(C, np.int64)
    acc = np.empty(N, wt.dtype)        # the row's sum, in registers / L1 until it is added to ``out``
    for r in range(rows):
        outer = r // rows_per_block
        inner = r - outer * rows_per_block
        t, b = (inner, outer) if batch_major else (outer, inner)
        if t >= steps:
            continue
        start = r * C
        k = 0
        if skip_words:
            for q in range(start >> word_shift, ((start + C - 1) >> word_shift) + 1):
                if q < words.shape[0] and words[q] == 0:
                    continue
                for e in range(max(start, q << word_shift), min(start + C, (q << word_shift) + per_word)):
                    nonzero[k] = e - start
                    k += flat[e] != 0
        else:
            for c in range(C):
                nonzero[k] = c
                k += flat[start + c] != 0
        for j in range(N):
            acc[j] = 0
        i = 0
        while i + 4 <= k:                  # four rows per pass over acc: a quarter of the loop overhead
            c0, c1, c2, c3 = nonzero[i], nonzero[i + 1], nonzero[i + 2], nonzero[i + 3]
            v0, v1 = wt.dtype.type(flat[start + c0]), wt.dtype.type(flat[start + c1])
            v2, v3 = wt.dtype.type(flat[start + c2]), wt.dtype.type(flat[start + c3])
            for j in range(N):
                acc[j] += (v0 * wt[c0, j] + v1 * wt[c1, j]) + (v2 * wt[c2, j] + v3 * wt[c3, j])
            i += 4
        for i in range(i, k):
            c = nonzero[i]
            v = wt.dtype.type(flat[start + c])
            for j in range(N):
                acc[j] += v * wt[c, j]
        for j in range(N):
            out[t + 1, b, j] += acc[j]


GATHER_SOURCE = """\
def kernel(flat, words, word_shift, rows_per_block, C, wt, out, steps, batch_major, skip_words):
    gather_products(flat, words, word_shift, rows_per_block, C, wt, out, steps, batch_major, skip_words)
"""


@_built_once
def _compiled_gather() -> Callable[..., None]:
    """``_gather_products`` compiled (GIL released), behind a kernel that ``convert.kernel_cache`` caches."""
    import numba

    def bind(module: types.ModuleType) -> None:
        home = _registered_module(f"{module.__name__}__gather", _public(globals()))
        module.gather_products = numba.njit(boundscheck=False)(fp.rebind(_gather_products, home.__dict__))

    module, cached = kernel_cache.kernel_module("gather", GATHER_SOURCE, [__file__], bind, [_gather_products])
    return kernel_cache.compile_kernel(module.kernel, cached, nogil=True, boundscheck=False)


def gather_products(src: np.ndarray, wt: np.ndarray, out: np.ndarray, steps: int, batch_major: bool) -> None:
    """``_gather_products`` (compiled, GIL released) on the integer source ``src`` ``[T, B, C]`` (or
    ``[B, T, C]`` with ``batch_major``), ``wt = W.T`` in ``out``'s float type, into ``out [S, B, N]``."""
    flat = np.ascontiguousarray(src).reshape(-1)
    if flat.ctypes.data % 8:                      # the uint64 view needs 8-byte alignment
        flat = flat.copy()
    per_word = 8 // flat.itemsize
    words = flat[:flat.size // per_word * per_word].view(np.uint64)
    skip_words = np.count_nonzero(words) < WORD_SKIP_DENSITY * words.size
    _compiled_gather()(flat, words, per_word.bit_length() - 1, src.shape[1], src.shape[2], wt, out, steps, batch_major,
                       skip_words)
