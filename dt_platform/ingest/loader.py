"""Load sensor dumps from the landing folder into the warehouse, losing nothing.

Every file goes through the same steps, inside one transaction:

1. **Ledger.** The file's sha256 decides: seen before (under any name) → recorded as a
   ``duplicate_file`` and not loaded again; same path with new content → a new *version* that
   supersedes the old one; otherwise a new file.
2. **Parse.** Wide CSV is read by DuckDB with typed columns; lines DuckDB cannot parse come back
   from its reject table with their physical line number and text, and are re-parsed here one by
   one so that every reading on them gets its own reason. JSON Lines and Parquet are read into the
   same long shape (one row per reading).
3. **Classify.** Clean rows of a wide CSV (known machine, timestamp with offset, every value
   finite and plausible, no duplicate) take a fast path straight into ``readings``. Everything else
   becomes one row per reading and is classified in SQL: the first failing rule gives the reason.
4. **Account.** ``rows_in = rows_loaded + rows_rejected`` is checked for the file before commit;
   a mismatch is a bug and aborts the file (it stays in landing and is retried).

The next file is read and hashed in a worker thread while the current one loads; a CSV or
Parquet file that changed on disk between that read and its parse is rolled back and left for the
next run (``IngestSummary.retry_later``); the other files load.

Reason codes are listed in :data:`dt_platform.ingest.mapping.REASONS`.
"""

from __future__ import annotations

import bisect
import contextlib
import csv
import datetime as dt
import hashlib
import itertools
import json
import os
import re
import tempfile
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from dt_platform.ingest.mapping import resolve_sensor

IGNORED_SUFFIXES = (".part", ".tmp", ".partial", ".crdownload")
MAINTENANCE_FOLDER = "cmms"
FUTURE_TOLERANCE = dt.timedelta(days=1)
_WIDE_COLUMN = re.compile(r"^\s*(?P<tag>[^\[\]]+?)\s*(?:\[(?P<unit>[^\]]*)\])?\s*$")
# A timestamp carries an offset when its time part ends in Z or ±hh[:mm].
_TZ_REGEX = r"\d\d:\d\d(:\d\d(\.\d*)?)?\s*([Zz]|[+-]\d\d(:?\d\d)?)$"


def _ts_problem_sql(expr: str) -> str:
    return f"""CASE
        WHEN {expr} IS NULL OR trim({expr}) = '' THEN 'unparseable_timestamp'
        WHEN NOT regexp_matches(trim({expr}), '{_TZ_REGEX}') THEN
            CASE WHEN try_cast(trim({expr}) AS TIMESTAMP) IS NULL THEN 'unparseable_timestamp'
                 ELSE 'missing_timezone' END
        WHEN try_cast(trim({expr}) AS TIMESTAMPTZ) IS NULL THEN 'unparseable_timestamp'
    END"""


class IngestError(RuntimeError):
    """A file could not be accounted for; it stays in landing and is retried on the next run."""


class FileChangedDuringLoad(IngestError):
    """The file's bytes on disk changed between hashing and parsing (a gateway still writing, or
    a re-delivery landing at that moment). Nothing of it is kept; it is picked up next run."""


@dataclass
class FileResult:
    file_id: int
    path: str
    status: str
    version: int = 1
    reason: str | None = None
    detail: str | None = None
    duplicate_of: int | None = None
    records_in: int | None = None
    records_parsed: int = 0
    records_malformed: int = 0
    rows_in: int = 0
    rows_loaded: int = 0
    rows_rejected: int = 0
    days: list[dt.date] = field(default_factory=list)
    first_ts: dt.datetime | None = None
    last_ts: dt.datetime | None = None


def _note_loaded_span(con, result: FileResult, table: str, where: str) -> None:
    """Extend the file's first/last timestamp and days with the rows just loaded from ``table``."""
    lo, hi, days = con.execute(
        f"SELECT min(ts), max(ts), list(DISTINCT CAST(ts AS DATE)) FROM {table} WHERE {where}"
    ).fetchone()
    if lo is None:
        return
    result.first_ts = lo if result.first_ts is None else min(result.first_ts, lo)
    result.last_ts = hi if result.last_ts is None else max(result.last_ts, hi)
    result.days = sorted(set(result.days) | set(days))


@dataclass
class IngestSummary:
    files: list[FileResult] = field(default_factory=list)
    touched_days: set[dt.date] = field(default_factory=set)
    retry_later: list[str] = field(default_factory=list)
    """Files left for the next run because they changed while being loaded."""

    def count(self, status: str) -> int:
        return sum(1 for f in self.files if f.status == status)

    @property
    def rows_in(self) -> int:
        return sum(f.rows_in for f in self.files)

    @property
    def rows_loaded(self) -> int:
        return sum(f.rows_loaded for f in self.files)

    @property
    def rows_rejected(self) -> int:
        return sum(f.rows_rejected for f in self.files)


def discover_dumps(landing: Path) -> list[Path]:
    """Complete dump files under ``landing`` (hidden, partial and maintenance files excluded)."""
    found = []
    if not landing.exists():
        return found
    for root, dirs, files in os.walk(landing):
        rel_root = Path(root).relative_to(landing)
        dirs[:] = sorted(
            d
            for d in dirs
            if not d.startswith(".") and not (rel_root == Path(".") and d == MAINTENANCE_FOLDER)
        )
        for name in sorted(files):
            if name.startswith(".") or name.endswith(IGNORED_SUFFIXES):
                continue
            found.append(Path(root) / name)
    return found


def ingest_landing(
    con: duckdb.DuckDBPyConnection,
    landing: Path,
    *,
    now: dt.datetime | None = None,
    log: Callable[[str], None] | None = None,
) -> IngestSummary:
    """Ingest every new or changed dump under ``landing``; re-running is a no-op."""
    now = now or dt.datetime.now(dt.UTC)
    summary = IngestSummary()
    known = {
        path: (file_id, sha, size, mtime, version)
        for file_id, path, sha, size, mtime, version in con.execute(
            """SELECT file_id, path, sha256, size_bytes, mtime_ns, version FROM file_ledger
               QUALIFY row_number() OVER (PARTITION BY path ORDER BY version DESC) = 1"""
        ).fetchall()
    }
    # Arrival order: files that landed first are loaded first, so "first delivery wins" holds.
    candidates = []
    for path in discover_dumps(landing):
        rel = path.relative_to(landing).as_posix()
        stat = path.stat()
        prev = known.get(rel)
        if prev and prev[2] == stat.st_size and prev[3] == stat.st_mtime_ns:
            continue
        candidates.append((stat.st_mtime_ns, rel, path, stat))
    arrivals = [(rel, path, stat) for _, rel, path, stat in sorted(candidates)]
    if not arrivals:
        return summary
    with _single_threaded(con), _Scratch(con, known) as scratch:
        with _ReadAhead(arrivals, prepare=scratch.prepare) as deliveries:
            _ingest_deliveries(con, deliveries, known, now, log, summary, scratch)
    return summary


