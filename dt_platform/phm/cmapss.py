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
   within ``horizon``, cross-fitted for its interval and the held-out metrics in ``cv``.

Nothing here is FD001-specific: any subset in the same layout works, including the
six-regime FD002/FD004 (:func:`make_synthetic_subset` builds such a fleet for tests).
"""

from __future__ import annotations

import hashlib
import time as time_mod
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from dt_platform.ingest.cmapss_import import read_cmapss_file
from dt_platform.phm.features import SensorNormalizer, build_features, feature_columns
from dt_platform.phm.fusion import ML_COLS, Fuser
from dt_platform.phm.health_index import HI, PhysicsBranch
from dt_platform.phm.ml import DEFAULT_CAP, RulModel, XGBParams, group_kfold
from dt_platform.phm.scoring import coverage, interval_width, phm08_asymmetry, phm08_score, rmse

SETTINGS: tuple[str, ...] = ("setting1", "setting2", "setting3")
SENSORS: tuple[str, ...] = tuple(f"s{i}" for i in range(1, 22))
COLUMNS: tuple[str, ...] = ("unit", "cycle", *SETTINGS, *SENSORS)
UNIT, TIME = "unit", "cycle"


def _read_table(path: Path) -> pl.DataFrame:
    """A train_/test_ file, checked line by line (the reader the ingestion path uses)."""
    if not path.is_file():
        raise FileNotFoundError(
            f"C-MAPSS file {path} not found. Point --data / data_dir at the folder holding "
            "train_FD00x.txt, test_FD00x.txt and RUL_FD00x.txt (see the data's SOURCE.md)."
        )
    return read_cmapss_file(path).sort([UNIT, TIME])


def load_subset(
    data_dir: str | Path, subset: str = "FD001"
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """Read one subset: ``(train, test, rul)``.

    ``train`` / ``test`` have columns ``unit, cycle, setting1..3, s1..s21``; ``rul`` has
    ``unit, rul`` — the true RUL after the last test cycle of each unit, in unit order.
    """
    data_dir = Path(data_dir)
    subset = subset.upper()
    train = _read_table(data_dir / f"train_{subset}.txt")
    test = _read_table(data_dir / f"test_{subset}.txt")
    rul_path = data_dir / f"RUL_{subset}.txt"
    if not rul_path.is_file():
        raise FileNotFoundError(f"C-MAPSS file {rul_path} not found next to the test file.")
    values = [float(line) for line in rul_path.read_text().split()]
    units = test[UNIT].unique().sort().to_list()
    if len(values) != len(units):
        raise ValueError(
            f"{rul_path}: {len(values)} RUL values but {len(units)} test units; "
            "the files do not belong together."
        )
    rul = pl.DataFrame({UNIT: units, "rul": values}, schema={UNIT: pl.Int64, "rul": pl.Float64})
    return train, test, rul


def load_train(data_dir: str | Path, subset: str = "FD001") -> pl.DataFrame:
    """Read only ``train_<subset>.txt``: model selection never needs the test or RUL files."""
    return _read_table(Path(data_dir) / f"train_{subset.upper()}.txt")


def add_train_rul(train: pl.DataFrame) -> pl.DataFrame:
    """True (uncapped) RUL of every training row: cycles left until the unit's last cycle."""
    return train.with_columns((pl.col(TIME).max().over(UNIT) - pl.col(TIME)).alias("rul"))


# --- the hybrid pipeline --------------------------------------------------------------------------


