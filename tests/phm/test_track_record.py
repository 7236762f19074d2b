"""The track record on a hand-made timeline: two lives of one placer's nozzle, the first ended by
a failure, the second by a planned replacement; every figure below is worked out by hand."""

from __future__ import annotations

import datetime as dt
import math

import polars as pl
import pytest

from dt_platform.phm.track_record import (
    SCORE_SCHEMA,
    closed_lives,
    lead_band,
    machine_lives,
    score_lives,
)
from dt_platform.phm.track_record_summary import compare, summarize

UTC = dt.UTC
M, TYPE = "SMT-01", "smt_placer"


def at(day: int, hour: int = 0) -> dt.datetime:
    return dt.datetime(2026, 3, day, hour, tzinfo=UTC)


WORK_ORDERS = pl.DataFrame(
    [
        # ends an earlier life whose start the log does not know (no predictions in it)
        ("WO-0", M, dt.datetime(2026, 2, 28, 22, tzinfo=UTC), at(1), "preventive", "replace",
         "nozzle"),
        ("WO-C", M, at(3, 9), at(3, 10), "preventive", "clean", "nozzle"),  # does not end a life
        ("WO-1", M, at(5, 12), at(5, 16), "corrective", "replace", "nozzle"),  # the failure
        ("WO-F", M, at(7, 9), at(7, 11), "corrective", "repair", "feeder"),  # another component
        ("WO-2", M, at(9, 8), at(9, 10), "preventive", "replace", "nozzle"),  # planned removal
        ("WO-9", "SMT-02", at(5, 1), at(5, 2), "corrective", "replace", "nozzle"),
    ],
    schema=["work_order", "machine_id", "started_at", "finished_at", "kind", "action",
            "component"],
    orient="row",
)  # fmt: skip

# (ts, point, lo, hi, model_version, alert)
PREDICTIONS = [
    # life A (1 Mar 00:00 - failure 5 Mar 12:00): true RUL 84, 60, 36, 12 h
    (at(2), 100.0, 70.0, 130.0, "v1", True),  # inside; error +16; alone: a false episode
    (at(3), 40.0, 30.0, 55.0, "v1", False),  # 60 > 55: above the upper bound; error -20
    (at(4), 30.0, 20.0, 50.0, "v1", True),  # inside; error -6; warns 36 h ahead
    (at(5), 20.0, 15.0, 30.0, "v1", True),  # 12 < 15: below the lower bound; error +8
    # life B (5 Mar 16:00 - removed 9 Mar 08:00): survived 80, 56, 32, 8 h
    (at(6), 300.0, 200.0, 400.0, "v2", False),  # undecidable both ways
    (at(7), 40.0, 20.0, 50.0, "v2", False),  # outlived its upper bound 50 < 56; lower held
    (at(8), 100.0, 30.0, 150.0, "v2", True),  # lower held; alert open (removed within 72 h)
    (at(9), 50.0, 10.0, 90.0, "v2", False),  # 10 > 8: undecidable too
]


def predictions() -> pl.DataFrame:
    rows = [
        (M, TYPE, ts, (ts - dt.timedelta(days=1)).date(), v, "p1", p, lo, hi)
        for ts, p, lo, hi, v, _ in PREDICTIONS
    ]
    rows.append(("SMT-02", TYPE, at(4), dt.date(2026, 3, 3), "v1", "p1", 1.0, 0.0, 2.0))
    return pl.DataFrame(
        rows,
        schema={
            "machine_id": pl.String, "machine_type": pl.String, "ts": SCORE_SCHEMA["ts"],
            "day": pl.Date, "model_version": pl.String, "physics_version": pl.String,
            "rul_fused_h": pl.Float64, "rul_fused_lo_h": pl.Float64, "rul_fused_hi_h": pl.Float64,
        },
        orient="row",
    )  # fmt: skip


def alerts() -> pl.DataFrame:
    rows = [(M, ts, 72.0) for ts, *_, alert in PREDICTIONS if alert]
    return pl.DataFrame(
        rows,
        schema={"machine_id": pl.String, "ts": SCORE_SCHEMA["ts"], "horizon_h": pl.Float64},
        orient="row",
    )


def scores_of(day: dt.date) -> pl.DataFrame:
    lives = closed_lives(WORK_ORDERS, {M: TYPE, "SMT-02": TYPE}, day)
    return score_lives([life for life in lives if life.machine_id == M], predictions(), alerts(),
                       day)  # fmt: skip


def test_lives_follow_the_log() -> None:
    lives = machine_lives(WORK_ORDERS, M, TYPE)
    assert [(life.work_order, life.end_kind) for life in lives] == [
        ("WO-0", "removed"),
        ("WO-1", "failure"),
        ("WO-2", "removed"),
    ]
    assert lives[0].start is None and lives[1].start == at(1) and lives[2].start == at(5, 16)
    assert [life.work_order for life in closed_lives(WORK_ORDERS, {M: TYPE}, at(5).date())] == [
        "WO-1",
        "WO-9",
    ]
    assert closed_lives(WORK_ORDERS, {M: TYPE}, at(7).date()) == []  # the feeder is no life


