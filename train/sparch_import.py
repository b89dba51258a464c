"""Import a checkpoint of paper 1's code (idiap/sparch) without running anything from the file.

sparch saves its best model as the whole pickled module (``exp.py``: ``torch.save(self.net, path)``):
a ``torch.save`` ZIP archive whose ``data.pkl`` names sparch's classes. ``torch.load`` would import
sparch and rebuild the module by calling whatever the pickle names, so it is never called here.
Instead:

1. the file must pass :func:`snn_deploy.train.checkpoint.check_checkpoint_file` (a ``torch.save`` ZIP
   archive of the members torch writes, stored, no TorchScript marker) before anything is unpickled;
2. ``data.pkl`` is read with :class:`SparchUnpickler`, whose ``find_class`` resolves ONLY the names of
   :data:`ALLOWED_GLOBALS`, each to an inert stand-in: sparch's and torch.nn's classes become
   :class:`Record` (a plain holder of the ``__dict__`` the pickle sets), torch's tensor rebuilders
   become functions that slice the archive's ``data/<key>`` bytes (read with :mod:`zipfile`) after
   checking offsets, sizes and strides; anything else is refused in one line
   ("<file>: not loadable: it holds <module.name>, which a sparch checkpoint does not contain");
3. the records are mapped to a :class:`~snn_deploy.train.config.ModelConfig` and a ``state_dict`` of
   our model zoo (:data:`SPARCH_CLASSES`: sparch class -> our model and parameter names), and
   ``build_model`` + ``load_state_dict`` give the float model the rest of the pipeline converts.

Semantics (DESIGN.md section 3; our float models follow sparch's code): the same neuron equations,
clamp ranges and threshold 1; batch-norm over batch x time in eval mode (folded at export);
recurrent ``V``: sparch computes ``s @ V.weight`` with the diagonal zeroed, ours ``V s`` with
``V [out, in]``, so ours is ``V.weight`` transposed. Differences that are ours on purpose: the
initial state is zero (sparch draws it from ``torch.rand`` on every forward); dropout is
training-only on both sides. What cannot be expressed is refused, naming the field: a threshold
other than 1 (sparch's reset subtracts 1 whatever the threshold), layer norm (per-sample statistics
cannot be folded into weights), bidirectional layers, no readout layer, hidden layers of unequal
sizes, clamp ranges other than the code's.

The pickle carries no data binning: sparch bins SHD/SSC into 100 steps over 1.4 s
(``SpikingDataset(nb_steps=100)``, ``max_time = 1.4``), which is what the returned ``meta`` says
(also snn-deploy's defaults), with ``input_kind`` "spikes".
"""
from __future__ import annotations

import math
import pickle
import pickletools
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from snn_deploy.errors import FormatError
from snn_deploy.filekind import identify
from snn_deploy.memory import check_fits

from snn_deploy.train.checkpoint import (STORAGE_DTYPES, check_checkpoint_file, check_weights, load_model,
                                         model_from_state)
from snn_deploy.train.config import ModelConfig
from snn_deploy.catalogue import A_RANGE, ALPHA_RANGE, B_RANGE, BETA_RANGE, THRESHOLD

WHAT = "a sparch checkpoint"
SPARCH_MODULE = "sparch.models.snns"
#: sparch bins spike data into 100 steps over 1.4 s (sparch/dataloaders/spiking_datasets.py)
SPARCH_TIME_STEPS, SPARCH_DURATION = 100, 1.4
#: data.pkl of a sparch model is tens of KB (its tensors are separate members); refuse absurd ones
HEAD_BYTES = 4096                 #: what is_sparch_checkpoint reads of data.pkl
MAX_PICKLE_BYTES = 64 << 20


@dataclass(frozen=True)
class SparchClass:
    """How one sparch class maps to ours: our model name (``ModelConfig.model``; ``None`` for the
    readout) and ``params``: sparch's parameter/buffer name in the layer -> (our name in the layer's
    module, ``"copy"`` or ``"transpose"``). Our layer modules are ``layers.<i>`` (train/layers.py
    ``SpikingLayer``) and ``readout`` (train/readout.py ``Readout``)."""

    model: str | None
    neuron: str
    params: dict[str, tuple[str, str]] = field(default_factory=dict)


