"""Float vs fixed on data: accuracy of both, spike agreement per population, overflow counts.

The float network runs in ``train.ir_runner`` (no delays); the fixed one in the emulator, whose
population at hop depth ``d`` is ``d`` steps behind: spikes are compared on the aligned window
``[d, d + T)``. Agreement is the fraction of equal (sample, step, neuron) spike entries.

Sensitivity: the float network is also run with every weight multiplied by ``1 + 1e-4 n``
(``n ~ N(0, 1)``, seeded), a perturbation far below 8-bit quantization. Its prediction agreement
with the unperturbed float run tells how much of a float/fixed difference a model would show under
ANY tiny change (chaotic models, e.g. adLIF neurons with ``a < -(1 - beta)``, which are linearly
unstable), so a user can tell quantization error from model sensitivity.
"""
from __future__ import annotations

import copy
from dataclasses import asdict, dataclass, field
from typing import Callable, Optional

import numpy as np

from snn_deploy.convert.emulator import emulate
from snn_deploy.ir import Network


@dataclass
class LayerAgreement:
    layer: str
    agreement: float
    float_rate: float
    fixed_rate: float


@dataclass
class Comparison:
    samples: int
    float_accuracy: float
    fixed_accuracy: float
    prediction_agreement: float
    layers: list[LayerAgreement] = field(default_factory=list)
    overflow: dict[str, dict[str, int]] = field(default_factory=dict)
    float_self_agreement: Optional[float] = None   #: float vs float with 1e-4 weight noise (None: not run)
    perturbed_float_accuracy: Optional[float] = None

    @property
    def accuracy_drop_points(self) -> float:
        return 100.0 * (self.float_accuracy - self.fixed_accuracy)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["accuracy_drop_points"] = self.accuracy_drop_points
        return d


SENSITIVITY_NOISE = 1e-4       #: relative weight noise of the sensitivity run
SENSITIVITY_SEED = 0


def perturbed(net: Network, rel_noise: float = SENSITIVITY_NOISE, seed: int = SENSITIVITY_SEED) -> Network:
    """A copy of the float ``net`` with every dense weight multiplied by ``1 + rel_noise * N(0, 1)``."""
    rng = np.random.default_rng(seed)
    out = copy.deepcopy(net)
    for d in out.dense_nodes():
        w = np.asarray(d.weight)
        d.weight = (w * (1.0 + rel_noise * rng.standard_normal(w.shape))).astype(w.dtype)
    return out


def compare_float_fixed(float_net: Network, fixed_net: Network, x: np.ndarray, y: np.ndarray, *,
                        batch_size: int = 256, progress: Optional[Callable[[int], None]] = None,
                        sensitivity: bool = True) -> Comparison:
    """Run both networks on ``x [N, T, C]`` (labels ``y``) in batches and compare (+ the sensitivity run)."""
    from snn_deploy.train.ir_runner import run_float_network

    noisy = perturbed(float_net) if sensitivity else None
    n_pred: list[np.ndarray] = []
    n, T = x.shape[0], x.shape[1]
    pops = [p.name for p in fixed_net.neuron_nodes() if p.spiking]
    equal = {p: 0 for p in pops}
    f_spk = {p: 0.0 for p in pops}
    q_spk = {p: 0.0 for p in pops}
    total = {p: 0 for p in pops}
    f_pred, q_pred = [], []
    overflow: dict[str, dict[str, int]] = {}
    for start in range(0, n, batch_size):
        xb = x[start:start + batch_size]
        fr = run_float_network(float_net, xb)
        er = emulate(fixed_net, xb, record=True)
        f_pred.append(fr.logits.argmax(-1).numpy())
        q_pred.append(er.predictions)
        if noisy is not None:
            n_pred.append(run_float_network(noisy, xb).logits.argmax(-1).numpy())
        for p in pops:
            d = er.depth[p]
            fs = fr.spikes[p].numpy() > 0.5
            qs = er.spikes[p][:, d:d + T] > 0
            equal[p] += int(np.count_nonzero(fs == qs))
            f_spk[p] += float(fs.sum())
            q_spk[p] += float(qs.sum())
            total[p] += fs.size
        for p, c in er.overflow.items():
            acc = overflow.setdefault(p, {})
            for k, v in c.items():
                acc[k] = acc.get(k, 0) + int(v)
        if progress:
            progress(len(xb))
    fp_, qp = np.concatenate(f_pred), np.concatenate(q_pred)
    y = np.asarray(y)
    layers = [LayerAgreement(p, equal[p] / max(total[p], 1), f_spk[p] / max(total[p], 1), q_spk[p] / max(total[p], 1))
              for p in pops]
    comp = Comparison(samples=int(n), float_accuracy=float(np.mean(fp_ == y)), fixed_accuracy=float(np.mean(qp == y)),
                      prediction_agreement=float(np.mean(fp_ == qp)), layers=layers, overflow=overflow)
    if n_pred:
        np_ = np.concatenate(n_pred)
        comp.float_self_agreement = float(np.mean(np_ == fp_))
        comp.perturbed_float_accuracy = float(np.mean(np_ == y))
    return comp
