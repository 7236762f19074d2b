"""What every simulated machine type provides: :class:`MachineModel`, pure functions of (machine
parameters, component parameters, state, stress, dt), and the helpers the types share."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from dt_platform.sim.schedule import IDLE, PRODUCTION

K_B_EV = 8.617333262e-5
"""Boltzmann constant in eV/K."""


ZERO_C_K = 273.15


Params = dict[str, float]


Stress = dict[str, np.ndarray]


@dataclass(frozen=True)
class SensorSpec:
    """How a sensor of the catalogue is simulated: 1-sigma noise and decimals (canonical unit)."""

    tag: str
    noise: float
    decimals: int


@dataclass(frozen=True)
class Advance:
    """Result of advancing a component over a block of steps."""

    states: np.ndarray
    """(k, state_size): state at the end of each step."""
    damage: np.ndarray
    """(k,): true damage at the end of each step (may exceed 1 at the failure step)."""
    failed_at: int | None
    """Index of the first step at whose end damage >= 1, or None."""


class MachineModel(ABC):
    """Physics of one machine type. Stateless: parameters and state are passed in."""

    type_name: ClassVar[str]
    prefix: ClassVar[str]
    component: ClassVar[str]
    state_size: ClassVar[int] = 1
    sensors: ClassVar[tuple[SensorSpec, ...]]
    repair_hours: ClassVar[tuple[float, float]]
    vendors: ClassVar[tuple[tuple[str, str], ...]]
    preventive_tasks: ClassVar[tuple[tuple[str, str], ...]]
    """(action, component) pairs of planned maintenance; none touches the degrading component."""
    onset_damage: ClassVar[float] = 0.0
    """True damage from which the failure mechanism moves a sensor at all (its precursor's
    onset). 0: the indicator moves with damage from the install on (wear, oxidation, fatigue)."""

    # --- parameters ----------------------------------------------------------------------------
    @abstractmethod
    def draw_machine(self, rng: np.random.Generator) -> tuple[Params, dict[str, np.ndarray]]:
        """True machine parameters and the product portfolio (setpoint arrays per product)."""

    @abstractmethod
    def draw_component(self, rng: np.random.Generator, mp: Params) -> Params:
        """True parameters of one new degrading component (unit-to-unit scatter)."""

    @abstractmethod
    def rated(self, mp: Params) -> dict[str, Any]:
        """Nominal data a person would copy from the datasheet into the registry."""

    # --- physics -------------------------------------------------------------------------------
    @abstractmethod
    def stress(
        self,
        level: np.ndarray,
        setpoints: dict[str, np.ndarray],
        load: np.ndarray,
        derate: float,
        mp: Params,
        rng: np.random.Generator,
    ) -> Stress:
        """Operating stress per step. ``level``: 0 off, 1 idle (powered), 2 production."""

    @abstractmethod
    def increments(self, stress: Stress, dt: float, mp: Params, cp: Params) -> np.ndarray:
        """(k, state_size) state increments per step."""

    @abstractmethod
    def damage(self, states: np.ndarray, mp: Params, cp: Params) -> np.ndarray:
        """True damage D (1 = failure) of states (k, state_size)."""

    @abstractmethod
    def observe(self, stress: Stress, states: np.ndarray, mp: Params, cp: Params) -> Stress:
        """Noise-free sensor values per tag (canonical units; NaN where the sensor sends nothing)."""

    @abstractmethod
    def failure_mode(self, mp: Params, cp: Params) -> str: ...

    @abstractmethod
    def indicator_text(self, state: np.ndarray, mp: Params, cp: Params) -> str:
        """What a technician would measure on the degrading component, e.g. 'vibration 4.6 mm/s'."""

    def initial_state(self) -> np.ndarray:
        return np.zeros(self.state_size)

    def advance(
        self, state: np.ndarray, stress: Stress, dt: float, mp: Params, cp: Params
    ) -> Advance:
        """State after each step of the block: the damage laws accumulate linearly in a state."""
        inc = self.increments(stress, dt, mp, cp)
        states = state[None, :] + np.cumsum(inc, axis=0)
        return self._finish(states, mp, cp)

    def _finish(self, states: np.ndarray, mp: Params, cp: Params) -> Advance:
        dmg = self.damage(states, mp, cp)
        over = np.flatnonzero(dmg >= 1.0)
        return Advance(states, dmg, int(over[0]) if over.size else None)


def _choice(rng: np.random.Generator, options: tuple[Any, ...]) -> Any:
    return options[int(rng.integers(0, len(options)))]


def _where_level(level: np.ndarray, production: Any, idle: Any, off: Any) -> np.ndarray:
    return np.where(level == PRODUCTION, production, np.where(level == IDLE, idle, off))
