"""Epoch hours (UTC): the time axis every stress history and component life is cut on."""

from __future__ import annotations

import datetime as dt

HOUR_S = 3600


def _utc(value: dt.datetime) -> dt.datetime:
    if value.tzinfo is None:
        raise ValueError(f"{value!r} has no timezone; pass an aware datetime (UTC)")
    return value.astimezone(dt.UTC)


def _floor_hour(value: dt.datetime) -> dt.datetime:
    value = _utc(value)
    return value.replace(minute=0, second=0, microsecond=0)


def _epoch_hour(value: dt.datetime) -> int:
    return int(_utc(value).timestamp() // HOUR_S)


def hour_to_datetime(hour: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(hour * HOUR_S, dt.UTC)
