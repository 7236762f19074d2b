"""Gateways: how readings reach ``landing/`` as dumps (formats of docs/dumps.md).

Three gateways, each machine assigned to one:

* ``gw-opcua`` — OPC UA exporter: wide CSV, one file per machine type and local day,
  timestamps with the plant's ``+08:00`` offset, canonical units.
* ``gw-mqtt`` — MQTT bridge: JSON Lines, one reading per line, one file per UTC day, ``Z``
  timestamps, temperatures in °F (``delta_tj`` stays in K: a temperature *difference*).
* ``gw-historian`` — historian export: long Parquet, one file per Europe/Berlin day, a
  timezone-aware ``ts`` column in that zone, pressure in bar and voltage in mV.

Realism the ingestion must handle, all logged in the ground truth with file and line (CSV: the
header is line 1; JSONL: first line is 1; Parquet: 0-based row index): duplicated lines inside a
file, a file delivered twice under a second name (``*_resent``), an offline gateway delivering its
days late in one ``*_backfill_<from>_<to>`` file, and bad input at ``bad_rate`` per reading.

Kinds in ``injected.parquet`` (``sensor`` is set when one reading is bad, null when the line is):

* CSV: ``non_numeric`` (``ERR``, ``n/a``, ``#VALUE!``, ``--``), ``nan``, ``inf`` (cells);
  ``wrong_column_count`` (a field missing or one too many), ``naive_timestamp`` (lines).
* JSON Lines: ``non_numeric`` (a string value), ``nan`` / ``inf`` (the ``NaN`` / ``Infinity``
  literals Python's json writes: not strict JSON, so parse line by line), ``unknown_sensor``,
  ``wrong_column_count`` (the ``unit`` key missing), ``malformed_line`` (truncated JSON),
  ``naive_timestamp``.
* Parquet: ``nan``, ``inf``, ``unknown_sensor``.
* All: ``out_of_range`` (an implausible sensor spike, outside the catalogue range after unit
  conversion), ``duplicate_line`` (an exact copy right after the original; the copy's line is
  logged), ``duplicate_file`` (a whole file sent again under ``*_resent``; line null).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import polars as pl
import pyarrow as pa

from dt_platform.catalog import MACHINE_TYPES, QUANTITIES, Sensor
from dt_platform.sim.config import SimConfig, rng_for
from dt_platform.sim.files import atomic_write_bytes, atomic_write_parquet

if TYPE_CHECKING:
    from dt_platform.sim.line import MachineRun
    from dt_platform.sim.sensors import Observed


@dataclass(frozen=True)
class Gateway:
    name: str
    fmt: str
    prefix: str
    zone: str
    units: tuple[tuple[str, str], ...] = ()
    """(quantity, unit) pairs where the gateway does not send the canonical unit."""

    def unit_for(self, sensor: Sensor) -> str:
        return dict(self.units).get(sensor.quantity, sensor.unit)


GATEWAYS: tuple[Gateway, ...] = (
    Gateway("gw-opcua", "csv", "opcua", "Asia/Shanghai"),
    Gateway("gw-mqtt", "jsonl", "mqtt", "UTC", (("temperature", "degF"),)),
    Gateway(
        "gw-historian",
        "parquet",
        "historian",
        "Europe/Berlin",
        (("pressure", "bar"), ("voltage", "mV")),
    ),
)

CSV_KINDS = ("non_numeric", "nan", "inf", "wrong_column_count", "naive_timestamp")
JSONL_KINDS = (
    "non_numeric",
    "nan",
    "inf",
    "unknown_sensor",
    "wrong_column_count",
    "malformed_line",
    "naive_timestamp",
)
PARQUET_KINDS = ("nan", "inf", "unknown_sensor")
LINE_KINDS = {"wrong_column_count", "naive_timestamp", "malformed_line"}
NON_NUMERIC = ("ERR", "n/a", "#VALUE!", "--")
UNKNOWN_TAGS = ("aux_temp", "spindle_tmp", "vib_rms_x", "door_open", "sensor_17")
PARQUET_SCHEMA_FIELDS = ("machine_id", "sensor", "unit", "ts", "value")


@dataclass(frozen=True)
class InjectedItem:
    """One bad or duplicated item in a dump, as the platform should find it."""

    file: str
    """Path relative to the output folder, with ``/``."""
    line: int | None
    kind: str
    machine_id: str | None
    sensor: str | None
    ts_s: int | None
    detail: str


@dataclass(frozen=True)
class FileRecord:
    file: str
    gateway: str
    format: str
    kind: str
    """``regular``, ``backfill`` or ``redelivery``."""
    first_s: int
    last_s: int
    data_lines: int
    readings: int
    delivered_s: int
    sha256: str


@dataclass
class _Source:
    """One machine's readings as a gateway sends them (its units, rounded)."""

    machine_id: str
    tags: list[str]
    units: list[str]
    decimals: np.ndarray
    values: np.ndarray
    present: np.ndarray
    out_of_range: np.ndarray


