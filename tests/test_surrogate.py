"""Surrogate gradients: exact Heaviside forward, backward VALUES against the formulas."""
import math

import pytest
import torch

from snn_deploy.errors import SnnDeployError
from snn_deploy.train.surrogate import SURROGATES, get_surrogate, heaviside


def grad_of(spike_fn, xs):
    x = torch.tensor(xs, dtype=torch.float64, requires_grad=True)
    s = spike_fn(x)
    # weight the incoming gradient to check it is multiplied in, not replaced
    s.backward(torch.full_like(x, 2.0))
    return s.detach(), x.grad / 2.0


@pytest.mark.parametrize("name", sorted(SURROGATES))
def test_forward_is_exact_strict_heaviside(name):
    s, _ = grad_of(get_surrogate(name), [-1.0, -1e-9, 0.0, 1e-9, 3.0])
    assert s.tolist() == [0.0, 0.0, 0.0, 1.0, 1.0]


def test_boxcar_default_height_is_sparch_code_value_1():
    _, g = grad_of(get_surrogate("boxcar"), [-1.0, -0.5, -0.2, 0.0, 0.5, 0.5001, 2.0])
    assert g.tolist() == [0.0, 1.0, 1.0, 1.0, 1.0, 0.0, 0.0]


def test_boxcar_paper_height():
    # paper 1 Eq. 13: 0.5 on |x| <= 0.5
    _, g = grad_of(get_surrogate("boxcar", height=0.5), [-0.6, -0.4, 0.3, 0.7])
    assert g.tolist() == [0.0, 0.5, 0.5, 0.0]


def test_triangle_values():
    _, g = grad_of(get_surrogate("triangle"), [-2.0, -0.5, 0.0, 0.25, 1.0])
    assert g.tolist() == pytest.approx([0.0, 0.5, 1.0, 0.75, 0.0])
    _, g = grad_of(get_surrogate("triangle", height=0.3, width=2.0), [1.0])
    assert g.tolist() == pytest.approx([0.15])


def test_sigmoid_gaussian_superspike_values():
    _, g = grad_of(get_surrogate("sigmoid", slope=4.0), [0.0, math.log(3.0) / 4.0])
    # slope * sig * (1 - sig): at 0 -> 4 * 1/4; at sig = 3/4 -> 4 * 3/16
    assert g.tolist() == pytest.approx([1.0, 0.75])
    _, g = grad_of(get_surrogate("gaussian", sigma=0.5), [0.0, 0.5])
    peak = 1.0 / (0.5 * math.sqrt(2 * math.pi))
    assert g.tolist() == pytest.approx([peak, peak * math.exp(-0.5)])
    _, g = grad_of(get_surrogate("superspike", beta=10.0), [0.1, -0.3])
    assert g.tolist() == pytest.approx([0.25, 1.0 / 16.0])


def test_multi_gaussian_value():
    def n(x, mu, sd):
        return math.exp(-((x - mu) ** 2) / (2 * sd * sd)) / (sd * math.sqrt(2 * math.pi))

    x = 0.2
    expected = 1.15 * n(x, 0, 0.5) - 0.15 * n(x, 0.5, 3.0) - 0.15 * n(x, -0.5, 3.0)
    _, g = grad_of(get_surrogate("multi_gaussian"), [x])
    assert g.item() == pytest.approx(expected)
    # the side lobes are negative far from the threshold
    _, g = grad_of(get_surrogate("multi_gaussian"), [2.0])
    assert g.item() < 0


def test_unknown_surrogate_and_parameter_are_clear_errors():
    with pytest.raises(SnnDeployError, match="unknown surrogate 'arctan'.*boxcar.*superspike"):
        get_surrogate("arctan")
    with pytest.raises(SnnDeployError, match="boxcar.*unknown parameter.*slope"):
        get_surrogate("boxcar", slope=3.0)


def test_heaviside_dtype():
    assert heaviside(torch.tensor([0.5], dtype=torch.float64)).dtype == torch.float64