@dataclass(frozen=True)
class PipelineConfig:
    """Everything that shapes the hybrid model. Defaults: chosen by grouped CV on train_FD001."""

    cap: float = DEFAULT_CAP
    """ML target cap (piecewise-linear RUL)."""
    horizon: float = 150.0
    """Fusion is fitted (and CV-scored) on training rows with true RUL <= horizon: the range in
    which predictions are acted on, and the range in which C-MAPSS test series are cut (the
    PHM08 convention behind the 125-130 caps). Beyond it the fused RUL means "at least that"."""
    n_splits: int = 5
    seed: int = 0
    n_regimes: int | None = None
    windows: tuple[int, ...] = (5, 10, 20, 30)
    stats: tuple[str, ...] = ("mean",)
    spans: tuple[int, ...] = (10, 20)
    slope_windows: tuple[int, ...] = (40,)
    physics_features: bool = False
    """Also feed rul_phys / its interval to XGBoost (the HI always is)."""
    physics_method: str = "exponential"
    """Degradation model of the physics branch: ``"exponential"`` (per-unit exponential law
    with fleet priors) or ``"similarity"`` (trajectory similarity to the fleet's curves)."""
    sim_window: int | None = None
    """Similarity branch: health-index samples matched (None: whole history)."""
    sim_temperature: float = 3.0
    """Similarity branch: likelihood tempering (larger: flatter weights over the fleet)."""
    sim_level_offset: bool = True
    """Similarity branch: integrate out each unit's health-index level offset."""
    params: XGBParams = field(default_factory=XGBParams)
    quantile_params: XGBParams | None = None
    fusion_method: str = "stack"
    fusion_knots: int = 6
    fusion_asymmetry: float = field(default_factory=phm08_asymmetry)
    """Late/early weight of the fuser's loss: the PHM08 score's own asymmetry at 10 cycles."""
    coverage: float = 0.9

    def describe(self) -> dict[str, Any]:
        """JSON-able form (stored in the model bundle and printed by the benchmark)."""
        out = asdict(self)
        out["params"] = asdict(self.params)
        out["quantile_params"] = asdict(self.quantile_params) if self.quantile_params else None
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PipelineConfig:
        data = dict(data)
        data["params"] = XGBParams(**data["params"])
        if data.get("quantile_params"):
            data["quantile_params"] = XGBParams(**data["quantile_params"])
        for key in ("windows", "stats", "spans", "slope_windows"):
            data[key] = tuple(data[key])
        return cls(**data)


PHYS_OUT = ("rul_phys", "rul_phys_lo", "rul_phys_hi")


def _fit_normalizer(frame: pl.DataFrame, config: PipelineConfig) -> SensorNormalizer:
    return SensorNormalizer.fit(
        frame, sensors=SENSORS, settings=SETTINGS, n_regimes=config.n_regimes, seed=config.seed
    )


def _fit_physics(
    frame: pl.DataFrame, normalizer: SensorNormalizer, config: PipelineConfig
) -> PhysicsBranch:
    return PhysicsBranch.fit(
        frame,
        unit=UNIT,
        time=TIME,
        normalizer=normalizer,
        degradation_kwargs={"seed": config.seed},
        method=config.physics_method,
        similarity_kwargs={
            "window": config.sim_window,
            "temperature": config.sim_temperature,
            "level_offset": config.sim_level_offset,
        },
    )


def _physics_oof(
    train: pl.DataFrame, folds: list[tuple[np.ndarray, np.ndarray]], config: PipelineConfig
) -> pl.DataFrame:
    """Physics branch predictions for every training row from models that never saw its unit."""
    parts = []
    for tr_idx, va_idx in folds:
        fold_train = train[tr_idx]
        branch = _fit_physics(fold_train, _fit_normalizer(fold_train, config), config)
        parts.append(branch.predict(train[va_idx]))
    return pl.concat(parts).sort([UNIT, TIME])


def _features(
    frame: pl.DataFrame, phys: pl.DataFrame, normalizer: SensorNormalizer, config: PipelineConfig
) -> pl.DataFrame:
    """XGBoost features: normalized sensors plus the health index as an extra signal."""
    data = frame.join(phys.select(UNIT, TIME, HI, *PHYS_OUT), on=[UNIT, TIME], how="left")
    return build_features(
        data,
        unit=UNIT,
        time=TIME,
        sensors=SENSORS,
        normalizer=normalizer,
        windows=config.windows,
        stats=config.stats,
        spans=config.spans,
        slope_windows=config.slope_windows,
        extra=[HI],
        keep=list(PHYS_OUT),
    )


