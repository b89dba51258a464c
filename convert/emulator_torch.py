"""The emulator's torch engine: the whole graph on torch tensors, on the CPU or a CUDA device, with the
same integers as the numpy engine (``emulate(..., engine="torch", device=...)``).

Nothing here restates a neuron model. Each population runs its model's own ``*_update`` definition
(``convert.fixed_neurons``) with ``fp`` bound to ``fixed_point``'s primitives re-bound for torch
(``fixed_point.bind_primitives``): ``_i64`` is the identity (every value is already an int64 tensor)
and ``SIGMOID_LUT`` is the same table as a tensor on the device. The primitives are written in
operators only, and torch's operators on int64 tensors are numpy's: ``>>`` is the arithmetic
(flooring) shift, ``&`` / ``*`` / comparisons the same, so the same text gives the same integers
(``tests/test_emulator_torch.py`` checks every model, saturation and wrap included).

Around the step, as the numpy engine (``convert.emulator``, whose graph walk and wiring this reuses):

- feed-forward products for all steps at once, ``a[t+1] = shift(W x[t], e)``, as float matmuls that
  are exact because every partial sum is an integer below ``2^24`` (float32) or ``2^53`` (float64),
  the bound ``max|x| * max_row sum|w|`` checked per dense (``fixed_point.exact_float_dtype``); cut
  into chunks of steps so that the float temporaries stay below ``FF_CHUNK_ELEMENTS``;
- recurrent products once per step from the previous output (float64 for a non-spiking population,
  whose potentials reach ``2^23 - 1``), pipeline reset after step ``depth - 1``, overflow counts (kept
  on the device, read once at the end) and the recorded states.

Exactness of float32 on a GPU needs full-precision matmuls: ``highest`` float32 matmul precision (no
TF32, whose 10-bit mantissa would round inputs) is set while the engine runs and restored after.
"""
from __future__ import annotations

import contextlib
from functools import lru_cache
from typing import Any, Callable, Iterator

import numpy as np
import torch

from snn_deploy.convert import emulator
from snn_deploy.convert import fixed_point as fp
from snn_deploy.convert.fixed_neurons import FixedNeuronModel, get_neuron_model
from snn_deploy.errors import UsageError
from snn_deploy.ir import Network, NeuronNode

FF_CHUNK_ELEMENTS = 1 << 24     #: float elements per chunk of feed-forward rows (64 MiB in float32)
TORCH_FLOAT = {np.dtype(np.float32): torch.float32, np.dtype(np.float64): torch.float64}


class DeviceUnavailable(UsageError):
    """A torch device was asked for that this machine or this torch build does not have."""


def check_device(device: str, option: str = "device") -> torch.device:
    """The torch device ``device`` names (``cpu``, ``cuda``, ``cuda:1``), or one ``option``-named error line."""
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError):
        raise UsageError(f"{option} {device}: not a torch device (expected cpu or cuda)") from None
    if dev.type == "cpu":
        return dev
    if dev.type != "cuda":
        raise UsageError(f"{option} {device}: the emulator runs on cpu or cuda, not {dev.type}")
    if not torch.cuda.is_available():
        why = ("this torch is built without CUDA" if torch.version.cuda is None
               else f"no CUDA device is visible to torch {torch.__version__}")
        raise DeviceUnavailable(f"{option} {device}: CUDA is not available ({why}); use --device cpu, "
                                "or leave --device out (the numpy emulator on the CPU)")
    if dev.index is not None and dev.index >= torch.cuda.device_count():
        raise DeviceUnavailable(f"{option} {device}: there are {torch.cuda.device_count()} CUDA device(s)")
    return dev


@lru_cache(maxsize=None)
def torch_primitives(device: torch.device) -> Any:
    """``fixed_point``'s primitives (and ``weight_shift``) on int64 tensors of ``device``."""
    lut = torch.tensor(fp.SIGMOID_LUT.tolist(), dtype=torch.int64, device=device)
    return fp.bind_primitives(f"torch:{device}", {"_i64": fp.already_int64, "SIGMOID_LUT": lut},
                              names=fp.PRIMITIVES + ("weight_shift",))


