"""The page helpers behind the fleet, machine and audit pages, on hand-made frames and records."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pyarrow as pa

from app import audit_views, health_views
from dt_platform.trust.audit.diff import FieldDiff, RecordDiff
from dt_platform.trust.snapshot import DayRecords
from dt_platform.trust.snapshot.records import records_from_table

UTC = dt.UTC


def _status() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "machine_id": ["CNC-01", "OVEN 2", "SMT-01"],
            "machine_type": ["cnc_spindle", "reflow_oven", "smt_placer"],
            "line": ["L1", None, "L2"],
            "ts": [dt.datetime(2026, 12, 5, tzinfo=UTC)] * 3,
            "rul_fused_h": [120.4, None, 2500.0],
            "rul_fused_lo_h": [30.0, None, 1200.0],
            "rul_fused_hi_h": [400.0, None, 4800.2],
            "rul_physics_h": [120.4, None, 2600.0],
            "rul_ml_h": [None, None, 2400.0],
            "basis": ["physics_only", None, "fused"],
            "stage": [None, None, None],
            "probability": [0.9, None, None],
            "severity": ["critical", None, None],
            "reason": ["likely within 24 h", None, None],
            "note": ["a long note " * 10, None, "a long note " * 10],
        },
        schema_overrides={"stage": pl.String},
    )


def test_the_fleet_table_has_no_empty_text_cells_and_links_each_machine() -> None:
    table = health_views.fleet_table(_status())
    assert table["link"].to_list() == [
        "machine?machine=CNC-01",
        "machine?machine=OVEN%202",
        "machine?machine=SMT-01",
    ]
    for column in ("machine_type", "line", "basis", "severity", "reason", "note", "interval_90"):
        assert table[column].null_count() == 0, column
        assert "None" not in table[column].to_list(), column
    assert table["interval_90"].to_list() == ["30 – 400 h", "–", "1,200 – 4,800 h"]
    assert table["rul_fused_h"][1] is None  # numbers stay numbers


def test_notes_are_listed_whole_once_per_text() -> None:
    notes = health_views.notes_by_text(_status())
    assert notes == [("a long note " * 10, ["CNC-01", "SMT-01"])]


def test_rul_ticks_step_1_3_10_up_to_the_highest_value() -> None:
    assert health_views.rul_ticks(2500) == [0, 1, 3, 10, 30, 100, 300, 1000, 3000]
    assert health_views.rul_ticks(4800.2) == [0, 1, 3, 10, 30, 100, 300, 1000, 3000, 10000]
    assert health_views.rul_ticks(0.5) == [0, 1]
    assert health_views.rul_ticks(None) == [0, 1, 10, 100]


def test_law_changes_within_a_life_are_found_and_a_new_life_is_not_one() -> None:
    hours = [dt.datetime(2026, 12, 1, h, tzinfo=UTC) for h in range(6)]
    life_1 = dt.datetime(2026, 11, 1, tzinfo=UTC)
    life_2 = dt.datetime(2026, 12, 1, 3, tzinfo=UTC)
    damage = pl.DataFrame(
        {
            "ts": hours,
            "damage": [0.50, 0.51, 0.40, 0.0, 0.01, 0.02],
            "damage_rate_per_h": [0.01] * 6,
            "stage": ["s"] * 6,
            "component_installed_at": [life_1, life_1, life_1, life_2, life_2, life_2],
            # refit between hour 1 and 2 (damage falls: another law), then a new component
            "physics_version": ["v1", "v1", "v2", "v2", "v2", "v3"],
        }
    )
    changes = health_views.law_changes(damage)
    assert changes.select("ts", "before", "after").rows() == [
        (hours[2], "v1", "v2"),
        (hours[5], "v2", "v3"),
    ]
    assert health_views.law_changes(damage.clear()).is_empty()


def test_fill_text_replaces_only_missing_text() -> None:
    frame = pl.DataFrame({"notes": [None, "x"], "n": [None, 1]})
    filled = health_views.fill_text(frame)
    assert filled["notes"].to_list() == ["–", "x"] and filled["n"].to_list() == [None, 1]


def _records() -> DayRecords:
    digest = pa.table(
        {
            "machine_id": ["A", "A", "A", "B"],
            "sensor": ["t", "t", "v", "t"],
            "hour": [dt.datetime(2026, 12, 5, h, tzinfo=UTC) for h in (0, 1, 0, 0)],
            "readings": [60, 60, 60, 60],
        }
    )
    empty = pa.table({"machine_id": pa.array([], pa.string()), "ts": pa.array([], pa.string())})
    return DayRecords(
        dt.date(2026, 12, 5),
        [
            records_from_table("decisions", ("machine_id", "ts"), empty),
            records_from_table("telemetry_digest", ("machine_id", "sensor", "hour"), digest),
        ],
    )


def test_the_proof_form_offers_only_sources_with_records_and_narrows_keys() -> None:
    records = _records()
    sources = audit_views.provable_sources(records)
    assert sources == ["telemetry_digest"]  # decisions holds nothing this day
    assert sources[audit_views.default_source(sources)] == "telemetry_digest"
    assert audit_views.default_source(["decisions", "rul_predictions"]) == 1
    digest = records.source("telemetry_digest")
    assert audit_views.key_choices(digest, {}, "machine_id") == ["A", "B"]
    assert audit_views.key_choices(digest, {"machine_id": "A"}, "sensor") == ["t", "v"]
    hours = audit_views.key_choices(digest, {"machine_id": "A", "sensor": "t"}, "hour")
    assert len(hours) == 2 and hours[0].startswith("2026-12-05T00:00")
    assert audit_views.key_choices(digest, {"machine_id": "B", "sensor": "v"}, "hour") == []


def test_diff_rows_show_each_changed_field_with_before_and_after() -> None:
    diffs = [
        RecordDiff(
            "rul_predictions", {"machine_id": "A"}, "changed", (FieldDiff("rul_h", 90, 100),)
        ),
        RecordDiff("published_documents", {"name": "report.html"}, "added"),
    ]
    rows = audit_views.diff_rows(diffs)
    assert rows == [
        {
            "source": "rul_predictions",
            "key": "machine_id=A",
            "change": "changed",
            "field": "rul_h",
            "before": "100",
            "after": "90",
        },
        {
            "source": "published_documents",
            "key": "name=report.html",
            "change": "added",
            "field": "–",
            "before": "–",
            "after": "–",
        },
    ]
