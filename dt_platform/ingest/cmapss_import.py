"""NASA C-MAPSS as a real-world source, entering through the same ingestion path as the factory.

A subset's train and test files become two Parquet dumps in ``landing/cmapss/`` (the long format
of docs/dumps.md: one reading per row) and its engines become ``turbofan`` machines in
``machines.d/cmapss_<subset>.yaml``. The loader then treats them like any gateway's data: ledger,
validation, rejects, accounting.

C-MAPSS counts time in cycles (flights), not clock time. Cycle ``k`` of a unit is stamped
``EPOCH + k hours``: one flight an hour, all units starting together in 2000, before the factory's
daily partitions, so engines never mix with the phone line's days. ``from_warehouse`` maps the
stamps back to cycles, giving the frame the prognostics read (unit, cycle, setting1..3, s1..s21).
The source files are read in place and never copied into the repository.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path

import duckdb
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from dt_platform.cmms import MAINTENANCE_FOLDER
from dt_platform.fileio import atomic_path
from dt_platform.ingest.cmapss_text import (
    COLUMNS,
    SENSORS,
    SETTINGS,
    CmapssFormatError,
    read_cmapss_file,
)

EPOCH = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
SPLITS = {"train": "TR", "test": "TE"}
LANDING_FOLDER = "cmapss"
MAX_CYCLE = 1_000_000
"""Cycles past this are refused at import: stamped an hour each from :data:`EPOCH`, they would
run past the year 2114 (C-MAPSS engines live a few hundred cycles)."""
SUBSET_NAME = re.compile(r"[A-Za-z0-9]+")
"""A subset is named like the NASA files (``FD001``): it becomes part of file and machine names."""
assert LANDING_FOLDER != MAINTENANCE_FOLDER


@dataclass(frozen=True)
class CmapssImport:
    subset: str
    dumps: tuple[Path, ...]
    registry: Path
    engines: int
    readings: int


def machine_id(subset: str, split: str, unit: int) -> str:
    return f"{subset}-{SPLITS[split]}-{unit:03d}"


def _long_dump(frame: pl.DataFrame, subset: str, split: str) -> pa.Table:
    """One row per reading, sensor by sensor; a reading the file gives as missing is not one."""
    too_late = frame.filter(pl.col("cycle") > MAX_CYCLE)
    if too_late.height:
        raise CmapssFormatError(
            f"{subset} {split}: unit {too_late['unit'][0]} cycle {too_late['cycle'][0]} is past "
            f"{MAX_CYCLE}, the last cycle the platform stamps (one flight an hour from {EPOCH:%Y})"
        )
    ids = {u: machine_id(subset, split, u) for u in frame["unit"].unique().to_list()}
    stamped = frame.select(
        pl.col("unit").replace_strict(ids, return_dtype=pl.String).alias("machine_id"),
        (pl.lit(EPOCH) + pl.duration(hours=pl.col("cycle"))).dt.cast_time_unit("us").alias("ts"),
        *SETTINGS,
        *SENSORS,
    )
    long = stamped.unpivot(
        on=[*SETTINGS, *SENSORS],
        index=["machine_id", "ts"],
        variable_name="sensor",
        value_name="value",
    ).drop_nulls("value")
    return long.select("machine_id", "sensor", pl.lit("1").alias("unit"), "ts", "value").to_arrow()


def import_subset(data_dir: Path, subset: str, landing: Path, registry_path: Path) -> CmapssImport:
    """Write the subset's dumps into ``landing/cmapss/`` and its engines into the registry.

    Raises ``ValueError`` for a subset name that is not a plain name (``FD001``),
    ``FileNotFoundError`` when one of its three files is missing and
    :class:`~dt_platform.ingest.cmapss_text.CmapssFormatError` when a file is not in the layout;
    nothing is written then. The registry is written before the dumps land.
    """
    if not SUBSET_NAME.fullmatch(subset):
        raise ValueError(
            f"{subset!r} is not a C-MAPSS subset name (letters and digits, e.g. FD001)"
        )
    missing = [
        p for p in (data_dir / f"{split}_{subset}.txt" for split in SPLITS) if not p.is_file()
    ]
    if missing:
        raise FileNotFoundError(
            f"{missing[0]} is missing: expected C-MAPSS files train_/test_/RUL_{subset}.txt"
        )
    # both files are read and checked before anything is written: a bad test file leaves no
    # training dump behind for engines the registry does not know
    tables, entries = {}, []
    for split in SPLITS:
        frame = read_cmapss_file(data_dir / f"{split}_{subset}.txt")
        tables[split] = _long_dump(frame, subset, split)
        for unit in frame["unit"].unique().sort().to_list():
            entries.append(
                f"  - {{machine_id: {machine_id(subset, split, unit)}, type: turbofan, "
                f"line: C-MAPSS {subset}, gateway: {LANDING_FOLDER}, subset: {subset}, "
                f"split: {split}, unit: {unit}}}"
            )
    registry_dir = registry_path.parent / f"{registry_path.stem}.d"
    registry_dir.mkdir(parents=True, exist_ok=True)
    registry = registry_dir / f"cmapss_{subset}.yaml"
    registry.write_text(
        f"# C-MAPSS {subset} engines, written by `dt-platform cmapss import`.\nmachines:\n"
        + "\n".join(entries)
        + "\n"
    )
    folder = landing / LANDING_FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    dumps = []
    for split, table in tables.items():
        target = folder / f"{subset}_{split}.parquet"
        # complete files only appear under their final name (landing ignores *.part)
        with atomic_path(target, tmp=target.with_suffix(".parquet.part")) as partial:
            pq.write_table(table, partial)
        dumps.append(target)
    readings = sum(t.num_rows for t in tables.values())
    return CmapssImport(subset, tuple(dumps), registry, len(entries), readings)


def from_warehouse(con: duckdb.DuckDBPyConnection, subset: str, split: str) -> pl.DataFrame:
    """The subset as the prognostics read it (unit, cycle, settings, sensors), from loaded readings.

    A reading the file gave as missing comes back null; a cycle whose readings were all missing
    was never sent, so it is not here either."""
    prefix = f"{subset}-{SPLITS[split]}-"
    long = con.execute(
        """SELECT machine_id, sensor, ts, value FROM readings_v
           WHERE machine_type = 'turbofan' AND starts_with(machine_id, ?)""",
        [prefix],
    ).pl()
    if long.is_empty():
        raise LookupError(
            f"no {subset} {split} readings in the warehouse: run `dt-platform cmapss import`"
        )
    epoch = pl.lit(EPOCH).dt.replace_time_zone("UTC")
    wide = long.pivot(on="sensor", index=["machine_id", "ts"], values="value").with_columns(
        pl.col("machine_id").str.slice(len(prefix)).cast(pl.Int64).alias("unit"),
        ((pl.col("ts") - epoch).dt.total_hours()).cast(pl.Int64).alias("cycle"),
    )
    # a setting or sensor with no reading at all (every one written nan) has no column to pivot
    absent = [pl.lit(None, pl.Float64).alias(c) for c in COLUMNS if c not in wide.columns]
    return wide.with_columns(absent).select(COLUMNS).sort(["unit", "cycle"])
