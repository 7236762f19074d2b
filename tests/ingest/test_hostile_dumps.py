"""The fault suite: hostile dumps in every format, each with the outcome it must have.

Every case lands some files, runs the loader once and checks, per file, the ledger status, the
reasons of its rejected rows, how many rows came in and how many loaded — and that nothing was
lost: rows in = loaded + rejected for every file, against what is stored. A case may also check
that nothing of a file outside landing leaked into the warehouse.

Classes: entries (names, links, FIFOs, sockets, races), time, numbers, text (encodings, framing,
sizes). ``test_the_suite_covers_every_class`` keeps the table honest about its size.
"""

from __future__ import annotations

import codecs
import datetime as dt
import json
import os
import shutil
import socket
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from dt_platform.ingest.loader import IngestLimits, ingest_landing, landed, readahead
from dt_platform.ingest.registry import parse_registry, sync_registry
from dt_platform.warehouse import Warehouse

NOW = dt.datetime(2026, 11, 25, 12, 0, tzinfo=dt.UTC)
LIMITS = IngestLimits(earliest=dt.datetime(2025, 12, 25, tzinfo=dt.UTC), max_file_bytes=2**20)
REGISTRY = """
machines:
  - {machine_id: SMT-01, type: smt_placer}
  - {machine_id: CNC-01, type: cnc_spindle}
  - {machine_id: OVEN-01, type: reflow_oven}
  - {machine_id: ENG-01, type: turbofan}
"""
HEADER = "timestamp,machine_id,vacuum [kPa],placement_offset [um],head_temp [degF]\n"
ROW = "2026-11-20T00:00:00Z,SMT-01,70,10,100\n"


def row(ts: str = "2026-11-20T00:00:00Z", vacuum: str = "70", offset: str = "10") -> str:
    return f"{ts},SMT-01,{vacuum},{offset},100\n"


def jl(value=50, ts: str = "2026-11-20T00:00:00Z", **extra) -> str:
    reading = {"ts": ts, "machine": "CNC-01", "sensor": "load", "value": value, "unit": "%"}
    return json.dumps(reading | extra, ensure_ascii=False) + "\n"


def parquet(ts, value=None, ts_type=None, **columns) -> bytes:
    n = len(ts)
    table = pa.table(
        {
            "machine_id": ["OVEN-01"] * n,
            "sensor": ["fan_speed"] * n,
            "unit": ["rpm"] * n,
            "ts": pa.array(ts, ts_type or pa.timestamp("us", tz="UTC")),
            "value": value if value is not None else [900.0] * n,
        }
        | columns
    )
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink)
    return sink.getvalue().to_pybytes()


class Landing:
    """A landing folder, a folder outside it, and a warehouse with the registry."""

    def __init__(self, root: Path) -> None:
        self.root, self.landing, self.outside = root, root / "landing", root / "outside"
        self.landing.mkdir()
        self.outside.mkdir()
        self.warehouse = Warehouse(root / "warehouse.duckdb")
        with self.warehouse.write() as con:
            sync_registry(con, parse_registry(REGISTRY))
        self._tick = 0

    def drop(self, rel: str | bytes, content: str | bytes) -> Path:
        path = Path(os.fsdecode(self.landing / os.fsdecode(rel)))
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content.encode() if isinstance(content, str) else content)
        self._tick += 1
        os.utime(path, ns=(1_700_000_000_000_000_000 + self._tick,) * 2)
        return path

    def secret(self) -> Path:
        path = self.outside / "secret.csv"
        path.write_text(HEADER + "SECRET-TS,SECRET-MACHINE,SECRET,1,1\n")
        return path

    def ingest(self, limits: IngestLimits = LIMITS):
        with self.warehouse.write() as con:
            return ingest_landing(con, self.landing, now=NOW, limits=limits)

    def query(self, sql: str, params=None) -> list[tuple]:
        with self.warehouse.read() as con:
            return con.execute(sql, params or []).fetchall()


@dataclass(frozen=True)
class Expect:
    """What must become of one file: ledger status, rows in, rows loaded, rejected rows' reasons."""

    status: str
    rows_in: int
    loaded: int
    reasons: dict[str, int] = field(default_factory=dict)


