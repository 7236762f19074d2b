"""The return-on-investment page (Streamlit AppTest against the real chain for the role check):
a MANAGER sees the inputs, the distributions, the intervals in words and the assumptions, and the
figures follow the inputs; a MAINTAINER is refused. The closed-loop outcomes are a synthetic
table put where the page reads the bundled file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from dt_platform.twin import roi_outcomes
from tests.twin.roi_fixtures import synthetic

pytestmark = pytest.mark.integration

APP = Path(__file__).resolve().parents[2] / "app"
SESSION = "dt_signed_in"


@pytest.fixture
def outcomes(tmp_path: Path, monkeypatch) -> Path:
    path = tmp_path / "closed_loop_outcomes.json"
    path.write_text(json.dumps(synthetic(days=90)))
    monkeypatch.setattr(roi_outcomes, "BUNDLED_OUTCOMES", path)
    return path


def page(platform, role: str) -> AppTest:
    at = AppTest.from_file(str(APP / "dashboard.py"), default_timeout=60)
    at.session_state[SESSION] = platform.signed_in(platform.address(role))
    at.run()
    at.switch_page("app_pages/roi.py")
    return at.run()


def metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def words(at: AppTest) -> str:
    return "\n".join(str(e.value) for kind in ("markdown", "caption") for e in getattr(at, kind))


def test_the_manager_sees_inputs_distributions_intervals_and_assumptions(
    platform, outcomes: Path
) -> None:
    at = page(platform, "MANAGER")
    assert not at.exception and not at.error, (at.exception, [e.value for e in at.error])
    assert [t.value for t in at.title] == ["Return on investment"]
    assert at.number_input(key="roi_unplanned_failure").value == 20_000
    charts = [json.loads(c.proto.spec) for c in at.get("vega_lite_chart")]
    assert len(charts) == 3  # savings against preventive, against run to failure; payback
    assert "Annual savings, predictive vs preventive (median)" in metrics(at)
    text = words(at)
    assert "Predictive vs preventive: annual savings net of running cost" in text
    assert "in 90 % of draws" in text and "Payback of the set-up cost" in text
    assert "assumption to change" in text and str(outcomes) in text
    assert len(at.dataframe[0].value) == 4  # annual cost of the four policies


def test_changing_an_input_changes_the_figures(platform, outcomes: Path) -> None:
    at = page(platform, "MANAGER")
    before = metrics(at)
    at.number_input(key="roi_running_cost").set_value(1e9).run()
    assert not at.exception
    after = metrics(at)
    label = "Annual savings, predictive vs run to failure (median)"
    assert after[label] != before[label] and after[label].startswith("-")
    assert after["Payback, predictive vs run to failure (median)"] == "never"

    at.number_input(key="roi_running_cost").set_value(0.0).run()
    at.number_input(key="roi_unplanned_failure").set_value(0.0).run()
    at.number_input(key="roi_lost_production_per_h").set_value(0.0).run()
    assert metrics(at)[label].startswith("-")  # failures cost nothing: nothing to save

    at.toggle(key="roi_per_type").set_value(True).run()
    at.number_input(key="roi_n_cnc_spindle").set_value(0).run()
    at.number_input(key="roi_n_smt_placer").set_value(0).run()
    assert any("the fleet must have 1 to" in e.value for e in at.error)


def test_a_maintainer_is_refused(platform, outcomes: Path) -> None:
    at = AppTest.from_file(str(APP / "app_pages" / "roi.py"), default_timeout=60)
    at.session_state[SESSION] = platform.signed_in(platform.address("MAINTAINER"))
    at.run()
    assert not at.exception
    assert "Access denied" in at.error[0].value and "MANAGER" in at.error[0].value
    assert not at.metric and not at.number_input


def test_without_outcomes_the_page_says_how_to_make_them(
    platform, tmp_path: Path, monkeypatch
) -> None:
    monkeypatch.setattr(roi_outcomes, "BUNDLED_OUTCOMES", tmp_path / "none.json")
    at = page(platform, "MANAGER")
    assert not at.exception and not at.error
    assert "benchmarks/closed_loop.py --outcomes" in at.info[0].value
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"format": "dt-closed-loop-outcomes/1", "days": 1}))
    monkeypatch.setattr(roi_outcomes, "BUNDLED_OUTCOMES", bad)
    at = page(platform, "MANAGER")
    assert "cannot be used" in at.error[0].value and "seeds" in at.error[0].value
