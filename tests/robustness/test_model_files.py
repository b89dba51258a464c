"""Hostile and broken model files, and training options that would not fit (issue 10, model part).

Every file here is one a stranger could hand a user as ``model.pt`` / ``last.pt`` / a baseline:
a TorchScript archive whose ``__setstate__`` writes a file when loaded, a pickle whose
``__reduce__`` does, random bytes, HDF5, NaN/inf weights, a config claiming 10^7 neurons, a
tampered training state. Each command must refuse in one line (exit 1), run no code from the file
(no marker appears) and write nothing; bad option values exit 2 naming the option.

To stay within the suite's time budget every command of this file runs in ONE child process (the
module fixture ``attacks``; ``clitools.run_many`` calls ``snn_deploy.cli.main`` once per command,
each with its own stdout/stderr), paying the torch import once instead of per command. Each
``prepare_*`` function makes its files and returns its commands; each test checks their results.
"""
from __future__ import annotations

import pickle
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

from clitools import TINY_TRAIN, assert_one_line_error, digest_tree, run_many

RUN_FILES = ("run.json", "metrics.jsonl", "model.pt", "last.pt", "summary.json")

class _WritesOnLoad(torch.nn.Module):
    """Scripted, its ``__setstate__`` (run by torch.jit.load) creates the file named in its state."""

    def __init__(self, marker: str) -> None:
        super().__init__()
        self.marker = marker
        self.w = torch.zeros(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x

    @torch.jit.export
    def __getstate__(self) -> tuple[str, torch.Tensor, bool]:
        return (self.marker, self.w, self.training)

    @torch.jit.export
    def __setstate__(self, state: tuple[str, torch.Tensor, bool]) -> None:
        self.marker = state[0]
        self.w = torch.from_file(state[0], True, 8)  # shared=True: creates the file
        self.training = state[2]


def torchscript_writing(path: Path, marker: Path) -> Path:
    torch.jit.save(torch.jit.script(_WritesOnLoad(str(marker))), str(path))
    return path


class _OpensOnLoad:
    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def copy_run(src: Path, dst: Path) -> Path:
    dst.mkdir(parents=True)
    for name in RUN_FILES:
        (dst / name).write_bytes((src / name).read_bytes())
    return dst


def _payload(path: Path) -> dict:
    return torch.load(path, weights_only=True)


def _tampered(src: Path, dst: Path, change) -> Path:
    payload = _payload(src)
    change(payload)
    torch.save(payload, dst)
    return dst


def prepare_torchscript(pipeline, tmp: Path) -> dict:
    marker = tmp / "scratch" / "marker"
    marker.parent.mkdir()
    evil = torchscript_writing(tmp / "model.pt", marker)
    evil_onnx = tmp / "model.onnx"
    evil_onnx.write_bytes(evil.read_bytes())
    run = copy_run(pipeline.run, tmp / "run")
    (run / "last.pt").write_bytes(evil.read_bytes())
    outputs = [tmp / "eval.json", tmp / "export.h5", tmp / "convert", tmp / "energy", tmp / "energy2"]
    commands = [
        (("eval", evil, "--data", pipeline.data, "--json", outputs[0]), evil),
        (("export", evil, "-o", outputs[1]), evil),
        (("convert", evil, "--target", "loihi-emu", "-o", outputs[2]), evil),
        (("train", "--data", pipeline.data, "-o", run, "--resume", "--quiet"), run / "last.pt"),
        (("energy", pipeline.out, "--baseline", evil, "--no-plots", "-o", outputs[3]), evil),
        (("energy", pipeline.out, "--baseline", evil_onnx, "--no-plots", "-o", outputs[4]), evil_onnx),
    ]
    return dict(marker=marker, outputs=outputs, run=run, run_before=digest_tree(run),
                commands=[c for c, _ in commands], files=[f for _, f in commands])


def prepare_foreign(pipeline, tmp: Path) -> dict:
    marker = tmp / "pickle_marker"
    files = {
        "random.pt": (np.random.default_rng(0).bytes(4096), "random bytes (no known format)"),
        "hdf5.pt": ((pipeline.out / "network.h5").read_bytes(), "an HDF5 file"),
        "evil_pickle.pt": (pickle.dumps(_OpensOnLoad(marker), protocol=2), "a Python pickle (protocol 2)"),
    }
    commands, expected = [], []
    for name, (content, description) in files.items():
        (tmp / name).write_bytes(content)
        commands.append(("export", tmp / name, "-o", tmp / f"{name}.h5"))
        expected.append((tmp / name, description))
    zipped = tmp / "zip.pt"
    with zipfile.ZipFile(zipped, "w") as z:
        z.writestr("notes.txt", "hello")
    commands.append(("eval", zipped, "--data", pipeline.data, "--json", tmp / "zip.json"))
    expected.append((zipped, "a ZIP archive"))
    return dict(marker=marker, commands=commands, expected=expected)


def prepare_weights(pipeline, tmp: Path) -> dict:
    model = pipeline.run / "model.pt"
    name = next(k for k, v in _payload(model)["state_dict"].items() if v.is_floating_point() and v.dim() == 2)

    def poison(value):
        def change(payload):
            payload["state_dict"][name].view(-1)[0] = value
        return change

    def claim_hidden(payload):
        payload["model_config"]["hidden"] = 10_000_000

    nan = _tampered(model, tmp / "nan.pt", poison(float("nan")))
    inf = _tampered(model, tmp / "inf.pt", poison(float("inf")))
    huge = _tampered(model, tmp / "huge.pt", claim_hidden)
    text = _tampered(model, tmp / "text.pt", lambda p: p["model_config"].__setitem__("hidden", "8"))
    out = tmp / "out"
    commands = [
        ("export", nan, "-o", out / "nan.h5"),
        ("convert", nan, "--target", "loihi-emu", "-o", out / "nan"),
        ("convert", inf, "--target", "loihi-emu", "-o", out / "inf"),
        ("export", huge, "-o", out / "huge.h5"),
        ("eval", huge, "--data", pipeline.data, "--json", out / "huge.json"),
        ("export", text, "-o", out / "text.h5"),
    ]
    return dict(name=name, files=[nan, nan, inf, huge, huge, text], out=out, commands=commands)


def _tamper_state(field: str, value):
    def change(payload):
        if value is _DROP:
            del payload["train_state"][field]
        else:
            payload["train_state"][field] = value(payload["train_state"]) if callable(value) else value
    return change


_DROP = object()


def _bad_adam_moment(state):
    optimizer = state["optimizer"]
    entry = next(iter(optimizer["state"].values()))
    entry["exp_avg"] = torch.zeros(3, 3, 3)
    return optimizer


def _two_epochs_done(state):
    state["history"] = state["history"] * 2
    return 2


RESUME_CASES = {  # run copy -> (change to last.pt's train_state, words of the error, exit code)
    "missing": (_tamper_state("optimizer", _DROP), ["train_state.optimizer", "missing"], 1),
    "type": (_tamper_state("epoch", "1"), ["train_state.epoch", "expected int"], 1),
    "shape": (_tamper_state("optimizer", _bad_adam_moment), ["train_state.optimizer.state", "exp_avg", "shape"], 1),
    "rng": (_tamper_state("rng", lambda s: [dict(s["rng"][0], torch=torch.zeros(3, dtype=torch.uint8))]),
            ["train_state.rng[0]"], 1),
    "scheduler": (_tamper_state("scheduler", lambda s: dict(s["scheduler"], factor="x")),
                  ["train_state.scheduler.factor"], 1),
    "lr": (_tamper_state("optimizer", lambda s: dict(s["optimizer"], param_groups=[
        dict(s["optimizer"]["param_groups"][0], lr="0.1")])), ["train_state.optimizer.param_groups[0].lr"], 1),
    "epochs": (_tamper_state("epoch", _two_epochs_done), ["--epochs 1", "already done 2 epochs"], 2),
}


def prepare_resume(pipeline, tmp: Path) -> dict:
    runs, before = {}, {}
    for name, (change, _, _) in RESUME_CASES.items():
        run = copy_run(pipeline.run, tmp / name)
        _tampered(run / "last.pt", run / "last.pt", change)
        runs[name], before[name] = run, digest_tree(run)
    commands = [("train", "--data", pipeline.data, "-o", run, "--resume", "--epochs", "1", "--quiet")
                for run in runs.values()]
    return dict(runs=runs, before=before, commands=commands)


def _tiny(**changes) -> list[str]:
    args = list(TINY_TRAIN)
    for option, value in changes.items():
        flag = "--" + option.replace("_", "-")
        if flag in args:
            args[args.index(flag) + 1] = str(value)
        else:
            args += [flag, str(value)]
    return args


SIZE_CASES = [  # (train options, words of the error)
    (_tiny(batch_size=0), ["--batch-size", "positive"]),
    (_tiny(hidden=0), ["--hidden", "positive"]),
    (_tiny(model="radlif", layers=3, hidden=100_000), ["--hidden 100000", "needs ~", "GiB available"]),
    (_tiny(time_steps=100_000_000), ["--time-steps 100000000", "needs ~", "GiB available"]),
]


def prepare_sizes(pipeline, tmp: Path) -> dict:
    commands = [("train", "--data", pipeline.data, "-o", tmp / f"run{i}", *args, "--quiet")
                for i, (args, _) in enumerate(SIZE_CASES)]
    commands.append(("eval", pipeline.run / "model.pt", "--data", pipeline.data, "--batch-size", "0"))
    return dict(commands=commands, tmp=tmp)


PREPARE = {"torchscript": prepare_torchscript, "foreign": prepare_foreign, "weights": prepare_weights,
           "resume": prepare_resume, "sizes": prepare_sizes}


@pytest.fixture(scope="module")
def attacks(pipeline, tmp_path_factory) -> dict:
    """``{case: its prepare_* dict + "results" (one CliResult per command)}``, all run in one child process."""
    cases = {}
    for name, prepare in PREPARE.items():
        tmp = tmp_path_factory.mktemp(f"model_files_{name}")
        cases[name] = prepare(pipeline, tmp)
    commands = [c for case in cases.values() for c in case["commands"]]
    results = iter(run_many(*commands))
    for case in cases.values():
        case["results"] = [next(results) for _ in case["commands"]]
    return cases


def test_torchscript_archive_is_refused_without_running_its_code(attacks, tmp_path):
    # the attack is real: torch.jit.load (which torch.load calls for such an archive) writes the marker
    probe_marker = tmp_path / "probe_marker"
    torch.jit.load(str(torchscript_writing(tmp_path / "probe.pt", probe_marker)))
    assert probe_marker.exists()

    case = attacks["torchscript"]
    for result, file in zip(case["results"], case["files"]):
        assert_one_line_error(result, str(file), "TorchScript archive", code=1)
    assert not case["marker"].exists(), "loading ran code from the TorchScript archive"
    assert not any(p.exists() for p in case["outputs"])
    assert digest_tree(case["run"]) == case["run_before"]


def test_foreign_files_are_named_for_what_they_are(attacks):
    case = attacks["foreign"]
    for result, (path, description) in zip(case["results"], case["expected"]):
        assert_one_line_error(result, str(path), description, code=1)
    assert not case["marker"].exists(), "loading ran the pickle's __reduce__"
    assert not any(Path(c[-1]).exists() for c in case["commands"])


def test_broken_weights_and_lying_configs_are_refused(attacks):
    case = attacks["weights"]
    for result, path in zip(case["results"][:3], case["files"]):
        assert_one_line_error(result, str(path), case["name"], "NaN or infinite", code=1)
    for result, path in zip(case["results"][3:5], case["files"][3:5]):
        assert_one_line_error(result, str(path), "model_config.hidden is 10000000", code=1)
    assert_one_line_error(case["results"][5], str(case["files"][5]), "model_config: hidden must be int", code=1)
    assert not case["out"].exists()


def test_quantize_refuses_non_finite_values_of_a_network_built_in_python(pipeline):
    from snn_deploy.convert.quantize import quantize_network
    from snn_deploy.errors import SnnDeployError
    from snn_deploy.ir import DenseNode
    from snn_deploy.train.export import checkpoint_to_ir

    net = checkpoint_to_ir(pipeline.run / "model.pt")
    dense = next(n for n in net.nodes if isinstance(n, DenseNode))
    for value in (np.nan, np.inf):
        dense.weight[0, 0] = value
        with pytest.raises(SnnDeployError, match=f"node '{dense.name}': weight holds 1 NaN or infinite"):
            quantize_network(net, "loihi2")


def test_resume_checks_the_training_state_and_epochs(attacks):
    case = attacks["resume"]
    for (name, (_, words, code)), result in zip(RESUME_CASES.items(), case["results"]):
        line = assert_one_line_error(result, *words, code=code)
        if code == 1:
            assert str(case["runs"][name] / "last.pt") in line
        assert digest_tree(case["runs"][name]) == case["before"][name], f"{name}: the refused resume changed the run"


def test_size_options_are_checked_before_allocating(attacks):
    case = attacks["sizes"]
    for result, (_, words) in zip(case["results"], SIZE_CASES):
        assert_one_line_error(result, *words, code=2)
    assert_one_line_error(case["results"][-1], "--batch-size", code=2)
    assert not list(case["tmp"].iterdir()), "a refused train created its run directory"


def test_filekind_tells_formats_apart_from_their_bytes(tmp_path, pipeline):
    import io
    import tarfile

    from snn_deploy.filekind import identify
    from snn_deploy.errors import FormatError
    from snn_deploy.train.checkpoint import load_checkpoint

    tar = tmp_path / "a.tar"
    with tarfile.open(tar, "w") as t:
        info = tarfile.TarInfo("storages")
        t.addfile(info, io.BytesIO(b""))
    legacy = tmp_path / "legacy.pt"
    torch.save({"a": torch.zeros(2)}, legacy, _use_new_zipfile_serialization=False)
    deflated = tmp_path / "deflated.pt"
    with zipfile.ZipFile(pipeline.run / "model.pt") as src, zipfile.ZipFile(deflated, "w", zipfile.ZIP_DEFLATED) as dst:
        for member in src.namelist():
            dst.writestr(member, src.read(member))
    samples = {
        "w.wav": (b"RIFF\x24\0\0\0WAVEfmt " + bytes(28), "wav"),
        "f.flac": (b"fLaC" + bytes(40), "flac"),
        "d.json": (b'  {"format": "x"}', "json"),
        "t.txt": ("héllo\n".encode(), "text"),
        "e.pt": (b"", "empty"),
        "n.npy": (b"\x93NUMPY\x01\x00" + bytes(20), "npy"),
        "u.h5": (bytes(512) + b"\x89HDF\r\n\x1a\n" + bytes(64), "hdf5"),  # after a 512-byte user block
        "m.onnx": (b"\x08\x07\x12\x04test", "onnx"),
    }
    for name, (content, kind) in samples.items():
        (tmp_path / name).write_bytes(content)
        assert identify(tmp_path / name).name == kind, name
    assert identify(tar).name == "tar" and identify(legacy).name == "pickle"
    assert identify(pipeline.run / "model.pt").name == "torch-zip"
    assert identify(tmp_path).name == "directory" and identify(tmp_path / "nope").name == "missing"
    for path, words in ((tar, "a tar archive"), (legacy, "a Python pickle"), (deflated, "compressed members")):
        with pytest.raises(FormatError, match=words):
            load_checkpoint(path)
