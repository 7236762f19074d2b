"""Synthetic closed-loop outcome tables for the ROI tests (the format of
``benchmarks/closed_loop.py --outcomes``), built from a small paired simulation: each machine and
seed has a failure rate; run-to-failure suffers every failure, preventive replaces on a schedule
(catching some failures), predictive catches most, perfect foresight catches all, each catch being
a planned job instead."""

from __future__ import annotations

import copy

import numpy as np

from dt_platform.twin.roi_outcomes import FORMAT

FIELDS = ("unplanned_failures", "planned_jobs", "inspections", "downtime_h",
          "production_lost_h", "derate_pct_h")  # fmt: skip


def row(seed: int, machine: str, machine_type: str, years: float = 1.0, **values) -> dict:
    out = {"seed": seed, "machine_id": machine, "machine_type": machine_type}
    out["machine_years"] = years
    out.update({f: 0 for f in FIELDS})
    out.update(values)
    return out


TYPES = {"cnc_spindle": (3.0, 10.0), "smt_placer": (1.5, 2.0)}  # failures/y, repair hours


def _outcome(key: tuple, years: float, unplanned: int, planned: int, inspections=0, derate=0.0):
    repair_h = TYPES[key[2]][1]
    down = unplanned * (repair_h + 24.0) + planned * repair_h
    return row(
        *key,
        years,
        unplanned_failures=unplanned,
        planned_jobs=planned,
        inspections=inspections,
        downtime_h=down,
        production_lost_h=0.8 * down,
        derate_pct_h=derate,
    )


def synthetic(seeds=range(5), machines_per_type=4, days=365.0, rng_seed=1) -> dict:
    """A paired outcomes document over ``seeds`` × machines of two types."""
    rng = np.random.default_rng(rng_seed)
    years = days / 365.0
    names = ("run_to_failure", "preventive", "predictive", "perfect_foresight")
    policies: dict[str, list] = {p: [] for p in names}
    for seed in seeds:
        for t, (rate, _) in TYPES.items():
            for i in range(machines_per_type):
                key = (seed, f"{t[:3].upper()}-{i + 1:02d}", t)
                failures = int(rng.poisson(rate * years * rng.uniform(0.5, 1.5)))
                extra_preventive = int(rng.poisson(1.0 * years))
                caught_prev = int(rng.binomial(failures, 0.4))
                caught_pred = int(rng.binomial(failures, 0.85))
                policies["run_to_failure"].append(_outcome(key, years, failures, 0))
                policies["preventive"].append(
                    _outcome(key, years, failures - caught_prev, caught_prev + extra_preventive)
                )
                policies["predictive"].append(
                    _outcome(key, years, failures - caught_pred, caught_pred, 2, 50.0)
                )
                policies["perfect_foresight"].append(_outcome(key, years, 0, failures))
    return {
        "format": FORMAT,
        "days": days,
        "seeds": list(seeds),
        "costs": {"unplanned_failure": 20000},
        "policies": policies,
        "preventive_interval_h": {t: 2000.0 for t in TYPES},
    }


def uniform(values: dict[str, dict], years: float = 1.0, machines: int = 3) -> dict:
    """Every machine of one type has the same outcome per policy (``values[policy]``)."""
    return {
        "format": FORMAT,
        "days": 365.0 * years,
        "seeds": [0],
        "policies": {
            p: [row(0, f"M-{i}", "cnc_spindle", years, **v) for i in range(machines)]
            for p, v in values.items()
        },
    }


def modified(doc: dict, edit) -> dict:
    out = copy.deepcopy(doc)
    edit(out)
    return out
