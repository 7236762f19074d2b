"""The twin's own metrics in a live-line payload: ``twin/reported`` and ``twin/ack``, checked.

A machine says what state it is in (``twin/reported``) and what became of a command
(``twin/ack``); both are small documents of a known shape (see ``topics``). Anything else is
refused with the reason, never half-applied.
"""

from __future__ import annotations

import math
from typing import Any

from dt_platform.twin.state import SETTINGS

MODES = ("production", "idle", "off", "maintenance", "down")
ACK_STATUSES = ("delivered", "applied", "rejected")
MAX_ID_CHARS = 128
MAX_TEXT_CHARS = 1000
FINDING_KEY = "inspection_finding"
"""Kept in the reported settings beside the applied ones: the result of the last inspection."""


class TwinMetricError(ValueError):
    """A twin metric that does not have the documented shape; the message says what is wrong."""


def reported_update(value: Any) -> dict[str, Any]:
    """The keyword arguments of :func:`dt_platform.twin.state.record_reported` a ``twin/reported``
    value carries (``mode``, ``settings``, ``applied_version``)."""
    if not isinstance(value, dict):
        raise TwinMetricError("twin/reported is not an object")
    update: dict[str, Any] = {}
    mode = value.get("mode")
    if mode is not None:
        if mode not in MODES:
            raise TwinMetricError(f"mode {_show(mode)} is not one of {', '.join(MODES)}")
        update["mode"] = mode
    settings = value.get("settings")
    if settings is not None:
        update["settings"] = _settings(settings)
    version = value.get("applied_version")
    if version is not None:
        if not _is_int(version) or version < 0:
            raise TwinMetricError(f"applied_version {_show(version)} is not a whole number >= 0")
        update["applied_version"] = version
    finding = value.get(FINDING_KEY)
    if finding is not None:
        update.setdefault("settings", {})[FINDING_KEY] = _text(FINDING_KEY, finding)
    return update


def _settings(settings: Any) -> dict[str, Any]:
    if not isinstance(settings, dict):
        raise TwinMetricError("settings is not an object")
    unknown = sorted(set(settings) - set(SETTINGS))
    if unknown:
        raise TwinMetricError(f"unknown setting(s) {', '.join(map(_show, unknown))}")
    checked: dict[str, Any] = {}
    for key, item in settings.items():
        neutral = SETTINGS[key]
        if isinstance(neutral, bool):
            ok = isinstance(item, bool)
        elif isinstance(neutral, float):
            ok = _is_number(item)
        else:
            ok = isinstance(item, str) and len(item) <= MAX_ID_CHARS
        if not ok:
            raise TwinMetricError(f"setting {key} = {_show(item)} has the wrong type")
        checked[key] = float(item) if isinstance(neutral, float) else item
    return checked


def ack_document(value: Any) -> dict[str, Any]:
    """A ``twin/ack`` value as ``{command_id, version, status, reason, detail}``."""
    if not isinstance(value, dict):
        raise TwinMetricError("twin/ack is not an object")
    command_id = value.get("command_id")
    if not isinstance(command_id, str) or not 0 < len(command_id) <= MAX_ID_CHARS:
        raise TwinMetricError(f"command_id {_show(command_id)} is not an id")
    version = value.get("version")
    if not _is_int(version):
        raise TwinMetricError(f"version {_show(version)} is not a whole number")
    status = value.get("status")
    if status not in ACK_STATUSES:
        raise TwinMetricError(f"status {_show(status)} is not one of {', '.join(ACK_STATUSES)}")
    reason, detail = value.get("reason"), value.get("detail")
    return {
        "command_id": command_id,
        "version": version,
        "status": status,
        "reason": None if reason is None else _text("reason", reason, MAX_ID_CHARS),
        "detail": None if detail is None else _text("detail", detail),
    }


def _text(name: str, value: Any, limit: int = MAX_TEXT_CHARS) -> str:
    if not isinstance(value, str) or len(value) > limit:
        raise TwinMetricError(f"{name} is not a text of at most {limit} characters")
    return value


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return _is_int(value) or (isinstance(value, float) and math.isfinite(value))


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