def _ingest_deliveries(
    con: duckdb.DuckDBPyConnection,
    deliveries: Iterable[_Delivery],
    known: dict,
    now: dt.datetime,
    log: Callable[[str], None] | None,
    summary: IngestSummary,
    scratch: _Scratch,
) -> None:
    """Load each delivery in its own transaction: a crash or error never leaves a file
    half-loaded."""
    for delivery in deliveries:
        con.execute("BEGIN TRANSACTION")
        try:
            result = _ingest_one(con, delivery, known.get(delivery.rel), now)
        except FileChangedDuringLoad as exc:
            con.execute("ROLLBACK")
            scratch.release(delivery)
            summary.retry_later.append(delivery.rel)
            if log:
                log(str(exc))
            continue
        except Exception:
            con.execute("ROLLBACK")
            scratch.release(delivery)
            raise
        con.execute("COMMIT")
        scratch.release(delivery)  # its own statement: a transaction writes to one database
        if result is None:
            continue
        summary.files.append(result)
        summary.touched_days.update(result.days)
        if log:
            log(
                f"{result.path}: {result.status}"
                + (f" ({result.reason})" if result.reason else "")
                + f" rows in={result.rows_in} loaded={result.rows_loaded}"
                + f" rejected={result.rows_rejected}"
            )


def _ingest_one(con, delivery: _Delivery, prev, now) -> FileResult | None:
    """Ledger and load one file inside the caller's transaction."""
    rel, stat, data, sha = delivery.rel, delivery.stat, delivery.data, delivery.sha
    if prev and prev[1] == sha:
        # Same content touched again: remember the new mtime so we do not hash it every time.
        con.execute(
            "UPDATE file_ledger SET mtime_ns=? WHERE file_id=?", [stat.st_mtime_ns, prev[0]]
        )
        return None
    file_id = con.execute("SELECT coalesce(max(file_id), 0) + 1 FROM file_ledger").fetchone()[0]
    version = prev[4] + 1 if prev else 1
    gateway = rel.split("/", 1)[0] if "/" in rel else None
    con.execute(
        """INSERT INTO file_ledger (file_id, path, sha256, size_bytes, mtime_ns, gateway, version,
           status, ingested_at) VALUES (?, ?, ?, ?, ?, ?, ?, 'loading', ?)""",
        [file_id, rel, sha, len(data), stat.st_mtime_ns, gateway, version, now],
    )
    same = con.execute(
        "SELECT file_id FROM file_ledger WHERE sha256=? AND status='loaded' ORDER BY file_id LIMIT 1",
        [sha],
    ).fetchone()
    if same:
        result = FileResult(
            file_id,
            rel,
            "duplicate_file",
            version,
            duplicate_of=same[0],
            detail=f"same bytes as file {same[0]}; not loaded again",
        )
    else:
        superseded_days: list[dt.date] = []
        if prev:
            superseded_days = _supersede(con, prev[0], file_id)
        result = _load_dump(con, file_id, delivery, now, version)
        result.days = sorted(set(result.days) | set(superseded_days))
    _finish_ledger(con, result)
    return result


def _supersede(con, old_id: int, new_id: int) -> list[dt.date]:
    con.execute(
        "UPDATE file_ledger SET status='superseded', superseded_by=? WHERE file_id=?",
        [new_id, old_id],
    )
    days = con.execute("SELECT days FROM file_ledger WHERE file_id=?", [old_id]).fetchone()[0]
    return list(days or [])


def _finish_ledger(con, r: FileResult) -> None:
    fmt = _format_of(r.path)
    con.execute(
        """UPDATE file_ledger SET status=?, reason=?, detail=?, duplicate_of=?, format=?,
           records_in=?, records_parsed=?, records_malformed=?, rows_in=?, rows_loaded=?,
           rows_rejected=?, first_ts=?, last_ts=?, days=? WHERE file_id=?""",
        [
            r.status,
            r.reason,
            r.detail,
            r.duplicate_of,
            fmt,
            r.records_in,
            r.records_parsed,
            r.records_malformed,
            r.rows_in,
            r.rows_loaded,
            r.rows_rejected,
            r.first_ts,
            r.last_ts,
            r.days,
            r.file_id,
        ],
    )


def _format_of(rel: str) -> str | None:
    suffix = Path(rel).suffix.lower()
    return {
        ".csv": "wide_csv",
        ".jsonl": "jsonl",
        ".ndjson": "jsonl",
        ".json": "jsonl",
        ".parquet": "parquet",
    }.get(suffix)


# --- reading ahead -------------------------------------------------------------------------------


class _Quarantine(Exception):
    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason, self.detail = reason, detail


