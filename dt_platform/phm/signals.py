"""What each simulated machine type's telemetry says about its operating point and its health.

Per type: the setting sensors that define its operating regimes, the sensors monitored for wear,
when a reading counts as taken while operating, and the failure limits (:class:`HealthLimit`).
The fleet model (:mod:`dt_platform.phm.fleet`) builds its signals and features from this
catalogue; it lives outside that package so that a page that only picks sensors to show does not
load XGBoost.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from dt_platform.phm.physics import ISO_10816_3_LIMIT_MM_S


@dataclass(frozen=True)
class HealthLimit:
    """A failure limit on one sensor (the catalogue's failure criterion).

    ``above``: fails when the value exceeds ``limit``; ``below``: when it drops under ``limit``;
    ``rise``: when it rises by ``limit`` (a fraction) over the component's own first day.
    """

    sensor: str
    limit: float
    kind: Literal["above", "below", "rise"]


@dataclass(frozen=True)
class TypeSignals:
    """Which sensors of a machine type describe its operating point and which its health."""

    machine_type: str
    prefix: str
    settings: tuple[str, ...]
    """Operating-condition sensors (product / setpoint): they define the regimes."""
    sensors: tuple[str, ...]
    """Monitored sensors, standardized per regime and turned into features."""
    active_sensor: str
    active_above: float
    """A reading is taken while operating when ``active_sensor > active_above`` (the damage
    law's own notion of operation, :mod:`dt_platform.phm.physics`)."""
    limits: tuple[HealthLimit, ...]

    @property
    def columns(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys((*self.settings, *self.sensors, self.active_sensor)))


TYPE_SIGNALS: dict[str, TypeSignals] = {
    s.machine_type: s
    for s in (
        TypeSignals(
            "smt_placer",
            "smt",
            # products differ by nozzle force (discrete); the rate follows the shift's load
            settings=("placement_force_n",),
            sensors=("vacuum_kpa", "placement_offset_um", "head_temp_c"),
            active_sensor="placement_rate_per_min",
            active_above=0.0,
            limits=(
                HealthLimit("placement_offset_um", 60.0, "above"),
                HealthLimit("vacuum_kpa", 45.0, "below"),
            ),
        ),
        TypeSignals(
            "reflow_oven",
            "oven",
            # the fan speed is set per product (and halved on standby); the zone temperature is
            # the controlled value, which sags only when the heater can no longer hold it
            settings=("fan_speed_rpm",),
            sensors=("heater_duty_pct", "heater_temp_c", "zone_temp_c"),
            active_sensor="heater_temp_c",
            active_above=100.0,
            limits=(HealthLimit("heater_duty_pct", 100.0, "above"),),
        ),
        TypeSignals(
            "cnc_spindle",
            "cnc",
            settings=("speed_rpm",),
            sensors=("vibration_rms_mm_s", "spindle_temp_c", "current_a", "load_pct"),
            active_sensor="speed_rpm",
            active_above=0.0,
            limits=(HealthLimit("vibration_rms_mm_s", ISO_10816_3_LIMIT_MM_S, "above"),),
        ),
        TypeSignals(
            "servo_drive",
            "servo",
            # cycle rate and current follow the load continuously: no discrete regimes
            settings=(),
            sensors=("vce_on_v", "junction_temp_c", "case_temp_c", "delta_tj_k", "current_a"),
            active_sensor="power_cycles_per_min",
            active_above=0.0,
            limits=(HealthLimit("vce_on_v", 0.05, "rise"),),
        ),
    )
}
"""Signals per simulated type. Limits are the failure criteria of the machine catalogue
(``failure_criterion`` in :mod:`dt_platform.catalog`)."""


SIGNAL_COLUMNS: tuple[str, ...] = tuple(
    sorted({c for spec in TYPE_SIGNALS.values() for c in spec.columns})
)
"""Every sensor column of the hourly signals (the union over types; null where not reported)."""