@dataclass
class HybridModel:
    """Physics branch + XGBoost branch + fuser for one C-MAPSS-like fleet. Build: :func:`fit_hybrid`."""

    config: PipelineConfig
    normalizer: SensorNormalizer
    physics: PhysicsBranch
    ml: RulModel
    fuser: Fuser
    cv: dict[str, Any] = field(default_factory=dict)
    """Cross-fitted metrics on held-out training units (see :attr:`Fuser.cv`)."""

    def predict(self, frame: pl.DataFrame, *, last_only: bool = True) -> pl.DataFrame:
        """Physics, ML and fused RUL with 90 % intervals, for each unit's last row or every row.

        Columns: ``unit, cycle, rul_phys, rul_phys_lo, rul_phys_hi, rul_mean, rul_p05, rul_p50,
        rul_p95, rul_fused, rul_fused_lo, rul_fused_hi, w_physics``.
        """
        phys = self.physics.predict(frame, last_only=False)
        feats = _features(frame, phys, self.normalizer, self.config)
        if last_only:
            feats = feats.group_by(UNIT, maintain_order=True).tail(1)
        out = feats.select(UNIT, TIME, *PHYS_OUT).hstack(self.ml.predict(feats))
        return out.hstack(self.fuser.predict(out))

    def to_bytes(self) -> bytes:
        """One bundle: the XGBoost boosters, with config, normalizer, physics and fuser as metadata."""
        meta = {
            "config": self.config.describe(),
            "normalizer": self.normalizer.to_dict(),
            "physics": self.physics.to_dict(),
            "fuser": self.fuser.to_dict(),
        }
        return replace(self.ml, meta=meta).to_bytes()

    @classmethod
    def from_bytes(cls, data: bytes) -> HybridModel:
        ml = RulModel.from_bytes(data)
        meta = ml.meta
        missing = {"config", "normalizer", "physics", "fuser"} - set(meta)
        if missing:
            raise ValueError(
                f"HybridModel.from_bytes: the bundle lacks {sorted(missing)}; it is a bare RulModel."
            )
        return cls(
            PipelineConfig.from_dict(meta["config"]),
            SensorNormalizer.from_dict(meta["normalizer"]),
            PhysicsBranch.from_dict(meta["physics"]),
            replace(ml, meta={}),
            Fuser.from_dict(meta["fuser"]),
        )

    @property
    def version(self) -> str:
        """sha256 of :meth:`to_bytes`: any change to any branch or the fuser changes it."""
        return hashlib.sha256(self.to_bytes()).hexdigest()


def _ml_stage(
    train: pl.DataFrame,
    phys_oof: pl.DataFrame,
    normalizer: SensorNormalizer,
    folds: list[tuple[np.ndarray, np.ndarray]],
    config: PipelineConfig,
) -> tuple[pl.DataFrame, RulModel]:
    """Features of every training row (out-of-fold HI and physics outputs) and the XGBoost
    branch with its out-of-fold predictions on the shared folds."""
    feats = _features(train, phys_oof, normalizer, config).join(
        train.select(UNIT, TIME, "rul"), on=[UNIT, TIME], how="left", maintain_order="left"
    )
    cols = feature_columns(
        [*normalizer.sensors, HI],
        windows=config.windows,
        stats=config.stats,
        spans=config.spans,
        slope_windows=config.slope_windows,
    )
    if config.physics_features:
        cols += list(PHYS_OUT)
    ml = RulModel.fit(
        feats,
        feats["rul"],
        feats[UNIT],
        feature_columns=cols,
        cap=config.cap,
        params=config.params,
        quantile_params=config.quantile_params,
        folds=folds,
        coverage=config.coverage,
    )
    assert ml.oof is not None
    return feats, ml


def _fit_fuser(rows: pl.DataFrame, config: PipelineConfig, **options: Any) -> Fuser:
    """A fuser on out-of-fold ``rows`` with the pipeline's fusion settings, cross-fitted by unit."""
    return Fuser.fit(
        rows,
        truth="rul",
        groups=UNIT,
        method=config.fusion_method,
        n_knots=config.fusion_knots,
        asymmetry=config.fusion_asymmetry,
        coverage=config.coverage,
        n_splits=config.n_splits,
        seed=config.seed,
        **options,
    )


