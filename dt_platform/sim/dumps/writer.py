"""One gateway's dumps: which files it writes (a file per day and family, a late backfill after
an outage), the rows each holds, the duplicated lines and the re-delivered file; each format's
writer (a subclass) turns the rows into a file's bytes and logs what it injected."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from dt_platform.sim.config import SimConfig, rng_for
from dt_platform.sim.dumps.records import FileRecord, InjectedItem
from dt_platform.sim.dumps.source import _day_keys, _source, _timestamps
from dt_platform.sim.files import atomic_write_bytes
from dt_platform.sim.gateways import Gateway

if TYPE_CHECKING:
    from dt_platform.sim.line import MachineRun
    from dt_platform.sim.sensors import Observed

LINE_KINDS = {"wrong_column_count", "naive_timestamp", "malformed_line"}
NON_NUMERIC = ("ERR", "n/a", "#VALUE!", "--")
UNKNOWN_TAGS = ("aux_temp", "spindle_tmp", "vib_rms_x", "door_open", "sensor_17")


class _GatewayWriter:
    """Write one gateway's dumps; ``files`` and ``injected`` log what was written."""

    def __init__(
        self,
        gw: Gateway,
        index: int,
        members: list[tuple[MachineRun, Observed]],
        config: SimConfig,
        out_dir: Path,
    ) -> None:
        self.gw = gw
        self.config = config
        self.out_dir = out_dir
        self.rng = rng_for(config.seed, 100, index)
        self.runs = [r for r, _ in members]
        self.sources = [_source(r, o, gw) for r, o in members]
        self.t = self.runs[0].t
        self.interval = config.interval_s
        self.day_keys = _day_keys(self.t, gw.zone)
        self.ts_text, self.ts_naive = _timestamps(self.t, gw.zone, zulu=gw.zone == "UTC")
        self.files: list[FileRecord] = []
        self.injected: list[InjectedItem] = []

    # --- grouping -------------------------------------------------------------------------------
    def groups(self) -> list[tuple[str, str, list[int], list[int]]]:
        """(file name, kind, day keys, source indices) of every file to write, in order."""
        days = [int(d) for d in np.unique(self.day_keys)]
        outage: list[int] = []
        if self.rng.random() < self.config.outage_prob and len(days) >= 4:
            length = int(self.rng.integers(1, 3))
            first = int(self.rng.integers(1, len(days) - length))
            outage = days[first : first + length]
        # the gateway catches up after it has sent the next day live: its backfill is late
        self.backfill_delay_s = 86400 + int(self.rng.integers(1, 13)) * 3600
        if self.gw.fmt == "csv":
            by_type: dict[str, list[int]] = {}
            for i, run in enumerate(self.runs):
                by_type.setdefault(run.spec.type, []).append(i)
            families = [
                (f"{self.gw.prefix}_{mtype}", idx) for mtype, idx in sorted(by_type.items())
            ]
        else:
            families = [(self.gw.prefix, list(range(len(self.runs))))]
        ext = {"csv": ".csv", "jsonl": ".jsonl", "parquet": ".parquet"}[self.gw.fmt]
        out = []
        for stem, idx in families:
            for d in days:
                if d not in outage:
                    out.append((f"{stem}_{d}{ext}", "regular", [d], idx))
            if outage:
                out.append(
                    (f"{stem}_backfill_{outage[0]}_{outage[-1]}{ext}", "backfill", outage, idx)
                )
        return out

    def _rows(self, days: list[int], idx: list[int], wide: bool) -> tuple:
        in_days = np.isin(self.day_keys, days)
        ks, srcs, js = [], [], []
        for s in idx:
            src = self.sources[s]
            present = src.present & in_days[:, None]
            if wide:
                rows = np.flatnonzero(present.any(axis=1))
                ks.append(rows)
                srcs.append(np.full(rows.size, s))
            else:
                k, j = np.nonzero(present)
                ks.append(k)
                srcs.append(np.full(k.size, s))
                js.append(j)
        k = np.concatenate(ks) if ks else np.zeros(0, dtype=np.int64)
        src = np.concatenate(srcs) if srcs else np.zeros(0, dtype=np.int64)
        if wide:
            order = np.lexsort((src, k))
            return k[order], src[order]
        j = np.concatenate(js) if js else np.zeros(0, dtype=np.int64)
        order = np.lexsort((j, src, k))
        return k[order], src[order], j[order]

    # --- common injection helpers ---------------------------------------------------------------
    def _pick(self, n_candidates: int, n_readings: int, rate: float) -> np.ndarray:
        n = int(self.rng.binomial(n_readings, rate)) if rate > 0 else 0
        n = min(n, n_candidates)
        if n == 0:
            return np.zeros(0, dtype=np.int64)
        return np.sort(self.rng.choice(n_candidates, n, replace=False))

    def _duplicates(self, clean_rows: np.ndarray, n_rows: int) -> np.ndarray:
        counts = np.ones(n_rows, dtype=np.int64)
        picks = self._pick(clean_rows.size, n_rows, self.config.dup_rate)
        counts[clean_rows[picks]] = 2
        return counts

    def _item(
        self, name: str, line: int, kind: str, step, source, sensor: str | None, detail: str
    ) -> InjectedItem:
        """One logged item of ``name``: the reading of source ``source`` at grid step ``step``."""
        return InjectedItem(
            name, line, kind, self.sources[source].machine_id, sensor, int(self.t[step]), detail
        )

    def _dup_items(self, name, counts, k, src, first_line) -> list[InjectedItem]:
        first_pos = np.cumsum(counts) - counts
        items = []
        for r in np.flatnonzero(counts == 2):
            original = int(first_pos[r]) + first_line
            items.append(
                self._item(
                    name,
                    original + 1,
                    "duplicate_line",
                    k[r],
                    src[r],
                    None,
                    f"repeats line {original}",
                )
            )
        return items

    def _long(self, days: list[int], idx: list[int]):
        k, src, j = self._rows(days, idx, wide=False)
        vals = np.empty(k.size)
        oor = np.zeros(k.size, dtype=bool)
        dec = np.zeros(k.size, dtype=np.int64)
        tags = np.empty(k.size, dtype=object)
        units = np.empty(k.size, dtype=object)
        for s in idx:
            rows = np.flatnonzero(src == s)
            source = self.sources[s]
            vals[rows] = source.values[k[rows], j[rows]]
            oor[rows] = source.out_of_range[k[rows], j[rows]]
            dec[rows] = source.decimals[j[rows]]
            tags[rows] = np.asarray(source.tags, dtype=object)[j[rows]]
            units[rows] = np.asarray(source.units, dtype=object)[j[rows]]
        return k, src, vals, oor, dec, tags, units

    def _long_edits(self, kinds_list, n, oor):
        candidates = np.flatnonzero(~oor)
        picks = candidates[self._pick(candidates.size, n, self.config.bad_rate)]
        kinds = [kinds_list[i] for i in self.rng.choice(len(kinds_list), picks.size)]
        return dict(zip((int(p) for p in picks), kinds, strict=True))

    def _long_duplicates(self, oor: np.ndarray, edits: dict[int, str]) -> np.ndarray:
        """How often each reading of a long file is written: lines neither bad nor out of range
        may be repeated."""
        n = oor.size
        return self._duplicates(np.flatnonzero(~oor & ~np.isin(np.arange(n), list(edits))), n)

    def _long_oor_items(
        self, name, counts, first_line, k, src, oor, vals, tags, units
    ) -> list[InjectedItem]:
        """The out-of-range readings of a long file, at their line (``first_line``: the first
        row's number)."""
        first_pos = np.cumsum(counts) - counts
        return [
            self._item(
                name,
                int(first_pos[r]) + first_line,
                "out_of_range",
                k[r],
                src[r],
                str(tags[r]),
                f"value {vals[r]} {units[r]}",
            )
            for r in np.flatnonzero(oor)
        ]

    # --- writing --------------------------------------------------------------------------------
    def _file(self, name: str, days: list[int], idx: list[int]) -> tuple:
        """(payload, data lines, readings, injected items, grid steps of the rows) of one file."""
        raise NotImplementedError

    def _store(self, path: Path, payload) -> None:
        atomic_write_bytes(path, payload)

    def write(self) -> None:
        """Write every file of ``groups()``, then maybe send one regular file again."""
        groups = self.groups()
        regular: list[FileRecord] = []
        for name, kind, days, idx in groups:
            rel = f"{self.gw.name}/{name}"
            path = self.out_dir / self.gw.name / name
            payload, lines, readings, items, k = self._file(rel, days, idx)
            if k.size == 0:
                continue  # nothing arrived from these machines on these days: no file
            self._store(path, payload)
            first_s = int(self.t[k.min()]) if k.size else 0
            last_s = int(self.t[k.max()]) if k.size else 0
            last_day = np.flatnonzero(np.isin(self.day_keys, days))
            covered_end = int(self.t[last_day.max()]) + self.interval if last_day.size else 0
            delay = 600 if kind == "regular" else self.backfill_delay_s
            record = FileRecord(
                rel,
                self.gw.name,
                self.gw.fmt,
                kind,
                first_s,
                last_s,
                lines,
                readings,
                covered_end + delay,
                hashlib.sha256(path.read_bytes()).hexdigest(),
            )
            self.files.append(record)
            self.injected.extend(items)
            if kind == "regular" and k.size:
                regular.append(record)
        if regular and self.rng.random() < self.config.redelivery_prob:
            self._redeliver(regular[int(self.rng.integers(0, len(regular)))])

    def _redeliver(self, original: FileRecord) -> None:
        """Send ``original`` again under a second name (``*_resent``)."""
        src_path = self.out_dir / original.file
        stem, dot, ext = src_path.name.rpartition(".")
        copy_name = f"{stem}_resent{dot}{ext}"
        rel = f"{self.gw.name}/{copy_name}"
        atomic_write_bytes(src_path.with_name(copy_name), src_path.read_bytes())
        self.files.append(
            FileRecord(
                rel,
                self.gw.name,
                self.gw.fmt,
                "redelivery",
                original.first_s,
                original.last_s,
                original.data_lines,
                original.readings,
                original.delivered_s + 3 * 3600,
                original.sha256,
            )
        )
        self.injected.append(
            InjectedItem(rel, None, "duplicate_file", None, None, None, f"copy of {original.file}")
        )
