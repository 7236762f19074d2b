"""The report is covered by one anchor: published to IPFS, attached to the next day's snapshot,
anchored in that day's one transaction and provable by the contract; a report rebuilt after
that day was built goes to the first day not built yet, leaving the anchored day untouched.

Real anvil, embedded IPFS, real warehouse.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path

import pytest

from dt_platform.config import Settings
from dt_platform.report import produce_report
from dt_platform.trust.anvil import throwaway_anvil
from dt_platform.trust.audit import ANCHORED, audit_partition, prove_record, verify_partition
from dt_platform.trust.chain import AuditChain, deploy
from dt_platform.trust.ipfs import EmbeddedIpfs
from dt_platform.trust.snapshot import attached_documents
from dt_platform.warehouse import Warehouse
from tests.trust.audit_fixtures import DAY, day_start, insert_telemetry, telemetry_rows

pytestmark = pytest.mark.integration
NEXT, AFTER = DAY + dt.timedelta(days=1), DAY + dt.timedelta(days=2)


def test_the_report_is_anchored_by_the_next_day_and_provable(tmp_path: Path) -> None:
    with throwaway_anvil(log_path=tmp_path / "anvil.log") as node:
        settings = Settings(home=tmp_path, chain_port=node.port)
        deploy(settings)
        ipfs = EmbeddedIpfs(settings.ipfs_dir)
        chain = AuditChain.connect(settings)
        with Warehouse(settings.warehouse_path).write() as con:
            for day in (DAY, NEXT, AFTER):
                insert_telemetry(con, telemetry_rows(day))

            def audit(day: dt.date):
                return audit_partition(
                    con, ipfs, lambda: AuditChain.connect(settings), day,
                    snapshots_dir=tmp_path / "snapshots", now=day_start(day + dt.timedelta(days=1)),
                    code_version="0.1.0+src.test",
                )  # fmt: skip

            own = audit(DAY)
            assert own.status == ANCHORED
            run = produce_report(
                con, settings.twin_db_path, ipfs, DAY, settings.reports_dir,
                now=day_start(NEXT) + dt.timedelta(hours=1, minutes=30),
            )  # fmt: skip
            assert run.covering_day == NEXT.isoformat()
            html = Path(run.file("html").path).read_bytes()
            # the report shows its own day's anchor ...
            for shown in (own.root, own.cid, own.tx_hash):
                assert shown.encode() in html
            assert Path(run.folder) == settings.reports_dir / DAY.isoformat()
            # ... so the next day's one anchor covers it, HTML and PDF
            covering = audit(NEXT)
            assert covering.status == ANCHORED
            manifest = json.loads((Path(covering.snapshot_dir) / "manifest.json").read_text())
            assert manifest["sources"]["published_documents"]["rows"] == len(run.files) == 2
            for f in run.files:
                proof = prove_record(
                    con, ipfs, chain, NEXT, "published_documents", {"name": f.name}
                )
                assert proof.verified_on_chain is True and proof.matches_warehouse
                record = json.loads(proof.record)
                data = ipfs.cat(record["cid"])
                assert record["cid"] == f.cid and data == Path(f.path).read_bytes()
                assert record["sha256"] == hashlib.sha256(data).hexdigest() == f.sha256
                assert record["media_type"] == f.media_type
            assert f"daily_report/{DAY}.html" in {d["name"] for d in attached_documents(con, NEXT)}

            # rebuilt unchanged once the next day is built: the anchored files stay as they are
            same = produce_report(
                con, settings.twin_db_path, ipfs, DAY, settings.reports_dir,
                now=day_start(NEXT) + dt.timedelta(hours=8),
            )  # fmt: skip
            assert same.unchanged and same.covering_day == NEXT.isoformat()
            assert same.files == run.files and same.generated_at == run.generated_at
            assert Path(run.file("html").path).read_bytes() == html
            assert attached_documents(con, AFTER) == []
            # rebuilt with a late hour of readings: the first day not built yet covers it
            insert_telemetry(con, telemetry_rows(DAY, hours=1, seed=8))
            again = produce_report(
                con, settings.twin_db_path, ipfs, DAY, settings.reports_dir,
                now=day_start(NEXT) + dt.timedelta(hours=9),
            )  # fmt: skip
            assert not again.unchanged and again.covering_day == AFTER.isoformat()
            assert verify_partition(con, ipfs, chain, NEXT).ok  # the anchored day is unchanged
            later = {d["name"]: d["cid"] for d in attached_documents(con, AFTER)}
            assert later[f"daily_report/{DAY}.html"] == again.file("html").cid
            assert audit(AFTER).status == ANCHORED
