"""Server time to first render of the dashboard's fleet, machine and alarms pages on a year of
data for 200 machines.

Builds (once, cached under ``--home``) a platform of that size in the real schemas: the registry
and sensor catalogue, one year of raw ``telemetry`` at the simulator's 60 s grid (every catalogue
sensor of every machine, inserted day by day in the order ingestion writes a day: by machine,
sensor and time), hourly ``physics_trajectory``, daily ``rul_predictions`` and ``twin_maturity``,
the ``maintenance_alerts`` of the days a machine was at risk, a ``maintenance_log``, and a twin store
with a year of alarms and their events; a local anvil with the platform's contracts answers the
role checks. Values are synthetic (smooth wear with noise), sizes and shapes are real.

Each page is rendered by Streamlit's AppTest as a signed-in MANAGER, with Streamlit's data cache
cleared first (a first render: every query runs), ``--repeat`` times; the median is reported.
Prints one JSON line::

    {"benchmark": "dashboard", "machines": 200, "days": 365,
     "pages": {"fleet": s, "machine": s, "alarms": s}, "rows": {...}, ...}

Run: ``.venv/bin/python benchmarks/dashboard.py [--machines 200] [--days 365] [--home DIR]``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import sys
import time
from pathlib import Path

import duckdb
import numpy as np
import polars as pl

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from dt_platform.catalog import MACHINE_TYPES  # noqa: E402
from dt_platform.config import Settings  # noqa: E402
from dt_platform.phm import tables  # noqa: E402
from dt_platform.trust.anvil import throwaway_anvil  # noqa: E402
from dt_platform.trust.chain import deploy, dev_key  # noqa: E402
from dt_platform.twin import db  # noqa: E402
from dt_platform.twin.alarm_store import open_alarm_store  # noqa: E402
from dt_platform.twin.maturity_table import ensure_maturity_table  # noqa: E402
from dt_platform.warehouse import Warehouse, ensure_schema  # noqa: E402

LAYOUT = 2
"""Bump when what :func:`build` writes changes: a cached build of another layout is rebuilt."""
PAGES = {"fleet": "fleet.py", "machine": "machine.py", "alarms": "alarms.py"}
PREFIX = {"smt_placer": "SMT", "reflow_oven": "OVEN", "cnc_spindle": "CNC", "servo_drive": "SERVO"}
EVIDENCE = (
    '{"as_of":"%(day)sT00:00:00.000000Z","format":"dt-twin-maturity/1","level":2,'
    '"level_name":"digital shadow","levels":[{"evidence":{"active":true,"registered":true},'
    '"level":1,"met":true,"missing":[],"name":"digital model"},{"evidence":{"files":2,'
    '"gateways":["%(gw)s"],"readings":7173},"level":2,"met":true,"missing":[],'
    '"name":"digital shadow"},{"evidence":{"acks":0,"applied":0},"level":3,"met":false,'
    '"missing":["a command acknowledged (applied or rejected) by the machine within 7 days"],'
    '"name":"digital twin"},{"evidence":{"decisions":0,"predictions":1},"level":4,"met":false,'
    '"missing":["a decision acted on within 7 days"],"name":"intelligent twin"}],'
    '"machine_id":"%(m)s","machine_type":"%(t)s","next":{"level":3,"missing":["a command '
    'acknowledged (applied or rejected) by the machine within 7 days"],"name":"digital twin"}}'
)


def _machines(n: int) -> pl.DataFrame:
    types = list(MACHINE_TYPES)
    rows = []
    for i in range(n):
        t = types[i % len(types)]
        rows.append(
            {
                "machine_key": i + 1,
                "machine_id": f"{PREFIX.get(t, t.upper())}-{i // len(types) + 1:03d}",
                "machine_type": t,
                "line": f"L{i % 8 + 1}",
                "gateway": f"gw-{i % 10:02d}",
                "installed": dt.date(2024, 1, 1),
                "active": True,
                "attributes": "{}",
            }
        )
    return pl.DataFrame(rows)


def _life(rng: np.random.Generator, n: int) -> np.ndarray:
    return rng.uniform(900.0, 2600.0, n)  # hours of one component life


def build(home: Path, n: int, days: int, first: dt.date, seed: int = 7) -> dict[str, int]:
    """The warehouse and twin store of ``n`` machines over ``days`` days from ``first``."""
    rng = np.random.default_rng(seed)
    home.mkdir(parents=True, exist_ok=True)
    settings = Settings(home=home)
    machines = _machines(n)
    with Warehouse(settings.warehouse_path).write() as con:
        ensure_schema(con)
        con.register("machines_df", machines.to_arrow())
        con.execute("INSERT INTO machines BY NAME SELECT * FROM machines_df")
        for name in ("rul_predictions", "maintenance_alerts", "physics_trajectory"):
            tables.ensure_table(con, name)
        ensure_maturity_table(con)
        _telemetry(con, first, days)
        _prognostics(con, machines, first, days, rng)
        _maturity(con, machines, first, days)
        _maintenance_log(con, machines, first, days, rng)
        con.execute("CHECKPOINT")
        counts = {
            t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
            for t in (
                "telemetry",
                "physics_trajectory",
                "rul_predictions",
                "maintenance_alerts",
                "twin_maturity",
                "maintenance_log",
            )
        }
    counts |= _alarms(settings.twin_db_path, machines, first, days, rng)
    return counts


def _telemetry(con: duckdb.DuckDBPyConnection, first: dt.date, days: int) -> None:
    """Every catalogue sensor of every machine each minute, one day per insert, in the order
    :func:`dt_platform.ingest.telemetry.build_telemetry_day` writes a day (by machine, sensor,
    time); about 1 in 500 readings flagged."""
    for d in range(days):
        day = first + dt.timedelta(days=d)
        con.execute(
            """INSERT INTO telemetry
               SELECT $day, m.machine_id, m.machine_type, s.sensor,
                      $day::TIMESTAMPTZ + to_minutes(t.i) AS ts,
                      s.low + (s.high - s.low) * (0.45 + 0.1 * sin(t.i / 90.0 + m.machine_key)
                          + 0.05 * (hash(t.i, m.machine_key, s.sensor_key, $d) % 1000) / 1000.0),
                      CASE WHEN hash(t.i, s.sensor_key, m.machine_key, $d) % 500 = 0
                           THEN 'spike' ELSE 'ok' END
               FROM range(1440) t(i), machines m JOIN sensors s USING (machine_type)
               ORDER BY m.machine_id, s.sensor, ts""",
            {"day": day, "d": d},
        )


def _prognostics(con, machines: pl.DataFrame, first: dt.date, days: int, rng) -> None:
    """Hourly physics damage, a daily prediction and the alerts of the days at risk, over lives
    that end and restart (a component replaced at each end)."""
    n = machines.height
    life = _life(rng, n)
    age0 = rng.uniform(0.0, 1.0, n) * life
    start = dt.datetime.combine(first, dt.time(), dt.UTC)
    hours = np.arange(days * 24, dtype=float)
    traj, preds, alerts = [], [], []
    for i, (mid, mtype) in enumerate(machines.select("machine_id", "machine_type").iter_rows()):
        age = (age0[i] + hours) % life[i]
        installed = start + pl.Series((hours - age) * 3_600_000_000).cast(pl.Duration("us"))
        damage = (age / life[i]) ** 1.5
        traj.append(
            pl.DataFrame(
                {
                    "machine_id": mid,
                    "machine_type": mtype,
                    "ts": pl.datetime_range(
                        start, start + dt.timedelta(hours=len(hours) - 1), "1h", eager=True
                    ),
                    "component_installed_at": installed,
                    "damage": damage,
                    "damage_rate_per_h": 1.5 * damage / np.maximum(age, 1.0),
                    "rul_physics_h": life[i] - age,
                    "stage": np.where(damage > 0.7, "wear_out", "steady"),
                }
            )
        )
        noon = np.arange(days) * 24 + 12
        rul = np.maximum(life[i] - age[noon], 1.0) * rng.normal(1.0, 0.08, days)
        preds.append(
            pl.DataFrame(
                {
                    "machine_id": mid,
                    "machine_type": mtype,
                    "ts": [start + dt.timedelta(hours=int(h)) for h in noon],
                    "rul_fused_h": rul,
                    "rul_fused_lo_h": rul * 0.6,
                    "rul_fused_hi_h": rul * 1.5,
                    "rul_physics_h": rul * 1.05,
                    "rul_ml_h": rul * 0.95,
                    "basis": "fused",
                    "stage": "steady",
                    "model_version": "bench-v1",
                    "note": "",
                }
            )
        )
        risky = np.flatnonzero(rul < 120.0)
        if risky.size:
            p = np.clip(1.0 - rul[risky] / 150.0, 0.05, 0.99)
            alerts.append(
                pl.DataFrame(
                    {
                        "machine_id": mid,
                        "machine_type": mtype,
                        "ts": [start + dt.timedelta(hours=int(noon[k])) for k in risky],
                        "horizon_h": 72.0,
                        "probability": p,
                        "severity": np.where(p > 0.5, "critical", "warning"),
                        "driver": "fused",
                        "rul_fused_h": rul[risky],
                        "rul_fused_lo_h": rul[risky] * 0.6,
                        "rul_fused_hi_h": rul[risky] * 1.5,
                        "reason": "the fused RUL's lower bound is within the horizon",
                        "model_version": "bench-v1",
                    }
                )
            )
    for name, parts in (
        ("physics_trajectory", traj),
        ("rul_predictions", preds),
        ("maintenance_alerts", alerts),
    ):
        if not parts:
            continue
        frame = pl.concat(parts, how="diagonal_relaxed").with_columns(
            pl.col("ts").dt.date().alias("day")
        )
        con.register("frame", frame.sort("ts", "machine_id").to_arrow())
        con.execute(f"INSERT INTO {name} BY NAME SELECT * FROM frame")
        con.unregister("frame")


def _maturity(con, machines: pl.DataFrame, first: dt.date, days: int) -> None:
    rows = [
        (m, t, EVIDENCE % {"m": m, "t": t, "gw": g, "day": "x"})
        for m, t, g in machines.select("machine_id", "machine_type", "gateway").iter_rows()
    ]
    con.register("ev", pl.DataFrame(rows, schema=["machine_id", "t", "ev"], orient="row"))
    con.execute(
        """INSERT INTO twin_maturity
           SELECT $first + d.i::INTEGER, ev.machine_id, 2, 'digital shadow', ev.ev,
                  sha256(ev.ev)
           FROM range($days) d(i), ev ORDER BY 1, 2""",
        {"first": first, "days": days},
    )
    con.unregister("ev")


def _maintenance_log(con, machines: pl.DataFrame, first: dt.date, days: int, rng) -> None:
    rows, k = [], 0
    start = dt.datetime.combine(first, dt.time(), dt.UTC)
    for mid in machines["machine_id"]:
        for _ in range(int(rng.integers(2, 8))):
            k += 1
            at = start + dt.timedelta(hours=float(rng.uniform(0, days * 24)))
            kind = "corrective" if rng.random() < 0.3 else "preventive"
            rows.append((f"WO-{k:06d}", mid, at, at + dt.timedelta(hours=2), kind, "replace",
                         "component", f"{kind} replacement", "cmms/bench.csv", k))  # fmt: skip
    con.executemany("INSERT INTO maintenance_log VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)


def _alarms(path: Path, machines: pl.DataFrame, first: dt.date, days: int, rng) -> dict:
    """A year of alarms: a few a month per machine, each opened, most cleared or resolved; the
    ones of the last days still open."""
    con = db.connect(path)
    open_alarm_store(con)
    start = dt.datetime.combine(first, dt.time(), dt.UTC)
    end = start + dt.timedelta(days=days)
    alarms, events = [], []
    aid = 0
    for mid in machines["machine_id"]:
        for kind in ("at_risk", "offline", "drift"):
            t = start + dt.timedelta(hours=float(rng.uniform(0, 240)))
            while t < end:
                aid += 1
                sev = "critical" if rng.random() < 0.3 else "warning"
                closed = t + dt.timedelta(hours=float(rng.uniform(1, 72)))
                active = closed >= end
                state = "open" if active else ("resolved" if kind == "at_risk" else "cleared")
                iso = t.isoformat()
                alarms.append((aid, mid, kind, sev, state, iso, iso, iso,
                               json.dumps({"reason": f"{kind} on {mid}"}), None, None, None,
                               None if active else closed.isoformat(),
                               "WO-000001" if state == "resolved" else None))  # fmt: skip
                events.append((f"{aid}:opened", aid, "opened", iso, sev))
                if not active:
                    events.append((f"{aid}:{state}", aid, state, closed.isoformat(), sev))
                t = closed + dt.timedelta(days=float(rng.uniform(10, 40)))
    with db.transaction(con):
        con.execute("DELETE FROM alarm_events")
        con.execute("DELETE FROM alarms")
        con.executemany(
            "INSERT INTO alarms (alarm_id, machine_id, kind, severity, state, since, opened_at, "
            "last_seen_at, detail, acked_by, acked_at, ack_note, closed_at, closed_by) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            alarms,
        )
        con.executemany(
            "INSERT INTO alarm_events (event_key, alarm_id, type, at, severity) "
            "VALUES (?, ?, ?, ?, ?)",
            events,
        )
    active = sum(a[4] == "open" for a in alarms)
    con.close()
    return {"alarms": len(alarms), "alarms_active": active, "alarm_events": len(events)}


def measure(home: Path, chain_port: int, repeat: int) -> dict[str, list[float]]:
    """Seconds of the run that renders each page, cold data cache, ``repeat`` times."""
    os.environ.update({"DT_HOME": str(home), "DT_CHAIN_PORT": str(chain_port),
                       "DT_DASHBOARD_URL": "http://localhost:8501"})  # fmt: skip
    import streamlit as st
    from eth_account import Account
    from streamlit.testing.v1 import AppTest

    from app.auth import SignedIn

    manager = Account.from_key(dev_key("MANAGER")).address
    entry = str(REPO / "app" / "dashboard.py")
    times: dict[str, list[float]] = {p: [] for p in PAGES}
    for _ in range(repeat):
        for page, script in PAGES.items():
            now = dt.datetime.now(dt.UTC)
            at = AppTest.from_file(entry, default_timeout=300)
            at.session_state["dt_signed_in"] = SignedIn(
                manager, 31337, now, now + dt.timedelta(hours=1)
            )
            at.run()
            at.switch_page(f"app_pages/{script}")
            st.cache_data.clear()
            t0 = time.perf_counter()
            at.run()
            times[page].append(time.perf_counter() - t0)
            if at.exception:
                raise RuntimeError(f"{page}: {at.exception[0].message}")
            errors = [e.value for e in at.error]
            if errors:
                raise RuntimeError(f"{page}: {errors}")
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--machines", type=int, default=200)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--home", type=Path, default=Path.home() / ".cache/dt-platform/bench-dash")
    args = parser.parse_args()
    home = args.home / f"m{args.machines}-d{args.days}"
    last = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)
    first = last - dt.timedelta(days=args.days - 1)
    marker = home / "built.json"
    built = json.loads(marker.read_text()) if marker.exists() else None
    build_s = None
    if built is None or (built.get("first"), built.get("layout")) != (first.isoformat(), LAYOUT):
        if home.exists():
            for f in ("warehouse.duckdb", "warehouse.duckdb.wal", "twin.sqlite"):
                (home / f).unlink(missing_ok=True)
        t0 = time.perf_counter()
        rows = build(home, args.machines, args.days, first)
        build_s = round(time.perf_counter() - t0, 1)
        built = {"first": first.isoformat(), "layout": LAYOUT, "rows": rows, "build_s": build_s}
        marker.write_text(json.dumps(built))
    size = sum(p.stat().st_size for p in home.glob("warehouse.duckdb*"))
    with throwaway_anvil(log_path=home / "anvil.log") as node:
        settings = Settings(home=home, chain_port=node.port)
        settings.deployment_path.unlink(missing_ok=True)  # the last run's chain is gone
        deploy(settings)
        times = measure(home, node.port, args.repeat)
    print(
        json.dumps(
            {
                "benchmark": "dashboard",
                "machines": args.machines,
                "days": args.days,
                "pages": {p: round(statistics.median(v), 3) for p, v in times.items()},
                "max": {p: round(max(v), 3) for p, v in times.items()},
                "repeat": args.repeat,
                "measure": "AppTest run of the page, signed-in MANAGER, data cache cleared",
                "rows": built["rows"],
                "warehouse_mb": round(size / 1e6),
                "build_s": built.get("build_s"),
                "cpus": os.cpu_count(),
            }
        )
    )


if __name__ == "__main__":
    main()
