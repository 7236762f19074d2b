"""The ``alarms`` asset over a tiny hand-made warehouse (two days of maintenance alerts and one
repair), and the notifications sensor over a hand-made twin store and a local receiver."""

import datetime as dt
import json
import threading
from contextlib import closing
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import dagster as dg
import polars as pl
import pytest

from assets import alarms as alarm_assets
from assets.resources import platform_resources
from dt_platform.config import Settings
from dt_platform.phm import tables
from dt_platform.twin import db
from dt_platform.twin.alarms import alarm_history, alarms, open_alarms
from dt_platform.twin.state import open_state, record_reported, set_desired
from dt_platform.twin.webhooks import outbox, verify_webhook
from dt_platform.warehouse import Warehouse

DAY1 = dt.date(2026, 2, 10)
DAY2 = DAY1 + dt.timedelta(days=1)
SECRET = "dagster-test-secret"


def _end(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)


def _alerts(day: dt.date, rows: list[tuple[str, float, str]]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "machine_id": [m for m, _, _ in rows],
            "ts": [_end(day)] * len(rows),
            "probability": [p for _, p, _ in rows],
            "severity": [s for _, _, s in rows],
            "horizon_h": [72.0] * len(rows),
            "reason": ["P(failure within 72 h) high"] * len(rows),
        }
    )


@pytest.fixture
def home(tmp_path: Path) -> Path:
    with Warehouse(tmp_path / "warehouse.duckdb").write() as con:
        tables.replace_day(
            con,
            "maintenance_alerts",
            DAY1,
            _alerts(DAY1, [("CNC-01", 0.6, "warning"), ("OVEN-01", 0.95, "critical")]),
        )
        tables.replace_day(
            con, "maintenance_alerts", DAY2, _alerts(DAY2, [("CNC-01", 0.93, "critical")])
        )
        con.execute(
            "INSERT INTO maintenance_log VALUES ('WO-7', 'OVEN-01', ?, ?, 'preventive', "
            "'replace', 'heater', 'heater swapped', 'cmms/x.csv', 2)",
            [_end(DAY1) + dt.timedelta(hours=8), _end(DAY1) + dt.timedelta(hours=11)],
        )
    return tmp_path


def _resources(settings: Settings) -> dict:
    return platform_resources(settings)


def _run(settings: Settings, day: dt.date) -> dict:
    result = dg.materialize(
        [alarm_assets.alarms], partition_key=day.isoformat(), resources=_resources(settings)
    )
    assert result.success
    (event,) = result.get_asset_materialization_events()
    return {k: v.value for k, v in event.materialization.metadata.items()}


def test_the_alarms_asset_follows_the_days(home: Path) -> None:
    settings = Settings(home=home, webhook_urls="http://127.0.0.1:9/hook")
    first = _run(settings, DAY1)
    assert (first["open_critical"], first["open_warning"], first["opened"]) == (1, 1, 2)
    assert first["notifications_queued"] == 2
    second = _run(settings, DAY2)
    assert (second["escalated"], second["resolved"], second["cleared"]) == (1, 1, 0)
    assert (second["open_critical"], second["open_warning"]) == (1, 0)
    again = _run(settings, DAY2)  # the same day again: nothing new
    assert again["opened"] == again["escalated"] == again["notifications_queued"] == 0
    stale = _run(settings, DAY1)  # an older day re-run moves nothing backwards
    assert stale["stale"] is True and stale["opened"] == 0 and stale["open_critical"] == 1
    with closing(db.connect(settings.twin_db_path)) as con:
        (cnc,) = open_alarms(con)
        assert (cnc.machine_id, cnc.severity, cnc.since) == ("CNC-01", "critical", _end(DAY1))
        (oven,) = alarms(con, state="resolved")
        assert oven.machine_id == "OVEN-01" and oven.closed_by == "WO-7"
        assert [e.type for e in alarm_history(con, cnc.alarm_id)] == ["opened", "escalated"]
        assert len(outbox(con)) == 4  # opened ×2, escalated, resolved; one URL


class _Ok(BaseHTTPRequestHandler):
    received: ClassVar[list] = []

    def log_message(self, *args):
        pass

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        _Ok.received.append((body, self.headers["X-DT-Signature"]))
        self.send_response(204)
        self.end_headers()


def test_the_sensor_raises_twin_alarms_and_delivers(tmp_path: Path) -> None:
    with ThreadingHTTPServer(("127.0.0.1", 0), _Ok) as server:
        threading.Thread(target=server.serve_forever, daemon=True).start()
        url = f"http://127.0.0.1:{server.server_port}/hook"
        settings = Settings(home=tmp_path, webhook_urls=url, webhook_secret=SECRET)
        with closing(open_state(db.connect(settings.twin_db_path))) as con:
            record_reported(con, "CNC-01", "gw-1", settings={"derate_pct": 0.0}, online=True)
            record_reported(con, "OVEN-01", "gw-1", online=False)
            with db.transaction(con):
                set_desired(con, "CNC-01", {"derate_pct": 20.0}, "cmd-1")
            long_ago = (dt.datetime.now(dt.UTC) - dt.timedelta(hours=2)).isoformat()
            con.execute("UPDATE desired_state SET updated_at = ?", (long_ago,))
        resources = platform_resources(settings)
        with dg.build_sensor_context(resources=resources) as context:
            skip = alarm_assets.alarm_notifications_sensor(context)
        server.shutdown()
    assert isinstance(skip, dg.SkipReason) and "2 delivered" in skip.skip_message
    with closing(db.connect(settings.twin_db_path)) as con:
        found = {(a.machine_id, a.kind, a.severity) for a in open_alarms(con)}
        assert all(item.status == "delivered" for item in outbox(con))
    assert found == {("CNC-01", "drift", "critical"), ("OVEN-01", "offline", "warning")}
    assert len(_Ok.received) == 2
    for body, signature in _Ok.received:
        assert verify_webhook(body, signature, SECRET)
        assert json.loads(body)["type"] == "alarm.opened"