def refused(reason: str) -> Expect:
    return Expect("quarantined", 1, 0, {reason: 1})


@dataclass(frozen=True)
class Case:
    klass: str
    name: str
    setup: Callable[[Landing, pytest.MonkeyPatch], None]
    expect: dict[str, Expect]
    limits: IngestLimits = LIMITS
    then: dict[str, str] = field(default_factory=dict)
    """What a second run does: (file → status) of the files it takes up (none, usually: each
    file is read again only when it changes)."""


def _drops(*files: tuple[str, str | bytes]) -> Callable[[Landing, pytest.MonkeyPatch], None]:
    def setup(land: Landing, _mp) -> None:
        for rel, content in files:
            land.drop(rel, content)

    return setup


# --- entries: names, links, special files, races --------------------------------------------------


GLOB_SIBLINGS = ("gw/ab.csv", "gw/bz.csv")


def _glob_siblings(name: str) -> Callable:
    def setup(land: Landing, _mp) -> None:
        land.drop("gw/ab.csv", HEADER + row("2026-11-20T00:01:00Z"))
        land.drop("gw/bz.csv", HEADER + row("2026-11-20T00:02:00Z"))
        land.drop(f"gw/{name}", HEADER + row())

    return setup


def _link(target: Callable[[Landing], Path | str], name: str = "gw/link.csv") -> Callable:
    def setup(land: Landing, _mp) -> None:
        land.drop("gw/real.csv", HEADER + row())
        link = land.landing / name
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(target(land))

    return setup


def _special(make: Callable[[Path], None]) -> Callable:
    def setup(land: Landing, _mp) -> None:
        land.drop("gw/real.csv", HEADER + row())
        make(land.landing / "gw" / "special.csv")

    return setup


def _bind_socket(path: Path) -> None:
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(path))
    sock.close()


def _linked_folder(land: Landing, _mp) -> None:
    land.drop("gw/real.csv", HEADER + row())
    (land.outside / "day.csv").write_text(HEADER + row("2026-11-20T00:09:00Z"))
    (land.landing / "gw-link").symlink_to(land.outside)


def _before_read(action: Callable[[Landing, Path], None]) -> Callable:
    """Run ``action`` on a file after discovery, just before it is read."""

    def setup(land: Landing, mp: pytest.MonkeyPatch) -> None:
        land.drop("gw/real.csv", HEADER + row())
        target = land.drop("gw/target.csv", HEADER + row("2026-11-20T00:05:00Z"))
        read = readahead._read_delivery

        def racing(rel, path, arrival):
            if path == target:
                action(land, path)
            return read(rel, path, arrival)

        mp.setattr(readahead, "_read_delivery", racing)

    return setup


def _vanish_at_listing(land: Landing, mp: pytest.MonkeyPatch) -> None:
    land.drop("gw/real.csv", HEADER + row())
    gone = land.drop("gw/gone.csv", HEADER + row("2026-11-20T00:05:00Z"))
    examine = landed.examine

    def listing_then_delete(landing, path, limits):
        if path == gone:
            gone.unlink()
        return examine(landing, path, limits)

    mp.setattr("dt_platform.ingest.loader.landing.examine", listing_then_delete)


def _swap_folder_for_link(land: Landing, path: Path) -> None:
    (land.outside / "target.csv").write_text(land.secret().read_text())
    shutil.move(path.parent, land.root / "moved")
    path.parent.symlink_to(land.outside)


