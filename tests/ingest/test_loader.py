"""Ingestion of sensor dumps: formats, units, idempotency and every kind of bad input."""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from dt_platform.ingest.loader import ingest_landing
from dt_platform.ingest.mapping import REASONS
from dt_platform.ingest.registry import parse_registry, sync_registry
from dt_platform.warehouse import Warehouse

NOW = dt.datetime(2026, 11, 25, 12, 0, tzinfo=dt.UTC)
REGISTRY = """
machines:
  - {machine_id: SMT-01, type: smt_placer, gateway: gw-opcua}
  - {machine_id: CNC-01, type: cnc_spindle, gateway: gw-mqtt}
  - {machine_id: OVEN-01, type: reflow_oven, gateway: gw-hist}
"""
SMT_HEADER = "timestamp,machine_id,vacuum [kPa],placement_offset [um],head_temp [degF]\n"


class Line:
    """A landing folder and warehouse; ``ingest()`` runs the loader like the asset does."""

    def __init__(self, root: Path) -> None:
        self.landing = root / "landing"
        self.landing.mkdir()
        self.warehouse = Warehouse(root / "warehouse.duckdb")
        with self.warehouse.write() as con:
            sync_registry(con, parse_registry(REGISTRY))
        self._tick = 0

    def drop(self, rel: str, content: bytes | str) -> Path:
        path = self.landing / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content.encode() if isinstance(content, str) else content)
        # Distinct, increasing mtimes make arrival order explicit.
        self._tick += 1
        os.utime(
            path,
            ns=(1_700_000_000_000_000_000 + self._tick, 1_700_000_000_000_000_000 + self._tick),
        )
        return path

    def ingest(self, now: dt.datetime = NOW):
        with self.warehouse.write() as con:
            return ingest_landing(con, self.landing, now=now)

    def query(self, sql: str, params=None):
        with self.warehouse.read() as con:
            return con.execute(sql, params or []).fetchall()

    def rejects(self) -> list[tuple]:
        return self.query(
            "SELECT line, sensor, reason FROM telemetry_rejects ORDER BY file_id, line, sensor"
        )


@pytest.fixture
def line(tmp_path: Path) -> Line:
    return Line(tmp_path)


def assert_balanced(line: Line) -> None:
    """rows in = rows loaded + rows rejected, per file, against what is actually stored."""
    for file_id, rows_in, loaded, rejected, stored_loaded, stored_rejected in line.query(
        """SELECT f.file_id, f.rows_in, f.rows_loaded, f.rows_rejected,
                  (SELECT count(*) FROM readings r WHERE r.file_id = f.file_id),
                  (SELECT count(*) FROM telemetry_rejects j WHERE j.file_id = f.file_id)
           FROM file_ledger f WHERE f.status <> 'duplicate_file'"""
    ):
        assert rows_in == loaded + rejected, file_id
        assert (loaded, rejected) == (stored_loaded, stored_rejected), file_id


# --- formats and units ---------------------------------------------------------------------------


def test_wide_csv_loads_in_si_units_and_utc(line: Line) -> None:
    line.drop(
        "gw-opcua/2026-11-20.csv",
        SMT_HEADER + "2026-11-20T08:00:00+08:00,SMT-01,71.5,14.0,212\n"
        "2026-11-20T08:01:00+08:00,SMT-01,71.4,,212.9\n",
    )
    summary = line.ingest()
    assert summary.count("loaded") == 1 and summary.rows_loaded == 5
    rows = line.query("SELECT sensor, ts, value FROM readings_v ORDER BY ts, sensor")
    assert rows[0][1] == dt.datetime(2026, 11, 20, 0, 0, tzinfo=dt.UTC)
    values = {(r[0], r[1].minute): r[2] for r in rows}
    assert values[("head_temp_c", 0)] == pytest.approx(100.0)
    assert values[("vacuum_kpa", 1)] == 71.4
    assert ("placement_offset_um", 1) not in values  # an empty cell is no reading
    assert summary.touched_days == {dt.date(2026, 11, 20)}
    assert_balanced(line)


