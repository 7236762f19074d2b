"""C-MAPSS benchmark of the hybrid RUL model: physics vs. XGBoost vs. fused, standard protocol.

Trains on train_<subset> only, predicts the last cycle of every test unit and scores against
RUL_<subset>.txt as given (uncapped), once per seed (``--seeds``, default 0-4): every figure is
the mean over the seeds with its ``_sd`` next to it, and ``per_seed`` keeps each run. Prints
exactly one line of strict JSON on stdout (a figure past the float range, such as the PHM08 score
of estimates thousands of cycles off, prints as null); progress goes to stderr.
``--synthetic NAME`` runs the same protocol on a synthetic fleet in the same layout with known
truth (one of :data:`~dt_platform.phm.cmapss.synthetic.SYNTHETIC_VARIANTS`: one or six regimes,
one or two fault modes, short or long lives, few units, readings missing), written to a temporary
folder first. ``missing_readings`` counts the readings the files give as ``nan``. On a synthetic
fleet, ``bayes_bound`` puts the figures in scale: the RMSE of each test unit's posterior-mean RUL
under the generator's own law (:mod:`~dt_platform.phm.cmapss.bayes_bound`), which no model
beats in expectation, next to that of a perfect capped model.
``--select`` instead compares the physics-branch designs of :data:`CANDIDATES` by unit-grouped CV
on the training file only (the test and RUL files are not read) and prints that table. Usage::

    python benchmarks/cmapss.py [--data DIR] [--subset FD001] [--seeds 0,1,2,3,4] [--select]
    python benchmarks/cmapss.py --synthetic two_faults [--data-seed 0]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))
sys.path.insert(0, str(REPO))

from _args import seed_list  # noqa: E402  benchmarks/_args.py, beside this script

from dt_platform.jsonable import plain  # noqa: E402
from dt_platform.phm.cmapss import (  # noqa: E402
    PipelineConfig,
    load_train,
    make_synthetic_subset,
    run_seeds,
    select_physics,
    write_subset,
)
from dt_platform.phm.cmapss.bayes_bound import bayes_bound  # noqa: E402
from dt_platform.phm.cmapss.synthetic import SYNTHETIC_VARIANTS  # noqa: E402
from dt_platform.phm.ml import QUANTILE_PARAMS  # noqa: E402

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
    "late/early cost ratio at a 10-cycle error). "
    "Physics branch (a degradation model on a health index): chosen by `--select` among 13 "
    "designs on the same folds, the exponential law with fleet priors (incumbent) and "
    "trajectory similarity to the fleet's run-to-failure curves with window all/60, temperature "
    "1/3/10, level offset on/off. Rule: the lowest CV fused RMSE replaces the incumbent only if "
    "lower by >= 0.1 with a PHM08 score per row no worse. Result: the exponential branch was "
    "kept, it had the lowest CV fused RMSE itself (10.611, score 1.724 per row; best "
    "similarity 10.627 / 1.733 at temperature 1; similarity at temperature 3 is the better "
    "branch on its own, RMSE 14.11 and score 3.05 per row vs 17.42 / 8.29, but fused 10.648). "
    "Baseline without physics information (the fuser given the ML branch twice, i.e. ML "
    "recalibrated along its own output): 10.647 / 1.772, so on held-out units the physics branch "
    "adds about 0.04 RMSE and the fused gain over raw ML (10.986) is almost all un-capping. "
    "Fusion settings were re-checked on the same folds with both branches (ivw; context ML "
    "output, age or interval width; 4/6/10 knots): nothing better than stack/6 knots by more "
    "than 0.01. Test scoring: during development the previous author scored the test set for "
    "two fusion designs (symmetric stack: fused RMSE 11.90 / score 252; this PHM08-asymmetric "
    "stack); after the physics selection above the test set was scored once, for this design. "
    "Data branch, re-checked later by the same rule on 5 seeds: the unit's age (cycles since "
    "its series began) as a feature and 4 trees a round (a boosted random forest) together "
    "lowered the CV fused RMSE from 10.557 to 10.437 (score per row 1.667 to 1.636) and were "
    "adopted; alone, each gained less than 0.1 (3 seeds: age 0.05, forest 0.10); windows of 50 "
    "cycles with an EWM span of 40 or a second slope over 80 cycles gained nothing; per-unit "
    "knee labels (the target capped where each unit's health index bends) lost 0.4 to 1.1. "
    "Later, on 5 seeds, none adopted: 8 trees a round (CV fused -0.01), 600 rounds (+0.02), each "
    "unit weighing the same in the booster (+0.01), cap 130 (-0.04), cap 115 (+0.12). "
    "The same exploratory runs also printed test figures; the decision used the CV ones only. "
    "Fusion, re-checked on 5 seeds on the same out-of-fold rows: the engine's age as a further "
    "input of the stack (fused RMSE 10.437 -> 10.369, PHM08 score per row 1.636 -> 1.573, "
    "better on every seed in both; the data branch alone 10.862 / 1.607) was adopted: the RMSE "
    "gain is under the 0.1 of the physics rule, but the mean score went from worse than the "
    "data branch's to better on held-out engines (not on seed 2: 1.604 vs 1.583). Not "
    "adopted: the ML branch's 5 %/95 % points or the physics interval as further inputs "
    "(within 0.01), 4 or 10 knots, the ML output as "
    "context, and the stack fitted to the PHM08 score itself (held-out RMSE 11.8, score 1.82: "
    "worse in both). The test set was scored once, after the choice. `--select` re-run with the "
    "age (seed 0): the exponential branch is still the lowest CV fused RMSE (10.370, score "
    "1.608 per row; best similarity 10.394 at window 60 and temperature 1), and the baseline "
    "without physics information 10.435 / 1.682. "
    "Fusion, later the same day: each branch's confidence (w*ml and w*phys a knot, w the "
    "physics branch's inverse-variance share of the two intervals) as a further candidate; the "
    "lowest held-out RMSE among the candidates whose PHM08 score per row is no higher than the "
    "plain fuser's is kept (FD001: kept on four seeds of five, held-out fused 10.369 -> 10.352, "
    "score per row 1.573 -> 1.567). The test set was scored after that choice."
)


CANDIDATES: list[dict] = [
    {"physics_method": "exponential"},
    *(
        {
            "physics_method": "similarity",
            "sim_window": window,
            "sim_temperature": temperature,
            "sim_level_offset": offset,
        }
        for offset in (True, False)
        for window in (None, 60)
        for temperature in (1.0, 3.0, 10.0)
    ),
]
"""Physics-branch designs compared by ``--select``; the first is the incumbent."""


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    source = parser.add_mutually_exclusive_group()
    source.add_argument(
        "--data", type=Path, default=None, help=f"folder with the files (default {DEFAULT_DATA})"
    )
    parser.add_argument("--subset", default="FD001", help="FD001..FD004 (default FD001)")
    parser.add_argument("--cap", type=float, default=None, help="ML target cap (default 125)")
    parser.add_argument("--horizon", type=float, default=None, help="fusion horizon (default 150)")
    parser.add_argument(
        "--seeds",
        type=seed_list,
        default="0,1,2,3,4",
        help="comma-separated seeds; figures are means over them (default 0,1,2,3,4)",
    )
    source.add_argument(
        "--synthetic",
        choices=sorted(SYNTHETIC_VARIANTS),
        default=None,
        help="run on a synthetic fleet of this layout instead of --data",
    )
    parser.add_argument(
        "--data-seed", type=int, default=0, help="seed of the synthetic fleet (default 0)"
    )
    parser.add_argument(
        "--units",
        type=int,
        default=100,
        help="synthetic training and test engines each (default 100; few_units keeps its own)",
    )
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
    parser.add_argument(
        "--physics",
        choices=("exponential", "similarity"),
        default=None,
        help="degradation model of the physics branch (default: the CV-selected one)",
    )
    parser.add_argument(
        "--select",
        action="store_true",
        help="compare the physics designs by grouped CV on the training file only, no test",
    )
    return parser.parse_args(argv)


def _config(args: argparse.Namespace) -> PipelineConfig:
    params = PipelineConfig().params
    if args.n_estimators is not None:
        params = replace(params, n_estimators=args.n_estimators)
    qparams = QUANTILE_PARAMS
    if args.quantile_estimators is not None:
        qparams = replace(qparams, n_estimators=args.quantile_estimators)
    config = PipelineConfig(
        physics_features=args.physics_features, params=params, quantile_params=qparams
    )
    if args.cap is not None:
        config = replace(config, cap=args.cap)
    if args.horizon is not None:
        config = replace(config, horizon=args.horizon)
    if args.physics is not None:
        config = replace(config, physics_method=args.physics)
    return config


def _write_synthetic(
    args: argparse.Namespace, folder: Path, subset: str, cap: float
) -> dict[str, object]:
    """Write the synthetic fleet ``args.synthetic`` as ``subset`` into ``folder``; its layout
    and the Bayes bound of its test set (or why there is none)."""
    layout = dict(SYNTHETIC_VARIANTS[args.synthetic])
    if args.synthetic != "few_units":
        layout.update(n_train=args.units, n_test=args.units)
    print(f"cmapss: writing synthetic fleet {args.synthetic} {layout} …", file=sys.stderr)
    train, test, rul = make_synthetic_subset(seed=args.data_seed, **layout)
    write_subset(folder, subset, train, test, rul)
    try:
        bound: dict[str, object] = bayes_bound(
            test, rul.select("unit", "rul"), seed=args.data_seed, cap=cap, **layout
        )
    except ValueError as exc:  # a test series the layout's cut cannot give: said, not fatal
        bound = {"skipped": str(exc)}
    return {"synthetic": args.synthetic, "data_seed": args.data_seed, **layout, "bound": bound}


def _select(data: Path, subset: str, config: PipelineConfig) -> dict[str, object]:
    print(f"cmapss: CV selection of the physics branch on train_{subset} …", file=sys.stderr)
    start = time.perf_counter()
    table = select_physics(load_train(data, subset), CANDIDATES, config)
    table.update(benchmark="cmapss_select", subset=subset, total_s=time.perf_counter() - start)
    for row in table["candidates"]:
        print(
            f"  {row['design']}: fused {row['rmse_fused']:.3f}, ml {row['rmse_ml']:.3f}, "
            f"physics {row['rmse_physics']:.3f}",
            file=sys.stderr,
        )
    return table


def _run(data: Path, subset: str, config: PipelineConfig, seeds: list[int]) -> dict[str, object]:
    print(f"cmapss: training on {data / f'train_{subset}.txt'}, seeds {seeds} …", file=sys.stderr)
    start = time.perf_counter()
    result = run_seeds(data, subset, config, seeds)
    result["total_s"] = time.perf_counter() - start
    result["selection"] = SELECTION
    print(
        f"cmapss: fused RMSE {result['rmse_fused']:.2f} ± {result['rmse_fused_sd']:.2f}, "
        f"score {result['score_fused']:.1f} ± {result['score_fused_sd']:.1f}",
        file=sys.stderr,
    )
    return result


def _emit(result: dict) -> None:
    """``result`` as one line of strict JSON: ``null`` where a figure is not finite."""
    print(json.dumps(plain(result), allow_nan=False, default=float))


def main(argv: list[str] | None = None) -> int:
    try:
        return _main(argv)
    except ValueError as exc:  # data the pipeline cannot take (e.g. too few units), said plainly
        print(f"cmapss: error: {exc}", file=sys.stderr)
        return 2


def _main(argv: list[str] | None) -> int:
    args = _parse(argv)
    config = _config(args)
    subset = args.subset.upper()
    if args.synthetic is not None:
        with tempfile.TemporaryDirectory(prefix="cmapss-synthetic-") as tmp:
            layout = _write_synthetic(args, Path(tmp), subset, config.cap)
            result = _select(Path(tmp), subset, config) if args.select else None
            result = result or _run(Path(tmp), subset, config, args.seeds)
        result["bayes_bound"] = layout.pop("bound")
        result["data"] = layout
        _emit(result)
        return 0
    data = args.data or DEFAULT_DATA
    if not (data / f"train_{subset}.txt").is_file():
        message = f"C-MAPSS {subset} not found in {data} (train_{subset}.txt missing)"
        if args.data is None:
            # Machines without the data skip cleanly so `make bench` keeps going.
            print(json.dumps({"benchmark": "cmapss", "subset": subset, "skipped": message}))
            return 0
        print(f"error: {message}; pass --data DIR", file=sys.stderr)
        return 2
    if args.select:
        _emit(_select(data, subset, config))
        return 0
    _emit(_run(data, subset, config, args.seeds))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
