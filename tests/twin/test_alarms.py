"""The alarm lifecycle over a hand-made sequence of days: one alarm per condition, acknowledged
by a maintainer with a note, cleared when the condition goes, resolved by a repair, reopened when
it comes back, escalated in severity; every change an event and, with URLs, a notification."""

import datetime as dt

import pytest

from dt_platform.twin import db
from dt_platform.twin.alarms import (
    AlarmError,
    Condition,
    NotAuthorized,
    Repair,
    acknowledge,
    alarm_history,
    alarms,
    open_alarms,
    open_counts,
    sync_alarms,
)
from dt_platform.twin.webhooks import outbox

D0 = dt.datetime(2026, 3, 2, tzinfo=dt.UTC)
MAINTAINER = "0x" + "11" * 20
OPERATOR = "0x" + "22" * 20
URLS = ["http://127.0.0.1:9/a", "http://127.0.0.1:9/b"]


def day(n: int, hour: int = 0) -> dt.datetime:
    return D0 + dt.timedelta(days=n, hours=hour)


class Roles:
    """Who holds which role, as the RoleHub would answer; records each question."""

    def __init__(self, holders: dict[str, set[str]]):
        self.holders = holders
        self.asked: list[tuple[str, str]] = []

    def has_role(self, role: str, account: str) -> bool:
        self.asked.append((role, account))
        return account in self.holders.get(role, set())


ROLES = Roles({"MAINTAINER": {MAINTAINER}, "OPERATOR": {OPERATOR}})


def risk(machine: str, n: int, severity: str = "warning", p: float = 0.6) -> Condition:
    return Condition(machine, "rul_risk", severity, day(n), {"probability": p})


@pytest.fixture
def con(tmp_path):
    return db.connect(tmp_path / "twin.sqlite")


def sync(con, conditions, n, repairs=(), **kw):
    return sync_alarms(con, conditions, repairs, day(n), kinds=["rul_risk"], **kw)


def test_a_condition_repeated_day_after_day_is_one_alarm(con):
    first = sync(con, [risk("CNC-01", 1), risk("OVEN-02", 1)], 1)
    assert len(first.opened) == 2 and first.changed == 2
    for n in (2, 3, 4):
        again = sync(con, [risk("CNC-01", n, p=0.6 + n / 100), risk("OVEN-02", n)], n)
        assert again.opened == [] and sorted(again.unchanged) == sorted(first.opened)
    assert len(alarms(con)) == 2 and len(open_alarms(con)) == 2
    cnc = next(a for a in open_alarms(con) if a.machine_id == "CNC-01")
    assert cnc.since == day(1) and cnc.opened_at == day(1) and cnc.last_seen_at == day(4)
    assert cnc.detail == {"probability": pytest.approx(0.64)}  # the latest detail
    assert [e.type for e in alarm_history(con, cnc.alarm_id)] == ["opened"]


def test_acknowledge_needs_a_maintainer_and_a_note(con):
    (alarm_id,) = sync(con, [risk("CNC-01", 1)], 1).opened
    with pytest.raises(NotAuthorized, match="does not hold MAINTAINER"):
        acknowledge(con, alarm_id, OPERATOR, "looked at it", ROLES, day(1, 8))
    with pytest.raises(AlarmError, match="needs a note"):
        acknowledge(con, alarm_id, MAINTAINER, "   ", ROLES, day(1, 8))
    with pytest.raises(AlarmError, match="at most"):
        acknowledge(con, alarm_id, MAINTAINER, "x" * 5000, ROLES, day(1, 8))
    with pytest.raises(AlarmError, match="not an account address"):
        acknowledge(con, alarm_id, "bob", "note", ROLES, day(1, 8))
    with pytest.raises(AlarmError, match="no alarm 999"):
        acknowledge(con, 999, MAINTAINER, "note", ROLES, day(1, 8))
    assert open_alarms(con)[0].state == "open"
    acked = acknowledge(con, alarm_id, MAINTAINER, " bearing ordered ", ROLES, day(1, 8))
    assert (acked.state, acked.acked_by, acked.acked_at, acked.ack_note) == (
        "acknowledged",
        MAINTAINER,
        day(1, 8),
        "bearing ordered",
    )
    assert ("MAINTAINER", MAINTAINER) in ROLES.asked
    with pytest.raises(AlarmError, match=f"already acknowledged by {MAINTAINER}"):
        acknowledge(con, alarm_id, MAINTAINER, "again", ROLES, day(1, 9))
    # still active, so the next day's condition is still the same alarm
    assert sync(con, [risk("CNC-01", 2)], 2).unchanged == [alarm_id]
    events = alarm_history(con, alarm_id)
    assert [e.type for e in events] == ["opened", "acknowledged"]
    assert (events[1].actor, events[1].note) == (MAINTAINER, "bearing ordered")


