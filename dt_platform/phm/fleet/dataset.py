"""The hourly dataset: signals from telemetry, component lives, physics rows, base rows and the
training target (steps 1, 2 and 4 of :mod:`dt_platform.phm.fleet`)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

import duckdb
import numpy as np
import polars as pl

from dt_platform.ingest.telemetry import wide_telemetry_sql
from dt_platform.phm import damage as damage_mod
from dt_platform.phm.episodes import HOUR_S, History, hour_to_datetime, services
from dt_platform.phm.fitting import FleetPhysics
from dt_platform.phm.schemas import BASE_SCHEMA, PHYSICS_COLS, PHYSICS_VALUES, UTC_US
from dt_platform.phm.signals import SIGNAL_COLUMNS, TYPE_SIGNALS, TypeSignals

# --- hourly signals from telemetry ----------------------------------------------------------------


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


# --- lives and base rows --------------------------------------------------------------------------


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


# --- physics rows for one day (the daily partitions) ----------------------------------------------


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
