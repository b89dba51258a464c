"""Integer neuron steps: traces worked by hand (module docstring of convert.fixed_neurons)."""
import numpy as np
import pytest

from snn_deploy.convert.fixed_neurons import NEURON_MODELS, get_neuron_model
from snn_deploy.errors import SnnDeployError


def run(model_name, inputs, params, reset="subtract", gates=None, state=None):
    """Run one neuron through ``inputs`` (list of ints); return per-step (output, state)."""
    model = get_neuron_model(model_name)
    p = model.make_params(params, 1, reset=reset)
    st = state or model.initial_state(1)
    out = []
    for t, a in enumerate(inputs):
        ports = {"input": np.array([a])}
        if gates is not None:
            ports["gate"] = np.array([gates[t]])
        y, st = model.apply(ports, st, p)
        out.append((int(y[0]), st))
    return out


CUBA = dict(du=409, dv=1024, vth=10, bias_mant=0, bias_exp=0)


def test_cuba_lif_zero_reset_trace():
    tr = run("cuba_lif", [5, 0, 5, 0], CUBA, reset="zero")
    # t0: u = 5<<6 = 320, v = 320 ; t1: u = 320*3686>>12 = 287, v = 320*3072>>12 + 287 = 240 + 287 = 527
    # t2: u = 287*3686>>12 + 320 = 258 + 320 = 578, v = 527*3072>>12 + 578 = 395 + 578 = 973 > 640: spike, v=0
    # t3: u = 578*3686>>12 = 520, v = 0 + 520
    assert [int(st.u[0]) for _, st in tr] == [320, 287, 578, 520]
    assert [int(st.v[0]) for _, st in tr] == [320, 527, 0, 520]
    assert [s for s, _ in tr] == [0, 0, 1, 0]


def test_cuba_lif_subtract_reset_trace():
    tr = run("cuba_lif", [5, 0, 5, 0], CUBA, reset="subtract")
    # same until t2 (v = 973 kept) ; t3: v = 973*3072>>12 + 520 - 640 = 729 + 520 - 640 = 609
    assert [int(st.v[0]) for _, st in tr] == [320, 527, 973, 609]
    assert [s for s, _ in tr] == [0, 0, 1, 0]


def test_cuba_lif_threshold_is_strict():
    tr = run("cuba_lif", [10], dict(CUBA, dv=0), reset="zero")   # v = 640 == vth << 6: no spike
    assert tr[0][0] == 0 and int(tr[0][1].v[0]) == 640
    tr = run("cuba_lif", [10], dict(CUBA, dv=0, bias_mant=1), reset="zero")  # 641 > 640
    assert tr[0][0] == 1


def test_cuba_lif_current_wraps_at_24_bits():
    model = get_neuron_model("cuba_lif")
    st = model.state_type(u=np.array([2**23 - 100]), v=np.array([0]), s=np.array([0]))
    tr = run("cuba_lif", [100], dict(CUBA, du=0, vth=131071), reset="zero", state=st)
    # (2^23-100)*4095>>12 = 8386460 ; + 6400 = 8392860 > 2^23 -> 8392860 - 2^24 = -8384356
    assert int(tr[0][1].u[0]) == -8384356
    assert int(tr[0][1].v[0]) == -8384356 and tr[0][0] == 0


def test_lif_subtraction_reset_inside_the_leak():
    tr = run("lif", [12, 0, 0], dict(dv=512, vth=10, bias_mant=0, bias_exp=0))
    # t0: v = 768 > 640 spike ; t1: (768 - 640)*3584>>12 = 112 ; t2: 112*3584>>12 = 98
    assert [int(st.v[0]) for _, st in tr] == [768, 112, 98]
    assert [s for s, _ in tr] == [1, 0, 0]


def test_lif_negative_leak_rounds_toward_zero():
    tr = run("lif", [0, 0], dict(dv=512, vth=10, bias_mant=-5, bias_exp=0))
    # t0: v = -5 ; t1: -5*3584>>12 -> -(17920>>12) = -4, + -5 = -9
    assert [int(st.v[0]) for _, st in tr] == [-5, -9]


