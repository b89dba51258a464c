"""Hardware profiles: one JSON data file per target in ``hw_profiles/``, one loader, one schema.

A target is data, not code: number formats, limits, which neuron models the chip runs, and energy
constants, every number with the key of its source in the file's ``references``. Layout::

    {"format": "snn-deploy-hw-profile", "version": 1, "name", "description",
     "kind": "neuromorphic" | "cmos",
     "references": {key: citation},
     "formats":  null | {weight_bits, weight_exp_min, weight_exp_max, decay_bits, state_bits,
                         threshold_mant_bits, bias_mant_bits, bias_exp_bits, activation_shift,
                         threshold_shift}                  each {"value": int, "source": key}
     "limits":   null | {neurons_per_core, synapse_memory_bits_per_core, fan_in_per_core,
                         fan_out_per_core, cores_per_chip}  each {"value": int | null, "source": key}
     "neuron_models": {model: {"resets": [...], "source": key}},
     "energy": {"estimate": bool, "word_bits": int, "notes": str,
                "ops": {kind: {"value": pJ, "source"} | {"min", "max", "source"}
                              | {"values": [{"value", "source"}, ...]}},
                "sram": [{"bytes", "pj_per_64bit", "source"}, ...]   (optional),
                "calibration": str   (optional: how the constants compare with measured chips)}}

``formats: null`` marks hardware that is priced but not a quantization target (CMOS, SpiNNaker 2).
An unknown key, a missing field, a wrong type or an unknown source key is a ``FormatError`` naming
the file and the key. So is a number format other than the one ``convert.fixed_point`` implements
(:func:`implemented_formats`): the quantizer, the emulator and our Lava models compute with those
constants, so a profile with, say, ``state_bits`` 16 would produce the same integers under a
precision record that misstates them. Until the arithmetic is parameterised by the formats, the
formats are a check of the target, not a setting.
"""
from __future__ import annotations

import importlib.resources
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Optional, Union

from snn_deploy import catalogue
from snn_deploy.catalogue import RESETS
from snn_deploy.convert import fixed_point as fp
from snn_deploy.errors import FormatError, SnnDeployError, UsageError

FORMAT_TAG = "snn-deploy-hw-profile"
FORMAT_VERSION = 1
BUNDLED_PACKAGE = "snn_deploy.hw_profiles"   #: the top-level hw_profiles/ folder, shipped as package data
KINDS = ("neuromorphic", "cmos")
TOP_KEYS = ("format", "version", "name", "description", "kind", "references", "formats", "limits",
            "neuron_models", "energy")
ENERGY_KEYS_REQUIRED = ("estimate", "word_bits", "ops")
ENERGY_KEYS_OPTIONAL = ("notes", "sram", "calibration")


@dataclass(frozen=True)
class NumberFormats:
    weight_bits: int
    weight_exp_min: int
    weight_exp_max: int
    decay_bits: int
    state_bits: int
    threshold_mant_bits: int
    bias_mant_bits: int
    bias_exp_bits: int
    activation_shift: int
    threshold_shift: int


def implemented_formats() -> NumberFormats:
    """The number formats of the arithmetic in ``convert.fixed_point``: what every profile must state."""
    return NumberFormats(
        weight_bits=fp.WEIGHT_BITS, weight_exp_min=fp.WEIGHT_EXP_MIN, weight_exp_max=fp.WEIGHT_EXP_MAX,
        decay_bits=fp.DECAY_BITS, state_bits=fp.STATE_BITS, threshold_mant_bits=fp.THRESHOLD_MANT_BITS,
        bias_mant_bits=fp.BIAS_MANT_BITS, bias_exp_bits=fp.BIAS_EXP_BITS,
        activation_shift=fp.ACTIVATION_SHIFT, threshold_shift=fp.THRESHOLD_SHIFT)


@dataclass(frozen=True)
class Limits:
    """Per-core and per-chip limits; ``None`` where the value is not published / not applicable."""

    neurons_per_core: Optional[int]
    synapse_memory_bits_per_core: Optional[int]
    fan_in_per_core: Optional[int]
    fan_out_per_core: Optional[int]
    cores_per_chip: Optional[int]


@dataclass(frozen=True)
class NeuronSupport:
    resets: tuple[str, ...]
    source: str


@dataclass(frozen=True)
class EnergyConstant:
    """pJ per operation: ``low``..``high`` (equal for a single value) with the citations."""

    low: float
    high: float
    sources: tuple[str, ...]


@dataclass(frozen=True)
class SramPoint:
    bytes: int
    pj_per_64bit: float
    source: str


@dataclass(frozen=True)
class EnergySpec:
    estimate: bool
    word_bits: int
    ops: dict[str, EnergyConstant]
    notes: str = ""
    sram: tuple[SramPoint, ...] = ()
    calibration: str = ""   # how the constants compare with a chip's measured energy (docs/energy-calibration.md)


