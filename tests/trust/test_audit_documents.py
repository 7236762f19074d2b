"""A document (e.g. the daily report) attached to a day is covered by that day's one anchor.

Real anvil, embedded IPFS, real warehouse: the document's CID becomes a record of the snapshot,
provable against the anchored root by the contract's ``verifyRecord``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path

import pytest

from dt_platform.config import Settings
from dt_platform.trust.anvil import throwaway_anvil
from dt_platform.trust.audit import ANCHORED, audit_partition, prove_record, verify_partition
from dt_platform.trust.chain import AuditChain, deploy
from dt_platform.trust.ipfs import EmbeddedIpfs
from dt_platform.trust.snapshot import (
    SnapshotError,
    attach_document,
    attached_documents,
    covering_day,
)
from dt_platform.warehouse import Warehouse
from tests.trust.audit_fixtures import DAY, day_start, insert_telemetry, telemetry_rows

REPORT = b"<html><body><h1>Daily report 2026-11-19</h1></body></html>\n"
NAME = "daily_report/2026-11-19.html"


@pytest.mark.integration
def test_an_attached_report_is_a_record_of_the_anchored_day(tmp_path: Path) -> None:
    with throwaway_anvil(log_path=tmp_path / "anvil.log") as node:
        settings = Settings(home=tmp_path, chain_port=node.port)
        deploy(settings)
        ipfs = EmbeddedIpfs(settings.ipfs_dir)
        report_cid = ipfs.add_bytes(REPORT)
        assert ipfs.cat(report_cid) == REPORT
        warehouse = Warehouse(settings.warehouse_path)
        with warehouse.write() as con:
            insert_telemetry(con, telemetry_rows(DAY))
            insert_telemetry(con, telemetry_rows(DAY + dt.timedelta(days=1)))
            attach_document(
                con,
                DAY,
                NAME,
                report_cid,
                sha256=hashlib.sha256(REPORT).hexdigest(),
                size_bytes=len(REPORT),
                media_type="text/html",
            )
            now = day_start(DAY) + dt.timedelta(days=2)

            def audit(day: dt.date):
                return audit_partition(
                    con,
                    ipfs,
                    lambda: AuditChain.connect(settings),
                    day,
                    snapshots_dir=tmp_path / "snapshots",
                    now=now,
                    code_version="0.1.0+src.test",
                )

            with_doc, without = audit(DAY), audit(DAY + dt.timedelta(days=1))
            assert with_doc.status == ANCHORED and without.status == ANCHORED
            manifest = json.loads((Path(with_doc.snapshot_dir) / "manifest.json").read_text())
            assert manifest["sources"]["published_documents"]["rows"] == 1
            other = json.loads((Path(without.snapshot_dir) / "manifest.json").read_text())
            assert "published_documents" not in other["sources"]
            assert "published_documents" not in other["skipped_sources"]

            chain = AuditChain.connect(settings)
            proof = prove_record(con, ipfs, chain, DAY, "published_documents", {"name": NAME})
            assert proof.verified_on_chain is True and proof.matches_warehouse
            record = json.loads(proof.record)
            assert (
                record["cid"] == report_cid
                and record["sha256"] == hashlib.sha256(REPORT).hexdigest()
            )
            tampered = proof.record.replace(report_cid.encode(), b"bafkreiforged")
            assert not chain.verify_record(DAY.isoformat(), 1, tampered, proof.proof)
            assert verify_partition(con, ipfs, chain, DAY).ok
            assert attached_documents(con, DAY)[0]["cid"] == report_cid


def test_attach_document_refuses_bad_arguments(tmp_path: Path) -> None:
    warehouse = Warehouse(tmp_path / "w.duckdb")
    with warehouse.write() as con, pytest.raises(SnapshotError) as err:
        attach_document(
            con, DAY, "../etc/passwd", "bafy cid", sha256="XYZ", size_bytes=-1, media_type="html"
        )
    message = str(err.value)
    for part in ("name '../etc/passwd'", "cid 'bafy cid'", "sha256 'XYZ'", "size_bytes -1"):
        assert part in message
    assert "media_type 'html'" in message
    with warehouse.read() as con:
        assert attached_documents(con, DAY) == []


def test_a_report_showing_its_days_anchor_is_covered_by_the_next_day() -> None:
    assert covering_day(dt.date(2026, 11, 19)) == dt.date(2026, 11, 20)
