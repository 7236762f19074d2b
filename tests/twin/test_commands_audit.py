"""Command events become records of the day's audit snapshot, through the warehouse."""

from __future__ import annotations

import datetime as dt
import json

import dagster as dg
import duckdb

from assets import commands as command_assets
from assets.resources import platform_resources
from dt_platform.config import Settings
from dt_platform.trust.snapshot import collect_records
from dt_platform.twin import db
from dt_platform.twin.command_acks import record_ack
from dt_platform.twin.command_audit import copy_command_events
from dt_platform.twin.command_flow import issue_draft, submit_signature
from dt_platform.twin.command_store import command_history, open_commands
from dt_platform.warehouse import Warehouse, ensure_schema
from tests.twin.command_fixtures import DOMAIN, REGISTRY, T0, Published, sign, team

DAY = T0.date()


def _day_of_commands(twin) -> str:
    """A command signed, published and applied on DAY, acknowledged once more after midnight."""
    t = team()
    draft = issue_draft(twin, REGISTRY, "CNC-01", "derate", percent=20, domain=DOMAIN, now=T0)
    submit_signature(
        twin, draft.command_id, sign(draft.typed_data, t.maintainer), roles=t.roles,
        publisher=Published(), domain=DOMAIN, now=T0 + dt.timedelta(seconds=5),
    )  # fmt: skip
    record_ack(twin, "CNC-01", draft.command_id, 1, "applied", None, T0 + dt.timedelta(hours=1))
    late = dt.datetime.combine(DAY + dt.timedelta(days=1), dt.time(0, 5), tzinfo=dt.UTC)
    record_ack(twin, "CNC-01", draft.command_id, 1, "applied", None, late)
    return draft.command_id


def _warehouse() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    ensure_schema(con)
    return con


def test_the_days_events_are_records_keyed_by_command_and_seq(tmp_path):
    twin = open_commands(db.connect(tmp_path / "twin.sqlite"))
    command_id = _day_of_commands(twin)
    con = _warehouse()
    assert "command_events" not in collect_records(con, DAY).skipped  # omitted, not "skipped"
    assert copy_command_events(twin, con, DAY) == 5
    assert copy_command_events(twin, con, DAY) == 5  # a re-run replaces the day
    assert copy_command_events(twin, con, DAY + dt.timedelta(days=1)) == 1
    records = collect_records(con, DAY).source("command_events")
    assert records is not None and records.rows == 5
    assert records.key_columns == ("command_id", "seq")
    first = json.loads(records.records[0])
    assert first["command_id"] == command_id and first["event"] == "issued"
    assert first["at"] == "2026-03-01T08:00:00.000000Z" and first["day"] == "2026-03-01"
    signed = [json.loads(r) for r in records.records if b'"signed"' in r]
    assert signed[0]["signature"] == command_history(twin, command_id)[1].signature
    quiet = DAY - dt.timedelta(days=1)
    assert collect_records(con, quiet).source("command_events") is None
    assert "command_events" not in collect_records(con, quiet).skipped


def test_the_asset_copies_the_partition_into_the_warehouse(tmp_path):
    settings = Settings(home=tmp_path)
    twin = open_commands(db.connect(settings.twin_db_path))
    _day_of_commands(twin)
    result = dg.materialize(
        [command_assets.command_events],
        partition_key=DAY.isoformat(),
        resources=platform_resources(settings),
    )
    assert result.success
    (mat,) = result.asset_materializations_for_node("command_events")
    assert mat.metadata["events"].value == 5
    with Warehouse(settings.warehouse_path).read() as con:
        (count,) = con.execute(
            "SELECT count(*) FROM command_events WHERE day = ?", [DAY]
        ).fetchone()
    assert count == 5
