"""Gathering each machine's maturity facts from what runs: the warehouse (registry, readings and
their files, predictions, decisions) and the twin store (acknowledgements, reported state).

Everything is read as of one moment (:func:`as_of_for_day`): the end of a closed UTC day, or now
while the day runs. A closed day is judged from history only — readings by timestamp, the
append-only command events, the stream files in the ledger — so rebuilding it gives the same
evidence; the twin store's reported state (which keeps only the last sighting) counts only while
the day runs.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections import defaultdict

import duckdb

from dt_platform.live.spool import LANDING_FOLDER
from dt_platform.twin.command_store import iso, open_commands
from dt_platform.twin.maturity import (
    ACK_FINAL,
    Ack,
    DecisionFact,
    IntelligenceFacts,
    LiveFacts,
    MachineFacts,
    ShadowFacts,
    Windows,
)
from dt_platform.twin.state import all_states
from dt_platform.warehouse import table_names

MAX_ROWS_PER_MACHINE = 1000
"""Acknowledgements and decisions read per machine and period (newest first); far above what a
machine does in a week, and it bounds the work a flood of rows can cause."""
DECISION_COLUMNS = ("machine_id", "ts", "action", "status", "command_id")

_READINGS_SQL = """
SELECT m.machine_id, count(*) AS readings, count(DISTINCT r.file_id) AS files,
       list(DISTINCT f.gateway ORDER BY f.gateway) AS gateways,
       max(r.ts) AS last_reading_at, max(f.ingested_at) AS last_landed_at
FROM readings r
JOIN file_ledger f ON f.file_id = r.file_id AND f.status = 'loaded' AND {gateway}
JOIN machines m ON m.machine_key = r.machine_key
WHERE r.ts > $start AND r.ts <= $as_of
GROUP BY m.machine_id
"""


def as_of_for_day(day: dt.date, now: dt.datetime) -> tuple[dt.datetime, bool]:
    """The moment a day's levels are judged at, and whether the day is still running."""
    end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)
    now = now.astimezone(dt.UTC)
    return (now, True) if now < end else (end, False)


def _shadow(con: duckdb.DuckDBPyConnection, as_of: dt.datetime, w: Windows) -> dict:
    start = as_of - dt.timedelta(hours=w.freshness_h)
    rows = con.execute(
        _READINGS_SQL.format(gateway="f.gateway IS NOT NULL"), {"start": start, "as_of": as_of}
    ).fetchall()
    return {r[0]: ShadowFacts(int(r[1]), int(r[2]), tuple(r[3] or ()), r[4], r[5]) for r in rows}


def _stream(con: duckdb.DuckDBPyConnection, as_of: dt.datetime, w: Windows) -> dict:
    start = as_of - dt.timedelta(days=w.period_days)
    rows = con.execute(
        _READINGS_SQL.format(gateway=f"f.gateway = '{LANDING_FOLDER}'"),
        {"start": start, "as_of": as_of},
    ).fetchall()
    return {r[0]: (int(r[1]), r[4]) for r in rows}


def _predictions(con: duckdb.DuckDBPyConnection, as_of: dt.datetime, w: Windows) -> dict:
    if "rul_predictions" not in table_names(con):
        return {}
    rows = con.execute(
        """SELECT machine_id, count(*), max(ts),
                  list(DISTINCT model_version) FILTER (WHERE model_version IS NOT NULL)
           FROM rul_predictions WHERE ts > $start AND ts <= $as_of GROUP BY machine_id""",
        {"start": as_of - dt.timedelta(days=w.period_days), "as_of": as_of},
    ).fetchall()
    return {r[0]: (int(r[1]), r[2], tuple(r[3] or ())) for r in rows}


def decisions_unavailable(con: duckdb.DuckDBPyConnection) -> str | None:
    """Why the policy's decisions cannot be read, or ``None`` when they can."""
    if "decisions" not in table_names(con):
        return "no decisions table in the warehouse yet (the decision policy has not run)"
    cols = {r[0] for r in con.execute("SELECT column_name FROM (DESCRIBE decisions)").fetchall()}
    lacking = [c for c in DECISION_COLUMNS if c not in cols]
    if lacking:
        return f"the decisions table lacks column(s) {', '.join(lacking)}"
    return None


