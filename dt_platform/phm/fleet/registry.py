"""The model registry in the warehouse (which damage-law fit and RUL model are current, as of
when) and the policy that decides when to refit them."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from typing import Any

import duckdb

from dt_platform.jsonable import plain
from dt_platform.phm.episodes import HOUR_S
from dt_platform.phm.physics import LAWS
from dt_platform.warehouse import table_names

REGISTRY_DDL = """CREATE TABLE IF NOT EXISTS model_registry (
    kind VARCHAR NOT NULL,
    version VARCHAR NOT NULL,
    trained_at TIMESTAMPTZ NOT NULL,
    trained_until TIMESTAMPTZ NOT NULL,
    payload VARCHAR,
    path VARCHAR,
    sha256 VARCHAR,
    physics_version VARCHAR,
    failures_known INTEGER,
    metrics JSON,
    PRIMARY KEY (kind, version)
)"""
"""``kind`` is ``physics`` (payload: the FleetPhysics JSON) or ``rul`` (path: the bundle under
``DT_HOME/models``, sha256 of its bytes = version)."""


@dataclass(frozen=True)
class RegistryEntry:
    kind: str
    version: str
    trained_at: dt.datetime
    trained_until: dt.datetime
    payload: str | None = None
    path: str | None = None
    sha256: str | None = None
    physics_version: str | None = None
    failures_known: int | None = None
    metrics: dict[str, Any] = field(default_factory=dict)


def ensure_registry(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(REGISTRY_DDL)


def register_model(con: duckdb.DuckDBPyConnection, entry: RegistryEntry) -> None:
    """Insert (or refresh, for an identical retrain) one registry row."""
    ensure_registry(con)
    con.execute(
        "INSERT OR REPLACE INTO model_registry VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            entry.kind,
            entry.version,
            entry.trained_at,
            entry.trained_until,
            entry.payload,
            entry.path,
            entry.sha256,
            entry.physics_version,
            entry.failures_known,
            json.dumps(plain(entry.metrics), sort_keys=True),
        ],
    )


def latest_model(
    con: duckdb.DuckDBPyConnection, kind: str, *, as_of: dt.datetime | None = None
) -> RegistryEntry | None:
    """The registry row of a kind trained on the most recent data, the newest fit among equals
    (None if none, or no registry yet).

    With ``as_of``, only models trained on data up to that time count: the model the platform
    had at ``as_of``. A day re-materialized later (late files, a backfill) is then predicted with
    a model that never saw that day's future, not with one trained on the failures that followed.
    """
    tables = table_names(con)
    if "model_registry" not in tables:
        return None
    row = con.execute(
        "SELECT kind, version, trained_at, trained_until, payload, path, sha256, physics_version, "
        "failures_known, metrics FROM model_registry WHERE kind = ? "
        "AND (CAST(? AS TIMESTAMPTZ) IS NULL OR trained_until <= ?) "
        "ORDER BY trained_until DESC, trained_at DESC, version LIMIT 1",
        [kind, as_of, as_of],
    ).fetchone()
    if row is None:
        return None
    metrics = json.loads(row[9]) if row[9] else {}
    return RegistryEntry(
        row[0],
        row[1],
        row[2].astimezone(dt.UTC),
        row[3].astimezone(dt.UTC),
        row[4],
        row[5],
        row[6],
        row[7],
        row[8],
        metrics,
    )


def data_until(
    con: duckdb.DuckDBPyConnection, before: dt.datetime | None = None
) -> dt.datetime | None:
    """End of the last hour with telemetry of a simulated (damage-law) type (only readings before
    ``before`` if given), or None."""
    row = con.execute(
        "SELECT max(ts) FROM telemetry WHERE machine_type IN (SELECT unnest(?)) "
        "AND (CAST(? AS TIMESTAMPTZ) IS NULL OR ts < ?)",
        [list(LAWS), before, before],
    ).fetchone()
    if row is None or row[0] is None:
        return None
    last = row[0].astimezone(dt.UTC)
    return last.replace(minute=0, second=0, microsecond=0) + dt.timedelta(hours=1)


def failures_known(con: duckdb.DuckDBPyConnection, until: dt.datetime) -> int:
    """Corrective work orders on the degrading components started before ``until``."""
    components = sorted({law.component for law in LAWS.values()})
    return int(
        con.execute(
            "SELECT count(*) FROM maintenance_log WHERE kind = 'corrective' "
            "AND component IN (SELECT unnest(?)) AND started_at < ?",
            [components, until],
        ).fetchone()[0]
    )


@dataclass(frozen=True)
class RetrainPolicy:
    """When a model is refitted, so that a daily run costs a prediction, not a training.

    A model is refitted when there is none, when the maintenance log holds new failures (new
    run-to-failure information) and the model is at least ``min_interval_h`` old, or when the
    data have moved ``max_age_h`` past the model (survivors carry information too).
    """

    min_interval_h: float = 168.0
    max_age_h: float = 336.0


def retrain_reason(
    latest: RegistryEntry | None,
    *,
    until: dt.datetime,
    failures: int,
    policy: RetrainPolicy = RetrainPolicy(),
    force: bool = False,
) -> str | None:
    """Why the model should be refitted now, or None to keep ``latest``."""
    if force:
        return "forced by run config"
    if latest is None:
        return "no model registered yet"
    age_h = (until - latest.trained_until).total_seconds() / HOUR_S
    if age_h < 0:
        return (
            f"the data end ({until:%Y-%m-%d %H:%M}) is before the model's "
            f"({latest.trained_until:%Y-%m-%d %H:%M}): the history was rebuilt"
        )
    new = failures - (latest.failures_known or 0)
    if new > 0 and age_h >= policy.min_interval_h:
        return f"{new} new failure(s) in the maintenance log since the last fit"
    if age_h >= policy.max_age_h:
        return f"the model is {age_h:.0f} h behind the data (max {policy.max_age_h:.0f} h)"
    return None
