"""Fixed-point PyLoihiProcessModels (tag ``fixed_pt``) of the Processes in ``process.py``.

Import-safe (Lava's compiler executes this file by path): absolute imports only, no side effects.

None of these models raises inside Lava: lava-nc 0.10 can hang for good when a process model
raises. A failure is written to ``error-<process>.txt`` next to the process's file (the run's
working directory) and the model keeps stepping with zero output; the runner checks for such files
after every chunk of steps and stops the run with the message.
"""
from __future__ import annotations

import os
import traceback
from typing import Optional

import numpy as np

from lava.magma.core.decorator import implements, requires, tag
from lava.magma.core.model.py.model import PyLoihiProcessModel
from lava.magma.core.model.py.ports import PyInPort, PyOutPort
from lava.magma.core.model.py.type import LavaPyType
from lava.magma.core.resources import CPU
from lava.magma.core.sync.protocols.loihi_protocol import LoihiProtocol

from snn_deploy.convert.fixed_neurons import get_neuron_model
from snn_deploy.deploy.lava_procs.process import FixedNeurons, GatedNeurons, Recorder, StepSource
from snn_deploy.deploy.recordings import POTENTIAL_DTYPE, SPIKE_DTYPE, open_rows


class _Guarded(PyLoihiProcessModel):
    """Base of our models: each step receives (``receive``), then computes and sends (``compute``)
    under a guard; after a failure the model keeps receiving and sends zeros (``send_zeros``)."""

    FILE_PARAM = "path"        #: the proc param naming this process's file (its folder gets the error)
    OUT_PORT: Optional[str] = None

    def __init__(self, proc_params) -> None:
        super().__init__(proc_params)
        self._failed = False
        self._error_at_start: Optional[str] = None
        try:
            self.setup()
        except Exception:  # reported at the first step, from inside the run
            self._error_at_start = traceback.format_exc()

    def setup(self) -> None:
        """Prepare state from ``proc_params`` (runs in the Lava worker process)."""

    def receive(self) -> list[np.ndarray]:
        return []

    def compute(self, received: list[np.ndarray]) -> None:
        """Compute this step from the received vectors; send the output last."""
        raise NotImplementedError

    def send_zeros(self) -> None:
        if self.OUT_PORT:
            getattr(self, self.OUT_PORT).send(np.zeros(self.proc_params["size"], np.int32))

    def run_spk(self) -> None:
        received = self.receive()
        if self._error_at_start is not None:
            self._fail(self._error_at_start)
            self._error_at_start = None
        if not self._failed:
            try:
                self.compute(received)
                return
            except Exception:
                self._fail(traceback.format_exc())
        self.send_zeros()

    def _fail(self, text: str) -> None:
        self._failed = True
        name = self.proc_params.get("name") or type(self).__name__
        folder = os.path.dirname(str(self.proc_params[self.FILE_PARAM]))
        try:
            with open(os.path.join(folder, f"error-{name}.txt"), "w") as f:
                f.write(f"process {name!r} at time step {self.time_step}:\n{text}")
        except OSError:
            pass  # the working directory is gone: the run is being torn down anyway


@implements(proc=StepSource, protocol=LoihiProtocol)
@requires(CPU)
@tag("fixed_pt")
class PyStepSourceFixed(_Guarded):
    s_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, np.int32, precision=24)
    OUT_PORT = "s_out"

    def setup(self) -> None:
        p = self.proc_params
        self._rows = open_rows(p["path"], p["num_steps"], p["size"], "int32", "r")
        self._step = open_rows(p["step_path"], 1, 1, "int64", "r+") if p.get("step_path") else None

    def compute(self, received: list[np.ndarray]) -> None:
        if self._step is not None:
            self._step[0, 0] = self.time_step
        row = self.time_step - 1
        if row >= self._rows.shape[0]:
            raise IndexError(f"time step {self.time_step} beyond the {self._rows.shape[0]} input rows")
        self.s_out.send(np.asarray(self._rows[row], dtype=np.int32))


