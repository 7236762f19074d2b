"""Plain JSON from values that hold numpy scalars (model metadata, metrics, fitted laws)."""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np


def json_default(value: Any) -> Any:
    """``json.dumps(..., default=json_default)``: numpy scalars as Python numbers."""
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"not JSON-serializable: {type(value).__name__}")


def json_roundtrip(value: Any) -> Any:
    """``value`` as JSON would read it back: numpy scalars become numbers, tuples lists (NaN
    stays NaN)."""
    return json.loads(json.dumps(value, default=json_default, allow_nan=True))


def plain(value: Any) -> Any:
    """Nested dicts/lists with string keys and Python scalars; a non-finite float (Python's or
    numpy's) becomes None (strict JSON has no NaN)."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()  # a numpy NaN is as non-finite as Python's
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
