"""The published track record: scored rows (:mod:`dt_platform.phm.track_record`) summed per
model version, machine type and lead band, and per model version and type for the alerts.

Everything is a count or a sum over the scored rows in a fixed order (machine, ts), so the same
rows always give the same summary, and an auditor holding the anchored rows gets it again
(:func:`summarize`, :func:`compare`). Per (model_version, machine_type, lead_band):

* ``predictions`` scored against a failure, ``lives`` they come from; ``bias_h``, ``mae_h`` and
  ``rmse_h`` of ``predicted − true`` (and the sums they come from);
* ``inside_50/80/90`` and ``coverage_50/80/90``: the calibration (nominal vs observed);
  ``below_lower`` / ``above_upper``: truths below the 90 % interval's lower bound (nominal 5 %)
  and above its upper bound (nominal 5 %);
* ``censored_predictions`` from planned removals, ``censored_above_upper`` (upper bounds the
  component outlived for certain: a floor under the misses) and ``censored_lower_held``.

The ``all`` band adds the alerts, per life: ``failures`` and how many were ``warned`` (an alert
episode reached the failure), the lead of the first alert of the earliest such episode
(``mean_lead_h``, ``median_lead_h``), and the alert episodes scored true, false (no failure
within the horizon after the episode) or open (a removal came before the horizon ran out), as
:func:`~dt_platform.phm.alert_scoring.alert_episodes` scores them at the daily cadence. An
episode counts for the model version of its first alert, a missed failure for that of the last
prediction before it. ``model_version`` is ``none`` for predictions made without an RUL model.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import polars as pl

from dt_platform.phm.alert_scoring import alert_episodes
from dt_platform.phm.track_record import FAILURE, LEAD_BANDS, SCORE_SCHEMA

ALL_BANDS = "all"
PREDICTION_CADENCE_H = 24.0
"""Predictions are made once a day (at the end of the day): an alert episode is a run of daily
alerting predictions."""
NO_MODEL = "none"
TOLERANCE = 1e-9
"""Relative tolerance when comparing published and recomputed figures (sums of floats)."""

SUMMARY_SCHEMA: dict[str, pl.DataType] = {
    "day": pl.Date(),
    "model_version": pl.String(),
    "machine_type": pl.String(),
    "lead_band": pl.String(),
    "lives": pl.Int64(),
    "predictions": pl.Int64(),
    "sum_error_h": pl.Float64(),
    "sum_abs_error_h": pl.Float64(),
    "sum_sq_error_h": pl.Float64(),
    "bias_h": pl.Float64(),
    "mae_h": pl.Float64(),
    "rmse_h": pl.Float64(),
    "inside_50": pl.Int64(),
    "inside_80": pl.Int64(),
    "inside_90": pl.Int64(),
    "coverage_50": pl.Float64(),
    "coverage_80": pl.Float64(),
    "coverage_90": pl.Float64(),
    "below_lower": pl.Int64(),
    "above_upper": pl.Int64(),
    "censored_predictions": pl.Int64(),
    "censored_above_upper": pl.Int64(),
    "censored_lower_held": pl.Int64(),
    "failures": pl.Int64(),
    "warned": pl.Int64(),
    "mean_lead_h": pl.Float64(),
    "median_lead_h": pl.Float64(),
    "episodes_true": pl.Int64(),
    "episodes_false": pl.Int64(),
    "episodes_open": pl.Int64(),
    "false_alarm_share": pl.Float64(),
}
"""One row per (model_version, machine_type, lead_band) over every life closed up to ``day``."""
KEY = ("model_version", "machine_type", "lead_band")


def _ordered(scores: pl.DataFrame) -> pl.DataFrame:
    return (
        scores.select(list(SCORE_SCHEMA))
        .with_columns(pl.col("model_version").fill_null(NO_MODEL))
        .sort("machine_id", "ts", "ended_at")
    )


def _band_rows(scores: pl.DataFrame) -> pl.DataFrame:
    failed = pl.col("end_kind") == FAILURE
    censored = ~failed
    aggs = [
        pl.struct("machine_id", "ended_at").n_unique().alias("lives"),
        failed.cast(pl.Int64).sum().alias("predictions"),
        pl.col("error_h").filter(failed).sum().alias("sum_error_h"),
        pl.col("error_h").filter(failed).abs().sum().alias("sum_abs_error_h"),
        (pl.col("error_h").filter(failed) ** 2).sum().alias("sum_sq_error_h"),
        *(pl.col(c).filter(failed).cast(pl.Int64).sum().alias(c) for c in _COUNTED),
        censored.cast(pl.Int64).sum().alias("censored_predictions"),
        pl.col("above_upper")
        .filter(censored)
        .fill_null(False)
        .cast(pl.Int64)
        .sum()
        .alias("censored_above_upper"),
        (pl.col("below_lower").filter(censored) == False)  # noqa: E712 (null stays unknown)
        .fill_null(False)
        .cast(pl.Int64)
        .sum()
        .alias("censored_lower_held"),
    ]
    both = pl.concat(
        [scores, scores.with_columns(pl.lit(ALL_BANDS).alias("lead_band"))], how="vertical"
    )
    out = both.group_by(list(KEY), maintain_order=True).agg(aggs)
    return out.with_columns(
        pl.when(pl.col("predictions") > 0)
        .then(pl.col("sum_error_h") / pl.col("predictions"))
        .alias("bias_h"),
        pl.when(pl.col("predictions") > 0)
        .then(pl.col("sum_abs_error_h") / pl.col("predictions"))
        .alias("mae_h"),
        pl.when(pl.col("predictions") > 0)
        .then((pl.col("sum_sq_error_h") / pl.col("predictions")).sqrt())
        .alias("rmse_h"),
        *(
            pl.when(pl.col("predictions") > 0)
            .then(pl.col(f"inside_{q}") / pl.col("predictions"))
            .alias(f"coverage_{q}")
            for q in (50, 80, 90)
        ),
    )


_COUNTED = ("inside_50", "inside_80", "inside_90", "below_lower", "above_upper")


def alert_outcomes(scores: pl.DataFrame) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Per closed life: its alert episodes (model_version, machine_type, outcome true/false/open)
    and, for a failure, whether it was warned and the lead (model_version, machine_type,
    warned, lead_h)."""
    episodes: list[dict[str, Any]] = []
    failures: list[dict[str, Any]] = []
    ordered = _ordered(scores)
    for _, life in ordered.group_by("machine_id", "ended_at", maintain_order=True):
        first = life.row(0, named=True)
        end, failed = first["ended_at"], first["end_kind"] == FAILURE
        horizon = life["alert_horizon_h"].drop_nulls()
        horizon_h = float(horizon.max()) if horizon.len() else 72.0
        fails = pl.DataFrame(
            {"machine_id": [first["machine_id"]] * failed, "failed_at": [end] * failed},
            schema={"machine_id": pl.String(), "failed_at": SCORE_SCHEMA["ts"]},
        )
        runs = alert_episodes(
            life.select("machine_id", "ts", "alert"),
            fails,
            horizon_h,
            cadence_h=PREDICTION_CADENCE_H,
            observed_until=end,
        )
        version_at = dict(zip(life["ts"].to_list(), life["model_version"].to_list(), strict=True))
        kind = first["machine_type"]
        for ep in runs.iter_rows(named=True):
            outcome = "open" if ep["false"] is None else ("false" if ep["false"] else "true")
            episodes.append(
                {"model_version": version_at[ep["start"]], "machine_type": kind, "outcome": outcome}
            )
        if failed:
            hits = runs.filter(pl.col("false") == False).sort("start")  # noqa: E712
            if hits.height:
                start = hits["start"][0]
                failures.append(
                    {
                        "model_version": version_at[start],
                        "machine_type": kind,
                        "warned": True,
                        "lead_h": float(hits["lead_h"][0]),
                    }
                )
            else:
                last = life["model_version"][-1]
                failures.append(
                    {"model_version": last, "machine_type": kind, "warned": False, "lead_h": None}
                )
    return episodes, failures


