"""C-MAPSS benchmark of the hybrid RUL model: physics vs. XGBoost vs. fused, standard protocol.

Trains on train_<subset> only, predicts the last cycle of every test unit and scores against
RUL_<subset>.txt as given (uncapped). Prints exactly one JSON line on stdout; progress goes to
stderr. Usage::

    python benchmarks/cmapss.py [--data DIR] [--subset FD001]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from dt_platform.phm.cmapss import PipelineConfig, run_benchmark  # noqa: E402
from dt_platform.phm.ml import QUANTILE_PARAMS, XGBParams  # noqa: E402

DEFAULT_DATA = REPO.parent / "shared" / "data" / "cmapss"

SELECTION = (
    "Everything was chosen by 5-fold unit-grouped CV on the training units only (scored on "
    "out-of-fold rows with true RUL <= horizon): feature set (rolling means over 5/10/20/30 "
    "cycles, EWM spans 10/20, OLS slope over 40 cycles and the whole history, drift from the "
    "unit's early baseline, the health index as an extra signal; rolling std/min/max and short "
    "slopes dropped: no CV gain, 40 % slower), XGBoost max_bin 64 / depth 5 / 300 rounds at "
    "eta 0.05 / colsample 0.3 (600 rounds, depth 4/6, min_child_weight 20, subsample 0.6 were "
    "within 0.05 RMSE), rul_phys as an XGBoost feature (rejected: worse CV), fusion 'stack' over "
    "'ivw' and 6 knots. Not tuned: cap 125 (brief default), horizon 150 (= 1.2 x cap, an "
    "assumption about where test series end), fusion asymmetry 1.48 (the PHM08 score's own "
    "late/early cost ratio at a 10-cycle error). The test and RUL files are read only after "
    "training, for scoring; during development they were scored for two fusion designs "
    "(symmetric stack: fused RMSE 11.90 / score 252; this PHM08-asymmetric stack)."
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data", type=Path, default=None, help=f"folder with the files (default {DEFAULT_DATA})"
    )
    parser.add_argument("--subset", default="FD001", help="FD001..FD004 (default FD001)")
    parser.add_argument("--cap", type=float, default=None, help="ML target cap (default 125)")
    parser.add_argument("--horizon", type=float, default=None, help="fusion horizon (default 150)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--n-estimators", type=int, default=None, help="point booster rounds (default 300)"
    )
    parser.add_argument(
        "--quantile-estimators",
        type=int,
        default=None,
        help="quantile booster rounds (default 150)",
    )
    parser.add_argument(
        "--physics-features", action="store_true", help="also feed rul_phys to XGBoost"
    )
    args = parser.parse_args(argv)

    data = args.data or DEFAULT_DATA
    subset = args.subset.upper()
    if not (data / f"train_{subset}.txt").is_file():
        message = f"C-MAPSS {subset} not found in {data} (train_{subset}.txt missing)"
        if args.data is None:
            # Machines without the data skip cleanly so `make bench` keeps going.
            print(json.dumps({"benchmark": "cmapss", "subset": subset, "skipped": message}))
            return 0
        print(f"error: {message}; pass --data DIR", file=sys.stderr)
        return 2

    params = XGBParams(seed=args.seed)
    if args.n_estimators is not None:
        params = replace(params, n_estimators=args.n_estimators)
    qparams = replace(QUANTILE_PARAMS, seed=args.seed)
    if args.quantile_estimators is not None:
        qparams = replace(qparams, n_estimators=args.quantile_estimators)
    config = PipelineConfig(
        seed=args.seed,
        physics_features=args.physics_features,
        params=params,
        quantile_params=qparams,
    )
    if args.cap is not None:
        config = replace(config, cap=args.cap)
    if args.horizon is not None:
        config = replace(config, horizon=args.horizon)
    print(f"cmapss: training on {data / f'train_{subset}.txt'} …", file=sys.stderr)
    start = time.perf_counter()
    result = run_benchmark(data, subset, config)
    result["total_s"] = time.perf_counter() - start
    result["selection"] = SELECTION
    print(
        f"cmapss: fused RMSE {result['rmse_fused']:.2f}, score {result['score_fused']:.1f}, "
        f"train {result['train_s']:.0f} s",
        file=sys.stderr,
    )
    print(json.dumps(result, sort_keys=False, default=float))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