def test_jsonl_and_parquet_load_with_declared_units(line: Line) -> None:
    line.drop(
        "gw-mqtt/a.jsonl",
        "\n".join(
            json.dumps(r)
            for r in [
                {
                    "ts": "2026-11-20T00:00:00Z",
                    "machine": "CNC-01",
                    "sensor": "spindle_temp",
                    "value": 98.6,
                    "unit": "degF",
                },
                {
                    "ts": "2026-11-20T00:00:00Z",
                    "machine": "CNC-01",
                    "sensor": "vibration_rms",
                    "value": 0.1,
                    "unit": "in/s",
                },
            ]
        )
        + "\n",
    )
    table = pa.table(
        {
            "machine_id": ["OVEN-01"],
            "sensor": ["heater_temp"],
            "unit": ["K"],
            "ts": pa.array(
                [dt.datetime(2026, 11, 20, 1, tzinfo=dt.UTC)],
                pa.timestamp("us", tz="Asia/Ho_Chi_Minh"),
            ),
            "value": [573.15],
        }
    )
    pq.write_table(table, line.landing / "hist.parquet")
    summary = line.ingest()
    assert summary.count("loaded") == 2 and summary.rows_rejected == 0
    values = dict(line.query("SELECT sensor, value FROM readings_v"))
    assert values["spindle_temp_c"] == pytest.approx(37.0)
    assert values["vibration_rms_mm_s"] == pytest.approx(2.54)
    assert values["heater_temp_c"] == pytest.approx(300.0)
    assert_balanced(line)


# --- idempotency and versions --------------------------------------------------------------------


def test_redelivery_is_idempotent_and_a_changed_file_is_a_new_version(line: Line) -> None:
    body = (
        SMT_HEADER
        + "2026-11-20T00:00:00Z,SMT-01,70,10,100\n2026-11-20T00:01:00Z,SMT-01,70,10,100\n"
    )
    line.drop("gw-opcua/day.csv", body)
    first = line.ingest()
    assert first.rows_loaded == 6
    assert line.ingest().files == []  # nothing new: a no-op
    line.drop("gw-opcua/day_resend.csv", body)  # same bytes under another name
    again = line.ingest()
    assert [f.status for f in again.files] == ["duplicate_file"]
    assert line.query("SELECT count(*) FROM readings_v") == [(6,)]

    corrected = SMT_HEADER + "2026-11-20T00:00:00Z,SMT-01,69,10,100\n"
    line.drop("gw-opcua/day.csv", corrected)  # same name, new content
    third = line.ingest()
    assert [(f.status, f.version) for f in third.files] == [("loaded", 2)]
    assert line.query("SELECT path, version, status FROM file_ledger ORDER BY file_id") == [
        ("gw-opcua/day.csv", 1, "superseded"),
        ("gw-opcua/day_resend.csv", 1, "duplicate_file"),
        ("gw-opcua/day.csv", 2, "loaded"),
    ]
    # The correction replaces the old version; the old readings stay on record, not in telemetry.
    assert line.query("SELECT count(*), min(value) FROM readings_v WHERE sensor='vacuum_kpa'") == [
        (1, 69.0)
    ]
    assert line.query("SELECT count(*) FROM readings") == [(9,)]
    assert_balanced(line)


def test_duplicated_and_conflicting_readings_are_rejected_with_the_first_kept(line: Line) -> None:
    line.drop(
        "gw-opcua/a.csv",
        SMT_HEADER
        + "2026-11-20T00:00:00Z,SMT-01,70,10,100\n"
        + "2026-11-20T00:00:00Z,SMT-01,70,10,100\n"  # exact repeat
        + "2026-11-20T00:00:00Z,SMT-01,71,10,100\n",  # same time, other vacuum value
    )
    line.drop(
        "gw-mqtt/late.jsonl",
        json.dumps(
            {
                "ts": "2026-11-20T00:00:00Z",
                "machine": "SMT-01",
                "sensor": "vacuum",
                "value": 70,
                "unit": "kPa",
            }
        )
        + "\n",
    )
    line.ingest()
    assert line.rejects() == [
        (3, "head_temp", "duplicate_reading"),
        (3, "placement_offset", "duplicate_reading"),
        (3, "vacuum", "duplicate_reading"),
        (4, "head_temp", "duplicate_reading"),
        (4, "placement_offset", "duplicate_reading"),
        (4, "vacuum", "conflicting_reading"),
        (1, "vacuum", "duplicate_reading"),
    ]
    assert line.query("SELECT value FROM readings_v WHERE sensor='vacuum_kpa'") == [(70.0,)]
    assert_balanced(line)


# --- bad input: one test each --------------------------------------------------------------------


def _csv_case(line: Line, rows: str) -> list[tuple]:
    line.drop("gw-opcua/bad.csv", SMT_HEADER + rows)
    line.ingest()
    assert_balanced(line)
    return line.rejects()