OK1 = Expect("loaded", 3, 3)
ENTRIES = [
    *(
        Case(
            "entries",
            title,
            _glob_siblings(name),
            dict.fromkeys((*GLOB_SIBLINGS, f"gw/{name}"), OK1),
        )
        for title, name in (
            ("star in name", "b*.csv"),
            ("question mark", "a?.csv"),
            ("brackets", "[ab]b.csv"),
        )
    ),
    Case(
        "entries",
        "star in a Parquet name",
        _drops(
            ("hist/h1.parquet", parquet([dt.datetime(2026, 11, 20, 1, tzinfo=dt.UTC)])),
            ("hist/h*.parquet", parquet([dt.datetime(2026, 11, 20, 2, tzinfo=dt.UTC)])),
        ),
        {"hist/h1.parquet": Expect("loaded", 1, 1), "hist/h*.parquet": Expect("loaded", 1, 1)},
    ),
    Case(
        "entries",
        "question mark in a JSON Lines name",
        _drops(("mq/a1.jsonl", jl()), ("mq/a?.jsonl", jl(ts="2026-11-20T00:01:00Z"))),
        {"mq/a1.jsonl": Expect("loaded", 1, 1), "mq/a?.jsonl": Expect("loaded", 1, 1)},
    ),
    Case(
        "entries",
        "name not UTF-8",
        _drops((b"gw/caf\xe9.csv", HEADER + row())),
        {"gw/caf\\xe9.csv": OK1},
    ),
    Case(
        "entries", "newline in name", _drops(("gw/a\nb.csv", HEADER + row())), {"gw/a\nb.csv": OK1}
    ),
    Case(
        "entries",
        "link inside landing",
        _link(lambda land: land.landing / "gw" / "real.csv"),
        {"gw/real.csv": OK1, "gw/link.csv": refused("not_a_regular_file")},
    ),
    Case(
        "entries",
        "link out of landing",
        _link(lambda land: land.secret()),
        {"gw/real.csv": OK1, "gw/link.csv": refused("not_a_regular_file")},
    ),
    Case(
        "entries",
        "link to /dev/zero",
        _link(lambda land: "/dev/zero"),
        {"gw/real.csv": OK1, "gw/link.csv": refused("not_a_regular_file")},
    ),
    Case(
        "entries",
        "dangling link",
        _link(lambda land: land.outside / "nothing.csv", "gw/link.jsonl"),
        {"gw/real.csv": OK1, "gw/link.jsonl": refused("not_a_regular_file")},
    ),
    Case(
        "entries",
        "link to a folder",
        _linked_folder,
        {"gw/real.csv": OK1, "gw-link": refused("not_a_regular_file")},
    ),
    Case(
        "entries",
        "FIFO",
        _special(os.mkfifo),
        {"gw/real.csv": OK1, "gw/special.csv": refused("not_a_regular_file")},
    ),
    Case(
        "entries",
        "socket",
        _special(_bind_socket),
        {"gw/real.csv": OK1, "gw/special.csv": refused("not_a_regular_file")},
    ),
    Case(
        "entries",
        "vanished before listing",
        _vanish_at_listing,
        {"gw/real.csv": OK1, "gw/gone.csv": refused("vanished_file")},
    ),
    Case(
        "entries",
        "deleted before read",
        _before_read(lambda land, path: path.unlink()),
        {"gw/real.csv": OK1, "gw/target.csv": refused("vanished_file")},
    ),
    Case(
        "entries",
        "renamed before read",
        _before_read(lambda land, path: path.rename(path.with_name("renamed.csv"))),
        {"gw/real.csv": OK1, "gw/target.csv": refused("vanished_file")},
        then={"gw/renamed.csv": "loaded"},
    ),
    Case(
        "entries",
        "replaced by a link before read",
        _before_read(lambda land, path: (path.unlink(), path.symlink_to(land.secret()))),
        {"gw/real.csv": OK1, "gw/target.csv": refused("not_a_regular_file")},
    ),
    Case(
        "entries",
        "folder swapped for a link before read",
        _before_read(_swap_folder_for_link),
        {"gw/real.csv": OK1, "gw/target.csv": refused("not_a_regular_file")},
        then={"gw": "quarantined"},  # the link now in landing's place of the folder
    ),
    Case(
        "entries",
        "larger than DT_MAX_DUMP_MB",
        _drops(("gw/big.csv", HEADER + row() * 40_000)),
        {"gw/big.csv": refused("file_too_large")},
    ),
]

# --- time -------------------------------------------------------------------------------------

T3 = 3  # readings on one CSV row

