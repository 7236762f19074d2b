"""One day of telemetry: the loaded readings of that UTC day, with a data-quality flag.

Readings that reached the warehouse are plausible by construction (the loader rejects the
impossible ones); what is left are sensor faults that look like data. Each reading gets a
``quality``:

* ``spike``  — far from the rolling median of its neighbours (11 samples), measured in units of
  the day's median absolute deviation of the same sensor, so it adapts to each sensor's noise;
  a change of setpoint is not a spike because the rolling median follows it.
* ``stuck``  — part of a run of at least ``STUCK_RUN`` identical non-zero values from a sensor
  that otherwise changes from sample to sample (a frozen transmitter).
* ``ok``     — everything else.

Flagged readings stay in the table (nothing is dropped); the prognostics read only ``ok`` ones.
"""

from __future__ import annotations

import datetime as dt

import duckdb

SPIKE_MADS = 8.0
STUCK_RUN = 30
HALF_WINDOW = 5


def build_telemetry_day(con: duckdb.DuckDBPyConnection, day: dt.date) -> dict[str, int]:
    """Replace the ``telemetry`` rows of ``day``; returns counts per quality flag."""
    start = dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)
    con.execute("DELETE FROM telemetry WHERE day = ?", [day])
    con.execute(
        f"""INSERT INTO telemetry
        WITH r AS (
            SELECT r.machine_key, r.sensor_key, r.ts, r.value
            FROM readings r
            JOIN file_ledger f ON f.file_id = r.file_id AND f.status = 'loaded'
            WHERE r.ts >= $start AND r.ts < $end),
        w AS (
            SELECT *,
                   abs(value - median(value) OVER around) AS deviation,
                   value IS DISTINCT FROM lag(value) OVER ordered AS changed
            FROM r
            WINDOW around AS (PARTITION BY machine_key, sensor_key ORDER BY ts
                              ROWS BETWEEN {HALF_WINDOW} PRECEDING AND {HALF_WINDOW} FOLLOWING),
                   ordered AS (PARTITION BY machine_key, sensor_key ORDER BY ts)),
        runs AS (
            SELECT *, sum(changed::INTEGER) OVER (PARTITION BY machine_key, sensor_key ORDER BY ts
                                                  ROWS UNBOUNDED PRECEDING) AS run_id
            FROM w),
        stats AS (
            SELECT *,
                   median(deviation) OVER sensor_day AS mad,
                   avg(changed::INTEGER) OVER sensor_day AS change_rate,
                   count(*) OVER (PARTITION BY machine_key, sensor_key, run_id) AS run_length
            FROM runs WINDOW sensor_day AS (PARTITION BY machine_key, sensor_key))
        SELECT $day, m.machine_id, m.machine_type, s.sensor, st.ts, st.value,
               CASE
                 WHEN st.mad > 0 AND st.deviation > {SPIKE_MADS} * st.mad
                      AND st.deviation > 1e-6 * (s.high - s.low) THEN 'spike'
                 WHEN st.run_length >= {STUCK_RUN} AND st.value <> 0 AND st.change_rate > 0.5
                      THEN 'stuck'
                 ELSE 'ok'
               END
        FROM stats st
        JOIN machines m ON m.machine_key = st.machine_key
        JOIN sensors s ON s.sensor_key = st.sensor_key""",
        {"start": start, "end": start + dt.timedelta(days=1), "day": day},
    )
    counts = dict(
        con.execute(
            "SELECT quality, count(*) FROM telemetry WHERE day = ? GROUP BY quality", [day]
        ).fetchall()
    )
    return {q: counts.get(q, 0) for q in ("ok", "spike", "stuck")}
