"""Sizes a model config claims, checked before anything of that size is allocated.

Two places trust a size they did not see data for:

- a checkpoint's ``model_config`` (``hidden: 10000000``) would make ``build_model`` allocate the
  claimed model (28 GB for that one) before ``load_state_dict`` compares it with the weights that
  are really in the file. :func:`check_config_fits_weights` compares first: cheap bounds (no size
  can exceed the number of weights present), then the exact shapes of the claimed model built on
  torch's ``meta`` device (shapes only, no memory);
- ``train``'s options (``--hidden``, ``--layers``, ``--time-steps``, ``--batch-size``):
  :func:`training_bytes` estimates what the model, its gradients and Adam's moments and one batch's
  activations need; the trainer refuses when that exceeds the memory available
  (:mod:`snn_deploy.memory`).

The estimate is deliberately a lower bound (feed-forward and recurrent matrices of one gate,
four float32 activations per hidden neuron and time step), so a refused run would surely not fit:

    params      = C·H + (L-2)·H² + H·K  (+ (L-1)·H² for recurrent models)
    model bytes = 16 · params           (weight, gradient, two Adam moments; float32)
    batch bytes = 4 · B·T·(C + 4·(L-1)·H + 2·K)

with ``C`` input channels, ``H`` hidden size, ``L`` layers (readout included), ``K`` classes,
``B`` batch size, ``T`` time steps.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import torch

from snn_deploy.errors import FormatError
from snn_deploy.train.config import ModelConfig

BYTES_PER_TRAINED_PARAMETER = 16
ACTIVATIONS_PER_NEURON_STEP = 4
FLOAT32_BYTES = 4


def claimed_shapes(cfg: ModelConfig) -> dict[str, tuple[int, ...]]:
    """``{state_dict name: shape}`` of the model ``cfg`` describes, built on the meta device (no memory).

    Sparsity is left out: its random masks need real values, and they change no shape (only
    whether a ``mask`` buffer exists, which the strict ``load_state_dict`` checks later).
    """
    from snn_deploy.train.models import build_model

    with torch.device("meta"):
        model = build_model(replace(cfg, sparsity=0.0))
    return {name: tuple(t.shape) for name, t in model.state_dict().items()}


def check_config_fits_weights(cfg: ModelConfig, state_dict: dict[str, torch.Tensor], source: object) -> None:
    """Refuse a config whose model has other shapes than the weights present, before building it."""
    present = sum(int(t.numel()) for t in state_dict.values())
    for name in ("hidden", "input_size", "num_classes"):
        value = int(getattr(cfg, name))
        if value > present:
            raise FormatError(f"{source}: model_config.{name} is {value}, but the checkpoint holds only "
                              f"{present} weights in all: the weights do not fit the model its config describes")
    if int(cfg.layers) > len(state_dict) + 1:
        raise FormatError(f"{source}: model_config.layers is {cfg.layers}, but the checkpoint holds only "
                          f"{len(state_dict)} tensors: the weights do not fit the model its config describes")
    for name, shape in claimed_shapes(cfg).items():
        tensor = state_dict.get(name)
        if tensor is not None and tuple(tensor.shape) != shape:
            raise FormatError(
                f"{source}: weights do not fit the model its config describes: model_config (hidden {cfg.hidden}, "
                f"layers {cfg.layers}, input_size {cfg.input_size}, num_classes {cfg.num_classes}) makes {name} "
                f"{list(shape)}, the checkpoint's is {list(tensor.shape)}")


@dataclass(frozen=True)
class TrainingMemory:
    """The lower-bound estimate of the module docstring, in bytes."""

    model_bytes: int
    batch_bytes: int

    @property
    def total(self) -> int:
        return self.model_bytes + self.batch_bytes

    @property
    def model_dominates(self) -> bool:
        return self.model_bytes >= self.batch_bytes


def training_bytes(cfg: ModelConfig, batch_size: int, time_steps: int) -> TrainingMemory:
    C, H, L, K = int(cfg.input_size), int(cfg.hidden), int(cfg.layers), int(cfg.num_classes)
    params = C * H + max(L - 2, 0) * H * H + H * K
    if cfg.recurrent:
        params += (L - 1) * H * H
    batch = FLOAT32_BYTES * int(batch_size) * int(time_steps) * (C + ACTIVATIONS_PER_NEURON_STEP * (L - 1) * H + 2 * K)
    return TrainingMemory(BYTES_PER_TRAINED_PARAMETER * params, batch)


def evaluation_batch_bytes(cfg: ModelConfig, batch_size: int, time_steps: int) -> int:
    """One inference batch without autograd: the input and two float32 tensors per hidden neuron and step."""
    return FLOAT32_BYTES * int(batch_size) * int(time_steps) * (
        int(cfg.input_size) + 2 * (int(cfg.layers) - 1) * int(cfg.hidden) + 2 * int(cfg.num_classes))
