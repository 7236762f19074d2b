"""``benchmarks/simulated_phm.py`` as a user runs it: one JSON line with the alert and interval
figures on a fleet it was not trained on, and a training fleet too small for the data branch
said in one line (exit 2), not a traceback."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import polars as pl
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
    ok = bench(
        "--train-machines", "4", "--train-days", "90", "--eval-seeds", "9,10",
        "--fixed-rules", "168/0.1/24,168/0.9/24",
    )  # fmt: skip
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
    # the attention the alerts cost: all hours, and the hours far from any failure
    assert out["alerting_share"] == pytest.approx(
        out["alerting_predictions"] / out["predictions"], abs=1e-4
    )
    assert out["standing_share"] is None or 0.0 <= out["standing_share"] <= 1.0
    # the share is over the judged episodes; the open ones are counted beside it
    judged = out["alert_episodes"] - out["alert_episodes_open"]
    assert 0 <= out["alert_episodes_open"] <= out["alert_episodes"]
    assert out["false_alarm_episodes"] <= judged
    if judged:
        assert out["false_alarm_episode_share"] == pytest.approx(
            out["false_alarm_episodes"] / judged, abs=1e-4
        )
    # several evaluation fleets: each one's figures, and their means; a type missing from a
    # small fleet is averaged over the fleets that have it
    fleets = out["per_seed"].values()
    assert out["eval_seeds"] == [9, 10] and set(out["per_seed"]) == {"9", "10"}
    assert any(len(v["rmse"]) < len(out["mean"]["rmse"]) for v in fleets)  # (it crashed here)
    for name, mean in [("all hours", out["mean"]["rmse_capped_all"])] + [
        (t, out["mean"]["rmse"][t]) for t in {t for v in fleets for t in v["rmse"]}
    ]:
        figures = [
            v["rmse_capped_all"] if name == "all hours" else v["rmse"].get(name) for v in fleets
        ]
        figures = [f for f in figures if f and f["rows"]]
        assert mean["fleets"] == len(figures) >= 1, name
        for branch in ("physics", "ml", "fused"):
            expected = sum(f[branch] for f in figures) / len(figures)
            assert mean[branch] == pytest.approx(expected, abs=0.01), (name, branch)
    # fixed rules are scored on the same predictions: the lower threshold alerts on a superset
    # of hours (so warns at least as many failures in time), and one equal to the chosen rule
    # scores as it does
    chosen = out["alert_rule"]
    for v in fleets:
        low, high = v["alert_fixed_rules"]
        assert (low["rule"], high["rule"]) == ("168/0.1/24", "168/0.9/24")
        if v["warned_24h_share"] is not None:
            assert low["warned_24h_share"] >= high["warned_24h_share"]
        for fixed in (low, high):
            h, t, w = (float(x) for x in fixed["rule"].split("/"))
            if (h, t, w) == (chosen["horizon_h"], chosen["threshold"], chosen["smoothing_h"]):
                assert fixed["warned_24h_share"] == v["warned_24h_share"]
    assert [f["rule"] for f in out["mean"]["alert_fixed_rules"]] == ["168/0.1/24", "168/0.9/24"]
    # the cold-start warning alone, per type; its means pool the fleets' failures and episodes
    for t, mean in out["mean"]["limit_projection"].items():
        figures = [v["limit_projection"][t] for v in fleets if t in v["limit_projection"]]
        assert mean["fleets"] == len(figures) >= 1
        for f in figures:
            assert f["failures_warned_24h"] <= f["failures_scored"]
            assert f["false_alarm_episodes"] <= f["alert_episodes"] - f["alert_episodes_open"]
        scored = sum(f["failures_scored"] for f in figures)
        assert mean["failures_scored"] == scored
        if scored:
            warned = sum(f["failures_warned_24h"] for f in figures)
            assert mean["warned_24h_share"] == pytest.approx(warned / scored, abs=1e-4)
    # whether the fused-or-fallback choice held, type by type: per fleet, and pooled
    for t, pooled in out["mean"]["fused_vs_ml_by_type"].items():
        per_fleet = [v["fused_vs_ml_by_type"][t] for v in fleets if t in v["fused_vs_ml_by_type"]]
        assert pooled["lives"] == sum(f["lives"] for f in per_fleet) >= 1
        assert 0 <= pooled["lives_ml_better"] <= pooled["lives"]
        assert 0 < pooled["p_ml_better"] <= 1 and 0 < pooled["p_fused_better"] <= 1
    assert all("life_losses" not in v for v in fleets) and "life_losses" not in out
    bad = bench("--fixed-rules", "168/0.4")
    assert bad.returncode == 2 and "expected horizon/threshold/smoothing" in bad.stderr
    short = bench("--train-machines", "4", "--train-days", "20", "--eval-seed", "9")
    assert short.returncode == 2 and short.stdout == ""
    assert "simulated_phm: error:" in short.stderr and "run-to-failure lives" in short.stderr
    assert "Traceback" not in short.stderr


def test_simulator_settings_out_of_range_are_one_usage_line_before_anything_runs() -> None:
    for args, message in (
        (("--train-machines", "0"), "machines=0: simulate at least 1 machine"),
        (("--eval-days", "0"), "days=0: simulate at least 1 day"),
        (("--interval-s", "7"), "interval_s=7: must divide 3600"),
    ):
        out = bench(*args)
        assert out.returncode == 2 and "Traceback" not in out.stderr, out.stderr
        assert f"simulated_phm.py: error: invalid simulator settings: {message}" in out.stderr
    for args, message in (
        (("--eval-seed", "9", "--eval-seeds", "10,11"), "not allowed with argument"),
        (("--eval-seeds", "9,x"), "--eval-seeds: expected comma-separated integers, got '9,x'"),
        (("--eval-seeds", "9,10,9"), "--eval-seeds: expected distinct seeds, got '9,10,9'"),
        (("--eval-seeds", ","), "--eval-seeds: expected at least one seed, got ','"),
    ):
        out = bench(*args)
        assert out.returncode == 2 and "Traceback" not in out.stderr, out.stderr
        assert message in out.stderr and out.stdout == ""


def test_the_fused_or_fallback_choice_is_judged_life_by_life_and_pooled_over_fleets() -> None:
    spec = importlib.util.spec_from_file_location("simulated_phm", SCRIPT)
    assert spec is not None and spec.loader is not None
    bench_module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench_module)
    rows = []
    for life in range(6):  # servo: the data branch better on every life; oven: the fusion
        for hours in (10.0, 50.0):
            rows.append(("servo_drive", f"S{life}", life, hours, hours + 5, hours + 1))
            rows.append(("reflow_oven", f"O{life}", None, hours, hours + 1, hours + 9))
    columns = ("machine_type", "machine_id", "component_installed_at", "true_rul_h")
    scored = pl.DataFrame(rows, schema=[*columns, "rul_fused_h", "rul_ml_h"], orient="row")
    losses = bench_module.life_losses(scored)
    assert losses["servo_drive"] == {"fused": [25.0] * 6, "ml": [1.0] * 6}
    assert losses["reflow_oven"] == {"fused": [1.0] * 6, "ml": [81.0] * 6}
    one = bench_module.fused_vs_ml([losses])
    assert one["servo_drive"]["lives_ml_better"] == 6 and one["reflow_oven"]["lives_ml_better"] == 0
    assert one["servo_drive"]["p_ml_better"] == pytest.approx(
        1 / 64, abs=1e-4
    )  # exact: 2^-6, rounded
    assert one["reflow_oven"]["p_fused_better"] == pytest.approx(1 / 64, abs=1e-4)
    two = bench_module.fused_vs_ml([losses, {"servo_drive": losses["servo_drive"]}])
    assert two["servo_drive"]["lives"] == 12 and two["reflow_oven"]["lives"] == 6
    assert two["servo_drive"]["p_ml_better"] < 0.001 and np.isfinite(
        two["servo_drive"]["p_fused_better"]
    )
