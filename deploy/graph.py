"""Build the Lava process graph of a fixed IR (the one module that assembles Lava processes).

One Lava process per IR node: the input is a ``StepSource``; each dense a Lava ``Dense`` (or
``Sparse``); each population Lava's own ``LIF`` where it expresses the model exactly (``plan.
uses_lava_lif``), else our ``FixedNeurons``/``GatedNeurons``. Recurrent denses loop a population's
output back to its own input, so they deliver ``s[t-1]``.

Samples run one after the other in windows of ``window`` steps within one Lava run. Our processes
restart every window from zero state; Lava's LIF and the denses that feed it are zeroed at the end
of every window by Lava's own ``Reset`` processes (``lava.proc.io.reset``, in the post-management
phase, so the next window starts from zero current, voltage and dense buffers).

Pipeline reset (the emulator's, ``Network.reset_steps``): every population is zeroed again
after step ``depth - 1`` of each window (the end of its lead-in, when it has integrated only its
bias), together with the accumulation buffers of its recurrent denses. Our processes zero their own
state (``reset_after``); Lava's LIF gets a ``Reset(interval=window, offset=depth - 1)`` on ``u`` and
``v``, and every recurrent dense (whatever its target) one on ``a_buff``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from lava.magma.core.process.process import AbstractProcess
from lava.proc.dense.process import Dense
from lava.proc.io.reset import Reset
from lava.proc.lif.process import LIF
from lava.proc.sparse.process import Sparse
from lava.utils.weightutils import SignMode
from scipy.sparse import csr_matrix

from snn_deploy.deploy import plan
from snn_deploy.deploy.recordings import Recording, recordings_for
from snn_deploy.deploy.lava_procs.process import FixedNeurons, GatedNeurons, Recorder, StepSource
from snn_deploy.ir import Network, NeuronNode

@dataclass
class LavaGraph:
    """The built graph: every Lava process by IR node name, plus recorders and resets."""

    processes: dict[str, AbstractProcess]
    recordings: list[Recording]
    helpers: list[AbstractProcess] = field(default_factory=list)
    kinds: dict[str, str] = field(default_factory=dict)

    @property
    def root(self) -> AbstractProcess:
        """Any process of the (connected) graph: running or stopping it runs or stops all of them."""
        return next(iter(self.processes.values()))

    @property
    def num_processes(self) -> int:
        return len(self.processes) + len(self.helpers)


def build_graph(net: Network, *, window: int, num_steps: int, input_path: Path, workdir: Path,
                input_max: Optional[int] = None, step_path: Optional[Path] = None) -> LavaGraph:
    """Create and connect the Lava processes of ``net`` (a fixed IR with one input).

    ``input_path`` holds the int32 input rows ``[num_steps, channels]`` (windows of ``window`` steps
    back to back); recordings are created in ``workdir``; the input source writes the time step it
    has reached into ``step_path`` when given (an int64 ``[1, 1]`` file: how far a failed run got).
    """
    plan.check_deployable(net)
    workdir = Path(workdir)
    inp = net.inputs()[0]
    procs: dict[str, AbstractProcess] = {
        inp.name: StepSource(size=inp.size, path=str(input_path), num_steps=num_steps,
                             step_path=str(step_path) if step_path is not None else "", name=inp.name)}
    recordings = recordings_for(net, workdir)
    helpers: list[AbstractProcess] = []
    kinds = plan.population_kinds(net)
    resets = net.reset_steps()
    for pop, rec in zip(net.neuron_nodes(), recordings):
        rec.create(num_steps)
        if kinds[pop.name] == "lava_lif":
            procs[pop.name] = _lava_lif(pop, rec, window, resets[pop.name], num_steps, helpers)
        else:
            cls = GatedNeurons if "gate" in pop.ports else FixedNeurons
            procs[pop.name] = cls(size=pop.size, model=pop.model, params=dict(pop.params), reset=pop.reset,
                                  window=window, reset_after=resets[pop.name], record_path=str(rec.path),
                                  num_steps=num_steps, name=pop.name)
    for dense in net.dense_nodes():
        syn = plan.synapse_plan(net, dense, input_max=input_max)
        proc = _synapse(syn)
        procs[dense.name] = proc
        procs[syn.source].s_out.connect(proc.s_in)
        target = procs[syn.target]
        proc.a_out.connect(target.gate if syn.port == "gate" else target.a_in)
        if kinds.get(syn.target) == "lava_lif":
            helpers.append(_reset(proc.a_buff, window, window - 1))
        if net.is_recurrent(dense.name):
            helpers.append(_reset(proc.a_buff, window, resets[syn.target]))
    return LavaGraph(processes=procs, recordings=recordings, helpers=helpers, kinds=kinds)


def _lava_lif(pop: NeuronNode, rec: Recording, window: int, reset_after: int, num_steps: int,
              helpers: list[AbstractProcess]) -> LIF:
    lif = LIF(name=pop.name, **plan.lava_lif_args(pop))
    recorder = Recorder(size=pop.size, path=str(rec.path), num_steps=num_steps, dtype=rec.dtype,
                        name=f"{pop.name}.recorder")
    lif.s_out.connect(recorder.a_in)
    helpers.append(recorder)
    for offset in (window - 1, reset_after):     # end of the window; end of the lead-in (pipeline reset)
        helpers.extend(_reset(var, window, offset) for var in (lif.u, lif.v))
    return lif


def _synapse(syn: plan.SynapsePlan) -> AbstractProcess:
    kwargs = dict(weight_exp=syn.weight_exp, num_weight_bits=plan.LAVA_EXACT_WEIGHT_BITS,
                  sign_mode=SignMode.MIXED, num_message_bits=syn.num_message_bits, name=syn.name)
    if syn.sparse:
        return Sparse(weights=csr_matrix(syn.weights), **kwargs)
    return Dense(weights=syn.weights, **kwargs)


def _reset(var, window: int, offset: int) -> Reset:
    """Lava's Reset zeroing ``var`` after step ``offset`` of every window (post-management phase)."""
    reset = Reset(reset_value=0, interval=window, offset=offset)
    reset.connect_var(var)
    return reset
