"""Snapshot records, their canonical bytes and the deterministic snapshot folder (no services)."""

from __future__ import annotations

import datetime as dt
import decimal
import hashlib
import json
import math
import random
import struct
from collections import defaultdict
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from dt_platform.ingest.telemetry import build_telemetry_day
from dt_platform.trust.merkle import MerkleTree, record_leaf
from dt_platform.trust.snapshot import (
    LEAF_ENCODING,
    PARQUET_OPTIONS,
    EmptySnapshot,
    SnapshotError,
    SnapshotSource,
    build_snapshot,
    canonical_record,
    canonical_value,
    check_snapshot_dir,
    code_version,
    collect_records,
    file_reading_line,
    reading_line,
    records_from_parquet,
    records_from_table,
    schema_hash,
)
from dt_platform.warehouse import ensure_schema
from tests.trust.audit_fixtures import (
    DAY,
    create_rul_predictions,
    day_start,
    folder_bytes,
    hour_of,
    insert_telemetry,
    load_file,
    only_hash_cid,
    telemetry_rows,
)


@pytest.fixture
def con() -> duckdb.DuckDBPyConnection:
    """An in-memory warehouse with the real schema and one day of telemetry (plus a day after)."""
    c = duckdb.connect()
    c.execute("SET TimeZone = 'UTC'")
    ensure_schema(c)
    insert_telemetry(c, telemetry_rows(DAY, per_hour=4))
    insert_telemetry(c, telemetry_rows(DAY + dt.timedelta(days=1), per_hour=2, hours=3))
    return c


# --- canonical encoding -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, "null"),
        (True, "true"),
        (False, "false"),
        (0, "0"),
        (-12345678901234567890, "-12345678901234567890"),
        (1.0, "1.0"),
        (0.1, "0.1"),
        (0.1 + 0.2, "0.30000000000000004"),
        (1e-05, "1e-05"),
        (1e16, "1e+16"),
        (123456789.125, "123456789.125"),
        (-0.0, "-0.0"),
        (5e-324, "5e-324"),
        (math.nan, '"NaN"'),
        (math.inf, '"Infinity"'),
        (-math.inf, '"-Infinity"'),
        ('say "hi"\\\n\t\x01é€', '"say \\"hi\\"\\\\\\n\\t\\u0001é€"'),
        (dt.datetime(2026, 11, 20, 13, 5, tzinfo=dt.UTC), '"2026-11-20T13:05:00.000000Z"'),
        (
            dt.datetime(2026, 11, 20, 14, 5, 0, 250, tzinfo=dt.timezone(dt.timedelta(hours=1))),
            '"2026-11-20T13:05:00.000250Z"',
        ),
        (dt.datetime(2026, 11, 20, 13, 5, 1, 5), '"2026-11-20T13:05:01.000005Z"'),
        (dt.date(2026, 1, 2), '"2026-01-02"'),
        (dt.time(7, 8, 9, 10), '"07:08:09.000010"'),
        (decimal.Decimal("1E+2"), '"100"'),
        (decimal.Decimal("-0.50"), '"-0.50"'),
        (b"\x00\xab", '"0x00ab"'),
        ([1, 2.5, None, "x"], '[1,2.5,null,"x"]'),
        ({"b": 1, "a": [True]}, '{"a":[true],"b":1}'),
    ],
)
def test_canonical_value(value: object, text: str) -> None:
    assert canonical_value(value) == text


def test_canonical_record_is_sorted_compact_utf8_with_source() -> None:
    record = canonical_record("rul_predictions", {"z": 1.5, "machine_id": "Ö-1", "a": None})
    assert record == '{"a":null,"machine_id":"Ö-1","source":"rul_predictions","z":1.5}'.encode()
    assert json.loads(record) == {
        "a": None,
        "machine_id": "Ö-1",
        "source": "rul_predictions",
        "z": 1.5,
    }
    with pytest.raises(SnapshotError, match="column named 'source'"):
        canonical_record("x", {"source": "gw-1"})
    with pytest.raises(SnapshotError, match="cannot encode a timedelta"):
        canonical_value(dt.timedelta(seconds=1))


