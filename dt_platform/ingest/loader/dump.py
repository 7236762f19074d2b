"""Load one dump: stage it with its format's reader, classify the staged readings, check that every
reading is accounted for, or quarantine the whole file."""

from __future__ import annotations

from pathlib import Path

from dt_platform.ingest.loader.classify import _classify_long_stage
from dt_platform.ingest.loader.jsonl import _stage_jsonl
from dt_platform.ingest.loader.landed import still_holds
from dt_platform.ingest.loader.parquet import _stage_parquet
from dt_platform.ingest.loader.records import (
    FileChangedDuringLoad,
    FileResult,
    IngestError,
    _Delivery,
    _format_of,
    _Quarantine,
)
from dt_platform.ingest.loader.rules import IngestLimits
from dt_platform.ingest.loader.stage import _create_long_stage
from dt_platform.ingest.loader.wide_csv import _stage_wide_csv


def _load_dump(con, file_id, delivery: _Delivery, now, version, limits: IngestLimits) -> FileResult:
    """Stage, classify and account for one dump inside the caller's transaction."""
    rel, data = delivery.rel, delivery.data
    result = FileResult(file_id, rel, "loaded", version)
    try:
        if not data:
            raise _Quarantine("empty_file", "the file has no bytes")
        fmt = _format_of(rel)
        if fmt is None:
            raise _Quarantine(
                "not_a_dump",
                f"unsupported file type {Path(rel).suffix!r}; dumps are .csv, .jsonl or .parquet",
            )
        _create_long_stage(con)
        fast_rows = 0
        if fmt == "wide_csv":
            fast_rows = _stage_wide_csv(con, file_id, delivery, now, limits, result)
        elif fmt == "jsonl":
            _stage_jsonl(con, data, result)
        else:
            _stage_parquet(con, data, result)
        # Every reader parses the bytes hashed; a CSV or Parquet file that changed on disk since
        # is still being written: it waits for the next run rather than load a passing state.
        if fmt != "jsonl" and not still_holds(delivery.path, delivery.read_stat):
            raise FileChangedDuringLoad(
                f"{rel}: the file changed while it was being loaded; it was not loaded and "
                "will be retried on the next run"
            )
        result.rows_loaded += fast_rows
        _classify_long_stage(con, file_id, rel, now, limits, result)
    except _Quarantine as q:
        return _quarantine(con, file_id, rel, version, q, now)
    finally:
        for table in ("long_stage", "line_gateway", "stage", "rid_line"):
            con.execute(f"DROP TABLE IF EXISTS {table}")
    _check_accounting(con, result)
    return result


def _quarantine(con, file_id, rel: str, version: int, q: _Quarantine, now) -> FileResult:
    """Keep nothing of the file but one reject row saying why it is not a usable dump."""
    con.execute("DELETE FROM readings WHERE file_id=?", [file_id])
    con.execute("DELETE FROM telemetry_rejects WHERE file_id=?", [file_id])
    con.execute(
        """INSERT INTO telemetry_rejects (file_id, source_file, reason, detail, rejected_at)
           VALUES (?, ?, ?, ?, ?)""",
        [file_id, rel, q.reason, q.detail, now],
    )
    return FileResult(
        file_id,
        rel,
        "quarantined",
        version,
        reason=q.reason,
        detail=q.detail,
        rows_in=1,
        rows_rejected=1,
    )


def _check_accounting(con, result: FileResult) -> None:
    """Every reading in is loaded or rejected, and every record parsed or malformed; anything else
    is a bug, and the file's transaction is rolled back."""
    file_id, rel = result.file_id, result.path
    stored = con.execute(
        "SELECT (SELECT count(*) FROM readings WHERE file_id=$1), "
        "(SELECT count(*) FROM telemetry_rejects WHERE file_id=$1)",
        [file_id],
    ).fetchone()
    if stored != (result.rows_loaded, result.rows_rejected) or (
        result.rows_in != result.rows_loaded + result.rows_rejected
    ):
        raise IngestError(
            f"{rel}: accounting does not balance (rows in {result.rows_in}, loaded "
            f"{result.rows_loaded}/{stored[0]} stored, rejected {result.rows_rejected}/{stored[1]} "
            "stored); the file was not loaded"
        )
    if result.records_in is not None and result.records_in != (
        result.records_parsed + result.records_malformed
    ):
        raise IngestError(
            f"{rel}: {result.records_in} records in the file but {result.records_parsed} parsed + "
            f"{result.records_malformed} malformed; the file was not loaded"
        )
