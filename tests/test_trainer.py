"""The trainer: exact resume after a kill, learning on structured data, run-directory rules, bad input."""
from __future__ import annotations

import json
import time

import h5py
import numpy as np
import pytest
import torch

from snn_deploy.errors import SnnDeployError
from snn_deploy.train import loop as loop_mod
from snn_deploy.train.checkpoint import load_checkpoint
from snn_deploy.train.config import TrainConfig
from snn_deploy.train.loop import train
from snn_deploy.train.rundir import LR_GRADED, LR_SPIKES, resolve_lr
from snn_deploy.train.splits import carve_validation

SMALL_MODEL = dict(model="radlif", layers=2, hidden=16)
FAST = dict(time_steps=20, batch_size=16)


def _quiet_train(run_dir, data, cfg, model, **kw):
    return train(run_dir, data, cfg, model, show_progress=False, log=lambda _m: None, **kw)


def _metrics(run_dir):
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


class _Killed(BaseException):
    """Stands for SIGKILL/SIGTERM arriving while an epoch runs."""


def test_resume_after_kill_gives_bitwise_identical_weights(tmp_path, shd_dir, monkeypatch):
    epochs, kill_at = 4, 2
    cfg = TrainConfig(epochs=epochs, seed=3, **FAST)
    model = dict(SMALL_MODEL, dropout=0.2)  # dropout draws random masks: the RNG state must be restored
    straight = tmp_path / "straight"
    _quiet_train(straight, shd_dir, cfg, model)

    real_epoch = loop_mod._run_epoch

    def dying_epoch(*args, **kwargs):
        if args[6] == kill_at:  # the epoch argument (0-based): die while epoch kill_at+1 runs
            raise _Killed()
        return real_epoch(*args, **kwargs)

    killed = tmp_path / "killed"
    monkeypatch.setattr(loop_mod, "_run_epoch", dying_epoch)
    with pytest.raises(_Killed):
        _quiet_train(killed, shd_dir, cfg, model)
    monkeypatch.setattr(loop_mod, "_run_epoch", real_epoch)
    assert not (killed / "summary.json").exists()
    assert json.loads((killed / "run.json").read_text())["status"] == "running"
    assert load_checkpoint(killed / "last.pt").train_state["epoch"] == kill_at
    after_kill = load_checkpoint(killed / "last.pt").state_dict

    result = _quiet_train(killed, shd_dir, TrainConfig(), {}, resume=True, explicit=set())  # the run's configs
    assert result.resumed_from_epoch == kill_at and result.epochs == epochs

    a, b = load_checkpoint(straight / "last.pt"), load_checkpoint(killed / "last.pt")
    assert set(a.state_dict) == set(b.state_dict)
    for name in a.state_dict:
        assert torch.equal(a.state_dict[name], b.state_dict[name]), f"{name} differs after resume"
    assert any(not torch.equal(after_kill[n], b.state_dict[n]) for n in after_kill), "guard: training went on"
    assert a.train_state["optimizer"]["state"].keys() == b.train_state["optimizer"]["state"].keys()
    for key, st in a.train_state["optimizer"]["state"].items():
        assert torch.equal(st["exp_avg"], b.train_state["optimizer"]["state"][key]["exp_avg"])
    best_a, best_b = load_checkpoint(straight / "model.pt"), load_checkpoint(killed / "model.pt")
    for name in best_a.state_dict:
        assert torch.equal(best_a.state_dict[name], best_b.state_dict[name])
    strip = lambda rows: [{k: v for k, v in r.items() if k != "epoch_time_s"} for r in rows]  # noqa: E731
    assert strip(_metrics(straight)) == strip(_metrics(killed))
    assert len(_metrics(killed)) == epochs
    summary = json.loads((killed / "summary.json").read_text())
    assert summary["test_acc"] == json.loads((straight / "summary.json").read_text())["test_acc"]


