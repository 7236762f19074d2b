"""``reflow_oven`` — heater oxidation at the element temperature, dx/dt = A·exp(−Ea/kT); the
element resistance rises by the fraction x, so the duty needed to hold the hardest recipe rises
as need·(1+x). Fails when that duty exceeds 100 %; D = x / x_crit."""

from __future__ import annotations

import numpy as np

from dt_platform.sim.machines.base import (
    K_B_EV,
    ZERO_C_K,
    MachineModel,
    Params,
    SensorSpec,
    _choice,
    _where_level,
)
from dt_platform.sim.schedule import IDLE


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
