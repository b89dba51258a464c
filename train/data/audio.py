"""Audio data sets (Heidelberg Digits, Speech Commands v0.02): placeholder until their loaders land."""
from __future__ import annotations

from pathlib import Path


def detect_layout(data_dir: Path) -> str | None:
    return None


def open_audio_dataset(data_dir: Path, layout: str, split: str, *, time_steps: int):
    raise NotImplementedError(layout)
