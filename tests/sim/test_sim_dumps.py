"""The dumps follow docs/dumps.md, and the truth log names exactly the bad and duplicated items.

An independent validator parses every dump line by line (csv/json/pyarrow/duckdb, the catalogue
for tags, units and plausible ranges) and classifies each problem it finds; the set it finds must
equal the set the simulator logged in ``injected.parquet`` — in both directions.
"""

from __future__ import annotations

import json
import math
import re
from collections import defaultdict
from datetime import datetime
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from dt_platform.catalog import MACHINE_TYPES, QUANTITIES, canonical_unit_name, sensor_for

Found = set[tuple[int, str, str | None]]
HEADER_COLUMN = re.compile(r"^(?P<tag>[a-z0-9_]+) \[(?P<unit>[^\]]+)\]$")


def _registry(run) -> dict[str, dict]:
    doc = yaml.safe_load(run.registry.read_text())
    return {m["machine_id"]: m for m in doc["machines"]}


def _check_value(machine_type: str, tag: str, unit: str, value: float) -> str | None:
    """Kind of problem of a numeric reading, or None if it is a good reading."""
    if math.isnan(value):
        return "nan"
    if math.isinf(value):
        return "inf"
    sensor = sensor_for(machine_type, tag)
    canonical = QUANTITIES[sensor.quantity].converter(canonical_unit_name(unit))(value)
    if not sensor.low <= canonical <= sensor.high:
        return "out_of_range"
    return None


def _timestamp_problem(text: str, suffix: str) -> str | None:
    stamp = datetime.fromisoformat(text)
    if stamp.tzinfo is None:
        return "naive_timestamp"
    assert text.endswith(suffix), f"{text} should carry {suffix}"
    return None


def validate_csv(path: Path, machines: dict[str, dict]) -> Found:
    lines = path.read_text(encoding="utf-8").split("\n")
    assert lines[-1] == "", "file ends with a newline"
    header = lines[0].split(",")
    assert header[:2] == ["timestamp", "machine_id"]
    columns = [HEADER_COLUMN.match(h) for h in header[2:]]
    assert all(columns), f"sensor columns must read '<tag> [<unit>]': {header}"
    found: Found = set()
    file_type = None
    previous = None
    for number, line in enumerate(lines[1:-1], start=2):
        if line == previous:
            found.add((number, "duplicate_line", None))
            continue
        previous = line
        cells = line.split(",")
        if len(cells) != len(header):
            found.add((number, "wrong_column_count", None))
            continue
        if _timestamp_problem(cells[0], "+08:00"):
            found.add((number, "naive_timestamp", None))
            continue
        machine = machines[cells[1]]
        file_type = file_type or machine["type"]
        assert machine["type"] == file_type, "one file holds machines of one type"
        for match, cell in zip(columns, cells[2:], strict=True):
            tag, unit = match["tag"], match["unit"]
            sensor = sensor_for(file_type, tag)
            assert sensor is not None, f"{tag} is not a {file_type} sensor"
            assert canonical_unit_name(unit) in QUANTITIES[sensor.quantity].conversions
            if cell == "":
                continue  # a dropout
            try:
                value = float(cell)
            except ValueError:
                found.add((number, "non_numeric", tag))
                continue
            problem = _check_value(file_type, tag, unit, value)
            if problem:
                found.add((number, problem, tag))
    return found


def validate_jsonl(path: Path, machines: dict[str, dict]) -> Found:
    lines = path.read_text(encoding="utf-8").split("\n")
    assert lines[-1] == ""
    found: Found = set()
    previous = None
    for number, line in enumerate(lines[:-1], start=1):
        if line == previous:
            found.add((number, "duplicate_line", None))
            continue
        previous = line
        try:
            obj = json.loads(line)
        except json.JSONDecodeError:
            found.add((number, "malformed_line", None))
            continue
        if set(obj) != {"ts", "machine", "sensor", "value", "unit"}:
            found.add((number, "wrong_column_count", None))
            continue
        if _timestamp_problem(obj["ts"], "Z"):
            found.add((number, "naive_timestamp", None))
            continue
        mtype = machines[obj["machine"]]["type"]
        if sensor_for(mtype, obj["sensor"]) is None:
            found.add((number, "unknown_sensor", obj["sensor"]))
            continue
        if not isinstance(obj["value"], int | float):
            found.add((number, "non_numeric", obj["sensor"]))
            continue
        problem = _check_value(mtype, obj["sensor"], obj["unit"], float(obj["value"]))
        if problem:
            found.add((number, problem, obj["sensor"]))
    return found


