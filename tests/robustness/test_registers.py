"""Registers outside Loihi's number formats are refused, naming node, field, value and allowed range.

A hand-edited network.h5 with ``weight_exp 200`` (numpy's ``x << 200`` is ``x << 8`` on x86, and
Lava agrees), ``dv 100000``, ``vth -5``, ``bias_exp 60`` or mixed-sign weights off Lava's grid used
to run with exit 0. ``run`` (both backends) and ``energy`` are attacked through the CLI; the other
fields through ``emulate`` and ``check_registers`` in-process (each CLI start costs seconds).
Emulator == Lava for hand-made weights: what the check lets through (odd weights of a one-signed
dense, which Lava keeps) runs identically on both; what it refuses is refused by both alike.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from clitools import assert_one_line_error, run_cli
from snn_deploy.convert.emulator import emulate
from snn_deploy.convert.registers import RegisterError, check_registers
from snn_deploy.ir import DenseNode, Edge, InputNode, Network, NeuronNode, Precision, load_network, save_network


def _tampered(pipeline, tmp_path: Path, edit) -> Path:
    """A copy of the pipeline's OUT (network.h5 + activity.h5) whose network.h5 was edited by ``edit(net)``."""
    out = tmp_path / "out"
    out.mkdir()
    shutil.copy2(pipeline.out / "activity.h5", out / "activity.h5")
    net = load_network(pipeline.out / "network.h5")
    edit(net)
    save_network(net, out / "network.h5")
    return out


def _first_dense(net: Network) -> DenseNode:
    return net.dense_nodes()[0]


def _hidden(net: Network) -> NeuronNode:
    return next(p for p in net.neuron_nodes() if p.model == "lif")


def test_weight_exp_200_is_refused_by_run(pipeline, tmp_path):
    out = _tampered(pipeline, tmp_path, lambda n: setattr(_first_dense(n), "weight_exp", 200))
    name = _first_dense(load_network(out / "network.h5")).name
    # checked when OUT is loaded, before either backend: Lava's is the one that would take seconds to start
    result = run_cli("run", out, "--data", pipeline.data, "--backend", "lava", "--limit", "2", "--no-progress")
    assert_one_line_error(result, str(out / "network.h5"), f"dense {name!r}", "field 'weight_exp'", "value 200",
                          "[-8, 7]", code=1)
    assert not (out / "run.json").exists()
    net = load_network(out / "network.h5")
    with pytest.raises(RegisterError, match="field 'weight_exp' value 200"):     # the emulator's own check
        emulate(net, np.zeros((1, 3, net.inputs()[0].size), np.int64))


def test_dv_100000_is_refused_by_energy(pipeline, tmp_path):
    def edit(net):
        _hidden(net).params["dv"] = np.full(_hidden(net).size, 100000)

    out = _tampered(pipeline, tmp_path, edit)
    pop = _hidden(load_network(out / "network.h5")).name
    result = run_cli("energy", out, "--network", out / "network.h5", "--no-plots", "-o", tmp_path / "report")
    assert_one_line_error(result, f"neurons {pop!r}", "field 'dv'", "value 100000", "[0, 4096]", code=1)
    assert not (tmp_path / "report").exists()


@pytest.mark.parametrize("field,value,needle", [
    ("vth", -5, "[1, 131071]"),
    ("bias_exp", 60, "[0, 7]"),
    ("bias_mant", 5000, "[-4096, 4095]"),
])
def test_neuron_registers_out_of_format_are_refused_by_emulate(pipeline, field, value, needle):
    net = load_network(pipeline.out / "network.h5")
    emulate(net, np.zeros((1, 3, net.inputs()[0].size), np.int64))        # the converted network runs
    pop = _hidden(net)
    pop.params[field] = np.asarray(pop.params[field]).copy()
    pop.params[field][-1] = value
    with pytest.raises(RegisterError) as err:
        emulate(net, np.zeros((1, 3, net.inputs()[0].size), np.int64))
    for text in (f"neurons {pop.name!r}", f"field {field!r}", f"value {value}", f"index [{pop.size - 1}]", needle):
        assert text in str(err.value)


def _hand_made(weight) -> Network:
    """input (2) -> fc (weight) -> out (lif, VTH 640, no leak): a network no quantizer made."""
    lif = dict(dv=np.zeros(2, np.int64), vth=np.full(2, 10), bias_mant=np.zeros(2, np.int64),
               bias_exp=np.zeros(2, np.int64))
    return Network([InputNode("input", 2), DenseNode("fc", np.asarray(weight, np.int64)),
                    NeuronNode("out", "lif", 2, params=lif)],
                   [Edge("input", "fc"), Edge("fc", "out")], meta={"output": "out"},
                   precision=Precision("loihi2", "loihi-fixed-v1", layers={"out": {"scale": 64.0}})).validate()


def test_weights_off_lavas_grid_are_refused_and_one_signed_odd_weights_are_kept():
    # mixed signs: Lava drops the lowest bit (8-bit mixed mode); an odd weight would differ on Lava
    with pytest.raises(RegisterError, match=r"dense 'fc': field 'weight' value 7 at index \[0, 1\] is outside the "
                                            r"allowed range \[-256, 254\] in steps of 2"):
        check_registers(_hand_made([[-4, 7], [2, 2]]))
    with pytest.raises(RegisterError, match=r"value 256 .*\[0, 255\]"):
        check_registers(_hand_made([[256, 0], [0, 1]]))
    check_registers(_hand_made([[255, 7], [3, 1]]))        # excitatory: 8-bit unsigned, odd values kept
    check_registers(_hand_made([[-256, 254], [0, 2]]))     # the ends of the mixed-sign grid


@pytest.mark.lava
def test_emulator_equals_lava_on_hand_made_odd_weights():
    pytest.importorskip("lava.magma.core.process.process")
    from snn_deploy.deploy.runner import run_lava

    x = np.array([[[1, 0], [1, 1], [0, 1], [1, 1], [0, 0]]] * 2, np.int64)
    odd = _hand_made([[255, 7], [3, 1]])                 # one-signed: on Loihi's grid, odd values and all
    lava, emu = run_lava(odd, x), emulate(odd, x)
    assert emu.spikes["out"].sum() > 3
    np.testing.assert_array_equal(lava.spikes["out"], emu.spikes["out"])
    off_grid = _hand_made([[-4, 7], [2, 2]])             # mixed signs, odd: refused by both, alike
    with pytest.raises(RegisterError) as on_emulator:
        emulate(off_grid, x)
    with pytest.raises(RegisterError) as on_lava:
        run_lava(off_grid, x)
    assert str(on_emulator.value) == str(on_lava.value)
