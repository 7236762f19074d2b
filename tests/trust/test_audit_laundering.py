"""No laundering: what a day was built from is anchored too, every version is verified, and a
rebuild becomes a new version by itself only when late or corrected files explain it.

One anvil and one deployment for the module; each test has its own day, built the way ingestion
builds it (files in the ledger, their readings, ``telemetry`` rebuilt from the readings).
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from dt_platform.config import Settings
from dt_platform.ingest.telemetry import build_telemetry_day
from dt_platform.trust.anvil import throwaway_anvil
from dt_platform.trust.audit import (
    ANCHORED,
    AWAITING_REASON,
    SUPERSEDED,
    UNCHANGED,
    AuditResult,
    DayVerification,
    Explanation,
    FileChange,
    audit_history,
    audit_partition,
    process_pending,
    prove_record,
    verify_versions,
)
from dt_platform.trust.audit_cli import verify
from dt_platform.trust.chain import AuditChain, deploy
from dt_platform.trust.ipfs import EmbeddedIpfs
from dt_platform.trust.snapshot import default_sources
from dt_platform.warehouse import Warehouse
from tests.trust.audit_fixtures import day_start, load_file, telemetry_rows

pytestmark = pytest.mark.integration


@dataclass(frozen=True)
class Env:
    settings: Settings
    warehouse: Warehouse
    ipfs: EmbeddedIpfs
    snapshots: Path

    def chain(self) -> AuditChain:
        return AuditChain.connect(self.settings)

    def audit(self, day: dt.date, **kwargs: Any) -> AuditResult:
        kwargs.setdefault("code_version", "0.1.0+src.laundering")
        with self.warehouse.write() as con:
            return audit_partition(
                con, self.ipfs, self.chain, day, snapshots_dir=self.snapshots, **kwargs
            )

    def verify(self, day: dt.date) -> DayVerification:
        with self.warehouse.read() as con:
            return verify_versions(con, self.ipfs, self.chain(), day)

    def sql(self, day: dt.date, *statements: str, rebuild: bool = True) -> None:
        """Run ``statements`` (``$day`` bound) and rebuild the day's telemetry from readings."""
        with self.warehouse.write() as con:
            for statement in statements:
                con.execute(statement, {"day": day} if "$day" in statement else {})
            if rebuild:
                build_telemetry_day(con, day)


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    home = tmp_path_factory.mktemp("laundering")
    with throwaway_anvil(log_path=home / "anvil.log") as node:
        settings = Settings(home=home, chain_port=node.port)
        deploy(settings)
        yield Env(settings, Warehouse(settings.warehouse_path), EmbeddedIpfs(settings.ipfs_dir),
                  home / "snapshots")  # fmt: skip


def load_day(env: Env, day: dt.date, seed: int) -> dict[str, int]:
    """Two gateways' files for hours 0-19 of ``day``, its telemetry, and version 1 anchored.
    Returns the file ids and, under ``late``, nothing yet: the late rows are :func:`late_rows`."""
    rows = [r for r in telemetry_rows(day, per_hour=2, seed=seed) if r[4].hour < 20]
    ingested = day_start(day) + dt.timedelta(days=1)
    with env.warehouse.write() as con:
        a = load_file(con, "gw0/day.csv", rows[0::2], ingested)
        b = load_file(con, "gw1/day.csv", rows[1::2], ingested)
        build_telemetry_day(con, day)
    first = env.audit(day)
    assert (first.status, first.version) == (ANCHORED, 1)
    return {"a": a, "b": b}


def late_rows(day: dt.date, seed: int) -> list[tuple]:
    return [r for r in telemetry_rows(day, per_hour=2, seed=seed) if r[4].hour >= 20]


def in_day(day: dt.date) -> str:
    return f"ts >= TIMESTAMPTZ '{day_start(day).isoformat()}'"


# --- verify names edits of what the day was built from -------------------------------------------


