"""Audit snapshots end to end on a real anvil: build → publish → anchor → verify → prove.

One anvil and one deployment for the module; the warehouse is a real DuckDB file written through
``Warehouse.write()`` with small synthetic telemetry in the real schema.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import random
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from dt_platform.config import Settings
from dt_platform.ingest.telemetry import build_telemetry_day
from dt_platform.trust.anvil import Anvil, throwaway_anvil
from dt_platform.trust.audit import (
    ANCHORED,
    AWAITING_REASON,
    UNCHANGED,
    AuditResult,
    NotAnchored,
    RecordNotFound,
    VerificationReport,
    anchor_key,
    audit_history,
    audit_partition,
    process_pending,
    prove_record,
    verify_partition,
)
from dt_platform.trust.audit_cli import prove, verify
from dt_platform.trust.chain import AuditChain, deploy
from dt_platform.trust.ipfs import EmbeddedIpfs
from dt_platform.trust.merkle import verify_proof
from dt_platform.trust.snapshot import PARQUET_OPTIONS
from dt_platform.warehouse import Warehouse
from tests.trust.audit_fixtures import (
    DAY,
    add_loaded_file,
    create_rul_predictions,
    day_start,
    free_port,
    hour_of,
    insert_telemetry,
    load_file,
    only_hash_cid,
    telemetry_rows,
)

pytestmark = pytest.mark.integration

T0 = day_start(DAY) + dt.timedelta(days=1, hours=1)


@dataclass(frozen=True)
class Env:
    node: Anvil
    settings: Settings
    warehouse: Warehouse
    ipfs: EmbeddedIpfs
    snapshots: Path

    def chain(self) -> AuditChain:
        return AuditChain.connect(self.settings)

    def audit(self, day: dt.date, now: dt.datetime = T0, **kwargs: Any) -> AuditResult:
        kwargs.setdefault("code_version", "0.1.0+src.test")
        with self.warehouse.write() as con:
            return audit_partition(
                con, self.ipfs, self.chain, day, snapshots_dir=self.snapshots, now=now, **kwargs
            )

    def cli_env(self, **overrides: str) -> dict[str, str]:
        env = {
            "DT_HOME": str(self.settings.home),
            "DT_CHAIN_PORT": str(self.settings.chain_port),
            "DT_CHAIN_RPC": "",
            "DT_CHAIN_KEY": "",
            "DT_IPFS_API": "",
        }
        return env | overrides


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    home = tmp_path_factory.mktemp("audit_home")
    with throwaway_anvil(log_path=home / "anvil.log") as node:
        settings = Settings(home=home, chain_port=node.port)
        deploy(settings)
        warehouse = Warehouse(settings.warehouse_path)
        with warehouse.write() as con:
            insert_telemetry(con, telemetry_rows(DAY))
            create_rul_predictions(con, DAY)
            add_loaded_file(con, "landing/gw/day.csv", [DAY], day_start(DAY) + dt.timedelta(days=1))
        yield Env(node, settings, warehouse, EmbeddedIpfs(settings.ipfs_dir), home / "snapshots")


@pytest.fixture(scope="module")
def anchored(env: Env) -> AuditResult:
    return env.audit(DAY, model_version="xgb-3f2a")


DIGEST_KEY = {"machine_id": "SMT-01", "sensor": "vacuum_kpa", "hour": "2026-11-20T13:00:00Z"}


def test_end_to_end(env: Env, anchored: AuditResult, tmp_path: Path) -> None:
    r = anchored
    assert r.status == ANCHORED and r.version == 1 and not r.already_anchored and not r.error
    assert r.partition == r.anchor_key == "2026-11-20" == anchor_key(DAY)
    assert r.record_count == 3 * 2 * 24 + 6
    assert r.tx_hash and r.tx_hash.startswith("0x") and r.gas_used and r.gas_used > 21_000
    assert r.cid and r.cid.startswith("bafy")
    folder = Path(r.snapshot_dir)
    assert folder.parent == env.snapshots / "2026-11-20" and (folder / "manifest.json").is_file()
    assert only_hash_cid(folder, tmp_path) == r.cid  # CIDv1 of exactly that folder
    assert r.cid in env.ipfs.pins()
    assert json.loads(env.ipfs.cat(f"{r.cid}/manifest.json"))["root"] == r.root
    assert {"cid", "root", "tx_hash", "gas_used", "status", "version"} <= set(r.metadata())

    chain = env.chain()
    latest = chain.latest_anchor("2026-11-20")
    assert latest is not None and latest.version == 1 and latest.reason == ""
    assert ("0x" + latest.root.hex(), latest.cid, latest.record_count) == (
        r.root,
        r.cid,
        r.record_count,
    )
    assert [h.status for h in audit_history_of(env, DAY)] == [ANCHORED]

    with env.warehouse.read() as con:
        report = verify_partition(con, env.ipfs, chain, DAY)
        assert report.ok, report.render()
        assert report.warehouse_root == report.snapshot_root == report.anchored_root == r.root
        assert report.code_version == "0.1.0+src.test" and report.version == 1

        proof = prove_record(con, env.ipfs, chain, DAY, "telemetry_digest", DIGEST_KEY)
        assert (
            proof.verified_on_chain is True and proof.verified_locally and proof.matches_warehouse
        )
        assert proof.origin == "warehouse" and proof.version == 1 and proof.cid == r.cid
        assert proof.key == {**DIGEST_KEY, "hour": "2026-11-20T13:00:00.000000Z"}
        record = json.loads(proof.record)
        assert record["source"] == "telemetry_digest" and record["sensor"] == "vacuum_kpa"
        assert record["readings"] == 6

        rul = prove_record(
            con, env.ipfs, chain, DAY, "rul_predictions",
            {"machine_id": "OVEN-01", "ts": dt.datetime(2026, 11, 20, 18, tzinfo=dt.UTC)},
        )  # fmt: skip
        assert (
            rul.verified_on_chain is True and json.loads(rul.record)["model_version"] == "xgb-3f2a"
        )

    # A tampered record, or a tampered proof, is refused by the contract view.
    tampered = proof.record.replace(b'"readings":6', b'"readings":7')
    assert tampered != proof.record
    assert chain.verify_record("2026-11-20", 1, tampered, proof.proof) is False
    bad_path = [proof.proof[0][:-1] + bytes([proof.proof[0][-1] ^ 1]), *proof.proof[1:]]
    assert chain.verify_record("2026-11-20", 1, proof.record, bad_path) is False
    assert not verify_proof(proof.root, proof.leaf, bad_path)
    assert chain.verify_record("2026-11-20", 1, proof.record, proof.proof) is True


def audit_history_of(env: Env, day: dt.date) -> list[AuditResult]:
    with env.warehouse.write() as con:
        return audit_history(con, day)


def test_auditing_the_same_data_again_sends_nothing(env: Env, anchored: AuditResult) -> None:
    block = env.chain().block_number()
    again = env.audit(DAY, now=T0 + dt.timedelta(hours=5), model_version="xgb-3f2a")
    assert again.status == UNCHANGED and again.version == 1 and again.cid == anchored.cid
    # Only the code version differs: same records, so still nothing to anchor.
    other_code = env.audit(DAY, now=T0 + dt.timedelta(hours=6), code_version="0.2.0+src.other")
    assert other_code.status == UNCHANGED
    assert env.chain().block_number() == block and env.chain().version_count("2026-11-20") == 1
    with env.warehouse.write() as con:
        assert process_pending(con, env.ipfs, env.chain) == []
    assert sorted(p.name for p in (env.snapshots / "2026-11-20").iterdir()) == [
        Path(anchored.snapshot_dir).name
    ]


def _digest_key(machine_id: str, sensor: str, ts: dt.datetime) -> dict[str, str]:
    return {"machine_id": machine_id, "sensor": sensor, "hour": hour_of(ts)}


def test_random_single_row_tampers_are_each_named(env: Env, anchored: AuditResult) -> None:
    chain = env.chain()
    rng = random.Random(2026)
    with env.warehouse.write() as con:
        rows = con.execute(
            "SELECT rowid, machine_id, sensor, ts, value FROM telemetry WHERE day = ?", [DAY]
        ).fetchall()
        for n, (rowid, machine_id, sensor, ts, value) in enumerate(rng.sample(rows, 32)):
            new = math.nextafter(value, math.inf) if n % 4 == 0 else value + rng.uniform(-5, 5)
            con.execute("BEGIN")
            con.execute("UPDATE telemetry SET value = ? WHERE rowid = ?", [new, rowid])
            report = verify_partition(con, env.ipfs, chain, DAY)
            con.execute("ROLLBACK")
            assert not report.ok and report.problem_codes() == ["warehouse_mismatch"]
            assert len(report.differences) == 1, report.render()
            diff = report.differences[0]
            assert (diff.source, diff.kind) == ("telemetry_digest", "changed")
            assert diff.key == _digest_key(machine_id, sensor, ts)
            fields = {f.field: f for f in diff.fields}
            assert "readings_sha256" in fields
            assert fields["readings_sha256"].warehouse != fields["readings_sha256"].snapshot
            for extreme in ("max_value", "min_value"):
                if extreme in fields:  # the new value became the extreme, or the old one was it
                    assert new == fields[extreme].warehouse or value == fields[extreme].snapshot
        assert verify_partition(con, env.ipfs, chain, DAY).ok


def test_deleted_and_added_rows_and_predictions_are_named(env: Env, anchored: AuditResult) -> None:
    chain = env.chain()
    with env.warehouse.write() as con:
        rowid, machine_id, sensor, ts = con.execute(
            "SELECT rowid, machine_id, sensor, ts FROM telemetry WHERE day = ? AND machine_id = "
            "'CNC-01' ORDER BY ts LIMIT 1 OFFSET 40",
            [DAY],
        ).fetchone()
        key = _digest_key(machine_id, sensor, ts)

        con.execute("BEGIN")  # one row deleted: its hour's record changes (6 → 5 readings)
        con.execute("DELETE FROM telemetry WHERE rowid = ?", [rowid])
        report = verify_partition(con, env.ipfs, chain, DAY)
        con.execute("ROLLBACK")
        [diff] = report.differences
        assert (diff.kind, diff.key) == ("changed", key)
        readings = next(f for f in diff.fields if f.field == "readings")
        assert (readings.warehouse, readings.snapshot) == (5, 6)

        con.execute("BEGIN")  # every reading of that hour deleted: the record is gone
        con.execute(
            "DELETE FROM telemetry WHERE machine_id = ? AND sensor = ? AND "
            "date_trunc('hour', ts) = date_trunc('hour', ?::TIMESTAMPTZ)",
            [machine_id, sensor, ts],
        )
        report = verify_partition(con, env.ipfs, chain, DAY)
        con.execute("ROLLBACK")
        assert [(d.kind, d.key) for d in report.differences] == [("removed", key)]
        assert "missing from the warehouse" in report.render()

        con.execute("BEGIN")  # a reading of a sensor the snapshot never had
        con.execute(
            "INSERT INTO telemetry VALUES (?, 'SMT-01', 'smt_placer', 'placement_offset_um', ?, "
            "12.5, 'ok')",
            [DAY, day_start(DAY) + dt.timedelta(hours=3, minutes=7)],
        )
        report = verify_partition(con, env.ipfs, chain, DAY)
        con.execute("ROLLBACK")
        assert [(d.source, d.kind, d.key) for d in report.differences] == [
            (
                "telemetry_digest",
                "added",
                {
                    "machine_id": "SMT-01",
                    "sensor": "placement_offset_um",
                    "hour": "2026-11-20T03:00:00.000000Z",
                },
            )
        ]

        con.execute("BEGIN")  # a prediction edited after anchoring
        con.execute(
            "UPDATE rul_predictions SET rul_hours = 1.0 WHERE machine_id = 'SMT-01' AND "
            "ts = ?::TIMESTAMPTZ",
            [day_start(DAY) + dt.timedelta(hours=6)],
        )
        report = verify_partition(con, env.ipfs, chain, DAY)
        con.execute("ROLLBACK")
        [diff] = report.differences
        assert diff.source == "rul_predictions" and diff.kind == "changed"
        assert diff.key == {"machine_id": "SMT-01", "ts": "2026-11-20T06:00:00.000000Z"}
        assert [(f.field, f.warehouse, f.snapshot) for f in diff.fields] == [
            ("rul_hours", 1.0, 999.4)
        ]
        assert verify_partition(con, env.ipfs, chain, DAY).ok


DAY_T = dt.date(2026, 11, 22)


def test_tampered_snapshots_and_missing_cids_are_reported(env: Env, tmp_path: Path) -> None:
    with env.warehouse.write() as con:
        insert_telemetry(con, telemetry_rows(DAY_T, per_hour=2, hours=4, seed=9))
    good = env.audit(DAY_T, now=T0)
    assert good.status == ANCHORED
    operator = env.chain()
    root = bytes.fromhex(good.root[2:])
    key = anchor_key(DAY_T)

    def republish(mutate) -> str:
        folder = tmp_path / f"copy{len(list(tmp_path.iterdir()))}"
        shutil.copytree(good.snapshot_dir, folder)
        mutate(folder)
        cid = env.ipfs.add_path(folder, cid_version=1, pin=True)
        operator.anchor(key, root, cid, good.record_count, reason="test: replace the snapshot")
        return cid

    def check() -> VerificationReport:
        with env.warehouse.read() as con:
            return verify_partition(con, env.ipfs, operator, DAY_T)

    # 1. The manifest lies about a row count.
    def lie_about_rows(folder: Path) -> None:
        manifest = json.loads((folder / "manifest.json").read_text())
        manifest["sources"]["telemetry_digest"]["rows"] += 1
        (folder / "manifest.json").write_text(json.dumps(manifest))

    republish(lie_about_rows)
    report = check()
    assert report.problem_codes() == ["manifest_mismatch"] and report.differences == []
    assert "holds 24 rows, the manifest says 25" in report.problems[0].message

    # 2. One record of the Parquet file changed, manifest hashes updated to match: only the root
    #    betrays it, and the record is named with both values.
    def change_a_record(folder: Path) -> None:
        path = folder / "telemetry_digest.parquet"
        table = pq.read_table(path)
        means = table.column("mean_value").to_pylist()
        means[5] += 1.0
        table = table.set_column(
            table.schema.get_field_index("mean_value"), "mean_value", pa.array(means)
        )
        pq.write_table(table, path, **PARQUET_OPTIONS)
        manifest = json.loads((folder / "manifest.json").read_text())
        manifest["sources"]["telemetry_digest"]["sha256"] = hashlib.sha256(
            path.read_bytes()
        ).hexdigest()
        (folder / "manifest.json").write_text(json.dumps(manifest))

    republish(change_a_record)
    report = check()
    assert report.problem_codes() == ["snapshot_mismatch"]
    [diff] = report.differences
    [field] = diff.fields
    assert field.field == "mean_value" and field.snapshot == field.warehouse + 1.0

    # 3. A file replaced without updating the manifest.
    def corrupt_file(folder: Path) -> None:
        change_a_record(folder)
        manifest = json.loads((folder / "manifest.json").read_text())
        manifest["sources"]["telemetry_digest"]["sha256"] = "0" * 64
        (folder / "manifest.json").write_text(json.dumps(manifest))

    republish(corrupt_file)
    assert check().problem_codes() == ["file_tampered", "snapshot_mismatch"]

    # 4. An anchored CID that nobody can serve.
    ghost = tmp_path / "ghost"
    ghost.mkdir()
    (ghost / "manifest.json").write_text("{}")
    missing = only_hash_cid(ghost, tmp_path)
    operator.anchor(key, root, missing, good.record_count, reason="test: unreachable CID")
    report = check()
    assert report.problem_codes() == ["snapshot_unavailable"]
    assert missing in report.problems[0].message
    assert report.warehouse_root == report.anchored_root  # the warehouse itself still matches

    # The first version still verifies, and versions that do not exist are refused.
    with env.warehouse.read() as con:
        assert verify_partition(con, env.ipfs, operator, DAY_T, version=1).ok
        assert verify_partition(con, env.ipfs, operator, DAY_T, version=9).problem_codes() == [
            "not_anchored"
        ]
        assert verify_partition(con, env.ipfs, operator, dt.date(2030, 1, 1)).problem_codes() == [
            "not_anchored"
        ]
        with pytest.raises(NotAnchored):
            prove_record(con, env.ipfs, operator, dt.date(2030, 1, 1), "telemetry_digest", {})


DAY_R = dt.date(2026, 11, 21)


@pytest.mark.slow
def test_a_rebuilt_day_becomes_a_new_version_with_a_reason(env: Env) -> None:
    t0 = day_start(DAY_R) + dt.timedelta(days=1, hours=1)
    rows = telemetry_rows(DAY_R, per_hour=2, hours=24, seed=21)
    with env.warehouse.write() as con:
        load_file(
            con, "gw/early.csv", [r for r in rows if r[4].hour < 20], t0 - dt.timedelta(hours=2)
        )
        build_telemetry_day(con, DAY_R)
    first = env.audit(DAY_R, now=t0)
    assert (first.status, first.version, first.reason) == (ANCHORED, 1, None)

    # A gateway delivers the last hours late: the new version names the file.
    with env.warehouse.write() as con:
        late = load_file(
            con, "gw/late.csv", [r for r in rows if r[4].hour >= 20], t0 + dt.timedelta(hours=2)
        )
        (sha,) = con.execute("SELECT sha256 FROM file_ledger WHERE file_id = ?", [late]).fetchone()
        build_telemetry_day(con, DAY_R)
    second = env.audit(DAY_R, now=t0 + dt.timedelta(hours=3))
    assert second.status == ANCHORED and second.version == 2
    assert second.reason == (
        f"late or corrected data since version 1: gw/late.csv (file {late}, sha256 {sha[:8]}, "
        "48 readings)"
    )
    assert second.root != first.root and second.record_count == first.record_count + 6 * 4 + 1

    chain = env.chain()
    versions = chain.anchor_versions(anchor_key(DAY_R))
    assert [(v.version, v.reason) for v in versions] == [(1, ""), (2, second.reason)]
    assert [v.cid for v in versions] == [first.cid, second.cid]
    with env.warehouse.read() as con:
        assert verify_partition(con, env.ipfs, chain, DAY_R).ok
        old = verify_partition(con, env.ipfs, chain, DAY_R, version=1)
        assert {d.kind for d in old.differences} == {"added"} and len(old.differences) == 25
        assert {d.key.get("hour") for d in old.differences} == {
            *(f"2026-11-21T{h}:00:00.000000Z" for h in (20, 21, 22, 23)),
            None,  # the late file's own record
        }
        # A proof against version 1 comes from the anchored snapshot: the warehouse moved on.
        key = {"machine_id": "CNC-01", "sensor": "spindle_temp_c", "hour": "2026-11-21T05:00:00Z"}
        proof = prove_record(con, env.ipfs, chain, DAY_R, "telemetry_digest", key, version=1)
        assert proof.origin == "snapshot" and proof.version == 1 and proof.verified_on_chain
        assert proof.matches_warehouse  # that record did not change
        with pytest.raises(RecordNotFound, match="no telemetry_digest record"):
            prove_record(
                con,
                env.ipfs,
                chain,
                DAY_R,
                "telemetry_digest",
                {**key, "hour": "2026-11-21T21:00:00Z"},
                version=1,
            )

    # A correction without new files waits for an OPERATOR; an explicit reason anchors it.
    with env.warehouse.write() as con:
        con.execute(
            "UPDATE telemetry SET value = value * 2 WHERE day = ? AND machine_id = 'CNC-01'",
            [DAY_R],
        )
    third = env.audit(DAY_R, now=t0 + dt.timedelta(hours=4))
    assert (third.status, third.version, third.reason) == (AWAITING_REASON, None, None)
    assert (
        third.detail
        and "telemetry of 2026-11-21 is not what its loaded readings give" in third.detail
    )
    assert "dt-platform audit anchor --partition 2026-11-21" in third.detail
    assert chain.version_count(anchor_key(DAY_R)) == 2
    with env.warehouse.write() as con:
        assert process_pending(con, env.ipfs, env.chain) == []
    third = env.audit(
        DAY_R, now=t0 + dt.timedelta(hours=4), reason="CNC-01 rescaled by hand (ticket 41)"
    )
    assert (third.status, third.version, third.reason) == (
        ANCHORED,
        3,
        "CNC-01 rescaled by hand (ticket 41)",
    )
    with env.warehouse.write() as con:
        con.execute(
            "UPDATE telemetry SET value = value / 2 WHERE day = ? AND machine_id = 'CNC-01'",
            [DAY_R],
        )
    assert env.audit(DAY_R, now=t0 + dt.timedelta(hours=5)).status == AWAITING_REASON
    fourth = env.audit(
        DAY_R, now=t0 + dt.timedelta(hours=5), reason="revert unit error (ticket 42)"
    )
    assert (fourth.version, fourth.reason, fourth.root) == (
        4,
        "revert unit error (ticket 42)",
        second.root,
    )
    assert [h.version for h in audit_history_of(env, DAY_R)] == [1, 2, 3, 4]


# --- CLI ----------------------------------------------------------------------------------------


def test_cli_verify_and_prove(env: Env, anchored: AuditResult) -> None:
    runner = CliRunner()
    ok = runner.invoke(verify, ["--partition", "2026-11-20"], env=env.cli_env())
    assert ok.exit_code == 0, ok.output
    assert (
        ok.output.startswith("partition 2026-11-20: OK — version 1") and anchored.root in ok.output
    )
    as_json = runner.invoke(verify, ["--partition", "2026-11-20", "--json"], env=env.cli_env())
    assert as_json.exit_code == 0 and json.loads(as_json.output)["ok"] is True

    spec = "telemetry_digest:machine_id=SMT-01,sensor=vacuum_kpa,hour=2026-11-20T13:00:00Z"
    proved = runner.invoke(
        prove, ["--partition", "2026-11-20", "--record", spec], env=env.cli_env()
    )
    assert proved.exit_code == 0, proved.output
    data = json.loads(proved.output)
    assert (
        data["verified_on_chain"] is True and data["version"] == 1 and data["root"] == anchored.root
    )
    assert json.loads(data["record"])["sensor"] == "vacuum_kpa" and len(data["proof"]) >= 7

    # A committed tamper: verify fails and names the record, in text and JSON.
    with env.warehouse.write() as con:
        rowid, ts, value = con.execute(
            "SELECT rowid, ts, value FROM telemetry WHERE machine_id = 'OVEN-01' AND sensor = "
            "'heater_duty_pct' AND day = ? ORDER BY ts LIMIT 1 OFFSET 100",
            [DAY],
        ).fetchone()
        con.execute("UPDATE telemetry SET value = value + 0.5 WHERE rowid = ?", [rowid])
    try:
        bad = runner.invoke(verify, ["--partition", "2026-11-20"], env=env.cli_env())
        assert bad.exit_code == 1
        assert "MISMATCH" in bad.output and "1 differing record(s)" in bad.output
        assert (
            f"telemetry_digest [machine_id=OVEN-01, sensor=heater_duty_pct, hour={hour_of(ts)}]"
            in bad.output
        )
        report = json.loads(
            runner.invoke(verify, ["--partition", "2026-11-20", "--json"], env=env.cli_env()).output
        )
        assert report["ok"] is False
        assert report["differences"][0]["key"]["machine_id"] == "OVEN-01"
        # The proof of the changed record now comes from the snapshot and says it moved.
        moved = f"telemetry_digest:machine_id=OVEN-01,sensor=heater_duty_pct,hour={hour_of(ts)}"
        out = runner.invoke(
            prove, ["--partition", "2026-11-20", "--record", moved], env=env.cli_env()
        )
        assert out.exit_code == 0, out.output
        moved_proof = json.loads(out.output)
        assert moved_proof["origin"] == "snapshot" and moved_proof["matches_warehouse"] is False
    finally:
        with env.warehouse.write() as con:
            con.execute("UPDATE telemetry SET value = ? WHERE rowid = ?", [value, rowid])

    missing = runner.invoke(
        prove,
        [
            "--partition",
            "2026-11-20",
            "--record",
            "telemetry_digest:machine_id=NOPE,sensor=x,hour=2026-11-20T01:00:00Z",
        ],
        env=env.cli_env(),
    )
    assert (
        missing.exit_code == 1
        and "no telemetry_digest record with machine_id=NOPE" in missing.output
    )
    wrong_key = runner.invoke(
        prove,
        ["--partition", "2026-11-20", "--record", "telemetry_digest:machine_id=SMT-01"],
        env=env.cli_env(),
    )
    assert wrong_key.exit_code == 1 and "keyed by machine_id, sensor, hour" in wrong_key.output
    malformed = runner.invoke(
        prove, ["--partition", "2026-11-20", "--record", "nonsense"], env=env.cli_env()
    )
    assert malformed.exit_code == 2 and "expected SOURCE:key=value" in malformed.output
    unanchored = runner.invoke(verify, ["--partition", "2031-01-01"], env=env.cli_env())
    assert unanchored.exit_code == 1 and "NOT ANCHORED" in unanchored.output
    down = runner.invoke(
        verify, ["--partition", "2026-11-20"], env=env.cli_env(DT_CHAIN_PORT=str(free_port()))
    )
    assert down.exit_code == 3 and "unreachable" in down.output
