"""The neuron-model catalogue (snn_deploy/catalogue.py): every stage covers every entry, IR parameters are
typed against it, and a new model added through the public registration points alone (one catalogue
entry, a float step, an integer step) goes through train, quantize, emulate, Lava and energy."""
import dataclasses
import json
from dataclasses import dataclass

import h5py
import numpy as np
import pytest
import torch

from snn_deploy import catalogue
from snn_deploy.convert import fixed_neurons
from snn_deploy.convert import fixed_point as fp
from snn_deploy.convert.profiles import list_profiles, load_profile, profile_path
from snn_deploy.errors import FormatError
from snn_deploy.ir import DenseNode, Edge, GraphError, InputNode, Network, NeuronNode, load_network, save_network
from snn_deploy.train import neurons


def test_every_stage_covers_every_catalogue_model():
    from snn_deploy.convert.export_nir import _NEURON_EXPORTERS
    from snn_deploy.train.config import ModelConfig, snn_models
    from snn_deploy.train.models import build_model

    names = catalogue.model_names()
    assert set(names) == {"lif", "adlif", "mthr_lif", "cuba_lif", "spikgru", "li"}
    for entry in catalogue.entries():
        float_model = neurons.get_neuron_model(entry.name)                     # train: float step
        fixed_model = fixed_neurons.get_neuron_model(entry.name)               # convert/deploy: integer step
        assert {f.name for f in dataclasses.fields(float_model.state_cls)} == set(entry.state)
        assert set(fixed_model.param_names) == set(entry.fixed_params)
        assert (fixed_model.ports, fixed_model.spiking) == (entry.ports, entry.spiking)
        assert entry.arith.mac >= 1 and entry.update                          # energy: arithmetic, equations
        assert (entry.name in _NEURON_EXPORTERS) != bool(entry.not_in_nir)    # NIR: a mapping or a reason
        if entry.input_factor:
            assert entry.input_factor in entry.param_names
    assert set(snn_models()) == {"lif", "rlif", "adlif", "radlif", "mthr_lif", "cuba_lif", "spikgru"}
    for model in snn_models():
        build_model(ModelConfig(model=model, input_size=3, num_classes=2, layers=2, hidden=2))
    for name in list_profiles():                                           # profiles name catalogue models
        assert set(load_profile(name).neuron_models) <= set(names)


# ---- typed IR parameters ------------------------------------------------------------------------

def _lif_net(params, precision=None):
    return Network([InputNode("in", 2), DenseNode("fc", np.ones((3, 2))), NeuronNode("h", "lif", 3, params=params)],
                   [Edge("in", "fc"), Edge("fc", "h")], precision=precision)


def test_a_misspelt_parameter_is_refused_when_the_node_is_built():
    with pytest.raises(GraphError, match=r"neurons 'h': parameters \['alhpa', 'threshold'\] are neither"):
        NeuronNode("h", "lif", 3, params={"alhpa": np.full(3, 0.9), "threshold": 1.0})


def test_validate_checks_the_exact_parameter_set_of_the_networks_kind():
    _lif_net({"alpha": np.full(3, 0.9)}).validate()           # threshold has a default (1.0)
    with pytest.raises(GraphError, match=r"neurons 'h': float parameters \[\] .*missing \['alpha'\]"):
        _lif_net({}).validate()
    from snn_deploy.ir import Precision
    with pytest.raises(GraphError, match=r"neurons 'h': fixed parameters \['alpha'\] do not match"):
        _lif_net({"alpha": np.full(3, 0.9)}, Precision("loihi2", "test")).validate()
    with pytest.raises(GraphError, match=r"parameter 'alpha' must be a scalar or have 3 values"):
        _lif_net({"alpha": np.full(2, 0.9)}).validate()


def test_a_misspelt_parameter_in_a_file_is_a_format_error_naming_file_node_and_key(tmp_path):
    path = save_network(_lif_net({"alpha": np.full(3, 0.9), "threshold": np.ones(3)}).validate(), tmp_path / "n.h5")
    with h5py.File(path, "r+") as f:
        for g in f["nodes"].values():
            if json.loads(g.attrs["name"]) == "h":
                g["params"].move("alpha", "alhpa")
    with pytest.raises(FormatError, match=r"n\.h5: inconsistent network: neurons 'h': .*'alhpa'"):
        load_network(path)


