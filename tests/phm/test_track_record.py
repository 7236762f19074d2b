"""The track record on the hand-made timeline of ``track_record_fixtures``: every figure below is
worked out by hand."""

from __future__ import annotations

import datetime as dt
import math

import polars as pl
import pytest

from dt_platform.phm.track_record import (
    closed_lives,
    lead_band,
    machine_lives,
    rescore,
    score_lives,
)
from dt_platform.phm.track_record_summary import compare, summarize
from tests.phm.track_record_fixtures import TYPE, WORK_ORDERS, M, alerts, at, predictions


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


def test_rescore_recomputes_every_derived_column() -> None:
    scores = pl.concat([scores_of(at(9).date()), scores_of(at(5).date())])
    assert rescore(scores).equals(scores)
    tampered = scores.with_columns(pl.lit(True).alias("inside_90"), pl.lit(1.0).alias("pit"))
    assert rescore(tampered).equals(scores)
