"""model.pt: round trip, safe loading (weights_only), rejection of files that are not ours."""
from __future__ import annotations

import random

import numpy as np
import pytest
import torch

from snn_deploy.errors import FormatError, SnnDeployError
from snn_deploy.train.checkpoint import (
    CHECKPOINT_FORMAT,
    CHECKPOINT_VERSION,
    capture_rng_state,
    load_checkpoint,
    load_model,
    restore_rng_state,
    save_checkpoint,
)
from snn_deploy.train.config import ModelConfig, TrainConfig
from snn_deploy.train.models import build_model

META = {
    "num_channels": 12, "num_classes": 3, "class_names": ["a", "b", "c"], "input_kind": "spikes",
    "time_steps": 10, "duration": 1.4, "dataset": "somewhere", "accuracies": {"valid": 0.5},
}


def _model(model="radlif", hidden=8):
    cfg = ModelConfig(model=model, input_size=12, num_classes=3, layers=2, hidden=hidden, seed=3)
    return build_model(cfg), cfg


def _perturb(model):
    """Move parameters and BN buffers away from their initial values (so a round trip is not trivial)."""
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    model.train()
    model(torch.rand(4, 10, 12) * 2)  # updates BN running statistics
    for module in model.modules():
        if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
            module.running_var.mul_(0.02)  # a small variance: the untrained net spikes in eval mode


def test_round_trip_restores_config_meta_weights_and_outputs(tmp_path):
    torch.manual_seed(0)
    model, cfg = _model()
    _perturb(model)
    path = save_checkpoint(tmp_path / "model.pt", model, cfg, TrainConfig(epochs=3, lr=0.02), META)

    ckpt = load_checkpoint(path)
    assert ckpt.model_config == cfg
    assert ckpt.train_config == TrainConfig(epochs=3, lr=0.02)
    assert ckpt.meta == META
    assert ckpt.train_state is None
    original = model.state_dict()
    assert set(ckpt.state_dict) == set(original)
    for name, tensor in original.items():
        assert torch.equal(ckpt.state_dict[name], tensor), name

    loaded, cfg2, meta2 = load_model(path)
    assert cfg2 == cfg and meta2 == META
    assert not loaded.training
    model.eval()
    x = (torch.rand(3, 10, 12) < 0.3).float()
    out_a, out_b = model(x), loaded(x)
    assert torch.equal(out_a.logits, out_b.logits)
    assert any(s.sum() > 0 for s in out_a.layer_spikes), "guard: the compared network must spike"


def test_file_is_plain_data_loadable_with_weights_only(tmp_path):
    model, cfg = _model()
    path = save_checkpoint(tmp_path / "model.pt", model, cfg, None, META, train_state={"epoch": 2, "best": [0.1]})
    raw = torch.load(path, weights_only=True)
    assert raw["format"] == CHECKPOINT_FORMAT and raw["version"] == CHECKPOINT_VERSION
    assert raw["model_config"]["model"] == "radlif"
    assert raw["train_state"] == {"epoch": 2, "best": [0.1]}
    assert not [p for p in tmp_path.iterdir() if p.name != "model.pt"], "atomic write left a temp file"


