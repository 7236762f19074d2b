"""What runs, read from /proc: for tests that check that nothing a service started outlives it."""

from __future__ import annotations

from pathlib import Path


def _stat(pid: int | str) -> tuple[str, int] | None:
    """(state, parent pid) of a process, or None when it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return fields[0], int(fields[1])


def alive(pid: int) -> bool:
    """Is ``pid`` a running process (not gone, not a zombie)?"""
    stat = _stat(pid)
    return stat is not None and stat[0] != "Z"


def descendants(pid: int) -> set[int]:
    """The processes below ``pid``."""
    parent = {}
    for path in Path("/proc").glob("[0-9]*"):
        stat = _stat(path.name)
        if stat is not None:
            parent[int(path.name)] = stat[1]
    found, todo = set(), [pid]
    while todo:
        p = todo.pop()
        children = {c for c, pp in parent.items() if pp == p}
        todo.extend(children - found)
        found |= children
    return found
