"""The closed-form degradation laws, on cases worked by hand or by numerical integration."""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest
from scipy import integrate, stats

from dt_platform.phm import physics
from dt_platform.phm.physics import LAWS, RatingError


def test_archard_volume_and_its_inverse() -> None:
    # K = 1e-5, 3 N over 1 km on zirconia (1200 HV): V = K·F·s/H
    hardness = physics.vickers_to_n_per_mm2(1200.0)
    assert hardness == pytest.approx(1200.0 * 9.80665)
    v = physics.archard_wear_volume(1e-5, 3.0, 1e6, hardness)
    assert v == pytest.approx(1e-5 * 3.0 * 1e6 / 11767.98)
    # wear is linear in load and in distance, inverse in hardness
    assert physics.archard_wear_volume(1e-5, 6.0, 1e6, hardness) == pytest.approx(2 * v)
    assert physics.archard_wear_volume(1e-5, 3.0, 1e6, 2 * hardness) == pytest.approx(v / 2)
    assert physics.archard_sliding_to_volume(v, 1e-5, 3.0, hardness) == pytest.approx(1e6)


def test_arrhenius_acceleration_factor() -> None:
    # the textbook case: Ea = 0.7 eV between 25 °C use and 85 °C stress gives AF ≈ 96
    af = physics.arrhenius_af(0.7, 298.15, 358.15)
    assert af == pytest.approx(95.99, rel=1e-3)
    assert physics.arrhenius_af(0.7, 358.15, 298.15) == pytest.approx(1.0 / af)
    assert physics.arrhenius_af(0.7, 400.0, 400.0) == 1.0
    # the rate ratio is the acceleration factor, whatever the prefactor
    ratio = physics.arrhenius_rate(5.0, 0.7, 358.15) / physics.arrhenius_rate(5.0, 0.7, 298.15)
    assert ratio == pytest.approx(af)
    assert physics.celsius_to_kelvin(25.0) == pytest.approx(298.15)


def test_bearing_l10_iso281() -> None:
    assert physics.bearing_l10_mrev(30.7, 3.07) == pytest.approx(1000.0)
    assert physics.bearing_l10_mrev(30.7, 3.07, 10.0 / 3.0) == pytest.approx(10 ** (10 / 3))
    # 1000 Mrev at 10 000 rpm: 1e9 / 600 000 rev per hour
    assert physics.bearing_l10_hours(30.7, 3.07, 10_000.0) == pytest.approx(1e9 / 6e5)
    assert physics.bearing_life_exponent("angular contact ball (p = 3)") == 3.0
    assert physics.bearing_life_exponent("cylindrical roller bearing") == pytest.approx(10 / 3)
    assert physics.bearing_life_exponent("special, p = 10/3") == pytest.approx(10 / 3)
    assert physics.bearing_life_exponent(None) == 3.0
    # Miner-equivalent load: half the revolutions at 2 kN, half at 4 kN
    p = physics.equivalent_bearing_load([2.0, 4.0], [1.0, 1.0], 3.0)
    assert p == pytest.approx(((8 + 64) / 2) ** (1 / 3))
    assert physics.equivalent_bearing_load([5.0, 5.0], [3.0, 7.0]) == pytest.approx(5.0)


@pytest.mark.parametrize("m", [2.0, 3.0, 3.6])
def test_paris_closed_form_matches_numerical_integration(m: float) -> None:
    c, a0, af, ds = 1e-11, 0.1, 3.0, 120.0

    def cycles_per_mm(a: float) -> float:
        return 1.0 / physics.paris_rate(c, physics.stress_intensity_range(ds, a), m)

    numeric, _ = integrate.quad(cycles_per_mm, a0, af)
    closed = physics.paris_cycles(c, m, a0, af, ds)
    assert closed == pytest.approx(numeric, rel=1e-6)
    # the inverse gives the crack size back, and half the cycles leave the crack short of af
    assert physics.paris_crack_size(c, m, a0, closed, ds) == pytest.approx(af, rel=1e-6)
    assert a0 < physics.paris_crack_size(c, m, a0, closed / 2, ds) < af


def test_paris_growth_blows_up_in_finite_cycles_for_m_above_two() -> None:
    c, m, a0, ds = 1e-11, 3.0, 0.1, 120.0
    to_infinity = physics.paris_cycles(c, m, a0, 1e12, ds)
    assert np.isinf(physics.paris_crack_size(c, m, a0, to_infinity * 1.01, ds))
    with pytest.raises(ValueError, match="a0 < af"):
        physics.paris_cycles(c, m, 1.0, 0.5, ds)


def test_lesit_and_coffin_manson() -> None:
    # Held et al. 1997: A = 640, α = −5, Ea = 0.8 eV
    n = physics.lesit_cycles(640.0, -5.0, 0.8, 45.0, 353.15)
    assert n == pytest.approx(640.0 * 45.0**-5 * math.exp(0.8 / (8.617333262e-5 * 353.15)))
    # doubling the swing costs 2^5 in life; a hotter mean temperature costs the Arrhenius factor
    assert physics.lesit_cycles(640.0, -5.0, 0.8, 90.0, 353.15) == pytest.approx(n / 32)
    hotter = physics.lesit_cycles(640.0, -5.0, 0.8, 45.0, 373.15)
    assert n / hotter == pytest.approx(physics.arrhenius_af(0.8, 353.15, 373.15))
    assert physics.coffin_manson_cycles(1e9, -4.0, 10.0) == pytest.approx(1e5)


