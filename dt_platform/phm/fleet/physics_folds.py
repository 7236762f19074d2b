"""The fleet's folds by machine and the physics fitted without each fold: the part of training
(:mod:`.training`) that deals with the damage laws and with which lives can be learned from.

The damage laws are fitted per type on the fleet's history (:func:`fit_fleet_robust`, robust to
a flat likelihood when a type has few failures); for the data branch and the fuser every
machine's physics trajectory comes from laws fitted without its fold (:func:`physics_out_of_fold`),
so the stack learns how far off the physics is on a machine it never saw.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import polars as pl

from dt_platform.phm import damage as damage_mod
from dt_platform.phm.damage import damage_trajectory
from dt_platform.phm.episodes import History, hour_to_datetime, services
from dt_platform.phm.fitting import FleetPhysics, fit_fleet
from dt_platform.phm.physics import LAWS


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
