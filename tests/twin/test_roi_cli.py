"""``dt-platform roi``: JSON for scripts, a table for people, one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from dt_platform.cli import main
from dt_platform.twin import roi_outcomes
from tests.twin.roi_fixtures import synthetic


@pytest.fixture
def outcomes(tmp_path: Path) -> str:
    path = tmp_path / "outcomes.json"
    path.write_text(json.dumps(synthetic(days=90)))
    return str(path)


def roi(*args: str):
    return CliRunner().invoke(main, ["roi", *args])


def test_json_carries_the_inputs_and_is_reproducible(outcomes: str) -> None:
    args = ("--outcomes", outcomes, "--json", "--draws", "300", "--seed", "4")
    first = roi(*args, "--machines", "cnc_spindle=3,smt_placer=5", "--failure-cost", "9000")
    assert first.exit_code == 0, first.output
    doc = json.loads(first.output)
    assert doc["inputs"]["fleet"] == {"cnc_spindle": 3, "smt_placer": 5}
    assert doc["inputs"]["costs"]["unplanned_failure"] == 9000
    assert doc["inputs"]["draws"] == 300 and doc["outcomes"]["rows_per_machine_year"] == {
        "cnc_spindle": 4,
        "smt_placer": 4,
    }
    again = roi(*args, "--machines", "cnc_spindle=3,smt_placer=5", "--failure-cost", "9000")
    assert again.output == first.output
    dearer = json.loads(roi(*args, "--machines", "cnc_spindle=3,smt_placer=5").output)
    cheaper_failures = doc["annual_savings"]["predictive_vs_run_to_failure"]["p50"]
    assert dearer["annual_savings"]["predictive_vs_run_to_failure"]["p50"] > cheaper_failures


def test_the_table_says_never_when_the_platform_cannot_pay_back(outcomes: str) -> None:
    result = roi("--outcomes", outcomes, "--draws", "200", "--running-cost", "1e9")
    assert result.exit_code == 0, result.output
    assert "annual savings net of running cost" in result.output
    assert "never" in result.output and "assumption" in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--machines", "lots"), "expected a number or TYPE=N"),
        (("--machines", "reflow_oven=3"), "no 'reflow_oven' machines"),
        (("--machines", "0"), "the fleet must have 1 to"),
        (("--draws", "1"), "Invalid value for '--draws'"),
        (("--failure-cost", "-5"), "Invalid value for '--failure-cost'"),
    ],
)
def test_bad_inputs_are_refused_in_one_line(outcomes: str, args, message: str) -> None:
    result = roi("--outcomes", outcomes, *args)
    assert result.exit_code != 0 and message in result.output
    assert "Traceback" not in result.output


def test_a_missing_or_malformed_outcomes_file_is_refused(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(roi_outcomes, "BUNDLED_OUTCOMES", tmp_path / "bundled.json")
    result = roi()
    assert result.exit_code == 1 and "benchmarks/closed_loop.py --outcomes" in result.output
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"format": "something else"}))
    result = roi("--outcomes", str(bad))
    assert result.exit_code == 1 and "format: expected 'dt-closed-loop-outcomes/1'" in result.output
