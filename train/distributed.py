"""Data-parallel training under ``torchrun``: process group, batch sharding, global batch-norm.

The same ``snn-deploy train`` command runs alone or under ``torchrun --nproc_per_node N``; the
launcher's ``WORLD_SIZE``/``RANK``/``LOCAL_RANK`` variables switch this module on (gloo on CPU,
nccl on CUDA). N processes then compute the same update as one process on the same global batch:

- every rank draws the same global batch order (same seeded generator) and takes one contiguous
  slice of each global batch (:func:`shard_slice`);
- each rank's loss is ``sum of its samples' losses * world_size / global batch size``, so DDP's
  gradient average equals the gradient of the global batch's mean loss, also when the global
  batch does not divide evenly;
- batch-norm statistics are the global batch's (:class:`GlobalBatchNorm`, which replaces every
  ``nn.BatchNorm*``): ``torch.nn.SyncBatchNorm`` would do this but refuses CPU tensors (torch
  2.3), and plain BN would normalise every shard with its own statistics;
- dropout masks are drawn per rank, so with dropout > 0 the runs agree in distribution only
  (not bitwise); with dropout 0 they agree to float rounding (summation order of all-reduce).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist
from torch import nn

from snn_deploy.errors import SnnDeployError

WORLD_SIZE_ENV = "WORLD_SIZE"
RANK_ENV = "RANK"
LOCAL_RANK_ENV = "LOCAL_RANK"


@dataclass
class DistContext:
    """Where this process sits in a (possibly one-process) data-parallel job."""

    world_size: int = 1
    rank: int = 0
    local_rank: int = 0
    backend: str | None = None
    device: torch.device = torch.device("cpu")
    bn_group: Any = None  # a process group reserved for batch-norm statistics

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise SnnDeployError(f"environment variable {name}={raw!r} must be an integer") from None


def resolve_device(device: str, local_rank: int = 0) -> torch.device:
    """``cpu`` or ``cuda`` (``cuda:<local rank>`` under torchrun); CUDA must exist when asked for."""
    if device == "cpu":
        return torch.device("cpu")
    if device.startswith("cuda"):
        if not torch.cuda.is_available():
            raise SnnDeployError(f"--device {device}: CUDA is not available on this machine (torch {torch.__version__})")
        if device == "cuda":
            return torch.device("cuda", local_rank % torch.cuda.device_count())
        return torch.device(device)
    raise SnnDeployError(f"unknown device {device!r}; expected cpu or cuda")


def init_distributed(device: str) -> DistContext:
    """Join the torchrun job described by the environment, or return a one-process context."""
    world_size = _env_int(WORLD_SIZE_ENV, 1)
    rank = _env_int(RANK_ENV, 0)
    local_rank = _env_int(LOCAL_RANK_ENV, 0)
    torch_device = resolve_device(device, local_rank)
    if world_size <= 1:
        return DistContext(device=torch_device)
    if not 0 <= rank < world_size:
        raise SnnDeployError(f"RANK={rank} is outside 0..{world_size - 1} (WORLD_SIZE={world_size})")
    backend = "nccl" if torch_device.type == "cuda" else "gloo"
    if torch_device.type == "cuda":
        torch.cuda.set_device(torch_device)
    if not dist.is_initialized():
        dist.init_process_group(backend=backend)
    bn_group = dist.new_group(backend=backend)
    return DistContext(world_size, rank, local_rank, backend, torch_device, bn_group)


def shutdown(ctx: DistContext) -> None:
    if ctx.distributed and dist.is_initialized():
        dist.destroy_process_group()


def shard_slice(global_size: int, world_size: int, rank: int) -> slice:
    """The contiguous part of a global batch of ``global_size`` samples that ``rank`` computes.

    Sizes differ by at most one (the first ``global_size % world_size`` ranks get one more).
    """
    base, extra = divmod(global_size, world_size)
    start = rank * base + min(rank, extra)
    return slice(start, start + base + (1 if rank < extra else 0))


def all_reduce_sum(values: torch.Tensor, ctx: DistContext) -> torch.Tensor:
    """Sum a tensor of statistics over ranks (identity for one process); returns a new tensor."""
    out = values.detach().clone()
    if ctx.distributed:
        out = out.to(ctx.device)
        dist.all_reduce(out, op=dist.ReduceOp.SUM)
    return out.cpu()


def barrier(ctx: DistContext) -> None:
    if ctx.distributed:
        dist.barrier()


def broadcast_object(obj: Any, ctx: DistContext) -> Any:
    """Rank 0's ``obj`` on every rank."""
    if not ctx.distributed:
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def gather_objects(obj: Any, ctx: DistContext) -> list[Any]:
    """Every rank's ``obj``, in rank order, on every rank."""
    if not ctx.distributed:
        return [obj]
    out: list[Any] = [None] * ctx.world_size
    dist.all_gather_object(out, obj)
    return out


