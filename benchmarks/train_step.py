"""Training step (forward + backward) of our RadLIF vs a straightforward sparch-style loop.

DESIGN.md section 7: "Training step >= 2x faster than a straightforward per-time-step PyTorch
loop (sparch style), same model, same batch, same machine."

Both sides compute paper 1's RadLIF network as run by its code (idiap/sparch), ``layers=3``: two
hidden RadLIF layers of 128 neurons and a leaky-integrator readout with the cumulative-softmax
output, batch-norm over batch x time, boxcar surrogate (height 1, half-width 0.5), zero initial
state::

    w[t] = β w[t-1] + a u[t-1] + b s[t-1]
    u[t] = α (u[t-1] - s[t-1]) + (1-α) (BN(W x)[t] + V s[t-1] - w[t])      V: zero diagonal
    s[t] = H(u[t] - 1)
    readout: v[t] = α v[t-1] + (1-α) BN(W h)[t];   logits = Σ_t softmax(v[t])

The reference (:class:`SparchRadLIF`) is written here the way sparch writes it: ``W·x`` for all
steps in one matmul (as the issue says, the baseline already does that), then a Python loop over
time with plain tensor ops and the recurrent matmul, the spike function an autograd Function. It
receives OUR model's weights, and the script first checks that both give the same logits and
gradients on the batch, so the timings compare the same computation.

Usage::

    python benchmarks/train_step.py [--batch 32] [--steps 100] [--channels 700] [--hidden 128]
                                    [--repeats 5] [--threads N] [--json out.json]
"""
from __future__ import annotations

import argparse
import copy
import json
import statistics
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from snn_deploy.train.config import ModelConfig  # installed, e.g. `pip install --no-deps -e .` on a GPU image
from snn_deploy.train.models import build_model

NUM_CLASSES = 20  # SHD
INPUT_RATE = 0.05  # fraction of (step, channel) bins holding a spike in the synthetic batch
TARGET_RATIO = 2.0
BN_MOMENTUM = 0.05
THRESHOLD = 1.0
BOXCAR_HALF_WIDTH = 0.5