@dataclass(frozen=True)
class HardwareProfile:
    name: str
    description: str
    kind: str
    references: dict[str, str]
    formats: Optional[NumberFormats]
    limits: Optional[Limits]
    neuron_models: dict[str, NeuronSupport]
    energy: EnergySpec
    sources: dict[str, str] = field(default_factory=dict)   #: "section.key" -> citation, every number
    path: Optional[str] = None

    @property
    def quantizable(self) -> bool:
        """Whether ``convert`` can quantize for it (it has Loihi-style number formats)."""
        return self.formats is not None

    def supports(self, model: str, reset: str = "subtract") -> bool:
        s = self.neuron_models.get(model)
        return s is not None and reset in s.resets


def bundled_profile_dir() -> Path:
    """The folder of the bundled profiles, in a checkout (``hw_profiles/``) as in an installed copy."""
    return Path(str(importlib.resources.files(BUNDLED_PACKAGE)))


def profile_path(name: str) -> Path:
    return bundled_profile_dir() / f"{name}.json"


def list_profiles() -> list[str]:
    """Names of the bundled profiles (``hw_profiles/*.json``)."""
    return sorted(p.stem for p in bundled_profile_dir().glob("*.json"))


def load_profile(name_or_path: Union[str, Path]) -> HardwareProfile:
    """Load a bundled profile by name (``loihi2``) or any profile file by path; validate its schema."""
    text = str(name_or_path)
    path = Path(text)
    if not (text.endswith(".json") or path.exists()):
        path = profile_path(text)
        if not path.exists():
            raise UsageError(f"unknown hardware profile {text!r}; bundled profiles: {', '.join(list_profiles())} "
                                 "(or give the path of a profile .json file)")
    if not path.exists():
        raise SnnDeployError(f"{path}: no such hardware profile file")
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise FormatError(f"{path}: not a readable JSON hardware profile ({exc})") from None
    return profile_from_dict(data, source=str(path))


def profile_from_dict(data: Mapping[str, Any], source: str = "<profile>") -> HardwareProfile:
    """Validate and build a profile; every problem is a FormatError naming ``source`` and the key."""
    v = _Validator(source)
    v.keys(data, "", TOP_KEYS, ())
    if data["format"] != FORMAT_TAG:
        v.fail("format", f"is {data['format']!r}, expected {FORMAT_TAG!r}")
    if data["version"] != FORMAT_VERSION:
        v.fail("version", f"{data['version']!r} is not supported (this snn-deploy reads version {FORMAT_VERSION})")
    name = v.typed(data["name"], str, "name")
    kind = v.typed(data["kind"], str, "kind")
    if kind not in KINDS:
        v.fail("kind", f"{kind!r} is not one of {KINDS}")
    refs = v.typed(data["references"], dict, "references")
    for k, text in refs.items():
        v.typed(text, str, f"references.{k}")
    v.refs = refs

    formats = None
    if data["formats"] is not None:
        names = [f for f in NumberFormats.__dataclass_fields__]
        vals = v.valued_section(data["formats"], "formats", names, allow_null=False)
        formats = NumberFormats(**vals)
        if formats.weight_exp_min > formats.weight_exp_max:
            v.fail("formats.weight_exp_min", "is larger than formats.weight_exp_max")
        implemented = implemented_formats()
        for n in names:
            if getattr(formats, n) != getattr(implemented, n):
                v.fail(f"formats.{n}", f"is {getattr(formats, n)}, but fixed point (convert/fixed_point.py) implements "
                                       f"{getattr(implemented, n)}; a profile states the formats of this arithmetic")
    limits = None
    if data["limits"] is not None:
        names = [f for f in Limits.__dataclass_fields__]
        limits = Limits(**v.valued_section(data["limits"], "limits", names, allow_null=True))

    models: dict[str, NeuronSupport] = {}
    for model, spec in v.typed(data["neuron_models"], dict, "neuron_models").items():
        where = f"neuron_models.{model}"
        if model not in catalogue.model_names():
            v.fail(where, f"unknown neuron model; known: {list(catalogue.model_names())}")
        v.keys(spec, where, ("resets", "source"), ())
        resets = tuple(v.typed(spec["resets"], list, f"{where}.resets"))
        bad = [r for r in resets if r not in RESETS]
        if bad or not resets:
            v.fail(f"{where}.resets", f"must be a non-empty subset of {RESETS}, got {list(resets)}")
        models[model] = NeuronSupport(resets, v.ref(spec["source"], f"{where}.source"))
        v.sources[where] = models[model].source

    energy = v.energy(data["energy"])
    return HardwareProfile(name=name, description=v.typed(data["description"], str, "description"), kind=kind,
                           references=dict(refs), formats=formats, limits=limits, neuron_models=models,
                           energy=energy, sources=v.sources, path=source)