# ---- number formats ------------------------------------------------------------------------------

@pytest.mark.parametrize("field, value", [("state_bits", 16), ("decay_bits", 8), ("weight_bits", 6)])
def test_a_profile_whose_formats_fixed_point_does_not_implement_is_refused(tmp_path, field, value):
    data = json.loads(profile_path("loihi2").read_text())
    data["formats"][field]["value"] = value
    path = tmp_path / "narrow.json"
    path.write_text(json.dumps(data))
    with pytest.raises(FormatError, match=rf"narrow\.json: key 'formats\.{field}' is {value}, but fixed point "
                                          rf".* implements {getattr(fp, field.upper())}"):
        load_profile(path)


# ---- a new model through the public registration points only ------------------------------------

LIFZ = catalogue.NeuronModelEntry(
    name="lifz",
    update="u = α u (1 - s_) + (1-α) I; s = H(u - ϑ)",
    notes="LIF with reset to zero: the extension example of tests/test_catalogue.py.",
    params=(catalogue.ParamSpec("alpha", catalogue.ALPHA_RANGE, catalogue.ALPHA_RANGE, decay=True),
            catalogue.THRESHOLD_PARAM),
    fixed_params=("dv", "vth", "bias_mant", "bias_exp"),
    state=("u", "s"),
    arith=catalogue.NeuronArith(mac=1, ac=0, ac_per_spike=0, nonlinear=0),
    resets=("subtract",),
    input_factor="alpha",
    variants=(("lifz", False), ("rlifz", True)),
    not_in_nir="test model",
)


@dataclass
class LIFZParams:
    alpha: torch.Tensor
    threshold: float = 1.0


@dataclass
class LIFZState:
    u: torch.Tensor
    s: torch.Tensor


def lifz_step(I, state, p, spike_fn):
    u = torch.lerp(I, state.u * (1.0 - state.s), p.alpha)      # α u (1 - s_) + (1-α) I
    s = spike_fn(u - p.threshold)
    return s, LIFZState(u=u, s=s)


@dataclass(frozen=True)
class LIFZFixedParams:
    dv: np.ndarray
    vth: np.ndarray
    bias_mant: np.ndarray
    bias_exp: np.ndarray


@dataclass(frozen=True)
class LIFZFixedState:
    v: np.ndarray
    s: np.ndarray


def lifz_fixed_step(a_in, state, p):
    vth = fp.threshold(p.vth)
    v = fp.decay(state.v * (1 - state.s), p.dv) + fp.activation(a_in) + fp.scale_bias(p.bias_mant, p.bias_exp)
    v = fp.saturate(v)
    s = fp.spikes(v, vth)
    return s, LIFZFixedState(v=v, s=s)


def lifz_from_float(pop, lam, bias, notes):
    dv, clipped = fixed_neurons.decay_register(fixed_neurons.per_neuron(pop, "alpha"), 0, fp.DECAY_UNITY)
    return fixed_neurons.FromFloat({"dv": dv}, {"decay_clipped": clipped}, bias)


@pytest.fixture
def lifz():
    catalogue.register_model(LIFZ)
    try:
        neurons.register_neuron_model(neurons.NeuronModel("lifz", LIFZParams, LIFZState, lifz_step))
        fixed_neurons.register_neuron_model(fixed_neurons.FixedNeuronModel(
            "lifz", LIFZFixedParams, LIFZFixedState, lifz_fixed_step, lifz_from_float, saturating=("v",)))
        yield
    finally:
        fixed_neurons.unregister_neuron_model("lifz")
        neurons.unregister_neuron_model("lifz")
        catalogue.unregister_model("lifz")


