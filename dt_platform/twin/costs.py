"""What maintenance costs and what capacity it has: the numbers the decision policy, the closed loop
and the return-on-investment model price their outcomes with.

Every figure here is an assumption a manager changes (the defaults are round, plausible numbers
for a small electronics plant, not measurements); wherever they are printed, say so.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from dt_platform.sim.machines import MODELS

__all__ = ["Capacity", "Costs"]


@dataclass(frozen=True)
class Costs:
    """Cost per event or per hour of one machine, in ``currency``."""

    unplanned_failure: float = 20_000
    """One unplanned failure: emergency repair, parts, scrap (lost production counted apart)."""
    planned_job: float = 3_000
    """One planned component replacement."""
    lost_production_per_h: float = 1_200
    """One hour a machine cannot produce when it should (failure, repair or planned job)."""
    derate_loss_per_pct_h: float = 6.0
    """One percentage point of derate for one producing hour."""
    inspection: float = 300
    """One inspection."""
    currency: str = "EUR"


def _default_lead_times() -> dict[str, float]:
    return {machine_type: 24.0 for machine_type in MODELS}


def _default_job_hours() -> dict[str, float]:
    """The simulator's repair duration mid-point per machine type."""
    return {t: (m.repair_hours[0] + m.repair_hours[1]) / 2 for t, m in MODELS.items()}


@dataclass(frozen=True)
class Capacity:
    """Maintenance capacity: crews per shift, spare-part lead times and planned job durations
    (hours), per machine type."""

    crews_per_shift: int = 1
    spare_lead_time_h: dict[str, float] = field(default_factory=_default_lead_times)
    job_hours: dict[str, float] = field(default_factory=_default_job_hours)
