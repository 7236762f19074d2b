"""The health index: a linear map of regime-normalized sensors, ≈1 when new and ≈0 at failure."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl
import statsmodels.api as sm

from dt_platform.phm.features import SensorNormalizer

HI = "hi"


def _life_fraction(frame: pl.DataFrame, unit: str, time: str) -> pl.DataFrame:
    t0 = pl.col(time).cast(pl.Float64).first().over(unit)
    t_end = pl.col(time).cast(pl.Float64).last().over(unit)
    return frame.sort([unit, time]).with_columns(
        ((pl.col(time).cast(pl.Float64) - t0) / pl.max_horizontal(t_end - t0, pl.lit(1.0))).alias(
            "__frac"
        ),
        (t_end - pl.col(time).cast(pl.Float64)).alias("__rul"),
    )


@dataclass
class HealthIndex:
    """Linear health index on normalized sensors, fitted with statsmodels OLS on training units."""

    sensors: list[str]
    intercept: float
    coef: list[float]
    stderr: list[float]
    normalizer: SensorNormalizer

    @classmethod
    def fit(
        cls,
        train: pl.DataFrame,
        *,
        unit: str,
        time: str,
        normalizer: SensorNormalizer,
        healthy_frac: float = 0.2,
        failed_frac: float = 0.05,
        min_corr: float = 0.3,
    ) -> HealthIndex:
        """Fit on complete run-to-failure units (each unit's last row is its failure)."""
        if not 0 < healthy_frac < 1 - failed_frac < 1:
            raise ValueError("need 0 < healthy_frac < 1 - failed_frac < 1 (e.g. 0.2 and 0.05).")
        data = normalizer.transform(_life_fraction(train, unit, time))
        frac = data["__frac"].to_numpy()
        sensors = []
        for s in normalizer.sensors:
            v = data[s].to_numpy()
            ok = np.isfinite(v)
            if ok.sum() > 2 and abs(np.corrcoef(v[ok], frac[ok])[0, 1]) >= min_corr:
                sensors.append(s)
        if not sensors:
            raise ValueError(
                f"HealthIndex.fit: no sensor correlates with life fraction by ≥ {min_corr}; "
                "the training units show no monotone degradation, lower min_corr."
            )
        rows = data.filter(
            (pl.col("__frac") <= healthy_frac) | (pl.col("__frac") >= 1 - failed_frac)
        )
        # fitted on what it is applied to (:meth:`transform`): a missing reading as its regime's
        # mean; a row with none of the sensors says nothing and is left out
        rows = rows.filter(~pl.all_horizontal(pl.col(sensors).is_null())).with_columns(
            pl.col(sensors).fill_null(0.0)
        )
        y = (rows["__frac"].to_numpy() <= healthy_frac).astype(np.float64)
        x = sm.add_constant(rows.select(sensors).to_numpy(), has_constant="add")
        fit = sm.OLS(y, x).fit()
        return cls(
            sensors=sensors,
            intercept=float(fit.params[0]),
            coef=[float(v) for v in fit.params[1:]],
            stderr=[float(v) for v in fit.bse[1:]],
            normalizer=normalizer,
        )

    def transform(self, frame: pl.DataFrame, *, name: str = HI) -> pl.DataFrame:
        """``frame`` with a column ``name`` holding the health index of every row."""
        normalized = self.normalizer.transform(frame)
        values = normalized.select(self.sensors).cast(pl.Float64).to_numpy()
        # A missing reading counts as its regime mean (z = 0): no evidence of wear either way.
        hi = self.intercept + np.nan_to_num(values, nan=0.0) @ np.asarray(self.coef)
        return frame.with_columns(pl.Series(name, hi, dtype=pl.Float64))

    def to_dict(self) -> dict[str, Any]:
        return {
            "sensors": self.sensors,
            "intercept": self.intercept,
            "coef": self.coef,
            "stderr": self.stderr,
            "normalizer": self.normalizer.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> HealthIndex:
        data = dict(data)
        data["normalizer"] = SensorNormalizer.from_dict(data["normalizer"])
        return cls(**data)
