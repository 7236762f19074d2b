"""The closed loop's outcomes as the return-on-investment model reads them: one row per machine per
seed per policy, raw event counts and hours, no costs applied.

The file is written by ``benchmarks/closed_loop.py --outcomes FILE`` (format
``dt-closed-loop-outcomes/1``, see the module constants). Reading it checks everything the model
relies on and says what is wrong and where: the format tag, every field of every row, numbers
finite and not negative, machine-years positive, and the pairing — every policy ran the same
machines on the same seeds (the model compares policies row by row on the same machine-years).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from dt_platform.twin.costs import Costs

__all__ = [
    "BUNDLED_OUTCOMES",
    "FORMAT",
    "POLICIES",
    "REQUIRED_POLICIES",
    "Outcomes",
    "OutcomesError",
    "PolicyOutcomes",
    "load_outcomes",
    "parse_outcomes",
]

FORMAT = "dt-closed-loop-outcomes/1"
POLICIES = ("run_to_failure", "preventive", "predictive", "perfect_foresight")
REQUIRED_POLICIES = ("run_to_failure", "preventive", "predictive")
COUNTS = ("unplanned_failures", "planned_jobs", "inspections")
HOURS = ("downtime_h", "production_lost_h", "derate_pct_h")
MAX_BYTES = 64 * 1024 * 1024
MAX_ROWS = 200_000
BUNDLED_OUTCOMES = Path(__file__).resolve().parent / "data" / "closed_loop_outcomes.json"
"""The outcomes shipped with the platform, regenerated from the closed-loop benchmark."""


class OutcomesError(ValueError):
    """The outcomes file is missing, too large or not in the expected format (the message says
    which file, where, and what was expected)."""


@dataclass(frozen=True)
class PolicyOutcomes:
    """One policy's rows, aligned with :attr:`Outcomes.keys` (arrays of equal length)."""

    machine_years: np.ndarray
    unplanned_failures: np.ndarray
    planned_jobs: np.ndarray
    inspections: np.ndarray
    downtime_h: np.ndarray
    production_lost_h: np.ndarray
    derate_pct_h: np.ndarray

    def cost(self, costs: Costs) -> np.ndarray:
        """Each row's cost under ``costs`` (for the row's whole ``machine_years``)."""
        return (
            self.unplanned_failures * costs.unplanned_failure
            + self.planned_jobs * costs.planned_job
            + self.inspections * costs.inspection
            + self.production_lost_h * costs.lost_production_per_h
            + self.derate_pct_h * costs.derate_loss_per_pct_h
        )

    def per_machine_year(self, field: str) -> float:
        """``field`` summed over the rows per machine-year summed over the rows."""
        return float(getattr(self, field).sum() / self.machine_years.sum())


@dataclass(frozen=True)
class Outcomes:
    """A closed-loop outcomes file, validated; rows paired across policies by (seed, machine)."""

    source: str
    days: float
    seeds: tuple[int, ...]
    keys: tuple[tuple[int, str], ...]
    """``(seed, machine_id)`` of each row, the same order in every policy."""
    machine_types: np.ndarray
    policies: dict[str, PolicyOutcomes]
    costs: dict[str, Any]
    """The costs the closed loop itself ran with (for reference; the model applies its own)."""
    preventive_interval_h: dict[str, float]

    @property
    def types(self) -> list[str]:
        return sorted(set(self.machine_types.tolist()))

    def rows_of(self, machine_type: str | None = None) -> np.ndarray:
        """Indices of the rows of one machine type (all rows for ``None``)."""
        if machine_type is None:
            return np.arange(len(self.keys))
        return np.flatnonzero(self.machine_types == machine_type)


def _fail(source: str, where: str, what: str) -> OutcomesError:
    return OutcomesError(f"{source}: {where}: {what}")


def _number(source: str, where: str, value: Any, *, positive: bool = False) -> float:
    ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or value < 0 or (positive and value == 0):
        wanted = "a positive number" if positive else "a number ≥ 0"
        raise _fail(source, where, f"expected {wanted}, got {value!r}")
    return float(value)


def _row(source: str, where: str, row: Any) -> tuple[tuple[int, str], str, list[float]]:
    if not isinstance(row, Mapping):
        raise _fail(source, where, f"expected an object, got {type(row).__name__}")
    missing = [f for f in ("seed", "machine_id", "machine_type", "machine_years", *COUNTS, *HOURS)
               if f not in row]  # fmt: skip
    if missing:
        raise _fail(source, where, f"missing field(s) {', '.join(missing)}")
    seed, machine, machine_type = row["seed"], row["machine_id"], row["machine_type"]
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise _fail(source, f"{where}.seed", f"expected an integer, got {seed!r}")
    for name, text in (("machine_id", machine), ("machine_type", machine_type)):
        if not isinstance(text, str) or not 0 < len(text) <= 100:
            raise _fail(
                source, f"{where}.{name}", f"expected a name of 1-100 characters, got {text!r}"
            )
    values = [_number(source, f"{where}.machine_years", row["machine_years"], positive=True)]
    values += [_number(source, f"{where}.{f}", row[f]) for f in (*COUNTS, *HOURS)]
    return (seed, machine), machine_type, values


