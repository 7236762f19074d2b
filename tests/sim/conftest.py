"""A small simulated line shared by the simulator tests (written once per session)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest

from dt_platform.sim import SimConfig, SimResult, simulate_line

# Rates far above the defaults so that a few days of a few machines hold every kind of item.
SMALL = SimConfig(
    machines=6,
    days=4,
    seed=3,
    start=date(2026, 11, 16),
    interval_s=300,
    bad_rate=4e-3,
    dup_rate=2e-3,
    outage_prob=1.0,
    redelivery_prob=1.0,
    fault_scale=20.0,
)


@dataclass(frozen=True)
class SmallRun:
    config: SimConfig
    result: SimResult
    home: Path

    @property
    def out(self) -> Path:
        return self.home / "landing"

    @property
    def truth(self) -> Path:
        return self.home / "ground_truth"

    @property
    def registry(self) -> Path:
        return self.home / "machines.yaml"


@pytest.fixture(scope="session")
def small_run(tmp_path_factory: pytest.TempPathFactory) -> SmallRun:
    home = tmp_path_factory.mktemp("sim_home")
    result = simulate_line(SMALL, home / "landing")
    return SmallRun(SMALL, result, home)