class _Validator:
    def __init__(self, source: str) -> None:
        self.source = source
        self.refs: dict[str, str] = {}
        self.sources: dict[str, str] = {}

    def fail(self, key: str, msg: str) -> None:
        raise FormatError(f"{self.source}: key {key!r} {msg}")

    def keys(self, data: Any, where: str, required: tuple[str, ...], optional: tuple[str, ...]) -> None:
        if not isinstance(data, dict):
            self.fail(where or "<top>", f"must be an object, got {type(data).__name__}")
        prefix = f"{where}." if where else ""
        unknown = sorted(set(data) - set(required) - set(optional))
        if unknown:
            self.fail(prefix + unknown[0], f"is unknown here; allowed keys: {sorted(required + optional)}")
        for k in required:
            if k not in data:
                self.fail(prefix + k, "is missing")

    def typed(self, value: Any, typ: type, key: str) -> Any:
        ok = isinstance(value, typ) and not (typ in (int, float) and isinstance(value, bool))
        if typ is float and isinstance(value, int) and not isinstance(value, bool):
            ok = True
        if not ok:
            self.fail(key, f"must be of type {typ.__name__}, got {type(value).__name__} {value!r}")
        return value

    def ref(self, key: Any, where: str) -> str:
        self.typed(key, str, where)
        if key not in self.refs:
            self.fail(where, f"cites {key!r}, which is not in 'references' ({sorted(self.refs)})")
        return self.refs[key]

    def valued_section(self, data: Any, where: str, names: list[str], allow_null: bool) -> dict[str, Any]:
        self.keys(data, where, tuple(names), ())
        out: dict[str, Any] = {}
        for n in names:
            key = f"{where}.{n}"
            self.keys(data[n], key, ("value", "source"), ())
            value = data[n]["value"]
            if value is None and allow_null:
                out[n] = None
            else:
                out[n] = self.typed(value, int, f"{key}.value")
            self.sources[key] = self.ref(data[n]["source"], f"{key}.source")
        return out

    def energy(self, data: Any) -> EnergySpec:
        self.keys(data, "energy", ENERGY_KEYS_REQUIRED, ENERGY_KEYS_OPTIONAL)
        ops: dict[str, EnergyConstant] = {}
        for kind, spec in self.typed(data["ops"], dict, "energy.ops").items():
            ops[kind] = self.constant(spec, f"energy.ops.{kind}")
        if not ops:
            self.fail("energy.ops", "must price at least one operation")
        sram = []
        for i, pt in enumerate(data.get("sram", [])):
            key = f"energy.sram[{i}]"
            self.keys(pt, key, ("bytes", "pj_per_64bit", "source"), ())
            src = self.ref(pt["source"], f"{key}.source")
            sram.append(SramPoint(self.typed(pt["bytes"], int, f"{key}.bytes"),
                                  float(self.typed(pt["pj_per_64bit"], float, f"{key}.pj_per_64bit")), src))
            self.sources[key] = src
        return EnergySpec(estimate=self.typed(data["estimate"], bool, "energy.estimate"),
                          word_bits=self.typed(data["word_bits"], int, "energy.word_bits"), ops=ops,
                          notes=self.typed(data.get("notes", ""), str, "energy.notes"), sram=tuple(sram),
                          calibration=self.typed(data.get("calibration", ""), str, "energy.calibration"))

    def constant(self, spec: Any, key: str) -> EnergyConstant:
        if not isinstance(spec, dict):
            self.fail(key, "must be an object")
        if "values" in spec:
            self.keys(spec, key, ("values",), ())
            items = self.typed(spec["values"], list, f"{key}.values")
            if not items:
                self.fail(f"{key}.values", "must not be empty")
            pjs, srcs = [], []
            for i, it in enumerate(items):
                self.keys(it, f"{key}.values[{i}]", ("value", "source"), ())
                pjs.append(float(self.typed(it["value"], float, f"{key}.values[{i}].value")))
                srcs.append(self.ref(it["source"], f"{key}.values[{i}].source"))
            low, high = min(pjs), max(pjs)
        elif "min" in spec or "max" in spec:
            self.keys(spec, key, ("min", "max", "source"), ())
            low = float(self.typed(spec["min"], float, f"{key}.min"))
            high = float(self.typed(spec["max"], float, f"{key}.max"))
            srcs = [self.ref(spec["source"], f"{key}.source")]
        else:
            self.keys(spec, key, ("value", "source"), ())
            low = high = float(self.typed(spec["value"], float, f"{key}.value"))
            srcs = [self.ref(spec["source"], f"{key}.source")]
        if not 0 <= low <= high:
            self.fail(key, f"needs 0 <= min <= max pJ, got {low}..{high}")
        self.sources[key] = "; ".join(dict.fromkeys(srcs))
        return EnergyConstant(low, high, tuple(dict.fromkeys(srcs)))
