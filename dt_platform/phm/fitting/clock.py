"""A machine type's day: how its damage rate varies with the hour of the day.

A plant runs by shifts, and a shift's load is not the day's. In a machine's first hours of data
its rate is the rate of those hours of the day, not of an average hour. The physics branch used
that rate for two things that reach far: the life before the first telemetry (imputed at the
first hours' rate, :mod:`dt_platform.phm.damage`) and the future (spent by replaying the hours
seen so far). On the simulated line the data begin in the day shift: a servo drive's first hour
ran twice its day's mean, and the physics read 48 h for a drive with 1,000 h left.

:func:`clock_profile` is the type's rate at each hour of the day (UTC), relative to its mean
operating hour, from the fitted history. :func:`clock_weights` lays it on a machine's hours; the
physics branch divides a machine's first week by it (:mod:`dt_platform.phm.damage.replay`), so
its first hours stand for what an average hour of this machine would be. Once a machine has a
week of its own, every hour of the day is in it about equally often and the weights cancel.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from dt_platform.phm.episodes import MachineStress
from dt_platform.phm.physics import LAWS

HOURS_A_DAY = 24
MIN_MACHINE_DAYS = 7
"""A machine counts toward the type's day once its operating hours span this many days."""
WEIGHT_BOUNDS = (0.2, 5.0)
"""No hour of the day is read as more than 5× or less than a fifth of the mean: a shift that
rarely runs must not turn its few hours into a divisor near zero."""


def clock_profile(
    stresses: Sequence[MachineStress], machine_type: str, theta: dict[str, float]
) -> list[float]:
    """The type's exposure rate at each UTC hour of the day over its mean operating hour, under
    the point parameters ``theta``; empty without a machine of the type with enough hours.

    Each machine's operating hours (observed, not in a work-order window) are divided by that
    machine's own mean, so machines of different loads count alike; every machine then counts
    once per hour of the day. The profile is scaled so that the mean over all the type's
    operating hours is 1. An hour of the day no machine operated in (a plant that powers its
    line down at night and sends nothing) weighs 1: a machine seen then is read as it is.
    """
    law = LAWS[machine_type]
    rel_sum = np.zeros(HOURS_A_DAY)
    rel_cnt = np.zeros(HOURS_A_DAY)
    hours_at = np.zeros(HOURS_A_DAY)
    for stress in stresses:
        up = stress.observed & ~stress.down
        hours = np.flatnonzero(up)
        if (
            stress.machine_type != machine_type
            or not hours.size
            or hours[-1] - hours[0] + 1 < MIN_MACHINE_DAYS * HOURS_A_DAY
        ):
            continue
        e = np.asarray(stress.matrix @ law.kernel_batch(stress.points, [theta]))[:, 0]
        mean = float(e[up].mean())
        if not mean > 0:
            continue
        clock = (stress.hour0 + hours) % HOURS_A_DAY
        per_clock = np.bincount(clock, weights=e[up] / mean, minlength=HOURS_A_DAY)
        seen = np.bincount(clock, minlength=HOURS_A_DAY)
        has = seen > 0
        rel_sum[has] += per_clock[has] / seen[has]
        rel_cnt[has] += 1
        hours_at += seen
    seen_at = rel_cnt > 0
    if not seen_at.any():
        return []
    profile = np.ones(HOURS_A_DAY)
    profile[seen_at] = np.clip(rel_sum[seen_at] / rel_cnt[seen_at], *WEIGHT_BOUNDS)
    profile[seen_at] /= float(hours_at @ profile / hours_at.sum())
    return [float(x) for x in profile]


def clock_weights(profile: Sequence[float], hour0: int, n_hours: int) -> np.ndarray | None:
    """The profile's weight of each of a machine's hours (hour ``i`` is epoch hour
    ``hour0 + i``); None without a profile."""
    if len(profile) != HOURS_A_DAY:
        return None
    return np.asarray(profile, dtype=float)[(hour0 + np.arange(n_hours)) % HOURS_A_DAY]
