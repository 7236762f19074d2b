"""The type's day (:mod:`dt_platform.phm.fitting.clock`): a machine's first hours of data are
read as the hours of the day they are, not as its average hour.

Ovens with a hot night (600 °C for the first 8 UTC hours of each day, 550 °C after): an hour at
550 °C is one exposure unit under the hand-set law, an hour at 600 °C is ``hot`` units.
"""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from dt_platform.phm.damage import physics_state
from dt_platform.phm.fitting import FleetPhysics
from dt_platform.phm.fitting.clock import HOURS_A_DAY, clock_profile, clock_weights
from dt_platform.phm.physics import LAWS
from tests.phm.test_damage import h, install, make_fit, make_history, oven, readings, state_of


def night_hot(x: float) -> float:
    return 600.0 if x % 24 < 8 else 550.0


def hot_units() -> float:
    fit = make_fit("reflow_oven", 2000.0, 0.01)
    kernel = LAWS["reflow_oven"].kernel(np.array([[873.15], [823.15]]), fit.theta())
    return float(kernel[0] / kernel[1])


def test_the_type_day_is_each_machines_hours_over_its_own_mean() -> None:
    hot = hot_units()
    assert hot > 1.5
    frames = {
        "NIGHT": ("reflow_oven", readings(8 * 24, oven(night_hot)), {}),
        "FLAT": ("reflow_oven", readings(8 * 24, oven(lambda x: 600.0)), {}),
        # under a week of operating hours: it does not count
        "SHORT": ("reflow_oven", readings(48, oven(lambda x: 550.0 if x < 8 else 600.0)), {}),
    }
    history = make_history(frames, [], h(8 * 24))
    theta = make_fit("reflow_oven", 2000.0, 0.01).theta()
    profile = np.asarray(clock_profile(list(history.stress.values()), "reflow_oven", theta))
    assert profile.shape == (HOURS_A_DAY,)
    # NIGHT relative to its mean, FLAT all ones, each machine once; then scaled to mean 1
    mean = (8 * hot + 16) / 24
    want = (np.where(np.arange(24) < 8, hot, 1.0) / mean + 1.0) / 2
    np.testing.assert_allclose(profile, want / want.mean(), rtol=1e-3)
    assert profile.mean() == pytest.approx(1.0)
    # no machine of the type, or none with a week of hours: no day
    servo = make_fit("servo_drive", 2000.0, 0.01).theta()
    assert clock_profile(list(history.stress.values()), "servo_drive", servo) == []
    short = make_history({"SHORT": frames["SHORT"]}, [], h(48))
    assert clock_profile(list(short.stress.values()), "reflow_oven", theta) == []
    # a line powered down from 14 to 22 UTC (no readings then): those hours weigh 1
    dark = readings(8 * 24, oven(night_hot)).filter(
        ((pl.col("ts_us") // 3_600_000_000) % 24 < 14)
        | ((pl.col("ts_us") // 3_600_000_000) % 24 >= 22)
    )
    part = make_history({"DARK": ("reflow_oven", dark, {})}, [], h(8 * 24))
    lit = np.asarray(clock_profile(list(part.stress.values()), "reflow_oven", theta))
    np.testing.assert_allclose(lit[14:22], 1.0)
    on = np.r_[0:14, 22:24]
    mean_on = (8 * hot + 8) / 16  # the hours it ran: 8 hot, 8 at 550 °C
    np.testing.assert_allclose(lit[on], np.where(on < 8, hot, 1.0) / mean_on, rtol=1e-3)
    weights = clock_weights(list(profile), hour0=5, n_hours=3)
    np.testing.assert_allclose(weights, profile[5:8])
    assert clock_weights([], 0, 3) is None


def test_the_day_is_part_of_the_fit_and_its_version() -> None:
    fit = make_fit("reflow_oven", 2000.0, 0.01)
    plain = FleetPhysics({"reflow_oven": fit}, "")
    with_day = make_fit("reflow_oven", 2000.0, 0.01)
    with_day.clock = [1.2] * 8 + [0.9] * 16
    fleet = FleetPhysics({"reflow_oven": with_day}, "")
    again = FleetPhysics.from_json(fleet.to_json())
    assert again.types["reflow_oven"].clock == with_day.clock
    assert again.version == fleet.version != plain.version
    # a fit from before the day keeps its version
    assert FleetPhysics.from_json(plain.to_json()).version == plain.version


def first_hours(clock: list[float], at: float) -> dict:
    """The oven's physics state at hour ``at``: its heater was installed 300 h before its data
    began, in the hot night; median life 2000 units."""
    history = make_history(
        {"OVEN": ("reflow_oven", readings(10 * 24, oven(night_hot)), {})},
        [install("OVEN", "heater_element", -300)],
        h(at),
    )
    fit = make_fit("reflow_oven", 2000.0, 0.01)
    fit.clock = clock
    return state_of(physics_state(history, FleetPhysics({"reflow_oven": fit}, ""), h(at)), "OVEN")


def test_a_machines_first_hours_stand_for_their_hours_of_the_day() -> None:
    hot = hot_units()
    day_mean = (8 * hot + 16) / 24
    day = list(np.where(np.arange(24) < 8, hot, 1.0) / day_mean)
    # six hours in: all of them hot
    alone, read = first_hours([], 6), first_hours(day, 6)
    # alone: the 300 h before the data at the hot rate, the future spent at the hot rate
    assert alone["damage"] * 2000 == pytest.approx(300 * hot + 6 * hot, rel=0.01)
    assert alone["rul_physics_h"] == pytest.approx((2000 - 306 * hot) / hot, rel=0.02)
    # with the type's day: both at the day's mean rate
    spent = 300 * day_mean + 6 * hot
    assert read["damage"] * 2000 == pytest.approx(spent, rel=0.01)
    assert read["rul_physics_h"] == pytest.approx((2000 - spent) / day_mean, rel=0.02)
    # the note says how the life before the data was read
    assert "300 h of life before the first telemetry" in alone["note"]
    assert "type's rate" not in alone["note"]
    assert "so far 6 h of it, each read against the type's rate at its hour" in read["note"]
    # a week in, the day has cancelled out: the machine's own week decides
    week = 7 * 24 + 6
    a, b = first_hours([], week), first_hours(day, week)
    assert a["damage"] == pytest.approx(b["damage"], rel=0.02)
    assert a["rul_physics_h"] == pytest.approx(b["rul_physics_h"], rel=0.02)
    assert a["note"] == b["note"]