def _policy(source: str, name: str, rows: Any) -> dict[tuple[int, str], tuple[str, list[float]]]:
    where = f"policies.{name}"
    if not isinstance(rows, list) or not rows:
        raise _fail(source, where, "expected a non-empty list of rows")
    if len(rows) > MAX_ROWS:
        raise _fail(source, where, f"{len(rows):,} rows, more than the {MAX_ROWS:,} accepted")
    out: dict[tuple[int, str], tuple[str, list[float]]] = {}
    for i, row in enumerate(rows):
        key, machine_type, values = _row(source, f"{where}[{i}]", row)
        if key in out:
            raise _fail(source, f"{where}[{i}]", f"a second row for seed {key[0]}, {key[1]}")
        out[key] = (machine_type, values)
    return out


def _paired(source: str, tables: dict[str, dict]) -> tuple[list[tuple[int, str]], list[str]]:
    first = REQUIRED_POLICIES[0]
    keys = sorted(tables[first])
    types = [tables[first][k][0] for k in keys]
    for name, table in tables.items():
        if set(table) != set(keys):
            extra = sorted(set(table) - set(keys))[:3]
            lacking = sorted(set(keys) - set(table))[:3]
            raise _fail(
                source,
                f"policies.{name}",
                f"not the same (seed, machine) rows as {first}: extra {extra}, missing {lacking}; "
                "every policy must run the same machines on the same seeds",
            )
        for key, machine_type in zip(keys, types, strict=True):
            if table[key][0] != machine_type:
                raise _fail(
                    source,
                    f"policies.{name}",
                    f"seed {key[0]}, {key[1]} is a {table[key][0]} here, a {machine_type} in "
                    f"{first}",
                )
    return keys, types


def _header(source: str, doc: Mapping) -> tuple[float, tuple[int, ...], dict, dict[str, float]]:
    days = _number(source, "days", doc.get("days"), positive=True)
    seeds = doc.get("seeds")
    if not isinstance(seeds, list) or not all(
        isinstance(s, int) and not isinstance(s, bool) for s in seeds
    ):
        raise _fail(source, "seeds", f"expected a list of integers, got {seeds!r}")
    costs = doc.get("costs", {})
    if not isinstance(costs, Mapping):
        raise _fail(source, "costs", "expected an object of Costs fields")
    intervals = doc.get("preventive_interval_h", {})
    if not isinstance(intervals, Mapping):
        raise _fail(source, "preventive_interval_h", "expected an object {machine type: hours}")
    hours = {
        str(t): _number(source, f"preventive_interval_h.{t}", h, positive=True)
        for t, h in intervals.items()
    }
    return days, tuple(seeds), dict(costs), hours


def parse_outcomes(doc: Any, source: str = "outcomes") -> Outcomes:
    """Validate a decoded outcomes document and pair its rows across policies."""
    if not isinstance(doc, Mapping):
        raise _fail(source, "top level", f"expected a JSON object, got {type(doc).__name__}")
    if doc.get("format") != FORMAT:
        raise _fail(source, "format", f"expected {FORMAT!r}, got {doc.get('format')!r}")
    days, seeds, costs, intervals = _header(source, doc)
    policies = doc.get("policies")
    if not isinstance(policies, Mapping):
        raise _fail(source, "policies", "expected an object {policy: [rows]}")
    unknown = sorted(set(policies) - set(POLICIES))
    missing = [p for p in REQUIRED_POLICIES if p not in policies]
    if unknown or missing:
        raise _fail(
            source, "policies", f"unknown {unknown}, missing {missing}; expected {list(POLICIES)}"
        )
    tables = {name: _policy(source, name, policies[name]) for name in POLICIES if name in policies}
    keys, types = _paired(source, tables)
    fields = ("machine_years", *COUNTS, *HOURS)
    arrays = {}
    for name, table in tables.items():
        matrix = np.array([table[k][1] for k in keys], dtype=float)
        arrays[name] = PolicyOutcomes(**{f: matrix[:, i] for i, f in enumerate(fields)})
    return Outcomes(source, days, seeds, tuple(keys), np.array(types), arrays, costs, intervals)


def load_outcomes(path: Path | str | None = None) -> Outcomes:
    """Read and validate an outcomes file (default: the bundled :data:`BUNDLED_OUTCOMES`)."""
    path = Path(path) if path is not None else BUNDLED_OUTCOMES
    if not path.is_file():
        hint = (
            "the bundled closed-loop outcomes are not there yet: run "
            "`python benchmarks/closed_loop.py --outcomes FILE` and pass --outcomes FILE"
            if path == BUNDLED_OUTCOMES
            else "no such file"
        )
        raise OutcomesError(f"{path}: {hint}")
    size = path.stat().st_size
    if size > MAX_BYTES:
        raise OutcomesError(f"{path}: {size:,} bytes, more than the {MAX_BYTES:,} accepted")
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise OutcomesError(f"{path}: not JSON: {exc}") from exc
    return parse_outcomes(doc, str(path))
