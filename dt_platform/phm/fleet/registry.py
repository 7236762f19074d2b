"""The model registry in the warehouse (which damage-law fit and RUL model are current, as of
when) and the policy that decides when to refit them."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from dt_platform.jsonable import plain
from dt_platform.phm.episodes import HOUR_S
from dt_platform.phm.fitting import FleetPhysics
from dt_platform.phm.fleet.store import StoredBundle, bundle_path
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


def physics_entry(
    fitted: FleetPhysics, *, until: dt.datetime, failures: int, failed_lives_with_data: int
) -> RegistryEntry:
    """The registry row of a fresh damage-law fit on the history up to ``until`` (``failures``:
    corrective work orders known then, see :func:`failures_known`)."""
    payload = fitted.to_json()
    return RegistryEntry(
        kind="physics",
        version=fitted.version,
        trained_at=dt.datetime.now(dt.UTC),
        trained_until=until,
        payload=payload,
        sha256=hashlib.sha256(payload.encode()).hexdigest(),
        failures_known=failures,
        metrics={
            "failed_lives_with_data": failed_lives_with_data,
            "types": {
                t: {"usable": f.usable, "failures": f.n_failures, "censored": f.n_censored}
                for t, f in fitted.types.items()
            },
        },
    )


def rul_entry(
    stored: StoredBundle, physics: RegistryEntry, metrics: dict[str, Any]
) -> RegistryEntry:
    """The registry row of a RUL model trained on the data of the damage-law fit ``physics``
    and written to the store as ``stored``."""
    return RegistryEntry(
        kind="rul",
        version=stored.version,
        trained_at=dt.datetime.now(dt.UTC),
        trained_until=physics.trained_until,
        path=stored.name,
        sha256=stored.version,
        physics_version=physics.version,
        failures_known=int(physics.failures_known or 0),
        metrics=metrics,
    )


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


def latest_physics(
    con: duckdb.DuckDBPyConnection, as_of: dt.datetime | None = None
) -> tuple[RegistryEntry, FleetPhysics] | None:
    """The latest damage-law fit (see :func:`latest_model`) with its parameters, or None."""
    entry = latest_model(con, "physics", as_of=as_of)
    if entry is None or not entry.payload:
        return None
    return entry, FleetPhysics.from_json(entry.payload)


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


def rul_retrain_reason(
    latest: RegistryEntry | None, *, physics_version: str, models: Path, force: bool = False
) -> str | None:
    """Why the RUL model should be refitted now, or None to keep ``latest``.

    The RUL model is trained on the data the damage laws were fitted on and carries their
    version, so it is refitted when they are (their refits follow :func:`retrain_reason`), when
    forced, or when its registered bundle is gone from ``models`` (the folder of the bundles).
    """
    if force:
        return "forced by run config"
    if latest is None:
        return "no model registered yet"
    if latest.physics_version != physics_version:
        return f"the damage laws were refitted ({physics_version})"
    if not bundle_path(models, latest.path).is_file():
        return "the registered bundle is missing on disk"
    return None
