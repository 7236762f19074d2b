"""The data-driven branch: XGBoost regression of remaining useful life with a 90 % interval.

* Target: the capped piecewise-linear RUL, ``min(RUL, cap)``. Early in life nothing in the
  signals tells 300 cycles from 200, so asking a model to learn it only adds noise; the cap
  (125 by default) is the usual choice for C-MAPSS and is a parameter for other machines.
* Point estimate: squared-error booster (``rul_mean``), because RMSE is what we are judged on.
* Interval: one multi-quantile booster (``reg:quantileerror``, alphas 0.05 / 0.5 / 0.95) gives
  the shape (wide early, narrow near failure), then the band is *conformalized* on held-out
  units (CQR, Romano et al. 2019): out-of-fold predictions of a unit-grouped K-fold tell how far
  the raw band misses on units the model never saw, and the band is widened (or narrowed) by
  that margin. Calibrating on training residuals would give a band that is far too narrow.
* Validation is always split by unit (:func:`group_kfold`), never by random rows: rows of one
  unit are strongly correlated, so a row split leaks the unit's own future into validation.
* Determinism: ``hist`` trees, fixed ``seed`` and bounded ``nthread``; the same data and seed
  give the same bytes, and :attr:`RulModel.version` is the sha256 of those bytes.
"""

from __future__ import annotations

import hashlib
import json
import struct
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np
import polars as pl
import xgboost as xgb

DEFAULT_CAP = 125.0
QUANTILES: tuple[float, float, float] = (0.05, 0.5, 0.95)
_MAGIC = b"DTRUL\x01"


def capped_rul(rul: Any, cap: float | None = DEFAULT_CAP) -> np.ndarray:
    """Piecewise-linear target: RUL clipped to ``[0, cap]`` (no clipping above when ``cap`` is None)."""
    values = np.asarray(rul, dtype=np.float64)
    if cap is None:
        return np.clip(values, 0.0, None)
    if not cap > 0:  # NaN too
        raise ValueError(f"cap must be positive (cycles or hours of RUL), got {cap}.")
    return np.clip(values, 0.0, cap)