def test_adlif_trace():
    tr = run("adlif", [12, 0, 0], dict(dv=512, dw=256, a_frac=-400, b_adapt=100, vth=10, bias_mant=0, bias_exp=0))
    # t0: w = 0, v = 768 spike
    # t1: w = 0 + frac(768, -400) + 100 = -75 + 100 = 25 ; v = (768-640)*3584>>12 - 25 = 112 - 25 = 87
    # t2: w = 25*3840>>12 + frac(87, -400) = 23 - 8 = 15 ; v = 87*3584>>12 - 15 = 76 - 15 = 61
    assert [int(st.w[0]) for _, st in tr] == [0, 25, 15]
    assert [int(st.v[0]) for _, st in tr] == [768, 87, 61]
    assert [s for s, _ in tr] == [1, 0, 0]


def test_mthr_lif_threshold_moves_up_after_a_spike():
    tr = run("mthr_lif", [12, 12, 0], dict(dv=512, da=2048, k=320, vth=10, bias_mant=0, bias_exp=0))
    # t0: A=0, theta=640, v=768 spike ; t1: A=4096, theta=640+320=960, v=(768-640)*3584>>12 + 768 = 880 < 960
    # t2: A=2048, theta=800, v=880*3584>>12 = 770 < 800
    assert [int(st.A[0]) for _, st in tr] == [0, 4096, 2048]
    assert [int(st.theta[0]) for _, st in tr] == [640, 960, 800]
    assert [int(st.v[0]) for _, st in tr] == [768, 880, 770]
    assert [s for s, _ in tr] == [1, 0, 0]


def test_spikgru_trace():
    tr = run("spikgru", [20, 0, 40, 0], dict(du=4095, vth=10, bias_mant=0, bias_exp=0, gate_bias=0),
             gates=[0, 256, -256, 0])
    # t0: z=2048, i=1280, v = 1280*2048>>12 = 640: not > 640
    # t1: z=2994, i=0, v = 640*2994>>12 = 467
    # t2: z=1102, i=2560, v = 467*1102>>12 + 2560*2994>>12 = 125 + 1871 = 1996 > 640: spike
    # t3: z=2048, i=0, v = 1996*2048>>12 - 640 = 998 - 640 = 358
    assert [int(st.z[0]) for _, st in tr] == [2048, 2994, 1102, 2048]
    assert [int(st.v[0]) for _, st in tr] == [640, 467, 1996, 358]
    assert [s for s, _ in tr] == [0, 0, 1, 0]


def test_li_saturates_and_outputs_the_potential():
    model = get_neuron_model("li")
    st = model.state_type(u=np.array([2**23 - 7]))
    tr = run("li", [1, -300000], dict(dv=0, bias_mant=0, bias_exp=0), state=st)
    # (2^23 - 7) + 64 saturates at 2^23 - 1 ; then 8388607 - 19_200_000 saturates at -(2^23 - 1)
    assert [y for y, _ in tr] == [2**23 - 1, -(2**23 - 1)]


def test_steps_work_on_a_batch_with_per_neuron_params():
    model = get_neuron_model("lif")
    p = model.make_params(dict(dv=np.array([0, 2048]), vth=10, bias_mant=0, bias_exp=0), 2)
    st = model.initial_state(2, (3,))
    a = np.array([[12, 12], [0, 0], [5, 5]])
    s, st = model.step(a, st, p)
    np.testing.assert_array_equal(s, [[1, 1], [0, 0], [0, 0]])
    np.testing.assert_array_equal(st.v, [[768, 768], [0, 0], [320, 320]])
    s, st = model.step(np.zeros((3, 2), np.int64), st, p)
    np.testing.assert_array_equal(st.v, [[128, 64], [0, 0], [320, 160]])


def test_params_validation_names_the_problem():
    with pytest.raises(SnnDeployError, match="missing \\['vth'\\]"):
        get_neuron_model("lif").make_params(dict(dv=1, bias_mant=0, bias_exp=0), 1)
    with pytest.raises(SnnDeployError, match="unknown \\['alpha'\\]"):
        get_neuron_model("li").make_params(dict(dv=1, bias_mant=0, bias_exp=0, alpha=0.5), 1)
    with pytest.raises(SnnDeployError, match="reset 'zero'"):
        get_neuron_model("adlif").make_params(dict(dv=1, dw=1, a_frac=0, b_adapt=0, vth=1, bias_mant=0, bias_exp=0),
                                       1, reset="zero")
    with pytest.raises(SnnDeployError, match="no integer neuron step"):
        get_neuron_model("hodgkin_huxley")
    assert set(NEURON_MODELS) == {"cuba_lif", "lif", "adlif", "mthr_lif", "spikgru", "li"}
