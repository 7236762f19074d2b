"""Per-file isolation: whatever goes wrong with one file is recorded for that file, the run goes
on with the others, and the file is taken up again only when it changes."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest

from dt_platform.ingest.fingerprint import landing_fingerprint
from dt_platform.ingest.loader import IngestError, IngestLimits, ingest_landing, jsonl
from dt_platform.ingest.registry import parse_registry, sync_registry
from dt_platform.warehouse import Warehouse

NOW = dt.datetime(2026, 11, 25, 12, 0, tzinfo=dt.UTC)
LIMITS = IngestLimits(earliest=dt.datetime(2025, 12, 25, tzinfo=dt.UTC))
HEADER = "timestamp,machine_id,vacuum [kPa]\n"


@pytest.fixture
def landing(tmp_path: Path) -> Path:
    with Warehouse(tmp_path / "warehouse.duckdb").write() as con:
        sync_registry(
            con,
            parse_registry(
                "machines:\n  - {machine_id: SMT-01, type: smt_placer}\n"
                "  - {machine_id: CNC-01, type: cnc_spindle}\n"
            ),
        )
    (tmp_path / "landing" / "gw").mkdir(parents=True)
    return tmp_path / "landing"


def drop(path: Path, text: str, mtime_ns: int) -> Path:
    path.write_text(text)
    os.utime(path, ns=(mtime_ns, mtime_ns))
    return path


def ingest(landing: Path):
    with Warehouse(landing.parent / "warehouse.duckdb").write() as con:
        return ingest_landing(con, landing, now=NOW, limits=LIMITS)


def query(landing: Path, sql: str) -> list[tuple]:
    with Warehouse(landing.parent / "warehouse.duckdb").read() as con:
        return con.execute(sql).fetchall()


def test_a_year_0_file_first_in_line_no_longer_stops_the_files_after_it(landing: Path) -> None:
    """It used to escape the quarantine as an exception, stay out of the ledger and be retried
    first by every run, failing again, so that no later file ever loaded."""
    drop(landing / "gw" / "a.csv", HEADER + "0000-11-20T00:00:00Z,SMT-01,70\n", 1_000)
    drop(landing / "gw" / "b.csv", HEADER + "2026-11-20T00:00:00Z,SMT-01,70\n", 2_000)
    summary = ingest(landing)
    assert [(f.path, f.rows_loaded, f.rows_rejected) for f in summary.files] == [
        ("gw/a.csv", 0, 1),
        ("gw/b.csv", 1, 0),
    ]
    assert ingest(landing).files == []


def test_an_unexpected_error_costs_one_file_and_is_retried_only_when_it_changes(
    landing: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stage = jsonl._stage_jsonl

    def broken(con, data, result):
        if b"BOOM" in data:
            raise ZeroDivisionError("a bug the readers did not foresee")
        return stage(con, data, result)

    monkeypatch.setattr("dt_platform.ingest.loader.dump._stage_jsonl", broken)
    line = '{"ts": "2026-11-20T00:00:00Z", "machine": "CNC-01", "sensor": "load", "value": 5, "unit": "%"'
    bad = drop(landing / "gw" / "bad.jsonl", line + ', "note": "BOOM"}\n', 1_000)
    drop(landing / "gw" / "good.jsonl", line.replace("00:00:00", "00:01:00") + "}\n", 2_000)
    logged: list[str] = []
    with Warehouse(landing.parent / "warehouse.duckdb").write() as con:
        summary = ingest_landing(con, landing, now=NOW, limits=LIMITS, log=logged.append)
    assert [(f.path, f.status, f.reason) for f in summary.files] == [
        ("gw/bad.jsonl", "quarantined", "loader_error"),
        ("gw/good.jsonl", "loaded", None),
    ]
    assert "ZeroDivisionError: a bug the readers did not foresee" in summary.files[0].detail
    assert any("Traceback" in message for message in logged)
    assert query(landing, "SELECT count(*) FROM readings WHERE file_id = 1") == [(0,)]
    assert query(landing, "SELECT reason FROM telemetry_rejects WHERE file_id = 1") == [
        ("loader_error",)
    ]
    os.utime(bad, ns=(5_000, 5_000))  # touched, same content: not retried
    assert ingest(landing).files == []
    monkeypatch.undo()
    drop(bad, line + ', "note": "fixed"}\n', 6_000)  # new content: retried, and loads
    assert [(f.path, f.status, f.version) for f in ingest(landing).files] == [
        ("gw/bad.jsonl", "loaded", 2)
    ]


def test_an_accounting_mismatch_is_recorded_not_retried_for_ever(
    landing: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def mismatch(con, result) -> None:
        raise IngestError(f"{result.path}: accounting does not balance")

    monkeypatch.setattr("dt_platform.ingest.loader.dump._check_accounting", mismatch)
    drop(landing / "gw" / "a.csv", HEADER + "2026-11-20T00:00:00Z,SMT-01,70\n", 1_000)
    summary = ingest(landing)
    assert [(f.status, f.reason) for f in summary.files] == [("quarantined", "loader_error")]
    assert query(landing, "SELECT count(*) FROM readings") == [(0,)]
    assert ingest(landing).files == []


def test_a_correction_with_the_same_size_and_mtime_is_read(landing: Path) -> None:
    path = drop(landing / "gw" / "a.csv", HEADER + "2026-11-20T00:00:00Z,SMT-01,70\n", 1_000)
    fingerprint = landing_fingerprint(landing, landing.parent / "machines.yaml")
    ingest(landing)
    drop(path, HEADER + "2026-11-20T00:00:00Z,SMT-01,69\n", 1_000)  # same size, same mtime
    assert landing_fingerprint(landing, landing.parent / "machines.yaml") != fingerprint
    assert [(f.status, f.version) for f in ingest(landing).files] == [("loaded", 2)]
    assert query(landing, "SELECT value FROM readings_v") == [(69.0,)]


def test_the_fingerprint_neither_follows_links_nor_blocks_on_fifos(landing: Path) -> None:
    registry = landing.parent / "machines.yaml"
    before, n = landing_fingerprint(landing, registry)
    os.mkfifo(landing / "gw" / "pipe.csv")
    (landing / "gw" / "zero.csv").symlink_to("/dev/zero")
    (landing / "gw" / "dangling.csv").symlink_to(landing.parent / "nowhere.csv")
    (landing / "cmms").mkdir()
    (landing / "cmms" / "dangling.csv").symlink_to(landing.parent / "nowhere.csv")
    after, n_after = landing_fingerprint(landing, registry)
    assert after != before and n_after == n + 4
    # Re-pointing a link changes the fingerprint (its own ctime), not its target's content.
    (landing / "gw" / "zero.csv").unlink()
    (landing / "gw" / "zero.csv").symlink_to("/dev/null")
    assert landing_fingerprint(landing, registry)[0] != after
