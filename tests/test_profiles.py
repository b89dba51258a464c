"""Hardware profiles: the bundled files load, cite every number, and bad files fail naming file and key."""
import copy
import json

import pytest

from snn_deploy.convert import fixed_point as fp
from snn_deploy.convert.profiles import list_profiles, load_profile, profile_from_dict, profile_path
from snn_deploy.errors import FormatError, SnnDeployError


def test_bundled_profiles_are_the_required_targets_and_all_load():
    names = list_profiles()
    for required in ("loihi1", "loihi2", "cmos45nm-int8", "cmos45nm-int32", "cmos45nm-fp32", "spinnaker2"):
        assert required in names
    for n in names:
        p = load_profile(n)
        assert p.name == n and p.energy.ops
        # every number has a citation: each format/limit field and each energy op
        if p.formats:
            assert all(f"formats.{k}" in p.sources for k in p.formats.__dataclass_fields__)
        assert all(f"energy.ops.{k}" in p.sources for k in p.energy.ops)


def test_loihi_formats_match_the_quantization_spec():
    for n in ("loihi1", "loihi2"):
        f = load_profile(n).formats
        assert (f.weight_bits, f.decay_bits, f.state_bits) == (fp.WEIGHT_BITS, fp.DECAY_BITS, fp.STATE_BITS)
        assert (f.threshold_mant_bits, f.bias_mant_bits, f.bias_exp_bits) == (17, 13, 3)
        assert (f.activation_shift, f.threshold_shift) == (fp.ACTIVATION_SHIFT, fp.THRESHOLD_SHIFT)


def test_model_support_and_energy_values():
    l1, l2 = load_profile("loihi1"), load_profile("loihi2")
    assert l1.supports("cuba_lif", "zero") and not l1.supports("adlif") and not l1.supports("cuba_lif", "subtract")
    assert all(l2.supports(m) for m in ("lif", "adlif", "spikgru", "mthr_lif", "li", "cuba_lif"))
    syn = l1.energy.ops["synaptic_op"]
    assert (syn.low, syn.high) == (23.6, 35.5) and len(syn.sources) == 2
    assert l1.energy.ops["neuron_update"].high == 81.0 and l1.limits.neurons_per_core == 1024
    assert l2.energy.estimate and not l1.energy.estimate
    i32 = load_profile("cmos45nm-int32").energy.ops
    assert i32["ac"].low == 0.1 and i32["mac"].low == pytest.approx(3.2)
    assert load_profile("cmos45nm-fp32").energy.ops["mac"].low == pytest.approx(4.6)
    assert not load_profile("cmos45nm-int8").quantizable


def test_load_by_path(tmp_path):
    p = tmp_path / "mychip.json"
    p.write_text(profile_path("loihi2").read_text())
    assert load_profile(p).name == "loihi2"
    assert load_profile(str(p)).path == str(p)


def _data():
    return json.loads(profile_path("loihi1").read_text())


@pytest.mark.parametrize("mutate, key", [
    (lambda d: d.update(colour="blue"), "colour"),
    (lambda d: d["formats"].pop("decay_bits"), "formats.decay_bits"),
    (lambda d: d["limits"]["neurons_per_core"].update(value="many"), "limits.neurons_per_core.value"),
    (lambda d: d["limits"]["cores_per_chip"].update(source="nowhere"), "limits.cores_per_chip.source"),
    (lambda d: d["energy"]["ops"]["spike"].update(extra=1), "energy.ops.spike.extra"),
    (lambda d: d["energy"].pop("word_bits"), "energy.word_bits"),
    (lambda d: d["neuron_models"].update(hh={"resets": ["zero"], "source": "davies2018"}), "neuron_models.hh"),
    (lambda d: d.update(version=9), "version"),
])
def test_bad_profile_names_file_and_key(mutate, key):
    d = copy.deepcopy(_data())
    mutate(d)
    with pytest.raises(FormatError) as err:
        profile_from_dict(d, source="bad.json")
    assert "bad.json" in str(err.value) and repr(key) in str(err.value)


def test_unknown_profile_name_lists_the_bundled_ones(tmp_path):
    with pytest.raises(SnnDeployError, match="unknown hardware profile 'loihi9'.*loihi2"):
        load_profile("loihi9")
    bad = tmp_path / "x.json"
    bad.write_text("{not json")
    with pytest.raises(FormatError, match="x.json"):
        load_profile(bad)
