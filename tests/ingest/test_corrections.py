"""Corrections always win: a later version of a file's content supersedes what the earlier
versions loaded, whatever names the copies had, in every order of copy, re-send and correction.

The events, after the original ``O`` landed as ``gw/A.csv``:

* ``K``: a copy of the day under another name, ``gw/B.csv`` — the same bytes, or a re-export
  (other line ends: every reading a repeat of ``O``'s);
* ``R``: ``O`` re-sent under its own name;
* ``C``: the correction, under ``A`` or under the copy's name ``B``.

Each event is its own ingestion run. The correction wins in every order where it is a version of
the day: under ``A`` always, under ``B`` once the copy is there. Under ``B`` before the copy it is
a new file, unrelated by name or bytes: its readings conflict with ``O``'s, and the first delivery
wins (the copy that lands on ``B`` afterwards is then a duplicate of ``O``).
"""

from __future__ import annotations

import datetime as dt
import itertools
import os
from pathlib import Path

import pytest

from dt_platform.ingest.loader import IngestLimits, ingest_landing
from dt_platform.ingest.registry import parse_registry, sync_registry
from dt_platform.warehouse import Warehouse

NOW = dt.datetime(2026, 11, 25, 12, 0, tzinfo=dt.UTC)
LIMITS = IngestLimits(earliest=dt.datetime(2025, 12, 25, tzinfo=dt.UTC))
DAY = dt.date(2026, 11, 20)
HEADER = "timestamp,machine_id,vacuum [kPa],placement_offset [um],head_temp [degF]\n"


def day(vacuum: int) -> str:
    return HEADER + "".join(f"2026-11-20T00:0{m}:00Z,SMT-01,{vacuum},10,100\n" for m in range(3))


ORIGINAL, CORRECTION = day(70), day(69)  # same size: only the content tells them apart
COPIES = {"bytes": ORIGINAL, "re-export": ORIGINAL.replace("\n", "\r\n")}


class Landing:
    def __init__(self, root: Path) -> None:
        self.landing = root / "landing"
        self.landing.mkdir()
        self.warehouse = Warehouse(root / "warehouse.duckdb")
        with self.warehouse.write() as con:
            sync_registry(
                con, parse_registry("machines:\n  - {machine_id: SMT-01, type: smt_placer}\n")
            )
        self._tick = 0

    def drop(self, name: str, content: str):
        path = self.landing / "gw" / name
        path.parent.mkdir(exist_ok=True)
        path.write_text(content)
        self._tick += 1
        os.utime(path, ns=(1_700_000_000_000_000_000 + self._tick,) * 2)
        with self.warehouse.write() as con:
            return ingest_landing(con, self.landing, now=NOW, limits=LIMITS)

    def query(self, sql: str) -> list[tuple]:
        with self.warehouse.read() as con:
            return con.execute(sql).fetchall()

    def vacuum(self) -> list[float]:
        return [
            v
            for (v,) in self.query(
                "SELECT value FROM readings_v WHERE sensor = 'vacuum_kpa' ORDER BY ts"
            )
        ]

    def assert_balanced(self) -> None:
        for path, rows_in, loaded, rejected, stored_loaded, stored_rejected in self.query(
            """SELECT f.path, f.rows_in, f.rows_loaded, f.rows_rejected,
                      (SELECT count(*) FROM readings r WHERE r.file_id = f.file_id),
                      (SELECT count(*) FROM telemetry_rejects j WHERE j.file_id = f.file_id)
               FROM file_ledger f WHERE f.status <> 'duplicate_file'"""
        ):
            assert rows_in == loaded + rejected, path
            assert (loaded, rejected) == (stored_loaded, stored_rejected), path


ORDERS = [
    (copy, c_name, order)
    for copy in COPIES
    for c_name in ("A", "B")
    for order in itertools.permutations("KRC")
]


