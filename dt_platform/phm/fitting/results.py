"""What a fit produces: parameter estimates, one machine type's fitted law and the fleet's
fitted laws, JSON round trip and version hash included.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from dt_platform.jsonable import json_default
from dt_platform.phm.physics import LAWS


@dataclass
class ParamEstimate:
    """One parameter: value, 95 % interval and whether the data or the literature set it."""

    name: str
    value: float
    se: float | None
    ci_low: float | None
    ci_high: float | None
    status: str
    """``fitted`` (estimated from data), ``prior`` (held at the literature value) or ``derived``."""
    unit: str = ""
    prior: float | None = None
    prior_sd: float | None = None
    source: str = ""


@dataclass
class TypeFit:
    """The fitted damage law of one machine type, with its diagnostics; JSON-serializable."""

    machine_type: str
    law: str
    distribution: str
    exposure_unit: str
    usable: bool
    """False when there is neither a failure nor a literature scale: no physics RUL."""
    params: dict[str, ParamEstimate]
    free: list[str]
    cov: list[list[float]]
    """Covariance of the free parameters (order of ``free``), for Monte-Carlo intervals."""
    n_episodes: int
    n_failures: int
    n_censored: int
    n_imputed: int
    """Lives whose stress was partly or wholly imputed (before the first telemetry)."""
    loglike: float | None
    converged: bool
    decisions: list[str] = field(default_factory=list)
    free_fit: dict[str, dict[str, float]] = field(default_factory=dict)
    linearized: list[dict[str, Any]] = field(default_factory=list)
    paris: dict[str, Any] = field(default_factory=dict)
    """cnc only: Paris growth stage (m, growth-exposure prior from past spall onsets)."""
    vce: dict[str, Any] = field(default_factory=dict)
    """servo only: growth law of the Vce(on) indicator (:mod:`.vce`); empty: no indicator stage."""
    clock: list[float] = field(default_factory=list)
    """The type's damage rate at each UTC hour of the day over its mean (:mod:`.clock`); empty
    (too little history, or fits from before it): a machine's first hours stand for its day."""

    def value(self, name: str) -> float:
        return self.params[name].value

    def theta(self) -> dict[str, float]:
        """Point values of the shape parameters, log η and log σ."""
        law = LAWS[self.machine_type]
        out = {k: self.value(k) for k in law.shape}
        out["log_eta"] = self.value("log_eta")
        out["log_sigma"] = self.value("log_sigma")
        return out

    def draws(self, n: int, rng: np.random.Generator) -> list[dict[str, float]]:
        """Parameter draws: joint normal for fitted ones, prior normal for held ones."""
        base = self.theta()
        out = [dict(base) for _ in range(n)]
        if self.free:
            cov = np.nan_to_num(np.asarray(self.cov, dtype=float), nan=0.0, posinf=0.0, neginf=0.0)
            cov = (cov + cov.T) / 2.0
            mean = np.array([base[k] for k in self.free])
            x = rng.multivariate_normal(mean, cov, size=n, check_valid="ignore", method="eigh")
            for j, name in enumerate(self.free):
                for i in range(n):
                    out[i][name] = float(x[i, j])
        for name, p in self.params.items():
            if p.status == "prior" and name in base and p.prior_sd:
                x = rng.normal(p.value, p.prior_sd, size=n)
                for i in range(n):
                    out[i][name] = float(x[i])
        law = LAWS[self.machine_type]
        for name, prior in law.shape.items():
            lo, hi = prior.bounds
            for d in out:
                d[name] = float(np.clip(d[name], lo, hi))
        return out

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TypeFit:
        data = dict(data)
        data["params"] = {k: ParamEstimate(**v) for k, v in data["params"].items()}
        return cls(**data)


@dataclass
class FleetPhysics:
    """Fitted damage laws of every simulated machine type; ``version`` hashes the parameters."""

    types: dict[str, TypeFit]
    fitted_until: str
    """ISO time of the end of the history the parameters were fitted on."""

    @property
    def version(self) -> str:
        payload = {
            t: {
                "params": {k: [p.value, p.status, p.se] for k, p in sorted(f.params.items())},
                "cov": f.cov,
                "free": f.free,
                "paris": f.paris,
                "usable": f.usable,
                # only where fitted: versions from before the indicator stage stay valid
                **({"vce": f.vce} if f.vce else {}),
                **({"clock": f.clock} if f.clock else {}),
            }
            for t, f in sorted(self.types.items())
        }
        text = json.dumps(payload, sort_keys=True, default=json_default, allow_nan=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "fitted_until": self.fitted_until,
            "types": {t: f.to_dict() for t, f in self.types.items()},
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True, default=json_default)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FleetPhysics:
        fleet = cls(
            {t: TypeFit.from_dict(f) for t, f in data["types"].items()}, data["fitted_until"]
        )
        if "version" in data and data["version"] != fleet.version:
            raise ValueError(
                f"fitted physics parameters do not match their version {data['version']} "
                f"(recomputed {fleet.version}): the file was edited or truncated; refit them"
            )
        return fleet

    @classmethod
    def from_json(cls, text: str) -> FleetPhysics:
        return cls.from_dict(json.loads(text))