def _fuse(
    feats: pl.DataFrame, ml_oof: pl.DataFrame, config: PipelineConfig
) -> tuple[Fuser, dict[str, Any]]:
    """Fuser on the out-of-fold rows within ``horizon``, and its held-out metrics."""
    oof = (
        feats.select(UNIT, TIME, "rul", *PHYS_OUT)
        .hstack(ml_oof)
        .filter(pl.col("rul") <= config.horizon)
    )
    fuser = _fit_fuser(oof, config)
    y = oof["rul"].to_numpy()
    cv = {
        **fuser.cv,
        "rows": "out-of-fold training rows with true RUL <= horizon",
        "horizon": config.horizon,
        "coverage_ml_capped": coverage(oof["rul_p05"], oof["rul_p95"], np.minimum(y, config.cap)),
        "coverage_physics": coverage(oof["rul_phys_lo"], oof["rul_phys_hi"], y),
        "rmse_ml_capped": rmse(oof["rul_mean"], np.minimum(y, config.cap)),
    }
    return fuser, cv


def fit_hybrid(train: pl.DataFrame, config: PipelineConfig | None = None) -> HybridModel:
    """Fit all branches and the fuser on complete run-to-failure training units only.

    One unit-grouped K-fold split is shared by every stage: physics out-of-fold predictions
    (its health index also feeds XGBoost, as an out-of-fold feature), XGBoost out-of-fold
    predictions, then the fuser on those out-of-fold rows (with its own cross-fitting for the
    interval and the CV metrics). The final branches are refitted on all training units.
    """
    config = config or PipelineConfig()
    train = add_train_rul(train).sort([UNIT, TIME])
    folds = group_kfold(train[UNIT].to_numpy(), config.n_splits, config.seed)
    phys_oof = _physics_oof(train, folds, config)
    normalizer = _fit_normalizer(train, config)
    physics = _fit_physics(train, normalizer, config)
    feats, ml = _ml_stage(train, phys_oof, normalizer, folds, config)
    assert ml.oof is not None
    fuser, cv = _fuse(feats, ml.oof, config)
    return HybridModel(config, normalizer, physics, ml, fuser, cv)


def choose_design(rows: Sequence[dict[str, Any]], min_gain: float = 0.1) -> tuple[int, int]:
    """``(best, chosen)`` indices: lowest CV fused RMSE, and the design the rule keeps.

    ``rows[0]`` is the incumbent; the best row replaces it only if its ``rmse_fused`` is lower
    by at least ``min_gain`` and its ``score_fused_per_row`` is not higher.
    """
    if not rows:
        raise ValueError("choose_design: no candidates.")
    best = min(range(len(rows)), key=lambda i: rows[i]["rmse_fused"])
    inc, top = rows[0], rows[best]
    keep = inc["rmse_fused"] - top["rmse_fused"] < min_gain or (
        top["score_fused_per_row"] > inc["score_fused_per_row"]
    )
    return best, 0 if keep else best


PHYSICS_DESIGN_KEYS = ("physics_method", "sim_window", "sim_temperature", "sim_level_offset")


