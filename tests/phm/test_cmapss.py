"""C-MAPSS loader and the end-to-end pipeline, incl. a synthetic six-regime (FD002-like) subset."""

import importlib.util
import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from dt_platform.phm.cmapss import (
    COLUMNS,
    HybridModel,
    PipelineConfig,
    choose_design,
    fit_hybrid,
    load_subset,
    load_train,
    make_synthetic_subset,
    run_benchmark,
    select_physics,
    write_subset,
)
from dt_platform.phm.cmapss.benchmark import fused_vs_branches
from dt_platform.phm.scoring import phm08_score
from tests.phm.cmapss_fixtures import LIGHT

REPO = Path(__file__).resolve().parents[2]
DATA = REPO.parent / "shared" / "data" / "cmapss"
needs_fd001 = pytest.mark.skipif(
    not (DATA / "train_FD001.txt").is_file(), reason=f"C-MAPSS FD001 not found in {DATA}"
)
REQUIRED = {
    "benchmark",
    "subset",
    "rmse_physics",
    "rmse_ml",
    "rmse_fused",
    "score_physics",
    "score_ml",
    "score_fused",
    "coverage_90",
    "train_s",
    "rmse_fused_capped",
    "n_test_units",
    "model_version",
}


@pytest.mark.cmapss
@needs_fd001
def test_load_fd001_as_published() -> None:
    train, test, rul = load_subset(DATA, "FD001")
    assert train.columns == list(COLUMNS) and test.columns == list(COLUMNS)
    assert (train.height, test.height, rul.height) == (20631, 13096, 100)
    assert train["unit"].n_unique() == 100 and test["unit"].n_unique() == 100
    first = (DATA / "train_FD001.txt").read_text().split("\n", 1)[0].split()
    assert train.row(0) == pytest.approx([float(v) for v in first])
    assert rul["rul"].to_list()[:3] == [
        float(v) for v in (DATA / "RUL_FD001.txt").read_text().split()[:3]
    ]


def test_loader_reports_file_and_line(tmp_path: Path) -> None:
    train, test, rul = make_synthetic_subset(n_train=2, n_test=2, n_regimes=1, seed=0)
    write_subset(tmp_path, "FD009", train, test, rul)
    path = tmp_path / "test_FD009.txt"
    lines = path.read_text().splitlines()
    lines[4] = "1 5 0.1 0.2"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(ValueError, match=r"test_FD009.txt:5: expected 26"):
        load_subset(tmp_path, "FD009")
    with pytest.raises(FileNotFoundError, match="train_FD007"):
        load_subset(tmp_path, "FD007")


def test_write_and_load_round_trip(tmp_path: Path) -> None:
    train, test, rul = make_synthetic_subset(n_train=3, n_test=2, n_regimes=6, seed=1)
    write_subset(tmp_path, "FD002", train, test, rul)
    t2, _, r2 = load_subset(tmp_path, "FD002")
    assert t2.select("unit", "cycle").equals(train.select("unit", "cycle"))
    assert np.allclose(
        t2.drop("unit", "cycle").to_numpy(), train.drop("unit", "cycle").to_numpy(), atol=1e-4
    )
    assert r2["rul"].to_list() == rul["rul"].to_list()
    # the layout NASA uses: space separated, two trailing spaces, RUL lines with one
    assert (tmp_path / "train_FD002.txt").read_text().split("\n", 1)[0].endswith("  ")


def test_multi_condition_subset_runs_end_to_end(tmp_path: Path) -> None:
    """Six operating regimes (FD002/FD004 layout): regimes are found and normalized on train."""
    train, test, rul = make_synthetic_subset(n_train=18, n_test=14, n_regimes=6, seed=5)
    write_subset(tmp_path, "FD002", train, test, rul)
    out = run_benchmark(tmp_path, "FD002", LIGHT)
    assert REQUIRED <= set(out)
    assert out["subset"] == "FD002" and out["n_test_units"] == 14
    assert out["n_regimes"] == 6
    assert {"s1", "s5", "s10", "s16", "s18", "s19"}.isdisjoint(out["sensors_used"])
    assert len(out["model_version"]) == 64
    truth = rul["rul"].to_numpy()
    naive = float(np.sqrt(np.mean((truth - truth.mean()) ** 2)))
    for branch in ("physics", "ml", "fused"):
        assert np.isfinite(out[f"rmse_{branch}"]) and np.isfinite(out[f"score_{branch}"])
    assert out["rmse_fused"] < 0.8 * naive  # regime normalization works: far better than a constant
    assert 0.0 <= out["coverage_90"] <= 1.0


