"""The simulated line's gateways: how each one sends readings to ``landing/`` (formats of
docs/dumps.md). Machine i sends through gateway i % 3; the dumps are written by
:mod:`dt_platform.sim.dumps`.

* ``gw-opcua`` — OPC UA exporter: wide CSV, one file per machine type and local day,
  timestamps with the plant's ``+08:00`` offset, canonical units.
* ``gw-mqtt`` — MQTT bridge: JSON Lines, one reading per line, one file per UTC day, ``Z``
  timestamps, temperatures in °F (``delta_tj`` stays in K: a temperature *difference*).
* ``gw-historian`` — historian export: long Parquet, one file per Europe/Berlin day, a
  timezone-aware ``ts`` column in that zone, pressure in bar and voltage in mV.
"""

from __future__ import annotations

from dataclasses import dataclass

from dt_platform.catalog import Sensor


@dataclass(frozen=True)
class Gateway:
    name: str
    fmt: str
    prefix: str
    zone: str
    units: tuple[tuple[str, str], ...] = ()
    """(quantity, unit) pairs where the gateway does not send the canonical unit."""

    def unit_for(self, sensor: Sensor) -> str:
        return dict(self.units).get(sensor.quantity, sensor.unit)


GATEWAYS: tuple[Gateway, ...] = (
    Gateway("gw-opcua", "csv", "opcua", "Asia/Shanghai"),
    Gateway("gw-mqtt", "jsonl", "mqtt", "UTC", (("temperature", "degF"),)),
    Gateway(
        "gw-historian",
        "parquet",
        "historian",
        "Europe/Berlin",
        (("pressure", "bar"), ("voltage", "mV")),
    ),
)