def _decimals(base: int, scale: float) -> int:
    return max(0, base + round(float(np.log10(scale))))


def _source(run: MachineRun, obs: Observed, gw: Gateway) -> _Source:
    model = run.spec.model
    mtype = MACHINE_TYPES[model.type_name]
    values = np.empty_like(obs.values)
    oor = np.zeros(values.shape, dtype=bool)
    tags, units, decimals = [], [], []
    for j, spec in enumerate(model.sensors):
        sensor = mtype.sensor_by_tag(spec.tag)
        unit = gw.unit_for(sensor)
        scale, offset = QUANTITIES[sensor.quantity].conversions[unit]
        d = _decimals(spec.decimals, scale)
        col = np.round((obs.values[:, j] - offset) / scale, d) + 0.0
        values[:, j] = col
        back = col * scale + offset
        oor[:, j] = np.isfinite(col) & ((back < sensor.low) | (back > sensor.high))
        tags.append(spec.tag)
        units.append(unit)
        decimals.append(d)
    present = np.isfinite(values) & ~obs.line_missing[:, None]
    return _Source(run.spec.machine_id, tags, units, np.asarray(decimals), values, present, oor)


def _day_keys(t: np.ndarray, zone: str) -> np.ndarray:
    local = pl.from_epoch(pl.Series(t), time_unit="s").dt.replace_time_zone("UTC")
    return local.dt.convert_time_zone(zone).dt.strftime("%Y%m%d").cast(pl.Int64).to_numpy()


def _timestamps(t: np.ndarray, zone: str, zulu: bool) -> tuple[pl.Series, pl.Series]:
    """ISO 8601 text per grid step with its offset, and the same without (a 'naive' error)."""
    local = pl.from_epoch(pl.Series(t), time_unit="s").dt.replace_time_zone("UTC")
    local = local.dt.convert_time_zone(zone)
    naive = local.dt.strftime("%Y-%m-%dT%H:%M:%S")
    aware = naive + "Z" if zulu else local.dt.strftime("%Y-%m-%dT%H:%M:%S%:z")
    return aware, naive


def _format(values: np.ndarray, decimals: np.ndarray) -> pl.Series:
    """Numbers as text: integers without a decimal point, others in shortest form."""
    frame = pl.DataFrame({"v": values, "d": decimals}).with_columns(pl.col("v").fill_nan(None))
    return frame.select(
        pl.when(pl.col("d") == 0)
        .then(pl.col("v").round(0).cast(pl.Int64).cast(pl.String))
        .otherwise(pl.col("v").cast(pl.String))
    ).to_series()


def _join_lines(lines: pl.Series) -> str:
    return lines.str.join("\n").item() + "\n" if lines.len() else ""


