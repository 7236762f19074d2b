"""The ``daily_report`` asset on the hand-made day: files under DT_HOME/reports/<day>, both on
IPFS and attached to the next day, mailed to a local SMTP server (the ``report_mailed`` check);
a re-run mails nobody again; its sensor asks for yesterday's report once yesterday's snapshot
is built after midnight, or at the deadline; and the Definitions resolve its job."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
from pathlib import Path

import dagster as dg
import pytest

from assets.definitions import build_definitions
from assets.report import DEADLINE_H, daily_report, daily_report_sensor, report_due
from assets.resources import platform_resources
from dt_platform.config import load_settings
from dt_platform.trust.ipfs import EmbeddedIpfs
from dt_platform.trust.snapshot import attached_documents
from dt_platform.warehouse import Warehouse
from tests.report.report_fixtures import DAY, build_twin_store, build_warehouse
from tests.report.smtp_server import PASSWORD, USER, smtp_server

pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")


@pytest.mark.integration
def test_the_asset_writes_publishes_attaches_and_mails(tmp_path: Path) -> None:
    with Warehouse(tmp_path / "warehouse.duckdb").write() as con:
        build_warehouse(con)
    build_twin_store(tmp_path / "twin.sqlite")
    with smtp_server() as inbox:
        settings = load_settings(
            tmp_path,
            environ={
                "DT_SMTP_URL": f"smtp://127.0.0.1:{inbox.port}",
                "DT_SMTP_USER": USER,
                "DT_SMTP_PASSWORD": PASSWORD,
                "DT_REPORT_TO": "manager@plant.example.org",
            },
        )
        with pytest.MonkeyPatch.context() as env:  # the password is bound by variable name
            env.setenv("DT_SMTP_PASSWORD", PASSWORD)
            resources = platform_resources(settings)
            assert isinstance(resources["mail"].password, dg.EnvVar)
            result = dg.materialize(
                [daily_report], partition_key=DAY.isoformat(), resources=resources
            )
            # a re-run (retry, backfill) rebuilds the same report and mails nobody again
            again = dg.materialize(
                [daily_report], partition_key=DAY.isoformat(), resources=resources
            )
    assert result.success and again.success
    (recheck,) = again.get_asset_check_evaluations()
    assert recheck.passed
    assert recheck.metadata["detail"].value.startswith(
        "already sent to manager@plant.example.org at "
    )
    # meta: the re-run's, whose files are on disk now
    first, meta = (
        {
            k: v.value
            for k, v in r.asset_materializations_for_node("daily_report")[0].metadata.items()
        }
        for r in (result, again)
    )
    folder = tmp_path / "reports" / DAY.isoformat()
    assert meta["html_path"] == str(folder / "report.html")
    assert meta["pdf_path"] == str(folder / "report.pdf")
    assert meta["covering_day"] == (DAY + dt.timedelta(days=1)).isoformat()
    assert meta["html_bytes"] == (folder / "report.html").stat().st_size
    ipfs = EmbeddedIpfs(tmp_path / "ipfs")
    assert ipfs.cat(meta["pdf_cid"]) == (folder / "report.pdf").read_bytes()
    with Warehouse(tmp_path / "warehouse.duckdb").read() as con:
        documents = attached_documents(con, DAY + dt.timedelta(days=1))
    assert {d["cid"] for d in documents} == {meta["html_cid"], meta["pdf_cid"]}
    (check,) = result.get_asset_check_evaluations()
    assert check.check_name == "report_mailed" and check.passed
    (message,) = inbox.messages
    parsed = email.message_from_bytes(message[2], policy=email.policy.default)
    assert [a.get_content_type() for a in parsed.iter_attachments()] == ["application/pdf"]
    assert first["mail"] == "sent" and meta["mail"] == "already sent"


def test_report_due_after_the_days_snapshot_or_at_the_deadline() -> None:
    midnight = dt.datetime.combine(DAY + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)
    early = midnight + dt.timedelta(hours=1)
    assert not report_due(DAY, None, early)
    # a snapshot built while the day was running is not the day's close
    assert not report_due(DAY, midnight - dt.timedelta(hours=3), early)
    assert report_due(DAY, midnight + dt.timedelta(minutes=40), early)
    assert report_due(DAY, None, midnight + dt.timedelta(hours=DEADLINE_H))


def test_the_sensor_waits_for_yesterdays_snapshot() -> None:
    yesterday = (dt.datetime.now(dt.UTC) - dt.timedelta(days=1)).date().isoformat()
    with dg.instance_for_test() as instance:
        context = dg.build_sensor_context(instance=instance)
        waiting = daily_report_sensor(context)
        now = dt.datetime.now(dt.UTC)
        if now.hour < DEADLINE_H:  # before the deadline only the snapshot lets it run
            assert isinstance(waiting, dg.SkipReason)
        instance.report_runless_asset_event(
            dg.AssetMaterialization(asset_key="audit_snapshot", partition=yesterday)
        )
        request = daily_report_sensor(dg.build_sensor_context(instance=instance))
    assert isinstance(request, dg.RunRequest)
    assert request.partition_key == yesterday and request.run_key == f"daily-report-{yesterday}"


def test_the_definitions_hold_the_report_job_and_sensor(tmp_path: Path) -> None:
    defs = build_definitions(load_settings(tmp_path, environ={}))
    job = defs.resolve_job_def("daily_report_job")
    assert [n.name for n in job.nodes] == ["daily_report"]
    assert defs.resolve_sensor_def("daily_report_sensor").job_name == "daily_report_job"
