"""Compiled integer kernels: each neuron model's ``*_update`` (``convert.fixed_neurons``) compiled by
numba into one kernel over a batch slice and a range of time steps, with no temporaries per step.

Nothing here restates the arithmetic. The kernel is generated from the model's records: it loops
``for t, for b, for n`` and calls the model's own ``*_update`` on int64 scalars. That function and
the ``fixed_point`` primitives it calls are compiled from their own code objects, re-bound to a
namespace in which ``fp`` names the compiled primitives and ``fp._i64`` (numpy's int64 conversion)
is the identity; the primitives are written in operators only, so their numpy and scalar readings
are the same integers (``tests/test_kernels.py`` checks every model, saturation and wrap included).

Per element and step the kernel also does what the emulator's numpy loop does around the step:
adds the recurrent products (exact float BLAS results of the previous step, computed by the caller)
after their weight shift, writes the output, the float copy of it for the next recurrent product,
the recorded states and the overflow counts, and applies the pipeline reset after step
``reset_after``. numba is optional (``snn-deploy[fast]``): without it ``available()`` is False and the
emulator runs its numpy path.
"""
from __future__ import annotations

import types
from functools import lru_cache
from typing import Any, Callable

from snn_deploy.convert import fixed_point as fp
from snn_deploy.convert.fixed_neurons import FixedNeuronModel

#: a one-step change larger than 2^23 in a wrapping state is a wrap (as the emulator's numpy path)
WRAP_JUMP = fp.STATE_HALF


def available() -> bool:
    """True when numba can be imported (the ``fast`` extra)."""
    try:
        import numba  # noqa: F401
    except ImportError:
        return False
    return True


def _identity(x):
    return x


@lru_cache(maxsize=None)
def compiled_primitives() -> types.ModuleType:
    """``fixed_point`` with its ``PRIMITIVES`` compiled by numba (``_i64`` the identity)."""
    import numba

    return fp.bind_primitives("numba", {"_i64": numba.njit(_identity)}, numba.njit)


@lru_cache(maxsize=None)
def compiled_update(model: FixedNeuronModel) -> Callable:
    """The model's ``*_update`` compiled on int64 scalars, its ``fp`` the compiled primitives."""
    import numba

    return model.update_on(compiled_primitives(), numba.njit)


def kernel_source(model: FixedNeuronModel) -> str:
    """Python source of the kernel of ``model`` (generated from its ports, state and parameter names).

    ``kernel(t0, t1, <ff per port>, <ff exps per port>, <rec per port>, <rec exps per port>, <state>,
    <params>, y, prev, <recorded states>, record_state, reset_after, counts)`` runs steps ``[t0, t1)``:
    ff ``[R, S, B, N]`` float (delivered feed-forward products), rec ``[R', B, N]`` float (this step's
    recurrent products), exps int64 (weight exponents), state ``[B, N]`` int64 (updated in place),
    params ``[N]`` (``subtract_reset`` a bool), ``y`` ``[S, B, N]``, ``prev`` ``[B, N]`` float (the
    output, for the caller's next recurrent product), recorded states ``[S, B, N]`` (written only when
    ``record_state``), counts int64: the saturated then the wrapped fields, as ``model.saturating/wrapping``.
    """
    k = len(model.ports)
    ffs, ff_exps = [f"ff_{i}" for i in range(k)], [f"ff_exp_{i}" for i in range(k)]
    recs, rec_exps = [f"rec_{i}" for i in range(k)], [f"rec_exp_{i}" for i in range(k)]
    states = list(model.state_names)
    params = list(model.param_names)
    flags = ["subtract_reset"] if "subtract_reset" in model.params_type.__dataclass_fields__ else []
    recorded = [f"rec_state_{n}" for n in states]
    args = ["t0", "t1", *ffs, *ff_exps, *recs, *rec_exps, *[f"st_{n}" for n in states],
            *[f"p_{n}" for n in params], *flags, "y", "prev", *recorded, "record_state", "reset_after", "counts"]
    ind = " " * 16
    body = [f"def kernel({', '.join(args)}):",
            "    B = y.shape[1]",
            "    N = y.shape[2]",
            "    for t in range(t0, t1):",
            "        for b in range(B):",
            "            for n in range(N):"]
    for i in range(k):
        body += [f"{ind}x_{i} = int64(0)",
                 f"{ind}for r in range(ff_{i}.shape[0]):",
                 f"{ind}    x_{i} += shift(int64(ff_{i}[r, t, b, n]), ff_exp_{i}[r])",
                 f"{ind}for r in range(rec_{i}.shape[0]):",
                 f"{ind}    x_{i} += shift(int64(rec_{i}[r, b, n]), rec_exp_{i}[r])"]
    body += [f"{ind}old_{n} = st_{n}[b, n]" for n in model.wrapping]
    call = [f"x_{i}" for i in range(k)] + [f"st_{n}[b, n]" for n in states] + [f"p_{n}[n]" for n in params] + flags
    body += [f"{ind}out, {', '.join('new_' + n for n in states)}, = update({', '.join(call)})",
             f"{ind}y[t, b, n] = out",
             f"{ind}prev[b, n] = out"]
    body += [f"{ind}if abs(new_{n}) >= STATE_MAX: counts[{j}] += 1" for j, n in enumerate(model.saturating)]
    body += [f"{ind}if abs(new_{n} - old_{n}) > WRAP_JUMP: counts[{j}] += 1"
             for j, n in enumerate(model.wrapping, start=len(model.saturating))]
    body.append(f"{ind}if record_state:")
    body += [f"{ind}    rec_state_{n}[t, b, n] = new_{n}" for n in states]
    body.append(f"{ind}if t == reset_after:   # pipeline reset, after the step")
    body += [f"{ind}    st_{n}[b, n] = 0" for n in states] + [f"{ind}    prev[b, n] = 0", f"{ind}else:"]
    body += [f"{ind}    st_{n}[b, n] = new_{n}" for n in states]
    return "\n".join(body) + "\n"


def _shift(acc, e):
    """A dense's weight shift (``fixed_point.weight_shift``) on one int64: ``acc << e``, or ``>> -e`` flooring."""
    return (acc << e) if e >= 0 else (acc >> -e)


@lru_cache(maxsize=None)
def population_kernel(model: FixedNeuronModel) -> Callable[..., Any]:
    """The compiled kernel of ``model`` (see ``kernel_source``); releases the GIL while it runs."""
    import numba
    import numpy as np

    namespace: dict[str, Any] = {"update": compiled_update(model), "int64": np.int64, "shift": numba.njit(_shift),
                                 "STATE_MAX": fp.STATE_MAX, "WRAP_JUMP": WRAP_JUMP}
    exec(compile(kernel_source(model), f"<kernel {model.name}>", "exec"), namespace)   # our own generated text
    return numba.njit(nogil=True, boundscheck=False)(namespace["kernel"])
