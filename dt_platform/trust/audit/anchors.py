"""How a day is named on chain and how its anchor is read back."""

from __future__ import annotations

import datetime as dt

from dt_platform.trust.audit.errors import NotAnchored
from dt_platform.trust.chain import Anchor, AuditChain


def anchor_key(day: dt.date) -> str:
    """The on-chain partition key of ``day``: its ISO date (``2026-11-20``)."""
    return day.isoformat()


def to_hex(value: bytes) -> str:
    """``0x`` + lower-case hex, as roots and hashes are shown everywhere."""
    return "0x" + value.hex()


def get_anchor(chain: AuditChain, key: str, version: int | None) -> Anchor | None:
    """The latest anchor of ``key`` (``None`` if never anchored), or the asked ``version``."""
    if version is None:
        return chain.latest_anchor(key)
    count = chain.version_count(key)
    if not 1 <= version <= count:
        raise NotAnchored(
            f"partition {key} has {count} anchored version(s): there is no version {version}"
        )
    return chain.get_anchor(key, version)