@contextlib.contextmanager
def _single_threaded(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """Run the per-file statements on one DuckDB thread, then restore the setting.

    A file's stage is about one row group, so its statements hardly parallelize, and spreading
    them over threads only adds scheduling: measured on 10 M readings in 20 files, one thread
    loads 16 % faster with 30 % less CPU than two (``benchmarks/ingest.py``)."""
    (threads,) = con.execute("SELECT current_setting('threads')").fetchone()
    con.execute("SET threads = 1")
    try:
        yield
    finally:
        con.execute(f"SET threads = {int(threads)}")


class _Scratch:
    """Parse the next wide CSV while the current file loads.

    The reader thread parses each wide CSV it has read into a table of an in-memory database
    attached for the run (attached databases are shared by every cursor of the connection), on
    its own cursor, in its own transaction. Its file's transaction then only copies that table
    into its ``stage``: the parse overlaps the previous file's inserts and checks, on the other
    core. Everything else — the ledger, checks, inserts, accounting — stays in the file's own
    transaction, in arrival order. Files whose content is already in the ledger are not parsed.
    """

    NAME = "dt_ingest_scratch"

    def __init__(self, con: duckdb.DuckDBPyConnection, known: dict) -> None:
        self._con, self._known_shas = con, {v[1] for v in known.values()}
        self._cursor: duckdb.DuckDBPyConnection | None = None
        self._count = itertools.count(1)

    def __enter__(self) -> _Scratch:
        self._con.execute(f"ATTACH IF NOT EXISTS ':memory:' AS {self.NAME}")
        self._cursor = self._con.cursor()
        self._cursor.execute("SET TimeZone = 'UTC'")
        return self

    def __exit__(self, *exc) -> None:
        if self._cursor is not None:
            self._cursor.close()
        self._con.execute(f"DETACH DATABASE IF EXISTS {self.NAME}")

    def prepare(self, delivery: _Delivery) -> None:
        """Runs on the reader thread, right after the file was read and hashed."""
        if _format_of(delivery.rel) != "wide_csv" or not delivery.data:
            return
        if delivery.sha in self._known_shas:
            return  # a re-delivery: nothing will be parsed
        number = next(self._count)
        table = f"{self.NAME}.stage_{number}"
        try:
            names = [f"c{i}" for i in range(len(_parse_wide_header(delivery.data)))]
            refused = _parse_wide_csv(
                self._cursor,
                f"ahead_{number}",
                delivery.path,
                delivery.data,
                names,
                into=f"TABLE {table}",
            )
        except BaseException as exc:  # re-raised in the file's turn, in its transaction
            delivery.prepared = exc
            return
        delivery.prepared = (table, refused)

    def release(self, delivery: _Delivery) -> None:
        """Drop the parsed table once its file's transaction has ended."""
        if isinstance(delivery.prepared, tuple):
            self._con.execute(f"DROP TABLE IF EXISTS {delivery.prepared[0]}")


@dataclass
class _Delivery:
    """One landed file as read from disk: its bytes and their hash."""

    rel: str
    path: Path
    stat: os.stat_result
    data: bytes
    sha: str
    read_stat: tuple[int, int]  # (size, mtime_ns) right after the bytes were read
    prepared: tuple[str, list[tuple]] | BaseException | None = None
    """A wide CSV parsed ahead of its turn: (scratch table, refused lines), or what stopped the
    parse (re-raised when the file's turn comes), or None (parsed in turn)."""


def _read_delivery(rel: str, path: Path, stat: os.stat_result) -> _Delivery:
    data = path.read_bytes()
    after = path.stat()
    return _Delivery(
        rel, path, stat, data, hashlib.sha256(data).hexdigest(), (after.st_size, after.st_mtime_ns)
    )


class _ReadAhead:
    """Yield the deliveries of ``arrivals`` in order while the next one is read and hashed in a
    worker thread (file reads and sha256 release the GIL), overlapping the previous file's load."""

    def __init__(
        self,
        arrivals: list[tuple[str, Path, os.stat_result]],
        depth: int = 1,
        prepare: Callable[[_Delivery], None] | None = None,
    ):
        self._arrivals, self._depth, self._prepare = arrivals, depth, prepare
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="dt-ingest-read")
        self._pending: deque[Future[_Delivery]] = deque()

    def _read(self, rel: str, path: Path, stat: os.stat_result) -> _Delivery:
        delivery = _read_delivery(rel, path, stat)
        if self._prepare is not None:
            self._prepare(delivery)
        return delivery

    def __enter__(self) -> Iterator[_Delivery]:
        return self._iterate()

    def _iterate(self) -> Iterator[_Delivery]:
        upcoming = iter(self._arrivals)
        for item in itertools.islice(upcoming, self._depth):
            self._pending.append(self._pool.submit(self._read, *item))
        while self._pending:
            delivery = self._pending.popleft().result()
            for item in itertools.islice(upcoming, 1):
                self._pending.append(self._pool.submit(self._read, *item))
            yield delivery

    def __exit__(self, *exc) -> None:
        for future in self._pending:
            future.cancel()
        self._pool.shutdown(wait=True)


# --- one dump ------------------------------------------------------------------------------------


def _load_dump(con, file_id, delivery: _Delivery, now, version) -> FileResult:
    rel, path, data = delivery.rel, delivery.path, delivery.data
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
            fast_rows = _stage_wide_csv(con, file_id, delivery, now, result)
        elif fmt == "jsonl":
            _stage_jsonl(con, path, data, result)
        else:
            _stage_parquet(con, path, result)
        # CSV and Parquet are parsed from the path: make sure it still holds the hashed bytes
        # (the file is read ahead of its turn), or the ledger would vouch for other content.
        if fmt != "jsonl":
            now_stat = path.stat()
            if (now_stat.st_size, now_stat.st_mtime_ns) != delivery.read_stat:
                raise FileChangedDuringLoad(
                    f"{rel}: the file changed while it was being loaded; it was not loaded and "
                    "will be retried on the next run"
                )
        result.rows_loaded += fast_rows
        _classify_long_stage(con, file_id, rel, now, result)
    except _Quarantine as q:
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
    finally:
        for table in ("long_stage", "stage", "rid_line"):
            con.execute(f"DROP TABLE IF EXISTS {table}")
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
            "stored); the file was not loaded and will be retried"
        )
    if result.records_in is not None and result.records_in != (
        result.records_parsed + result.records_malformed
    ):
        raise IngestError(
            f"{rel}: {result.records_in} records in the file but {result.records_parsed} parsed + "
            f"{result.records_malformed} malformed; the file was not loaded and will be retried"
        )
    return result


def _create_long_stage(con) -> None:
    con.execute(
        """CREATE OR REPLACE TEMP TABLE long_stage (
            line BIGINT, machine_id VARCHAR, tag VARCHAR, unit VARCHAR, ts_text VARCHAR,
            ts TIMESTAMPTZ, ts_problem VARCHAR, value_text VARCHAR, value DOUBLE, problem VARCHAR,
            detail VARCHAR)"""
    )