@pytest.mark.parametrize(
    "copy,c_name,order", ORDERS, ids=[f"{c}-C@{n}-O{''.join(o)}" for c, n, o in ORDERS]
)
def test_every_order_of_copy_resend_and_correction(
    tmp_path: Path, copy: str, c_name: str, order: tuple[str, ...]
) -> None:
    land = Landing(tmp_path)
    assert land.drop("A.csv", ORIGINAL).rows_loaded == 9
    touched = {}
    for event in order:
        content, name = {
            "K": (COPIES[copy], "B.csv"),
            "R": (ORIGINAL, "A.csv"),
            "C": (CORRECTION, f"{c_name}.csv"),
        }[event]
        touched[event] = land.drop(name, content).touched_days
        land.assert_balanced()
    correction_wins = c_name == "A" or order.index("K") < order.index("C")
    assert land.vacuum() == ([69.0] * 3 if correction_wins else [70.0] * 3)
    # Exactly one file feeds telemetry; the other versions stay on record.
    assert land.query("SELECT count(*) FROM readings_v") == [(9,)]
    loaded_with_readings = land.query(
        "SELECT path FROM file_ledger WHERE status = 'loaded' AND rows_loaded > 0"
    )
    assert len(loaded_with_readings) == 1
    assert land.query("SELECT count(*) FROM readings WHERE file_id = 1") == [(9,)]
    if correction_wins:
        assert DAY in touched["C"]  # the day is rebuilt from the correction
        # Neither a later re-send nor a later copy of the original brings it back.
        assert land.query("SELECT status FROM file_ledger WHERE file_id = 1") == [("superseded",)]


def test_a_correction_of_a_correction_wins_across_names(tmp_path: Path) -> None:
    land = Landing(tmp_path)
    land.drop("A.csv", ORIGINAL)
    land.drop("B.csv", ORIGINAL)  # a copy
    land.drop("B.csv", CORRECTION)  # corrected under the copy's name
    assert land.vacuum() == [69.0] * 3
    land.drop("A.csv", day(68))  # and corrected again under the original's
    assert land.vacuum() == [68.0] * 3
    assert land.query("SELECT path, version, status FROM file_ledger ORDER BY file_id") == [
        ("gw/A.csv", 1, "superseded"),
        ("gw/B.csv", 1, "duplicate_file"),
        ("gw/B.csv", 2, "superseded"),
        ("gw/A.csv", 2, "loaded"),
    ]
    land.assert_balanced()


def test_files_that_share_contentless_bytes_stay_separate(tmp_path: Path) -> None:
    """Two days exported first as a bare header: the same bytes, but not one document."""
    land = Landing(tmp_path)
    land.drop("day1.csv", HEADER)
    land.drop("day2.csv", HEADER)
    land.drop("day1.csv", day(70))
    land.drop("day2.csv", day(70).replace("2026-11-20", "2026-11-21"))
    assert land.query("SELECT count(*) FROM readings_v") == [(18,)]
    land.assert_balanced()


def test_a_version_that_cannot_be_loaded_takes_nothing_away(tmp_path: Path) -> None:
    land = Landing(tmp_path)
    land.drop("A.csv", ORIGINAL)
    for broken in ("", "not,a\ndump\n", HEADER.replace("timestamp", "time")):
        summary = land.drop("A.csv", broken)
        assert summary.files[0].status == "quarantined" and not summary.touched_days
        assert land.vacuum() == [70.0] * 3
    land.drop("A.csv", ORIGINAL)  # the original back: a duplicate, still loaded
    land.drop("A.csv", CORRECTION)
    assert land.vacuum() == [69.0] * 3
    land.assert_balanced()


def test_the_original_sent_again_after_its_correction_is_a_duplicate(tmp_path: Path) -> None:
    land = Landing(tmp_path)
    land.drop("A.csv", ORIGINAL)
    land.drop("A.csv", CORRECTION)
    again = land.drop("A.csv", ORIGINAL)
    assert [(f.status, f.duplicate_of) for f in again.files] == [("duplicate_file", 1)]
    assert "superseded by file 2" in again.files[0].detail
    assert land.vacuum() == [69.0] * 3