def group_kfold(
    groups: Sequence[Any] | np.ndarray, n_splits: int = 5, seed: int = 0
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Unit-grouped K-fold: ``[(train_idx, val_idx), ...]`` with every group in one val fold.

    Groups are shuffled with ``seed`` and dealt greedily to the fold with the fewest rows, so
    folds are balanced in rows even when run lengths differ. Deterministic for a seed.
    """
    groups = np.asarray(groups)
    uniq, inverse, counts = np.unique(groups, return_inverse=True, return_counts=True)
    if len(uniq) < n_splits:
        raise ValueError(
            f"group_kfold: {len(uniq)} units cannot fill {n_splits} folds; "
            "use fewer folds or more units."
        )
    order = np.random.default_rng(seed).permutation(len(uniq))
    order = order[np.argsort(-counts[order], kind="stable")]
    fold_of = np.empty(len(uniq), dtype=np.int64)
    load = np.zeros(n_splits, dtype=np.int64)
    for g in order:
        f = int(np.argmin(load))
        fold_of[g] = f
        load[f] += counts[g]
    row_fold = fold_of[inverse]
    idx = np.arange(len(groups))
    return [(idx[row_fold != f], idx[row_fold == f]) for f in range(n_splits)]


@dataclass(frozen=True)
class XGBParams:
    """Booster settings. Defaults were chosen by 5-fold unit-grouped CV on train_FD001."""

    n_estimators: int = 300
    max_depth: int = 5
    learning_rate: float = 0.05
    subsample: float = 0.8
    colsample_bytree: float = 0.3
    min_child_weight: float = 5.0
    reg_lambda: float = 1.0
    max_bin: int = 64
    nthread: int = 2
    seed: int = 0
    num_parallel_tree: int = 1
    """Trees grown per round, each on its own row and column subsample, and averaged (a boosted
    random forest): lowers the booster's variance at that many times the fitting cost."""

    def booster_params(self) -> dict[str, Any]:
        return {
            "tree_method": "hist",
            "max_depth": self.max_depth,
            "eta": self.learning_rate,
            "subsample": self.subsample,
            "colsample_bytree": self.colsample_bytree,
            "min_child_weight": self.min_child_weight,
            "lambda": self.reg_lambda,
            "max_bin": self.max_bin,
            "nthread": self.nthread,
            "seed": self.seed,
            "num_parallel_tree": self.num_parallel_tree,
            "verbosity": 0,
        }


QUANTILE_PARAMS = XGBParams(n_estimators=150, max_depth=4, learning_rate=0.1)
"""The quantile booster only shapes the band (the conformal step fixes its level), so it is
smaller than the point booster: three outputs per tree make it the costlier of the two."""


def _matrix(features: pl.DataFrame, columns: Sequence[str]) -> np.ndarray:
    missing = [c for c in columns if c not in features.columns]
    if missing:
        raise ValueError(
            f"RulModel: feature columns {missing[:5]}{'…' if len(missing) > 5 else ''} are "
            "missing; build the features with the same sensors, windows and extras as in training."
        )
    return features.select(columns).cast(pl.Float64).to_numpy()


def _train(
    x: np.ndarray, y: np.ndarray, params: XGBParams, objective: str, cols: Sequence[str]
) -> xgb.Booster:
    booster_params = params.booster_params()
    booster_params["objective"] = objective
    if objective == "reg:quantileerror":
        booster_params["quantile_alpha"] = np.asarray(QUANTILES)
    dtrain = xgb.DMatrix(x, label=y, feature_names=list(cols), nthread=params.nthread)
    return xgb.train(
        booster_params, dtrain, num_boost_round=params.n_estimators, verbose_eval=False
    )


def _predict(booster: xgb.Booster, x: np.ndarray, cols: Sequence[str], nthread: int) -> np.ndarray:
    dmat = xgb.DMatrix(x, feature_names=list(cols), nthread=nthread)
    return np.asarray(booster.predict(dmat), dtype=np.float64)


def _bands(mean: np.ndarray, q: np.ndarray, margin: float, cap: float | None) -> np.ndarray:
    """Columns mean, p05, p50, p95: quantiles sorted (no crossing), widened, non-negative."""
    q = np.sort(q.reshape(len(mean), -1), axis=1)
    lo = np.clip(q[:, 0] - margin, 0.0, None)
    hi = q[:, 2] + margin
    mean = np.clip(mean, 0.0, cap)
    med = np.clip(q[:, 1], 0.0, cap)
    lo = np.minimum(lo, np.minimum(mean, med))
    hi = np.maximum(hi, np.maximum(mean, med))
    return np.column_stack([mean, lo, med, hi])


def conformal_margin(lo: np.ndarray, hi: np.ndarray, y: np.ndarray, coverage: float) -> float:
    """Split-conformal CQR margin: the finite-sample ``coverage`` quantile of max(lo−y, y−hi)."""
    scores = np.sort(np.maximum(lo - y, y - hi))
    n = len(scores)
    if n == 0:
        return 0.0
    k = int(np.ceil((n + 1) * coverage))  # the k-th smallest score (Lei et al. 2018)
    return float(scores[min(k, n) - 1])


def _check_aligned(features: pl.DataFrame, y_true: np.ndarray, groups: np.ndarray) -> None:
    """Raise unless there is one finite target and one group label per feature row."""
    if len(y_true) != features.height or len(groups) != features.height:
        raise ValueError(
            f"RulModel.fit: {features.height} feature rows but {len(y_true)} targets and "
            f"{len(groups)} group labels; they must be aligned row by row."
        )
    if not np.isfinite(y_true).all():
        raise ValueError("RulModel.fit: target has NaN/inf; drop rows without a known RUL.")


def _out_of_fold(
    x: np.ndarray,
    y: np.ndarray,
    groups: np.ndarray,
    folds: Sequence[tuple[np.ndarray, np.ndarray]],
    params: XGBParams,
    qparams: XGBParams,
    cols: Sequence[str],
    cap: float | None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per row, from boosters that never saw its unit: the uncalibrated bands (mean, p05, p50,
    p95), the sorted raw quantiles and the fold that held it out."""
    oof = np.full((len(y), 4), np.nan)
    raw_q = np.full((len(y), 3), np.nan)
    fold_ids = np.full(len(y), -1, dtype=np.int64)
    for f, (tr, va) in enumerate(folds):
        if np.intersect1d(groups[tr], groups[va]).size:
            raise ValueError(f"RulModel.fit: fold {f} has units on both sides; split by unit.")
        point = _train(x[tr], y[tr], params, "reg:squarederror", cols)
        quant = _train(x[tr], y[tr], qparams, "reg:quantileerror", cols)
        mean = _predict(point, x[va], cols, params.nthread)
        q = _predict(quant, x[va], cols, params.nthread)
        raw_q[va] = np.sort(q.reshape(len(va), -1), axis=1)
        oof[va] = _bands(mean, q, 0.0, cap)
        fold_ids[va] = f
    return oof, raw_q, fold_ids


@dataclass
class RulModel:
    """Fitted XGBoost RUL model: point booster, quantile booster, conformal margin, metadata."""

    feature_columns: list[str]
    cap: float | None
    params: XGBParams
    coverage: float
    margin: float
    point: xgb.Booster
    quantile: xgb.Booster
    quantile_params: XGBParams = QUANTILE_PARAMS
    meta: dict[str, Any] = field(default_factory=dict)
    """Anything serving needs to rebuild the features (e.g. the fitted normalizer's dict)."""
    oof: pl.DataFrame | None = field(default=None, repr=False, compare=False)
    """Out-of-fold predictions of the grouped CV (row order of the fit input); not serialized."""

    @classmethod
    def fit(
        cls,
        features: pl.DataFrame,
        target: Any,
        groups: Sequence[Any] | np.ndarray,
        *,
        feature_columns: Sequence[str] | None = None,
        cap: float | None = DEFAULT_CAP,
        params: XGBParams | None = None,
        quantile_params: XGBParams | None = None,
        n_splits: int = 5,
        folds: Sequence[tuple[np.ndarray, np.ndarray]] | None = None,
        coverage: float = 0.9,
        meta: dict[str, Any] | None = None,
    ) -> RulModel:
        """Grouped K-fold for out-of-fold predictions and the conformal margin, then a final fit.

        ``target`` is the true (uncapped) RUL of every row; it is capped here. ``groups`` holds
        the unit of every row. ``feature_columns`` defaults to every numeric column that is not
        a group/target column (pass it explicitly in pipelines). ``folds`` overrides the
        unit-grouped split (pass the same folds to every branch of a hybrid so out-of-fold
        predictions line up); each fold must hold out whole units.
        """
        params = params or XGBParams()
        qparams = quantile_params or replace(
            QUANTILE_PARAMS, nthread=params.nthread, seed=params.seed, max_bin=params.max_bin
        )
        y_true = np.asarray(target, dtype=np.float64)
        groups = np.asarray(groups)
        _check_aligned(features, y_true, groups)
        cols = list(
            feature_columns or [c for c in features.columns if features[c].dtype.is_numeric()]
        )
        x = _matrix(features, cols)
        y = capped_rul(y_true, cap)
        folds = list(folds) if folds is not None else group_kfold(groups, n_splits, params.seed)
        oof, raw_q, fold_ids = _out_of_fold(x, y, groups, folds, params, qparams, cols, cap)
        # Calibrate against the capped target: the quantile models estimate the capped RUL, and
        # the fusion stage (not this model) is where the uncapped truth enters.
        margin = conformal_margin(raw_q[:, 0], raw_q[:, 2], y, coverage)
        oof = np.column_stack([oof[:, 0], *_bands(oof[:, 0], raw_q, margin, cap)[:, 1:].T])
        point = _train(x, y, params, "reg:squarederror", cols)
        quant = _train(x, y, qparams, "reg:quantileerror", cols)
        model = cls(
            feature_columns=cols,
            cap=cap,
            params=params,
            coverage=coverage,
            margin=margin,
            point=point,
            quantile=quant,
            meta=dict(meta or {}),
            quantile_params=qparams,
        )
        model.oof = pl.DataFrame(
            {
                "fold": fold_ids,
                "rul_mean": oof[:, 0],
                "rul_p05": oof[:, 1],
                "rul_p50": oof[:, 2],
                "rul_p95": oof[:, 3],
            }
        )
        return model

    def predict(self, features: pl.DataFrame) -> pl.DataFrame:
        """``rul_mean, rul_p05, rul_p50, rul_p95`` per row of ``features`` (same order).

        Guarantees ``0 <= rul_p05 <= rul_p50 <= rul_p95`` and ``rul_p05 <= rul_mean <= rul_p95``.
        """
        x = _matrix(features, self.feature_columns)
        mean = _predict(self.point, x, self.feature_columns, self.params.nthread)
        q = _predict(self.quantile, x, self.feature_columns, self.params.nthread)
        out = _bands(mean, q, self.margin, self.cap)
        return pl.DataFrame(
            {
                "rul_mean": out[:, 0],
                "rul_p05": out[:, 1],
                "rul_p50": out[:, 2],
                "rul_p95": out[:, 3],
            }
        )

    # --- serialization ------------------------------------------------------------------------

    def to_bytes(self) -> bytes:
        """Self-contained bundle: header JSON (features, cap, params, margin, meta) + two UBJ boosters."""
        point = bytes(self.point.save_raw("ubj"))
        quant = bytes(self.quantile.save_raw("ubj"))
        header = json.dumps(
            {
                "feature_columns": self.feature_columns,
                "cap": self.cap,
                "params": asdict(self.params),
                "quantile_params": asdict(self.quantile_params),
                "coverage": self.coverage,
                "margin": self.margin,
                "meta": self.meta,
                "sizes": [len(point), len(quant)],
            },
            sort_keys=True,
            separators=(",", ":"),
        ).encode()
        return _MAGIC + struct.pack(">Q", len(header)) + header + point + quant

    @classmethod
    def from_bytes(cls, data: bytes) -> RulModel:
        if not data.startswith(_MAGIC):
            raise ValueError("RulModel.from_bytes: not a dt-platform RUL model bundle (bad magic).")
        start = len(_MAGIC) + 8
        (hlen,) = struct.unpack(">Q", data[len(_MAGIC) : start])
        header = json.loads(data[start : start + hlen])
        n_point, n_quant = header["sizes"]
        body = data[start + hlen :]
        if len(body) != n_point + n_quant:
            raise ValueError("RulModel.from_bytes: bundle is truncated or corrupted.")
        params = XGBParams(**header["params"])
        point = xgb.Booster(
            params={"nthread": params.nthread}, model_file=bytearray(body[:n_point])
        )
        quant = xgb.Booster(
            params={"nthread": params.nthread}, model_file=bytearray(body[n_point:])
        )
        return cls(
            feature_columns=header["feature_columns"],
            cap=header["cap"],
            params=params,
            coverage=header["coverage"],
            margin=header["margin"],
            point=point,
            quantile=quant,
            meta=header["meta"],
            quantile_params=XGBParams(**header["quantile_params"]),
        )

    @property
    def version(self) -> str:
        """Content hash of the bundle: sha256 hex of :meth:`to_bytes`."""
        return hashlib.sha256(self.to_bytes()).hexdigest()
