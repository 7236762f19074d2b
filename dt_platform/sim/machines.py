"""Degradation physics of the four simulated machine types.

Each type is a :class:`MachineModel`: pure functions of (machine parameters, component
parameters, state, stress, dt). The run loop (``line.py``) asks a model for the operating stress
of a block of time steps, advances the state over the block in one vectorized call
(:meth:`MachineModel.advance`), finds the failure step, and asks for the noise-free sensor values.
A block ends wherever something outside the machine changes its stress (maintenance, a command),
which is how commands from the platform will act.

Damage laws, with literature values (DESIGN §3) drawn per machine:

* ``smt_placer`` — Archard wear of the nozzles, V = K·F·s/H; wear raises the placement offset
  (linearly in V) and lowers the vacuum (leak, ∝ V^1.5). Fails when offset > 60 µm or vacuum <
  45 kPa; damage D = V / V_crit with V_crit the wear volume that reaches the first limit.
* ``reflow_oven`` — heater oxidation at the element temperature, dx/dt = A·exp(−Ea/kT); the
  element resistance rises by the fraction x, so the duty needed to hold the hardest recipe rises
  as need·(1+x). Fails when that duty exceeds 100 %; D = x / x_crit.
* ``cnc_spindle`` — spall initiation by ISO 281 life L10 = (C/P)^p Mrev with a Weibull (β = 1.5)
  scatter per bearing (Miner sum over load levels), then spall growth by Paris' law
  da/dN = c·(P/C)^m·a^(m/2) (ΔK ∝ load·√a, m ≈ 3). Vibration = baseline + κ·a; fails when it
  exceeds 4.5 mm/s (ISO 10816-3 C/D). D = 0.75·(initiation Miner sum) + 0.25·(fraction of the
  Paris integral to the critical spall size).
* ``servo_drive`` — IGBT bond-wire fatigue, LESIT N_f = A·ΔTj^α·exp(Ea/(k·Tm)) with Miner's rule
  D = Σ n/N_f; Vce(on) rises by 5 %·D²; fails at a 5 % rise (D = 1).

Accelerated life: the damage constants are set so that a machine at typical stress lives about
2-6 weeks (median ≈ 25-40 days per type), so that a 30-60-day run holds failures, repairs and
survivors. The exponents and activation energies — what the platform fits — keep their
literature values; only scale constants are chosen for the demo: SMT nozzle critical wear
volume ≈ 0.08 mm³ (real nozzle sets last months), oven oxidation rate 1.8e-3 /h of resistance
rise at a 560 °C element (real elements last years), spindle bearing L10 divided by
``CNC_LIFE_ACCELERATION`` = 1.8, IGBT LESIT prefactor A ≈ 780 (Held et al. 1997: 640 — hardly
accelerated: the servo is stressed by frequent moves at ΔTj ≈ 40-50 K).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from dt_platform.sim.schedule import IDLE, PRODUCTION

K_B_EV = 8.617333262e-5
"""Boltzmann constant in eV/K."""
ZERO_C_K = 273.15
CNC_LIFE_ACCELERATION = 1.8

Params = dict[str, float]
Stress = dict[str, np.ndarray]


@dataclass(frozen=True)
class SensorSpec:
    """How a sensor of the catalogue is simulated: 1-sigma noise and decimals (canonical unit)."""

    tag: str
    noise: float
    decimals: int


@dataclass(frozen=True)
class Advance:
    """Result of advancing a component over a block of steps."""

    states: np.ndarray
    """(k, state_size): state at the end of each step."""
    damage: np.ndarray
    """(k,): true damage at the end of each step (may exceed 1 at the failure step)."""
    failed_at: int | None
    """Index of the first step at whose end damage >= 1, or None."""


class MachineModel(ABC):
    """Physics of one machine type. Stateless: parameters and state are passed in."""

    type_name: ClassVar[str]
    prefix: ClassVar[str]
    component: ClassVar[str]
    state_size: ClassVar[int] = 1
    sensors: ClassVar[tuple[SensorSpec, ...]]
    repair_hours: ClassVar[tuple[float, float]]
    vendors: ClassVar[tuple[tuple[str, str], ...]]
    preventive_tasks: ClassVar[tuple[tuple[str, str], ...]]
    """(action, component) pairs of planned maintenance; none touches the degrading component."""

    # --- parameters ----------------------------------------------------------------------------
    @abstractmethod
    def draw_machine(self, rng: np.random.Generator) -> tuple[Params, dict[str, np.ndarray]]:
        """True machine parameters and the product portfolio (setpoint arrays per product)."""

    @abstractmethod
    def draw_component(self, rng: np.random.Generator, mp: Params) -> Params:
        """True parameters of one new degrading component (unit-to-unit scatter)."""

    @abstractmethod
    def rated(self, mp: Params) -> dict[str, Any]:
        """Nominal data a person would copy from the datasheet into the registry."""

    # --- physics -------------------------------------------------------------------------------
    @abstractmethod
    def stress(
        self,
        level: np.ndarray,
        setpoints: dict[str, np.ndarray],
        load: np.ndarray,
        derate: float,
        mp: Params,
        rng: np.random.Generator,
    ) -> Stress:
        """Operating stress per step. ``level``: 0 off, 1 idle (powered), 2 production."""

    @abstractmethod
    def increments(self, stress: Stress, dt: float, mp: Params, cp: Params) -> np.ndarray:
        """(k, state_size) state increments per step."""

    @abstractmethod
    def damage(self, states: np.ndarray, mp: Params, cp: Params) -> np.ndarray:
        """True damage D (1 = failure) of states (k, state_size)."""

    @abstractmethod
    def observe(self, stress: Stress, states: np.ndarray, mp: Params, cp: Params) -> Stress:
        """Noise-free sensor values per tag (canonical units; NaN where the sensor sends nothing)."""

    @abstractmethod
    def failure_mode(self, mp: Params, cp: Params) -> str: ...

    @abstractmethod
    def indicator_text(self, state: np.ndarray, mp: Params, cp: Params) -> str:
        """What a technician would measure on the degrading component, e.g. 'vibration 4.6 mm/s'."""

    def initial_state(self) -> np.ndarray:
        return np.zeros(self.state_size)

    def advance(
        self, state: np.ndarray, stress: Stress, dt: float, mp: Params, cp: Params
    ) -> Advance:
        """State after each step of the block: the damage laws accumulate linearly in a state."""
        inc = self.increments(stress, dt, mp, cp)
        states = state[None, :] + np.cumsum(inc, axis=0)
        return self._finish(states, mp, cp)

    def _finish(self, states: np.ndarray, mp: Params, cp: Params) -> Advance:
        dmg = self.damage(states, mp, cp)
        over = np.flatnonzero(dmg >= 1.0)
        return Advance(states, dmg, int(over[0]) if over.size else None)


def _choice(rng: np.random.Generator, options: tuple[Any, ...]) -> Any:
    return options[int(rng.integers(0, len(options)))]


def _where_level(level: np.ndarray, production: Any, idle: Any, off: Any) -> np.ndarray:
    return np.where(level == PRODUCTION, production, np.where(level == IDLE, idle, off))


# --- SMT placer -----------------------------------------------------------------------------------


class SmtPlacer(MachineModel):
    type_name = "smt_placer"
    prefix = "SMT"
    component = "nozzle"
    sensors = (
        SensorSpec("vacuum", 0.3, 2),
        SensorSpec("placement_offset", 1.2, 1),
        SensorSpec("head_temp", 0.3, 1),
        SensorSpec("placement_rate", 8.0, 0),
        SensorSpec("placement_force", 0.04, 2),
    )
    repair_hours = (1.0, 3.0)
    vendors = (("Fuji", "NXT III"), ("Panasonic", "NPM-D3"), ("Yamaha", "YSM20R"))
    preventive_tasks = (
        ("clean", "vacuum_filter"),
        ("adjust", "feeder"),
        ("clean", "nozzle_station"),
    )
    V_REF_MM3 = 0.08
    OFFSET_LIMIT_UM = 60.0
    VACUUM_LIMIT_KPA = 45.0

    def draw_machine(self, rng: np.random.Generator) -> tuple[Params, dict[str, np.ndarray]]:
        hv = float(_choice(rng, (1100.0, 1200.0, 1300.0)))
        mp = {
            "wear_coeff_k": 1.5e-5 * rng.lognormal(0.0, 0.15),
            "hardness_hv_rated": hv,
            "hardness_n_mm2": hv * 9.807 * rng.lognormal(0.0, 0.05),
            "stroke_mm": rng.uniform(0.4, 0.8),
            "offset0_um": rng.uniform(8.0, 18.0),
            "vacuum0_kpa": rng.uniform(68.0, 80.0),
            "ambient_c": rng.uniform(22.0, 28.0),
            "head_rise_c": rng.uniform(5.0, 9.0),
        }
        n = int(rng.integers(2, 5))
        products = {
            "force_n": rng.uniform(1.5, 5.0, n).round(1),
            "rate_per_min": rng.uniform(550.0, 1100.0, n).round(-1),
        }
        return mp, products

    def draw_component(self, rng: np.random.Generator, mp: Params) -> Params:
        return {
            "k_mult": rng.lognormal(0.0, 0.15),
            "v_offset_mm3": self.V_REF_MM3 * rng.uniform(0.8, 1.25),
            "v_vacuum_mm3": self.V_REF_MM3 * rng.uniform(0.8, 1.25),
        }

    def rated(self, mp: Params) -> dict[str, Any]:
        return {
            "nozzle_material": "zirconia",
            "nozzle_hardness_hv": mp["hardness_hv_rated"],
            "sliding_per_placement_mm": round(mp["stroke_mm"], 1),
            "vacuum_limit_kpa": self.VACUUM_LIMIT_KPA,
            "offset_limit_um": self.OFFSET_LIMIT_UM,
        }

    def stress(self, level, setpoints, load, derate, mp, rng):
        jitter = 1.0 + 0.02 * rng.standard_normal(level.size)
        rate = np.where(
            level == PRODUCTION, setpoints["rate_per_min"] * load * derate * jitter, 0.0
        )
        force = np.where(level == PRODUCTION, setpoints["force_n"], 0.0)
        return {"level": level, "rate_per_min": rate, "force_n": force}

    def increments(self, stress, dt, mp, cp):
        sliding_mm = stress["rate_per_min"] * (dt / 60.0) * mp["stroke_mm"]
        k = mp["wear_coeff_k"] * cp["k_mult"]
        return (k * stress["force_n"] * sliding_mm / mp["hardness_n_mm2"])[:, None]

    def _v_crit(self, cp: Params) -> float:
        return min(cp["v_offset_mm3"], cp["v_vacuum_mm3"])

    def damage(self, states, mp, cp):
        return states[:, 0] / self._v_crit(cp)

    def _offset(self, v, mp, cp):
        return mp["offset0_um"] + (self.OFFSET_LIMIT_UM - mp["offset0_um"]) * v / cp["v_offset_mm3"]

    def _vacuum(self, v, mp, cp):
        drop = (mp["vacuum0_kpa"] - self.VACUUM_LIMIT_KPA) * (v / cp["v_vacuum_mm3"]) ** 1.5
        return mp["vacuum0_kpa"] - drop

    def observe(self, stress, states, mp, cp):
        level, v = stress["level"], states[:, 0]
        rate = stress["rate_per_min"]
        return {
            "vacuum": np.where(level >= IDLE, self._vacuum(v, mp, cp), 0.0),
            "placement_offset": np.where(level == PRODUCTION, self._offset(v, mp, cp), np.nan),
            "head_temp": mp["ambient_c"]
            + _where_level(level, mp["head_rise_c"] + 0.006 * rate, 2.0, 0.5),
            "placement_rate": rate,
            "placement_force": stress["force_n"],
        }

    def failure_mode(self, mp, cp):
        if cp["v_offset_mm3"] <= cp["v_vacuum_mm3"]:
            return "nozzle_wear_offset"
        return "nozzle_wear_vacuum"

    def indicator_text(self, state, mp, cp):
        v = float(state[0])
        return (
            f"placement offset {self._offset(v, mp, cp):.1f} um, "
            f"vacuum {self._vacuum(v, mp, cp):.1f} kPa"
        )


# --- reflow oven ----------------------------------------------------------------------------------


class ReflowOven(MachineModel):
    type_name = "reflow_oven"
    prefix = "OVEN"
    component = "heater_element"
    sensors = (
        SensorSpec("zone_temp", 0.6, 1),
        SensorSpec("heater_temp", 1.5, 1),
        SensorSpec("heater_duty", 0.6, 1),
        SensorSpec("fan_speed", 12.0, 0),
    )
    repair_hours = (3.0, 8.0)
    vendors = (("Heller", "1936 MK5"), ("Rehm", "VisionXP+"), ("BTU", "Pyramax 125"))
    preventive_tasks = (("clean", "flux_filter"), ("adjust", "conveyor"), ("clean", "blower"))
    T_REF_K = 560.0 + ZERO_C_K
    RATE_REF_PER_H = 1.8e-3
    STANDBY_C = 150.0
    DESIGN_SPAN_C = 220.0  # setpoint minus ambient at which the rated duty is quoted

    def draw_machine(self, rng: np.random.Generator) -> tuple[Params, dict[str, np.ndarray]]:
        n = int(rng.integers(2, 5))
        t_set = rng.uniform(235.0, 255.0, n)
        low_temp = rng.random(n) < 0.2
        t_set[low_temp] = rng.uniform(200.0, 215.0, int(low_temp.sum()))
        products = {"zone_set_c": t_set.round(0), "fan_rpm": rng.uniform(1800, 2600, n).round(-1)}
        mp = {
            "ea_ev": float(np.clip(rng.normal(0.75, 0.04), 0.6, 0.9)),
            "rate_ref_per_h": self.RATE_REF_PER_H * rng.lognormal(0.0, 0.15),
            "t_ref_k": self.T_REF_K,
            "theta_k": rng.uniform(400.0, 560.0),
            "duty0": rng.uniform(0.55, 0.65),
            "ambient_c": rng.uniform(22.0, 28.0),
            "heater_kw_rated": float(_choice(rng, (3.0, 4.0, 5.0))),
        }
        need_max = mp["duty0"] * (products["zone_set_c"].max() - mp["ambient_c"])
        need_max /= self.DESIGN_SPAN_C
        mp["need_max"] = need_max
        mp["x_crit"] = 1.0 / need_max - 1.0
        # Arrhenius prefactor A of dx/dt = A exp(-Ea/kT), reported as a true parameter
        mp["prefactor_a_per_h"] = mp["rate_ref_per_h"] * np.exp(
            mp["ea_ev"] / (K_B_EV * self.T_REF_K)
        )
        return mp, products

    def draw_component(self, rng, mp):
        return {"a_mult": rng.lognormal(0.0, 0.2)}

    def rated(self, mp):
        return {
            "heater_rated_power_kw": mp["heater_kw_rated"],
            "heater_element": "FeCrAl wire",
            "max_zone_temp_c": 350,
            "duty_limit_pct": 100,
        }

    def stress(self, level, setpoints, load, derate, mp, rng):
        amb = mp["ambient_c"]
        t_set = _where_level(level, setpoints["zone_set_c"], self.STANDBY_C, amb)
        throughput = np.clip(load * derate, 0.0, 1.0)
        span = (t_set - amb) / self.DESIGN_SPAN_C
        need = mp["duty0"] * span * _where_level(level, 0.85 + 0.15 * throughput, 0.85, 0.0)
        heater = t_set + mp["theta_k"] * need
        fan = _where_level(level, setpoints["fan_rpm"], 0.5 * setpoints["fan_rpm"], 0.0)
        return {"level": level, "zone_set_c": t_set, "need": need, "heater_c": heater, "fan": fan}

    def increments(self, stress, dt, mp, cp):
        t_k = stress["heater_c"] + ZERO_C_K
        arrhenius = np.exp(-mp["ea_ev"] / K_B_EV * (1.0 / t_k - 1.0 / mp["t_ref_k"]))
        rate = mp["rate_ref_per_h"] * cp["a_mult"] * arrhenius
        return np.where(stress["level"] >= IDLE, rate * dt / 3600.0, 0.0)[:, None]

    def damage(self, states, mp, cp):
        return states[:, 0] / mp["x_crit"]

    def observe(self, stress, states, mp, cp):
        x = states[:, 0]
        demand = stress["need"] * (1.0 + x)
        t_set, amb = stress["zone_set_c"], mp["ambient_c"]
        zone = np.where(demand > 1.0, amb + (t_set - amb) / np.maximum(demand, 1.0), t_set)
        return {
            "zone_temp": zone,
            "heater_temp": stress["heater_c"],
            "heater_duty": 100.0 * np.minimum(demand, 1.0),
            "fan_speed": stress["fan"],
        }

    def failure_mode(self, mp, cp):
        return "heater_oxidation"

    def indicator_text(self, state, mp, cp):
        duty = 100.0 * mp["need_max"] * (1.0 + float(state[0]))
        return f"heater duty needed {duty:.0f} % on the hardest profile"


# --- CNC spindle ----------------------------------------------------------------------------------


class CncSpindle(MachineModel):
    type_name = "cnc_spindle"
    prefix = "CNC"
    component = "spindle_bearing"
    state_size = 2  # [initiation Miner sum (1 = spall initiated), Paris integral S]
    sensors = (
        SensorSpec("vibration_rms", 0.06, 2),
        SensorSpec("spindle_temp", 0.3, 1),
        SensorSpec("current", 0.4, 1),
        SensorSpec("speed", 15.0, 0),
        SensorSpec("load", 1.0, 1),
    )
    repair_hours = (6.0, 14.0)
    vendors = (
        ("Brother", "Speedio S700X2"),
        ("FANUC", "ROBODRILL a-D21MiB5"),
        ("DMG MORI", "DMP 35"),
    )
    preventive_tasks = (
        ("adjust", "coolant_system"),
        ("clean", "chip_conveyor"),
        ("repair", "tool_changer"),
    )
    BEARINGS = (("7012 ACD/P4A", 30.7), ("7013 ACD/P4A", 33.8), ("7014 ACD/P4A", 39.7))
    """Designation and dynamic load rating C (kN) of the spindle bearing, as in the registry."""
    VIBRATION_LIMIT = 4.5
    WEIBULL_BETA = 1.5
    INIT_WEIGHT = 0.75

    def draw_machine(self, rng):
        name, c_rated = _choice(rng, self.BEARINGS)
        n = int(rng.integers(2, 5))
        # a machine's jobs are heavy or light (its duty class): bearing loads differ between
        # machines by about 2x, which is what makes the life exponent identifiable
        duty_class = rng.uniform(40.0, 90.0)
        products = {
            "speed_rpm": rng.uniform(8000.0, 18000.0, n).round(-2),
            "load_pct": np.clip(duty_class + rng.uniform(-10.0, 10.0, n), 25.0, 100.0).round(0),
        }
        mp = {
            "bearing_c_rated_kn": c_rated,
            "bearing_c_kn": c_rated * rng.lognormal(0.0, 0.05),
            "life_exponent_p": 3.0,
            "acceleration": CNC_LIFE_ACCELERATION,
            "p0_kn": rng.uniform(0.8, 1.4),
            "p_per_load_kn": rng.uniform(6.0, 9.0) / 100.0,
            "paris_c": 17.0 * CNC_LIFE_ACCELERATION * rng.lognormal(0.0, 0.2),
            "paris_m": float(np.clip(rng.normal(3.0, 0.1), 2.7, 3.3)),
            "spall0_mm": 0.1,
            "kappa_mm_s_per_mm": rng.uniform(0.9, 1.3),
            "vibration_base_mm_s": rng.uniform(0.7, 1.4),
            "ambient_c": rng.uniform(22.0, 28.0),
            "bearing_index": float(self.BEARINGS.index((name, c_rated))),
        }
        mp["spall_fail_mm"] = (self.VIBRATION_LIMIT - mp["vibration_base_mm_s"]) / mp[
            "kappa_mm_s_per_mm"
        ]
        return mp, products

    def draw_component(self, rng, mp):
        # Weibull scatter of initiation life around L10 (10 % of bearings fail before u = 1).
        survival = rng.random()
        u = (np.log(survival) / np.log(0.9)) ** (1.0 / self.WEIBULL_BETA)
        return {"initiation_life_over_l10": float(u), "paris_mult": rng.lognormal(0.0, 0.2)}

    def rated(self, mp):
        name = self.BEARINGS[int(mp["bearing_index"])][0]
        return {
            "bearing": name,
            "bearing_dynamic_load_rating_c_kn": mp["bearing_c_rated_kn"],
            "bearing_type": "angular contact ball (p = 3)",
            # design estimates of the equivalent bearing load: preload, and at 100 % spindle load
            "bearing_preload_kn": round(mp["p0_kn"], 1),
            "bearing_load_at_full_load_kn": round(mp["p0_kn"] + 100.0 * mp["p_per_load_kn"], 1),
            "max_speed_rpm": 20000,
            "vibration_limit_mm_s": self.VIBRATION_LIMIT,
        }

    def stress(self, level, setpoints, load, derate, mp, rng):
        prod = level == PRODUCTION
        jitter = 1.0 + 0.03 * rng.standard_normal(level.size)
        load_pct = np.where(
            prod, np.clip(setpoints["load_pct"] * load * derate * jitter, 0, 150), 0
        )
        speed = np.where(prod, setpoints["speed_rpm"], 0.0)
        bearing_kn = mp["p0_kn"] + mp["p_per_load_kn"] * load_pct
        return {"level": level, "speed_rpm": speed, "load_pct": load_pct, "bearing_kn": bearing_kn}

    def _exponent(self, mp):
        return 1.0 - mp["paris_m"] / 2.0  # negative for m > 2

    def increments(self, stress, dt, mp, cp):
        mrev = stress["speed_rpm"] * dt / 60.0 / 1e6
        ratio = stress["bearing_kn"] / mp["bearing_c_kn"]
        init = mrev * ratio ** mp["life_exponent_p"] * mp["acceleration"]
        init /= cp["initiation_life_over_l10"]
        paris = mrev * ratio ** mp["paris_m"]
        return np.stack([init, paris], axis=1)

    def advance(self, state, stress, dt, mp, cp):
        inc = self.increments(stress, dt, mp, cp)
        s1 = state[0] + np.cumsum(inc[:, 0])
        before = np.concatenate([[state[0]], s1[:-1]])
        s2 = state[1] + np.cumsum(inc[:, 1] * (before >= 1.0))
        return self._finish(np.stack([s1, s2], axis=1), mp, cp)

    def _growth_fraction(self, s2, mp, cp):
        e = self._exponent(mp)
        span = mp["spall0_mm"] ** e - mp["spall_fail_mm"] ** e
        return (-e) * mp["paris_c"] * cp["paris_mult"] * s2 / span

    def spall_mm(self, states: np.ndarray, mp: Params, cp: Params) -> np.ndarray:
        e = self._exponent(mp)
        # past the critical size only within the failure step; cap far below the blow-up
        g = np.minimum(self._growth_fraction(states[:, 1], mp, cp), 1.1)
        a0, af = mp["spall0_mm"], mp["spall_fail_mm"]
        a = (a0**e - g * (a0**e - af**e)) ** (1.0 / e)
        return np.where(states[:, 0] >= 1.0, a, 0.0)

    def damage(self, states, mp, cp):
        g = self._growth_fraction(states[:, 1], mp, cp)
        init = np.minimum(states[:, 0], 1.0)
        return self.INIT_WEIGHT * init + (1.0 - self.INIT_WEIGHT) * g

    def observe(self, stress, states, mp, cp):
        level = stress["level"]
        prod = level == PRODUCTION
        a = self.spall_mm(states, mp, cp)
        vib = mp["vibration_base_mm_s"] + mp["kappa_mm_s_per_mm"] * a
        speed, load = stress["speed_rpm"], stress["load_pct"]
        heat = 12.0 * (speed / 12000.0) ** 1.2 + 0.12 * load + 6.0 * (a / mp["spall_fail_mm"]) ** 2
        return {
            "vibration_rms": np.where(prod, vib, 0.12),
            "spindle_temp": mp["ambient_c"] + np.where(prod, heat, 1.0),
            "current": np.where(prod, 2.0 + 0.35 * load, 0.4),
            "speed": speed,
            "load": load,
        }

    def failure_mode(self, mp, cp):
        return "bearing_spall"

    def indicator_text(self, state, mp, cp):
        a = float(self.spall_mm(state[None, :], mp, cp)[0])
        vib = mp["vibration_base_mm_s"] + mp["kappa_mm_s_per_mm"] * a
        return f"vibration {vib:.2f} mm/s"


# --- servo drive ----------------------------------------------------------------------------------


class ServoDrive(MachineModel):
    type_name = "servo_drive"
    prefix = "SERVO"
    component = "igbt_module"
    sensors = (
        SensorSpec("junction_temp", 0.5, 1),
        SensorSpec("case_temp", 0.3, 1),
        SensorSpec("delta_tj", 0.5, 1),
        SensorSpec("power_cycles", 0.8, 1),
        SensorSpec("vce_on", 0.003, 3),
        SensorSpec("current", 0.15, 2),
    )
    repair_hours = (2.0, 6.0)
    vendors = (("Yaskawa", "SGD7S-200A"), ("Panasonic", "MINAS A6 MFDLT"), ("Delta", "ASDA-A3"))
    preventive_tasks = (("clean", "cooling_fan"), ("adjust", "encoder"), ("clean", "heatsink"))
    MODULES = (("FS50R12KT4_B15", 50.0), ("FS75R12KT4_B15", 75.0))
    VCE_LIMIT = 0.05
    N_REF_CYCLES = 1.1e6
    """Cycles to failure at ΔTj = 45 K and Tm = 80 °C (LESIT with A ≈ 780, α = −5, Ea = 0.8 eV)."""
    DTJ_REF_K = 45.0
    TM_REF_K = 80.0 + ZERO_C_K
    I_REF_A = 14.0

    def draw_machine(self, rng):
        name, amps = _choice(rng, self.MODULES)
        n = int(rng.integers(2, 5))
        products = {
            "current_a": (self.I_REF_A * rng.uniform(0.94, 1.06, n)).round(1),
            "cycles_per_min": rng.uniform(30.0, 50.0, n).round(0),
        }
        mp = {
            "n_ref_cycles": self.N_REF_CYCLES * rng.lognormal(0.0, 0.15),
            "alpha": float(rng.normal(-5.0, 0.05)),
            "ea_ev": float(rng.normal(0.8, 0.03)),
            "rth_k_per_a2": rng.uniform(40.0, 50.0) / self.I_REF_A**2,
            "case_rise_c": rng.uniform(26.0, 32.0),
            "vce0_v": rng.uniform(1.55, 1.85),
            "ambient_c": rng.uniform(22.0, 28.0),
            "module_index": float(self.MODULES.index((name, amps))),
        }
        # the same law in its textbook form N_f = A·ΔTj^α·exp(Ea/(k·Tm)), for the truth table
        mp["lesit_a"] = (
            mp["n_ref_cycles"]
            * self.DTJ_REF_K ** (-mp["alpha"])
            * np.exp(-mp["ea_ev"] / (K_B_EV * self.TM_REF_K))
        )
        return mp, products

    def draw_component(self, rng, mp):
        return {"a_mult": rng.lognormal(0.0, 0.25)}

    def rated(self, mp):
        name, amps = self.MODULES[int(mp["module_index"])]
        return {
            "igbt_module": name,
            "igbt_rated_current_a": amps,
            "igbt_rated_voltage_v": 1200,
            "vce_on_rise_limit_pct": 100.0 * self.VCE_LIMIT,
        }

    def stress(self, level, setpoints, load, derate, mp, rng):
        prod = level == PRODUCTION
        jitter = 1.0 + 0.03 * rng.standard_normal(level.size)
        current = np.where(
            prod,
            setpoints["current_a"] * (0.8 + 0.2 * load) * derate,
            _where_level(level, 0, 0.2, 0.0),
        )
        cycles = np.where(prod, setpoints["cycles_per_min"] * load * derate * jitter, 0.0)
        dtj = np.where(prod, mp["rth_k_per_a2"] * current**2, 0.0)
        heat = mp["case_rise_c"] * (current / self.I_REF_A) ** 2 * np.sqrt(cycles / 40.0) + 5.0
        case = mp["ambient_c"] + np.where(prod, heat, _where_level(level, 0, 3.0, 0.5))
        return {
            "level": level,
            "current_a": current,
            "cycles_per_min": cycles,
            "delta_tj_k": dtj,
            "case_c": case,
            "tm_c": case + dtj / 2.0,
        }

    def cycles_to_failure(self, delta_tj_k, tm_c, mp, cp):
        """LESIT N_f = A·ΔTj^α·exp(Ea/(k·Tm)), written around the reference point.

        Around a reference point, a machine's Ea and α change the slopes, not the life at the
        reference: drawing Ea per machine then does not scatter lives by orders of magnitude.
        """
        tm_k = np.asarray(tm_c) + ZERO_C_K
        dtj = np.asarray(delta_tj_k, dtype=float) / self.DTJ_REF_K
        arrhenius = np.exp(mp["ea_ev"] / K_B_EV * (1.0 / tm_k - 1.0 / self.TM_REF_K))
        return mp["n_ref_cycles"] * cp["a_mult"] * dtj ** mp["alpha"] * arrhenius

    def increments(self, stress, dt, mp, cp):
        n = stress["cycles_per_min"] * dt / 60.0
        active = n > 0
        nf = self.cycles_to_failure(
            np.where(active, stress["delta_tj_k"], 1.0), stress["tm_c"], mp, cp
        )
        return np.where(active, n / nf, 0.0)[:, None]

    def damage(self, states, mp, cp):
        return states[:, 0]

    def vce_rise(self, d: np.ndarray) -> np.ndarray:
        return self.VCE_LIMIT * np.minimum(d, 1.0) ** 2

    def observe(self, stress, states, mp, cp):
        prod = stress["level"] == PRODUCTION
        tm = stress["tm_c"]
        vce = mp["vce0_v"] * (1.0 + 0.0005 * (tm - 80.0)) * (1.0 + self.vce_rise(states[:, 0]))
        return {
            "junction_temp": tm,
            "case_temp": stress["case_c"],
            "delta_tj": stress["delta_tj_k"],
            "power_cycles": stress["cycles_per_min"],
            "vce_on": np.where(prod, vce, np.nan),
            "current": stress["current_a"],
        }

    def failure_mode(self, mp, cp):
        return "igbt_bond_wire_liftoff"

    def indicator_text(self, state, mp, cp):
        rise = float(self.vce_rise(np.asarray([state[0]]))[0])
        return f"Vce(on) +{100 * rise:.1f} % ({mp['vce0_v'] * (1 + rise):.3f} V at 80 degC)"


MODELS: dict[str, MachineModel] = {
    m.type_name: m for m in (SmtPlacer(), ReflowOven(), CncSpindle(), ServoDrive())
}