_FEED_FORWARD = {
    "W.weight": ("ff.linear.weight", "copy"), "W.bias": ("ff.linear.bias", "copy"),
    "norm.weight": ("ff.norm.weight", "copy"), "norm.bias": ("ff.norm.bias", "copy"),
    "norm.running_mean": ("ff.norm.running_mean", "copy"), "norm.running_var": ("ff.norm.running_var", "copy"),
    "norm.num_batches_tracked": ("ff.norm.num_batches_tracked", "copy"),
}
_LIF = {"alpha": ("params.alpha", "copy")}
_ADAPTATION = {"beta": ("params.beta", "copy"), "a": ("params.a", "copy"), "b": ("params.b", "copy")}
_RECURRENT = {"V.weight": ("rec.weight", "transpose")}  # sparch: s @ V.weight; ours: V s with V [out, in]

#: sparch class name (in sparch.models.snns) -> our model and parameter names (the catalogue's import table)
SPARCH_CLASSES: dict[str, SparchClass] = {
    "LIFLayer": SparchClass("lif", "lif", {**_FEED_FORWARD, **_LIF}),
    "adLIFLayer": SparchClass("adlif", "adlif", {**_FEED_FORWARD, **_LIF, **_ADAPTATION}),
    "RLIFLayer": SparchClass("rlif", "lif", {**_FEED_FORWARD, **_RECURRENT, **_LIF}),
    "RadLIFLayer": SparchClass("radlif", "adlif", {**_FEED_FORWARD, **_RECURRENT, **_LIF, **_ADAPTATION}),
    "ReadoutLayer": SparchClass(None, "li", {**_FEED_FORWARD, **_LIF}),  # our cumsoftmax readout
}
#: sparch's SNN(neuron_type=...) -> the layer class it builds
NEURON_TYPES = {"LIF": "LIFLayer", "adLIF": "adLIFLayer", "RLIF": "RLIFLayer", "RadLIF": "RadLIFLayer"}
#: clamp ranges a layer holds (attribute -> ours); a file with other ranges would run other neurons
CLAMP_RANGES = {"alpha_lim": ALPHA_RANGE, "beta_lim": BETA_RANGE, "a_lim": A_RANGE, "b_lim": B_RANGE}


class Refused(Exception):
    """Raised inside unpickling for a name the allow-list does not hold; turned into one FormatError line."""


