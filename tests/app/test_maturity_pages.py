"""Twin maturity on the fleet and machine pages (AppTest against the demo's chain and warehouse):
each twin's level and evidence, with the level the TwinRegistry holds beside it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from dt_platform.trust.chain import AuditChain
from dt_platform.warehouse import Warehouse

pytestmark = pytest.mark.integration

ENTRY = str(Path(__file__).resolve().parents[2] / "app" / "dashboard.py")
SESSION = "dt_signed_in"


def app(platform, role: str, page: str, **query: str) -> AppTest:
    at = AppTest.from_file(ENTRY, default_timeout=60)
    at.session_state[SESSION] = platform.signed_in(platform.address(role))
    at.run()
    at.switch_page(f"app_pages/{page}.py")
    for key, value in query.items():
        at.query_params[key] = value
    return at.run()


def _newest_levels(platform) -> dict[str, int]:
    with Warehouse(platform.settings.warehouse_path).read() as con:
        rows = con.execute(
            """SELECT machine_id, level FROM twin_maturity
               QUALIFY row_number() OVER (PARTITION BY machine_id ORDER BY day DESC) = 1"""
        ).fetchall()
    return dict(rows)


def test_the_fleet_page_shows_each_twins_level_beside_the_chains(platform) -> None:
    levels = _newest_levels(platform)
    assert levels  # the demo's daily runs judged every machine
    chain = AuditChain.connect(platform.settings, read_only=True)
    assert {t.twin_id: t.maturity for t in chain.twins()} == levels  # recorded by the asset
    at = app(platform, "MAINTAINER", "fleet")
    assert not at.exception
    assert "Twin maturity" in [s.value for s in at.subheader]
    table = at.dataframe[-1].value
    assert dict(zip(table["machine_id"], table["level"], strict=True)) == levels
    assert (table["on_chain"] == table["level"]).all()
    assert all(text == "–" or text.startswith("for ") for text in table["next"])
    shown = {m.label: m.value for m in at.metric}
    for n in range(1, 5):
        counted = sum(1 for level in levels.values() if level == n)
        assert any(label.startswith(f"{n} ") and value == str(counted)
                   for label, value in shown.items())  # fmt: skip


def test_the_machine_page_shows_the_level_its_evidence_and_the_chain(platform) -> None:
    levels = _newest_levels(platform)
    machine = sorted(levels)[0]
    at = app(platform, "MANAGER", "machine", machine=machine)
    assert not at.exception
    shown = {m.label: m.value for m in at.metric}
    assert shown["Twin maturity"].startswith(f"{levels[machine]} · ")
    assert shown["On chain (TwinRegistry)"] == str(levels[machine])
    evidence = at.dataframe[0].value
    assert list(evidence["level"]) == ["1 digital model", "2 digital shadow", "3 digital twin",
                                       "4 intelligent twin"]  # fmt: skip
    assert list(evidence["met"])[: levels[machine]] == ["yes"] * levels[machine]
    doc = json.loads(at.json[0].value)
    assert doc["machine_id"] == machine and doc["level"] == levels[machine]
    captions = " ".join(c.value for c in at.caption)
    assert "Next: " in captions and "evidence sha256" in captions
