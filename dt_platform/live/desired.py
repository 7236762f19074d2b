"""What a machine makes of a desired-state document (``DCMD``): parse it, then accept or reject it.

The document is the platform's (topics.py): ``desired`` settings, ``version``, ``command_id``,
``expires_at``. A machine acts on a version newer than the last one it handled; it answers
``delivered``, then ``applied`` or ``rejected`` with one of :data:`REASONS`.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

from dt_platform.live import topics

REASONS = ("out_of_range", "interlock", "busy", "expired")
MAX_DERATE_PCT = 90.0
MAX_TEXT = 64


class DesiredError(ValueError):
    """A DCMD payload that is not a desired-state document at all (nothing to acknowledge)."""


@dataclass(frozen=True)
class Desired:
    """One version of a machine's desired state, as received (settings not yet validated)."""

    version: int
    command_id: str
    derate_pct: Any
    maintenance: Any
    inspection: Any
    expires_at: float | None
    """Unix seconds (wall clock, the platform's), or None: never expires."""


def parse_desired(payload: bytes) -> Desired:
    """The document of a DCMD payload; :class:`DesiredError` if it has no usable version/id."""
    if len(payload) > topics.MAX_PAYLOAD_BYTES:
        raise DesiredError(f"payload of {len(payload)} bytes exceeds {topics.MAX_PAYLOAD_BYTES}")
    try:
        body = json.loads(payload)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DesiredError(f"not JSON: {exc}") from exc
    if not isinstance(body, dict):
        raise DesiredError("not a JSON object")
    version, command_id = body.get("version"), body.get("command_id")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise DesiredError(f"version must be a positive integer, got {version!r}")
    if not isinstance(command_id, str) or not 0 < len(command_id) <= 128:
        raise DesiredError("command_id must be a non-empty string of at most 128 characters")
    desired = body.get("desired")
    if not isinstance(desired, dict):
        raise DesiredError("'desired' must be an object of settings")
    expires = body.get("expires_at")
    if expires is not None and (isinstance(expires, bool) or not isinstance(expires, int | float)):
        raise DesiredError(f"expires_at must be unix seconds, got {expires!r}")
    return Desired(
        version,
        command_id,
        desired.get("derate_pct", 0.0),
        desired.get("maintenance", False),
        desired.get("inspection", ""),
        None if expires is None else float(expires),
    )


@dataclass(frozen=True)
class Verdict:
    """``reason`` None: apply. Otherwise reject with the reason and a detail for people."""

    reason: str | None = None
    detail: str | None = None


def check_values(doc: Desired, now_s: float) -> Verdict:
    """Reasons that do not depend on the machine's state: expired, out of range."""
    if doc.expires_at is not None and doc.expires_at < now_s:
        return Verdict("expired", f"expired at {doc.expires_at:.0f}, received at {now_s:.0f}")
    d = doc.derate_pct
    if isinstance(d, bool) or not isinstance(d, int | float) or not math.isfinite(d):
        return Verdict("out_of_range", f"derate_pct must be a number, got {d!r}")
    if not 0.0 <= d <= MAX_DERATE_PCT:
        return Verdict("out_of_range", f"derate_pct {d} outside 0-{MAX_DERATE_PCT:g}")
    if not isinstance(doc.maintenance, bool):
        return Verdict(
            "out_of_range", f"maintenance must be true or false, got {doc.maintenance!r}"
        )
    if not isinstance(doc.inspection, str) or len(doc.inspection) > MAX_TEXT:
        return Verdict("out_of_range", f"inspection must be an id of at most {MAX_TEXT} characters")
    return Verdict()
