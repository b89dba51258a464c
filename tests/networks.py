"""Small seeded fixed-point networks and inputs, for the tests and the emulator-vs-Lava benchmark (test code,
not shipped in the package: it builds networks through train, convert and the IR at once).

A network is built the way a user's is: ``train.build_model`` (seeded initialisation), exported to
the float IR (``train.export.model_to_ir``) and quantized (``convert.quantize.quantize_network``).
An untrained seeded model barely fires, so the feed-forward weights are multiplied by ``gain``
before quantization (``DEFAULT_GAIN`` makes every layer of these small networks spike on random
inputs). ``shared_decays`` gives each population one decay (paper 2 initialises them all at one
value), which is what lets a ``cuba_lif`` population with hard reset run on Lava's own LIF process.
``bias`` gives every feed-forward dense a seeded normal bias of that standard deviation (float units
of the dense's output; the zoo's seeded models have none): the populations then integrate it during
their lead-in, which is what the pipeline reset (``Network.reset_steps``) is about.
"""
from __future__ import annotations

from typing import Optional

import numpy as np

from snn_deploy.ir import Network
from snn_deploy.train.data.binning import DEFAULT_DURATION_S

#: feed-forward weight gain per model: LIF-family inputs are scaled by (1 - alpha) ~ 0.1 when folded
DEFAULT_GAIN = {"lif": 16.0, "rlif": 12.0, "adlif": 12.0, "radlif": 12.0, "mthr_lif": 16.0,
                "cuba_lif": 4.0, "spikgru": 4.0}
SHARED_ALPHA = 0.9        #: paper 2's initial current decay
SHARED_BETA = 0.85


def seeded_network(model: str, *, inputs: int = 16, hidden: int = 12, classes: int = 4, layers: int = 3,
                   seed: int = 0, gain: Optional[float] = None, sparsity: float = 0.0,
                   shared_decays: bool = False, reset: str = "subtract", time_steps: int = 20,
                   profile: str = "loihi2", encoding: str = "spikes", bias: float = 0.0) -> Network:
    """The fixed IR of a seeded ``model`` (a zoo variant of ``snn_deploy.catalogue``) with ``layers - 1`` hidden layers.

    ``bias > 0``: every feed-forward dense gets a bias drawn from ``N(0, bias^2)`` (seeded by ``seed``).
    """
    from snn_deploy.convert.quantize import quantize_network
    from snn_deploy.train.config import ModelConfig
    from snn_deploy.train.export import model_to_ir
    from snn_deploy.train.models import build_model

    cfg = ModelConfig(model=model, input_size=inputs, num_classes=classes, layers=layers, hidden=hidden,
                      seed=seed, sparsity=sparsity, reset=reset)
    float_net = model_to_ir(build_model(cfg).eval(), cfg, {"encoding": encoding})
    g = DEFAULT_GAIN.get(model, 1.0) if gain is None else float(gain)
    for d in float_net.dense_nodes():
        if not float_net.is_recurrent(d.name) and float_net.target_of(d.name).port == "input":
            d.weight = np.asarray(d.weight) * g
    if bias:
        rng = np.random.default_rng(seed)
        for d in float_net.dense_nodes():
            if not float_net.is_recurrent(d.name):
                d.bias = rng.normal(0.0, float(bias), np.asarray(d.weight).shape[0]).astype(np.float32)
    if shared_decays:
        for p in float_net.neuron_nodes():
            if "alpha" in p.params:
                p.params["alpha"] = np.full(p.size, SHARED_ALPHA)
            if "beta" in p.params and p.model == "cuba_lif":
                p.params["beta"] = np.full(p.size, SHARED_BETA)
    fixed = quantize_network(float_net, profile)
    fixed.meta.update(target="loihi-sim", time_steps=int(time_steps), duration=DEFAULT_DURATION_S, binary=False)
    return fixed


def seeded_inputs(net: Network, samples: int, steps: int, *, density: float = 0.3, seed: int = 1,
                  max_count: int = 1) -> np.ndarray:
    """Random spike counts ``[samples, steps, channels]`` in ``[0, max_count]`` (int64)."""
    rng = np.random.default_rng(seed)
    channels = net.inputs()[0].size
    spikes = rng.random((samples, steps, channels)) < density
    counts = rng.integers(1, max_count + 1, size=spikes.shape)
    return (spikes * counts).astype(np.int64)


def assert_same_run(a, b):
    """Two ``EmulatorRun``s hold the same integers (and dtypes) everywhere."""
    for rec in ("spikes", "potentials"):
        assert getattr(a, rec).keys() == getattr(b, rec).keys()
        for k, v in getattr(a, rec).items():
            assert v.dtype == getattr(b, rec)[k].dtype, f"{rec} {k}"
            np.testing.assert_array_equal(v, getattr(b, rec)[k], err_msg=f"{rec} {k}")
    assert a.states.keys() == b.states.keys()
    for pop, fields in a.states.items():
        for n, v in fields.items():
            np.testing.assert_array_equal(v, b.states[pop][n], err_msg=f"{pop}.{n}")
    assert a.overflow == b.overflow
    np.testing.assert_array_equal(a.scores, b.scores)
    np.testing.assert_array_equal(a.predictions, b.predictions)
