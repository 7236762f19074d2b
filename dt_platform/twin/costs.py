"""What the decision policy weighs: the costs of events and hours (:class:`Costs`) and the
maintenance capacity (:class:`Capacity`). Shared by the policy, the closed-loop benchmark and the
return-on-investment model.

Every number here is an *assumption a manager changes*, not a measurement: wherever a cost is
printed, say so. Defaults are per machine: an unplanned failure €20,000 (the event: emergency
call-out, scrap, expediting; the production lost while it is down is counted apart, per hour), a
planned job €3,000, a producing hour lost €1,200, one percentage point of derate for one producing
hour €6, an inspection €300.

``DT_HOME/costs.yaml`` (optional) overrides them: the fields of :class:`Costs` at the top level,
and a ``capacity:`` mapping with the fields of :class:`Capacity`::

    unplanned_failure: 25000
    planned_job: 2500
    capacity:
      crews_per_shift: 2
      spare_lead_time_h: {cnc_spindle: 72}
      job_hours: {cnc_spindle: 12}
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

from dt_platform.sim.machines.models import MODELS

__all__ = ["Capacity", "Costs", "PolicyConfigError", "load_costs", "money", "read_config_yaml"]

DEFAULT_SPARE_LEAD_TIME_H = 24.0
DEFAULT_JOB_HOURS = 8.0
"""Planned replacement duration of a type the simulator does not know."""
MAX_CONFIG_BYTES = 64_000
_MAX_AMOUNT = 1e9


class PolicyConfigError(ValueError):
    """A costs, capacity or production-plan file or value that cannot be used, and why."""


def _amount(name: str, value: Any, *, upper: float = _MAX_AMOUNT) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise PolicyConfigError(f"{name} must be a number, not {value!r}")
    if not math.isfinite(value) or not 0 <= value <= upper:
        raise PolicyConfigError(f"{name} must be between 0 and {upper:g}, not {value}")
    return float(value)


@dataclass(frozen=True)
class Costs:
    """Per event / per producing hour of one machine, in ``currency``."""

    unplanned_failure: float = 20_000
    planned_job: float = 3_000
    lost_production_per_h: float = 1_200
    derate_loss_per_pct_h: float = 6.0
    """Cost of one percentage point of derate for one producing hour."""
    inspection: float = 300
    currency: str = "EUR"

    def __post_init__(self) -> None:
        for f in fields(self):
            if f.name != "currency":
                _amount(f.name, getattr(self, f.name))
        if not isinstance(self.currency, str) or not 1 <= len(self.currency) <= 8:
            raise PolicyConfigError("currency is a short code such as EUR")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> Costs:
        known = {f.name for f in fields(cls)}
        unknown = set(doc) - known
        if unknown:
            raise PolicyConfigError(
                f"unknown cost fields {sorted(unknown)}; expected some of {sorted(known)}"
            )
        return cls(**doc)


def _default_job_hours() -> dict[str, float]:
    """The simulator's repair duration mid-point per machine type."""
    return {name: sum(m.repair_hours) / 2.0 for name, m in MODELS.items()}


def _per_type(name: str, value: Any) -> dict[str, float]:
    if not isinstance(value, dict):
        raise PolicyConfigError(f"{name} maps machine types to hours, not {value!r}")
    return {str(k): _amount(f"{name}.{k}", v, upper=24 * 365) for k, v in value.items()}


@dataclass(frozen=True)
class Capacity:
    """Maintenance capacity: crews on each shift, spare-part lead time and planned job duration
    per machine type (hours; a type not listed gets the default)."""

    crews_per_shift: int = 1
    spare_lead_time_h: dict[str, float] = field(default_factory=dict)
    job_hours: dict[str, float] = field(default_factory=_default_job_hours)
    default_spare_lead_time_h: float = DEFAULT_SPARE_LEAD_TIME_H

    def __post_init__(self) -> None:
        crews = self.crews_per_shift
        if isinstance(crews, bool) or not isinstance(crews, int) or not 0 <= crews <= 100:
            raise PolicyConfigError(f"crews_per_shift must be a whole number 0-100, not {crews!r}")
        object.__setattr__(
            self, "spare_lead_time_h", _per_type("spare_lead_time_h", self.spare_lead_time_h)
        )
        object.__setattr__(self, "job_hours", _per_type("job_hours", self.job_hours))
        _amount("default_spare_lead_time_h", self.default_spare_lead_time_h, upper=24 * 365)

    def lead_time_h(self, machine_type: str) -> float:
        return self.spare_lead_time_h.get(machine_type, self.default_spare_lead_time_h)

    def job_h(self, machine_type: str) -> float:
        return max(self.job_hours.get(machine_type, DEFAULT_JOB_HOURS), 0.25)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> Capacity:
        known = {f.name for f in fields(cls)}
        unknown = set(doc) - known
        if unknown:
            raise PolicyConfigError(
                f"unknown capacity fields {sorted(unknown)}; expected some of {sorted(known)}"
            )
        if "job_hours" in doc:  # listed types override the simulator's defaults, others stay
            doc = {
                **doc,
                "job_hours": {**_default_job_hours(), **_per_type("job_hours", doc["job_hours"])},
            }
        return cls(**doc)


def read_config_yaml(path: Path) -> Any:
    """The YAML document of a policy configuration file (``{}`` if empty), ``None`` if the file
    is missing; a file over :data:`MAX_CONFIG_BYTES` or not YAML is a :class:`PolicyConfigError`."""
    path = Path(path)
    if not path.exists():
        return None
    data = path.read_bytes()
    if len(data) > MAX_CONFIG_BYTES:
        raise PolicyConfigError(f"{path}: over {MAX_CONFIG_BYTES} bytes")
    try:
        return yaml.safe_load(data) or {}
    except yaml.YAMLError as exc:
        raise PolicyConfigError(f"{path}: not YAML ({exc})") from None


def load_costs(path: Path) -> tuple[Costs, Capacity]:
    """Costs and capacity from ``path`` (see the module docstring), defaults if it is missing."""
    doc = read_config_yaml(path)
    if doc is None:
        return Costs(), Capacity()
    if not isinstance(doc, dict):
        raise PolicyConfigError(f"{path}: expected a mapping of cost fields")
    capacity = doc.pop("capacity", None) or {}
    if not isinstance(capacity, dict):
        raise PolicyConfigError(f"{path}: capacity: must be a mapping")
    try:
        return Costs.from_dict(doc), Capacity.from_dict(capacity)
    except (PolicyConfigError, TypeError) as exc:
        raise PolicyConfigError(f"{path}: {exc}") from None


def money(amount: float, currency: str = "EUR") -> str:
    """``€6,800`` (whole units; other currencies as ``6,800 CHF``)."""
    text = f"{round(amount):,}"
    return f"€{text}" if currency == "EUR" else f"{text} {currency}"
