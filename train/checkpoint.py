"""The ``model.pt`` checkpoint format: architecture + weights + metadata, safe to load.

A checkpoint is one ``torch.save`` of a dict made only of tensors, numbers, strings, lists, tuples
and dicts, so that it loads with ``torch.load(path, weights_only=True)``: a file from a stranger
cannot execute code when we read it (we never load with ``weights_only=False``)::

    {
      "format": "snn-deploy-checkpoint",
      "version": 1,
      "model_config": ModelConfig.to_dict(),
      "train_config": TrainConfig.to_dict() or None,
      "state_dict": {name: tensor},             # the bare module's, never DDP's "module." names
      "meta": {num_channels, num_classes, class_names, input_kind, time_steps, duration,
               dataset, accuracies, ...},
      "train_state": None | {epoch, optimizer, scheduler, rng, data_order, best_valid_acc, ...}
    }

``RUN/model.pt`` (the best epoch) has ``train_state = None``; ``RUN/last.pt`` (written every epoch)
carries the whole training state for ``--resume``. Both load with :func:`load_model`.

The random number generator states needed for a bit-exact resume (torch CPU and CUDA, numpy's
legacy global generator, Python's ``random``) are captured here too, converted to plain types
(numpy's state tuple is not loadable with ``weights_only=True`` as it is).
"""
from __future__ import annotations

import pickle
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from snn_deploy.atomic import atomic_path
from snn_deploy.errors import FormatError, SnnDeployError
from snn_deploy.train.config import ModelConfig, TrainConfig

CHECKPOINT_FORMAT = "snn-deploy-checkpoint"
CHECKPOINT_VERSION = 1
REQUIRED_KEYS = ("format", "version", "model_config", "state_dict", "meta")
#: Metadata every checkpoint written by the trainer carries (readers may rely on these).
REQUIRED_META = ("num_channels", "num_classes", "class_names", "input_kind", "time_steps", "duration")


@dataclass
class Checkpoint:
    """A loaded checkpoint (see the module docstring for the stored layout)."""

    path: Path
    model_config: ModelConfig
    state_dict: dict[str, torch.Tensor]
    meta: dict[str, Any]
    train_config: TrainConfig | None = None
    train_state: dict[str, Any] | None = None
    version: int = CHECKPOINT_VERSION
    extra: dict[str, Any] = field(default_factory=dict)


def bare_module(model: nn.Module) -> nn.Module:
    """The wrapped module of a DistributedDataParallel/DataParallel wrapper, else ``model``."""
    return getattr(model, "module", model)


def cpu_state_dict(model: nn.Module) -> dict[str, torch.Tensor]:
    """A detached CPU copy of the bare module's state dict (safe to save while training goes on)."""
    return {k: v.detach().to("cpu", copy=True) for k, v in bare_module(model).state_dict().items()}


def save_checkpoint(
    path: str | Path,
    model: nn.Module | dict[str, torch.Tensor],
    model_cfg: ModelConfig,
    train_cfg: TrainConfig | None,
    meta: dict[str, Any],
    *,
    train_state: dict[str, Any] | None = None,
) -> Path:
    """Write a checkpoint atomically (temp file + rename) and return its path.

    ``model`` is a module (DDP wrappers are unwrapped) or an already extracted state dict.
    ``meta`` must be JSON-like (numbers, strings, lists, dicts).
    """
    path = Path(path)
    state_dict = cpu_state_dict(model) if isinstance(model, nn.Module) else dict(model)
    payload = {
        "format": CHECKPOINT_FORMAT,
        "version": CHECKPOINT_VERSION,
        "model_config": model_cfg.to_dict(),
        "train_config": train_cfg.to_dict() if train_cfg is not None else None,
        "state_dict": state_dict,
        "meta": dict(meta),
        "train_state": train_state,
    }
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)
    return path


