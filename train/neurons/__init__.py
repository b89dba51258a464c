"""Neuron models: one parameter record + one state record + one pure step function each.

``NEURON_MODELS`` maps the IR's model names (``snn_deploy.ir.NEURON_MODELS``) to their
:class:`~snn_deploy.train.neurons.base.NeuronModel` record; :func:`get_neuron_model` looks one up.

To add a neuron model (``tests/test_neurons.py::test_extension_adding_a_neuron_model_end_to_end``
does it): write a module here with a params dataclass, a state dataclass (all fields ``[B, N]``,
zero at start) and ``step(I, state, params, spike_fn) -> (out, new_state)``, with its trainable
parameters as ``ParamSpec``s; register its ``NeuronModel`` below; add its name (and the float
semantics) to ``snn_deploy/ir.py``; add a model name to ``train/config.py`` and ``SNN_ZOO`` in
``train/models.py``. Training (through autograd), export and the float IR runner then work as is;
the quantizer and the Lava/emulator back ends need its integer step.
"""
from __future__ import annotations

from snn_deploy.errors import SnnDeployError

from snn_deploy.train.neurons.adlif import ADLIF, AdLIFParams, AdLIFState, adlif_step
from snn_deploy.train.neurons.base import (A_RANGE, ALPHA_RANGE, B_RANGE, BETA_RANGE, THRESHOLD, UNIT_RANGE,
                                           NeuronModel, ParamSpec)
from snn_deploy.train.neurons.cuba_lif import CUBA_LIF, CubaLIFParams, CubaLIFState, cuba_lif_step
from snn_deploy.train.neurons.li import LI, LIParams, LIState, li_step
from snn_deploy.train.neurons.lif import LIF, LIFParams, LIFState, lif_step
from snn_deploy.train.neurons.mthr_lif import MTHR_LIF, MthrLIFParams, MthrLIFState, mthr_lif_step
from snn_deploy.train.neurons.spikgru import SPIKGRU, SpikGRUParams, SpikGRUState, spikgru_step

NEURON_MODELS: dict[str, NeuronModel] = {m.name: m for m in (LIF, ADLIF, MTHR_LIF, CUBA_LIF, SPIKGRU, LI)}


def get_neuron_model(name: str) -> NeuronModel:
    model = NEURON_MODELS.get(name)
    if model is None:
        raise SnnDeployError(f"unknown neuron model {name!r}; choose one of {', '.join(NEURON_MODELS)}")
    return model


__all__ = [
    "NEURON_MODELS", "NeuronModel", "ParamSpec", "get_neuron_model",
    "ALPHA_RANGE", "BETA_RANGE", "A_RANGE", "B_RANGE", "UNIT_RANGE", "THRESHOLD",
    "LIF", "LIFParams", "LIFState", "lif_step",
    "ADLIF", "AdLIFParams", "AdLIFState", "adlif_step",
    "MTHR_LIF", "MthrLIFParams", "MthrLIFState", "mthr_lif_step",
    "CUBA_LIF", "CubaLIFParams", "CubaLIFState", "cuba_lif_step",
    "SPIKGRU", "SpikGRUParams", "SpikGRUState", "spikgru_step",
    "LI", "LIParams", "LIState", "li_step",
]