class _GatewayWriter:
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

    def _dup_items(self, name, counts, k, src, first_line) -> list[InjectedItem]:
        first_pos = np.cumsum(counts) - counts
        items = []
        for r in np.flatnonzero(counts == 2):
            original = int(first_pos[r]) + first_line
            items.append(
                InjectedItem(
                    name,
                    original + 1,
                    "duplicate_line",
                    self.sources[src[r]].machine_id,
                    None,
                    int(self.t[k[r]]),
                    f"repeats line {original}",
                )
            )
        return items

    # --- formats --------------------------------------------------------------------------------
    def _csv(self, name: str, days: list[int], idx: list[int]):
        k, src = self._rows(days, idx, wide=True)
        first = self.sources[idx[0]]
        n_rows, n_cols = k.size, len(first.tags)
        vals = np.full((n_rows, n_cols), np.nan)
        oor = np.zeros((n_rows, n_cols), dtype=bool)
        for s in idx:
            rows = np.flatnonzero(src == s)
            source = self.sources[s]
            cells = source.values[k[rows]]
            vals[rows] = np.where(source.present[k[rows]], cells, np.nan)
            oor[rows] = source.out_of_range[k[rows]] & source.present[k[rows]]
        present = np.isfinite(vals)
        readings = int(present.sum())
        row_has_oor = oor.any(axis=1)

        # bad items: pick readings, then decide cell- or line-level by kind
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
        dirty = row_has_oor.copy()
        dirty[list(line_edits)] = True
        dirty[[r for r, _ in cell_edits]] = True
        counts = self._duplicates(np.flatnonzero(~dirty), n_rows)

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
        lines = frame.select(pl.concat_str(pl.all(), separator=",")).to_series()
        if line_edits:
            rows = sorted(line_edits)
            texts = []
            for r in rows:
                line = lines[r]
                if line_edits[r] == "wrong_column_count":
                    texts.append(line.rsplit(",", 1)[0] if self.rng.random() < 0.5 else line + ",0")
                else:
                    texts.append(self.ts_naive[int(k[r])] + line[line.index(",") :])
            lines = lines.scatter(rows, texts)

        first_pos = np.cumsum(counts) - counts
        header = ",".join(
            ["timestamp", "machine_id"]
            + [f"{tag} [{unit}]" for tag, unit in zip(first.tags, first.units, strict=True)]
        )
        body = lines.gather(np.repeat(np.arange(n_rows), counts))
        data = (header + "\n" + _join_lines(body)).encode("utf-8")

        items = []
        for (r, c), (kind, text) in cell_edits.items():
            items.append(
                InjectedItem(
                    name,
                    int(first_pos[r]) + 2,
                    kind,
                    self.sources[src[r]].machine_id,
                    first.tags[c],
                    int(self.t[k[r]]),
                    f'value "{text}"',
                )
            )
        for r, kind in line_edits.items():
            items.append(
                InjectedItem(
                    name,
                    int(first_pos[r]) + 2,
                    kind,
                    self.sources[src[r]].machine_id,
                    None,
                    int(self.t[k[r]]),
                    lines[r],
                )
            )
        for r, c in zip(*np.nonzero(oor), strict=True):
            items.append(
                InjectedItem(
                    name,
                    int(first_pos[r]) + 2,
                    "out_of_range",
                    self.sources[src[r]].machine_id,
                    first.tags[c],
                    int(self.t[k[r]]),
                    f"value {vals[r, c]} {first.units[c]}",
                )
            )
        items += self._dup_items(name, counts, k, src, 2)
        return data, int(counts.sum()), readings, items, k

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

    def _jsonl(self, name: str, days: list[int], idx: list[int]):
        k, src, vals, oor, dec, tags, units = self._long(days, idx)
        n = k.size
        edits = self._long_edits(JSONL_KINDS, n, oor)
        counts = self._duplicates(np.flatnonzero(~oor & ~np.isin(np.arange(n), list(edits))), n)
        machine = pl.Series([s.machine_id for s in self.sources])
        value_text = _format(vals, dec)
        ts_col = self.ts_text.gather(k)
        tag_col = pl.Series(tags.tolist(), dtype=pl.String)
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
        for col, changes in ((0, val_edits), (1, tag_edits), (2, ts_edits)):
            if changes:
                rows = sorted(changes)
                new = [changes[r] for r in rows]
                if col == 0:
                    value_text = value_text.scatter(rows, new)
                elif col == 1:
                    tag_col = tag_col.scatter(rows, new)
                else:
                    ts_col = ts_col.scatter(rows, new)
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
        lines = frame.select(
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
        line_rows = sorted(
            r for r, kind in edits.items() if kind in LINE_KINDS - {"naive_timestamp"}
        )
        if line_rows:
            texts = []
            for r in line_rows:
                line = lines[r]
                if edits[r] == "wrong_column_count":
                    texts.append(line[: line.index(', "unit"')] + "}")
                else:
                    texts.append(line[: -int(self.rng.integers(5, 20))])
            lines = lines.scatter(line_rows, texts)
        first_pos = np.cumsum(counts) - counts
        body = lines.gather(np.repeat(np.arange(n), counts))
        data = _join_lines(body).encode("utf-8")
        items = []
        for r, kind in edits.items():
            sensor = None if kind in LINE_KINDS else str(tag_edits.get(r, tags[r]))
            items.append(
                InjectedItem(
                    name,
                    int(first_pos[r]) + 1,
                    kind,
                    self.sources[src[r]].machine_id,
                    sensor,
                    int(self.t[k[r]]),
                    lines[r],
                )
            )
        for r in np.flatnonzero(oor):
            items.append(
                InjectedItem(
                    name,
                    int(first_pos[r]) + 1,
                    "out_of_range",
                    self.sources[src[r]].machine_id,
                    str(tags[r]),
                    int(self.t[k[r]]),
                    f"value {vals[r]} {units[r]}",
                )
            )
        items += self._dup_items(name, counts, k, src, 1)
        return data, int(counts.sum()), n, items, k

    def _parquet(self, name: str, days: list[int], idx: list[int]):
        k, src, vals, oor, _, tags, units = self._long(days, idx)
        n = k.size
        edits = self._long_edits(PARQUET_KINDS, n, oor)
        counts = self._duplicates(np.flatnonzero(~oor & ~np.isin(np.arange(n), list(edits))), n)
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
        items = []
        for r, kind in edits.items():
            items.append(
                InjectedItem(
                    name,
                    int(first_pos[r]),
                    kind,
                    self.sources[src[r]].machine_id,
                    str(tags[r]),
                    int(self.t[k[r]]),
                    f"value {vals[r]}" if kind != "unknown_sensor" else f"sensor {tags[r]}",
                )
            )
        for r in np.flatnonzero(oor):
            items.append(
                InjectedItem(
                    name,
                    int(first_pos[r]),
                    "out_of_range",
                    self.sources[src[r]].machine_id,
                    str(tags[r]),
                    int(self.t[k[r]]),
                    f"value {vals[r]} {units[r]}",
                )
            )
        items += self._dup_items(name, counts, k, src, 0)
        return table, int(counts.sum()), n, items, k

    # --- writing --------------------------------------------------------------------------------
    def write(self) -> None:
        groups = self.groups()
        regular: list[FileRecord] = []
        for name, kind, days, idx in groups:
            rel = f"{self.gw.name}/{name}"
            path = self.out_dir / self.gw.name / name
            writer = {"csv": self._csv, "jsonl": self._jsonl, "parquet": self._parquet}[self.gw.fmt]
            payload, lines, readings, items, k = writer(rel, days, idx)
            if k.size == 0:
                continue  # nothing arrived from these machines on these days: no file
            if self.gw.fmt == "parquet":
                atomic_write_parquet(path, payload)
            else:
                atomic_write_bytes(path, payload)
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
            original = regular[int(self.rng.integers(0, len(regular)))]
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
                InjectedItem(
                    rel, None, "duplicate_file", None, None, None, f"copy of {original.file}"
                )
            )


def write_dumps(
    runs: Sequence[MachineRun], observed: Sequence[Observed], config: SimConfig, out_dir: Path
) -> tuple[list[FileRecord], list[InjectedItem]]:
    """Write every gateway's dumps under ``out_dir/<gateway>/``; return the file and injection logs."""
    files: list[FileRecord] = []
    injected: list[InjectedItem] = []
    for index, gw in enumerate(GATEWAYS):
        members = [(r, o) for r, o in zip(runs, observed, strict=True) if r.spec.gateway == gw.name]
        if not members:
            continue
        writer = _GatewayWriter(gw, index, members, config, out_dir)
        writer.write()
        files.extend(writer.files)
        injected.extend(writer.injected)
    return files, injected
