"""Causal condition-monitoring features for RUL models, in polars, for any machine type.

Two steps, because the first is *fitted* and the second is not:

1. :class:`SensorNormalizer` is fitted on training data only. It finds operating regimes by
   clustering the operational settings (C-MAPSS FD002/FD004 fly six flight conditions; a spindle
   runs at several speeds), standardizes every sensor with the mean and standard deviation of its
   regime, and drops sensors that carry no information (constant within every regime). Sensor
   levels move far more with the operating point than with wear, so without this step a model
   learns the flight condition instead of the damage. The fitted object is applied unchanged to
   test or live data and serializes to a plain dict (it travels inside the model bundle).
2. :func:`build_features` turns the normalized signals into trailing-window features per unit:
   rolling mean / std / min / max, exponentially smoothed values, rolling and whole-history OLS
   slopes, the drift from the unit's own early-life baseline, and the time in service. Extra
   columns (e.g. the physics branch's health index or damage) are passed in and get the same
   treatment.

No look-ahead: a feature at time ``t`` of unit ``u`` is a function of rows of ``u`` with time
``<= t`` only (trailing windows, ``.over(unit)``, causal exponential smoothing). A prediction
made online therefore equals the one computed later on the full history, which is what lets us
train on complete run-to-failure series and score on truncated ones.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl
from scipy.cluster.vq import kmeans2

REGIME = "regime"
UNKNOWN_REGIME = -1
"""The regime of a row whose missing operating settings leave its regime open (see
:meth:`SensorNormalizer.assign_regimes`): its sensors cannot be put on a regime's scale, so they
count as missing readings."""
TIME_IN_SERVICE = "time_in_service"
DEFAULT_WINDOWS: tuple[int, ...] = (5, 10, 20, 30)
DEFAULT_SPANS: tuple[int, ...] = (10, 20)
DEFAULT_SLOPE_WINDOWS: tuple[int, ...] = (10, 20, 40)
DEFAULT_BASELINE = 20
DEFAULT_STATS: tuple[str, ...] = ("mean", "std", "min", "max")
_ROLLING = {
    "mean": lambda v, w: v.rolling_mean(w, min_samples=1),
    "std": lambda v, w: v.rolling_std(w, min_samples=2),
    "min": lambda v, w: v.rolling_min(w, min_samples=1),
    "max": lambda v, w: v.rolling_max(w, min_samples=1),
}


# --- fitted normalizer --------------------------------------------------------------------------


def _kmeans(points: np.ndarray, k: int, seed: int, restarts: int = 3) -> tuple[np.ndarray, float]:
    """Best of a few seeded k-means++ runs: (centroids, inertia). Deterministic for a seed."""
    best: tuple[np.ndarray, float] | None = None
    for r in range(restarts):
        centroids, labels = kmeans2(points, k, minit="++", seed=seed + r, iter=20)
        inertia = float(((points - centroids[labels]) ** 2).sum())
        if best is None or inertia < best[1]:
            best = (centroids, inertia)
    assert best is not None
    return best


def detect_regimes(
    settings: np.ndarray,
    *,
    max_regimes: int = 10,
    tol: float = 1e-3,
    seed: int = 0,
    max_points: int = 2000,
) -> np.ndarray:
    """Centroids of the operating regimes in ``settings`` (rows × setting columns, pre-scaled).

    Operating points of a machine are discrete (flight conditions, recipe set-points) plus small
    jitter, so the right number of regimes is the smallest ``k`` whose k-means leaves almost no
    spread inside the clusters: within-cluster sum of squares below ``tol`` of the total. Pure
    jitter (one regime, like FD001) never gets there and yields a single centroid.
    """
    if len(settings) > max_points:
        # A deterministic, evenly strided sample is plenty to locate a few operating points.
        settings = settings[:: -(-len(settings) // max_points)]
    total = float(((settings - settings.mean(axis=0)) ** 2).sum())
    if total <= 0.0 or len(settings) < 2:
        return settings.mean(axis=0, keepdims=True)
    unique = np.unique(settings, axis=0)
    for k in range(2, min(max_regimes, len(unique)) + 1):
        centroids, inertia = _kmeans(settings, k, seed)
        if inertia <= tol * total:
            return centroids[np.lexsort(centroids.T[::-1])]
    return settings.mean(axis=0, keepdims=True)


def _least_separation(centroids: np.ndarray) -> float:
    """The least distance between two of ``centroids`` (rows; at least two)."""
    pairs = np.sqrt(((centroids[:, None, :] - centroids[None, :, :]) ** 2).sum(axis=2))
    return float(pairs[np.triu_indices(len(centroids), k=1)].min())


def _fit_settings(
    frame: pl.DataFrame, settings: Sequence[str], n_regimes: int | None, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The settings' centre and scale (over the readings there are) and the regimes' centroids
    in scaled settings, found on the rows whose operating point is known in full."""
    if not settings:
        return np.zeros(0), np.ones(0), np.zeros((1, 0))
    raw = frame.select(settings).cast(pl.Float64).fill_null(np.nan).to_numpy()
    seen = np.isfinite(raw).any(axis=0)
    center = np.zeros(raw.shape[1])
    scale = np.ones(raw.shape[1])
    center[seen] = np.nanmean(raw[:, seen], axis=0)
    scale[seen] = np.nanmax(raw[:, seen], axis=0) - np.nanmin(raw[:, seen], axis=0)
    scale[scale <= 0] = 1.0
    scaled = ((raw - center) / scale)[np.isfinite(raw).all(axis=1)]
    if scaled.size == 0:
        scaled = np.zeros((1, raw.shape[1]))
    if n_regimes is None:
        centroids = detect_regimes(scaled, seed=seed)
    elif n_regimes == 1:
        centroids = scaled.mean(axis=0, keepdims=True)
    else:
        centroids, _ = _kmeans(scaled, n_regimes, seed)
        centroids = centroids[np.lexsort(centroids.T[::-1])]
    return center, scale, centroids


