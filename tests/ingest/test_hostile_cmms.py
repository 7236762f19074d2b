"""Hostile CMMS exports: each one loads what it can, rejects the rest with its reason and line,
and loses nothing (rows in = loaded + rejected + superseded, against the stored rows).

Every case is one export dropped next to a clean one; the clean export must load whatever the
hostile one does. Cases carry a class for the hardening note (issue 11)."""

from __future__ import annotations

import dataclasses
import os
import re
from pathlib import Path

import pytest

from dt_platform.ingest.maintenance import RAW_CAP, REASONS, files, parse
from tests.ingest.cmms_fixtures import HEADER, Cmms, export, wo

LONG = "x" * 200_000  # past csv's field limit (131072) that used to crash the asset


@dataclasses.dataclass(frozen=True)
class Case:
    cls: str
    name: str
    content: bytes
    rejects: list[tuple[int | None, str]]  # (line, reason), in line order
    loaded: set[int]  # work order numbers that load from this export
    rows_in: int  # rows the export holds: data records, or 1 for a file rejected as a whole


def case(cls, name, content, rejects=(), loaded=(), rows_in=None) -> Case:
    rejects = list(rejects)
    return Case(cls, name, content, rejects, set(loaded), rows_in or len(rejects) + len(loaded))


CASES = [
    # quoting: a broken quote costs its own line, never the work orders after it
    case(
        "quoting",
        "unbalanced_quote_mid_file",
        export(wo(1, notes='"spindle noisy'), wo(2), wo(3)),
        [(2, "unbalanced_quote")],
        {2, 3},
    ),
    case(
        "quoting",
        "unbalanced_quote_at_end",
        export(wo(1), wo(2, notes='"left open'), "and a second line of notes"),
        [(3, "unbalanced_quote"), (4, "wrong_column_count")],
        {1},
    ),
    case(  # the next line is a work order of its own: it ends the open quote, and loads
        "quoting",
        "quote_closed_by_a_later_line",
        export(wo(1, notes='"open'), wo(2, notes='closes here"'), wo(3)),
        [(2, "unbalanced_quote")],
        {2, 3},
    ),
    case(
        "quoting",
        "text_after_closing_quote",
        export(wo(1, notes='"said "stop" twice"'), wo(2)),
        [(2, "malformed_line")],
        {2},
    ),
    case(
        "quoting",
        "notes_over_two_lines_are_fine",
        export(wo(1, notes='"line one\nline two, with a comma"'), wo(2)),
        [],
        {1, 2},
    ),
    case("quoting", "nul_byte", export(wo(1, notes="a\x00b"), wo(2)), [(2, "malformed_line")], {2}),
    # encodings and line ends, per line
    case(
        "encoding",
        "latin1_byte_in_one_line",
        export(wo(1), wo(2, notes="Lager gewechselt, Gehäuse")).replace(b"\xc3\xa4", b"\xe4")
        + wo(3).encode()
        + b"\n",
        [(3, "bad_encoding")],
        {1, 3},
    ),
    case(
        "encoding",
        "utf8_bom_and_crlf",
        b"\xef\xbb\xbf" + export(wo(1), wo(2, notes="Gehäuse ✓"), end="\r\n"),
        [],
        {1, 2},
    ),
    case("encoding", "bare_cr_line_ends", export(wo(1), wo(2), end="\r"), [], {1, 2}),
    case(
        "encoding",
        "utf16_export",
        export(wo(1)).decode().encode("utf-16"),
        [(1, "bad_header")],
        rows_in=1,
    ),
    case(
        "encoding",
        "concatenated_exports",
        export(wo(1)) + b"\xef\xbb\xbf" + export(wo(2)),
        [(3, "repeated_header")],
        {1, 2},
    ),
    # headers: the file is rejected as a whole, with the reason
    case(
        "header",
        "missing_column",
        export().replace(b",notes", b"") + wo(1).encode(),
        [(1, "bad_header")],
        rows_in=1,
    ),
    case(
        "header",
        "extra_column",
        export().replace(b"notes", b"notes,cost") + wo(1).encode(),
        [(1, "bad_header")],
        rows_in=1,
    ),
    case(
        "header",
        "duplicated_column",
        export().replace(b"component", b"kind") + wo(1).encode(),
        [(1, "bad_header")],
        rows_in=1,
    ),
    case(
        "header",
        "reordered_columns",
        export().replace(b"kind,action", b"action,kind") + wo(1).encode(),
        [(1, "bad_header")],
        rows_in=1,
    ),
    case(
        "header",
        "a_sensor_dump_in_cmms",
        b"timestamp,machine_id,vacuum [kPa]\n",
        [(1, "not_a_maintenance_log")],
        rows_in=1,
    ),
    case("empty", "no_bytes", b"", [(None, "empty_file")], rows_in=1),
    case("empty", "blank_lines_only", b"\n\r\n  \n", [(None, "empty_file")], rows_in=1),
    case("empty", "header_only_and_blank_lines", export("", ",,,,,,,", ""), [], rows_in=0),
    # timestamps
    case(
        "timestamps",
        "impossible_years",
        export(
            wo(1, started_at="0000-01-01T00:00:00Z"),
            wo(2, started_at="-001-11-20T09:12:00+08:00"),
            wo(3, started_at="0001-01-01T00:30:00+01:00"),  # used to overflow: a crash
            wo(4, finished_at="9999-12-31T23:00:00-05:00"),
            wo(5, started_at="1969-12-31T23:59:59Z", finished_at=""),
            wo(6, started_at="2099-01-01T00:00:00Z", finished_at=""),
            wo(7),
        ),
        [
            (2, "unparseable_timestamp"),
            (3, "unparseable_timestamp"),
            (4, "timestamp_out_of_range"),
            (5, "timestamp_out_of_range"),
            (6, "timestamp_out_of_range"),
            (7, "timestamp_out_of_range"),
        ],
        {7},
    ),
    case(
        "timestamps",
        "offsets_beyond_14h",
        export(
            wo(1, started_at="2026-11-20T09:12:00+14:30"),
            wo(2, started_at="2026-11-20T09:12:00-15:00"),
            wo(3, finished_at="2026-11-20T23:12:00+99:00"),
            wo(4, started_at="2026-11-19T09:12:00+14:00", finished_at="2026-11-19T10:00:00-12:00"),
        ),
        [(2, "offset_out_of_range"), (3, "offset_out_of_range"), (4, "offset_out_of_range")],
        {4},
    ),
    case(
        "timestamps",
        "no_offset_or_not_iso",
        export(
            wo(1, started_at="2026-11-20T09:12:00"),
            wo(2, started_at="20.11.2026 09:12"),
            wo(3, started_at="２０２６-11-20T09:12:00+08:00"),
            wo(4, started_at="٢٠٢٦-11-20T09:12:00+08:00"),
            wo(5, started_at="2026-02-30T09:12:00Z"),
            wo(6, finished_at="2026-11-07T13:40:00+08:60"),
            wo(7),
        ),
        [
            (2, "missing_timezone"),
            (3, "unparseable_timestamp"),
            (4, "unparseable_timestamp"),
            (5, "unparseable_timestamp"),
            (6, "unparseable_timestamp"),
            (7, "unparseable_timestamp"),
        ],
        {7},
    ),
    case(
        "timestamps",
        "finished_before_started",
        export(wo(1, finished_at="2026-11-02T08:00:00+08:00"), wo(2)),
        [(2, "inconsistent_times")],
        {2},
    ),
    # values
    case(
        "values",
        "unknown_kind_and_action",
        export(wo(1, kind="Corrective"), wo(2, action="fix"), wo(3, kind="", action=""), wo(4)),
        [(2, "unknown_kind"), (3, "unknown_action"), (4, "missing_field")],
        {4},
    ),
    case(
        "values",
        "missing_fields",
        export(
            wo(1, work_order=""),
            wo(2, machine_id=" "),
            wo(3, started_at=""),
            wo(4, finished_at="", component="", notes=""),
        ),
        [(2, "missing_field"), (3, "missing_field"), (4, "missing_field")],
        {4},
    ),
    case(
        "values",
        "wrong_column_counts",
        export(wo(1) + ",extra", wo(2).rsplit(",", 1)[0], wo(3)),
        [(2, "wrong_column_count"), (3, "wrong_column_count")],
        {3},
    ),
    case(
        "machines",
        "unknown_and_retired_machines",
        export(wo(1, machine_id="CNC-99"), wo(2, machine_id="OLD-01"), wo(3, machine_id="cnc-01")),
        [(2, "unknown_machine"), (4, "unknown_machine")],
        {2},
    ),
    # sizes: a long field is a reason, never a crash, and rejects copy at most RAW_CAP chars
    case(
        "size",
        "notes_of_200k_chars",
        export(wo(1, notes=LONG), wo(2)),
        [(2, "field_too_long")],
        {2},
    ),
    case("size", "notes_of_20k_chars_load", export(wo(1, notes='"' + "y" * 20_000 + '"')), [], {1}),
    case(
        "size",
        "huge_work_order_id",
        export(wo(1, work_order="WO-" + "9" * 5_000), wo(2)),
        [(2, "field_too_long")],
        {2},
    ),
    case(
        "size",
        "huge_unknown_machine",
        export(wo(1, machine_id="M" * 5_000)),
        [(2, "unknown_machine")],
    ),
    # the same work order twice in one export: the first line counts, the other is rejected
    case(
        "duplicates",
        "same_work_order_twice",
        export(wo(1), wo(2), wo(1)),
        [(4, "duplicate_work_order")],
        {1, 2},
    ),
    case(
        "duplicates",
        "same_work_order_conflicting",
        export(wo(1), wo(1, kind="preventive")),
        [(3, "conflicting_work_order")],
        {1},
    ),
]