def test_malformed_csv_line(line: Line) -> None:
    rejects = _csv_case(
        line, '2026-11-20T00:00:00Z,SMT-01,"70,10,100\n2026-11-20T00:01:00Z,SMT-01,70,10,100\n'
    )
    assert rejects == [(2, None, "malformed_line")]
    assert line.query("SELECT count(*) FROM readings_v") == [(3,)]  # the next line still loads


def test_wrong_column_count(line: Line) -> None:
    rejects = _csv_case(
        line, "2026-11-20T00:00:00Z,SMT-01,70,10\n2026-11-20T00:01:00Z,SMT-01,70,10,100,5\n"
    )
    assert rejects == [(2, None, "wrong_column_count"), (3, None, "wrong_column_count")]


def test_non_numeric_value_rejects_only_that_reading(line: Line) -> None:
    rejects = _csv_case(line, "2026-11-20T00:00:00Z,SMT-01,ERR,10,100\n")
    assert rejects == [(2, "vacuum", "non_numeric_value")]
    assert line.query("SELECT count(*) FROM readings_v") == [(2,)]


@pytest.mark.parametrize("token", ["nan", "NaN", "inf", "-Infinity"])
def test_nan_and_inf(line: Line, token: str) -> None:
    assert _csv_case(line, f"2026-11-20T00:00:00Z,SMT-01,{token},10,100\n") == [
        (2, "vacuum", "non_finite_value")
    ]


def test_nan_in_jsonl(line: Line) -> None:
    line.drop(
        "gw-mqtt/n.jsonl",
        '{"ts": "2026-11-20T00:00:00Z", "machine": "CNC-01", "sensor": "load", "value": NaN, "unit": "%"}\n',
    )
    line.ingest()
    assert line.rejects() == [(1, "load", "non_finite_value")]


def test_unknown_machine(line: Line) -> None:
    assert _csv_case(line, "2026-11-20T00:00:00Z,SMT-99,70,10,100\n") == [
        (2, "head_temp", "unknown_machine"),
        (2, "placement_offset", "unknown_machine"),
        (2, "vacuum", "unknown_machine"),
    ]


def test_unknown_sensor(line: Line) -> None:
    line.drop(
        "gw-mqtt/s.jsonl",
        '{"ts": "2026-11-20T00:00:00Z", "machine": "CNC-01", "sensor": "coolant_flow", "value": 3, "unit": "l/min"}\n',
    )
    line.ingest()
    assert line.rejects() == [(1, "coolant_flow", "unknown_sensor")]


def test_unknown_unit_and_unit_of_the_wrong_quantity(line: Line) -> None:
    line.drop(
        "gw-mqtt/u.jsonl",
        '{"ts": "2026-11-20T00:00:00Z", "machine": "CNC-01", "sensor": "spindle_temp", "value": 3, "unit": "furlongs"}\n'
        '{"ts": "2026-11-20T00:00:00Z", "machine": "CNC-01", "sensor": "current", "value": 3, "unit": "bar"}\n',
    )
    line.ingest()
    assert line.rejects() == [(1, "spindle_temp", "unknown_unit"), (2, "current", "unit_mismatch")]


def test_timestamp_without_timezone_or_unparseable(line: Line) -> None:
    rejects = _csv_case(
        line, "2026-11-20T00:00:00,SMT-01,70,,\nyesterday,SMT-01,70,,\n2026-11-20,SMT-01,70,,\n"
    )
    assert rejects == [
        (2, "vacuum", "missing_timezone"),
        (3, "vacuum", "unparseable_timestamp"),
        (4, "vacuum", "missing_timezone"),
    ]


def test_naive_parquet_timestamps_are_rejected(line: Line) -> None:
    table = pa.table(
        {
            "machine_id": ["OVEN-01"],
            "sensor": ["fan_speed"],
            "unit": ["rpm"],
            "ts": pa.array([dt.datetime(2026, 11, 20)], pa.timestamp("us")),
            "value": [900.0],
        }
    )
    pq.write_table(table, line.landing / "naive.parquet")
    line.ingest()
    assert line.rejects() == [(0, "fan_speed", "missing_timezone")]


def test_far_future_timestamp(line: Line) -> None:
    assert _csv_case(
        line, "2030-01-01T00:00:00Z,SMT-01,70,,\n2026-11-25T13:00:00Z,SMT-01,70,,\n"
    ) == [(2, "vacuum", "future_timestamp")]


def test_out_of_range_value(line: Line) -> None:
    assert _csv_case(line, "2026-11-20T00:00:00Z,SMT-01,70,10,-500\n") == [
        (2, "head_temp", "out_of_range")
    ]


