"""Duplicate and conflicting readings: already loaded from an earlier file (or this file's fast
path), or repeated within the file."""

from __future__ import annotations


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
                                       seen.value) END,
             copied_from = CASE WHEN seen.file_id <> $file_id THEN seen.file_id END
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
