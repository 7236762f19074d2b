"""How maturity reads on the pages (plain functions, no Streamlit)."""

from __future__ import annotations

import datetime as dt

import polars as pl

from app.maturity_views import chain_levels, evidence_rows, fleet_maturity, next_step
from dt_platform.trust.chain import ChainUnavailable, Twin
from dt_platform.twin.maturity import Ack, LiveFacts, MachineFacts, ShadowFacts, assess

T0 = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.UTC)


def _evidence(level: int) -> str:
    shadow = ShadowFacts(10, 1, ("gw-a",), T0, T0) if level >= 2 else ShadowFacts()
    live = LiveFacts(T0, True, acks=(Ack("0x" + "c" * 64, "derate", "applied", T0),))
    a = assess(MachineFacts("M-1", "smt_placer", True, shadow, live), T0)
    assert a.level == level
    return a.evidence_json


class _Chain:
    def __init__(self, fail: bool = False) -> None:
        self.fail = fail

    def twins(self) -> list[Twin]:
        if self.fail:
            raise ChainUnavailable("connection refused")
        return [Twin("M-1", "smt_placer", "bafy", 2, 0, 0, "0x0")]


def test_chain_levels_or_why_they_cannot_be_read() -> None:
    assert chain_levels(_Chain) == ({"M-1": 2}, None)
    levels, note = chain_levels(lambda: _Chain(fail=True))
    assert levels == {} and "cannot be read now: connection refused" in note


def test_the_fleet_table_puts_the_chain_level_beside_the_earned_one() -> None:
    frame = pl.DataFrame(
        {
            "machine_id": ["M-1", "M-2"],
            "day": [T0.date(), T0.date()],
            "level": [3, 1],
            "level_name": ["digital twin", "digital model"],
            "evidence": [_evidence(3), _evidence(1)],
        }
    )
    table = fleet_maturity(frame, {"M-1": 2})
    assert table["on_chain"].to_list() == [2, None]
    assert table["next"][0] == (
        "for intelligent twin: a RUL prediction within 7 days; a decision of the policy within "
        "7 days; a decision acted on: one that led to a command the machine applied within 7 days"
    )
    assert table["next"][1].startswith("for digital shadow: a reading delivered by a gateway")


def test_evidence_rows_say_per_level_what_was_seen_and_what_is_missing() -> None:
    rows = evidence_rows(_evidence(3))
    assert [r["level"] for r in rows] == ["1 digital model", "2 digital shadow", "3 digital twin",
                                          "4 intelligent twin"]  # fmt: skip
    assert [r["met"] for r in rows] == ["yes", "yes", "yes", "no"]
    assert "readings: 10" in rows[1]["evidence"] and "gateways: gw-a" in rows[1]["evidence"]
    assert "last acks: 0xcccccccc…" in rows[2]["evidence"] and rows[2]["missing"] == "–"
    assert "RUL prediction" in rows[3]["missing"]
    assert next_step(_evidence(3)).startswith("for intelligent twin:")
