"""What both damage stages share for one machine: its per-hour values and its random draws."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np

M_QUANTILES = (0.1, 0.3, 0.5, 0.7, 0.9)


@dataclass
class _Rows:
    """Per requested hour: the values of one machine's trajectory."""

    hours: np.ndarray
    installed: list[dt.datetime | None]
    exposure: np.ndarray
    damage: np.ndarray
    rate: np.ndarray
    rul: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    stage: list[str | None]
    notes: list[str | None]


@dataclass
class _Draws:
    """Random numbers shared by every hour of a machine (common random numbers: smooth, causal)."""

    u_life: np.ndarray
    z_rate: np.ndarray
    z_beta: np.ndarray
    m_index: np.ndarray
