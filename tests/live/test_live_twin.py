"""The two-way twin end to end, every part real: Mosquitto with its ACLs, the live line's
gateways, the bridge, the signed command flow and the loader.

A MAINTAINER's signed derate reaches the machine as its retained desired state, the machine
applies it, its acknowledgement comes back through the bridge and moves the command to
``applied``; a machine that is offline gets its delta when it comes back; the readings of the
stream land in the warehouse with ``rows_in = loaded + rejected`` and nothing rejected.
"""

from __future__ import annotations

import datetime as dt
import time

import pytest

from dt_platform.ingest.loader import IngestLimits, ingest_landing
from dt_platform.ingest.registry import load_registry, sync_registry
from dt_platform.live.bridge import Bridge
from dt_platform.live.line import LiveLine
from dt_platform.live.mqtt import MqttDesiredPublisher
from dt_platform.sim import SimConfig
from dt_platform.sim.gateways import GATEWAYS
from dt_platform.sim.registry import build_machines, write_registry
from dt_platform.twin import db
from dt_platform.twin.command_flow import issue_draft, submit_signature
from dt_platform.twin.command_store import get_status, open_commands
from dt_platform.twin.state import twin_state
from dt_platform.warehouse import Warehouse
from tests.live.broker_fixtures import platform_client, running_broker
from tests.live.test_line import past_wednesday
from tests.twin.command_fixtures import DOMAIN, sign, team

MACHINES, SEED = 4, 11


def _until(predicate, timeout: float = 30.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def live(tmp_path):
    start = past_wednesday()
    specs = build_machines(SimConfig(machines=MACHINES, seed=SEED, days=1, start=start.date()))
    home = tmp_path / "home"
    home.mkdir()
    write_registry(specs, home / "machines.yaml")
    with running_broker(home, [g.name for g in GATEWAYS]) as settings:
        bridge = Bridge(settings, flush_s=0.1, batch_s=5.0)
        bridge.start()
        line = LiveLine(
            settings,
            machines=MACHINES,
            seed=SEED,
            speed=600.0,
            start=start,
            busy_prob=0.0,
            tick_s=0.05,
            truth_dir=home / "no_history",
        ).start()
        client = platform_client(settings, "platform-commands")
        con = open_commands(db.connect(settings.twin_db_path))
        try:
            yield settings, line, bridge, con, MqttDesiredPublisher(client, settings.mqtt_group)
        finally:
            line.stop()
            bridge.stop()
            client.loop_stop()
            client.disconnect()
            con.close()


def _command(settings, con, publisher, people, machine, action, percent=None):
    registry = load_registry(settings.machine_registry_path)
    now = dt.datetime.now(dt.UTC)
    draft = issue_draft(
        con, registry, machine, action, domain=DOMAIN, now=now, percent=percent, ttl_s=600
    )
    return submit_signature(
        con,
        draft.command_id,
        sign(draft.typed_data, people.maintainer),
        roles=people.roles,
        publisher=publisher,
        domain=DOMAIN,
        now=now,
    )


def test_a_signed_derate_is_applied_and_an_offline_machine_gets_its_delta(live):
    settings, line, bridge, con, publisher = live
    people = team()
    _until(lambda: (s := twin_state(con, "CNC-01").reported) and s.online, what="CNC-01 online")

    status = _command(settings, con, publisher, people, "CNC-01", "derate", percent=20)
    assert status.state == "pending" and status.published
    _until(lambda: get_status(con, status.command_id).state == "applied", what="derate applied")
    state = twin_state(con, "CNC-01")
    assert state.reported.settings["derate_pct"] == 20.0 and state.delta == {}

    # Offline: the command waits as the retained desired state and is applied on reconnect.
    line.take_offline("SERVO-01", 3 * 3600)  # three sim hours: 18 wall seconds at 600x
    _until(lambda: not twin_state(con, "SERVO-01").reported.online, what="SERVO-01 offline")
    offline = _command(settings, con, publisher, people, "SERVO-01", "derate", percent=10)
    time.sleep(1.0)
    assert get_status(con, offline.command_id).state == "pending"
    assert twin_state(con, "SERVO-01").delta == {"derate_pct": 10.0}
    _until(
        lambda: get_status(con, offline.command_id).state == "applied",
        timeout=60,
        what="the offline machine's delta applied on reconnect",
    )
    assert twin_state(con, "SERVO-01").reported.online

    # What streamed in lands in the warehouse, balanced, nothing rejected.
    bridge.rotate()
    assert bridge.landed
    warehouse = Warehouse(settings.warehouse_path)
    with warehouse.write() as wcon:
        sync_registry(wcon, load_registry(settings.machine_registry_path))
        summary = ingest_landing(
            wcon,
            settings.landing_dir,
            limits=IngestLimits(earliest=dt.datetime(2020, 1, 1, tzinfo=dt.UTC)),
        )
    assert summary.rows_in == summary.rows_loaded + summary.rows_rejected
    assert summary.rows_loaded > 0 and summary.rows_rejected == 0
