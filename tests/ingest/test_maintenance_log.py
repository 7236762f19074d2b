"""The maintenance log across exports and runs: corrections win, re-sends and copies never undo
them, the ledger reads content (not size and mtime), and a second run changes nothing."""

from __future__ import annotations

import itertools
import os
import re
from pathlib import Path

import pytest

from dt_platform.ingest.fingerprint import landing_fingerprint
from dt_platform.ingest.maintenance import REASONS, export_entries, export_files
from dt_platform.ingest.registry import parse_registry, sync_registry
from tests.ingest.cmms_fixtures import REGISTRY, Cmms, export, wo

ROOT = Path(__file__).resolve().parents[2]
V1 = export(wo(1, notes="v1"), wo(2))
V2 = export(wo(1, notes="v2"), wo(3))


@pytest.fixture
def cmms(tmp_path: Path) -> Cmms:
    return Cmms(tmp_path)


def test_a_later_export_corrects_a_work_order(cmms: Cmms) -> None:
    cmms.drop("a.csv", V1)
    cmms.drop("b.csv", V2)
    summary = cmms.load()
    orders = cmms.orders()
    assert orders["WO-000001"] == ("b.csv", 2, "v2") and orders["WO-000002"][0] == "a.csv"
    assert (summary.rows_in, summary.rows_loaded, summary.superseded) == (4, 3, 1)
    assert cmms.query("SELECT * EXCLUDE (raw) FROM maintenance_superseded") == [
        ("WO-000001", "cmms/a.csv", 2, "cmms/b.csv", 2)
    ]
    assert cmms.ledger()["a.csv"] == ("loaded", None, 2, 1, 0, 1)
    cmms.assert_balanced()


def test_a_rejected_correction_leaves_the_earlier_version(cmms: Cmms) -> None:
    cmms.drop("a.csv", V1)
    cmms.drop("b.csv", export(wo(1, notes="v2", kind="repaired")))
    cmms.load()
    assert cmms.orders()["WO-000001"][2] == "v1"
    assert cmms.rejects("b.csv") == [(2, "unknown_kind")]
    cmms.assert_balanced()


def test_a_resent_old_export_never_undoes_a_correction(cmms: Cmms) -> None:
    cmms.drop("a.csv", V1)
    cmms.drop("b.csv", V2)
    cmms.load()
    cmms.drop("a_resent.csv", V1)  # newest mtime of all, but old content
    cmms.load()
    assert cmms.orders()["WO-000001"][2] == "v2"
    assert cmms.ledger()["a_resent.csv"][:1] == ("duplicate_file",)
    (cmms.folder / "a.csv").unlink()  # the copy is all that is left of the old export
    cmms.load()
    assert cmms.orders()["WO-000001"][2] == "v2"
    assert cmms.orders()["WO-000002"][0] == "a_resent.csv"
    assert cmms.query("SELECT status FROM maintenance_files WHERE path = 'cmms/a.csv'") == [
        ("removed",)
    ]
    cmms.assert_balanced()


def test_a_correction_with_the_same_size_and_mtime_is_read(cmms: Cmms) -> None:
    path = cmms.drop("a.csv", export(wo(1, notes="aaaa")))
    stamp = path.stat().st_mtime_ns
    cmms.load()
    cmms.drop("a.csv", export(wo(1, notes="bbbb")), mtime_ns=stamp)
    assert path.stat().st_size == len(export(wo(1, notes="aaaa")))
    cmms.load()
    assert cmms.orders()["WO-000001"][2] == "bbbb"
    statuses = cmms.query("SELECT status FROM maintenance_files ORDER BY seq")
    assert statuses == [("replaced",), ("loaded",)]
    cmms.assert_balanced()


EVENTS = {
    "copy": lambda c: c.drop("copy_of_a.csv", V1),  # a stale copy under a new name
    "touch": lambda c: os.utime(c.folder / "a.csv"),  # the same bytes delivered again
    "correct_in_place": lambda c: c.drop("a.csv", V2),
    "correct_as_new_export": lambda c: c.drop("b.csv", V2),
}


