"""ONNX export of the ANN baselines: onnx.checker passes, onnxruntime matches torch, SNNs refused."""
import numpy as np
import pytest
import torch

onnx = pytest.importorskip("onnx")

from snn_deploy.convert.export_onnx import (INPUT_NAME, OUTPUT_NAMES, OnnxExportError,  # noqa: E402
                                            export_onnx)
from snn_deploy.train.config import ModelConfig  # noqa: E402
from snn_deploy.train.models import build_model  # noqa: E402

T, C, K = 12, 10, 4


def trained_like(model_name: str, readout: str = "cumsoftmax") -> tuple[torch.nn.Module, ModelConfig]:
    """A baseline with non-trivial batch-norm statistics (a few forward passes in train mode)."""
    cfg = ModelConfig(model=model_name, input_size=C, num_classes=K, layers=3, hidden=16, readout=readout, seed=3)
    model = build_model(cfg)
    model.train()
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for _ in range(3):
            model(torch.rand(8, T, C, generator=g) * 2.0)
    return model.eval(), cfg


@pytest.mark.parametrize("model_name", ["mlp", "rnn", "libru", "gru"])
def test_onnxruntime_matches_torch(tmp_path, model_name):
    ort = pytest.importorskip("onnxruntime")
    model, cfg = trained_like(model_name)
    path = export_onnx(model, cfg, tmp_path / f"{model_name}.onnx", time_steps=T)
    proto = onnx.load(str(path))
    onnx.checker.check_model(proto)
    assert proto.opset_import[0].version >= 14
    assert [i.name for i in proto.graph.input] == [INPUT_NAME]
    assert [o.name for o in proto.graph.output] == list(OUTPUT_NAMES)
    x = torch.rand(5, T, C, generator=torch.Generator().manual_seed(1)) * 2.0  # batch 5: the dynamic axis
    with torch.no_grad():
        out = model(x)
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    logits, readout = sess.run(list(OUTPUT_NAMES), {INPUT_NAME: x.numpy()})
    assert logits.shape == (5, K) and readout.shape == (5, T, K)
    assert np.std(logits) > 1e-3, "outputs must vary across samples/classes for a meaningful comparison"
    np.testing.assert_allclose(logits, out.logits.numpy(), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(readout, out.readout.numpy(), rtol=1e-4, atol=1e-5)
    assert model.training is False


def test_last_readout_and_training_flag_is_restored(tmp_path):
    ort = pytest.importorskip("onnxruntime")
    model, cfg = trained_like("rnn", readout="max")
    model.train()
    path = export_onnx(model, cfg, tmp_path / "rnn.onnx", time_steps=T)
    assert model.training is True
    model.eval()
    x = torch.rand(3, T, C, generator=torch.Generator().manual_seed(2))
    (logits,) = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(["logits"], {INPUT_NAME: x.numpy()})
    with torch.no_grad():
        np.testing.assert_allclose(logits, model(x).logits.numpy(), rtol=1e-4, atol=1e-5)


def test_spiking_model_is_refused_and_nothing_is_written(tmp_path):
    cfg = ModelConfig(model="cuba_lif", input_size=C, num_classes=K, layers=2, hidden=8)
    with pytest.raises(OnnxExportError, match="'cuba_lif' is spiking.*netx"):
        export_onnx(build_model(cfg), cfg, tmp_path / "snn.onnx", time_steps=T)
    assert list(tmp_path.iterdir()) == []


def test_bad_time_steps_and_opset(tmp_path):
    model, cfg = trained_like("mlp")
    with pytest.raises(OnnxExportError, match="time_steps"):
        export_onnx(model, cfg, tmp_path / "m.onnx", time_steps=0)
    with pytest.raises(OnnxExportError, match="opset 13"):
        export_onnx(model, cfg, tmp_path / "m.onnx", time_steps=T, opset=13)
    assert list(tmp_path.iterdir()) == []


def test_convert_cli_exports_an_ann_checkpoint_to_onnx(tmp_path, capsys):
    ort = pytest.importorskip("onnxruntime")
    from snn_deploy.cli import main
    from snn_deploy.train.checkpoint import load_model, save_checkpoint

    model, cfg = trained_like("libru")
    meta = {"num_channels": C, "num_classes": K, "class_names": list("abcd"), "input_kind": "spikes",
            "time_steps": T, "duration": 1.0}
    ckpt = save_checkpoint(tmp_path / "libru.pt", model, cfg, None, meta)
    out = tmp_path / "out"
    assert main(["convert", str(ckpt), "--target", "loihi-emu", "--export", "onnx", "-o", str(out)]) == 0
    assert "model.onnx" in capsys.readouterr().out
    assert sorted(p.name for p in out.iterdir() if not p.name.startswith(".")) == ["model.onnx"]
    reloaded, _, _ = load_model(ckpt)
    x = torch.rand(2, T, C, generator=torch.Generator().manual_seed(4))
    (logits,) = ort.InferenceSession(str(out / "model.onnx"), providers=["CPUExecutionProvider"]).run(
        ["logits"], {INPUT_NAME: x.numpy()})
    with torch.no_grad():
        np.testing.assert_allclose(logits, reloaded(x).logits.numpy(), rtol=1e-4, atol=1e-5)
    assert main(["convert", str(ckpt), "--target", "loihi-emu", "--export", "nir", "-o", str(tmp_path / "o2")]) == 2
    assert "--export nir is for spiking models" in capsys.readouterr().err
