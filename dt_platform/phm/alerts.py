"""Maintenance alerts: the probability that a component fails within a horizon, and why.

**From an interval to a distribution.** Each branch, and the fusion, reports a point estimate m
and a 90 % interval [lo, hi] of the RUL — three numbers, nothing more. We read them as a
*split normal* (two-piece normal): median m, a left half with σ_L = (m − lo) / z₀.₉₅ and a right
half with σ_R = (hi − m) / z₀.₉₅ (z₀.₉₅ = 1.645). It reproduces exactly the 5 %, 50 % and 95 %
points we were given and keeps their asymmetry (an interval clipped at 0 h, a long right tail),
which a symmetric normal would not. So

    P(RUL ≤ h) = Φ((h − m) / σ_L)  for h ≤ m,      Φ((h − m) / σ_R)  for h > m.

Mass the left half puts below 0 h counts as "failing now": an interval that reaches zero means
the component may already be at its limit, the cautious reading. A zero-width half is a step at
m; an open upper bound (the physics found no failure in its draws) is σ_R = ∞, i.e. P = ½ above m.

**Alert rule.** An alert is raised when P(RUL ≤ ``horizon_h``) of the fused estimate, averaged
over the trailing ``smoothing_h`` hours of the component's life (restarted where the physics
branch starts or stops tracking a detected fault), reaches ``threshold``, and lasts
until it falls below ``release`` (``critical`` marks the urgent ones); see :class:`AlertRule`
and :func:`alert_flags`. The default is the plain rule P(RUL ≤ 72 h) ≥ 0.5; the fleet model
carries one chosen by expected cost on its training fleet
(:mod:`dt_platform.phm.fleet.alerting`). A component that has already failed (a corrective work
order is open: stage ``failed``, set by the physics branch, and on the day's predictions from
the maintenance log for any type, :func:`~dt_platform.phm.fleet.mark_repairs`) raises none: the
repair is under way.

**A type the model knows nothing of.** Where the RUL estimate has no physics value (a type
never seen to fail whose damage law has no literature scale: the data branch alone speaks, trained
on other types' failures), a health sensor whose trend over the last week of operation reaches
its catalogue failure limit within ``LIMIT_ALERT_H`` hours raises an alert too (driver
``sensor_limit``; critical within ``LIMIT_CRITICAL_H``), whatever the probability says:
:mod:`dt_platform.phm.fleet.limit_projection`, which gives the projection and what it scores.

**Reason.** Which branch drives the fused estimate (the fusion weight of the physics branch,
with each branch's own probability), the health sensor closest to its failure limit with its
trend, and the dominant stress of the damage law.

**Scoring against ground truth** (simulator, benchmark): :mod:`dt_platform.phm.alert_scoring`
(lead times, false alarms per prediction and per episode, expected cost); :func:`lead_times` and
:func:`false_alarm_rate` are re-exported here.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import polars as pl
from scipy import special

from dt_platform.phm.alert_scoring import false_alarm_rate, lead_times
from dt_platform.phm.schemas import FAULT_STAGES

__all__ = [
    "ALERT_SCHEMA",
    "Z95",
    "AlertRule",
    "alert_flags",
    "alert_reason",
    "driving_branch",
    "evaluate_alerts",
    "failure_probability",
    "false_alarm_rate",
    "lead_times",
    "limit_text",
    "trend_text",
]

LIMIT_ALERT_H = 72.0
"""A machine with no physics value alerts when a health sensor's trend reaches its failure
limit within this many hours (the default rule's horizon: time to plan the replacement)."""
LIMIT_CRITICAL_H = 24.0
"""... and the alert is critical within this many hours."""
LIMIT_CONTEXT = ("hours_to_limit", "limit_sensor", "limit_value", "limit_slope_per_h", "limit")
"""The :func:`~dt_platform.phm.fleet.latest_projection` columns :func:`evaluate_alerts` reads
from its ``context``."""

Z95 = 1.6448536269514722
"""Standard normal 95 % quantile: a 90 % central interval spans ±Z95 σ."""


def failure_probability(
    point: Any, lo: Any, hi: Any, horizon_h: float, *, coverage: float = 0.9
) -> np.ndarray:
    """P(RUL ≤ ``horizon_h``) under the split normal through (lo, point, hi); see module docs.

    Arrays (or scalars) of equal length; NaN where ``point`` is missing. A missing ``lo`` is
    taken as 0 h, a missing ``hi`` as unbounded. ``coverage`` is the central coverage of
    [lo, hi] (0.9 for the platform's intervals).
    """
    z = float(special.ndtri(0.5 + coverage / 2.0))
    m = np.atleast_1d(np.asarray(point, dtype=np.float64))
    low = np.atleast_1d(np.asarray(lo, dtype=np.float64))
    high = np.atleast_1d(np.asarray(hi, dtype=np.float64))
    low = np.where(np.isfinite(low), low, 0.0)
    high = np.where(np.isnan(high), np.inf, high)
    low = np.minimum(low, m)
    high = np.maximum(high, m)
    d = horizon_h - m
    # below the median the left half decides, from the median up the right half (so a
    # zero-width right half puts its mass at the median: P(RUL <= m) = 1)
    sigma = np.where(d < 0, (m - low) / z, (high - m) / z)
    # a vanishingly narrow half (sigma near 0) overflows d / sigma: ±inf is the intended answer
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        scaled = np.where(sigma > 0, d / sigma, np.where(d >= 0, np.inf, -np.inf))
    # an open upper half (sigma inf) gives d/sigma = 0: P = 0.5 anywhere above the median
    scaled = np.where(np.isinf(sigma) & (d >= 0), 0.0, scaled)
    p = special.ndtr(scaled)
    return np.where(np.isfinite(m), p, np.nan)


@dataclass(frozen=True)
class AlertRule:
    """When a prediction becomes an alert.

    Over a machine's timeline (one component life, ordered by ``ts``) the probability is first
    averaged over the trailing ``smoothing_h`` hours (the window restarts where a tracked fault,
    :data:`~dt_platform.phm.schemas.FAULT_STAGES`, begins or ends), then an alert starts when it
    reaches ``threshold`` and lasts until it falls below ``release`` (hysteresis: a probability
    wavering around the threshold makes one alert, not a dozen). The defaults (no smoothing,
    release at the threshold) make every row its own decision. The fleet model carries a rule
    chosen by expected cost on its training fleet (:mod:`dt_platform.phm.fleet.alerting`).
    """

    horizon_h: float = 72.0
    """Three days: enough to plan a replacement into a shift change."""
    threshold: float = 0.5
    """Alert when failure within the horizon is at least as likely as not."""
    critical: float = 0.9
    coverage: float = 0.9
    release: float | None = None
    """An alert lasts while the probability stays at or above this (None: the threshold)."""
    smoothing_h: float = 1.0
    """Trailing window (hours) the probability is averaged over; 1 h: hourly values as they are."""

    def __post_init__(self) -> None:
        if self.horizon_h <= 0:
            raise ValueError(f"AlertRule: horizon_h must be positive hours, got {self.horizon_h}")
        if not 0.0 < self.threshold <= self.critical <= 1.0:
            raise ValueError(
                f"AlertRule: need 0 < threshold <= critical <= 1, got {self.threshold}, "
                f"{self.critical}"
            )
        if self.release is not None and not 0.0 < self.release <= self.threshold:
            raise ValueError(
                f"AlertRule: need 0 < release <= threshold, got {self.release}, {self.threshold}"
            )
        if self.smoothing_h < 1.0:
            raise ValueError(f"AlertRule: smoothing_h must be >= 1 h, got {self.smoothing_h}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AlertRule:
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})