def test_edits_of_readings_or_the_ledger_are_named(env: Env) -> None:
    day = dt.date(2026, 10, 1)
    a = load_day(env, day, seed=1)["a"]
    first_of_a = f"(SELECT min(rowid) FROM readings WHERE file_id = {a} AND {in_day(day)})"
    key = {"file_id": str(a)}
    cases = [
        # (what, statement, rebuild telemetry, named source_files change, its fields)
        ("a raw reading", f"UPDATE readings SET value = -value WHERE rowid = {first_of_a}",
         False, "changed", {"readings_sha256"}),
        ("a raw reading, telemetry rebuilt",
         f"UPDATE readings SET value = -value WHERE rowid = {first_of_a}",
         True, "changed", {"readings_sha256"}),
        ("the ledger's hash of a file",
         f"UPDATE file_ledger SET sha256 = repeat('e', 64) WHERE file_id = {a}",
         False, "changed", {"file_sha256"}),
        ("a file marked superseded",
         f"UPDATE file_ledger SET status = 'superseded' WHERE file_id = {a}",
         True, "removed", set()),
    ]  # fmt: skip
    for what, statement, rebuild, kind, fields in cases:
        with env.warehouse.write() as con:
            con.execute("BEGIN")
            con.execute(statement)
            if rebuild:
                build_telemetry_day(con, day)
            report = verify_versions(con, env.ipfs, env.chain(), day)
            con.execute("ROLLBACK")
        assert not report.ok and report.latest.problem_codes() == ["warehouse_mismatch"], what
        named = [d for d in report.latest.differences if d.source == "source_files"]
        assert [(d.kind, d.key) for d in named] == [(kind, key)], what
        assert {f.field for f in named[0].fields} == fields, what
        telemetry = [d for d in report.latest.differences if d.source == "telemetry_digest"]
        assert bool(telemetry) == rebuild, what  # without a rebuild, only source_files tells
        assert f"source_files [file_id={a}]" in report.render(), what
    assert env.verify(day).ok


# --- a rebuild is anchored by itself only when files explain it ---------------------------------


def test_a_rebuild_no_file_explains_waits_for_an_operator(env: Env) -> None:
    day = dt.date(2026, 10, 2)
    files = load_day(env, day, seed=2)
    a, b = files["a"], files["b"]
    chain = env.chain()

    # Raw readings edited and telemetry rebuilt from them: consistent, but no file changed.
    env.sql(day, f"UPDATE readings SET value = -value WHERE file_id = {a} AND {in_day(day)}")
    edited = env.audit(day)
    assert (edited.status, edited.version, edited.reason) == (AWAITING_REASON, None, None)
    assert edited.detail is not None
    assert f"file {a} (gw0/day.csv) has other readings of the day" in edited.detail
    assert "no late or corrected file has readings in 2026-10-02" in edited.detail
    assert chain.version_count(day.isoformat()) == 1
    with env.warehouse.write() as con:
        assert process_pending(con, env.ipfs, env.chain) == []  # not retried, not sent
    # Undone: the records equal version 1 again and the waiting build is dropped.
    env.sql(day, f"UPDATE readings SET value = -value WHERE file_id = {a} AND {in_day(day)}")
    assert env.audit(day).status == UNCHANGED

    # A file dropped from the ledger (marked superseded with nothing replacing it).
    env.sql(day, f"UPDATE file_ledger SET status = 'superseded' WHERE file_id = {b}")
    dropped = env.audit(day)
    assert dropped.status == AWAITING_REASON and "no late or corrected file" in dropped.detail
    env.sql(day, f"UPDATE file_ledger SET status = 'loaded' WHERE file_id = {b}")

    # Telemetry edited directly, readings untouched: a value, and a quality flag.
    env.sql(
        day,
        "UPDATE telemetry SET value = value + 1 WHERE day = $day AND machine_id = 'SMT-01' AND "
        f"sensor = 'vacuum_kpa' AND {in_day(day)} AND ts < TIMESTAMPTZ "
        f"'{(day_start(day) + dt.timedelta(hours=1)).isoformat()}'",
        "UPDATE telemetry SET quality = 'stuck' WHERE day = $day AND machine_id = 'CNC-01'",
        rebuild=False,
    )
    direct = env.audit(day)
    assert direct.status == AWAITING_REASON and "no late or corrected file" in direct.detail
    assert "telemetry of 2026-10-02 is not what its loaded readings give" in direct.detail
    # The OPERATOR's explicit reason anchors exactly what waits.
    approved = env.audit(day, reason="SMT-01 flags set by hand after the audit of ticket 7")
    assert (approved.status, approved.version, approved.root) == (ANCHORED, 2, direct.root)
    with env.warehouse.read() as con:
        history = [(h.status, h.version) for h in audit_history(con, day)]
    assert history == [
        (ANCHORED, 1),
        (SUPERSEDED, None),  # readings edit, undone
        (SUPERSEDED, None),  # dropped file, undone
        (ANCHORED, 2),  # the telemetry edit, once its reason was given
    ]
    assert [a.reason for a in chain.anchor_versions(day.isoformat())] == [
        "",
        "SMT-01 flags set by hand after the audit of ticket 7",
    ]


