"""sparch checkpoints (issue 12 item 4): imported without running the file, spiking as sparch's own code.

The fixtures (tests/fixtures/sparch/<case>.pt + .npz) were made by tests/interop/make_sparch_fixtures.py
running idiap/sparch itself in a scratch environment: the whole pickled module as sparch's exp.py
saves it, and sparch's forward on a fixed input from a zero initial state (hidden spikes ``h1``,
``h2``, their ``u - threshold`` per step ``v1``, ``v2``, and the readout's output ``out``).
"""
from __future__ import annotations

import json
import pickle
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

from snn_deploy.cli import main
from snn_deploy.errors import FormatError
from snn_deploy.train.sparch_import import (SPARCH_CLASSES, is_sparch_checkpoint, load_sparch_model,
                                            read_sparch_records, sparch_to_config)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "sparch"
CASES = [f"{neuron}_{bn}" for neuron in ("lif", "adlif", "rlif", "radlif") for bn in ("bn", "nobn")]


def fixture(case: str) -> tuple[Path, dict[str, np.ndarray]]:
    with np.load(FIXTURES / f"{case}.npz") as arrays:
        return FIXTURES / f"{case}.pt", dict(arrays)


def guard_spikes(ref: dict[str, np.ndarray]) -> None:
    """A comparison of silent layers would prove nothing."""
    for key in ("h1", "h2"):
        assert ref[key].sum() >= 10, f"{key} of the fixture hardly spikes"


