"""The bridge's spool: a journal written before a message is acknowledged, landed as JSON Lines.

The journal is a *segment* under ``DT_HOME/stream/``: one line per message,
``{"id": <identity>, "lines": [<JSON Lines text>, ...]}``. :meth:`Spool.sync` flushes and fsyncs
it; only then does the bridge acknowledge the messages it holds, so an acknowledged message is on
disk. A line torn by a crash is the tail the last fsync did not cover: its message was never
acknowledged, the broker delivers it again, and the torn line is skipped.

:meth:`Spool.rotate` lands the segment as ``landing/stream/<segment>.jsonl`` (written as
``.part``, fsynced, renamed: the loader never sees half a file), then deletes the segment. The
landed name derives from the segment, so a crash between landing and deleting lands the same
file once. A segment left behind by a crash is landed by :meth:`Spool.recover` on start.

The identities of the last :data:`WINDOW` messages survive a restart (``seen.json``, rewritten
at each rotation, plus the identities in a leftover segment): a message delivered again — after
a crash between fsync and acknowledgement, or an acknowledgement lost with the connection — is
recognised and not stored twice.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path
from typing import IO

WINDOW = 50_000
"""Identities remembered (the broker keeps at most 1,000 unacknowledged messages in flight)."""
SEGMENT_SUFFIX = ".spool"
SEEN_FILE = "seen.json"
LANDING_FOLDER = "stream"


class SeenWindow:
    """The identities of the most recent messages, oldest forgotten first."""

    def __init__(self, size: int = WINDOW) -> None:
        self.size = size
        self._ids: dict[str, None] = {}

    def __contains__(self, identity: str) -> bool:
        return identity in self._ids

    def __len__(self) -> int:
        return len(self._ids)

    def add(self, identity: str) -> None:
        self._ids.pop(identity, None)
        self._ids[identity] = None
        while len(self._ids) > self.size:
            del self._ids[next(iter(self._ids))]

    def load(self, path: Path) -> None:
        try:
            ids = json.loads(path.read_text(encoding="utf-8")).get("ids", [])
        except FileNotFoundError:
            return
        except (ValueError, AttributeError, OSError):
            ids = []  # unreadable: the leftover segments still name what was not landed
        for identity in ids[-self.size :]:
            if isinstance(identity, str):
                self.add(identity)

    def save(self, path: Path) -> None:
        _write_atomically(path, json.dumps({"ids": list(self._ids)}).encode("utf-8"))


class Spool:
    """The journal segments under ``stream_dir`` and where they land."""

    def __init__(self, stream_dir: Path, landing_dir: Path, window: int = WINDOW) -> None:
        self.stream_dir = Path(stream_dir)
        self.target_dir = Path(landing_dir) / LANDING_FOLDER
        self.seen = SeenWindow(window)
        self._file: IO[bytes] | None = None
        self._segment: Path | None = None
        self._count = 0
        self.lines_pending = 0
        """Lines in the open segment (what its landing will hold)."""

    @property
    def seen_path(self) -> Path:
        return self.stream_dir / SEEN_FILE

    def recover(self) -> list[Path]:
        """Land every segment a previous run left (in the order they were opened); returns the
        files landed. Call once, before the first :meth:`append`."""
        self.stream_dir.mkdir(parents=True, exist_ok=True)
        self.seen.load(self.seen_path)
        return [
            p
            for seg in sorted(self.stream_dir.glob(f"*{SEGMENT_SUFFIX}"))
            if (p := self._land(seg))
        ]

    def append(self, identity: str, lines: list[str]) -> None:
        """Journal one message (not yet durable: see :meth:`sync`)."""
        if self._file is None:
            self._open()
        assert self._file is not None
        record = json.dumps({"id": identity, "lines": lines}, ensure_ascii=False)
        self._file.write(record.encode("utf-8") + b"\n")
        self.seen.add(identity)
        self.lines_pending += len(lines)

    def sync(self) -> None:
        """Make everything appended so far durable."""
        if self._file is not None:
            self._file.flush()
            os.fsync(self._file.fileno())

    def rotate(self) -> Path | None:
        """Close the open segment and land it; returns the landed file (None if it held no
        reading line)."""
        if self._file is None:
            return None
        self.sync()
        self._file.close()
        segment, self._file, self._segment = self._segment, None, None
        self.lines_pending = 0
        assert segment is not None
        return self._land(segment)

    def close(self) -> None:
        """Close the open segment without landing it (it is landed at the next start)."""
        if self._file is not None:
            self.sync()
            self._file.close()
            self._file = None

    def _open(self) -> None:
        self.stream_dir.mkdir(parents=True, exist_ok=True)
        self._count += 1
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%fZ")
        self._segment = self.stream_dir / f"{stamp}-{os.getpid()}-{self._count}{SEGMENT_SUFFIX}"
        self._file = open(self._segment, "ab")
        _fsync_dir(self.stream_dir)

    def _land(self, segment: Path) -> Path | None:
        """Write the segment's lines as a dump (once), remember its identities, delete it."""
        target = self.target_dir / f"{segment.stem}.jsonl"
        ids, has_lines = _read_segment(segment, None)
        if has_lines and not target.exists():
            self.target_dir.mkdir(parents=True, exist_ok=True)
            part = target.with_name(target.name + ".part")
            with open(part, "wb") as out:
                _read_segment(segment, out)
                out.flush()
                os.fsync(out.fileno())
            os.replace(part, target)
            _fsync_dir(self.target_dir)
        for identity in ids:
            self.seen.add(identity)
        self.seen.save(self.seen_path)
        segment.unlink()
        _fsync_dir(self.stream_dir)
        return target if has_lines else None


def _read_segment(segment: Path, out: IO[bytes] | None) -> tuple[list[str], bool]:
    """The identities of a segment's complete records and whether they hold lines; with ``out``,
    their lines are written to it. A record that does not parse is a torn tail: skipped."""
    ids, has_lines = [], False
    with open(segment, "rb") as journal:
        for raw in journal:
            try:
                record = json.loads(raw)
                identity, lines = record["id"], record["lines"]
            except (ValueError, TypeError, KeyError):
                continue
            if not isinstance(identity, str) or not isinstance(lines, list):
                continue
            ids.append(identity)
            for line in lines:
                if isinstance(line, str):
                    has_lines = True
                    if out is not None:
                        out.write(line.encode("utf-8") + b"\n")
    return ids, has_lines


def _write_atomically(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "wb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())
    os.replace(tmp, path)
    _fsync_dir(path.parent)


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