class BoxcarSpike(torch.autograd.Function):
    """sparch's ``SpikeFunctionBoxcar``: Heaviside forward, gradient passed where |x| <= 0.5."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return (x > 0).to(x.dtype)

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad * (x.abs() <= BOXCAR_HALF_WIDTH).to(grad.dtype)


class SparchRadLIFLayer(nn.Module):
    """One RadLIF layer written the sparch way (per-step loop, plain ops)."""

    def __init__(self, input_size: int, hidden: int):
        super().__init__()
        self.W = nn.Linear(input_size, hidden, bias=False)
        self.V = nn.Linear(hidden, hidden, bias=False)
        self.norm = nn.BatchNorm1d(hidden, momentum=BN_MOMENTUM)
        self.alpha = nn.Parameter(torch.empty(hidden))
        self.beta = nn.Parameter(torch.empty(hidden))
        self.a = nn.Parameter(torch.empty(hidden))
        self.b = nn.Parameter(torch.empty(hidden))

    def forward(self, x, ranges):
        wx = self.W(x)
        B, T, N = wx.shape
        wx = self.norm(wx.reshape(B * T, N)).reshape(B, T, N)
        alpha = torch.clamp(self.alpha, *ranges["alpha"])
        beta = torch.clamp(self.beta, *ranges["beta"])
        a = torch.clamp(self.a, *ranges["a"])
        b = torch.clamp(self.b, *ranges["b"])
        V = self.V.weight.clone().fill_diagonal_(0)
        ut = wx.new_zeros(B, N)
        wt = wx.new_zeros(B, N)
        st = wx.new_zeros(B, N)
        spikes = []
        for t in range(T):
            wt = beta * wt + a * ut + b * st
            ut = alpha * (ut - st) + (1 - alpha) * (wx[:, t, :] + torch.matmul(st, V.t()) - wt)
            st = BoxcarSpike.apply(ut - THRESHOLD)
            spikes.append(st)
        return torch.stack(spikes, dim=1)


class SparchReadout(nn.Module):
    def __init__(self, input_size: int, num_classes: int):
        super().__init__()
        self.W = nn.Linear(input_size, num_classes, bias=False)
        self.norm = nn.BatchNorm1d(num_classes, momentum=BN_MOMENTUM)
        self.alpha = nn.Parameter(torch.empty(num_classes))

    def forward(self, x, ranges):
        wx = self.W(x)
        B, T, N = wx.shape
        wx = self.norm(wx.reshape(B * T, N)).reshape(B, T, N)
        alpha = torch.clamp(self.alpha, *ranges["alpha"])
        ut = wx.new_zeros(B, N)
        out = wx.new_zeros(B, N)
        for t in range(T):
            ut = alpha * ut + (1 - alpha) * wx[:, t, :]
            out = out + F.softmax(ut, dim=1)
        return out


class SparchRadLIF(nn.Module):
    def __init__(self, input_size: int, hidden: int, hidden_layers: int, num_classes: int, dropout: float):
        super().__init__()
        sizes = [input_size] + [hidden] * hidden_layers
        self.layers = nn.ModuleList(SparchRadLIFLayer(sizes[i], sizes[i + 1]) for i in range(hidden_layers))
        self.readout = SparchReadout(hidden, num_classes)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x, ranges):
        for layer in self.layers:
            x = self.dropout(layer(x, ranges))
        return self.readout(x, ranges)


def neuron_ranges() -> dict[str, tuple[float, float]]:
    from snn_deploy.train.neurons.base import A_RANGE, ALPHA_RANGE, B_RANGE, BETA_RANGE

    return {"alpha": ALPHA_RANGE, "beta": BETA_RANGE, "a": A_RANGE, "b": B_RANGE}


def copy_weights(ours: nn.Module, ref: SparchRadLIF) -> None:
    """Load our model's parameters and BN buffers into the reference (V transposed: sparch's ``s @ V``)."""
    with torch.no_grad():
        for mine, theirs in zip(ours.layers, ref.layers):
            theirs.W.weight.copy_(mine.ff.weight())
            theirs.V.weight.copy_(mine.rec.effective())
            theirs.norm.load_state_dict(mine.ff.norm.state_dict())
            for name in ("alpha", "beta", "a", "b"):
                getattr(theirs, name).copy_(getattr(mine.params, name))
        ref.readout.W.weight.copy_(ours.readout.ff.weight())
        ref.readout.norm.load_state_dict(ours.readout.ff.norm.state_dict())
        ref.readout.alpha.copy_(ours.readout.params.alpha)


def check_same_math(ours, ref, x, y, ranges) -> dict[str, float]:
    """Same logits and same gradients on the batch (dropout off, BN in training mode).

    ``ours`` is one of our models (``.logits``); ``ref`` our model too or the sparch reference.
    Checked on float64 copies: in float32 a different but equally valid rounding order (fused
    multiply-adds, say) can flip one spike that sits within an ulp of the threshold, and the
    recurrence then spreads that flip, which says nothing about the math being the same.
    """
    x = x.double()

    def run(model):
        model = copy.deepcopy(model).double()
        logits = model(x, ranges) if isinstance(model, SparchRadLIF) else model(x).logits
        F.cross_entropy(logits, y).backward()
        first = model.layers[0]
        grads = [first.W.weight.grad, first.V.weight.grad, first.alpha.grad] if isinstance(model, SparchRadLIF) \
            else [first.ff.linear.weight.grad, first.rec.weight.grad * first.rec.keep, first.params.alpha.grad]
        return logits.detach(), grads

    lo, g_ours = run(ours)
    lr, g_ref = run(ref)
    rel = [float((a - b).abs().max() / b.abs().max().clamp_min(1e-12)) for a, b in zip(g_ours, g_ref)]
    return {"max_logit_diff": float((lo - lr).abs().max()), "max_rel_grad_diff": max(rel)}


def time_step(fn, repeats: int) -> list[float]:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return times


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--steps", type=int, default=100)
    p.add_argument("--channels", type=int, default=700)
    p.add_argument("--hidden", type=int, default=128)
    p.add_argument("--layers", type=int, default=3, help="layers including the readout (paper 1 counting)")
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--json", dest="json_out", help="also write the result as JSON here")
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)

    cfg = ModelConfig(model="radlif", input_size=args.channels, num_classes=NUM_CLASSES, layers=args.layers,
                      hidden=args.hidden, dropout=0.0, seed=0)
    ours = build_model(cfg).to(device).train()
    ref = SparchRadLIF(args.channels, args.hidden, args.layers - 1, NUM_CLASSES, dropout=0.0).to(device).train()
    copy_weights(ours, ref)
    ranges = neuron_ranges()
    gen = torch.Generator().manual_seed(1)
    x = (torch.rand(args.batch, args.steps, args.channels, generator=gen) < INPUT_RATE).float().to(device)
    y = torch.randint(0, NUM_CLASSES, (args.batch,), generator=gen).to(device)

    check = check_same_math(ours, ref, x, y, ranges)
    checks = {"ours_vs_sparch": check}
    spikes = [float(s.mean()) for s in ours(x).layer_spikes]
    bad = {k: v for k, v in checks.items() if v["max_logit_diff"] > 1e-3 or v["max_rel_grad_diff"] > 1e-3}
    if bad:
        print(f"error: the implementations disagree: {bad}", file=sys.stderr)
        return 1

    def sync():
        if device.type == "cuda":
            torch.cuda.synchronize()

    def step(model):
        def run():
            model.zero_grad(set_to_none=True)
            logits = model(x, ranges) if model is ref else model(x).logits
            F.cross_entropy(logits, y).backward()
            sync()
        return run

    steps = {"ours": step(ours), "sparch_loop": step(ref)}
    for fn in steps.values():
        time_step(fn, args.warmup)
    times: dict[str, list[float]] = {k: [] for k in steps}
    for _ in range(args.repeats):  # interleaved, so that machine load hits both alike
        for name, fn in steps.items():
            times[name] += time_step(fn, 1)
    median = {k: statistics.median(v) for k, v in times.items()}
    ratio = median["sparch_loop"] / median["ours"]
    result = {
        "benchmark": "train_step", "model": "radlif", "layers": args.layers, "hidden": args.hidden,
        "batch": args.batch, "steps": args.steps, "channels": args.channels, "device": str(device),
        "threads": torch.get_num_threads(), "torch": torch.__version__, "repeats": args.repeats,
        "ours_s": median["ours"], "sparch_loop_s": median["sparch_loop"], "speedup": ratio,
        "target": TARGET_RATIO, "meets_target": ratio >= TARGET_RATIO, "firing_rates": spikes,
        "checks": checks, "all_s": times,
    }
    print(f"RadLIF {args.layers}x{args.hidden}, batch {args.batch}, {args.steps} steps, {args.channels} channels, "
          f"{device}, {torch.get_num_threads()} threads; firing rates {', '.join(f'{r:.3f}' for r in spikes)}")
    print(f"  same math: logits max diff {check['max_logit_diff']:.2g}, gradients max rel diff "
          f"{check['max_rel_grad_diff']:.2g}")
    print(f"  ours (forward+backward):      {median['ours'] * 1e3:8.1f} ms  (median of {args.repeats})")
    print(f"  sparch-style per-step loop:   {median['sparch_loop'] * 1e3:8.1f} ms")
    print(f"  speedup: {ratio:.2f}x (target >= {TARGET_RATIO:.0f}x: {'met' if ratio >= TARGET_RATIO else 'NOT met'})")
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
