"""The maintenance plan page (AppTest on the real chain and twin store): open risks from the
latest decisions, ranked by risk or by cost, with the next planned stop and links to each
machine; a machine without an open risk only when asked for."""

from __future__ import annotations

import datetime as dt
from contextlib import closing
from pathlib import Path

import polars as pl
import pytest
from streamlit.testing.v1 import AppTest

from dt_platform.ingest.registry import load_registry
from dt_platform.twin import db
from dt_platform.twin.costs import Capacity
from dt_platform.twin.decisions import decide_day
from dt_platform.twin.maintenance_plan import open_risks
from dt_platform.twin.production_plan import ProductionPlan

pytestmark = pytest.mark.integration

ENTRY = str(Path(__file__).resolve().parents[2] / "app" / "dashboard.py")
SESSION = "dt_signed_in"
# (machine, fused RUL, 90 % interval): one near its end, one a little worn, one healthy
RUL = {"SMT-01": (20.0, 8.0, 50.0), "SERVO-01": (150.0, 60.0, 400.0), "OVEN-01": (9e3, 6e3, 2e4)}


@pytest.fixture(scope="module")
def decided(platform):
    settings = platform.settings
    registry = load_registry(settings.machine_registry_path)
    types = {m.machine_id: m.machine_type for m in registry}
    now = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(minutes=5)
    predictions = pl.DataFrame(
        {
            "machine_id": list(RUL),
            "machine_type": [types[m] for m in RUL],
            "ts": [now] * len(RUL),
            "component_installed_at": [now - dt.timedelta(days=90)] * len(RUL),
            "rul_fused_h": [v[0] for v in RUL.values()],
            "rul_fused_lo_h": [v[1] for v in RUL.values()],
            "rul_fused_hi_h": [v[2] for v in RUL.values()],
            "model_version": ["plan-test"] * len(RUL),
        }
    )
    with closing(db.connect(settings.twin_db_path)) as con:
        decide_day(con, predictions, registry=registry, now=now, plan=ProductionPlan(),
                   capacity=Capacity())  # fmt: skip
        yield {r.machine_id: r for r in open_risks(con, ProductionPlan(), now, include_closed=True)}


def plan_page(platform, role: str) -> AppTest:
    at = AppTest.from_file(ENTRY, default_timeout=60)
    at.session_state[SESSION] = platform.signed_in(platform.address(role))
    at.run()
    at.switch_page("app_pages/maintenance_plan.py")
    return at.run()


def test_open_risks_ranked_with_the_next_stop_and_links(platform, decided) -> None:
    before = dt.datetime.now(dt.UTC)
    at = plan_page(platform, "MAINTAINER")
    after = dt.datetime.now(dt.UTC)
    assert not at.exception and [t.value for t in at.title] == ["Maintenance plan"]
    table = at.dataframe[0].value
    machines = [m.removeprefix("machine?machine=") for m in table["machine"]]
    assert "SMT-01" in machines and "OVEN-01" not in machines  # a healthy machine is no risk
    assert list(table["p_fail"]) == sorted(table["p_fail"], reverse=True)
    smt = decided["SMT-01"]
    row = table.iloc[machines.index("SMT-01")]
    assert row["p_fail"] == pytest.approx(smt.p_fail_next_stop, abs=1e-6)
    assert row["cost_nothing"] == smt.cost_nothing and row["cost_action"] == smt.cost_action
    # a stop under way counts from now: the page's clock ran between these two
    stops = {ProductionPlan().next_stops(t, count=1)[0][0] for t in (before, after)}
    assert row["next_stop"] in {f"{t:%a %Y-%m-%d %H:%M}" for t in stops}
    assert row["interval"] == "8 – 50 h" and row["live"] == "live?machine=SMT-01"
    assert row["decided"] == smt.action.replace("_", " ") or smt.action == "derate"
    assert at.metric[0].value == str(len(machines))
    # the chosen row's links open its machine and its live page
    links = {(p.proto.page, p.proto.label) for p in at.get("page_link")}
    first = machines[0]
    assert any(page.endswith("machine") and first in label for page, label in links), links


def test_ranking_by_cost_and_showing_every_machine(platform, decided) -> None:
    at = plan_page(platform, "MANAGER")
    at.radio[0].set_value("cost").run()
    at.toggle[0].set_value(True).run()
    assert not at.exception
    table = at.dataframe[0].value
    machines = [m.removeprefix("machine?machine=") for m in table["machine"]]
    assert {"SMT-01", "SERVO-01", "OVEN-01"} <= set(machines)
    costs = [c for c in table["cost_nothing"] if c == c]  # NaN: no decision figures
    assert costs == sorted(costs, reverse=True)
    assert machines.index("SMT-01") < machines.index("OVEN-01")
