"""The standard C-MAPSS protocol: train on one subset's training file, score the test units' RUL.

:func:`run_benchmark` fits and scores one seed; :func:`run_seeds` repeats it over several seeds
(the folds, the XGBoost sampling and the physics draws all follow the seed) and reports the mean
and the standard deviation of every figure, so one lucky seed cannot carry a claim.
"""

from __future__ import annotations

import time as time_mod
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from dt_platform.phm.cmapss.config import PipelineConfig
from dt_platform.phm.cmapss.data import UNIT, load_subset
from dt_platform.phm.cmapss.hybrid import HybridModel, fit_hybrid
from dt_platform.phm.cmapss.stages import cv_bands
from dt_platform.phm.evidence import sign_flip_p
from dt_platform.phm.fusion_held_out import by_truth_band
from dt_platform.phm.scoring import coverage, interval_width, phm08_score, phm08_terms, rmse

BRANCH_COLUMNS = (("physics", "rul_phys"), ("ml", "rul_mean"), ("fused", "rul_fused"))
AVERAGED = (
    *(f"{kind}_{name}" for kind in ("rmse", "score") for name, _ in BRANCH_COLUMNS),
    "rmse_fused_capped",
    "rmse_ml_capped",
    "coverage_90",
    "coverage_90_physics",
    "coverage_90_ml_capped",
    "interval_width_fused",
    "mean_w_physics",
    "train_s",
)
"""Figures :func:`run_seeds` averages over seeds (each also gets a ``<name>_sd``)."""


def score_test(model: HybridModel, test: pl.DataFrame, truth: pl.DataFrame) -> dict[str, Any]:
    """Every branch's RMSE and PHM08 score on each test unit's last cycle, and the coverage of
    the 90 % intervals, against the truth as given (and capped, where a figure says so).
    ``errors_by_unit`` keeps each branch's error per unit, for :func:`fused_vs_branches`."""
    cap = model.config.cap
    pred = model.predict(test, last_only=True).join(truth, on=UNIT, how="inner").sort(UNIT)
    y = pred["rul"].to_numpy()
    capped = np.minimum(y, cap)
    out: dict[str, Any] = {}
    for name, col in BRANCH_COLUMNS:
        out[f"rmse_{name}"] = rmse(pred[col], y)
        out[f"score_{name}"] = phm08_score(pred[col], y)
    out["rmse_fused_capped"] = rmse(pred["rul_fused"], capped)
    out["rmse_ml_capped"] = rmse(pred["rul_mean"], capped)
    out["rmse_perfect_capped"] = rmse(capped, y)
    out["coverage_90"] = coverage(pred["rul_fused_lo"], pred["rul_fused_hi"], y)
    out["coverage_90_physics"] = coverage(pred["rul_phys_lo"], pred["rul_phys_hi"], y)
    out["coverage_90_ml_capped"] = coverage(pred["rul_p05"], pred["rul_p95"], capped)
    out["interval_width_fused"] = interval_width(pred["rul_fused_lo"], pred["rul_fused_hi"])
    out["mean_w_physics"] = float(pred["w_physics"].mean())
    # where on the test set the fusion gains and loses: the held-out bands, and past the horizon
    edges = (*cv_bands(model.config), max(model.config.horizon, float(y.max())))
    out["test_by_rul_band"] = by_truth_band(
        y, *(pred[c].to_numpy() for c in ("rul_fused", "rul_mean", "rul_phys")), edges
    )
    beyond = (pred["rul_phys_lo"] >= model.config.horizon).to_numpy()
    out["units_beyond_horizon"] = int(beyond.sum()) if model.physics_beyond_horizon else 0
    out["errors_by_unit"] = {name: pred[col].to_numpy() - y for name, col in BRANCH_COLUMNS}
    return out


def fused_vs_branches(errors: Mapping[str, Sequence[np.ndarray]]) -> dict[str, dict[str, float]]:
    """Does a branch beat the fusion on the test units beyond chance, or the fusion it?

    ``errors``: per branch (``fused``, ``ml``, ``physics``), each seed's errors by unit. Per
    branch, in RMSE and in PHM08 score, pooled over the seeds: the gap (fused − branch: > 0
    where the branch is better) and the one-sided sign-flip p-values of the units' differences
    (each unit's squared error or score term, averaged over the seeds first) in the branch's
    favour and in the fusion's (:func:`~dt_platform.phm.evidence.sign_flip_p`). A hundred test
    units tell a gap of a few tenths of an RMSE from chance only rarely; this says whether they
    did.
    """
    out: dict[str, dict[str, float]] = {}
    for name in ("ml", "physics"):
        row: dict[str, float] = {}
        for figure, per_unit, total in (
            ("rmse", np.square, lambda m: float(np.sqrt(m.mean()))),
            ("score", phm08_terms, lambda m: float(m.sum())),
        ):
            with np.errstate(over="ignore", invalid="ignore"):  # a score past the float range
                fused = np.mean([per_unit(e) for e in errors["fused"]], axis=0)
                branch = np.mean([per_unit(e) for e in errors[name]], axis=0)
                diff = fused - branch
                row[f"{figure}_gap"] = total(fused) - total(branch)
            # no test where a unit's difference is not a number (the benchmark prints null)
            tested = bool(np.isfinite(diff).all())
            row[f"p_branch_better_{figure}"] = sign_flip_p(diff) if tested else float("nan")
            row[f"p_fused_better_{figure}"] = sign_flip_p(-diff) if tested else float("nan")
        out[name] = row
    return out