@contextlib.contextmanager
def exact_float32_matmuls() -> Iterator[None]:
    """float32 matmuls in full precision (no TF32) while the engine runs; the user's setting restored."""
    before = torch.get_float32_matmul_precision()
    torch.set_float32_matmul_precision("highest")
    try:
        yield
    finally:
        torch.set_float32_matmul_precision(before)


def run_graph(net: Network, x: np.ndarray, depths: dict[str, int], S: int, record: bool, record_state: bool,
              pipeline_reset: bool, device: str, keep: Callable[[tuple, np.ndarray], None]) -> dict[str, dict[str, int]]:
    """``convert.emulator._run_graph`` on torch tensors of ``device``: the overflow counts; ``keep(key, array)``
    receives each record as a batch-major numpy array, as the numpy engine's."""
    dev = check_device(device)
    for pop in net.layer_order():     # a records-only step cannot run here: say so before any work
        get_neuron_model(pop.model).update_on(torch_primitives(dev))
    # spike counts are checked to [0, 255] by encode_inputs: uint8 on the device (1/8 of the transfer)
    small = net.inputs()[0].encoding == "spikes"
    x_dev = torch.from_numpy(np.ascontiguousarray(x, np.uint8 if small else np.int64)).to(dev)

    def run_population(net: Network, pop: NeuronNode, model: FixedNeuronModel, outputs: dict[str, torch.Tensor],
                       B: int, S: int, record_state: bool, reset_after: int) -> tuple:
        return _run_population(net, pop, model, outputs, B, S, record_state, reset_after, dev)

    with torch.inference_mode(), exact_float32_matmuls():
        return emulator._run_graph(net, x_dev, depths, S, record, record_state, pipeline_reset,
                                   run_population, lambda key, seq: keep(key, _batch_major(seq)))


def _batch_major(seq: torch.Tensor) -> np.ndarray:
    """A time-major ``[S, B, N]`` tensor -> a contiguous ``[B, S, N]`` numpy array on the host."""
    return seq.transpose(0, 1).contiguous().cpu().numpy()


def _exact_dtype(max_abs_input: float, w: np.ndarray) -> torch.dtype:
    return TORCH_FLOAT[fp.exact_float_dtype(max_abs_input, emulator._max_row_sum(w))]


def _max_abs(t: torch.Tensor) -> float:
    return float(t.abs().max()) if t.numel() else 0.0