def test_miner_rule() -> None:
    assert physics.miner_damage([1e4, 2e4], [1e5, 1e5]) == pytest.approx(0.3)
    assert physics.miner_damage([5e4, 5e3], [1e5, 1e4]) == pytest.approx(1.0)


@pytest.mark.parametrize("dist", ["lognormal", "weibull"])
def test_standardized_life_distributions(dist: str) -> None:
    z = np.linspace(-3, 2, 11)
    cdf = physics.std_cdf(dist, z)
    assert np.allclose(physics.std_ppf(dist, cdf), z)
    assert np.allclose(np.exp(physics.std_logsf(dist, z)), 1 - cdf)
    reference = stats.norm if dist == "lognormal" else stats.gumbel_l
    assert np.allclose(np.exp(physics.std_logpdf(dist, z)), reference.pdf(z))
    assert np.allclose(cdf, reference.cdf(z))


def test_kernels_are_one_at_the_reference_and_follow_the_laws() -> None:
    oven = LAWS["reflow_oven"]
    th = {"ea_ev": 0.75}
    temps = np.array([[physics.OVEN_T_REF_K], [873.15], [773.15]])
    k = oven.kernel(temps, th)
    assert k[0] == pytest.approx(1.0)
    assert np.allclose(k, physics.arrhenius_af(0.75, physics.OVEN_T_REF_K, temps[:, 0]))

    servo = LAWS["servo_drive"]
    th = {"alpha": -5.0, "ea_ev": 0.8}
    x = np.array([[45.0, physics.SERVO_TM_REF_K], [50.0, 363.15]])
    k = servo.kernel(x, th)
    nf = physics.lesit_cycles(640.0, -5.0, 0.8, x[:, 0], x[:, 1])
    assert k[0] == pytest.approx(1.0)
    assert k[1] == pytest.approx(nf[0] / nf[1])  # damage per cycle ∝ 1/N_f

    cnc = LAWS["cnc_spindle"]
    # exposure rate Mrev·(P/C)^p: one L10 life at P = C/10 is 1000 Mrev → exposure 1
    mrev = physics.bearing_l10_mrev(30.0, 3.0)
    assert mrev * cnc.kernel(np.array([[0.1]]), {"life_exponent_p": 3.0})[0] == pytest.approx(1.0)

    smt = LAWS["smt_placer"]
    assert smt.kernel(np.array([[6.0]]), {"load_exponent_b": 1.0})[0] == pytest.approx(2.0)


def test_law_variables_from_readings_and_datasheet() -> None:
    smt = LAWS["smt_placer"]
    frame = pl.DataFrame(
        {"placement_rate_per_min": [600.0, 0.0, None], "placement_force_n": [3.0, None, 3.0]}
    )
    rated = {"nozzle_hardness_hv": 1200, "sliding_per_placement_mm": 0.5}
    v = smt.variables(frame, rated)
    # 600/min · 60 · 0.5 mm of sliding per hour, times F_ref / H
    expected = 600 * 60 * 0.5 * physics.SMT_F_REF_N / (1200 * physics.G_N)
    assert v["weight_per_h"][0] == pytest.approx(expected)
    assert v["weight_per_h"][1] == 0.0  # stopped: no wear, whatever the force reads
    assert np.isnan(v["weight_per_h"][2])  # rate unknown: no reading
    with pytest.raises(RatingError, match=r"rated\.nozzle_hardness_hv.*machines\.yaml"):
        smt.variables(frame, {"sliding_per_placement_mm": 0.5})

    oven = LAWS["reflow_oven"]
    v = oven.variables(pl.DataFrame({"heater_temp_c": [550.0, 25.0, None]}), {})
    assert v["weight_per_h"][0] == 1.0 and v["weight_per_h"][1] == 0.0
    assert np.isnan(v["weight_per_h"][2])
    assert v["temp_k"][0] == pytest.approx(physics.OVEN_T_REF_K)

    cnc = LAWS["cnc_spindle"]
    rated = {
        "bearing_dynamic_load_rating_c_kn": 30.0,
        "bearing_preload_kn": 1.0,
        "bearing_load_at_full_load_kn": 7.0,
    }
    v = cnc.variables(pl.DataFrame({"speed_rpm": [12000.0], "load_pct": [50.0]}), rated)
    assert v["weight_per_h"][0] == pytest.approx(0.72)  # Mrev per hour
    assert v["load_ratio"][0] == pytest.approx(4.0 / 30.0)


def test_paris_linearization() -> None:
    y = np.array([0.1, 0.4, 1.6])
    assert np.allclose(physics.paris_linearized(y, 3.0), y**-0.5)
    assert np.allclose(physics.paris_linearized(y, 2.0), np.log(y))
    assert np.allclose(physics.paris_linearized(y, 4.0), 1 / y)