def alert_flags(
    frame: pl.DataFrame, probability: np.ndarray, rule: AlertRule
) -> tuple[np.ndarray, np.ndarray]:
    """The smoothed probability and the alert decision of every row of a prediction timeline.

    ``frame`` has ``machine_id, ts`` and optionally ``component_installed_at`` (a life) and
    ``stage``; ``probability`` is aligned with its rows (NaN counts as 0). Each life is walked
    in time order with :class:`AlertRule`'s smoothing and hysteresis; a failed component
    (stage ``failed``) raises nothing and ends the alert. Rows keep their order.
    """
    raw = np.asarray(probability, dtype=np.float64)
    p = np.nan_to_num(raw, nan=0.0)
    keys = [pl.col("machine_id")]
    if "component_installed_at" in frame.columns:
        keys.append(pl.col("component_installed_at").cast(pl.Int64).fill_null(-1))
    order = frame.select(
        pl.arange(0, frame.height).alias("_i"),
        pl.struct(keys).rank("dense").alias("_life"),
        (pl.col("ts").dt.epoch("s") / 3600.0).alias("_h"),
        (
            (pl.col("stage") == "failed").fill_null(False)
            if "stage" in frame.columns
            else pl.lit(False)
        ).alias("_failed"),
        (
            pl.col("stage").is_in(FAULT_STAGES).fill_null(False)
            if "stage" in frame.columns
            else pl.lit(False)
        ).alias("_tracked"),
    ).sort("_life", "_h")
    idx = order["_i"].to_numpy()
    life = order["_life"].to_numpy()
    hours = order["_h"].to_numpy()
    failed = order["_failed"].to_numpy()
    ps = p[idx]
    smooth = ps.copy()
    if rule.smoothing_h > 1.0:
        # The window restarts where a life enters or leaves a tracked fault (FAULT_STAGES): the
        # detection is already confirmed over hours, and the hours before it describe the healthy
        # component. Averaging them in would only delay the alert.
        tracked = order["_tracked"].to_numpy()
        change = np.r_[True, (life[1:] != life[:-1]) | (tracked[1:] != tracked[:-1])]
        segment = np.cumsum(change)
        csum = np.r_[0.0, np.cumsum(ps)]
        # trailing window (t - smoothing_h, t] within the same segment: segments laid end to end
        # on one time axis, far enough apart that no window reaches into the previous one
        span = float(hours.max() - hours.min()) + 2.0 * rule.smoothing_h + 1.0
        key = (hours - hours.min()) + (segment - segment.min()) * span
        starts = np.searchsorted(segment, segment, side="left")
        first = np.maximum(starts, np.searchsorted(key, key - rule.smoothing_h + 1e-6))
        n = np.arange(len(ps)) + 1 - first
        smooth = (csum[np.arange(len(ps)) + 1] - csum[first]) / n
    release = rule.threshold if rule.release is None else rule.release
    alert = np.zeros(len(ps), dtype=bool)
    on, prev = False, None
    for i in range(len(ps)):
        if life[i] != prev:
            on, prev = False, life[i]
        on = not failed[i] and smooth[i] >= (release if on else rule.threshold)
        alert[i] = on
    out_p = np.empty_like(smooth)
    out_a = np.empty_like(alert)
    out_p[idx] = np.where(np.isnan(raw[idx]), np.nan, smooth)
    out_a[idx] = alert
    return out_p, out_a


