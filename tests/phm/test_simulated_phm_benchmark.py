"""``benchmarks/simulated_phm.py`` as a user runs it: one JSON line with the alert and interval
figures on a fleet it was not trained on, and a training fleet too small for the data branch
said in one line (exit 2), not a traceback."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "simulated_phm.py"


def bench(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(SCRIPT), "--eval-machines", "4", "--eval-days", "20", *args],
        capture_output=True,
        text=True,
        timeout=600,
    )


@pytest.mark.slow
def test_a_small_fleet_gives_one_json_line_and_a_lifeless_one_a_clear_error() -> None:
    ok = bench("--train-machines", "4", "--train-days", "90", "--eval-seed", "9")
    assert ok.returncode == 0, ok.stderr
    (line,) = ok.stdout.splitlines()
    out = json.loads(line)
    assert out["train"] == {
        "machines": 4,
        "days": 90,
        "seed": 7,
        "failures": out["train"]["failures"],
    }
    assert out["train"]["failures"] >= 3 and out["eval"]["seed"] == 9
    assert out["failures_in_window"] >= 1  # so the shares below are defined
    for key in (
        "warned_24h_share",
        "precursor_24h_share",
        "false_alarm_episode_share",
        "false_alarm_rate",
    ):
        assert 0.0 <= out[key] <= 1.0, key
    if out["precursor_24h_share"] > 0:  # the warned share among failures a sensor could see
        assert 0.0 <= out["warned_24h_share_with_precursor"] <= 1.0
    assert 0.0 <= out["coverage_90"] <= 1.0 and out["rmse"]["all"]["rows"] > 0
    # the share is over the judged episodes; the open ones are counted beside it
    judged = out["alert_episodes"] - out["alert_episodes_open"]
    assert 0 <= out["alert_episodes_open"] <= out["alert_episodes"]
    assert out["false_alarm_episodes"] <= judged
    if judged:
        assert out["false_alarm_episode_share"] == pytest.approx(
            out["false_alarm_episodes"] / judged, abs=1e-4
        )
    short = bench("--train-machines", "4", "--train-days", "20", "--eval-seed", "9")
    assert short.returncode == 2 and short.stdout == ""
    assert "simulated_phm: error:" in short.stderr and "run-to-failure lives" in short.stderr
    assert "Traceback" not in short.stderr
