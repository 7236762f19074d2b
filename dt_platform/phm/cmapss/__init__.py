"""NASA C-MAPSS turbofan data: loader and the end-to-end hybrid RUL pipeline for one subset.

Protocol (Saxena et al., PHM08): train on ``train_FD00x`` only (complete run-to-failure
series), predict the RUL after the *last* cycle of each ``test_FD00x`` unit, and compare with
``RUL_FD00x.txt`` as given (uncapped). Hyper-parameters and the fusion are chosen with
unit-grouped cross-validation on the training units; the test and RUL files are read only to
score.

Pipeline (:func:`fit_hybrid`), one unit-grouped K-fold split shared by every stage:

1. regimes and per-regime sensor statistics (:class:`~dt_platform.phm.features.SensorNormalizer`);
2. physics branch (:class:`~dt_platform.phm.health_index.PhysicsBranch`: a degradation model
   on a health index, exponential law or trajectory similarity) out of fold, then on all units;
   its health index is also an XGBoost input (out of fold for training rows);
3. XGBoost branch (:class:`~dt_platform.phm.ml.RulModel`) with its own out-of-fold predictions;
4. fuser (:class:`~dt_platform.phm.fusion.Fuser`) on the out-of-fold rows whose true RUL is
   within ``horizon``, cross-fitted for its interval and the held-out metrics in ``cv``. It may
   also weigh the unit's age and each branch's confidence (its interval), each kept only where
   the held-out units prefer it (``stages._fusion_terms``). Where a
   branch alone beats the fusion on those held-out units, unit by unit beyond chance, the fuser
   reports that branch (``fuser.basis``); a branch value beyond anything it produced in
   training enters the fusion clipped (no extrapolation).

Nothing here is FD001-specific: any subset in the same layout works, including the
six-regime FD002/FD004 and the two-fault-mode FD003/FD004 (:func:`make_synthetic_subset` and
:data:`SYNTHETIC_VARIANTS` build such fleets, with known truth, for tests and benchmarks).
"""

from dt_platform.phm.cmapss.benchmark import run_benchmark, run_seeds, score_test
from dt_platform.phm.cmapss.config import PipelineConfig
from dt_platform.phm.cmapss.data import (
    COLUMNS,
    SENSORS,
    SETTINGS,
    TIME,
    UNIT,
    add_train_rul,
    load_subset,
    load_train,
    write_subset,
)
from dt_platform.phm.cmapss.hybrid import HybridModel, fit_hybrid
from dt_platform.phm.cmapss.selection import PHYSICS_DESIGN_KEYS, choose_design, select_physics
from dt_platform.phm.cmapss.stages import PHYS_OUT
from dt_platform.phm.cmapss.synthetic import (
    OPERATING_CONDITIONS,
    SYNTHETIC_VARIANTS,
    make_synthetic_subset,
    synthetic_variant,
)

__all__ = [
    "COLUMNS",
    "OPERATING_CONDITIONS",
    "PHYSICS_DESIGN_KEYS",
    "PHYS_OUT",
    "SENSORS",
    "SETTINGS",
    "SYNTHETIC_VARIANTS",
    "TIME",
    "UNIT",
    "HybridModel",
    "PipelineConfig",
    "add_train_rul",
    "choose_design",
    "fit_hybrid",
    "load_subset",
    "load_train",
    "make_synthetic_subset",
    "run_benchmark",
    "run_seeds",
    "score_test",
    "select_physics",
    "synthetic_variant",
    "write_subset",
]