def test_a_failed_life_is_scored_by_hand() -> None:
    s = scores_of(at(5).date())
    assert s.height == 4 and set(s["work_order"]) == {"WO-1"}
    assert s["true_rul_h"].to_list() == [84.0, 60.0, 36.0, 12.0]
    assert s["error_h"].to_list() == [16.0, -20.0, -6.0, 8.0]
    assert s["lead_band"].to_list() == ["72-168", "24-72", "24-72", "0-24"]
    assert s["inside_90"].to_list() == [True, False, True, False]
    assert s["above_upper"].to_list() == [False, True, False, False]
    assert s["below_lower"].to_list() == [False, False, False, True]
    # PIT under the split normal: (84-100)/(30/1.645) = -0.877 -> 0.190; (36-30)/(20/1.645)
    # = 0.493 -> 0.689
    assert s["pit"][0] == pytest.approx(0.1902, abs=1e-3)
    assert s["pit"][2] == pytest.approx(0.6891, abs=1e-3)
    assert s["inside_50"].to_list() == [False, False, True, False]
    assert s["inside_80"].to_list() == [True, False, True, False]
    assert s["alert"].to_list() == [True, False, True, True]


def test_a_removed_life_is_censored() -> None:
    s = scores_of(at(9).date())
    assert s.height == 4 and set(s["end_kind"]) == {"removed"}
    assert s["survived_h"].to_list() == [80.0, 56.0, 32.0, 8.0]
    assert s["true_rul_h"].null_count() == 4 and s["inside_90"].null_count() == 4
    assert s["above_upper"].to_list() == [None, True, None, None]
    assert s["below_lower"].to_list() == [None, False, False, None]


def test_the_summary_by_hand() -> None:
    scores = pl.concat([scores_of(at(5).date()), scores_of(at(9).date())])
    summary = summarize(scores, at(9).date())
    rows = {(r["model_version"], r["lead_band"]): r for r in summary.iter_rows(named=True)}
    a = rows["v1", "all"]
    assert (a["lives"], a["predictions"], a["inside_90"], a["coverage_90"]) == (1, 4, 2, 0.5)
    assert (a["inside_50"], a["inside_80"], a["below_lower"], a["above_upper"]) == (1, 2, 1, 1)
    assert a["rmse_h"] == pytest.approx(math.sqrt(756 / 4))
    assert (a["bias_h"], a["mae_h"]) == (-0.5, 12.5)
    # alerts: [2 Mar] ends 84 h before the failure, beyond the 72 h horizon: false; [4-5 Mar]
    # reaches it: true, warned 5 Mar 12:00 - 4 Mar 00:00 = 36 h ahead
    assert (a["failures"], a["warned"], a["mean_lead_h"], a["median_lead_h"]) == (1, 1, 36.0, 36.0)
    assert (a["episodes_true"], a["episodes_false"], a["episodes_open"]) == (1, 1, 0)
    assert a["false_alarm_share"] == 0.5
    assert rows["v1", "24-72"]["coverage_90"] == 0.5 and rows["v1", "0-24"]["coverage_90"] == 0.0
    assert rows["v1", "72-168"]["coverage_90"] == 1.0
    b = rows["v2", "all"]
    assert (b["predictions"], b["coverage_90"], b["rmse_h"]) == (0, None, None)
    assert (b["censored_predictions"], b["censored_above_upper"], b["censored_lower_held"]) == (
        4,
        1,
        2,
    )
    assert (b["failures"], b["episodes_open"], b["false_alarm_share"]) == (0, 1, None)
    assert summary["lead_band"].to_list()[:4] == ["0-24", "24-72", "72-168", "all"]


def test_compare_names_each_difference() -> None:
    scores = pl.concat([scores_of(at(5).date()), scores_of(at(9).date())])
    summary = summarize(scores, at(9).date())
    assert compare(summary, summarize(scores.reverse(), at(9).date())) == []
    edited = scores.with_columns(
        pl.when(pl.col("ts") == at(3)).then(True).otherwise(pl.col("inside_90")).alias("inside_90")
    )
    problems = compare(summary, summarize(edited, at(9).date()))
    assert "v1/smt_placer/all: inside_90 published 2, recomputed 3" in problems
    assert "v1/smt_placer/24-72: coverage_90 published 0.5, recomputed 1.0" in problems


def test_lead_bands() -> None:
    assert [lead_band(h) for h in (0, 23.9, 24, 71, 72, 200, 336, 5000)] == [
        "0-24", "0-24", "24-72", "24-72", "72-168", "168-336", "336+", "336+",
    ]  # fmt: skip