def test_empty_file_is_quarantined(line: Line) -> None:
    line.drop("gw-opcua/empty.csv", b"")
    summary = line.ingest()
    assert [(f.status, f.reason) for f in summary.files] == [("quarantined", "empty_file")]
    assert line.rejects() == [(None, None, "empty_file")]
    assert_balanced(line)


def test_truncated_parquet_is_quarantined(line: Line) -> None:
    table = pa.table(
        {
            "machine_id": ["OVEN-01"] * 100,
            "sensor": ["fan_speed"] * 100,
            "unit": ["rpm"] * 100,
            "ts": pa.array(
                [dt.datetime(2026, 11, 20, tzinfo=dt.UTC)] * 100, pa.timestamp("us", tz="UTC")
            ),
            "value": [900.0] * 100,
        }
    )
    pq.write_table(table, line.landing / "full.parquet")
    data = (line.landing / "full.parquet").read_bytes()
    (line.landing / "full.parquet").unlink()
    line.drop("cut.parquet", data[: len(data) // 2])
    summary = line.ingest()
    assert [(f.status, f.reason) for f in summary.files] == [("quarantined", "unreadable_file")]
    assert_balanced(line)


def test_truncated_jsonl_keeps_complete_lines(line: Line) -> None:
    good = '{"ts": "2026-11-20T00:00:00Z", "machine": "CNC-01", "sensor": "load", "value": 50, "unit": "%"}\n'
    line.drop("gw-mqtt/cut.jsonl", good + good.replace("00:00:00", "00:01:00")[:40])
    line.ingest()
    assert line.rejects() == [(2, None, "malformed_line")]
    assert line.query("SELECT count(*) FROM readings_v") == [(1,)]
    assert_balanced(line)


@pytest.mark.parametrize(
    "name,content",
    [
        ("report.pdf", b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n"),
        ("notes.csv", "name,phone\nAda,123\n"),
        ("blob.csv", b"\x89PNG\r\n\x1a\n\x00\x00\x00"),
        ("words.jsonl", "this is\nnot json\n"),
        ("other.parquet", None),
    ],
)
def test_a_file_that_is_not_a_dump_is_quarantined(line: Line, name: str, content) -> None:
    if content is None:
        pq.write_table(pa.table({"a": [1, 2]}), line.landing / name)
    else:
        line.drop(name, content)
    summary = line.ingest()
    assert [(f.status, f.reason) for f in summary.files] == [("quarantined", "not_a_dump")]
    assert_balanced(line)


def test_missing_json_fields(line: Line) -> None:
    line.drop(
        "gw-mqtt/m.jsonl", '{"ts": "2026-11-20T00:00:00Z", "machine": "CNC-01", "value": 1}\n'
    )
    line.ingest()
    assert line.rejects() == [(1, None, "missing_field")]


def test_partial_and_hidden_files_are_ignored(line: Line) -> None:
    line.drop("gw-opcua/.hidden.csv", SMT_HEADER)
    line.drop("gw-opcua/x.csv.part", SMT_HEADER)
    assert line.ingest().files == []


def test_every_reason_code_is_documented() -> None:
    documented = Path(__file__).resolve().parents[2].joinpath("docs", "dumps.md").read_text()
    assert "rows_in = rows_loaded + rows_rejected" in documented
    missing = [code for code in REASONS if f"| `{code}` |" not in documented]
    assert not missing, f"reason codes missing from docs/dumps.md: {missing}"


def test_line_numbers_survive_blank_and_refused_lines(line: Line) -> None:
    rows = (
        "2026-11-20T00:00:00Z,SMT-01,70,10,100\n"
        "\n"
        "2026-11-20T00:01:00Z,SMT-01,oops,10,100\n"
        "\n\n"
        "2026-11-20T00:02:00Z,SMT-01,70,10,100\n"
        "2026-11-20T00:03:00Z,SMT-01,70,10,-900\n"
    )
    assert _csv_case(line, rows) == [
        (4, "vacuum", "non_numeric_value"),
        (8, "head_temp", "out_of_range"),
    ]


# --- robustness of the fast path -----------------------------------------------------------------


def test_an_unbalanced_quote_in_a_large_file_rejects_only_its_line(line: Line) -> None:
    """A CSV parser looking for the closing quote would swallow the following records; the file
    must still load, with exactly that line rejected."""
    t0 = dt.datetime(2026, 11, 20, tzinfo=dt.UTC)
    rows = []
    for i in range(5000):
        ts = (t0 + dt.timedelta(seconds=i)).isoformat().replace("+00:00", "Z")
        rows.append(f"{ts},SMT-01,{chr(34) if i == 49 else ''}70,10,100")
    line.drop("gw-opcua/big.csv", SMT_HEADER + "\n".join(rows) + "\n")
    summary = line.ingest()
    assert summary.count("loaded") == 1
    assert line.rejects() == [(51, None, "malformed_line")]
    assert line.query("SELECT count(*) FROM readings_v") == [(3 * 4999,)]
    assert_balanced(line)


def test_a_wide_csv_holding_two_machine_types(line: Line) -> None:
    line.drop(
        "gw-opcua/mixed.csv",
        "timestamp,machine_id,vacuum [kPa],vibration_rms [mm/s]\n"
        "2026-11-20T00:00:00Z,SMT-01,70.5,\n"
        "2026-11-20T00:00:00Z,CNC-01,,1.25\n"
        "2026-11-20T00:01:00Z,SMT-01,,0.5\n",  # a CNC sensor on the placer: only that reading
    )
    summary = line.ingest()
    assert summary.count("loaded") == 1
    rows = line.query("SELECT machine_id, sensor, value FROM readings_v ORDER BY ts, machine_id")
    assert rows == [("CNC-01", "vibration_rms_mm_s", 1.25), ("SMT-01", "vacuum_kpa", 70.5)]
    assert line.rejects() == [(4, "vibration_rms", "unknown_sensor")]
    assert_balanced(line)


def test_a_file_changing_while_loaded_waits_for_the_next_run(
    line: Line, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Files are read and hashed ahead of their turn; one rewritten in between is not loaded
    (the ledger would vouch for bytes it did not parse), the others are, and the next run takes
    its final content."""
    from dt_platform.ingest.loader import readahead

    changing = line.drop("gw-opcua/a.csv", SMT_HEADER + "2026-11-20T00:00:00Z,SMT-01,70,10,100\n")
    line.drop("gw-opcua/b.csv", SMT_HEADER + "2026-11-20T00:05:00Z,SMT-01,71,11,101\n")
    read = readahead._read_delivery

    def gateway_still_writing(rel, path, stat):
        delivery = read(rel, path, stat)
        if path == changing:
            with path.open("a") as fh:
                fh.write("2026-11-20T00:01:00Z,SMT-01,72,12,102\n")
            os.utime(path, ns=(delivery.read_stat[1] + 1000,) * 2)
        return delivery

    monkeypatch.setattr(readahead, "_read_delivery", gateway_still_writing)
    first = line.ingest()
    assert first.retry_later == ["gw-opcua/a.csv"]
    assert [f.path for f in first.files] == ["gw-opcua/b.csv"]
    assert line.query("SELECT count(*) FROM file_ledger WHERE path = 'gw-opcua/a.csv'") == [(0,)]

    monkeypatch.setattr(readahead, "_read_delivery", read)
    second = line.ingest()
    assert [(f.path, f.rows_loaded) for f in second.files] == [("gw-opcua/a.csv", 6)]
    assert line.query("SELECT count(*) FROM readings_v") == [(9,)]
    assert_balanced(line)


def test_registry_sync_counts_only_what_changed(line: Line) -> None:
    with line.warehouse.write() as con:
        assert sync_registry(con, parse_registry(REGISTRY)) == {
            "machines": 3,
            "added": 0,
            "updated": 0,
            "retired": 0,
        }
        edited = REGISTRY.replace("gateway: gw-mqtt", "gateway: gw-opcua").replace(
            "  - {machine_id: OVEN-01, type: reflow_oven, gateway: gw-hist}\n", ""
        )
        edited += "  - {machine_id: SMT-02, type: smt_placer, gateway: gw-opcua}\n"
        assert sync_registry(con, parse_registry(edited)) == {
            "machines": 3,
            "added": 1,
            "updated": 1,
            "retired": 1,
        }
        assert sync_registry(con, parse_registry(edited))["retired"] == 0  # already inactive
        restored = sync_registry(
            con,
            parse_registry(
                REGISTRY + "  - {machine_id: SMT-02, type: smt_placer, gateway: gw-opcua}\n"
            ),
        )
        assert restored == {"machines": 4, "added": 0, "updated": 2, "retired": 0}
        keys = dict(con.execute("SELECT machine_id, machine_key FROM machines").fetchall())
    assert keys == {"SMT-01": 1, "CNC-01": 2, "OVEN-01": 3, "SMT-02": 4}
