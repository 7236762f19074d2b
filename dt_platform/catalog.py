"""The sensor catalogue: machine types, the sensors each one reports, and their units.

This is the contract between the physical side (gateways, the simulator) and the platform.
Gateways name a sensor by its *tag* (``head_temp``) and declare the unit they send (``degF``);
the platform stores the reading under the canonical name (``head_temp_c``) in the canonical unit
(``degC``). Canonical units are SI or SI-derived units as engineers read them (°C, kPa, mm/s).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

# --- units --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Quantity:
    """A physical dimension with its canonical unit and the units gateways may send it in."""

    name: str
    canonical_unit: str
    # unit -> (scale, offset): canonical = value * scale + offset
    conversions: dict[str, tuple[float, float]]

    def converter(self, unit: str) -> Callable[[float], float]:
        scale, offset = self.conversions[unit]
        return lambda value: value * scale + offset


QUANTITIES: dict[str, Quantity] = {
    q.name: q
    for q in (
        Quantity(
            "temperature",
            "degC",
            {"degC": (1.0, 0.0), "degF": (5.0 / 9.0, -32.0 * 5.0 / 9.0), "K": (1.0, -273.15)},
        ),
        Quantity(
            "temperature_difference",
            "K",
            {"K": (1.0, 0.0), "delta_degC": (1.0, 0.0), "delta_degF": (5.0 / 9.0, 0.0)},
        ),
        Quantity(
            "pressure",
            "kPa",
            {
                "kPa": (1.0, 0.0),
                "Pa": (1e-3, 0.0),
                "bar": (100.0, 0.0),
                "mbar": (0.1, 0.0),
                "psi": (6.894757293168361, 0.0),
            },
        ),
        Quantity("length_um", "um", {"um": (1.0, 0.0), "mm": (1000.0, 0.0)}),
        Quantity("velocity_mm_s", "mm/s", {"mm/s": (1.0, 0.0), "in/s": (25.4, 0.0)}),
        Quantity("current", "A", {"A": (1.0, 0.0), "mA": (1e-3, 0.0)}),
        Quantity("voltage", "V", {"V": (1.0, 0.0), "mV": (1e-3, 0.0)}),
        Quantity("force", "N", {"N": (1.0, 0.0), "kN": (1000.0, 0.0)}),
        Quantity("rotational_speed", "rpm", {"rpm": (1.0, 0.0), "1/min": (1.0, 0.0)}),
        Quantity("rate_per_min", "1/min", {"1/min": (1.0, 0.0), "1/h": (1.0 / 60.0, 0.0)}),
        Quantity("percent", "%", {"%": (1.0, 0.0)}),
        Quantity("dimensionless", "1", {"1": (1.0, 0.0)}),
    )
}

# Unit spellings gateways use for the same unit, folded before lookup.
UNIT_ALIASES: dict[str, str] = {
    "°C": "degC",
    "C": "degC",
    "celsius": "degC",
    "°F": "degF",
    "F": "degF",
    "fahrenheit": "degF",
    "kelvin": "K",
    "µm": "um",
    "μm": "um",
    "mm/sec": "mm/s",
    "RPM": "rpm",
    "pct": "%",
    "percent": "%",
}


def canonical_unit_name(unit: str) -> str:
    unit = unit.strip()
    return UNIT_ALIASES.get(unit, unit)


# --- sensors and machine types ------------------------------------------------------------------


@dataclass(frozen=True)
class Sensor:
    tag: str
    """What gateways call it, e.g. ``head_temp``."""
    name: str
    """Canonical column name in the warehouse, carrying the unit, e.g. ``head_temp_c``."""
    quantity: str
    low: float
    high: float
    """Physically plausible range in the canonical unit; outside it the reading is rejected."""
    description: str

    @property
    def unit(self) -> str:
        return QUANTITIES[self.quantity].canonical_unit


@dataclass(frozen=True)
class MachineType:
    name: str
    description: str
    degradation: str
    sensors: tuple[Sensor, ...]
    failure_criterion: str
    cycle_time: bool = False
    """Readings are stamped by cycle from a fixed epoch (C-MAPSS), not by a clock: they lie outside
    the daily partitions by design, so the loader checks only the absolute time bounds."""

    def sensor_by_tag(self, tag: str) -> Sensor | None:
        return next((s for s in self.sensors if s.tag == tag), None)


def _t(tag: str, low: float = -40.0, high: float = 400.0, what: str = "") -> Sensor:
    return Sensor(tag, f"{tag}_c", "temperature", low, high, what)


MACHINE_TYPES: dict[str, MachineType] = {
    m.name: m
    for m in (
        MachineType(
            "smt_placer",
            "SMT pick-and-place head",
            "Archard wear of the nozzles: V = K * F * s / H",
            (
                Sensor(
                    "vacuum",
                    "vacuum_kpa",
                    "pressure",
                    0.0,
                    101.325,
                    "nozzle vacuum level (gauge magnitude)",
                ),
                Sensor(
                    "placement_offset",
                    "placement_offset_um",
                    "length_um",
                    0.0,
                    2000.0,
                    "mean placement offset",
                ),
                _t("head_temp", what="placement head temperature"),
                Sensor(
                    "placement_rate",
                    "placement_rate_per_min",
                    "rate_per_min",
                    0.0,
                    2000.0,
                    "placements per minute",
                ),
                Sensor(
                    "placement_force",
                    "placement_force_n",
                    "force",
                    0.0,
                    50.0,
                    "nozzle placement force",
                ),
            ),
            "vacuum below 45 kPa or placement offset above 60 um",
        ),
        MachineType(
            "reflow_oven",
            "Convection reflow oven",
            "heater oxidation, Arrhenius: rate ~ exp(-Ea / kT)",
            (
                _t("zone_temp", 0.0, 400.0, "peak zone air temperature"),
                _t("heater_temp", 0.0, 900.0, "heater element temperature"),
                Sensor(
                    "heater_duty", "heater_duty_pct", "percent", 0.0, 100.0, "heater duty cycle"
                ),
                Sensor(
                    "fan_speed",
                    "fan_speed_rpm",
                    "rotational_speed",
                    0.0,
                    10000.0,
                    "convection fan speed",
                ),
            ),
            "heater duty needed to hold the zone above 100 %",
        ),
        MachineType(
            "cnc_spindle",
            "CNC machining spindle (housing for phone frames)",
            "bearing L10 (ISO 281), then spall growth by Paris law",
            (
                Sensor(
                    "vibration_rms",
                    "vibration_rms_mm_s",
                    "velocity_mm_s",
                    0.0,
                    100.0,
                    "bearing housing vibration velocity RMS",
                ),
                _t("spindle_temp", what="spindle bearing temperature"),
                Sensor("current", "current_a", "current", 0.0, 200.0, "motor current"),
                Sensor("speed", "speed_rpm", "rotational_speed", 0.0, 60000.0, "spindle speed"),
                Sensor("load", "load_pct", "percent", 0.0, 150.0, "spindle load"),
            ),
            "vibration RMS above 4.5 mm/s (ISO 10816-3 zone C/D)",
        ),
        MachineType(
            "servo_drive",
            "Servo drive of a placement gantry axis (IGBT power stage)",
            "IGBT thermal cycling, Coffin-Manson / LESIT with Miner's rule",
            (
                _t("junction_temp", what="estimated IGBT junction temperature (mean)"),
                _t("case_temp", what="IGBT case temperature"),
                Sensor(
                    "delta_tj",
                    "delta_tj_k",
                    "temperature_difference",
                    0.0,
                    200.0,
                    "junction temperature swing per power cycle",
                ),
                Sensor(
                    "power_cycles",
                    "power_cycles_per_min",
                    "rate_per_min",
                    0.0,
                    10000.0,
                    "power cycles per minute",
                ),
                Sensor(
                    "vce_on",
                    "vce_on_v",
                    "voltage",
                    0.0,
                    10.0,
                    "IGBT on-state collector-emitter voltage",
                ),
                Sensor("current", "current_a", "current", 0.0, 500.0, "phase current RMS"),
            ),
            "Vce(on) rise above 5 % of its initial value",
        ),
        MachineType(
            "turbofan",
            "Turbofan engine (NASA C-MAPSS, external data, no simulator)",
            "HPC / fan degradation (C-MAPSS); health index with an exponential degradation model",
            tuple(
                Sensor(
                    f"setting{i}",
                    f"setting{i}",
                    "dimensionless",
                    -1e6,
                    1e6,
                    f"operational setting {i}",
                )
                for i in range(1, 4)
            )
            + tuple(
                Sensor(f"s{i}", f"s{i}", "dimensionless", -1e6, 1e6, f"sensor measurement {i}")
                for i in range(1, 22)
            ),
            "end of the run-to-failure series",
            cycle_time=True,
        ),
    )
}

SIMULATED_TYPES: tuple[str, ...] = ("smt_placer", "reflow_oven", "cnc_spindle", "servo_drive")


def sensor_for(machine_type: str, tag_or_name: str) -> Sensor | None:
    """Find a sensor of a machine type by gateway tag or by canonical name."""
    mtype = MACHINE_TYPES.get(machine_type)
    if mtype is None:
        return None
    return next((s for s in mtype.sensors if tag_or_name in (s.tag, s.name)), None)