def test_a_late_or_corrected_file_is_anchored_naming_it(env: Env) -> None:
    day = dt.date(2026, 10, 3)
    files = load_day(env, day, seed=3)
    a = files["a"]
    arrival = day_start(day) + dt.timedelta(days=1, hours=6)

    with env.warehouse.write() as con:
        late = load_file(con, "gw1/late.csv", late_rows(day, 3), arrival)
        build_telemetry_day(con, day)
    second = env.audit(day)
    assert (second.status, second.version) == (ANCHORED, 2)
    assert second.reason is not None and second.reason.startswith(
        f"late or corrected data since version 1: gw1/late.csv (file {late}, sha256 "
    )

    # gw0 sends day.csv again, corrected: version 2 of the path supersedes file a.
    with env.warehouse.write() as con:
        rows = con.execute(
            f"""SELECT $day, m.machine_id, m.machine_type, s.sensor, r.ts, r.value, 'ok'
                FROM readings r JOIN machines m USING (machine_key) JOIN sensors s USING (sensor_key)
                WHERE r.file_id = {a} ORDER BY r.ts, m.machine_id, s.sensor""",
            {"day": day},
        ).fetchall()
        corrected = [
            (*r[:5], r[5] + 1.0 if i % 10 == 0 else r[5], r[6]) for i, r in enumerate(rows)
        ]
        con.execute(f"UPDATE file_ledger SET status = 'superseded' WHERE file_id = {a}")
        fixed = load_file(con, "gw0/day.csv", corrected, arrival, version=2)
        build_telemetry_day(con, day)
    third = env.audit(day)
    assert (third.status, third.version) == (ANCHORED, 3)
    assert third.reason.startswith(
        f"late or corrected data since version 2: gw0/day.csv v2 (file {fixed} replaces {a}, "
    )
    assert third.reason.endswith(f", {len(corrected)} readings)")

    # A late file does not carry an unexplained change elsewhere: another gateway's file is
    # dropped at the same time, and the hours it leaves are no late file's.
    with env.warehouse.write() as con:
        extra = [
            (day, "SRV-09", "servo_drive", "case_temp_c", day_start(day) + dt.timedelta(hours=h),
             40.0 + h, "ok")
            for h in range(3)
        ]  # fmt: skip
        load_file(con, "gw2/servo.csv", extra, arrival + dt.timedelta(hours=1))
        con.execute(f"UPDATE file_ledger SET status = 'superseded' WHERE file_id = {late}")
        build_telemetry_day(con, day)
    mixed = env.audit(day)
    assert mixed.status == AWAITING_REASON
    assert "telemetry_digest record(s) changed where no new file has readings" in mixed.detail
    assert env.chain().version_count(day.isoformat()) == 3


# --- verify checks every version -----------------------------------------------------------------


def test_verify_checks_every_version_and_shows_what_changed(env: Env, tmp_path: Path) -> None:
    day = dt.date(2026, 10, 4)
    load_day(env, day, seed=4)
    with env.warehouse.write() as con:
        late = load_file(con, "gw1/late.csv", late_rows(day, 4), day_start(day) + dt.timedelta(2))
        build_telemetry_day(con, day)
    second = env.audit(day)
    first_hour = (day_start(day) + dt.timedelta(hours=1)).isoformat()
    env.sql(day, "UPDATE telemetry SET value = 0.5 WHERE day = $day AND sensor = 'vacuum_kpa' "
            f"AND ts < TIMESTAMPTZ '{first_hour}'", rebuild=False)  # fmt: skip
    third = env.audit(day, reason="vacuum zeroed by the line supervisor (ticket 9)")
    assert [second.version, third.version] == [2, 3]

    report = env.verify(day)
    assert report.ok and [v.version for v in report.versions] == [1, 2, 3]
    one_two, two_three = report.changes
    assert one_two.reason == second.reason and one_two.counts() == {
        "added": 6 * 4 + 1,
        "changed": 0,
        "removed": 0,
    }
    assert {"source": "source_files", "kind": "added", "key": {"file_id": str(late)}} in [
        {k: v for k, v in d.items() if k in ("source", "kind", "key")}
        for d in one_two.to_dict()["differences"]
    ]
    assert one_two.note is None  # a file explains it
    assert two_three.counts()["changed"] == 1 and two_three.note is not None
    assert "rests on the reason alone" in two_three.note
    [changed] = two_three.differences
    assert changed.key["sensor"] == "vacuum_kpa" and changed.key["hour"].endswith(
        "T00:00:00.000000Z"
    )
    text = report.render()
    assert "3 anchored version(s), each checked: all OK" in text
    assert "version 2 → 3 (reason: vacuum zeroed by the line supervisor (ticket 9)): 0 added, 1 " \
           "changed, 0 removed" in text  # fmt: skip
    assert "mean_value: " in text and " → 0.5" in text

    # An older version whose published snapshot does not hold what it anchors fails the day,
    # though the latest version still matches the warehouse.
    chain = env.chain()
    folder = tmp_path / "lie"
    shutil.copytree(second.snapshot_dir, folder)
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["sources"]["telemetry_digest"]["rows"] += 1
    (folder / "manifest.json").write_text(json.dumps(manifest))
    lie = env.ipfs.add_path(folder, cid_version=1, pin=True)
    root = bytes.fromhex(third.root[2:])
    chain.anchor(day.isoformat(), bytes.fromhex(second.root[2:]), lie, second.record_count, "x")
    chain.anchor(day.isoformat(), root, third.cid, third.record_count, "back to version 3")
    report = env.verify(day)
    assert report.latest.ok and not report.ok and report.failing_versions() == [4]
    # version 4 holds version 2's records again, version 5 version 3's
    assert [c.counts()["changed"] for c in report.changes] == [0, 1, 1, 1]

    runner = CliRunner()
    cli_env = {"DT_HOME": str(env.settings.home), "DT_CHAIN_PORT": str(env.settings.chain_port),
               "DT_CHAIN_RPC": "", "DT_CHAIN_KEY": "", "DT_IPFS_API": ""}  # fmt: skip
    every = runner.invoke(verify, ["--partition", day.isoformat()], env=cli_env)
    assert every.exit_code == 1, every.output
    assert "MISMATCH in version(s) [4]" in every.output and "manifest_mismatch" in every.output
    one = runner.invoke(verify, ["--partition", day.isoformat(), "--version", "5"], env=cli_env)
    assert one.exit_code == 0 and one.output.startswith(f"partition {day}: OK — version 5")
    as_json = json.loads(
        runner.invoke(verify, ["--partition", day.isoformat(), "--json"], env=cli_env).output
    )
    assert as_json["ok"] is False and len(as_json["versions"]) == 5
    assert as_json["changes"][0]["counts"]["added"] == 25