def test_duckdb_double_text_is_python_repr() -> None:
    """readings_sha256 is computed in SQL but specified as Python repr: they must agree."""
    rng = random.Random(11)
    values = [struct.unpack("<d", rng.randbytes(8))[0] for _ in range(20_000)]
    values += [round(rng.uniform(-1e4, 1e4), rng.randint(0, 9)) for _ in range(20_000)]
    values += [0.0, -0.0, 1e16, 1e15, 1e-5, 1e-4, 1e21, 1e22, 5e-324, 1.7976931348623157e308]
    values = [v for v in values if math.isfinite(v)]
    c = duckdb.connect()
    c.register("v", pa.table({"i": range(len(values)), "v": values}))
    texts = c.execute("SELECT v::VARCHAR FROM v ORDER BY i").fetchall()
    mismatches = [(v, t) for v, (t,) in zip(values, texts, strict=True) if t != repr(v)]
    assert mismatches == []


# --- telemetry digest ---------------------------------------------------------------------------


def _reference_digests(rows: list[tuple]) -> dict[tuple[str, str, str], dict]:
    """The digest records computed from the written spec, in plain Python."""
    groups: dict[tuple[str, str, str], list[tuple]] = defaultdict(list)
    for _day, machine_id, machine_type, sensor, ts, value, quality in rows:
        groups[(machine_id, sensor, hour_of(ts))].append((ts, value, quality, machine_type))
    out = {}
    for key, readings in groups.items():
        readings.sort(key=lambda r: (r[0], r[1], r[2]))
        text = "\n".join(reading_line(ts, v, q) for ts, v, q, _ in readings)
        total = 0.0
        for _, v, _, _ in readings:
            total += v
        quality = [q for _, _, q, _ in readings]
        out[key] = {
            "source": "telemetry_digest",
            "machine_id": key[0],
            "machine_type": readings[0][3],
            "sensor": key[1],
            "hour": key[2],
            "readings": len(readings),
            "ok_readings": quality.count("ok"),
            "spike_readings": quality.count("spike"),
            "stuck_readings": quality.count("stuck"),
            "other_quality_readings": sum(q not in ("ok", "spike", "stuck") for q in quality),
            "min_value": min(v for _, v, _, _ in readings),
            "max_value": max(v for _, v, _, _ in readings),
            "mean_value": total / len(readings),
            "readings_sha256": hashlib.sha256(text.encode()).hexdigest(),
        }
    return out


def test_digest_records_follow_the_written_spec() -> None:
    c = duckdb.connect()
    c.execute("SET TimeZone = 'America/St_Johns'")  # a half-hour offset must not shift hours
    ensure_schema(c)
    rows = telemetry_rows(DAY, per_hour=5)
    start = day_start(DAY)
    awkward = [1e-7, 1e16 + 2, -0.0, 0.1 + 0.2, 123456.789e10, 2.5e-300]
    for i, v in enumerate(awkward):  # on the hour, at its very end, and odd flags
        rows.append(
            (DAY, "SMT-01", "smt_placer", "vacuum_kpa", start + dt.timedelta(hours=i), v, "ok")
        )
    rows.append(
        (
            DAY,
            "SMT-01",
            "smt_placer",
            "vacuum_kpa",
            start + dt.timedelta(hours=1, microseconds=-1),
            7.0,
            "odd",
        )
    )
    insert_telemetry(c, rows)
    day = collect_records(c, DAY)
    digest = day.source("telemetry_digest")
    assert digest is not None and digest.key_columns == ("machine_id", "sensor", "hour")
    reference = _reference_digests(rows)
    assert digest.rows == len(reference) == 3 * 2 * 24
    for record, key in zip(digest.records, digest.keys, strict=True):
        assert json.loads(record) == reference[key]
    # The canonical bytes themselves, not only their parsed values, come from the spec.
    rebuilt = sorted(canonical_record("telemetry_digest", _typed(r)) for r in reference.values())
    assert sorted(digest.records) == rebuilt
    assert sum(json.loads(r)["other_quality_readings"] for r in digest.records) == 1


