"""Shared test fixtures: the generated SHD-layout sets of ``shd_files.py``, one torch thread per test,
and the ``audio`` marker (tests that need torchaudio skip visibly without it)."""
from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Callable

import pytest

from shd_files import make_shd_dataset


def pytest_collection_modifyitems(config, items):
    """Tests marked ``audio`` need torchaudio (the snn-deploy[audio] extra): skipped, visibly, without it."""
    if importlib.util.find_spec("torchaudio") is not None:
        return
    skip = pytest.mark.skip(reason="needs torchaudio (pip install 'snn-deploy[audio]')")
    for item in items:
        if "audio" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def _one_torch_thread():
    """Every test runs torch on one thread: 2 shared cores, and timings that do not depend on them."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def shd_factory(tmp_path_factory) -> Callable[..., Path]:
    """``shd_factory(**kwargs) -> Path``: a fresh directory holding a generated SHD-layout set."""
    counter = iter(range(1_000_000))

    def factory(**kwargs) -> Path:
        return make_shd_dataset(tmp_path_factory.mktemp(f"shd{next(counter)}"), **kwargs)

    return factory


@pytest.fixture(scope="session")
def shd_dir(tmp_path_factory) -> Path:
    """A small default set (4 classes, 40 channels, 96 train / 32 test samples), shared read-only."""
    return make_shd_dataset(tmp_path_factory.mktemp("shd_default"))
