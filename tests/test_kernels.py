"""Compiled integer kernels (``convert.kernels``) against the numpy steps of ``convert.fixed_neurons``:
every model, from random states across the whole 24-bit range with inputs large enough that every
saturating field saturates and every wrapping field wraps; and the emulator's two engines on whole
networks. (The numpy steps are the ones Lava's process models run: tests/test_deploy_lava.py runs
every model on Lava against both engines.)"""
import numpy as np
import pytest

from snn_deploy.convert import emulator, fixed_point as fp
from snn_deploy.convert.fixed_neurons import NEURON_MODELS, get_neuron_model
from snn_deploy.errors import SnnDeployError

#: register ranges of every integer parameter (as the quantizer and check_registers allow)
RANGES = dict(du=(0, 4095), dv=(0, 4095), dw=(0, 4095), da=(0, 4095), vth=(0, fp.THRESHOLD_MANT_MAX),
              bias_mant=(fp.BIAS_MANT_MIN, fp.BIAS_MANT_MAX), bias_exp=(0, fp.BIAS_EXP_MAX),
              a_frac=(-fp.FRACTION_REG_MAX, fp.FRACTION_REG_MAX), b_adapt=(-2**20, 2**20), k=(0, 2**20),
              gate_bias=(-fp.GATE_BIAS_MAX, fp.GATE_BIAS_MAX))
CASES = [(name, reset) for name, m in NEURON_MODELS.items() for reset in m.resets]


def random_case(model, reset, rng, B=3, N=40, S=12):
    values = {n: rng.integers(*RANGES[n], size=N, endpoint=True) for n in model.param_names}
    for n in ("du", "dv", "dw", "da"):
        if n in values:
            values[n][:4] = 0                      # no leak: the first neurons stay at the limits
    params = model.make_params(values, N, reset=reset)
    fields = {n: rng.integers(-fp.STATE_MAX, fp.STATE_MAX, size=(B, N), endpoint=True) for n in model.state_names}
    for v in fields.values():
        v[:, :2], v[:, 2:4] = fp.STATE_MAX - 10, -(fp.STATE_MAX - 10)
    if "s" in fields:
        fields["s"] = rng.integers(0, 2, size=(B, N))
        fields["s"][:, :2] = 1                     # mthr_lif's trace: A + 4096 s past 2^23 - 1
    state = model.state_type(**fields)
    # products up to 2^18 with a weight shift of -1..1: (a << 6) reaches 2^25, past both 24-bit limits
    ff = [rng.integers(-2**18, 2**18, size=(2, S, B, N)).astype(np.float64) for _ in model.ports]
    exps = [np.array([-1, 1], np.int64) for _ in model.ports]
    return params, state, ff, exps


def numpy_reference(model, params, state, ff, exps, S, reset_after):
    outs, states, counts = [], [], np.zeros(len(model.overflow_names), np.int64)
    for t in range(S):
        inputs = [sum(fp.weight_shift(f[k, t].astype(np.int64), e[k]) for k in range(f.shape[0]))
                  for f, e in zip(ff, exps)]
        old = state
        out, state = model.step(*inputs, state, params)
        outs.append(out)
        states.append(state)
        for j, n in enumerate(model.saturating):
            counts[j] += np.count_nonzero(np.abs(getattr(state, n)) >= fp.STATE_MAX)
        for j, n in enumerate(model.wrapping, start=len(model.saturating)):
            counts[j] += np.count_nonzero(np.abs(getattr(state, n) - getattr(old, n)) > fp.WRAP_JUMP)
        if t == reset_after:
            state = model.initial_state(out.shape[-1], out.shape[:1])
    return np.stack(outs), {n: np.stack([getattr(s, n) for s in states]) for n in model.state_names}, counts