def test_registration_refuses_taken_names_and_records_that_do_not_match_the_entry():
    with pytest.raises(ValueError, match="'lif' is already in the catalogue"):
        catalogue.register_model(dataclasses.replace(LIFZ, name="lif"))
    with pytest.raises(ValueError, match="variant 'rlif' is already model 'lif'"):
        catalogue.register_model(dataclasses.replace(LIFZ, variants=(("rlif", True),)))
    assert "lifz" not in catalogue.model_names()
    catalogue.register_model(LIFZ)
    try:
        with pytest.raises(ValueError, match="must carry the catalogue's parameters"):
            neurons.register_neuron_model(neurons.NeuronModel("lifz", LIFZFixedParams, LIFZState, lifz_step))
        with pytest.raises(ValueError, match="not the catalogue's fixed parameters"):
            fixed_neurons.register_neuron_model(fixed_neurons.FixedNeuronModel(
                "lifz", fixed_neurons.LIFixedParams, LIFZFixedState, lifz_fixed_step, lifz_from_float))
        with pytest.raises(ValueError, match="already has an integer step"):
            fixed_neurons.register_neuron_model(fixed_neurons.get_neuron_model("li"))
    finally:
        catalogue.unregister_model("lifz")
    assert "lifz" not in neurons.NEURON_MODELS and "lifz" not in fixed_neurons.NEURON_MODELS


def test_extension_adding_a_neuron_model_end_to_end(lifz):
    """One catalogue entry, a float step and an integer step, registered: training (surrogate gradients),
    the float IR runner, quantization, the emulator, Lava (bit-exact with the emulator) and the energy
    counts then work without any other change."""
    from snn_deploy.activity import Activity
    from snn_deploy.convert.emulator import emulate
    from snn_deploy.convert.quantize import quantize_network
    from snn_deploy.energy import counting
    from snn_deploy.ir import network_digest
    from snn_deploy.train.config import ModelConfig
    from snn_deploy.train.export import model_to_ir
    from snn_deploy.train.ir_runner import run_float_network
    from snn_deploy.train.models import build_model

    cfg = ModelConfig(model="rlifz", input_size=6, num_classes=3, layers=2, hidden=8, seed=0)
    assert cfg.spiking and cfg.recurrent
    net = build_model(cfg)
    x = (torch.rand(4, 12, 6, generator=torch.Generator().manual_seed(0)) < 0.5).float()
    loss = torch.nn.functional.cross_entropy(net(x).logits, torch.tensor([0, 1, 2, 0]))
    loss.backward()                                    # trains through the surrogate (autograd scan)
    assert net.layers[0].params.alpha.grad is not None and net.layers[0].params.alpha.grad.abs().sum() > 0
    net.eval()
    float_net = model_to_ir(net, cfg, {"encoding": "spikes"})
    with torch.no_grad():                              # the float IR runs the registered step as training did
        out, run = net(x), run_float_network(float_net, x)
    assert torch.equal(run.spikes["h1"], out.layer_spikes[0])
    assert torch.allclose(run.logits, out.logits, atol=1e-5)
    for d in float_net.dense_nodes():                  # louder input, as deploy's seeded examples: every layer fires
        if not float_net.is_recurrent(d.name):
            d.weight = np.asarray(d.weight) * 12.0
            d.bias = np.random.default_rng(0).normal(0.0, 8.0, d.out_size).astype(np.float32)
    with torch.no_grad():
        run = run_float_network(float_net, x)
    assert run.spikes["h1"].sum() > 0
    fixed = quantize_network(float_net, "loihi2")
    assert set(fixed.node("h1").params) == set(LIFZ.fixed_params)
    steps = 16
    inputs = (np.random.default_rng(1).random((2, steps, 6)) < 0.3).astype(np.int64)
    emu = emulate(fixed, inputs)
    assert emu.spikes["h1"].sum() >= 5 and np.unique(emu.potentials["readout"]).size > 10
    pytest.importorskip("lava.magma.core.process.process")
    from snn_deploy.deploy.runner import run_lava

    lava = run_lava(fixed, inputs)
    np.testing.assert_array_equal(lava.spikes["h1"], emu.spikes["h1"])
    np.testing.assert_array_equal(lava.potentials["readout"], emu.potentials["readout"])
    act = Activity(backend="emulator", network_digest=network_digest(fixed), input_steps=steps,
                   sample_index=np.arange(2), labels=np.zeros(2, np.int64), predictions=emu.predictions,
                   inputs=np.pad(inputs, ((0, 0), (0, emu.num_steps - steps), (0, 0))), spikes=emu.spikes,
                   potentials=emu.potentials)
    h1 = counting.count_network(fixed, act).layer("h1")
    assert h1.model == "lifz" and h1.total("neuron_mac") == LIFZ.arith.mac * 8 * emu.num_steps
