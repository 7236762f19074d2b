"""What a snapshot holds: the registry of snapshot sources and the telemetry digest.

Sources
-------
A :class:`SnapshotSource` is a name, a SQL query with a ``$day`` parameter and the key columns
that identify a record within the source. Defaults (:data:`SOURCES`):

* ``telemetry_digest`` — one record per (machine_id, sensor, UTC hour) of the day's
  ``telemetry``: reading counts (all, per quality flag), min, max, mean and ``readings_sha256``.
  Committing to a digest instead of every reading keeps a day at a few thousand leaves, and the
  digest still changes when any single reading changes (see "Reading digest" below).
* ``source_files`` — one record per loaded landing file with readings in the day (keyed by
  ``file_id``): its path, ledger version and ``file_sha256`` (the bytes ingested), how many of its
  readings fall in the day, their first and last timestamp and ``readings_sha256`` over them
  (see "File digest" below). What the day was built from: editing a raw reading, or the ledger
  (a file's hash, path, or whether it counts as loaded), after anchoring changes a record here
  even when ``telemetry`` is left alone. A day without loaded readings (telemetry written some
  other way) has no such records, and no ``source_files`` file in its snapshot.
* ``rul_predictions``, ``maintenance_alerts``, ``decisions`` — every row of the day
  (``WHERE day = $day``), keyed by ``machine_id`` and ``ts``. A source whose tables do not exist
  in the warehouse is skipped (and listed as skipped in the manifest).
* ``command_events`` — every event of the twin's signed commands stamped on the day (issued,
  signed with the signature, approved, published, acknowledged, refused, expired), keyed by
  ``command_id`` and ``seq``; copied from the twin store by the ``command_events`` asset (see
  :mod:`dt_platform.twin.command_audit`). Omitted from days without any.
* ``published_documents`` — documents the day's anchor covers besides its records (a daily
  report, a track-record summary): name, IPFS CID, sha256 and size of the bytes, media type, keyed
  by ``name`` (see :mod:`.documents`). Omitted from days without any.
* ``twin_maturity`` — each machine's maturity level of the day, its evidence document (canonical
  JSON) and the document's sha256, keyed by ``machine_id`` (see
  :mod:`dt_platform.twin.maturity`). Omitted from days without any.
* ``track_record_scores``, ``track_record_summary`` — on a day the maintenance log ends a component
  life: each prediction made during the life, scored against the failure or removal (keyed by
  ``machine_id`` and ``ts``), and the track record published that day (keyed by
  ``model_version``, ``machine_type`` and ``lead_band``); see :mod:`dt_platform.phm.track_record`.
  Omitted from days that close no life.

Reading digest (``readings_sha256``)
------------------------------------
For one (machine_id, sensor, hour): take every reading of that hour ordered by (ts, value,
quality); write each as ``<ts as integer microseconds since 1970-01-01T00:00:00Z>,<value as
Python repr writes it: nan, inf, -inf too>,<quality>``; join the lines with ``\\n`` (no trailing
newline); SHA-256 of the UTF-8 bytes, lower-case hex. ``mean_value`` is the left-to-right double
sum of the values in that order divided by the count. The quality flag is part of the digest,
so swapping two flags within an hour is seen too.

File digest (``source_files.readings_sha256``)
----------------------------------------------
For one loaded file (``file_ledger.status = 'loaded'``, as ``telemetry`` is built) and one UTC
day: take the file's readings in ``[day 00:00Z, next day 00:00Z)`` ordered by (machine_id, sensor,
ts, value); write each as ``<machine_id>,<sensor>,<ts as integer microseconds since
1970-01-01T00:00:00Z>,<value as Python repr writes it>`` (``readings.value``, in the catalogue's
unit); join with ``\n`` (no trailing newline); SHA-256 of the UTF-8 bytes, lower-case hex.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from dt_platform.trust.snapshot.documents import DOCUMENTS_SQL

SOURCE_NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_]*$")
"""A source name becomes a file name in the snapshot folder, so it stays this plain."""


@dataclass(frozen=True)
class SnapshotSource:
    """One kind of record in a day's snapshot.

    ``query`` is DuckDB SQL with a ``$day`` (DATE) parameter; ``key`` names the columns that
    identify a record (canonical order, and how ``verify``/``prove`` name records); ``tables``
    are the warehouse tables it reads: if any is missing the source is skipped.
    """

    name: str
    query: str
    key: tuple[str, ...]
    tables: tuple[str, ...]
    description: str = ""
    omit_when_empty: bool = False
    """Leave the source out of a day it has no rows for (not even an empty file), or while its
    tables do not exist (not even as skipped), so adding it changes no snapshot of a day it says
    nothing about."""

    def __post_init__(self) -> None:
        if not SOURCE_NAME_PATTERN.match(self.name):
            raise ValueError(
                f"snapshot source name {self.name!r} must be lower-case letters, digits and "
                "underscores (it becomes a file name)"
            )
        if not self.key:
            raise ValueError(f"snapshot source {self.name!r} needs at least one key column")
        if "source" in self.key:
            raise ValueError(f"snapshot source {self.name!r}: 'source' cannot be a key column")


TELEMETRY_DIGEST_SQL = """
SELECT machine_id,
       machine_type,
       sensor,
       to_timestamp(epoch_us(ts) // 3600000000 * 3600) AS hour,
       count(*) AS readings,
       count(*) FILTER (WHERE quality = 'ok') AS ok_readings,
       count(*) FILTER (WHERE quality = 'spike') AS spike_readings,
       count(*) FILTER (WHERE quality = 'stuck') AS stuck_readings,
       count(*) FILTER (WHERE quality NOT IN ('ok', 'spike', 'stuck')) AS other_quality_readings,
       min(value) AS min_value,
       max(value) AS max_value,
       avg(value ORDER BY ts, value, quality) AS mean_value,
       sha256(string_agg(epoch_us(ts)::VARCHAR || ',' || value::VARCHAR || ',' || quality,
                         chr(10) ORDER BY ts, value, quality)) AS readings_sha256
FROM telemetry
WHERE day = $day
GROUP BY machine_id, machine_type, sensor, hour
"""
# Why this SQL is exact: epoch_us avoids time-zone and ICU formatting; DuckDB's DOUBLE -> VARCHAR
# cast is the shortest round-trip text (identical to Python repr, checked by a test); avg with
# ORDER BY is a sequential sum in that order, so it is deterministic however many threads run.


SOURCE_FILES_SQL = """
SELECT f.file_id,
       f.path,
       f.version AS file_version,
       f.sha256 AS file_sha256,
       count(*) AS readings,
       min(r.ts) AS first_ts,
       max(r.ts) AS last_ts,
       sha256(string_agg(m.machine_id || ',' || s.sensor || ',' || epoch_us(r.ts)::VARCHAR || ','
                         || r.value::VARCHAR,
                         chr(10) ORDER BY m.machine_id, s.sensor, r.ts, r.value)) AS readings_sha256
FROM readings r
JOIN file_ledger f ON f.file_id = r.file_id AND f.status = 'loaded'
JOIN machines m ON m.machine_key = r.machine_key
JOIN sensors s ON s.sensor_key = r.sensor_key
WHERE r.ts >= to_timestamp(epoch($day::TIMESTAMP))
  AND r.ts < to_timestamp(epoch($day::TIMESTAMP) + 86400)
GROUP BY f.file_id, f.path, f.version, f.sha256
"""
# The day's bounds from epoch seconds, never through the session time zone (a DATE cast to
# TIMESTAMPTZ would take the session's midnight).


def epoch_micros(ts: dt.datetime) -> int:
    """Integer microseconds since 1970-01-01T00:00:00Z (a naive ``ts`` is taken as UTC)."""
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=dt.UTC)
    delta = ts - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def reading_line(ts: dt.datetime, value: float, quality: str) -> str:
    """One reading's line in ``readings_sha256`` (reference for rebuilding the digest)."""
    return f"{epoch_micros(ts)},{float(value)!r},{quality}"


def file_reading_line(machine_id: str, sensor: str, ts: dt.datetime, value: float) -> str:
    """One reading's line in ``source_files.readings_sha256`` (reference for rebuilding it)."""
    return f"{machine_id},{sensor},{epoch_micros(ts)},{float(value)!r}"


def _table_source(name: str, key: tuple[str, ...], description: str) -> SnapshotSource:
    return SnapshotSource(
        name=name,
        query=f"SELECT * FROM {name} WHERE day = $day",
        key=key,
        tables=(name,),
        description=description,
    )


SOURCES: dict[str, SnapshotSource] = {}
"""The registry of snapshot sources, by name (see :func:`register_source`)."""


def register_source(source: SnapshotSource, *, replace: bool = False) -> None:
    """Add a source to :data:`SOURCES` (``replace=True`` to redefine an existing one).

    Changing a source changes every later snapshot's records: anchored days then verify against
    records the new definition computes, so bump the code version alongside (it is automatic).
    """
    if source.name in SOURCES and not replace:
        raise ValueError(f"snapshot source {source.name!r} is already registered")
    SOURCES[source.name] = source


for _source in (
    SnapshotSource(
        name="telemetry_digest",
        query=TELEMETRY_DIGEST_SQL,
        key=("machine_id", "sensor", "hour"),
        tables=("telemetry",),
        description="per machine, sensor and UTC hour: counts, min/max/mean, readings_sha256",
    ),
    SnapshotSource(
        name="source_files",
        query=SOURCE_FILES_SQL,
        key=("file_id",),
        tables=("readings", "file_ledger", "machines", "sensors"),
        description="per loaded landing file: its sha256, and the count and digest of its "
        "readings in the day",
        omit_when_empty=True,
    ),
    _table_source("rul_predictions", ("machine_id", "ts"), "remaining-useful-life predictions"),
    _table_source("maintenance_alerts", ("machine_id", "ts"), "maintenance alerts raised"),
    _table_source("decisions", ("machine_id", "ts"), "decisions taken by the policy"),
    SnapshotSource(
        name="command_events",
        query="SELECT * FROM command_events WHERE day = $day",
        key=("command_id", "seq"),
        tables=("command_events",),
        description="every event of the twin's signed commands: signatures, transitions, acks",
        omit_when_empty=True,
    ),
    SnapshotSource(
        name="published_documents",
        query=DOCUMENTS_SQL,
        key=("name",),
        tables=("published_documents",),
        description="documents the day's anchor covers (e.g. a daily report): name, IPFS CID, "
        "sha256 and size of their bytes, media type",
        omit_when_empty=True,
    ),
    SnapshotSource(
        name="twin_maturity",
        query="SELECT day, machine_id, level, level_name, evidence, evidence_sha256 "
        "FROM twin_maturity WHERE day = $day",
        key=("machine_id",),
        tables=("twin_maturity",),
        description="each twin's maturity level of the day with its evidence and its sha256",
        omit_when_empty=True,
    ),
    SnapshotSource(
        name="track_record_scores",
        query="SELECT * FROM track_record_scores WHERE day = $day",
        key=("machine_id", "ts"),
        tables=("track_record_scores",),
        description="each prediction of a component life the maintenance log closed that day, "
        "scored against the failure or removal",
        omit_when_empty=True,
    ),
    SnapshotSource(
        name="track_record_summary",
        query="SELECT * FROM track_record_summary WHERE day = $day",
        key=("model_version", "machine_type", "lead_band"),
        tables=("track_record_summary",),
        description="the published track record up to that day, per model version, machine "
        "type and lead band",
        omit_when_empty=True,
    ),
):
    register_source(_source)


def default_sources() -> list[SnapshotSource]:
    """The registered sources in name order (the order used in manifests)."""
    return [SOURCES[name] for name in sorted(SOURCES)]
