"""`snn-deploy train` / `snn-deploy eval` end to end, and their one-line errors."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import h5py
import numpy as np
import pytest
import torch

from snn_deploy.cli import main
from snn_deploy.train.checkpoint import load_checkpoint

TINY = ["--model", "adlif", "--layers", "2", "--hidden", "16", "--time-steps", "20", "--batch-size", "16"]


def _cli(*args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, OMP_NUM_THREADS="1")
    return subprocess.run([sys.executable, "-m", "snn_deploy", *args], capture_output=True, text=True,
                          timeout=180, env=env)


def test_train_then_eval_end_to_end(tmp_path, shd_dir):
    run = tmp_path / "run"
    proc = _cli("train", "--data", str(shd_dir), "-o", str(run), "--epochs", "3", *TINY)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "trained adlif" in proc.stdout and "test accuracy" in proc.stdout
    assert "epoch 3/3" in proc.stderr + proc.stdout
    summary = json.loads((run / "summary.json").read_text())
    assert summary["epochs"] == 3 and summary["model"] == "adlif"
    assert len((run / "metrics.jsonl").read_text().splitlines()) == 3

    proc = _cli("eval", str(run / "model.pt"), "--data", str(shd_dir), "--quiet")
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads((run / "eval-test.json").read_text())
    assert result["samples"] == 32 and result["split"] == "test"
    assert result["accuracy"] == pytest.approx(summary["test_acc"])  # same weights, same data, same binning
    assert f"{result['accuracy']:.2%}" in proc.stdout


def test_resume_through_the_cli_extends_a_finished_run(tmp_path, shd_dir, capsys):
    run = tmp_path / "run"
    assert main(["train", "--data", str(shd_dir), "-o", str(run), "--epochs", "1", "--quiet", *TINY]) == 0
    assert main(["train", "--data", str(shd_dir), "-o", str(run), "--epochs", "2", "--resume", "--quiet"]) == 0
    out = capsys.readouterr()
    assert "resumed after epoch 1" in out.out
    assert load_checkpoint(run / "last.pt").train_state["epoch"] == 2
    assert main(["train", "--data", str(shd_dir), "-o", str(run), "--epochs", "3", "--resume", "--hidden", "8"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and "hidden" in err and "\n" not in err


def _error_of(capsys, argv, code: int = 2) -> str:
    """The one error line; ``code`` 2 for a bad option value, 1 for a bad file (or a failed run)."""
    assert main(argv) == code
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err, err
    return err


def test_bad_input_gives_one_error_line_and_no_run_dir(tmp_path, shd_factory, capsys):
    data = shd_factory(train_per_class=4, test_per_class=2)
    run = tmp_path / "run"
    base = ["train", "--data", str(data), "-o", str(run), "--epochs", "1", "--quiet"]
    assert "transformer" in _error_of(capsys, base + ["--model", "transformer"], code=2)
    assert "hidden" in _error_of(capsys, base + ["--model", "radlif", "--hidden", "0"], code=2)
    assert "--model is required" in _error_of(capsys, base, code=2)
    assert "nowhere" in _error_of(capsys, ["train", "--data", str(tmp_path / "nowhere"), "-o", str(run),
                                           "--model", "lif"], code=1)
    with h5py.File(data / "test.h5", "r+") as f:
        del f["spikes/times"]
    msg = _error_of(capsys, base + ["--model", "radlif"], code=1)
    assert "test.h5" in msg and "spikes/times" in msg
    assert not run.exists()


def test_non_empty_run_dir_is_refused_without_force(tmp_path, shd_dir, capsys):
    run = tmp_path / "run"
    run.mkdir()
    (run / "model.pt").write_bytes(b"precious")
    assert "not empty" in _error_of(capsys, ["train", "--data", str(shd_dir), "-o", str(run), *TINY], code=1)
    assert (run / "model.pt").read_bytes() == b"precious"


def test_eval_rejects_foreign_files_and_mismatched_data(tmp_path, shd_dir, shd_factory, capsys):
    fake = tmp_path / "model.pt"
    fake.write_text("not a model")
    assert str(fake) in _error_of(capsys, ["eval", str(fake), "--data", str(shd_dir)], code=1)
    run = tmp_path / "run"
    assert main(["train", "--data", str(shd_dir), "-o", str(run), "--epochs", "1", "--quiet", *TINY]) == 0
    capsys.readouterr()
    other = shd_factory(num_channels=30, train_per_class=2, test_per_class=2)
    assert "30 channels" in _error_of(capsys, ["eval", str(run / "model.pt"), "--data", str(other), "--quiet"], code=1)


def test_eval_on_the_carved_validation_split_reproduces_the_best_valid_accuracy(tmp_path, shd_dir, capsys):
    run = tmp_path / "run"
    assert main(["train", "--data", str(shd_dir), "-o", str(run), "--epochs", "2", "--quiet", *TINY]) == 0
    assert main(["eval", str(run / "model.pt"), "--data", str(shd_dir), "--split", "valid", "--quiet"]) == 0
    result = json.loads((run / "eval-valid.json").read_text())
    summary = json.loads((run / "summary.json").read_text())
    assert result["samples"] == 10  # 10% of the 96 training samples
    assert "carved" in result["data"]
    assert result["accuracy"] == pytest.approx(summary["best_valid_acc"])


def test_export_writes_the_float_ir_that_reproduces_the_model(tmp_path, shd_dir, capsys):
    from snn_deploy.ir import load_network
    from snn_deploy.train.checkpoint import load_model
    from snn_deploy.train.data import open_dataset
    from snn_deploy.train.ir_runner import run_float_network

    run = tmp_path / "run"
    assert main(["train", "--data", str(shd_dir), "-o", str(run), "--epochs", "1", "--quiet", *TINY]) == 0
    assert main(["export", str(run / "model.pt"), "-o", str(tmp_path / "net.h5")]) == 0
    net = load_network(tmp_path / "net.h5")
    assert net.meta["time_steps"] == 20 and net.inputs()[0].encoding == "spikes"
    model, _, _ = load_model(run / "model.pt")
    x = open_dataset(shd_dir, "test", time_steps=20).batch(list(range(8)))[0]
    with torch.no_grad():
        expected = model.eval()(x).readout
    assert expected.abs().sum() > 0
    torch.testing.assert_close(torch.as_tensor(run_float_network(net, x).readout).float(), expected,
                               rtol=1e-4, atol=1e-5)
    capsys.readouterr()
    assert main(["export", str(tmp_path / "nope.pt"), "-o", str(tmp_path / "x.h5")]) == 1
    assert "nope.pt" in capsys.readouterr().err
    assert not (tmp_path / "x.h5").exists()


def test_train_refuses_a_single_file_as_data_and_reset_zero_outside_cuba_lif(tmp_path, shd_dir, capsys):
    single = next(shd_dir.glob("train*.h5"))
    assert main(["train", "--data", str(single), "-o", str(tmp_path / "r1"), "--epochs", "1", *TINY]) == 1
    err = capsys.readouterr().err
    assert "needs a data directory" in err and str(single) in err
    assert main(["train", "--data", str(shd_dir), "-o", str(tmp_path / "r2"), "--epochs", "1", *TINY,
                 "--reset", "zero"]) == 2
    assert "cuba_lif only" in capsys.readouterr().err
    assert not (tmp_path / "r1").exists() and not (tmp_path / "r2").exists()


def test_eval_on_an_empty_valid_file_carves_like_training(tmp_path, shd_dir, capsys):
    """An empty valid.h5 counts as absent in training (validation carved from train); eval --split valid
    must carve the same part instead of failing on the empty file."""
    import shutil

    from shd_files import write_shd_file

    data = tmp_path / "data"
    shutil.copytree(shd_dir, data)
    with h5py.File(data / "train.h5", "r") as f:
        class_names = [k.decode() if isinstance(k, bytes) else k for k in f["extra/keys"][()]]
        channels = int(f["spikes"].attrs["num_channels"])
    write_shd_file(data / "valid.h5", [], [], np.zeros(0), class_names, channels)
    run = tmp_path / "run"
    assert main(["train", "--data", str(data), "-o", str(run), "--epochs", "2", "--quiet", *TINY]) == 0
    assert main(["eval", str(run / "model.pt"), "--data", str(data), "--split", "valid", "--quiet"]) == 0
    result = json.loads((run / "eval-valid.json").read_text())
    summary = json.loads((run / "summary.json").read_text())
    assert "carved" in result["data"] and result["samples"] == 10
    assert result["accuracy"] == pytest.approx(summary["best_valid_acc"])