@pytest.mark.parametrize("c", CASES, ids=[c.name for c in CASES])
def test_hostile_export(tmp_path: Path, c: Case) -> None:
    cmms = Cmms(tmp_path)
    cmms.drop("a_hostile.csv", c.content)
    cmms.drop("b_clean.csv", export(wo(901), wo(902)))
    summary = cmms.load()

    assert cmms.rejects("a_hostile.csv") == c.rejects
    loaded = {w for w, (f, _, _) in cmms.orders().items() if f == "a_hostile.csv"}
    assert loaded == {f"WO-{n:06d}" for n in c.loaded}
    assert {w for w, (f, _, _) in cmms.orders().items() if f == "b_clean.csv"} == {
        "WO-000901",
        "WO-000902",
    }
    status, _, rows_in, n_loaded, n_rejected, n_superseded = cmms.ledger()["a_hostile.csv"]
    assert rows_in == c.rows_in and n_superseded == 0
    assert (n_loaded, n_rejected) == (len(c.loaded), len(c.rejects))
    assert status == ("quarantined" if c.rejects[:1] and c.rejects[0][0] in (None, 1) else "loaded")
    cmms.assert_balanced()
    assert summary.rows_in == summary.rows_loaded + summary.rows_rejected + summary.superseded
    for (raw,) in cmms.query("SELECT raw FROM maintenance_rejects WHERE raw IS NOT NULL"):
        assert len(raw) <= RAW_CAP + len("…[+999999 chars]")
    for (reason,) in cmms.query("SELECT DISTINCT reason FROM maintenance_rejects"):
        assert reason in REASONS


