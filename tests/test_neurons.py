"""Neuron step functions against the papers' equations, worked by hand on 1-2 neurons over 3-4 steps.

Inputs are chosen so that the values are exact binary fractions where possible.
"""
import pytest
import torch

from snn_deploy.train.neurons import (ADLIF, CUBA_LIF, LI, LIF, MTHR_LIF, NEURON_MODELS, SPIKGRU,
                                      get_neuron_model)
from snn_deploy.train.surrogate import get_surrogate, heaviside

from snn_deploy.errors import SnnDeployError


def run(model, params, currents, gates=None):
    """Loop ``model.step`` over time for a batch of 1; return (outputs [T, N], states list)."""
    I = torch.tensor(currents, dtype=torch.float64)  # [T, N]
    state = model.zero_state(1, I.shape[1], I)
    outs, states = [], []
    for t in range(I.shape[0]):
        if gates is None:
            out, state = model.step(I[t][None], state, params, heaviside)
        else:
            g = torch.tensor(gates[t], dtype=torch.float64)[None]
            out, state = model.step(I[t][None], g, state, params, heaviside)
        outs.append(out[0])
        states.append(state)
    return torch.stack(outs), states


def t64(*v):
    return torch.tensor(v, dtype=torch.float64)


def test_lif_paper1_code_equations():
    # u[t] = α (u[t-1] - ϑ s[t-1]) + (1-α) I[t], s = H(u - 1); neuron 0: α=0.5, neuron 1: α=0.75
    p = LIF.make_params({"alpha": t64(0.5, 0.75)})
    s, st = run(LIF, p, [[1.5, 2.0], [1.5, 2.0], [0.0, 0.0], [3.0, 4.0]])
    u0 = [0.75, 1.125, 0.0625, 1.53125]            # 0.5*0+0.75; 0.375+0.75; 0.5*(1.125-1); 0.03125+1.5
    u1 = [0.5, 0.875, 0.65625, 1.4921875]          # 0.25*2=0.5; 0.375+0.5; 0.75*0.875; 0.75*0.65625+1
    assert [x.u[0, 0].item() for x in st] == pytest.approx(u0)
    assert [x.u[0, 1].item() for x in st] == pytest.approx(u1)
    assert s[:, 0].tolist() == [0, 1, 0, 1]
    assert s[:, 1].tolist() == [0, 0, 0, 1]


def test_lif_threshold_is_strict():
    p = LIF.make_params({"alpha": t64(0.5)})
    s, st = run(LIF, p, [[2.0]])   # u = 1.0 exactly: no spike (H(0) = 0, as Loihi's v > vth)
    assert st[0].u.item() == 1.0 and s.tolist() == [[0.0]]


def test_adlif_follows_sparch_order():
    # w[t] = β w + a u[t-1] + b s[t-1]; u[t] = α (u - s) + (1-α)(I - w[t]); α=β=a=0.5, b=1
    p = ADLIF.make_params({"alpha": t64(0.5), "beta": t64(0.5), "a": t64(0.5), "b": t64(1.0)})
    s, st = run(ADLIF, p, [[4.0], [0.0], [0.0], [0.0]])
    # t1: w=0, u=2 -> spike. t2: w = 0.5*2 + 1 = 2, u = 0.5*(2-1) + 0.5*(0-2) = -0.5
    # t3: w = 1 - 0.25 = 0.75, u = -0.25 - 0.375 = -0.625. t4: w = 0.375 - 0.3125, u = -0.3125 - 0.03125
    assert [x.w.item() for x in st] == pytest.approx([0.0, 2.0, 0.75, 0.0625])
    assert [x.u.item() for x in st] == pytest.approx([2.0, -0.5, -0.625, -0.34375])
    assert s[:, 0].tolist() == [1, 0, 0, 0]


def test_adlif_differs_from_printed_equations():
    # The printed Eq. 7-8 ((1-β) factor, old w in u) give u[2] = 0.5*2 - 1 + 0.5*(0 - 0) = 0 at t2;
    # the code order gives -0.5 (checked above): make sure we did not implement the printed form.
    p = ADLIF.make_params({"alpha": t64(0.5), "beta": t64(0.5), "a": t64(0.5), "b": t64(1.0)})
    _, st = run(ADLIF, p, [[4.0], [0.0]])
    assert st[1].u.item() != pytest.approx(0.0)


