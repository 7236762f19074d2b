"""Around a day's predictions: the rows of the life in service, the hours missing from them, the
note saying what a prediction rests on, and the interval check."""

from __future__ import annotations

import datetime as dt

import polars as pl

from dt_platform.phm.fleet.config import FleetConfig
from dt_platform.phm.fleet.daily import (
    current_lives,
    feature_gaps,
    interval_violations,
    mark_repairs,
    prediction_note,
    under_repair,
)
from dt_platform.warehouse import Warehouse

T0 = dt.datetime(2026, 3, 2, tzinfo=dt.UTC)
UTC = pl.Datetime("us", "UTC")


def h(hours: int) -> dt.datetime:
    return T0 + dt.timedelta(hours=hours)


def test_current_lives_keep_the_rows_of_the_component_in_service() -> None:
    history = pl.DataFrame(
        {
            "machine_id": ["A", "A", "A", "B", "B"],
            "ts": [h(1), h(2), h(3), h(1), h(2)],
            "component_installed_at": [h(-100), h(1), h(1), None, None],
        },
        schema_overrides={"ts": UTC, "component_installed_at": UTC},
    )
    asof = pl.DataFrame(
        {"machine_id": ["A", "B"], "component_installed_at": [h(1), None]},
        schema_overrides={"component_installed_at": UTC},
    )
    out = current_lives(history, asof).sort("machine_id", "ts")
    assert out.select("machine_id", "ts").rows() == [
        ("A", h(2)),
        ("A", h(3)),
        ("B", h(1)),
        ("B", h(2)),
    ]


def test_feature_gaps_count_the_hours_missing_since_the_first_stored_one() -> None:
    lives = pl.DataFrame(
        {"machine_id": ["A"] * 3 + ["B"] * 4, "ts": [h(1), h(2), h(4), h(1), h(2), h(3), h(4)]},
        schema_overrides={"ts": UTC},
    )
    assert feature_gaps(lives, h(4)) == {}  # one hour missing is tolerated
    assert feature_gaps(lives, h(6)) == {"A": 3, "B": 2}


def test_the_note_says_what_the_prediction_rests_on() -> None:
    config = FleetConfig()
    frame = pl.DataFrame(
        {
            "basis": ["none", "none", "physics_only", "fused", "fused", "ml_only"],
            "note": [None, "no law", "warming up", None, None, None],
            "rul_ml_h": [None, None, None, 0.95 * config.cap_h, 10.0, 5.0],
        },
        schema_overrides={"note": pl.String},
    )
    without = frame.select(prediction_note(None, config))["note"].to_list()
    assert without[:3] == [
        "no physics law fitted and no RUL model yet",
        "no law",
        "warming up; physics only: no RUL model registered yet",
    ]
    assert without[3].startswith("beyond the 336 h horizon") and without[4:] == [None, None]
    with_model = frame.select(prediction_note("v1", config))["note"].to_list()
    assert with_model[2] == "warming up; physics only: no ML estimate for this row"


def test_interval_violations_name_the_branch() -> None:
    cols = {
        f"rul_{b}{s}_h": pl.Float64 for b in ("physics", "ml", "fused") for s in ("", "_lo", "_hi")
    }
    ok = dict.fromkeys(cols, 1.0) | {f"rul_{b}_lo_h": 0.5 for b in ("physics", "ml", "fused")}
    rows = [
        {"machine_id": "ok", **ok},
        {"machine_id": "open_hi", **ok, "rul_fused_hi_h": None},
        {"machine_id": "negative", **ok, "rul_ml_lo_h": -1.0},
        {"machine_id": "crossed", **ok, "rul_physics_hi_h": 0.5},
    ]
    bad = interval_violations(pl.DataFrame(rows, schema={"machine_id": pl.String, **cols}))
    assert sorted(bad.select("machine_id", "branch").rows()) == [
        ("crossed", "physics"),
        ("negative", "ml"),
    ]


def test_a_machine_under_corrective_repair_is_marked_failed_at_that_hour(tmp_path) -> None:
    at = h(10)
    log = [  # machine, start, finish, kind
        ("A", h(9), None, "corrective"),  # open: failed
        ("B", h(5), h(8), "corrective"),  # finished before
        ("C", h(11), None, "corrective"),  # not started yet
        ("D", h(9), h(12), "preventive"),  # not a failure
        ("E", h(9), h(12), "corrective"),  # open
        ("F", h(9), at, "corrective"),  # finished at the hour the row describes the end of
    ]
    with Warehouse(tmp_path / "warehouse.duckdb").write() as con:
        for i, (machine, start, finish, kind) in enumerate(log):
            con.execute(
                "INSERT INTO maintenance_log (work_order, machine_id, started_at, finished_at, "
                "kind, action, component, notes, source_file, line) "
                "VALUES (?, ?, ?, ?, ?, 'replace', 'nozzle', NULL, 'cmms/a.csv', ?)",
                [f"WO-{i}", machine, start, finish, kind, i + 1],
            )
        assert under_repair(con, at) == ["A", "E", "F"]
    timeline = pl.DataFrame(
        {"machine_id": ["A", "A", "B"], "ts": [h(9), at, at], "stage": [None, None, "miner"]},
        schema_overrides={"ts": UTC, "stage": pl.String},
    )
    assert mark_repairs(timeline, ["A", "E"], at)["stage"].to_list() == [None, "failed", "miner"]
    bare = mark_repairs(timeline.drop("stage"), ["A"], at)
    assert bare["stage"].to_list() == [None, "failed", None]