def test_the_suite_is_broad_enough() -> None:
    assert len(CASES) >= 12
    assert len({c.cls for c in CASES}) >= 8
    assert {r for c in CASES for _, r in c.rejects} >= set(REASONS) - {
        "not_a_regular_file",
        "vanished_file",
        "unreadable_file",
        "file_too_large",
        "unexpected_error",  # these five: the tests below
    }


def test_rejects_are_capped_with_a_marker(tmp_path: Path) -> None:
    cmms = Cmms(tmp_path)
    cmms.drop("a.csv", export(wo(1, notes=LONG)))
    cmms.load()
    ((raw, detail),) = cmms.query("SELECT raw, detail FROM maintenance_rejects")
    assert re.fullmatch(r"WO-000001,.{190,200}…\[\+\d+ chars\]", raw)
    assert len(detail) < 200


# Entries that are not regular files are never opened, and are recorded.


def test_links_fifos_and_folders_are_not_read(tmp_path: Path) -> None:
    cmms = Cmms(tmp_path)
    secret = tmp_path / "secret.csv"
    secret.write_text(HEADER + "\n" + wo(1, notes="TOP-SECRET") + "\n")
    (cmms.folder / "link.csv").symlink_to(secret)
    (cmms.folder / "dangling.csv").symlink_to(tmp_path / "gone.csv")
    (cmms.folder / "zero.csv").symlink_to("/dev/zero")
    os.mkfifo(cmms.folder / "fifo.csv")  # opening it for reading would hang a naive reader
    (cmms.folder / "folder.csv").mkdir()
    cmms.drop("good.csv", export(wo(2)))
    cmms.load()

    assert set(cmms.orders()) == {"WO-000002"}
    ledger = cmms.ledger()
    for name in ("link.csv", "dangling.csv", "zero.csv", "fifo.csv", "folder.csv"):
        assert ledger[name][:2] == ("quarantined", "not_a_regular_file"), name
        assert ledger[name][2:] == (1, 0, 1, 0)
    assert not cmms.query("SELECT * FROM maintenance_rejects WHERE raw LIKE '%TOP-SECRET%'")
    assert not cmms.query("SELECT * FROM maintenance_files WHERE detail LIKE '%secret%'")
    cmms.assert_balanced()
    assert files.export_files(cmms.folder) == [cmms.folder / "good.csv"]


