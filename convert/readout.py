"""Off-chip readout: class scores and predictions from the output population's trace.

Shared by every backend (the emulator, the Lava run in ``deploy``): the chip records the output
population's potentials (or spikes) over the steps of ``Network.readout_window``; the scores are
computed here, in float, after the run.
"""
from __future__ import annotations

from typing import Optional

import numpy as np

from snn_deploy.errors import SnnDeployError
from snn_deploy.ir import READOUT_MODES, Network


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
        u = window                 # a float64 copy of the trace: divided and exponentiated in place
        u /= float(scale)
        if mode == "cumsoftmax":
            u -= u.max(axis=-1, keepdims=True)
            np.exp(u, out=u)
            u /= u.sum(axis=-1, keepdims=True)
            scores = u.sum(axis=1)
        elif mode == "last":
            scores = u[:, -1]
        else:
            scores = u.max(axis=1)
    return scores, scores.argmax(axis=-1)
