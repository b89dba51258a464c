"""snn-deploy: surrogate-gradient SNN training -> Loihi fixed point -> bit-accurate Lava run -> energy.

The four stages are the top-level folders ``train/ convert/ deploy/ energy/``, importable as
``snn_deploy.train`` etc. Data flows one way; no stage imports a later one. Shared definitions
(the network IR, the activity file, errors, atomic file writing) live in this package.

The Python API (every ``snn-deploy`` command is a thin layer over it; objects chain in memory)::

    import snn_deploy as sd
    trained = sd.train("data/digits", model="radlif", epochs=5)       # -> train.api.TrainedModel
    conv = sd.convert(trained, target="loihi-emu", data="data/digits")  # -> convert.pipeline.Conversion
    activity = sd.run(conv, data="data/digits", backend="emulator")      # -> activity.Activity
    report = sd.energy(conv, activity, baselines=["gru"])               # -> energy.report.EnergyReport
    report.write("energy_out")                                          # energy.md, energy.json, plots

``sd.train``, ``sd.convert`` and ``sd.energy`` are the stage packages themselves, made callable
(``snn_deploy/stage.py``), so ``sd.train.checkpoint`` and friends keep working. Importing this
package imports neither torch nor Lava; each function imports what it needs when called.
"""
from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_STAGES = ("train", "convert", "deploy", "energy")


def run(network: Any, inputs: Any = None, **options: Any):
    """Run a fixed network on the emulator or Lava and return its ``Activity`` in memory.

    See ``snn_deploy.deploy.simulate.run`` for the arguments (inputs array or ``data=`` directory,
    ``backend="emulator" | "lava"``, ``limit``, ``verify``, ...).
    """
    from snn_deploy.deploy.simulate import run as run_network

    return run_network(network, inputs, **options)


def __getattr__(name: str) -> Any:
    """``sd.train`` etc. without importing every stage at ``import snn_deploy`` (PEP 562)."""
    if name in _STAGES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(list(globals()) + list(_STAGES))
