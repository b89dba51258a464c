"""`snn-deploy convert`: outputs, report, and one clear error line (nothing written) for bad input."""
import json

import numpy as np
import pytest
import torch

from snn_deploy.cli import main
from snn_deploy.convert.profiles import profile_path
from snn_deploy.ir import load_network
from snn_deploy.train.checkpoint import save_checkpoint
from snn_deploy.train.config import ModelConfig
from snn_deploy.train.models import build_model


def checkpoint(tmp_path, model="cuba_lif", reset="zero", hidden=16):
    torch.manual_seed(0)
    cfg = ModelConfig(model=model, input_size=40, num_classes=4, layers=2, hidden=hidden, reset=reset)
    meta = {"num_channels": 40, "num_classes": 4, "class_names": [f"class{k}" for k in range(4)],
            "input_kind": "spikes", "time_steps": 50, "duration": 1.4}
    return save_checkpoint(tmp_path / f"{model}.pt", build_model(cfg), cfg, None, meta)


def test_convert_writes_fixed_network_report_and_comparison(tmp_path, shd_dir, capsys):
    ckpt = checkpoint(tmp_path)
    out = tmp_path / "out"
    rc = main(["convert", str(ckpt), "--target", "loihi-sim", "--profile", "loihi1", "--data", str(shd_dir),
               "--limit", "12", "-o", str(out)])
    assert rc in (0, None)
    printed = capsys.readouterr().out
    assert "accuracy on 12 samples" in printed and "core mapping" in printed
    for name in ("network.h5", "network_float.h5", "quantization.json", "summary.txt"):
        assert (out / name).is_file()
    fixed, flt = load_network(out / "network.h5"), load_network(out / "network_float.h5")
    assert fixed.is_fixed and not flt.is_fixed
    assert fixed.meta["target"] == "loihi-sim" and fixed.meta["profile"] == "loihi1"
    assert fixed.precision.profile == "loihi1"
    assert all(np.issubdtype(d.weight.dtype, np.integer) for d in fixed.dense_nodes())
    rep = json.loads((out / "quantization.json").read_text())
    assert rep["profile"] == "loihi1" and rep["target"] == "loihi-sim"
    assert [r["layer"] for r in rep["layers"]] == ["h1", "readout"]
    assert rep["comparison"]["samples"] == 12 and 0.0 <= rep["comparison"]["fixed_accuracy"] <= 1.0
    assert rep["core_mapping"]["total_cores"] == 2
    assert "netx" in rep and "written" in rep["netx"]
    assert (out / "summary.txt").read_text().strip() == printed.strip()
    assert not list(tmp_path.glob(".out.*"))


def _fails(argv, capsys, match, code=1):
    """One error line; status 1 for a bad file or a failed check, 2 for a bad option value."""
    rc = main(argv)
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == code and len(err) == 1 and err[0].startswith("error:"), err
    assert match in err[0], err[0]


def test_bad_inputs_give_one_error_line_and_write_nothing(tmp_path, capsys):
    ckpt = checkpoint(tmp_path)
    out = tmp_path / "out"
    bogus = tmp_path / "bogus.pt"
    bogus.write_bytes(b"this is not a checkpoint")
    _fails(["convert", str(bogus), "--target", "loihi-sim", "-o", str(out)], capsys, "bogus.pt")
    _fails(["convert", str(ckpt), "--target", "loihi", "-o", str(out)], capsys, "unknown target 'loihi'", code=2)
    _fails(["convert", str(ckpt), "--target", "loihi-emu", "--profile", "loihi9", "-o", str(out)], capsys,
           "unknown hardware profile 'loihi9'", code=2)
    _fails(["convert", str(ckpt), "--target", "loihi-emu", "--profile", "cmos45nm-fp32", "-o", str(out)], capsys,
           "not a quantization target", code=2)
    adlif = checkpoint(tmp_path, model="adlif", reset="subtract")
    _fails(["convert", str(adlif), "--target", "loihi-sim", "--profile", "loihi1", "-o", str(out)], capsys,
           "rule model-support: layer h1: model adlif")
    small = json.loads(profile_path("loihi1").read_text())
    small["limits"]["cores_per_chip"]["value"] = 1
    prof = tmp_path / "tiny.json"
    prof.write_text(json.dumps(small))
    _fails(["convert", str(ckpt), "--target", "loihi-sim", "--profile", str(prof), "-o", str(out)], capsys,
           "rule chip-capacity")
    assert not out.exists() and not list(tmp_path.glob(".out.*"))


def test_failure_leaves_an_existing_output_directory_as_it_was(tmp_path, capsys):
    ckpt = checkpoint(tmp_path, model="lif", reset="subtract")
    out = tmp_path / "out"
    assert main(["convert", str(ckpt), "--target", "loihi-emu", "-o", str(out)]) == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    (out / "activity.h5").write_bytes(b"user data")
    _fails(["convert", str(ckpt), "--target", "loihi-emu", "--profile", "loihi1", "-o", str(out)], capsys,
           "not runnable on loihi1")
    assert {p.name: p.read_bytes() for p in out.iterdir() if p.name != "activity.h5"} == before
    assert (out / "activity.h5").read_bytes() == b"user data"
    capsys.readouterr()
    overrides = tmp_path / "prec.json"
    overrides.write_text(json.dumps({"layers": {"h1": {"weight_bits": 6}}}))
    assert main(["convert", str(ckpt), "--target", "loihi-emu", "--precision", str(overrides), "-o", str(out)]) == 0
    fixed = load_network(out / "network.h5")
    assert np.all(fixed.node("fc1").weight % 8 == 0)            # 6-bit weights on the Lava grid: m << 3
    overrides.write_text(json.dumps({"layers": {"h9": {"weight_bits": 6}}}))
    _fails(["convert", str(ckpt), "--target", "loihi-emu", "--precision", str(overrides), "-o", str(out)], capsys,
           "no population 'h9'")
