"""Component lives from the maintenance log and telemetry: boundaries, gaps, stops, truncation.

The scenario is built by hand in a real warehouse so every number can be worked out: an oven runs
its heater at exactly 550 °C (the Arrhenius reference, kernel 1 for any Ea), so exposure is just
the number of hours at temperature.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from dt_platform.ingest.registry import parse_registry, sync_registry
from dt_platform.phm.episodes import (
    History,
    episodes,
    episodes_frame,
    load_history,
    services,
)
from dt_platform.phm.fitting import fit_fleet
from dt_platform.phm.physics import LAWS
from dt_platform.warehouse import Warehouse

T0 = dt.datetime(2026, 3, 2, tzinfo=dt.UTC)
UNTIL = T0 + dt.timedelta(hours=120)
REGISTRY = """
machines:
  - {machine_id: OVEN-01, type: reflow_oven, installed: "2024-01-10"}
  - {machine_id: OVEN-02, type: reflow_oven, installed: "2026-02-20"}
  - machine_id: SMT-01
    type: smt_placer
    rated: {sliding_per_placement_mm: 0.6}
"""


def h(hours: float) -> dt.datetime:
    return T0 + dt.timedelta(hours=hours)


def oven_readings(
    machine_id: str, temp_at, skip=lambda hour: False, step_min: int = 10
) -> pl.DataFrame:
    ts = [T0 + dt.timedelta(minutes=m) for m in range(0, 120 * 60, step_min)]
    hours = [(t - T0).total_seconds() / 3600 for t in ts]
    keep = [not skip(x) for x in hours]
    ts = [t for t, k in zip(ts, keep, strict=True) if k]
    hours = [x for x, k in zip(hours, keep, strict=True) if k]
    return pl.DataFrame(
        {
            "day": [t.date() for t in ts],
            "machine_id": machine_id,
            "machine_type": "reflow_oven",
            "sensor": "heater_temp_c",
            "ts": ts,
            "value": [float(temp_at(x)) for x in hours],
            "quality": "ok",
        },
        schema_overrides={"ts": pl.Datetime("us", "UTC")},
    )


def oven1_temp(hour: float) -> float:
    if 60 <= hour < 62 or 98 <= hour < 104:
        return 25.0  # inspection stop; failed heater, then the repair
    return 550.0


WORK_ORDERS = [
    # install of the heater in service when data begin: 48 h before the first reading
    ("WO-1", "OVEN-01", h(-50), h(-48), "preventive", "replace", "heater_element"),
    ("WO-3", "OVEN-01", h(60), h(62), "inspection", "inspect", "heater_element"),
    # the heater failed at 98 h; the repair ran 100-104 h
    ("WO-2", "OVEN-01", h(100), h(104), "corrective", "replace", "heater_element"),
    ("WO-4", "OVEN-01", h(110), h(111), "preventive", "clean", "flux_filter"),
]


def build(tmp_path: Path) -> Warehouse:
    wh = Warehouse(tmp_path / "warehouse.duckdb")
    frames = [
        # hours 30-33: the gateway was silent (the machine ran); hour 61: silent during the stop
        oven_readings("OVEN-01", oven1_temp, skip=lambda x: 30 <= x < 33 or 61 <= x < 62),
        oven_readings("OVEN-02", lambda x: 550.0),
    ]
    spike = pl.DataFrame(
        {
            "day": [h(10).date()],
            "machine_id": ["OVEN-01"],
            "machine_type": ["reflow_oven"],
            "sensor": ["heater_temp_c"],
            "ts": [h(10) + dt.timedelta(minutes=5)],
            "value": [890.0],
            "quality": ["spike"],
        },
        schema_overrides={"ts": pl.Datetime("us", "UTC")},
    )
    smt = pl.DataFrame(
        {
            "day": [T0.date()] * 2,
            "machine_id": ["SMT-01"] * 2,
            "machine_type": ["smt_placer"] * 2,
            "sensor": ["placement_rate_per_min", "placement_force_n"],
            "ts": [T0, T0],
            "value": [800.0, 3.0],
            "quality": ["ok", "ok"],
        },
        schema_overrides={"ts": pl.Datetime("us", "UTC")},
    )
    telemetry = pl.concat([*frames, spike, smt])
    with wh.write() as con:
        sync_registry(con, parse_registry(REGISTRY))
        con.register("t", telemetry.to_arrow())
        con.execute(
            "INSERT INTO telemetry SELECT day, machine_id, machine_type, sensor, ts, value, quality FROM t"
        )
        con.executemany(
            "INSERT INTO maintenance_log VALUES (?, ?, ?, ?, ?, ?, ?, 'notes', 'cmms/x.csv', 2)",
            [list(w) for w in WORK_ORDERS],
        )
    return wh


@pytest.fixture
def history(tmp_path: Path) -> History:
    wh = build(tmp_path)
    with wh.read() as con:
        return load_history(con, UNTIL + dt.timedelta(minutes=30))  # floored to the hour


def test_lives_start_at_replacements_and_end_at_failure_or_data_end(history: History) -> None:
    assert history.until == UNTIL
    svcs = services(history, "OVEN-01")
    assert [(s.start, s.end, s.end_kind, s.work_order) for s in svcs] == [
        # the failure is the end of the last operating hour before the repair started
        (h(-48), h(98), "failure", "WO-2"),
        (h(104), None, "censored", None),
    ]
    assert [s.install_source for s in svcs] == ["work_order", "work_order"]


def test_exposure_counts_ok_readings_fills_silent_hours_and_zeroes_stops(history: History) -> None:
    first, second = episodes(history, "reflow_oven")[:2]
    assert first.machine_id == "OVEN-01" and first.failed
    assert first.life_h == pytest.approx(146.0)
    # hours 0-97 of data: 3 silent hours (30-32) and 1 silent hour inside the stop (61)
    assert (first.observed_hours, first.gap_hours, first.down_hours) == (94, 3, 2)
    assert first.imputed_hours == pytest.approx(48.0)
    # profile (first week of data): 110 running hours with readings (stops at 60-61, 100-103 and
    # 110 h excluded), 108 of them at 550 °C (98-99 h: failed, waiting for the repair)
    profile_rate = 108 / 110
    exposure = np.sum(
        first.record.weights * LAWS["reflow_oven"].kernel(first.record.points, {"ea_ev": 0.9})
    )
    # 93 observed running hours at 550 °C + 3 silent hours at that rate + 48 h before the data;
    # the 890 °C spike is not 'ok' and counts for nothing
    assert exposure == pytest.approx(93 + 3 + 48 * profile_rate)
    assert second.end_kind == "censored" and not second.failed
    assert second.life_h == pytest.approx(16.0)
    assert np.sum(second.record.weights) == pytest.approx(
        16.0
    )  # the cleaning stop at 110 h was observed at 550 °C
    assert second.imputed_hours == 0.0 and second.observed_fraction == 1.0


def test_unlogged_installation_is_flagged_and_not_fitted(history: History) -> None:
    (svc,) = services(history, "OVEN-02")
    assert svc.install_source == "registry" and svc.start == dt.datetime(2026, 2, 20, tzinfo=dt.UTC)
    (ep,) = [e for e in episodes(history, "reflow_oven") if e.machine_id == "OVEN-02"]
    assert ep.imputed_hours == pytest.approx(10 * 24)  # from the registry date to the first reading
    fleet = fit_fleet(history)
    oven = fleet.types["reflow_oven"]
    assert oven.n_episodes == 2  # OVEN-01's two lives; OVEN-02's age is unknown
    assert oven.n_failures == 1 and oven.n_imputed == 1


def test_missing_datasheet_value_is_reported_not_fatal(history: History) -> None:
    assert "SMT-01" not in history.stress
    assert "nozzle_hardness_hv" in history.problems["SMT-01"]
    assert "machines.yaml" in history.problems["SMT-01"]


def test_truncated_history_equals_a_history_loaded_at_that_time(
    tmp_path: Path, history: History
) -> None:
    cut = h(101)
    wh = Warehouse(tmp_path / "warehouse.duckdb")
    with wh.read() as con:
        loaded = load_history(con, cut)
    truncated = history.truncate(cut + dt.timedelta(minutes=20))
    assert truncated.until == loaded.until == cut
    for m in ("OVEN-01", "OVEN-02"):
        a, b = truncated.stress[m], loaded.stress[m]
        assert a.n_hours == b.n_hours == 101
        assert np.array_equal(a.observed, b.observed) and np.array_equal(a.down, b.down)
        ka = a.matrix @ LAWS["reflow_oven"].kernel(a.points, {"ea_ev": 0.8})
        kb = b.matrix @ LAWS["reflow_oven"].kernel(b.points, {"ea_ev": 0.8})
        assert np.allclose(ka, kb)
    # the repair that started at 100 h is still open at 101 h
    wo = truncated.work_orders.filter(pl.col("work_order") == "WO-2")
    assert wo["finished_at"][0] is None
    assert truncated.work_orders.equals(loaded.work_orders)
    assert [e.summary() for e in episodes(truncated)] == [e.summary() for e in episodes(loaded)]
    (svc, *rest) = services(truncated, "OVEN-01")
    assert svc.end_kind == "failure" and rest == []  # no new heater yet
    with pytest.raises(ValueError, match="cannot extend"):
        history.truncate(UNTIL + dt.timedelta(hours=5))


def test_episode_table(history: History) -> None:
    frame = episodes_frame(episodes(history))
    assert frame.height == 3
    assert frame.schema["start"] == pl.Datetime("us", "UTC")
    assert frame.filter(pl.col("end_kind") == "failure")["work_order"].to_list() == ["WO-2"]
