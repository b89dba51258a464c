"""JSON for records holding numpy values (reports, IR attributes): one encoder for every stage."""
from __future__ import annotations

import json
from typing import Any

import numpy as np


def json_default(obj: Any) -> Any:
    """``json.dumps(default=...)`` hook: numpy scalars and arrays become plain numbers and lists."""
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    raise TypeError(f"cannot serialize {type(obj).__name__}")


def dumps(obj: Any, **kwargs: Any) -> str:
    return json.dumps(obj, default=json_default, **kwargs)
