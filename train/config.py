"""Architecture and training configuration: plain dataclasses, stored inside every checkpoint.

``ModelConfig`` is the contract between the model zoo (``train/models.py``), the trainer, the
checkpoint format and the IR export. Unknown keys are errors (a typo must not silently train the
default).
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

from snn_deploy import catalogue
from snn_deploy.catalogue import RESETS  # noqa: F401  (re-exported: the train CLI's choices, torch-free)
from snn_deploy.errors import SnnDeployError
from snn_deploy.ir import DEFAULT_READOUT, READOUT_MODES
from snn_deploy.train.data.binning import DEFAULT_DURATION_S, DEFAULT_TIME_STEPS

ANN_MODELS = ("mlp", "rnn", "libru", "gru")
RECURRENT_ANN_MODELS = ("rnn", "libru", "gru")


def snn_models() -> tuple[str, ...]:
    """The spiking models of the zoo: every variant of every catalogue entry (registered ones included)."""
    return tuple(catalogue.zoo())


def all_models() -> tuple[str, ...]:
    return snn_models() + ANN_MODELS


@dataclass
class ModelConfig:
    """What to build. Defaults follow paper 1 (Bittar & Garner 2022) and its code."""

    model: str
    input_size: int
    num_classes: int
    layers: int = 3
    hidden: int = 128
    dropout: float = 0.1
    batch_norm: bool = True
    bias: bool = False
    surrogate: str = "boxcar"
    surrogate_params: dict[str, float] = field(default_factory=dict)
    readout: str = DEFAULT_READOUT
    sparsity: float = 0.0
    seed: int = 0
    reset: str = "subtract"  # cuba_lif only: "subtract" (paper 2 Eq. 4) or "zero" (Lava/Loihi hard reset)
    #: one value per layer (not per neuron) for every decay (alpha, beta, rho), readout included: what
    #: Lava's LIF and netx hold (one du, dv per layer); with reset "zero" a cuba_lif exports to netx
    shared_decays: bool = False

    def __post_init__(self) -> None:
        if self.model not in all_models():
            raise SnnDeployError(f"unknown model {self.model!r}; choose one of {', '.join(all_models())}")
        for name in ("input_size", "num_classes", "layers", "hidden"):
            if int(getattr(self, name)) <= 0:
                raise SnnDeployError(f"{name} must be a positive integer, got {getattr(self, name)!r}")
        if self.readout not in READOUT_MODES:
            raise SnnDeployError(f"unknown readout {self.readout!r}; choose one of {', '.join(READOUT_MODES)}")
        if not 0.0 <= self.dropout < 1.0:
            raise SnnDeployError(f"dropout must be in [0, 1), got {self.dropout}")
        if self.reset not in RESETS:
            raise SnnDeployError(f"unknown reset {self.reset!r}; choose one of {', '.join(RESETS)}")
        if self.reset != "subtract" and self.reset not in self.neuron_entry_resets():
            having = [m.name for m in catalogue.entries() if self.reset in m.resets and m.variants]
            raise SnnDeployError(f"--reset {self.reset} is for {', '.join(having)} only; {self.model} resets by "
                                 "subtraction (paper 1's models as run by its code)")
        if self.shared_decays and not self.spiking:
            raise SnnDeployError(f"shared_decays is for spiking models; {self.model!r} is an ANN baseline")
        if not 0.0 <= self.sparsity < 1.0:
            raise SnnDeployError(f"sparsity must be in [0, 1), got {self.sparsity}")

    @property
    def spiking(self) -> bool:
        return self.model in catalogue.zoo()

    @property
    def recurrent(self) -> bool:
        zoo = catalogue.zoo()
        return zoo[self.model][1] if self.model in zoo else self.model in RECURRENT_ANN_MODELS

    def neuron_entry_resets(self) -> tuple[str, ...]:
        """The reset rules of this spiking model's neuron (none for an ANN baseline)."""
        zoo = catalogue.zoo()
        return catalogue.get_model_entry(zoo[self.model][0]).resets if self.model in zoo else ()

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "config") -> "ModelConfig":
        return cls(**_known_fields(cls, data, source))


@dataclass
class TrainConfig:
    """How to train (paper 1 §3: Adam, ReduceLROnPlateau(0.7, patience 10) on validation accuracy)."""

    epochs: int = 30
    batch_size: int = 64
    #: None: 0.01 on spike inputs, 0.001 on graded (filterbank) inputs (paper 1 §3); the trainer
    #: stores the resolved value in the run's config.
    lr: float | None = None
    weight_decay: float = 0.0
    scheduler_factor: float = 0.7
    scheduler_patience: int = 10
    valid_fraction: float = 0.1
    time_steps: int = DEFAULT_TIME_STEPS
    duration: float = DEFAULT_DURATION_S
    max_over_time_loss: bool = False
    seed: int = 0
    device: str = "cpu"
    binary: bool = False  # clip binned spike counts to 1
    limit_train: int | None = None  # train on a seeded subset of this many samples (quick runs)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "config") -> "TrainConfig":
        return cls(**_known_fields(cls, data, source))


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


#: a field's annotation (a string: ``from __future__ import annotations``) -> the check of a stored value
_VALUE_CHECKS = {
    "int": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "float": _is_number,
    "bool": lambda v: isinstance(v, bool),
    "str": lambda v: isinstance(v, str),
    "float | None": lambda v: v is None or _is_number(v),
    "int | None": lambda v: v is None or (isinstance(v, int) and not isinstance(v, bool)),
    "dict[str, float]": lambda v: isinstance(v, dict) and all(isinstance(k, str) and _is_number(x) for k, x in v.items()),
}


def _known_fields(cls: type, data: dict[str, Any], source: str) -> dict[str, Any]:
    """``data`` (from a file: a checkpoint, run.json) with known keys only, each of its field's type
    (a hidden size of "8" or 8.5 would pass the range checks and fail deep inside torch)."""
    if not isinstance(data, dict):
        raise SnnDeployError(f"{source}: expected a {cls.__name__} dict, got {type(data).__name__}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(map(str, data)) - set(fields))
    if unknown:
        raise SnnDeployError(f"{source}: unknown {cls.__name__} keys {unknown}; known keys: {sorted(fields)}")
    for name, value in data.items():
        check = _VALUE_CHECKS.get(str(fields[name].type))
        if check is not None and not check(value):
            raise SnnDeployError(f"{source}: {name} must be {fields[name].type}, got {str(value)[:40]!r} "
                                 f"({type(value).__name__})")
    return dict(data)
