"""The ``track_record`` asset on a small warehouse holding the hand-made timeline: the day a life
closes gets its scores and the summary, a day that closes nothing gets neither, and the scores
become records of that day's snapshot."""

import datetime as dt

import dagster as dg
import polars as pl

from assets.resources import WarehouseResource
from assets.track_record import track_record
from dt_platform.phm.track_record_table import published_summary, read_scores
from dt_platform.trust.snapshot import collect_records
from dt_platform.warehouse import Warehouse
from tests.phm.track_record_fixtures import fill_warehouse


def test_track_record_asset(tmp_path) -> None:
    warehouse = Warehouse(tmp_path / "warehouse.duckdb")
    with warehouse.write() as con:
        fill_warehouse(con)
    resources = {"warehouse": WarehouseResource(path=str(warehouse.path))}
    for day in ("2026-03-04", "2026-03-05", "2026-03-09"):
        result = dg.materialize([track_record], partition_key=day, resources=resources)
        assert result.success
    meta = result.asset_materializations_for_node("track_record")[0].metadata
    assert meta["scored_predictions"].value == 4 and meta["lives_closed"].value == 1
    assert meta["failures"].value == 0  # 9 March: the planned replacement
    with warehouse.read() as con:
        scores = read_scores(con)
        assert scores.group_by("day").len().sort("day").rows() == [
            (dt.date(2026, 3, 5), 4),
            (dt.date(2026, 3, 9), 4),
        ]
        summary = published_summary(con)
        assert set(summary["day"]) == {dt.date(2026, 3, 9)}
        v1 = summary.filter((pl.col("model_version") == "v1") & (pl.col("lead_band") == "all"))
        assert v1.select("coverage_90", "inside_80", "warned", "mean_lead_h").row(0) == (
            0.5,
            2,
            1,
            36.0,
        )
        assert published_summary(con, dt.date(2026, 3, 8))["day"].unique().to_list() == [
            dt.date(2026, 3, 5)
        ]
        quiet = collect_records(con, dt.date(2026, 3, 4))
        closing = collect_records(con, dt.date(2026, 3, 9))
    assert not {"track_record_scores", "track_record_summary"} & {s.name for s in quiet.sources}
    assert closing.source("track_record_scores").rows == 4
    assert closing.source("track_record_summary").rows == summary.height

    # Re-materializing a day gives the same rows.
    assert dg.materialize([track_record], partition_key="2026-03-09", resources=resources).success
    with warehouse.read() as con:
        assert read_scores(con).sort("day", "ts").equals(scores.sort("day", "ts"))