def test_cleared_when_the_condition_goes_and_a_new_alarm_when_it_returns(con):
    (first,) = sync(con, [risk("CNC-01", 1)], 1).opened
    gone = sync(con, [], 2)
    assert gone.cleared == [first] and open_alarms(con) == []
    assert alarms(con, state="cleared")[0].closed_at == day(2)
    with pytest.raises(AlarmError, match="is cleared"):
        acknowledge(con, first, MAINTAINER, "late", ROLES, day(2, 1))
    (second,) = sync(con, [risk("CNC-01", 3)], 3).opened
    assert second != first
    back = open_alarms(con)[0]
    assert back.previous_alarm_id == first and back.since == day(3)
    assert [e.type for e in alarm_history(con, first)] == ["opened", "cleared"]


def test_resolved_by_a_repair_finished_after_the_alarm_opened(con):
    (alarm_id,) = sync(con, [risk("CNC-01", 1), risk("CNC-02", 1)], 1).opened[:1]
    before = Repair("WO-1", "CNC-01", "replace", day(0, 9), day(0, 12))  # before it opened
    cleaning = Repair("WO-2", "CNC-01", "clean", day(1, 9), day(1, 10))  # not a repair
    elsewhere = Repair("WO-3", "CNC-03", "replace", day(1, 9), day(1, 10))
    unfinished = Repair("WO-4", "CNC-01", "repair", day(1, 9), None)
    kept = sync(con, [risk("CNC-01", 2), risk("CNC-02", 2)], 2, [before, cleaning, elsewhere])
    assert kept.resolved == [] and alarm_id in kept.unchanged
    assert sync(con, [risk("CNC-01", 2), risk("CNC-02", 2)], 2, [unfinished]).resolved == []
    fixed = Repair("WO-5", "CNC-01", "replace", day(2, 8), day(2, 14))
    done = sync(con, [risk("CNC-02", 3)], 3, [before, fixed])
    assert done.resolved == [alarm_id] and done.cleared == []
    (resolved,) = alarms(con, state="resolved")
    assert resolved.closed_by == "WO-5" and resolved.closed_at == day(3)
    event = alarm_history(con, alarm_id)[-1]
    assert (event.type, event.actor, event.detail["finished_at"]) == (
        "resolved",
        "WO-5",
        "2026-03-04T14:00:00.000000+00:00",
    )
    # the repair did not help: the condition seen after it is a new alarm, not the old one
    again = sync(con, [risk("CNC-01", 4), risk("CNC-02", 4)], 4, [before, fixed])
    assert len(again.opened) == 1 and again.resolved == []


def test_a_repair_does_not_resolve_drift(con):
    drift = Condition("CNC-01", "drift", "warning", day(1), {"delta": {"derate_pct": 20}})
    (alarm_id,) = sync_alarms(con, [drift], [], day(1), kinds=["drift"]).opened
    fix = Repair("WO-9", "CNC-01", "repair", day(1, 1), day(1, 2))
    assert sync_alarms(con, [drift], [fix], day(2), kinds=["drift"]).unchanged == [alarm_id]