BRANCH_NAMES = {"physics": "physics", "ml": "data", "both": "physics and data"}
TREND_UNITS = {
    "vibration_rms_mm_s": "mm/s",
    "placement_offset_um": "µm",
    "vacuum_kpa": "kPa",
    "heater_duty_pct": "%",
    "vce_on_v": "V",
}


def _fmt(value: Any, digits: int = 0) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    return f"{value:.{digits}f}"


def driving_branch(basis: str | None, w_physics: float | None) -> str:
    """``physics``, ``ml`` or ``both``: which branch the fused estimate rests on."""
    if basis in ("physics_only", "physics_fallback", "physics_stage"):
        return "physics"
    if basis in ("ml_only", "ml_fallback"):
        return "ml"
    if w_physics is None or not math.isfinite(w_physics):
        return "both"
    if w_physics >= 0.6:
        return "physics"
    if w_physics <= 0.4:
        return "ml"
    return "both"


def trend_text(row: Mapping[str, Any]) -> str | None:
    """E.g. ``vibration_rms_mm_s 3.90 mm/s, 87 % of its 4.5 limit, rising 0.020 mm/s/h``."""
    sensor = row.get("trend_sensor")
    if not sensor:
        return None
    unit = TREND_UNITS.get(sensor, "")
    value, slope = row.get("trend_value"), row.get("trend_slope_per_h")
    frac, limit, kind = (
        row.get("trend_limit_fraction"),
        row.get("trend_limit"),
        row.get("trend_limit_kind"),
    )
    digits = 3 if sensor == "vce_on_v" else 2
    text = f"{sensor} {_fmt(value, digits)} {unit}".rstrip()
    if frac is not None and math.isfinite(frac):
        if kind == "rise":
            text += f", {frac:.0%} of the allowed {limit:.0%} rise"
        else:
            text += f", {frac:.0%} of the way to its {limit:g} {unit} limit".rstrip()
    if slope is not None and math.isfinite(slope):
        word = "rising" if slope > 0 else "falling"
        text += f", {word} {abs(slope):.{digits + 1}f} {unit}/h".replace(" /h", "/h")
    return text