class _Payload:
    """A pickle that runs code when loaded unsafely: it would create the marker file."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_stranger_pickle_is_refused_without_running_code(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pt"
    torch.save({"format": CHECKPOINT_FORMAT, "version": 1, "payload": _Payload(marker)}, path)
    with pytest.raises(FormatError, match="evil.pt") as info:
        load_checkpoint(path)
    assert "\n" not in str(info.value)
    assert not marker.exists(), "loading executed code from the file"


@pytest.mark.parametrize(
    "content, expected",
    [
        (b"", "not an snn-deploy checkpoint"),
        (b"hello, I am a text file\n", "not an snn-deploy checkpoint"),
        (b"\x89HDF\r\n\x1a\n" + b"\0" * 64, "not an snn-deploy checkpoint"),
    ],
)
def test_foreign_bytes_are_rejected_with_one_line(tmp_path, content, expected):
    path = tmp_path / "thing.pt"
    path.write_bytes(content)
    with pytest.raises(FormatError, match=expected) as info:
        load_checkpoint(path)
    assert str(path) in str(info.value) and "\n" not in str(info.value)


def test_foreign_torch_files_are_rejected(tmp_path):
    model, cfg = _model()
    plain = tmp_path / "plain_state_dict.pt"
    torch.save(model.state_dict(), plain)
    with pytest.raises(FormatError, match="format tag"):
        load_checkpoint(plain)
    tensor = tmp_path / "tensor.pt"
    torch.save(torch.zeros(3), tensor)
    with pytest.raises(FormatError, match="not an snn-deploy checkpoint"):
        load_checkpoint(tensor)


def test_newer_version_missing_fields_and_bad_config_are_rejected(tmp_path):
    model, cfg = _model()
    good = torch.load(save_checkpoint(tmp_path / "m.pt", model, cfg, None, META), weights_only=True)

    newer = dict(good, version=CHECKPOINT_VERSION + 1)
    torch.save(newer, tmp_path / "newer.pt")
    with pytest.raises(FormatError, match="newer"):
        load_checkpoint(tmp_path / "newer.pt")

    missing = {k: v for k, v in good.items() if k != "state_dict"}
    torch.save(missing, tmp_path / "missing.pt")
    with pytest.raises(FormatError, match="state_dict"):
        load_checkpoint(tmp_path / "missing.pt")

    bad_cfg = dict(good, model_config=dict(good["model_config"], model="transformer"))
    torch.save(bad_cfg, tmp_path / "badcfg.pt")
    with pytest.raises(SnnDeployError, match="transformer"):
        load_checkpoint(tmp_path / "badcfg.pt")

    with pytest.raises(SnnDeployError, match="no such checkpoint"):
        load_checkpoint(tmp_path / "absent.pt")


def test_weights_that_do_not_fit_the_config_are_rejected(tmp_path):
    model, cfg = _model(hidden=8)
    wrong_cfg = ModelConfig(**dict(cfg.to_dict(), hidden=16))
    path = save_checkpoint(tmp_path / "m.pt", model, wrong_cfg, None, META)
    with pytest.raises(FormatError, match="do not fit"):
        load_model(path)


def test_rng_state_round_trip_through_a_safe_file(tmp_path):
    torch.manual_seed(5)
    np.random.seed(6)
    random.seed(7)
    path = tmp_path / "rng.pt"
    torch.save(capture_rng_state(), path)
    first = (torch.rand(4), np.random.rand(4), [random.random() for _ in range(4)])
    torch.manual_seed(99)
    np.random.seed(99)
    random.seed(99)
    restore_rng_state(torch.load(path, weights_only=True))
    again = (torch.rand(4), np.random.rand(4), [random.random() for _ in range(4)])
    assert torch.equal(first[0], again[0])
    assert np.array_equal(first[1], again[1])
    assert first[2] == again[2]


def test_archive_layout_of_newer_torch_is_accepted(tmp_path):
    """torch >= 2.5's torch.save adds .format_version and .storage_alignment to the archive (seen with
    torch 2.14 in CI's newest-Python leg): such a checkpoint must still load; a code/ member still refuses it."""
    import zipfile

    model, cfg = _model()
    old = save_checkpoint(tmp_path / "old.pt", model, cfg, None, META)
    newer = tmp_path / "newer.pt"
    with zipfile.ZipFile(old) as src, zipfile.ZipFile(newer, "w", zipfile.ZIP_STORED) as dst:
        top = src.namelist()[0].split("/", 1)[0]
        for info in src.infolist():
            dst.writestr(info, src.read(info))
        dst.writestr(f"{top}/.format_version", "1")
        dst.writestr(f"{top}/.storage_alignment", "64")
    assert load_checkpoint(newer).model_config == cfg
    with zipfile.ZipFile(newer, "a", zipfile.ZIP_STORED) as dst:
        dst.writestr(f"{top}/code/__torch__.py", "")
    with pytest.raises(FormatError, match="not an snn-deploy checkpoint: the file is a TorchScript archive"):
        load_checkpoint(newer)


def test_a_storage_claiming_more_values_than_it_holds_is_refused_before_torch_reads_it(tmp_path):
    """torch 2.3.1 believes a storage's claimed size and reads past its record: the claim is checked first."""
    import zipfile

    model, cfg = _model()
    good = save_checkpoint(tmp_path / "good.pt", model, cfg, None, META)
    short = tmp_path / "short.pt"
    with zipfile.ZipFile(good) as src, zipfile.ZipFile(short, "w", zipfile.ZIP_STORED) as dst:
        for info in src.infolist():
            data = src.read(info)
            dst.writestr(info, data[:4] if info.filename.endswith("/data/0") else data)   # one value left
    with pytest.raises(FormatError, match=r"storage 0 claims \d+ values but holds 4 bytes"):
        load_checkpoint(short)
    assert load_checkpoint(good).model_config == cfg
