"""Float vs fixed on data: accuracy of both, spike agreement per population, overflow counts.

The float network runs in ``train.ir_runner`` (no delays); the fixed one in the emulator, whose
population at hop depth ``d`` is ``d`` steps behind: spikes are compared on the aligned window
``[d, d + T)``. Agreement is the fraction of equal (sample, step, neuron) spike entries.
"""
from __future__ import annotations

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

    @property
    def accuracy_drop_points(self) -> float:
        return 100.0 * (self.float_accuracy - self.fixed_accuracy)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["accuracy_drop_points"] = self.accuracy_drop_points
        return d


def compare_float_fixed(float_net: Network, fixed_net: Network, x: np.ndarray, y: np.ndarray, *,
                        batch_size: int = 256, progress: Optional[Callable[[int], None]] = None) -> Comparison:
    """Run both networks on ``x [N, T, C]`` (labels ``y``) in batches and compare."""
    from snn_deploy.train.ir_runner import run_float_network

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
    return Comparison(samples=int(n), float_accuracy=float(np.mean(fp_ == y)), fixed_accuracy=float(np.mean(qp == y)),
                      prediction_agreement=float(np.mean(fp_ == qp)), layers=layers, overflow=overflow)
