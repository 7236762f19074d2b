"""What the ground truth logs about the dumps: every file written, and every bad or duplicated
item in them."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class InjectedItem:
    """One bad or duplicated item in a dump, as the platform should find it."""

    file: str
    """Path relative to the output folder, with ``/``."""
    line: int | None
    kind: str
    machine_id: str | None
    sensor: str | None
    ts_s: int | None
    detail: str


@dataclass(frozen=True)
class FileRecord:
    file: str
    gateway: str
    format: str
    kind: str
    """``regular``, ``backfill`` or ``redelivery``."""
    first_s: int
    last_s: int
    data_lines: int
    readings: int
    delivered_s: int
    sha256: str
