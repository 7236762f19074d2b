"""Sparkplug B's bdSeq in the bridge, without a broker: an NDEATH takes a gateway's machines
offline only if it is the will of the connection its latest NBIRTH announced."""

from __future__ import annotations

import datetime as dt
import logging

import pytest

from dt_platform.live import topics
from dt_platform.live.decode import Decoded, decode
from dt_platform.live.gateway_births import current_bd_seq, open_births
from dt_platform.live.twin_batch import TwinBatch
from dt_platform.twin import db
from dt_platform.twin.state import open_state, reported

G = "factory"
T0 = dt.datetime(2025, 3, 5, 8, 0, tzinfo=dt.UTC)
GATEWAY_OF = {"CNC-01": "gw-a", "CNC-02": "gw-a", "CNC-03": "gw-b"}


class Registry:
    """The machine registry as the batch asks it."""

    @staticmethod
    def owns(gateway: str, machine_id: str) -> bool:
        return GATEWAY_OF.get(machine_id) == gateway

    @staticmethod
    def knows_gateway(gateway: str) -> bool:
        return gateway in GATEWAY_OF.values()


class Store:
    """A twin store file; :meth:`run` takes messages as one flush batch and writes it."""

    def __init__(self, path) -> None:
        self.path = path
        self.con = open_births(open_state(db.connect(path)))
        self.batch = TwinBatch()
        self.clock = 0

    def restart(self) -> None:
        """A new bridge over the same file: a new connection and an empty batch."""
        self.con.close()
        self.con = open_births(open_state(db.connect(self.path)))
        self.batch = TwinBatch()

    def run(self, *messages: Decoded) -> list[str]:
        taken = []
        for decoded in messages:
            self.clock += 1
            at = T0 + dt.timedelta(seconds=self.clock)
            taken.append(self.batch.take(self.con, decoded, at, Registry()))
        self.batch.apply(self.con, lambda *_a: None)
        return taken

    def online(self) -> dict[str, bool]:
        return {m: reported(self.con, m).online for m in GATEWAY_OF if reported(self.con, m)}


@pytest.fixture
def store(tmp_path):
    s = Store(tmp_path / "twin.sqlite")
    yield s
    s.con.close()


_stamp = iter(range(1_741_161_600_000, 1_741_161_600_000 + 10**9, 1000))


def node(kind: str, bd_seq=None, gateway: str = "gw-a", metrics=None) -> Decoded:
    if metrics is None:
        metrics = [] if bd_seq is None else [topics.metric("bdSeq", bd_seq)]
    return decode(topics.node_topic(G, kind, gateway), topics.encode(next(_stamp), 0, metrics))


def dbirth(machine: str) -> Decoded:
    payload = topics.encode(next(_stamp), 1, [topics.metric("load", 50, "%")])
    return decode(topics.device_topic(G, "DBIRTH", GATEWAY_OF[machine], machine), payload)


def all_born(store: Store, bd_seq: int) -> None:
    store.run(node("NBIRTH", bd_seq), dbirth("CNC-01"), dbirth("CNC-02"))
    store.run(node("NBIRTH", 0, gateway="gw-b"), dbirth("CNC-03"))
    assert store.online() == {"CNC-01": True, "CNC-02": True, "CNC-03": True}


def test_an_ndeath_of_the_current_connection_takes_its_machines_offline(store):
    all_born(store, 1)
    assert store.run(node("NDEATH", 1)) == ["taken"]
    assert store.online() == {"CNC-01": False, "CNC-02": False, "CNC-03": True}


def test_a_stale_ndeath_after_a_newer_nbirth_is_ignored_and_logged(store, caplog):
    all_born(store, 0)
    store.run(node("NBIRTH", 1), dbirth("CNC-01"), dbirth("CNC-02"))
    with caplog.at_level(logging.INFO, logger="dt_platform.live.twin_batch"):
        assert store.run(node("NDEATH", 0)) == ["stale_death"]
    assert store.online() == {"CNC-01": True, "CNC-02": True, "CNC-03": True}
    assert "NDEATH of gw-a ignored: its bdSeq 0 is not 1" in caplog.text
    assert store.run(node("NDEATH", 1)) == ["taken"]
    assert store.online() == {"CNC-01": False, "CNC-02": False, "CNC-03": True}


def test_order_within_one_batch(store):
    all_born(store, 3)
    # A new birth, then the old connection's will, in one flush: the machines stay as they are.
    assert store.run(node("NBIRTH", 4), node("NDEATH", 3)) == ["taken", "stale_death"]
    assert store.online()["CNC-01"] and store.online()["CNC-02"]
    # The current connection's will, then a new birth and a machine's birth: that one is online.
    store.run(node("NDEATH", 4), node("NBIRTH", 5), dbirth("CNC-01"))
    assert store.online() == {"CNC-01": True, "CNC-02": False, "CNC-03": True}
    assert current_bd_seq(store.con, "gw-a") == 5