def test_hybrid_predictions_and_version_are_deterministic() -> None:
    train, test, _ = make_synthetic_subset(n_train=12, n_test=6, n_regimes=6, seed=7)
    a, b = fit_hybrid(train, LIGHT), fit_hybrid(train, LIGHT)
    assert a.version == b.version
    pa = a.predict(test)
    assert pa.equals(b.predict(test))
    assert pa.height == 6
    cols = ["rul_phys_lo", "rul_phys", "rul_phys_hi"]
    assert (pa[cols[0]] <= pa[cols[1]]).all() and (pa[cols[1]] <= pa[cols[2]]).all()
    assert (pa["rul_fused_lo"] <= pa["rul_fused"]).all() and (
        pa["rul_fused"] <= pa["rul_fused_hi"]
    ).all()
    # predicting every row: the last row of each unit equals the last-row prediction
    every = a.predict(test, last_only=False)
    assert every.group_by("unit", maintain_order=True).tail(1).equals(pa)


@pytest.mark.slow
def test_similarity_physics_branch_end_to_end_multi_condition(tmp_path: Path) -> None:
    """The similarity degradation model through the whole pipeline on a six-regime fleet."""
    train, test, rul = make_synthetic_subset(n_train=18, n_test=10, n_regimes=6, seed=5)
    write_subset(tmp_path, "FD004", train, test, rul)
    config = replace(LIGHT, physics_method="similarity", sim_temperature=3.0)
    out = run_benchmark(tmp_path, "FD004", config)
    assert REQUIRED <= set(out) and out["n_regimes"] == 6
    assert "similarity" in out["physics_branch"]
    assert out["config"]["physics_method"] == "similarity"
    truth = rul["rul"].to_numpy()
    naive = float(np.sqrt(np.mean((truth - truth.mean()) ** 2)))
    assert out["rmse_physics"] < naive  # the fleet curves carry the RUL, regimes normalized away
    assert out["rmse_fused"] < 0.8 * naive
    model = fit_hybrid(train, config)
    again = HybridModel.from_bytes(model.to_bytes())
    assert again.physics.method == "similarity"
    assert again.predict(test).equals(model.predict(test))
    assert again.version == model.version
    pred = model.predict(test)
    assert (pred["rul_phys_lo"] <= pred["rul_phys"]).all()
    assert (pred["rul_phys"] <= pred["rul_phys_hi"]).all()


@pytest.mark.slow
def test_select_physics_compares_designs_on_training_units_only(tmp_path: Path) -> None:
    train, test, rul = make_synthetic_subset(n_train=15, n_test=3, n_regimes=1, seed=3)
    write_subset(tmp_path, "FD001", train, test, rul)
    (tmp_path / "test_FD001.txt").unlink()  # selection must not need the test files
    (tmp_path / "RUL_FD001.txt").unlink()
    candidates = [
        {"physics_method": "exponential"},
        {"physics_method": "similarity", "sim_temperature": 3.0},
    ]
    loaded = load_train(tmp_path, "FD001")
    table = select_physics(loaded, candidates, LIGHT)
    rows = table["candidates"]
    assert [r["design"]["physics_method"] for r in rows] == ["exponential", "similarity"]
    # one XGBoost branch shared by every candidate: identical ML metrics, different physics
    assert rows[0]["rmse_ml"] == rows[1]["rmse_ml"]
    assert rows[0]["rmse_physics"] != rows[1]["rmse_physics"]
    assert table["chosen"] in (0, 1) and table["best_cv_rmse"] in (0, 1)
    assert (table["best_cv_rmse"], table["chosen"]) == choose_design(rows)
    baseline = table["ml_recalibrated_no_physics"]
    assert np.isfinite(baseline["rmse_fused"]) and baseline["rmse_fused"] != rows[0]["rmse_fused"]
    # the incumbent's CV equals a full fit_hybrid run with the same design
    assert rows[0]["rmse_fused"] == pytest.approx(fit_hybrid(loaded, LIGHT).cv["rmse_fused"])
    with pytest.raises(ValueError, match="design keys"):
        select_physics(loaded, [{"cap": 130.0}], LIGHT)