def validate_parquet(path: Path, machines: dict[str, dict]) -> Found:
    table = pq.read_table(path)
    assert table.schema.names == ["machine_id", "sensor", "unit", "ts", "value"]
    assert table.schema.field("machine_id").type == pa.string()
    assert table.schema.field("sensor").type == pa.string()
    assert table.schema.field("unit").type == pa.string()
    assert table.schema.field("ts").type == pa.timestamp("us", tz="Europe/Berlin")
    assert table.schema.field("value").type == pa.float64()
    found: Found = set()
    previous = None
    for row, rec in enumerate(table.to_pylist()):
        key = tuple(rec.values())
        if key == previous or (previous is not None and _same_nan_row(key, previous)):
            found.add((row, "duplicate_line", None))
            continue
        previous = key
        mtype = machines[rec["machine_id"]]["type"]
        if sensor_for(mtype, rec["sensor"]) is None:
            found.add((row, "unknown_sensor", rec["sensor"]))
            continue
        problem = _check_value(mtype, rec["sensor"], rec["unit"], rec["value"])
        if problem:
            found.add((row, problem, rec["sensor"]))
    return found


def _same_nan_row(a: tuple, b: tuple) -> bool:
    return a[:4] == b[:4] and isinstance(a[4], float) and math.isnan(a[4]) and math.isnan(b[4])


VALIDATORS = {".csv": validate_csv, ".jsonl": validate_jsonl, ".parquet": validate_parquet}


@pytest.fixture(scope="module")
def truth(small_run):
    return {
        name: pq.read_table(small_run.truth / f"{name}.parquet").to_pylist()
        for name in ("injected", "files", "faults", "failures")
    }


def test_every_dump_matches_its_truth_log_exactly(small_run, truth):
    machines = _registry(small_run)
    logged: dict[str, Found] = defaultdict(set)
    for item in truth["injected"]:
        if item["kind"] != "duplicate_file":
            logged[item["file"]].add((item["line"], item["kind"], item["sensor"]))
    kinds_seen: set[str] = set()
    for record in truth["files"]:
        if record["kind"] == "redelivery":
            continue
        path = small_run.out / record["file"]
        found = VALIDATORS[path.suffix](path, machines)
        assert found == logged.get(record["file"], set()), record["file"]
        kinds_seen |= {kind for _, kind, _ in found}
    # the small run is tuned so that every kind occurs at least once
    assert kinds_seen >= {
        "non_numeric",
        "nan",
        "inf",
        "unknown_sensor",
        "wrong_column_count",
        "malformed_line",
        "naive_timestamp",
        "out_of_range",
        "duplicate_line",
    }


def test_implausible_spikes_are_the_out_of_range_items(truth):
    spikes = {
        (f["machine_id"], f["sensor"], f["start"])
        for f in truth["faults"]
        if f["kind"] == "spike" and f["implausible"]
    }
    flagged = {
        (i["machine_id"], i["sensor"], i["ts"])
        for i in truth["injected"]
        if i["kind"] == "out_of_range"
    }
    assert spikes and spikes == flagged


def test_redelivered_files_are_byte_copies_and_logged(small_run, truth):
    redeliveries = [f for f in truth["files"] if f["kind"] == "redelivery"]
    assert len(redeliveries) == 3  # redelivery_prob = 1: one per gateway
    logged = {i["file"]: i["detail"] for i in truth["injected"] if i["kind"] == "duplicate_file"}
    for record in redeliveries:
        copy = small_run.out / record["file"]
        original = logged[record["file"]].removeprefix("copy of ")
        assert copy.read_bytes() == (small_run.out / original).read_bytes()
        assert copy.name.rpartition(".")[0].endswith("_resent")