# --- days anchored before source_files ----------------------------------------------------------


def test_a_version_that_predates_source_files_still_verifies_and_late_files_explain(
    env: Env,
) -> None:
    day = dt.date(2026, 10, 5)
    t0 = day_start(day) + dt.timedelta(days=1, hours=1)
    rows = [r for r in telemetry_rows(day, per_hour=2, seed=5) if r[4].hour < 20]
    with env.warehouse.write() as con:
        load_file(con, "gw0/day.csv", rows, t0 - dt.timedelta(hours=1))
        build_telemetry_day(con, day)
    older_code = [s for s in default_sources() if s.name != "source_files"]
    first = env.audit(day, sources=older_code, now=t0)
    assert first.status == ANCHORED

    report = env.verify(day)
    assert report.ok, report.render()
    [note] = report.latest.notes
    assert note == (
        "version 1 predates source 'source_files': the warehouse's 1 source_files record(s) "
        "are not covered by it"
    )
    # Without per-file records to compare with, files ingested after version 1 was built are
    # the late ones; an early file is not named.
    with env.warehouse.write() as con:
        late = load_file(con, "gw1/late.csv", late_rows(day, 5), t0 + dt.timedelta(hours=2))
        build_telemetry_day(con, day)
    second = env.audit(day, now=t0 + dt.timedelta(hours=3))
    assert second.status == ANCHORED and second.version == 2
    assert f"gw1/late.csv (file {late}" in second.reason and "gw0" not in second.reason
    assert env.verify(day).ok

    # Records of the new source are proved like any other.
    with env.warehouse.read() as con:
        proof = prove_record(con, env.ipfs, env.chain(), day, "source_files", {"file_id": late})
    assert proof.verified_on_chain and json.loads(proof.record)["path"] == "gw1/late.csv"


def test_a_reason_names_three_files_and_counts_the_rest() -> None:
    files = [FileChange(10 + n, f"gw{n}/late.csv", 1, f"{n:064x}", 48) for n in range(5)]
    why = Explanation(dt.date(2026, 10, 6), 2, [], files, [])
    assert why.explained and why.reason() == (
        "late or corrected data since version 2: "
        "gw0/late.csv (file 10, sha256 00000000, 48 readings); "
        "gw1/late.csv (file 11, sha256 00000000, 48 readings); "
        "gw2/late.csv (file 12, sha256 00000000, 48 readings); +2 more file(s)"
    )
    # One file: about as long as the reason the pipeline generated before (stored on chain).
    old = "late data: 1 file(s) for 2026-11-21 arrived after version 1 was built "
    old += "(2026-11-22T01:00:00.000000Z)"
    one = Explanation(dt.date(2026, 10, 6), 1, [], files[:1], []).reason()
    assert len(one.encode()) <= len(old.encode())