@implements(proc=Recorder, protocol=LoihiProtocol)
@requires(CPU)
@tag("fixed_pt")
class PyRecorderFixed(_Guarded):
    a_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, np.int32, precision=24)

    def setup(self) -> None:
        p = self.proc_params
        self._rows = open_rows(p["path"], p["num_steps"], p["size"], p["dtype"], "r+")

    def receive(self) -> list[np.ndarray]:
        return [self.a_in.recv()]

    def compute(self, received: list[np.ndarray]) -> None:
        self._rows[self.time_step - 1] = received[0]


class _AbstractFixedNeuronsModel(_Guarded):
    """Runs ``convert.fixed_neurons`` (the emulator's integer steps) once per time step.

    Window semantics (one sample per ``window`` steps): at the first step of every window the state
    is the model's zero state and the dense outputs received are discarded, because every dense of a
    fresh sample delivers its initial, empty buffer at that step (as in the emulator). Otherwise the
    received values are what the Lava synapses accumulated at the previous step.

    Pipeline reset (``Network.reset_steps``): after its step ``reset_after`` of every
    window (the last step of its lead-in, ``depth - 1``) the state returns to zero again; the output
    of that step is still sent and recorded. The buffers of the recurrent denses feeding this
    population are zeroed at the same step by Lava ``Reset`` processes (``deploy.graph``): the
    population cannot tell them apart from its feed-forward input, which it sums on the same port.
    """

    s_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, np.int32, precision=24)
    IN_PORTS: tuple[str, ...] = ("a_in",)
    FILE_PARAM = "record_path"
    OUT_PORT = "s_out"

    def setup(self) -> None:
        p = self.proc_params
        self._model = get_neuron_model(p["model"])
        if len(self._model.ports) != len(self.IN_PORTS):
            raise ValueError(f"model {p['model']} reads ports {self._model.ports}, this process has {self.IN_PORTS}")
        self._params = self._model.make_params(p["params"], p["size"], reset=p["reset"],
                                               where=f"Lava process {p.get('name')!r}")
        self._window = int(p["window"])
        self._reset_after = int(p["reset_after"])
        if not 0 <= self._reset_after < self._window:
            raise ValueError(f"reset_after {self._reset_after} is not a step of the window of {self._window} steps")
        self._state = self._model.initial_state(p["size"])
        dtype = SPIKE_DTYPE if self._model.spiking else POTENTIAL_DTYPE
        self._rows = open_rows(p["record_path"], p["num_steps"], p["size"], dtype, "r+")

    def receive(self) -> list[np.ndarray]:
        return [getattr(self, port).recv() for port in self.IN_PORTS]

    def compute(self, received: list[np.ndarray]) -> None:
        size = self.proc_params["size"]
        if (self.time_step - 1) % self._window == 0:
            self._state = self._model.initial_state(size)
            received = [np.zeros(size, np.int64) for _ in received]
        inputs = {port: np.asarray(a, dtype=np.int64) for port, a in zip(self._model.ports, received)}
        out, self._state = self._model.apply(inputs, self._state, self._params)
        if (self.time_step - 1) % self._window == self._reset_after:   # pipeline reset, after the step
            self._state = self._model.initial_state(size)
        self._rows[self.time_step - 1] = out
        self.s_out.send(out.astype(np.int32))


@implements(proc=FixedNeurons, protocol=LoihiProtocol)
@requires(CPU)
@tag("fixed_pt")
class PyFixedNeuronsModel(_AbstractFixedNeuronsModel):
    a_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, np.int32, precision=24)


@implements(proc=GatedNeurons, protocol=LoihiProtocol)
@requires(CPU)
@tag("fixed_pt")
class PyGatedNeuronsModel(_AbstractFixedNeuronsModel):
    a_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, np.int32, precision=24)
    gate: PyInPort = LavaPyType(PyInPort.VEC_DENSE, np.int32, precision=24)
    IN_PORTS = ("a_in", "gate")
