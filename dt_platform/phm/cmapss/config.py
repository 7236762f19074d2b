"""The settings that shape the hybrid model (:class:`PipelineConfig`)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from dt_platform.phm.cmapss.data import TIME
from dt_platform.phm.ml import DEFAULT_CAP, XGBParams
from dt_platform.phm.scoring import phm08_asymmetry

UNITS_PER_KNOT = 3
"""Fewest training units per knot of the fuser's weights, for its three plain terms (one more
per further term, :func:`~dt_platform.phm.cmapss.stages._fusion_terms`). Each knot carries a
weight per branch (and per further input), learned from the held-out rows of the units whose
estimates fall near it: with six engines and six knots the stack fits one engine's errors at
each (``few_units``, three data seeds: held-out fused RMSE 32.0 / 18.8 / 29.9 with six knots,
28.7 / 14.2 / 26.2 with two, the last two by falling back to the data branch)."""


@dataclass(frozen=True)
class PipelineConfig:
    """Everything that shapes the hybrid model. Defaults: chosen by grouped CV on train_FD001."""

    cap: float = DEFAULT_CAP
    """ML target cap (piecewise-linear RUL)."""
    horizon: float = 150.0
    """Fusion is fitted (and CV-scored) on training rows with true RUL <= horizon: the range in
    which predictions are acted on, and the range in which C-MAPSS test series are cut (the
    PHM08 convention behind the 125-130 caps). Beyond it the fused RUL means "at least that"."""
    n_splits: int = 5
    seed: int = 0
    n_regimes: int | None = None
    windows: tuple[int, ...] = (5, 10, 20, 30)
    stats: tuple[str, ...] = ("mean",)
    spans: tuple[int, ...] = (10, 20)
    slope_windows: tuple[int, ...] = (40,)
    age_feature: bool = True
    """Feed the unit's age (cycles since its series began) to XGBoost: how long a unit has run
    without visible wear says something of what is left."""
    physics_features: bool = False
    """Also feed rul_phys / its interval to XGBoost (the HI always is)."""
    physics_method: str = "exponential"
    """Degradation model of the physics branch: ``"exponential"`` (per-unit exponential law
    with fleet priors) or ``"similarity"`` (trajectory similarity to the fleet's curves)."""
    sim_window: int | None = None
    """Similarity branch: health-index samples matched (None: whole history)."""
    sim_temperature: float = 3.0
    """Similarity branch: likelihood tempering (larger: flatter weights over the fleet)."""
    sim_level_offset: bool = True
    """Similarity branch: integrate out each unit's health-index level offset."""
    params: XGBParams = field(default_factory=lambda: XGBParams(num_parallel_tree=4))
    quantile_params: XGBParams | None = None
    fusion_method: str = "stack"
    fusion_knots: int = 6
    """Knots of the fuser's weights along its context. A ceiling: a fleet gets at most one per
    :data:`UNITS_PER_KNOT` training units (:func:`~dt_platform.phm.cmapss.hybrid.fleet_config`)."""
    fusion_inputs: tuple[str, ...] = (TIME,)
    """Further inputs the fuser may weigh with the branches (:attr:`~dt_platform.phm.fusion.Fuser.
    inputs`): the unit's age. The capped data branch reads 100 cycles left and 150 alike; how long
    the unit has run tells them apart a little. Kept per fleet only where the held-out training
    units say it helps (:func:`~dt_platform.phm.cmapss.stages._fusion_terms`); on
    FD001, over 5 seeds: fused RMSE 10.437 -> 10.369 and PHM08 score per row 1.636 -> 1.573,
    better on every seed in both (the data branch alone: 10.862 / 1.607). Unit by unit the gain
    is small: about half the engines gain, sign-flip p 0.07-0.45 on their RMSE and 0.01-0.13 on
    their score (:func:`~dt_platform.phm.evidence.sign_flip_p`)."""
    fusion_confidence: bool = True
    """Let the fuser also weigh each branch by its confidence (its inverse-variance share of the
    two intervals, :attr:`~dt_platform.phm.fusion.Fuser.confidence`), kept per fleet only where
    the held-out training units say it helps (:func:`~dt_platform.phm.cmapss.stages.
    _fusion_terms`). On FD001 it is kept on four seeds of five: held-out fused RMSE 10.369 ->
    10.352, test set 11.14 -> 11.00 and PHM08 score 201 -> 196. Its gain is near failure, where
    the physics branch's interval is narrow (held-out engines at true RUL below 62.5: better
    beyond chance on two seeds, sign-flip p 0.006-0.019); ``short_lives`` 10.3 -> 9.85. On ten
    FD001-like synthetic fleets it was kept on three and cost their test sets 0.04-0.22 RMSE."""
    fusion_asymmetry: float = field(default_factory=phm08_asymmetry)
    """Late/early weight of the fuser's loss: the PHM08 score's own asymmetry at 10 cycles."""
    fusion_fallback: bool = True
    """Report the better branch instead of the fusion when fusing does not beat it on held-out
    training units (:meth:`~dt_platform.phm.fusion.Fuser.fit`)."""
    coverage: float = 0.9

    def __post_init__(self) -> None:
        if not self.cap > 0:
            raise ValueError(f"cap must be positive (cycles of RUL), got {self.cap:g}.")
        if not self.horizon > 0:
            raise ValueError(
                f"horizon must be positive: the true RUL up to which the fuser is fitted and "
                f"scored, in cycles (the cap is {self.cap:g}), got {self.horizon:g}."
            )
        if not 0 < self.coverage < 1:
            raise ValueError(f"coverage must be a share in (0, 1), got {self.coverage:g}.")

    def describe(self) -> dict[str, Any]:
        """JSON-able form (stored in the model bundle and printed by the benchmark)."""
        out = asdict(self)
        out["params"] = asdict(self.params)
        out["quantile_params"] = asdict(self.quantile_params) if self.quantile_params else None
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PipelineConfig:
        data = dict(data)
        data.setdefault("fusion_fallback", False)  # bundles from before the fallback existed
        data.setdefault("age_feature", False)  # and from before the age feature
        data.setdefault("fusion_inputs", ())  # and from before the fuser's further inputs
        data.setdefault("fusion_confidence", False)  # and from before the branches' confidence
        data["params"] = XGBParams(**data["params"])
        if data.get("quantile_params"):
            data["quantile_params"] = XGBParams(**data["quantile_params"])
        for key in ("windows", "stats", "spans", "slope_windows", "fusion_inputs"):
            data[key] = tuple(data[key])
        return cls(**data)
