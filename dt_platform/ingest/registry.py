"""The machine registry: the digital model, edited by people in ``machines.yaml``.

Fleets that arrive as a block (an imported data set, a new line) may keep their own file in
``machines.d/*.yaml`` next to it; all files are merged, and a machine id may appear only once.

It is the platform's list of machines that exist. Readings from a machine that is not in it are
rejected (``unknown_machine``) rather than guessed at. Machines keep a stable small-integer key in
the warehouse, so a machine removed from the file keeps its history (it becomes inactive).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import yaml

from dt_platform.catalog import MACHINE_TYPES

_MACHINE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_KNOWN_FIELDS = {"machine_id", "type", "line", "gateway", "installed"}


class RegistryError(ValueError):
    """The registry file cannot be used; the message says which entry and field, and what to do."""


@dataclass(frozen=True)
class Machine:
    machine_id: str
    machine_type: str
    line: str | None = None
    gateway: str | None = None
    installed: dt.date | None = None
    attributes: dict[str, Any] = field(default_factory=dict)


def parse_registry(text: str, *, source: str = "machines.yaml") -> list[Machine]:
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise RegistryError(f"{source}: not valid YAML ({exc})") from exc
    if not isinstance(doc, dict) or not isinstance(doc.get("machines"), list):
        raise RegistryError(f"{source}: expected a mapping with a 'machines:' list at the top")
    machines: list[Machine] = []
    seen: set[str] = set()
    for index, entry in enumerate(doc["machines"], start=1):
        where = f"{source}: machine #{index}"
        if not isinstance(entry, dict):
            raise RegistryError(f"{where}: expected a mapping, got {type(entry).__name__}")
        machine_id = str(entry.get("machine_id", "")).strip()
        if not _MACHINE_ID.match(machine_id):
            raise RegistryError(
                f"{where}: machine_id {machine_id!r} must be 1-64 letters, digits, '-', '_' or '.'"
            )
        where = f"{source}: machine {machine_id}"
        if machine_id in seen:
            raise RegistryError(f"{where}: listed twice; machine ids must be unique")
        seen.add(machine_id)
        mtype = entry.get("type")
        if mtype not in MACHINE_TYPES:
            raise RegistryError(
                f"{where}: type {mtype!r} is not one of {', '.join(sorted(MACHINE_TYPES))}"
            )
        installed = entry.get("installed")
        if installed is not None and not isinstance(installed, dt.date):
            try:
                installed = dt.date.fromisoformat(str(installed))
            except ValueError as exc:
                raise RegistryError(
                    f"{where}: installed {installed!r} is not a YYYY-MM-DD date"
                ) from exc
        machines.append(
            Machine(
                machine_id=machine_id,
                machine_type=mtype,
                line=_opt_str(entry.get("line")),
                gateway=_opt_str(entry.get("gateway")),
                installed=installed,
                attributes={k: v for k, v in entry.items() if k not in _KNOWN_FIELDS},
            )
        )
    return machines


def registry_files(path: Path) -> list[Path]:
    """``machines.yaml`` and then every ``machines.d/*.yaml`` beside it, in name order."""
    extra = sorted((path.parent / f"{path.stem}.d").glob("*.yaml"))
    return ([path] if path.exists() else []) + extra


def load_registry(path: Path) -> list[Machine]:
    files = registry_files(path)
    if not files:
        raise RegistryError(
            f"machine registry {path} does not exist: create it (see docs/dumps.md) or run "
            "`dt-platform simulate`, which writes one"
        )
    machines: list[Machine] = []
    origin: dict[str, Path] = {}
    for file in files:
        for machine in parse_registry(file.read_text(encoding="utf-8"), source=str(file)):
            if machine.machine_id in origin:
                raise RegistryError(
                    f"{file}: machine {machine.machine_id} is already declared in "
                    f"{origin[machine.machine_id]}; machine ids must be unique"
                )
            origin[machine.machine_id] = file
            machines.append(machine)
    return machines


def sync_registry(con: duckdb.DuckDBPyConnection, machines: list[Machine]) -> dict[str, int]:
    """Upsert machines, keeping keys stable; machines no longer listed become inactive.

    The counts say what changed: ``updated`` only where a listed field differs from the
    warehouse, ``retired`` only machines that were active until now.
    """
    rows = con.execute(
        "SELECT machine_id, machine_key, machine_type, line, gateway, installed, attributes, "
        "active FROM machines"
    ).fetchall()
    # machine_id -> (key, (the listed fields in ``row`` order below, active))
    existing = {machine_id: (key, tuple(fields)) for machine_id, key, *fields in rows}
    next_key = max((key for key, _ in existing.values()), default=0) + 1
    listed = set()
    added = updated = 0
    for m in machines:
        listed.add(m.machine_id)
        row = [
            m.machine_type,
            m.line,
            m.gateway,
            m.installed,
            json.dumps(m.attributes, sort_keys=True, default=str),
        ]
        if m.machine_id in existing:
            if existing[m.machine_id][1] == (*row, True):
                continue
            con.execute(
                "UPDATE machines SET machine_type=?, line=?, gateway=?, installed=?, attributes=?, "
                "active=true WHERE machine_id=?",
                [*row, m.machine_id],
            )
            updated += 1
        else:
            con.execute(
                "INSERT INTO machines (machine_key, machine_id, machine_type, line, gateway, "
                "installed, attributes, active) VALUES (?, ?, ?, ?, ?, ?, ?, true)",
                [next_key, m.machine_id, *row],
            )
            next_key += 1
            added += 1
    retired = [mid for mid, (_, old) in existing.items() if mid not in listed and old[-1]]
    for mid in retired:
        con.execute("UPDATE machines SET active=false WHERE machine_id=?", [mid])
    return {"machines": len(machines), "added": added, "updated": updated, "retired": len(retired)}


def _opt_str(value: Any) -> str | None:
    return None if value is None else str(value)
