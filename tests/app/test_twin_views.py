"""How alarms, twin states and commands read on the pages (plain functions, no Streamlit)."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

from app.twin_views import alarm_summary, alarms_now, publish_note, readings_rows, settings_rows
from dt_platform.twin.alarm_store import Alarm
from dt_platform.twin.commands import CommandStatus
from dt_platform.twin.state import Desired, Reported, TwinState, delta

T0 = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.UTC)


def alarm(alarm_id: int, severity: str, opened_min: int, kind: str = "rul_risk", **detail) -> Alarm:
    at = T0 + dt.timedelta(minutes=opened_min)
    return Alarm(alarm_id, f"M-{alarm_id}", kind, severity, "open", at, at, at, detail,
                 None, None, None, None, None, None)  # fmt: skip


def test_alarms_now_puts_the_most_severe_then_the_newest_first() -> None:
    got = alarms_now([alarm(1, "warning", 0), alarm(2, "critical", 0), alarm(3, "warning", 5),
                      alarm(4, "critical", 9)])  # fmt: skip
    assert [a.alarm_id for a in got] == [4, 2, 3, 1]


def test_alarm_summaries_say_what_the_condition_is() -> None:
    risk = alarm(1, "warning", 0, probability=0.62, horizon_h=72.0, rul_fused_h=40.0,
                 rul_fused_lo_h=20.0, rul_fused_hi_h=70.0)  # fmt: skip
    assert alarm_summary(risk) == (
        "likely to fail · P(failure within 72 h) = 0.62 · RUL 40 h [20 – 70]"
    )
    drift = alarm(2, "warning", 0, kind="drift", delta={"derate_pct": 20.0})
    assert alarm_summary(drift) == 'has not applied its commanded settings: {"derate_pct": 20.0}'
    assert alarm_summary(alarm(3, "warning", 0, kind="offline")) == "offline"


def test_settings_rows_show_reported_desired_and_the_delta() -> None:
    rep = Reported("M-1", "gw", True, None, None, "production", {"derate_pct": 0.0}, 1,
                   {"vacuum_kpa": [-71.5, "kPa"]})  # fmt: skip
    des = Desired("M-1", 2, {"derate_pct": 20.0, "maintenance": False, "inspection": ""}, None, "")
    state = TwinState("M-1", rep, des, delta(des, rep))
    rows = {r["setting"]: r for r in settings_rows(state)}
    assert rows["derate_pct"] == {"setting": "derate_pct", "reported": "0", "desired": "20",
                                  "delta": "yes"}  # fmt: skip
    assert rows["maintenance"]["delta"] == "" and rows["maintenance"]["reported"] == "off"
    assert readings_rows(state) == [{"tag": "vacuum_kpa", "value": -71.5, "unit": "kPa"}]
    assert settings_rows(TwinState("M-2", None, None))[0]["desired"] == "–"


def test_publish_note_only_for_a_pending_command_the_broker_has_not_got() -> None:
    status = CommandStatus("0x" + "1" * 64, "M-1", "gw", "derate", 2000, {}, False, "pending",
                           0, 900, "0xabc", None, 3, None, None, "")  # fmt: skip
    assert "not published" in publish_note(status)
    assert publish_note(replace(status, published_version=3)) is None
    assert publish_note(replace(status, state="awaiting_approval", version=None)) is None
    assert publish_note(replace(status, state="expired")) is None
