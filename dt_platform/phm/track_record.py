"""The track record: every prediction of a component life scored once the maintenance log ends it.

**Lives.** A machine's degrading component lives from the end of the work order that put it in
(``finished_at``) to the next work order that takes it out, as :mod:`~dt_platform.phm.episodes`
reads the log: a **corrective** work order on the component is a *failure*, a planned
**replace** of it a *removal*. Preventive repairs, cleaning and inspections do not end a life.
A life *closes* on the UTC day its ending work order starts (:func:`closed_lives`).

**Truth from the log, not the simulator.** The failure time is the corrective work order's
``started_at``: what the log, and so an auditor, knows (the component failed at or before it; the
response delay of a few hours is charged to the prediction). For a prediction at ``ts``:

* a failed life gives the true RUL ``failed_at − ts``: the error ``predicted − true``, whether the
  90 % interval ``[lo, hi]`` held it, and its PIT, ``P(RUL ≤ true)`` under the split normal the
  alerts read into ``(lo, point, hi)`` (:func:`~dt_platform.phm.alerts.failure_probability`).
  The truth lies in the central q-interval exactly when ``|PIT − ½| ≤ q/2``, which gives the
  50 % and 80 % coverage of the calibration plot (the 90 % one is ``lo ≤ true ≤ hi`` itself);
* a removed life is *censored*: the component outlived ``survived_h = removed_at − ts`` and no
  more is known. No error, PIT or coverage. Known are only the one-sided outcomes: an upper
  bound below ``survived_h`` was missed for certain (``above_upper`` true), a lower bound at or
  below it held for certain (``below_lower`` false); the rest is unknown (null).

Missing bounds read as the alerts read them: ``lo`` as 0 h, ``hi`` as unbounded. Predictions
without a fused estimate are not scored. Rows are banded by ``survived_h`` (:data:`LEAD_BANDS`):
for a failure that is the true RUL, for a removal a lower bound of it.

Each scored row carries the prediction, its alert flag and the life, so the summary
(:mod:`dt_platform.phm.track_record_summary`) can be recomputed from these rows alone.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import polars as pl

from dt_platform.phm.alerts import failure_probability
from dt_platform.phm.physics import LAWS

UTC_US = pl.Datetime("us", "UTC")
FAILURE, REMOVED = "failure", "removed"
LEAD_BANDS: tuple[tuple[str, float, float], ...] = (
    ("0-24", 0.0, 24.0),
    ("24-72", 24.0, 72.0),
    ("72-168", 72.0, 168.0),
    ("168-336", 168.0, 336.0),
    ("336+", 336.0, math.inf),
)
"""Lead-time bands in hours, ``[low, high)``: a day, three days, a week, two weeks, beyond."""
CALIBRATION_LEVELS = (0.5, 0.8, 0.9)
"""Nominal central coverages the track record reports."""
DEGRADING_COMPONENT: dict[str, str] = {t: law.component for t, law in LAWS.items()}

SCORE_SCHEMA: dict[str, pl.DataType] = {
    "day": pl.Date(),
    "machine_id": pl.String(),
    "machine_type": pl.String(),
    "ts": UTC_US,
    "prediction_day": pl.Date(),
    "model_version": pl.String(),
    "physics_version": pl.String(),
    "life_start": UTC_US,
    "ended_at": UTC_US,
    "end_kind": pl.String(),
    "work_order": pl.String(),
    "rul_fused_h": pl.Float64(),
    "rul_fused_lo_h": pl.Float64(),
    "rul_fused_hi_h": pl.Float64(),
    "alert": pl.Boolean(),
    "alert_horizon_h": pl.Float64(),
    "survived_h": pl.Float64(),
    "true_rul_h": pl.Float64(),
    "lead_band": pl.String(),
    "error_h": pl.Float64(),
    "pit": pl.Float64(),
    "inside_50": pl.Boolean(),
    "inside_80": pl.Boolean(),
    "inside_90": pl.Boolean(),
    "below_lower": pl.Boolean(),
    "above_upper": pl.Boolean(),
}
"""One row per (closed life, prediction made during it); ``day`` is the day the life closed."""

PREDICTION_COLUMNS = (
    "machine_id",
    "machine_type",
    "ts",
    "day",
    "model_version",
    "physics_version",
    "rul_fused_h",
    "rul_fused_lo_h",
    "rul_fused_hi_h",
)
"""What scoring reads of ``rul_predictions``; of ``maintenance_alerts``: machine_id, ts, horizon_h."""


@dataclass(frozen=True)
class Life:
    """One closed component life: ``start`` (None when the log does not say) to ``end``."""

    machine_id: str
    machine_type: str | None
    start: dt.datetime | None
    end: dt.datetime
    end_kind: str
    work_order: str


def _ends_life(row: Mapping, component: str | None) -> str | None:
    if component is not None and row["component"] not in (None, component):
        return None
    if row["kind"] == "corrective":
        return FAILURE
    if row["action"] == "replace":
        return REMOVED
    return None


def machine_lives(
    work_orders: pl.DataFrame, machine_id: str, machine_type: str | None
) -> list[Life]:
    """Every life of ``machine_id`` the log closes, in order (``work_orders`` of any machines:
    work_order, machine_id, started_at, finished_at, kind, action, component)."""
    component = DEGRADING_COMPONENT.get(machine_type or "")
    rows = work_orders.filter(pl.col("machine_id") == machine_id).sort("started_at", "work_order")
    lives: list[Life] = []
    start: dt.datetime | None = None
    for row in rows.iter_rows(named=True):
        kind = _ends_life(row, component)
        if kind is None:
            continue
        if start is None or row["started_at"] > start:
            lives.append(
                Life(machine_id, machine_type, start, row["started_at"], kind, row["work_order"])
            )
        start = row["finished_at"] or row["started_at"]
    return lives


def closed_lives(
    work_orders: pl.DataFrame, machine_types: Mapping[str, str], day: dt.date
) -> list[Life]:
    """The lives whose ending work order starts on ``day`` (UTC), over every machine of
    ``machine_types`` (machine_id → type)."""
    lives = []
    for machine_id in sorted(set(work_orders["machine_id"].to_list())):
        lives += [
            life
            for life in machine_lives(work_orders, machine_id, machine_types.get(machine_id))
            if life.end.astimezone(dt.UTC).date() == day
        ]
    return lives


def lead_band(hours: float) -> str:
    """The :data:`LEAD_BANDS` label of ``hours`` (negative hours fall in the first band)."""
    for label, _low, high in LEAD_BANDS:
        if hours < high:
            return label
    return LEAD_BANDS[-1][0]


def score_life(life: Life, predictions: pl.DataFrame, alerts: pl.DataFrame) -> pl.DataFrame:
    """The scored rows (:data:`SCORE_SCHEMA`, ``day`` null) of the predictions made during
    ``life``: those of its machine with ``start <= ts < end`` and a fused estimate.

    ``predictions`` has :data:`PREDICTION_COLUMNS`; ``alerts`` the raised alerts (machine_id,
    ts, horizon_h): a prediction alerted when an alert row has its machine and ts.
    """
    cond = (
        (pl.col("machine_id") == life.machine_id)
        & (pl.col("ts") < life.end)
        & pl.col("rul_fused_h").is_not_null()
    )
    if life.start is not None:
        cond = cond & (pl.col("ts") >= life.start)
    rows = predictions.select(PREDICTION_COLUMNS).filter(cond).sort("ts")
    raised = alerts.select("machine_id", "ts", pl.col("horizon_h").alias("alert_horizon_h"))
    rows = rows.join(raised.unique(["machine_id", "ts"]), on=["machine_id", "ts"], how="left")
    rows = rows.rename({"day": "prediction_day"}).with_columns(
        pl.col("alert_horizon_h").is_not_null().alias("alert"),
        pl.lit(life.start, dtype=UTC_US).alias("life_start"),
        pl.lit(life.end, dtype=UTC_US).alias("ended_at"),
        pl.lit(life.end_kind).alias("end_kind"),
        pl.lit(life.work_order).alias("work_order"),
    )
    rows = _survived(rows)
    if life.machine_type is not None:
        rows = rows.with_columns(pl.col("machine_type").fill_null(life.machine_type))
    return _outcomes(rows, failed=life.end_kind == FAILURE)


def _outcomes(rows: pl.DataFrame, *, failed: bool) -> pl.DataFrame:
    point = rows["rul_fused_h"].to_numpy()
    lo = np.nan_to_num(rows["rul_fused_lo_h"].fill_null(0.0).to_numpy(), nan=0.0)
    hi = rows["rul_fused_hi_h"].fill_null(math.inf).fill_nan(math.inf).to_numpy()
    survived = rows["survived_h"].to_numpy()
    bands = [lead_band(h) for h in survived]
    if failed:
        pit = failure_probability(point, lo, hi, survived) if len(point) else np.array([])
        out = {
            "true_rul_h": survived,
            "error_h": point - survived,
            "pit": pit,
            "inside_50": np.abs(pit - 0.5) <= 0.25,
            "inside_80": np.abs(pit - 0.5) <= 0.40,
            "inside_90": (lo <= survived) & (survived <= hi),
            "below_lower": survived < lo,
            "above_upper": survived > hi,
        }
        frame = rows.with_columns(
            *(pl.Series(k, v) for k, v in out.items()), pl.Series("lead_band", bands)
        )
    else:
        below = [False if lo_i <= s else None for lo_i, s in zip(lo, survived, strict=True)]
        above = [True if hi_i < s else None for hi_i, s in zip(hi, survived, strict=True)]
        frame = rows.with_columns(
            pl.Series("below_lower", below, dtype=pl.Boolean),
            pl.Series("above_upper", above, dtype=pl.Boolean),
            pl.Series("lead_band", bands),
        )
    for col, dtype in SCORE_SCHEMA.items():
        if col not in frame.columns:
            frame = frame.with_columns(pl.lit(None, dtype=dtype).alias(col))
    return frame.select([pl.col(c).cast(t) for c, t in SCORE_SCHEMA.items()])


DERIVED = (
    "survived_h",
    "true_rul_h",
    "lead_band",
    "error_h",
    "pit",
    "inside_50",
    "inside_80",
    "inside_90",
    "below_lower",
    "above_upper",
)
"""The columns of a scored row that follow from its prediction and its life (:func:`rescore`)."""


def _survived(rows: pl.DataFrame) -> pl.DataFrame:
    hours = (pl.col("ended_at") - pl.col("ts")).dt.total_microseconds() / 3.6e9
    return rows.with_columns(hours.alias("survived_h"))


def rescore(scores: pl.DataFrame) -> pl.DataFrame:
    """``scores`` with every :data:`DERIVED` column computed again from the row's prediction
    (``rul_fused_*``), ``ts``, ``ended_at`` and ``end_kind``: what an auditor recomputes. Rows
    keep their order."""
    base = scores.select(list(SCORE_SCHEMA)).with_row_index("_i").drop(DERIVED)
    parts = [
        _outcomes(_survived(part), failed=kind == FAILURE).with_columns(part["_i"])
        for (kind,), part in base.group_by("end_kind")
    ]
    if not parts:
        return scores.select(list(SCORE_SCHEMA))
    return pl.concat(parts).sort("_i").drop("_i")


def score_lives(
    lives: list[Life], predictions: pl.DataFrame, alerts: pl.DataFrame, day: dt.date
) -> pl.DataFrame:
    """Every life's scored rows, stamped with the closing ``day``, ordered by machine and ts."""
    parts = [score_life(life, predictions, alerts) for life in lives]
    parts = [p for p in parts if p.height]
    if not parts:
        return pl.DataFrame(schema=SCORE_SCHEMA)
    return (
        pl.concat(parts)
        .with_columns(pl.lit(day, dtype=pl.Date).alias("day"))
        .sort("machine_id", "ts")
    )
