"""Non-spiking ANN baselines of paper 1 (idiap/sparch ``anns.py``) and paper 2: MLP, RNN, liBRU, GRU.

Hidden layers (``y`` the layer output, ``x`` its input, BN over batch × time with momentum 0.05):

    mlp    y[t] = sigmoid(BN(W x[t]))
    rnn    y[t] = sigmoid(BN(W x[t]) + V y[t-1])                        V orthogonal init
    libru  z[t] = sigmoid(BN(W_z x[t]) + V_z y[t-1])
           c[t] = softplus(BN(W x[t]) + V y[t-1])                       (liGRU with a softplus
           y[t] = z[t] y[t-1] + (1 - z[t]) c[t]                          candidate; Bittar & Garner 2021)
    gru    torch.nn.GRU (one layer each, so that dropout sits between layers as for the others)

Readout (paper 1 §2.5, sparch ``ReadoutLayerANN``): the cumulative softmax is taken over the LAST
HIDDEN layer and followed by a linear layer (+ batch-norm over the batch):
``logits = BN(W_o Σ_t softmax(y_L[t]))``. The per-step ``readout [B, T, K]`` reported in
:class:`ModelOutput` is ``W_o Σ_{t'≤t} softmax(y_L[t'])`` (the running sum, before that last BN).
With ``readout`` ``last``/``max`` the readout is instead ``BN(W_o y_L[t])`` per step and the logits
its last/max value; ``spike_count`` is meaningless without spikes and is refused. (Paper 1 applies
the cumulative sum to the output sequence for the MLP; we use one readout for all four ANNs.)

Everything here is plain torch (Linear, BatchNorm1d, sigmoid, softplus, GRU, cumsum, softmax),
so ``torch.onnx.export`` handles it; ANNs export to ONNX, not to the network IR.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from snn_deploy.errors import SnnDeployError

from snn_deploy.train.config import ANN_MODELS, ModelConfig
from snn_deploy.train.layers import FeedForward, check_input
from snn_deploy.train.readout import ModelOutput


class MLPLayer(nn.Module):
    def __init__(self, in_size: int, hidden: int, cfg: ModelConfig) -> None:
        super().__init__()
        self.ff = FeedForward(in_size, hidden, bias=cfg.bias, batch_norm=cfg.batch_norm, sparsity=cfg.sparsity)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.ff(x))


class RNNLayer(nn.Module):
    def __init__(self, in_size: int, hidden: int, cfg: ModelConfig) -> None:
        super().__init__()
        self.ff = FeedForward(in_size, hidden, bias=cfg.bias, batch_norm=cfg.batch_norm, sparsity=cfg.sparsity)
        self.rec = nn.Linear(hidden, hidden, bias=False)
        nn.init.orthogonal_(self.rec.weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        wx = self.ff(x)
        y = wx.new_zeros(wx.shape[0], wx.shape[2])
        out = []
        for t in range(wx.shape[1]):
            y = torch.sigmoid(wx[:, t] + self.rec(y))
            out.append(y)
        return torch.stack(out, 1)


class LiBRULayer(nn.Module):
    def __init__(self, in_size: int, hidden: int, cfg: ModelConfig) -> None:
        super().__init__()
        kw = dict(bias=cfg.bias, batch_norm=cfg.batch_norm, sparsity=cfg.sparsity)
        self.ff = FeedForward(in_size, hidden, **kw)
        self.ff_z = FeedForward(in_size, hidden, **kw)
        self.rec = nn.Linear(hidden, hidden, bias=False)
        self.rec_z = nn.Linear(hidden, hidden, bias=False)
        nn.init.orthogonal_(self.rec.weight)
        nn.init.orthogonal_(self.rec_z.weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        wx, wzx = self.ff(x), self.ff_z(x)
        y = wx.new_zeros(wx.shape[0], wx.shape[2])
        out = []
        for t in range(wx.shape[1]):
            z = torch.sigmoid(wzx[:, t] + self.rec_z(y))
            c = F.softplus(wx[:, t] + self.rec(y))
            y = z * y + (1.0 - z) * c
            out.append(y)
        return torch.stack(out, 1)


class GRULayer(nn.Module):
    def __init__(self, in_size: int, hidden: int, cfg: ModelConfig) -> None:
        super().__init__()
        self.gru = nn.GRU(in_size, hidden, batch_first=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.gru(x)[0]


ANN_LAYERS: dict[str, type] = {"mlp": MLPLayer, "rnn": RNNLayer, "libru": LiBRULayer, "gru": GRULayer}


class ANNReadout(nn.Module):
    """See the module docstring: cumulative softmax over the last hidden layer, then linear + BN."""

    def __init__(self, in_size: int, num_classes: int, cfg: ModelConfig) -> None:
        super().__init__()
        if cfg.readout == "spike_count":
            raise SnnDeployError(f"readout 'spike_count' needs spiking neurons; model {cfg.model!r} is an ANN "
                                 "(use cumsoftmax, last or max)")
        self.mode = cfg.readout
        self.linear = nn.Linear(in_size, num_classes, bias=cfg.bias)
        self.norm = nn.BatchNorm1d(num_classes, momentum=0.05) if cfg.batch_norm else None

    def _norm(self, y: torch.Tensor) -> torch.Tensor:
        if self.norm is None:
            return y
        return self.norm(y.reshape(-1, y.shape[-1])).reshape(y.shape)

    def forward(self, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``h [B, T, H] -> (logits [B, K], readout [B, T, K])``."""
        if self.mode == "cumsoftmax":
            running = self.linear(torch.cumsum(torch.softmax(h, dim=-1), dim=1))
            return self._norm(running[:, -1]), running
        per_step = self._norm(self.linear(h))
        logits = per_step[:, -1] if self.mode == "last" else per_step.max(dim=1).values
        return logits, per_step


class ANN(nn.Module):
    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        if cfg.model not in ANN_MODELS:
            raise SnnDeployError(f"{cfg.model!r} is not an ANN model; choose one of {', '.join(ANN_MODELS)}")
        self.cfg = cfg
        sizes = [cfg.input_size] + [cfg.hidden] * (int(cfg.layers) - 1)
        cls = ANN_LAYERS[cfg.model]
        self.layers = nn.ModuleList([cls(sizes[i], sizes[i + 1], cfg) for i in range(len(sizes) - 1)])
        self.dropout = nn.Dropout(cfg.dropout)
        self.readout = ANNReadout(sizes[-1], cfg.num_classes, cfg)

    def forward(self, x: torch.Tensor) -> ModelOutput:
        check_input(x, self.cfg.input_size)
        acts: list[torch.Tensor] = []
        h = x
        for layer in self.layers:
            y = layer(h)
            acts.append(y)
            h = self.dropout(y)
        logits, readout = self.readout(h)
        return ModelOutput(logits=logits, layer_spikes=acts, readout=readout)

    def firing_rates(self, out: ModelOutput) -> list[float]:
        """Mean activation per hidden layer (ANNs have no spikes; kept for uniform metrics)."""
        return [float(a.detach().float().mean()) for a in out.layer_spikes]
