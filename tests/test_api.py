"""The Python API (README's "Python API" example, run verbatim) and the CLI conventions of issue 11.

One module-scoped run of the README example (tiny generated data in place of synth-digits) feeds
the other tests: its checkpoint for ``eval --json``, its conversion for ``sd.run`` on arrays.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]


def readme_example() -> str:
    """The ```python block of README.md's "## Python API" section."""
    text = (ROOT / "README.md").read_text()
    section = text.split("## Python API", 1)[1].split("\n## ", 1)[0]
    match = re.search(r"```python\n(.*?)```", section, re.S)
    assert match, "README.md's Python API section has no ```python block"
    return match.group(1)


@pytest.fixture(scope="module")
def example(tmp_path_factory, shd_dir):
    """Run the README example verbatim in a temp dir holding data/digits (conftest's set: 4 classes,
    40 channels, 96 train / 32 test samples)."""
    work = tmp_path_factory.mktemp("api")
    shutil.copytree(shd_dir, work / "data" / "digits")
    cwd = os.getcwd()
    os.chdir(work)
    try:
        namespace: dict = {}
        exec(compile(readme_example(), "README.md", "exec"), namespace)
    finally:
        os.chdir(cwd)
    return work, namespace


def test_readme_example_chains_in_memory(example):
    work, ns = example
    trained, conversion, activity, report = ns["trained"], ns["conversion"], ns["activity"], ns["report"]
    assert trained.checkpoint == Path("runs/api/model.pt") and (work / trained.checkpoint).is_file()
    assert 0.0 <= trained.test_accuracy <= 1.0 and trained.metrics["epochs"] == 2
    assert conversion.network.is_fixed and not conversion.float_network.is_fixed
    assert conversion.comparison["samples"] == 32
    assert activity.num_samples == 32 and activity.backend == "emulator" and activity.accuracy is not None
    assert activity.accuracy == pytest.approx(conversion.comparison["fixed_accuracy"])
    # nothing but the training run and the report written: the stages chained in memory
    assert not list(work.rglob("activity.h5")) and not list(work.rglob("network.h5"))
    written = sorted(p.name for p in (work / "runs/api/energy").iterdir() if not p.name.startswith("."))
    assert written == ["energy.json", "energy.md", "energy_per_layer.png"]
    assert json.loads(report.to_json()) == json.loads((work / "runs/api/energy/energy.json").read_text())
    assert "gru" in report.to_markdown() and "loihi1" in report.headline()


def test_stage_packages_stay_callable_after_submodule_imports(example):
    import snn_deploy as sd
    import snn_deploy.convert.quantize  # noqa: F401  (sets the attribute on the parent package)
    import snn_deploy.energy.counting  # noqa: F401
    import snn_deploy.train.checkpoint  # noqa: F401

    assert callable(sd.train) and callable(sd.convert) and callable(sd.energy) and callable(sd.run)
    assert sd.train.checkpoint.load_model is not None
    _, ns = example
    # sd.run on an array, no labels: accuracy unknown; energy still counts it
    frames = np.random.default_rng(0).poisson(0.05, size=(3, 50, 40)).astype(np.uint8)
    act = sd.run(ns["conversion"].network, frames, backend="emulator")
    assert act.num_samples == 3 and act.accuracy is None and act.predictions.shape == (3,)
    rep = sd.energy(ns["conversion"], act, profiles=["loihi2"])
    assert rep.runs[0].counts.accuracy is None and rep.to_dict()["runs"]
    from snn_deploy.errors import UsageError

    with pytest.raises(UsageError, match="unknown training option"):
        sd.train("data", model="lif", hiddne=8)


def test_lava_missing_is_one_clear_error(example, monkeypatch):
    import snn_deploy as sd
    from snn_deploy.deploy import backends

    monkeypatch.setattr(backends, "lava_installed", lambda: False)
    frames = np.zeros((1, 50, 40), np.uint8)
    with pytest.raises(backends.LavaMissing, match=re.escape("pip install 'snn-deploy[lava]'")):
        sd.run(example[1]["conversion"], frames, backend="lava")


def test_import_is_light_and_every_option_has_help():
    code = ("import sys, snn_deploy as sd; sd.train; sd.convert; sd.energy; "
            "assert 'torch' not in sys.modules and 'lava' not in sys.modules, 'heavy import'; "
            "import snn_deploy.train.checkpoint; assert callable(sd.train)")
    subprocess.run([sys.executable, "-c", code], check=True)   # the same snn_deploy as this process (env, venv)

    from snn_deploy.cli import build_parser, leaf_parsers

    leaves = leaf_parsers(build_parser())
    assert {p.prog.split(" ", 1)[1] for p in leaves} >= {"train", "eval", "convert", "run", "energy", "data info",
                                                           "data synth-digits", "data encode", "data download"}
    missing = [f"{p.prog} {a.option_strings or a.dest}" for p in leaves for a in p._actions
               if not a.help and not isinstance(a, argparse._HelpAction)]
    assert not missing, f"options without help: {missing}"
    for p in leaves:
        opts = {o for a in p._actions for o in a.option_strings}
        assert {"-q", "--quiet", "-v", "--verbose"} <= opts, p.prog


def test_json_means_print_json_out_means_write(example, tmp_path, capsys, monkeypatch):
    from snn_deploy.cli import main

    work, ns = example
    ckpt, data = str(work / ns["trained"].checkpoint), str(work / "data/digits")
    assert main(["eval", ckpt, "--data", data, "--json"]) == 0
    out = capsys.readouterr()
    printed = json.loads(out.out)
    assert printed["samples"] == 32 and "\r" not in out.err          # stderr is no terminal: no bar
    assert main(["eval", ckpt, "--data", data, "--json-out", str(tmp_path / "e.json"), "-q"]) == 0
    assert json.loads((tmp_path / "e.json").read_text())["accuracy"] == printed["accuracy"]
    assert "accuracy" in capsys.readouterr().out
    assert main(["eval", ckpt, "--data", data, "--json", str(tmp_path / "old.json")]) == 0   # old spelling
    assert (tmp_path / "old.json").is_file() and "deprecated" in capsys.readouterr().err
    assert main(["data", "info", str(Path(data) / "test.h5"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["samples"] == 32
    assert main(["data", "info", str(Path(data) / "test.h5"), "--json-out", str(tmp_path / "i.json")]) == 0
    assert json.loads((tmp_path / "i.json").read_text())["samples"] == 32


def test_progress_bars_only_on_a_terminal_and_not_with_quiet(monkeypatch):
    from snn_deploy import log

    class Tty:
        def isatty(self):
            return True

        def write(self, s):
            pass

        def flush(self):
            pass

    monkeypatch.setattr(sys, "stderr", Tty())
    log.setup_logging()
    assert log.progress_enabled() and not log.progress_enabled(False)
    log.setup_logging(quiet=True)
    assert not log.progress_enabled()
    log.setup_logging()


def test_an_ann_training_line_names_no_firing_rates(example, capsys):
    from snn_deploy.cli import main

    work, _ = example
    run = work / "runs" / "gru"
    assert main(["train", "--data", str(work / "data/digits"), "-o", str(run), "--model", "gru", "--layers", "2",
                 "--hidden", "8", "--epochs", "1", "--time-steps", "20"]) == 0
    out = capsys.readouterr()
    assert "epoch 1/1" in out.err and "rates" not in out.err
    assert "test accuracy" in out.out and "firing rates" not in out.out
