"""`dt-platform simulate` through click's CliRunner."""

from __future__ import annotations

import pyarrow.parquet as pq
from click.testing import CliRunner

from dt_platform.sim.cli import simulate


def test_simulate_command_writes_dumps_truth_and_registry(tmp_path):
    out = tmp_path / "landing"
    args = [
        "--machines",
        "3",
        "--days",
        "2",
        "--seed",
        "5",
        "--out",
        str(out),
        "--start",
        "2026-02-02",
        "--interval-s",
        "900",
        "--bad-rate",
        "0",
    ]
    result = CliRunner().invoke(simulate, args)
    assert result.exit_code == 0, result.output
    assert "readings" in result.output and "failures" in result.output
    assert {p.name for p in out.iterdir()} == {"gw-opcua", "gw-mqtt", "gw-historian", "cmms"}
    assert (tmp_path / "machines.yaml").is_file()
    injected = pq.read_table(tmp_path / "ground_truth" / "injected.parquet").to_pylist()
    bad = [
        i
        for i in injected
        if not i["kind"].startswith("duplicate_") and i["kind"] != "out_of_range"
    ]
    assert bad == []  # --bad-rate 0 disables bad input
    other = [
        *("--machines", "3", "--days", "2", "--seed", "5", "--start", "2026-02-02"),
        *("--interval-s", "900", "--bad-rate", "0", "--out", str(tmp_path / "o2")),
        *("--truth", str(tmp_path / "t2"), "--registry", str(tmp_path / "r2.yaml")),
    ]
    again = CliRunner().invoke(simulate, other)
    assert again.exit_code == 0, again.output
    assert (tmp_path / "r2.yaml").read_bytes() == (tmp_path / "machines.yaml").read_bytes()


def test_simulate_command_explains_bad_arguments(tmp_path):
    result = CliRunner().invoke(simulate, ["--out", str(tmp_path / "x"), "--interval-s", "7"])
    assert result.exit_code != 0
    assert "must divide 3600" in result.output
    result = CliRunner().invoke(
        simulate,
        [
            "--out",
            str(tmp_path / "x"),
            "--truth",
            str(tmp_path / "x" / "t"),
            "--days",
            "1",
            "--machines",
            "1",
            "--interval-s",
            "3600",
        ],
    )
    assert result.exit_code != 0
    assert "inside the dump folder" in result.output


def test_simulate_refuses_sizes_that_would_exhaust_the_machine(tmp_path):
    for args in (["--machines", "100000"], ["--days", "100000"], ["--machines", "0"]):
        result = CliRunner().invoke(simulate, ["--out", str(tmp_path / "x"), *args])
        assert result.exit_code == 2 and "is not in the range" in result.output, args
        assert "Traceback" not in result.output
    assert not (tmp_path / "x").exists()
