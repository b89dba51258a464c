"""Float neuron steps: one parameter record + one state record + one pure step function per model.

``NEURON_MODELS`` maps the catalogue's model names (``snn_deploy.catalogue``) to their
:class:`~snn_deploy.train.neurons.base.NeuronModel` record; :func:`get_neuron_model` looks one up.

To add a neuron model (``tests/test_catalogue.py::test_extension_adding_a_neuron_model_end_to_end``
does it): its catalogue entry (``snn_deploy.catalogue.register_model``: parameters with ranges, state,
ports, zoo variants, ...); here a params dataclass, a state dataclass (all fields ``[B, N]``, zero at
start) and ``step(I, state, params, spike_fn) -> (out, new_state)``, registered with
:func:`register_neuron_model`; and its integer step (``convert.fixed_neurons.register_neuron_model``).
Training (through autograd), export and the float IR runner then work as is.
"""
from __future__ import annotations

import dataclasses

from snn_deploy.catalogue import get_model_entry
from snn_deploy.errors import SnnDeployError

from snn_deploy.train.neurons.adlif import ADLIF, AdLIFParams, AdLIFState, adlif_step
from snn_deploy.train.neurons.base import (A_RANGE, ALPHA_RANGE, B_RANGE, BETA_RANGE, THRESHOLD, UNIT_RANGE,
                                           NeuronModel, ParamSpec)
from snn_deploy.train.neurons.cuba_lif import CUBA_LIF, CubaLIFParams, CubaLIFState, cuba_lif_step
from snn_deploy.train.neurons.li import LI, LIParams, LIState, li_step
from snn_deploy.train.neurons.lif import LIF, LIFParams, LIFState, lif_step
from snn_deploy.train.neurons.mthr_lif import MTHR_LIF, MthrLIFParams, MthrLIFState, mthr_lif_step
from snn_deploy.train.neurons.spikgru import SPIKGRU, SpikGRUParams, SpikGRUState, spikgru_step

NEURON_MODELS: dict[str, NeuronModel] = {}


def register_neuron_model(model: NeuronModel) -> NeuronModel:
    """Register the float step of the catalogue entry ``model.name``; ValueError when the name is taken or
    the records do not carry the entry's parameters and state variables."""
    entry = get_model_entry(model.name)
    if model.name in NEURON_MODELS:
        raise ValueError(f"neuron model {model.name!r} already has a float step")
    fields = {f.name for f in dataclasses.fields(model.params_cls)}
    state = tuple(f.name for f in dataclasses.fields(model.state_cls))
    if not set(entry.param_names) <= fields or set(state) != set(entry.state):
        raise ValueError(f"neuron model {model.name!r}: records {model.params_cls.__name__} ({sorted(fields)}) and "
                         f"{model.state_cls.__name__} ({list(state)}) must carry the catalogue's parameters "
                         f"{list(entry.param_names)} and state {list(entry.state)}")
    NEURON_MODELS[model.name] = model
    return model


def unregister_neuron_model(name: str) -> None:
    NEURON_MODELS.pop(name, None)


for _model in (LIF, ADLIF, MTHR_LIF, CUBA_LIF, SPIKGRU, LI):
    register_neuron_model(_model)


def get_neuron_model(name: str) -> NeuronModel:
    model = NEURON_MODELS.get(name)
    if model is None:
        raise SnnDeployError(f"unknown neuron model {name!r}; choose one of {', '.join(NEURON_MODELS)}")
    return model


__all__ = [
    "NEURON_MODELS", "NeuronModel", "ParamSpec", "get_neuron_model", "register_neuron_model",
    "unregister_neuron_model",
    "ALPHA_RANGE", "BETA_RANGE", "A_RANGE", "B_RANGE", "UNIT_RANGE", "THRESHOLD",
    "LIF", "LIFParams", "LIFState", "lif_step",
    "ADLIF", "AdLIFParams", "AdLIFState", "adlif_step",
    "MTHR_LIF", "MthrLIFParams", "MthrLIFState", "mthr_lif_step",
    "CUBA_LIF", "CubaLIFParams", "CubaLIFState", "cuba_lif_step",
    "SPIKGRU", "SpikGRUParams", "SpikGRUState", "spikgru_step",
    "LI", "LIParams", "LIState", "li_step",
]