def test_design_rule_needs_a_clear_cv_gain_to_replace_the_incumbent() -> None:
    def row(rmse: float, score: float) -> dict:
        return {"rmse_fused": rmse, "score_fused_per_row": score}

    assert choose_design([row(10.6, 1.7), row(10.3, 1.6)]) == (1, 1)
    assert choose_design([row(10.6, 1.7), row(10.55, 1.6)]) == (1, 0)  # within fold noise
    assert choose_design([row(10.6, 1.7), row(10.3, 1.8)]) == (1, 0)  # worse PHM08 score
    assert choose_design([row(10.6, 1.7), row(10.8, 1.5)]) == (0, 0)
    assert choose_design([row(10.6, 1.7), row(10.45, 1.7)], min_gain=0.2) == (1, 0)
    with pytest.raises(ValueError, match="no candidates"):
        choose_design([])


@pytest.mark.slow
def test_benchmark_script_prints_one_json_line(tmp_path: Path) -> None:
    train, test, rul = make_synthetic_subset(n_train=16, n_test=8, n_regimes=1, seed=9)
    write_subset(tmp_path, "FD001", train, test, rul)
    proc = subprocess.run(
        [
            sys.executable,
            str(REPO / "benchmarks" / "cmapss.py"),
            "--data",
            str(tmp_path),
            "--n-estimators",
            "20",
            "--quantile-estimators",
            "10",
            "--seeds",
            "0,1",
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
    )
    lines = proc.stdout.strip().splitlines()
    assert len(lines) == 1
    out = json.loads(lines[0])
    assert REQUIRED <= set(out) and out["benchmark"] == "cmapss" and out["n_test_units"] == 8
    assert out["seeds"] == [0, 1] and len(out["per_seed"]) == 2
    runs = [run["rmse_fused"] for run in out["per_seed"]]
    assert out["rmse_fused"] == pytest.approx(np.mean(runs))
    assert out["rmse_fused_sd"] == pytest.approx(np.std(runs, ddof=1))
    assert {"score_fused_sd", "coverage_90", "rmse_perfect_capped"} <= set(out)
    assert all(run["fusion_inputs"] in ([], ["cycle"]) for run in out["per_seed"])
    assert all(isinstance(run["fusion_confidence"], bool) for run in out["per_seed"])
    # where the held-out fusion gains and loses: bands of the true RUL up to the horizon (150)
    bands = out["cv_by_rul_band"]
    assert [(b["rul_from"], b["rul_to"]) for b in bands] == [
        (0.0, 62.5),
        (62.5, 100.0),
        (100.0, 125.0),
        (125.0, 150.0),
    ]
    assert all(b["rows"] > 0 and b["rmse_fused"] > 0 for b in bands)
    # and the test set's own: every test unit in one band, the top band past the horizon
    tested = out["test_by_rul_band"]
    assert sum(b["rows"] for b in tested) == 8 and len(out["per_seed"][0]["test_by_rul_band"])
    assert [b["rul_from"] for b in tested] == sorted(b["rul_from"] for b in tested)
    assert all(b["rul_to"] <= 150.0 or b["rul_from"] == 150.0 for b in tested)
    synthetic = subprocess.run(
        [
            sys.executable,
            str(REPO / "benchmarks" / "cmapss.py"),
            "--synthetic",
            "two_faults",
            "--units",
            "12",
            "--seeds",
            "3",
            "--n-estimators",
            "20",
            "--quantile-estimators",
            "10",
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
    )
    out = json.loads(synthetic.stdout)
    assert out["data"]["synthetic"] == "two_faults" and out["data"]["fault_modes"] == 2
    assert out["seeds"] == [3] and out["n_test_units"] == 12
    assert out["missing_readings"] == {"train": 0, "test": 0}
    # the Bayes bound of the same 12 test units, from the generator's own law
    assert set(out["test_fused_vs_branches"]) == {"ml", "physics"}
    bound = out["bayes_bound"]
    assert set(bound) == {
        "rmse_bayes",
        "rmse_bayes_rows",
        "rmse_bayes_capped",
        "rmse_perfect_capped",
    }
    assert all(np.isfinite(v) and v >= 0 for v in bound.values())
    bad = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "cmapss.py"), "--seeds", "one"],
        capture_output=True,
        text=True,
    )
    assert (
        bad.returncode == 2 and "argument --seeds: expected comma-separated integers" in bad.stderr
    )
    for args, message in (
        (("--seeds", "0,1,0"), "argument --seeds: expected distinct seeds, got '0,1,0'"),
        (("--data", str(tmp_path), "--synthetic", "fd001_like"), "not allowed with argument"),
    ):
        refused = subprocess.run(
            [sys.executable, str(REPO / "benchmarks" / "cmapss.py"), *args],
            capture_output=True,
            text=True,
        )
        assert refused.returncode == 2 and message in refused.stderr and refused.stdout == ""
    missing = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "cmapss.py"), "--data", str(tmp_path / "none")],
        capture_output=True,
        text=True,
    )
    assert missing.returncode == 2 and "not found" in missing.stderr
    few = tmp_path / "few"
    write_subset(few, "FD001", train.filter(pl.col("unit") <= 3), test, rul)
    small = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "cmapss.py"), "--data", str(few)],
        capture_output=True,
        text=True,
    )
    assert small.returncode == 2 and small.stdout == ""
    assert "cmapss: error: 3 training unit(s)" in small.stderr and "Traceback" not in small.stderr