def written_out_forward(layer: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    """DESIGN.md section 3's equations in sparch's written-out order, on the imported layer's parameters:
    ``w = β w + a u + b s``; ``u = α (u - s) + (1 - α)(I + s V^T - w)``; ``s = H(u - 1)`` from zero."""
    I = layer.ff(x)
    p = layer.params.values()
    V = layer.rec.effective().t() if layer.rec is not None else None
    u = w = s = torch.zeros(I.shape[0], I.shape[2])
    out = []
    for t in range(I.shape[1]):
        J = I[:, t] + (s @ V if V is not None else 0.0)
        if "beta" in p:
            w = p["beta"] * w + p["a"] * u + p["b"] * s
            u = p["alpha"] * (u - s) + (1 - p["alpha"]) * (J - w)
        else:
            u = p["alpha"] * (u - s) + (1 - p["alpha"]) * J
        s = (u - 1.0).gt(0).float()
        out.append(s)
    return torch.stack(out, 1)


@pytest.mark.parametrize("case", CASES)
def test_imported_parameters_reproduce_sparch_spike_for_spike(case):
    """Weights, batch-norm, V (transposed), α, β, a, b come in exactly: the equations in sparch's
    operation order on them give every one of sparch's recorded spikes."""
    path, ref = fixture(case)
    guard_spikes(ref)
    model, cfg, meta = load_sparch_model(path)
    assert cfg.model == case.split("_")[0]   # sparch's neuron names are ours and cfg.batch_norm == case.endswith("_bn")
    assert (cfg.input_size, cfg.num_classes, cfg.layers, cfg.hidden) == (40, 4, 3, 12)
    assert (meta["time_steps"], meta["duration"]) == (100, 1.4)
    h = torch.from_numpy(ref["x"])
    with torch.no_grad():
        for i, layer in enumerate(model.layers, start=1):
            h = written_out_forward(layer, h)
            np.testing.assert_array_equal(h.numpy(), ref[f"h{i}"], err_msg=f"{case} h{i}")


@pytest.mark.parametrize("case", CASES)
def test_imported_model_spikes_like_sparch(case):
    """Our float model's own forward. LIF and RLIF: every spike and the readout equal. adLIF and RadLIF:
    our step is a lerp (DESIGN.md section 3), sparch's is written out; the two round differently by an
    ulp, and about half of an adLIF layer is linearly unstable (a < -(1-β)), which doubles such a
    difference every few steps (measured: 1e-7 at t=5, 1e-5 at t=20, 1e-2 at t=45 on adlif_bn). So:
    potentials equal to float rounding while the difference is small (first 10 steps), and at least
    99% of spikes equal over the whole 60 steps; the exact test above shows the parameters are right."""
    path, ref = fixture(case)
    model, _, _ = load_sparch_model(path)
    x = torch.from_numpy(ref["x"])
    with torch.no_grad():
        out = model(x)
        _, v1 = model.layers[0](x, record_potential=True)
    np.testing.assert_allclose(v1.numpy()[:, :10] - 1.0, ref["v1"][:, :10], rtol=0, atol=1e-6)
    if case.startswith(("lif", "rlif")):
        for i, spikes in enumerate(out.layer_spikes, start=1):
            np.testing.assert_array_equal(spikes.numpy(), ref[f"h{i}"], err_msg=f"{case} h{i}")
        np.testing.assert_allclose(out.logits.numpy(), ref["out"], rtol=0, atol=1e-4)
    else:
        for i, spikes in enumerate(out.layer_spikes, start=1):
            agree = float((spikes.numpy() == ref[f"h{i}"]).mean())
            assert agree >= 0.99, f"{case} h{i}: {agree:.4f} of spikes agree"


def test_mapping_table_names_every_sparch_tensor():
    """The table the catalogue folds in covers sparch's four layer classes and the readout."""
    assert {"LIFLayer", "adLIFLayer", "RLIFLayer", "RadLIFLayer", "ReadoutLayer"} == set(SPARCH_CLASSES)
    assert SPARCH_CLASSES["RadLIFLayer"].params["V.weight"] == ("rec.weight", "transpose")


def _evil_archive(path: Path, body: bytes) -> Path:
    """A torch.save-shaped ZIP whose pickle starts like a sparch SNN, then holds ``body`` in its state."""
    pkl = (b"\x80\x02csparch.models.snns\nSNN\n)\x81}X\x04\x00\x00\x00evil" + body + b"sb.")
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
        z.writestr("evil/data.pkl", pkl)
        z.writestr("evil/byteorder", "little")
        z.writestr("evil/version", "3\n")
    return path


class _RunsOnLoad:
    def __init__(self, marker: Path) -> None:
        self.command = f"touch {marker}"

    def __reduce__(self):
        import os
        return (os.system, (self.command,))


def test_malicious_pickle_is_refused_before_it_runs(tmp_path, capsys):
    marker = tmp_path / "marker"
    body = pickle.dumps(_RunsOnLoad(marker), protocol=2)[2:-1]   # without PROTO and STOP
    evil = _evil_archive(tmp_path / "evil.pt", body)
    assert is_sparch_checkpoint(evil)   # it is routed to the restricted unpickler, not to torch.load
    with pytest.raises(FormatError, match=r"not loadable: it holds posix\.system, which a sparch checkpoint"):
        load_sparch_model(evil)
    assert main(["convert", str(evil), "--target", "loihi-emu", "-o", str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"error: {evil}: not loadable: it holds posix.system"), err
    assert not marker.exists() and not (tmp_path / "out").exists()


def test_getattr_beyond_the_spike_function_is_refused(tmp_path):
    body = b"c__builtin__\ngetattr\ncsparch.models.snns\nSNN\nX\x08\x00\x00\x00__init__\x86R"
    evil = _evil_archive(tmp_path / "getattr.pt", body)
    with pytest.raises(FormatError, match=r"builtins\.getattr\(sparch\.models\.snns\.SNN, '__init__'\)"):
        read_sparch_records(evil)


class _WritesOnLoad(torch.nn.Module):
    def __init__(self, marker: str) -> None:
        super().__init__()
        self.marker = marker

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x

    @torch.jit.export
    def __getstate__(self) -> tuple[str, bool]:
        return (self.marker, self.training)

    @torch.jit.export
    def __setstate__(self, state: tuple[str, bool]) -> None:
        self.marker = state[0]
        torch.from_file(state[0], True, 8)  # shared=True: creates the file
        self.training = state[1]


def test_torchscript_archive_is_refused(tmp_path):
    marker = tmp_path / "ts_marker"
    path = tmp_path / "scripted.pt"
    torch.jit.save(torch.jit.script(_WritesOnLoad(str(marker))), str(path))
    assert not is_sparch_checkpoint(path)
    with pytest.raises(FormatError, match="not a sparch checkpoint: the file is a TorchScript archive"):
        load_sparch_model(path)
    assert not marker.exists()


@pytest.mark.parametrize("field, value, needle", [
    ("threshold", 0.5, "snn.0.threshold: 0.5; only threshold 1.0 converts"),
    ("alpha_lim", [0.5, 0.99], "snn.0.alpha_lim"),
])
def test_inexpressible_layers_are_refused(field, value, needle):
    path, _ = fixture("adlif_bn")
    root = read_sparch_records(path)
    root.children()["snn"].children()["0"].state[field] = value
    with pytest.raises(FormatError, match=needle.replace(".", r"\.").replace("[", r"\[")):
        sparch_to_config(root, path)


def test_bidirectional_and_layernorm_are_refused():
    path, _ = fixture("lif_bn")
    root = read_sparch_records(path)
    root.state["bidirectional"] = True
    with pytest.raises(FormatError, match="SNN.bidirectional: True"):
        sparch_to_config(root, path)
    root = read_sparch_records(path)
    for layer in root.children()["snn"].children().values():
        layer.state["normalization"] = "layernorm"
    with pytest.raises(FormatError, match="layernorm"):
        sparch_to_config(root, path)


def test_cli_converts_a_sparch_checkpoint_end_to_end(tmp_path, shd_dir):
    """``snn-deploy convert sparch.pt --target loihi-emu --data DIR``: quantized, compared on data."""
    out = tmp_path / "loihi"
    result = subprocess.run([sys.executable, "-m", "snn_deploy", "convert", str(FIXTURES / "radlif_bn.pt"),
                             "--target", "loihi-emu", "--data", str(shd_dir), "--limit", "16", "-o", str(out)],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads((out / "quantization.json").read_text())
    assert [layer["layer"] for layer in report["layers"]] == ["h1", "h2", "readout"]
    assert [layer["model"] for layer in report["layers"]] == ["adlif", "adlif", "li"]
    assert report["comparison"]["samples"] == 16
    assert (out / "network.h5").is_file() and (out / "network_float.h5").is_file()


def test_python_api_and_export_take_a_sparch_path():
    """``sd.convert(path)`` goes through the same import (train/export.py ``checkpoint_to_ir``)."""
    import snn_deploy as sd

    conversion = sd.convert(str(FIXTURES / "rlif_nobn.pt"), target="loihi-emu", progress=False)
    float_net = conversion.float_network
    assert float_net.meta["model"] == "rlif" and float_net.meta["time_steps"] == 100
    layer = read_sparch_records(FIXTURES / "rlif_nobn.pt").children()["snn"].children()["0"]
    sparch_v = layer.children()["V"].tensors()["weight"].numpy()     # sparch computes s @ V.weight
    rec = next(node for node in float_net.nodes if node.name == "rec1")   # ours: V s, V [out, in]
    np.testing.assert_array_equal(rec.weight, sparch_v.T * (1 - np.eye(12, dtype=np.float32)))


def test_a_one_value_storage_cannot_become_a_huge_tensor():
    """stride 0 (or overlapping strides) must not let a 1-value storage clone into gigabytes."""
    from snn_deploy.train.sparch_import import Refused, _rebuild_tensor

    with pytest.raises(Refused, match="values over a storage of 1"):
        _rebuild_tensor(torch.zeros(1), 0, (20000, 20000), (0, 0))
    assert _rebuild_tensor(torch.arange(6.0), 0, (2, 3), (3, 1)).shape == (2, 3)
