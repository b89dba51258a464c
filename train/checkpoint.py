"""The ``model.pt`` checkpoint format: architecture + weights + metadata, safe to load.

A checkpoint is one ``torch.save`` of a dict made only of tensors, numbers, strings, lists, tuples
and dicts, so that it loads with ``torch.load(path, weights_only=True)``. ``weights_only`` alone does
not make a stranger's file safe: torch 2.3 hands a TorchScript archive to ``torch.jit.load`` before
``weights_only`` applies, and that runs the archive's ``__setstate__`` code. So
:func:`check_checkpoint_file` first tells from the bytes what the file is (:mod:`snn_deploy.filekind`)
and lets through only a ``torch.save`` ZIP archive whose members are the ones ``torch.save`` writes,
stored uncompressed; everything else (legacy pickle and tar ``torch.save`` formats included) is
refused in one line naming what the file is. We never load with ``weights_only=False``::

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
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from snn_deploy.atomic import atomic_path
from snn_deploy.errors import FormatError, SnnDeployError
from snn_deploy.filekind import TORCHSCRIPT_MARKER, identify
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


#: what ``torch.save`` writes in its ZIP archive, below the archive's one top folder
#: What ``torch.save`` writes inside its archive's top folder; torch >= 2.5 adds ``.format_version`` and
#: ``.storage_alignment`` (seen with torch 2.14), torch 2.3 writes neither.
TORCH_SAVE_MEMBER = re.compile(
    r"(data\.pkl|byteorder|version|\.format_version|\.storage_alignment|\.data/version|\.data/serialization_id|data/\d+)")
_SCAN_CHUNK = 1 << 22


def check_checkpoint_file(path: Path, what: str = "an snn-deploy checkpoint") -> None:
    """Refuse, before torch sees it, any file that is not a plain ``torch.save`` ZIP archive.

    A ``torch.save`` ZIP must hold only :data:`TORCH_SAVE_MEMBER` entries under one top folder, and
    the bytes ``constants.pkl`` (the member that makes ``torch.load`` call ``torch.jit.load``) must
    not occur anywhere in it: torch's C++ ZIP reader and Python's :mod:`zipfile` could disagree on a
    crafted archive's directory, a byte scan cannot be fooled that way. ``what`` names the expected
    file in the refusals ("not WHAT: ..."; the sparch importer passes "a sparch checkpoint").
    """
    kind = identify(path)
    if kind.name == "missing":
        raise SnnDeployError(f"{path}: no such checkpoint file")
    if kind.name in ("directory", "special"):
        raise SnnDeployError(f"{path}: is {kind} (expected a model.pt checkpoint file)")
    if kind.name in ("pickle", "tar"):
        # legacy torch.save formats: snn-deploy never writes them, and even the restricted unpickler
        # allocates the storage sizes they claim before reading them
        raise FormatError(f"{path}: not {what}: the file is {kind} ({what.split(' ', 1)[1]}s are torch.save "
                          "ZIP archives)")
    if kind.name != "torch-zip":
        raise FormatError(f"{path}: not {what}: the file is {kind}")
    tops = {name.split("/", 1)[0] for name in kind.members}
    odd = [name for name in kind.members if "/" not in name or not TORCH_SAVE_MEMBER.fullmatch(name.split("/", 1)[1])]
    if len(tops) != 1 or odd:
        raise FormatError(f"{path}: not {what}: a ZIP archive with members torch.save does not write "
                          f"({', '.join(odd[:3]) or ', '.join(sorted(tops)[:3])})")
    with zipfile.ZipFile(path) as archive:  # torch.save stores; a compressed member could inflate without bound
        packed = [info.filename for info in archive.infolist() if info.compress_type != zipfile.ZIP_STORED]
    if packed:
        raise FormatError(f"{path}: not {what}: compressed members ({', '.join(packed[:3])}); "
                          "torch.save stores them uncompressed")
    if _contains(path, TORCHSCRIPT_MARKER.encode()):
        raise FormatError(f"{path}: not {what}: the file is a TorchScript archive (it holds code)")


def _contains(path: Path, needle: bytes) -> bool:
    tail = b""
    with open(path, "rb") as f:
        while chunk := f.read(_SCAN_CHUNK):
            if needle in tail + chunk:
                return True
            tail = chunk[-len(needle):]
    return False


#: torch.<X>Storage, as ``torch.save`` names it in a persistent id -> the dtype of its bytes
STORAGE_DTYPES = {"FloatStorage": torch.float32, "DoubleStorage": torch.float64, "HalfStorage": torch.float16,
                  "BFloat16Storage": torch.bfloat16, "LongStorage": torch.int64, "IntStorage": torch.int32,
                  "ShortStorage": torch.int16, "CharStorage": torch.int8, "ByteStorage": torch.uint8,
                  "BoolStorage": torch.bool}
#: Bytes per value of each storage type (newer torch also writes untyped storages, counted in bytes)
STORAGE_ITEMSIZE = {**{name: dtype.itemsize for name, dtype in STORAGE_DTYPES.items()}, "UntypedStorage": 1}


class _Inert(dict):
    """What every global of the scanned pickle becomes: accepts any construction, state and items
    (an OrderedDict is filled after it is built), runs nothing."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__()

    def __setstate__(self, state: Any) -> None:
        pass

    def append(self, item: Any) -> None:
        pass

    def extend(self, items: Any) -> None:
        pass