def limit_text(row: Mapping[str, Any]) -> str | None:
    """E.g. ``placement_offset_um 52.3 µm, rising 0.190 µm/h over its last week of operation:
    its 60 µm failure limit in ~41 h``; None without a projection."""
    hours, sensor = row.get("hours_to_limit"), row.get("limit_sensor")
    if hours is None or not sensor or not math.isfinite(hours):
        return None
    unit = TREND_UNITS.get(sensor, "")
    digits = 3 if sensor == "vce_on_v" else 1
    slope = row.get("limit_slope_per_h")
    word = "rising" if slope is not None and slope > 0 else "falling"
    limit = row.get("limit")
    text = f"{sensor} {_fmt(row.get('limit_value'), digits)} {unit}".rstrip()
    if slope is not None and math.isfinite(slope):
        text += f", {word} {abs(slope):.{digits + 2}f} {unit}/h".replace(" /h", "/h")
    text += f" over its last week of operation: its {_fmt(limit, digits)} {unit} failure limit"
    return text.replace("  ", " ") + (" reached" if hours <= 0 else f" in ~{hours:.0f} h")


def alert_reason(row: Mapping[str, Any], rule: AlertRule) -> str:
    """The human reason of one alert (see the module docstring)."""
    branch = row.get("driver") or "both"
    parts = [
        f"P(failure within {rule.horizon_h:g} h) = {row['probability']:.0%}: fused RUL "
        f"{_fmt(row.get('rul_fused_h'))} h (90 % {_fmt(row.get('rul_fused_lo_h'))}-"
        f"{_fmt(row.get('rul_fused_hi_h'))} h)",
    ]
    w = row.get("w_physics")
    weight = f"physics weight {w:.2f}; " if w is not None and math.isfinite(w) else ""
    parts.append(
        f"driven by the {BRANCH_NAMES[branch]} branch ({weight}physics "
        f"{_fmt(row.get('rul_physics_h'))} h → {_pct(row.get('p_physics'))}, data "
        f"{_fmt(row.get('rul_ml_h'))} h → {_pct(row.get('p_ml'))})"
    )
    trend = row.get("sensor_trend")
    if trend:
        parts.append(f"sensor trend: {trend}")
    stress = row.get("dominant_stress")
    if stress:
        parts.append(f"dominant stress: {stress}")
    return "; ".join(parts)


def _pct(p: Any) -> str:
    return "n/a" if p is None or not math.isfinite(p) else f"{p:.0%}"


ALERT_SCHEMA: dict[str, pl.DataType] = {
    "machine_id": pl.String(),
    "machine_type": pl.String(),
    "ts": pl.Datetime("us", "UTC"),
    "horizon_h": pl.Float64(),
    "threshold": pl.Float64(),
    "probability": pl.Float64(),
    "p_physics": pl.Float64(),
    "p_ml": pl.Float64(),
    "alert": pl.Boolean(),
    "severity": pl.String(),
    "driver": pl.String(),
    "rul_fused_h": pl.Float64(),
    "rul_fused_lo_h": pl.Float64(),
    "rul_fused_hi_h": pl.Float64(),
    "rul_physics_h": pl.Float64(),
    "rul_ml_h": pl.Float64(),
    "w_physics": pl.Float64(),
    "dominant_stress": pl.String(),
    "sensor_trend": pl.String(),
    "reason": pl.String(),
}


