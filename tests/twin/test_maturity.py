"""Maturity levels from hand-made evidence: each level, what is missing, and the transitions up
and back down."""

from __future__ import annotations

import datetime as dt
import hashlib
import json

import pytest

from dt_platform.twin.maturity import (
    Ack,
    DecisionFact,
    IntelligenceFacts,
    LiveFacts,
    MachineFacts,
    ShadowFacts,
    Windows,
    assess,
)

T0 = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.UTC)
W = Windows(freshness_h=26.0, period_days=7.0)
CMD = "0x" + "ab" * 32


def h(hours: float) -> dt.datetime:
    return T0 + dt.timedelta(hours=hours)


def shadow(at: dt.datetime) -> ShadowFacts:
    return ShadowFacts(readings=120, files=2, gateways=("gw-a",), last_reading_at=at,
                       last_landed_at=at)  # fmt: skip


def live(
    seen: dt.datetime | None, ack_at: dt.datetime | None, status: str = "applied"
) -> LiveFacts:
    acks = (Ack(CMD, "derate", status, ack_at),) if ack_at else ()
    return LiveFacts(reported_seen_at=seen, online=True, acks=acks)


def smart(pred_at: dt.datetime | None, applied_at: dt.datetime | None, **kw) -> IntelligenceFacts:
    decision = DecisionFact(h(-1), "derate", "executed", CMD, applied_at)
    return IntelligenceFacts(
        predictions=24 if pred_at else 0,
        last_prediction_at=pred_at,
        model_versions=("xgb-1",),
        decisions=(decision,),
        **kw,
    )


def facts(s=None, lv=None, i=None) -> MachineFacts:
    return MachineFacts("SMT-01", "smt_placer", True, s or ShadowFacts(), lv or LiveFacts(),
                        i or IntelligenceFacts())  # fmt: skip


def test_a_registry_entry_alone_is_a_digital_model() -> None:
    a = assess(facts(), T0, W)
    assert (a.level, a.level_name) == (1, "digital model")
    assert a.document["next"]["level"] == 2
    assert "gateway or the live stream within 26 h (last: never)" in a.missing[0]
    assert a.document["levels"][0]["evidence"] == {"registered": True, "active": True}


def test_fresh_data_from_a_gateway_make_a_shadow_and_stale_data_do_not() -> None:
    a = assess(facts(shadow(h(-2))), T0, W)
    assert (a.level, a.level_name) == (2, "digital shadow")
    ev = a.document["levels"][1]["evidence"]
    assert ev["readings"] == 120 and ev["gateways"] == ["gw-a"]
    assert a.missing == [
        "live data within 7 days: the machine's reported state or its telemetry over the live "
        "line (last: never)",
        "a command acknowledged (applied or rejected) by the machine within 7 days",
    ]
    stale = assess(facts(shadow(h(-27))), T0, W)
    assert stale.level == 1
    assert "2026-11-30T09:00:00.000000Z" in stale.missing[0]
    # a reading after the as-of time does not count (a past day judged later)
    assert assess(facts(shadow(h(1))), T0, W).level == 1


@pytest.mark.parametrize("status", ["applied", "rejected"])
def test_live_state_and_an_acknowledged_command_make_a_twin(status: str) -> None:
    a = assess(facts(shadow(h(-1)), live(h(-0.5), h(-30), status)), T0, W)
    assert (a.level, a.level_name) == (3, "digital twin")
    ev = a.document["levels"][2]["evidence"]
    assert ev["acks"] == 1 and ev[status] == 1
    assert ev["last_acks"] == [{"command_id": CMD, "action": "derate", "status": status,
                                "at": h(-30)}]  # fmt: skip
    assert a.missing[0] == "a RUL prediction within 7 days"


def test_a_twin_needs_both_live_data_and_an_ack_within_the_period() -> None:
    no_ack = assess(facts(shadow(h(-1)), live(h(-1), None)), T0, W)
    assert no_ack.level == 2 and len(no_ack.missing) == 1 and "acknowledged" in no_ack.missing[0]
    old_ack = assess(facts(shadow(h(-1)), live(h(-1), h(-8 * 24))), T0, W)
    assert old_ack.level == 2
    delivered = assess(facts(shadow(h(-1)), live(h(-1), h(-1), "delivered")), T0, W)
    assert delivered.level == 2
    no_live = assess(facts(shadow(h(-1)), live(None, h(-1))), T0, W)
    assert no_live.level == 2 and "live data" in no_live.missing[0]


