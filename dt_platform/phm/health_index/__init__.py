"""The degradation-model ("physics") branch for machines without first-principles physics.

C-MAPSS gives 21 anonymous sensors and no damage law, so the branch models *degradation*
instead: a health index summarizes the sensors, and a degradation model on that index gives the
RUL. Two degradation models are available (:class:`PhysicsBranch` ``method``): the exponential
law with fleet-learned priors described below, and trajectory similarity to the fleet's
run-to-failure curves (:mod:`dt_platform.phm.similarity`).

Method
------
1. **Health index (HI).** On regime-normalized sensors (see :mod:`dt_platform.phm.features`), an
   OLS map (statsmodels) is fitted on training units: rows in the first ``healthy_frac`` of a
   unit's life get target 1, rows in its last ``failed_frac`` get 0, the middle is left out so
   the map learns "healthy vs. worn" rather than "how far along". Applied to every row this gives
   HI(t), ≈1 when new and ≈0 at failure. Sensors must move with wear on the fleet
   (|corr with life fraction| ≥ ``min_corr``) to enter the map.
2. **Degradation law.** Per unit, ``HI(τ) = a − b·(exp(c·τ) − 1) + ε``, with ``τ = t / L``
   service age in units of the fleet's median life ``L`` and ε ~ N(0, σ²) i.i.d. The law is
   flat early and accelerates later, the shape of fatigue / wear-out (and of C-MAPSS HPC
   degradation). For a fixed rate ``c`` it is linear in ``(a, b)``.
3. **Fleet priors (empirical Bayes).** Each training unit's complete run is fitted (OLS profile
   over a grid of ``c``; statsmodels OLS at the best ``c``). That gives the prior on ``c``
   (log-normal, discretized on the grid), the prior N(μ_c, Σ_c) of ``(a, b)`` at every grid ``c``
   (fleet spread of the unit fits at that rate, so the b–c coupling is kept), the noise σ², and
   the failure threshold: the fitted HI at end of life, N(μ_thr, s_thr²).
4. **Update for a running unit.** For every grid ``c`` the Gaussian prior on ``(a, b)`` is
   updated in closed form with the unit's history (conjugate Bayesian linear regression; equal
   to statsmodels WLS with the prior added as pseudo-observations, which a test checks), and
   ``c`` gets posterior weight ∝ prior × marginal likelihood. Sufficient statistics are
   cumulative sums, so every prefix of a unit's history (every possible "now") costs O(1).
5. **RUL.** Draws of (c, a, b, threshold) give the failure time ``τ* = ln(1 + (a − thr)/b) / c``;
   draws with τ* before "now" contradict the unit still running and are dropped (conditioning on
   survival). The median of ``(τ* − τ_now)·L`` is ``rul_phys``, its 5 % / 95 % quantiles the
   interval. Common random numbers make the draws a deterministic function of the posterior.

Assumptions: one dominant, monotone degradation mode (true for FD001/FD002; FD003/FD004 mix two
modes and the HI then averages them); noise independent in time; failure when the HI crosses a
fleet-typical threshold; the test units come from the same population as the training fleet.
Early in life the data barely constrain ``b`` and ``c`` and the RUL falls back to the fleet prior
(wide interval) — the estimate is *not* capped, so it can exceed the ML branch's cap when the data
say the unit is healthy. All parameters come from training data only.
"""

from dt_platform.phm.health_index.branch import PHYSICS_METHODS, PhysicsBranch
from dt_platform.phm.health_index.conjugate import conjugate_update
from dt_platform.phm.health_index.degradation import DegradationModel
from dt_platform.phm.health_index.index import HI, HealthIndex

__all__ = [
    "HI",
    "PHYSICS_METHODS",
    "DegradationModel",
    "HealthIndex",
    "PhysicsBranch",
    "conjugate_update",
]
