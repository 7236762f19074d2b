"""``servo_drive`` — IGBT bond-wire fatigue, LESIT N_f = A·ΔTj^α·exp(Ea/(k·Tm)) with Miner's rule
D = Σ n/N_f; Vce(on) rises by 5 %·D²; fails at a 5 % rise (D = 1)."""

from __future__ import annotations

import numpy as np

from dt_platform.sim.machines.base import (
    K_B_EV,
    ZERO_C_K,
    MachineModel,
    SensorSpec,
    _choice,
    _where_level,
)
from dt_platform.sim.schedule import PRODUCTION


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
