"""A user's path to lava-dl's netx: train a CUBA-LIF with one decay per layer and the hard reset, convert
with ``--netx``, load OUT/netx.net with lava-dl, run it on Lava's fixed-point simulator and find every
layer equal to our emulator. Without ``--netx`` convert says why netx.net was not written."""
import json
import multiprocessing
import re
import sys

import h5py
import numpy as np
import pytest
import torch

from snn_deploy.cli import main
from snn_deploy.convert.emulator import emulate
from snn_deploy.ir import load_network
from snn_deploy.train.checkpoint import load_model
from snn_deploy.train.data import open_dataset

TIME_STEPS = 30
TRAIN = ["--model", "cuba_lif", "--reset", "zero", "--shared-decays", "--layers", "3", "--hidden", "16",
         "--time-steps", str(TIME_STEPS), "--batch-size", "8", "--epochs", "2", "--binary", "--quiet"]


def import_netx():
    """Lava calls ``set_start_method('fork')`` when first imported, which raises once something (a tqdm
    bar's lock) has fixed the default context: reset it first, as deploy/runner.py does in its worker."""
    if "lava.magma.runtime.message_infrastructure.multiprocessing" not in sys.modules:
        multiprocessing.set_start_method(None, force=True)
    return pytest.importorskip("lava.lib.dl.netx")


@pytest.fixture(scope="module")
def trained(tmp_path_factory, shd_dir):
    run = tmp_path_factory.mktemp("netx_run")
    assert main(["train", "--data", str(shd_dir), "-o", str(run), *TRAIN]) == 0
    return run / "model.pt"


def test_shared_decays_train_one_alpha_and_beta_per_layer(trained):
    model, cfg, _ = load_model(trained)
    assert cfg.shared_decays and cfg.reset == "zero"
    for layer in model.layers:
        assert layer.params.alpha.shape == (1,) and layer.params.beta.shape == (1,)
        values = layer.params.values()
        assert values["alpha"].shape == (16,) and torch.all(values["alpha"] == values["alpha"][0])
    assert model.readout.params.alpha.shape == (1,)


def test_without_netx_convert_says_why_netx_was_not_written(trained, shd_dir, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["convert", str(trained), "--target", "loihi-sim", "-o", str(out)]) == 0
    printed = capsys.readouterr().out
    report = json.loads((out / "quantization.json").read_text())
    assert report["netx"]["written"] is False and not (out / "netx.net").exists()
    reason = report["netx"]["reason"]
    assert re.match(r"(population|dense) '\w+': ", reason) and "convert --netx" in reason, reason  # layer, rule, fix
    assert f"netx: not written: {reason}" in printed


