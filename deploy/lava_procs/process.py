"""Lava Processes for what Lava's standard library cannot express (see DESIGN.md section 4).

- ``StepSource``  sends one row of a memory-mapped ``[num_steps, C]`` int32 file per time step:
  the input spikes (or graded values) of every sample, one window after the other.
- ``Recorder``    writes what it receives at each step into a memory-mapped ``[num_steps, N]`` file
  (used to record Lava's own LIF populations without Var.get(), which moves one value per message).
- ``FixedNeurons`` / ``GatedNeurons``: a population of one fixed-point neuron model of the IR
  (lif, adlif, cuba_lif, li; spikgru has a second input port, ``gate``). Their ProcessModels run
  the integer step functions of ``snn_deploy.convert`` (the same code as the emulator), start every
  window of ``window`` steps from the zero state, return to it after the window's step
  ``reset_after`` (the emulator's pipeline reset), and record their own output per step.

Files, not Lava Vars, carry inputs and recordings: Var.get()/set() move one value per message, far
too slow for rasters; a memory-mapped file costs nothing per step.
"""
from __future__ import annotations

from typing import Any, Optional

from lava.magma.core.process.ports.ports import InPort, OutPort
from lava.magma.core.process.process import AbstractProcess


class StepSource(AbstractProcess):
    """Send row ``t - 1`` of the int32 array in ``path`` (``[num_steps, size]``) at time step ``t``;
    write ``t`` into the int64 ``[1, 1]`` file ``step_path`` (if not empty): how far the run got."""

    def __init__(self, *, size: int, path: str, num_steps: int, step_path: str = "",
                 name: Optional[str] = None) -> None:
        super().__init__(size=size, path=path, num_steps=num_steps, step_path=step_path, name=name)
        self.s_out = OutPort(shape=(size,))


class Recorder(AbstractProcess):
    """Write the vector received at time step ``t`` into row ``t - 1`` of ``path`` (``[num_steps, size]``)."""

    def __init__(self, *, size: int, path: str, num_steps: int, dtype: str = "uint8",
                 name: Optional[str] = None) -> None:
        super().__init__(size=size, path=path, num_steps=num_steps, dtype=dtype, name=name)
        self.a_in = InPort(shape=(size,))


class FixedNeurons(AbstractProcess):
    """A population of ``size`` neurons of the fixed-point IR model ``model`` with one input port.

    ``params`` are the population's integer parameters as in the fixed IR, ``reset`` its reset rule;
    every ``window`` steps the state returns to zero (one sample per window), and again after step
    ``reset_after`` of each window (the pipeline reset after the lead-in: ``convert.emulator.
    reset_steps``, the population's hop depth - 1). The output of each step
    (spikes, or the potential of a non-spiking readout) is sent on ``s_out`` and written into row
    ``t - 1`` of ``record_path`` (``[num_steps, size]``).
    """

    def __init__(self, *, size: int, model: str, params: dict[str, Any], reset: str, window: int,
                 reset_after: int, record_path: str, num_steps: int, name: Optional[str] = None) -> None:
        super().__init__(size=size, model=model, params=params, reset=reset, window=window,
                         reset_after=int(reset_after), record_path=record_path, num_steps=num_steps, name=name)
        self.a_in = InPort(shape=(size,))
        self.s_out = OutPort(shape=(size,))


class GatedNeurons(FixedNeurons):
    """``FixedNeurons`` with a second input port ``gate`` (SpikGRU's update gate)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.gate = InPort(shape=(kwargs["size"],))
