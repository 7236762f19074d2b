"""The historian's long Parquet dumps: one reading per row, a timezone-aware ``ts`` column."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa

from dt_platform.sim.dumps.writer import UNKNOWN_TAGS, _GatewayWriter
from dt_platform.sim.files import atomic_write_parquet

PARQUET_KINDS = ("nan", "inf", "unknown_sensor")
PARQUET_SCHEMA_FIELDS = ("machine_id", "sensor", "unit", "ts", "value")


class _ParquetWriter(_GatewayWriter):
    """Long Parquet: NaN and infinite values, unknown sensors, duplicated rows."""

    def _store(self, path: Path, payload: pa.Table) -> None:
        atomic_write_parquet(path, payload)

    def _file(self, name: str, days: list[int], idx: list[int]):
        k, src, vals, oor, _, tags, units = self._long(days, idx)
        n = k.size
        edits = self._long_edits(PARQUET_KINDS, n, oor)
        counts = self._long_duplicates(oor, edits)
        vals = vals.copy()
        tags = tags.copy()
        for r, kind in edits.items():
            if kind == "nan":
                vals[r] = np.nan
            elif kind == "inf":
                vals[r] = np.inf if self.rng.random() < 0.5 else -np.inf
            else:
                tags[r] = UNKNOWN_TAGS[int(self.rng.integers(0, len(UNKNOWN_TAGS)))]
        order = np.repeat(np.arange(n), counts)
        machine_ids = np.asarray([s.machine_id for s in self.sources], dtype=object)
        table = pa.table(
            {
                "machine_id": pa.array(machine_ids[src[order]].tolist(), pa.string()),
                "sensor": pa.array(tags[order].tolist(), pa.string()),
                "unit": pa.array(units[order].tolist(), pa.string()),
                "ts": pa.array(self.t[k[order]] * 1_000_000, pa.timestamp("us", tz=self.gw.zone)),
                "value": pa.array(vals[order], pa.float64()),
            }
        )
        first_pos = np.cumsum(counts) - counts
        items = [
            self._item(
                name,
                int(first_pos[r]),
                kind,
                k[r],
                src[r],
                str(tags[r]),
                f"value {vals[r]}" if kind != "unknown_sensor" else f"sensor {tags[r]}",
            )
            for r, kind in edits.items()
        ]
        items += self._long_oor_items(name, counts, 0, k, src, oor, vals, tags, units)
        items += self._dup_items(name, counts, k, src, 0)
        return table, int(counts.sum()), n, items, k
