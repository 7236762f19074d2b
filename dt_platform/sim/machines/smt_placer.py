"""``smt_placer`` — Archard wear of the nozzles, V = K·F·s/H; wear raises the placement offset
(linearly in V) and lowers the vacuum (leak, ∝ V^1.5). Fails when offset > 60 µm or vacuum <
45 kPa; damage D = V / V_crit with V_crit the wear volume that reaches the first limit."""

from __future__ import annotations

from typing import Any

import numpy as np

from dt_platform.sim.machines.base import MachineModel, Params, SensorSpec, _choice, _where_level
from dt_platform.sim.schedule import IDLE, PRODUCTION


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
