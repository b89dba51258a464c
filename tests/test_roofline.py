"""The benchmark's roofline (``benchmarks/roofline.py``): the work it times is the network's own products,
counted by hand here, each dense on one of the ways it knows, and a bound comes out of both layouts."""
import sys
from pathlib import Path

import numpy as np
import pytest

from networks import seeded_inputs, seeded_network   # tests/networks.py
from snn_deploy.convert import kernels
from snn_deploy.convert.emulator import emulate, encode_inputs

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import roofline  # noqa: E402


def test_roofline_times_the_networks_own_products():
    net = seeded_network("radlif", inputs=20, hidden=8, classes=3, layers=3, bias=8.0)
    x = encode_inputs(net, seeded_inputs(net, 6, 10, density=0.1))
    run = emulate(net, x)
    S = run.num_steps                                         # 10 input steps + 3 hops
    assert S == 13
    bound = roofline.measure(net, x, run.spikes, S, repeats=1)

    # by hand: feed-forward 2 B steps N C over the steps the source has (min(T_src, S - 1)), recurrent
    # 2 B S N N once per step; sources: the input (10 steps), then each population's record (13 steps)
    B = 6
    ff = 2 * B * 10 * 8 * 20 + 2 * B * 12 * 8 * 8 + 2 * B * 12 * 3 * 8
    recurrent = 2 * 2 * B * S * 8 * 8
    assert bound.flops == ff + recurrent
    denses = [n.name for n in net.nodes if n.type == "dense"]
    assert sorted(bound.paths) == sorted(denses)
    ways = {"dense", "sparse"} | ({"gather"} if kernels.available() else set())
    recurrent_ways = {"numpy"} | ({"compiled"} if kernels.available() else set())
    for name, path in bound.paths.items():      # "a/b" when the slices' fastest ways differ
        assert set(path.split("/")) <= (recurrent_ways if net.is_recurrent(name) else ways), (name, path)
    assert bound.layout in ("slices", "blas") and bound.seconds > 0
    assert bound.samples_per_s == pytest.approx(B / bound.seconds)