def test_resume_of_a_run_killed_in_its_first_epoch_starts_it_over(tmp_path, shd_dir, monkeypatch):
    cfg = TrainConfig(epochs=2, seed=1, **FAST)
    _quiet_train(tmp_path / "straight", shd_dir, cfg, SMALL_MODEL)
    real_epoch = loop_mod._run_epoch

    def dying_epoch(*args, **kwargs):
        raise _Killed()

    monkeypatch.setattr(loop_mod, "_run_epoch", dying_epoch)
    with pytest.raises(_Killed):
        _quiet_train(tmp_path / "killed", shd_dir, cfg, SMALL_MODEL)
    monkeypatch.setattr(loop_mod, "_run_epoch", real_epoch)
    assert sorted(p.name for p in (tmp_path / "killed").iterdir()) == ["metrics.jsonl", "run.json"]
    _quiet_train(tmp_path / "killed", shd_dir, TrainConfig(), {}, resume=True, explicit=set())
    a, b = (load_checkpoint(tmp_path / name / "last.pt").state_dict for name in ("straight", "killed"))
    assert all(torch.equal(a[n], b[n]) for n in a)


@pytest.mark.parametrize("model", ["adlif", "radlif"])
def test_adaptive_models_learn_well_above_chance(tmp_path, shd_factory, model):
    data = shd_factory(num_classes=5, num_channels=40, train_per_class=24, test_per_class=10, seed=11)
    chance = 1 / 5
    t0 = time.time()
    result = _quiet_train(tmp_path / model, data, TrainConfig(epochs=8, **FAST),
                          dict(model=model, layers=2, hidden=32))
    elapsed = time.time() - t0
    assert elapsed < 60, f"{model} took {elapsed:.0f}s"
    assert result.test_acc > 2 * chance, f"{model} test accuracy {result.test_acc:.2f} is not well above chance"
    rows = _metrics(tmp_path / model)
    assert rows[-1]["loss"] < rows[0]["loss"], "the training loss did not decrease"
    assert all(0.0 < r < 1.0 for r in rows[-1]["firing_rates"]), rows[-1]["firing_rates"]


def test_metrics_checkpoints_and_summary_are_written(tmp_path, shd_dir):
    run = tmp_path / "run"
    result = _quiet_train(run, shd_dir, TrainConfig(epochs=2, **FAST), dict(SMALL_MODEL, layers=3))
    rows = _metrics(run)
    assert [r["epoch"] for r in rows] == [1, 2]
    for r in rows:
        assert set(r) >= {"loss", "train_acc", "valid_acc", "lr", "firing_rates", "epoch_time_s"}
        assert len(r["firing_rates"]) == 2  # layers=3: two hidden layers and the readout
        assert r["lr"] == LR_SPIKES
    summary = json.loads((run / "summary.json").read_text())
    assert summary["epochs"] == 2 and summary["test_acc"] == result.test_acc
    assert json.loads((run / "run.json").read_text())["status"] == "complete"
    best = load_checkpoint(run / "model.pt")
    assert best.train_state is None and best.meta["complete"] is True
    assert best.meta["accuracies"]["test"] == result.test_acc
    assert best.meta["num_channels"] == 40 and best.meta["time_steps"] == 20
    assert best.meta["class_names"] == [f"class{k}" for k in range(4)]
    assert load_checkpoint(run / "last.pt").train_state["epoch"] == 2
    assert not [p.name for p in run.iterdir() if p.name.startswith(".")], "temp files left behind"


def test_validation_split_is_seeded_disjoint_and_complete():
    tr, va = carve_validation(50, 0.2, seed=1)
    assert len(va) == 10 and len(tr) == 40
    assert sorted(np.concatenate([tr, va]).tolist()) == list(range(50))
    tr2, va2 = carve_validation(50, 0.2, seed=1)
    assert np.array_equal(va, va2) and np.array_equal(tr, tr2)
    assert not np.array_equal(va, carve_validation(50, 0.2, seed=2)[1])
    with pytest.raises(SnnDeployError):
        carve_validation(1, 0.2, seed=0)


def test_valid_file_is_used_when_present(tmp_path, shd_factory):
    data = shd_factory(train_per_class=6, test_per_class=3, valid_per_class=2)
    run = tmp_path / "run"
    _quiet_train(run, data, TrainConfig(epochs=1, **FAST), SMALL_MODEL)
    meta = load_checkpoint(run / "model.pt").meta
    assert meta["valid_source"].endswith("valid.h5")
    assert meta["samples"] == {"train": 24, "valid": 8, "test": 12}