@pytest.mark.lava
def test_netx_convert_loads_in_lava_dl_and_equals_the_emulator(trained, shd_dir, tmp_path, capsys):
    import_netx()
    from test_export_netx import run_netx_on_lava

    out = tmp_path / "out"
    assert main(["convert", str(trained), "--target", "loihi-sim", "--netx", "--data", str(shd_dir),
                 "--limit", "16", "-o", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "netx: written netx.net" in printed
    report = json.loads((out / "quantization.json").read_text())
    assert report["netx"]["written"] and report["comparison"]["samples"] == 16  # float vs fixed kept
    assert report["netx"]["input_message_bits"] == 0 and report["netx"]["input_max_count"] == 1  # binary data
    assert report["netx"]["load"] in printed
    fixed = load_network(out / "network.h5")
    assert all(d.weight_exp >= 0 for d in fixed.dense_nodes())
    h1 = next(r for r in report["layers"] if r["layer"] == "h1")
    assert h1["bias_rounded"] is not None and h1["bias_round_max"] <= 32      # rounded to multiples of 64
    with h5py.File(out / "netx.net", "r") as f:
        assert json.loads(f.attrs["layer_names"]) == ["input", "h1", "h2", "readout"]

    ds = open_dataset(shd_dir, "test", time_steps=TIME_STEPS, duration=1.4, binary=True)
    x = ds.frames_batch(np.arange(2)).astype(np.int64)
    assert x.max() <= 1, "netx loads with binary input messages"
    total = {"h1": 0, "h2": 0}
    for sample in x:
        emu = emulate(fixed, sample[None], record_state=True, pipeline_reset=False)
        blocks, spikes, volts = run_netx_on_lava(out / "netx.net", sample, emu.num_steps)
        assert blocks == ["RecurrentDense", "RecurrentDense", "Dense"]
        for name, lava_spikes in zip(("h1", "h2", "readout"), spikes):
            np.testing.assert_array_equal(lava_spikes, emu.spikes.get(name, np.zeros((1,) + lava_spikes.shape))[0],
                                          err_msg=f"spikes of layer {name}")
            total[name] = total.get(name, 0) + int(lava_spikes.sum())
        np.testing.assert_array_equal(volts[2], emu.potentials["readout"][0], err_msg="readout potential")
        assert np.ptp(volts[2]) > 0
    assert total["h1"] >= 10 and total["h2"] >= 10, f"too few spikes to compare: {total}"
    assert total["readout"] == 0


def test_netx_mode_refuses_what_netx_cannot_express_naming_layer_and_rule(tmp_path, capsys):
    from test_convert_cli import checkpoint  # an untrained cuba_lif with per-neuron decays

    out = tmp_path / "out"
    assert main(["convert", str(checkpoint(tmp_path)), "--target", "loihi-sim", "--netx", "-o", str(out)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: --netx: netx.net cannot be written"), err
    assert "population 'h1': du differs between neurons" in err[0] and "--shared-decays" in err[0], err[0]
    assert not out.exists()


@pytest.mark.lava
def test_readme_recipe_on_spike_counts_loads_with_the_recorded_bits_and_equals_the_emulator(
        tmp_path_factory, shd_dir, capsys):
    """Issue 12 item 5: the README's netx recipe on count input (no --binary: several spikes per bin). convert
    --netx records the input bits netx needs and prints how to load; loaded so, netx equals the emulator."""
    import_netx()
    from test_export_netx import run_netx_on_lava

    root = tmp_path_factory.mktemp("netx_counts")
    counts_train = [a for a in TRAIN if a != "--binary"]
    assert main(["train", "--data", str(shd_dir), "-o", str(root / "run"), *counts_train]) == 0
    out = root / "out"
    assert main(["convert", str(root / "run" / "model.pt"), "--target", "loihi-sim", "--netx", "--data",
                 str(shd_dir), "--limit", "16", "-o", str(out)]) == 0
    printed = capsys.readouterr().out
    report = json.loads((out / "quantization.json").read_text())
    bits, peak = report["netx"]["input_message_bits"], report["netx"]["input_max_count"]
    assert peak > 1 and bits > 0 and report["netx"]["load"] in printed and f"input_message_bits={bits}" in printed
    fixed = load_network(out / "network.h5")
    ds = open_dataset(shd_dir, "test", time_steps=TIME_STEPS, duration=1.4, binary=False)
    x = ds.frames_batch(np.arange(16)).astype(np.int64)
    samples = [s for s in x if s.max() > 1][:2]
    assert samples, "guard: the compared samples carry counts above 1"
    total = 0
    for sample in samples:
        emu = emulate(fixed, sample[None], record_state=True, pipeline_reset=False)
        _, spikes, volts = run_netx_on_lava(out / "netx.net", sample, emu.num_steps, input_message_bits=bits)
        for name, lava_spikes in zip(("h1", "h2"), spikes):
            np.testing.assert_array_equal(lava_spikes, emu.spikes[name][0], err_msg=f"spikes of layer {name}")
            total += int(lava_spikes.sum())
        np.testing.assert_array_equal(volts[2], emu.potentials["readout"][0], err_msg="readout potential")
    assert total >= 10, f"too few spikes to compare: {total}"
