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
import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from dt_platform.cmms import MAINTENANCE_FOLDER
from dt_platform.fileio import atomic_path

EPOCH = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
SETTINGS = tuple(f"setting{i}" for i in range(1, 4))
SENSORS = tuple(f"s{i}" for i in range(1, 22))
COLUMNS = ("unit", "cycle", *SETTINGS, *SENSORS)
SPLITS = {"train": "TR", "test": "TE"}
LANDING_FOLDER = "cmapss"
SUBSET_NAME = re.compile(r"[A-Za-z0-9]+")
"""A subset is named like the NASA files (``FD001``): it becomes part of file and machine names."""
assert LANDING_FOLDER != MAINTENANCE_FOLDER


class CmapssFormatError(ValueError):
    """A C-MAPSS file does not have the documented layout."""


@dataclass(frozen=True)
class CmapssImport:
    subset: str
    dumps: tuple[Path, ...]
    registry: Path
    engines: int
    readings: int


def machine_id(subset: str, split: str, unit: int) -> str:
    return f"{subset}-{SPLITS[split]}-{unit:03d}"


def read_cmapss_file(path: Path) -> pl.DataFrame:
    """One train_/test_ file: 26 space-separated numbers per line (trailing blanks allowed)."""
    rows = []
    for lineno, line in enumerate(path.read_text().splitlines(), start=1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) != len(COLUMNS):
            raise CmapssFormatError(
                f"{path}:{lineno}: expected {len(COLUMNS)} values (unit, cycle, 3 settings, "
                f"21 sensors), found {len(parts)}"
            )
        rows.append(parts)
    if not rows:
        raise CmapssFormatError(f"{path} holds no data")
    values = np.array(rows, dtype=np.float64)
    frame = pl.DataFrame({c: values[:, i] for i, c in enumerate(COLUMNS)})
    return frame.with_columns(pl.col("unit").cast(pl.Int64), pl.col("cycle").cast(pl.Int64))


def _long_dump(frame: pl.DataFrame, subset: str, split: str) -> pa.Table:
    ids = [machine_id(subset, split, u) for u in frame["unit"].to_list()]
    stamps = [EPOCH + dt.timedelta(hours=int(c)) for c in frame["cycle"].to_list()]
    n = frame.height
    signals = (*SETTINGS, *SENSORS)
    return pa.table(
        {
            "machine_id": pa.array(ids * len(signals), pa.string()),
            "sensor": pa.array([s for s in signals for _ in range(n)], pa.string()),
            "unit": pa.array(["1"] * (n * len(signals)), pa.string()),
            "ts": pa.array(stamps * len(signals), pa.timestamp("us", tz="UTC")),
            "value": pa.array(np.concatenate([frame[s].to_numpy() for s in signals]), pa.float64()),
        }
    )


def import_subset(data_dir: Path, subset: str, landing: Path, registry_path: Path) -> CmapssImport:
    """Write the subset's dumps into ``landing/cmapss/`` and its engines into the registry.

    Raises ``ValueError`` for a subset name that is not a plain name (``FD001``) and
    ``FileNotFoundError`` when one of its three files is missing; nothing is written then.
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
    folder = landing / LANDING_FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    registry_dir = registry_path.parent / f"{registry_path.stem}.d"
    registry_dir.mkdir(parents=True, exist_ok=True)
    dumps, entries, readings = [], [], 0
    for split in SPLITS:
        source = data_dir / f"{split}_{subset}.txt"
        frame = read_cmapss_file(source)
        table = _long_dump(frame, subset, split)
        target = folder / f"{subset}_{split}.parquet"
        # complete files only appear under their final name (landing ignores *.part)
        with atomic_path(target, tmp=target.with_suffix(".parquet.part")) as partial:
            pq.write_table(table, partial)
        dumps.append(target)
        readings += table.num_rows
        for unit in frame["unit"].unique().sort().to_list():
            entries.append(
                f"  - {{machine_id: {machine_id(subset, split, unit)}, type: turbofan, "
                f"line: C-MAPSS {subset}, gateway: {LANDING_FOLDER}, subset: {subset}, "
                f"split: {split}, unit: {unit}}}"
            )
    registry = registry_dir / f"cmapss_{subset}.yaml"
    registry.write_text(
        f"# C-MAPSS {subset} engines, written by `dt-platform cmapss import`.\nmachines:\n"
        + "\n".join(entries)
        + "\n"
    )
    return CmapssImport(subset, tuple(dumps), registry, len(entries), readings)


def from_warehouse(con: duckdb.DuckDBPyConnection, subset: str, split: str) -> pl.DataFrame:
    """The subset as the prognostics read it (unit, cycle, settings, sensors), from loaded readings."""
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
    return wide.select(COLUMNS).sort(["unit", "cycle"])
