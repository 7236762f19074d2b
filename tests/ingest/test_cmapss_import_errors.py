"""`dt-platform cmapss import` with bad arguments: one readable line, a non-zero exit, nothing
written (runs without the NASA data)."""

from pathlib import Path

import pytest
from click.testing import CliRunner

from dt_platform.cli import main


@pytest.mark.parametrize(
    ("subset", "files", "message"),
    [
        ("FD009", [], "train_FD009.txt is missing"),
        ("FD001", ["train_FD001.txt"], "test_FD001.txt is missing"),
        ("../../etc/x", [], "is not a C-MAPSS subset name"),
        ("FD*", [], "is not a C-MAPSS subset name"),
        ("FD001", ["train_FD001.txt", "test_FD001.txt"], "train_FD001.txt"),  # malformed
    ],
)
def test_a_bad_import_is_one_line_and_writes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, subset: str, files: list[str], message: str
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    for name in files:
        (data / name).write_text("1 1 not-a-number\n")
    monkeypatch.setenv("DT_HOME", str(tmp_path / "home"))
    result = CliRunner().invoke(main, ["cmapss", "import", "--data", str(data), "--subset", subset])
    assert result.exit_code == 1, result.output
    assert message in result.output and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert not list((tmp_path / "home").rglob("*.parquet"))
