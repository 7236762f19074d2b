"""Atomic writes: a reader sees the old file or the new one, never half of one, and a failed
write leaves nothing behind."""

import pytest

from dt_platform import fileio


class Boom(RuntimeError):
    pass


def _leftovers(folder):
    return sorted(p.name for p in folder.iterdir())


def test_write_replaces_the_target_and_leaves_no_temporary_file(tmp_path):
    target = tmp_path / "deep" / "model.bin"
    fileio.atomic_write_bytes(target, b"v1")
    fileio.atomic_write_text(target, "v2 ✓")
    assert target.read_text(encoding="utf-8") == "v2 ✓"
    assert _leftovers(target.parent) == ["model.bin"]


def test_a_failed_write_keeps_the_old_content_and_removes_the_temporary_file(tmp_path):
    target = tmp_path / "deployment.json"
    target.write_text("old")
    with pytest.raises(Boom), fileio.atomic_open(target, "w", encoding="utf-8") as fh:
        fh.write("half of the new")
        raise Boom("disk full")
    assert target.read_text() == "old"
    assert _leftovers(tmp_path) == ["deployment.json"]


def test_a_failed_write_of_a_new_file_creates_nothing(tmp_path):
    target = tmp_path / "new.car"
    with pytest.raises(Boom), fileio.atomic_path(target) as tmp:
        tmp.write_bytes(b"partial")
        raise Boom("a block is missing")
    assert _leftovers(tmp_path) == []


def test_a_named_temporary_file_is_used_and_cleaned_up(tmp_path):
    target = tmp_path / "dump.csv"
    part = tmp_path / "dump.csv.part"
    with pytest.raises(Boom), fileio.atomic_path(target, tmp=part) as tmp:
        assert tmp == part
        tmp.write_text("a,b\n")
        raise Boom
    assert not part.exists() and not target.exists()
    with fileio.atomic_open(target, tmp=part, fsync=True) as fh:
        fh.write(b"a,b\n")
    assert target.read_bytes() == b"a,b\n" and not part.exists()


def test_missing_parent_is_an_error_when_parents_are_not_made(tmp_path):
    with pytest.raises(FileNotFoundError):
        fileio.atomic_write_bytes(tmp_path / "absent" / "x", b"", make_parents=False)
    assert _leftovers(tmp_path) == []


def test_atomic_open_refuses_modes_that_do_not_write_a_new_file(tmp_path):
    with pytest.raises(ValueError, match="does not"), fileio.atomic_open(tmp_path / "x", "rb"):
        pass