def _feed_forward(src: torch.Tensor, w: np.ndarray, exp: int, out: torch.Tensor, dtype: torch.dtype,
                  shift: Any) -> None:
    """``out[t] += shift(W src[t - 1], exp)`` for the steps the source has (``src`` time-major
    ``[T_src, B, C]``, ``out`` int64 ``[S, B, N]``), in chunks of steps, as exact ``dtype`` matmuls."""
    n = min(src.shape[0], out.shape[0] - 1)
    B, C = src.shape[1], src.shape[2]
    if n <= 0 or B == 0:
        return
    w_t = torch.as_tensor(w.T, dtype=dtype, device=out.device).contiguous()
    chunk = max(1, FF_CHUNK_ELEMENTS // max(1, B * max(C, w.shape[0])))
    for t0 in range(0, n, chunk):
        t1 = min(n, t0 + chunk)
        rows = src[t0:t1].reshape((t1 - t0) * B, C).to(dtype)
        products = (rows @ w_t).to(torch.int64)           # exact integers in dtype: the cast does not round
        out[t0 + 1:t1 + 1] += shift(products, exp).view(t1 - t0, B, -1)


def _run_population(net: Network, pop: NeuronNode, model: FixedNeuronModel, outputs: dict[str, torch.Tensor],
                    B: int, S: int, record_state: bool, reset_after: int,
                    dev: torch.device) -> tuple[torch.Tensor, dict[str, torch.Tensor], dict[str, int]]:
    """One population over all ``S`` steps on ``dev``: its inputs wired as ``convert.emulator._incoming``
    says, then ``time_loop``: (output ``[S, B, N]``, recorded states, overflow counts)."""
    shift = torch_primitives(dev).weight_shift
    N = pop.size
    a_ff = [torch.zeros((S, B, N), dtype=torch.int64, device=dev) for _ in model.ports]
    recurrent: list[list[tuple[np.ndarray, int]]] = [[] for _ in model.ports]
    rec_dtypes = []
    for d in emulator._incoming(net, pop, model):
        k = model.ports.index(d.port)
        if d.recurrent:
            rec_dtypes.append(TORCH_FLOAT[emulator.recurrent_dtype(d.weight, d.spiking_source)])
            recurrent[k].append((d.weight, d.exp))
        else:
            src = outputs[d.source]
            if d.from_input:                  # the network's input is batch-major [B, T, C]
                src = src.transpose(0, 1)
            dtype = _exact_dtype(1.0 if d.spiking_source else _max_abs(src), d.weight)
            _feed_forward(src, d.weight, d.exp, a_ff[k], dtype, shift)
    rec_dt = torch.float64 if torch.float64 in rec_dtypes else torch.float32   # one type for the previous output
    rec_w = [[(torch.as_tensor(w.T, dtype=rec_dt, device=dev).contiguous(), e) for w, e in port] for port in recurrent]
    return time_loop(model, model.params_from_node(pop), a_ff, rec_w, record_state, reset_after)


def time_loop(model: FixedNeuronModel, params: Any, a_ff: list[torch.Tensor],
              rec_w: list[list[tuple[torch.Tensor, int]]], record_state: bool, reset_after: int,
              initial: Any = None) -> tuple[torch.Tensor, dict[str, torch.Tensor], dict[str, int]]:
    """The model's ``*_update`` once per step on ``[B, N]`` int64 tensors: (output ``[S, B, N]``, recorded
    states, overflow counts).

    ``a_ff[k]`` ``[S, B, N]`` int64: port ``k``'s delivered feed-forward input (already shifted);
    ``rec_w[k]``: port ``k``'s recurrent denses as (``W.T`` in one exact float dtype, exponent), applied to
    the previous step's output; ``params`` the model's numpy parameter record; ``initial`` a numpy state
    record to start from (default all zero, as hardware; the pipeline reset after step ``reset_after``
    returns to zero).
    """
    S, B, N = a_ff[0].shape
    dev = a_ff[0].device
    prims = torch_primitives(dev)
    update = model.update_on(prims)
    fields = [torch.as_tensor(getattr(params, n), dtype=torch.int64, device=dev) for n in model.param_names]
    flags = [getattr(params, f) for f in model.flag_names]
    zeros = [torch.zeros((B, N), dtype=torch.int64, device=dev) for _ in model.state_names]
    state = list(zeros) if initial is None else [torch.as_tensor(getattr(initial, n), dtype=torch.int64, device=dev)
                                                 for n in model.state_names]
    y = torch.zeros((S, B, N), dtype=torch.uint8 if model.spiking else torch.int64, device=dev)
    recorded = ({n: torch.zeros((S, B, N), dtype=torch.int64, device=dev) for n in model.state_names}
                if record_state else {})
    index = {n: i for i, n in enumerate(model.state_names)}
    counts = torch.zeros(len(model.overflow_names), dtype=torch.int64, device=dev)
    rec_dt = next((w.dtype for port in rec_w for w, _ in port), torch.float32)
    prev = torch.zeros((B, N), dtype=rec_dt, device=dev)
    any_recurrent = any(rec_w)
    for t in range(S):
        inputs = []
        for k in range(len(model.ports)):
            a = a_ff[k][t]
            for w_t, e in rec_w[k]:
                if t > 0:     # exact: partial sums bounded as checked when the weights were cast
                    a = a + prims.weight_shift((prev @ w_t).to(torch.int64), e)
            inputs.append(a)
        out, *new = update(*inputs, *state, *fields, *flags)
        y[t] = out
        if any_recurrent:
            prev = out.to(rec_dt)
        for j, n in enumerate(model.saturating):
            counts[j] += (new[index[n]].abs() >= fp.STATE_MAX).sum()
        for j, n in enumerate(model.wrapping, start=len(model.saturating)):
            counts[j] += ((new[index[n]] - state[index[n]]).abs() > fp.WRAP_JUMP).sum()
        for n, rec in recorded.items():
            rec[t] = new[index[n]]
        if t == reset_after:   # pipeline reset (after the step, as Lava's Reset in post-management)
            state = list(zeros)
            prev = torch.zeros_like(prev)
        else:
            state = new
    return y, recorded, dict(zip(model.overflow_names, (int(c) for c in counts.cpu())))
