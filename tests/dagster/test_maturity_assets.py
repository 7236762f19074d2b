"""The twin_maturity asset on a small warehouse, a real twin store, the embedded IPFS store and a
throwaway anvil: a change of level is recorded on chain once, a re-run sends nothing, an outage
leaves the change pending until the next run, and an older day never overrides a newer one."""

from __future__ import annotations

import datetime as dt
import json
import socket

import dagster as dg
import pytest

from assets import maturity
from assets.resources import platform_resources
from dt_platform.config import Settings
from dt_platform.phm import tables
from dt_platform.trust.anvil import throwaway_anvil
from dt_platform.trust.chain import AuditChain, deploy
from dt_platform.trust.ipfs import EmbeddedIpfs
from dt_platform.twin import db
from dt_platform.twin.command_store import open_commands
from dt_platform.warehouse import Warehouse
from tests.trust.audit_fixtures import load_file
from tests.twin.test_maturity_evidence import DAY, T0, _command, _decisions, _rows

pytestmark = pytest.mark.integration


def _dead_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def platform(tmp_path_factory):
    home = tmp_path_factory.mktemp("home")
    settings = Settings(home=home)
    with Warehouse(settings.warehouse_path).write() as con:
        load_file(con, "gw-opcua/a.csv", _rows("CNC-01", "cnc_spindle", "rpm", 2), T0)
        load_file(con, "stream/seg-1.jsonl", _rows("CNC-01", "cnc_spindle", "load_pct", 1), T0)
        load_file(con, "gw-opcua/b.csv", _rows("SMT-01", "smt_placer", "vacuum_kpa", 2), T0)
        load_file(con, "oven-by-hand.csv", _rows("OVEN-01", "reflow_oven", "fan_rpm", 2), T0)
        con.execute(
            "UPDATE file_ledger SET gateway = split_part(path, '/', 1) WHERE path LIKE '%/%'"
        )
        tables.ensure_table(con, "rul_predictions")
        con.execute(
            "INSERT INTO rul_predictions (day, machine_id, ts) VALUES (?, 'CNC-01', ?)", [DAY, T0]
        )
    twin = open_commands(db.connect(settings.twin_db_path))
    applied = _command(twin, "CNC-01", "applied", None, T0)
    twin.close()
    with throwaway_anvil() as node:
        chain_settings = Settings(home=home, chain_port=node.port)
        deploy(chain_settings)
        yield chain_settings, applied


def _run(settings: Settings, day: dt.date = DAY) -> dg.ExecuteInProcessResult:
    result = dg.materialize(
        [maturity.twin_maturity],
        partition_key=day.isoformat(),
        resources=platform_resources(settings),
    )
    assert result.success
    return result


def _meta(result: dg.ExecuteInProcessResult) -> dict:
    (mat,) = result.asset_materializations_for_node("twin_maturity")
    return {k: v.value for k, v in mat.metadata.items()}


def _on_chain(settings: Settings) -> dict[str, tuple[int, str]]:
    chain = AuditChain.connect(settings, read_only=True)
    return {t.twin_id: (t.maturity, t.metadata_cid) for t in chain.twins()}


def test_levels_are_recorded_on_chain_once_and_follow_the_evidence(platform) -> None:
    settings, applied = platform
    chain = AuditChain.connect(settings, read_only=True)
    first = _run(settings)
    meta = _meta(first)
    assert (
        meta["machines"] == 3 and meta["recorded_on_chain"] == 3 and meta["pending_on_chain"] == 0
    )
    assert (meta["level_1_digital_model"], meta["level_2_digital_shadow"]) == (1, 1)
    assert meta["level_3_digital_twin"] == 1 and meta["level_4_intelligent_twin"] == 0
    (check,) = first.get_asset_check_evaluations()
    assert check.check_name == "levels_on_chain" and check.passed
    twins = _on_chain(settings)
    assert {k: v[0] for k, v in twins.items()} == {"CNC-01": 3, "SMT-01": 2, "OVEN-01": 1}
    assert chain.get_twin("CNC-01").machine_type == "cnc_spindle"
    # the CID on chain is the evidence the warehouse holds, byte for byte, with its sha256
    with Warehouse(settings.warehouse_path).read() as con:
        evidence, sha = con.execute(
            "SELECT evidence, evidence_sha256 FROM twin_maturity WHERE machine_id = 'CNC-01'"
        ).fetchone()
    published = EmbeddedIpfs(settings.ipfs_dir).cat(twins["CNC-01"][1])
    assert published.decode() == evidence and json.loads(evidence)["level"] == 3
    assert len(sha) == 64

    # Nothing changed: no transaction.
    block = chain.block_number()
    again = _meta(_run(settings))
    assert again["recorded_on_chain"] == 0 and chain.block_number() == block

    # A decision acted on: CNC-01 becomes an intelligent twin, one transaction.
    with Warehouse(settings.warehouse_path).write() as con:
        _decisions(con, applied)
    up = _meta(_run(settings))
    assert up["recorded_on_chain"] == 1 and up["level_4_intelligent_twin"] == 1
    assert chain.block_number() == block + 1
    level, cid = _on_chain(settings)["CNC-01"]
    assert level == 4 and json.loads(EmbeddedIpfs(settings.ipfs_dir).cat(cid))["level"] == 4

    # An older day (nothing then) is written but does not move the chain back.
    older = _meta(_run(settings, DAY - dt.timedelta(days=20)))
    assert older["level_1_digital_model"] == 3 and older["recorded_on_chain"] == 0
    assert chain.block_number() == block + 1


def test_a_chain_outage_leaves_the_change_pending_until_the_next_run(platform) -> None:
    settings, _ = platform
    _run(settings)  # the chain holds every level (whatever ran before)
    with Warehouse(settings.warehouse_path).write() as con:
        con.execute("DROP TABLE IF EXISTS decisions")  # CNC-01 falls back to level 3
    before = _on_chain(settings)["CNC-01"]
    down = Settings(home=settings.home, chain_port=_dead_port())
    result = _run(down)
    meta = _meta(result)
    assert meta["pending_on_chain"] == 3 and meta["recorded_on_chain"] == 0
    (check,) = result.get_asset_check_evaluations()
    assert not check.passed and check.severity == dg.AssetCheckSeverity.WARN
    assert "the next run records them" in check.metadata["detail"].value
    assert _on_chain(settings)["CNC-01"] == before  # the chain still says what it said
    with Warehouse(settings.warehouse_path).read() as con:
        (level,) = con.execute(
            "SELECT level FROM twin_maturity WHERE day = ? AND machine_id = 'CNC-01'", [DAY]
        ).fetchone()
    assert level == 3  # the table is written all the same

    back = _meta(_run(settings))
    assert back["recorded_on_chain"] == 1 and back["pending_on_chain"] == 0
    assert _on_chain(settings)["CNC-01"][0] == 3
