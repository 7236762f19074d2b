"""Trajectory-similarity RUL: known answers, brute-force equivalence, causality, no cap."""

import numpy as np
import polars as pl
import pytest
from scipy.special import logsumexp
from scipy.stats import norm

from dt_platform.phm.similarity import SimilarityModel, exp_curve, mixture_quantiles

RATE = 4.0


def _hi(life: int, noise: float, rng: np.random.Generator, offset: float = 0.0) -> np.ndarray:
    """Health index of a unit that fails at ``life``: 1 when new, 0 at failure, exponential."""
    t = np.arange(1, life + 1, dtype=float)
    clean = 1.0 - np.expm1(RATE * t / life) / np.expm1(RATE)
    return clean + offset + noise * rng.standard_normal(life)


def _fleet(lives: list[int], noise: float, seed: int) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    parts = [
        pl.DataFrame({"unit": u, "cycle": np.arange(1, life + 1), "hi": _hi(life, noise, rng)})
        for u, life in enumerate(lives, start=1)
    ]
    return pl.concat(parts)


@pytest.fixture(scope="module")
def model() -> SimilarityModel:
    return SimilarityModel.fit(
        _fleet(list(range(120, 330, 10)), noise=0.02, seed=0), unit="unit", time="cycle"
    )


def test_exp_curve_recovers_an_exact_exponential() -> None:
    tau = np.linspace(0, 1.2, 80)
    h = 0.9 - 0.05 * np.expm1(3.0 * tau)
    rates = np.sort(np.append(np.geomspace(0.2, 25, 40), 3.0))
    assert exp_curve(tau, h, rates) == pytest.approx(h, abs=1e-9)
    assert exp_curve(tau, np.full(80, 0.5), rates) == pytest.approx(np.full(80, 0.5))


def test_mixture_quantiles_of_one_gaussian_are_its_quantiles() -> None:
    weight = np.array([[1.0, 0.0], [0.5, 0.5]])
    mean = np.array([[50.0, 0.0], [40.0, 40.0]])
    sd = np.array([[10.0, 1.0], [5.0, 5.0]])
    q = mixture_quantiles(weight, mean, sd, (0.05, 0.5, 0.95))
    assert q[0] == pytest.approx(50.0 + 10.0 * norm.ppf([0.05, 0.5, 0.95]), abs=0.1)
    assert q[1] == pytest.approx(40.0 + 5.0 * norm.ppf([0.05, 0.5, 0.95]), abs=0.05)


def _brute_force(model: SimilarityModel, h: np.ndarray, t: int) -> tuple[np.ndarray, np.ndarray]:
    """Weights and per-reference RUL means at prefix ``t`` by explicit loops (the definition)."""
    w = min(t + 1, min(len(c) for c in model.curves))
    if model.window is not None:
        w = min(w, model.window)
    var = model.sigma2 * model.temperature
    query = h[t - w + 1 : t + 1]
    logs, means = [], []
    for curve, rem in zip(model.curves, model.remaining, strict=True):
        curve, rem = np.asarray(curve), np.asarray(rem)
        lw, ruls = [], []
        for p in range(w - 1, len(curve)):
            e = query - curve[p - w + 1 : p + 1]
            d = (e**2).sum()
            if model.level_var > 0:
                d -= e.sum() ** 2 / (w + var / model.level_var)
            lw.append(-d / (2 * var))
            ruls.append(rem[p])
        lw = np.asarray(lw)
        logs.append(logsumexp(lw) - np.log(len(lw)))
        means.append(np.exp(lw - logsumexp(lw)) @ np.asarray(ruls))
    logs = np.asarray(logs)
    return np.exp(logs - logsumexp(logs)), np.asarray(means)


@pytest.mark.parametrize("window", [None, 25])
@pytest.mark.parametrize("level_offset", [True, False])
def test_match_equals_the_brute_force_definition(window: int | None, level_offset: bool) -> None:
    fleet = _fleet([60, 75, 90, 110], noise=0.03, seed=1)
    model = SimilarityModel.fit(
        fleet, unit="unit", time="cycle", window=window, level_offset=level_offset
    )
    h = _hi(80, 0.03, np.random.default_rng(2))[:70]
    weight, mean, _ = model.match(h)
    for t in (0, 5, 24, 40, 69):
        w_ref, m_ref = _brute_force(model, h, t)
        assert weight[t] == pytest.approx(w_ref, rel=1e-7, abs=1e-12)
        assert mean[t] == pytest.approx(m_ref, rel=1e-7)


def test_rul_of_an_unseen_unit_is_recovered(model: SimilarityModel) -> None:
    rng = np.random.default_rng(7)
    for life in (185, 263):
        pred = model.predict_unit(_hi(life, 0.02, rng))
        true = life - np.arange(1, life + 1)
        late = true <= 0.5 * life  # once degradation shows, the trajectory pins the RUL down
        err = pred[late, 0] - true[late]
        assert np.sqrt(np.mean(err**2)) < 0.12 * life
        inside = (true >= pred[:, 1]) & (true <= pred[:, 2])
        assert inside.mean() >= 0.75  # 21 references: a coarse library, a fair interval