class _StorageSizeScan(pickle.Unpickler):
    """Walks a checkpoint's ``data.pkl`` building nothing, and compares every storage's claimed number of
    values with the bytes of its ``data/<key>`` member: torch 2.3.1 believes the claim and reads past
    the record (a small file could leak memory into weights or crash the loader)."""

    def __init__(self, file: Any, archive: zipfile.ZipFile, top: str, path: Path) -> None:
        super().__init__(file)
        self.archive, self.top, self.path = archive, top, path

    def find_class(self, module: str, name: str) -> Any:
        return ("storage", name) if name in STORAGE_ITEMSIZE else _Inert

    def persistent_load(self, pid: Any) -> Any:
        if not (isinstance(pid, tuple) and len(pid) == 5 and pid[0] == "storage" and isinstance(pid[1], tuple)
                and isinstance(pid[2], str) and isinstance(pid[4], int)):
            raise FormatError(f"{self.path}: not an snn-deploy checkpoint: a storage reference torch.save does not write")
        numel, key = pid[4], pid[2]
        try:
            stored = self.archive.getinfo(f"{self.top}/data/{key}").file_size
        except KeyError:
            raise FormatError(f"{self.path}: storage {key} is missing from the archive") from None
        if stored != numel * STORAGE_ITEMSIZE[pid[1][1]]:
            raise FormatError(f"{self.path}: storage {key} claims {numel} values but holds {stored} bytes "
                              f"({pid[1][1]}): a damaged or crafted file")
        return None


def check_storage_sizes(path: Path) -> None:
    """Every storage of the archive holds the bytes its pickle claims (run after ``check_checkpoint_file``)."""
    with zipfile.ZipFile(path) as archive:
        pkl = [n for n in archive.namelist() if n.endswith("/data.pkl")]
        top = pkl[0].rsplit("/", 1)[0]
        with archive.open(pkl[0]) as f:
            try:
                _StorageSizeScan(f, archive, top, path).load()
            except FormatError:
                raise
            except Exception as exc:  # noqa: BLE001 - a damaged pickle fails in many ways
                raise FormatError(f"{path}: not an snn-deploy checkpoint (its data.pkl does not read: {exc!s:.120})") from None


def _read_payload(path: Path, map_location: str | torch.device) -> Any:
    check_checkpoint_file(path)
    check_storage_sizes(path)
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
    check_weights(data["state_dict"], path)
    model_cfg = ModelConfig.from_dict(data["model_config"], source=f"{path}: model_config")
    train_cfg = None
    if data.get("train_config") is not None:
        train_cfg = TrainConfig.from_dict(data["train_config"], source=f"{path}: train_config")
    if data.get("train_state") is not None:
        check_train_state(data["train_state"], path)
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


def check_weights(state_dict: dict[Any, Any], path: Path) -> None:
    """Every entry a dense tensor with a name, every floating one finite (NaN weights would export a
    NaN network and quantize to -2^63; inf ones divide by zero in the weight scale)."""
    for name, tensor in state_dict.items():
        if not isinstance(name, str) or not isinstance(tensor, torch.Tensor):
            raise FormatError(f"{path}: state_dict[{name!r}]: expected a tensor under a string name, "
                              f"got {type(tensor).__name__}")
        if tensor.layout != torch.strided or tensor.is_quantized or tensor.is_complex():
            raise FormatError(f"{path}: state_dict[{name!r}]: a {tensor.dtype} {tensor.layout} tensor; checkpoints "
                              "hold dense real tensors")
        if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
            bad = int((~torch.isfinite(tensor)).sum())
            raise FormatError(f"{path}: state_dict[{name!r}]: {bad} of {tensor.numel()} values are NaN or "
                              "infinite; the weights are broken (retrain, or take an earlier checkpoint)")