@pytest.mark.parametrize("name,reset", CASES)
def test_compiled_kernel_equals_numpy_step_with_saturation_and_wrap(name, reset):
    pytest.importorskip("numba")
    from snn_deploy.convert import kernels
    model = get_neuron_model(name)
    rng = np.random.default_rng(sum(map(ord, name + reset)))
    S, reset_after = 12, 5
    params, state, ff, exps = random_case(model, reset, rng, S=S)
    want_y, want_states, want_counts = numpy_reference(model, params, state, ff, exps, S, reset_after)

    B, N = state.__dict__[model.state_names[0]].shape
    y = np.zeros((S, B, N), np.uint8 if model.spiking else np.int64)
    recorded = [np.zeros((S, B, N), np.int64) for _ in model.state_names]
    counts = np.zeros_like(want_counts)
    no_rec = [np.zeros((0, B, N), np.float64) for _ in model.ports]
    st = [getattr(state, n).copy() for n in model.state_names]
    flags = [getattr(params, f) for f in model.flag_names]
    kernels.population_kernel(model, True, ((2, 0),) * len(model.ports))(
        *ff, *exps, *[np.zeros((0, N, N)) for _ in model.ports], *no_rec, *[np.zeros(0, np.int64) for _ in model.ports],
        *st, *[getattr(params, f) for f in model.param_names], *flags, y, np.zeros((B, N)), *recorded,
        reset_after, counts)

    np.testing.assert_array_equal(y, want_y)
    for n, rec in zip(model.state_names, recorded):
        np.testing.assert_array_equal(rec, want_states[n], err_msg=f"{name} state {n}")
    np.testing.assert_array_equal(counts, want_counts)
    # guards: every saturating field saturated and every wrapping field wrapped, somewhere
    assert np.all(want_counts > 0), f"{name}: counts {want_counts} for {model.saturating + model.wrapping}"


@pytest.mark.parametrize("case", ["radlif", "spikgru", "cuba_lif", "mthr_lif"])
def test_emulator_engines_give_the_same_integers(case):
    pytest.importorskip("numba")
    from networks import assert_same_run, seeded_inputs, seeded_network   # tests/networks.py

    net = seeded_network(case, bias=8.0, **({"reset": "zero"} if case == "cuba_lif" else {}))
    x = seeded_inputs(net, 5, 15, max_count=2 if case == "spikgru" else 1)
    a = emulator.emulate(net, x, record_state=True, engine="compiled")
    b = emulator.emulate(net, x, record_state=True, engine="numpy")
    assert sum(int(s.sum()) for s in a.spikes.values()) > 20
    assert_same_run(a, b)


def test_engine_choice_is_checked(monkeypatch):
    from snn_deploy.convert import kernels

    with pytest.raises(SnnDeployError, match="unknown emulator engine 'gpu'"):
        emulator.resolve_engine("gpu")
    monkeypatch.setattr(kernels, "available", lambda: False)
    assert emulator.resolve_engine("auto") == "numpy"
    with pytest.raises(SnnDeployError, match=r"needs numba: pip install 'snn-deploy\[fast\]'"):
        emulator.resolve_engine("compiled")


@pytest.mark.parametrize("dtype", [np.uint8, np.int16, np.int64])
@pytest.mark.parametrize("skip_words", [True, False])
def test_gather_products_equal_the_integer_products(dtype, skip_words, monkeypatch):
    """The compiled gather kernel against an integer einsum: both layouts, a channel count that is no
    multiple of 8 (rows straddle the 8-byte words, a tail past the last word), graded counts, fewer
    delivered steps than the source has, a source not 8-byte aligned, float32 and float64."""
    pytest.importorskip("numba")
    from snn_deploy.convert import kernels
    monkeypatch.setattr(kernels, "WORD_SKIP_DENSITY", 2.0 if skip_words else 0.0)
    rng = np.random.default_rng(11)
    B, T, C, N = 5, 9, 13, 7
    w = 2 * rng.integers(-127, 128, size=(N, C))
    for density, high in [(0.05, 2), (0.3, 200)]:
        x = ((rng.random((B, T, C)) < density) * rng.integers(1, high, size=(B, T, C))).astype(dtype)
        for steps in (T, T - 3):
            want = np.zeros((T + 2, B, N), np.int64)
            want[1:steps + 1] = np.einsum("btc,nc->tbn", x[:, :steps].astype(np.int64), w)
            assert np.any(want != 0)
            for float_type in (np.float32, np.float64):
                wt = np.ascontiguousarray(w.T.astype(float_type))
                for batch_major, src in [(True, x), (False, np.ascontiguousarray(x.transpose(1, 0, 2)))]:
                    shifted = np.empty(src.size * src.itemsize + 1, np.uint8)[1:].view(src.dtype).reshape(src.shape)
                    shifted[...] = src                      # the same values at an odd address
                    for source in (src, shifted):
                        out = np.zeros((T + 2, B, N), float_type)
                        kernels.gather_products(source, wt, out, steps, batch_major)
                        np.testing.assert_array_equal(out, want, err_msg=f"{dtype} {float_type} {batch_major} {steps}")
