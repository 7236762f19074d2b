"""The physics branch: the health index plus the chosen degradation model, fitted together."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import polars as pl

from dt_platform.phm.features import SensorNormalizer
from dt_platform.phm.health_index.degradation import DegradationModel
from dt_platform.phm.health_index.index import HI, HealthIndex
from dt_platform.phm.similarity import SimilarityModel

PHYSICS_METHODS = ("exponential", "similarity")


@dataclass
class PhysicsBranch:
    """Health index + a degradation model on it, fitted together on training units.

    ``method`` picks the degradation model that gives ``rul_phys``:

    ``"exponential"``
        :class:`DegradationModel`: this unit's own health-index history extrapolated by an
        exponential law with fleet priors (empirical Bayes, per-unit posterior).
    ``"similarity"``
        :class:`~dt_platform.phm.similarity.SimilarityModel`: this unit's recent health-index
        trajectory matched against the fleet's complete run-to-failure curves (Wang et al. 2008).

    Both are degradation models on the same health index, uncapped, with a 90 % interval.
    """

    health_index: HealthIndex
    degradation: DegradationModel | None
    unit: str
    time: str
    method: str = "exponential"
    similarity: SimilarityModel | None = None

    @classmethod
    def fit(
        cls,
        train: pl.DataFrame,
        *,
        unit: str,
        time: str,
        normalizer: SensorNormalizer,
        hi_kwargs: dict[str, Any] | None = None,
        degradation_kwargs: dict[str, Any] | None = None,
        method: str = "exponential",
        similarity_kwargs: dict[str, Any] | None = None,
    ) -> PhysicsBranch:
        """Fit the health index, then the chosen degradation model on its values."""
        if method not in PHYSICS_METHODS:
            raise ValueError(
                f"PhysicsBranch: method must be one of {PHYSICS_METHODS}, got {method!r}."
            )
        hi_model = HealthIndex.fit(
            train, unit=unit, time=time, normalizer=normalizer, **(hi_kwargs or {})
        )
        with_hi = hi_model.transform(train)
        if method == "exponential":
            deg = DegradationModel.fit(with_hi, unit=unit, time=time, **(degradation_kwargs or {}))
            return cls(hi_model, deg, unit, time, method)
        sim = SimilarityModel.fit(with_hi, unit=unit, time=time, **(similarity_kwargs or {}))
        return cls(hi_model, None, unit, time, method, sim)

    def predict(self, frame: pl.DataFrame, *, last_only: bool = False) -> pl.DataFrame:
        """``unit, time, hi, rul_phys, rul_phys_lo, rul_phys_hi, rul_phys_mean`` per row."""
        with_hi = self.health_index.transform(frame)
        if self.method == "similarity":
            assert self.similarity is not None
            pred = self.similarity.predict(
                with_hi,
                unit=self.unit,
                time=self.time,
                last_only=last_only,
                names=("rul_phys", "rul_phys_lo", "rul_phys_hi", "rul_phys_mean"),
            )
        else:
            assert self.degradation is not None
            pred = self.degradation.predict(
                with_hi, unit=self.unit, time=self.time, last_only=last_only
            )
        return pred.join(
            with_hi.select(self.unit, self.time, HI), on=[self.unit, self.time], how="left"
        )

    def describe(self) -> str:
        """One line saying what the branch is (benchmarks and reports print it)."""
        model = (
            "trajectory similarity to the fleet's run-to-failure health-index curves"
            if self.method == "similarity"
            else "exponential degradation law with fleet priors, updated per unit"
        )
        return f"degradation model on a health index ({len(self.health_index.sensors)} sensors): {model}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "health_index": self.health_index.to_dict(),
            "degradation": self.degradation.to_dict() if self.degradation else None,
            "unit": self.unit,
            "time": self.time,
            "method": self.method,
            "similarity": self.similarity.to_dict() if self.similarity else None,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PhysicsBranch:
        deg = data.get("degradation")
        sim = data.get("similarity")
        return cls(
            HealthIndex.from_dict(data["health_index"]),
            DegradationModel.from_dict(deg) if deg else None,
            data["unit"],
            data["time"],
            data.get("method", "exponential"),
            SimilarityModel.from_dict(sim) if sim else None,
        )