def test_severity_escalates_and_needs_a_new_acknowledgement(con):
    (alarm_id,) = sync(con, [risk("CNC-01", 1)], 1).opened
    acknowledge(con, alarm_id, MAINTAINER, "watching it", ROLES, day(1, 8))
    up = sync(con, [risk("CNC-01", 2, "critical", 0.95)], 2)
    assert up.escalated == [alarm_id] and up.opened == []
    alarm = open_alarms(con)[0]
    assert (alarm.severity, alarm.state, alarm.acked_by) == ("critical", "open", None)
    # a falling probability keeps the highest severity reached, without an event
    assert sync(con, [risk("CNC-01", 3, "warning")], 3).unchanged == [alarm_id]
    assert open_counts(con) == {"warning": 0, "critical": 1}
    events = alarm_history(con, alarm_id)
    assert [e.type for e in events] == ["opened", "acknowledged", "escalated"]
    assert events[2].detail == {"from": "warning", "to": "critical", "was": "acknowledged"}
    assert events[2].severity == "critical"


def test_a_sync_only_touches_its_kinds_and_never_goes_back_in_time(con):
    drift = Condition("CNC-01", "drift", "warning", day(1), {})
    sync_alarms(con, [drift], [], day(1), kinds=["drift"])
    sync(con, [risk("CNC-01", 1)], 1)
    assert sync(con, [], 2).cleared and len(open_alarms(con)) == 1  # drift untouched
    sync(con, [risk("CNC-02", 5)], 5)
    stale = sync(con, [risk("CNC-03", 3)], 3)  # a past day re-run
    assert stale.stale and stale.last_sync == day(5) and stale.changed == 0
    assert {a.machine_id for a in open_alarms(con)} == {"CNC-01", "CNC-02"}
    with pytest.raises(AlarmError, match="kind 'rul_risk' given to a sync of"):
        sync_alarms(con, [risk("CNC-01", 6)], [], day(6), kinds=["drift"])


def test_bad_conditions_are_refused_with_their_reason(con):
    with pytest.raises(AlarmError, match="severity 'major'"):
        sync(con, [Condition("CNC-01", "rul_risk", "major", day(1))], 1)
    with pytest.raises(AlarmError, match="machine_id"):
        sync(con, [Condition("", "rul_risk", "warning", day(1))], 1)
    with pytest.raises(AlarmError, match="bytes of JSON"):
        sync(con, [Condition("M", "rul_risk", "warning", day(1), {"x": "y" * 20_000})], 1)
    with pytest.raises(ValueError, match="without a timezone"):
        sync(con, [Condition("M", "rul_risk", "warning", dt.datetime(2026, 1, 1))], 1)
    assert alarms(con) == []  # nothing half-written
    with pytest.raises(ValueError, match="unknown alarm state"):
        alarms(con, state="closed")


def test_duplicate_conditions_in_one_sync_merge(con):
    both = [risk("CNC-01", 2, "warning"), risk("CNC-01", 1, "critical", 0.97)]
    assert len(sync(con, both, 2).opened) == 1
    alarm = open_alarms(con)[0]
    assert (alarm.severity, alarm.since, alarm.detail) == (
        "critical",
        day(1),
        {"probability": 0.97},
    )


def test_every_event_queues_one_notification_per_url(con, tmp_path):
    (alarm_id,) = sync(con, [risk("CNC-01", 1)], 1, webhook_urls=URLS).opened
    acknowledge(con, alarm_id, MAINTAINER, "on it", ROLES, day(1, 8), webhook_urls=URLS)
    sync(con, [risk("CNC-01", 2, "critical", 0.95)], 2, webhook_urls=URLS)
    sync(con, [], 3, webhook_urls=URLS)
    # an unchanged day queues nothing
    assert sync(con, [], 4, webhook_urls=URLS).notifications == 0
    rows = outbox(db.connect(tmp_path / "twin.sqlite"))
    kinds = [(r.event_type, r.url) for r in rows]
    events = ["alarm.opened", "alarm.acknowledged", "alarm.escalated", "alarm.cleared"]
    assert kinds == [(e, u) for e in events for u in URLS]
    keys = [e.event_key for e in alarm_history(con, alarm_id)]
    assert [r.event_key for r in rows] == [k for k in keys for _ in URLS]
    assert all(r.status == "pending" and r.attempts == 0 for r in rows)
