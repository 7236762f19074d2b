"""Run a per-unit RUL model over a frame of many units, one unit's rows at a time."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import polars as pl


def predict_per_unit(
    frame: pl.DataFrame,
    predict: Callable[[pl.DataFrame], np.ndarray],
    *,
    unit: str,
    time: str,
    hi: str,
    names: Sequence[str],
    last_only: bool,
) -> pl.DataFrame:
    """``unit, time`` and one Float64 column per name, sorted by unit and time.

    ``predict`` gets one unit's ``unit, time, hi`` rows in time order and returns an array with
    one row per input row and one column per name; ``last_only`` keeps each unit's last row.
    """
    data = frame.select(unit, time, hi).sort([unit, time])
    outs = []
    for _, part in data.group_by(unit, maintain_order=True):
        res = predict(part)
        block = part.select(unit, time).with_columns(
            [pl.Series(name, res[:, i], dtype=pl.Float64) for i, name in enumerate(names)]
        )
        outs.append(block.tail(1) if last_only else block)
    return pl.concat(outs)
