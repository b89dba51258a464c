"""The robustness suite: the CLI attacked as a hostile or careless user would, in subprocesses.

Each test runs ``snn-deploy`` exactly as a user does (a child process, its exit code, its stderr)
and asserts what a careful user expects: one ``error: <path or option>: <what>`` line, the right
exit code (2 usage, 1 failure, 130 interrupt), no marker file written by planted code, no byte of a
file the command does not own changed, no process or temporary directory left behind.
Helpers are in ``clitools.py``. The session fixture ``pipeline`` is the tiny pipeline made through
the CLI: ``pipeline.data`` (SHD-layout set), ``pipeline.run`` (train run with model.pt, last.pt),
``pipeline.out`` (convert OUT with network.h5, and activity.h5 from an emulator run). Tests that
change files copy them first (``clitools.copy_tree``).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from clitools import TINY_TRAIN, run_cli
from shd_files import make_shd_dataset


@dataclass
class Pipeline:
    data: Path
    run: Path
    out: Path


@pytest.fixture(scope="session")
def pipeline(tmp_path_factory) -> Pipeline:
    """data -> train (1 epoch, lif 8 hidden) -> convert (loihi-emu) -> run (emulator): made through the CLI."""
    root = tmp_path_factory.mktemp("robust_pipeline")
    data = make_shd_dataset(root / "data", train_per_class=8, test_per_class=4)
    run, out = root / "run", root / "run" / "loihi"
    steps = [
        ("train", "--data", data, "-o", run, *TINY_TRAIN, "--quiet"),
        ("convert", run / "model.pt", "--target", "loihi-emu", "-o", out),
        ("run", out, "--data", data, "--no-progress"),
    ]
    for step in steps:
        result = run_cli(*step)
        assert result.returncode == 0, f"{step}: {result.stderr[-3000:]}"
    return Pipeline(data=data, run=run, out=out)
