"""The live line's sensor faults as ground truth: ``live_faults.jsonl`` in the ground-truth folder.

The batch simulator writes its faults once per run as ``faults.parquet`` (replaced whole); a
Parquet file cannot be appended to safely, so the live line appends its own beside it, in a
sibling file: one JSON object a line with the columns of ``faults.parquet`` — ``machine_id``,
``sensor`` (null for comm loss), ``kind`` (``stuck``, ``dropout``, ``comm_loss``, ``spike``),
``start`` and ``end`` (ISO 8601 UTC, end exclusive), ``value`` (canonical units: the stuck or
spike value) and ``implausible`` (spikes). DuckDB reads it with ``read_json``.

Each flush is one write to the file opened for appending; a crash may leave a torn last line,
which the next flush closes with a newline and :func:`read_live_faults` skips. Each fault is in
the file once: a line restarted over the same sim times with the same seed draws the same faults
again, and :class:`FaultLog` reads the file when it opens and skips the records it already holds
(files from before this rule are deduplicated by :func:`read_live_faults`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from dt_platform.sim.faults import FaultRecord

LIVE_FAULTS = "live_faults.jsonl"
MAX_READ_BYTES = 256 << 20


def _iso(t_s: int) -> str:
    return datetime.fromtimestamp(t_s, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _row(f: FaultRecord) -> dict:
    return {
        "machine_id": f.machine_id,
        "sensor": f.sensor,
        "kind": f.kind,
        "start": _iso(f.start_s),
        "end": _iso(f.end_s),
        "value": f.value,
        "implausible": f.implausible,
    }


class FaultLog:
    """Appends fault records to ``path`` once each (the folder is made when the first record
    comes). ``taken``: records given this run; ``written``: those new to the file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.taken = 0
        self.written = 0
        self._held = set(read_live_faults(path)[0]) if path.exists() else set()

    def append(self, records: Sequence[FaultRecord]) -> None:
        self.taken += len(records)
        records = [r for r in dict.fromkeys(records) if r not in self._held]
        if not records:
            return
        text = "".join(json.dumps(_row(r), allow_nan=False) + "\n" for r in records)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a+b") as f:
            if f.tell() > 0:
                f.seek(-1, 2)
                if f.read(1) != b"\n":  # a torn line from a crash: keep it apart
                    text = "\n" + text
            f.write(text.encode("utf-8"))
        self._held.update(records)
        self.written += len(records)


def _epoch(text: str) -> int:
    return int(datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp())


def read_live_faults(path: Path) -> tuple[list[FaultRecord], int]:
    """The distinct records of ``path`` in file order, and how many lines were unreadable (torn
    by a crash)."""
    size = path.stat().st_size
    if size > MAX_READ_BYTES:
        raise ValueError(
            f"{path} is larger than {MAX_READ_BYTES} bytes; move it aside to start a new log"
        )
    out, bad = [], 0
    for line in path.read_bytes().splitlines():
        try:
            d = json.loads(line)
            out.append(
                FaultRecord(
                    d["machine_id"],
                    d["sensor"],
                    d["kind"],
                    _epoch(d["start"]),
                    _epoch(d["end"]),
                    d["value"],
                    d["implausible"],
                )
            )
        except (ValueError, KeyError, TypeError):
            bad += 1
    return list(dict.fromkeys(out)), bad