TIME = [
    Case(
        "time",
        "year 0",
        _drops(("a.csv", HEADER + row("0000-11-20T00:00:00Z"))),
        {"a.csv": Expect("loaded", T3, 0, {"early_timestamp": T3})},
    ),
    Case(
        "time",
        "negative year",
        _drops(("a.csv", HEADER + row("-0044-03-15T12:00:00+01:00"))),
        {"a.csv": Expect("loaded", T3, 0, {"early_timestamp": T3})},
    ),
    Case(
        "time",
        "year 1 in JSON Lines",
        _drops(("a.jsonl", jl(ts="0001-01-01T00:00:00Z") + jl())),
        {"a.jsonl": Expect("loaded", 2, 1, {"early_timestamp": 1})},
    ),
    Case(
        "time",
        "year 1 in Parquet",
        _drops(("a.parquet", parquet([dt.datetime(1, 1, 1, tzinfo=dt.UTC)]))),
        {"a.parquet": Expect("loaded", 1, 0, {"early_timestamp": 1})},
    ),
    Case(
        "time",
        "1969 in Parquet",
        _drops(
            (
                "a.parquet",
                parquet(
                    [
                        dt.datetime(1969, 7, 20, tzinfo=dt.UTC),
                        dt.datetime(2026, 11, 20, tzinfo=dt.UTC),
                    ]
                ),
            )
        ),
        {"a.parquet": Expect("loaded", 2, 1, {"early_timestamp": 1})},
    ),
    Case(
        "time",
        "5003 BC as Parquet seconds",
        _drops(("a.parquet", parquet([-220_000_000_000], ts_type=pa.timestamp("s", tz="UTC")))),
        {"a.parquet": Expect("loaded", 1, 0, {"early_timestamp": 1})},
    ),
    Case(
        "time",
        "before the backfill window",
        _drops(("a.csv", HEADER + row("2025-06-01T00:00:00Z") + ROW)),
        {"a.csv": Expect("loaded", 6, 3, {"early_timestamp": 3})},
    ),
    Case(
        "time",
        "year 10000",
        _drops(("a.csv", HEADER + row("10000-01-01T00:00:00Z"))),
        {"a.csv": Expect("loaded", T3, 0, {"future_timestamp": T3})},
    ),
    Case(
        "time",
        "offset +99:00",
        _drops(("a.csv", HEADER + row("2026-11-20T00:00:00+99:00"))),
        {"a.csv": Expect("loaded", T3, 0, {"invalid_utc_offset": T3})},
    ),
    Case(
        "time",
        "offsets at and beyond 14:00",
        _drops(
            (
                "a.jsonl",
                jl(ts="2026-11-20T00:00:00+14:00")
                + jl(ts="2026-11-20T01:00:00-14:00")
                + jl(ts="2026-11-20T02:00:00+14:30")
                + jl(ts="2026-11-20T03:00:00-1401"),
            )
        ),
        {"a.jsonl": Expect("loaded", 4, 2, {"invalid_utc_offset": 2})},
    ),
    Case(
        "time",
        "offsets as +hhmm and -hh",
        _drops(("a.csv", HEADER + row("2026-11-20T05:30:00+0530") + row("2026-11-19T16:01:00-08"))),
        {"a.csv": Expect("loaded", 6, 6)},
    ),
    Case(
        "time",
        "offset minutes 75",
        _drops(("a.csv", HEADER + row("2026-11-20T00:00:00+05:75"))),
        {"a.csv": Expect("loaded", T3, 0, {"invalid_utc_offset": T3})},
    ),
    Case(
        "time",
        "cycle-stamped data keeps 2000",
        _drops(
            (
                "a.jsonl",
                json.dumps(
                    {
                        "ts": "2000-01-01T05:00:00Z",
                        "machine": "ENG-01",
                        "sensor": "s2",
                        "value": 641.8,
                        "unit": "1",
                    }
                )
                + "\n"
                + json.dumps(
                    {
                        "ts": "1969-12-31T00:00:00Z",
                        "machine": "ENG-01",
                        "sensor": "s2",
                        "value": 641.8,
                        "unit": "1",
                    }
                )
                + "\n",
            )
        ),
        {"a.jsonl": Expect("loaded", 2, 1, {"early_timestamp": 1})},
    ),
]

