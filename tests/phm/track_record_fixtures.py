"""A hand-made timeline for the track record: two lives of one placer's nozzle, the first ended
by a failure, the second by a planned replacement, with predictions, intervals and alerts whose
scores are worked out by hand in ``test_track_record.py``; and the same timeline in a warehouse.

Plain functions, not fixtures (no conftest).
"""

from __future__ import annotations

import datetime as dt

import duckdb
import polars as pl

from dt_platform.phm import tables
from dt_platform.phm.track_record import SCORE_SCHEMA
from dt_platform.warehouse import ensure_schema

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


def fill_warehouse(con: duckdb.DuckDBPyConnection) -> list[dt.date]:
    """The timeline as the platform stores it: the maintenance log, each day's predictions and
    alerts (SMT-01 only); returns the prediction days."""
    ensure_schema(con)
    for n, row in enumerate(WORK_ORDERS.iter_rows()):
        con.execute(
            "INSERT INTO maintenance_log VALUES (?, ?, ?, ?, ?, ?, ?, NULL, 'cmms/wo.csv', ?)",
            [*row, n + 2],
        )
    preds = predictions().filter(pl.col("machine_id") == M)
    raised = alerts().join(preds.select("machine_id", "ts", "model_version", "machine_type"),
                           on=["machine_id", "ts"])  # fmt: skip
    days = sorted(set(preds["day"]))
    for day in days:
        tables.replace_day(con, "rul_predictions", day, preds.filter(pl.col("day") == day))
        tables.replace_day(
            con,
            "maintenance_alerts",
            day,
            raised.filter(pl.col("ts").dt.date() == day + dt.timedelta(days=1)).with_columns(
                pl.lit(0.5).alias("threshold"), pl.lit(0.8).alias("probability")
            ),
        )
    return days