def _decisions(con: duckdb.DuckDBPyConnection, as_of: dt.datetime, w: Windows) -> dict:
    # Two periods back: a decision just before the period may have led to a command applied in it.
    rows = con.execute(
        """SELECT machine_id, ts, action, status, command_id FROM decisions
           WHERE ts > $start AND ts <= $as_of
           QUALIFY row_number() OVER (PARTITION BY machine_id ORDER BY ts DESC) <= $cap
           ORDER BY machine_id, ts DESC""",
        {
            "start": as_of - dt.timedelta(days=2 * w.period_days),
            "as_of": as_of,
            "cap": MAX_ROWS_PER_MACHINE,
        },
    ).fetchall()
    out: dict[str, list] = defaultdict(list)
    for machine_id, ts, action, status, command_id in rows:
        out[machine_id].append((ts, str(action), str(status), command_id))
    return out


def _acks(twin: sqlite3.Connection, as_of: dt.datetime, w: Windows) -> dict[str, list[Ack]]:
    open_commands(twin)
    rows = twin.execute(
        f"""SELECT e.machine_id, e.command_id, c.action, e.state, e.at
            FROM command_events e JOIN commands c ON c.command_id = e.command_id
            WHERE e.event = 'ack' AND e.state IN ({", ".join("?" * len(ACK_FINAL))})
              AND e.at > ? AND e.at <= ?
              AND coalesce(json_extract(e.detail, '$.duplicate'), 0) = 0
            ORDER BY e.at DESC, e.seq DESC""",
        (*ACK_FINAL, iso(as_of - dt.timedelta(days=w.period_days)), iso(as_of)),
    ).fetchall()
    out: dict[str, list[Ack]] = defaultdict(list)
    for r in rows:
        acks = out[r["machine_id"]]
        if len(acks) < MAX_ROWS_PER_MACHINE:
            at = dt.datetime.fromisoformat(r["at"])
            acks.append(Ack(r["command_id"], r["action"], r["state"], at))
    return out


def _reported(twin: sqlite3.Connection) -> dict[str, tuple[dt.datetime, bool]]:
    return {
        s.machine_id: (dt.datetime.fromisoformat(s.reported.last_seen), s.reported.online)
        for s in all_states(twin)
        if s.reported is not None and s.reported.last_seen
    }


def collect_facts(
    con: duckdb.DuckDBPyConnection,
    twin: sqlite3.Connection,
    as_of: dt.datetime,
    windows: Windows,
    *,
    running: bool,
) -> list[MachineFacts]:
    """Every registered machine's facts as of ``as_of`` (``running``: the day is not over, so
    the twin store's reported state counts too)."""
    if "machines" not in table_names(con):
        return []
    machines = con.execute(
        "SELECT machine_id, machine_type, active FROM machines ORDER BY machine_id"
    ).fetchall()
    shadow, stream = _shadow(con, as_of, windows), _stream(con, as_of, windows)
    predictions = _predictions(con, as_of, windows)
    why_not = decisions_unavailable(con)
    decisions = {} if why_not else _decisions(con, as_of, windows)
    acks = _acks(twin, as_of, windows)
    applied = {
        a.command_id: (m, a.at) for m, ms in acks.items() for a in ms if a.status == "applied"
    }
    reported = _reported(twin) if running else {}
    facts = []
    for machine_id, machine_type, active in machines:
        seen = reported.get(machine_id)
        n_stream, last_stream = stream.get(machine_id, (0, None))
        n_pred, last_pred, versions = predictions.get(machine_id, (0, None, ()))
        made = []
        for ts, action, status, command_id in decisions.get(machine_id, []):
            hit = applied.get(command_id) if command_id else None
            at = hit[1] if hit and hit[0] == machine_id else None
            made.append(DecisionFact(ts, action, status, command_id, at))
        facts.append(
            MachineFacts(
                machine_id,
                machine_type,
                bool(active),
                shadow.get(machine_id, ShadowFacts()),
                LiveFacts(
                    seen[0] if seen else None,
                    seen[1] if seen else None,
                    n_stream,
                    last_stream,
                    tuple(acks.get(machine_id, [])),
                ),
                IntelligenceFacts(n_pred, last_pred, versions, why_not, tuple(made)),
            )
        )
    return facts
