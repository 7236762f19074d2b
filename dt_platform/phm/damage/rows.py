"""What both damage stages share for one machine: its per-hour values and its random draws."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np

from dt_platform.phm.damage.replay import _horizon_sd
from dt_platform.phm.damage.residual import _interval

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

    def set_tracked(
        self,
        i: int,
        hours0: float,
        hours_draws: np.ndarray,
        weekly_sd: float,
        z_rate: np.ndarray,
        *,
        damage: float,
        stage: str,
        note: str,
    ) -> None:
        """Row ``i`` from a stage that tracks a detected fault: the median ``hours0`` to failure
        and, from the draws' hours widened by the future rate's variability, its 90 % interval
        (never narrower than the median itself); the damage, its rate over those hours, the
        stage and its note."""
        hd = hours_draws * np.exp(_horizon_sd(weekly_sd, np.array(hours0)) * z_rate)
        lo, hi = _interval(hd[None, :])
        self.rul[i] = hours0
        self.lo[i] = min(float(lo[0]), hours0) if np.isfinite(lo[0]) else hours0
        self.hi[i] = max(float(hi[0]), hours0) if np.isfinite(hi[0]) else np.nan
        self.damage[i] = damage
        self.rate[i] = (1.0 - damage) / hours0 if hours0 > 0 else np.nan
        self.stage[i] = stage
        self.notes[i] = note


@dataclass
class _Draws:
    """Random numbers shared by every hour of a machine (common random numbers: smooth, causal)."""

    u_life: np.ndarray
    z_rate: np.ndarray
    z_beta: np.ndarray
    m_index: np.ndarray