def _alert_rows(scores: pl.DataFrame) -> dict[tuple[str, str], dict[str, Any]]:
    episodes, failures = alert_outcomes(scores)
    out: dict[tuple[str, str], dict[str, Any]] = {}

    def slot(version: str, kind: str) -> dict[str, Any]:
        return out.setdefault(
            (version, kind),
            {"failures": 0, "warned": 0, "leads": [], "true": 0, "false": 0, "open": 0},
        )

    for f in failures:
        s = slot(f["model_version"], f["machine_type"])
        s["failures"] += 1
        if f["warned"]:
            s["warned"] += 1
            s["leads"].append(f["lead_h"])
    for e in episodes:
        slot(e["model_version"], e["machine_type"])[e["outcome"]] += 1
    return out


def summarize(scores: pl.DataFrame, day: dt.date) -> pl.DataFrame:
    """The summary (:data:`SUMMARY_SCHEMA`) of every scored row in ``scores``, as of ``day``."""
    if scores.is_empty():
        return pl.DataFrame(schema=SUMMARY_SCHEMA)
    ordered = _ordered(scores)
    bands = _band_rows(ordered)
    alerts = _alert_rows(ordered)
    rows = []
    for row in bands.iter_rows(named=True):
        row = {"day": day, **row}
        if row["lead_band"] == ALL_BANDS:
            a = alerts.get((row["model_version"], row["machine_type"]))
            if a is not None:
                leads = sorted(a["leads"])
                scored = a["true"] + a["false"]
                row |= {
                    "failures": a["failures"],
                    "warned": a["warned"],
                    "mean_lead_h": math.fsum(leads) / len(leads) if leads else None,
                    "median_lead_h": _median(leads),
                    "episodes_true": a["true"],
                    "episodes_false": a["false"],
                    "episodes_open": a["open"],
                    "false_alarm_share": a["false"] / scored if scored else None,
                }
        rows.append(row)
    frame = pl.DataFrame(rows, schema=SUMMARY_SCHEMA)
    order = {label: i for i, (label, _, _) in enumerate(LEAD_BANDS)} | {ALL_BANDS: len(LEAD_BANDS)}
    return (
        frame.with_columns(
            pl.col("lead_band").replace_strict(order, return_dtype=pl.Int64).alias("_o")
        )
        .sort("model_version", "machine_type", "_o")
        .drop("_o")
    )