# --- numbers ----------------------------------------------------------------------------------

NUMBERS = [
    Case(
        "numbers",
        "underscore in CSV",
        _drops(("a.csv", HEADER + row(vacuum="6_2.8") + row("2026-11-20T00:01:00Z"))),
        {"a.csv": Expect("loaded", 6, 5, {"non_numeric_value": 1})},
    ),
    Case(
        "numbers",
        "underscores everywhere else",
        _drops(
            (
                "a.csv",
                "timestamp,machine_id,vacuum [kPa]\n2026-11-20T00:00:00Z,SMT-01,1_000\n"
                "2026-11-20T00:01:00Z,SMT-01,70\n",
            )
        ),
        {"a.csv": Expect("loaded", 2, 1, {"non_numeric_value": 1})},
    ),
    Case(
        "numbers",
        "underscore in JSON text",
        _drops(("a.jsonl", jl("5_0") + jl("50", ts="2026-11-20T00:01:00Z"))),
        {"a.jsonl": Expect("loaded", 2, 1, {"non_numeric_value": 1})},
    ),
    Case(
        "numbers",
        "full-width digits",
        _drops(("a.csv", HEADER + row(vacuum="７０"))),
        {"a.csv": Expect("loaded", T3, 2, {"non_numeric_value": 1})},
    ),
    Case(
        "numbers",
        "Arabic-Indic digits (strict and lenient JSON)",
        _drops(
            ("a.jsonl", jl("٥٠") + jl("٥٠", ts="2026-11-20T00:01:00Z").replace("}", ', "x": NaN}'))
        ),
        {"a.jsonl": Expect("loaded", 2, 0, {"non_numeric_value": 2})},
    ),
    Case(
        "numbers",
        "Devanagari digits",
        _drops(("a.csv", HEADER + row(offset="१२"))),
        {"a.csv": Expect("loaded", T3, 2, {"non_numeric_value": 1})},
    ),
    Case(
        "numbers",
        "no-break space and hex",
        _drops(("a.csv", HEADER + row(vacuum="\u00a070", offset="0x10"))),
        {"a.csv": Expect("loaded", T3, 1, {"non_numeric_value": 2})},
    ),
    Case(
        "numbers",
        "NaN, Infinity and overflow",
        _drops(
            (
                "a.csv",
                HEADER
                + row(vacuum="NaN", offset="-Infinity")
                + row("2026-11-20T00:01:00Z", vacuum="1e400"),
            )
        ),
        {"a.csv": Expect("loaded", 6, 3, {"non_finite_value": 3})},
    ),
    Case(
        "numbers",
        "text values in Parquet",
        _drops(
            (
                "a.parquet",
                parquet(
                    [dt.datetime(2026, 11, 20, h, tzinfo=dt.UTC) for h in range(3)],
                    value=["900", "9_00", "９００"],
                ),
            )
        ),
        {"a.parquet": Expect("loaded", 3, 1, {"non_numeric_value": 2})},
    ),
    Case(
        "numbers",
        "out of the sensor's range, never clipped",
        _drops(("a.csv", HEADER + "2026-11-20T00:00:00Z,SMT-01,70,10,753\n")),
        {"a.csv": Expect("loaded", T3, 2, {"out_of_range": 1})},
    ),
    Case(
        "numbers",
        "NUL byte in a value",
        _drops(("a.csv", HEADER + row(vacuum="7\x000"))),
        {"a.csv": Expect("loaded", T3, 2, {"non_numeric_value": 1})},
    ),
]

# --- text: encodings, framing, sizes -----------------------------------------------------------

