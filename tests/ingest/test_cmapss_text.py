"""The C-MAPSS text reader: other tools' spellings of the layout read alike, anything else refused
with the file, the line and the column."""

from __future__ import annotations

import codecs
from pathlib import Path

import polars as pl
import pytest

from dt_platform.ingest.cmapss_text import (
    COLUMNS,
    CmapssFormatError,
    read_cmapss_file,
    read_rul_file,
)


def _line(unit: object, cycle: object, *, s3: object = "1589.70") -> str:
    """One row of the NASA layout: unit, cycle, 3 settings, 21 sensors (s3 can be set)."""
    settings = ["-0.0007", "-0.0004", "100.0"]
    sensors = ["518.67", "641.82", str(s3)] + [f"{10 + i}.5" for i in range(18)]
    return " ".join([str(unit), str(cycle), *settings, *sensors])


NASA = "".join(f"{_line(u, c)} \n" for u, c in ((1, 1), (1, 2), (2, 1)))


def _write(tmp_path: Path, text: str | bytes, name: str = "train_FD001.txt") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    return path


def test_other_spellings_of_the_layout_read_as_the_nasa_file(tmp_path: Path) -> None:
    nasa = read_cmapss_file(_write(tmp_path, NASA))
    assert nasa.columns == list(COLUMNS) and nasa.height == 3
    assert nasa.schema["unit"] == pl.Int64 and nasa.schema["s1"] == pl.Float64
    assert nasa.select("unit", "cycle").rows() == [(1, 1), (1, 2), (2, 1)]
    for variant in (
        NASA.replace("\n", "\r\n"),
        NASA.replace(" ", "\t"),
        codecs.BOM_UTF8 + NASA.encode(),
        "\n\n" + NASA + "\n   \n",
    ):
        assert read_cmapss_file(_write(tmp_path, variant, "other.txt")).equals(nasa)


def test_a_reading_written_nan_is_missing_and_nothing_else_moves(tmp_path: Path) -> None:
    text = _line(1, 1) + "\n" + _line(1, 2, s3="nan") + "\n" + _line(1, 3, s3="NaN") + "\n"
    frame = read_cmapss_file(_write(tmp_path, text))
    assert frame["s3"].to_list() == [1589.70, None, None]
    assert frame.null_count().row(0) == tuple(2 if c == "s3" else 0 for c in COLUMNS)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (_line(1, 1) + "\n" + _line(1, 2, s3="abc"), ":2: s3 is 'abc', not a number"),
        (_line(1, 1, s3="9" * 5000 + "x"), ":1: s3 is '" + "9" * 40 + "…', not a number"),
        (_line("1.5", 1), ":1: unit 1.5 is not a whole number from 0 to 2^53"),
        (_line(1, -3), ":1: cycle -3 is not a whole number from 0 to 2^53"),
        (_line(1, "nan"), ":1: cycle nan is not a whole number"),
        (_line(1, 2**60), ":1: cycle 1.15292e+18 is not a whole number from 0 to 2^53"),
        (_line(1, 1, s3="inf"), ":1: s3 inf is infinite (write nan for a missing reading)"),
        (
            _line(1, 1) + " 7",
            ":1: expected 26 values (unit, cycle, 3 settings, 21 sensors), found 27",
        ),
        (
            "\n".join([_line(1, 1), _line(2, 1), _line(1, 1)]),
            ":3: unit 1 cycle 1 again (first on line 1)",
        ),
        ("  \n\n", " holds no data"),
    ],
)
def test_what_is_not_the_layout_is_refused_with_its_place(
    tmp_path: Path, text: str, message: str
) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(CmapssFormatError) as err:
        read_cmapss_file(path)
    assert str(err.value).startswith(str(path)) and message in str(err.value)
    assert len(str(err.value)) < 300


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (NASA.encode("utf-16"), "UTF-16 text; save it as ASCII or UTF-8"),
        (NASA.encode() + b"\xff\xfe\x00", "not ASCII / UTF-8 text (byte 0xff at offset"),
    ],
)
def test_a_file_that_is_not_text_is_refused(tmp_path: Path, raw: bytes, message: str) -> None:
    with pytest.raises(CmapssFormatError, match=message.replace("(", r"\(")):
        read_cmapss_file(_write(tmp_path, raw))