def test_a_symlinked_cmms_folder_is_refused(tmp_path: Path) -> None:
    cmms = Cmms(tmp_path)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "a.csv").write_text(HEADER + "\n" + wo(1) + "\n")
    cmms.folder.rmdir()
    cmms.folder.symlink_to(elsewhere)
    summary = cmms.load()
    assert cmms.orders() == {} and summary.quarantined == ["cmms"]
    assert cmms.query("SELECT source_file, line, raw, reason FROM maintenance_rejects") == [
        ("cmms", None, None, "not_a_regular_file")
    ]
    assert files.export_files(cmms.folder) == []
    cmms.assert_balanced()


def test_oversized_vanished_and_crashing_files_are_quarantined(tmp_path, monkeypatch) -> None:
    cmms = Cmms(tmp_path)
    cmms.drop("big.csv", export(*(wo(n) for n in range(1, 40))))
    cmms.drop("vanishing.csv", export(wo(50)))
    cmms.drop("crashing.csv", export(wo(60)))
    cmms.drop("good.csv", export(wo(70)))
    cmms.drop("many_lines.csv", export(wo(80)) + b'"\n' * 30)
    monkeypatch.setattr(files, "MAX_EXPORT_BYTES", 1_000)
    monkeypatch.setattr(parse, "MAX_EXPORT_LINES", 30)
    real_read = files.read_export

    def read(fd, entry):
        if entry.name == "vanishing.csv":
            (cmms.folder / entry.name).rename(cmms.folder / ".renamed")
        return real_read(fd, entry)

    real_parse = parse.parse_export

    def explode(data, machines, now):
        if b"WO-000060" in data:
            raise MemoryError("simulated")
        return real_parse(data, machines, now)

    monkeypatch.setattr("dt_platform.ingest.maintenance.load.read_export", read)
    monkeypatch.setattr("dt_platform.ingest.maintenance.load.parse_export", explode)
    summary = cmms.load()

    ledger = cmms.ledger()
    assert ledger["big.csv"][:2] == ("quarantined", "file_too_large")
    assert ledger["many_lines.csv"][:2] == ("quarantined", "file_too_large")
    assert ledger["vanishing.csv"][:2] == ("quarantined", "vanished_file")
    assert ledger["crashing.csv"][:2] == ("quarantined", "unexpected_error")
    assert set(cmms.orders()) == {"WO-000070"}
    assert sorted(summary.quarantined) == [
        "cmms/big.csv",
        "cmms/crashing.csv",
        "cmms/many_lines.csv",
        "cmms/vanishing.csv",
    ]
    cmms.assert_balanced()


def test_a_crash_on_one_line_costs_that_line(tmp_path, monkeypatch) -> None:
    cmms = Cmms(tmp_path)
    cmms.drop("a.csv", export(wo(1), wo(2, notes="boom"), wo(3)))
    real = parse.check_fields

    def check(values, machines, now):
        if values[-1] == "boom":
            raise KeyError("simulated bug")
        return real(values, machines, now)

    monkeypatch.setattr(parse, "check_fields", check)
    cmms.load()
    assert cmms.rejects() == [(3, "unexpected_error")]
    assert set(cmms.orders()) == {"WO-000001", "WO-000003"}
    cmms.assert_balanced()


def test_one_broken_export_does_not_stop_the_next(tmp_path: Path) -> None:
    """Every broken export of the suite in one folder, in arrival order before a clean one: the
    clean one loads, every file balances, and a second run changes nothing."""
    cmms = Cmms(tmp_path)
    for k, c in enumerate(CASES):
        cmms.drop(f"{k:02d}_{c.name}.csv", c.content.replace(b"WO-0", f"WO-{k:02d}".encode()))
    os.mkfifo(cmms.folder / "zz_fifo.csv")
    cmms.drop("zz_last_clean.csv", export(wo(901), wo(902)))
    first = cmms.load()
    orders = cmms.orders()
    assert orders["WO-000901"][0] == "zz_last_clean.csv"
    assert orders["WO-000902"][0] == "zz_last_clean.csv"
    assert first.rows_in == sum(c.rows_in for c in CASES) + 1 + 2
    cmms.assert_balanced()

    second = cmms.load()
    assert second == first and cmms.orders() == orders


def test_a_folder_that_cannot_be_listed_is_recorded(tmp_path: Path, monkeypatch) -> None:
    cmms = Cmms(tmp_path)
    cmms.drop("a.csv", export(wo(1)))

    def refuse(fd):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr("dt_platform.ingest.maintenance.load.scan", refuse)
    summary = cmms.load()
    assert summary.quarantined == ["cmms"] and cmms.orders() == {}
    assert cmms.rejects() == [(None, "unreadable_file")]
    cmms.assert_balanced()
