"""Model inputs from base rows: per-type regime normalization, the health indicator and the
trailing features of each component life (:class:`FleetFeaturizer`, step 3 of
:mod:`dt_platform.phm.fleet`)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from dt_platform.phm.episodes import HOUR_S
from dt_platform.phm.features import (
    REGIME,
    TIME_IN_SERVICE,
    SensorNormalizer,
    build_features,
    detect_regimes,
    feature_columns,
)
from dt_platform.phm.fleet.config import FleetConfig
from dt_platform.phm.schemas import PHYSICS_COLS, UTC_US
from dt_platform.phm.signals import TYPE_SIGNALS, TypeSignals


def life_columns(base: pl.DataFrame) -> pl.DataFrame:
    """``life_id`` (machine and install time) and the hours since the install (since the life's
    first row when the install time is unknown)."""
    installed = pl.col("component_installed_at")
    out = base.with_columns(
        pl.concat_str(
            [
                pl.col("machine_id"),
                pl.lit("@"),
                installed.dt.strftime("%Y-%m-%dT%H:%M:%S").fill_null("unknown"),
            ]
        ).alias("life_id")
    )
    since = pl.coalesce(installed, pl.col("ts").min().over("life_id"))
    return out.with_columns(
        ((pl.col("ts") - since).dt.total_seconds() / HOUR_S).alias(TIME_IN_SERVICE)
    )


def health_indicator(frame: pl.DataFrame, spec: TypeSignals, baseline_h: int) -> pl.Series:
    """Fraction of the way to the failure limit, per operating row (max over the type's limits).

    ``frame`` holds one type's operating rows sorted by life and time, raw SI values. A ``rise``
    limit is measured against the mean of the life's first ``baseline_h`` operating hours seen so
    far (known when the row happens: causal).
    """
    parts = []
    for lim in spec.limits:
        v = pl.col(lim.sensor)
        if lim.kind == "above":
            parts.append(v / lim.limit)
        elif lim.kind == "below":
            parts.append(pl.lit(lim.limit) / pl.when(v > 0).then(v).otherwise(None))
        else:
            idx = pl.int_range(pl.len()).over("life_id")
            early = pl.when(idx < baseline_h).then(v.fill_null(0.0)).otherwise(0.0)
            n_early = pl.when((idx < baseline_h) & v.is_not_null()).then(1.0).otherwise(0.0)
            total, count = early.cum_sum().over("life_id"), n_early.cum_sum().over("life_id")
            base = pl.when((count > 0) & (total > 0)).then(total / count).otherwise(None)
            parts.append((v / base - 1.0) / lim.limit)
    return frame.select(pl.max_horizontal(parts).alias("hi")).to_series()


def _prefixed(spec: TypeSignals, sensors: Sequence[str], config: FleetConfig) -> dict[str, str]:
    cols = feature_columns(
        sensors,
        windows=config.windows_h,
        stats=config.stats,
        spans=config.spans,
        slope_windows=config.slope_windows_h,
    )
    return {c: f"{spec.prefix}_{c}" for c in cols if c != TIME_IN_SERVICE}


@dataclass
class FleetFeaturizer:
    """Per-type regime normalizers and the feature recipe; fitted on training rows only."""

    config: FleetConfig
    normalizers: dict[str, SensorNormalizer]

    @classmethod
    def fit(cls, base: pl.DataFrame, config: FleetConfig) -> FleetFeaturizer:
        norms: dict[str, SensorNormalizer] = {}
        for mtype, spec in TYPE_SIGNALS.items():
            op = operating_rows(base.filter(pl.col("machine_type") == mtype), spec)
            if op.height < 24:
                continue
            try:
                norms[mtype] = SensorNormalizer.fit(
                    op,
                    sensors=spec.sensors,
                    settings=spec.settings,
                    n_regimes=count_regimes(op, spec.settings, seed=config.seed),
                    seed=config.seed,
                )
            except ValueError:
                continue  # every sensor constant: the type gets generic features only
        return cls(config, norms)

    @property
    def columns(self) -> list[str]:
        """Model input columns, in a fixed order."""
        c = self.config
        cols = [TIME_IN_SERVICE, "hours_since_operation", "op_fraction"]
        cols += [f"utilization_{w}h" for w in c.utilization_windows_h]
        cols += [f"type_{t}" for t in TYPE_SIGNALS]
        cols += ["damage", "damage_rate_per_h", *PHYSICS_COLS, "damage_slope_24h"]
        cols += [
            x
            for x in feature_columns(
                ["hi"],
                windows=c.windows_h,
                stats=c.stats,
                spans=c.spans,
                slope_windows=c.slope_windows_h,
            )
            if x != TIME_IN_SERVICE
        ]
        for mtype, norm in sorted(self.normalizers.items()):
            cols += list(_prefixed(TYPE_SIGNALS[mtype], norm.sensors, c).values())
        return cols

    def transform(self, base: pl.DataFrame) -> pl.DataFrame:
        """Feature rows, one per base row (same keys: ``machine_id, ts``; plus ``life_id``)."""
        c = self.config
        data = life_columns(base).sort("life_id", "ts")
        util = [
            pl.col("op_fraction")
            .rolling_mean(w, min_samples=1)
            .over("life_id")
            .alias(f"utilization_{w}h")
            for w in c.utilization_windows_h
        ]
        damage_slope = (
            (pl.col("damage") - pl.col("damage").shift(24).over("life_id")) / 24.0
        ).alias("damage_slope_24h")
        data = data.with_columns(
            *util,
            damage_slope,
            *[
                (pl.col("machine_type") == t).cast(pl.Float64).alias(f"type_{t}")
                for t in TYPE_SIGNALS
            ],
            *[pl.col(x).clip(0.0, 10 * c.cap_h).alias(x) for x in PHYSICS_COLS],
        )
        parts = []
        for mtype, spec in TYPE_SIGNALS.items():
            sub = data.filter(pl.col("machine_type") == mtype)
            if sub.is_empty():
                continue
            parts.append(self._type_features(sub, spec))
        if not parts:
            return pl.DataFrame(schema={"machine_id": pl.String(), "ts": UTC_US})
        out = pl.concat(parts, how="diagonal_relaxed")
        missing = [x for x in self.columns if x not in out.columns]
        out = out.with_columns([pl.lit(None, dtype=pl.Float64).alias(x) for x in missing])
        keys = ["machine_id", "machine_type", "ts", "life_id", "component_installed_at"]
        return out.select(*keys, *[pl.col(x).cast(pl.Float64) for x in self.columns]).sort(
            "machine_id", "ts"
        )

    def _type_features(self, sub: pl.DataFrame, spec: TypeSignals) -> pl.DataFrame:
        c = self.config
        norm = self.normalizers.get(spec.machine_type) or _no_sensors()
        op = operating_rows(sub, spec).sort("life_id", "ts")
        if op.is_empty():
            return sub
        op = op.with_columns(
            health_indicator(op, spec, c.baseline_h), pl.col(TIME_IN_SERVICE).alias("_age_h")
        )
        feats = build_features(
            op,
            unit="life_id",
            time="_age_h",
            sensors=norm.sensors,
            normalizer=norm,
            extra=["hi"],
            windows=c.windows_h,
            stats=c.stats,
            spans=c.spans,
            slope_windows=c.slope_windows_h,
            baseline=c.baseline_h,
            keep=["ts"],
        ).rename(_prefixed(spec, norm.sensors, c))
        feats = feats.drop(
            ["machine_id", "_age_h", TIME_IN_SERVICE, REGIME], strict=False
        ).with_columns(pl.col("ts").alias("_op_ts"))
        joined = sub.sort("ts").join_asof(
            feats.sort("ts"), on="ts", by="life_id", strategy="backward", check_sortedness=False
        )
        return joined.with_columns(
            ((pl.col("ts") - pl.col("_op_ts")).dt.total_seconds() / HOUR_S).alias(
                "hours_since_operation"
            )
        ).drop("_op_ts")

    def to_dict(self) -> dict[str, Any]:
        return {
            "config": self.config.describe(),
            "normalizers": {t: n.to_dict() for t, n in self.normalizers.items()},
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FleetFeaturizer:
        return cls(
            FleetConfig.from_dict(data["config"]),
            {t: SensorNormalizer.from_dict(n) for t, n in data["normalizers"].items()},
        )


REGIME_TOL = 0.02


MAX_REGIMES = 12


def count_regimes(frame: pl.DataFrame, settings: Sequence[str], *, seed: int = 0) -> int:
    """How many operating regimes the setting sensors show (1 without settings).

    The fleet's products are discrete setpoints, but hourly means blur them a little (a product
    change inside an hour, sensor noise), so the within-regime spread allowed is 2 % of the total
    rather than :func:`~dt_platform.phm.features.detect_regimes`' 0.1 % for C-MAPSS.
    """
    if not settings:
        return 1
    raw = frame.select(settings).to_numpy().astype(np.float64)
    scale = np.ptp(raw, axis=0)
    scale[scale <= 0] = 1.0
    scaled = (raw - raw.mean(axis=0)) / scale
    return len(detect_regimes(scaled, max_regimes=MAX_REGIMES, tol=REGIME_TOL, seed=seed))


def _no_sensors() -> SensorNormalizer:
    """A normalizer with no sensors: a type without fitted regimes keeps its health indicator."""
    return SensorNormalizer([], [], [], [], [], [[]], {}, {})


def operating_lives(base: pl.DataFrame) -> Iterator[tuple[TypeSignals, pl.DataFrame]]:
    """Per machine type of ``base`` with a :data:`TYPE_SIGNALS` entry: its signals and its
    :func:`operating_rows` with the :func:`life_columns`, sorted by life and time (types with no
    operating row are left out)."""
    data = life_columns(base)
    for (mtype,), part in data.group_by("machine_type", maintain_order=True):
        spec = TYPE_SIGNALS.get(str(mtype))
        if spec is None:
            continue
        op = operating_rows(part, spec).sort("life_id", "ts")
        if not op.is_empty():
            yield spec, op


def operating_rows(frame: pl.DataFrame, spec: TypeSignals) -> pl.DataFrame:
    """Rows of hours the machine operated, with every setting and at least one sensor present."""
    has_sensor = pl.any_horizontal([pl.col(s).is_not_null() for s in spec.sensors])
    cond = (pl.col("op_fraction") > 0) & has_sensor
    for x in spec.settings:
        cond = cond & pl.col(x).is_not_null()
    return frame.filter(cond)
