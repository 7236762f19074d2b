"""The array math of the fusion: a basis over the context and the two ways to combine branches.

Plain numpy on arrays, kept apart from :class:`~dt_platform.phm.fusion.Fuser` (which reads the
frames, cross-fits and calibrates) so each formula can be read and tested on its own. The
context ``z`` is expanded in piecewise-linear "hat" functions ``φ_j(z)``; both methods let their
coefficients vary along it:

``stack``
    Varying-coefficient linear stacking: ``fused = Σ_j φ_j(z) · (β0_j + β_ml_j·ml + β_ph_j·phys
    + Σ_i β_ij·x_i)``, the ``x_i`` optional further inputs (e.g. the unit's age: where a capped
    data branch cannot tell 100 cycles left from 150, how long the unit has run still says
    something). With the branches' confidence, two more terms ``γ_ml_j·w·ml + γ_ph_j·w·phys``,
    ``w`` the physics branch's inverse-variance share (:func:`precision_share`), let a branch
    count for more on the rows where its own interval says it is surer than the other: the
    stack then nests inverse-variance weighting (``β_ml = 1, γ_ml = −1, γ_ph = 1``). Linear in
    β, fitted by ridge-penalized least squares in closed form (a small ridge keeps sparse
    context bins stable). It generalizes inverse-variance weighting to correlated, biased
    branches. An ``asymmetry`` > 1 weighs late errors (predicted RUL above the truth, i.e. an
    unplanned failure) more than early ones.
``ivw``
    Inverse-variance weighting: each branch's interval width, rescaled per context so its
    standardized errors have unit variance, gives ``σ``; after a per-context bias correction the
    weights are ``∝ 1/σ²``, corrected for the correlation ρ of the two branches' errors (Bates &
    Granger 1969: ``w_phys = (σ_ml² − ρσ_mlσ_ph) / (σ_ml² + σ_ph² − 2ρσ_mlσ_ph)``, plain IVW when
    ρ = 0). The branch that is unsure of itself (wide band) gets less say.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

Z90 = 1.6448536269514722
"""Standard normal quantile of 95 %: a 90 % interval is ``±Z90·σ``."""


def hat_basis(z: np.ndarray, knots: Sequence[float]) -> np.ndarray:
    """Piecewise-linear B-spline basis (rows sum to 1); constant beyond the end knots."""
    knots = np.asarray(knots, dtype=np.float64)
    z = np.clip(np.asarray(z, dtype=np.float64), knots[0], knots[-1])
    if len(knots) == 1:
        return np.ones((len(z), 1))
    basis = np.zeros((len(z), len(knots)))
    j = np.clip(np.searchsorted(knots, z, side="right") - 1, 0, len(knots) - 2)
    left, right = knots[j], knots[j + 1]
    frac = np.where(right > left, (z - left) / np.where(right > left, right - left, 1.0), 0.0)
    rows = np.arange(len(z))
    basis[rows, j] = 1.0 - frac
    basis[rows, j + 1] += frac
    return basis


def ridge_solve(
    x: np.ndarray, y: np.ndarray, lam: float, weights: np.ndarray | None = None
) -> np.ndarray:
    """Ridge least squares (penalty ``lam`` scaled by the data size)."""
    w = np.ones(len(y)) if weights is None else weights
    xtw = x.T * w
    gram = xtw @ x
    penalty = lam * np.trace(gram) / gram.shape[0] * 1e-3
    return np.linalg.solve(gram + penalty * np.eye(x.shape[1]), xtw @ y)


def branch_sigma(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """A branch's standard deviation per row from its 90 % interval ``[lo, hi]``.

    A band clipped at zero RUL (or collapsed at a cap) can be arbitrarily narrow; one time unit
    of irreducible spread keeps the weights finite and the calibration meaningful.
    """
    return np.hypot(np.clip((hi - lo) / (2 * Z90), 0.0, None), 1.0)


def precision_share(s_ml: np.ndarray, s_ph: np.ndarray) -> np.ndarray:
    """The physics branch's inverse-variance share ``σ_ml² / (σ_ml² + σ_ph²)`` per row, from
    each branch's own σ (:func:`branch_sigma`): near 1 where physics is far surer of itself."""
    return s_ml**2 / (s_ml**2 + s_ph**2)


def _stack_terms(
    ml: np.ndarray, ph: np.ndarray, inputs: np.ndarray | None, share: np.ndarray | None
) -> list[np.ndarray]:
    """The stack's terms after the intercept: ``ml``, ``phys``, each input, then (with the
    branches' ``share``) ``share·ml`` and ``share·phys``."""
    terms = [ml, ph, *([] if inputs is None else inputs.T)]
    return terms if share is None else [*terms, share * ml, share * ph]


def _stack_design(
    basis: np.ndarray,
    ml: np.ndarray,
    ph: np.ndarray,
    inputs: np.ndarray | None,
    share: np.ndarray | None = None,
) -> np.ndarray:
    """The stack's design: one block of knot columns for the intercept, then one per term
    (:func:`_stack_terms`)."""
    terms = _stack_terms(ml, ph, inputs, share)
    return np.hstack([basis, *(basis * t[:, None] for t in terms)])