LATIN1_JSON = (
    jl().encode()
    + b'{"ts": "2026-11-20T00:01:00Z", "machine": "CNC-01", "sensor": "load", "value": 5, "unit": "%", "n": "\xe9"}\n'
    + jl(ts="2026-11-20T00:02:00Z").encode()
)
TEXT = [
    Case(
        "text",
        "latin-1 byte in JSON Lines",
        _drops(("a.jsonl", LATIN1_JSON)),
        {"a.jsonl": Expect("loaded", 3, 2, {"malformed_line": 1})},
    ),
    Case(
        "text",
        "latin-1 byte in CSV",
        _drops(
            (
                "a.csv",
                HEADER.encode()
                + row().encode()
                + b"2026-11-20T00:01:00Z,SMT-\xe9,70,10,100\n"
                + row("2026-11-20T00:02:00Z").encode(),
            )
        ),
        {"a.csv": Expect("loaded", 7, 6, {"malformed_line": 1})},
    ),
    Case(
        "text",
        "BOM in CSV",
        _drops(("a.csv", codecs.BOM_UTF8 + (HEADER + ROW).encode())),
        {"a.csv": OK1},
    ),
    Case(
        "text",
        "BOM in JSON Lines",
        _drops(("a.jsonl", codecs.BOM_UTF8 + jl().encode())),
        {"a.jsonl": Expect("loaded", 1, 1)},
    ),
    Case(
        "text",
        "CRLF",
        _drops(
            ("a.csv", (HEADER + ROW).replace("\n", "\r\n")),
            ("b.jsonl", jl(ts="2026-11-20T00:09:00Z").replace("\n", "\r\n")),
        ),
        {"a.csv": OK1, "b.jsonl": Expect("loaded", 1, 1)},
    ),
    Case(
        "text",
        "CR line ends only",
        _drops(("a.csv", (HEADER + ROW).replace("\n", "\r"))),
        {"a.csv": refused("not_a_dump")},
    ),
    Case(
        "text",
        "UTF-16 JSON Lines",
        _drops(("a.jsonl", jl().encode("utf-16"))),
        {"a.jsonl": refused("not_a_dump")},
    ),
    Case(
        "text",
        "empty files",
        _drops(("a.csv", b""), ("b.jsonl", b""), ("c.parquet", b"")),
        {name: refused("empty_file") for name in ("a.csv", "b.jsonl", "c.parquet")},
    ),
    Case(
        "text",
        "header only",
        _drops(("a.csv", HEADER), ("b.csv", HEADER.strip())),
        {"a.csv": Expect("loaded", 0, 0), "b.csv": Expect("loaded", 0, 0)},
    ),
    Case(
        "text",
        "duplicate CSV columns",
        _drops(
            (
                "a.csv",
                "timestamp,machine_id,vacuum [kPa],vacuum [kPa]\n2026-11-20T00:00:00Z,SMT-01,70,71\n",
            )
        ),
        {"a.csv": refused("not_a_dump")},
    ),
    Case(
        "text",
        "duplicate Parquet columns",
        _drops(
            (
                "a.parquet",
                (
                    lambda t: (
                        pq.write_table(t, s := pa.BufferOutputStream()),
                        s.getvalue().to_pybytes(),
                    )[1]
                )(
                    pa.Table.from_arrays(
                        [
                            pa.array(["OVEN-01"]),
                            pa.array(["fan_speed"]),
                            pa.array(["rpm"]),
                            pa.array(
                                [dt.datetime(2026, 11, 20, tzinfo=dt.UTC)],
                                pa.timestamp("us", tz="UTC"),
                            ),
                            pa.array([900.0]),
                            pa.array([1.0]),
                        ],
                        names=["machine_id", "sensor", "unit", "ts", "value", "value"],
                    )
                ),
            )
        ),
        {"a.parquet": refused("not_a_dump")},
    ),
    Case(
        "text",
        "key twice in a JSON object",
        _drops(
            (
                "a.jsonl",
                jl().replace('"unit"', '"value": 7, "unit"') + jl(ts="2026-11-20T00:01:00Z"),
            )
        ),
        {"a.jsonl": Expect("loaded", 2, 1, {"malformed_line": 1})},
    ),
    Case(
        "text",
        "JSON array instead of object",
        _drops(("a.jsonl", "[1, 2, 3]\n" + jl())),
        {"a.jsonl": Expect("loaded", 2, 1, {"missing_field": 1})},
    ),
    Case(
        "text",
        "unbalanced quote",
        _drops(
            (
                "a.csv",
                HEADER + '2026-11-20T00:00:00Z,SMT-01,"70,10,100\n' + row("2026-11-20T00:01:00Z"),
            )
        ),
        {"a.csv": Expect("loaded", 4, 3, {"malformed_line": 1})},
    ),
    Case(
        "text",
        "3 MB field in CSV",
        _drops(("a.csv", HEADER + row(vacuum="7" * 3_000_000) + row("2026-11-20T00:01:00Z"))),
        {"a.csv": Expect("loaded", 4, 3, {"malformed_line": 1})},
        limits=IngestLimits(earliest=LIMITS.earliest),
    ),
    Case(
        "text",
        "300 kB machine id in JSON",
        _drops(
            (
                "a.jsonl",
                json.dumps(
                    {
                        "ts": "2026-11-20T00:00:00Z",
                        "machine": "M" * 300_000,
                        "sensor": "load",
                        "value": 1,
                        "unit": "%",
                    }
                )
                + "\n",
            )
        ),
        {"a.jsonl": Expect("loaded", 1, 0, {"unknown_machine": 1})},
    ),
    Case(
        "text",
        "garbage named .parquet",
        _drops(("a.parquet", b"PAR1" + os.urandom(256) + b"PAR1")),
        {"a.parquet": refused("unreadable_file")},
    ),
]