def select_physics(
    train: pl.DataFrame,
    candidates: Sequence[dict[str, Any]],
    config: PipelineConfig | None = None,
    *,
    min_gain: float = 0.1,
) -> dict[str, Any]:
    """Compare physics-branch designs by unit-grouped CV on training units only.

    Every candidate (a dict of :data:`PHYSICS_DESIGN_KEYS` overrides of ``config``) gets its
    out-of-fold physics predictions on the same folds; the XGBoost branch (which does not depend
    on the degradation model: its health-index feature comes from the health index alone) is
    fitted once; each candidate is then fused exactly as :func:`fit_hybrid` does and scored on
    the cross-fitted held-out rows. The test set is never touched.

    Rule: ``candidates[0]`` is the incumbent. The candidate with the lowest CV fused RMSE
    replaces it only if it is lower by at least ``min_gain`` *and* its PHM08 score per row is
    not worse; a smaller difference is within fold noise (the one-row-per-unit spread of the
    fused-minus-ML RMSE on FD001 is about 0.3) and does not earn a change.
    """
    config = config or PipelineConfig()
    if not candidates:
        raise ValueError("select_physics: give at least one candidate design.")
    unknown = {k for c in candidates for k in c} - set(PHYSICS_DESIGN_KEYS)
    if unknown:
        raise ValueError(
            f"select_physics: {sorted(unknown)} are not physics design keys "
            f"{list(PHYSICS_DESIGN_KEYS)}."
        )
    if config.physics_features:
        raise ValueError(
            "select_physics: with physics_features=True the XGBoost branch depends on the "
            "physics design; compare such designs with full fit_hybrid runs instead."
        )
    train = add_train_rul(train).sort([UNIT, TIME])
    folds = group_kfold(train[UNIT].to_numpy(), config.n_splits, config.seed)
    normalizer = _fit_normalizer(train, config)
    rows: list[dict[str, Any]] = []
    feats: pl.DataFrame | None = None
    ml_oof: pl.DataFrame | None = None
    for cand in candidates:
        cfg = replace(config, **cand)
        start = time_mod.perf_counter()
        phys_oof = _physics_oof(train, folds, cfg)
        physics_s = time_mod.perf_counter() - start
        if feats is None:
            feats, ml = _ml_stage(train, phys_oof, normalizer, folds, cfg)
            ml_oof = ml.oof
        else:
            feats = feats.drop(*PHYS_OUT).join(
                phys_oof.select(UNIT, TIME, *PHYS_OUT),
                on=[UNIT, TIME],
                how="left",
                maintain_order="left",
            )
        assert ml_oof is not None
        _, cv = _fuse(feats, ml_oof, cfg)
        rows.append(
            {
                "design": {k: getattr(cfg, k) for k in PHYSICS_DESIGN_KEYS},
                "rmse_fused": cv["rmse_fused"],
                "rmse_ml": cv["rmse_ml"],
                "rmse_physics": cv["rmse_physics"],
                "score_fused_per_row": cv["score_fused_per_row"],
                "score_ml_per_row": cv["score_ml_per_row"],
                "score_physics_per_row": cv["score_physics_per_row"],
                "coverage_fused": cv["coverage"],
                "coverage_physics": cv["coverage_physics"],
                "p_fused_beats_ml_one_row_per_unit": cv["one_row_per_unit"]["p_fused_beats_ml"],
                "physics_oof_s": physics_s,
            }
        )
    best, chosen = choose_design(rows, min_gain)
    assert feats is not None and ml_oof is not None
    # Baseline with no physics information at all: the same fuser with the ML branch in the
    # physics slot, i.e. ML recalibrated (and un-capped) along its own output. A physics branch
    # earns its place only by beating this, not merely by beating raw ML.
    base = feats.select(UNIT, TIME, "rul").hstack(ml_oof).filter(pl.col("rul") <= config.horizon)
    alone = _fit_fuser(base, config, physics_cols=ML_COLS).cv
    return {
        "candidates": rows,
        "ml_recalibrated_no_physics": {
            "rmse_fused": alone["rmse_fused"],
            "score_fused_per_row": alone["score_fused_per_row"],
            "p_fused_beats_ml_one_row_per_unit": alone["one_row_per_unit"]["p_fused_beats_ml"],
        },
        "best_cv_rmse": best,
        "chosen": chosen,
        "rule": (
            f"lowest CV fused RMSE replaces candidates[0] only if lower by >= {min_gain} and "
            "its PHM08 score per row is not worse"
        ),
        "n_splits": config.n_splits,
        "seed": config.seed,
        "horizon": config.horizon,
    }


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


# --- synthetic C-MAPSS-like data (tests, demos without the NASA files) ------------------------

OPERATING_CONDITIONS: tuple[tuple[float, float, float], ...] = (
    (0.0, 0.0, 100.0),
    (10.0, 0.25, 100.0),
    (20.0, 0.70, 100.0),
    (25.0, 0.62, 60.0),
    (35.0, 0.84, 100.0),
    (42.0, 0.84, 100.0),
)
"""The six flight conditions of FD002/FD004 (altitude kft, Mach, throttle resolver angle)."""