class GlobalBatchNorm(nn.modules.batchnorm._BatchNorm):
    """Batch norm whose training statistics are those of the global batch across all ranks.

    Same parameters, buffers and state-dict keys as ``nn.BatchNorm1d/2d``; the input is
    ``[N, C, *]`` and statistics run over every dimension but ``C``. The sums are all-reduced with
    ``torch.distributed.nn.functional.all_reduce``, whose backward all-reduces the gradient, so the
    backward pass is the global batch's too. Outside training (or with one rank) it is plain BN.
    """

    def __init__(self, *args, group: Any = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.group = group

    def _check_input_dim(self, input: torch.Tensor) -> None:
        if input.dim() < 2:
            raise ValueError(f"expected an input of at least 2 dimensions [N, C, *], got {tuple(input.shape)}")

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        distributed = dist.is_available() and dist.is_initialized() and dist.get_world_size(self.group) > 1
        if not (self.training and distributed):
            return super().forward(input)
        from torch.distributed.nn.functional import all_reduce

        self._check_input_dim(input)
        dims = [d for d in range(input.dim()) if d != 1]
        shape = [1, -1] + [1] * (input.dim() - 2)
        count = torch.tensor([float(input.numel() // input.shape[1])], device=input.device, dtype=input.dtype)
        dist.all_reduce(count, group=self.group)
        total = all_reduce(input.sum(dims), group=self.group)
        mean = total / count
        centred = input - mean.view(shape)
        var = all_reduce((centred * centred).sum(dims), group=self.group) / count
        out = centred * torch.rsqrt(var + self.eps).view(shape)
        if self.affine:
            out = out * self.weight.view(shape) + self.bias.view(shape)
        if self.track_running_stats:
            with torch.no_grad():
                self.num_batches_tracked.add_(1)
                momentum = 1.0 / float(self.num_batches_tracked) if self.momentum is None else self.momentum
                n = float(count)
                unbiased = var.detach() * (n / max(n - 1.0, 1.0))
                self.running_mean.mul_(1 - momentum).add_(mean.detach(), alpha=momentum)
                self.running_var.mul_(1 - momentum).add_(unbiased, alpha=momentum)
        return out


def convert_batchnorm(module: nn.Module, group: Any = None) -> nn.Module:
    """Replace every ``nn.BatchNorm1d/2d/3d`` in ``module`` by a :class:`GlobalBatchNorm`.

    The new modules share the old ones' parameter and buffer tensors (an optimizer made before the
    conversion still updates them), as ``torch.nn.SyncBatchNorm.convert_sync_batchnorm`` does.
    """
    if isinstance(module, nn.modules.batchnorm._BatchNorm) and not isinstance(module, GlobalBatchNorm):
        new = GlobalBatchNorm(
            module.num_features, module.eps, module.momentum, module.affine, module.track_running_stats, group=group
        )
        if module.affine:
            new.weight, new.bias = module.weight, module.bias
        new.running_mean, new.running_var = module.running_mean, module.running_var
        new.num_batches_tracked = module.num_batches_tracked
        new.train(module.training)
        return new
    for name, child in module.named_children():
        replaced = convert_batchnorm(child, group)
        if replaced is not child:
            setattr(module, name, replaced)
    return module


def wrap_model(model: nn.Module, ctx: DistContext) -> nn.Module:
    """For several ranks: global batch-norm + DistributedDataParallel; for one: ``model`` itself."""
    if not ctx.distributed:
        return model
    from torch.nn.parallel import DistributedDataParallel

    model = convert_batchnorm(model, ctx.bn_group)  # no-op when done already
    device_ids = [ctx.device.index] if ctx.device.type == "cuda" else None
    # buffers (BN running statistics) are computed from global statistics on every rank already
    return DistributedDataParallel(model, device_ids=device_ids, broadcast_buffers=False)