def test_learning_rate_follows_the_input_kind():
    assert resolve_lr(TrainConfig(), "spikes") == LR_SPIKES == 0.01
    assert resolve_lr(TrainConfig(), "graded") == LR_GRADED == 0.001
    assert resolve_lr(TrainConfig(lr=0.05), "graded") == 0.05
    with pytest.raises(SnnDeployError):
        resolve_lr(TrainConfig(lr=-1.0), "spikes")


def test_non_empty_run_dir_needs_resume_or_force(tmp_path, shd_dir):
    run = tmp_path / "run"
    run.mkdir()
    (run / "notes.txt").write_text("mine")
    with pytest.raises(SnnDeployError, match="not empty"):
        _quiet_train(run, shd_dir, TrainConfig(epochs=1, **FAST), SMALL_MODEL)
    with pytest.raises(SnnDeployError, match="no run.json"):
        _quiet_train(run, shd_dir, TrainConfig(epochs=1, **FAST), SMALL_MODEL, resume=True)
    _quiet_train(run, shd_dir, TrainConfig(epochs=1, **FAST), SMALL_MODEL, force=True)
    assert (run / "notes.txt").read_text() == "mine", "--force removed a file it did not write"
    assert (run / "summary.json").is_file()


def test_resume_refuses_changed_options_but_extends_epochs(tmp_path, shd_dir):
    run = tmp_path / "run"
    _quiet_train(run, shd_dir, TrainConfig(epochs=1, **FAST), SMALL_MODEL)
    with pytest.raises(SnnDeployError, match="hidden"):
        _quiet_train(run, shd_dir, TrainConfig(epochs=2), dict(hidden=64), resume=True, explicit={"epochs"})
    with pytest.raises(SnnDeployError, match="batch_size"):
        _quiet_train(run, shd_dir, TrainConfig(epochs=2, batch_size=7), {}, resume=True,
                     explicit={"epochs", "batch_size"})
    result = _quiet_train(run, shd_dir, TrainConfig(epochs=2), {}, resume=True, explicit={"epochs"})
    assert result.epochs == 2 and result.resumed_from_epoch == 1
    assert [r["epoch"] for r in _metrics(run)] == [1, 2]


def test_max_over_time_loss_trains(tmp_path, shd_dir):
    result = _quiet_train(tmp_path / "run", shd_dir, TrainConfig(epochs=2, max_over_time_loss=True, **FAST),
                          SMALL_MODEL)
    rows = _metrics(tmp_path / "run")
    assert all(np.isfinite(r["loss"]) for r in rows) and 0.0 <= result.test_acc <= 1.0
    assert load_checkpoint(tmp_path / "run" / "model.pt").train_config.max_over_time_loss is True


def _corrupt(data_dir, how):
    path = data_dir / "train.h5"
    with h5py.File(path, "r+") as f:
        if how == "no_times":
            del f["spikes/times"]
        elif how == "bad_label":
            labels = f["labels"][()]
            labels[0] = 99
            del f["labels"]
            f.create_dataset("labels", data=labels)


@pytest.mark.parametrize(
    "case, match",
    [
        ("missing_data", "no such data directory"),
        ("no_times", "spikes/times"),
        ("bad_label", "label 99"),
        ("unknown_model", "unknown model 'transformer'"),
        ("hidden_zero", "hidden must be a positive integer"),
    ],
)
def test_bad_input_raises_one_clear_error_and_leaves_no_run_dir(tmp_path, shd_factory, case, match):
    data = shd_factory(train_per_class=4, test_per_class=2)
    model = dict(SMALL_MODEL)
    if case == "missing_data":
        data = tmp_path / "nowhere"
    elif case in ("no_times", "bad_label"):
        _corrupt(data, case)
    elif case == "unknown_model":
        model["model"] = "transformer"
    elif case == "hidden_zero":
        model["hidden"] = 0
    run = tmp_path / "run"
    with pytest.raises(SnnDeployError, match=match) as info:
        _quiet_train(run, data, TrainConfig(epochs=1, **FAST), model)
    assert "\n" not in str(info.value)
    assert not run.exists(), "a failed start left a run directory behind"
