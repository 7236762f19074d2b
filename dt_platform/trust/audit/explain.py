"""Whether files explain a rebuilt day: the rule for anchoring a new version without a person.

A rebuilt day whose records differ from its last anchored version is anchored automatically only
when late or corrected files account for the difference:

* at least one loaded file has readings in the day and content (``file_sha256``) that the previous
  version's ``source_files`` records did not hold — a late file, or a corrected one;
* no file the previous version committed to has different readings of the day now (same bytes,
  other readings: the readings were edited, not delivered);
* every ``telemetry_digest`` record whose readings changed (not only quality flags, which a
  sensor's whole day decides) lies in a (machine, sensor, hour) where those new files have
  readings — a file that left the day is covered only by one that replaces its readings;
* the day's ``telemetry`` is exactly what its loaded readings give, quality flags included
  (rebuilt for the comparison in a transaction that is rolled back).

Other records (predictions, alerts) follow from the telemetry and are taken along. Anything else
— a direct edit, a rebuild no file explains, a previous snapshot that cannot be read back — waits
as ``awaiting_reason`` for an OPERATOR's explicit reason. When the previous version predates
``source_files`` (or its day had no loaded readings), files ingested after it was built stand in
for "content it did not hold".
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass, field

import duckdb

from dt_platform.ingest.telemetry import build_telemetry_day
from dt_platform.trust.audit.diff import RecordDiff, diff_records
from dt_platform.trust.snapshot import DayRecords, key_text

FILES = "source_files"
TELEMETRY = "telemetry_digest"
LISTED_FILES = 3
"""Files named in a reason (the rest are counted): the reason is stored on chain."""

_LOADED_READINGS = """
    FROM readings r
    JOIN file_ledger f ON f.file_id = r.file_id AND f.status = 'loaded'
    JOIN machines m ON m.machine_key = r.machine_key
    JOIN sensors s ON s.sensor_key = r.sensor_key
    WHERE r.ts >= to_timestamp(epoch($day::TIMESTAMP))
      AND r.ts < to_timestamp(epoch($day::TIMESTAMP) + 86400)"""

_TELEMETRY_VS_REBUILT = """
SELECT (SELECT count(*) FROM (SELECT * FROM _audit_telemetry_now EXCEPT ALL
                              SELECT machine_id, sensor, ts, value, quality FROM telemetry
                              WHERE day = $day)),
       (SELECT count(*) FROM (SELECT machine_id, sensor, ts, value, quality FROM telemetry
                              WHERE day = $day EXCEPT ALL SELECT * FROM _audit_telemetry_now))"""

FLAG_FIELDS = frozenset(
    {"ok_readings", "spike_readings", "stuck_readings", "other_quality_readings", "readings_sha256"}
)
"""Fields of a digest record that quality flags alone change: flags are computed over a sensor's
whole day, so new readings may flip them in hours the new file has no readings in."""


@dataclass(frozen=True)
class FileChange:
    """A loaded file whose content the previous version did not hold (late or corrected)."""

    file_id: int
    path: str
    file_version: int
    sha256: str
    readings: int
    replaces: tuple[int, ...] = ()
    """Files of the same path that the previous version held and that are no longer loaded."""

    def describe(self) -> str:
        """Compact (the reason is stored on chain): path, file id, what it replaces, content."""
        if self.replaces:
            ids = ", ".join(map(str, self.replaces))
            head = f"{self.path} v{self.file_version} (file {self.file_id} replaces {ids}"
        else:
            head = f"{self.path} (file {self.file_id}"
        return f"{head}, sha256 {self.sha256[:8]}, {self.readings} readings)"


@dataclass(frozen=True)
class Explanation:
    """What changed since the previous version and whether files account for all of it."""

    day: dt.date
    previous_version: int | None
    differences: list[RecordDiff]
    files: list[FileChange] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def explained(self) -> bool:
        return bool(self.files) and not self.problems

    def summary(self) -> str:
        counts: dict[str, int] = {}
        for d in self.differences:
            counts[f"{d.source} {d.kind}"] = counts.get(f"{d.source} {d.kind}", 0) + 1
        return ", ".join(f"{n} {what}" for what, n in sorted(counts.items())) or "none"

    def reason(self) -> str:
        """The on-chain reason of an explained rebuild: the files, named (no longer than the
        generated reason it replaces for one file, so a new version costs no more gas)."""
        shown = [f.describe() for f in self.files[:LISTED_FILES]]
        more = len(self.files) - len(shown)
        listed = "; ".join(shown) + (f"; +{more} more file(s)" if more > 0 else "")
        return f"late or corrected data since version {self.previous_version}: {listed}"

    def detail(self) -> str:
        """Why the rebuild waits, and what to do about it (for the row and the asset check)."""
        return (
            f"{len(self.differences)} record(s) differ from version {self.previous_version} "
            f"({self.summary()}); not anchored automatically: {'; '.join(self.problems)}. An "
            f"OPERATOR anchors it with `dt-platform audit anchor --partition {self.day} "
            '--reason "…"`'
        )


def _file_records(records: DayRecords) -> list[dict]:
    source = records.source(FILES)
    return [json.loads(r) for r in source.records] if source else []


def _cells(diffs: Sequence[RecordDiff]) -> set[tuple[str, str, str]]:
    """The (machine, sensor, hour) of digest records whose readings changed (not only flags)."""
    return {
        (d.key["machine_id"], d.key["sensor"], d.key["hour"])
        for d in diffs
        if d.source == TELEMETRY
        and not (d.kind == "changed" and {f.field for f in d.fields} <= FLAG_FIELDS)
    }


def _covered_cells(
    con: duckdb.DuckDBPyConnection, day: dt.date, file_ids: Sequence[int]
) -> set[tuple[str, str, str]]:
    """(machine, sensor, hour key) where the given files have loaded readings in the day."""
    if not file_ids:
        return set()
    rows = con.execute(
        "SELECT DISTINCT m.machine_id, s.sensor, "
        f"to_timestamp(epoch_us(r.ts) // 3600000000 * 3600) {_LOADED_READINGS} "
        "AND r.file_id IN (SELECT unnest($ids))",
        {"day": day, "ids": list(file_ids)},
    ).fetchall()
    return {(m, s, key_text(h)) for m, s, h in rows}


def _telemetry_problem(con: duckdb.DuckDBPyConnection, day: dt.date) -> str | None:
    """Whether ``telemetry`` of the day is exactly what its loaded readings give (values and
    quality flags): rebuilt in a transaction of its own that is rolled back."""
    cursor = con.cursor()
    try:
        cursor.execute("BEGIN")
        cursor.execute(
            "CREATE TEMP TABLE _audit_telemetry_now AS SELECT machine_id, sensor, ts, value, "
            "quality FROM telemetry WHERE day = $day",
            {"day": day},
        )
        build_telemetry_day(cursor, day)
        edited, missing = cursor.execute(_TELEMETRY_VS_REBUILT, {"day": day}).fetchone()
    except duckdb.Error as exc:
        return f"telemetry of {day} could not be rebuilt from its readings to compare: {exc}"
    finally:
        cursor.execute("ROLLBACK")
        cursor.close()
    if not edited and not missing:
        return None
    return (
        f"telemetry of {day} is not what its loaded readings give ({edited} telemetry row(s) "
        f"differ from a rebuild, {missing} rebuilt row(s) are not in telemetry): it was edited, "
        "or not rebuilt from them"
    )


def _ingested_after(
    con: duckdb.DuckDBPyConnection, file_ids: Sequence[int], since: dt.datetime
) -> set[int]:
    rows = con.execute(
        "SELECT file_id FROM file_ledger WHERE file_id IN (SELECT unnest($ids)) AND "
        "ingested_at > $since",
        {"ids": list(file_ids), "since": since},
    ).fetchall()
    return {int(r[0]) for r in rows}


def _new_files(
    con: duckdb.DuckDBPyConnection,
    now: list[dict],
    before: list[dict],
    previous_built_at: dt.datetime,
    problems: list[str],
) -> list[FileChange]:
    """Files whose content the previous version did not hold; notes files whose readings moved."""
    if before:
        held = {f["file_sha256"]: f for f in before}
        fresh = [f for f in now if f["file_sha256"] not in held]
        for f in now:
            old = held.get(f["file_sha256"])
            if old and (old["readings"], old["readings_sha256"]) != (
                f["readings"],
                f["readings_sha256"],
            ):
                problems.append(
                    f"file {f['file_id']} ({f['path']}) has other readings of the day than "
                    "the previous version committed to, with the same content (sha256)"
                )
    else:  # the previous version predates source_files: go by ingestion time
        late = _ingested_after(con, [f["file_id"] for f in now], previous_built_at)
        fresh = [f for f in now if f["file_id"] in late]
    gone = {f["file_sha256"] for f in before} - {f["file_sha256"] for f in now}
    left = [f for f in before if f["file_sha256"] in gone]
    return [
        FileChange(
            f["file_id"],
            f["path"],
            f["file_version"],
            f["file_sha256"],
            f["readings"],
            tuple(o["file_id"] for o in left if o["path"] == f["path"]),
        )
        for f in fresh
    ]


def explain_rebuild(
    con: duckdb.DuckDBPyConnection,
    new: DayRecords,
    previous: DayRecords,
    *,
    previous_version: int | None,
    previous_built_at: dt.datetime,
) -> Explanation:
    """Whether late or corrected files account for every difference between the previous
    version's records and ``new`` (the rule is in the module docstring)."""
    day = new.day
    diffs = diff_records(new, previous)
    problems: list[str] = []
    files = _new_files(
        con, _file_records(new), _file_records(previous), previous_built_at, problems
    )
    if not files:
        problems.insert(
            0,
            f"no late or corrected file has readings in {day} that version {previous_version} "
            "did not commit to",
        )
    uncovered = sorted(_cells(diffs) - _covered_cells(con, day, [f.file_id for f in files]))
    if files and uncovered:
        machine, sensor, hour = uncovered[0]
        problems.append(
            f"{len(uncovered)} {TELEMETRY} record(s) changed where no new file has readings, "
            f"e.g. machine_id={machine}, sensor={sensor}, hour={hour}"
        )
    telemetry = _telemetry_problem(con, day) if new.source(TELEMETRY) else None
    if telemetry:
        problems.append(telemetry)
    return Explanation(day, previous_version, diffs, files, problems)


def unreadable(day: dt.date, previous_version: int | None, error: str) -> Explanation:
    """The explanation when the previous version's records cannot be read back to compare."""
    problem = f"version {previous_version}'s snapshot cannot be read to compare with: {error}"
    return Explanation(day, previous_version, [], [], [problem])
