"""``dt-platform track-record --verify`` on a real anvil and the embedded IPFS store: the hand-made
timeline is scored, every day anchored, and the published track record recomputed from the
anchored records. It passes as anchored and fails once a score row, the summary, or an anchored
score that contradicts the anchored prediction is met."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass

import polars as pl
import pytest
from click.testing import CliRunner

from dt_platform.config import Settings
from dt_platform.phm.track_record import rescore
from dt_platform.phm.track_record_table import read_scores, score_day, write_day
from dt_platform.trust.anvil import throwaway_anvil
from dt_platform.trust.audit import ANCHORED, audit_partition
from dt_platform.trust.chain import AuditChain, deploy
from dt_platform.trust.ipfs import EmbeddedIpfs
from dt_platform.trust.track_record_cli import track_record
from dt_platform.trust.track_record_verify import verify_track_record
from dt_platform.warehouse import Warehouse
from tests.phm.track_record_fixtures import fill_warehouse

pytestmark = pytest.mark.integration
DAYS = [dt.date(2026, 3, d) for d in range(1, 10)]
NOW = dt.datetime(2026, 3, 10, 1, tzinfo=dt.UTC)


@dataclass(frozen=True)
class World:
    settings: Settings
    warehouse: Warehouse

    def chain(self) -> AuditChain:
        return AuditChain.connect(self.settings)

    def cli(self, *args: str):
        env = {
            "DT_HOME": str(self.settings.home),
            "DT_CHAIN_PORT": str(self.settings.chain_port),
            "DT_CHAIN_RPC": "",
            "DT_CHAIN_KEY": "",
            "DT_IPFS_API": "",
        }
        return CliRunner().invoke(track_record, list(args), env=env)

    def check(self, **kwargs):
        with self.warehouse.read() as con:
            return verify_track_record(
                con, EmbeddedIpfs(self.settings.ipfs_dir), self.chain(), **kwargs
            )

    def execute(self, sql: str, params: list) -> None:
        with self.warehouse.write() as con:
            con.execute(sql, params)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    home = tmp_path_factory.mktemp("track_record_home")
    with throwaway_anvil(log_path=home / "anvil.log") as node:
        settings = Settings(home=home, chain_port=node.port)
        deploy(settings)
        world = World(settings, Warehouse(settings.warehouse_path))
        ipfs = EmbeddedIpfs(settings.ipfs_dir)
        with world.warehouse.write() as con:
            fill_warehouse(con)
            for day in DAYS:  # the daily job: the track record, then the day's snapshot
                with_scores = score_day(con, day)
                write_day(con, day, with_scores)
                result = audit_partition(
                    con, ipfs, world.chain, day, snapshots_dir=home / "snapshots", now=NOW
                )
                assert result.status == ANCHORED, (day, result.error)
        yield world


def test_verify_passes_on_the_anchored_days(world: World) -> None:
    check = world.check()
    assert check.ok, check.problems
    assert check.as_of == dt.date(2026, 3, 9)
    assert check.closing_days == [dt.date(2026, 3, 5), dt.date(2026, 3, 9)]
    assert check.scores == 8 and check.predictions_matched == 8
    # 8 scores, 8 predictions, 3 + 1 alerts, and the summary rows: each proved
    assert check.proved == 8 + 8 + 4 + check.recomputed.height
    result = world.cli("--verify")
    assert result.exit_code == 0, result.output
    assert "OK: the published track record is what the anchored records give" in result.output
    assert "Track record published 2026-03-09" in result.output
    only = world.cli("--model-version", "v1", "--type", "smt_placer")
    assert only.exit_code == 0 and "v2" not in only.output and "50%" in only.output
    earlier = world.check(as_of=dt.date(2026, 3, 7))
    assert earlier.ok and earlier.closing_days == [dt.date(2026, 3, 5)]


def test_an_edited_score_row_fails_verify(world: World) -> None:
    at = dt.datetime(2026, 3, 3, tzinfo=dt.UTC)
    sql = "UPDATE track_record_scores SET rul_fused_hi_h = ?, inside_90 = ? WHERE ts = ?"
    world.execute(sql, [70.0, True, at])
    try:
        result = world.cli("--verify")
        assert result.exit_code == 1, result.output
        assert "MISMATCH" in result.output
        assert "warehouse 2026-03-05: SMT-01 at 2026-03-03T00:00Z rul_fused_hi_h is 70.0, " \
            "anchored 55.0" in result.output  # fmt: skip
        # Republishing the summary from the edited rows does not help: the anchored rows say
        # otherwise.
        with world.warehouse.write() as con:
            write_day(con, dt.date(2026, 3, 9), score_day(con, dt.date(2026, 3, 9)))
        check = world.check()
        assert "summary smt_placer" not in " ".join(check.problems)
        assert any(
            p.startswith("summary v1/smt_placer/all: inside_90 published 3, recomputed 2")
            for p in check.problems
        ), check.problems
    finally:
        world.execute(sql, [55.0, False, at])
        with world.warehouse.write() as con:
            write_day(con, dt.date(2026, 3, 9), score_day(con, dt.date(2026, 3, 9)))
    assert world.check().ok


def test_an_edited_summary_fails_verify(world: World) -> None:
    sql = "UPDATE track_record_summary SET coverage_90 = ? WHERE lead_band = 'all' AND " \
        "model_version = 'v1'"  # fmt: skip
    world.execute(sql, [0.9])
    try:
        check = world.check(model_version="v1")
        assert not check.ok
        assert "summary v1/smt_placer/all: coverage_90 published 0.9, recomputed 0.5" in (
            check.problems
        )
        assert "anchored summary v1/smt_placer/all: coverage_90 published 0.9, recomputed 0.5" in (
            check.problems
        )
        assert world.check(model_version="v2").ok  # the filter limits the summary compared
    finally:
        world.execute(sql, [0.5])
    assert world.check().ok


def test_scores_anchored_against_other_predictions_fail(world: World, tmp_path) -> None:
    """A publisher who anchors a closing day with a prediction made better after the fact: the
    prediction's own day, anchored before the failure, gives it away."""
    at = dt.datetime(2026, 3, 3, tzinfo=dt.UTC)
    closing = dt.date(2026, 3, 5)
    with world.warehouse.write() as con:
        better = read_scores(con, day=closing).with_columns(
            pl.when(pl.col("ts") == at)
            .then(58.0)
            .otherwise(pl.col("rul_fused_h"))
            .alias("rul_fused_h")
        )
        write_day(con, closing, rescore(better))  # consistent: every derived figure follows
        write_day(con, dt.date(2026, 3, 9), score_day(con, dt.date(2026, 3, 9)))
        for day in (dt.date(2026, 3, 5), dt.date(2026, 3, 9)):
            result = audit_partition(
                con,
                EmbeddedIpfs(world.settings.ipfs_dir),
                world.chain,
                day,
                snapshots_dir=tmp_path,
                now=NOW,
                reason="test: re-scored",
            )
            assert result.status == ANCHORED and result.version == 2
    check = world.check()
    assert not check.ok
    assert check.problems == [
        "SMT-01 at 2026-03-03T00:00Z: rul_fused_h differ from what was anchored on 2026-03-02"
    ], check.problems
