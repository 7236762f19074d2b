"""The bridge without a broker: decoding, the journal, and what the real loader makes of both."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from dt_platform.config import Settings
from dt_platform.live import topics
from dt_platform.live.decode import decode
from dt_platform.live.spool import SeenWindow, Spool
from dt_platform.live.twin_metrics import TwinMetricError, ack_document, reported_update
from tests.live.bridge_fixtures import Warehoused, with_registry

G = "factory"
NOW_MS = int(time.time() * 1000)


def ddata(gateway: str, machine: str, payload: bytes) -> tuple[str, bytes]:
    return topics.device_topic(G, "DDATA", gateway, machine), payload


def good(seq: int, *metrics, ts: int = NOW_MS) -> bytes:
    return topics.encode(ts, seq, list(metrics) or [topics.metric("vibration_rms", 1.5, "mm/s")])


@pytest.fixture
def home(tmp_path: Path) -> Settings:
    return Settings(home=with_registry(tmp_path / "home"))


def land(settings, messages) -> Path | None:
    spool = Spool(settings.stream_dir, settings.landing_dir)
    spool.recover()
    for topic, payload in messages:
        d = decode(topic, payload)
        spool.append(d.identity, d.lines)
    return spool.rotate()


def test_every_bad_message_reaches_the_rejects_with_its_reason(home):
    big = topics.encode(NOW_MS, 9, [topics.metric("note", "x" * topics.MAX_PAYLOAD_BYTES)])
    messages = [
        ddata(
            "gw-a",
            "CNC-01",
            good(1, topics.metric("vibration_rms", 1.5, "mm/s"), topics.metric("load", 40, "%")),
        ),
        ddata("gw-a", "CNC-01", b"{not json"),
        ddata("gw-a", "CNC-01", b"\xff\xfe latin-1 \xe9\n second line"),
        ddata("gw-a", "CNC-01", big),
        ddata("gw-a", "CNC-01", b'{"timestamp": 1, "timestamp": 2, "seq": 0, "metrics": []}'),
        ddata("gw-a", "CNC-01", json.dumps({"timestamp": NOW_MS, "seq": 2}).encode()),
        ddata("gw-a", "CNC-01", good(3, {"name": "vibration_rms", "unit": "mm/s"})),
        ddata("gw-a", "CNC-01", good(4, {"value": 1.0, "unit": "mm/s"})),
        ddata("gw-a", "CNC-99", good(5)),
        ddata("gw-a", "CNC-01", good(6, topics.metric("vibration_rms", 1.5, "bar"))),
        ddata("gw-a", "CNC-03", good(7)),  # CNC-03 belongs to gw-b
        ddata("gw-a", "CNC-04", good(8)),  # CNC-04 has no gateway in the registry
        ddata("gw-a", "CNC-01", good(10, {"name": "twin/reported", "value": {"mode": "idle"}})),
    ]
    landed = land(home, messages)
    assert landed is not None and landed.parent == home.landing_dir / "stream"
    wh = Warehoused(home)
    summary = wh.ingest()
    assert [f.status for f in summary.files] == ["loaded"]
    assert wh.query("SELECT count(*) FROM readings") == [(2,)]
    assert wh.reasons() == {
        "malformed_line": 4,  # not JSON, not UTF-8, too large, a key twice
        "missing_field": 3,  # no metrics list, no value, no name
        "unknown_machine": 1,
        "unit_mismatch": 1,
        "wrong_gateway": 2,
    }
    wh.assert_balanced()
    details = dict(
        wh.query("SELECT machine_id, detail FROM telemetry_rejects WHERE reason='wrong_gateway'")
    )
    assert details == {
        "CNC-03": "machine CNC-03 is registered to gateway gw-b, not to gw-a",
        "CNC-04": "machine CNC-04 is registered to no gateway, not to gw-a",
    }
    raws = [r for (r,) in wh.query("SELECT raw_value FROM telemetry_rejects ORDER BY line")]
    assert "not JSON" in raws[0] and "{not json" in raws[0] and "DDATA/gw-a/CNC-01" in raws[0]
    assert "not UTF-8" in raws[1] and "\\\\xff" in raws[1] and "\\n second line" in raws[1]
    assert "refused (limit 262144)" in raws[2]


def test_a_dump_of_unreadable_messages_only_is_read_line_by_line(home):
    land(home, [ddata("gw-a", "CNC-01", b"garbage"), ddata("gw-b", "CNC-03", b"\x80")])
    wh = Warehoused(home)
    assert [f.status for f in wh.ingest().files] == ["loaded"]
    assert wh.reasons() == {"malformed_line": 2}


def test_machine_and_gateway_come_from_the_topic_and_times_are_utc():
    payload = topics.encode(
        1_700_000_000_000,
        3,
        [topics.metric("load", 10, "%", timestamp_ms=1_700_000_000_250)],
        machine="CNC-03",
    )
    d = decode(topics.device_topic(G, "DDATA", "gw-a", "CNC-01"), payload)
    (line,) = [json.loads(x) for x in d.lines]
    assert line == {
        "ts": "2023-11-14T22:13:20.250Z",
        "machine": "CNC-01",
        "sensor": "load",
        "value": 10,
        "unit": "%",
        "gateway": "gw-a",
    }
    assert d.identity == "gw-a/CNC-01/DDATA/1700000000000/3"
    assert d.readings == {"load": [10, "%"]} and d.reading_ts == "2023-11-14T22:13:20.250Z"


def test_identity_is_stable_for_a_redelivery_and_distinct_otherwise():
    t = topics.device_topic(G, "DDATA", "gw-a", "CNC-01")
    assert decode(t, good(1)).identity == decode(t, good(1)).identity
    assert decode(t, good(1)).identity != decode(t, good(2)).identity
    assert (
        decode(t, b"junk").identity == decode(t, b"junk").identity != decode(t, b"junk2").identity
    )


def test_twin_metrics_are_checked():
    assert reported_update(
        {
            "mode": "production",
            "settings": {"derate_pct": 10, "maintenance": False, "inspection": "I-1"},
            "applied_version": 3,
            "inspection_finding": "wear 40 %",
        }
    ) == {
        "mode": "production",
        "settings": {
            "derate_pct": 10.0,
            "maintenance": False,
            "inspection": "I-1",
            "inspection_finding": "wear 40 %",
        },
        "applied_version": 3,
    }
    for bad in (
        [],
        {"mode": "flying"},
        {"settings": {"turbo": True}},
        {"settings": {"maintenance": "yes"}},
        {"applied_version": -1},
        {"applied_version": True},
        {"inspection_finding": "x" * 5000},
    ):
        with pytest.raises(TwinMetricError):
            reported_update(bad)
    ack = {"command_id": "c1", "version": 2, "status": "rejected", "reason": "interlock"}
    assert ack_document(ack) == {**ack, "detail": None}
    for bad in ({**ack, "status": "maybe"}, {**ack, "version": "2"}, {**ack, "command_id": ""}):
        with pytest.raises(TwinMetricError):
            ack_document(bad)
    d = decode(
        topics.device_topic(G, "DDATA", "gw-a", "CNC-01"),
        topics.encode(NOW_MS, 1, [topics.metric("twin/ack", {"status": "nope"})]),
    )
    assert d.lines == [] and d.acks == [] and "twin/ack" in d.problems[0]


def test_a_torn_journal_tail_is_skipped_and_a_leftover_lands_once(tmp_path: Path):
    stream, landing = tmp_path / "stream", tmp_path / "landing"
    spool = Spool(stream, landing)
    spool.recover()
    t = topics.device_topic(G, "DDATA", "gw-a", "CNC-01")
    for seq in range(3):
        d = decode(t, good(seq))
        spool.append(d.identity, d.lines)
    spool.close()  # a crash: the segment stays, with half a record at its end
    (segment,) = stream.glob("*.spool")
    with open(segment, "ab") as f:
        f.write(b'{"id": "gw-a/CNC-01/DDATA/1/99", "lines": ["{\\"ts')
    again = Spool(stream, landing)
    (landed,) = again.recover()
    assert len(landed.read_text().splitlines()) == 3
    assert not list(stream.glob("*.spool"))
    assert decode(t, good(2)).identity in again.seen
    assert "gw-a/CNC-01/DDATA/1/99" not in again.seen
    # The window survives the next start too (seen.json), and no file is landed twice.
    third = Spool(stream, landing)
    assert third.recover() == [] and decode(t, good(0)).identity in third.seen
    assert len(list((landing / "stream").iterdir())) == 1


def test_a_crash_after_landing_before_deleting_lands_nothing_twice(tmp_path: Path):
    stream, landing = tmp_path / "stream", tmp_path / "landing"
    spool = Spool(stream, landing)
    spool.recover()
    d = decode(topics.device_topic(G, "DDATA", "gw-a", "CNC-01"), good(1))
    spool.append(d.identity, d.lines)
    spool.close()
    (segment,) = stream.glob("*.spool")
    kept = segment.read_bytes()
    (landed,) = Spool(stream, landing).recover()
    segment.write_bytes(kept)  # as if the crash came before the segment was deleted
    assert Spool(stream, landing).recover() == [landed]
    assert list((landing / "stream").iterdir()) == [landed]


def test_the_window_is_bounded_and_forgets_the_oldest(tmp_path: Path):
    w = SeenWindow(size=3)
    for i in range(5):
        w.add(f"m{i}")
    assert len(w) == 3 and "m1" not in w and "m4" in w
    w.save(tmp_path / "seen.json")
    w2 = SeenWindow(size=2)
    w2.load(tmp_path / "seen.json")
    assert "m2" not in w2 and "m3" in w2 and "m4" in w2
    (tmp_path / "bad.json").write_text("{not json")
    SeenWindow().load(tmp_path / "bad.json")  # unreadable: starts empty, does not fail
