"""C-MAPSS files: read a subset in the NASA text layout (checked line by line), write one, and
the true RUL of every training row.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

# the layout's column names are the reader's (re-exported: the pipeline imports them from here)
from dt_platform.ingest.cmapss_text import COLUMNS as COLUMNS
from dt_platform.ingest.cmapss_text import SENSORS as SENSORS
from dt_platform.ingest.cmapss_text import SETTINGS as SETTINGS
from dt_platform.ingest.cmapss_text import read_cmapss_file, read_rul_file

UNIT, TIME = "unit", "cycle"


def _read_table(path: Path) -> pl.DataFrame:
    """A train_/test_ file, checked line by line (the reader the ingestion path uses)."""
    if not path.is_file():
        raise FileNotFoundError(
            f"C-MAPSS file {path} not found. Point --data / data_dir at the folder holding "
            "train_FD00x.txt, test_FD00x.txt and RUL_FD00x.txt (see the data's SOURCE.md)."
        )
    return read_cmapss_file(path).sort([UNIT, TIME])


def load_subset(
    data_dir: str | Path, subset: str = "FD001"
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """Read one subset: ``(train, test, rul)``.

    ``train`` / ``test`` have columns ``unit, cycle, setting1..3, s1..s21``; ``rul`` has
    ``unit, rul`` — the true RUL after the last test cycle of each unit, in unit order.
    """
    data_dir = Path(data_dir)
    subset = subset.upper()
    train = _read_table(data_dir / f"train_{subset}.txt")
    test = _read_table(data_dir / f"test_{subset}.txt")
    rul_path = data_dir / f"RUL_{subset}.txt"
    if not rul_path.is_file():
        raise FileNotFoundError(f"C-MAPSS file {rul_path} not found next to the test file.")
    values = read_rul_file(rul_path)
    units = test[UNIT].unique().sort().to_list()
    if len(values) != len(units):
        raise ValueError(
            f"{rul_path}: {len(values)} RUL values but {len(units)} test units; "
            "the files do not belong together."
        )
    rul = pl.DataFrame({UNIT: units, "rul": values}, schema={UNIT: pl.Int64, "rul": pl.Float64})
    return train, test, rul


def load_train(data_dir: str | Path, subset: str = "FD001") -> pl.DataFrame:
    """Read only ``train_<subset>.txt``: model selection never needs the test or RUL files."""
    return _read_table(Path(data_dir) / f"train_{subset.upper()}.txt")


def check_series(frame: pl.DataFrame, where: str) -> None:
    """Refuse a frame that is not one row per unit and cycle: the folds keep units whole and the
    features run along each unit's cycles, so a repeated or unnamed row has no place."""
    missing = [c for c in (UNIT, TIME) if c not in frame.columns]
    if missing:
        raise ValueError(f"{where}: no {missing} column; the frame has {frame.columns[:8]}…")
    unnamed = frame.filter(pl.col(UNIT).is_null() | pl.col(TIME).is_null()).height
    if unnamed:
        raise ValueError(f"{where}: {unnamed} row(s) with no {UNIT} or {TIME}")
    repeated = frame.group_by(UNIT, TIME).len().filter(pl.col("len") > 1).sort(UNIT, TIME)
    if repeated.height:
        unit, cycle, times = repeated.row(0)
        raise ValueError(
            f"{where}: {UNIT} {unit} {TIME} {cycle} appears {times} times "
            f"({repeated.height} repeated in all); one row per {UNIT} and {TIME}"
        )


def add_train_rul(train: pl.DataFrame) -> pl.DataFrame:
    """True (uncapped) RUL of every training row: cycles left until the unit's last cycle."""
    return train.with_columns((pl.col(TIME).max().over(UNIT) - pl.col(TIME)).alias("rul"))


def _number(value: float | None) -> str:
    """A reading as the NASA files write it; a missing one as ``nan``."""
    return "nan" if value is None or value != value else f"{value:.4f}"


def write_subset(
    data_dir: str | Path,
    subset: str,
    train: pl.DataFrame,
    test: pl.DataFrame,
    rul: pl.DataFrame,
) -> None:
    """Write frames in the NASA text layout (space-separated, trailing spaces, no header)."""
    data_dir = Path(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)

    def dump(frame: pl.DataFrame, path: Path) -> None:
        with path.open("w") as fh:
            for row in frame.select(COLUMNS).iter_rows():
                head = f"{int(row[0])} {int(row[1])} "
                fh.write(head + " ".join(_number(v) for v in row[2:]) + "  \n")

    dump(train, data_dir / f"train_{subset}.txt")
    dump(test, data_dir / f"test_{subset}.txt")
    (data_dir / f"RUL_{subset}.txt").write_text("".join(f"{int(v)} \n" for v in rul["rul"]))
