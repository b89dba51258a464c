"""Make the sparch fixtures of ``tests/fixtures/sparch/`` by running paper 1's own code (idiap/sparch).

Run it with an interpreter that can import sparch, in a scratch environment outside this repository
(sparch's code is never copied here); this file only calls sparch's public classes::

    git --git-dir=<snapshot of github.com/idiap/sparch> archive HEAD | tar -x -C /tmp/sparch-src
    /tmp/sparch-env/bin/python tests/interop/make_sparch_fixtures.py   # sparch-src on its PYTHONPATH

For each case (LIF, adLIF, RLIF, RadLIF, each with and without batch-norm) it builds a small
``sparch.models.snns.SNN`` (40 inputs, two hidden layers of 12 neurons, a readout of 4), saves it
the way sparch's ``exp.py`` saves its best model (``torch.save(net, path)``: the whole pickled
module), and records sparch's forward on one fixed, seeded input:

- ``<case>.pt``: the pickled module, as a sparch user would hand it to ``snn-deploy convert``;
- ``<case>.npz``: ``x [B, T, 40]`` (the input), ``h1``, ``h2`` (hidden spikes ``[B, T, 12]``),
  ``v1``, ``v2`` (what each step hands sparch's spike function: ``u[t] - threshold``, recorded by
  wrapping the layer's ``spike_fct`` attribute for the forward only), ``out [B, 4]`` (the readout's
  ``Σ_t softmax(u[t])``, what ``SNN.forward`` returns).

Made so that the fixtures test something:
- Zero initial state: sparch draws ``u``, ``w``, ``s`` (and the readout's ``u``) from ``torch.rand``
  at the start of every forward; snn-deploy's models start from zero (DESIGN.md section 3). The
  forward here runs with ``torch.rand`` replaced by ``torch.zeros`` (``unittest.mock.patch``), which
  is the only thing sparch's cells draw from it, so both sides start from zero.
- Batch-norm: running statistics come from sparch's own training-mode forward on random batches,
  then the affine weights are set to random values, so folding has real numbers to fold.
- Without batch-norm the feed-forward weights are scaled up (and biases used) so that neurons fire.
- The seeds are fixed; the script prints each layer's firing rate.
"""
from __future__ import annotations

import argparse
import contextlib
import unittest.mock
from pathlib import Path

import numpy as np
import torch

from sparch.models.snns import SNN  # from the scratch environment, never from this repository

NEURONS = ("LIF", "adLIF", "RLIF", "RadLIF")
INPUTS, HIDDEN, OUTPUTS = 40, 12, 4
BATCH, STEPS = 3, 60
DEFAULT_OUT = Path(__file__).resolve().parents[1] / "fixtures" / "sparch"


def case_name(neuron: str, batch_norm: bool) -> str:
    return f"{neuron.lower()}_{'bn' if batch_norm else 'nobn'}"


def fixed_input(seed: int) -> torch.Tensor:
    """Spike counts per bin, as sparch's SHD loader gives them (mostly 0 and 1, some 2)."""
    rng = np.random.default_rng(seed)
    return torch.from_numpy(rng.binomial(2, 0.12, size=(BATCH, STEPS, INPUTS)).astype(np.float32))


def zero_start():
    """sparch's cells start from ``torch.rand(...)``; make that zeros for the recorded forward."""
    return unittest.mock.patch.object(torch, "rand", torch.zeros)


def build(neuron: str, batch_norm: bool, seed: int) -> SNN:
    torch.manual_seed(seed)
    net = SNN(input_shape=(BATCH, None, INPUTS), layer_sizes=[HIDDEN, HIDDEN, OUTPUTS], neuron_type=neuron,
              dropout=0.1, normalization="batchnorm" if batch_norm else "none", use_bias=not batch_norm,
              use_readout_layer=True)
    drive = 1.0 if neuron.endswith("adLIF") else 1.5  # LIF fires less than adLIF for the same input
    with torch.no_grad():
        if batch_norm:
            net.train()
            for _ in range(5):  # running statistics from sparch's own training-mode forward
                net(fixed_input(seed + 100 + _) * 1.5)
            for layer in net.snn:
                layer.norm.weight.uniform_(1.0 * drive, 2.0 * drive)
                layer.norm.bias.uniform_(0.6 * drive, 1.2 * drive)
        else:
            for layer in net.snn:
                layer.W.weight.mul_(6.0 * drive)
                layer.W.bias.uniform_(0.3 * drive, 0.8 * drive)
    return net.eval()


@contextlib.contextmanager
def recorded_potentials(layer):
    """Collect what the layer's cell hands its spike function each step: ``u[t] - threshold``.

    ``spike_fct`` is an attribute of each sparch layer; wrapping it changes nothing it computes.
    """
    steps: list[torch.Tensor] = []
    original = layer.spike_fct

    def spike(x: torch.Tensor) -> torch.Tensor:
        steps.append(x.clone())
        return original(x)

    layer.spike_fct = spike
    try:
        yield steps
    finally:
        layer.spike_fct = original


def record(net: SNN, x: torch.Tensor, suffix: str = "") -> dict[str, np.ndarray]:
    """sparch's forward, layer by layer (what ``SNN.forward`` loops over), and ``SNN.forward`` itself;
    ``v<i>``: layer i's ``u[t] - threshold`` (saved after the module, so the .pt holds sparch's own)."""
    arrays = {}
    with torch.no_grad(), zero_start():
        h = x
        for i, layer in enumerate(net.snn[:-1], start=1):
            with recorded_potentials(layer) as steps:
                h = layer(h)
            arrays[f"h{i}{suffix}"] = h.numpy()
            arrays[f"v{i}{suffix}"] = torch.stack(steps, 1).numpy()
        out = net.snn[-1](h)
        whole, _ = net(x)
    if not torch.equal(out, whole):
        raise SystemExit("layer-by-layer forward differs from SNN.forward")
    arrays[f"out{suffix}"] = out.numpy()
    return arrays


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("-o", "--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    for k, neuron in enumerate(NEURONS):
        for batch_norm in (True, False):
            name = case_name(neuron, batch_norm)
            seed = 10 * k + batch_norm
            net = build(neuron, batch_norm, seed)
            torch.save(net, args.out / f"{name}.pt")  # sparch's exp.py: torch.save(self.net, path)
            x = fixed_input(seed + 1)
            arrays = {"x": x.numpy(), **record(net, x)}
            np.savez_compressed(args.out / f"{name}.npz", **arrays)
            rates = ", ".join(f"{key} {arrays[key].mean():.3f}" for key in ("h1", "h2"))
            print(f"{name}: firing rates {rates}")


if __name__ == "__main__":
    main()