def test_telemetry_over_the_live_stream_counts_as_live_data() -> None:
    streamed = LiveFacts(stream_readings=500, stream_last_reading_at=h(-3),
                         acks=(Ack(CMD, "inspect", "applied", h(-5)),))  # fmt: skip
    a = assess(facts(shadow(h(-3)), streamed), T0, W)
    assert a.level == 3
    ev = a.document["levels"][2]["evidence"]
    assert ev["stream_readings"] == 500 and ev["reported_seen_at"] is None


def test_predictions_and_a_decision_acted_on_make_an_intelligent_twin() -> None:
    a = assess(facts(shadow(h(-1)), live(h(-1), h(-2)), smart(h(-3), h(-2))), T0, W)
    assert (a.level, a.level_name) == (4, "intelligent twin")
    assert a.document["next"] is None and a.missing == []
    ev = a.document["levels"][3]["evidence"]
    assert ev["acted_on"] == 1 and ev["decisions_by_status"] == {"executed": 1}
    assert ev["last_acted_on"][0]["command_id"] == CMD


def test_level_4_says_why_it_is_not_reached() -> None:
    base = (shadow(h(-1)), live(h(-1), h(-2)))
    no_table = IntelligenceFacts(predictions=3, last_prediction_at=h(-3),
                                 decisions_unavailable="no decisions table yet")  # fmt: skip
    a = assess(facts(*base, no_table), T0, W)
    assert a.level == 3 and a.missing == ["decisions of the policy: no decisions table yet"]
    not_applied = assess(facts(*base, smart(h(-3), None)), T0, W)
    assert not_applied.level == 3
    assert not_applied.missing == [
        "a decision acted on: one that led to a command the machine applied within 7 days"
    ]
    no_prediction = assess(facts(*base, smart(None, h(-2))), T0, W)
    assert no_prediction.missing == ["a RUL prediction within 7 days"]


def test_levels_are_cumulative_a_twin_without_fresh_data_drops_back() -> None:
    everything_but_data = facts(shadow(h(-30)), live(h(-1), h(-2)), smart(h(-3), h(-2)))
    a = assess(everything_but_data, T0, W)
    assert a.level == 1
    met = [lv["met"] for lv in a.document["levels"]]
    assert met == [True, False, True, True]  # the evidence of the upper levels is still shown


def test_one_machine_over_time_climbs_then_falls_back() -> None:
    """Day by day: registered, then data, then a command applied, then a decision acted on;
    then everything stops, and the level falls back as each window passes."""
    day = dt.timedelta(days=1)
    timeline = [
        (T0, facts()),
        (T0 + day, facts(shadow(T0 + day))),
        (T0 + 2 * day, facts(shadow(T0 + 2 * day), live(T0 + 2 * day, T0 + 2 * day))),
    ]
    last = T0 + 3 * day
    everything = facts(shadow(last), live(last, last), smart(last, last))
    timeline += [(last, everything)]
    # the machine stops: the same facts judged later
    timeline += [(last + dt.timedelta(hours=25), everything)]  # data still fresh
    timeline += [(last + dt.timedelta(hours=27), everything)]  # stale: back to a model
    levels = [assess(f, at, W).level for at, f in timeline]
    assert levels == [1, 2, 3, 4, 4, 1]
    # fresh data again but nothing else for 8 days: a shadow, not a twin
    later = last + 8 * day
    again = facts(shadow(later), live(last, last), smart(last, last))
    assert assess(again, later, W).level == 2


def test_the_evidence_is_canonical_json_with_its_sha256() -> None:
    f = facts(shadow(h(-1)), live(h(-1), h(-2)), smart(h(-3), h(-2)))
    a, b = assess(f, T0, W), assess(f, T0.astimezone(dt.timezone(dt.timedelta(hours=2))), W)
    assert a.evidence_json == b.evidence_json and a.evidence_sha256 == b.evidence_sha256
    assert a.evidence_sha256 == hashlib.sha256(a.evidence_json.encode()).hexdigest()
    doc = json.loads(a.evidence_json)
    assert doc["format"] == "dt-twin-maturity/1" and doc["as_of"] == "2026-12-01T12:00:00.000000Z"
    assert doc["level"] == 4 and doc["windows"] == {"freshness_h": 26.0, "period_days": 7.0}
    assert a.evidence_json == json.dumps(doc, sort_keys=True, separators=(",", ":"),
                                         ensure_ascii=False)  # fmt: skip
    later = assess(f, h(1), W)
    assert later.evidence_sha256 != a.evidence_sha256


def test_times_must_be_timezone_aware() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        assess(facts(), dt.datetime(2026, 12, 1), W)
    with pytest.raises(ValueError, match="positive"):
        Windows(freshness_h=0)