def test_rul_file_values_and_refusals(tmp_path: Path) -> None:
    assert read_rul_file(_write(tmp_path, "112 \n98\r\n\n69 7.5\n", "RUL_FD001.txt")) == [
        112.0,
        98.0,
        69.0,
        7.5,
    ]
    for text, message in (
        ("112\n-5\n", ":2: RUL '-5' is not a finite number of cycles ≥ 0"),
        ("nan\n", ":1: RUL 'nan' is not a finite number"),
        ("inf\n", ":1: RUL 'inf' is not a finite number"),
        ("12\n\nx\n", ":3: RUL 'x' is not a number"),
    ):
        with pytest.raises(CmapssFormatError, match=message):
            read_rul_file(_write(tmp_path, text, "RUL_FD001.txt"))


def test_an_import_sends_no_reading_for_a_missing_one_and_reads_the_gaps_back(
    tmp_path: Path, monkeypatch
) -> None:
    from click.testing import CliRunner

    from dt_platform.cli import main
    from dt_platform.ingest.cmapss_import import from_warehouse
    from dt_platform.ingest.loader import ingest_landing
    from dt_platform.ingest.registry import load_registry, sync_registry
    from dt_platform.phm.cmapss import make_synthetic_subset, write_subset
    from dt_platform.warehouse import Warehouse

    train, test, rul = make_synthetic_subset(n_train=3, n_test=2, n_regimes=1, seed=1, missing=0.1)
    test = test.with_columns(pl.lit(None, pl.Float64).alias("s9"))  # a sensor never read
    write_subset(tmp_path / "data", "FD009", train, test, rul.select("unit", "rul"))
    home = tmp_path / "home"
    monkeypatch.setenv("DT_HOME", str(home))
    out = CliRunner().invoke(
        main, ["cmapss", "import", "--data", str(tmp_path / "data"), "--subset", "FD009"]
    )
    assert out.exit_code == 0, out.output
    warehouse = Warehouse(home / "warehouse.duckdb")
    with warehouse.write() as con:
        sync_registry(con, load_registry(home / "machines.yaml"))
        summary = ingest_landing(con, home / "landing")
    cells = (train.height + test.height) * (len(COLUMNS) - 2)
    missing = sum(f.select(COLUMNS[2:]).null_count().sum_horizontal().item() for f in (train, test))
    assert 0 < missing < cells
    assert summary.rows_in == cells - missing == summary.rows_loaded
    with warehouse.read() as con:
        for split, frame in (("train", train), ("test", test)):
            back = from_warehouse(con, "FD009", split)
            assert (
                back.select(COLUMNS[2:]).null_count().equals(frame.select(COLUMNS[2:]).null_count())
            )
            assert back.equals(read_cmapss_file(tmp_path / "data" / f"{split}_FD009.txt"))


def test_an_import_with_one_bad_file_writes_nothing(tmp_path: Path) -> None:
    from dt_platform.ingest.cmapss_import import import_subset

    data = tmp_path / "data"
    data.mkdir()
    _write(data, NASA, "train_FD009.txt")
    _write(data, NASA + _line(3, 1, s3="x") + "\n", "test_FD009.txt")
    _write(data, "10\n20\n30\n", "RUL_FD009.txt")
    landing, registry = tmp_path / "landing", tmp_path / "machines.yaml"
    with pytest.raises(CmapssFormatError, match=r"test_FD009.txt:4: s3 is 'x'"):
        import_subset(data, "FD009", landing, registry)
    assert not landing.exists() and not (tmp_path / "machines.d").exists()
    _write(data, NASA, "test_FD009.txt")
    done = import_subset(data, "FD009", landing, registry)
    assert done.engines == 4 and done.readings == 6 * 24
    assert sorted(p.name for p in (landing / "cmapss").iterdir()) == [
        "FD009_test.parquet",
        "FD009_train.parquet",
    ]
