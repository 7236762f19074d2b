"""The precursor of a failure, from the truth: how long its mechanism showed in the sensors."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest

from dt_platform.catalog import SIMULATED_TYPES
from dt_platform.sim.machines import MODELS
from dt_platform.sim.precursor import precursor_hours
from tests.sim.test_sim_physics import _run_to_failure

T0 = dt.datetime(2026, 1, 5, tzinfo=dt.UTC)


def hour(h: float) -> dt.datetime:
    return T0 + dt.timedelta(hours=h)


@pytest.mark.parametrize("type_name", SIMULATED_TYPES)
@pytest.mark.parametrize("seed", [0, 1])
def test_the_onset_damage_is_where_the_failure_indicator_first_moves(type_name, seed):
    r = _run_to_failure(type_name, seed)
    onset = int(np.flatnonzero(r.adv.damage >= r.model.onset_damage)[0])
    if type_name == "cnc_spindle":
        # vibration sits at its baseline through the whole initiation life, then rises
        vib = r.obs["vibration_rms"]
        assert onset > 0
        assert np.allclose(vib[:onset], r.mp["vibration_base_mm_s"])
        assert vib[onset] > r.mp["vibration_base_mm_s"] + 1e-9
    else:
        assert r.model.onset_damage == 0.0 and onset == 0


def test_precursor_hours_run_from_the_onset_to_the_failure():
    rows = [  # (machine, type, component, hour, damage)
        *[("CNC-01", "cnc_spindle", 0, h, d) for h, d in enumerate((0.5, 0.74, 0.76, 0.9))],
        *[("CNC-02", "cnc_spindle", 3, h, d) for h, d in enumerate((0.70, 0.74))],
        *[("OVEN-01", "reflow_oven", 1, h, 0.2 + 0.01 * h) for h in range(0, 31)],
    ]
    damage = pl.DataFrame(
        {
            "machine_id": [r[0] for r in rows],
            "machine_type": [r[1] for r in rows],
            "component_no": [r[2] for r in rows],
            "ts": [hour(r[3]) for r in rows],
            "damage": [r[4] for r in rows],
        },
        schema_overrides={"component_no": pl.Int32},
    )
    failures = pl.DataFrame(
        {
            "machine_id": ["CNC-01", "CNC-02", "OVEN-01"],
            "machine_type": ["cnc_spindle", "cnc_spindle", "reflow_oven"],
            "component_no": [0, 3, 1],
            "failed_at": [hour(4.5), hour(1.5), hour(30.25)],
            "mode": ["bearing_spall", "bearing_spall", "heater_oxidation"],
        },
        schema_overrides={"component_no": pl.Int32},
    )
    out = precursor_hours(damage, failures).sort("machine_id")
    assert out.columns[:5] == failures.columns  # the failures' own columns are kept
    assert out["onset_at"].to_list() == [hour(2), None, hour(0)]
    # the spall showed 2.5 h before; one that grew between two hours gets 0; the oven's
    # oxidation shows from the first hour of the table on (a lower bound for a component in
    # service before the table starts)
    assert out["precursor_h"].to_list() == [2.5, 0.0, 30.25]
    assert MODELS["cnc_spindle"].onset_damage == 0.75
