"""C-MAPSS through the platform's own ingestion path: nothing lost, nothing altered."""

from pathlib import Path

import pytest
from click.testing import CliRunner

from dt_platform.cli import main
from dt_platform.ingest.cmapss_import import from_warehouse, read_cmapss_file
from dt_platform.ingest.loader import ingest_landing
from dt_platform.ingest.registry import load_registry, sync_registry
from dt_platform.warehouse import Warehouse

DATA = Path(__file__).resolve().parents[3] / "shared" / "data" / "cmapss"
pytestmark = [
    pytest.mark.cmapss,
    pytest.mark.slow,
    pytest.mark.skipif(
        not (DATA / "train_FD001.txt").exists(), reason=f"C-MAPSS data not found in {DATA}"
    ),
]


def test_fd001_is_ingested_exactly_through_the_landing_path(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("DT_HOME", str(tmp_path))
    out = CliRunner().invoke(main, ["cmapss", "import", "--data", str(DATA), "--subset", "FD001"])
    assert out.exit_code == 0, out.output
    assert "200 engines" in out.output

    warehouse = Warehouse(tmp_path / "warehouse.duckdb")
    with warehouse.write() as con:
        sync_registry(con, load_registry(tmp_path / "machines.yaml"))
        summary = ingest_landing(con, tmp_path / "landing")
    train, test = (
        read_cmapss_file(DATA / "train_FD001.txt"),
        read_cmapss_file(DATA / "test_FD001.txt"),
    )
    assert summary.rows_in == (train.height + test.height) * 24
    assert summary.rows_rejected == 0 and summary.rows_loaded == summary.rows_in

    with warehouse.read() as con:
        assert (
            con.execute("SELECT count(*) FROM machines WHERE machine_type = 'turbofan'").fetchone()[
                0
            ]
            == 200
        )
        assert from_warehouse(con, "FD001", "train").equals(train)
        assert from_warehouse(con, "FD001", "test").equals(test)