#: ``train_state`` field -> the types it may have (``--resume`` reads them; see loop._restore)
TRAIN_STATE_FIELDS: dict[str, tuple[type, ...]] = {
    "epoch": (int,), "best_valid_acc": (int, float), "best_epoch": (int,), "optimizer": (dict,),
    "scheduler": (dict,), "data_order": (dict,), "rng": (list,), "history": (list,), "world_size": (int,),
}
RNG_FIELDS: dict[str, tuple[type, ...]] = {"torch": (torch.Tensor,), "numpy": (dict,), "python": (dict,), "cuda": (list,)}


def check_train_state(state: Any, path: Path) -> None:
    """The schema of ``last.pt``'s ``train_state`` (types and ranges, field named); shapes of the
    optimizer's tensors are checked against the model by :func:`check_optimizer_state`."""
    def bad(field_name: str, expected: str, value: Any) -> FormatError:
        return FormatError(f"{path}: train_state.{field_name}: expected {expected}, got {_describe(value)}")

    if not isinstance(state, dict):
        raise bad("", "a dict", state)
    for key, kinds in TRAIN_STATE_FIELDS.items():
        if key not in state:
            raise FormatError(f"{path}: train_state.{key}: missing")
        value = state[key]
        if isinstance(value, bool) or not isinstance(value, kinds):
            raise bad(key, " or ".join(k.__name__ for k in kinds), value)
    if state["epoch"] < 0 or not 0 <= state["best_epoch"] <= state["epoch"]:
        raise bad("epoch", "0 <= best_epoch <= epoch", (state["epoch"], state["best_epoch"]))
    if state["world_size"] < 1 or not 1 <= len(state["rng"]) <= state["world_size"]:
        raise bad("rng", f"one state per process (world_size {state['world_size']})", state["rng"])
    for i, rng in enumerate(state["rng"]):
        if not isinstance(rng, dict):
            raise bad(f"rng[{i}]", "a dict", rng)
        for key, kinds in RNG_FIELDS.items():
            if not isinstance(rng.get(key), kinds):
                raise bad(f"rng[{i}].{key}", kinds[0].__name__, rng.get(key))
    if len(state["history"]) != state["epoch"] or not all(_json_like(h) and isinstance(h, dict) for h in state["history"]):
        raise bad("history", f"{state['epoch']} dicts of numbers and strings (one per epoch)", state["history"])
    optimizer = state["optimizer"]
    if not isinstance(optimizer.get("state"), dict) or not isinstance(optimizer.get("param_groups"), list):
        raise bad("optimizer", "a dict with 'state' (dict) and 'param_groups' (list)", optimizer)


def check_optimizer_state(optimizer_state: dict[str, Any], params: list[torch.Tensor], path: Path) -> None:
    """Every per-parameter tensor (Adam's moments) has its parameter's shape and finite values."""
    for index, entry in optimizer_state["state"].items():
        where = f"{path}: train_state.optimizer.state[{index!r}]"
        if not isinstance(index, int) or not 0 <= index < len(params) or not isinstance(entry, dict):
            raise FormatError(f"{where}: expected a dict for one of the model's {len(params)} parameters")
        for key, value in entry.items():
            if not isinstance(value, torch.Tensor):
                raise FormatError(f"{where}.{key}: expected a tensor, got {_describe(value)}")
            if key != "step" and tuple(value.shape) != tuple(params[index].shape):
                raise FormatError(f"{where}.{key}: shape {list(value.shape)}, the parameter's is {list(params[index].shape)}")
            if value.is_floating_point() and not bool(torch.isfinite(value).all()):
                raise FormatError(f"{where}.{key}: holds NaN or infinite values")


def _json_like(value: Any) -> bool:
    if value is None or isinstance(value, (bool, int, float, str)):
        return True
    if isinstance(value, (list, tuple)):
        return all(_json_like(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _json_like(v) for k, v in value.items())
    return False


def _describe(value: Any) -> str:
    text = repr(value) if isinstance(value, (bool, int, float, str, type(None))) else type(value).__name__
    return text[:60]


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
    from snn_deploy.train.sizes import check_config_fits_weights

    ckpt = load_checkpoint(path)
    check_config_fits_weights(ckpt.model_config, ckpt.state_dict, ckpt.path)
    return model_from_state(ckpt.model_config, ckpt.state_dict, ckpt.path, device), ckpt.model_config, ckpt.meta


def model_from_state(cfg: ModelConfig, state_dict: dict, path: Path, device: str | torch.device = "cpu") -> nn.Module:
    """The model ``cfg`` describes holding ``state_dict`` (read from ``path``), in eval mode on ``device``."""
    from snn_deploy.train.models import build_model

    model = build_model(cfg)
    try:
        load_state_into(model, state_dict, path)
    except RuntimeError as exc:  # shape mismatches
        raise FormatError(f"{path}: weights do not fit the model its config describes: {exc!s:.300}") from None
    return model.to(device).eval()


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