def _median(values: list[float]) -> float | None:
    if not values:
        return None
    mid = len(values) // 2
    return values[mid] if len(values) % 2 else (values[mid - 1] + values[mid]) / 2.0


def same(a: Any, b: Any) -> bool:
    """Equal, floats within :data:`TOLERANCE`, null only equal to null."""
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, float) or isinstance(b, float):
        if math.isnan(a) or math.isnan(b):
            return math.isnan(a) and math.isnan(b)
        return math.isclose(a, b, rel_tol=TOLERANCE, abs_tol=TOLERANCE)
    return a == b


def compare(published: pl.DataFrame, recomputed: pl.DataFrame) -> list[str]:
    """Where two summaries differ, one line each (empty when they agree); ``day`` is ignored."""

    def keyed(frame: pl.DataFrame) -> dict[tuple, dict[str, Any]]:
        return {tuple(r[k] for k in KEY): r for r in frame.iter_rows(named=True)}

    pub, rec = keyed(published), keyed(recomputed)
    problems = []
    for key in sorted(set(pub) | set(rec), key=str):
        name = "/".join(str(k) for k in key)
        if key not in rec:
            problems.append(f"{name}: published, but the anchored rows give no such row")
            continue
        if key not in pub:
            problems.append(f"{name}: the anchored rows give this row, the summary lacks it")
            continue
        for col in SUMMARY_SCHEMA:
            if col in ("day", *KEY):
                continue
            if not same(pub[key][col], rec[key][col]):
                problems.append(
                    f"{name}: {col} published {pub[key][col]!r}, recomputed {rec[key][col]!r}"
                )
    return problems
