"""Commands through every state: signed, published, acknowledged, rejected, expired, drifting."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from dt_platform.live import topics
from dt_platform.twin.alarm_sources import twin_conditions
from dt_platform.twin.command_acks import expire_due, record_ack
from dt_platform.twin.command_flow import issue_draft, submit_signature
from dt_platform.twin.command_publish import publish_unpublished
from dt_platform.twin.command_store import command_history, get_status, list_commands
from dt_platform.twin.commands import CommandRefused
from dt_platform.twin.state import all_states, desired, record_reported, twin_state
from tests.twin.command_fixtures import DOMAIN, REGISTRY, Published, at, sign, store, team


def _signed(con, t, pub, action="derate", percent=None, machine="CNC-01", now=0, ttl_s=900):
    draft = issue_draft(
        con, REGISTRY, machine, action, percent=percent, domain=DOMAIN, now=at(now), ttl_s=ttl_s
    )
    status = submit_signature(
        con, draft.command_id, sign(draft.typed_data, t.maintainer), roles=t.roles,
        publisher=pub, domain=DOMAIN, now=at(now + 1), signer=t.maintainer.address,
    )  # fmt: skip
    return draft, status


def test_a_derate_goes_pending_delivered_applied_and_is_published_retained(tmp_path):
    con, t, pub = store(tmp_path), team(), Published()
    record_reported(con, "CNC-01", "gw-opcua", mode="production", settings={"derate_pct": 0.0})
    draft, status = _signed(con, t, pub, percent=20)
    assert draft.value == 2000 and not draft.critical
    assert draft.typed_data["domain"]["verifyingContract"] == DOMAIN.to_json()["verifyingContract"]
    assert status.state == "pending" and status.issuer == t.maintainer.address
    assert status.version == 1 and status.published
    assert desired(con, "CNC-01").settings["derate_pct"] == 20.0

    ((gateway, machine, payload),) = pub.messages
    assert (gateway, machine) == ("gw-opcua", "CNC-01")
    assert topics.device_topic("factory", "DCMD", gateway, machine).endswith("/gw-opcua/CNC-01")
    body = json.loads(payload)
    assert body["desired"] == {"derate_pct": 20.0, "maintenance": False, "inspection": ""}
    assert (body["version"], body["command_id"]) == (1, draft.command_id)
    assert body["expires_at"] == draft.expires_at and body["metrics"] == []

    assert record_ack(con, "CNC-01", draft.command_id, 1, "delivered", None, at(5)).state == (
        "delivered"
    )
    assert record_ack(con, "CNC-01", draft.command_id, 1, "applied", None, at(6)).state == "applied"
    # a late or repeated ack changes nothing, and is still an event
    assert record_ack(con, "CNC-01", draft.command_id, 1, "delivered", None, at(7)).state == (
        "applied"
    )
    events = [(e.event, e.state) for e in command_history(con, draft.command_id)]
    assert events == [
        ("issued", "issued"),
        ("signed", "issued"),
        ("pending", "pending"),
        ("published", "pending"),
        ("ack", "delivered"),
        ("ack", "applied"),
        ("ack", "applied"),
    ]
    signed = command_history(con, draft.command_id)[1]
    assert signed.actor == t.maintainer.address and signed.role == "MAINTAINER"
    assert signed.signature and signed.signature.startswith("0x")


def test_every_kind_sets_its_desired_settings(tmp_path):
    con, t, pub = store(tmp_path), team(), Published()
    _signed(con, t, pub, "derate", 30)
    _signed(con, t, pub, "maintenance_on", now=10)  # no reported mode: not critical
    assert desired(con, "CNC-01").settings == {
        "derate_pct": 30.0, "maintenance": True, "inspection": ""
    }  # fmt: skip
    draft, _ = _signed(con, t, pub, "inspect", now=20)
    assert desired(con, "CNC-01").settings["inspection"] == draft.command_id
    _signed(con, t, pub, "resume", now=30)
    assert desired(con, "CNC-01").settings == {
        "derate_pct": 0.0, "maintenance": False, "inspection": draft.command_id
    }  # fmt: skip
    _signed(con, t, pub, "maintenance_off", now=40)
    assert desired(con, "CNC-01").version == 5 and len(pub.messages) == 5


def test_a_rejection_keeps_the_machines_reason_and_is_final(tmp_path):
    con, t, pub = store(tmp_path), team(), Published()
    draft, _ = _signed(con, t, pub, percent=40)
    status = record_ack(con, "CNC-01", draft.command_id, 1, "rejected", "interlock", at(3))
    assert (status.state, status.reason) == ("rejected", "interlock")
    with pytest.raises(CommandRefused) as exc:
        record_ack(con, "CNC-01", draft.command_id, 1, "applied", None, at(4))
    assert exc.value.reason_code == "invalid_transition"
    assert command_history(con, draft.command_id)[-1].event == "ack_refused"
    with pytest.raises(CommandRefused, match="bad_ack"):
        record_ack(con, "CNC-01", draft.command_id, 1, "rejected", "Not A Token!", at(4))


def test_acks_for_another_machine_or_version_are_refused(tmp_path):
    con, t, pub = store(tmp_path), team(), Published()
    draft, _ = _signed(con, t, pub, percent=10)
    for machine, version, code in (
        ("OVEN-01", 1, "wrong_machine"),
        ("CNC-01", 2, "version_mismatch"),
    ):
        with pytest.raises(CommandRefused) as exc:
            record_ack(con, machine, draft.command_id, version, "applied", None, at(3))
        assert exc.value.reason_code == code
    with pytest.raises(CommandRefused, match="bad_ack"):
        record_ack(con, "CNC-01", draft.command_id, 1, "done", None, at(3))
    with pytest.raises(CommandRefused, match="not_issued"):
        record_ack(con, "CNC-01", "0x" + "ab" * 32, 1, "applied", None, at(3))
    assert get_status(con, draft.command_id).state == "pending"


def test_expiry_restores_the_desired_state_and_nothing_is_applied_after_it(tmp_path):
    con, t, pub = store(tmp_path), team(), Published()
    first, _ = _signed(con, t, pub, percent=10)
    record_ack(con, "CNC-01", first.command_id, 1, "applied", None, at(5))
    second, _ = _signed(con, t, pub, percent=30, now=10, ttl_s=60)
    record_ack(con, "CNC-01", second.command_id, 2, "delivered", None, at(12))
    assert expire_due(con, at(69)) == []  # not yet
    (gone,) = expire_due(con, at(70), publisher=pub)
    assert (gone.command_id, gone.state) == (second.command_id, "expired")
    back = desired(con, "CNC-01")
    assert back.version == 3 and back.settings["derate_pct"] == 10.0 and back.command_id is None
    assert json.loads(pub.messages[-1][2])["desired"]["derate_pct"] == 10.0
    with pytest.raises(CommandRefused) as exc:
        record_ack(con, "CNC-01", second.command_id, 2, "applied", None, at(71))
    assert exc.value.reason_code == "invalid_transition"
    assert get_status(con, first.command_id).state == "applied"  # final states never expire


def test_an_unsigned_draft_expires_and_its_late_signature_is_refused(tmp_path):
    con, t, pub = store(tmp_path), team(), Published()
    draft = issue_draft(con, REGISTRY, "OVEN-01", "inspect", domain=DOMAIN, now=at(0), ttl_s=60)
    with pytest.raises(CommandRefused) as exc:
        submit_signature(
            con, draft.command_id, sign(draft.typed_data, t.maintainer), roles=t.roles,
            publisher=pub, domain=DOMAIN, now=at(60),
        )  # fmt: skip
    assert exc.value.reason_code == "expired"
    assert get_status(con, draft.command_id).state == "expired" and pub.messages == []
    assert desired(con, "OVEN-01") is None


def test_a_broker_outage_leaves_the_command_pending_until_republished(tmp_path):
    con, t = store(tmp_path), team()
    down = Published(fail=True)
    draft, status = _signed(con, t, down, percent=15)
    assert status.state == "pending" and not status.published
    assert command_history(con, draft.command_id)[-1].event == "publish_failed"
    up = Published()
    assert publish_unpublished(con, up, at(30)) == ["CNC-01"]
    assert get_status(con, draft.command_id).published and len(up.messages) == 1
    assert publish_unpublished(con, up, at(31)) == []


def test_drift_is_measured_from_the_moment_the_command_set_the_desired_state(tmp_path):
    con, t, pub = store(tmp_path), team(), Published()
    record_reported(con, "CNC-01", "gw-opcua", mode="production", settings={"derate_pct": 0.0})
    draft, _ = _signed(con, t, pub, percent=25)

    def drifting(now):
        return [c for c in twin_conditions(all_states(con), now) if c.kind == "drift"]

    grace = dt.timedelta(minutes=5)
    assert drifting(at(1) + grace - dt.timedelta(seconds=1)) == []
    (late,) = drifting(at(1) + grace)
    assert late.machine_id == "CNC-01" and late.detail["delta"] == {"derate_pct": 25.0}
    assert late.since == at(1) and late.detail["command_id"] == draft.command_id
    record_reported(con, "CNC-01", "gw-opcua", settings={"derate_pct": 25.0}, applied_version=1)
    assert twin_state(con, "CNC-01").delta == {}
    assert drifting(at(10_000)) == []


def test_bad_kinds_values_and_machines_are_refused_at_issue(tmp_path):
    con = store(tmp_path)
    cases = [
        ("CNC-01", "derate", 95, "bad_action"),
        ("CNC-01", "derate", None, "bad_action"),
        ("CNC-01", "derate", 12.345, "bad_action"),
        ("CNC-01", "maintenance_on", 5, "bad_action"),
        ("CNC-01", "reboot", None, "bad_action"),
        ("PRESS-9", "inspect", None, "unknown_machine"),
    ]
    for machine, action, percent, code in cases:
        with pytest.raises(CommandRefused) as exc:
            issue_draft(con, REGISTRY, machine, action, percent=percent, domain=DOMAIN, now=at(0))
        assert exc.value.reason_code == code, (machine, action, percent)
    assert list_commands(con) == []


def test_list_commands_newest_first_per_machine(tmp_path):
    con, t, pub = store(tmp_path), team(), Published()
    a, _ = _signed(con, t, pub, percent=5)
    b, _ = _signed(con, t, pub, "inspect", machine="OVEN-01", now=10)
    c, _ = _signed(con, t, pub, "resume", now=20)
    assert [s.command_id for s in list_commands(con)] == [c.command_id, b.command_id, a.command_id]
    assert [s.command_id for s in list_commands(con, "CNC-01")] == [c.command_id, a.command_id]
