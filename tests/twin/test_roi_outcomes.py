"""Reading closed-loop outcomes: a valid file pairs its rows across policies; every malformed
file is refused with the place and the reason."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from dt_platform.twin import roi_outcomes
from dt_platform.twin.costs import Costs
from dt_platform.twin.roi_outcomes import (
    BUNDLED_OUTCOMES,
    OutcomesError,
    load_outcomes,
    parse_outcomes,
)
from tests.twin.roi_fixtures import modified, synthetic


def test_a_valid_file_is_read_and_paired(tmp_path: Path) -> None:
    doc = synthetic(seeds=[3, 4], machines_per_type=2)
    doc["policies"]["predictive"].reverse()  # row order does not matter, keys do
    path = tmp_path / "outcomes.json"
    path.write_text(json.dumps(doc))
    out = load_outcomes(path)
    assert out.seeds == (3, 4) and out.days == 365.0
    assert len(out.keys) == 8 and out.types == ["cnc_spindle", "smt_placer"]
    assert set(out.policies) == {"run_to_failure", "preventive", "predictive", "perfect_foresight"}
    by_key = {(r["seed"], r["machine_id"]): r for r in doc["policies"]["predictive"]}
    pred = out.policies["predictive"]
    for i, key in enumerate(out.keys):
        assert pred.unplanned_failures[i] == by_key[key]["unplanned_failures"]
        assert out.machine_types[i] == by_key[key]["machine_type"]


def test_costs_are_applied_to_counts_and_hours() -> None:
    doc = synthetic(seeds=[0], machines_per_type=1)
    r = doc["policies"]["predictive"][0]
    r.update(unplanned_failures=2, planned_jobs=3, inspections=4, production_lost_h=5,
             derate_pct_h=6)  # fmt: skip
    out = parse_outcomes(doc)
    i = out.keys.index((r["seed"], r["machine_id"]))
    costs = Costs(unplanned_failure=1000, planned_job=100, inspection=10,
                  lost_production_per_h=1, derate_loss_per_pct_h=0.5)  # fmt: skip
    assert out.policies["predictive"].cost(costs)[i] == 2000 + 300 + 40 + 5 + 3


def test_perfect_foresight_is_optional() -> None:
    doc = modified(synthetic(), lambda d: d["policies"].pop("perfect_foresight"))
    assert "perfect_foresight" not in parse_outcomes(doc).policies


def _set(path: str, value):
    def edit(doc):
        target = doc
        *parents, last = path.split(".")
        for p in parents:
            target = target[int(p)] if p.isdigit() else target[p]
        target[last] = value

    return edit


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (_set("format", "dt-closed-loop-outcomes/0"), "format: expected"),
        (lambda d: d.pop("days"), "days: expected a positive number"),
        (_set("seeds", [1, "2"]), "seeds: expected a list of integers"),
        (lambda d: d["policies"].pop("preventive"), "missing ['preventive']"),
        (_set("policies.oracle", []), "unknown ['oracle']"),
        (_set("policies.predictive", []), "policies.predictive: expected a non-empty list"),
        (lambda d: d["policies"]["predictive"][2].pop("planned_jobs"), "missing field(s) planned"),
        (_set("policies.predictive.2.downtime_h", -1), "predictive[2].downtime_h: expected a num"),
        (_set("policies.predictive.2.inspections", math.nan), "inspections: expected a number"),
        (_set("policies.predictive.2.inspections", True), "inspections: expected a number"),
        (_set("policies.predictive.2.machine_years", 0), "machine_years: expected a positive"),
        (_set("policies.predictive.2.seed", "0"), "predictive[2].seed: expected an integer"),
        (_set("policies.predictive.2.machine_id", ""), "machine_id: expected a name"),
        (_set("policies.predictive.2.machine_id", "X-99"), "not the same (seed, machine) rows"),
        (_set("policies.preventive.0.machine_type", "reflow_oven"), "is a reflow_oven here"),
        (_set("preventive_interval_h", {"cnc_spindle": -5}), "preventive_interval_h.cnc_spindle"),
    ],
)
def test_a_malformed_document_is_refused_saying_where(edit, message: str) -> None:
    with pytest.raises(OutcomesError) as exc:
        parse_outcomes(modified(synthetic(), edit), "f.json")
    assert str(exc.value).startswith("f.json: ") and message in str(exc.value)


def test_a_duplicate_row_is_refused() -> None:
    doc = synthetic()
    doc["policies"]["preventive"].append(dict(doc["policies"]["preventive"][0]))
    with pytest.raises(OutcomesError, match=r"preventive\[40\]: a second row for seed 0"):
        parse_outcomes(doc)


def test_missing_unreadable_and_oversized_files(tmp_path: Path, monkeypatch) -> None:
    with pytest.raises(OutcomesError, match="no such file"):
        load_outcomes(tmp_path / "none.json")
    monkeypatch.setattr(roi_outcomes, "BUNDLED_OUTCOMES", tmp_path / "bundled.json")
    with pytest.raises(OutcomesError, match=r"benchmarks/closed_loop\.py --outcomes"):
        load_outcomes()
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(OutcomesError, match="not JSON"):
        load_outcomes(bad)
    bad.write_text(json.dumps([1, 2]))
    with pytest.raises(OutcomesError, match="expected a JSON object, got list"):
        load_outcomes(bad)
    monkeypatch.setattr(roi_outcomes, "MAX_BYTES", 100)
    bad.write_text(json.dumps(synthetic()))
    with pytest.raises(OutcomesError, match="more than the 100 accepted"):
        load_outcomes(bad)


def test_the_bundled_file_if_present_is_valid() -> None:
    if not BUNDLED_OUTCOMES.exists():
        pytest.skip("no bundled outcomes yet (written from benchmarks/closed_loop.py)")
    out = load_outcomes()
    assert len(out.keys) > 0 and np.all(out.policies["predictive"].machine_years > 0)