CASES = ENTRIES + TIME + NUMBERS + TEXT


def _outcome(land: Landing) -> dict[str, Expect]:
    ledger = land.query(
        """SELECT f.path, f.status, f.rows_in, f.rows_loaded,
                  (SELECT list(j.reason) FROM telemetry_rejects j WHERE j.file_id = f.file_id)
           FROM file_ledger f"""
    )
    return {
        path: Expect(status, rows_in, loaded, dict(Counter(reasons or [])))
        for path, status, rows_in, loaded, reasons in ledger
    }


def _assert_nothing_lost(land: Landing) -> None:
    """rows in = rows loaded + rows rejected, per file, against what is actually stored."""
    for path, rows_in, loaded, rejected, stored_loaded, stored_rejected in land.query(
        """SELECT f.path, f.rows_in, f.rows_loaded, f.rows_rejected,
                  (SELECT count(*) FROM readings r WHERE r.file_id = f.file_id),
                  (SELECT count(*) FROM telemetry_rejects j WHERE j.file_id = f.file_id)
           FROM file_ledger f WHERE f.status <> 'duplicate_file'"""
    ):
        assert rows_in == loaded + rejected, path
        assert (loaded, rejected) == (stored_loaded, stored_rejected), path


@pytest.mark.parametrize("case", CASES, ids=[f"{c.klass}: {c.name}" for c in CASES])
def test_hostile_dump(case: Case, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    land = Landing(tmp_path)
    case.setup(land, monkeypatch)
    land.ingest(case.limits)
    assert _outcome(land) == case.expect
    _assert_nothing_lost(land)
    # Nothing of a file outside landing reaches the warehouse, and raw text is capped.
    texts = land.query(
        """SELECT coalesce(machine_id, '') || coalesce(ts_text, '') || coalesce(raw_value, '')
                  || coalesce(detail, ''), length(raw_value), length(machine_id), length(detail)
           FROM telemetry_rejects"""
    )
    assert not any("SECRET" in text for text, *_ in texts)
    assert all(n is None or n <= 230 for _, *lengths in texts for n in lengths)
    # A second run reads nothing again: each file is retried only when it changes.
    monkeypatch.undo()
    assert {f.path: f.status for f in land.ingest(case.limits).files} == case.then


def test_the_suite_covers_every_class() -> None:
    per_class = Counter(c.klass for c in CASES)
    assert set(per_class) == {"entries", "time", "numbers", "text"}
    assert len(CASES) >= 40 and min(per_class.values()) >= 10
    formats = {Path(rel).suffix for c in CASES for rel in c.expect}
    assert {".csv", ".jsonl", ".parquet"} <= formats