def fit_stack(
    basis: np.ndarray,
    ml: np.ndarray,
    ph: np.ndarray,
    y: np.ndarray,
    lam: float,
    asymmetry: float = 1.0,
    inputs: np.ndarray | None = None,
    share: np.ndarray | None = None,
) -> list[float]:
    """Stacking coefficients ``(β0, β_ml, β_ph, β_1 … β_n[, γ_ml, γ_ph])`` per knot, flattened
    knot by knot; ``inputs``: the further inputs, one column each (``(rows, n)``), or None;
    ``share``: the physics branch's inverse-variance share per row (:func:`precision_share`) to
    weigh the branches by their confidence too, or None."""
    design = _stack_design(basis, ml, ph, inputs, share)
    beta = ridge_solve(design, y, lam)
    for _ in range(20 if asymmetry != 1.0 else 0):
        # Asymmetric least squares (expectile) by iterative reweighting: late errors
        # (prediction above truth) weigh ``asymmetry`` times more than early ones.
        w = np.where(design @ beta > y, asymmetry, 1.0)
        new = ridge_solve(design, y, lam, w)
        if np.allclose(new, beta, atol=1e-8):
            break
        beta = new
    return beta.reshape(-1, basis.shape[1]).T.ravel().tolist()


def stack_point(
    basis: np.ndarray,
    coef: Sequence[float],
    ml: np.ndarray,
    ph: np.ndarray,
    inputs: np.ndarray | None = None,
    share: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Stacked point (unclipped) and the share of physics in it, from :func:`fit_stack` (with
    the same ``inputs`` and ``share``)."""
    table = np.asarray(coef).reshape(basis.shape[1], -1)
    terms = _stack_terms(ml, ph, inputs, share)
    if table.shape[1] != 1 + len(terms):
        raise ValueError(
            f"stack_point: the coefficients are for {table.shape[1] - 3} further term(s), "
            f"got {len(terms) - 2}."
        )
    # term by term, as the formula reads: each row's value does not depend on the other rows
    # (one matrix product over the whole design can round differently with the batch's size)
    beta = [basis @ table[:, i] for i in range(table.shape[1])]
    fused = beta[0]
    for b, term in zip(beta[1:], terms, strict=True):
        fused = fused + b * term
    b_ml, b_ph = beta[1], beta[2]
    if share is not None:  # each branch's weight, its confidence term included
        b_ml, b_ph = b_ml + beta[-2] * share, b_ph + beta[-1] * share
    total = np.abs(b_ml) + np.abs(b_ph)
    w_ph = np.where(total > 0, np.abs(b_ph) / np.where(total > 0, total, 1.0), 0.5)
    return fused, w_ph


def fit_ivw(
    basis: np.ndarray,
    ml: np.ndarray,
    s_ml: np.ndarray,
    ph: np.ndarray,
    s_ph: np.ndarray,
    y: np.ndarray,
) -> dict[str, list[float]]:
    """Per-knot bias, variance scale and error correlation of the two branches."""
    # Per-context bias and variance scale of each branch (hat-weighted averages).
    weight = basis / np.clip(basis.sum(axis=0), 1e-9, None)
    e_ml, e_ph = ml - y, ph - y
    bias_ml, bias_ph = weight.T @ e_ml, weight.T @ e_ph
    u_ml = (e_ml - basis @ bias_ml) / s_ml
    u_ph = (e_ph - basis @ bias_ph) / s_ph
    k_ml = np.sqrt(np.clip(weight.T @ u_ml**2, 1e-6, None))
    k_ph = np.sqrt(np.clip(weight.T @ u_ph**2, 1e-6, None))
    return {
        "bias_ml": bias_ml.tolist(),
        "bias_ph": bias_ph.tolist(),
        "k_ml": k_ml.tolist(),
        "k_ph": k_ph.tolist(),
        "rho": np.clip((weight.T @ (u_ml * u_ph)) / (k_ml * k_ph), -0.95, 0.95).tolist(),
    }


def ivw_point(
    basis: np.ndarray,
    ivw: dict[str, list[float]],
    ml: np.ndarray,
    s_ml: np.ndarray,
    ph: np.ndarray,
    s_ph: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Inverse-variance weighted point (unclipped) and the weight on physics (:func:`fit_ivw`)."""
    k_ml = basis @ np.asarray(ivw["k_ml"])
    k_ph = basis @ np.asarray(ivw["k_ph"])
    rho = np.clip(basis @ np.asarray(ivw["rho"]), -0.95, 0.95)
    bias_ml = basis @ np.asarray(ivw["bias_ml"])
    bias_ph = basis @ np.asarray(ivw["bias_ph"])
    sd_ml, sd_ph = k_ml * s_ml, k_ph * s_ph
    cov = rho * sd_ml * sd_ph
    # Bates-Granger weight for two correlated unbiased estimates; independent errors
    # (rho = 0) give plain inverse-variance weighting.
    denom = np.clip(sd_ml**2 + sd_ph**2 - 2 * cov, 1e-9, None)
    w_ph = np.clip((sd_ml**2 - cov) / denom, 0.0, 1.0)
    return (1 - w_ph) * (ml - bias_ml) + w_ph * (ph - bias_ph), w_ph


def fit_scale(basis: np.ndarray, abs_residual: np.ndarray, lam: float) -> list[float]:
    """Scale of the residual as a function of context: hat-basis fit of ``|residual|``."""
    return np.clip(ridge_solve(basis, abs_residual, lam), 1e-3, None).tolist()
