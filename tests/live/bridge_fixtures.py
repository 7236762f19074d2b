"""A warehouse and registry beside a bridge's home, and the loader run on what the bridge landed."""

from __future__ import annotations

import dataclasses
import datetime as dt
import time
from collections.abc import Callable
from pathlib import Path

from dt_platform.config import Settings
from dt_platform.ingest.loader import IngestLimits, ingest_landing
from dt_platform.ingest.registry import load_registry, sync_registry
from dt_platform.live.broker import PLATFORM_USER, read_credentials
from dt_platform.warehouse import Warehouse

REGISTRY = """
machines:
  - {machine_id: CNC-01, type: cnc_spindle, gateway: gw-a}
  - {machine_id: CNC-02, type: cnc_spindle, gateway: gw-a}
  - {machine_id: CNC-03, type: cnc_spindle, gateway: gw-b}
  - {machine_id: CNC-04, type: cnc_spindle}
"""
LIMITS = IngestLimits(earliest=dt.datetime(2020, 1, 1, tzinfo=dt.UTC))


def with_registry(home: Path) -> Path:
    home.mkdir(parents=True, exist_ok=True)
    (home / "machines.yaml").write_text(REGISTRY)
    return home


def bridge_home(broker: Settings, home: Path) -> Settings:
    """Settings of a bridge with its own home, on the broker of ``broker`` (as a remote one)."""
    return dataclasses.replace(
        broker,
        home=with_registry(home),
        mqtt_url=broker.local_mqtt_url,
        mqtt_user=PLATFORM_USER,
        mqtt_password=read_credentials(broker)[PLATFORM_USER],
    )


class Warehoused:
    """The warehouse of a bridge's home, with the registry synced; ``ingest()`` loads landing."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.warehouse = Warehouse(settings.warehouse_path)
        with self.warehouse.write() as con:
            sync_registry(con, load_registry(settings.machine_registry_path))

    def ingest(self):
        with self.warehouse.write() as con:
            return ingest_landing(
                con, self.settings.landing_dir, now=dt.datetime.now(dt.UTC), limits=LIMITS
            )

    def query(self, sql: str, params=None) -> list[tuple]:
        with self.warehouse.read() as con:
            return con.execute(sql, params or []).fetchall()

    def reasons(self) -> dict[str, int]:
        return dict(self.query("SELECT reason, count(*) FROM telemetry_rejects GROUP BY reason"))

    def assert_balanced(self) -> None:
        for file_id, rows_in, loaded, rejected, stored_loaded, stored_rejected in self.query(
            """SELECT f.file_id, f.rows_in, f.rows_loaded, f.rows_rejected,
                      (SELECT count(*) FROM readings r WHERE r.file_id = f.file_id),
                      (SELECT count(*) FROM telemetry_rejects j WHERE j.file_id = f.file_id)
               FROM file_ledger f"""
        ):
            assert rows_in == loaded + rejected, file_id
            assert (loaded, rejected) == (stored_loaded, stored_rejected), file_id


def eventually(check: Callable[[], object], timeout: float = 20.0, every: float = 0.05):
    """``check()``'s first truthy result, polled until ``timeout`` (then the assertion fails)."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result or time.monotonic() > deadline:
            assert result, f"not within {timeout} s: {check}"
            return result
        time.sleep(every)
