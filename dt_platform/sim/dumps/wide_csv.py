"""The OPC UA exporter's wide CSV dumps: one line per machine and time, one column per sensor."""

from __future__ import annotations

import numpy as np
import polars as pl

from dt_platform.sim.dumps.source import _format, _join_lines, _Source
from dt_platform.sim.dumps.writer import LINE_KINDS, NON_NUMERIC, _GatewayWriter

CSV_KINDS = ("non_numeric", "nan", "inf", "wrong_column_count", "naive_timestamp")


class _CsvWriter(_GatewayWriter):
    """Wide CSV: bad cells and broken lines, duplicated lines, a header line."""

    def _file(self, name: str, days: list[int], idx: list[int]):
        k, src = self._rows(days, idx, wide=True)
        first = self.sources[idx[0]]
        n_rows = k.size
        vals, oor = self._cells(k, src, idx, len(first.tags))
        readings = int(np.isfinite(vals).sum())
        cell_edits, line_edits = self._edits(vals, oor, readings)
        dirty = oor.any(axis=1)
        dirty[list(line_edits)] = True
        dirty[[r for r, _ in cell_edits]] = True
        counts = self._duplicates(np.flatnonzero(~dirty), n_rows)
        lines = self._break_lines(self._lines(k, src, vals, first, cell_edits), line_edits, k)

        first_pos = np.cumsum(counts) - counts
        header = ",".join(
            ["timestamp", "machine_id"]
            + [f"{tag} [{unit}]" for tag, unit in zip(first.tags, first.units, strict=True)]
        )
        body = lines.gather(np.repeat(np.arange(n_rows), counts))
        data = (header + "\n" + _join_lines(body)).encode("utf-8")

        items = [
            self._item(
                name, int(first_pos[r]) + 2, kind, k[r], src[r], first.tags[c], f'value "{text}"'
            )
            for (r, c), (kind, text) in cell_edits.items()
        ]
        items += [
            self._item(name, int(first_pos[r]) + 2, kind, k[r], src[r], None, lines[r])
            for r, kind in line_edits.items()
        ]
        items += [
            self._item(
                name,
                int(first_pos[r]) + 2,
                "out_of_range",
                k[r],
                src[r],
                first.tags[c],
                f"value {vals[r, c]} {first.units[c]}",
            )
            for r, c in zip(*np.nonzero(oor), strict=True)
        ]
        items += self._dup_items(name, counts, k, src, 2)
        return data, int(counts.sum()), readings, items, k

    def _cells(
        self, k: np.ndarray, src: np.ndarray, idx: list[int], n_cols: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """(values, out of range) per row and sensor column; NaN where nothing was sent."""
        n_rows = k.size
        vals = np.full((n_rows, n_cols), np.nan)
        oor = np.zeros((n_rows, n_cols), dtype=bool)
        for s in idx:
            rows = np.flatnonzero(src == s)
            source = self.sources[s]
            cells = source.values[k[rows]]
            vals[rows] = np.where(source.present[k[rows]], cells, np.nan)
            oor[rows] = source.out_of_range[k[rows]] & source.present[k[rows]]
        return vals, oor

    def _edits(
        self, vals: np.ndarray, oor: np.ndarray, readings: int
    ) -> tuple[dict[tuple[int, int], tuple[str, str]], dict[int, str]]:
        """Bad items: pick readings, then decide cell- or line-level by kind. Returns the cell
        edits ((row, column) → (kind, text)) and the line edits (row → kind)."""
        n_cols = vals.shape[1]
        present = np.isfinite(vals)
        row_has_oor = oor.any(axis=1)
        candidates = np.flatnonzero((present & ~oor).ravel())
        picks = candidates[self._pick(candidates.size, readings, self.config.bad_rate)]
        kinds = self.rng.choice(len(CSV_KINDS), picks.size)
        cell_edits: dict[tuple[int, int], tuple[str, str]] = {}
        line_edits: dict[int, str] = {}
        for flat, kind_i in zip(picks, kinds, strict=True):
            row, col = divmod(int(flat), n_cols)
            kind = CSV_KINDS[kind_i]
            if row in line_edits:
                continue
            if kind in LINE_KINDS:
                if row_has_oor[row] or any(r == row for r, _ in cell_edits):
                    continue
                line_edits[row] = kind
            else:
                text = {
                    "non_numeric": NON_NUMERIC[int(self.rng.integers(0, len(NON_NUMERIC)))],
                    "nan": "NaN",
                    "inf": ("inf", "-inf", "Infinity")[int(self.rng.integers(0, 3))],
                }[kind]
                cell_edits[(row, col)] = (kind, text)
        return cell_edits, line_edits

    def _lines(
        self,
        k: np.ndarray,
        src: np.ndarray,
        vals: np.ndarray,
        first: _Source,
        cell_edits: dict[tuple[int, int], tuple[str, str]],
    ) -> pl.Series:
        """One line per row: timestamp, machine and the cells as text, with the cell edits."""
        n_rows, n_cols = vals.shape
        columns = []
        for col in range(n_cols):
            decimals = np.full(n_rows, first.decimals[col])
            text = _format(vals[:, col], decimals)
            edits = [(r, t) for (r, c), (_, t) in cell_edits.items() if c == col]
            if edits:
                text = text.scatter([r for r, _ in edits], [t for _, t in edits])
            columns.append(text.fill_null(""))
        machine = pl.Series([self.sources[s].machine_id for s in range(len(self.sources))])
        frame = pl.DataFrame(
            {"ts": self.ts_text.gather(k), "m": machine.gather(src)}
            | {f"c{i}": c for i, c in enumerate(columns)}
        )
        return frame.select(pl.concat_str(pl.all(), separator=",")).to_series()

    def _break_lines(
        self, lines: pl.Series, line_edits: dict[int, str], k: np.ndarray
    ) -> pl.Series:
        """A field missing or one too many (``wrong_column_count``), or the timestamp without its
        offset (``naive_timestamp``)."""
        if not line_edits:
            return lines
        rows = sorted(line_edits)
        texts = []
        for r in rows:
            line = lines[r]
            if line_edits[r] == "wrong_column_count":
                texts.append(line.rsplit(",", 1)[0] if self.rng.random() < 0.5 else line + ",0")
            else:
                texts.append(self.ts_naive[int(k[r])] + line[line.index(",") :])
        return lines.scatter(rows, texts)
