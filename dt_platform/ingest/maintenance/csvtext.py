"""Split an export's bytes into records, one line at a time, so that one bad line costs only
itself.

Lines end at ``\\n``, ``\\r\\n`` or ``\\r``; each line is decoded as UTF-8 on its own (a BOM in
front of the header, or of any line, is dropped). A record is one line, unless a quoted field
holds line breaks (RFC 4180). A quote that does not close — at the end of the file, or before a
line that is a complete work order on its own — is *unbalanced*: only its own line is rejected,
and reading starts again at the next line, so it can never swallow the work orders after it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

_BREAK = re.compile(rb"\r\n|\n|\r")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f]")  # C0 controls except tab (and the line breaks)
MAX_RECORD_LINES = 200
"""Lines one quoted field may span before its opening quote counts as unbalanced."""


@dataclass
class Record:
    """One record of an export: its fields, or why it has none. ``line`` is the 1-based line the
    record starts on (the header is line 1)."""

    line: int
    raw: str
    fields: list[str] | None = None
    reason: str | None = None
    detail: str | None = None


class _Malformed(ValueError):
    pass


def physical_lines(data: bytes) -> list[bytes]:
    """The lines of ``data`` without their line breaks (a final break ends the last line)."""
    lines = _BREAK.split(data)
    if lines and lines[-1] == b"":
        lines.pop()
    return lines


def decode(line: bytes) -> str | None:
    """The line as text, or None when it is not UTF-8."""
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError:
        return None
    return text.removeprefix("\ufeff")


def lossy(line: bytes) -> str:
    """A line that is not UTF-8, with its bad bytes shown as ``\\xNN``."""
    return line.decode("utf-8", errors="backslashreplace").removeprefix("\ufeff")


def encoding_detail(line: bytes) -> str:
    if line.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "UTF-16 (byte-order mark FF FE); export the file as UTF-8"
    try:
        line.decode("utf-8")
    except UnicodeDecodeError as exc:
        return f"byte 0x{line[exc.start]:02X} at column {exc.start + 1} is not UTF-8"
    return "not UTF-8"


def _scan(text: str, fields: list[str], quoted: list[str] | None) -> list[str] | None:
    """Append the fields of ``text`` to ``fields``. ``quoted`` is a quoted field left open by the
    previous line; returns the field left open at the end of this line, or None."""
    pos, end = 0, len(text)
    while True:
        if quoted is None:
            if pos < end and text[pos] == '"':
                quoted, pos = [], pos + 1
            else:
                comma = text.find(",", pos)
                if comma < 0:
                    fields.append(text[pos:])
                    return None
                fields.append(text[pos:comma])
                pos = comma + 1
                continue
        close = text.find('"', pos)
        if close < 0:
            quoted.append(text[pos:])
            return quoted
        if text.startswith('"', close + 1):  # a doubled quote is a literal quote
            quoted.append(text[pos : close + 1])
            pos = close + 2
            continue
        quoted.append(text[pos:close])
        fields.append("".join(quoted))
        quoted, pos = None, close + 1
        if pos == end:
            return None
        if text[pos] != ",":
            raise _Malformed(f"text after a closing quote at column {pos + 1}")
        pos += 1


def split_line(text: str) -> list[str] | None:
    """The fields of one line that is a complete record, or None."""
    fields: list[str] = []
    try:
        if _scan(text, fields, None) is not None:
            return None
    except _Malformed:
        return None
    return fields


def _looks_like_a_record(text: str | None, width: int) -> bool:
    if text is None:
        return False
    fields = split_line(text)
    return fields is not None and len(fields) == width and bool(fields[0].strip())


def records(lines: list[bytes], start: int, width: int) -> Iterator[Record]:
    """The records from ``lines[start]`` on; blank lines (only spaces and commas) are skipped."""
    i = start
    while i < len(lines):
        record, i = _next_record(lines, i, width)
        if record is not None:
            yield record


def _next_record(lines: list[bytes], i: int, width: int) -> tuple[Record | None, int]:
    text = decode(lines[i])
    if text is None:
        return Record(
            i + 1, lossy(lines[i]), None, "bad_encoding", encoding_detail(lines[i])
        ), i + 1
    fields: list[str] = []
    try:
        open_field = _scan(text, fields, None)
    except _Malformed as exc:
        return Record(i + 1, text, None, "malformed_line", str(exc)), i + 1
    j, texts = i, [text]
    while open_field is not None:
        j += 1
        nxt = decode(lines[j]) if j < len(lines) else None
        if nxt is None or j - i >= MAX_RECORD_LINES or _looks_like_a_record(nxt, width):
            return _unbalanced(i, text, j, len(lines)), i + 1
        open_field.append("\n")
        texts.append(nxt)
        try:
            open_field = _scan(nxt, fields, open_field)
        except _Malformed:
            return _unbalanced(i, text, j, len(lines)), i + 1
    if j > i and len(fields) != width:
        return _unbalanced(i, text, j, len(lines)), i + 1
    raw = "\n".join(texts)
    if not any(f.strip() for f in fields):
        return None, j + 1
    control = next((m for f in fields if (m := _CONTROL.search(f))), None)
    if control is not None:
        code = f"U+{ord(control.group()):04X}"
        return Record(i + 1, raw, None, "malformed_line", f"control character {code}"), j + 1
    return Record(i + 1, raw, fields), j + 1


def _unbalanced(i: int, text: str, j: int, n_lines: int) -> Record:
    where = "the end of the file" if j >= n_lines else f"line {j + 1}"
    return Record(
        i + 1,
        text,
        None,
        "unbalanced_quote",
        f"a quoted field opens on this line and does not close before {where}; "
        "the lines after it are read on their own",
    )