def make_synthetic_subset(
    *,
    n_train: int = 30,
    n_test: int = 15,
    n_regimes: int = 6,
    seed: int = 0,
    life: tuple[float, float] = (120.0, 260.0),
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """A fleet that behaves like C-MAPSS: ``(train, test, rul)`` in :func:`load_subset`'s layout.

    Each engine degrades along ``d(t) = (e^{r t/T} − 1)/(e^{r} − 1)`` (0 new, 1 at failure
    ``T``); every cycle flies one of ``n_regimes`` operating conditions, which shifts every
    sensor far more than wear does. Sensors s1, s5, s10, s16, s18, s19 carry no wear signal
    (constant within a regime), s6 flickers between two values, the rest respond to ``d`` with a
    random sign and noise. Test engines stop at a random cycle; ``rul`` is the truth.
    """
    if not 1 <= n_regimes <= len(OPERATING_CONDITIONS):
        raise ValueError(f"n_regimes must be 1..{len(OPERATING_CONDITIONS)}.")
    rng = np.random.default_rng(seed)
    conds = np.asarray(OPERATING_CONDITIONS[:n_regimes])
    constant = {1, 5, 10, 16, 18, 19}
    base = rng.uniform(10.0, 2000.0, size=(21,)) * (1 + 0.3 * rng.standard_normal((n_regimes, 21)))
    sens = rng.uniform(0.5, 2.0, size=21) * rng.choice([-1.0, 1.0], size=21)
    noise = rng.uniform(0.15, 0.35, size=21)
    for j in constant:
        sens[j - 1] = 0.0
        noise[j - 1] = 0.0

    def engine(unit: int, truncate: bool) -> tuple[list[list[float]], float]:
        total = int(rng.uniform(*life))
        rate = rng.uniform(3.0, 7.0)
        offset = rng.normal(0.0, 0.05, size=21)
        last = total
        if truncate:
            last = int(np.clip(total - rng.uniform(5.0, 140.0), 20, total - 1))
        rows = []
        for cycle in range(1, last + 1):
            r = int(rng.integers(n_regimes))
            setting = conds[r] + rng.normal(0.0, [1e-3, 1e-4, 0.0])
            d = np.expm1(rate * cycle / total) / np.expm1(rate)
            values = base[r] + sens * (d + offset) + noise * rng.standard_normal(21)
            values[5] = base[r, 5] + (0.01 if rng.uniform() < 0.02 else 0.0)
            rows.append([unit, cycle, *setting, *values])
        return rows, float(total - last)

    train_rows: list[list[float]] = []
    for u in range(1, n_train + 1):
        train_rows += engine(u, truncate=False)[0]
    test_rows: list[list[float]] = []
    truth = []
    for u in range(1, n_test + 1):
        rows, remaining = engine(u, truncate=True)
        test_rows += rows
        truth.append(remaining)

    def frame(rows: list[list[float]]) -> pl.DataFrame:
        arr = np.asarray(rows, dtype=np.float64)
        out = pl.DataFrame({c: arr[:, i] for i, c in enumerate(COLUMNS)})
        return out.with_columns(pl.col(UNIT).cast(pl.Int64), pl.col(TIME).cast(pl.Int64))

    rul = pl.DataFrame(
        {UNIT: list(range(1, n_test + 1)), "rul": truth}, schema={UNIT: pl.Int64, "rul": pl.Float64}
    )
    return frame(train_rows), frame(test_rows), rul


def write_subset(
    data_dir: str | Path,
    subset: str,
    train: pl.DataFrame,
    test: pl.DataFrame,
    rul: pl.DataFrame,
) -> None:
    """Write frames in the NASA text layout (space-separated, trailing spaces, no header)."""
    data_dir = Path(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)

    def dump(frame: pl.DataFrame, path: Path) -> None:
        with path.open("w") as fh:
            for row in frame.select(COLUMNS).iter_rows():
                head = f"{int(row[0])} {int(row[1])} "
                fh.write(head + " ".join(f"{v:.4f}" for v in row[2:]) + "  \n")

    dump(train, data_dir / f"train_{subset}.txt")
    dump(test, data_dir / f"test_{subset}.txt")
    (data_dir / f"RUL_{subset}.txt").write_text("".join(f"{int(v)} \n" for v in rul["rul"]))
