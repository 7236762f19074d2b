"""Plain JSON from numpy-holding values: what model bundles, the registry and benchmarks print."""

from __future__ import annotations

import json
import math

import numpy as np

from dt_platform.jsonable import json_roundtrip, plain


def test_plain_turns_every_non_finite_float_into_null_numpy_ones_too() -> None:
    value = {
        "python_nan": float("nan"),
        "numpy_nan": np.float64("nan"),
        "numpy_inf": np.float32(np.inf),
        "numpy_neg_inf": np.float64(-np.inf),
        "nested": [np.float64(1.5), (np.int64(3), np.float64("nan"))],
        7: np.bool_(True),
    }
    out = plain(value)
    assert out == {
        "python_nan": None,
        "numpy_nan": None,
        "numpy_inf": None,
        "numpy_neg_inf": None,
        "nested": [1.5, [3, None]],
        "7": True,
    }
    assert type(out["nested"][1][0]) is int
    # strict JSON: no NaN or Infinity tokens survive
    json.dumps(out, allow_nan=False)


def test_json_roundtrip_keeps_nan_where_plain_would_drop_it() -> None:
    out = json_roundtrip({"x": np.float64("nan"), "y": (1, 2)})
    assert math.isnan(out["x"]) and out["y"] == [1, 2]
