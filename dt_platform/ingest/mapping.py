"""How a gateway's (machine type, sensor tag, declared unit) maps onto a canonical sensor.

Pure logic over the catalogue: the loader resolves each distinct combination once per file and
lets DuckDB apply the result to millions of readings.
"""

from __future__ import annotations

from dataclasses import dataclass

from dt_platform.catalog import MACHINE_TYPES, QUANTITIES, canonical_unit_name

# Reason codes written to telemetry_rejects.reason (and file_ledger.reason for whole files).
REASONS: dict[str, str] = {
    "malformed_line": "the line cannot be parsed (broken quoting, invalid JSON, a key twice in "
    "one JSON object, not UTF-8, longer than DuckDB's 2 MiB line limit)",
    "wrong_column_count": "the CSV line has a different number of fields than the header",
    "missing_field": "a required field (ts, machine, sensor, value) is absent",
    "unknown_machine": "the machine id is not in the machine registry (machines.yaml)",
    "wrong_gateway": "the line names a gateway (the MQTT bridge: the topic's edge node) that the "
    "registry does not assign the machine to",
    "unknown_sensor": "the machine's type has no sensor with this tag (see dt_platform/catalog.py)",
    "unknown_unit": "the declared unit is not one the platform knows for any quantity",
    "unit_mismatch": "the declared unit measures a different quantity than the sensor",
    "missing_timezone": "the timestamp has no UTC offset; local time is ambiguous",
    "unparseable_timestamp": "the timestamp is not ISO 8601",
    "invalid_utc_offset": "the UTC offset is beyond ±14:00, or its minutes beyond 59",
    "future_timestamp": "the timestamp is later than the ingestion time plus DT_FUTURE_HOURS "
    "(default a day)",
    "early_timestamp": "the timestamp is before the accepted window: more than DT_BACKFILL_DAYS "
    "before DT_PARTITIONS_START, or before 1970 (the only bound for cycle-stamped data)",
    "non_numeric_value": "the value is not a number in ASCII decimal notation",
    "non_finite_value": "the value is NaN or infinite",
    "out_of_range": "the value is physically implausible for the sensor (outside the "
    "catalogue's low/high)",
    "duplicate_reading": "the same reading (machine, sensor, time, value) was already loaded",
    "conflicting_reading": "a different value for the same machine, sensor and time was already loaded",
    "empty_file": "the file has no bytes",
    "not_a_dump": "the file is not a sensor dump in a known format (see docs/dumps.md)",
    "unreadable_file": "the file cannot be read (truncated or corrupt, or denied to the platform)",
    "not_a_regular_file": "a symbolic link (to a file or a folder, in landing or out), FIFO, "
    "socket or device: only regular files are read",
    "vanished_file": "the file disappeared (deleted or renamed) between discovery and read",
    "file_too_large": "the file is larger than DT_MAX_DUMP_MB",
    "loader_error": "the loader failed on this file (a bug; the error is in the detail); retried "
    "when the file's content changes",
}


@dataclass(frozen=True)
class SensorMapping:
    """The canonical sensor for a gateway column, or why there is none."""

    sensor_key: int | None
    scale: float = 1.0
    offset: float = 0.0
    low: float = float("-inf")
    high: float = float("inf")
    problem: str | None = None
    detail: str | None = None


def resolve_sensor(
    machine_type: str, tag: str | None, unit: str | None, sensor_keys: dict[tuple[str, str], int]
) -> SensorMapping:
    """Resolve one (type, tag, unit); ``sensor_keys`` maps (machine_type, tag) to warehouse keys."""
    mtype = MACHINE_TYPES.get(machine_type)
    sensor = mtype.sensor_by_tag(tag) if (mtype and tag) else None
    if sensor is None:
        return SensorMapping(
            None, problem="unknown_sensor", detail=f"{machine_type} has no sensor {tag!r}"
        )
    if unit is None or not unit.strip():
        return SensorMapping(None, problem="unknown_unit", detail=f"no unit declared for {tag}")
    unit_name = canonical_unit_name(unit)
    quantity = QUANTITIES[sensor.quantity]
    if unit_name not in quantity.conversions:
        known_elsewhere = any(unit_name in q.conversions for q in QUANTITIES.values())
        if known_elsewhere:
            return SensorMapping(
                None,
                problem="unit_mismatch",
                detail=f"{tag} measures {quantity.name}; {unit!r} does not "
                f"(expected one of {', '.join(quantity.conversions)})",
            )
        return SensorMapping(None, problem="unknown_unit", detail=f"unit {unit!r} is unknown")
    scale, offset = quantity.conversions[unit_name]
    return SensorMapping(
        sensor_keys[(machine_type, sensor.tag)], scale, offset, sensor.low, sensor.high
    )
