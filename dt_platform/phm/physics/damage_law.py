"""What a damage law is: literature priors of its parameters, and how one machine type's measured
stresses become an exposure rate (:class:`DamageLaw`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl

from dt_platform.phm.physics.distributions import Distribution


@dataclass(frozen=True)
class Prior:
    """A literature value for a parameter: the prior used when the data cannot identify it."""

    value: float
    sd: float
    source: str
    bounds: tuple[float, float] = (-math.inf, math.inf)
    """Physically plausible range: a free fit outside it is rejected in favour of the prior."""


class RatingError(ValueError):
    """A machine's registry entry lacks a datasheet value its damage law needs."""


@dataclass(frozen=True)
class DamageLaw:
    """How one machine type's measured stresses use up the life of its degrading component."""

    machine_type: str
    component: str
    law: str
    sensors: tuple[str, ...]
    """Canonical sensor names read from telemetry (all must be present in a reading)."""
    shape: dict[str, Prior]
    """Shape parameters θ of the kernel (fitted or held at the prior), in order."""
    shape_vars: tuple[str, ...]
    """Law variables the kernel depends on (columns of :meth:`variables`)."""
    resolution: tuple[float, ...]
    """Grid step per shape variable when stress samples are pooled: fine enough that the kernel
    moves by ≤ 1e-4 within a cell, and a divisor of the sensors' 0.1-unit resolution."""
    exposure_unit: str
    distribution: Distribution
    sigma_prior: Prior
    """Scatter of log-life between units (σ; Weibull: 1/β)."""
    log_eta_prior: Prior | None
    """Literature prior of the log median life in exposure units, if a handbook gives one."""
    _variables: Callable[[pl.DataFrame, Mapping[str, Any]], dict[str, np.ndarray]] = field(
        repr=False
    )
    _kernel: Callable[[np.ndarray, Mapping[str, float]], np.ndarray] = field(repr=False)
    describe: Callable[[Mapping[str, float]], str] = field(repr=False)
    """Human text of the recent operating stress, for alert reasons."""
    display_sensors: tuple[str, ...] = ()
    """Sensors whose recent operating mean goes into the alert reason."""

    def variables(self, frame: pl.DataFrame, rated: Mapping[str, Any]) -> dict[str, np.ndarray]:
        """Law variables from readings: ``weight_per_h`` (linear throughput), ``active`` and the
        shape variables. ``frame`` has one column per sensor in :attr:`sensors`."""
        return self._variables(frame, rated)

    def kernel(self, x: np.ndarray, theta: Mapping[str, float]) -> np.ndarray:
        """Damage kernel at shape variables ``x`` (n, len(shape_vars)); 1 at the reference stress."""
        return self._kernel(np.atleast_2d(np.asarray(x, dtype=float)), theta)

    def kernel_batch(self, x: np.ndarray, thetas: list[Mapping[str, float]]) -> np.ndarray:
        """(n, n_draws) kernel for many parameter draws (used for Monte-Carlo intervals)."""
        return np.stack([self.kernel(x, th) for th in thetas], axis=1)

    def prior_theta(self) -> dict[str, float]:
        return {k: p.value for k, p in self.shape.items()}


def _rated(rated: Mapping[str, Any], key: str, machine_type: str) -> float:
    value = rated.get(key)
    if value is None:
        raise RatingError(
            f"{machine_type}: the registry entry has no rated.{key}; add the datasheet value to "
            "machines.yaml (see docs/dumps.md) so the damage law can be evaluated"
        )
    try:
        return float(value)
    except (TypeError, ValueError) as exc:
        raise RatingError(f"{machine_type}: rated.{key} = {value!r} is not a number") from exc


def _col(frame: pl.DataFrame, name: str) -> np.ndarray:
    return frame[name].cast(pl.Float64).to_numpy()