_LONG_SCHEMA = pa.schema(
    [
        ("line", pa.int64()),
        ("machine_id", pa.string()),
        ("tag", pa.string()),
        ("unit", pa.string()),
        ("ts_text", pa.string()),
        ("value_text", pa.string()),
        ("value", pa.float64()),
        ("problem", pa.string()),
        ("detail", pa.string()),
    ]
)


def _append_long_rows(con, rows: list[dict]) -> None:
    """Add Python-parsed readings to the long stage, parsing their timestamps in SQL."""
    if not rows:
        return
    con.register("py_long_rows", pa.Table.from_pylist(rows, schema=_LONG_SCHEMA))
    con.execute(
        f"""INSERT INTO long_stage
            SELECT line, machine_id, tag, unit, ts_text,
                   try_cast(trim(ts_text) AS TIMESTAMPTZ), {_ts_problem_sql("ts_text")},
                   value_text, value, problem, detail
            FROM py_long_rows"""
    )
    con.unregister("py_long_rows")


def _to_float(text: str | None) -> float | None:
    if text is None:
        return None
    try:
        return float(text)
    except ValueError:
        return None


def _count_records(data: bytes, skip_header: bool) -> tuple[int, list[int]]:
    """Non-empty physical lines (minus the header) and the line numbers of empty ones."""
    n_lines = data.count(b"\n") + (0 if data.endswith(b"\n") else 1)
    blank: list[int] = []
    if data.startswith((b"\n", b"\r\n")) or b"\n\n" in data or b"\n\r\n" in data:
        for number, line in enumerate(data.split(b"\n"), start=1):
            if number <= n_lines and not line.strip(b"\r"):
                blank.append(number)
    n_records = n_lines - len(blank) - (1 if skip_header else 0)
    return n_records, blank


# --- wide CSV ------------------------------------------------------------------------------------


def _parse_wide_header(data: bytes) -> list[tuple[str, str | None]]:
    first = data.split(b"\n", 1)[0].rstrip(b"\r")
    try:
        header_text = first.decode("utf-8-sig")
        header = next(csv.reader([header_text], strict=True))
    except (UnicodeDecodeError, csv.Error, StopIteration) as exc:
        raise _Quarantine("not_a_dump", f"the first line is not a CSV header ({exc})") from None
    if len(header) < 3 or [h.strip() for h in header[:2]] != ["timestamp", "machine_id"]:
        raise _Quarantine(
            "not_a_dump",
            "a wide CSV dump starts with the columns 'timestamp,machine_id' followed by "
            f"'<tag> [<unit>]' columns; found {header[:4]!r}",
        )
    columns = []
    for raw in header[2:]:
        match = _WIDE_COLUMN.match(raw)
        if not match:
            raise _Quarantine("not_a_dump", f"column {raw!r} is not '<tag> [<unit>]'")
        columns.append((match["tag"], match["unit"]))
    if len({c[0] for c in columns}) != len(columns):
        raise _Quarantine("not_a_dump", f"a sensor column appears twice in {header!r}")
    return columns


def _unbalanced_quote_lines(data: bytes) -> list[tuple[int, str]]:
    """Lines (number, text) holding an odd number of double quotes.

    A dump holds one record per line, so a quote never legitimately spans lines; but a CSV
    parser that meets an unbalanced quote reads on into the next lines looking for its end and,
    in a large file, swallows thousands of good records into one bad field. Such lines are taken
    out before parsing and rejected on their own (``malformed_line``)."""
    if b'"' not in data:
        return []
    found = []
    for number, raw in enumerate(data.split(b"\n"), start=1):
        if raw.count(b'"') % 2:
            found.append((number, raw.rstrip(b"\r").decode("utf-8", errors="replace")))
    return found


def _parse_wide_csv(
    con, tag: int | str, path: Path, data: bytes, names: list[str], into: str = "TEMP TABLE stage"
) -> list[tuple]:
    """Parse a wide CSV into ``into`` (the temp table ``stage``, or a scratch table) with typed
    columns, in file order (so a row's rowid gives its position), checking each timestamp as it
    is read. Returns the lines refused (line number, text, errors): those with unbalanced
    quotes, and those DuckDB refused (from its reject table, named after ``tag``).
    """
    unbalanced = _unbalanced_quote_lines(data)
    if unbalanced:
        # Parse the hashed bytes with those lines emptied (an empty line is skipped, so the other
        # lines keep their numbers); the original file is left as it is.
        lines = data.split(b"\n")
        for number, _ in unbalanced:
            lines[number - 1] = b""
        with tempfile.NamedTemporaryFile(suffix=".csv", delete=False) as fh:
            fh.write(b"\n".join(lines))
        try:
            refused = _parse_wide_csv(con, tag, Path(fh.name), b"", names, into)
        finally:
            os.unlink(fh.name)
        quoted = [(n, text, ["UNBALANCED QUOTE"]) for n, text in unbalanced]
        return sorted(quoted + refused, key=lambda item: item[0])
    # Cheap timestamp test first (parses, and ends in Z or a ±hh[:mm] offset); the full diagnosis
    # only runs on rows failing it. Character tests cost a quarter of slicing or regexes.
    ts_raw = '"timestamp"'
    has_offset = (
        f"(length({ts_raw}) > 16 AND (suffix({ts_raw}, 'Z') OR suffix({ts_raw}, 'z') "
        f"OR {ts_raw}[-6] IN ('+', '-') OR {ts_raw}[-5] IN ('+', '-') "
        f"OR {ts_raw}[-3] IN ('+', '-')))"
    )
    spec = {"timestamp": "VARCHAR", "machine_id": "VARCHAR", **{n: "DOUBLE" for n in names}}
    rejects_table, rejects_scan = f"csv_rejects_{tag}", f"csv_scans_{tag}"
    con.execute(f"DROP TABLE IF EXISTS {rejects_table}")
    con.execute(f"DROP TABLE IF EXISTS {rejects_scan}")
    try:
        con.execute(
            f"""CREATE OR REPLACE {into} AS
                SELECT machine_id, {ts_raw} AS ts_text, try_cast({ts_raw} AS TIMESTAMPTZ) AS ts,
                       CASE WHEN {has_offset} AND try_cast({ts_raw} AS TIMESTAMPTZ) IS NOT NULL
                            THEN NULL ELSE {_ts_problem_sql(ts_raw)} END AS ts_problem,
                       {", ".join(names)}
                FROM read_csv(?, header=true, columns={spec!r}, auto_detect=false, delim=',',
                     quote='"', escape='"', store_rejects=true,
                     rejects_table='{rejects_table}', rejects_scan='{rejects_scan}')""",
            [str(path)],
        )
        bad_lines = con.execute(
            f"""SELECT line, any_value(csv_line), list(DISTINCT error_type::VARCHAR)
                FROM {rejects_table} GROUP BY line ORDER BY line"""
        ).fetchall()
    except duckdb.Error as exc:
        raise _Quarantine("unreadable_file", f"DuckDB could not read the CSV: {exc}") from None
    finally:
        con.execute(f"DROP TABLE IF EXISTS {rejects_table}")
        con.execute(f"DROP TABLE IF EXISTS {rejects_scan}")
    return bad_lines