def test_without_a_birth_or_a_bdseq_to_compare_an_ndeath_takes_the_machines_offline(store):
    store.run(dbirth("CNC-01"), dbirth("CNC-03"))  # the bridge never saw gw-a's NBIRTH
    assert store.run(node("NDEATH", 7)) == ["taken"]
    assert store.online() == {"CNC-01": False, "CNC-03": True}
    store.run(node("NBIRTH", 2), dbirth("CNC-01"))
    assert store.run(node("NDEATH")) == ["taken"]  # an NDEATH without bdSeq
    assert store.online() == {"CNC-01": False, "CNC-03": True}


def test_the_current_bdseq_survives_a_restart_of_the_bridge(store):
    all_born(store, 9)
    store.restart()
    assert current_bd_seq(store.con, "gw-a") == 9
    assert store.run(node("NDEATH", 8)) == ["stale_death"]
    assert store.online()["CNC-01"]
    store.restart()
    assert store.run(node("NDEATH", 9)) == ["taken"]
    assert store.online() == {"CNC-01": False, "CNC-02": False, "CNC-03": True}


@pytest.mark.parametrize(
    ("value", "why"),
    [
        (256, "bdSeq 256 is not a whole number 0-255"),
        (-1, "bdSeq -1 is not a whole number 0-255"),
        (1.0, "bdSeq 1.0 is not a whole number 0-255"),
        ("1", 'bdSeq "1" is not a whole number 0-255'),
        (True, "bdSeq true is not a whole number 0-255"),
        (None, "NBIRTH has no bdSeq metric"),
    ],
)
def test_a_malformed_bdseq_is_a_problem_and_leaves_nothing_to_compare(store, value, why):
    all_born(store, 1)
    bad = node("NBIRTH", metrics=[] if value is None else [topics.metric("bdSeq", value)])
    assert bad.bd_seq is None and any(why in p for p in bad.problems), bad.problems
    store.run(bad)
    assert current_bd_seq(store.con, "gw-a") is None
    # The old connection's bdSeq no longer counts: nothing to compare, so offline.
    assert store.run(node("NDEATH", 0)) == ["taken"]
    assert not store.online()["CNC-01"]


def test_node_payloads_that_cannot_carry_a_bdseq():
    twice = node("NBIRTH", metrics=[topics.metric("bdSeq", 1), topics.metric("bdSeq", 2)])
    assert twice.bd_seq is None and twice.problems == ["NBIRTH: bdSeq appears 2 times"]
    death = node("NDEATH", metrics=[topics.metric("bdSeq", 300)])
    assert death.bd_seq is None and death.problems == [
        "NDEATH: bdSeq 300 is not a whole number 0-255"
    ]
    assert node("NDEATH").problems == []  # a will without bdSeq is allowed: today's behaviour
    unreadable = decode(topics.node_topic(G, "NBIRTH", "gw-a"), b"{not json")
    assert unreadable.bd_seq is None and unreadable.problems
    no_list = decode(topics.node_topic(G, "NBIRTH", "gw-a"), b'{"timestamp":1,"seq":0}')
    assert no_list.problems == ["NBIRTH: the payload has no metrics list"]


def test_wills_of_two_connections_with_the_same_timestamp_are_two_messages():
    topic = topics.node_topic(G, "NDEATH", "gw-a")
    first = decode(topic, topics.encode(1000, 0, [topics.metric("bdSeq", 1)]))
    again = decode(topic, topics.encode(1000, 0, [topics.metric("bdSeq", 1)]))
    second = decode(topic, topics.encode(1000, 0, [topics.metric("bdSeq", 2)]))
    assert first.identity == again.identity != second.identity


def test_births_and_deaths_of_a_gateway_the_registry_does_not_know_change_nothing(store):
    """On a broker without ACLs anyone may publish as any gateway: invented names are refused,
    so the births table holds only the registry's gateways however many names arrive."""
    all_born(store, 1)
    invented = [node("NBIRTH", 0, gateway=f"gw-x{i}") for i in range(50)]
    assert store.run(*invented) == ["refused"] * 50
    assert store.run(node("NDEATH", 0, gateway="gw-x0")) == ["refused"]
    rows = store.con.execute("SELECT gateway FROM gateway_births ORDER BY gateway").fetchall()
    assert [r[0] for r in rows] == ["gw-a", "gw-b"]
    assert store.online() == {"CNC-01": True, "CNC-02": True, "CNC-03": True}
