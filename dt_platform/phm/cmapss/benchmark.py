"""The standard C-MAPSS protocol: train on one subset's training file, score the test units' RUL."""

from __future__ import annotations

import time as time_mod
from pathlib import Path
from typing import Any

import numpy as np

from dt_platform.phm.cmapss.config import PipelineConfig
from dt_platform.phm.cmapss.data import UNIT, load_subset
from dt_platform.phm.cmapss.hybrid import fit_hybrid
from dt_platform.phm.scoring import coverage, interval_width, phm08_score, rmse


def run_benchmark(
    data_dir: str | Path, subset: str = "FD001", config: PipelineConfig | None = None
) -> dict[str, Any]:
    """Train on ``train_<subset>``, predict each test unit's last cycle, score against the RUL file.

    The test and RUL files are read once, after training, for scoring only.
    """
    config = config or PipelineConfig()
    train, test, truth = load_subset(data_dir, subset)
    start = time_mod.perf_counter()
    model = fit_hybrid(train, config)
    train_s = time_mod.perf_counter() - start
    pred = model.predict(test, last_only=True).join(truth, on=UNIT, how="inner").sort(UNIT)
    y = pred["rul"].to_numpy()
    out: dict[str, Any] = {
        "benchmark": "cmapss",
        "subset": subset.upper(),
        "n_train_units": train[UNIT].n_unique(),
        "n_test_units": pred.height,
        "n_regimes": model.normalizer.n_regimes,
        "sensors_used": model.normalizer.sensors,
    }
    for name, col in (("physics", "rul_phys"), ("ml", "rul_mean"), ("fused", "rul_fused")):
        out[f"rmse_{name}"] = rmse(pred[col], y)
        out[f"score_{name}"] = phm08_score(pred[col], y)
    capped = np.minimum(y, config.cap)
    out["rmse_fused_capped"] = rmse(pred["rul_fused"], capped)
    out["rmse_ml_capped"] = rmse(pred["rul_mean"], capped)
    out["coverage_90"] = coverage(pred["rul_fused_lo"], pred["rul_fused_hi"], y)
    out["coverage_90_physics"] = coverage(pred["rul_phys_lo"], pred["rul_phys_hi"], y)
    out["coverage_90_ml_capped"] = coverage(pred["rul_p05"], pred["rul_p95"], capped)
    out["interval_width_fused"] = interval_width(pred["rul_fused_lo"], pred["rul_fused_hi"])
    out["mean_w_physics"] = float(pred["w_physics"].mean())
    out["physics_branch"] = model.physics.describe()
    out["train_s"] = train_s
    out["model_version"] = model.version
    out["cv"] = dict(model.cv)
    out["config"] = config.describe()
    return out