def _header(
    subset: str, train: pl.DataFrame, test: pl.DataFrame, model: HybridModel, n_test: int
) -> dict[str, Any]:
    return {
        "benchmark": "cmapss",
        "subset": subset.upper(),
        "n_train_units": train[UNIT].n_unique(),
        "n_test_units": n_test,
        "missing_readings": {
            name: int(frame.select(pl.sum_horizontal(pl.all().is_null()).sum()).item())
            for name, frame in (("train", train), ("test", test))
        },
        "n_regimes": model.normalizer.n_regimes,
        "sensors_used": model.normalizer.sensors,
        # as the fleet's size set them (fleet_config); ``config`` prints the ones asked for
        "n_splits": model.config.n_splits,
        "fusion_knots": model.config.fusion_knots,
    }


def _fit_scored(
    train: pl.DataFrame, test: pl.DataFrame, truth: pl.DataFrame, config: PipelineConfig
) -> tuple[HybridModel, dict[str, Any]]:
    start = time_mod.perf_counter()
    model = fit_hybrid(train, config)
    train_s = time_mod.perf_counter() - start
    scored = score_test(model, test, truth)
    scored["train_s"] = train_s
    return model, scored


def run_benchmark(
    data_dir: str | Path, subset: str = "FD001", config: PipelineConfig | None = None
) -> dict[str, Any]:
    """Train on ``train_<subset>``, predict each test unit's last cycle, score against the RUL file.

    The test and RUL files are read once, after training, for scoring only.
    """
    config = config or PipelineConfig()
    train, test, truth = load_subset(data_dir, subset)
    model, scored = _fit_scored(train, test, truth, config)
    errors = scored.pop("errors_by_unit")
    out = _header(subset, train, test, model, truth.height)
    out.update(scored)
    out["test_fused_vs_branches"] = fused_vs_branches({k: [v] for k, v in errors.items()})
    out["physics_branch"] = model.physics.describe()
    out["fused_basis"] = model.fuser.basis
    out["fusion_inputs"] = list(model.fuser.inputs)
    out["fusion_confidence"] = model.fuser.confidence
    out["physics_beyond_horizon"] = model.physics_beyond_horizon
    out["model_version"] = model.version
    out["cv"] = dict(model.cv)
    out["config"] = config.describe()
    return out


def with_seed(config: PipelineConfig, seed: int) -> PipelineConfig:
    """``config`` with every random choice (folds, XGBoost, physics draws) following ``seed``."""
    qparams = config.quantile_params
    return replace(
        config,
        seed=seed,
        params=replace(config.params, seed=seed),
        quantile_params=replace(qparams, seed=seed) if qparams is not None else None,
    )


def run_seeds(
    data_dir: str | Path,
    subset: str = "FD001",
    config: PipelineConfig | None = None,
    seeds: Sequence[int] = (0, 1, 2, 3, 4),
) -> dict[str, Any]:
    """:func:`run_benchmark` once per seed: the mean of every figure, its ``_sd``, and each run."""
    if not seeds:
        raise ValueError("run_seeds: give at least one seed.")
    config = config or PipelineConfig()
    train, test, truth = load_subset(data_dir, subset)
    runs, bands, test_bands, model = [], [], [], None
    errors: dict[str, list[np.ndarray]] = {name: [] for name, _ in BRANCH_COLUMNS}
    for seed in seeds:
        model, scored = _fit_scored(train, test, truth, with_seed(config, seed))
        for name, err in scored.pop("errors_by_unit").items():
            errors[name].append(err)
        bands.append(model.cv.get("by_truth_band", []))
        test_bands.append(scored["test_by_rul_band"])
        scored.update(
            seed=seed,
            fused_basis=model.fuser.basis,
            fusion_inputs=list(model.fuser.inputs),
            fusion_confidence=model.fuser.confidence,
            physics_beyond_horizon=model.physics_beyond_horizon,
            model_version=model.version,
            cv={k: v for k, v in model.cv.items() if isinstance(v, (int, float, str))},
        )
        runs.append(scored)
    assert model is not None
    out = _header(subset, train, test, model, truth.height)
    out["seeds"] = list(seeds)
    for key in AVERAGED:
        values = np.asarray([run[key] for run in runs], dtype=np.float64)
        out[key] = float(values.mean())
        out[f"{key}_sd"] = float(values.std(ddof=1)) if len(values) > 1 else 0.0
    out["rmse_perfect_capped"] = runs[0]["rmse_perfect_capped"]
    out["model_version"] = runs[0]["model_version"]  # the first seed's; each run keeps its own
    out["physics_branch"] = model.physics.describe()
    out["cv_by_rul_band"] = _bands_mean(bands)
    out["test_by_rul_band"] = _bands_mean(test_bands)
    out["test_fused_vs_branches"] = fused_vs_branches(errors)
    out["per_seed"] = runs
    out["config"] = config.describe()
    return out


def _bands_mean(per_seed: Sequence[Sequence[dict[str, float]]]) -> list[dict[str, float]]:
    """A band table (the held-out fusion's ``cv["by_truth_band"]``, or the test set's
    ``test_by_rul_band``), each figure the seeds' mean."""
    rows: dict[tuple[float, float], list[dict[str, float]]] = {}
    for table in per_seed:
        for row in table:
            rows.setdefault((row["rul_from"], row["rul_to"]), []).append(row)
    return [
        {
            "rul_from": lo,
            "rul_to": hi,
            "rows": int(np.mean([r["rows"] for r in runs])),
            **{
                key: float(np.mean([r[key] for r in runs]))
                for key in ("rmse_fused", "rmse_ml", "rmse_physics")
            },
        }
        for (lo, hi), runs in sorted(rows.items())
    ]