@dataclass
class SensorNormalizer:
    """Per-regime standardization of sensors, fitted on training data only.

    Build it with :meth:`fit`; apply it with :meth:`transform` (or through
    :func:`build_features`). ``sensors`` lists the kept, informative sensors in order.
    """

    sensors: list[str]
    dropped: list[str]
    settings: list[str]
    setting_center: list[float]
    setting_scale: list[float]
    centroids: list[list[float]]
    mean: dict[str, list[float]]
    """sensor -> per-regime mean."""
    std: dict[str, list[float]]
    """sensor -> per-regime standard deviation (already floored, never zero)."""

    @property
    def n_regimes(self) -> int:
        return len(self.centroids)

    @classmethod
    def fit(
        cls,
        frame: pl.DataFrame,
        *,
        sensors: Sequence[str],
        settings: Sequence[str] | None = None,
        n_regimes: int | None = None,
        constant_share: float = 0.95,
        seed: int = 0,
    ) -> SensorNormalizer:
        """Fit regimes and per-regime statistics on ``frame`` (training rows only).

        ``settings`` are the operating-condition columns; ``None`` or empty means a single
        regime. ``n_regimes=None`` detects the count (see :func:`detect_regimes`). A sensor is
        dropped as constant when it does not vary within any regime, or when in every regime
        one value holds at least ``constant_share`` of the rows (a fixed value with a rare
        quantization flicker, like C-MAPSS s6). Relative spread is no test: s8 (fan speed,
        ~2388 rpm) varies by 3e-5 of its level and is among the most informative sensors.
        """
        _require(frame, [*sensors, *(settings or [])], "SensorNormalizer.fit")
        settings = list(settings or [])
        center, scale, centroids = _fit_settings(frame, settings, n_regimes, seed)
        norm = cls(
            sensors=[],
            dropped=[],
            settings=settings,
            setting_center=center.tolist(),
            setting_scale=scale.tolist(),
            centroids=centroids.tolist(),
            mean={},
            std={},
        )
        regime = norm.assign_regimes(frame)
        k = norm.n_regimes
        for s in sensors:
            values = frame[s].cast(pl.Float64).to_numpy()
            means, stds, ss, dof, modal = [], [], 0.0, 0, True
            for r in range(k):
                v = values[(regime == r) & np.isfinite(values)]
                m = float(v.mean()) if len(v) else 0.0
                sd = float(v.std(ddof=1)) if len(v) > 1 else 0.0
                means.append(m)
                stds.append(sd)
                ss += float(((v - m) ** 2).sum())
                dof += max(len(v) - 1, 0)
                if len(v):
                    _, counts = np.unique(v, return_counts=True)
                    modal = modal and counts.max() >= constant_share * len(v)
            pooled = (ss / dof) ** 0.5 if dof else 0.0
            magnitude = max(float(np.nanmean(np.abs(values))), 1.0)
            if pooled <= 1e-9 * magnitude or modal:
                norm.dropped.append(s)
                continue
            floor = max(pooled * 1e-3, 1e-12)
            norm.sensors.append(s)
            norm.mean[s] = means
            norm.std[s] = [max(sd, floor) for sd in stds]
        if not norm.sensors:
            raise ValueError(
                f"SensorNormalizer.fit: every sensor of {list(sensors)} is constant within its "
                "regime on the training data; pass sensors that vary, or raise constant_share."
            )
        return norm

    def assign_regimes(self, frame: pl.DataFrame) -> np.ndarray:
        """Regime index of every row: the nearest centroid in scaled settings space.

        A row missing a setting is placed by the settings it has, when they tell one regime
        from every other: its nearest centroid on those settings is nearer than any other by
        half the least distance between two regimes (the jitter around an operating point is
        far below it). Otherwise it is in no known regime (:data:`UNKNOWN_REGIME`) and
        :meth:`transform` leaves its sensors missing: regimes can share a setting's value
        (FD002's conditions at 35 and 42 kft both fly Mach 0.84 at full throttle, so a row
        without its altitude could be either, while one without its throttle angle still
        tells them apart)."""
        if not self.settings or self.n_regimes == 1:
            return np.zeros(frame.height, dtype=np.int64)
        _require(frame, self.settings, "SensorNormalizer")
        raw = frame.select(self.settings).cast(pl.Float64).fill_null(np.nan).to_numpy()
        scaled = (raw - np.asarray(self.setting_center)) / np.asarray(self.setting_scale)
        has = np.isfinite(scaled)
        centroids = np.asarray(self.centroids)
        gaps = (np.nan_to_num(scaled)[:, None, :] - centroids[None, :, :]) * has[:, None, :]
        distance = np.sqrt((gaps**2).sum(axis=2))
        regime = distance.argmin(axis=1).astype(np.int64)
        nearest = distance.min(axis=1, keepdims=True)
        rivals = (distance <= nearest + 0.5 * _least_separation(centroids)).sum(axis=1)
        regime[~has.all(axis=1) & (rivals > 1)] = UNKNOWN_REGIME
        return regime

    def transform(self, frame: pl.DataFrame) -> pl.DataFrame:
        """``frame`` with a ``regime`` column and each kept sensor replaced by its z-score."""
        _require(frame, self.sensors, "SensorNormalizer.transform")
        regime = self.assign_regimes(frame)
        out = frame.with_columns(pl.Series(REGIME, regime, dtype=pl.Int64))
        cols = []
        known = pl.lit(regime != UNKNOWN_REGIME)
        for s in self.sensors:
            mean = np.asarray(self.mean[s])[regime]
            std = np.asarray(self.std[s])[regime]
            z = (pl.col(s).cast(pl.Float64).fill_nan(None) - pl.lit(mean)) / pl.lit(std)
            cols.append(pl.when(known).then(z).otherwise(None).alias(s))
        return out.with_columns(cols)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form, stored in the model bundle so serving normalizes exactly as training."""
        return {
            "sensors": self.sensors,
            "dropped": self.dropped,
            "settings": self.settings,
            "setting_center": self.setting_center,
            "setting_scale": self.setting_scale,
            "centroids": self.centroids,
            "mean": self.mean,
            "std": self.std,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SensorNormalizer:
        return cls(**data)


# --- causal features ----------------------------------------------------------------------------


def _require(frame: pl.DataFrame, columns: Sequence[str], where: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(
            f"{where}: columns {missing} are missing; the frame has {frame.columns}. "
            "Pass the column names your data actually uses."
        )


def _signal_features(
    x: str,
    *,
    unit: str,
    windows: Sequence[int],
    stats: Sequence[str],
    spans: Sequence[int],
    slope_windows: Sequence[int],
    baseline: int,
) -> list[pl.Expr]:
    """Trailing features of one signal column; every expression is evaluated per unit."""
    v = pl.col(x).cast(pl.Float64)
    t = pl.col("__t")
    idx = pl.col("__i")
    exprs: list[pl.Expr] = [v.alias(x)]
    for w in windows:
        exprs += [_ROLLING[st](v, w).over(unit).alias(f"{x}_{st}{w}") for st in stats]
    for s in spans:
        exprs.append(v.ewm_mean(span=s, adjust=True).over(unit).alias(f"{x}_ewm{s}"))
    for w in slope_windows:
        mt = t.rolling_mean(w, min_samples=2).over(unit)
        mx = v.rolling_mean(w, min_samples=2).over(unit)
        mtx = (t * v).rolling_mean(w, min_samples=2).over(unit)
        mtt = (t * t).rolling_mean(w, min_samples=2).over(unit)
        var = mtt - mt * mt
        exprs.append(
            pl.when(var > 1e-12).then((mtx - mt * mx) / var).otherwise(None).alias(f"{x}_slope{w}")
        )
    # Whole-history OLS slope from cumulative sums (causal: sums over rows <= t).
    n = (idx + 1).cast(pl.Float64)
    st = t.cum_sum().over(unit)
    sx = v.fill_null(0.0).cum_sum().over(unit)
    stx = (t * v.fill_null(0.0)).cum_sum().over(unit)
    stt = (t * t).cum_sum().over(unit)
    var_all = stt / n - (st / n) ** 2
    exprs.append(
        pl.when(var_all > 1e-12)
        .then((stx / n - (st / n) * (sx / n)) / var_all)
        .otherwise(None)
        .alias(f"{x}_slope_all")
    )
    # Drift from the unit's own early-life baseline: units start with different initial wear and
    # manufacturing spread, so the change matters more than the level.
    early = pl.when(idx < baseline).then(v.fill_null(0.0)).otherwise(0.0).cum_sum().over(unit)
    count = pl.min_horizontal(idx + 1, pl.lit(baseline)).cast(pl.Float64)
    ewm = v.ewm_mean(span=spans[0] if spans else 10, adjust=True).over(unit)
    exprs.append((ewm - early / count).alias(f"{x}_drift"))
    return exprs


def feature_columns(
    signals: Sequence[str],
    *,
    windows: Sequence[int] = DEFAULT_WINDOWS,
    stats: Sequence[str] = DEFAULT_STATS,
    spans: Sequence[int] = DEFAULT_SPANS,
    slope_windows: Sequence[int] = DEFAULT_SLOPE_WINDOWS,
) -> list[str]:
    """Names of the feature columns :func:`build_features` makes for ``signals``, in order."""
    cols = [TIME_IN_SERVICE]
    for x in signals:
        cols.append(x)
        for w in windows:
            cols += [f"{x}_{st}{w}" for st in stats]
        cols += [f"{x}_ewm{s}" for s in spans]
        cols += [f"{x}_slope{w}" for w in slope_windows]
        cols += [f"{x}_slope_all", f"{x}_drift"]
    return cols


def build_features(
    frame: pl.DataFrame,
    *,
    unit: str,
    time: str,
    sensors: Sequence[str],
    windows: Sequence[int] = DEFAULT_WINDOWS,
    regime: Sequence[str] | None = None,
    normalizer: SensorNormalizer | None = None,
    extra: Sequence[str] = (),
    stats: Sequence[str] = DEFAULT_STATS,
    spans: Sequence[int] = DEFAULT_SPANS,
    slope_windows: Sequence[int] = DEFAULT_SLOPE_WINDOWS,
    baseline: int = DEFAULT_BASELINE,
    keep: Sequence[str] = (),
) -> pl.DataFrame:
    """Causal features per (unit, time) row, sorted by unit then time.

    ``time`` must be numeric service age (cycles, operating hours) so slopes are per unit of
    service. ``normalizer`` is the :class:`SensorNormalizer` fitted on *training* data; when
    ``None`` one is fitted on ``frame`` itself with ``regime`` as the setting columns — right
    for the training frame only (never let test data fit its own normalizer). ``extra`` columns
    (physics outputs, health index) are not normalized but get the same derived features;
    ``keep`` columns are carried through untouched (targets, truth, ids).

    ``stats`` picks the rolling statistics (``mean``, ``std``, ``min``, ``max``) computed over
    each of ``windows``. Returns ``unit``, ``time``, ``regime``, ``keep`` columns and the feature
    columns listed by :func:`feature_columns` for the kept sensors plus ``extra``.
    """
    _require(frame, [unit, time, *sensors, *extra, *keep], "build_features")
    unknown_stats = [st for st in stats if st not in _ROLLING]
    if unknown_stats:
        raise ValueError(f"build_features: unknown stats {unknown_stats}; use {list(_ROLLING)}.")
    if not frame[time].dtype.is_numeric():
        raise ValueError(
            f"build_features: time column {time!r} is {frame[time].dtype}; pass numeric service "
            "age (cycles or operating hours), not a timestamp."
        )
    if normalizer is None:
        normalizer = SensorNormalizer.fit(frame, sensors=sensors, settings=regime)
    unknown = [s for s in normalizer.sensors if s not in sensors]
    if unknown:
        raise ValueError(f"build_features: the normalizer expects sensors {unknown} not passed.")
    data = normalizer.transform(frame.sort([unit, time]))
    data = data.with_columns(
        (pl.col(time).cast(pl.Float64) - pl.col(time).cast(pl.Float64).first().over(unit)).alias(
            "__t"
        ),
        pl.int_range(pl.len()).over(unit).alias("__i"),
    )
    signals = [*normalizer.sensors, *extra]
    exprs: list[pl.Expr] = [pl.col(time).cast(pl.Float64).alias(TIME_IN_SERVICE)]
    for x in signals:
        exprs += _signal_features(
            x,
            unit=unit,
            windows=windows,
            stats=stats,
            spans=spans,
            slope_windows=slope_windows,
            baseline=baseline,
        )
    passthrough = [c for c in dict.fromkeys([unit, time, REGIME, *keep]) if c not in signals]
    return data.select(*[pl.col(c) for c in passthrough], *exprs)