def _stage_wide_csv(con, file_id, delivery: _Delivery, now, result: FileResult) -> int:
    """Stage a wide CSV; load clean rows directly and return how many readings that loaded.

    The file is materialized once, in file order (so a row's position gives its line), with the
    timestamp checked as it is read. Machines are looked up through a tiny per-file table; values
    are checked, inline, for the machine types the file holds (usually one).
    """
    columns = _parse_wide_header(delivery.data)
    names = [f"c{i}" for i in range(len(columns))]
    n_records, blank_lines = _count_records(delivery.data, skip_header=True)
    result.records_in = n_records
    sensor_keys = _sensor_keys(con)
    types = [
        t
        for (t,) in con.execute(
            "SELECT DISTINCT machine_type FROM machines WHERE active ORDER BY 1"
        ).fetchall()
    ]
    mappings = {
        (t, i): resolve_sensor(t, tag, unit, sensor_keys)
        for t in types
        for i, (tag, unit) in enumerate(columns)
    }

    def value_ok(t: str, i: int) -> str:
        m, c = mappings[(t, i)], f"s.{names[i]}"
        if m.sensor_key is None:
            return f"{c} IS NULL"
        return (
            f"({c} IS NULL OR (isfinite({c}) AND {c} * {m.scale!r} + {m.offset!r} "
            f"BETWEEN {m.low!r} AND {m.high!r}))"
        )

    prepared = delivery.prepared
    if isinstance(prepared, BaseException):
        raise prepared
    if prepared is None:
        stage = "stage"
        bad_lines = _parse_wide_csv(con, file_id, delivery.path, delivery.data, names)
    else:
        stage, bad_lines = prepared  # parsed ahead into a scratch table: read it in place

    # Lines DuckDB refused: re-parse each physical line to give every reading its own reason.
    slow_rows: list[dict] = []
    consumed: list[int] = []
    for first_line, text, _ in bad_lines:
        physical = (text or "").lstrip("\n").split("\n")
        for offset, line_text in enumerate(physical):
            number = first_line + offset
            consumed.append(number)
            line_text = line_text.rstrip("\r")
            if not line_text:
                continue
            parsed = _reparse_wide_line(line_text, number, columns)
            if isinstance(parsed, dict):
                result.records_malformed += 1
                slow_rows.append(parsed)
            else:
                result.records_parsed += 1
                slow_rows.extend(parsed)
    excluded = sorted(set(blank_lines) | set(consumed))
    n_staged, first_rowid, readings_in_staged = con.execute(
        "SELECT count(*), min(rowid), "
        + " + ".join(f"count({n})" for n in names)
        + f" FROM {stage}"
    ).fetchone()
    result.records_parsed += n_staged

    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE file_machines AS
           SELECT f.machine_id, m.machine_key, m.machine_type
           FROM (SELECT DISTINCT machine_id FROM {stage}) f
           JOIN machines m ON m.machine_id = f.machine_id AND m.active"""
    )
    # Value checks only for the machine types this file actually holds (usually one).
    present = [
        t
        for (t,) in con.execute(
            "SELECT DISTINCT machine_type FROM file_machines ORDER BY 1"
        ).fetchall()
    ]

    def values_ok(t: str) -> str:
        return " AND ".join(value_ok(t, i) for i in range(len(columns)))

    type_ok = " ".join(f"WHEN '{t}' THEN ({values_ok(t)})" for t in present)
    row_ok = (
        f"(s.ts_problem IS NULL AND s.ts <= $now AND fm.machine_key IS NOT NULL "
        f"AND {f'CASE fm.machine_type {type_ok} ELSE false END' if present else 'false'})"
    )
    # Rows whose (machine, time) repeats inside the file or is already loaded go the slow way,
    # where each reading is compared. Constant time bounds let DuckDB skip old row groups.
    # One scan gives the time bounds for the history lookup and the span the file covers (its
    # days may include a day whose readings all turn out duplicates: a harmless extra refresh).
    lo, hi, span_lo, span_hi = con.execute(
        f"""SELECT min(ts), max(ts), min(ts) FILTER (WHERE ts <= $now),
                  max(ts) FILTER (WHERE ts <= $now)
           FROM {stage} WHERE ts_problem IS NULL""",
        {"now": now + FUTURE_TOLERANCE},
    ).fetchone()
    days: list[dt.date] = []
    if span_lo is not None:
        first_day, last_day = span_lo.date(), span_hi.date()
        if (last_day - first_day).days <= 1:
            days = sorted({first_day, last_day})  # both hold rows: exact without another pass
        else:
            days = con.execute(
                f"""SELECT list(DISTINCT CAST(ts AS DATE)) FROM {stage}
                   WHERE ts_problem IS NULL AND ts <= $now""",
                {"now": now + FUTURE_TOLERANCE},
            ).fetchone()[0]
    blocked = 0
    if lo is not None:
        con.execute(
            f"""CREATE OR REPLACE TEMP TABLE blocked AS
               SELECT machine_id, ts FROM {stage} WHERE ts_problem IS NULL
               GROUP BY ALL HAVING count(*) > 1
               UNION
               SELECT DISTINCT fm.machine_id, r.ts FROM readings r
               JOIN file_machines fm ON fm.machine_key = r.machine_key
               WHERE r.ts BETWEEN $lo AND $hi
                 AND r.file_id IN (SELECT file_id FROM file_ledger WHERE status = 'loaded')""",
            {"lo": lo, "hi": hi},
        )
        blocked = con.execute("SELECT count(*) FROM blocked").fetchone()[0]
    fast_from = f"{stage} s JOIN file_machines fm ON fm.machine_id = s.machine_id" + (
        " ANTI JOIN blocked b ON b.machine_id = s.machine_id AND b.ts = s.ts" if blocked else ""
    )
    params = {"now": now + FUTURE_TOLERANCE}

    # Fast path: clean rows, unpivoted straight into readings in one scan per machine type
    # (parallel unnest of the sensor keys and the SI values; an empty cell is no reading).
    selects = []
    for t in present:
        mapped = [
            (i, mappings[(t, i)])
            for i in range(len(columns))
            if mappings[(t, i)].sensor_key is not None
        ]
        if not mapped:
            continue
        keys = ", ".join(str(m.sensor_key) for _, m in mapped)
        values = ", ".join(f"s.{names[i]} * {m.scale!r} + {m.offset!r}" for i, m in mapped)
        selects.append(
            f"""SELECT machine_key, sensor_key, ts, value, {file_id} FROM (
                    SELECT fm.machine_key, unnest([{keys}]::USMALLINT[]) AS sensor_key, s.ts,
                           unnest([{values}]) AS value
                    FROM {fast_from}
                    WHERE {row_ok} AND fm.machine_type = '{t}')
                WHERE value IS NOT NULL"""
        )
    fast_loaded = 0
    if selects:
        fast_loaded = con.execute(
            "INSERT INTO readings " + " UNION ALL ".join(selects), params
        ).fetchone()[0]
        if fast_loaded and span_lo is not None:
            result.first_ts, result.last_ts, result.days = span_lo, span_hi, sorted(days)

    # Slow path: every reading of every other row, with its physical line number. When the fast
    # path took every reading the stage holds, other rows hold no reading and there is nothing to
    # do (a row whose cells are all empty yields no reading on either path).
    if fast_loaded != readings_in_staged:
        blocked_join = (
            " LEFT JOIN blocked b ON b.machine_id = s.machine_id AND b.ts = s.ts" if blocked else ""
        )
        fast_test = f"coalesce({row_ok}, false)" + (" AND b.machine_id IS NULL" if blocked else "")
        con.execute(
            f"""CREATE OR REPLACE TEMP TABLE slow AS
                SELECT s.rowid - {first_rowid or 0} AS rid, s.*
                FROM {stage} s LEFT JOIN file_machines fm ON fm.machine_id = s.machine_id{blocked_join}
                WHERE NOT ({fast_test})""",
            params,
        )
        slow_rids = [r for (r,) in con.execute("SELECT rid FROM slow ORDER BY rid").fetchall()]
        line_expr = "rid + 2"
        if excluded and slow_rids:
            con.register(
                "py_rid_line",
                pa.table({"rid": slow_rids, "line": _rids_to_lines(slow_rids, excluded)}),
            )
            con.execute("CREATE OR REPLACE TEMP TABLE rid_line AS SELECT * FROM py_rid_line")
            con.unregister("py_rid_line")
            line_expr = "(SELECT line FROM rid_line WHERE rid_line.rid = slow.rid)"
        for i, (tag, unit) in enumerate(columns):
            con.execute(
                f"""INSERT INTO long_stage
                    SELECT {line_expr}, machine_id, ?, ?, ts_text, ts, ts_problem,
                           CAST({names[i]} AS VARCHAR), {names[i]}, NULL, NULL
                    FROM slow WHERE {names[i]} IS NOT NULL""",
                [tag, unit],
            )
    for table in ("blocked", "slow", "file_machines"):
        con.execute(f"DROP TABLE IF EXISTS {table}")
    _append_long_rows(con, slow_rows)
    reparsed_readings = sum(1 for r in slow_rows if r["problem"] is None)
    result.rows_in = readings_in_staged + reparsed_readings + result.records_malformed
    return fast_loaded


def _rids_to_lines(rids: list[int], excluded: list[int], first_data_line: int = 2) -> list[int]:
    """Physical line of the k-th parsed row, skipping blank lines and lines DuckDB rejected."""
    out = []
    for k in rids:
        line = first_data_line + k
        while True:
            skipped = bisect.bisect_right(excluded, line) - bisect.bisect_left(
                excluded, first_data_line
            )
            candidate = first_data_line + k + skipped
            if candidate == line:
                break
            line = candidate
        out.append(line)
    return out


def _reparse_wide_line(text: str, number: int, columns) -> list[dict] | dict:
    """Readings of one CSV line DuckDB refused, or the reject row if the line is malformed."""
    expected = len(columns) + 2
    try:
        fields = next(csv.reader([text], strict=True))
    except (csv.Error, StopIteration):
        return _malformed_row(number, text, expected)
    if text.count('"') % 2:
        return _malformed_row(number, text, expected)
    if len(fields) != expected:
        return _malformed_row(number, text, expected, found=len(fields))
    ts_text, machine_id = fields[0], fields[1]
    rows = []
    for (tag, unit), raw in zip(columns, fields[2:], strict=True):
        if raw.strip() == "":
            continue
        rows.append(
            {
                "line": number,
                "machine_id": machine_id or None,
                "tag": tag,
                "unit": unit,
                "ts_text": ts_text,
                "value_text": raw,
                "value": _to_float(raw.strip()),
                "problem": None,
                "detail": None,
            }
        )
    return rows


def _malformed_row(number: int, text: str, expected: int, found: int | None = None) -> dict:
    if found is None:
        problem, detail = "malformed_line", "unbalanced quotes or unparseable CSV"
    else:
        problem, detail = "wrong_column_count", f"expected {expected} fields, found {found}"
    return {
        "line": number,
        "machine_id": None,
        "tag": None,
        "unit": None,
        "ts_text": None,
        "value_text": text[:500],
        "value": None,
        "problem": problem,
        "detail": detail,
    }


# --- JSON Lines ----------------------------------------------------------------------------------


def _stage_jsonl(con, path, data: bytes, result: FileResult) -> None:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _Quarantine("not_a_dump", f"not UTF-8 text ({exc})") from None
    n_records, _ = _count_records(data, skip_header=False)
    result.records_in = n_records
    lines = text.split("\n")
    con.register(
        "py_lines",
        pa.table(
            {
                "line": pa.array(range(1, len(lines) + 1), pa.int64()),
                "text": pa.array([ln.rstrip("\r") for ln in lines], pa.string()),
            }
        ),
    )
    con.execute("CREATE OR REPLACE TEMP TABLE stage AS SELECT * FROM py_lines WHERE text <> ''")
    con.unregister("py_lines")
    invalid = con.execute("SELECT line, text FROM stage WHERE NOT json_valid(text)").fetchall()
    if n_records and len(invalid) == n_records and not _looks_like_jsonl(invalid):
        raise _Quarantine("not_a_dump", "no line of the file is a JSON object")
    con.execute(
        f"""INSERT INTO long_stage
            SELECT line, j->>'machine', j->>'sensor', j->>'unit', j->>'ts',
                   try_cast(trim(j->>'ts') AS TIMESTAMPTZ), {_ts_problem_sql("j->>'ts'")},
                   j->>'value', try_cast(j->>'value' AS DOUBLE), NULL, NULL
            FROM (SELECT line, CAST(text AS JSON) AS j FROM stage WHERE json_valid(text))"""
    )
    # Lines strict JSON refuses may still be readable (NaN, Infinity): give them a precise reason.
    rows = []
    for number, line_text in invalid:
        try:
            obj = json.loads(line_text)
            if not isinstance(obj, dict):
                raise ValueError("not an object")
        except ValueError:
            result.records_malformed += 1
            rows.append(_malformed_row(number, line_text, 0) | {"detail": "not a JSON object"})
            continue
        value = obj.get("value")
        rows.append(
            {
                "line": number,
                "machine_id": _str_or_none(obj.get("machine")),
                "tag": _str_or_none(obj.get("sensor")),
                "unit": _str_or_none(obj.get("unit")),
                "ts_text": _str_or_none(obj.get("ts")),
                "value_text": _str_or_none(value),
                "value": float(value)
                if isinstance(value, int | float)
                else _to_float(_str_or_none(value)),
                "problem": None,
                "detail": None,
            }
        )
    _append_long_rows(con, rows)
    result.records_parsed = n_records - result.records_malformed
    result.rows_in = n_records


def _looks_like_jsonl(invalid: Iterable[tuple[int, str]]) -> bool:
    return any(t.lstrip().startswith("{") for _, t in invalid)


def _str_or_none(value) -> str | None:
    return None if value is None else str(value)


# --- Parquet -------------------------------------------------------------------------------------

_PARQUET_COLUMNS = {"machine_id", "sensor", "unit", "ts", "value"}


def _stage_parquet(con, path, result: FileResult) -> None:
    try:
        meta = pq.ParquetFile(path).metadata
        schema = pq.read_schema(path)
    except (pa.ArrowInvalid, OSError) as exc:
        raise _Quarantine("unreadable_file", f"not a readable Parquet file ({exc})") from None
    missing = _PARQUET_COLUMNS - set(schema.names)
    if missing:
        raise _Quarantine(
            "not_a_dump", f"Parquet dump lacks columns {sorted(missing)}; has {schema.names}"
        )
    result.records_in = meta.num_rows
    ts_type = schema.field("ts").type
    if pa.types.is_timestamp(ts_type):
        if ts_type.tz is None:
            ts_sql = "CAST(ts AS TIMESTAMP)::TIMESTAMPTZ"
            problem_sql = "'missing_timezone'"
        else:
            ts_sql, problem_sql = "ts", "CASE WHEN ts IS NULL THEN 'unparseable_timestamp' END"
        ts_text_sql = "CAST(ts AS VARCHAR)"
    else:
        ts_text_sql = "CAST(ts AS VARCHAR)"
        ts_sql = "try_cast(trim(CAST(ts AS VARCHAR)) AS TIMESTAMPTZ)"
        problem_sql = _ts_problem_sql("CAST(ts AS VARCHAR)")
    try:
        con.execute(
            f"""INSERT INTO long_stage
                SELECT file_row_number, CAST(machine_id AS VARCHAR), CAST(sensor AS VARCHAR),
                       CAST(unit AS VARCHAR), {ts_text_sql}, {ts_sql}, {problem_sql},
                       CAST(value AS VARCHAR), try_cast(value AS DOUBLE), NULL, NULL
                FROM read_parquet(?, file_row_number=true)""",
            [str(path)],
        )
    except duckdb.Error as exc:
        raise _Quarantine(
            "unreadable_file", f"DuckDB could not read the Parquet file: {exc}"
        ) from None
    result.records_parsed = con.execute("SELECT count(*) FROM long_stage").fetchone()[0]
    result.rows_in = result.records_parsed


# --- classification of the long stage ------------------------------------------------------------


def _sensor_keys(con) -> dict[tuple[str, str], int]:
    return {
        (t, g): k
        for k, t, g in con.execute("SELECT sensor_key, machine_type, tag FROM sensors").fetchall()
    }


def _classify_long_stage(con, file_id, rel, now, result: FileResult) -> None:
    combos = con.execute(
        """SELECT DISTINCT m.machine_type, l.tag, l.unit FROM long_stage l
           JOIN machines m ON m.machine_id = l.machine_id AND m.active WHERE l.problem IS NULL"""
    ).fetchall()
    sensor_keys = _sensor_keys(con)
    units = dict(con.execute("SELECT sensor_key, unit FROM sensors").fetchall())
    unit_map = pa.Table.from_pylist(
        [
            {
                "machine_type": t,
                "tag": tag or "",
                "unit": unit or "",
                "sensor_key": m.sensor_key,
                "scale": m.scale,
                "offset": m.offset,
                "low": m.low,
                "high": m.high,
                "si_unit": units.get(m.sensor_key),
                "problem": m.problem,
                "detail": m.detail,
            }
            for t, tag, unit in combos
            for m in [resolve_sensor(t, tag, unit, sensor_keys)]
        ],
        schema=pa.schema(
            [
                ("machine_type", pa.string()),
                ("tag", pa.string()),
                ("unit", pa.string()),
                ("sensor_key", pa.int32()),
                ("scale", pa.float64()),
                ("offset", pa.float64()),
                ("low", pa.float64()),
                ("high", pa.float64()),
                ("si_unit", pa.string()),
                ("problem", pa.string()),
                ("detail", pa.string()),
            ]
        ),
    )
    con.register("py_unit_map", unit_map)
    con.execute(
        """CREATE OR REPLACE TEMP TABLE classified AS SELECT * EXCLUDE (verdict),
                   verdict.reason AS reason, verdict.detail AS detail FROM (
            SELECT l.line, l.machine_id, l.tag, l.unit, l.ts_text, l.ts, l.value_text,
                   m.machine_key, u.sensor_key, l.value * u.scale + u.offset AS si_value,
                   -- the first rule a reading breaks gives its reason
                   CASE
                     WHEN l.problem IS NOT NULL THEN {'reason': l.problem, 'detail': l.detail}
                     WHEN l.machine_id IS NULL OR l.tag IS NULL OR l.ts_text IS NULL
                          OR l.value_text IS NULL
                       THEN {'reason': 'missing_field',
                             'detail': 'a reading needs ts, machine, sensor and value'}
                     WHEN m.machine_key IS NULL
                       THEN {'reason': 'unknown_machine',
                             'detail': 'machine ' || l.machine_id || ' is not in the registry'}
                     WHEN l.ts_problem IS NOT NULL
                       THEN {'reason': l.ts_problem, 'detail': 'timestamp ' || l.ts_text}
                     WHEN l.ts > $future
                       THEN {'reason': 'future_timestamp',
                             'detail': 'timestamp ' || l.ts_text || ' is in the future'}
                     WHEN u.problem IS NOT NULL THEN {'reason': u.problem, 'detail': u.detail}
                     WHEN l.value IS NULL
                       THEN {'reason': 'non_numeric_value', 'detail': NULL}
                     WHEN NOT isfinite(l.value)
                       THEN {'reason': 'non_finite_value', 'detail': NULL}
                     WHEN l.value * u.scale + u.offset NOT BETWEEN u.low AND u.high
                       THEN {'reason': 'out_of_range',
                             'detail': printf('%.6g %s outside [%g, %g]',
                                              l.value * u.scale + u.offset, u.si_unit, u.low, u.high)}
                   END AS verdict
            FROM long_stage l
            LEFT JOIN machines m ON m.machine_id = l.machine_id AND m.active
            LEFT JOIN py_unit_map u ON u.machine_type = m.machine_type
                 AND u.tag = coalesce(l.tag, '') AND u.unit = coalesce(l.unit, ''))""",
        {"future": now + FUTURE_TOLERANCE},
    )
    con.unregister("py_unit_map")
    _reject_duplicates(con, file_id)
    loaded = con.execute(
        f"""INSERT INTO readings SELECT machine_key, sensor_key, ts, si_value, {file_id}
            FROM classified WHERE reason IS NULL"""
    ).fetchone()[0]
    _note_loaded_span(con, result, "classified", "reason IS NULL")
    rejected = con.execute(
        """INSERT INTO telemetry_rejects
           SELECT $file_id, $rel, line, machine_id, tag, unit, ts_text, value_text, reason,
                  detail, $now
           FROM classified WHERE reason IS NOT NULL""",
        {"file_id": file_id, "rel": rel, "now": now},
    ).fetchone()[0]
    con.execute("DROP TABLE IF EXISTS classified")
    result.rows_loaded += loaded
    result.rows_rejected += rejected


def _reject_duplicates(con, file_id: int) -> None:
    """Mark readings already loaded (earlier files, or this file's fast path) or repeated within
    this file (the first line wins) as duplicate or conflicting readings."""
    lo, hi = con.execute("SELECT min(ts), max(ts) FROM classified WHERE reason IS NULL").fetchone()
    if lo is None:
        return
    # Constant time bounds let DuckDB skip row groups of older readings.
    con.execute(
        """CREATE OR REPLACE TEMP TABLE seen AS
           SELECT r.machine_key, r.sensor_key, r.ts, any_value(r.value) AS value,
                  any_value(r.file_id) AS file_id
           FROM readings r
           SEMI JOIN (SELECT machine_key, sensor_key, ts FROM classified WHERE reason IS NULL) k
                ON k.machine_key = r.machine_key AND k.sensor_key = r.sensor_key AND k.ts = r.ts
           WHERE r.ts BETWEEN $lo AND $hi
             AND (r.file_id = $file_id OR r.file_id IN
                  (SELECT file_id FROM file_ledger WHERE status = 'loaded'))
           GROUP BY ALL""",
        {"lo": lo, "hi": hi, "file_id": file_id},
    )
    con.execute(
        """UPDATE classified SET
             reason = CASE WHEN seen.value = classified.si_value THEN 'duplicate_reading'
                           ELSE 'conflicting_reading' END,
             detail = CASE WHEN seen.file_id = $file_id THEN 'already loaded from this file'
                           ELSE printf('already loaded from file %d (value %.6g)', seen.file_id,
                                       seen.value) END
           FROM seen
           WHERE classified.reason IS NULL AND seen.machine_key = classified.machine_key
             AND seen.sensor_key = classified.sensor_key AND seen.ts = classified.ts""",
        {"file_id": file_id},
    )
    con.execute(
        """CREATE OR REPLACE TEMP TABLE repeats AS
           WITH keys AS (
               SELECT machine_key, sensor_key, ts FROM classified WHERE reason IS NULL
               GROUP BY ALL HAVING count(*) > 1),
           ranked AS (
               SELECT c.line, c.sensor_key, c.si_value, row_number() OVER w AS rn,
                      first_value(c.si_value) OVER w AS first_value,
                      first_value(c.line) OVER w AS first_line
               FROM classified c SEMI JOIN keys USING (machine_key, sensor_key, ts)
               WHERE c.reason IS NULL
               WINDOW w AS (PARTITION BY c.machine_key, c.sensor_key, c.ts ORDER BY c.line))
           SELECT * FROM ranked WHERE rn > 1"""
    )
    con.execute(
        """UPDATE classified SET
             reason = CASE WHEN r.first_value = classified.si_value THEN 'duplicate_reading'
                           ELSE 'conflicting_reading' END,
             detail = printf('same key as line %d (value %.6g)', r.first_line, r.first_value)
           FROM repeats r
           WHERE classified.line = r.line AND classified.sensor_key = r.sensor_key"""
    )
    con.execute("DROP TABLE IF EXISTS seen")
    con.execute("DROP TABLE IF EXISTS repeats")
