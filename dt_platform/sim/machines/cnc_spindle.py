"""``cnc_spindle`` — spall initiation by ISO 281 life L10 = (C/P)^p Mrev with a Weibull (β = 1.5)
scatter per bearing (Miner sum over load levels), then spall growth by Paris' law
da/dN = c·(P/C)^m·a^(m/2) (ΔK ∝ load·√a, m ≈ 3). Vibration = baseline + κ·a; fails when it
exceeds 4.5 mm/s (ISO 10816-3 C/D). D = 0.75·(initiation Miner sum) + 0.25·(fraction of the
Paris integral to the critical spall size)."""

from __future__ import annotations

import numpy as np

from dt_platform.sim.machines.base import MachineModel, Params, SensorSpec, _choice
from dt_platform.sim.schedule import PRODUCTION

CNC_LIFE_ACCELERATION = 1.8


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
    onset_damage = INIT_WEIGHT
    """Before the spall initiates (D < 0.75) vibration stays at its baseline: the initiation
    life is seen by no sensor, only the spall's growth is."""

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
