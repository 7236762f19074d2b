"""The hybrid RUL model on the simulated phone line: hourly dataset, training, prediction.

The physics branch (:mod:`~dt_platform.phm.damage`) already gives, per machine and hour, the
damage of the component in service and a physics RUL with a 90 % interval. This module adds the
data branch and the fusion for the fleet, on the same hourly grid:

1. **Hourly signals** (:func:`hourly_signals`): per machine and hour, the mean of every monitored
   sensor over the readings taken while the machine *operates* (``quality = 'ok'`` only), the
   share of operating readings and their count. Idle readings are left out: a stopped spindle
   vibrates at 0.1 mm/s whatever its bearing, so averaging them in would hide the wear.
2. **Base rows** (:func:`assemble_base`): a row per machine and hour (``ts`` = end of the hour,
   every value from data before ``ts``), the hourly signals joined with the physics trajectory
   and the install time of the component in service. This is the ``ml_features`` table.
3. **Features** (:class:`FleetFeaturizer`): per machine type, sensors are standardized per
   operating regime (products / setpoints found by clustering the setting sensors,
   :class:`~dt_platform.phm.features.SensorNormalizer`) and turned into trailing features per
   component life — rolling means over 6 h, 24 h and a week of operating hours, exponential
   smoothing, 24 h / week / whole-life slopes and the drift from the life's first day — by
   :func:`~dt_platform.phm.features.build_features`. A **health indicator** per type (the
   fraction of the failure limit reached: placement offset / 60 µm, 45 kPa / vacuum, heater duty /
   100 %, vibration / 4.5 mm/s, Vce(on) rise / 5 %) gets the same treatment. Sensor features are
   taken as of the last operating hour (a machine standing still over the weekend keeps its last
   reading), and the hours since then are a feature. The physics damage, rate and RUL (with its
   interval), the time since the component was installed, utilization and the machine type
   complete the row. One XGBoost model serves all types: lives are few per type, and the physics
   and health-indicator features mean the same thing on every type.
4. **Target** (:func:`label_rows`): hours to the next failure of the component in service, from
   the maintenance log (the failure time is the last operating hour before the corrective work
   order, :func:`~dt_platform.phm.episodes.services`), capped piecewise-linear at ``cap_h``. A life
   still running (or removed before failing) is censored at the end of the history: its rows count
   only where the time to censoring is at least the cap, because there the capped target is known
   exactly. Hours between a failure and the end of its repair have no target.
5. **Validation by machine**: folds hold out whole machines (every life of a machine together,
   stratified by type), never random rows. The physics branch is refitted without each fold's
   machines, so its out-of-fold RUL is what the physics says about a machine it never saw — the
   same footing as the data branch's out-of-fold predictions.
6. **Fusion**: :class:`~dt_platform.phm.fusion.Fuser` (stacking whose weights vary with the data
   branch's estimate) is fitted on out-of-fold rows of lives that ended in a failure, with true
   RUL ≤ ``horizon_h``, and cross-fitted by machine for its 90 % interval. The physics estimate
   enters clipped at 1.5 × the horizon: a damage law fitted on a few lives can be off by
   thousands of hours on a machine it never saw, and a linear stack must not follow it there.
   One fuser serves all types (per-type weights overfit a handful of lives). Fitted for the
   horizon, the fused value is a *lower* estimate for a component far from failure. Where one
   branch has nothing to say (a type without a usable damage law, no rul model yet) the other
   branch is reported as the fused value, and ``basis`` says so.

Measured on held-out simulated fleets (``benchmarks/simulated_phm.py``): the fused RMSE is below
both branches' over prediction times within the horizon; the gain over the data branch is modest
(≈ 10 %), because the data branch already sees the physics as features.

No look-ahead anywhere: signals, physics and features at ``ts`` use data before ``ts`` only, so an
hourly replay of a finished history gives the predictions the platform would have made live.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Literal

import duckdb
import numpy as np
import polars as pl

from dt_platform.ingest.telemetry import wide_telemetry_sql
from dt_platform.jsonable import json_roundtrip, plain
from dt_platform.phm import damage as damage_mod
from dt_platform.phm.damage import damage_trajectory
from dt_platform.phm.episodes import HOUR_S, History, hour_to_datetime, services
from dt_platform.phm.features import (
    REGIME,
    TIME_IN_SERVICE,
    SensorNormalizer,
    build_features,
    detect_regimes,
    feature_columns,
)
from dt_platform.phm.fitting import FleetPhysics, fit_fleet
from dt_platform.phm.fusion import Fuser
from dt_platform.phm.ml import RulModel, XGBParams
from dt_platform.phm.physics import ISO_10816_3_LIMIT_MM_S, LAWS
from dt_platform.phm.scoring import coverage, rmse
from dt_platform.warehouse import table_names

UTC_US = pl.Datetime("us", "UTC")
PHYSICS_COLS: tuple[str, str, str] = ("rul_physics_h", "rul_physics_lo_h", "rul_physics_hi_h")
ML_COLS: tuple[str, str, str] = ("rul_ml_h", "rul_ml_lo_h", "rul_ml_hi_h")
FUSED_COLS: tuple[str, str, str] = ("rul_fused_h", "rul_fused_lo_h", "rul_fused_hi_h")
PHYSICS_VALUES: tuple[str, ...] = ("damage", "damage_rate_per_h", *PHYSICS_COLS)


class InsufficientHistory(ValueError):
    """The history holds too few run-to-failure lives to train the data branch."""


# --- what each machine type's telemetry says about its health ---------------------------------


@dataclass(frozen=True)
class HealthLimit:
    """A failure limit on one sensor (the catalogue's failure criterion).

    ``above``: fails when the value exceeds ``limit``; ``below``: when it drops under ``limit``;
    ``rise``: when it rises by ``limit`` (a fraction) over the component's own first day.
    """

    sensor: str
    limit: float
    kind: Literal["above", "below", "rise"]


@dataclass(frozen=True)
class TypeSignals:
    """Which sensors of a machine type describe its operating point and which its health."""

    machine_type: str
    prefix: str
    settings: tuple[str, ...]
    """Operating-condition sensors (product / setpoint): they define the regimes."""
    sensors: tuple[str, ...]
    """Monitored sensors, standardized per regime and turned into features."""
    active_sensor: str
    active_above: float
    """A reading is taken while operating when ``active_sensor > active_above`` (the damage
    law's own notion of operation, :mod:`dt_platform.phm.physics`)."""
    limits: tuple[HealthLimit, ...]

    @property
    def columns(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys((*self.settings, *self.sensors, self.active_sensor)))


TYPE_SIGNALS: dict[str, TypeSignals] = {
    s.machine_type: s
    for s in (
        TypeSignals(
            "smt_placer",
            "smt",
            # products differ by nozzle force (discrete); the rate follows the shift's load
            settings=("placement_force_n",),
            sensors=("vacuum_kpa", "placement_offset_um", "head_temp_c"),
            active_sensor="placement_rate_per_min",
            active_above=0.0,
            limits=(
                HealthLimit("placement_offset_um", 60.0, "above"),
                HealthLimit("vacuum_kpa", 45.0, "below"),
            ),
        ),
        TypeSignals(
            "reflow_oven",
            "oven",
            # the fan speed is set per product (and halved on standby); the zone temperature is
            # the controlled value, which sags only when the heater can no longer hold it
            settings=("fan_speed_rpm",),
            sensors=("heater_duty_pct", "heater_temp_c", "zone_temp_c"),
            active_sensor="heater_temp_c",
            active_above=100.0,
            limits=(HealthLimit("heater_duty_pct", 100.0, "above"),),
        ),
        TypeSignals(
            "cnc_spindle",
            "cnc",
            settings=("speed_rpm",),
            sensors=("vibration_rms_mm_s", "spindle_temp_c", "current_a", "load_pct"),
            active_sensor="speed_rpm",
            active_above=0.0,
            limits=(HealthLimit("vibration_rms_mm_s", ISO_10816_3_LIMIT_MM_S, "above"),),
        ),
        TypeSignals(
            "servo_drive",
            "servo",
            # cycle rate and current follow the load continuously: no discrete regimes
            settings=(),
            sensors=("vce_on_v", "junction_temp_c", "case_temp_c", "delta_tj_k", "current_a"),
            active_sensor="power_cycles_per_min",
            active_above=0.0,
            limits=(HealthLimit("vce_on_v", 0.05, "rise"),),
        ),
    )
}
"""Signals per simulated type. Limits are the catalogue's failure criteria (DESIGN §3)."""

SIGNAL_COLUMNS: tuple[str, ...] = tuple(
    sorted({c for spec in TYPE_SIGNALS.values() for c in spec.columns})
)
"""Every sensor column of the hourly signals (the union over types; null where not reported)."""

BASE_SCHEMA: dict[str, pl.DataType] = {
    "machine_id": pl.String(),
    "machine_type": pl.String(),
    "ts": UTC_US,
    "component_installed_at": UTC_US,
    "n_readings": pl.Int64(),
    "op_fraction": pl.Float64(),
    **{c: pl.Float64() for c in SIGNAL_COLUMNS},
    "stage": pl.String(),
    **{c: pl.Float64() for c in PHYSICS_VALUES},
}
"""Columns of the hourly base rows (the ``ml_features`` table without its ``day``)."""


# --- configuration ------------------------------------------------------------------------------


FLEET_PARAMS = XGBParams(
    n_estimators=250,
    max_depth=4,
    learning_rate=0.05,
    subsample=0.8,
    colsample_bytree=0.5,
    min_child_weight=5.0,
    max_bin=64,
)
FLEET_QUANTILE_PARAMS = XGBParams(
    n_estimators=120, max_depth=4, learning_rate=0.1, colsample_bytree=0.5, max_bin=64
)


@dataclass(frozen=True)
class FleetConfig:
    """Everything that shapes the fleet model; stored in the model bundle."""

    cap_h: float = 336.0
    """ML target cap: two weeks. Lives last 3-6 weeks; beyond two weeks the signals cannot tell
    one remaining week from another, and the maintenance horizons that matter are shorter."""
    horizon_h: float = 336.0
    """Fusion is fitted (and CV-scored) on rows with known RUL ≤ this."""
    windows_h: tuple[int, ...] = (6, 24, 168)
    """Rolling windows in operating hours: a shift, a day, a week."""
    stats: tuple[str, ...] = ("mean",)
    spans: tuple[int, ...] = (24,)
    slope_windows_h: tuple[int, ...] = (24, 168)
    baseline_h: int = 24
    """Operating hours of a life that define its own baseline (drift features, Vce rise)."""
    utilization_windows_h: tuple[int, ...] = (24, 168)
    n_splits: int = 4
    physics_draws: int = 100
    """Monte-Carlo draws of the out-of-fold physics trajectories (training only)."""
    physics_clip_h: float = 504.0
    """Physics RUL (and its interval) is clipped here before fusion: 1.5 × the horizon. The
    stacking is linear, and a damage law fitted on a few lives can be off by thousands of hours
    on a new machine; clipped, a far-away physics estimate means "far", not "3000 h"."""
    fusion_knots: int = 3
    """Few knots: a fleet holds a few dozen lives, and the weights must generalize to new ones."""
    fusion_per_type: bool = False
    """Also fit a fuser per machine type. Off: with a handful of lives per type the per-type
    weights overfit (on held-out simulated fleets the pooled fuser wins on RMSE)."""
    coverage: float = 0.9
    min_failed_lives: int = 3
    seed: int = 0
    params: XGBParams = field(default_factory=lambda: FLEET_PARAMS)
    quantile_params: XGBParams = field(default_factory=lambda: FLEET_QUANTILE_PARAMS)

    def describe(self) -> dict[str, Any]:
        out = asdict(self)
        out["params"] = asdict(self.params)
        out["quantile_params"] = asdict(self.quantile_params)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FleetConfig:
        data = dict(data)
        data["params"] = XGBParams(**data["params"])
        data["quantile_params"] = XGBParams(**data["quantile_params"])
        for key in ("windows_h", "stats", "spans", "slope_windows_h", "utilization_windows_h"):
            data[key] = tuple(data[key])
        return cls(**data)


# --- 1. hourly signals from telemetry -----------------------------------------------------------


def _type_signals_sql(spec: TypeSignals) -> str:
    cols = spec.columns
    active = f'"{spec.active_sensor}" > {spec.active_above!r}'
    # ORDER BY makes each mean a sequential sum: the same bits however many threads DuckDB
    # runs, so the same telemetry always gives the same model bytes (and version)
    means = ",\n".join(f'avg("{c}" ORDER BY ts) FILTER (WHERE {active}) AS "{c}"' for c in cols)
    return f"""
        WITH r AS ({wide_telemetry_sql(cols, since=True)})
        SELECT machine_id,
               epoch_us(ts) // 3600000000 AS hour,
               count(*) AS n_readings,
               avg(({active})::DOUBLE) AS op_fraction,
               {means}
        FROM r GROUP BY machine_id, hour ORDER BY machine_id, hour"""


def hourly_signals(
    con: duckdb.DuckDBPyConnection,
    until: dt.datetime,
    *,
    since: dt.datetime | None = None,
    machine_types: Iterable[str] | None = None,
) -> pl.DataFrame:
    """Per machine and hour in ``[since, until)``: operating means of every signal (ok readings).

    Columns: ``machine_id, machine_type, ts`` (end of the hour), ``n_readings``, ``op_fraction``
    (share of readings taken while operating) and one column per :data:`SIGNAL_COLUMNS` (null when
    the machine did not operate in that hour or its type has no such sensor).
    """
    since = since or dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    frames = []
    for mtype, spec in TYPE_SIGNALS.items():
        if machine_types is not None and mtype not in set(machine_types):
            continue
        frame = con.execute(
            _type_signals_sql(spec),
            {"type": mtype, "since": since, "until": until, "sensors": list(spec.columns)},
        ).pl()
        if frame.is_empty():
            continue
        frames.append(
            frame.with_columns(
                pl.lit(mtype).alias("machine_type"),
                pl.from_epoch((pl.col("hour") + 1) * HOUR_S, time_unit="s")
                .dt.cast_time_unit("us")
                .dt.replace_time_zone("UTC")
                .alias("ts"),
            ).drop("hour")
        )
    schema = {
        "machine_id": pl.String(),
        "machine_type": pl.String(),
        "ts": UTC_US,
        "n_readings": pl.Int64(),
        "op_fraction": pl.Float64(),
        **{c: pl.Float64() for c in SIGNAL_COLUMNS},
    }
    if not frames:
        return pl.DataFrame(schema=schema)
    out = pl.concat(frames, how="diagonal_relaxed")
    for c in SIGNAL_COLUMNS:
        if c not in out.columns:
            out = out.with_columns(pl.lit(None, dtype=pl.Float64).alias(c))
    return out.select([pl.col(c).cast(t) for c, t in schema.items()]).sort("machine_id", "ts")


# --- 2. lives and base rows ---------------------------------------------------------------------


LIVES_SCHEMA: dict[str, pl.DataType] = {
    "machine_id": pl.String(),
    "machine_type": pl.String(),
    "start": UTC_US,
    "end": UTC_US,
    "end_kind": pl.String(),
    "install_source": pl.String(),
}


def lives_table(history: History) -> pl.DataFrame:
    """Every component life of every machine with a damage law, as the maintenance log tells it.

    ``end`` is the estimated failure time (``end_kind = 'failure'``), the removal time
    (``removed``) or null while still in service (``censored``).
    """
    rows = []
    for machine_id, info in sorted(history.machines.items()):
        for s in services(history, machine_id):
            rows.append(
                {
                    "machine_id": machine_id,
                    "machine_type": info.machine_type,
                    "start": s.start,
                    "end": s.end,
                    "end_kind": s.end_kind,
                    "install_source": s.install_source,
                }
            )
    return pl.DataFrame(rows, schema=LIVES_SCHEMA) if rows else pl.DataFrame(schema=LIVES_SCHEMA)


def _hour_grid(keys: pl.DataFrame, start: dt.datetime | None, end: dt.datetime) -> pl.DataFrame:
    """Hourly ``ts`` per machine to ``end`` inclusive: from its first key hour, or, with
    ``start``, over the whole of ``(start, end]`` for every machine with a key in it."""
    if start is not None:
        keys = keys.filter(pl.col("ts") > start)
    first = keys.group_by("machine_id").agg(
        pl.col("machine_type").first(), pl.col("ts").min().alias("first")
    )
    if start is not None:
        first = first.with_columns(
            pl.lit(start + dt.timedelta(hours=1)).cast(UTC_US).alias("first")
        )
    end_lit = pl.lit(end).cast(UTC_US)
    return (
        first.filter(pl.col("first") <= end_lit)
        .with_columns(pl.datetime_ranges(pl.col("first"), end_lit, "1h").alias("ts"))
        .explode("ts", empty_as_null=True)
        .select("machine_id", "machine_type", pl.col("ts").cast(UTC_US))
        .sort("machine_id", "ts")
    )


def attach_installed(frame: pl.DataFrame, lives: pl.DataFrame) -> pl.DataFrame:
    """Fill ``component_installed_at`` (where null) with the start of the life in service at ts.

    Row ``ts`` describes the hour before it, so a component installed exactly at ``ts`` starts
    with the next row (as in :func:`~dt_platform.phm.damage.damage_trajectory`).
    """
    if lives.is_empty() or frame.is_empty():
        return frame
    starts = (
        lives.select("machine_id", pl.col("start").alias("_life_start"))
        .unique()
        .with_columns((pl.col("_life_start") + pl.duration(microseconds=1)).alias("_start"))
        .sort("_start")
    )
    joined = frame.sort("ts").join_asof(
        starts,
        left_on="ts",
        right_on="_start",
        by="machine_id",
        strategy="backward",
        check_sortedness=False,
    )
    return joined.with_columns(
        pl.coalesce("component_installed_at", "_life_start").alias("component_installed_at")
    ).drop("_start", "_life_start")


def assemble_base(
    signals: pl.DataFrame,
    physics: pl.DataFrame,
    *,
    end: dt.datetime,
    start: dt.datetime | None = None,
    lives: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """Hourly base rows over ``(start, end]`` (see :data:`BASE_SCHEMA`).

    ``signals`` from :func:`hourly_signals`; ``physics`` has trajectory rows (``machine_id, ts,
    component_installed_at, stage`` and :data:`PHYSICS_VALUES`; it may be empty). Every machine
    gets a row per hour from its first signal or physics hour; ``component_installed_at`` comes
    from the physics rows, else from ``lives`` (the life in service at ts).
    """
    keys = pl.concat(
        [
            signals.select("machine_id", "machine_type", "ts"),
            physics.select("machine_id", "machine_type", pl.col("ts").cast(UTC_US)),
        ]
    )
    if keys.is_empty():
        return pl.DataFrame(schema=BASE_SCHEMA)
    grid = _hour_grid(keys, start, end)
    physics = physics.with_columns(
        [
            pl.lit(None, dtype=t).alias(c)
            for c, t in BASE_SCHEMA.items()
            if c not in physics.columns and (c in PHYSICS_VALUES or c in ("stage",))
        ]
        + (
            [pl.lit(None, dtype=UTC_US).alias("component_installed_at")]
            if "component_installed_at" not in physics.columns
            else []
        )
    )
    phys = physics.select(
        "machine_id",
        pl.col("ts").cast(UTC_US),
        pl.col("component_installed_at").cast(UTC_US),
        pl.col("stage").cast(pl.String),
        *[pl.col(c).cast(pl.Float64) for c in PHYSICS_VALUES],
    ).unique(["machine_id", "ts"], keep="last")
    base = grid.join(signals.drop("machine_type"), on=["machine_id", "ts"], how="left").join(
        phys, on=["machine_id", "ts"], how="left"
    )
    if lives is not None:
        base = attach_installed(base, lives)
    base = base.with_columns(
        pl.col("n_readings").fill_null(0), pl.col("op_fraction").fill_null(0.0)
    )
    return base.select([pl.col(c).cast(t) for c, t in BASE_SCHEMA.items()]).sort("machine_id", "ts")


def label_rows(
    base: pl.DataFrame, lives: pl.DataFrame, *, cap_h: float, until: dt.datetime
) -> pl.DataFrame:
    """Add the training target to base rows: ``rul_h`` (true, uncapped, hours), ``failed_life``.

    * life ending in a failure at F: ``rul_h = F − ts`` for ts ≤ F; no target after F (the
      component is down until its replacement is installed);
    * censored or removed at C (or still running at ``until``): the RUL is only known to exceed
      C − ts, so a row counts only if C − ts ≥ ``cap_h`` and then ``rul_h = C − ts`` (capped to
      exactly ``cap_h`` by the model): the capped target is known exactly there.
    Rows without a target have ``rul_h`` null.
    """
    life = lives.select(
        "machine_id",
        pl.col("start").alias("component_installed_at"),
        pl.col("end").alias("_end"),
        pl.col("end_kind").alias("_kind"),
    ).unique(["machine_id", "component_installed_at"], keep="last")
    out = base.join(life, on=["machine_id", "component_installed_at"], how="left")
    end = pl.coalesce(pl.col("_end"), pl.lit(until).cast(UTC_US))
    remaining = (end - pl.col("ts")).dt.total_seconds() / HOUR_S
    failed = pl.col("_kind") == "failure"
    rul = (
        pl.when(failed & (remaining >= 0))
        .then(remaining)
        .when(~failed & (remaining >= cap_h))
        .then(remaining)
        .otherwise(None)
    )
    return out.with_columns(rul.alias("rul_h"), failed.fill_null(False).alias("failed_life")).drop(
        "_end", "_kind"
    )


# --- 3. features --------------------------------------------------------------------------------


def _life_columns(base: pl.DataFrame) -> pl.DataFrame:
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
            op = _operating(base.filter(pl.col("machine_type") == mtype), spec)
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
        data = _life_columns(base).sort("life_id", "ts")
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
        op = _operating(sub, spec).sort("life_id", "ts")
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


def _operating(frame: pl.DataFrame, spec: TypeSignals) -> pl.DataFrame:
    """Rows of hours the machine operated, with every setting and at least one sensor present."""
    has_sensor = pl.any_horizontal([pl.col(s).is_not_null() for s in spec.sensors])
    cond = (pl.col("op_fraction") > 0) & has_sensor
    for x in spec.settings:
        cond = cond & pl.col(x).is_not_null()
    return frame.filter(cond)


# --- 4. the model -------------------------------------------------------------------------------


def _fusion_input(frame: pl.DataFrame, clip_h: float) -> pl.DataFrame:
    """Branch estimates as the fuser sees them: physics clipped, an open upper bound → clip."""
    return frame.with_columns(
        pl.col(PHYSICS_COLS[0]).clip(0.0, clip_h),
        pl.col(PHYSICS_COLS[1]).clip(0.0, clip_h),
        pl.col(PHYSICS_COLS[2]).fill_null(clip_h).clip(0.0, clip_h),
    )


PREDICTION_SCHEMA: dict[str, pl.DataType] = {
    "machine_id": pl.String(),
    "machine_type": pl.String(),
    "ts": UTC_US,
    "component_installed_at": UTC_US,
    "stage": pl.String(),
    **{c: pl.Float64() for c in (*PHYSICS_COLS, *ML_COLS, *FUSED_COLS)},
    "w_physics": pl.Float64(),
    "basis": pl.String(),
}


@dataclass
class FleetModel:
    """Data branch (XGBoost, conformal 90 % band) and the fusers for the simulated fleet.

    ``fusers`` maps a machine type to its fuser; ``"*"`` is the pooled fuser, the only one
    unless :attr:`FleetConfig.fusion_per_type` is set, and the fallback for any type.
    """

    featurizer: FleetFeaturizer
    ml: RulModel
    fusers: dict[str, Fuser]
    physics_version: str
    trained_until: str
    cv: dict[str, Any] = field(default_factory=dict)
    oof: pl.DataFrame | None = field(default=None, repr=False, compare=False)
    """Out-of-fold predictions of both branches on every training row (with ``rul_h``); not
    serialized."""

    @property
    def config(self) -> FleetConfig:
        return self.featurizer.config

    def predict(self, base: pl.DataFrame) -> pl.DataFrame:
        """Physics, ML and fused RUL (hours, 90 % intervals) for every base row.

        ``basis`` tells what the fused value rests on: ``fused``, ``physics_only`` (no ML value),
        ``ml_only`` (no physics value), ``failed`` (a corrective work order is open: 0 h) or
        ``none``.
        """
        feats = self.featurizer.transform(base)
        ml = self.ml.predict(feats).select(
            pl.col("rul_mean").alias(ML_COLS[0]),
            pl.col("rul_p05").alias(ML_COLS[1]),
            pl.col("rul_p95").alias(ML_COLS[2]),
        )
        out = (
            feats.select("machine_id", "ts")
            .hstack(ml)
            .join(
                base.select(
                    "machine_id",
                    "machine_type",
                    "ts",
                    "component_installed_at",
                    "stage",
                    *PHYSICS_COLS,
                ),
                on=["machine_id", "ts"],
                how="left",
            )
        )
        return combine_branches(out, self.fusers, self.config.physics_clip_h)

    # -- bundle --------------------------------------------------------------------------------

    def to_bytes(self) -> bytes:
        meta = {
            "kind": "fleet_rul",
            "featurizer": self.featurizer.to_dict(),
            "fusers": {t: f.to_dict() for t, f in sorted(self.fusers.items())},
            "physics_version": self.physics_version,
            "trained_until": self.trained_until,
            "cv": self.cv,
        }
        return replace(self.ml, meta=json_roundtrip(meta)).to_bytes()

    @classmethod
    def from_bytes(cls, data: bytes) -> FleetModel:
        ml = RulModel.from_bytes(data)
        meta = ml.meta
        if meta.get("kind") != "fleet_rul":
            raise ValueError(
                "FleetModel.from_bytes: the bundle is not a fleet RUL model (no 'fleet_rul' "
                "metadata); it may be a C-MAPSS model. Retrain with rul_model."
            )
        return cls(
            FleetFeaturizer.from_dict(meta["featurizer"]),
            replace(ml, meta={}),
            {t: Fuser.from_dict(f) for t, f in meta["fusers"].items()},
            meta["physics_version"],
            meta["trained_until"],
            meta.get("cv", {}),
        )

    @property
    def version(self) -> str:
        """sha256 of :meth:`to_bytes` (content hash: any change of any part changes it)."""
        return hashlib.sha256(self.to_bytes()).hexdigest()


def combine_branches(
    frame: pl.DataFrame, fusers: Mapping[str, Fuser] | None, clip_h: float
) -> pl.DataFrame:
    """Fused RUL from physics and ML columns (either may be null), with ``w_physics``/``basis``.

    ``fusers`` maps machine type (or ``"*"``, any type) to a fuser. Without one (no rul model
    trained yet) or without an ML value, the physics estimate and
    its interval are the fused values; without a physics value, the ML ones. A failed component
    (stage ``failed``) has 0 h everywhere.
    """
    for col in (*ML_COLS, *PHYSICS_COLS):
        if col not in frame.columns:
            frame = frame.with_columns(pl.lit(None, dtype=pl.Float64).alias(col))
    has_ph = pl.col(PHYSICS_COLS[0]).is_not_null()
    has_ml = pl.col(ML_COLS[0]).is_not_null()
    fused = np.full((frame.height, 4), np.nan)
    both = frame.select((has_ph & has_ml).alias("b"))["b"].to_numpy()
    types = frame["machine_type"].to_numpy()
    for mtype in np.unique(types[both]) if fusers else ():
        fuser = fusers.get(str(mtype)) or fusers.get("*")
        if fuser is None:
            continue
        rows = both & (types == mtype)
        inp = _fusion_input(frame.filter(pl.Series(rows)), clip_h)
        fp = fuser.predict(inp)
        fused[rows] = fp.select("rul_fused", "rul_fused_lo", "rul_fused_hi", "w_physics").to_numpy()
    out = frame.with_columns(
        pl.Series("_f", fused[:, 0]).fill_nan(None),
        pl.Series("_lo", fused[:, 1]).fill_nan(None),
        pl.Series("_hi", fused[:, 2]).fill_nan(None),
        pl.Series("_w", fused[:, 3]).fill_nan(None),
    )
    fused_ok = pl.col("_f").is_not_null()
    failed = pl.col("stage") == "failed"
    basis = (
        pl.when(failed)
        .then(pl.lit("failed"))
        .when(fused_ok)
        .then(pl.lit("fused"))
        .when(has_ph)
        .then(pl.lit("physics_only"))
        .when(has_ml)
        .then(pl.lit("ml_only"))
        .otherwise(pl.lit("none"))
    )
    out = out.with_columns(basis.alias("basis"))
    b = pl.col("basis")

    def pick(i: int) -> pl.Expr:
        return (
            pl.when(b == "failed")
            .then(0.0)
            .when(b == "fused")
            .then(pl.col(["_f", "_lo", "_hi"][i]))
            .when(b == "physics_only")
            .then(pl.col(PHYSICS_COLS[i]))
            .when(b == "ml_only")
            .then(pl.col(ML_COLS[i]))
            .otherwise(None)
        )

    out = out.with_columns(
        pick(0).alias(FUSED_COLS[0]),
        pick(1).alias(FUSED_COLS[1]),
        pick(2).alias(FUSED_COLS[2]),
        pl.when(b == "fused")
        .then(pl.col("_w"))
        .when(b == "physics_only")
        .then(1.0)
        .when(b == "ml_only")
        .then(0.0)
        .otherwise(None)
        .alias("w_physics"),
    )
    zero = [
        pl.when(failed).then(0.0).otherwise(pl.col(c)).alias(c) for c in (*PHYSICS_COLS, *ML_COLS)
    ]
    out = out.with_columns(zero).drop("_f", "_lo", "_hi", "_w")
    for col, dtype in PREDICTION_SCHEMA.items():
        if col not in out.columns:
            out = out.with_columns(pl.lit(None, dtype=dtype).alias(col))
    return out.select([pl.col(c).cast(t) for c, t in PREDICTION_SCHEMA.items()])


# --- 5. training --------------------------------------------------------------------------------


def subset_history(history: History, machines: Iterable[str]) -> History:
    """The same history restricted to some machines (for refitting the physics without a fold)."""
    keep = set(machines)
    return History(
        history.until,
        {m: i for m, i in history.machines.items() if m in keep},
        history.work_orders.filter(pl.col("machine_id").is_in(sorted(keep))),
        {m: s for m, s in history.stress.items() if m in keep},
        {m: p for m, p in history.problems.items() if m in keep},
    )


def machine_folds(
    machine_types: Mapping[str, str], n_splits: int, seed: int = 0
) -> list[list[str]]:
    """Machines dealt to ``n_splits`` folds, stratified by type (each fold holds every type
    once before any type twice), deterministic for a seed."""
    if n_splits < 2:
        raise ValueError(f"machine_folds: need at least 2 folds, got {n_splits}")
    rng = np.random.default_rng(seed)
    folds: list[list[str]] = [[] for _ in range(n_splits)]
    offset = 0
    for mtype in sorted(set(machine_types.values())):
        ids = sorted(m for m, t in machine_types.items() if t == mtype)
        for k, m in enumerate(rng.permutation(ids)):
            folds[(offset + k) % n_splits].append(str(m))
        offset += len(ids)
    return [sorted(f) for f in folds if f]


def fit_fleet_robust(history: History) -> FleetPhysics:
    """:func:`~dt_platform.phm.fitting.fit_fleet`, one type at a time if the joint call fails.

    With few failures the likelihood of a type can be so flat that statsmodels cannot invert its
    Hessian and ``fit_fleet`` raises for the whole fleet. Then each type is fitted on its own;
    a type that still fails is refitted with its shape parameters, and then its scatter, held at
    the literature priors (what :mod:`~dt_platform.phm.fitting` does anyway when the data cannot
    identify them), and the decision is recorded in the fit.
    """
    try:
        return fit_fleet(history)
    except (ValueError, np.linalg.LinAlgError):
        pass
    types = {}
    never = 10**9
    attempts = (
        ({}, None),
        ({"min_failures_shape": never}, "shape parameters held at the literature priors"),
        (
            {"min_failures_shape": never, "min_failures_sigma": never},
            "shape parameters and scatter held at the literature priors",
        ),
    )
    for mtype in LAWS:
        sub = subset_history(
            history, [m for m, i in history.machines.items() if i.machine_type == mtype]
        )
        for kwargs, note in attempts:
            try:
                fit = fit_fleet(sub, **kwargs).types[mtype]
            except (ValueError, np.linalg.LinAlgError):
                continue
            if note:
                fit.decisions.append(
                    f"the free fit gave no parameter covariance (flat likelihood): {note}"
                )
            types[mtype] = fit
            break
    return FleetPhysics(types, history.until.isoformat())


def physics_out_of_fold(
    history: History, folds: Sequence[Sequence[str]], *, n_draws: int, seed: int = 0
) -> pl.DataFrame:
    """Physics trajectory of every machine from damage laws fitted without its fold."""
    parts = []
    for held_out in folds:
        train = [m for m in history.machines if m not in set(held_out)]
        fleet_f = fit_fleet_robust(subset_history(history, train))
        parts.append(
            damage_trajectory(
                history, fleet_f, machines=sorted(held_out), n_draws=n_draws, seed=seed
            )
        )
    parts = [p for p in parts if not p.is_empty()]
    return pl.concat(parts) if parts else pl.DataFrame(schema=damage_mod.TRAJECTORY_SCHEMA)


def failed_lives_with_data(history: History) -> int:
    """Lives that ended in a failure after their machine's first telemetry: the run-to-failure
    examples the data branch can learn from (a failure before the data has no signals)."""
    n = 0
    for machine_id, stress in history.stress.items():
        first = stress.first_data_hour
        if first is None:
            continue
        first_dt = hour_to_datetime(first)
        n += sum(
            1
            for s in services(history, machine_id)
            if s.end_kind == "failure" and s.end is not None and s.end > first_dt
        )
    return n


def count_failed_lives(lives: pl.DataFrame, base: pl.DataFrame | None = None) -> int:
    """Lives that ended in a failure (with data, if ``base`` is given)."""
    failed = lives.filter(pl.col("end_kind") == "failure")
    if base is None:
        return failed.height
    seen = base.select("machine_id", pl.col("component_installed_at").alias("start")).unique()
    return failed.join(seen, on=["machine_id", "start"], how="semi").height


def train_fleet_model(
    history: History,
    signals: pl.DataFrame,
    physics: FleetPhysics,
    config: FleetConfig | None = None,
) -> FleetModel:
    """Train the data branch and the fuser on the fleet's history (see the module docstring).

    ``signals`` are :func:`hourly_signals` up to ``history.until``; ``physics`` is the damage-law
    fit on the whole history (its version goes into the bundle; the training itself uses
    out-of-fold refits). Raises :class:`InsufficientHistory` when the log holds fewer than
    ``config.min_failed_lives`` failures with data, or too few machines for the folds.
    """
    config = config or FleetConfig()
    lives = lives_table(history)
    types = {m: i.machine_type for m, i in history.machines.items() if m in history.stress}
    n_failed = failed_lives_with_data(history)
    if n_failed < config.min_failed_lives:
        raise InsufficientHistory(
            f"the history before {history.until:%Y-%m-%d %H:%M} UTC holds {n_failed} failure(s) "
            "after the first telemetry of their machine; the data branch needs at least "
            f"{config.min_failed_lives} run-to-failure lives. Until then predictions use the "
            "physics branch alone."
        )
    n_splits = min(config.n_splits, len(types))
    if n_splits < 2:
        raise InsufficientHistory(
            f"{len(types)} machine(s) with telemetry: grouped validation needs at least 2"
        )
    folds = machine_folds(types, n_splits, config.seed)
    phys = physics_out_of_fold(history, folds, n_draws=config.physics_draws, seed=config.seed)
    base = assemble_base(signals, phys, end=history.until, lives=lives)
    base = label_rows(base, lives, cap_h=config.cap_h, until=history.until)
    if (
        count_failed_lives(lives, base.filter(pl.col("rul_h").is_not_null()))
        < config.min_failed_lives
    ):
        raise InsufficientHistory(
            f"fewer than {config.min_failed_lives} failed lives have hourly data; keep collecting"
        )
    featurizer = FleetFeaturizer.fit(base, config)
    feats = featurizer.transform(base).join(
        base.select("machine_id", "ts", "rul_h", "failed_life", *PHYSICS_COLS),
        on=["machine_id", "ts"],
        how="left",
    )
    train = feats.filter(pl.col("rul_h").is_not_null())
    fold_of = {m: i for i, f in enumerate(folds) for m in f}
    row_fold = np.array([fold_of[m] for m in train["machine_id"].to_list()])
    idx = np.arange(train.height)
    row_folds = [(idx[row_fold != f], idx[row_fold == f]) for f in range(len(folds))]
    row_folds = [(tr, va) for tr, va in row_folds if va.size and tr.size]
    ml = RulModel.fit(
        train,
        train["rul_h"],
        train["machine_id"],
        feature_columns=featurizer.columns,
        cap=config.cap_h,
        params=config.params,
        quantile_params=config.quantile_params,
        folds=row_folds,
        coverage=config.coverage,
    )
    assert ml.oof is not None
    oof = train.select(
        "machine_id", "machine_type", "ts", "rul_h", "failed_life", *PHYSICS_COLS
    ).hstack(
        ml.oof.select(
            pl.col("rul_mean").alias(ML_COLS[0]),
            pl.col("rul_p05").alias(ML_COLS[1]),
            pl.col("rul_p95").alias(ML_COLS[2]),
        )
    )
    fit_rows = _fusion_input(
        oof.filter(
            pl.col("failed_life")
            & (pl.col("rul_h") <= config.horizon_h)
            & pl.col(PHYSICS_COLS[0]).is_not_null()
            & pl.col(ML_COLS[0]).is_not_null()
        ),
        config.physics_clip_h,
    )
    fusers = fit_fusers(fit_rows, config)
    cv = {
        "rows_train": train.height,
        "rows_fusion": fit_rows.height,
        "machines": len(types),
        "failed_lives": n_failed,
        "folds": len(row_folds),
        "ml_margin_h": ml.margin,
        "fusion": {t: plain(f.cv) for t, f in sorted(fusers.items())},
        "per_type": _per_type_cv(fit_rows),
        "coverage_ml_capped": coverage(
            oof[ML_COLS[1]], oof[ML_COLS[2]], np.minimum(oof["rul_h"].to_numpy(), config.cap_h)
        ),
        "rmse_ml_capped": rmse(oof[ML_COLS[0]], np.minimum(oof["rul_h"].to_numpy(), config.cap_h)),
    }
    return FleetModel(
        featurizer, ml, fusers, physics.version, history.until.isoformat(), plain(cv), oof
    )


def fit_fusers(rows: pl.DataFrame, config: FleetConfig) -> dict[str, Fuser]:
    """A pooled fuser (``"*"``), and with ``fusion_per_type`` one per type with enough rows.

    Each is cross-fitted by machine (held-out machines calibrate its interval and fill ``cv``).
    Raises :class:`InsufficientHistory` if not even the pooled one can be fitted.
    """

    def fit(part: pl.DataFrame) -> Fuser | None:
        n_units = part["machine_id"].n_unique()
        if part.height < 10 * config.fusion_knots or n_units < 2:
            return None
        return Fuser.fit(
            part,
            truth="rul_h",
            groups="machine_id",
            # weights vary with the data branch's estimate: it places a unit in its life more
            # reliably than the physics does on a machine it never saw
            context=ML_COLS[0],
            n_knots=config.fusion_knots,
            coverage=config.coverage,
            n_splits=min(5, n_units),
            physics_cols=PHYSICS_COLS,
            ml_cols=ML_COLS,
            seed=config.seed,
        )

    pooled = fit(rows)
    if pooled is None:
        raise InsufficientHistory(
            f"{rows.height} out-of-fold rows of failed lives with both branches on "
            f"{rows['machine_id'].n_unique()} machine(s): too few to fit the fusion"
        )
    fusers = {"*": pooled}
    if not config.fusion_per_type:
        return fusers
    for (mtype,), part in rows.group_by("machine_type", maintain_order=True):
        own = fit(part)
        if own is not None:
            fusers[str(mtype)] = own
    return fusers


def _per_type_cv(rows: pl.DataFrame) -> dict[str, dict[str, float]]:
    out = {}
    for (mtype,), part in rows.group_by("machine_type", maintain_order=True):
        y = part["rul_h"].to_numpy()
        out[str(mtype)] = {
            "rows": part.height,
            "rmse_physics": rmse(part[PHYSICS_COLS[0]], y),
            "rmse_ml": rmse(part[ML_COLS[0]], y),
        }
    return dict(sorted(out.items()))


# --- 6. physics rows for one day (the daily partitions) -----------------------------------------


def physics_hourly(
    history: History,
    fleet: FleetPhysics,
    since: dt.datetime,
    *,
    n_draws: int = damage_mod.N_DRAWS,
    seed: int = 0,
) -> pl.DataFrame:
    """Physics trajectory rows with ``since < ts <= history.until`` for every machine with data.

    Equal to the matching rows of :func:`~dt_platform.phm.damage.damage_trajectory`, but the
    Monte-Carlo interval is run for the wanted hours only (a day of a long history costs a day,
    not the history). Machines whose type has no usable fit get rows with null physics and the
    install time of the component in service, so the data branch still sees them.
    """
    since_hour = int(since.timestamp() // HOUR_S)
    frames = []
    lives = lives_table(history)
    for machine_id in sorted(history.stress):
        info = history.machines.get(machine_id)
        stress = history.stress[machine_id]
        if info is None or stress.n_hours == 0:
            continue
        want = np.arange(max(0, since_hour - stress.hour0), stress.n_hours)
        if want.size == 0:
            continue
        fit = fleet.types.get(info.machine_type)
        if fit is not None and fit.usable:
            frame = damage_mod.machine_trajectory(
                history, fit, machine_id, want, n_draws=n_draws, seed=seed
            )
            if frame is None:
                continue
        else:
            ts = [hour_to_datetime(stress.hour0 + int(h) + 1) for h in want]
            frame = pl.DataFrame(
                {"machine_id": machine_id, "machine_type": info.machine_type, "ts": ts},
                schema={"machine_id": pl.String(), "machine_type": pl.String(), "ts": UTC_US},
            ).with_columns(
                [
                    pl.lit(None, dtype=t).alias(c)
                    for c, t in damage_mod.TRAJECTORY_SCHEMA.items()
                    if c not in ("machine_id", "machine_type", "ts")
                ]
            )
            frame = attach_installed(frame, lives.filter(pl.col("machine_id") == machine_id))
        frames.append(frame.select(list(damage_mod.TRAJECTORY_SCHEMA)))
    if not frames:
        return pl.DataFrame(schema=damage_mod.TRAJECTORY_SCHEMA)
    out = pl.concat(frames, how="vertical_relaxed").with_columns(pl.col(pl.Float64).fill_nan(None))
    return out.with_columns(
        [
            pl.when(pl.col(c).is_infinite()).then(None).otherwise(pl.col(c)).alias(c)
            for c in PHYSICS_COLS
        ]
    ).sort("machine_id", "ts")


# --- 7. sensor trends for alert reasons ---------------------------------------------------------


TREND_SCHEMA: dict[str, pl.DataType] = {
    "machine_id": pl.String(),
    "trend_sensor": pl.String(),
    "trend_value": pl.Float64(),
    "trend_slope_per_h": pl.Float64(),
    "trend_limit": pl.Float64(),
    "trend_limit_kind": pl.String(),
    "trend_limit_fraction": pl.Float64(),
}


def sensor_trends(base: pl.DataFrame, *, window_h: int = 24, baseline_h: int = 24) -> pl.DataFrame:
    """Per machine: its health sensor closest to the failure limit over its current life.

    ``base`` holds the rows of each machine's current life (any length, sorted or not). Over the
    last ``window_h`` operating hours: the mean value, the least-squares slope per calendar hour,
    and the fraction of the way to the limit (1 = at the limit, as :func:`health_indicator`).
    """
    rows = []
    data = _life_columns(base)
    for (mtype,), part in data.group_by("machine_type", maintain_order=True):
        spec = TYPE_SIGNALS.get(str(mtype))
        if spec is None:
            continue
        op = _operating(part, spec).sort("life_id", "ts")
        if op.is_empty():
            continue
        for (machine_id,), m in op.group_by("machine_id", maintain_order=True):
            life = m.filter(pl.col("life_id") == m["life_id"][-1])
            best = None
            for lim in spec.limits:
                v = life[lim.sensor].to_numpy().astype(float)
                ok = np.isfinite(v)
                if ok.sum() == 0:
                    continue
                t = (life["ts"].dt.epoch("s").to_numpy() / HOUR_S)[ok]
                v = v[ok]
                recent = slice(max(0, v.size - window_h), v.size)
                value = float(np.mean(v[recent]))
                slope = _slope(t[recent], v[recent])
                if lim.kind == "above":
                    frac = value / lim.limit
                elif lim.kind == "below":
                    frac = lim.limit / value if value > 0 else math.inf
                else:
                    base_v = float(np.mean(v[:baseline_h]))
                    frac = (value / base_v - 1.0) / lim.limit if base_v > 0 else math.nan
                if best is None or (np.isfinite(frac) and frac > best["trend_limit_fraction"]):
                    best = {
                        "machine_id": str(machine_id),
                        "trend_sensor": lim.sensor,
                        "trend_value": value,
                        "trend_slope_per_h": slope,
                        "trend_limit": lim.limit,
                        "trend_limit_kind": lim.kind,
                        "trend_limit_fraction": frac,
                    }
            if best is not None:
                rows.append(best)
    return pl.DataFrame(rows, schema=TREND_SCHEMA) if rows else pl.DataFrame(schema=TREND_SCHEMA)


def _slope(t: np.ndarray, v: np.ndarray) -> float:
    if t.size < 2 or np.ptp(t) <= 0:
        return math.nan
    tc = t - t.mean()
    return float((tc * (v - v.mean())).sum() / (tc * tc).sum())


# --- 8. the model registry ----------------------------------------------------------------------


REGISTRY_DDL = """CREATE TABLE IF NOT EXISTS model_registry (
    kind VARCHAR NOT NULL,
    version VARCHAR NOT NULL,
    trained_at TIMESTAMPTZ NOT NULL,
    trained_until TIMESTAMPTZ NOT NULL,
    payload VARCHAR,
    path VARCHAR,
    sha256 VARCHAR,
    physics_version VARCHAR,
    failures_known INTEGER,
    metrics JSON,
    PRIMARY KEY (kind, version)
)"""
"""``kind`` is ``physics`` (payload: the FleetPhysics JSON) or ``rul`` (path: the bundle under
``DT_HOME/models``, sha256 of its bytes = version)."""


@dataclass(frozen=True)
class RegistryEntry:
    kind: str
    version: str
    trained_at: dt.datetime
    trained_until: dt.datetime
    payload: str | None = None
    path: str | None = None
    sha256: str | None = None
    physics_version: str | None = None
    failures_known: int | None = None
    metrics: dict[str, Any] = field(default_factory=dict)


def ensure_registry(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(REGISTRY_DDL)


def register_model(con: duckdb.DuckDBPyConnection, entry: RegistryEntry) -> None:
    """Insert (or refresh, for an identical retrain) one registry row."""
    ensure_registry(con)
    con.execute(
        "INSERT OR REPLACE INTO model_registry VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            entry.kind,
            entry.version,
            entry.trained_at,
            entry.trained_until,
            entry.payload,
            entry.path,
            entry.sha256,
            entry.physics_version,
            entry.failures_known,
            json.dumps(plain(entry.metrics), sort_keys=True),
        ],
    )


def latest_model(
    con: duckdb.DuckDBPyConnection, kind: str, *, as_of: dt.datetime | None = None
) -> RegistryEntry | None:
    """The registry row of a kind trained on the most recent data, the newest fit among equals
    (None if none, or no registry yet).

    With ``as_of``, only models trained on data up to that time count: the model the platform
    had at ``as_of``. A day re-materialized later (late files, a backfill) is then predicted with
    a model that never saw that day's future, not with one trained on the failures that followed.
    """
    tables = table_names(con)
    if "model_registry" not in tables:
        return None
    row = con.execute(
        "SELECT kind, version, trained_at, trained_until, payload, path, sha256, physics_version, "
        "failures_known, metrics FROM model_registry WHERE kind = ? "
        "AND (CAST(? AS TIMESTAMPTZ) IS NULL OR trained_until <= ?) "
        "ORDER BY trained_until DESC, trained_at DESC, version LIMIT 1",
        [kind, as_of, as_of],
    ).fetchone()
    if row is None:
        return None
    metrics = json.loads(row[9]) if row[9] else {}
    return RegistryEntry(
        row[0],
        row[1],
        row[2].astimezone(dt.UTC),
        row[3].astimezone(dt.UTC),
        row[4],
        row[5],
        row[6],
        row[7],
        row[8],
        metrics,
    )


def data_until(
    con: duckdb.DuckDBPyConnection, before: dt.datetime | None = None
) -> dt.datetime | None:
    """End of the last hour with telemetry of a simulated (damage-law) type (only readings before
    ``before`` if given), or None."""
    row = con.execute(
        "SELECT max(ts) FROM telemetry WHERE machine_type IN (SELECT unnest(?)) "
        "AND (CAST(? AS TIMESTAMPTZ) IS NULL OR ts < ?)",
        [list(LAWS), before, before],
    ).fetchone()
    if row is None or row[0] is None:
        return None
    last = row[0].astimezone(dt.UTC)
    return last.replace(minute=0, second=0, microsecond=0) + dt.timedelta(hours=1)


def failures_known(con: duckdb.DuckDBPyConnection, until: dt.datetime) -> int:
    """Corrective work orders on the degrading components started before ``until``."""
    components = sorted({law.component for law in LAWS.values()})
    return int(
        con.execute(
            "SELECT count(*) FROM maintenance_log WHERE kind = 'corrective' "
            "AND component IN (SELECT unnest(?)) AND started_at < ?",
            [components, until],
        ).fetchone()[0]
    )


@dataclass(frozen=True)
class RetrainPolicy:
    """When a model is refitted, so that a daily run costs a prediction, not a training.

    A model is refitted when there is none, when the maintenance log holds new failures (new
    run-to-failure information) and the model is at least ``min_interval_h`` old, or when the
    data have moved ``max_age_h`` past the model (survivors carry information too).
    """

    min_interval_h: float = 168.0
    max_age_h: float = 336.0


def retrain_reason(
    latest: RegistryEntry | None,
    *,
    until: dt.datetime,
    failures: int,
    policy: RetrainPolicy = RetrainPolicy(),
    force: bool = False,
) -> str | None:
    """Why the model should be refitted now, or None to keep ``latest``."""
    if force:
        return "forced by run config"
    if latest is None:
        return "no model registered yet"
    age_h = (until - latest.trained_until).total_seconds() / HOUR_S
    if age_h < 0:
        return (
            f"the data end ({until:%Y-%m-%d %H:%M}) is before the model's "
            f"({latest.trained_until:%Y-%m-%d %H:%M}): the history was rebuilt"
        )
    new = failures - (latest.failures_known or 0)
    if new > 0 and age_h >= policy.min_interval_h:
        return f"{new} new failure(s) in the maintenance log since the last fit"
    if age_h >= policy.max_age_h:
        return f"the model is {age_h:.0f} h behind the data (max {policy.max_age_h:.0f} h)"
    return None