def test_moving_threshold_lif():
    # A = ρ A + s_old; θ = 1 + k A; u = α (u - θ_old s_old) + (1-α) I; s = H(u - θ); α=ρ=0.5, k=1
    p = MTHR_LIF.make_params({"alpha": t64(0.5), "rho": t64(0.5), "k": t64(1.0)})
    s, st = run(MTHR_LIF, p, [[3.0], [3.0], [3.0], [0.0]])
    # t1: u=1.5 > 1 spike. t2: A=1, u=0.5*(1.5-1)+1.5=1.75 < θ=2: no spike (plain LIF would spike)
    # t3: A=0.5, u=0.875+1.5=2.375 > 1.5 spike. t4: θ_old=1.5, A=1.25, u=0.5*(2.375-1.5)=0.4375
    assert [x.A.item() for x in st] == pytest.approx([0.0, 1.0, 0.5, 1.25])
    assert [x.u.item() for x in st] == pytest.approx([1.5, 1.75, 2.375, 0.4375])
    assert s[:, 0].tolist() == [1, 0, 1, 0]


@pytest.mark.parametrize("reset, v_expected, s_expected", [
    # i = α i + I; subtract: v = β v + (1-β) i - s_old; zero: v = β v (1 - s_old) + (1-β) i
    ("subtract", [1.0, 3.0, 1.75, 0.5], [0, 1, 1, 0]),
    ("zero", [1.0, 3.0, 1.25, 0.625], [0, 1, 1, 0]),
])
def test_cuba_lif_paper2_eq3_5(reset, v_expected, s_expected):
    p = CUBA_LIF.make_params({"alpha": t64(0.5), "beta": t64(0.5)}, reset=reset)
    s, st = run(CUBA_LIF, p, [[2.0], [4.0], [0.0], [0.0]])
    assert [x.i.item() for x in st] == pytest.approx([2.0, 5.0, 2.5, 1.25])
    assert [x.v.item() for x in st] == pytest.approx(v_expected)
    assert s[:, 0].tolist() == s_expected   # v = 1.0 at t1 does not spike (strict)


def test_spikgru_paper2_eq6_9():
    # z = σ(I_gate); i = α i + I; v = z v + (1-z) i - s_old; α = 0.5; gates 0, 0, ln 3 -> z = .5, .5, .75
    p = SPIKGRU.make_params({"alpha": t64(0.5)})
    s, st = run(SPIKGRU, p, [[2.0], [4.0], [0.0]], gates=[[0.0], [0.0], [torch.log(t64(3.0)).item()]])
    assert [x.i.item() for x in st] == pytest.approx([2.0, 5.0, 2.5])
    assert [x.v.item() for x in st] == pytest.approx([1.0, 3.0, 1.875])   # 0.75*3 + 0.25*2.5 - 1
    assert s[:, 0].tolist() == [0, 1, 1]


def test_li_readout():
    p = LI.make_params({"alpha": t64(0.5)})
    u, _ = run(LI, p, [[2.0], [0.0], [4.0]])
    assert u[:, 0].tolist() == [1.0, 0.5, 2.25]


def test_surrogate_gradient_flows_through_step():
    # d s / d I at one step of LIF: s = H(u - 1), u = (1-α) I; boxcar height 1 -> ds/dI = (1-α)
    p = LIF.make_params({"alpha": t64(0.5)})
    I = t64(2.2).reshape(1, 1).requires_grad_(True)
    s, _ = LIF.step(I, LIF.zero_state(1, 1, I), p, get_surrogate("boxcar"))
    s.sum().backward()
    assert s.item() == 1.0 and I.grad.item() == pytest.approx(0.5)


def test_registry_matches_ir_models_and_rejects_unknown():
    from snn_deploy.catalogue import model_names

    assert set(NEURON_MODELS) == set(model_names())
    with pytest.raises(SnnDeployError, match="unknown neuron model 'izhikevich'"):
        get_neuron_model("izhikevich")


def test_zero_initial_state():
    st = ADLIF.zero_state(3, 4, torch.ones(1))
    assert all(float(getattr(st, f).abs().sum()) == 0.0 for f in ("u", "w", "s"))
    assert st.u.shape == (3, 4)