def _read_payload(path: Path, map_location: str | torch.device) -> Any:
    if not path.exists():
        raise SnnDeployError(f"{path}: no such checkpoint file")
    if not path.is_file():
        raise SnnDeployError(f"{path}: is not a file (expected a model.pt checkpoint)")
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as exc:
        text = str(exc)
        if "weights only" in text.lower() or "unsupported global" in text.lower():
            # weights_only refused a global: a pickle of arbitrary objects, possibly malicious
            raise FormatError(
                f"{path}: not an snn-deploy checkpoint: it holds Python objects that a safe load refuses to "
                "create (a checkpoint holds only tensors, numbers and strings)"
            ) from None
        raise FormatError(f"{path}: not an snn-deploy checkpoint (not a torch file: {text.strip()[:120]})") from None
    except Exception as exc:  # noqa: BLE001 - the safe unpickler reports garbage in many ways
        raise FormatError(f"{path}: not an snn-deploy checkpoint (unreadable as a torch file: {exc!s:.160})") from None


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> Checkpoint:
    """Read and validate a checkpoint; anything that is not ours raises one :class:`FormatError` line."""
    path = Path(path)
    data = _read_payload(path, map_location)
    if not isinstance(data, dict) or data.get("format") != CHECKPOINT_FORMAT:
        found = data.get("format") if isinstance(data, dict) else type(data).__name__
        raise FormatError(f"{path}: not an snn-deploy checkpoint (format tag {found!r}, expected {CHECKPOINT_FORMAT!r})")
    missing = [k for k in REQUIRED_KEYS if k not in data]
    if missing:
        raise FormatError(f"{path}: checkpoint is missing {', '.join(missing)}")
    version = data["version"]
    if not isinstance(version, int) or version < 1:
        raise FormatError(f"{path}: bad checkpoint version {version!r}")
    if version > CHECKPOINT_VERSION:
        raise FormatError(
            f"{path}: checkpoint version {version} is newer than this snn-deploy reads ({CHECKPOINT_VERSION}); upgrade snn-deploy"
        )
    for key, kind in (("model_config", dict), ("state_dict", dict), ("meta", dict)):
        if not isinstance(data[key], kind):
            raise FormatError(f"{path}: '{key}' must be a {kind.__name__}, got {type(data[key]).__name__}")
    bad = [k for k, v in data["state_dict"].items() if not isinstance(v, torch.Tensor)]
    if bad:
        raise FormatError(f"{path}: state_dict entries that are not tensors: {bad[:5]}")
    model_cfg = ModelConfig.from_dict(data["model_config"], source=f"{path}: model_config")
    train_cfg = None
    if data.get("train_config") is not None:
        train_cfg = TrainConfig.from_dict(data["train_config"], source=f"{path}: train_config")
    extra = {k: v for k, v in data.items() if k not in REQUIRED_KEYS + ("train_config", "train_state")}
    return Checkpoint(
        path=path,
        model_config=model_cfg,
        state_dict=data["state_dict"],
        meta=data["meta"],
        train_config=train_cfg,
        train_state=data.get("train_state"),
        version=version,
        extra=extra,
    )


def load_state_into(model: nn.Module, state_dict: dict[str, torch.Tensor], source: str | Path) -> None:
    """``model.load_state_dict(strict=True)``, with a mismatch reported as one :class:`FormatError`."""
    result = bare_module(model).load_state_dict(state_dict, strict=False)
    if result.missing_keys or result.unexpected_keys:
        raise FormatError(
            f"{source}: weights do not fit the model its config describes "
            f"(missing {result.missing_keys[:5]}, unexpected {result.unexpected_keys[:5]})"
        )


def load_model(path: str | Path, device: str | torch.device = "cpu") -> tuple[nn.Module, ModelConfig, dict[str, Any]]:
    """Rebuild the model of a checkpoint: ``(model in eval mode on device, ModelConfig, meta)``."""
    from snn_deploy.train.models import build_model

    ckpt = load_checkpoint(path)
    model = build_model(ckpt.model_config)
    try:
        load_state_into(model, ckpt.state_dict, ckpt.path)
    except RuntimeError as exc:  # shape mismatches
        raise FormatError(f"{ckpt.path}: weights do not fit the model its config describes: {exc!s:.300}") from None
    model.to(device).eval()
    return model, ckpt.model_config, ckpt.meta


# --- random number generator states (for a bit-exact --resume) -------------------------------


def capture_rng_state() -> dict[str, Any]:
    """The states of torch (CPU and CUDA), numpy's global generator and ``random``, as safe types."""
    np_name, np_keys, np_pos, np_has_gauss, np_gauss = np.random.get_state()
    py_version, py_internal, py_gauss = random.getstate()
    state = {
        "torch": torch.get_rng_state(),
        "numpy": {
            "name": str(np_name),
            "keys": torch.from_numpy(np.asarray(np_keys, dtype=np.int64)),
            "pos": int(np_pos),
            "has_gauss": int(np_has_gauss),
            "cached_gaussian": float(np_gauss),
        },
        "python": {"version": int(py_version), "internal": [int(v) for v in py_internal], "gauss": py_gauss},
        "cuda": [s for s in torch.cuda.get_rng_state_all()] if torch.cuda.is_available() else [],
    }
    return state


def restore_rng_state(state: dict[str, Any]) -> None:
    """Inverse of :func:`capture_rng_state`."""
    torch.set_rng_state(state["torch"].to("cpu", torch.uint8))
    npst = state["numpy"]
    np.random.set_state(
        (npst["name"], npst["keys"].numpy().astype(np.uint32), npst["pos"], npst["has_gauss"], npst["cached_gaussian"])
    )
    py = state["python"]
    random.setstate((py["version"], tuple(py["internal"]), py["gauss"]))
    if state.get("cuda") and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([s.to("cpu", torch.uint8) for s in state["cuda"]])