def test_backfill_files_cover_earlier_days_and_arrive_late(truth):
    backfills = [f for f in truth["files"] if f["kind"] == "backfill"]
    assert backfills, "outage_prob = 1 must produce backfill files"
    for record in backfills:
        assert "_backfill_" in record["file"]
        family = record["file"].split("_backfill_")[0]
        later = [
            f
            for f in truth["files"]
            if f["kind"] == "regular"
            and f["file"].startswith(family + "_")
            and f["first_ts"] > record["last_ts"]
        ]
        assert later, "an outage is followed by regular days"
        # delivered after the regular file of the following day: late data
        assert record["delivered_at"] > min(f["delivered_at"] for f in later)


def test_readings_are_all_delivered_once(small_run, truth):
    delivered = sum(f["readings"] for f in truth["files"] if f["kind"] != "redelivery")
    assert delivered == small_run.result.readings > 0


def test_files_are_in_gateway_folders_and_complete(small_run):
    gateways = {m["gateway"] for m in _registry(small_run).values()}
    assert {p.name for p in small_run.out.iterdir()} == gateways | {"cmms"}
    assert not list(small_run.out.rglob("*.part"))
    suffix = {"gw-opcua": ".csv", "gw-mqtt": ".jsonl", "gw-historian": ".parquet"}
    for gw in gateways:
        names = [p.suffix for p in (small_run.out / gw).iterdir()]
        assert names and set(names) == {suffix[gw]}


def test_machines_report_through_their_registered_gateway(small_run):
    machines = _registry(small_run)
    for path in (small_run.out / "gw-mqtt").glob("*.jsonl"):
        for line in path.read_text().splitlines()[:200]:
            try:
                machine = json.loads(line)["machine"]
            except (json.JSONDecodeError, KeyError):
                continue
            assert machines[machine]["gateway"] == "gw-mqtt"
    for path in (small_run.out / "gw-historian").glob("*.parquet"):
        for machine in set(pq.read_table(path, columns=["machine_id"]).column(0).to_pylist()):
            assert machines[machine]["gateway"] == "gw-historian"


def test_duckdb_reads_the_clean_csv_dumps(small_run, truth):
    line_level = {i["file"] for i in truth["injected"] if i["kind"] == "wrong_column_count"}
    checked = 0
    for record in truth["files"]:
        if record["format"] != "csv" or record["file"] in line_level:
            continue
        path = small_run.out / record["file"]
        rows = duckdb.sql(
            f"select count(*) from read_csv('{path}', header=true, all_varchar=true)"
        ).fetchone()[0]
        assert rows == record["data_lines"]
        checked += 1
    assert checked


def test_registry_matches_docs(small_run):
    doc = yaml.safe_load(small_run.registry.read_text())
    assert set(doc) == {"machines"}
    ids = [m["machine_id"] for m in doc["machines"]]
    assert ids == ["SMT-01", "OVEN-01", "CNC-01", "SERVO-01", "SMT-02", "OVEN-02"]
    for m in doc["machines"]:
        assert {"machine_id", "type", "line", "gateway", "installed", "vendor", "model"} <= set(m)
        assert m["type"] in MACHINE_TYPES
        assert isinstance(m["installed"], str) and datetime.fromisoformat(m["installed"])
        assert m["rated"]
    cnc = next(m for m in doc["machines"] if m["type"] == "cnc_spindle")
    assert cnc["rated"]["bearing_dynamic_load_rating_c_kn"] > 0
    servo = next(m for m in doc["machines"] if m["type"] == "servo_drive")
    assert servo["rated"]["igbt_rated_current_a"] > 0


def test_cmms_export_matches_docs(small_run, truth):
    files = list((small_run.out / "cmms").glob("*.csv"))
    assert len(files) == 1
    import csv

    with files[0].open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == [
        "work_order",
        "machine_id",
        "started_at",
        "finished_at",
        "kind",
        "action",
        "component",
        "notes",
    ]
    machines = _registry(small_run)
    for row in rows:
        assert re.fullmatch(r"WO-\d{6}", row["work_order"])
        assert row["machine_id"] in machines
        assert row["kind"] in {"corrective", "preventive", "inspection"}
        assert row["action"] in {"replace", "repair", "clean", "adjust", "inspect"}
        started = datetime.fromisoformat(row["started_at"])
        finished = datetime.fromisoformat(row["finished_at"])
        assert row["started_at"].endswith("+08:00") and finished > started
    corrective = {r["work_order"] for r in rows if r["kind"] == "corrective"}
    assert corrective == {f["work_order"] for f in truth["failures"] if f["work_order"]}