def evaluate_alerts(
    predictions: pl.DataFrame,
    rule: AlertRule | None = None,
    *,
    context: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """Failure probability within the horizon for every prediction row, and the alert decision.

    ``predictions`` has ``machine_id, machine_type, ts`` (a timeline: one or many rows per
    machine, see :func:`alert_flags`; ``probability`` is the smoothed one) and the physics, ML and fused RUL
    columns (``rul_*_h``, ``rul_*_lo_h``, ``rul_*_hi_h``), ``w_physics``, ``basis`` and
    ``stage``. ``context`` (optional, by ``machine_id``) may add ``dominant_stress``, the
    :func:`~dt_platform.phm.fleet.sensor_trends` columns and the :data:`LIMIT_CONTEXT` columns of
    :func:`~dt_platform.phm.fleet.latest_projection`. Returns :data:`ALERT_SCHEMA` rows, one per
    prediction; ``alert`` marks those over the threshold, and rows without a physics value whose
    limit projection is within :data:`LIMIT_ALERT_H` (``reason`` is set for those only).
    """
    rule = rule or AlertRule()
    frame = predictions
    if context is not None and not context.is_empty():
        frame = frame.join(context, on="machine_id", how="left")
    optional = ("rul_ml_h", "rul_ml_lo_h", "rul_ml_hi_h", "w_physics", "basis", "stage")
    for col in (*optional, *LIMIT_CONTEXT):
        if col not in frame.columns:
            frame = frame.with_columns(pl.lit(None).alias(col))

    def prob(prefix: str) -> np.ndarray:
        return failure_probability(
            frame[f"rul_{prefix}_h"].cast(pl.Float64).to_numpy(),
            frame[f"rul_{prefix}_lo_h"].cast(pl.Float64).to_numpy(),
            frame[f"rul_{prefix}_hi_h"].cast(pl.Float64).to_numpy(),
            rule.horizon_h,
            coverage=rule.coverage,
        )

    p_fused, alert = alert_flags(frame, prob("fused"), rule)
    p_phys, p_ml = prob("physics"), prob("ml")
    rows = []
    for i, row in enumerate(frame.iter_rows(named=True)):
        out = {
            "machine_id": row["machine_id"],
            "machine_type": row.get("machine_type"),
            "ts": row["ts"],
            "horizon_h": rule.horizon_h,
            "threshold": rule.threshold,
            "probability": _num(p_fused[i]),
            "p_physics": _num(p_phys[i]),
            "p_ml": _num(p_ml[i]),
            "alert": bool(alert[i]),
            "severity": None,
            "driver": driving_branch(row.get("basis"), row.get("w_physics")),
            "rul_fused_h": row.get("rul_fused_h"),
            "rul_fused_lo_h": row.get("rul_fused_lo_h"),
            "rul_fused_hi_h": row.get("rul_fused_hi_h"),
            "rul_physics_h": row.get("rul_physics_h"),
            "rul_ml_h": row.get("rul_ml_h"),
            "w_physics": row.get("w_physics"),
            "dominant_stress": row.get("dominant_stress"),
            "sensor_trend": trend_text(row),
            "reason": None,
        }
        if out["alert"]:
            out["severity"] = "critical" if p_fused[i] >= rule.critical else "warning"
            out["reason"] = alert_reason(out, rule)
        _add_limit_alert(out, row)
        rows.append(out)
    if not rows:
        return pl.DataFrame(schema=ALERT_SCHEMA)
    return pl.DataFrame(rows, schema=ALERT_SCHEMA)


def _add_limit_alert(out: dict[str, Any], row: Mapping[str, Any]) -> None:
    """Where the RUL estimate has no physics value, a limit projection within
    :data:`LIMIT_ALERT_H` alerts (or adds to the reason of the model's own alert)."""
    limit_h = row.get("hours_to_limit")
    if (
        row.get("rul_physics_h") is not None
        or row.get("stage") == "failed"
        or limit_h is None
        or limit_h > LIMIT_ALERT_H
    ):
        return
    # the model has nothing of this type's own: the failure criterion speaks
    text = f"sensor trend to the failure limit: {limit_text(row)} (no physics for this type)"
    urgent = "critical" if limit_h <= LIMIT_CRITICAL_H else "warning"
    if out["alert"]:
        out["reason"] += f"; {text}"
        out["severity"] = "critical" if "critical" in (urgent, out["severity"]) else urgent
    else:
        out |= {"alert": True, "severity": urgent, "driver": "sensor_limit", "reason": text}


def _num(x: float) -> float | None:
    return float(x) if np.isfinite(x) else None