@pytest.mark.parametrize("load_between", [True, False], ids=["runs_between", "one_run"])
@pytest.mark.parametrize("order", list(itertools.permutations(EVENTS)), ids=lambda o: "-".join(o))
def test_every_order_of_copy_resend_and_correction(
    tmp_path: Path, order: tuple[str, ...], load_between: bool
) -> None:
    cmms = Cmms(tmp_path)
    cmms.drop("a.csv", V1)
    cmms.load()
    corrected = False
    for event in order:
        EVENTS[event](cmms)
        corrected = corrected or event.startswith("correct")
        if load_between:
            cmms.load()
            assert cmms.orders()["WO-000001"][2] == ("v2" if corrected else "v1"), event
            cmms.assert_balanced()
    cmms.load()
    assert cmms.orders()["WO-000001"][2] == "v2"
    assert set(cmms.orders()) == {"WO-000001", "WO-000002", "WO-000003"}
    cmms.assert_balanced()


def test_a_removed_export_leaves_the_log(cmms: Cmms) -> None:
    cmms.drop("a.csv", V1)
    cmms.drop("b.csv", export(wo(7)))
    cmms.load()
    (cmms.folder / "a.csv").unlink()
    cmms.load()
    assert set(cmms.orders()) == {"WO-000007"}
    cmms.assert_balanced()


def test_a_machine_added_to_the_registry_lets_its_work_orders_in(cmms: Cmms) -> None:
    cmms.drop("a.csv", export(wo(1, machine_id="OVEN-01")))
    cmms.load()
    assert cmms.rejects() == [(2, "unknown_machine")]
    sync_registry(
        cmms.con,
        parse_registry(
            REGISTRY.replace(
                "machines:\n", "machines:\n  - {machine_id: OVEN-01, type: reflow_oven}\n"
            )
        ),
    )
    cmms.load()
    assert set(cmms.orders()) == {"WO-000001"} and cmms.rejects() == []
    cmms.assert_balanced()


def test_a_second_run_changes_nothing(cmms: Cmms) -> None:
    cmms.drop("a.csv", V1)
    cmms.drop("b.csv", V2)
    cmms.drop("c.csv", V1)
    cmms.drop("d.csv", export(wo(5, kind="?")))
    first = cmms.load()
    tables = ("maintenance_log", "maintenance_rejects", "maintenance_superseded")
    before = {t: sorted(cmms.query(f"SELECT * FROM {t}")) for t in tables}
    ledger = cmms.query("SELECT * EXCLUDE (checked_at) FROM maintenance_files ORDER BY path")
    assert cmms.load() == first
    assert {t: sorted(cmms.query(f"SELECT * FROM {t}")) for t in tables} == before
    again = cmms.query("SELECT * EXCLUDE (checked_at) FROM maintenance_files ORDER BY path")
    assert again == ledger


def test_export_files_lists_regular_exports_oldest_first(cmms: Cmms, tmp_path: Path) -> None:
    cmms.drop("z_old.csv", V1, mtime_ns=1_000)
    cmms.drop("a_new.csv", V1, mtime_ns=2_000)
    cmms.drop(".hidden.csv", V1)
    cmms.drop("notes.txt", "not an export")
    (cmms.folder / "link.csv").symlink_to(cmms.folder / "z_old.csv")
    (cmms.folder / "dangling.csv").symlink_to(tmp_path / "nowhere.csv")
    assert export_files(cmms.folder) == [cmms.folder / "z_old.csv", cmms.folder / "a_new.csv"]
    assert export_files(tmp_path / "absent") == []
    # the landing sensor counts every entry the log examines (the two links are refused on
    # record, so adding one must start a run), and a dangling link cannot break it
    assert len(export_entries(cmms.folder)) == 4  # the two exports and the two links
    digest, n = landing_fingerprint(cmms.landing, tmp_path / "machines.yaml")
    assert n == 4 and len(digest) == 64


def test_every_reason_code_is_documented() -> None:
    docs = (ROOT / "docs" / "dumps.md").read_text(encoding="utf-8")
    section = docs.split("## Maintenance log", 1)[1].split("\n## ", 1)[0]
    documented = set(re.findall(r"^\| `([a-z_]+)` \|", section, flags=re.MULTILINE))
    assert documented == set(REASONS)
