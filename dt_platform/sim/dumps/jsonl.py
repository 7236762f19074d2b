"""The MQTT bridge's JSON Lines dumps: one reading per line, written as Python's json would
(``NaN`` and ``Infinity`` included)."""

from __future__ import annotations

import numpy as np
import polars as pl

from dt_platform.sim.dumps.source import _format, _join_lines
from dt_platform.sim.dumps.writer import LINE_KINDS, NON_NUMERIC, UNKNOWN_TAGS, _GatewayWriter

JSONL_KINDS = (
    "non_numeric",
    "nan",
    "inf",
    "unknown_sensor",
    "wrong_column_count",
    "malformed_line",
    "naive_timestamp",
)


def _scatter(series: pl.Series, changes: dict[int, str]) -> pl.Series:
    if not changes:
        return series
    rows = sorted(changes)
    return series.scatter(rows, [changes[r] for r in rows])


class _JsonlWriter(_GatewayWriter):
    """JSON Lines: bad values, sensors and timestamps, broken lines, duplicated lines."""

    def _file(self, name: str, days: list[int], idx: list[int]):
        k, src, vals, oor, dec, tags, units = self._long(days, idx)
        n = k.size
        edits = self._long_edits(JSONL_KINDS, n, oor)
        counts = self._long_duplicates(oor, edits)
        val_edits, tag_edits, ts_edits = self._field_edits(edits, k)
        lines = self._lines(k, src, vals, dec, tags, units, (val_edits, tag_edits, ts_edits))
        lines = self._break_lines(lines, edits)
        first_pos = np.cumsum(counts) - counts
        body = lines.gather(np.repeat(np.arange(n), counts))
        data = _join_lines(body).encode("utf-8")
        items = [
            self._item(
                name,
                int(first_pos[r]) + 1,
                kind,
                k[r],
                src[r],
                None if kind in LINE_KINDS else str(tag_edits.get(r, tags[r])),
                lines[r],
            )
            for r, kind in edits.items()
        ]
        items += self._long_oor_items(name, counts, 1, k, src, oor, vals, tags, units)
        items += self._dup_items(name, counts, k, src, 1)
        return data, int(counts.sum()), n, items, k

    def _field_edits(
        self, edits: dict[int, str], k: np.ndarray
    ) -> tuple[dict[int, str], dict[int, str], dict[int, str]]:
        """The bad value, sensor or timestamp text of each edited reading (line-level kinds are
        applied to the finished line)."""
        val_edits, tag_edits, ts_edits = {}, {}, {}
        for r, kind in edits.items():
            if kind == "non_numeric":
                val_edits[r] = '"' + NON_NUMERIC[int(self.rng.integers(0, len(NON_NUMERIC)))] + '"'
            elif kind == "nan":
                val_edits[r] = "NaN"
            elif kind == "inf":
                val_edits[r] = ("Infinity", "-Infinity")[int(self.rng.integers(0, 2))]
            elif kind == "unknown_sensor":
                tag_edits[r] = UNKNOWN_TAGS[int(self.rng.integers(0, len(UNKNOWN_TAGS)))]
            elif kind == "naive_timestamp":
                ts_edits[r] = self.ts_naive[int(k[r])]
        return val_edits, tag_edits, ts_edits

    def _lines(self, k, src, vals, dec, tags, units, field_edits) -> pl.Series:
        """One JSON object per reading, with the field edits (value, sensor, timestamp) applied."""
        val_edits, tag_edits, ts_edits = field_edits
        machine = pl.Series([s.machine_id for s in self.sources])
        value_text = _scatter(_format(vals, dec), val_edits)
        ts_col = _scatter(self.ts_text.gather(k), ts_edits)
        tag_col = _scatter(pl.Series(tags.tolist(), dtype=pl.String), tag_edits)
        frame = pl.DataFrame(
            {
                "ts": ts_col,
                "m": machine.gather(src),
                "s": tag_col,
                "v": value_text,
                "u": pl.Series(units.tolist(), dtype=pl.String),
            }
        )
        lit = pl.lit
        return frame.select(
            pl.concat_str(
                [
                    lit('{"ts": "'),
                    pl.col("ts"),
                    lit('", "machine": "'),
                    pl.col("m"),
                    lit('", "sensor": "'),
                    pl.col("s"),
                    lit('", "value": '),
                    pl.col("v"),
                    lit(', "unit": "'),
                    pl.col("u"),
                    lit('"}'),
                ]
            )
        ).to_series()

    def _break_lines(self, lines: pl.Series, edits: dict[int, str]) -> pl.Series:
        """Drop the unit key (``wrong_column_count``) or truncate the line (``malformed_line``)."""
        line_rows = sorted(
            r for r, kind in edits.items() if kind in LINE_KINDS - {"naive_timestamp"}
        )
        if not line_rows:
            return lines
        texts = []
        for r in line_rows:
            line = lines[r]
            if edits[r] == "wrong_column_count":
                texts.append(line[: line.index(', "unit"')] + "}")
            else:
                texts.append(line[: -int(self.rng.integers(5, 20))])
        return lines.scatter(line_rows, texts)