def test_an_exact_reference_is_found_and_its_remaining_life_returned(
    model: SimilarityModel,
) -> None:
    # The unit is one of the references: near failure its own curve dominates the weights.
    idx = model.units.index(13)  # life 240
    h = np.asarray(model.curves[idx])
    weight, _, _ = model.match(h[:200])
    assert int(np.argmax(weight[-1])) == idx
    pred = model.predict_unit(h[:200])
    assert pred[-1, 0] == pytest.approx(model.remaining[idx][199], abs=5.0)


def test_level_offset_is_integrated_out(model: SimilarityModel) -> None:
    rng = np.random.default_rng(3)
    h = _hi(240, 0.02, rng, offset=0.25)[:180]  # same shape, shifted: a different initial wear
    plain = SimilarityModel(**{**model.to_dict(), "level_var": 0.0})
    shifted_prior = SimilarityModel(**{**model.to_dict(), "level_var": 0.25**2})
    err_plain = abs(plain.predict_unit(h)[-1, 0] - 60.0)
    err_offset = abs(shifted_prior.predict_unit(h)[-1, 0] - 60.0)
    assert err_offset < 10.0
    assert err_offset < err_plain


def test_no_look_ahead(model: SimilarityModel) -> None:
    h = _hi(230, 0.02, np.random.default_rng(4))
    full = model.predict_unit(h)
    for cut in (1, 30, 151):
        assert model.predict_unit(h[:cut]) == pytest.approx(full[:cut], rel=1e-9, abs=1e-9)
    # changing the future does not change the past
    future = h.copy()
    future[100:] += 0.5
    assert model.predict_unit(future)[:100] == pytest.approx(full[:100], rel=1e-9, abs=1e-9)


def test_intervals_are_ordered_and_non_negative(model: SimilarityModel) -> None:
    rng = np.random.default_rng(5)
    for life in (130, 300):
        pred = model.predict_unit(_hi(life, 0.05, rng))
        med, lo, hi, mean = pred.T
        assert (lo <= med).all() and (med <= hi).all() and (lo >= 0).all()
        assert (mean >= lo).all() and (mean <= hi).all()
        # the interval narrows as failure approaches
        assert (hi - lo)[-10:].mean() < (hi - lo)[:10].mean()


def test_predictions_are_not_capped(model: SimilarityModel) -> None:
    # A healthy young unit of a long-lived fleet: its RUL is far beyond the ML cap of 125.
    long_fleet = _fleet([380, 400, 420, 440, 460], noise=0.02, seed=8)
    long_model = SimilarityModel.fit(long_fleet, unit="unit", time="cycle")
    pred = long_model.predict_unit(_hi(410, 0.02, np.random.default_rng(9))[:60])
    assert pred[-1, 0] > 250
    assert pred[-1, 2] > pred[-1, 0] > pred[-1, 1]


def test_short_history_falls_back_to_the_fleet_and_is_wide(model: SimilarityModel) -> None:
    pred = model.predict_unit(np.array([1.0]))
    med, lo, hi, _ = pred[0]
    lives = [len(c) for c in model.curves]
    assert min(lives) * 0.5 < med < max(lives)
    assert hi - lo > 100


def test_missing_samples(model: SimilarityModel) -> None:
    h = _hi(200, 0.02, np.random.default_rng(10))[:120]
    gap = h.copy()
    gap[:3] = np.nan
    gap[50:55] = np.nan
    pred = model.predict_unit(gap)
    assert np.isnan(pred[:3]).all() and np.isfinite(pred[3:]).all()
    carried = h.copy()
    carried[50:55] = h[49]
    assert pred[3:] == pytest.approx(model.predict_unit(carried[3:]), rel=1e-9, abs=1e-9)


def test_frame_api_round_trip_and_errors(model: SimilarityModel) -> None:
    rng = np.random.default_rng(11)
    frame = pl.concat(
        [
            pl.DataFrame(
                {"unit": u, "cycle": np.arange(1, n + 1), "hi": _hi(n + 40, 0.02, rng)[:n]}
            )
            for u, n in ((7, 90), (3, 50))
        ]
    )
    every = model.predict(frame, unit="unit", time="cycle")
    last = model.predict(frame, unit="unit", time="cycle", last_only=True)
    assert every.columns == ["unit", "cycle", "rul_sim", "rul_sim_lo", "rul_sim_hi", "rul_sim_mean"]
    assert every["unit"].to_list() == [3] * 50 + [7] * 90  # sorted by unit then time
    assert last.equals(every.group_by("unit", maintain_order=True).tail(1))
    again = SimilarityModel.from_dict(model.to_dict())
    assert again.predict(frame, unit="unit", time="cycle").equals(every)
    with pytest.raises(ValueError, match="at least 3"):
        SimilarityModel.fit(_fleet([50, 60], 0.02, 0), unit="unit", time="cycle")
    with pytest.raises(ValueError, match="window"):
        SimilarityModel.fit(_fleet([50, 60, 70], 0.02, 0), unit="unit", time="cycle", window=1)
    with pytest.raises(ValueError, match="missing"):
        model.predict(frame.drop("hi"), unit="unit", time="cycle")