class Record:
    """An inert stand-in for a pickled class: it holds the state the pickle gives it, nothing runs."""

    qualname = "?"

    def __init__(self, *args: Any) -> None:  # NEWOBJ calls __new__ only; REDUCE with args is refused
        if args:
            raise Refused(f"{self.qualname}(...) with arguments")

    def __setstate__(self, state: Any) -> None:
        if not isinstance(state, dict):
            raise Refused(f"{self.qualname} with a {type(state).__name__} state")
        self.state = state

    def get(self, key: str, default: Any = None) -> Any:
        return getattr(self, "state", {}).get(key, default)

    def children(self) -> dict[str, Any]:
        modules = self.get("_modules") or {}
        return dict(modules) if isinstance(modules, dict) else {}

    def tensors(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for group in ("_parameters", "_buffers"):
            entries = self.get(group) or {}
            out.update(entries if isinstance(entries, dict) else {})
        return out


_RECORD_NAMES = [f"{SPARCH_MODULE}.{name}" for name in ("SNN", "SpikeFunctionBoxcar", *SPARCH_CLASSES)] + [
    "torch.nn.modules.container.ModuleList", "torch.nn.modules.linear.Linear",
    "torch.nn.modules.batchnorm.BatchNorm1d", "torch.nn.modules.normalization.LayerNorm",
    "torch.nn.modules.dropout.Dropout",
]
RECORD_CLASSES: dict[str, type] = {n: type(n.rsplit(".", 1)[1], (Record,), {"qualname": n}) for n in _RECORD_NAMES}
NUMPY_SCALAR_TYPES = ("f8", "f4", "i8", "i4", "b1")


@dataclass(frozen=True)
class StorageType:
    dtype: torch.dtype


class DTypeRecord:
    """Stand-in for ``numpy.dtype(name, align, copy)`` (sparch's clamp limits are numpy float64 scalars)."""

    def __init__(self, name: Any, align: Any = False, copy: Any = True) -> None:
        if name not in NUMPY_SCALAR_TYPES:
            raise Refused(f"numpy.dtype({name!r})")
        self.name, self.byteorder = name, "<"

    def __setstate__(self, state: Any) -> None:
        if isinstance(state, tuple) and len(state) > 1 and state[1] in ("<", ">", "|", "="):
            self.byteorder = "<" if state[1] in ("|", "=") else state[1]


def _numpy_scalar(dtype: Any, data: Any = None) -> Any:
    if not isinstance(dtype, DTypeRecord) or not isinstance(data, bytes):
        raise Refused("numpy.core.multiarray.scalar of something other than a number")
    np_dtype = np.dtype(dtype.byteorder + dtype.name)
    if len(data) != np_dtype.itemsize:
        raise Refused(f"numpy scalar of {len(data)} bytes")
    return np.frombuffer(data, dtype=np_dtype)[0].item()


def _latin1(text: Any, encoding: Any = "latin1") -> bytes:
    """Protocol 2 pickles bytes as ``_codecs.encode(str, "latin1")``."""
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
        raise Refused("_codecs.encode of something other than latin-1 text")
    return text.encode("latin1")


def _getattr(obj: Any, name: Any) -> Any:
    """sparch layers hold ``SpikeFunctionBoxcar.apply``, pickled as ``getattr(SpikeFunctionBoxcar, "apply")``."""
    boxcar = RECORD_CLASSES[f"{SPARCH_MODULE}.SpikeFunctionBoxcar"]
    if obj is boxcar and name == "apply":
        return f"{SPARCH_MODULE}.SpikeFunctionBoxcar.apply"
    raise Refused(f"builtins.getattr({getattr(obj, 'qualname', type(obj).__name__)}, {name!r})")


def _rebuild_tensor(storage: Any, offset: Any, size: Any, stride: Any, requires_grad: Any = False,
                    backward_hooks: Any = None, metadata: Any = None) -> torch.Tensor:
    """``torch._utils._rebuild_tensor_v2`` on our storages, with every index checked against the storage."""
    ints = lambda v: isinstance(v, tuple) and all(isinstance(i, int) and not isinstance(i, bool) and i >= 0 for i in v)  # noqa: E731
    if not isinstance(storage, torch.Tensor) or not isinstance(offset, int) or offset < 0 or not ints(size) \
            or not ints(stride) or len(size) != len(stride):
        raise Refused("a tensor with a malformed size, stride or offset")
    if backward_hooks:
        raise Refused("a tensor with backward hooks")
    numel = math.prod(size)
    if numel > storage.numel():   # stride 0 or overlaps: a one-value storage must not become gigabytes
        raise Refused(f"a tensor of {numel} values over a storage of {storage.numel()}")
    if numel and offset + sum((n - 1) * s for n, s in zip(size, stride)) >= storage.numel():
        raise Refused(f"a tensor of size {list(size)} beyond its storage of {storage.numel()} values")
    return torch.as_strided(storage, size, stride, offset).clone()


def _rebuild_parameter(data: Any, requires_grad: Any = False, backward_hooks: Any = None, state: Any = None) -> Any:
    if not isinstance(data, torch.Tensor) or backward_hooks:
        raise Refused("a parameter that is not a plain tensor")
    return data


ALLOWED_GLOBALS: dict[str, Any] = {
    **RECORD_CLASSES,
    "collections.OrderedDict": dict,   # plain data: order is kept by dict
    "builtins.set": set,
    "builtins.getattr": _getattr,
    "_codecs.encode": _latin1,
    "numpy.dtype": DTypeRecord,
    "numpy.core.multiarray.scalar": _numpy_scalar,
    "numpy._core.multiarray.scalar": _numpy_scalar,
    "torch._utils._rebuild_tensor_v2": _rebuild_tensor,
    "torch._utils._rebuild_parameter": _rebuild_parameter,
    "torch._utils._rebuild_parameter_with_state": _rebuild_parameter,
    **{f"torch.{name}": StorageType(dtype) for name, dtype in STORAGE_DTYPES.items()},
}


class SparchUnpickler(pickle.Unpickler):
    """Resolves only :data:`ALLOWED_GLOBALS`; storages come from the archive's ``data/<key>`` members."""

    def __init__(self, file: Any, archive: zipfile.ZipFile, top: str) -> None:
        super().__init__(file)
        self.archive, self.top = archive, top
        self.storages: dict[str, torch.Tensor] = {}

    def find_class(self, module: str, name: str) -> Any:
        qualname = f"{'builtins' if module == '__builtin__' else module}.{name}"  # protocol 2 names Python 2's
        if qualname not in ALLOWED_GLOBALS:
            raise Refused(qualname)
        return ALLOWED_GLOBALS[qualname]

    def persistent_load(self, pid: Any) -> torch.Tensor:
        if not (isinstance(pid, tuple) and len(pid) == 5 and pid[0] == "storage" and isinstance(pid[1], StorageType)
                and isinstance(pid[2], str) and re.fullmatch(r"\d+", pid[2]) and isinstance(pid[4], int)):
            raise Refused(f"a persistent id {str(pid)[:60]}")
        _, kind, key, _location, numel = pid          # the location (cuda:0, ...) does not matter: bytes
        if key not in self.storages:
            name = f"{self.top}/data/{key}"
            try:
                info = self.archive.getinfo(name)
            except KeyError:
                raise Refused(f"a storage {key} missing from the archive") from None
            if info.file_size != numel * kind.dtype.itemsize:
                raise Refused(f"storage {key} of {info.file_size} bytes for {numel} values")
            data = bytearray(self.archive.read(name))
            self.storages[key] = torch.frombuffer(data, dtype=kind.dtype) if data else torch.empty(0, dtype=kind.dtype)
        if self.storages[key].dtype != kind.dtype:
            raise Refused(f"storage {key} read as two types")
        return self.storages[key]


def is_sparch_checkpoint(path: str | Path) -> bool:
    """Whether ``path`` is a ``torch.save`` ZIP whose pickle starts with one of sparch's classes.

    Told from the pickle's opcodes (:func:`pickletools.genops` parses, it never builds objects), so
    the convert command can send the file to :func:`load_sparch_model` instead of the snn-deploy loader.
    """
    kind = identify(path)
    if kind.name != "torch-zip":
        return False
    pkl = [m for m in kind.members if m.endswith("/data.pkl") and m.count("/") == 1]
    try:
        with zipfile.ZipFile(path) as archive:
            info = archive.getinfo(pkl[0]) if len(pkl) == 1 else None
            if info is None or info.compress_type != zipfile.ZIP_STORED or info.file_size > MAX_PICKLE_BYTES:
                return False                      # torch.save stores; a deflated member could claim any size
            with archive.open(info) as f:
                head = f.read(HEAD_BYTES)         # the first opcodes name the first class
        strings: list[str] = []
        for count, (op, arg, _) in enumerate(pickletools.genops(head)):
            if op.name == "GLOBAL":
                return str(arg).startswith("sparch.")
            if op.name == "STACK_GLOBAL":
                return len(strings) >= 2 and strings[-2].startswith("sparch.")
            if isinstance(arg, str):
                strings.append(arg)
            if count > 16:
                return False
    except Exception:  # noqa: BLE001 - a damaged archive or pickle is not a sparch checkpoint
        return False
    return False


def read_sparch_records(path: str | Path) -> Record:
    """The checked file's pickle as records (see the module docstring); raises FormatError in one line."""
    path = Path(path)
    check_checkpoint_file(path, WHAT)
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        top = names[0].split("/", 1)[0]
        byteorder = f"{top}/byteorder"
        if byteorder in names and archive.read(byteorder).strip() not in (b"little", b""):
            raise FormatError(f"{path}: not loadable: saved on a big-endian machine (re-save it on a little-endian one)")
        info = archive.getinfo(f"{top}/data.pkl")
        if info.file_size > MAX_PICKLE_BYTES:
            raise FormatError(f"{path}: not {WHAT}: its pickle is {info.file_size} bytes (a sparch model's is "
                              f"under {MAX_PICKLE_BYTES >> 20} MB)")
        check_fits(sum(i.file_size for i in archive.infolist()), f"{path}", FormatError)
        with archive.open(info) as pkl:
            try:
                root = SparchUnpickler(pkl, archive, top).load()
            except Refused as exc:
                raise FormatError(f"{path}: not loadable: it holds {exc}, which {WHAT} does not contain") from None
            except Exception as exc:  # noqa: BLE001 - a damaged pickle fails in many ways
                raise FormatError(f"{path}: not {WHAT} (unreadable pickle: {exc!s:.120})") from None
    if not isinstance(root, RECORD_CLASSES[f"{SPARCH_MODULE}.SNN"]) or not hasattr(root, "state"):
        raise FormatError(f"{path}: not {WHAT}: it holds a {getattr(root, 'qualname', type(root).__name__)}, "
                          f"not a {SPARCH_MODULE}.SNN")
    return root


@dataclass
class SparchModel:
    """What :func:`sparch_to_config` makes of the records: our config, our state dict, our meta."""

    config: ModelConfig
    state_dict: dict[str, torch.Tensor]
    meta: dict[str, Any]


def sparch_to_config(root: Record, path: str | Path) -> SparchModel:
    """Map sparch's SNN record to our ModelConfig + state dict (names by :data:`SPARCH_CLASSES`)."""
    from snn_deploy.train.models import build_model

    where = f"{path}: SNN"
    _expect(root, "use_readout_layer", True, where, "models without the readout layer do not convert")
    _expect(root, "bidirectional", False, where, "bidirectional layers (a sequence read backwards) cannot run online")
    neuron_type = root.get("neuron_type")
    if neuron_type not in NEURON_TYPES:
        raise FormatError(f"{where}.neuron_type: {neuron_type!r}; expected one of {', '.join(NEURON_TYPES)}")
    stack = root.children().get("snn")
    layers = list(stack.children().values()) if isinstance(stack, Record) else []
    expected = [f"{SPARCH_MODULE}.{NEURON_TYPES[neuron_type]}"] * (len(layers) - 1) + [f"{SPARCH_MODULE}.ReadoutLayer"]
    found = [getattr(layer, "qualname", type(layer).__name__) for layer in layers]
    if len(layers) < 2 or found != expected:
        raise FormatError(f"{where}.snn: layers {found}; expected {NEURON_TYPES[neuron_type]} layers and a ReadoutLayer")
    hidden = {_int(layer, "hidden_size", f"{where}.snn.{i}") for i, layer in enumerate(layers[:-1])}
    if len(hidden) != 1:
        raise FormatError(f"{where}.snn: hidden layers of sizes {sorted(hidden)}; snn-deploy's models have hidden "
                          "layers of one size")
    norms = {layer.get("normalization") for layer in layers}
    normalize = {bool(layer.get("normalize")) for layer in layers}
    if len(norms) != 1 or len(normalize) != 1:
        raise FormatError(f"{where}.snn: layers with different normalizations {sorted(map(str, norms))}")
    if "layernorm" in norms and normalize == {True}:
        raise FormatError(f"{where}.normalization: layernorm normalises each sample by its own statistics, which "
                          "cannot be folded into weights; batchnorm or none convert")
    batch_norm = normalize == {True}
    biases = {bool(layer.get("use_bias")) for layer in layers}
    dropout = layers[0].get("dropout", 0.0)
    cfg = ModelConfig(model=SPARCH_CLASSES[NEURON_TYPES[neuron_type]].model,
                      input_size=_int(layers[0], "input_size", f"{where}.snn.0"),
                      num_classes=_int(layers[-1], "hidden_size", f"{where}.snn.{len(layers) - 1}"),
                      layers=len(layers), hidden=hidden.pop(), batch_norm=batch_norm, bias=biases == {True},
                      dropout=float(dropout) if isinstance(dropout, (int, float)) and 0 <= dropout < 1 else 0.0)
    if len(biases) != 1:
        raise FormatError(f"{where}.snn: some layers use a bias and some do not")
    ours = build_model(cfg).state_dict()          # the names and shapes to fill (build_model forks the RNG)
    state = dict(ours)
    prefixes = [f"layers.{i}." for i in range(len(layers) - 1)] + ["readout."]
    for i, (layer, prefix) in enumerate(zip(layers, prefixes)):
        _map_layer(layer, prefix, state, ours, f"{where}.snn.{i}")
    check_weights(state, Path(path))
    meta = {"num_channels": cfg.input_size, "num_classes": cfg.num_classes,
            "class_names": [str(k) for k in range(cfg.num_classes)], "input_kind": "spikes",
            "time_steps": SPARCH_TIME_STEPS, "duration": SPARCH_DURATION, "binary": False,
            "source": f"sparch {neuron_type}"}
    return SparchModel(cfg, state, meta)


def _map_layer(layer: Record, prefix: str, state: dict, ours: dict, where: str) -> None:
    spec = SPARCH_CLASSES[layer.qualname.rsplit(".", 1)[1]]
    if spec.model is not None:  # spiking layers: threshold 1 (sparch's reset subtracts 1 whatever it is)
        threshold = layer.get("threshold")
        if not isinstance(threshold, (int, float)) or float(threshold) != THRESHOLD:
            raise FormatError(f"{where}.threshold: {threshold!r}; only threshold {THRESHOLD} converts (sparch's "
                              "reset subtracts 1 whatever the threshold)")
    for attr, ours_range in CLAMP_RANGES.items():
        value = layer.get(attr)
        if value is None and attr in ("alpha_lim",):
            raise FormatError(f"{where}.{attr}: missing")
        if value is not None and (not isinstance(value, list) or len(value) != 2
                                  or any(not math.isclose(float(v), r, rel_tol=1e-12) for v, r in zip(value, ours_range))):
            raise FormatError(f"{where}.{attr}: {value!r}; sparch's code (and snn-deploy) clamp to {list(ours_range)}")
    norm = layer.children().get("norm")
    if isinstance(norm, Record) and layer.get("normalize") and norm.get("track_running_stats") is False:
        raise FormatError(f"{where}.norm: batch-norm without running statistics cannot be folded into weights")
    tensors = _layer_tensors(layer)
    unknown = sorted(set(tensors) - set(spec.params))
    if unknown:
        raise FormatError(f"{where}: tensors {unknown} that a {layer.qualname.rsplit('.', 1)[1]} does not have")
    for name, (target, transform) in spec.params.items():
        key = prefix + target
        if key not in ours:
            if name in tensors and tensors[name] is not None:
                raise FormatError(f"{where}.{name}: present, but the model it maps to has no {key}")
            continue
        value = tensors.get(name)
        if not isinstance(value, torch.Tensor):
            raise FormatError(f"{where}.{name}: missing (expected a tensor of shape {list(ours[key].shape)})")
        value = value.t() if transform == "transpose" else value
        if tuple(value.shape) != tuple(ours[key].shape):
            raise FormatError(f"{where}.{name}: shape {list(value.shape)}, expected {list(ours[key].shape)}")
        state[key] = value.to(ours[key].dtype).contiguous().clone()


def _layer_tensors(layer: Record) -> dict[str, Any]:
    """``{"alpha": ..., "W.weight": ..., "norm.running_mean": ...}``: the layer's tensors by sparch's names."""
    tensors = dict(layer.tensors())
    for child_name, child in layer.children().items():
        if isinstance(child, Record):
            tensors.update({f"{child_name}.{k}": v for k, v in child.tensors().items() if v is not None})
    return {k: v for k, v in tensors.items() if v is not None}


def _expect(record: Record, attr: str, value: Any, where: str, why: str) -> None:
    if record.get(attr, value) != value:
        raise FormatError(f"{where}.{attr}: {record.get(attr)!r}; {why}")


def _int(record: Record, attr: str, where: str) -> int:
    value = record.get(attr)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != int(value) or value <= 0:
        raise FormatError(f"{where}.{attr}: {value!r}; expected a positive integer")
    return int(value)


def load_sparch_model(path: str | Path, device: str | torch.device = "cpu") -> tuple[torch.nn.Module, ModelConfig, dict[str, Any]]:
    """A sparch checkpoint as our float model: ``(model in eval mode, ModelConfig, meta)`` (like ``load_model``)."""
    imported = sparch_to_config(read_sparch_records(path), path)
    return model_from_state(imported.config, imported.state_dict, Path(path), device), imported.config, imported.meta


def load_any_checkpoint(path: str | Path) -> tuple[torch.nn.Module, ModelConfig, dict[str, Any]]:
    """Our ``model.pt`` (``checkpoint.load_model``) or a sparch checkpoint (``load_sparch_model``), by content."""
    return (load_sparch_model if is_sparch_checkpoint(path) else load_model)(path)


__all__ = ["ALLOWED_GLOBALS", "SPARCH_CLASSES", "SparchUnpickler", "is_sparch_checkpoint", "load_any_checkpoint",
           "load_sparch_model", "read_sparch_records", "sparch_to_config"]