def test_benchmark_prints_strict_json_where_a_figure_overflows(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A PHM08 score past the float range (estimates thousands of cycles off, as a physics
    branch may give on lives of thousands of cycles) is printed as null, never as the
    ``Infinity`` token that strict JSON readers refuse."""
    spec = importlib.util.spec_from_file_location("cmapss_bench", REPO / "benchmarks" / "cmapss.py")
    assert spec is not None and spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    with np.errstate(over="ignore"):
        score = phm08_score(np.array([9500.0]), np.array([0.0]))
    assert np.isinf(score)
    bench._emit({"score_physics": np.float64(score), "rmse": np.float64(2.5), "nan": float("nan")})
    line = capsys.readouterr().out
    assert "Infinity" not in line and "NaN" not in line
    assert json.loads(line) == {"score_physics": None, "rmse": 2.5, "nan": None}


def test_the_booster_sees_the_units_age_and_grows_a_forest_per_round() -> None:
    """The data branch's design chosen by CV (unit age as a feature, 4 trees a round): both
    reach the booster, and a bundle from before the age feature still predicts with its own
    features."""
    train, test, _ = make_synthetic_subset(n_train=10, n_test=4, n_regimes=1, seed=3)
    config = replace(LIGHT, params=replace(LIGHT.params, num_parallel_tree=4))
    model = fit_hybrid(train, config)
    assert "cycle" in model.ml.feature_columns
    booster = json.loads(model.ml.point.save_config())
    assert booster["learner"]["gradient_booster"]["gbtree_model_param"]["num_parallel_tree"] == "4"
    assert PipelineConfig().age_feature and PipelineConfig().params.num_parallel_tree == 4

    without = fit_hybrid(train, replace(LIGHT, age_feature=False))
    assert "cycle" not in without.ml.feature_columns
    old = without.config.describe()
    del old["age_feature"], old["params"]["num_parallel_tree"]  # as bundles before the change
    again = PipelineConfig.from_dict(old)
    assert not again.age_feature and again.params.num_parallel_tree == 1
    assert HybridModel.from_bytes(without.to_bytes()).predict(test).equals(without.predict(test))


def test_the_fuser_weighs_the_units_age_where_held_out_units_say_it_helps() -> None:
    """The fuser's stack may take the unit's age besides the two branches: kept where, on the
    held-out training units, it lowers the fused RMSE without raising the PHM08 score. On
    alike lives the age tells what is left and is kept; on ten units of lives 120-260 it is
    not. The bundle keeps the choice; a bundle from before it fuses the branches alone."""
    assert PipelineConfig().fusion_inputs == ("cycle",)
    # ten units: keep the fusion to look at it, with two knots (five units each, enough for four
    # terms) and the age as its only further term
    config = replace(LIGHT, fusion_fallback=False, fusion_confidence=False, fusion_knots=2)
    alike, test, _ = make_synthetic_subset(
        n_train=10, n_test=4, n_regimes=1, seed=3, life=(200, 210)
    )
    model = fit_hybrid(alike, config)
    choice = model.cv["fusion_terms"]
    plain, aged = choice["candidates"]
    assert choice["inputs"] == ["cycle"] and aged["inputs"] == ["cycle"]
    assert aged["rmse_fused"] < plain["rmse_fused"]
    assert aged["score_fused_per_row"] <= plain["score_fused_per_row"]
    assert model.cv["rmse_fused"] == aged["rmse_fused"]
    assert model.fuser.inputs == ("cycle",) and not model.fuser.confidence
    assert len(model.fuser.coef) == 4 * len(model.fuser.knots)  # β0, ML, physics, age per knot
    assert HybridModel.from_bytes(model.to_bytes()).predict(test).equals(model.predict(test))
    rows = model.predict(test)
    later = rows.with_columns(pl.col("cycle") + 40)  # the same branch values, later in life
    assert not model.fuser.predict(later)["rul_fused"].equals(
        model.fuser.predict(rows)["rul_fused"]
    )

    spread, _, _ = make_synthetic_subset(n_train=10, n_test=4, n_regimes=1, seed=3)
    choice = fit_hybrid(spread, config).cv["fusion_terms"]
    plain, aged = choice["candidates"]
    assert choice["inputs"] == [] and aged["rmse_fused"] > plain["rmse_fused"]

    without = fit_hybrid(alike, replace(config, fusion_inputs=()))
    assert without.cv["fusion_terms"]["inputs"] == []
    assert len(without.cv["fusion_terms"]["candidates"]) == 1
    assert without.fuser.inputs == () and len(without.fuser.coef) == 3 * len(without.fuser.knots)
    assert without.fuser.predict(later).equals(without.fuser.predict(rows))
    old = without.config.describe()
    del old["fusion_inputs"], old["fusion_confidence"]  # as bundles before the changes
    again = PipelineConfig.from_dict(old)
    assert again.fusion_inputs == () and not again.fusion_confidence


def test_the_fuser_weighs_the_branches_confidence_where_held_out_units_say_it_helps() -> None:
    """Three nested fusers are scored on the held-out training units (the branches alone, with
    the age, with the branches' confidence too): the one kept has the lowest RMSE among those
    whose PHM08 score per row is no higher than the plain fuser's. A fuser with more terms a
    knot than the fleet has training units a knot (three for the plain three terms, one more
    per further term) is not tried."""
    assert PipelineConfig().fusion_confidence
    config = replace(LIGHT, fusion_fallback=False, fusion_knots=2)  # six short lives a knot
    kept = []
    for seed in (2, 1):
        train, test, _ = make_synthetic_subset(
            n_train=12, n_test=4, n_regimes=1, seed=seed, life=(40, 90), test_rul=(3, 60)
        )
        model = fit_hybrid(train, config)
        choice = model.cv["fusion_terms"]
        candidates = choice["candidates"]
        assert [(c["inputs"], c["confidence"]) for c in candidates] == [
            ([], False),
            (["cycle"], False),
            (["cycle"], True),
        ]
        admitted = [
            c
            for c in candidates
            if c["score_fused_per_row"] <= candidates[0]["score_fused_per_row"]
        ]
        best = min(admitted, key=lambda c: c["rmse_fused"])
        assert (choice["inputs"], choice["confidence"]) == (best["inputs"], best["confidence"])
        assert model.cv["rmse_fused"] == best["rmse_fused"]
        assert model.fuser.confidence == best["confidence"]
        assert list(model.fuser.inputs) == best["inputs"]
        terms = 3 + len(best["inputs"]) + 2 * best["confidence"]
        assert len(model.fuser.coef) == terms * len(model.fuser.knots)
        assert HybridModel.from_bytes(model.to_bytes()).predict(test).equals(model.predict(test))
        kept.append(model.fuser.confidence)
    assert kept == [True, False]  # kept on one fleet, not on the other
    # twelve units on four knots (three a knot): the plain fuser only
    few = fit_hybrid(train, replace(config, fusion_knots=4)).cv["fusion_terms"]
    assert [(c["inputs"], c["confidence"]) for c in few["candidates"]] == [([], False)]


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ({"cap": float("nan")}, "cap must be positive"),
        ({"cap": 0.0}, "cap must be positive"),
        ({"horizon": -5.0}, "horizon must be positive: the true RUL up to which the fuser"),
        ({"horizon": float("nan")}, "horizon must be positive"),
        ({"coverage": 1.0}, r"coverage must be a share in \(0, 1\)"),
    ],
)
def test_a_setting_out_of_range_is_refused_when_the_config_is_made(
    setting: dict, message: str
) -> None:
    # before, a NaN cap reached XGBoost (a C++ backtrace) and a negative horizon left the
    # fuser without rows ("0 complete rows are too few for 6 knots")
    with pytest.raises(ValueError, match=message):
        PipelineConfig(**setting)


def test_the_test_set_says_whether_a_branch_beats_the_fusion_beyond_chance() -> None:
    """Per-unit errors of two seeds: a branch better on every unit is beyond chance, one that
    differs from the fusion by noise is not, and the gap is pooled over the seeds."""
    rng = np.random.default_rng(0)
    fused = [rng.normal(0, 10, 40) for _ in range(2)]
    errors = {
        "fused": fused,
        "ml": [0.5 * e for e in fused],  # better on every unit
        "physics": [e * rng.choice([0.9, 1.1], 40) for e in fused],  # as good, give or take
    }
    out = fused_vs_branches(errors)
    ml, physics = out["ml"], out["physics"]
    pooled = np.sqrt(np.mean(np.square(fused)))
    assert ml["rmse_gap"] == pytest.approx(pooled / 2)
    assert ml["score_gap"] == pytest.approx(
        np.mean([phm08_score(e, 0 * e) - phm08_score(e / 2, 0 * e) for e in fused])
    )
    for figure in ("rmse", "score"):
        assert ml[f"p_branch_better_{figure}"] < 0.001 and ml[f"p_fused_better_{figure}"] > 0.99
        assert physics[f"p_branch_better_{figure}"] > 0.05
        assert physics[f"p_fused_better_{figure}"] > 0.05
    # a physics estimate thousands of cycles late: its score is past the float range, so its
    # score has no test (null in the JSON), while its RMSE still has one
    wild = fused_vs_branches({**errors, "physics": [e + 8000.0 for e in fused]})["physics"]
    assert np.isnan(wild["p_branch_better_score"]) and np.isnan(wild["p_fused_better_score"])
    assert wild["p_fused_better_rmse"] < 0.001
    same = fused_vs_branches({"fused": fused, "ml": fused, "physics": fused})["ml"]
    assert same["rmse_gap"] == same["score_gap"] == 0.0
    assert same["p_branch_better_rmse"] == same["p_fused_better_score"] == 1.0