def _typed(record: dict) -> dict:
    out = {k: v for k, v in record.items() if k != "source"}
    out["hour"] = dt.datetime.strptime(out["hour"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=dt.UTC)
    return out


def test_any_single_change_changes_exactly_one_digest_record(
    con: duckdb.DuckDBPyConnection,
) -> None:
    before = collect_records(con, DAY).source("telemetry_digest")
    assert before is not None
    rowids = [
        r[0] for r in con.execute("SELECT rowid FROM telemetry WHERE day = ?", [DAY]).fetchall()
    ]
    rng = random.Random(3)
    for rowid in rng.sample(rowids, 12):
        machine_id, sensor, ts, value, quality = con.execute(
            "SELECT machine_id, sensor, ts, value, quality FROM telemetry WHERE rowid = ?", [rowid]
        ).fetchone()
        for change, params in (
            ("value = ?", [math.nextafter(value, math.inf)]),  # one ulp
            ("quality = ?", ["spike" if quality == "ok" else "ok"]),
            ("ts = ts + INTERVAL 1 MICROSECOND", []),
        ):
            con.execute("BEGIN")
            con.execute(f"UPDATE telemetry SET {change} WHERE rowid = ?", [*params, rowid])
            after = collect_records(con, DAY).source("telemetry_digest")
            con.execute("ROLLBACK")
            assert after is not None and after.keys == before.keys
            changed = [
                k
                for k, a, b in zip(before.keys, before.records, after.records, strict=True)
                if a != b
            ]
            assert changed == [(machine_id, sensor, hour_of(ts))], change


# --- sources ------------------------------------------------------------------------------------


def test_table_sources_are_skipped_until_their_table_exists(con: duckdb.DuckDBPyConnection) -> None:
    day = collect_records(con, DAY)
    assert [s.name for s in day.sources] == ["telemetry_digest"]
    assert day.skipped == {
        name: f"table {name} does not exist in the warehouse"
        for name in ("decisions", "maintenance_alerts", "rul_predictions")
    }
    create_rul_predictions(con, DAY)
    create_rul_predictions(con, DAY + dt.timedelta(days=1))
    day = collect_records(con, DAY)
    rul = day.source("rul_predictions")
    assert rul is not None and rul.rows == 6 and rul.key_columns == ("machine_id", "ts")
    assert rul.keys == sorted(rul.keys)  # canonical order: by key
    first = json.loads(rul.records[0])
    assert first["source"] == "rul_predictions" and first["day"] == "2026-11-20"
    assert first["machine_id"] == "CNC-01" and first["ts"] == "2026-11-20T06:00:00.000000Z"
    assert "rul_predictions" not in day.skipped and day.warehouse_tables == [
        "rul_predictions",
        "telemetry",
    ]


def test_a_wrong_key_declaration_is_reported(con: duckdb.DuckDBPyConnection) -> None:
    create_rul_predictions(con, DAY)
    bad = SnapshotSource(
        "rul_predictions",
        "SELECT * FROM rul_predictions WHERE day = $day",
        ("machine_id", "predicted_at"),
        ("rul_predictions",),
    )
    with pytest.raises(
        SnapshotError, match=r"no \['predicted_at'\].*columns: \['day', 'machine_id', 'ts'"
    ):
        collect_records(con, DAY, [bad])
    with pytest.raises(ValueError, match="file name"):
        SnapshotSource("Bad Name", "SELECT 1", ("a",), ())
    broken = SnapshotSource(
        "broken", "SELECT * FROM telemetry WHERE nope = $day", ("a",), ("telemetry",)
    )
    with pytest.raises(SnapshotError, match="'broken': its query failed"):
        collect_records(con, DAY, [broken])


def test_records_do_not_depend_on_row_order_or_session_time_zone(
    con: duckdb.DuckDBPyConnection,
) -> None:
    reference = collect_records(con, DAY)
    shuffled = duckdb.connect()
    shuffled.execute("SET TimeZone = 'Asia/Kathmandu'")
    shuffled.execute("SET threads = 1")
    ensure_schema(shuffled)
    rows = telemetry_rows(DAY, per_hour=4)
    random.Random(5).shuffle(rows)
    insert_telemetry(shuffled, rows)
    other = collect_records(shuffled, DAY)
    assert other.all_records() == reference.all_records()
    assert other.root == reference.root
    assert other.sources[0].table.equals(reference.sources[0].table)


# --- source files: what the day was built from ------------------------------------------------


def _loaded_day(time_zone: str = "UTC") -> tuple[duckdb.DuckDBPyConnection, list[list[tuple]]]:
    """A warehouse whose ``telemetry`` of DAY is built from three loaded files, one of which
    also holds readings of the days around it (at the very edges of DAY)."""
    c = duckdb.connect()
    c.execute(f"SET TimeZone = '{time_zone}'")
    ensure_schema(c)
    rows = telemetry_rows(DAY, per_hour=2)
    edge = day_start(DAY)
    around = [
        (DAY, "SMT-01", "smt_placer", "vacuum_kpa", edge - dt.timedelta(microseconds=1), 1.5, "ok"),
        (DAY, "SMT-01", "smt_placer", "vacuum_kpa", edge, 2.5, "ok"),
        (DAY, "SMT-01", "smt_placer", "vacuum_kpa", edge + dt.timedelta(days=1), 3.5, "ok"),
        (DAY, "CNC-01", "cnc_spindle", "spindle_temp_c", edge + dt.timedelta(days=1, microseconds=-1),
         0.1 + 0.2, "ok"),
    ]  # fmt: skip
    files = [rows[0::3], rows[1::3] + around, rows[2::3]]
    for n, file_rows in enumerate(files):
        load_file(c, f"gw{n}/day.csv", file_rows, edge + dt.timedelta(days=1, hours=n))
    for day in (DAY - dt.timedelta(days=1), DAY, DAY + dt.timedelta(days=1)):
        build_telemetry_day(c, day)
    return c, files


def test_source_file_records_follow_the_written_spec() -> None:
    c, files = _loaded_day("America/St_Johns")  # a half-hour offset must not shift the day
    source = collect_records(c, DAY).source("source_files")
    assert source is not None and source.key_columns == ("file_id",) and source.rows == 3
    start, end = day_start(DAY), day_start(DAY) + dt.timedelta(days=1)
    for file_id, (record, rows) in enumerate(zip(source.records, files, strict=True), start=1):
        inside = sorted((r[1], r[3], r[4], r[5]) for r in rows if start <= r[4] < end)
        lines = "\n".join(file_reading_line(m, s, ts, v) for m, s, ts, v in inside)
        (sha, path) = c.execute(
            "SELECT sha256, path FROM file_ledger WHERE file_id = ?", [file_id]
        ).fetchone()
        assert json.loads(record) == {
            "source": "source_files",
            "file_id": file_id,
            "path": path,
            "file_version": 1,
            "file_sha256": sha,
            "readings": len(inside),
            "first_ts": canonical_value(min(r[2] for r in inside)).strip('"'),
            "last_ts": canonical_value(max(r[2] for r in inside)).strip('"'),
            "readings_sha256": hashlib.sha256(lines.encode()).hexdigest(),
        }
    # the edge file: its reading at the next midnight belongs to the next day, not to DAY
    assert json.loads(source.records[1])["readings"] == len(files[1]) - 2
    assert json.loads(source.records[1])["last_ts"] == "2026-11-20T23:59:59.999999Z"


def test_a_day_without_loaded_readings_has_no_source_files(con: duckdb.DuckDBPyConnection) -> None:
    """Telemetry written without readings (the fixture days): the snapshot is what it was."""
    day = collect_records(con, DAY)
    assert day.source("source_files") is None and "source_files" not in day.skipped


def test_editing_raw_readings_or_the_ledger_changes_that_file_s_record() -> None:
    c, _ = _loaded_day()
    before = collect_records(c, DAY)
    telemetry_before = before.source("telemetry_digest")
    files_before = before.source("source_files")
    assert files_before is not None and telemetry_before is not None
    edits = {
        "one reading, one ulp": (
            "UPDATE readings SET value = value + 1e-9 WHERE rowid = (SELECT min(rowid) FROM "
            "readings WHERE file_id = 2 AND ts >= ?)",
            [day_start(DAY)],
        ),
        "a reading moved by 1 µs": (
            "UPDATE readings SET ts = ts + INTERVAL 1 MICROSECOND WHERE rowid = (SELECT "
            "max(rowid) FROM readings WHERE file_id = 2 AND ts < ?)",
            [day_start(DAY) + dt.timedelta(hours=12)],
        ),
        "a reading deleted": (
            "DELETE FROM readings WHERE rowid = (SELECT min(rowid) FROM readings WHERE "
            "file_id = 2 AND ts >= ?)",
            [day_start(DAY)],
        ),
        "the file's hash in the ledger": (
            "UPDATE file_ledger SET sha256 = repeat('0', 64) WHERE file_id = 2",
            [],
        ),
        "the file's path in the ledger": (
            "UPDATE file_ledger SET path = 'gw9/other.csv' WHERE file_id = 2",
            [],
        ),
    }
    for what, (sql, params) in edits.items():
        c.execute("BEGIN")
        c.execute(sql, params)
        after = collect_records(c, DAY)
        c.execute("ROLLBACK")
        files = after.source("source_files")
        assert files is not None and files.keys == files_before.keys, what
        changed = [k for k, a, b in zip(files.keys, files.records, files_before.records,
                                        strict=True) if a != b]  # fmt: skip
        assert changed == [("2",)], what
        # telemetry was not rebuilt: its digest alone would not have seen any of this
        assert after.source("telemetry_digest").records == telemetry_before.records, what
    c.execute("BEGIN")
    c.execute("UPDATE file_ledger SET status = 'superseded' WHERE file_id = 3")
    files = collect_records(c, DAY).source("source_files")
    c.execute("ROLLBACK")
    assert files is not None and files.keys == [("1",), ("2",)]


# --- the snapshot folder ------------------------------------------------------------------------


def test_build_snapshot_is_byte_identical_and_has_the_same_cid(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    create_rul_predictions(con, DAY)
    first = build_snapshot(
        con, DAY, tmp_path / "a", code_version="0.1.0+src.test", model_version="xgb-3f2a"
    )
    con.execute("SET threads = 1")
    second = build_snapshot(
        con, DAY, tmp_path / "b", code_version="0.1.0+src.test", model_version="xgb-3f2a"
    )
    assert folder_bytes(first.path) == folder_bytes(second.path)
    assert sorted(folder_bytes(first.path)) == [
        "manifest.json",
        "rul_predictions.parquet",
        "telemetry_digest.parquet",
    ]
    assert first.manifest_sha256 == second.manifest_sha256
    cid = only_hash_cid(first.path, tmp_path)
    assert cid == only_hash_cid(second.path, tmp_path) and cid.startswith("bafy")

    # Another model version is another snapshot (same records, different manifest).
    third = build_snapshot(
        con, DAY, tmp_path / "c", code_version="0.1.0+src.test", model_version="xgb-9999"
    )
    assert third.root == first.root and only_hash_cid(third.path, tmp_path) != cid


def test_manifest_describes_the_snapshot(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    create_rul_predictions(con, DAY)
    snap = build_snapshot(con, DAY, tmp_path / "s", code_version="cv", model_version=None)
    manifest = json.loads((snap.path / "manifest.json").read_text())
    assert manifest == snap.manifest
    records = snap.records.all_records()
    assert manifest["root"] == "0x" + MerkleTree([record_leaf(r) for r in records]).root.hex()
    assert manifest["record_count"] == len(records) == 144 + 6
    assert manifest["partition"] == "2026-11-20"
    assert manifest["leaf_encoding"] == LEAF_ENCODING == {"name": "dt-canonical-json", "version": 1}
    assert manifest["code_version"] == "cv" and manifest["model_version"] is None
    assert manifest["warehouse_tables"] == ["rul_predictions", "telemetry"]
    assert set(manifest["skipped_sources"]) == {"decisions", "maintenance_alerts"}
    digest = manifest["sources"]["telemetry_digest"]
    assert digest["rows"] == 144 and digest["key"] == ["machine_id", "sensor", "hour"]
    assert digest["sha256"] == hashlib.sha256((snap.path / digest["file"]).read_bytes()).hexdigest()
    assert digest["schema_hash"] == schema_hash(snap.records.sources[1].table.schema)
    assert manifest["parquet"]["compression"] == PARQUET_OPTIONS["compression"]

    # Each Parquet file alone rebuilds its records, hence the root.
    rebuilt = []
    for name, entry in sorted(manifest["sources"].items()):
        recs = records_from_parquet(name, entry["key"], (snap.path / entry["file"]).read_bytes())
        assert recs.schema_hash == entry["schema_hash"] and recs.rows == entry["rows"]
        rebuilt += recs.records
    assert rebuilt == records
    assert check_snapshot_dir(snap.path) == manifest


def test_snapshot_folder_checks(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    snap = build_snapshot(con, DAY, tmp_path / "s", code_version="cv", model_version=None)
    with pytest.raises(SnapshotError, match="is not empty"):
        build_snapshot(con, DAY, snap.path, code_version="cv", model_version=None)
    (snap.path / "notes.txt").write_text("hello")
    with pytest.raises(SnapshotError, match=r"files the manifest does not list: \['notes.txt'\]"):
        check_snapshot_dir(snap.path)
    (snap.path / "notes.txt").unlink()
    parquet = snap.path / "telemetry_digest.parquet"
    parquet.write_bytes(parquet.read_bytes()[:-1] + b"X")
    with pytest.raises(SnapshotError, match="does not match the SHA-256"):
        check_snapshot_dir(snap.path)


def test_a_day_without_records_cannot_be_snapshot(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    with pytest.raises(EmptySnapshot, match="nothing to anchor"):
        build_snapshot(
            con, dt.date(2027, 1, 1), tmp_path / "empty", code_version="cv", model_version=None
        )
    assert not (tmp_path / "empty").exists()


def test_unsupported_column_types_are_refused_with_advice() -> None:
    table = pa.table({"k": [1], "t": pa.array([3000], type=pa.timestamp("ns", tz="UTC"))})
    assert records_from_table("ok", ["k"], table).table.schema.field("t").type == pa.timestamp(
        "us", tz="UTC"
    )
    lossy = pa.table({"k": [1], "t": pa.array([1], type=pa.timestamp("ns"))})
    with pytest.raises(SnapshotError, match="cast them in the source query"):
        records_from_table("lossy", ["k"], lossy)


def test_code_version_hashes_the_sources() -> None:
    version = code_version()
    package, _, digest = version.partition("+src.")
    assert package == "0.1.0" and len(digest) == 12 and int(digest, 16) >= 0
    assert code_version() == version
